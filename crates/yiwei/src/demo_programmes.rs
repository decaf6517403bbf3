//! The demo county's family-doctor teams, contracts, programme enrolments and two years of
//! visit histories, so that the work lists and the programme indicators show what a real
//! county's would.
//!
//! What the figures rest on (context.md and domain.md §1–2):
//! - **Teams**: one per township health centre, led by its family-doctor account, with the
//!   township's village doctors as members, serving all its villages.
//! - **Contracts**: about 46% of residents and 70% of the key groups signed (one city's
//!   figures in context.md); most contracts started within the last year, one in ten
//!   started earlier and lapsed without renewal. A resident of a village with a village
//!   doctor account signs with that doctor, others with the team lead.
//! - **Enrolments**: every resident whose record lists hypertension, type 2 diabetes, one of
//!   the six severe mental disorders or tuberculosis is under management from a day between
//!   their 35th birthday (or 2015) and mid-2025; pregnant women have a maternal-care episode
//!   with a last menstrual period 6 to 36 weeks ago.
//! - **Adherence** (no national figure; chosen to land near the 规范管理率 and 控制率 the
//!   reviews report, ~70–80% and ~60–70%): of chronic patients 72% are followed regularly
//!   (a visit every 80–100 days, 5% missed), 20% irregularly (40% of visits missed) and 8%
//!   were lost to follow-up a year ago. Blood pressure and glucose are drawn so that about
//!   two thirds of regular patients are controlled; an uncontrolled visit is followed by a
//!   recheck within two weeks when the patient is regular. Patients with a severe mental
//!   disorder are followed closely (97% regular, a visit every 75–85 days, 1% missed), to
//!   land near the 98.3% 规范管理率 of the reviews. 65+ yearly checks are attended
//!   by 70% each year, child-health and maternal visits by 88%.
//! - Every visit goes through the programme's form validation and rules
//!   (`yiwei_domain::programme::validate` and `outcome`), so the stored classification is
//!   what the platform itself would conclude.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate};
use serde_json::Value as Json;
use yiwei_domain::access::Role;
use yiwei_domain::contract::{PackageKind, TeamRole, parse_items};
use yiwei_domain::division::DivisionCode;
use yiwei_domain::key_group::{Condition, age_on};
use yiwei_domain::programme::{
    self, Diagnosis, FieldKind, Pregnancy, Programme, Schedule, Status, Subject, Visit,
};
use yiwei_domain::ws365::Sex;
use yiwei_store::audit::Who;
use yiwei_store::contract::{self, BulkContract, NewPackage, NewTeam};
use yiwei_store::programme::{
    self as store_programme, BulkEnrolment, Catalogue, Episode, HistoryVisit,
};
use yiwei_store::user::{self, NewUser};
use yiwei_store::{Store, on_pool};

use crate::demo::{DEMO_PASSWORD, Rng};

/// What [`generate`] made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub teams: usize,
    pub contracts: u64,
    pub enrolments: usize,
    pub visits: u64,
    /// Visits the form validation refused (should stay 0: a generator bug otherwise).
    pub refused: u64,
    pub due_rows: u64,
}

struct Person {
    id: i64,
    division: String,
    birth: Option<NaiveDate>,
    sex: Option<Sex>,
    conditions: Vec<Condition>,
    pregnant: bool,
    key_group: bool,
}

async fn people(store: &Store) -> Result<Vec<Person>> {
    let rows: Vec<(i64, String, Option<NaiveDate>, String, String, String)> =
        on_pool!(store, |pool| {
            sqlx::query_as(
                "SELECT id, division_code, birth_date, sex, key_groups, profile FROM resident \
                 WHERE merged_into IS NULL ORDER BY id",
            )
            .fetch_all(pool)
            .await
        })?;
    Ok(rows
        .into_iter()
        .map(|(id, division, birth, sex, key_groups, profile)| {
            let profile: Json = serde_json::from_str(&profile).unwrap_or(Json::Null);
            Person {
                id,
                division,
                birth,
                sex: store_programme::sex_of(&sex),
                conditions: profile["conditions"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| c.as_str().and_then(Condition::parse))
                            .collect()
                    })
                    .unwrap_or_default(),
                pregnant: profile["pregnant"].as_bool().unwrap_or(false),
                key_group: !key_groups.is_empty(),
            }
        })
        .collect())
}

fn programme_of(c: Condition) -> &'static str {
    match c {
        Condition::Hypertension => "hypertension",
        Condition::Type2Diabetes => "diabetes",
        Condition::Tuberculosis => "tuberculosis",
        _ => "severe_mental",
    }
}

fn day_between(rng: &mut Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days().max(0) as u64;
    from + Duration::days(rng.below(span + 1) as i64)
}

/// Plausible answers for `p`'s form on a visit, with the measurements given.
fn answers(
    p: &Programme,
    rng: &mut Rng,
    measured: &HashMap<&'static str, f64>,
    date: NaiveDate,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in &p.form.fields {
        let value = match &f.kind {
            FieldKind::Number { range, .. } => {
                if let Some(v) = measured.get(f.key) {
                    Some(format!("{v:.0}"))
                } else if f.required {
                    let typical = match f.key {
                        "heart_rate" => 76.0,
                        "temperature" => 36.6,
                        "weight" => 58.0,
                        "height" => 160.0,
                        "hb" => 125.0,
                        "fpg" => 5.6,
                        "sys" => 124.0,
                        "dia" => 78.0,
                        "atr" => 2.0,
                        "ucva_left" | "ucva_right" => 5.0,
                        _ => range.min + (range.max.min(1000.0) - range.min) * 0.2,
                    };
                    Some(format!("{}", typical.clamp(range.min, range.max)))
                } else {
                    None
                }
            }
            FieldKind::Code { set } if f.required => set.first().map(|c| c.0.to_owned()),
            FieldKind::YesNo if f.required => Some(if rng.chance(4) { "1" } else { "0" }.into()),
            FieldKind::Date if f.required => Some(date.to_string()),
            _ => None,
        };
        if let Some(v) = value {
            out.push((f.key.to_owned(), v));
        }
    }
    out
}

/// Measurements of a chronic follow-up: controlled with probability `controlled_pct`.
fn chronic_measures(
    rng: &mut Rng,
    programme: &str,
    controlled_pct: u64,
) -> HashMap<&'static str, f64> {
    let controlled = rng.chance(controlled_pct);
    let mut m = HashMap::new();
    let (sys, dia) = if controlled {
        (118 + rng.below(20), 70 + rng.below(15))
    } else {
        (146 + rng.below(26), 88 + rng.below(14))
    };
    m.insert("sys", sys as f64);
    m.insert("dia", dia as f64);
    if programme == "diabetes" {
        let fpg = if controlled {
            5.2 + rng.below(17) as f64 / 10.0
        } else {
            7.3 + rng.below(40) as f64 / 10.0
        };
        m.insert("fpg", (fpg * 10.0).round() / 10.0);
    }
    m
}

struct Visits<'a> {
    catalogue: &'a Catalogue,
    by_resident: Vec<HistoryVisit>,
    refused: u64,
}

impl Visits<'_> {
    /// Validate, classify and keep one visit; the engine history grows with it.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        p: &Programme,
        subject: &Subject,
        history: &mut Vec<Visit>,
        person: &Person,
        place: (i64, Option<i64>),
        enrolment: Option<i64>,
        date: NaiveDate,
        typed: Vec<(String, String)>,
    ) -> Option<programme::Outcome> {
        let pairs: Vec<(&str, &str)> = typed
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let Ok(valid) = programme::validate(&p.form, &pairs) else {
            self.refused += 1;
            return None;
        };
        let open = programme::due(p, subject, history, date);
        let code = open
            .iter()
            .find(|d| d.status != Status::Missed)
            .map(|d| d.visit.code)
            .or_else(|| p.visit_kinds().last().map(|k| k.code))?;
        let outcome = programme::outcome(p, &valid, subject, date, history);
        history.push(Visit {
            date,
            code: code.to_owned(),
            classification: outcome.classification,
            next_due: outcome.next_due,
        });
        self.by_resident.push(HistoryVisit {
            resident_id: person.id,
            division: person.division.clone(),
            institution_id: place.0,
            author_id: place.1,
            enrolment_id: enrolment,
            programme: p.code.to_owned(),
            visit_code: code.to_owned(),
            visit_date: date,
            answers: store_programme::answers_json(&valid),
            classification: outcome.classification.map(|c| c.code()),
            next_due: outcome.next_due,
            summary: format!(
                "{} {}",
                p.name_zh,
                self.catalogue.visit_names(p.code, code).0
            ),
        });
        Some(outcome)
    }
}

/// Build the teams, contracts, enrolments and visit histories of the demo county that is
/// already in `store` (residents, institutions and accounts), as of `today`; then rebuild
/// every work list.
pub async fn generate(store: &Store, seed: u64, today: NaiveDate, by: &Who) -> Result<Summary> {
    let catalogue = Catalogue::default();
    let mut rng = Rng::new(seed ^ 0x5EED_F00D);
    let mut summary = Summary::default();

    // Institutions: township centres and village clinics, by division.
    let institutions: Vec<(i64, String, String)> = on_pool!(store, |pool| {
        sqlx::query_as("SELECT id, division_code, kind FROM institution ORDER BY id")
            .fetch_all(pool)
            .await
    })?;
    let mut centre_of: HashMap<String, i64> = HashMap::new();
    let mut clinic_of: HashMap<String, i64> = HashMap::new();
    for (id, division, kind) in &institutions {
        match kind.as_str() {
            "township_health_centre" | "community_health_centre" => {
                centre_of.entry(division.clone()).or_insert(*id);
            }
            "village_clinic" => {
                clinic_of.entry(division.clone()).or_insert(*id);
            }
            _ => {}
        }
    }
    let (users, _) = user::list(store, 100_000, 0).await?;
    let village_doctor: HashMap<String, i64> = users
        .iter()
        .filter(|u| u.role == Role::VillageDoctor)
        .map(|u| (u.reach.as_str().to_owned(), u.id))
        .collect();

    // One team per township centre.
    let package = contract::create_package(
        store,
        &NewPackage {
            code: "basic".into(),
            name: "基础签约服务包".into(),
            name_en: "Basic contract package".into(),
            kind: PackageKind::Basic,
            price_fen: 0,
            items: parse_items(
                "health_exam 1\nhypertension_followup 4\ndiabetes_followup 4\nelderly_assessment 1\n\
                 mental_followup 4\nchild_checkup 1\nprenatal_visit 1\nhealth_education 1",
            )
            .map_err(anyhow::Error::msg)?,
        },
        by,
    )
    .await?;
    let mut team_of: HashMap<String, (i64, i64)> = HashMap::new();
    let mut townships: Vec<&String> = centre_of.keys().collect();
    townships.sort();
    for township in townships {
        let centre = centre_of[township];
        let code = DivisionCode::parse(township).context("a stored township code")?;
        let lead = match users
            .iter()
            .find(|u| u.role == Role::TeamMember && u.institution_id == Some(centre))
        {
            Some(u) => u.id,
            None => {
                user::add(
                    store,
                    &NewUser {
                        username: format!("team.{township}"),
                        display_name: format!("家庭医生团队 {township}"),
                        role: Role::TeamMember,
                        institution_id: Some(centre),
                        reach: code.clone(),
                        resident_id: None,
                        password: DEMO_PASSWORD.into(),
                        phone: None,
                    },
                    by,
                )
                .await?
                .id
            }
        };
        let team = contract::create_team(
            store,
            &NewTeam {
                institution_id: centre,
                name: format!("家庭医生团队{}", team_of.len() + 1),
                lead_user_id: Some(lead),
            },
            by,
        )
        .await?;
        summary.teams += 1;
        for (village, _) in clinic_of
            .iter()
            .filter(|(v, _)| v.starts_with(township.as_str()))
        {
            let v = DivisionCode::parse(village).context("a stored village code")?;
            contract::add_village(store, team, &v, by).await?;
            if let Some(doctor) = village_doctor.get(village) {
                contract::add_member(store, team, *doctor, TeamRole::VillageDoctor, by).await?;
            }
        }
        team_of.insert(township.clone(), (team, lead));
    }

    let people = people(store).await?;
    // Contracts.
    let mut contracts = Vec::new();
    for p in &people {
        let Some((_, &(team, lead))) = team_of
            .iter()
            .find(|(t, _)| p.division.starts_with(t.as_str()))
        else {
            continue;
        };
        let signs = if p.key_group {
            rng.chance(70)
        } else {
            rng.chance(44)
        };
        if !signs {
            continue;
        }
        let lapsed = rng.chance(10);
        let starts_on = if lapsed {
            day_between(
                &mut rng,
                today - Duration::days(730),
                today - Duration::days(400),
            )
        } else {
            day_between(
                &mut rng,
                today - Duration::days(360),
                today - Duration::days(1),
            )
        };
        let ends_on = starts_on
            .checked_add_months(chrono::Months::new(12))
            .map_or(starts_on, |d| d - Duration::days(1));
        contracts.push(BulkContract {
            resident_id: p.id,
            division: p.division.clone(),
            team_id: team,
            doctor_id: village_doctor.get(&p.division).copied().unwrap_or(lead),
            package_id: package,
            starts_on,
            ends_on,
            witness: "村医".into(),
        });
    }
    for chunk in contracts.chunks(20_000) {
        summary.contracts += contract::insert_batch(store, chunk, today, by).await?;
    }

    // Enrolments.
    let mut enrolments = Vec::new();
    let mut enrolled: HashSet<(i64, &'static str)> = HashSet::new();
    for p in &people {
        for c in &p.conditions {
            let Some(birth) = p.birth else { continue };
            let from = birth
                .checked_add_months(chrono::Months::new(35 * 12))
                .unwrap_or(birth)
                .max(NaiveDate::from_ymd_opt(2015, 1, 1).expect("date"));
            let to = NaiveDate::from_ymd_opt(2025, 6, 30).expect("date");
            if from > to {
                continue;
            }
            let programme = programme_of(*c);
            if !enrolled.insert((p.id, programme)) {
                continue;
            }
            enrolments.push(BulkEnrolment {
                resident_id: p.id,
                programme: programme.into(),
                started_on: day_between(&mut rng, from, to),
                ended_on: None,
                episode: Episode {
                    condition: (programme == "severe_mental").then(|| c.code().to_owned()),
                    ..Episode::default()
                },
            });
        }
        if p.pregnant && p.sex == Some(Sex::Female) {
            let lmp = today - Duration::days(42 + rng.below(210) as i64);
            enrolments.push(BulkEnrolment {
                resident_id: p.id,
                programme: "maternal".into(),
                started_on: lmp + Duration::days(40 + rng.below(30) as i64),
                ended_on: None,
                episode: Episode {
                    lmp: Some(lmp),
                    edd: Some(lmp + Duration::days(280)),
                    ..Episode::default()
                },
            });
        }
    }
    let mut enrolment_ids: HashMap<(i64, String), (i64, NaiveDate, Episode)> = HashMap::new();
    for chunk in enrolments.chunks(20_000) {
        let ids = store_programme::insert_enrolments(store, chunk, by).await?;
        for (e, id) in chunk.iter().zip(ids) {
            enrolment_ids.insert(
                (e.resident_id, e.programme.clone()),
                (id, e.started_on, e.episode.clone()),
            );
        }
    }
    summary.enrolments = enrolments.len();

    // Visit histories.
    let horizon = today - Duration::days(730);
    let mut visits = Visits {
        catalogue: &catalogue,
        by_resident: Vec::new(),
        refused: 0,
    };
    for p in &people {
        let Some(birth) = p.birth else { continue };
        let place = (
            clinic_of
                .get(&p.division)
                .copied()
                .or_else(|| {
                    centre_of
                        .iter()
                        .find(|(t, _)| p.division.starts_with(t.as_str()))
                        .map(|(_, id)| *id)
                })
                .unwrap_or(0),
            village_doctor.get(&p.division).copied(),
        );
        if place.0 == 0 {
            continue;
        }
        let mut conditions = Vec::new();
        for c in &p.conditions {
            if let Some((_, since, _)) = enrolment_ids.get(&(p.id, programme_of(*c).to_owned())) {
                conditions.push(Diagnosis {
                    condition: *c,
                    since: *since,
                });
            }
        }
        let pregnancy = enrolment_ids
            .get(&(p.id, "maternal".to_owned()))
            .map(|(_, _, e)| Pregnancy {
                last_menstrual_period: e.lmp,
                expected_delivery: e.edd,
                delivered_on: None,
                discharged_on: None,
            });
        let subject = Subject {
            birth_date: Some(birth),
            sex: p.sex,
            conditions,
            pregnancy,
            ..Subject::default()
        };
        let age = age_on(birth, today);
        // Adherence of this person: 0 regular, 1 irregular, 2 lost. Patients with a severe
        // mental disorder are followed much more closely (the reviews report 98.3% managed
        // to standard): drawn separately, so the other programmes keep their mix.
        let adherence = rng.weighted(&[72, 20, 8]);
        let mental_adherence = rng.weighted(&[97, 2, 1]);
        for prog in &catalogue.programmes {
            if !prog.enrolled(&subject, today) && !prog.enrolled(&subject, horizon) {
                continue;
            }
            let enrolment = enrolment_ids.get(&(p.id, prog.code.to_owned()));
            let mut history: Vec<Visit> = Vec::new();
            match &prog.schedule {
                Schedule::Interval(i) => {
                    let mental = prog.code == "severe_mental";
                    let adherence = if mental { mental_adherence } else { adherence };
                    let start = enrolment.map_or(horizon, |e| e.1).max(horizon);
                    let lost_from = today - Duration::days(330 + rng.below(60) as i64);
                    let mut date = start
                        + Duration::days(
                            i64::from(i.first_within_days.min(30)) + rng.below(20) as i64,
                        );
                    while date < today {
                        let skip = match adherence {
                            0 if mental => rng.chance(1),
                            0 => rng.chance(5),
                            1 => rng.chance(40),
                            _ => date >= lost_from,
                        };
                        // A visit a quarter: every 80–100 days, or every 75–85 days for the
                        // closely followed mental-health patients (four or five a year).
                        let mut next = if mental {
                            date + Duration::days(75 + rng.below(11) as i64)
                        } else {
                            date + Duration::days(80 + rng.below(21) as i64)
                        };
                        if !skip {
                            let measured = chronic_measures(
                                &mut rng,
                                prog.code,
                                if adherence == 0 { 68 } else { 45 },
                            );
                            let typed = answers(prog, &mut rng, &measured, date);
                            let outcome = visits.add(
                                prog,
                                &subject,
                                &mut history,
                                p,
                                place,
                                enrolment.map(|e| e.0),
                                date,
                                typed,
                            );
                            if adherence == 0
                                && let Some(programme::NextDue::By(by_day)) =
                                    outcome.and_then(|o| o.next_due)
                                && by_day < next
                            {
                                next = date + Duration::days(10 + rng.below(4) as i64);
                            }
                        }
                        date = next;
                    }
                }
                _ => {
                    let attend = if prog.code == "elderly_annual" {
                        70
                    } else {
                        88
                    };
                    let mut windows: Vec<(NaiveDate, NaiveDate, &'static str)> = Vec::new();
                    for at in [horizon, today - Duration::days(365), today] {
                        for d in programme::due(prog, &subject, &[], at) {
                            if !windows
                                .iter()
                                .any(|w| w.0 == d.due_from && w.2 == d.visit.code)
                            {
                                windows.push((d.due_from, d.due_by, d.visit.code));
                            }
                        }
                    }
                    windows.sort();
                    for (from, by_day, _) in windows {
                        if from >= today || from < horizon || !rng.chance(attend) {
                            continue;
                        }
                        let last = by_day.min(today - Duration::days(1));
                        if last < from {
                            continue;
                        }
                        let date = day_between(&mut rng, from, last);
                        let measured = if age >= 35 {
                            chronic_measures(&mut rng, "hypertension", 75)
                        } else {
                            HashMap::new()
                        };
                        let typed = answers(prog, &mut rng, &measured, date);
                        visits.add(
                            prog,
                            &subject,
                            &mut history,
                            p,
                            place,
                            enrolment.map(|e| e.0),
                            date,
                            typed,
                        );
                    }
                }
            }
        }
        if visits.by_resident.len() >= 20_000 {
            summary.visits +=
                store_programme::insert_history(store, &visits.by_resident, by).await?;
            visits.by_resident.clear();
        }
    }
    summary.visits += store_programme::insert_history(store, &visits.by_resident, by).await?;
    summary.refused = visits.refused;
    let refreshed = store_programme::refresh_all(store, &catalogue, today, |_, _| {}).await?;
    summary.due_rows = refreshed.rows;
    Ok(summary)
}
