//! Notifiable-disease case reports on both backends: writing through the access check with
//! an audit row, refusals and invalid cards that write nothing, probable duplicates routed
//! to review, the review actions with their history (including 订正), daily counts and
//! series, idempotent signals and their workflow, and timeliness per institution.

use chrono::{Duration, NaiveDate};
use serde_json::json;
use yiwei_domain::access::Role;
use yiwei_domain::notifiable::card::{Belongs, Card, CardKind};
use yiwei_domain::notifiable::{
    CardStatus, CaseClass, Course, ReviewAction, SignalStatus, SignalStep,
};
use yiwei_store::access::{self, AccessError, Viewer};
use yiwei_store::audit::Who;
use yiwei_store::notifiable::{self, CaseFilter, NewSignal, Revision, Settings, SignalFilter};
use yiwei_store::user::User;
use yiwei_store::{Store, StoreError};

use crate::support::{County, UserSpec, add_user, blob, contains_bytes, int};

fn viewer(user: &User) -> Viewer<'_> {
    Viewer {
        user,
        remote_addr: Some("10.9.8.7".into()),
    }
}

fn settings(county: &County) -> Settings {
    Settings::new(county.county.clone())
}

/// A card for ana (born 1985-03-15, village A1), diagnosed an hour ago local time.
fn card(county: &County, disease: &str) -> Card {
    let s = settings(county);
    let now = s.to_local(yiwei_store::now());
    let diagnosed = now - Duration::hours(1);
    Card {
        kind: CardKind::Initial,
        patient_name: "安测试".into(),
        guardian_name: String::new(),
        sex: "female".into(),
        birth_date: NaiveDate::from_ymd_opt(1985, 3, 15).unwrap(),
        work_unit: String::new(),
        phone: "13807710001".into(),
        belongs: Belongs::County,
        address_code: county.village_a1.as_str().into(),
        address_detail: "城西村一组".into(),
        occupation: "farmer".into(),
        disease: disease.into(),
        subtype: None,
        case_class: CaseClass::Clinical,
        course: None,
        onset_date: diagnosed.date() - Duration::days(2),
        diagnosed_at: diagnosed,
        death_date: None,
        fill_date: diagnosed.date(),
        doctor: "覃医生".into(),
        remarks: String::new(),
    }
}

async fn cdc_user(store: &Store, county: &County) -> User {
    add_user(
        store,
        UserSpec {
            username: "cdc.staff",
            role: Role::CdcStaff,
            institution: Some(county.hospital),
            reach: &county.county,
            resident: None,
            phone: None,
        },
        &Who::default(),
    )
    .await
}

conformance!(a_card_is_written_with_its_audit_row_and_a_second_one_is_a_probable_duplicate);
async fn a_card_is_written_with_its_audit_row_and_a_second_one_is_a_probable_duplicate(
    store: Store,
) {
    let county = County::build(&store).await;
    let s = settings(&county);
    let audits = int(&store, "SELECT COUNT(*) FROM audit_log").await;
    let first = access::report_case(
        &store,
        &viewer(&county.clinician_a),
        &s,
        county.ana,
        &card(&county, "influenza"),
    )
    .await
    .expect("first card");
    assert_eq!(first.status, CardStatus::Pending);
    assert!(
        first.on_time,
        "reported an hour after diagnosis, within 24 h"
    );
    assert!(first.card_no.starts_with("451226"), "{}", first.card_no);
    assert_eq!(
        int(&store, "SELECT COUNT(*) FROM audit_log").await,
        audits + 1
    );
    let phone = blob(&store, "case_report", "phone_enc", first.id)
        .await
        .expect("phone kept");
    assert!(
        !contains_bytes(&phone, b"13807710001"),
        "phone is encrypted"
    );

    let second = access::report_case(
        &store,
        &viewer(&county.clinician_a),
        &s,
        county.ana,
        &card(&county, "influenza"),
    )
    .await
    .expect("second card is kept, not refused");
    assert_eq!(second.status, CardStatus::ProbableDuplicate);
    assert_eq!(second.duplicate_of, Some(first.id));

    let other = access::report_case(
        &store,
        &viewer(&county.clinician_a),
        &s,
        county.ana,
        &card(&county, "mumps"),
    )
    .await
    .expect("another disease");
    assert_eq!(other.status, CardStatus::Pending);

    let (read, history) = access::open_case(&store, &viewer(&county.clinician_a), first.id)
        .await
        .expect("open");
    assert_eq!(read.phone.as_deref(), Some("13807710001"));
    assert_eq!(read.township, county.township_a.as_str());
    assert!(history.is_empty());
}

conformance!(refused_and_invalid_cards_write_nothing);
async fn refused_and_invalid_cards_write_nothing(store: Store) {
    let county = County::build(&store).await;
    let s = settings(&county);
    // chen lives in township B, outside clinician A's reach.
    let err = access::report_case(
        &store,
        &viewer(&county.clinician_a),
        &s,
        county.chen,
        &card(&county, "influenza"),
    )
    .await
    .expect_err("outside reach");
    assert!(matches!(err, AccessError::Refused(_)), "{err:?}");
    // An analyst writes no clinical records.
    let err = access::report_case(
        &store,
        &viewer(&county.analyst),
        &s,
        county.ana,
        &card(&county, "influenza"),
    )
    .await
    .expect_err("aggregate role");
    assert!(matches!(err, AccessError::Refused(_)), "{err:?}");
    // Hepatitis B cannot be a clinical diagnosis, and needs its course.
    let mut bad = card(&county, "hepatitis");
    bad.subtype = Some("hbv".into());
    let err = access::report_case(&store, &viewer(&county.clinician_a), &s, county.ana, &bad)
        .await
        .expect_err("forbidden pair");
    match err {
        AccessError::Store(StoreError::Invalid(msg)) => {
            assert!(
                msg.contains("case_class") && msg.contains("course"),
                "{msg}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(int(&store, "SELECT COUNT(*) FROM case_report").await, 0);
}

conformance!(review_actions_change_status_keep_history_and_revise_writes_a_correction);
async fn review_actions_change_status_keep_history_and_revise_writes_a_correction(store: Store) {
    let county = County::build(&store).await;
    let s = settings(&county);
    let cdc = cdc_user(&store, &county).await;
    let report = |disease: &'static str| {
        let store = store.clone();
        let county = &county;
        let s = s.clone();
        async move {
            access::report_case(
                &store,
                &viewer(&county.clinician_a),
                &s,
                county.ana,
                &card(county, disease),
            )
            .await
            .expect("card")
        }
    };
    let a = report("influenza").await;
    let dup = report("influenza").await;
    let b = report("measles").await;

    // The queue of a CDC reviewer holds the probable duplicate.
    let (queue, total) = access::case_list(
        &store,
        &viewer(&cdc),
        &county.county,
        &CaseFilter {
            statuses: vec![CardStatus::ProbableDuplicate],
            ..Default::default()
        },
        50,
        0,
    )
    .await
    .expect("queue");
    assert_eq!(total, 1);
    assert_eq!(queue[0].id, dup.id);

    // A clinician neither reads the queue nor reviews.
    let err = access::case_list(
        &store,
        &viewer(&county.clinician_a),
        &county.township_a,
        &CaseFilter::default(),
        50,
        0,
    )
    .await
    .expect_err("not CDC");
    assert!(matches!(err, AccessError::Refused(_)));
    let err = access::review_case(
        &store,
        &viewer(&county.clinician_a),
        &s,
        a.id,
        1,
        ReviewAction::Accept,
        "",
        None,
    )
    .await
    .expect_err("not CDC");
    assert!(matches!(err, AccessError::Refused(_)));

    access::review_case(
        &store,
        &viewer(&cdc),
        &s,
        a.id,
        1,
        ReviewAction::Accept,
        "",
        None,
    )
    .await
    .expect("accept");
    // Deleting needs a reason; then it works and the card stops counting.
    let err = access::review_case(
        &store,
        &viewer(&cdc),
        &s,
        dup.id,
        1,
        ReviewAction::DeleteDuplicate,
        " ",
        None,
    )
    .await
    .expect_err("no reason");
    assert!(matches!(err, AccessError::Store(StoreError::Invalid(_))));
    access::review_case(
        &store,
        &viewer(&cdc),
        &s,
        dup.id,
        1,
        ReviewAction::DeleteDuplicate,
        "与首卡重复",
        None,
    )
    .await
    .expect("delete");
    // A stale version is refused.
    let err = access::review_case(
        &store,
        &viewer(&cdc),
        &s,
        a.id,
        1,
        ReviewAction::Accept,
        "",
        None,
    )
    .await
    .expect_err("stale");
    assert!(matches!(err, AccessError::Store(StoreError::Invalid(_))));

    // 订正: measles revised to rubella, confirmed.
    let correction = access::review_case(
        &store,
        &viewer(&cdc),
        &s,
        b.id,
        1,
        ReviewAction::Revise,
        "实验室确诊为风疹",
        Some(&Revision {
            disease: "rubella".into(),
            subtype: None,
            case_class: CaseClass::Confirmed,
            course: None,
        }),
    )
    .await
    .expect("revise")
    .expect("a correction card");
    let (original, history) = access::open_case(&store, &viewer(&cdc), b.id)
        .await
        .expect("open");
    assert_eq!(original.status, CardStatus::Superseded);
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].action, "revise");
    assert_eq!(history[0].correction_id, Some(correction));
    let (revised, _) = access::open_case(&store, &viewer(&cdc), correction)
        .await
        .expect("open");
    assert_eq!(revised.kind, CardKind::Correction);
    assert_eq!(revised.corrects_id, Some(b.id));
    assert_eq!(revised.disease, "rubella");
    assert_eq!(revised.status, CardStatus::Accepted);

    // Revising to a forbidden pair is refused and leaves the card as it was.
    let c = report("mumps").await;
    let err = access::review_case(
        &store,
        &viewer(&cdc),
        &s,
        c.id,
        1,
        ReviewAction::Revise,
        "改为乙肝",
        Some(&Revision {
            disease: "hepatitis".into(),
            subtype: Some("hbv".into()),
            case_class: CaseClass::Suspected,
            course: Some(Course::Acute),
        }),
    )
    .await
    .expect_err("forbidden");
    assert!(matches!(err, AccessError::Store(StoreError::Invalid(_))));
    let (unchanged, history) = access::open_case(&store, &viewer(&cdc), c.id)
        .await
        .expect("open");
    assert_eq!(unchanged.status, CardStatus::Pending);
    assert!(history.is_empty());

    // Counts: the deleted duplicate and the superseded card do not count.
    let today = s.to_local(yiwei_store::now()).date();
    notifiable::refresh_counts(&store, today - Duration::days(3), today)
        .await
        .expect("refresh");
    let counts = notifiable::day_counts(&store, &county.county, today - Duration::days(3), today)
        .await
        .expect("counts");
    let total_of = |d: &str| {
        counts
            .iter()
            .filter(|c| c.disease == d)
            .map(|c| c.n)
            .sum::<i64>()
    };
    let diagnosed_on = card(&county, "x").diagnosed_at.date();
    assert!(counts.iter().all(|c| c.day == diagnosed_on));
    assert_eq!(total_of("influenza"), 1);
    assert_eq!(total_of("measles"), 0);
    assert_eq!(total_of("rubella"), 1);
    assert_eq!(total_of("mumps"), 1);
    // Refreshing again changes nothing.
    notifiable::refresh_counts(&store, today - Duration::days(3), today)
        .await
        .expect("refresh");
    assert_eq!(
        notifiable::day_counts(&store, &county.county, today - Duration::days(3), today)
            .await
            .expect("counts"),
        counts
    );
    let series = notifiable::series(
        &store,
        "influenza",
        &county.township_a,
        diagnosed_on - Duration::days(2),
        diagnosed_on,
    )
    .await
    .expect("series");
    assert_eq!(series, vec![0, 0, 1]);
    let series_b = notifiable::series(
        &store,
        "influenza",
        &county.township_b,
        diagnosed_on - Duration::days(2),
        diagnosed_on,
    )
    .await
    .expect("series");
    assert_eq!(series_b, vec![0, 0, 0]);

    let timeliness = notifiable::timeliness_by_institution(
        &store,
        &county.county,
        today - Duration::days(3),
        today + Duration::days(1),
    )
    .await
    .expect("timeliness");
    assert_eq!(timeliness.len(), 1);
    // a, b and c; the deleted duplicate and the correction are not counted.
    assert_eq!(timeliness[0].reported, 3);
    assert_eq!(timeliness[0].on_time, 3);
}

conformance!(signals_are_raised_once_per_day_area_and_method_and_follow_the_workflow);
async fn signals_are_raised_once_per_day_area_and_method_and_follow_the_workflow(store: Store) {
    let county = County::build(&store).await;
    let cdc = cdc_user(&store, &county).await;
    let day = NaiveDate::from_ymd_opt(2026, 4, 20).unwrap();
    let new = NewSignal {
        day,
        disease: "hfmd".into(),
        division: county.township_a.clone(),
        method: "ears_c1".into(),
        parameters: vec![
            ("alpha".into(), "0.001".into()),
            ("baseline".into(), "7".into()),
        ],
        observed: 9.0,
        threshold: Some(4.25),
        expected: Some(1.5),
        baseline: notifiable::baseline_json(
            day - Duration::days(7),
            day - Duration::days(1),
            7,
            1.5,
            0.89,
            "t-7…t-1",
        ),
    };
    let id = notifiable::raise_signal(&store, &new)
        .await
        .expect("raise")
        .expect("new");
    assert_eq!(
        notifiable::raise_signal(&store, &new).await.expect("again"),
        None
    );
    let other = NewSignal {
        method: "ears_c2".into(),
        ..new.clone()
    };
    assert!(
        notifiable::raise_signal(&store, &other)
            .await
            .expect("c2")
            .is_some()
    );
    let s = notifiable::signal(&store, id).await.expect("read");
    assert_eq!(
        s.parameters,
        vec![
            ("alpha".to_owned(), "0.001".to_owned()),
            ("baseline".to_owned(), "7".to_owned())
        ]
    );
    assert_eq!(s.threshold, Some(4.25));
    assert_eq!(s.baseline["n"], json!(7));
    assert_eq!(s.division_name, "思恩镇");
    assert_eq!(s.status, SignalStatus::Raised);

    let (list, total) = notifiable::signals(
        &store,
        &county.county,
        &SignalFilter {
            disease: Some("hfmd".into()),
            statuses: vec![SignalStatus::Raised],
            ..Default::default()
        },
        50,
        0,
    )
    .await
    .expect("list");
    assert_eq!((list.len(), total), (2, 2));
    let (none, _) =
        notifiable::signals(&store, &county.township_b, &SignalFilter::default(), 50, 0)
            .await
            .expect("list");
    assert!(none.is_empty());

    // Only CDC staff move signals; closing before verification is refused.
    let err = access::step_signal(
        &store,
        &viewer(&county.clinician_a),
        id,
        1,
        SignalStep::Assign,
        "",
        Some(cdc.id),
    )
    .await
    .expect_err("not CDC");
    assert!(matches!(err, AccessError::Refused(_)));
    let err = access::step_signal(&store, &viewer(&cdc), id, 1, SignalStep::Close, "", None)
        .await
        .expect_err("too early");
    assert!(matches!(err, AccessError::Store(StoreError::Invalid(_))));
    let err = access::step_signal(
        &store,
        &viewer(&cdc),
        id,
        1,
        SignalStep::Assign,
        "",
        Some(county.clinician_a.id),
    )
    .await
    .expect_err("assignee not CDC");
    assert!(matches!(err, AccessError::Store(StoreError::Invalid(_))));
    access::step_signal(
        &store,
        &viewer(&cdc),
        id,
        1,
        SignalStep::Assign,
        "",
        Some(cdc.id),
    )
    .await
    .expect("assign");
    access::step_signal(
        &store,
        &viewer(&cdc),
        id,
        2,
        SignalStep::Verify { outbreak: true },
        "幼儿园聚集 6 例",
        None,
    )
    .await
    .expect("verify");
    access::step_signal(
        &store,
        &viewer(&cdc),
        id,
        3,
        SignalStep::Respond,
        "现场消毒，晨检",
        None,
    )
    .await
    .expect("respond");
    access::step_signal(
        &store,
        &viewer(&cdc),
        id,
        4,
        SignalStep::Close,
        "14 天无新病例",
        None,
    )
    .await
    .expect("close");
    let s = notifiable::signal(&store, id).await.expect("read");
    assert_eq!(s.status, SignalStatus::Closed);
    assert_eq!(s.outbreak, Some(true));
    assert_eq!(s.assigned_to, Some(cdc.id));
    assert!(s.hours_to_verify().is_some_and(|h| h >= 0.0));
    assert!(s.closed_at.is_some());
    let events = notifiable::signal_events(&store, id).await.expect("events");
    let steps: Vec<&str> = events.iter().map(|e| e.step.as_str()).collect();
    assert_eq!(steps, vec!["assign", "verify_true", "respond", "close"]);
    assert_eq!(events[1].notes, "幼儿园聚集 6 例");
    let figures = notifiable::signal_figures(&store, &county.county, day, day + Duration::days(1))
        .await
        .expect("figures");
    assert_eq!(
        (figures.raised, figures.verified, figures.outbreaks),
        (2, 1, 1)
    );
}

conformance!(a_returned_card_is_corrected_and_resubmitted_by_its_institution_only);
async fn a_returned_card_is_corrected_and_resubmitted_by_its_institution_only(store: Store) {
    let county = County::build(&store).await;
    let s = settings(&county);
    let cdc = cdc_user(&store, &county).await;
    let a = access::report_case(
        &store,
        &viewer(&county.clinician_a),
        &s,
        county.ana,
        &card(&county, "influenza"),
    )
    .await
    .expect("card");
    let mut fixed = card(&county, "influenza");
    fixed.address_detail = "城西村二组".into();
    fixed.case_class = CaseClass::Confirmed;

    // A pending card cannot be resubmitted: the CDC has not returned it.
    let err = access::resubmit_case(
        &store,
        &viewer(&county.clinician_a),
        &s,
        a.id,
        1,
        &fixed,
        "",
    )
    .await
    .expect_err("not returned");
    assert!(matches!(err, AccessError::Store(StoreError::Invalid(_))));

    access::review_case(
        &store,
        &viewer(&cdc),
        &s,
        a.id,
        1,
        ReviewAction::Return,
        "现住址不详",
        None,
    )
    .await
    .expect("return");
    // It is in the reporting institution's queue of returned cards, and only there.
    let (mine, total) = access::returned_cards(&store, &viewer(&county.clinician_a), 50, 0)
        .await
        .expect("queue");
    assert_eq!((mine.len(), total), (1, 1));
    assert_eq!(mine[0].id, a.id);
    let (theirs, _) = access::returned_cards(&store, &viewer(&county.doctor_a1), 50, 0)
        .await
        .expect("queue");
    assert!(theirs.is_empty());

    // The village doctor may write to ana's record but did not report the card.
    let err = access::resubmit_case(&store, &viewer(&county.doctor_a1), &s, a.id, 2, &fixed, "")
        .await
        .expect_err("other institution");
    assert!(matches!(
        err,
        AccessError::Refused(yiwei_domain::access::Refusal::OtherInstitution)
    ));
    // An invalid correction (onset after diagnosis) is refused and changes nothing.
    let mut wrong = fixed.clone();
    wrong.onset_date = wrong.diagnosed_at.date() + Duration::days(1);
    let err = access::resubmit_case(
        &store,
        &viewer(&county.clinician_a),
        &s,
        a.id,
        2,
        &wrong,
        "",
    )
    .await
    .expect_err("invalid");
    assert!(matches!(err, AccessError::Store(StoreError::Invalid(_))));
    let (still, _) = access::open_case(&store, &viewer(&cdc), a.id)
        .await
        .expect("open");
    assert_eq!(still.status, CardStatus::Returned);
    assert_eq!(still.version, 2);

    let status = access::resubmit_case(
        &store,
        &viewer(&county.clinician_a),
        &s,
        a.id,
        2,
        &fixed,
        "已补充现住址",
    )
    .await
    .expect("resubmit");
    assert_eq!(status, CardStatus::Pending);
    let (card_now, history) = access::open_case(&store, &viewer(&cdc), a.id)
        .await
        .expect("open");
    assert_eq!(card_now.status, CardStatus::Pending);
    assert_eq!(card_now.version, 3);
    assert_eq!(card_now.address_detail, "城西村二组");
    assert_eq!(card_now.case_class, CaseClass::Confirmed);
    assert_eq!(card_now.card_no, a.card_no);
    assert!(card_now.on_time);
    let actions: Vec<_> = history.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["return", "resubmit"]);
    assert_eq!(history[1].reason, "已补充现住址");
    assert_eq!(history[1].to_status, "pending");
    let (mine, _) = access::returned_cards(&store, &viewer(&county.clinician_a), 50, 0)
        .await
        .expect("queue");
    assert!(mine.is_empty());
    // The same version again is stale.
    let err = access::resubmit_case(
        &store,
        &viewer(&county.clinician_a),
        &s,
        a.id,
        2,
        &fixed,
        "",
    )
    .await
    .expect_err("stale");
    assert!(matches!(err, AccessError::Store(StoreError::Invalid(_))));
    // The CDC can now accept it.
    access::review_case(
        &store,
        &viewer(&cdc),
        &s,
        a.id,
        3,
        ReviewAction::Accept,
        "",
        None,
    )
    .await
    .expect("accept");
}

/// A food-borne case for ana: onset two days ago, seen yesterday.
fn foodborne_case(county: &County) -> yiwei_domain::notifiable::foodborne::FoodborneCase {
    let s = settings(county);
    let now = s.to_local(yiwei_store::now());
    let visit = now - Duration::days(1);
    yiwei_domain::notifiable::foodborne::FoodborneCase {
        patient_name: "安测试".into(),
        sex: "female".into(),
        birth_date: NaiveDate::from_ymd_opt(1985, 3, 15).unwrap(),
        phone: "13807710001".into(),
        address_code: county.village_a1.as_str().into(),
        onset_at: visit - Duration::hours(10),
        visit_at: visit,
        symptoms: vec!["diarrhoea".into()],
        suspected_food: "凉拌米粉".into(),
        food_place: "村宴".into(),
        shared_meal: Some(30),
        shared_ill: Some(4),
        specimen_taken: false,
        diagnosis: "急性胃肠炎".into(),
        fill_date: visit.date(),
        doctor: "覃医生".into(),
    }
}

conformance!(a_returned_foodborne_case_is_corrected_by_its_institution_only);
async fn a_returned_foodborne_case_is_corrected_by_its_institution_only(store: Store) {
    let county = County::build(&store).await;
    let s = settings(&county);
    let cdc = cdc_user(&store, &county).await;
    let first = foodborne_case(&county);
    let id = access::report_foodborne(&store, &viewer(&county.clinician_a), &s, county.ana, &first)
        .await
        .expect("report");
    let mut fixed = first.clone();
    fixed.suspected_food = "凉拌米粉（散装）".into();
    // Not returned yet: nothing to correct.
    let err =
        access::resubmit_foodborne(&store, &viewer(&county.clinician_a), &s, id, 1, &fixed, "")
            .await
            .expect_err("pending");
    assert!(matches!(err, AccessError::Store(StoreError::Invalid(_))));
    access::review_foodborne(
        &store,
        &viewer(&cdc),
        id,
        1,
        ReviewAction::Return,
        "食品来源不详",
    )
    .await
    .expect("return");
    let queue = access::returned_foodborne(&store, &viewer(&county.clinician_a), 50)
        .await
        .expect("queue");
    assert_eq!(queue.iter().map(|c| c.id).collect::<Vec<_>>(), [id]);
    assert!(
        access::returned_foodborne(&store, &viewer(&county.doctor_a1), 50)
            .await
            .expect("queue")
            .is_empty()
    );
    // The stored form, phone decrypted, with the CDC's reason.
    let draft = access::foodborne_draft(&store, &viewer(&county.clinician_a), &s, id)
        .await
        .expect("draft");
    assert_eq!(draft.case, first);
    assert_eq!((draft.status.as_str(), draft.version), ("returned", 2));
    assert_eq!(draft.review_reason, "食品来源不详");
    // Another institution's doctor may write to ana's record but did not report it.
    let err = access::resubmit_foodborne(&store, &viewer(&county.doctor_a1), &s, id, 2, &fixed, "")
        .await
        .expect_err("other institution");
    assert!(matches!(
        err,
        AccessError::Refused(yiwei_domain::access::Refusal::OtherInstitution)
    ));
    // An impossible correction (more ill than ate) changes nothing.
    let mut wrong = fixed.clone();
    wrong.shared_ill = Some(31);
    let err =
        access::resubmit_foodborne(&store, &viewer(&county.clinician_a), &s, id, 2, &wrong, "")
            .await
            .expect_err("invalid");
    assert!(matches!(err, AccessError::Store(StoreError::Invalid(_))));
    access::resubmit_foodborne(
        &store,
        &viewer(&county.clinician_a),
        &s,
        id,
        2,
        &fixed,
        "已写明来源",
    )
    .await
    .expect("resubmit");
    let (now, history) = access::open_foodborne(&store, &viewer(&cdc), id)
        .await
        .expect("open");
    assert_eq!((now.status.as_str(), now.version), ("pending", 3));
    assert_eq!(now.suspected_food, "凉拌米粉（散装）");
    assert!(now.on_time, "timeliness still runs from the first report");
    let steps: Vec<_> = history
        .iter()
        .map(|r| (r.action.as_str(), r.to_status.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("return", "returned", "食品来源不详"),
            ("resubmit", "pending", "已写明来源")
        ]
    );
    // Stale version; then the CDC accepts the corrected case.
    assert!(
        access::resubmit_foodborne(&store, &viewer(&county.clinician_a), &s, id, 2, &fixed, "")
            .await
            .is_err()
    );
    access::review_foodborne(&store, &viewer(&cdc), id, 3, ReviewAction::Accept, "")
        .await
        .expect("accept");
}
