//! The configuration tree, read in four layers, each overriding the one before:
//! 1. the defaults below (zero configuration runs the demo county on SQLite in `./yiwei-data`);
//! 2. `yiwei.toml` (the file given with `--config`, or `./yiwei.toml` if it exists);
//! 3. environment variables `YIWEI_<KEY>`, with `__` for nesting
//!    (`YIWEI_DATABASE_URL`, `YIWEI_SECURITY__LOCKOUT_FAILURES=3`);
//! 4. the flags `--data-dir`, `--database-url` and `--listen`.
//!
//! Unknown keys are errors that name the key, in the file and in the environment alike:
//! a misspelt setting that is silently ignored is worse than one that stops the start.
//! A few `YIWEI_` variables are not configuration and are skipped: the master key (read by
//! `yiwei_store::Keys`), `YIWEI_LOG_FILTER` (a tracing filter), and the test switches
//! `YIWEI_TEST_*`, `YIWEI_REQUIRE_*` and `YIWEI_SCREENSHOTS`.
//!
//! The environment is passed in as pairs rather than read here, so tests never touch the
//! process environment. The master key is deliberately not part of this tree: it must
//! never be written to a file next to the settings or shown by `Debug`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use yiwei_domain::division::{DivisionCode, Level};
use yiwei_domain::lockout::LockoutPolicy;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The data folder: the SQLite database and `keys/master.key`.
    pub data_dir: PathBuf,
    /// Empty: embedded SQLite in `data_dir`; else `sqlite:…` or `postgres://…`.
    pub database_url: String,
    /// Address and port to serve on.
    pub listen: String,
    pub county: County,
    pub security: Security,
    pub log: Log,
    /// 传染病报告: the reporting rules that are local practice.
    pub notifiable: Notifiable,
    /// 预警: the daily early-warning run and the methods per disease.
    pub warning: crate::warning::WarningConfig,
    /// 基本公共卫生: the programme windows that are local practice.
    pub programmes: crate::config_programmes::Programmes,
    /// 防返贫监测预警: the monthly cost-alert job and the rules that seed an empty table.
    pub cost_alerts: crate::cost_alert::CostAlertConfig,
    /// 影像云: the blob store and upload limits.
    pub imaging: crate::imaging::Imaging,
}

/// Reporting rules of notifiable diseases that are configuration (see
/// `yiwei_domain::notifiable`; neither figure was confirmed from a national text).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Notifiable {
    /// A second card for the same resident and disease within this many days goes to
    /// CDC review as a probable duplicate.
    pub duplicate_window_days: i64,
    /// Deadline of a suspected food-borne case report from the visit (hours).
    pub foodborne_deadline_hours: i64,
}

impl Default for Notifiable {
    fn default() -> Self {
        Notifiable {
            duplicate_window_days:
                yiwei_domain::notifiable::workflow::DEFAULT_DUPLICATE_WINDOW_DAYS,
            foodborne_deadline_hours: yiwei_domain::notifiable::foodborne::DEFAULT_DEADLINE_HOURS,
        }
    }
}

/// The county this database serves (one database per county).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct County {
    /// 6-digit GB/T 2260 code.
    pub code: String,
    pub name: String,
    /// Offset from UTC for the dates people see (China: 8).
    pub utc_offset_hours: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Security {
    /// Wrong passwords in a row before the account locks (账户锁定).
    pub lockout_failures: u32,
    pub lockout_minutes: i64,
    pub session_idle_minutes: i64,
    /// How long a break-glass grant (紧急授权) lasts.
    pub break_glass_hours: i64,
    /// Mark cookies `Secure` (behind HTTPS).
    pub secure_cookies: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    /// A tracing filter: `error`, `warn`, `info`, `debug`, `trace` or directives such as
    /// `info,yiwei_store=debug`.
    pub level: String,
    /// `text` for people, `json` for a log collector.
    pub format: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./yiwei-data"),
            database_url: String::new(),
            listen: "127.0.0.1:8080".into(),
            county: County::default(),
            security: Security::default(),
            log: Log::default(),
            notifiable: Notifiable::default(),
            warning: crate::warning::WarningConfig::default(),
            programmes: crate::config_programmes::Programmes::default(),
            cost_alerts: crate::cost_alert::CostAlertConfig::default(),
            imaging: crate::imaging::Imaging::default(),
        }
    }
}

impl Default for County {
    fn default() -> Self {
        County {
            code: "451226".into(),
            name: "环江毛南族自治县".into(),
            utc_offset_hours: 8,
        }
    }
}

impl Default for Security {
    fn default() -> Self {
        Security {
            lockout_failures: 5,
            lockout_minutes: 15,
            session_idle_minutes: 30,
            break_glass_hours: 2,
            secure_cookies: false,
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

impl std::fmt::Debug for Config {
    // The database URL may hold a password: show it redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("listen", &self.listen)
            .field("county", &self.county)
            .field("security", &self.security)
            .field("log", &self.log)
            .field("notifiable", &self.notifiable)
            .field("warning", &self.warning)
            .field("programmes", &self.programmes)
            .field("cost_alerts", &self.cost_alerts)
            .field("imaging", &self.imaging)
            .finish()
    }
}

/// Hide the password of a database URL, in the user-info part
/// (`postgres://user:secret@host/db` → `postgres://user:***@host/db`) and in a
/// `password=` query parameter.
pub fn redact_url(url: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (url, None),
    };
    let mut out = match (main.find("://"), main.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &main[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &main[..scheme + 3], &main[at..]),
                None => main.to_owned(),
            }
        }
        _ => main.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// Flags that override everything else.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<String>,
}

/// `YIWEI_` variables that are not configuration keys.
fn not_config(rest: &str) -> bool {
    matches!(rest, "MASTER_KEY" | "LOG_FILTER" | "SCREENSHOTS")
        || rest.starts_with("TEST_")
        || rest.starts_with("REQUIRE_")
}

impl Config {
    /// Load from `file` (or `./yiwei.toml` if it exists), then `env`, then `flags`, and
    /// check the values.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &Overrides,
    ) -> Result<Config> {
        let path = file.map(PathBuf::from).or_else(|| {
            let default = PathBuf::from("yiwei.toml");
            default.exists().then_some(default)
        });
        let mut tree = toml::Table::new();
        if let Some(path) = path {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            // Deserializing the file on its own gives errors with the line and the key.
            toml::from_str::<Config>(&text)
                .with_context(|| format!("config file {} is not valid", path.display()))?;
            tree = toml::from_str(&text)
                .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
        }
        let defaults = toml::Table::try_from(Config::default()).context("default config")?;
        let mut env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("YIWEI_"))
            .collect();
        // Apply in a fixed order, so the result never depends on the environment's order.
        env.sort();
        for (key, value) in env {
            let rest = &key["YIWEI_".len()..];
            if not_config(rest) {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
            let dotted = path.join(".");
            let value = env_value(&defaults, &path, &value)
                .with_context(|| format!("environment variable {key} ({dotted})"))?;
            set(&mut tree, &path, value);
            // Check after each variable, so that a value serde refuses (a negative count)
            // is reported with the variable that set it.
            tree.clone()
                .try_into::<Config>()
                .with_context(|| format!("environment variable {key} ({dotted})"))?;
        }
        let mut config: Config = tree.try_into().context("configuration is not valid")?;
        if let Some(d) = &flags.data_dir {
            config.data_dir = d.clone();
        }
        if let Some(u) = &flags.database_url {
            config.database_url = u.clone();
        }
        if let Some(l) = &flags.listen {
            config.listen = l.clone();
        }
        config.check()?;
        Ok(config)
    }

    /// Check the values that serde cannot: each error names the key.
    pub fn check(&self) -> Result<()> {
        self.to_web_config()?;
        let url = &self.database_url;
        if !(url.is_empty()
            || url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            bail!(
                "database_url must be empty (SQLite in data_dir), sqlite:… or postgres://…, got {:?}",
                redact_url(url)
            );
        }
        if self.data_dir.as_os_str().is_empty() {
            bail!("data_dir must not be empty");
        }
        match self.listen.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
            _ => bail!(
                "listen must be ADDRESS:PORT, e.g. 127.0.0.1:8080, got {:?}",
                self.listen
            ),
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bail!(
                "log.format must be \"text\" or \"json\", got {:?}",
                self.log.format
            );
        }
        if !(1..=3650).contains(&self.notifiable.duplicate_window_days) {
            bail!(
                "notifiable.duplicate_window_days must be between 1 and 3650, got {}",
                self.notifiable.duplicate_window_days
            );
        }
        if !(1..=24 * 30).contains(&self.notifiable.foodborne_deadline_hours) {
            bail!(
                "notifiable.foodborne_deadline_hours must be between 1 and 720, got {}",
                self.notifiable.foodborne_deadline_hours
            );
        }
        self.warning.check()?;
        self.cost_alerts.check()?;
        tracing_subscriber::EnvFilter::try_new(&self.log.level).map_err(|e| {
            anyhow::anyhow!(
                "log.level {:?} is not a level or tracing filter: {e}",
                self.log.level
            )
        })?;
        Ok(())
    }

    /// The web layer's configuration, with values checked.
    pub fn to_web_config(&self) -> Result<yiwei_web::WebConfig> {
        let county = DivisionCode::parse(&self.county.code).map_err(|e| {
            anyhow::anyhow!(
                "county.code {:?} is not a GB/T 2260 division code: {e}",
                self.county.code
            )
        })?;
        if county.level() != Level::County {
            bail!(
                "county.code must be a 6-digit county code, got {:?}",
                self.county.code
            );
        }
        if self.county.name.trim().is_empty() {
            bail!("county.name must not be empty");
        }
        if !(-12..=14).contains(&self.county.utc_offset_hours) {
            bail!(
                "county.utc_offset_hours must be between -12 and 14, got {}",
                self.county.utc_offset_hours
            );
        }
        let s = &self.security;
        if s.lockout_failures == 0 {
            bail!("security.lockout_failures must be at least 1");
        }
        for (key, value) in [
            ("security.lockout_minutes", s.lockout_minutes),
            ("security.session_idle_minutes", s.session_idle_minutes),
            ("security.break_glass_hours", s.break_glass_hours),
        ] {
            // A year bounds them all and keeps chrono's durations far from overflow.
            if !(1..=366 * 24 * 60).contains(&value) {
                bail!("{key} must be a positive number, got {value}");
            }
        }
        Ok(yiwei_web::WebConfig {
            lockout: LockoutPolicy {
                max_failures: s.lockout_failures,
                lock_for: chrono::Duration::minutes(s.lockout_minutes),
            },
            session_idle: chrono::Duration::minutes(s.session_idle_minutes),
            break_glass: chrono::Duration::hours(s.break_glass_hours),
            secure_cookies: s.secure_cookies,
            county: county.clone(),
            county_name: self.county.name.clone(),
            utc_offset_hours: self.county.utc_offset_hours,
            public_url: format!("http://{}", self.listen),
            programmes: self.programmes.catalogue()?,
            notifiable: yiwei_store::notifiable::Settings {
                duplicate_window_days: self.notifiable.duplicate_window_days,
                utc_offset_hours: self.county.utc_offset_hours,
                county: county.clone(),
                foodborne_deadline_hours: self.notifiable.foodborne_deadline_hours,
            },
            imaging: self.imaging.to_config(&self.data_dir)?,
        })
    }
}

/// Parse an environment value into the type the key has in the defaults; an unknown key
/// is an error naming it.
fn env_value(defaults: &toml::Table, path: &[String], value: &str) -> Result<toml::Value> {
    let dotted = path.join(".");
    let mut table = defaults;
    let mut found = None;
    for (idx, part) in path.iter().enumerate() {
        match table.get(part) {
            Some(toml::Value::Table(t)) if idx + 1 < path.len() => table = t,
            Some(v) if idx + 1 == path.len() => found = Some(v),
            _ => break,
        }
    }
    let Some(default) = found else {
        bail!("unknown configuration key {dotted:?}");
    };
    Ok(match default {
        toml::Value::Integer(_) => toml::Value::Integer(
            value
                .trim()
                .parse()
                .with_context(|| format!("{dotted} must be a whole number, got {value:?}"))?,
        ),
        toml::Value::Boolean(_) => {
            toml::Value::Boolean(match value.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => bail!("{dotted} must be true or false, got {value:?}"),
            })
        }
        toml::Value::String(_) => toml::Value::String(value.to_owned()),
        toml::Value::Table(_) => bail!("{dotted} is a section; set one of its keys"),
        _ => bail!("{dotted} cannot be set from the environment"),
    })
}

fn set(tree: &mut toml::Table, path: &[String], value: toml::Value) {
    match path {
        [] => {}
        [last] => {
            tree.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = tree
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(t) = entry {
                set(t, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let file = dir.path().join("yiwei.toml");
        std::fs::write(&file, text).unwrap();
        file
    }

    /// Load with a config file holding `text` (or none) and the given environment.
    fn load(text: Option<&str>, vars: &[(&str, &str)], flags: &Overrides) -> Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let file = text.map(|t| write(&dir, t));
        // Without a file, point at one that does not exist rather than at ./yiwei.toml,
        // which the test's working folder might hold.
        match file {
            Some(f) => Config::load(Some(&f), env(vars), flags),
            None => {
                let empty = write(&dir, "");
                Config::load(Some(&empty), env(vars), flags)
            }
        }
    }

    fn error(text: Option<&str>, vars: &[(&str, &str)]) -> String {
        format!(
            "{:#}",
            load(text, vars, &Overrides::default()).expect_err("should fail")
        )
    }

    #[test]
    fn zero_config_is_the_demo_county_on_sqlite() {
        let c = load(None, &[], &Overrides::default()).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.data_dir, PathBuf::from("./yiwei-data"));
        assert_eq!(c.database_url, "");
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.county.code, "451226");
        assert_eq!(c.security.lockout_failures, 5);
        assert_eq!(c.log.format, "text");
        let web = c.to_web_config().unwrap();
        assert_eq!(web.county.as_str(), "451226");
        assert_eq!(web.session_idle, chrono::Duration::minutes(30));
        assert_eq!(web.break_glass, chrono::Duration::hours(2));
    }

    #[test]
    fn the_example_file_parses_and_its_programme_windows_are_the_defaults() {
        let example = include_str!("../../../yiwei.example.toml");
        let c = load(Some(example), &[], &Overrides::default()).unwrap();
        assert_eq!(
            c.programmes,
            crate::config_programmes::Programmes::default()
        );
        c.to_web_config().unwrap();
    }

    #[test]
    fn file_then_env_then_flags() {
        let file = "listen = \"0.0.0.0:9000\"\n[security]\nlockout_failures = 7\n";
        let c = load(Some(file), &[], &Overrides::default()).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.security.lockout_failures, 7);
        // The file's other keys keep their defaults.
        assert_eq!(c.security.lockout_minutes, 15);

        let vars = [
            ("YIWEI_SECURITY__LOCKOUT_FAILURES", "3"),
            ("YIWEI_LISTEN", "127.0.0.1:1"),
            ("YIWEI_SECURITY__SECURE_COOKIES", "true"),
            ("YIWEI_LOG__FORMAT", "json"),
            ("YIWEI_COUNTY__CODE", "451202"),
        ];
        let c = load(Some(file), &vars, &Overrides::default()).unwrap();
        assert_eq!(c.security.lockout_failures, 3);
        let programme = [("YIWEI_PROGRAMMES__SEVERE_MENTAL__WINDOW_DAYS", "20")];
        let p = load(Some(file), &programme, &Overrides::default()).unwrap();
        assert_eq!(p.programmes.severe_mental.window_days, 20);
        assert_eq!(p.programmes.severe_mental.first_within_days, 14);
        assert_eq!(c.listen, "127.0.0.1:1");
        assert!(c.security.secure_cookies);
        assert_eq!(c.log.format, "json");
        // A numeric-looking value stays a string where the key is a string.
        assert_eq!(c.county.code, "451202");

        let flags = Overrides {
            listen: Some("127.0.0.1:2".into()),
            data_dir: Some("/srv/yiwei".into()),
            database_url: Some("postgres://yiwei@db/yiwei".into()),
        };
        let c = load(Some(file), &vars, &flags).unwrap();
        assert_eq!(c.listen, "127.0.0.1:2");
        assert_eq!(c.data_dir, PathBuf::from("/srv/yiwei"));
        assert_eq!(c.database_url, "postgres://yiwei@db/yiwei");
        assert_eq!(c.security.lockout_failures, 3);
    }

    #[test]
    fn variables_that_are_not_configuration_are_skipped() {
        let vars = [
            ("YIWEI_MASTER_KEY", "00"),
            ("YIWEI_TEST_PG_URL", "postgres://x"),
            ("YIWEI_REQUIRE_PG", "1"),
            ("YIWEI_LOG_FILTER", "debug"),
            ("YIWEI_SCREENSHOTS", "/tmp"),
            ("PATH", "/usr/bin"),
        ];
        assert_eq!(
            load(None, &vars, &Overrides::default()).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let e = error(Some("colour = \"red\"\n"), &[]);
        assert!(e.contains("colour"), "{e}");
        let e = error(Some("[security]\nlockout_failure = 3\n"), &[]);
        assert!(e.contains("lockout_failure"), "{e}");
        let e = error(Some("[securty]\nlockout_failures = 3\n"), &[]);
        assert!(e.contains("securty"), "{e}");
        let e = error(None, &[("YIWEI_SECURITY__LOCKOUT_FAILURE", "3")]);
        assert!(e.contains("YIWEI_SECURITY__LOCKOUT_FAILURE"), "{e}");
        assert!(e.contains("security.lockout_failure"), "{e}");
        let e = error(None, &[("YIWEI_SECURITY", "3")]);
        assert!(e.contains("section"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        for (file, key) in [
            ("[county]\ncode = \"12x\"\n", "county.code"),
            ("[county]\ncode = \"4512\"\n", "county.code"),
            ("[county]\nname = \" \"\n", "county.name"),
            (
                "[county]\nutc_offset_hours = 20\n",
                "county.utc_offset_hours",
            ),
            (
                "[security]\nlockout_failures = 0\n",
                "security.lockout_failures",
            ),
            (
                "[security]\nlockout_minutes = -5\n",
                "security.lockout_minutes",
            ),
            (
                "[security]\nsession_idle_minutes = 0\n",
                "security.session_idle_minutes",
            ),
            (
                "[security]\nbreak_glass_hours = 0\n",
                "security.break_glass_hours",
            ),
            ("[log]\nformat = \"xml\"\n", "log.format"),
            ("[log]\nlevel = \"info,yiwei=loud\"\n", "log.level"),
            ("listen = \"8080\"\n", "listen"),
            ("database_url = \"mysql://x@y/z\"\n", "database_url"),
            // Wrong types are caught by serde, which names the key too.
            (
                "[security]\nlockout_failures = \"many\"\n",
                "lockout_failures",
            ),
            ("[security]\nsecure_cookies = 1\n", "secure_cookies"),
        ] {
            let e = error(Some(file), &[]);
            assert!(e.contains(key), "{file:?}: {e}");
        }
        for (var, value, key) in [
            (
                "YIWEI_SECURITY__LOCKOUT_FAILURES",
                "three",
                "security.lockout_failures",
            ),
            ("YIWEI_SECURITY__LOCKOUT_FAILURES", "-1", "lockout_failures"),
            (
                "YIWEI_SECURITY__SECURE_COOKIES",
                "maybe",
                "security.secure_cookies",
            ),
            ("YIWEI_COUNTY__CODE", "999999", "county.code"),
        ] {
            let e = error(None, &[(var, value)]);
            assert!(e.contains(key), "{var}={value}: {e}");
        }
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let e = Config::load(Some(&missing), env(&[]), &Overrides::default()).unwrap_err();
        assert!(format!("{e:#}").contains("nope.toml"), "{e:#}");
    }

    #[test]
    fn debug_redacts_the_database_password() {
        let c = Config {
            database_url: "postgres://yiwei:s3cret@db/yiwei".into(),
            ..Config::default()
        };
        let text = format!("{c:?}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("yiwei:***@db"), "{text}");

        for (url, want) in [
            ("", ""),
            ("sqlite:./x.db", "sqlite:./x.db"),
            ("postgres://yiwei@db/yiwei", "postgres://yiwei@db/yiwei"),
            (
                "postgres://u:p@ss:w@rd@db:5432/y",
                "postgres://u:***@db:5432/y",
            ),
            (
                "postgres://db/yiwei?user=u&password=s3cret&sslmode=require",
                "postgres://db/yiwei?user=u&password=***&sslmode=require",
            ),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }
}
