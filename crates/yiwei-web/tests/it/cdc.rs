//! The CDC's read side over HTTP: FHIR Condition (case reports) and DetectedIssue (warning
//! signals) with their searches, refusals and 400s; the case-statistics page's figures for
//! a small known set of cards; the reporting-timeliness page.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, NaiveDate, Utc};
use serde_json::Value;
use yiwei_domain::access::Role;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::notifiable::ReviewAction;
use yiwei_domain::notifiable::card::{Belongs, Card, CardKind};
use yiwei_domain::notifiable::disease::CaseClass;
use yiwei_store::access::{self, Viewer};
use yiwei_store::audit::Who;
use yiwei_store::notifiable::{self, NewSignal};
use yiwei_store::user::{self, NewUser};

use crate::support::{Client, PASSWORD, Reply, TestApp, backends};

fn code(s: &str) -> DivisionCode {
    DivisionCode::parse(s).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn card(disease: &str, diagnosed: chrono::NaiveDateTime, village: &str) -> Card {
    let on = diagnosed.date();
    Card {
        kind: CardKind::Initial,
        patient_name: "韦秀英".into(),
        guardian_name: String::new(),
        sex: "female".into(),
        birth_date: day(1958, 3, 9),
        work_unit: String::new(),
        phone: "13812345678".into(),
        belongs: Belongs::parse("county").unwrap(),
        address_code: village.into(),
        address_detail: "三组".into(),
        occupation: "farmer".into(),
        disease: disease.into(),
        subtype: None,
        case_class: CaseClass::Clinical,
        course: None,
        onset_date: on - Duration::days(1),
        diagnosed_at: diagnosed,
        death_date: None,
        fill_date: on,
        doctor: "覃医生".into(),
        remarks: String::new(),
    }
}

async fn report(app: &TestApp, username: &str, resident: i64, c: &Card) -> i64 {
    let u = user::by_username(&app.store, username).await.unwrap();
    let viewer = Viewer {
        user: &u,
        remote_addr: None,
    };
    access::report_case(
        &app.store,
        &viewer,
        &notifiable::Settings::new(code("451226")),
        resident,
        c,
    )
    .await
    .expect("card written")
    .id
}

async fn add_cdc(app: &TestApp) {
    let by = Who {
        username: Some("test".into()),
        ..Who::default()
    };
    user::add(
        &app.store,
        &NewUser {
            username: "cdc".into(),
            display_name: "疾控测试".into(),
            role: Role::CdcStaff,
            institution_id: None,
            reach: code("451226"),
            resident_id: None,
            password: PASSWORD.into(),
            phone: None,
        },
        &by,
    )
    .await
    .expect("cdc user");
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

fn ids(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|x| x["resource"]["id"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Six cards in March–April 2026: influenza ×4 and HFMD ×1 that count (one influenza a
/// probable duplicate), and one influenza deleted as a duplicate. Township 思恩镇
/// (451226100): 4; 水源镇 (451226101): 1 (+1 deleted). Returns the card ids in order.
async fn known_cases(app: &TestApp) -> Vec<i64> {
    let f = &app.fixture;
    let at = |y, m, d| day(y, m, d).and_hms_opt(10, 0, 0).unwrap();
    let mut out = Vec::new();
    for (resident, disease, when, village) in [
        (f.home_resident, "influenza", at(2026, 3, 3), "451226100201"),
        (f.home_resident, "influenza", at(2026, 3, 5), "451226100201"),
        (f.own_resident, "hfmd", at(2026, 3, 4), "451226100201"),
        (f.own_resident, "influenza", at(2026, 3, 10), "451226100201"),
        (
            f.other_township_resident,
            "influenza",
            at(2026, 4, 2),
            "451226101201",
        ),
        (
            f.other_township_resident,
            "influenza",
            at(2026, 3, 20),
            "451226101201",
        ),
    ] {
        out.push(
            report(
                app,
                "county.doctor",
                resident,
                &card(disease, when, village),
            )
            .await,
        );
    }
    let cdc = user::by_username(&app.store, "cdc").await.unwrap();
    access::review_case(
        &app.store,
        &Viewer {
            user: &cdc,
            remote_addr: None,
        },
        &notifiable::Settings::new(code("451226")),
        out[5],
        1,
        ReviewAction::DeleteDuplicate,
        "与首卡重复",
        None,
    )
    .await
    .expect("deleted as a duplicate");
    for (township, n) in [("451226100", 20_000), ("451226101", 10_000)] {
        yiwei_store::division::set_population(&app.store, &code(township), 2026, n)
            .await
            .expect("population");
    }
    out
}

#[tokio::test]
async fn conditions_are_read_and_searched_through_the_access_check() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        add_cdc(&app).await;
        let cards = known_cases(&app).await;
        let f = &app.fixture;
        let mut api = app.client();
        let doctor = token_of(&app, "county.doctor").await;
        let cdc = token_of(&app, "cdc").await;
        let village = token_of(&app, "village.doctor").await;

        let read = fhir_get(&mut api, &format!("/fhir/Condition/{}", cards[0]), &doctor).await;
        assert_eq!(read.status, StatusCode::OK, "{backend}: {}", read.body);
        let c = read.json();
        assert_eq!(c["resourceType"], "Condition");
        assert_eq!(
            c["code"]["coding"][0]["system"],
            "urn:yiwei:notifiable-disease"
        );
        assert_eq!(c["code"]["coding"][0]["code"], "influenza");
        // Beside the list's code, ICD-10: a clinical influenza case is J11 (virus not
        // identified).
        let icd = &c["code"]["coding"][1];
        assert_eq!(icd["system"], "http://hl7.org/fhir/sid/icd-10");
        assert_eq!(icd["code"], "J11");
        assert_eq!(c["verificationStatus"]["coding"][0]["code"], "confirmed");
        assert_eq!(c["verificationStatus"]["coding"][1]["code"], "clinical");
        assert_eq!(c["category"][0]["coding"][0]["code"], "encounter-diagnosis");
        assert_eq!(
            c["subject"]["reference"],
            format!("Patient/{}", f.home_resident)
        );
        assert_eq!(c["onsetDateTime"], "2026-03-02");
        assert!(c.get("clinicalStatus").is_none());
        assert!(
            c["asserter"]["reference"]
                .as_str()
                .unwrap()
                .starts_with("Practitioner/")
        );
        // The deleted duplicate reads as entered-in-error, without a clinical status.
        let deleted = fhir_get(&mut api, &format!("/fhir/Condition/{}", cards[5]), &cdc).await;
        assert_eq!(
            deleted.json()["verificationStatus"]["coding"][0]["code"],
            "entered-in-error"
        );
        // The second home card is a probable duplicate and says of which.
        let dup = fhir_get(&mut api, &format!("/fhir/Condition/{}", cards[1]), &doctor).await;
        assert!(
            dup.json()["note"][0]["text"]
                .as_str()
                .unwrap()
                .contains(&format!("Condition/{}", cards[0])),
            "{}",
            dup.body
        );

        // By patient: the resident's two cards, newest first.
        let b = fhir_get(
            &mut api,
            &format!("/fhir/Condition?patient={}", f.home_resident),
            &doctor,
        )
        .await;
        assert_eq!(b.status, StatusCode::OK, "{}", b.body);
        assert_eq!(ids(&b.json()), [cards[1].to_string(), cards[0].to_string()]);
        let b = fhir_get(
            &mut api,
            &format!(
                "/fhir/Condition?subject=Patient/{}&onset-date=ge2026-03-03",
                f.home_resident
            ),
            &doctor,
        )
        .await;
        assert_eq!(ids(&b.json()), [cards[1].to_string()], "{}", b.body);
        // CDC staff list an area by disease; the deleted card is not there.
        let b = fhir_get(
            &mut api,
            "/fhir/Condition?area=451226101&code=influenza",
            &cdc,
        )
        .await;
        assert_eq!(b.status, StatusCode::OK, "{}", b.body);
        assert_eq!(ids(&b.json()), [cards[4].to_string()]);
        let b = fhir_get(
            &mut api,
            "/fhir/Condition?code=urn:yiwei:notifiable-disease|hfmd,influenza&area=451226100&onset-date=le2026-03-04&_count=1",
            &cdc,
        )
        .await;
        let j = b.json();
        assert_eq!(j["total"], 3, "{}", b.body);
        assert_eq!(ids(&j).len(), 1);
        assert!(j["link"].to_string().contains("next"));
        let b = fhir_get(&mut api, "/fhir/Condition?recorded-date=lt2026-01-01", &cdc).await;
        assert_eq!(b.json()["total"], 0);

        // Refusals and bad requests.
        let r = fhir_get(&mut api, "/fhir/Condition?code=influenza", &doctor).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "a clinician lists no area");
        let r = fhir_get(&mut api, &format!("/fhir/Condition/{}", cards[4]), &village).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "outside the village doctor's reach"
        );
        assert_eq!(r.json()["issue"][0]["code"], "forbidden");
        let r = fhir_get(&mut api, "/fhir/Condition?disease=influenza", &cdc).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.body.contains("unknown search parameter"), "{}", r.body);
        let r = fhir_get(&mut api, "/fhir/Condition?code=flu", &cdc).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.body.contains("unknown disease code"), "{}", r.body);
        let r = fhir_get(&mut api, "/fhir/Condition?area=4512xx", &cdc).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);

        // Listed in the CapabilityStatement, with the custom area parameter.
        let m = fhir_get(&mut api, "/fhir/metadata", &cdc).await.json();
        let resources = m["rest"][0]["resource"].as_array().unwrap();
        let condition = resources.iter().find(|r| r["type"] == "Condition").unwrap();
        assert!(condition["searchParam"].to_string().contains("\"area\""));
        assert!(resources.iter().any(|r| r["type"] == "DetectedIssue"));
    }
}

#[tokio::test]
async fn signals_are_detected_issues_with_their_evidence() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let raise =
            |d: NaiveDate, disease: &str, area: &str, method: &str, observed: f64| NewSignal {
                day: d,
                disease: disease.into(),
                division: code(area),
                method: method.into(),
                parameters: vec![("alpha".into(), "0.001".into())],
                observed,
                threshold: Some(2.5),
                expected: Some(0.4),
                baseline: notifiable::baseline_json(
                    d - Duration::days(7),
                    d - Duration::days(1),
                    7,
                    0.4,
                    0.53,
                    "",
                ),
            };
        let mut made = Vec::new();
        for s in [
            raise(day(2026, 3, 4), "hfmd", "451226100", "ears_c1", 3.0),
            raise(day(2026, 4, 2), "influenza", "451226", "mpm", 12.0),
            raise(day(2026, 4, 3), "influenza", "451226101", "fixed", 1.0),
        ] {
            made.push(
                notifiable::raise_signal(&app.store, &s)
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        let mut api = app.client();
        let township = token_of(&app, "township.doctor").await;
        let village = token_of(&app, "village.doctor").await;
        let analyst = token_of(&app, "analyst").await;

        let r = fhir_get(
            &mut api,
            &format!("/fhir/DetectedIssue/{}", made[0]),
            &township,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{backend}: {}", r.body);
        let d = r.json();
        assert_eq!(d["resourceType"], "DetectedIssue");
        assert_eq!(d["status"], "preliminary");
        assert_eq!(d["code"]["coding"][0]["code"], "ears_c1");
        assert_eq!(d["identifiedDateTime"], "2026-03-04");
        assert_eq!(d["evidence"][0]["code"][0]["coding"][0]["code"], "hfmd");
        assert_eq!(d["evidence"][0]["detail"][0]["reference"], "#observed");
        let observed = &d["contained"][0];
        assert_eq!(observed["id"], "observed");
        assert_eq!(observed["valueQuantity"]["value"], 3.0);
        assert_eq!(observed["referenceRange"][0]["high"]["value"], 2.5);
        assert_eq!(observed["subject"]["reference"], "Location/451226100");
        assert_eq!(observed["component"][0]["valueQuantity"]["value"], 0.4);
        assert_eq!(observed["component"][1]["valueString"], "0.001");
        let baseline = &d["contained"][1];
        assert_eq!(baseline["effectivePeriod"]["start"], "2026-02-25");
        assert_eq!(baseline["component"][0]["valueInteger"], 7);
        assert_eq!(d["meta"]["tag"][0]["code"], "raised");
        // The county's signal is seen from a township inside it; another township's is not.
        let r = fhir_get(
            &mut api,
            &format!("/fhir/DetectedIssue/{}", made[1]),
            &township,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        let r = fhir_get(
            &mut api,
            &format!("/fhir/DetectedIssue/{}", made[2]),
            &village,
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);

        // Search by disease, method, day, status and area.
        let search = |q: &str| format!("/fhir/DetectedIssue?{q}");
        let b = fhir_get(&mut api, &search("code=influenza"), &analyst).await;
        assert_eq!(b.status, StatusCode::OK, "{}", b.body);
        assert_eq!(ids(&b.json()), [made[2].to_string(), made[1].to_string()]);
        let b = fhir_get(
            &mut api,
            &search("code=urn:yiwei:warning-method|mpm"),
            &analyst,
        )
        .await;
        assert_eq!(ids(&b.json()), [made[1].to_string()]);
        let b = fhir_get(
            &mut api,
            &search("identified=le2026-04-02&date=ge2026-03-05"),
            &analyst,
        )
        .await;
        assert_eq!(ids(&b.json()), [made[1].to_string()], "{}", b.body);
        let b = fhir_get(&mut api, &search("status=closed"), &analyst).await;
        assert_eq!(b.json()["total"], 0);
        let b = fhir_get(&mut api, &search("status=raised&area=451226101"), &analyst).await;
        assert_eq!(ids(&b.json()), [made[2].to_string()]);
        // A township user's default area is their township.
        let b = fhir_get(&mut api, &search(""), &township).await;
        assert_eq!(ids(&b.json()), [made[0].to_string()]);
        let r = fhir_get(&mut api, &search("area=451226101"), &township).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = fhir_get(&mut api, &search("patient=1"), &analyst).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.body.contains("unknown search parameter"));
        let r = fhir_get(&mut api, &search("status=open"), &analyst).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
}

/// The text of the table row whose `data-code` (or id) is `key`.
fn row<'a>(body: &'a str, key: &str) -> &'a str {
    let start = body
        .find(&format!("data-code=\"{key}\""))
        .unwrap_or_else(|| panic!("no row {key} in {body}"));
    let rest = &body[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

#[tokio::test]
async fn the_statistics_page_counts_cases_and_incidence_per_disease_area_and_period() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        add_cdc(&app).await;
        known_cases(&app).await;
        let mut c = app.client();
        c.login("analyst").await;
        let page = c
            .get("/cdc/statistics?from=2026-03-01&to=2026-04-30&group=month")
            .await;
        assert_eq!(page.status, StatusCode::OK, "{backend}: {}", page.body);
        let b = &page.body;
        // Areas: 4 + 1 (the deleted card does not count), populations 20,000 and 10,000.
        assert!(
            row(b, "451226100").contains("<td>4</td><td>20000</td><td>20.00</td>"),
            "{}",
            row(b, "451226100")
        );
        assert!(row(b, "451226101").contains("<td>1</td><td>10000</td><td>10.00</td>"));
        assert!(
            row(b, "451226").contains("<td>5</td><td>30000</td><td>16.67</td>"),
            "{}",
            row(b, "451226")
        );
        // Diseases.
        assert!(row(b, "influenza").contains("<td>4</td><td>13.33</td>"));
        assert!(row(b, "hfmd").contains("<td>1</td><td>3.33</td>"));
        // Months.
        assert!(
            row(b, "2026-03-01").contains("<td>2026-03</td><td>4</td><td>30000</td><td>13.33</td>")
        );
        assert!(row(b, "2026-04-01").contains("<td>2026-04</td><td>1</td>"));
        // The weekly curve: 3 cases in ISO week 10, 1 in week 11, none in week 12.
        assert!(b.contains("<title>2026-W10: 3</title>"), "{b}");
        assert!(b.contains("<title>2026-W11: 1</title>"));
        assert!(b.contains("<title>2026-W12: 0</title>"));

        // One disease and a township: only its villages.
        let page = c
            .get("/cdc/statistics?disease=influenza&area=451226100&from=2026-03-01&to=2026-03-31&group=week")
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(row(&page.body, "451226100201").contains("<td>3</td>"));
        assert!(row(&page.body, "451226100").contains("<td>3</td><td>20000</td><td>15.00</td>"));
        assert!(row(&page.body, "2026-03-02").contains("<td>2026-W10</td><td>2</td>"));

        // The CSV has the same figures.
        let csv = c
            .get("/cdc/statistics?from=2026-03-01&to=2026-04-30&group=year&format=csv")
            .await;
        assert_eq!(csv.status, StatusCode::OK);
        assert!(
            csv.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        assert!(
            csv.body.contains("area,451226100,思恩镇,4,20000,20.00\n"),
            "{}",
            csv.body
        );
        assert!(
            csv.body
                .contains("total,451226,环江毛南族自治县,5,30000,16.67\n")
        );
        assert!(csv.body.contains("period,2026-01-01,2026,5,30000,16.67\n"));

        // Bad filters are answered next to the form, in the visitor's language.
        let r = c.get("/cdc/statistics?from=2026-05-01&to=2026-04-01").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.body.contains("起始日期晚于截止日期"), "{}", r.body);
        assert!(r.body.contains("id=\"stats-form\""));
        let r = c.get("/cdc/statistics?group=day").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        // A village doctor cannot see the county's figures.
        let mut v = app.client();
        v.login("village.doctor").await;
        assert_eq!(
            v.get("/cdc/statistics?area=451226").await.status,
            StatusCode::FORBIDDEN
        );
    }
}

#[tokio::test]
async fn the_timeliness_page_gives_the_share_reported_in_time_per_institution() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        add_cdc(&app).await;
        known_cases(&app).await;
        let now = (Utc::now() + Duration::hours(8)).naive_utc();
        let f = &app.fixture;
        // The township centre: one card an hour after diagnosis (on time), one three days
        // late.
        report(
            &app,
            "township.doctor",
            f.home_resident,
            &card("hfmd", now - Duration::hours(1), "451226100201"),
        )
        .await;
        report(
            &app,
            "township.doctor",
            f.own_resident,
            &card("mumps", now - Duration::days(3), "451226100201"),
        )
        .await;
        let mut c = app.client();
        c.login("cdc").await;
        let today = now.date();
        let page = c
            .get(&format!(
                "/cdc/timeliness?from={}&to={today}",
                today - Duration::days(5)
            ))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{backend}: {}", page.body);
        assert!(
            page.body
                .contains("<td>思恩镇卫生院</td><td>2</td><td>1</td><td>50.0%</td>"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("环江县人民医院"));
        // Over the year: the hospital's five March–April cards were all late (the deleted
        // duplicate is not counted).
        let page = c
            .get(&format!("/cdc/timeliness?from=2026-01-01&to={today}"))
            .await;
        assert!(
            page.body
                .contains("<td>环江县人民医院</td><td>5</td><td>0</td><td>0.0%</td>"),
            "{}",
            page.body
        );
        let overall = &page.body[page.body.find("timeliness-overall").unwrap()..];
        assert!(
            overall.contains("<td>7</td><td>1</td><td>14.3%</td>"),
            "{overall}"
        );
        let r = c.get("/cdc/timeliness?from=yesterday").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.body.contains("不是有效日期"), "{}", r.body);
    }
}
