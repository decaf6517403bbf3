//! The job queue: idempotent enqueue, claim order, retries, and no double claims under
//! concurrency.

use std::collections::HashSet;

use chrono::Duration;
use yiwei_store::{Store, job};

conformance!(enqueue_is_idempotent_and_claims_go_oldest_first);
async fn enqueue_is_idempotent_and_claims_go_oldest_first(store: Store) {
    let now = yiwei_store::now();
    assert!(
        job::enqueue(
            &store,
            "cost_alert",
            "2026-10",
            now - Duration::minutes(5),
            "{}"
        )
        .await
        .unwrap()
    );
    assert!(
        !job::enqueue(&store, "cost_alert", "2026-10", now, "{}")
            .await
            .unwrap()
    );
    assert!(
        job::enqueue(
            &store,
            "cost_alert",
            "2026-09",
            now - Duration::minutes(10),
            "{}"
        )
        .await
        .unwrap()
    );
    assert!(
        job::enqueue(&store, "later", "x", now + Duration::hours(1), "{}")
            .await
            .unwrap()
    );
    let first = job::claim(&store, "w1").await.unwrap().expect("a due job");
    assert_eq!(first.dedup_key, "2026-09");
    assert_eq!(first.state, "running");
    assert_eq!(first.attempts, 1);
    let second = job::claim(&store, "w1").await.unwrap().expect("a due job");
    assert_eq!(second.dedup_key, "2026-10");
    assert_eq!(
        job::claim(&store, "w1").await.unwrap(),
        None,
        "the future job is not due"
    );
    job::complete(&store, first.id).await.unwrap();
    assert!(
        !job::enqueue(&store, "cost_alert", "2026-09", now, "{}")
            .await
            .unwrap(),
        "done work is not queued again"
    );
}

conformance!(a_failed_job_is_retried_later_then_left_failed);
async fn a_failed_job_is_retried_later_then_left_failed(store: Store) {
    let now = yiwei_store::now();
    job::enqueue(&store, "flaky", "1", now - Duration::minutes(1), "{}")
        .await
        .unwrap();
    let j = job::claim(&store, "w").await.unwrap().unwrap();
    job::fail(&store, j.id, "boom").await.unwrap();
    assert_eq!(
        job::claim(&store, "w").await.unwrap(),
        None,
        "retry waits for its backoff"
    );
    let listed = job::recent(&store, 10).await.unwrap();
    assert_eq!(listed[0].state, "queued");
    assert_eq!(listed[0].last_error.as_deref(), Some("boom"));
}

conformance!(concurrent_workers_never_claim_the_same_job);
async fn concurrent_workers_never_claim_the_same_job(store: Store) {
    let now = yiwei_store::now();
    for i in 0..40 {
        job::enqueue(
            &store,
            "work",
            &i.to_string(),
            now - Duration::seconds(1),
            "{}",
        )
        .await
        .unwrap();
    }
    let mut handles = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(j) = job::claim(&store, &format!("w{w}")).await.unwrap() {
                got.push(j.id);
            }
            got
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for h in handles {
        for id in h.await.unwrap() {
            total += 1;
            assert!(seen.insert(id), "job {id} claimed twice");
        }
    }
    assert_eq!(total, 40);
}
