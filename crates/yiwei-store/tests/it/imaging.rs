//! The imaging index (issue 8) on both backends: storing instances and their studies, the
//! master-patient-index link, the match queue, QIDO-style searches, the study tie, and the
//! gate's refusals and break-glass.

use chrono::{Duration, NaiveDate};
use yiwei_domain::access::{Basis, Refusal, Role, Tie};
use yiwei_store::access::imaging as gate;
use yiwei_store::access::{self, AccessError, Viewer};
use yiwei_store::imaging::{InstanceFilter, MatchState, NewInstance, Stored, StudyQuery};
use yiwei_store::user::User;
use yiwei_store::{Store, StoreError};

use crate::support::{County, UserSpec, add_user, int};

fn viewer(user: &User) -> Viewer<'_> {
    Viewer {
        user,
        remote_addr: None,
    }
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// An instance of study `study` (series `series`, instance `n`) for the patient given.
fn instance(study: &str, series: &str, n: i64, patient: (&str, &str, &str, &str)) -> NewInstance {
    let (patient_id, name, birth, sex) = patient;
    NewInstance {
        study_uid: format!("1.2.826.0.1.3680043.10.1.{study}"),
        series_uid: format!("1.2.826.0.1.3680043.10.1.{study}.{series}"),
        sop_uid: format!("1.2.826.0.1.3680043.10.1.{study}.{series}.{n}"),
        sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
        patient_id: patient_id.into(),
        patient_name: name.into(),
        patient_birth_date: NaiveDate::parse_from_str(birth, "%Y%m%d").ok(),
        patient_sex: sex.into(),
        study_date: Some(d("2026-11-20")),
        study_time: "101500".into(),
        accession_number: format!("ACC{study}"),
        study_id: "1".into(),
        study_description: "胸部CT".into(),
        modality: "CT".into(),
        body_part: "CHEST".into(),
        series_number: series.parse().ok(),
        instance_number: Some(n),
        transfer_syntax: "1.2.840.10008.1.2.1".into(),
        rows: Some(64),
        columns: Some(64),
        frames: 1,
        size_bytes: 9000,
        sha256: format!("sha-{study}-{series}-{n}"),
        blob_key: format!("blobs/{study}/{series}/{n}.dcm"),
        metadata: format!(r#"{{"00200013":{{"vr":"IS","Value":[{n}]}}}}"#),
        ..NewInstance::default()
    }
}

struct Fixture {
    c: County,
    /// A radiologist of the county hospital whose own subtree is village B1 only.
    radiologist: User,
    /// A clinician of township B's health centre (subtree township B).
    clinician_b: User,
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
    let clinician_b = add_user(
        store,
        UserSpec {
            username: "clin_b",
            role: Role::Clinician,
            institution: Some(c.centre_b),
            reach: &c.township_b,
            resident: None,
            phone: None,
        },
        &c.admin.who(),
    )
    .await;
    Fixture {
        c,
        radiologist,
        clinician_b,
    }
}

async fn studies_indexed_linked_and_searched(store: Store) {
    let f = fixture(&store).await;
    let rad = viewer(&f.radiologist);
    let ana = (f.c.ana_id_card.as_str(), "Wei^Ana=韦^阿娜", "19850315", "F");

    // Two instances in one series, one in another: one study, linked by the ID card.
    let first = gate::store_instance(&store, &rad, &instance("1", "1", 1, ana))
        .await
        .unwrap();
    let Stored::New {
        study_id,
        new_study: true,
        ..
    } = first
    else {
        panic!("first instance opens the study: {first:?}")
    };
    gate::store_instance(&store, &rad, &instance("1", "1", 2, ana))
        .await
        .unwrap();
    let mut third = instance("1", "2", 1, ana);
    third.modality = "SR".into();
    third.body_part = String::new();
    gate::store_instance(&store, &rad, &third).await.unwrap();

    let study = gate::open_study(&store, &rad, "1.2.826.0.1.3680043.10.1.1")
        .await
        .unwrap();
    assert_eq!(study.id, study_id);
    assert_eq!(study.resident_id, Some(f.c.ana));
    assert_eq!(study.match_state, MatchState::Linked);
    assert_eq!(study.division, f.c.village_a1.as_str());
    assert_eq!(study.institution_id, f.c.hospital);
    assert_eq!((study.n_series, study.n_instances), (2, 3));
    assert_eq!(study.size_bytes, 27000);
    assert_eq!(study.modalities, vec!["CT", "SR"]);
    assert_eq!(study.body_parts, vec!["CHEST"]);
    // The ID card is kept only as a hash: the stored PatientID is masked.
    assert!(!study.patient_id.contains(&f.c.ana_id_card[6..14]));
    assert_eq!(
        int(
            &store,
            "SELECT COUNT(*) FROM imaging_instance WHERE resident_id IS NOT NULL"
        )
        .await,
        3
    );

    // A re-send of the same bytes changes nothing; other bytes under the same UID conflict.
    let again = gate::store_instance(&store, &rad, &instance("1", "1", 1, ana))
        .await
        .unwrap();
    assert!(matches!(again, Stored::AlreadyStored { .. }));
    let mut changed = instance("1", "1", 1, ana);
    changed.sha256 = "other".into();
    let err = gate::store_instance(&store, &rad, &changed)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        AccessError::Store(StoreError::Conflict { .. })
    ));

    // Series and instances in order; metadata in the same order.
    let (_, series) = gate::series_of(&store, &rad, &study.study_uid)
        .await
        .unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[0].n_instances, 2);
    let (_, instances) =
        gate::instances_of(&store, &rad, &study.study_uid, &InstanceFilter::default())
            .await
            .unwrap();
    assert_eq!(instances.len(), 3);
    assert_eq!(instances[0].instance_number, Some(1));
    assert_eq!(instances[0].blob_key, "blobs/1/1/1.dcm");
    let one_series = InstanceFilter {
        series_uid: Some(series[1].series_uid.clone()),
        ..InstanceFilter::default()
    };
    let (_, only) = gate::instances_of(&store, &rad, &study.study_uid, &one_series)
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    let metadata = gate::metadata_of(&store, &rad, &study.study_uid, None, None)
        .await
        .unwrap();
    assert_eq!(metadata.len(), 3);
    assert!(metadata[1].contains("[2]"));

    // A second study, older, at the same hospital for bo (matched by ID card in
    // OtherPatientIDs, PatientID being the hospital's number).
    let mut other = instance("2", "1", 1, ("MR-0002", "蒙波", "19900101", "M"));
    other.other_patient_ids = vec![f.c.bo_id_card.clone()];
    other.study_date = Some(d("2026-10-01"));
    other.modality = "DX".into();
    gate::store_instance(&store, &rad, &other).await.unwrap();

    let search = |q: StudyQuery| {
        let store = store.clone();
        let user = f.radiologist.clone();
        async move {
            let (rows, more) = gate::search_studies(&store, &viewer(&user), &q)
                .await
                .unwrap();
            (
                rows.into_iter()
                    .map(|s| s.accession_number)
                    .collect::<Vec<_>>(),
                more,
            )
        }
    };
    let all = StudyQuery {
        limit: 10,
        ..StudyQuery::default()
    };
    assert_eq!(
        search(all.clone()).await,
        (vec!["ACC1".into(), "ACC2".into()], false)
    );
    let page = StudyQuery {
        limit: 1,
        ..all.clone()
    };
    assert_eq!(search(page.clone()).await, (vec!["ACC1".into()], true));
    assert_eq!(
        search(StudyQuery { offset: 1, ..page }).await,
        (vec!["ACC2".into()], false)
    );
    let by = |q: StudyQuery| StudyQuery { limit: 10, ..q };
    assert_eq!(
        search(by(StudyQuery {
            patient_name: Some("Wei*".into()),
            ..all.clone()
        }))
        .await
        .0,
        vec!["ACC1"]
    );
    assert_eq!(
        search(by(StudyQuery {
            patient_name: Some("*波".into()),
            ..all.clone()
        }))
        .await
        .0,
        vec!["ACC2"]
    );
    assert_eq!(
        search(by(StudyQuery {
            patient_id: Some("MR-0002".into()),
            ..all.clone()
        }))
        .await
        .0,
        vec!["ACC2"]
    );
    // PatientID matching also finds the study whose ID card it is.
    assert_eq!(
        search(by(StudyQuery {
            patient_id: Some(f.c.ana_id_card.clone()),
            ..all.clone()
        }))
        .await
        .0,
        vec!["ACC1"]
    );
    assert_eq!(
        search(by(StudyQuery {
            study_date_from: Some(d("2026-11-01")),
            ..all.clone()
        }))
        .await
        .0,
        vec!["ACC1"]
    );
    assert_eq!(
        search(by(StudyQuery {
            study_date_to: Some(d("2026-10-31")),
            ..all.clone()
        }))
        .await
        .0,
        vec!["ACC2"]
    );
    assert_eq!(
        search(by(StudyQuery {
            modality: Some("SR".into()),
            ..all.clone()
        }))
        .await
        .0,
        vec!["ACC1"]
    );
    assert_eq!(
        search(by(StudyQuery {
            accession_number: Some("ACC2".into()),
            ..all.clone()
        }))
        .await
        .0,
        vec!["ACC2"]
    );
    assert_eq!(
        search(by(StudyQuery {
            study_uids: vec![study.study_uid.clone()],
            ..all.clone()
        }))
        .await
        .0,
        vec!["ACC1"]
    );

    // The resident sees their own studies only; the analyst none at all.
    let own = gate::search_studies(&store, &viewer(&f.c.resident_user), &all)
        .await
        .unwrap()
        .0;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].resident_id, Some(f.c.ana));
    let err = gate::search_studies(&store, &viewer(&f.c.analyst), &all)
        .await
        .unwrap_err();
    assert!(matches!(err, AccessError::Refused(Refusal::AggregateRole)));

    // A township-B clinician reaches neither study (both residents live in township A).
    let theirs = gate::search_studies(&store, &viewer(&f.clinician_b), &all)
        .await
        .unwrap()
        .0;
    assert!(theirs.is_empty());
}
conformance!(studies_indexed_linked_and_searched);

async fn a_study_ties_the_resident_to_the_institution_and_others_need_break_glass(store: Store) {
    let f = fixture(&store).await;
    let rad = viewer(&f.radiologist);
    let ana = (f.c.ana_id_card.as_str(), "韦阿娜", "19850315", "F");

    // Before any study the hospital radiologist (subtree: village B1) cannot open ana.
    let err = access::open_resident(&store, &rad, f.c.ana)
        .await
        .unwrap_err();
    assert!(matches!(err, AccessError::Refused(Refusal::OutsideReach)));

    gate::store_instance(&store, &rad, &instance("7", "1", 1, ana))
        .await
        .unwrap();
    let (_, basis) = access::open_resident(&store, &rad, f.c.ana).await.unwrap();
    assert_eq!(basis, Basis::Tie(Tie::Study));

    // The township-B clinician: refused (and audited), then allowed by break-glass.
    let clin = viewer(&f.clinician_b);
    let uid = "1.2.826.0.1.3680043.10.1.7";
    let denied_before = int(
        &store,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'denied' AND object_type = 'imaging_study'",
    )
    .await;
    let err = gate::open_study(&store, &clin, uid).await.unwrap_err();
    assert!(matches!(err, AccessError::Refused(Refusal::OutsideReach)));
    assert_eq!(
        int(
            &store,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'denied' AND object_type = 'imaging_study'"
        )
        .await,
        denied_before + 1
    );
    // Nor may they append an instance to that study.
    let err = gate::store_instance(&store, &clin, &instance("7", "9", 1, ana))
        .await
        .unwrap_err();
    assert!(matches!(err, AccessError::Refused(Refusal::OutsideReach)));
    access::break_glass(
        &store,
        &clin,
        f.c.ana,
        "急诊会诊需要查看影像",
        Duration::hours(2),
    )
    .await
    .unwrap();
    gate::open_study(&store, &clin, uid).await.unwrap();
    let found = gate::search_studies(
        &store,
        &clin,
        &StudyQuery {
            limit: 10,
            ..StudyQuery::default()
        },
    )
    .await
    .unwrap()
    .0;
    assert_eq!(found.len(), 1);

    // A share with township B's centre ties ana to it for its clinicians.
    gate::share_study(&store, &rad, uid, f.c.centre_b, "会诊", Duration::days(7))
        .await
        .unwrap();
    let other_b = add_user(
        &store,
        UserSpec {
            username: "clin_b2",
            role: Role::Clinician,
            institution: Some(f.c.centre_b),
            reach: &f.c.township_b,
            resident: None,
            phone: None,
        },
        &f.c.admin.who(),
    )
    .await;
    let (_, basis) = access::open_resident(&store, &viewer(&other_b), f.c.ana)
        .await
        .unwrap();
    assert_eq!(basis, Basis::Tie(Tie::Study));

    // Residents and aggregate roles store nothing.
    let err = gate::store_instance(&store, &viewer(&f.c.analyst), &instance("8", "1", 1, ana))
        .await
        .unwrap_err();
    assert!(matches!(err, AccessError::Refused(_)));
}
conformance!(a_study_ties_the_resident_to_the_institution_and_others_need_break_glass);

async fn unmatched_studies_wait_in_the_queue_until_linked(store: Store) {
    let f = fixture(&store).await;
    let rad = viewer(&f.radiologist);

    // Nobody of this name: unmatched, kept, with the hospital's division.
    gate::store_instance(
        &store,
        &rad,
        &instance("20", "1", 1, ("H123", "Zhang^San", "19700101", "M")),
    )
    .await
    .unwrap();
    // Ana's name, birth date and sex without any number: candidates from the index.
    gate::store_instance(
        &store,
        &rad,
        &instance("21", "1", 1, ("H124", "韦阿娜", "19850315", "F")),
    )
    .await
    .unwrap();
    let by_name = gate::open_study(&store, &rad, "1.2.826.0.1.3680043.10.1.21")
        .await
        .unwrap();
    match by_name.match_state {
        MatchState::Linked => assert_eq!(by_name.resident_id, Some(f.c.ana)),
        MatchState::Review => assert_eq!(by_name.candidates[0].resident_id, f.c.ana),
        other => panic!("ana's name and birth date found nobody: {other:?}"),
    }

    let queue = gate::match_queue(&store, &rad, 50, 0).await.unwrap();
    let unmatched = queue
        .iter()
        .find(|s| s.study_uid.ends_with(".20"))
        .expect("the unmatched study waits in the queue");
    assert_eq!(unmatched.match_state, MatchState::Unmatched);
    assert_eq!(unmatched.resident_id, None);
    // The sending hospital's staff open it; township B's clinician does not.
    gate::open_study_by_id(&store, &viewer(&f.clinician_b), unmatched.id)
        .await
        .unwrap_err();

    // The township-A clinician links it to dai (in their reach) after the hospital shares
    // it; the study, series and instance all take dai's village.
    gate::share_study(
        &store,
        &rad,
        &unmatched.study_uid,
        f.c.centre_a,
        "核对身份",
        Duration::days(7),
    )
    .await
    .unwrap();
    gate::link_study(&store, &viewer(&f.c.clinician_a), unmatched.id, f.c.dai)
        .await
        .unwrap();
    let linked = gate::open_study_by_id(&store, &rad, unmatched.id)
        .await
        .unwrap();
    assert_eq!(linked.match_state, MatchState::Manual);
    assert_eq!(linked.resident_id, Some(f.c.dai));
    assert_eq!(linked.division, f.c.village_a1.as_str());
    assert_eq!(
        int(
            &store,
            &format!(
                "SELECT COUNT(*) FROM imaging_instance WHERE study_id = {} AND resident_id = {}",
                unmatched.id, f.c.dai
            )
        )
        .await,
        1
    );
    let queue = gate::match_queue(&store, &rad, 50, 0).await.unwrap();
    assert!(queue.iter().all(|s| s.id != unmatched.id));
    // Linking twice is refused with a message.
    let err = gate::link_study(&store, &viewer(&f.c.clinician_a), unmatched.id, f.c.dai)
        .await
        .unwrap_err();
    assert!(matches!(err, AccessError::Store(StoreError::Invalid(_))));

    let totals = yiwei_store::imaging::totals(&store).await.unwrap();
    assert_eq!(totals.studies, 2);
    assert_eq!(totals.instances, 2);
}
conformance!(unmatched_studies_wait_in_the_queue_until_linked);

async fn repeated_reads_of_a_study_leave_one_audit_row_per_burst(store: Store) {
    let f = fixture(&store).await;
    let rad = viewer(&f.radiologist);
    let ana = (f.c.ana_id_card.as_str(), "韦阿娜", "19850315", "F");
    gate::store_instance(&store, &rad, &instance("7", "1", 1, ana))
        .await
        .unwrap();
    let uid = "1.2.826.0.1.3680043.10.1.7";
    let count = |action: &'static str| {
        let store = store.clone();
        async move {
            int(
                &store,
                &format!(
                    "SELECT COUNT(*) FROM audit_log WHERE action = '{action}' \
                     AND object_type = 'imaging_study'"
                ),
            )
            .await
        }
    };
    let reads = count("read").await;
    // An image-by-image retrieval: every read decided, one row written.
    for _ in 0..5 {
        gate::instances_of(&store, &rad, uid, &Default::default())
            .await
            .unwrap();
    }
    assert_eq!(count("read").await, reads + 1);
    let row: i64 = int(
        &store,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'read' AND object_type = 'imaging_study' \
         AND resident_id IS NOT NULL AND basis IS NOT NULL",
    )
    .await;
    assert!(row >= 1, "the row names the resident and the basis");
    // The same user from another address is another read.
    let elsewhere = Viewer {
        user: &f.radiologist,
        remote_addr: Some("10.1.1.1".into()),
    };
    gate::open_study(&store, &elsewhere, uid).await.unwrap();
    gate::open_study(&store, &elsewhere, uid).await.unwrap();
    assert_eq!(count("read").await, reads + 2);
    // Refusals are never coalesced: each is decided and written.
    let clin = viewer(&f.clinician_b);
    let denied = count("denied").await;
    for _ in 0..3 {
        gate::open_study(&store, &clin, uid).await.unwrap_err();
    }
    assert_eq!(count("denied").await, denied + 3);
    // A grant changes the basis: a new row, then covered again.
    access::break_glass(
        &store,
        &clin,
        f.c.ana,
        "急诊会诊需要查看影像",
        Duration::hours(2),
    )
    .await
    .unwrap();
    gate::open_study(&store, &clin, uid).await.unwrap();
    gate::open_study(&store, &clin, uid).await.unwrap();
    assert_eq!(count("read").await, reads + 3);
}
conformance!(repeated_reads_of_a_study_leave_one_audit_row_per_burst);
