//! 重点人群: the key-group tags of a resident, derived from facts at a date.
//!
//! The groups are those the basic public health services and family-doctor contracts single
//! out (`shared/domain.md` §1, §2 \[S\]): 65 岁及以上老年人, 0～6 岁儿童, 孕产妇, 高血压, 2 型糖尿病,
//! 严重精神障碍, 肺结核, 残疾人, plus 脱贫人口 and 防返贫监测对象 (§8 \[S\]). Tags are recomputed
//! from [`Facts`], never stored by hand, so a birthday or a closed diagnosis moves a resident
//! between lists without anyone editing them.
//!
//! Choices made here (each could be argued, so each is written down):
//! - **Age** is completed years ([`age_on`]): it rises on the birthday itself, and someone
//!   born on 29 February turns a year older on 1 March in common years. (Chinese criminal law
//!   counts 周岁 from the day *after* the birthday; annual indicators often count everyone who
//!   reaches 65 during the year. Neither is used here: indicator code that wants the
//!   calendar-year rule asks with `on` = 31 December.)
//! - **0～6 岁** means ages 0 to 6 completed: a child is tagged until the day before the 7th
//!   birthday, not just until the 6th.
//! - **Hypertension and diabetes** are tagged at any age. The 规范 manages them from 35 years
//!   (`domain.md` §1); that filter belongs to the indicator, not to the tag, so that a
//!   30-year-old patient still shows up on the doctor's list.
//! - **Pregnant** is taken as given; the fact is recorded by the maternal-health service.
//! - **Monitored household** (防返贫监测对象) only while the risk is not eliminated
//!   (风险未消除); 风险已消除 drops the tag. 低保, 特困 and 低收入 are recorded but are not
//!   groups of their own here. Local practice, not a national text.
//! - A birth date after `on` (not yet born, or a data error) gives no age-based tag.
//!
//! Codes (`code()`) are local, stable and ASCII; there is no national code list for the
//! groups (a production CHIS numbers them 01-20 its own way).

use chrono::{Datelike, NaiveDate};

use crate::ws365::Disability;

/// A key group (重点人群). Order is the order of display.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyGroup {
    Elderly65,
    Child0to6,
    Pregnant,
    Hypertension,
    Diabetes,
    SevereMental,
    Tuberculosis,
    Disabled,
    PovertyAlleviated,
    MonitoredHousehold,
}

impl KeyGroup {
    pub const ALL: [KeyGroup; 10] = [
        KeyGroup::Elderly65,
        KeyGroup::Child0to6,
        KeyGroup::Pregnant,
        KeyGroup::Hypertension,
        KeyGroup::Diabetes,
        KeyGroup::SevereMental,
        KeyGroup::Tuberculosis,
        KeyGroup::Disabled,
        KeyGroup::PovertyAlleviated,
        KeyGroup::MonitoredHousehold,
    ];

    pub fn code(self) -> &'static str {
        match self {
            KeyGroup::Elderly65 => "elderly_65",
            KeyGroup::Child0to6 => "child_0_6",
            KeyGroup::Pregnant => "pregnant",
            KeyGroup::Hypertension => "hypertension",
            KeyGroup::Diabetes => "diabetes",
            KeyGroup::SevereMental => "severe_mental",
            KeyGroup::Tuberculosis => "tuberculosis",
            KeyGroup::Disabled => "disabled",
            KeyGroup::PovertyAlleviated => "poverty_alleviated",
            KeyGroup::MonitoredHousehold => "monitored_household",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            KeyGroup::Elderly65 => "65岁及以上老年人",
            KeyGroup::Child0to6 => "0～6岁儿童",
            KeyGroup::Pregnant => "孕产妇",
            KeyGroup::Hypertension => "高血压患者",
            KeyGroup::Diabetes => "2型糖尿病患者",
            KeyGroup::SevereMental => "严重精神障碍患者",
            KeyGroup::Tuberculosis => "肺结核患者",
            KeyGroup::Disabled => "残疾人",
            KeyGroup::PovertyAlleviated => "脱贫人口",
            KeyGroup::MonitoredHousehold => "防返贫监测对象",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            KeyGroup::Elderly65 => "aged 65 and over",
            KeyGroup::Child0to6 => "child aged 0-6",
            KeyGroup::Pregnant => "pregnant or postpartum",
            KeyGroup::Hypertension => "hypertension",
            KeyGroup::Diabetes => "type 2 diabetes",
            KeyGroup::SevereMental => "severe mental disorder",
            KeyGroup::Tuberculosis => "pulmonary tuberculosis",
            KeyGroup::Disabled => "disability",
            KeyGroup::PovertyAlleviated => "lifted out of poverty",
            KeyGroup::MonitoredHousehold => "household monitored against relapse into poverty",
        }
    }

    pub fn parse(code: &str) -> Option<KeyGroup> {
        KeyGroup::ALL.into_iter().find(|g| g.code() == code.trim())
    }
}

/// A diagnosis that puts a resident in a key group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Condition {
    /// 原发性高血压.
    Hypertension,
    /// 2 型糖尿病.
    Type2Diabetes,
    /// 精神分裂症 — the six 严重精神障碍 follow (`domain.md` §1 \[S\]).
    Schizophrenia,
    /// 分裂情感性障碍.
    SchizoaffectiveDisorder,
    /// 偏执性精神病.
    ParanoidPsychosis,
    /// 双相（情感）障碍.
    BipolarDisorder,
    /// 癫痫所致精神障碍.
    EpilepsyPsychosis,
    /// 精神发育迟滞伴发精神障碍.
    IntellectualDisabilityWithPsychosis,
    /// 肺结核 (confirmed, under management).
    Tuberculosis,
}

impl Condition {
    pub const ALL: [Condition; 9] = [
        Condition::Hypertension,
        Condition::Type2Diabetes,
        Condition::Schizophrenia,
        Condition::SchizoaffectiveDisorder,
        Condition::ParanoidPsychosis,
        Condition::BipolarDisorder,
        Condition::EpilepsyPsychosis,
        Condition::IntellectualDisabilityWithPsychosis,
        Condition::Tuberculosis,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Condition::Hypertension => "hypertension",
            Condition::Type2Diabetes => "type2_diabetes",
            Condition::Schizophrenia => "schizophrenia",
            Condition::SchizoaffectiveDisorder => "schizoaffective",
            Condition::ParanoidPsychosis => "paranoid_psychosis",
            Condition::BipolarDisorder => "bipolar",
            Condition::EpilepsyPsychosis => "epilepsy_psychosis",
            Condition::IntellectualDisabilityWithPsychosis => "intellectual_disability_psychosis",
            Condition::Tuberculosis => "tuberculosis",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Condition::Hypertension => "高血压",
            Condition::Type2Diabetes => "2型糖尿病",
            Condition::Schizophrenia => "精神分裂症",
            Condition::SchizoaffectiveDisorder => "分裂情感性障碍",
            Condition::ParanoidPsychosis => "偏执性精神病",
            Condition::BipolarDisorder => "双相（情感）障碍",
            Condition::EpilepsyPsychosis => "癫痫所致精神障碍",
            Condition::IntellectualDisabilityWithPsychosis => "精神发育迟滞伴发精神障碍",
            Condition::Tuberculosis => "肺结核",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Condition::Hypertension => "hypertension",
            Condition::Type2Diabetes => "type 2 diabetes",
            Condition::Schizophrenia => "schizophrenia",
            Condition::SchizoaffectiveDisorder => "schizoaffective disorder",
            Condition::ParanoidPsychosis => "paranoid psychosis",
            Condition::BipolarDisorder => "bipolar disorder",
            Condition::EpilepsyPsychosis => "mental disorder due to epilepsy",
            Condition::IntellectualDisabilityWithPsychosis => {
                "intellectual disability with mental disorder"
            }
            Condition::Tuberculosis => "pulmonary tuberculosis",
        }
    }

    pub fn parse(code: &str) -> Option<Condition> {
        Condition::ALL.into_iter().find(|c| c.code() == code.trim())
    }

    /// One of the six 严重精神障碍 managed under the 规范.
    pub fn is_severe_mental(self) -> bool {
        matches!(
            self,
            Condition::Schizophrenia
                | Condition::SchizoaffectiveDisorder
                | Condition::ParanoidPsychosis
                | Condition::BipolarDisorder
                | Condition::EpilepsyPsychosis
                | Condition::IntellectualDisabilityWithPsychosis
        )
    }
}

/// Poverty-related status (`domain.md` §8: values seen in practice \[S code]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PovertyStatus {
    /// 监测对象（风险未消除）.
    MonitoredRiskNotEliminated,
    /// 监测对象（风险已消除）.
    MonitoredRiskEliminated,
    /// 脱贫户（享受政策）.
    AlleviatedWithPolicy,
    /// 脱贫户（不享受政策）.
    AlleviatedWithoutPolicy,
    /// 农村低保.
    RuralMinimumLiving,
    /// 城镇低保.
    UrbanMinimumLiving,
    /// 城乡特困.
    ExtremelyPoor,
    /// 低收入人口.
    LowIncome,
}

impl PovertyStatus {
    pub const ALL: [PovertyStatus; 8] = [
        PovertyStatus::MonitoredRiskNotEliminated,
        PovertyStatus::MonitoredRiskEliminated,
        PovertyStatus::AlleviatedWithPolicy,
        PovertyStatus::AlleviatedWithoutPolicy,
        PovertyStatus::RuralMinimumLiving,
        PovertyStatus::UrbanMinimumLiving,
        PovertyStatus::ExtremelyPoor,
        PovertyStatus::LowIncome,
    ];

    pub fn code(self) -> &'static str {
        match self {
            PovertyStatus::MonitoredRiskNotEliminated => "monitored_at_risk",
            PovertyStatus::MonitoredRiskEliminated => "monitored_risk_eliminated",
            PovertyStatus::AlleviatedWithPolicy => "alleviated_with_policy",
            PovertyStatus::AlleviatedWithoutPolicy => "alleviated_without_policy",
            PovertyStatus::RuralMinimumLiving => "rural_dibao",
            PovertyStatus::UrbanMinimumLiving => "urban_dibao",
            PovertyStatus::ExtremelyPoor => "tekun",
            PovertyStatus::LowIncome => "low_income",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            PovertyStatus::MonitoredRiskNotEliminated => "监测对象（风险未消除）",
            PovertyStatus::MonitoredRiskEliminated => "监测对象（风险已消除）",
            PovertyStatus::AlleviatedWithPolicy => "脱贫户（享受政策）",
            PovertyStatus::AlleviatedWithoutPolicy => "脱贫户（不享受政策）",
            PovertyStatus::RuralMinimumLiving => "农村低保",
            PovertyStatus::UrbanMinimumLiving => "城镇低保",
            PovertyStatus::ExtremelyPoor => "城乡特困",
            PovertyStatus::LowIncome => "低收入人口",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            PovertyStatus::MonitoredRiskNotEliminated => "monitored, risk not eliminated",
            PovertyStatus::MonitoredRiskEliminated => "monitored, risk eliminated",
            PovertyStatus::AlleviatedWithPolicy => "lifted out of poverty, receiving support",
            PovertyStatus::AlleviatedWithoutPolicy => "lifted out of poverty, no longer supported",
            PovertyStatus::RuralMinimumLiving => "rural minimum living allowance",
            PovertyStatus::UrbanMinimumLiving => "urban minimum living allowance",
            PovertyStatus::ExtremelyPoor => "extremely poor (te kun)",
            PovertyStatus::LowIncome => "low-income",
        }
    }

    pub fn parse(code: &str) -> Option<PovertyStatus> {
        PovertyStatus::ALL
            .into_iter()
            .find(|s| s.code() == code.trim())
    }
}

/// What is known of a resident on a date.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub birth_date: Option<NaiveDate>,
    pub pregnant: bool,
    /// Current diagnoses under management (closed ones are left out by the caller).
    pub conditions: Vec<Condition>,
    pub disabilities: Vec<Disability>,
    pub poverty_status: Option<PovertyStatus>,
}

/// Completed years of age on `on` (0 if `on` is before `birth`). See the module documentation
/// for birthdays and 29 February.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> u32 {
    if on < birth {
        return 0;
    }
    let years = on.year() - birth.year();
    let before_birthday = (on.month(), on.day()) < (birth.month(), birth.day());
    (years - i32::from(before_birthday)) as u32
}

/// The key groups of a resident on `on`, in [`KeyGroup`] order, without duplicates.
pub fn key_groups(facts: &Facts, on: NaiveDate) -> Vec<KeyGroup> {
    let age = facts
        .birth_date
        .filter(|birth| *birth <= on)
        .map(|birth| age_on(birth, on));
    let has = |c: Condition| facts.conditions.contains(&c);
    let mut groups = Vec::new();
    if age.is_some_and(|a| a >= 65) {
        groups.push(KeyGroup::Elderly65);
    }
    if age.is_some_and(|a| a <= 6) {
        groups.push(KeyGroup::Child0to6);
    }
    if facts.pregnant {
        groups.push(KeyGroup::Pregnant);
    }
    if has(Condition::Hypertension) {
        groups.push(KeyGroup::Hypertension);
    }
    if has(Condition::Type2Diabetes) {
        groups.push(KeyGroup::Diabetes);
    }
    if facts.conditions.iter().any(|c| c.is_severe_mental()) {
        groups.push(KeyGroup::SevereMental);
    }
    if has(Condition::Tuberculosis) {
        groups.push(KeyGroup::Tuberculosis);
    }
    if !facts.disabilities.is_empty() {
        groups.push(KeyGroup::Disabled);
    }
    match facts.poverty_status {
        Some(PovertyStatus::AlleviatedWithPolicy | PovertyStatus::AlleviatedWithoutPolicy) => {
            groups.push(KeyGroup::PovertyAlleviated)
        }
        Some(PovertyStatus::MonitoredRiskNotEliminated) => {
            groups.push(KeyGroup::MonitoredHousehold)
        }
        _ => {}
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn age_counts_completed_years() {
        let cases = [
            // (birth, on, age)
            (d(1960, 5, 10), d(2025, 5, 9), 64),
            (d(1960, 5, 10), d(2025, 5, 10), 65),
            (d(1960, 5, 10), d(2025, 12, 31), 65),
            (d(2020, 1, 1), d(2020, 1, 1), 0),
            (d(2020, 1, 1), d(2019, 12, 31), 0),
            // 29 February: a year older on 1 March in common years, on 29 February in leap years.
            (d(2000, 2, 29), d(2001, 2, 28), 0),
            (d(2000, 2, 29), d(2001, 3, 1), 1),
            (d(2000, 2, 29), d(2004, 2, 28), 3),
            (d(2000, 2, 29), d(2004, 2, 29), 4),
            // Born 28 February, asked on 29 February of a leap year.
            (d(2003, 2, 28), d(2004, 2, 29), 1),
        ];
        for (birth, on, age) in cases {
            assert_eq!(age_on(birth, on), age, "{birth} on {on}");
        }
    }

    #[track_caller]
    fn check(facts: Facts, on: NaiveDate, expect: &[KeyGroup]) {
        assert_eq!(key_groups(&facts, on), expect);
    }

    fn born(birth: NaiveDate) -> Facts {
        Facts {
            birth_date: Some(birth),
            ..Facts::default()
        }
    }

    #[test]
    fn age_groups_switch_on_the_right_day() {
        use KeyGroup::*;
        let today = d(2026, 11, 23);
        check(born(d(1961, 11, 23)), today, &[Elderly65]);
        check(born(d(1961, 11, 24)), today, &[]);
        check(born(d(2026, 11, 23)), today, &[Child0to6]);
        // Until the day before the 7th birthday.
        check(born(d(2019, 11, 24)), today, &[Child0to6]);
        check(born(d(2019, 11, 23)), today, &[]);
        // Not yet born, or no birth date: no age tag.
        check(born(d(2026, 12, 1)), today, &[]);
        check(Facts::default(), today, &[]);
    }

    #[test]
    fn conditions_disability_and_poverty_give_their_groups() {
        use KeyGroup::*;
        let on = d(2026, 11, 23);
        let facts = Facts {
            birth_date: Some(d(1950, 1, 1)),
            pregnant: false,
            conditions: vec![
                Condition::Type2Diabetes,
                Condition::Hypertension,
                Condition::BipolarDisorder,
                Condition::Schizophrenia,
                Condition::Tuberculosis,
            ],
            disabilities: vec![Disability::Physical],
            poverty_status: Some(PovertyStatus::AlleviatedWithPolicy),
        };
        check(
            facts,
            on,
            &[
                Elderly65,
                Hypertension,
                Diabetes,
                SevereMental,
                Tuberculosis,
                Disabled,
                PovertyAlleviated,
            ],
        );
        // Hypertension is tagged below 35 too.
        let young = Facts {
            birth_date: Some(d(1996, 1, 1)),
            conditions: vec![Condition::Hypertension],
            pregnant: true,
            ..Facts::default()
        };
        check(young, on, &[Pregnant, Hypertension]);
        let cases = [
            (
                PovertyStatus::MonitoredRiskNotEliminated,
                vec![MonitoredHousehold],
            ),
            (PovertyStatus::MonitoredRiskEliminated, vec![]),
            (
                PovertyStatus::AlleviatedWithoutPolicy,
                vec![PovertyAlleviated],
            ),
            (PovertyStatus::RuralMinimumLiving, vec![]),
            (PovertyStatus::ExtremelyPoor, vec![]),
        ];
        for (status, expect) in cases {
            let facts = Facts {
                poverty_status: Some(status),
                ..Facts::default()
            };
            assert_eq!(key_groups(&facts, on), expect, "{status:?}");
        }
    }

    #[test]
    fn codes_round_trip() {
        for g in KeyGroup::ALL {
            assert_eq!(KeyGroup::parse(g.code()), Some(g));
            assert!(!g.name_zh().is_empty() && !g.name_en().is_empty());
        }
        for c in Condition::ALL {
            assert_eq!(Condition::parse(c.code()), Some(c));
            assert!(!c.name_zh().is_empty() && !c.name_en().is_empty());
        }
        for s in PovertyStatus::ALL {
            assert_eq!(PovertyStatus::parse(s.code()), Some(s));
            assert!(!s.name_zh().is_empty() && !s.name_en().is_empty());
        }
        assert_eq!(
            Condition::ALL
                .iter()
                .filter(|c| c.is_severe_mental())
                .count(),
            6
        );
    }

    fn any_date() -> impl proptest::strategy::Strategy<Value = NaiveDate> {
        use proptest::strategy::Strategy;
        // 1870-01-01 .. 2100-12-31 as day numbers from the common era.
        (682_000i32..767_000).prop_map(|n| NaiveDate::from_num_days_from_ce_opt(n).unwrap())
    }

    proptest::proptest! {
        #[test]
        fn age_never_decreases(birth in any_date(), a in any_date(), b in any_date()) {
            let (early, late) = if a <= b { (a, b) } else { (b, a) };
            proptest::prop_assert!(age_on(birth, early) <= age_on(birth, late));
        }

        #[test]
        fn age_rises_by_one_each_birthday(birth in any_date(), years in 0i32..120) {
            // Skip 29 February, whose birthday moves (tested above).
            proptest::prop_assume!(!(birth.month() == 2 && birth.day() == 29));
            let birthday = birth.with_year(birth.year() + years).unwrap();
            proptest::prop_assert_eq!(age_on(birth, birthday), years as u32);
            proptest::prop_assert_eq!(
                age_on(birth, birthday.pred_opt().unwrap()),
                (years - 1).max(0) as u32
            );
        }
    }
}
