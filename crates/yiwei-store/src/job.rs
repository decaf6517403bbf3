//! The job queue: scheduled and on-demand work run inside the server (design.md, "Jobs").
//!
//! A job is `(kind, dedup_key)`, unique, so enqueueing is idempotent: the monthly cost
//! alerts of 2026-10 are one job however often the scheduler or a person asks for them.
//! Claiming takes the oldest due job and marks it running; on PostgreSQL the inner select
//! uses `FOR UPDATE SKIP LOCKED`, so several server processes never run one job twice, and
//! on SQLite the `BEGIN IMMEDIATE` write lock serialises claimers. A job whose runner died
//! (running past its lease) becomes claimable again; the work itself must therefore be
//! idempotent, which every job kind documents.

use chrono::{DateTime, Duration, Utc};

use crate::{Backend, Result, Row, Store, StoreError, on_pool, on_tx};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub dedup_key: String,
    pub payload: String,
    pub state: String,
    pub run_at: DateTime<Utc>,
    pub attempts: i64,
    pub max_attempts: i64,
    pub claimed_by: Option<String>,
    pub last_error: Option<String>,
}

fn job(row: &impl Row) -> Result<Job> {
    Ok(Job {
        id: row.col("id")?,
        kind: row.col("kind")?,
        dedup_key: row.col("dedup_key")?,
        payload: row.col("payload")?,
        state: row.col("state")?,
        run_at: row.col("run_at")?,
        attempts: row.col("attempts")?,
        max_attempts: row.col("max_attempts")?,
        claimed_by: row.col("claimed_by")?,
        last_error: row.col("last_error")?,
    })
}

/// How long a claimed job may run before another worker may take it over.
pub const LEASE: Duration = Duration::minutes(30);

/// Queue `kind`/`dedup_key` to run at `run_at`. Returns false if it was already queued
/// (or has run): enqueueing is idempotent.
pub async fn enqueue(
    store: &Store,
    kind: &str,
    dedup_key: &str,
    run_at: DateTime<Utc>,
    payload: &str,
) -> Result<bool> {
    let n = on_pool!(store, |pool| {
        sqlx::query(
            "INSERT INTO job (kind, dedup_key, payload, run_at, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (kind, dedup_key) DO NOTHING",
        )
        .bind(kind)
        .bind(dedup_key)
        .bind(payload)
        .bind(run_at)
        .bind(crate::now())
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Claim the oldest due job for `worker`, if any.
pub async fn claim(store: &Store, worker: &str) -> Result<Option<Job>> {
    let now = crate::now();
    let stale = now - LEASE;
    let sql = match store.backend() {
        Backend::Postgres => {
            "UPDATE job SET state = 'running', claimed_by = $1, claimed_at = $2, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM job WHERE run_at <= $2 \
                 AND (state = 'queued' OR (state = 'running' AND claimed_at < $3)) \
                 ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING *"
        }
        Backend::Sqlite => {
            "UPDATE job SET state = 'running', claimed_by = $1, claimed_at = $2, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM job WHERE run_at <= $2 \
                 AND (state = 'queued' OR (state = 'running' AND claimed_at < $3)) \
                 ORDER BY run_at, id LIMIT 1) \
             RETURNING *"
        }
    };
    let mut tx = store.begin().await?;
    let found = on_tx!(&mut tx, |conn| {
        let row = sqlx::query(sql)
            .bind(worker)
            .bind(now)
            .bind(stale)
            .fetch_optional(&mut *conn)
            .await?;
        row.map(|r| job(&r)).transpose()
    })?;
    tx.commit().await?;
    Ok(found)
}

/// Mark a claimed job done.
pub async fn complete(store: &Store, id: i64) -> Result<()> {
    let n = on_pool!(store, |pool| {
        sqlx::query(
            "UPDATE job SET state = 'done', finished_at = $1, last_error = NULL WHERE id = $2",
        )
        .bind(crate::now())
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(StoreError::NotFound("job"));
    }
    Ok(())
}

/// Record a failure: the job is retried after a backoff (1, 4, 9 … minutes) until it
/// has used its attempts, then it stays `failed` for a person to look at.
pub async fn fail(store: &Store, id: i64, error: &str) -> Result<()> {
    let now = crate::now();
    let current: Option<(i64, i64)> = on_pool!(store, |pool| {
        let row = sqlx::query("SELECT attempts, max_attempts FROM job WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
        row.map(|r| Ok::<_, StoreError>((r.col("attempts")?, r.col("max_attempts")?)))
            .transpose()
    })?;
    let (attempts, max) = current.ok_or(StoreError::NotFound("job"))?;
    let (state, run_at) = if attempts >= max {
        ("failed", now)
    } else {
        ("queued", now + Duration::minutes(attempts * attempts))
    };
    let error: String = error.chars().take(2000).collect();
    on_pool!(store, |pool| {
        sqlx::query("UPDATE job SET state = $1, run_at = $2, last_error = $3, finished_at = $4 WHERE id = $5")
            .bind(state)
            .bind(run_at)
            .bind(&error)
            .bind(now)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The newest jobs, for the CLI and the admin page.
pub async fn recent(store: &Store, limit: i64) -> Result<Vec<Job>> {
    on_pool!(store, |pool| {
        let rows = sqlx::query("SELECT * FROM job ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(pool)
            .await?;
        rows.iter().map(job).collect()
    })
}
