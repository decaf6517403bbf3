//! The bulk path (`resident::insert_batch`, `resident::insert_household_batch`): a batch
//! stores what `create` would — record numbers, searchable name keys, the ID-card lookup —
//! in one transaction with one audit event, and a bad row writes nothing; on both backends.

use chrono::NaiveDate;
use serde_json::json;
use yiwei_domain::access::Role;
use yiwei_store::access::{self, Viewer};
use yiwei_store::audit::{self, Entry, Filter, Who};
use yiwei_store::resident::{self, Details, NewHousehold, NewResident, Resident};
use yiwei_store::user::User;
use yiwei_store::{Store, StoreError};

use crate::support::{County, UserSpec, add_user, id_card, int, new_resident};

fn loader() -> Who {
    Who {
        username: Some("loader".into()),
        role: Some("system".into()),
        ..Who::default()
    }
}

/// A resident with every kind of field filled in.
fn full(
    village: &yiwei_domain::division::DivisionCode,
    name: &str,
    sex: &str,
    birth: &str,
    sequence: u32,
) -> NewResident {
    let card = id_card("451226", birth, sequence);
    let mut r = new_resident(village, name, sex, Some(&card), Some("13907780000"));
    r.contact_phone = Some("13807781111".into());
    r.details = Details {
        relation: Some("10".into()),
        address: "思恩镇城西村3组".into(),
        residence_type: Some("1".into()),
        ethnicity: Some("36".into()),
        blood_abo: Some("3".into()),
        education: Some("70".into()),
        occupation: Some("5".into()),
        marital: Some("20".into()),
        payment: vec!["02".into()],
        key_groups: vec!["hypertension".into()],
        contact_name: Some("蒙大山".into()),
        profile: json!({"conditions": ["hypertension"]}),
        ..Details::default()
    };
    r
}

/// A county-wide clinician, who may open every record of the fixture.
async fn county_doctor(store: &Store, county: &County) -> User {
    add_user(
        store,
        UserSpec {
            username: "bulk.doctor",
            role: Role::Clinician,
            institution: Some(county.hospital),
            reach: &county.county,
            resident: None,
            phone: None,
        },
        &loader(),
    )
    .await
}

async fn open(store: &Store, user: &User, id: i64) -> Resident {
    let viewer = Viewer {
        user,
        remote_addr: None,
    };
    access::open_resident(store, &viewer, id)
        .await
        .unwrap_or_else(|e| panic!("open {id}: {e}"))
        .0
}

async fn search(store: &Store, user: &User, query: &str) -> Vec<i64> {
    let viewer = Viewer {
        user,
        remote_addr: None,
    };
    let (found, _) = access::search_residents(store, &viewer, &user.reach, query, 50, 0)
        .await
        .unwrap_or_else(|e| panic!("search {query}: {e}"));
    found.into_iter().map(|r| r.id).collect()
}

fn serial(r: &Resident) -> u32 {
    let no = r.details.record_no.as_deref().expect("a record number");
    no[12..].parse().expect("a serial")
}

async fn newest(store: &Store, n: i64) -> Vec<Entry> {
    audit::list(store, &Filter::default(), n, 0)
        .await
        .expect("audit list")
}

async fn name_keys_of(store: &Store, id: i64) -> i64 {
    int(
        store,
        &format!("SELECT COUNT(*) FROM resident_name_key WHERE resident_id = {id}"),
    )
    .await
}

conformance!(a_batch_stores_what_create_would);
async fn a_batch_stores_what_create_would(store: Store) {
    let county = County::build(&store).await;
    let doctor = county_doctor(&store, &county).await;
    // ana and dai hold serials 1 and 2 of village A1, bo 1 of A2, chen 1 of B1.
    let twin = resident::create(
        &store,
        &full(&county.village_a1, "蒙丽华", "female", "19750304", 12),
        &loader(),
    )
    .await
    .expect("create");

    let b1_given = "45122610110200050";
    let mut given = full(&county.village_b1, "卢志强", "male", "19660708", 31);
    given.details.record_no = Some(b1_given.into());
    let batch = vec![
        full(&county.village_a1, "蒙丽华", "female", "19750304", 14),
        full(&county.village_a2, "覃建国", "male", "19581111", 17),
        full(&county.village_a1, "谭秀英", "female", "19490220", 22),
        given,
        full(&county.village_b1, "韦春燕", "female", "19900101", 24),
    ];
    let ids = resident::insert_batch(&store, &batch, &loader())
        .await
        .expect("insert batch");
    assert_eq!(ids.len(), batch.len());
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(ids[0] > twin);

    // The same person stored by create and by the batch: equal but for id and numbers.
    let created = open(&store, &doctor, twin).await;
    let loaded = open(&store, &doctor, ids[0]).await;
    assert_eq!(loaded.name, "蒙丽华");
    let strip = |mut r: Resident| {
        r.id = 0;
        r.details.record_no = None;
        r.id_card_masked = None;
        r.created_at = chrono::DateTime::UNIX_EPOCH;
        r.updated_at = chrono::DateTime::UNIX_EPOCH;
        r
    };
    assert_eq!(strip(loaded.clone()), strip(created.clone()));
    assert!(loaded.id_card_masked.is_some() && loaded.phone_masked.is_some());
    assert_eq!(
        name_keys_of(&store, ids[0]).await,
        name_keys_of(&store, twin).await
    );

    // Record numbers: after the highest serial of each village, in row order; a number
    // given in the batch is kept and the next one counts on from it.
    assert_eq!(serial(&created), 3);
    assert_eq!(serial(&loaded), 4);
    assert_eq!(serial(&open(&store, &doctor, ids[1]).await), 2);
    assert_eq!(serial(&open(&store, &doctor, ids[2]).await), 5);
    let kept = open(&store, &doctor, ids[3]).await;
    assert_eq!(kept.details.record_no.as_deref(), Some(b1_given));
    assert_eq!(serial(&open(&store, &doctor, ids[4]).await), 51);

    // Searchable by every name key and by the ID card, like a created record.
    assert_eq!(search(&store, &doctor, "谭秀英").await, vec![ids[2]]);
    assert_eq!(search(&store, &doctor, "tanxiuying").await, vec![ids[2]]);
    assert_eq!(search(&store, &doctor, "txy").await, vec![ids[2]]);
    assert_eq!(search(&store, &doctor, "qinjianguo").await, vec![ids[1]]);
    let card = batch[4].id_card.clone().expect("a card");
    assert_eq!(search(&store, &doctor, &card).await, vec![ids[4]]);
    let viewer = Viewer {
        user: &doctor,
        remote_addr: None,
    };
    let (found, _) = access::find_by_id_card(&store, &viewer, &card)
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found.id, ids[4]);
    assert_eq!(
        search(&store, &doctor, "menglihua").await,
        vec![twin, ids[0]]
    );

    // One audit event for the batch: who loaded which id range.
    let log = newest(&store, 50).await;
    let batch_events: Vec<&Entry> = log
        .iter()
        .filter(|e| e.event.object_type.as_deref() == Some("resident_batch"))
        .collect();
    assert_eq!(batch_events.len(), 1);
    let e = &batch_events[0].event;
    assert_eq!(e.action, audit::Action::Create);
    assert_eq!(
        e.object_id.as_deref(),
        Some(format!("{}-{}", ids[0], ids[4]).as_str())
    );
    assert_eq!(e.reason.as_deref(), Some("bulk load"));
    assert_eq!(e.who.username.as_deref(), Some("loader"));
    assert_eq!(e.resident_id, None);
    assert!(
        audit::verify(&store, |_, _| {})
            .await
            .expect("verify")
            .problem
            .is_none()
    );
}

conformance!(a_bad_row_fails_the_whole_batch_and_writes_nothing);
async fn a_bad_row_fails_the_whole_batch_and_writes_nothing(store: Store) {
    let county = County::build(&store).await;
    let count = async |store: &Store| {
        (
            int(store, "SELECT COUNT(*) FROM resident").await,
            int(store, "SELECT COUNT(*) FROM resident_name_key").await,
            audit::count(store).await.expect("count"),
        )
    };
    let before = count(&store).await;

    let twice = full(&county.village_a1, "韦小宝", "male", "19800101", 11);
    let err = resident::insert_batch(
        &store,
        &[
            full(&county.village_a1, "蒙一", "male", "19800102", 11),
            twice.clone(),
            twice,
        ],
        &loader(),
    )
    .await
    .expect_err("a duplicate ID card in the batch");
    assert!(
        matches!(&err, StoreError::Conflict { constraint } if constraint == "resident_id_card_hash"),
        "{err:?}"
    );

    let known = new_resident(
        &county.village_a2,
        "韦阿娜",
        "female",
        Some(&county.ana_id_card),
        None,
    );
    let err = resident::insert_batch(&store, &[known], &loader())
        .await
        .expect_err("an ID card already stored");
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");

    let mut nameless = full(&county.village_a1, "蒙二", "male", "19800103", 11);
    nameless.name = "  ".into();
    let err = resident::insert_batch(
        &store,
        &[
            full(&county.village_a1, "蒙三", "male", "19800104", 11),
            nameless,
        ],
        &loader(),
    )
    .await
    .expect_err("a row without a name");
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.starts_with("row 2:")),
        "{err:?}"
    );

    assert!(
        resident::insert_batch(&store, &[], &loader())
            .await
            .expect("an empty batch")
            .is_empty()
    );
    assert_eq!(count(&store).await, before, "nothing half-written");
}

conformance!(batches_larger_than_one_statement_keep_row_order);
async fn batches_larger_than_one_statement_keep_row_order(store: Store) {
    // 4,000 rows: several resident statements (1,213 rows each on SQLite, 2,427 on
    // PostgreSQL) and name-key statements of more than one chunk on both backends.
    let county = County::build(&store).await;
    let doctor = county_doctor(&store, &county).await;
    let surnames = ["韦", "覃", "谭", "蒙", "卢", "吴", "莫", "黄"];
    let given = [
        "建", "国", "秀", "英", "志", "强", "丽", "华", "春", "燕", "海",
    ];
    let first_day = NaiveDate::from_ymd_opt(1940, 1, 1).expect("a date");
    let batch: Vec<NewResident> = (0..4000usize)
        .map(|i| {
            let birth = first_day + chrono::Duration::days(i as i64 * 5);
            let name = format!(
                "{}{}{}",
                surnames[i % surnames.len()],
                given[(i / 8) % given.len()],
                given[(i / 88) % given.len()]
            );
            let sex = if i % 2 == 0 { "male" } else { "female" };
            let card = id_card("451226", &birth.format("%Y%m%d").to_string(), 101);
            new_resident(&county.village_a2, &name, sex, Some(&card), None)
        })
        .collect();
    let ids = resident::insert_batch(&store, &batch, &loader())
        .await
        .expect("insert batch");
    assert_eq!(ids.len(), 4000);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    for i in [0, 1212, 1213, 2426, 2427, 3999] {
        let r = open(&store, &doctor, ids[i]).await;
        assert_eq!(r.name, batch[i].name, "row {i}");
        assert_eq!(r.birth_date, batch[i].birth_date, "row {i}");
        // bo holds serial 1 of village A2.
        assert_eq!(serial(&r), i as u32 + 2, "row {i}");
    }
    let expected_keys: usize = batch
        .iter()
        .map(|r| yiwei_domain::name::search_keys(&r.name).len())
        .sum();
    assert!(expected_keys > 16_383, "{expected_keys}");
    let stored_keys = int(
        &store,
        &format!(
            "SELECT COUNT(*) FROM resident_name_key WHERE resident_id >= {} AND resident_id <= {}",
            ids[0], ids[3999]
        ),
    )
    .await;
    assert_eq!(stored_keys as usize, expected_keys);
    let card = batch[2427].id_card.clone().expect("a card");
    assert_eq!(search(&store, &doctor, &card).await, vec![ids[2427]]);
}

conformance!(households_load_with_their_householder_first);
async fn households_load_with_their_householder_first(store: Store) {
    let county = County::build(&store).await;
    let doctor = county_doctor(&store, &county).await;
    let household =
        |village: &yiwei_domain::division::DivisionCode, people: &[(&str, u32)]| NewHousehold {
            division: village.clone(),
            address: "城西村5组".into(),
            members: people
                .iter()
                .enumerate()
                .map(|(i, (name, seq))| {
                    let mut r = full(village, name, "male", "19700101", *seq);
                    r.details.relation = Some(if i == 0 { "02" } else { "20" }.into());
                    r
                })
                .collect(),
        };
    let batch = vec![
        household(
            &county.village_a1,
            &[("覃大", 31), ("覃二", 33), ("覃三", 35)],
        ),
        household(&county.village_a2, &[("卢一", 37)]),
        household(&county.village_b1, &[("谭甲", 39), ("谭乙", 41)]),
    ];
    let stored = resident::insert_household_batch(&store, &batch, &loader())
        .await
        .expect("insert households");
    assert_eq!(
        stored.iter().map(|h| h.members.len()).collect::<Vec<_>>(),
        vec![3, 1, 2]
    );
    for h in &stored {
        let head = int(
            &store,
            &format!("SELECT head_resident_id FROM household WHERE id = {}", h.id),
        )
        .await;
        assert_eq!(head, h.members[0]);
        for m in &h.members {
            assert_eq!(
                open(&store, &doctor, *m).await.details.household_id,
                Some(h.id)
            );
        }
    }
    let head = open(&store, &doctor, stored[0].members[0]).await;
    assert_eq!(head.name, "覃大");
    assert_eq!(head.details.relation.as_deref(), Some("02"));
    let log = newest(&store, 20).await;
    let kinds: Vec<(&str, &str)> = log
        .iter()
        .filter(|e| e.event.reason.as_deref() == Some("bulk load"))
        .map(|e| {
            (
                e.event.object_type.as_deref().unwrap_or_default(),
                e.event.object_id.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    let members = format!("{}-{}", stored[0].members[0], stored[2].members[1]);
    let households = format!("{}-{}", stored[0].id, stored[2].id);
    assert_eq!(
        kinds,
        vec![
            ("resident_batch", members.as_str()),
            ("household_batch", households.as_str())
        ]
    );

    // One household at a time: an event per member and one for the household.
    let before = audit::count(&store).await.expect("count");
    let one = resident::create_household(
        &store,
        &household(&county.village_a1, &[("莫父", 43), ("莫子", 45)]),
        &loader(),
    )
    .await
    .expect("create household");
    assert_eq!(audit::count(&store).await.expect("count"), before + 3);
    let head = int(
        &store,
        &format!(
            "SELECT head_resident_id FROM household WHERE id = {}",
            one.id
        ),
    )
    .await;
    assert_eq!(head, one.members[0]);

    let empty = NewHousehold {
        division: county.village_a1.clone(),
        address: String::new(),
        members: Vec::new(),
    };
    for result in [
        resident::insert_household_batch(&store, std::slice::from_ref(&empty), &loader())
            .await
            .map(|_| ()),
        resident::create_household(&store, &empty, &loader())
            .await
            .map(|_| ()),
    ] {
        assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
    }
}

conformance!(broad_name_searches_list_and_count_exactly);
async fn broad_name_searches_list_and_count_exactly(store: Store) {
    // Enough people sharing a surname that SQLite walks the reach's index instead of
    // looking the matches up one by one: both plans must give the same pages and totals.
    let county = County::build(&store).await;
    let given = [
        "建", "国", "秀", "英", "志", "强", "丽", "华", "春", "燕", "海", "明",
    ];
    let first_day = NaiveDate::from_ymd_opt(1950, 1, 1).expect("a date");
    let villages = [
        (&county.village_a1, 1_100usize),
        (&county.village_a2, 400),
        (&county.village_b1, 300),
    ];
    let mut batch = Vec::new();
    for (v, (village, n)) in villages.iter().enumerate() {
        for i in 0..*n {
            let day = first_day + chrono::Duration::days((v * 5_000 + i) as i64 * 3);
            let card = id_card("451226", &day.format("%Y%m%d").to_string(), 301);
            let name = format!("韦{}{}", given[i % 12], given[(i / 12) % 12]);
            batch.push(new_resident(village, &name, "male", Some(&card), None));
        }
    }
    let ids = resident::insert_batch(&store, &batch, &loader())
        .await
        .expect("insert batch");
    // ana (韦阿娜, village A1) was there before.
    let in_a1: Vec<i64> = std::iter::once(county.ana)
        .chain(ids[..1_100].iter().copied())
        .collect();
    let in_township_a: Vec<i64> = in_a1.iter().chain(&ids[1_100..1_500]).copied().collect();
    for (user, expected) in [
        (&county.doctor_a1, &in_a1),
        (&county.clinician_a, &in_township_a),
    ] {
        let viewer = Viewer {
            user,
            remote_addr: None,
        };
        for query in ["韦", "wei", "w"] {
            for offset in [0, 50, 1_050] {
                let (page, total) =
                    access::search_residents(&store, &viewer, &user.reach, query, 50, offset)
                        .await
                        .unwrap_or_else(|e| panic!("{query}: {e}"));
                assert_eq!(
                    total as usize,
                    expected.len(),
                    "{query} as {}",
                    user.username
                );
                let want: Vec<i64> = expected
                    .iter()
                    .skip(offset as usize)
                    .take(50)
                    .copied()
                    .collect();
                let got: Vec<i64> = page.iter().map(|r| r.id).collect();
                assert_eq!(got, want, "{query} at {offset} as {}", user.username);
            }
        }
    }
}
