//! 防返贫监测预警, the store side: charges per visit, the alert rules with history, the
//! monthly alerts and the household checks (migration 0014; rules in
//! `yiwei_domain::cost_alert`, user guide in docs/cost_alerts.md).
//!
//! Tables (names and meanings are also the contract with the indicator engine):
//! - `cost_charge`: one row per visit reported by an institution, unique per
//!   (institution_id, external_visit_id) so a re-submitted visit updates its row;
//!   `resident_id` NULL means not yet matched, with the identifying data kept (ID card
//!   encrypted and hashed as on `resident`, the name) until someone attaches it;
//! - `cost_alert_rule` and `cost_alert_rule_history`: the rules and every version of them;
//! - `cost_alert`: one row per resident × month × rule, with the rule's terms copied at
//!   raise time, the resident's village, the amount and the check status;
//! - `cost_alert_check`: each household visit (入户核查) and each reopening;
//! - `cost_alert_run`: each run of the monthly job.
//!
//! The monthly run ([`run_month`]) is set-based: per active rule, ONE `INSERT … SELECT`
//! that joins the window's charges to their residents (the population test), sums them
//! per resident (`GROUP BY`), keeps those above the threshold and inserts with
//! `ON CONFLICT DO NOTHING`, so a rerun adds only what is new and never duplicates. The
//! join comes before the sum on purpose: aggregating first and joining after let
//! PostgreSQL, misjudging the `LIKE` on the key groups, rescan the aggregate once per
//! resident (6.9 s instead of 38 ms on 20,000 residents; EXPLAIN ANALYZE in
//! docs/cost_alerts.md). Its comparison is the one of
//! `yiwei_domain::cost_alert::evaluate`; the conformance tests hold the two together.
//!
//! Access: callers outside the store go through `crate::access::cost_alert`, which checks
//! and audits personal-data reads and writes. The functions here that take an `Event`
//! append it in their own transaction.

use chrono::{DateTime, NaiveDate, Utc};
use yiwei_domain::cost_alert::{
    AlertStatus, Charge, CheckInput, CostBasis, Month, Population, Rule, VisitKind,
};
use yiwei_domain::division::DivisionCode;

use crate::audit::{self, Event};
use crate::crypto::Field;
use crate::{Result, Row, Store, StoreError, Tx, on_pool, on_tx};

// ---------------------------------------------------------------------------------------
// Rules

/// A rule as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRule {
    pub id: i64,
    pub rule: Rule,
    pub version: i64,
    pub updated_by: Option<i64>,
    pub updated_at: DateTime<Utc>,
}

/// One version of a rule.
#[derive(Clone, Debug)]
pub struct RuleVersion {
    pub version: i64,
    pub name_zh: String,
    pub population: String,
    pub basis: String,
    pub threshold_fen: i64,
    pub window_months: i64,
    pub active: bool,
    pub changed_by: Option<i64>,
    pub changed_by_name: Option<String>,
    pub changed_at: DateTime<Utc>,
    pub note: String,
}

fn stored_rule(row: &impl Row) -> Result<StoredRule> {
    let population: String = row.col("population")?;
    let basis: String = row.col("basis")?;
    let window: i64 = row.col("window_months")?;
    Ok(StoredRule {
        id: row.col("id")?,
        rule: Rule {
            code: row.col("code")?,
            name_zh: row.col("name_zh")?,
            name_en: row.col("name_en")?,
            population: Population::parse(&population)
                .ok_or_else(|| StoreError::Other(format!("stored rule population {population}")))?,
            basis: CostBasis::parse(&basis)
                .ok_or_else(|| StoreError::Other(format!("stored rule basis {basis}")))?,
            threshold_fen: row.col("threshold_fen")?,
            window_months: u8::try_from(window).unwrap_or(1),
            active: row.col("active")?,
        },
        version: row.col("version")?,
        updated_by: row.col("updated_by")?,
        updated_at: row.col("updated_at")?,
    })
}

const RULE_COLUMNS: &str = "id, code, name_zh, name_en, population, basis, threshold_fen, \
    window_months, active, version, updated_by, updated_at";

/// Every rule, in id order.
pub async fn rules(store: &Store) -> Result<Vec<StoredRule>> {
    let sql = format!("SELECT {RULE_COLUMNS} FROM cost_alert_rule ORDER BY id");
    on_pool!(store, |pool| {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(pool)
            .await?
            .iter()
            .map(stored_rule)
            .collect()
    })
}

pub async fn rule(store: &Store, id: i64) -> Result<StoredRule> {
    let sql = format!("SELECT {RULE_COLUMNS} FROM cost_alert_rule WHERE id = $1");
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("cost alert rule"))?;
        stored_rule(&row)
    })
}

/// Seed the rules from `defaults` (`yiwei.toml` or the built-in ones) when the county has
/// none yet; returns how many were added. Once rules exist, the page is where they change.
pub async fn ensure_rules(store: &Store, defaults: &[Rule]) -> Result<usize> {
    let n: i64 = on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM cost_alert_rule")
            .fetch_one(pool)
            .await
    })?;
    if n > 0 {
        return Ok(0);
    }
    let mut tx = store.begin().await?;
    for rule in defaults {
        insert_rule_in(&mut tx, rule, None, "seeded from configuration").await?;
    }
    tx.commit().await?;
    Ok(defaults.len())
}

async fn insert_rule_in(tx: &mut Tx<'_>, rule: &Rule, by: Option<i64>, note: &str) -> Result<i64> {
    let now = crate::now();
    let id: i64 = on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO cost_alert_rule (code, name_zh, name_en, population, basis, threshold_fen, \
             window_months, active, version, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10) RETURNING id",
        )
        .bind(&rule.code)
        .bind(&rule.name_zh)
        .bind(&rule.name_en)
        .bind(rule.population.code())
        .bind(rule.basis.code())
        .bind(rule.threshold_fen)
        .bind(i64::from(rule.window_months))
        .bind(rule.active)
        .bind(by)
        .bind(now)
        .fetch_one(&mut *conn)
        .await
    })?;
    history_in(tx, id, 1, rule, by, now, note).await?;
    Ok(id)
}

async fn history_in(
    tx: &mut Tx<'_>,
    rule_id: i64,
    version: i64,
    rule: &Rule,
    by: Option<i64>,
    at: DateTime<Utc>,
    note: &str,
) -> Result<()> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO cost_alert_rule_history (rule_id, version, name_zh, population, basis, \
             threshold_fen, window_months, active, changed_by, changed_at, note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(rule_id)
        .bind(version)
        .bind(&rule.name_zh)
        .bind(rule.population.code())
        .bind(rule.basis.code())
        .bind(rule.threshold_fen)
        .bind(i64::from(rule.window_months))
        .bind(rule.active)
        .bind(by)
        .bind(at)
        .bind(note)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// Add a rule (`id` None) or change one at `expected_version`; every version goes to the
/// history with who and when. The code of an existing rule does not change.
pub async fn save_rule(
    store: &Store,
    id: Option<i64>,
    expected_version: i64,
    rule: &Rule,
    by: Option<i64>,
    note: &str,
) -> Result<i64> {
    let mut tx = store.begin().await?;
    let Some(id) = id else {
        let id = insert_rule_in(&mut tx, rule, by, note).await?;
        tx.commit().await?;
        return Ok(id);
    };
    let now = crate::now();
    let changed = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE cost_alert_rule SET name_zh = $1, name_en = $2, population = $3, basis = $4, \
             threshold_fen = $5, window_months = $6, active = $7, version = version + 1, \
             updated_by = $8, updated_at = $9 WHERE id = $10 AND version = $11",
        )
        .bind(&rule.name_zh)
        .bind(&rule.name_en)
        .bind(rule.population.code())
        .bind(rule.basis.code())
        .bind(rule.threshold_fen)
        .bind(i64::from(rule.window_months))
        .bind(rule.active)
        .bind(by)
        .bind(now)
        .bind(id)
        .bind(expected_version)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    if changed != 1 {
        return Err(StoreError::Invalid(
            "规则已被他人修改，请刷新后重试 / someone changed this rule meanwhile; reload and try again"
                .into(),
        ));
    }
    history_in(&mut tx, id, expected_version + 1, rule, by, now, note).await?;
    tx.commit().await?;
    Ok(id)
}

/// A rule's versions, newest first, with the name of who made each.
pub async fn rule_history(store: &Store, rule_id: i64) -> Result<Vec<RuleVersion>> {
    on_pool!(store, |pool| {
        sqlx::query(
            "SELECT h.version, h.name_zh, h.population, h.basis, h.threshold_fen, h.window_months, \
             h.active, h.changed_by, u.display_name, h.changed_at, h.note \
             FROM cost_alert_rule_history h LEFT JOIN app_user u ON u.id = h.changed_by \
             WHERE h.rule_id = $1 ORDER BY h.version DESC",
        )
        .bind(rule_id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(RuleVersion {
                version: r.col("version")?,
                name_zh: r.col("name_zh")?,
                population: r.col("population")?,
                basis: r.col("basis")?,
                threshold_fen: r.col("threshold_fen")?,
                window_months: r.col("window_months")?,
                active: r.col("active")?,
                changed_by: r.col("changed_by")?,
                changed_by_name: r.col("display_name")?,
                changed_at: r.col("changed_at")?,
                note: r.col("note")?,
            })
        })
        .collect()
    })
}

// ---------------------------------------------------------------------------------------
// Charges

/// How the submitter names the patient.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Patient {
    /// A resident id the submitter already knows (FHIR `Patient/…`).
    pub resident_id: Option<i64>,
    /// 居民身份证号; matched through the lookup hash, stored encrypted when unmatched.
    pub id_card: Option<String>,
    pub name: String,
}

/// One checked charge to store.
#[derive(Clone, Debug)]
pub struct NewCharge {
    pub institution_id: i64,
    pub external_visit_id: String,
    pub charge: Charge,
    pub patient: Patient,
    /// `import`, `fhir`, `demo`, `bench`.
    pub source: &'static str,
}

/// What became of a submitted charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Submitted {
    pub charge_id: i64,
    /// The resident it belongs to, or None: it waits in the unmatched queue.
    pub resident_id: Option<i64>,
    /// False when the visit was already on file (a re-submission updated it).
    pub created: bool,
}

/// A charge as stored, with what the pages show.
#[derive(Clone, Debug)]
pub struct StoredCharge {
    pub id: i64,
    pub institution_id: i64,
    pub institution_name: String,
    pub external_visit_id: String,
    pub visit_date: NaiveDate,
    pub kind: String,
    pub total_fen: i64,
    pub insurance_paid_fen: i64,
    pub out_of_pocket_fen: i64,
    pub policy_oop_fen: Option<i64>,
    pub resident_id: Option<i64>,
    pub patient_name: String,
    /// The ID card as submitted, masked (only for unmatched charges).
    pub id_card_masked: Option<String>,
    pub source: String,
    pub matched_how: Option<String>,
    pub received_at: DateTime<Utc>,
}

const CHARGE_COLUMNS: &str = "c.id, c.institution_id, i.name AS institution_name, \
    c.external_visit_id, c.visit_date, c.kind, c.total_fen, c.insurance_paid_fen, \
    c.out_of_pocket_fen, c.policy_oop_fen, c.resident_id, c.patient_name, c.id_card_enc, \
    c.source, c.matched_how, c.received_at";

fn stored_charge(store: &Store, row: &impl Row) -> Result<StoredCharge> {
    let enc: Option<Vec<u8>> = row.col("id_card_enc")?;
    let resident_id: Option<i64> = row.col("resident_id")?;
    let id_card_masked = match (&enc, resident_id) {
        (Some(blob), None) => Some(yiwei_domain::mask::id_card(
            &store.keys().decrypt(Field::IdCard, blob)?,
        )),
        _ => None,
    };
    Ok(StoredCharge {
        id: row.col("id")?,
        institution_id: row.col("institution_id")?,
        institution_name: row.col("institution_name")?,
        external_visit_id: row.col("external_visit_id")?,
        visit_date: row.col("visit_date")?,
        kind: row.col("kind")?,
        total_fen: row.col("total_fen")?,
        insurance_paid_fen: row.col("insurance_paid_fen")?,
        out_of_pocket_fen: row.col("out_of_pocket_fen")?,
        policy_oop_fen: row.col("policy_oop_fen")?,
        resident_id,
        patient_name: row.col("patient_name")?,
        id_card_masked,
        source: row.col("source")?,
        matched_how: row.col("matched_how")?,
        received_at: row.col("received_at")?,
    })
}

/// The live resident (following merges) and village of each id-card hash found.
async fn residents_by_hash_in(
    tx: &mut Tx<'_>,
    hashes: &[Vec<u8>],
) -> Result<std::collections::HashMap<Vec<u8>, (i64, String)>> {
    let mut found = std::collections::HashMap::new();
    for chunk in hashes.chunks(500) {
        if chunk.is_empty() {
            continue;
        }
        let params: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT r.id_card_hash, COALESCE(m.id, r.id) AS live_id, \
             COALESCE(m.division_code, r.division_code) AS division_code \
             FROM resident r LEFT JOIN resident m ON m.id = r.merged_into \
             WHERE r.id_card_hash IN ({})",
            params.join(", ")
        );
        let rows: Vec<(Vec<u8>, i64, String)> = on_tx!(tx, |conn| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for h in chunk {
                q = q.bind(h.as_slice());
            }
            q.fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| {
                    Ok((
                        r.col("id_card_hash")?,
                        r.col("live_id")?,
                        r.col("division_code")?,
                    ))
                })
                .collect::<Result<Vec<_>>>()
        })?;
        for (h, id, division) in rows {
            found.insert(h, (id, division));
        }
    }
    Ok(found)
}

/// The live resident and village of a resident id, following a merge; None if unknown.
async fn resident_by_id_in(tx: &mut Tx<'_>, id: i64) -> Result<Option<(i64, String)>> {
    on_tx!(tx, |conn| {
        let row = sqlx::query(
            "SELECT COALESCE(m.id, r.id) AS live_id, COALESCE(m.division_code, r.division_code) \
             AS division_code FROM resident r LEFT JOIN resident m ON m.id = r.merged_into \
             WHERE r.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        row.map(|r| Ok((r.col("live_id")?, r.col("division_code")?)))
            .transpose()
    })
}

/// Store a batch of checked charges in ONE transaction, matching each to a resident by
/// the given resident id, else by ID card; a charge that matches nobody is kept with its
/// identifying data for the unmatched queue. A visit already on file (same institution and
/// visit number) is updated in place, so submitting a file twice changes nothing.
pub async fn submit_charges(store: &Store, rows: &[NewCharge]) -> Result<Vec<Submitted>> {
    let keys = store.keys();
    let hashes: Vec<Option<Vec<u8>>> = rows
        .iter()
        .map(|r| {
            r.patient
                .id_card
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| keys.lookup_hash(Field::IdCard, v))
        })
        .collect();
    let mut tx = store.begin().await?;
    let wanted: Vec<Vec<u8>> = hashes.iter().flatten().cloned().collect();
    let by_hash = residents_by_hash_in(&mut tx, &wanted).await?;
    let now = crate::now();
    let mut out = Vec::with_capacity(rows.len());
    for (row, hash) in rows.iter().zip(&hashes) {
        let (matched, how) = match row.patient.resident_id {
            Some(id) => match resident_by_id_in(&mut tx, id).await? {
                Some(m) => (Some(m), Some("resident_id")),
                None => (None, None),
            },
            None => match hash.as_ref().and_then(|h| by_hash.get(h)) {
                Some(m) => (Some(m.clone()), Some("id_card")),
                None => (None, None),
            },
        };
        let c = row.charge.input();
        let id_card = row
            .patient
            .id_card
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty());
        // The identifying data is kept only while it is needed to match.
        let (enc, keep_hash, name) = if matched.is_none() {
            (
                id_card.map(|v| keys.encrypt(Field::IdCard, v)),
                hash.clone(),
                row.patient.name.trim().to_owned(),
            )
        } else {
            (None, None, String::new())
        };
        let (resident_id, division) = match &matched {
            Some((id, division)) => (Some(*id), Some(division.clone())),
            None => (None, None),
        };
        let (charge_id, created): (i64, bool) = on_tx!(&mut tx, |conn| {
            let r = sqlx::query(
                "INSERT INTO cost_charge (institution_id, external_visit_id, visit_date, kind, \
                 total_fen, insurance_paid_fen, out_of_pocket_fen, policy_oop_fen, resident_id, \
                 division_code, id_card_enc, id_card_hash, patient_name, source, matched_how, \
                 matched_at, received_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17) \
                 ON CONFLICT (institution_id, external_visit_id) DO UPDATE SET \
                 visit_date = excluded.visit_date, kind = excluded.kind, \
                 total_fen = excluded.total_fen, insurance_paid_fen = excluded.insurance_paid_fen, \
                 out_of_pocket_fen = excluded.out_of_pocket_fen, \
                 policy_oop_fen = excluded.policy_oop_fen, updated_at = excluded.updated_at \
                 RETURNING id, received_at",
            )
            .bind(row.institution_id)
            .bind(row.external_visit_id.trim())
            .bind(c.visit_date)
            .bind(c.kind.code())
            .bind(c.total_fen)
            .bind(c.insurance_paid_fen)
            .bind(c.out_of_pocket_fen)
            .bind(c.policy_out_of_pocket_fen)
            .bind(resident_id)
            .bind(division.as_deref())
            .bind(enc.as_deref())
            .bind(keep_hash.as_deref())
            .bind(&name)
            .bind(row.source)
            .bind(how)
            .bind(matched.as_ref().map(|_| now))
            .bind(now)
            .fetch_one(&mut *conn)
            .await?;
            let received: DateTime<Utc> = r.col("received_at")?;
            Ok::<_, StoreError>((r.col("id")?, received == now))
        })?;
        let resident_id = if created {
            resident_id
        } else {
            on_tx!(&mut tx, |conn| {
                sqlx::query_scalar("SELECT resident_id FROM cost_charge WHERE id = $1")
                    .bind(charge_id)
                    .fetch_one(&mut *conn)
                    .await
            })?
        };
        out.push(Submitted {
            charge_id,
            resident_id,
            created,
        });
    }
    tx.commit().await?;
    Ok(out)
}

/// A generated charge of a known resident, for the demo county and the benchmark.
#[derive(Clone, Debug)]
pub struct GeneratedCharge {
    pub institution_id: i64,
    pub external_visit_id: String,
    pub visit_date: NaiveDate,
    pub kind: VisitKind,
    pub total_fen: i64,
    pub insurance_paid_fen: i64,
    pub out_of_pocket_fen: i64,
    pub policy_oop_fen: Option<i64>,
    pub resident_id: i64,
    pub division_code: String,
}

/// Bulk-load generated charges of known residents in one transaction, with multi-row
/// INSERTs (15 parameters a row, 1,000 rows a statement; `?` placeholders on SQLite,
/// which looks `$n` names up in a list, so that their cost would grow with the square of
/// their number). No matching and no audit: the demo generator and the benchmark write
/// synthetic data, not what an institution sent. Visits already on file stay as they are.
pub async fn insert_generated(
    store: &Store,
    rows: &[GeneratedCharge],
    source: &str,
) -> Result<u64> {
    let now = crate::now();
    let sqlite = store.backend() == crate::Backend::Sqlite;
    let mut tx = store.begin().await?;
    let mut n = 0;
    for chunk in rows.chunks(1_000) {
        let mut sql = String::from(
            "INSERT INTO cost_charge (institution_id, external_visit_id, visit_date, kind, total_fen, \
             insurance_paid_fen, out_of_pocket_fen, policy_oop_fen, resident_id, division_code, \
             source, matched_how, matched_at, received_at, updated_at) VALUES ",
        );
        let mut k = 0;
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 { "(" } else { ", (" });
            for j in 0..15 {
                if j > 0 {
                    sql.push_str(", ");
                }
                k += 1;
                if sqlite {
                    sql.push('?');
                } else {
                    sql.push_str(&format!("${k}"));
                }
            }
            sql.push(')');
        }
        sql.push_str(" ON CONFLICT (institution_id, external_visit_id) DO NOTHING");
        n += on_tx!(&mut tx, |conn| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for c in chunk {
                q = q
                    .bind(c.institution_id)
                    .bind(c.external_visit_id.as_str())
                    .bind(c.visit_date)
                    .bind(c.kind.code())
                    .bind(c.total_fen)
                    .bind(c.insurance_paid_fen)
                    .bind(c.out_of_pocket_fen)
                    .bind(c.policy_oop_fen)
                    .bind(c.resident_id)
                    .bind(c.division_code.as_str())
                    .bind(source)
                    .bind("resident_id")
                    .bind(now)
                    .bind(now)
                    .bind(now);
            }
            q.execute(&mut *conn).await.map(|r| r.rows_affected())
        })?;
    }
    tx.commit().await?;
    Ok(n)
}

/// A resident's charges with a visit date in `[from, to]`, newest first.
pub async fn charges_of(
    store: &Store,
    resident_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<StoredCharge>> {
    let sql = format!(
        "SELECT {CHARGE_COLUMNS} FROM cost_charge c JOIN institution i ON i.id = c.institution_id \
         WHERE c.resident_id = $1 AND c.visit_date >= $2 AND c.visit_date <= $3 \
         ORDER BY c.visit_date DESC, c.id DESC"
    );
    on_pool!(store, |pool| {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(resident_id)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| stored_charge(store, r))
            .collect()
    })
}

/// One charge.
pub async fn charge(store: &Store, id: i64) -> Result<StoredCharge> {
    let sql = format!(
        "SELECT {CHARGE_COLUMNS} FROM cost_charge c JOIN institution i ON i.id = c.institution_id \
         WHERE c.id = $1"
    );
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("charge"))?;
        stored_charge(store, &row)
    })
}

/// Charges matched to nobody yet, oldest first; only those of `institution_id` when given.
/// Returns the page and the total.
pub async fn unmatched(
    store: &Store,
    institution_id: Option<i64>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<StoredCharge>, i64)> {
    let sql = format!(
        "SELECT {CHARGE_COLUMNS} FROM cost_charge c JOIN institution i ON i.id = c.institution_id \
         WHERE c.resident_id IS NULL AND ($1 IS NULL OR c.institution_id = $1) \
         ORDER BY c.id LIMIT $2 OFFSET $3"
    );
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(institution_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| stored_charge(store, r))
            .collect::<Result<Vec<_>>>()?;
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM cost_charge WHERE resident_id IS NULL \
             AND ($1 IS NULL OR institution_id = $1)",
        )
        .bind(institution_id)
        .fetch_one(pool)
        .await?;
        Ok((rows, total))
    })
}

/// Attach an unmatched charge to a resident (a person decided), with the audit event.
pub(crate) async fn attach(
    store: &Store,
    charge_id: i64,
    resident_id: i64,
    by: Option<i64>,
    event: Event,
) -> Result<()> {
    let mut tx = store.begin().await?;
    let Some((live, division)) = resident_by_id_in(&mut tx, resident_id).await? else {
        return Err(StoreError::NotFound("resident"));
    };
    let now = crate::now();
    let changed = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE cost_charge SET resident_id = $1, division_code = $2, matched_how = 'manual', \
             matched_by = $3, matched_at = $4, id_card_enc = NULL, id_card_hash = NULL, \
             patient_name = '', updated_at = $4 WHERE id = $5 AND resident_id IS NULL",
        )
        .bind(live)
        .bind(&division)
        .bind(by)
        .bind(now)
        .bind(charge_id)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    if changed != 1 {
        return Err(StoreError::Invalid(
            "该费用已匹配到居民 / this charge is already attached to a resident".into(),
        ));
    }
    let event = event
        .object("cost_charge", charge_id)
        .resident(live)
        .reason("attach unmatched charge");
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Attach every unmatched charge whose ID card now belongs to a resident (registered
/// since the charge came in). Set-based; returns how many were attached.
pub async fn attach_by_id_card(store: &Store) -> Result<u64> {
    let now = crate::now();
    let mut tx = store.begin().await?;
    let n = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE cost_charge SET \
             resident_id = (SELECT COALESCE(r.merged_into, r.id) FROM resident r \
                            WHERE r.id_card_hash = cost_charge.id_card_hash), \
             division_code = (SELECT COALESCE(m.division_code, r.division_code) FROM resident r \
                              LEFT JOIN resident m ON m.id = r.merged_into \
                              WHERE r.id_card_hash = cost_charge.id_card_hash), \
             matched_how = 'id_card', matched_at = $1, id_card_enc = NULL, id_card_hash = NULL, \
             patient_name = '', updated_at = $1 \
             WHERE resident_id IS NULL AND id_card_hash IS NOT NULL AND EXISTS \
             (SELECT 1 FROM resident r WHERE r.id_card_hash = cost_charge.id_card_hash)",
        )
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    tx.commit().await?;
    Ok(n)
}

// ---------------------------------------------------------------------------------------
// The monthly run

/// What one run of a month did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub n_rules: i64,
    /// Alerts of the month after the run (old and new).
    pub n_hits: i64,
    /// Alerts this run added.
    pub n_new: i64,
    /// Unmatched charges attached by ID card before the run.
    pub n_attached: i64,
}

/// The SQL condition on `resident r` for a population.
fn population_sql(p: Population) -> &'static str {
    match p {
        Population::PovertyOrMonitored => {
            "((',' || r.key_groups || ',') LIKE '%,poverty_alleviated,%' \
             OR (',' || r.key_groups || ',') LIKE '%,monitored_household,%')"
        }
        Population::Others => {
            "NOT ((',' || r.key_groups || ',') LIKE '%,poverty_alleviated,%' \
             OR (',' || r.key_groups || ',') LIKE '%,monitored_household,%')"
        }
        Population::Everyone => "1 = 1",
    }
}

/// The SQL amount of `cost_charge c` for a basis.
fn basis_sql(b: CostBasis) -> &'static str {
    match b {
        CostBasis::Total => "c.total_fen",
        CostBasis::OutOfPocket => "c.out_of_pocket_fen",
        CostBasis::PolicyOutOfPocket => "COALESCE(c.policy_oop_fen, c.out_of_pocket_fen)",
    }
}

/// Raise the alerts of `month`: attach what can be attached, then per active rule one
/// set-based insert. Idempotent: a rerun adds only alerts that were not there (charges
/// submitted or attached since, a rule added); it never changes or removes one.
pub async fn run_month(
    store: &Store,
    month: Month,
    by: Option<i64>,
    source: &str,
) -> Result<RunSummary> {
    let started = crate::now();
    let n_attached = attach_by_id_card(store).await?;
    let rules = rules(store).await?;
    let mut summary = RunSummary {
        n_attached: n_attached as i64,
        ..RunSummary::default()
    };
    let month_text = month.to_string();
    let mut tx = store.begin().await?;
    for r in rules.iter().filter(|r| r.rule.active) {
        summary.n_rules += 1;
        let (from, to) = month.window(r.rule.window_months);
        let amount = basis_sql(r.rule.basis);
        let sql = format!(
            "INSERT INTO cost_alert (resident_id, month, rule_id, division_code, population, basis, \
             threshold_fen, window_months, window_start, window_end, amount_fen, n_charges, \
             status, raised_at, version) \
             SELECT c.resident_id, $1, $2, r.division_code, $3, $4, $5, $6, $7, $8, SUM({amount}), \
             COUNT(*), 'open', $9, 1 \
             FROM cost_charge c JOIN resident r ON r.id = c.resident_id \
             WHERE c.visit_date >= $7 AND c.visit_date <= $8 AND r.merged_into IS NULL AND {population} \
             GROUP BY c.resident_id, r.division_code HAVING SUM({amount}) > $5 \
             ON CONFLICT (resident_id, month, rule_id) DO NOTHING",
            population = population_sql(r.rule.population),
        );
        let n = on_tx!(&mut tx, |conn| {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(&month_text)
                .bind(r.id)
                .bind(r.rule.population.code())
                .bind(r.rule.basis.code())
                .bind(r.rule.threshold_fen)
                .bind(i64::from(r.rule.window_months))
                .bind(from)
                .bind(to)
                .bind(started)
                .execute(&mut *conn)
                .await
                .map(|r| r.rows_affected())
        })?;
        summary.n_new += n as i64;
    }
    let finished = crate::now();
    summary.n_hits = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar("SELECT COUNT(*) FROM cost_alert WHERE month = $1")
            .bind(&month_text)
            .fetch_one(&mut *conn)
            .await
    })?;
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "INSERT INTO cost_alert_run (month, started_at, finished_at, n_rules, n_hits, n_new, \
             n_attached, by_user, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&month_text)
        .bind(started)
        .bind(finished)
        .bind(summary.n_rules)
        .bind(summary.n_hits)
        .bind(summary.n_new)
        .bind(summary.n_attached)
        .bind(by)
        .bind(source)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })?;
    tx.commit().await?;
    Ok(summary)
}

/// A run of the monthly job, as recorded.
#[derive(Clone, Debug)]
pub struct Run {
    pub month: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub summary: RunSummary,
    pub source: String,
}

/// The latest runs, newest first.
pub async fn runs(store: &Store, limit: i64) -> Result<Vec<Run>> {
    on_pool!(store, |pool| {
        sqlx::query(
            "SELECT month, started_at, finished_at, n_rules, n_hits, n_new, n_attached, source \
             FROM cost_alert_run ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Run {
                month: r.col("month")?,
                started_at: r.col("started_at")?,
                finished_at: r.col("finished_at")?,
                summary: RunSummary {
                    n_rules: r.col("n_rules")?,
                    n_hits: r.col("n_hits")?,
                    n_new: r.col("n_new")?,
                    n_attached: r.col("n_attached")?,
                },
                source: r.col("source")?,
            })
        })
        .collect()
    })
}

// ---------------------------------------------------------------------------------------
// Alerts and checks

/// An alert with what a list shows.
#[derive(Clone, Debug)]
pub struct Alert {
    pub id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub month: String,
    pub rule_id: i64,
    pub rule_name: String,
    pub division_code: String,
    pub village_name: String,
    pub population: String,
    pub basis: String,
    pub threshold_fen: i64,
    pub window_months: i64,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    pub amount_fen: i64,
    pub n_charges: i64,
    pub status: AlertStatus,
    pub outcome: Option<String>,
    pub raised_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i64,
}

const ALERT_COLUMNS: &str = "a.id, a.resident_id, r.name AS resident_name, a.month, a.rule_id, \
    u.name_zh AS rule_name, a.division_code, d.name AS village_name, a.population, a.basis, \
    a.threshold_fen, a.window_months, a.window_start, a.window_end, a.amount_fen, a.n_charges, \
    a.status, a.outcome, a.raised_at, a.closed_at, a.version";

const ALERT_FROM: &str = "cost_alert a JOIN resident r ON r.id = a.resident_id \
    JOIN cost_alert_rule u ON u.id = a.rule_id JOIN division d ON d.code = a.division_code";

fn alert_row(row: &impl Row) -> Result<Alert> {
    let status: String = row.col("status")?;
    Ok(Alert {
        id: row.col("id")?,
        resident_id: row.col("resident_id")?,
        resident_name: row.col("resident_name")?,
        month: row.col("month")?,
        rule_id: row.col("rule_id")?,
        rule_name: row.col("rule_name")?,
        division_code: row.col("division_code")?,
        village_name: row.col("village_name")?,
        population: row.col("population")?,
        basis: row.col("basis")?,
        threshold_fen: row.col("threshold_fen")?,
        window_months: row.col("window_months")?,
        window_start: row.col("window_start")?,
        window_end: row.col("window_end")?,
        amount_fen: row.col("amount_fen")?,
        n_charges: row.col("n_charges")?,
        status: AlertStatus::parse(&status)
            .ok_or_else(|| StoreError::Other(format!("stored alert status {status}")))?,
        outcome: row.col("outcome")?,
        raised_at: row.col("raised_at")?,
        closed_at: row.col("closed_at")?,
        version: row.col("version")?,
    })
}

/// Which alerts a list shows.
#[derive(Clone, Debug)]
pub struct AlertFilter {
    /// The subtree (a township, the county).
    pub root: DivisionCode,
    pub month: Option<Month>,
    pub status: Option<AlertStatus>,
    /// Only those of this resident.
    pub resident_id: Option<i64>,
}

/// Alerts under the filter, newest month first, then by village; and the total.
pub async fn alerts(
    store: &Store,
    filter: &AlertFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Alert>, i64)> {
    let (low, high) = filter.root.subtree_range();
    let month = filter.month.map(|m| m.to_string());
    let status = filter.status.map(AlertStatus::code);
    let wh = "a.division_code >= $1 AND a.division_code < $2 AND ($3 IS NULL OR a.month = $3) \
              AND ($4 IS NULL OR a.status = $4) AND ($5 IS NULL OR a.resident_id = $5)";
    let sql = format!(
        "SELECT {ALERT_COLUMNS} FROM {ALERT_FROM} WHERE {wh} \
         ORDER BY a.month DESC, a.division_code, a.id LIMIT $6 OFFSET $7"
    );
    let count = format!("SELECT COUNT(*) FROM cost_alert a WHERE {wh}");
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&low)
            .bind(&high)
            .bind(month.as_deref())
            .bind(status)
            .bind(filter.resident_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?
            .iter()
            .map(alert_row)
            .collect::<Result<Vec<_>>>()?;
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count.as_str()))
            .bind(&low)
            .bind(&high)
            .bind(month.as_deref())
            .bind(status)
            .bind(filter.resident_id)
            .fetch_one(pool)
            .await?;
        Ok((rows, total))
    })
}

/// One alert.
pub async fn alert(store: &Store, id: i64) -> Result<Alert> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM {ALERT_FROM} WHERE a.id = $1");
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("cost alert"))?;
        alert_row(&row)
    })
}

/// The resident and village of an alert (for the access decision; no personal data).
pub async fn alert_scope(store: &Store, id: i64) -> Result<(i64, DivisionCode)> {
    let (resident_id, division): (i64, String) = on_pool!(store, |pool| {
        sqlx::query_as("SELECT resident_id, division_code FROM cost_alert WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await
    })?
    .ok_or(StoreError::NotFound("cost alert"))?;
    let division = DivisionCode::parse(&division)
        .map_err(|_| StoreError::Other("stored alert has a bad division".into()))?;
    Ok((resident_id, division))
}

/// One household check or reopening.
#[derive(Clone, Debug)]
pub struct CheckRecord {
    pub id: i64,
    pub action: String,
    pub outcome: Option<String>,
    pub note: String,
    pub checked_on: NaiveDate,
    pub from_status: String,
    pub to_status: String,
    pub checked_by: Option<i64>,
    pub checked_by_name: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// An alert's checks, oldest first.
pub async fn checks(store: &Store, alert_id: i64) -> Result<Vec<CheckRecord>> {
    on_pool!(store, |pool| {
        sqlx::query(
            "SELECT k.id, k.action, k.outcome, k.note, k.checked_on, k.from_status, k.to_status, \
             k.checked_by, u.display_name, k.recorded_at FROM cost_alert_check k \
             LEFT JOIN app_user u ON u.id = k.checked_by WHERE k.alert_id = $1 ORDER BY k.id",
        )
        .bind(alert_id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(CheckRecord {
                id: r.col("id")?,
                action: r.col("action")?,
                outcome: r.col("outcome")?,
                note: r.col("note")?,
                checked_on: r.col("checked_on")?,
                from_status: r.col("from_status")?,
                to_status: r.col("to_status")?,
                checked_by: r.col("checked_by")?,
                checked_by_name: r.col("display_name")?,
                recorded_at: r.col("recorded_at")?,
            })
        })
        .collect()
    })
}

/// Why a check was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum CheckFailed {
    #[error(transparent)]
    Rule(#[from] yiwei_domain::cost_alert::CheckError),
    /// The access gate refused the viewer (outside reach, a role that records no checks).
    #[error(transparent)]
    Refused(#[from] yiwei_domain::access::Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Record a household check on an alert at `expected_version`, as the workflow allows;
/// returns the new status. The audit event is appended in the same transaction.
/// Callers outside the store go through `crate::access::cost_alert::record_check`; the
/// demo generator writes its checks here directly, as the system.
pub async fn record_check(
    store: &Store,
    alert_id: i64,
    expected_version: i64,
    input: &CheckInput,
    by: Option<i64>,
    today: NaiveDate,
    event: Event,
) -> Result<AlertStatus, CheckFailed> {
    let current = alert(store, alert_id).await?;
    let month = Month::parse(&current.month)
        .ok_or_else(|| StoreError::Other("stored alert has a bad month".into()))?;
    let next = yiwei_domain::cost_alert::record_check(current.status, month, input, today)?;
    change_status(
        store,
        &current,
        expected_version,
        next,
        Some(input.outcome.code()),
        "check",
        input.note.trim(),
        input.checked_on,
        by,
        event,
    )
    .await?;
    Ok(next)
}

/// Reopen a closed alert (the county found the check wanting), with a note.
pub(crate) async fn reopen(
    store: &Store,
    alert_id: i64,
    expected_version: i64,
    note: &str,
    by: Option<i64>,
    today: NaiveDate,
    event: Event,
) -> Result<AlertStatus, CheckFailed> {
    let current = alert(store, alert_id).await?;
    let next = current.status.after_reopen()?;
    if note.trim().is_empty() {
        return Err(yiwei_domain::cost_alert::CheckError::NoteRequired.into());
    }
    change_status(
        store,
        &current,
        expected_version,
        next,
        None,
        "reopen",
        note.trim(),
        today,
        by,
        event,
    )
    .await?;
    Ok(next)
}

#[expect(clippy::too_many_arguments, reason = "one row of the check table")]
async fn change_status(
    store: &Store,
    current: &Alert,
    expected_version: i64,
    next: AlertStatus,
    outcome: Option<&str>,
    action: &str,
    note: &str,
    on: NaiveDate,
    by: Option<i64>,
    event: Event,
) -> Result<()> {
    let now = crate::now();
    let closed_at = (next == AlertStatus::Closed).then_some(now);
    let mut tx = store.begin().await?;
    let changed = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE cost_alert SET status = $1, outcome = $2, closed_at = $3, version = version + 1 \
             WHERE id = $4 AND version = $5",
        )
        .bind(next.code())
        .bind(outcome)
        .bind(closed_at)
        .bind(current.id)
        .bind(expected_version)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    if changed != 1 {
        return Err(StoreError::Invalid(
            "该预警已被他人更新，请刷新后重试 / someone updated this alert meanwhile; reload and try again"
                .into(),
        ));
    }
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "INSERT INTO cost_alert_check (alert_id, action, outcome, note, checked_on, \
             from_status, to_status, checked_by, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(current.id)
        .bind(action)
        .bind(outcome)
        .bind(note)
        .bind(on)
        .bind(current.status.code())
        .bind(next.code())
        .bind(by)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })?;
    let event = event
        .object("cost_alert", current.id)
        .resident(current.resident_id)
        .reason(action);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Statistics

/// Counts of one month and township: alerts by status and outcome, and checks made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatRow {
    pub month: String,
    /// The 9-digit township code (乡镇).
    pub township: String,
    pub n_alerts: i64,
    pub n_open: i64,
    pub n_checking: i64,
    pub n_closed: i64,
    /// Household visits recorded (action `check`) on the month's alerts.
    pub n_checks: i64,
    /// (outcome code, alerts closed with it).
    pub outcomes: Vec<(String, i64)>,
}

/// (month, township, status, outcome, alerts).
type AlertCount = (String, String, String, Option<String>, i64);
/// (month, township, checks).
type CheckCount = (String, String, i64);

/// Statistics of the alerts under `root` for months `from..=to`, by month and township.
/// No personal data: counts only.
pub async fn stats(
    store: &Store,
    root: &DivisionCode,
    from: Month,
    to: Month,
) -> Result<Vec<StatRow>> {
    let (low, high) = root.subtree_range();
    let (from, to) = (from.to_string(), to.to_string());
    let (alerts, checks): (Vec<AlertCount>, Vec<CheckCount>) = on_pool!(store, |pool| {
        let a = sqlx::query_as(
                "SELECT month, SUBSTR(division_code, 1, 9) AS township, status, outcome, COUNT(*) \
                 FROM cost_alert WHERE division_code >= $1 AND division_code < $2 \
                 AND month >= $3 AND month <= $4 GROUP BY month, SUBSTR(division_code, 1, 9), status, outcome",
            )
            .bind(&low)
            .bind(&high)
            .bind(&from)
            .bind(&to)
            .fetch_all(pool)
            .await?;
        let k = sqlx::query_as(
                "SELECT a.month, SUBSTR(a.division_code, 1, 9) AS township, COUNT(*) \
                 FROM cost_alert_check k JOIN cost_alert a ON a.id = k.alert_id \
                 WHERE k.action = 'check' AND a.division_code >= $1 AND a.division_code < $2 \
                 AND a.month >= $3 AND a.month <= $4 GROUP BY a.month, SUBSTR(a.division_code, 1, 9)",
            )
            .bind(&low)
            .bind(&high)
            .bind(&from)
            .bind(&to)
            .fetch_all(pool)
            .await?;
        Ok::<_, StoreError>((a, k))
    })?;
    let mut rows: std::collections::BTreeMap<(String, String), StatRow> = Default::default();
    for (month, township, status, outcome, n) in alerts {
        let row = rows
            .entry((month.clone(), township.clone()))
            .or_insert_with(|| StatRow {
                month,
                township,
                ..StatRow::default()
            });
        row.n_alerts += n;
        match status.as_str() {
            "open" => row.n_open += n,
            "checking" => row.n_checking += n,
            _ => row.n_closed += n,
        }
        if let (Some(o), "closed") = (outcome, status.as_str()) {
            match row.outcomes.iter_mut().find(|(c, _)| *c == o) {
                Some((_, m)) => *m += n,
                None => row.outcomes.push((o, n)),
            }
        }
    }
    for (month, township, n) in checks {
        if let Some(row) = rows.get_mut(&(month, township)) {
            row.n_checks += n;
        }
    }
    let mut out: Vec<StatRow> = rows.into_values().collect();
    out.sort_by(|a, b| b.month.cmp(&a.month).then(a.township.cmp(&b.township)));
    for r in &mut out {
        r.outcomes.sort();
    }
    Ok(out)
}

/// The kinds of visit, for callers that parse a code.
pub fn visit_kind(code: &str) -> Option<VisitKind> {
    VisitKind::parse(code)
}
