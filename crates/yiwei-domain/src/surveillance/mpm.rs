//! 移动百分位数法: the moving percentile method of China's automated early-warning system
//! (CIDARS temporal model, national operation from 2008-04-21; domain.md §5).
//!
//! Observed: the sum of the last `window` days (7, moved daily) ending at day t.
//! Baseline: the comparable 7-day sums of the previous `years` years (3). **The exact
//! blocks CIDARS uses are unconfirmed** (domain.md §5: "same period ± adjacent periods";
//! a 2017 study used 5 weeks × 5 years). This module takes, for each year y = 1…years, the
//! 7-day window ending on the same calendar date y years earlier (29 Feb → 28 Feb) and
//! `adjacent` (1) windows of 7 days immediately before and after it, i.e. 3 years × 3
//! blocks = 9 sums by default. Why: it is the smallest reading of "same period ± adjacent
//! periods" that gives more than 3 values (a percentile of 3 values is coarse), it covers
//! ±10 days of seasonal timing, and it needs only 3 years and 10 days of history; the
//! number of adjacent blocks and years are parameters, so the 5 × 5 variant is
//! `adjacent: 2, years: 5`.
//!
//! Threshold: the `percentile` (default P50, CIDARS' initial threshold for all diseases;
//! domain.md lists optimised P50–P90 per disease) of the baseline sums, computed as R's
//! default `quantile(type = 7)`: with the n sorted values v₀…v_{n−1} and h = (n − 1)·q,
//! v_⌊h⌋ + (h − ⌊h⌋)(v_⌊h⌋+1 − v_⌊h⌋). Alarm iff the current sum is **greater than** the
//! threshold ("当前值超过前3年历史数据P50"). Daily series only.

use std::ops::Range;

use chrono::{Days, Months, NaiveDate};

use super::{Baseline, Evaluation, Series, Step, SurveillanceError};

/// Parameters of the moving percentile method.
#[derive(Clone, Debug, PartialEq)]
pub struct MovingPercentileParams {
    /// Length of the moving window in steps (7 days in CIDARS).
    pub window: usize,
    /// How many previous years give comparable periods (3 in CIDARS).
    pub years: usize,
    /// Adjacent periods taken on each side of the same period in each year.
    pub adjacent: usize,
    /// Percentile in (0, 100], default P50 (CIDARS initial threshold for all diseases).
    pub percentile: f64,
}

impl Default for MovingPercentileParams {
    fn default() -> Self {
        MovingPercentileParams {
            window: 7,
            years: 3,
            adjacent: 1,
            percentile: 50.0,
        }
    }
}

impl MovingPercentileParams {
    pub(super) fn parameters(&self) -> Vec<(&'static str, String)> {
        vec![
            ("window", self.window.to_string()),
            ("years", self.years.to_string()),
            ("adjacent", self.adjacent.to_string()),
            ("percentile", self.percentile.to_string()),
        ]
    }
}

/// Quantile of sorted values, R's `quantile(type = 7)`; `q` in [0, 1].
pub(super) fn quantile_type7(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let h = (n - 1) as f64 * q;
    let lo = h.floor() as usize;
    if lo + 1 >= n {
        return sorted[n - 1];
    }
    sorted[lo] + (h - lo as f64) * (sorted[lo + 1] - sorted[lo])
}

fn index_of(start: NaiveDate, date: NaiveDate) -> i64 {
    (date - start).num_days()
}

/// End indices of the baseline blocks of day t, oldest first; `None` when the series does
/// not reach back far enough.
fn block_ends(params: &MovingPercentileParams, start: NaiveDate, t: usize) -> Option<Vec<usize>> {
    let day = start.checked_add_days(Days::new(t as u64))?;
    let mut ends = Vec::with_capacity(params.years * (2 * params.adjacent + 1));
    for year in (1..=params.years).rev() {
        let same = day.checked_sub_months(Months::new(12 * year as u32))?;
        let centre = index_of(start, same);
        for j in -(params.adjacent as i64)..=(params.adjacent as i64) {
            let end = centre + j * params.window as i64;
            if end - params.window as i64 + 1 < 0 {
                return None;
            }
            ends.push(end as usize);
        }
    }
    Some(ends)
}

/// The first day index that has a full baseline.
pub(super) fn first_index(params: &MovingPercentileParams, start: NaiveDate) -> usize {
    let guess = (params.years * 365 + (params.adjacent + 1) * params.window).saturating_sub(10);
    (guess..guess + 30)
        .find(|&t| block_ends(params, start, t).is_some())
        .unwrap_or(guess + 30)
}

pub(super) fn evaluate(
    params: &MovingPercentileParams,
    series: &Series,
    at: Range<usize>,
) -> Result<Vec<Evaluation>, SurveillanceError> {
    if series.step != Step::Day {
        return Err(SurveillanceError::WrongStep {
            method: "mpm",
            needed: "daily",
        });
    }
    if params.window == 0 {
        return Err(SurveillanceError::InvalidParameter {
            name: "window",
            reason: "must be at least 1 day".into(),
        });
    }
    if params.years == 0 || params.years > 50 {
        return Err(SurveillanceError::InvalidParameter {
            name: "years",
            reason: format!("{} is not between 1 and 50", params.years),
        });
    }
    if !(params.percentile > 0.0 && params.percentile <= 100.0) {
        return Err(SurveillanceError::InvalidParameter {
            name: "percentile",
            reason: format!("{} is not in (0, 100]", params.percentile),
        });
    }
    let counts = series.counts;
    // Prefix sums make every 7-day sum O(1).
    let mut prefix = Vec::with_capacity(counts.len() + 1);
    prefix.push(0u64);
    for &c in counts {
        prefix.push(prefix[prefix.len() - 1] + u64::from(c));
    }
    let window_sum = |end: usize| (prefix[end + 1] - prefix[end + 1 - params.window]) as f64;
    let q = params.percentile / 100.0;
    let mut out = Vec::with_capacity(at.len());
    let mut values = Vec::new();
    for t in at {
        let Some(ends) = block_ends(params, series.start, t) else {
            return Err(SurveillanceError::SeriesTooShort {
                method: "mpm",
                index: t,
                needed: first_index(params, series.start),
            });
        };
        values.clear();
        values.extend(ends.iter().map(|&e| window_sum(e)));
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let sd = if n > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            f64::NAN
        };
        values.sort_by(f64::total_cmp);
        let threshold = quantile_type7(&values, q);
        let median = quantile_type7(&values, 0.5);
        let observed = window_sum(t);
        let from = ends[0] + 1 - params.window;
        let to = ends[n - 1];
        out.push(Evaluation {
            index: t,
            observed,
            threshold: Some(threshold),
            expected: Some(median),
            alarm: observed > threshold,
            baseline: Baseline {
                from,
                to,
                n,
                mean,
                sd,
                note: format!(
                    "{}-day sums: same period ±{} in each of {} previous years; P{} (type 7)",
                    params.window, params.adjacent, params.years, params.percentile
                ),
            },
        });
    }
    Ok(out)
}
