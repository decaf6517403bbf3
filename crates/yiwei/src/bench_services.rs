//! `yiwei bench programmes`: the issue-4 targets measured on a county already built with
//! `yiwei demo --residents N --no-serve` (teams, contracts, enrolments, two years of
//! visits):
//! - a village doctor's work list (the largest villages, ≈2,000 residents at 1M) through
//!   the access gate, audited as in the page: p95 under 50 ms;
//! - every programme indicator of the county for one year: under 2 s;
//! - recomputing every resident's due visits after a schedule change: under 60 s.
//!
//! The result is a markdown section for docs/benchmarks.md.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{Datelike, NaiveDate};
use yiwei_domain::division::DivisionCode;
use yiwei_domain::programme::Config;
use yiwei_store::access::Viewer;
use yiwei_store::access::programmes as gate;
use yiwei_store::programme::{self, Catalogue, WorkFilter};
use yiwei_store::{Store, on_pool, user};

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Work-list requests to time.
    pub requests: usize,
    /// Runs of the county's indicators.
    pub indicator_runs: usize,
    /// The indicator year (default: last year).
    pub year: Option<i32>,
    pub today: NaiveDate,
    pub command: String,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Run the programme benchmarks on a built county and return the markdown report.
pub async fn programmes(store: &Store, opts: &Options) -> Result<String> {
    let residents: i64 = on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM resident WHERE merged_into IS NULL")
            .fetch_one(pool)
            .await
    })?;
    let visits: i64 = on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM programme_visit")
            .fetch_one(pool)
            .await
    })?;
    if visits == 0 {
        bail!(
            "this database has no programme visits: build it first with \
             `yiwei demo --residents 1000000 --no-serve`"
        );
    }
    let county = DivisionCode::parse("451226").context("county code")?;
    let doctor = user::by_username(store, "doctor.sien")
        .await
        .context("the demo account doctor.sien (a demo county is needed)")?;
    let mut out = String::new();
    out.push_str(&format!(
        "## Programmes at {} residents ({})\n\n- Command: `{}`\n- Data: {} residents, {} programme visits\n- Date: {}\n\n| Benchmark | Target | Result | Met |\n|---|---|---|---|\n",
        residents,
        store.backend().as_str(),
        opts.command,
        residents,
        visits,
        opts.today
    ));

    // 1. Recompute every work list after a schedule change (hypertension follow-ups every
    //    60 days instead of 90), then back to the national schedule.
    let mut changed = Config::default();
    changed.hypertension.follow_up.every_days = 60;
    let changed = Catalogue::national(&changed);
    eprintln!("1/3 recomputing every resident's due visits after a schedule change");
    let started = Instant::now();
    let done = programme::refresh_all(store, &changed, opts.today, |_, _| {}).await?;
    let refresh = started.elapsed();
    programme::refresh_all(store, &Catalogue::default(), opts.today, |_, _| {}).await?;
    out.push_str(&format!(
        "| Recompute every resident's due visits after a schedule change | < 60 s | {:.1} s ({} residents, {} rows) | {} |\n",
        refresh.as_secs_f64(),
        done.residents,
        done.rows,
        if refresh < Duration::from_secs(60) { "yes" } else { "no" }
    ));

    // 2. Work lists of the largest villages of 思恩镇, as its township clinician.
    let (lo, hi) = doctor.reach.subtree_range();
    let villages: Vec<(String, i64)> = on_pool!(store, |pool| {
        sqlx::query_as(
            "SELECT division_code, COUNT(*) AS n FROM resident WHERE merged_into IS NULL \
             AND division_code >= $1 AND division_code < $2 \
             GROUP BY division_code ORDER BY n DESC LIMIT 5",
        )
        .bind(&lo)
        .bind(&hi)
        .fetch_all(pool)
        .await
    })?;
    if villages.is_empty() {
        bail!("no resident in {}", doctor.reach.as_str());
    }
    let viewer = Viewer {
        user: &doctor,
        remote_addr: None,
    };
    eprintln!("2/3 {} work-list requests", opts.requests);
    let mut times = Vec::with_capacity(opts.requests);
    let mut lines = 0usize;
    let sizes: Vec<i64> = villages.iter().map(|v| v.1).collect();
    for i in 0..opts.requests.max(1) {
        let (village, _) = &villages[i % villages.len()];
        let filter = WorkFilter {
            root: DivisionCode::parse(village).context("village code")?,
            team_id: None,
            doctor_id: None,
            programme: None,
            until: programme::period_end(opts.today, "month"),
            missed_within_days: 31,
            limit: 3000,
        };
        let t = Instant::now();
        let items = gate::worklist(store, &viewer, &filter, opts.today).await?;
        times.push(t.elapsed());
        lines += items.len();
    }
    times.sort();
    let p95 = percentile(&times, 95.0);
    out.push_str(&format!(
        "| Village work list, this month ({} requests over the {} largest villages: {} residents) | p95 < 50 ms | p50 {} · p95 {} · p99 {} ({} lines on average) | {} |\n",
        times.len(),
        villages.len(),
        sizes
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        ms(percentile(&times, 50.0)),
        ms(p95),
        ms(percentile(&times, 99.0)),
        lines / times.len().max(1),
        if p95 < Duration::from_millis(50) { "yes" } else { "no" }
    ));

    // 3. Every programme indicator of the county for one year.
    let year = opts.year.unwrap_or(opts.today.year() - 1);
    eprintln!("3/3 programme indicators of the county for {year}");
    let m = crate::bench_programme::indicators(store, &county, year, opts.indicator_runs).await?;
    out.push_str(&format!(
        "| All programme indicators, county and townships, {year} | < 2 s | {} | {} |\n",
        m.line(),
        if m.p95 < Duration::from_secs(2) {
            "yes"
        } else {
            "no"
        }
    ));
    Ok(out)
}
