//! The backend conformance suite of yiwei-store: every test runs on SQLite (a fresh file in a
//! temporary folder) and on PostgreSQL (a fresh database on the server named by
//! `YIWEI_TEST_PG_URL`, dropped afterwards). Without that variable the PostgreSQL variants
//! print a skip message, unless `YIWEI_REQUIRE_PG=1`, which makes them fail instead.

/// `conformance!(name)` turns `async fn name(store: Store)` into the two tests
/// `name::sqlite` and `name::postgres`.
macro_rules! conformance {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = crate::support::TestDb::sqlite().await;
                super::$name(db.store()).await;
                db.finish().await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(db) = crate::support::TestDb::postgres().await else {
                    return;
                };
                super::$name(db.store()).await;
                db.finish().await;
            }
        }
    };
}

mod access;
mod audit;
mod backup;
mod booking;
mod bulk;
mod contracts;
mod cost_alert;
mod crypto;
mod empi_weights;
mod encounters;
mod imaging;
mod immunization;
mod import;
mod indicators;
mod jobs;
mod notifiable;
mod programme_indicators;
mod programmes;
mod quality;
mod recognition;
mod residents;
mod schema;
mod sessions;
mod support;
mod users;
