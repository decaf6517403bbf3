//! Farrington flexible (Farrington et al. 1996; Noufaily et al. 2013), exactly as R
//! `surveillance::farringtonFlexible` (version 1.20.3 read).
//!
//! For each time point k (R's conventions, followed to the letter):
//! 1. Reference points k − i·freq for i = 1…b, freq 52 for weekly and 365 for daily series,
//!    counted by index as R does for an `sts` without `epochAsDate` (so 53-week ISO years
//!    drift by a week, as in R). Blocks: the windows ±w around each reference point (and
//!    the current window) form level `noPeriods`; with noPeriods > 1 the weeks between two
//!    windows are cut into noPeriods − 1 further levels (R's `blocks`). The last
//!    `pastWeeksNotIncluded` steps and k itself are left out (default w).
//! 2. Quasi-Poisson GLM `response ~ 1 + wtime (+ seasgroups)`, wtime the 1-based index;
//!    if it does not converge, without wtime; if still not, no result (R `NA`).
//!    φ = max(dispersion, 1). With `reweight`, Anscombe residuals
//!    sᵢ = 3/2 (yᵢ^{2/3} μᵢ^{-1/6} − μᵢ^{1/2}) / √(φ(1 − hᵢ)) give weights γ·sᵢ⁻² above
//!    `weightsThreshold` and γ below (γ makes them average 1), and the model is refitted.
//! 3. The trend is kept only if b ≥ 3, its t-test p-value < `pThresholdTrend` and the
//!    prediction does not exceed the largest count used; otherwise step 2 is redone
//!    without it.
//! 4. Prediction at k with its standard error, which R computes with the dispersion of
//!    `summary(model)`, not φ: R passes `dispersion` inside `newdata`, so `predict.glm`
//!    ignores it. After reweighting that dispersion is Σ ωᵢ rᵢ²/(n − p), because R
//!    overwrote the model's working weights with ω (see `Model::summary_dispersion`);
//!    the trend test uses it too. Both reproduced on purpose.
//! 5. Upper bound: `Delta` (μ₀^e + z·se_e)^{1/e}, with τ = φ + se²/μ₀ and z = qnorm(1 − α)
//!    (one-sided, unlike the old `farrington` which uses α/2); `NbPlugin` the (1 − α)
//!    quantile of NB(size μ₀/(φ−1), prob 1/φ), Poisson when φ = 1; `Muan` the same at
//!    μ₀ = exp(η̂ + z·se_η).
//! 6. Alarm iff at least limit54.0 cases in the last limit54.1 steps, the score
//!    (y − fit)/(U − fit) > 1 and y > 0. R's score uses the *link-scale* fit for the
//!    negative-binomial methods; reproduced. When there are too few cases R gives the
//!    bound as `NA`; so does this module (`threshold: None`), but `expected` is kept.
//!
//! Not supported: R's `populationOffset` (no population denominators here) and dates as
//! epochs (`epochAsDate`), which shift reference weeks to the same weekday.

use std::ops::Range;

use super::glm::{self, GlmFit};
use super::stats::{qnbinom, qnorm, qpois, t_two_sided_p};
use super::{Baseline, Evaluation, Series, Step, SurveillanceError};

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
    /// Say in the baseline note when a GLM did not converge (R `glmWarnings`, default true;
    /// in R it only decides whether `glm`'s warnings are shown).
    pub glm_warnings: bool,
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
            glm_warnings: true,
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

fn invalid(name: &'static str, reason: impl Into<String>) -> SurveillanceError {
    SurveillanceError::InvalidParameter {
        name,
        reason: reason.into(),
    }
}

impl FarringtonParams {
    fn check(&self) -> Result<(), SurveillanceError> {
        if self.b == 0 {
            return Err(invalid("b", "at least one year back is needed"));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(invalid(
                "alpha",
                format!("{} is not inside (0, 1)", self.alpha),
            ));
        }
        if self.limit54.1 == 0 {
            return Err(invalid("limit54", "the period must be at least 1 step"));
        }
        if self.no_periods == 0 {
            return Err(invalid("noPeriods", "must be at least 1"));
        }
        if self.weights_threshold.is_nan() || self.weights_threshold <= 0.0 {
            return Err(invalid("weightsThreshold", "must be positive"));
        }
        if self.p_threshold_trend.is_nan() {
            return Err(invalid("pThresholdTrend", "is not a number"));
        }
        Ok(())
    }
}

/// The design of one time point: rows used and their seasonal level.
struct Design {
    /// Indices (0-based) of the counts used, ascending.
    rows: Vec<usize>,
    /// Seasonal level of each row (1…noPeriods); `no_periods` is the reference level.
    level: Vec<usize>,
}

/// R's `blocks` + `algo.farrington.data.glm` for index k (0-based).
fn design(params: &FarringtonParams, freq: usize, k: usize) -> Result<Design, SurveillanceError> {
    let (b, w, p) = (params.b, params.w, params.no_periods);
    let mut factor: Vec<Option<usize>> = vec![None; k + 1];
    for slot in &mut factor[k - w..=k] {
        *slot = Some(p);
    }
    for i in 1..=b {
        let ref_week = k - i * freq;
        let newer = k - (i - 1) * freq;
        for slot in &mut factor[ref_week - w..=ref_week + w] {
            *slot = Some(p);
        }
        if p != 1 {
            let period = (newer - w - 1) as i64 - (ref_week + w) as i64;
            if period < (p - 1) as i64 {
                return Err(invalid(
                    "noPeriods",
                    format!("{p} periods do not fit between reference windows of {period} steps"),
                ));
            }
            let period = period as usize;
            let (len, rest) = (period / (p - 1), period % (p - 1));
            let mut at = ref_week + w + 1;
            for j in 1..p {
                let this = len + usize::from(j <= rest);
                for slot in &mut factor[at..at + this] {
                    *slot = Some(j);
                }
                at += this;
            }
        }
    }
    let excluded = params.past_weeks_not_included.unwrap_or(w);
    for slot in &mut factor[k.saturating_sub(excluded)..=k] {
        *slot = None;
    }
    let (rows, level) = factor
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.map(|l| (i, l)))
        .unzip();
    Ok(Design { rows, level })
}

/// Columns: intercept, wtime (optional), one indicator per level above the lowest present.
struct Model {
    fit: GlmFit,
    /// The dispersion R's `summary(model)` reports, used for the trend test and the
    /// prediction's standard error. With `reweight`, R's `fitGLM.flexible` overwrites
    /// `model$weights` (the working weights) with the prior weights ω, so `summary.glm`
    /// computes Σ ωᵢ rᵢ² / (n − p) from the working residuals rᵢ = (yᵢ − μᵢ)/μᵢ instead
    /// of the Pearson statistic. Reproduced on purpose.
    summary_dispersion: f64,
    p: usize,
    trend: bool,
    phi: f64,
    n_downweighted: usize,
    levels: Vec<usize>,
}

fn model_matrix(design: &Design, trend: bool) -> (Vec<f64>, usize, Vec<usize>) {
    let mut levels: Vec<usize> = design.level.clone();
    levels.sort_unstable();
    levels.dedup();
    let extra: Vec<usize> = levels.iter().skip(1).copied().collect();
    let p = 1 + usize::from(trend) + extra.len();
    let mut x = Vec::with_capacity(design.rows.len() * p);
    for (row, level) in design.rows.iter().zip(&design.level) {
        x.push(1.0);
        if trend {
            x.push((row + 1) as f64);
        }
        for l in &extra {
            x.push(if l == level { 1.0 } else { 0.0 });
        }
    }
    (x, p, extra)
}

/// R's `algo.farrington.fitGLM.flexible`.
fn fit_flexible(
    params: &FarringtonParams,
    design: &Design,
    y: &[f64],
    trend: bool,
    notes: &mut Vec<String>,
) -> Option<Model> {
    let ones = vec![1.0; y.len()];
    let mut trend = trend;
    let (mut x, mut p, mut extra) = model_matrix(design, trend);
    let mut fit = glm::fit(&x, p, y, &ones).filter(|f| f.converged);
    if fit.is_none() && trend {
        if params.glm_warnings {
            notes.push("no convergence with trend, refitted without".into());
        }
        trend = false;
        (x, p, extra) = model_matrix(design, trend);
        fit = glm::fit(&x, p, y, &ones).filter(|f| f.converged);
    }
    let mut fit = fit?;
    let mut phi = fit.dispersion.max(1.0);
    let mut summary_dispersion = fit.dispersion;
    let mut n_downweighted = 0;
    if params.reweight {
        let s: Vec<f64> = y
            .iter()
            .zip(&fit.mu)
            .zip(&fit.hat)
            .map(|((&y, &mu), &h)| {
                1.5 * (y.powf(2.0 / 3.0) * mu.powf(-1.0 / 6.0) - mu.sqrt())
                    / (phi * (1.0 - h)).sqrt()
            })
            .collect();
        let thr = params.weights_threshold;
        let denom: f64 = s
            .iter()
            .map(|&v| if v > thr { v.powi(-2) } else { 1.0 })
            .sum();
        let gamma = s.len() as f64 / denom;
        let omega: Vec<f64> = s
            .iter()
            .map(|&v| if v > thr { gamma * v.powi(-2) } else { gamma })
            .collect();
        n_downweighted = s.iter().filter(|&&v| v > thr).count();
        // R does not check convergence of the reweighted fit; neither do we, beyond a note.
        fit = glm::fit(&x, p, y, &omega)?;
        if !fit.converged && params.glm_warnings {
            notes.push("reweighted fit did not converge".into());
        }
        phi = fit.dispersion.max(1.0);
        let df_residual = y.len() - p;
        summary_dispersion = if df_residual > 0 {
            y.iter()
                .zip(&fit.mu)
                .zip(&omega)
                .map(|((&y, &mu), &w)| w * ((y - mu) / mu).powi(2))
                .sum::<f64>()
                / df_residual as f64
        } else {
            f64::NAN
        };
    }
    Some(Model {
        fit,
        summary_dispersion,
        p,
        trend,
        phi,
        n_downweighted,
        levels: extra,
    })
}

/// Linear predictor and its standard error at index k for the reference level.
fn predict(model: &Model, k: usize, no_periods: usize) -> (f64, f64) {
    let mut x0 = Vec::with_capacity(model.p);
    x0.push(1.0);
    if model.trend {
        x0.push((k + 1) as f64);
    }
    for &l in &model.levels {
        x0.push(if l == no_periods { 1.0 } else { 0.0 });
    }
    let eta: f64 = x0.iter().zip(&model.fit.coef).map(|(a, b)| a * b).sum();
    let p = model.p;
    let mut q = 0.0;
    for i in 0..p {
        for j in 0..p {
            q += x0[i] * model.fit.cov_unscaled[i * p + j] * x0[j];
        }
    }
    (eta, (q * model.summary_dispersion).sqrt())
}

pub(super) fn evaluate(
    params: &FarringtonParams,
    series: &Series,
    at: Range<usize>,
) -> Result<Vec<Evaluation>, SurveillanceError> {
    params.check()?;
    let freq = match series.step {
        Step::Week => 52,
        Step::Day => 365,
    };
    let needed = freq * params.b + params.w;
    if at.is_empty() {
        return Ok(Vec::new());
    }
    if at.start < needed {
        return Err(SurveillanceError::SeriesTooShort {
            method: "farrington",
            index: at.start,
            needed,
        });
    }
    let z = qnorm(1.0 - params.alpha);
    let counts = series.counts;
    let mut out = Vec::with_capacity(at.len());
    for k in at {
        let design = design(params, freq, k)?;
        let y: Vec<f64> = design.rows.iter().map(|&i| f64::from(counts[i])).collect();
        let observed = f64::from(counts[k]);
        let mut notes = Vec::new();
        let mut model = fit_flexible(params, &design, &y, params.trend, &mut notes);
        let mut trend_note = String::from("no trend");
        if let Some(m) = model.as_ref().filter(|m| m.trend) {
            let (eta, _) = predict(m, k, params.no_periods);
            let fit_response = eta.exp().max(f64::EPSILON);
            let se_trend = (m.fit.cov_unscaled[p_index(m.p, 1)] * m.summary_dispersion).sqrt();
            let p_value = t_two_sided_p(m.fit.coef[1] / se_trend, (y.len() - m.p) as f64);
            let significant = p_value < params.p_threshold_trend;
            let max_y = y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let keep = params.b >= 3 && significant && fit_response <= max_y;
            if keep {
                trend_note = format!("trend kept (p = {p_value:.4})");
            } else {
                trend_note = format!("trend dropped (p = {p_value:.4})");
                model = fit_flexible(params, &design, &y, false, &mut notes);
            }
        }
        let (from, to) = (
            design.rows.first().copied().unwrap_or(k),
            design.rows.last().copied().unwrap_or(k),
        );
        let n = y.len();
        let mean = y.iter().sum::<f64>() / n.max(1) as f64;
        let sd = if n > 1 {
            (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            f64::NAN
        };
        let mut baseline = Baseline {
            from,
            to,
            n,
            mean,
            sd,
            note: String::new(),
        };
        let Some(model) = model else {
            notes.push("GLM did not converge with or without trend: no result (R gives NA)".into());
            baseline.note = notes.join("; ");
            out.push(Evaluation {
                index: k,
                observed,
                threshold: None,
                expected: None,
                alarm: false,
                baseline,
            });
            continue;
        };
        let (eta, se_eta) = predict(&model, k, params.no_periods);
        let phi = model.phi;
        let (upper, pred_fit, expected) = match params.threshold_method {
            ThresholdMethod::Delta => {
                let mu0 = eta.exp().max(f64::EPSILON);
                let se_fit = se_eta * mu0;
                let tau = phi + se_fit * se_fit / mu0;
                let (se, e) = match params.powertrans {
                    PowerTransform::None => ((mu0 * tau).sqrt(), 1.0),
                    PowerTransform::Half => ((0.25 * tau).sqrt(), 0.5),
                    PowerTransform::TwoThirds => {
                        ((4.0 / 9.0 * mu0.powf(1.0 / 3.0) * tau).sqrt(), 2.0 / 3.0)
                    }
                };
                ((mu0.powf(e) + z * se).powf(1.0 / e), mu0, mu0)
            }
            ThresholdMethod::NbPlugin | ThresholdMethod::Muan => {
                let mu_q = if params.threshold_method == ThresholdMethod::NbPlugin {
                    eta.exp()
                } else {
                    (eta + z * se_eta).exp()
                };
                let upper = if mu_q.is_infinite() {
                    f64::NAN
                } else if phi > 1.0 {
                    qnbinom(1.0 - params.alpha, mu_q / (phi - 1.0), 1.0 / phi)
                } else {
                    qpois(1.0 - params.alpha, mu_q)
                };
                (upper, eta, eta.exp())
            }
        };
        let window_start = (k + 1).saturating_sub(params.limit54.1);
        let recent: u64 = counts[window_start..=k].iter().map(|&c| u64::from(c)).sum();
        let enough = recent >= u64::from(params.limit54.0);
        let score = (observed - pred_fit) / (upper - pred_fit);
        let alarm = enough && !score.is_nan() && score > 1.0 && observed != 0.0;
        let threshold = (enough && !upper.is_nan()).then_some(upper);
        notes.insert(0, trend_note);
        notes.push(format!("phi = {phi:.4}"));
        if params.reweight {
            notes.push(format!(
                "{} reference values down-weighted",
                model.n_downweighted
            ));
        }
        if !enough {
            notes.push(format!(
                "fewer than {} cases in the last {} steps: no alarm (limit54)",
                params.limit54.0, params.limit54.1
            ));
        }
        baseline.note = notes.join("; ");
        out.push(Evaluation {
            index: k,
            observed,
            threshold,
            expected: expected.is_finite().then_some(expected),
            alarm,
            baseline,
        });
    }
    Ok(out)
}

/// Index of the diagonal element (i, i) in a p × p row-major matrix.
fn p_index(p: usize, i: usize) -> usize {
    i * p + i
}
