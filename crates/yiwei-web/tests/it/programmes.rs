//! The public-health programme pages over HTTP: enrolling, the work list with its one-click
//! record link, the visit form's bad input (every problem next to its field, nothing
//! written) and its outcome, voiding, the reminder outbox with its CSV export, and the
//! refusals for roles without access to names.

use axum::http::StatusCode;
use chrono::{Duration, NaiveDate};

use crate::support::{Client, TestApp, backends};

fn today() -> NaiveDate {
    (chrono::Utc::now() + Duration::hours(8)).date_naive()
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    yiwei_store::on_pool!(&app.store, |pool| {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await
            .expect("count")
    })
}

async fn visit_form(client: &mut Client, resident: i64) -> String {
    let form = client
        .get(&format!(
            "/residents/{resident}/programmes/hypertension/visit"
        ))
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("name=\"sys\""));
    assert!(form.body.contains("高血压患者随访服务记录表"));
    form.csrf()
}

#[tokio::test]
async fn a_village_doctor_enrols_sees_the_work_list_and_records_a_follow_up() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let resident = app.fixture.home_resident;
        let mut client = app.client();
        client.login("village.doctor").await;

        // Enrol 韦秀英 (born 1958) in hypertension management from her programmes page.
        let page = client
            .get(&format!("/residents/{resident}/programmes"))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{backend}: {}", page.body);
        assert!(page.body.contains("id=\"enrol-form\""), "{backend}");
        let csrf = page.csrf();
        let since = (today() - Duration::days(200)).to_string();
        let reply = client
            .post_form(
                &format!("/residents/{resident}/programmes/enrol"),
                &[
                    ("csrf", &csrf),
                    ("programme", "hypertension"),
                    ("started_on", &since),
                ],
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::SEE_OTHER,
            "{backend}: {}",
            reply.body
        );

        // A start in the future is refused with a message, nothing written.
        let future = (today() + Duration::days(3)).to_string();
        let reply = client
            .post_form(
                &format!("/residents/{resident}/programmes/enrol"),
                &[
                    ("csrf", &csrf),
                    ("programme", "diabetes"),
                    ("started_on", &future),
                ],
            )
            .await;
        assert!(
            reply.body.contains("id=\"prog-error\""),
            "{backend}: {}",
            reply.body
        );
        assert_eq!(
            count(&app, "SELECT COUNT(*) FROM programme_enrolment").await,
            1
        );

        // The work list: she is overdue for the follow-up (enrolled 200 days ago, no visit)
        // and has the 65+ yearly check; each line links to its form.
        let list = client.get("/worklist?period=month").await;
        assert_eq!(list.status, StatusCode::OK, "{backend}: {}", list.body);
        let marker = format!("data-resident=\"{resident}\" data-programme=\"hypertension\"");
        assert!(list.body.contains(&marker), "{backend}: {}", list.body);
        assert!(list.body.contains("韦秀英"), "{backend}");
        assert!(
            list.body.contains(&format!(
                "/residents/{resident}/programmes/hypertension/visit?visit_code=followup"
            )),
            "{backend}"
        );

        // 400/20: both refused next to their fields; nothing is written.
        let csrf = visit_form(&mut client, resident).await;
        let uri = format!("/residents/{resident}/programmes/hypertension/visit");
        let date = today().to_string();
        let bad = client
            .post_form(
                &uri,
                &[
                    ("csrf", &csrf),
                    ("visit_code", "followup"),
                    ("visit_date", &date),
                    ("sys", "400"),
                    ("dia", "20"),
                    ("adverse_reaction", "0"),
                    ("new_complication", "0"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::OK, "{backend}");
        assert!(
            bad.body.contains("data-key=\"sys\""),
            "{backend}: {}",
            bad.body
        );
        assert!(bad.body.contains("data-key=\"dia\""), "{backend}");
        assert!(
            bad.body.contains("value=\"400\""),
            "{backend}: the typed value is kept"
        );
        assert_eq!(count(&app, "SELECT COUNT(*) FROM programme_visit").await, 0);

        // A date before birth.
        let bad = client
            .post_form(
                &uri,
                &[
                    ("csrf", &csrf),
                    ("visit_date", "1950-01-01"),
                    ("sys", "130"),
                    ("dia", "80"),
                    ("adverse_reaction", "0"),
                    ("new_complication", "0"),
                ],
            )
            .await;
        assert!(
            bad.body.contains("data-key=\"visit_date\""),
            "{backend}: {}",
            bad.body
        );
        assert_eq!(count(&app, "SELECT COUNT(*) FROM programme_visit").await, 0);

        // 150/95 at 68: under 150/90 is controlled for the elderly only if the diastolic
        // is below 90, so this is not controlled; the page says what follows.
        let good = client
            .post_form(
                &uri,
                &[
                    ("csrf", &csrf),
                    ("visit_code", "followup"),
                    ("visit_date", &date),
                    ("sys", "150"),
                    ("dia", "95"),
                    ("danger_signs", "2"),
                    ("adverse_reaction", "否"),
                    ("new_complication", "否"),
                ],
            )
            .await;
        assert_eq!(good.status, StatusCode::OK, "{backend}: {}", good.body);
        assert!(
            good.body.contains("id=\"outcome-classification\""),
            "{backend}: {}",
            good.body
        );
        assert_eq!(count(&app, "SELECT COUNT(*) FROM programme_visit").await, 1);
        assert_eq!(
            count(
                &app,
                "SELECT COUNT(*) FROM encounter WHERE kind = 'follow_up'"
            )
            .await,
            1
        );
        let visit_id: i64 = yiwei_store::on_pool!(&app.store, |pool| {
            sqlx::query_scalar::<_, i64>("SELECT id FROM programme_visit")
                .fetch_one(pool)
                .await
                .expect("visit")
        });

        // The visit page shows the answers with their labels; voiding needs a reason.
        let shown = client.get(&format!("/programme-visits/{visit_id}")).await;
        assert!(shown.body.contains("收缩压"), "{backend}");
        assert!(
            shown.body.contains("剧烈头痛或头晕"),
            "{backend}: codes shown by name"
        );
        let csrf = shown.csrf();
        let reply = client
            .post_form(
                &format!("/programme-visits/{visit_id}/void"),
                &[("csrf", &csrf), ("reason", "x")],
            )
            .await;
        assert!(reply.body.contains("id=\"void-error\""), "{backend}");
        let reply = client
            .post_form(
                &format!("/programme-visits/{visit_id}/void"),
                &[("csrf", &csrf), ("reason", "录入了错误的居民")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{backend}");
        assert_eq!(
            count(
                &app,
                "SELECT COUNT(*) FROM programme_visit WHERE voided_at IS NOT NULL"
            )
            .await,
            1
        );
    }
}

#[tokio::test]
async fn reminders_are_queued_and_exported_as_csv_with_phones_for_staff_only() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let mut client = app.client();
        client.login("village.doctor").await;
        // 韦秀英 (68, has a phone) has the yearly 65+ check open this year.
        let page = client.get("/outbox").await;
        assert_eq!(page.status, StatusCode::OK, "{backend}: {}", page.body);
        let csrf = page.csrf();
        // The work list is materialised: the daily job fills it; a page visit alone does not.
        let catalogue = yiwei_store::programme::Catalogue::default();
        yiwei_store::programme::refresh_all(&app.store, &catalogue, today(), |_, _| {})
            .await
            .expect("refresh");
        let reply = client
            .post_form(
                "/outbox/queue",
                &[
                    ("csrf", &csrf),
                    ("division", "451226100201"),
                    ("days", "366"),
                ],
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::SEE_OTHER,
            "{backend}: {}",
            reply.body
        );
        let queued = count(&app, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'").await;
        assert!(queued >= 1, "{backend}");
        let pending = client.get("/outbox?division=451226100201").await;
        assert!(
            pending.body.contains("韦先生/女士"),
            "{backend}: {}",
            pending.body
        );
        assert!(
            !pending.body.contains("13812345678"),
            "{backend}: no phones on the page"
        );

        let csv = client
            .post_form(
                "/outbox/export",
                &[("csrf", &csrf), ("division", "451226100201")],
            )
            .await;
        assert_eq!(csv.status, StatusCode::OK, "{backend}");
        assert!(
            csv.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv"),
            "{backend}"
        );
        assert!(csv.body.starts_with("id,phone,message\n"), "{backend}");
        assert!(csv.body.contains("13812345678"), "{backend}: {}", csv.body);
        assert_eq!(
            count(&app, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'").await,
            0
        );

        // The analyst sees figures, never names or phones.
        let mut analyst = app.client();
        analyst.login("analyst").await;
        assert_eq!(analyst.get("/worklist").await.status, StatusCode::FORBIDDEN);
        assert_eq!(analyst.get("/outbox").await.status, StatusCode::FORBIDDEN);
    }
}
