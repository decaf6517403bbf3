//! FHIR CarePlan, Task and the Observations of programme visits: a resident enrolled and
//! visited through the store's gate, then read and searched over `/fhir` with a bearer
//! token, and refused to a user outside reach.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, NaiveDate};
use serde_json::Value;
use yiwei_domain::access::Role;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::org::InstitutionKind;
use yiwei_store::access::Viewer;
use yiwei_store::access::programmes as gate;
use yiwei_store::audit::Who;
use yiwei_store::org::{self, NewInstitution};
use yiwei_store::programme::{Catalogue, Episode, NewEnrolment, NewVisit};
use yiwei_store::user::{self, NewUser};

use crate::support::{Client, PASSWORD, Reply, TestApp, backends};

fn today() -> NaiveDate {
    (chrono::Utc::now() + Duration::hours(8)).date_naive()
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

/// The resources of a searchset Bundle.
fn entries(bundle: &Value) -> Vec<Value> {
    assert_eq!(bundle["resourceType"], "Bundle", "{bundle}");
    bundle["entry"]
        .as_array()
        .map(|list| list.iter().map(|e| e["resource"].clone()).collect())
        .unwrap_or_default()
}

fn ids(bundle: &Value) -> Vec<String> {
    entries(bundle)
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A clinician of the other township (水源镇), outside the home resident's reach.
async fn add_stranger(app: &TestApp) -> String {
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

/// What the gate wrote: the enrolment, the visit's encounter.
struct Written {
    resident: i64,
    enrolment: i64,
    encounter: i64,
}

/// Enrol the home resident (68) in hypertension 200 days ago and record a 150/95
/// follow-up 10 days ago, as the village doctor through the gate.
async fn enrol_and_visit(app: &TestApp) -> Written {
    let catalogue = Catalogue::default();
    let doctor = user::by_username(&app.store, "village.doctor")
        .await
        .expect("user");
    let viewer = Viewer {
        user: &doctor,
        remote_addr: None,
    };
    let resident = app.fixture.home_resident;
    let enrolment = gate::enrol(
        &app.store,
        &viewer,
        &catalogue,
        resident,
        &NewEnrolment {
            programme: "hypertension".into(),
            started_on: today() - Duration::days(200),
            episode: Episode::default(),
            today: today(),
        },
    )
    .await
    .expect("enrol");
    let answers = [
        ("sys", "150"),
        ("dia", "95"),
        ("danger_signs", "2"),
        ("adverse_reaction", "否"),
        ("new_complication", "否"),
    ];
    let recorded = gate::record_visit(
        &app.store,
        &viewer,
        &catalogue,
        resident,
        &NewVisit {
            programme: "hypertension".into(),
            visit_code: Some("followup".into()),
            visit_date: today() - Duration::days(10),
            answers: answers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            institution_id: None,
            today: today(),
        },
    )
    .await
    .expect("record visit");
    Written {
        resident,
        enrolment,
        encounter: recorded.encounter_id,
    }
}

#[tokio::test]
async fn care_plans_show_the_enrolment_the_age_programme_the_work_list_and_the_visit() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let w = enrol_and_visit(&app).await;
        let token = token_of(&app, "village.doctor").await;
        let mut api = app.client();

        let reply = fhir_get(
            &mut api,
            &format!("/fhir/CarePlan?patient={}", w.resident),
            &token,
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{backend}: {}", reply.body);
        let bundle = reply.json();
        let enr_id = format!("enr-{}", w.enrolment);
        let age_id = format!("age-{}-elderly-annual", w.resident);
        let found = ids(&bundle);
        assert!(found.contains(&enr_id), "{backend}: {found:?}");
        assert!(found.contains(&age_id), "{backend}: {found:?}");
        assert_eq!(bundle["total"], found.len(), "{backend}");

        let plans = entries(&bundle);
        let hypertension = plans.iter().find(|p| p["id"] == enr_id.as_str()).unwrap();
        assert_eq!(hypertension["status"], "active", "{backend}");
        assert_eq!(hypertension["intent"], "plan");
        assert_eq!(
            hypertension["subject"]["reference"],
            format!("Patient/{}", w.resident)
        );
        assert_eq!(
            hypertension["category"][0]["coding"][0]["system"],
            "urn:yiwei:programme"
        );
        assert_eq!(
            hypertension["category"][0]["coding"][0]["code"],
            "hypertension"
        );
        assert_eq!(hypertension["category"][0]["text"], "高血压患者健康管理");
        assert!(
            hypertension["title"]
                .as_str()
                .unwrap()
                .contains("Hypertension"),
            "{backend}"
        );
        assert_eq!(
            hypertension["period"]["start"],
            (today() - Duration::days(200)).to_string()
        );
        assert!(hypertension["period"].get("end").is_none(), "{backend}");
        let activities = hypertension["activity"].as_array().expect("activities");
        // The visit, completed, pointing at its Encounter.
        let done: Vec<&Value> = activities
            .iter()
            .filter(|a| a["detail"]["status"] == "completed")
            .collect();
        assert_eq!(done.len(), 1, "{backend}: {activities:?}");
        assert_eq!(
            done[0]["outcomeReference"][0]["reference"],
            format!("Encounter/{}", w.encounter)
        );
        assert_eq!(
            done[0]["detail"]["code"]["coding"][0]["code"],
            "hypertension/followup"
        );
        // The next follow-up from the work list, with its window.
        let open: Vec<&Value> = activities
            .iter()
            .filter(|a| a["detail"]["status"] != "completed")
            .collect();
        assert!(!open.is_empty(), "{backend}: {activities:?}");
        for a in &open {
            let status = a["detail"]["status"].as_str().unwrap();
            assert!(
                ["not-started", "cancelled"].contains(&status),
                "{backend}: {status}"
            );
            assert!(a["detail"]["statusReason"]["text"].is_string(), "{backend}");
            let start = a["detail"]["scheduledPeriod"]["start"].as_str().unwrap();
            let end = a["detail"]["scheduledPeriod"]["end"].as_str().unwrap();
            assert!(start <= end, "{backend}: {start} {end}");
            assert!(a.get("outcomeReference").is_none(), "{backend}");
        }

        let elderly = plans.iter().find(|p| p["id"] == age_id.as_str()).unwrap();
        assert_eq!(elderly["status"], "active", "{backend}");
        assert_eq!(
            elderly["category"][0]["coding"][0]["code"],
            "elderly_annual"
        );
        // Born 1958-03-09: 65 on 2023-03-09.
        assert_eq!(elderly["period"]["start"], "2023-03-09", "{backend}");

        // Read back by id, both kinds.
        for id in [&enr_id, &age_id] {
            let read = fhir_get(&mut api, &format!("/fhir/CarePlan/{id}"), &token).await;
            assert_eq!(read.status, StatusCode::OK, "{backend}: {}", read.body);
            let plan = read.json();
            assert_eq!(plan["resourceType"], "CarePlan");
            let listed = plans.iter().find(|p| p["id"] == id.as_str()).unwrap();
            assert_eq!(&plan, listed, "{backend}: read equals the search entry");
        }
        for missing in [
            "enr-999999".to_owned(),
            format!("age-{}-child-health", w.resident),
            "nonsense".to_owned(),
        ] {
            let read = fhir_get(&mut api, &format!("/fhir/CarePlan/{missing}"), &token).await;
            assert_eq!(read.status, StatusCode::NOT_FOUND, "{backend}: {missing}");
            assert_eq!(read.json()["resourceType"], "OperationOutcome");
        }

        // Filters: category, status, date (period overlap).
        let p = w.resident;
        let cases: Vec<(String, Vec<&str>)> = vec![
            (format!("patient={p}&category=hypertension"), vec![&enr_id]),
            (
                format!("patient={p}&category=urn:yiwei:programme|elderly_annual"),
                vec![&age_id],
            ),
            (format!("patient={p}&status=completed"), vec![]),
            (
                format!("patient={p}&date=le{}", today() - Duration::days(300)),
                vec![&age_id],
            ),
            (
                format!("patient={p}&date=ge{}&category=hypertension", today()),
                vec![&enr_id],
            ),
        ];
        for (query, want) in cases {
            let reply = fhir_get(&mut api, &format!("/fhir/CarePlan?{query}"), &token).await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{backend}: {query}: {}",
                reply.body
            );
            let mut got = ids(&reply.json());
            got.retain(|id| id == &enr_id || id == &age_id);
            assert_eq!(got, want, "{backend}: {query}");
        }

        // Strict parameters: 400 with an OperationOutcome that names the way out.
        for query in [
            format!("patient={p}&owner=Practitioner/1"),
            format!("patient={p}&status=running"),
            format!("patient={p}&category=dentistry"),
            "category=hypertension".to_owned(),
        ] {
            let reply = fhir_get(&mut api, &format!("/fhir/CarePlan?{query}"), &token).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{backend}: {query}");
            let outcome = reply.json();
            assert_eq!(outcome["resourceType"], "OperationOutcome");
            assert_eq!(outcome["issue"][0]["code"], "invalid");
        }
    }
}

#[tokio::test]
async fn tasks_list_the_work_list_by_patient_and_by_area_and_read_back_by_id() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let w = enrol_and_visit(&app).await;
        let token = token_of(&app, "village.doctor").await;
        let mut api = app.client();
        let p = w.resident;

        let reply = fhir_get(&mut api, &format!("/fhir/Task?patient={p}"), &token).await;
        assert_eq!(reply.status, StatusCode::OK, "{backend}: {}", reply.body);
        let tasks = entries(&reply.json());
        // Exactly the resident's work-list rows, as stored.
        let stored: Vec<(String, String, NaiveDate, NaiveDate)> =
            yiwei_store::on_pool!(&app.store, |pool| {
                sqlx::query_as(
                    "SELECT programme, visit_code, due_from, due_by FROM programme_due \
                     WHERE resident_id = $1 ORDER BY due_from, programme, visit_code",
                )
                .bind(p)
                .fetch_all(pool)
                .await
                .expect("due rows")
            });
        assert_eq!(tasks.len(), stored.len(), "{backend}: {tasks:?}");
        assert!(
            stored.iter().any(|r| r.0 == "hypertension"),
            "{backend}: {stored:?}"
        );
        for (task, (programme, visit, from, by)) in tasks.iter().zip(&stored) {
            assert_eq!(task["resourceType"], "Task");
            assert_eq!(task["intent"], "plan");
            assert_eq!(task["for"]["reference"], format!("Patient/{p}"));
            assert!(
                ["draft", "ready", "cancelled"].contains(&task["status"].as_str().unwrap()),
                "{backend}: {task}"
            );
            assert_eq!(
                task["code"]["coding"][0]["code"],
                format!("{programme}/{visit}")
            );
            assert_eq!(task["restriction"]["period"]["start"], from.to_string());
            assert_eq!(task["restriction"]["period"]["end"], by.to_string());
            assert!(task.get("executionPeriod").is_none());
            let business = task["businessStatus"]["coding"][0]["code"]
                .as_str()
                .unwrap();
            let expected = match business {
                "upcoming" => "draft",
                "due" | "overdue" => "ready",
                "missed" => "cancelled",
                other => panic!("{backend}: business status {other}"),
            };
            assert_eq!(task["status"], expected, "{backend}");
            let plan = task["basedOn"][0]["reference"].as_str().unwrap();
            if programme == "hypertension" {
                assert_eq!(plan, format!("CarePlan/enr-{}", w.enrolment), "{backend}");
            } else if programme == "elderly_annual" {
                assert_eq!(
                    plan,
                    format!("CarePlan/age-{p}-elderly-annual"),
                    "{backend}"
                );
            }
            // basedOn resolves, and the Task reads back by its id.
            let read = fhir_get(&mut api, &format!("/fhir/{plan}"), &token).await;
            assert_eq!(read.status, StatusCode::OK, "{backend}: {plan}");
            let id = task["id"].as_str().unwrap();
            let read = fhir_get(&mut api, &format!("/fhir/Task/{id}"), &token).await;
            assert_eq!(
                read.status,
                StatusCode::OK,
                "{backend}: {id}: {}",
                read.body
            );
            assert_eq!(&read.json(), task, "{backend}");
        }

        // Filters by programme, status and window.
        let hyper = &stored.iter().find(|r| r.0 == "hypertension").unwrap();
        let by_code = fhir_get(
            &mut api,
            &format!("/fhir/Task?patient={p}&code=hypertension"),
            &token,
        )
        .await
        .json();
        assert!(
            entries(&by_code)
                .iter()
                .all(|t| t["code"]["coding"][0]["code"]
                    .as_str()
                    .unwrap()
                    .starts_with("hypertension/")),
            "{backend}"
        );
        assert_eq!(
            entries(&by_code).len(),
            stored.iter().filter(|r| r.0 == "hypertension").count()
        );
        let before = fhir_get(
            &mut api,
            &format!(
                "/fhir/Task?patient={p}&code=hypertension&period=lt{}",
                hyper.2
            ),
            &token,
        )
        .await
        .json();
        assert!(entries(&before).is_empty(), "{backend}: {before}");
        let none = fhir_get(
            &mut api,
            &format!("/fhir/Task?patient={p}&status=completed"),
            &token,
        )
        .await
        .json();
        assert_eq!(none["total"], 0, "{backend}");

        // Without patient: the work list of the doctor's village (a list read).
        let far = today() + Duration::days(400);
        let list = fhir_get(
            &mut api,
            &format!("/fhir/Task?code=hypertension&period=le{far}"),
            &token,
        )
        .await;
        assert_eq!(list.status, StatusCode::OK, "{backend}: {}", list.body);
        let listed = ids(&list.json());
        let hyper_task = tasks
            .iter()
            .find(|t| t["code"]["coding"][0]["code"] == "hypertension/followup")
            .unwrap();
        assert!(
            listed.contains(&hyper_task["id"].as_str().unwrap().to_owned()),
            "{backend}: {listed:?}"
        );

        // Ids that were never written, and unknown parameters.
        for missing in [
            format!("{p}.hypertension.followup.19990101"),
            "1.2".to_owned(),
        ] {
            let read = fhir_get(&mut api, &format!("/fhir/Task/{missing}"), &token).await;
            assert_eq!(read.status, StatusCode::NOT_FOUND, "{backend}: {missing}");
        }
        for query in [
            format!("patient={p}&owner=Practitioner/1"),
            format!("patient={p}&status=due"),
            format!("patient={p}&period=soon"),
        ] {
            let reply = fhir_get(&mut api, &format!("/fhir/Task?{query}"), &token).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{backend}: {query}");
            assert_eq!(reply.json()["resourceType"], "OperationOutcome");
        }

        // The metadata declares both.
        let metadata = fhir_get(&mut api, "/fhir/metadata", &token).await.json();
        let types: Vec<&str> = metadata["rest"][0]["resource"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["type"].as_str().unwrap())
            .collect();
        assert!(
            types.contains(&"CarePlan") && types.contains(&"Task"),
            "{types:?}"
        );
    }
}

#[tokio::test]
async fn a_visits_blood_pressure_is_an_observation_of_its_encounter() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let w = enrol_and_visit(&app).await;
        let token = token_of(&app, "village.doctor").await;
        let mut api = app.client();
        let id = format!("{}-bp", w.encounter);

        let read = fhir_get(&mut api, &format!("/fhir/Observation/{id}"), &token).await;
        assert_eq!(read.status, StatusCode::OK, "{backend}: {}", read.body);
        let bp = read.json();
        assert_eq!(bp["status"], "final");
        assert_eq!(bp["code"]["coding"][0]["system"], "http://loinc.org");
        assert_eq!(bp["code"]["coding"][0]["code"], "85354-9");
        assert_eq!(bp["component"][0]["code"]["coding"][0]["code"], "8480-6");
        assert_eq!(bp["component"][0]["valueQuantity"]["value"], 150.0);
        assert_eq!(bp["component"][1]["code"]["coding"][0]["code"], "8462-4");
        assert_eq!(bp["component"][1]["valueQuantity"]["value"], 95.0);
        assert_eq!(bp["component"][1]["valueQuantity"]["code"], "mm[Hg]");
        assert!(
            bp.get("bodySite").is_none(),
            "{backend}: the arm is not recorded"
        );
        assert_eq!(
            bp["encounter"]["reference"],
            format!("Encounter/{}", w.encounter)
        );
        assert_eq!(
            bp["subject"]["reference"],
            format!("Patient/{}", w.resident)
        );
        assert_eq!(
            bp["effectiveDateTime"],
            (today() - Duration::days(10)).to_string()
        );
        // Nothing else was measured at this visit.
        let missing = fhir_get(
            &mut api,
            &format!("/fhir/Observation/{}-body-weight", w.encounter),
            &token,
        )
        .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{backend}");

        for query in [
            format!("patient={}&code=http://loinc.org|85354-9", w.resident),
            format!("encounter={}", w.encounter),
        ] {
            let reply = fhir_get(&mut api, &format!("/fhir/Observation?{query}"), &token).await;
            assert_eq!(reply.status, StatusCode::OK, "{backend}: {}", reply.body);
            let bundle = reply.json();
            assert_eq!(ids(&bundle), vec![id.clone()], "{backend}: {query}");
            assert_eq!(entries(&bundle)[0], bp, "{backend}");
        }
        let later = fhir_get(
            &mut api,
            &format!(
                "/fhir/Observation?patient={}&date=ge{}",
                w.resident,
                today()
            ),
            &token,
        )
        .await
        .json();
        assert_eq!(later["total"], 0, "{backend}: {later}");
    }
}

#[tokio::test]
async fn users_outside_reach_are_refused_and_the_refusals_audited() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let w = enrol_and_visit(&app).await;
        let doctor = token_of(&app, "village.doctor").await;
        let mut api = app.client();
        let task_list = entries(
            &fhir_get(
                &mut api,
                &format!("/fhir/Task?patient={}", w.resident),
                &doctor,
            )
            .await
            .json(),
        );
        let task_id = task_list[0]["id"].as_str().unwrap().to_owned();

        let stranger = add_stranger(&app).await;
        let token = token_of(&app, &stranger).await;
        let denied_before: i64 = yiwei_store::on_pool!(&app.store, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'denied'")
                .fetch_one(pool)
                .await
                .expect("count")
        });
        let uris = [
            format!("/fhir/CarePlan?patient={}", w.resident),
            format!("/fhir/CarePlan/enr-{}", w.enrolment),
            format!("/fhir/CarePlan/age-{}-elderly-annual", w.resident),
            format!("/fhir/Task?patient={}", w.resident),
            format!("/fhir/Task/{task_id}"),
            format!("/fhir/Observation/{}-bp", w.encounter),
            format!("/fhir/Observation?patient={}", w.resident),
        ];
        for uri in &uris {
            let reply = fhir_get(&mut api, uri, &token).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{backend}: {uri}");
            let outcome = reply.json();
            assert_eq!(outcome["resourceType"], "OperationOutcome");
            assert_eq!(outcome["issue"][0]["code"], "forbidden");
        }
        let denied_after: i64 = yiwei_store::on_pool!(&app.store, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'denied'")
                .fetch_one(pool)
                .await
                .expect("count")
        });
        assert_eq!(
            denied_after - denied_before,
            uris.len() as i64,
            "{backend}: one audited refusal per request"
        );

        // The stranger's own area holds none of it.
        let own = fhir_get(&mut api, "/fhir/Task", &token).await;
        assert_eq!(own.status, StatusCode::OK, "{backend}: {}", own.body);
        assert_eq!(own.json()["total"], 0, "{backend}");

        // A resident's account may read no work list of an area.
        let resident = token_of(&app, "resident").await;
        let reply = fhir_get(&mut api, "/fhir/Task", &resident).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{backend}: {}",
            reply.body
        );
    }
}
