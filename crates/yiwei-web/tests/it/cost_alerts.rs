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

use crate::support::{TestApp, backends};

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
pub(crate) async fn setup(app: &TestApp) -> (i64, i64) {
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
        // A check on the other township's alert is refused.
        let elsewhere = c
            .post_form(
                &format!("/cost-alerts/{other}/check"),
                &[
                    ("csrf", &csrf),
                    ("version", "1"),
                    ("outcome", "moved_away"),
                    ("checked_on", "2026-11-02"),
                ],
            )
            .await;
        assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);
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

/// A FHIR request with a bearer token of `username`.
async fn fhir(app: &TestApp, username: &str, request: Request<Body>) -> crate::support::Reply {
    let u = yiwei_store::user::by_username(&app.store, username)
        .await
        .expect("user");
    let token = yiwei_store::session::create_api_token(&app.store, u.id, "t", None)
        .await
        .expect("token");
    let (mut parts, body) = request.into_parts();
    parts.headers.insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    app.client().send(Request::from_parts(parts, body)).await
}

fn post_json(uri: &str, body: &Value) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/fhir+json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

fn charge_item(visit: &str, patient: i64, total: f64, paid: f64, oop: f64) -> Value {
    json!({
        "resourceType": "ChargeItem",
        "identifier": [{"system": "urn:yiwei:visit-id", "value": visit}],
        "status": "billable",
        "code": {"coding": [{"system": "urn:yiwei:visit-kind", "code": "inpatient"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "occurrenceDateTime": "2026-10-20",
        "performingOrganization": {"identifier": {"system": "urn:yiwei:institution-code", "value": "H001"}},
        "priceOverride": {"value": total, "currency": "CNY"},
        "extension": [
            {"url": "urn:yiwei:fhir:StructureDefinition:charge-insurance-paid", "valueMoney": {"value": paid, "currency": "CNY"}},
            {"url": "urn:yiwei:fhir:StructureDefinition:charge-out-of-pocket", "valueMoney": {"value": oop, "currency": "CNY"}}
        ]
    })
}

#[tokio::test]
async fn charge_items_are_created_idempotently_searched_and_alerts_read_as_flags() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let (home, _) = setup(&app).await;
        let patient = app.fixture.home_resident;
        let body = charge_item("FHIR-1", patient, 1234.56, 1000.0, 234.56);
        let created = fhir(&app, "county.doctor", post_json("/fhir/ChargeItem", &body)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let item = created.json();
        assert_eq!(item["priceOverride"]["value"], json!(1234.56));
        assert_eq!(item["subject"]["reference"], format!("Patient/{patient}"));
        let again = fhir(&app, "county.doctor", post_json("/fhir/ChargeItem", &body)).await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.json()["id"], item["id"]);
        // Bad amounts: one 400 naming what is wrong, nothing stored.
        let bad = charge_item("FHIR-2", patient, 100.0, 80.0, -30.0);
        let refused = fhir(&app, "county.doctor", post_json("/fhir/ChargeItem", &bad)).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(refused.json()["resourceType"], "OperationOutcome");
        assert!(
            refused.body.contains("out_of_pocket_fen"),
            "{}",
            refused.body
        );
        let too_much = charge_item("FHIR-3", patient, 100.0, 80.0, 30.0);
        let r = fhir(
            &app,
            "county.doctor",
            post_json("/fhir/ChargeItem", &too_much),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.body.contains("total_fen"), "{}", r.body);
        // A transaction Bundle with one bad entry writes nothing; a good one writes both.
        let entry =
            |r: Value| json!({"request": {"method": "POST", "url": "ChargeItem"}, "resource": r});
        let mixed = json!({"resourceType": "Bundle", "type": "transaction", "entry": [entry(charge_item("B-1", patient, 10.0, 5.0, 5.0)), entry(bad.clone())]});
        let r = fhir(&app, "county.doctor", post_json("/fhir", &mixed)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        let good = json!({"resourceType": "Bundle", "type": "transaction", "entry": [entry(charge_item("B-1", patient, 10.0, 5.0, 5.0)), entry(charge_item("B-2", patient, 20.0, 5.0, 5.0))]});
        let r = fhir(&app, "county.doctor", post_json("/fhir", &good)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json()["entry"][1]["response"]["status"], "201 Created");
        // Search by patient and date: the October charges of the resident.
        let search = fhir(
            &app,
            "township.doctor",
            Request::get(format!(
                "/fhir/ChargeItem?patient=Patient/{patient}&date=ge2026-10-01&date=le2026-10-31"
            ))
            .body(Body::empty())
            .unwrap(),
        )
        .await;
        assert_eq!(search.status, StatusCode::OK, "{}", search.body);
        assert_eq!(search.json()["total"], 4);
        let outside = fhir(
            &app,
            "township.doctor",
            Request::get(format!(
                "/fhir/ChargeItem?patient=Patient/{}",
                app.fixture.other_township_resident
            ))
            .body(Body::empty())
            .unwrap(),
        )
        .await;
        assert_eq!(outside.status, StatusCode::FORBIDDEN);
        assert_eq!(
            fhir(
                &app,
                "township.doctor",
                Request::get("/fhir/ChargeItem")
                    .body(Body::empty())
                    .unwrap()
            )
            .await
            .status,
            StatusCode::BAD_REQUEST
        );
        // The alert as a Flag.
        let flag = fhir(
            &app,
            "township.doctor",
            Request::get(format!("/fhir/Flag/{home}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(flag.status, StatusCode::OK, "{}", flag.body);
        let f = flag.json();
        assert_eq!(f["resourceType"], "Flag");
        assert_eq!(f["status"], "active");
        assert_eq!(f["period"]["start"], "2026-10-01");
        let list = fhir(
            &app,
            "township.doctor",
            Request::get("/fhir/Flag?date=2026-10&status=open")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(list.json()["total"], 1, "{}", list.body);
        let mine = fhir(
            &app,
            "township.doctor",
            Request::get(format!("/fhir/Flag?patient=Patient/{patient}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(mine.json()["total"], 1, "{}", mine.body);
        let bureau = fhir(
            &app,
            "analyst",
            Request::get("/fhir/Flag").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(bureau.json()["total"], 2);
        assert!(!bureau.body.contains("韦秀英"));
        let meta = fhir(
            &app,
            "analyst",
            Request::get("/fhir/metadata").body(Body::empty()).unwrap(),
        )
        .await;
        assert!(meta.body.contains("\"ChargeItem\"") && meta.body.contains("\"Flag\""));
    }
}
