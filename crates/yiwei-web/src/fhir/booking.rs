//! Schedule, Slot and Appointment: bookings (预约挂号) in FHIR R4.
//!
//! - **Schedule** (<https://hl7.org/fhir/R4/schedule.html>): one schedule of an institution;
//!   `actor` is the Organization (and the Practitioner when it names a doctor),
//!   `serviceCategory` carries `urn:yiwei:service-kind` (outpatient, exam, vaccination), the
//!   sessions go in `comment`. Staff data: reads need a signed-in user, no reach.
//! - **Slot** (<https://hl7.org/fhir/R4/slot.html>): `status` is `free` while an ordinary
//!   seat is left, `busy` when full, `busy-unavailable` when closed (停诊); the seat counts
//!   are in the `urn:yiwei:slot-seats` extension. Search by `schedule`, `start` (FHIR date
//!   prefixes; dates without a zone are county time) and `status`; anything else is
//!   refused.
//! - **Appointment** (<https://hl7.org/fhir/R4/appointment.html>): a booking. Create
//!   (`POST /fhir/Appointment`) books: `slot[0]` and a `participant` whose `actor` is the
//!   Patient; the rules and concurrency guarantees are the page's. Update
//!   (`PUT /fhir/Appointment/<id>`) with `status: cancelled` cancels; other changes are
//!   refused. `status` maps booked → booked, attended → fulfilled, no-show → noshow,
//!   cancelled → cancelled. Reads and searches are personal data: checked and audited
//!   through `yiwei_store::access`; search needs `patient`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use yiwei_domain::booking::{BookingStatus, Session, SlotStatus};
use yiwei_store::access::{self, AccessError, Viewer};
use yiwei_store::booking::{self, Booking, BookingError, Schedule, Slot, SlotFilter};
use yiwei_store::encounter::TimelineFilter;

use super::encounter::{date_window, instant, patient_id};
use super::{Fhir, FhirUser, Outcome, bundle, parse_search};
use crate::AppState;
use crate::pages::booking::when;

pub const SERVICE_SYSTEM: &str = "urn:yiwei:service-kind";
pub const SEATS_URL: &str = "urn:yiwei:slot-seats";

/// A booking failure as an OperationOutcome: rule refusals are 409 (conflict with the
/// slot's or booking's state) or 422; access refusals 403.
pub(crate) fn booking_outcome(e: BookingError) -> Outcome {
    let (status, code) = match &e {
        BookingError::Refused(
            yiwei_domain::booking::BookingRefusal::SlotFull
            | yiwei_domain::booking::BookingRefusal::AlreadyBooked
            | yiwei_domain::booking::BookingRefusal::NotActive { .. },
        )
        | BookingError::Transition(_) => (StatusCode::CONFLICT, "conflict"),
        BookingError::Refused(_)
        | BookingError::Route(_)
        | BookingError::Schedule(_)
        | BookingError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "business-rule"),
        BookingError::Access(AccessError::Refused(_)) => (StatusCode::FORBIDDEN, "forbidden"),
        BookingError::Access(AccessError::Store(_)) | BookingError::Store(_) => {
            return match e {
                BookingError::Store(s) | BookingError::Access(AccessError::Store(s)) => s.into(),
                _ => Outcome::invalid("unexpected", "请求有误"),
            };
        }
        BookingError::Access(_) => (StatusCode::BAD_REQUEST, "invalid"),
    };
    let text = e.to_string();
    let (zh, en) = text.split_once(" / ").unwrap_or((&text, &text));
    Outcome {
        status,
        code,
        english: en.to_owned(),
        chinese: zh.to_owned(),
    }
}

pub fn to_schedule(s: &Schedule) -> Value {
    let mut actor = vec![json!({
        "reference": format!("Organization/{}", s.institution_id),
        "display": s.institution_name
    })];
    if let Some(doctor) = s.doctor_id {
        actor.push(json!({"reference": format!("Practitioner/{doctor}")}));
    }
    json!({
        "resourceType": "Schedule",
        "id": s.id.to_string(),
        "active": s.active,
        "serviceCategory": [{
            "coding": [{"system": SERVICE_SYSTEM, "code": s.service.as_str(), "display": s.service.name_en()}],
            "text": s.service.name_zh()
        }],
        "specialty": [{"text": s.department}],
        "actor": actor,
        "comment": format!(
            "{} · {}",
            s.name,
            s.rules.sessions.iter().map(Session::code).collect::<Vec<_>>().join("; ")
        ),
    })
}

fn slot_status(s: &Slot) -> &'static str {
    if s.status == SlotStatus::Closed {
        "busy-unavailable"
    } else if s.free() > 0 {
        "free"
    } else {
        "busy"
    }
}

pub fn to_slot(s: &Slot) -> Value {
    json!({
        "resourceType": "Slot",
        "id": s.id.to_string(),
        "schedule": {"reference": format!("Schedule/{}", s.schedule_id)},
        "status": slot_status(s),
        "start": instant(s.starts_at),
        "end": instant(s.ends_at),
        "overbooked": false,
        "extension": [{
            "url": SEATS_URL,
            "extension": [
                {"url": "capacity", "valueInteger": s.capacity},
                {"url": "booked", "valueInteger": s.booked},
                {"url": "greenReserved", "valueInteger": s.green_reserved}
            ]
        }]
    })
}

fn appointment_status(s: BookingStatus) -> &'static str {
    match s {
        BookingStatus::Booked => "booked",
        BookingStatus::Attended => "fulfilled",
        BookingStatus::NoShow => "noshow",
        BookingStatus::Cancelled => "cancelled",
    }
}

pub fn to_appointment(b: &Booking) -> Value {
    let mut v = json!({
        "resourceType": "Appointment",
        "id": b.id.to_string(),
        "meta": {"versionId": b.version.to_string()},
        "status": appointment_status(b.status),
        "start": instant(b.starts_at),
        "end": instant(b.ends_at),
        "created": instant(b.created_at),
        "slot": [{"reference": format!("Slot/{}", b.slot_id)}],
        "participant": [
            {"actor": {"reference": format!("Patient/{}", b.resident_id)}, "status": "accepted"},
            {"actor": {"reference": format!("Organization/{}", b.institution_id)}, "status": "accepted"}
        ],
    });
    if let Some(reason) = &b.cancel_reason {
        v["cancelationReason"] = json!({"text": reason});
    }
    v
}

fn viewer(user: &yiwei_store::user::User, remote: Option<String>) -> Viewer<'_> {
    Viewer {
        user,
        remote_addr: remote,
    }
}

fn query_string(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::pages::org::urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn id_of(text: &str, kind: &str) -> Result<i64, Outcome> {
    text.rsplit_once(&format!("{kind}/"))
        .map_or(text, |(_, id)| id)
        .parse()
        .map_err(|_| {
            Outcome::invalid(
                format!("expected {kind}/<id> or an id, got {text:?}"),
                format!("须为 {kind}/<编号>"),
            )
        })
}

pub async fn read_schedule(
    State(state): State<AppState>,
    FhirUser(_user): FhirUser,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let id: i64 = id.parse().map_err(|_| Outcome::not_found("Schedule"))?;
    let s = booking::schedule(&state.store, id).await?;
    Ok(Fhir(StatusCode::OK, to_schedule(&s)))
}

pub async fn search_schedule(
    State(state): State<AppState>,
    FhirUser(_user): FhirUser,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(raw.as_deref(), &["actor", "active"])?;
    let mut institution = None;
    let mut active = None;
    for (k, v) in &pairs {
        match k.as_str() {
            "actor" => institution = Some(id_of(v, "Organization")?),
            "active" => {
                active = Some(match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(Outcome::invalid(
                            "active is true or false",
                            "active 须为 true 或 false",
                        ));
                    }
                })
            }
            _ => {}
        }
    }
    let all = booking::schedules(&state.store, institution, 10_000, 0).await?;
    let selected: Vec<&Schedule> = all
        .iter()
        .filter(|s| active.is_none_or(|a| s.active == a))
        .collect();
    let total = selected.len() as i64;
    let resources: Vec<Value> = selected
        .into_iter()
        .skip(paging.offset as usize)
        .take(paging.count as usize)
        .map(to_schedule)
        .collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "Schedule",
            &query_string(&pairs),
            &resources,
            total,
            &paging,
        ),
    ))
}

pub async fn read_slot(
    State(state): State<AppState>,
    FhirUser(_user): FhirUser,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let id: i64 = id.parse().map_err(|_| Outcome::not_found("Slot"))?;
    let s = booking::slot(&state.store, id).await?;
    Ok(Fhir(StatusCode::OK, to_slot(&s)))
}

pub async fn search_slot(
    State(state): State<AppState>,
    FhirUser(_user): FhirUser,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(raw.as_deref(), &["schedule", "start", "status"])?;
    let mut f = SlotFilter::default();
    let mut starts = Vec::new();
    for (k, v) in &pairs {
        match k.as_str() {
            "schedule" => f.schedule_id = Some(id_of(v, "Schedule")?),
            "start" => starts.push(v.as_str()),
            "status" => {
                f.status = Some(
                    match v.as_str() {
                        "free" => "free",
                        "busy" => "busy",
                        "busy-unavailable" => "closed",
                        _ => {
                            return Err(Outcome::invalid(
                                format!("status {v:?}: use free, busy or busy-unavailable"),
                                "status 须为 free、busy 或 busy-unavailable",
                            ));
                        }
                    }
                    .to_owned(),
                )
            }
            _ => {}
        }
    }
    let window = date_window(
        &starts,
        state.config.utc_offset_hours,
        TimelineFilter::default(),
    )?;
    f.start_from = window.from;
    f.start_before = window.to;
    let (list, total) = booking::slots(&state.store, &f, paging.count, paging.offset).await?;
    let resources: Vec<Value> = list.iter().map(to_slot).collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "Slot",
            &query_string(&pairs),
            &resources,
            total,
            &paging,
        ),
    ))
}

pub async fn read_appointment(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let id: i64 = id.parse().map_err(|_| Outcome::not_found("Appointment"))?;
    let b = access::open_booking(&state.store, &viewer(&user, remote.0), id)
        .await
        .map_err(booking_outcome)?;
    Ok(Fhir(StatusCode::OK, to_appointment(&b)))
}

pub async fn search_appointment(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(raw.as_deref(), &["patient", "actor"])?;
    let mut patient = None;
    for (k, v) in &pairs {
        let id = patient_id(k, v)?;
        if patient.is_some_and(|p| p != id) {
            return Err(Outcome::invalid(
                "patient and actor name different Patients",
                "patient 与 actor 不一致",
            ));
        }
        patient = Some(id);
    }
    let Some(patient) = patient else {
        return Err(Outcome::invalid(
            "search Appointment by patient; listing every booking is not offered",
            "请按 patient 查询",
        ));
    };
    let (list, total) = access::bookings_of(
        &state.store,
        &viewer(&user, remote.0),
        patient,
        paging.count,
        paging.offset,
    )
    .await
    .map_err(booking_outcome)?;
    let resources: Vec<Value> = list.iter().map(to_appointment).collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "Appointment",
            &query_string(&pairs),
            &resources,
            total,
            &paging,
        ),
    ))
}

fn parse_body(body: &[u8]) -> Result<Value, Outcome> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| Outcome::invalid(format!("body is not JSON: {e}"), "请求体不是 JSON"))?;
    if v["resourceType"] != "Appointment" {
        return Err(Outcome::invalid(
            "resourceType must be Appointment",
            "resourceType 须为 Appointment",
        ));
    }
    Ok(v)
}

/// `POST /fhir/Appointment`: book the Patient into `slot[0]`.
pub async fn create_appointment(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    body: axum::body::Bytes,
) -> Result<Response, Outcome> {
    let v = parse_body(&body)?;
    let slot = v["slot"][0]["reference"]
        .as_str()
        .ok_or_else(|| Outcome::invalid("slot[0].reference is required", "须提供 slot"))
        .and_then(|s| id_of(s, "Slot"))?;
    let patient = v["participant"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["actor"]["reference"].as_str())
        .find(|r| r.starts_with("Patient/"))
        .ok_or_else(|| {
            Outcome::invalid(
                "a participant with actor Patient/<id> is required",
                "须提供 Patient 参与者",
            )
        })
        .and_then(|r| id_of(r, "Patient"))?;
    if let Some(status) = v["status"].as_str()
        && !matches!(status, "booked" | "proposed" | "pending")
    {
        return Err(Outcome::invalid(
            format!("a new Appointment is booked, not {status:?}"),
            "新预约的状态须为 booked",
        ));
    }
    let vw = viewer(&user, remote.0);
    let b = access::book_and_get(&state.store, &vw, patient, slot, when(&state))
        .await
        .map_err(booking_outcome)?;
    let id = b.id;
    let mut response = Fhir(StatusCode::CREATED, to_appointment(&b)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("{}/Appointment/{id}", state.fhir_base()))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `PUT /fhir/Appointment/<id>`: cancel (status `cancelled`); nothing else changes.
pub async fn update_appointment(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Fhir, Outcome> {
    let id: i64 = id.parse().map_err(|_| Outcome::not_found("Appointment"))?;
    let v = parse_body(&body)?;
    if v["id"].as_str().is_some_and(|i| i != id.to_string()) {
        return Err(Outcome::invalid(
            "the body's id differs from the URL",
            "请求体 id 与地址不一致",
        ));
    }
    let vw = viewer(&user, remote.0);
    match v["status"].as_str() {
        Some("cancelled") => {
            let reason = v["cancelationReason"]["text"].as_str().unwrap_or("");
            access::cancel_booking(&state.store, &vw, id, reason, when(&state))
                .await
                .map_err(booking_outcome)?;
        }
        other => {
            return Err(Outcome {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "business-rule",
                english: format!(
                    "an update may only cancel (status cancelled), got {other:?}; move a booking on the booking page"
                ),
                chinese: "更新只能取消预约（status 为 cancelled）".into(),
            });
        }
    }
    let b = access::open_booking(&state.store, &vw, id)
        .await
        .map_err(booking_outcome)?;
    Ok(Fhir(StatusCode::OK, to_appointment(&b)))
}
