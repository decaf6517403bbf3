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
//!
//! The weights are the defaults of `yiwei_domain::empi::Weights` until a county trains its
//! own ([`train`], `yiwei empi train`): `m` and `u` estimated from its residents by
//! `yiwei_domain::empi::em`, blocking on the store's own keys, and saved with
//! [`save_weights`] in `match_weights`. The matcher ([`matcher`]) uses the newest saved row,
//! with thresholds from the prior estimated with it, and the defaults when there is none.

use serde_json::json;
use yiwei_domain::empi::em::{self, Blocked, Pattern, PatternCounts, Session, Trained};
use yiwei_domain::empi::{
    self, Decision, FieldName, FieldWeights, Person, Probabilities, Thresholds, Weights,
};
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
pub(crate) async fn stored_person(store: &Store, id: i64) -> Result<Person> {
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

/// Score `new` against every candidate, best first, with the store's [`matcher`].
pub async fn candidates(store: &Store, new: &NewResident) -> Result<Vec<(i64, empi::Score)>> {
    let m = matcher(store).await?;
    candidates_with(store, new, &m).await
}

/// Score `new` against every candidate, best first, with the given weights and thresholds
/// (a caller matching many records reads [`matcher`] once).
pub async fn candidates_with(
    store: &Store,
    new: &NewResident,
    matcher: &Matcher,
) -> Result<Vec<(i64, empi::Score)>> {
    let me = person_of(new);
    let (w, t) = (&matcher.weights, &matcher.thresholds);
    let mut scored = Vec::new();
    for id in candidate_ids(store, new).await? {
        let other = stored_person(store, id).await?;
        scored.push((id, empi::score(&me, &other, w, t)));
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

/// The weights and thresholds the matcher uses, and where they come from. The default is
/// the hand-set weights and thresholds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Matcher {
    pub weights: Weights,
    pub thresholds: Thresholds,
    /// The `match_weights` row, or `None` for the defaults.
    pub trained: Option<i64>,
}

/// A saved set of trained weights.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedWeights {
    pub id: i64,
    pub trained_at: chrono::DateTime<chrono::Utc>,
    pub trained_by: Option<i64>,
    pub residents: i64,
    pub random_pairs: i64,
    pub blocked_pairs: i64,
    pub prior: f64,
    pub review: f64,
    pub link: f64,
    pub weights: Weights,
}

fn level_json(p: Probabilities) -> serde_json::Value {
    json!({ "m": p.m, "u": p.u })
}

/// `Weights` as JSON: `{"name": {"exact": {"m", "u"}, "close": …, "disagree": …}, …}`.
fn weights_json(w: &Weights) -> String {
    let mut fields = serde_json::Map::new();
    for field in em::FIELDS {
        let f = w.field(field);
        fields.insert(
            field_key(field).to_owned(),
            json!({
                "exact": level_json(f.exact),
                "close": level_json(f.close),
                "disagree": level_json(f.disagree),
            }),
        );
    }
    serde_json::Value::Object(fields).to_string()
}

fn field_key(field: FieldName) -> &'static str {
    match field {
        FieldName::IdCard => "id_card",
        FieldName::Name => "name",
        FieldName::Sex => "sex",
        FieldName::BirthDate => "birth_date",
        FieldName::Phone => "phone",
        FieldName::Village => "village",
        FieldName::Household => "household",
        FieldName::Address => "address",
    }
}

fn weights_from_json(text: &str) -> Result<Weights> {
    let bad = |what: &str| StoreError::Invalid(format!("saved match weights: {what}"));
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(&format!("not JSON: {e}")))?;
    let mut w = Weights::default();
    for field in em::FIELDS {
        let key = field_key(field);
        let level = |name: &str| -> Result<Probabilities> {
            let p = |x: &str| {
                value[key][name][x]
                    .as_f64()
                    .filter(|v| v.is_finite() && (0.0..=1.0).contains(v))
                    .ok_or_else(|| bad(&format!("{key}.{name}.{x} missing or not a probability")))
            };
            Ok(Probabilities::new(p("m")?, p("u")?))
        };
        *w.field_mut(field) = FieldWeights {
            exact: level("exact")?,
            close: level("close")?,
            disagree: level("disagree")?,
        };
    }
    Ok(w)
}

/// The refusals of [`save_weights`]: a field whose agreement weighs no more than its
/// disagreement, or thresholds out of order.
pub fn check_weights(w: &Weights, t: &Thresholds) -> Result<()> {
    for field in em::FIELDS {
        let f = w.field(field);
        let (exact, disagree) = (
            f.weight(empi::Level::Exact),
            f.weight(empi::Level::Disagree),
        );
        if exact <= disagree {
            return Err(StoreError::Invalid(format!(
                "refusing degenerate weights: agreement on {} would weigh {exact:+.2} bits, no \
                 more than disagreement ({disagree:+.2})",
                field.describe()
            )));
        }
    }
    if !(t.review.is_finite() && t.link.is_finite() && t.review <= t.link) {
        return Err(StoreError::Invalid(format!(
            "refusing thresholds review {} and link {}",
            t.review, t.link
        )));
    }
    Ok(())
}

/// The newest saved weights, if any.
pub async fn saved_weights(store: &Store) -> Result<Option<SavedWeights>> {
    let row = on_pool!(store, |pool| {
        let r = sqlx::query(
            "SELECT id, trained_at, trained_by, residents, random_pairs, blocked_pairs, prior, \
             review, link, weights FROM match_weights ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(pool)
        .await?;
        r.map(|r| {
            Ok::<_, StoreError>((
                r.col::<i64>("id")?,
                r.col::<chrono::DateTime<chrono::Utc>>("trained_at")?,
                r.col::<Option<i64>>("trained_by")?,
                r.col::<i64>("residents")?,
                r.col::<i64>("random_pairs")?,
                r.col::<i64>("blocked_pairs")?,
                r.col::<f64>("prior")?,
                r.col::<f64>("review")?,
                r.col::<f64>("link")?,
                r.col::<String>("weights")?,
            ))
        })
        .transpose()
    })?;
    let Some((
        id,
        trained_at,
        trained_by,
        residents,
        random_pairs,
        blocked_pairs,
        prior,
        review,
        link,
        text,
    )) = row
    else {
        return Ok(None);
    };
    Ok(Some(SavedWeights {
        id,
        trained_at,
        trained_by,
        residents,
        random_pairs,
        blocked_pairs,
        prior,
        review,
        link,
        weights: weights_from_json(&text)?,
    }))
}

/// The matcher: the newest saved weights with their thresholds, or the defaults.
pub async fn matcher(store: &Store) -> Result<Matcher> {
    Ok(match saved_weights(store).await? {
        Some(s) => Matcher {
            weights: s.weights,
            thresholds: Thresholds {
                review: s.review,
                link: s.link,
            },
            trained: Some(s.id),
        },
        None => Matcher::default(),
    })
}

/// Weights estimated from the store's residents by [`train`], not yet saved.
#[derive(Clone, Debug, PartialEq)]
pub struct Training {
    pub trained: Trained,
    /// Resident rows trained on (merged ones included: a merge is a known duplicate).
    pub residents: i64,
    /// Pairs of the blocking rules (sampled), all rules together.
    pub blocked_pairs: u64,
}

/// A fixed xorshift64 generator, so that training on the same residents repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Prime modulus of the deterministic pair sample in SQL.
const SAMPLE_MOD: i64 = 1_000_003;

/// The blocking rules of training: the store's own keys (`candidate_ids`), each a self-join
/// of `resident`: (rule, fields held out, join condition).
const RULES: &[(&str, &[Blocked], &str)] = &[
    (
        "same ID-card number",
        &[Blocked::exact(FieldName::IdCard)],
        "b.id_card_hash = a.id_card_hash",
    ),
    (
        "same phone",
        &[Blocked::exact(FieldName::Phone)],
        "b.phone_hash = a.phone_hash",
    ),
    (
        "same name and birth date",
        &[
            Blocked::exact(FieldName::Name),
            Blocked::exact(FieldName::BirthDate),
        ],
        "b.birth_date = a.birth_date AND b.name = a.name",
    ),
    (
        "same name and village",
        &[
            Blocked::exact(FieldName::Name),
            Blocked::exact(FieldName::Village),
        ],
        "b.division_code = a.division_code AND b.name = a.name",
    ),
    (
        "same household",
        &[Blocked::exact(FieldName::Household)],
        "b.household_id = a.household_id",
    ),
];

/// The matching views of residents `ids`, read in batches (numbers decrypted).
async fn persons(store: &Store, ids: &[i64]) -> Result<std::collections::HashMap<i64, Person>> {
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    let keys = store.keys();
    for chunk in ids.chunks(500) {
        let list = (1..=chunk.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT id, name, sex, birth_date, division_code, household_id, address, \
             id_card_enc, phone_enc FROM resident WHERE id IN ({list})"
        );
        let rows: Vec<(i64, StoredRow)> = on_pool!(store, |pool| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    Ok::<_, StoreError>((
                        r.col("id")?,
                        (
                            r.col("name")?,
                            r.col("sex")?,
                            r.col("birth_date")?,
                            r.col("division_code")?,
                            r.col("household_id")?,
                            r.col("address")?,
                            r.col("id_card_enc")?,
                            r.col("phone_enc")?,
                        ),
                    ))
                })
                .collect::<Result<Vec<_>>>()
        })?;
        for (id, (name, sex, birth, division, household, address, id_enc, phone_enc)) in rows {
            out.insert(
                id,
                Person {
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
                },
            );
        }
    }
    Ok(out)
}

async fn patterns(store: &Store, pairs: &[(i64, i64)]) -> Result<PatternCounts> {
    let mut ids: Vec<i64> = pairs.iter().flat_map(|(a, b)| [*a, *b]).collect();
    ids.sort_unstable();
    ids.dedup();
    let people = persons(store, &ids).await?;
    let mut counts = PatternCounts::new();
    for (a, b) in pairs {
        if let (Some(a), Some(b)) = (people.get(a), people.get(b)) {
            counts.add(Pattern::of(a, b));
        }
    }
    Ok(counts)
}

/// Estimate `m`, `u` and the prior from the store's residents (merged records included):
/// `u` from `sample` random pairs, `m` by EM on up to `sample` pairs of each blocking rule
/// of [`RULES`] (a deterministic sample when a rule has more), the prior from the rules'
/// sizes. Reads only; [`save_weights`] keeps the result. Refused (`Invalid`, with the
/// reason) when there are too few residents or pairs, or the weights would be degenerate.
pub async fn train(store: &Store, sample: usize) -> Result<Training> {
    let sample = sample.max(1);
    let ids: Vec<i64> = on_pool!(store, |pool| {
        sqlx::query_scalar::<_, i64>("SELECT id FROM resident ORDER BY id")
            .fetch_all(pool)
            .await
    })?;
    let n = ids.len() as f64;
    if ids.len() < 2 {
        return Err(StoreError::Invalid(format!(
            "too few residents to train on: {}",
            ids.len()
        )));
    }
    let all_pairs = n * (n - 1.0) / 2.0;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut random = Vec::with_capacity(sample);
    let wanted = (sample as f64).min(all_pairs) as usize;
    while random.len() < wanted {
        let i = (rng.next() % ids.len() as u64) as usize;
        let j = (rng.next() % ids.len() as u64) as usize;
        if i != j {
            random.push((ids[i.min(j)], ids[i.max(j)]));
        }
    }
    let random = patterns(store, &random).await?;

    let mut sessions = Vec::new();
    let mut blocked_pairs = 0u64;
    for (rule, blocked, on) in RULES {
        let from = format!("FROM resident a JOIN resident b ON {on} AND b.id > a.id");
        let count: i64 = on_pool!(store, |pool| {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) {from}")))
                .fetch_one(pool)
                .await
        })?;
        // A deterministic sample of about `sample` pairs: those whose hash falls under a
        // cutoff (the whole block when it is small enough).
        let cutoff = if count as f64 <= sample as f64 {
            SAMPLE_MOD
        } else {
            ((SAMPLE_MOD as f64) * sample as f64 / count as f64).ceil() as i64
        };
        let pairs: Vec<(i64, i64)> = on_pool!(store, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT a.id AS a_id, b.id AS b_id {from} \
                 WHERE (a.id * 7919 + b.id * 104729) % {SAMPLE_MOD} < {cutoff}"
            )))
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| Ok::<_, StoreError>((r.col("a_id")?, r.col("b_id")?)))
            .collect::<Result<Vec<_>>>()
        })?;
        let pairs = patterns(store, &pairs[..pairs.len().min(sample)]).await?;
        blocked_pairs += pairs.total();
        sessions.push(Session {
            rule: (*rule).to_owned(),
            blocked: blocked.to_vec(),
            pairs,
            share: count as f64 / all_pairs,
        });
    }
    let options = em::EmOptions {
        min_random_pairs: (wanted as u64).min(em::EmOptions::default().min_random_pairs),
        ..em::EmOptions::default()
    };
    let trained = em::train(&random, &sessions, &options)
        .map_err(|e| StoreError::Invalid(format!("training refused: {e}")))?;
    check_weights(&trained.weights, &trained.thresholds)?;
    Ok(Training {
        trained,
        residents: ids.len() as i64,
        blocked_pairs,
    })
}

/// Save trained weights: the matcher uses them from now on. Audited (`create` of a
/// `match_weights` row, with the prior and thresholds). Degenerate weights are refused.
pub async fn save_weights(store: &Store, training: &Training, by: &Who) -> Result<i64> {
    let t = &training.trained;
    check_weights(&t.weights, &t.thresholds)?;
    let mut tx = store.begin().await?;
    let json = weights_json(&t.weights);
    let id: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO match_weights (trained_at, trained_by, residents, random_pairs, \
             blocked_pairs, prior, review, link, weights) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(crate::now())
        .bind(by.user_id)
        .bind(training.residents)
        .bind(t.random_pairs as i64)
        .bind(training.blocked_pairs as i64)
        .bind(t.prior)
        .bind(t.thresholds.review)
        .bind(t.thresholds.link)
        .bind(&json)
        .fetch_one(&mut *conn)
        .await
    })?;
    let event = Event::new(by.clone(), Action::Create)
        .object("match_weights", id)
        .reason(&format!(
            "empi train: {} residents, {} random and {} blocked pairs; prior {:.3e}, review \
             {:.1}, link {:.1}",
            training.residents,
            t.random_pairs,
            training.blocked_pairs,
            t.prior,
            t.thresholds.review,
            t.thresholds.link
        ));
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(id)
}
