//! 影像分享链接: a resident's time-limited links to their studies, for a doctor outside the
//! system, opened with a PIN. The rules (lifetime, PIN form, lock after wrong PINs) are
//! `yiwei_domain::share_link`; the gate is `crate::access::recognition`.
//!
//! Neither the link's token nor its PIN is stored: only keyed hashes (`Keys::token_hash`,
//! HMAC-SHA-256 under the master key, which is outside the database). The PIN's hash binds
//! the link id so equal PINs of two links differ. Six digits are a small space, which is
//! why a link locks after five wrong tries and lives a few days at most.
//!
//! Schema: migrations/*/0016_recognition.sql (`imaging_share_link`).

use chrono::{DateTime, Duration, Utc};
use yiwei_domain::share_link::LinkState;

use crate::audit::{self, Event};
use crate::{Result, Row, Store, StoreError, on_pool, on_tx};

/// One share link as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ShareLink {
    pub id: i64,
    pub study_id: i64,
    pub resident_id: i64,
    pub failures: i64,
    pub n_opens: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_opened_at: Option<DateTime<Utc>>,
    pin_hash: Vec<u8>,
}

impl ShareLink {
    pub fn state(&self) -> LinkState {
        LinkState {
            expires_at: self.expires_at,
            revoked: self.revoked_at.is_some(),
            failures: u32::try_from(self.failures).unwrap_or(u32::MAX),
        }
    }
}

const COLUMNS: &str = "id, study_id, resident_id, failures, n_opens, created_at, expires_at, \
    revoked_at, last_opened_at, pin_hash";

fn link(row: &impl Row) -> Result<ShareLink> {
    Ok(ShareLink {
        id: row.col("id")?,
        study_id: row.col("study_id")?,
        resident_id: row.col("resident_id")?,
        failures: row.col("failures")?,
        n_opens: row.col("n_opens")?,
        created_at: row.col("created_at")?,
        expires_at: row.col("expires_at")?,
        revoked_at: row.col("revoked_at")?,
        last_opened_at: row.col("last_opened_at")?,
        pin_hash: row.col("pin_hash")?,
    })
}

fn pin_hash(store: &Store, id: i64, pin: &str) -> Vec<u8> {
    store
        .keys()
        .token_hash(&format!("share-link-pin:{id}:{pin}"))
}

/// Whether `pin` is the link's PIN (constant-time comparison of the hashes).
pub(crate) fn pin_matches(store: &Store, link: &ShareLink, pin: &str) -> bool {
    let want = pin_hash(store, link.id, pin);
    want.len() == link.pin_hash.len()
        && want
            .iter()
            .zip(&link.pin_hash)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Create a link to `study_id` with `pin`; returns the id and the token (shown once).
pub(crate) async fn create(
    store: &Store,
    study_id: i64,
    resident_id: i64,
    created_by: i64,
    pin: &str,
    lasts: Duration,
    event: Event,
) -> Result<(i64, String)> {
    let token = crate::crypto::random_token();
    let now = crate::now();
    let mut tx = store.begin().await?;
    let id: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO imaging_share_link (study_id, resident_id, token_hash, pin_hash, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(study_id)
        .bind(resident_id)
        .bind(store.keys().token_hash(&token))
        .bind(Vec::<u8>::new())
        .bind(created_by)
        .bind(now)
        .bind(now + lasts)
        .fetch_one(&mut *conn)
        .await
    })?;
    on_tx!(&mut tx, |conn| {
        sqlx::query("UPDATE imaging_share_link SET pin_hash = $2 WHERE id = $1")
            .bind(id)
            .bind(pin_hash(store, id, pin))
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?;
    audit::append_in(
        &mut tx,
        store.keys().audit_key(),
        &event.object("imaging_share_link", id),
    )
    .await?;
    tx.commit().await?;
    Ok((id, token))
}

/// The link a token names.
pub(crate) async fn by_token(store: &Store, token: &str) -> Result<ShareLink> {
    let sql = format!("SELECT {COLUMNS} FROM imaging_share_link WHERE token_hash = $1");
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(store.keys().token_hash(token))
            .fetch_optional(pool)
            .await?;
        row.as_ref()
            .map(link)
            .transpose()?
            .ok_or(StoreError::NotFound("imaging_share_link"))
    })
}

/// The links of a resident, newest first.
pub(crate) async fn of_resident(store: &Store, resident_id: i64) -> Result<Vec<ShareLink>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM imaging_share_link WHERE resident_id = $1 ORDER BY created_at DESC, id DESC LIMIT 100"
    );
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(resident_id)
            .fetch_all(pool)
            .await?;
        rows.iter().map(link).collect::<Result<Vec<_>>>()
    })
}

/// Store a PIN attempt's outcome (the new failure count; an open counts and stamps the
/// time) with its audit event, in one transaction.
pub(crate) async fn record_attempt(
    store: &Store,
    id: i64,
    failures: u32,
    opened: bool,
    event: Event,
) -> Result<()> {
    let now = crate::now();
    let mut tx = store.begin().await?;
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE imaging_share_link SET failures = $2, \
             n_opens = n_opens + $3, last_opened_at = CASE WHEN $3 = 1 THEN $4 ELSE last_opened_at END \
             WHERE id = $1",
        )
        .bind(id)
        .bind(i64::from(failures))
        .bind(i64::from(opened))
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })?;
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Revoke a link (idempotent) with its audit event.
pub(crate) async fn revoke(store: &Store, id: i64, event: Event) -> Result<()> {
    let now = crate::now();
    let mut tx = store.begin().await?;
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE imaging_share_link SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })?;
    audit::append_in(
        &mut tx,
        store.keys().audit_key(),
        &event.object("imaging_share_link", id),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One link by id.
pub(crate) async fn by_id(store: &Store, id: i64) -> Result<ShareLink> {
    let sql = format!("SELECT {COLUMNS} FROM imaging_share_link WHERE id = $1");
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await?;
        row.as_ref()
            .map(link)
            .transpose()?
            .ok_or(StoreError::NotFound("imaging_share_link"))
    })
}
