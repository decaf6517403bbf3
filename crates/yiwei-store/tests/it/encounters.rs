//! Encounters and health exams on both backends: recording and reading through the access
//! check, refusals outside reach, audit entries, validation, timeline order and paging,
//! the "last encounter" queries of the EHR-quality rule and 档案使用率, merged records, and
//! a backup round trip of the new tables.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::json;
use yiwei_domain::access::Refusal;
use yiwei_domain::exam::{EncounterKind, Measurements};
use yiwei_store::access::{self, AccessError, Viewer};
use yiwei_store::audit::{self, Action};
use yiwei_store::encounter::{self, NewEncounter, NewExam, TimelineFilter};
use yiwei_store::user::User;
use yiwei_store::{Store, StoreError, backup, empi};

use crate::support::{County, TestDb, int, keys};

fn viewer(user: &User) -> Viewer<'_> {
    Viewer {
        user,
        remote_addr: Some("10.2.3.4".into()),
    }
}

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

fn exam_on(day: NaiveDate) -> NewExam {
    NewExam {
        institution_id: None,
        started_at: Utc.from_utc_datetime(&day.and_hms_opt(1, 30, 0).unwrap()),
        exam_date: day,
        summary: "体检未见异常".into(),
        diagnoses: vec!["I10 原发性高血压".into(), "  ".into()],
        measurements: Measurements {
            temperature_c: Some(36.6),
            pulse_bpm: Some(76.0),
            respiration_per_min: Some(18.0),
            bp_left_sys: Some(146.0),
            bp_left_dia: Some(92.0),
            bp_right_sys: Some(142.0),
            bp_right_dia: Some(88.0),
            height_cm: Some(158.0),
            weight_kg: Some(61.5),
            waist_cm: Some(84.0),
            bmi: Some(99.0),
            fasting_glucose_mmol: Some(6.1),
        },
        self_care: Some("1".into()),
        cognition: Some("1".into()),
        emotion: Some("2".into()),
        sections: json!({
            "symptoms": ["头晕"],
            "lifestyle": {"exercise": "每天", "smoking": "从不吸烟", "drinking": "偶尔"},
            "auxiliary": {"ecg": "正常", "blood_routine": {"hb": 128}},
        }),
    }
}

fn visit(kind: EncounterKind, started_at: DateTime<Utc>, summary: &str) -> NewEncounter {
    NewEncounter {
        kind,
        institution_id: None,
        started_at,
        summary: summary.into(),
        diagnoses: Vec::new(),
    }
}

fn refusal<T: std::fmt::Debug>(result: Result<T, AccessError>) -> Refusal {
    match result {
        Err(AccessError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn invalid<T: std::fmt::Debug>(result: Result<T, AccessError>) -> String {
    match result {
        Err(AccessError::Store(StoreError::Invalid(message))) => message,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

async fn newest_entry_about(store: &Store, resident_id: i64) -> audit::Entry {
    audit::for_resident(store, resident_id, 1, 0)
        .await
        .expect("audit")
        .pop()
        .expect("an entry")
}

conformance!(a_village_doctor_records_an_exam_and_reads_it_back_with_its_bmi);
async fn a_village_doctor_records_an_exam_and_reads_it_back_with_its_bmi(store: Store) {
    let c = County::build(&store).await;
    let doctor = viewer(&c.doctor_a1);
    let day = NaiveDate::from_ymd_opt(2026, 5, 12).unwrap();
    let new = exam_on(day);
    let id = access::record_exam(&store, &doctor, c.ana, &new)
        .await
        .expect("record");

    let created = newest_entry_about(&store, c.ana).await;
    assert_eq!(created.event.action, Action::Create);
    assert_eq!(created.event.outcome, "ok");
    assert_eq!(created.event.basis.as_deref(), Some("subtree"));
    assert_eq!(created.event.object_type.as_deref(), Some("encounter"));
    assert_eq!(created.event.object_id, Some(id.to_string()));
    assert_eq!(created.event.resident_id, Some(c.ana));
    assert_eq!(created.event.who, c.doctor_a1.who());
    assert_eq!(created.event.remote_addr.as_deref(), Some("10.2.3.4"));

    let exam = access::open_exam(&store, &doctor, id).await.expect("open");
    let e = &exam.encounter;
    assert_eq!(
        (e.id, e.resident_id, e.kind),
        (id, c.ana, EncounterKind::HealthExam)
    );
    assert_eq!(e.division, c.village_a1, "the village at the time");
    assert_eq!(e.institution_id, c.clinic_a1, "the author's institution");
    assert_eq!(e.institution_name, "城西村卫生室");
    assert_eq!(e.author_id, Some(c.doctor_a1.id));
    assert_eq!(e.started_at, new.started_at);
    assert_eq!(e.summary, "体检未见异常");
    assert_eq!(e.diagnoses, vec!["I10 原发性高血压".to_owned()]);
    let figures = e.exam.as_ref().expect("figures");
    assert_eq!(figures.exam_date, day);
    let mut expected = new.measurements;
    expected.bmi = Some(24.6); // computed, the typed 99 ignored
    assert_eq!(figures.measurements, expected);
    assert_eq!(
        (
            figures.self_care.as_deref(),
            figures.cognition.as_deref(),
            figures.emotion.as_deref()
        ),
        (Some("1"), Some("1"), Some("2"))
    );
    assert_eq!(exam.sections, new.sections);
    let opened = newest_entry_about(&store, c.ana).await;
    assert_eq!(
        (opened.event.action, opened.event.object_type.as_deref()),
        (Action::Read, Some("encounter"))
    );
    assert_eq!(opened.event.object_id, Some(id.to_string()));

    // The township clinician sees it too; the encounter is not an exam for open_exam's
    // purposes when it is a plain visit.
    let clinician = viewer(&c.clinician_a);
    let visit_id = access::record_encounter(
        &store,
        &clinician,
        c.ana,
        &visit(EncounterKind::Outpatient, at(2026, 6, 1, 2), "咳嗽三天"),
    )
    .await
    .expect("visit");
    let got = access::open_encounter(&store, &clinician, visit_id)
        .await
        .expect("open");
    assert_eq!(
        (got.kind, got.institution_id, got.exam),
        (EncounterKind::Outpatient, c.centre_a, None)
    );
    assert!(matches!(
        access::open_exam(&store, &clinician, visit_id).await,
        Err(AccessError::Store(StoreError::NotFound(_)))
    ));
    assert!(matches!(
        access::open_encounter(&store, &clinician, 999_999).await,
        Err(AccessError::Store(StoreError::NotFound(_)))
    ));
}

conformance!(the_timeline_is_newest_first_across_institutions_and_pages);
async fn the_timeline_is_newest_first_across_institutions_and_pages(store: Store) {
    let c = County::build(&store).await;
    let doctor = viewer(&c.doctor_a1);
    let clinician = viewer(&c.clinician_a);
    let mut hospital_stay = visit(EncounterKind::Inpatient, at(2025, 3, 2, 3), "肺炎住院 7 天");
    hospital_stay.institution_id = Some(c.hospital);
    hospital_stay.diagnoses = vec!["J18.9 肺炎".into()];
    let stay = access::record_encounter(&store, &clinician, c.ana, &hospital_stay)
        .await
        .expect("stay");
    let exam = access::record_exam(
        &store,
        &doctor,
        c.ana,
        &exam_on(NaiveDate::from_ymd_opt(2025, 9, 1).unwrap()),
    )
    .await
    .expect("exam");
    let home = access::record_encounter(
        &store,
        &doctor,
        c.ana,
        &visit(EncounterKind::HomeVisit, at(2026, 1, 5, 8), "入户随访"),
    )
    .await
    .expect("home");
    let follow = access::record_encounter(
        &store,
        &doctor,
        c.ana,
        &visit(EncounterKind::FollowUp, at(2024, 12, 1, 8), "高血压随访"),
    )
    .await
    .expect("follow-up");
    // Someone else's encounter stays off ana's timeline.
    access::record_encounter(
        &store,
        &doctor,
        c.dai,
        &visit(EncounterKind::Outpatient, at(2026, 2, 1, 8), "感冒"),
    )
    .await
    .expect("dai");

    let all = TimelineFilter::default();
    let (list, total) = access::timeline(&store, &doctor, c.ana, &all, 50, 0)
        .await
        .expect("timeline");
    assert_eq!(total, 4);
    let ids: Vec<i64> = list.iter().map(|e| e.id).collect();
    assert_eq!(ids, vec![home, exam, stay, follow], "newest first");
    assert_eq!(list[2].institution_name, "环江县人民医院");
    assert_eq!(list[2].diagnoses, vec!["J18.9 肺炎".to_owned()]);
    assert!(list[1].exam.is_some() && list[0].exam.is_none());
    let read = newest_entry_about(&store, c.ana).await;
    assert_eq!(
        (read.event.action, read.event.object_type.as_deref()),
        (Action::Read, Some("timeline"))
    );

    let (page, total) = access::timeline(&store, &doctor, c.ana, &all, 2, 2)
        .await
        .expect("page 2");
    assert_eq!(total, 4);
    assert_eq!(
        page.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![stay, follow]
    );

    let window = TimelineFilter {
        from: Some(at(2025, 1, 1, 0)),
        to: Some(at(2026, 1, 5, 8)),
        exams_only: false,
    };
    let (list, total) = access::timeline(&store, &doctor, c.ana, &window, 50, 0)
        .await
        .expect("window");
    assert_eq!(total, 2, "from inclusive, to exclusive");
    assert_eq!(
        list.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![exam, stay]
    );
    let exams = TimelineFilter {
        exams_only: true,
        ..TimelineFilter::default()
    };
    let (list, total) = access::timeline(&store, &doctor, c.ana, &exams, 50, 0)
        .await
        .expect("exams");
    assert_eq!((total, list[0].id), (1, exam));
}

conformance!(writes_and_reads_outside_reach_are_refused_audited_and_leave_nothing);
async fn writes_and_reads_outside_reach_are_refused_audited_and_leave_nothing(store: Store) {
    let c = County::build(&store).await;
    let doctor = viewer(&c.doctor_a1);
    let exam = exam_on(NaiveDate::from_ymd_opt(2026, 5, 12).unwrap());

    // bo lives in the neighbouring village.
    assert_eq!(
        refusal(access::record_exam(&store, &doctor, c.bo, &exam).await),
        Refusal::OutsideReach
    );
    let denied = newest_entry_about(&store, c.bo).await;
    assert_eq!(
        (denied.event.action, denied.event.outcome),
        (Action::Denied, "denied")
    );
    assert_eq!(denied.event.reason.as_deref(), Some("create"));
    assert_eq!(denied.event.basis.as_deref(), Some("outside_reach"));
    assert_eq!(denied.event.object_type.as_deref(), Some("encounter"));

    // Aggregate roles and residents write no clinical records, own record or not.
    for user in [&c.analyst, &c.admin, &c.resident_user] {
        let v = viewer(user);
        assert_eq!(
            refusal(access::record_exam(&store, &v, c.ana, &exam).await),
            Refusal::AggregateRole,
            "{}",
            user.username
        );
    }
    assert_eq!(int(&store, "SELECT COUNT(*) FROM encounter").await, 0);
    assert_eq!(int(&store, "SELECT COUNT(*) FROM health_exam").await, 0);

    // Reads outside reach: the timeline and a single encounter.
    let clinician = viewer(&c.clinician_a);
    let chen_visit = {
        let mut v = visit(EncounterKind::Outpatient, at(2026, 4, 1, 1), "复诊");
        v.institution_id = Some(c.centre_b);
        let county_doctor = yiwei_store::user::User {
            reach: c.county.clone(),
            role: yiwei_domain::access::Role::Clinician,
            ..c.clinician_a.clone()
        };
        access::record_encounter(&store, &viewer(&county_doctor), c.chen, &v)
            .await
            .expect("a county-wide clinician records for chen")
    };
    assert_eq!(
        refusal(
            access::timeline(
                &store,
                &clinician,
                c.chen,
                &TimelineFilter::default(),
                50,
                0
            )
            .await
        ),
        Refusal::OutsideReach
    );
    let denied = newest_entry_about(&store, c.chen).await;
    assert_eq!(
        (denied.event.action, denied.event.object_type.as_deref()),
        (Action::Denied, Some("timeline"))
    );
    assert_eq!(
        refusal(access::open_encounter(&store, &clinician, chen_visit).await),
        Refusal::OutsideReach
    );
    let denied = newest_entry_about(&store, c.chen).await;
    assert_eq!(denied.event.object_id, Some(chen_visit.to_string()));
    // The resident reads their own timeline.
    let own = viewer(&c.resident_user);
    let (list, _) = access::timeline(&store, &own, c.ana, &TimelineFilter::default(), 10, 0)
        .await
        .expect("own timeline");
    assert!(list.is_empty());
    assert_eq!(
        refusal(access::timeline(&store, &own, c.bo, &TimelineFilter::default(), 10, 0).await),
        Refusal::NotOwnRecord
    );
}

conformance!(impossible_figures_and_bad_input_are_refused_with_a_message_and_write_nothing);
async fn impossible_figures_and_bad_input_are_refused_with_a_message_and_write_nothing(
    store: Store,
) {
    let c = County::build(&store).await;
    let doctor = viewer(&c.doctor_a1);
    let day = NaiveDate::from_ymd_opt(2026, 5, 12).unwrap();

    let mut high = exam_on(day);
    high.measurements.bp_left_sys = Some(300.0);
    high.measurements.bp_right_dia = Some(150.0);
    let message = invalid(access::record_exam(&store, &doctor, c.ana, &high).await);
    assert!(
        message.contains("bp_left_sys") && message.contains("60–280"),
        "{message}"
    );
    assert!(message.contains("bp_right_dia"), "{message}");

    let mut codes = exam_on(day);
    codes.self_care = Some("9".into());
    let message = invalid(access::record_exam(&store, &doctor, c.ana, &codes).await);
    assert!(message.contains("self_care"), "{message}");

    let mut sections = exam_on(day);
    sections.sections = json!(["not", "an", "object"]);
    invalid(access::record_exam(&store, &doctor, c.ana, &sections).await);

    let mut long = visit(EncounterKind::Outpatient, at(2026, 1, 1, 1), "");
    long.summary = "很".repeat(encounter::MAX_SUMMARY_CHARS + 1);
    invalid(access::record_encounter(&store, &doctor, c.ana, &long).await);

    let as_visit = visit(EncounterKind::HealthExam, at(2026, 1, 1, 1), "体检");
    invalid(access::record_encounter(&store, &doctor, c.ana, &as_visit).await);

    let mut nowhere = visit(EncounterKind::Outpatient, at(2026, 1, 1, 1), "");
    nowhere.institution_id = Some(987_654);
    let message = invalid(access::record_encounter(&store, &doctor, c.ana, &nowhere).await);
    assert!(message.contains("987654"), "{message}");

    assert_eq!(int(&store, "SELECT COUNT(*) FROM encounter").await, 0);
    assert_eq!(int(&store, "SELECT COUNT(*) FROM health_exam").await, 0);
    let created: Vec<_> = audit::for_resident(&store, c.ana, 50, 0)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| {
            e.event.action == Action::Create && e.event.object_type.as_deref() == Some("encounter")
        })
        .collect();
    assert!(created.is_empty(), "no create entry for a refused write");
}

conformance!(last_encounters_feed_the_ehr_rule_and_the_usage_rate_and_follow_merges);
async fn last_encounters_feed_the_ehr_rule_and_the_usage_rate_and_follow_merges(store: Store) {
    let c = County::build(&store).await;
    let clinician = viewer(&c.clinician_a);
    assert_eq!(
        encounter::last_encounter_at(&store, c.ana)
            .await
            .expect("last"),
        None
    );
    for (resident, when) in [
        (c.ana, at(2025, 2, 1, 1)),
        (c.ana, at(2026, 3, 1, 1)),
        (c.dai, at(2024, 6, 1, 1)),
        (c.bo, at(2026, 7, 1, 1)),
    ] {
        access::record_encounter(
            &store,
            &clinician,
            resident,
            &visit(EncounterKind::Outpatient, when, "门诊"),
        )
        .await
        .expect("visit");
    }
    assert_eq!(
        encounter::last_encounter_at(&store, c.ana)
            .await
            .expect("last"),
        Some(at(2026, 3, 1, 1))
    );
    let since = at(2025, 1, 1, 0);
    let within = encounter::last_encounters_within(&store, &c.township_a, since, 0, 100)
        .await
        .expect("within");
    assert_eq!(
        within,
        vec![(c.ana, at(2026, 3, 1, 1)), (c.bo, at(2026, 7, 1, 1))],
        "dai's visit is older than a year; chen lives elsewhere"
    );
    let first_page = encounter::last_encounters_within(&store, &c.township_a, since, 0, 1)
        .await
        .expect("page");
    let next = encounter::last_encounters_within(&store, &c.township_a, since, first_page[0].0, 1)
        .await
        .expect("next page");
    assert_eq!((first_page[0].0, next[0].0), (c.ana, c.bo), "keyset pages");
    assert_eq!(
        encounter::count_with_encounter_since(&store, &c.township_a, since)
            .await
            .expect("count"),
        2
    );
    assert_eq!(
        encounter::count_with_encounter_since(&store, &c.village_a1, since)
            .await
            .expect("count"),
        1
    );

    // Merge dai into ana: dai's history joins ana's timeline and counts for ana only.
    empi::merge(&store, c.ana, c.dai, None, "same person", &c.admin.who())
        .await
        .expect("merge");
    assert_eq!(
        encounter::last_encounter_at(&store, c.ana)
            .await
            .expect("last"),
        Some(at(2026, 3, 1, 1))
    );
    let (list, total) =
        access::timeline(&store, &clinician, c.ana, &TimelineFilter::default(), 50, 0)
            .await
            .expect("timeline");
    assert_eq!(total, 3);
    assert_eq!(list[2].resident_id, c.dai, "the merged record's visit");
    let everything =
        encounter::last_encounters_within(&store, &c.county, at(2000, 1, 1, 0), 0, 100)
            .await
            .expect("within");
    assert_eq!(
        everything.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![c.ana, c.bo]
    );
    // Nothing is written on a merged record.
    let message = invalid(
        access::record_encounter(
            &store,
            &clinician,
            c.dai,
            &visit(EncounterKind::Outpatient, at(2026, 8, 1, 1), "门诊"),
        )
        .await,
    );
    assert!(message.contains(&c.ana.to_string()), "{message}");
}

conformance!(encounters_and_exams_survive_a_backup_and_restore);
async fn encounters_and_exams_survive_a_backup_and_restore(store: Store) {
    let c = County::build(&store).await;
    let doctor = viewer(&c.doctor_a1);
    let id = access::record_exam(
        &store,
        &doctor,
        c.ana,
        &exam_on(NaiveDate::from_ymd_opt(2026, 5, 12).unwrap()),
    )
    .await
    .expect("exam");
    let mut sparse = exam_on(NaiveDate::from_ymd_opt(2026, 6, 12).unwrap());
    sparse.measurements = Measurements::default();
    sparse.self_care = None;
    sparse.sections = serde_json::Value::Null;
    let sparse_id = access::record_exam(&store, &doctor, c.ana, &sparse)
        .await
        .expect("sparse exam");
    let before = access::open_exam(&store, &doctor, id).await.expect("open");

    let target = TestDb::like(&store, keys()).await;
    let path = target.dir().join("backup.jsonl");
    backup::write(&store, &path, |_, _| {})
        .await
        .expect("backup");
    backup::restore(&target.store(), &path, |_, _| {})
        .await
        .expect("restore");
    let restored = target.store();
    let after = access::open_exam(&restored, &doctor, id)
        .await
        .expect("open restored");
    assert_eq!(after, before);
    let sparse_after = access::open_exam(&restored, &doctor, sparse_id)
        .await
        .expect("open sparse");
    assert!(
        sparse_after
            .encounter
            .exam
            .expect("figures")
            .measurements
            .is_empty()
    );
    assert_eq!(sparse_after.sections, json!({}));
    let next = access::record_encounter(
        &restored,
        &doctor,
        c.ana,
        &visit(
            EncounterKind::Outpatient,
            Utc::now() - Duration::days(1),
            "复诊",
        ),
    )
    .await
    .expect("a new encounter after restore");
    assert!(next > sparse_id, "ids continue after the restored ones");
    target.finish().await;
}

conformance!(
    an_exam_is_corrected_by_its_institution_keeping_the_old_version_and_voided_with_a_reason
);
async fn an_exam_is_corrected_by_its_institution_keeping_the_old_version_and_voided_with_a_reason(
    store: Store,
) {
    let c = County::build(&store).await;
    let doctor = viewer(&c.doctor_a1);
    let day = NaiveDate::from_ymd_opt(2026, 5, 12).unwrap();
    let id = access::record_exam(&store, &doctor, c.ana, &exam_on(day))
        .await
        .expect("record");
    // The weight was typed as 615 instead of 61.5 … say it was 61.0 and the waist 82.
    let mut fixed = exam_on(day);
    fixed.measurements.weight_kg = Some(61.0);
    fixed.measurements.waist_cm = Some(82.0);
    fixed.summary = "体检未见异常（更正体重）".into();

    // A reason is required; a stale version and an impossible figure are refused.
    let reason = invalid(access::correct_exam(&store, &doctor, id, 1, &fixed, " ").await);
    assert!(reason.contains("reason"), "{reason}");
    let stale = invalid(access::correct_exam(&store, &doctor, id, 7, &fixed, "体重录错").await);
    assert!(stale.contains("reload"), "{stale}");
    let mut impossible = fixed.clone();
    impossible.measurements.weight_kg = Some(615.0);
    invalid(access::correct_exam(&store, &doctor, id, 1, &impossible, "体重录错").await);
    // The township clinician may write to Ana's record but did not record this exam.
    assert_eq!(
        refusal(
            access::correct_exam(&store, &viewer(&c.clinician_a), id, 1, &fixed, "体重录错").await
        ),
        Refusal::OtherInstitution
    );
    let refused = newest_entry_about(&store, c.ana).await;
    assert_eq!(refused.event.outcome, "denied");

    let version = access::correct_exam(&store, &doctor, id, 1, &fixed, "体重录错")
        .await
        .expect("correct");
    assert_eq!(version, 2);
    let updated = newest_entry_about(&store, c.ana).await;
    assert_eq!(updated.event.action, Action::Update);
    assert_eq!(updated.event.object_id, Some(id.to_string()));
    let exam = access::open_exam(&store, &doctor, id).await.expect("open");
    let figures = exam.encounter.exam.as_ref().expect("figures");
    assert_eq!(figures.measurements.weight_kg, Some(61.0));
    assert_eq!(figures.measurements.bmi, Some(24.4), "recomputed");
    assert_eq!(exam.encounter.version, 2);
    assert_eq!(exam.encounter.summary, "体检未见异常（更正体重）");
    let revisions = access::exam_revisions(&store, &doctor, id)
        .await
        .expect("revisions");
    assert_eq!(revisions.len(), 1);
    assert_eq!(revisions[0].version, 1);
    assert_eq!(revisions[0].reason, "体重录错");
    assert_eq!(revisions[0].previous["exam"]["weight_kg"], json!(61.5));
    assert_eq!(revisions[0].previous["summary"], json!("体检未见异常"));

    // Voided: readable, marked, gone from the timeline and the usage figures.
    let before = encounter::last_encounter_at(&store, c.ana)
        .await
        .expect("last");
    assert!(before.is_some());
    invalid(access::void_encounter(&store, &doctor, id, 2, "").await);
    access::void_encounter(&store, &doctor, id, 2, "录入到错误的居民")
        .await
        .expect("void");
    let exam = access::open_exam(&store, &doctor, id).await.expect("open");
    let (_, why) = exam.encounter.voided.clone().expect("voided");
    assert_eq!(why, "录入到错误的居民");
    let (list, total) = access::timeline(&store, &doctor, c.ana, &TimelineFilter::default(), 50, 0)
        .await
        .expect("timeline");
    assert!(list.iter().all(|e| e.id != id), "{list:?}");
    assert_eq!(total, list.len() as i64);
    assert_eq!(
        encounter::last_encounter_at(&store, c.ana)
            .await
            .expect("last"),
        None
    );
    // A voided exam is neither corrected nor voided again.
    invalid(access::correct_exam(&store, &doctor, id, 3, &fixed, "再次更正").await);
    invalid(access::void_encounter(&store, &doctor, id, 3, "再次作废").await);
    assert_eq!(int(&store, "SELECT COUNT(*) FROM exam_revision").await, 1);
}
