//! 国家基本公共卫生服务项目, stored: enrolments (在管), the visits made, the materialised
//! work list and the reminder outbox. The rules are `yiwei_domain::programme`; this module
//! gathers a resident's facts into a [`Subject`], asks the domain what is due or what a
//! visit means, and writes the answer.
//!
//! - **Enrolment** rows say since when someone is under a programme's management and hold
//!   the episode's dates (a pregnancy, a school grade, which of the six severe mental
//!   disorders). Age-based programmes (65+, 0–6, immunization) need none: the birth date
//!   enrols. Condition programmes also enrol from the record's `profile.conditions`, from
//!   the record's creation day, until a doctor records the real start.
//! - **Visits** are an encounter of the timeline (kind `follow_up`) plus the programme's
//!   form answers and what [`outcome`] concluded; voided, never deleted.
//! - **The work list** (`programme_due`) is derived: [`refresh_resident`] rewrites one
//!   resident's rows after every write that changes them, [`refresh_all`] everyone's (the
//!   daily `programme_due` job, and after a schedule change). Status is derived on read.
//! - **Reminders** are queued in `outbox` once per due visit ([`queue_reminders`]) and
//!   exported by an operator ([`export_outbox`]); the phone is decrypted only at export.
//!
//! Reads and writes of personal data go through `crate::access`, which checks reach and
//! audits; the functions here that take an [`Event`] append it in their own transaction.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde_json::{Map, Value as Json, json};
use yiwei_domain::division::DivisionCode;
use yiwei_domain::exam::EncounterKind;
use yiwei_domain::key_group::{Condition, KeyGroup};
use yiwei_domain::programme::immunization::{self, Dose, Edition, Vaccine};
use yiwei_domain::programme::{
    self, Diagnosis, FieldProblem, NextDue, Outcome, Pregnancy, Programme, Schooling, Status,
    Subject, Value, Visit,
};
use yiwei_domain::ws365::Sex;

use crate::audit::{self, Event, Who};
use crate::crypto::Field;
use crate::encounter::NewEncounter;
use crate::resident::{max_params, values_list};
use crate::{Result, Row, Store, StoreError, Tx, on_pool, on_tx};

/// The programme code of immunization rows in the work list.
pub const IMMUNIZATION: &str = "immunization";

/// The programmes and immunization editions in force: what the engine runs. Built once at
/// start from configuration; a schedule change is a new catalogue and a [`refresh_all`].
#[derive(Clone, Debug)]
pub struct Catalogue {
    pub programmes: Vec<Programme>,
    pub editions: Vec<Edition>,
}

impl Default for Catalogue {
    fn default() -> Catalogue {
        Catalogue::national(&programme::Config::default())
    }
}

impl Catalogue {
    /// The national programmes with `config`'s thresholds, and every immunization edition.
    pub fn national(config: &programme::Config) -> Catalogue {
        Catalogue {
            programmes: programme::all(config),
            editions: immunization::editions(),
        }
    }

    pub fn programme(&self, code: &str) -> Option<&Programme> {
        programme::by_code(&self.programmes, code)
    }

    /// The immunization edition in force on `on`.
    pub fn edition_on(&self, on: NaiveDate) -> Option<&Edition> {
        immunization::edition_in_force(&self.editions, on)
    }

    /// The Chinese and English names of a programme code (immunization included).
    pub fn names(&self, code: &str) -> (&'static str, &'static str) {
        if code == IMMUNIZATION {
            return ("预防接种", "immunization");
        }
        self.programme(code)
            .map_or(("?", "?"), |p| (p.name_zh, p.name_en))
    }

    /// The names of a visit code of a programme (for immunization, `series:dose`).
    pub fn visit_names(&self, programme: &str, visit_code: &str) -> (String, String) {
        if programme == IMMUNIZATION {
            let (series, dose) = visit_code.split_once(':').unwrap_or((visit_code, "?"));
            let names = self.editions.iter().rev().find_map(|e| {
                e.series
                    .iter()
                    .find(|s| s.code == series)
                    .map(|s| (s.name_zh, s.name_en))
            });
            let (zh, en) = names.unwrap_or((series, series));
            return (format!("{zh} 第{dose}剂"), format!("{en}, dose {dose}"));
        }
        self.programme(programme)
            .and_then(|p| p.visit_kinds().into_iter().find(|k| k.code == visit_code))
            .map_or_else(
                || (visit_code.to_owned(), visit_code.to_owned()),
                |k| (k.name_zh.to_owned(), k.name_en.to_owned()),
            )
    }
}

/// The dates and facts of an enrolment episode, kept as JSON in `episode`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Episode {
    /// 末次月经.
    pub lmp: Option<NaiveDate>,
    /// 预产期.
    pub edd: Option<NaiveDate>,
    pub delivered_on: Option<NaiveDate>,
    pub discharged_on: Option<NaiveDate>,
    /// 学校代码, for student screening.
    pub school: Option<String>,
    pub grade: Option<u8>,
    /// Which diagnosis (a `Condition` code), for severe mental disorders.
    pub condition: Option<String>,
}

impl Episode {
    /// The JSON object stored in `episode` (absent facts left out).
    pub fn to_json(&self) -> Json {
        let mut map = Map::new();
        let dates = [
            ("lmp", self.lmp),
            ("edd", self.edd),
            ("delivered_on", self.delivered_on),
            ("discharged_on", self.discharged_on),
        ];
        for (key, date) in dates {
            if let Some(d) = date {
                map.insert(key.into(), json!(d.to_string()));
            }
        }
        if let Some(s) = &self.school {
            map.insert("school".into(), json!(s));
        }
        if let Some(g) = self.grade {
            map.insert("grade".into(), json!(g));
        }
        if let Some(c) = &self.condition {
            map.insert("condition".into(), json!(c));
        }
        Json::Object(map)
    }

    /// Read a stored episode; unknown or malformed entries are left out.
    pub fn from_json(v: &Json) -> Episode {
        let date = |k: &str| v[k].as_str().and_then(|d| d.parse().ok());
        Episode {
            lmp: date("lmp"),
            edd: date("edd"),
            delivered_on: date("delivered_on"),
            discharged_on: date("discharged_on"),
            school: v["school"].as_str().map(str::to_owned),
            grade: v["grade"].as_u64().and_then(|g| u8::try_from(g).ok()),
            condition: v["condition"].as_str().map(str::to_owned),
        }
    }
}

/// An enrolment (在管记录).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrolment {
    pub id: i64,
    pub resident_id: i64,
    pub programme: String,
    pub started_on: NaiveDate,
    pub ended_on: Option<NaiveDate>,
    pub end_reason: Option<String>,
    pub episode: Episode,
}

/// A new enrolment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEnrolment {
    pub programme: String,
    pub started_on: NaiveDate,
    pub episode: Episode,
    pub today: NaiveDate,
}

/// A visit as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct VisitRecord {
    pub id: i64,
    pub resident_id: i64,
    pub encounter_id: i64,
    pub programme: String,
    pub visit_code: String,
    pub visit_date: NaiveDate,
    pub division: String,
    /// The answers as validated, key → value (numbers, codes, lists, yes/no, text, dates).
    pub answers: Json,
    pub classification: Option<String>,
    /// `{urgency, zh, en, follow_up_within_days}` when the rules advised a referral.
    pub referral: Option<Json>,
    pub next_due: Option<NextDue>,
    pub recorded_at: DateTime<Utc>,
    pub voided: bool,
}

/// A visit to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewVisit {
    pub programme: String,
    /// Which visit of the schedule; the first open one when `None`.
    pub visit_code: Option<String>,
    pub visit_date: NaiveDate,
    /// The form as typed: (key, text); a multiple-choice key may repeat.
    pub answers: Vec<(String, String)>,
    /// Where the visit took place; the author's institution when `None`.
    pub institution_id: Option<i64>,
    pub today: NaiveDate,
}

/// What recording a visit produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub visit_id: i64,
    pub encounter_id: i64,
    pub outcome: Outcome,
}

/// Why a visit was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum VisitError {
    /// The form's answers broke its rules: every problem, in both languages.
    #[error("the form has {} problem(s): {}", .0.len(), problems_text(.0))]
    Form(Vec<FieldProblem>),
    #[error(transparent)]
    Access(#[from] crate::access::AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn problems_text(problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<sqlx::Error> for VisitError {
    fn from(e: sqlx::Error) -> VisitError {
        VisitError::Store(e.into())
    }
}

fn invalid(msg: impl Into<String>) -> StoreError {
    StoreError::Invalid(msg.into())
}

// ---------------------------------------------------------------------------------------
// Facts → Subject

/// What the engine needs of one resident, as read from the store.
#[derive(Clone, Debug)]
pub(crate) struct Facts {
    pub resident_id: i64,
    pub division: String,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<Sex>,
    pub key_groups: Vec<KeyGroup>,
    /// `profile.conditions`, with the day the record was created.
    pub profile_conditions: Vec<Condition>,
    pub created_on: NaiveDate,
    pub discharged_after_birth: Option<NaiveDate>,
    /// The latest day a down-referral for the resident was accepted by its (primary-care)
    /// institution, as a UTC date like `created_on`.
    pub referred_back: Option<NaiveDate>,
    pub enrolments: Vec<Enrolment>,
    pub visits: Vec<(String, Option<i64>, Visit)>,
    pub doses: Vec<Dose>,
}

/// The condition a condition programme manages, for an enrolment of it.
fn condition_of(programme: &str, episode: &Episode) -> Option<Condition> {
    match programme {
        "hypertension" => Some(Condition::Hypertension),
        "diabetes" => Some(Condition::Type2Diabetes),
        "tuberculosis" => Some(Condition::Tuberculosis),
        "severe_mental" => Some(
            episode
                .condition
                .as_deref()
                .and_then(Condition::parse)
                .unwrap_or(Condition::Schizophrenia),
        ),
        _ => None,
    }
}

/// The programme that manages a condition.
fn programme_of(condition: Condition) -> &'static str {
    match condition {
        Condition::Hypertension => "hypertension",
        Condition::Type2Diabetes => "diabetes",
        Condition::Tuberculosis => "tuberculosis",
        _ => "severe_mental",
    }
}

impl Facts {
    /// The subject for `programme` (maternal care reads the open pregnancy; every other
    /// programme the same facts).
    pub fn subject(&self) -> Subject {
        let open = |code: &str| {
            self.enrolments
                .iter()
                .find(|e| e.programme == code && e.ended_on.is_none())
        };
        let mut conditions: Vec<Diagnosis> = Vec::new();
        for e in self.enrolments.iter().filter(|e| e.ended_on.is_none()) {
            if let Some(c) = condition_of(&e.programme, &e.episode) {
                conditions.push(Diagnosis {
                    condition: c,
                    since: e.started_on,
                });
            }
        }
        for c in &self.profile_conditions {
            let managed = self.enrolments.iter().any(|e| {
                e.programme == programme_of(*c)
                    && condition_of(&e.programme, &e.episode) == Some(*c)
            });
            if !managed && !conditions.iter().any(|d| d.condition == *c) {
                conditions.push(Diagnosis {
                    condition: *c,
                    since: self.created_on,
                });
            }
        }
        let pregnancy = open("maternal").map(|e| Pregnancy {
            last_menstrual_period: e.episode.lmp,
            expected_delivery: e.episode.edd,
            delivered_on: e.episode.delivered_on,
            discharged_on: e.episode.discharged_on,
        });
        let school = self
            .enrolments
            .iter()
            .filter(|e| e.ended_on.is_none())
            .find_map(|e| match (&e.episode.school, e.episode.grade) {
                (Some(school), Some(grade)) => Some(Schooling {
                    school: school.clone(),
                    grade,
                }),
                _ => None,
            });
        Subject {
            birth_date: self.birth_date,
            sex: self.sex,
            conditions,
            pregnancy,
            school,
            key_groups: self.key_groups.clone(),
            discharged_after_birth: self.discharged_after_birth,
            referred_back: self.referred_back,
        }
    }

    /// The non-voided visits of `programme` (for maternal care, of the open pregnancy).
    pub fn history(&self, programme: &str) -> Vec<Visit> {
        let episode = (programme == "maternal")
            .then(|| {
                self.enrolments
                    .iter()
                    .find(|e| e.programme == "maternal" && e.ended_on.is_none())
                    .map(|e| e.id)
            })
            .flatten();
        self.visits
            .iter()
            .filter(|(p, enrolment, _)| {
                p == programme && (programme != "maternal" || *enrolment == episode)
            })
            .map(|(_, _, v)| v.clone())
            .collect()
    }

    /// Every due row of this resident on `today`.
    pub fn due_rows(&self, catalogue: &Catalogue, today: NaiveDate) -> Vec<DueRow> {
        let subject = self.subject();
        let mut rows = Vec::new();
        for p in &catalogue.programmes {
            if p.enrolment.period(&subject).is_none() {
                continue;
            }
            let history = self.history(p.code);
            for d in programme::due(p, &subject, &history, today) {
                rows.push(DueRow {
                    programme: p.code.to_owned(),
                    visit_code: d.visit.code.to_owned(),
                    due_from: d.due_from,
                    due_by: d.due_by,
                    missed_on: missed_on(d.status, d.due_by, today),
                });
            }
        }
        if let (Some(birth), Some(edition)) = (self.birth_date, catalogue.edition_on(today)) {
            // Immunization is for children (and the HPV girls): skip adults quickly.
            if yiwei_domain::key_group::age_on(birth, today) < 18 {
                for d in immunization::vaccine_due(edition, birth, self.sex, &self.doses, today) {
                    rows.push(DueRow {
                        programme: IMMUNIZATION.to_owned(),
                        visit_code: format!("{}:{}", d.series, d.dose),
                        due_from: d.due_from,
                        due_by: d.due_by,
                        missed_on: (d.status == Status::Missed).then_some(d.until),
                    });
                }
            }
        }
        rows.sort_by(|a, b| {
            (a.due_from, &a.programme, &a.visit_code).cmp(&(
                b.due_from,
                &b.programme,
                &b.visit_code,
            ))
        });
        rows.dedup_by(|a, b| {
            a.programme == b.programme && a.visit_code == b.visit_code && a.due_from == b.due_from
        });
        rows
    }
}

/// The day an entry the domain calls missed on `today` stopped counting. The domain's
/// [`programme::Due`] does not carry it, so this takes the day after the window closed
/// (never after today): the earliest it can have been missed, which keeps an old miss off
/// a "missed this week" list.
fn missed_on(status: Status, due_by: NaiveDate, today: NaiveDate) -> Option<NaiveDate> {
    (status == Status::Missed).then(|| (due_by + chrono::Duration::days(1)).min(today))
}

/// One row of the work list, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueRow {
    pub programme: String,
    pub visit_code: String,
    pub due_from: NaiveDate,
    pub due_by: NaiveDate,
    pub missed_on: Option<NaiveDate>,
}

impl DueRow {
    /// Where the entry stands on `today`.
    pub fn status(&self, today: NaiveDate) -> Status {
        status_at(today, self.due_from, self.due_by, self.missed_on)
    }
}

/// The status of a stored entry on `today`.
pub fn status_at(
    today: NaiveDate,
    due_from: NaiveDate,
    due_by: NaiveDate,
    missed_on: Option<NaiveDate>,
) -> Status {
    if missed_on.is_some_and(|m| today >= m) {
        Status::Missed
    } else if today < due_from {
        Status::Upcoming
    } else if today <= due_by {
        Status::Due
    } else {
        Status::Overdue
    }
}

/// The record's sex (stored as `male`/`female`, or a GB/T 2261.1 code).
pub fn sex_of(stored: &str) -> Option<Sex> {
    match stored.trim() {
        "male" | "1" => Some(Sex::Male),
        "female" | "2" => Some(Sex::Female),
        _ => None,
    }
}

const RESIDENT_FACT_COLUMNS: &str =
    "id, division_code, birth_date, sex, key_groups, profile, created_at";

fn base_facts(row: &impl Row) -> Result<Facts> {
    let profile: String = row.col("profile")?;
    let profile: Json = serde_json::from_str(&profile).unwrap_or(Json::Null);
    let profile_conditions = profile["conditions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().and_then(Condition::parse))
                .collect()
        })
        .unwrap_or_default();
    let discharged_after_birth = profile["discharged_after_birth"]
        .as_str()
        .and_then(|d| d.parse().ok());
    let key_groups: String = row.col("key_groups")?;
    let sex: String = row.col("sex")?;
    let created_at: DateTime<Utc> = row.col("created_at")?;
    Ok(Facts {
        resident_id: row.col("id")?,
        division: row.col("division_code")?,
        birth_date: row.col("birth_date")?,
        sex: sex_of(&sex),
        key_groups: key_groups.split(',').filter_map(KeyGroup::parse).collect(),
        profile_conditions,
        created_on: created_at.date_naive(),
        discharged_after_birth,
        referred_back: None,
        enrolments: Vec::new(),
        visits: Vec::new(),
        doses: Vec::new(),
    })
}

fn enrolment(row: &impl Row) -> Result<Enrolment> {
    let episode: String = row.col("episode")?;
    Ok(Enrolment {
        id: row.col("id")?,
        resident_id: row.col("resident_id")?,
        programme: row.col("programme")?,
        started_on: row.col("started_on")?,
        ended_on: row.col("ended_on")?,
        end_reason: row.col("end_reason")?,
        episode: Episode::from_json(&serde_json::from_str(&episode).unwrap_or(Json::Null)),
    })
}

fn next_due_of(kind: Option<String>, on: Option<NaiveDate>) -> Option<NextDue> {
    match (kind.as_deref(), on) {
        (Some("on"), Some(d)) => Some(NextDue::On(d)),
        (Some("by"), Some(d)) => Some(NextDue::By(d)),
        _ => None,
    }
}

fn engine_visit(row: &impl Row) -> Result<(i64, String, Option<i64>, Visit)> {
    let classification: Option<String> = row.col("classification")?;
    Ok((
        row.col("resident_id")?,
        row.col("programme")?,
        row.col("enrolment_id")?,
        Visit {
            date: row.col("visit_date")?,
            code: row.col("visit_code")?,
            classification: classification
                .as_deref()
                .and_then(programme::Classification::parse),
            next_due: next_due_of(row.col("next_due_kind")?, row.col("next_due_on")?),
        },
    ))
}

/// The facts of the residents with ids in `from..=to` (live records only), in id order.
async fn facts_range(store: &Store, from: i64, to: i64) -> Result<Vec<Facts>> {
    let sql = format!(
        "SELECT {RESIDENT_FACT_COLUMNS} FROM resident \
         WHERE id >= $1 AND id <= $2 AND merged_into IS NULL ORDER BY id"
    );
    let (mut facts, enrolments, visits, doses, returns) = on_pool!(store, |pool| {
        let residents = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
        let facts = residents
            .iter()
            .map(base_facts)
            .collect::<Result<Vec<_>>>()?;
        let enrolments = sqlx::query(
            "SELECT id, resident_id, programme, started_on, ended_on, end_reason, episode \
             FROM programme_enrolment WHERE resident_id >= $1 AND resident_id <= $2 ORDER BY id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?
        .iter()
        .map(enrolment)
        .collect::<Result<Vec<_>>>()?;
        let visits = sqlx::query(
            "SELECT resident_id, programme, enrolment_id, visit_date, visit_code, classification, \
             next_due_kind, next_due_on FROM programme_visit \
             WHERE resident_id >= $1 AND resident_id <= $2 AND voided_at IS NULL",
        )
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?
        .iter()
        .map(engine_visit)
        .collect::<Result<Vec<_>>>()?;
        let doses: Vec<(i64, String, NaiveDate)> = sqlx::query_as(
            "SELECT resident_id, vaccine, given_on FROM immunization \
             WHERE resident_id >= $1 AND resident_id <= $2 AND voided_at IS NULL",
        )
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
        // 下转: down-referrals accepted by the primary institution (an up-referral returned
        // down becomes one), which bring the next chronic follow-up forward.
        let returns: Vec<(i64, DateTime<Utc>)> = sqlx::query_as(
            "SELECT r.resident_id, e.at FROM referral r \
             JOIN referral_event e ON e.referral_id = r.id \
             WHERE r.resident_id >= $1 AND r.resident_id <= $2 AND r.direction = 'down' \
             AND e.event = 'accept'",
        )
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
        Ok::<_, StoreError>((facts, enrolments, visits, doses, returns))
    })?;
    let index: HashMap<i64, usize> = facts
        .iter()
        .enumerate()
        .map(|(i, f)| (f.resident_id, i))
        .collect();
    for e in enrolments {
        if let Some(&i) = index.get(&e.resident_id) {
            facts[i].enrolments.push(e);
        }
    }
    for (resident_id, programme, enrolment_id, visit) in visits {
        if let Some(&i) = index.get(&resident_id) {
            facts[i].visits.push((programme, enrolment_id, visit));
        }
    }
    for (resident_id, at) in returns {
        if let Some(&i) = index.get(&resident_id) {
            let day = at.date_naive();
            facts[i].referred_back = facts[i].referred_back.max(Some(day));
        }
    }
    for (resident_id, vaccine, date) in doses {
        if let (Some(&i), Some(vaccine)) = (index.get(&resident_id), Vaccine::parse(&vaccine)) {
            facts[i].doses.push(Dose { vaccine, date });
        }
    }
    Ok(facts)
}

/// The facts of one live resident.
pub(crate) async fn facts(store: &Store, resident_id: i64) -> Result<Facts> {
    facts_range(store, resident_id, resident_id)
        .await?
        .pop()
        .ok_or(StoreError::NotFound("resident"))
}

// ---------------------------------------------------------------------------------------
// The work list

/// Rewrite the work-list rows of the residents with ids in `from..=to` from their `facts`
/// (rows of residents with nothing due are removed).
async fn write_due(
    store: &Store,
    catalogue: &Catalogue,
    facts: &[Facts],
    from: i64,
    to: i64,
    today: NaiveDate,
) -> Result<usize> {
    let mut rows: Vec<(i64, &str, DueRow)> = Vec::new();
    for f in facts {
        for r in f.due_rows(catalogue, today) {
            rows.push((f.resident_id, f.division.as_str(), r));
        }
    }
    let mut tx = store.begin().await?;
    on_tx!(&mut tx, |conn| {
        sqlx::query("DELETE FROM programme_due WHERE resident_id >= $1 AND resident_id <= $2")
            .bind(from)
            .bind(to)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?;
    const WIDTH: usize = 7;
    let per_statement = (max_params(store) / WIDTH).min(4000);
    let backend = store.backend();
    for chunk in rows.chunks(per_statement) {
        let sql = format!(
            "INSERT INTO programme_due (resident_id, programme, visit_code, due_from, due_by, \
             missed_on, division_code) VALUES {}",
            values_list(backend, chunk.len(), WIDTH)
        );
        let full = chunk.len() == per_statement;
        on_tx!(&mut tx, |conn| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).persistent(full);
            for (resident, division, r) in chunk {
                q = q
                    .bind(*resident)
                    .bind(&r.programme)
                    .bind(&r.visit_code)
                    .bind(r.due_from)
                    .bind(r.due_by)
                    .bind(r.missed_on)
                    .bind(*division);
            }
            q.execute(&mut *conn).await.map(|_| ())
        })?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

/// Recompute one resident's work list on `today`; returns the number of rows.
pub async fn refresh_resident(
    store: &Store,
    catalogue: &Catalogue,
    resident_id: i64,
    today: NaiveDate,
) -> Result<usize> {
    let f = facts_range(store, resident_id, resident_id).await?;
    write_due(store, catalogue, &f, resident_id, resident_id, today).await
}

/// What [`refresh_all`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refreshed {
    pub residents: u64,
    pub rows: u64,
}

/// Recompute everyone's work list on `today`, in slices of residents by id, each slice in
/// its own transaction (a crash leaves earlier slices done and later ones as they were;
/// running again finishes the job). `progress(done, total)` after each slice.
pub async fn refresh_all(
    store: &Store,
    catalogue: &Catalogue,
    today: NaiveDate,
    mut progress: impl FnMut(u64, u64),
) -> Result<Refreshed> {
    const SLICE: i64 = 5_000;
    let (min, max, total): (Option<i64>, Option<i64>, i64) = on_pool!(store, |pool| {
        sqlx::query_as("SELECT MIN(id), MAX(id), COUNT(*) FROM resident")
            .fetch_one(pool)
            .await
    })?;
    let (Some(min), Some(max)) = (min, max) else {
        return Ok(Refreshed::default());
    };
    let total = u64::try_from(total).unwrap_or(0);
    let mut done = Refreshed::default();
    let mut from = min;
    while from <= max {
        let to = from.saturating_add(SLICE - 1).min(max);
        let facts = facts_range(store, from, to).await?;
        done.residents += facts.len() as u64;
        done.rows += write_due(store, catalogue, &facts, from, to, today).await? as u64;
        progress(done.residents.min(total), total);
        from = to + 1;
    }
    Ok(done)
}

/// Which work list to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkFilter {
    /// The villages (a division subtree).
    pub root: DivisionCode,
    /// Only residents whose active contract is with this team.
    pub team_id: Option<i64>,
    /// Only residents whose active contract names this doctor.
    pub doctor_id: Option<i64>,
    /// Only this programme (or `immunization`).
    pub programme: Option<String>,
    /// Entries whose window opens by this day (the end of "this week" or "this month").
    pub until: NaiveDate,
    /// Include entries missed within this many days.
    pub missed_within_days: i64,
    pub limit: i64,
}

/// One line of a work list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkItem {
    pub resident_id: i64,
    pub name: String,
    pub sex: String,
    pub birth_date: Option<NaiveDate>,
    pub village: String,
    pub programme: String,
    pub visit_code: String,
    pub due_from: NaiveDate,
    pub due_by: NaiveDate,
    pub missed_on: Option<NaiveDate>,
    pub status: Status,
}

/// The work list of `filter` on `today`: overdue first, then due, upcoming, missed; within
/// each by the day the window opened. Personal data: call through `crate::access`.
pub(crate) async fn worklist(
    store: &Store,
    filter: &WorkFilter,
    today: NaiveDate,
) -> Result<Vec<WorkItem>> {
    let (lo, hi) = filter.root.subtree_range();
    let missed_since = today - chrono::Duration::days(filter.missed_within_days.max(0));
    let mut sql = String::from(
        "SELECT d.resident_id, r.name, r.sex, r.birth_date, d.division_code, d.programme, \
         d.visit_code, d.due_from, d.due_by, d.missed_on FROM programme_due d \
         JOIN resident r ON r.id = d.resident_id \
         WHERE d.division_code >= $1 AND d.division_code < $2 AND d.due_from <= $3 \
         AND (d.missed_on IS NULL OR d.missed_on >= $4) AND r.merged_into IS NULL",
    );
    let mut n = 4;
    let mut param = |sql: &mut String, clause: &str| {
        n += 1;
        sql.push_str(&clause.replace("$?", &format!("${n}")));
    };
    if filter.programme.is_some() {
        param(&mut sql, " AND d.programme = $?");
    }
    if filter.team_id.is_some() {
        param(
            &mut sql,
            " AND EXISTS (SELECT 1 FROM contract c WHERE c.resident_id = d.resident_id \
             AND c.status = 'active' AND c.team_id = $?)",
        );
    }
    if filter.doctor_id.is_some() {
        param(
            &mut sql,
            " AND EXISTS (SELECT 1 FROM contract c WHERE c.resident_id = d.resident_id \
             AND c.status = 'active' AND c.doctor_id = $?)",
        );
    }
    param(&mut sql, " ORDER BY d.due_from, d.resident_id LIMIT $?");
    let rows = on_pool!(store, |pool| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(lo)
            .bind(hi)
            .bind(filter.until)
            .bind(missed_since);
        if let Some(p) = &filter.programme {
            q = q.bind(p);
        }
        if let Some(t) = filter.team_id {
            q = q.bind(t);
        }
        if let Some(d) = filter.doctor_id {
            q = q.bind(d);
        }
        q.bind(filter.limit)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|row| {
                let due_from: NaiveDate = row.col("due_from")?;
                let due_by: NaiveDate = row.col("due_by")?;
                let missed_on: Option<NaiveDate> = row.col("missed_on")?;
                Ok(WorkItem {
                    resident_id: row.col("resident_id")?,
                    name: row.col("name")?,
                    sex: row.col("sex")?,
                    birth_date: row.col("birth_date")?,
                    village: row.col("division_code")?,
                    programme: row.col("programme")?,
                    visit_code: row.col("visit_code")?,
                    due_from,
                    due_by,
                    missed_on,
                    status: status_at(today, due_from, due_by, missed_on),
                })
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let mut rows = rows;
    let rank = |s: Status| match s {
        Status::Overdue => 0,
        Status::Due => 1,
        Status::Upcoming => 2,
        Status::Missed => 3,
    };
    rows.sort_by_key(|w| (rank(w.status), w.due_from, w.resident_id));
    Ok(rows)
}

/// One resident's work-list rows with their status on `today`.
pub(crate) async fn due_of(
    store: &Store,
    resident_id: i64,
    today: NaiveDate,
) -> Result<Vec<(DueRow, Status)>> {
    let rows: Vec<(String, String, NaiveDate, NaiveDate, Option<NaiveDate>)> =
        on_pool!(store, |pool| {
            sqlx::query_as(
                "SELECT programme, visit_code, due_from, due_by, missed_on FROM programme_due \
                 WHERE resident_id = $1 ORDER BY due_from, programme, visit_code",
            )
            .bind(resident_id)
            .fetch_all(pool)
            .await
        })?;
    Ok(rows
        .into_iter()
        .map(|(programme, visit_code, due_from, due_by, missed_on)| {
            let row = DueRow {
                programme,
                visit_code,
                due_from,
                due_by,
                missed_on,
            };
            let status = row.status(today);
            (row, status)
        })
        .collect())
}

// ---------------------------------------------------------------------------------------
// Enrolments

const ENROLMENT_COLUMNS: &str =
    "id, resident_id, programme, started_on, ended_on, end_reason, episode";

/// A resident's enrolments, open first, then by start.
pub(crate) async fn enrolments(store: &Store, resident_id: i64) -> Result<Vec<Enrolment>> {
    let sql = format!(
        "SELECT {ENROLMENT_COLUMNS} FROM programme_enrolment WHERE resident_id = $1 \
         ORDER BY ended_on IS NOT NULL, started_on DESC, id DESC"
    );
    on_pool!(store, |pool| {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(resident_id)
            .fetch_all(pool)
            .await?
            .iter()
            .map(enrolment)
            .collect()
    })
}

/// Check an enrolment against the programme before it is written.
fn check_enrolment(
    catalogue: &Catalogue,
    facts: &Facts,
    new: &NewEnrolment,
) -> std::result::Result<(), StoreError> {
    let Some(p) = catalogue.programme(&new.programme) else {
        return Err(invalid(format!(
            "unknown programme {:?}; one of: {}",
            new.programme,
            catalogue
                .programmes
                .iter()
                .map(|p| p.code)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    if new.started_on > new.today {
        return Err(invalid(format!(
            "管理开始日期 {} 晚于今天 / the start {} is after today",
            new.started_on, new.started_on
        )));
    }
    if let Some(b) = facts.birth_date
        && new.started_on < b
    {
        return Err(invalid(format!(
            "管理开始日期早于出生日期 {b} / the start is before the birth date {b}"
        )));
    }
    if p.code == "maternal" {
        let e = &new.episode;
        if e.lmp.is_none() && e.edd.is_none() {
            return Err(invalid(
                "孕产妇建册需填写末次月经或预产期 / give the last menstrual period or the expected delivery date",
            ));
        }
        if facts.sex == Some(Sex::Male) {
            return Err(invalid(
                "男性不能登记孕产妇管理 / a man cannot be enrolled in maternal care",
            ));
        }
        if let (Some(lmp), Some(edd)) = (e.lmp, e.edd)
            && !(200..=310).contains(&(edd - lmp).num_days())
        {
            return Err(invalid(
                "预产期应在末次月经后约 280 天 / the expected delivery should be about 280 days after the LMP",
            ));
        }
    }
    if matches!(p.code, "student_vision" | "student_scoliosis")
        && (new
            .episode
            .school
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
            || new.episode.grade.is_none())
    {
        return Err(invalid(
            "学生筛查需填写学校和年级 / give the school and grade",
        ));
    }
    if p.code == "severe_mental"
        && let Some(c) = &new.episode.condition
        && Condition::parse(c).is_none_or(|c| programme_of(c) != "severe_mental")
    {
        return Err(invalid(format!(
            "{c:?} is not one of the six severe mental disorders"
        )));
    }
    Ok(())
}

/// Enrol a resident; one open enrolment per programme. Audited with `event` in the same
/// transaction; the work list is refreshed after.
pub(crate) async fn enrol(
    store: &Store,
    catalogue: &Catalogue,
    resident_id: i64,
    new: &NewEnrolment,
    by: Option<i64>,
    event: Event,
) -> Result<i64> {
    let facts = facts(store, resident_id).await?;
    check_enrolment(catalogue, &facts, new)?;
    let episode = new.episode.to_json().to_string();
    let mut tx = store.begin().await?;
    let open: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM programme_enrolment WHERE resident_id = $1 AND programme = $2 \
             AND ended_on IS NULL",
        )
        .bind(resident_id)
        .bind(&new.programme)
        .fetch_one(&mut *conn)
        .await
    })?;
    if open > 0 {
        return Err(invalid(format!(
            "已在{}管理中；请先结案 / already enrolled in {}; end that enrolment first",
            catalogue.names(&new.programme).0,
            new.programme
        )));
    }
    let id: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO programme_enrolment (resident_id, programme, started_on, episode, \
             created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(resident_id)
        .bind(&new.programme)
        .bind(new.started_on)
        .bind(&episode)
        .bind(by)
        .bind(crate::now())
        .fetch_one(&mut *conn)
        .await
    })?;
    let event = event
        .object("programme_enrolment", id)
        .resident(resident_id);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    refresh_resident(store, catalogue, resident_id, new.today).await?;
    Ok(id)
}

/// Update an open enrolment's episode (a delivery date, a new grade). Audited.
pub(crate) async fn update_episode(
    store: &Store,
    catalogue: &Catalogue,
    enrolment_id: i64,
    episode: &Episode,
    today: NaiveDate,
    event: Event,
) -> Result<()> {
    let e = get_enrolment(store, enrolment_id).await?;
    if e.ended_on.is_some() {
        return Err(invalid(
            "this enrolment has ended; its episode can no longer change",
        ));
    }
    if let (Some(d), Some(lmp)) = (episode.delivered_on, episode.lmp.or(e.episode.lmp))
        && d < lmp
    {
        return Err(invalid(
            "分娩日期早于末次月经 / the delivery is before the LMP",
        ));
    }
    if episode.delivered_on.is_some_and(|d| d > today) {
        return Err(invalid(
            "分娩日期晚于今天 / the delivery date is after today",
        ));
    }
    let text = episode.to_json().to_string();
    let mut tx = store.begin().await?;
    on_tx!(&mut tx, |conn| {
        sqlx::query("UPDATE programme_enrolment SET episode = $1 WHERE id = $2")
            .bind(&text)
            .bind(enrolment_id)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?;
    let event = event
        .object("programme_enrolment", enrolment_id)
        .resident(e.resident_id);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    refresh_resident(store, catalogue, e.resident_id, today).await?;
    Ok(())
}

/// End an enrolment (结案: moved away, died, cured, delivered and checked …). Audited.
pub(crate) async fn end_enrolment(
    store: &Store,
    catalogue: &Catalogue,
    enrolment_id: i64,
    ended_on: NaiveDate,
    reason: &str,
    today: NaiveDate,
    event: Event,
) -> Result<()> {
    let reason = reason.trim();
    if reason.chars().count() < 2 {
        return Err(invalid(
            "结案需填写原因 / give the reason for ending the enrolment",
        ));
    }
    let e = get_enrolment(store, enrolment_id).await?;
    if e.ended_on.is_some() {
        return Err(invalid("this enrolment has already ended"));
    }
    if ended_on < e.started_on || ended_on > today {
        return Err(invalid(format!(
            "结案日期应在 {} 与今天之间 / the end must be between {} and today",
            e.started_on, e.started_on
        )));
    }
    let mut tx = store.begin().await?;
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE programme_enrolment SET ended_on = $1, end_reason = $2 \
             WHERE id = $3 AND ended_on IS NULL",
        )
        .bind(ended_on)
        .bind(reason)
        .bind(enrolment_id)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })?;
    let event = event
        .object("programme_enrolment", enrolment_id)
        .resident(e.resident_id)
        .reason("ended");
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    refresh_resident(store, catalogue, e.resident_id, today).await?;
    Ok(())
}

pub async fn get_enrolment(store: &Store, id: i64) -> Result<Enrolment> {
    let sql = format!("SELECT {ENROLMENT_COLUMNS} FROM programme_enrolment WHERE id = $1");
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("enrolment"))?;
        enrolment(&row)
    })
}

// ---------------------------------------------------------------------------------------
// Visits

/// The package item a programme visit delivers (履约), if a package lists it.
fn service_item(programme: &str) -> Option<&'static str> {
    match programme {
        "hypertension" => Some("hypertension_followup"),
        "diabetes" => Some("diabetes_followup"),
        "elderly_annual" => Some("elderly_assessment"),
        "severe_mental" => Some("mental_followup"),
        "maternal" => Some("prenatal_visit"),
        "child_health" => Some("child_checkup"),
        _ => None,
    }
}

/// Validated answers as the JSON object stored in `programme_visit.answers`.
pub fn answers_json(answers: &programme::ValidAnswers) -> Json {
    let mut map = Map::new();
    for (key, value) in answers.iter() {
        let v = match value {
            Value::Number(n) => json!(n),
            Value::Code(c) => json!(c),
            Value::Codes(cs) => json!(cs),
            Value::YesNo(b) => json!(b),
            Value::Text(t) => json!(t),
            Value::Date(d) => json!(d.to_string()),
        };
        map.insert(key.to_owned(), v);
    }
    Json::Object(map)
}

/// Record a programme visit: check the date and the form, apply the rules, and write the
/// encounter, the visit, the contract service it delivers (if the resident's active
/// contract's package lists it) and `event`, in one transaction; then refresh the work
/// list. Nothing is written when the form has a problem.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_visit(
    store: &Store,
    catalogue: &Catalogue,
    resident_id: i64,
    author_id: Option<i64>,
    institution_id: i64,
    new: &NewVisit,
    event: Event,
) -> std::result::Result<Recorded, VisitError> {
    let Some(p) = catalogue.programme(&new.programme) else {
        return Err(invalid(format!("unknown programme {:?}", new.programme)).into());
    };
    let facts = facts(store, resident_id).await?;
    let subject = facts.subject();
    let mut problems = Vec::new();
    if let Err(problem) = programme::check_visit_date(&subject, new.visit_date, new.today) {
        problems.push(problem);
    }
    let typed: Vec<(&str, &str)> = new
        .answers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let answers = match programme::validate(&p.form, &typed) {
        Ok(a) => Some(a),
        Err(mut found) => {
            problems.append(&mut found);
            None
        }
    };
    let kinds = p.visit_kinds();
    let history = facts.history(p.code);
    let visit_code = match &new.visit_code {
        Some(code) => match kinds.iter().find(|k| k.code == code.trim()) {
            Some(k) => k.code,
            None => {
                problems.push(FieldProblem {
                    key: "visit_code".into(),
                    message_zh: format!("{code} 不是本项目的随访类型"),
                    message_en: format!("{code} is not a visit of this programme"),
                });
                kinds.first().map_or("", |k| k.code)
            }
        },
        None => {
            // The first open visit of the schedule, else the programme's regular visit.
            let open = programme::due(p, &subject, &history, new.visit_date);
            open.iter()
                .find(|d| d.status != Status::Missed)
                .map(|d| d.visit.code)
                .or_else(|| kinds.last().map(|k| k.code))
                .unwrap_or("")
        }
    };
    if !p.enrolled(&subject, new.visit_date) {
        problems.push(FieldProblem {
            key: "programme".into(),
            message_zh: format!(
                "{} 当日不在{}管理范围内，请先登记管理",
                new.visit_date, p.name_zh
            ),
            message_en: format!(
                "on {} the resident is not enrolled in {}; enrol them first",
                new.visit_date, p.name_en
            ),
        });
    }
    let Some(answers) = answers.filter(|_| problems.is_empty()) else {
        return Err(VisitError::Form(problems));
    };
    let outcome = programme::outcome(p, &answers, &subject, new.visit_date, &history);
    let answers_text = answers_json(&answers).to_string();
    let referral = outcome.referral.as_ref().map(|r| {
        json!({
            "urgency": r.urgency.as_str(),
            "zh": r.reason.zh,
            "en": r.reason.en,
            "follow_up_within_days": r.follow_up_within_days,
        })
        .to_string()
    });
    let (next_kind, next_on) = match outcome.next_due {
        Some(NextDue::On(d)) => (Some("on"), Some(d)),
        Some(NextDue::By(d)) => (Some("by"), Some(d)),
        None => (None, None),
    };
    let enrolment_id = facts
        .enrolments
        .iter()
        .find(|e| e.programme == p.code && e.ended_on.is_none())
        .map(|e| e.id);
    let summary = format!(
        "{} {}{}",
        p.name_zh,
        catalogue.visit_names(p.code, visit_code).0,
        outcome
            .classification
            .map(|c| format!("：{}", c.name_zh()))
            .unwrap_or_default()
    );
    let started_at = new
        .visit_date
        .and_hms_opt(9, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_else(crate::now);
    let encounter = NewEncounter {
        kind: EncounterKind::FollowUp,
        institution_id: Some(institution_id),
        started_at,
        summary,
        diagnoses: Vec::new(),
    };
    let mut tx = store.begin().await?;
    let encounter_id = crate::encounter::insert_encounter(
        &mut tx,
        resident_id,
        author_id,
        institution_id,
        &encounter,
    )
    .await?;
    let visit_id: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO programme_visit (resident_id, encounter_id, enrolment_id, programme, \
             visit_code, visit_date, division_code, answers, classification, referral, \
             next_due_kind, next_due_on, recorded_by, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        )
        .bind(resident_id)
        .bind(encounter_id)
        .bind(enrolment_id)
        .bind(p.code)
        .bind(visit_code)
        .bind(new.visit_date)
        .bind(&facts.division)
        .bind(&answers_text)
        .bind(outcome.classification.map(|c| c.code()))
        .bind(referral.as_deref())
        .bind(next_kind)
        .bind(next_on)
        .bind(author_id)
        .bind(crate::now())
        .fetch_one(&mut *conn)
        .await
    })?;
    if let Some(item) = service_item(p.code) {
        deliver_service(
            &mut tx,
            resident_id,
            item,
            new.visit_date,
            encounter_id,
            author_id,
        )
        .await?;
    }
    let event = event
        .object("programme_visit", visit_id)
        .resident(resident_id);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    refresh_resident(store, catalogue, resident_id, new.today).await?;
    Ok(Recorded {
        visit_id,
        encounter_id,
        outcome,
    })
}

/// 履约: note the service under the resident's contract in force on `on`, when its package
/// lists the item.
async fn deliver_service(
    tx: &mut Tx<'_>,
    resident_id: i64,
    item: &str,
    on: NaiveDate,
    encounter_id: i64,
    by: Option<i64>,
) -> Result<()> {
    let contract: Option<(i64, String)> = on_tx!(tx, |conn| {
        sqlx::query_as(
            "SELECT c.id, p.items FROM contract c JOIN service_package p ON p.id = c.package_id \
             WHERE c.resident_id = $1 AND c.starts_on <= $2 AND c.ends_on >= $2 \
             AND (c.ended_on IS NULL OR c.ended_on >= $2) ORDER BY c.id DESC LIMIT 1",
        )
        .bind(resident_id)
        .bind(on)
        .fetch_optional(&mut *conn)
        .await
    })?;
    let Some((contract_id, items)) = contract else {
        return Ok(());
    };
    let listed = serde_json::from_str::<Json>(&items)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .is_some_and(|a| a.iter().any(|i| i["code"].as_str() == Some(item)));
    if !listed {
        return Ok(());
    }
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO contract_service (contract_id, item_code, delivered_on, encounter_id, \
             recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(contract_id)
        .bind(item)
        .bind(on)
        .bind(encounter_id)
        .bind(by)
        .bind(crate::now())
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

const VISIT_COLUMNS: &str = "id, resident_id, encounter_id, programme, visit_code, visit_date, \
    division_code, answers, classification, referral, next_due_kind, next_due_on, recorded_at, \
    voided_at";

fn visit_record(row: &impl Row) -> Result<VisitRecord> {
    let answers: String = row.col("answers")?;
    let referral: Option<String> = row.col("referral")?;
    let voided_at: Option<DateTime<Utc>> = row.col("voided_at")?;
    Ok(VisitRecord {
        id: row.col("id")?,
        resident_id: row.col("resident_id")?,
        encounter_id: row.col("encounter_id")?,
        programme: row.col("programme")?,
        visit_code: row.col("visit_code")?,
        visit_date: row.col("visit_date")?,
        division: row.col("division_code")?,
        answers: serde_json::from_str(&answers).unwrap_or(Json::Null),
        classification: row.col("classification")?,
        referral: referral.and_then(|r| serde_json::from_str(&r).ok()),
        next_due: next_due_of(row.col("next_due_kind")?, row.col("next_due_on")?),
        recorded_at: row.col("recorded_at")?,
        voided: voided_at.is_some(),
    })
}

/// A resident's visits, newest first (voided ones included, marked).
pub(crate) async fn visits_of(
    store: &Store,
    resident_id: i64,
    programme: Option<&str>,
) -> Result<Vec<VisitRecord>> {
    let sql = format!(
        "SELECT {VISIT_COLUMNS} FROM programme_visit WHERE resident_id = $1 \
         AND ($2 = '' OR programme = $2) ORDER BY visit_date DESC, id DESC"
    );
    on_pool!(store, |pool| {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(resident_id)
            .bind(programme.unwrap_or(""))
            .fetch_all(pool)
            .await?
            .iter()
            .map(visit_record)
            .collect()
    })
}

pub async fn visit_resident(store: &Store, visit_id: i64) -> Result<i64> {
    on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT resident_id FROM programme_visit WHERE id = $1")
            .bind(visit_id)
            .fetch_optional(pool)
            .await
    })?
    .ok_or(StoreError::NotFound("visit"))
}

pub(crate) async fn get_visit(store: &Store, visit_id: i64) -> Result<VisitRecord> {
    let sql = format!("SELECT {VISIT_COLUMNS} FROM programme_visit WHERE id = $1");
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(visit_id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("visit"))?;
        visit_record(&row)
    })
}

/// Void a visit entered in error (作废): kept, marked, audited; the work list is refreshed.
pub(crate) async fn void_visit(
    store: &Store,
    catalogue: &Catalogue,
    visit_id: i64,
    reason: &str,
    by: Option<i64>,
    today: NaiveDate,
    event: Event,
) -> Result<()> {
    let reason = reason.trim();
    if reason.chars().count() < 4 {
        return Err(invalid(
            "作废需说明原因（至少 4 个字）/ give a reason of at least 4 characters",
        ));
    }
    let resident_id = visit_resident(store, visit_id).await?;
    let mut tx = store.begin().await?;
    let changed = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE programme_visit SET voided_at = $1, voided_by = $2, void_reason = $3 \
             WHERE id = $4 AND voided_at IS NULL",
        )
        .bind(crate::now())
        .bind(by)
        .bind(reason)
        .bind(visit_id)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    if changed == 0 {
        return Err(invalid("this visit is already voided"));
    }
    // The visit's encounter leaves the timeline with it.
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE encounter SET voided_at = $1, voided_by = $2, void_reason = $3, \
             version = version + 1 \
             WHERE id = (SELECT encounter_id FROM programme_visit WHERE id = $4) \
             AND voided_at IS NULL",
        )
        .bind(crate::now())
        .bind(by)
        .bind(reason)
        .bind(visit_id)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    let event = event
        .object("programme_visit", visit_id)
        .resident(resident_id)
        .reason("voided");
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    refresh_resident(store, catalogue, resident_id, today).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Reminders (the outbox)

/// A reminder in the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: i64,
    pub resident_id: Option<i64>,
    pub division: String,
    pub topic: String,
    pub body: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub exported_at: Option<DateTime<Utc>>,
}

/// The SMS text of a reminder. Carries the surname only and no identifiers, so a message
/// read by someone else in the family gives away little.
pub fn reminder_text(catalogue: &Catalogue, name: &str, row: &DueRow, status: Status) -> String {
    let surname: String = name.chars().take(1).collect();
    let (visit_zh, _) = catalogue.visit_names(&row.programme, &row.visit_code);
    let (programme_zh, _) = catalogue.names(&row.programme);
    let when = match status {
        Status::Overdue => format!("已于{}到期", row.due_by),
        _ => format!("请于{}至{}期间", row.due_from, row.due_by),
    };
    format!(
        "【家庭医生】{surname}先生/女士（或家长）您好：您（或孩子）的{programme_zh}{visit_zh}{when}完成，请联系您的家庭医生或村卫生室。回复TD退订"
    )
}

/// Queue one reminder per open entry of the subtree whose window opens within
/// `days_ahead` (or is overdue), for residents with a phone or a contact phone. A reminder
/// is never queued twice for the same entry. Returns how many were queued.
pub async fn queue_reminders(
    store: &Store,
    catalogue: &Catalogue,
    root: &DivisionCode,
    today: NaiveDate,
    days_ahead: i64,
) -> Result<u64> {
    let (lo, hi) = root.subtree_range();
    let until = today + chrono::Duration::days(days_ahead.max(0));
    type Line = (
        i64,
        String,
        String,
        String,
        NaiveDate,
        NaiveDate,
        Option<NaiveDate>,
        String,
    );
    let lines: Vec<Line> = on_pool!(store, |pool| {
        sqlx::query_as(
            "SELECT d.resident_id, r.name, d.programme, d.visit_code, d.due_from, d.due_by, \
             d.missed_on, d.division_code FROM programme_due d JOIN resident r ON r.id = d.resident_id \
             WHERE d.division_code >= $1 AND d.division_code < $2 AND d.due_from <= $3 \
             AND d.missed_on IS NULL AND r.merged_into IS NULL \
             AND (r.phone_hash IS NOT NULL OR r.contact_phone_enc IS NOT NULL) \
             ORDER BY d.resident_id",
        )
        .bind(lo)
        .bind(hi)
        .bind(until)
        .fetch_all(pool)
        .await
    })?;
    let now = crate::now();
    let mut queued = 0u64;
    let mut tx = store.begin().await?;
    for (resident_id, name, programme, visit_code, due_from, due_by, missed_on, division) in lines {
        let row = DueRow {
            programme,
            visit_code,
            due_from,
            due_by,
            missed_on,
        };
        let status = row.status(today);
        let body = reminder_text(catalogue, &name, &row, status);
        let key = format!(
            "due:{resident_id}:{}:{}:{}",
            row.programme, row.visit_code, row.due_from
        );
        let n = on_tx!(&mut tx, |conn| {
            sqlx::query(
                "INSERT INTO outbox (resident_id, division_code, topic, dedupe_key, body, created_at) \
                 VALUES ($1, $2, 'programme_due', $3, $4, $5) ON CONFLICT (dedupe_key) DO NOTHING",
            )
            .bind(resident_id)
            .bind(&division)
            .bind(&key)
            .bind(&body)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
        })?;
        queued += n;
    }
    tx.commit().await?;
    Ok(queued)
}

fn message(row: &impl Row) -> Result<Message> {
    Ok(Message {
        id: row.col("id")?,
        resident_id: row.col("resident_id")?,
        division: row.col("division_code")?,
        topic: row.col("topic")?,
        body: row.col("body")?,
        status: row.col("status")?,
        created_at: row.col("created_at")?,
        exported_at: row.col("exported_at")?,
    })
}

/// Messages of a subtree in one status, oldest first.
pub(crate) async fn outbox(
    store: &Store,
    root: &DivisionCode,
    status: &str,
    limit: i64,
) -> Result<Vec<Message>> {
    let (lo, hi) = root.subtree_range();
    on_pool!(store, |pool| {
        sqlx::query(
            "SELECT id, resident_id, division_code, topic, body, status, created_at, exported_at \
             FROM outbox WHERE division_code >= $1 AND division_code < $2 AND status = $3 \
             ORDER BY id LIMIT $4",
        )
        .bind(lo)
        .bind(hi)
        .bind(status)
        .bind(limit)
        .fetch_all(pool)
        .await?
        .iter()
        .map(message)
        .collect()
    })
}

/// Counts of a subtree's messages by status.
pub async fn outbox_counts(store: &Store, root: &DivisionCode) -> Result<BTreeMap<String, i64>> {
    let (lo, hi) = root.subtree_range();
    let rows: Vec<(String, i64)> = on_pool!(store, |pool| {
        sqlx::query_as(
            "SELECT status, COUNT(*) FROM outbox WHERE division_code >= $1 AND division_code < $2 \
             GROUP BY status",
        )
        .bind(lo)
        .bind(hi)
        .fetch_all(pool)
        .await
    })?;
    Ok(rows.into_iter().collect())
}

/// A message ready for the SMS gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub id: i64,
    /// The resident's phone, else the contact's; decrypted for the export only.
    pub phone: String,
    pub body: String,
}

/// Take up to `limit` pending messages of the subtree for sending: decrypt each phone,
/// mark them exported, and audit the export (one event naming how many, in the same
/// transaction). Messages whose resident has no phone left are cancelled.
pub(crate) async fn export_outbox(
    store: &Store,
    root: &DivisionCode,
    limit: i64,
    who: Who,
    event: Event,
) -> Result<Vec<Outgoing>> {
    let (lo, hi) = root.subtree_range();
    let mut tx = store.begin().await?;
    type Line = (i64, String, Option<Vec<u8>>, Option<Vec<u8>>);
    let lines: Vec<Line> = on_tx!(&mut tx, |conn| {
        sqlx::query_as(
            "SELECT o.id, o.body, r.phone_enc, r.contact_phone_enc FROM outbox o \
             JOIN resident r ON r.id = o.resident_id \
             WHERE o.division_code >= $1 AND o.division_code < $2 AND o.status = 'pending' \
             ORDER BY o.id LIMIT $3",
        )
        .bind(lo)
        .bind(hi)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
    })?;
    let now = crate::now();
    let mut out = Vec::new();
    for (id, body, phone, contact) in lines {
        let phone = match (phone, contact) {
            (Some(p), _) => Some(store.keys().decrypt(Field::Phone, &p)?),
            (None, Some(c)) => Some(store.keys().decrypt(Field::Phone, &c)?),
            (None, None) => None,
        };
        let status = if phone.is_some() {
            "exported"
        } else {
            "cancelled"
        };
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE outbox SET status = $1, exported_at = $2, exported_by = $3 WHERE id = $4",
            )
            .bind(status)
            .bind(now)
            .bind(who.user_id)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map(|_| ())
        })?;
        if let Some(phone) = phone {
            out.push(Outgoing { id, phone, body });
        }
    }
    let event = event
        .object("outbox", root.as_str())
        .reason(&format!("exported {} messages", out.len()));
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(out)
}

/// The first day of the ISO week and of the month of `today`'s, and their last days.
pub fn period_end(today: NaiveDate, period: &str) -> NaiveDate {
    match period {
        "month" => {
            let (y, m) = if today.month() == 12 {
                (today.year() + 1, 1)
            } else {
                (today.year(), today.month() + 1)
            };
            NaiveDate::from_ymd_opt(y, m, 1).map_or(today, |d| d - chrono::Duration::days(1))
        }
        "today" => today,
        _ => today + chrono::Duration::days(i64::from(6 - today.weekday().num_days_from_monday())),
    }
}

// ---------------------------------------------------------------------------------------
// Bulk writes (the demo county, migrations from another system)

/// An enrolment for [`insert_enrolments`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkEnrolment {
    pub resident_id: i64,
    pub programme: String,
    pub started_on: NaiveDate,
    pub ended_on: Option<NaiveDate>,
    pub episode: Episode,
}

/// Insert enrolments with multi-row INSERTs in one transaction; returns their ids in order.
/// Audited as one `programme_enrolment_batch` event.
pub async fn insert_enrolments(
    store: &Store,
    rows: &[BulkEnrolment],
    by: &Who,
) -> Result<Vec<i64>> {
    const WIDTH: usize = 6;
    let per_statement = (max_params(store) / WIDTH).min(4000);
    let backend = store.backend();
    let now = crate::now();
    let mut ids = Vec::with_capacity(rows.len());
    let mut tx = store.begin().await?;
    for chunk in rows.chunks(per_statement) {
        let sql = format!(
            "INSERT INTO programme_enrolment (resident_id, programme, started_on, ended_on, \
             episode, created_at) VALUES {} RETURNING id",
            values_list(backend, chunk.len(), WIDTH)
        );
        let returned: Vec<i64> = on_tx!(&mut tx, |conn| {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()));
            for r in chunk {
                q = q
                    .bind(r.resident_id)
                    .bind(&r.programme)
                    .bind(r.started_on)
                    .bind(r.ended_on)
                    .bind(r.episode.to_json().to_string())
                    .bind(now);
            }
            q.fetch_all(&mut *conn).await
        })?;
        ids.extend(crate::resident::in_row_order(returned, chunk.len())?);
    }
    let event = Event::new(by.clone(), crate::audit::Action::Create)
        .object("programme_enrolment_batch", rows.len());
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(ids)
}

/// A past visit for [`insert_history`], with the outcome already computed.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryVisit {
    pub resident_id: i64,
    pub division: String,
    pub institution_id: i64,
    pub author_id: Option<i64>,
    pub enrolment_id: Option<i64>,
    pub programme: String,
    pub visit_code: String,
    pub visit_date: NaiveDate,
    pub answers: Json,
    pub classification: Option<&'static str>,
    pub next_due: Option<NextDue>,
    pub summary: String,
}

/// Insert past visits (each with its timeline encounter) with multi-row INSERTs in one
/// transaction. Audited as one `programme_visit_batch` event. The work lists are not
/// refreshed here: run [`refresh_all`] after a load.
pub async fn insert_history(store: &Store, rows: &[HistoryVisit], by: &Who) -> Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    const ENCOUNTER_WIDTH: usize = 8;
    const VISIT_WIDTH: usize = 13;
    let per_statement = (max_params(store) / VISIT_WIDTH).min(2000);
    let backend = store.backend();
    let now = crate::now();
    let mut tx = store.begin().await?;
    for chunk in rows.chunks(per_statement) {
        let sql = format!(
            "INSERT INTO encounter (resident_id, division_code, institution_id, author_id, kind, \
             started_at, summary, created_at) VALUES {} RETURNING id",
            values_list(backend, chunk.len(), ENCOUNTER_WIDTH)
        );
        let returned: Vec<i64> = on_tx!(&mut tx, |conn| {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()));
            for r in chunk {
                let at = r
                    .visit_date
                    .and_hms_opt(9, 0, 0)
                    .map_or(now, |t| t.and_utc());
                q = q
                    .bind(r.resident_id)
                    .bind(&r.division)
                    .bind(r.institution_id)
                    .bind(r.author_id)
                    .bind(EncounterKind::FollowUp.as_str())
                    .bind(at)
                    .bind(&r.summary)
                    .bind(now);
            }
            q.fetch_all(&mut *conn).await
        })?;
        let encounters = crate::resident::in_row_order(returned, chunk.len())?;
        let sql = format!(
            "INSERT INTO programme_visit (resident_id, encounter_id, enrolment_id, programme, \
             visit_code, visit_date, division_code, answers, classification, next_due_kind, \
             next_due_on, recorded_by, recorded_at) VALUES {}",
            values_list(backend, chunk.len(), VISIT_WIDTH)
        );
        on_tx!(&mut tx, |conn| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for (r, encounter) in chunk.iter().zip(&encounters) {
                let (kind, on) = match r.next_due {
                    Some(NextDue::On(d)) => (Some("on"), Some(d)),
                    Some(NextDue::By(d)) => (Some("by"), Some(d)),
                    None => (None, None),
                };
                q = q
                    .bind(r.resident_id)
                    .bind(*encounter)
                    .bind(r.enrolment_id)
                    .bind(&r.programme)
                    .bind(&r.visit_code)
                    .bind(r.visit_date)
                    .bind(&r.division)
                    .bind(r.answers.to_string())
                    .bind(r.classification)
                    .bind(kind)
                    .bind(on)
                    .bind(r.author_id)
                    .bind(now);
            }
            q.execute(&mut *conn).await.map(|_| ())
        })?;
    }
    let event = Event::new(by.clone(), crate::audit::Action::Create)
        .object("programme_visit_batch", rows.len());
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(rows.len() as u64)
}

// ---------------------------------------------------------------------------------------
// For the FHIR CarePlan, Task and Observation resources (fhir/care_plan.rs, fhir/task.rs,
// fhir/observation.rs in yiwei-web). Unaudited: callers are the gate in
// `crate::access::programmes`, which has checked and audited the read already.

/// The id of the visit recorded with an encounter; `NotFound` when the encounter is not a
/// programme visit.
pub(crate) async fn visit_of_encounter(store: &Store, encounter_id: i64) -> Result<i64> {
    on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT id FROM programme_visit WHERE encounter_id = $1 ORDER BY id")
            .bind(encounter_id)
            .fetch_optional(pool)
            .await
    })?
    .ok_or(StoreError::NotFound("visit"))
}

/// The open enrolments of the residents with work-list rows under `root`, keyed by
/// (resident, programme): which stored enrolment a work-list row belongs to.
pub(crate) async fn open_enrolments_under(
    store: &Store,
    root: &DivisionCode,
) -> Result<HashMap<(i64, String), i64>> {
    let (lo, hi) = root.subtree_range();
    let rows: Vec<(i64, i64, String)> = on_pool!(store, |pool| {
        sqlx::query_as(
            "SELECT e.id, e.resident_id, e.programme FROM programme_enrolment e \
             WHERE e.ended_on IS NULL AND EXISTS (SELECT 1 FROM programme_due d \
             WHERE d.resident_id = e.resident_id AND d.programme = e.programme \
             AND d.division_code >= $1 AND d.division_code < $2)",
        )
        .bind(lo)
        .bind(hi)
        .fetch_all(pool)
        .await
    })?;
    Ok(rows
        .into_iter()
        .map(|(id, resident_id, programme)| ((resident_id, programme), id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn stored_status_follows_the_dates() {
        let (from, by) = (d(2026, 3, 1), d(2026, 3, 31));
        assert_eq!(status_at(d(2026, 2, 28), from, by, None), Status::Upcoming);
        assert_eq!(status_at(d(2026, 3, 1), from, by, None), Status::Due);
        assert_eq!(status_at(d(2026, 3, 31), from, by, None), Status::Due);
        assert_eq!(status_at(d(2026, 4, 1), from, by, None), Status::Overdue);
        assert_eq!(
            status_at(d(2026, 4, 1), from, by, Some(d(2026, 4, 1))),
            Status::Missed
        );
    }

    #[test]
    fn week_and_month_end_on_sunday_and_the_last_day() {
        // 2026-11-23 is a Monday.
        assert_eq!(period_end(d(2026, 11, 23), "week"), d(2026, 11, 29));
        assert_eq!(period_end(d(2026, 11, 29), "week"), d(2026, 11, 29));
        assert_eq!(period_end(d(2026, 11, 23), "month"), d(2026, 11, 30));
        assert_eq!(period_end(d(2026, 12, 5), "month"), d(2026, 12, 31));
        assert_eq!(period_end(d(2028, 2, 5), "month"), d(2028, 2, 29));
    }

    #[test]
    fn a_profile_condition_enrols_until_a_doctor_records_the_start() {
        let mut f = Facts {
            resident_id: 1,
            division: "45122610".into(),
            birth_date: Some(d(1950, 5, 1)),
            sex: Some(Sex::Male),
            key_groups: vec![KeyGroup::Hypertension],
            profile_conditions: vec![Condition::Hypertension],
            created_on: d(2024, 1, 10),
            discharged_after_birth: None,
            referred_back: None,
            enrolments: Vec::new(),
            visits: Vec::new(),
            doses: Vec::new(),
        };
        let s = f.subject();
        assert_eq!(s.conditions.len(), 1);
        assert_eq!(s.conditions[0].since, d(2024, 1, 10));
        f.enrolments.push(Enrolment {
            id: 7,
            resident_id: 1,
            programme: "hypertension".into(),
            started_on: d(2019, 6, 1),
            ended_on: None,
            end_reason: None,
            episode: Episode::default(),
        });
        let s = f.subject();
        assert_eq!(s.conditions.len(), 1);
        assert_eq!(s.conditions[0].since, d(2019, 6, 1));
        // An elderly hypertensive has follow-ups and the yearly check due.
        let rows = f.due_rows(&Catalogue::default(), d(2026, 11, 23));
        assert!(rows.iter().any(|r| r.programme == "hypertension"));
        assert!(rows.iter().any(|r| r.programme == "elderly_annual"));
        assert!(!rows.iter().any(|r| r.programme == IMMUNIZATION));
    }

    #[test]
    fn a_reminder_names_no_identifier() {
        let c = Catalogue::default();
        let row = DueRow {
            programme: "hypertension".into(),
            visit_code: "followup".into(),
            due_from: d(2026, 12, 1),
            due_by: d(2026, 12, 15),
            missed_on: None,
        };
        let text = reminder_text(&c, "韦建国", &row, Status::Upcoming);
        assert!(text.contains("韦先生/女士"));
        assert!(!text.contains("建国"));
        assert!(text.contains("2026-12-01"));
    }
}
