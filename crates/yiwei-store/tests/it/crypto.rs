//! Field encryption at rest and keyed-hash lookup of ID cards and phones.

use yiwei_domain::access::Basis;
use yiwei_store::access::{self, Viewer};
use yiwei_store::audit::{self, Action};
use yiwei_store::crypto::Field;
use yiwei_store::resident;
use yiwei_store::user;
use yiwei_store::{Store, StoreError};

use crate::support::{County, blob, contains_bytes, int, new_resident};

/// The phone digits of `text`, as the store keeps them.
fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

conformance!(id_cards_and_phones_are_stored_encrypted_and_revealed_with_an_audit_entry);
async fn id_cards_and_phones_are_stored_encrypted_and_revealed_with_an_audit_entry(store: Store) {
    let c = County::build(&store).await;
    let phone = digits(&c.ana_phone);
    for (column, plain) in [
        ("id_card_enc", c.ana_id_card.as_str()),
        ("id_card_hash", c.ana_id_card.as_str()),
        ("phone_enc", phone.as_str()),
        ("phone_hash", phone.as_str()),
    ] {
        let stored = blob(&store, "resident", column, c.ana)
            .await
            .expect("a stored value");
        assert!(stored.len() >= 28, "{column} holds a ciphertext or hash");
        assert!(
            !contains_bytes(&stored, plain.as_bytes()),
            "{column} holds the plain text"
        );
        assert!(
            !contains_bytes(&stored, &plain.as_bytes()[..11]),
            "{column} holds a prefix"
        );
    }
    let user_phone = blob(&store, "app_user", "phone_enc", c.doctor_a1.id)
        .await
        .expect("phone");
    assert!(!contains_bytes(&user_phone, c.doctor_phone.as_bytes()));
    assert_eq!(
        blob(&store, "resident", "phone_enc", c.dai).await,
        None,
        "no phone, no blob"
    );
    // The audit log does not carry the number either.
    let id_card_rows = int(
        &store,
        &format!(
            "SELECT COUNT(*) FROM audit_log WHERE object_id = '{0}' OR reason = '{0}'",
            c.ana_id_card
        ),
    )
    .await;
    assert_eq!(id_card_rows, 0);

    let doctor = Viewer {
        user: &c.doctor_a1,
        remote_addr: None,
    };
    let id_card = access::reveal(&store, &doctor, c.ana, Field::IdCard)
        .await
        .expect("reveal");
    assert_eq!(id_card.as_deref(), Some(c.ana_id_card.as_str()));
    let revealed = access::reveal(&store, &doctor, c.ana, Field::Phone)
        .await
        .expect("reveal");
    assert_eq!(revealed, Some(phone));
    assert_eq!(
        access::reveal(&store, &doctor, c.dai, Field::Phone)
            .await
            .expect("reveal"),
        None
    );

    let entries = audit::for_resident(&store, c.ana, 2, 0)
        .await
        .expect("audit");
    assert!(entries.iter().all(|e| e.event.action == Action::Reveal
        && e.event.basis.as_deref() == Some("subtree")
        && e.event.who.user_id == Some(c.doctor_a1.id)));
    let what: Vec<_> = entries
        .iter()
        .map(|e| e.event.object_type.clone().unwrap())
        .collect();
    assert_eq!(what, vec!["resident.phone", "resident.id_card"]);

    // The ciphertext is bound to its column: a phone blob pasted over the ID card fails
    // to decrypt instead of showing the wrong number.
    crate::support::exec(
        &store,
        &format!(
            "UPDATE resident SET id_card_enc = phone_enc WHERE id = {}",
            c.ana
        ),
    )
    .await
    .expect("update");
    let pasted = access::reveal(&store, &doctor, c.ana, Field::IdCard).await;
    assert!(
        matches!(
            pasted,
            Err(access::AccessError::Store(StoreError::Crypto(_)))
        ),
        "{pasted:?}"
    );
}

conformance!(a_resident_is_found_by_id_card_with_a_lower_case_x);
async fn a_resident_is_found_by_id_card_with_a_lower_case_x(store: Store) {
    let c = County::build(&store).await;
    assert!(c.ana_id_card.ends_with('X'));
    let doctor = Viewer {
        user: &c.doctor_a1,
        remote_addr: None,
    };
    for typed in [
        c.ana_id_card.to_ascii_lowercase(),
        format!("  {} ", c.ana_id_card.to_ascii_lowercase()),
        c.ana_id_card.clone(),
    ] {
        let (found, basis) = access::find_by_id_card(&store, &doctor, &typed)
            .await
            .expect("lookup")
            .unwrap_or_else(|| panic!("{typed:?} finds the resident"));
        assert_eq!((found.id, basis), (c.ana, Basis::Subtree));
    }
    let clinician = Viewer {
        user: &c.clinician_a,
        remote_addr: None,
    };
    let (found, _) = access::find_by_id_card(&store, &clinician, &c.bo_id_card)
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found.id, c.bo);
}

conformance!(a_duplicate_id_card_is_a_conflict_and_leaves_nothing_behind);
async fn a_duplicate_id_card_is_a_conflict_and_leaves_nothing_behind(store: Store) {
    let c = County::build(&store).await;
    let residents = int(&store, "SELECT COUNT(*) FROM resident").await;
    let audited = audit::count(&store).await.expect("count");
    let same_number_typed_differently = c.ana_id_card.to_ascii_lowercase();
    let duplicate = resident::create(
        &store,
        &new_resident(
            &c.village_b1,
            "韦阿娜",
            "female",
            Some(&same_number_typed_differently),
            None,
        ),
        &c.admin.who(),
    )
    .await;
    match duplicate {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, "resident_id_card_hash"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        int(&store, "SELECT COUNT(*) FROM resident").await,
        residents
    );
    assert_eq!(
        audit::count(&store).await.expect("count"),
        audited,
        "no audit entry"
    );
    assert_eq!(
        audit::verify(&store, |_, _| {})
            .await
            .expect("verify")
            .problem,
        None
    );

    // Residents without an ID card do not collide with each other.
    for name in ["无证甲", "无证乙"] {
        resident::create(
            &store,
            &new_resident(&c.village_b1, name, "unknown", None, None),
            &c.admin.who(),
        )
        .await
        .expect("a resident without an ID card");
    }
}

conformance!(users_are_found_by_phone_however_it_is_written);
async fn users_are_found_by_phone_however_it_is_written(store: Store) {
    let c = County::build(&store).await;
    assert_eq!(c.doctor_phone, "13977800001");
    for typed in [
        "13977800001",
        "+86 139-7780-0001",
        "+86-139 7780 0001",
        "86 13977800001",
    ] {
        let found = user::by_phone(&store, typed).await.expect("by phone");
        assert_eq!(
            found.iter().map(|u| u.id).collect::<Vec<_>>(),
            vec![c.doctor_a1.id],
            "{typed}"
        );
    }
    assert!(
        user::by_phone(&store, "13977800009")
            .await
            .expect("by phone")
            .is_empty()
    );
    assert!(c.doctor_a1.has_phone && !c.analyst.has_phone);
    assert_eq!(
        user::phone(&store, c.doctor_a1.id)
            .await
            .expect("phone")
            .as_deref(),
        Some("13977800001")
    );
    assert_eq!(
        user::phone(&store, c.analyst.id).await.expect("phone"),
        None
    );
    assert!(matches!(
        user::phone(&store, 999_999).await,
        Err(StoreError::NotFound(_))
    ));
}
