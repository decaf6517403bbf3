//! Reach rules through `yiwei_store::access`, each decision audited.

use chrono::Duration;
use yiwei_domain::access::{Basis, Refusal};
use yiwei_store::Store;
use yiwei_store::access::{self, AccessError, Viewer};
use yiwei_store::audit::{self, Action, Filter};
use yiwei_store::resident;
use yiwei_store::user::User;

use crate::support::County;

fn viewer(user: &User) -> Viewer<'_> {
    Viewer {
        user,
        remote_addr: Some("10.1.2.3".into()),
    }
}

fn refusal<T: std::fmt::Debug>(result: Result<T, AccessError>) -> Refusal {
    match result {
        Err(AccessError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The newest audit entry about `resident_id`.
async fn last_entry_about(store: &Store, resident_id: i64) -> audit::Entry {
    audit::for_resident(store, resident_id, 1, 0)
        .await
        .expect("audit for resident")
        .pop()
        .expect("an audit entry about the resident")
}

conformance!(a_village_doctor_opens_their_village_but_not_the_neighbouring_one);
async fn a_village_doctor_opens_their_village_but_not_the_neighbouring_one(store: Store) {
    let c = County::build(&store).await;
    let doctor = viewer(&c.doctor_a1);

    let (record, basis) = access::open_resident(&store, &doctor, c.ana)
        .await
        .expect("own village");
    assert_eq!((record.id, basis), (c.ana, Basis::Subtree));
    assert_eq!(record.division, c.village_a1);
    assert_eq!(record.name, "韦阿娜");
    assert!(record.has_id_card && record.has_phone);

    let entry = last_entry_about(&store, c.ana).await;
    assert_eq!(entry.event.action, Action::Read);
    assert_eq!(entry.event.outcome, "ok");
    assert_eq!(entry.event.basis.as_deref(), Some("subtree"));
    assert_eq!(entry.event.who, c.doctor_a1.who());
    assert_eq!(entry.event.object_type.as_deref(), Some("resident"));
    assert_eq!(entry.event.object_id, Some(c.ana.to_string()));
    assert_eq!(entry.event.remote_addr.as_deref(), Some("10.1.2.3"));

    let refused = access::open_resident(&store, &doctor, c.bo).await;
    assert_eq!(refusal(refused), Refusal::OutsideReach);
    let entry = last_entry_about(&store, c.bo).await;
    assert_eq!(entry.event.action, Action::Denied);
    assert_eq!(entry.event.outcome, "denied");
    assert_eq!(entry.event.basis.as_deref(), Some("outside_reach"));
    assert_eq!(entry.event.reason.as_deref(), Some("read"));
    assert_eq!(entry.event.who.user_id, Some(c.doctor_a1.id));

    // A refused reveal gives no number away and is audited as a denied reveal.
    let refused = access::reveal(&store, &doctor, c.bo, yiwei_store::crypto::Field::Phone).await;
    assert_eq!(refusal(refused), Refusal::OutsideReach);
    let entry = last_entry_about(&store, c.bo).await;
    assert_eq!(
        (entry.event.action, entry.event.outcome),
        (Action::Denied, "denied")
    );
    assert_eq!(entry.event.reason.as_deref(), Some("reveal"));
    assert_eq!(entry.event.object_type.as_deref(), Some("resident.phone"));
}

conformance!(a_township_clinician_opens_the_whole_township_but_not_the_other_township);
async fn a_township_clinician_opens_the_whole_township_but_not_the_other_township(store: Store) {
    let c = County::build(&store).await;
    let clinician = viewer(&c.clinician_a);
    for id in [c.ana, c.dai, c.bo] {
        let (record, basis) = access::open_resident(&store, &clinician, id)
            .await
            .expect("township");
        assert_eq!((record.id, basis), (id, Basis::Subtree));
        assert!(c.township_a.contains(&record.division));
    }
    assert_eq!(
        refusal(access::open_resident(&store, &clinician, c.chen).await),
        Refusal::OutsideReach
    );

    let (list, total) = access::list_residents(&store, &clinician, &c.township_a, 10, 0)
        .await
        .expect("list of own township");
    assert_eq!(total, 3);
    let mut ids: Vec<i64> = list.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    let mut want = vec![c.ana, c.dai, c.bo];
    want.sort_unstable();
    assert_eq!(ids, want);
    let (page, total) = access::list_residents(&store, &clinician, &c.village_a2, 10, 0)
        .await
        .expect("list of a village of the township");
    assert_eq!((page.len(), total), (1, 1));
    assert_eq!(
        refusal(access::list_residents(&store, &clinician, &c.township_b, 10, 0).await),
        Refusal::OutsideReach
    );
    assert_eq!(
        refusal(access::list_residents(&store, &clinician, &c.county, 10, 0).await),
        Refusal::OutsideReach
    );

    let denied = Filter {
        user_id: Some(c.clinician_a.id),
        outcome: Some("denied".into()),
        ..Filter::default()
    };
    let entries = audit::list(&store, &denied, 100, 0)
        .await
        .expect("audit list");
    assert_eq!(
        entries.len(),
        3,
        "one denied read and two denied lists: {entries:#?}"
    );
    let lists: Vec<_> = entries
        .iter()
        .filter(|e| e.event.object_type.as_deref() == Some("resident_list"))
        .collect();
    assert_eq!(lists.len(), 2);
    assert_eq!(lists[0].event.object_id.as_deref(), Some(c.county.as_str()));
    let allowed = Filter {
        user_id: Some(c.clinician_a.id),
        action: Some("read".into()),
        ..Filter::default()
    };
    assert_eq!(
        audit::list(&store, &allowed, 100, 0)
            .await
            .expect("audit list")
            .len(),
        5
    );
}

conformance!(an_analyst_gets_aggregates_but_no_personal_read_without_break_glass);
async fn an_analyst_gets_aggregates_but_no_personal_read_without_break_glass(store: Store) {
    let c = County::build(&store).await;
    let analyst = viewer(&c.analyst);
    assert_eq!(
        refusal(access::open_resident(&store, &analyst, c.ana).await),
        Refusal::AggregateRole
    );
    assert_eq!(
        refusal(access::reveal(&store, &analyst, c.ana, yiwei_store::crypto::Field::IdCard).await),
        Refusal::AggregateRole
    );
    assert_eq!(
        refusal(access::list_residents(&store, &analyst, &c.county, 10, 0).await),
        Refusal::AggregateRole
    );
    assert_eq!(
        refusal(access::find_by_id_card(&store, &analyst, &c.ana_id_card).await),
        Refusal::AggregateRole
    );

    let by_township = resident::count_by_child(&store, &c.county)
        .await
        .expect("county counts");
    assert_eq!(
        by_township,
        vec![
            (c.township_a.as_str().to_owned(), 3),
            (c.township_b.as_str().to_owned(), 1)
        ]
    );
    let by_village = resident::count_by_child(&store, &c.township_a)
        .await
        .expect("counts");
    assert_eq!(
        by_village,
        vec![
            (c.village_a1.as_str().to_owned(), 2),
            (c.village_a2.as_str().to_owned(), 1)
        ]
    );
    let one_village = resident::count_by_child(&store, &c.village_b1)
        .await
        .expect("counts");
    assert_eq!(one_village, vec![(c.village_b1.as_str().to_owned(), 1)]);

    let entries = audit::list(
        &store,
        &Filter {
            user_id: Some(c.analyst.id),
            ..Filter::default()
        },
        100,
        0,
    )
    .await
    .expect("audit list");
    assert_eq!(entries.len(), 4);
    assert!(entries.iter().all(|e| e.event.action == Action::Denied
        && e.event.outcome == "denied"
        && e.event.basis.as_deref() == Some("aggregate_role")));
}

conformance!(break_glass_with_a_reason_opens_one_resident_to_an_analyst);
async fn break_glass_with_a_reason_opens_one_resident_to_an_analyst(store: Store) {
    let c = County::build(&store).await;
    let analyst = viewer(&c.analyst);

    let short = access::break_glass(&store, &analyst, c.chen, " 急诊 ", Duration::hours(4)).await;
    assert!(
        matches!(short, Err(AccessError::ReasonTooShort)),
        "{short:?}"
    );
    assert_eq!(
        refusal(access::open_resident(&store, &analyst, c.chen).await),
        Refusal::AggregateRole
    );

    let reason = "急诊抢救，患者昏迷，需查既往史";
    access::break_glass(
        &store,
        &analyst,
        c.chen,
        &format!("  {reason} "),
        Duration::hours(4),
    )
    .await
    .expect("break-glass");
    let (record, basis) = access::open_resident(&store, &analyst, c.chen)
        .await
        .expect("opened");
    assert_eq!((record.id, basis), (c.chen, Basis::BreakGlass));
    assert_eq!(
        refusal(access::open_resident(&store, &analyst, c.bo).await),
        Refusal::AggregateRole,
        "break-glass opens only the one resident"
    );

    let about_chen = audit::for_resident(&store, c.chen, 10, 0)
        .await
        .expect("audit");
    assert_eq!(about_chen[0].event.action, Action::Read);
    assert_eq!(about_chen[0].event.basis.as_deref(), Some("break_glass"));
    assert_eq!(about_chen[1].event.action, Action::BreakGlass);
    assert_eq!(about_chen[1].event.reason.as_deref(), Some(reason));
    assert_eq!(about_chen[1].event.who.user_id, Some(c.analyst.id));
    assert_eq!(about_chen[2].event.action, Action::Denied);

    let grants = access::grants(&store, 10, 0).await.expect("grants");
    assert_eq!(grants.len(), 1);
    assert_eq!(
        (
            grants[0].user_id,
            grants[0].username.as_str(),
            grants[0].resident_id
        ),
        (c.analyst.id, "analyst", c.chen)
    );
    assert_eq!(grants[0].reason, reason);
    assert!(!grants[0].reviewed);
    assert_eq!(
        grants[0].expires_at - grants[0].created_at,
        Duration::hours(4)
    );

    // A grant that has run out opens nothing.
    access::break_glass(
        &store,
        &analyst,
        c.bo,
        "随访核对资料",
        Duration::seconds(-1),
    )
    .await
    .expect("break-glass");
    assert_eq!(
        refusal(access::open_resident(&store, &analyst, c.bo).await),
        Refusal::AggregateRole
    );

    // Residents cannot break glass at all.
    let own = viewer(&c.resident_user);
    let refused =
        access::break_glass(&store, &own, c.bo, "想看看邻居的记录", Duration::hours(1)).await;
    assert!(
        matches!(refused, Err(AccessError::NoBreakGlass)),
        "{refused:?}"
    );
}

conformance!(a_resident_account_opens_only_its_own_record);
async fn a_resident_account_opens_only_its_own_record(store: Store) {
    let c = County::build(&store).await;
    let own = viewer(&c.resident_user);
    let (record, basis) = access::open_resident(&store, &own, c.ana)
        .await
        .expect("own record");
    assert_eq!((record.id, basis), (c.ana, Basis::OwnRecord));
    assert_eq!(
        access::reveal(&store, &own, c.ana, yiwei_store::crypto::Field::IdCard)
            .await
            .expect("own number"),
        Some(c.ana_id_card.clone())
    );
    for other in [c.dai, c.bo, c.chen] {
        assert_eq!(
            refusal(access::open_resident(&store, &own, other).await),
            Refusal::NotOwnRecord
        );
    }
    assert_eq!(
        refusal(access::list_residents(&store, &own, &c.village_a1, 10, 0).await),
        Refusal::NotOwnRecord
    );

    // "Who opened my record": the resident's own reads are there, with the creation.
    let mine = audit::for_resident(&store, c.ana, 10, 0)
        .await
        .expect("audit");
    let actions: Vec<Action> = mine.iter().map(|e| e.event.action).collect();
    assert_eq!(actions, vec![Action::Reveal, Action::Read, Action::Create]);
    assert_eq!(mine[0].event.basis.as_deref(), Some("own_record"));
    let dai = audit::for_resident(&store, c.dai, 10, 0)
        .await
        .expect("audit");
    assert_eq!(dai[0].event.basis.as_deref(), Some("not_own_record"));
    assert_eq!(dai[0].event.who.user_id, Some(c.resident_user.id));
}

conformance!(a_missing_resident_is_not_found_and_an_unknown_id_card_finds_nothing);
async fn a_missing_resident_is_not_found_and_an_unknown_id_card_finds_nothing(store: Store) {
    let c = County::build(&store).await;
    let doctor = viewer(&c.doctor_a1);
    let missing = access::open_resident(&store, &doctor, 999_999).await;
    assert!(
        matches!(
            missing,
            Err(AccessError::Store(yiwei_store::StoreError::NotFound(_)))
        ),
        "{missing:?}"
    );
    let unknown = crate::support::id_card("451226", "19700101", 999);
    assert!(
        access::find_by_id_card(&store, &doctor, &unknown)
            .await
            .expect("lookup")
            .is_none()
    );
    assert_eq!(
        refusal(access::find_by_id_card(&store, &doctor, &c.bo_id_card).await),
        Refusal::OutsideReach,
        "finding by number does not bypass reach"
    );
}
