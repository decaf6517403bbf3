//! Case report cards over HTTP: the form prefilled from the record, impossible dates and
//! forbidden disease/classification pairs answered with the field's message and nothing
//! written, a duplicate routed to CDC review, the review queue and a review action.

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use yiwei_domain::access::Role;
use yiwei_domain::division::DivisionCode;
use yiwei_store::audit::Who;
use yiwei_store::user::{self, NewUser};

use crate::support::{PASSWORD, TestApp, backends};

fn today() -> String {
    (Utc::now() + Duration::hours(8)).date_naive().to_string()
}

fn days_ago(n: i64) -> String {
    (Utc::now() + Duration::hours(8) - Duration::days(n))
        .date_naive()
        .to_string()
}

fn card<'a>(
    csrf: &'a str,
    disease: &'a str,
    class: &'a str,
    onset: &'a str,
    diag: &'a str,
    fill: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("patient_name", "韦秀英"),
        ("sex", "female"),
        ("birth_date", "1958-03-09"),
        ("guardian_name", ""),
        ("phone", "13812345678"),
        ("work_unit", ""),
        ("occupation", "farmer"),
        ("belongs", "county"),
        ("address_code", "451226100201"),
        ("address_detail", "城西村三组"),
        ("disease", disease),
        ("subtype", ""),
        ("case_class", class),
        ("course", ""),
        ("onset_date", onset),
        ("diagnosed_date", diag),
        ("diagnosed_time", "00:05"),
        ("death_date", ""),
        ("fill_date", fill),
        ("doctor", "覃医生"),
        ("remarks", ""),
    ]
}

async fn count_cards(app: &TestApp) -> i64 {
    let county = DivisionCode::parse("451226").unwrap();
    let today = (Utc::now() + Duration::hours(8)).date_naive();
    yiwei_store::notifiable::refresh_counts(&app.store, today - Duration::days(30), today)
        .await
        .expect("refresh");
    yiwei_store::notifiable::day_counts(&app.store, &county, today - Duration::days(30), today)
        .await
        .expect("counts")
        .iter()
        .map(|c| c.n)
        .sum()
}

#[tokio::test]
async fn bad_cards_are_answered_at_the_field_and_a_duplicate_goes_to_cdc_review() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let id = app.fixture.home_resident;
        let mut c = app.client();
        c.login("township.doctor").await;
        let form = c.get(&format!("/residents/{id}/cases/new")).await;
        assert_eq!(form.status, StatusCode::OK, "{backend}");
        assert!(
            form.body.contains("value=\"韦秀英\""),
            "prefilled from the record"
        );
        assert!(form.body.contains("value=\"451226100201\""));
        let csrf = form.csrf();
        let uri = format!("/residents/{id}/cases/new");
        let (t, y2, y1) = (today(), days_ago(2), days_ago(1));

        // Impossible dates: diagnosed before onset.
        let r = c
            .post_form(&uri, &card(&csrf, "influenza", "clinical", &y1, &y2, &t))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}");
        assert!(r.body.contains("id=\"err-diagnosed_at\""), "{}", r.body);
        assert!(
            r.body.contains(&format!("诊断日期 {y2} 早于发病日期 {y1}")),
            "{}",
            r.body
        );
        // A fill date in the future.
        let tomorrow = (Utc::now() + Duration::hours(8) + Duration::days(1))
            .date_naive()
            .to_string();
        let r = c
            .post_form(
                &uri,
                &card(&csrf, "influenza", "clinical", &y2, &y1, &tomorrow),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("填卡日期不能晚于今天"), "{}", r.body);
        // A date that does not exist.
        let r = c
            .post_form(
                &uri,
                &card(&csrf, "influenza", "clinical", "2025-02-30", &y1, &t),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("id=\"err-onset_date\""), "{}", r.body);
        // A forbidden pair: polio as a clinical diagnosis.
        let r = c
            .post_form(&uri, &card(&csrf, "polio", "clinical", &y2, &y1, &t))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.body.contains("脊髓灰质炎不能报告为“临床诊断病例”"),
            "{}",
            r.body
        );
        // Nothing was written by any of them.
        assert_eq!(count_cards(&app).await, 0, "{backend}");

        // A good card, then the same disease again: kept, and routed to CDC review.
        let r = c
            .post_form(&uri, &card(&csrf, "influenza", "clinical", &y2, &y1, &t))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = c.get(r.location()).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("待审核"), "{}", page.body);
        let r = c
            .post_form(&uri, &card(&csrf, "influenza", "clinical", &y2, &y1, &t))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let dup_path = r.location().to_owned();
        let second = c.get(&dup_path).await;
        assert!(
            second.body.contains("id=\"duplicate-notice\""),
            "{}",
            second.body
        );
        assert!(second.body.contains("疑似重卡"));
        assert_eq!(count_cards(&app).await, 2);
        // The clinician has no review queue.
        assert_eq!(c.get("/cdc/review").await.status, StatusCode::FORBIDDEN);

        // CDC staff see it in the queue and delete it as a duplicate, with a reason.
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
                reach: DivisionCode::parse("451226").unwrap(),
                resident_id: None,
                password: PASSWORD.into(),
                phone: None,
            },
            &by,
        )
        .await
        .expect("cdc user");
        let mut cdc = app.client();
        cdc.login("cdc").await;
        let queue = cdc.get("/cdc/review").await;
        assert_eq!(queue.status, StatusCode::OK);
        assert!(queue.body.contains("疑似重卡"), "{}", queue.body);
        let page = cdc.get(&dup_path).await;
        let csrf = page.csrf();
        let r = cdc
            .post_form(
                &format!("{dup_path}/review"),
                &[
                    ("csrf", &csrf),
                    ("version", "1"),
                    ("action", "delete_duplicate"),
                    ("reason", ""),
                ],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a reason is needed"
        );
        assert!(
            r.body.contains("reason of at least 2 characters"),
            "{}",
            r.body
        );
        let r = cdc
            .post_form(
                &format!("{dup_path}/review"),
                &[
                    ("csrf", &csrf),
                    ("version", "1"),
                    ("action", "delete_duplicate"),
                    ("reason", "与首卡重复"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = cdc.get(&dup_path).await;
        assert!(
            page.body.contains("已删除") && page.body.contains("与首卡重复"),
            "{}",
            page.body
        );
        assert_eq!(count_cards(&app).await, 1);
    }
}

async fn count_foodborne(app: &TestApp) -> i64 {
    let root = DivisionCode::parse("451226").unwrap();
    let cdc = cdc_user(app, "cdc.fb").await;
    let viewer = yiwei_store::access::Viewer {
        user: &cdc,
        remote_addr: None,
    };
    yiwei_store::access::foodborne_list(&app.store, &viewer, &root, 1000, 0)
        .await
        .expect("list")
        .1
}

async fn cdc_user(app: &TestApp, name: &str) -> yiwei_store::user::User {
    add_user(app, name, Role::CdcStaff, "451226").await
}

async fn add_user(app: &TestApp, name: &str, role: Role, reach: &str) -> yiwei_store::user::User {
    if let Ok(u) = user::by_username(&app.store, name).await {
        return u;
    }
    let by = Who {
        username: Some("test".into()),
        ..Who::default()
    };
    user::add(
        &app.store,
        &NewUser {
            username: name.into(),
            display_name: "疾控测试".into(),
            role,
            institution_id: None,
            reach: DivisionCode::parse(reach).unwrap(),
            resident_id: None,
            password: PASSWORD.into(),
            phone: None,
        },
        &by,
    )
    .await
    .expect("user");
    user::by_username(&app.store, name).await.expect("lookup")
}

fn foodborne<'a>(
    csrf: &'a str,
    onset: &'a str,
    visit: &'a str,
    fill: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("patient_name", "韦秀英"),
        ("sex", "female"),
        ("birth_date", "1958-03-09"),
        ("phone", "13812345678"),
        ("address_code", "451226100201"),
        ("onset_date", onset),
        ("onset_time", "20:00"),
        ("visit_date", visit),
        ("visit_time", "08:30"),
        ("symptoms", "diarrhoea"),
        ("symptoms", "vomiting"),
        ("suspected_food", "凉拌米粉"),
        ("food_place", "村宴"),
        ("shared_meal", "40"),
        ("shared_ill", "6"),
        ("specimen_taken", "yes"),
        ("diagnosis", "急性胃肠炎"),
        ("fill_date", fill),
        ("doctor", "覃医生"),
    ]
}

#[tokio::test]
async fn foodborne_reports_are_checked_at_the_field_shown_and_kept_within_reach() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let id = app.fixture.home_resident;
        let mut c = app.client();
        c.login("township.doctor").await;
        let resident = c.get(&format!("/residents/{id}")).await;
        assert!(
            resident
                .body
                .contains(&format!("/residents/{id}/foodborne/new")),
            "{backend}: a link from the resident's page"
        );
        let uri = format!("/residents/{id}/foodborne/new");
        let form = c.get(&uri).await;
        assert_eq!(form.status, StatusCode::OK, "{backend}");
        assert!(form.body.contains("value=\"韦秀英\""), "prefilled");
        assert!(form.body.contains("value=\"451226100201\""));
        let csrf = form.csrf();
        let (y2, y1, t) = (days_ago(2), days_ago(1), today());

        // Impossible order: the visit before the onset.
        let r = c.post_form(&uri, &foodborne(&csrf, &y1, &y2, &t)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}");
        assert!(r.body.contains("id=\"err-visit_at\""), "{}", r.body);
        assert!(r.body.contains("就诊时间早于发病时间"), "{}", r.body);
        assert!(r.body.contains("value=\"凉拌米粉\""), "typed values kept");
        assert!(r.body.contains("value=\"vomiting\" checked"), "{}", r.body);
        // More ill than ate.
        let mut bad = foodborne(&csrf, &y2, &y1, &t);
        bad.retain(|(k, _)| *k != "shared_ill");
        bad.push(("shared_ill", "41"));
        let r = c.post_form(&uri, &bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("id=\"err-shared_ill\""), "{}", r.body);
        assert_eq!(count_foodborne(&app).await, 0, "{backend}: nothing written");

        // A valid report: saved and shown.
        let r = c.post_form(&uri, &foodborne(&csrf, &y2, &y1, &t)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let path = r.location().to_owned();
        assert!(path.starts_with("/foodborne/"), "{path}");
        let page = c.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.body.contains("凉拌米粉") && page.body.contains("急性胃肠炎"),
            "{}",
            page.body
        );
        assert!(page.body.contains("腹泻、呕吐"), "{}", page.body);
        assert_eq!(count_foodborne(&app).await, 1);

        // The clinician has no CDC list.
        assert_eq!(c.get("/cdc/foodborne").await.status, StatusCode::FORBIDDEN);

        // CDC staff list it with its timeliness.
        cdc_user(&app, "cdc").await;
        let mut cdc = app.client();
        cdc.login("cdc").await;
        let home = cdc.get("/").await;
        assert!(home.body.contains("href=\"/cdc/foodborne\""), "nav link");
        let list = cdc.get("/cdc/foodborne").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        assert!(
            list.body.contains(&format!("href=\"{path}\"")) && list.body.contains("按时报告"),
            "{}",
            list.body
        );

        // Users outside reach: the township doctor for another township's resident,
        // and a clinician of another township for this report.
        let other_id = app.fixture.other_township_resident;
        let other_uri = format!("/residents/{other_id}/foodborne/new");
        assert_eq!(c.get(&other_uri).await.status, StatusCode::FORBIDDEN);
        let r = c
            .post_form(&other_uri, &foodborne(&csrf, &y2, &y1, &t))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        add_user(&app, "other.doctor", Role::Clinician, "451226101").await;
        let mut other = app.client();
        other.login("other.doctor").await;
        assert_eq!(other.get(&path).await.status, StatusCode::FORBIDDEN);
        assert_eq!(count_foodborne(&app).await, 1, "{backend}");
    }
}

#[tokio::test]
async fn cdc_reviews_foodborne_reports_with_reasons_and_history() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let id = app.fixture.home_resident;
        let mut c = app.client();
        c.login("township.doctor").await;
        let uri = format!("/residents/{id}/foodborne/new");
        let csrf = c.get(&uri).await.csrf();
        let (y2, y1, t) = (days_ago(2), days_ago(1), today());
        let first = c.post_form(&uri, &foodborne(&csrf, &y2, &y1, &t)).await;
        let first = first.location().to_owned();
        let second = c.post_form(&uri, &foodborne(&csrf, &y2, &y1, &t)).await;
        let second = second.location().to_owned();
        assert!(second.starts_with("/foodborne/"), "{backend}: {second}");

        cdc_user(&app, "cdc").await;
        let mut cdc = app.client();
        cdc.login("cdc").await;
        let page = cdc.get(&first).await;
        assert!(page.body.contains("id=\"review-form\""), "{}", page.body);
        let csrf = page.csrf();
        let review = |path: &str| format!("{path}/review");

        // Accept the first.
        let r = cdc
            .post_form(
                &review(&first),
                &[
                    ("csrf", csrf.as_str()),
                    ("version", "1"),
                    ("action", "accept"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{backend}: {}", r.body);
        let page = cdc.get(&first).await;
        assert!(page.body.contains("已审核"), "{}", page.body);
        assert!(
            page.body.contains("id=\"foodborne-history\""),
            "{}",
            page.body
        );
        assert!(!page.body.contains("id=\"review-form\""), "reviewed once");

        // Return without a reason: refused, nothing changes.
        let r = cdc
            .post_form(
                &review(&second),
                &[
                    ("csrf", csrf.as_str()),
                    ("version", "1"),
                    ("action", "return"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}");
        assert!(r.body.contains("id=\"review-error\""), "{}", r.body);
        assert!(r.body.contains("reason"), "{}", r.body);
        let page = cdc.get(&second).await;
        assert!(page.body.contains("待审核"), "{}", page.body);
        assert!(
            !page.body.contains("id=\"foodborne-history\""),
            "no history yet"
        );

        // A clinician may not review.
        let doc_csrf = c.get(&second).await.csrf();
        let r = c
            .post_form(
                &review(&second),
                &[
                    ("csrf", doc_csrf.as_str()),
                    ("version", "1"),
                    ("action", "accept"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{backend}: {}", r.body);

        // With a reason: returned, with a history row.
        let r = cdc
            .post_form(
                &review(&second),
                &[
                    ("csrf", csrf.as_str()),
                    ("version", "1"),
                    ("action", "return"),
                    ("reason", "可疑食品请写明品牌"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{backend}: {}", r.body);
        let page = cdc.get(&second).await;
        assert!(page.body.contains("已退回"), "{}", page.body);
        assert!(
            page.body.contains("id=\"foodborne-history\"")
                && page.body.contains("可疑食品请写明品牌"),
            "{}",
            page.body
        );
        // A stale version is refused.
        let r = cdc
            .post_form(
                &review(&second),
                &[
                    ("csrf", csrf.as_str()),
                    ("version", "1"),
                    ("action", "accept"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}");

        // The reporting clinician finds it among the returned reports and corrects it.
        let queue = c.get("/cases/returned").await;
        assert!(
            queue.body.contains("href=\"/foodborne/returned\""),
            "{}",
            queue.body
        );
        let returned = c.get("/foodborne/returned").await;
        assert_eq!(returned.status, StatusCode::OK, "{}", returned.body);
        assert!(
            returned.body.contains(&format!("href=\"{second}\""))
                && !returned.body.contains(&format!("href=\"{first}\"")),
            "{}",
            returned.body
        );
        let page = c.get(&second).await;
        assert!(
            page.body.contains("id=\"foodborne-resubmit\""),
            "{}",
            page.body
        );
        assert!(
            !cdc.get(&second)
                .await
                .body
                .contains("id=\"foodborne-resubmit\""),
            "the CDC does not correct reports"
        );
        let fix_uri = format!("{second}/resubmit");
        let form = c.get(&fix_uri).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        assert!(form.body.contains("可疑食品请写明品牌"), "the CDC's reason");
        assert!(
            form.body.contains("value=\"13812345678\"") && form.body.contains("value=\"凉拌米粉\""),
            "prefilled from the stored report: {}",
            form.body
        );
        let fix_csrf = form.csrf();
        let mut fixed = foodborne(&fix_csrf, &y2, &y1, &t);
        fixed.retain(|(k, _)| *k != "suspected_food");
        fixed.push(("suspected_food", "凉拌米粉（桂林米粉厂散装）"));
        fixed.push(("version", "2"));
        fixed.push(("note", "已写明米粉来源"));
        // An impossible correction is refused at its field; nothing changes.
        let mut wrong = fixed.clone();
        wrong.retain(|(k, _)| *k != "shared_ill");
        wrong.push(("shared_ill", "41"));
        let r = c.post_form(&fix_uri, &wrong).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}");
        assert!(r.body.contains("id=\"err-shared_ill\""), "{}", r.body);
        assert!(cdc.get(&second).await.body.contains("已退回"));
        // The correction goes back to review with the clinician's note in the history.
        let r = c.post_form(&fix_uri, &fixed).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{backend}: {}", r.body);
        let page = cdc.get(&second).await;
        assert!(
            page.body.contains("待审核")
                && page.body.contains("桂林米粉厂散装")
                && page.body.contains("已写明米粉来源")
                && page.body.contains("重新提交"),
            "{}",
            page.body
        );
        assert!(page.body.contains("id=\"review-form\""), "reviewable again");
        // The same version again is stale.
        let r = c.post_form(&fix_uri, &fixed).await;
        assert_ne!(r.status, StatusCode::SEE_OTHER, "{backend}: stale");
        let returned = c.get("/foodborne/returned").await;
        assert!(!returned.body.contains(&format!("href=\"{second}\"")));
    }
}

#[tokio::test]
async fn a_returned_card_is_corrected_by_its_clinician_and_goes_back_to_review() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let id = app.fixture.home_resident;
        let mut c = app.client();
        c.login("township.doctor").await;
        let csrf = c.get(&format!("/residents/{id}/cases/new")).await.csrf();
        let (t, y2, y1) = (today(), days_ago(2), days_ago(1));
        let r = c
            .post_form(
                &format!("/residents/{id}/cases/new"),
                &card(&csrf, "influenza", "clinical", &y2, &y1, &t),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let path = r.location().to_owned();
        // Nothing to correct yet: the form sends the clinician back to the card.
        let r = c.get(&format!("{path}/resubmit")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{backend}");

        cdc_user(&app, "cdc.ret").await;
        let mut cdc = app.client();
        cdc.login("cdc.ret").await;
        let csrf_cdc = cdc.get(&path).await.csrf();
        let r = cdc
            .post_form(
                &format!("{path}/review"),
                &[
                    ("csrf", &csrf_cdc),
                    ("version", "1"),
                    ("action", "return"),
                    ("reason", "详细地址不全"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

        // The clinician finds it in the returned queue, with a link to correct it.
        let queue = c.get("/cases/returned").await;
        assert_eq!(queue.status, StatusCode::OK);
        assert!(
            queue.body.contains(&format!("href=\"{path}\"")),
            "{}",
            queue.body
        );
        let page = c.get(&path).await;
        assert!(page.body.contains("id=\"resubmit-link\""), "{}", page.body);
        let form = c.get(&format!("{path}/resubmit")).await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(
            form.body.contains("详细地址不全"),
            "the CDC's reason is shown"
        );
        assert!(
            form.body.contains("value=\"城西村三组\""),
            "prefilled from the card"
        );
        let csrf = form.csrf();
        let mut fields = card(&csrf, "influenza", "clinical", &y2, &y1, &t);
        fields.retain(|(k, _)| *k != "address_detail");
        fields.push(("address_detail", "城西村三组12号"));
        fields.push(("version", "2"));
        fields.push(("note", "补充门牌号"));
        // A bad correction is answered at the field and changes nothing.
        let mut bad = fields.clone();
        bad.retain(|(k, _)| *k != "onset_date");
        bad.push(("onset_date", &t));
        let r = c.post_form(&format!("{path}/resubmit"), &bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}");
        assert!(r.body.contains("id=\"err-diagnosed_at\""), "{}", r.body);
        let r = c.post_form(&format!("{path}/resubmit"), &fields).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = c.get(&path).await;
        assert!(page.body.contains("待审核"), "{}", page.body);
        assert!(page.body.contains("补充门牌号"), "{}", page.body);
        assert!(!page.body.contains("id=\"resubmit-link\""));
        assert!(
            !c.get("/cases/returned")
                .await
                .body
                .contains(&format!("href=\"{path}\""))
        );
    }
}
