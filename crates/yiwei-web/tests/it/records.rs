//! Resident records over HTTP: the form with its errors, the master index's answers,
//! search, edit with versions, review and merge; and FHIR Patient.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::support::{TestApp, backends};

/// A valid ID-card number of the fixture county.
fn id_card(birth: &str, seq: u32) -> String {
    let first17 = format!("451226{birth}{seq:03}");
    format!("{first17}{}", yiwei_domain::id_card::check_char(&first17))
}

#[tokio::test]
async fn the_form_shows_each_error_next_to_its_field_and_keeps_the_input() {
    let app = TestApp::new("sqlite").await;
    let mut client = app.client();
    client.login("village.doctor").await;
    let form = client.get("/residents/new").await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = form.csrf();
    let bad = client
        .post_form(
            "/residents/new",
            &[
                ("csrf", &csrf),
                ("version", "0"),
                ("name", "黄小明"),
                ("sex", "male"),
                ("id_card", "451226201001010011"),
                ("birth_date", "2099-01-01"),
                ("phone", "12ab"),
                ("village", "451226100201"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body.contains("id=\"err-id-card\""),
        "ID card error shown"
    );
    assert!(
        bad.body.contains("id=\"err-birth\""),
        "birth date error shown"
    );
    assert!(bad.body.contains("id=\"err-phone\""), "phone error shown");
    assert!(bad.body.contains("value=\"黄小明\""), "input kept");
}

#[tokio::test]
async fn a_new_record_is_created_found_by_pinyin_and_the_same_person_twice_is_linked() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let mut client = app.client();
        client.login("village.doctor").await;
        let csrf = client.get("/residents/new").await.csrf();
        let number = id_card("19700505", 17);
        let fields = [
            ("csrf", csrf.as_str()),
            ("version", "0"),
            ("name", "黄小明"),
            ("sex", "male"),
            ("id_card", number.as_str()),
            ("phone", "13977001234"),
            ("village", "451226100201"),
            ("ethnicity", "01"),
        ];
        let created = client.post_form("/residents/new", &fields).await;
        assert_eq!(
            created.status,
            StatusCode::SEE_OTHER,
            "{backend}: {}",
            created.body
        );
        let detail = client.get(created.location()).await;
        assert!(detail.body.contains("档案已建立"), "{backend}");
        assert!(detail.body.contains("汉族"), "coded field shown by name");
        let found = client.get("/residents?q=huangxiaoming").await;
        assert!(found.body.contains("黄小明"), "{backend}: found by pinyin");
        let found = client.get("/residents?q=hxm").await;
        assert!(
            found.body.contains("黄小明"),
            "{backend}: found by initials"
        );
        let again = client.post_form("/residents/new", &fields).await;
        assert_eq!(again.status, StatusCode::OK);
        assert!(
            again.body.contains("id=\"linked-title\""),
            "{backend}: linked, not duplicated"
        );
    }
}

#[tokio::test]
async fn an_edit_with_a_stale_version_is_refused_with_a_message() {
    let app = TestApp::new("sqlite").await;
    let mut client = app.client();
    client.login("village.doctor").await;
    let id = app.fixture.home_resident;
    let form = client.get(&format!("/residents/{id}/edit")).await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = form.csrf();
    let fields = |version: &'static str, address: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("version", version.to_owned()),
            ("name", "韦秀英".to_owned()),
            ("sex", "female".to_owned()),
            ("birth_date", "1958-03-09".to_owned()),
            ("village", "451226100201".to_owned()),
            ("address", address.to_owned()),
        ]
    };
    let as_refs = |v: &Vec<(&'static str, String)>| {
        v.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>()
    };
    let first = as_refs(&fields("1", "城西屯 1 号"));
    let first: Vec<(&str, &str)> = first.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = client
        .post_form(&format!("/residents/{id}/edit"), &first)
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let stale = as_refs(&fields("1", "城西屯 2 号"));
    let stale: Vec<(&str, &str)> = stale.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = client
        .post_form(&format!("/residents/{id}/edit"), &stale)
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("已被他人修改"));
    assert!(
        client
            .get(&format!("/residents/{id}"))
            .await
            .body
            .contains("城西屯 1 号")
    );
}

fn fhir_request(
    method: &str,
    uri: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/fhir+json");
    builder
        .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
        .expect("request")
}

#[tokio::test]
async fn fhir_patient_create_read_search_update_and_refusals() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let user = yiwei_store::user::by_username(&app.store, "township.doctor")
            .await
            .expect("user");
        let token = yiwei_store::session::create_api_token(&app.store, user.id, "t", None)
            .await
            .expect("token");
        let mut client = app.client();
        let number = id_card("19801212", 33);
        let patient = json!({
            "resourceType": "Patient",
            "identifier": [{"system": "urn:yiwei:id-card", "value": number}],
            "name": [{"text": "罗春花"}],
            "gender": "female",
            "birthDate": "1980-12-12",
            "telecom": [{"system": "phone", "value": "13800001111"}],
            "address": [{"text": "城东", "extension": [{"url": "urn:yiwei:fhir:division", "valueReference": {"reference": "Location/451226100202"}}]}]
        });
        let created = client
            .send(fhir_request(
                "POST",
                "/fhir/Patient",
                &token,
                Some(patient.clone()),
            ))
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{backend}: {}",
            created.body
        );
        let id = created.json()["id"].as_str().expect("id").to_owned();
        let again = client
            .send(fhir_request(
                "POST",
                "/fhir/Patient",
                &token,
                Some(patient.clone()),
            ))
            .await;
        assert_eq!(
            again.status,
            StatusCode::OK,
            "{backend}: the same person is linked"
        );
        assert_eq!(again.headers["x-yiwei-empi"], "linked");
        let read = client
            .send(fhir_request(
                "GET",
                &format!("/fhir/Patient/{id}"),
                &token,
                None,
            ))
            .await;
        assert_eq!(read.status, StatusCode::OK);
        let body = read.json();
        assert_eq!(body["identifier"][0]["value"], number.as_str());
        assert_eq!(body["telecom"][0]["value"], "13800001111");
        let version = body["meta"]["versionId"]
            .as_str()
            .expect("version")
            .to_owned();
        let found = client
            .send(fhir_request(
                "GET",
                "/fhir/Patient?name=luochunhua",
                &token,
                None,
            ))
            .await
            .json();
        assert_eq!(found["total"], 1, "{backend}");
        assert!(
            found["entry"][0]["resource"]["identifier"]
                .as_array()
                .is_some_and(|ids| ids.iter().all(|i| i["system"] != "urn:yiwei:id-card")),
            "search never lists ID cards"
        );
        let by_id_card = client
            .send(fhir_request(
                "GET",
                &format!("/fhir/Patient?identifier=urn:yiwei:id-card|{number}"),
                &token,
                None,
            ))
            .await
            .json();
        assert_eq!(by_id_card["total"], 1);
        let mut changed = patient.clone();
        changed["address"][0]["text"] = json!("城东 8 号");
        let mut put = fhir_request(
            "PUT",
            &format!("/fhir/Patient/{id}"),
            &token,
            Some(changed.clone()),
        );
        put.headers_mut().insert(
            "if-match",
            format!("W/\"{version}\"").parse().expect("header"),
        );
        let updated = client.send(put).await;
        assert_eq!(
            updated.status,
            StatusCode::OK,
            "{backend}: {}",
            updated.body
        );
        let mut stale = fhir_request("PUT", &format!("/fhir/Patient/{id}"), &token, Some(changed));
        stale.headers_mut().insert(
            "if-match",
            format!("W/\"{version}\"").parse().expect("header"),
        );
        assert_eq!(client.send(stale).await.status, StatusCode::CONFLICT);
        // Bad input gets a precise OperationOutcome.
        let mut unknown = patient.clone();
        unknown["maritalStatus"] = json!({"text": "married"});
        let reply = client
            .send(fhir_request("POST", "/fhir/Patient", &token, Some(unknown)))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(
            reply.json()["issue"][0]["diagnostics"]
                .as_str()
                .unwrap_or_default()
                .contains("maritalStatus")
        );
        let mut bad_id = patient.clone();
        bad_id["identifier"][0]["value"] = json!("451226198012120330");
        bad_id["birthDate"] = json!("2999-01-01");
        let reply = client
            .send(fhir_request("POST", "/fhir/Patient", &token, Some(bad_id)))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        let text = reply.json()["issue"][0]["diagnostics"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            text.contains("future") && text.contains("check character"),
            "{text}"
        );
        // Another township's resident: refused.
        let other = client
            .send(fhir_request(
                "GET",
                &format!("/fhir/Patient/{}", app.fixture.other_township_resident),
                &token,
                None,
            ))
            .await;
        assert_eq!(other.status, StatusCode::FORBIDDEN);
        assert_eq!(other.json()["resourceType"], "OperationOutcome");
    }
}

#[tokio::test]
async fn the_quality_page_lists_records_to_complete_and_analysts_see_only_figures() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let mut doctor = app.client();
        doctor.login("village.doctor").await;
        let page = doctor.get("/residents/quality").await;
        assert_eq!(page.status, StatusCode::OK, "{backend}");
        assert!(page.body.contains("id=\"quality-list\""));
        assert!(
            page.body.contains("韦秀英"),
            "a fixture record lacks WS 365 answers"
        );
        let mut analyst = app.client();
        analyst.login("analyst").await;
        let figures = analyst.get("/residents/quality").await;
        assert_eq!(figures.status, StatusCode::OK);
        assert!(
            figures.body.contains("id=\"q-records\">4<"),
            "{backend}: county figures"
        );
        assert!(
            !figures.body.contains("韦秀英"),
            "no names for an aggregate role"
        );
        assert_eq!(
            doctor
                .get("/residents/quality?division=451226101")
                .await
                .status,
            StatusCode::FORBIDDEN
        );
    }
}

fn patient_entry(name: &str, id_card: &str, village: &str) -> serde_json::Value {
    json!({
        "request": {"method": "POST", "url": "Patient"},
        "resource": {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:yiwei:id-card", "value": id_card}],
            "name": [{"text": name}],
            "address": [{"extension": [{"url": "urn:yiwei:fhir:division", "valueReference": {"reference": format!("Location/{village}")}}]}]
        }
    })
}

#[tokio::test]
async fn fhir_bundles_import_patients_batch_per_entry_and_transaction_all_checked_first() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let user = yiwei_store::user::by_username(&app.store, "township.doctor")
            .await
            .expect("user");
        let token = yiwei_store::session::create_api_token(&app.store, user.id, "t", None)
            .await
            .expect("token");
        let mut client = app.client();
        let count = |store: yiwei_store::Store| async move {
            let admin = yiwei_store::user::by_username(&store, "township.doctor")
                .await
                .expect("user");
            let viewer = yiwei_store::access::Viewer {
                user: &admin,
                remote_addr: None,
            };
            yiwei_store::access::list_residents(&store, &viewer, &admin.reach.clone(), 1, 0)
                .await
                .expect("list")
                .1
        };
        let before = count(app.store.clone()).await;
        let bad = patient_entry("坏号码", "451226198001010000", "451226100201");
        let transaction = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            patient_entry("覃新一", &id_card("19900101", 11), "451226100201"), bad.clone()
        ]});
        let refused = client
            .send(fhir_request("POST", "/fhir", &token, Some(transaction)))
            .await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{backend}: {}",
            refused.body
        );
        assert!(
            refused.json()["issue"][0]["diagnostics"]
                .as_str()
                .unwrap_or_default()
                .contains("entry[1]")
        );
        assert_eq!(
            count(app.store.clone()).await,
            before,
            "{backend}: nothing written"
        );
        let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
            patient_entry("覃新一", &id_card("19900101", 11), "451226100201"), bad
        ]});
        let reply = client
            .send(fhir_request("POST", "/fhir", &token, Some(batch)))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{backend}: {}", reply.body);
        let body = reply.json();
        assert_eq!(body["type"], "batch-response");
        assert_eq!(body["entry"][0]["response"]["status"], "201 Created");
        assert!(
            body["entry"][1]["response"]["status"]
                .as_str()
                .unwrap_or_default()
                .starts_with("400")
        );
        assert_eq!(count(app.store.clone()).await, before + 1);
    }
}

#[tokio::test]
async fn age_based_key_groups_are_shown_from_the_birth_date() {
    let app = TestApp::new("sqlite").await;
    let mut client = app.client();
    client.login("village.doctor").await;
    // 韦秀英 was born in 1958: 65 or older today.
    let page = client
        .get(&format!("/residents/{}", app.fixture.home_resident))
        .await;
    assert!(page.body.contains("65岁及以上老年人"), "{}", page.body);
}
