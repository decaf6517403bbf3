//! CDC EARS C1, C2, C3 (Hutwagner et al. 2003), exactly as coded in R
//! `surveillance::earsC` (version 1.20.3 read; domain.md §5).
//!
//! Conventions taken from R, so that results agree to rounding:
//! - baseline `n` (default 7, at least 3) counts; C1 uses t-n…t-1, C2 and C3 use t-n-2…t-3
//!   (a two-step guard band);
//! - mean and *sample* standard deviation (n-1) of the baseline;
//!   upper bound = mean + z·max(sd, minSigma) with z = qnorm(1-α);
//! - α defaults to 0.001 for C1 and C2 and to 0.025 for C3 (R sets these when `alpha` is
//!   not given);
//! - **C3 is R's definition, not CDC's textual one**: with
//!   C2_s = (y_s − mean_s) / max(sd_s, minSigma),
//!   upper bound_t = max(0, y_t + max(sd_t, minSigma) · (z − max(0, C2_{t−2} − 1) − max(0, C2_{t−1} − 1))),
//!   so the current step's own C2 does not enter and C3 alarms iff the two previous C2
//!   excesses sum above z and y_t > 0;
//! - alarm iff observed **>** upper bound (strict);
//! - R gives `NA` where 0/0 or 0·∞ occurs (a flat baseline with minSigma 0 in C3); this
//!   module reports `threshold: None` and no alarm there;
//! - first index that can be evaluated (0-based): C1 `n`, C2 `n+2`, C3 `n+4`.

use std::ops::Range;

use super::stats::qnorm;
use super::{Baseline, EarsVariant, Evaluation, Series, SurveillanceError};

/// Parameters of EARS C1/C2/C3, named as R's `earsC` control list.
#[derive(Clone, Debug, PartialEq)]
pub struct EarsParams {
    /// Number of baseline counts (R `baseline`, default 7, at least 3).
    pub baseline: usize,
    /// Floor on the standard deviation (R `minSigma`, default 0).
    pub min_sigma: f64,
    /// One-sided level; `None` means R's default for the variant (0.001 C1/C2, 0.025 C3).
    pub alpha: Option<f64>,
}

impl Default for EarsParams {
    fn default() -> Self {
        EarsParams {
            baseline: 7,
            min_sigma: 0.0,
            alpha: None,
        }
    }
}

impl EarsParams {
    /// The α in force for `variant`.
    pub fn alpha_for(&self, variant: EarsVariant) -> f64 {
        self.alpha.unwrap_or(match variant {
            EarsVariant::C1 | EarsVariant::C2 => 0.001,
            EarsVariant::C3 => 0.025,
        })
    }

    pub(super) fn parameters(&self, variant: EarsVariant) -> Vec<(&'static str, String)> {
        vec![
            ("baseline", self.baseline.to_string()),
            ("minSigma", self.min_sigma.to_string()),
            ("alpha", self.alpha_for(variant).to_string()),
        ]
    }

    fn check(&self, variant: EarsVariant) -> Result<f64, SurveillanceError> {
        if self.baseline < 3 {
            return Err(SurveillanceError::InvalidParameter {
                name: "baseline",
                reason: format!("{} is below R's minimum of 3", self.baseline),
            });
        }
        if !(self.min_sigma >= 0.0 && self.min_sigma.is_finite()) {
            return Err(SurveillanceError::InvalidParameter {
                name: "minSigma",
                reason: format!("{} is not a finite number ≥ 0", self.min_sigma),
            });
        }
        let alpha = self.alpha_for(variant);
        if !(alpha > 0.0 && alpha < 1.0) {
            return Err(SurveillanceError::InvalidParameter {
                name: "alpha",
                reason: format!("{alpha} is not inside (0, 1)"),
            });
        }
        Ok(alpha)
    }
}

/// Mean and sample sd of `values` (two passes, as R's `mean` and `sd`).
pub(super) fn mean_sd(values: &[u32]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let ss: f64 = values.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum();
    let sd = if values.len() > 1 {
        (ss / (n - 1.0)).sqrt()
    } else {
        f64::NAN
    };
    (mean, sd)
}

/// The C2 baseline of index `t`: counts t-n-2 ..= t-3.
fn c2_window(t: usize, n: usize) -> (usize, usize) {
    (t - n - 2, t - 3)
}

/// R's `pmax(0, c2 - 1)`: unlike `f64::max`, `pmax` keeps a NaN.
fn excess(c2: f64) -> f64 {
    if c2.is_nan() {
        f64::NAN
    } else {
        (c2 - 1.0).max(0.0)
    }
}

pub(super) fn evaluate(
    params: &EarsParams,
    variant: EarsVariant,
    series: &Series,
    at: Range<usize>,
) -> Result<Vec<Evaluation>, SurveillanceError> {
    let alpha = params.check(variant)?;
    let n = params.baseline;
    let z = qnorm(1.0 - alpha);
    let max_lag = match variant {
        EarsVariant::C1 => n,
        EarsVariant::C2 => n + 2,
        EarsVariant::C3 => n + 4,
    };
    if at.is_empty() {
        return Ok(Vec::new());
    }
    if at.start < max_lag {
        return Err(SurveillanceError::SeriesTooShort {
            method: match variant {
                EarsVariant::C1 => "ears_c1",
                EarsVariant::C2 => "ears_c2",
                EarsVariant::C3 => "ears_c3",
            },
            index: at.start,
            needed: max_lag,
        });
    }
    let counts = series.counts;
    let sigma = |sd: f64| sd.max(params.min_sigma);
    // R's pmax(sd, minSigma) keeps NaN only when sd is NaN, which cannot happen for n ≥ 3.
    let c2_stat = |s: usize| {
        let (from, to) = c2_window(s, n);
        let (mean, sd) = mean_sd(&counts[from..=to]);
        (f64::from(counts[s]) - mean) / sigma(sd)
    };
    let mut out = Vec::with_capacity(at.len());
    for t in at {
        let (from, to) = match variant {
            EarsVariant::C1 => (t - n, t - 1),
            EarsVariant::C2 | EarsVariant::C3 => c2_window(t, n),
        };
        let (mean, sd) = mean_sd(&counts[from..=to]);
        let observed = f64::from(counts[t]);
        let (bound, note) = match variant {
            EarsVariant::C1 | EarsVariant::C2 => (mean + z * sigma(sd), String::new()),
            EarsVariant::C3 => {
                let lag2 = excess(c2_stat(t - 2));
                let lag1 = excess(c2_stat(t - 1));
                let raw = observed + sigma(sd) * (z - (lag2 + lag1));
                (
                    if raw.is_nan() { f64::NAN } else { raw.max(0.0) },
                    format!(
                        "C3 excess of the two previous C2: {lag2:.4} + {lag1:.4} (R definition)"
                    ),
                )
            }
        };
        let threshold = bound.is_finite().then_some(bound);
        out.push(Evaluation {
            index: t,
            observed,
            threshold,
            expected: Some(mean),
            alarm: threshold.is_some_and(|b| observed > b),
            baseline: Baseline {
                from,
                to,
                n,
                mean,
                sd,
                note,
            },
        });
    }
    Ok(out)
}
