//! `POST /fhir` with a `batch` or `transaction` Bundle of Patient entries: the FHIR way to
//! import residents (FHIR R4 §3.1.0.11 batch/transaction).
//!
//! - `batch`: every entry is processed on its own; the response lists each entry's status
//!   (`201 Created`, `200 OK` when the master index linked an existing resident, or a 4xx
//!   with an OperationOutcome). A bad entry changes nothing.
//! - `transaction`: every entry is checked first, and if any is invalid the whole Bundle is
//!   refused with one OperationOutcome naming the entries, before anything is written. The
//!   entries are then registered in order, each in its own database transaction; a database
//!   failure part-way (not a data error: those were caught in the check) leaves the earlier
//!   entries registered and says which entry failed. A single transaction across all
//!   entries would hold the write lock for the whole Bundle; the check-first rule gives the
//!   guarantee a caller needs ("no half-imported bad row") without that.
//!
//! Supported entries: `POST Patient` (through the master patient index) and
//! `PUT Patient/<id>` (needs `request.ifMatch` or `meta.versionId`).

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use yiwei_store::access::{self, AccessError, Viewer};
use yiwei_store::empi::Outcome as EmpiOutcome;
use yiwei_store::resident::NewResident;

use super::patient::{refused, to_new, today};
use super::{Fhir, FhirUser, Outcome};
use crate::AppState;

enum Action {
    Create(NewResident),
    Update(i64, i64, NewResident),
}

/// Parse one entry into an action, or the reason it cannot be done.
fn action_of(entry: &Value, state: &AppState) -> Result<Action, Outcome> {
    let request = entry
        .get("request")
        .ok_or_else(|| Outcome::invalid("entry.request is required", "缺少 entry.request"))?;
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let url = request
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim_start_matches('/');
    let resource = entry
        .get("resource")
        .ok_or_else(|| Outcome::invalid("entry.resource is required", "缺少 entry.resource"))?;
    let body = serde_json::to_vec(resource)
        .map_err(|e| Outcome::invalid(e.to_string(), "资源无法读取"))?;
    match (method, url.split_once('/')) {
        ("POST", None) if url == "Patient" => Ok(Action::Create(to_new(&body, today(state))?.0)),
        ("PUT", Some(("Patient", id))) => {
            let id: i64 = id.parse().map_err(|_| {
                Outcome::invalid(format!("{url} is not a Patient id"), "Patient id 有误")
            })?;
            let (new, body_version) = to_new(&body, today(state))?;
            let header_version = request
                .get("ifMatch")
                .and_then(Value::as_str)
                .map(|v| v.trim_start_matches("W/").trim_matches('"').to_owned())
                .and_then(|v| v.parse::<i64>().ok());
            let version = header_version.or(body_version).ok_or_else(|| {
                Outcome::invalid(
                    "a PUT entry needs request.ifMatch or meta.versionId",
                    "更新须提供版本号",
                )
            })?;
            Ok(Action::Update(id, version, new))
        }
        _ => Err(Outcome::invalid(
            format!(
                "unsupported entry {method} {url}; this server accepts POST Patient and PUT Patient/<id>"
            ),
            "不支持的条目操作",
        )),
    }
}

fn outcome_json(o: &Outcome) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": o.code, "details": {"text": o.chinese}, "diagnostics": o.english}]
    })
}

fn status_line(code: StatusCode) -> String {
    format!(
        "{} {}",
        code.as_u16(),
        code.canonical_reason().unwrap_or_default()
    )
}

async fn apply(state: &AppState, viewer: &Viewer<'_>, action: Action) -> Result<Value, Outcome> {
    match action {
        Action::Create(new) => {
            let outcome = access::register_resident(&state.store, viewer, &new)
                .await
                .map_err(refused)?;
            let (id, status) = match outcome {
                EmpiOutcome::Created { id, .. } => (id, StatusCode::CREATED),
                EmpiOutcome::Linked { id, .. } => (id, StatusCode::OK),
            };
            Ok(json!({"status": status_line(status), "location": format!("Patient/{id}")}))
        }
        Action::Update(id, version, new) => {
            match access::update_resident(&state.store, viewer, id, version, &new).await {
                Ok(v) => Ok(
                    json!({"status": status_line(StatusCode::OK), "location": format!("Patient/{id}/_history/{v}")}),
                ),
                Err(AccessError::Store(yiwei_store::StoreError::Conflict { constraint })) => {
                    Err(Outcome {
                        status: StatusCode::CONFLICT,
                        code: "conflict",
                        english: constraint,
                        chinese: "档案已被他人修改".into(),
                    })
                }
                Err(e) => Err(refused(e)),
            }
        }
    }
}

pub async fn process(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    body: axum::body::Bytes,
) -> Result<Fhir, Outcome> {
    let bundle: Value = serde_json::from_slice(&body)
        .map_err(|e| Outcome::invalid(format!("the body is not JSON: {e}"), "请求体不是 JSON"))?;
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(Outcome::invalid(
            "POST /fhir takes a Bundle",
            "须提交 Bundle",
        ));
    }
    let kind = bundle
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if kind != "batch" && kind != "transaction" {
        return Err(Outcome::invalid(
            format!("Bundle.type must be batch or transaction, not {kind:?}"),
            "Bundle.type 须为 batch 或 transaction",
        ));
    }
    let entries = bundle
        .get("entry")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if entries.len() > 1000 {
        return Err(Outcome::invalid(
            "at most 1000 entries per Bundle; split larger imports or use the CSV import",
            "每个 Bundle 最多 1000 条",
        ));
    }
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    // cost alerts (防返贫监测预警): a Bundle of ChargeItems is stored in one transaction.
    let is_charge = |e: &Value| {
        e.pointer("/request/url")
            .and_then(Value::as_str)
            .map(|u| u.trim_start_matches('/'))
            == Some("ChargeItem")
    };
    if !entries.is_empty() && entries.iter().all(is_charge) {
        return super::charge_item::process_bundle(&state, &viewer, &kind, &entries).await;
    }
    let actions: Vec<Result<Action, Outcome>> =
        entries.iter().map(|e| action_of(e, &state)).collect();
    let mut responses = Vec::with_capacity(actions.len());
    if kind == "transaction" {
        let problems: Vec<String> = actions
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                a.as_ref()
                    .err()
                    .map(|o| format!("entry[{i}]: {}", o.english))
            })
            .collect();
        if !problems.is_empty() {
            return Err(Outcome::invalid(
                format!(
                    "nothing was written; fix these entries: {}",
                    problems.join("; ")
                ),
                format!("未写入任何数据：{} 个条目有误", problems.len()),
            ));
        }
        for (i, action) in actions.into_iter().enumerate() {
            let action = action.expect("checked above");
            match apply(&state, &viewer, action).await {
                Ok(response) => responses.push(json!({"response": response})),
                Err(o) => {
                    return Err(Outcome {
                        english: format!(
                            "entry[{i}] failed ({}); entries before it were registered",
                            o.english
                        ),
                        ..o
                    });
                }
            }
        }
    } else {
        for action in actions {
            let result = match action {
                Ok(a) => apply(&state, &viewer, a).await,
                Err(o) => Err(o),
            };
            responses.push(match result {
                Ok(response) => json!({"response": response}),
                Err(o) => json!({"response": {"status": status_line(o.status), "outcome": outcome_json(&o)}}),
            });
        }
    }
    Ok(Fhir(
        StatusCode::OK,
        json!({"resourceType": "Bundle", "type": format!("{kind}-response"), "entry": responses}),
    ))
}
