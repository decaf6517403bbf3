//! Users, passwords, logins and the lockout rule.

use yiwei_domain::access::Role;
use yiwei_domain::lockout::LockoutPolicy;
use yiwei_store::audit::{self, Entry, Filter};
use yiwei_store::user::{self, LoginOutcome, NewUser};
use yiwei_store::{Store, StoreError};

use crate::support::{County, PASSWORD};

const ADDR: &str = "198.51.100.20";

async fn login(store: &Store, username: &str, password: &str) -> LoginOutcome {
    user::login(
        store,
        username,
        password,
        LockoutPolicy::default(),
        Some(ADDR.into()),
    )
    .await
    .expect("login runs")
}

async fn entries(store: &Store, action: &str, user_id: Option<i64>) -> Vec<Entry> {
    let filter = Filter {
        action: Some(action.into()),
        user_id,
        ..Filter::default()
    };
    audit::list(store, &filter, 100, 0)
        .await
        .expect("audit list")
}

conformance!(five_wrong_passwords_lock_the_account_until_a_password_reset);
async fn five_wrong_passwords_lock_the_account_until_a_password_reset(store: Store) {
    let c = County::build(&store).await;
    let name = c.doctor_a1.username.as_str();
    assert_eq!(LockoutPolicy::default().max_failures, 5);
    for attempt in 1..=4 {
        assert_eq!(
            login(&store, name, "wrong password").await,
            LoginOutcome::WrongCredentials
        );
        let u = user::get(&store, c.doctor_a1.id).await.expect("user");
        assert_eq!((u.failed_logins, u.locked_until), (attempt, None));
    }
    let LoginOutcome::Locked { until } = login(&store, name, "wrong password").await else {
        panic!("the fifth wrong password locks the account");
    };
    let u = user::get(&store, c.doctor_a1.id).await.expect("user");
    assert_eq!((u.failed_logins, u.locked_until), (5, Some(until)));
    assert!(until > yiwei_store::now(), "the lock lies ahead");

    assert_eq!(
        login(&store, name, PASSWORD).await,
        LoginOutcome::Locked { until },
        "the right password is refused while locked"
    );

    let failed = entries(&store, "login_failed", Some(c.doctor_a1.id)).await;
    let reasons: Vec<_> = failed
        .iter()
        .map(|e| e.event.reason.as_deref().unwrap())
        .collect();
    assert_eq!(
        reasons,
        vec![
            "locked",
            "wrong password; now locked",
            "wrong password",
            "wrong password",
            "wrong password",
            "wrong password",
        ]
    );
    for e in &failed {
        assert_eq!(e.event.outcome, "failed");
        assert_eq!(e.event.who, c.doctor_a1.who());
        assert_eq!(e.event.remote_addr.as_deref(), Some(ADDR));
    }
    assert!(
        entries(&store, "login", Some(c.doctor_a1.id))
            .await
            .is_empty()
    );

    let new_password = "a new and long password";
    user::reset_password(&store, c.doctor_a1.id, new_password, &c.admin.who())
        .await
        .expect("reset");
    let u = user::get(&store, c.doctor_a1.id).await.expect("user");
    assert_eq!((u.failed_logins, u.locked_until), (0, None));
    assert_eq!(
        login(&store, name, PASSWORD).await,
        LoginOutcome::WrongCredentials
    );
    let LoginOutcome::Ok(logged_in) = login(&store, name, new_password).await else {
        panic!("the new password logs in");
    };
    assert_eq!(logged_in.id, c.doctor_a1.id);
    assert_eq!((logged_in.failed_logins, logged_in.locked_until), (0, None));

    let ok = entries(&store, "login", Some(c.doctor_a1.id)).await;
    assert_eq!(ok.len(), 1);
    assert_eq!(
        (ok[0].event.outcome, ok[0].event.remote_addr.as_deref()),
        ("ok", Some(ADDR))
    );
    let admin = entries(&store, "user_admin", None).await;
    assert_eq!(admin[0].event.reason.as_deref(), Some("password reset"));
    assert_eq!(admin[0].event.object_id, Some(c.doctor_a1.id.to_string()));
    assert_eq!(admin[0].event.who.user_id, Some(c.admin.id));
}

conformance!(a_successful_login_starts_the_failure_count_afresh);
async fn a_successful_login_starts_the_failure_count_afresh(store: Store) {
    let c = County::build(&store).await;
    let name = c.clinician_a.username.as_str();
    for _ in 0..4 {
        assert_eq!(
            login(&store, name, "guess").await,
            LoginOutcome::WrongCredentials
        );
    }
    assert!(matches!(
        login(&store, name, PASSWORD).await,
        LoginOutcome::Ok(_)
    ));
    for _ in 0..4 {
        assert_eq!(
            login(&store, name, "guess").await,
            LoginOutcome::WrongCredentials
        );
    }
    assert_eq!(
        user::get(&store, c.clinician_a.id)
            .await
            .expect("user")
            .failed_logins,
        4
    );
}

conformance!(an_unknown_user_gets_wrong_credentials_and_is_audited_by_name);
async fn an_unknown_user_gets_wrong_credentials_and_is_audited_by_name(store: Store) {
    County::build(&store).await;
    assert_eq!(
        login(&store, "nobody", PASSWORD).await,
        LoginOutcome::WrongCredentials
    );
    let failed = entries(&store, "login_failed", None).await;
    assert_eq!(failed.len(), 1);
    let e = &failed[0].event;
    assert_eq!(
        (e.who.user_id, e.who.username.as_deref()),
        (None, Some("nobody"))
    );
    assert_eq!(
        (e.outcome, e.reason.as_deref()),
        ("failed", Some("unknown user"))
    );
    assert_eq!(e.remote_addr.as_deref(), Some(ADDR));

    let long_name = "x".repeat(500);
    assert_eq!(
        login(&store, &long_name, PASSWORD).await,
        LoginOutcome::WrongCredentials
    );
    let failed = entries(&store, "login_failed", None).await;
    assert_eq!(
        failed[0].event.who.username.as_deref().map(str::len),
        Some(64)
    );
}

conformance!(a_disabled_user_is_refused_even_with_the_right_password);
async fn a_disabled_user_is_refused_even_with_the_right_password(store: Store) {
    let c = County::build(&store).await;
    let admin = c.admin.who();
    user::set_disabled(&store, c.analyst.id, true, &admin)
        .await
        .expect("disable");
    assert!(
        user::get(&store, c.analyst.id)
            .await
            .expect("user")
            .disabled
    );
    assert_eq!(
        login(&store, "analyst", PASSWORD).await,
        LoginOutcome::Disabled
    );
    let failed = entries(&store, "login_failed", Some(c.analyst.id)).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].event.reason.as_deref(), Some("disabled"));

    user::set_disabled(&store, c.analyst.id, false, &admin)
        .await
        .expect("enable");
    assert!(matches!(
        login(&store, "analyst", PASSWORD).await,
        LoginOutcome::Ok(_)
    ));
    assert_eq!(entries(&store, "login", Some(c.analyst.id)).await.len(), 1);
    let reasons: Vec<_> = entries(&store, "user_admin", None)
        .await
        .iter()
        .take(2)
        .map(|e| e.event.reason.clone().unwrap())
        .collect();
    assert_eq!(reasons, vec!["enabled", "disabled"]);
    assert!(matches!(
        user::set_disabled(&store, 999_999, true, &admin).await,
        Err(StoreError::NotFound(_))
    ));
}

conformance!(users_are_added_listed_and_checked);
async fn users_are_added_listed_and_checked(store: Store) {
    let c = County::build(&store).await;
    let (all, total) = user::list(&store, 100, 0).await.expect("list");
    assert_eq!(total, 5);
    let names: Vec<_> = all.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(
        names,
        vec!["admin", "ana", "analyst", "clinician.a", "doctor.a1"]
    );
    let (page, total) = user::list(&store, 2, 1).await.expect("list");
    assert_eq!((page.len(), total), (2, 5));
    assert_eq!(page[0].username, "ana");

    let ana = user::by_username(&store, "ana").await.expect("by username");
    assert_eq!(ana, c.resident_user);
    assert_eq!(ana.role, Role::Resident);
    assert_eq!(ana.resident_id, Some(c.ana));
    assert_eq!(ana.actor().own_resident, Some(c.ana));
    assert_eq!(c.clinician_a.institution_id, Some(c.centre_a));
    assert_eq!(c.clinician_a.reach, c.township_a);
    assert!(matches!(
        user::by_username(&store, "nobody").await,
        Err(StoreError::NotFound(_))
    ));

    let new = |username: &str, password: &str, role: Role, resident_id: Option<i64>| NewUser {
        username: username.to_owned(),
        display_name: "某某".to_owned(),
        role,
        institution_id: Some(c.centre_b),
        reach: c.township_b.clone(),
        resident_id,
        password: password.to_owned(),
        phone: None,
    };
    let by = c.admin.who();
    let taken = user::add(
        &store,
        &new("analyst", PASSWORD, Role::Clinician, None),
        &by,
    )
    .await;
    assert!(
        matches!(taken, Err(StoreError::Conflict { .. })),
        "{taken:?}"
    );
    for invalid in [
        new("x", PASSWORD, Role::Clinician, None),
        new("has space", PASSWORD, Role::Clinician, None),
        new("clinician.b", "short", Role::Clinician, None),
        new("resident.b", PASSWORD, Role::Resident, None),
    ] {
        let result = user::add(&store, &invalid, &by).await;
        assert!(
            matches!(result, Err(StoreError::Invalid(_))),
            "{}: {result:?}",
            invalid.username
        );
    }
    assert_eq!(
        user::list(&store, 100, 0).await.expect("list").1,
        5,
        "nothing was added"
    );

    let b = user::add(
        &store,
        &new("clinician.b", PASSWORD, Role::Clinician, None),
        &by,
    )
    .await
    .expect("add");
    assert_eq!(b.reach, c.township_b);
    assert!(!b.disabled && !b.has_phone);
    let added = entries(&store, "user_admin", Some(c.admin.id)).await;
    assert_eq!(added[0].event.object_id, Some(b.id.to_string()));
    assert_eq!(added[0].event.reason.as_deref(), Some("added"));
}
