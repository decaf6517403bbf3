//! The job runner: schedules the periodic jobs and runs whatever is due, inside `serve`
//! every 30 seconds and on demand with `yiwei jobs run`.
//!
//! Each kind is idempotent (running it twice does no harm), because a job whose runner
//! died is run again after its lease (see `yiwei_store::job`). Kinds so far:
//! - `session_sweep`: delete sessions idle past the limit (every 10 minutes).

use anyhow::Result;
use chrono::{DateTime, Duration, Timelike, Utc};
use yiwei_store::{Store, job, session};

pub const SESSION_SWEEP: &str = "session_sweep";

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
