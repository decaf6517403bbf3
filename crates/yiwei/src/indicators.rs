//! `yiwei indicators …` and `yiwei report annual …`, and the `indicator_refresh` job.
//!
//! The job refreshes the maintained aggregates (`yiwei_store::indicator`) of one period
//! per run. The daily schedule queues the current month, quarter and year and the previous
//! month (late reports land there), each once a day; a period whose facts did not change
//! costs one fingerprint query per source and is skipped.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use clap::Subcommand;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::indicator::{Period, PeriodType};
use yiwei_store::indicator::{self, RefreshOptions, RefreshOutcome};
use yiwei_store::{Store, job};

use crate::jobs::JobSettings;

pub const INDICATOR_REFRESH: &str = "indicator_refresh";

#[derive(Subcommand, Debug)]
pub enum IndicatorsCommand {
    /// Recompute the maintained indicator figures (only periods whose facts changed,
    /// unless --force). Closed periods are compared, never rewritten
    Refresh {
        /// A year (every month, quarter and the year), a quarter (2025-Q1) or a month
        /// (2025-03); default this year and last year
        #[arg(long)]
        period: Option<String>,
        /// Recompute even where the facts look unchanged
        #[arg(long)]
        force: bool,
    },
    /// Close (关账) an ended period: its figures become the published ones
    Close {
        period: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Show what a refresh found different in a closed period
    Differences { period: String },
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// The county's annual review (年度工作总结指标): HTML, PDF, CSV and XLSX
    Annual {
        #[arg(long)]
        year: i32,
        /// Folder for the files (default: the current folder)
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn local_today(utc_offset_hours: i32) -> NaiveDate {
    (yiwei_store::now() + Duration::hours(i64::from(utc_offset_hours))).date_naive()
}

/// The periods a `--period` names, or this year's and last year's that have begun.
pub fn periods_for(spec: Option<&str>, today: NaiveDate) -> Result<Vec<Period>> {
    let started = |p: &Period| p.first_day() <= today;
    match spec {
        None => Ok([today.year() - 1, today.year()]
            .into_iter()
            .flat_map(Period::all_in_year)
            .filter(started)
            .collect()),
        Some(text) => {
            let p = Period::parse(text).map_err(|e| anyhow::anyhow!("--period: {e}"))?;
            Ok(match p {
                Period::Year(y) => Period::all_in_year(y).into_iter().filter(started).collect(),
                Period::Quarter(..) => std::iter::once(p)
                    .chain(p.month_periods())
                    .filter(started)
                    .collect(),
                Period::Month(..) => vec![p],
            })
        }
    }
}

/// Refresh `periods` for the county.
pub async fn refresh(
    store: &Store,
    county: &DivisionCode,
    utc_offset_hours: i32,
    periods: &[Period],
    force: bool,
) -> Result<RefreshOutcome> {
    let options = RefreshOptions {
        county: county.clone(),
        utc_offset_hours,
        force,
    };
    indicator::refresh(store, periods, &options)
        .await
        .context("refreshing the indicator figures")
}

/// After the demo county is built: figures for last year and this year, so the dashboard
/// has numbers at first start.
pub async fn refresh_demo(store: &Store, config: &crate::config::Config) -> Result<()> {
    let web = config.to_web_config()?;
    let today = local_today(web.utc_offset_hours);
    // The generated history starts before the build: the records must too.
    let first = NaiveDate::from_ymd_opt(today.year() - 1, 1, 1).unwrap_or(today);
    indicator::date_demo_records(
        store,
        first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
            - Duration::hours(i64::from(web.utc_offset_hours)),
    )
    .await
    .context("dating the demo records")?;
    let periods = periods_for(None, today)?;
    let started = std::time::Instant::now();
    let outcome = refresh(store, &web.county, web.utc_offset_hours, &periods, false).await?;
    println!(
        "indicator figures: {} periods × sources computed, {} figures, {:.1} s",
        outcome.computed,
        outcome.rows,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Run an `indicators` subcommand.
pub async fn command(
    store: &Store,
    config: &crate::config::Config,
    command: IndicatorsCommand,
) -> Result<()> {
    let web = config.to_web_config()?;
    let today = local_today(web.utc_offset_hours);
    match command {
        IndicatorsCommand::Refresh { period, force } => {
            let periods = periods_for(period.as_deref(), today)?;
            if periods.is_empty() {
                bail!("--period has not begun yet (today is {today})");
            }
            let started = std::time::Instant::now();
            let o = refresh(store, &web.county, web.utc_offset_hours, &periods, force).await?;
            println!(
                "{} periods: computed {}, unchanged {}, figures written {}, differences in closed periods {} ({:.1} s)",
                periods.len(),
                o.computed,
                o.unchanged,
                o.rows,
                o.differences,
                started.elapsed().as_secs_f64()
            );
        }
        IndicatorsCommand::Close { period, note } => {
            let p = Period::parse(&period).map_err(|e| anyhow::anyhow!("{e}"))?;
            indicator::close_period(store, p, today, None, &note)
                .await
                .with_context(|| format!("closing {p}"))?;
            println!("closed {p}");
        }
        IndicatorsCommand::Differences { period } => {
            let p = Period::parse(&period).map_err(|e| anyhow::anyhow!("{e}"))?;
            let found = indicator::differences(store, p).await?;
            if found.is_empty() {
                println!("{p}: no differences (or the period is not closed)");
            }
            for d in found {
                let stratum = if d.breakdown.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", d.breakdown)
                };
                println!(
                    "{} {} {}{stratum}: frozen {}/{}, now {}/{}",
                    d.period,
                    d.indicator,
                    d.division_code,
                    d.frozen.numerator,
                    d.frozen.denominator,
                    d.now.numerator,
                    d.now.denominator
                );
            }
        }
    }
    Ok(())
}

/// Queue the day's refreshes once the county's clock has passed 02:00 (dedup: period and
/// date, so each is queued once a day however often this runs).
pub async fn schedule(store: &Store, now: DateTime<Utc>, settings: &JobSettings) -> Result<()> {
    let local = now + Duration::hours(i64::from(settings.utc_offset_hours));
    if local.hour() < 2 {
        return Ok(());
    }
    let today = local.date_naive();
    let this_month = Period::of_day(today, PeriodType::Month);
    let mut periods = vec![
        this_month,
        this_month.previous(),
        Period::of_day(today, PeriodType::Quarter),
        Period::of_day(today, PeriodType::Year),
    ];
    // January also closes out last year's quarter and year.
    if today.month() == 1 {
        periods.push(Period::Quarter(today.year() - 1, 4));
        periods.push(Period::Year(today.year() - 1));
    }
    for p in periods {
        let payload = serde_json::json!({ "period": p.to_string() }).to_string();
        job::enqueue(
            store,
            INDICATOR_REFRESH,
            &format!("{p}@{today}"),
            now,
            &payload,
        )
        .await?;
    }
    Ok(())
}

/// Run one `indicator_refresh` job.
pub async fn run_job(store: &Store, payload: &str, settings: &JobSettings) -> Result<()> {
    let v: serde_json::Value = serde_json::from_str(payload).context("job payload")?;
    let text = v
        .get("period")
        .and_then(|p| p.as_str())
        .context("job payload has no period")?;
    let period = Period::parse(text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let o = refresh(
        store,
        &settings.county,
        settings.utc_offset_hours,
        &[period],
        false,
    )
    .await?;
    tracing::info!(
        period = %period,
        computed = o.computed,
        unchanged = o.unchanged,
        rows = o.rows,
        differences = o.differences,
        "indicator refresh"
    );
    Ok(())
}

/// Run a `report` subcommand: refresh the year (unchanged periods are skipped; a closed
/// year is only compared), then write the review as HTML, PDF, CSV and XLSX.
pub async fn report(
    store: &Store,
    config: &crate::config::Config,
    command: ReportCommand,
) -> Result<()> {
    let ReportCommand::Annual { year, out } = command;
    let web = config.to_web_config()?;
    let out = out.unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let started = std::time::Instant::now();
    let today = local_today(web.utc_offset_hours);
    let periods = periods_for(Some(&year.to_string()), today)?;
    if periods.is_empty() {
        bail!("{year} has not begun yet (today is {today})");
    }
    refresh(store, &web.county, web.utc_offset_hours, &periods, false).await?;
    let refreshed = started.elapsed();
    let review = yiwei_web::pages::annual::load(
        store,
        &web.county,
        year,
        web.public_url.trim_end_matches('/'),
        web.utc_offset_hours,
    )
    .await
    .context("reading the figures")?;
    let stem = out.join(format!("annual-{}-{year}", web.county.as_str()));
    let write = |ext: &str, bytes: &[u8]| -> Result<PathBuf> {
        let path = stem.with_extension(ext);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    };
    let html = yiwei_web::pages::annual::to_html(&review).context("rendering the HTML")?;
    let mut written = vec![
        write("html", html.as_bytes())?,
        write("csv", yiwei_web::pages::annual::to_csv(&review).as_bytes())?,
        write(
            "xlsx",
            &yiwei_web::pages::annual::to_xlsx(&review).context("writing the XLSX")?,
        )?,
    ];
    let pdf = yiwei_web::pages::annual::to_pdf(&review, &web.public_url);
    let pdf_error = match pdf {
        Ok(bytes) => {
            written.push(write("pdf", &bytes)?);
            None
        }
        Err(e) => Some(e),
    };
    for p in &written {
        println!("wrote {}", p.display());
    }
    println!(
        "annual review {year}: refresh {:.1} s, total {:.1} s",
        refreshed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    if let Some(e) = pdf_error {
        bail!("the PDF was not written: {e}");
    }
    Ok(())
}
