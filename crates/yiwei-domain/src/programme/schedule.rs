//! When visits are due: the [`Schedule`] kinds and [`due`], which turns a schedule, a
//! subject and a visit history into the work-list entries.
//!
//! Four kinds, after the 规范's own wording:
//! - [`Interval`]: repeated follow-ups ("每年至少 4 次面对面随访" → every 90 days), where a
//!   visit's outcome may bring the next one forward ([`NextDue::By`], "2 周内随访");
//! - [`Schedule::AgeBased`]: check-ups at ages (0～6 岁儿童: 满月, 3, 6, 8 … 月龄);
//! - [`Yearly`]: once a calendar year within a window of months (65 岁以上老年人, school
//!   screening);
//! - [`Schedule::Gestational`]: windows in gestational weeks from the LMP and days after
//!   delivery (孕产妇).
//!
//! Age-based and gestational schedules are both lists of [`Milestone`]s, each an offset from
//! an [`Anchor`]; the variant names the family of anchors for the reader and the tests.
//!
//! Window sizes are mostly *not* national text: the 规范 says "3 月龄" or "孕 16～20 周" and
//! leaves the tolerance to provinces. Each programme's doc says which windows are \[S\] and
//! which are this project's defaults; all of them are configuration.

use chrono::{Datelike, NaiveDate, TimeDelta};

use super::Programme;
use super::Subject;
use super::enrolment::Period;
use super::rules::Classification;

/// Missed windows that closed longer ago than this are left out of [`due`] (and of
/// [`super::immunization::vaccine_due`]): a work list shows what can still be acted on or
/// what was just lost, not a resident's whole past. Indicators count from the visits.
pub const MISSED_LOOKBACK_DAYS: i64 = 365;

/// A length of time from an anchor date. Months and years add calendar months; a day that
/// does not exist in the target month rolls forward to the 1st of the next (31 January + 1
/// month = 1 March; 29 February + 1 year = 1 March), as [`crate::key_group::age_on`] counts
/// birthdays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Offset {
    Days(u32),
    Weeks(u32),
    Months(u32),
    Years(u32),
}

impl Offset {
    /// `date` moved forward by this offset; saturates at the last representable date.
    pub fn after(self, date: NaiveDate) -> NaiveDate {
        match self {
            Offset::Days(n) => add_days(date, i64::from(n)),
            Offset::Weeks(n) => add_days(date, 7 * i64::from(n)),
            Offset::Months(n) => add_months(date, n),
            Offset::Years(n) => add_months(date, n.saturating_mul(12)),
        }
    }

    /// Chinese wording for messages: "3月龄", "6周岁", "28天".
    pub fn label_zh(self) -> String {
        match self {
            Offset::Days(n) => format!("{n}天"),
            Offset::Weeks(n) => format!("{n}周"),
            Offset::Months(n) => format!("{n}月龄"),
            Offset::Years(n) => format!("{n}周岁"),
        }
    }

    /// English wording for messages: "3 months", "6 years".
    pub fn label_en(self) -> String {
        let (n, unit) = match self {
            Offset::Days(n) => (n, "day"),
            Offset::Weeks(n) => (n, "week"),
            Offset::Months(n) => (n, "month"),
            Offset::Years(n) => (n, "year"),
        };
        format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
    }
}

/// `date` + `days`, saturating at the ends of the calendar.
pub(crate) fn add_days(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_add_signed(TimeDelta::days(days))
        .unwrap_or(if days < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        })
}

/// `date` + `months` calendar months, rolling a missing day forward (see [`Offset`]).
pub(crate) fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    let index = i64::from(date.year()) * 12 + i64::from(date.month0()) + i64::from(months);
    let (Ok(year), Ok(month0)) = (
        i32::try_from(index.div_euclid(12)),
        u32::try_from(index % 12),
    ) else {
        return NaiveDate::MAX;
    };
    match NaiveDate::from_ymd_opt(year, month0 + 1, date.day()) {
        Some(d) => d,
        None => {
            let (y, m) = if month0 == 11 {
                (year + 1, 1)
            } else {
                (year, month0 + 2)
            };
            NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(NaiveDate::MAX)
        }
    }
}

/// A kind of visit: its stable code (what the store records on the visit) and names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VisitKind {
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
}

impl VisitKind {
    pub const fn new(code: &'static str, name_zh: &'static str, name_en: &'static str) -> Self {
        VisitKind {
            code,
            name_zh,
            name_en,
        }
    }
}

/// Repeated follow-ups.
///
/// The first visit (no history yet) is due from the start of enrolment until
/// `first_within_days` later. After a visit, the next is due around the date the visit's
/// outcome set ([`NextDue::On`], with the window below) or by it ([`NextDue::By`], from the
/// next day); without one, `every_days` after the visit. Further slots follow every
/// `every_days`; each slot whose window closed without a visit is reported `Missed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interval {
    /// The first visit after enrolment (for tuberculosis the 第一次入户随访).
    pub first: VisitKind,
    /// Every later visit.
    pub regular: VisitKind,
    pub first_within_days: u32,
    pub every_days: u32,
    /// A visit this many days before the target date counts for it.
    pub window_before_days: u32,
    /// … and this many days after; later it is overdue.
    pub window_after_days: u32,
    /// When a referral brings the resident back to primary care (an up-referral returned
    /// down, a down-referral accepted: [`super::Subject::referred_back`]), the next visit
    /// is due within this many days, if that is sooner than the schedule says ("2 周内主动
    /// 随访转诊情况" \[S\]). `None`: referrals do not move this schedule.
    pub after_referral_days: Option<u32>,
}

impl Interval {
    /// The same schedule, with a visit due within `days` of a referral's return.
    pub fn after_referral(&self, days: u32) -> Interval {
        Interval {
            after_referral_days: Some(days),
            ..self.clone()
        }
    }
}

/// Once a calendar year, due from the first day of `from_month` to the last day of
/// `to_month`. A resident is eligible for a year if enrolled on any day of it (so everyone
/// turning 65 during the year is counted, as the 老年人健康管理率 counts them \[M\]); the
/// window does not open before enrolment starts. Any visit in the year fulfils it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Yearly {
    pub visit: VisitKind,
    pub from_month: u32,
    pub to_month: u32,
}

/// What a milestone's offsets count from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Anchor {
    /// The birth date.
    Birth,
    /// The day a newborn left hospital; the birth date when unknown.
    BirthDischarge,
    /// The first day of the last menstrual period (gestational age 0).
    LastMenstrualPeriod,
    /// The delivery.
    Delivery,
    /// Discharge after delivery; the delivery date when unknown.
    DeliveryDischarge,
}

/// One visit of an age-based or gestational schedule.
///
/// Due from `anchor + from` to `anchor + by`; overdue after that; missed from
/// `anchor + until` (never, when `None`). Windows counted from the LMP also close at
/// delivery, and are left out if delivery came before they opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Milestone {
    pub visit: VisitKind,
    pub anchor: Anchor,
    pub from: Offset,
    pub by: Offset,
    pub until: Option<Offset>,
}

/// When a programme's visits are due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    Interval(Interval),
    AgeBased(Vec<Milestone>),
    Yearly(Yearly),
    Gestational(Vec<Milestone>),
}

impl Schedule {
    pub(crate) fn visit_kinds(&self) -> Vec<VisitKind> {
        match self {
            Schedule::Interval(i) if i.first == i.regular => vec![i.first],
            Schedule::Interval(i) => vec![i.first, i.regular],
            Schedule::AgeBased(ms) | Schedule::Gestational(ms) => {
                ms.iter().map(|m| m.visit).collect()
            }
            Schedule::Yearly(y) => vec![y.visit],
        }
    }
}

/// What a visit's outcome says about the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NextDue {
    /// Around this date, with the schedule's usual window (the regular cadence).
    On(NaiveDate),
    /// From the day after the visit until this date (a recheck "2 周内", or a referral to be
    /// followed up).
    By(NaiveDate),
}

/// A visit already made, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Visit {
    pub date: NaiveDate,
    /// The [`VisitKind::code`] it fulfils.
    pub code: String,
    /// The classification [`super::outcome`] gave it.
    pub classification: Option<Classification>,
    /// The next due date [`super::outcome`] gave it.
    pub next_due: Option<NextDue>,
}

/// Where a due visit stands on the day asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// The window has not opened.
    Upcoming,
    /// Inside the window.
    Due,
    /// The window passed, but the visit can still be made (and counts).
    Overdue,
    /// The window closed; the visit can no longer count.
    Missed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Upcoming => "upcoming",
            Status::Due => "due",
            Status::Overdue => "overdue",
            Status::Missed => "missed",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Status::Upcoming => "未到期",
            Status::Due => "应访",
            Status::Overdue => "逾期",
            Status::Missed => "已错过",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Status::Upcoming => "upcoming",
            Status::Due => "due",
            Status::Overdue => "overdue",
            Status::Missed => "missed",
        }
    }

    pub(crate) fn at(
        today: NaiveDate,
        from: NaiveDate,
        by: NaiveDate,
        until: Option<NaiveDate>,
    ) -> Status {
        if until.is_some_and(|u| today >= u) {
            Status::Missed
        } else if today < from {
            Status::Upcoming
        } else if today <= by {
            Status::Due
        } else {
            Status::Overdue
        }
    }
}

/// One entry of the work list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub visit: VisitKind,
    pub due_from: NaiveDate,
    pub due_by: NaiveDate,
    pub status: Status,
}

/// The visits of `programme` that are upcoming, due, overdue or recently missed for
/// `subject` on `today`, given the visits made (`history`, any order). Sorted by
/// `due_from`, then code. Empty when the subject is not enrolled at all.
///
/// Interval and yearly schedules give at most one open entry (the next visit) plus missed
/// ones; milestone schedules give one entry per milestone not yet visited.
pub fn due(
    programme: &Programme,
    subject: &Subject,
    history: &[Visit],
    today: NaiveDate,
) -> Vec<Due> {
    let Some(period) = programme.enrolment.period(subject) else {
        return Vec::new();
    };
    let mut visits: Vec<&Visit> = history
        .iter()
        .filter(|v| v.date <= today && subject.birth_date.is_none_or(|b| v.date >= b))
        .collect();
    visits.sort();
    let mut out = match &programme.schedule {
        Schedule::Interval(i) => interval_due(i, period, &visits, subject.referred_back, today),
        Schedule::Yearly(y) => yearly_due(y, period, &visits, today),
        Schedule::AgeBased(ms) | Schedule::Gestational(ms) => {
            milestones_due(ms, subject, period, &visits, today)
        }
    };
    out.sort_by_key(|d| (d.due_from, d.visit.code, d.due_by));
    out
}

fn lookback(today: NaiveDate) -> NaiveDate {
    add_days(today, -MISSED_LOOKBACK_DAYS)
}

fn interval_due(
    i: &Interval,
    period: Period,
    visits: &[&Visit],
    referred_back: Option<NaiveDate>,
    today: NaiveDate,
) -> Vec<Due> {
    let every = i64::from(i.every_days.max(1));
    let before = i64::from(i.window_before_days);
    let after = i64::from(i.window_after_days);
    // Slot 0: the next visit after the last one (or the first visit).
    let (kind0, from0, target0, by0) = match visits.last() {
        None => {
            let by = add_days(period.from, i64::from(i.first_within_days));
            (i.first, period.from, by, by)
        }
        Some(last) => {
            let earliest = add_days(last.date, 1);
            match last.next_due {
                Some(NextDue::By(d)) => {
                    let d = d.max(earliest);
                    (i.regular, earliest, d, d)
                }
                Some(NextDue::On(t)) => {
                    let from = add_days(t, -before).max(earliest);
                    (i.regular, from, t, add_days(t, after).max(from))
                }
                None => {
                    let t = add_days(last.date, every);
                    let from = add_days(t, -before).max(earliest);
                    (i.regular, from, t, add_days(t, after).max(from))
                }
            }
        }
    };
    // A referral back to primary care since the last visit brings slot 0 forward.
    let (from0, target0, by0) = match (i.after_referral_days, referred_back) {
        (Some(days), Some(back))
            if back >= period.from
                && back <= today
                && visits.last().is_none_or(|last| back > last.date) =>
        {
            let by = add_days(back, i64::from(days));
            if by < by0 {
                (from0.min(back).max(period.from), by, by)
            } else {
                (from0, target0, by0)
            }
        }
        _ => (from0, target0, by0),
    };
    let slot = |k: i64| -> (VisitKind, NaiveDate, NaiveDate) {
        if k == 0 {
            (kind0, from0, by0)
        } else {
            let target = add_days(target0, k.saturating_mul(every));
            let from = add_days(target, -before).max(from0);
            (i.regular, from, add_days(target, after).max(from))
        }
    };
    // The current slot: the latest whose window has opened (slot 0 if none has).
    let current = if today < from0 {
        0
    } else {
        ((today - target0).num_days() + before)
            .div_euclid(every)
            .max(0)
    };
    let in_period = |from: NaiveDate| period.until.is_none_or(|u| from < u);
    let mut out = Vec::new();
    // Missed slots whose window closed within the lookback.
    let oldest = lookback(today);
    let first_missed = if current == 0 {
        0
    } else {
        ((oldest - target0).num_days() - after)
            .div_euclid(every)
            .clamp(0, current)
    };
    for k in first_missed..current {
        let (visit, from, by) = slot(k);
        if by < today && by >= oldest && in_period(from) {
            out.push(Due {
                visit,
                due_from: from,
                due_by: by,
                status: Status::Missed,
            });
        }
    }
    let (visit, from, by) = slot(current);
    if in_period(from) {
        out.push(Due {
            visit,
            due_from: from,
            due_by: by,
            status: Status::at(today, from, by, None),
        });
    }
    out
}

fn yearly_due(y: &Yearly, period: Period, visits: &[&Visit], today: NaiveDate) -> Vec<Due> {
    let from_month = y.from_month.clamp(1, 12);
    let to_month = y.to_month.clamp(from_month, 12);
    // The window of `year`, if the subject is eligible that year.
    let window = |year: i32| -> Option<(NaiveDate, NaiveDate, NaiveDate)> {
        let jan1 = NaiveDate::from_ymd_opt(year, 1, 1)?;
        let dec31 = NaiveDate::from_ymd_opt(year, 12, 31)?;
        if period.from > dec31 || period.until.is_some_and(|u| u <= jan1) {
            return None;
        }
        let open = NaiveDate::from_ymd_opt(year, from_month, 1)?.max(period.from);
        let close = add_days(
            add_months(NaiveDate::from_ymd_opt(year, to_month, 1)?, 1),
            -1,
        );
        let close = if close < open { dec31 } else { close };
        let next_jan1 = add_days(dec31, 1);
        Some((open, close, next_jan1))
    };
    let done = |year: i32| visits.iter().any(|v| v.date.year() == year);
    let this_year = today.year();
    let mut out = Vec::new();
    if let Some((open, close, next_jan1)) = window(this_year - 1)
        && !done(this_year - 1)
        && close >= lookback(today)
    {
        out.push(Due {
            visit: y.visit,
            due_from: open,
            due_by: close,
            status: Status::at(today, open, close, Some(next_jan1)),
        });
    }
    let current = window(this_year).filter(|_| !done(this_year));
    let next = || window(this_year.saturating_add(1));
    if let Some((open, close, next_jan1)) = current.or_else(next) {
        out.push(Due {
            visit: y.visit,
            due_from: open,
            due_by: close,
            status: Status::at(today, open, close, Some(next_jan1)),
        });
    }
    out
}

fn anchor_date(anchor: Anchor, s: &Subject) -> Option<NaiveDate> {
    let pregnancy = s.pregnancy.as_ref();
    let date = match anchor {
        Anchor::Birth => s.birth_date,
        Anchor::BirthDischarge => s.discharged_after_birth.or(s.birth_date),
        Anchor::LastMenstrualPeriod => pregnancy.and_then(|p| p.lmp()),
        Anchor::Delivery => pregnancy.and_then(|p| p.delivered_on),
        Anchor::DeliveryDischarge => pregnancy.and_then(|p| p.discharged_on.max(p.delivered_on)),
    }?;
    // A date before the subject's birth is a data error; count from birth instead.
    Some(s.birth_date.map_or(date, |b| date.max(b)))
}

fn milestones_due(
    milestones: &[Milestone],
    s: &Subject,
    period: Period,
    visits: &[&Visit],
    today: NaiveDate,
) -> Vec<Due> {
    let delivered = s.pregnancy.as_ref().and_then(|p| p.delivered_on);
    let oldest = lookback(today);
    let mut out = Vec::new();
    for m in milestones {
        if visits.iter().any(|v| v.code == m.visit.code) {
            continue;
        }
        let Some(anchor) = anchor_date(m.anchor, s) else {
            continue;
        };
        let from = m.from.after(anchor).max(period.from);
        let by = m.by.after(anchor).max(from);
        let mut until = m.until.map(|u| u.after(anchor).max(add_days(by, 1)));
        if m.anchor == Anchor::LastMenstrualPeriod
            && let Some(delivery) = delivered
        {
            if delivery <= from {
                continue;
            }
            until = Some(until.map_or(delivery, |u| u.min(delivery)));
        }
        if period.until.is_some_and(|u| from >= u) {
            continue;
        }
        let status = Status::at(today, from, by, until);
        if status == Status::Missed && until.is_some_and(|u| u <= oldest) {
            continue;
        }
        out.push(Due {
            visit: m.visit,
            due_from: from,
            due_by: by.min(until.map_or(by, |u| add_days(u, -1)).max(from)),
            status,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn offsets_add_calendar_months_and_roll_missing_days_forward() {
        let cases = [
            (d(2025, 3, 1), Offset::Months(6), d(2025, 9, 1)),
            (d(2025, 3, 1), Offset::Months(12), d(2026, 3, 1)),
            (d(2025, 1, 31), Offset::Months(1), d(2025, 3, 1)),
            (d(2024, 1, 29), Offset::Months(1), d(2024, 2, 29)),
            (d(2024, 1, 31), Offset::Months(1), d(2024, 3, 1)),
            (d(2024, 2, 29), Offset::Years(1), d(2025, 3, 1)),
            (d(2024, 2, 29), Offset::Years(4), d(2028, 2, 29)),
            (d(2025, 12, 15), Offset::Months(1), d(2026, 1, 15)),
            (d(2025, 12, 31), Offset::Months(2), d(2026, 3, 1)),
            (d(2025, 3, 1), Offset::Days(28), d(2025, 3, 29)),
            (d(2025, 3, 1), Offset::Weeks(13), d(2025, 5, 31)),
            (NaiveDate::MAX, Offset::Days(1), NaiveDate::MAX),
            (NaiveDate::MAX, Offset::Years(1), NaiveDate::MAX),
        ];
        for (date, offset, expect) in cases {
            assert_eq!(offset.after(date), expect, "{date} + {offset:?}");
        }
        // The 1-month step agrees with age_on's birthdays.
        let birth = d(2000, 2, 29);
        assert_eq!(
            crate::key_group::age_on(birth, Offset::Years(1).after(birth)),
            1
        );
    }

    #[test]
    fn offset_labels() {
        assert_eq!(Offset::Months(3).label_zh(), "3月龄");
        assert_eq!(Offset::Years(6).label_en(), "6 years");
        assert_eq!(Offset::Days(1).label_en(), "1 day");
    }

    #[test]
    fn status_follows_the_window() {
        let (from, by, until) = (d(2025, 1, 10), d(2025, 1, 20), Some(d(2025, 2, 1)));
        let cases = [
            (d(2025, 1, 9), Status::Upcoming),
            (d(2025, 1, 10), Status::Due),
            (d(2025, 1, 20), Status::Due),
            (d(2025, 1, 21), Status::Overdue),
            (d(2025, 1, 31), Status::Overdue),
            (d(2025, 2, 1), Status::Missed),
        ];
        for (today, expect) in cases {
            assert_eq!(Status::at(today, from, by, until), expect, "{today}");
        }
        assert_eq!(Status::at(d(2030, 1, 1), from, by, None), Status::Overdue);
    }
}
