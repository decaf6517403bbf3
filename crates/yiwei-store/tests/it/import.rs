//! Batch registration through the master index (`import::register_batch`, the path of
//! `yiwei import residents`): for the same rows it decides, stores and audits what
//! registering them one by one (`access::register_resident`) does — the oracle here — in
//! one transaction per batch, with rows matched against earlier rows of the same batch and
//! of earlier batches; a row the batch write refuses is reported and the others kept; a
//! batch that fails writes nothing. On both backends.

use std::collections::HashMap;

use chrono::NaiveDate;
use yiwei_store::access::{self, AccessError, Viewer};
use yiwei_store::audit::{self, Filter};
use yiwei_store::empi::{self, Outcome};
use yiwei_store::import::{self, RowOutcome};
use yiwei_store::resident::{self, NewResident};
use yiwei_store::{Backend, Row, Store, StoreError, on_pool};

use crate::support::{County, TestDb, exec, id_card, int, keys, new_resident};

fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// A person without an ID card.
fn without_card(
    village: &yiwei_domain::division::DivisionCode,
    name: &str,
    sex: &str,
    birth: Option<&str>,
    phone: Option<&str>,
) -> NewResident {
    let mut r = new_resident(village, name, sex, None, phone);
    r.birth_date = birth.and_then(date);
    r.details.no_id_reason = Some("未带证件".into());
    r
}

/// Residents stored before the import, the same in every store (so their ids agree).
async fn seed(store: &Store, county: &County) -> Vec<i64> {
    let by = county.admin.who();
    let mut ids = Vec::new();
    for new in [
        new_resident(
            &county.village_a2,
            "莫红梅",
            "female",
            Some(&id_card("451226", "19760412", 52)),
            Some("13907719999"),
        ),
        without_card(
            &county.village_a1,
            "覃建国",
            "male",
            Some("1958-11-02"),
            None,
        ),
        // Stored twice and merged: only the survivor may be a candidate.
        without_card(
            &county.village_a2,
            "覃小燕",
            "female",
            Some("1962-07-07"),
            None,
        ),
        without_card(
            &county.village_a2,
            "覃小燕",
            "female",
            Some("1962-07-07"),
            None,
        ),
        // In township B: found by name key and birth date only, not by village.
        without_card(
            &county.village_b1,
            "黎春花",
            "female",
            Some("1971-03-03"),
            None,
        ),
    ] {
        ids.push(resident::create(store, &new, &by).await.expect("seed"));
    }
    empi::merge(store, ids[2], ids[3], None, "same person", &by)
        .await
        .expect("merge");
    ids
}

/// A file's worth of rows for a township clinician of township A: new people, people
/// already stored, the same person twice in the file, grey-band pairs with stored
/// residents and with earlier rows, possible twins, a newborn without birth date or card,
/// and a row outside the clinician's reach.
fn rows(county: &County) -> Vec<NewResident> {
    let a1 = &county.village_a1;
    let a2 = &county.village_a2;
    let xiaoming = id_card("451226", "19700505", 17);
    let mut with_address = without_card(
        a2,
        "莫小红",
        "female",
        Some("1990-02-02"),
        Some("13977001111"),
    );
    with_address.details.address = "城北村5组".into();
    vec![
        // 0: someone new, with a card.
        new_resident(a1, "黄小明", "male", Some(&xiaoming), Some("13977001234")),
        // 1: ana, by her card in lower case: linked.
        new_resident(
            a1,
            "韦阿娜",
            "female",
            Some(&county.ana_id_card.to_lowercase()),
            None,
        ),
        // 2: ana without card and with a homophone surname: created, pair queued.
        without_card(a1, "伟阿娜", "female", Some("1985-03-15"), None),
        // 3: row 0 again by card: linked to the record row 0 created.
        new_resident(a1, "黄小明", "male", Some(&xiaoming), None),
        // 4: someone new without card.
        with_address,
        // 5: row 4 again: same name, birth date, village and phone, no card.
        without_card(
            a2,
            "莫小红",
            "female",
            Some("1990-02-02"),
            Some("13977001111"),
        ),
        // 6: row 4 with a homophone (红/宏), no phone: a doubt about an earlier row.
        without_card(a2, "莫小宏", "female", Some("1990-02-02"), None),
        // 7: outside the clinician's township: refused.
        new_resident(
            &county.village_b1,
            "谭外乡",
            "female",
            Some(&id_card("451226", "19800101", 22)),
            None,
        ),
        // 8: bo by his card: linked.
        new_resident(a2, "蒙波", "male", Some(&county.bo_id_card), None),
        // 9: a sister born the same day with the same phone: possible twins.
        without_card(
            a2,
            "莫小兰",
            "female",
            Some("1990-02-02"),
            Some("13977001111"),
        ),
        // 10: a stored resident without card, homophone given name (梅/玫): a doubt.
        without_card(a2, "莫红玫", "female", Some("1976-04-12"), None),
        // 11: a stored resident without card, same name, birth date and village: linked.
        without_card(a1, "覃建国", "male", Some("1958-11-02"), None),
        // 12, 13: a newborn without birth date or card, twice.
        without_card(a1, "韦宝宝", "male", None, None),
        without_card(a1, "韦宝宝", "male", None, None),
        // 14: someone new with a record number from the old system.
        {
            let mut r = new_resident(
                a1,
                "欧阳娜娜",
                "female",
                Some(&id_card("451226", "20000101", 22)),
                None,
            );
            r.details.record_no = Some("45122610020100077".into());
            r
        },
        // 15: chen's card, written down in village A1: the card links to chen, who lives
        // in township B (the reach rule looks at the row's village, as for one record).
        new_resident(
            a1,
            "谭晨",
            "female",
            Some(&id_card("451226", "20010920", 46)),
            None,
        ),
        // 16: the merged pair's person: linked to the survivor, never the merged record.
        without_card(a2, "覃小燕", "female", Some("1962-07-07"), None),
        // 17: the same name in the same village with a typo in the birth date: found by
        // name key and village only.
        without_card(a2, "覃小燕", "female", Some("1962-07-17"), None),
        // 18: a namesake in township B, same birth date: found by name key and birth date.
        without_card(a1, "黎春花", "female", Some("1971-03-03"), None),
    ]
}

/// A resident as the comparison sees it: stored before the import, or created by a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ref {
    Stored(i64),
    Row(usize),
}

/// One row's answer with ids turned into [`Ref`]s, so two stores can be compared.
#[derive(Debug, PartialEq)]
enum Said {
    Created { review: Vec<Ref> },
    Linked { to: Ref, centibits: i64 },
    Refused(String),
}

/// An audit row after the seed: (user, action, outcome, object, resident, basis, reason).
type AuditRow = (
    String,
    String,
    String,
    Option<Ref>,
    Option<Ref>,
    String,
    String,
);

/// Everything an import leaves behind, in store-independent terms.
#[derive(Debug, PartialEq)]
struct Trace {
    said: Vec<Said>,
    /// Review pairs: (resident, candidate, score in centibits, explanation).
    reviews: Vec<(Ref, Ref, i64, String)>,
    audit: Vec<AuditRow>,
    /// Residents created: (row, name, record number).
    residents: Vec<(usize, String, Option<String>)>,
}

async fn trace(store: &Store, outcomes: &[RowOutcome], audit_before: i64) -> Trace {
    let created: HashMap<i64, usize> = outcomes
        .iter()
        .enumerate()
        .filter_map(|(row, o)| match o {
            Ok(Outcome::Created { id, .. }) => Some((*id, row)),
            _ => None,
        })
        .collect();
    let r = |id: i64| match created.get(&id) {
        Some(row) => Ref::Row(*row),
        None => Ref::Stored(id),
    };
    let said = outcomes
        .iter()
        .map(|o| match o {
            Ok(Outcome::Created { review, .. }) => Said::Created {
                review: review.iter().map(|id| r(*id)).collect(),
            },
            Ok(Outcome::Linked { id, score, .. }) => Said::Linked {
                to: r(*id),
                centibits: (score * 100.0).round() as i64,
            },
            Err(e) => Said::Refused(e.to_string()),
        })
        .collect();
    let mut reviews: Vec<_> = empi::reviews(store, "open", 1000, 0)
        .await
        .expect("reviews")
        .into_iter()
        .map(|v| {
            (
                r(v.resident_id),
                r(v.candidate_id),
                (v.score * 100.0).round() as i64,
                v.explanation,
            )
        })
        .collect();
    reviews.sort_by_key(|v| format!("{:?}{:?}", v.0, v.1));
    let mut entries = audit::list(store, &Filter::default(), 10_000, 0)
        .await
        .expect("audit");
    entries.retain(|e| e.seq > audit_before);
    entries.sort_by_key(|e| e.seq);
    let audit = entries
        .into_iter()
        .map(|e| {
            let ev = e.event;
            (
                ev.who.username.unwrap_or_default(),
                ev.action.as_str().to_owned(),
                ev.outcome.to_owned(),
                ev.object_id.and_then(|o| o.parse::<i64>().ok()).map(r),
                ev.resident_id.map(r),
                ev.basis.unwrap_or_default(),
                ev.reason.unwrap_or_default(),
            )
        })
        .collect();
    let stored: Vec<(i64, String, Option<String>)> = on_pool!(store, |pool| {
        sqlx::query("SELECT id, name, record_no FROM resident ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("residents")
            .iter()
            .map(|row| {
                (
                    row.col("id").expect("id"),
                    row.col("name").expect("name"),
                    row.col("record_no").expect("record_no"),
                )
            })
            .collect()
    });
    let mut residents: Vec<_> = stored
        .into_iter()
        .filter_map(|(id, name, no)| created.get(&id).map(|row| (*row, name, no)))
        .collect();
    residents.sort();
    Trace {
        said,
        reviews,
        audit,
        residents,
    }
}

/// Import `rows` into a fresh fixture county on the backend of `like`: one by one through
/// `access::register_resident` when `batch` is `None` (the oracle), else in batches of
/// that many rows. Returns the trace and whether any batch fell back to single writes.
async fn import_into_fresh(like: &Store, batch: Option<usize>) -> (Trace, bool, Vec<i64>) {
    let db = TestDb::like(like, keys()).await;
    let store = db.store();
    let county = County::build(&store).await;
    let seeded = seed(&store, &county).await;
    let viewer = Viewer {
        user: &county.clinician_a,
        remote_addr: None,
    };
    let rows = rows(&county);
    let before = audit::count(&store).await.expect("count");
    let mut outcomes: Vec<RowOutcome> = Vec::new();
    let mut fell_back = false;
    match batch {
        None => {
            for new in &rows {
                outcomes.push(access::register_resident(&store, &viewer, new).await);
            }
        }
        Some(size) => {
            for chunk in rows.chunks(size) {
                let done = import::register_batch(&store, &viewer, chunk)
                    .await
                    .expect("the batch is written");
                fell_back |= done.one_by_one;
                outcomes.extend(done.outcomes);
            }
        }
    }
    let verification = audit::verify(&store, |_, _| {}).await.expect("verify");
    assert_eq!(verification.problem, None, "the audit chain holds");
    let t = trace(&store, &outcomes, before).await;
    db.finish().await;
    (t, fell_back, seeded)
}

conformance!(a_batch_decides_stores_and_audits_what_single_registrations_do);
async fn a_batch_decides_stores_and_audits_what_single_registrations_do(store: Store) {
    let (oracle, _, seeded) = import_into_fresh(&store, None).await;
    // The file's mix shows in the oracle's answers, so the comparison covers each case.
    use Said::*;
    assert!(matches!(oracle.said[0], Created { ref review } if review.is_empty()));
    assert!(matches!(
        oracle.said[1],
        Linked {
            to: Ref::Stored(_),
            ..
        }
    ));
    assert!(matches!(oracle.said[2], Created { ref review } if !review.is_empty()));
    assert!(matches!(
        oracle.said[3],
        Linked {
            to: Ref::Row(0),
            ..
        }
    ));
    assert!(matches!(
        oracle.said[5],
        Linked {
            to: Ref::Row(4),
            ..
        }
    ));
    assert!(matches!(oracle.said[6], Created { ref review } if review.contains(&Ref::Row(4))));
    assert!(matches!(oracle.said[7], Refused(_)));
    assert!(matches!(oracle.said[9], Created { ref review } if review.contains(&Ref::Row(4))));
    assert!(matches!(
        oracle.said[11],
        Linked {
            to: Ref::Stored(_),
            ..
        }
    ));
    assert!(!oracle.reviews.is_empty());
    // The merged record is nobody's candidate; its survivor is.
    let (survivor, merged) = (Ref::Stored(seeded[2]), Ref::Stored(seeded[3]));
    assert!(matches!(oracle.said[16], Linked { to, .. } if to == survivor));
    let found = |said: &Said, who: Ref| match said {
        Linked { to, .. } => *to == who,
        Created { review } => review.contains(&who),
        Refused(_) => false,
    };
    assert!(found(&oracle.said[17], survivor), "{:?}", oracle.said[17]);
    // The namesake of township B, found by the birth date alone.
    let namesake = Ref::Stored(seeded[4]);
    assert!(found(&oracle.said[18], namesake), "{:?}", oracle.said[18]);
    assert!(
        oracle
            .reviews
            .iter()
            .all(|r| r.0 != merged && r.1 != merged)
    );

    // One batch for the whole file, batches that split the pairs above, one row a batch.
    for size in [100, 4, 1] {
        let (batched, fell_back, _) = import_into_fresh(&store, Some(size)).await;
        assert!(!fell_back, "batches of {size} are written in one go");
        assert_eq!(batched.said, oracle.said, "answers, batches of {size}");
        assert_eq!(
            batched.reviews, oracle.reviews,
            "review pairs, batches of {size}"
        );
        assert_eq!(batched.audit, oracle.audit, "audit rows, batches of {size}");
        assert_eq!(
            batched.residents, oracle.residents,
            "residents, batches of {size}"
        );
    }
}

conformance!(a_row_the_batch_write_refuses_is_reported_and_the_rest_imported);
async fn a_row_the_batch_write_refuses_is_reported_and_the_rest_imported(store: Store) {
    let county = County::build(&store).await;
    let viewer = Viewer {
        user: &county.clinician_a,
        remote_addr: None,
    };
    let a1 = &county.village_a1;
    let taken = "45122610020100501";
    let mut first = without_card(a1, "卢一", "male", Some("1966-06-06"), None);
    first.details.record_no = Some(taken.into());
    let mut second = without_card(a1, "卢二", "male", Some("1967-07-07"), None);
    second.details.record_no = Some(taken.into());
    let third = without_card(a1, "卢三", "male", Some("1968-08-08"), None);
    let residents_before = int(&store, "SELECT COUNT(*) FROM resident").await;
    let done = import::register_batch(&store, &viewer, &[first, second, third])
        .await
        .expect("the batch is registered");
    assert!(
        done.one_by_one,
        "the record-number clash is one row's problem"
    );
    assert!(matches!(done.outcomes[0], Ok(Outcome::Created { .. })));
    assert!(
        matches!(
            &done.outcomes[1],
            Err(AccessError::Store(StoreError::Conflict { constraint })) if constraint == "resident_record_no"
        ),
        "{:?}",
        done.outcomes[1]
    );
    assert!(matches!(done.outcomes[2], Ok(Outcome::Created { .. })));
    assert_eq!(
        int(&store, "SELECT COUNT(*) FROM resident").await,
        residents_before + 2
    );
    let verification = audit::verify(&store, |_, _| {}).await.expect("verify");
    assert_eq!(verification.problem, None);
}

conformance!(a_batch_that_fails_writes_nothing);
async fn a_batch_that_fails_writes_nothing(store: Store) {
    let county = County::build(&store).await;
    let viewer = Viewer {
        user: &county.clinician_a,
        remote_addr: None,
    };
    let a1 = &county.village_a1;
    // The batch's last write, the review pairs, is refused by the database.
    match store.backend() {
        Backend::Sqlite => {
            exec(
                &store,
                "CREATE TRIGGER refuse_reviews BEFORE INSERT ON match_review \
                 BEGIN SELECT RAISE(ABORT, 'refused for the test'); END",
            )
            .await
            .expect("trigger");
        }
        Backend::Postgres => {
            exec(
                &store,
                "CREATE FUNCTION refuse_reviews() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$",
            )
            .await
            .expect("function");
            exec(
                &store,
                "CREATE TRIGGER refuse_reviews BEFORE INSERT ON match_review \
                 FOR EACH ROW EXECUTE FUNCTION refuse_reviews()",
            )
            .await
            .expect("trigger");
        }
    }
    let residents_before = int(&store, "SELECT COUNT(*) FROM resident").await;
    let audit_before = audit::count(&store).await.expect("count");
    let rows = [
        new_resident(
            a1,
            "黄新",
            "male",
            Some(&id_card("451226", "19710101", 33)),
            None,
        ),
        // ana with a homophone surname and no card: a review pair to write.
        without_card(a1, "伟阿娜", "female", Some("1985-03-15"), None),
    ];
    let err = import::register_batch(&store, &viewer, &rows)
        .await
        .expect_err("the database refused the batch");
    assert!(matches!(err, StoreError::Other(_)), "{err:?}");
    assert_eq!(
        int(&store, "SELECT COUNT(*) FROM resident").await,
        residents_before,
        "no resident of the batch is kept"
    );
    assert_eq!(audit::count(&store).await.expect("count"), audit_before);
    let verification = audit::verify(&store, |_, _| {}).await.expect("verify");
    assert_eq!(verification.problem, None);
}
