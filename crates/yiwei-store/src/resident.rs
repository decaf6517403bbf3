//! Residents (居民) and their basic-information record (个人基本信息表, WS 365-2011).
//!
//! One row per person, keyed by the village (`division_code`) every access decision uses.
//! Identity and phone numbers are encrypted with a keyed lookup hash ([`crate::crypto`]);
//! names are indexed by every search key of `yiwei_domain::name` (hanzi, all pinyin
//! readings, initials) in `resident_name_key`. A record merged into another by the master
//! patient index keeps its row with `merged_into` set and disappears from lists and
//! searches ([`crate::empi`]).
//!
//! Functions here do no access checks: callers outside this crate go through
//! [`crate::access`], which checks and audits; the readers are `pub(crate)` for that reason.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use yiwei_domain::access::RecordScope;
use yiwei_domain::division::{DivisionCode, Level};

use crate::audit::{self, Action, Event, Who};
use crate::crypto::Field;
use crate::{Result, Row, Store, StoreError, Tx, on_pool, on_tx};

/// The WS 365 data beyond identity: codes are the standard's (see `yiwei_domain::ws365`);
/// `profile` holds the list-shaped groups (allergies, exposures, history, family history,
/// disability, living conditions, work unit) as a JSON object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Details {
    /// 17-digit 健康档案编号; assigned on create when absent and the record has a village.
    pub record_no: Option<String>,
    pub household_id: Option<i64>,
    /// Relation to the householder (GB/T 4761 code).
    pub relation: Option<String>,
    pub address: String,
    /// 常住类型: `1` 户籍, `2` 非户籍.
    pub residence_type: Option<String>,
    pub ethnicity: Option<String>,
    pub blood_abo: Option<String>,
    pub blood_rh: Option<String>,
    pub education: Option<String>,
    pub occupation: Option<String>,
    pub marital: Option<String>,
    /// 医疗费用支付方式 codes (several may apply).
    pub payment: Vec<String>,
    /// 重点人群 codes, derived by `yiwei_domain::key_group` and stored for lists.
    pub key_groups: Vec<String>,
    /// Why there is no ID-card number (newborn, elderly without a card, …).
    pub no_id_reason: Option<String>,
    pub contact_name: Option<String>,
    pub profile: Value,
}

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
    /// The contact person's phone, masked; as above.
    pub contact_phone_masked: Option<String>,
    pub details: Details,
    /// Set when the master patient index merged this record into another.
    pub merged_into: Option<i64>,
    /// Optimistic-concurrency version, raised by every update (the FHIR `versionId`).
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct NewResident {
    pub division: DivisionCode,
    pub name: String,
    pub sex: String,
    pub birth_date: Option<NaiveDate>,
    pub id_card: Option<String>,
    pub phone: Option<String>,
    pub contact_phone: Option<String>,
    pub details: Details,
}

const COLUMNS: &str = "id, division_code, name, sex, birth_date, id_card_hash IS NOT NULL AS has_id_card, \
    phone_hash IS NOT NULL AS has_phone, created_at, updated_at, record_no, household_id, relation, \
    address, residence_type, ethnicity, blood_abo, blood_rh, education, occupation, marital, payment, \
    key_groups, no_id_reason, contact_name, profile, merged_into, version";

fn split_codes(text: String) -> Vec<String> {
    text.split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

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
        contact_phone_masked: None,
        details: Details {
            record_no: row.col("record_no")?,
            household_id: row.col("household_id")?,
            relation: row.col("relation")?,
            address: row.col("address")?,
            residence_type: row.col("residence_type")?,
            ethnicity: row.col("ethnicity")?,
            blood_abo: row.col("blood_abo")?,
            blood_rh: row.col("blood_rh")?,
            education: row.col("education")?,
            occupation: row.col("occupation")?,
            marital: row.col("marital")?,
            payment: split_codes(row.col("payment")?),
            key_groups: split_codes(row.col("key_groups")?),
            no_id_reason: row.col("no_id_reason")?,
            contact_name: row.col("contact_name")?,
            profile: serde_json::from_str(&row.col::<String>("profile")?).unwrap_or(Value::Null),
        },
        merged_into: row.col("merged_into")?,
        version: row.col("version")?,
        created_at: row.col("created_at")?,
        updated_at: row.col("updated_at")?,
    })
}

fn validate(new: &NewResident) -> Result<()> {
    if new.name.trim().is_empty() {
        return Err(StoreError::Invalid("a resident needs a name".into()));
    }
    if !matches!(new.sex.as_str(), "male" | "female" | "unknown") {
        return Err(StoreError::Invalid("sex is male, female or unknown".into()));
    }
    if !new.details.profile.is_object() && !new.details.profile.is_null() {
        return Err(StoreError::Invalid("profile must be a JSON object".into()));
    }
    Ok(())
}

fn nonempty(value: Option<&str>, field: Field) -> Option<String> {
    value.map(|v| field.normalise(v)).filter(|v| !v.is_empty())
}

fn conflict_names(e: sqlx::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Conflict { constraint } if constraint.contains("id_card") => {
            StoreError::Conflict {
                constraint: "resident_id_card_hash".into(),
            }
        }
        StoreError::Conflict { constraint } if constraint.contains("record_no") => {
            StoreError::Conflict {
                constraint: "resident_record_no".into(),
            }
        }
        other => other,
    }
}

/// The next free 17-digit record number of a village: the highest serial in use + 1.
async fn next_record_no(tx: &mut Tx<'_>, village: &DivisionCode) -> Result<Option<String>> {
    if village.level() != Level::Village {
        return Ok(None);
    }
    let first = yiwei_domain::record_no::RecordNo::compose(village, 1)
        .map_err(|e| StoreError::Invalid(e.to_string()))?
        .to_string();
    let prefix = &first[..12];
    let (low, high) = (format!("{prefix}00000"), format!("{prefix}99999"));
    let last: Option<String> = on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "SELECT MAX(record_no) FROM resident WHERE record_no >= $1 AND record_no <= $2",
        )
        .bind(&low)
        .bind(&high)
        .fetch_one(&mut *conn)
        .await
    })?;
    let serial = last.and_then(|r| r[12..].parse::<u32>().ok()).unwrap_or(0) + 1;
    let no = yiwei_domain::record_no::RecordNo::compose(village, serial)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(Some(no.to_string()))
}

/// Replace the name search keys of one resident.
async fn write_name_keys(tx: &mut Tx<'_>, id: i64, name: &str) -> Result<()> {
    let keys = yiwei_domain::name::search_keys(name);
    on_tx!(tx, |conn| {
        sqlx::query("DELETE FROM resident_name_key WHERE resident_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        for key in &keys {
            sqlx::query("INSERT INTO resident_name_key (key, resident_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(key)
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        Ok::<_, StoreError>(())
    })
}

/// Create a resident inside `tx` (no audit entry: the caller writes it with the change).
pub(crate) async fn insert_in(tx: &mut Tx<'_>, store: &Store, new: &NewResident) -> Result<i64> {
    validate(new)?;
    let keys = store.keys();
    let id_card = nonempty(new.id_card.as_deref(), Field::IdCard);
    let phone = nonempty(new.phone.as_deref(), Field::Phone);
    let contact_phone = nonempty(new.contact_phone.as_deref(), Field::Phone);
    let d = &new.details;
    let record_no = match &d.record_no {
        Some(no) => Some(no.clone()),
        None => next_record_no(tx, &new.division).await?,
    };
    let profile = if d.profile.is_null() {
        "{}".to_owned()
    } else {
        d.profile.to_string()
    };
    let now = crate::now();
    let id: i64 = on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO resident (division_code, name, sex, birth_date, id_card_enc, id_card_hash, \
             phone_enc, phone_hash, created_at, updated_at, record_no, household_id, relation, address, \
             residence_type, ethnicity, blood_abo, blood_rh, education, occupation, marital, payment, \
             key_groups, no_id_reason, contact_name, contact_phone_enc, profile) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
             $19, $20, $21, $22, $23, $24, $25, $26) RETURNING id",
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
        .bind(record_no.as_deref())
        .bind(d.household_id)
        .bind(d.relation.as_deref())
        .bind(&d.address)
        .bind(d.residence_type.as_deref())
        .bind(d.ethnicity.as_deref())
        .bind(d.blood_abo.as_deref())
        .bind(d.blood_rh.as_deref())
        .bind(d.education.as_deref())
        .bind(d.occupation.as_deref())
        .bind(d.marital.as_deref())
        .bind(d.payment.join(","))
        .bind(d.key_groups.join(","))
        .bind(d.no_id_reason.as_deref())
        .bind(d.contact_name.as_deref())
        .bind(contact_phone.as_deref().map(|v| keys.encrypt(Field::Phone, v)))
        .bind(&profile)
        .fetch_one(&mut *conn)
        .await
    })
    .map_err(conflict_names)?;
    write_name_keys(tx, id, new.name.trim()).await?;
    Ok(id)
}

/// Create a resident, audited as `create` by `by`. A duplicate ID-card number is a
/// conflict; the stored number is encrypted and only its keyed hash is indexed. This
/// does not match against existing residents: [`crate::empi::register`] does.
pub async fn create(store: &Store, new: &NewResident, by: &Who) -> Result<i64> {
    let mut tx = store.begin().await?;
    let id = insert_in(&mut tx, store, new).await?;
    let event = Event::new(by.clone(), Action::Create)
        .object("resident", id)
        .resident(id);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(id)
}

/// Replace a resident's record if it is still at `expected_version`; audited as `update`.
/// Identity and phone numbers change only when given (`None` keeps the stored value).
pub async fn update(
    store: &Store,
    id: i64,
    expected_version: i64,
    new: &NewResident,
    by: &Who,
) -> Result<i64> {
    validate(new)?;
    let keys = store.keys();
    let id_card = nonempty(new.id_card.as_deref(), Field::IdCard);
    let phone = nonempty(new.phone.as_deref(), Field::Phone);
    let contact_phone = nonempty(new.contact_phone.as_deref(), Field::Phone);
    let d = &new.details;
    let profile = if d.profile.is_null() {
        "{}".to_owned()
    } else {
        d.profile.to_string()
    };
    let mut tx = store.begin().await?;
    let changed = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE resident SET division_code = $1, name = $2, sex = $3, birth_date = $4, \
             id_card_enc = COALESCE($5, id_card_enc), id_card_hash = COALESCE($6, id_card_hash), \
             phone_enc = COALESCE($7, phone_enc), phone_hash = COALESCE($8, phone_hash), updated_at = $9, \
             household_id = $10, relation = $11, address = $12, residence_type = $13, ethnicity = $14, \
             blood_abo = $15, blood_rh = $16, education = $17, occupation = $18, marital = $19, \
             payment = $20, key_groups = $21, no_id_reason = $22, contact_name = $23, \
             contact_phone_enc = COALESCE($24, contact_phone_enc), profile = $25, version = version + 1 \
             WHERE id = $26 AND version = $27 AND merged_into IS NULL",
        )
        .bind(new.division.as_str())
        .bind(new.name.trim())
        .bind(&new.sex)
        .bind(new.birth_date)
        .bind(id_card.as_deref().map(|v| keys.encrypt(Field::IdCard, v)))
        .bind(id_card.as_deref().map(|v| keys.lookup_hash(Field::IdCard, v)))
        .bind(phone.as_deref().map(|v| keys.encrypt(Field::Phone, v)))
        .bind(phone.as_deref().map(|v| keys.lookup_hash(Field::Phone, v)))
        .bind(crate::now())
        .bind(d.household_id)
        .bind(d.relation.as_deref())
        .bind(&d.address)
        .bind(d.residence_type.as_deref())
        .bind(d.ethnicity.as_deref())
        .bind(d.blood_abo.as_deref())
        .bind(d.blood_rh.as_deref())
        .bind(d.education.as_deref())
        .bind(d.occupation.as_deref())
        .bind(d.marital.as_deref())
        .bind(d.payment.join(","))
        .bind(d.key_groups.join(","))
        .bind(d.no_id_reason.as_deref())
        .bind(d.contact_name.as_deref())
        .bind(contact_phone.as_deref().map(|v| keys.encrypt(Field::Phone, v)))
        .bind(&profile)
        .bind(id)
        .bind(expected_version)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })
    .map_err(conflict_names)?;
    if changed == 0 {
        let exists: Option<i64> = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar("SELECT version FROM resident WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await
        })?;
        return Err(match exists {
            None => StoreError::NotFound("resident"),
            Some(v) => StoreError::Conflict {
                constraint: format!(
                    "version: the record changed (now version {v}, you edited version {expected_version}); reload and edit again"
                ),
            },
        });
    }
    write_name_keys(&mut tx, id, new.name.trim()).await?;
    let event = Event::new(by.clone(), Action::Update)
        .object("resident", id)
        .resident(id);
    audit::append_in(&mut tx, keys.audit_key(), &event).await?;
    tx.commit().await?;
    Ok(expected_version + 1)
}

/// Rebuild every name search key (after a restore, or when the name rules change).
pub async fn reindex_names(store: &Store) -> Result<u64> {
    let mut last = 0i64;
    let mut done = 0u64;
    loop {
        let batch: Vec<(i64, String)> = on_pool!(store, |pool| {
            let rows =
                sqlx::query("SELECT id, name FROM resident WHERE id > $1 ORDER BY id LIMIT 1000")
                    .bind(last)
                    .fetch_all(pool)
                    .await?;
            rows.iter()
                .map(|r| Ok((r.col("id")?, r.col("name")?)))
                .collect::<Result<Vec<_>>>()
        })?;
        let Some((max, _)) = batch.last() else { break };
        last = *max;
        let mut tx = store.begin().await?;
        for (id, name) in &batch {
            write_name_keys(&mut tx, *id, name).await?;
        }
        tx.commit().await?;
        done += batch.len() as u64;
    }
    Ok(done)
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
    let contact: Option<Vec<u8>> = on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT contact_phone_enc FROM resident WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
    })?;
    r.contact_phone_masked = contact
        .map(|b| store.keys().decrypt(Field::Phone, &b))
        .transpose()?
        .map(|v| yiwei_domain::mask::phone(&v));
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
         AND merged_into IS NULL \
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
            "SELECT COUNT(*) FROM resident WHERE division_code >= $1 AND division_code < $2 \
             AND merged_into IS NULL",
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
                "SELECT COUNT(*) FROM resident WHERE division_code >= $1 AND division_code < $2 \
             AND merged_into IS NULL",
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
             WHERE division_code >= $2 AND division_code < $3 AND merged_into IS NULL \
             GROUP BY child ORDER BY child",
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

/// What a search-box query asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// An 18- or 15-character identity number: exact, through the keyed hash.
    IdCard(String),
    /// A 17-digit health-record number: exact.
    RecordNo(String),
    /// A mobile number (11 digits starting with 1): exact, through the keyed hash.
    Phone(String),
    /// A 9- or 12-digit division code: everyone in it.
    Division(DivisionCode),
    /// Anything else: a name, in hanzi, pinyin or initials, matched as a prefix of any key.
    Name(Vec<String>),
}

/// Read a search-box query.
pub fn interpret(query: &str) -> Query {
    let q = query.trim();
    let digits = q.chars().all(|c| c.is_ascii_digit());
    let id_like =
        (q.len() == 18 && q[..17].chars().all(|c| c.is_ascii_digit())) || (q.len() == 15 && digits);
    if id_like {
        return Query::IdCard(q.to_owned());
    }
    if digits && q.len() == 17 {
        return Query::RecordNo(q.to_owned());
    }
    if digits && q.len() == 11 && q.starts_with('1') {
        return Query::Phone(q.to_owned());
    }
    if digits
        && (q.len() == 9 || q.len() == 12)
        && let Ok(code) = DivisionCode::parse(q)
    {
        return Query::Division(code);
    }
    Query::Name(yiwei_domain::name::query_keys(q))
}

/// Residents inside `root` matching `query`, with the total. Merged records never match.
pub(crate) async fn search(
    store: &Store,
    root: &DivisionCode,
    query: &Query,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Resident>, i64)> {
    let (low, high) = root.subtree_range();
    let keys = store.keys();
    // Each arm yields a WHERE fragment over `r` and its binds (after the two range binds).
    let (fragment, binds): (String, Vec<Vec<u8>>) = match query {
        Query::IdCard(v) => (
            "r.id_card_hash = $3".into(),
            vec![keys.lookup_hash(Field::IdCard, v)],
        ),
        Query::Phone(v) => (
            "r.phone_hash = $3".into(),
            vec![keys.lookup_hash(Field::Phone, v)],
        ),
        Query::RecordNo(v) => ("r.record_no = $3".into(), vec![v.as_bytes().to_vec()]),
        Query::Division(code) => {
            let (l, h) = code.subtree_range();
            (
                "r.division_code >= $3 AND r.division_code < $4".into(),
                vec![l.into_bytes(), h.into_bytes()],
            )
        }
        Query::Name(name_keys) => {
            if name_keys.is_empty() {
                return Ok((Vec::new(), 0));
            }
            let mut parts = Vec::new();
            let mut binds = Vec::new();
            for (i, key) in name_keys.iter().take(16).enumerate() {
                let n = 3 + 2 * i;
                parts.push(format!("(k.key >= ${n} AND k.key < ${})", n + 1));
                binds.push(key.as_bytes().to_vec());
                binds.push(format!("{key}\u{10FFFF}").into_bytes());
            }
            (
                format!(
                    "r.id IN (SELECT k.resident_id FROM resident_name_key k WHERE {})",
                    parts.join(" OR ")
                ),
                binds,
            )
        }
    };
    let text_binds = !matches!(query, Query::IdCard(_) | Query::Phone(_));
    let n = 3 + binds.len();
    let list_sql = format!(
        "SELECT {COLUMNS} FROM resident r WHERE r.division_code >= $1 AND r.division_code < $2 \
         AND r.merged_into IS NULL AND {fragment} ORDER BY r.division_code, r.id LIMIT ${n} OFFSET ${}",
        n + 1
    );
    let count_sql = format!(
        "SELECT COUNT(*) FROM resident r WHERE r.division_code >= $1 AND r.division_code < $2 \
         AND r.merged_into IS NULL AND {fragment}"
    );
    on_pool!(store, |pool| {
        let mut list = sqlx::query(sqlx::AssertSqlSafe(list_sql.as_str()))
            .bind(&low)
            .bind(&high);
        let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql.as_str()))
            .bind(&low)
            .bind(&high);
        for b in &binds {
            if text_binds {
                let text = String::from_utf8_lossy(b).into_owned();
                list = list.bind(text.clone());
                count = count.bind(text);
            } else {
                list = list.bind(b.clone());
                count = count.bind(b.clone());
            }
        }
        let rows = list.bind(limit).bind(offset).fetch_all(pool).await?;
        let total = count.fetch_one(pool).await?;
        Ok((
            rows.iter().map(resident).collect::<Result<Vec<_>>>()?,
            total,
        ))
    })
}
