//! Web sessions and API bearer tokens.

use chrono::Duration;
use yiwei_store::session::{self, Lookup, Session};
use yiwei_store::user;
use yiwei_store::{Store, now};

use crate::support::{County, int};

const IDLE: Duration = Duration::minutes(30);

async fn active(store: &Store, token: &str) -> Session {
    match session::lookup(store, token, IDLE).await.expect("lookup") {
        Lookup::Active(s) => s,
        other => panic!("expected an active session, got {other:?}"),
    }
}

async fn is_unknown(store: &Store, token: &str) -> bool {
    matches!(
        session::lookup(store, token, IDLE).await.expect("lookup"),
        Lookup::Unknown
    )
}

conformance!(a_session_is_active_until_idle_then_expired_then_gone);
async fn a_session_is_active_until_idle_then_expired_then_gone(store: Store) {
    let c = County::build(&store).await;
    let token = session::create(&store, c.doctor_a1.id)
        .await
        .expect("create");
    assert_eq!(token.len(), 64);

    let s = active(&store, &token).await;
    assert_eq!(
        s.user,
        user::get(&store, c.doctor_a1.id).await.expect("user")
    );
    assert_eq!(s.csrf_token.len(), 64);
    assert_ne!(s.csrf_token, token);
    assert_eq!(
        s.created_at, s.last_seen_at,
        "a fresh session was last seen when created"
    );
    let again = active(&store, &token).await;
    assert_eq!(
        again.csrf_token, s.csrf_token,
        "the CSRF token lives as long as the session"
    );

    // Only the token's keyed hash is stored.
    let raw = int(
        &store,
        &format!("SELECT COUNT(*) FROM web_session WHERE token_hash = '{token}'"),
    )
    .await;
    assert_eq!(raw, 0);
    assert_eq!(int(&store, "SELECT COUNT(*) FROM web_session").await, 1);

    // A negative idle limit makes any session too old, without waiting.
    let expired = session::lookup(&store, &token, Duration::seconds(-1))
        .await
        .expect("lookup");
    assert!(matches!(expired, Lookup::Expired), "{expired:?}");
    assert!(
        is_unknown(&store, &token).await,
        "an expired session is deleted"
    );
    assert!(is_unknown(&store, "not-a-token").await);
}

conformance!(logout_and_sweep_end_sessions);
async fn logout_and_sweep_end_sessions(store: Store) {
    let c = County::build(&store).await;
    let first = session::create(&store, c.doctor_a1.id)
        .await
        .expect("create");
    let second = session::create(&store, c.doctor_a1.id)
        .await
        .expect("create");
    let other = session::create(&store, c.clinician_a.id)
        .await
        .expect("create");
    assert_ne!(first, second);
    session::end(&store, &first).await.expect("logout");
    assert!(is_unknown(&store, &first).await);
    assert_eq!(active(&store, &second).await.user.id, c.doctor_a1.id);

    assert_eq!(
        session::sweep(&store, IDLE).await.expect("sweep"),
        0,
        "nothing idle yet"
    );
    assert_eq!(
        session::sweep(&store, Duration::seconds(-1))
            .await
            .expect("sweep"),
        2
    );
    assert!(is_unknown(&store, &second).await);
    assert!(is_unknown(&store, &other).await);
}

conformance!(disabling_a_user_or_resetting_the_password_ends_their_sessions);
async fn disabling_a_user_or_resetting_the_password_ends_their_sessions(store: Store) {
    let c = County::build(&store).await;
    let admin = c.admin.who();
    let doctor = session::create(&store, c.doctor_a1.id)
        .await
        .expect("create");
    let clinician = session::create(&store, c.clinician_a.id)
        .await
        .expect("create");
    user::set_disabled(&store, c.doctor_a1.id, true, &admin)
        .await
        .expect("disable");
    assert!(is_unknown(&store, &doctor).await);
    assert_eq!(
        active(&store, &clinician).await.user.id,
        c.clinician_a.id,
        "others stay"
    );

    // A session created for a disabled user (a race with the administrator) is refused.
    let late = session::create(&store, c.doctor_a1.id)
        .await
        .expect("create");
    assert!(is_unknown(&store, &late).await);

    user::reset_password(&store, c.clinician_a.id, "a brand new password", &admin)
        .await
        .expect("reset");
    assert!(is_unknown(&store, &clinician).await);
}

conformance!(api_tokens_resolve_to_their_user_until_revoked_expired_or_disabled);
async fn api_tokens_resolve_to_their_user_until_revoked_expired_or_disabled(store: Store) {
    let c = County::build(&store).await;
    let etl = session::create_api_token(&store, c.analyst.id, "etl", None)
        .await
        .expect("token");
    assert!(etl.starts_with("yw_"));
    let found = session::api_token_user(&store, &etl)
        .await
        .expect("lookup")
        .expect("a user");
    assert_eq!(found, user::get(&store, c.analyst.id).await.expect("user"));
    assert_eq!(
        session::api_token_user(&store, "yw_unknown")
            .await
            .expect("lookup"),
        None
    );

    assert_eq!(
        session::revoke_api_tokens(&store, c.analyst.id, "etl")
            .await
            .expect("revoke"),
        1
    );
    assert_eq!(
        session::api_token_user(&store, &etl).await.expect("lookup"),
        None
    );
    assert_eq!(
        session::revoke_api_tokens(&store, c.analyst.id, "etl")
            .await
            .expect("revoke"),
        0
    );

    let past = session::create_api_token(
        &store,
        c.analyst.id,
        "old",
        Some(now() - Duration::minutes(1)),
    )
    .await
    .expect("token");
    assert_eq!(
        session::api_token_user(&store, &past)
            .await
            .expect("lookup"),
        None
    );

    let future = session::create_api_token(
        &store,
        c.analyst.id,
        "report",
        Some(now() + Duration::days(1)),
    )
    .await
    .expect("token");
    let plain = session::create_api_token(&store, c.analyst.id, "dash", None)
        .await
        .expect("token");
    let doctor = session::create_api_token(&store, c.doctor_a1.id, "dash", None)
        .await
        .expect("token");
    for token in [&future, &plain] {
        let user = session::api_token_user(&store, token)
            .await
            .expect("lookup")
            .expect("user");
        assert_eq!(user.id, c.analyst.id);
    }

    let admin = c.admin.who();
    user::set_disabled(&store, c.analyst.id, true, &admin)
        .await
        .expect("disable");
    for token in [&future, &plain] {
        assert_eq!(
            session::api_token_user(&store, token)
                .await
                .expect("lookup"),
            None
        );
    }
    // Disabling revoked the tokens for good: enabling the user again does not revive them.
    user::set_disabled(&store, c.analyst.id, false, &admin)
        .await
        .expect("enable");
    for token in [&future, &plain] {
        assert_eq!(
            session::api_token_user(&store, token)
                .await
                .expect("lookup"),
            None
        );
    }
    let doctor_user = session::api_token_user(&store, &doctor)
        .await
        .expect("lookup");
    assert_eq!(
        doctor_user.map(|u| u.id),
        Some(c.doctor_a1.id),
        "other users keep theirs"
    );
}
