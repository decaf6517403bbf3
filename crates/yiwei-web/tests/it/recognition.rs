//! Reports, the recognition prompt and share links over HTTP (issue 8): the radiologist's
//! draft → sign → amend flow with its refusals, the clinician's recognition decision and
//! the figures, and a patient's share link with PIN, lock and expiry status codes.

use axum::http::StatusCode;
use chrono::{Duration, NaiveDate};
use yiwei_domain::access::Role;
use yiwei_domain::division::DivisionCode;
use yiwei_store::Store;
use yiwei_store::access::Viewer;
use yiwei_store::access::imaging as imaging_gate;
use yiwei_store::audit::Who;
use yiwei_store::imaging::{NewInstance, Stored};
use yiwei_store::recognition;
use yiwei_store::user::{self, NewUser, User};

use crate::support::{PASSWORD, TestApp, backends};

async fn count(store: &Store, sql: &str) -> i64 {
    let sql = sql.to_owned();
    yiwei_store::on_pool!(store, |pool| sqlx::query_scalar::<_, i64>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .fetch_one(pool)
    .await)
    .expect(sql.as_str())
}

async fn exec(store: &Store, sql: &str) {
    let sql = sql.to_owned();
    yiwei_store::on_pool!(store, |pool| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .execute(pool)
        .await
        .map(|_| ()))
    .expect(sql.as_str());
}

/// A radiologist of the county hospital (login `radiologist`).
pub(crate) async fn radiologist(store: &Store) -> User {
    let hospital = count(store, "SELECT id FROM institution WHERE code = 'H001'").await;
    user::add(
        store,
        &NewUser {
            username: "radiologist".into(),
            display_name: "放射科 测试".into(),
            role: Role::Radiologist,
            institution_id: Some(hospital),
            reach: DivisionCode::parse("451226").expect("code"),
            resident_id: None,
            password: PASSWORD.into(),
            phone: None,
        },
        &Who::default(),
    )
    .await
    .expect("radiologist")
}

/// Store a one-instance study for the patient with `id_card`, done `days_ago`.
async fn study(
    store: &Store,
    by: &User,
    n: u32,
    id_card: &str,
    kind: (&str, &str),
    days_ago: i64,
) -> i64 {
    let today = recognition::county_date(yiwei_store::now());
    let new = NewInstance {
        study_uid: format!("1.2.826.0.1.3680043.10.8.{n}"),
        series_uid: format!("1.2.826.0.1.3680043.10.8.{n}.1"),
        sop_uid: format!("1.2.826.0.1.3680043.10.8.{n}.1.1"),
        sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
        patient_id: id_card.into(),
        patient_birth_date: NaiveDate::from_ymd_opt(1958, 3, 9),
        patient_sex: "F".into(),
        study_date: Some(today - Duration::days(days_ago)),
        study_description: "胸部CT平扫".into(),
        modality: kind.0.into(),
        body_part: kind.1.into(),
        series_number: Some(1),
        instance_number: Some(1),
        transfer_syntax: "1.2.840.10008.1.2.1".into(),
        frames: 1,
        size_bytes: 10,
        sha256: format!("sha{n}"),
        blob_key: format!("b/{n}"),
        metadata: "{}".into(),
        ..NewInstance::default()
    };
    let v = Viewer {
        user: by,
        remote_addr: None,
    };
    let study_id = match imaging_gate::store_instance(store, &v, &new)
        .await
        .expect("stored")
    {
        Stored::New { study_id, .. } => study_id,
        other => panic!("{other:?}"),
    };
    // Linked by the identifier's hash when the index finds it; else link it by hand (the
    // match queue's decision).
    let linked = count(
        store,
        &format!(
            "SELECT COUNT(*) FROM imaging_study WHERE id = {study_id} AND resident_id IS NOT NULL"
        ),
    )
    .await;
    if linked == 0 {
        imaging_gate::link_study(store, &v, study_id, resident_of(store, id_card).await)
            .await
            .expect("linked");
    }
    study_id
}

/// The fixture resident whose (stored) ID-card number is `id_card`.
async fn resident_of(store: &Store, id_card: &str) -> i64 {
    let hash = store
        .keys()
        .lookup_hash(yiwei_store::crypto::Field::IdCard, id_card);
    yiwei_store::on_pool!(store, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT id FROM resident WHERE id_card_hash = $1"
    )
    .bind(&hash)
    .fetch_one(pool)
    .await)
    .expect("fixture resident")
}

#[tokio::test]
async fn a_radiologist_drafts_signs_and_amends_and_the_patient_sees_only_signed_reports() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let rad = radiologist(&app.store).await;
        let id = study(
            &app.store,
            &rad,
            1,
            "451226195803090089",
            ("CT", "CHEST"),
            1,
        )
        .await;
        let url = format!("/imaging/studies/{id}/report");

        let mut me = app.client();
        me.login("resident").await;
        let list = me.get("/me/imaging").await;
        assert_eq!(list.status, StatusCode::OK, "{backend}");
        assert!(list.body.contains(&format!("study-{id}")), "{backend}");

        let mut r = app.client();
        r.login("radiologist").await;
        let page = r.get(&url).await;
        assert_eq!(page.status, StatusCode::OK, "{backend}: {}", page.body);
        let csrf = page.csrf();
        let fields = [
            ("csrf", csrf.as_str()),
            ("action", "sign"),
            ("findings", "双肺纹理清晰"),
            ("impression", ""),
        ];
        let refused = r.post_form(&url, &fields).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{backend}"
        );
        assert!(
            refused.body.contains("impression"),
            "{backend}: {}",
            refused.body
        );
        assert!(refused.body.contains("双肺纹理清晰"), "the input is kept");

        // A clinician may not sign.
        let mut c = app.client();
        c.login("county.doctor").await;
        let cpage = c.get(&url).await;
        assert_eq!(cpage.status, StatusCode::OK, "{backend}");
        assert!(!cpage.body.contains("report-form"));
        let ccsrf = cpage.csrf();
        let no = c
            .post_form(
                &url,
                &[
                    ("csrf", &ccsrf),
                    ("action", "sign"),
                    ("findings", "x"),
                    ("impression", "y"),
                ],
            )
            .await;
        assert_eq!(no.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}");

        // Unsigned: the patient sees no report yet.
        let ok = r
            .post_form(
                &url,
                &[
                    ("csrf", &csrf),
                    ("action", "save"),
                    ("findings", "双肺纹理清晰"),
                    ("impression", ""),
                ],
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{backend}: {}", ok.body);
        let view = me.get(&format!("/me/imaging/{id}")).await;
        assert_eq!(view.status, StatusCode::OK, "{backend}");
        assert!(!view.body.contains("双肺纹理清晰"), "{backend}");

        let ok = r
            .post_form(
                &url,
                &[
                    ("csrf", &csrf),
                    ("action", "sign"),
                    ("findings", "双肺纹理清晰"),
                    ("impression", "胸部CT未见异常"),
                ],
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{backend}: {}", ok.body);
        let signed = r.get(&url).await;
        assert!(signed.body.contains("amend-form") && !signed.body.contains("report-form"));
        // Saving a draft over a signed report is refused.
        let late = r
            .post_form(
                &url,
                &[
                    ("csrf", &csrf),
                    ("action", "save"),
                    ("findings", "x"),
                    ("impression", "y"),
                ],
            )
            .await;
        assert_eq!(late.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}");
        let amended = r
            .post_form(
                &url,
                &[
                    ("csrf", &csrf),
                    ("action", "amend"),
                    ("findings", "双肺纹理清晰"),
                    ("impression", "胸部CT平扫未见明显异常"),
                    ("amend_reason", "措辞"),
                ],
            )
            .await;
        assert_eq!(amended.status, StatusCode::SEE_OTHER, "{backend}");

        let view = me.get(&format!("/me/imaging/{id}")).await;
        assert!(view.body.contains("胸部CT平扫未见明显异常"), "{backend}");
        assert!(view.body.contains("/static/viewer.js"));
        let list = me.get("/me/imaging").await;
        assert!(list.body.contains("胸部CT平扫未见明显异常"), "{backend}");
        // Another resident's study is not the patient's to open.
        let other = study(
            &app.store,
            &rad,
            2,
            "45122619580309002X",
            ("CT", "CHEST"),
            1,
        )
        .await;
        assert_eq!(
            me.get(&format!("/me/imaging/{other}")).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            count(&app.store, "SELECT COUNT(*) FROM imaging_report").await,
            2,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn the_recognition_prompt_records_both_decisions_and_the_figures_show_the_savings() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let rad = radiologist(&app.store).await;
        let hospital = count(&app.store, "SELECT id FROM institution WHERE code = 'H001'").await;
        recognition::accredit(&app.store, "CT-CHEST", hospital, "县域HR")
            .await
            .expect("accredit");
        let home = app.fixture.home_resident;
        let prior = study(
            &app.store,
            &rad,
            3,
            "45122619580309002X",
            ("CT", "CHEST"),
            5,
        )
        .await;

        let mut doc = app.client();
        doc.login("township.doctor").await;
        let url =
            format!("/residents/{home}/orders/new?item=CT-CHEST&context=booking&context_id=7");
        let page = doc.get(&url).await;
        assert_eq!(page.status, StatusCode::OK, "{backend}: {}", page.body);
        assert!(page.body.contains(&format!("prior-{prior}")), "{backend}");
        assert!(page.body.contains("县域HR"), "{backend}");
        let csrf = page.csrf();
        let prior_s = prior.to_string();
        let base = |choice: &'static str, reason: &'static str, note: &'static str| {
            vec![
                ("csrf", csrf.clone()),
                ("item", "CT-CHEST".to_owned()),
                ("study", prior_s.clone()),
                ("context", "booking".to_owned()),
                ("context_id", "7".to_owned()),
                ("choice", choice.to_owned()),
                ("reason", reason.to_owned()),
                ("note", note.to_owned()),
            ]
        };
        let r = post(&mut doc, home, base("repeated", "other", "")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}");
        assert!(r.body.contains("err-decision"), "{backend}");
        let r = post(&mut doc, home, base("recognised", "", "")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{backend}: {}", r.body);
        assert!(r.location().contains("done=recognised"));
        let r = post(
            &mut doc,
            home,
            base("repeated", "before_intervention", "术前复查"),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{backend}: {}", r.body);
        assert_eq!(
            count(
                &app.store,
                "SELECT COUNT(*) FROM recognition WHERE context = 'booking' AND context_id = 7"
            )
            .await,
            2
        );
        // The village doctor of another place cannot decide for a resident outside reach.
        let other = app.fixture.other_township_resident;
        assert_eq!(
            doc.get(&format!("/residents/{other}/orders/new?item=CT-CHEST"))
                .await
                .status,
            StatusCode::FORBIDDEN
        );

        let stats = doc.get("/recognition/stats").await;
        assert_eq!(stats.status, StatusCode::OK, "{backend}");
        // CT-CHEST 220 yuan: 115.50 to the patient, 104.50 to insurer and institution.
        assert!(stats.body.contains("115.50"), "{backend}: {}", stats.body);
        assert!(stats.body.contains("104.50"), "{backend}");
        assert!(stats.body.contains("思恩镇卫生院"));
        assert_eq!(
            doc.get("/recognition/stats?from=2026-13").await.status,
            StatusCode::BAD_REQUEST
        );
        let mut me = app.client();
        me.login("resident").await;
        assert_eq!(
            me.get("/recognition/stats").await.status,
            StatusCode::FORBIDDEN
        );
    }
}

async fn post(
    doc: &mut crate::support::Client,
    resident: i64,
    fields: Vec<(&'static str, String)>,
) -> crate::support::Reply {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    doc.post_form(&format!("/residents/{resident}/orders/decide"), &fields)
        .await
}

#[tokio::test]
async fn a_share_link_opens_with_its_pin_locks_after_wrong_pins_and_expires() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let rad = radiologist(&app.store).await;
        let id = study(
            &app.store,
            &rad,
            4,
            "451226195803090089",
            ("DX", "CHEST"),
            1,
        )
        .await;
        let mut me = app.client();
        me.login("resident").await;
        let list = me.get("/me/imaging").await;
        let csrf = list.csrf();
        let made = me
            .post_form(
                &format!("/me/imaging/{id}/share"),
                &[("csrf", &csrf), ("hours", "24")],
            )
            .await;
        assert_eq!(made.status, StatusCode::OK, "{backend}: {}", made.body);
        assert!(made.body.contains("<svg"), "a QR code is drawn");
        let between = |from: &str, to: &str| {
            let s = made.body.find(from).expect(from) + from.len();
            made.body[s..]
                .split(to)
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        let url = between("id=\"share-url\">", "<");
        let token = url.rsplit('/').next().unwrap_or_default().to_owned();
        let pin = between("id=\"share-pin\">", "<");
        assert_eq!(pin.len(), 6);
        let bad_hours = me
            .post_form(
                &format!("/me/imaging/{id}/share"),
                &[("csrf", &csrf), ("hours", "9999")],
            )
            .await;
        assert_eq!(bad_hours.status, StatusCode::BAD_REQUEST, "{backend}");

        // The outside doctor: no account, the PIN.
        let mut doctor = app.client();
        let form = doctor.get(&format!("/s/{token}")).await;
        assert_eq!(form.status, StatusCode::OK, "{backend}: {}", form.body);
        let dcsrf = form.csrf();
        let wrong = if pin == "000000" { "111111" } else { "000000" };
        let r = doctor
            .post_form(&format!("/s/{token}"), &[("csrf", &dcsrf), ("pin", wrong)])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{backend}");
        assert!(r.body.contains("4"), "attempts left are said");
        let r = doctor
            .post_form(&format!("/s/{token}"), &[("csrf", &dcsrf), ("pin", &pin)])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{backend}: {}", r.body);
        assert!(r.body.contains("share-notice"));
        assert!(r.body.contains(&format!("/s/{token}/images/")), "{backend}");
        for _ in 0..4 {
            doctor
                .post_form(&format!("/s/{token}"), &[("csrf", &dcsrf), ("pin", wrong)])
                .await;
        }
        let r = doctor
            .post_form(&format!("/s/{token}"), &[("csrf", &dcsrf), ("pin", wrong)])
            .await;
        assert_eq!(r.status, StatusCode::LOCKED, "{backend}");
        let r = doctor
            .post_form(&format!("/s/{token}"), &[("csrf", &dcsrf), ("pin", &pin)])
            .await;
        assert_eq!(
            r.status,
            StatusCode::LOCKED,
            "the right PIN no longer opens it"
        );
        assert_eq!(
            doctor.get(&format!("/s/{token}")).await.status,
            StatusCode::LOCKED
        );

        // A second link, expired: 410 with a message. An unknown token: 404.
        let made = me
            .post_form(
                &format!("/me/imaging/{id}/share"),
                &[("csrf", &csrf), ("hours", "")],
            )
            .await;
        let s = made.body.find("id=\"share-url\">").expect("url") + 15;
        let token2 = made.body[s..].split('<').next().unwrap_or_default();
        let token2 = token2.rsplit('/').next().unwrap_or_default().to_owned();
        exec(
            &app.store,
            "UPDATE imaging_share_link SET expires_at = created_at",
        )
        .await;
        let r = doctor.get(&format!("/s/{token2}")).await;
        assert_eq!(r.status, StatusCode::GONE, "{backend}");
        assert!(r.body.contains("expired"), "{backend}");
        assert_eq!(
            doctor.get("/s/nonsense").await.status,
            StatusCode::NOT_FOUND
        );

        // The resident sees the links and their opens; every attempt is in the audit log.
        let list = me.get("/me/imaging").await;
        assert!(list.body.contains("share-links"), "{backend}");
        assert_eq!(
            count(
                &app.store,
                "SELECT COUNT(*) FROM audit_log WHERE username LIKE 'share_link:%'"
            )
            .await,
            8,
            "{backend}"
        );
    }
}

const BOUNDARY: &str = "yiwei-recognition-boundary";

/// STOW-RS a synthetic study for the fixture's own resident (莫小红) and return its id.
pub(crate) async fn stow_own_study(app: &TestApp, rad: &User) -> i64 {
    use axum::body::Body;
    use axum::http::{Request, header};
    use tower::ServiceExt;
    let token = yiwei_store::session::create_api_token(&app.store, rad.id, "t", None)
        .await
        .expect("token");
    let mut s = yiwei_dicom::generate::Synthetic::new(11)
        .patient("莫小红", "F", "19580309")
        .modality("DX", "CHEST")
        .size(64, 64, 1);
    s.other_patient_ids = vec!["451226195803090089".into()];
    let instances = s.study(1, 3);
    let parts: Vec<(&str, &[u8])> = instances
        .iter()
        .map(|b| ("application/dicom", b.as_slice()))
        .collect();
    let request = Request::post("/dicom-web/studies")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/related; type=\"application/dicom\"; boundary={BOUNDARY}"),
        )
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(yiwei_dicom::multipart::build(BOUNDARY, &parts)))
        .expect("request");
    let response = app
        .router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK, "STOW");
    let id = count(&app.store, "SELECT MAX(id) FROM imaging_study").await;
    let v = Viewer {
        user: rad,
        remote_addr: None,
    };
    if count(
        &app.store,
        &format!("SELECT COUNT(*) FROM imaging_study WHERE id = {id} AND resident_id IS NOT NULL"),
    )
    .await
        == 0
    {
        imaging_gate::link_study(&app.store, &v, id, app.fixture.own_resident)
            .await
            .expect("linked");
    }
    id
}

#[tokio::test]
async fn an_ai_draft_is_read_from_the_pixels_and_a_shared_study_shows_its_images_only_with_the_grant()
 {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let rad = radiologist(&app.store).await;
        let id = stow_own_study(&app, &rad).await;

        // The radiologist asks for an AI draft: marked as such, never shown to the patient.
        let mut r = app.client();
        r.login("radiologist").await;
        let url = format!("/imaging/studies/{id}/report");
        let page = r.get(&url).await;
        assert!(page.body.contains("run-ai"), "{backend}");
        let csrf = page.csrf();
        let ai = r.post_form(&format!("{url}/ai"), &[("csrf", &csrf)]).await;
        assert_eq!(ai.status, StatusCode::SEE_OTHER, "{backend}: {}", ai.body);
        let page = r.get(&url).await;
        assert!(page.body.contains("ai-banner"), "{backend}");
        assert!(
            page.body.contains("lung fields"),
            "a chest radiograph gets the symmetry measure: {}",
            page.body
        );
        let again = r.post_form(&format!("{url}/ai"), &[("csrf", &csrf)]).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST, "{backend}");
        let mut me = app.client();
        me.login("resident").await;
        let view = me.get(&format!("/me/imaging/{id}")).await;
        assert_eq!(view.status, StatusCode::OK, "{backend}");
        assert!(
            !view.body.contains("AI"),
            "the patient never sees an AI draft"
        );
        assert_eq!(view.body.matches("rendered?accept=image/png").count(), 3);
        let download = me.get(&format!("/me/imaging/{id}/download")).await;
        assert_eq!(download.status, StatusCode::SEE_OTHER);
        assert!(download.location().starts_with("/dicom-web/studies/"));

        // Shared: the images come with the grant the PIN gave, and not without it.
        let csrf = me.get("/me/imaging").await.csrf();
        let made = me
            .post_form(&format!("/me/imaging/{id}/share"), &[("csrf", &csrf)])
            .await;
        let pick = |from: &str| {
            let s = made.body.find(from).expect(from) + from.len();
            made.body[s..]
                .split('<')
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        let token = pick("id=\"share-url\">")
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let pin = pick("id=\"share-pin\">");
        let mut doctor = app.client();
        let dcsrf = doctor.get(&format!("/s/{token}")).await.csrf();
        let opened = doctor
            .post_form(&format!("/s/{token}"), &[("csrf", &dcsrf), ("pin", &pin)])
            .await;
        assert_eq!(opened.status, StatusCode::OK, "{backend}");
        let marker = format!("/s/{token}/images/");
        let s = opened.body.find(&marker).expect("image url");
        let image_url = opened.body[s..]
            .split('"')
            .next()
            .unwrap_or_default()
            .replace("&amp;", "&");
        let image = doctor.get(&image_url).await;
        assert_eq!(image.status, StatusCode::OK, "{backend}: {image_url}");
        assert_eq!(image.headers[axum::http::header::CONTENT_TYPE], "image/png");
        let windowed = doctor.get(&format!("{image_url}&window=40,400")).await;
        assert_eq!(windowed.status, StatusCode::OK, "{backend}");
        let bad_window = doctor.get(&format!("{image_url}&window=40,-1")).await;
        assert_eq!(bad_window.status, StatusCode::BAD_REQUEST, "{backend}");
        let no_grant = image_url.split("?g=").next().unwrap_or_default().to_owned();
        assert_eq!(doctor.get(&no_grant).await.status, StatusCode::FORBIDDEN);
    }
}
