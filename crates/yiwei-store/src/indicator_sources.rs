//! The imaging, mutual-recognition and cost-alert sources of the maintained indicators, and
//! the strata (sex, age group, key group) written beside the totals. A child module of
//! `crate::indicator`, so it shares its period bounds, binds and row helpers.
//!
//! What each source reads, as of the period's end (docs/indicators.md):
//! - `imaging`: studies by their exam date (`study_date`; without one, by the instant they
//!   reached the cloud), shares with another institution and patients' share links by creation, report
//!   versions by the instant they were signed; all at the study's division.
//! - `recognition`: the 互认 ledger by decision instant, at the resident's village copied
//!   into the row; the savings are the fen copied at the decision, so later price changes
//!   do not rewrite a past period.
//! - `cost_alerts`: alerts by the month they were raised for, at the village copied into the
//!   alert; household checks by the day of the visit; an alert is "checked" when a check
//!   was recorded on or before the period's last day. The key group of an alert is the rule
//!   population copied when it was raised.
//!
//! Strata are computed in the same grouped query as the totals (grouped by village, sex,
//! age band and key-group text), so they cost one scan, not one per stratum.

use std::collections::BTreeMap;

use yiwei_domain::indicator::breakdown::{self, AgeGroup, Person};

use super::{Bind, Binds, Computed, Span, grouped, push};
use crate::{Result, Row, Store, on_pool};
use yiwei_domain::division::DivisionCode;
use yiwei_domain::indicator::{self as rules, Fraction, Period};

// ---------------------------------------------------------------------------------------
// Strata

/// Figures per (indicator, village) with their strata, filled row by row.
#[derive(Default)]
pub(super) struct Split {
    figures: BTreeMap<(&'static str, String), BTreeMap<String, Fraction>>,
    dims: BTreeMap<&'static str, Vec<rules::Disaggregation>>,
}

impl Split {
    /// Add `f` to `code`'s total at `division`, and to the strata of `person` that the
    /// catalogue allows for `code` (no person: the total only).
    pub(super) fn add(
        &mut self,
        code: &'static str,
        division: &str,
        person: Option<&Person<'_>>,
        f: Fraction,
    ) {
        let dims = self.dims.entry(code).or_insert_with(|| {
            rules::by_code(code)
                .map(|d| breakdown::stored_of(d.disaggregations))
                .unwrap_or_default()
        });
        let e = self.figures.entry((code, division.to_owned())).or_default();
        match person {
            Some(p) => breakdown::fan_out(e, dims, p, f),
            None => {
                let t = e.entry(String::new()).or_default();
                *t = Fraction::sum([*t, f]);
            }
        }
    }

    /// The rows to store: every total (zeros included, as the other sources write them)
    /// and every stratum that is not 0/0.
    pub(super) fn into_rows(self) -> Vec<Computed> {
        let mut out = Vec::new();
        for ((code, division), strata) in self.figures {
            for (key, fraction) in strata {
                if !key.is_empty() && fraction == Fraction::default() {
                    continue;
                }
                out.push(Computed {
                    indicator: code.to_owned(),
                    division_code: division.clone(),
                    breakdown: key,
                    fraction,
                });
            }
        }
        out
    }
}

/// SQL giving the age rank of the date column `col` on a day (see
/// [`AgeGroup::from_rank`]): -1 unknown or unborn, else how many of the ages 7, 18, 35, 65
/// were reached. Takes five parameters from `$first`: the day and the cutoffs of 65, 35, 18
/// and 7 years ([`age_binds`]).
pub(super) fn age_rank(col: &str, first: usize) -> String {
    let [d, c65, c35, c18, c7] = [0, 1, 2, 3, 4].map(|i| first + i);
    format!(
        "CAST(CASE WHEN {col} IS NULL OR {col} > ${d} THEN -1 WHEN {col} <= ${c65} THEN 4 \
         WHEN {col} <= ${c35} THEN 3 WHEN {col} <= ${c18} THEN 2 WHEN {col} <= ${c7} THEN 1 \
         ELSE 0 END AS BIGINT)"
    )
}

/// The binds of [`age_rank`] for the day `on`.
pub(super) fn age_binds(on: chrono::NaiveDate) -> Vec<Bind> {
    let [c7, c18, c35, c65] = AgeGroup::cutoffs(on);
    vec![
        Bind::Date(on),
        Bind::Date(c65),
        Bind::Date(c35),
        Bind::Date(c18),
        Bind::Date(c7),
    ]
}

/// One row of a query grouped by village, sex, age rank and key-group text.
pub(super) struct PersonRow {
    pub division: String,
    sex: String,
    rank: i64,
    keys: String,
    pub values: Vec<i64>,
}

impl PersonRow {
    /// A resident group: key groups from the band and the stored tags.
    pub(super) fn resident(&self) -> Person<'_> {
        Person::banded(&self.sex, self.age(), &self.keys)
    }

    /// A group whose key-group text is a single code (an alert's rule population).
    fn as_is(&self) -> Person<'_> {
        Person {
            sex: &self.sex,
            age: self.age(),
            key_groups: vec![self.keys.as_str()],
        }
    }

    fn age(&self) -> AgeGroup {
        AgeGroup::from_rank(u32::try_from(self.rank).ok())
    }
}

/// Run a query returning `division_code`, `sex`, `age_rank`, `key_text` and the integer
/// columns `names`.
pub(super) async fn person_rows(
    store: &Store,
    sql: &str,
    binds: Binds<'_>,
    names: &[&str],
) -> Result<Vec<PersonRow>> {
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
                Ok(PersonRow {
                    division: r.col("division_code")?,
                    sex: r.col("sex")?,
                    rank: r.col("age_rank")?,
                    keys: r.col::<Option<String>>("key_text")?.unwrap_or_default(),
                    values,
                })
            })
            .collect()
    })
}

/// One stratum of a figure, summed over a division's subtree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stratum {
    pub indicator: String,
    pub period: String,
    /// `sex:female`, `age:65+`, `key:<group>` (`yiwei_domain::indicator::breakdown`).
    pub breakdown: String,
    pub fraction: Fraction,
}

/// The strata of `indicators` in `period` inside `root`, summed over the subtree (a
/// township's `sex:female` is the sum of its villages'). Strata that were 0/0 are absent.
pub async fn strata(
    store: &Store,
    root: &DivisionCode,
    indicators: &[&str],
    period: Period,
) -> Result<Vec<Stratum>> {
    if indicators.is_empty() {
        return Ok(Vec::new());
    }
    let (low, high) = root.subtree_range();
    let marks: Vec<String> = (0..indicators.len())
        .map(|i| format!("${}", i + 4))
        .collect();
    let sql = format!(
        "SELECT indicator, breakdown, CAST(SUM(numerator) AS BIGINT) AS n, \
         CAST(SUM(denominator) AS BIGINT) AS d FROM indicator_value \
         WHERE division_code >= $1 AND division_code < $2 AND period = $3 AND breakdown <> '' \
         AND indicator IN ({}) GROUP BY indicator, breakdown ORDER BY indicator, breakdown",
        marks.join(", ")
    );
    let period_key = period.to_string();
    on_pool!(store, |pool| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&low)
            .bind(&high)
            .bind(&period_key);
        for i in indicators {
            q = q.bind(*i);
        }
        let rows = q.fetch_all(pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Stratum {
                    indicator: r.col("indicator")?,
                    period: period_key.clone(),
                    breakdown: r.col("breakdown")?,
                    fraction: Fraction::new(r.col("n")?, r.col("d")?),
                })
            })
            .collect()
    })
}

// ---------------------------------------------------------------------------------------
// Sources

fn range_and_instants(span: &Span) -> Vec<Bind> {
    vec![
        Bind::Text(span.low.clone()),
        Bind::Text(span.high.clone()),
        Bind::At(span.from_at),
        Bind::At(span.until_at),
    ]
}

pub(super) async fn imaging(store: &Store, span: &Span) -> Result<Vec<Computed>> {
    let binds = range_and_instants(span);
    let mut dated = range_and_instants(span);
    dated.extend([Bind::Date(span.from), Bind::Date(span.to)]);
    let counts = [
        (
            "imaging_studies",
            // By the exam date (a study performed in December and uploaded in January is
            // December's work); a study without a date by the instant it arrived.
            "SELECT division_code, COUNT(*) AS n FROM imaging_study \
             WHERE division_code >= $1 AND division_code < $2 AND ((study_date >= $5 AND study_date <= $6) \
             OR (study_date IS NULL AND created_at >= $3 AND created_at < $4)) \
             GROUP BY division_code",
        ),
        (
            "imaging_shares",
            "SELECT s.division_code, COUNT(*) AS n FROM imaging_share h \
             JOIN imaging_study s ON s.id = h.study_id \
             WHERE s.division_code >= $1 AND s.division_code < $2 AND h.created_at >= $3 \
             AND h.created_at < $4 GROUP BY s.division_code",
        ),
        (
            "imaging_reports_signed",
            "SELECT s.division_code, COUNT(*) AS n FROM imaging_report r \
             JOIN imaging_study s ON s.id = r.study_id \
             WHERE s.division_code >= $1 AND s.division_code < $2 AND r.signed_at >= $3 \
             AND r.signed_at < $4 GROUP BY s.division_code",
        ),
        (
            "imaging_patient_links",
            "SELECT s.division_code, COUNT(*) AS n FROM imaging_share_link l \
             JOIN imaging_study s ON s.id = l.study_id \
             WHERE s.division_code >= $1 AND s.division_code < $2 AND l.created_at >= $3 \
             AND l.created_at < $4 GROUP BY s.division_code",
        ),
    ];
    let mut out = Vec::new();
    for (code, sql) in counts {
        let binds = if code == "imaging_studies" {
            &dated
        } else {
            &binds
        };
        for (division, v) in grouped(store, sql, binds, &["n"]).await? {
            push(&mut out, code, &division, v[0], 0);
        }
    }
    Ok(out)
}

pub(super) async fn recognition(store: &Store, span: &Span) -> Result<Vec<Computed>> {
    let rows = grouped(
        store,
        "SELECT division_code, \
         CAST(SUM(CASE WHEN decision = 'recognised' THEN 1 ELSE 0 END) AS BIGINT) AS recognised, \
         COUNT(*) AS decided, CAST(SUM(saved_patient_fen) AS BIGINT) AS patient_fen, \
         CAST(SUM(saved_institution_fen) AS BIGINT) AS institution_fen FROM recognition \
         WHERE division_code >= $1 AND division_code < $2 AND decided_at >= $3 AND decided_at < $4 \
         GROUP BY division_code",
        &range_and_instants(span),
        &["recognised", "decided", "patient_fen", "institution_fen"],
    )
    .await?;
    let mut out = Vec::new();
    for (division, v) in rows {
        push(&mut out, "imaging_recognitions", &division, v[0], 0);
        push(&mut out, "recognition_rate", &division, v[0], v[1]);
        push(&mut out, "recognition_savings_patients", &division, v[2], 0);
        push(
            &mut out,
            "recognition_savings_institutions",
            &division,
            v[3],
            0,
        );
    }
    Ok(out)
}

/// `YYYY-MM` of a day.
fn month_key(d: chrono::NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

pub(super) async fn cost_alerts(store: &Store, span: &Span) -> Result<Vec<Computed>> {
    let sql = format!(
        "SELECT a.division_code, r.sex, {} AS age_rank, a.population AS key_text, \
         COUNT(*) AS n, CAST(SUM(CASE WHEN EXISTS (SELECT 1 FROM cost_alert_check k \
         WHERE k.alert_id = a.id AND k.action = 'check' AND k.checked_on <= $5) THEN 1 ELSE 0 END) \
         AS BIGINT) AS checked FROM cost_alert a JOIN resident r ON r.id = a.resident_id \
         WHERE a.division_code >= $1 AND a.division_code < $2 AND a.month >= $3 AND a.month <= $4 \
         GROUP BY a.division_code, r.sex, age_rank, a.population",
        age_rank("r.birth_date", 5)
    );
    let mut binds = vec![
        Bind::Text(span.low.clone()),
        Bind::Text(span.high.clone()),
        Bind::Text(month_key(span.from)),
        Bind::Text(month_key(span.to)),
    ];
    binds.extend(age_binds(span.to));
    let rows = person_rows(store, &sql, &binds, &["n", "checked"]).await?;
    let mut split = Split::default();
    for row in &rows {
        let p = row.as_is();
        let (n, checked) = (row.values[0], row.values[1]);
        split.add("cost_alerts", &row.division, Some(&p), Fraction::new(n, 0));
        split.add(
            "cost_alerts_checked",
            &row.division,
            Some(&p),
            Fraction::new(checked, n),
        );
    }
    let mut out = split.into_rows();
    let checks = grouped(
        store,
        "SELECT a.division_code, COUNT(*) AS n FROM cost_alert_check k \
         JOIN cost_alert a ON a.id = k.alert_id WHERE k.action = 'check' \
         AND a.division_code >= $1 AND a.division_code < $2 AND k.checked_on >= $3 \
         AND k.checked_on <= $4 GROUP BY a.division_code",
        &[
            Bind::Text(span.low.clone()),
            Bind::Text(span.high.clone()),
            Bind::Date(span.from),
            Bind::Date(span.to),
        ],
        &["n"],
    )
    .await?;
    for (division, v) in checks {
        push(&mut out, "household_checks", &division, v[0], 0);
    }
    Ok(out)
}

/// The fingerprint queries of the sources here: (SQL, binds) per table, built with the
/// parent's `q` (count / highest id / a third summary).
pub(super) fn fingerprints(
    source: &str,
    span: &Span,
    q: &dyn Fn(&str, &str, &str) -> String,
) -> Option<Vec<(String, Vec<Bind>)>> {
    let instants = || vec![Bind::At(span.from_at), Bind::At(span.until_at)];
    Some(match source {
        // Linking a study later moves it (and its shares, reports, links) to the
        // resident's village: the whole study table's latest update is in the print.
        "imaging" => vec![
            (q("imaging_study", "MAX(updated_at)", "1 = 1"), vec![]),
            (
                q("imaging_share", "0", "created_at >= $1 AND created_at < $2"),
                instants(),
            ),
            (
                q(
                    "imaging_report",
                    "MAX(updated_at)",
                    "signed_at >= $1 AND signed_at < $2",
                ),
                instants(),
            ),
            (
                q(
                    "imaging_share_link",
                    "0",
                    "created_at >= $1 AND created_at < $2",
                ),
                instants(),
            ),
        ],
        // The ledger is append-only.
        "recognition" => vec![(
            q("recognition", "0", "decided_at >= $1 AND decided_at < $2"),
            instants(),
        )],
        "cost_alerts" => vec![
            (
                q("cost_alert", "SUM(version)", "month >= $1 AND month <= $2"),
                vec![
                    Bind::Text(month_key(span.from)),
                    Bind::Text(month_key(span.to)),
                ],
            ),
            (q("cost_alert_check", "MAX(checked_on)", "1 = 1"), vec![]),
            // Sex and birth date of the strata.
            (q("resident", "MAX(updated_at)", "1 = 1"), vec![]),
        ],
        _ => return None,
    })
}
