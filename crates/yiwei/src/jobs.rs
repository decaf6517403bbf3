//! The job runner: schedules the periodic jobs and runs whatever is due, inside `serve`
//! every 30 seconds and on demand with `yiwei jobs run`.
//!
//! Each kind is idempotent (running it twice does no harm), because a job whose runner
//! died is run again after its lease (see `yiwei_store::job`). Kinds so far:
//! - `session_sweep`: delete sessions idle past the limit (every 10 minutes);
//! - `booking_upkeep`: queue the reminders of bookings starting within a day, and expire
//!   referrals no one answered in time (every 10 minutes; both idempotent).

use anyhow::Result;
use chrono::{DateTime, Duration, Timelike, Utc};
use yiwei_store::{Store, job, session};

pub const SESSION_SWEEP: &str = "session_sweep";
pub const BOOKING_UPKEEP: &str = "booking_upkeep";

// FIXME: take the county's offset from the configuration; the runner is not given the
// `Config` yet (only the session idle limit), and every county yiwei serves is at +8.
const COUNTY_OFFSET_HOURS: i32 = 8;

async fn booking_upkeep(store: &Store) -> Result<()> {
    let when = yiwei_store::booking::When::now(COUNTY_OFFSET_HOURS);
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

/// Enqueue the periodic jobs due by `now`. Dedup keys name the period, so calling this
/// often (or from several processes) queues each period's job once.
pub async fn schedule(store: &Store, now: DateTime<Utc>) -> Result<()> {
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
    Ok(())
}

/// Claim and run due jobs until none is left; returns how many ran.
pub async fn run_due(store: &Store, worker: &str, session_idle: Duration) -> Result<usize> {
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
            BOOKING_UPKEEP => booking_upkeep(store).await,
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

/// Schedule and run jobs every 30 seconds until the task is aborted.
pub async fn run_forever(store: Store, session_idle: Duration) {
    let worker = format!(
        "{}-{}",
        std::process::id(),
        yiwei_store::crypto::random_token().get(..8).unwrap_or("w")
    );
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
    loop {
        tick.tick().await;
        let result = async {
            schedule(&store, yiwei_store::now()).await?;
            run_due(&store, &worker, session_idle).await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "job runner pass failed");
        }
    }
}
