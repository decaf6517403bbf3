//! Programme indicators per village, township and county for a period, and the residents
//! behind each figure (`yiwei_domain::programme::indicator`).
//!
//! Every figure is the sum of the domain's [`indicator::evaluate`] over the residents of a
//! division; a drill-down list runs the same reading and evaluation for one indicator and
//! keeps the residents in the part asked for, so a list holds exactly the people counted.
//!
//! How the facts are read (set-based, never one query per resident):
//! 1. the enrolments overlapping the period of the live residents of the subtree, once,
//!    keyed by resident (the table has no index led by `resident_id`, and enrolled residents
//!    are a small share of a county);
//! 2. the candidate residents in pages of [`PAGE`] by id: only those who can be in some
//!    denominator (young enough for a vaccine dose or the 0–6 figures, old enough for the
//!    65+ figure, or enrolled in the period) — the filter is in SQL, with an uncorrelated
//!    `IN` over the enrolments that both backends evaluate once;
//! 3. for each page, the non-voided visits (in the period; maternal care also the year
//!    before, for early registration) and doses (up to the period end) of the page's id
//!    range, through the `(resident_id, …)` indexes, merged by resident id in Rust.
//!
//! Residents are counted in the village of their current record. Signing coverage is the
//! contract module's ([`crate::contract::report`]) and is passed through, not recomputed.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::key_group::KeyGroup;
use yiwei_domain::programme::Pregnancy;
use yiwei_domain::programme::immunization::{self, Dose, Edition, Vaccine};
use yiwei_domain::programme::indicator::{
    self, Count, EnrolmentFact, Indicator, IndicatorConfig, IndicatorPeriod, Part, ResidentPeriod,
    Shortfall, VisitFact,
};
use yiwei_domain::programme::{Classification, Offset};
use yiwei_domain::ws365::Sex;

use crate::{Backend, Result, Row, Store, StoreError, on_pool};

/// Candidate residents read at once.
pub const PAGE: i64 = 5_000;

/// Numerator and denominator of one indicator in one division.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Figure {
    pub numerator: u64,
    pub denominator: u64,
}

impl Figure {
    /// The rate in percent; `None` when nobody is in the denominator.
    pub fn rate(self) -> Option<f64> {
        (self.denominator > 0).then(|| self.numerator as f64 * 100.0 / self.denominator as f64)
    }
}

/// The figures of one division, in catalogue order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DivisionFigures {
    pub code: String,
    pub name: String,
    pub figures: Vec<Figure>,
}

/// Every programme indicator of a division and of each of its child divisions, and the
/// signing coverage on the period end.
#[derive(Clone, Debug)]
pub struct Report {
    pub period: IndicatorPeriod,
    /// The immunization edition the dose indicators follow (in force on the period end).
    pub edition: &'static str,
    pub indicators: Vec<Indicator>,
    pub root: DivisionFigures,
    pub children: Vec<DivisionFigures>,
    pub signing: crate::contract::Coverage,
    /// Residents whose facts were evaluated (for the benchmark and the logs).
    pub evaluated: u64,
}

/// One resident behind a figure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub resident_id: i64,
    pub name: String,
    pub village_code: String,
    pub village: String,
    pub count: Count,
}

/// A page of the residents behind a figure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct List {
    pub indicator: Indicator,
    pub part: Part,
    /// How many residents are in the part (all pages).
    pub total: u64,
    pub rows: Vec<Listed>,
}

/// The edition in force on `on` (the oldest one before the first edition).
pub fn edition_for(on: NaiveDate) -> Edition {
    let all = immunization::editions();
    let chosen = immunization::edition_in_force(&all, on)
        .or(all.first())
        .cloned();
    chosen.unwrap_or_else(immunization::edition_2021)
}

/// The catalogue for `period` with `config`.
pub fn catalogue(config: &IndicatorConfig, period: IndicatorPeriod) -> Vec<Indicator> {
    indicator::catalogue(config, &edition_for(period.to))
}

/// Births after this day can be due a vaccine dose in the period or be 0–6 on its end.
fn young_cutoff(edition: &Edition, period: IndicatorPeriod) -> NaiveDate {
    // The oldest minimum age of any dose, in months (years and weeks rounded up).
    let months = edition
        .series
        .iter()
        .flat_map(|s| s.doses.iter())
        .map(|d| match d.min_age {
            Offset::Days(n) => n / 28 + 1,
            Offset::Weeks(n) => n / 4 + 1,
            Offset::Months(n) => n,
            Offset::Years(n) => n * 12,
        })
        .max()
        .unwrap_or(0)
        .max(7 * 12)
        + 1;
    period
        .from
        .checked_sub_months(chrono::Months::new(months))
        .unwrap_or(NaiveDate::MIN)
}

/// Births on or before this day can be `elderly_age` on the period end (two days of slack
/// for 29 February; the domain decides exactly).
fn old_cutoff(config: &IndicatorConfig, period: IndicatorPeriod) -> NaiveDate {
    yiwei_domain::contract::age_cutoff(period.to, config.elderly_age) + chrono::Duration::days(2)
}

struct Candidate {
    id: i64,
    division: String,
    facts: ResidentPeriod,
}

fn parse_episode(text: &str) -> Option<Pregnancy> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let date = |keys: &[&str]| {
        keys.iter().find_map(|k| {
            v.get(*k)
                .and_then(|x| x.as_str())
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        })
    };
    let p = Pregnancy {
        last_menstrual_period: date(&["lmp", "last_menstrual_period"]),
        expected_delivery: date(&["edd", "expected_delivery"]),
        delivered_on: date(&["delivered_on"]),
        discharged_on: date(&["discharged_on"]),
    };
    (p != Pregnancy::default()).then_some(p)
}

/// The enrolments overlapping the period of the live residents inside `root`, by resident.
async fn enrolments(
    store: &Store,
    root: &DivisionCode,
    period: IndicatorPeriod,
) -> Result<BTreeMap<i64, Vec<EnrolmentFact>>> {
    let (low, high) = root.subtree_range();
    let rows = on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT e.id, e.resident_id, e.programme, e.started_on, e.ended_on, e.episode \
             FROM programme_enrolment e JOIN resident r ON r.id = e.resident_id \
             WHERE r.division_code >= $1 AND r.division_code < $2 AND r.merged_into IS NULL \
             AND e.started_on <= $3 AND (e.ended_on IS NULL OR e.ended_on >= $4)",
        )
        .bind(&low)
        .bind(&high)
        .bind(period.to)
        .bind(period.from)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                let programme: String = r.col("programme")?;
                let episode: String = r.col("episode")?;
                Ok((
                    r.col::<i64>("resident_id")?,
                    EnrolmentFact {
                        id: r.col("id")?,
                        pregnancy: if programme == "maternal" {
                            parse_episode(&episode)
                        } else {
                            None
                        },
                        programme,
                        started_on: r.col("started_on")?,
                        ended_on: r.col("ended_on")?,
                    },
                ))
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let mut out: BTreeMap<i64, Vec<EnrolmentFact>> = BTreeMap::new();
    for (resident, e) in rows {
        out.entry(resident).or_default().push(e);
    }
    Ok(out)
}

/// One page of candidates after `after`, with their visits and doses.
async fn page(
    store: &Store,
    root: &DivisionCode,
    period: IndicatorPeriod,
    (young, old): (NaiveDate, NaiveDate),
    after: i64,
    enrolled: &mut BTreeMap<i64, Vec<EnrolmentFact>>,
) -> Result<Vec<Candidate>> {
    let (low, high) = root.subtree_range();
    let residents = on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT r.id, r.division_code, r.sex, r.birth_date, r.key_groups FROM resident r \
             WHERE r.division_code >= $1 AND r.division_code < $2 AND r.merged_into IS NULL AND r.id > $3 \
             AND (r.birth_date > $4 OR r.birth_date <= $5 OR r.id IN (SELECT e.resident_id \
             FROM programme_enrolment e WHERE e.started_on <= $6 AND (e.ended_on IS NULL OR e.ended_on >= $7))) \
             ORDER BY r.id LIMIT $8",
        )
        .bind(&low)
        .bind(&high)
        .bind(after)
        .bind(young)
        .bind(old)
        .bind(period.to)
        .bind(period.from)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                let sex: String = r.col("sex")?;
                let groups: String = r.col("key_groups")?;
                Ok(Candidate {
                    id: r.col("id")?,
                    division: r.col("division_code")?,
                    facts: ResidentPeriod {
                        birth_date: r.col("birth_date")?,
                        sex: Sex::parse(&sex).ok(),
                        key_groups: groups
                            .split(',')
                            .filter_map(|c| KeyGroup::ALL.into_iter().find(|g| g.code() == c))
                            .collect(),
                        ..ResidentPeriod::default()
                    },
                })
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let (Some(first), Some(last)) = (residents.first(), residents.last()) else {
        return Ok(residents);
    };
    let (lo, hi) = (first.id, last.id);
    // Maternal visits up to ~14 months before the period: the pregnancy of a delivery in it.
    let early = period
        .from
        .checked_sub_months(chrono::Months::new(14))
        .unwrap_or(NaiveDate::MIN);
    // One row per resident with the visits (doses) packed into a string: the per-row cost
    // of the drivers, not SQLite's work, dominated a run that read a row per visit.
    let (visit_list, dose_list) = match store.backend() {
        Backend::Sqlite => (
            "group_concat(programme || '|' || visit_code || '|' || visit_date || '|' || \
             COALESCE(enrolment_id, '') || '|' || COALESCE(classification, ''), ';')",
            "group_concat(vaccine || '|' || given_on, ';')",
        ),
        Backend::Postgres => (
            "string_agg(programme || '|' || visit_code || '|' || visit_date::text || '|' || \
             COALESCE(enrolment_id::text, '') || '|' || COALESCE(classification, ''), ';')",
            "string_agg(vaccine || '|' || given_on::text, ';')",
        ),
    };
    let visits_sql = format!(
        "SELECT resident_id, {visit_list} AS packed FROM programme_visit \
         WHERE resident_id >= $1 AND resident_id <= $2 AND voided_at IS NULL AND visit_date <= $3 \
         AND (visit_date >= $4 OR (programme = 'maternal' AND visit_date >= $5)) \
         GROUP BY resident_id ORDER BY resident_id"
    );
    let visits = on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(visits_sql.as_str()))
            .bind(lo)
            .bind(hi)
            .bind(period.to)
            .bind(period.from)
            .bind(early)
            .fetch_all(pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.col::<i64>("resident_id")?, r.col::<String>("packed")?)))
            .collect::<Result<Vec<_>>>()
    })?;
    let doses_sql = format!(
        "SELECT resident_id, {dose_list} AS packed FROM immunization \
         WHERE resident_id >= $1 AND resident_id <= $2 AND voided_at IS NULL AND given_on <= $3 \
         AND given_on > $4 GROUP BY resident_id ORDER BY resident_id"
    );
    let doses = on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(doses_sql.as_str()))
            .bind(lo)
            .bind(hi)
            .bind(period.to)
            .bind(young)
            .fetch_all(pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.col::<i64>("resident_id")?, r.col::<String>("packed")?)))
            .collect::<Result<Vec<_>>>()
    })?;
    // Merge the three id-ordered lists.
    let mut residents = residents;
    let (mut v, mut d) = (visits.into_iter().peekable(), doses.into_iter().peekable());
    for c in &mut residents {
        while v.next_if(|(id, _)| *id < c.id).is_some() {}
        if let Some((_, packed)) = v.next_if(|(id, _)| *id == c.id) {
            c.facts.visits = unpack_visits(&packed)?;
        }
        while d.next_if(|(id, _)| *id < c.id).is_some() {}
        if let Some((_, packed)) = d.next_if(|(id, _)| *id == c.id) {
            c.facts.doses = unpack_doses(&packed)?;
        }
        if let Some(e) = enrolled.remove(&c.id) {
            c.facts.enrolments = e;
        }
    }
    Ok(residents)
}

fn stored_date(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text.get(..10).unwrap_or(text), "%Y-%m-%d")
        .map_err(|_| StoreError::Other("a stored visit or dose has a bad date".into()))
}

/// `programme|code|date|enrolment|classification;…` as the visits query packs them.
fn unpack_visits(packed: &str) -> Result<Vec<VisitFact>> {
    packed
        .split(';')
        .filter(|v| !v.is_empty())
        .map(|v| {
            let mut f = v.split('|');
            let mut next = || f.next().unwrap_or("");
            let (programme, code, date, enrolment, class) =
                (next(), next(), next(), next(), next());
            Ok(VisitFact {
                programme: programme.to_owned(),
                code: code.to_owned(),
                date: stored_date(date)?,
                enrolment_id: enrolment.parse().ok(),
                classification: Classification::parse(class),
            })
        })
        .collect()
}

/// `vaccine|date;…` as the doses query packs them. A product code this build does not
/// know (a newer schedule) is not counted.
fn unpack_doses(packed: &str) -> Result<Vec<Dose>> {
    let mut out = Vec::new();
    for d in packed.split(';').filter(|d| !d.is_empty()) {
        let (code, date) = d.split_once('|').unwrap_or((d, ""));
        if let Some(vaccine) = Vaccine::parse(code) {
            out.push(Dose {
                vaccine,
                date: stored_date(date)?,
            });
        }
    }
    Ok(out)
}

/// Read and evaluate every candidate inside `root`, handing each resident's counts to `sink`.
async fn run(
    store: &Store,
    root: &DivisionCode,
    period: IndicatorPeriod,
    config: &IndicatorConfig,
    edition: &Edition,
    indicators: &[Indicator],
    mut sink: impl FnMut(&Candidate, Vec<Count>),
) -> Result<u64> {
    let mut enrolled = enrolments(store, root, period).await?;
    let cuts = (young_cutoff(edition, period), old_cutoff(config, period));
    let mut after = 0i64;
    let mut n = 0u64;
    loop {
        let candidates = page(store, root, period, cuts, after, &mut enrolled).await?;
        let Some(last) = candidates.last() else { break };
        after = last.id;
        for c in &candidates {
            let counts = indicator::evaluate(indicators, config, edition, &c.facts, period);
            sink(c, counts);
            n += 1;
        }
    }
    Ok(n)
}

/// The child divisions of `root` to show figures for (none for a village).
async fn child_divisions(store: &Store, root: &DivisionCode) -> Result<Vec<(String, String)>> {
    Ok(crate::division::children(store, root)
        .await?
        .into_iter()
        .map(|d| (d.code.as_str().to_owned(), d.name))
        .collect())
}

/// Every programme indicator of `root` and of its children for `period`, with the signing
/// coverage on the period end.
pub async fn report(
    store: &Store,
    root: &DivisionCode,
    period: IndicatorPeriod,
    config: &IndicatorConfig,
) -> Result<Report> {
    let edition = edition_for(period.to);
    let indicators = indicator::catalogue(config, &edition);
    let width = indicators.len();
    let children = child_divisions(store, root).await?;
    let child_digits = root
        .level()
        .child()
        .map_or(root.as_str().len(), |l| l.digits());
    let mut sums: HashMap<String, Vec<Figure>> = HashMap::new();
    let evaluated = run(
        store,
        root,
        period,
        config,
        &edition,
        &indicators,
        |c, counts| {
            let key = c.division.get(..child_digits).unwrap_or(&c.division);
            let row = sums
                .entry(key.to_owned())
                .or_insert_with(|| vec![Figure::default(); width]);
            for (f, count) in row.iter_mut().zip(counts) {
                f.numerator += u64::from(count.numerator);
                f.denominator += u64::from(count.denominator);
            }
        },
    )
    .await?;
    let mut total = vec![Figure::default(); width];
    for row in sums.values() {
        for (t, f) in total.iter_mut().zip(row) {
            t.numerator += f.numerator;
            t.denominator += f.denominator;
        }
    }
    let root_division = crate::division::get(store, root).await?;
    let children = children
        .into_iter()
        .map(|(code, name)| DivisionFigures {
            figures: sums
                .remove(&code)
                .unwrap_or_else(|| vec![Figure::default(); width]),
            code,
            name,
        })
        .collect();
    let signing = crate::contract::report(store, root, period.to).await?;
    tracing::debug!(
        division = root.as_str(),
        residents = evaluated,
        "programme indicators evaluated"
    );
    Ok(Report {
        period,
        edition: edition.code,
        indicators,
        root: DivisionFigures {
            code: root.as_str().to_owned(),
            name: root_division.name,
            figures: total,
        },
        children,
        signing,
        evaluated,
    })
}

/// Every programme indicator per village inside `root` (the village of each resident's
/// current record) for `period`: the grain `crate::indicator` keeps as maintained
/// aggregates. The same evaluation as [`report`], in one pass over the subtree.
pub async fn by_village(
    store: &Store,
    root: &DivisionCode,
    period: IndicatorPeriod,
    config: &IndicatorConfig,
) -> Result<(Vec<Indicator>, BTreeMap<String, Vec<Figure>>)> {
    let edition = edition_for(period.to);
    let indicators = indicator::catalogue(config, &edition);
    let width = indicators.len();
    let mut sums: BTreeMap<String, Vec<Figure>> = BTreeMap::new();
    run(
        store,
        root,
        period,
        config,
        &edition,
        &indicators,
        |c, counts| {
            let row = sums
                .entry(c.division.clone())
                .or_insert_with(|| vec![Figure::default(); width]);
            for (f, count) in row.iter_mut().zip(counts) {
                f.numerator += u64::from(count.numerator);
                f.denominator += u64::from(count.denominator);
            }
        },
    )
    .await?;
    Ok((indicators, sums))
}

/// The residents inside `root` in `part` of indicator `code` for `period`, by resident id,
/// `limit` from `offset`, with the total.
#[expect(
    clippy::too_many_arguments,
    reason = "the figure's coordinates and a page"
)]
pub async fn list(
    store: &Store,
    root: &DivisionCode,
    period: IndicatorPeriod,
    config: &IndicatorConfig,
    code: &str,
    part: Part,
    limit: usize,
    offset: usize,
) -> Result<List> {
    let edition = edition_for(period.to);
    let Some(wanted) = indicator::catalogue(config, &edition)
        .into_iter()
        .find(|i| i.code == code)
    else {
        return Err(StoreError::NotFound("indicator"));
    };
    let one = std::slice::from_ref(&wanted);
    let mut total = 0u64;
    let mut kept: Vec<(i64, Count)> = Vec::new();
    run(
        store,
        root,
        period,
        config,
        &edition,
        one,
        |c, mut counts| {
            let count = counts.pop().unwrap_or_default();
            if count.is_in(part) {
                if total >= offset as u64 && kept.len() < limit {
                    kept.push((c.id, count));
                }
                total += 1;
            }
        },
    )
    .await?;
    let names = names(store, kept.iter().map(|k| k.0).collect()).await?;
    let rows = kept
        .into_iter()
        .filter_map(|(id, count)| {
            let (name, village_code, village) = names.get(&id)?.clone();
            Some(Listed {
                resident_id: id,
                name,
                village_code,
                village,
                count,
            })
        })
        .collect();
    Ok(List {
        indicator: wanted,
        part,
        total,
        rows,
    })
}

/// Names and villages of residents, by id.
async fn names(store: &Store, ids: Vec<i64>) -> Result<HashMap<i64, (String, String, String)>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(200) {
        let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT r.id, r.name, r.division_code, d.name AS village FROM resident r \
             JOIN division d ON d.code = r.division_code WHERE r.id IN ({})",
            marks.join(", ")
        );
        let rows = on_pool!(store, |pool| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for id in chunk {
                q = q.bind(*id);
            }
            let rows = q.fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.col::<i64>("id")?,
                        (
                            r.col::<String>("name")?,
                            r.col::<String>("division_code")?,
                            r.col::<String>("village")?,
                        ),
                    ))
                })
                .collect::<Result<Vec<_>>>()
        })?;
        out.extend(rows);
    }
    Ok(out)
}

/// The reasons of a listed resident in one language, joined.
pub fn reasons(shortfalls: &[Shortfall], english: bool) -> String {
    shortfalls
        .iter()
        .map(|s| {
            if english {
                s.en.as_str()
            } else {
                s.zh.as_str()
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}
