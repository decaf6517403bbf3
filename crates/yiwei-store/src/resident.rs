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
use crate::{Backend, Result, Row, Store, StoreError, Tx, on_pool, on_tx};

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

/// The highest serial in use in a village's record numbers (0 when none), with the
/// 12-digit prefix of the village's numbers; `None` for a division that is not a village.
/// One index range lookup on `resident_record_no`.
async fn last_serial(tx: &mut Tx<'_>, village: &DivisionCode) -> Result<Option<(String, u32)>> {
    if village.level() != Level::Village {
        return Ok(None);
    }
    let first = yiwei_domain::record_no::RecordNo::compose(village, 1)
        .map_err(|e| StoreError::Invalid(e.to_string()))?
        .to_string();
    let prefix = first[..12].to_owned();
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
    let serial = last.and_then(|r| r[12..].parse::<u32>().ok()).unwrap_or(0);
    Ok(Some((prefix, serial)))
}

/// The next free 17-digit record number of a village: the highest serial in use + 1.
async fn next_record_no(tx: &mut Tx<'_>, village: &DivisionCode) -> Result<Option<String>> {
    let Some((_, last)) = last_serial(tx, village).await? else {
        return Ok(None);
    };
    let no = yiwei_domain::record_no::RecordNo::compose(village, last + 1)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(Some(no.to_string()))
}

/// Add the name search keys of one resident in one multi-row INSERT (a name has a
/// handful of keys, far below any parameter limit).
async fn insert_name_keys(tx: &mut Tx<'_>, id: i64, name: &str) -> Result<()> {
    let keys = yiwei_domain::name::search_keys(name);
    if keys.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..keys.len())
        .map(|i| format!("(${}, $1)", i + 2))
        .collect();
    let insert = format!(
        "INSERT INTO resident_name_key (key, resident_id) VALUES {} ON CONFLICT DO NOTHING",
        values.join(", ")
    );
    on_tx!(tx, |conn| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(insert.as_str())).bind(id);
        for key in &keys {
            q = q.bind(key);
        }
        q.execute(&mut *conn).await.map(|_| ())
    })?;
    Ok(())
}

/// Replace the name search keys of one resident.
async fn write_name_keys(tx: &mut Tx<'_>, id: i64, name: &str) -> Result<()> {
    on_tx!(tx, |conn| {
        sqlx::query("DELETE FROM resident_name_key WHERE resident_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?;
    insert_name_keys(tx, id, name).await
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
    // A new id has no keys yet: no DELETE needed.
    insert_name_keys(tx, id, new.name.trim()).await?;
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

/// The most bound parameters one statement may carry: SQLite's `SQLITE_MAX_VARIABLE_NUMBER`
/// (32,766 by default since 3.32) and the 16-bit parameter count of PostgreSQL's wire
/// protocol (65,535).
pub(crate) fn max_params(store: &Store) -> usize {
    match store.backend() {
        Backend::Sqlite => 32_766,
        Backend::Postgres => 65_535,
    }
}

/// Bound parameters per row of the multi-row resident INSERT.
const RESIDENT_ROW_PARAMS: usize = 27;

/// One row of a bulk insert, checked, normalised, encrypted and hashed.
struct Prepared<'a> {
    new: &'a NewResident,
    household_id: Option<i64>,
    id_card_enc: Option<Vec<u8>>,
    id_card_hash: Option<Vec<u8>>,
    phone_enc: Option<Vec<u8>>,
    phone_hash: Option<Vec<u8>>,
    contact_phone_enc: Option<Vec<u8>>,
    record_no: Option<String>,
    payment: String,
    key_groups: String,
    profile: String,
}

/// The `VALUES` tuples of `rows` rows of `width` parameters each, bound in order.
///
/// SQLite gets anonymous `?` parameters, not `$n`: it takes `$n` for a *named* parameter,
/// and both its parser (looking each name up in a list) and sqlx's binding (one
/// `sqlite3_bind_parameter_name` list walk per parameter) are then quadratic in the number
/// of parameters; at 30,000 parameters a statement that took milliseconds took seconds.
/// PostgreSQL numbers its parameters and has no such cost.
pub(crate) fn values_list(backend: Backend, rows: usize, width: usize) -> String {
    let mut sql = String::with_capacity(rows * width * 8);
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

/// Ids returned by a multi-row `INSERT … RETURNING id`, in the order of the `VALUES` rows.
/// Neither SQLite nor PostgreSQL promises the order of RETURNING rows, but both assign ids
/// in the order the VALUES rows are inserted (SQLite: max(rowid) + 1 under the write lock;
/// PostgreSQL: one `nextval` per row, and a sequence only rises), so sorting restores it.
pub(crate) fn in_row_order(mut ids: Vec<i64>, expected: usize) -> Result<Vec<i64>> {
    if ids.len() != expected {
        return Err(StoreError::Other(format!(
            "a bulk insert of {expected} rows returned {} ids",
            ids.len()
        )));
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Insert `rows` (each with the household it joins) inside `tx` with multi-row INSERTs:
/// record numbers from one MAX per village, name keys in multi-row INSERTs. Returns the
/// ids in the order of `rows`. No audit entry: the caller writes it.
pub(crate) async fn insert_rows_in(
    tx: &mut Tx<'_>,
    store: &Store,
    rows: &[(&NewResident, Option<i64>)],
) -> Result<Vec<i64>> {
    use std::collections::HashMap;
    let keys = store.keys();
    let mut prepared = Vec::with_capacity(rows.len());
    // The highest serial each record-number prefix already has in this batch, so numbers
    // given explicitly and numbers assigned here never collide.
    let mut given: HashMap<String, u32> = HashMap::new();
    for (i, (new, household_id)) in rows.iter().enumerate() {
        validate(new).map_err(|e| match e {
            StoreError::Invalid(msg) => StoreError::Invalid(format!("row {}: {msg}", i + 1)),
            other => other,
        })?;
        let id_card = nonempty(new.id_card.as_deref(), Field::IdCard);
        let phone = nonempty(new.phone.as_deref(), Field::Phone);
        let contact_phone = nonempty(new.contact_phone.as_deref(), Field::Phone);
        let d = &new.details;
        if let Some(no) = &d.record_no
            && no.len() == 17
        {
            let serial = no[12..].parse::<u32>().unwrap_or(0);
            let max = given.entry(no[..12].to_owned()).or_insert(0);
            *max = (*max).max(serial);
        }
        prepared.push(Prepared {
            new,
            household_id: *household_id,
            id_card_enc: id_card.as_deref().map(|v| keys.encrypt(Field::IdCard, v)),
            id_card_hash: id_card
                .as_deref()
                .map(|v| keys.lookup_hash(Field::IdCard, v)),
            phone_enc: phone.as_deref().map(|v| keys.encrypt(Field::Phone, v)),
            phone_hash: phone.as_deref().map(|v| keys.lookup_hash(Field::Phone, v)),
            contact_phone_enc: contact_phone
                .as_deref()
                .map(|v| keys.encrypt(Field::Phone, v)),
            record_no: d.record_no.clone(),
            payment: d.payment.join(","),
            key_groups: d.key_groups.join(","),
            profile: if d.profile.is_null() {
                "{}".to_owned()
            } else {
                d.profile.to_string()
            },
        });
    }

    // Record numbers: one MAX per village of the batch, then count up in row order.
    let mut next_serial: HashMap<&str, u32> = HashMap::new();
    for p in prepared.iter_mut().filter(|p| p.record_no.is_none()) {
        let new: &NewResident = p.new;
        let village = &new.division;
        let last = match next_serial.get(village.as_str()) {
            Some(last) => *last,
            None => match last_serial(tx, village).await? {
                Some((prefix, last)) => last.max(given.get(&prefix).copied().unwrap_or(0)),
                None => continue,
            },
        };
        let serial = last + 1;
        next_serial.insert(village.as_str(), serial);
        let no = yiwei_domain::record_no::RecordNo::compose(village, serial)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        p.record_no = Some(no.to_string());
    }

    let now = crate::now();
    let backend = store.backend();
    let per_statement = max_params(store) / RESIDENT_ROW_PARAMS;
    let mut ids = Vec::with_capacity(prepared.len());
    for chunk in prepared.chunks(per_statement) {
        let sql = format!(
            "INSERT INTO resident (division_code, name, sex, birth_date, id_card_enc, id_card_hash, \
             phone_enc, phone_hash, created_at, updated_at, record_no, household_id, relation, address, \
             residence_type, ethnicity, blood_abo, blood_rh, education, occupation, marital, payment, \
             key_groups, no_id_reason, contact_name, contact_phone_enc, profile) VALUES {} RETURNING id",
            values_list(backend, chunk.len(), RESIDENT_ROW_PARAMS)
        );
        // Only the full-size statement is worth keeping prepared: the last, shorter one
        // differs from batch to batch and would fill the connection's statement cache
        // with programs of megabytes.
        let full = chunk.len() == per_statement;
        let returned: Vec<i64> = on_tx!(tx, |conn| {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())).persistent(full);
            for p in chunk {
                let (new, d) = (p.new, &p.new.details);
                q = q
                    .bind(new.division.as_str())
                    .bind(new.name.trim())
                    .bind(&new.sex)
                    .bind(new.birth_date)
                    .bind(p.id_card_enc.as_deref())
                    .bind(p.id_card_hash.as_deref())
                    .bind(p.phone_enc.as_deref())
                    .bind(p.phone_hash.as_deref())
                    .bind(now)
                    .bind(now)
                    .bind(p.record_no.as_deref())
                    .bind(p.household_id)
                    .bind(d.relation.as_deref())
                    .bind(&d.address)
                    .bind(d.residence_type.as_deref())
                    .bind(d.ethnicity.as_deref())
                    .bind(d.blood_abo.as_deref())
                    .bind(d.blood_rh.as_deref())
                    .bind(d.education.as_deref())
                    .bind(d.occupation.as_deref())
                    .bind(d.marital.as_deref())
                    .bind(&p.payment)
                    .bind(&p.key_groups)
                    .bind(d.no_id_reason.as_deref())
                    .bind(d.contact_name.as_deref())
                    .bind(p.contact_phone_enc.as_deref())
                    .bind(&p.profile);
            }
            q.fetch_all(&mut *conn).await
        })
        .map_err(conflict_names)?;
        ids.extend(in_row_order(returned, chunk.len())?);
    }

    // Name keys: every key of every name, in statements of as many pairs as fit.
    let mut pairs: Vec<(String, i64)> = Vec::with_capacity(prepared.len() * 6);
    for (p, id) in prepared.iter().zip(&ids) {
        for key in yiwei_domain::name::search_keys(p.new.name.trim()) {
            pairs.push((key, *id));
        }
    }
    let per_statement = max_params(store) / 2;
    for chunk in pairs.chunks(per_statement) {
        let sql = format!(
            "INSERT INTO resident_name_key (key, resident_id) VALUES {} ON CONFLICT DO NOTHING",
            values_list(backend, chunk.len(), 2)
        );
        let full = chunk.len() == per_statement;
        on_tx!(tx, |conn| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).persistent(full);
            for (key, id) in chunk {
                q = q.bind(key).bind(*id);
            }
            q.execute(&mut *conn).await.map(|_| ())
        })?;
    }
    Ok(ids)
}

/// The page cache of a bulk transaction on SQLite, in KiB. The pool's connections keep
/// SQLite's default (2 MiB) so that a server stays small; a batch of a few thousand
/// residents touches tens of thousands of index pages (hash-keyed indexes put every row
/// somewhere else), and with 2 MiB most are read twice and dirty pages spill to the WAL
/// before the commit. Measured loading 300,000 residents in batches of 5,000 (`yiwei
/// bench residents`, 2 cores): 28.7 s with the default cache, 24.7 s with 64 MiB, 25.0 s
/// with 256 MiB. The setting is put back before the commit, so the pool's connections
/// (and the figures of searches run after a load) keep the default.
const BULK_CACHE_KIB: i64 = 65_536;

/// On SQLite, widen the transaction's connection's page cache for a bulk write; returns
/// the setting to put back with [`restore_cache`] before the commit.
pub(crate) async fn widen_cache(tx: &mut Tx<'_>) -> Result<Option<i64>> {
    let Tx::Sqlite(t) = tx else {
        return Ok(None);
    };
    let conn: &mut sqlx::SqliteConnection = &mut *t;
    let previous: i64 = sqlx::query_scalar("PRAGMA cache_size")
        .fetch_one(&mut *conn)
        .await?;
    let set = format!("PRAGMA cache_size = -{BULK_CACHE_KIB}");
    sqlx::query(sqlx::AssertSqlSafe(set))
        .execute(&mut *conn)
        .await?;
    Ok(Some(previous))
}

/// Put back the page cache setting [`widen_cache`] replaced. If the batch fails before
/// this, the connection keeps the wider cache until the pool closes it.
pub(crate) async fn restore_cache(tx: &mut Tx<'_>, previous: Option<i64>) -> Result<()> {
    if let (Some(previous), Tx::Sqlite(t)) = (previous, tx) {
        let conn: &mut sqlx::SqliteConnection = &mut *t;
        let set = format!("PRAGMA cache_size = {previous}");
        sqlx::query(sqlx::AssertSqlSafe(set))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The one audit event of a bulk write: who loaded which id range.
fn batch_event(by: &Who, object_type: &str, ids: &[i64]) -> Event {
    let (first, last) = (ids.first().copied(), ids.last().copied());
    Event::new(by.clone(), Action::Create)
        .object(
            object_type,
            format!("{}-{}", first.unwrap_or(0), last.unwrap_or(0)),
        )
        .reason("bulk load")
}

/// Create many residents in ONE transaction, for generated or migrated data: multi-row
/// INSERTs within the backend's bound-parameter limit, record numbers from one MAX per
/// village of the batch (then counted up in row order, after any number the batch gives
/// explicitly), name keys in multi-row INSERTs, and ONE audit event for the batch
/// (`create`, object `resident_batch`, `object_id` the id range `first-last`, reason
/// `bulk load`). Returns the ids in the order of `batch`. What is stored per row is what
/// [`create`] stores; a batch of 1,000–5,000 rows is the intended size.
///
/// Why one event per batch is acceptable here: the audit log exists to answer who read or
/// changed whose record. Loading generated or migrated data reads nobody's record and
/// changes no existing one; what must be on record is who loaded which rows, and the
/// batch event says that (the actor and the id range; ids of one batch rise in row order.
/// On PostgreSQL a concurrent writer may take ids inside the range; its rows carry events
/// of their own). Every later read, reveal, change or merge of one of these residents
/// still gets one event per record through [`crate::access`]. Records typed in or imported
/// one by one for real people go through [`create`] or [`crate::empi::register`], which
/// also match against the master index; this function does not match.
///
/// All or nothing: an invalid row (its 1-based position is in the message), a duplicate
/// ID-card or record number, within the batch or against stored residents, fails the
/// whole batch and writes nothing.
pub async fn insert_batch(store: &Store, batch: &[NewResident], by: &Who) -> Result<Vec<i64>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(&NewResident, Option<i64>)> = batch
        .iter()
        .map(|new| (new, new.details.household_id))
        .collect();
    let mut tx = store.begin().await?;
    let cache = widen_cache(&mut tx).await?;
    let ids = insert_rows_in(&mut tx, store, &rows).await?;
    let event = batch_event(by, "resident_batch", &ids);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    restore_cache(&mut tx, cache).await?;
    tx.commit().await?;
    Ok(ids)
}

/// A household (户) to create with its members.
#[derive(Clone, Debug)]
pub struct NewHousehold {
    pub division: DivisionCode,
    pub address: String,
    /// The members, householder first (give them relation `02`); each one's
    /// `details.household_id` is set to the new household when stored.
    pub members: Vec<NewResident>,
}

/// A stored household: its id and its members' ids, householder first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HouseholdIds {
    pub id: i64,
    pub members: Vec<i64>,
}

fn check_household(h: &NewHousehold) -> Result<()> {
    if h.members.is_empty() {
        return Err(StoreError::Invalid(
            "a household needs at least its householder".into(),
        ));
    }
    Ok(())
}

/// Point each household at its householder, in one statement per chunk.
async fn set_heads(tx: &mut Tx<'_>, store: &Store, heads: &[(i64, i64)]) -> Result<()> {
    for chunk in heads.chunks(max_params(store) / 2) {
        // Both backends name the columns of a bare VALUES list column1, column2.
        let sql = format!(
            "UPDATE household SET head_resident_id = v.column2 FROM (VALUES {}) AS v \
             WHERE household.id = v.column1",
            values_list(store.backend(), chunk.len(), 2)
        );
        on_tx!(tx, |conn| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).persistent(false);
            for (household, head) in chunk {
                q = q.bind(*household).bind(*head);
            }
            q.execute(&mut *conn).await.map(|_| ())
        })?;
    }
    Ok(())
}

/// Create one household and its members in one transaction, each member audited as a
/// `create` of its own (as [`create`] does) and the household as a `create` of object
/// `household`. For records entered one household at a time.
pub async fn create_household(
    store: &Store,
    household: &NewHousehold,
    by: &Who,
) -> Result<HouseholdIds> {
    check_household(household)?;
    let now = crate::now();
    let mut tx = store.begin().await?;
    let id: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO household (division_code, address, created_at, updated_at) \
             VALUES ($1, $2, $3, $3) RETURNING id",
        )
        .bind(household.division.as_str())
        .bind(&household.address)
        .bind(now)
        .fetch_one(&mut *conn)
        .await
    })?;
    let key = store.keys().audit_key();
    audit::append_in(
        &mut tx,
        key,
        &Event::new(by.clone(), Action::Create).object("household", id),
    )
    .await?;
    let mut members = Vec::with_capacity(household.members.len());
    for member in &household.members {
        let mut new = member.clone();
        new.details.household_id = Some(id);
        let rid = insert_in(&mut tx, store, &new).await?;
        let event = Event::new(by.clone(), Action::Create)
            .object("resident", rid)
            .resident(rid);
        audit::append_in(&mut tx, key, &event).await?;
        members.push(rid);
    }
    set_heads(&mut tx, store, &[(id, members[0])]).await?;
    tx.commit().await?;
    Ok(HouseholdIds { id, members })
}

/// Create many households with their members in ONE transaction: the bulk path of
/// [`create_household`], built like [`insert_batch`] (multi-row INSERTs, one MAX per
/// village for record numbers) and audited the same way, with one `resident_batch` event
/// for the members and one `household_batch` event for the households, each with its id
/// range and the reason `bulk load` (see [`insert_batch`] for why that is acceptable for
/// generated or migrated data). All or nothing.
pub async fn insert_household_batch(
    store: &Store,
    households: &[NewHousehold],
    by: &Who,
) -> Result<Vec<HouseholdIds>> {
    if households.is_empty() {
        return Ok(Vec::new());
    }
    for h in households {
        check_household(h)?;
    }
    let now = crate::now();
    let mut tx = store.begin().await?;
    let cache = widen_cache(&mut tx).await?;
    let mut household_ids = Vec::with_capacity(households.len());
    for chunk in households.chunks(max_params(store) / 4) {
        let sql = format!(
            "INSERT INTO household (division_code, address, created_at, updated_at) VALUES {} \
             RETURNING id",
            values_list(store.backend(), chunk.len(), 4)
        );
        let returned: Vec<i64> = on_tx!(&mut tx, |conn| {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())).persistent(false);
            for h in chunk {
                q = q
                    .bind(h.division.as_str())
                    .bind(&h.address)
                    .bind(now)
                    .bind(now);
            }
            q.fetch_all(&mut *conn).await
        })?;
        household_ids.extend(in_row_order(returned, chunk.len())?);
    }
    let rows: Vec<(&NewResident, Option<i64>)> = households
        .iter()
        .zip(&household_ids)
        .flat_map(|(h, id)| h.members.iter().map(move |m| (m, Some(*id))))
        .collect();
    let member_ids = insert_rows_in(&mut tx, store, &rows).await?;
    let mut out = Vec::with_capacity(households.len());
    let mut rest = member_ids.as_slice();
    for (h, id) in households.iter().zip(&household_ids) {
        let (mine, after) = rest.split_at(h.members.len());
        out.push(HouseholdIds {
            id: *id,
            members: mine.to_vec(),
        });
        rest = after;
    }
    let heads: Vec<(i64, i64)> = out.iter().map(|h| (h.id, h.members[0])).collect();
    set_heads(&mut tx, store, &heads).await?;
    let key = store.keys().audit_key();
    audit::append_in(
        &mut tx,
        key,
        &batch_event(by, "household_batch", &household_ids),
    )
    .await?;
    audit::append_in(
        &mut tx,
        key,
        &batch_event(by, "resident_batch", &member_ids),
    )
    .await?;
    restore_cache(&mut tx, cache).await?;
    tx.commit().await?;
    Ok(out)
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

/// A name query is matched on at most this many of its keys.
const MAX_NAME_KEYS: usize = 16;

/// `(k.key >= $first AND k.key < $first+1) OR …` for `n` prefix ranges.
fn key_ranges(n: usize, first: usize) -> String {
    (0..n)
        .map(|i| {
            let p = first + 2 * i;
            format!("(k.key >= ${p} AND k.key < ${})", p + 1)
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// Name keys are counted up to this many to choose a plan: enough for every threshold of
/// [`name_plan`], and at most a few milliseconds of covering-index scan.
const KEY_COUNT_CAP: i64 = 10_001;

/// How to run a name search on SQLite: `(list, count)`, `true` where the query should walk
/// the reach's `resident_division` index and test each resident against the matching keys
/// (written `+r.id IN (…)`, which keeps SQLite from driving the query by `r.id`), `false`
/// where it should look up the residents of the matching keys one by one (SQLite's own
/// choice without statistics).
///
/// Looking up is cheap when few keys match, and its cost grows with the matches in the
/// whole county, even those outside the reach: the list then fetches and sorts every
/// matching row before the first page. Walking the reach's index costs the size of the
/// reach, but lists rows already in `ORDER BY` order and stops at the page, which wins as
/// soon as matches are frequent. Measured at 1,000,000 residents on a 2-core machine
/// (`yiwei bench residents`), initials such as `wm` (11,000 keys in the county, 1,000 in
/// a township) took 90 ms to list by lookup and 6 ms by walking; the thresholds below are
/// set from such figures, with reach sizes of about 3,000 for a village, 100,000 for a
/// township and a million for a county. Both plans give the same rows.
async fn name_plan(
    store: &Store,
    root: &DivisionCode,
    key_binds: &[String],
) -> Result<(bool, bool)> {
    let (list_from, count_from) = match root.level() {
        Level::Village => (100, 300),
        Level::Township => (1_000, 8_000),
        _ => (1_000, i64::MAX),
    };
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM resident_name_key k WHERE {} LIMIT {KEY_COUNT_CAP})",
        key_ranges(key_binds.len() / 2, 1)
    );
    let keys: i64 = on_pool!(store, |pool| {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()));
        for b in key_binds {
            q = q.bind(b.as_str());
        }
        q.fetch_one(pool).await
    })?;
    Ok((keys >= list_from, keys >= count_from))
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
            let mut binds = Vec::new();
            for key in name_keys.iter().take(MAX_NAME_KEYS) {
                binds.push(key.as_bytes().to_vec());
                binds.push(format!("{key}\u{10FFFF}").into_bytes());
            }
            (
                format!(
                    "r.id IN (SELECT k.resident_id FROM resident_name_key k WHERE {})",
                    key_ranges(binds.len() / 2, 3)
                ),
                binds,
            )
        }
    };
    let text_binds = !matches!(query, Query::IdCard(_) | Query::Phone(_));
    // The plan of a name search on SQLite (see `name_plan`); other searches and PostgreSQL,
    // whose planner keeps statistics, take the query as written.
    let (list_fragment, count_fragment) = match query {
        Query::Name(_) if store.backend() == Backend::Sqlite => {
            let texts: Vec<String> = binds
                .iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect();
            let (by_reach_list, by_reach_count) = name_plan(store, root, &texts).await?;
            let plus = |yes: bool| {
                if yes {
                    format!("+{fragment}")
                } else {
                    fragment.clone()
                }
            };
            (plus(by_reach_list), plus(by_reach_count))
        }
        _ => (fragment.clone(), fragment),
    };
    let n = 3 + binds.len();
    let list_sql = format!(
        "SELECT {COLUMNS} FROM resident r WHERE r.division_code >= $1 AND r.division_code < $2 \
         AND r.merged_into IS NULL AND {list_fragment} ORDER BY r.division_code, r.id LIMIT ${n} OFFSET ${}",
        n + 1
    );
    let count_sql = format!(
        "SELECT COUNT(*) FROM resident r WHERE r.division_code >= $1 AND r.division_code < $2 \
         AND r.merged_into IS NULL AND {count_fragment}"
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
