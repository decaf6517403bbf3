//! Reports, mutual recognition (互认) and share links (issue 8) on both backends: the
//! report versions and who may write them, the AI draft, the recognition offers, the
//! ledger and its figures, and share links with expiry, PIN lock and revocation.

use chrono::{Duration, NaiveDate};
use yiwei_domain::access::{Refusal, Role};
use yiwei_domain::recognition::{Decision, ExceptionReason, NotRecognisable};
use yiwei_domain::report::{Content, Status, Step};
use yiwei_domain::share_link::{MAX_FAILURES, ShareError};
use yiwei_store::access::imaging as imaging_gate;
use yiwei_store::access::recognition::{self as gate, DecisionInput, ShareOpenError};
use yiwei_store::access::{AccessError, Viewer};
use yiwei_store::imaging::{NewInstance, Stored};
use yiwei_store::imaging_report::ReportQuery;
use yiwei_store::recognition::{self, Context};
use yiwei_store::user::User;
use yiwei_store::{Store, StoreError};

use crate::support::{County, UserSpec, add_user, exec, int};

fn viewer(user: &User) -> Viewer<'_> {
    Viewer {
        user,
        remote_addr: None,
    }
}

fn today() -> NaiveDate {
    recognition::county_date(yiwei_store::now())
}

/// One instance of study `n` of the given modality and body part, for resident ana
/// (matched by her ID-card number), done `days_ago`.
fn instance(n: u32, id_card: &str, modality: &str, body_part: &str, days_ago: i64) -> NewInstance {
    NewInstance {
        study_uid: format!("1.2.826.0.1.3680043.10.9.{n}"),
        series_uid: format!("1.2.826.0.1.3680043.10.9.{n}.1"),
        sop_uid: format!("1.2.826.0.1.3680043.10.9.{n}.1.1"),
        sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
        patient_id: id_card.into(),
        patient_name: "Wei^Ana=韦^阿娜".into(),
        patient_birth_date: NaiveDate::from_ymd_opt(1985, 3, 15),
        patient_sex: "F".into(),
        study_date: Some(today() - Duration::days(days_ago)),
        modality: modality.into(),
        body_part: body_part.into(),
        series_number: Some(1),
        instance_number: Some(1),
        transfer_syntax: "1.2.840.10008.1.2.1".into(),
        rows: Some(8),
        columns: Some(8),
        frames: 1,
        size_bytes: 100,
        sha256: format!("sha-{n}"),
        blob_key: format!("blobs/{n}.dcm"),
        metadata: "{}".into(),
        ..NewInstance::default()
    }
}

struct Fixture {
    c: County,
    radiologist: User,
    /// A radiologist of township B's centre, with no tie to ana.
    radiologist_b: User,
}

async fn fixture(store: &Store) -> Fixture {
    let c = County::build(store).await;
    let radiologist = add_user(
        store,
        UserSpec {
            username: "radiologist",
            role: Role::Radiologist,
            institution: Some(c.hospital),
            reach: &c.village_b1,
            resident: None,
            phone: None,
        },
        &c.admin.who(),
    )
    .await;
    let radiologist_b = add_user(
        store,
        UserSpec {
            username: "radiologist_b",
            role: Role::Radiologist,
            institution: Some(c.centre_b),
            reach: &c.village_b1,
            resident: None,
            phone: None,
        },
        &c.admin.who(),
    )
    .await;
    Fixture {
        c,
        radiologist,
        radiologist_b,
    }
}

async fn store_study(store: &Store, by: &User, new: &NewInstance) -> i64 {
    match imaging_gate::store_instance(store, &viewer(by), new)
        .await
        .unwrap()
    {
        Stored::New { study_id, .. } => study_id,
        other => panic!("{other:?}"),
    }
}

fn content(findings: &str, impression: &str, amend_reason: &str) -> Content {
    Content {
        findings: findings.into(),
        impression: impression.into(),
        amend_reason: amend_reason.into(),
    }
}

async fn reports_are_drafted_signed_and_amended_by_radiologists_only(store: Store) {
    let f = fixture(&store).await;
    let study = store_study(
        &store,
        &f.radiologist,
        &instance(1, &f.c.ana_id_card, "CT", "CHEST", 2),
    )
    .await;
    let rad = viewer(&f.radiologist);

    // The AI hook attaches a first draft; a second AI draft is refused.
    let (s, _) = gate::report_of(&store, &rad, study).await.unwrap();
    let ai = gate::attach_ai_draft(
        &store,
        &s,
        "test-model 1",
        &content("AI 所见", "AI 印象", ""),
    )
    .await
    .unwrap();
    assert!(
        gate::attach_ai_draft(&store, &s, "test-model 1", &content("x", "y", ""))
            .await
            .is_err()
    );

    // A clinician may read but not write; the radiologist edits the AI draft in place.
    let err = gate::write_report(
        &store,
        &viewer(&f.c.clinician_a),
        study,
        Step::Sign,
        &content("a", "b", ""),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, AccessError::Store(StoreError::Invalid(_))),
        "{err:?}"
    );
    let draft = gate::write_report(
        &store,
        &rad,
        study,
        Step::SaveDraft,
        &content("所见", "", ""),
    )
    .await
    .unwrap();
    assert_eq!(draft, ai);
    // Signing without an impression is refused with a message.
    let err = gate::write_report(&store, &rad, study, Step::Sign, &content("所见", " ", ""))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("impression"), "{err}");

    // The resident sees nothing before signing.
    let me = viewer(&f.c.resident_user);
    assert!(
        gate::report_of(&store, &me, study)
            .await
            .unwrap()
            .1
            .is_empty()
    );

    let signed = gate::write_report(
        &store,
        &rad,
        study,
        Step::Sign,
        &content("双肺纹理清晰", "胸部CT未见异常", ""),
    )
    .await
    .unwrap();
    assert_eq!(signed, ai, "signing fixes the draft's version");
    let err = gate::write_report(&store, &rad, study, Step::SaveDraft, &content("x", "y", ""))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("amended"), "{err}");
    let amended = gate::write_report(
        &store,
        &rad,
        study,
        Step::Amend,
        &content("双肺纹理清晰", "胸部CT未见明显异常", "措辞"),
    )
    .await
    .unwrap();
    assert_ne!(amended, signed);

    let (_, versions) = gate::report_of(&store, &rad, study).await.unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].status, Status::Amended);
    assert_eq!(versions[0].version, 2);
    assert_eq!(versions[0].signer_id, Some(f.radiologist.id));
    assert_eq!(versions[1].status, Status::Final);
    assert_eq!(versions[1].ai_model.as_deref(), Some("test-model 1"));
    assert_eq!(versions[1].impression, "胸部CT未见异常");

    // The resident now sees both signed versions; searches by patient and status work.
    assert_eq!(
        gate::report_of(&store, &me, study).await.unwrap().1.len(),
        2
    );
    let current = gate::reports_of(
        &store,
        &rad,
        f.c.ana,
        ReportQuery {
            current_only: true,
            limit: 10,
            ..ReportQuery::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].id, amended);
    let finals = gate::reports_of(
        &store,
        &rad,
        f.c.ana,
        ReportQuery {
            status: Some(Status::Final),
            from: Some(today() - Duration::days(1)),
            to: Some(today() + Duration::days(1)),
            limit: 10,
            ..ReportQuery::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(finals.len(), 1);
    assert!(
        gate::reports_of(
            &store,
            &rad,
            f.c.ana,
            ReportQuery {
                to: Some(today() - Duration::days(5)),
                limit: 10,
                ..ReportQuery::default()
            },
        )
        .await
        .unwrap()
        .is_empty()
    );

    // A radiologist with no tie to ana may not open the study's report.
    let err = gate::report_of(&store, &viewer(&f.radiologist_b), study)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AccessError::Refused(Refusal::OutsideReach)),
        "{err:?}"
    );
    assert!(
        int(
            &store,
            "SELECT COUNT(*) FROM audit_log WHERE object_type = 'imaging_report'"
        )
        .await
            >= 4
    );
}
conformance!(reports_are_drafted_signed_and_amended_by_radiologists_only);

async fn recognisable_results_are_offered_and_decisions_make_the_figures(store: Store) {
    let f = fixture(&store).await;
    recognition::accredit(&store, "CT-CHEST", f.c.hospital, "县域HR")
        .await
        .unwrap();
    recognition::accredit(&store, "DR-CHEST", f.c.hospital, "县域HR")
        .await
        .unwrap();
    assert!(
        recognition::accredit(&store, "DR-CHEST", f.c.centre_a, " ")
            .await
            .is_err()
    );
    let catalogue = recognition::catalogue(&store).await.unwrap();
    assert!(catalogue.len() >= 8, "the seeded county list");
    let ct = catalogue.iter().find(|i| i.code == "CT-CHEST").unwrap();
    assert_eq!(ct.accreditations.len(), 1);

    // A recent chest CT (recognisable), an older one (superseded), and a chest DR past its
    // 30-day window.
    let recent = store_study(
        &store,
        &f.radiologist,
        &instance(1, &f.c.ana_id_card, "CT", "CHEST", 3),
    )
    .await;
    let older = store_study(
        &store,
        &f.radiologist,
        &instance(2, &f.c.ana_id_card, "CT", "CHEST", 10),
    )
    .await;
    let dr = store_study(
        &store,
        &f.radiologist,
        &instance(3, &f.c.ana_id_card, "DX", "CHEST", 40),
    )
    .await;

    let clinician = viewer(&f.c.clinician_a);
    let offers = gate::offers(&store, &clinician, f.c.ana, today(), None)
        .await
        .unwrap();
    let answer = |study: i64| {
        offers
            .iter()
            .find(|(o, _)| o.study.id == study)
            .map(|(o, _)| o.decision.clone())
            .unwrap()
    };
    assert_eq!(answer(recent).unwrap().hr_scope, "县域HR");
    assert_eq!(answer(older), Err(NotRecognisable::Superseded));
    assert!(matches!(answer(dr), Err(NotRecognisable::Expired { .. })));
    // Narrowed to one exam.
    let only_ct = gate::offers(&store, &clinician, f.c.ana, today(), Some(("CT", "CHEST")))
        .await
        .unwrap();
    assert_eq!(only_ct.len(), 2);

    let decide = |study: i64, decision: Decision| DecisionInput {
        resident_id: f.c.ana,
        prior_study_id: study,
        item_code: "CT-CHEST".into(),
        context: Context::Order,
        context_id: None,
        decision,
        order_date: today(),
    };
    gate::record_decision(&store, &clinician, &decide(recent, Decision::Recognised))
        .await
        .unwrap();
    gate::record_decision(
        &store,
        &clinician,
        &decide(
            recent,
            Decision::Repeated {
                reason: ExceptionReason::ConditionChanged,
                note: String::new(),
            },
        ),
    )
    .await
    .unwrap();
    // A result that is not recognisable cannot be recorded as recognised.
    let err = gate::record_decision(&store, &clinician, &decide(older, Decision::Recognised))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AccessError::Store(StoreError::Invalid(_))),
        "{err:?}"
    );
    // Residents and clinicians without reach write no decisions.
    for who in [&f.c.resident_user, &f.radiologist_b] {
        assert!(
            gate::record_decision(&store, &viewer(who), &decide(recent, Decision::Recognised))
                .await
                .is_err()
        );
    }

    let ledger = gate::recognitions_of(&store, &clinician, f.c.ana)
        .await
        .unwrap();
    assert_eq!(ledger.len(), 2);
    let month = format!("{}", today().format("%Y-%m"));
    let figures = gate::figures(&store, &clinician, &month, &month)
        .await
        .unwrap();
    assert_eq!(figures.len(), 1);
    let t = recognition::totals(&figures);
    assert_eq!((t.recognised, t.repeated), (1, 1));
    // CT-CHEST: 220 yuan at 52.5 % for the patient.
    assert_eq!(t.saved_patient_fen, 11550);
    assert_eq!(t.saved_institution_fen, 10450);
    assert_eq!(figures[0].institution_id, f.c.centre_a);
    assert!(
        gate::figures(&store, &viewer(&f.c.resident_user), &month, &month)
            .await
            .is_err()
    );
}
conformance!(recognisable_results_are_offered_and_decisions_make_the_figures);

async fn share_links_open_with_the_pin_and_lock_expire_or_revoke(store: Store) {
    let f = fixture(&store).await;
    let study = store_study(
        &store,
        &f.radiologist,
        &instance(1, &f.c.ana_id_card, "DX", "CHEST", 1),
    )
    .await;
    let me = viewer(&f.c.resident_user);

    // Only the resident makes links, only to their own study, for an allowed lifetime.
    assert!(
        gate::create_share_link(&store, &viewer(&f.radiologist), study, None)
            .await
            .is_err()
    );
    assert!(
        gate::create_share_link(&store, &me, study, Some(24 * 30))
            .await
            .is_err()
    );
    let link = gate::create_share_link(&store, &me, study, Some(2))
        .await
        .unwrap();
    assert_eq!(link.pin.len(), 6);
    assert_eq!(
        int(&store, "SELECT COUNT(*) FROM imaging_share_link").await,
        1
    );

    // Unknown token, then the right PIN after wrong ones resets the count.
    assert!(matches!(
        gate::open_share_link(&store, "nope", &link.pin, None).await,
        Err(ShareOpenError::Unknown)
    ));
    let wrong = if link.pin == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert!(matches!(
        gate::open_share_link(&store, &link.token, wrong, None).await,
        Err(ShareOpenError::Rule(ShareError::WrongPin { left: 4 }))
    ));
    let (_, opened) = gate::open_share_link(&store, &link.token, &link.pin, None)
        .await
        .unwrap();
    assert_eq!(opened.id, study);
    gate::shared_study(&store, link.id).await.unwrap();

    // Five wrong PINs lock it for good.
    for _ in 1..MAX_FAILURES {
        gate::open_share_link(&store, &link.token, "abc", None)
            .await
            .unwrap_err();
    }
    assert!(matches!(
        gate::open_share_link(&store, &link.token, wrong, None).await,
        Err(ShareOpenError::Rule(ShareError::Locked))
    ));
    assert!(matches!(
        gate::open_share_link(&store, &link.token, &link.pin, None).await,
        Err(ShareOpenError::Rule(ShareError::Locked))
    ));
    assert!(gate::shared_study(&store, link.id).await.is_err());

    // An expired link and a revoked one.
    let second = gate::create_share_link(&store, &me, study, None)
        .await
        .unwrap();
    exec(
        &store,
        &format!(
            "UPDATE imaging_share_link SET expires_at = created_at WHERE id = {}",
            second.id
        ),
    )
    .await
    .unwrap();
    assert!(matches!(
        gate::open_share_link(&store, &second.token, &second.pin, None).await,
        Err(ShareOpenError::Rule(ShareError::Expired))
    ));
    let third = gate::create_share_link(&store, &me, study, None)
        .await
        .unwrap();
    assert!(
        gate::revoke_share_link(&store, &viewer(&f.c.clinician_a), third.id)
            .await
            .is_err()
    );
    gate::revoke_share_link(&store, &me, third.id)
        .await
        .unwrap();
    assert!(matches!(
        gate::open_share_link(&store, &third.token, &third.pin, None).await,
        Err(ShareOpenError::Rule(ShareError::Revoked))
    ));
    let mine = gate::my_share_links(&store, &me).await.unwrap();
    assert_eq!(mine.len(), 3);
    assert_eq!(mine.iter().map(|l| l.n_opens).sum::<i64>(), 1);

    // Every attempt is audited against the resident, and no token or PIN is stored.
    let attempts = int(
        &store,
        &format!(
            "SELECT COUNT(*) FROM audit_log WHERE username LIKE 'share_link:%' AND resident_id = {}",
            f.c.ana
        ),
    )
    .await;
    assert_eq!(attempts, 2 + i64::from(MAX_FAILURES) + 1 + 2);
}
conformance!(share_links_open_with_the_pin_and_lock_expire_or_revoke);
