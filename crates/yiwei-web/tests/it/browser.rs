//! Browser tests in headless Chromium through chromedriver (WebDriver), against the app
//! served on a random local port. Without Chromium they are skipped with a message,
//! unless `YIWEI_REQUIRE_BROWSER=1`, which turns the skip into a failure (CI sets it).

use std::process::{Child, Command, Stdio};

use fantoccini::{Client, ClientBuilder, Locator};

use crate::support::{PASSWORD, TestApp};

pub(crate) struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Start chromedriver, or say why not.
pub(crate) fn start_driver() -> Option<Driver> {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let driver = ["/usr/bin/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    match (chromium, driver) {
        (Some(_), Some(driver)) => {
            let port = free_port();
            let mut child = Command::new(driver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts");
            // Wait for the condition, not for a time: chromedriver says when it listens.
            let stdout = child.stdout.take().expect("piped stdout");
            let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
            let ready = lines
                .by_ref()
                .map_while(Result::ok)
                .any(|line| line.contains("started successfully"));
            assert!(ready, "chromedriver exited before it was ready");
            // Keep draining its output so it never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
            Some(Driver { child, port })
        }
        _ => {
            assert!(
                std::env::var("YIWEI_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "YIWEI_REQUIRE_BROWSER=1 but chromium/chromedriver are not installed (apt-get install chromium chromium-driver)"
            );
            eprintln!("skipping browser tests: install chromium and chromium-driver to run them");
            None
        }
    }
}

pub(crate) async fn connect(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--window-size=360,740"
        ]}),
    );
    let url = format!("http://127.0.0.1:{}", driver.port);
    // chromedriver needs a moment to listen; retry the connection instead of sleeping blind.
    let mut last_error = String::new();
    for _ in 0..100 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return client,
            Err(e) => {
                last_error = e.to_string();
                tokio::task::yield_now().await;
                let _ = tokio::net::TcpStream::connect(("127.0.0.1", driver.port)).await;
            }
        }
    }
    panic!("cannot connect to chromedriver: {last_error}");
}

pub(crate) async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app.router.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    format!("http://{addr}")
}

/// With `YIWEI_SCREENSHOTS=<folder>`, keep a PNG of the page (for docs and reviews).
pub(crate) async fn save_screenshot(c: &Client, name: &str) {
    if let Ok(dir) = std::env::var("YIWEI_SCREENSHOTS") {
        let png = c.screenshot().await.expect("screenshot");
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png)
            .expect("write screenshot");
    }
}

pub(crate) async fn log_in(c: &Client, base: &str, username: &str) {
    c.delete_all_cookies().await.expect("cookies");
    c.goto(&format!("{base}/login")).await.expect("login page");
    c.find(Locator::Id("username"))
        .await
        .expect("username")
        .send_keys(username)
        .await
        .expect("type");
    c.find(Locator::Id("password"))
        .await
        .expect("password")
        .send_keys(PASSWORD)
        .await
        .expect("type");
    c.find(Locator::Id("login-submit"))
        .await
        .expect("submit")
        .click()
        .await
        .expect("click");
    c.wait()
        .for_element(Locator::Id("home-title"))
        .await
        .expect("home page after login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_logs_in_is_refused_outside_its_reach_and_switches_language() {
    let Some(driver) = start_driver() else { return };
    let app = TestApp::new("sqlite").await;
    let base = serve(&app).await;
    let c = connect(&driver).await;
    for (username, role, refused) in [
        (
            "admin",
            "county_admin",
            format!("/residents/{}", app.fixture.home_resident),
        ),
        ("analyst", "analyst", "/admin/users".to_owned()),
        (
            "township.doctor",
            "clinician",
            format!("/residents/{}", app.fixture.other_township_resident),
        ),
        (
            "village.doctor",
            "village_doctor",
            "/divisions/451226101".to_owned(),
        ),
        (
            "resident",
            "resident",
            format!("/residents/{}", app.fixture.home_resident),
        ),
    ] {
        log_in(&c, &base, username).await;
        save_screenshot(&c, &format!("home-{username}")).await;
        let card = c.find(Locator::Id("home-role")).await.expect("role card");
        assert_eq!(
            card.attr("data-role").await.expect("attr").as_deref(),
            Some(role)
        );
        c.goto(&format!("{base}{refused}")).await.expect("goto");
        let status = c
            .find(Locator::Id("error-status"))
            .await
            .expect("refusal page")
            .text()
            .await
            .expect("text");
        assert!(
            status.starts_with("403"),
            "{username} at {refused}: {status}"
        );
        c.goto(&format!("{base}/")).await.expect("home");
        c.find(Locator::Id("lang-switch"))
            .await
            .expect("switch")
            .click()
            .await
            .expect("click");
        let title = c
            .find(Locator::Id("home-title"))
            .await
            .expect("title")
            .text()
            .await
            .expect("text");
        assert_eq!(title, "Workbench", "{username}");
        c.find(Locator::Id("lang-switch"))
            .await
            .expect("switch")
            .click()
            .await
            .expect("click");
        let title = c
            .find(Locator::Id("home-title"))
            .await
            .expect("title")
            .text()
            .await
            .expect("text");
        assert_eq!(title, "工作台", "{username}");
        c.find(Locator::Id("logout"))
            .await
            .expect("logout")
            .click()
            .await
            .expect("click");
        c.wait()
            .for_element(Locator::Id("login-submit"))
            .await
            .expect("back at login");
    }
    // The page fits a 360-px phone: nothing wider than the viewport.
    log_in(&c, &base, "village.doctor").await;
    let width = c
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(width, serde_json::Value::Bool(true));
    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_village_doctor_registers_a_resident_finds_them_by_pinyin_and_the_resident_sees_who_looked()
 {
    let Some(driver) = start_driver() else { return };
    let app = TestApp::new("sqlite").await;
    let base = serve(&app).await;
    let c = connect(&driver).await;
    log_in(&c, &base, "village.doctor").await;
    c.goto(&format!("{base}/residents/new"))
        .await
        .expect("form");
    let first17 = "45122619700505017";
    let id_card = format!("{first17}{}", yiwei_domain::id_card::check_char(first17));
    c.find(Locator::Id("f-name"))
        .await
        .expect("name")
        .send_keys("黄小明")
        .await
        .expect("type");
    c.find(Locator::Css("#f-sex option[value='male']"))
        .await
        .expect("sex")
        .click()
        .await
        .expect("pick");
    c.find(Locator::Id("f-id-card"))
        .await
        .expect("id")
        .send_keys(&id_card)
        .await
        .expect("type");
    c.find(Locator::Id("f-phone"))
        .await
        .expect("phone")
        .send_keys("13977001234")
        .await
        .expect("type");
    c.find(Locator::Id("f-submit"))
        .await
        .expect("submit")
        .click()
        .await
        .expect("click");
    let title = c
        .wait()
        .for_element(Locator::Id("resident-name"))
        .await
        .expect("record page")
        .text()
        .await
        .expect("text");
    assert_eq!(title, "黄小明");
    let masked = c
        .find(Locator::Id("id-card"))
        .await
        .expect("id card")
        .text()
        .await
        .expect("text");
    assert_eq!(masked, format!("451226********{}", &id_card[14..]));
    save_screenshot(&c, "resident-record").await;
    c.goto(&format!("{base}/residents?q=hxm"))
        .await
        .expect("search");
    let list = c
        .find(Locator::Id("resident-list"))
        .await
        .expect("list")
        .text()
        .await
        .expect("text");
    assert!(list.contains("黄小明"), "{list}");
    // The fixture resident's record is opened by the doctor, then the resident looks.
    c.goto(&format!("{base}/residents/{}", app.fixture.own_resident))
        .await
        .expect("open");
    log_in(&c, &base, "resident").await;
    c.goto(&format!("{base}/me")).await.expect("me");
    let viewers = c
        .find(Locator::Id("viewers"))
        .await
        .expect("who looked")
        .text()
        .await
        .expect("text");
    assert!(viewers.contains("village.doctor"), "{viewers}");
    save_screenshot(&c, "resident-me").await;
    c.close().await.expect("close");
}

// cost alerts (防返贫监测预警)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn township_staff_open_a_cost_alert_and_record_a_household_check() {
    let Some(driver) = start_driver() else { return };
    let app = TestApp::new("sqlite").await;
    let (home, _) = crate::cost_alerts::setup(&app).await;
    let base = serve(&app).await;
    let c = connect(&driver).await;
    log_in(&c, &base, "township.doctor").await;
    c.goto(&format!("{base}/cost-alerts")).await.expect("list");
    let list = c
        .find(Locator::Id("alert-list"))
        .await
        .expect("alert list")
        .text()
        .await
        .expect("text");
    assert!(list.contains("韦秀英"), "{list}");
    c.find(Locator::Css(&format!("a[href='/cost-alerts/{home}']")))
        .await
        .expect("alert link")
        .click()
        .await
        .expect("click");
    c.wait()
        .for_element(Locator::Id("alert-charges"))
        .await
        .expect("the charges behind the alert");
    save_screenshot(&c, "cost-alert").await;
    // Submitting "not needed" without a note shows the message next to the note.
    c.find(Locator::Css("#f-outcome option[value='not_needed']"))
        .await
        .expect("outcome")
        .click()
        .await
        .expect("pick");
    c.find(Locator::Id("check-submit"))
        .await
        .expect("submit")
        .click()
        .await
        .expect("click");
    c.wait()
        .for_element(Locator::Id("err-note"))
        .await
        .expect("note required");
    c.find(Locator::Css(
        "#f-outcome option[value='assistance_applied']",
    ))
    .await
    .expect("outcome")
    .click()
    .await
    .expect("pick");
    c.find(Locator::Id("f-note"))
        .await
        .expect("note")
        .send_keys("已协助申请医疗救助")
        .await
        .expect("type");
    c.find(Locator::Id("check-submit"))
        .await
        .expect("submit")
        .click()
        .await
        .expect("click");
    let outcome = c
        .wait()
        .for_element(Locator::Id("alert-outcome"))
        .await
        .expect("outcome shown")
        .text()
        .await
        .expect("text");
    assert!(outcome.contains("已申请医疗救助"), "{outcome}");
    let checks = c
        .find(Locator::Id("alert-checks"))
        .await
        .expect("checks")
        .text()
        .await
        .expect("text");
    assert!(checks.contains("已协助申请医疗救助"), "{checks}");
    c.close().await.expect("close");
}

// indicators
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_opens_the_dashboard_and_drills_into_a_figure() {
    let Some(driver) = start_driver() else { return };
    let app = TestApp::new("sqlite").await;
    crate::indicators::refresh(&app.store).await;
    let base = serve(&app).await;
    let c = connect(&driver).await;
    log_in(&c, &base, "analyst").await;
    c.goto(&format!("{base}/dashboard"))
        .await
        .expect("dashboard");
    let tile = c
        .find(Locator::Id("tile-records_held"))
        .await
        .expect("records tile");
    assert!(tile.text().await.expect("text").contains('4'));
    save_screenshot(&c, "dashboard-county").await;
    // The township's square on the cartogram opens its dashboard.
    c.find(Locator::Css("svg.cartogram a"))
        .await
        .expect("a township square")
        .click()
        .await
        .expect("click");
    c.wait()
        .for_element(Locator::XPath("//h1[contains(., '思恩镇')]"))
        .await
        .expect("the township's dashboard");
    let township = c
        .find(Locator::Id("tile-records_held"))
        .await
        .expect("township tile")
        .text()
        .await
        .expect("text");
    assert!(township.contains('3'), "{township}");
    // The figure's number opens the list behind it through the records page's own gate:
    // an analyst sees aggregates only, so the list is refused there, not here.
    c.find(Locator::Css("#tile-records_held a.drill"))
        .await
        .expect("drill link")
        .click()
        .await
        .expect("click");
    let status = c
        .find(Locator::Id("error-status"))
        .await
        .expect("the records page decides")
        .text()
        .await
        .expect("text");
    assert!(status.starts_with("403"), "{status}");
    // The figure's name opens its definition.
    c.goto(&format!("{base}/dashboard?division=451226100"))
        .await
        .expect("back");
    c.find(Locator::Css("#tile-contract_coverage a.tile-name"))
        .await
        .expect("definition link")
        .click()
        .await
        .expect("click");
    let definition = c
        .find(Locator::Id("contract_coverage"))
        .await
        .expect("the definition")
        .text()
        .await
        .expect("text");
    assert!(
        definition.contains("家庭医生签约服务覆盖率"),
        "{definition}"
    );
    c.close().await.expect("close");
}
