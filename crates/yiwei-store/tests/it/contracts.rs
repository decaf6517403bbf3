//! Family-doctor teams and contracts (家庭医生签约) on both backends: one active contract per
//! resident, renewal and transfer chains, termination with a reason, coverage counts,
//! fulfilment, the contract tie of the access check, and backups of contract chains.

use chrono::{Duration, NaiveDate};
use yiwei_domain::access::{Basis, Refusal, Role, Tie};
use yiwei_domain::contract::{ContractStatus, PackageKind, PeriodRules, TeamRole, parse_items};
use yiwei_domain::key_group::KeyGroup;
use yiwei_store::access::{self, AccessError, Viewer};
use yiwei_store::audit::{self, Action};
use yiwei_store::contract::{
    self, NewContract, NewPackage, NewService, NewTeam, Renewal, Signature, Transfer,
};
use yiwei_store::encounter::NewEncounter;
use yiwei_store::resident::{self, Details};
use yiwei_store::user::User;
use yiwei_store::{Store, StoreError, backup};

use crate::support::{County, TestDb, UserSpec, add_user, exec, int, keys, new_resident};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("a date")
}

fn today() -> NaiveDate {
    yiwei_store::now().date_naive()
}

fn viewer(user: &User) -> Viewer<'_> {
    Viewer {
        user,
        remote_addr: Some("10.9.8.7".into()),
    }
}

fn paper() -> Signature {
    Signature {
        on_paper: true,
        witness: "韦医生".into(),
        drawing: None,
    }
}

#[track_caller]
fn invalid<T: std::fmt::Debug>(result: Result<T, AccessError>, says: &str) {
    match result {
        Err(AccessError::Store(StoreError::Invalid(m))) => {
            assert!(m.contains(says), "{m:?} should say {says:?}")
        }
        other => panic!("expected Invalid({says:?}), got {other:?}"),
    }
}

/// The county with two teams: team A of 思恩镇卫生院 (lead `clinician.a`, village doctor
/// `doctor.a1`, a nurse; serving villages A1 and A2) and team B of 水源镇卫生院 (lead
/// `member.b`, serving B1), and a basic package.
struct Teams {
    c: County,
    team_a: i64,
    team_b: i64,
    member_b: User,
    nurse_a: User,
    basic: i64,
}

async fn teams(store: &Store) -> Teams {
    let c = County::build(store).await;
    let by = c.admin.who();
    let member_b = add_user(
        store,
        UserSpec {
            username: "member.b",
            role: Role::TeamMember,
            institution: Some(c.centre_b),
            reach: &c.township_b,
            resident: None,
            phone: None,
        },
        &by,
    )
    .await;
    let nurse_a = add_user(
        store,
        UserSpec {
            username: "nurse.a",
            role: Role::TeamMember,
            institution: Some(c.centre_a),
            reach: &c.township_a,
            resident: None,
            phone: None,
        },
        &by,
    )
    .await;
    let team_a = contract::create_team(
        store,
        &NewTeam {
            institution_id: c.centre_a,
            name: "思恩镇第一团队".into(),
            lead_user_id: Some(c.clinician_a.id),
        },
        &by,
    )
    .await
    .expect("team A");
    contract::add_member(store, team_a, c.doctor_a1.id, TeamRole::VillageDoctor, &by)
        .await
        .expect("village doctor");
    contract::add_member(store, team_a, nurse_a.id, TeamRole::Nurse, &by)
        .await
        .expect("nurse");
    for v in [&c.village_a1, &c.village_a2] {
        contract::add_village(store, team_a, v, &by)
            .await
            .expect("village");
    }
    let team_b = contract::create_team(
        store,
        &NewTeam {
            institution_id: c.centre_b,
            name: "水源镇团队".into(),
            lead_user_id: Some(member_b.id),
        },
        &by,
    )
    .await
    .expect("team B");
    contract::add_village(store, team_b, &c.village_b1, &by)
        .await
        .expect("village");
    let basic = contract::create_package(
        store,
        &NewPackage {
            code: "basic_2026".into(),
            name: "基础包".into(),
            name_en: "Basic".into(),
            kind: PackageKind::Basic,
            price_fen: 0,
            items: parse_items("hypertension_followup 4\nhealth_exam 1").expect("items"),
        },
        &by,
    )
    .await
    .expect("package");
    Teams {
        c,
        team_a,
        team_b,
        member_b,
        nurse_a,
        basic,
    }
}

impl Teams {
    fn new_contract(&self, resident_id: i64, starts_on: NaiveDate) -> NewContract {
        NewContract {
            resident_id,
            team_id: self.team_a,
            doctor_id: self.c.clinician_a.id,
            package_id: self.basic,
            starts_on,
            ends_on: None,
            signature: paper(),
        }
    }

    async fn sign(&self, store: &Store, resident_id: i64, starts_on: NaiveDate) -> i64 {
        access::sign_contract(
            store,
            &viewer(&self.c.clinician_a),
            &self.new_contract(resident_id, starts_on),
            &PeriodRules::default(),
        )
        .await
        .expect("sign")
    }
}

async fn get(store: &Store, user: &User, id: i64) -> contract::Contract {
    access::open_contract(store, &viewer(user), id)
        .await
        .expect("open contract")
}

conformance!(a_resident_has_one_active_contract_at_a_time);
async fn a_resident_has_one_active_contract_at_a_time(store: Store) {
    let t = teams(&store).await;
    let first = t.sign(&store, t.c.ana, today()).await;
    let signed = get(&store, &t.c.clinician_a, first).await;
    assert_eq!(signed.status, ContractStatus::Active);
    assert_eq!(
        signed.ends_on,
        yiwei_domain::contract::default_end(today(), &PeriodRules::default())
    );
    assert_eq!(signed.division, t.c.village_a1);
    assert_eq!(signed.signature, paper());
    assert_eq!(signed.team_name, "思恩镇第一团队");
    let created = audit::for_resident(&store, t.c.ana, 5, 0)
        .await
        .expect("audit")
        .into_iter()
        .find(|e| {
            e.event.action == Action::Create && e.event.object_type.as_deref() == Some("contract")
        })
        .expect("the signing is audited");
    assert_eq!(created.event.basis.as_deref(), Some("subtree"));
    assert_eq!(created.event.object_id, Some(first.to_string()));

    // A second contract, with the same team or another, is refused while the first runs.
    let again = access::sign_contract(
        &store,
        &viewer(&t.c.doctor_a1),
        &t.new_contract(t.c.ana, today() + Duration::days(30)),
        &PeriodRules::default(),
    )
    .await;
    assert!(
        matches!(&again, Err(AccessError::Store(StoreError::Conflict { constraint })) if constraint == "contract_one_active"),
        "{again:?}"
    );
    assert_eq!(int(&store, "SELECT COUNT(*) FROM contract").await, 1);

    // The partial unique index holds even against a writer that skips the store's check.
    let sql = format!(
        "INSERT INTO contract (resident_id, division_code, team_id, doctor_id, package_id, status, \
         starts_on, ends_on, signed_at, signature, created_at, version) \
         SELECT resident_id, division_code, team_id, doctor_id, package_id, 'active', starts_on, \
         ends_on, signed_at, signature, created_at, 1 FROM contract WHERE id = {first}"
    );
    let raw = exec(&store, &sql).await;
    assert!(matches!(raw, Err(StoreError::Conflict { .. })), "{raw:?}");

    // Other residents sign freely.
    t.sign(&store, t.c.dai, today()).await;
    assert_eq!(
        int(
            &store,
            "SELECT COUNT(*) FROM contract WHERE status = 'active'"
        )
        .await,
        2
    );
}

conformance!(signing_checks_the_period_the_doctor_the_package_and_the_signature);
async fn signing_checks_the_period_the_doctor_the_package_and_the_signature(store: Store) {
    let t = teams(&store).await;
    let v = viewer(&t.c.clinician_a);
    let rules = PeriodRules::default();
    let start = d(2026, 12, 1);
    let sign = |new: NewContract| {
        let store = store.clone();
        let user = t.c.clinician_a.clone();
        async move { access::sign_contract(&store, &viewer(&user), &new, &PeriodRules::default()).await }
    };

    let mut short = t.new_contract(t.c.ana, start);
    short.ends_on = Some(d(2027, 5, 31));
    invalid(sign(short).await, "at least 12 months");

    let mut backwards = t.new_contract(t.c.ana, start);
    backwards.ends_on = Some(d(2026, 11, 1));
    invalid(sign(backwards).await, "ends before it starts");

    let mut nurse = t.new_contract(t.c.ana, start);
    nurse.doctor_id = t.nurse_a.id;
    invalid(sign(nurse).await, "does not hold contracts");

    let mut stranger = t.new_contract(t.c.ana, start);
    stranger.doctor_id = t.member_b.id;
    invalid(sign(stranger).await, "member of the team");

    let mut unsigned = t.new_contract(t.c.ana, start);
    unsigned.signature = Signature::default();
    invalid(sign(unsigned).await, "signature");

    let mut no_witness = t.new_contract(t.c.ana, start);
    no_witness.signature.witness = "  ".into();
    invalid(sign(no_witness).await, "witness");

    let mut scribble = t.new_contract(t.c.ana, start);
    scribble.signature = Signature {
        on_paper: false,
        witness: String::new(),
        drawing: Some("data:text/html;base64,PHNjcmlwdD4=".into()),
    };
    invalid(sign(scribble).await, "PNG data URL");

    contract::set_package_active(&store, t.basic, false, &t.c.admin.who())
        .await
        .expect("withdraw");
    invalid(sign(t.new_contract(t.c.ana, start)).await, "withdrawn");
    contract::set_package_active(&store, t.basic, true, &t.c.admin.who())
        .await
        .expect("offer");

    // Only staff acting for the team sign for it; the refusal is audited.
    let mut other_team = t.new_contract(t.c.ana, start);
    other_team.team_id = t.team_b;
    other_team.doctor_id = t.member_b.id;
    invalid(sign(other_team).await, "member of the team, or staff");
    let denied = audit::for_resident(&store, t.c.ana, 1, 0)
        .await
        .expect("audit")
        .pop()
        .expect("an entry");
    assert_eq!(
        (denied.event.action, denied.event.basis.as_deref()),
        (Action::Denied, Some("not_in_team"))
    );

    // Aggregate roles and residents sign nothing.
    for user in [&t.c.analyst, &t.c.resident_user] {
        let refused = access::sign_contract(
            &store,
            &viewer(user),
            &t.new_contract(t.c.ana, start),
            &rules,
        )
        .await;
        assert!(
            matches!(refused, Err(AccessError::Refused(Refusal::AggregateRole))),
            "{refused:?}"
        );
    }

    // A drawn signature without a paper copy is enough; a longer period is fine.
    let mut drawn = t.new_contract(t.c.ana, start);
    drawn.signature = Signature {
        on_paper: false,
        witness: String::new(),
        drawing: Some("data:image/png;base64,iVBORw0KGgo=".into()),
    };
    drawn.ends_on = Some(d(2028, 11, 30));
    let id = access::sign_contract(&store, &v, &drawn, &rules)
        .await
        .expect("drawn signature");
    let c = get(&store, &t.c.clinician_a, id).await;
    assert_eq!(c.ends_on, d(2028, 11, 30));
    assert!(c.signature.drawing.is_some() && !c.signature.on_paper);
}

conformance!(renewal_opens_before_the_end_and_chains_the_contracts);
async fn renewal_opens_before_the_end_and_chains_the_contracts(store: Store) {
    let t = teams(&store).await;
    let v = viewer(&t.c.clinician_a);
    let rules = PeriodRules::default();
    let first = t.sign(&store, t.c.ana, d(2025, 12, 15)).await;
    let old = get(&store, &t.c.clinician_a, first).await;
    assert_eq!(old.ends_on, d(2026, 12, 14));

    let renewal = |today: NaiveDate| Renewal {
        today,
        ends_on: None,
        package_id: None,
        signature: paper(),
    };
    invalid(
        access::renew_contract(
            &store,
            &v,
            first,
            old.version,
            &renewal(d(2026, 11, 1)),
            &rules,
        )
        .await,
        "renewal opens on 2026-11-14",
    );
    let stale =
        access::renew_contract(&store, &v, first, 99, &renewal(d(2026, 11, 20)), &rules).await;
    assert!(
        matches!(&stale, Err(AccessError::Store(StoreError::Conflict { constraint })) if constraint.starts_with("version")),
        "{stale:?}"
    );
    let second = access::renew_contract(
        &store,
        &v,
        first,
        old.version,
        &renewal(d(2026, 11, 20)),
        &rules,
    )
    .await
    .expect("renew");
    let old = get(&store, &t.c.clinician_a, first).await;
    let new = get(&store, &t.c.clinician_a, second).await;
    assert_eq!(old.status, ContractStatus::Ended);
    assert_eq!(old.replaced_by, Some(second));
    assert_eq!(old.ended_on, None, "a renewed contract runs to its end");
    assert_eq!(new.status, ContractStatus::Active);
    assert_eq!(new.replaces, Some(first));
    assert_eq!(
        (new.starts_on, new.ends_on),
        (d(2026, 12, 15), d(2027, 12, 14))
    );
    assert!(old.in_force_on(d(2026, 12, 14)) && !new.in_force_on(d(2026, 12, 14)));
    assert!(!old.in_force_on(d(2026, 12, 15)) && new.in_force_on(d(2026, 12, 15)));

    // The ended contract cannot be renewed twice; the chain is readable from the resident.
    invalid(
        access::renew_contract(
            &store,
            &v,
            first,
            old.version,
            &renewal(d(2026, 11, 21)),
            &rules,
        )
        .await,
        "only an active contract",
    );
    let all = access::contracts_of(&store, &v, t.c.ana, None)
        .await
        .expect("contracts");
    assert_eq!(
        all.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![second, first]
    );
    let active = access::contracts_of(&store, &v, t.c.ana, Some(ContractStatus::Active))
        .await
        .expect("active");
    assert_eq!(active.len(), 1);

    // Both days count once in coverage, and the renewal counts in 续签率.
    for on in [d(2026, 12, 14), d(2026, 12, 15)] {
        let report = contract::report(&store, &t.c.village_a1, on)
            .await
            .expect("coverage");
        assert_eq!(report.root.signed, 1, "{on}");
    }
    let report = contract::report(&store, &t.c.county, d(2027, 1, 31))
        .await
        .expect("coverage");
    assert_eq!((report.renewals_due, report.renewed), (1, 1));
    assert_eq!(report.renewals_from, d(2026, 2, 1));

    // A late renewal starts on the day it is made.
    let late = t.sign(&store, t.c.dai, d(2025, 1, 1)).await;
    let version = get(&store, &t.c.clinician_a, late).await.version;
    let renewed =
        access::renew_contract(&store, &v, late, version, &renewal(d(2026, 2, 10)), &rules)
            .await
            .expect("late renewal");
    let renewed = get(&store, &t.c.clinician_a, renewed).await;
    assert_eq!(renewed.starts_on, d(2026, 2, 10));
}

conformance!(a_transfer_moves_the_contract_and_keeps_the_term);
async fn a_transfer_moves_the_contract_and_keeps_the_term(store: Store) {
    let t = teams(&store).await;
    let start = today() - Duration::days(100);
    let first = t.sign(&store, t.c.ana, start).await;
    let old = get(&store, &t.c.clinician_a, first).await;
    let on = today();
    let transfer = Transfer {
        team_id: t.team_b,
        doctor_id: t.member_b.id,
        on,
        reason: "居民常住地变更，转至水源镇团队".into(),
        signature: None,
    };

    // Staff acting for neither team cannot move it.
    let outsider = add_user(
        &store,
        UserSpec {
            username: "hospital.doctor",
            role: Role::Clinician,
            institution: Some(t.c.hospital),
            reach: &t.c.county,
            resident: None,
            phone: None,
        },
        &t.c.admin.who(),
    )
    .await;
    invalid(
        access::transfer_contract(&store, &viewer(&outsider), first, old.version, &transfer).await,
        "member of the team",
    );
    let mut no_reason = transfer.clone();
    no_reason.reason = " 转".into();
    invalid(
        access::transfer_contract(
            &store,
            &viewer(&t.c.clinician_a),
            first,
            old.version,
            &no_reason,
        )
        .await,
        "reason",
    );
    let mut too_late = transfer.clone();
    too_late.on = old.ends_on + Duration::days(1);
    invalid(
        access::transfer_contract(
            &store,
            &viewer(&t.c.clinician_a),
            first,
            old.version,
            &too_late,
        )
        .await,
        "within the contract's period",
    );

    let second = access::transfer_contract(
        &store,
        &viewer(&t.c.clinician_a),
        first,
        old.version,
        &transfer,
    )
    .await
    .expect("transfer");
    let old = get(&store, &t.c.clinician_a, first).await;
    let new = get(&store, &t.c.clinician_a, second).await;
    assert_eq!(old.status, ContractStatus::Transferred);
    assert_eq!(old.ended_on, Some(on - Duration::days(1)));
    assert_eq!(
        old.ended_reason.as_deref(),
        Some("居民常住地变更，转至水源镇团队")
    );
    assert_eq!(old.replaced_by, Some(second));
    assert_eq!(
        (new.team_id, new.doctor_id, new.starts_on, new.ends_on),
        (t.team_b, t.member_b.id, on, old.ends_on)
    );
    assert_eq!(new.signature, old.signature, "the signature carries over");
    assert_eq!(new.replaces, Some(first));
    assert_eq!(
        int(
            &store,
            "SELECT COUNT(*) FROM contract WHERE status = 'active'"
        )
        .await,
        1
    );
    // The transfer is not a renewal.
    let report = contract::report(&store, &t.c.county, old.ends_on)
        .await
        .expect("coverage");
    assert_eq!(report.renewed, 0);
}

conformance!(termination_needs_a_reason_and_keeps_it);
async fn termination_needs_a_reason_and_keeps_it(store: Store) {
    let t = teams(&store).await;
    let v = viewer(&t.c.clinician_a);
    let first = t.sign(&store, t.c.bo, d(2026, 1, 1)).await;
    let version = get(&store, &t.c.clinician_a, first).await.version;
    invalid(
        access::terminate_contract(&store, &v, first, version, "死", d(2026, 6, 30)).await,
        "reason of at least 2",
    );
    access::terminate_contract(&store, &v, first, version, "居民死亡", d(2026, 6, 30))
        .await
        .expect("terminate");
    let ended = get(&store, &t.c.clinician_a, first).await;
    assert_eq!(ended.status, ContractStatus::Terminated);
    assert_eq!(ended.ended_reason.as_deref(), Some("居民死亡"));
    assert_eq!(ended.ended_on, Some(d(2026, 6, 30)));
    assert_eq!(ended.version, version + 1);
    let entry = audit::for_resident(&store, t.c.bo, 5, 0)
        .await
        .expect("audit")
        .into_iter()
        .find(|e| e.event.action == Action::Update)
        .expect("the termination is audited");
    assert_eq!(entry.event.reason.as_deref(), Some("terminated: 居民死亡"));
    invalid(
        access::terminate_contract(&store, &v, first, ended.version, "再次解约", d(2026, 7, 1))
            .await,
        "only an active contract",
    );

    // A new contract may start after the last day in force, not before.
    invalid(
        access::sign_contract(
            &store,
            &v,
            &t.new_contract(t.c.bo, d(2026, 6, 1)),
            &PeriodRules::default(),
        )
        .await,
        "in force until 2026-06-30",
    );
    t.sign(&store, t.c.bo, d(2026, 7, 1)).await;
}

conformance!(an_expired_contract_is_closed_and_counts_as_not_renewed);
async fn an_expired_contract_is_closed_and_counts_as_not_renewed(store: Store) {
    let t = teams(&store).await;
    let first = t.sign(&store, t.c.dai, d(2025, 1, 1)).await;
    let closed = contract::close_expired(&store, d(2025, 12, 31), &t.c.admin.who())
        .await
        .expect("close");
    assert_eq!(closed, 0, "its last day is 2025-12-31");
    let closed = contract::close_expired(&store, d(2026, 1, 1), &t.c.admin.who())
        .await
        .expect("close");
    assert_eq!(closed, 1);
    let ended = get(&store, &t.c.clinician_a, first).await;
    assert_eq!(
        (ended.status, ended.ended_reason.as_deref()),
        (ContractStatus::Ended, Some("expired"))
    );
    let report = contract::report(&store, &t.c.county, d(2026, 3, 1))
        .await
        .expect("coverage");
    assert_eq!((report.renewals_due, report.renewed), (1, 0));

    // Signing after an unclosed, expired contract closes it and continues the chain.
    let old = t.sign(&store, t.c.ana, d(2025, 1, 1)).await;
    let new = t.sign(&store, t.c.ana, d(2026, 2, 1)).await;
    let old = get(&store, &t.c.clinician_a, old).await;
    assert_eq!(
        (old.status, old.replaced_by),
        (ContractStatus::Ended, Some(new))
    );
}

/// A resident of `village` born on `birth` with stored key-group codes.
async fn resident_with(
    store: &Store,
    c: &County,
    village: &yiwei_domain::division::DivisionCode,
    name: &str,
    birth: NaiveDate,
    groups: &[&str],
) -> i64 {
    let mut new = new_resident(village, name, "female", None, None);
    new.birth_date = Some(birth);
    new.details = Details {
        key_groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        no_id_reason: Some("newborn".into()),
        ..Details::default()
    };
    resident::create(store, &new, &c.admin.who())
        .await
        .expect("resident")
}

conformance!(coverage_counts_signed_residents_per_division_and_key_group);
async fn coverage_counts_signed_residents_per_division_and_key_group(store: Store) {
    let t = teams(&store).await;
    let c = &t.c;
    let on = d(2026, 11, 23);
    let elder = resident_with(
        &store,
        c,
        &c.village_a1,
        "蒙老",
        d(1950, 3, 3),
        &["hypertension"],
    )
    .await;
    let child = resident_with(&store, c, &c.village_a2, "韦小", d(2022, 5, 1), &[]).await;
    // An old stored age tag does not make a 40-year-old elderly.
    resident_with(
        &store,
        c,
        &c.village_a2,
        "覃中",
        d(1986, 1, 1),
        &["elderly_65"],
    )
    .await;
    t.sign(&store, t.c.ana, d(2026, 1, 1)).await;
    t.sign(&store, child, d(2026, 1, 1)).await;
    access::sign_contract(
        &store,
        &viewer(&t.member_b),
        &NewContract {
            resident_id: c.chen,
            team_id: t.team_b,
            doctor_id: t.member_b.id,
            package_id: t.basic,
            starts_on: d(2026, 1, 1),
            ends_on: None,
            signature: paper(),
        },
        &PeriodRules::default(),
    )
    .await
    .expect("team B signs in its own township");
    // Terminated in the summer: counted before, not after.
    let elder_contract = t.sign(&store, elder, d(2026, 1, 1)).await;
    let version = get(&store, &c.clinician_a, elder_contract).await.version;
    access::terminate_contract(
        &store,
        &viewer(&c.clinician_a),
        elder_contract,
        version,
        "迁出本县",
        d(2026, 8, 31),
    )
    .await
    .expect("terminate");

    let report = contract::report(&store, &c.county, on)
        .await
        .expect("coverage");
    let codes: Vec<&str> = report.children.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["451226100", "451226101"]);
    let a = &report.children[0];
    // Township A: ana, dai, bo, the elder, the child, 覃中; signed: ana and the child.
    assert_eq!((a.residents, a.signed), (6, 2));
    assert_eq!((a.key_residents, a.key_signed), (2, 1));
    let group = |row: &contract::CoverageRow, g: KeyGroup| {
        row.groups
            .iter()
            .find(|(k, _, _)| *k == g)
            .map(|(_, n, s)| (*n, *s))
            .expect("every key group has a row")
    };
    assert_eq!(group(a, KeyGroup::Elderly65), (1, 0));
    assert_eq!(group(a, KeyGroup::Hypertension), (1, 0));
    assert_eq!(group(a, KeyGroup::Child0to6), (1, 1));
    assert_eq!(group(a, KeyGroup::Diabetes), (0, 0));
    let b = &report.children[1];
    assert_eq!((b.residents, b.signed), (1, 1));
    assert_eq!(
        (
            report.root.residents,
            report.root.signed,
            report.root.key_signed
        ),
        (7, 3, 1)
    );

    // In July the elder was still under contract.
    let july = contract::report(&store, &c.county, d(2026, 7, 1))
        .await
        .expect("coverage");
    assert_eq!(july.root.signed, 4);
    assert_eq!(group(&july.root, KeyGroup::Elderly65), (1, 1));
    // Before any contract started, nobody.
    let before = contract::report(&store, &c.county, d(2025, 12, 31))
        .await
        .expect("coverage");
    assert_eq!(before.root.signed, 0);
    // A village is its own single row.
    let village = contract::report(&store, &c.village_a2, on)
        .await
        .expect("coverage");
    assert_eq!(village.children.len(), 1);
    assert_eq!(village.children[0].code, c.village_a2.as_str());
    assert_eq!((village.root.residents, village.root.signed), (3, 1));

    // Aggregates need reach, not a personal-records role.
    let analyst = access::contract_coverage(&store, &viewer(&c.analyst), &c.county, on)
        .await
        .expect("analyst sees the county");
    assert_eq!(analyst.root.signed, 3);
    let outside = access::contract_coverage(&store, &viewer(&c.doctor_a1), &c.county, on).await;
    assert!(
        matches!(outside, Err(AccessError::Refused(Refusal::OutsideReach))),
        "{outside:?}"
    );
}

conformance!(fulfilment_counts_the_package_items_delivered_in_the_contract_year);
async fn fulfilment_counts_the_package_items_delivered_in_the_contract_year(store: Store) {
    let t = teams(&store).await;
    let v = viewer(&t.c.doctor_a1);
    let id = t.sign(&store, t.c.ana, d(2026, 1, 1)).await;
    let service = |code: &str, on: NaiveDate| NewService {
        item_code: code.into(),
        delivered_on: on,
        encounter_id: None,
        today: d(2026, 11, 23),
    };
    for on in [d(2026, 2, 1), d(2026, 5, 1), d(2026, 8, 1)] {
        access::record_contract_service(&store, &v, id, &service("hypertension_followup", on))
            .await
            .expect("follow-up");
    }
    let encounter = access::record_encounter(
        &store,
        &v,
        t.c.ana,
        &NewEncounter {
            kind: yiwei_domain::exam::EncounterKind::Outpatient,
            institution_id: None,
            started_at: chrono::Utc::now(),
            summary: "年度随访".into(),
            diagnoses: Vec::new(),
        },
    )
    .await
    .expect("encounter");
    let mut exam = service("health_exam", d(2026, 4, 1));
    exam.encounter_id = Some(encounter);
    access::record_contract_service(&store, &v, id, &exam)
        .await
        .expect("exam linked to its encounter");

    let (services, f) = access::contract_fulfilment(&store, &v, id, d(2026, 11, 23))
        .await
        .expect("fulfilment");
    assert_eq!(services.len(), 4);
    assert_eq!(services[0].delivered_on, d(2026, 8, 1), "newest first");
    assert_eq!((f.from, f.to), (d(2026, 1, 1), d(2026, 12, 31)));
    let counts: Vec<(&str, u32, u32, bool)> = f
        .items
        .iter()
        .map(|i| (i.code.as_str(), i.required, i.delivered, i.fulfilled()))
        .collect();
    assert_eq!(
        counts,
        [
            ("hypertension_followup", 4, 3, false),
            ("health_exam", 1, 1, true)
        ]
    );
    assert!(!f.fulfilled());
    access::record_contract_service(
        &store,
        &v,
        id,
        &service("hypertension_followup", d(2026, 11, 2)),
    )
    .await
    .expect("fourth follow-up");
    let (_, f) = access::contract_fulfilment(&store, &v, id, d(2026, 11, 23))
        .await
        .expect("fulfilment");
    assert!(f.fulfilled());

    invalid(
        access::record_contract_service(&store, &v, id, &service("home_visit", d(2026, 3, 1)))
            .await,
        "not an item of this contract's package",
    );
    invalid(
        access::record_contract_service(&store, &v, id, &service("health_exam", d(2025, 12, 31)))
            .await,
        "outside",
    );
    invalid(
        access::record_contract_service(&store, &v, id, &service("health_exam", d(2026, 12, 1)))
            .await,
        "future",
    );
    let other = access::record_encounter(
        &store,
        &v,
        t.c.dai,
        &NewEncounter {
            kind: yiwei_domain::exam::EncounterKind::Outpatient,
            institution_id: None,
            started_at: chrono::Utc::now(),
            summary: String::new(),
            diagnoses: Vec::new(),
        },
    )
    .await
    .expect("encounter of dai");
    let mut wrong = service("health_exam", d(2026, 4, 2));
    wrong.encounter_id = Some(other);
    invalid(
        access::record_contract_service(&store, &v, id, &wrong).await,
        "not one of this resident's",
    );
    // Someone who may not open the record records nothing.
    let refused = access::record_contract_service(
        &store,
        &viewer(&t.member_b),
        id,
        &service("health_exam", d(2026, 4, 3)),
    )
    .await;
    assert!(
        matches!(refused, Err(AccessError::Refused(Refusal::OutsideReach))),
        "{refused:?}"
    );
}

conformance!(a_team_holding_the_contract_opens_the_record_from_another_township);
async fn a_team_holding_the_contract_opens_the_record_from_another_township(store: Store) {
    let t = teams(&store).await;
    let member_b = viewer(&t.member_b);
    let refused = access::open_resident(&store, &member_b, t.c.ana).await;
    assert!(
        matches!(refused, Err(AccessError::Refused(Refusal::OutsideReach))),
        "{refused:?}"
    );

    // Team A hands ana's contract to team B of the other township's centre.
    let first = t.sign(&store, t.c.ana, today() - Duration::days(10)).await;
    let version = get(&store, &t.c.clinician_a, first).await.version;
    let second = access::transfer_contract(
        &store,
        &viewer(&t.c.clinician_a),
        first,
        version,
        &Transfer {
            team_id: t.team_b,
            doctor_id: t.member_b.id,
            on: today(),
            reason: "转由水源镇团队服务".into(),
            signature: Some(paper()),
        },
    )
    .await
    .expect("transfer");

    let (record, basis) = access::open_resident(&store, &member_b, t.c.ana)
        .await
        .expect("the contract ties team B to ana");
    assert_eq!(record.id, t.c.ana);
    assert_eq!(basis, Basis::Tie(Tie::Contract));
    let entry = audit::for_resident(&store, t.c.ana, 1, 0)
        .await
        .expect("audit")
        .pop()
        .expect("an entry");
    assert_eq!(
        (entry.event.action, entry.event.basis.as_deref()),
        (Action::Read, Some("contract"))
    );
    // The team lists its contract, which team A's village doctor no longer holds.
    let (list, total) = access::team_contracts(&store, &member_b, t.team_b, true, 50, 0)
        .await
        .expect("team B's list");
    assert_eq!((total, list[0].resident_name.as_str()), (1, "韦阿娜"));
    let teams = access::care_teams_of(&store, &member_b, t.c.ana)
        .await
        .expect("care teams");
    assert_eq!(
        teams.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![t.team_b, t.team_a]
    );
    let not_theirs = access::team_contracts(&store, &member_b, t.team_a, true, 50, 0).await;
    assert!(
        matches!(not_theirs, Err(AccessError::Refused(_))),
        "{not_theirs:?}"
    );

    // Once terminated, the tie is gone.
    let version = get(&store, &t.member_b, second).await.version;
    access::terminate_contract(&store, &member_b, second, version, "居民要求解约", today())
        .await
        .expect("terminate");
    let refused = access::open_resident(&store, &member_b, t.c.ana).await;
    assert!(
        matches!(refused, Err(AccessError::Refused(Refusal::OutsideReach))),
        "{refused:?}"
    );
    // An expired contract ties nobody either, even before the expiry job runs.
    let old = t.sign(&store, t.c.bo, today() - Duration::days(800)).await;
    exec(
        &store,
        &format!(
            "UPDATE contract SET team_id = {} WHERE id = {old}",
            t.team_b
        ),
    )
    .await
    .expect("hand the old contract to team B");
    let refused = access::open_resident(&store, &member_b, t.c.bo).await;
    assert!(
        matches!(refused, Err(AccessError::Refused(Refusal::OutsideReach))),
        "{refused:?}"
    );
    exec(
        &store,
        &format!("UPDATE contract SET ends_on = '2099-12-31' WHERE id = {old}"),
    )
    .await
    .expect("extend it");
    let (_, basis) = access::open_resident(&store, &member_b, t.c.bo)
        .await
        .expect("in force again");
    assert_eq!(basis, Basis::Tie(Tie::Contract));
}

conformance!(teams_keep_their_members_villages_and_one_lead);
async fn teams_keep_their_members_villages_and_one_lead(store: Store) {
    let t = teams(&store).await;
    let by = t.c.admin.who();
    let team = contract::get_team(&store, t.team_a).await.expect("team");
    assert_eq!(
        (team.lead_user_id, team.n_members, team.n_villages),
        (Some(t.c.clinician_a.id), 3, 2)
    );
    let members = contract::members(&store, t.team_a).await.expect("members");
    assert_eq!(
        members.iter().map(|m| m.role).collect::<Vec<_>>(),
        [TeamRole::Lead, TeamRole::Nurse, TeamRole::VillageDoctor]
    );

    // A new lead: the old one stays as a doctor.
    contract::add_member(&store, t.team_a, t.c.doctor_a1.id, TeamRole::Lead, &by)
        .await
        .expect("new lead");
    assert_eq!(
        contract::member_role(&store, t.team_a, t.c.clinician_a.id)
            .await
            .expect("role"),
        Some(TeamRole::Doctor)
    );
    assert_eq!(
        contract::get_team(&store, t.team_a)
            .await
            .expect("team")
            .lead_user_id,
        Some(t.c.doctor_a1.id)
    );

    let resident_account =
        contract::add_member(&store, t.team_a, t.c.resident_user.id, TeamRole::Nurse, &by).await;
    assert!(matches!(resident_account, Err(StoreError::Invalid(_))));
    let township = contract::add_village(&store, t.team_a, &t.c.township_a, &by).await;
    assert!(matches!(township, Err(StoreError::Invalid(_))));
    let unknown = contract::add_village(
        &store,
        t.team_a,
        &yiwei_domain::division::DivisionCode::parse("451226100299").expect("code"),
        &by,
    )
    .await;
    assert!(matches!(unknown, Err(StoreError::Invalid(_))));
    let duplicate_name = contract::create_team(
        &store,
        &NewTeam {
            institution_id: t.c.centre_a,
            name: "思恩镇第一团队".into(),
            lead_user_id: None,
        },
        &by,
    )
    .await;
    assert!(matches!(duplicate_name, Err(StoreError::Conflict { .. })));

    // A doctor holding contracts stays until they are transferred.
    t.sign(&store, t.c.ana, today()).await;
    let holding = contract::remove_member(&store, t.team_a, t.c.clinician_a.id, &by).await;
    assert!(
        matches!(&holding, Err(StoreError::Invalid(m)) if m.contains("transfer them first")),
        "{holding:?}"
    );
    contract::remove_member(&store, t.team_a, t.nurse_a.id, &by)
        .await
        .expect("the nurse leaves");

    // Lists: a village doctor finds the team serving their village; signing offers it.
    let (found, total) = contract::list_teams(&store, &t.c.village_a1, None, 50, 0)
        .await
        .expect("teams");
    assert_eq!((total, found[0].id), (1, t.team_a));
    let (all, total) = contract::list_teams(&store, &t.c.county, None, 50, 0)
        .await
        .expect("teams");
    assert_eq!((total, all.len()), (2, 2));
    let offered = contract::teams_for_signing(&store, &t.c.village_b1, Some(t.c.centre_a))
        .await
        .expect("teams for signing");
    let mut ids: Vec<i64> = offered.iter().map(|t| t.id).collect();
    ids.sort();
    assert_eq!(ids, [t.team_a, t.team_b]);
    contract::update_team(&store, t.team_b, "水源镇团队", false, &by)
        .await
        .expect("deactivate");
    let offered = contract::teams_for_signing(&store, &t.c.village_b1, None)
        .await
        .expect("teams for signing");
    assert!(offered.is_empty(), "an inactive team signs nothing");
    assert_eq!(
        contract::list_packages(&store, true)
            .await
            .expect("packages")
            .len(),
        1
    );
}

conformance!(a_backup_keeps_contract_chains);
async fn a_backup_keeps_contract_chains(store: Store) {
    let t = teams(&store).await;
    let first = t.sign(&store, t.c.ana, d(2025, 12, 15)).await;
    let version = get(&store, &t.c.clinician_a, first).await.version;
    let second = access::renew_contract(
        &store,
        &viewer(&t.c.clinician_a),
        first,
        version,
        &Renewal {
            today: d(2026, 11, 20),
            ends_on: None,
            package_id: None,
            signature: paper(),
        },
        &PeriodRules::default(),
    )
    .await
    .expect("renew");
    access::record_contract_service(
        &store,
        &viewer(&t.c.doctor_a1),
        first,
        &NewService {
            item_code: "health_exam".into(),
            delivered_on: d(2026, 3, 1),
            encounter_id: None,
            today: d(2026, 11, 23),
        },
    )
    .await
    .expect("service");
    let target = TestDb::like(&store, keys()).await;
    let path = target.dir().join("contracts.jsonl");
    let rows = backup::write(&store, &path, |_, _| {})
        .await
        .expect("backup");
    // The renewed contract points forward to a later row: the restore must accept it.
    let restored = backup::restore(&target.store(), &path, |_, _| {})
        .await
        .expect("restore");
    assert_eq!(restored, rows);
    let copy = target.store();
    let old = get(&copy, &t.c.clinician_a, first).await;
    assert_eq!(old.replaced_by, Some(second));
    assert_eq!(int(&copy, "SELECT COUNT(*) FROM contract_service").await, 1);
    assert_eq!(
        contract::members(&copy, t.team_a)
            .await
            .expect("members")
            .len(),
        3
    );
    // New rows get fresh ids after the restored ones.
    let third = t.sign(&copy, t.c.bo, d(2026, 1, 1)).await;
    assert!(third > second);
    target.finish().await;
}
