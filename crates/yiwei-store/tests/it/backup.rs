//! Logical backup and restore, on each backend and across them.

use std::path::{Path, PathBuf};

use chrono::Duration;
use yiwei_domain::access::Basis;
use yiwei_domain::lockout::LockoutPolicy;
use yiwei_store::access::{self, Viewer};
use yiwei_store::audit::{self, Verification};
use yiwei_store::backup;
use yiwei_store::crypto::Field;
use yiwei_store::resident;
use yiwei_store::session;
use yiwei_store::user::{self, LoginOutcome};
use yiwei_store::{Store, StoreError};

use crate::support::{County, PASSWORD, TestDb, int, keys, new_resident, other_keys};

/// The fixture county plus activity, so that every backed-up table has rows and nullable
/// columns hold both values and NULLs.
async fn populate(store: &Store) -> County {
    let c = County::build(store).await;
    let doctor = Viewer {
        user: &c.doctor_a1,
        remote_addr: Some("10.0.0.8".into()),
    };
    access::open_resident(store, &doctor, c.ana)
        .await
        .expect("read");
    access::reveal(store, &doctor, c.ana, Field::Phone)
        .await
        .expect("reveal");
    access::open_resident(store, &doctor, c.chen)
        .await
        .expect_err("outside reach");
    let analyst = Viewer {
        user: &c.analyst,
        remote_addr: None,
    };
    access::break_glass(
        store,
        &analyst,
        c.bo,
        "核查疫苗接种记录",
        Duration::hours(2),
    )
    .await
    .expect("break-glass");
    access::open_resident(store, &analyst, c.bo)
        .await
        .expect("break-glass read");
    for _ in 0..5 {
        user::login(
            store,
            "clinician.a",
            "wrong",
            LockoutPolicy::default(),
            None,
        )
        .await
        .expect("login");
    }
    user::login(store, "doctor.a1", "wrong", LockoutPolicy::default(), None)
        .await
        .expect("login");
    user::login(store, "nobody", "wrong", LockoutPolicy::default(), None)
        .await
        .expect("login");
    session::create_api_token(store, c.analyst.id, "etl", Some(yiwei_store::now()))
        .await
        .expect("token");
    session::create_api_token(store, c.analyst.id, "revoked", None)
        .await
        .expect("token");
    session::revoke_api_tokens(store, c.analyst.id, "revoked")
        .await
        .expect("revoke");
    session::create(store, c.doctor_a1.id)
        .await
        .expect("session");
    c
}

/// The lines of a backup file between its header and its trailer.
fn body(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("read backup");
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(lines.len() >= 2, "a backup has a header and a trailer");
    lines[1..lines.len() - 1].to_vec()
}

fn header(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("read backup");
    serde_json::from_str(text.lines().next().expect("a header")).expect("JSON header")
}

async fn write(store: &Store, path: PathBuf) -> (PathBuf, u64) {
    let rows = backup::write(store, &path, |_, _| {})
        .await
        .expect("backup");
    assert!(
        !path.with_extension("partial").exists(),
        "the partial file is renamed"
    );
    (path, rows)
}

async fn restore(store: &Store, path: &Path) -> Result<u64, StoreError> {
    backup::restore(store, path, |_, _| {}).await
}

async fn verified(store: &Store) -> Verification {
    audit::verify(store, |_, _| {}).await.expect("verify")
}

/// Whether `store` is still the untouched, freshly migrated database.
async fn untouched(store: &Store) -> bool {
    backup::is_empty(store).await.expect("is_empty")
        && int(store, "SELECT COUNT(*) FROM audit_log").await == 0
        && int(store, "SELECT COUNT(*) FROM resident").await == 0
        && int(store, "SELECT COUNT(*) FROM institution").await == 0
}

/// The restored store works: logins, reads, new rows with fresh ids, the audit chain.
async fn check_restored(store: &Store, c: &County) {
    let expected = audit::count(store).await.expect("count");
    assert_eq!(
        verified(store).await,
        Verification {
            checked: expected,
            problem: None
        }
    );
    let LoginOutcome::Ok(doctor) =
        user::login(store, "doctor.a1", PASSWORD, LockoutPolicy::default(), None)
            .await
            .expect("login")
    else {
        panic!("the restored doctor logs in");
    };
    assert_eq!(doctor.id, c.doctor_a1.id);
    let locked = user::login(
        store,
        "clinician.a",
        PASSWORD,
        LockoutPolicy::default(),
        None,
    )
    .await
    .expect("login");
    assert!(
        matches!(locked, LoginOutcome::Locked { .. }),
        "the lock survives: {locked:?}"
    );
    let viewer = Viewer {
        user: &doctor,
        remote_addr: None,
    };
    let (record, basis) = access::open_resident(store, &viewer, c.ana)
        .await
        .expect("read");
    assert_eq!((record.id, basis), (c.ana, Basis::Subtree));
    let id_card = access::reveal(store, &viewer, c.ana, Field::IdCard)
        .await
        .expect("reveal");
    assert_eq!(
        id_card.as_deref(),
        Some(c.ana_id_card.as_str()),
        "same keys, same numbers"
    );
    let (found, _) = access::find_by_id_card(store, &viewer, &c.ana_id_card.to_lowercase())
        .await
        .expect("lookup")
        .expect("found by hash");
    assert_eq!(found.id, c.ana);

    let newcomer = resident::create(
        store,
        &new_resident(&c.village_a1, "新来的", "male", None, Some("13500000000")),
        &c.admin.who(),
    )
    .await
    .expect("a new resident after restore");
    assert!(newcomer > c.chen, "ids continue after the restored ones");
    let grants = access::grants(store, 10, 0).await.expect("grants");
    assert_eq!(grants.len(), 1);
    assert_eq!(
        (grants[0].user_id, grants[0].resident_id),
        (c.analyst.id, c.bo)
    );
    assert_eq!(
        verified(store).await,
        Verification {
            checked: audit::count(store).await.expect("count"),
            problem: None
        }
    );
}

conformance!(a_backup_restores_into_an_empty_store_and_backs_up_identically);
async fn a_backup_restores_into_an_empty_store_and_backs_up_identically(store: Store) {
    let c = populate(&store).await;
    let target = TestDb::like(&store, keys()).await;
    let (first, rows) = write(&store, target.dir().join("first.jsonl")).await;
    assert_eq!(int(&store, "SELECT COUNT(*) FROM resident").await, 4);
    let summary = backup::check(&first, keys().fingerprint()).expect("check");
    assert_eq!(summary.rows, rows);
    assert_eq!(summary.backend, store.backend().as_str());
    assert_eq!(
        summary.schema_version,
        yiwei_store::migrate::latest_version()
    );
    assert_eq!(header(&first)["key_fingerprint"], keys().fingerprint());
    assert!(
        !body(&first).iter().any(|l| l.contains(&c.ana_id_card)),
        "numbers stay encrypted"
    );

    let mut progress = Vec::new();
    let restored = backup::restore(&target.store(), &first, |done, total| {
        progress.push((done, total))
    })
    .await
    .expect("restore");
    assert_eq!(restored, rows);
    assert_eq!(progress.last(), Some(&(rows, rows)));
    let (second, rows_again) = write(&target.store(), target.dir().join("second.jsonl")).await;
    assert_eq!(rows_again, rows);
    assert_eq!(body(&first), body(&second));
    assert_eq!(
        int(&target.store(), "SELECT COUNT(*) FROM web_session").await,
        0,
        "sessions are not backed up"
    );
    check_restored(&target.store(), &c).await;
    target.finish().await;
}

conformance!(a_restore_into_a_non_empty_store_is_refused_and_changes_nothing);
async fn a_restore_into_a_non_empty_store_is_refused_and_changes_nothing(store: Store) {
    populate(&store).await;
    let target = TestDb::like(&store, keys()).await;
    let (source, _) = write(&store, target.dir().join("source.jsonl")).await;
    let occupied = target.store();
    County::build(&occupied).await;
    let (before, _) = write(&occupied, target.dir().join("before.jsonl")).await;
    let refused = restore(&occupied, &source).await;
    assert!(
        matches!(&refused, Err(StoreError::Invalid(m)) if m.contains("not empty")),
        "{refused:?}"
    );
    let (after, _) = write(&occupied, target.dir().join("after.jsonl")).await;
    assert_eq!(body(&before), body(&after));

    // A store that holds only audit entries is not empty either.
    let only_audit = TestDb::like(&store, keys()).await;
    audit::append(
        &only_audit.store(),
        &audit::Event::new(audit::Who::default(), audit::Action::LoginFailed).outcome("failed"),
    )
    .await
    .expect("append");
    assert!(restore(&only_audit.store(), &source).await.is_err());
    assert_eq!(audit::count(&only_audit.store()).await.expect("count"), 1);
    only_audit.finish().await;
    target.finish().await;
}

/// Flip one bit of a digit inside a row line, keeping the file valid JSON.
fn flip_a_byte_in_a_row(bytes: &mut [u8]) {
    let mut line_start = 0;
    let mut line_no = 0;
    for i in 0..bytes.len() {
        if bytes[i] == b'\n' {
            line_start = i + 1;
            line_no += 1;
            continue;
        }
        // The third row line of the file or later, at a digit of a value.
        if line_no > 3 && bytes[line_start] == b'[' && bytes[i] == b'4' {
            bytes[i] ^= 0x01;
            return;
        }
    }
    panic!("no row line with a digit to flip");
}

conformance!(a_damaged_or_truncated_backup_is_refused_before_anything_is_written);
async fn a_damaged_or_truncated_backup_is_refused_before_anything_is_written(store: Store) {
    populate(&store).await;
    let target = TestDb::like(&store, keys()).await;
    let dir = target.dir().to_owned();
    let (good, _) = write(&store, dir.join("good.jsonl")).await;
    let bytes = std::fs::read(&good).expect("read");

    let mut flipped = bytes.clone();
    flip_a_byte_in_a_row(&mut flipped);
    assert_eq!(
        flipped.iter().zip(&bytes).filter(|(a, b)| a != b).count(),
        1
    );
    let damaged = dir.join("damaged.jsonl");
    std::fs::write(&damaged, &flipped).expect("write");

    let text = String::from_utf8(bytes.clone()).expect("UTF-8");
    let without_trailer = dir.join("without-trailer.jsonl");
    let last_line = text.trim_end().rfind('\n').expect("several lines");
    std::fs::write(&without_trailer, &text[..=last_line]).expect("write");
    let cut = dir.join("cut.jsonl");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, b"").expect("write");
    let not_a_backup = dir.join("not-a-backup.jsonl");
    std::fs::write(&not_a_backup, b"{\"hello\":1}\n{\"end\":true}\n").expect("write");

    for (path, why) in [
        (&damaged, "checksum"),
        (&without_trailer, "truncated"),
        (&cut, ""),
        (&empty, "truncated"),
        (&not_a_backup, ""),
    ] {
        let checked = backup::check(path, keys().fingerprint());
        assert!(
            matches!(&checked, Err(StoreError::Invalid(m)) if m.contains(why)),
            "{}: {checked:?}",
            path.display()
        );
        let restored = restore(&target.store(), path).await;
        assert!(
            matches!(restored, Err(StoreError::Invalid(_))),
            "{}: {restored:?}",
            path.display()
        );
        assert!(
            untouched(&target.store()).await,
            "{}: nothing written",
            path.display()
        );
    }
    assert!(
        restore(&target.store(), &dir.join("missing.jsonl"))
            .await
            .is_err()
    );

    // The good file still restores into the same, untouched target.
    restore(&target.store(), &good)
        .await
        .expect("the undamaged file restores");
    target.finish().await;
}

conformance!(a_backup_made_with_other_keys_is_refused);
async fn a_backup_made_with_other_keys_is_refused(store: Store) {
    populate(&store).await;
    let target = TestDb::like(&store, other_keys()).await;
    let (path, _) = write(&store, target.dir().join("backup.jsonl")).await;
    assert_ne!(keys().fingerprint(), other_keys().fingerprint());
    let checked = backup::check(&path, other_keys().fingerprint());
    assert!(
        matches!(&checked, Err(StoreError::Invalid(m)) if m.contains("another master key")),
        "{checked:?}"
    );
    let restored = restore(&target.store(), &path).await;
    assert!(
        matches!(restored, Err(StoreError::Invalid(_))),
        "{restored:?}"
    );
    assert!(untouched(&target.store()).await);
    target.finish().await;
}

/// SQLite → PostgreSQL → SQLite: three backups with the same rows.
#[tokio::test]
async fn a_sqlite_backup_restores_into_postgresql_and_back_unchanged() {
    let sqlite = TestDb::sqlite().await;
    let Some(postgres) = TestDb::postgres().await else {
        return;
    };
    let c = populate(&sqlite.store()).await;
    let (from_sqlite, rows) = write(&sqlite.store(), sqlite.dir().join("a.jsonl")).await;
    assert_eq!(
        restore(&postgres.store(), &from_sqlite)
            .await
            .expect("restore into PG"),
        rows
    );
    let (from_postgres, _) = write(&postgres.store(), postgres.dir().join("b.jsonl")).await;
    assert_eq!(header(&from_postgres)["backend"], "postgres");
    assert_eq!(body(&from_sqlite), body(&from_postgres));

    let again = TestDb::sqlite().await;
    assert_eq!(
        restore(&again.store(), &from_postgres)
            .await
            .expect("restore into SQLite"),
        rows
    );
    let (round_trip, _) = write(&again.store(), again.dir().join("c.jsonl")).await;
    assert_eq!(body(&from_sqlite), body(&round_trip));

    check_restored(&postgres.store(), &c).await;
    check_restored(&again.store(), &c).await;
    again.finish().await;
    postgres.finish().await;
    sqlite.finish().await;
}
