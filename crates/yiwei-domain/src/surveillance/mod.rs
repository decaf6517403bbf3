//! Automated early warning (自动预警): outbreak detection algorithms over a count series.
//!
//! Pure functions. A caller (the daily job in `yiwei`, the signal pages) builds a
//! [`Series`] of case counts per day or ISO week for one disease and one area, picks a
//! [`Method`] with its parameters, and asks [`evaluate`] for one [`Evaluation`] per time
//! point of interest. Every evaluation carries the threshold, the expected value and the
//! [`Baseline`] it was computed from, so a signal record can show why it fired.
//!
//! Methods (see `domain.md` §5 and `docs/surveillance.md`):
//! - [`Method::Fixed`]: 固定阈值法, CIDARS single-case real-time rule (count ≥ threshold);
//! - [`Method::MovingPercentile`]: 移动百分位数法, the CIDARS temporal model (7-day moving
//!   sum against a percentile of comparable 7-day sums of the previous 3 years);
//! - [`Method::EarsC1`], [`Method::EarsC2`], [`Method::EarsC3`]: CDC EARS as coded in R
//!   `surveillance::earsC` (parity with R is tested, including R's own C3 definition);
//! - [`Method::Farrington`]: R `surveillance::farringtonFlexible` (Noufaily et al. 2013
//!   improvements available through [`FarringtonParams::noufaily`]).
//!
//! What this module does not do: it does not read or store counts, does not decide who is
//! told, and does not aggregate cases into counts (the caller does, per day or ISO week).
//!
//! ```ignore
//! use yiwei_domain::surveillance::{evaluate, EarsParams, Method, Series, Step};
//! let counts = [0, 1, 0, 2, 1, 0, 1, 0, 9];
//! let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
//! let series = Series { counts: &counts, step: Step::Day, start };
//! let method = Method::EarsC1(EarsParams::default());
//! let evals = evaluate(&method, &series, 7..9)?;
//! assert!(evals[1].alarm); // 9 cases against a 7-day baseline of 0..2
//! assert_eq!(method.code(), "ears_c1");
//! ```

mod ears;
mod farrington;
mod fixed;
mod glm;
mod mpm;
pub mod stats;

use std::ops::Range;

use chrono::NaiveDate;
use thiserror::Error;

pub use ears::EarsParams;
pub use farrington::{FarringtonParams, PowerTransform, ThresholdMethod};
pub use fixed::FixedParams;
pub use mpm::MovingPercentileParams;

/// A warning method with its parameters (预警方法及参数).
#[derive(Clone, Debug, PartialEq)]
pub enum Method {
    Fixed(FixedParams),
    MovingPercentile(MovingPercentileParams),
    EarsC1(EarsParams),
    EarsC2(EarsParams),
    EarsC3(EarsParams),
    Farrington(FarringtonParams),
}

impl Method {
    /// Stable code for storage: `fixed`, `mpm`, `ears_c1`, `ears_c2`, `ears_c3`, `farrington`.
    pub fn code(&self) -> &'static str {
        match self {
            Method::Fixed(_) => "fixed",
            Method::MovingPercentile(_) => "mpm",
            Method::EarsC1(_) => "ears_c1",
            Method::EarsC2(_) => "ears_c2",
            Method::EarsC3(_) => "ears_c3",
            Method::Farrington(_) => "farrington",
        }
    }

    /// The parameters as name/value pairs, for the signal record. Names follow the R
    /// package's control list where the method comes from R (`baseline`, `minSigma`, …).
    pub fn parameters(&self) -> Vec<(&'static str, String)> {
        match self {
            Method::Fixed(p) => p.parameters(),
            Method::MovingPercentile(p) => p.parameters(),
            Method::EarsC1(p) => p.parameters(EarsVariant::C1),
            Method::EarsC2(p) => p.parameters(EarsVariant::C2),
            Method::EarsC3(p) => p.parameters(EarsVariant::C3),
            Method::Farrington(p) => p.parameters(),
        }
    }
}

impl Method {
    /// The first index of `series` that can be evaluated: R's default `range` start for
    /// EARS (baseline, +2, +4) and Farrington (freq·b + w), the first day with three full
    /// years behind it for the moving percentile method, 0 for the fixed threshold.
    pub fn first_index(&self, series: &Series) -> usize {
        let freq = match series.step {
            Step::Week => 52,
            Step::Day => 365,
        };
        match self {
            Method::Fixed(_) => 0,
            Method::MovingPercentile(p) => mpm::first_index(p, series.start),
            Method::EarsC1(p) => p.baseline,
            Method::EarsC2(p) => p.baseline + 2,
            Method::EarsC3(p) => p.baseline + 4,
            Method::Farrington(p) => freq * p.b + p.w,
        }
    }
}

/// Which EARS statistic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EarsVariant {
    C1,
    C2,
    C3,
}

/// The time unit of a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// One count per calendar day.
    Day,
    /// One count per ISO week (`start` is the Monday of the first week).
    Week,
}

/// A count series, oldest first. `start` is the date of `counts[0]`.
#[derive(Clone, Copy, Debug)]
pub struct Series<'a> {
    pub counts: &'a [u32],
    pub step: Step,
    pub start: NaiveDate,
}

/// The result at one time point.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Index into `Series::counts`.
    pub index: usize,
    /// The statistic compared with the threshold: the count itself, or the 7-day moving sum
    /// for the moving percentile method.
    pub observed: f64,
    /// The upper bound (R's `upperbound`); `None` when it cannot be computed (R gives `NA`).
    pub threshold: Option<f64>,
    /// The expected value when the method has one (baseline mean, GLM prediction).
    pub expected: Option<f64>,
    /// Whether this point raises a signal.
    pub alarm: bool,
    pub baseline: Baseline,
}

/// The history a threshold was computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Baseline {
    /// First index used (inclusive).
    pub from: usize,
    /// Last index used (inclusive).
    pub to: usize,
    /// Number of values used (the indices between `from` and `to` may not all be used).
    pub n: usize,
    pub mean: f64,
    pub sd: f64,
    /// Free text: trend kept or dropped, dispersion φ, reweighting, blocks chosen …
    pub note: String,
}

/// Why an evaluation could not be made.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum SurveillanceError {
    #[error("the series is empty")]
    EmptySeries,
    #[error("range {start}..{end} is not inside a series of {len} counts")]
    RangeOutsideSeries {
        start: usize,
        end: usize,
        len: usize,
    },
    #[error("{method} needs {needed} earlier counts before index {index}")]
    SeriesTooShort {
        method: &'static str,
        index: usize,
        needed: usize,
    },
    #[error("parameter {name} is invalid: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
    #[error("{method} needs a {needed} series")]
    WrongStep {
        method: &'static str,
        needed: &'static str,
    },
}

/// Evaluate `method` at every index in `at` (indices into `series.counts`).
///
/// Errors when the range is outside the series, the parameters are invalid, or the history
/// before `at.start` is too short for the method (R instead errors or returns `NA`; this
/// function never panics).
pub fn evaluate(
    method: &Method,
    series: &Series,
    at: Range<usize>,
) -> Result<Vec<Evaluation>, SurveillanceError> {
    if series.counts.is_empty() {
        return Err(SurveillanceError::EmptySeries);
    }
    if at.start > at.end || at.end > series.counts.len() {
        return Err(SurveillanceError::RangeOutsideSeries {
            start: at.start,
            end: at.end,
            len: series.counts.len(),
        });
    }
    match method {
        Method::Fixed(p) => fixed::evaluate(p, series, at),
        Method::MovingPercentile(p) => mpm::evaluate(p, series, at),
        Method::EarsC1(p) => ears::evaluate(p, EarsVariant::C1, series, at),
        Method::EarsC2(p) => ears::evaluate(p, EarsVariant::C2, series, at),
        Method::EarsC3(p) => ears::evaluate(p, EarsVariant::C3, series, at),
        Method::Farrington(p) => farrington::evaluate(p, series, at),
    }
}
