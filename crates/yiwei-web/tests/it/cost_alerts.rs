//! Cost alerts (防返贫监测预警) over HTTP: the township's list and alert page with the
//! charges behind it, the household-check form with its messages, the bureau's masked
//! view, the rules page refusing a bad threshold, the unmatched queue and the statistics;
//! and the FHIR ChargeItem create/search and Flag read/search.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::NaiveDate;
use serde_json::{Value, json};
use yiwei_domain::cost_alert::{Charge, ChargeInput, Month, VisitKind, default_rules};
use yiwei_store::cost_alert::{self, NewCharge, Patient};

use crate::support::{Client, TestApp, backends};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn charge(institution: i64, visit: &str, total: i64, oop: i64, patient: Patient) -> NewCharge {
    NewCharge {
        institution_id: institution,
        external_visit_id: visit.into(),
        charge: Charge::parse(
            ChargeInput {
                visit_date: d(2026, 10, 12),
                kind: VisitKind::Inpatient,
                total_fen: total,
                insurance_paid_fen: total - oop,
                out_of_pocket_fen: oop,
                policy_out_of_pocket_fen: None,
            },
            d(2030, 1, 1),
        )
        .unwrap(),
        patient,
        source: "test",
    }
}

/// Two alerts in October 2026: the home resident (脱贫, township 思恩镇) and the other
/// township's resident; one unmatched charge.
async fn setup(app: &TestApp) -> (i64, i64) {
    let store = &app.store;
    let f = &app.fixture;
    let hospital = yiwei_store::org::by_code(store, "H001").await.unwrap().id;
    let sql = format!(
        "UPDATE resident SET key_groups = 'poverty_alleviated' WHERE id = {}",
        f.home_resident
    );
    yiwei_store::on_pool!(store, |pool| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .execute(pool)
        .await
        .map(|_| ()))
    .unwrap();
    cost_alert::ensure_rules(store, &default_rules())
        .await
        .unwrap();
    let by_id = |id| Patient {
        resident_id: Some(id),
        id_card: None,
        name: String::new(),
    };
    cost_alert::submit_charges(
        store,
        &[
            charge(hospital, "Z1", 1_200_000, 100_000, by_id(f.home_resident)),
            charge(
                hospital,
                "Z2",
                4_000_000,
                2_500_000,
                by_id(f.other_township_resident),
            ),
            charge(
                hospital,
                "Z3",
                300_000,
                30_000,
                Patient {
                    resident_id: None,
                    id_card: Some("451226196001010011".into()),
                    name: "外来病人".into(),
                },
            ),
        ],
    )
    .await
    .unwrap();
    cost_alert::run_month(store, Month::parse("2026-10").unwrap(), None, "test")
        .await
        .unwrap();
    let (alerts, _) = cost_alert::alerts(
        store,
        &cost_alert::AlertFilter {
            root: yiwei_domain::division::DivisionCode::parse("451226").unwrap(),
            month: None,
            status: None,
            resident_id: None,
        },
        10,
        0,
    )
    .await
    .unwrap();
    let home = alerts
        .iter()
        .find(|a| a.resident_id == f.home_resident)
        .unwrap()
        .id;
    let other = alerts
        .iter()
        .find(|a| a.resident_id == f.other_township_resident)
        .unwrap()
        .id;
    (home, other)
}

#[tokio::test]
async fn a_township_opens_its_alert_and_records_a_household_check() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let (home, other) = setup(&app).await;
        let mut c = app.client();
        c.login("township.doctor").await;
        let list = c.get("/cost-alerts").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        assert!(
            list.body.contains(&format!("/cost-alerts/{home}")),
            "{}",
            list.body
        );
        assert!(!list.body.contains(&format!("/cost-alerts/{other}\"")));
        assert!(list.body.contains("韦秀英"));
        let filtered = c.get("/cost-alerts?month=2026-09&status=open").await;
        assert!(!filtered.body.contains(&format!("/cost-alerts/{home}")));
        assert_eq!(
            c.get("/cost-alerts?month=2026-9").await.status,
            StatusCode::BAD_REQUEST
        );
        // The other township's alert is refused.
        assert_eq!(
            c.get(&format!("/cost-alerts/{other}")).await.status,
            StatusCode::FORBIDDEN
        );
        let page = c.get(&format!("/cost-alerts/{home}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("alert-charges") && page.body.contains("12,000.00"),
            "{}",
            page.body
        );
        let csrf = page.csrf();
        let path = format!("/cost-alerts/{home}/check");
        // "Not needed" without a note: refused with the message next to the note.
        let bad = c
            .post_form(
                &path,
                &[
                    ("csrf", &csrf),
                    ("version", "1"),
                    ("outcome", "not_needed"),
                    ("note", ""),
                    ("checked_on", "2026-11-02"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("err-note"), "{}", bad.body);
        let no_outcome = c
            .post_form(
                &path,
                &[
                    ("csrf", &csrf),
                    ("version", "1"),
                    ("outcome", ""),
                    ("checked_on", "x"),
                ],
            )
            .await;
        assert_eq!(no_outcome.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            no_outcome.body.contains("err-outcome") && no_outcome.body.contains("err-checked_on")
        );
        let ok = c
            .post_form(
                &path,
                &[
                    ("csrf", &csrf),
                    ("version", "1"),
                    ("outcome", "assistance_applied"),
                    ("note", "已申请医疗救助"),
                    ("checked_on", "2026-11-02"),
                ],
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        let after = c.get(&format!("/cost-alerts/{home}")).await;
        assert!(after.body.contains("已申请医疗救助/帮扶"), "{}", after.body);
        assert!(!after.body.contains("check-form"));
        // Statistics of the township.
        let stats = c.get("/cost-alerts/stats?from=2026-10&to=2026-10").await;
        assert_eq!(stats.status, StatusCode::OK);
        assert!(stats.body.contains("思恩镇"), "{}", stats.body);
    }
}

#[tokio::test]
async fn the_bureau_sees_masked_alerts_and_edits_rules_with_messages() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let (home, _) = setup(&app).await;
        let mut c = app.client();
        c.login("analyst").await;
        let list = c.get("/cost-alerts").await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.body.contains("masked-note"));
        assert!(
            !list.body.contains("韦秀英"),
            "names are masked for the bureau"
        );
        let page = c.get(&format!("/cost-alerts/{home}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains("alert-charges"));
        assert!(!page.body.contains("check-form"));
        let rules = c.get("/cost-alerts/rules").await;
        assert!(rules.body.contains("poverty_total"), "{}", rules.body);
        let csrf = rules.csrf();
        let stored = cost_alert::rules(&app.store).await.unwrap();
        let id = stored[0].id.to_string();
        let bad = c
            .post_form(
                "/cost-alerts/rules",
                &[
                    ("csrf", &csrf),
                    ("id", &id),
                    ("version", "1"),
                    ("name_zh", "脱贫人口"),
                    ("population", "poverty_or_monitored"),
                    ("basis", "total"),
                    ("threshold_yuan", "-5"),
                    ("window_months", "13"),
                    ("active", "1"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad.body.contains("err-threshold") && bad.body.contains("1–12"),
            "{}",
            bad.body
        );
        let good = c
            .post_form(
                "/cost-alerts/rules",
                &[
                    ("csrf", &csrf),
                    ("id", &id),
                    ("version", "1"),
                    ("name_zh", "脱贫人口医疗总费用超过8千元"),
                    ("population", "poverty_or_monitored"),
                    ("basis", "total"),
                    ("threshold_yuan", "8000"),
                    ("window_months", "1"),
                    ("active", "1"),
                    ("note", "试行"),
                ],
            )
            .await;
        assert_eq!(good.status, StatusCode::SEE_OTHER, "{}", good.body);
        let history = cost_alert::rule_history(&app.store, stored[0].id)
            .await
            .unwrap();
        assert_eq!(history[0].threshold_fen, 800_000);
        assert_eq!(history[0].note, "试行");
        // Run a month from the page.
        let run = c
            .post_form("/cost-alerts/run", &[("csrf", &csrf), ("month", "2026-10")])
            .await;
        assert_eq!(run.status, StatusCode::OK);
        assert!(run.body.contains("rules-message"));
        // A clinician may not edit rules; the unmatched queue is not for the bureau.
        assert_eq!(
            c.get("/cost-alerts/unmatched").await.status,
            StatusCode::FORBIDDEN
        );
        let mut t = app.client();
        t.login("township.doctor").await;
        let csrf = t.get("/cost-alerts/rules").await.csrf();
        let refused = t
            .post_form(
                "/cost-alerts/rules",
                &[
                    ("csrf", &csrf),
                    ("id", &id),
                    ("version", "2"),
                    ("threshold_yuan", "1"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn the_unmatched_queue_shows_masked_ids_and_attaches_to_a_resident() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        setup(&app).await;
        let mut c = app.client();
        c.login("county.doctor").await;
        let page = c.get("/cost-alerts/unmatched").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("外来病人"));
        assert!(
            !page.body.contains("451226196001010011"),
            "ID cards are masked"
        );
        let (queue, _) = cost_alert::unmatched(&app.store, None, 10, 0)
            .await
            .unwrap();
        let path = format!("/cost-alerts/unmatched/{}/attach", queue[0].id);
        let csrf = page.csrf();
        let bad = c
            .post_form(&path, &[("csrf", &csrf), ("resident_id", "abc")])
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("attach-error"));
        let resident = app.fixture.own_resident.to_string();
        let ok = c
            .post_form(&path, &[("csrf", &csrf), ("resident_id", &resident)])
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        assert_eq!(
            cost_alert::unmatched(&app.store, None, 10, 0)
                .await
                .unwrap()
                .1,
            0
        );
    }
}
