//! Distribution functions the warning methods need, written here to keep the domain crate
//! free of numeric dependencies. Each is checked against R's values in the tests.

/// Quantile of the standard normal distribution, Wichura's AS 241 (PPND16), accurate to
/// about 1e-16 — the algorithm R's `qnorm` uses.
#[expect(
    clippy::excessive_precision,
    reason = "AS 241 coefficients are kept as published"
)]
pub fn qnorm(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q
            * (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r
                + 67265.770927008700853)
                * r
                + 45921.953931549871457)
                * r
                + 13731.693765509461125)
                * r
                + 1971.5909503065514427)
                * r
                + 133.14166789178437745)
                * r
                + 3.387132872796366608)
            / (((((((r * 5226.495278852545925 + 28729.085735721942674) * r
                + 39307.89580009271061)
                * r
                + 21213.794301586595867)
                * r
                + 5394.1960214247511077)
                * r
                + 687.1870074920579083)
                * r
                + 42.313330701600911252)
                * r
                + 1.0);
    }
    let mut r = if q < 0.0 { p } else { 1.0 - p };
    r = (-r.ln()).sqrt();
    let val = if r <= 5.0 {
        r -= 1.6;
        (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r
            + 0.24178072517745061177)
            * r
            + 1.27045825245236838258)
            * r
            + 3.64784832476320460504)
            * r
            + 5.7694972214606914055)
            * r
            + 4.6303378461565452959)
            * r
            + 1.42343711074968357734)
            / (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r
                + 0.0151986665636164571966)
                * r
                + 0.14810397642748007459)
                * r
                + 0.68976733498510000455)
                * r
                + 1.6763848301838038494)
                * r
                + 2.05319162663775882187)
                * r
                + 1.0)
    } else {
        r -= 5.0;
        (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r
            + 0.0012426609473880784386)
            * r
            + 0.026532189526576123093)
            * r
            + 0.29656057182850489123)
            * r
            + 1.7848265399172913358)
            * r
            + 5.4637849111641143699)
            * r
            + 6.6579046435011037772)
            / (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r
                + 1.8463183175100546818e-5)
                * r
                + 7.868691311456132591e-4)
                * r
                + 0.0148753612908506148525)
                * r
                + 0.13692988092273580531)
                * r
                + 0.59983220655588793769)
                * r
                + 1.0)
    };
    if q < 0.0 { -val } else { val }
}

/// Natural log of the gamma function for x > 0 (Lanczos, g = 7, 9 terms; relative error
/// about 1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEF: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1-x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = COEF[0];
    let t = x + G + 0.5;
    for (i, c) in COEF.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Continued fraction of the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..100_000 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// Regularized incomplete beta function I_x(a, b), a, b > 0.
pub fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x.is_nan() || a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_cf(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_cf(b, a, 1.0 - x) / b
    }
}

/// Regularized lower incomplete gamma P(a, x).
pub fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x < a + 1.0 {
        gamma_series(a, x)
    } else {
        1.0 - gamma_cf(a, x)
    }
}

/// Regularized upper incomplete gamma Q(a, x) = 1 − P(a, x), computed without cancellation.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x < a + 1.0 {
        1.0 - gamma_series(a, x)
    } else {
        gamma_cf(a, x)
    }
}

fn gamma_series(a: f64, x: f64) -> f64 {
    let mut ap = a;
    let mut sum = 1.0 / a;
    let mut del = sum;
    for _ in 0..100_000 {
        ap += 1.0;
        del *= x / ap;
        sum += del;
        if del.abs() < sum.abs() * 1e-17 {
            break;
        }
    }
    sum * (-x + a * x.ln() - ln_gamma(a)).exp()
}

fn gamma_cf(a: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..100_000 {
        let an = -f64::from(i) * (f64::from(i) - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x + a * x.ln() - ln_gamma(a)).exp() * h
}

/// Two-sided p-value of Student's t statistic with `df` degrees of freedom,
/// `2 * pt(-|t|, df)` in R.
pub fn t_two_sided_p(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return 0.0;
    }
    beta_inc(df / 2.0, 0.5, df / (df + t * t))
}

/// Upper-tail p-value of the F distribution, `pf(f, d1, d2, lower.tail = FALSE)`.
pub fn f_upper_p(f: f64, d1: f64, d2: f64) -> f64 {
    if f.is_nan() || d1 <= 0.0 || d2 <= 0.0 {
        return f64::NAN;
    }
    if f <= 0.0 {
        return 1.0;
    }
    beta_inc(d2 / 2.0, d1 / 2.0, d2 / (d2 + d1 * f))
}

/// Poisson distribution function P(X ≤ x), `ppois(x, lambda)`.
pub fn ppois(x: f64, lambda: f64) -> f64 {
    if x < 0.0 {
        return 0.0;
    }
    if lambda == 0.0 {
        return 1.0;
    }
    gamma_q(x.floor() + 1.0, lambda)
}

/// Negative binomial distribution function P(X ≤ x), `pnbinom(x, size, prob)`.
pub fn pnbinom(x: f64, size: f64, prob: f64) -> f64 {
    if x < 0.0 {
        return 0.0;
    }
    if size == 0.0 || prob == 1.0 {
        return 1.0;
    }
    beta_inc(size, x.floor() + 1.0, prob)
}

/// Smallest integer y ≥ 0 with `cdf(y) ≥ p`, searched from a normal guess, with R's
/// left-continuity fuzz `p · (1 − 64ε)` (`qpois`, `qnbinom` in R's nmath).
fn discrete_quantile(p: f64, mean: f64, sd: f64, gamma: f64, cdf: impl Fn(f64) -> f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) || mean.is_nan() || sd.is_nan() {
        return f64::NAN;
    }
    if p == 0.0 || mean == 0.0 {
        return 0.0;
    }
    if p >= 1.0 - 2.0 * f64::EPSILON {
        return f64::INFINITY;
    }
    let z = qnorm(p);
    let mut y = (mean + sd * (z + gamma * (z * z - 1.0) / 6.0))
        .round()
        .max(0.0);
    let target = p * (1.0 - 64.0 * f64::EPSILON);
    if cdf(y) >= target {
        while y > 0.0 && cdf(y - 1.0) >= target {
            y -= 1.0;
        }
    } else {
        loop {
            y += 1.0;
            if cdf(y) >= target {
                break;
            }
        }
    }
    y
}

/// Poisson quantile, `qpois(p, lambda)`.
pub fn qpois(p: f64, lambda: f64) -> f64 {
    if lambda.is_nan() || lambda < 0.0 || lambda.is_infinite() {
        return f64::NAN;
    }
    let sd = lambda.sqrt();
    discrete_quantile(p, lambda, sd, 1.0 / sd, |y| ppois(y, lambda))
}

/// Negative binomial quantile, `qnbinom(p, size, prob)` (mean size·(1−prob)/prob).
pub fn qnbinom(p: f64, size: f64, prob: f64) -> f64 {
    if !(prob > 0.0 && prob <= 1.0) || size.is_nan() || size < 0.0 || size.is_infinite() {
        return f64::NAN;
    }
    if prob == 1.0 || size == 0.0 {
        return 0.0;
    }
    let q = 1.0 - prob;
    let mean = size * q / prob;
    let sd = (size * q).sqrt() / prob;
    let gamma = (2.0 - prob) / (size * q).sqrt();
    discrete_quantile(p, mean, sd, gamma, |y| pnbinom(y, size, prob))
}

#[cfg(test)]
#[expect(
    clippy::excessive_precision,
    reason = "reference values as R prints them, 17 digits"
)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) {
        assert!(
            (got - want).abs() <= rel * want.abs().max(1e-300),
            "got {got:e}, want {want:e}"
        );
    }

    // Reference values from R 4.2.2 (`sprintf("%.17g", …)`).
    #[test]
    fn qnorm_matches_r() {
        close(qnorm(0.999), 3.0902323061678132, 1e-15);
        close(qnorm(0.975), 1.959963984540054, 1e-15);
        close(qnorm(0.95), 1.6448536269514722, 1e-15);
        close(qnorm(1e-10), -6.3613409024040557, 1e-14);
        close(qnorm(0.3), -0.52440051270804067, 1e-15);
        assert_eq!(qnorm(0.5), 0.0);
        assert!(qnorm(1.5).is_nan());
        assert_eq!(qnorm(0.0), f64::NEG_INFINITY);
    }

    #[test]
    fn ln_gamma_matches_known_values() {
        close(ln_gamma(1.0).exp(), 1.0, 1e-14);
        close(ln_gamma(5.0), 24f64.ln(), 1e-14);
        close(ln_gamma(0.5), std::f64::consts::PI.sqrt().ln(), 1e-14);
        close(ln_gamma(100.5), 361.43554046777757, 1e-14);
    }

    #[test]
    fn t_and_f_p_values_match_r() {
        // 2*pt(-2.1, 30); 2*pt(-0.5, 5); pf(4, 2, 20, lower.tail=FALSE)
        close(t_two_sided_p(2.1, 30.0), 0.044242471262323529, 1e-12);
        close(t_two_sided_p(-0.5, 5.0), 0.63829887164092902, 1e-12);
        close(f_upper_p(4.0, 2.0, 20.0), 0.034571613033607791, 1e-12);
    }

    #[test]
    fn discrete_quantiles_match_r() {
        // qpois(0.95, 3.2) = 6; qpois(0.05, 3.2) = 1; qpois(0.95, 250) = 276
        assert_eq!(qpois(0.95, 3.2), 6.0);
        assert_eq!(qpois(0.05, 3.2), 1.0);
        assert_eq!(qpois(0.95, 250.0), 276.0);
        assert_eq!(qpois(0.95, 0.0), 0.0);
        // qnbinom(0.95, size=2.5, prob=0.4) = 10; qnbinom(0.95, 1000/0.5, 1/1.5) = 1064
        assert_eq!(qnbinom(0.95, 2.5, 0.4), 10.0);
        assert_eq!(qnbinom(0.95, 2000.0, 1.0 / 1.5), 1064.0);
        close(ppois(4.0, 3.2), 0.78061251106730434, 1e-12);
        close(pnbinom(3.0, 2.5, 0.4), 0.55580192155119446, 1e-12);
    }
}
