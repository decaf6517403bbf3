//! ServiceRequest and Task: two-way referral (双向转诊) in FHIR R4, read and searched.
//!
//! - **ServiceRequest** (<https://hl7.org/fhir/R4/servicerequest.html>): the referral.
//!   `intent` is `order`, `category` SNOMED CT 3457005 "Patient referral", `code` carries
//!   the direction (`urn:yiwei:referral-direction`: up, down), `priority` the urgency
//!   (routine, urgent, stat), `reasonCode` the reason (`urn:yiwei:referral-reason`),
//!   `note` the clinical summary, `requester` and `performer` the two Organizations,
//!   `status` active / completed / revoked.
//! - **Task** (<https://hl7.org/fhir/R4/task.html>): the receiving end's work item for the
//!   referral, `focus` the ServiceRequest, `owner` the receiving Organization, `status`
//!   requested / accepted / in-progress / completed / rejected / cancelled / failed, and
//!   `restriction.period.end` the time by which it should be answered.
//!
//! Both are personal data: reads are checked and audited through `yiwei_store::access`
//! (the open referral is itself a tie for both ends). ServiceRequest search needs
//! `patient`; Task search needs `owner` (the user's own institution: the incoming queue).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use yiwei_store::access::{self, Viewer};
use yiwei_store::referral::Referral;

use super::booking::booking_outcome;
use super::encounter::{instant, patient_id};
use super::{Fhir, FhirUser, Outcome, bundle, parse_search};
use crate::AppState;

pub fn to_service_request(r: &Referral) -> Value {
    json!({
        "resourceType": "ServiceRequest",
        "id": r.id.to_string(),
        "meta": {"versionId": r.version.to_string()},
        "status": r.state.fhir_request_status(),
        "intent": "order",
        "category": [{
            "coding": [{"system": "http://snomed.info/sct", "code": "3457005", "display": "Patient referral"}],
            "text": "双向转诊"
        }],
        "priority": r.urgency.fhir(),
        "code": {
            "coding": [{"system": "urn:yiwei:referral-direction", "code": r.direction.as_str(), "display": r.direction.name_en()}],
            "text": r.direction.name_zh()
        },
        "subject": {"reference": format!("Patient/{}", r.resident_id)},
        "authoredOn": instant(r.requested_at),
        "requester": {"reference": format!("Organization/{}", r.from_institution_id), "display": r.from_name},
        "performer": [{"reference": format!("Organization/{}", r.to_institution_id), "display": r.to_name}],
        "reasonCode": [{
            "coding": [{"system": "urn:yiwei:referral-reason", "code": r.reason.as_str(), "display": r.reason.name_en()}],
            "text": r.reason.name_zh()
        }],
        "note": [{"text": r.summary}],
        "extension": [{"url": "urn:yiwei:green-channel", "valueBoolean": r.green_channel}],
    })
}

/// Referral work items share `/fhir/Task` with the programme work list (`task.rs`); their
/// ids carry this prefix, which no programme Task id (`<resident id>.…`) starts with.
pub const TASK_PREFIX: &str = "referral-";

/// `GET /fhir/Task/<id>`: a referral work item (`referral-<n>`) or a programme work-list
/// row (anything else).
pub async fn read_tasks(
    state: State<AppState>,
    user: FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    match id.strip_prefix(TASK_PREFIX) {
        Some(n) => read_task(state, user, remote, Path(n.to_owned())).await,
        None => super::task::read(state, user, remote, Path(id)).await,
    }
}

/// `GET /fhir/Task?…`: with `owner`, the referral queue of the user's institution;
/// otherwise the programme work list.
pub async fn search_tasks(
    state: State<AppState>,
    user: FhirUser,
    remote: super::Remote,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let has_owner = raw
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .any(|p| p.split('=').next() == Some("owner"));
    if has_owner {
        search_task(state, user, remote, RawQuery(raw)).await
    } else {
        super::task::search(state, user, remote, RawQuery(raw)).await
    }
}

pub fn to_task(r: &Referral) -> Value {
    let mut v = json!({
        "resourceType": "Task",
        "id": format!("{TASK_PREFIX}{}", r.id),
        "status": r.state.fhir_task_status(),
        "intent": "order",
        "priority": r.urgency.fhir(),
        "code": {"text": "处理转诊 / handle the referral"},
        "focus": {"reference": format!("ServiceRequest/{}", r.id)},
        "for": {"reference": format!("Patient/{}", r.resident_id)},
        "authoredOn": instant(r.requested_at),
        "requester": {"reference": format!("Organization/{}", r.from_institution_id)},
        "owner": {"reference": format!("Organization/{}", r.to_institution_id), "display": r.to_name},
        "restriction": {"period": {"end": instant(r.respond_by)}},
    });
    if let Some(reason) = &r.decline_reason {
        v["statusReason"] = json!({"text": reason});
    }
    v
}

fn refused(e: yiwei_store::booking::BookingError) -> Outcome {
    booking_outcome(e)
}

async fn open(
    state: &AppState,
    user: &yiwei_store::user::User,
    remote: Option<String>,
    id: &str,
    what: &str,
) -> Result<Referral, Outcome> {
    let id: i64 = id.parse().map_err(|_| Outcome::not_found(what))?;
    let viewer = Viewer {
        user,
        remote_addr: remote,
    };
    Ok(access::open_referral(&state.store, &viewer, id)
        .await
        .map_err(refused)?
        .0)
}

pub async fn read_service_request(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let r = open(&state, &user, remote.0, &id, "ServiceRequest").await?;
    Ok(Fhir(StatusCode::OK, to_service_request(&r)))
}

pub async fn read_task(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let r = open(&state, &user, remote.0, &id, "Task").await?;
    Ok(Fhir(StatusCode::OK, to_task(&r)))
}

fn query_string(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::pages::org::urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub async fn search_service_request(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(raw.as_deref(), &["patient", "subject", "status"])?;
    let mut patient = None;
    let mut statuses = Vec::new();
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
                    if !matches!(s, "active" | "completed" | "revoked") {
                        return Err(Outcome::invalid(
                            format!("status {s:?}: use active, completed or revoked"),
                            "status 须为 active、completed 或 revoked",
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
            "search ServiceRequest by patient; the queues are Task?owner=Organization/<id>",
            "请按 patient 查询",
        ));
    };
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let (list, _) = access::referrals_of(&state.store, &viewer, patient, 1000, 0)
        .await
        .map_err(refused)?;
    let selected: Vec<&Referral> = list
        .iter()
        .filter(|r| {
            statuses.is_empty() || statuses.iter().any(|s| s == r.state.fhir_request_status())
        })
        .collect();
    let total = selected.len() as i64;
    let resources: Vec<Value> = selected
        .into_iter()
        .skip(paging.offset as usize)
        .take(paging.count as usize)
        .map(to_service_request)
        .collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "ServiceRequest",
            &query_string(&pairs),
            &resources,
            total,
            &paging,
        ),
    ))
}

pub async fn search_task(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(raw.as_deref(), &["owner", "status"])?;
    let mut owner = None;
    let mut open_only = false;
    for (k, v) in &pairs {
        match k.as_str() {
            "owner" => {
                owner = Some(
                    v.rsplit_once("Organization/")
                        .map_or(v.as_str(), |(_, id)| id)
                        .parse::<i64>()
                        .map_err(|_| {
                            Outcome::invalid(
                                "owner must be Organization/<id>",
                                "owner 须为 Organization/<编号>",
                            )
                        })?,
                )
            }
            "status" => match v.as_str() {
                "requested,accepted,in-progress" | "open" => open_only = true,
                _ => {
                    return Err(Outcome::invalid(
                        "status supports only requested,accepted,in-progress (the open queue)",
                        "status 仅支持 requested,accepted,in-progress",
                    ));
                }
            },
            _ => {}
        }
    }
    if owner.is_none() || owner != user.institution_id {
        return Err(Outcome {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            english:
                "search Task by owner=Organization/<your institution>: the incoming referral queue"
                    .into(),
            chinese: "仅可查询本机构的转诊任务".into(),
        });
    }
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let (list, total) = access::referral_queue(
        &state.store,
        &viewer,
        true,
        open_only,
        paging.count,
        paging.offset,
    )
    .await
    .map_err(refused)?;
    let resources: Vec<Value> = list.iter().map(to_task).collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "Task",
            &query_string(&pairs),
            &resources,
            total,
            &paging,
        ),
    ))
}
