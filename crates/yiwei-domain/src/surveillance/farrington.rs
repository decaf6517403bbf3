//! Farrington flexible (Farrington et al. 1996; Noufaily et al. 2013), exactly as R
//! `surveillance::farringtonFlexible` (version 1.20.3 read).

use std::ops::Range;

use super::{Evaluation, Series, SurveillanceError};

/// How the upper bound is derived from the GLM prediction (R `thresholdMethod`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThresholdMethod {
    /// Farrington 1996: normal approximation on a power-transformed scale (R `"delta"`).
    Delta,
    /// Noufaily 2013: negative-binomial quantile at the plug-in mean (R `"nbPlugin"`).
    NbPlugin,
    /// Negative-binomial quantile at the upper (1-α) quantile of the mean (R `"muan"`).
    Muan,
}

/// Power transform used by `Delta` (R `powertrans`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerTransform {
    /// `"2/3"` (default, Farrington 1996).
    TwoThirds,
    /// `"1/2"`.
    Half,
    /// `"none"`.
    None,
}

/// Parameters of Farrington flexible; names and defaults follow R's `farringtonFlexible`
/// control list.
#[derive(Clone, Debug, PartialEq)]
pub struct FarringtonParams {
    /// Years back (R `b`, default 5).
    pub b: usize,
    /// Half-width of the reference window in steps (R `w`, default 3).
    pub w: usize,
    /// Down-weight past outbreaks by Anscombe residuals (R `reweight`, default true).
    pub reweight: bool,
    /// Residual above which a point is down-weighted (R `weightsThreshold`, default 2.58).
    pub weights_threshold: f64,
    /// One-sided level of the upper bound (R `alpha`, default 0.05).
    pub alpha: f64,
    /// Fit a linear time trend, kept only if significant (R `trend`, default true).
    pub trend: bool,
    /// Significance level of the trend (R `pThresholdTrend`, default 0.05).
    pub p_threshold_trend: f64,
    /// No alarm unless at least `.0` cases in the last `.1` steps incl. the current one
    /// (R `limit54`, default (5, 4)).
    pub limit54: (u32, usize),
    /// R `powertrans`, default `"2/3"`.
    pub powertrans: PowerTransform,
    /// Number of seasonal periods per year (R `noPeriods`, default 1 = reference windows only).
    pub no_periods: usize,
    /// Most recent steps left out of the fit (R `pastWeeksNotIncluded`, default `None` = `w`).
    pub past_weeks_not_included: Option<usize>,
    /// R `thresholdMethod`, default `"delta"`.
    pub threshold_method: ThresholdMethod,
}

impl Default for FarringtonParams {
    fn default() -> Self {
        FarringtonParams {
            b: 5,
            w: 3,
            reweight: true,
            weights_threshold: 2.58,
            alpha: 0.05,
            trend: true,
            p_threshold_trend: 0.05,
            limit54: (5, 4),
            powertrans: PowerTransform::TwoThirds,
            no_periods: 1,
            past_weeks_not_included: None,
            threshold_method: ThresholdMethod::Delta,
        }
    }
}

impl FarringtonParams {
    /// The settings of Noufaily et al. (2013) as given in R's `farringtonFlexible` help:
    /// noPeriods 10, pastWeeksNotIncluded 26, weightsThreshold 2.58, pThresholdTrend 1,
    /// thresholdMethod `"nbPlugin"`.
    pub fn noufaily() -> Self {
        FarringtonParams {
            no_periods: 10,
            past_weeks_not_included: Some(26),
            weights_threshold: 2.58,
            p_threshold_trend: 1.0,
            threshold_method: ThresholdMethod::NbPlugin,
            ..FarringtonParams::default()
        }
    }

    pub(super) fn parameters(&self) -> Vec<(&'static str, String)> {
        vec![
            ("b", self.b.to_string()),
            ("w", self.w.to_string()),
            ("reweight", self.reweight.to_string()),
            ("weightsThreshold", self.weights_threshold.to_string()),
            ("alpha", self.alpha.to_string()),
            ("trend", self.trend.to_string()),
            ("pThresholdTrend", self.p_threshold_trend.to_string()),
            ("limit54", format!("{},{}", self.limit54.0, self.limit54.1)),
            (
                "powertrans",
                match self.powertrans {
                    PowerTransform::TwoThirds => "2/3",
                    PowerTransform::Half => "1/2",
                    PowerTransform::None => "none",
                }
                .to_string(),
            ),
            ("noPeriods", self.no_periods.to_string()),
            (
                "pastWeeksNotIncluded",
                self.past_weeks_not_included.unwrap_or(self.w).to_string(),
            ),
            (
                "thresholdMethod",
                match self.threshold_method {
                    ThresholdMethod::Delta => "delta",
                    ThresholdMethod::NbPlugin => "nbPlugin",
                    ThresholdMethod::Muan => "muan",
                }
                .to_string(),
            ),
        ]
    }
}

pub(super) fn evaluate(
    _params: &FarringtonParams,
    _series: &Series,
    _at: Range<usize>,
) -> Result<Vec<Evaluation>, SurveillanceError> {
    // FIXME: skeleton published for the signal store; the method lands in a later commit.
    Err(SurveillanceError::InvalidParameter {
        name: "method",
        reason: "Farrington not implemented yet".into(),
    })
}
