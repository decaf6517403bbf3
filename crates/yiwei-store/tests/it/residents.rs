//! Resident records: record numbers, search by every key, versioned updates, and the
//! master patient index (link, review, merge, unmerge), on both backends.

use yiwei_store::access::{self, Viewer};
use yiwei_store::audit::{self, Filter, Who};
use yiwei_store::empi::{self, Outcome};
use yiwei_store::resident::{self, Query};
use yiwei_store::{Store, StoreError};

use crate::support::{County, id_card, new_resident};

fn system() -> Who {
    Who {
        username: Some("test".into()),
        ..Who::default()
    }
}

conformance!(record_numbers_follow_the_village_and_count_up);
async fn record_numbers_follow_the_village_and_count_up(store: Store) {
    let county = County::build(&store).await;
    let doctor = Viewer {
        user: &county.doctor_a1,
        remote_addr: None,
    };
    let (ana, _) = access::open_resident(&store, &doctor, county.ana)
        .await
        .unwrap();
    let (dai, _) = access::open_resident(&store, &doctor, county.dai)
        .await
        .unwrap();
    let a = ana.details.record_no.expect("a record number");
    let d = dai.details.record_no.expect("a record number");
    assert_eq!(a.len(), 17);
    assert!(a.starts_with("451226100"), "{a}");
    assert_eq!(a[..12], d[..12], "same village, same prefix");
    let serial = |r: &str| r[12..].parse::<u32>().unwrap();
    assert_eq!(serial(&d), serial(&a) + 1);
}

conformance!(search_finds_by_id_card_record_number_phone_and_every_form_of_the_name);
async fn search_finds_by_id_card_record_number_phone_and_every_form_of_the_name(store: Store) {
    let county = County::build(&store).await;
    let clinician = Viewer {
        user: &county.clinician_a,
        remote_addr: None,
    };
    let find = |q: String| {
        let store = store.clone();
        let user = county.clinician_a.clone();
        let root = county.township_a.clone();
        async move {
            let viewer = Viewer {
                user: &user,
                remote_addr: None,
            };
            let (found, total) = access::search_residents(&store, &viewer, &root, &q, 50, 0)
                .await
                .unwrap();
            assert_eq!(found.len() as i64, total);
            found.into_iter().map(|r| r.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        find(county.ana_id_card.to_lowercase()).await,
        vec![county.ana]
    );
    assert_eq!(find("13807710001".into()).await, vec![county.ana]);
    let (ana, _) = access::open_resident(&store, &clinician, county.ana)
        .await
        .unwrap();
    assert_eq!(
        find(ana.details.record_no.clone().unwrap()).await,
        vec![county.ana]
    );
    assert_eq!(find("韦阿娜".into()).await, vec![county.ana]);
    assert_eq!(
        find("韦".into()).await,
        vec![county.ana],
        "a surname is a prefix"
    );
    assert_eq!(find("weiana".into()).await, vec![county.ana]);
    assert_eq!(find("Wei A Na".into()).await, vec![county.ana]);
    assert_eq!(find("wan".into()).await, vec![county.ana], "initials");
    assert_eq!(
        find("qinda".into()).await,
        vec![county.dai],
        "覃 reads qin as a surname"
    );
    // 谭晨 lives in the other township: outside the clinician's reach, not found.
    assert!(find("谭晨".into()).await.is_empty());
    assert!(find("nobody".into()).await.is_empty());
    let searches = audit::list(
        &store,
        &Filter {
            action: Some("read".into()),
            ..Filter::default()
        },
        100,
        0,
    )
    .await
    .unwrap();
    assert!(
        searches.iter().all(|e| !e
            .event
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("韦阿娜")),
        "the audit log records the kind of search, never the query"
    );
    assert_eq!(
        resident::interpret("451226100201"),
        Query::Division(county.village_a1.clone())
    );
}

conformance!(updates_need_the_current_version_and_keep_numbers_unless_given);
async fn updates_need_the_current_version_and_keep_numbers_unless_given(store: Store) {
    let county = County::build(&store).await;
    let doctor = Viewer {
        user: &county.doctor_a1,
        remote_addr: None,
    };
    let (ana, _) = access::open_resident(&store, &doctor, county.ana)
        .await
        .unwrap();
    let mut change = new_resident(&county.village_a1, "韦阿娜", "female", None, None);
    change.birth_date = ana.birth_date;
    change.details.address = "城西屯 12 号".into();
    change.details.record_no = ana.details.record_no.clone();
    let v2 = access::update_resident(&store, &doctor, county.ana, ana.version, &change)
        .await
        .unwrap();
    assert_eq!(v2, ana.version + 1);
    let stale = access::update_resident(&store, &doctor, county.ana, ana.version, &change).await;
    assert!(
        matches!(
            stale,
            Err(access::AccessError::Store(StoreError::Conflict { .. }))
        ),
        "{stale:?}"
    );
    let (after, _) = access::open_resident(&store, &doctor, county.ana)
        .await
        .unwrap();
    assert_eq!(after.details.address, "城西屯 12 号");
    assert!(
        after.has_id_card && after.has_phone,
        "numbers kept when not given"
    );
    // Moving the record out of the doctor's village is refused.
    let mut away = change.clone();
    away.division = county.village_b1.clone();
    assert!(
        access::update_resident(&store, &doctor, county.ana, v2, &away)
            .await
            .is_err()
    );
}

conformance!(the_master_index_links_the_same_person_and_queues_the_doubtful);
async fn the_master_index_links_the_same_person_and_queues_the_doubtful(store: Store) {
    let county = County::build(&store).await;
    let doctor = Viewer {
        user: &county.doctor_a1,
        remote_addr: None,
    };
    let before = crate::support::int(&store, "SELECT COUNT(*) FROM resident").await;
    // The same ID card (lower-case x, no phone): the existing resident, nothing created.
    let again = new_resident(
        &county.village_a1,
        "韦阿娜",
        "female",
        Some(&county.ana_id_card.to_lowercase()),
        None,
    );
    let outcome = access::register_resident(&store, &doctor, &again)
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::Linked { id, .. } if id == county.ana),
        "{outcome:?}"
    );
    assert_eq!(
        crate::support::int(&store, "SELECT COUNT(*) FROM resident").await,
        before
    );
    // A homophone name (伟 for 韦), same birth date and village, no ID card: a doubt.
    let mut doubtful = new_resident(&county.village_a1, "伟阿娜", "female", None, None);
    doubtful.birth_date = chrono::NaiveDate::from_ymd_opt(1985, 3, 15);
    doubtful.details.no_id_reason = Some("证件丢失".into());
    let outcome = access::register_resident(&store, &doctor, &doubtful)
        .await
        .unwrap();
    let Outcome::Created {
        id: doubt_id,
        review,
    } = outcome
    else {
        panic!("expected a new record: {outcome:?}")
    };
    assert_eq!(review, vec![county.ana]);
    let open = empi::reviews(&store, "open", 10, 0).await.unwrap();
    assert_eq!(open.len(), 1);
    assert!(
        open[0].explanation.contains("Name"),
        "the score is explained: {}",
        open[0].explanation
    );
    // Someone new: created, nothing to review.
    let new_person = new_resident(
        &county.village_a1,
        "欧阳娜娜",
        "female",
        Some(&id_card("451226", "20000101", 22)),
        None,
    );
    let outcome = access::register_resident(&store, &doctor, &new_person)
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::Created { ref review, .. } if review.is_empty()),
        "{outcome:?}"
    );
    // The review is decided: same person. The newer record is merged into the older.
    empi::decide(&store, open[0].id, true, &county.doctor_a1.who())
        .await
        .unwrap();
    let (merged, _) = access::open_resident(&store, &doctor, doubt_id)
        .await
        .unwrap();
    assert_eq!(merged.merged_into, Some(county.ana));
    let (list, _) = access::list_residents(&store, &doctor, &county.village_a1, 100, 0)
        .await
        .unwrap();
    assert!(
        list.iter().all(|r| r.id != doubt_id),
        "a merged record leaves the lists"
    );
    // And undone, with both steps in the audit log of both residents.
    let merge_id = empi::live_merge_of(&store, doubt_id)
        .await
        .unwrap()
        .expect("a live merge");
    empi::unmerge(&store, merge_id, &county.doctor_a1.who())
        .await
        .unwrap();
    let (back, _) = access::open_resident(&store, &doctor, doubt_id)
        .await
        .unwrap();
    assert_eq!(back.merged_into, None);
    let trail = audit::for_resident(&store, county.ana, 100, 0)
        .await
        .unwrap();
    let reasons: Vec<String> = trail
        .iter()
        .filter_map(|e| e.event.reason.clone())
        .collect();
    assert!(
        reasons.iter().any(|r| r.starts_with("merge")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("unmerge")),
        "{reasons:?}"
    );
    assert!(
        empi::unmerge(&store, merge_id, &system()).await.is_err(),
        "undone once only"
    );
}

conformance!(registering_outside_reach_or_as_an_analyst_is_refused);
async fn registering_outside_reach_or_as_an_analyst_is_refused(store: Store) {
    let county = County::build(&store).await;
    let someone = new_resident(
        &county.village_b1,
        "莫新",
        "male",
        Some(&id_card("451226", "19700101", 51)),
        None,
    );
    let doctor = Viewer {
        user: &county.doctor_a1,
        remote_addr: None,
    };
    assert!(
        access::register_resident(&store, &doctor, &someone)
            .await
            .is_err()
    );
    let analyst = Viewer {
        user: &county.analyst,
        remote_addr: None,
    };
    assert!(
        access::register_resident(&store, &analyst, &someone)
            .await
            .is_err()
    );
}
