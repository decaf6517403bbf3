//! Early-warning benchmark (issue 5): every method for 40 diseases × 30 townships over
//! 3 years of daily counts, target under 5 s on 2 cores.
//!
//! Each series is synthetic Poisson with a yearly cycle, 3 years + 21 days of history
//! followed by the 3 evaluated years (1,095 days). Fixed threshold, moving percentile and
//! EARS C1–C3 run on the daily counts; Farrington flexible runs on weekly sums of the same
//! series (it is a weekly method) with b = 3 years, the most the history allows
//! (156 evaluated weeks). The Noufaily preset is timed on one disease (30 series) and
//! scaled, because its 10-level seasonal GLM is ~20× the work.
//!
//! `YIWEI_BENCH_EXPORT=dir` also writes the series as CSV (`daily.csv`, `weekly.csv`) so
//! `bench/warnings_vs_r.sh --bench` can time R on the same data.

use std::io::Write;
use std::time::Instant;

use chrono::NaiveDate;
use yiwei_domain::surveillance::{
    EarsParams, FarringtonParams, FixedParams, Method, MovingPercentileParams, Series, Step,
    evaluate,
};

const DISEASES: usize = 40;
const TOWNSHIPS: usize = 30;
const EVAL_DAYS: usize = 3 * 365;
const HISTORY_DAYS: usize = 3 * 365 + 21;

/// SplitMix64: a small seeded generator, enough for synthetic counts.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Poisson by Knuth's product method (λ is small here).
    fn poisson(&mut self, lambda: f64) -> u32 {
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut p = self.uniform();
        while p > limit {
            k += 1;
            p *= self.uniform();
        }
        k
    }
}

fn make_series(rng: &mut Rng, disease: usize) -> Vec<u32> {
    // Rates from 0.05 to ~4 cases a day per township, peaks spread over the year.
    let base = 0.05 + 0.1 * disease as f64;
    let phase = disease as f64 * 0.7;
    (0..HISTORY_DAYS + EVAL_DAYS)
        .map(|t| {
            let season = 1.0 + 0.6 * (2.0 * std::f64::consts::PI * t as f64 / 365.25 + phase).sin();
            rng.poisson(base * season)
        })
        .collect()
}

fn weekly_sums(daily: &[u32]) -> Vec<u32> {
    daily.chunks_exact(7).map(|w| w.iter().sum()).collect()
}

fn run(methods: &[Method], all: &[Vec<u32>], step: Step, eval_len: usize) -> (usize, usize) {
    let start = NaiveDate::from_ymd_opt(2020, 1, 6).expect("date");
    let (mut points, mut alarms) = (0, 0);
    for counts in all {
        let series = Series {
            counts,
            step,
            start,
        };
        for method in methods {
            let evals = evaluate(method, &series, counts.len() - eval_len..counts.len())
                .expect("series long enough");
            points += evals.len();
            alarms += evals.iter().filter(|e| e.alarm).count();
        }
    }
    (points, alarms)
}

/// Run on two threads, half of the series each.
fn run_parallel(
    methods: &[Method],
    all: &[Vec<u32>],
    step: Step,
    eval_len: usize,
) -> (usize, usize) {
    let (a, b) = all.split_at(all.len() / 2);
    std::thread::scope(|s| {
        let h = s.spawn(|| run(methods, a, step, eval_len));
        let (p2, a2) = run(methods, b, step, eval_len);
        let (p1, a1) = h.join().expect("thread");
        (p1 + p2, a1 + a2)
    })
}

fn main() {
    let mut rng = Rng(20261123);
    let daily: Vec<Vec<u32>> = (0..DISEASES * TOWNSHIPS)
        .map(|i| make_series(&mut rng, i / TOWNSHIPS))
        .collect();
    let weekly: Vec<Vec<u32>> = daily.iter().map(|d| weekly_sums(d)).collect();
    let eval_weeks = 156;

    if let Ok(dir) = std::env::var("YIWEI_BENCH_EXPORT") {
        for (name, all) in [("daily", &daily), ("weekly", &weekly)] {
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(format!("{dir}/{name}.csv")).expect("export file"),
            );
            writeln!(f, "series,count").expect("write");
            for (i, counts) in all.iter().enumerate() {
                for c in counts {
                    writeln!(f, "s{i},{c}").expect("write");
                }
            }
        }
    }

    let daily_methods = [
        Method::Fixed(FixedParams::default()),
        Method::MovingPercentile(MovingPercentileParams::default()),
        Method::EarsC1(EarsParams::default()),
        Method::EarsC2(EarsParams::default()),
        Method::EarsC3(EarsParams::default()),
    ];
    let farrington = [Method::Farrington(FarringtonParams {
        b: 3,
        ..FarringtonParams::default()
    })];
    let noufaily = [Method::Farrington(FarringtonParams {
        b: 3,
        ..FarringtonParams::noufaily()
    })];

    println!(
        "early warning: {} series ({DISEASES} diseases × {TOWNSHIPS} townships), {EVAL_DAYS} days evaluated, 2 threads",
        daily.len()
    );
    let total = Instant::now();
    for method in &daily_methods {
        let t = Instant::now();
        let (points, alarms) =
            run_parallel(std::slice::from_ref(method), &daily, Step::Day, EVAL_DAYS);
        println!(
            "  {:<24} {points:>9} points {alarms:>7} alarms {:>8.3} s",
            method.code(),
            t.elapsed().as_secs_f64()
        );
    }
    let t = Instant::now();
    let (points, alarms) = run_parallel(&farrington, &weekly, Step::Week, eval_weeks);
    println!(
        "  {:<24} {points:>9} points {alarms:>7} alarms {:>8.3} s",
        "farrington (weekly, b=3)",
        t.elapsed().as_secs_f64()
    );
    let all_methods = total.elapsed().as_secs_f64();
    println!("  all methods: {all_methods:.3} s (target < 5 s)");

    let t = Instant::now();
    let one_disease = &weekly[..TOWNSHIPS];
    let (points, _) = run_parallel(&noufaily, one_disease, Step::Week, eval_weeks);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "  farrington noufaily (b=3) on 1 disease: {points} points in {secs:.3} s; ×{DISEASES} ≈ {:.1} s for all",
        secs * DISEASES as f64
    );
}
