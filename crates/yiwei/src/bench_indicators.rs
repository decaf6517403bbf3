//! `yiwei bench indicators`: the issue-6 targets on a county already built with
//! `yiwei demo --residents N --no-serve` (the same county `yiwei bench programmes` uses):
//! - the full refresh of one year's maintained figures (every source × the year, its
//!   quarters and months, recomputed with `force`), and the same refresh again with
//!   nothing changed (fingerprints only);
//! - the county dashboard from the maintained aggregates: the reads the page makes (the
//!   county's figures for the year, the year before and its months; the townships' figures
//!   of the map indicator and its strata; the divisions; when computed), p95 under 300 ms;
//! - the county's annual review from the aggregates: read, HTML, CSV, XLSX and PDF, under
//!   60 s.
//!
//! The result is a markdown section for docs/benchmarks.md.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Datelike;
use yiwei_domain::indicator::Period;
use yiwei_store::indicator::{self, RefreshOptions};
use yiwei_store::{Store, division, on_pool};

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub year: Option<i32>,
    /// Dashboard loads to time.
    pub requests: usize,
    pub county: yiwei_domain::division::DivisionCode,
    pub utc_offset_hours: i32,
    pub today: chrono::NaiveDate,
    pub public_url: String,
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

fn met(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}

/// The reads of one county dashboard.
async fn dashboard(
    store: &Store,
    county: &yiwei_domain::division::DivisionCode,
    year: i32,
) -> Result<usize> {
    let codes: Vec<&str> = yiwei_domain::indicator::catalogue()
        .iter()
        .filter(|d| d.source.is_maintained())
        .map(|d| d.code)
        .collect();
    let this = Period::Year(year);
    let mut periods = vec![this, Period::Year(year - 1)];
    periods.extend(this.month_periods());
    let totals = indicator::figures(store, county, &codes, &periods, county.as_str().len()).await?;
    division::get(store, county).await?;
    let children = division::children(store, county).await?;
    let len = children.first().map_or(9, |c| c.code.as_str().len());
    let map = indicator::figures(store, county, &["contract_coverage"], &[this], len).await?;
    // The breakdown table of the map indicator (sex, age group, key group).
    let strata = indicator::strata(store, county, &["contract_coverage"], this).await?;
    indicator::computed_at(store, this).await?;
    Ok(totals.len() + map.len() + strata.len())
}

/// Run the indicator benchmarks and return the markdown report.
pub async fn indicators(store: &Store, opts: &Options) -> Result<String> {
    let residents: i64 = on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM resident WHERE merged_into IS NULL")
            .fetch_one(pool)
            .await
    })?;
    if residents == 0 {
        bail!(
            "the database is empty: build a county first with yiwei demo --residents N --no-serve"
        );
    }
    let year = opts.year.unwrap_or(opts.today.year() - 1);
    let periods = Period::all_in_year(year);
    let refresh = |force| RefreshOptions {
        county: opts.county.clone(),
        utc_offset_hours: opts.utc_offset_hours,
        force,
    };

    let started = Instant::now();
    let full = indicator::refresh(store, &periods, &refresh(true))
        .await
        .context("full refresh")?;
    let full_time = started.elapsed();
    let started = Instant::now();
    let again = indicator::refresh(store, &periods, &refresh(false))
        .await
        .context("unchanged refresh")?;
    let again_time = started.elapsed();

    let mut times = Vec::with_capacity(opts.requests);
    let mut figures = 0;
    for _ in 0..opts.requests.max(1) {
        let t = Instant::now();
        figures = dashboard(store, &opts.county, year).await?;
        times.push(t.elapsed());
    }
    times.sort();
    let p95 = percentile(&times, 95.0);

    let started = Instant::now();
    let review = yiwei_web::pages::annual::load(
        store,
        &opts.county,
        year,
        &opts.public_url,
        opts.utc_offset_hours,
    )
    .await?;
    let html = yiwei_web::pages::annual::to_html(&review)?;
    let csv = yiwei_web::pages::annual::to_csv(&review);
    let xlsx = yiwei_web::pages::annual::to_xlsx(&review)?;
    let pdf = yiwei_web::pages::annual::to_pdf(&review, &opts.public_url);
    let review_time = started.elapsed();
    let pdf_size = match &pdf {
        Ok(p) => format!("PDF {} kB", p.len() / 1024),
        Err(e) => format!("no PDF ({e})"),
    };
    let (rows, strata): (i64, i64) = on_pool!(store, |pool| {
        sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN breakdown <> '' THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM indicator_value",
        )
        .fetch_one(pool)
        .await
    })?;

    let mut out = String::new();
    out.push_str(&format!(
        "## Indicators at {residents} residents on {} (`yiwei bench indicators`, issue 6)\n\n",
        store.backend().as_str()
    ));
    out.push_str(&format!("- Command: `{}`\n", opts.command));
    out.push_str(&format!(
        "- Year {year}: {} periods; {rows} stored figures (village × indicator × period, of which {strata} sex, age-group and key-group strata) after the run\n\n",
        periods.len()
    ));
    out.push_str("| What | Target | Result | Met |\n|---|---|---|---|\n");
    out.push_str(&format!(
        "| Full refresh of {year} (every source × year, quarters, months; forced) | — | {:.1} s ({} source × period runs, {} figures) | — |\n",
        full_time.as_secs_f64(),
        full.computed,
        full.rows
    ));
    out.push_str(&format!(
        "| The same refresh with nothing changed (fingerprints only) | — | {:.2} s ({} skipped, {} recomputed) | — |\n",
        again_time.as_secs_f64(),
        again.unchanged,
        again.computed
    ));
    out.push_str(&format!(
        "| County dashboard from the aggregates, {} loads ({figures} figures each) | p95 < 300 ms | p50 {} · p95 {} · max {} | {} |\n",
        times.len(),
        ms(percentile(&times, 50.0)),
        ms(p95),
        ms(times.last().copied().unwrap_or_default()),
        met(p95 < Duration::from_millis(300))
    ));
    out.push_str(&format!(
        "| Annual review of the county (read, HTML {} kB, CSV {} kB, XLSX {} kB, {pdf_size}) | < 60 s | {:.2} s | {} |\n",
        html.len() / 1024,
        csv.len() / 1024,
        xlsx.len() / 1024,
        review_time.as_secs_f64(),
        met(review_time < Duration::from_secs(60))
    ));
    out.push_str(&format!(
        "\nFull refresh by source (seconds over the 17 periods; programme indicators are kept per year only): {}\n",
        full.timings
            .iter()
            .map(|(s, d)| format!("{s} {:.1}", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(out)
}
