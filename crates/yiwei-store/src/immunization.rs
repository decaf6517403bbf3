//! Immunization (预防接种): the doses a child was given, checked against the national
//! schedule (`yiwei_domain::programme::immunization`) when they are recorded.
//!
//! - [`record`] writes one dose. It is checked with `check_dose` against the edition in
//!   force on the dose's date and the child's doses that are not voided (including those of
//!   records the master patient index merged into this one). Any [`DoseProblem`] refuses
//!   the dose with every problem ([`DoseError::Schedule`]) unless an override reason of at
//!   least [`MIN_OVERRIDE_REASON_CHARS`] characters is given (a dose given elsewhere, or
//!   given early on a doctor's decision); then it is stored with the problems' codes
//!   (`problems`, a JSON array of [`problem_code`]s) and the reason, so the flag stays
//!   visible. The row carries the resident's village, and the audit entry is appended in
//!   the same transaction.
//! - [`void`] marks a wrong entry voided with a reason; nothing is deleted, so indicators
//!   for a closed period can be recomputed and the history stays readable.
//! - [`of_resident`] lists a child's doses with each one's series and dose number.
//! - [`due_rows`] is the pure helper behind the work list (`programme_due`): the doses a
//!   child is due for, with their windows.
//! - [`insert_batch`] and [`children_born_since`] are the bulk paths of the demo county
//!   and of the work-list refresh.
//!
//! The writers and the readers of content are `pub(crate)`: callers outside the crate go
//! through `crate::access` (`record_dose`, `void_dose`, `doses_of`, `open_dose`), which
//! checks the viewer's reach and audits.
//!
//! Doses dated before the first edition modelled here (2021-03-01) are checked against
//! that first edition: the 2016 table it replaced differs in few doses (*unconfirmed*),
//! and a record typed in today for an old dose can be overridden with a reason.

use chrono::{DateTime, NaiveDate, Utc};
use yiwei_domain::division::DivisionCode;
use yiwei_domain::programme::Status;
use yiwei_domain::programme::immunization::{
    self as schedule, Dose, DoseProblem, Edition, Vaccine, check_dose, edition_in_force,
    vaccine_due,
};
use yiwei_domain::ws365::Sex;

use crate::access::AccessError;
use crate::audit::{self, Action, Event, Who};
use crate::{Backend, Result, Row, Store, StoreError, Tx, on_pool, on_tx};

/// The shortest override reason kept (characters, after trimming).
pub const MIN_OVERRIDE_REASON_CHARS: usize = 4;
/// The shortest void reason kept (characters, after trimming).
pub const MIN_VOID_REASON_CHARS: usize = 4;
/// The longest lot number, manufacturer, site or reason kept (characters).
pub const MAX_TEXT_CHARS: usize = 200;
/// The `programme` of immunization rows in `programme_due`.
pub const PROGRAMME: &str = "immunization";

/// A dose to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDose {
    pub vaccine: Vaccine,
    pub given_on: NaiveDate,
    /// 疫苗批号.
    pub lot: String,
    /// 生产企业.
    pub manufacturer: String,
    /// 接种部位 (e.g. 左上臂三角肌, 口服).
    pub site: String,
    /// Where it was given; `None` means the recorder's institution.
    pub institution_id: Option<i64>,
    /// Why the dose is recorded although it breaks the schedule.
    pub override_reason: Option<String>,
}

/// A stored dose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDose {
    pub id: i64,
    /// The record it was written on (a record merged into the one asked for, possibly).
    pub resident_id: i64,
    pub vaccine: Vaccine,
    pub given_on: NaiveDate,
    pub lot: String,
    pub manufacturer: String,
    pub site: String,
    pub institution_id: Option<i64>,
    pub institution_name: Option<String>,
    /// The resident's village when it was recorded.
    pub division: DivisionCode,
    /// Codes of the schedule rules it broke when it was recorded with a reason.
    pub problems: Vec<String>,
    pub override_reason: Option<String>,
    pub recorded_by: Option<i64>,
    pub recorded_at: DateTime<Utc>,
    pub voided_at: Option<DateTime<Utc>>,
    pub void_reason: Option<String>,
    /// The series it counts in (`hepb`, `dtp`, …) under the edition in force on its date;
    /// `None` for a voided dose or a vaccine outside the schedule.
    pub series: Option<&'static str>,
    /// Its number within the series among the doses not voided (1-based).
    pub dose_number: Option<u8>,
}

impl StoredDose {
    pub fn is_voided(&self) -> bool {
        self.voided_at.is_some()
    }

    pub fn as_dose(&self) -> Dose {
        Dose {
            vaccine: self.vaccine,
            date: self.given_on,
        }
    }
}

/// Why a dose was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum DoseError {
    /// The dose breaks the schedule and no override reason was given: every problem.
    #[error("the dose breaks the immunization schedule: {}", english(.0))]
    Schedule(Vec<DoseProblem>),
    #[error(transparent)]
    Access(#[from] AccessError),
}

impl From<StoreError> for DoseError {
    fn from(e: StoreError) -> Self {
        DoseError::Access(AccessError::Store(e))
    }
}

fn english(problems: &[DoseProblem]) -> String {
    problems
        .iter()
        .map(DoseProblem::message_en)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The stable code of a problem, as kept in `immunization.problems`.
pub fn problem_code(p: &DoseProblem) -> &'static str {
    match p {
        DoseProblem::BeforeBirth => "before_birth",
        DoseProblem::NotInSchedule { .. } => "not_in_schedule",
        DoseProblem::NotForSex { .. } => "not_for_sex",
        DoseProblem::Duplicate { .. } => "duplicate",
        DoseProblem::NotNeeded { .. } => "not_needed",
        DoseProblem::BeforeMinimumAge { .. } => "before_minimum_age",
        DoseProblem::TooSoonAfterDose { .. } => "too_soon_after_dose",
        DoseProblem::TooCloseToLiveVaccine { .. } => "too_close_to_live_vaccine",
        DoseProblem::PastCatchUpAge { .. } => "past_catch_up_age",
        DoseProblem::UseInstead { .. } => "use_instead",
    }
}

/// The resident's sex as the schedule reads it (`male`, `female`, else unknown).
pub fn sex_of(sex: &str) -> Option<Sex> {
    match sex {
        "male" => Some(Sex::Male),
        "female" => Some(Sex::Female),
        _ => None,
    }
}

/// The edition to check a dose of `on` against, or to list what is due on `on`: the one in
/// force, else (before the first) the first.
pub fn edition_for(editions: &[Edition], on: NaiveDate) -> Option<&Edition> {
    edition_in_force(editions, on).or_else(|| editions.iter().min_by_key(|e| e.in_force_from))
}

/// The series of `edition` a vaccine counts in: the one that gives it as a scheduled
/// product, else the one that catches up with it (DT in 2021 is its own series; from 2025
/// it is DTaP's fifth dose).
pub fn series_of(edition: &Edition, vaccine: Vaccine) -> Option<&schedule::Series> {
    edition
        .series
        .iter()
        .find(|s| s.doses.iter().any(|d| d.products.contains(&vaccine)))
        .or_else(|| {
            edition.series.iter().find(|s| {
                s.doses
                    .iter()
                    .any(|d| d.catch_up_with.is_some_and(|(_, v)| v == vaccine))
            })
        })
}

/// Fill `series` and `dose_number` of `doses` (any order): each dose not voided counts in
/// the series of the edition in force on its date, numbered by date (then id) among the
/// doses not voided of that series.
pub fn number_doses(doses: &mut [StoredDose]) {
    let editions = schedule::editions();
    let mut order: Vec<usize> = (0..doses.len()).collect();
    order.sort_by_key(|&i| (doses[i].given_on, doses[i].id));
    let mut counts: std::collections::HashMap<&'static str, u8> = Default::default();
    for i in order {
        let d = &mut doses[i];
        d.series = None;
        d.dose_number = None;
        if d.is_voided() {
            continue;
        }
        let Some(series) = edition_for(&editions, d.given_on).and_then(|e| series_of(e, d.vaccine))
        else {
            continue;
        };
        let n = counts.entry(series.code).or_insert(0);
        *n = n.saturating_add(1);
        d.series = Some(series.code);
        d.dose_number = Some(*n);
    }
}

/// One row of the materialised work list (`programme_due`) for a dose not yet given.
///
/// `missed_on` is the day the dose can no longer be given (its catch-up limit), set for
/// every dose: the status on any day follows from the dates alone (before `due_from`
/// upcoming, to `due_by` due, before `missed_on` overdue, then missed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueRow {
    pub programme: String,
    pub visit_code: String,
    pub due_from: NaiveDate,
    pub due_by: NaiveDate,
    pub missed_on: Option<NaiveDate>,
}

/// The work-list rows of a child born on `birth` with `doses` given (voided ones left
/// out by the caller), on `today`, under the edition in force then: every dose not given
/// that is upcoming, due, overdue or missed within the last year, with
/// `visit_code` `<series>:<dose>`. Pure; the refresh of `programme_due` calls it.
pub fn due_rows(
    birth: NaiveDate,
    sex: Option<Sex>,
    doses: &[Dose],
    today: NaiveDate,
) -> Vec<DueRow> {
    let editions = schedule::editions();
    let Some(edition) = edition_for(&editions, today) else {
        return Vec::new();
    };
    vaccine_due(edition, birth, sex, doses, today)
        .into_iter()
        .map(|due| DueRow {
            programme: PROGRAMME.to_owned(),
            visit_code: format!("{}:{}", due.series, due.dose),
            due_from: due.due_from,
            due_by: due.due_by,
            missed_on: Some(if due.status == Status::Missed {
                due.until.min(today)
            } else {
                due.until
            }),
        })
        .collect()
}

fn check_text(what: &str, value: &str) -> Result<()> {
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(StoreError::Invalid(format!(
            "{what} has at most {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(())
}

/// A reason trimmed, if it has at least `min` characters.
fn reason_of(reason: Option<&str>, min: usize) -> Option<&str> {
    reason.map(str::trim).filter(|r| r.chars().count() >= min)
}

const COLUMNS: &str = "m.id, m.resident_id, m.vaccine, m.given_on, m.lot, m.manufacturer, m.site, \
    m.institution_id, i.name AS institution_name, m.division_code, m.problems, m.override_reason, \
    m.recorded_by, m.recorded_at, m.voided_at, m.void_reason";

const FROM: &str = "FROM immunization m LEFT JOIN institution i ON i.id = m.institution_id";

/// The records whose doses belong to the child `$1`: itself and the records merged into it.
const SAME_PERSON: &str =
    "m.resident_id IN (SELECT id FROM resident WHERE id = $1 OR merged_into = $1)";

fn bad(what: &str) -> StoreError {
    StoreError::Other(format!("stored immunization has a bad {what}"))
}

fn dose_row(row: &impl Row) -> Result<StoredDose> {
    let vaccine: String = row.col("vaccine")?;
    let division: String = row.col("division_code")?;
    let problems: String = row.col("problems")?;
    Ok(StoredDose {
        id: row.col("id")?,
        resident_id: row.col("resident_id")?,
        vaccine: Vaccine::parse(&vaccine).ok_or_else(|| bad("vaccine"))?,
        given_on: row.col("given_on")?,
        lot: row.col("lot")?,
        manufacturer: row.col("manufacturer")?,
        site: row.col("site")?,
        institution_id: row.col("institution_id")?,
        institution_name: row.col("institution_name")?,
        division: DivisionCode::parse(&division).map_err(|_| bad("division"))?,
        problems: serde_json::from_str(&problems).map_err(|_| bad("problem list"))?,
        override_reason: row.col("override_reason")?,
        recorded_by: row.col("recorded_by")?,
        recorded_at: row.col("recorded_at")?,
        voided_at: row.col("voided_at")?,
        void_reason: row.col("void_reason")?,
        series: None,
        dose_number: None,
    })
}

/// The facts of a live record the check needs, read inside the write's transaction.
struct Child {
    division: String,
    birth: NaiveDate,
    sex: Option<Sex>,
}

async fn live_child(tx: &mut Tx<'_>, resident_id: i64) -> Result<Child> {
    let row: Option<(String, Option<i64>, Option<NaiveDate>, String)> = on_tx!(tx, |conn| {
        sqlx::query_as(
            "SELECT division_code, merged_into, birth_date, sex FROM resident WHERE id = $1",
        )
        .bind(resident_id)
        .fetch_optional(&mut *conn)
        .await
    })?;
    match row {
        None => Err(StoreError::NotFound("resident")),
        Some((_, Some(into), _, _)) => Err(StoreError::Invalid(format!(
            "this record was merged into record {into}; record the dose on that one"
        ))),
        Some((_, None, None, _)) => Err(StoreError::Invalid(
            "the record has no birth date: enter the birth date before recording doses".into(),
        )),
        Some((division, None, Some(birth), sex)) => Ok(Child {
            division,
            birth,
            sex: sex_of(&sex),
        }),
    }
}

/// The doses not voided of a child, inside a transaction.
async fn given_in(tx: &mut Tx<'_>, resident_id: i64) -> Result<Vec<Dose>> {
    let sql =
        format!("SELECT m.vaccine, m.given_on {FROM} WHERE {SAME_PERSON} AND m.voided_at IS NULL");
    let rows: Vec<(String, NaiveDate)> = on_tx!(tx, |conn| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(resident_id)
            .fetch_all(&mut *conn)
            .await
    })?;
    rows.into_iter()
        .map(|(v, date)| {
            Ok(Dose {
                vaccine: Vaccine::parse(&v).ok_or_else(|| bad("vaccine"))?,
                date,
            })
        })
        .collect()
}

/// Record a dose on `resident_id`, checked against the schedule (see the module docs),
/// with `event` (the caller's `create`, with its basis) appended in the same transaction.
/// `today` is the county's date: a dose cannot be dated after it.
pub(crate) async fn record(
    store: &Store,
    resident_id: i64,
    recorded_by: Option<i64>,
    institution_id: Option<i64>,
    new: &NewDose,
    today: NaiveDate,
    event: Event,
) -> Result<i64, DoseError> {
    check_text("the lot number", &new.lot)?;
    check_text("the manufacturer", &new.manufacturer)?;
    check_text("the site", &new.site)?;
    if new.given_on > today {
        return Err(StoreError::Invalid(format!(
            "the dose is dated {}, after today ({today}); record doses once given",
            new.given_on
        ))
        .into());
    }
    let reason = match new.override_reason.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(r) => {
            check_text("the override reason", r)?;
            Some(
                reason_of(Some(r), MIN_OVERRIDE_REASON_CHARS).ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "an override reason needs at least {MIN_OVERRIDE_REASON_CHARS} characters"
                    ))
                })?,
            )
        }
    };
    let mut tx = store.begin().await?;
    let child = live_child(&mut tx, resident_id).await?;
    if let Some(id) = institution_id {
        let n: i64 = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar("SELECT COUNT(*) FROM institution WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *conn)
                .await
        })
        .map_err(StoreError::from)?;
        if n == 0 {
            return Err(StoreError::Invalid(format!("institution {id} does not exist")).into());
        }
    }
    let given = given_in(&mut tx, resident_id).await?;
    let editions = schedule::editions();
    let problems = match edition_for(&editions, new.given_on) {
        Some(edition) => check_dose(
            edition,
            child.birth,
            child.sex,
            &given,
            Dose {
                vaccine: new.vaccine,
                date: new.given_on,
            },
        ),
        None => Vec::new(),
    };
    if !problems.is_empty() && reason.is_none() {
        return Err(DoseError::Schedule(problems));
    }
    let codes: Vec<&str> = problems.iter().map(problem_code).collect();
    let codes = serde_json::to_string(&codes).map_err(|e| StoreError::Other(e.to_string()))?;
    let now = crate::now();
    let id: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO immunization (resident_id, vaccine, given_on, lot, manufacturer, site, \
             institution_id, division_code, problems, override_reason, recorded_by, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(resident_id)
        .bind(new.vaccine.code())
        .bind(new.given_on)
        .bind(new.lot.trim())
        .bind(new.manufacturer.trim())
        .bind(new.site.trim())
        .bind(institution_id)
        .bind(&child.division)
        .bind(&codes)
        .bind(if problems.is_empty() { None } else { reason })
        .bind(recorded_by)
        .bind(now)
        .fetch_one(&mut *conn)
        .await
    })
    .map_err(StoreError::from)?;
    let mut event = event.object("immunization", id).resident(resident_id);
    if !problems.is_empty() {
        // The codes only: the reason is free text and may name people.
        event = event.reason(&format!("override: {}", codes));
    }
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(id)
}

/// Void a dose with a reason (never deleted); `event` is the caller's change, appended in
/// the same transaction as an `update` of the dose.
pub(crate) async fn void(
    store: &Store,
    dose_id: i64,
    reason: &str,
    voided_by: Option<i64>,
    event: Event,
) -> Result<()> {
    check_text("the reason", reason)?;
    let reason = reason_of(Some(reason), MIN_VOID_REASON_CHARS).ok_or_else(|| {
        StoreError::Invalid(format!(
            "say why the dose is voided, in at least {MIN_VOID_REASON_CHARS} characters"
        ))
    })?;
    let mut tx = store.begin().await?;
    let row: Option<(i64, Option<DateTime<Utc>>)> = on_tx!(&mut tx, |conn| {
        sqlx::query_as("SELECT resident_id, voided_at FROM immunization WHERE id = $1")
            .bind(dose_id)
            .fetch_optional(&mut *conn)
            .await
    })?;
    let resident_id = match row {
        None => return Err(StoreError::NotFound("immunization")),
        Some((_, Some(_))) => {
            return Err(StoreError::Invalid("this dose is already voided".into()));
        }
        Some((resident_id, None)) => resident_id,
    };
    let now = crate::now();
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE immunization SET voided_at = $1, voided_by = $2, void_reason = $3 \
             WHERE id = $4 AND voided_at IS NULL",
        )
        .bind(now)
        .bind(voided_by)
        .bind(reason)
        .bind(dose_id)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    let mut event = event
        .object("immunization", dose_id)
        .resident(resident_id)
        .reason("void");
    event.action = Action::Update;
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(())
}

/// The resident a dose was written on: no content, so no check needed (like
/// [`crate::resident::scope`]); the caller checks access to that resident.
pub async fn resident_of(store: &Store, dose_id: i64) -> Result<i64> {
    on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT resident_id FROM immunization WHERE id = $1")
            .bind(dose_id)
            .fetch_optional(pool)
            .await
    })?
    .ok_or(StoreError::NotFound("immunization"))
}

/// A child's doses (and those of records merged into it), voided ones included, by date,
/// each numbered within its series ([`number_doses`]).
pub(crate) async fn of_resident(store: &Store, resident_id: i64) -> Result<Vec<StoredDose>> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE {SAME_PERSON} ORDER BY m.given_on, m.id");
    let mut doses = on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(resident_id)
            .fetch_all(pool)
            .await?;
        rows.iter().map(dose_row).collect::<Result<Vec<_>>>()
    })?;
    number_doses(&mut doses);
    Ok(doses)
}

/// One dose, numbered among its child's doses.
pub(crate) async fn get(store: &Store, dose_id: i64) -> Result<StoredDose> {
    let resident_id = resident_of(store, dose_id).await?;
    of_resident(store, resident_id)
        .await?
        .into_iter()
        .find(|d| d.id == dose_id)
        .ok_or(StoreError::NotFound("immunization"))
}

/// A child for the bulk paths: the facts the schedule needs, no name or identifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleChild {
    pub resident_id: i64,
    pub division: DivisionCode,
    pub birth: NaiveDate,
    pub sex: Option<Sex>,
}

/// Live records born on or after `born_from`, in id order after `after_id`, at most
/// `limit`: page through a county with the last id of a page. For the work-list refresh
/// and the demo generator; like [`crate::encounter::last_encounters_within`] it returns no
/// name or identifier and is not audited per record.
pub async fn children_born_since(
    store: &Store,
    born_from: NaiveDate,
    after_id: i64,
    limit: i64,
) -> Result<Vec<ScheduleChild>> {
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT id, division_code, birth_date, sex FROM resident \
             WHERE birth_date >= $1 AND merged_into IS NULL AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(born_from)
        .bind(after_id)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                let division: String = r.col("division_code")?;
                let sex: String = r.col("sex")?;
                Ok(ScheduleChild {
                    resident_id: r.col("id")?,
                    division: DivisionCode::parse(&division).map_err(|_| {
                        StoreError::Other("stored resident has a bad division".into())
                    })?,
                    birth: r.col("birth_date")?,
                    sex: sex_of(&sex),
                })
            })
            .collect()
    })
}

/// A dose of a bulk load: already known to fit (generated from the schedule, or migrated
/// from another register), so not checked again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkDose {
    pub resident_id: i64,
    pub division: DivisionCode,
    pub vaccine: Vaccine,
    pub given_on: NaiveDate,
    pub lot: String,
    pub manufacturer: String,
    pub site: String,
    pub institution_id: Option<i64>,
}

/// Bound parameters per row of the multi-row INSERT.
const BULK_ROW_PARAMS: usize = 10;

fn values_list(backend: Backend, rows: usize, width: usize) -> String {
    let mut sql = String::with_capacity(rows * width * 6);
    let mut n = 0usize;
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            n += 1;
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// Insert many doses in ONE transaction with multi-row INSERTs and ONE audit event
/// (`create`, object `immunization_batch`, the id range, reason `bulk load`), as
/// `crate::resident::insert_batch` does and for the same reason: a bulk load reads and
/// changes nobody's existing record. Returns how many rows were written. For generated or
/// migrated data only; doses typed in go through `crate::access::record_dose`.
pub async fn insert_batch(store: &Store, batch: &[BulkDose], by: &Who) -> Result<u64> {
    if batch.is_empty() {
        return Ok(0);
    }
    for d in batch {
        check_text("the lot number", &d.lot)?;
        check_text("the manufacturer", &d.manufacturer)?;
        check_text("the site", &d.site)?;
    }
    let backend = store.backend();
    let per_statement = match backend {
        Backend::Sqlite => 32_766,
        Backend::Postgres => 65_535,
    } / BULK_ROW_PARAMS;
    let now = crate::now();
    let mut tx = store.begin().await?;
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    for chunk in batch.chunks(per_statement) {
        let sql = format!(
            "INSERT INTO immunization (resident_id, vaccine, given_on, lot, manufacturer, site, \
             institution_id, division_code, recorded_by, recorded_at) VALUES {} RETURNING id",
            values_list(backend, chunk.len(), BULK_ROW_PARAMS)
        );
        let full = chunk.len() == per_statement;
        let ids: Vec<i64> = on_tx!(&mut tx, |conn| {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())).persistent(full);
            for d in chunk {
                q = q
                    .bind(d.resident_id)
                    .bind(d.vaccine.code())
                    .bind(d.given_on)
                    .bind(d.lot.trim())
                    .bind(d.manufacturer.trim())
                    .bind(d.site.trim())
                    .bind(d.institution_id)
                    .bind(d.division.as_str())
                    .bind(by.user_id)
                    .bind(now);
            }
            q.fetch_all(&mut *conn).await
        })?;
        for id in ids {
            first = first.min(id);
            last = last.max(id);
        }
    }
    let event = Event::new(by.clone(), Action::Create)
        .object("immunization_batch", format!("{first}-{last}"))
        .reason("bulk load");
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(batch.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn stored(id: i64, vaccine: Vaccine, given_on: NaiveDate, voided: bool) -> StoredDose {
        StoredDose {
            id,
            resident_id: 1,
            vaccine,
            given_on,
            lot: String::new(),
            manufacturer: String::new(),
            site: String::new(),
            institution_id: None,
            institution_name: None,
            division: DivisionCode::parse("451226100201").unwrap(),
            problems: Vec::new(),
            override_reason: None,
            recorded_by: None,
            recorded_at: Utc::now(),
            voided_at: voided.then(Utc::now),
            void_reason: None,
            series: None,
            dose_number: None,
        }
    }

    #[test]
    fn doses_are_numbered_within_their_series_skipping_voided_ones() {
        let mut doses = vec![
            stored(3, Vaccine::HepB, d(2025, 9, 1), false),
            stored(1, Vaccine::HepB, d(2025, 3, 1), false),
            stored(2, Vaccine::HepB, d(2025, 3, 20), true),
            stored(4, Vaccine::HepB, d(2025, 4, 1), false),
            stored(5, Vaccine::Bcg, d(2025, 3, 1), false),
            // DT under the 2021 edition is its own series; from 2025 DTaP's fifth dose.
            stored(6, Vaccine::Dt, d(2024, 6, 1), false),
            stored(7, Vaccine::Dt, d(2025, 6, 1), false),
        ];
        number_doses(&mut doses);
        let got: Vec<(i64, Option<&str>, Option<u8>)> = doses
            .iter()
            .map(|x| (x.id, x.series, x.dose_number))
            .collect();
        assert_eq!(
            got,
            [
                (3, Some("hepb"), Some(3)),
                (1, Some("hepb"), Some(1)),
                (2, None, None),
                (4, Some("hepb"), Some(2)),
                (5, Some("bcg"), Some(1)),
                (6, Some("dt"), Some(1)),
                (7, Some("dtp"), Some(1)),
            ]
        );
    }

    #[test]
    fn due_rows_name_series_and_dose_and_carry_the_catch_up_limit() {
        let birth = d(2025, 3, 1);
        let given = [Dose {
            vaccine: Vaccine::HepB,
            date: birth,
        }];
        let rows = due_rows(birth, Some(Sex::Female), &given, d(2025, 3, 10));
        let hepb2 = rows
            .iter()
            .find(|r| r.visit_code == "hepb:2")
            .expect("hepb dose 2 is listed");
        assert_eq!(hepb2.programme, "immunization");
        assert_eq!(hepb2.due_from, d(2025, 4, 1));
        assert_eq!(hepb2.missed_on, Some(d(2043, 3, 1)));
        assert!(rows.iter().all(|r| r.visit_code != "hepb:1"));
        // BCG given on no day: due from birth, no longer given from 4 years.
        let bcg = rows.iter().find(|r| r.visit_code == "bcg:1").expect("bcg");
        assert_eq!((bcg.due_from, bcg.missed_on), (birth, Some(d(2029, 3, 1))));
        // Past the catch-up age: listed as missed on the day it stopped.
        let late = due_rows(birth, Some(Sex::Female), &given, d(2029, 6, 1));
        let bcg = late.iter().find(|r| r.visit_code == "bcg:1").expect("bcg");
        assert_eq!(bcg.missed_on, Some(d(2029, 3, 1)));
    }

    #[test]
    fn problem_codes_are_distinct() {
        let problems = [
            DoseProblem::BeforeBirth,
            DoseProblem::NotInSchedule {
                vaccine: Vaccine::Hpv2,
            },
            DoseProblem::NotForSex {
                vaccine: Vaccine::Hpv2,
            },
            DoseProblem::Duplicate {
                vaccine: Vaccine::HepB,
            },
            DoseProblem::NotNeeded {
                vaccine: Vaccine::HepB,
            },
            DoseProblem::PastCatchUpAge {
                until: d(2030, 1, 1),
            },
            DoseProblem::UseInstead {
                vaccine: Vaccine::Dt,
            },
        ];
        let mut codes: Vec<&str> = problems.iter().map(problem_code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), problems.len());
    }
}
