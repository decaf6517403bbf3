//! Golden tests: EARS C1–C3 and Farrington flexible against R's `surveillance` package.
//!
//! The fixtures in `tests/fixtures/surveillance/` were written by
//! `bench/warnings_vs_r.sh --fixtures` (R 4.2, surveillance 1.20.3): two data sets the
//! package ships (`salmonella.agona`, `shadar`) and a hand-made series with flat stretches
//! and an outbreak at the end. R is not needed to run these tests.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use yiwei_domain::surveillance::{
    EarsParams, FarringtonParams, Method, PowerTransform, Series, Step, ThresholdMethod, evaluate,
};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/surveillance");

fn read_counts(file: &str) -> BTreeMap<String, Vec<u32>> {
    let text = std::fs::read_to_string(format!("{DIR}/{file}")).expect("fixture counts");
    let mut out: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let (name, count) = line.rsplit_once(',').expect("series,count");
        out.entry(name.to_string())
            .or_default()
            .push(count.parse().expect("count"));
    }
    out
}

/// (series, index) → (upper bound or NA, alarm); R's alarm NA counts as no alarm.
fn read_r(file: &str) -> BTreeMap<(String, usize), (Option<f64>, bool)> {
    let text = std::fs::read_to_string(format!("{DIR}/{file}")).expect("fixture results");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let upper = (f[3] != "NA").then(|| f[3].parse().expect("upperbound"));
            (
                (f[0].to_string(), f[1].parse().expect("index")),
                (upper, f[4] == "TRUE"),
            )
        })
        .collect()
}

fn check_against_r(method: &Method, counts_file: &str, r_file: &str) {
    let counts = read_counts(counts_file);
    let r = read_r(r_file);
    let start = NaiveDate::from_ymd_opt(2001, 1, 1).expect("date");
    let mut n_checked = 0;
    for (name, counts) in &counts {
        let series = Series {
            counts,
            step: Step::Week,
            start,
        };
        let first = method.first_index(&series);
        let evals = evaluate(method, &series, first..counts.len()).expect("evaluates");
        for e in evals {
            let (r_upper, r_alarm) = r
                .get(&(name.clone(), e.index))
                .unwrap_or_else(|| panic!("R has no result for {name} at {}", e.index));
            match (r_upper, e.threshold) {
                (None, None) => {}
                (Some(a), Some(b)) => {
                    let rel = (a - b).abs() / a.abs().max(b.abs()).max(f64::MIN_POSITIVE);
                    assert!(rel <= 1e-6, "{r_file} {name}[{}]: R {a}, ours {b}", e.index);
                }
                (a, b) => panic!("{r_file} {name}[{}]: R {a:?}, ours {b:?}", e.index),
            }
            assert_eq!(*r_alarm, e.alarm, "{r_file} {name}[{}] alarm", e.index);
            n_checked += 1;
        }
    }
    assert_eq!(n_checked, r.len(), "{r_file}: every R point is compared");
}

// In a module so that `cargo test -p yiwei-domain surveillance` selects them.
mod surveillance {
    use super::*;

    #[test]
    fn ears_c1_agrees_with_r() {
        check_against_r(
            &Method::EarsC1(EarsParams::default()),
            "counts_ears.csv",
            "r_ears_c1.csv",
        );
    }

    #[test]
    fn ears_c2_agrees_with_r() {
        check_against_r(
            &Method::EarsC2(EarsParams::default()),
            "counts_ears.csv",
            "r_ears_c2.csv",
        );
    }

    #[test]
    fn ears_c3_agrees_with_r_including_its_own_c3_definition() {
        check_against_r(
            &Method::EarsC3(EarsParams::default()),
            "counts_ears.csv",
            "r_ears_c3.csv",
        );
    }

    #[test]
    fn farrington_flexible_defaults_agree_with_r() {
        check_against_r(
            &Method::Farrington(FarringtonParams::default()),
            "counts_farrington.csv",
            "r_farrington.csv",
        );
    }

    #[test]
    fn farrington_noufaily_settings_agree_with_r() {
        check_against_r(
            &Method::Farrington(FarringtonParams::noufaily()),
            "counts_farrington.csv",
            "r_farrington_noufaily.csv",
        );
    }

    #[test]
    fn farrington_muan_agrees_with_r() {
        let params = FarringtonParams {
            no_periods: 10,
            past_weeks_not_included: Some(26),
            threshold_method: ThresholdMethod::Muan,
            ..FarringtonParams::default()
        };
        check_against_r(
            &Method::Farrington(params),
            "counts_farrington.csv",
            "r_farrington_muan.csv",
        );
    }

    #[test]
    fn farrington_three_years_untransformed_unweighted_agrees_with_r() {
        let params = FarringtonParams {
            b: 3,
            w: 2,
            powertrans: PowerTransform::None,
            reweight: false,
            limit54: (0, 4),
            alpha: 0.01,
            ..FarringtonParams::default()
        };
        check_against_r(
            &Method::Farrington(params),
            "counts_farrington.csv",
            "r_farrington_b3_none.csv",
        );
    }
}
