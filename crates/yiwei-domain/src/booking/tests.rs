use super::*;
use chrono::TimeZone;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    Utc.from_utc_datetime(&NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap())
}

fn rules(sessions: &[&str]) -> ScheduleRules {
    ScheduleRules {
        sessions: sessions
            .iter()
            .map(|s| Session::parse(s).unwrap())
            .collect(),
        ..ScheduleRules::default()
    }
}

fn slot(start: &str, booked: u32, capacity: u32) -> SlotState {
    let start = at(start);
    SlotState {
        start,
        status: SlotStatus::Open,
        capacity,
        booked,
        local_date: to_local(start, 8).date(),
    }
}

#[test]
fn sessions_parse_and_print_the_same() {
    for (input, ok) in [
        ("mon 08:00-11:30 15x3", true),
        ("周三 14:30-17:00 30x1", true),
        ("sun 08:00-08:10 10x200", true),
        ("mon 08:00-11:30 15x0", false),
        ("mon 11:30-08:00 15x3", false),
        ("mon 08:00-08:10 15x3", false),
        ("mon 08:00-11:30 4x3", false),
        ("xyz 08:00-11:30 15x3", false),
        ("mon 8-11 15x3", false),
        ("mon 08:00-11:30 15x3 extra", false),
    ] {
        let parsed = Session::parse(input);
        assert_eq!(parsed.is_ok(), ok, "{input}: {parsed:?}");
        if let Ok(s) = parsed {
            assert_eq!(Session::parse(&s.code()), Ok(s));
        }
    }
}

#[test]
fn schedule_rules_refuse_overlaps_and_oversized_reserves() {
    let r = rules(&["mon 08:00-11:30 15x3", "mon 11:00-12:00 15x3"]);
    assert!(matches!(r.check(), Err(ScheduleError::SessionsOverlap(..))));
    let r = rules(&["mon 08:00-11:30 15x3", "tue 08:00-11:30 15x3"]);
    assert_eq!(r.check(), Ok(()));
    let r = ScheduleRules {
        green_reserved: 3,
        ..rules(&["mon 08:00-11:30 15x3"])
    };
    assert!(matches!(
        r.check(),
        Err(ScheduleError::GreenReserveTooLarge { .. })
    ));
    assert_eq!(
        ScheduleRules::default().check(),
        Err(ScheduleError::NoSessions)
    );
    let r = ScheduleRules {
        horizon_days: 0,
        ..rules(&["mon 08:00-11:30 15x3"])
    };
    assert_eq!(r.check(), Err(ScheduleError::Horizon(0)));
}

#[test]
fn slots_follow_the_weekly_sessions_and_skip_holidays() {
    // 2026-11-23 is a Monday.
    let mut r = rules(&["mon 08:00-09:00 15x3", "wed 14:00-15:00 30x1"]);
    r.holidays.insert(d("2026-11-25"));
    let slots = generate_slots(&r, d("2026-11-23"), d("2026-11-30"), d("2026-11-23")).unwrap();
    let starts: Vec<String> = slots
        .iter()
        .map(|s| s.start.format("%m-%d %H:%M").to_string())
        .collect();
    assert_eq!(
        starts,
        [
            "11-23 08:00",
            "11-23 08:15",
            "11-23 08:30",
            "11-23 08:45",
            "11-30 08:00",
            "11-30 08:15",
            "11-30 08:30",
            "11-30 08:45",
        ]
    );
    assert!(slots.iter().all(|s| s.capacity == 3));
}

#[test]
fn slots_are_cut_to_today_and_the_opening_horizon() {
    let r = ScheduleRules {
        horizon_days: 2,
        ..rules(&[
            "mon 08:00-08:30 15x1",
            "tue 08:00-08:30 15x1",
            "wed 08:00-08:30 15x1",
            "thu 08:00-08:30 15x1",
        ])
    };
    let slots = generate_slots(&r, d("2026-11-16"), d("2026-12-31"), d("2026-11-24")).unwrap();
    let dates: BTreeSet<NaiveDate> = slots.iter().map(|s| s.start.date()).collect();
    assert_eq!(
        dates.into_iter().collect::<Vec<_>>(),
        [d("2026-11-24"), d("2026-11-25"), d("2026-11-26")]
    );
    assert_eq!(
        generate_slots(&r, d("2026-11-30"), d("2026-11-29"), d("2026-11-24")),
        Err(ScheduleError::BadRange)
    );
}

#[test]
fn a_trailing_part_shorter_than_a_slot_makes_no_slot() {
    let r = rules(&["mon 08:00-08:50 20x1"]);
    let slots = generate_slots(&r, d("2026-11-23"), d("2026-11-23"), d("2026-11-23")).unwrap();
    assert_eq!(slots.len(), 2);
    assert_eq!(
        slots[1].end.time(),
        NaiveTime::from_hms_opt(8, 40, 0).unwrap()
    );
}

#[test]
fn local_and_utc_times_convert_with_the_county_offset() {
    let local = d("2026-11-23").and_hms_opt(8, 0, 0).unwrap();
    assert_eq!(to_utc(local, 8), at("2026-11-23 00:00"));
    assert_eq!(to_local(to_utc(local, 8), 8), local);
}

#[test]
fn booking_refuses_past_closed_full_and_unopened_slots() {
    let r = ScheduleRules {
        green_reserved: 1,
        ..rules(&["mon 08:00-11:30 15x3"])
    };
    let now = at("2026-11-23 00:00");
    let today = d("2026-11-23");
    let check = |s: SlotState, c| check_booking(&r, &s, now, today, c);
    assert_eq!(
        check(slot("2026-11-22 23:45", 0, 3), Channel::Staff),
        Err(BookingRefusal::SlotInPast)
    );
    assert_eq!(
        check(slot("2026-11-22 23:45", 3, 3), Channel::Staff),
        Err(BookingRefusal::SlotInPast)
    );
    let closed = SlotState {
        status: SlotStatus::Closed,
        ..slot("2026-11-24 00:00", 0, 3)
    };
    assert_eq!(
        check(closed, Channel::Staff),
        Err(BookingRefusal::SlotClosed)
    );
    // Two ordinary seats, the third held for the green channel.
    assert_eq!(
        check(slot("2026-11-24 00:00", 1, 3), Channel::Resident),
        Ok(())
    );
    assert_eq!(
        check(slot("2026-11-24 00:00", 2, 3), Channel::Resident),
        Err(BookingRefusal::SlotFull)
    );
    assert_eq!(
        check(slot("2026-11-24 00:00", 2, 3), Channel::GreenChannel),
        Ok(())
    );
    assert_eq!(
        check(slot("2026-11-24 00:00", 3, 3), Channel::GreenChannel),
        Err(BookingRefusal::SlotFull)
    );
    // Beyond the 7-day horizon: refused, except for the green channel.
    assert_eq!(
        check(slot("2026-12-01 00:00", 0, 3), Channel::Staff),
        Err(BookingRefusal::NotYetOpen { horizon_days: 7 })
    );
    assert_eq!(
        check(slot("2026-12-01 00:00", 0, 3), Channel::GreenChannel),
        Ok(())
    );
    // Cut-off: residents online only, 30 minutes before.
    assert_eq!(
        check(slot("2026-11-23 00:20", 0, 3), Channel::Resident),
        Err(BookingRefusal::BookingClosed { minutes: 30 })
    );
    assert_eq!(
        check(slot("2026-11-23 00:20", 0, 3), Channel::Staff),
        Ok(())
    );
}

#[test]
fn cancelling_follows_status_start_and_cut_off() {
    let r = rules(&["mon 08:00-11:30 15x3"]);
    let now = at("2026-11-23 00:00");
    let soon = at("2026-11-23 01:00");
    let later = at("2026-11-23 03:00");
    assert_eq!(
        check_cancel(&r, BookingStatus::Booked, later, now, Channel::Resident),
        Ok(())
    );
    assert_eq!(
        check_cancel(&r, BookingStatus::Booked, soon, now, Channel::Resident),
        Err(BookingRefusal::CancelClosed { minutes: 120 })
    );
    assert_eq!(
        check_cancel(&r, BookingStatus::Booked, soon, now, Channel::Staff),
        Ok(())
    );
    assert_eq!(
        check_cancel(
            &r,
            BookingStatus::Booked,
            at("2026-11-22 23:00"),
            now,
            Channel::Staff
        ),
        Err(BookingRefusal::SlotInPast)
    );
    for status in [
        BookingStatus::Cancelled,
        BookingStatus::Attended,
        BookingStatus::NoShow,
    ] {
        assert!(matches!(
            check_cancel(&r, status, later, now, Channel::Staff),
            Err(BookingRefusal::NotActive { .. })
        ));
    }
}

#[test]
fn rescheduling_counts_moves_and_stays_in_the_schedule() {
    let r = rules(&["mon 08:00-11:30 15x3"]);
    let now = at("2026-11-23 00:00");
    let today = d("2026-11-23");
    let old = at("2026-11-24 00:00");
    let target = slot("2026-11-25 00:00", 0, 3);
    let go = |n, same, t: &SlotState| {
        check_reschedule(
            &r,
            BookingStatus::Booked,
            old,
            n,
            same,
            t,
            now,
            today,
            Channel::Resident,
        )
    };
    assert_eq!(go(0, true, &target), Ok(()));
    assert_eq!(
        go(2, true, &target),
        Err(BookingRefusal::TooManyReschedules { max: 2 })
    );
    assert_eq!(
        go(0, false, &target),
        Err(BookingRefusal::RescheduleElsewhere)
    );
    assert_eq!(
        go(0, true, &slot("2026-11-25 00:00", 3, 3)),
        Err(BookingRefusal::SlotFull)
    );
}

#[test]
fn no_shows_are_marked_only_after_the_start_of_active_bookings() {
    let now = at("2026-11-23 02:00");
    assert_eq!(
        check_outcome(BookingStatus::Booked, at("2026-11-23 01:00"), now),
        Ok(())
    );
    assert_eq!(
        check_outcome(BookingStatus::Booked, at("2026-11-23 03:00"), now),
        Err(BookingRefusal::NoShowTooEarly)
    );
    assert!(check_outcome(BookingStatus::Cancelled, at("2026-11-23 01:00"), now).is_err());
}

#[test]
fn three_no_shows_in_ninety_days_suspend_online_booking_for_thirty() {
    let p = NoShowPolicy::default();
    let dates = [d("2026-08-01"), d("2026-09-01"), d("2026-10-01")];
    assert_eq!(
        p.check(&dates, d("2026-10-15")),
        Err(BookingRefusal::Suspended {
            count: 3,
            window_days: 90,
            until: d("2026-10-31")
        })
    );
    assert_eq!(p.check(&dates, d("2026-10-31")), Ok(()));
    // Spread over more than 90 days: no suspension.
    let spread = [d("2026-05-01"), d("2026-07-01"), d("2026-10-01")];
    assert_eq!(p.check(&spread, d("2026-10-02")), Ok(()));
    assert_eq!(p.check(&dates[..2], d("2026-10-02")), Ok(()));
    assert_eq!(p.check(&[], d("2026-10-02")), Ok(()));
}

#[test]
fn no_show_rate_is_over_passed_bookings() {
    assert_eq!(no_show_rate(0, 0), None);
    assert_eq!(no_show_rate(9, 1), Some(0.1));
}

#[test]
fn messages_are_chinese_first_with_english_beside() {
    let m = BookingRefusal::SlotFull.to_string();
    assert!(m.starts_with("号源已满"));
    assert!(m.contains("this slot is full"));
}

fn arb_session() -> impl proptest::strategy::Strategy<Value = Session> {
    use proptest::prelude::*;
    (0u32..7, 6u32..20, 1u32..40, 5u32..60, 1u32..10).prop_map(|(day, hour, len, slot, cap)| {
        let start = NaiveTime::from_hms_opt(hour, 0, 0).unwrap();
        let end_minutes = (hour * 60 + slot * len).min(23 * 60 + 59);
        let end = NaiveTime::from_hms_opt(end_minutes / 60, end_minutes % 60, 0).unwrap();
        Session {
            weekday: Weekday::try_from(day as u8).unwrap(),
            start,
            end,
            slot_minutes: slot,
            capacity: cap,
        }
    })
}

proptest::proptest! {
    #[test]
    fn generated_slots_never_overlap_and_stay_inside_sessions_horizon_and_workdays(
        sessions in proptest::collection::vec(arb_session(), 1..4),
        horizon in 1u32..30,
        start_offset in 0i64..20,
        len in 0i64..40,
        holiday_offsets in proptest::collection::vec(0i64..40, 0..5),
    ) {
        let today = d("2026-11-23");
        let mut r = ScheduleRules { sessions, horizon_days: horizon, ..ScheduleRules::default() };
        for h in holiday_offsets {
            r.holidays.insert(today + Duration::days(h));
        }
        let from = today + Duration::days(start_offset - 10);
        let to = from + Duration::days(len);
        match generate_slots(&r, from, to, today) {
            Err(ScheduleError::SessionsOverlap(..)) | Err(ScheduleError::SessionShorterThanSlot(_))
            | Err(ScheduleError::SessionEndsBeforeStart(_)) => {}
            Err(e) => proptest::prop_assert!(false, "unexpected {e}"),
            Ok(slots) => {
                for w in slots.windows(2) {
                    proptest::prop_assert!(w[0].end <= w[1].start);
                }
                for s in &slots {
                    let date = s.start.date();
                    proptest::prop_assert!(date >= today && date >= from && date <= to);
                    proptest::prop_assert!(date <= r.last_open_date(today));
                    proptest::prop_assert!(!r.holidays.contains(&date));
                    let inside = r.sessions.iter().any(|x| x.weekday == date.weekday()
                        && s.start.time() >= x.start && s.end.time() <= x.end
                        && s.capacity == x.capacity);
                    proptest::prop_assert!(inside);
                }
            }
        }
    }

    #[test]
    fn an_ordinary_booking_never_takes_a_green_seat(
        capacity in 1u32..20, reserved in 0u32..20, booked in 0u32..25,
    ) {
        proptest::prop_assume!(reserved < capacity);
        let r = ScheduleRules { green_reserved: reserved, ..rules(&["mon 08:00-11:30 15x3"]) };
        let s = SlotState { booked, capacity, ..slot("2026-11-24 00:00", 0, 1) };
        let now = at("2026-11-23 00:00");
        let ok = check_booking(&r, &s, now, d("2026-11-23"), Channel::Staff).is_ok();
        proptest::prop_assert_eq!(ok, booked + reserved < capacity);
        let green = check_booking(&r, &s, now, d("2026-11-23"), Channel::GreenChannel).is_ok();
        proptest::prop_assert_eq!(green, booked < capacity);
    }
}
