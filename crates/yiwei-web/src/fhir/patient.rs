//! Patient: residents (居民), read/search/create/update through the access check.
//!
//! - Identifiers: the ID-card number (type `NI`, system `urn:yiwei:id-card`) and the 17-digit
//!   health-record number (type `MR`, system `urn:yiwei:health-record-no`).
//! - A read returns the full ID-card and phone numbers and is audited as `read` plus a
//!   `reveal` of each; search results carry the record number but leave the ID card and
//!   phone out, so a list never reveals identity numbers in bulk.
//! - Create goes through the master patient index: a record that is an existing resident
//!   is not created again; the answer is `200` with the existing Patient and the header
//!   `X-Yiwei-Empi: linked`, instead of `201`.
//! - Update needs `If-Match: W/"<versionId>"` (or `meta.versionId`) and fails with `409`
//!   when the record changed meanwhile.
//! - The village is `address[0].extension` `urn:yiwei:fhir:division` with a
//!   `valueReference` to `Location/<12-digit code>`; R4 has no element for it.
//! - Elements we do not store are refused with a 400 that names them (`deny_unknown_fields`),
//!   rather than silently dropped.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use yiwei_domain::division::DivisionCode;
use yiwei_domain::id_card::IdCardNumber;
use yiwei_store::access::{self, AccessError, Viewer};
use yiwei_store::crypto::Field;
use yiwei_store::empi::Outcome as EmpiOutcome;
use yiwei_store::resident::{Details, NewResident, Resident};

use super::{Fhir, FhirUser, Outcome, bundle, parse_search};
use crate::AppState;

pub const ID_CARD_SYSTEM: &str = "urn:yiwei:id-card";
pub const RECORD_NO_SYSTEM: &str = "urn:yiwei:health-record-no";
pub const DIVISION_EXTENSION: &str = "urn:yiwei:fhir:division";
const V2_0203: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";

pub(crate) fn refused(e: AccessError) -> Outcome {
    match e {
        AccessError::Refused(r) => Outcome {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            english: r.to_string(),
            chinese: "无权访问该居民档案".into(),
        },
        AccessError::Store(s) => s.into(),
        other => Outcome::invalid(other.to_string(), "请求有误"),
    }
}

fn gender(sex: &str) -> &'static str {
    match sex {
        "male" => "male",
        "female" => "female",
        _ => "unknown",
    }
}

/// The Patient JSON of a resident; `secrets` are the full ID card and phone when revealed.
pub fn to_patient(r: &Resident, secrets: Option<(Option<String>, Option<String>)>) -> Value {
    let mut identifier = Vec::new();
    if let Some((Some(id_card), _)) = &secrets {
        identifier.push(json!({
            "use": "official",
            "type": {"coding": [{"system": V2_0203, "code": "NI"}], "text": "居民身份证号"},
            "system": ID_CARD_SYSTEM, "value": id_card
        }));
    }
    if let Some(no) = &r.details.record_no {
        identifier.push(json!({
            "use": "usual",
            "type": {"coding": [{"system": V2_0203, "code": "MR"}], "text": "健康档案编号"},
            "system": RECORD_NO_SYSTEM, "value": no
        }));
    }
    let mut patient = json!({
        "resourceType": "Patient",
        "id": r.id.to_string(),
        "meta": {"versionId": r.version.to_string(), "lastUpdated": r.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)},
        "active": r.merged_into.is_none(),
        "name": [{"use": "official", "text": r.name}],
        "gender": gender(&r.sex),
        "address": [{
            "use": "home",
            "text": r.details.address,
            "district": r.division.gbt2260(),
            "country": "CN",
            "extension": [{"url": DIVISION_EXTENSION, "valueReference": {"reference": format!("Location/{}", r.division.as_str())}}]
        }],
    });
    if !identifier.is_empty() {
        patient["identifier"] = Value::Array(identifier);
    }
    if let Some(b) = r.birth_date {
        patient["birthDate"] = Value::from(b.to_string());
    }
    if let Some((_, Some(phone))) = &secrets {
        patient["telecom"] = json!([{"system": "phone", "value": phone, "use": "mobile"}]);
    }
    if let Some(into) = r.merged_into {
        patient["link"] =
            json!([{"other": {"reference": format!("Patient/{into}")}, "type": "replaced-by"}]);
    }
    patient
}

pub async fn read(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
) -> Result<Response, Outcome> {
    let id: i64 = id.parse().map_err(|_| Outcome::not_found("Patient"))?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let (r, _) = access::open_resident(&state.store, &viewer, id)
        .await
        .map_err(refused)?;
    let id_card = access::reveal(&state.store, &viewer, id, Field::IdCard)
        .await
        .map_err(refused)?;
    let phone = access::reveal(&state.store, &viewer, id, Field::Phone)
        .await
        .map_err(refused)?;
    Ok(with_etag(
        Fhir(StatusCode::OK, to_patient(&r, Some((id_card, phone)))).into_response(),
        r.version,
    ))
}

fn with_etag(mut response: Response, version: i64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("W/\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

pub async fn search(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(
        raw.as_deref(),
        &["_id", "identifier", "name", "telecom", "phone"],
    )?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let mut query = String::new();
    for (k, v) in &pairs {
        match k.as_str() {
            "_id" => {
                let id: i64 = v.parse().map_err(|_| {
                    Outcome::invalid(format!("_id {v:?} is not a Patient id"), "_id 有误")
                })?;
                let found = match access::open_resident(&state.store, &viewer, id).await {
                    Ok((r, _)) => vec![to_patient(&r, None)],
                    Err(AccessError::Store(yiwei_store::StoreError::NotFound(_))) => vec![],
                    Err(e) => return Err(refused(e)),
                };
                let total = found.len() as i64;
                return Ok(Fhir(
                    StatusCode::OK,
                    bundle(
                        &state.fhir_base(),
                        "Patient",
                        &format!("_id={id}"),
                        &found,
                        total,
                        &paging,
                    ),
                ));
            }
            "identifier" => {
                let (system, value) = v.split_once('|').unwrap_or(("", v.as_str()));
                if !system.is_empty() && system != ID_CARD_SYSTEM && system != RECORD_NO_SYSTEM {
                    return Err(Outcome::invalid(
                        format!("identifier system must be {ID_CARD_SYSTEM} or {RECORD_NO_SYSTEM}"),
                        "不支持的标识系统",
                    ));
                }
                query = value.to_owned();
            }
            "telecom" | "phone" => query = v.rsplit('|').next().unwrap_or_default().to_owned(),
            "name" => query = v.clone(),
            _ => {}
        }
    }
    if query.trim().is_empty() {
        return Err(Outcome::invalid(
            "search Patient by identifier, name, telecom or _id (listing every resident is not offered)",
            "请按证件号、姓名、电话或 _id 查询",
        ));
    }
    let (found, total) = access::search_residents(
        &state.store,
        &viewer,
        &user.reach,
        &query,
        paging.count,
        paging.offset,
    )
    .await
    .map_err(refused)?;
    let resources: Vec<Value> = found.iter().map(|r| to_patient(r, None)).collect();
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::pages::org::urlencode(v)))
        .collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "Patient",
            &q.join("&"),
            &resources,
            total,
            &paging,
        ),
    ))
}

/// The Patient elements we accept on create and update. Anything else is a 400.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PatientIn {
    resource_type: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    meta: Option<Value>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    identifier: Vec<IdentifierIn>,
    #[serde(default)]
    name: Vec<NameIn>,
    #[serde(default)]
    gender: Option<String>,
    #[serde(default)]
    birth_date: Option<String>,
    #[serde(default)]
    telecom: Vec<TelecomIn>,
    #[serde(default)]
    address: Vec<AddressIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentifierIn {
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default, rename = "type")]
    _type: Option<Value>,
    #[serde(default, rename = "use")]
    _use: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameIn {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    given: Vec<String>,
    #[serde(default, rename = "use")]
    _use: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TelecomIn {
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default, rename = "use")]
    _use: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddressIn {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    district: Option<String>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    extension: Vec<ExtensionIn>,
    #[serde(default, rename = "use")]
    _use: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExtensionIn {
    url: String,
    #[serde(default)]
    value_reference: Option<ReferenceIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferenceIn {
    reference: String,
}

/// Turn an incoming Patient into a record, with every problem named.
pub(crate) fn to_new(body: &[u8], today: NaiveDate) -> Result<(NewResident, Option<i64>), Outcome> {
    let p: PatientIn = serde_json::from_slice(body).map_err(|e| {
        Outcome::invalid(
            format!("not a Patient this server accepts: {e}. Accepted elements: resourceType, id, meta, active, identifier, name, gender, birthDate, telecom, address"),
            format!("Patient 内容有误：{e}"),
        )
    })?;
    let mut problems = Vec::new();
    if p.resource_type != "Patient" {
        problems.push(format!(
            "resourceType must be Patient, not {}",
            p.resource_type
        ));
    }
    let _ = (&p.id, p.active);
    let version = p
        .meta
        .as_ref()
        .and_then(|m| m.get("versionId"))
        .and_then(Value::as_str)
        .and_then(|v| v.parse().ok());
    let name = p
        .name
        .first()
        .and_then(|n| {
            n.text
                .clone()
                .or_else(|| n.family.clone().map(|f| format!("{f}{}", n.given.concat())))
        })
        .unwrap_or_default();
    if name.trim().is_empty() {
        problems.push("name[0].text (or family + given) is required".into());
    }
    let sex = match p.gender.as_deref() {
        Some("male") => "male",
        Some("female") => "female",
        Some("unknown") | Some("other") | None => "unknown",
        Some(g) => {
            problems.push(format!(
                "gender {g:?} is not male, female, other or unknown"
            ));
            "unknown"
        }
    };
    let birth_date = match p.birth_date.as_deref() {
        None => None,
        Some(b) => match NaiveDate::parse_from_str(b, "%Y-%m-%d") {
            Ok(d) if d > today => {
                problems.push(format!("birthDate {b} lies in the future"));
                None
            }
            Ok(d) => Some(d),
            Err(_) => {
                problems.push(format!("birthDate {b:?} is not a YYYY-MM-DD date"));
                None
            }
        },
    };
    let mut id_card = None;
    let mut record_no = None;
    for ident in &p.identifier {
        let value = ident.value.clone().unwrap_or_default();
        match ident.system.as_deref() {
            Some(ID_CARD_SYSTEM) => match IdCardNumber::parse(&value, today) {
                Ok(n) => {
                    if birth_date.is_some_and(|b| b != n.birth_date()) {
                        problems.push("birthDate does not match the birth date in the ID-card number".into());
                    }
                    id_card = Some(n.as_str().to_owned());
                }
                Err(e) => problems.push(format!("identifier {ID_CARD_SYSTEM}: {e}")),
            },
            Some(RECORD_NO_SYSTEM) => record_no = Some(value),
            other => problems.push(format!("identifier system {other:?} is not accepted; use {ID_CARD_SYSTEM} or {RECORD_NO_SYSTEM}")),
        }
    }
    let phone = p
        .telecom
        .iter()
        .find(|t| t.system.as_deref() == Some("phone"))
        .and_then(|t| t.value.clone());
    let address = p.address.first();
    let division = address
        .and_then(|a| a.extension.iter().find(|e| e.url == DIVISION_EXTENSION))
        .and_then(|e| e.value_reference.as_ref())
        .map(|r| r.reference.trim_start_matches("Location/").to_owned());
    let _ = address.map(|a| (&a.district, &a.country));
    let division = match division.as_deref().map(DivisionCode::parse) {
        Some(Ok(code)) => Some(code),
        Some(Err(e)) => {
            problems.push(format!("address[0] division: {e}"));
            None
        }
        None => {
            problems.push(format!("address[0].extension {DIVISION_EXTENSION} with valueReference Location/<village code> is required"));
            None
        }
    };
    if !problems.is_empty() {
        return Err(Outcome::invalid(
            problems.join("; "),
            format!("Patient 有 {} 处错误", problems.len()),
        ));
    }
    let new = NewResident {
        division: division.expect("checked above"),
        name: name.trim().to_owned(),
        sex: sex.to_owned(),
        birth_date,
        id_card,
        phone,
        contact_phone: None,
        details: Details {
            record_no,
            address: address.and_then(|a| a.text.clone()).unwrap_or_default(),
            ..Details::default()
        },
    };
    Ok((new, version))
}

pub(crate) fn today(state: &AppState) -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(i64::from(state.config.utc_offset_hours)))
        .date_naive()
}

pub async fn create(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    body: axum::body::Bytes,
) -> Result<Response, Outcome> {
    let (new, _) = to_new(&body, today(&state))?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let outcome = access::register_resident(&state.store, &viewer, &new)
        .await
        .map_err(refused)?;
    let (id, status, linked) = match outcome {
        EmpiOutcome::Created { id, .. } => (id, StatusCode::CREATED, false),
        EmpiOutcome::Linked { id, .. } => (id, StatusCode::OK, true),
    };
    let (r, _) = access::open_resident(&state.store, &viewer, id)
        .await
        .map_err(refused)?;
    let mut response = with_etag(
        Fhir(status, to_patient(&r, None)).into_response(),
        r.version,
    );
    if let Ok(location) = HeaderValue::from_str(&format!(
        "{}/Patient/{id}/_history/{}",
        state.fhir_base(),
        r.version
    )) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if linked {
        response
            .headers_mut()
            .insert("x-yiwei-empi", HeaderValue::from_static("linked"));
    }
    Ok(response)
}

pub async fn update(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Outcome> {
    let id: i64 = id.parse().map_err(|_| Outcome::not_found("Patient"))?;
    let (new, body_version) = to_new(&body, today(&state))?;
    let header_version = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_start_matches("W/").trim_matches('"').to_owned())
        .and_then(|v| v.parse::<i64>().ok());
    let version = header_version.or(body_version).ok_or_else(|| {
        Outcome::invalid(
            "send If-Match: W/\"<versionId>\" (or meta.versionId) to update",
            "更新须提供版本号 (If-Match)",
        )
    })?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    match access::update_resident(&state.store, &viewer, id, version, &new).await {
        Ok(_) => {}
        Err(AccessError::Store(yiwei_store::StoreError::Conflict { constraint }))
            if constraint.starts_with("version") =>
        {
            return Err(Outcome {
                status: StatusCode::CONFLICT,
                code: "conflict",
                english: constraint,
                chinese: "档案已被他人修改，请刷新后重试".into(),
            });
        }
        Err(e) => return Err(refused(e)),
    }
    let (r, _) = access::open_resident(&state.store, &viewer, id)
        .await
        .map_err(refused)?;
    Ok(with_etag(
        Fhir(StatusCode::OK, to_patient(&r, None)).into_response(),
        r.version,
    ))
}
