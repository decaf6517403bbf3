//! Breakdowns (分组统计) of a figure by sex, age group and key group: the strata a
//! catalogue entry's `disaggregations` allow, their stored keys, their labels, and the
//! fan-out of one group of facts into the total and every stratum it belongs to.
//!
//! A stratum is stored beside the total in `indicator_value.breakdown` as `sex:female`,
//! `age:65+` or `key:poverty_alleviated` (the total is `''`), so a township's or the
//! county's stratum is a prefix sum like the total.
//!
//! Choices written down:
//! - **Sex** is the recorded sex (`male`, `female`, `unknown`, GB/T 2261.1's 男/女/未知).
//! - **Age groups** are completed years on the as-of day (the period's last day for
//!   residents, contracts and alerts; the diagnosis date for case reports) in the bands
//!   0–6, 7–17, 18–34, 35–64, 65+. They follow the 规范's populations: 0–6 children,
//!   35+ for chronic-disease management, 65+ elderly. A missing or future birth date is
//!   `unknown`, so the bands always add up to the total.
//! - **Key groups** overlap (a 70-year-old with hypertension is in two), so key-group strata
//!   do not add up to the total; sex and age strata do (a property test checks this).
//!   65+ and 0–6 come from the birth date as of the day, the others from the stored tags
//!   ([`crate::contract::key_groups_on`]). For cost alerts the key group is the alert's
//!   rule population, copied when it was raised (脱贫/监测对象 or other residents).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::{Disaggregation, Fraction};
use crate::contract::age_cutoff;
use crate::key_group::KeyGroup;

/// An age band.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AgeGroup {
    Age0to6,
    Age7to17,
    Age18to34,
    Age35to64,
    Age65Plus,
    Unknown,
}

impl AgeGroup {
    pub const ALL: [AgeGroup; 6] = [
        AgeGroup::Age0to6,
        AgeGroup::Age7to17,
        AgeGroup::Age18to34,
        AgeGroup::Age35to64,
        AgeGroup::Age65Plus,
        AgeGroup::Unknown,
    ];

    /// The lower bound in years of each band after the first, in order.
    const BOUNDS: [u32; 4] = [7, 18, 35, 65];

    pub fn code(self) -> &'static str {
        match self {
            AgeGroup::Age0to6 => "0-6",
            AgeGroup::Age7to17 => "7-17",
            AgeGroup::Age18to34 => "18-34",
            AgeGroup::Age35to64 => "35-64",
            AgeGroup::Age65Plus => "65+",
            AgeGroup::Unknown => "unknown",
        }
    }

    pub fn parse(code: &str) -> Option<AgeGroup> {
        AgeGroup::ALL.into_iter().find(|a| a.code() == code)
    }

    /// The band of someone born on `birth` (if known) on `on`.
    pub fn on(birth: Option<NaiveDate>, on: NaiveDate) -> AgeGroup {
        match birth {
            Some(b) if b <= on => AgeGroup::of_years(crate::key_group::age_on(b, on)),
            _ => AgeGroup::Unknown,
        }
    }

    pub fn of_years(years: u32) -> AgeGroup {
        match years {
            0..=6 => AgeGroup::Age0to6,
            7..=17 => AgeGroup::Age7to17,
            18..=34 => AgeGroup::Age18to34,
            35..=64 => AgeGroup::Age35to64,
            _ => AgeGroup::Age65Plus,
        }
    }

    /// The latest birth dates of someone aged 7, 18, 35 and 65 on `on`: a set-based query
    /// bands a birth date `b` by comparing it with these (`b <= cutoff` means at least that
    /// age), which gives the same band as [`AgeGroup::on`].
    pub fn cutoffs(on: NaiveDate) -> [NaiveDate; 4] {
        AgeGroup::BOUNDS.map(|years| age_cutoff(on, years))
    }

    /// The band from the position of a birth date among [`AgeGroup::cutoffs`]: `older` is
    /// how many cutoffs the birth date is on or before (0–4); `None` when unknown or unborn.
    pub fn from_rank(older: Option<u32>) -> AgeGroup {
        match older {
            None => AgeGroup::Unknown,
            Some(0) => AgeGroup::Age0to6,
            Some(1) => AgeGroup::Age7to17,
            Some(2) => AgeGroup::Age18to34,
            Some(3) => AgeGroup::Age35to64,
            Some(_) => AgeGroup::Age65Plus,
        }
    }
}

/// The label of a stratum value, Chinese and English.
pub fn label(dimension: Disaggregation, value: &str) -> (String, String) {
    let pair = |zh: &str, en: &str| (zh.to_owned(), en.to_owned());
    match (dimension, value) {
        (Disaggregation::Sex, "male") => pair("男", "male"),
        (Disaggregation::Sex, "female") => pair("女", "female"),
        (Disaggregation::Sex, _) => pair("未知", "unknown"),
        (Disaggregation::AgeGroup, "unknown") => pair("年龄不详", "age unknown"),
        (Disaggregation::AgeGroup, "65+") => pair("65岁及以上", "65 and over"),
        (Disaggregation::AgeGroup, v) => (format!("{v}岁"), format!("aged {v}")),
        (Disaggregation::KeyGroup, "poverty_or_monitored") => {
            pair("脱贫人口或监测对象", "poverty-alleviated or monitored")
        }
        (Disaggregation::KeyGroup, "others") => pair("其他居民", "other residents"),
        (Disaggregation::KeyGroup, "everyone") => pair("全体居民", "everyone"),
        (Disaggregation::KeyGroup, v) => match KeyGroup::parse(v) {
            Some(g) => pair(g.name_zh(), g.name_en()),
            None => pair(v, v),
        },
        (_, v) => pair(v, v),
    }
}

/// The display rank of a stratum value inside its dimension: sexes male, female, unknown;
/// age bands young to old; key groups in [`KeyGroup`] order; anything else after them.
pub fn rank(value: &str) -> usize {
    if let Some(a) = AgeGroup::parse(value) {
        return a as usize;
    }
    if let Some(g) = KeyGroup::parse(value) {
        return g as usize;
    }
    match value {
        "male" => 0,
        "female" => 1,
        "unknown" => 2,
        _ => 99,
    }
}

/// The dimensions a stored breakdown may have (the catalogue may list more: institution and
/// disease class are not stored as strata yet).
pub const STORED: [Disaggregation; 3] = [
    Disaggregation::Sex,
    Disaggregation::AgeGroup,
    Disaggregation::KeyGroup,
];

fn prefix(dimension: Disaggregation) -> Option<&'static str> {
    match dimension {
        Disaggregation::Sex => Some("sex"),
        Disaggregation::AgeGroup => Some("age"),
        Disaggregation::KeyGroup => Some("key"),
        _ => None,
    }
}

/// The stored key of a stratum: `sex:female`.
pub fn key(dimension: Disaggregation, value: &str) -> Option<String> {
    prefix(dimension).map(|p| format!("{p}:{value}"))
}

/// A stored key back to its dimension and value.
pub fn split(key: &str) -> Option<(Disaggregation, &str)> {
    let (p, value) = key.split_once(':')?;
    STORED
        .into_iter()
        .find(|d| prefix(*d) == Some(p))
        .map(|d| (d, value))
}

/// The dimension named in an API query: `sex`, `age_group`, `key_group`.
pub fn dimension(name: &str) -> Option<Disaggregation> {
    STORED.into_iter().find(|d| d.as_str() == name)
}

/// What one group of facts is, for splitting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person<'a> {
    pub sex: &'a str,
    pub age: AgeGroup,
    /// The key groups (codes) the group belongs to.
    pub key_groups: Vec<&'a str>,
}

impl<'a> Person<'a> {
    /// A resident's group from the birth date on `on` and the stored key-group text.
    pub fn resident(
        sex: &'a str,
        birth: Option<NaiveDate>,
        stored_key_groups: &'a str,
        on: NaiveDate,
    ) -> Person<'a> {
        Person::banded(sex, AgeGroup::on(birth, on), stored_key_groups)
    }

    /// A group already banded by age (a set-based query groups by band, not birth date),
    /// with the stored key-group text (comma-separated codes): 65+ and 0–6 come from the
    /// band, the others from the text, as [`key_groups_on`] does.
    pub fn banded(sex: &'a str, age: AgeGroup, stored_key_groups: &'a str) -> Person<'a> {
        let mut groups: Vec<KeyGroup> = stored_key_groups
            .split(',')
            .filter_map(KeyGroup::parse)
            .filter(|g| !matches!(g, KeyGroup::Elderly65 | KeyGroup::Child0to6))
            .collect();
        match age {
            AgeGroup::Age65Plus => groups.push(KeyGroup::Elderly65),
            AgeGroup::Age0to6 => groups.push(KeyGroup::Child0to6),
            _ => {}
        }
        groups.sort();
        groups.dedup();
        Person {
            sex,
            age,
            key_groups: groups.into_iter().map(KeyGroup::code).collect(),
        }
    }
}

/// Adds `fraction` of a group of facts to the total (`''`) and to each stratum of
/// `dimensions` it belongs to.
pub fn fan_out(
    into: &mut BTreeMap<String, Fraction>,
    dimensions: &[Disaggregation],
    person: &Person<'_>,
    fraction: Fraction,
) {
    let mut add = |k: String| {
        let e = into.entry(k).or_default();
        *e = Fraction::sum([*e, fraction]);
    };
    add(String::new());
    for d in dimensions {
        match d {
            Disaggregation::Sex => {
                let sex = match person.sex {
                    "male" | "female" => person.sex,
                    _ => "unknown",
                };
                add(format!("sex:{sex}"));
            }
            Disaggregation::AgeGroup => add(format!("age:{}", person.age.code())),
            Disaggregation::KeyGroup => {
                for g in &person.key_groups {
                    add(format!("key:{g}"));
                }
            }
            _ => {}
        }
    }
}

/// The stored dimensions among `allowed` (a catalogue entry's disaggregations).
pub fn stored_of(allowed: &[Disaggregation]) -> Vec<Disaggregation> {
    STORED.into_iter().filter(|d| allowed.contains(d)).collect()
}
