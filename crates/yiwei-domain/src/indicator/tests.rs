use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use proptest::prelude::*;

use super::breakdown::{self, AgeGroup, Person};
use super::*;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn catalogue_codes_are_unique_ascii_and_grouped_by_section() {
    let mut seen = HashSet::new();
    let mut last = Section::Records;
    for d in catalogue() {
        assert!(seen.insert(d.code), "duplicate {}", d.code);
        assert!(
            d.code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{}",
            d.code
        );
        assert!(d.section >= last, "{} out of section order", d.code);
        last = d.section;
        assert!(!d.name_zh.is_empty() && !d.name_en.is_empty());
        assert!(!d.rule.is_empty());
        assert!(!d.periods.is_empty());
        assert!(d.disaggregations.contains(&Disaggregation::Division));
        if d.unit.is_ratio() {
            assert!(
                !d.denominator_zh.is_empty(),
                "{} has no denominator",
                d.code
            );
        }
    }
    for s in Section::ALL {
        assert!(catalogue().iter().any(|d| d.section == s), "{s:?} is empty");
    }
}

#[test]
fn imaging_and_cost_alerts_are_maintained_and_the_county_visit_rate_says_why_not() {
    for (code, source) in [
        ("imaging_studies", "imaging"),
        ("imaging_shares", "imaging"),
        ("imaging_reports_signed", "imaging"),
        ("imaging_patient_links", "imaging"),
        ("imaging_recognitions", "recognition"),
        ("recognition_rate", "recognition"),
        ("recognition_savings_patients", "recognition"),
        ("recognition_savings_institutions", "recognition"),
        ("cost_alerts", "cost_alerts"),
        ("household_checks", "cost_alerts"),
        ("cost_alerts_checked", "cost_alerts"),
    ] {
        assert_eq!(
            by_code(code).unwrap().source,
            Source::Maintained(source),
            "{code}"
        );
    }
    // No entry waits for a module any more; what cannot be computed says why.
    for d in catalogue() {
        assert!(!matches!(d.source, Source::Pending { .. }), "{}", d.code);
    }
    assert!(matches!(
        by_code("county_visit_rate").unwrap().source,
        Source::Unavailable { why } if why.contains("异地就医")
    ));
    assert_eq!(
        by_code("student_vision").unwrap().target,
        Some(Target::AtLeast(95.0))
    );
    assert_eq!(
        by_code("county_visit_rate").unwrap().target,
        Some(Target::AtLeast(90.0))
    );
}

#[test]
fn age_groups_band_on_the_day_and_the_cutoffs_agree() {
    let on = day(2025, 12, 31);
    let check = |birth: Option<NaiveDate>, band: AgeGroup| {
        assert_eq!(AgeGroup::on(birth, on), band, "{birth:?}");
    };
    check(Some(day(2019, 1, 1)), AgeGroup::Age0to6);
    check(Some(day(2018, 12, 31)), AgeGroup::Age7to17);
    check(Some(day(2007, 12, 31)), AgeGroup::Age18to34);
    check(Some(day(1990, 12, 31)), AgeGroup::Age35to64);
    check(Some(day(1960, 12, 31)), AgeGroup::Age65Plus);
    check(Some(day(1961, 1, 1)), AgeGroup::Age35to64);
    check(None, AgeGroup::Unknown);
    check(Some(day(2026, 1, 1)), AgeGroup::Unknown);
    assert_eq!(AgeGroup::parse("65+"), Some(AgeGroup::Age65Plus));
    assert_eq!(
        breakdown::split("age:65+"),
        Some((Disaggregation::AgeGroup, "65+"))
    );
    assert_eq!(breakdown::split("institution:3"), None);
    assert_eq!(
        breakdown::key(Disaggregation::Sex, "female").as_deref(),
        Some("sex:female")
    );
    assert_eq!(
        breakdown::dimension("age_group"),
        Some(Disaggregation::AgeGroup)
    );
    assert_eq!(breakdown::dimension("institution"), None);
    assert_eq!(
        breakdown::label(Disaggregation::KeyGroup, "poverty_alleviated").0,
        "脱贫人口"
    );
}

/// The rank a set-based query computes from the cutoffs.
fn rank(birth: Option<NaiveDate>, on: NaiveDate) -> Option<u32> {
    let b = birth.filter(|b| *b <= on)?;
    Some(AgeGroup::cutoffs(on).iter().filter(|c| b <= **c).count() as u32)
}

#[test]
fn rates_per_unit() {
    let f = Fraction::new(9138, 10000);
    assert_eq!(f.display(Unit::Percent), "91.4%");
    assert_eq!(
        Fraction::new(12, 100_000).display(Unit::Per100k),
        "12.00/10万"
    );
    assert_eq!(Fraction::new(8303, 0).display(Unit::Count), "8303");
    assert_eq!(
        Fraction::new(83_680_000, 0).display(Unit::Yuan),
        "836800.00元"
    );
    assert_eq!(Fraction::new(1, 0).display(Unit::Percent), "—");
    assert_eq!(Fraction::new(0, 0).percent(), None);
}

#[test]
fn targets_compare_and_label() {
    let t = Target::AtLeast(95.0);
    assert_eq!(t.compare(Some(95.0)), TargetStatus::Met);
    assert_eq!(t.compare(Some(94.9)), TargetStatus::Missed);
    assert_eq!(t.compare(None), TargetStatus::Unknown);
    assert_eq!(Target::AtMost(5.0).compare(Some(6.0)), TargetStatus::Missed);
    assert_eq!(t.label(Unit::Percent), "≥95%");
    assert_eq!(Target::AtLeast(97.5).label(Unit::Percent), "≥97.5%");
}

#[test]
fn trend_arrows() {
    assert_eq!(Trend::between(Some(1.0), Some(2.0), 0.05), Trend::Up);
    assert_eq!(Trend::between(Some(2.0), Some(1.0), 0.05), Trend::Down);
    assert_eq!(Trend::between(Some(2.0), Some(2.01), 0.05), Trend::Flat);
    assert_eq!(Trend::between(None, Some(2.0), 0.05), Trend::Unknown);
}

#[test]
fn periods_parse_and_bound() {
    let check = |text: &str, p: Period, first: NaiveDate, last: NaiveDate| {
        let parsed = Period::parse(text).unwrap();
        assert_eq!(parsed, p, "{text}");
        assert_eq!(parsed.first_day(), first, "{text}");
        assert_eq!(parsed.last_day(), last, "{text}");
    };
    check(
        "2025",
        Period::Year(2025),
        day(2025, 1, 1),
        day(2025, 12, 31),
    );
    check(
        "2024-Q1",
        Period::Quarter(2024, 1),
        day(2024, 1, 1),
        day(2024, 3, 31),
    );
    check(
        "2024-02",
        Period::Month(2024, 2),
        day(2024, 2, 1),
        day(2024, 2, 29),
    );
    check(
        "2025-q4",
        Period::Quarter(2025, 4),
        day(2025, 10, 1),
        day(2025, 12, 31),
    );
    for bad in [
        "", "25", "2025-13", "2025-Q5", "2025-Q0", "1999", "2025-", "2025/03", "abcd",
    ] {
        assert!(Period::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(Period::Month(2025, 1).previous(), Period::Month(2024, 12));
    assert_eq!(
        Period::Quarter(2025, 1).previous(),
        Period::Quarter(2024, 4)
    );
    assert_eq!(Period::all_in_year(2025).len(), 17);
    assert_eq!(Period::Quarter(2025, 2).month_periods().len(), 3);
    assert!(Period::Year(2025).ended_by(day(2026, 1, 1)));
    assert!(!Period::Year(2025).ended_by(day(2025, 12, 31)));
}

proptest! {
    #[test]
    fn period_text_round_trips(y in 2000i32..2100, m in 1u32..=12, q in 1u32..=4) {
        for p in [Period::Year(y), Period::Month(y, m), Period::Quarter(y, q)] {
            prop_assert_eq!(Period::parse(&p.to_string()).unwrap(), p);
            prop_assert!(p.contains(p.first_day()) && p.contains(p.last_day()));
            prop_assert_eq!(p.previous().last_day().succ_opt().unwrap(), p.first_day());
        }
    }

    #[test]
    fn months_tile_their_period(y in 2000i32..2100, q in 1u32..=4) {
        for p in [Period::Year(y), Period::Quarter(y, q)] {
            let months = p.month_periods();
            prop_assert_eq!(months[0].first_day(), p.first_day());
            prop_assert_eq!(months.last().unwrap().last_day(), p.last_day());
            for w in months.windows(2) {
                prop_assert_eq!(w[0].last_day().succ_opt().unwrap(), w[1].first_day());
            }
        }
    }

    /// Residents spread over villages of townships: the county's figure from the villages'
    /// fractions rolled up equals the figure computed over all residents at once, and equals
    /// the roll-up of the townships' roll-ups, whatever the spread.
    #[test]
    fn village_roll_up_equals_the_county_computed_directly(
        residents in proptest::collection::vec((0u8..4, 0u8..5, any::<bool>(), any::<bool>()), 0..300)
    ) {
        // (township, village, in denominator, in numerator): numerator only inside denominator.
        let mut villages: BTreeMap<(u8, u8), Fraction> = BTreeMap::new();
        let mut direct = Fraction::default();
        for (t, v, den, num) in &residents {
            let f = Fraction::new(i64::from(*den && *num), i64::from(*den));
            let e = villages.entry((*t, *v)).or_default();
            *e = Fraction::sum([*e, f]);
            direct.numerator += f.numerator;
            direct.denominator += f.denominator;
        }
        let county = Fraction::sum(villages.values().copied());
        prop_assert_eq!(county, direct);
        let townships: Vec<Fraction> = (0..4u8)
            .map(|t| Fraction::sum(villages.iter().filter(|(k, _)| k.0 == t).map(|(_, f)| *f)))
            .collect();
        prop_assert_eq!(Fraction::sum(townships), direct);
        prop_assert_eq!(county.percent(), direct.percent());
    }
}

#[test]
fn averaging_ratios_would_differ_from_the_roll_up() {
    // 1/1 and 0/9: the mean of ratios is 50 %, the county's rate is 10 %.
    let parts = [Fraction::new(1, 1), Fraction::new(0, 9)];
    assert_eq!(Fraction::sum(parts).percent(), Some(10.0));
}

proptest! {
    /// The band from comparing a birth date with the cutoffs (what the SQL does) equals
    /// the band from the age in completed years, on any day, leap days included.
    #[test]
    fn cutoff_ranks_band_like_completed_years(
        birth in 0i64..40_000, on in 20_000i64..40_000, known in any::<bool>()
    ) {
        let base = day(1920, 1, 1);
        let birth = known.then(|| base + chrono::Duration::days(birth));
        let on = base + chrono::Duration::days(on);
        prop_assert_eq!(AgeGroup::from_rank(rank(birth, on)), AgeGroup::on(birth, on));
    }

    /// Sex strata and age strata each add up to the total, whatever the people; key-group
    /// strata count a person once per group they are in.
    #[test]
    fn sex_and_age_strata_add_up_to_the_total(
        people in proptest::collection::vec(
            (0u8..3, proptest::option::of(0i64..36_000), 0u8..8, 0i64..5, 0i64..5), 0..200)
    ) {
        let on = day(2025, 6, 30);
        let sexes = ["male", "female", "unknown"];
        let tags = ["", "hypertension", "poverty_alleviated", "hypertension,diabetes", "elderly_65",
            "monitored_household", "nonsense", "disabled,severe_mental"];
        let mut strata = BTreeMap::new();
        let mut key_count: BTreeMap<String, i64> = BTreeMap::new();
        for (sex, birth, tag, n, d) in &people {
            let birth = birth.map(|b| day(1926, 1, 1) + chrono::Duration::days(b));
            let p = Person::resident(sexes[usize::from(*sex)], birth, tags[usize::from(*tag)], on);
            for g in &p.key_groups {
                *key_count.entry(format!("key:{g}")).or_default() += n;
            }
            breakdown::fan_out(
                &mut strata,
                &[Disaggregation::Sex, Disaggregation::AgeGroup, Disaggregation::KeyGroup],
                &p,
                Fraction::new(*n, n + d),
            );
        }
        let total = strata.get("").copied().unwrap_or_default();
        for prefix in ["sex:", "age:"] {
            let sum = Fraction::sum(
                strata.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, f)| *f),
            );
            prop_assert_eq!(sum, total, "{}", prefix);
        }
        for (k, n) in key_count {
            prop_assert_eq!(strata[&k].numerator, n);
        }
    }

    /// A resident's key groups from the band equal those the contract rules give.
    #[test]
    fn banded_key_groups_match_the_contract_rule(
        birth in proptest::option::of(0i64..36_000), tag in 0u8..5
    ) {
        let on = day(2025, 12, 31);
        let tags = ["", "hypertension,elderly_65", "child_0_6", "pregnant,diabetes", "x"];
        let birth = birth.map(|b| day(1926, 1, 1) + chrono::Duration::days(b));
        let text = tags[usize::from(tag)];
        let stored: Vec<&str> = text.split(',').filter(|s| !s.is_empty()).collect();
        let want: Vec<&str> = crate::contract::key_groups_on(birth, &stored, on)
            .into_iter()
            .map(|g| g.code())
            .collect();
        prop_assert_eq!(Person::resident("male", birth, text, on).key_groups, want);
    }
}
