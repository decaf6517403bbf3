//! Registering many records at once through the master patient index (主索引): the store
//! side of `yiwei import residents`.
//!
//! [`register_batch`] decides every row as [`crate::access::register_resident`] (and so
//! [`crate::empi::register`]) would if the rows were registered one after the other: the
//! same reach rule, the same blocking keys with the same limits, the same
//! `yiwei_domain::empi` score with the store's weights and thresholds ([`crate::empi::matcher`]:
//! the county's trained ones, else the defaults), and each row matched against the rows of the
//! batch before it as well as against the stored residents, so two rows of one file that
//! are one person link like a row and a stored record do. What differs is the cost. The
//! single-write path runs one transaction and 15–30 statements per row; here the blocking
//! keys of the whole batch are looked up with a few set-based queries (`IN (…)` over the
//! ID-card and phone hashes and the households, a `VALUES` list of name keys joined to
//! `resident_name_key`), each candidate is read and decrypted once, the scores are computed
//! in memory, and everything the batch writes goes in ONE transaction: the new residents
//! through the bulk path (`resident::insert_rows_in`, the path of `insert_batch`), their
//! review pairs in multi-row INSERTs, and one audit event per created or linked record,
//! chained in Rust and inserted in multi-row INSERTs (see [`append_events_in`]).
//!
//! The audit log therefore holds exactly what the single-write path writes: a `create`
//! event per new resident (reason `empi: N to review`) and a `read` event with basis
//! `empi_link` per row that is an existing resident, in row order, each committed with
//! the change it records. A batch is all or nothing: a failure rolls back every row of it.
//!
//! Matching runs inside the batch's write transaction (see [`plan_and_write`]), so no
//! record written by someone else can slip in between a batch's matching and its write.
//! When the batch write is refused for something one row caused (an ID card or record
//! number already taken, a row the store does not accept, a stored candidate that cannot
//! be decrypted), nothing of the batch is kept and its rows go through the single-write
//! path one by one, which reports the row and keeps the others. What this module does not
//! do: check the input (`yiwei_domain::person_input` does, in the caller).

use std::collections::HashMap;

use yiwei_domain::access::{Refusal, Role};
use yiwei_domain::empi::{self, Decision, Person};
use yiwei_domain::id_card::Sex;

use crate::access::{AccessError, Viewer};
use crate::audit::{Action, Event, Who, chain_hash};
use crate::crypto::Field;
use crate::empi::{Outcome, explain};
use crate::resident::{self, NewResident};
use crate::{Backend, Result, Row, Store, StoreError, Tx, on_tx};

/// The outcome of one row of a batch: as [`crate::access::register_resident`] answers.
pub type RowOutcome = std::result::Result<Outcome, AccessError>;

/// Bound parameters per statement, below SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_PARAMS: usize = 32_000;

/// The limits of the single-write path's blocking queries (`empi::candidate_ids`): phone,
/// each name key and the household give at most 20 candidates each, the first 8 pinyin
/// readings of the name are tried, and at most 50 candidates (the lowest ids) are scored.
/// Kept equal, so that both paths score the same candidates.
const PER_KEY: usize = 20;
const NAME_KEYS: usize = 8;
const MAX_CANDIDATES: usize = 50;

/// A candidate of a row: a stored resident, or a row of this batch created before it.
/// The derived order is the order of their ids: a row of the batch gets its id when the
/// batch is written, after (and so above) every stored resident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Candidate {
    Stored(i64),
    Batch(usize),
}

/// What matching needs of one row.
struct Probe<'a> {
    new: &'a NewResident,
    /// The row as matching sees a new record (`empi::person_of`).
    me: Person,
    /// The row as matching sees it once stored (`empi::stored_person` after the insert):
    /// what later rows of the batch compare against.
    as_stored: Person,
    /// Lookup hashes asked for (a non-blank value), as `empi::candidate_ids` does.
    id_hash: Option<Vec<u8>>,
    phone_hash: Option<Vec<u8>>,
    /// The lookup hashes the row is stored with (a value that is not empty once
    /// normalised), for later rows of the batch.
    id_hash_stored: bool,
    phone_hash_stored: bool,
    /// The first [`NAME_KEYS`] pinyin readings of the name.
    name_keys: Vec<String>,
}

/// What one row comes to.
enum Plan {
    Create {
        /// Candidates in the grey band, best first, with their scores.
        review: Vec<(Candidate, empi::Score)>,
    },
    Link {
        to: Candidate,
        score: empi::Score,
    },
}

fn sex_of(s: &str) -> Option<Sex> {
    match s {
        "male" => Some(Sex::Male),
        "female" => Some(Sex::Female),
        _ => None,
    }
}

fn normalised(value: Option<&str>, field: Field) -> Option<String> {
    value.map(|v| field.normalise(v)).filter(|v| !v.is_empty())
}

/// The matching view of a new record, as `empi::person_of` builds it.
fn person_of(new: &NewResident) -> Person {
    Person {
        name: new.name.clone(),
        sex: sex_of(&new.sex),
        birth_date: new.birth_date,
        id_card: normalised(new.id_card.as_deref(), Field::IdCard),
        phone: normalised(new.phone.as_deref(), Field::Phone),
        village: Some(new.division.as_str().to_owned()),
        household: new.details.household_id,
        address: Some(new.details.address.clone()).filter(|a| !a.is_empty()),
    }
}

/// The matching view of a record once stored, as `empi::stored_person` reads it back:
/// the name trimmed, the numbers as normalised and encrypted.
fn stored_view(new: &NewResident) -> Person {
    Person {
        name: new.name.trim().to_owned(),
        ..person_of(new)
    }
}

fn probe<'a>(store: &Store, new: &'a NewResident) -> Probe<'a> {
    let keys = store.keys();
    let hash = |value: Option<&str>, field: Field| {
        value
            .filter(|v| !v.trim().is_empty())
            .map(|v| keys.lookup_hash(field, v))
    };
    Probe {
        new,
        me: person_of(new),
        as_stored: stored_view(new),
        id_hash: hash(new.id_card.as_deref(), Field::IdCard),
        phone_hash: hash(new.phone.as_deref(), Field::Phone),
        id_hash_stored: normalised(new.id_card.as_deref(), Field::IdCard).is_some(),
        phone_hash_stored: normalised(new.phone.as_deref(), Field::Phone).is_some(),
        name_keys: yiwei_domain::name::pinyin_keys(&new.name)
            .into_iter()
            .take(NAME_KEYS)
            .collect(),
    }
}

/// The same checks as [`crate::access::register_resident`]: only roles that keep
/// personal records, and only inside their reach.
fn refusal(viewer: &Viewer<'_>, new: &NewResident) -> Option<Refusal> {
    let actor = viewer.user.actor();
    if actor.role == Role::Resident {
        Some(Refusal::NotOwnRecord)
    } else if !actor.role.reads_personal_records() {
        Some(Refusal::AggregateRole)
    } else if !actor.reach.contains(&new.division) {
        Some(Refusal::OutsideReach)
    } else {
        None
    }
}

/// What a batch came to.
#[derive(Debug)]
pub struct Registered {
    /// One answer per row, in the order of the rows.
    pub outcomes: Vec<RowOutcome>,
    /// The batch write was refused because of a row, so the rows went through the
    /// single-write path one by one (same answers, per-row speed).
    pub one_by_one: bool,
}

/// Register `rows` as one batch: each row is linked to the resident it is, or created
/// (with its grey-band candidates queued for review), or refused, and the answer for each
/// row is what [`crate::access::register_resident`] gives when the rows are registered
/// one by one in order. Audited as that path is, one event per created or linked row, in
/// the same transaction as the rows. A batch of a few thousand rows is the intended size.
///
/// `Err` means nothing of the batch was written and the import cannot go on (the database
/// failed); a row's own problem is that row's `Err`.
pub async fn register_batch(
    store: &Store,
    viewer: &Viewer<'_>,
    rows: &[NewResident],
) -> Result<Registered> {
    register(store, viewer, rows, None).await
}

/// The page cache of the write connection on SQLite for the whole of an import, in KiB.
/// It must hold a batch's dirty pages (a batch of 5,000 rows dirties tens of thousands of
/// index pages: the hash-keyed indexes and the name keys put every row on another page)
/// and the small indexes the name lookup seeks in (`resident_birth`, `resident_division`),
/// from one batch to the next. [`register_batch`] alone widens the cache for one batch and
/// puts it back, which drops every cached page before the next batch reads them again.
const SESSION_CACHE_KIB: i64 = 256 * 1024;

/// How much of the database file the import's write connection maps into memory on
/// SQLite (`PRAGMA mmap_size`; SQLite caps it at its compile-time maximum, just under
/// 2 GiB). Pages read through the map are not copied out of the kernel one `read` at a
/// time, which was a third of the import's time in a perf profile on a 1M county.
const SESSION_MMAP_BYTES: i64 = 2 * 1024 * 1024 * 1024;

/// An import run: on SQLite the write connection gets a wider page cache and a memory
/// map of the database file from [`Session::start`] until [`Session::finish`] puts the
/// connection's own settings back, so that the pages one batch reads and writes are still
/// cached for the next. Batches go through [`Session::register_batch`], which decides
/// exactly as [`register_batch`] does. On PostgreSQL a session changes nothing.
///
/// If an import stops without `finish` (the process ends, or the database failed), the
/// connection keeps the wider settings until the pool closes it; the server's pools are
/// the process's own, so this only matters to a caller that goes on using the store.
#[derive(Debug)]
pub struct Session {
    /// The write connection's `cache_size` and `mmap_size` before the session.
    previous: Option<(i64, i64)>,
}

impl Session {
    /// Widen the write connection's cache and map the database file (SQLite).
    pub async fn start(store: &Store) -> Result<Session> {
        let Some(writer) = store.writer.as_ref() else {
            return Ok(Session { previous: None });
        };
        let mut conn = writer.acquire().await?;
        let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
            .fetch_one(&mut *conn)
            .await?;
        let mmap: i64 = sqlx::query_scalar("PRAGMA mmap_size")
            .fetch_one(&mut *conn)
            .await?;
        for set in [
            format!("PRAGMA cache_size = -{SESSION_CACHE_KIB}"),
            format!("PRAGMA mmap_size = {SESSION_MMAP_BYTES}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(set))
                .execute(&mut *conn)
                .await?;
        }
        Ok(Session {
            previous: Some((cache, mmap)),
        })
    }

    /// [`register_batch`] within this session.
    pub async fn register_batch(
        &self,
        store: &Store,
        viewer: &Viewer<'_>,
        rows: &[NewResident],
    ) -> Result<Registered> {
        register(store, viewer, rows, Some(self)).await
    }

    /// Put the write connection's own cache and map settings back.
    pub async fn finish(self, store: &Store) -> Result<()> {
        let (Some((cache, mmap)), Some(writer)) = (self.previous, store.writer.as_ref()) else {
            return Ok(());
        };
        let mut conn = writer.acquire().await?;
        for set in [
            format!("PRAGMA cache_size = {cache}"),
            format!("PRAGMA mmap_size = {mmap}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(set))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

/// Inside a batch of a session: make sure the write connection still has the session's
/// page cache (the pool may have replaced the connection since the session started; the
/// memory map cannot be set safely inside a transaction and is left as it is then).
async fn keep_session_cache(tx: &mut Tx<'_>) -> Result<()> {
    let Tx::Sqlite(t) = tx else {
        return Ok(());
    };
    let conn: &mut sqlx::SqliteConnection = &mut *t;
    let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
        .fetch_one(&mut *conn)
        .await?;
    if cache != -SESSION_CACHE_KIB {
        let set = format!("PRAGMA cache_size = -{SESSION_CACHE_KIB}");
        sqlx::query(sqlx::AssertSqlSafe(set))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn register(
    store: &Store,
    viewer: &Viewer<'_>,
    rows: &[NewResident],
    session: Option<&Session>,
) -> Result<Registered> {
    let mut answers: Vec<Option<RowOutcome>> = rows
        .iter()
        .map(|new| refusal(viewer, new).map(|r| Err(r.into())))
        .collect();
    let allowed: Vec<usize> = (0..rows.len()).filter(|i| answers[*i].is_none()).collect();
    let probes: Vec<Probe<'_>> = allowed.iter().map(|i| probe(store, &rows[*i])).collect();
    let mut one_by_one = false;
    if !probes.is_empty() {
        let who = viewer.user.who();
        let written = plan_and_write(store, &probes, &who, session).await;
        let outcomes = match written {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(StoreError::Conflict { .. } | StoreError::Invalid(_) | StoreError::Crypto(_)) => {
                one_by_one = true;
                single_writes(store, viewer, &probes).await?
            }
            Err(e) => return Err(e),
        };
        for (i, outcome) in allowed.into_iter().zip(outcomes) {
            answers[i] = Some(outcome);
        }
    }
    Ok(Registered {
        outcomes: answers.into_iter().flatten().collect(),
        one_by_one,
    })
}

/// The single-write path, row after row: for a batch whose write was refused because of
/// one of its rows. A database failure stops it (the rows before are registered).
async fn single_writes(
    store: &Store,
    viewer: &Viewer<'_>,
    probes: &[Probe<'_>],
) -> Result<Vec<RowOutcome>> {
    let mut outcomes = Vec::with_capacity(probes.len());
    for p in probes {
        match crate::access::register_resident(store, viewer, p.new).await {
            Err(AccessError::Store(e @ StoreError::Unavailable(_))) => return Err(e),
            outcome => outcomes.push(outcome),
        }
    }
    Ok(outcomes)
}

/// The stored residents each blocking key of the batch finds, and their matching views.
#[derive(Default)]
struct Found {
    by_id_hash: HashMap<Vec<u8>, Vec<i64>>,
    by_phone_hash: HashMap<Vec<u8>, Vec<i64>>,
    /// (probe, name key number) → residents with that key and the probe's birth date or
    /// village.
    by_name_key: HashMap<(usize, usize), Vec<i64>>,
    by_household: HashMap<i64, Vec<i64>>,
    persons: HashMap<i64, Person>,
}

/// `?, ?, …` (SQLite) or `$k, $k+1, …` (PostgreSQL): `rows` tuples of `width`
/// parameters, numbered from `first`, each in parentheses when `width > 1`.
///
/// SQLite gets anonymous `?`: it reads `$n` as a named parameter and looks every name up
/// in a list, which is quadratic in the number of parameters (see `resident::values_list`).
fn params(backend: Backend, rows: usize, width: usize) -> String {
    let mut sql = String::with_capacity(rows * width * 7);
    let mut n = 0usize;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        if width > 1 {
            sql.push('(');
        }
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
        if width > 1 {
            sql.push(')');
        }
    }
    sql
}

/// Stored, unmerged residents whose `column` (a lookup hash) is one of `hashes`:
/// (hash, id) in id order within each hash.
async fn by_hash(
    tx: &mut Tx<'_>,
    store: &Store,
    column: &str,
    hashes: &[&[u8]],
) -> Result<HashMap<Vec<u8>, Vec<i64>>> {
    let mut found: HashMap<Vec<u8>, Vec<i64>> = HashMap::new();
    for chunk in hashes.chunks(MAX_PARAMS) {
        let sql = format!(
            "SELECT id, {column} AS h FROM resident WHERE merged_into IS NULL AND {column} IN ({})",
            params(store.backend(), chunk.len(), 1)
        );
        let rows: Vec<(Vec<u8>, i64)> = on_tx!(tx, |conn| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).persistent(false);
            for h in chunk {
                q = q.bind(*h);
            }
            q.fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| Ok::<_, StoreError>((r.col("h")?, r.col("id")?)))
                .collect::<Result<Vec<_>>>()
        })?;
        for (h, id) in rows {
            found.entry(h).or_default().push(id);
        }
    }
    for ids in found.values_mut() {
        ids.sort_unstable();
    }
    Ok(found)
}

/// Look up every blocking key of the batch against the stored residents, then read the
/// residents that can be candidates.
async fn lookup(tx: &mut Tx<'_>, store: &Store, probes: &[Probe<'_>]) -> Result<Found> {
    let mut found = Found::default();
    let mut id_hashes: Vec<&[u8]> = probes.iter().filter_map(|p| p.id_hash.as_deref()).collect();
    id_hashes.sort_unstable();
    id_hashes.dedup();
    found.by_id_hash = by_hash(tx, store, "id_card_hash", &id_hashes).await?;
    let mut phone_hashes: Vec<&[u8]> = probes
        .iter()
        .filter_map(|p| p.phone_hash.as_deref())
        .collect();
    phone_hashes.sort_unstable();
    phone_hashes.dedup();
    found.by_phone_hash = by_hash(tx, store, "phone_hash", &phone_hashes).await?;

    // Name keys with the probe's birth date or village, as one VALUES list per statement:
    // (probe, key number, key, birth date, village).
    let name_probes: Vec<(usize, usize, &str)> = probes
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            p.name_keys
                .iter()
                .enumerate()
                .map(move |(n, key)| (i, n, key.as_str()))
        })
        .collect();
    // On SQLite both arms are answered from indexes alone, without reading a resident
    // row: the birth-date arm walks `resident_birth` for the row's birth date (a few dozen
    // residents a day in a county of a million) and seeks each one's (key, id) in the
    // covering primary key of `resident_name_key`; the village arm walks the key's entries
    // and seeks each (village, id) in `resident_division`. Both indexes end in the rowid,
    // so these are exact seeks, and both are small enough to stay in the import's page
    // cache. Reading every resident that shares a pinyin key from the table instead (one
    // random page of a 2M-row table per candidate) was the largest part of the import's
    // time, measured with perf on a 1M county. CROSS JOIN fixes the join order; the two
    // arms may find the same resident, which the dedup below removes. Merged residents
    // are dropped after, from the (small) partial index of merged records, before any
    // per-key limit applies, so the answer is the single-write path's.
    let name_sql = match store.backend() {
        Backend::Sqlite => {
            "SELECT q.i AS i, q.n AS n, b.id AS id FROM q \
             CROSS JOIN resident b INDEXED BY resident_birth \
             CROSS JOIN resident_name_key k \
             WHERE b.birth_date = q.birth AND k.key = q.key AND k.resident_id = b.id \
             UNION ALL \
             SELECT q.i AS i, q.n AS n, k.resident_id AS id FROM q \
             CROSS JOIN resident_name_key k \
             CROSS JOIN resident d INDEXED BY resident_division \
             WHERE k.key = q.key AND d.division_code = q.village AND d.id = k.resident_id"
        }
        Backend::Postgres => {
            "SELECT q.i AS i, q.n AS n, r.id AS id FROM q \
             JOIN resident_name_key k ON k.key = q.key \
             JOIN resident r ON r.id = k.resident_id \
             WHERE r.merged_into IS NULL AND (r.birth_date = q.birth OR r.division_code = q.village)"
        }
    };
    let merged: std::collections::HashSet<i64> = match store.backend() {
        Backend::Sqlite => on_tx!(tx, |conn| {
            sqlx::query_scalar::<_, i64>(
                "SELECT id FROM resident INDEXED BY resident_merged_into WHERE merged_into IS NOT NULL",
            )
            .fetch_all(&mut *conn)
            .await
        })?
        .into_iter()
        .collect(),
        Backend::Postgres => Default::default(),
    };
    for chunk in name_probes.chunks(MAX_PARAMS / 5) {
        let sql = format!(
            "WITH q (i, n, key, birth, village) AS (VALUES {}) {name_sql}",
            params(store.backend(), chunk.len(), 5)
        );
        let rows: Vec<(i64, i64, i64)> = on_tx!(tx, |conn| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).persistent(false);
            for (i, n, key) in chunk {
                let new = probes[*i].new;
                q = q
                    .bind(*i as i64)
                    .bind(*n as i64)
                    .bind(*key)
                    .bind(new.birth_date)
                    .bind(new.division.as_str());
            }
            q.fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| Ok::<_, StoreError>((r.col("i")?, r.col("n")?, r.col("id")?)))
                .collect::<Result<Vec<_>>>()
        })?;
        for (i, n, id) in rows {
            if merged.contains(&id) {
                continue;
            }
            found
                .by_name_key
                .entry((i as usize, n as usize))
                .or_default()
                .push(id);
        }
    }
    for ids in found.by_name_key.values_mut() {
        ids.sort_unstable();
        ids.dedup();
    }

    let mut households: Vec<i64> = probes
        .iter()
        .filter_map(|p| p.new.details.household_id)
        .collect();
    households.sort_unstable();
    households.dedup();
    for chunk in households.chunks(MAX_PARAMS) {
        let sql = format!(
            "SELECT id, household_id FROM resident WHERE merged_into IS NULL AND household_id IN ({})",
            params(store.backend(), chunk.len(), 1)
        );
        let rows: Vec<(i64, i64)> = on_tx!(tx, |conn| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).persistent(false);
            for h in chunk {
                q = q.bind(*h);
            }
            q.fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| Ok::<_, StoreError>((r.col("household_id")?, r.col("id")?)))
                .collect::<Result<Vec<_>>>()
        })?;
        for (h, id) in rows {
            found.by_household.entry(h).or_default().push(id);
        }
    }
    for ids in found.by_household.values_mut() {
        ids.sort_unstable();
    }

    // Read each resident that is among some row's first 50 stored candidates, once.
    let mut wanted: Vec<i64> = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        let mut ids = stored_candidates(&found, i, p);
        ids.truncate(MAX_CANDIDATES);
        wanted.extend(ids);
    }
    wanted.sort_unstable();
    wanted.dedup();
    found.persons = read_persons(tx, store, &wanted).await?;
    Ok(found)
}

/// The stored candidates of probe `i` from its blocking keys, ascending and without
/// duplicates (before the cut to [`MAX_CANDIDATES`]).
fn stored_candidates(found: &Found, i: usize, p: &Probe<'_>) -> Vec<i64> {
    let mut ids: Vec<i64> = Vec::new();
    if let Some(found) = p.id_hash.as_ref().and_then(|h| found.by_id_hash.get(h)) {
        ids.extend(found);
    }
    if let Some(found) = p
        .phone_hash
        .as_ref()
        .and_then(|h| found.by_phone_hash.get(h))
    {
        ids.extend(found.iter().take(PER_KEY));
    }
    for n in 0..p.name_keys.len() {
        if let Some(found) = found.by_name_key.get(&(i, n)) {
            ids.extend(found.iter().take(PER_KEY));
        }
    }
    if let Some(found) = p
        .new
        .details
        .household_id
        .and_then(|h| found.by_household.get(&h))
    {
        ids.extend(found.iter().take(PER_KEY));
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The matching views of stored residents, their numbers decrypted (`empi::stored_person`).
async fn read_persons(tx: &mut Tx<'_>, store: &Store, ids: &[i64]) -> Result<HashMap<i64, Person>> {
    type Stored = (
        i64,
        String,
        String,
        Option<chrono::NaiveDate>,
        String,
        Option<i64>,
        String,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
    );
    let keys = store.keys();
    let mut persons = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(MAX_PARAMS) {
        let sql = format!(
            "SELECT id, name, sex, birth_date, division_code, household_id, address, id_card_enc, \
             phone_enc FROM resident WHERE id IN ({})",
            params(store.backend(), chunk.len(), 1)
        );
        let rows: Vec<Stored> = on_tx!(tx, |conn| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).persistent(false);
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| {
                    Ok::<_, StoreError>((
                        r.col("id")?,
                        r.col("name")?,
                        r.col("sex")?,
                        r.col("birth_date")?,
                        r.col("division_code")?,
                        r.col("household_id")?,
                        r.col("address")?,
                        r.col("id_card_enc")?,
                        r.col("phone_enc")?,
                    ))
                })
                .collect::<Result<Vec<_>>>()
        })?;
        for (id, name, sex, birth_date, village, household, address, id_enc, phone_enc) in rows {
            let person = Person {
                name,
                sex: sex_of(&sex),
                birth_date,
                id_card: id_enc
                    .map(|b| keys.decrypt(Field::IdCard, &b))
                    .transpose()?,
                phone: phone_enc
                    .map(|b| keys.decrypt(Field::Phone, &b))
                    .transpose()?,
                village: Some(village),
                household,
                address: Some(address).filter(|a| !a.is_empty()),
            };
            persons.insert(id, person);
        }
    }
    Ok(persons)
}

/// The rows of the batch created so far, by the keys later rows look them up with.
#[derive(Default)]
struct Created<'a> {
    by_id_hash: HashMap<&'a [u8], Vec<usize>>,
    by_phone_hash: HashMap<&'a [u8], Vec<usize>>,
    by_name_key: HashMap<String, Vec<usize>>,
    by_household: HashMap<i64, Vec<usize>>,
}

impl<'a> Created<'a> {
    fn add(&mut self, i: usize, p: &'a Probe<'a>) {
        if p.id_hash_stored
            && let Some(h) = &p.id_hash
        {
            self.by_id_hash.entry(h.as_slice()).or_default().push(i);
        }
        if p.phone_hash_stored
            && let Some(h) = &p.phone_hash
        {
            self.by_phone_hash.entry(h.as_slice()).or_default().push(i);
        }
        // The keys the row is stored with (`resident_name_key`): every search key.
        for key in yiwei_domain::name::search_keys(p.new.name.trim()) {
            self.by_name_key.entry(key).or_default().push(i);
        }
        if let Some(h) = p.new.details.household_id {
            self.by_household.entry(h).or_default().push(i);
        }
    }
}

/// Match and write a batch in one write transaction, on one connection.
///
/// The lookups run inside the transaction, not on the pool: on SQLite the transaction's
/// connection has the page cache widened (for the batch, `resident::widen_cache`, or for
/// the whole import, [`Session`]), and a batch's blocking lookups and its index inserts
/// touch the same pages (the hash indexes, the name keys), so they are read from the file
/// once. Read on the pool's connections
/// (2 MiB caches, dropped whenever another connection writes) the same lookups spent most
/// of their time copying pages out of the kernel (measured with perf on a 1M county).
/// It also means no other writer can slip a record in between matching and writing; the
/// price is that the write lock is held while the batch is matched (about a second).
async fn plan_and_write(
    store: &Store,
    probes: &[Probe<'_>],
    who: &Who,
    session: Option<&Session>,
) -> Result<Vec<Outcome>> {
    // The weights and thresholds of the single-write path: the county's trained ones, or
    // the defaults. Read once per batch, before the write lock is taken.
    let matcher = crate::empi::matcher(store).await?;
    let mut tx = store.begin().await?;
    let cache = match session {
        Some(_) => {
            keep_session_cache(&mut tx).await?;
            None
        }
        None => resident::widen_cache(&mut tx).await?,
    };
    let plans = plan(&mut tx, store, probes, &matcher).await?;
    let outcomes = write(&mut tx, store, probes, &plans, who).await?;
    resident::restore_cache(&mut tx, cache).await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// Decide every row in order, as the single-write path would: candidates from the stored
/// residents and from the rows created before it, scored, the best one linking if it
/// reaches the link threshold.
async fn plan(
    tx: &mut Tx<'_>,
    store: &Store,
    probes: &[Probe<'_>],
    matcher: &crate::empi::Matcher,
) -> Result<Vec<Plan>> {
    let found = lookup(tx, store, probes).await?;
    let (w, t) = (&matcher.weights, &matcher.thresholds);
    let mut created = Created::default();
    let mut plans = Vec::with_capacity(probes.len());
    for (i, p) in probes.iter().enumerate() {
        let mut candidates: Vec<Candidate> = stored_candidates(&found, i, p)
            .into_iter()
            .map(Candidate::Stored)
            .collect();
        // Rows of the batch come after every stored resident in id order; each blocking
        // key's limit counts the stored ones first, as an index walk in id order would.
        let stored_count = |ids: Option<&Vec<i64>>| ids.map_or(0, Vec::len);
        if let Some(h) = &p.id_hash
            && let Some(rows) = created.by_id_hash.get(h.as_slice())
        {
            candidates.extend(rows.iter().map(|j| Candidate::Batch(*j)));
        }
        if let Some(h) = &p.phone_hash
            && let Some(rows) = created.by_phone_hash.get(h.as_slice())
        {
            let room = PER_KEY.saturating_sub(stored_count(found.by_phone_hash.get(h)));
            candidates.extend(rows.iter().take(room).map(|j| Candidate::Batch(*j)));
        }
        for (n, key) in p.name_keys.iter().enumerate() {
            if let Some(rows) = created.by_name_key.get(key) {
                let room = PER_KEY.saturating_sub(stored_count(found.by_name_key.get(&(i, n))));
                candidates.extend(
                    rows.iter()
                        .filter(|j| {
                            let other = probes[**j].new;
                            (p.new.birth_date.is_some() && other.birth_date == p.new.birth_date)
                                || other.division == p.new.division
                        })
                        .take(room)
                        .map(|j| Candidate::Batch(*j)),
                );
            }
        }
        if let Some(h) = p.new.details.household_id
            && let Some(rows) = created.by_household.get(&h)
        {
            let room = PER_KEY.saturating_sub(stored_count(found.by_household.get(&h)));
            candidates.extend(rows.iter().take(room).map(|j| Candidate::Batch(*j)));
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates.truncate(MAX_CANDIDATES);

        let mut scored: Vec<(Candidate, empi::Score)> = Vec::with_capacity(candidates.len());
        for c in candidates {
            let other = match c {
                Candidate::Stored(id) => found
                    .persons
                    .get(&id)
                    .ok_or_else(|| StoreError::Other(format!("candidate {id} was not read")))?,
                Candidate::Batch(j) => &probes[j].as_stored,
            };
            scored.push((c, empi::score(&p.me, other, w, t)));
        }
        scored.sort_by(|a, b| b.1.total.total_cmp(&a.1.total));
        let plan = match scored.first() {
            Some((to, best)) if best.decision == Decision::Link => Plan::Link {
                to: *to,
                score: best.clone(),
            },
            _ => {
                created.add(i, p);
                Plan::Create {
                    review: scored
                        .into_iter()
                        .filter(|(_, s)| s.decision == Decision::Review)
                        .collect(),
                }
            }
        };
        plans.push(plan);
    }
    Ok(plans)
}

/// Write the plans of a batch in one transaction: the new residents (bulk path), their
/// review pairs and one audit event per row.
async fn write(
    tx: &mut Tx<'_>,
    store: &Store,
    probes: &[Probe<'_>],
    plans: &[Plan],
    who: &Who,
) -> Result<Vec<Outcome>> {
    let to_create: Vec<(&NewResident, Option<i64>)> = probes
        .iter()
        .zip(plans)
        .filter(|(_, plan)| matches!(plan, Plan::Create { .. }))
        .map(|(p, _)| (p.new, p.new.details.household_id))
        .collect();
    let new_ids = resident::insert_rows_in(tx, store, &to_create).await?;
    let mut id_of_row: Vec<Option<i64>> = vec![None; probes.len()];
    let mut next = new_ids.iter();
    for (i, plan) in plans.iter().enumerate() {
        if matches!(plan, Plan::Create { .. }) {
            id_of_row[i] = next.next().copied();
        }
    }
    let id_of = |c: Candidate| -> Result<i64> {
        match c {
            Candidate::Stored(id) => Ok(id),
            Candidate::Batch(j) => id_of_row[j]
                .ok_or_else(|| StoreError::Other(format!("row {j} of the batch has no id"))),
        }
    };

    let mut outcomes = Vec::with_capacity(plans.len());
    let mut reviews: Vec<(i64, i64, f64, String)> = Vec::new();
    let mut events = Vec::with_capacity(plans.len());
    for (i, plan) in plans.iter().enumerate() {
        match plan {
            Plan::Create { review } => {
                let id = id_of(Candidate::Batch(i))?;
                let mut queued = Vec::with_capacity(review.len());
                for (candidate, score) in review {
                    let candidate = id_of(*candidate)?;
                    reviews.push((id, candidate, score.total, explain(score)));
                    queued.push(candidate);
                }
                events.push(
                    Event::new(who.clone(), Action::Create)
                        .object("resident", id)
                        .resident(id)
                        .reason(&format!("empi: {} to review", queued.len())),
                );
                outcomes.push(Outcome::Created { id, review: queued });
            }
            Plan::Link { to, score } => {
                let id = id_of(*to)?;
                events.push(
                    Event::new(who.clone(), Action::Read)
                        .object("resident", id)
                        .resident(id)
                        .basis("empi_link")
                        .reason(&format!("score {:.2}", score.total)),
                );
                outcomes.push(Outcome::Linked {
                    id,
                    score: score.total,
                    explanation: explain(score),
                });
            }
        }
    }
    insert_reviews_in(tx, store.backend(), &reviews).await?;
    append_events_in(tx, store.backend(), store.keys().audit_key(), &events).await?;
    Ok(outcomes)
}

/// Queue review pairs (resident, candidate, score, explanation) in multi-row INSERTs; a
/// pair already queued stays as it is, as in `empi::register`.
async fn insert_reviews_in(
    tx: &mut Tx<'_>,
    backend: Backend,
    reviews: &[(i64, i64, f64, String)],
) -> Result<()> {
    let now = crate::now();
    for chunk in reviews.chunks(MAX_PARAMS / 5) {
        let sql = format!(
            "INSERT INTO match_review (resident_id, candidate_id, score, explanation, created_at) \
             VALUES {} ON CONFLICT DO NOTHING",
            params(backend, chunk.len(), 5)
        );
        on_tx!(tx, |conn| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).persistent(false);
            for (resident, candidate, score, explanation) in chunk {
                q = q
                    .bind(*resident)
                    .bind(*candidate)
                    .bind(*score)
                    .bind(explanation.as_str())
                    .bind(now);
            }
            q.execute(&mut *conn).await.map(|_| ())
        })?;
    }
    Ok(())
}

/// Bound parameters per audit row.
const AUDIT_ROW_PARAMS: usize = 16;

/// Append `events` to the audit chain inside `tx`, in order: the same rows, sequence
/// numbers and chain hashes as one `audit::append_in` per event, with three statements
/// per few thousand events instead of three per event. The head is moved first, by the
/// number of events, which takes the write lock (SQLite) or the head row's lock
/// (PostgreSQL), so no other writer can take a sequence number in between: the numbers
/// stay gapless and the chain unforked. The hashes are then computed here in order and
/// the rows inserted with multi-row INSERTs; the head's hash is set to the last one.
async fn append_events_in(
    tx: &mut Tx<'_>,
    backend: Backend,
    key: &[u8; 32],
    events: &[Event],
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let n =
        i64::try_from(events.len()).map_err(|_| StoreError::Invalid("too many events".into()))?;
    let (last_seq, mut prev): (i64, Vec<u8>) = on_tx!(tx, |conn| {
        let head =
            sqlx::query("UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash")
                .bind(n)
                .fetch_one(&mut *conn)
                .await?;
        Ok::<_, StoreError>((head.col("seq")?, head.col("hash")?))
    })?;
    let first_seq = last_seq - n + 1;
    let mut rows = Vec::with_capacity(events.len());
    for (k, event) in events.iter().enumerate() {
        let seq = first_seq + k as i64;
        let at = crate::now();
        let hash = chain_hash(key, &prev, seq, at, event);
        let prev_hash = std::mem::replace(&mut prev, hash.clone());
        rows.push((seq, at, event, prev_hash, hash));
    }
    for chunk in rows.chunks(MAX_PARAMS / AUDIT_ROW_PARAMS) {
        let sql = format!(
            "INSERT INTO audit_log (seq, at, user_id, username, role, institution_id, action, \
             outcome, object_type, object_id, resident_id, basis, reason, remote_addr, prev_hash, hash) \
             VALUES {}",
            params(backend, chunk.len(), AUDIT_ROW_PARAMS)
        );
        on_tx!(tx, |conn| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).persistent(false);
            for (seq, at, event, prev_hash, hash) in chunk {
                q = q
                    .bind(*seq)
                    .bind(*at)
                    .bind(event.who.user_id)
                    .bind(event.who.username.as_deref())
                    .bind(event.who.role.as_deref())
                    .bind(event.who.institution_id)
                    .bind(event.action.as_str())
                    .bind(event.outcome)
                    .bind(event.object_type.as_deref())
                    .bind(event.object_id.as_deref())
                    .bind(event.resident_id)
                    .bind(event.basis.as_deref())
                    .bind(event.reason.as_deref())
                    .bind(event.remote_addr.as_deref())
                    .bind(prev_hash.as_slice())
                    .bind(hash.as_slice());
            }
            q.execute(&mut *conn).await.map(|_| ())
        })?;
    }
    on_tx!(tx, |conn| {
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(prev.as_slice())
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?;
    Ok(())
}
