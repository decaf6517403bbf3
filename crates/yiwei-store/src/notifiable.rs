//! Notifiable-disease case reports (传染病报告卡), their CDC review, suspected food-borne
//! cases, the daily counts behind early warning, warning signals and their workflow.
//!
//! The rules are `yiwei_domain::notifiable`; this module applies them inside transactions:
//! a card is checked, tested for a probable duplicate (same resident, disease and subtype
//! within the window), timed against its deadline, and written with its audit row in one
//! transaction. Review actions, signal steps and re-runs of the warning job are likewise
//! atomic and idempotent (a signal is unique per day, disease, area and method).
//!
//! Readers and writers of cards and food-borne cases are `pub(crate)`: callers go through
//! [`crate::access`], which checks the viewer and audits. Counts, statistics, timeliness
//! per institution and the signals themselves are aggregates with no personal data and are
//! public; the cases behind a signal are a personal list and go through `access`.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::{Value, json};
use yiwei_domain::division::{DivisionCode, Level};
use yiwei_domain::notifiable::card::{self, Belongs, Card, CardKind};
use yiwei_domain::notifiable::disease::{self, CaseClass, Course};
use yiwei_domain::notifiable::foodborne::{self, FoodborneCase};
use yiwei_domain::notifiable::workflow::{
    self, CardStatus, Prior, ReviewAction, SignalStatus, SignalStep,
};

use crate::audit::{self, Event};
use crate::crypto::Field;
use crate::{Result, Row, Store, StoreError, Tx, on_pool, on_tx};

/// Settings of the reporting rules that are configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Probable-duplicate window (days).
    pub duplicate_window_days: i64,
    /// The county's offset from UTC (hours), for local dates.
    pub utc_offset_hours: i32,
    /// The county (本县区 addresses must lie in it).
    pub county: DivisionCode,
    /// Deadline of a food-borne case report from the visit (hours).
    pub foodborne_deadline_hours: i64,
}

impl Settings {
    pub fn new(county: DivisionCode) -> Settings {
        Settings {
            duplicate_window_days: workflow::DEFAULT_DUPLICATE_WINDOW_DAYS,
            utc_offset_hours: 8,
            county,
            foodborne_deadline_hours: foodborne::DEFAULT_DEADLINE_HOURS,
        }
    }

    fn offset(&self) -> Duration {
        Duration::hours(i64::from(self.utc_offset_hours))
    }

    /// A local date-time of the county as a UTC instant.
    pub fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        Utc.from_utc_datetime(&(local - self.offset()))
    }

    /// The county's local date-time of an instant.
    pub fn to_local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        (t + self.offset()).naive_utc()
    }
}

/// The result of writing a card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reported {
    pub id: i64,
    pub card_no: String,
    pub status: CardStatus,
    /// The earlier card this one probably duplicates (then status is `probable_duplicate`).
    pub duplicate_of: Option<i64>,
    pub on_time: bool,
}

/// A stored card.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseReport {
    pub id: i64,
    pub card_no: String,
    pub kind: CardKind,
    pub corrects_id: Option<i64>,
    pub resident_id: i64,
    pub division: DivisionCode,
    pub township: String,
    pub institution_id: i64,
    pub institution_name: String,
    pub author_id: Option<i64>,
    pub patient_name: String,
    pub guardian_name: String,
    pub sex: String,
    pub birth_date: NaiveDate,
    pub work_unit: String,
    /// The phone, decrypted (shown masked by the pages).
    pub phone: Option<String>,
    pub belongs: Belongs,
    pub address_code: String,
    pub address_detail: String,
    pub occupation: String,
    pub disease: String,
    pub subtype: Option<String>,
    pub case_class: CaseClass,
    pub course: Option<Course>,
    pub onset_date: NaiveDate,
    pub diagnosed_at: DateTime<Utc>,
    pub diagnosed_on: NaiveDate,
    pub death_date: Option<NaiveDate>,
    pub fill_date: NaiveDate,
    pub doctor: String,
    pub remarks: String,
    pub reported_at: DateTime<Utc>,
    pub deadline_hours: i64,
    pub on_time: bool,
    pub status: CardStatus,
    pub duplicate_of: Option<i64>,
    pub version: i64,
}

/// One review action in a card's history.
#[derive(Clone, Debug, PartialEq)]
pub struct Review {
    pub id: i64,
    pub action: String,
    pub from_status: String,
    pub to_status: String,
    pub reason: String,
    pub correction_id: Option<i64>,
    pub user_name: Option<String>,
    pub at: DateTime<Utc>,
}

/// The new diagnosis of a 订正 (revise) action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revision {
    pub disease: String,
    pub subtype: Option<String>,
    pub case_class: CaseClass,
    pub course: Option<Course>,
}

fn bad(what: &str) -> StoreError {
    StoreError::Other(format!("stored case report has a bad {what}"))
}

fn problems(list: Vec<card::Problem>) -> StoreError {
    StoreError::Invalid(
        list.iter()
            .map(|p| format!("{}: {}", p.field, p.en))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

const CASE_COLUMNS: &str = "c.id, c.card_no, c.kind, c.corrects_id, c.resident_id, c.division_code, \
    c.township_code, c.institution_id, i.name AS institution_name, c.author_id, c.patient_name, \
    c.guardian_name, c.sex, c.birth_date, c.work_unit, c.phone_enc, c.belongs, c.address_code, \
    c.address_detail, c.occupation, c.disease, c.subtype, c.case_class, c.course, c.onset_date, \
    c.diagnosed_at, c.diagnosed_on, c.death_date, c.fill_date, c.doctor, c.remarks, c.reported_at, \
    c.deadline_hours, c.on_time, c.status, c.duplicate_of, c.version";
const CASE_FROM: &str = "FROM case_report c JOIN institution i ON i.id = c.institution_id";

fn case_row(store: &Store, row: &impl Row) -> Result<CaseReport> {
    let text = |name: &str| -> Result<String> { Ok(row.col::<String>(name)?) };
    let phone: Option<Vec<u8>> = row.col("phone_enc")?;
    let phone = match phone {
        Some(blob) => Some(store.keys().decrypt(Field::Phone, &blob)?),
        None => None,
    };
    let course: Option<String> = row.col("course")?;
    Ok(CaseReport {
        id: row.col("id")?,
        card_no: text("card_no")?,
        kind: CardKind::parse(&text("kind")?).ok_or_else(|| bad("kind"))?,
        corrects_id: row.col("corrects_id")?,
        resident_id: row.col("resident_id")?,
        division: DivisionCode::parse(&text("division_code")?).map_err(|_| bad("division"))?,
        township: text("township_code")?,
        institution_id: row.col("institution_id")?,
        institution_name: text("institution_name")?,
        author_id: row.col("author_id")?,
        patient_name: text("patient_name")?,
        guardian_name: text("guardian_name")?,
        sex: text("sex")?,
        birth_date: row.col("birth_date")?,
        work_unit: text("work_unit")?,
        phone,
        belongs: Belongs::parse(&text("belongs")?).ok_or_else(|| bad("belongs"))?,
        address_code: text("address_code")?,
        address_detail: text("address_detail")?,
        occupation: text("occupation")?,
        disease: text("disease")?,
        subtype: row.col("subtype")?,
        case_class: CaseClass::parse(&text("case_class")?).ok_or_else(|| bad("case class"))?,
        course: match course {
            Some(c) => Some(Course::parse(&c).ok_or_else(|| bad("course"))?),
            None => None,
        },
        onset_date: row.col("onset_date")?,
        diagnosed_at: row.col("diagnosed_at")?,
        diagnosed_on: row.col("diagnosed_on")?,
        death_date: row.col("death_date")?,
        fill_date: row.col("fill_date")?,
        doctor: text("doctor")?,
        remarks: text("remarks")?,
        reported_at: row.col("reported_at")?,
        deadline_hours: row.col("deadline_hours")?,
        on_time: row.col("on_time")?,
        status: CardStatus::parse(&text("status")?).ok_or_else(|| bad("status"))?,
        duplicate_of: row.col("duplicate_of")?,
        version: row.col("version")?,
    })
}

/// The village of a live record, read inside the transaction.
async fn live_village(tx: &mut Tx<'_>, resident_id: i64) -> Result<DivisionCode> {
    let row: Option<(String, Option<i64>)> = on_tx!(tx, |conn| {
        sqlx::query_as("SELECT division_code, merged_into FROM resident WHERE id = $1")
            .bind(resident_id)
            .fetch_optional(&mut *conn)
            .await
    })?;
    match row {
        None => Err(StoreError::NotFound("resident")),
        Some((_, Some(into))) => Err(StoreError::Invalid(format!(
            "this record was merged into record {into}; report on that one"
        ))),
        Some((division, None)) => {
            DivisionCode::parse(&division).map_err(|_| bad("resident division"))
        }
    }
}

/// The township of a village (or the division itself above township level).
fn township_of(division: &DivisionCode) -> String {
    division
        .ancestor_at(Level::Township)
        .unwrap_or_else(|| division.clone())
        .as_str()
        .to_owned()
}

async fn priors(tx: &mut Tx<'_>, resident_id: i64, disease: &str) -> Result<Vec<Prior>> {
    let rows: Vec<(i64, String, Option<String>, NaiveDate, String)> = on_tx!(tx, |conn| {
        sqlx::query_as(
            "SELECT id, disease, subtype, diagnosed_on, status FROM case_report \
             WHERE resident_id = $1 AND disease = $2",
        )
        .bind(resident_id)
        .bind(disease)
        .fetch_all(&mut *conn)
        .await
    })?;
    Ok(rows
        .into_iter()
        .map(|(id, disease, subtype, diagnosed_on, status)| Prior {
            id,
            disease,
            subtype,
            diagnosed_on,
            live: CardStatus::parse(&status).is_some_and(CardStatus::counts),
        })
        .collect())
}

/// Insert a checked card; returns its id, number, status and duplicate.
#[expect(clippy::too_many_arguments, reason = "one insert, its parts named")]
async fn insert_card(
    tx: &mut Tx<'_>,
    store: &Store,
    settings: &Settings,
    resident_id: i64,
    author_id: Option<i64>,
    institution_id: i64,
    card: &Card,
    corrects: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Reported> {
    let ctx = card::Context {
        now: settings.to_local(now),
        county: settings.county.clone(),
    };
    card::validate(card, &ctx).map_err(problems)?;
    let (d, sub) = card::resolve(
        &card.disease,
        card.subtype.as_deref(),
        card.diagnosed_at.date(),
    )
    .map_err(problems)?;
    let division = live_village(tx, resident_id).await?;
    let diagnosed_on = card.diagnosed_at.date();
    let duplicate_of = if corrects.is_some() {
        None
    } else {
        let list = priors(tx, resident_id, &card.disease).await?;
        workflow::probable_duplicate(
            &list,
            &card.disease,
            card.subtype.as_deref(),
            diagnosed_on,
            settings.duplicate_window_days,
        )
    };
    let status = if duplicate_of.is_some() {
        CardStatus::ProbableDuplicate
    } else {
        CardStatus::Pending
    };
    let deadline = d.deadline_hours(sub, diagnosed_on);
    let diagnosed_at = settings.to_utc(card.diagnosed_at);
    let (on_time, _) = workflow::timeliness(diagnosed_at, now, deadline);
    let phone = card.phone.trim();
    let phone_enc = (!phone.is_empty()).then(|| store.keys().encrypt(Field::Phone, phone));
    let placeholder = format!("new-{}", crate::crypto::random_token());
    let id: i64 = on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO case_report (card_no, kind, corrects_id, resident_id, division_code, \
             township_code, institution_id, author_id, patient_name, guardian_name, sex, birth_date, \
             work_unit, phone_enc, belongs, address_code, address_detail, occupation, disease, subtype, \
             case_class, course, onset_date, diagnosed_at, diagnosed_on, death_date, fill_date, doctor, \
             remarks, reported_at, deadline_hours, on_time, status, duplicate_of) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
             $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34) RETURNING id",
        )
        .bind(&placeholder)
        .bind(card.kind.as_str())
        .bind(corrects)
        .bind(resident_id)
        .bind(division.as_str())
        .bind(township_of(&division))
        .bind(institution_id)
        .bind(author_id)
        .bind(card.patient_name.trim())
        .bind(card.guardian_name.trim())
        .bind(&card.sex)
        .bind(card.birth_date)
        .bind(card.work_unit.trim())
        .bind(phone_enc.as_deref())
        .bind(card.belongs.as_str())
        .bind(card.address_code.trim())
        .bind(card.address_detail.trim())
        .bind(&card.occupation)
        .bind(&card.disease)
        .bind(sub.map(|s| s.code))
        .bind(card.case_class.as_str())
        .bind(card.course.map(Course::as_str))
        .bind(card.onset_date)
        .bind(diagnosed_at)
        .bind(diagnosed_on)
        .bind(card.death_date)
        .bind(card.fill_date)
        .bind(card.doctor.trim())
        .bind(card.remarks.trim())
        .bind(now)
        .bind(deadline)
        .bind(on_time)
        .bind(status.as_str())
        .bind(duplicate_of)
        .fetch_one(&mut *conn)
        .await
    })?;
    // 卡片编号: the county's 6-digit code, the year of the report, and the row id.
    let card_no = format!(
        "{}{}{id:08}",
        settings.county.gbt2260(),
        settings.to_local(now).format("%Y")
    );
    on_tx!(tx, |conn| {
        sqlx::query("UPDATE case_report SET card_no = $1 WHERE id = $2")
            .bind(&card_no)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(Reported {
        id,
        card_no,
        status,
        duplicate_of,
        on_time,
    })
}

/// Write a card about `resident_id` with `event` (the caller's `create`) in one
/// transaction. A probable duplicate is written with status `probable_duplicate`.
pub(crate) async fn report(
    store: &Store,
    settings: &Settings,
    resident_id: i64,
    author_id: Option<i64>,
    institution_id: i64,
    card: &Card,
    event: Event,
) -> Result<Reported> {
    if card.kind != CardKind::Initial {
        return Err(StoreError::Invalid(
            "a correction card is written by the CDC's revise action".into(),
        ));
    }
    let now = crate::now();
    let mut tx = store.begin().await?;
    let reported = insert_card(
        &mut tx,
        store,
        settings,
        resident_id,
        author_id,
        institution_id,
        card,
        None,
        now,
    )
    .await?;
    let event = event
        .object("case_report", reported.id)
        .resident(resident_id);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(reported)
}

/// The resident a card is about (no content).
pub async fn resident_of(store: &Store, case_id: i64) -> Result<i64> {
    on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT resident_id FROM case_report WHERE id = $1")
            .bind(case_id)
            .fetch_optional(pool)
            .await
    })?
    .ok_or(StoreError::NotFound("case report"))
}

/// The institution that reported a card (no content).
pub async fn institution_of(store: &Store, case_id: i64) -> Result<i64> {
    on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT institution_id FROM case_report WHERE id = $1")
            .bind(case_id)
            .fetch_optional(pool)
            .await
    })?
    .ok_or(StoreError::NotFound("case report"))
}

/// One card.
pub(crate) async fn get(store: &Store, case_id: i64) -> Result<CaseReport> {
    let sql = format!("SELECT {CASE_COLUMNS} {CASE_FROM} WHERE c.id = $1");
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(case_id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("case report"))?;
        case_row(store, &row)
    })
}

/// Which cards a list shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CaseFilter {
    pub resident_id: Option<i64>,
    pub statuses: Vec<CardStatus>,
    pub disease: Option<String>,
    /// Diagnosed on or after / before (exclusive).
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Onset on or after / before (exclusive).
    pub onset_from: Option<NaiveDate>,
    pub onset_to: Option<NaiveDate>,
    /// Reported at or after / before (exclusive).
    pub reported_from: Option<DateTime<Utc>>,
    pub reported_to: Option<DateTime<Utc>>,
    /// Reported by this institution.
    pub institution_id: Option<i64>,
}

/// Cards inside `root` (the resident's village at report time), newest first, with the
/// total.
pub(crate) async fn list(
    store: &Store,
    root: &DivisionCode,
    filter: &CaseFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<CaseReport>, i64)> {
    let (low, high) = root.subtree_range();
    let mut conditions = vec!["c.division_code >= $1 AND c.division_code < $2".to_owned()];
    let mut texts: Vec<String> = Vec::new();
    let mut n = 2;
    if !filter.statuses.is_empty() {
        let marks: Vec<String> = filter
            .statuses
            .iter()
            .map(|s| {
                n += 1;
                texts.push(s.as_str().to_owned());
                format!("${n}")
            })
            .collect();
        conditions.push(format!("c.status IN ({})", marks.join(", ")));
    }
    if let Some(d) = &filter.disease {
        n += 1;
        texts.push(d.clone());
        conditions.push(format!("c.disease = ${n}"));
    }
    let mut dates = Vec::new();
    for (column, bound, op) in [
        ("diagnosed_on", filter.from, ">="),
        ("diagnosed_on", filter.to, "<"),
        ("onset_date", filter.onset_from, ">="),
        ("onset_date", filter.onset_to, "<"),
    ] {
        if let Some(d) = bound {
            n += 1;
            dates.push(d);
            conditions.push(format!("c.{column} {op} ${n}"));
        }
    }
    let mut instants = Vec::new();
    for (bound, op) in [(filter.reported_from, ">="), (filter.reported_to, "<")] {
        if let Some(t) = bound {
            n += 1;
            instants.push(t);
            conditions.push(format!("c.reported_at {op} ${n}"));
        }
    }
    let mut ids = Vec::new();
    for (column, id) in [
        ("resident_id", filter.resident_id),
        ("institution_id", filter.institution_id),
    ] {
        if let Some(id) = id {
            n += 1;
            ids.push(id);
            conditions.push(format!("c.{column} = ${n}"));
        }
    }
    let where_sql = conditions.join(" AND ");
    let list_sql = format!(
        "SELECT {CASE_COLUMNS} {CASE_FROM} WHERE {where_sql} ORDER BY c.id DESC LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let count_sql = format!("SELECT COUNT(*) FROM case_report c WHERE {where_sql}");
    on_pool!(store, |pool| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(list_sql.as_str()))
            .bind(&low)
            .bind(&high);
        let mut c = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql.as_str()))
            .bind(&low)
            .bind(&high);
        for t in &texts {
            q = q.bind(t.clone());
            c = c.bind(t.clone());
        }
        for d in &dates {
            q = q.bind(*d);
            c = c.bind(*d);
        }
        for t in &instants {
            q = q.bind(*t);
            c = c.bind(*t);
        }
        for id in &ids {
            q = q.bind(*id);
            c = c.bind(*id);
        }
        let rows = q.bind(limit).bind(offset).fetch_all(pool).await?;
        let total = c.fetch_one(pool).await?;
        Ok((
            rows.iter()
                .map(|r| case_row(store, r))
                .collect::<Result<Vec<_>>>()?,
            total,
        ))
    })
}

/// A card's review history, oldest first.
pub(crate) async fn reviews(store: &Store, case_id: i64) -> Result<Vec<Review>> {
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT r.id, r.action, r.from_status, r.to_status, r.reason, r.correction_id, \
             u.display_name AS user_name, r.at FROM case_review r \
             LEFT JOIN app_user u ON u.id = r.user_id WHERE r.case_id = $1 ORDER BY r.id",
        )
        .bind(case_id)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Review {
                    id: r.col("id")?,
                    action: r.col("action")?,
                    from_status: r.col("from_status")?,
                    to_status: r.col("to_status")?,
                    reason: r.col("reason")?,
                    correction_id: r.col("correction_id")?,
                    user_name: r.col("user_name")?,
                    at: r.col("at")?,
                })
            })
            .collect()
    })
}

/// One step of a card's review history (`case_review`).
struct ReviewRow<'a> {
    case_id: i64,
    action: &'a str,
    from: CardStatus,
    to: CardStatus,
    reason: &'a str,
    correction: Option<i64>,
    user_id: Option<i64>,
    at: DateTime<Utc>,
}

/// Write one review step inside the step's transaction: the review actions and the
/// reporting clinician's resubmission share the history.
async fn insert_review(tx: &mut Tx<'_>, r: &ReviewRow<'_>) -> Result<()> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO case_review (case_id, action, from_status, to_status, reason, correction_id, \
             user_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(r.case_id)
        .bind(r.action)
        .bind(r.from.as_str())
        .bind(r.to.as_str())
        .bind(r.reason.trim())
        .bind(r.correction)
        .bind(r.user_id)
        .bind(r.at)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// Apply a CDC review action to a card at `expected_version`, with `event` appended in
/// the same transaction. `Revise` needs `revision` and writes the correction card (订正
/// 报告) as a new row; returns the correction's id then.
#[expect(clippy::too_many_arguments, reason = "one review, its parts named")]
pub(crate) async fn review(
    store: &Store,
    settings: &Settings,
    case_id: i64,
    expected_version: i64,
    action: ReviewAction,
    reason: &str,
    revision: Option<&Revision>,
    user_id: Option<i64>,
    event: Event,
) -> Result<Option<i64>> {
    let current = get(store, case_id).await?;
    if current.version != expected_version {
        return Err(StoreError::Invalid(
            "someone changed this card meanwhile; reload it and review again".into(),
        ));
    }
    let to = workflow::review(current.status, action, reason)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let now = crate::now();
    let mut tx = store.begin().await?;
    let correction = match (action, revision) {
        (ReviewAction::Revise, None) => {
            return Err(StoreError::Invalid(
                "a revision names the new disease and classification".into(),
            ));
        }
        (ReviewAction::Revise, Some(r)) => {
            let local_diag = settings.to_local(current.diagnosed_at);
            let card = Card {
                kind: CardKind::Correction,
                patient_name: current.patient_name.clone(),
                guardian_name: current.guardian_name.clone(),
                sex: current.sex.clone(),
                birth_date: current.birth_date,
                work_unit: current.work_unit.clone(),
                phone: current.phone.clone().unwrap_or_default(),
                belongs: current.belongs,
                address_code: current.address_code.clone(),
                address_detail: current.address_detail.clone(),
                occupation: current.occupation.clone(),
                disease: r.disease.clone(),
                subtype: r.subtype.clone(),
                case_class: r.case_class,
                course: r.course,
                onset_date: current.onset_date,
                diagnosed_at: local_diag,
                death_date: current.death_date,
                fill_date: settings.to_local(now).date(),
                doctor: current.doctor.clone(),
                remarks: format!("订正 {}", current.card_no),
            };
            let reported = insert_card(
                &mut tx,
                store,
                settings,
                current.resident_id,
                current.author_id,
                current.institution_id,
                &card,
                Some(case_id),
                now,
            )
            .await?;
            // The correction was reviewed by the CDC itself: accepted at once, and timed
            // like the original (the deadline ran from the first report).
            on_tx!(&mut tx, |conn| {
                sqlx::query(
                    "UPDATE case_report SET status = 'accepted', on_time = $1, reported_at = $2 \
                     WHERE id = $3",
                )
                .bind(current.on_time)
                .bind(current.reported_at)
                .bind(reported.id)
                .execute(&mut *conn)
                .await
                .map(|r| r.rows_affected())
            })?;
            Some(reported.id)
        }
        _ => None,
    };
    let changed = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE case_report SET status = $1, version = version + 1 WHERE id = $2 AND version = $3",
        )
        .bind(to.as_str())
        .bind(case_id)
        .bind(expected_version)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    if changed != 1 {
        return Err(StoreError::Invalid(
            "someone changed this card meanwhile; reload it and review again".into(),
        ));
    }
    let step = ReviewRow {
        case_id,
        action: action.as_str(),
        from: current.status,
        to,
        reason,
        correction,
        user_id,
        at: now,
    };
    insert_review(&mut tx, &step).await?;
    let event = event
        .object("case_report", case_id)
        .resident(current.resident_id)
        .reason(action.as_str());
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(correction)
}

/// Correct a returned card and send it back to review (更正后重新上报), with `event` (the
/// caller's `update`) in the same transaction. The corrected card is checked like a new
/// one; it keeps its number and its first report time, so its timeliness still runs from
/// the first report (a correction does not make a late card on time, nor the reverse
/// unless the disease, and so the deadline, changed). It goes back as a probable duplicate
/// when the correction makes it duplicate a live card. `note` is the clinician's answer to
/// the return reason, kept in the review history.
#[expect(
    clippy::too_many_arguments,
    reason = "one resubmission, its parts named"
)]
pub(crate) async fn resubmit(
    store: &Store,
    settings: &Settings,
    case_id: i64,
    expected_version: i64,
    card: &Card,
    note: &str,
    user_id: Option<i64>,
    event: Event,
) -> Result<CardStatus> {
    let stale = || {
        StoreError::Invalid(
            "someone changed this card meanwhile; reload it and correct it again".into(),
        )
    };
    if card.kind != CardKind::Initial {
        return Err(StoreError::Invalid(
            "a correction card is written by the CDC's revise action".into(),
        ));
    }
    let current = get(store, case_id).await?;
    if current.version != expected_version {
        return Err(stale());
    }
    // Refuse a card that is not returned before looking at its fields.
    workflow::resubmit(current.status, None).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let now = crate::now();
    let ctx = card::Context {
        now: settings.to_local(now),
        county: settings.county.clone(),
    };
    card::validate(card, &ctx).map_err(problems)?;
    let (d, sub) = card::resolve(
        &card.disease,
        card.subtype.as_deref(),
        card.diagnosed_at.date(),
    )
    .map_err(problems)?;
    let mut tx = store.begin().await?;
    let diagnosed_on = card.diagnosed_at.date();
    let list = priors(&mut tx, current.resident_id, &card.disease).await?;
    let others: Vec<Prior> = list.into_iter().filter(|p| p.id != case_id).collect();
    let duplicate_of = workflow::probable_duplicate(
        &others,
        &card.disease,
        card.subtype.as_deref(),
        diagnosed_on,
        settings.duplicate_window_days,
    );
    let to = workflow::resubmit(current.status, duplicate_of)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let deadline = d.deadline_hours(sub, diagnosed_on);
    let diagnosed_at = settings.to_utc(card.diagnosed_at);
    let (on_time, _) = workflow::timeliness(diagnosed_at, current.reported_at, deadline);
    let phone = card.phone.trim();
    let phone_enc = (!phone.is_empty()).then(|| store.keys().encrypt(Field::Phone, phone));
    let changed = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE case_report SET patient_name = $1, guardian_name = $2, sex = $3, birth_date = $4, \
             work_unit = $5, phone_enc = $6, belongs = $7, address_code = $8, address_detail = $9, \
             occupation = $10, disease = $11, subtype = $12, case_class = $13, course = $14, \
             onset_date = $15, diagnosed_at = $16, diagnosed_on = $17, death_date = $18, fill_date = $19, \
             doctor = $20, remarks = $21, deadline_hours = $22, on_time = $23, status = $24, \
             duplicate_of = $25, version = version + 1 \
             WHERE id = $26 AND version = $27 AND status = 'returned'",
        )
        .bind(card.patient_name.trim())
        .bind(card.guardian_name.trim())
        .bind(&card.sex)
        .bind(card.birth_date)
        .bind(card.work_unit.trim())
        .bind(phone_enc.as_deref())
        .bind(card.belongs.as_str())
        .bind(card.address_code.trim())
        .bind(card.address_detail.trim())
        .bind(&card.occupation)
        .bind(&card.disease)
        .bind(sub.map(|s| s.code))
        .bind(card.case_class.as_str())
        .bind(card.course.map(Course::as_str))
        .bind(card.onset_date)
        .bind(diagnosed_at)
        .bind(diagnosed_on)
        .bind(card.death_date)
        .bind(card.fill_date)
        .bind(card.doctor.trim())
        .bind(card.remarks.trim())
        .bind(deadline)
        .bind(on_time)
        .bind(to.as_str())
        .bind(duplicate_of)
        .bind(case_id)
        .bind(expected_version)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    if changed != 1 {
        return Err(stale());
    }
    let step = ReviewRow {
        case_id,
        action: "resubmit",
        from: current.status,
        to,
        reason: note,
        correction: None,
        user_id,
        at: now,
    };
    insert_review(&mut tx, &step).await?;
    let event = event
        .object("case_report", case_id)
        .resident(current.resident_id)
        .reason("resubmit");
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(to)
}

// ---------------------------------------------------------------------------------------
// Aggregates: counts, statistics and timeliness (no personal data).

/// Cases of one day, disease and township.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayCount {
    pub day: NaiveDate,
    pub disease: String,
    pub township: String,
    pub n: i64,
}

/// Rebuild the daily counts of `[from, to]` (inclusive) from the cards that count
/// (pending, probable duplicate, accepted). Idempotent: a day's rows are replaced.
pub async fn refresh_counts(store: &Store, from: NaiveDate, to: NaiveDate) -> Result<u64> {
    let mut tx = store.begin().await?;
    on_tx!(&mut tx, |conn| {
        sqlx::query("DELETE FROM case_count WHERE day >= $1 AND day <= $2")
            .bind(from)
            .bind(to)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
    })?;
    let n = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "INSERT INTO case_count (day, disease, township_code, n) \
             SELECT diagnosed_on, disease, township_code, COUNT(*) FROM case_report \
             WHERE diagnosed_on >= $1 AND diagnosed_on <= $2 \
             AND status IN ('pending', 'probable_duplicate', 'accepted') \
             GROUP BY diagnosed_on, disease, township_code",
        )
        .bind(from)
        .bind(to)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    tx.commit().await?;
    Ok(n)
}

/// Cases of one day, disease and village, counted live from the cards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VillageCount {
    pub day: NaiveDate,
    pub disease: String,
    /// The village code the card was written for.
    pub division: String,
    pub n: i64,
}

/// The cards that count (pending, probable duplicate, accepted) inside `root`, by local
/// diagnosis day, disease and village, for `[from, to]` (inclusive), optionally of one
/// disease. Read from `case_report` itself rather than from [`day_counts`], so the
/// statistics pages show a card the moment it is written or reviewed, not after the next
/// warning run.
pub async fn village_counts(
    store: &Store,
    root: &DivisionCode,
    from: NaiveDate,
    to: NaiveDate,
    disease: Option<&str>,
) -> Result<Vec<VillageCount>> {
    let (low, high) = root.subtree_range();
    let disease_sql = if disease.is_some() {
        " AND disease = $5"
    } else {
        ""
    };
    let sql = format!(
        "SELECT diagnosed_on, disease, division_code, COUNT(*) AS n FROM case_report \
         WHERE diagnosed_on >= $1 AND diagnosed_on <= $2 AND division_code >= $3 \
         AND division_code < $4 AND status IN ('pending', 'probable_duplicate', 'accepted'){disease_sql} \
         GROUP BY diagnosed_on, disease, division_code ORDER BY diagnosed_on, disease, division_code"
    );
    on_pool!(store, |pool| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(from)
            .bind(to)
            .bind(&low)
            .bind(&high);
        if let Some(d) = disease {
            q = q.bind(d.to_owned());
        }
        let rows = q.fetch_all(pool).await?;
        rows.iter()
            .map(|r| {
                Ok(VillageCount {
                    day: r.col("diagnosed_on")?,
                    disease: r.col("disease")?,
                    division: r.col("division_code")?,
                    n: r.col("n")?,
                })
            })
            .collect()
    })
}

/// The daily counts (from [`refresh_counts`]) inside `root` for `[from, to]`.
pub async fn day_counts(
    store: &Store,
    root: &DivisionCode,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DayCount>> {
    let (low, high) = root.subtree_range();
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT day, disease, township_code, n FROM case_count \
             WHERE day >= $1 AND day <= $2 AND township_code >= $3 AND township_code < $4 \
             ORDER BY day, disease, township_code",
        )
        .bind(from)
        .bind(to)
        .bind(&low)
        .bind(&high)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DayCount {
                    day: r.col("day")?,
                    disease: r.col("disease")?,
                    township: r.col("township_code")?,
                    n: r.col("n")?,
                })
            })
            .collect()
    })
}

/// The daily series of one disease inside `root` for `[from, to]`, one entry per day
/// (zeros filled), from the counts table.
pub async fn series(
    store: &Store,
    disease: &str,
    root: &DivisionCode,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<u32>> {
    let (low, high) = root.subtree_range();
    let rows: Vec<(NaiveDate, i64)> = on_pool!(store, |pool| {
        sqlx::query_as(
            "SELECT day, CAST(SUM(n) AS BIGINT) FROM case_count WHERE disease = $1 AND day >= $2 AND day <= $3 \
             AND township_code >= $4 AND township_code < $5 GROUP BY day",
        )
        .bind(disease)
        .bind(from)
        .bind(to)
        .bind(&low)
        .bind(&high)
        .fetch_all(pool)
        .await
    })?;
    let days = (to - from).num_days() + 1;
    let mut out = vec![0u32; days.max(0) as usize];
    for (day, n) in rows {
        let i = (day - from).num_days();
        if let Some(slot) = usize::try_from(i).ok().and_then(|i| out.get_mut(i)) {
            *slot = u32::try_from(n).unwrap_or(u32::MAX);
        }
    }
    Ok(out)
}

/// Cases counted by the diagnosing institution, for reporting timeliness (报告及时率).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstitutionTimeliness {
    pub institution_id: i64,
    pub institution_name: String,
    pub reported: i64,
    pub on_time: i64,
    /// Median minutes from diagnosis to report.
    pub median_minutes: Option<i64>,
}

/// Timeliness per reporting institution for cards diagnosed in `[from, to)` inside `root`
/// (initial cards; deleted duplicates excluded).
pub async fn timeliness_by_institution(
    store: &Store,
    root: &DivisionCode,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<InstitutionTimeliness>> {
    let (low, high) = root.subtree_range();
    type Timed = (i64, String, bool, DateTime<Utc>, DateTime<Utc>);
    let rows: Vec<Timed> = on_pool!(store, |pool| {
        sqlx::query_as(
            "SELECT c.institution_id, i.name, c.on_time, c.diagnosed_at, c.reported_at \
             FROM case_report c JOIN institution i ON i.id = c.institution_id \
             WHERE c.kind = 'initial' AND c.status <> 'deleted' AND c.diagnosed_on >= $1 \
             AND c.diagnosed_on < $2 AND c.division_code >= $3 AND c.division_code < $4 \
             ORDER BY c.institution_id",
        )
        .bind(from)
        .bind(to)
        .bind(&low)
        .bind(&high)
        .fetch_all(pool)
        .await
    })?;
    let mut out: Vec<(InstitutionTimeliness, Vec<i64>)> = Vec::new();
    for (id, name, on_time, diagnosed, reported) in rows {
        if out.last().is_none_or(|(t, _)| t.institution_id != id) {
            out.push((
                InstitutionTimeliness {
                    institution_id: id,
                    institution_name: name,
                    reported: 0,
                    on_time: 0,
                    median_minutes: None,
                },
                Vec::new(),
            ));
        }
        if let Some((t, minutes)) = out.last_mut() {
            t.reported += 1;
            t.on_time += i64::from(on_time);
            minutes.push((reported - diagnosed).num_minutes().max(0));
        }
    }
    Ok(out
        .into_iter()
        .map(|(mut t, mut minutes)| {
            minutes.sort_unstable();
            t.median_minutes = minutes.get(minutes.len() / 2).copied();
            t
        })
        .collect())
}

// ---------------------------------------------------------------------------------------
// Suspected food-borne cases.

/// A stored food-borne case.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredFoodborne {
    pub id: i64,
    pub resident_id: i64,
    pub division: String,
    pub institution_id: i64,
    pub institution_name: String,
    pub patient_name: String,
    pub onset_at: DateTime<Utc>,
    pub visit_at: DateTime<Utc>,
    pub symptoms: Vec<String>,
    pub suspected_food: String,
    pub food_place: String,
    pub shared_meal: Option<i64>,
    pub shared_ill: Option<i64>,
    pub specimen_taken: bool,
    pub diagnosis: String,
    pub reported_at: DateTime<Utc>,
    pub on_time: bool,
    pub status: String,
    pub version: i64,
}

/// One review action in a food-borne case's history.
#[derive(Clone, Debug, PartialEq)]
pub struct FoodborneReview {
    pub id: i64,
    pub action: String,
    pub from_status: String,
    pub to_status: String,
    pub reason: String,
    pub user_name: Option<String>,
    pub at: DateTime<Utc>,
}

/// Write a food-borne case with `event` in one transaction.
pub(crate) async fn report_foodborne(
    store: &Store,
    settings: &Settings,
    resident_id: i64,
    author_id: Option<i64>,
    institution_id: i64,
    case: &FoodborneCase,
    event: Event,
) -> Result<i64> {
    let now = crate::now();
    foodborne::validate(case, settings.to_local(now)).map_err(problems)?;
    let visit_at = settings.to_utc(case.visit_at);
    let (on_time, _) = workflow::timeliness(visit_at, now, settings.foodborne_deadline_hours);
    let symptoms =
        serde_json::to_string(&case.symptoms).map_err(|e| StoreError::Other(e.to_string()))?;
    let phone = case.phone.trim();
    let phone_enc = (!phone.is_empty()).then(|| store.keys().encrypt(Field::Phone, phone));
    let mut tx = store.begin().await?;
    let division = live_village(&mut tx, resident_id).await?;
    let id: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO foodborne_case (resident_id, division_code, institution_id, author_id, \
             patient_name, sex, birth_date, phone_enc, address_code, onset_at, visit_at, symptoms, \
             suspected_food, food_place, shared_meal, shared_ill, specimen_taken, diagnosis, \
             fill_date, doctor, reported_at, on_time, status) VALUES ($1, $2, $3, $4, $5, $6, $7, \
             $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, 'pending') \
             RETURNING id",
        )
        .bind(resident_id)
        .bind(division.as_str())
        .bind(institution_id)
        .bind(author_id)
        .bind(case.patient_name.trim())
        .bind(&case.sex)
        .bind(case.birth_date)
        .bind(phone_enc.as_deref())
        .bind(case.address_code.trim())
        .bind(settings.to_utc(case.onset_at))
        .bind(visit_at)
        .bind(&symptoms)
        .bind(case.suspected_food.trim())
        .bind(case.food_place.trim())
        .bind(case.shared_meal.map(i64::from))
        .bind(case.shared_ill.map(i64::from))
        .bind(case.specimen_taken)
        .bind(case.diagnosis.trim())
        .bind(case.fill_date)
        .bind(case.doctor.trim())
        .bind(now)
        .bind(on_time)
        .fetch_one(&mut *conn)
        .await
    })?;
    let event = event.object("foodborne_case", id).resident(resident_id);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(id)
}

/// Food-borne cases inside `root`, newest visit first, with the total.
pub(crate) async fn foodborne_list(
    store: &Store,
    root: &DivisionCode,
    limit: i64,
    offset: i64,
) -> Result<(Vec<StoredFoodborne>, i64)> {
    let (low, high) = root.subtree_range();
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT f.id, f.resident_id, f.division_code, f.institution_id, i.name AS institution_name, f.patient_name, \
             f.onset_at, f.visit_at, f.symptoms, f.suspected_food, f.food_place, f.shared_meal, \
             f.shared_ill, f.specimen_taken, f.diagnosis, f.reported_at, f.on_time, f.status, \
             f.version FROM foodborne_case f JOIN institution i ON i.id = f.institution_id \
             WHERE f.division_code >= $1 AND f.division_code < $2 \
             ORDER BY f.visit_at DESC, f.id DESC LIMIT $3 OFFSET $4",
        )
        .bind(&low)
        .bind(&high)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM foodborne_case WHERE division_code >= $1 AND division_code < $2",
        )
        .bind(&low)
        .bind(&high)
        .fetch_one(pool)
        .await?;
        let list = rows.iter().map(foodborne_row).collect::<Result<Vec<_>>>()?;
        Ok((list, total))
    })
}

const FOODBORNE_COLUMNS: &str = "f.id, f.resident_id, f.division_code, f.institution_id, \
     i.name AS institution_name, \
     f.patient_name, f.onset_at, f.visit_at, f.symptoms, f.suspected_food, f.food_place, \
     f.shared_meal, f.shared_ill, f.specimen_taken, f.diagnosis, f.reported_at, f.on_time, f.status, \
     f.version";

fn foodborne_row(r: &impl Row) -> Result<StoredFoodborne> {
    let symptoms: String = r.col("symptoms")?;
    Ok(StoredFoodborne {
        id: r.col("id")?,
        resident_id: r.col("resident_id")?,
        division: r.col("division_code")?,
        institution_id: r.col("institution_id")?,
        institution_name: r.col("institution_name")?,
        patient_name: r.col("patient_name")?,
        onset_at: r.col("onset_at")?,
        visit_at: r.col("visit_at")?,
        symptoms: serde_json::from_str(&symptoms).map_err(|_| bad("symptom list"))?,
        suspected_food: r.col("suspected_food")?,
        food_place: r.col("food_place")?,
        shared_meal: r.col("shared_meal")?,
        shared_ill: r.col("shared_ill")?,
        specimen_taken: r.col("specimen_taken")?,
        diagnosis: r.col("diagnosis")?,
        reported_at: r.col("reported_at")?,
        on_time: r.col("on_time")?,
        status: r.col("status")?,
        version: r.col("version")?,
    })
}

/// A food-borne case's review history, oldest first.
pub(crate) async fn foodborne_reviews(store: &Store, case_id: i64) -> Result<Vec<FoodborneReview>> {
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT r.id, r.action, r.from_status, r.to_status, r.reason, \
             u.display_name AS user_name, r.at FROM foodborne_review r \
             LEFT JOIN app_user u ON u.id = r.by_user WHERE r.case_id = $1 ORDER BY r.id",
        )
        .bind(case_id)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FoodborneReview {
                    id: r.col("id")?,
                    action: r.col("action")?,
                    from_status: r.col("from_status")?,
                    to_status: r.col("to_status")?,
                    reason: r.col("reason")?,
                    user_name: r.col("user_name")?,
                    at: r.col("at")?,
                })
            })
            .collect()
    })
}

/// Apply a CDC review action (accept, return, delete as duplicate) to a food-borne case at
/// `expected_version`: the status change, a history row and `event` in one transaction.
/// Only a pending case is reviewed; returning and deleting need a reason.
pub(crate) async fn review_foodborne(
    store: &Store,
    case_id: i64,
    expected_version: i64,
    action: ReviewAction,
    reason: &str,
    user_id: Option<i64>,
    event: Event,
) -> Result<()> {
    let stale = || {
        StoreError::Invalid(
            "someone changed this case meanwhile; reload it and review again".into(),
        )
    };
    let current = foodborne_get(store, case_id).await?;
    if current.version != expected_version {
        return Err(stale());
    }
    let to = match action {
        ReviewAction::Accept => "accepted",
        ReviewAction::Return => "returned",
        ReviewAction::DeleteDuplicate => "deleted",
        ReviewAction::Revise => {
            return Err(StoreError::Invalid(
                "a food-borne case is accepted, returned or deleted as a duplicate".into(),
            ));
        }
    };
    if current.status != "pending" {
        return Err(StoreError::Invalid(format!(
            "a {} case cannot be reviewed; only a pending one",
            current.status
        )));
    }
    let reason = reason.trim();
    if action.needs_reason() && reason.chars().count() < workflow::MIN_REASON_CHARS {
        return Err(StoreError::Invalid(format!(
            "give a reason of at least {} characters to return or delete a case",
            workflow::MIN_REASON_CHARS
        )));
    }
    let now = crate::now();
    let mut tx = store.begin().await?;
    let changed = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE foodborne_case SET status = $1, review_reason = $2, reviewed_by = $3, \
             reviewed_at = $4, version = version + 1 WHERE id = $5 AND version = $6",
        )
        .bind(to)
        .bind(reason)
        .bind(user_id)
        .bind(now)
        .bind(case_id)
        .bind(expected_version)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    if changed != 1 {
        return Err(stale());
    }
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "INSERT INTO foodborne_review (case_id, action, from_status, to_status, reason, \
             by_user, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(case_id)
        .bind(action.as_str())
        .bind(current.status.as_str())
        .bind(to)
        .bind(reason)
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    let event = event
        .object("foodborne_case", case_id)
        .resident(current.resident_id)
        .reason(action.as_str());
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(())
}

/// The resident a food-borne case is about (for the access check before reading it).
pub async fn foodborne_resident_of(store: &Store, case_id: i64) -> Result<i64> {
    on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT resident_id FROM foodborne_case WHERE id = $1")
            .bind(case_id)
            .fetch_optional(pool)
            .await
    })?
    .ok_or(StoreError::NotFound("food-borne case"))
}

/// One food-borne case.
pub(crate) async fn foodborne_get(store: &Store, case_id: i64) -> Result<StoredFoodborne> {
    let sql = format!(
        "SELECT {FOODBORNE_COLUMNS} FROM foodborne_case f \
         JOIN institution i ON i.id = f.institution_id WHERE f.id = $1"
    );
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(case_id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("food-borne case"))?;
        foodborne_row(&row)
    })
}

/// The institution that reported a food-borne case (only its staff correct it).
pub async fn foodborne_institution_of(store: &Store, case_id: i64) -> Result<i64> {
    on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT institution_id FROM foodborne_case WHERE id = $1")
            .bind(case_id)
            .fetch_optional(pool)
            .await
    })?
    .ok_or(StoreError::NotFound("food-borne case"))
}

/// A food-borne case as its form holds it (the phone decrypted), with the CDC's last
/// review reason: what the reporting clinician corrects after a return.
#[derive(Clone, Debug, PartialEq)]
pub struct FoodborneDraft {
    pub case: FoodborneCase,
    pub status: String,
    pub review_reason: String,
    pub version: i64,
}

/// One food-borne case as a form to correct (see [`FoodborneDraft`]).
pub(crate) async fn foodborne_draft(
    store: &Store,
    settings: &Settings,
    case_id: i64,
) -> Result<FoodborneDraft> {
    on_pool!(store, |pool| {
        let row = sqlx::query(
            "SELECT patient_name, sex, birth_date, phone_enc, address_code, onset_at, visit_at, \
             symptoms, suspected_food, food_place, shared_meal, shared_ill, specimen_taken, \
             diagnosis, fill_date, doctor, status, review_reason, version \
             FROM foodborne_case WHERE id = $1",
        )
        .bind(case_id)
        .fetch_optional(pool)
        .await?
        .ok_or(StoreError::NotFound("food-borne case"))?;
        draft_row(store, settings, &row)
    })
}

fn draft_row(store: &Store, settings: &Settings, row: &impl Row) -> Result<FoodborneDraft> {
    let phone_enc: Option<Vec<u8>> = row.col("phone_enc")?;
    let phone = match phone_enc {
        Some(blob) => store.keys().decrypt(Field::Phone, &blob)?,
        None => String::new(),
    };
    let symptoms: String = row.col("symptoms")?;
    let count = |name: &str| -> Result<Option<u32>> {
        let n: Option<i64> = row.col(name)?;
        Ok(n.and_then(|n| u32::try_from(n).ok()))
    };
    let onset_at: DateTime<Utc> = row.col("onset_at")?;
    let visit_at: DateTime<Utc> = row.col("visit_at")?;
    Ok(FoodborneDraft {
        case: FoodborneCase {
            patient_name: row.col("patient_name")?,
            sex: row.col("sex")?,
            birth_date: row.col("birth_date")?,
            phone,
            address_code: row.col("address_code")?,
            onset_at: settings.to_local(onset_at),
            visit_at: settings.to_local(visit_at),
            symptoms: serde_json::from_str(&symptoms).map_err(|_| bad("symptom list"))?,
            suspected_food: row.col("suspected_food")?,
            food_place: row.col("food_place")?,
            shared_meal: count("shared_meal")?,
            shared_ill: count("shared_ill")?,
            specimen_taken: row.col("specimen_taken")?,
            diagnosis: row.col("diagnosis")?,
            fill_date: row.col("fill_date")?,
            doctor: row.col("doctor")?,
        },
        status: row.col("status")?,
        review_reason: row.col("review_reason")?,
        version: row.col("version")?,
    })
}

/// Correct a returned food-borne case and send it back to review (更正后重新报告), with
/// `event` (the caller's `update`) in the same transaction. The corrected case is checked
/// like a new one; it keeps its first report time, so its timeliness runs from the first
/// report against the (possibly corrected) visit time. `note` is the clinician's answer
/// to the return reason, kept in the review history; the case goes back to `pending`.
#[expect(
    clippy::too_many_arguments,
    reason = "one resubmission, its parts named"
)]
pub(crate) async fn resubmit_foodborne(
    store: &Store,
    settings: &Settings,
    case_id: i64,
    expected_version: i64,
    case: &FoodborneCase,
    note: &str,
    user_id: Option<i64>,
    event: Event,
) -> Result<()> {
    let stale = || {
        StoreError::Invalid(
            "someone changed this case meanwhile; reload it and correct it again".into(),
        )
    };
    let current = foodborne_get(store, case_id).await?;
    if current.version != expected_version {
        return Err(stale());
    }
    if current.status != "returned" {
        return Err(StoreError::Invalid(format!(
            "only a case the CDC returned is corrected and resubmitted; this one is {}",
            current.status
        )));
    }
    let now = crate::now();
    foodborne::validate(case, settings.to_local(now)).map_err(problems)?;
    let visit_at = settings.to_utc(case.visit_at);
    let (on_time, _) = workflow::timeliness(
        visit_at,
        current.reported_at,
        settings.foodborne_deadline_hours,
    );
    let symptoms =
        serde_json::to_string(&case.symptoms).map_err(|e| StoreError::Other(e.to_string()))?;
    let phone = case.phone.trim();
    let phone_enc = (!phone.is_empty()).then(|| store.keys().encrypt(Field::Phone, phone));
    let mut tx = store.begin().await?;
    let changed = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE foodborne_case SET patient_name = $1, sex = $2, birth_date = $3, \
             phone_enc = $4, address_code = $5, onset_at = $6, visit_at = $7, symptoms = $8, \
             suspected_food = $9, food_place = $10, shared_meal = $11, shared_ill = $12, \
             specimen_taken = $13, diagnosis = $14, fill_date = $15, doctor = $16, \
             on_time = $17, status = 'pending', version = version + 1 \
             WHERE id = $18 AND version = $19 AND status = 'returned'",
        )
        .bind(case.patient_name.trim())
        .bind(&case.sex)
        .bind(case.birth_date)
        .bind(phone_enc.as_deref())
        .bind(case.address_code.trim())
        .bind(settings.to_utc(case.onset_at))
        .bind(visit_at)
        .bind(&symptoms)
        .bind(case.suspected_food.trim())
        .bind(case.food_place.trim())
        .bind(case.shared_meal.map(i64::from))
        .bind(case.shared_ill.map(i64::from))
        .bind(case.specimen_taken)
        .bind(case.diagnosis.trim())
        .bind(case.fill_date)
        .bind(case.doctor.trim())
        .bind(on_time)
        .bind(case_id)
        .bind(expected_version)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    if changed != 1 {
        return Err(stale());
    }
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "INSERT INTO foodborne_review (case_id, action, from_status, to_status, reason, \
             by_user, at) VALUES ($1, 'resubmit', 'returned', 'pending', $2, $3, $4)",
        )
        .bind(case_id)
        .bind(note.trim())
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    let event = event
        .object("foodborne_case", case_id)
        .resident(current.resident_id)
        .reason("resubmit");
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Food-borne cases the CDC returned to `institution_id`, oldest return first: the
/// reporting clinicians' correction work list.
pub(crate) async fn foodborne_returned(
    store: &Store,
    institution_id: i64,
    limit: i64,
) -> Result<Vec<StoredFoodborne>> {
    let sql = format!(
        "SELECT {FOODBORNE_COLUMNS} FROM foodborne_case f \
         JOIN institution i ON i.id = f.institution_id \
         WHERE f.institution_id = $1 AND f.status = 'returned' \
         ORDER BY f.reviewed_at, f.id LIMIT $2"
    );
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(institution_id)
            .bind(limit)
            .fetch_all(pool)
            .await?;
        rows.iter().map(foodborne_row).collect()
    })
}

// ---------------------------------------------------------------------------------------
// Warning signals (预警信号) and their workflow.

/// A signal to raise, as the warning job found it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewSignal {
    pub day: NaiveDate,
    pub disease: String,
    /// The township, or the county.
    pub division: DivisionCode,
    pub method: String,
    pub parameters: Vec<(String, String)>,
    pub observed: f64,
    pub threshold: Option<f64>,
    pub expected: Option<f64>,
    /// `{"from", "to", "n", "mean", "sd", "note"}` (indices as dates).
    pub baseline: Value,
}

/// A stored signal.
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    pub id: i64,
    pub day: NaiveDate,
    pub disease: String,
    pub division: String,
    pub division_name: String,
    pub method: String,
    pub parameters: Vec<(String, String)>,
    pub observed: f64,
    pub threshold: Option<f64>,
    pub expected: Option<f64>,
    pub baseline: Value,
    pub status: SignalStatus,
    pub outbreak: Option<bool>,
    pub assigned_to: Option<i64>,
    pub assignee_name: Option<String>,
    pub raised_at: DateTime<Utc>,
    pub verified_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i64,
}

impl Signal {
    /// Hours from raising to verification (the CIDARS response-time figure).
    pub fn hours_to_verify(&self) -> Option<f64> {
        self.verified_at
            .map(|v| (v - self.raised_at).num_minutes() as f64 / 60.0)
    }
}

/// One step of a signal's history.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalEvent {
    pub step: String,
    pub from_status: String,
    pub to_status: String,
    pub notes: String,
    pub assignee_name: Option<String>,
    pub user_name: Option<String>,
    pub at: DateTime<Utc>,
}

/// Raise a signal unless the same day, disease, area and method already has one; returns
/// the new id, or `None` when it existed (re-running a day adds nothing).
pub async fn raise_signal(store: &Store, new: &NewSignal) -> Result<Option<i64>> {
    let parameters: serde_json::Map<String, Value> = new
        .parameters
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    let parameters = Value::Object(parameters).to_string();
    let now = crate::now();
    let id: Option<i64> = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "INSERT INTO warning_signal (day, disease, division_code, method, parameters, observed, \
             threshold, expected, baseline, status, raised_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'raised', $10) \
             ON CONFLICT (day, disease, division_code, method) DO NOTHING RETURNING id",
        )
        .bind(new.day)
        .bind(&new.disease)
        .bind(new.division.as_str())
        .bind(&new.method)
        .bind(&parameters)
        .bind(new.observed)
        .bind(new.threshold)
        .bind(new.expected)
        .bind(new.baseline.to_string())
        .bind(now)
        .fetch_optional(pool)
        .await
    })?;
    Ok(id)
}

const SIGNAL_COLUMNS: &str = "s.id, s.day, s.disease, s.division_code, d.name AS division_name, \
    s.method, s.parameters, s.observed, s.threshold, s.expected, s.baseline, s.status, s.outbreak, \
    s.assigned_to, u.display_name AS assignee_name, s.raised_at, s.verified_at, s.closed_at, s.version";
const SIGNAL_FROM: &str = "FROM warning_signal s JOIN division d ON d.code = s.division_code \
    LEFT JOIN app_user u ON u.id = s.assigned_to";

fn signal_row(row: &impl Row) -> Result<Signal> {
    let parameters: String = row.col("parameters")?;
    let parameters: serde_json::Map<String, Value> =
        serde_json::from_str(&parameters).map_err(|_| bad("signal parameters"))?;
    let baseline: String = row.col("baseline")?;
    let status: String = row.col("status")?;
    Ok(Signal {
        id: row.col("id")?,
        day: row.col("day")?,
        disease: row.col("disease")?,
        division: row.col("division_code")?,
        division_name: row.col("division_name")?,
        method: row.col("method")?,
        parameters: parameters
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect(),
        observed: row.col("observed")?,
        threshold: row.col("threshold")?,
        expected: row.col("expected")?,
        baseline: serde_json::from_str(&baseline).map_err(|_| bad("signal baseline"))?,
        status: SignalStatus::parse(&status).ok_or_else(|| bad("signal status"))?,
        outbreak: row.col("outbreak")?,
        assigned_to: row.col("assigned_to")?,
        assignee_name: row.col("assignee_name")?,
        raised_at: row.col("raised_at")?,
        verified_at: row.col("verified_at")?,
        closed_at: row.col("closed_at")?,
        version: row.col("version")?,
    })
}

/// Which signals a list shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignalFilter {
    pub statuses: Vec<SignalStatus>,
    pub disease: Option<String>,
    /// The warning method (`fixed`, `mpm`, `ears_c1` …).
    pub method: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// Signals inside `root`, newest day first, with the total.
pub async fn signals(
    store: &Store,
    root: &DivisionCode,
    filter: &SignalFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Signal>, i64)> {
    let (low, high) = root.subtree_range();
    let mut conditions = vec!["s.division_code >= $1 AND s.division_code < $2".to_owned()];
    let mut texts: Vec<String> = Vec::new();
    let mut n = 2;
    if !filter.statuses.is_empty() {
        let marks: Vec<String> = filter
            .statuses
            .iter()
            .map(|s| {
                n += 1;
                texts.push(s.as_str().to_owned());
                format!("${n}")
            })
            .collect();
        conditions.push(format!("s.status IN ({})", marks.join(", ")));
    }
    if let Some(d) = &filter.disease {
        n += 1;
        texts.push(d.clone());
        conditions.push(format!("s.disease = ${n}"));
    }
    if let Some(m) = &filter.method {
        n += 1;
        texts.push(m.clone());
        conditions.push(format!("s.method = ${n}"));
    }
    let mut dates = Vec::new();
    for (bound, op) in [(filter.from, ">="), (filter.to, "<")] {
        if let Some(d) = bound {
            n += 1;
            dates.push(d);
            conditions.push(format!("s.day {op} ${n}"));
        }
    }
    let where_sql = conditions.join(" AND ");
    let list_sql = format!(
        "SELECT {SIGNAL_COLUMNS} {SIGNAL_FROM} WHERE {where_sql} ORDER BY s.day DESC, s.id DESC \
         LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let count_sql = format!("SELECT COUNT(*) FROM warning_signal s WHERE {where_sql}");
    on_pool!(store, |pool| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(list_sql.as_str()))
            .bind(&low)
            .bind(&high);
        let mut c = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql.as_str()))
            .bind(&low)
            .bind(&high);
        for t in &texts {
            q = q.bind(t.clone());
            c = c.bind(t.clone());
        }
        for d in &dates {
            q = q.bind(*d);
            c = c.bind(*d);
        }
        let rows = q.bind(limit).bind(offset).fetch_all(pool).await?;
        let total = c.fetch_one(pool).await?;
        Ok((
            rows.iter().map(signal_row).collect::<Result<Vec<_>>>()?,
            total,
        ))
    })
}

/// One signal.
pub async fn signal(store: &Store, id: i64) -> Result<Signal> {
    let sql = format!("SELECT {SIGNAL_COLUMNS} {SIGNAL_FROM} WHERE s.id = $1");
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("warning signal"))?;
        signal_row(&row)
    })
}

/// A signal's workflow history, oldest first.
pub async fn signal_events(store: &Store, id: i64) -> Result<Vec<SignalEvent>> {
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT e.step, e.from_status, e.to_status, e.notes, a.display_name AS assignee_name, \
             u.display_name AS user_name, e.at FROM signal_event e \
             LEFT JOIN app_user a ON a.id = e.assignee LEFT JOIN app_user u ON u.id = e.user_id \
             WHERE e.signal_id = $1 ORDER BY e.id",
        )
        .bind(id)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SignalEvent {
                    step: r.col("step")?,
                    from_status: r.col("from_status")?,
                    to_status: r.col("to_status")?,
                    notes: r.col("notes")?,
                    assignee_name: r.col("assignee_name")?,
                    user_name: r.col("user_name")?,
                    at: r.col("at")?,
                })
            })
            .collect()
    })
}

/// Move a signal one step (checked by `yiwei_domain::notifiable::workflow::signal_step`),
/// at `expected_version`. `assignee` is required for `Assign`.
pub(crate) async fn step_signal(
    store: &Store,
    id: i64,
    expected_version: i64,
    step: SignalStep,
    notes: &str,
    assignee: Option<i64>,
    user_id: i64,
) -> Result<SignalStatus> {
    let current = signal(store, id).await?;
    if current.version != expected_version {
        return Err(StoreError::Invalid(
            "someone moved this signal meanwhile; reload it".into(),
        ));
    }
    let to = workflow::signal_step(current.status, current.outbreak, step, notes)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    if step == SignalStep::Assign && assignee.is_none() {
        return Err(StoreError::Invalid(
            "choose whom to assign the signal to".into(),
        ));
    }
    let now = crate::now();
    let outbreak = match step {
        SignalStep::Verify { outbreak } => Some(outbreak),
        _ => current.outbreak,
    };
    let mut tx = store.begin().await?;
    let changed = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE warning_signal SET status = $1, outbreak = $2, \
             assigned_to = COALESCE($3, assigned_to), \
             verified_at = CASE WHEN $4 THEN $5 ELSE verified_at END, \
             closed_at = CASE WHEN $6 THEN $5 ELSE closed_at END, version = version + 1 \
             WHERE id = $7 AND version = $8",
        )
        .bind(to.as_str())
        .bind(outbreak)
        .bind(assignee)
        .bind(matches!(step, SignalStep::Verify { .. }))
        .bind(now)
        .bind(to == SignalStatus::Closed)
        .bind(id)
        .bind(expected_version)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    if changed != 1 {
        return Err(StoreError::Invalid(
            "someone moved this signal meanwhile; reload it".into(),
        ));
    }
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "INSERT INTO signal_event (signal_id, step, from_status, to_status, notes, assignee, \
             user_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(step.as_str())
        .bind(current.status.as_str())
        .bind(to.as_str())
        .bind(notes.trim())
        .bind(assignee)
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    tx.commit().await?;
    Ok(to)
}

/// The response figures of signals raised in `[from, to)` inside `root`: how many, how
/// many verified, the median hours to verify, how many judged true outbreaks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignalFigures {
    pub raised: i64,
    pub verified: i64,
    pub outbreaks: i64,
    pub median_hours_to_verify: Option<f64>,
}

pub async fn signal_figures(
    store: &Store,
    root: &DivisionCode,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<SignalFigures> {
    let (list, _) = signals(
        store,
        root,
        &SignalFilter {
            from: Some(from),
            to: Some(to),
            ..SignalFilter::default()
        },
        100_000,
        0,
    )
    .await?;
    let mut hours: Vec<f64> = list.iter().filter_map(Signal::hours_to_verify).collect();
    hours.sort_by(f64::total_cmp);
    Ok(SignalFigures {
        raised: list.len() as i64,
        verified: hours.len() as i64,
        outbreaks: list.iter().filter(|s| s.outbreak == Some(true)).count() as i64,
        median_hours_to_verify: hours.get(hours.len() / 2).copied(),
    })
}

/// Whether a disease code names a disease of the list (for filters typed by hand).
pub fn known_disease(code: &str) -> bool {
    disease::by_code(code).is_some()
}

/// The JSON kept for a baseline.
pub fn baseline_json(
    from: NaiveDate,
    to: NaiveDate,
    n: usize,
    mean: f64,
    sd: f64,
    note: &str,
) -> Value {
    json!({"from": from.to_string(), "to": to.to_string(), "n": n, "mean": mean, "sd": sd, "note": note})
}

// ---------------------------------------------------------------------------------------
// Bulk history: cards of the past loaded in batches (the demo county; a migration from a
// previous reporting system).

/// A past case to load: who, what, when; the card's personal fields are taken from the
/// resident's record inside the store.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryCase {
    pub resident_id: i64,
    pub institution_id: i64,
    pub disease: String,
    pub subtype: Option<String>,
    pub case_class: CaseClass,
    pub course: Option<Course>,
    pub onset_date: NaiveDate,
    /// Local time of the county.
    pub diagnosed_at: NaiveDateTime,
    pub reported_at: DateTime<Utc>,
    pub doctor: String,
}

/// 人群分类 by age, for a card built from a record (the record has no occupation code that
/// maps one to one): children by age band, 60+ retired, else farmer (a rural county).
fn occupation_for_age(age: u32) -> &'static str {
    match age {
        0..=2 => "scattered_child",
        3..=6 => "kindergarten",
        7..=14 => "student",
        60.. => "retired",
        _ => "farmer",
    }
}

/// Load past cards in one transaction: each is built from its resident's record (the
/// phone is the resident's own, else the contact's — a child's parent), checked like any
/// card (one that fails, say a child with no phone on record at all, is skipped and
/// counted), stored as accepted (the review happened in the past) with no duplicate check,
/// and the batch leaves one audit row. Returns (written, skipped).
pub async fn insert_history_batch(
    store: &Store,
    settings: &Settings,
    cases: &[HistoryCase],
    by: &audit::Who,
) -> Result<(usize, usize)> {
    let mut written = 0;
    let mut skipped = 0;
    let mut tx = store.begin().await?;
    for h in cases {
        type Record = (String, String, Option<NaiveDate>, String, Option<Vec<u8>>);
        let row: Option<Record> = on_tx!(&mut tx, |conn| {
            sqlx::query_as(
                "SELECT name, sex, birth_date, division_code, \
                     COALESCE(phone_enc, contact_phone_enc) AS phone_enc FROM resident \
                     WHERE id = $1 AND merged_into IS NULL",
            )
            .bind(h.resident_id)
            .fetch_optional(&mut *conn)
            .await
        })?;
        let Some((name, sex, birth, division, phone_enc)) = row else {
            skipped += 1;
            continue;
        };
        let birth =
            birth.unwrap_or_else(|| NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default());
        let phone = match phone_enc {
            Some(b) => store.keys().decrypt(Field::Phone, &b)?,
            None => String::new(),
        };
        let age = yiwei_domain::key_group::age_on(birth, h.onset_date);
        let card = Card {
            kind: CardKind::Initial,
            patient_name: name,
            guardian_name: if age <= card::CHILD_MAX_AGE {
                "监护人".into()
            } else {
                String::new()
            },
            sex,
            birth_date: birth,
            work_unit: String::new(),
            phone,
            belongs: Belongs::County,
            address_code: division,
            address_detail: "（档案住址）".into(),
            occupation: occupation_for_age(age).into(),
            disease: h.disease.clone(),
            subtype: h.subtype.clone(),
            case_class: h.case_class,
            course: h.course,
            onset_date: h.onset_date,
            diagnosed_at: h.diagnosed_at,
            death_date: None,
            fill_date: h.diagnosed_at.date(),
            doctor: h.doctor.clone(),
            remarks: String::new(),
        };
        let ctx = card::Context {
            now: settings.to_local(h.reported_at.max(settings.to_utc(h.diagnosed_at))),
            county: settings.county.clone(),
        };
        if card::validate(&card, &ctx).is_err() {
            skipped += 1;
            continue;
        }
        let settings_no_dup = Settings {
            duplicate_window_days: -1,
            ..settings.clone()
        };
        let reported = insert_card(
            &mut tx,
            store,
            &settings_no_dup,
            h.resident_id,
            None,
            h.institution_id,
            &card,
            None,
            h.reported_at,
        )
        .await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE case_report SET status = 'accepted', duplicate_of = NULL WHERE id = $1",
            )
            .bind(reported.id)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
        })?;
        written += 1;
    }
    let event = Event::new(by.clone(), audit::Action::Create)
        .object("case_report_batch", written)
        .reason("history load");
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok((written, skipped))
}

/// The ids and birth dates of the live records inside `root`, in id order (no other
/// personal data): the patients a history load may draw from, by age.
pub async fn residents_within(
    store: &Store,
    root: &DivisionCode,
) -> Result<Vec<(i64, Option<NaiveDate>)>> {
    let (low, high) = root.subtree_range();
    let rows: Vec<(i64, Option<NaiveDate>)> = on_pool!(store, |pool| {
        sqlx::query_as(
            "SELECT id, birth_date FROM resident WHERE division_code >= $1 AND division_code < $2 \
             AND merged_into IS NULL ORDER BY id",
        )
        .bind(&low)
        .bind(&high)
        .fetch_all(pool)
        .await
    })?;
    Ok(rows)
}
