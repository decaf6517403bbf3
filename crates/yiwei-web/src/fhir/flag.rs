//! Flag: the monthly cost alerts (防返贫监测预警) on a resident.
//!
//! **Why Flag here when warning signals are DetectedIssue** (`super::detected_issue`): a
//! signal is about an area and its point is the statistical evidence, which DetectedIssue
//! carries. A cost alert is about one person and its point is "this household needs a
//! visit": R4 Flag is exactly a "prospective warning of potential issues" about a
//! `subject` Patient, with a `period` and an active/inactive `status`; the little evidence
//! it has (amount, threshold, basis) fits in three extensions. Both keep the yiwei
//! workflow status in a `meta.tag` the same way.
//!
//! - `status`: `active` while the alert is open or being checked, `inactive` once closed;
//!   `meta.tag` `urn:yiwei:cost-alert-status` has open | checking | closed.
//! - `category`: `admin` (http://terminology.hl7.org/CodeSystem/flag-category).
//! - `code`: the rule, `urn:yiwei:cost-alert-rule|<rule id>`, with its name as text.
//! - `period`: the rule's window (first and last day summed).
//! - extensions `urn:yiwei:fhir:StructureDefinition:cost-alert-amount` and
//!   `…-threshold` (valueMoney, CNY), `…-basis` (valueCode total | out_of_pocket |
//!   policy_out_of_pocket), `…-month` (valueString YYYY-MM) and, once checked,
//!   `…-outcome` (valueCoding in `urn:yiwei:cost-alert-outcome`).
//!
//! Read is the alert page's read (audited; the bureau's is masked, which a Flag shows the
//! same). Search with `patient` is an audited read of that record; without, the alerts of
//! the user's reach (one audited list read) by `date` (the month) and `status`.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use yiwei_domain::cost_alert::{AlertStatus, Month, format_yuan};
use yiwei_store::access::Viewer;
use yiwei_store::access::cost_alert as gate;
use yiwei_store::cost_alert::{Alert, AlertFilter};

use super::patient::refused;
use super::{Fhir, FhirUser, Outcome, bundle, parse_search};
use crate::AppState;

const EXT: &str = "urn:yiwei:fhir:StructureDefinition:cost-alert-";
pub const STATUS_SYSTEM: &str = "urn:yiwei:cost-alert-status";
pub const RULE_SYSTEM: &str = "urn:yiwei:cost-alert-rule";
pub const OUTCOME_SYSTEM: &str = "urn:yiwei:cost-alert-outcome";
pub const SEARCH_PARAMS: &[&str] = &["patient", "subject", "date", "status"];

fn money(fen: i64) -> Value {
    let text = format_yuan(fen).replace(',', "");
    let number: serde_json::Number = text.parse().unwrap_or_else(|_| 0.into());
    json!({"value": number, "currency": "CNY"})
}

/// The Flag JSON of an alert.
pub fn to_flag(a: &Alert) -> Value {
    let mut extension = vec![
        json!({"url": format!("{EXT}month"), "valueString": a.month}),
        json!({"url": format!("{EXT}amount"), "valueMoney": money(a.amount_fen)}),
        json!({"url": format!("{EXT}threshold"), "valueMoney": money(a.threshold_fen)}),
        json!({"url": format!("{EXT}basis"), "valueCode": a.basis}),
    ];
    if let Some(o) = &a.outcome {
        let display = yiwei_domain::cost_alert::CheckOutcome::parse(o)
            .map(|x| format!("{} {}", x.name_zh(), x.name_en()))
            .unwrap_or_default();
        extension.push(json!({"url": format!("{EXT}outcome"), "valueCoding": {"system": OUTCOME_SYSTEM, "code": o, "display": display}}));
    }
    json!({
        "resourceType": "Flag",
        "id": a.id.to_string(),
        "meta": {"tag": [{"system": STATUS_SYSTEM, "code": a.status.code(), "display": a.status.name_en()}]},
        "status": if a.status == AlertStatus::Closed { "inactive" } else { "active" },
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/flag-category", "code": "admin", "display": "Administrative"}], "text": "防返贫监测预警 cost alert"}],
        "code": {"coding": [{"system": RULE_SYSTEM, "code": a.rule_id.to_string(), "display": a.rule_name}], "text": a.rule_name},
        "subject": {"reference": format!("Patient/{}", a.resident_id), "display": a.resident_name},
        "period": {"start": a.window_start.to_string(), "end": a.window_end.to_string()},
        "extension": extension,
    })
}

pub async fn read(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let id: i64 = id.parse().map_err(|_| Outcome::not_found("Flag"))?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let view = gate::open_alert(&state.store, &viewer, id)
        .await
        .map_err(refused)?;
    Ok(Fhir(StatusCode::OK, to_flag(&view.alert)))
}

pub async fn search(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(raw.as_deref(), SEARCH_PARAMS)?;
    let mut filter = AlertFilter {
        root: user.reach.clone(),
        month: None,
        status: None,
        resident_id: None,
    };
    for (k, v) in &pairs {
        match k.as_str() {
            "patient" | "subject" => {
                filter.resident_id = Some(
                    v.trim_start_matches("Patient/")
                        .parse::<i64>()
                        .map_err(|_| {
                            Outcome::invalid("patient must be Patient/<id>", "patient 参数有误")
                        })?,
                );
            }
            "date" => {
                filter.month = Some(Month::parse(v.trim_start_matches("eq")).ok_or_else(|| {
                    Outcome::invalid(
                        "date must be the alert month, YYYY-MM",
                        "date 须为月份 YYYY-MM",
                    )
                })?);
            }
            _ => {
                filter.status = Some(AlertStatus::parse(v).ok_or_else(|| {
                    Outcome::invalid(
                        "status must be open, checking or closed",
                        "status 须为 open、checking 或 closed",
                    )
                })?);
            }
        }
    }
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let (alerts, total) = match filter.resident_id {
        Some(resident) => gate::alerts_of(
            &state.store,
            &viewer,
            resident,
            &filter,
            paging.count,
            paging.offset,
        )
        .await
        .map_err(refused)?,
        None => {
            let page =
                gate::alert_list(&state.store, &viewer, &filter, paging.count, paging.offset)
                    .await
                    .map_err(refused)?;
            (page.alerts, page.total)
        }
    };
    let flags: Vec<Value> = alerts.iter().map(to_flag).collect();
    let query: String = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    Ok(Fhir(
        StatusCode::OK,
        bundle(&state.fhir_base(), "Flag", &query, &flags, total, &paging),
    ))
}
