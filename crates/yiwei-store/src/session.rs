//! Web sessions and API bearer tokens.
//!
//! A session is a random 256-bit token in a cookie; the database keeps only its HMAC, so a
//! copy of the database does not let anyone log in. Sessions end when idle for longer than
//! the configured time, on logout, and when the user is disabled or their password reset.
//! Each session carries its own CSRF token, which every form must send back.
//!
//! API tokens are the same idea for programs: `Authorization: Bearer <token>`, with the
//! user's role and reach, revocable, optionally expiring.

use chrono::{DateTime, Duration, Utc};

use crate::crypto::random_token;
use crate::user::{User, user};
use crate::{Result, Row, Store, StoreError, on_pool};

/// A live session.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// What a cookie's token turned out to be.
#[derive(Clone, Debug)]
pub enum Lookup {
    Active(Session),
    /// The session existed but was idle too long (it is now deleted).
    Expired,
    /// No such session (never existed, logged out, or ended by an administrator).
    Unknown,
}

/// How often `last_seen_at` is written at most; reads inside this window cost no write.
const TOUCH_EVERY: Duration = Duration::seconds(30);

/// Start a session for `user_id`; returns the cookie token.
pub async fn create(store: &Store, user_id: i64) -> Result<String> {
    let token = random_token();
    let now = crate::now();
    on_pool!(store, |pool| {
        sqlx::query(
            "INSERT INTO web_session (token_hash, user_id, csrf_token, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(store.keys().token_hash(&token))
        .bind(user_id)
        .bind(random_token())
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(token)
}

/// Find the session of a cookie token, ending it if idle longer than `idle`.
pub async fn lookup(store: &Store, token: &str, idle: Duration) -> Result<Lookup> {
    let hash = store.keys().token_hash(token);
    let now = crate::now();
    let found = on_pool!(store, |pool| {
        let row = sqlx::query(
            "SELECT s.csrf_token, s.created_at AS session_created_at, \
             s.last_seen_at AS session_last_seen_at, u.* FROM web_session s \
             JOIN app_user u ON u.id = s.user_id WHERE s.token_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(pool)
        .await?;
        row.map(|row| {
            Ok::<_, StoreError>(Session {
                user: user(&row)?,
                csrf_token: row.col("csrf_token")?,
                created_at: row.col("session_created_at")?,
                last_seen_at: row.col("session_last_seen_at")?,
            })
        })
        .transpose()
    })?;
    let Some(mut session) = found else {
        return Ok(Lookup::Unknown);
    };
    if session.user.disabled {
        end(store, token).await?;
        return Ok(Lookup::Unknown);
    }
    if now - session.last_seen_at > idle {
        end(store, token).await?;
        return Ok(Lookup::Expired);
    }
    if now - session.last_seen_at > TOUCH_EVERY {
        on_pool!(store, |pool| {
            sqlx::query("UPDATE web_session SET last_seen_at = $1 WHERE token_hash = $2")
                .bind(now)
                .bind(&hash)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        session.last_seen_at = now;
    }
    Ok(Lookup::Active(session))
}

/// End one session (logout).
pub async fn end(store: &Store, token: &str) -> Result<()> {
    let hash = store.keys().token_hash(token);
    on_pool!(store, |pool| {
        sqlx::query("DELETE FROM web_session WHERE token_hash = $1")
            .bind(hash)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Delete every session idle longer than `idle` (run by a periodic job); returns how many.
pub async fn sweep(store: &Store, idle: Duration) -> Result<u64> {
    let cutoff = crate::now() - idle;
    let n = on_pool!(store, |pool| {
        sqlx::query("DELETE FROM web_session WHERE last_seen_at < $1")
            .bind(cutoff)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n)
}

/// Issue an API token for `user_id`; the token is shown once and only its hash is kept.
pub async fn create_api_token(
    store: &Store,
    user_id: i64,
    label: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<String> {
    let token = format!("yw_{}", random_token());
    on_pool!(store, |pool| {
        sqlx::query(
            "INSERT INTO api_token (token_hash, user_id, label, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(store.keys().token_hash(&token))
        .bind(user_id)
        .bind(label)
        .bind(crate::now())
        .bind(expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(token)
}

/// The user behind a bearer token, if it is valid, unexpired, unrevoked and the user is
/// enabled.
pub async fn api_token_user(store: &Store, token: &str) -> Result<Option<User>> {
    let hash = store.keys().token_hash(token);
    let now = crate::now();
    on_pool!(store, |pool| {
        let row = sqlx::query(
            "SELECT u.* FROM api_token t JOIN app_user u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL \
             AND (t.expires_at IS NULL OR t.expires_at > $2) AND NOT u.disabled",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(pool)
        .await?;
        row.map(|r| user(&r)).transpose()
    })
}

/// Revoke every API token of `user_id` with this label; returns how many.
pub async fn revoke_api_tokens(store: &Store, user_id: i64, label: &str) -> Result<u64> {
    let n = on_pool!(store, |pool| {
        sqlx::query(
            "UPDATE api_token SET revoked_at = $1 WHERE user_id = $2 AND label = $3 AND revoked_at IS NULL",
        )
        .bind(crate::now())
        .bind(user_id)
        .bind(label)
        .execute(pool)
        .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n)
}
