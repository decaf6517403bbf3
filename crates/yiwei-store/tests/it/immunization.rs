//! Immunization on both backends: doses checked against the schedule (refused with every
//! problem and nothing written, or stored flagged with an override reason), voiding that
//! keeps the row, the audit rows of each, reads through the access check, and the bulk
//! path of the demo county.

use chrono::NaiveDate;
use yiwei_domain::access::Refusal;
use yiwei_domain::programme::Offset;
use yiwei_domain::programme::immunization::{DoseProblem, Vaccine};
use yiwei_store::access::{self, AccessError, Viewer};
use yiwei_store::audit::{self, Action};
use yiwei_store::immunization::{self, BulkDose, DoseError, NewDose};
use yiwei_store::resident;
use yiwei_store::user::User;
use yiwei_store::{Store, StoreError};

use crate::support::{County, int, new_resident};

fn viewer(user: &User) -> Viewer<'_> {
    Viewer {
        user,
        remote_addr: Some("10.9.8.7".into()),
    }
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn birth() -> NaiveDate {
    d(2025, 3, 1)
}

fn today() -> NaiveDate {
    d(2026, 1, 15)
}

fn dose(vaccine: Vaccine, given_on: NaiveDate) -> NewDose {
    NewDose {
        vaccine,
        given_on,
        lot: "202501A03".into(),
        manufacturer: "北京生物".into(),
        site: "右上臂三角肌".into(),
        institution_id: None,
        override_reason: None,
    }
}

/// A girl born 2025-03-01 in village A1, without an ID card (a newborn's record).
async fn child(store: &Store, c: &County) -> i64 {
    let mut new = new_resident(&c.village_a1, "韦小宝", "female", None, None);
    new.birth_date = Some(birth());
    new.details.no_id_reason = Some("1".into());
    resident::create(store, &new, &c.admin.who())
        .await
        .expect("child")
}

async fn doses_in_table(store: &Store) -> i64 {
    int(store, "SELECT COUNT(*) FROM immunization").await
}

async fn newest_entry_about(store: &Store, resident_id: i64) -> audit::Entry {
    audit::for_resident(store, resident_id, 1, 0)
        .await
        .expect("audit")
        .pop()
        .expect("an entry")
}

conformance!(a_dose_in_time_is_recorded_with_its_village_and_audited);
async fn a_dose_in_time_is_recorded_with_its_village_and_audited(store: Store) {
    let c = County::build(&store).await;
    let kid = child(&store, &c).await;
    let doctor = viewer(&c.doctor_a1);
    let id = access::record_dose(&store, &doctor, kid, &dose(Vaccine::HepB, birth()), today())
        .await
        .expect("birth dose");
    let created = newest_entry_about(&store, kid).await;
    assert_eq!(created.event.action, Action::Create);
    assert_eq!(created.event.object_type.as_deref(), Some("immunization"));
    assert_eq!(created.event.object_id, Some(id.to_string()));
    assert_eq!(created.event.basis.as_deref(), Some("subtree"));
    assert_eq!(created.event.remote_addr.as_deref(), Some("10.9.8.7"));

    access::record_dose(
        &store,
        &doctor,
        kid,
        &dose(Vaccine::HepB, d(2025, 4, 2)),
        today(),
    )
    .await
    .expect("second dose");
    let doses = access::doses_of(&store, &doctor, kid).await.expect("list");
    let read = newest_entry_about(&store, kid).await;
    assert_eq!(
        (read.event.action, read.event.object_type.as_deref()),
        (Action::Read, Some("immunizations"))
    );
    assert_eq!(doses.len(), 2);
    let first = &doses[0];
    assert_eq!(
        (first.id, first.vaccine, first.given_on),
        (id, Vaccine::HepB, birth())
    );
    assert_eq!(first.division, c.village_a1);
    assert_eq!(
        first.institution_id,
        Some(c.clinic_a1),
        "the recorder's clinic"
    );
    assert_eq!(first.institution_name.as_deref(), Some("城西村卫生室"));
    assert_eq!(first.recorded_by, Some(c.doctor_a1.id));
    assert_eq!(
        (
            first.lot.as_str(),
            first.manufacturer.as_str(),
            first.site.as_str()
        ),
        ("202501A03", "北京生物", "右上臂三角肌")
    );
    assert!(first.problems.is_empty() && first.override_reason.is_none());
    assert_eq!(
        doses
            .iter()
            .map(|x| (x.series, x.dose_number))
            .collect::<Vec<_>>(),
        [(Some("hepb"), Some(1)), (Some("hepb"), Some(2))]
    );
    let one = access::open_dose(&store, &doctor, id).await.expect("open");
    assert_eq!(one.dose_number, Some(1));
}

conformance!(a_dose_before_the_minimum_age_or_too_soon_is_refused_with_every_reason);
async fn a_dose_before_the_minimum_age_or_too_soon_is_refused_with_every_reason(store: Store) {
    let c = County::build(&store).await;
    let kid = child(&store, &c).await;
    let doctor = viewer(&c.doctor_a1);
    access::record_dose(&store, &doctor, kid, &dose(Vaccine::HepB, birth()), today())
        .await
        .expect("birth dose");
    let before = doses_in_table(&store).await;
    let audit_before = audit::count(&store).await.expect("count");

    // Dose 2 of hepatitis B 19 days after birth: too young and too soon after dose 1.
    let early = access::record_dose(
        &store,
        &doctor,
        kid,
        &dose(Vaccine::HepB, d(2025, 3, 20)),
        today(),
    )
    .await;
    let problems = match early {
        Err(DoseError::Schedule(p)) => p,
        other => panic!("expected the schedule to refuse it, got {other:?}"),
    };
    assert_eq!(
        problems,
        [
            DoseProblem::BeforeMinimumAge {
                series: "hepb",
                dose: 2,
                min_age: Offset::Months(1),
                earliest: d(2025, 4, 1),
            },
            DoseProblem::TooSoonAfterDose {
                series: "hepb",
                dose: 1,
                given_on: birth(),
                earliest: d(2025, 3, 29),
            },
        ]
    );
    assert!(
        problems[0].message_zh().contains("2025-04-01"),
        "the message says when: {}",
        problems[0].message_zh()
    );
    // DTaP at 3 weeks: before its minimum age of 2 months.
    match access::record_dose(
        &store,
        &doctor,
        kid,
        &dose(Vaccine::Dtap, d(2025, 3, 22)),
        today(),
    )
    .await
    {
        Err(DoseError::Schedule(p)) => assert!(
            matches!(
                p.as_slice(),
                [DoseProblem::BeforeMinimumAge { series: "dtp", .. }]
            ),
            "{p:?}"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(doses_in_table(&store).await, before, "nothing written");
    assert_eq!(
        audit::count(&store).await.expect("count"),
        audit_before,
        "a refused dose leaves no create in the audit log"
    );

    // A reason too short is no override.
    let mut short = dose(Vaccine::HepB, d(2025, 3, 20));
    short.override_reason = Some(" 外院 ".into());
    match access::record_dose(&store, &doctor, kid, &short, today()).await {
        Err(DoseError::Access(AccessError::Store(StoreError::Invalid(m)))) => {
            assert!(m.contains("at least 4"), "{m}")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    // A dose dated after today.
    match access::record_dose(
        &store,
        &doctor,
        kid,
        &dose(Vaccine::HepB, d(2026, 2, 1)),
        today(),
    )
    .await
    {
        Err(DoseError::Access(AccessError::Store(StoreError::Invalid(m)))) => {
            assert!(m.contains("after today"), "{m}")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(doses_in_table(&store).await, before);
}

conformance!(with_an_override_reason_a_dose_that_breaks_the_schedule_is_stored_flagged);
async fn with_an_override_reason_a_dose_that_breaks_the_schedule_is_stored_flagged(store: Store) {
    let c = County::build(&store).await;
    let kid = child(&store, &c).await;
    let doctor = viewer(&c.doctor_a1);
    access::record_dose(&store, &doctor, kid, &dose(Vaccine::HepB, birth()), today())
        .await
        .expect("birth dose");
    let mut early = dose(Vaccine::HepB, d(2025, 3, 20));
    early.override_reason = Some("外院已接种，补录接种证记录".into());
    let id = access::record_dose(&store, &doctor, kid, &early, today())
        .await
        .expect("stored with a reason");
    let doses = access::doses_of(&store, &doctor, kid).await.expect("list");
    let flagged = doses.iter().find(|x| x.id == id).expect("the dose");
    assert_eq!(
        flagged.problems,
        ["before_minimum_age", "too_soon_after_dose"]
    );
    assert_eq!(
        flagged.override_reason.as_deref(),
        Some("外院已接种，补录接种证记录")
    );
    let created = audit::for_resident(&store, kid, 5, 0)
        .await
        .expect("audit")
        .into_iter()
        .find(|e| e.event.object_id == Some(id.to_string()) && e.event.action == Action::Create)
        .expect("the create");
    let reason = created.event.reason.expect("the override is noted");
    assert!(reason.contains("before_minimum_age"), "{reason}");
    assert!(
        !reason.contains("外院"),
        "the free text stays out of the log"
    );

    // A dose that fits stores no reason even if one is typed.
    let mut fine = dose(Vaccine::Bcg, d(2025, 3, 2));
    fine.override_reason = Some("no reason needed".into());
    let id = access::record_dose(&store, &doctor, kid, &fine, today())
        .await
        .expect("bcg");
    let doses = access::doses_of(&store, &doctor, kid).await.expect("list");
    let bcg = doses.iter().find(|x| x.id == id).expect("bcg");
    assert!(bcg.problems.is_empty() && bcg.override_reason.is_none());
}

conformance!(voiding_keeps_the_row_audits_it_and_frees_the_dose);
async fn voiding_keeps_the_row_audits_it_and_frees_the_dose(store: Store) {
    let c = County::build(&store).await;
    let kid = child(&store, &c).await;
    let doctor = viewer(&c.doctor_a1);
    access::record_dose(&store, &doctor, kid, &dose(Vaccine::HepB, birth()), today())
        .await
        .expect("birth dose");
    // Typed on the wrong child's card: 2 doses of hepatitis B on one day is a duplicate.
    let mut wrong = dose(Vaccine::HepB, birth());
    wrong.override_reason = Some("录入测试，稍后作废".into());
    let wrong_id = access::record_dose(&store, &doctor, kid, &wrong, today())
        .await
        .expect("stored flagged");

    match access::void_dose(&store, &doctor, wrong_id, "错").await {
        Err(AccessError::Store(StoreError::Invalid(m))) => assert!(m.contains("at least"), "{m}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    access::void_dose(&store, &doctor, wrong_id, "重复录入，作废")
        .await
        .expect("void");
    let voided = newest_entry_about(&store, kid).await;
    assert_eq!(voided.event.action, Action::Update);
    assert_eq!(voided.event.object_id, Some(wrong_id.to_string()));
    assert_eq!(voided.event.reason.as_deref(), Some("void"));
    match access::void_dose(&store, &doctor, wrong_id, "重复录入，作废").await {
        Err(AccessError::Store(StoreError::Invalid(m))) => {
            assert!(m.contains("already voided"), "{m}")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(doses_in_table(&store).await, 2, "never deleted");
    let doses = access::doses_of(&store, &doctor, kid).await.expect("list");
    let row = doses
        .iter()
        .find(|x| x.id == wrong_id)
        .expect("still listed");
    assert!(row.is_voided());
    assert_eq!(row.void_reason.as_deref(), Some("重复录入，作废"));
    assert_eq!((row.series, row.dose_number), (None, None));
    // The voided dose no longer counts: dose 2 a month later fits the schedule.
    access::record_dose(
        &store,
        &doctor,
        kid,
        &dose(Vaccine::HepB, d(2025, 4, 1)),
        today(),
    )
    .await
    .expect("dose 2");
    assert!(matches!(
        access::void_dose(&store, &doctor, 999_999, "不存在的记录").await,
        Err(AccessError::Store(StoreError::NotFound(_)))
    ));
}

conformance!(doses_outside_reach_or_by_aggregate_roles_are_refused_and_audited);
async fn doses_outside_reach_or_by_aggregate_roles_are_refused_and_audited(store: Store) {
    let c = County::build(&store).await;
    let mut new = new_resident(&c.village_b1, "谭小明", "male", None, None);
    new.birth_date = Some(birth());
    let far = resident::create(&store, &new, &c.admin.who())
        .await
        .expect("child in township B");
    let refused = access::record_dose(
        &store,
        &viewer(&c.doctor_a1),
        far,
        &dose(Vaccine::HepB, birth()),
        today(),
    )
    .await;
    assert!(
        matches!(
            refused,
            Err(DoseError::Access(AccessError::Refused(
                Refusal::OutsideReach
            )))
        ),
        "{refused:?}"
    );
    let denied = newest_entry_about(&store, far).await;
    assert_eq!(denied.event.action, Action::Denied);
    assert!(matches!(
        access::doses_of(&store, &viewer(&c.analyst), far).await,
        Err(AccessError::Refused(Refusal::AggregateRole))
    ));
    assert!(matches!(
        access::record_dose(
            &store,
            &viewer(&c.analyst),
            far,
            &dose(Vaccine::HepB, birth()),
            today()
        )
        .await,
        Err(DoseError::Access(AccessError::Refused(_)))
    ));
    assert_eq!(doses_in_table(&store).await, 0);
}

conformance!(a_bulk_load_writes_every_dose_and_one_audit_event);
async fn a_bulk_load_writes_every_dose_and_one_audit_event(store: Store) {
    let c = County::build(&store).await;
    let kid = child(&store, &c).await;
    let children = immunization::children_born_since(&store, d(2011, 1, 1), 0, 100)
        .await
        .expect("children");
    assert_eq!(
        children.iter().map(|x| x.resident_id).collect::<Vec<_>>(),
        [kid],
        "the adults of the fixture are not children"
    );
    assert_eq!(children[0].birth, birth());
    assert_eq!(children[0].division, c.village_a1);
    let batch: Vec<BulkDose> = (0..3000)
        .map(|k| BulkDose {
            resident_id: kid,
            division: c.village_a1.clone(),
            vaccine: if k % 2 == 0 {
                Vaccine::HepB
            } else {
                Vaccine::Bcg
            },
            given_on: birth() + chrono::Duration::days(k % 300),
            lot: format!("L{k}"),
            manufacturer: "康泰".into(),
            site: "上臂".into(),
            institution_id: Some(c.clinic_a1),
        })
        .collect();
    let audit_before = audit::count(&store).await.expect("count");
    let by = c.admin.who();
    assert_eq!(
        immunization::insert_batch(&store, &batch, &by)
            .await
            .expect("bulk"),
        3000
    );
    assert_eq!(doses_in_table(&store).await, 3000);
    assert_eq!(audit::count(&store).await.expect("count"), audit_before + 1);
    assert_eq!(
        int(
            &store,
            "SELECT COUNT(*) FROM immunization WHERE vaccine = 'bcg' AND division_code = '451226100201'"
        )
        .await,
        1500
    );
}
