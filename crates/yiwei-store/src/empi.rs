//! The master patient index (主索引, EMPI): every new record is matched against the
//! residents already known before it is stored.
//!
//! Candidates come from blocking keys that an index answers at once, so matching keeps up
//! with single writes at a million residents: the ID-card and phone hashes, the name's
//! pinyin keys together with the birth date, and the household. Each candidate is scored
//! by `yiwei_domain::empi` (Fellegi–Sunter weights with an explanation per field). At or
//! above the link threshold the new record is the existing person and nothing is created;
//! in the grey band the record is created and the pair queued for review; below it the
//! record is simply created. Merges keep both rows (`merged_into` on the absorbed one) and
//! a `resident_merge` row, so every merge can be undone; both are audited.

use serde_json::json;
use yiwei_domain::empi::{self, Decision, Person, Thresholds, Weights};
use yiwei_domain::id_card::Sex;

use crate::audit::{self, Action, Event, Who};
use crate::crypto::Field;
use crate::resident::{self, NewResident};
use crate::{Result, Row, Store, StoreError, on_pool, on_tx};

/// How a registration ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A new resident was created; `review` lists candidates queued for a person to decide.
    Created { id: i64, review: Vec<i64> },
    /// The record is an existing resident: nothing was created.
    Linked {
        id: i64,
        score: f64,
        explanation: String,
    },
}

fn sex_of(s: &str) -> Option<Sex> {
    match s {
        "male" => Some(Sex::Male),
        "female" => Some(Sex::Female),
        _ => None,
    }
}

fn person_of(new: &NewResident) -> Person {
    Person {
        name: new.name.clone(),
        sex: sex_of(&new.sex),
        birth_date: new.birth_date,
        id_card: new
            .id_card
            .as_deref()
            .map(|v| Field::IdCard.normalise(v))
            .filter(|v| !v.is_empty()),
        phone: new
            .phone
            .as_deref()
            .map(|v| Field::Phone.normalise(v))
            .filter(|v| !v.is_empty()),
        village: Some(new.division.as_str().to_owned()),
        household: new.details.household_id,
        address: Some(new.details.address.clone()).filter(|a| !a.is_empty()),
    }
}

/// The explanation of a score as JSON text: one entry per field.
pub fn explain(score: &empi::Score) -> String {
    let fields: Vec<_> = score
        .comparisons
        .iter()
        .map(|c| {
            json!({
                "field": format!("{:?}", c.field),
                "level": format!("{:?}", c.level),
                "weight": (c.weight * 100.0).round() / 100.0,
                "en": c.describe(),
                "zh": c.describe_zh(),
            })
        })
        .collect();
    json!({
        "total": (score.total * 100.0).round() / 100.0,
        "reason": score.reason.describe(),
        "reason_zh": score.reason.describe_zh(),
        "fields": fields,
    })
    .to_string()
}

/// Candidate ids for `new` from the blocking keys, at most 50.
async fn candidate_ids(store: &Store, new: &NewResident) -> Result<Vec<i64>> {
    let keys = store.keys();
    let id_hash = new
        .id_card
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .map(|v| keys.lookup_hash(Field::IdCard, v));
    let phone_hash = new
        .phone
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .map(|v| keys.lookup_hash(Field::Phone, v));
    let name_keys = yiwei_domain::name::pinyin_keys(&new.name);
    let mut ids: Vec<i64> = on_pool!(store, |pool| {
        let mut ids: Vec<i64> = Vec::new();
        if let Some(h) = &id_hash {
            ids.extend(
                sqlx::query_scalar::<_, i64>(
                    "SELECT id FROM resident WHERE id_card_hash = $1 AND merged_into IS NULL",
                )
                .bind(h)
                .fetch_all(pool)
                .await?,
            );
        }
        if let Some(h) = &phone_hash {
            ids.extend(
                sqlx::query_scalar::<_, i64>(
                    "SELECT id FROM resident WHERE phone_hash = $1 AND merged_into IS NULL LIMIT 20",
                )
                .bind(h)
                .fetch_all(pool)
                .await?,
            );
        }
        for key in name_keys.iter().take(8) {
            ids.extend(
                sqlx::query_scalar::<_, i64>(
                    "SELECT r.id FROM resident_name_key k JOIN resident r ON r.id = k.resident_id \
                     WHERE k.key = $1 AND r.merged_into IS NULL \
                     AND (r.birth_date = $2 OR r.division_code = $3) LIMIT 20",
                )
                .bind(key)
                .bind(new.birth_date)
                .bind(new.division.as_str())
                .fetch_all(pool)
                .await?,
            );
        }
        if let Some(h) = new.details.household_id {
            ids.extend(
                sqlx::query_scalar::<_, i64>(
                    "SELECT id FROM resident WHERE household_id = $1 AND merged_into IS NULL LIMIT 20",
                )
                .bind(h)
                .fetch_all(pool)
                .await?,
            );
        }
        Ok::<_, StoreError>(ids)
    })?;
    ids.sort_unstable();
    ids.dedup();
    ids.truncate(50);
    Ok(ids)
}

/// name, sex, birth date, village, household, address, encrypted ID card and phone.
type StoredRow = (
    String,
    String,
    Option<chrono::NaiveDate>,
    String,
    Option<i64>,
    String,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

/// The matching view of a stored resident (decrypting its numbers for comparison).
async fn stored_person(store: &Store, id: i64) -> Result<Person> {
    let (name, sex, birth, division, household, address, id_enc, phone_enc): StoredRow = on_pool!(
        store,
        |pool| {
            let r = sqlx::query(
            "SELECT name, sex, birth_date, division_code, household_id, address, id_card_enc, phone_enc \
             FROM resident WHERE id = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await?;
            Ok::<_, StoreError>((
                r.col("name")?,
                r.col("sex")?,
                r.col("birth_date")?,
                r.col("division_code")?,
                r.col("household_id")?,
                r.col("address")?,
                r.col("id_card_enc")?,
                r.col("phone_enc")?,
            ))
        }
    )?;
    let keys = store.keys();
    Ok(Person {
        name,
        sex: sex_of(&sex),
        birth_date: birth,
        id_card: id_enc
            .map(|b| keys.decrypt(Field::IdCard, &b))
            .transpose()?,
        phone: phone_enc
            .map(|b| keys.decrypt(Field::Phone, &b))
            .transpose()?,
        village: Some(division),
        household,
        address: Some(address).filter(|a| !a.is_empty()),
    })
}

/// Score `new` against every candidate, best first.
pub async fn candidates(store: &Store, new: &NewResident) -> Result<Vec<(i64, empi::Score)>> {
    let me = person_of(new);
    let (w, t) = (Weights::default(), Thresholds::default());
    let mut scored = Vec::new();
    for id in candidate_ids(store, new).await? {
        let other = stored_person(store, id).await?;
        scored.push((id, empi::score(&me, &other, &w, &t)));
    }
    scored.sort_by(|a, b| b.1.total.total_cmp(&a.1.total));
    Ok(scored)
}

/// Register a record: link it to the existing resident it is, or create it (queueing grey-
/// band candidates for review). Audited as `create` (with the review count) or as a `read`
/// of the linked resident with basis `empi_link`.
pub async fn register(store: &Store, new: &NewResident, by: &Who) -> Result<Outcome> {
    let scored = candidates(store, new).await?;
    if let Some((id, best)) = scored.first()
        && best.decision == Decision::Link
    {
        let explanation = explain(best);
        let event = Event::new(by.clone(), Action::Read)
            .object("resident", id)
            .resident(*id)
            .basis("empi_link")
            .reason(&format!("score {:.2}", best.total));
        audit::append(store, &event).await?;
        return Ok(Outcome::Linked {
            id: *id,
            score: best.total,
            explanation,
        });
    }

    let mut tx = store.begin().await?;
    let id = resident::insert_in(&mut tx, store, new).await?;
    let mut review = Vec::new();
    let now = crate::now();
    for (candidate, score) in scored
        .iter()
        .filter(|(_, s)| s.decision == Decision::Review)
    {
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "INSERT INTO match_review (resident_id, candidate_id, score, explanation, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(*candidate)
            .bind(score.total)
            .bind(explain(score))
            .bind(now)
            .execute(&mut *conn)
            .await
            .map(|_| ())
        })?;
        review.push(*candidate);
    }
    let event = Event::new(by.clone(), Action::Create)
        .object("resident", id)
        .resident(id)
        .reason(&format!("empi: {} to review", review.len()));
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(Outcome::Created { id, review })
}

/// A pair waiting for (or given) a decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Review {
    pub id: i64,
    pub resident_id: i64,
    pub candidate_id: i64,
    pub score: f64,
    pub explanation: String,
    pub state: String,
}

/// Review pairs in `state` (`open`, `merged`, `distinct`), oldest first, with their
/// residents' villages so callers can keep to their reach.
pub async fn reviews(store: &Store, state: &str, limit: i64, offset: i64) -> Result<Vec<Review>> {
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT id, resident_id, candidate_id, score, explanation, state FROM match_review \
             WHERE state = $1 ORDER BY id LIMIT $2 OFFSET $3",
        )
        .bind(state)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Review {
                    id: r.col("id")?,
                    resident_id: r.col("resident_id")?,
                    candidate_id: r.col("candidate_id")?,
                    score: r.col("score")?,
                    explanation: r.col("explanation")?,
                    state: r.col("state")?,
                })
            })
            .collect()
    })
}

pub async fn review(store: &Store, id: i64) -> Result<Review> {
    on_pool!(store, |pool| {
        let r = sqlx::query(
            "SELECT id, resident_id, candidate_id, score, explanation, state FROM match_review WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or(StoreError::NotFound("match review"))?;
        Ok(Review {
            id: r.col("id")?,
            resident_id: r.col("resident_id")?,
            candidate_id: r.col("candidate_id")?,
            score: r.col("score")?,
            explanation: r.col("explanation")?,
            state: r.col("state")?,
        })
    })
}

/// Merge `merged` into `survivor`: the absorbed record stays, marked, and can be restored
/// with [`unmerge`]. Returns the merge id.
pub async fn merge(
    store: &Store,
    survivor: i64,
    merged: i64,
    score: Option<f64>,
    reason: &str,
    by: &Who,
) -> Result<i64> {
    if survivor == merged {
        return Err(StoreError::Invalid(
            "a record cannot be merged into itself".into(),
        ));
    }
    let mut tx = store.begin().await?;
    let merge_id = on_tx!(&mut tx, |conn| {
        let states: Vec<(i64, Option<i64>)> =
            sqlx::query("SELECT id, merged_into FROM resident WHERE id = $1 OR id = $2")
                .bind(survivor)
                .bind(merged)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| Ok::<_, StoreError>((r.col("id")?, r.col("merged_into")?)))
                .collect::<Result<_>>()?;
        if states.len() != 2 {
            return Err(StoreError::NotFound("resident"));
        }
        if states.iter().any(|(_, into)| into.is_some()) {
            return Err(StoreError::Invalid(
                "one of the records is already merged; undo that merge first".into(),
            ));
        }
        sqlx::query("UPDATE resident SET merged_into = $1, version = version + 1 WHERE id = $2")
            .bind(survivor)
            .bind(merged)
            .execute(&mut *conn)
            .await?;
        // Review pairs of the absorbed record now concern the survivor: close them.
        sqlx::query(
            "UPDATE match_review SET state = 'merged', decided_by = $1, decided_at = $2 \
             WHERE state = 'open' AND ((resident_id = $3 AND candidate_id = $4) OR (resident_id = $4 AND candidate_id = $3))",
        )
        .bind(by.user_id)
        .bind(crate::now())
        .bind(survivor)
        .bind(merged)
        .execute(&mut *conn)
        .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO resident_merge (survivor_id, merged_id, score, reason, by_user, at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(survivor)
        .bind(merged)
        .bind(score)
        .bind(reason)
        .bind(by.user_id)
        .bind(crate::now())
        .fetch_one(&mut *conn)
        .await?;
        Ok::<_, StoreError>(id)
    })?;
    for (resident, role) in [(survivor, "survivor"), (merged, "merged")] {
        let event = Event::new(by.clone(), Action::Update)
            .object("resident_merge", merge_id)
            .resident(resident)
            .basis(role)
            .reason(&format!("merge {merged} into {survivor}: {reason}"));
        audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    }
    tx.commit().await?;
    Ok(merge_id)
}

/// Undo a merge: the absorbed record is a resident of its own again.
pub async fn unmerge(store: &Store, merge_id: i64, by: &Who) -> Result<()> {
    let mut tx = store.begin().await?;
    let (survivor, merged) = on_tx!(&mut tx, |conn| {
        let r = sqlx::query(
            "SELECT survivor_id, merged_id, undone_at FROM resident_merge WHERE id = $1",
        )
        .bind(merge_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("merge"))?;
        let undone: Option<chrono::DateTime<chrono::Utc>> = r.col("undone_at")?;
        if undone.is_some() {
            return Err(StoreError::Invalid("this merge was already undone".into()));
        }
        let (survivor, merged): (i64, i64) = (r.col("survivor_id")?, r.col("merged_id")?);
        sqlx::query("UPDATE resident SET merged_into = NULL, version = version + 1 WHERE id = $1 AND merged_into = $2")
            .bind(merged)
            .bind(survivor)
            .execute(&mut *conn)
            .await?;
        sqlx::query("UPDATE resident_merge SET undone_by = $1, undone_at = $2 WHERE id = $3")
            .bind(by.user_id)
            .bind(crate::now())
            .bind(merge_id)
            .execute(&mut *conn)
            .await?;
        Ok::<_, StoreError>((survivor, merged))
    })?;
    for resident in [survivor, merged] {
        let event = Event::new(by.clone(), Action::Update)
            .object("resident_merge", merge_id)
            .resident(resident)
            .reason(&format!("unmerge {merged} from {survivor}"));
        audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Decide a review pair: merge the newer record into the older, or mark them distinct.
pub async fn decide(store: &Store, review_id: i64, same_person: bool, by: &Who) -> Result<()> {
    let r = review(store, review_id).await?;
    if r.state != "open" {
        return Err(StoreError::Invalid(format!(
            "this pair was already decided ({})",
            r.state
        )));
    }
    if same_person {
        let (survivor, merged) = (
            r.resident_id.min(r.candidate_id),
            r.resident_id.max(r.candidate_id),
        );
        merge(
            store,
            survivor,
            merged,
            Some(r.score),
            "review: same person",
            by,
        )
        .await?;
    } else {
        on_pool!(store, |pool| {
            sqlx::query("UPDATE match_review SET state = 'distinct', decided_by = $1, decided_at = $2 WHERE id = $3")
                .bind(by.user_id)
                .bind(crate::now())
                .bind(review_id)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        let event = Event::new(by.clone(), Action::Update)
            .object("match_review", review_id)
            .resident(r.resident_id)
            .reason("review: distinct people");
        audit::append(store, &event).await?;
    }
    Ok(())
}

/// The (survivor, merged) pair of a merge.
pub async fn merge_by_id(store: &Store, merge_id: i64) -> Result<(i64, i64)> {
    on_pool!(store, |pool| {
        let r = sqlx::query("SELECT survivor_id, merged_id FROM resident_merge WHERE id = $1")
            .bind(merge_id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("merge"))?;
        Ok((r.col("survivor_id")?, r.col("merged_id")?))
    })
}

/// The live (not undone) merge that absorbed `merged_id`, if any.
pub async fn live_merge_of(store: &Store, merged_id: i64) -> Result<Option<i64>> {
    on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT id FROM resident_merge WHERE merged_id = $1 AND undone_at IS NULL ORDER BY id DESC LIMIT 1")
            .bind(merged_id)
            .fetch_optional(pool)
            .await
    })
    .map_err(Into::into)
}
