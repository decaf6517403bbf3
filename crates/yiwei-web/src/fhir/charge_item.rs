//! ChargeItem: the medical charges per visit that institutions send for the cost alerts
//! (防返贫监测预警, docs/cost_alerts.md).
//!
//! **Why ChargeItem.** R4 ChargeItem is "the provision of healthcare provider products
//! for a patient" with the performing organization, the date and a price; Claim would
//! model a request for payment to an insurer, which is not what a county hospital sends
//! here. The three amounts of a Chinese bill (总费用, 医保支付, 个人自付, and 政策范围内自付
//! when known) are: `priceOverride` the total (CNY), and three `valueMoney` extensions
//! (`urn:yiwei:fhir:StructureDefinition:charge-insurance-paid`, `…charge-out-of-pocket`,
//! `…charge-policy-out-of-pocket`). Amounts are decimal yuan with at most two decimals.
//!
//! - `identifier`: the institution's visit number, system `urn:yiwei:visit-id` (unique
//!   per institution: posting the same visit again updates it, it never adds a second).
//! - `performingOrganization`: `Organization/<id>` or an identifier in
//!   `urn:yiwei:institution-code`; default the user's institution.
//! - `subject`: `Patient/<id>`, or an identifier in `urn:yiwei:id-card` (matched through
//!   the master index; an unknown person waits in the unmatched queue, never dropped) with
//!   the name in `display`.
//! - `occurrenceDateTime`: the visit date (YYYY-MM-DD, county time).
//! - `code`: the visit kind in `urn:yiwei:visit-kind` (outpatient, inpatient, other).
//!
//! Create answers 201 with the stored ChargeItem (200 when the visit was already on file);
//! bad input is a 400 OperationOutcome with one issue per field. A `transaction` or `batch`
//! Bundle of `POST ChargeItem` entries at `POST /fhir` is checked whole and stored in ONE
//! database transaction ([`process_bundle`]). Search needs `patient` (an audited read of
//! the record) and takes `date`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use yiwei_domain::cost_alert::{
    Charge, ChargeInput, VisitKind, earliest_visit_date, format_yuan, parse_yuan,
};
use yiwei_store::access::Viewer;
use yiwei_store::access::cost_alert as gate;
use yiwei_store::cost_alert::{NewCharge, Patient, StoredCharge, Submitted};

use super::patient::{ID_CARD_SYSTEM, refused, today};
use super::{Fhir, FhirUser, Outcome, bundle, parse_search};
use crate::AppState;

pub const VISIT_SYSTEM: &str = "urn:yiwei:visit-id";
pub const KIND_SYSTEM: &str = "urn:yiwei:visit-kind";
const EXT: &str = "urn:yiwei:fhir:StructureDefinition:charge-";
pub const SEARCH_PARAMS: &[&str] = &["patient", "subject", "date"];

fn money(fen: i64) -> Value {
    let text = format_yuan(fen).replace(',', "");
    let number: serde_json::Number = text.parse().unwrap_or_else(|_| 0.into());
    json!({"value": number, "currency": "CNY"})
}

/// The ChargeItem JSON of a stored charge.
pub fn to_charge_item(c: &StoredCharge) -> Value {
    let mut extension = vec![
        json!({"url": format!("{EXT}insurance-paid"), "valueMoney": money(c.insurance_paid_fen)}),
        json!({"url": format!("{EXT}out-of-pocket"), "valueMoney": money(c.out_of_pocket_fen)}),
    ];
    if let Some(p) = c.policy_oop_fen {
        extension
            .push(json!({"url": format!("{EXT}policy-out-of-pocket"), "valueMoney": money(p)}));
    }
    let subject = match c.resident_id {
        Some(id) => json!({"reference": format!("Patient/{id}")}),
        None => json!({"display": "未匹配 unmatched (waiting in the unmatched-charges queue)"}),
    };
    json!({
        "resourceType": "ChargeItem",
        "id": c.id.to_string(),
        "identifier": [{"system": VISIT_SYSTEM, "value": c.external_visit_id}],
        "status": "billable",
        "code": {"coding": [{"system": KIND_SYSTEM, "code": c.kind}]},
        "subject": subject,
        "occurrenceDateTime": c.visit_date.to_string(),
        "performingOrganization": {"reference": format!("Organization/{}", c.institution_id), "display": c.institution_name},
        "priceOverride": money(c.total_fen),
        "enteredDate": c.received_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "extension": extension,
    })
}

/// Read an amount in yuan (a JSON number or a Money); negative amounts come back negative
/// so that the domain check names them.
fn amount(v: Option<&Value>, what: &str, problems: &mut Vec<String>) -> Option<i64> {
    let v = v?;
    let n = v.get("value").unwrap_or(v);
    if let Some(c) = v.get("currency").and_then(Value::as_str)
        && c != "CNY"
    {
        problems.push(format!("{what}: currency must be CNY"));
        return None;
    }
    let text = match n {
        Value::Number(x) => x.to_string(),
        _ => {
            problems.push(format!("{what}: not a number"));
            return None;
        }
    };
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    match parse_yuan(digits) {
        Some(f) => Some(if negative { -f } else { f }),
        None => {
            problems.push(format!(
                "{what}: {text} is not an amount in yuan with at most two decimals"
            ));
            None
        }
    }
}

fn extension<'a>(resource: &'a Value, name: &str) -> Option<&'a Value> {
    resource
        .get("extension")?
        .as_array()?
        .iter()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(&format!("{EXT}{name}")))?
        .get("valueMoney")
}

/// Turn a posted ChargeItem into a charge to store, or every problem with it.
pub async fn to_new(
    state: &AppState,
    user: &yiwei_store::user::User,
    resource: &Value,
) -> Result<NewCharge, Outcome> {
    if resource.get("resourceType").and_then(Value::as_str) != Some("ChargeItem") {
        return Err(Outcome::invalid(
            "the body must be a ChargeItem",
            "须提交 ChargeItem",
        ));
    }
    let mut problems: Vec<String> = Vec::new();
    let visit_id = resource
        .get("identifier")
        .and_then(Value::as_array)
        .and_then(|ids| {
            ids.iter()
                .find(|i| i.get("system").and_then(Value::as_str) == Some(VISIT_SYSTEM))
        })
        .and_then(|i| i.get("value"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.chars().count() <= 64);
    if visit_id.is_none() {
        problems.push(format!(
            "identifier: give the institution's visit number with system {VISIT_SYSTEM} (1-64 characters)"
        ));
    }
    let date = resource
        .get("occurrenceDateTime")
        .and_then(Value::as_str)
        .and_then(|d| chrono::NaiveDate::parse_from_str(d.get(..10).unwrap_or(d), "%Y-%m-%d").ok());
    if date.is_none() {
        problems.push("occurrenceDateTime: give the visit date as YYYY-MM-DD".into());
    }
    let kind = match resource
        .get("code")
        .and_then(|c| c.get("coding"))
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .find(|c| c.get("system").and_then(Value::as_str) == Some(KIND_SYSTEM))
        })
        .and_then(|c| c.get("code"))
        .and_then(Value::as_str)
    {
        None => Some(VisitKind::Outpatient),
        Some(code) => VisitKind::parse(code).or_else(|| {
            problems.push(format!(
                "code: {code:?} is not outpatient, inpatient or other"
            ));
            None
        }),
    };
    let total = amount(
        resource.get("priceOverride"),
        "priceOverride",
        &mut problems,
    );
    if resource.get("priceOverride").is_none() {
        problems.push("priceOverride: the total cost (总费用) is required".into());
    }
    let paid = amount(
        extension(resource, "insurance-paid"),
        "insurance-paid",
        &mut problems,
    );
    let oop = amount(
        extension(resource, "out-of-pocket"),
        "out-of-pocket",
        &mut problems,
    );
    if extension(resource, "insurance-paid").is_none()
        || extension(resource, "out-of-pocket").is_none()
    {
        problems.push(format!(
            "extension: {EXT}insurance-paid and {EXT}out-of-pocket are required"
        ));
    }
    let policy = amount(
        extension(resource, "policy-out-of-pocket"),
        "policy-out-of-pocket",
        &mut problems,
    );
    // The performing organization: a reference, an identifier, or the user's own.
    let org = resource.get("performingOrganization");
    let institution = match org {
        None => user.institution_id,
        Some(o) => {
            if let Some(r) = o.get("reference").and_then(Value::as_str) {
                r.strip_prefix("Organization/")
                    .and_then(|id| id.parse::<i64>().ok())
            } else if let Some(code) = o
                .get("identifier")
                .and_then(|i| i.get("value"))
                .and_then(Value::as_str)
            {
                yiwei_store::org::by_code(&state.store, code)
                    .await
                    .ok()
                    .map(|i| i.id)
            } else {
                None
            }
        }
    };
    let institution = match institution {
        Some(id) => match yiwei_store::org::get(&state.store, id).await {
            Ok(i) => Some(i.id),
            Err(_) => None,
        },
        None => None,
    };
    if institution.is_none() {
        problems.push("performingOrganization: unknown institution (Organization/<id> or urn:yiwei:institution-code)".into());
    }
    let subject = resource.get("subject");
    let mut patient = Patient::default();
    match subject {
        Some(s) if s.get("reference").is_some() => {
            let r = s
                .get("reference")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match r
                .strip_prefix("Patient/")
                .and_then(|id| id.parse::<i64>().ok())
            {
                Some(id) => patient.resident_id = Some(id),
                None => problems.push("subject.reference must be Patient/<id>".into()),
            }
        }
        Some(s) => {
            let system = s.pointer("/identifier/system").and_then(Value::as_str);
            let value = s.pointer("/identifier/value").and_then(Value::as_str);
            match (system, value) {
                (Some(ID_CARD_SYSTEM), Some(v)) => {
                    match yiwei_domain::id_card::IdCardNumber::parse(v, today(state)) {
                        Ok(n) => patient.id_card = Some(n.as_str().to_owned()),
                        Err(e) => problems.push(format!("subject.identifier: {e}")),
                    }
                }
                _ => problems.push(format!(
                    "subject: give Patient/<id> or an identifier with system {ID_CARD_SYSTEM}"
                )),
            }
            patient.name = s
                .get("display")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .chars()
                .take(50)
                .collect();
        }
        None => problems.push("subject is required".into()),
    }
    if !problems.is_empty() {
        return Err(Outcome::invalid(problems.join("; "), "费用数据有误"));
    }
    let (
        Some(visit_id),
        Some(visit_date),
        Some(kind),
        Some(total),
        Some(paid),
        Some(oop),
        Some(institution),
    ) = (visit_id, date, kind, total, paid, oop, institution)
    else {
        return Err(Outcome::invalid("incomplete ChargeItem", "费用数据不完整"));
    };
    let charge = Charge::parse(
        ChargeInput {
            visit_date,
            kind,
            total_fen: total,
            insurance_paid_fen: paid,
            out_of_pocket_fen: oop,
            policy_out_of_pocket_fen: policy,
        },
        today(state),
    )
    .map_err(|errs| {
        let zh: Vec<String> = errs.iter().map(ToString::to_string).collect();
        Outcome::invalid(zh.join("; "), "费用数据有误")
    })?;
    Ok(NewCharge {
        institution_id: institution,
        external_visit_id: visit_id.to_owned(),
        charge,
        patient,
        source: "fhir",
    })
}

async fn stored(state: &AppState, viewer: &Viewer<'_>, s: &Submitted) -> Result<Value, Outcome> {
    let c = gate::open_charge(&state.store, viewer, s.charge_id)
        .await
        .map_err(refused)?;
    Ok(to_charge_item(&c))
}

pub async fn create(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    body: axum::body::Bytes,
) -> Result<Response, Outcome> {
    let resource: Value = serde_json::from_slice(&body)
        .map_err(|e| Outcome::invalid(format!("the body is not JSON: {e}"), "请求体不是 JSON"))?;
    let new = to_new(&state, &user, &resource).await?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let out = gate::submit_charges(&state.store, &viewer, &[new], "fhir")
        .await
        .map_err(refused)?;
    let s = out[0];
    let body = stored(&state, &viewer, &s).await?;
    let status = if s.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = Fhir(status, body).into_response();
    if let Ok(location) =
        HeaderValue::from_str(&format!("{}/ChargeItem/{}", state.fhir_base(), s.charge_id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub async fn read(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let id: i64 = id.parse().map_err(|_| Outcome::not_found("ChargeItem"))?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let c = gate::open_charge(&state.store, &viewer, id)
        .await
        .map_err(refused)?;
    Ok(Fhir(StatusCode::OK, to_charge_item(&c)))
}

pub async fn search(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(raw.as_deref(), SEARCH_PARAMS)?;
    let mut patient = None;
    let mut dates: Vec<&str> = Vec::new();
    for (k, v) in &pairs {
        match k.as_str() {
            "patient" | "subject" => {
                patient = Some(
                    v.trim_start_matches("Patient/")
                        .parse::<i64>()
                        .map_err(|_| {
                            Outcome::invalid("patient must be Patient/<id>", "patient 参数有误")
                        })?,
                )
            }
            _ => dates.push(v),
        }
    }
    let Some(patient) = patient else {
        return Err(Outcome::invalid(
            "search needs patient=Patient/<id>",
            "须指定 patient",
        ));
    };
    let (from, to) = super::immunization::date_window(&dates)?;
    let from = from.unwrap_or_else(earliest_visit_date);
    // date_window's upper bound is exclusive.
    let to = to
        .and_then(|t| t.pred_opt())
        .unwrap_or_else(|| today(&state));
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let all = gate::charges_of(&state.store, &viewer, patient, from, to)
        .await
        .map_err(refused)?;
    let total = all.len() as i64;
    let page: Vec<Value> = all
        .iter()
        .skip(paging.offset as usize)
        .take(paging.count as usize)
        .map(to_charge_item)
        .collect();
    let query: String = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "ChargeItem",
            &query,
            &page,
            total,
            &paging,
        ),
    ))
}

/// A `batch` or `transaction` Bundle whose entries are all `POST ChargeItem`: every entry
/// checked first; a transaction with any bad entry writes nothing; the good entries are
/// stored in one database transaction.
pub async fn process_bundle(
    state: &AppState,
    viewer: &Viewer<'_>,
    kind: &str,
    entries: &[Value],
) -> Result<Fhir, Outcome> {
    let mut checked: Vec<Result<NewCharge, Outcome>> = Vec::with_capacity(entries.len());
    for e in entries {
        let r = match e.get("resource") {
            Some(r) => to_new(state, viewer.user, r).await,
            None => Err(Outcome::invalid(
                "entry.resource is required",
                "缺少 entry.resource",
            )),
        };
        checked.push(r);
    }
    let problems: Vec<String> = checked
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.as_ref()
                .err()
                .map(|o| format!("entry[{i}]: {}", o.english))
        })
        .collect();
    if kind == "transaction" && !problems.is_empty() {
        return Err(Outcome::invalid(
            format!(
                "nothing was written; fix these entries: {}",
                problems.join("; ")
            ),
            format!("未写入任何数据：{} 个条目有误", problems.len()),
        ));
    }
    let good: Vec<NewCharge> = checked
        .iter()
        .filter_map(|r| r.as_ref().ok().cloned())
        .collect();
    let mut stored_iter = if good.is_empty() {
        Vec::new()
    } else {
        gate::submit_charges(&state.store, viewer, &good, "fhir")
            .await
            .map_err(refused)?
    }
    .into_iter();
    let mut responses = Vec::with_capacity(checked.len());
    for r in &checked {
        match r {
            Ok(_) => {
                let s = stored_iter.next().expect("one result per good entry");
                let status = if s.created { "201 Created" } else { "200 OK" };
                responses.push(json!({"response": {"status": status, "location": format!("ChargeItem/{}", s.charge_id)}}));
            }
            Err(o) => responses.push(json!({"response": {
                "status": "400 Bad Request",
                "outcome": {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": o.code, "details": {"text": o.chinese}, "diagnostics": o.english}]}
            }})),
        }
    }
    Ok(Fhir(
        StatusCode::OK,
        json!({"resourceType": "Bundle", "type": format!("{kind}-response"), "entry": responses}),
    ))
}
