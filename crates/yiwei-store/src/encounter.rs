//! Encounters (就诊/服务记录) from any institution and the health exams (健康体检表) among
//! them: one timeline per resident.
//!
//! An encounter is one row: who (the resident, and the village they belonged to at the
//! time), where (the institution), who wrote it (the author), what kind
//! (`yiwei_domain::exam::EncounterKind`), when it started, a summary and the diagnoses. A
//! health exam adds one `health_exam` row with the figures of the form as typed columns
//! and the other sections as one JSON object.
//!
//! The timeline of a record includes the encounters of records the master patient index
//! merged into it, so a person entered twice still has one history.
//!
//! The readers of content ([`timeline`], [`get_exam`], [`get`]) and the writers are
//! `pub(crate)`: callers outside the crate go through [`crate::access`], which checks the
//! viewer's reach and audits. [`last_encounter_at`], [`last_encounters_within`] and
//! [`count_with_encounter_since`] return only ids and instants, for the EHR-quality rule
//! "an exam or visit in the last year" and the 档案使用率 indicator; they are public like
//! [`crate::resident::scope`].

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::exam::{self, EncounterKind, Measurements, Ranges};

use crate::audit::{self, Event};
use crate::{Result, Row, Store, StoreError, Tx, on_pool, on_tx};

/// The longest summary kept (characters).
pub const MAX_SUMMARY_CHARS: usize = 4000;
/// The most diagnoses on one encounter, and the longest one (characters).
pub const MAX_DIAGNOSES: usize = 30;
pub const MAX_DIAGNOSIS_CHARS: usize = 200;
/// The largest `sections` object kept (bytes of JSON).
pub const MAX_SECTIONS_BYTES: usize = 64 * 1024;

/// A new encounter summary.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEncounter {
    pub kind: EncounterKind,
    /// Where it took place; `None` means the author's institution.
    pub institution_id: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub summary: String,
    /// Diagnoses as written (ICD-10 code and/or name); empty entries are dropped.
    pub diagnoses: Vec<String>,
}

/// A new health exam (健康体检表): an encounter of kind `health_exam` with its form.
#[derive(Clone, Debug, PartialEq)]
pub struct NewExam {
    /// Where it took place; `None` means the author's institution.
    pub institution_id: Option<i64>,
    pub started_at: DateTime<Utc>,
    /// 体检日期, the county's local date of `started_at`.
    pub exam_date: NaiveDate,
    /// 健康评价 in a sentence, shown on the timeline.
    pub summary: String,
    /// 现存主要健康问题 as diagnoses.
    pub diagnoses: Vec<String>,
    /// The figures as typed; BMI is computed on write.
    pub measurements: Measurements,
    /// 老年人生活自理能力自我评估 code (`yiwei_domain::exam::SELF_CARE`).
    pub self_care: Option<String>,
    /// 老年人认知功能 code.
    pub cognition: Option<String>,
    /// 老年人情感状态 code.
    pub emotion: Option<String>,
    /// The other sections of the form, a JSON object (or null for none).
    pub sections: Value,
}

/// The typed part of a stored exam.
#[derive(Clone, Debug, PartialEq)]
pub struct ExamFigures {
    pub exam_date: NaiveDate,
    pub measurements: Measurements,
    pub self_care: Option<String>,
    pub cognition: Option<String>,
    pub emotion: Option<String>,
}

/// A stored encounter, as the timeline shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Encounter {
    pub id: i64,
    /// The record it was written on (a record merged into the one asked for, possibly).
    pub resident_id: i64,
    /// The resident's village when it was written.
    pub division: DivisionCode,
    pub institution_id: i64,
    pub institution_name: String,
    pub author_id: Option<i64>,
    /// The author's display name (staff, not personal data of the resident).
    pub author_name: Option<String>,
    pub kind: EncounterKind,
    pub started_at: DateTime<Utc>,
    pub summary: String,
    pub diagnoses: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// The exam's figures, for a health exam.
    pub exam: Option<ExamFigures>,
    /// Bumped by each correction; a correction names the version it corrects.
    pub version: i64,
    /// When and why it was voided (作废); a voided encounter stays readable but leaves the
    /// timeline, the quality checks and the figures.
    pub voided: Option<(DateTime<Utc>, String)>,
}

/// A stored health exam: the encounter (with `exam` set) and the other sections.
#[derive(Clone, Debug, PartialEq)]
pub struct Exam {
    pub encounter: Encounter,
    pub sections: Value,
}

/// Which encounters of a timeline: `from` inclusive, `to` exclusive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TimelineFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Health exams only.
    pub exams_only: bool,
}

const MEASUREMENT_COLUMNS: [(exam::Field, &str); 12] = [
    (exam::Field::Temperature, "temperature"),
    (exam::Field::Pulse, "pulse"),
    (exam::Field::Respiration, "respiration"),
    (exam::Field::BpLeftSys, "bp_left_sys"),
    (exam::Field::BpLeftDia, "bp_left_dia"),
    (exam::Field::BpRightSys, "bp_right_sys"),
    (exam::Field::BpRightDia, "bp_right_dia"),
    (exam::Field::Height, "height_cm"),
    (exam::Field::Weight, "weight_kg"),
    (exam::Field::Waist, "waist_cm"),
    (exam::Field::Bmi, "bmi"),
    (exam::Field::FastingGlucose, "fasting_glucose_mmol"),
];

const COLUMNS: &str = "e.id, e.resident_id, e.division_code, e.institution_id, i.name AS institution_name, \
    e.author_id, u.display_name AS author_name, e.kind, e.started_at, e.summary, e.diagnoses, \
    e.created_at, e.version, e.voided_at, e.void_reason, x.encounter_id AS exam_id, x.exam_date, x.temperature, x.pulse, x.respiration, \
    x.bp_left_sys, x.bp_left_dia, x.bp_right_sys, x.bp_right_dia, x.height_cm, x.weight_kg, \
    x.waist_cm, x.bmi, x.fasting_glucose_mmol, x.self_care, x.cognition, x.emotion";

const FROM: &str = "FROM encounter e JOIN institution i ON i.id = e.institution_id \
    LEFT JOIN app_user u ON u.id = e.author_id \
    LEFT JOIN health_exam x ON x.encounter_id = e.id";

/// The records whose encounters belong to the timeline of `$1`: itself and the records
/// merged into it.
const SAME_PERSON: &str =
    "e.resident_id IN (SELECT id FROM resident WHERE id = $1 OR merged_into = $1)";

fn bad(what: &str) -> StoreError {
    StoreError::Other(format!("stored encounter has a bad {what}"))
}

fn encounter(row: &impl Row) -> Result<Encounter> {
    let division: String = row.col("division_code")?;
    let kind: String = row.col("kind")?;
    let diagnoses: String = row.col("diagnoses")?;
    let exam_id: Option<i64> = row.col("exam_id")?;
    let exam = match exam_id {
        None => None,
        Some(_) => {
            let mut measurements = Measurements::default();
            for (field, column) in MEASUREMENT_COLUMNS {
                measurements.set(field, row.col(column)?);
            }
            Some(ExamFigures {
                exam_date: row.col("exam_date")?,
                measurements,
                self_care: row.col("self_care")?,
                cognition: row.col("cognition")?,
                emotion: row.col("emotion")?,
            })
        }
    };
    Ok(Encounter {
        id: row.col("id")?,
        resident_id: row.col("resident_id")?,
        division: DivisionCode::parse(&division).map_err(|_| bad("division"))?,
        institution_id: row.col("institution_id")?,
        institution_name: row.col("institution_name")?,
        author_id: row.col("author_id")?,
        author_name: row.col("author_name")?,
        kind: EncounterKind::parse(&kind).ok_or_else(|| bad("kind"))?,
        started_at: row.col("started_at")?,
        summary: row.col("summary")?,
        diagnoses: serde_json::from_str(&diagnoses).map_err(|_| bad("diagnosis list"))?,
        created_at: row.col("created_at")?,
        exam,
        version: row.col("version")?,
        voided: match row.col::<Option<DateTime<Utc>>>("voided_at")? {
            Some(at) => Some((
                at,
                row.col::<Option<String>>("void_reason")?
                    .unwrap_or_default(),
            )),
            None => None,
        },
    })
}

/// Trim, drop empties and check lengths.
fn clean_diagnoses(diagnoses: &[String]) -> Result<Vec<String>> {
    let list: Vec<String> = diagnoses
        .iter()
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .collect();
    if list.len() > MAX_DIAGNOSES {
        return Err(StoreError::Invalid(format!(
            "at most {MAX_DIAGNOSES} diagnoses on one encounter"
        )));
    }
    if let Some(long) = list
        .iter()
        .find(|d| d.chars().count() > MAX_DIAGNOSIS_CHARS)
    {
        return Err(StoreError::Invalid(format!(
            "a diagnosis has at most {MAX_DIAGNOSIS_CHARS} characters (one has {})",
            long.chars().count()
        )));
    }
    Ok(list)
}

fn check_summary(summary: &str) -> Result<()> {
    if summary.chars().count() > MAX_SUMMARY_CHARS {
        return Err(StoreError::Invalid(format!(
            "a summary has at most {MAX_SUMMARY_CHARS} characters"
        )));
    }
    Ok(())
}

fn check_code(set: &[exam::Code], value: &Option<String>, what: &str) -> Result<()> {
    match value {
        Some(code) if !exam::is_code(set, code) => Err(StoreError::Invalid(format!(
            "{what} code {code:?} is not one of {}",
            set.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
        ))),
        _ => Ok(()),
    }
}

/// Check an exam; the figures with BMI computed, or every problem in one message.
fn validate_exam(new: &NewExam) -> Result<Measurements> {
    check_summary(&new.summary)?;
    check_code(exam::SELF_CARE, &new.self_care, "self_care")?;
    check_code(exam::COGNITION, &new.cognition, "cognition")?;
    check_code(exam::EMOTION, &new.emotion, "emotion")?;
    if !new.sections.is_object() && !new.sections.is_null() {
        return Err(StoreError::Invalid("sections must be a JSON object".into()));
    }
    if new.sections.to_string().len() > MAX_SECTIONS_BYTES {
        return Err(StoreError::Invalid(format!(
            "sections hold at most {MAX_SECTIONS_BYTES} bytes of JSON"
        )));
    }
    exam::validate(&new.measurements, &Ranges::default()).map_err(|problems| {
        StoreError::Invalid(
            problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message_en))
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
}

/// The village of a live record, read inside the write's transaction; a merged record is
/// refused (the exam belongs on the record it was merged into).
async fn live_village(tx: &mut Tx<'_>, resident_id: i64) -> Result<String> {
    let row: Option<(String, Option<i64>)> = on_tx!(tx, |conn| {
        sqlx::query_as("SELECT division_code, merged_into FROM resident WHERE id = $1")
            .bind(resident_id)
            .fetch_optional(&mut *conn)
            .await
    })?;
    match row {
        None => Err(StoreError::NotFound("resident")),
        Some((_, Some(into))) => Err(StoreError::Invalid(format!(
            "this record was merged into record {into}; write on that one"
        ))),
        Some((division, None)) => Ok(division),
    }
}

async fn check_institution(tx: &mut Tx<'_>, institution_id: i64) -> Result<()> {
    let n: i64 = on_tx!(tx, |conn| {
        sqlx::query_scalar("SELECT COUNT(*) FROM institution WHERE id = $1")
            .bind(institution_id)
            .fetch_one(&mut *conn)
            .await
    })?;
    if n == 0 {
        return Err(StoreError::Invalid(format!(
            "institution {institution_id} does not exist"
        )));
    }
    Ok(())
}

/// Insert the encounter row; returns its id.
pub(crate) async fn insert_encounter(
    tx: &mut Tx<'_>,
    resident_id: i64,
    author_id: Option<i64>,
    institution_id: i64,
    new: &NewEncounter,
) -> Result<i64> {
    check_summary(&new.summary)?;
    let diagnoses = clean_diagnoses(&new.diagnoses)?;
    let division = live_village(tx, resident_id).await?;
    check_institution(tx, institution_id).await?;
    let diagnoses =
        serde_json::to_string(&diagnoses).map_err(|e| StoreError::Other(e.to_string()))?;
    let now = crate::now();
    let started_at = DateTime::from_timestamp_micros(new.started_at.timestamp_micros())
        .unwrap_or(new.started_at);
    let id: i64 = on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO encounter (resident_id, division_code, institution_id, author_id, kind, \
             started_at, summary, diagnoses, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(resident_id)
        .bind(&division)
        .bind(institution_id)
        .bind(author_id)
        .bind(new.kind.as_str())
        .bind(started_at)
        .bind(new.summary.trim())
        .bind(&diagnoses)
        .bind(now)
        .fetch_one(&mut *conn)
        .await
    })?;
    Ok(id)
}

/// Record an encounter summary (not a health exam: [`record_exam`] writes those), with
/// `event` (the caller's `create`, with its basis) appended in the same transaction.
pub(crate) async fn record_encounter(
    store: &Store,
    resident_id: i64,
    author_id: Option<i64>,
    institution_id: i64,
    new: &NewEncounter,
    event: Event,
) -> Result<i64> {
    if new.kind == EncounterKind::HealthExam {
        return Err(StoreError::Invalid(
            "a health exam carries its form: record it as an exam".into(),
        ));
    }
    let mut tx = store.begin().await?;
    let id = insert_encounter(&mut tx, resident_id, author_id, institution_id, new).await?;
    let event = event.object("encounter", id).resident(resident_id);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(id)
}

/// Record a health exam: the encounter and its form in one transaction with `event`.
pub(crate) async fn record_exam(
    store: &Store,
    resident_id: i64,
    author_id: Option<i64>,
    institution_id: i64,
    new: &NewExam,
    event: Event,
) -> Result<i64> {
    let measurements = validate_exam(new)?;
    let sections = if new.sections.is_null() {
        "{}".to_owned()
    } else {
        new.sections.to_string()
    };
    let encounter = NewEncounter {
        kind: EncounterKind::HealthExam,
        institution_id: Some(institution_id),
        started_at: new.started_at,
        summary: new.summary.clone(),
        diagnoses: new.diagnoses.clone(),
    };
    let mut tx = store.begin().await?;
    let id = insert_encounter(&mut tx, resident_id, author_id, institution_id, &encounter).await?;
    on_tx!(&mut tx, |conn| {
        let mut query = sqlx::query(
            "INSERT INTO health_exam (encounter_id, exam_date, temperature, pulse, respiration, \
             bp_left_sys, bp_left_dia, bp_right_sys, bp_right_dia, height_cm, weight_kg, waist_cm, \
             bmi, fasting_glucose_mmol, self_care, cognition, emotion, sections) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(id)
        .bind(new.exam_date);
        for (field, _) in MEASUREMENT_COLUMNS {
            query = query.bind(measurements.get(field));
        }
        query
            .bind(new.self_care.as_deref())
            .bind(new.cognition.as_deref())
            .bind(new.emotion.as_deref())
            .bind(&sections)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
    })?;
    let event = event.object("encounter", id).resident(resident_id);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(id)
}

/// The resident an encounter was written on: no content, so no check needed (like
/// [`crate::resident::scope`]); the caller checks access to that resident.
pub async fn resident_of(store: &Store, encounter_id: i64) -> Result<i64> {
    on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT resident_id FROM encounter WHERE id = $1")
            .bind(encounter_id)
            .fetch_optional(pool)
            .await
    })?
    .ok_or(StoreError::NotFound("encounter"))
}

/// One encounter.
pub(crate) async fn get(store: &Store, encounter_id: i64) -> Result<Encounter> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE e.id = $1");
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(encounter_id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("encounter"))?;
        encounter(&row)
    })
}

/// One health exam with all its sections; `NotFound` when the encounter is not an exam.
pub(crate) async fn get_exam(store: &Store, encounter_id: i64) -> Result<Exam> {
    let encounter = get(store, encounter_id).await?;
    if encounter.exam.is_none() {
        return Err(StoreError::NotFound("health exam"));
    }
    let sections: String = on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT sections FROM health_exam WHERE encounter_id = $1")
            .bind(encounter_id)
            .fetch_one(pool)
            .await
    })?;
    Ok(Exam {
        encounter,
        sections: serde_json::from_str(&sections).map_err(|_| bad("sections"))?,
    })
}

/// The encounters of a resident (and of records merged into it), newest first, with the
/// total that `filter` selects.
pub(crate) async fn timeline(
    store: &Store,
    resident_id: i64,
    filter: &TimelineFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Encounter>, i64)> {
    let mut conditions = vec![SAME_PERSON.to_owned(), "e.voided_at IS NULL".to_owned()];
    let mut n = 1;
    let mut times = Vec::new();
    for (bound, op) in [(filter.from, ">="), (filter.to, "<")] {
        if let Some(t) = bound {
            n += 1;
            conditions.push(format!("e.started_at {op} ${n}"));
            times.push(t);
        }
    }
    if filter.exams_only {
        conditions.push("x.encounter_id IS NOT NULL".into());
    }
    let filter_sql = conditions.join(" AND ");
    let list_sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE {filter_sql} ORDER BY e.started_at DESC, e.id DESC \
         LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let count_sql = format!("SELECT COUNT(*) {FROM} WHERE {filter_sql}");
    on_pool!(store, |pool| {
        let mut list = sqlx::query(sqlx::AssertSqlSafe(list_sql.as_str())).bind(resident_id);
        let mut count =
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql.as_str())).bind(resident_id);
        for t in &times {
            list = list.bind(*t);
            count = count.bind(*t);
        }
        let rows = list.bind(limit).bind(offset).fetch_all(pool).await?;
        let total = count.fetch_one(pool).await?;
        Ok((
            rows.iter().map(encounter).collect::<Result<Vec<_>>>()?,
            total,
        ))
    })
}

/// When the latest encounter of any kind started, for a resident (and the records merged
/// into it): the "exam or visit in the last year" of `yiwei_domain::ehr_quality`.
pub async fn last_encounter_at(store: &Store, resident_id: i64) -> Result<Option<DateTime<Utc>>> {
    let sql = format!(
        "SELECT MAX(e.started_at) FROM encounter e WHERE {SAME_PERSON} AND e.voided_at IS NULL"
    );
    let last: Option<DateTime<Utc>> = on_pool!(store, |pool| {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(resident_id)
            .fetch_one(pool)
            .await
    })?;
    Ok(last)
}

/// Live records of `root`'s subtree with an encounter at or after `since` (their own or
/// one of a record merged into them), each with its latest encounter's start, in id order
/// after `after_id`, at most `limit`: page through a county with the last id of a page.
/// For 档案使用率 (`domain.md` §1: 有动态记录的档案份数) and the EHR-quality work lists.
pub async fn last_encounters_within(
    store: &Store,
    root: &DivisionCode,
    since: DateTime<Utc>,
    after_id: i64,
    limit: i64,
) -> Result<Vec<(i64, DateTime<Utc>)>> {
    let (low, high) = root.subtree_range();
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT s.id AS resident_id, MAX(e.started_at) AS last_at FROM encounter e \
             JOIN resident r ON r.id = e.resident_id \
             JOIN resident s ON s.id = COALESCE(r.merged_into, r.id) \
             WHERE s.division_code >= $1 AND s.division_code < $2 AND s.merged_into IS NULL \
             AND e.started_at >= $3 AND s.id > $4 AND e.voided_at IS NULL \
             GROUP BY s.id ORDER BY s.id LIMIT $5",
        )
        .bind(&low)
        .bind(&high)
        .bind(since)
        .bind(after_id)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.col("resident_id")?, r.col("last_at")?)))
            .collect()
    })
}

/// How many live records of `root`'s subtree have an encounter at or after `since`: the
/// numerator of 档案使用率.
pub async fn count_with_encounter_since(
    store: &Store,
    root: &DivisionCode,
    since: DateTime<Utc>,
) -> Result<i64> {
    let (low, high) = root.subtree_range();
    let n: i64 = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "SELECT COUNT(DISTINCT s.id) FROM encounter e \
             JOIN resident r ON r.id = e.resident_id \
             JOIN resident s ON s.id = COALESCE(r.merged_into, r.id) \
             WHERE s.division_code >= $1 AND s.division_code < $2 AND s.merged_into IS NULL \
             AND e.started_at >= $3 AND e.voided_at IS NULL",
        )
        .bind(&low)
        .bind(&high)
        .bind(since)
        .fetch_one(pool)
        .await
    })?;
    Ok(n)
}

// ---------------------------------------------------------------------------------------
// Corrections (更正) and voiding (作废). Nothing is deleted.

/// The shortest reason accepted for a correction or a void (characters, trimmed).
pub const MIN_REASON_CHARS: usize = 2;

fn check_reason(reason: &str) -> Result<()> {
    if reason.trim().chars().count() < MIN_REASON_CHARS {
        return Err(StoreError::Invalid(format!(
            "请写明原因（至少 {MIN_REASON_CHARS} 个字） / give a reason of at least \
             {MIN_REASON_CHARS} characters"
        )));
    }
    if reason.chars().count() > MAX_SUMMARY_CHARS {
        return Err(StoreError::Invalid(format!(
            "the reason holds at most {MAX_SUMMARY_CHARS} characters"
        )));
    }
    Ok(())
}

fn stale() -> StoreError {
    StoreError::Invalid(
        "此记录已被他人修改，请刷新后再改 / someone changed this record meanwhile; reload it and \
         correct it again"
            .into(),
    )
}

/// The institution that wrote an encounter (no content).
pub async fn institution_of(store: &Store, encounter_id: i64) -> Result<i64> {
    on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT institution_id FROM encounter WHERE id = $1")
            .bind(encounter_id)
            .fetch_optional(pool)
            .await
    })?
    .ok_or(StoreError::NotFound("encounter"))
}

/// The stored exam as one JSON object: what a correction keeps of the version it replaces.
fn snapshot(exam: &Exam) -> Value {
    let e = &exam.encounter;
    let mut figures = serde_json::Map::new();
    if let Some(x) = &e.exam {
        figures.insert("exam_date".into(), Value::from(x.exam_date.to_string()));
        for (field, column) in MEASUREMENT_COLUMNS {
            if let Some(v) = x.measurements.get(field) {
                figures.insert(column.into(), Value::from(v));
            }
        }
        for (key, value) in [
            ("self_care", &x.self_care),
            ("cognition", &x.cognition),
            ("emotion", &x.emotion),
        ] {
            if let Some(v) = value {
                figures.insert(key.into(), Value::from(v.as_str()));
            }
        }
    }
    serde_json::json!({
        "version": e.version,
        "institution_id": e.institution_id,
        "started_at": e.started_at.to_rfc3339(),
        "summary": e.summary,
        "diagnoses": e.diagnoses,
        "exam": figures,
        "sections": exam.sections,
    })
}

/// Correct a health exam at `expected_version` with the form as it should have been
/// (checked like a new exam): the replaced version goes to `exam_revision` with the
/// reason, the encounter's version is bumped, and `event` (the caller's `update`) is
/// appended, all in one transaction. A voided exam is not corrected.
pub(crate) async fn correct_exam(
    store: &Store,
    encounter_id: i64,
    expected_version: i64,
    new: &NewExam,
    reason: &str,
    user_id: Option<i64>,
    event: Event,
) -> Result<i64> {
    check_reason(reason)?;
    let measurements = validate_exam(new)?;
    let diagnoses = clean_diagnoses(&new.diagnoses)?;
    let current = get_exam(store, encounter_id).await?;
    if current.encounter.voided.is_some() {
        return Err(StoreError::Invalid(
            "作废的体检记录不能更正 / a voided exam cannot be corrected".into(),
        ));
    }
    if current.encounter.version != expected_version {
        return Err(stale());
    }
    let previous = snapshot(&current).to_string();
    let sections = if new.sections.is_null() {
        "{}".to_owned()
    } else {
        new.sections.to_string()
    };
    let diagnoses =
        serde_json::to_string(&diagnoses).map_err(|e| StoreError::Other(e.to_string()))?;
    let started_at = DateTime::from_timestamp_micros(new.started_at.timestamp_micros())
        .unwrap_or(new.started_at);
    let now = crate::now();
    let mut tx = store.begin().await?;
    let changed = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE encounter SET started_at = $1, summary = $2, diagnoses = $3, \
             version = version + 1 WHERE id = $4 AND version = $5 AND voided_at IS NULL",
        )
        .bind(started_at)
        .bind(new.summary.trim())
        .bind(&diagnoses)
        .bind(encounter_id)
        .bind(expected_version)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    if changed != 1 {
        return Err(stale());
    }
    on_tx!(&mut tx, |conn| {
        let mut query = sqlx::query(
            "UPDATE health_exam SET exam_date = $2, temperature = $3, pulse = $4, \
             respiration = $5, bp_left_sys = $6, bp_left_dia = $7, bp_right_sys = $8, \
             bp_right_dia = $9, height_cm = $10, weight_kg = $11, waist_cm = $12, bmi = $13, \
             fasting_glucose_mmol = $14, self_care = $15, cognition = $16, emotion = $17, \
             sections = $18 WHERE encounter_id = $1",
        )
        .bind(encounter_id)
        .bind(new.exam_date);
        for (field, _) in MEASUREMENT_COLUMNS {
            query = query.bind(measurements.get(field));
        }
        query
            .bind(new.self_care.as_deref())
            .bind(new.cognition.as_deref())
            .bind(new.emotion.as_deref())
            .bind(&sections)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
    })?;
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "INSERT INTO exam_revision (encounter_id, version, previous, reason, changed_by, \
             changed_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(encounter_id)
        .bind(expected_version)
        .bind(&previous)
        .bind(reason.trim())
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    let event = event
        .object("encounter", encounter_id)
        .resident(current.encounter.resident_id)
        .reason("correct");
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(expected_version + 1)
}

/// Void an encounter at `expected_version` with a reason (a wrong entry, the wrong
/// resident): it stays readable, marked, and leaves the timeline and the figures; `event`
/// (the caller's `update`) in the same transaction.
pub(crate) async fn void(
    store: &Store,
    encounter_id: i64,
    expected_version: i64,
    reason: &str,
    user_id: Option<i64>,
    event: Event,
) -> Result<()> {
    check_reason(reason)?;
    let resident_id = resident_of(store, encounter_id).await?;
    let now = crate::now();
    let mut tx = store.begin().await?;
    let changed = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE encounter SET voided_at = $1, voided_by = $2, void_reason = $3, \
             version = version + 1 WHERE id = $4 AND version = $5 AND voided_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(reason.trim())
        .bind(encounter_id)
        .bind(expected_version)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    if changed != 1 {
        return Err(stale());
    }
    let event = event
        .object("encounter", encounter_id)
        .resident(resident_id)
        .reason("void");
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(())
}

/// One replaced version of an exam.
#[derive(Clone, Debug, PartialEq)]
pub struct Revision {
    pub version: i64,
    /// The replaced version, as [`correct_exam`] kept it.
    pub previous: Value,
    pub reason: String,
    pub changed_by: Option<String>,
    pub changed_at: DateTime<Utc>,
}

/// The corrections of an exam, oldest first.
pub(crate) async fn revisions(store: &Store, encounter_id: i64) -> Result<Vec<Revision>> {
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT r.version, r.previous, r.reason, u.display_name AS changed_by, r.changed_at \
             FROM exam_revision r LEFT JOIN app_user u ON u.id = r.changed_by \
             WHERE r.encounter_id = $1 ORDER BY r.version",
        )
        .bind(encounter_id)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                let previous: String = r.col("previous")?;
                Ok(Revision {
                    version: r.col("version")?,
                    previous: serde_json::from_str(&previous).map_err(|_| bad("revision"))?,
                    reason: r.col("reason")?,
                    changed_by: r.col("changed_by")?,
                    changed_at: r.col("changed_at")?,
                })
            })
            .collect()
    })
}
