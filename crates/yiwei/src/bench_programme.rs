//! Benchmark helper for the programme indicators (issue 4 target: every programme indicator
//! of a 1M-resident county for one year in under 2 s on 2 cores). The CLI's `yiwei bench`
//! calls [`indicators`] and prints [`Measured::line`].

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use yiwei_domain::division::DivisionCode;
use yiwei_domain::programme::indicator::{IndicatorConfig, IndicatorPeriod};
use yiwei_store::Store;

/// Timings of repeated full runs.
#[derive(Clone, Debug)]
pub struct Measured {
    pub runs: Vec<Duration>,
    pub p50: Duration,
    pub p95: Duration,
    /// Residents evaluated per run (the candidates after the SQL prefilter).
    pub evaluated: u64,
    /// Indicators per division.
    pub indicators: usize,
}

impl Measured {
    pub fn line(&self) -> String {
        format!(
            "{} runs · p50 {:.0} ms · p95 {:.0} ms · {} residents evaluated · {} indicators",
            self.runs.len(),
            self.p50.as_secs_f64() * 1000.0,
            self.p95.as_secs_f64() * 1000.0,
            self.evaluated,
            self.indicators
        )
    }
}

/// Nearest-rank percentile of sorted durations.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Every programme indicator of `root` and its children for calendar `year`, `runs` times
/// (at least 1), as the page and the API compute them (without the access check).
pub async fn indicators(
    store: &Store,
    root: &DivisionCode,
    year: i32,
    runs: usize,
) -> Result<Measured> {
    let period = IndicatorPeriod::year(year).context("indicator period")?;
    let config = IndicatorConfig::default();
    let mut times = Vec::with_capacity(runs.max(1));
    let mut evaluated = 0;
    let mut indicators = 0;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let report = yiwei_store::programme_indicator::report(store, root, period, &config)
            .await
            .context("programme indicators")?;
        times.push(started.elapsed());
        evaluated = report.evaluated;
        indicators = report.indicators.len();
    }
    let mut sorted = times.clone();
    sorted.sort();
    Ok(Measured {
        p50: percentile(&sorted, 50.0),
        p95: percentile(&sorted, 95.0),
        runs: times,
        evaluated,
        indicators,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let ms = |n| Duration::from_millis(n);
        let sorted = [ms(10), ms(20), ms(30), ms(40)];
        assert_eq!(percentile(&sorted, 50.0), ms(20));
        assert_eq!(percentile(&sorted, 95.0), ms(40));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
