use super::*;
use chrono::TimeZone;

fn party(id: i64, kind: InstitutionKind, community: Option<i64>) -> Party {
    Party {
        institution_id: id,
        kind,
        community_id: community,
    }
}

use InstitutionKind::*;

#[test]
fn routes_go_up_or_down_inside_one_community() {
    let village = party(1, VillageClinic, Some(10));
    let township = party(2, TownshipHealthCentre, Some(10));
    let county = party(3, CountyHospital, Some(10));
    let tcm = party(4, TcmHospital, Some(10));
    let other_county = party(5, CountyHospital, Some(11));
    let loose = party(6, TownshipHealthCentre, None);
    let cdc = party(7, Cdc, Some(10));
    let table = [
        (village, township, Ok(Direction::Up)),
        (village, county, Ok(Direction::Up)),
        (township, county, Ok(Direction::Up)),
        (county, township, Ok(Direction::Down)),
        (county, village, Ok(Direction::Down)),
        (county, tcm, Err(RouteRefusal::SameTier)),
        (township, other_county, Err(RouteRefusal::OutsideCommunity)),
        (township, loose, Err(RouteRefusal::OutsideCommunity)),
        (loose, county, Err(RouteRefusal::SenderOutsideCommunity)),
        (township, cdc, Err(RouteRefusal::NotCareProvider)),
        (county, county, Err(RouteRefusal::SameInstitution)),
    ];
    for (from, to, expect) in table {
        assert_eq!(check_route(&from, &to), expect, "{from:?} → {to:?}");
    }
}

#[test]
fn reasons_fit_their_direction() {
    assert!(Reason::Critical.fits(Direction::Up));
    assert!(!Reason::Critical.fits(Direction::Down));
    assert!(Reason::Rehabilitation.fits(Direction::Down));
    assert!(!Reason::ChronicFollowUp.fits(Direction::Up));
    assert!(Reason::Other.fits(Direction::Up) && Reason::Other.fits(Direction::Down));
    for r in Reason::ALL {
        assert_eq!(Reason::parse(r.as_str()), Some(r));
    }
}

#[test]
fn the_green_channel_is_for_urgent_or_signed_up_referrals() {
    assert!(green_channel_allowed(Direction::Up, Urgency::Urgent, false));
    assert!(green_channel_allowed(
        Direction::Up,
        Urgency::Emergency,
        false
    ));
    assert!(green_channel_allowed(Direction::Up, Urgency::Routine, true));
    assert!(!green_channel_allowed(
        Direction::Up,
        Urgency::Routine,
        false
    ));
    assert!(!green_channel_allowed(
        Direction::Down,
        Urgency::Emergency,
        true
    ));
}

fn decline() -> Event {
    Event::Decline {
        reason: "床位已满，建议转他院".into(),
    }
}

fn back() -> Event {
    Event::ReturnDown {
        summary: "术后恢复良好，请家庭医生随访".into(),
    }
}

#[test]
fn the_happy_path_runs_from_request_to_return() {
    let mut s = State::Requested;
    for (event, side, expect) in [
        (Event::Accept, Side::Receiver, State::Accepted),
        (Event::Arrive, Side::Receiver, State::Arrived),
        (Event::Complete, Side::Receiver, State::Completed),
        (back(), Side::Receiver, State::Returned),
    ] {
        s = transition(s, Direction::Up, &event, side).unwrap();
        assert_eq!(s, expect);
    }
    assert!(!s.is_open());
}

#[test]
fn accepting_a_declined_referral_is_refused_with_a_clear_reason() {
    let s = transition(State::Requested, Direction::Up, &decline(), Side::Receiver).unwrap();
    assert_eq!(s, State::Declined);
    let err = transition(s, Direction::Up, &Event::Accept, Side::Receiver).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("已拒绝") && msg.contains("declined"), "{msg}");
    assert!(msg.contains("cannot be accepted"), "{msg}");
}

#[test]
fn each_event_belongs_to_one_end() {
    assert!(matches!(
        transition(
            State::Requested,
            Direction::Up,
            &Event::Accept,
            Side::Sender
        ),
        Err(TransitionRefusal::WrongSide { .. })
    ));
    assert!(matches!(
        transition(
            State::Requested,
            Direction::Up,
            &Event::Cancel,
            Side::Receiver
        ),
        Err(TransitionRefusal::WrongSide { .. })
    ));
    assert_eq!(
        transition(State::Accepted, Direction::Up, &Event::Cancel, Side::Sender),
        Ok(State::Cancelled)
    );
    assert_eq!(
        transition(State::Accepted, Direction::Up, &Event::Expire, Side::System),
        Ok(State::Expired)
    );
}

#[test]
fn declines_need_a_reason_and_only_upward_referrals_return() {
    let short = Event::Decline {
        reason: "满".into(),
    };
    assert_eq!(
        transition(State::Requested, Direction::Up, &short, Side::Receiver),
        Err(TransitionRefusal::NoteTooShort)
    );
    assert_eq!(
        transition(State::Completed, Direction::Down, &back(), Side::Receiver),
        Err(TransitionRefusal::NotUpward)
    );
}

#[test]
fn timeliness_depends_on_urgency() {
    let t = Timeliness::default();
    let sent = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
    let h = |n| sent + Duration::hours(n);
    assert!(t.is_overdue(State::Requested, Urgency::Emergency, sent, h(1)));
    assert!(!t.is_overdue(State::Requested, Urgency::Urgent, sent, h(1)));
    assert!(t.is_overdue(State::Requested, Urgency::Urgent, sent, h(3)));
    assert!(!t.is_overdue(State::Accepted, Urgency::Urgent, sent, h(3)));
    assert!(!t.is_overdue(State::Requested, Urgency::Routine, sent, h(71)));
    assert!(t.should_expire(State::Requested, sent, None, h(24 * 7 + 1)));
    assert!(!t.should_expire(State::Requested, sent, None, h(24 * 6)));
    assert!(!t.should_expire(State::Accepted, sent, Some(h(24 * 6)), h(24 * 14)));
    assert!(t.should_expire(State::Accepted, sent, Some(h(24 * 6)), h(24 * 21)));
    assert!(!t.should_expire(State::Arrived, sent, None, h(24 * 100)));
}

#[test]
fn in_county_rate_is_a_fraction_of_known_visits() {
    assert_eq!(in_county_rate(0, 0), None);
    assert_eq!(in_county_rate(9, 1), Some(0.9));
}

fn arb_event() -> impl proptest::strategy::Strategy<Value = (Event, Side)> {
    use proptest::prelude::*;
    let event = prop_oneof![
        Just(Event::Accept),
        Just(decline()),
        Just(Event::Decline {
            reason: String::new()
        }),
        Just(Event::Arrive),
        Just(Event::Complete),
        Just(back()),
        Just(Event::Cancel),
        Just(Event::Expire),
    ];
    let side = prop_oneof![Just(Side::Sender), Just(Side::Receiver), Just(Side::System)];
    (event, side)
}

proptest::proptest! {
    #[test]
    fn any_event_sequence_follows_the_diagram(
        events in proptest::collection::vec(arb_event(), 0..20),
        up in proptest::bool::ANY,
    ) {
        let direction = if up { Direction::Up } else { Direction::Down };
        let mut state = State::Requested;
        let mut path = vec![state];
        for (event, side) in &events {
            if let Ok(next) = transition(state, direction, event, *side) {
                // Closed states never move again; open ones only forward.
                proptest::prop_assert!(state.is_open() || state == State::Completed);
                state = next;
                path.push(state);
            }
        }
        // Arrival needs acceptance first; completion needs arrival; return needs completion.
        let pos = |s| path.iter().position(|x| *x == s);
        if let Some(a) = pos(State::Arrived) {
            proptest::prop_assert!(pos(State::Accepted).is_some_and(|b| b < a));
        }
        if let Some(c) = pos(State::Completed) {
            proptest::prop_assert!(pos(State::Arrived).is_some_and(|a| a < c));
        }
        if pos(State::Returned).is_some() {
            proptest::prop_assert_eq!(direction, Direction::Up);
        }
        // A state is never visited twice.
        let mut seen = std::collections::HashSet::new();
        for s in &path {
            proptest::prop_assert!(seen.insert(*s));
        }
    }
}
