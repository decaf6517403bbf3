//! A resident opens a study on a phone-sized window (360×740): their imaging list, the
//! signed report, and the viewer's paging, window presets and images.

use fantoccini::Locator;
use yiwei_domain::report::{Content, Step};
use yiwei_store::access::Viewer;
use yiwei_store::access::recognition as gate;

use crate::browser::{connect, log_in, save_screenshot, serve, start_driver};
use crate::recognition::{radiologist, stow_own_study};
use crate::support::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_pages_through_a_study_and_switches_window_on_a_phone() {
    let Some(driver) = start_driver() else { return };
    let app = TestApp::new("sqlite").await;
    let rad = radiologist(&app.store).await;
    let id = stow_own_study(&app, &rad).await;
    let v = Viewer {
        user: &rad,
        remote_addr: None,
    };
    let content = Content {
        findings: "双肺纹理清晰。".into(),
        impression: "心肺未见异常。".into(),
        amend_reason: String::new(),
    };
    gate::write_report(&app.store, &v, id, Step::Sign, &content)
        .await
        .expect("signed");
    let base = serve(&app).await;
    let c = connect(&driver).await;
    log_in(&c, &base, "resident").await;

    c.goto(&format!("{base}/me/imaging")).await.expect("list");
    c.find(Locator::Id(&format!("view-{id}")))
        .await
        .expect("view link")
        .click()
        .await
        .expect("click");
    let impression = c
        .wait()
        .for_element(Locator::Id("viewer-impression"))
        .await
        .expect("report")
        .text()
        .await
        .expect("text");
    assert_eq!(impression, "心肺未见异常。");
    // The script took over: one image at a time, with its position.
    let pos = c.find(Locator::Css(".series .pos")).await.expect("pos");
    assert_eq!(pos.text().await.expect("text"), "1 / 3");
    c.find(Locator::Css(".series .next"))
        .await
        .expect("next")
        .click()
        .await
        .expect("click");
    assert_eq!(pos.text().await.expect("text"), "2 / 3");
    let shown = c
        .execute(
            "return Array.from(document.querySelectorAll('.frame')).filter(f => !f.hidden).length",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(shown, serde_json::json!(1));
    // A preset rewrites the rendered URL's window; the image still loads.
    c.find(Locator::Css(".viewer-tools button[data-window='40,400']"))
        .await
        .expect("soft-tissue preset")
        .click()
        .await
        .expect("click");
    let src = c
        .execute(
            "return document.querySelectorAll('.frame img')[1].getAttribute('src')",
            vec![],
        )
        .await
        .expect("script");
    assert!(
        src.as_str().unwrap_or_default().contains("window=40%2C400"),
        "{src}"
    );
    // Wait for the windowed image itself (the browser's decode promise, not a timer).
    let width = c
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             const img = document.querySelector('.frame:not([hidden]) img'); \
             img.decode().then(() => done(img.naturalWidth), () => done(0));",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(width, serde_json::json!(64), "the rendered image loaded");
    let fits = c
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(
        fits,
        serde_json::json!(true),
        "no sideways scrolling on a phone"
    );
    save_screenshot(&c, "resident-viewer").await;
    c.close().await.expect("close");
}
