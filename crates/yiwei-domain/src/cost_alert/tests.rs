use chrono::NaiveDate;
use proptest::prelude::*;

use super::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn charge(date: NaiveDate, total: Fen, paid: Fen, oop: Fen) -> ChargeInput {
    ChargeInput {
        visit_date: date,
        kind: VisitKind::Outpatient,
        total_fen: total,
        insurance_paid_fen: paid,
        out_of_pocket_fen: oop,
        policy_out_of_pocket_fen: None,
    }
}

const TODAY: fn() -> NaiveDate = || d(2026, 11, 23);

#[test]
fn a_plain_charge_is_accepted() {
    let c = Charge::parse(charge(d(2026, 10, 3), 12_000, 8_000, 4_000), TODAY()).unwrap();
    assert_eq!(c.input().total_fen, 12_000);
}

#[test]
fn negative_amounts_are_named_by_field() {
    let mut input = charge(d(2026, 10, 3), -1, 0, -5);
    input.policy_out_of_pocket_fen = Some(-2);
    let errs = Charge::parse(input, TODAY()).unwrap_err();
    assert_eq!(
        errs,
        vec![
            ChargeError::Negative(ChargeField::Total),
            ChargeError::Negative(ChargeField::OutOfPocket),
            ChargeError::Negative(ChargeField::PolicyOutOfPocket),
        ]
    );
    assert!(errs[0].to_string().contains("总费用"));
    assert_eq!(errs[1].field().code(), "out_of_pocket_fen");
}

#[test]
fn parts_above_the_total_are_refused() {
    let errs = Charge::parse(charge(d(2026, 10, 3), 100, 60, 41), TODAY()).unwrap_err();
    assert_eq!(errs, vec![ChargeError::PartsExceedTotal]);
    // Parts below the total are fine: the rest is 自费 outside both (rare) or rounding.
    assert!(Charge::parse(charge(d(2026, 10, 3), 100, 60, 39), TODAY()).is_ok());
}

#[test]
fn policy_scope_cannot_exceed_out_of_pocket() {
    let mut input = charge(d(2026, 10, 3), 100, 50, 50);
    input.policy_out_of_pocket_fen = Some(51);
    assert_eq!(
        Charge::parse(input, TODAY()).unwrap_err(),
        vec![ChargeError::PolicyExceedsOutOfPocket]
    );
}

#[test]
fn huge_amounts_and_impossible_dates_are_refused() {
    let errs =
        Charge::parse(charge(d(2026, 12, 1), MAX_CHARGE_FEN + 1, 0, 0), TODAY()).unwrap_err();
    assert_eq!(
        errs,
        vec![
            ChargeError::TooLarge(ChargeField::Total),
            ChargeError::FutureDate
        ]
    );
    let errs = Charge::parse(charge(d(1999, 12, 31), 1, 0, 0), TODAY()).unwrap_err();
    assert_eq!(errs, vec![ChargeError::TooOld]);
}

#[test]
fn overflowing_parts_do_not_panic() {
    let errs = Charge::parse(
        charge(
            d(2026, 10, 1),
            MAX_CHARGE_FEN,
            MAX_CHARGE_FEN,
            MAX_CHARGE_FEN,
        ),
        TODAY(),
    )
    .unwrap_err();
    assert_eq!(errs, vec![ChargeError::PartsExceedTotal]);
}

#[test]
fn yuan_parse_and_format() {
    for (text, fen) in [
        ("10000", Some(1_000_000)),
        ("10,000", Some(1_000_000)),
        ("10000.5", Some(1_000_050)),
        ("0.05", Some(5)),
        (".5", Some(50)),
        ("1.234", None),
        ("-3", None),
        ("", None),
        ("abc", None),
        ("１０", None),
    ] {
        assert_eq!(parse_yuan(text), fen, "{text}");
    }
    assert_eq!(format_yuan(123_456_789), "1,234,567.89");
    assert_eq!(format_yuan(5), "0.05");
    assert_eq!(format_yuan(100_000), "1,000.00");
    assert_eq!(format_yuan(-150), "-1.50");
}

#[test]
fn months_and_windows() {
    let m = Month::parse("2026-10").unwrap();
    assert_eq!(m.to_string(), "2026-10");
    assert_eq!(m.window(1), (d(2026, 10, 1), d(2026, 10, 31)));
    assert_eq!(m.window(3), (d(2026, 8, 1), d(2026, 10, 31)));
    assert_eq!(m.window(12), (d(2025, 11, 1), d(2026, 10, 31)));
    assert_eq!(Month::parse("2024-02").unwrap().last_day(), d(2024, 2, 29));
    assert_eq!(
        Month::previous_of(d(2026, 1, 2)),
        Month::parse("2025-12").unwrap()
    );
    for bad in ["2026-13", "2026-1", "26-10", "2026/10", "", "2026-00"] {
        assert_eq!(Month::parse(bad), None, "{bad}");
    }
}

#[test]
fn the_defaults_are_the_reviews_rules() {
    let rules = default_rules();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].population, Population::PovertyOrMonitored);
    assert_eq!(rules[0].basis, CostBasis::Total);
    assert_eq!(rules[0].threshold_fen, 1_000_000);
    assert_eq!(rules[1].population, Population::Others);
    assert_eq!(rules[1].basis, CostBasis::OutOfPocket);
    assert_eq!(rules[1].threshold_fen, 2_000_000);
    for r in &rules {
        assert_eq!(RuleForm::of(r).parse().as_ref(), Ok(r));
    }
}

#[test]
fn rule_edits_are_checked_field_by_field() {
    let good = RuleForm::of(&default_rules()[0]);
    let mut f = good.clone();
    f.threshold_yuan = "0".into();
    assert_eq!(f.parse().unwrap_err(), vec![RuleError::ThresholdOutOfRange]);
    f.threshold_yuan = "-100".into();
    assert_eq!(f.parse().unwrap_err(), vec![RuleError::ThresholdNotANumber]);
    f.threshold_yuan = "2000000".into();
    assert_eq!(f.parse().unwrap_err(), vec![RuleError::ThresholdOutOfRange]);
    let mut f = good.clone();
    f.window_months = "13".into();
    f.code = "Bad Code".into();
    f.population = "rich".into();
    let errs = f.parse().unwrap_err();
    assert_eq!(
        errs.iter().map(RuleError::field).collect::<Vec<_>>(),
        vec![RuleField::Code, RuleField::Population, RuleField::Window]
    );
    let mut f = good;
    f.window_months = "0".into();
    assert_eq!(f.parse().unwrap_err(), vec![RuleError::BadWindow]);
}

#[test]
fn evaluation_is_strictly_above_and_by_population() {
    let rules = default_rules();
    let agg = |total, oop| Aggregate {
        n_charges: 1,
        total_fen: total,
        out_of_pocket_fen: oop,
        policy_out_of_pocket_fen: oop,
    };
    let poor = ResidentGroup::PovertyOrMonitored;
    let other = ResidentGroup::Other;
    assert_eq!(evaluate(&rules[0], poor, &agg(1_000_000, 0)), None);
    assert_eq!(
        evaluate(&rules[0], poor, &agg(1_000_001, 0)),
        Some(Hit {
            amount_fen: 1_000_001,
            threshold_fen: 1_000_000
        })
    );
    assert_eq!(evaluate(&rules[0], other, &agg(5_000_000, 0)), None);
    assert_eq!(evaluate(&rules[1], poor, &agg(5_000_000, 5_000_000)), None);
    assert!(evaluate(&rules[1], other, &agg(5_000_000, 2_000_001)).is_some());
    let mut inactive = rules[1].clone();
    inactive.active = false;
    assert_eq!(evaluate(&inactive, other, &agg(5_000_000, 5_000_000)), None);
}

#[test]
fn groups_come_from_key_groups() {
    assert_eq!(
        ResidentGroup::from_key_groups(["hypertension", "poverty_alleviated"]),
        ResidentGroup::PovertyOrMonitored
    );
    assert_eq!(
        ResidentGroup::from_key_groups(["monitored_household"]),
        ResidentGroup::PovertyOrMonitored
    );
    assert_eq!(
        ResidentGroup::from_key_groups(["diabetes", ""]),
        ResidentGroup::Other
    );
}

#[test]
fn aggregate_counts_only_the_window_and_falls_back_for_policy_scope() {
    let mut with_policy = charge(d(2026, 10, 31), 1_000, 500, 500);
    with_policy.policy_out_of_pocket_fen = Some(200);
    let charges = [
        charge(d(2026, 9, 30), 9_999, 0, 9_999),
        charge(d(2026, 10, 1), 1_000, 400, 600),
        with_policy,
        charge(d(2026, 11, 1), 7, 0, 7),
    ];
    let (from, to) = Month::parse("2026-10").unwrap().window(1);
    let a = Aggregate::of(&charges, from, to);
    assert_eq!(
        a,
        Aggregate {
            n_charges: 2,
            total_fen: 2_000,
            out_of_pocket_fen: 1_100,
            policy_out_of_pocket_fen: 800,
        }
    );
}

#[test]
fn the_check_workflow() {
    use AlertStatus::*;
    use CheckOutcome::*;
    let month = Month::parse("2026-10").unwrap();
    let input = |outcome, note: &str, on| CheckInput {
        outcome,
        note: note.into(),
        checked_on: on,
    };
    let today = TODAY();
    assert_eq!(
        record_check(Open, month, &input(CouldNotReach, "家中无人", today), today),
        Ok(Checking)
    );
    assert_eq!(
        record_check(Checking, month, &input(AssistanceApplied, "", today), today),
        Ok(Closed)
    );
    assert_eq!(
        record_check(Closed, month, &input(Deceased, "", today), today),
        Err(CheckError::AlreadyClosed)
    );
    assert_eq!(
        record_check(Open, month, &input(NotNeeded, "  ", today), today),
        Err(CheckError::NoteRequired)
    );
    assert_eq!(
        record_check(Open, month, &input(MovedAway, "", d(2026, 9, 30)), today),
        Err(CheckError::BadDate)
    );
    assert_eq!(
        record_check(Open, month, &input(MovedAway, "", d(2026, 11, 24)), today),
        Err(CheckError::BadDate)
    );
    assert_eq!(Closed.after_reopen(), Ok(Checking));
    assert_eq!(Open.after_reopen(), Err(CheckError::NotClosed));
    for o in CheckOutcome::ALL {
        assert_eq!(CheckOutcome::parse(o.code()), Some(o));
    }
    for s in AlertStatus::ALL {
        assert_eq!(AlertStatus::parse(s.code()), Some(s));
    }
}

fn arb_charge() -> impl Strategy<Value = ChargeInput> {
    (
        0i64..400,
        -10i64..3_000_000,
        -10i64..3_000_000,
        -10i64..3_000_000,
        proptest::option::of(-10i64..3_000_000),
    )
        .prop_map(|(day, total, paid, oop, policy)| ChargeInput {
            visit_date: d(2026, 1, 1) + chrono::Days::new(day as u64),
            kind: VisitKind::Inpatient,
            total_fen: total,
            insurance_paid_fen: paid,
            out_of_pocket_fen: oop,
            policy_out_of_pocket_fen: policy,
        })
}

proptest! {
    #[test]
    fn accepted_charges_keep_the_invariants(c in arb_charge()) {
        if let Ok(ok) = Charge::parse(c.clone(), TODAY()) {
            let c = ok.input();
            prop_assert!(c.total_fen >= 0 && c.insurance_paid_fen >= 0 && c.out_of_pocket_fen >= 0);
            prop_assert!(c.insurance_paid_fen + c.out_of_pocket_fen <= c.total_fen);
            prop_assert!(c.policy_out_of_pocket_fen.unwrap_or(0) <= c.out_of_pocket_fen);
            prop_assert!(c.visit_date <= TODAY());
        } else {
            let errs = Charge::parse(c, TODAY()).unwrap_err();
            prop_assert!(!errs.is_empty());
        }
    }

    #[test]
    fn yuan_round_trips(fen in 0i64..10_000_000_000) {
        prop_assert_eq!(parse_yuan(&format_yuan(fen)), Some(fen));
    }

    #[test]
    fn a_wider_window_never_lowers_the_sum(
        charges in proptest::collection::vec(arb_charge(), 0..30),
        n in 1u8..12,
    ) {
        let month = Month::parse("2026-10").unwrap();
        let (a_from, a_to) = month.window(n);
        let (b_from, b_to) = month.window(n + 1);
        let a = Aggregate::of(&charges, a_from, a_to);
        let b = Aggregate::of(&charges, b_from, b_to);
        prop_assert!(b.n_charges >= a.n_charges);
        prop_assert_eq!(a_to, b_to);
    }

    #[test]
    fn raising_the_threshold_never_adds_an_alert(
        total in 0i64..10_000_000,
        oop in 0i64..10_000_000,
        t1 in MIN_THRESHOLD_FEN..MAX_THRESHOLD_FEN,
        dt in 0i64..1_000_000,
    ) {
        let agg = Aggregate { n_charges: 1, total_fen: total, out_of_pocket_fen: oop, policy_out_of_pocket_fen: oop };
        for mut rule in default_rules() {
            rule.population = Population::Everyone;
            rule.threshold_fen = t1;
            let low = evaluate(&rule, ResidentGroup::Other, &agg);
            rule.threshold_fen = t1 + dt;
            let high = evaluate(&rule, ResidentGroup::Other, &agg);
            prop_assert!(!(high.is_some() && low.is_none()));
        }
    }

    #[test]
    fn a_check_never_leaves_a_closed_alert_changed(o in 0usize..7, s in 0usize..3) {
        let outcome = CheckOutcome::ALL[o];
        let status = AlertStatus::ALL[s];
        match status.after_check(outcome) {
            Ok(next) => {
                prop_assert!(status != AlertStatus::Closed);
                prop_assert_eq!(next == AlertStatus::Closed, outcome.closes());
            }
            Err(e) => prop_assert_eq!(e, CheckError::AlreadyClosed),
        }
    }

    #[test]
    fn month_parse_never_panics(s in "\\PC{0,10}") {
        let _ = Month::parse(&s);
        let _ = parse_yuan(&s);
        let _ = parse_fen(&s);
    }
}
