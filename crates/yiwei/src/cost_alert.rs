//! The binary side of the cost alerts (防返贫监测预警, docs/cost_alerts.md): the
//! `[cost_alerts]` configuration, when the monthly job is due, and one run of a month.
//!
//! The rules live in the database (`cost_alert_rule`, edited on the rules page with
//! history). The rules in `yiwei.toml` (or, without any, the built-in defaults of
//! `yiwei_domain::cost_alert::default_rules`) seed an empty table on the first run; after
//! that the page is where they change, so a restart never undoes an edit.

use anyhow::{Result, bail};
use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use serde::{Deserialize, Serialize};
use yiwei_domain::cost_alert::{Month, Rule, RuleForm, default_rules};
use yiwei_store::Store;
use yiwei_store::cost_alert::{self, RunSummary};

/// `[cost_alerts]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CostAlertConfig {
    /// Run the monthly job at all.
    pub enabled: bool,
    /// The county's local day of the month from which last month is run (1–28).
    pub run_day: u32,
    /// The local hour of that day from which it runs (0–23).
    pub run_hour: u32,
    /// Rules that seed an empty rule table; none: the built-in defaults.
    pub rules: Vec<RuleConfig>,
}

impl Default for CostAlertConfig {
    fn default() -> Self {
        CostAlertConfig {
            enabled: true,
            run_day: 1,
            run_hour: 3,
            rules: Vec::new(),
        }
    }
}

/// One rule as written in `yiwei.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub code: String,
    pub name_zh: String,
    #[serde(default)]
    pub name_en: String,
    /// `poverty_or_monitored`, `others` or `everyone`.
    pub population: String,
    /// `total`, `out_of_pocket` or `policy_out_of_pocket`.
    pub basis: String,
    /// Alert above this many yuan.
    pub threshold_yuan: u64,
    #[serde(default = "one")]
    pub window_months: u8,
}

fn one() -> u8 {
    1
}

impl CostAlertConfig {
    /// The rules to seed with, checked as the rules page checks them.
    pub fn seed_rules(&self) -> Result<Vec<Rule>> {
        if self.rules.is_empty() {
            return Ok(default_rules());
        }
        self.rules
            .iter()
            .map(|r| {
                RuleForm {
                    code: r.code.clone(),
                    name_zh: r.name_zh.clone(),
                    name_en: r.name_en.clone(),
                    population: r.population.clone(),
                    basis: r.basis.clone(),
                    threshold_yuan: r.threshold_yuan.to_string(),
                    window_months: r.window_months.to_string(),
                    active: true,
                }
                .parse()
                .map_err(|problems| {
                    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
                    anyhow::anyhow!("cost_alerts.rules {:?}: {}", r.code, text.join("; "))
                })
            })
            .collect()
    }

    pub fn check(&self) -> Result<()> {
        if !(1..=28).contains(&self.run_day) {
            bail!("cost_alerts.run_day must be 1 to 28, got {}", self.run_day);
        }
        if self.run_hour > 23 {
            bail!(
                "cost_alerts.run_hour must be 0 to 23, got {}",
                self.run_hour
            );
        }
        self.seed_rules().map(|_| ())
    }

    /// The month due at `now`: last month, once the local clock has passed the run day and
    /// hour of this one.
    pub fn due_month(&self, now: DateTime<Utc>, utc_offset_hours: i32) -> Option<Month> {
        if !self.enabled {
            return None;
        }
        let local = (now + Duration::hours(i64::from(utc_offset_hours))).naive_utc();
        (local.day() > self.run_day
            || (local.day() == self.run_day && local.hour() >= self.run_hour))
            .then(|| Month::previous_of(local.date()))
    }
}

/// Run `month`: seed the rules if the table is empty, then the store's set-based run.
pub async fn run_month(
    store: &Store,
    config: &CostAlertConfig,
    month: Month,
    by: Option<i64>,
    source: &str,
) -> Result<RunSummary> {
    cost_alert::ensure_rules(store, &config.seed_rules()?).await?;
    Ok(cost_alert::run_month(store, month, by, source).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_job_is_due_from_the_run_day_and_hour_local_time() {
        let c = CostAlertConfig::default();
        // 2026-11-01 02:59 local (18:59 UTC the day before): not yet.
        let early = Utc.with_ymd_and_hms(2026, 10, 31, 18, 59, 0).unwrap();
        assert_eq!(c.due_month(early, 8), None);
        let on_time = Utc.with_ymd_and_hms(2026, 10, 31, 19, 0, 0).unwrap();
        assert_eq!(c.due_month(on_time, 8), Month::parse("2026-10"));
        let later = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
        assert_eq!(c.due_month(later, 8), Month::parse("2026-10"));
        let off = CostAlertConfig {
            enabled: false,
            ..CostAlertConfig::default()
        };
        assert_eq!(off.due_month(later, 8), None);
    }

    #[test]
    fn rules_from_the_file_are_checked_like_the_page() {
        let mut c = CostAlertConfig::default();
        assert_eq!(c.seed_rules().unwrap(), default_rules());
        c.rules.push(RuleConfig {
            code: "big".into(),
            name_zh: "大额".into(),
            name_en: String::new(),
            population: "everyone".into(),
            basis: "total".into(),
            threshold_yuan: 50_000,
            window_months: 3,
        });
        let rules = c.seed_rules().unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].threshold_fen, 5_000_000);
        c.rules[0].threshold_yuan = 0;
        c.rules[0].window_months = 13;
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains("threshold") && e.contains("window"), "{e}");
        c.rules.clear();
        c.run_day = 29;
        assert!(c.check().is_err());
    }
}
