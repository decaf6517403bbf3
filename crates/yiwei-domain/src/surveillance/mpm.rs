//! 移动百分位数法: the moving percentile method of China's automated early-warning system
//! (CIDARS temporal model, national operation from 2008-04-21; domain.md §5).

use std::ops::Range;

use super::{Evaluation, Series, SurveillanceError};

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

pub(super) fn evaluate(
    _params: &MovingPercentileParams,
    _series: &Series,
    _at: Range<usize>,
) -> Result<Vec<Evaluation>, SurveillanceError> {
    // FIXME: skeleton published for the signal store; the method lands in the next commit.
    Err(SurveillanceError::InvalidParameter {
        name: "method",
        reason: "moving percentile not implemented yet".into(),
    })
}
