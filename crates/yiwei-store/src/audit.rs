//! The append-only, hash-chained audit log (审计日志).
//!
//! Every read and change of a resident's personal data, every login and failed login, and
//! every break-glass is one row. Row `n` carries
//! `hash_n = HMAC-SHA256(audit_key, hash_{n-1} ‖ canonical(row_n))`, with the chain head
//! (`seq`, last hash) kept in the single-row `audit_head` table. Appending first updates
//! the head (which takes the write lock on SQLite and a row lock on PostgreSQL), so
//! sequence numbers are gapless and two processes never fork the chain.
//!
//! Tampering shows up in [`verify`]: an edited row breaks its hash, a deleted row leaves a
//! gap, and a deleted tail no longer matches the head. Triggers refuse UPDATE and DELETE
//! (and TRUNCATE on PostgreSQL) as a first line; the keyed hash is the second, for someone
//! who drops the triggers but does not hold the key.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::{Result, Row, Store, StoreError, Tx, on_pool, on_tx};

/// Who did it. Absent for anonymous events (a failed login for an unknown name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Who {
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub role: Option<String>,
    pub institution_id: Option<i64>,
}

/// 操作: what was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Login,
    LoginFailed,
    Logout,
    /// Opened a personal record.
    Read,
    /// Revealed a masked identifier (ID card, phone).
    Reveal,
    Create,
    Update,
    Delete,
    /// 紧急授权: opened access outside reach with a reason.
    BreakGlass,
    /// A user account was added, disabled or had its password reset.
    UserAdmin,
    /// A personal read or change was refused.
    Denied,
    Backup,
    Restore,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::LoginFailed => "login_failed",
            Action::Logout => "logout",
            Action::Read => "read",
            Action::Reveal => "reveal",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::BreakGlass => "break_glass",
            Action::UserAdmin => "user_admin",
            Action::Denied => "denied",
            Action::Backup => "backup",
            Action::Restore => "restore",
        }
    }
}

/// One event to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub who: Who,
    pub action: Action,
    /// `ok` or `denied` or `failed`.
    pub outcome: &'static str,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub resident_id: Option<i64>,
    /// The access basis (`subtree`, `contract`, `break_glass`, …) or the refusal.
    pub basis: Option<String>,
    /// A free-text reason: break-glass reason, refusal message. Never personal data.
    pub reason: Option<String>,
    pub remote_addr: Option<String>,
}

impl Event {
    pub fn new(who: Who, action: Action) -> Event {
        Event {
            who,
            action,
            outcome: "ok",
            object_type: None,
            object_id: None,
            resident_id: None,
            basis: None,
            reason: None,
            remote_addr: None,
        }
    }

    pub fn outcome(mut self, outcome: &'static str) -> Event {
        self.outcome = outcome;
        self
    }

    pub fn object(mut self, object_type: &str, object_id: impl ToString) -> Event {
        self.object_type = Some(object_type.to_owned());
        self.object_id = Some(object_id.to_string());
        self
    }

    pub fn resident(mut self, resident_id: i64) -> Event {
        self.resident_id = Some(resident_id);
        self
    }

    pub fn basis(mut self, basis: &str) -> Event {
        self.basis = Some(basis.to_owned());
        self
    }

    pub fn reason(mut self, reason: &str) -> Event {
        self.reason = Some(reason.to_owned());
        self
    }

    pub fn from_addr(mut self, addr: Option<String>) -> Event {
        self.remote_addr = addr;
        self
    }
}

/// A stored audit row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub event: Event,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// The chain hash of a row, given the previous hash.
pub(crate) fn chain_hash(
    key: &[u8; 32],
    prev: &[u8],
    seq: i64,
    at: DateTime<Utc>,
    e: &Event,
) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(prev);
    mac.update(&seq.to_be_bytes());
    mac.update(&at.timestamp_micros().to_be_bytes());
    let text_fields: [Option<&str>; 10] = [
        e.who.username.as_deref(),
        e.who.role.as_deref(),
        Some(e.action.as_str()),
        Some(e.outcome),
        e.object_type.as_deref(),
        e.object_id.as_deref(),
        e.basis.as_deref(),
        e.reason.as_deref(),
        e.remote_addr.as_deref(),
        None,
    ];
    for field in text_fields {
        match field {
            Some(s) => {
                mac.update(&(s.len() as u32).to_be_bytes());
                mac.update(s.as_bytes());
            }
            None => mac.update(&u32::MAX.to_be_bytes()),
        }
    }
    for number in [e.who.user_id, e.who.institution_id, e.resident_id] {
        match number {
            Some(n) => {
                mac.update(&[1]);
                mac.update(&n.to_be_bytes());
            }
            None => mac.update(&[0]),
        }
    }
    mac.finalize().into_bytes().to_vec()
}

/// Append `event` inside `tx`, so that it commits or rolls back with the change it records.
pub async fn append_in(tx: &mut Tx<'_>, key: &[u8; 32], event: &Event) -> Result<i64> {
    let at = crate::now();
    on_tx!(tx, |conn| {
        let head =
            sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
                .fetch_one(&mut *conn)
                .await?;
        let seq: i64 = head.col("seq")?;
        let prev: Vec<u8> = head.col("hash")?;
        let hash = chain_hash(key, &prev, seq, at, event);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, user_id, username, role, institution_id, action, \
             outcome, object_type, object_id, resident_id, basis, reason, remote_addr, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(seq)
        .bind(at)
        .bind(event.who.user_id)
        .bind(event.who.username.as_deref())
        .bind(event.who.role.as_deref())
        .bind(event.who.institution_id)
        .bind(event.action.as_str())
        .bind(event.outcome)
        .bind(event.object_type.as_deref())
        .bind(event.object_id.as_deref())
        .bind(event.resident_id)
        .bind(event.basis.as_deref())
        .bind(event.reason.as_deref())
        .bind(event.remote_addr.as_deref())
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(&hash)
            .execute(&mut *conn)
            .await?;
        Ok(seq)
    })
}

/// Append `event` in a write of its own (on SQLite committed in a group with the other
/// writes waiting, see `Store::write`; the caller is answered after the commit).
pub async fn append(store: &Store, event: &Event) -> Result<i64> {
    let key = *store.keys().audit_key();
    let event = event.clone();
    store
        .write(move |tx| Box::pin(async move { append_in(tx, &key, &event).await }))
        .await
}

const COLUMNS: &str = "seq, at, user_id, username, role, institution_id, action, outcome, \
    object_type, object_id, resident_id, basis, reason, remote_addr, prev_hash, hash";

fn entry(row: &impl Row) -> Result<Entry> {
    let action: String = row.col("action")?;
    let outcome: String = row.col("outcome")?;
    Ok(Entry {
        seq: row.col("seq")?,
        at: row.col("at")?,
        event: Event {
            who: Who {
                user_id: row.col("user_id")?,
                username: row.col("username")?,
                role: row.col("role")?,
                institution_id: row.col("institution_id")?,
            },
            action: parse_action(&action)?,
            outcome: match outcome.as_str() {
                "ok" => "ok",
                "denied" => "denied",
                "failed" => "failed",
                _ => {
                    return Err(StoreError::Other(format!(
                        "unknown audit outcome {outcome:?}"
                    )));
                }
            },
            object_type: row.col("object_type")?,
            object_id: row.col("object_id")?,
            resident_id: row.col("resident_id")?,
            basis: row.col("basis")?,
            reason: row.col("reason")?,
            remote_addr: row.col("remote_addr")?,
        },
        prev_hash: row.col("prev_hash")?,
        hash: row.col("hash")?,
    })
}

fn parse_action(s: &str) -> Result<Action> {
    use Action::*;
    [
        Login,
        LoginFailed,
        Logout,
        Read,
        Reveal,
        Create,
        Update,
        Delete,
        BreakGlass,
        UserAdmin,
        Denied,
        Backup,
        Restore,
    ]
    .into_iter()
    .find(|a| a.as_str() == s)
    .ok_or_else(|| StoreError::Other(format!("unknown audit action {s:?}")))
}

/// What [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    pub checked: i64,
    /// The first problem, if any: the sequence number and what is wrong there.
    pub problem: Option<(i64, Problem)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The row's content does not match its hash: it was edited.
    HashMismatch,
    /// The row does not point at the previous row's hash.
    BrokenLink,
    /// A sequence number is missing: a row was deleted.
    Gap,
    /// The last row is not the head: the tail was deleted or the head altered.
    HeadMismatch,
}

impl Problem {
    pub fn describe(self) -> &'static str {
        match self {
            Problem::HashMismatch => "row content does not match its hash (edited)",
            Problem::BrokenLink => "row does not link to the previous row (rows replaced)",
            Problem::Gap => "sequence number missing (row deleted)",
            Problem::HeadMismatch => "last row does not match the chain head (tail deleted)",
        }
    }
}

/// Walk the whole chain in pages and check every link. `progress(done, total)` is called
/// after each page.
pub async fn verify(store: &Store, mut progress: impl FnMut(i64, i64)) -> Result<Verification> {
    const PAGE: i64 = 5_000;
    let key = store.keys().audit_key();
    let (head_seq, head_hash): (i64, Vec<u8>) = on_pool!(store, |pool| {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(pool)
            .await?;
        Ok::<_, StoreError>((row.col("seq")?, row.col("hash")?))
    })?;
    let mut prev_seq = 0i64;
    let mut prev_hash = vec![0u8; 32];
    let mut checked = 0i64;
    loop {
        let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        let rows: Vec<Entry> = on_pool!(store, |pool| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(prev_seq)
                .bind(PAGE)
                .fetch_all(pool)
                .await?;
            rows.iter().map(entry).collect::<Result<Vec<_>>>()
        })?;
        if rows.is_empty() {
            break;
        }
        for e in &rows {
            let problem = if e.seq != prev_seq + 1 {
                Some(Problem::Gap)
            } else if e.prev_hash != prev_hash {
                Some(Problem::BrokenLink)
            } else if chain_hash(key, &e.prev_hash, e.seq, e.at, &e.event) != e.hash {
                Some(Problem::HashMismatch)
            } else {
                None
            };
            if let Some(problem) = problem {
                // A gap is reported at the first missing number, like a deleted tail.
                let at = if problem == Problem::Gap {
                    prev_seq + 1
                } else {
                    e.seq
                };
                return Ok(Verification {
                    checked,
                    problem: Some((at, problem)),
                });
            }
            checked += 1;
            prev_seq = e.seq;
            prev_hash.clone_from(&e.hash);
        }
        progress(checked, head_seq);
    }
    if prev_seq != head_seq || prev_hash != head_hash {
        return Ok(Verification {
            checked,
            problem: Some((prev_seq + 1, Problem::HeadMismatch)),
        });
    }
    Ok(Verification {
        checked,
        problem: None,
    })
}

/// Who opened or changed this resident's record, newest first (for the resident's own
/// "who looked at my record" page and for reviewers).
pub async fn for_resident(
    store: &Store,
    resident_id: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<Entry>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_log WHERE resident_id = $1 ORDER BY seq DESC LIMIT $2 OFFSET $3"
    );
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(resident_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
        rows.iter().map(entry).collect()
    })
}

/// Filter for [`list`].
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub action: Option<String>,
    pub user_id: Option<i64>,
    pub outcome: Option<String>,
}

/// The newest entries matching `filter`.
pub async fn list(store: &Store, filter: &Filter, limit: i64, offset: i64) -> Result<Vec<Entry>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_log \
         WHERE ($1 IS NULL OR action = $1) AND ($2 IS NULL OR user_id = $2) \
           AND ($3 IS NULL OR outcome = $3) \
         ORDER BY seq DESC LIMIT $4 OFFSET $5"
    );
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(filter.action.as_deref())
            .bind(filter.user_id)
            .bind(filter.outcome.as_deref())
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
        rows.iter().map(entry).collect()
    })
}

/// Number of audit rows (the chain head's sequence number).
pub async fn count(store: &Store) -> Result<i64> {
    on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT seq FROM audit_head WHERE id = 1")
            .fetch_one(pool)
            .await
    })
    .map_err(Into::into)
}
