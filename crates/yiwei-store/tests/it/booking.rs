//! Booking and two-way referral (issue 7) on both backends: capacity, the green reserve,
//! refusals that change nothing, the waitlist, moves, no-shows, the referral life cycle
//! and its tie, and concurrent booking from two pools.

use chrono::{Duration, NaiveDate};
use yiwei_domain::access::{Basis, Refusal, Role, Tie};
use yiwei_domain::booking::{
    BookingRefusal, BookingStatus, ScheduleRules, ServiceKind, Session, SlotStatus,
};
use yiwei_domain::org::InstitutionKind;
use yiwei_domain::referral::{Event as Move, Reason, RouteRefusal, State, Urgency};
use yiwei_store::access::{self, AccessError, Viewer};
use yiwei_store::booking::{self, BookingError, NewSchedule, SlotFilter, When};
use yiwei_store::referral::{self, NewReferral};
use yiwei_store::user::User;
use yiwei_store::{Store, org};

use crate::support::{County, UserSpec, add_user, int, reopen};

/// Monday 2026-11-23 00:00 UTC = 08:00 in the county.
fn monday_8am() -> When {
    When {
        now: chrono::DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
            .unwrap()
            .to_utc(),
        offset_hours: 8,
    }
}

fn later(when: When, hours: i64) -> When {
    When {
        now: when.now + Duration::hours(hours),
        ..when
    }
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn viewer(user: &User) -> Viewer<'_> {
    Viewer {
        user,
        remote_addr: None,
    }
}

struct Fixture {
    c: County,
    /// A clinician of the county hospital whose own subtree is village B1 only, so that
    /// any wider read has to come from a tie.
    hospital_doctor: User,
    schedule: i64,
}

/// A hospital schedule: Tuesday 09:00–10:00 (local) in 30-minute slots of 3, one seat of
/// each held for the green channel.
async fn fixture(store: &Store) -> Fixture {
    let c = County::build(store).await;
    let hospital_doctor = add_user(
        store,
        UserSpec {
            username: "hosp_doc",
            role: Role::Clinician,
            institution: Some(c.hospital),
            reach: &c.village_b1,
            resident: None,
            phone: None,
        },
        &c.admin.who(),
    )
    .await;
    let rules = ScheduleRules {
        sessions: vec![Session::parse("tue 09:00-10:00 30x3").unwrap()],
        green_reserved: 1,
        ..ScheduleRules::default()
    };
    let schedule = booking::create_schedule(
        store,
        &NewSchedule {
            institution_id: c.hospital,
            department: "内科".into(),
            doctor_id: Some(hospital_doctor.id),
            service: ServiceKind::Outpatient,
            name: "内科普通门诊".into(),
            rules,
        },
        Some(c.admin.id),
    )
    .await
    .expect("schedule");
    let made = booking::open_slots(
        store,
        schedule,
        d("2026-11-23"),
        d("2026-11-30"),
        monday_8am(),
    )
    .await
    .expect("slots");
    assert_eq!(made, 2, "Tuesday 09:00 and 09:30 inside the 7-day horizon");
    Fixture {
        c,
        hospital_doctor,
        schedule,
    }
}

async fn slot_ids(store: &Store, schedule: i64) -> Vec<i64> {
    let f = SlotFilter {
        schedule_id: Some(schedule),
        ..Default::default()
    };
    booking::slots(store, &f, 100, 0)
        .await
        .expect("slots")
        .0
        .iter()
        .map(|s| s.id)
        .collect()
}

async fn assert_invariants(store: &Store) {
    let bad = booking::invariant_violations(store).await.expect("check");
    assert!(bad.is_empty(), "{bad:?}");
}

conformance!(opening_slots_again_keeps_what_exists);
async fn opening_slots_again_keeps_what_exists(store: Store) {
    let f = fixture(&store).await;
    let again = booking::open_slots(
        &store,
        f.schedule,
        d("2026-11-23"),
        d("2026-11-30"),
        monday_8am(),
    )
    .await
    .unwrap();
    assert_eq!(again, 0);
    let (slots, total) = booking::slots(
        &store,
        &SlotFilter {
            schedule_id: Some(f.schedule),
            status: Some("free".into()),
            ..Default::default()
        },
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(total, 2);
    assert_eq!(slots[0].label(8), "2026-11-24 周二 09:00–09:30");
    assert_eq!(slots[0].free(), 2);
}

conformance!(a_full_slot_refuses_the_next_booking_and_changes_nothing);
async fn a_full_slot_refuses_the_next_booking_and_changes_nothing(store: Store) {
    let f = fixture(&store).await;
    let slot = slot_ids(&store, f.schedule).await[0];
    let desk = viewer(&f.hospital_doctor);
    let when = monday_8am();
    access::book(&store, &desk, f.c.ana, slot, when)
        .await
        .unwrap();
    access::book(&store, &desk, f.c.bo, slot, when)
        .await
        .unwrap();
    let before = int(&store, "SELECT COUNT(*) FROM booking").await;
    let messages = int(&store, "SELECT COUNT(*) FROM outbox").await;
    // Two ordinary seats of three: the third is the green channel's.
    let err = access::book(&store, &desk, f.c.chen, slot, when)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BookingError::Refused(BookingRefusal::SlotFull)),
        "{err}"
    );
    assert_eq!(int(&store, "SELECT COUNT(*) FROM booking").await, before);
    assert_eq!(int(&store, "SELECT COUNT(*) FROM outbox").await, messages);
    // The same resident twice: refused.
    let second = slot_ids(&store, f.schedule).await[1];
    access::book(&store, &desk, f.c.ana, second, when)
        .await
        .unwrap();
    let err = access::book(&store, &desk, f.c.ana, second, when)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BookingError::Refused(BookingRefusal::AlreadyBooked)),
        "{err}"
    );
    assert_invariants(&store).await;
}

conformance!(a_past_slot_is_refused_and_a_booking_queues_confirmation_and_reminder);
async fn a_past_slot_is_refused_and_a_booking_queues_confirmation_and_reminder(store: Store) {
    let f = fixture(&store).await;
    let slot = slot_ids(&store, f.schedule).await[0];
    let desk = viewer(&f.hospital_doctor);
    let err = access::book(&store, &desk, f.c.ana, slot, later(monday_8am(), 26))
        .await
        .unwrap_err();
    assert!(
        matches!(err, BookingError::Refused(BookingRefusal::SlotInPast)),
        "{err}"
    );
    assert_eq!(int(&store, "SELECT COUNT(*) FROM booking").await, 0);
    assert_eq!(int(&store, "SELECT booked FROM slot WHERE id = 1").await, 0);

    let id = access::book(&store, &desk, f.c.ana, slot, monday_8am())
        .await
        .unwrap();
    let msgs = booking::messages(&store, Some(f.c.ana), 10).await.unwrap();
    let topics: Vec<&str> = msgs.iter().map(|m| m.topic.as_str()).collect();
    assert_eq!(topics, ["booking_confirmed"]);
    assert!(msgs[0].body.contains("环江县人民医院") && msgs[0].body.contains(&id.to_string()));
    assert!(!msgs[0].body.contains("韦阿娜"), "messages name no person");
    // Reminders are queued for slots starting within a day, once.
    let ahead = Duration::hours(24);
    assert_eq!(
        booking::queue_reminders(&store, later(monday_8am(), -2), ahead)
            .await
            .unwrap(),
        0
    );
    // The slot starts on Tuesday 01:00 UTC, 25 hours after Monday 08:00 local.
    assert_eq!(
        booking::queue_reminders(&store, later(monday_8am(), 2), ahead)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        booking::queue_reminders(&store, later(monday_8am(), 3), ahead)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        booking::messages(&store, Some(f.c.ana), 10).await.unwrap()[0].topic,
        "booking_reminder"
    );
    // The booking ties the resident to the hospital: its clinician may now open the record.
    let (_, basis) = access::open_resident(&store, &desk, f.c.ana).await.unwrap();
    assert_eq!(basis, Basis::Tie(Tie::Booking));
}

conformance!(a_resident_cannot_cancel_someone_elses_booking);
async fn a_resident_cannot_cancel_someone_elses_booking(store: Store) {
    let f = fixture(&store).await;
    let slot = slot_ids(&store, f.schedule).await[0];
    let desk = viewer(&f.hospital_doctor);
    let dai_booking = access::book(&store, &desk, f.c.dai, slot, monday_8am())
        .await
        .unwrap();
    let ana = viewer(&f.c.resident_user);
    let err = access::cancel_booking(&store, &ana, dai_booking, "", monday_8am())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BookingError::Access(AccessError::Refused(Refusal::NotOwnRecord))
        ),
        "{err}"
    );
    let b = access::open_booking(&store, &desk, dai_booking)
        .await
        .unwrap();
    assert_eq!(b.status, BookingStatus::Booked);
    // Ana books and cancels her own, online, before the cut-off.
    let own = access::book(&store, &ana, f.c.ana, slot, monday_8am())
        .await
        .unwrap();
    access::cancel_booking(&store, &ana, own, "", monday_8am())
        .await
        .unwrap();
    assert_eq!(
        access::open_booking(&store, &ana, own)
            .await
            .unwrap()
            .status,
        BookingStatus::Cancelled
    );
    // Within two hours of the slot a resident cannot cancel online; staff can.
    let again = access::book(&store, &ana, f.c.ana, slot, monday_8am())
        .await
        .unwrap();
    let late = later(monday_8am(), 24);
    let err = access::cancel_booking(&store, &ana, again, "", late)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        BookingError::Refused(BookingRefusal::CancelClosed { .. })
    ));
    access::cancel_booking(&store, &desk, again, "doctor ill", late)
        .await
        .unwrap();
    assert_invariants(&store).await;
}

conformance!(a_cancellation_books_the_first_resident_on_the_waitlist);
async fn a_cancellation_books_the_first_resident_on_the_waitlist(store: Store) {
    let f = fixture(&store).await;
    let slot = slot_ids(&store, f.schedule).await[0];
    let desk = viewer(&f.hospital_doctor);
    let when = monday_8am();
    let first = access::book(&store, &desk, f.c.ana, slot, when)
        .await
        .unwrap();
    access::book(&store, &desk, f.c.bo, slot, when)
        .await
        .unwrap();
    access::join_waitlist(&store, &desk, f.c.chen, f.schedule, d("2026-11-24"), when)
        .await
        .unwrap();
    let err = access::join_waitlist(&store, &desk, f.c.chen, f.schedule, d("2026-11-24"), when)
        .await
        .unwrap_err();
    assert!(matches!(err, BookingError::Invalid(_)));
    let filled = access::cancel_booking(&store, &desk, first, "", when)
        .await
        .unwrap()
        .expect("the waitlist fills the seat");
    let b = access::open_booking(&store, &desk, filled).await.unwrap();
    assert_eq!((b.resident_id, b.slot_id), (f.c.chen, slot));
    assert_eq!(
        int(
            &store,
            "SELECT COUNT(*) FROM waitlist WHERE status = 'booked'"
        )
        .await,
        1
    );
    let topics: Vec<String> = booking::messages(&store, Some(f.c.chen), 5)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.topic)
        .collect();
    assert!(topics.contains(&"waitlist_filled".to_owned()), "{topics:?}");
    assert_invariants(&store).await;
}

conformance!(a_move_takes_the_new_seat_and_frees_the_old_one_at_once);
async fn a_move_takes_the_new_seat_and_frees_the_old_one_at_once(store: Store) {
    let f = fixture(&store).await;
    let slots = slot_ids(&store, f.schedule).await;
    let ana = viewer(&f.c.resident_user);
    let when = monday_8am();
    let mut id = access::book(&store, &ana, f.c.ana, slots[0], when)
        .await
        .unwrap();
    id = access::reschedule_booking(&store, &ana, id, slots[1], when)
        .await
        .unwrap();
    id = access::reschedule_booking(&store, &ana, id, slots[0], when)
        .await
        .unwrap();
    let err = access::reschedule_booking(&store, &ana, id, slots[1], when)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        BookingError::Refused(BookingRefusal::TooManyReschedules { max: 2 })
    ));
    let b = access::open_booking(&store, &ana, id).await.unwrap();
    assert_eq!((b.slot_id, b.reschedules), (slots[0], 2));
    assert_eq!(
        int(&store, "SELECT CAST(SUM(booked) AS BIGINT) FROM slot").await,
        1,
        "one seat held in all"
    );
    assert_invariants(&store).await;
}

conformance!(no_shows_are_marked_by_the_institution_and_suspend_online_booking);
async fn no_shows_are_marked_by_the_institution_and_suspend_online_booking(store: Store) {
    let f = fixture(&store).await;
    let desk = viewer(&f.hospital_doctor);
    let ana = viewer(&f.c.resident_user);
    // Three weeks of Tuesday slots, each missed.
    let mut week = monday_8am();
    for _ in 0..3 {
        booking::open_slots(
            &store,
            f.schedule,
            week.today(),
            week.today() + Duration::days(6),
            week,
        )
        .await
        .unwrap();
        let slot = booking::slots(
            &store,
            &SlotFilter {
                schedule_id: Some(f.schedule),
                start_from: Some(week.now),
                ..Default::default()
            },
            1,
            0,
        )
        .await
        .unwrap()
        .0[0]
            .id;
        let id = access::book(&store, &ana, f.c.ana, slot, week)
            .await
            .unwrap();
        let err = access::mark_booking(&store, &desk, id, BookingStatus::NoShow, week)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            BookingError::Refused(BookingRefusal::NoShowTooEarly)
        ));
        let err = access::mark_booking(&store, &ana, id, BookingStatus::NoShow, later(week, 30))
            .await
            .unwrap_err();
        assert!(
            matches!(err, BookingError::Invalid(_)),
            "residents mark nothing"
        );
        access::mark_booking(&store, &desk, id, BookingStatus::NoShow, later(week, 30))
            .await
            .unwrap();
        week = later(week, 24 * 7);
    }
    booking::open_slots(
        &store,
        f.schedule,
        week.today(),
        week.today() + Duration::days(6),
        week,
    )
    .await
    .unwrap();
    let slot = *slot_ids(&store, f.schedule).await.last().unwrap();
    let err = access::book(&store, &ana, f.c.ana, slot, week)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BookingError::Refused(BookingRefusal::Suspended { .. })),
        "{err}"
    );
    // The desk still books her.
    access::book(&store, &desk, f.c.ana, slot, week)
        .await
        .unwrap();
    let figures = booking::figures(&store, monday_8am().now, later(week, 24 * 7).now)
        .await
        .unwrap();
    assert_eq!(figures.len(), 1);
    assert_eq!((figures[0].no_show, figures[0].booked), (3, 1));
    assert_eq!(figures[0].no_show_rate(), Some(1.0));
    assert_invariants(&store).await;
}

fn up_referral(c: &County, to: i64) -> NewReferral {
    NewReferral {
        resident_id: c.ana,
        to_institution_id: to,
        urgency: Urgency::Urgent,
        reason: Reason::ChronicUncontrolled,
        summary: "血压控制不满意，三次随访收缩压 > 160".into(),
        attachments: vec![],
        green_channel: false,
        slot_id: None,
    }
}

conformance!(a_referral_outside_the_medical_community_is_refused);
async fn a_referral_outside_the_medical_community_is_refused(store: Store) {
    let f = fixture(&store).await;
    let other = org::add_community(&store, "邻县医共体", "Neighbour", &f.c.county)
        .await
        .unwrap();
    let outside = org::add(
        &store,
        &org::NewInstitution {
            code: "H900".into(),
            name: "邻县人民医院".into(),
            name_en: String::new(),
            kind: InstitutionKind::CountyHospital,
            division: f.c.county.clone(),
            community_id: Some(other),
            is_lead: true,
        },
    )
    .await
    .unwrap();
    let sender = viewer(&f.c.clinician_a);
    let err = access::send_referral(&store, &sender, &up_referral(&f.c, outside), monday_8am())
        .await
        .unwrap_err();
    assert!(
        matches!(err, BookingError::Route(RouteRefusal::OutsideCommunity)),
        "{err}"
    );
    let err = access::send_referral(
        &store,
        &sender,
        &up_referral(&f.c, f.c.centre_b),
        monday_8am(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, BookingError::Route(RouteRefusal::SameTier)));
    assert_eq!(int(&store, "SELECT COUNT(*) FROM referral").await, 0);
}

conformance!(a_referral_runs_its_course_and_its_tie_lasts_as_long_as_it_does);
async fn a_referral_runs_its_course_and_its_tie_lasts_as_long_as_it_does(store: Store) {
    let f = fixture(&store).await;
    let sender = viewer(&f.c.clinician_a);
    let receiver = viewer(&f.hospital_doctor);
    let when = monday_8am();
    // Before the referral the hospital doctor may not open Ana's record.
    assert!(
        access::open_resident(&store, &receiver, f.c.ana)
            .await
            .is_err()
    );
    let mut new = up_referral(&f.c, f.c.hospital);
    new.green_channel = true;
    new.slot_id = Some(slot_ids(&store, f.schedule).await[0]);
    let id = access::send_referral(&store, &sender, &new, when)
        .await
        .unwrap();
    // The green channel holds the reserved seat even when ordinary seats are gone.
    let (r, _) = access::open_referral(&store, &receiver, id).await.unwrap();
    assert_eq!(r.state, State::Requested);
    assert!(r.booking_id.is_some());
    let (_, basis) = access::open_resident(&store, &receiver, f.c.ana)
        .await
        .unwrap();
    assert_eq!(basis, Basis::Tie(Tie::Referral));
    // The sender cannot accept; the receiver can.
    assert!(
        access::move_referral(&store, &sender, id, &Move::Accept, when)
            .await
            .is_err()
    );
    for mv in [Move::Accept, Move::Arrive, Move::Complete] {
        access::move_referral(&store, &receiver, id, &mv, when)
            .await
            .unwrap();
    }
    let back = Move::ReturnDown {
        summary: "血压已控制，回基层随访管理".into(),
    };
    let (state, down) = access::move_referral(&store, &receiver, id, &back, when)
        .await
        .unwrap();
    assert_eq!(state, State::Returned);
    let down = down.expect("a downward referral to the sender");
    let (d, history) = access::open_referral(&store, &sender, down).await.unwrap();
    assert_eq!(
        (d.from_institution_id, d.to_institution_id, d.parent_id),
        (f.c.hospital, f.c.centre_a, Some(id))
    );
    assert_eq!(history.len(), 1);
    // The upward referral is closed, but the downward one is open with the hospital as its
    // sender: the tie runs on. Closing that one ends it.
    access::move_referral(&store, &receiver, down, &Move::Cancel, when)
        .await
        .unwrap();
    let err = access::open_resident(&store, &receiver, f.c.ana)
        .await
        .unwrap_err();
    assert!(matches!(err, AccessError::Refused(Refusal::OutsideReach)));
    let (queue, total) = access::referral_queue(&store, &receiver, true, false, 10, 0)
        .await
        .unwrap();
    assert_eq!((queue.len(), total), (1, 1));
    let fig = referral::figures(&store, when.now, later(when, 1).now, when.now)
        .await
        .unwrap();
    assert_eq!((fig.up, fig.down, fig.up_completed), (1, 1, 1));
}

conformance!(accepting_a_declined_referral_is_refused_and_changes_nothing);
async fn accepting_a_declined_referral_is_refused_and_changes_nothing(store: Store) {
    let f = fixture(&store).await;
    let sender = viewer(&f.c.clinician_a);
    let receiver = viewer(&f.hospital_doctor);
    let when = monday_8am();
    let mut new = up_referral(&f.c, f.c.hospital);
    new.green_channel = true;
    new.slot_id = Some(slot_ids(&store, f.schedule).await[0]);
    let id = access::send_referral(&store, &sender, &new, when)
        .await
        .unwrap();
    let decline = Move::Decline {
        reason: "本院该专科床位已满".into(),
    };
    access::move_referral(&store, &receiver, id, &decline, when)
        .await
        .unwrap();
    // Declining gave the held seat back.
    assert_eq!(
        int(&store, "SELECT CAST(SUM(booked) AS BIGINT) FROM slot").await,
        0
    );
    let (before, steps) = access::open_referral(&store, &receiver, id).await.unwrap();
    let err = access::move_referral(&store, &receiver, id, &Move::Accept, when)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("已拒绝") && msg.contains("declined"), "{msg}");
    let (after, steps_after) = access::open_referral(&store, &receiver, id).await.unwrap();
    assert_eq!(before, after);
    assert_eq!(steps.len(), steps_after.len());
    assert_invariants(&store).await;
}

conformance!(unanswered_referrals_expire);
async fn unanswered_referrals_expire(store: Store) {
    let f = fixture(&store).await;
    let sender = viewer(&f.c.clinician_a);
    let id = access::send_referral(
        &store,
        &sender,
        &up_referral(&f.c, f.c.hospital),
        monday_8am(),
    )
    .await
    .unwrap();
    let t = yiwei_domain::referral::Timeliness::default();
    assert_eq!(
        referral::expire_due(&store, later(monday_8am(), 24), &t)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        referral::expire_due(&store, later(monday_8am(), 24 * 8), &t)
            .await
            .unwrap(),
        1
    );
    let (r, _) = access::open_referral(&store, &sender, id).await.unwrap();
    assert_eq!(r.state, State::Expired);
}

conformance!(many_clients_on_two_pools_never_double_book_or_overfill);
async fn many_clients_on_two_pools_never_double_book_or_overfill(store: Store) {
    let f = fixture(&store).await;
    let second = reopen(&store, crate::support::keys()).await;
    let slots = slot_ids(&store, f.schedule).await;
    // Eight residents, each trying every slot twice, from both pools at once: 2 slots ×
    // 2 ordinary seats = 4 bookings can succeed, and no resident holds a slot twice.
    let mut residents = vec![f.c.ana, f.c.bo, f.c.chen, f.c.dai];
    for i in 0..4 {
        let mut n = crate::support::new_resident(&f.c.village_b1, "测试", "male", None, None);
        n.name = format!("测试{i}");
        residents.push(
            yiwei_store::resident::create(&store, &n, &f.c.admin.who())
                .await
                .unwrap(),
        );
    }
    let doctor = std::sync::Arc::new(f.hospital_doctor.clone());
    let mut tasks = Vec::new();
    for (i, resident) in residents.iter().enumerate() {
        for round in 0..2 {
            for slot in &slots {
                let pool = if (i + round) % 2 == 0 {
                    store.clone()
                } else {
                    second.clone()
                };
                let doctor = doctor.clone();
                let (resident, slot) = (*resident, *slot);
                tasks.push(tokio::spawn(async move {
                    let v = Viewer {
                        user: &doctor,
                        remote_addr: None,
                    };
                    access::book(&pool, &v, resident, slot, monday_8am()).await
                }));
            }
        }
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(BookingError::Refused(
                BookingRefusal::SlotFull | BookingRefusal::AlreadyBooked,
            )) => {}
            Err(e) => panic!("unexpected error under contention: {e}"),
        }
    }
    assert_eq!(ok, 4);
    assert_eq!(
        int(
            &store,
            "SELECT COUNT(*) FROM booking WHERE status = 'booked'"
        )
        .await,
        4
    );
    assert_invariants(&store).await;
    // The slot status filter sees them full.
    let full = booking::slots(
        &store,
        &SlotFilter {
            schedule_id: Some(f.schedule),
            status: Some("busy".into()),
            ..Default::default()
        },
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(full.1, 2);
    booking::set_slot_status(&store, slots[0], SlotStatus::Closed)
        .await
        .unwrap();
    second.close().await;
}

conformance!(a_referral_returned_down_brings_the_chronic_follow_up_within_two_weeks);
async fn a_referral_returned_down_brings_the_chronic_follow_up_within_two_weeks(store: Store) {
    use yiwei_store::access::programmes as gate;
    use yiwei_store::programme::{Catalogue, Episode, NewEnrolment, NewVisit};
    let f = fixture(&store).await;
    let catalogue = Catalogue::default();
    let day = |m, d| chrono::NaiveDate::from_ymd_opt(2026, m, d).unwrap();
    let today = day(11, 23);
    let doctor = viewer(&f.c.doctor_a1);
    // Dai (64, village A1) is under hypertension management, controlled on 20 November.
    gate::enrol(
        &store,
        &doctor,
        &catalogue,
        f.c.dai,
        &NewEnrolment {
            programme: "hypertension".into(),
            started_on: day(1, 10),
            episode: Episode::default(),
            today,
        },
    )
    .await
    .unwrap();
    gate::record_visit(
        &store,
        &doctor,
        &catalogue,
        f.c.dai,
        &NewVisit {
            programme: "hypertension".into(),
            visit_code: None,
            visit_date: day(11, 20),
            answers: vec![
                ("sys".into(), "128".into()),
                ("dia".into(), "80".into()),
                ("adverse_reaction".into(), "否".into()),
                ("new_complication".into(), "否".into()),
            ],
            institution_id: None,
            today,
        },
    )
    .await
    .unwrap();
    // Refresh Dai's work list and count his hypertension entries due by `by`.
    async fn due_by(store: &Store, catalogue: &Catalogue, dai: i64, by: &str) -> i64 {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        yiwei_store::programme::refresh_resident(store, catalogue, dai, today)
            .await
            .unwrap();
        let sql = format!(
            "SELECT COUNT(*) FROM programme_due WHERE resident_id = {dai} \
             AND programme = 'hypertension' AND due_by = '{by}'"
        );
        int(store, &sql).await
    }
    assert_eq!(due_by(&store, &catalogue, f.c.dai, "2027-03-04").await, 1);

    // Up to the county hospital, treated, returned down; the township accepts it back.
    let sender = viewer(&f.c.clinician_a);
    let receiver = viewer(&f.hospital_doctor);
    let when = monday_8am();
    let new = NewReferral {
        resident_id: f.c.dai,
        ..up_referral(&f.c, f.c.hospital)
    };
    let id = access::send_referral(&store, &sender, &new, when)
        .await
        .unwrap();
    for mv in [Move::Accept, Move::Arrive, Move::Complete] {
        access::move_referral(&store, &receiver, id, &mv, when)
            .await
            .unwrap();
    }
    let back = Move::ReturnDown {
        summary: "调整降压方案，回基层两周内复诊".into(),
    };
    let (_, down) = access::move_referral(&store, &receiver, id, &back, when)
        .await
        .unwrap();
    // Not yet accepted by the township: the schedule is unchanged.
    assert_eq!(due_by(&store, &catalogue, f.c.dai, "2027-03-04").await, 1);
    access::move_referral(&store, &sender, down.unwrap(), &Move::Accept, when)
        .await
        .unwrap();
    assert_eq!(due_by(&store, &catalogue, f.c.dai, "2026-12-07").await, 1);
}
