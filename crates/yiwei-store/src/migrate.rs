//! Schema migrations, one list per backend, embedded in the binary and run at start.
//!
//! Each migration runs in its own transaction together with its row in
//! `schema_migrations`, so a failed migration leaves the schema as it was. On PostgreSQL an
//! advisory lock keeps several starting processes from migrating at once.

use crate::{Backend, Result, Store, StoreError, on_pool};

/// (version, name, SQL) for SQLite.
const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../migrations/sqlite/0001_foundation.sql"),
    ),
    (
        2,
        "jobs",
        include_str!("../migrations/sqlite/0002_jobs.sql"),
    ),
    (
        3,
        "residents",
        include_str!("../migrations/sqlite/0003_residents.sql"),
    ),
    (
        4,
        "encounters",
        include_str!("../migrations/sqlite/0004_encounters.sql"),
    ),
    (
        5,
        "population",
        include_str!("../migrations/sqlite/0005_population.sql"),
    ),
    (
        6,
        "contracts",
        include_str!("../migrations/sqlite/0006_contracts.sql"),
    ),
    (
        7,
        "programmes",
        include_str!("../migrations/sqlite/0007_programmes.sql"),
    ),
    (
        8,
        "notifiable",
        include_str!("../migrations/sqlite/0008_notifiable.sql"),
    ),
    (
        9,
        "match_weights",
        include_str!("../migrations/sqlite/0009_match_weights.sql"),
    ),
    // 8 and 10 are taken by work in progress on other branches.
    (
        11,
        "booking",
        include_str!("../migrations/sqlite/0011_booking.sql"),
    ),
    (
        12,
        "foodborne_review",
        include_str!("../migrations/sqlite/0012_foodborne_review.sql"),
    ),
    // imaging
    (
        13,
        "imaging",
        include_str!("../migrations/sqlite/0013_imaging.sql"),
    ),
    // cost alerts (防返贫监测预警)
    (
        14,
        "cost_alert",
        include_str!("../migrations/sqlite/0014_cost_alert.sql"),
    ),
    // indicators
    (
        15,
        "indicators",
        include_str!("../migrations/sqlite/0015_indicators.sql"),
    ),
    // recognition (reports, 互认, share links)
    (
        16,
        "recognition",
        include_str!("../migrations/sqlite/0016_recognition.sql"),
    ),
    (
        17,
        "exam_corrections",
        include_str!("../migrations/sqlite/0017_exam_corrections.sql"),
    ),
];

/// (version, name, SQL) for PostgreSQL.
const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../migrations/postgres/0001_foundation.sql"),
    ),
    (
        2,
        "jobs",
        include_str!("../migrations/postgres/0002_jobs.sql"),
    ),
    (
        3,
        "residents",
        include_str!("../migrations/postgres/0003_residents.sql"),
    ),
    (
        4,
        "encounters",
        include_str!("../migrations/postgres/0004_encounters.sql"),
    ),
    (
        5,
        "population",
        include_str!("../migrations/postgres/0005_population.sql"),
    ),
    (
        6,
        "contracts",
        include_str!("../migrations/postgres/0006_contracts.sql"),
    ),
    (
        7,
        "programmes",
        include_str!("../migrations/postgres/0007_programmes.sql"),
    ),
    (
        8,
        "notifiable",
        include_str!("../migrations/postgres/0008_notifiable.sql"),
    ),
    (
        9,
        "match_weights",
        include_str!("../migrations/postgres/0009_match_weights.sql"),
    ),
    // 8 and 10 are taken by work in progress on other branches.
    (
        11,
        "booking",
        include_str!("../migrations/postgres/0011_booking.sql"),
    ),
    (
        12,
        "foodborne_review",
        include_str!("../migrations/postgres/0012_foodborne_review.sql"),
    ),
    // imaging
    (
        13,
        "imaging",
        include_str!("../migrations/postgres/0013_imaging.sql"),
    ),
    // cost alerts (防返贫监测预警)
    (
        14,
        "cost_alert",
        include_str!("../migrations/postgres/0014_cost_alert.sql"),
    ),
    // indicators
    (
        15,
        "indicators",
        include_str!("../migrations/postgres/0015_indicators.sql"),
    ),
    // recognition (reports, 互认, share links)
    (
        16,
        "recognition",
        include_str!("../migrations/postgres/0016_recognition.sql"),
    ),
    (
        17,
        "exam_corrections",
        include_str!("../migrations/postgres/0017_exam_corrections.sql"),
    ),
];

/// Every schema version this build knows, oldest first. Versions need not be consecutive:
/// numbers are handed out to work in progress before it lands.
pub fn versions() -> Vec<i64> {
    SQLITE.iter().map(|m| m.0).collect()
}

/// The newest schema version this build knows.
pub fn latest_version() -> i64 {
    SQLITE.last().map_or(0, |m| m.0)
}

pub(crate) async fn run(store: &Store) -> Result<()> {
    let list = match store.backend() {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    on_pool!(store, |pool| {
        let mut conn = pool.acquire().await?;
        if store.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_lock(7256001)")
                .execute(&mut *conn)
                .await?;
        }
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .execute(&mut *conn)
        .await?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(&mut *conn)
            .await?;
        if let Some(newer) = applied.iter().find(|v| **v > latest_version()) {
            return Err(StoreError::Invalid(format!(
                "the database has schema version {newer}, newer than this build knows ({}); \
                 run a newer yiwei",
                latest_version()
            )));
        }
        for (version, name, sql) in list {
            if applied.contains(version) {
                continue;
            }
            tracing::info!(
                migration.version = version,
                migration.name = name,
                "migrating"
            );
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(version)
            .bind(*name)
            .bind(crate::now().to_rfc3339())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        if store.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_unlock(7256001)")
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    })
}

/// The schema version the database is at.
pub async fn current_version(store: &Store) -> Result<i64> {
    let v: Option<i64> = on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(pool)
            .await
    })?;
    Ok(v.unwrap_or(0))
}
