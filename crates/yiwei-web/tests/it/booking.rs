//! Booking and referral over HTTP (issue 7): the bad input of the issue — a past or full
//! slot, cancelling someone else's booking, a referral outside the medical community,
//! accepting a declined referral — each a clear refusal that changes nothing; and the
//! FHIR Slot, Appointment, ServiceRequest and Task endpoints.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Duration;
use yiwei_domain::booking::{ScheduleRules, ServiceKind, Session};
use yiwei_domain::org::InstitutionKind;
use yiwei_store::booking::{self, NewSchedule, SlotFilter, When};
use yiwei_store::{Store, org, user};

use crate::support::{TestApp, backends};

/// A schedule of the county hospital with 30-minute slots of 2 all day every day; returns
/// (schedule, a slot starting in about two days).
async fn hospital_schedule(store: &Store) -> (i64, i64) {
    let doctor = user::by_username(store, "county.doctor")
        .await
        .expect("doctor");
    let sessions = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| Session::parse(&format!("{d} 00:00-23:30 30x2")).expect("session"))
        .collect();
    let id = booking::create_schedule(
        store,
        &NewSchedule {
            institution_id: doctor.institution_id.expect("institution"),
            department: "内科".into(),
            doctor_id: None,
            service: ServiceKind::Outpatient,
            name: "内科门诊".into(),
            rules: ScheduleRules {
                sessions,
                ..ScheduleRules::default()
            },
        },
        None,
    )
    .await
    .expect("schedule");
    let now = When::now(8);
    booking::open_slots(store, id, now.today(), now.today() + Duration::days(7), now)
        .await
        .expect("slots");
    let (slots, _) = booking::slots(
        store,
        &SlotFilter {
            schedule_id: Some(id),
            start_from: Some(now.now + Duration::days(2)),
            ..Default::default()
        },
        1,
        0,
    )
    .await
    .expect("slots");
    (id, slots[0].id)
}

/// A FHIR request with a bearer token of `username` (no cookies, so no CSRF).
async fn fhir(app: &TestApp, username: &str, request: Request<Body>) -> crate::support::Reply {
    let u = user::by_username(&app.store, username).await.expect("user");
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

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

async fn count(store: &Store, sql: &str) -> i64 {
    let sql = sql.to_owned();
    yiwei_store::on_pool!(store, |pool| sqlx::query_scalar::<_, i64>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .fetch_one(pool)
    .await)
    .expect(sql.as_str())
}

#[tokio::test]
async fn a_full_slot_is_refused_with_409_and_nothing_changes() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let (_, slot) = hospital_schedule(&app.store).await;
        let mut desk = app.client();
        desk.login("county.doctor").await;
        let page = desk.get(&format!("/booking/slots/{slot}")).await;
        assert_eq!(page.status, StatusCode::OK, "{backend}");
        let csrf = page.csrf();
        let f = &app.fixture;
        for resident in [f.home_resident, f.other_township_resident] {
            let r = desk
                .post_form(
                    &format!("/booking/slots/{slot}/book"),
                    &[
                        ("csrf", &csrf),
                        ("resident", &resident.to_string()),
                        ("action", "book"),
                    ],
                )
                .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{backend}: {}", r.body);
        }
        let before = count(&app.store, "SELECT COUNT(*) FROM booking").await;
        let r = desk
            .post_form(
                &format!("/booking/slots/{slot}/book"),
                &[
                    ("csrf", &csrf),
                    ("resident", &f.own_resident.to_string()),
                    ("action", "book"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{backend}");
        assert!(
            r.body.contains("号源已满") && r.body.contains("this slot is full"),
            "{}",
            r.body
        );
        assert_eq!(
            count(&app.store, "SELECT COUNT(*) FROM booking").await,
            before
        );
        // The waitlist takes them instead.
        let r = desk
            .post_form(
                &format!("/booking/slots/{slot}/book"),
                &[
                    ("csrf", &csrf),
                    ("resident", &f.own_resident.to_string()),
                    ("action", "waitlist"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{backend}: {}", r.body);
        // Without the CSRF token: refused.
        let r = desk
            .post_form(
                &format!("/booking/slots/{slot}/book"),
                &[("resident", &f.own_resident.to_string())],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // FHIR: the same slot through Appointment create is a 409 OperationOutcome.
        let body = serde_json::json!({
            "resourceType": "Appointment",
            "status": "booked",
            "slot": [{"reference": format!("Slot/{slot}")}],
            "participant": [{"actor": {"reference": format!("Patient/{}", f.own_resident)}, "status": "accepted"}]
        });
        let r = fhir(
            &app,
            "county.doctor",
            Request::post("/fhir/Appointment")
                .header("content-type", "application/fhir+json")
                .body(Body::from(body.to_string()))
                .expect("request"),
        )
        .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        assert_eq!(r.json()["resourceType"], "OperationOutcome");
        let slots = fhir(
            &app,
            "county.doctor",
            get(&format!("/fhir/Slot?_id={slot}")),
        )
        .await;
        assert_eq!(
            slots.status,
            StatusCode::BAD_REQUEST,
            "strict search parameters"
        );
        let slots = fhir(
            &app,
            "county.doctor",
            get("/fhir/Slot?schedule=Schedule/1&status=busy"),
        )
        .await;
        assert_eq!(slots.status, StatusCode::OK);
        assert_eq!(slots.json()["total"], 1);
    }
}

#[tokio::test]
async fn a_past_slot_is_refused_and_nothing_changes() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let (schedule, _) = hospital_schedule(&app.store).await;
        // Slots made three days ago, for that day: in the past now.
        let then = When {
            now: chrono::Utc::now() - Duration::days(3),
            offset_hours: 8,
        };
        booking::open_slots(&app.store, schedule, then.today(), then.today(), then)
            .await
            .expect("past slots");
        let (past, _) = booking::slots(
            &app.store,
            &SlotFilter {
                schedule_id: Some(schedule),
                start_before: Some(chrono::Utc::now() - Duration::days(1)),
                ..Default::default()
            },
            1,
            0,
        )
        .await
        .expect("slots");
        let slot = past[0].id;
        let mut desk = app.client();
        desk.login("county.doctor").await;
        let csrf = desk.get("/booking").await.csrf();
        let r = desk
            .post_form(
                &format!("/booking/slots/{slot}/book"),
                &[
                    ("csrf", &csrf),
                    ("resident", &app.fixture.home_resident.to_string()),
                    ("action", "book"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}");
        assert!(
            r.body.contains("时间已过") && r.body.contains("in the past"),
            "{}",
            r.body
        );
        assert_eq!(count(&app.store, "SELECT COUNT(*) FROM booking").await, 0);
    }
}

#[tokio::test]
async fn a_resident_cannot_cancel_someone_elses_booking() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let (_, slot) = hospital_schedule(&app.store).await;
        let mut desk = app.client();
        desk.login("county.doctor").await;
        let csrf = desk.get("/booking").await.csrf();
        desk.post_form(
            &format!("/booking/slots/{slot}/book"),
            &[
                ("csrf", &csrf),
                ("resident", &app.fixture.home_resident.to_string()),
                ("action", "book"),
            ],
        )
        .await;
        let theirs = count(&app.store, "SELECT MAX(id) FROM booking").await;
        let mut resident = app.client();
        resident.login("resident").await;
        let page = resident.get("/me/bookings").await;
        assert_eq!(page.status, StatusCode::OK);
        let csrf = page.csrf();
        let r = resident
            .post_form(
                &format!("/booking/bookings/{theirs}"),
                &[("csrf", &csrf), ("action", "cancel")],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{backend}: {}", r.body);
        assert_eq!(
            count(
                &app.store,
                "SELECT COUNT(*) FROM booking WHERE status = 'booked'"
            )
            .await,
            1
        );
        // Their own booking, from the phone page: booked and cancelled.
        let r = resident
            .post_form(
                &format!("/booking/slots/{slot}/book"),
                &[("csrf", &csrf), ("action", "book")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let own = count(&app.store, "SELECT MAX(id) FROM booking").await;
        let r = resident
            .post_form(
                &format!("/booking/bookings/{own}"),
                &[("csrf", &csrf), ("action", "cancel")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(
            count(
                &app.store,
                "SELECT COUNT(*) FROM booking WHERE status = 'cancelled'"
            )
            .await,
            1
        );
    }
}

#[tokio::test]
async fn a_referral_outside_the_medical_community_is_refused() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let other = org::add_community(
            &app.store,
            "邻县医共体",
            "",
            &yiwei_domain::division::DivisionCode::parse("451226").expect("code"),
        )
        .await
        .expect("community");
        let outside = org::add(
            &app.store,
            &org::NewInstitution {
                code: "H900".into(),
                name: "邻县人民医院".into(),
                name_en: String::new(),
                kind: InstitutionKind::CountyHospital,
                division: yiwei_domain::division::DivisionCode::parse("451226").expect("code"),
                community_id: Some(other),
                is_lead: true,
            },
        )
        .await
        .expect("institution");
        let mut doctor = app.client();
        doctor.login("township.doctor").await;
        let form = doctor
            .get(&format!(
                "/referrals/new?resident={}",
                app.fixture.home_resident
            ))
            .await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(
            !form.body.contains("邻县人民医院"),
            "only the community is offered"
        );
        let csrf = form.csrf();
        let r = doctor
            .post_form(
                "/referrals",
                &[
                    ("csrf", &csrf),
                    ("resident", &app.fixture.home_resident.to_string()),
                    ("to", &outside.to_string()),
                    ("urgency", "urgent"),
                    ("reason", "beyond_capability"),
                    ("summary", "胸痛待查，需要上级医院评估"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}");
        assert!(
            r.body.contains("不在本医共体内") && r.body.contains("outside your medical community")
        );
        assert_eq!(count(&app.store, "SELECT COUNT(*) FROM referral").await, 0);
    }
}

#[tokio::test]
async fn accepting_a_declined_referral_is_refused_and_changes_nothing() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let hospital = user::by_username(&app.store, "county.doctor")
            .await
            .expect("doctor")
            .institution_id
            .expect("institution");
        let mut sender = app.client();
        sender.login("township.doctor").await;
        let csrf = sender.get("/referrals/new").await.csrf();
        let r = sender
            .post_form(
                "/referrals",
                &[
                    ("csrf", &csrf),
                    ("resident", &app.fixture.home_resident.to_string()),
                    ("to", &hospital.to_string()),
                    ("urgency", "routine"),
                    ("reason", "needs_examination"),
                    ("summary", "需要做增强 CT"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{backend}: {}", r.body);
        let id = count(&app.store, "SELECT MAX(id) FROM referral").await;
        let mut receiver = app.client();
        receiver.login("county.doctor").await;
        let queue = receiver.get("/referrals?box=in").await;
        assert!(queue.body.contains(&format!("/referrals/{id}")));
        // The tie lets the receiving clinician open the record while the referral runs.
        let record = fhir(
            &app,
            "county.doctor",
            get(&format!(
                "/fhir/ServiceRequest?patient={}",
                app.fixture.home_resident
            )),
        )
        .await;
        assert_eq!(record.status, StatusCode::OK);
        assert_eq!(record.json()["total"], 1);
        let tasks = fhir(
            &app,
            "county.doctor",
            get(&format!("/fhir/Task?owner=Organization/{hospital}")),
        )
        .await;
        assert_eq!(tasks.json()["entry"][0]["resource"]["status"], "requested");
        let csrf = receiver.get(&format!("/referrals/{id}")).await.csrf();
        let r = receiver
            .post_form(
                &format!("/referrals/{id}/move"),
                &[
                    ("csrf", &csrf),
                    ("event", "decline"),
                    ("note", "设备检修，建议改日"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let version = count(&app.store, "SELECT version FROM referral").await;
        let events = count(&app.store, "SELECT COUNT(*) FROM referral_event").await;
        let r = receiver
            .post_form(
                &format!("/referrals/{id}/move"),
                &[("csrf", &csrf), ("event", "accept")],
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{backend}");
        assert!(
            r.body.contains("已拒绝") && r.body.contains("cannot be accepted"),
            "{}",
            r.body
        );
        assert_eq!(
            count(&app.store, "SELECT version FROM referral").await,
            version
        );
        assert_eq!(
            count(&app.store, "SELECT COUNT(*) FROM referral_event").await,
            events
        );
        // The sender cannot accept on the receiver's behalf either.
        let r = sender
            .post_form(
                &format!("/referrals/{id}/move"),
                &[("csrf", &csrf), ("event", "accept")],
            )
            .await;
        assert!(r.status.is_client_error());
    }
}

#[tokio::test]
async fn a_fhir_appointment_is_booked_and_answered_with_the_booking_made() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let (_, slot) = hospital_schedule(&app.store).await;
        let f = &app.fixture;
        let body = serde_json::json!({
            "resourceType": "Appointment",
            "status": "booked",
            "slot": [{"reference": format!("Slot/{slot}")}],
            "participant": [{"actor": {"reference": format!("Patient/{}", f.home_resident)}, "status": "accepted"}]
        });
        let reads = count(
            &app.store,
            "SELECT COUNT(*) FROM audit_log WHERE object_type = 'booking' AND action = 'read'",
        )
        .await;
        let r = fhir(
            &app,
            "county.doctor",
            Request::post("/fhir/Appointment")
                .header("content-type", "application/fhir+json")
                .body(Body::from(body.to_string()))
                .expect("request"),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{backend}: {}", r.body);
        let a = r.json();
        assert_eq!(a["resourceType"], "Appointment");
        assert_eq!(a["status"], "booked");
        assert_eq!(a["slot"][0]["reference"], format!("Slot/{slot}"));
        let id = a["id"].as_str().expect("id").to_owned();
        assert_eq!(
            count(
                &app.store,
                &format!(
                    "SELECT COUNT(*) FROM audit_log WHERE object_type = 'booking' \
                     AND object_id = '{id}' AND action = 'create'"
                ),
            )
            .await,
            1,
            "{backend}: the booking's create row"
        );
        assert_eq!(
            count(
                &app.store,
                "SELECT COUNT(*) FROM audit_log WHERE object_type = 'booking' AND action = 'read'",
            )
            .await,
            reads,
            "{backend}: answering with the booking made is no second read"
        );
        let again = fhir(
            &app,
            "county.doctor",
            get(&format!("/fhir/Appointment/{id}")),
        )
        .await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.json()["id"], id.as_str());
    }
}
