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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn day0() -> NaiveDate {
        NaiveDate::from_ymd_opt(2020, 1, 1).expect("date")
    }

    fn daily(counts: &[u32]) -> Series<'_> {
        Series {
            counts,
            step: Step::Day,
            start: day0(),
        }
    }

    fn weekly(counts: &[u32]) -> Series<'_> {
        Series {
            counts,
            step: Step::Week,
            start: day0(),
        }
    }

    #[test]
    fn fixed_threshold_alarms_at_one_case() {
        let counts = [0, 1, 0, 3];
        let evals = evaluate(
            &Method::Fixed(FixedParams::default()),
            &daily(&counts),
            0..4,
        )
        .expect("evaluates");
        let alarms: Vec<bool> = evals.iter().map(|e| e.alarm).collect();
        assert_eq!(alarms, [false, true, false, true]);
        let zero = Method::Fixed(FixedParams { threshold: 0 });
        assert!(matches!(
            evaluate(&zero, &daily(&counts), 0..4),
            Err(SurveillanceError::InvalidParameter {
                name: "threshold",
                ..
            })
        ));
    }

    #[test]
    fn ears_c1_bound_is_mean_plus_z_sd_of_last_seven() {
        // Baseline 1..7: mean 4, sample sd √(28/6); z = qnorm(0.999) = 3.090232306167813.
        let counts = [1, 2, 3, 4, 5, 6, 7, 10, 11];
        let evals = evaluate(
            &Method::EarsC1(EarsParams::default()),
            &daily(&counts),
            7..8,
        )
        .expect("evaluates");
        let want = 4.0 + 3.090232306167813 * (28.0f64 / 6.0).sqrt();
        assert!((evals[0].threshold.expect("bound") - want).abs() < 1e-12);
        assert_eq!((evals[0].baseline.from, evals[0].baseline.to), (0, 6));
        assert!(!evals[0].alarm, "10 < {want}");
        let counts = [1, 2, 3, 4, 5, 6, 7, 11];
        let evals = evaluate(
            &Method::EarsC1(EarsParams::default()),
            &daily(&counts),
            7..8,
        )
        .expect("evaluates");
        assert!(evals[0].alarm, "11 > {want}");
    }

    #[test]
    fn ears_c2_skips_a_two_day_guard_band() {
        let counts = [1, 2, 3, 4, 5, 6, 7, 90, 90, 10];
        let evals = evaluate(
            &Method::EarsC2(EarsParams::default()),
            &daily(&counts),
            9..10,
        )
        .expect("evaluates");
        assert_eq!((evals[0].baseline.from, evals[0].baseline.to), (0, 6));
        assert_eq!(evals[0].expected, Some(4.0));
    }

    #[test]
    fn ears_c3_follows_r_and_ignores_the_current_c2() {
        // Two earlier days far above their baselines make C3 alarm on any positive count,
        // even one at the baseline mean; a zero count never alarms.
        let mut counts = vec![2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2];
        counts.extend([40, 40, 1]);
        let c3 = Method::EarsC3(EarsParams::default());
        let at = counts.len() - 1;
        let evals = evaluate(&c3, &daily(&counts), at..at + 1).expect("evaluates");
        assert_eq!(evals[0].threshold, Some(0.0));
        assert!(evals[0].alarm);
        *counts.last_mut().expect("last") = 0;
        let evals = evaluate(&c3, &daily(&counts), at..at + 1).expect("evaluates");
        assert!(!evals[0].alarm);
        // A flat baseline gives 0/0 in R (NA): no bound, no alarm.
        let flat = [1u32; 14];
        let evals = evaluate(&c3, &daily(&flat), 11..14).expect("evaluates");
        assert!(evals.iter().all(|e| e.threshold.is_none() && !e.alarm));
    }

    #[test]
    fn bad_input_gives_typed_errors() {
        let c1 = Method::EarsC1(EarsParams::default());
        assert_eq!(
            evaluate(&c1, &daily(&[]), 0..0),
            Err(SurveillanceError::EmptySeries)
        );
        assert!(matches!(
            evaluate(&c1, &daily(&[1; 10]), 5..11),
            Err(SurveillanceError::RangeOutsideSeries { .. })
        ));
        assert!(matches!(
            evaluate(&c1, &daily(&[1; 10]), 6..10),
            Err(SurveillanceError::SeriesTooShort { needed: 7, .. })
        ));
        let short = Method::EarsC1(EarsParams {
            baseline: 2,
            ..EarsParams::default()
        });
        assert!(matches!(
            evaluate(&short, &daily(&[1; 10]), 8..10),
            Err(SurveillanceError::InvalidParameter {
                name: "baseline",
                ..
            })
        ));
        let mpm = Method::MovingPercentile(MovingPercentileParams::default());
        assert!(matches!(
            evaluate(&mpm, &weekly(&[1; 400]), 300..400),
            Err(SurveillanceError::WrongStep { .. })
        ));
        let farrington = Method::Farrington(FarringtonParams::default());
        assert!(matches!(
            evaluate(&farrington, &weekly(&[1; 300]), 100..300),
            Err(SurveillanceError::SeriesTooShort { needed: 263, .. })
        ));
    }

    #[test]
    fn quantile_type7_matches_r() {
        // quantile(c(1, 2, 3, 4), c(0.5, 0.9)) = 2.5, 3.7
        assert_eq!(mpm::quantile_type7(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert!((mpm::quantile_type7(&[1.0, 2.0, 3.0, 4.0], 0.9) - 3.7).abs() < 1e-12);
        assert_eq!(mpm::quantile_type7(&[5.0], 0.5), 5.0);
    }

    #[test]
    fn moving_percentile_uses_nine_blocks_and_alarms_above_the_median() {
        // Four years of one case a day: every 7-day sum is 7, so P50 is 7.
        let mut counts = vec![1u32; 4 * 366];
        let method = Method::MovingPercentile(MovingPercentileParams::default());
        let series = daily(&counts);
        let first = method.first_index(&series);
        assert!(first > 3 * 365 && first < 3 * 366 + 14, "{first}");
        let t = counts.len() - 1;
        let evals = evaluate(&method, &series, t..t + 1).expect("evaluates");
        assert_eq!(evals[0].baseline.n, 9);
        assert_eq!(evals[0].threshold, Some(7.0));
        assert!(!evals[0].alarm, "7 is not above P50 = 7");
        counts[t] = 2;
        let evals = evaluate(&method, &daily(&counts), t..t + 1).expect("evaluates");
        assert_eq!(evals[0].observed, 8.0);
        assert!(evals[0].alarm);
        assert!(matches!(
            evaluate(&method, &daily(&counts), first - 1..first),
            Err(SurveillanceError::SeriesTooShort { .. })
        ));
    }

    #[test]
    fn method_codes_and_parameters_are_recorded() {
        let m = Method::EarsC3(EarsParams::default());
        assert_eq!(m.code(), "ears_c3");
        assert!(m.parameters().contains(&("alpha", "0.025".to_string())));
        let f = Method::Farrington(FarringtonParams::noufaily());
        assert_eq!(f.code(), "farrington");
        let params = f.parameters();
        assert!(params.contains(&("noPeriods", "10".to_string())));
        assert!(params.contains(&("thresholdMethod", "nbPlugin".to_string())));
        assert!(params.contains(&("pastWeeksNotIncluded", "26".to_string())));
    }

    fn every_method() -> Vec<Method> {
        vec![
            Method::Fixed(FixedParams::default()),
            Method::MovingPercentile(MovingPercentileParams::default()),
            Method::EarsC1(EarsParams::default()),
            Method::EarsC2(EarsParams::default()),
            Method::EarsC3(EarsParams::default()),
            Method::Farrington(FarringtonParams::default()),
            Method::Farrington(FarringtonParams::noufaily()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn ears_threshold_falls_as_alpha_rises(
            counts in proptest::collection::vec(0u32..50, 20),
            a in 0.0001f64..0.2,
            b in 0.0001f64..0.2,
        ) {
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            for make in [Method::EarsC1, Method::EarsC2] {
                let at_lo = evaluate(&make(EarsParams { alpha: Some(lo), ..EarsParams::default() }), &daily(&counts), 12..20).expect("evaluates");
                let at_hi = evaluate(&make(EarsParams { alpha: Some(hi), ..EarsParams::default() }), &daily(&counts), 12..20).expect("evaluates");
                for (l, h) in at_lo.iter().zip(&at_hi) {
                    prop_assert!(l.threshold >= h.threshold);
                    prop_assert!(!l.alarm || h.alarm, "an alarm at the stricter level is kept");
                }
            }
        }

        #[test]
        fn a_constant_series_never_alarms(level in 0u32..30, weeks in 270usize..300) {
            let counts = vec![level; weeks];
            for method in every_method().into_iter().skip(2) {
                let series = weekly(&counts);
                let first = method.first_index(&series);
                let evals = evaluate(&method, &series, first..weeks).expect("evaluates");
                prop_assert!(evals.iter().all(|e| !e.alarm), "{} alarmed", method.code());
            }
            let days = vec![level; 3 * 366 + 30];
            let mpm = Method::MovingPercentile(MovingPercentileParams::default());
            let series = daily(&days);
            let evals = evaluate(&mpm, &series, mpm.first_index(&series)..days.len()).expect("evaluates");
            prop_assert!(evals.iter().all(|e| !e.alarm));
        }

        #[test]
        fn evaluate_never_panics(
            counts in proptest::collection::vec(0u32..1000, 0..300),
            start in 0usize..320,
            len in 0usize..40,
            weekly_step in any::<bool>(),
        ) {
            let series = Series { counts: &counts, step: if weekly_step { Step::Week } else { Step::Day }, start: day0() };
            for method in every_method() {
                if let Ok(evals) = evaluate(&method, &series, start..start + len) {
                    for e in evals {
                        prop_assert!(e.threshold.is_none_or(|t| !t.is_nan()));
                    }
                }
            }
        }
    }
}
