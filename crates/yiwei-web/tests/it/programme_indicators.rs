//! Programme indicators over HTTP: the table renders, a figure's link opens the residents
//! behind it, aggregate-only roles see figures but not lists, and the JSON API.

use axum::http::StatusCode;

use crate::support::{TestApp, backends};

/// The first drill-down link of a page, unescaped.
fn first_list_link(body: &str) -> String {
    let start = body
        .find("/indicators/programmes/list?")
        .expect("a drill-down link");
    let end = start + body[start..].find('"').expect("end of the link");
    body[start..end].replace("&amp;", "&").replace("&#38;", "&")
}

#[tokio::test]
async fn the_indicator_page_renders_and_each_figure_opens_its_list() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let mut doctor = app.client();
        doctor.login("village.doctor").await;
        let page = doctor.get("/indicators/programmes?year=2025").await;
        assert_eq!(page.status, StatusCode::OK, "{backend}: {}", page.body);
        assert!(page.body.contains("id=\"pi-table\""));
        assert!(page.body.contains("id=\"pi-hypertension_standard\""));
        assert!(page.body.contains("id=\"pi-vaccine:hepb:1\""));
        assert!(page.body.contains("高血压患者规范管理率"));
        assert!(page.body.contains("/indicators/programmes/definitions?"));
        let link = first_list_link(&page.body);
        assert!(
            link.contains("from=2025-01-01") && link.contains("to=2025-12-31"),
            "{link}"
        );
        let list = doctor.get(&link).await;
        assert_eq!(
            list.status,
            StatusCode::OK,
            "{backend} {link}: {}",
            list.body
        );
        assert!(list.body.contains("id=\"pi-list\""));
        let definitions = doctor
            .get("/indicators/programmes/definitions?year=2025")
            .await;
        assert_eq!(definitions.status, StatusCode::OK);
        assert!(definitions.body.contains("id=\"elderly_health\""));
        // Bad input is a 400 with a message, not a 500.
        let reversed = doctor
            .get("/indicators/programmes?from=2025-02-01&to=2025-01-01")
            .await;
        assert_eq!(reversed.status, StatusCode::BAD_REQUEST);
        let bad_part = doctor
            .get("/indicators/programmes/list?year=2025&indicator=elderly_health&part=all")
            .await;
        assert_eq!(bad_part.status, StatusCode::BAD_REQUEST);
        let unknown = doctor
            .get("/indicators/programmes/list?year=2025&indicator=no_such&part=gap")
            .await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        // Another township is outside a village doctor's reach.
        let outside = doctor
            .get("/indicators/programmes?division=451226101&year=2025")
            .await;
        assert_eq!(outside.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn an_aggregate_role_sees_figures_but_cannot_open_the_lists() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let mut analyst = app.client();
        analyst.login("analyst").await;
        let page = analyst
            .get("/indicators/programmes?year=2025&quarter=2")
            .await;
        assert_eq!(page.status, StatusCode::OK, "{backend}: {}", page.body);
        assert!(page.body.contains("2025-04-01 – 2025-06-30"));
        assert!(
            !page.body.contains("/indicators/programmes/list?"),
            "no list links for an aggregate role"
        );
        let list = analyst
            .get("/indicators/programmes/list?division=451226&year=2025&indicator=elderly_health&part=gap")
            .await;
        assert_eq!(list.status, StatusCode::FORBIDDEN, "{backend}");
        let json = analyst
            .get("/api/v1/indicators/programmes?division=451226&from=2025-01-01&to=2025-12-31")
            .await;
        assert_eq!(json.status, StatusCode::OK, "{}", json.body);
        let v = json.json();
        assert_eq!(v["division"]["code"], "451226");
        assert_eq!(v["children"].as_array().map(Vec::len), Some(2));
        let n = v["indicators"].as_array().map_or(0, Vec::len);
        assert!(n > 20, "{n} indicators");
        assert_eq!(v["division"]["figures"].as_array().map(Vec::len), Some(n));
        let bad = analyst
            .get("/api/v1/indicators/programmes?from=2025-01-01")
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        let openapi = analyst.get("/openapi.json").await;
        assert!(openapi.body.contains("/api/v1/indicators/programmes"));
    }
}
