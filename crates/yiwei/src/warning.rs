//! The early-warning run (预警): every day, for every configured method, disease and area
//! (each township and the county), evaluate the case series and store a signal for each
//! alarm, with the method, its parameters, the observed count, the threshold and the
//! baseline, so anyone can see why it fired.
//!
//! The algorithms are `yiwei_domain::surveillance` (not written here). This module reads
//! the configuration (`[warning]` in `yiwei.toml`), builds the series from the daily counts
//! (`yiwei_store::notifiable::refresh_counts`, by the county's local diagnosis date, cards
//! that count: pending, probable duplicate, accepted), and stores signals idempotently:
//! re-running a day adds nothing (`warning_signal` is unique per day, disease, area and
//! method).
//!
//! Defaults follow CIDARS (`shared/domain.md` §5 \[S\]): the fixed threshold of one case for
//! 甲类 and the single-case list (鼠疫, 霍乱, SARS, 脊灰, 人感染禽流感/新亚型流感, 炭疽 — CIDARS
//! names 肺炭疽, but the series is per disease, so any anthrax case alerts —, 不明原因肺炎,
//! 白喉, 丝虫病, MERS, 埃博拉); the moving percentile method with the 2008–10 optimal
//! percentiles for its listed diseases; EARS C1–C3 for every other disease; and the
//! Farrington flexible method on weekly series (Monday–Sunday, evaluated on Sundays) for
//! the high-count seasonal diseases, with `b = 2` years because a county
//! that has just started (and the demo) has three years of data, not R's default five.
//!
//! CIDARS runs its temporal models per county; so do the defaults here for MPM, EARS and
//! Farrington (`areas = "county"`). Only the fixed threshold also runs per township. Run
//! per township, the percentile method at P50–P70 on counts of a few cases a week fires
//! most days (the demo gave ~1,200 signals in 60 days that way, against the 62 a year a
//! county review reports).

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use yiwei_domain::division::{DivisionCode, Level};
use yiwei_domain::notifiable::disease;
use yiwei_domain::surveillance::{
    self, EarsParams, FarringtonParams, FixedParams, Method, MovingPercentileParams, Series, Step,
    SurveillanceError,
};
use yiwei_store::Store;
use yiwei_store::notifiable::{self, NewSignal};

/// `[warning]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WarningConfig {
    /// Run the daily warning job at all.
    pub enabled: bool,
    /// The county's local hour after which the day before is evaluated (0–23).
    pub run_hour: u32,
    /// The methods per disease. A rule applies to the diseases it names; `"*"` means every
    /// disease in force that no `fixed` rule names. Set in the file only (not from the
    /// environment).
    pub rules: Vec<Rule>,
}

/// One method for a set of diseases. Parameters left out take the method's defaults
/// (`yiwei_domain::surveillance`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// `fixed`, `mpm`, `ears_c1`, `ears_c2`, `ears_c3` or `farrington`.
    pub method: String,
    /// Disease codes (`yiwei_domain::notifiable::disease`), or `"*"`.
    pub diseases: Vec<String>,
    /// `both` (each township and the county), `township` or `county`.
    #[serde(default = "both")]
    pub areas: String,
    /// fixed: alarm when the day's count reaches this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    /// mpm: the percentile of the historical 7-day counts (0–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentile: Option<f64>,
    /// ears: baseline days; farrington: years back (`b`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<usize>,
    /// ears and farrington: the significance level α.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// farrington: weeks either side (`w`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<usize>,
}

fn both() -> String {
    "both".into()
}

fn rule(method: &str, diseases: &[&str], areas: &str) -> Rule {
    Rule {
        method: method.into(),
        diseases: diseases.iter().map(|d| (*d).to_owned()).collect(),
        areas: areas.into(),
        threshold: None,
        percentile: None,
        baseline: None,
        alpha: None,
        window: None,
    }
}

fn mpm(percentile: f64, diseases: &[&str]) -> Rule {
    Rule {
        percentile: Some(percentile),
        ..rule("mpm", diseases, "county")
    }
}

impl Default for WarningConfig {
    fn default() -> Self {
        let fixed = Rule {
            threshold: Some(1),
            ..rule(
                "fixed",
                &[
                    "plague",
                    "cholera",
                    "sars",
                    "polio",
                    "novel_influenza",
                    "hpai",
                    "h7n9",
                    "anthrax",
                    "unexplained_pneumonia",
                    "diphtheria",
                    "filariasis",
                    "mers",
                    "ebola",
                ],
                "both",
            )
        };
        let farrington = Rule {
            baseline: Some(2),
            ..rule(
                "farrington",
                &["influenza", "hfmd", "other_diarrhoea", "mumps", "varicella"],
                "county",
            )
        };
        WarningConfig {
            enabled: true,
            run_hour: 6,
            rules: vec![
                fixed,
                mpm(50.0, &["dysentery"]),
                mpm(60.0, &["other_diarrhoea", "mumps"]),
                mpm(70.0, &["influenza", "rubella"]),
                mpm(80.0, &["japanese_encephalitis"]),
                mpm(
                    90.0,
                    &[
                        "scarlet_fever",
                        "typhoid",
                        "ahc",
                        "malaria",
                        "hfrs",
                        "meningococcal",
                        "leptospirosis",
                        "dengue",
                        "typhus",
                        "measles",
                    ],
                ),
                rule("ears_c1", &["*"], "county"),
                rule("ears_c2", &["*"], "county"),
                rule("ears_c3", &["*"], "county"),
                farrington,
            ],
        }
    }
}

impl Rule {
    /// The method with this rule's parameters.
    pub fn method(&self) -> Result<Method> {
        let ears = || {
            let mut p = EarsParams::default();
            if let Some(b) = self.baseline {
                p.baseline = b;
            }
            if let Some(a) = self.alpha {
                p.alpha = Some(a);
            }
            p
        };
        Ok(match self.method.as_str() {
            "fixed" => {
                let mut p = FixedParams::default();
                if let Some(t) = self.threshold {
                    p.threshold = t;
                }
                Method::Fixed(p)
            }
            "mpm" => {
                let mut p = MovingPercentileParams::default();
                if let Some(q) = self.percentile {
                    p.percentile = q;
                }
                Method::MovingPercentile(p)
            }
            "ears_c1" => Method::EarsC1(ears()),
            "ears_c2" => Method::EarsC2(ears()),
            "ears_c3" => Method::EarsC3(ears()),
            "farrington" => {
                let mut p = FarringtonParams::default();
                if let Some(b) = self.baseline {
                    p.b = b;
                }
                if let Some(w) = self.window {
                    p.w = w;
                }
                if let Some(a) = self.alpha {
                    p.alpha = a;
                }
                Method::Farrington(p)
            }
            other => bail!(
                "warning rule method {other:?} is not one of fixed, mpm, ears_c1, ears_c2, ears_c3, farrington"
            ),
        })
    }

    fn weekly(&self) -> bool {
        self.method == "farrington"
    }
}

impl WarningConfig {
    /// Check every rule: known method, known diseases, areas, parameter ranges.
    pub fn check(&self) -> Result<()> {
        if self.run_hour > 23 {
            bail!("warning.run_hour must be 0–23, got {}", self.run_hour);
        }
        for (i, r) in self.rules.iter().enumerate() {
            let at = || format!("warning.rules[{i}] ({})", r.method);
            r.method().with_context(at)?;
            if !matches!(r.areas.as_str(), "both" | "township" | "county") {
                bail!(
                    "{}: areas must be both, township or county, got {:?}",
                    at(),
                    r.areas
                );
            }
            if r.diseases.is_empty() {
                bail!("{}: name at least one disease, or \"*\"", at());
            }
            for d in &r.diseases {
                if d != "*" && disease::by_code(d).is_none() {
                    bail!(
                        "{}: {d:?} is not a disease code (see docs/notifiable.md)",
                        at()
                    );
                }
            }
            if let Some(p) = r.percentile
                && !(0.0..=100.0).contains(&p)
            {
                bail!("{}: percentile must be 0–100, got {p}", at());
            }
            if let Some(a) = r.alpha
                && !(a > 0.0 && a < 0.5)
            {
                bail!("{}: alpha must be between 0 and 0.5, got {a}", at());
            }
        }
        Ok(())
    }

    /// The (rule, disease) pairs in force on `day`.
    fn plan(&self, day: NaiveDate) -> Vec<(&Rule, &'static str)> {
        let fixed_named: Vec<&str> = self
            .rules
            .iter()
            .filter(|r| r.method == "fixed")
            .flat_map(|r| r.diseases.iter().map(String::as_str))
            .collect();
        let mut out = Vec::new();
        for r in &self.rules {
            for d in disease::in_force(day) {
                let named = r.diseases.iter().any(|x| x == d.code);
                let star = r.diseases.iter().any(|x| x == "*") && !fixed_named.contains(&d.code);
                if named || star {
                    out.push((r, d.code));
                }
            }
        }
        out
    }
}

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub evaluated: usize,
    pub alarms: usize,
    pub raised: usize,
    /// Alarms whose signal existed already (a re-run).
    pub existing: usize,
    /// Method × disease × area skipped for too short a history.
    pub too_short: usize,
}

/// How far back the series go: three years for the moving percentile method plus its
/// window, and the weeks Farrington needs.
const HISTORY_DAYS: i64 = 3 * 366 + 60;

/// Evaluate `day` for the county `county`: refresh the counts, build the series, run every
/// rule, store the alarms.
pub async fn run_day(
    store: &Store,
    config: &WarningConfig,
    county: &DivisionCode,
    day: NaiveDate,
) -> Result<Summary> {
    let from = day - Duration::days(HISTORY_DAYS);
    notifiable::refresh_counts(store, from, day)
        .await
        .context("refresh daily case counts")?;
    let counts = notifiable::day_counts(store, county, from, day).await?;
    let townships: Vec<DivisionCode> = yiwei_store::division::children(store, county)
        .await?
        .into_iter()
        .filter(|d| d.level == Level::Township)
        .map(|d| d.code)
        .collect();
    let len = (day - from).num_days() as usize + 1;
    let mut series: HashMap<(&str, String), Vec<u32>> = HashMap::new();
    for c in &counts {
        let Some(d) = disease::by_code(&c.disease) else {
            continue;
        };
        let i = (c.day - from).num_days() as usize;
        let n = u32::try_from(c.n).unwrap_or(u32::MAX);
        for area in [c.township.clone(), county.as_str().to_owned()] {
            series.entry((d.code, area)).or_insert_with(|| vec![0; len])[i] += n;
        }
    }
    let zeros = vec![0u32; len];
    let mut summary = Summary::default();
    for (rule, code) in config.plan(day) {
        let method = rule.method()?;
        let mut areas: Vec<&DivisionCode> = Vec::new();
        if rule.areas != "county" {
            areas.extend(townships.iter());
        }
        if rule.areas != "township" {
            areas.push(county);
        }
        for area in areas {
            let daily = series
                .get(&(code, area.as_str().to_owned()))
                .unwrap_or(&zeros);
            let found = if rule.weekly() {
                if day.weekday() != Weekday::Sun {
                    continue;
                }
                evaluate_weekly(&method, daily, from, day)
            } else {
                evaluate_daily(&method, daily, from)
            };
            summary.evaluated += 1;
            let (evaluation, start, step_days) = match found {
                Ok(Some(x)) => x,
                Ok(None) => continue,
                Err(SurveillanceError::SeriesTooShort { .. }) => {
                    summary.too_short += 1;
                    continue;
                }
                Err(e) => bail!("{} for {code} in {}: {e}", method.code(), area.as_str()),
            };
            if !evaluation.alarm {
                continue;
            }
            summary.alarms += 1;
            let b = &evaluation.baseline;
            let date_of = |i: usize| start + Duration::days(i as i64 * step_days);
            let new = NewSignal {
                day,
                disease: code.to_owned(),
                division: area.clone(),
                method: method.code().to_owned(),
                parameters: method
                    .parameters()
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
                observed: evaluation.observed,
                threshold: evaluation.threshold,
                expected: evaluation.expected,
                baseline: notifiable::baseline_json(
                    date_of(b.from),
                    date_of(b.to) + Duration::days(step_days - 1),
                    b.n,
                    b.mean,
                    b.sd,
                    &b.note,
                ),
            };
            match notifiable::raise_signal(store, &new).await? {
                Some(id) => {
                    summary.raised += 1;
                    tracing::info!(
                        signal.id = id,
                        disease = code,
                        division = area.as_str(),
                        method = method.code(),
                        "warning signal raised"
                    );
                }
                None => summary.existing += 1,
            }
        }
    }
    Ok(summary)
}

type Found = Result<Option<(surveillance::Evaluation, NaiveDate, i64)>, SurveillanceError>;

/// Evaluate the last day of a daily series starting at `from`.
fn evaluate_daily(method: &Method, daily: &[u32], from: NaiveDate) -> Found {
    let series = Series {
        counts: daily,
        step: Step::Day,
        start: from,
    };
    let last = daily.len() - 1;
    let list = surveillance::evaluate(method, &series, last..last + 1)?;
    Ok(list.into_iter().next().map(|e| (e, from, 1)))
}

/// Evaluate the Monday–Sunday week ending on `day` of a weekly series built from `daily`.
fn evaluate_weekly(method: &Method, daily: &[u32], from: NaiveDate, day: NaiveDate) -> Found {
    let weeks = daily.len() / 7;
    if weeks == 0 {
        return Ok(None);
    }
    let skip = daily.len() - weeks * 7;
    let counts: Vec<u32> = daily[skip..].chunks(7).map(|w| w.iter().sum()).collect();
    let start = from + Duration::days(skip as i64);
    debug_assert_eq!(start + Duration::days(weeks as i64 * 7 - 1), day);
    let series = Series {
        counts: &counts,
        step: Step::Week,
        start,
    };
    let last = counts.len() - 1;
    let list = surveillance::evaluate(method, &series, last..last + 1)?;
    Ok(list.into_iter().next().map(|e| (e, start, 7)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_check_and_cover_every_disease_in_force() {
        let config = WarningConfig::default();
        config.check().expect("defaults are valid");
        let day = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
        let plan = config.plan(day);
        for d in disease::in_force(day) {
            assert!(
                plan.iter().any(|(_, code)| *code == d.code),
                "{} has no method",
                d.code
            );
        }
        // A single-case disease gets the fixed threshold only.
        let plague: Vec<&str> = plan
            .iter()
            .filter(|(_, c)| *c == "plague")
            .map(|(r, _)| r.method.as_str())
            .collect();
        assert_eq!(plague, vec!["fixed"]);
        let hfmd: Vec<&str> = plan
            .iter()
            .filter(|(_, c)| *c == "hfmd")
            .map(|(r, _)| r.method.as_str())
            .collect();
        assert_eq!(hfmd, vec!["ears_c1", "ears_c2", "ears_c3", "farrington"]);
    }

    #[test]
    fn bad_rules_are_refused_with_the_rule_named() {
        let mut config = WarningConfig::default();
        config.rules.push(rule("cusum", &["hfmd"], "both"));
        let e = format!("{:#}", config.check().expect_err("bad"));
        assert!(
            e.contains("warning.rules[10]") && e.contains("cusum"),
            "{e}"
        );
        let mut config = WarningConfig::default();
        config.rules.push(rule("fixed", &["flu"], "both"));
        let e = format!("{:#}", config.check().expect_err("bad"));
        assert!(e.contains("\"flu\" is not a disease code"), "{e}");
    }

    #[test]
    fn a_weekly_series_ends_on_the_sunday_evaluated() {
        let from = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(); // a Sunday
        let len = (day - from).num_days() as usize + 1;
        let mut daily = vec![0u32; len];
        daily[len - 1] = 3;
        daily[len - 7] = 2;
        daily[len - 8] = 5;
        let method = Method::Fixed(FixedParams { threshold: 5 });
        let (e, start, step) = evaluate_weekly(&method, &daily, from, day)
            .unwrap()
            .unwrap();
        assert_eq!(step, 7);
        assert_eq!(start.weekday(), Weekday::Mon);
        assert_eq!(e.observed, 5.0);
        assert!(e.alarm);
    }
}
