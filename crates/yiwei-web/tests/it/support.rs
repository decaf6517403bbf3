//! A small county, a test app and a cookie-keeping client.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Duration;
use http_body_util::BodyExt;
use tower::ServiceExt;
use yiwei_domain::access::Role;
use yiwei_domain::division::{DivisionCode, Level};
use yiwei_domain::lockout::LockoutPolicy;
use yiwei_domain::org::InstitutionKind;
use yiwei_store::audit::Who;
use yiwei_store::division::{self, Division};
use yiwei_store::org::{self, NewInstitution};
use yiwei_store::resident::{self, NewResident};
use yiwei_store::user::{self, NewUser};
use yiwei_store::{Keys, Store};
use yiwei_web::WebConfig;

pub const PASSWORD: &str = "test-password-1";

pub struct Fixture {
    pub home_resident: i64,
    pub other_township_resident: i64,
    pub own_resident: i64,
}

/// Which backends to run on: SQLite always, PostgreSQL when configured.
pub fn backends() -> Vec<&'static str> {
    let mut list = vec!["sqlite"];
    if std::env::var("YIWEI_TEST_PG_URL").is_ok() {
        list.push("postgres");
    } else if std::env::var("YIWEI_REQUIRE_PG").as_deref() == Ok("1") {
        panic!("YIWEI_REQUIRE_PG=1 but YIWEI_TEST_PG_URL is not set");
    } else {
        eprintln!("skipping PostgreSQL: set YIWEI_TEST_PG_URL to run these tests on it too");
    }
    list
}

pub struct TestApp {
    pub store: Store,
    pub router: Router,
    /// The imaging blob folder.
    pub images: std::path::PathBuf,
    pub fixture: Fixture,
    _dir: tempfile::TempDir,
}

fn code(s: &str) -> DivisionCode {
    DivisionCode::parse(s).expect("test code")
}

pub async fn open_store(backend: &str, dir: &std::path::Path) -> Store {
    let keys = Keys::from_master(&[3u8; 32]);
    match backend {
        "postgres" => {
            let admin_url = std::env::var("YIWEI_TEST_PG_URL").expect("checked");
            let mut hex = [0u8; 6];
            yiwei_store::crypto::fill_random(&mut hex);
            let name = format!(
                "yiwei_web_{}",
                hex.iter().map(|b| format!("{b:02x}")).collect::<String>()
            );
            let admin = Store::open(&admin_url, dir, keys.clone())
                .await
                .expect("admin connection");
            if let yiwei_store::Pool::Postgres(pool) = admin.pool() {
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(pool)
                    .await
                    .expect("create test database");
            }
            admin.close().await;
            let (base, _) = admin_url.rsplit_once('/').expect("URL has a database name");
            Store::open(&format!("{base}/{name}"), dir, keys)
                .await
                .expect("open test database")
        }
        _ => Store::open("", dir, keys).await.expect("open sqlite"),
    }
}

impl TestApp {
    pub async fn new(backend: &str) -> TestApp {
        TestApp::with_idle(backend, Duration::minutes(30)).await
    }

    pub async fn with_idle(backend: &str, idle: Duration) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open_store(backend, dir.path()).await;
        let fixture = build_county(&store).await;
        let config = WebConfig {
            lockout: LockoutPolicy::default(),
            session_idle: idle,
            break_glass: Duration::hours(2),
            secure_cookies: false,
            county: code("451226"),
            county_name: "环江毛南族自治县".into(),
            utc_offset_hours: 8,
            public_url: "http://127.0.0.1:8080".into(),
            programmes: Default::default(),
            notifiable: yiwei_store::notifiable::Settings::new(code("451226")),
            imaging: yiwei_web::dicomweb::ImagingConfig::local(dir.path().join("images")),
        };
        let router = yiwei_web::app(store.clone(), config);
        TestApp {
            store,
            router,
            images: dir.path().join("images"),
            fixture,
            _dir: dir,
        }
    }

    pub fn client(&self) -> Client {
        Client {
            router: self.router.clone(),
            cookies: Vec::new(),
        }
    }
}

async fn build_county(store: &Store) -> Fixture {
    let by = Who {
        username: Some("test".into()),
        ..Who::default()
    };
    let divisions = [
        ("45", None, Level::Province, "广西壮族自治区"),
        ("4512", Some("45"), Level::Prefecture, "河池市"),
        ("451226", Some("4512"), Level::County, "环江毛南族自治县"),
        ("451226100", Some("451226"), Level::Township, "思恩镇"),
        ("451226101", Some("451226"), Level::Township, "水源镇"),
        ("451226100201", Some("451226100"), Level::Village, "城西村"),
        ("451226100202", Some("451226100"), Level::Village, "城东村"),
        ("451226101201", Some("451226101"), Level::Village, "上朝村"),
    ];
    for (c, parent, level, name) in divisions {
        division::upsert(
            store,
            &Division {
                code: code(c),
                parent: parent.map(code),
                level,
                name: name.into(),
                name_en: String::new(),
            },
        )
        .await
        .expect("division");
    }
    let community = org::add_community(
        store,
        "环江县人民医院医共体",
        "Huanjiang County Hospital community",
        &code("451226"),
    )
    .await
    .expect("community");
    let add = |code_: &'static str, name: &'static str, kind, division_: &'static str| {
        let new = NewInstitution {
            code: code_.into(),
            name: name.into(),
            name_en: String::new(),
            kind,
            division: code(division_),
            community_id: Some(community),
            is_lead: kind == InstitutionKind::CountyHospital,
        };
        async move { org::add(store, &new).await.expect("institution") }
    };
    let bureau = add(
        "B001",
        "环江县卫生健康局",
        InstitutionKind::HealthBureau,
        "451226",
    )
    .await;
    let hospital = add(
        "H001",
        "环江县人民医院",
        InstitutionKind::CountyHospital,
        "451226",
    )
    .await;
    let centre = add(
        "T100",
        "思恩镇卫生院",
        InstitutionKind::TownshipHealthCentre,
        "451226100",
    )
    .await;
    let clinic = add(
        "V201",
        "城西村卫生室",
        InstitutionKind::VillageClinic,
        "451226100201",
    )
    .await;
    let resident_of = |village: &'static str, name: &'static str, id_card: &'static str| {
        let new = NewResident {
            division: code(village),
            name: name.into(),
            sex: "female".into(),
            birth_date: chrono::NaiveDate::from_ymd_opt(1958, 3, 9),
            id_card: Some(id_card.into()),
            phone: Some("13812345678".into()),
            contact_phone: None,
            details: Default::default(),
        };
        let by = by.clone();
        async move { resident::create(store, &new, &by).await.expect("resident") }
    };
    let home_resident = resident_of("451226100201", "韦秀英", "45122619580309002X").await;
    let _neighbour = resident_of("451226100202", "覃美玲", "451226195803090046").await;
    let other_township_resident = resident_of("451226101201", "蒙桂芳", "451226195803090062").await;
    let own_resident = resident_of("451226100201", "莫小红", "451226195803090089").await;
    let users = [
        ("admin", Role::CountyAdmin, bureau, "451226", None),
        ("analyst", Role::Analyst, bureau, "451226", None),
        ("county.doctor", Role::Clinician, hospital, "451226", None),
        (
            "township.doctor",
            Role::Clinician,
            centre,
            "451226100",
            None,
        ),
        (
            "village.doctor",
            Role::VillageDoctor,
            clinic,
            "451226100201",
            None,
        ),
        (
            "resident",
            Role::Resident,
            clinic,
            "451226100201",
            Some(own_resident),
        ),
    ];
    for (username, role, institution, reach, resident_id) in users {
        let new = NewUser {
            username: username.into(),
            display_name: format!("{username} 测试"),
            role,
            institution_id: Some(institution),
            reach: code(reach),
            resident_id,
            password: PASSWORD.into(),
            phone: None,
        };
        user::add(store, &new, &by).await.expect("user");
    }
    Fixture {
        home_resident,
        other_township_resident,
        own_resident,
    }
}

/// A response read to the end.
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }

    /// The value of the hidden `csrf` field of the first form on the page.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("page has a CSRF field") + marker.len();
        self.body[start..]
            .split('"')
            .next()
            .unwrap_or_default()
            .to_owned()
    }
}

/// A client that keeps cookies like a browser.
pub struct Client {
    router: Router,
    cookies: Vec<(String, String)>,
}

impl Client {
    pub async fn send(&mut self, request: Request<Body>) -> Reply {
        let mut request = request;
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request
                .headers_mut()
                .insert(header::COOKIE, cookie.parse().expect("ascii"));
        }
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        for value in response.headers().get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap_or_default();
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                self.cookies.retain(|(name, _)| name != k);
                if !v.is_empty() && !text.contains("Max-Age=0") {
                    self.cookies.push((k.to_owned(), v.to_owned()));
                }
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&mut self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).expect("request"))
            .await
    }

    pub async fn post_form(&mut self, uri: &str, fields: &[(&str, &str)]) -> Reply {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", yiwei_web::pages::org::urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request");
        self.send(request).await
    }

    /// Log in through the form; panics unless it succeeds.
    pub async fn login(&mut self, username: &str) {
        let page = self.get("/login").await;
        let csrf = page.csrf();
        let reply = self
            .post_form(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("username", username),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::SEE_OTHER,
            "login of {username} failed: {}",
            reply.body
        );
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.retain(|(k, _)| k != name);
        self.cookies.push((name.to_owned(), value.to_owned()));
    }
}
