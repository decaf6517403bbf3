//! The public-health programmes on both backends: enrolment, recording a follow-up through
//! the access check (rules applied, encounter on the timeline, contract fulfilment, audit),
//! bad input refused with nothing written, the work list refreshed per resident and for
//! everyone, voiding, and the reminder outbox (queued once, exported with phones, audited).

use chrono::NaiveDate;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::programme::Status;
use yiwei_store::access::programmes as gate;
use yiwei_store::access::{AccessError, Viewer};
use yiwei_store::audit::{self, Action};
use yiwei_store::programme::{
    self, Catalogue, Episode, NewEnrolment, NewVisit, VisitError, WorkFilter,
};
use yiwei_store::user::User;
use yiwei_store::{Store, StoreError};

use crate::support::{County, int};

fn viewer(user: &User) -> Viewer<'_> {
    Viewer {
        user,
        remote_addr: Some("10.2.3.4".into()),
    }
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

const TODAY: (i32, u32, u32) = (2026, 11, 23);

fn today() -> NaiveDate {
    d(TODAY.0, TODAY.1, TODAY.2)
}

fn followup(date: NaiveDate, sys: &str, dia: &str) -> NewVisit {
    NewVisit {
        programme: "hypertension".into(),
        visit_code: None,
        visit_date: date,
        answers: vec![
            ("sys".into(), sys.into()),
            ("dia".into(), dia.into()),
            ("adverse_reaction".into(), "否".into()),
            ("new_complication".into(), "no".into()),
        ],
        institution_id: None,
        today: today(),
    }
}

async fn enrol_hypertension(store: &Store, c: &County, catalogue: &Catalogue, since: NaiveDate) {
    gate::enrol(
        store,
        &viewer(&c.doctor_a1),
        catalogue,
        c.dai,
        &NewEnrolment {
            programme: "hypertension".into(),
            started_on: since,
            episode: Episode::default(),
            today: today(),
        },
    )
    .await
    .expect("enrol");
}

fn form_problems<T: std::fmt::Debug>(result: Result<T, VisitError>) -> Vec<String> {
    match result {
        Err(VisitError::Form(problems)) => problems.into_iter().map(|p| p.key).collect(),
        other => panic!("expected form problems, got {other:?}"),
    }
}

conformance!(a_village_doctor_enrols_records_a_follow_up_and_the_work_list_moves_on);
async fn a_village_doctor_enrols_records_a_follow_up_and_the_work_list_moves_on(store: Store) {
    let c = County::build(&store).await;
    let catalogue = Catalogue::default();
    let doctor = viewer(&c.doctor_a1);
    enrol_hypertension(&store, &c, &catalogue, d(2026, 1, 10)).await;

    // Enrolled in January with no visit since: the follow-up is overdue on the work list.
    let filter = WorkFilter {
        root: c.village_a1.clone(),
        team_id: None,
        doctor_id: None,
        programme: Some("hypertension".into()),
        until: programme::period_end(today(), "week"),
        missed_within_days: 30,
        limit: 100,
    };
    let before = gate::worklist(&store, &doctor, &filter, today())
        .await
        .expect("list");
    let mine: Vec<_> = before.iter().filter(|w| w.resident_id == c.dai).collect();
    assert_eq!(mine.len(), 1, "{before:?}");
    assert_eq!(mine[0].status, Status::Overdue);
    assert_eq!(mine[0].name, "覃大");

    // 150/95 at 64: not controlled → recheck within two weeks.
    let recorded = gate::record_visit(
        &store,
        &doctor,
        &catalogue,
        c.dai,
        &followup(d(2026, 11, 20), "150", "95"),
    )
    .await
    .expect("record");
    assert_eq!(
        recorded.outcome.classification.map(|c| c.code()),
        Some("uncontrolled")
    );
    let visit = gate::open_programme_visit(&store, &doctor, recorded.visit_id)
        .await
        .expect("open");
    assert_eq!(visit.programme, "hypertension");
    assert_eq!(visit.visit_date, d(2026, 11, 20));
    assert_eq!(visit.division, c.village_a1.as_str());
    assert_eq!(visit.answers["sys"], serde_json::json!(150.0));
    assert_eq!(visit.classification.as_deref(), Some("uncontrolled"));
    assert!(matches!(
        visit.next_due,
        Some(yiwei_domain::programme::NextDue::By(_))
    ));

    // The visit is an encounter of the timeline, and the write was audited with it.
    let kind: i64 = int(
        &store,
        &format!(
            "SELECT COUNT(*) FROM encounter WHERE id = {} AND kind = 'follow_up' AND resident_id = {}",
            recorded.encounter_id, c.dai
        ),
    )
    .await;
    assert_eq!(kind, 1);
    let entry = audit::for_resident(&store, c.dai, 1, 0)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(entry.event.action, Action::Read, "the open came last");
    let created = int(
        &store,
        &format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'create' AND object_type = 'programme_visit' \
             AND object_id = '{}'",
            recorded.visit_id
        ),
    )
    .await;
    assert_eq!(created, 1);

    // The recheck is now due within two weeks of the visit.
    let overview = gate::programme_overview(&store, &doctor, c.dai, today())
        .await
        .expect("overview");
    let htn: Vec<_> = overview
        .due
        .iter()
        .filter(|(r, _)| r.programme == "hypertension")
        .collect();
    assert_eq!(htn.len(), 1, "{htn:?}");
    assert!(htn[0].0.due_by <= d(2026, 12, 4), "{:?}", htn[0]);
    assert_eq!(htn[0].1, Status::Due);
    assert_eq!(overview.visits.len(), 1);
    assert_eq!(overview.enrolments.len(), 1);
}

conformance!(bad_visits_are_refused_with_every_reason_and_nothing_is_written);
async fn bad_visits_are_refused_with_every_reason_and_nothing_is_written(store: Store) {
    let c = County::build(&store).await;
    let catalogue = Catalogue::default();
    let doctor = viewer(&c.doctor_a1);
    enrol_hypertension(&store, &c, &catalogue, d(2026, 1, 10)).await;
    let visits_before = int(&store, "SELECT COUNT(*) FROM programme_visit").await;
    let encounters_before = int(&store, "SELECT COUNT(*) FROM encounter").await;

    // 400/20: both out of range, and the diastolic is far below the systolic's plausible pair.
    let keys = form_problems(
        gate::record_visit(
            &store,
            &doctor,
            &catalogue,
            c.dai,
            &followup(d(2026, 11, 20), "400", "20"),
        )
        .await,
    );
    assert!(keys.contains(&"sys".to_owned()), "{keys:?}");
    assert!(keys.contains(&"dia".to_owned()), "{keys:?}");

    // Dated before birth (1962) and a required answer missing.
    let mut early = followup(d(1960, 1, 1), "130", "80");
    early.answers.retain(|(k, _)| k != "adverse_reaction");
    let keys = form_problems(gate::record_visit(&store, &doctor, &catalogue, c.dai, &early).await);
    assert!(keys.contains(&"visit_date".to_owned()), "{keys:?}");
    assert!(keys.contains(&"adverse_reaction".to_owned()), "{keys:?}");

    // In the future.
    let keys = form_problems(
        gate::record_visit(
            &store,
            &doctor,
            &catalogue,
            c.dai,
            &followup(d(2027, 1, 1), "130", "80"),
        )
        .await,
    );
    assert_eq!(keys, vec!["visit_date".to_owned()]);

    // Ana (41, not hypertensive) is not enrolled: refused, not silently stored.
    let keys = form_problems(
        gate::record_visit(
            &store,
            &doctor,
            &catalogue,
            c.ana,
            &followup(d(2026, 11, 20), "130", "80"),
        )
        .await,
    );
    assert_eq!(keys, vec!["programme".to_owned()]);

    // A second open enrolment in the same programme.
    let again = gate::enrol(
        &store,
        &doctor,
        &catalogue,
        c.dai,
        &NewEnrolment {
            programme: "hypertension".into(),
            started_on: d(2026, 2, 1),
            episode: Episode::default(),
            today: today(),
        },
    )
    .await;
    assert!(
        matches!(&again, Err(AccessError::Store(StoreError::Invalid(m))) if m.contains("already enrolled")),
        "{again:?}"
    );
    // Maternal care without dates, and for a man.
    let maternal = gate::enrol(
        &store,
        &doctor,
        &catalogue,
        c.dai,
        &NewEnrolment {
            programme: "maternal".into(),
            started_on: d(2026, 2, 1),
            episode: Episode::default(),
            today: today(),
        },
    )
    .await;
    assert!(matches!(
        maternal,
        Err(AccessError::Store(StoreError::Invalid(_)))
    ));

    assert_eq!(
        int(&store, "SELECT COUNT(*) FROM programme_visit").await,
        visits_before
    );
    assert_eq!(
        int(&store, "SELECT COUNT(*) FROM encounter").await,
        encounters_before
    );
    assert_eq!(
        int(&store, "SELECT COUNT(*) FROM programme_enrolment").await,
        1
    );
}

conformance!(outside_reach_and_aggregate_roles_are_refused_and_audited);
async fn outside_reach_and_aggregate_roles_are_refused_and_audited(store: Store) {
    let c = County::build(&store).await;
    let catalogue = Catalogue::default();
    enrol_hypertension(&store, &c, &catalogue, d(2026, 1, 10)).await;
    // Chen lives in township B: outside the village doctor of A1.
    let refused = gate::record_visit(
        &store,
        &viewer(&c.doctor_a1),
        &catalogue,
        c.chen,
        &followup(d(2026, 11, 20), "130", "80"),
    )
    .await;
    assert!(
        matches!(refused, Err(VisitError::Access(AccessError::Refused(_)))),
        "{refused:?}"
    );
    // The analyst sees aggregates, never a work list of names.
    let filter = WorkFilter {
        root: c.county.clone(),
        team_id: None,
        doctor_id: None,
        programme: None,
        until: today(),
        missed_within_days: 30,
        limit: 10,
    };
    let list = gate::worklist(&store, &viewer(&c.analyst), &filter, today()).await;
    assert!(matches!(list, Err(AccessError::Refused(_))), "{list:?}");
    let denied = int(
        &store,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'denied' AND object_type = 'worklist'",
    )
    .await;
    assert_eq!(denied, 1);
}

conformance!(voiding_keeps_the_visit_and_reopens_the_work);
async fn voiding_keeps_the_visit_and_reopens_the_work(store: Store) {
    let c = County::build(&store).await;
    let catalogue = Catalogue::default();
    let doctor = viewer(&c.doctor_a1);
    enrol_hypertension(&store, &c, &catalogue, d(2026, 1, 10)).await;
    let recorded = gate::record_visit(
        &store,
        &doctor,
        &catalogue,
        c.dai,
        &followup(d(2026, 11, 20), "128", "80"),
    )
    .await
    .expect("record");
    let short =
        gate::void_visit(&store, &doctor, &catalogue, recorded.visit_id, "x", today()).await;
    assert!(matches!(
        short,
        Err(AccessError::Store(StoreError::Invalid(_)))
    ));
    gate::void_visit(
        &store,
        &doctor,
        &catalogue,
        recorded.visit_id,
        "录错了居民",
        today(),
    )
    .await
    .expect("void");
    let visit = gate::open_programme_visit(&store, &doctor, recorded.visit_id)
        .await
        .unwrap();
    assert!(visit.voided);
    // The follow-up is overdue again: the voided visit no longer counts.
    let overview = gate::programme_overview(&store, &doctor, c.dai, today())
        .await
        .unwrap();
    assert!(
        overview
            .due
            .iter()
            .any(|(r, s)| r.programme == "hypertension" && *s == Status::Overdue),
        "{:?}",
        overview.due
    );
}

conformance!(refreshing_everyone_rebuilds_the_same_work_list);
async fn refreshing_everyone_rebuilds_the_same_work_list(store: Store) {
    let c = County::build(&store).await;
    let catalogue = Catalogue::default();
    enrol_hypertension(&store, &c, &catalogue, d(2026, 1, 10)).await;
    let per_resident = int(&store, "SELECT COUNT(*) FROM programme_due").await;
    assert!(per_resident >= 1);
    let mut calls = 0;
    let done = programme::refresh_all(&store, &catalogue, today(), |_, _| calls += 1)
        .await
        .expect("refresh");
    assert!(calls >= 1);
    assert_eq!(done.residents, 4);
    // Dai (64, hypertensive) has the follow-up; Ana (41) has nothing; everyone's rows are
    // rebuilt the same way as the per-resident refresh left them.
    assert_eq!(
        int(&store, "SELECT COUNT(*) FROM programme_due").await,
        i64::try_from(done.rows).unwrap()
    );
    assert_eq!(
        int(
            &store,
            &format!(
                "SELECT COUNT(*) FROM programme_due WHERE resident_id = {}",
                c.ana
            )
        )
        .await,
        0
    );
    assert!(
        int(
            &store,
            &format!(
                "SELECT COUNT(*) FROM programme_due WHERE resident_id = {} \
                 AND programme = 'hypertension' AND missed_on IS NULL",
                c.dai
            )
        )
        .await
            == 1
    );
}

conformance!(reminders_are_queued_once_and_exported_with_the_phone_under_audit);
async fn reminders_are_queued_once_and_exported_with_the_phone_under_audit(store: Store) {
    let c = County::build(&store).await;
    let catalogue = Catalogue::default();
    // Bo (A2, born 1990, has a phone) enrolled in hypertension management: with no visit
    // yet, the first follow-up is due.
    let bo_since = d(2026, 11, 1);
    gate::enrol(
        &store,
        &viewer(&c.clinician_a),
        &catalogue,
        c.bo,
        &NewEnrolment {
            programme: "hypertension".into(),
            started_on: bo_since,
            episode: Episode::default(),
            today: today(),
        },
    )
    .await
    .expect("enrol bo");
    let root: DivisionCode = c.township_a.clone();
    let queued = programme::queue_reminders(&store, &catalogue, &root, today(), 14)
        .await
        .expect("queue");
    assert_eq!(queued, 1);
    let again = programme::queue_reminders(&store, &catalogue, &root, today(), 14)
        .await
        .expect("queue again");
    assert_eq!(again, 0, "never twice for the same due visit");
    let pending = gate::outbox(&store, &viewer(&c.clinician_a), &root, "pending", 10)
        .await
        .expect("pending");
    assert_eq!(pending.len(), 1);
    assert!(pending[0].body.contains("蒙先生"), "{}", pending[0].body);
    assert!(!pending[0].body.contains("13907710002"));

    let out = gate::export_outbox(&store, &viewer(&c.clinician_a), &root, 100)
        .await
        .expect("export");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].phone, "13907710002");
    let left = gate::outbox(&store, &viewer(&c.clinician_a), &root, "pending", 10)
        .await
        .unwrap();
    assert!(left.is_empty());
    let reveals = int(
        &store,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'reveal' AND object_type = 'outbox'",
    )
    .await;
    assert_eq!(reveals, 1);
    // A resident's own account cannot export anyone's phones.
    let refused = gate::export_outbox(&store, &viewer(&c.resident_user), &root, 100).await;
    assert!(matches!(refused, Err(AccessError::Refused(_))));
}
