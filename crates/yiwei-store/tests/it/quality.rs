//! EHR quality: the fix-it list, the record figures, and population denominators.

use yiwei_domain::ehr_quality::RuleId;
use yiwei_domain::exam::Measurements;
use yiwei_store::access::{self, Viewer};
use yiwei_store::encounter::NewExam;
use yiwei_store::{Store, division};

use crate::support::County;

conformance!(the_quality_scan_flags_missing_data_and_counts_records_in_use);
async fn the_quality_scan_flags_missing_data_and_counts_records_in_use(store: Store) {
    let county = County::build(&store).await;
    let doctor = Viewer {
        user: &county.doctor_a1,
        remote_addr: None,
    };
    let today = chrono::Utc::now().date_naive();
    let (before, flagged) =
        access::quality_worklist(&store, &doctor, &county.village_a1, today, 100)
            .await
            .unwrap();
    assert_eq!(before.records, 2, "ana and dai live in A1");
    assert_eq!(before.in_use, 0);
    assert_eq!(flagged.len(), 2, "fixture records lack most WS 365 answers");
    assert!(
        flagged
            .iter()
            .all(|f| f.issues.iter().any(|i| i.rule == RuleId::Required))
    );
    assert!(
        flagged
            .iter()
            .all(|f| f.issues.iter().any(|i| i.rule == RuleId::DynamicRecord)),
        "no exam in the last year"
    );
    // An exam this year puts ana's record in use.
    let exam = NewExam {
        institution_id: None,
        started_at: chrono::Utc::now() - chrono::Duration::days(3),
        exam_date: today - chrono::Duration::days(3),
        summary: "体检".into(),
        diagnoses: vec![],
        measurements: Measurements {
            bp_left_sys: Some(128.0),
            bp_left_dia: Some(82.0),
            ..Measurements::default()
        },
        self_care: None,
        cognition: None,
        emotion: None,
        sections: serde_json::Value::Null,
    };
    access::record_exam(&store, &doctor, county.ana, &exam)
        .await
        .unwrap();
    let (after, flagged) =
        access::quality_worklist(&store, &doctor, &county.village_a1, today, 100)
            .await
            .unwrap();
    assert_eq!(after.in_use, 1);
    let ana = flagged
        .iter()
        .find(|f| f.resident_id == county.ana)
        .expect("ana still has missing answers");
    assert!(!ana.issues.iter().any(|i| i.rule == RuleId::DynamicRecord));
    // Names stay behind the access rules; the figures do not.
    let analyst = Viewer {
        user: &county.analyst,
        remote_addr: None,
    };
    assert!(
        access::quality_worklist(&store, &analyst, &county.county, today, 10)
            .await
            .is_err()
    );
    let figures = access::quality_figures(&store, &analyst, &county.county, today)
        .await
        .unwrap();
    assert_eq!(figures.records, 4);
    assert!(
        access::quality_figures(&store, &doctor, &county.township_b, today)
            .await
            .is_err()
    );
}

conformance!(population_is_entered_per_division_and_rolls_up);
async fn population_is_entered_per_division_and_rolls_up(store: Store) {
    let county = County::build(&store).await;
    assert_eq!(
        division::population(&store, &county.county, 2026)
            .await
            .unwrap(),
        None
    );
    division::set_population(&store, &county.village_a1, 2026, 1200)
        .await
        .unwrap();
    division::set_population(&store, &county.village_a2, 2026, 800)
        .await
        .unwrap();
    division::set_population(&store, &county.village_b1, 2026, 500)
        .await
        .unwrap();
    assert_eq!(
        division::population(&store, &county.township_a, 2026)
            .await
            .unwrap(),
        Some(2000)
    );
    assert_eq!(
        division::population(&store, &county.county, 2026)
            .await
            .unwrap(),
        Some(2500)
    );
    division::set_population(&store, &county.county, 2026, 2600)
        .await
        .unwrap();
    assert_eq!(
        division::population(&store, &county.county, 2026)
            .await
            .unwrap(),
        Some(2600),
        "an entered county figure wins"
    );
    division::set_population(&store, &county.village_a1, 2026, 1300)
        .await
        .unwrap();
    assert_eq!(
        division::population(&store, &county.township_a, 2026)
            .await
            .unwrap(),
        Some(2100),
        "re-entering replaces"
    );
    assert!(
        division::set_population(&store, &county.village_a1, 2026, -1)
            .await
            .is_err()
    );
    assert_eq!(
        division::population(&store, &county.county, 2025)
            .await
            .unwrap(),
        None
    );
}
