//! Health exams and the encounter timeline over HTTP: the exam form with its errors, the
//! timeline on the resident page, FHIR Encounter and Observation, and refusals outside
//! reach.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use yiwei_domain::access::Role;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::org::InstitutionKind;
use yiwei_store::audit::Who;
use yiwei_store::org::{self, NewInstitution};
use yiwei_store::user::{self, NewUser};

use crate::support::{Client, PASSWORD, Reply, TestApp, backends};

/// The exam form's fields with a day of `date` and the given left-arm pressures.
fn exam_fields<'a>(
    csrf: &'a str,
    date: &'a str,
    sys: &'a str,
    dia: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("exam_date", date),
        ("exam_time", "09:30"),
        ("symptoms", "头晕"),
        ("temperature", "36.6"),
        ("pulse", "76"),
        ("respiration", "18"),
        ("bp_left_sys", sys),
        ("bp_left_dia", dia),
        ("bp_right_sys", ""),
        ("bp_right_dia", ""),
        ("height_cm", "158"),
        ("weight_kg", "61.5"),
        ("waist_cm", "84"),
        ("self_care", "1"),
        ("smoking", "1"),
        ("ecg", "窦性心律"),
        ("fasting_glucose_mmol", "6.1"),
        ("diagnoses", "高血压\n血脂异常"),
        ("evaluation", "2"),
        ("summary", "血压偏高"),
    ]
}

/// A clinician of the other township (水源镇), with an institution of their own.
async fn add_other_township_clinician(app: &TestApp) -> String {
    let division = DivisionCode::parse("451226101").expect("code");
    let centre = org::add(
        &app.store,
        &NewInstitution {
            code: "T101".into(),
            name: "水源镇卫生院".into(),
            name_en: String::new(),
            kind: InstitutionKind::TownshipHealthCentre,
            division: division.clone(),
            community_id: None,
            is_lead: false,
        },
    )
    .await
    .expect("institution");
    let by = Who {
        username: Some("test".into()),
        ..Who::default()
    };
    user::add(
        &app.store,
        &NewUser {
            username: "shuiyuan.doctor".into(),
            display_name: "水源镇医生".into(),
            role: Role::Clinician,
            institution_id: Some(centre),
            reach: division,
            resident_id: None,
            password: PASSWORD.into(),
            phone: None,
        },
        &by,
    )
    .await
    .expect("user");
    "shuiyuan.doctor".into()
}

async fn token_of(app: &TestApp, username: &str) -> String {
    let u = user::by_username(&app.store, username).await.expect("user");
    yiwei_store::session::create_api_token(&app.store, u.id, "t", None)
        .await
        .expect("token")
}

async fn fhir_get(client: &mut Client, uri: &str, token: &str) -> Reply {
    let request = Request::get(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    client.send(request).await
}

/// The codes of the resources of a Bundle.
fn codes(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    e["resource"]["code"]["coding"][0]["code"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Record a valid exam through the form as the village doctor; returns the encounter id.
async fn record_through_the_form(client: &mut Client, resident: i64) -> i64 {
    let form = client
        .get(&format!("/residents/{resident}/exams/new"))
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let csrf = form.csrf();
    let saved = client
        .post_form(
            &format!("/residents/{resident}/exams/new"),
            &exam_fields(&csrf, "2026-05-12", "146", "92"),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let location = saved.location().to_owned();
    let prefix = format!("/residents/{resident}/exams/");
    assert!(location.starts_with(&prefix), "{location}");
    location[prefix.len()..]
        .split('?')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("an encounter id in the redirect")
}

#[tokio::test]
async fn a_village_doctor_records_an_exam_through_the_form_and_sees_it_on_the_timeline() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let resident = app.fixture.home_resident;
        let mut client = app.client();
        client.login("village.doctor").await;

        let page = client.get(&format!("/residents/{resident}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("id=\"timeline-empty\""), "{backend}");
        assert!(page.body.contains("id=\"new-exam\""), "{backend}");

        // An impossible blood pressure: the error sits next to its field, the input stays.
        let form = client
            .get(&format!("/residents/{resident}/exams/new"))
            .await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.body.contains("id=\"f-bp_left_sys\""));
        let csrf = form.csrf();
        let bad = client
            .post_form(
                &format!("/residents/{resident}/exams/new"),
                &exam_fields(&csrf, "2026-05-12", "300", "90"),
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{backend}");
        assert!(bad.body.contains("id=\"err-bp_left_sys\""), "{backend}");
        assert!(bad.body.contains("60–280"), "the plausible range is named");
        assert!(bad.body.contains("value=\"300\""), "the typed value stays");
        assert!(bad.body.contains("value=\"61.5\""), "other fields stay");
        assert!(bad.body.contains("窦性心律"), "section text stays");
        assert!(!bad.body.contains("id=\"err-weight_kg\""));
        // Diastolic above systolic is caught too.
        let swapped = client
            .post_form(
                &format!("/residents/{resident}/exams/new"),
                &exam_fields(&csrf, "2026-05-12", "90", "140"),
            )
            .await;
        assert_eq!(swapped.status, StatusCode::BAD_REQUEST);
        assert!(swapped.body.contains("id=\"err-bp_left_dia\""));
        // A date in the future.
        let future = client
            .post_form(
                &format!("/residents/{resident}/exams/new"),
                &exam_fields(&csrf, "2099-01-01", "146", "92"),
            )
            .await;
        assert_eq!(future.status, StatusCode::BAD_REQUEST);
        assert!(future.body.contains("id=\"err-exam_date\""));

        let id = record_through_the_form(&mut client, resident).await;
        let exam = client
            .get(&format!("/residents/{resident}/exams/{id}?done=saved"))
            .await;
        assert_eq!(exam.status, StatusCode::OK, "{backend}: {}", exam.body);
        assert!(exam.body.contains("体检表已保存"));
        assert!(exam.body.contains("146/92 mmHg"));
        assert!(exam.body.contains("24.6 kg/m²"), "BMI computed");
        assert!(exam.body.contains("窦性心律"));
        assert!(exam.body.contains("高血压、血脂异常"));
        assert!(exam.body.contains("可自理"));
        assert!(exam.body.contains("从不吸烟"));

        let page = client.get(&format!("/residents/{resident}")).await;
        assert!(
            page.body.contains(&format!("id=\"encounter-{id}\"")),
            "{backend}: on the timeline"
        );
        assert!(page.body.contains("2026-05-12 09:30"), "county local time");
        assert!(page.body.contains("健康体检"));
        assert!(page.body.contains("城西村卫生室"));
        assert!(page.body.contains("146/92 mmHg"));
        assert!(page.body.contains("6.1 mmol/L"));
        assert!(
            page.body
                .contains(&format!("href=\"/residents/{resident}/exams/{id}\""))
        );
        let all = client.get(&format!("/residents/{resident}/timeline")).await;
        assert_eq!(all.status, StatusCode::OK);
        assert!(all.body.contains(&format!("id=\"encounter-{id}\"")));

        // In English, the kind and labels follow the language.
        client.set_cookie("lang", "en");
        let page = client.get(&format!("/residents/{resident}")).await;
        assert!(page.body.contains("Health exam"));
        assert!(page.body.contains("Encounters and services"));
    }
}

#[tokio::test]
async fn fhir_encounter_and_observation_searches_return_the_exam_with_loinc_codes() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let resident = app.fixture.home_resident;
        let mut client = app.client();
        client.login("village.doctor").await;
        let id = record_through_the_form(&mut client, resident).await;
        let token = token_of(&app, "township.doctor").await;
        let mut api = app.client();

        let found = fhir_get(
            &mut api,
            &format!("/fhir/Encounter?patient={resident}"),
            &token,
        )
        .await;
        assert_eq!(found.status, StatusCode::OK, "{backend}: {}", found.body);
        assert_eq!(found.headers["content-type"], "application/fhir+json");
        let bundle = found.json();
        assert_eq!(bundle["resourceType"], "Bundle");
        assert_eq!(bundle["total"], 1);
        let e = &bundle["entry"][0]["resource"];
        assert_eq!(e["resourceType"], "Encounter");
        assert_eq!(e["id"], id.to_string());
        assert_eq!(e["status"], "finished");
        assert_eq!(e["class"]["code"], "AMB");
        assert_eq!(
            e["class"]["system"],
            "http://terminology.hl7.org/CodeSystem/v3-ActCode"
        );
        assert_eq!(e["type"][0]["coding"][0]["code"], "health_exam");
        assert_eq!(e["subject"]["reference"], format!("Patient/{resident}"));
        assert!(
            e["serviceProvider"]["reference"]
                .as_str()
                .unwrap()
                .starts_with("Organization/")
        );
        assert_eq!(e["period"]["start"], "2026-05-12T01:30:00Z");
        let same = fhir_get(
            &mut api,
            &format!(
                "/fhir/Encounter?subject=Patient/{resident}&date=ge2026-05-12&date=le2026-05-12"
            ),
            &token,
        )
        .await;
        assert_eq!(same.json()["total"], 1, "{backend}: {}", same.body);
        let none = fhir_get(
            &mut api,
            &format!("/fhir/Encounter?patient={resident}&date=gt2026-05-12"),
            &token,
        )
        .await;
        assert_eq!(none.json()["total"], 0);
        let read = fhir_get(&mut api, &format!("/fhir/Encounter/{id}"), &token).await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(read.json()["id"], id.to_string());

        let obs = fhir_get(
            &mut api,
            &format!("/fhir/Observation?patient=Patient/{resident}"),
            &token,
        )
        .await;
        assert_eq!(obs.status, StatusCode::OK, "{backend}: {}", obs.body);
        let bundle = obs.json();
        assert_eq!(
            codes(&bundle),
            [
                "85354-9", "8867-4", "8310-5", "9279-1", "8302-2", "29463-7", "39156-5", "8280-0",
                "14771-0"
            ]
        );
        let bp = &bundle["entry"][0]["resource"];
        assert_eq!(bp["id"], format!("{id}-bp-left"));
        assert_eq!(bp["status"], "final");
        assert_eq!(bp["category"][0]["coding"][0]["code"], "vital-signs");
        assert_eq!(bp["component"][0]["code"]["coding"][0]["code"], "8480-6");
        assert_eq!(bp["component"][0]["valueQuantity"]["value"], 146.0);
        assert_eq!(bp["component"][1]["code"]["coding"][0]["code"], "8462-4");
        assert_eq!(bp["component"][1]["valueQuantity"]["value"], 92.0);
        assert_eq!(
            bp["component"][1]["valueQuantity"]["system"],
            "http://unitsofmeasure.org"
        );
        assert_eq!(bp["component"][1]["valueQuantity"]["code"], "mm[Hg]");
        assert_eq!(bp["encounter"]["reference"], format!("Encounter/{id}"));
        assert_eq!(bp["subject"]["reference"], format!("Patient/{resident}"));
        assert_eq!(bp["effectiveDateTime"], "2026-05-12T01:30:00Z");
        let temperature = &bundle["entry"][2]["resource"];
        assert_eq!(temperature["valueQuantity"]["code"], "Cel");
        assert_eq!(temperature["valueQuantity"]["value"], 36.6);

        let bmi = fhir_get(
            &mut api,
            &format!("/fhir/Observation?patient={resident}&code=http://loinc.org|39156-5"),
            &token,
        )
        .await;
        let bundle = bmi.json();
        assert_eq!(bundle["total"], 1, "{backend}: {}", bmi.body);
        let value = &bundle["entry"][0]["resource"]["valueQuantity"];
        assert_eq!(
            (value["value"].as_f64(), value["code"].as_str()),
            (Some(24.6), Some("kg/m2"))
        );
        let two = fhir_get(
            &mut api,
            &format!("/fhir/Observation?encounter=Encounter/{id}&code=8867-4,14771-0"),
            &token,
        )
        .await;
        assert_eq!(codes(&two.json()), ["8867-4", "14771-0"]);
        let later = fhir_get(
            &mut api,
            &format!("/fhir/Observation?patient={resident}&date=ge2026-06"),
            &token,
        )
        .await;
        assert_eq!(later.json()["total"], 0);
        let one = fhir_get(
            &mut api,
            &format!("/fhir/Observation/{id}-body-weight"),
            &token,
        )
        .await;
        assert_eq!(one.status, StatusCode::OK);
        assert_eq!(one.json()["valueQuantity"]["value"], 61.5);
        let absent = fhir_get(
            &mut api,
            &format!("/fhir/Observation/{id}-bp-right"),
            &token,
        )
        .await;
        assert_eq!(absent.status, StatusCode::NOT_FOUND, "not measured");

        // Bad input: an OperationOutcome.
        for uri in [
            "/fhir/Encounter".to_owned(),
            format!("/fhir/Encounter?patient={resident}&date=yesterday"),
            format!("/fhir/Encounter?patient={resident}&date=ne2026"),
            "/fhir/Observation?code=8867-4".to_owned(),
            format!("/fhir/Observation?patient={resident}&status=final"),
        ] {
            let reply = fhir_get(&mut api, &uri, &token).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
            assert_eq!(reply.json()["resourceType"], "OperationOutcome", "{uri}");
        }
        let metadata = fhir_get(&mut api, "/fhir/metadata", &token).await;
        let types: Vec<String> = metadata.json()["rest"][0]["resource"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["type"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            types.contains(&"Encounter".to_owned()) && types.contains(&"Observation".to_owned())
        );
    }
}

#[tokio::test]
async fn a_clinician_of_another_township_is_refused_everywhere() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let resident = app.fixture.home_resident;
        let mut doctor = app.client();
        doctor.login("village.doctor").await;
        let id = record_through_the_form(&mut doctor, resident).await;

        // The village doctor cannot write outside the village either.
        let other = app.fixture.other_township_resident;
        let refused = doctor.get(&format!("/residents/{other}/exams/new")).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{backend}");

        let stranger = add_other_township_clinician(&app).await;
        let mut client = app.client();
        client.login(&stranger).await;
        for uri in [
            format!("/residents/{resident}/exams/new"),
            format!("/residents/{resident}/exams/{id}"),
            format!("/residents/{resident}/timeline"),
        ] {
            let reply = client.get(&uri).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{backend}: {uri}");
        }
        let csrf = client.get("/").await.csrf();
        let post = client
            .post_form(
                &format!("/residents/{resident}/exams/new"),
                &exam_fields(&csrf, "2026-05-12", "120", "80"),
            )
            .await;
        assert_eq!(
            post.status,
            StatusCode::FORBIDDEN,
            "{backend}: {}",
            post.body
        );

        let token = token_of(&app, &stranger).await;
        let mut api = app.client();
        for uri in [
            format!("/fhir/Encounter?patient={resident}"),
            format!("/fhir/Encounter/{id}"),
            format!("/fhir/Observation?patient={resident}"),
            format!("/fhir/Observation/{id}-bp-left"),
            format!("/fhir/Observation?encounter={id}"),
        ] {
            let reply = fhir_get(&mut api, &uri, &token).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{backend}: {uri}");
            let outcome = reply.json();
            assert_eq!(outcome["resourceType"], "OperationOutcome");
            assert_eq!(outcome["issue"][0]["code"], "forbidden");
        }
        let exams: i64 = match app.store.pool() {
            yiwei_store::Pool::Sqlite(pool) => sqlx::query_scalar("SELECT COUNT(*) FROM encounter")
                .fetch_one(pool)
                .await
                .expect("count"),
            yiwei_store::Pool::Postgres(pool) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM encounter")
                    .fetch_one(pool)
                    .await
                    .expect("count")
            }
        };
        assert_eq!(exams, 1, "the refused post wrote nothing");
        // The refusals are in the audit log.
        let denied = yiwei_store::audit::for_resident(&app.store, resident, 50, 0)
            .await
            .expect("audit")
            .into_iter()
            .filter(|e| {
                e.event.outcome == "denied"
                    && e.event.who.username.as_deref() == Some("shuiyuan.doctor")
            })
            .count();
        assert!(denied >= 5, "{backend}: {denied} denied entries");
    }
}

#[tokio::test]
async fn the_recording_doctor_corrects_an_exam_in_its_form_and_voids_it_with_a_reason() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let resident = app.fixture.home_resident;
        let mut client = app.client();
        client.login("village.doctor").await;
        let id = record_through_the_form(&mut client, resident).await;
        let page = client
            .get(&format!("/residents/{resident}/exams/{id}"))
            .await;
        assert!(page.body.contains("id=\"correct-link\""), "{backend}");
        let uri = format!("/residents/{resident}/exams/{id}/correct");
        let form = client.get(&uri).await;
        assert_eq!(form.status, StatusCode::OK, "{backend}: {}", form.body);
        // The stored exam fills its form: figures, codes, sections, date and time.
        for expected in [
            "value=\"146\"",
            "value=\"61.5\"",
            "窦性心律",
            "value=\"2026-05-12\"",
            "value=\"09:30\"",
            "id=\"f-reason\"",
        ] {
            assert!(form.body.contains(expected), "{expected} in {}", form.body);
        }
        let csrf = form.csrf();
        let mut fields = exam_fields(&csrf, "2026-05-12", "136", "86");
        fields.push(("version", "1"));
        // Without a reason, nothing changes and the form says why.
        let r = client.post_form(&uri, &fields).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}");
        assert!(r.body.contains("id=\"err-reason\""), "{}", r.body);
        assert!(r.body.contains("value=\"136\""), "the input stays");
        fields.push(("reason", "血压录入错误"));
        let r = client.post_form(&uri, &fields).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = client.get(r.location()).await;
        assert!(page.body.contains("136/86 mmHg"), "{}", page.body);
        assert!(page.body.contains("id=\"exam-revisions\""));
        assert!(page.body.contains("血压录入错误"));
        // The same version again is stale.
        let r = client.post_form(&uri, &fields).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

        let csrf = page.csrf();
        let void = format!("/residents/{resident}/exams/{id}/void");
        let r = client
            .post_form(
                &void,
                &[("csrf", csrf.as_str()), ("version", "2"), ("reason", "")],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{backend}");
        let r = client
            .post_form(
                &void,
                &[
                    ("csrf", csrf.as_str()),
                    ("version", "2"),
                    ("reason", "录错居民"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = client.get(r.location()).await;
        assert!(page.body.contains("id=\"exam-voided\""), "{}", page.body);
        assert!(!page.body.contains("id=\"correct-link\""));
        let record = client.get(&format!("/residents/{resident}")).await;
        assert!(
            !record.body.contains(&format!("id=\"encounter-{id}\"")),
            "a voided exam leaves the timeline"
        );
    }
}
