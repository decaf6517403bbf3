//! 影像诊断报告 (radiology reports) of the imaging cloud's studies: every version kept, the
//! current one being the highest. The state rules are `yiwei_domain::report`; this module
//! only writes what the gate (`crate::access::recognition`) decided.
//!
//! Drafts and AI drafts are edited in place (one version); signing fixes that version; an
//! amendment inserts the next version, already signed, and leaves the old one untouched.
//!
//! Schema: migrations/*/0016_recognition.sql (`imaging_report`).

use chrono::{DateTime, NaiveDate, Utc};
use yiwei_domain::report::{Content, Status};

use crate::audit::{self, Event};
use crate::{Result, Row, Store, StoreError, on_pool, on_tx};

/// One version of a study's report.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub id: i64,
    pub study_id: i64,
    pub resident_id: Option<i64>,
    pub version: i64,
    pub status: Status,
    pub findings: String,
    pub impression: String,
    pub amend_reason: String,
    /// The reading model a draft started from (provenance).
    pub ai_model: Option<String>,
    pub author_id: Option<i64>,
    pub signer_id: Option<i64>,
    pub signed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, study_id, resident_id, version, status, findings, impression, \
    amend_reason, ai_model, author_id, signer_id, signed_at, created_at, updated_at";

fn report(row: &impl Row) -> Result<Report> {
    let status: String = row.col("status")?;
    Ok(Report {
        id: row.col("id")?,
        study_id: row.col("study_id")?,
        resident_id: row.col("resident_id")?,
        version: row.col("version")?,
        status: Status::parse(&status)
            .ok_or_else(|| StoreError::Other(format!("stored report status {status:?}")))?,
        findings: row.col("findings")?,
        impression: row.col("impression")?,
        amend_reason: row.col("amend_reason")?,
        ai_model: row.col("ai_model")?,
        author_id: row.col("author_id")?,
        signer_id: row.col("signer_id")?,
        signed_at: row.col("signed_at")?,
        created_at: row.col("created_at")?,
        updated_at: row.col("updated_at")?,
    })
}

/// Every version of a study's report, newest first (empty when none was started).
pub(crate) async fn versions(store: &Store, study_id: i64) -> Result<Vec<Report>> {
    let sql =
        format!("SELECT {COLUMNS} FROM imaging_report WHERE study_id = $1 ORDER BY version DESC");
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(study_id)
            .fetch_all(pool)
            .await?;
        rows.iter().map(report).collect::<Result<Vec<_>>>()
    })
}

/// One report version by id.
pub(crate) async fn by_id(store: &Store, id: i64) -> Result<Report> {
    let sql = format!("SELECT {COLUMNS} FROM imaging_report WHERE id = $1");
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await?;
        row.as_ref()
            .map(report)
            .transpose()?
            .ok_or(StoreError::NotFound("imaging_report"))
    })
}

/// What a search of reports matches (FHIR DiagnosticReport search).
#[derive(Clone, Debug, Default)]
pub struct ReportQuery {
    pub resident_id: Option<i64>,
    pub status: Option<Status>,
    /// On the date of the last change (signing for signed reports), county date.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Only the current (highest) version of each study's report.
    pub current_only: bool,
    pub limit: i64,
    pub offset: i64,
}

/// Reports of `resident_id` (the gate has checked the resident), newest first.
pub(crate) async fn search(store: &Store, q: &ReportQuery) -> Result<Vec<Report>> {
    let current = if q.current_only {
        " AND version = (SELECT MAX(x.version) FROM imaging_report x WHERE x.study_id = imaging_report.study_id)"
    } else {
        ""
    };
    // County dates as UTC instants: [from 00:00+08, to+1 00:00+08).
    let offset = chrono::Duration::hours(crate::recognition::COUNTY_OFFSET_HOURS);
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() - offset;
    // Open ends as far dates both backends compare correctly (SQLite compares the text).
    let far = |y| NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or_default();
    let from = midnight(q.from.unwrap_or(far(1900)));
    let to = midnight(q.to.map_or(far(9999), |d| d + chrono::Duration::days(1)));
    let sql = format!(
        "SELECT {COLUMNS} FROM imaging_report WHERE ($1 = 0 OR resident_id = $1) \
         AND ($2 = '' OR status = $2) AND updated_at >= $3 AND updated_at < $4{current} \
         ORDER BY updated_at DESC, id DESC LIMIT $5 OFFSET $6"
    );
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(q.resident_id.unwrap_or(0))
            .bind(q.status.map(Status::as_str).unwrap_or(""))
            .bind(from)
            .bind(to)
            .bind(q.limit.clamp(1, 1000))
            .bind(q.offset.max(0))
            .fetch_all(pool)
            .await?;
        rows.iter().map(report).collect::<Result<Vec<_>>>()
    })
}

/// Write the report of `study_id` in state `status` (already decided by the domain rule
/// against the current version): a new first version, an in-place edit of an unsigned
/// current version, or (for `Amended`) a new signed version. `event` is the gate's
/// allowed event, appended in the same transaction. Returns the written version's id.
#[expect(
    clippy::too_many_arguments,
    reason = "one row of the report table, written whole"
)]
pub(crate) async fn write(
    store: &Store,
    study_id: i64,
    resident_id: Option<i64>,
    status: Status,
    content: &Content,
    author_id: Option<i64>,
    ai_model: Option<&str>,
    event: Event,
) -> Result<i64> {
    let now = crate::now();
    let signer = if status.is_signed() { author_id } else { None };
    let signed_at = status.is_signed().then_some(now);
    let mut tx = store.begin().await?;
    let current: Option<(i64, i64, String)> = on_tx!(&mut tx, |conn| {
        sqlx::query_as(
            "SELECT id, version, status FROM imaging_report WHERE study_id = $1 \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(study_id)
        .fetch_optional(&mut *conn)
        .await
    })?;
    let in_place = match &current {
        Some((_, _, s)) => {
            !Status::parse(s).is_some_and(Status::is_signed) && status != Status::Amended
        }
        None => false,
    };
    let id: i64 = if let (true, Some((id, _, _))) = (in_place, &current) {
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE imaging_report SET status = $2, findings = $3, impression = $4, \
                 author_id = COALESCE($5, author_id), signer_id = $6, signed_at = $7, \
                 updated_at = $8 WHERE id = $1",
            )
            .bind(id)
            .bind(status.as_str())
            .bind(content.findings.trim())
            .bind(content.impression.trim())
            .bind(author_id)
            .bind(signer)
            .bind(signed_at)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map(|_| ())
        })?;
        *id
    } else {
        let version = current.as_ref().map_or(1, |c| c.1 + 1);
        on_tx!(&mut tx, |conn| {
            sqlx::query_scalar(
                "INSERT INTO imaging_report (study_id, resident_id, version, status, findings, \
                 impression, amend_reason, ai_model, author_id, signer_id, signed_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
            )
            .bind(study_id)
            .bind(resident_id)
            .bind(version)
            .bind(status.as_str())
            .bind(content.findings.trim())
            .bind(content.impression.trim())
            .bind(content.amend_reason.trim())
            .bind(ai_model)
            .bind(author_id)
            .bind(signer)
            .bind(signed_at)
            .bind(now)
            .fetch_one(&mut *conn)
            .await
        })?
    };
    audit::append_in(
        &mut tx,
        store.keys().audit_key(),
        &event.object("imaging_report", id),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}
