//! DICOMweb (issue 8) in process on both backends: STOW-RS with good, truncated and
//! non-DICOM parts, QIDO-RS matching, WADO-RS retrieve byte for byte, metadata, rendered
//! frames, FHIR ImagingStudy, and the refusals (401, 403 audited, 415, 400).

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use yiwei_dicom::generate::{Charset, Synthetic};
use yiwei_dicom::multipart;
use yiwei_domain::access::Role;
use yiwei_domain::division::DivisionCode;
use yiwei_store::audit::Who;
use yiwei_store::user::{self, NewUser};

use crate::support::{PASSWORD, TestApp, backends};

const BOUNDARY: &str = "yiwei-test-boundary-7d1e";

struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "JSON body expected, got {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

async fn send(app: &TestApp, request: Request<Body>) -> Raw {
    let response = app
        .router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Raw {
        status,
        headers,
        body: body.to_vec(),
    }
}

async fn get(app: &TestApp, uri: &str, token: &str, accept: Option<&str>) -> Raw {
    let mut r = Request::get(uri).header("authorization", format!("Bearer {token}"));
    if let Some(a) = accept {
        r = r.header(header::ACCEPT, a);
    }
    send(app, r.body(Body::empty()).unwrap()).await
}

async fn stow(app: &TestApp, uri: &str, token: Option<&str>, body: Vec<u8>) -> Raw {
    let mut r = Request::post(uri).header(
        header::CONTENT_TYPE,
        format!("multipart/related; type=\"application/dicom\"; boundary={BOUNDARY}"),
    );
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    send(app, r.body(Body::from(body)).unwrap()).await
}

async fn add_user(
    app: &TestApp,
    username: &str,
    role: Role,
    institution_code: &str,
    reach: &str,
) -> String {
    let institution = yiwei_store::org::by_code(&app.store, institution_code)
        .await
        .expect("institution")
        .id;
    let u = user::add(
        &app.store,
        &NewUser {
            username: username.into(),
            display_name: username.into(),
            role,
            institution_id: Some(institution),
            reach: DivisionCode::parse(reach).unwrap(),
            resident_id: None,
            password: PASSWORD.into(),
            phone: None,
        },
        &Who::default(),
    )
    .await
    .expect("user");
    yiwei_store::session::create_api_token(&app.store, u.id, "t", None)
        .await
        .expect("token")
}

async fn token_of(app: &TestApp, username: &str) -> String {
    let u = user::by_username(&app.store, username).await.expect("user");
    yiwei_store::session::create_api_token(&app.store, u.id, "t", None)
        .await
        .expect("token")
}

/// The home resident of the fixture (韦秀英, 1958-03-09, female) as a CT study.
fn home_study(seed: u64) -> Synthetic {
    let mut s = Synthetic::new(seed).patient("韦秀英", "F", "19580309");
    s.other_patient_ids = vec!["45122619580309002X".into()];
    s
}

#[tokio::test]
async fn stow_keeps_good_instances_beside_bad_parts_and_qido_wado_serve_them() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let modality = add_user(&app, "ct.room", Role::Radiologist, "H001", "451226").await;
        let s = home_study(1).size(16, 16, 1);
        let instances = s.study(2, 2);
        let truncated = &instances[0][..instances[0].len() / 2];
        let mut parts: Vec<(&str, &[u8])> = instances
            .iter()
            .map(|b| ("application/dicom", b.as_slice()))
            .collect();
        parts.insert(1, ("application/dicom", b"this is not DICOM".as_slice()));
        parts.push(("application/dicom", truncated));
        let r = stow(
            &app,
            "/dicom-web/studies",
            Some(&modality),
            multipart::build(BOUNDARY, &parts),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::ACCEPTED,
            "{backend}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let j = r.json();
        assert_eq!(j["00081199"]["Value"].as_array().unwrap().len(), 4);
        let failed = j["00081198"]["Value"].as_array().unwrap();
        assert_eq!(failed.len(), 2);
        assert!(failed.iter().all(|f| f["00081197"]["Value"][0] == 0xC000));
        assert_eq!(
            j["00081190"]["Value"][0],
            format!("/dicom-web/studies/{}", s.study_uid())
        );

        // Sending the same instances again stores nothing new and says all is well.
        let again = stow(
            &app,
            &format!("/dicom-web/studies/{}", s.study_uid()),
            Some(&modality),
            multipart::build(BOUNDARY, &[("application/dicom", &instances[0])]),
        )
        .await;
        assert_eq!(again.status, StatusCode::OK);
        // An instance of another study under this study's path fails alone (409: none kept).
        let other = home_study(2).instance(0, 0);
        let wrong = stow(
            &app,
            &format!("/dicom-web/studies/{}", s.study_uid()),
            Some(&modality),
            multipart::build(BOUNDARY, &[("application/dicom", &other)]),
        )
        .await;
        assert_eq!(wrong.status, StatusCode::CONFLICT);
        assert_eq!(
            wrong.json()["00081198"]["Value"][0]["00081197"]["Value"][0],
            0xA900
        );

        // QIDO-RS: the study by name prefix, date range, modality; series; instances.
        let doctor = token_of(&app, "county.doctor").await;
        let found = get(
            &app,
            "/dicom-web/studies?PatientName=%E9%9F%A6*&StudyDate=20261101-&ModalitiesInStudy=CT",
            &doctor,
            None,
        )
        .await;
        assert_eq!(found.status, StatusCode::OK);
        assert_eq!(
            found.headers[header::CONTENT_TYPE],
            "application/dicom+json"
        );
        let studies = found.json();
        assert_eq!(studies.as_array().unwrap().len(), 1);
        assert_eq!(studies[0]["0020000D"]["Value"][0], s.study_uid());
        assert_eq!(studies[0]["00201208"]["Value"][0], 4);
        assert_eq!(studies[0]["00100010"]["Value"][0]["Alphabetic"], "韦秀英");
        let none = get(
            &app,
            "/dicom-web/studies?StudyDate=-20200101",
            &doctor,
            None,
        )
        .await;
        assert_eq!(none.json(), Value::Array(vec![]));
        let bad = get(&app, "/dicom-web/studies?Nonsense=1", &doctor, None).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        let series = get(
            &app,
            &format!("/dicom-web/studies/{}/series", s.study_uid()),
            &doctor,
            None,
        )
        .await;
        assert_eq!(series.json().as_array().unwrap().len(), 2);
        let inst = get(
            &app,
            &format!(
                "/dicom-web/studies/{}/series/{}/instances?limit=1&offset=1",
                s.study_uid(),
                s.series_uid(0)
            ),
            &doctor,
            None,
        )
        .await;
        let inst = inst.json();
        assert_eq!(inst.as_array().unwrap().len(), 1);
        assert_eq!(inst[0]["00080018"]["Value"][0], s.sop_uid(0, 1));

        // WADO-RS: the instance comes back byte for byte, and the study in order.
        let one = get(
            &app,
            &format!(
                "/dicom-web/studies/{}/series/{}/instances/{}",
                s.study_uid(),
                s.series_uid(1),
                s.sop_uid(1, 0)
            ),
            &doctor,
            Some("multipart/related; type=\"application/dicom\"; transfer-syntax=*"),
        )
        .await;
        assert_eq!(one.status, StatusCode::OK);
        let ct =
            multipart::content_type(one.headers[header::CONTENT_TYPE].to_str().unwrap()).unwrap();
        let got = multipart::parse_all(&ct.boundary, &one.body, 1000).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, instances[2]);
        let whole = get(
            &app,
            &format!("/dicom-web/studies/{}", s.study_uid()),
            &doctor,
            None,
        )
        .await;
        let ct =
            multipart::content_type(whole.headers[header::CONTENT_TYPE].to_str().unwrap()).unwrap();
        let got: Vec<Vec<u8>> = multipart::parse_all(&ct.boundary, &whole.body, 4096)
            .unwrap()
            .into_iter()
            .map(|p| p.1)
            .collect();
        assert_eq!(got, instances);
        let transcode = get(
            &app,
            &format!("/dicom-web/studies/{}", s.study_uid()),
            &doctor,
            Some("multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.4.50"),
        )
        .await;
        assert_eq!(transcode.status, StatusCode::NOT_ACCEPTABLE);

        // Metadata: one object per instance, the name decoded, pixel data as a URI.
        let meta = get(
            &app,
            &format!("/dicom-web/studies/{}/metadata", s.study_uid()),
            &doctor,
            None,
        )
        .await;
        let meta = meta.json();
        assert_eq!(meta.as_array().unwrap().len(), 4);
        assert_eq!(meta[0]["00100010"]["Value"][0]["Alphabetic"], "韦秀英");
        let uri = meta[0]["7FE00010"]["BulkDataURI"]
            .as_str()
            .unwrap()
            .to_owned();
        let bulk = get(&app, &uri, &doctor, None).await;
        assert_eq!(bulk.status, StatusCode::OK);
        assert!(bulk.body.len() > 16 * 16 * 2);

        // FHIR ImagingStudy: by patient, date and modality, then read with its series.
        let bundle = get(
            &app,
            &format!(
                "/fhir/ImagingStudy?patient={}&date=ge2026-11-01&modality=CT",
                app.fixture.home_resident
            ),
            &doctor,
            None,
        )
        .await
        .json();
        assert_eq!(bundle["total"], 1, "{bundle}");
        let resource = &bundle["entry"][0]["resource"];
        assert_eq!(
            resource["identifier"][0]["value"],
            format!("urn:oid:{}", s.study_uid())
        );
        assert_eq!(
            resource["subject"]["reference"],
            format!("Patient/{}", app.fixture.home_resident)
        );
        let id = resource["id"].as_str().unwrap().to_owned();
        let read = get(&app, &format!("/fhir/ImagingStudy/{id}"), &doctor, None)
            .await
            .json();
        assert_eq!(read["series"].as_array().unwrap().len(), 2);
        assert_eq!(read["series"][0]["instance"].as_array().unwrap().len(), 2);
        assert_eq!(read["started"], "2026-11-20T10:15:00+08:00");
        let none = get(
            &app,
            &format!(
                "/fhir/ImagingStudy?patient={}&modality=MR",
                app.fixture.home_resident
            ),
            &doctor,
            None,
        )
        .await
        .json();
        assert_eq!(none["total"], 0);

        // Rendered: PNG on request, JPEG by default, a bad window refused.
        let base = format!(
            "/dicom-web/studies/{}/series/{}/instances/{}",
            s.study_uid(),
            s.series_uid(0),
            s.sop_uid(0, 0)
        );
        let png = get(
            &app,
            &format!("{base}/rendered?window=40,400"),
            &doctor,
            Some("image/png"),
        )
        .await;
        assert_eq!(png.status, StatusCode::OK);
        assert_eq!(&png.body[1..4], b"PNG");
        let jpeg = get(
            &app,
            &format!("{base}/frames/1/rendered?viewport=8,8"),
            &doctor,
            None,
        )
        .await;
        assert_eq!(jpeg.headers[header::CONTENT_TYPE], "image/jpeg");
        let no_frame = get(&app, &format!("{base}/frames/2/rendered"), &doctor, None).await;
        assert_eq!(no_frame.status, StatusCode::NOT_FOUND);
        let bad_window = get(&app, &format!("{base}/rendered?window=40,0"), &doctor, None).await;
        assert_eq!(bad_window.status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn unreachable_studies_are_refused_with_a_message_and_audited() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let modality = add_user(&app, "ct.room", Role::Radiologist, "H001", "451226").await;
        // A study of the resident of the other township (蒙桂芳), written mislabelled.
        let mut s = Synthetic::new(5)
            .patient("蒙桂芳", "F", "19580309")
            .charset(Charset::MislabelledGb18030);
        s.other_patient_ids = vec!["451226195803090062".into()];
        let bytes = s.instance(0, 0);
        let r = stow(
            &app,
            "/dicom-web/studies",
            Some(&modality),
            multipart::build(BOUNDARY, &[("application/dicom", &bytes)]),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);

        // The township-A doctor finds nothing in a search and is refused the study itself.
        let township = token_of(&app, "township.doctor").await;
        let list = get(&app, "/dicom-web/studies", &township, None).await;
        assert_eq!(list.json(), Value::Array(vec![]));
        let refused = get(
            &app,
            &format!("/dicom-web/studies/{}/metadata", s.study_uid()),
            &township,
            None,
        )
        .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let message = refused.json();
        assert!(
            message["error"]["message_zh"]
                .as_str()
                .unwrap()
                .contains("紧急授权")
        );
        let denied: i64 = match app.store.pool() {
            yiwei_store::Pool::Sqlite(p) => sqlx::query_scalar(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'denied' AND object_type = 'imaging_study'",
            )
            .fetch_one(p)
            .await
            .unwrap(),
            yiwei_store::Pool::Postgres(p) => sqlx::query_scalar(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'denied' AND object_type = 'imaging_study'",
            )
            .fetch_one(p)
            .await
            .unwrap(),
        };
        assert_eq!(denied, 1);

        // The county doctor reaches it, and the mislabelled name matches exactly.
        let county = token_of(&app, "county.doctor").await;
        let found = get(
            &app,
            "/dicom-web/studies?PatientName=%E8%92%99%E6%A1%82%E8%8A%B3",
            &county,
            None,
        )
        .await;
        assert_eq!(found.json().as_array().unwrap().len(), 1, "{backend}");

        // The township doctor cannot add an instance to it either (403: all refused).
        let township_tech = add_user(&app, "tw.tech", Role::Radiologist, "T100", "451226100").await;
        let extra = s.instance(0, 1);
        let r = stow(
            &app,
            "/dicom-web/studies",
            Some(&township_tech),
            multipart::build(BOUNDARY, &[("application/dicom", &extra)]),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(
            r.json()["00081198"]["Value"][0]["00081197"]["Value"][0],
            0x0124
        );

        // No token: 401; an analyst: refused; a wrong media type: 415.
        let r = stow(
            &app,
            "/dicom-web/studies",
            None,
            multipart::build(BOUNDARY, &[("application/dicom", &extra)]),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let analyst = token_of(&app, "analyst").await;
        let r = stow(
            &app,
            "/dicom-web/studies",
            Some(&analyst),
            multipart::build(BOUNDARY, &[("application/dicom", &extra)]),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = send(
            &app,
            Request::post("/dicom-web/studies")
                .header("authorization", format!("Bearer {modality}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let r = get(&app, "/dicom-web/studies/not-a-uid/metadata", &county, None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn the_staff_pages_list_show_and_link_studies() {
    let app = TestApp::new("sqlite").await;
    let modality = add_user(&app, "ct.room", Role::Radiologist, "H001", "451226").await;
    let s = home_study(11).size(16, 16, 1);
    let unknown = Synthetic::new(12).patient("Zhang^San", "M", "19700101");
    let body = multipart::build(
        BOUNDARY,
        &[
            ("application/dicom", &s.instance(0, 0)),
            ("application/dicom", &unknown.instance(0, 0)),
        ],
    );
    assert_eq!(
        stow(&app, "/dicom-web/studies", Some(&modality), body)
            .await
            .status,
        StatusCode::OK
    );

    let mut client = app.client();
    client.login("county.doctor").await;
    let list = client.get("/imaging?name=%E9%9F%A6").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("韦秀英"), "{}", list.body);
    assert!(!list.body.contains("Zhang San"));
    let queue = client.get("/imaging/queue").await;
    assert!(queue.body.contains("Zhang San"));
    let id = queue
        .body
        .split("/imaging/studies/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let page = client.get(&format!("/imaging/studies/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("/thumbnail?accept=image/png"));
    let csrf = page.csrf();
    let linked = client
        .post_form(
            &format!("/imaging/studies/{id}/link"),
            &[
                ("csrf", &csrf),
                ("resident", &app.fixture.own_resident.to_string()),
            ],
        )
        .await;
    assert_eq!(linked.status, StatusCode::SEE_OTHER);
    let page = client.get(&format!("/imaging/studies/{id}")).await;
    assert!(
        page.body
            .contains(&format!("/residents/{}", app.fixture.own_resident))
    );
    // The thumbnail is served to the browser session.
    let thumb_url = page
        .body
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    let thumb = client.get(&thumb_url).await;
    assert_eq!(thumb.status, StatusCode::OK);
    assert_eq!(thumb.headers[header::CONTENT_TYPE], "image/png");
}

#[tokio::test]
async fn a_new_study_gets_an_ai_draft_from_the_job_queue() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let modality = add_user(&app, "ct.ai", Role::Radiologist, "H001", "451226").await;
        let s = home_study(21).size(16, 16, 1);
        let instances = s.study(1, 3);
        let parts: Vec<(&str, &[u8])> = instances
            .iter()
            .map(|b| ("application/dicom", b.as_slice()))
            .collect();
        let r = stow(
            &app,
            "/dicom-web/studies",
            Some(&modality),
            multipart::build(BOUNDARY, &parts),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{backend}");
        // One job for the new study (not one per instance), due a minute later.
        let jobs = yiwei_store::job::recent(&app.store, 50)
            .await
            .expect("jobs");
        let drafts: Vec<_> = jobs.iter().filter(|j| j.kind == "ai_draft").collect();
        assert_eq!(drafts.len(), 1, "{backend}: {jobs:?}");
        assert!(drafts[0].run_at > yiwei_store::now(), "not due at once");
        let blobs = yiwei_dicom::blob::LocalFolder::new(app.images.clone());
        let made =
            yiwei_web::dicomweb::stow::run_ai_draft_job(&app.store, &blobs, &drafts[0].payload)
                .await
                .expect("job");
        assert!(made.is_some(), "{backend}: a draft for the radiologist");
        // Run again (a job whose runner died runs twice): nothing more.
        let again =
            yiwei_web::dicomweb::stow::run_ai_draft_job(&app.store, &blobs, &drafts[0].payload)
                .await
                .expect("job");
        assert_eq!(again, None);
        // A bad payload is an error of the job, not a panic.
        assert!(
            yiwei_web::dicomweb::stow::run_ai_draft_job(&app.store, &blobs, "{}")
                .await
                .is_err()
        );
    }
}
