//! 预约挂号: schedules, slots and the rules of booking, cancelling, rescheduling and
//! no-shows.
//!
//! A **schedule** (排班) belongs to one institution and a department, optionally a doctor,
//! and says for a kind of service (outpatient clinic, an exam such as ultrasound or CT, a
//! vaccination session) which weekly **sessions** (出诊时段) it runs, how long each slot is
//! and how many people one slot takes. From it [`generate_slots`] makes the **slots**
//! (号源) of a date range as a pure function: skipping holidays, and never beyond the
//! opening horizon (放号周期). Booking, cancelling and rescheduling are checked by
//! [`check_booking`], [`check_cancel`] and [`check_reschedule`]; the store applies them
//! inside the transaction that changes the counts, and keeps capacity with a conditional
//! update, so the rules here never have to reason about concurrency.
//!
//! The green channel (绿色通道, `shared/domain.md` §9) is modelled as seats of every slot
//! held back from ordinary booking ([`ScheduleRules::green_reserved`]): an ordinary booking
//! may fill a slot up to `capacity - green_reserved`, a green-channel booking (an accepted
//! urgent up-referral) up to `capacity`.
//!
//! There is no national text for opening horizons, cut-offs or no-show penalties; they are
//! local practice and therefore configuration, with defaults taken from common county
//! hospital notices (7-day horizon, booking closes 30 minutes before the slot, free
//! cancellation until 2 hours before, three no-shows in 90 days suspend online booking for
//! 30 days) — unconfirmed, change them per schedule.
//!
//! Times: rules work in the county's local time ([`NaiveDateTime`]); [`to_utc`] converts a
//! local time with the county's offset, and the store keeps UTC instants.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};

#[cfg(test)]
mod tests;

/// 服务类别: what a schedule offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// 门诊 (an outpatient clinic).
    Outpatient,
    /// 检查 (ultrasound, CT, X-ray …).
    Exam,
    /// 预防接种门诊 (a vaccination session).
    Vaccination,
}

impl ServiceKind {
    pub const ALL: [ServiceKind; 3] = [
        ServiceKind::Outpatient,
        ServiceKind::Exam,
        ServiceKind::Vaccination,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Outpatient => "outpatient",
            ServiceKind::Exam => "exam",
            ServiceKind::Vaccination => "vaccination",
        }
    }

    pub fn parse(s: &str) -> Option<ServiceKind> {
        ServiceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            ServiceKind::Outpatient => "门诊",
            ServiceKind::Exam => "检查",
            ServiceKind::Vaccination => "预防接种",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            ServiceKind::Outpatient => "Outpatient clinic",
            ServiceKind::Exam => "Examination",
            ServiceKind::Vaccination => "Vaccination session",
        }
    }
}

/// 出诊时段: one weekly session, such as Monday 08:00–11:30 in 15-minute slots of 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    pub weekday: Weekday,
    pub start: NaiveTime,
    pub end: NaiveTime,
    /// Length of one slot in minutes.
    pub slot_minutes: u32,
    /// How many people one slot takes.
    pub capacity: u32,
}

impl Session {
    /// Parse the compact form used in forms and the database: `mon 08:00-11:30 15x3`.
    pub fn parse(s: &str) -> Result<Session, ScheduleError> {
        let bad = || ScheduleError::BadSession(s.trim().to_owned());
        let mut parts = s.split_whitespace();
        let weekday = match parts.next().ok_or_else(bad)?.to_ascii_lowercase().as_str() {
            "mon" | "周一" => Weekday::Mon,
            "tue" | "周二" => Weekday::Tue,
            "wed" | "周三" => Weekday::Wed,
            "thu" | "周四" => Weekday::Thu,
            "fri" | "周五" => Weekday::Fri,
            "sat" | "周六" => Weekday::Sat,
            "sun" | "周日" => Weekday::Sun,
            _ => return Err(bad()),
        };
        let (start, end) = parts
            .next()
            .ok_or_else(bad)?
            .split_once('-')
            .ok_or_else(bad)?;
        let start = NaiveTime::parse_from_str(start, "%H:%M").map_err(|_| bad())?;
        let end = NaiveTime::parse_from_str(end, "%H:%M").map_err(|_| bad())?;
        let (minutes, capacity) = parts
            .next()
            .ok_or_else(bad)?
            .split_once('x')
            .ok_or_else(bad)?;
        let slot_minutes: u32 = minutes.parse().map_err(|_| bad())?;
        let capacity: u32 = capacity.parse().map_err(|_| bad())?;
        if parts.next().is_some() {
            return Err(bad());
        }
        let session = Session {
            weekday,
            start,
            end,
            slot_minutes,
            capacity,
        };
        session.check()?;
        Ok(session)
    }

    /// The compact form [`Session::parse`] reads.
    pub fn code(&self) -> String {
        let day = match self.weekday {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        };
        format!(
            "{day} {}-{} {}x{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M"),
            self.slot_minutes,
            self.capacity
        )
    }

    fn check(&self) -> Result<(), ScheduleError> {
        if self.end <= self.start {
            return Err(ScheduleError::SessionEndsBeforeStart(self.code()));
        }
        if !(5..=240).contains(&self.slot_minutes) {
            return Err(ScheduleError::SlotLength(self.slot_minutes));
        }
        if !(1..=200).contains(&self.capacity) {
            return Err(ScheduleError::Capacity(self.capacity));
        }
        if (self.end - self.start).num_minutes() < i64::from(self.slot_minutes) {
            return Err(ScheduleError::SessionShorterThanSlot(self.code()));
        }
        Ok(())
    }
}

/// The rules of one schedule. Everything here is local practice (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleRules {
    pub sessions: Vec<Session>,
    /// 放号周期: slots open this many days ahead (today counts as day 0).
    pub horizon_days: u32,
    /// Dates with no sessions (法定节假日, staff training days).
    pub holidays: BTreeSet<NaiveDate>,
    /// Booking closes this many minutes before a slot starts.
    pub booking_cutoff_minutes: u32,
    /// Cancelling or rescheduling closes this many minutes before a slot starts.
    pub cancel_cutoff_minutes: u32,
    /// How many times one booking may be moved to another slot.
    pub max_reschedules: u32,
    /// Seats of each slot held back for the green channel (绿色通道).
    pub green_reserved: u32,
}

impl Default for ScheduleRules {
    fn default() -> Self {
        ScheduleRules {
            sessions: Vec::new(),
            horizon_days: 7,
            holidays: BTreeSet::new(),
            booking_cutoff_minutes: 30,
            cancel_cutoff_minutes: 120,
            max_reschedules: 2,
            green_reserved: 0,
        }
    }
}

impl ScheduleRules {
    /// Check the rules as a whole: each session, no two sessions overlapping on one
    /// weekday, a horizon of 1–90 days, and a green reserve smaller than every session's
    /// capacity.
    pub fn check(&self) -> Result<(), ScheduleError> {
        if self.sessions.is_empty() {
            return Err(ScheduleError::NoSessions);
        }
        for s in &self.sessions {
            s.check()?;
            if self.green_reserved >= s.capacity {
                return Err(ScheduleError::GreenReserveTooLarge {
                    reserved: self.green_reserved,
                    capacity: s.capacity,
                });
            }
        }
        for (i, a) in self.sessions.iter().enumerate() {
            for b in &self.sessions[i + 1..] {
                if a.weekday == b.weekday && a.start < b.end && b.start < a.end {
                    return Err(ScheduleError::SessionsOverlap(a.code(), b.code()));
                }
            }
        }
        if !(1..=90).contains(&self.horizon_days) {
            return Err(ScheduleError::Horizon(self.horizon_days));
        }
        if self.max_reschedules > 10 {
            return Err(ScheduleError::MaxReschedules(self.max_reschedules));
        }
        Ok(())
    }

    /// The last date whose slots are open on `today`.
    pub fn last_open_date(&self, today: NaiveDate) -> NaiveDate {
        today + Duration::days(i64::from(self.horizon_days))
    }

    /// Seats of a slot of `capacity` open to ordinary booking.
    pub fn ordinary_seats(&self, capacity: u32) -> u32 {
        capacity.saturating_sub(self.green_reserved)
    }
}

/// What is wrong with a schedule as entered. Messages are Chinese first, English beside.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "时段写法不对：{0:?}，应为“mon 08:00-11:30 15x3” / session {0:?} should read like \"mon 08:00-11:30 15x3\""
    )]
    BadSession(String),
    #[error("时段 {0} 结束早于开始 / session {0} ends before it starts")]
    SessionEndsBeforeStart(String),
    #[error("时段 {0} 短于一个号的时长 / session {0} is shorter than one slot")]
    SessionShorterThanSlot(String),
    #[error("每个号的时长须在 5–240 分钟之间，现为 {0} / a slot lasts 5–240 minutes, not {0}")]
    SlotLength(u32),
    #[error("每个号的容量须在 1–200 人之间，现为 {0} / a slot takes 1–200 people, not {0}")]
    Capacity(u32),
    #[error("至少需要一个出诊时段 / a schedule needs at least one session")]
    NoSessions,
    #[error("时段 {0} 与 {1} 重叠 / sessions {0} and {1} overlap")]
    SessionsOverlap(String, String),
    #[error("放号周期须在 1–90 天之间，现为 {0} / slots open 1–90 days ahead, not {0}")]
    Horizon(u32),
    #[error("改约次数上限须在 0–10 之间，现为 {0} / allow 0–10 reschedules, not {0}")]
    MaxReschedules(u32),
    #[error(
        "绿色通道预留 {reserved} 个须少于每号容量 {capacity} / the green-channel reserve ({reserved}) must be below the slot capacity ({capacity})"
    )]
    GreenReserveTooLarge { reserved: u32, capacity: u32 },
    #[error("日期范围不对：开始晚于结束 / the date range ends before it starts")]
    BadRange,
}

/// One slot a schedule makes, in local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SlotSpec {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub capacity: u32,
}

/// The slots of `rules` on the dates `from..=to`, cut to what is open on `today` (nothing
/// before today, nothing beyond the horizon), without holidays, in time order. Slots that
/// would run past their session's end are not made.
pub fn generate_slots(
    rules: &ScheduleRules,
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
) -> Result<Vec<SlotSpec>, ScheduleError> {
    rules.check()?;
    if to < from {
        return Err(ScheduleError::BadRange);
    }
    let first = from.max(today);
    let last = to.min(rules.last_open_date(today));
    let mut slots = Vec::new();
    let mut date = first;
    while date <= last {
        if !rules.holidays.contains(&date) {
            let mut sessions: Vec<&Session> = rules
                .sessions
                .iter()
                .filter(|s| s.weekday == date.weekday())
                .collect();
            sessions.sort_by_key(|s| s.start);
            for s in sessions {
                let step = Duration::minutes(i64::from(s.slot_minutes));
                let mut start = date.and_time(s.start);
                let session_end = date.and_time(s.end);
                while start + step <= session_end {
                    slots.push(SlotSpec {
                        start,
                        end: start + step,
                        capacity: s.capacity,
                    });
                    start += step;
                }
            }
        }
        date = date.succ_opt().unwrap_or(date);
        if date == NaiveDate::MAX {
            break;
        }
    }
    Ok(slots)
}

/// A local time in the county (offset `offset_hours` east of UTC) as a UTC instant.
pub fn to_utc(local: NaiveDateTime, offset_hours: i32) -> DateTime<Utc> {
    (local - Duration::hours(i64::from(offset_hours))).and_utc()
}

/// A UTC instant as the county's local time.
pub fn to_local(at: DateTime<Utc>, offset_hours: i32) -> NaiveDateTime {
    at.naive_utc() + Duration::hours(i64::from(offset_hours))
}

/// 号源状态: whether a slot takes bookings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SlotStatus {
    Open,
    /// 停诊: closed by staff (the doctor is away); existing bookings are to be moved.
    Closed,
}

impl SlotStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SlotStatus::Open => "open",
            SlotStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<SlotStatus> {
        match s {
            "open" => Some(SlotStatus::Open),
            "closed" => Some(SlotStatus::Closed),
            _ => None,
        }
    }
}

/// What the booking rules need to know of a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotState {
    pub start: DateTime<Utc>,
    pub status: SlotStatus,
    pub capacity: u32,
    pub booked: u32,
    /// The county's local date of the slot's start.
    pub local_date: NaiveDate,
}

/// Who books, which changes what is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// Staff at a desk or a referring clinician.
    Staff,
    /// The resident on their phone.
    Resident,
    /// A green-channel booking of an accepted referral (绿色通道).
    GreenChannel,
    /// Booked by the system from the waitlist (候补) into a freed seat.
    Waitlist,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Staff => "staff",
            Channel::Resident => "resident",
            Channel::GreenChannel => "green_channel",
            Channel::Waitlist => "waitlist",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "staff" => Some(Channel::Staff),
            "resident" => Some(Channel::Resident),
            "green_channel" => Some(Channel::GreenChannel),
            "waitlist" => Some(Channel::Waitlist),
            _ => None,
        }
    }
}

/// Why a booking, cancellation, reschedule or no-show mark was refused. Each message is
/// Chinese first with English beside, and says what the person can do instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BookingRefusal {
    #[error("该号源时间已过，请选择之后的号源 / this slot is in the past; choose a later one")]
    SlotInPast,
    #[error("该号源已停诊，请选择其他号源 / this slot is closed; choose another one")]
    SlotClosed,
    #[error("号源已满，可以登记候补 / this slot is full; you can join the waitlist")]
    SlotFull,
    #[error(
        "该号源尚未放号（提前 {horizon_days} 天放号）/ this slot opens for booking {horizon_days} days ahead"
    )]
    NotYetOpen { horizon_days: u32 },
    #[error(
        "开诊前 {minutes} 分钟停止预约，请到窗口挂号 / booking closes {minutes} minutes before the slot; register at the desk"
    )]
    BookingClosed { minutes: u32 },
    #[error(
        "开诊前 {minutes} 分钟内不能在线取消或改约，请联系医院 / within {minutes} minutes of the slot you cannot cancel or move online; call the institution"
    )]
    CancelClosed { minutes: u32 },
    #[error("该预约已{state_zh}，不能再更改 / this booking is already {state_en}")]
    NotActive {
        state_zh: &'static str,
        state_en: &'static str,
    },
    #[error(
        "已改约 {max} 次，不能再改，请取消后重新预约 / moved {max} times already; cancel and book again"
    )]
    TooManyReschedules { max: u32 },
    #[error("改约须换到同一排班的其他号源 / move to another slot of the same schedule")]
    RescheduleElsewhere,
    #[error("号源开始之后才能标记爽约 / a no-show can be marked only after the slot has started")]
    NoShowTooEarly,
    #[error(
        "近 {window_days} 天爽约 {count} 次，{until} 前暂停在线预约，请到窗口预约 / {count} no-shows in {window_days} days: online booking is suspended until {until}; book at the desk"
    )]
    Suspended {
        count: u32,
        window_days: u32,
        until: NaiveDate,
    },
    #[error("您已预约该号源 / you already hold this slot")]
    AlreadyBooked,
}

/// Check a new booking of `slot` at `now` through `channel`.
///
/// Order of the checks: a slot that already started is "past" even when it is also
/// full, because "join the waitlist" would be wrong advice.
pub fn check_booking(
    rules: &ScheduleRules,
    slot: &SlotState,
    now: DateTime<Utc>,
    today: NaiveDate,
    channel: Channel,
) -> Result<(), BookingRefusal> {
    if slot.start <= now {
        return Err(BookingRefusal::SlotInPast);
    }
    if slot.status == SlotStatus::Closed {
        return Err(BookingRefusal::SlotClosed);
    }
    if slot.local_date > rules.last_open_date(today) && channel != Channel::GreenChannel {
        return Err(BookingRefusal::NotYetOpen {
            horizon_days: rules.horizon_days,
        });
    }
    if channel == Channel::Resident
        && slot.start - now < Duration::minutes(i64::from(rules.booking_cutoff_minutes))
    {
        return Err(BookingRefusal::BookingClosed {
            minutes: rules.booking_cutoff_minutes,
        });
    }
    if slot.booked >= seats_for(rules, slot.capacity, channel) {
        return Err(BookingRefusal::SlotFull);
    }
    Ok(())
}

/// How many seats of a slot `channel` may fill: the green channel all of them, others all
/// but the green reserve. The store's conditional update uses the same number.
pub fn seats_for(rules: &ScheduleRules, capacity: u32, channel: Channel) -> u32 {
    match channel {
        Channel::GreenChannel => capacity,
        Channel::Staff | Channel::Resident | Channel::Waitlist => rules.ordinary_seats(capacity),
    }
}

/// 预约状态.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BookingStatus {
    /// 已预约
    Booked,
    /// 已取消
    Cancelled,
    /// 已就诊 (checked in)
    Attended,
    /// 爽约
    NoShow,
}

impl BookingStatus {
    pub const ALL: [BookingStatus; 4] = [
        BookingStatus::Booked,
        BookingStatus::Cancelled,
        BookingStatus::Attended,
        BookingStatus::NoShow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Booked => "booked",
            BookingStatus::Cancelled => "cancelled",
            BookingStatus::Attended => "attended",
            BookingStatus::NoShow => "no_show",
        }
    }

    pub fn parse(s: &str) -> Option<BookingStatus> {
        BookingStatus::ALL.into_iter().find(|b| b.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            BookingStatus::Booked => "已预约",
            BookingStatus::Cancelled => "已取消",
            BookingStatus::Attended => "已就诊",
            BookingStatus::NoShow => "爽约",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            BookingStatus::Booked => "booked",
            BookingStatus::Cancelled => "cancelled",
            BookingStatus::Attended => "attended",
            BookingStatus::NoShow => "no-show",
        }
    }

    fn not_active(self) -> BookingRefusal {
        BookingRefusal::NotActive {
            state_zh: self.name_zh(),
            state_en: self.name_en(),
        }
    }
}

/// Check a cancellation of a booking in `status` of a slot starting at `start`. Staff may
/// cancel up to the slot's start (the doctor fell ill); a resident online only until the
/// cancel cut-off.
pub fn check_cancel(
    rules: &ScheduleRules,
    status: BookingStatus,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    channel: Channel,
) -> Result<(), BookingRefusal> {
    if status != BookingStatus::Booked {
        return Err(status.not_active());
    }
    if start <= now {
        return Err(BookingRefusal::SlotInPast);
    }
    if channel == Channel::Resident
        && start - now < Duration::minutes(i64::from(rules.cancel_cutoff_minutes))
    {
        return Err(BookingRefusal::CancelClosed {
            minutes: rules.cancel_cutoff_minutes,
        });
    }
    Ok(())
}

/// Check moving a booking (改约) to `target`: the old booking must be cancellable, the
/// target bookable, in the same schedule, and the move count below the limit.
#[expect(
    clippy::too_many_arguments,
    reason = "each argument is one fact the rule reads; a struct would only rename them"
)]
pub fn check_reschedule(
    rules: &ScheduleRules,
    status: BookingStatus,
    old_start: DateTime<Utc>,
    reschedules_so_far: u32,
    same_schedule: bool,
    target: &SlotState,
    now: DateTime<Utc>,
    today: NaiveDate,
    channel: Channel,
) -> Result<(), BookingRefusal> {
    check_cancel(rules, status, old_start, now, channel)?;
    if reschedules_so_far >= rules.max_reschedules {
        return Err(BookingRefusal::TooManyReschedules {
            max: rules.max_reschedules,
        });
    }
    if !same_schedule {
        return Err(BookingRefusal::RescheduleElsewhere);
    }
    check_booking(rules, target, now, today, channel)
}

/// Check marking an attendance or a no-show: the booking must be active and its slot
/// started.
pub fn check_outcome(
    status: BookingStatus,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), BookingRefusal> {
    if status != BookingStatus::Booked {
        return Err(status.not_active());
    }
    if start > now {
        return Err(BookingRefusal::NoShowTooEarly);
    }
    Ok(())
}

/// 爽约规则: too many no-shows in a window suspend online booking for a while. Local
/// practice (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoShowPolicy {
    pub window_days: u32,
    pub max_no_shows: u32,
    pub suspend_days: u32,
}

impl Default for NoShowPolicy {
    fn default() -> Self {
        NoShowPolicy {
            window_days: 90,
            max_no_shows: 3,
            suspend_days: 30,
        }
    }
}

impl NoShowPolicy {
    /// Whether a resident with no-shows on `dates` may book online on `today`. The
    /// suspension runs from the no-show that reached the limit. Staff booking at a desk is
    /// not suspended: this rule only applies to [`Channel::Resident`].
    pub fn check(&self, dates: &[NaiveDate], today: NaiveDate) -> Result<(), BookingRefusal> {
        if self.max_no_shows == 0 {
            return Ok(());
        }
        let mut sorted: Vec<NaiveDate> = dates.iter().copied().filter(|d| *d <= today).collect();
        sorted.sort();
        let window = Duration::days(i64::from(self.window_days));
        let need = self.max_no_shows as usize;
        // The latest no-show that, with the ones before it in its window, reached the limit.
        for i in (need.saturating_sub(1)..sorted.len()).rev() {
            let first = sorted[i + 1 - need];
            if sorted[i] - first < window {
                let until = sorted[i] + Duration::days(i64::from(self.suspend_days));
                if today < until {
                    return Err(BookingRefusal::Suspended {
                        count: need as u32,
                        window_days: self.window_days,
                        until,
                    });
                }
                return Ok(());
            }
        }
        Ok(())
    }
}

/// 爽约率 as a fraction of bookings whose slot has passed (attended + no-show); `None`
/// when there are none.
pub fn no_show_rate(attended: u64, no_show: u64) -> Option<f64> {
    let total = attended + no_show;
    (total > 0).then(|| no_show as f64 / total as f64)
}

/// A slot time for people: `2026-11-23 周一 08:00–08:15`.
pub struct SlotLabel(pub NaiveDateTime, pub NaiveDateTime);

impl fmt::Display for SlotLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let day = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]
            [self.0.weekday().num_days_from_monday() as usize];
        write!(
            f,
            "{} {day} {}–{}",
            self.0.format("%Y-%m-%d"),
            self.0.format("%H:%M"),
            self.1.format("%H:%M")
        )
    }
}
