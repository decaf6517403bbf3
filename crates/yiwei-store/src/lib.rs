//! Storage for yiwei over SQLite (embedded, the default) or PostgreSQL.
//!
//! One concrete [`Store`], with a module per domain area. SQL strings sit next to the
//! function that runs them and use `$1`-style parameters, which both drivers accept; where
//! the dialects differ the function branches inside with [`on_pool!`]. Migrations are kept
//! per backend under `migrations/{sqlite,postgres}/` and run at start. The conformance
//! suite in `tests/it` runs every query on both backends.
//!
//! What this crate does not do: decide business rules (that is `yiwei-domain`) or shape
//! HTTP responses (that is `yiwei-web`). It does own the three cross-cutting guarantees
//! that must hold whatever calls it: the audit chain ([`audit`]), field encryption of
//! identity and phone numbers ([`crypto`]), and the personal-record access check
//! ([`access`]), so that no caller can read a resident without passing through them.

pub mod access;
pub mod audit;
pub mod backup;
pub mod booking;
pub mod contract;
pub mod cost_alert;
pub mod crypto;
pub mod division;
pub mod empi;
pub mod encounter;
mod error;
mod group_commit;
pub mod imaging;
pub mod imaging_report;
pub mod immunization;
pub mod import;
pub mod indicator;
pub mod job;
pub mod migrate;
pub mod notifiable;
pub mod org;
pub mod programme;
pub mod programme_indicator;
pub mod quality;
pub mod read_window;
pub mod recognition;
pub mod referral;
pub mod resident;
pub mod session;
pub mod share_link;
pub mod user;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use crypto::Keys;
pub use error::StoreError;
pub use group_commit::BoxFuture;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The connection pool of one backend.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Which database a [`Store`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Run `$body` with `$pool` bound to the backend's pool. The body is compiled once per
/// backend, so it may use anything both drivers accept (`sqlx::query`, `.bind`, row `col`).
#[macro_export]
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store.pool() {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}

/// A write transaction on either backend. On SQLite it starts with `BEGIN IMMEDIATE`, so
/// it holds the write lock from the start and never fails half-way on a busy database.
pub enum Tx<'a> {
    Sqlite(sqlx::Transaction<'a, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'a, sqlx::Postgres>),
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tx")
    }
}

impl Tx<'_> {
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// Run `$body` with `$conn` bound to the transaction's connection (`&mut SqliteConnection`
/// or `&mut PgConnection`); like [`on_pool!`], the body is compiled once per backend.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::Tx::Sqlite(t) => {
                let $conn: &mut sqlx::SqliteConnection = &mut **t;
                $body
            }
            $crate::Tx::Postgres(t) => {
                let $conn: &mut sqlx::PgConnection = &mut **t;
                $body
            }
        }
    };
}

/// A column value type that both backends can decode.
pub trait Col:
    for<'r> sqlx::Decode<'r, sqlx::Sqlite>
    + sqlx::Type<sqlx::Sqlite>
    + for<'r> sqlx::Decode<'r, sqlx::Postgres>
    + sqlx::Type<sqlx::Postgres>
{
}

impl<T> Col for T where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
{
}

/// A result row of either backend, so row mapping is written once.
pub trait Row {
    fn col<T: Col>(&self, name: &str) -> std::result::Result<T, sqlx::Error>;
}

impl Row for sqlx::sqlite::SqliteRow {
    fn col<T: Col>(&self, name: &str) -> std::result::Result<T, sqlx::Error> {
        sqlx::Row::try_get(self, name)
    }
}

impl Row for sqlx::postgres::PgRow {
    fn col<T: Col>(&self, name: &str) -> std::result::Result<T, sqlx::Error> {
        sqlx::Row::try_get(self, name)
    }
}

/// The handle every part of yiwei stores through. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    /// On SQLite, the connection write transactions run on (see [`Store::begin`]).
    writer: Option<SqlitePool>,
    /// On SQLite, the queue that commits concurrent writes in groups ([`Store::write`]).
    committer: Option<group_commit::Committer>,
    keys: Keys,
    /// Study reads audited in the last minute (see [`read_window`]).
    reads: std::sync::Arc<read_window::ReadWindow>,
}

/// Where the embedded database lives inside the data folder.
pub const SQLITE_FILE: &str = "yiwei.db";

impl Store {
    /// Open `database_url` (`sqlite://…` or `postgres://…`), run pending migrations, and
    /// return the store. An empty URL means SQLite in `data_dir`.
    pub async fn open(database_url: &str, data_dir: &Path, keys: Keys) -> Result<Store> {
        let mut writer = None;
        let pool = if database_url.is_empty() || database_url.starts_with("sqlite:") {
            let options = if database_url.is_empty() {
                std::fs::create_dir_all(data_dir).map_err(|e| {
                    StoreError::Unavailable(format!("cannot create {}: {e}", data_dir.display()))
                })?;
                SqliteConnectOptions::new().filename(data_dir.join(SQLITE_FILE))
            } else {
                SqliteConnectOptions::from_str(database_url)?
            };
            let options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options.clone())
                .await?;
            // SQLite lets one connection write at a time. Write transactions take their
            // turn on this one connection, in the pool's fair queue, instead of eight
            // connections sleeping in SQLite's busy handler (whose back-off of up to
            // 100 ms made the tail latency of concurrent bookings). Correctness does not
            // rest on it: `BEGIN IMMEDIATE` and the constraints still hold against other
            // processes on the same file.
            writer = Some(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options)
                    .await?,
            );
            Pool::Sqlite(pool)
        } else if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(database_url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Pool::Postgres(pool)
        } else {
            return Err(StoreError::Invalid(format!(
                "database URL must start with sqlite: or postgres:, got {:?}",
                database_url.split(':').next().unwrap_or_default()
            )));
        };
        let committer = writer.clone().map(group_commit::Committer::start);
        let store = Store {
            pool,
            writer,
            committer,
            keys,
            reads: Default::default(),
        };
        migrate::run(&store).await?;
        Ok(store)
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The reads of this process audited in the last minute (see [`read_window`]).
    pub fn recent_reads(&self) -> &read_window::ReadWindow {
        &self.reads
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Start a write transaction.
    pub async fn begin(&self) -> Result<Tx<'static>> {
        Ok(match &self.pool {
            Pool::Sqlite(pool) => Tx::Sqlite(
                self.writer
                    .as_ref()
                    .unwrap_or(pool)
                    .begin_with("BEGIN IMMEDIATE")
                    .await?,
            ),
            Pool::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Run `f` as a write transaction and commit it. On SQLite concurrent calls are
    /// committed in groups, each call in its own savepoint, and each caller answered after
    /// its group's commit (see `group_commit`); on PostgreSQL it is one transaction per
    /// call. `f` must not start another write itself (it would wait for the writer it runs
    /// on). An `Err` from `f` rolls back everything `f` did and nothing else.
    pub async fn write<T, E, F>(&self, f: F) -> std::result::Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'a> FnOnce(&'a mut Tx<'static>) -> BoxFuture<'a, std::result::Result<T, E>>
            + Send
            + 'static,
    {
        let f = match &self.committer {
            Some(committer) => match committer.submit(f).await {
                Ok(out) => return out,
                Err(f) => f,
            },
            None => f,
        };
        let mut tx = self.begin().await?;
        let out = f(&mut tx).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Whether the database answers; used by `/healthz`.
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        on_pool!(self, |pool| pool.close().await)
    }
}

/// The current instant, truncated to microseconds: both backends keep exactly this much,
/// so what is written reads back equal.
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}
