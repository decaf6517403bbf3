//! Roles, reach, and the decision whether a user may open a personal record.
//!
//! The rule (design.md, "Identity, access and privacy"): a user's reach is a division
//! subtree (village, township or county) plus the residents tied to the user's institution
//! by a contract, referral, booking or study. Roles that work with aggregates (the bureau's
//! analysts, the county administrator) see figures for their whole subtree but open no
//! personal record without break-glass (紧急授权): an explicit reason, audited and flagged for
//! review. A resident sees only their own record. Anything else is refused.
//!
//! This module decides; it does not look anything up. The caller supplies the record's
//! division and the ties it found, and records the decision in the audit log.

use crate::division::DivisionCode;

/// 角色: what a user does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// 县级系统管理员: users, institutions, configuration.
    CountyAdmin,
    /// 卫健局统计分析人员: indicators and reports.
    Analyst,
    /// 疾控中心人员: case reports, warning signals.
    CdcStaff,
    /// 临床医生 (county or township).
    Clinician,
    /// 乡村医生.
    VillageDoctor,
    /// 家庭医生团队成员.
    TeamMember,
    /// 影像技师/放射科医生.
    Radiologist,
    /// 居民 (the resident themself).
    Resident,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::CountyAdmin,
        Role::Analyst,
        Role::CdcStaff,
        Role::Clinician,
        Role::VillageDoctor,
        Role::TeamMember,
        Role::Radiologist,
        Role::Resident,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::CountyAdmin => "county_admin",
            Role::Analyst => "analyst",
            Role::CdcStaff => "cdc_staff",
            Role::Clinician => "clinician",
            Role::VillageDoctor => "village_doctor",
            Role::TeamMember => "team_member",
            Role::Radiologist => "radiologist",
            Role::Resident => "resident",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the role opens personal records inside its reach as part of its daily work.
    /// Aggregate roles do not: their personal reads need break-glass.
    pub fn reads_personal_records(self) -> bool {
        !matches!(self, Role::CountyAdmin | Role::Analyst)
    }

    /// Whether the role sees aggregate figures for its subtree.
    pub fn sees_aggregates(self) -> bool {
        self != Role::Resident
    }

    /// Whether the role manages users and institutions.
    pub fn administers(self) -> bool {
        self == Role::CountyAdmin
    }

    /// Whether the role may use break-glass at all. Residents cannot.
    pub fn may_break_glass(self) -> bool {
        self != Role::Resident
    }
}

/// Why a user is tied to a resident outside their subtree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tie {
    /// 签约: the resident has a family-doctor contract with the user's institution.
    Contract,
    /// 转诊: an open referral to or from the user's institution.
    Referral,
    /// 预约: a booking at the user's institution.
    Booking,
    /// 影像检查: a study done at or shared with the user's institution.
    Study,
}

impl Tie {
    pub fn as_str(self) -> &'static str {
        match self {
            Tie::Contract => "contract",
            Tie::Referral => "referral",
            Tie::Booking => "booking",
            Tie::Study => "study",
        }
    }
}

/// Who is asking: the parts of a user that access decisions need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub role: Role,
    /// The root of the user's division subtree.
    pub reach: DivisionCode,
    /// For a resident's own account, the resident it belongs to.
    pub own_resident: Option<i64>,
}

/// The record being opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordScope {
    pub resident_id: i64,
    /// The village the record belongs to.
    pub division: DivisionCode,
}

/// On what grounds a read was allowed; the audit log stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    OwnRecord,
    Subtree,
    Tie(Tie),
    BreakGlass,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::OwnRecord => "own_record",
            Basis::Subtree => "subtree",
            Basis::Tie(tie) => tie.as_str(),
            Basis::BreakGlass => "break_glass",
        }
    }
}

/// Why a read was refused; each maps to a message a person can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "this record lies outside your area; use break-glass with a reason if you must open it"
    )]
    OutsideReach,
    #[error(
        "your role works with aggregate figures; opening a personal record needs break-glass with a reason"
    )]
    AggregateRole,
    #[error("residents can open only their own record")]
    NotOwnRecord,
    #[error("only staff of the institution that wrote this can correct it")]
    OtherInstitution,
}

/// Decide whether `actor` may read the personal record `record`.
///
/// `ties` are the ties found between the actor's institution and the resident;
/// `break_glass` is true when the actor holds a live break-glass grant for this resident.
pub fn decide_personal_read(
    actor: &Actor,
    record: &RecordScope,
    ties: &[Tie],
    break_glass: bool,
) -> Result<Basis, Refusal> {
    if actor.role == Role::Resident {
        return if actor.own_resident == Some(record.resident_id) {
            Ok(Basis::OwnRecord)
        } else {
            Err(Refusal::NotOwnRecord)
        };
    }
    if actor.role.reads_personal_records() {
        if actor.reach.contains(&record.division) {
            return Ok(Basis::Subtree);
        }
        if let Some(tie) = ties.first() {
            return Ok(Basis::Tie(*tie));
        }
    }
    if break_glass {
        return Ok(Basis::BreakGlass);
    }
    if actor.role.reads_personal_records() {
        Err(Refusal::OutsideReach)
    } else {
        Err(Refusal::AggregateRole)
    }
}

/// Whether `actor` may read a list of the personal records inside `root` (a list of names
/// is personal data): residents and aggregate roles may not, others inside their reach.
pub fn decide_list_read(actor: &Actor, root: &DivisionCode) -> Result<(), Refusal> {
    if actor.role == Role::Resident {
        Err(Refusal::NotOwnRecord)
    } else if !actor.role.reads_personal_records() {
        Err(Refusal::AggregateRole)
    } else if !actor.reach.contains(root) {
        Err(Refusal::OutsideReach)
    } else {
        Ok(())
    }
}

/// Whether `actor` may see aggregate figures for `division`.
pub fn may_see_aggregate(actor: &Actor, division: &DivisionCode) -> bool {
    actor.role.sees_aggregates() && actor.reach.contains(division)
}

/// The smallest number of characters a break-glass reason must have. A reason is for the
/// reviewer; "急诊" alone says too little, "急诊抢救，患者昏迷" says enough.
pub const BREAK_GLASS_MIN_REASON_CHARS: usize = 4;

/// Check a break-glass reason; returns the trimmed reason.
pub fn break_glass_reason(input: &str) -> Option<&str> {
    let reason = input.trim();
    (reason.chars().count() >= BREAK_GLASS_MIN_REASON_CHARS).then_some(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> DivisionCode {
        DivisionCode::parse(s).unwrap()
    }

    fn actor(role: Role, reach: &str) -> Actor {
        Actor {
            role,
            reach: code(reach),
            own_resident: None,
        }
    }

    fn record(id: i64, village: &str) -> RecordScope {
        RecordScope {
            resident_id: id,
            division: code(village),
        }
    }

    const HOME: &str = "451226100201";
    const NEIGHBOUR: &str = "451226100202";
    const OTHER_TOWNSHIP: &str = "451226101201";

    #[test]
    fn a_village_doctor_sees_only_their_village() {
        let doctor = actor(Role::VillageDoctor, HOME);
        assert_eq!(
            decide_personal_read(&doctor, &record(1, HOME), &[], false),
            Ok(Basis::Subtree)
        );
        assert_eq!(
            decide_personal_read(&doctor, &record(2, NEIGHBOUR), &[], false),
            Err(Refusal::OutsideReach)
        );
    }

    #[test]
    fn a_township_doctor_sees_their_township_only() {
        let doctor = actor(Role::Clinician, "451226100");
        assert!(decide_personal_read(&doctor, &record(1, HOME), &[], false).is_ok());
        assert!(decide_personal_read(&doctor, &record(1, NEIGHBOUR), &[], false).is_ok());
        assert_eq!(
            decide_personal_read(&doctor, &record(3, OTHER_TOWNSHIP), &[], false),
            Err(Refusal::OutsideReach)
        );
    }

    #[test]
    fn ties_extend_reach_beyond_the_subtree() {
        let doctor = actor(Role::Clinician, "451226100");
        assert_eq!(
            decide_personal_read(&doctor, &record(3, OTHER_TOWNSHIP), &[Tie::Referral], false),
            Ok(Basis::Tie(Tie::Referral))
        );
    }

    #[test]
    fn an_analyst_sees_county_aggregates_but_no_record_without_break_glass() {
        let analyst = actor(Role::Analyst, "451226");
        assert!(may_see_aggregate(&analyst, &code("451226100")));
        assert!(!may_see_aggregate(&analyst, &code("451225")));
        assert_eq!(
            decide_personal_read(&analyst, &record(1, HOME), &[], false),
            Err(Refusal::AggregateRole)
        );
        assert_eq!(
            decide_personal_read(&analyst, &record(1, HOME), &[Tie::Contract], false),
            Err(Refusal::AggregateRole)
        );
        assert_eq!(
            decide_personal_read(&analyst, &record(1, HOME), &[], true),
            Ok(Basis::BreakGlass)
        );
    }

    #[test]
    fn a_resident_sees_only_their_own_record_and_cannot_break_glass() {
        let me = Actor {
            role: Role::Resident,
            reach: code(HOME),
            own_resident: Some(7),
        };
        assert_eq!(
            decide_personal_read(&me, &record(7, HOME), &[], false),
            Ok(Basis::OwnRecord)
        );
        assert_eq!(
            decide_personal_read(&me, &record(8, HOME), &[], true),
            Err(Refusal::NotOwnRecord)
        );
        assert!(!Role::Resident.may_break_glass());
        assert!(!may_see_aggregate(&me, &code(HOME)));
    }

    #[test]
    fn lists_are_for_record_keeping_roles_inside_their_reach() {
        let township = code("451226100");
        assert_eq!(
            decide_list_read(&actor(Role::Clinician, "451226100"), &code(HOME)),
            Ok(())
        );
        assert_eq!(
            decide_list_read(&actor(Role::VillageDoctor, HOME), &township),
            Err(Refusal::OutsideReach)
        );
        assert_eq!(
            decide_list_read(&actor(Role::Analyst, "451226"), &township),
            Err(Refusal::AggregateRole)
        );
        assert_eq!(
            decide_list_read(&actor(Role::Resident, HOME), &code(HOME)),
            Err(Refusal::NotOwnRecord)
        );
    }

    #[test]
    fn break_glass_needs_a_real_reason() {
        assert_eq!(break_glass_reason("  急诊抢救 "), Some("急诊抢救"));
        assert_eq!(break_glass_reason("急诊"), None);
        assert_eq!(break_glass_reason("   "), None);
    }

    #[test]
    fn role_codes_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }
}
