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
#[derive(Clone, Debug)]
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

/// Fit. `x` is n × p row-major; `prior` are prior weights (R `weights`).
pub(super) fn fit(x: &[f64], p: usize, y: &[f64], prior: &[f64]) -> Option<GlmFit> {
    let n = y.len();
    if n == 0 || p == 0 || x.len() != n * p || n < p {
        return None;
    }
    let mut mu: Vec<f64> = y.iter().map(|&v| v + 0.1).collect();
    let mut eta: Vec<f64> = mu.iter().map(|m| m.ln()).collect();
    let mut dev_old = dev_resid_sum(y, &mu, prior);
    let mut coef = vec![0.0; p];
    let mut a = vec![0.0; n * p];
    let mut rhs = vec![0.0; n];
    let mut r_mat = vec![0.0; p * p];
    let mut w = vec![0.0; n];
    let mut converged = false;
    for _ in 0..25 {
        for i in 0..n {
            let mu_eta = eta[i].exp().max(EPS);
            let z = eta[i] + (y[i] - mu[i]) / mu_eta;
            w[i] = (prior[i] * mu_eta * mu_eta / mu[i]).sqrt();
            for j in 0..p {
                a[i * p + j] = x[i * p + j] * w[i];
            }
            rhs[i] = z * w[i];
        }
        if !least_squares(&mut a, n, p, &mut rhs, &mut r_mat, &mut coef) {
            return None;
        }
        for i in 0..n {
            eta[i] = (0..p).map(|j| x[i * p + j] * coef[j]).sum();
            mu[i] = eta[i].exp().max(EPS);
        }
        let dev = dev_resid_sum(y, &mu, prior);
        if !dev.is_finite() {
            return None;
        }
        if (dev - dev_old).abs() / (dev.abs() + 0.1) < 1e-8 {
            converged = true;
            break;
        }
        dev_old = dev;
    }
    // (R'R)⁻¹ from the last QR.
    let r_inv = upper_inverse(&r_mat, p)?;
    let mut cov_unscaled = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..p {
            cov_unscaled[i * p + j] = (i.max(j)..p)
                .map(|k| r_inv[i * p + k] * r_inv[j * p + k])
                .sum();
        }
    }
    let mut hat = vec![0.0; n];
    let mut dispersion_sum = 0.0;
    for i in 0..n {
        // Leverage of the weighted row: w_i² x_i' (R'R)⁻¹ x_i.
        let mut q = 0.0;
        for j in 0..p {
            for k in 0..p {
                q += x[i * p + j] * cov_unscaled[j * p + k] * x[i * p + k];
            }
        }
        let h = w[i] * w[i] * q;
        // lm.influence sets leverages within 10ε of 1 to exactly 1.
        hat[i] = if h >= 1.0 - 10.0 * EPS { 1.0 } else { h };
        let mu_eta = eta[i].exp().max(EPS);
        let resid = (y[i] - mu[i]) / mu_eta;
        dispersion_sum += w[i] * w[i] * resid * resid;
    }
    let df_residual = n - p;
    let dispersion = if df_residual > 0 {
        dispersion_sum / df_residual as f64
    } else {
        f64::NAN
    };
    Some(GlmFit {
        coef,
        mu,
        cov_unscaled,
        hat,
        dispersion,
        converged,
    })
}

/// Solve min ‖a·b − rhs‖ by Householder QR; `a` (n × p row-major) and `rhs` are
/// overwritten, R is written to `r_mat`. False when a column is (numerically) dependent.
fn least_squares(
    a: &mut [f64],
    n: usize,
    p: usize,
    rhs: &mut [f64],
    r_mat: &mut [f64],
    coef: &mut [f64],
) -> bool {
    for j in 0..p {
        let col_norm_before: f64 = (0..n).map(|i| a[i * p + j].powi(2)).sum::<f64>().sqrt();
        let norm: f64 = (j..n).map(|i| a[i * p + j].powi(2)).sum::<f64>().sqrt();
        if norm.is_nan() || norm <= 1e-7 * col_norm_before || !norm.is_finite() {
            return false;
        }
        let alpha = if a[j * p + j] > 0.0 { -norm } else { norm };
        // v = a[j.., j] − alpha·e_1, stored in place.
        a[j * p + j] -= alpha;
        let v_norm2: f64 = (j..n).map(|i| a[i * p + j].powi(2)).sum();
        for k in (j + 1)..p {
            let dot: f64 = (j..n).map(|i| a[i * p + j] * a[i * p + k]).sum();
            let f = 2.0 * dot / v_norm2;
            for i in j..n {
                a[i * p + k] -= f * a[i * p + j];
            }
        }
        let dot: f64 = (j..n).map(|i| a[i * p + j] * rhs[i]).sum();
        let f = 2.0 * dot / v_norm2;
        for i in j..n {
            rhs[i] -= f * a[i * p + j];
        }
        for k in 0..p {
            r_mat[j * p + k] = if k < j {
                0.0
            } else if k == j {
                alpha
            } else {
                a[j * p + k]
            };
        }
    }
    for j in (0..p).rev() {
        let s: f64 = ((j + 1)..p).map(|k| r_mat[j * p + k] * coef[k]).sum();
        coef[j] = (rhs[j] - s) / r_mat[j * p + j];
    }
    coef.iter().all(|c| c.is_finite())
}

/// Inverse of an upper triangular p × p matrix (row-major).
fn upper_inverse(r: &[f64], p: usize) -> Option<Vec<f64>> {
    let mut inv = vec![0.0; p * p];
    for j in 0..p {
        if r[j * p + j] == 0.0 {
            return None;
        }
        inv[j * p + j] = 1.0 / r[j * p + j];
        for i in (0..j).rev() {
            let s: f64 = ((i + 1)..=j).map(|k| r[i * p + k] * inv[k * p + j]).sum();
            inv[i * p + j] = -s / r[i * p + i];
        }
    }
    Some(inv)
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
