//! Immunization over HTTP: the vaccination page (record, refusal with the reasons and the
//! typed values kept, override, void) and FHIR Immunization (create, 422 for a dose that
//! breaks the schedule, search with its parameters, 400 for an unknown one, read).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use yiwei_domain::division::DivisionCode;
use yiwei_store::audit::Who;
use yiwei_store::resident::{self, NewResident};
use yiwei_store::user;
use yiwei_store::{Store, on_pool};

use crate::support::{Client, Reply, TestApp, backends};

/// Today in the county (UTC+8), as the app computes it.
fn today() -> NaiveDate {
    (Utc::now() + Duration::hours(8)).date_naive()
}

/// A child of village 451226100201 born `days_old` days ago.
async fn child(app: &TestApp, days_old: i64) -> (i64, NaiveDate) {
    let birth = today() - Duration::days(days_old);
    let new = NewResident {
        division: DivisionCode::parse("451226100201").expect("code"),
        name: "韦小宝".into(),
        sex: "male".into(),
        birth_date: Some(birth),
        id_card: None,
        phone: None,
        contact_phone: None,
        details: resident::Details {
            no_id_reason: Some("1".into()),
            ..Default::default()
        },
    };
    let by = Who {
        username: Some("test".into()),
        ..Who::default()
    };
    let id = resident::create(&app.store, &new, &by)
        .await
        .expect("child");
    (id, birth)
}

async fn doses_in_table(store: &Store) -> i64 {
    on_pool!(store, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM immunization"
    )
    .fetch_one(pool)
    .await)
    .expect("count")
}

fn dose_fields<'a>(
    csrf: &'a str,
    vaccine: &'a str,
    date: &'a str,
    reason: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("vaccine", vaccine),
        ("given_on", date),
        ("lot", "202501A17"),
        ("manufacturer", "深圳康泰生物制品"),
        ("site", "右上臂三角肌"),
        ("override_reason", reason),
    ]
}

#[tokio::test]
async fn a_village_doctor_records_doses_on_the_vaccination_page_and_sees_why_one_is_refused() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let (kid, birth) = child(&app, 20).await;
        let mut client = app.client();
        client.login("village.doctor").await;
        let record = client.get(&format!("/residents/{kid}")).await;
        assert!(
            record
                .body
                .contains(&format!("href=\"/residents/{kid}/immunizations\"")),
            "the resident page links the vaccination record"
        );
        let page = client.get(&format!("/residents/{kid}/immunizations")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("预防接种证"));
        assert!(page.body.contains("id=\"imm-due\""), "doses due are listed");
        assert!(page.body.contains("乙肝疫苗"));
        let csrf = page.csrf();
        let url = format!("/residents/{kid}/immunizations");
        let birth_text = birth.to_string();

        let saved = client
            .post_form(&url, &dose_fields(&csrf, "hepb", &birth_text, ""))
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        assert_eq!(saved.location(), format!("{url}?done=recorded"));
        assert_eq!(doses_in_table(&app.store).await, 1);

        // Dose 2 at 20 days: before the minimum age (1 month) and too soon after dose 1.
        let today_text = today().to_string();
        let refused = client
            .post_form(&url, &dose_fields(&csrf, "hepb", &today_text, ""))
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.body.contains("id=\"problem-before_minimum_age\""));
        assert!(refused.body.contains("id=\"problem-too_soon_after_dose\""));
        assert!(
            refused.body.contains("第2剂的最小接种年龄为1月龄"),
            "{}",
            refused.body
        );
        assert!(
            refused.body.contains("value=\"202501A17\""),
            "the typed lot is kept"
        );
        assert!(refused.body.contains("<option value=\"hepb\" selected>"));
        assert_eq!(doses_in_table(&app.store).await, 1, "nothing written");

        // A reason of 2 characters is too short; 4 or more records it, flagged.
        let short = client
            .post_form(&url, &dose_fields(&csrf, "hepb", &today_text, "补录"))
            .await;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(short.body.contains("登记理由至少需要4个字"));
        let flagged = client
            .post_form(
                &url,
                &dose_fields(&csrf, "hepb", &today_text, "外院已接种补录"),
            )
            .await;
        assert_eq!(flagged.status, StatusCode::SEE_OTHER, "{}", flagged.body);
        let page = client.get(&format!("{url}?done=recorded")).await;
        assert!(page.body.contains("接种记录已保存"));
        assert!(page.body.contains("未到最小接种月龄"), "the flag is shown");
        assert!(page.body.contains("外院已接种补录"));

        // Void the flagged dose: a reason is required, then the row stays, struck out.
        let dose_id: i64 = on_pool!(&app.store, |pool| sqlx::query_scalar::<_, i64>(
            "SELECT MAX(id) FROM immunization"
        )
        .fetch_one(pool)
        .await)
        .expect("id");
        let void_url = format!("{url}/{dose_id}/void");
        let no_reason = client
            .post_form(&void_url, &[("csrf", &csrf), ("reason", "")])
            .await;
        assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            no_reason
                .body
                .contains(&format!("id=\"void-error-{dose_id}\""))
        );
        let voided = client
            .post_form(&void_url, &[("csrf", &csrf), ("reason", "录错儿童，作废")])
            .await;
        assert_eq!(voided.status, StatusCode::SEE_OTHER, "{}", voided.body);
        let page = client.get(&url).await;
        assert!(page.body.contains("已作废"));
        assert!(page.body.contains("录错儿童，作废"));
        assert_eq!(doses_in_table(&app.store).await, 2, "voided, not deleted");

        // Without the CSRF token nothing is written.
        let forged = client
            .post_form(&url, &dose_fields("forged", "bcg", &birth_text, ""))
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(doses_in_table(&app.store).await, 2);
    }
}

#[tokio::test]
async fn the_vaccination_page_is_refused_outside_reach() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let mut client = app.client();
        client.login("village.doctor").await;
        let other = app.fixture.other_township_resident;
        let page = client
            .get(&format!("/residents/{other}/immunizations"))
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
    }
}

async fn token_of(app: &TestApp, username: &str) -> String {
    let u = user::by_username(&app.store, username).await.expect("user");
    yiwei_store::session::create_api_token(&app.store, u.id, "t", None)
        .await
        .expect("token")
}

async fn fhir(
    client: &mut Client,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<Value>,
) -> Reply {
    let builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    let request = match body {
        Some(b) => builder
            .header("content-type", "application/fhir+json")
            .body(Body::from(b.to_string())),
        None => builder.body(Body::empty()),
    }
    .expect("request");
    client.send(request).await
}

fn immunization(patient: i64, code: &str, date: &str) -> Value {
    json!({
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": [{"system": "urn:yiwei:vaccine", "code": code}]},
        "patient": {"reference": format!("Patient/{patient}")},
        "occurrenceDateTime": date,
        "lotNumber": "202501A17",
        "manufacturer": {"display": "深圳康泰生物制品"},
        "site": {"text": "右上臂三角肌"}
    })
}

#[tokio::test]
async fn fhir_immunization_creates_refuses_bad_doses_and_searches_strictly() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let (kid, birth) = child(&app, 20).await;
        let token = token_of(&app, "village.doctor").await;
        let mut client = app.client();
        let birth_text = birth.to_string();

        let created = fhir(
            &mut client,
            "POST",
            "/fhir/Immunization",
            &token,
            Some(immunization(kid, "hepb", &birth_text)),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let r = created.json();
        assert_eq!(r["status"], "completed");
        assert_eq!(r["vaccineCode"]["coding"][0]["system"], "urn:yiwei:vaccine");
        assert_eq!(r["vaccineCode"]["coding"][0]["code"], "hepb");
        assert_eq!(r["vaccineCode"]["text"], "乙肝疫苗");
        assert_eq!(r["protocolApplied"][0]["series"], "hepb");
        assert_eq!(r["protocolApplied"][0]["doseNumberPositiveInt"], 1);
        assert_eq!(r["occurrenceDateTime"], birth_text.as_str());
        assert_eq!(r["patient"]["reference"], format!("Patient/{kid}"));
        let id = r["id"].as_str().expect("id").to_owned();
        assert!(
            created
                .location()
                .ends_with(&format!("/fhir/Immunization/{id}"))
        );
        let bcg = fhir(
            &mut client,
            "POST",
            "/fhir/Immunization",
            &token,
            Some(immunization(kid, "bcg", &birth_text)),
        )
        .await;
        assert_eq!(bcg.status, StatusCode::CREATED, "{}", bcg.body);

        // A second hepatitis B dose at 20 days: 422 with one issue per broken rule.
        let bad = fhir(
            &mut client,
            "POST",
            "/fhir/Immunization",
            &token,
            Some(immunization(kid, "hepb", &today().to_string())),
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        let outcome = bad.json();
        assert_eq!(outcome["resourceType"], "OperationOutcome");
        let codes: Vec<&str> = outcome["issue"]
            .as_array()
            .expect("issues")
            .iter()
            .map(|i| {
                i["details"]["coding"][0]["code"]
                    .as_str()
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(codes, ["before_minimum_age", "too_soon_after_dose"]);
        assert!(
            outcome["issue"][0]["diagnostics"]
                .as_str()
                .unwrap_or_default()
                .contains("Dose 2 may be given from 1 month")
        );
        // Malformed: an unknown vaccine, a date that is no date.
        let unknown = fhir(
            &mut client,
            "POST",
            "/fhir/Immunization",
            &token,
            Some(immunization(kid, "flu", &birth_text)),
        )
        .await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        let no_date = fhir(
            &mut client,
            "POST",
            "/fhir/Immunization",
            &token,
            Some(immunization(kid, "bcg", "soon")),
        )
        .await;
        assert_eq!(no_date.status, StatusCode::BAD_REQUEST);
        assert_eq!(doses_in_table(&app.store).await, 2);

        let all = fhir(
            &mut client,
            "GET",
            &format!("/fhir/Immunization?patient={kid}"),
            &token,
            None,
        )
        .await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.body);
        assert_eq!(all.json()["total"], 2);
        let bcg_only = fhir(
            &mut client,
            "GET",
            &format!("/fhir/Immunization?patient=Patient/{kid}&vaccine-code=urn:yiwei:vaccine|bcg"),
            &token,
            None,
        )
        .await;
        let bundle = bcg_only.json();
        assert_eq!(bundle["total"], 1);
        assert_eq!(
            bundle["entry"][0]["resource"]["vaccineCode"]["coding"][0]["code"],
            "bcg"
        );
        let later = fhir(
            &mut client,
            "GET",
            &format!(
                "/fhir/Immunization?patient={kid}&date=ge{}",
                birth + Duration::days(1)
            ),
            &token,
            None,
        )
        .await;
        assert_eq!(later.json()["total"], 0);
        let within = fhir(
            &mut client,
            "GET",
            &format!(
                "/fhir/Immunization?patient={kid}&date=ge{birth}&date=le{birth}&status=completed"
            ),
            &token,
            None,
        )
        .await;
        assert_eq!(within.json()["total"], 2);
        let paged = fhir(
            &mut client,
            "GET",
            &format!("/fhir/Immunization?patient={kid}&_count=1"),
            &token,
            None,
        )
        .await
        .json();
        assert_eq!(paged["entry"].as_array().map(Vec::len), Some(1));
        assert!(
            paged["link"]
                .as_array()
                .expect("links")
                .iter()
                .any(|l| l["relation"] == "next")
        );

        for bad_query in [
            format!("/fhir/Immunization?patient={kid}&vaccine=hepb"),
            format!("/fhir/Immunization?patient={kid}&status=done"),
            format!("/fhir/Immunization?patient={kid}&date=ne2025"),
            "/fhir/Immunization?vaccine-code=hepb".to_owned(),
        ] {
            let reply = fhir(&mut client, "GET", &bad_query, &token, None).await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{bad_query}: {}",
                reply.body
            );
            assert_eq!(reply.json()["resourceType"], "OperationOutcome");
        }

        let read = fhir(
            &mut client,
            "GET",
            &format!("/fhir/Immunization/{id}"),
            &token,
            None,
        )
        .await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(read.json()["lotNumber"], "202501A17");
        let missing = fhir(
            &mut client,
            "GET",
            "/fhir/Immunization/999999",
            &token,
            None,
        )
        .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);

        // Outside reach: refused, not found out.
        let other = app.fixture.other_township_resident;
        let refused = fhir(
            &mut client,
            "GET",
            &format!("/fhir/Immunization?patient={other}"),
            &token,
            None,
        )
        .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);

        let metadata = fhir(&mut client, "GET", "/fhir/metadata", &token, None)
            .await
            .json();
        let types: Vec<&str> = metadata["rest"][0]["resource"]
            .as_array()
            .expect("resources")
            .iter()
            .filter_map(|r| r["type"].as_str())
            .collect();
        assert!(types.contains(&"Immunization"));
    }
}
