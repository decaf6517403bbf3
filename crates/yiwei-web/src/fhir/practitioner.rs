//! Practitioner and PractitionerRole: the staff directory (医务人员), so that the
//! `Practitioner/<user id>` references of Condition, CareTeam, EpisodeOfCare and Schedule
//! resolve.
//!
//! A staff account is one Practitioner (its display name, its username as an identifier)
//! and one PractitionerRole with the same id (its platform role in `urn:yiwei:role`, its
//! institution, its area as a Location). Residents' own accounts are not practitioners:
//! reading one is a 404. Staff phones are never served. Any signed-in user or API client
//! may read the directory; it holds no resident's data.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use yiwei_domain::access::Role;
use yiwei_store::user::{self, StaffFilter, User};

use super::location::division_id;
use super::{Fhir, Outcome, bundle, parse_search};
use crate::AppState;

pub const ROLE_SYSTEM: &str = "urn:yiwei:role";
pub const USERNAME_SYSTEM: &str = "urn:yiwei:username";

pub const PRACTITIONER_PARAMS: &[&str] = &["_id", "name", "identifier", "active"];
pub const ROLE_PARAMS: &[&str] = &["_id", "practitioner", "organization", "role", "active"];

fn role_en(role: Role) -> &'static str {
    match role {
        Role::CountyAdmin => "County administrator",
        Role::Analyst => "Health-bureau analyst",
        Role::CdcStaff => "CDC staff",
        Role::Clinician => "Clinician",
        Role::VillageDoctor => "Village doctor",
        Role::TeamMember => "Family-doctor team member",
        Role::Radiologist => "Imaging technician / radiologist",
        Role::Resident => "Resident",
    }
}

fn role_zh(role: Role) -> &'static str {
    match role {
        Role::CountyAdmin => "县级系统管理员",
        Role::Analyst => "卫健局统计分析人员",
        Role::CdcStaff => "疾控中心人员",
        Role::Clinician => "临床医生",
        Role::VillageDoctor => "乡村医生",
        Role::TeamMember => "家庭医生团队成员",
        Role::Radiologist => "影像技师/放射科医生",
        Role::Resident => "居民",
    }
}

/// The Practitioner JSON of a staff account.
pub fn to_practitioner(u: &User) -> Value {
    json!({
        "resourceType": "Practitioner",
        "id": u.id.to_string(),
        "identifier": [{"system": USERNAME_SYSTEM, "value": u.username}],
        "active": !u.disabled,
        "name": [{"text": u.display_name}],
    })
}

/// The PractitionerRole JSON of a staff account (same id as its Practitioner).
pub fn to_role(u: &User) -> Value {
    let mut o = json!({
        "resourceType": "PractitionerRole",
        "id": u.id.to_string(),
        "active": !u.disabled,
        "practitioner": {"reference": format!("Practitioner/{}", u.id), "display": u.display_name},
        "code": [{
            "coding": [{"system": ROLE_SYSTEM, "code": u.role.as_str(), "display": role_en(u.role)}],
            "text": role_zh(u.role)
        }],
        "location": [{"reference": format!("Location/{}", division_id(&u.reach))}],
    });
    if let Some(i) = u.institution_id {
        o["organization"] = json!({"reference": format!("Organization/{i}")});
    }
    o
}

/// A staff account by id; residents' accounts and unknown ids are not found.
async fn staff_member(state: &AppState, id: &str, what: &'static str) -> Result<User, Outcome> {
    let n: i64 = id.parse().map_err(|_| Outcome::not_found(what))?;
    match user::get(&state.store, n).await {
        Ok(u) if u.role != Role::Resident => Ok(u),
        _ => Err(Outcome::not_found(what)),
    }
}

pub async fn read_practitioner(
    State(state): State<AppState>,
    _user: super::FhirUser,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let u = staff_member(&state, &id, "Practitioner").await?;
    Ok(Fhir(StatusCode::OK, to_practitioner(&u)))
}

pub async fn read_role(
    State(state): State<AppState>,
    _user: super::FhirUser,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let u = staff_member(&state, &id, "PractitionerRole").await?;
    Ok(Fhir(StatusCode::OK, to_role(&u)))
}

fn bad(param: &str, value: &str) -> Outcome {
    Outcome::invalid(
        format!("{param} {value:?} is not valid here"),
        format!("参数 {param} 的值 {value} 无效"),
    )
}

fn reference_id(value: &str, prefix: &str, param: &str) -> Result<i64, Outcome> {
    value
        .trim_start_matches(prefix)
        .parse()
        .map_err(|_| bad(param, value))
}

/// Search the directory for either resource: the filters, an optional single id, and an
/// `active` flag.
async fn find(
    state: &AppState,
    pairs: &[(String, String)],
    paging: &super::Paging,
) -> Result<(Vec<User>, i64), Outcome> {
    let mut filter = StaffFilter::default();
    let mut only: Option<i64> = None;
    let mut username: Option<String> = None;
    let mut active: Option<bool> = None;
    for (k, v) in pairs {
        match k.as_str() {
            "_id" | "practitioner" => {
                only = Some(reference_id(v, "Practitioner/", k)?);
            }
            "name" => filter.name = Some(v.clone()),
            "identifier" => username = Some(v.rsplit('|').next().unwrap_or_default().to_owned()),
            "organization" => {
                filter.institution_id = Some(reference_id(v, "Organization/", k)?);
            }
            "role" => {
                let code = v.rsplit('|').next().unwrap_or_default();
                let role = Role::parse(code).filter(|r| *r != Role::Resident);
                filter.role = Some(role.ok_or_else(|| bad(k, v))?);
            }
            "active" => {
                active = Some(match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad(k, v)),
                })
            }
            _ => {}
        }
    }
    let keep = |u: &User| {
        u.role != Role::Resident
            && active.is_none_or(|a| a != u.disabled)
            && filter
                .institution_id
                .is_none_or(|i| u.institution_id == Some(i))
            && filter.role.is_none_or(|r| u.role == r)
    };
    if only.is_some() || username.is_some() {
        let hit = match (only, &username) {
            (Some(id), _) => user::get(&state.store, id).await.ok(),
            (None, Some(name)) => user::by_username(&state.store, name).await.ok(),
            _ => None,
        };
        let hits: Vec<User> = hit.into_iter().filter(keep).collect();
        let n = hits.len() as i64;
        return Ok((hits, n));
    }
    if active.is_some() {
        // Few staff per county: filter the directory in memory for `active`.
        let (all, _) = user::staff(&state.store, &filter, i64::MAX, 0).await?;
        let hits: Vec<User> = all.into_iter().filter(keep).collect();
        let n = hits.len() as i64;
        let page = hits
            .into_iter()
            .skip(paging.offset as usize)
            .take(paging.count as usize)
            .collect();
        return Ok((page, n));
    }
    Ok(user::staff(&state.store, &filter, paging.count, paging.offset).await?)
}

fn query_of(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::pages::org::urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub async fn search_practitioners(
    State(state): State<AppState>,
    _user: super::FhirUser,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(raw.as_deref(), PRACTITIONER_PARAMS)?;
    let (found, total) = find(&state, &pairs, &paging).await?;
    let resources: Vec<Value> = found.iter().map(to_practitioner).collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "Practitioner",
            &query_of(&pairs),
            &resources,
            total,
            &paging,
        ),
    ))
}

pub async fn search_roles(
    State(state): State<AppState>,
    _user: super::FhirUser,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(raw.as_deref(), ROLE_PARAMS)?;
    let (found, total) = find(&state, &pairs, &paging).await?;
    let resources: Vec<Value> = found.iter().map(to_role).collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "PractitionerRole",
            &query_of(&pairs),
            &resources,
            total,
            &paging,
        ),
    ))
}
