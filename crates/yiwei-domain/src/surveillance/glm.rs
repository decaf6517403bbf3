//! Quasi-Poisson GLM with log link, fitted by iteratively reweighted least squares the way
//! R's `glm.fit` does it, so that Farrington results agree with R's to rounding:
//! start at μ = y + 0.1, at most 25 iterations, stop when
//! |dev − dev_old| / (|dev| + 0.1) < 1e-8, each weighted least-squares step solved by a
//! Householder QR. As in R, the working weights and the QR kept with the fit are those of
//! the last iteration (computed from the μ before the final update), and the dispersion is
//! Σ wᵢ rᵢ² / (n − p) with working residuals rᵢ = (yᵢ − μᵢ)/μᵢ at the final μ.
//!
//! Not done: R's step halving when the deviance becomes infinite, and pivoting of
//! collinear columns; both end the fit as "not converged" here (R would give `NA` or a
//! rank-deficient fit). They do not occur for the Farrington designs on count data.

/// A fitted model.
#[derive(Clone, Debug, Default)]
pub(super) struct GlmFit {
    pub coef: Vec<f64>,
    /// Fitted means at the final coefficients.
    pub mu: Vec<f64>,
    /// Unscaled covariance (X'WX)⁻¹, p × p row-major.
    pub cov_unscaled: Vec<f64>,
    /// Leverages (R `hatvalues`).
    pub hat: Vec<f64>,
    /// Pearson dispersion estimate (R `summary(model)$dispersion`); NaN when n = p.
    pub dispersion: f64,
    pub converged: bool,
}

/// Working buffers of [`fit_into`], kept between fits so that a caller fitting many small
/// models (Farrington: several per time point) does not allocate for each.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    eta: Vec<f64>,
    /// Weighted design, column-major (column j at `j * n..(j + 1) * n`), so the
    /// Householder sweeps run over contiguous memory.
    a: Vec<f64>,
    rhs: Vec<f64>,
    r_mat: Vec<f64>,
    r_inv: Vec<f64>,
    w: Vec<f64>,
}

const EPS: f64 = f64::EPSILON;

fn dev_resid_sum(y: &[f64], mu: &[f64], prior: &[f64]) -> f64 {
    y.iter()
        .zip(mu)
        .zip(prior)
        .map(|((&y, &m), &w)| {
            let ylogy = if y > 0.0 { y * (y / m).ln() } else { 0.0 };
            2.0 * w * (ylogy - (y - m))
        })
        .sum()
}

/// Resize `v` to `len` without caring about its contents.
fn sized(v: &mut Vec<f64>, len: usize) -> &mut [f64] {
    v.resize(len, 0.0);
    &mut v[..len]
}

/// Fit. `x` is n × p row-major; `prior` are prior weights (R `weights`).
#[cfg(test)]
pub(super) fn fit(x: &[f64], p: usize, y: &[f64], prior: &[f64]) -> Option<GlmFit> {
    let mut out = GlmFit::default();
    fit_into(&mut Scratch::default(), &mut out, x, p, y, prior).then_some(out)
}

/// [`fit`] into `out`, reusing `scratch`; false where `fit` gives `None` (`out` is then
/// unspecified).
pub(super) fn fit_into(
    scratch: &mut Scratch,
    out: &mut GlmFit,
    x: &[f64],
    p: usize,
    y: &[f64],
    prior: &[f64],
) -> bool {
    let n = y.len();
    if n == 0 || p == 0 || x.len() != n * p || n < p {
        return false;
    }
    out.mu.clear();
    out.mu.extend(y.iter().map(|&v| v + 0.1));
    let mu = &mut out.mu[..];
    let eta = sized(&mut scratch.eta, n);
    for (e, m) in eta.iter_mut().zip(mu.iter()) {
        *e = m.ln();
    }
    let mut dev_old = dev_resid_sum(y, mu, prior);
    let coef = sized(&mut out.coef, p);
    coef.fill(0.0);
    let a = sized(&mut scratch.a, n * p);
    let rhs = sized(&mut scratch.rhs, n);
    let r_mat = sized(&mut scratch.r_mat, p * p);
    let w = sized(&mut scratch.w, n);
    let mut converged = false;
    for iter in 0..25 {
        for i in 0..n {
            // μ = max(exp η, ε) = mu.eta(η) for the log link once μ comes from η; only the
            // start μ = y + 0.1 differs (by rounding) from exp(ln μ).
            let mu_eta = if iter == 0 {
                eta[i].exp().max(EPS)
            } else {
                mu[i]
            };
            let z = eta[i] + (y[i] - mu[i]) / mu_eta;
            w[i] = (prior[i] * mu_eta * mu_eta / mu[i]).sqrt();
            let xi = &x[i * p..(i + 1) * p];
            for j in 0..p {
                a[j * n + i] = xi[j] * w[i];
            }
            rhs[i] = z * w[i];
        }
        if !least_squares(a, n, p, rhs, r_mat, coef) {
            return false;
        }
        for i in 0..n {
            let xi = &x[i * p..(i + 1) * p];
            eta[i] = (0..p).map(|j| xi[j] * coef[j]).sum();
            mu[i] = eta[i].exp().max(EPS);
        }
        let dev = dev_resid_sum(y, mu, prior);
        if !dev.is_finite() {
            return false;
        }
        if (dev - dev_old).abs() / (dev.abs() + 0.1) < 1e-8 {
            converged = true;
            break;
        }
        dev_old = dev;
    }
    // (R'R)⁻¹ from the last QR.
    let r_inv = sized(&mut scratch.r_inv, p * p);
    if !upper_inverse(r_mat, p, r_inv) {
        return false;
    }
    let cov_unscaled = sized(&mut out.cov_unscaled, p * p);
    for i in 0..p {
        for j in 0..p {
            cov_unscaled[i * p + j] = (i.max(j)..p)
                .map(|k| r_inv[i * p + k] * r_inv[j * p + k])
                .sum();
        }
    }
    let hat = sized(&mut out.hat, n);
    let mut dispersion_sum = 0.0;
    for i in 0..n {
        // Leverage of the weighted row: w_i² x_i' (R'R)⁻¹ x_i.
        let xi = &x[i * p..(i + 1) * p];
        let mut q = 0.0;
        for j in 0..p {
            for k in 0..p {
                q += xi[j] * cov_unscaled[j * p + k] * xi[k];
            }
        }
        let h = w[i] * w[i] * q;
        // lm.influence sets leverages within 10ε of 1 to exactly 1.
        hat[i] = if h >= 1.0 - 10.0 * EPS { 1.0 } else { h };
        // mu.eta(η) at the final η, which is μ (see above).
        let mu_eta = mu[i];
        let resid = (y[i] - mu[i]) / mu_eta;
        dispersion_sum += w[i] * w[i] * resid * resid;
    }
    let df_residual = n - p;
    out.dispersion = if df_residual > 0 {
        dispersion_sum / df_residual as f64
    } else {
        f64::NAN
    };
    out.converged = converged;
    true
}

/// Solve min ‖a·b − rhs‖ by Householder QR; `a` (n × p column-major) and `rhs` are
/// overwritten, R (row-major) is written to `r_mat`. False when a column is (numerically)
/// dependent.
fn least_squares(
    a: &mut [f64],
    n: usize,
    p: usize,
    rhs: &mut [f64],
    r_mat: &mut [f64],
    coef: &mut [f64],
) -> bool {
    for j in 0..p {
        let (done, rest) = a.split_at_mut((j + 1) * n);
        let col = &mut done[j * n..];
        let col_norm_before: f64 = col.iter().map(|v| v.powi(2)).sum::<f64>().sqrt();
        let norm: f64 = col[j..].iter().map(|v| v.powi(2)).sum::<f64>().sqrt();
        if norm.is_nan() || norm <= 1e-7 * col_norm_before || !norm.is_finite() {
            return false;
        }
        let alpha = if col[j] > 0.0 { -norm } else { norm };
        // v = a[j.., j] − alpha·e_1, stored in place.
        col[j] -= alpha;
        let v = &col[j..];
        let v_norm2: f64 = v.iter().map(|v| v.powi(2)).sum();
        // The later columns four at a time: each dot product is still summed in row order
        // (as `Iterator::sum`, from −0.0), so the result is the same to the bit, but four
        // independent sums keep the FPU busy where one would wait on each addition.
        for group in rest.chunks_mut(4 * n) {
            let mut dots = [-0.0f64; 4];
            let cols = group.len() / n;
            for (i, &vi) in v.iter().enumerate() {
                for (c, dot) in dots.iter_mut().enumerate().take(cols) {
                    *dot += vi * group[c * n + j + i];
                }
            }
            for (other, dot) in group.chunks_exact_mut(n).zip(dots) {
                let f = 2.0 * dot / v_norm2;
                for (o, v) in other[j..].iter_mut().zip(v) {
                    *o -= f * v;
                }
            }
        }
        let r = &mut rhs[j..];
        let dot: f64 = v.iter().zip(r.iter()).map(|(a, b)| a * b).sum();
        let f = 2.0 * dot / v_norm2;
        for (o, v) in r.iter_mut().zip(v) {
            *o -= f * v;
        }
        for k in 0..p {
            r_mat[j * p + k] = if k < j {
                0.0
            } else if k == j {
                alpha
            } else {
                a[k * n + j]
            };
        }
    }
    for j in (0..p).rev() {
        let s: f64 = ((j + 1)..p).map(|k| r_mat[j * p + k] * coef[k]).sum();
        coef[j] = (rhs[j] - s) / r_mat[j * p + j];
    }
    coef.iter().all(|c| c.is_finite())
}

/// Inverse of an upper triangular p × p matrix (row-major) into `inv`; false when singular.
fn upper_inverse(r: &[f64], p: usize, inv: &mut [f64]) -> bool {
    inv.fill(0.0);
    for j in 0..p {
        if r[j * p + j] == 0.0 {
            return false;
        }
        inv[j * p + j] = 1.0 / r[j * p + j];
        for i in (0..j).rev() {
            let s: f64 = ((i + 1)..=j).map(|k| r[i * p + k] * inv[k * p + j]).sum();
            inv[i * p + j] = -s / r[i * p + i];
        }
    }
    true
}

#[cfg(test)]
#[expect(
    clippy::excessive_precision,
    reason = "reference values as R prints them, 17 digits"
)]
mod tests {
    use super::*;

    // R: y <- c(2,3,6,7,8,9,10,12,15); t <- 1:9
    //    m <- glm(y ~ t, family = quasipoisson); coef(m); summary(m)$dispersion; hatvalues(m)
    #[test]
    fn quasi_poisson_fit_matches_r() {
        let y = [2.0, 3.0, 6.0, 7.0, 8.0, 9.0, 10.0, 12.0, 15.0];
        let x: Vec<f64> = (1..=9).flat_map(|t| [1.0, f64::from(t)]).collect();
        let fit = fit(&x, 2, &y, &[1.0; 9]).expect("fits");
        assert!(fit.converged);
        let close = |g: f64, w: f64| assert!((g - w).abs() < 1e-7 * w.abs(), "{g} vs {w}");
        close(fit.coef[0], R_COEF[0]);
        close(fit.coef[1], R_COEF[1]);
        close(fit.dispersion, R_DISP);
        close(fit.hat[0], R_HAT1);
    }
    const R_COEF: [f64; 2] = [0.98184503170316106, 0.19483767838527774];
    const R_DISP: f64 = 0.20793777128451871;
    const R_HAT1: f64 = 0.26010583380306662;
}
