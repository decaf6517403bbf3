//! 检查结果互认 (mutual recognition): the catalogue of recognisable items with their
//! accredited institutions, the ledger of clinicians' decisions, and the figures (count
//! and money saved for patients and for institutions, by month and institution).
//!
//! The rules (same item, accredited institution, validity, supersession, the exception
//! reasons, the price split) are `yiwei_domain::recognition`; this module loads what they
//! need and stores what was decided. Personal reads and writes go through
//! `crate::access::recognition`. The figures are aggregates and hold no personal data.
//!
//! Schema: migrations/*/0016_recognition.sql.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use yiwei_domain::recognition::{self as rules, Accreditation, Decision, Item, Prior};

use crate::audit::{self, Event};
use crate::imaging::{Scope, Study, StudyQuery};
use crate::{Result, Row, Store, StoreError, on_pool, on_tx};

/// The county's offset from UTC (dates and months are county dates, UTC+8).
pub const COUNTY_OFFSET_HOURS: i64 = 8;

/// The county date of an instant.
pub fn county_date(at: DateTime<Utc>) -> NaiveDate {
    (at + Duration::hours(COUNTY_OFFSET_HOURS)).date_naive()
}

/// The catalogue, active items only, each with its accreditations, by code.
pub async fn catalogue(store: &Store) -> Result<Vec<Item>> {
    let (items, accreditations) = on_pool!(store, |pool| {
        let items = sqlx::query(
            "SELECT code, name_zh, name_en, modality, body_part, validity_days, price_fen, \
             patient_share_permille FROM recognition_item WHERE active ORDER BY code",
        )
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Item {
                code: r.col("code")?,
                name_zh: r.col("name_zh")?,
                name_en: r.col("name_en")?,
                modality: r.col("modality")?,
                body_part: r.col("body_part")?,
                validity_days: u32::try_from(r.col::<i64>("validity_days")?).unwrap_or(0),
                price_fen: r.col("price_fen")?,
                patient_share_permille: u32::try_from(r.col::<i64>("patient_share_permille")?)
                    .unwrap_or(0),
                accreditations: Vec::new(),
            })
        })
        .collect::<Result<Vec<Item>>>()?;
        let accreditations: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT item_code, institution_id, hr_scope FROM recognition_accreditation ORDER BY id",
        )
        .fetch_all(pool)
        .await?;
        Ok::<_, StoreError>((items, accreditations))
    })?;
    let mut items = items;
    for (code, institution_id, hr_scope) in accreditations {
        if let Some(item) = items.iter_mut().find(|i| i.code == code) {
            item.accreditations.push(Accreditation {
                institution_id,
                hr_scope,
            });
        }
    }
    Ok(items)
}

/// Record (or change the scope of) an institution's accreditation for an item: the
/// county's quality-control body's decision, entered by an administrator or the demo.
pub async fn accredit(
    store: &Store,
    item_code: &str,
    institution_id: i64,
    hr_scope: &str,
) -> Result<()> {
    let hr_scope = hr_scope.trim();
    if hr_scope.is_empty() {
        return Err(StoreError::Invalid(
            "请写明 HR 互认范围 / name the scope of the HR mark".into(),
        ));
    }
    let mut tx = store.begin().await?;
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "INSERT INTO recognition_accreditation (item_code, institution_id, hr_scope) VALUES ($1, $2, $3) \
             ON CONFLICT (item_code, institution_id) DO UPDATE SET hr_scope = excluded.hr_scope",
        )
        .bind(item_code)
        .bind(institution_id)
        .bind(hr_scope)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })?;
    tx.commit().await?;
    Ok(())
}

/// A prior study offered for recognition: the item it is an exam of, and the rule's answer.
#[derive(Clone, Debug)]
pub struct Offer {
    pub item: Item,
    pub study: Study,
    pub decision: Result<rules::Recognisable, rules::NotRecognisable>,
}

/// The exam date of a study: its StudyDate, else the county date it was received.
pub fn exam_date(study: &Study) -> NaiveDate {
    study
        .study_date
        .unwrap_or_else(|| county_date(study.created_at))
}

/// The resident's studies that are exams of a catalogue item, newest first, each with the
/// rule's answer for an order on `order_date` (the gate has checked the resident). With
/// `only` (modality, body part) just the items covering that exam.
pub(crate) async fn offers(
    store: &Store,
    resident_id: i64,
    order_date: NaiveDate,
    only: Option<(&str, &str)>,
) -> Result<Vec<Offer>> {
    let items: Vec<Item> = catalogue(store)
        .await?
        .into_iter()
        .filter(|i| only.is_none_or(|(m, b)| i.covers(m, b)))
        .collect();
    let query = StudyQuery {
        resident_id: Some(resident_id),
        limit: 200,
        ..StudyQuery::default()
    };
    let (studies, _) = crate::imaging::search_studies(store, &Scope::Everything, &query).await?;
    let mut out = Vec::new();
    // Studies come newest first: the first study seen of an item supersedes the rest.
    let mut seen: Vec<String> = Vec::new();
    for study in studies {
        for item in &items {
            let covered = study.modalities.iter().any(|m| {
                study.body_parts.iter().any(|b| item.covers(m, b))
                    || (study.body_parts.is_empty() && item.covers(m, ""))
            });
            if !covered {
                continue;
            }
            // Only a result the clinician could have had at the order supersedes: a study
            // done after the order date (the repeat itself) does not.
            let superseded = seen.contains(&item.code);
            if exam_date(&study) <= order_date {
                seen.push(item.code.clone());
            }
            let modality = study
                .modalities
                .iter()
                .find(|m| item.covers(m, &item.body_part))
                .cloned()
                .unwrap_or_default();
            let prior = Prior {
                institution_id: study.institution_id,
                modality,
                body_part: item.body_part.clone(),
                exam_date: exam_date(&study),
                superseded,
            };
            out.push(Offer {
                item: item.clone(),
                study: study.clone(),
                decision: rules::decide(item, &prior, order_date),
            });
        }
    }
    Ok(out)
}

/// Where a decision was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// The "order exam" form (开单).
    Order,
    Booking,
    Referral,
}

impl Context {
    pub fn as_str(self) -> &'static str {
        match self {
            Context::Order => "order",
            Context::Booking => "booking",
            Context::Referral => "referral",
        }
    }

    pub fn parse(s: &str) -> Option<Context> {
        [Context::Order, Context::Booking, Context::Referral]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// One row of the ledger.
#[derive(Clone, Debug, PartialEq)]
pub struct Recognition {
    pub id: i64,
    pub resident_id: i64,
    pub item_code: String,
    pub prior_study_id: i64,
    pub performing_institution_id: i64,
    pub ordering_institution_id: i64,
    pub context: String,
    pub context_id: Option<i64>,
    pub decision: String,
    pub reason: Option<String>,
    pub note: String,
    pub hr_scope: String,
    pub price_fen: i64,
    pub saved_patient_fen: i64,
    pub saved_institution_fen: i64,
    pub clinician_id: Option<i64>,
    pub decided_at: DateTime<Utc>,
}

/// What the gate hands over to record.
#[derive(Clone, Debug)]
pub(crate) struct NewRecognition<'a> {
    pub resident_id: i64,
    pub division: &'a str,
    pub item: &'a Item,
    pub hr_scope: &'a str,
    pub prior: &'a Study,
    pub ordering_institution_id: i64,
    pub context: Context,
    pub context_id: Option<i64>,
    pub decision: &'a Decision,
    pub clinician_id: i64,
}

/// Append a decision to the ledger, with the gate's event, in one transaction.
pub(crate) async fn record(store: &Store, new: &NewRecognition<'_>, event: Event) -> Result<i64> {
    let now = crate::now();
    let today = county_date(now);
    let period = format!("{:04}-{:02}", today.year(), today.month());
    let saved = new.decision.saved(new.item);
    let (reason, note) = match new.decision {
        Decision::Recognised => (None, ""),
        Decision::Repeated { reason, note } => (Some(reason.as_str()), note.as_str()),
    };
    let mut tx = store.begin().await?;
    let id: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO recognition (resident_id, division_code, item_code, prior_study_id, \
             performing_institution_id, ordering_institution_id, context, context_id, decision, \
             reason, note, hr_scope, price_fen, saved_patient_fen, saved_institution_fen, \
             clinician_id, decided_at, period) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
             RETURNING id",
        )
        .bind(new.resident_id)
        .bind(new.division)
        .bind(&new.item.code)
        .bind(new.prior.id)
        .bind(new.prior.institution_id)
        .bind(new.ordering_institution_id)
        .bind(new.context.as_str())
        .bind(new.context_id)
        .bind(new.decision.as_str())
        .bind(reason)
        .bind(note)
        .bind(new.hr_scope)
        .bind(new.item.price_fen)
        .bind(saved.patient_fen)
        .bind(saved.institution_fen)
        .bind(new.clinician_id)
        .bind(now)
        .bind(&period)
        .fetch_one(&mut *conn)
        .await
    })?;
    audit::append_in(
        &mut tx,
        store.keys().audit_key(),
        &event.object("recognition", id),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The ledger rows of one resident, newest first.
pub(crate) async fn of_resident(store: &Store, resident_id: i64) -> Result<Vec<Recognition>> {
    on_pool!(store, |pool| {
        sqlx::query(
            "SELECT id, resident_id, item_code, prior_study_id, performing_institution_id, \
             ordering_institution_id, context, context_id, decision, reason, note, hr_scope, \
             price_fen, saved_patient_fen, saved_institution_fen, clinician_id, decided_at \
             FROM recognition WHERE resident_id = $1 ORDER BY decided_at DESC, id DESC LIMIT 200",
        )
        .bind(resident_id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Recognition {
                id: r.col("id")?,
                resident_id: r.col("resident_id")?,
                item_code: r.col("item_code")?,
                prior_study_id: r.col("prior_study_id")?,
                performing_institution_id: r.col("performing_institution_id")?,
                ordering_institution_id: r.col("ordering_institution_id")?,
                context: r.col("context")?,
                context_id: r.col("context_id")?,
                decision: r.col("decision")?,
                reason: r.col("reason")?,
                note: r.col("note")?,
                hr_scope: r.col("hr_scope")?,
                price_fen: r.col("price_fen")?,
                saved_patient_fen: r.col("saved_patient_fen")?,
                saved_institution_fen: r.col("saved_institution_fen")?,
                clinician_id: r.col("clinician_id")?,
                decided_at: r.col("decided_at")?,
            })
        })
        .collect()
    })
}

/// One line of the figures: a month at one ordering institution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figure {
    /// `YYYY-MM`, county month.
    pub period: String,
    pub institution_id: i64,
    pub institution_name: String,
    pub recognised: i64,
    pub repeated: i64,
    pub saved_patient_fen: i64,
    pub saved_institution_fen: i64,
}

/// The figures for months `from..=to` (`YYYY-MM`), by month and ordering institution
/// (the one that did not repeat the exam), newest month first. Aggregates only.
pub async fn figures(store: &Store, from: &str, to: &str) -> Result<Vec<Figure>> {
    on_pool!(store, |pool| {
        sqlx::query(
            "SELECT r.period, r.ordering_institution_id AS institution_id, i.name AS institution_name, \
             CAST(SUM(CASE WHEN r.decision = 'recognised' THEN 1 ELSE 0 END) AS BIGINT) AS recognised, \
             CAST(SUM(CASE WHEN r.decision = 'repeated' THEN 1 ELSE 0 END) AS BIGINT) AS repeated, \
             CAST(SUM(r.saved_patient_fen) AS BIGINT) AS saved_patient_fen, \
             CAST(SUM(r.saved_institution_fen) AS BIGINT) AS saved_institution_fen \
             FROM recognition r JOIN institution i ON i.id = r.ordering_institution_id \
             WHERE r.period >= $1 AND r.period <= $2 \
             GROUP BY r.period, r.ordering_institution_id, i.name \
             ORDER BY r.period DESC, i.name",
        )
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Figure {
                period: r.col("period")?,
                institution_id: r.col("institution_id")?,
                institution_name: r.col("institution_name")?,
                recognised: r.col("recognised")?,
                repeated: r.col("repeated")?,
                saved_patient_fen: r.col("saved_patient_fen")?,
                saved_institution_fen: r.col("saved_institution_fen")?,
            })
        })
        .collect()
    })
}

/// The sum of `figures`: the county's totals for the period.
pub fn totals(figures: &[Figure]) -> Figure {
    figures.iter().fold(Figure::default(), |mut t, f| {
        t.recognised += f.recognised;
        t.repeated += f.repeated;
        t.saved_patient_fen += f.saved_patient_fen;
        t.saved_institution_fen += f.saved_institution_fen;
        t
    })
}
