//! The indicator dashboard, catalogue, JSON and MeasureReport over HTTP: figures from the
//! maintained aggregates for each role's reach, refusals outside it, bad input as 400s.

use axum::http::StatusCode;
use chrono::Datelike;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::indicator::Period;
use yiwei_store::Store;
use yiwei_store::indicator::{self, RefreshOptions};

use crate::support::{TestApp, backends};

/// Refresh this year's figures of the fixture county (its records are created today).
pub async fn refresh(store: &Store) -> i32 {
    let year = (yiwei_store::now() + chrono::Duration::hours(8))
        .date_naive()
        .year();
    indicator::refresh(
        store,
        &Period::all_in_year(year),
        &RefreshOptions {
            county: DivisionCode::parse("451226").unwrap(),
            utc_offset_hours: 8,
            force: false,
        },
    )
    .await
    .expect("refresh");
    year
}

/// The text of the element with `id` (the first tag that carries it, to its closing tag).
fn element<'a>(body: &'a str, id: &str) -> &'a str {
    let start = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let rest = &body[start..];
    &rest[..rest.find("</div>\n</div>").unwrap_or(rest.len())]
}

#[tokio::test]
async fn the_dashboard_shows_each_reach_its_figures_and_refuses_the_rest() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let year = refresh(&app.store).await;
        let mut analyst = app.client();
        analyst.login("analyst").await;
        let page = analyst.get("/dashboard").await;
        assert_eq!(page.status, StatusCode::OK, "{backend}: {}", page.body);
        let records = element(&page.body, "tile-records_held");
        assert!(records.contains(">4</a>"), "{records}");
        assert!(records.contains("/indicators/catalogue#records_held"));
        assert!(records.contains("/residents?division=451226"));
        // Imaging and cost alerts are maintained now; what cannot be computed says why.
        let imaging = element(&page.body, "tile-imaging_recognitions");
        assert!(!imaging.contains("数据来源建设中"), "{imaging}");
        let visits = element(&page.body, "tile-county_visit_rate");
        assert!(visits.contains("无法由本平台数据计算"), "{visits}");
        // The cartogram: both townships, linked to their own dashboards, and the honesty note.
        assert!(page.body.contains("class=\"cartogram\""));
        assert!(page.body.contains("思恩镇") && page.body.contains("水源镇"));
        assert!(page.body.contains("A tile cartogram, not a map"));
        assert!(
            page.body.contains(&format!(
                "/dashboard?division=451226100&amp;year={year}&amp;map=contract_coverage"
            )) || page.body.contains(&format!(
                "/dashboard?division=451226100&#38;year={year}&#38;map=contract_coverage"
            ))
        );
        // A township's figures are the sums of its villages'.
        let township = analyst
            .get("/dashboard?division=451226100&map=records_held")
            .await;
        assert_eq!(township.status, StatusCode::OK);
        assert!(element(&township.body, "tile-records_held").contains(">3</a>"));
        assert!(township.body.contains("class=\"trend\""), "monthly chart");
        // The chosen indicator's breakdown by sex, age group and key group.
        let strata = &township.body[township.body.find("id=\"dash-strata\"").expect("strata")..];
        let strata = &strata[..strata.find("</table>").unwrap()];
        assert!(
            strata.contains("性别") && strata.contains("年龄组"),
            "{strata}"
        );

        let mut doctor = app.client();
        doctor.login("village.doctor").await;
        let own = doctor.get("/dashboard").await;
        assert_eq!(own.status, StatusCode::OK);
        assert!(element(&own.body, "tile-records_held").contains(">2</a>"));
        assert!(own.body.contains("This division has no subdivisions"));
        let outside = doctor.get("/dashboard?division=451226").await;
        assert_eq!(outside.status, StatusCode::FORBIDDEN);

        let mut resident = app.client();
        resident.login("resident").await;
        assert_eq!(
            resident.get("/dashboard").await.status,
            StatusCode::FORBIDDEN
        );

        for bad in [
            "/dashboard?year=twenty",
            "/dashboard?map=no_such",
            "/dashboard?map=county_visit_rate",
            "/dashboard?division=12x",
        ] {
            let r = analyst.get(bad).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
        }

        let catalogue = analyst.get("/indicators/catalogue").await;
        assert_eq!(catalogue.status, StatusCode::OK);
        assert!(catalogue.body.contains("id=\"student_vision\""));
        assert!(catalogue.body.contains("≥95%"));
        assert!(catalogue.body.contains("not computable: "));
        assert!(!catalogue.body.contains("source pending"));
    }
}

#[tokio::test]
async fn the_figures_come_as_json_and_as_measure_reports() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let year = refresh(&app.store).await;
        let mut analyst = app.client();
        analyst.login("analyst").await;
        let r = analyst
            .get("/api/v1/indicators?indicator=records_held,contract_coverage&by=children")
            .await;
        assert_eq!(r.status, StatusCode::OK, "{backend}: {}", r.body);
        let json = r.json();
        let figures = json["figures"].as_array().expect("figures");
        let held = |division: &str| {
            figures
                .iter()
                .find(|f| f["indicator"] == "records_held" && f["division"] == division)
                .map(|f| f["numerator"].as_i64().unwrap())
        };
        assert_eq!(held("451226100"), Some(3));
        assert_eq!(held("451226101"), Some(1));
        let coverage = figures
            .iter()
            .find(|f| f["indicator"] == "contract_coverage" && f["division"] == "451226100")
            .expect("coverage");
        assert_eq!(coverage["denominator"], 3);
        assert_eq!(coverage["unit"], "%");
        // Strata beside the total: sex and age groups add up to it.
        for dim in ["sex", "age_group"] {
            let r = analyst
                .get(&format!(
                    "/api/v1/indicators?indicator=records_held,contract_coverage,bookings&breakdown={dim}"
                ))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            let json = r.json();
            let figures = json["figures"].as_array().expect("figures");
            for code in ["records_held", "contract_coverage"] {
                let total = figures
                    .iter()
                    .find(|f| f["indicator"] == code && f.get("stratum").is_none())
                    .expect("total");
                let parts: Vec<&serde_json::Value> = figures
                    .iter()
                    .filter(|f| f["indicator"] == code && f["breakdown"] == dim)
                    .collect();
                assert!(!parts.is_empty(), "{code} {dim}");
                for field in ["numerator", "denominator"] {
                    let sum: i64 = parts.iter().map(|f| f[field].as_i64().unwrap()).sum();
                    assert_eq!(sum, total[field].as_i64().unwrap(), "{code} {dim} {field}");
                }
            }
            // Bookings are split by institution in the catalogue, not by person.
            assert!(
                !figures
                    .iter()
                    .any(|f| f["indicator"] == "bookings" && f.get("stratum").is_some())
            );
        }
        for bad in [
            "/api/v1/indicators?breakdown=colour",
            "/api/v1/indicators?breakdown=sex&by=children",
        ] {
            let r = analyst.get(bad).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
        }
        assert_eq!(
            analyst
                .get("/api/v1/indicators?indicator=nope")
                .await
                .status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            analyst
                .get("/api/v1/indicators?period=2025-13")
                .await
                .status,
            StatusCode::BAD_REQUEST
        );

        let bundle = analyst
            .get("/fhir/MeasureReport?measure=records_held&subject=Location/451226")
            .await;
        assert_eq!(bundle.status, StatusCode::OK, "{}", bundle.body);
        let b = bundle.json();
        assert_eq!(b["resourceType"], "Bundle");
        let report = &b["entry"][0]["resource"];
        assert_eq!(report["resourceType"], "MeasureReport");
        assert_eq!(report["type"], "summary");
        assert_eq!(report["id"], format!("records-held.{year}.451226"));
        assert_eq!(report["group"][0]["population"][0]["count"], 4);
        // The stratifiers: sex strata (administrative-gender codes) add up to the group.
        let stratifiers = report["group"][0]["stratifier"]
            .as_array()
            .expect("stratifiers");
        let sex = stratifiers
            .iter()
            .find(|s| s["code"][0]["coding"][0]["code"] == "sex")
            .expect("sex stratifier");
        let strata = sex["stratum"].as_array().unwrap();
        assert!(
            strata.iter().all(|s| s["value"]["coding"][0]["system"]
                == "http://hl7.org/fhir/administrative-gender")
        );
        let sum: i64 = strata
            .iter()
            .map(|s| s["population"][0]["count"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, 4);
        assert_eq!(report["period"]["start"], format!("{year}-01-01"));
        let read = analyst
            .get(&format!(
                "/fhir/MeasureReport/contract-coverage.{year}.451226100"
            ))
            .await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.body);
        let rr = read.json();
        assert_eq!(
            rr["group"][0]["population"][1]["code"]["coding"][0]["code"],
            "denominator"
        );
        assert_eq!(rr["group"][0]["population"][1]["count"], 3);
        let metadata = analyst.get("/fhir/metadata").await;
        assert!(metadata.body.contains("\"MeasureReport\""));

        let mut doctor = app.client();
        doctor.login("village.doctor").await;
        let outside = doctor
            .get("/fhir/MeasureReport?subject=Location/451226101")
            .await;
        assert_eq!(outside.status, StatusCode::FORBIDDEN, "{}", outside.body);
        let bad = doctor.get("/fhir/MeasureReport?period=2025-Q9").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn the_annual_review_renders_and_downloads_in_four_formats() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let year = refresh(&app.store).await;
        let mut analyst = app.client();
        analyst.login("analyst").await;
        let page = analyst.get(&format!("/reports/annual/{year}")).await;
        assert_eq!(page.status, StatusCode::OK, "{backend}: {}", page.body);
        for section in [
            "records",
            "family_doctors",
            "public_health",
            "disease_control",
            "medical_community",
            "imaging",
            "poverty_alert",
        ] {
            assert!(
                page.body.contains(&format!("id=\"annual-{section}\"")),
                "{section}"
            );
        }
        // Every figure links to its definition; what cannot be computed says why, no zero.
        assert!(
            page.body
                .contains("href=\"/indicators/catalogue#records_held\"")
        );
        let visits = &page.body[page.body.find("id=\"annual-county_visit_rate\"").unwrap()..];
        let visits = &visits[..visits.find("</tr>").unwrap()];
        assert!(visits.contains("无法由本平台数据计算"), "{visits}");
        assert!(!visits.contains(">0<"), "{visits}");
        assert!(!page.body.contains("数据来源建设中"));
        assert!(
            page.body.contains("全年居民电子健康档案建档数4"),
            "review prose"
        );

        let csv = analyst
            .get(&format!("/reports/annual/{year}/figures.csv"))
            .await;
        assert_eq!(csv.status, StatusCode::OK);
        let line = csv
            .body
            .lines()
            .find(|l| l.starts_with("records,records_held,"))
            .expect("the records line");
        assert!(
            line.contains(&format!(",{year},451226,4,0,4,count,")),
            "{line}"
        );
        let visits = csv
            .body
            .lines()
            .find(|l| l.contains(",county_visit_rate,"))
            .expect("county visit rate line");
        assert!(visits.contains("Not computable"), "{visits}");

        let xlsx = analyst
            .get(&format!("/reports/annual/{year}/figures.xlsx"))
            .await;
        assert_eq!(xlsx.status, StatusCode::OK);
        assert!(xlsx.body.starts_with("PK"), "a zip container");

        let pdf = analyst
            .get(&format!("/reports/annual/{year}/review.pdf"))
            .await;
        if std::path::Path::new("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc").exists() {
            assert_eq!(pdf.status, StatusCode::OK);
            assert!(pdf.body.starts_with("%PDF"), "a PDF");
        } else {
            assert_eq!(pdf.status, StatusCode::SERVICE_UNAVAILABLE);
        }
        assert_eq!(
            analyst
                .get(&format!("/reports/annual/{year}/other.txt"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            analyst.get("/reports/annual/20x5").await.status,
            StatusCode::BAD_REQUEST
        );
        // The county's review is outside a village doctor's reach.
        let mut doctor = app.client();
        doctor.login("village.doctor").await;
        assert_eq!(
            doctor.get(&format!("/reports/annual/{year}")).await.status,
            StatusCode::FORBIDDEN
        );
    }
}
