//! Maintained indicator aggregates: village figures rolled up by code prefix, refresh only
//! of changed (source × period) pairs, and closed periods that reproduce and report later
//! edits as differences instead of changing.

use chrono::NaiveDate;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::indicator::{Fraction, Period};
use yiwei_store::indicator::{self, RefreshOptions};
use yiwei_store::{Store, StoreError, division};

use yiwei_domain::indicator::breakdown;
use yiwei_domain::indicator::{Disaggregation, catalogue};

use crate::support::{County, exec};

async fn setup(store: &Store) -> County {
    let c = County::build(store).await;
    exec(
        store,
        "UPDATE resident SET created_at = '2025-02-01T00:00:00Z'",
    )
    .await
    .expect("date the records");
    division::set_population(store, &c.township_a, 2025, 1000)
        .await
        .unwrap();
    division::set_population(store, &c.township_b, 2025, 500)
        .await
        .unwrap();
    for (who, village, direction, at, state) in [
        (
            c.ana,
            &c.village_a1,
            "up",
            "2025-03-02T01:00:00Z",
            "requested",
        ),
        (
            c.dai,
            &c.village_a1,
            "up",
            "2025-03-05T01:00:00Z",
            "completed",
        ),
        (
            c.ana,
            &c.village_a1,
            "up",
            "2025-03-31T17:00:00Z",
            "accepted",
        ),
        (
            c.chen,
            &c.village_b1,
            "down",
            "2025-07-01T02:00:00Z",
            "requested",
        ),
        (
            c.chen,
            &c.village_b1,
            "up",
            "2025-07-01T02:00:00Z",
            "cancelled",
        ),
        (
            c.bo,
            &c.village_a2,
            "up",
            "2024-12-31T16:30:00Z",
            "requested",
        ),
    ] {
        referral(store, &c, who, village, direction, at, state).await;
    }
    imaging_recognition_and_alerts(store, &c).await;
    c
}

/// Studies, a share, a signed report, two recognition decisions, two cost alerts and a
/// household check; `dai` is tagged hypertensive and poverty-alleviated.
async fn imaging_recognition_and_alerts(store: &Store, c: &County) {
    let (a1, b1) = (c.village_a1.as_str(), c.village_b1.as_str());
    let (hospital, clinic, centre) = (c.hospital, c.clinic_a1, c.centre_a);
    let (ana, dai, chen) = (c.ana, c.dai, c.chen);
    for sql in [
        format!(
            "UPDATE resident SET key_groups = 'hypertension,poverty_alleviated' WHERE id = {dai}"
        ),
        // 2025-03-31T17:00Z is 1 April in the county.
        format!(
            "INSERT INTO imaging_study (id, study_uid, resident_id, division_code, institution_id, \
             match_state, created_at, updated_at) VALUES \
             (9001, '1.2.9001', {ana}, '{a1}', {hospital}, 'linked', '2025-03-10T02:00:00Z', '2025-03-10T02:00:00Z'), \
             (9002, '1.2.9002', {chen}, '{b1}', {hospital}, 'linked', '2025-03-31T17:00:00Z', '2025-03-31T17:00:00Z')"
        ),
        // Dated by the exam, not by the upload (performed in June, uploaded in 2026).
        format!(
            "INSERT INTO imaging_study (id, study_uid, resident_id, division_code, institution_id, \
             match_state, study_date, created_at, updated_at) VALUES \
             (9003, '1.2.9003', {chen}, '{b1}', {hospital}, 'linked', '2025-06-30', '2026-01-05T02:00:00Z', \
              '2026-01-05T02:00:00Z')"
        ),
        format!(
            "INSERT INTO imaging_share (study_id, institution_id, reason, created_at, expires_at) \
             VALUES (9001, {centre}, 'consult', '2025-03-11T02:00:00Z', '2025-04-11T02:00:00Z')"
        ),
        "INSERT INTO imaging_report (study_id, resident_id, version, status, created_at, updated_at, \
         signed_at) VALUES (9001, NULL, 1, 'final', '2025-03-12T01:00:00Z', '2025-03-12T02:00:00Z', \
         '2025-03-12T02:00:00Z')"
            .to_owned(),
        format!(
            "INSERT INTO recognition (resident_id, division_code, item_code, prior_study_id, \
             performing_institution_id, ordering_institution_id, context, decision, reason, hr_scope, \
             price_fen, saved_patient_fen, saved_institution_fen, decided_at, period) VALUES \
             ({ana}, '{a1}', 'DR-CHEST', 9001, {hospital}, {clinic}, 'order', 'recognised', NULL, 'HR', \
              8000, 4200, 3800, '2025-03-15T02:00:00Z', '2025-03'), \
             ({ana}, '{a1}', 'DR-CHEST', 9001, {hospital}, {clinic}, 'order', 'repeated', 'changed', 'HR', \
              8000, 0, 0, '2025-03-16T02:00:00Z', '2025-03')"
        ),
        "INSERT INTO cost_alert_rule (id, code, name_zh, population, basis, threshold_fen, \
         window_months, updated_at) VALUES (77, 't', '测试', 'poverty_or_monitored', 'total', \
         1000000, 12, '2025-01-01T00:00:00Z')"
            .to_owned(),
        format!(
            "INSERT INTO cost_alert (id, resident_id, month, rule_id, division_code, population, basis, \
             threshold_fen, window_months, window_start, window_end, amount_fen, n_charges, status, \
             raised_at) VALUES \
             (501, {dai}, '2025-03', 77, '{a1}', 'poverty_or_monitored', 'total', 1000000, 12, \
              '2024-04-01', '2025-03-31', 1200000, 3, 'closed', '2025-04-01T01:00:00Z'), \
             (502, {chen}, '2025-04', 77, '{b1}', 'others', 'out_of_pocket', 2000000, 12, \
              '2024-05-01', '2025-04-30', 2100000, 2, 'open', '2025-05-01T01:00:00Z')"
        ),
        "INSERT INTO cost_alert_check (alert_id, action, outcome, note, checked_on, from_status, \
         to_status, recorded_at) VALUES (501, 'check', 'assistance_applied', '', '2025-04-02', \
         'open', 'closed', '2025-04-02T08:00:00Z')"
            .to_owned(),
        // A case card of a boy aged 6 at diagnosis (7 by the year end): cases are banded
        // by the age at diagnosis.
        format!(
            "INSERT INTO case_report (card_no, kind, resident_id, division_code, township_code, \
             institution_id, patient_name, sex, birth_date, belongs, address_code, address_detail, \
             occupation, disease, case_class, onset_date, diagnosed_at, diagnosed_on, fill_date, \
             doctor, reported_at, deadline_hours, on_time, status) VALUES ('T-1', 'initial', {chen}, \
             '{b1}', '{township}', {hospital}, 'x', 'male', '2018-06-01', 'local', '{b1}', '', 'child', \
             'influenza', 'clinical', '2025-02-27', '2025-03-01T02:00:00Z', '2025-03-01', '2025-03-01', \
             'd', '2025-03-01T03:00:00Z', 24, TRUE, 'accepted')",
            township = c.township_b.as_str()
        ),
    ] {
        exec(store, &sql).await.expect("imaging, recognition and alert facts");
    }
}

async fn referral(
    store: &Store,
    c: &County,
    resident: i64,
    village: &DivisionCode,
    direction: &str,
    at: &str,
    state: &str,
) {
    exec(
        store,
        &format!(
            "INSERT INTO referral (resident_id, division_code, from_institution_id, to_institution_id, \
             direction, urgency, reason, summary, state, requested_at, respond_by) VALUES \
             ({resident}, '{v}', {from}, {to}, '{direction}', 'routine', 'r', 's', '{state}', '{at}', '{at}')",
            v = village.as_str(),
            from = c.clinic_a1,
            to = c.hospital,
        ),
    )
    .await
    .expect("referral");
}

fn options(c: &County) -> RefreshOptions {
    RefreshOptions {
        county: c.county.clone(),
        utc_offset_hours: 8,
        force: false,
    }
}

async fn one(store: &Store, root: &DivisionCode, code: &str, period: Period) -> Fraction {
    let found = indicator::figures(store, root, &[code], &[period], root.as_str().len())
        .await
        .expect("figures");
    assert!(found.len() <= 1, "{found:?}");
    found.first().map(|f| f.fraction).unwrap_or_default()
}

conformance!(refresh_keeps_village_figures_and_rolls_them_up_by_prefix);
async fn refresh_keeps_village_figures_and_rolls_them_up_by_prefix(store: Store) {
    let c = setup(&store).await;
    let year = Period::all_in_year(2025);
    let first = indicator::refresh(&store, &year, &options(&c))
        .await
        .expect("refresh");
    assert!(first.computed > 0 && first.rows > 0, "{first:?}");

    // Records: numerators at the villages, the population where it is entered (townships).
    let y = Period::Year(2025);
    assert_eq!(
        one(&store, &c.county, "records_held", y).await,
        Fraction::new(4, 0)
    );
    assert_eq!(
        one(&store, &c.county, "records_coverage", y).await,
        Fraction::new(4, 1500)
    );
    assert_eq!(
        one(&store, &c.township_a, "records_coverage", y).await,
        Fraction::new(3, 1000)
    );
    assert_eq!(
        one(&store, &c.village_a1, "records_coverage", y).await,
        Fraction::new(2, 0)
    );
    // Records created after the period end are not in it.
    assert_eq!(
        one(&store, &c.county, "records_held", Period::Month(2025, 1)).await,
        Fraction::new(0, 0)
    );

    // Referrals by the county's local date of the request: 2025-03-31T17:00Z is 1 April.
    assert_eq!(one(&store, &c.county, "referrals_up", y).await.numerator, 4);
    assert_eq!(
        one(
            &store,
            &c.village_a1,
            "referrals_up",
            Period::Month(2025, 3)
        )
        .await
        .numerator,
        2
    );
    assert_eq!(
        one(
            &store,
            &c.village_a1,
            "referrals_up",
            Period::Month(2025, 4)
        )
        .await
        .numerator,
        1
    );
    assert_eq!(
        one(
            &store,
            &c.township_b,
            "referrals_down",
            Period::Quarter(2025, 3)
        )
        .await
        .numerator,
        1
    );
    // 2024-12-31T16:30Z is 1 January 2025 in the county.
    assert_eq!(
        one(
            &store,
            &c.village_a2,
            "referrals_up",
            Period::Month(2025, 1)
        )
        .await
        .numerator,
        1
    );

    // The villages' figures summed equal the county's read directly, for every indicator.
    let codes: Vec<&str> = yiwei_domain::indicator::catalogue()
        .iter()
        .map(|d| d.code)
        .collect();
    let villages = indicator::figures(&store, &c.county, &codes, &year, 12)
        .await
        .unwrap();
    let county = indicator::figures(&store, &c.county, &codes, &year, 6)
        .await
        .unwrap();
    assert!(!county.is_empty());
    for f in &county {
        let sum = Fraction::sum(
            villages
                .iter()
                .filter(|v| v.indicator == f.indicator && v.period == f.period)
                .map(|v| v.fraction),
        );
        assert_eq!(sum, f.fraction, "{} {}", f.indicator, f.period);
    }

    // Imaging by the exam date, else the county's local day of upload; savings in fen.
    let county = &c.county;
    let march = Period::Month(2025, 3);
    let april = Period::Month(2025, 4);
    for (code, period, want) in [
        ("imaging_studies", y, Fraction::new(3, 0)),
        (
            "imaging_studies",
            Period::Month(2025, 6),
            Fraction::new(1, 0),
        ),
        ("imaging_studies", march, Fraction::new(1, 0)),
        ("imaging_studies", april, Fraction::new(1, 0)),
        ("imaging_shares", y, Fraction::new(1, 0)),
        ("imaging_reports_signed", march, Fraction::new(1, 0)),
        ("imaging_recognitions", y, Fraction::new(1, 0)),
        ("recognition_rate", march, Fraction::new(1, 2)),
        ("recognition_savings_patients", y, Fraction::new(4200, 0)),
        (
            "recognition_savings_institutions",
            y,
            Fraction::new(3800, 0),
        ),
        // Alerts by the month raised for; checks by the day of the visit; an alert is
        // checked once a check is recorded by the period's end.
        ("cost_alerts", y, Fraction::new(2, 0)),
        ("cost_alerts", march, Fraction::new(1, 0)),
        ("household_checks", april, Fraction::new(1, 0)),
        ("household_checks", march, Fraction::new(0, 0)),
        ("cost_alerts_checked", y, Fraction::new(1, 2)),
        ("cost_alerts_checked", march, Fraction::new(0, 1)),
        (
            "cost_alerts_checked",
            Period::Quarter(2025, 2),
            Fraction::new(0, 1),
        ),
    ] {
        assert_eq!(
            one(&store, county, code, period).await,
            want,
            "{code} {period}"
        );
    }
    assert_eq!(
        one(&store, &c.township_b, "imaging_studies", y).await,
        Fraction::new(2, 0)
    );

    // Strata: sex and age groups add up to the total for every indicator that has them,
    // at the county and at a village; key groups overlap and are counted per group.
    for root in [&c.county, &c.village_a1, &c.township_b] {
        for period in [y, march] {
            strata_add_up(&store, root, period).await;
        }
    }
    let stratum = |found: &[indicator::Stratum], code: &str, key: &str| {
        found
            .iter()
            .find(|s| s.indicator == code && s.breakdown == key)
            .map(|s| s.fraction)
            .unwrap_or_default()
    };
    let found = indicator::strata(
        &store,
        &c.county,
        &["records_held", "cost_alerts", "contract_coverage"],
        y,
    )
    .await
    .unwrap();
    // ana 1985 (f), dai 1962 (m), bo 1990 (m), chen 2001 (f), on 31 December 2025.
    assert_eq!(
        stratum(&found, "records_held", "sex:female"),
        Fraction::new(2, 0)
    );
    assert_eq!(
        stratum(&found, "records_held", "age:35-64"),
        Fraction::new(3, 0)
    );
    assert_eq!(
        stratum(&found, "records_held", "age:18-34"),
        Fraction::new(1, 0)
    );
    assert_eq!(
        stratum(&found, "records_held", "key:hypertension"),
        Fraction::new(1, 0)
    );
    assert_eq!(
        stratum(&found, "contract_coverage", "sex:male"),
        Fraction::new(0, 2)
    );
    assert_eq!(
        stratum(&found, "cost_alerts", "key:poverty_or_monitored"),
        Fraction::new(1, 0)
    );
    assert_eq!(
        stratum(&found, "cost_alerts", "key:others"),
        Fraction::new(1, 0)
    );
    assert_eq!(
        stratum(&found, "cost_alerts", "sex:female"),
        Fraction::new(1, 0)
    );
    let cases = indicator::strata(&store, &c.county, &["notifiable_cases"], y)
        .await
        .unwrap();
    assert_eq!(
        stratum(&cases, "notifiable_cases", "age:0-6"),
        Fraction::new(1, 0)
    );
    assert_eq!(
        stratum(&cases, "notifiable_cases", "sex:male"),
        Fraction::new(1, 0)
    );

    // Nothing changed: nothing is recomputed.
    let again = indicator::refresh(&store, &year, &options(&c))
        .await
        .unwrap();
    assert_eq!(again.computed, 0, "{again:?}");
    assert_eq!(again.unchanged, first.computed);

    // One referral in May: only the referral source of 2025, Q2 and May is recomputed
    // (a referral's fingerprint is per period, so the other months stay).
    referral(
        &store,
        &c,
        c.bo,
        &c.village_a2,
        "up",
        "2025-05-10T02:00:00Z",
        "requested",
    )
    .await;
    let after = indicator::refresh(&store, &year, &options(&c))
        .await
        .unwrap();
    assert_eq!(after.computed, 3, "{after:?}");
    assert_eq!(one(&store, &c.county, "referrals_up", y).await.numerator, 5);
}

/// For every indicator with sex or age strata: each dimension's strata sum to the total.
async fn strata_add_up(store: &Store, root: &DivisionCode, period: Period) {
    let codes: Vec<&str> = catalogue()
        .iter()
        .filter(|d| d.source.is_maintained())
        .map(|d| d.code)
        .collect();
    let found = indicator::strata(store, root, &codes, period)
        .await
        .unwrap();
    for d in catalogue().iter().filter(|d| d.source.is_maintained()) {
        let total = one(store, root, d.code, period).await;
        for dim in [Disaggregation::Sex, Disaggregation::AgeGroup] {
            let parts: Vec<Fraction> = found
                .iter()
                .filter(|s| {
                    s.indicator == d.code
                        && breakdown::split(&s.breakdown).is_some_and(|(x, _)| x == dim)
                })
                .map(|s| s.fraction)
                .collect();
            if d.disaggregations.contains(&dim) {
                assert_eq!(
                    Fraction::sum(parts),
                    total,
                    "{} {dim:?} {period} {}",
                    d.code,
                    root.as_str()
                );
            } else {
                assert!(parts.is_empty(), "{} has no {dim:?} strata", d.code);
            }
        }
    }
}

conformance!(a_closed_period_reproduces_and_reports_later_edits_as_differences);
async fn a_closed_period_reproduces_and_reports_later_edits_as_differences(store: Store) {
    let c = setup(&store).await;
    let year = Period::all_in_year(2025);
    indicator::refresh(&store, &year, &options(&c))
        .await
        .unwrap();
    let codes: Vec<&str> = yiwei_domain::indicator::catalogue()
        .iter()
        .map(|d| d.code)
        .collect();
    let before = indicator::figures(&store, &c.county, &codes, &year, 12)
        .await
        .unwrap();
    let strata_before = indicator::strata(&store, &c.county, &codes, Period::Year(2025))
        .await
        .unwrap();
    assert!(
        strata_before.iter().any(|s| s.indicator == "cost_alerts")
            && before
                .iter()
                .any(|f| f.indicator == "recognition_savings_patients"),
        "the new sources are in the closed year"
    );

    let today = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    let early = indicator::close_period(&store, Period::Year(2026), today, None, "").await;
    assert!(matches!(early, Err(StoreError::Invalid(_))), "{early:?}");
    indicator::close_period(&store, Period::Year(2025), today, None, "年报")
        .await
        .expect("close 2025");
    assert!(
        indicator::is_closed(&store, Period::Month(2025, 3))
            .await
            .unwrap()
    );
    assert!(
        !indicator::is_closed(&store, Period::Month(2024, 3))
            .await
            .unwrap()
    );

    // Recomputing the closed year from the same facts gives the same numbers.
    let forced = RefreshOptions {
        force: true,
        ..options(&c)
    };
    let redo = indicator::refresh(&store, &year, &forced).await.unwrap();
    assert_eq!(redo.differences, 0, "{redo:?}");
    assert_eq!(redo.rows, 0, "a closed period is not rewritten");
    let after = indicator::figures(&store, &c.county, &codes, &year, 12)
        .await
        .unwrap();
    assert_eq!(before, after);
    assert_eq!(
        strata_before,
        indicator::strata(&store, &c.county, &codes, Period::Year(2025))
            .await
            .unwrap()
    );
    assert!(
        indicator::differences(&store, Period::Year(2025))
            .await
            .unwrap()
            .is_empty()
    );

    // A late report for March changes nothing published; it is reported as a difference.
    referral(
        &store,
        &c,
        c.dai,
        &c.village_a1,
        "up",
        "2025-03-20T02:00:00Z",
        "requested",
    )
    .await;
    let late = indicator::refresh(&store, &year, &options(&c))
        .await
        .unwrap();
    assert_eq!(late.differences, 3, "year, Q1 and March: {late:?}");
    assert_eq!(
        one(&store, &c.county, "referrals_up", Period::Year(2025))
            .await
            .numerator,
        4
    );
    let diffs = indicator::differences(&store, Period::Month(2025, 3))
        .await
        .unwrap();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert_eq!(diffs[0].indicator, "referrals_up");
    assert_eq!(diffs[0].division_code, c.village_a1.as_str());
    assert_eq!((diffs[0].frozen.numerator, diffs[0].now.numerator), (2, 3));

    // A late household check of the April alert (in May): the year's share at village B1
    // differs from the frozen one; March is untouched.
    exec(
        &store,
        "INSERT INTO cost_alert_check (alert_id, action, outcome, note, checked_on, from_status, \
         to_status, recorded_at) VALUES (502, 'check', 'not_needed', '', '2025-05-03', 'open', \
         'closed', '2025-05-03T08:00:00Z')",
    )
    .await
    .unwrap();
    indicator::refresh(&store, &year, &options(&c))
        .await
        .unwrap();
    let diffs = indicator::differences(&store, Period::Year(2025))
        .await
        .unwrap();
    assert!(
        diffs.iter().any(|d| d.indicator == "cost_alerts_checked"
            && d.division_code == c.village_b1.as_str()
            && d.breakdown.is_empty()
            && (d.frozen, d.now) == (Fraction::new(0, 1), Fraction::new(1, 1))),
        "{diffs:?}"
    );
    assert!(
        indicator::differences(&store, Period::Month(2025, 3))
            .await
            .unwrap()
            .iter()
            .all(|d| d.indicator != "cost_alerts_checked"),
        "March does not change"
    );
}
