//! Family-doctor contracts over HTTP: signing through the form with its errors, the one
//! active contract per resident, the resident page's contract panel, the contract page's
//! forms, the team and coverage pages, and FHIR EpisodeOfCare and CareTeam by patient.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, NaiveDate};
use yiwei_domain::contract::{PackageKind, TeamRole, parse_items};
use yiwei_store::contract::{self, NewPackage, NewTeam};
use yiwei_store::user;

use crate::support::{Client, Reply, TestApp, backends};

/// A team of 思恩镇卫生院 (lead `township.doctor`, village doctor `village.doctor`,
/// serving 城西村) and a basic package; returns (team, package).
async fn set_up(app: &TestApp) -> (i64, i64) {
    let lead = user::by_username(&app.store, "township.doctor")
        .await
        .expect("lead");
    let village = user::by_username(&app.store, "village.doctor")
        .await
        .expect("village doctor");
    let admin = user::by_username(&app.store, "admin").await.expect("admin");
    let by = admin.who();
    let team = contract::create_team(
        &app.store,
        &NewTeam {
            institution_id: lead.institution_id.expect("an institution"),
            name: "思恩镇家医一队".into(),
            lead_user_id: Some(lead.id),
        },
        &by,
    )
    .await
    .expect("team");
    contract::add_member(&app.store, team, village.id, TeamRole::VillageDoctor, &by)
        .await
        .expect("member");
    contract::add_village(
        &app.store,
        team,
        &yiwei_domain::division::DivisionCode::parse("451226100201").expect("code"),
        &by,
    )
    .await
    .expect("village");
    let package = contract::create_package(
        &app.store,
        &NewPackage {
            code: "basic".into(),
            name: "基础包".into(),
            name_en: "Basic package".into(),
            kind: PackageKind::Basic,
            price_fen: 0,
            items: parse_items("health_exam 1\nhypertension_followup 4").expect("items"),
        },
        &by,
    )
    .await
    .expect("package");
    (team, package)
}

fn today() -> NaiveDate {
    (chrono::Utc::now() + Duration::hours(8)).date_naive()
}

/// The sign form's fields for the lead of `team`.
fn sign_fields(
    csrf: &str,
    assignment: &str,
    package: &str,
    starts_on: &str,
    ends_on: &str,
) -> Vec<(String, String)> {
    [
        ("csrf", csrf),
        ("assignment", assignment),
        ("package", package),
        ("starts_on", starts_on),
        ("ends_on", ends_on),
        ("on_paper", "1"),
        ("witness", "覃医生"),
        ("signature_drawing", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

async fn post(client: &mut Client, uri: &str, fields: &[(String, String)]) -> Reply {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    client.post_form(uri, &pairs).await
}

#[tokio::test]
async fn signing_through_the_form_shows_errors_and_allows_one_active_contract() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let (team, package) = set_up(&app).await;
        let lead = user::by_username(&app.store, "township.doctor")
            .await
            .expect("lead");
        let resident = app.fixture.home_resident;
        let mut client = app.client();
        client.login("township.doctor").await;

        // The resident page offers signing; the form lists the team's doctors.
        let page = client.get(&format!("/residents/{resident}")).await;
        assert!(page.body.contains("id=\"contract-none\""), "{backend}");
        assert!(page.body.contains("id=\"sign-contract\""), "{backend}");
        let form = client
            .get(&format!("/residents/{resident}/contracts/new"))
            .await;
        assert_eq!(form.status, StatusCode::OK, "{backend}: {}", form.body);
        let assignment = format!("{team}:{}", lead.id);
        assert!(form.body.contains(&assignment), "{backend}");
        assert!(form.body.contains("/static/sign.js"), "{backend}");
        let csrf = form.csrf();
        let uri = format!("/residents/{resident}/contracts/new");
        let start = today();

        // Six months is too short: the error is next to the end date, the input kept.
        let short = (start + Duration::days(182)).to_string();
        let reply = post(
            &mut client,
            &uri,
            &sign_fields(
                &csrf,
                &assignment,
                &package.to_string(),
                &start.to_string(),
                &short,
            ),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{backend}");
        assert!(reply.body.contains("id=\"err-ends-on\""), "{backend}");
        assert!(
            reply.body.contains("不少于12个月"),
            "{backend}: {}",
            reply.body
        );
        assert!(
            reply.body.contains(&format!("value=\"{short}\"")),
            "{backend}"
        );

        // No signature at all: the error is at the signature.
        let mut unsigned = sign_fields(
            &csrf,
            &assignment,
            &package.to_string(),
            &start.to_string(),
            "",
        );
        unsigned.retain(|(k, _)| k != "on_paper");
        let reply = post(&mut client, &uri, &unsigned).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{backend}");
        assert!(reply.body.contains("id=\"err-signature\""), "{backend}");

        // A valid contract of one year.
        let fields = sign_fields(
            &csrf,
            &assignment,
            &package.to_string(),
            &start.to_string(),
            "",
        );
        let signed = post(&mut client, &uri, &fields).await;
        assert_eq!(
            signed.status,
            StatusCode::SEE_OTHER,
            "{backend}: {}",
            signed.body
        );
        assert!(signed.location().starts_with("/contracts/"), "{backend}");
        let contract_page = client.get(signed.location()).await;
        assert_eq!(contract_page.status, StatusCode::OK, "{backend}");
        assert!(contract_page.body.contains("签约已登记"), "{backend}");
        assert!(contract_page.body.contains("思恩镇家医一队"), "{backend}");
        assert!(contract_page.body.contains("覃医生"), "{backend}: witness");
        assert!(
            contract_page.body.contains("id=\"terminate-form\""),
            "{backend}"
        );

        // The resident page shows the contract and its fulfilment.
        let page = client.get(&format!("/residents/{resident}")).await;
        assert!(page.body.contains("id=\"contract-current\""), "{backend}");
        assert!(page.body.contains("思恩镇家医一队"), "{backend}");
        assert!(page.body.contains("健康体检"), "{backend}: package item");
        assert!(page.body.contains("0 / 4"), "{backend}: follow-ups owed");

        // A second contract is refused with a message that says what to do.
        let again = post(&mut client, &uri, &fields).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{backend}");
        assert!(
            again.body.contains("已有生效中的家庭医生签约"),
            "{backend}: {}",
            again.body
        );
        assert!(again.body.contains("id=\"existing-contract\""), "{backend}");
        let n: i64 = app_count(&app, "SELECT COUNT(*) FROM contract").await;
        assert_eq!(n, 1, "{backend}");
    }
}

async fn app_count(app: &TestApp, sql: &'static str) -> i64 {
    match app.store.pool() {
        yiwei_store::Pool::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        yiwei_store::Pool::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    }
    .expect("count")
}

#[tokio::test]
async fn the_contract_page_records_services_and_terminates_with_a_reason() {
    let app = TestApp::new("sqlite").await;
    let (team, package) = set_up(&app).await;
    let lead = user::by_username(&app.store, "township.doctor")
        .await
        .expect("lead");
    let resident = app.fixture.home_resident;
    let mut client = app.client();
    client.login("township.doctor").await;
    let csrf = client.get("/teams").await.csrf();
    let start = today() - Duration::days(30);
    let signed = post(
        &mut client,
        &format!("/residents/{resident}/contracts/new"),
        &sign_fields(
            &csrf,
            &format!("{team}:{}", lead.id),
            &package.to_string(),
            &start.to_string(),
            "",
        ),
    )
    .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let contract_uri = signed
        .location()
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();

    // Renewal is not open a year before the end.
    let page = client.get(&contract_uri).await;
    assert!(page.body.contains("id=\"renew-opens\""), "{}", page.body);

    let recorded = client
        .post_form(
            &format!("{contract_uri}/services"),
            &[
                ("csrf", &csrf),
                ("item", "health_exam"),
                ("delivered_on", &today().to_string()),
                ("encounter", ""),
            ],
        )
        .await;
    assert_eq!(recorded.status, StatusCode::SEE_OTHER, "{}", recorded.body);
    let page = client.get(recorded.location()).await;
    assert!(page.body.contains("服务已登记"));
    assert!(page.body.contains("id=\"service-list\""));

    let version = "1";
    let short = client
        .post_form(
            &format!("{contract_uri}/terminate"),
            &[
                ("csrf", &csrf),
                ("version", version),
                ("on", &today().to_string()),
                ("reason", "走"),
            ],
        )
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert!(
        short.body.contains("id=\"err-terminate\""),
        "{}",
        short.body
    );
    let done = client
        .post_form(
            &format!("{contract_uri}/terminate"),
            &[
                ("csrf", &csrf),
                ("version", version),
                ("on", &today().to_string()),
                ("reason", "居民迁出本县"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let page = client.get(done.location()).await;
    assert!(page.body.contains("已解约"));
    assert!(page.body.contains("居民迁出本县"));
    assert!(!page.body.contains("id=\"terminate-form\""));

    // The team page lists the contract; the coverage page counts it until today.
    let team_page = client.get(&format!("/teams/{team}")).await;
    assert_eq!(team_page.status, StatusCode::OK);
    assert!(team_page.body.contains("id=\"team-contracts\""));
    assert!(team_page.body.contains("韦秀英"));
    let coverage = client.get("/contracts/coverage").await;
    assert_eq!(coverage.status, StatusCode::OK, "{}", coverage.body);
    assert!(coverage.body.contains("id=\"coverage-groups\""));
    assert!(coverage.body.contains("65岁及以上老年人"));
    let tomorrow = client
        .get(&format!(
            "/contracts/coverage?division=451226100&on={}",
            today() + Duration::days(1)
        ))
        .await;
    assert!(
        tomorrow
            .body
            .contains("<span class=\"figure\" id=\"c-signed\">0</span>"),
        "{}",
        tomorrow.body
    );

    // The nav links the work; the script is served from our origin.
    assert!(coverage.body.contains("href=\"/teams\""));
    let script = client.get("/static/sign.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(
        script
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/javascript"))
    );
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

#[tokio::test]
async fn fhir_serves_episode_of_care_and_care_team_by_patient() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let (team, package) = set_up(&app).await;
        let lead = user::by_username(&app.store, "township.doctor")
            .await
            .expect("lead");
        let resident = app.fixture.home_resident;
        let viewer = yiwei_store::access::Viewer {
            user: &lead,
            remote_addr: None,
        };
        let id = yiwei_store::access::sign_contract(
            &app.store,
            &viewer,
            &contract::NewContract {
                resident_id: resident,
                team_id: team,
                doctor_id: lead.id,
                package_id: package,
                starts_on: today(),
                ends_on: None,
                signature: contract::Signature {
                    on_paper: true,
                    witness: "覃医生".into(),
                    drawing: None,
                },
            },
            &yiwei_domain::contract::PeriodRules::default(),
        )
        .await
        .expect("sign");
        let token = token_of(&app, "township.doctor").await;
        let mut api = app.client();

        let found = fhir_get(
            &mut api,
            &format!("/fhir/EpisodeOfCare?patient=Patient/{resident}"),
            &token,
        )
        .await;
        assert_eq!(found.status, StatusCode::OK, "{backend}: {}", found.body);
        let bundle = found.json();
        assert_eq!(bundle["total"], 1, "{backend}");
        let episode = &bundle["entry"][0]["resource"];
        assert_eq!(episode["resourceType"], "EpisodeOfCare");
        assert_eq!(episode["id"], id.to_string());
        assert_eq!(episode["status"], "active");
        assert_eq!(
            episode["patient"]["reference"],
            format!("Patient/{resident}")
        );
        assert_eq!(
            episode["careManager"]["reference"],
            format!("Practitioner/{}", lead.id)
        );
        assert_eq!(episode["team"][0]["reference"], format!("CareTeam/{team}"));
        assert_eq!(episode["type"][0]["text"], "家庭医生签约服务");
        assert_eq!(episode["period"]["start"], today().to_string());
        let finished = fhir_get(
            &mut api,
            &format!("/fhir/EpisodeOfCare?subject={resident}&status=finished"),
            &token,
        )
        .await;
        assert_eq!(finished.json()["total"], 0, "{backend}");
        let read = fhir_get(&mut api, &format!("/fhir/EpisodeOfCare/{id}"), &token).await;
        assert_eq!(read.status, StatusCode::OK, "{backend}");
        assert_eq!(read.json()["id"], id.to_string());
        let no_patient = fhir_get(&mut api, "/fhir/EpisodeOfCare?status=active", &token).await;
        assert_eq!(no_patient.status, StatusCode::BAD_REQUEST, "{backend}");
        assert_eq!(no_patient.json()["resourceType"], "OperationOutcome");

        let teams = fhir_get(
            &mut api,
            &format!("/fhir/CareTeam?patient={resident}"),
            &token,
        )
        .await;
        assert_eq!(teams.status, StatusCode::OK, "{backend}: {}", teams.body);
        let bundle = teams.json();
        assert_eq!(bundle["total"], 1, "{backend}");
        let care_team = &bundle["entry"][0]["resource"];
        assert_eq!(care_team["resourceType"], "CareTeam");
        assert_eq!(care_team["id"], team.to_string());
        assert_eq!(care_team["status"], "active");
        assert_eq!(care_team["category"][0]["coding"][0]["code"], "LA28865-6");
        let participants = care_team["participant"].as_array().expect("participants");
        assert_eq!(participants.len(), 2, "{backend}");
        assert_eq!(
            participants[0]["member"]["reference"],
            format!("Practitioner/{}", lead.id)
        );
        assert_eq!(participants[0]["role"][0]["coding"][0]["code"], "lead");
        assert!(
            care_team["managingOrganization"][0]["reference"]
                .as_str()
                .is_some_and(|r| r.starts_with("Organization/"))
        );
        let read = fhir_get(&mut api, &format!("/fhir/CareTeam/{team}"), &token).await;
        assert_eq!(read.status, StatusCode::OK, "{backend}");

        // Outside the user's reach the search is refused, like Patient.
        let village_token = token_of(&app, "village.doctor").await;
        let refused = fhir_get(
            &mut api,
            &format!(
                "/fhir/EpisodeOfCare?patient={}",
                app.fixture.other_township_resident
            ),
            &village_token,
        )
        .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{backend}");

        let metadata = fhir_get(&mut api, "/fhir/metadata", &token).await;
        let types: Vec<String> = metadata.json()["rest"][0]["resource"]
            .as_array()
            .expect("resources")
            .iter()
            .filter_map(|r| r["type"].as_str().map(str::to_owned))
            .collect();
        assert!(
            types.contains(&"CareTeam".to_owned()) && types.contains(&"EpisodeOfCare".to_owned()),
            "{types:?}"
        );
    }
}
