//! CareTeam: a family-doctor team (家庭医生团队) with its members, read and searched.
//!
//! - `category` is LOINC LA28865-6 "Longitudinal care-coordination focused care team" (R4
//!   CareTeam.category, example binding), with 家庭医生团队 as text.
//! - `participant` lists the members: `member` is a `Practitioner/<user id>` reference (the
//!   staff account; Practitioner itself is not served yet) and `role` carries the team role
//!   (`urn:yiwei:fd-team-role`: lead, doctor, nurse, public_health, village_doctor,
//!   specialist) with its Chinese name as text.
//! - `managingOrganization` is the team's institution; `status` is `active` or `inactive`.
//! - `subject` is left out: a team serves many residents. The villages it serves have no
//!   element in R4 CareTeam and are not carried.
//!
//! A team is staff data, not personal data: reads need a signed-in user but no reach. A
//! search by `patient` (or `subject`) returns the teams that hold or held that resident's
//! contracts; it opens the resident's record, so it is checked and audited like Patient.
//! Without a patient, the search lists the teams of the user's area.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use yiwei_store::access::{self, Viewer};
use yiwei_store::contract::{self, Member, Team};

use super::encounter::{patient_id, refused};
use super::{Fhir, FhirUser, Outcome, bundle, parse_search};
use crate::AppState;

pub const ROLE_SYSTEM: &str = "urn:yiwei:fd-team-role";

/// The CareTeam JSON of a team and its members.
pub fn to_care_team(t: &Team, members: &[Member]) -> Value {
    let participants: Vec<Value> = members
        .iter()
        .map(|m| {
            json!({
                "role": [{
                    "coding": [{"system": ROLE_SYSTEM, "code": m.role.code(), "display": m.role.name_en()}],
                    "text": m.role.name_zh()
                }],
                "member": {"reference": format!("Practitioner/{}", m.user_id), "display": m.display_name}
            })
        })
        .collect();
    json!({
        "resourceType": "CareTeam",
        "id": t.id.to_string(),
        "status": if t.active { "active" } else { "inactive" },
        "category": [{
            "coding": [{
                "system": "http://loinc.org",
                "code": "LA28865-6",
                "display": "Longitudinal care-coordination focused care team"
            }],
            "text": "家庭医生团队"
        }],
        "name": t.name,
        "participant": participants,
        "managingOrganization": [{
            "reference": format!("Organization/{}", t.institution_id),
            "display": t.institution_name
        }],
    })
}

async fn with_members(state: &AppState, t: &Team) -> Result<Value, Outcome> {
    let members = contract::members(&state.store, t.id).await?;
    Ok(to_care_team(t, &members))
}

pub async fn read(
    State(state): State<AppState>,
    FhirUser(_user): FhirUser,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let id: i64 = id.parse().map_err(|_| Outcome::not_found("CareTeam"))?;
    let team = contract::get_team(&state.store, id)
        .await
        .map_err(|_| Outcome::not_found("CareTeam"))?;
    Ok(Fhir(StatusCode::OK, with_members(&state, &team).await?))
}

pub async fn search(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(raw.as_deref(), &["patient", "subject", "status", "_id"])?;
    let mut patient = None;
    let mut statuses: Vec<String> = Vec::new();
    let mut ids: Vec<i64> = Vec::new();
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
                    if !matches!(s, "active" | "inactive") {
                        return Err(Outcome::invalid(
                            format!("status {s:?}: teams are active or inactive"),
                            "status 须为 active 或 inactive",
                        ));
                    }
                    statuses.push(s.to_owned());
                }
            }
            "_id" => {
                for s in v.split(',') {
                    ids.push(s.parse().map_err(|_| {
                        Outcome::invalid(format!("_id {s:?} is not a number"), "_id 须为数字")
                    })?);
                }
            }
            _ => {}
        }
    }
    let teams = match patient {
        Some(patient) => {
            let viewer = Viewer {
                user: &user,
                remote_addr: remote.0,
            };
            access::care_teams_of(&state.store, &viewer, patient)
                .await
                .map_err(refused)?
        }
        None if !ids.is_empty() => {
            let mut found = Vec::new();
            for id in &ids {
                match contract::get_team(&state.store, *id).await {
                    Ok(t) => found.push(t),
                    Err(yiwei_store::StoreError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            found
        }
        None => {
            // Every team of the user's area, paged through (a county has a few hundred).
            let mut all = Vec::new();
            let mut offset = 0;
            loop {
                let (page, total) =
                    contract::list_teams(&state.store, &user.reach, Some(user.id), 500, offset)
                        .await?;
                offset += page.len() as i64;
                all.extend(page);
                if offset >= total {
                    break;
                }
            }
            all
        }
    };
    let selected: Vec<&Team> = teams
        .iter()
        .filter(|t| ids.is_empty() || ids.contains(&t.id))
        .filter(|t| statuses.is_empty() || statuses.iter().any(|s| (s == "active") == t.active))
        .collect();
    let total = selected.len() as i64;
    let mut resources = Vec::new();
    for t in selected
        .into_iter()
        .skip(paging.offset as usize)
        .take(paging.count as usize)
    {
        resources.push(with_members(&state, t).await?);
    }
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::pages::org::urlencode(v)))
        .collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "CareTeam",
            &q.join("&"),
            &resources,
            total,
            &paging,
        ),
    ))
}
