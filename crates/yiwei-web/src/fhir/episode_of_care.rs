//! EpisodeOfCare: a family-doctor contract (家庭医生签约), read and searched by patient.
//!
//! Why EpisodeOfCare and not Contract: a 签约 is a care relationship over a period, in
//! which an organization and a care manager take responsibility for a patient, delivered
//! by a team; that is what R4 EpisodeOfCare models ("an association between a patient and
//! an organization / healthcare provider(s) during which time encounters may occur",
//! with `managingOrganization`, `careManager`, `team` and `period`), and the way national
//! GP-registration schemes publish it. R4 Contract is a legal and financial instrument
//! (terms, offers, signers, valued items) at maturity level 1; using it would put the
//! resident's signature image on the API and still leave the care relationship unmodelled.
//!
//! Mapping:
//! - `type`: `urn:yiwei:episode-type|family-doctor-contract`, text 家庭医生签约服务;
//! - `status`: `planned` (signed, not started: a renewal waiting for its day), `active`,
//!   `finished` (ran to its end, was renewed, transferred or terminated after it started),
//!   `cancelled` (stopped before its first day);
//! - `period`: first day to last day in force (the early end of a stopped contract);
//! - `patient`, `managingOrganization` (the team's institution), `careManager`
//!   (`Practitioner/<user id>` of the contract doctor), `team` (`CareTeam/<id>`).
//!
//! The package, the signature and the termination reason are not carried (no R4 element
//! fits them without extensions); the pages show them. Reads and searches open the
//! resident's record, so they are checked and audited. Search needs `patient` (or
//! `subject`, accepted as its alias) and takes `status` (comma for or).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde_json::{Value, json};
use yiwei_domain::contract::ContractStatus;
use yiwei_store::access::{self, Viewer};
use yiwei_store::contract::Contract;

use super::encounter::{patient_id, refused};
use super::{Fhir, FhirUser, Outcome, bundle, parse_search};
use crate::AppState;

pub const TYPE_SYSTEM: &str = "urn:yiwei:episode-type";

/// The EpisodeOfCare status of a contract on `today`.
pub fn status_on(c: &Contract, today: NaiveDate) -> &'static str {
    let never_started = c.last_day() < c.starts_on;
    match c.status {
        ContractStatus::Active if c.starts_on > today => "planned",
        ContractStatus::Active if c.ends_on < today => "finished",
        ContractStatus::Active => "active",
        ContractStatus::Ended => "finished",
        ContractStatus::Terminated | ContractStatus::Transferred if never_started => "cancelled",
        ContractStatus::Terminated | ContractStatus::Transferred => "finished",
    }
}

/// The EpisodeOfCare JSON of a contract, as of `today`.
pub fn to_episode(c: &Contract, today: NaiveDate) -> Value {
    let mut period = json!({"start": c.starts_on.to_string()});
    if c.last_day() >= c.starts_on {
        period["end"] = json!(c.last_day().to_string());
    }
    json!({
        "resourceType": "EpisodeOfCare",
        "id": c.id.to_string(),
        "meta": {"versionId": c.version.to_string()},
        "status": status_on(c, today),
        "type": [{
            "coding": [{"system": TYPE_SYSTEM, "code": "family-doctor-contract", "display": "Family-doctor contracted service"}],
            "text": "家庭医生签约服务"
        }],
        "patient": {"reference": format!("Patient/{}", c.resident_id)},
        "managingOrganization": {"reference": format!("Organization/{}", c.institution_id), "display": c.institution_name},
        "period": period,
        "careManager": {"reference": format!("Practitioner/{}", c.doctor_id), "display": c.doctor_name},
        "team": [{"reference": format!("CareTeam/{}", c.team_id), "display": c.team_name}],
    })
}

fn today(state: &AppState) -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(i64::from(state.config.utc_offset_hours)))
        .date_naive()
}

pub async fn read(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let id: i64 = id
        .parse()
        .map_err(|_| Outcome::not_found("EpisodeOfCare"))?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let c = access::open_contract(&state.store, &viewer, id)
        .await
        .map_err(|e| match e {
            access::AccessError::Store(yiwei_store::StoreError::NotFound(_)) => {
                Outcome::not_found("EpisodeOfCare")
            }
            other => refused(other),
        })?;
    Ok(Fhir(StatusCode::OK, to_episode(&c, today(&state))))
}

const STATUSES: [&str; 7] = [
    "planned",
    "waitlist",
    "active",
    "onhold",
    "finished",
    "cancelled",
    "entered-in-error",
];

pub async fn search(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(raw.as_deref(), &["patient", "subject", "status"])?;
    let mut patient = None;
    let mut statuses: Vec<String> = Vec::new();
    for (k, v) in &pairs {
        match k.as_str() {
            "patient" | "subject" => {
                let id = patient_id(k, v)?;
                if patient.is_some_and(|p| p != id) {
                    return Err(Outcome::invalid(
                        "patient and subject name different Patients",
                        "patient 与 subject 不一致",
                    ));
                }
                patient = Some(id);
            }
            "status" => {
                for s in v.split(',') {
                    if !STATUSES.contains(&s) {
                        return Err(Outcome::invalid(
                            format!("status {s:?} is not an EpisodeOfCare status"),
                            "status 取值有误",
                        ));
                    }
                    statuses.push(s.to_owned());
                }
            }
            _ => {}
        }
    }
    let Some(patient) = patient else {
        return Err(Outcome::invalid(
            "search EpisodeOfCare by patient; listing every contract is not offered",
            "请按 patient 查询",
        ));
    };
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let list = access::contracts_of(&state.store, &viewer, patient, None)
        .await
        .map_err(refused)?;
    let now = today(&state);
    let selected: Vec<&Contract> = list
        .iter()
        .filter(|c| statuses.is_empty() || statuses.iter().any(|s| s == status_on(c, now)))
        .collect();
    let total = selected.len() as i64;
    let resources: Vec<Value> = selected
        .into_iter()
        .skip(paging.offset as usize)
        .take(paging.count as usize)
        .map(|c| to_episode(c, now))
        .collect();
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::pages::org::urlencode(v)))
        .collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "EpisodeOfCare",
            &q.join("&"),
            &resources,
            total,
            &paging,
        ),
    ))
}
