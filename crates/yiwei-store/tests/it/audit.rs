//! The hash-chained audit log: appends verify, tampering is found.

use yiwei_store::audit::{self, Action, Event, Problem, Verification, Who};
use yiwei_store::{Backend, Store};

use crate::support::{drop_audit_triggers, exec, int};

fn who(n: i64) -> Who {
    Who {
        user_id: Some(n),
        username: Some(format!("user{n}")),
        role: Some("clinician".into()),
        institution_id: Some(1),
    }
}

/// Append `n` varied events; returns their sequence numbers.
async fn append_events(store: &Store, n: i64) -> Vec<i64> {
    let mut seqs = Vec::new();
    for i in 1..=n {
        let event = match i % 3 {
            0 => Event::new(who(i), Action::Read)
                .object("resident", i)
                .resident(i)
                .basis("subtree")
                .from_addr(Some("192.0.2.7".into())),
            1 => Event::new(Who::default(), Action::LoginFailed)
                .outcome("failed")
                .reason("unknown user"),
            _ => Event::new(who(i), Action::Denied)
                .outcome("denied")
                .object("resident", i)
                .resident(i)
                .basis("outside_reach")
                .reason("read"),
        };
        seqs.push(audit::append(store, &event).await.expect("append"));
    }
    seqs
}

async fn verify(store: &Store) -> Verification {
    audit::verify(store, |_, _| {}).await.expect("verify runs")
}

conformance!(appended_events_form_a_gapless_chain_that_verifies);
async fn appended_events_form_a_gapless_chain_that_verifies(store: Store) {
    assert_eq!(
        verify(&store).await,
        Verification {
            checked: 0,
            problem: None
        }
    );
    let seqs = append_events(&store, 7).await;
    assert_eq!(seqs, (1..=7).collect::<Vec<i64>>());
    assert_eq!(audit::count(&store).await.expect("count"), 7);
    let mut calls = Vec::new();
    let v = audit::verify(&store, |done, total| calls.push((done, total)))
        .await
        .expect("verify");
    assert_eq!(
        v,
        Verification {
            checked: 7,
            problem: None
        }
    );
    assert_eq!(calls.last(), Some(&(7, 7)));

    let all = audit::list(&store, &audit::Filter::default(), 100, 0)
        .await
        .expect("list");
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=7).rev().collect::<Vec<_>>()
    );
    for pair in all.windows(2) {
        assert_eq!(
            pair[0].prev_hash, pair[1].hash,
            "each row links to the one before"
        );
    }
    assert_eq!(all.last().map(|e| e.prev_hash.clone()), Some(vec![0u8; 32]));
    let third = &all[all.len() - 3];
    assert_eq!(third.event.resident_id, Some(3));
    assert_eq!(third.event.remote_addr.as_deref(), Some("192.0.2.7"));
    assert_eq!(third.event.who, who(3));

    let failed = audit::Filter {
        action: Some("login_failed".into()),
        ..Default::default()
    };
    let entries = audit::list(&store, &failed, 100, 0).await.expect("list");
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![7, 4, 1]
    );
    assert!(
        entries
            .iter()
            .all(|e| e.event.who == Who::default() && e.event.outcome == "failed")
    );
    let paged = audit::list(&store, &audit::Filter::default(), 2, 2)
        .await
        .expect("list");
    assert_eq!(paged.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![5, 4]);
    let about_two = audit::for_resident(&store, 2, 10, 0)
        .await
        .expect("for resident");
    assert_eq!(about_two.len(), 1);
    assert_eq!(about_two[0].event.action, Action::Denied);
}

conformance!(the_triggers_refuse_to_update_or_delete_audit_rows);
async fn the_triggers_refuse_to_update_or_delete_audit_rows(store: Store) {
    append_events(&store, 3).await;
    let update = exec(
        &store,
        "UPDATE audit_log SET reason = 'nothing happened' WHERE seq = 2",
    )
    .await;
    assert!(update.is_err(), "UPDATE of audit_log must fail: {update:?}");
    let delete = exec(&store, "DELETE FROM audit_log WHERE seq = 3").await;
    assert!(
        delete.is_err(),
        "DELETE from audit_log must fail: {delete:?}"
    );
    if store.backend() == Backend::Postgres {
        let truncate = exec(&store, "TRUNCATE audit_log").await;
        assert!(
            truncate.is_err(),
            "TRUNCATE of audit_log must fail: {truncate:?}"
        );
    }
    assert_eq!(int(&store, "SELECT COUNT(*) FROM audit_log").await, 3);
    assert_eq!(
        verify(&store).await,
        Verification {
            checked: 3,
            problem: None
        }
    );
}

conformance!(an_edited_row_breaks_its_hash);
async fn an_edited_row_breaks_its_hash(store: Store) {
    append_events(&store, 6).await;
    drop_audit_triggers(&store).await;
    let changed = exec(
        &store,
        "UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 4",
    )
    .await;
    assert_eq!(changed.expect("update without the trigger"), 1);
    assert_eq!(
        verify(&store).await,
        Verification {
            checked: 3,
            problem: Some((4, Problem::HashMismatch))
        }
    );
}

conformance!(a_deleted_middle_row_leaves_a_gap);
async fn a_deleted_middle_row_leaves_a_gap(store: Store) {
    append_events(&store, 6).await;
    drop_audit_triggers(&store).await;
    assert_eq!(
        exec(&store, "DELETE FROM audit_log WHERE seq = 3")
            .await
            .expect("delete"),
        1
    );
    assert_eq!(
        verify(&store).await,
        Verification {
            checked: 2,
            problem: Some((3, Problem::Gap))
        }
    );
}

conformance!(a_deleted_last_row_no_longer_matches_the_head);
async fn a_deleted_last_row_no_longer_matches_the_head(store: Store) {
    append_events(&store, 6).await;
    drop_audit_triggers(&store).await;
    assert_eq!(
        exec(&store, "DELETE FROM audit_log WHERE seq = 6")
            .await
            .expect("delete"),
        1
    );
    assert_eq!(
        verify(&store).await,
        Verification {
            checked: 5,
            problem: Some((6, Problem::HeadMismatch))
        }
    );
}

conformance!(a_row_pointing_at_the_wrong_predecessor_breaks_the_link);
async fn a_row_pointing_at_the_wrong_predecessor_breaks_the_link(store: Store) {
    append_events(&store, 5).await;
    drop_audit_triggers(&store).await;
    // Point row 3 at a wrong predecessor (its own hash): the broken link is found before
    // the hash check.
    let sql = "UPDATE audit_log SET prev_hash = (SELECT hash FROM audit_log WHERE seq = 3) \
               WHERE seq = 3";
    assert_eq!(exec(&store, sql).await.expect("update"), 1);
    assert_eq!(
        verify(&store).await,
        Verification {
            checked: 2,
            problem: Some((3, Problem::BrokenLink))
        }
    );
}

conformance!(concurrent_writes_commit_together_and_a_failed_one_leaves_nothing);
/// `Store::write` under concurrency (on SQLite the group committer): forty appends at once,
/// every other one joined by a write that moves the chain head and then fails. The failed
/// writes roll back alone (the head is untouched), every append is answered with its own
/// sequence number, and the chain verifies.
async fn concurrent_writes_commit_together_and_a_failed_one_leaves_nothing(store: Store) {
    let before = audit::count(&store).await.unwrap();
    let mut appends = Vec::new();
    let mut failures = Vec::new();
    for i in 1..=40 {
        let s = store.clone();
        appends.push(tokio::spawn(async move {
            audit::append(&s, &Event::new(who(i), Action::Read).resident(i)).await
        }));
        if i % 2 == 0 {
            let s = store.clone();
            failures.push(tokio::spawn(async move {
                s.write(|tx| {
                    Box::pin(async move {
                        yiwei_store::on_tx!(tx, |conn| {
                            sqlx::query("UPDATE audit_head SET seq = seq + 1000 WHERE id = 1")
                                .execute(&mut *conn)
                                .await?;
                        });
                        Err::<(), yiwei_store::StoreError>(yiwei_store::StoreError::Invalid(
                            "refused after writing".into(),
                        ))
                    })
                })
                .await
            }));
        }
    }
    let mut seqs = Vec::new();
    for t in appends {
        seqs.push(t.await.unwrap().expect("append"));
    }
    for t in failures {
        let e = t.await.unwrap().expect_err("the failing write fails");
        assert!(e.to_string().contains("refused after writing"), "{e}");
    }
    seqs.sort_unstable();
    assert_eq!(seqs, ((before + 1)..=(before + 40)).collect::<Vec<_>>());
    assert_eq!(audit::count(&store).await.unwrap(), before + 40);
    let v = audit::verify(&store, |_, _| {}).await.unwrap();
    assert_eq!(v.problem, None);
    assert_eq!(v.checked, before + 40);
}
