//! Maintained indicator aggregates: village figures rolled up by code prefix, refresh only
//! of changed (source × period) pairs, and closed periods that reproduce and report later
//! edits as differences instead of changing.

use chrono::NaiveDate;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::indicator::{Fraction, Period};
use yiwei_store::indicator::{self, RefreshOptions};
use yiwei_store::{Store, StoreError, division};

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
    c
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
}
