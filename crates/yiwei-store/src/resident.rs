//! The core of a resident (居民): who they are and which village they belong to.
//!
//! The residents issue widens this into the full WS 365 个人基本信息表 with the master
//! patient index; the foundation keeps only what the access rules, the audit log and the
//! field encryption need. Functions here do no access checks: callers outside this crate
//! go through [`crate::access`], which checks and audits, and this module's readers are
//! `pub(crate)` for that reason.

use chrono::{DateTime, NaiveDate, Utc};
use yiwei_domain::access::RecordScope;
use yiwei_domain::division::DivisionCode;

use crate::audit::{self, Action, Event, Who};
use crate::crypto::Field;
use crate::{Result, Row, Store, StoreError, on_pool, on_tx};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resident {
    pub id: i64,
    pub division: DivisionCode,
    pub name: String,
    /// `male`, `female` or `unknown` (GB/T 2261.1 codes 1, 2, 0).
    pub sex: String,
    pub birth_date: Option<NaiveDate>,
    pub has_id_card: bool,
    pub has_phone: bool,
    /// The ID-card number masked for display (`451226********1234`); filled when one
    /// record is opened, `None` in lists.
    pub id_card_masked: Option<String>,
    /// The phone number masked for display (`138****5678`); as above.
    pub phone_masked: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct NewResident {
    pub division: DivisionCode,
    pub name: String,
    pub sex: String,
    pub birth_date: Option<NaiveDate>,
    pub id_card: Option<String>,
    pub phone: Option<String>,
}

const COLUMNS: &str = "id, division_code, name, sex, birth_date, id_card_hash IS NOT NULL AS has_id_card, \
    phone_hash IS NOT NULL AS has_phone, created_at";

fn resident(row: &impl Row) -> Result<Resident> {
    let division: String = row.col("division_code")?;
    Ok(Resident {
        id: row.col("id")?,
        division: DivisionCode::parse(&division)
            .map_err(|_| StoreError::Other("stored resident has a bad division".into()))?,
        name: row.col("name")?,
        sex: row.col("sex")?,
        birth_date: row.col("birth_date")?,
        has_id_card: row.col("has_id_card")?,
        has_phone: row.col("has_phone")?,
        id_card_masked: None,
        phone_masked: None,
        created_at: row.col("created_at")?,
    })
}

/// Create a resident, audited as `create` by `by`. A duplicate ID-card number is a
/// conflict; the stored number is encrypted and only its keyed hash is indexed.
pub async fn create(store: &Store, new: &NewResident, by: &Who) -> Result<i64> {
    if new.name.trim().is_empty() {
        return Err(StoreError::Invalid("a resident needs a name".into()));
    }
    if !matches!(new.sex.as_str(), "male" | "female" | "unknown") {
        return Err(StoreError::Invalid("sex is male, female or unknown".into()));
    }
    let keys = store.keys();
    let id_card = new
        .id_card
        .as_deref()
        .map(|v| Field::IdCard.normalise(v))
        .filter(|v| !v.is_empty());
    let phone = new
        .phone
        .as_deref()
        .map(|v| Field::Phone.normalise(v))
        .filter(|v| !v.is_empty());
    let now = crate::now();
    let mut tx = store.begin().await?;
    let id: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO resident (division_code, name, sex, birth_date, id_card_enc, id_card_hash, \
             phone_enc, phone_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
        )
        .bind(new.division.as_str())
        .bind(new.name.trim())
        .bind(&new.sex)
        .bind(new.birth_date)
        .bind(id_card.as_deref().map(|v| keys.encrypt(Field::IdCard, v)))
        .bind(id_card.as_deref().map(|v| keys.lookup_hash(Field::IdCard, v)))
        .bind(phone.as_deref().map(|v| keys.encrypt(Field::Phone, v)))
        .bind(phone.as_deref().map(|v| keys.lookup_hash(Field::Phone, v)))
        .bind(now)
        .fetch_one(&mut *conn)
        .await
    })
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict { constraint } if constraint.contains("id_card") => StoreError::Conflict {
            constraint: "resident_id_card_hash".into(),
        },
        other => other,
    })?;
    let event = Event::new(by.clone(), Action::Create)
        .object("resident", id)
        .resident(id);
    audit::append_in(&mut tx, keys.audit_key(), &event).await?;
    tx.commit().await?;
    Ok(id)
}

/// The scope of a record (its village), which access decisions need. Carries no personal
/// data, so it needs no check itself.
pub async fn scope(store: &Store, id: i64) -> Result<RecordScope> {
    let division: String = on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT division_code FROM resident WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await
    })?
    .ok_or(StoreError::NotFound("resident"))?;
    Ok(RecordScope {
        resident_id: id,
        division: DivisionCode::parse(&division)
            .map_err(|_| StoreError::Other("stored resident has a bad division".into()))?,
    })
}

/// One record, with its identifiers masked for display (decrypted here, never returned
/// in full; the full values come only from an audited reveal).
pub(crate) async fn get(store: &Store, id: i64) -> Result<Resident> {
    let sql = format!("SELECT {COLUMNS} FROM resident WHERE id = $1");
    let mut r = on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("resident"))?;
        resident(&row)
    })?;
    r.id_card_masked = secret(store, id, Field::IdCard)
        .await?
        .map(|v| yiwei_domain::mask::id_card(&v));
    r.phone_masked = secret(store, id, Field::Phone)
        .await?
        .map(|v| yiwei_domain::mask::phone(&v));
    Ok(r)
}

pub(crate) async fn list_within(
    store: &Store,
    root: &DivisionCode,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Resident>, i64)> {
    let (low, high) = root.subtree_range();
    let sql = format!(
        "SELECT {COLUMNS} FROM resident WHERE division_code >= $1 AND division_code < $2 \
         ORDER BY division_code, id LIMIT $3 OFFSET $4"
    );
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&low)
            .bind(&high)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM resident WHERE division_code >= $1 AND division_code < $2",
        )
        .bind(&low)
        .bind(&high)
        .fetch_one(pool)
        .await?;
        Ok((
            rows.iter().map(resident).collect::<Result<Vec<_>>>()?,
            total,
        ))
    })
}

/// The decrypted value of an encrypted field, if set.
pub(crate) async fn secret(store: &Store, id: i64, field: Field) -> Result<Option<String>> {
    let sql = match field {
        Field::IdCard => "SELECT id_card_enc FROM resident WHERE id = $1",
        Field::Phone => "SELECT phone_enc FROM resident WHERE id = $1",
    };
    let blob: Option<Vec<u8>> = on_pool!(store, |pool| {
        sqlx::query_scalar(sql).bind(id).fetch_optional(pool).await
    })?
    .ok_or(StoreError::NotFound("resident"))?;
    blob.map(|b| store.keys().decrypt(field, &b)).transpose()
}

/// The resident holding this ID-card number, through the keyed hash (no decryption).
pub(crate) async fn id_by_id_card(store: &Store, id_card: &str) -> Result<Option<i64>> {
    let hash = store.keys().lookup_hash(Field::IdCard, id_card);
    on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT id FROM resident WHERE id_card_hash = $1")
            .bind(hash)
            .fetch_optional(pool)
            .await
    })
    .map_err(Into::into)
}

/// Residents per direct child division of `root`: an aggregate, no personal data.
pub async fn count_by_child(store: &Store, root: &DivisionCode) -> Result<Vec<(String, i64)>> {
    let Some(child_level) = root.level().child() else {
        let (low, high) = root.subtree_range();
        let n: i64 = on_pool!(store, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM resident WHERE division_code >= $1 AND division_code < $2",
            )
            .bind(&low)
            .bind(&high)
            .fetch_one(pool)
            .await
        })?;
        return Ok(vec![(root.as_str().to_owned(), n)]);
    };
    let digits = child_level.digits() as i64;
    let (low, high) = root.subtree_range();
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT substr(division_code, 1, CAST($1 AS INTEGER)) AS child, COUNT(*) AS n FROM resident \
             WHERE division_code >= $2 AND division_code < $3 GROUP BY child ORDER BY child",
        )
        .bind(digits)
        .bind(&low)
        .bind(&high)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.col("child")?, r.col("n")?)))
            .collect()
    })
}
