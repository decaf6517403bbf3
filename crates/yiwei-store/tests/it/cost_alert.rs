//! Cost alerts (防返贫监测预警) on both backends: charges matched by ID card or resident
//! id, unknown patients kept in the unmatched queue and attached later (by hand or when
//! they are registered), idempotent re-submission, rules with history, the set-based
//! monthly run agreeing with the domain's `evaluate` and never duplicating on a rerun, the
//! household-check workflow through the access gate with its audit rows, and statistics.

use chrono::NaiveDate;
use yiwei_domain::cost_alert::{
    Aggregate, AlertStatus, Charge, ChargeInput, CheckInput, CheckOutcome, CostBasis, Month,
    Population, ResidentGroup, VisitKind, default_rules, evaluate,
};
use yiwei_store::Store;
use yiwei_store::access::Viewer;
use yiwei_store::access::cost_alert as gate;
use yiwei_store::cost_alert::{self, AlertFilter, NewCharge, Patient};
use yiwei_store::resident;
use yiwei_store::user::User;

use crate::support::{County, exec, id_card, int, new_resident};

fn viewer(user: &User) -> Viewer<'_> {
    Viewer {
        user,
        remote_addr: Some("10.1.2.3".into()),
    }
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn today() -> NaiveDate {
    d(2026, 11, 23).max(yiwei_store::now().date_naive())
}

fn october() -> Month {
    Month::parse("2026-10").unwrap()
}

fn new_charge(
    institution: i64,
    visit: &str,
    date: NaiveDate,
    total: i64,
    oop: i64,
    patient: Patient,
) -> NewCharge {
    NewCharge {
        institution_id: institution,
        external_visit_id: visit.into(),
        charge: Charge::parse(
            ChargeInput {
                visit_date: date,
                kind: VisitKind::Inpatient,
                total_fen: total,
                insurance_paid_fen: total - oop,
                out_of_pocket_fen: oop,
                policy_out_of_pocket_fen: None,
            },
            today(),
        )
        .unwrap(),
        patient,
        source: "test",
    }
}

fn by_card(card: &str) -> Patient {
    Patient {
        resident_id: None,
        id_card: Some(card.into()),
        name: "某某".into(),
    }
}

fn by_id(id: i64) -> Patient {
    Patient {
        resident_id: Some(id),
        id_card: None,
        name: String::new(),
    }
}

async fn setup(store: &Store) -> County {
    let county = County::build(store).await;
    cost_alert::ensure_rules(store, &default_rules())
        .await
        .unwrap();
    // ana is 脱贫人口; the others are ordinary residents.
    exec(
        store,
        &format!(
            "UPDATE resident SET key_groups = 'hypertension,poverty_alleviated' WHERE id = {}",
            county.ana
        ),
    )
    .await
    .unwrap();
    county
}

async fn rules_are_seeded_once_and_edited_with_history(store: Store) {
    let county = setup(&store).await;
    assert_eq!(
        cost_alert::ensure_rules(&store, &default_rules())
            .await
            .unwrap(),
        0
    );
    let rules = cost_alert::rules(&store).await.unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].rule, default_rules()[0]);
    let mut changed = rules[0].rule.clone();
    changed.threshold_fen = 800_000;
    changed.window_months = 3;
    let admin = viewer(&county.admin);
    gate::save_rule(
        &store,
        &admin,
        Some(rules[0].id),
        1,
        &changed,
        "县里调低阈值",
    )
    .await
    .unwrap();
    // A stale version is refused, a clinician may not edit.
    assert!(
        gate::save_rule(&store, &admin, Some(rules[0].id), 1, &changed, "")
            .await
            .is_err()
    );
    assert!(
        gate::save_rule(
            &store,
            &viewer(&county.clinician_a),
            Some(rules[0].id),
            2,
            &changed,
            ""
        )
        .await
        .is_err()
    );
    let history = cost_alert::rule_history(&store, rules[0].id).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].version, 2);
    assert_eq!(history[0].threshold_fen, 800_000);
    assert_eq!(history[0].changed_by, Some(county.admin.id));
    assert_eq!(history[0].note, "县里调低阈值");
    assert_eq!(history[1].threshold_fen, 1_000_000);
    let stored = cost_alert::rule(&store, rules[0].id).await.unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.rule.window_months, 3);
}
conformance!(rules_are_seeded_once_and_edited_with_history);

async fn charges_match_and_resubmission_is_idempotent(store: Store) {
    let county = setup(&store).await;
    let rows = vec![
        new_charge(
            county.hospital,
            "V1",
            d(2026, 10, 2),
            600_000,
            60_000,
            by_card(&county.ana_id_card),
        ),
        new_charge(
            county.centre_a,
            "V1",
            d(2026, 10, 5),
            500_000,
            50_000,
            by_id(county.bo),
        ),
        new_charge(
            county.hospital,
            "V2",
            d(2026, 10, 9),
            10_000,
            1_000,
            by_card(&id_card("451226", "19700101", 77)),
        ),
    ];
    let out = cost_alert::submit_charges(&store, &rows).await.unwrap();
    assert_eq!(out[0].resident_id, Some(county.ana));
    assert!(out[0].created);
    assert_eq!(out[1].resident_id, Some(county.bo));
    assert_eq!(out[2].resident_id, None);
    // The unmatched charge keeps its ID card encrypted and hashed, never in plain text.
    let enc = crate::support::blob(&store, "cost_charge", "id_card_enc", out[2].charge_id).await;
    assert!(enc.is_some());
    let (queue, total) = cost_alert::unmatched(&store, None, 10, 0).await.unwrap();
    assert_eq!(total, 1);
    assert!(queue[0].id_card_masked.as_deref().unwrap().contains('*'));
    assert_eq!(queue[0].patient_name, "某某");
    // The same file again: same ids, nothing new.
    let again = cost_alert::submit_charges(&store, &rows).await.unwrap();
    assert_eq!(
        again.iter().map(|s| s.charge_id).collect::<Vec<_>>(),
        out.iter().map(|s| s.charge_id).collect::<Vec<_>>()
    );
    assert!(again.iter().all(|s| !s.created));
    assert_eq!(again[0].resident_id, Some(county.ana));
    assert_eq!(int(&store, "SELECT COUNT(*) FROM cost_charge").await, 3);
    // A corrected amount updates the row.
    let corrected = vec![new_charge(
        county.hospital,
        "V1",
        d(2026, 10, 2),
        700_000,
        70_000,
        by_card(&county.ana_id_card),
    )];
    cost_alert::submit_charges(&store, &corrected)
        .await
        .unwrap();
    assert_eq!(
        int(
            &store,
            &format!(
                "SELECT total_fen FROM cost_charge WHERE id = {}",
                out[0].charge_id
            )
        )
        .await,
        700_000
    );
    // Matched matched charges keep no identifying data.
    assert!(
        crate::support::blob(&store, "cost_charge", "id_card_enc", out[0].charge_id)
            .await
            .is_none()
    );
}
conformance!(charges_match_and_resubmission_is_idempotent);

async fn unknown_residents_wait_and_are_attached_never_dropped(store: Store) {
    let county = setup(&store).await;
    let stranger = id_card("451226", "19580202", 55);
    let other = id_card("451226", "19600303", 66);
    let rows = vec![
        new_charge(
            county.hospital,
            "U1",
            d(2026, 10, 3),
            1_500_000,
            100_000,
            by_card(&stranger),
        ),
        new_charge(
            county.hospital,
            "U2",
            d(2026, 10, 4),
            900_000,
            90_000,
            by_card(&other),
        ),
        new_charge(
            county.hospital,
            "U3",
            d(2026, 10, 4),
            900_000,
            90_000,
            by_id(999_999),
        ),
    ];
    let out = cost_alert::submit_charges(&store, &rows).await.unwrap();
    assert!(out.iter().all(|s| s.resident_id.is_none()));
    // A village doctor (village reach) of another institution sees none of the queue;
    // the analyst (no personal records) is refused.
    let (mine, _) = gate::unmatched_list(&store, &viewer(&county.doctor_a1), 10, 0)
        .await
        .unwrap();
    assert!(mine.is_empty());
    assert!(
        gate::unmatched_list(&store, &viewer(&county.analyst), 10, 0)
            .await
            .is_err()
    );
    // The stranger registers: the next run attaches their charge by ID card.
    let by = county.admin.who();
    let newcomer = resident::create(
        &store,
        &new_resident(&county.village_b1, "陌生人", "male", Some(&stranger), None),
        &by,
    )
    .await
    .unwrap();
    let summary = cost_alert::run_month(&store, october(), None, "test")
        .await
        .unwrap();
    assert_eq!(summary.n_attached, 1);
    let c = cost_alert::charge(&store, out[0].charge_id).await.unwrap();
    assert_eq!(c.resident_id, Some(newcomer));
    assert_eq!(c.matched_how.as_deref(), Some("id_card"));
    // The other one is attached by hand by the clinician of township A to bo.
    gate::attach_charge(
        &store,
        &viewer(&county.clinician_a),
        out[1].charge_id,
        county.bo,
    )
    .await
    .expect_err("clinician_a has township reach, not the county's");
    let hospital_staff = crate::support::add_user(
        &store,
        crate::support::UserSpec {
            username: "registrar",
            role: yiwei_domain::access::Role::Clinician,
            institution: Some(county.hospital),
            reach: &county.county,
            resident: None,
            phone: None,
        },
        &by,
    )
    .await;
    let (queue, total) = gate::unmatched_list(&store, &viewer(&hospital_staff), 10, 0)
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(queue.len(), 2);
    gate::attach_charge(
        &store,
        &viewer(&hospital_staff),
        out[1].charge_id,
        county.bo,
    )
    .await
    .unwrap();
    assert!(
        gate::attach_charge(
            &store,
            &viewer(&hospital_staff),
            out[1].charge_id,
            county.dai
        )
        .await
        .is_err(),
        "an attached charge is not attached twice"
    );
    let c = cost_alert::charge(&store, out[1].charge_id).await.unwrap();
    assert_eq!(c.resident_id, Some(county.bo));
    assert_eq!(c.matched_how.as_deref(), Some("manual"));
    assert_eq!(
        int(
            &store,
            "SELECT COUNT(*) FROM audit_log WHERE object_type = 'cost_charge' AND action = 'update'"
        )
        .await,
        1
    );
    // Nothing was dropped.
    assert_eq!(int(&store, "SELECT COUNT(*) FROM cost_charge").await, 3);
    assert_eq!(
        int(
            &store,
            "SELECT COUNT(*) FROM cost_charge WHERE resident_id IS NULL"
        )
        .await,
        1
    );
}
conformance!(unknown_residents_wait_and_are_attached_never_dropped);

async fn the_monthly_run_raises_by_rule_and_never_duplicates(store: Store) {
    let county = setup(&store).await;
    let rows = vec![
        // ana (脱贫): 6,000 + 4,000.01 yuan total in October → above 10,000.
        new_charge(
            county.hospital,
            "A1",
            d(2026, 10, 2),
            600_000,
            60_000,
            by_id(county.ana),
        ),
        new_charge(
            county.centre_a,
            "A2",
            d(2026, 10, 20),
            400_001,
            40_000,
            by_id(county.ana),
        ),
        // bo (ordinary): total 30,000 but out-of-pocket exactly 20,000 → nothing.
        new_charge(
            county.hospital,
            "B1",
            d(2026, 10, 7),
            3_000_000,
            2_000_000,
            by_id(county.bo),
        ),
        // chen (ordinary, township B): out-of-pocket 20,000.01 → alert.
        new_charge(
            county.hospital,
            "C1",
            d(2026, 10, 31),
            3_000_000,
            2_000_001,
            by_id(county.chen),
        ),
        // dai: above, but in September → nothing for October.
        new_charge(
            county.hospital,
            "D1",
            d(2026, 9, 30),
            9_000_000,
            5_000_000,
            by_id(county.dai),
        ),
    ];
    cost_alert::submit_charges(&store, &rows).await.unwrap();
    let first = cost_alert::run_month(&store, october(), None, "test")
        .await
        .unwrap();
    assert_eq!(first.n_rules, 2);
    assert_eq!(first.n_new, 2);
    assert_eq!(first.n_hits, 2);
    let again = cost_alert::run_month(&store, october(), None, "test")
        .await
        .unwrap();
    assert_eq!(again.n_new, 0);
    assert_eq!(again.n_hits, 2);
    assert_eq!(int(&store, "SELECT COUNT(*) FROM cost_alert").await, 2);
    assert_eq!(int(&store, "SELECT COUNT(*) FROM cost_alert_run").await, 2);
    let (all, total) = cost_alert::alerts(
        &store,
        &AlertFilter {
            root: county.county.clone(),
            month: Some(october()),
            status: None,
            resident_id: None,
        },
        50,
        0,
    )
    .await
    .unwrap();
    assert_eq!(total, 2);
    let ana = all.iter().find(|a| a.resident_id == county.ana).unwrap();
    assert_eq!(ana.amount_fen, 1_000_001);
    assert_eq!(ana.n_charges, 2);
    assert_eq!(ana.basis, "total");
    assert_eq!(ana.status, AlertStatus::Open);
    assert_eq!(ana.window_start, d(2026, 10, 1));
    let chen = all.iter().find(|a| a.resident_id == county.chen).unwrap();
    assert_eq!(chen.amount_fen, 2_000_001);
    assert_eq!(chen.division_code, county.village_b1.as_str());
    // A three-month window for the ordinary rule catches dai's September stay in October.
    let rules = cost_alert::rules(&store).await.unwrap();
    let mut wider = rules[1].rule.clone();
    wider.window_months = 3;
    cost_alert::save_rule(&store, Some(rules[1].id), 1, &wider, None, "")
        .await
        .unwrap();
    let third = cost_alert::run_month(&store, october(), None, "test")
        .await
        .unwrap();
    assert_eq!(third.n_new, 1);
    assert_eq!(int(&store, "SELECT COUNT(*) FROM cost_alert").await, 3);
}
conformance!(the_monthly_run_raises_by_rule_and_never_duplicates);

/// A small deterministic generator (SplitMix64) for the agreement test.
struct Mix(u64);
impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

async fn the_sql_run_agrees_with_the_domain_evaluation(store: Store) {
    let county = setup(&store).await;
    let residents = [county.ana, county.bo, county.chen, county.dai];
    let groups = [
        ResidentGroup::PovertyOrMonitored,
        ResidentGroup::Other,
        ResidentGroup::Other,
        ResidentGroup::Other,
    ];
    // Rules of every basis and population, with windows of 1 to 4 months.
    let mut rules = Vec::new();
    for (i, (population, basis)) in [
        (Population::PovertyOrMonitored, CostBasis::Total),
        (Population::Others, CostBasis::OutOfPocket),
        (Population::Everyone, CostBasis::PolicyOutOfPocket),
        (Population::Everyone, CostBasis::Total),
    ]
    .into_iter()
    .enumerate()
    {
        let mut r = default_rules()[0].clone();
        r.code = format!("r{i}");
        r.population = population;
        r.basis = basis;
        r.threshold_fen = 300_000 + 150_000 * i as i64;
        r.window_months = 1 + i as u8;
        cost_alert::save_rule(&store, None, 0, &r, None, "")
            .await
            .unwrap();
        rules.push(r);
    }
    let mut mix = Mix(20261023);
    let mut per_resident: Vec<Vec<ChargeInput>> = vec![Vec::new(); residents.len()];
    let mut rows = Vec::new();
    for n in 0..120 {
        let who = mix.below(residents.len() as u64) as usize;
        let total = mix.below(400_000) as i64;
        let oop = total * mix.below(100) as i64 / 100;
        let mut input = ChargeInput {
            visit_date: d(2026, 6, 1) + chrono::Days::new(mix.below(160)),
            kind: VisitKind::Outpatient,
            total_fen: total,
            insurance_paid_fen: total - oop,
            out_of_pocket_fen: oop,
            policy_out_of_pocket_fen: None,
        };
        if mix.below(2) == 0 {
            input.policy_out_of_pocket_fen = Some(oop / 2);
        }
        per_resident[who].push(input.clone());
        rows.push(NewCharge {
            institution_id: county.hospital,
            external_visit_id: format!("P{n}"),
            charge: Charge::parse(input, today()).unwrap(),
            patient: by_id(residents[who]),
            source: "test",
        });
    }
    cost_alert::submit_charges(&store, &rows).await.unwrap();
    let stored_rules = cost_alert::rules(&store).await.unwrap();
    for month in ["2026-08", "2026-09", "2026-10"] {
        let month = Month::parse(month).unwrap();
        cost_alert::run_month(&store, month, None, "test")
            .await
            .unwrap();
        let (alerts, _) = cost_alert::alerts(
            &store,
            &AlertFilter {
                root: county.county.clone(),
                month: Some(month),
                status: None,
                resident_id: None,
            },
            1000,
            0,
        )
        .await
        .unwrap();
        for stored in &stored_rules {
            for (i, resident) in residents.iter().enumerate() {
                let (from, to) = month.window(stored.rule.window_months);
                let agg = Aggregate::of(&per_resident[i], from, to);
                let expect = evaluate(&stored.rule, groups[i], &agg);
                let got = alerts
                    .iter()
                    .find(|a| a.resident_id == *resident && a.rule_id == stored.id);
                assert_eq!(
                    got.map(|a| a.amount_fen),
                    expect.map(|h| h.amount_fen),
                    "rule {} resident {i} month {month}",
                    stored.rule.code
                );
            }
        }
    }
}
conformance!(the_sql_run_agrees_with_the_domain_evaluation);

async fn townships_check_their_alerts_and_the_bureau_sees_masked(store: Store) {
    let county = setup(&store).await;
    let rows = vec![
        new_charge(
            county.hospital,
            "A1",
            d(2026, 10, 2),
            1_200_000,
            60_000,
            by_id(county.ana),
        ),
        new_charge(
            county.hospital,
            "C1",
            d(2026, 10, 3),
            3_000_000,
            2_500_000,
            by_id(county.chen),
        ),
    ];
    cost_alert::submit_charges(&store, &rows).await.unwrap();
    cost_alert::run_month(&store, october(), None, "test")
        .await
        .unwrap();
    let clinician = viewer(&county.clinician_a);
    // Township A's clinician lists township A: ana's alert only, with her name.
    let filter = AlertFilter {
        root: county.township_a.clone(),
        month: None,
        status: None,
        resident_id: None,
    };
    let page = gate::alert_list(&store, &clinician, &filter, 20, 0)
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert!(!page.masked);
    assert_eq!(page.alerts[0].resident_name, "韦阿娜");
    let ana_alert = page.alerts[0].id;
    // … and cannot list township B or the county.
    let b = AlertFilter {
        root: county.township_b.clone(),
        ..filter.clone()
    };
    assert!(
        gate::alert_list(&store, &clinician, &b, 20, 0)
            .await
            .is_err()
    );
    // The bureau sees both, masked.
    let all = AlertFilter {
        root: county.county.clone(),
        ..filter.clone()
    };
    let bureau = gate::alert_list(&store, &viewer(&county.analyst), &all, 20, 0)
        .await
        .unwrap();
    assert_eq!(bureau.total, 2);
    assert!(bureau.masked);
    assert!(bureau.alerts.iter().all(|a| a.resident_name.contains('*')));
    // Opening the alert shows the charges behind it, audited as a read of ana.
    let before = int(
        &store,
        &format!(
            "SELECT COUNT(*) FROM audit_log WHERE resident_id = {} AND action = 'read'",
            county.ana
        ),
    )
    .await;
    let view = gate::open_alert(&store, &clinician, ana_alert)
        .await
        .unwrap();
    assert_eq!(view.charges.len(), 1);
    assert_eq!(
        int(
            &store,
            &format!(
                "SELECT COUNT(*) FROM audit_log WHERE resident_id = {} AND action = 'read'",
                county.ana
            )
        )
        .await,
        before + 1
    );
    let chen_alert = bureau
        .alerts
        .iter()
        .find(|a| a.resident_id == county.chen)
        .unwrap()
        .id;
    assert!(
        gate::open_alert(&store, &clinician, chen_alert)
            .await
            .is_err()
    );
    // Household checks: could not reach, then assistance applied; then closed for good.
    let t = today();
    let first = CheckInput {
        outcome: CheckOutcome::CouldNotReach,
        note: "家中无人，外出务工".into(),
        checked_on: t,
    };
    assert_eq!(
        gate::record_check(&store, &clinician, ana_alert, view.alert.version, &first, t)
            .await
            .unwrap(),
        AlertStatus::Checking
    );
    let stale =
        gate::record_check(&store, &clinician, ana_alert, view.alert.version, &first, t).await;
    assert!(stale.is_err(), "a stale version is refused");
    let second = CheckInput {
        outcome: CheckOutcome::AssistanceApplied,
        note: String::new(),
        checked_on: t,
    };
    assert_eq!(
        gate::record_check(
            &store,
            &clinician,
            ana_alert,
            view.alert.version + 1,
            &second,
            t
        )
        .await
        .unwrap(),
        AlertStatus::Closed
    );
    let closed = cost_alert::alert(&store, ana_alert).await.unwrap();
    assert_eq!(closed.outcome.as_deref(), Some("assistance_applied"));
    assert!(closed.closed_at.is_some());
    assert!(
        gate::record_check(&store, &clinician, ana_alert, closed.version, &second, t)
            .await
            .is_err()
    );
    // The analyst cannot record a check but can reopen; the clinician cannot reopen.
    assert!(
        gate::record_check(&store, &viewer(&county.analyst), chen_alert, 1, &second, t)
            .await
            .is_err()
    );
    assert!(
        gate::reopen(
            &store,
            &clinician,
            ana_alert,
            closed.version,
            "请补充材料",
            t
        )
        .await
        .is_err()
    );
    assert_eq!(
        gate::reopen(
            &store,
            &viewer(&county.analyst),
            ana_alert,
            closed.version,
            "请补充材料",
            t
        )
        .await
        .unwrap(),
        AlertStatus::Checking
    );
    let checks = cost_alert::checks(&store, ana_alert).await.unwrap();
    assert_eq!(checks.len(), 3);
    assert_eq!(checks[0].outcome.as_deref(), Some("could_not_reach"));
    assert_eq!(checks[0].checked_by, Some(county.clinician_a.id));
    assert_eq!(checks[2].action, "reopen");
    assert_eq!(
        int(
            &store,
            "SELECT COUNT(*) FROM audit_log WHERE object_type = 'cost_alert' AND action = 'update'"
        )
        .await,
        3
    );
    // Statistics: counts per month and township, with the outcome mix.
    let stats = gate::stats(
        &store,
        &viewer(&county.analyst),
        &county.county,
        october(),
        october(),
    )
    .await
    .unwrap();
    assert_eq!(stats.len(), 2);
    let a = stats
        .iter()
        .find(|s| s.township == county.township_a.as_str())
        .unwrap();
    assert_eq!((a.n_alerts, a.n_checking, a.n_checks), (1, 1, 2));
    let b = stats
        .iter()
        .find(|s| s.township == county.township_b.as_str())
        .unwrap();
    assert_eq!((b.n_alerts, b.n_open, b.n_checks), (1, 1, 0));
}
conformance!(townships_check_their_alerts_and_the_bureau_sees_masked);

async fn generated_charges_load_in_bulk_once(store: Store) {
    let county = setup(&store).await;
    let row = |visit: &str, resident: i64, total: i64| cost_alert::GeneratedCharge {
        institution_id: county.hospital,
        external_visit_id: visit.into(),
        visit_date: d(2026, 10, 9),
        kind: VisitKind::Outpatient,
        total_fen: total,
        insurance_paid_fen: total / 2,
        out_of_pocket_fen: total - total / 2,
        policy_oop_fen: None,
        resident_id: resident,
        division_code: county.village_a1.as_str().into(),
    };
    let rows: Vec<_> = (0..2_500)
        .map(|i| row(&format!("G{i}"), county.ana, 100))
        .collect();
    assert_eq!(
        cost_alert::insert_generated(&store, &rows, "demo")
            .await
            .unwrap(),
        2_500
    );
    // Again: nothing new.
    assert_eq!(
        cost_alert::insert_generated(&store, &rows, "demo")
            .await
            .unwrap(),
        0
    );
    let charges = cost_alert::charges_of(&store, county.ana, d(2026, 10, 1), d(2026, 10, 31))
        .await
        .unwrap();
    assert_eq!(charges.len(), 2_500);
    assert_eq!(charges[0].matched_how.as_deref(), Some("resident_id"));
}
conformance!(generated_charges_load_in_bulk_once);
