//! In-process HTTP tests, each run on every configured backend.

use axum::http::StatusCode;
use chrono::Duration;
use yiwei_store::audit::{self, Filter};

use crate::support::{PASSWORD, TestApp, backends};

#[tokio::test]
async fn each_role_logs_in_and_sees_its_home_page() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        for (username, role) in [
            ("admin", "county_admin"),
            ("analyst", "analyst"),
            ("township.doctor", "clinician"),
            ("village.doctor", "village_doctor"),
            ("resident", "resident"),
        ] {
            let mut client = app.client();
            client.login(username).await;
            let home = client.get("/").await;
            assert_eq!(home.status, StatusCode::OK, "{backend} {username}");
            assert!(
                home.body.contains(&format!("data-role=\"{role}\"")),
                "{backend} {username}"
            );
            assert!(home.body.contains("工作台"), "Chinese by default");
        }
    }
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_401_and_audited() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let mut client = app.client();
        let csrf = client.get("/login").await.csrf();
        let reply = client
            .post_form(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("username", "village.doctor"),
                    ("password", "wrong-password"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(reply.body.contains("用户名或密码错误"));
        let failed = audit::list(
            &app.store,
            &Filter {
                action: Some("login_failed".into()),
                ..Filter::default()
            },
            10,
            0,
        )
        .await
        .expect("audit");
        assert_eq!(failed.len(), 1, "{backend}");
    }
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_even_for_the_right_one() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let mut client = app.client();
        let csrf = client.get("/login").await.csrf();
        for _ in 0..5 {
            client
                .post_form(
                    "/login",
                    &[
                        ("csrf", &csrf),
                        ("username", "analyst"),
                        ("password", "nope-nope"),
                    ],
                )
                .await;
        }
        let reply = client
            .post_form(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("username", "analyst"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{backend}");
        assert!(reply.body.contains("已锁定"), "{backend}");
    }
}

#[tokio::test]
async fn a_forged_csrf_token_is_refused_and_changes_nothing() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let mut client = app.client();
        client.get("/login").await;
        let reply = client
            .post_form(
                "/login",
                &[
                    ("csrf", "forged"),
                    ("username", "admin"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert!(reply.body.contains("表单已失效"));
        // Logged in, a forged token on a change is refused and the user stays enabled.
        client.login("admin").await;
        let reply = client
            .post_form("/admin/users/2/disable", &[("csrf", "forged")])
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{backend}");
        let analyst = yiwei_store::user::by_username(&app.store, "analyst")
            .await
            .expect("user");
        assert!(!analyst.disabled);
    }
}

#[tokio::test]
async fn an_expired_session_goes_back_to_login_with_a_message() {
    for backend in backends() {
        let app = TestApp::with_idle(backend, Duration::seconds(-1)).await;
        let mut client = app.client();
        client.login("village.doctor").await;
        let reply = client.get("/").await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{backend}");
        assert_eq!(reply.location(), "/login?expired=1");
        let login = client.get(reply.location()).await;
        assert!(login.body.contains("会话已过期"));
    }
}

#[tokio::test]
async fn another_townships_record_is_refused_offers_break_glass_and_is_audited() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let mut client = app.client();
        client.login("township.doctor").await;
        let own = client
            .get(&format!("/residents/{}", app.fixture.home_resident))
            .await;
        assert_eq!(own.status, StatusCode::OK, "{backend}");
        assert!(own.body.contains("451226********002X"), "masked ID card");
        assert!(
            !own.body.contains("45122619580309002X"),
            "never the full number unasked"
        );
        let other = client
            .get(&format!(
                "/residents/{}",
                app.fixture.other_township_resident
            ))
            .await;
        assert_eq!(other.status, StatusCode::FORBIDDEN, "{backend}");
        assert!(other.body.contains("break-glass-reason"));
        let denied = audit::for_resident(&app.store, app.fixture.other_township_resident, 10, 0)
            .await
            .expect("audit");
        assert!(
            denied.iter().any(|e| e.event.outcome == "denied"),
            "{backend}"
        );
        // With a reason, break-glass opens it and says so.
        let csrf = other.csrf();
        let reply = client
            .post_form(
                &format!(
                    "/residents/{}/break-glass",
                    app.fixture.other_township_resident
                ),
                &[("csrf", &csrf), ("reason", "急诊抢救，患者昏迷")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let opened = client
            .get(&format!(
                "/residents/{}",
                app.fixture.other_township_resident
            ))
            .await;
        assert_eq!(opened.status, StatusCode::OK);
        assert!(opened.body.contains("紧急授权"));
    }
}

#[tokio::test]
async fn a_village_doctor_reveals_a_number_and_the_resident_sees_who_looked() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let mut doctor = app.client();
        doctor.login("village.doctor").await;
        let page = doctor
            .get(&format!("/residents/{}", app.fixture.own_resident))
            .await;
        let revealed = doctor
            .post_form(
                &format!("/residents/{}/reveal", app.fixture.own_resident),
                &[("csrf", &page.csrf())],
            )
            .await;
        assert_eq!(revealed.status, StatusCode::OK);
        assert!(revealed.body.contains("451226195803090089"), "{backend}");
        let mut resident = app.client();
        resident.login("resident").await;
        let me = resident.get("/me").await;
        assert_eq!(me.status, StatusCode::OK);
        assert!(
            me.body.contains("village.doctor"),
            "{backend}: the resident sees who opened the record"
        );
        let not_mine = resident
            .get(&format!("/residents/{}", app.fixture.home_resident))
            .await;
        assert_eq!(not_mine.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn an_analyst_sees_aggregates_but_no_resident_list() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let mut client = app.client();
        client.login("analyst").await;
        let division = client.get("/divisions/451226").await;
        assert_eq!(division.status, StatusCode::OK);
        let list = client.get("/residents?division=451226").await;
        assert_eq!(list.status, StatusCode::FORBIDDEN, "{backend}");
        let mut village = app.client();
        village.login("village.doctor").await;
        assert_eq!(
            village.get("/divisions/451226101").await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            village.get("/admin/users").await.status,
            StatusCode::FORBIDDEN
        );
    }
}

#[tokio::test]
async fn the_language_switch_turns_pages_english_and_back() {
    let app = TestApp::new("sqlite").await;
    let mut client = app.client();
    client.login("admin").await;
    let reply = client.get("/lang/en?back=/orgs").await;
    assert_eq!(reply.location(), "/orgs");
    let page = client.get("/orgs").await;
    assert!(page.body.contains("Institutions"));
    assert!(page.body.contains("lang=\"en\""));
    let reply = client.get("/lang/zh?back=//evil.example").await;
    assert_eq!(reply.location(), "/", "no open redirect");
    assert!(client.get("/orgs").await.body.contains("医疗机构"));
}

#[tokio::test]
async fn error_pages_speak_the_visitors_language() {
    let app = TestApp::new("sqlite").await;
    let mut client = app.client();
    client.login("admin").await;
    let zh = client.get("/no/such/page").await;
    assert_eq!(zh.status, StatusCode::NOT_FOUND);
    assert!(zh.body.contains("找不到"));
    client.set_cookie("lang", "en");
    let en = client.get("/no/such/page").await;
    assert!(en.body.contains("not found"));
    let bad = client.get("/divisions/12x").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let app = TestApp::new("sqlite").await;
    let reply = app.client().get("/login").await;
    for name in [
        "content-security-policy",
        "x-frame-options",
        "x-content-type-options",
        "referrer-policy",
    ] {
        assert!(reply.headers.contains_key(name), "{name}");
    }
    let cookie = reply
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
}

#[tokio::test]
async fn fhir_metadata_search_and_read_work_and_bad_searches_get_operation_outcomes() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let mut client = app.client();
        let metadata = client.get("/fhir/metadata").await;
        assert_eq!(metadata.status, StatusCode::OK);
        assert_eq!(metadata.json()["resourceType"], "CapabilityStatement");
        assert_eq!(metadata.headers["content-type"], "application/fhir+json");
        let anonymous = client.get("/fhir/Organization").await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
        assert_eq!(anonymous.json()["resourceType"], "OperationOutcome");
        client.login("analyst").await;
        let bundle = client
            .get("/fhir/Organization?type=township_health_centre")
            .await;
        assert_eq!(bundle.status, StatusCode::OK, "{backend}: {}", bundle.body);
        let json = bundle.json();
        assert_eq!(json["total"], 1);
        assert_eq!(json["entry"][0]["resource"]["name"], "思恩镇卫生院");
        assert_eq!(
            json["entry"][0]["resource"]["partOf"]["reference"]
                .as_str()
                .map(|s| s.starts_with("Organization/mc-")),
            Some(true)
        );
        let location = client.get("/fhir/Location/451226100").await;
        assert_eq!(location.json()["partOf"]["reference"], "Location/451226");
        let children = client
            .get("/fhir/Location?partof=Location/451226100")
            .await
            .json();
        assert_eq!(children["total"], 2);
        for bad in [
            "/fhir/Organization?_count=abc",
            "/fhir/Organization?colour=red",
            "/fhir/Location?partof=12x",
            "/fhir/Organization?type=castle",
        ] {
            let reply = client.get(bad).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(reply.json()["resourceType"], "OperationOutcome", "{bad}");
        }
        assert_eq!(
            client.get("/fhir/Organization/999999").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            client.get("/fhir/Patient").await.json()["resourceType"],
            "OperationOutcome"
        );
    }
}

#[tokio::test]
async fn bearer_tokens_reach_the_api_with_the_users_role() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let user = yiwei_store::user::by_username(&app.store, "village.doctor")
            .await
            .expect("user");
        let token = yiwei_store::session::create_api_token(&app.store, user.id, "test", None)
            .await
            .expect("token");
        let mut client = app.client();
        let request = |uri: &str, token: &str| {
            axum::http::Request::get(uri)
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .expect("request")
        };
        let me = client.send(request("/api/v1/me", &token)).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.json()["role"], "village_doctor");
        let refused = client
            .send(request("/api/v1/divisions/451226101", &token))
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{backend}");
        let fake = client.send(request("/api/v1/me", "yw_fake")).await;
        assert_eq!(fake.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn health_metrics_and_openapi_answer() {
    let app = TestApp::new("sqlite").await;
    let mut client = app.client();
    let health = client.get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["status"], "ok");
    let openapi = client.get("/openapi.json").await.json();
    assert!(openapi["paths"]["/api/v1/me"].is_object());
    let metrics = client.get("/metrics").await;
    assert!(metrics.body.contains("yiwei_http_requests_total"));
}
