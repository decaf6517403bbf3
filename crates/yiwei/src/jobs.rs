//! The job runner: schedules the periodic jobs and runs whatever is due, inside `serve`
//! every 30 seconds and on demand with `yiwei jobs run`.
//!
//! Each kind is idempotent (running it twice does no harm), because a job whose runner
//! died is run again after its lease (see `yiwei_store::job`). Kinds so far:
//! - `session_sweep`: delete sessions idle past the limit (every 10 minutes).
//! - `warning_run`: the early-warning run of one day (`crate::warning`), queued once a day
//!   for the day before, after `warning.run_hour` local time; the dedup key is the date.
//! - `programme_due`: close the family-doctor contracts that reached their end (到期), then
//!   rebuild every resident's work list for the county's today and queue the reminders of
//!   what opens within a week (daily, from 01:00 county time; visits and doses refresh
//!   their own resident at once).
//! - `booking_upkeep`: queue the reminders of bookings starting within a day, and expire
//!   referrals no one answered in time (every 10 minutes; both idempotent).
//! - `cost_alerts`: the monthly cost alerts (防返贫监测预警, `crate::cost_alert`) of last
//!   month, queued from `cost_alerts.run_day`/`run_hour` local time; the dedup key is the
//!   month, and a rerun of a month adds only alerts that were not there.
//! - `indicator_refresh`: recompute the maintained indicator figures of one period
//!   (`crate::indicators`; queued daily from 02:00 for the open periods).
//! - `ai_draft`: the AI reading hook's draft report of a new study, queued by STOW-RS a
//!   minute after the study's first instance (`imaging.ai_draft`); the study id is the
//!   dedup key, and a study that has a report by then gets none.

use anyhow::Result;
use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use yiwei_domain::division::DivisionCode;
use yiwei_store::programme::{self, Catalogue};
use yiwei_store::{Store, job, session};

pub const SESSION_SWEEP: &str = "session_sweep";
pub const WARNING_RUN: &str = "warning_run";
pub const PROGRAMME_DUE: &str = "programme_due";

/// Days ahead for which reminders are queued by the daily job.
pub const REMINDER_DAYS: i64 = 7;
pub const BOOKING_UPKEEP: &str = "booking_upkeep";
// cost alerts (防返贫监测预警)
pub const COST_ALERTS: &str = "cost_alerts";

/// Queue the cost alerts of the month due at `now`, if any (the month is the dedup key).
pub async fn schedule_cost_alerts(
    store: &Store,
    now: DateTime<Utc>,
    settings: &JobSettings,
) -> Result<()> {
    if let Some(month) = settings
        .cost_alerts
        .due_month(now, settings.utc_offset_hours)
    {
        let payload = serde_json::json!({"month": month.to_string()}).to_string();
        job::enqueue(store, COST_ALERTS, &month.to_string(), now, &payload).await?;
    }
    Ok(())
}

/// Run the `cost_alerts` job of the month in its payload.
async fn run_cost_alerts(store: &Store, payload: &str, settings: &JobSettings) -> Result<()> {
    let value: serde_json::Value = serde_json::from_str(payload)?;
    let month = value
        .get("month")
        .and_then(|m| m.as_str())
        .and_then(yiwei_domain::cost_alert::Month::parse)
        .ok_or_else(|| anyhow::anyhow!("cost_alerts payload has no month"))?;
    let started = std::time::Instant::now();
    let s = crate::cost_alert::run_month(store, &settings.cost_alerts, month, None, "job").await?;
    tracing::info!(
        cost_alerts.month = %month,
        cost_alerts.new = s.n_new,
        cost_alerts.total = s.n_hits,
        cost_alerts.attached = s.n_attached,
        seconds = started.elapsed().as_secs_f64(),
        "cost alerts run done"
    );
    Ok(())
}

/// Run the `ai_draft` job of a new study (queued by STOW-RS): the shipped reading model's
/// findings attached as a draft report, unless the study has a report by now.
async fn run_ai_draft(store: &Store, payload: &str, settings: &JobSettings) -> Result<()> {
    let draft = yiwei_web::dicomweb::stow::run_ai_draft_job(
        store,
        settings.imaging_blobs.as_ref(),
        payload,
    )
    .await
    .map_err(|e| anyhow::anyhow!(e))?;
    tracing::info!(drafted = draft.is_some(), "AI draft job done");
    Ok(())
}

async fn booking_upkeep(store: &Store, settings: &JobSettings) -> Result<()> {
    let when = yiwei_store::booking::When::now(settings.utc_offset_hours);
    let queued = yiwei_store::booking::queue_reminders(store, when, Duration::hours(24)).await?;
    let expired = yiwei_store::referral::expire_due(
        store,
        when,
        &yiwei_domain::referral::Timeliness::default(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("expiring referrals: {e}"))?;
    if queued > 0 || expired > 0 {
        tracing::info!(
            reminders.queued = queued,
            referrals.expired = expired,
            "booking upkeep"
        );
    }
    Ok(())
}

/// What the jobs need from the configuration.
#[derive(Clone, Debug)]
pub struct JobSettings {
    pub session_idle: Duration,
    pub county: DivisionCode,
    pub utc_offset_hours: i32,
    pub warning: crate::warning::WarningConfig,
    /// The programmes and immunization editions in force.
    pub programmes: Catalogue,
    pub cost_alerts: crate::cost_alert::CostAlertConfig,
    /// Where DICOM files are kept (the AI draft job reads them).
    pub imaging_blobs: std::sync::Arc<dyn yiwei_dicom::blob::BlobStore>,
}

impl JobSettings {
    pub fn from_config(config: &crate::config::Config) -> Result<JobSettings> {
        let web = config.to_web_config()?;
        Ok(JobSettings {
            session_idle: web.session_idle,
            county: web.county,
            utc_offset_hours: web.utc_offset_hours,
            warning: config.warning.clone(),
            programmes: web.programmes,
            cost_alerts: config.cost_alerts.clone(),
            imaging_blobs: web.imaging.blobs.clone(),
        })
    }
}

/// Queue the warning run of `day` (idempotent: the date is the dedup key).
pub async fn enqueue_warning(store: &Store, day: NaiveDate, at: DateTime<Utc>) -> Result<bool> {
    let payload = serde_json::json!({"date": day.to_string()}).to_string();
    Ok(job::enqueue(store, WARNING_RUN, &day.to_string(), at, &payload).await?)
}

/// Enqueue yesterday's warning run once the county's local clock has passed the run hour.
pub async fn schedule_warning(
    store: &Store,
    now: DateTime<Utc>,
    settings: &JobSettings,
) -> Result<()> {
    if !settings.warning.enabled {
        return Ok(());
    }
    let local = (now + Duration::hours(i64::from(settings.utc_offset_hours))).naive_utc();
    if local.hour() >= settings.warning.run_hour {
        enqueue_warning(store, local.date() - Duration::days(1), now).await?;
    }
    Ok(())
}

/// Enqueue the periodic jobs due by `now`. Dedup keys name the period, so calling this
/// often (or from several processes) queues each period's job once.
pub async fn schedule(store: &Store, now: DateTime<Utc>, settings: &JobSettings) -> Result<()> {
    let local = now + Duration::hours(i64::from(settings.utc_offset_hours));
    if local.hour() >= 1 {
        job::enqueue(
            store,
            PROGRAMME_DUE,
            &local.date_naive().to_string(),
            now,
            "{}",
        )
        .await?;
    }
    let bucket = now
        .with_minute(now.minute() / 10 * 10)
        .and_then(|t| t.with_second(0))
        .unwrap_or(now);
    job::enqueue(
        store,
        SESSION_SWEEP,
        &bucket.format("%Y-%m-%dT%H:%M").to_string(),
        bucket,
        "{}",
    )
    .await?;
    job::enqueue(
        store,
        BOOKING_UPKEEP,
        &bucket.format("%Y-%m-%dT%H:%M").to_string(),
        bucket,
        "{}",
    )
    .await?;
    crate::indicators::schedule(store, now, settings).await?;
    Ok(())
}

/// Claim and run due jobs until none is left; returns how many ran.
pub async fn run_due(store: &Store, worker: &str, settings: &JobSettings) -> Result<usize> {
    let session_idle = settings.session_idle;
    let mut ran = 0;
    while let Some(j) = job::claim(store, worker).await? {
        let outcome: Result<()> = match j.kind.as_str() {
            SESSION_SWEEP => session::sweep(store, session_idle)
                .await
                .map(|n| {
                    if n > 0 {
                        tracing::info!(sessions.removed = n, "idle sessions swept");
                    }
                })
                .map_err(Into::into),
            WARNING_RUN => run_warning(store, &j.payload, settings).await,
            PROGRAMME_DUE => programme_due(store, settings).await,
            BOOKING_UPKEEP => booking_upkeep(store, settings).await,
            COST_ALERTS => run_cost_alerts(store, &j.payload, settings).await,
            crate::indicators::INDICATOR_REFRESH => {
                crate::indicators::run_job(store, &j.payload, settings).await
            }
            yiwei_web::dicomweb::AI_DRAFT_JOB => run_ai_draft(store, &j.payload, settings).await,
            other => Err(anyhow::anyhow!(
                "unknown job kind {other:?} (a newer yiwei may run it)"
            )),
        };
        match outcome {
            Ok(()) => job::complete(store, j.id).await?,
            Err(e) => {
                tracing::warn!(job.id = j.id, job.kind = %j.kind, error = %e, "job failed");
                job::fail(store, j.id, &format!("{e:#}")).await?;
            }
        }
        ran += 1;
    }
    Ok(ran)
}

/// Run the `warning_run` job of the day in its payload.
async fn run_warning(store: &Store, payload: &str, settings: &JobSettings) -> Result<()> {
    let value: serde_json::Value = serde_json::from_str(payload)?;
    let day: NaiveDate = value
        .get("date")
        .and_then(|d| d.as_str())
        .ok_or_else(|| anyhow::anyhow!("warning_run payload has no date"))?
        .parse()?;
    let summary = crate::warning::run_day(store, &settings.warning, &settings.county, day).await?;
    tracing::info!(
        warning.day = %day,
        warning.evaluated = summary.evaluated,
        warning.raised = summary.raised,
        warning.existing = summary.existing,
        "warning run done"
    );
    Ok(())
}

/// The daily work-list rebuild and reminders.
pub async fn programme_due(store: &Store, settings: &JobSettings) -> Result<()> {
    let today =
        (yiwei_store::now() + Duration::hours(i64::from(settings.utc_offset_hours))).date_naive();
    let started = std::time::Instant::now();
    let system = yiwei_store::audit::Who {
        username: Some("jobs".into()),
        role: Some("system".into()),
        ..yiwei_store::audit::Who::default()
    };
    let expired = yiwei_store::contract::close_expired(store, today, &system).await?;
    let done = programme::refresh_all(store, &settings.programmes, today, |_, _| {}).await?;
    let queued = programme::queue_reminders(
        store,
        &settings.programmes,
        &settings.county,
        today,
        REMINDER_DAYS,
    )
    .await?;
    tracing::info!(
        residents = done.residents,
        rows = done.rows,
        reminders = queued,
        contracts_expired = expired,
        seconds = started.elapsed().as_secs_f64(),
        "work lists rebuilt"
    );
    Ok(())
}

/// Schedule and run jobs every 30 seconds until the task is aborted.
pub async fn run_forever(store: Store, settings: JobSettings) {
    let worker = format!(
        "{}-{}",
        std::process::id(),
        yiwei_store::crypto::random_token().get(..8).unwrap_or("w")
    );
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
    loop {
        tick.tick().await;
        let result = async {
            schedule(&store, yiwei_store::now(), &settings).await?;
            schedule_warning(&store, yiwei_store::now(), &settings).await?;
            schedule_cost_alerts(&store, yiwei_store::now(), &settings).await?;
            run_due(&store, &worker, &settings).await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "job runner pass failed");
        }
    }
}
