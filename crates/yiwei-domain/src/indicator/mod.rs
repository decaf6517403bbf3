//! The county's indicator catalogue (统计指标目录) and the arithmetic every figure shares:
//! fractions of a numerator and a denominator, rates in percent and per 100,000, target
//! comparison, reporting periods (month, quarter, year) and the roll-up of divisions.
//!
//! The catalogue is data: a table of [`Definition`]s in [`catalogue`], one row per
//! indicator, with its names, the definitions of numerator and denominator, the period
//! types, the disaggregations, the unit, the target the reviews set and the rule it follows.
//! It is a Rust table rather than a TOML file because this crate does no IO and parses no
//! wire formats (ARCHITECTURE.md), because a typo in a code or a unit then fails the build
//! instead of a county's night job, and because the store, the web pages, the annual
//! review and the tests all read the same `&'static` rows without a loader.
//!
//! Roll-up rule (the one the reviews' figures follow): a township's or county's figure is
//! the sum of its villages' numerators over the sum of their denominators, never the
//! average of their ratios ([`Fraction::sum`]). What is not here: reading the facts (the
//! store does, as of each period's end) and drawing (the web crate).

pub mod breakdown;
mod catalogue;
#[cfg(test)]
mod tests;

use std::fmt;

use chrono::{Datelike, NaiveDate};

pub use catalogue::{Section, by_code, catalogue};

/// How a figure is expressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// numerator / denominator × 100.
    Percent,
    /// The numerator alone (the denominator is not used).
    Count,
    /// Money: the numerator in fen (分), shown in yuan.
    Yuan,
    /// numerator / denominator × 100,000 (发病率, 1/10万).
    Per100k,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Percent => "%",
            Unit::Count => "count",
            Unit::Yuan => "yuan",
            Unit::Per100k => "per 100k",
        }
    }

    /// The unit as shown beside a Chinese figure.
    pub fn zh(self) -> &'static str {
        match self {
            Unit::Percent => "%",
            Unit::Count => "",
            Unit::Yuan => "元",
            Unit::Per100k => "/10万",
        }
    }

    /// Whether the figure needs a denominator.
    pub fn is_ratio(self) -> bool {
        matches!(self, Unit::Percent | Unit::Per100k)
    }
}

/// Whether a figure counts events in the period or a state on its last day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// Events dated inside the period (cases, referrals, bookings, visits).
    Flow,
    /// A state on the period's last day (contracts in force, records held).
    PointInTime,
}

/// The kind of a reporting period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PeriodType {
    Month,
    Quarter,
    Year,
}

/// A way a figure may be split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disaggregation {
    /// Village, township, county (always; the stored grain is the village).
    Division,
    Institution,
    Sex,
    AgeGroup,
    KeyGroup,
    /// Disease class (甲/乙/丙类) for notifiable diseases.
    DiseaseClass,
}

impl Disaggregation {
    pub fn as_str(self) -> &'static str {
        match self {
            Disaggregation::Division => "division",
            Disaggregation::Institution => "institution",
            Disaggregation::Sex => "sex",
            Disaggregation::AgeGroup => "age_group",
            Disaggregation::KeyGroup => "key_group",
            Disaggregation::DiseaseClass => "disease_class",
        }
    }
}

/// Where the figures of an indicator come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Maintained by the indicator refresh from the named store computation
    /// (`yiwei_store::indicator::sources`).
    Maintained(&'static str),
    /// Computed by a module on its own page, not kept as an aggregate (the reason is given).
    Live {
        computation: &'static str,
        why: &'static str,
    },
    /// The module that will hold the facts is being built; the catalogue entry exists so the
    /// review prints "source pending" instead of a zero.
    Pending { module: &'static str },
    /// The platform does not hold the facts the definition needs; `why` says which and what
    /// would supply them. Shown as "not computable" with the reason, never as a figure.
    Unavailable { why: &'static str },
}

impl Source {
    pub fn is_maintained(self) -> bool {
        matches!(self, Source::Maintained(_))
    }
}

/// Which way a target points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    /// The value should be at least this (coverage rates).
    AtLeast(f64),
    /// The value should be at most this.
    AtMost(f64),
}

/// How a value compares with its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetStatus {
    Met,
    Missed,
    /// No value (empty denominator) or no target.
    Unknown,
}

impl Target {
    pub fn value(self) -> f64 {
        match self {
            Target::AtLeast(v) | Target::AtMost(v) => v,
        }
    }

    pub fn compare(self, value: Option<f64>) -> TargetStatus {
        match (self, value) {
            (_, None) => TargetStatus::Unknown,
            (Target::AtLeast(t), Some(v)) if v >= t => TargetStatus::Met,
            (Target::AtMost(t), Some(v)) if v <= t => TargetStatus::Met,
            _ => TargetStatus::Missed,
        }
    }

    /// `≥95%`, `≤5`.
    pub fn label(self, unit: Unit) -> String {
        let (sign, v) = match self {
            Target::AtLeast(v) => ("≥", v),
            Target::AtMost(v) => ("≤", v),
        };
        format!("{sign}{}{}", trim(v), unit.zh())
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// One catalogue row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Definition {
    /// Stable ASCII code for URLs, the API and the stored aggregates.
    pub code: &'static str,
    pub section: Section,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub numerator_zh: &'static str,
    pub numerator_en: &'static str,
    /// Empty for counts.
    pub denominator_zh: &'static str,
    pub denominator_en: &'static str,
    pub unit: Unit,
    pub measure: Measure,
    /// The periods it is kept for (a year-only figure has no monthly trend).
    pub periods: &'static [PeriodType],
    pub disaggregations: &'static [Disaggregation],
    pub target: Option<Target>,
    /// The text the definition follows (规范 chapter, standard, or the review it mirrors).
    pub rule: &'static str,
    pub source: Source,
    /// Where a person can see the records behind a figure (a page path taking
    /// `division`, `from`, `to`), when the module has one.
    pub drill_down: Option<&'static str>,
}

impl Definition {
    pub fn kept_for(&self, kind: PeriodType) -> bool {
        self.periods.contains(&kind)
    }
}

/// A numerator over a denominator, both counts (or fen for money). Rolls up by summing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Fraction {
    pub numerator: i64,
    pub denominator: i64,
}

impl Fraction {
    pub fn new(numerator: i64, denominator: i64) -> Fraction {
        Fraction {
            numerator,
            denominator,
        }
    }

    /// The roll-up of parts: Σ numerators over Σ denominators (never a mean of ratios).
    pub fn sum(parts: impl IntoIterator<Item = Fraction>) -> Fraction {
        parts
            .into_iter()
            .fold(Fraction::default(), |a, b| Fraction {
                numerator: a.numerator + b.numerator,
                denominator: a.denominator + b.denominator,
            })
    }

    /// numerator / denominator × 100; `None` when the denominator is empty.
    pub fn percent(self) -> Option<f64> {
        self.scaled(100.0)
    }

    /// numerator / denominator × 100,000; `None` when the denominator is empty.
    pub fn per_100k(self) -> Option<f64> {
        self.scaled(100_000.0)
    }

    fn scaled(self, by: f64) -> Option<f64> {
        (self.denominator > 0).then(|| self.numerator as f64 * by / self.denominator as f64)
    }

    /// The figure in `unit`: a rate, the count, or yuan from fen.
    pub fn value(self, unit: Unit) -> Option<f64> {
        match unit {
            Unit::Percent => self.percent(),
            Unit::Per100k => self.per_100k(),
            Unit::Count => Some(self.numerator as f64),
            Unit::Yuan => Some(self.numerator as f64 / 100.0),
        }
    }

    /// The figure as text: `91.4%`, `12.30/10万`, `8303`, `836800.00元`; `—` without a value.
    pub fn display(self, unit: Unit) -> String {
        match (unit, self.value(unit)) {
            (_, None) => "—".to_owned(),
            (Unit::Percent, Some(v)) => format!("{v:.1}%"),
            (Unit::Per100k, Some(v)) => format!("{v:.2}/10万"),
            (Unit::Count, _) => self.numerator.to_string(),
            (Unit::Yuan, Some(v)) => format!("{v:.2}元"),
        }
    }
}

/// Which way a figure moved from the previous period (the dashboard's arrow).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trend {
    Up,
    Down,
    Flat,
    Unknown,
}

impl Trend {
    /// Moves smaller than `tolerance` (in the unit of the values) are flat.
    pub fn between(previous: Option<f64>, current: Option<f64>, tolerance: f64) -> Trend {
        match (previous, current) {
            (Some(p), Some(c)) if c - p > tolerance => Trend::Up,
            (Some(p), Some(c)) if p - c > tolerance => Trend::Down,
            (Some(_), Some(_)) => Trend::Flat,
            _ => Trend::Unknown,
        }
    }

    pub fn arrow(self) -> &'static str {
        match self {
            Trend::Up => "↑",
            Trend::Down => "↓",
            Trend::Flat => "→",
            Trend::Unknown => "",
        }
    }
}

/// A reporting period: a calendar month, quarter or year of the county's dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    Year(i32),
    Quarter(i32, u32),
    Month(i32, u32),
}

/// A period that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a period is written 2025, 2025-Q1 or 2025-03 (years 2000–2099): {0:?}")]
pub struct PeriodError(pub String);

impl Period {
    /// `2025`, `2025-Q3`, `2025-07`.
    pub fn parse(text: &str) -> Result<Period, PeriodError> {
        let bad = || PeriodError(text.to_owned());
        let t = text.trim();
        let (year, rest) = t.split_at(t.len().min(4));
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        if !(2000..=2099).contains(&year) {
            return Err(bad());
        }
        let number = |s: &str, max: u32| -> Result<u32, PeriodError> {
            if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let n: u32 = s.parse().map_err(|_| bad())?;
            if (1..=max).contains(&n) {
                Ok(n)
            } else {
                Err(bad())
            }
        };
        match rest {
            "" => Ok(Period::Year(year)),
            r => {
                let r = r.strip_prefix('-').ok_or_else(bad)?;
                match r.strip_prefix(['Q', 'q']) {
                    Some(q) => Ok(Period::Quarter(year, number(q, 4)?)),
                    None => Ok(Period::Month(year, number(r, 12)?)),
                }
            }
        }
    }

    pub fn kind(self) -> PeriodType {
        match self {
            Period::Year(_) => PeriodType::Year,
            Period::Quarter(..) => PeriodType::Quarter,
            Period::Month(..) => PeriodType::Month,
        }
    }

    pub fn year(self) -> i32 {
        match self {
            Period::Year(y) | Period::Quarter(y, _) | Period::Month(y, _) => y,
        }
    }

    /// The first month of the period (1–12).
    fn first_month(self) -> u32 {
        match self {
            Period::Year(_) => 1,
            Period::Quarter(_, q) => (q - 1) * 3 + 1,
            Period::Month(_, m) => m,
        }
    }

    fn months(self) -> u32 {
        match self {
            Period::Year(_) => 12,
            Period::Quarter(..) => 3,
            Period::Month(..) => 1,
        }
    }

    /// The first day.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year(), self.first_month(), 1).expect("valid month")
    }

    /// The last day (the as-of date of point-in-time figures).
    pub fn last_day(self) -> NaiveDate {
        let next = self.first_day() + chrono::Months::new(self.months());
        next.pred_opt().expect("not the first day ever")
    }

    pub fn contains(self, day: NaiveDate) -> bool {
        self.first_day() <= day && day <= self.last_day()
    }

    /// The period before, of the same kind.
    pub fn previous(self) -> Period {
        match self {
            Period::Year(y) => Period::Year(y - 1),
            Period::Quarter(y, 1) => Period::Quarter(y - 1, 4),
            Period::Quarter(y, q) => Period::Quarter(y, q - 1),
            Period::Month(y, 1) => Period::Month(y - 1, 12),
            Period::Month(y, m) => Period::Month(y, m - 1),
        }
    }

    /// The months inside, in order.
    pub fn month_periods(self) -> Vec<Period> {
        (0..self.months())
            .map(|i| Period::Month(self.year(), self.first_month() + i))
            .collect()
    }

    /// The year, its quarters and its months: every period the refresh keeps for a year.
    pub fn all_in_year(year: i32) -> Vec<Period> {
        let mut out = vec![Period::Year(year)];
        out.extend((1..=4).map(|q| Period::Quarter(year, q)));
        out.extend((1..=12).map(|m| Period::Month(year, m)));
        out
    }

    /// The year of a day's period and the day's month and quarter.
    pub fn of_day(day: NaiveDate, kind: PeriodType) -> Period {
        match kind {
            PeriodType::Year => Period::Year(day.year()),
            PeriodType::Quarter => Period::Quarter(day.year(), (day.month() - 1) / 3 + 1),
            PeriodType::Month => Period::Month(day.year(), day.month()),
        }
    }

    /// Whether the period has ended by `today` (only an ended period can be closed).
    pub fn ended_by(self, today: NaiveDate) -> bool {
        self.last_day() < today
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Year(y) => write!(f, "{y}"),
            Period::Quarter(y, q) => write!(f, "{y}-Q{q}"),
            Period::Month(y, m) => write!(f, "{y}-{m:02}"),
        }
    }
}
