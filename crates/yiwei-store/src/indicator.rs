//! Maintained indicator aggregates (`yiwei_domain::indicator`): one numerator and
//! denominator per indicator × period × division in `indicator_value`, refreshed per
//! (source × period) by set-based SQL, read back by summing over a division-code prefix
//! range (a township's or county's figure is the sum of its villages', never a mean).
//!
//! Rules that make a past period reproducible (docs/indicators.md):
//! - every source reads dated facts *as of the period's end*: records created by then,
//!   contracts in force on the last day, cases by diagnosis date, referrals by request time,
//!   bookings by creation time, programme visits and doses up to the last day;
//! - a refresh first takes a cheap fingerprint of the facts a source reads for the period
//!   (counts, highest ids, sums of row versions) and skips the period when it is unchanged,
//!   so the night job does not rescan unchanged months;
//! - a closed period (`period_close`) is frozen: a refresh recomputes it and records what
//!   differs in `indicator_difference`, and never overwrites the published figures.
//!
//! What it does not do: facts without a date are read as they are now (a resident's current
//! village, a card's current status, a record merged later); such edits show up as a
//! difference of a closed period rather than silently. Per-village dirty marking is not
//! done: a changed source recomputes the whole county for that period.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use yiwei_domain::division::{DivisionCode, Level};
use yiwei_domain::indicator::{self as rules, Fraction, Period, Source};
use yiwei_domain::notifiable::disease::{self, Class};
use yiwei_domain::programme::indicator::{IndicatorConfig, IndicatorPeriod};

use crate::{Result, Row, Store, StoreError, on_pool, on_tx};

// The imaging, recognition and cost-alert sources and the strata (a child module, so it
// shares this module's private helpers).
#[path = "indicator_sources.rs"]
mod sources;
pub use sources::{Stratum, strata};

/// The sources the refresh runs, with the version written beside their figures. Bump a
/// version when its SQL changes meaning, so a stored figure says which definition made it.
pub const SOURCES: &[(&str, &str)] = &[
    // /2: sex, age-group and key-group strata beside the totals.
    ("records", "records/2"),
    ("contracts", "contracts/2"),
    ("contract_services", "contract_services/1"),
    ("programmes", "programmes/1"),
    ("notifiable", "notifiable/2"),
    ("foodborne", "foodborne/1"),
    ("signals", "signals/1"),
    ("referrals", "referrals/1"),
    ("bookings", "bookings/1"),
    ("imaging", "imaging/1"),
    ("recognition", "recognition/1"),
    ("cost_alerts", "cost_alerts/1"),
];

fn version_of(source: &str) -> &'static str {
    SOURCES
        .iter()
        .find(|(s, _)| *s == source)
        .map_or("unknown", |(_, v)| v)
}

/// One computed figure: indicator, division, stratum (`''` for the total, else
/// `sex:female`, `age:65+`, `key:<group>`: `yiwei_domain::indicator::breakdown`),
/// numerator and denominator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Computed {
    pub indicator: String,
    pub division_code: String,
    pub breakdown: String,
    pub fraction: Fraction,
}

/// A period's bounds as the sources read them.
struct Span {
    period: Period,
    from: NaiveDate,
    to: NaiveDate,
    /// The first instant of `from` and of the day after `to`, in the county's time.
    from_at: DateTime<Utc>,
    until_at: DateTime<Utc>,
    low: String,
    high: String,
}

impl Span {
    fn new(county: &DivisionCode, period: Period, utc_offset_hours: i32) -> Span {
        let at = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
                - chrono::Duration::hours(i64::from(utc_offset_hours))
        };
        let (low, high) = county.subtree_range();
        let to = period.last_day();
        Span {
            period,
            from: period.first_day(),
            to,
            from_at: at(period.first_day()),
            until_at: at(to.succ_opt().unwrap_or(to)),
            low,
            high,
        }
    }
}

/// How a refresh runs.
#[derive(Clone, Debug)]
pub struct RefreshOptions {
    pub county: DivisionCode,
    pub utc_offset_hours: i32,
    /// Recompute even when the fingerprint is unchanged.
    pub force: bool,
}

/// What a refresh did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefreshOutcome {
    /// Time spent computing each source (fingerprints not included).
    pub timings: BTreeMap<&'static str, std::time::Duration>,
    /// (source × period) pairs recomputed.
    pub computed: u64,
    /// Pairs skipped because their facts had not changed.
    pub unchanged: u64,
    /// Figures written.
    pub rows: u64,
    /// Figures of closed periods that differ from the frozen ones.
    pub differences: u64,
}

/// The sources with at least one maintained indicator kept for `period`'s kind.
fn sources_for(period: Period) -> Vec<&'static str> {
    SOURCES
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| {
            rules::catalogue()
                .iter()
                .any(|d| d.source == Source::Maintained(s) && d.kept_for(period.kind()))
        })
        .collect()
}

/// The maintained indicators of `source` kept for `period`'s kind.
fn codes_of(source: &str, period: Period) -> Vec<&'static str> {
    rules::catalogue()
        .iter()
        .filter(|d| {
            matches!(d.source, Source::Maintained(s) if s == source) && d.kept_for(period.kind())
        })
        .map(|d| d.code)
        .collect()
}

/// Refresh every maintained indicator for `periods`.
pub async fn refresh(
    store: &Store,
    periods: &[Period],
    options: &RefreshOptions,
) -> Result<RefreshOutcome> {
    let mut out = RefreshOutcome::default();
    // Fingerprint queries over whole tables are the same for every period of a run.
    let mut memo: HashMap<String, String> = HashMap::new();
    for period in periods {
        let closed = is_closed(store, *period).await?;
        for source in sources_for(*period) {
            let span = Span::new(&options.county, *period, options.utc_offset_hours);
            let print = fingerprint(store, source, &span, &mut memo).await?;
            let stored = stored_fingerprint(store, source, *period).await?;
            if !options.force && stored.as_deref() == Some(print.as_str()) {
                out.unchanged += 1;
                continue;
            }
            let started = std::time::Instant::now();
            let rows = compute(store, source, &span).await?;
            let codes = codes_of(source, *period);
            let rows: Vec<Computed> = rows
                .into_iter()
                .filter(|r| codes.contains(&r.indicator.as_str()))
                .collect();
            if closed {
                out.differences += record_differences(store, *period, &codes, &rows).await?;
            } else {
                out.rows += write(store, source, *period, &codes, &rows, &print).await?;
            }
            out.computed += 1;
            *out.timings.entry(source).or_default() += started.elapsed();
            tracing::debug!(
                source,
                period = %period,
                rows = rows.len(),
                duration_ms = started.elapsed().as_millis() as u64,
                "indicator source refreshed"
            );
        }
    }
    Ok(out)
}

async fn stored_fingerprint(store: &Store, source: &str, period: Period) -> Result<Option<String>> {
    on_pool!(store, |pool| {
        let row = sqlx::query(
            "SELECT fingerprint, source_version FROM indicator_refresh WHERE source = $1 AND period = $2",
        )
        .bind(source)
        .bind(period.to_string())
        .fetch_optional(pool)
        .await?;
        row.map(|r| {
            let version: String = r.col("source_version")?;
            let print: String = r.col("fingerprint")?;
            // Another definition made the stored figures: never "unchanged".
            Ok((version == version_of(source)).then_some(print))
        })
        .transpose()
        .map(Option::flatten)
    })
}

/// Replace the figures of `codes` for `period` with `rows`, and remember the fingerprint.
async fn write(
    store: &Store,
    source: &str,
    period: Period,
    codes: &[&str],
    rows: &[Computed],
    print: &str,
) -> Result<u64> {
    let now = Utc::now();
    let period_key = period.to_string();
    let version = version_of(source);
    let mut tx = store.begin().await?;
    for code in codes {
        on_tx!(&mut tx, |conn| {
            sqlx::query("DELETE FROM indicator_value WHERE period = $1 AND indicator = $2")
                .bind(&period_key)
                .bind(*code)
                .execute(&mut *conn)
                .await
                .map(|_| ())
        })?;
    }
    for chunk in rows.chunks(400) {
        let marks: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = i * 8;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO indicator_value (indicator, period, division_code, breakdown, numerator, \
             denominator, computed_at, source_version) VALUES {}",
            marks.join(", ")
        );
        on_tx!(&mut tx, |conn| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for r in chunk {
                q = q
                    .bind(r.indicator.as_str())
                    .bind(&period_key)
                    .bind(r.division_code.as_str())
                    .bind(r.breakdown.as_str())
                    .bind(r.fraction.numerator)
                    .bind(r.fraction.denominator)
                    .bind(now)
                    .bind(version);
            }
            q.execute(&mut *conn).await.map(|_| ())
        })?;
    }
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "INSERT INTO indicator_refresh (source, period, fingerprint, source_version, computed_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, period) DO UPDATE SET \
             fingerprint = excluded.fingerprint, source_version = excluded.source_version, \
             computed_at = excluded.computed_at",
        )
        .bind(source)
        .bind(&period_key)
        .bind(print)
        .bind(version)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })?;
    tx.commit().await?;
    Ok(rows.len() as u64)
}

/// A figure of a closed period that a refresh found different.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub indicator: String,
    pub period: String,
    pub division_code: String,
    /// `''` for the total, else the stratum.
    pub breakdown: String,
    pub frozen: Fraction,
    pub now: Fraction,
}

/// Compare `rows` with the frozen figures of `codes` in `period` and keep the differences
/// (replacing those an earlier refresh found).
async fn record_differences(
    store: &Store,
    period: Period,
    codes: &[&str],
    rows: &[Computed],
) -> Result<u64> {
    let period_key = period.to_string();
    type Key = (String, String, String);
    let mut frozen: BTreeMap<Key, Fraction> = BTreeMap::new();
    for code in codes {
        let found = on_pool!(store, |pool| {
            let found = sqlx::query(
                "SELECT division_code, breakdown, numerator, denominator FROM indicator_value \
                 WHERE period = $1 AND indicator = $2",
            )
            .bind(&period_key)
            .bind(*code)
            .fetch_all(pool)
            .await?;
            found
                .iter()
                .map(|r| {
                    Ok((
                        r.col::<String>("division_code")?,
                        r.col::<String>("breakdown")?,
                        Fraction::new(r.col("numerator")?, r.col("denominator")?),
                    ))
                })
                .collect::<Result<Vec<_>>>()
        })?;
        for (division, breakdown, f) in found {
            frozen.insert(((*code).to_owned(), division, breakdown), f);
        }
    }
    let mut now: BTreeMap<Key, Fraction> = rows
        .iter()
        .map(|r| {
            (
                (
                    r.indicator.clone(),
                    r.division_code.clone(),
                    r.breakdown.clone(),
                ),
                r.fraction,
            )
        })
        .collect();
    let mut keys: Vec<Key> = frozen.keys().cloned().collect();
    keys.extend(now.keys().cloned());
    keys.sort();
    keys.dedup();
    let found_at = Utc::now();
    let mut tx = store.begin().await?;
    for code in codes {
        on_tx!(&mut tx, |conn| {
            sqlx::query("DELETE FROM indicator_difference WHERE period = $1 AND indicator = $2")
                .bind(&period_key)
                .bind(*code)
                .execute(&mut *conn)
                .await
                .map(|_| ())
        })?;
    }
    let mut n = 0;
    for key in keys {
        let old = frozen.get(&key).copied().unwrap_or_default();
        let new = now.remove(&key).unwrap_or_default();
        if old == new {
            continue;
        }
        n += 1;
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "INSERT INTO indicator_difference (indicator, period, division_code, breakdown, \
                 frozen_numerator, frozen_denominator, numerator, denominator, found_at) \
                 VALUES ($1, $2, $3, $9, $4, $5, $6, $7, $8)",
            )
            .bind(&key.0)
            .bind(&period_key)
            .bind(&key.1)
            .bind(old.numerator)
            .bind(old.denominator)
            .bind(new.numerator)
            .bind(new.denominator)
            .bind(found_at)
            .bind(&key.2)
            .execute(&mut *conn)
            .await
            .map(|_| ())
        })?;
    }
    tx.commit().await?;
    Ok(n)
}

/// The differences the latest refresh found in a closed period.
pub async fn differences(store: &Store, period: Period) -> Result<Vec<Difference>> {
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT indicator, period, division_code, breakdown, frozen_numerator, \
             frozen_denominator, numerator, denominator FROM indicator_difference \
             WHERE period = $1 ORDER BY indicator, division_code, breakdown",
        )
        .bind(period.to_string())
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Difference {
                    indicator: r.col("indicator")?,
                    period: r.col("period")?,
                    division_code: r.col("division_code")?,
                    breakdown: r.col("breakdown")?,
                    frozen: Fraction::new(r.col("frozen_numerator")?, r.col("frozen_denominator")?),
                    now: Fraction::new(r.col("numerator")?, r.col("denominator")?),
                })
            })
            .collect()
    })
}

// ---------------------------------------------------------------------------------------
// Closing periods (关账)

/// The periods whose closing freezes `period`: itself, its quarter (for a month) and its year.
fn closing_keys(period: Period) -> Vec<String> {
    let mut keys = vec![period.to_string(), Period::Year(period.year()).to_string()];
    if let Period::Month(y, m) = period {
        keys.push(Period::Quarter(y, (m - 1) / 3 + 1).to_string());
    }
    keys.dedup();
    keys
}

/// Whether `period` (or a period containing it) is closed.
pub async fn is_closed(store: &Store, period: Period) -> Result<bool> {
    let keys = closing_keys(period);
    let marks: Vec<String> = (1..=keys.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT COUNT(*) FROM period_close WHERE period IN ({})",
        marks.join(", ")
    );
    let n: i64 = on_pool!(store, |pool| {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()));
        for k in &keys {
            q = q.bind(k.as_str());
        }
        q.fetch_one(pool).await
    })?;
    Ok(n > 0)
}

/// Close `period`: its figures (and those of the periods inside it) become the published
/// ones. Only an ended period can be closed; closing twice is a conflict.
pub async fn close_period(
    store: &Store,
    period: Period,
    today: NaiveDate,
    by: Option<i64>,
    note: &str,
) -> Result<()> {
    if !period.ended_by(today) {
        return Err(StoreError::Invalid(format!(
            "期间尚未结束，不能关账 · period {period} has not ended yet"
        )));
    }
    on_pool!(store, |pool| {
        sqlx::query(
            "INSERT INTO period_close (period, closed_at, closed_by, note) VALUES ($1, $2, $3, $4)",
        )
        .bind(period.to_string())
        .bind(Utc::now())
        .bind(by)
        .bind(note)
        .execute(pool)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Reading the figures

/// One figure read back: an indicator's fraction in a period for a division (a group of
/// stored divisions summed by code prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figure {
    pub indicator: String,
    pub period: String,
    pub division_code: String,
    pub fraction: Fraction,
}

/// The figures of `indicators` in `periods` inside `root`, summed per division-code prefix
/// of `group_digits` (the root's own length for the root's total; 9 for townships, 12 for
/// villages). Divisions with no stored row are absent (a reader shows "—", not zero).
pub async fn figures(
    store: &Store,
    root: &DivisionCode,
    indicators: &[&str],
    periods: &[Period],
    group_digits: usize,
) -> Result<Vec<Figure>> {
    if indicators.is_empty() || periods.is_empty() {
        return Ok(Vec::new());
    }
    let (low, high) = root.subtree_range();
    let mut n = 3;
    let mut mark = || {
        n += 1;
        format!("${n}")
    };
    let ind_marks: Vec<String> = indicators.iter().map(|_| mark()).collect();
    let per_marks: Vec<String> = periods.iter().map(|_| mark()).collect();
    let sql = format!(
        "SELECT indicator, period, substr(division_code, 1, CAST($3 AS INTEGER)) AS g, \
         CAST(SUM(numerator) AS BIGINT) AS n, CAST(SUM(denominator) AS BIGINT) AS d FROM indicator_value \
         WHERE division_code >= $1 AND division_code < $2 AND breakdown = '' \
         AND indicator IN ({}) AND period IN ({}) GROUP BY indicator, period, g \
         ORDER BY indicator, period, g",
        ind_marks.join(", "),
        per_marks.join(", ")
    );
    let period_keys: Vec<String> = periods.iter().map(Period::to_string).collect();
    on_pool!(store, |pool| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&low)
            .bind(&high)
            .bind(group_digits as i64);
        for i in indicators {
            q = q.bind(*i);
        }
        for p in &period_keys {
            q = q.bind(p.as_str());
        }
        let rows = q.fetch_all(pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Figure {
                    indicator: r.col("indicator")?,
                    period: r.col("period")?,
                    division_code: r.col("g")?,
                    fraction: Fraction::new(r.col("n")?, r.col("d")?),
                })
            })
            .collect()
    })
}

/// When the figures of `period` were last computed (the latest source), if ever.
pub async fn computed_at(store: &Store, period: Period) -> Result<Option<DateTime<Utc>>> {
    on_pool!(store, |pool| {
        let row = sqlx::query(
            "SELECT computed_at FROM indicator_refresh WHERE period = $1 \
             ORDER BY computed_at DESC LIMIT 1",
        )
        .bind(period.to_string())
        .fetch_optional(pool)
        .await?;
        Ok(row.map(|r| r.col("computed_at")).transpose()?)
    })
}

// ---------------------------------------------------------------------------------------
// Sources: one set-based computation per source, per village, as of the period's end.

async fn compute(store: &Store, source: &str, span: &Span) -> Result<Vec<Computed>> {
    match source {
        "records" => records(store, span).await,
        "contracts" => contracts(store, span).await,
        "contract_services" => contract_services(store, span).await,
        "programmes" => programmes(store, span).await,
        "notifiable" => notifiable(store, span).await,
        "foodborne" => foodborne(store, span).await,
        "signals" => signals(store, span).await,
        "referrals" => referrals(store, span).await,
        "bookings" => bookings(store, span).await,
        "imaging" => sources::imaging(store, span).await,
        "recognition" => sources::recognition(store, span).await,
        "cost_alerts" => sources::cost_alerts(store, span).await,
        other => Err(StoreError::Other(format!(
            "unknown indicator source {other}"
        ))),
    }
}

/// Run a grouped query returning `division_code` and integer columns `names`.
async fn grouped(
    store: &Store,
    sql: &str,
    binds: Binds<'_>,
    names: &[&str],
) -> Result<Vec<(String, Vec<i64>)>> {
    on_pool!(store, |pool| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = match b {
                Bind::Text(t) => q.bind(t.as_str()),
                Bind::Date(d) => q.bind(*d),
                Bind::At(t) => q.bind(*t),
                Bind::Int(i) => q.bind(*i),
            };
        }
        let rows = q.fetch_all(pool).await?;
        rows.iter()
            .map(|r| {
                let values = names
                    .iter()
                    .map(|n| r.col::<Option<i64>>(n).map(|v| v.unwrap_or(0)))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok((r.col::<String>("division_code")?, values))
            })
            .collect()
    })
}

enum Bind {
    Text(String),
    Int(i64),
    Date(NaiveDate),
    At(DateTime<Utc>),
}

type Binds<'a> = &'a [Bind];

fn push(out: &mut Vec<Computed>, code: &str, division: &str, n: i64, d: i64) {
    out.push(Computed {
        indicator: code.to_owned(),
        division_code: division.to_owned(),
        breakdown: String::new(),
        fraction: Fraction::new(n, d),
    });
}

/// The 常住人口 of the year at the finest level entered inside the county (villages when
/// any village has a figure, else townships, else the county), by division code.
async fn population(store: &Store, span: &Span) -> Result<Vec<(String, i64)>> {
    let rows = grouped(
        store,
        "SELECT code AS division_code, population FROM division_population \
         WHERE code >= $1 AND code < $2 AND year = $3",
        &[
            Bind::Text(span.low.clone()),
            Bind::Text(span.high.clone()),
            Bind::Int(i64::from(span.period.year())),
        ],
        &["population"],
    )
    .await?;
    let level = |c: &str| DivisionCode::parse(c).map(|d| d.level()).ok();
    let finest = [Level::Village, Level::Township, Level::County]
        .into_iter()
        .find(|l| rows.iter().any(|(c, _)| level(c) == Some(*l)));
    Ok(rows
        .into_iter()
        .filter(|(c, _)| finest.is_some() && level(c) == finest)
        .map(|(c, v)| (c, v[0]))
        .collect())
}

async fn records(store: &Store, span: &Span) -> Result<Vec<Computed>> {
    let sql = format!(
        "SELECT division_code, sex, {} AS age_rank, key_groups AS key_text, COUNT(*) AS n \
         FROM resident WHERE division_code >= $1 AND division_code < $2 AND merged_into IS NULL \
         AND created_at < $3 GROUP BY division_code, sex, age_rank, key_groups",
        sources::age_rank("birth_date", 4)
    );
    let mut binds = vec![
        Bind::Text(span.low.clone()),
        Bind::Text(span.high.clone()),
        Bind::At(span.until_at),
    ];
    binds.extend(sources::age_binds(span.to));
    let rows = sources::person_rows(store, &sql, &binds, &["n"]).await?;
    let mut split = sources::Split::default();
    let mut held: BTreeMap<&str, i64> = BTreeMap::new();
    for row in &rows {
        let n = row.values[0];
        split.add(
            "records_held",
            &row.division,
            Some(&row.resident()),
            Fraction::new(n, 0),
        );
        *held.entry(row.division.as_str()).or_default() += n;
    }
    let mut out = split.into_rows();
    for (division, n) in held {
        push(&mut out, "records_coverage", division, n, 0);
    }
    for (division, population) in population(store, span).await? {
        // The denominator sits where the statistics bureau's figure is entered; the
        // prefix roll-up adds it to the villages' numerators.
        match out
            .iter_mut()
            .find(|c| c.indicator == "records_coverage" && c.division_code == division)
        {
            Some(c) => c.fraction.denominator += population,
            None => push(&mut out, "records_coverage", &division, 0, population),
        }
    }
    Ok(out)
}

/// The SQL condition that resident `r` is in a key group on the period end (`$4`: the
/// latest birth date of a 65-year-old, `$5`: of a 7-year-old, `$3`: the end), as
/// `crate::contract::coverage` counts them.
fn key_condition() -> String {
    let mut parts = vec![
        "r.birth_date <= $4".to_owned(),
        "(r.birth_date > $5 AND r.birth_date <= $3)".to_owned(),
    ];
    for g in yiwei_domain::contract::KEY_POPULATIONS {
        use yiwei_domain::key_group::KeyGroup;
        if matches!(g, KeyGroup::Elderly65 | KeyGroup::Child0to6) {
            continue;
        }
        parts.push(format!(
            "(',' || r.key_groups || ',') LIKE '%,{},%' ESCAPE '\\'",
            g.code().replace('_', "\\_")
        ));
    }
    format!("({})", parts.join(" OR "))
}

async fn contracts(store: &Store, span: &Span) -> Result<Vec<Computed>> {
    let sql = format!(
        "SELECT t.division_code, t.sex, {rank} AS age_rank, t.key_groups AS key_text, \
         COUNT(*) AS residents, SUM(t.s) AS signed, SUM(t.k) AS key_residents, \
         SUM(t.k * t.s) AS key_signed, SUM(t.p * t.s) AS poverty_signed FROM (SELECT r.division_code, \
         r.sex, r.birth_date, r.key_groups, \
         CASE WHEN EXISTS (SELECT 1 FROM contract c WHERE c.resident_id = r.id AND c.starts_on <= $3 \
         AND COALESCE(c.ended_on, c.ends_on) >= $3 AND c.ends_on >= $3) THEN 1 ELSE 0 END AS s, \
         CASE WHEN {key} THEN 1 ELSE 0 END AS k, \
         CASE WHEN (',' || r.key_groups || ',') LIKE '%,poverty\\_alleviated,%' ESCAPE '\\' THEN 1 ELSE 0 END AS p \
         FROM resident r WHERE r.division_code >= $1 AND r.division_code < $2 AND r.merged_into IS NULL \
         AND r.created_at < $6) t GROUP BY t.division_code, t.sex, age_rank, t.key_groups",
        rank = sources::age_rank("t.birth_date", 7),
        key = key_condition()
    );
    let mut binds = vec![
        Bind::Text(span.low.clone()),
        Bind::Text(span.high.clone()),
        Bind::Date(span.to),
        Bind::Date(yiwei_domain::contract::age_cutoff(span.to, 65)),
        Bind::Date(yiwei_domain::contract::age_cutoff(span.to, 7)),
        Bind::At(span.until_at),
    ];
    binds.extend(sources::age_binds(span.to));
    let rows = sources::person_rows(
        store,
        &sql,
        &binds,
        &[
            "residents",
            "signed",
            "key_residents",
            "key_signed",
            "poverty_signed",
        ],
    )
    .await?;
    let mut split = sources::Split::default();
    for row in &rows {
        let v = &row.values;
        let p = row.resident();
        let d = row.division.as_str();
        split.add("contracts_signed", d, Some(&p), Fraction::new(v[1], 0));
        split.add("contract_coverage", d, Some(&p), Fraction::new(v[1], v[0]));
        split.add(
            "contract_key_coverage",
            d,
            Some(&p),
            Fraction::new(v[3], v[2]),
        );
        split.add(
            "contracts_poverty_signed",
            d,
            Some(&p),
            Fraction::new(v[4], 0),
        );
    }
    Ok(split.into_rows())
}

async fn contract_services(store: &Store, span: &Span) -> Result<Vec<Computed>> {
    let rows = grouped(
        store,
        "SELECT c.division_code, COUNT(*) AS n FROM contract_service s JOIN contract c ON c.id = s.contract_id \
         WHERE c.division_code >= $1 AND c.division_code < $2 AND s.delivered_on >= $3 AND s.delivered_on <= $4 \
         GROUP BY c.division_code",
        &[
            Bind::Text(span.low.clone()),
            Bind::Text(span.high.clone()),
            Bind::Date(span.from),
            Bind::Date(span.to),
        ],
        &["n"],
    )
    .await?;
    let mut out = Vec::new();
    for (division, v) in rows {
        push(&mut out, "contract_services", &division, v[0], 0);
    }
    Ok(out)
}

async fn programmes(store: &Store, span: &Span) -> Result<Vec<Computed>> {
    let county = DivisionCode::parse(&span.low)
        .map_err(|e| StoreError::Other(format!("county code: {e}")))?;
    let period = IndicatorPeriod::new(span.from, span.to)
        .map_err(|e| StoreError::Other(format!("period: {e}")))?;
    let (indicators, villages) =
        crate::programme_indicator::by_village(store, &county, period, &IndicatorConfig::default())
            .await?;
    let mut out = Vec::new();
    for (division, figures) in villages {
        let mut coverage = Fraction::default();
        let mut timely = Fraction::default();
        for (ind, f) in indicators.iter().zip(figures) {
            let f = Fraction::new(f.numerator as i64, f.denominator as i64);
            if ind.code.starts_with("vaccine_timely:") {
                timely = Fraction::sum([timely, f]);
            } else if ind.code.starts_with("vaccine:") {
                coverage = Fraction::sum([coverage, f]);
            } else {
                push(&mut out, &ind.code, &division, f.numerator, f.denominator);
            }
        }
        push(
            &mut out,
            "immunization_coverage",
            &division,
            coverage.numerator,
            coverage.denominator,
        );
        push(
            &mut out,
            "immunization_timely",
            &division,
            timely.numerator,
            timely.denominator,
        );
    }
    Ok(out)
}

/// Case cards of one village, disease, sex, birth date and diagnosis date.
struct CaseGroup {
    division: String,
    disease: String,
    sex: String,
    birth: NaiveDate,
    diagnosed: NaiveDate,
    n: i64,
    on_time: i64,
}

async fn notifiable(store: &Store, span: &Span) -> Result<Vec<Computed>> {
    let rows = on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT division_code, disease, sex, birth_date, diagnosed_on, COUNT(*) AS n, \
             SUM(CASE WHEN on_time THEN 1 ELSE 0 END) AS on_time FROM case_report \
             WHERE diagnosed_on >= $1 AND diagnosed_on <= $2 AND division_code >= $3 AND division_code < $4 \
             AND status IN ('pending', 'probable_duplicate', 'accepted') \
             GROUP BY division_code, disease, sex, birth_date, diagnosed_on",
        )
        .bind(span.from)
        .bind(span.to)
        .bind(&span.low)
        .bind(&span.high)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CaseGroup {
                    division: r.col("division_code")?,
                    disease: r.col("disease")?,
                    sex: r.col("sex")?,
                    birth: r.col("birth_date")?,
                    diagnosed: r.col("diagnosed_on")?,
                    n: r.col("n")?,
                    on_time: r.col::<Option<i64>>("on_time")?.unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>>>()
    })?;
    // (cases, on time) per village for the timeliness and the incidence; the counts with
    // their sex and age-at-diagnosis strata.
    let mut per: BTreeMap<String, [i64; 2]> = BTreeMap::new();
    let mut split = sources::Split::default();
    for g in &rows {
        let e = per.entry(g.division.clone()).or_default();
        e[0] += g.n;
        e[1] += g.on_time;
        let class = disease::by_code(&g.disease).map(|d| d.class);
        let person = yiwei_domain::indicator::breakdown::Person {
            sex: &g.sex,
            age: yiwei_domain::indicator::breakdown::AgeGroup::on(Some(g.birth), g.diagnosed),
            key_groups: Vec::new(),
        };
        let of = |yes: bool| Fraction::new(if yes { g.n } else { 0 }, 0);
        split.add("notifiable_cases", &g.division, Some(&person), of(true));
        split.add(
            "notifiable_class_b",
            &g.division,
            Some(&person),
            of(class == Some(Class::B)),
        );
        split.add(
            "notifiable_class_c",
            &g.division,
            Some(&person),
            of(class == Some(Class::C)),
        );
    }
    let mut out = split.into_rows();
    for (division, [n, on_time]) in &per {
        push(&mut out, "notifiable_timely", division, *on_time, *n);
        push(&mut out, "notifiable_incidence", division, *n, 0);
    }
    for (division, population) in population(store, span).await? {
        match out
            .iter_mut()
            .find(|c| c.indicator == "notifiable_incidence" && c.division_code == division)
        {
            Some(c) => c.fraction.denominator += population,
            None => push(&mut out, "notifiable_incidence", &division, 0, population),
        }
    }
    Ok(out)
}

async fn foodborne(store: &Store, span: &Span) -> Result<Vec<Computed>> {
    let rows = grouped(
        store,
        "SELECT division_code, COUNT(*) AS n, SUM(CASE WHEN on_time THEN 1 ELSE 0 END) AS on_time \
         FROM foodborne_case WHERE division_code >= $1 AND division_code < $2 \
         AND visit_at >= $3 AND visit_at < $4 AND status <> 'deleted' GROUP BY division_code",
        &[
            Bind::Text(span.low.clone()),
            Bind::Text(span.high.clone()),
            Bind::At(span.from_at),
            Bind::At(span.until_at),
        ],
        &["n", "on_time"],
    )
    .await?;
    let mut out = Vec::new();
    for (division, v) in rows {
        push(&mut out, "foodborne_cases", &division, v[0], 0);
        push(&mut out, "foodborne_timely", &division, v[1], v[0]);
    }
    Ok(out)
}

async fn signals(store: &Store, span: &Span) -> Result<Vec<Computed>> {
    let rows = grouped(
        store,
        "SELECT division_code, COUNT(*) AS n, \
         SUM(CASE WHEN status IN ('verified', 'responding', 'closed') THEN 1 ELSE 0 END) AS handled \
         FROM warning_signal WHERE division_code >= $1 AND division_code < $2 \
         AND day >= $3 AND day <= $4 GROUP BY division_code",
        &[
            Bind::Text(span.low.clone()),
            Bind::Text(span.high.clone()),
            Bind::Date(span.from),
            Bind::Date(span.to),
        ],
        &["n", "handled"],
    )
    .await?;
    let mut out = Vec::new();
    for (division, v) in rows {
        push(&mut out, "warning_signals", &division, v[0], 0);
        push(&mut out, "warning_signals_handled", &division, v[1], v[0]);
    }
    Ok(out)
}

async fn referrals(store: &Store, span: &Span) -> Result<Vec<Computed>> {
    let rows = grouped(
        store,
        "SELECT division_code, SUM(CASE WHEN direction = 'up' THEN 1 ELSE 0 END) AS up, \
         SUM(CASE WHEN direction = 'down' THEN 1 ELSE 0 END) AS down, \
         SUM(CASE WHEN green_channel THEN 1 ELSE 0 END) AS green FROM referral \
         WHERE division_code >= $1 AND division_code < $2 AND requested_at >= $3 AND requested_at < $4 \
         AND state <> 'cancelled' GROUP BY division_code",
        &[
            Bind::Text(span.low.clone()),
            Bind::Text(span.high.clone()),
            Bind::At(span.from_at),
            Bind::At(span.until_at),
        ],
        &["up", "down", "green"],
    )
    .await?;
    let mut out = Vec::new();
    for (division, v) in rows {
        push(&mut out, "referrals_up", &division, v[0], 0);
        push(&mut out, "referrals_down", &division, v[1], 0);
        push(&mut out, "referrals_green_channel", &division, v[2], 0);
    }
    Ok(out)
}

async fn bookings(store: &Store, span: &Span) -> Result<Vec<Computed>> {
    let rows = grouped(
        store,
        "SELECT division_code, COUNT(*) AS n, \
         SUM(CASE WHEN channel = 'resident' THEN 1 ELSE 0 END) AS online, \
         SUM(CASE WHEN status = 'attended' THEN 1 ELSE 0 END) AS attended, \
         SUM(CASE WHEN status IN ('attended', 'no_show') THEN 1 ELSE 0 END) AS settled FROM booking \
         WHERE division_code >= $1 AND division_code < $2 AND created_at >= $3 AND created_at < $4 \
         GROUP BY division_code",
        &[
            Bind::Text(span.low.clone()),
            Bind::Text(span.high.clone()),
            Bind::At(span.from_at),
            Bind::At(span.until_at),
        ],
        &["n", "online", "attended", "settled"],
    )
    .await?;
    let mut out = Vec::new();
    for (division, v) in rows {
        push(&mut out, "bookings", &division, v[0], 0);
        push(&mut out, "bookings_online_share", &division, v[1], v[0]);
        push(&mut out, "bookings_attended", &division, v[2], v[3]);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Fingerprints: what a source reads for a period, summarised cheaply.

async fn fingerprint(
    store: &Store,
    source: &str,
    span: &Span,
    memo: &mut HashMap<String, String>,
) -> Result<String> {
    // count / highest id / a third summary per table, as one text.
    let q = |table: &str, third: &str, filter: &str| {
        format!(
            "SELECT CAST(COUNT(*) AS TEXT) || '/' || CAST(COALESCE(MAX(id), 0) AS TEXT) || '/' \
             || COALESCE(CAST(({third}) AS TEXT), '') AS f FROM {table} WHERE {filter}"
        )
    };
    let days = || vec![Bind::Date(span.from), Bind::Date(span.to)];
    let instants = || vec![Bind::At(span.from_at), Bind::At(span.until_at)];
    let residents = (q("resident", "MAX(updated_at)", "1 = 1"), vec![]);
    let population = (
        q("division_population", "SUM(population)", "year = $1"),
        vec![Bind::Int(i64::from(span.period.year()))],
    );
    let queries: Vec<(String, Vec<Bind>)> = match source {
        other if let Some(queries) = sources::fingerprints(other, span, &q) => queries,
        "records" => vec![residents, population],
        "contracts" => vec![
            residents,
            (q("contract", "COUNT(ended_on)", "1 = 1"), vec![]),
            (q("contract", "MAX(ended_on)", "1 = 1"), vec![]),
        ],
        "contract_services" => vec![(
            q(
                "contract_service",
                "0",
                "delivered_on >= $1 AND delivered_on <= $2",
            ),
            days(),
        )],
        "programmes" => vec![
            residents,
            (q("programme_visit", "COUNT(voided_at)", "1 = 1"), vec![]),
            (q("immunization", "COUNT(voided_at)", "1 = 1"), vec![]),
            (q("programme_enrolment", "COUNT(ended_on)", "1 = 1"), vec![]),
        ],
        "notifiable" => vec![
            (
                q(
                    "case_report",
                    "SUM(version)",
                    "diagnosed_on >= $1 AND diagnosed_on <= $2",
                ),
                days(),
            ),
            population,
        ],
        "foodborne" => vec![(
            q(
                "foodborne_case",
                "SUM(version)",
                "visit_at >= $1 AND visit_at < $2",
            ),
            instants(),
        )],
        "signals" => vec![(
            q(
                "warning_signal",
                "MAX(COALESCE(closed_at, verified_at, raised_at))",
                "day >= $1 AND day <= $2",
            ),
            days(),
        )],
        "referrals" => vec![(
            q(
                "referral",
                "SUM(version)",
                "requested_at >= $1 AND requested_at < $2",
            ),
            instants(),
        )],
        "bookings" => vec![(
            q(
                "booking",
                "SUM(version)",
                "created_at >= $1 AND created_at < $2",
            ),
            instants(),
        )],
        other => {
            return Err(StoreError::Other(format!(
                "unknown indicator source {other}"
            )));
        }
    };
    let mut parts = Vec::new();
    for (sql, binds) in queries {
        // A query without parameters reads a whole table: the same answer for every period.
        if binds.is_empty()
            && let Some(part) = memo.get(&sql)
        {
            parts.push(part.clone());
            continue;
        }
        let part: String = on_pool!(store, |pool| {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()));
            for b in &binds {
                q = match b {
                    Bind::Text(t) => q.bind(t.as_str()),
                    Bind::Date(d) => q.bind(*d),
                    Bind::At(t) => q.bind(*t),
                    Bind::Int(i) => q.bind(*i),
                };
            }
            q.fetch_one(pool).await
        })?;
        if binds.is_empty() {
            memo.insert(sql, part.clone());
        }
        parts.push(part);
    }
    Ok(parts.join(";"))
}

/// The demo county only (`yiwei demo`, right after building it): date every record's
/// registration (`created_at`) no later than `on`, so that the generated history of two
/// years (visits, contracts, cases) has records to belong to as of each period's end. Real
/// records keep the instant they were created; nothing else calls this.
pub async fn date_demo_records(store: &Store, on: DateTime<Utc>) -> Result<u64> {
    on_pool!(store, |pool| {
        sqlx::query("UPDATE resident SET created_at = $1 WHERE created_at > $1")
            .bind(on)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })
    .map_err(Into::into)
}
