//! 固定阈值法: the CIDARS fixed-threshold rule (domain.md §5). For the diseases where one
//! case must alert (鼠疫, 霍乱, SARS, 脊灰, 人感染高致病性禽流感, 肺炭疽, 不明原因肺炎 …) a
//! single reported case raises a signal in real time.

use std::ops::Range;

use super::{Baseline, Evaluation, Series, SurveillanceError};

/// Parameters of the fixed-threshold method.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedParams {
    /// Alarm when the count is at least this (≥). Default 1 case (CIDARS).
    pub threshold: u32,
}

impl Default for FixedParams {
    fn default() -> Self {
        FixedParams { threshold: 1 }
    }
}

impl FixedParams {
    pub(super) fn parameters(&self) -> Vec<(&'static str, String)> {
        vec![("threshold", self.threshold.to_string())]
    }
}

pub(super) fn evaluate(
    params: &FixedParams,
    series: &Series,
    at: Range<usize>,
) -> Result<Vec<Evaluation>, SurveillanceError> {
    if params.threshold == 0 {
        return Err(SurveillanceError::InvalidParameter {
            name: "threshold",
            reason: "must be at least 1 case, or every day would alarm".into(),
        });
    }
    Ok(at
        .map(|index| {
            let observed = series.counts[index];
            Evaluation {
                index,
                observed: f64::from(observed),
                threshold: Some(f64::from(params.threshold)),
                expected: None,
                alarm: observed >= params.threshold,
                baseline: Baseline {
                    from: index,
                    to: index,
                    n: 0,
                    mean: 0.0,
                    sd: 0.0,
                    note: "fixed threshold, no history used".into(),
                },
            }
        })
        .collect())
}
