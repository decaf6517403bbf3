//! Message catalogs: Chinese by default, English by a switch (the `lang` cookie).
//!
//! The catalogs are TOML files in `i18n/`, compiled into the binary. A missing key shows
//! as the key itself, and a unit test keeps both catalogs in step.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The BCP 47 tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
}

type Catalog = HashMap<String, String>;

fn parse(text: &str) -> Catalog {
    toml::from_str(text).expect("message catalogs are valid TOML of strings")
}

fn catalog(lang: Lang) -> &'static Catalog {
    static ZH: OnceLock<Catalog> = OnceLock::new();
    static EN: OnceLock<Catalog> = OnceLock::new();
    match lang {
        Lang::Zh => ZH.get_or_init(|| parse(include_str!("../i18n/zh.toml"))),
        Lang::En => EN.get_or_init(|| parse(include_str!("../i18n/en.toml"))),
    }
}

/// A translator for one language, handed to every template.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    pub fn new(lang: Lang) -> Tr {
        Tr { lang }
    }

    /// The message for `key`.
    pub fn t<'a>(&self, key: &'a str) -> &'a str
    where
        'static: 'a,
    {
        catalog(self.lang)
            .get(key)
            .map(String::as_str)
            .unwrap_or(key)
    }

    /// The message for `key` with `{name}` replaced by `value`.
    pub fn t1(&self, key: &str, name: &str, value: &str) -> String {
        self.t(key).replace(&format!("{{{name}}}"), value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogs_have_the_same_keys_and_no_empty_messages() {
        let zh = catalog(Lang::Zh);
        let en = catalog(Lang::En);
        let mut only_zh: Vec<_> = zh.keys().filter(|k| !en.contains_key(*k)).collect();
        let mut only_en: Vec<_> = en.keys().filter(|k| !zh.contains_key(*k)).collect();
        only_zh.sort();
        only_en.sort();
        assert!(
            only_zh.is_empty() && only_en.is_empty(),
            "zh only: {only_zh:?}; en only: {only_en:?}"
        );
        assert!(zh.values().chain(en.values()).all(|v| !v.trim().is_empty()));
    }

    #[test]
    fn translates_and_falls_back_to_the_key() {
        assert_eq!(Tr::new(Lang::Zh).t("nav.home"), "首页");
        assert_eq!(Tr::new(Lang::En).t("nav.home"), "Home");
        assert_eq!(Tr::new(Lang::En).t("no.such.key"), "no.such.key");
        assert_eq!(Tr::new(Lang::En).t1("list.total", "n", "3"), "3 in all");
    }
}
