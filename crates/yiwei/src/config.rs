//! The configuration tree: defaults, then `yiwei.toml`, then `YIWEI_…` environment
//! variables (`__` nests: `YIWEI_SECURITY__LOCKOUT_FAILURES=3`), then command-line flags.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::lockout::LockoutPolicy;

#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub listen: String,
    pub county: County,
    pub security: Security,
    pub log: Log,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct County {
    pub code: String,
    pub name: String,
    pub utc_offset_hours: i32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Security {
    pub lockout_failures: u32,
    pub lockout_minutes: i64,
    pub session_idle_minutes: i64,
    pub break_glass_hours: i64,
    pub secure_cookies: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    pub level: String,
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
            .finish()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Flags that override everything else.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<String>,
}

/// Environment variables yiwei reads itself rather than as configuration.
const NOT_CONFIG: &[&str] = &["YIWEI_MASTER_KEY"];

impl Config {
    /// Load from `file` (or `./yiwei.toml` if present), `env`, then `flags`.
    pub fn load(
        file: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &Overrides,
    ) -> Result<Config> {
        let mut tree = toml::Table::new();
        let path = file.map(PathBuf::from).or_else(|| {
            let default = PathBuf::from("yiwei.toml");
            default.exists().then_some(default)
        });
        if let Some(path) = path {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            tree = toml::from_str(&text)
                .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
        }
        for (key, value) in env {
            let Some(rest) = key.strip_prefix("YIWEI_") else {
                continue;
            };
            if NOT_CONFIG.contains(&key.as_str())
                || rest.starts_with("TEST_")
                || rest.starts_with("REQUIRE_")
            {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
            let parsed = value
                .parse::<i64>()
                .map(toml::Value::Integer)
                .or_else(|_| value.parse::<bool>().map(toml::Value::Boolean))
                .unwrap_or(toml::Value::String(value.clone()));
            let value = if matches!(
                path.last().map(String::as_str),
                Some("database_url" | "listen" | "data_dir" | "name" | "code" | "level" | "format")
            ) {
                toml::Value::String(value)
            } else {
                parsed
            };
            set(&mut tree, &path, value);
        }
        let mut config: Config = toml::Value::Table(tree)
            .try_into()
            .context("configuration is not valid")?;
        if let Some(d) = &flags.data_dir {
            config.data_dir = d.clone();
        }
        if let Some(u) = &flags.database_url {
            config.database_url = u.clone();
        }
        if let Some(l) = &flags.listen {
            config.listen = l.clone();
        }
        config.web()?;
        Ok(config)
    }

    /// The web layer's configuration, with values checked.
    pub fn web(&self) -> Result<yiwei_web::WebConfig> {
        let county = DivisionCode::parse(&self.county.code).with_context(|| {
            format!("county.code {:?} is not a division code", self.county.code)
        })?;
        if county.level() != yiwei_domain::division::Level::County {
            bail!(
                "county.code must be a 6-digit county code, got {}",
                self.county.code
            );
        }
        if self.security.lockout_failures == 0 {
            bail!("security.lockout_failures must be at least 1");
        }
        if !(-12..=14).contains(&self.county.utc_offset_hours) {
            bail!("county.utc_offset_hours must be between -12 and 14");
        }
        Ok(yiwei_web::WebConfig {
            lockout: LockoutPolicy {
                max_failures: self.security.lockout_failures,
                lock_for: chrono::Duration::minutes(self.security.lockout_minutes.max(1)),
            },
            session_idle: chrono::Duration::minutes(self.security.session_idle_minutes.max(1)),
            break_glass: chrono::Duration::hours(self.security.break_glass_hours.max(1)),
            secure_cookies: self.security.secure_cookies,
            county,
            county_name: self.county.name.clone(),
            utc_offset_hours: self.county.utc_offset_hours,
            public_url: format!("http://{}", self.listen),
        })
    }
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

    #[test]
    fn file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("yiwei.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\n[security]\nlockout_failures = 7\n",
        )
        .unwrap();
        let c = Config::load(Some(&file), env(&[]), &Overrides::default()).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.security.lockout_failures, 7);
        let c = Config::load(
            Some(&file),
            env(&[
                ("YIWEI_SECURITY__LOCKOUT_FAILURES", "3"),
                ("YIWEI_LISTEN", "127.0.0.1:1"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.security.lockout_failures, 3);
        assert_eq!(c.listen, "127.0.0.1:1");
        let flags = Overrides {
            listen: Some("127.0.0.1:2".into()),
            ..Overrides::default()
        };
        let c = Config::load(Some(&file), env(&[("YIWEI_LISTEN", "127.0.0.1:1")]), &flags).unwrap();
        assert_eq!(c.listen, "127.0.0.1:2");
    }

    #[test]
    fn bad_values_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("yiwei.toml");
        std::fs::write(&file, "[county]\ncode = \"12x\"\n").unwrap();
        let e = Config::load(Some(&file), env(&[]), &Overrides::default()).unwrap_err();
        assert!(format!("{e:#}").contains("county.code"));
        std::fs::write(&file, "colour = \"red\"\n").unwrap();
        let e = Config::load(Some(&file), env(&[]), &Overrides::default()).unwrap_err();
        assert!(format!("{e:#}").contains("colour"), "{e:#}");
    }

    #[test]
    fn debug_redacts_the_database_password() {
        let c = Config {
            database_url: "postgres://yiwei:s3cret@db/yiwei".into(),
            ..Config::default()
        };
        let text = format!("{c:?}");
        assert!(!text.contains("s3cret"));
        assert!(text.contains("yiwei:***@db"));
    }
}
