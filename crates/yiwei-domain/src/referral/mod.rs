//! 双向转诊: two-way referral inside the county medical community (医共体).
//!
//! What the practice says (`shared/domain.md` §9; WS/T 790.16 defines the exchange): 上转
//! moves a patient from the village or township up to the county; 下转 moves them down from
//! the county for recovery and chronic follow-up. The states here are the ones suggested
//! there, without the draft (a draft is an unsent form, not a referral):
//!
//! ```text
//! requested ──accept──► accepted ──arrive──► arrived ──complete──► completed ──return──► returned
//!     │  └──decline──► declined        │                                  (upward referrals only)
//!     ├──cancel──► cancelled ◄──cancel──┘
//!     └──expire──► expired ◄──expire── accepted (never arrived)
//! ```
//!
//! [`transition`] is the only way between states; it refuses an illegal move, or the
//! wrong end moving, with a bilingual reason ([`TransitionRefusal`]). [`check_route`]
//! decides whether a referral between two institutions may exist at all: both inside the
//! same medical community, the receiver a care provider, and a difference in level
//! ([`Tier`]) that makes it upward or downward. Referrals between institutions of one
//! level are refused: a township centre sends a patient on to the county, not sideways.
//!
//! Timeliness ([`Timeliness`]): how long the receiving end has to answer, by urgency. One
//! system escalates pending urgent up-referrals after 2 hours (domain.md §9, \[S code\]);
//! the rest are local practice and configuration (unconfirmed): emergencies 30 minutes,
//! routine referrals 3 days, and a referral no one answered in 7 days, or accepted but
//! never arrived within 14, expires.
//!
//! The green channel (绿色通道) is open to urgent and emergency up-referrals and to
//! up-referrals of residents with a family-doctor contract; it reserves a held-back seat
//! of a slot at the receiving end (see `crate::booking`).

use chrono::{DateTime, Duration, Utc};

use crate::org::InstitutionKind;

#[cfg(test)]
mod tests;

/// 机构层级: the level of care an institution gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// 村级: village clinics (and private clinics, which count as primary care).
    Village,
    /// 乡级: township health centres and community health service centres.
    Township,
    /// 县级: the county hospitals.
    County,
}

impl Tier {
    /// The tier of an institution kind; `None` for the bureau and the CDC, which give no
    /// care and so send and receive no referrals.
    pub fn of(kind: InstitutionKind) -> Option<Tier> {
        match kind {
            InstitutionKind::VillageClinic | InstitutionKind::PrivateClinic => Some(Tier::Village),
            InstitutionKind::TownshipHealthCentre | InstitutionKind::CommunityHealthCentre => {
                Some(Tier::Township)
            }
            InstitutionKind::CountyHospital
            | InstitutionKind::TcmHospital
            | InstitutionKind::MaternalChildHospital => Some(Tier::County),
            InstitutionKind::Cdc | InstitutionKind::HealthBureau => None,
        }
    }
}

/// 上转 / 下转.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "up" => Some(Direction::Up),
            "down" => Some(Direction::Down),
            _ => None,
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Direction::Up => "上转",
            Direction::Down => "下转",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Direction::Up => "upward",
            Direction::Down => "downward",
        }
    }
}

/// The facts of an institution that routing needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Party {
    pub institution_id: i64,
    pub kind: InstitutionKind,
    /// The medical community (医共体) it belongs to, if any.
    pub community_id: Option<i64>,
}

/// Why a referral cannot go from one institution to another.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteRefusal {
    #[error("不能转诊到本机构 / a referral goes to another institution, not your own")]
    SameInstitution,
    #[error(
        "发起机构不属于任何医共体，不能转诊 / your institution belongs to no medical community, so it cannot refer"
    )]
    SenderOutsideCommunity,
    #[error(
        "接收机构不在本医共体内，请选择本医共体的机构 / the receiving institution is outside your medical community; choose one inside it"
    )]
    OutsideCommunity,
    #[error(
        "接收机构不提供诊疗服务（卫健局、疾控中心）/ the receiving institution gives no care (bureau, CDC)"
    )]
    NotCareProvider,
    #[error(
        "同级机构之间不转诊：上转到县级，下转到乡村 / no referrals between institutions of the same level: up to the county, down to the township or village"
    )]
    SameTier,
}

/// Decide whether `from` may refer to `to`, and in which direction.
pub fn check_route(from: &Party, to: &Party) -> Result<Direction, RouteRefusal> {
    if from.institution_id == to.institution_id {
        return Err(RouteRefusal::SameInstitution);
    }
    let Some(community) = from.community_id else {
        return Err(RouteRefusal::SenderOutsideCommunity);
    };
    if to.community_id != Some(community) {
        return Err(RouteRefusal::OutsideCommunity);
    }
    let (Some(a), Some(b)) = (Tier::of(from.kind), Tier::of(to.kind)) else {
        return Err(RouteRefusal::NotCareProvider);
    };
    match a.cmp(&b) {
        std::cmp::Ordering::Less => Ok(Direction::Up),
        std::cmp::Ordering::Greater => Ok(Direction::Down),
        std::cmp::Ordering::Equal => Err(RouteRefusal::SameTier),
    }
}

/// 紧急程度.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Urgency {
    /// 普通
    Routine,
    /// 紧急
    Urgent,
    /// 急危重症
    Emergency,
}

impl Urgency {
    pub const ALL: [Urgency; 3] = [Urgency::Routine, Urgency::Urgent, Urgency::Emergency];

    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Routine => "routine",
            Urgency::Urgent => "urgent",
            Urgency::Emergency => "emergency",
        }
    }

    pub fn parse(s: &str) -> Option<Urgency> {
        Urgency::ALL.into_iter().find(|u| u.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Urgency::Routine => "普通",
            Urgency::Urgent => "紧急",
            Urgency::Emergency => "急危重症",
        }
    }

    /// The FHIR `request-priority` code.
    pub fn fhir(self) -> &'static str {
        match self {
            Urgency::Routine => "routine",
            Urgency::Urgent => "urgent",
            Urgency::Emergency => "stat",
        }
    }
}

/// 转诊原因 (a short dictionary; the clinical summary carries the detail).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// 诊断不明
    UnclearDiagnosis,
    /// 超出本机构诊疗能力
    BeyondCapability,
    /// 需要上级检查
    NeedsExamination,
    /// 急危重症
    Critical,
    /// 慢病控制不满意 (the §1 criteria for hypertension and diabetes)
    ChronicUncontrolled,
    /// 病情稳定，回基层康复
    Rehabilitation,
    /// 慢病随访管理
    ChronicFollowUp,
    /// 其他
    Other,
}

impl Reason {
    pub const ALL: [Reason; 8] = [
        Reason::UnclearDiagnosis,
        Reason::BeyondCapability,
        Reason::NeedsExamination,
        Reason::Critical,
        Reason::ChronicUncontrolled,
        Reason::Rehabilitation,
        Reason::ChronicFollowUp,
        Reason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::UnclearDiagnosis => "unclear_diagnosis",
            Reason::BeyondCapability => "beyond_capability",
            Reason::NeedsExamination => "needs_examination",
            Reason::Critical => "critical",
            Reason::ChronicUncontrolled => "chronic_uncontrolled",
            Reason::Rehabilitation => "rehabilitation",
            Reason::ChronicFollowUp => "chronic_follow_up",
            Reason::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Reason::UnclearDiagnosis => "诊断不明",
            Reason::BeyondCapability => "超出本机构诊疗能力",
            Reason::NeedsExamination => "需要上级检查",
            Reason::Critical => "急危重症",
            Reason::ChronicUncontrolled => "慢病控制不满意",
            Reason::Rehabilitation => "病情稳定，回基层康复",
            Reason::ChronicFollowUp => "慢病随访管理",
            Reason::Other => "其他",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Reason::UnclearDiagnosis => "Diagnosis unclear",
            Reason::BeyondCapability => "Beyond this institution's capability",
            Reason::NeedsExamination => "Needs an examination at a higher level",
            Reason::Critical => "Critical condition",
            Reason::ChronicUncontrolled => "Chronic disease not controlled",
            Reason::Rehabilitation => "Stable; recovery at primary care",
            Reason::ChronicFollowUp => "Chronic disease follow-up",
            Reason::Other => "Other",
        }
    }

    /// Whether the reason fits a direction: recovery and follow-up go down, the rest up
    /// (`Other` either way).
    pub fn fits(self, direction: Direction) -> bool {
        match self {
            Reason::Rehabilitation | Reason::ChronicFollowUp => direction == Direction::Down,
            Reason::Other => true,
            _ => direction == Direction::Up,
        }
    }
}

/// Whether a referral may use the green channel (绿色通道): upward, and urgent, an
/// emergency, or for a resident with a family-doctor contract.
pub fn green_channel_allowed(direction: Direction, urgency: Urgency, signed: bool) -> bool {
    direction == Direction::Up && (urgency >= Urgency::Urgent || signed)
}

/// 转诊状态.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// 已申请 / 待接收
    Requested,
    /// 已接收 (and, with the green channel, 已预约)
    Accepted,
    /// 已拒绝
    Declined,
    /// 已到诊
    Arrived,
    /// 已完成
    Completed,
    /// 已下转 (an upward referral whose patient was sent back down)
    Returned,
    /// 已取消
    Cancelled,
    /// 已过期
    Expired,
}

impl State {
    pub const ALL: [State; 8] = [
        State::Requested,
        State::Accepted,
        State::Declined,
        State::Arrived,
        State::Completed,
        State::Returned,
        State::Cancelled,
        State::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Requested => "requested",
            State::Accepted => "accepted",
            State::Declined => "declined",
            State::Arrived => "arrived",
            State::Completed => "completed",
            State::Returned => "returned",
            State::Cancelled => "cancelled",
            State::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            State::Requested => "待接收",
            State::Accepted => "已接收",
            State::Declined => "已拒绝",
            State::Arrived => "已到诊",
            State::Completed => "已完成",
            State::Returned => "已下转",
            State::Cancelled => "已取消",
            State::Expired => "已过期",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            State::Requested => "requested",
            State::Accepted => "accepted",
            State::Declined => "declined",
            State::Arrived => "arrived",
            State::Completed => "completed",
            State::Returned => "returned downward",
            State::Cancelled => "cancelled",
            State::Expired => "expired",
        }
    }

    /// Whether the referral is still running. The receiving clinician's reach over the
    /// resident lasts while it is, and ends with it.
    pub fn is_open(self) -> bool {
        matches!(self, State::Requested | State::Accepted | State::Arrived)
    }

    /// The FHIR ServiceRequest.status.
    pub fn fhir_request_status(self) -> &'static str {
        match self {
            State::Requested | State::Accepted | State::Arrived => "active",
            State::Completed | State::Returned => "completed",
            State::Declined | State::Cancelled | State::Expired => "revoked",
        }
    }

    /// The FHIR Task.status of the receiving end's work item.
    pub fn fhir_task_status(self) -> &'static str {
        match self {
            State::Requested => "requested",
            State::Accepted => "accepted",
            State::Arrived => "in-progress",
            State::Completed | State::Returned => "completed",
            State::Declined => "rejected",
            State::Cancelled => "cancelled",
            State::Expired => "failed",
        }
    }
}

/// What happens to a referral.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Accept,
    Decline {
        reason: String,
    },
    Arrive,
    Complete,
    /// 下转回基层, with the discharge summary and follow-up plan for the family doctor.
    ReturnDown {
        summary: String,
    },
    Cancel,
    Expire,
}

impl Event {
    pub fn as_str(&self) -> &'static str {
        match self {
            Event::Accept => "accept",
            Event::Decline { .. } => "decline",
            Event::Arrive => "arrive",
            Event::Complete => "complete",
            Event::ReturnDown { .. } => "return",
            Event::Cancel => "cancel",
            Event::Expire => "expire",
        }
    }

    fn name_zh(&self) -> &'static str {
        match self {
            Event::Accept => "接收",
            Event::Decline { .. } => "拒绝",
            Event::Arrive => "登记到诊",
            Event::Complete => "完成",
            Event::ReturnDown { .. } => "下转",
            Event::Cancel => "取消",
            Event::Expire => "过期",
        }
    }
}

/// Which end moves: the sender (the referring institution), the receiver, or the system
/// (expiry by the timeliness job).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Sender,
    Receiver,
    System,
}

/// The shortest decline reason or return summary accepted.
pub const MIN_NOTE_CHARS: usize = 4;

/// Why a move was refused. Messages are Chinese first with English beside.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionRefusal {
    #[error("转诊{state_zh}，不能{event_zh} / the referral is {state_en}; it cannot be {event_en}")]
    Illegal {
        state_zh: &'static str,
        state_en: &'static str,
        event_zh: &'static str,
        event_en: &'static str,
    },
    #[error("只有{who_zh}可以{event_zh}该转诊 / only the {who_en} may {event_en} this referral")]
    WrongSide {
        who_zh: &'static str,
        who_en: &'static str,
        event_zh: &'static str,
        event_en: &'static str,
    },
    #[error(
        "请写明原因或小结（至少 {MIN_NOTE_CHARS} 个字）/ give a reason or summary of at least {MIN_NOTE_CHARS} characters"
    )]
    NoteTooShort,
    #[error("只有上转的转诊才能下转回基层 / only an upward referral can be returned downward")]
    NotUpward,
}

fn past_tense(event: &Event) -> &'static str {
    match event {
        Event::Accept => "accepted",
        Event::Decline { .. } => "declined",
        Event::Arrive => "marked arrived",
        Event::Complete => "completed",
        Event::ReturnDown { .. } => "returned downward",
        Event::Cancel => "cancelled",
        Event::Expire => "expired",
    }
}

/// Move a referral of `direction` in `state` by `event` from `side`; the new state, or
/// why not. Nothing else changes a referral's state.
pub fn transition(
    state: State,
    direction: Direction,
    event: &Event,
    side: Side,
) -> Result<State, TransitionRefusal> {
    let next = match (state, event) {
        (State::Requested, Event::Accept) => State::Accepted,
        (State::Requested, Event::Decline { .. }) => State::Declined,
        (State::Accepted, Event::Arrive) => State::Arrived,
        (State::Arrived, Event::Complete) => State::Completed,
        (State::Completed, Event::ReturnDown { .. }) => State::Returned,
        (State::Requested | State::Accepted, Event::Cancel) => State::Cancelled,
        (State::Requested | State::Accepted, Event::Expire) => State::Expired,
        _ => {
            return Err(TransitionRefusal::Illegal {
                state_zh: state.name_zh(),
                state_en: state.name_en(),
                event_zh: event.name_zh(),
                event_en: past_tense(event),
            });
        }
    };
    let needed = match event {
        Event::Cancel => Side::Sender,
        Event::Expire => Side::System,
        _ => Side::Receiver,
    };
    if side != needed {
        let (who_zh, who_en) = match needed {
            Side::Sender => ("发起机构", "referring institution"),
            Side::Receiver => ("接收机构", "receiving institution"),
            Side::System => ("系统（超时）", "system (on timeout)"),
        };
        return Err(TransitionRefusal::WrongSide {
            who_zh,
            who_en,
            event_zh: event.name_zh(),
            event_en: event.as_str(),
        });
    }
    if let Event::Decline { reason: note } | Event::ReturnDown { summary: note } = event
        && note.trim().chars().count() < MIN_NOTE_CHARS
    {
        return Err(TransitionRefusal::NoteTooShort);
    }
    if matches!(event, Event::ReturnDown { .. }) && direction != Direction::Up {
        return Err(TransitionRefusal::NotUpward);
    }
    Ok(next)
}

/// 时限: how long each end has, by urgency. See the module docs for the sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeliness {
    pub respond_emergency_minutes: i64,
    pub respond_urgent_minutes: i64,
    pub respond_routine_minutes: i64,
    /// A referral no one answered expires after this many days.
    pub expire_unanswered_days: i64,
    /// An accepted referral whose patient never arrived expires after this many days.
    pub expire_unarrived_days: i64,
}

impl Default for Timeliness {
    fn default() -> Self {
        Timeliness {
            respond_emergency_minutes: 30,
            respond_urgent_minutes: 120,
            respond_routine_minutes: 3 * 24 * 60,
            expire_unanswered_days: 7,
            expire_unarrived_days: 14,
        }
    }
}

impl Timeliness {
    /// When the receiving end should have answered a referral sent at `requested_at`.
    pub fn respond_by(&self, urgency: Urgency, requested_at: DateTime<Utc>) -> DateTime<Utc> {
        let minutes = match urgency {
            Urgency::Emergency => self.respond_emergency_minutes,
            Urgency::Urgent => self.respond_urgent_minutes,
            Urgency::Routine => self.respond_routine_minutes,
        };
        requested_at + Duration::minutes(minutes)
    }

    /// Whether a referral in `state` is overdue for an answer at `now` (超时提醒).
    pub fn is_overdue(
        &self,
        state: State,
        urgency: Urgency,
        requested_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        state == State::Requested && now > self.respond_by(urgency, requested_at)
    }

    /// Whether a referral should expire at `now`: requested and unanswered too long, or
    /// accepted (at `accepted_at`) and never arrived.
    pub fn should_expire(
        &self,
        state: State,
        requested_at: DateTime<Utc>,
        accepted_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> bool {
        match state {
            State::Requested => now > requested_at + Duration::days(self.expire_unanswered_days),
            State::Accepted => {
                now > accepted_at.unwrap_or(requested_at)
                    + Duration::days(self.expire_unarrived_days)
            }
            _ => false,
        }
    }
}

/// 县域就诊率: the share of a county's residents' visits made inside the county, as a
/// fraction; `None` when no visits are known.
pub fn in_county_rate(inside: u64, outside: u64) -> Option<f64> {
    let total = inside + outside;
    (total > 0).then(|| inside as f64 / total as f64)
}
