//! DetectedIssue: early-warning signals (预警信号).
//!
//! **Why DetectedIssue and not Flag.** A signal is a finding made by an algorithm from
//! counts, and its point is the *why*: the method, its parameters, the observed count,
//! the threshold, the expected value and the baseline. R4 DetectedIssue carries that
//! without extensions: `evidence.code` names the disease and `evidence.detail` points at
//! contained Observations that hold the figures in typed elements (`valueQuantity`,
//! `referenceRange.high` for the threshold, `method`, `component`s, `effectivePeriod`
//! for the baseline window), and `mitigation` records each workflow step with its date
//! and author (分派, 核实, 响应, 关闭). R4 Flag is a "prospective warning … when providing
//! care to the patient"; it has no element for evidence (only the `flag-detail`
//! extension) and no history, so the why would shrink to `code.text`. DetectedIssue has
//! no subject but `patient`, which a signal has none of; the area is the `subject`
//! (`Location/<division code>`, allowed for Observation) of the contained Observations.
//!
//! - `status` (ObservationStatus): `preliminary` while raised or assigned, `final` once
//!   verified (outbreak or not), in response, or closed; the yiwei workflow status is a
//!   `meta.tag` in `urn:yiwei:signal-status`.
//! - `code`: the method in `urn:yiwei:warning-method`, with the disease and method as
//!   text. `identifiedDateTime` is the day the counts were evaluated (date precision).
//! - Contained `#observed`: the count that fired (a day's count for fixed and EARS, a
//!   7-day sum for MPM, a week's count for Farrington) with the threshold, the expected
//!   value and the method's parameters (`urn:yiwei:warning-parameter`) as components.
//!   Contained `#baseline`: the baseline window with n, mean and sd, and the method's
//!   note.
//!
//! Read needs a reach that holds the signal's area or lies inside it (as the signal page).
//! Search takes `identified` (the R4 name; `date` is a yiwei alias) with eq/ge/gt/le/lt,
//! `code` (a disease of `urn:yiwei:notifiable-disease` or a method of
//! `urn:yiwei:warning-method`; bare values are tried as a disease, then a method; one of
//! each at most), the custom `area` (division subtree, inside the user's reach; default
//! the user's reach within the county) and the custom `status` (the yiwei workflow status,
//! comma for "or"). Signals hold no personal data, so reads are not audited.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use yiwei_domain::access::Role;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::notifiable::SignalStatus;
use yiwei_domain::notifiable::disease;
use yiwei_store::encounter::TimelineFilter;
use yiwei_store::notifiable::{self, Signal, SignalEvent, SignalFilter};
use yiwei_store::user::User;

use super::condition::{DISEASE_SYSTEM, area_of, disease_concept, local_days};
use super::encounter::{date_window, instant};
use super::{Fhir, FhirUser, Outcome, bundle, parse_search};
use crate::AppState;

pub const METHOD_SYSTEM: &str = "urn:yiwei:warning-method";
const STATUS_SYSTEM: &str = "urn:yiwei:signal-status";
const STEP_SYSTEM: &str = "urn:yiwei:signal-step";
const MEASURE_SYSTEM: &str = "urn:yiwei:warning-measure";
const PARAMETER_SYSTEM: &str = "urn:yiwei:warning-parameter";
const UCUM: &str = "http://unitsofmeasure.org";

pub const SEARCH_PARAMS: &[&str] = &["identified", "date", "code", "area", "status"];

/// The warning methods: (code, display, what the observed count is).
const METHODS: &[(&str, &str, &str)] = &[
    ("fixed", "Fixed threshold", "cases on the day"),
    (
        "mpm",
        "Moving percentile method",
        "cases in the 7 days to the day",
    ),
    ("ears_c1", "EARS C1", "cases on the day"),
    ("ears_c2", "EARS C2", "cases on the day"),
    ("ears_c3", "EARS C3", "cases on the day"),
    (
        "farrington",
        "Farrington flexible",
        "cases in the week to the day",
    ),
];

fn method_of(code: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    METHODS.iter().find(|m| m.0 == code)
}

fn cases(value: f64) -> Value {
    json!({"value": value, "unit": "cases", "system": UCUM, "code": "{cases}"})
}

/// The DetectedIssue JSON of a signal and its workflow history.
pub fn to_detected_issue(s: &Signal, events: &[SignalEvent]) -> Value {
    let (method_display, measure) =
        method_of(&s.method).map_or((s.method.as_str(), "cases"), |m| (m.1, m.2));
    let disease_zh = disease::by_code(&s.disease).map_or(s.disease.as_str(), |d| d.name_zh);
    let disease_en = disease::by_code(&s.disease).map_or(s.disease.as_str(), |d| d.name_en);
    let area = json!({"reference": format!("Location/{}", s.division), "display": s.division_name});
    let method =
        json!({"coding": [{"system": METHOD_SYSTEM, "code": s.method, "display": method_display}]});
    let mut components = Vec::new();
    if let Some(e) = s.expected {
        components.push(json!({
            "code": {"coding": [{"system": MEASURE_SYSTEM, "code": "expected", "display": "expected count"}], "text": "期望值 expected"},
            "valueQuantity": cases(e)
        }));
    }
    for (k, v) in &s.parameters {
        components.push(json!({
            "code": {"coding": [{"system": PARAMETER_SYSTEM, "code": k}], "text": k},
            "valueString": v
        }));
    }
    let mut observed = json!({
        "resourceType": "Observation",
        "id": "observed",
        "status": "final",
        "code": {"coding": [{"system": MEASURE_SYSTEM, "code": "observed", "display": measure}], "text": format!("观察值 observed: {measure}")},
        "subject": area,
        "effectiveDateTime": s.day.to_string(),
        "valueQuantity": cases(s.observed),
        "method": method,
    });
    if let Some(t) = s.threshold {
        observed["referenceRange"] = json!([{"high": cases(t), "text": "signal when the observed count is above this threshold · 超过阈值即发出信号"}]);
    }
    if !components.is_empty() {
        observed["component"] = Value::Array(components);
    }
    let b = &s.baseline;
    let mut baseline = json!({
        "resourceType": "Observation",
        "id": "baseline",
        "status": "final",
        "code": {"coding": [{"system": MEASURE_SYSTEM, "code": "baseline", "display": "baseline"}], "text": "基线 baseline"},
        "subject": area,
        "method": method,
    });
    if let (Some(from), Some(to)) = (b["from"].as_str(), b["to"].as_str()) {
        baseline["effectivePeriod"] = json!({"start": from, "end": to});
    }
    let mut parts = Vec::new();
    if let Some(n) = b["n"].as_i64() {
        parts.push(json!({"code": {"coding": [{"system": MEASURE_SYSTEM, "code": "n", "display": "values in the baseline"}]}, "valueInteger": n}));
    }
    for (key, display) in [
        ("mean", "baseline mean"),
        ("sd", "baseline standard deviation"),
    ] {
        if let Some(x) = b[key].as_f64().filter(|x| x.is_finite()) {
            parts.push(json!({"code": {"coding": [{"system": MEASURE_SYSTEM, "code": key, "display": display}]}, "valueQuantity": cases(x)}));
        }
    }
    if !parts.is_empty() {
        baseline["component"] = Value::Array(parts);
    }
    if let Some(note) = b["note"].as_str().filter(|n| !n.is_empty()) {
        baseline["note"] = json!([{"text": note}]);
    }
    let status = match s.status {
        SignalStatus::Raised | SignalStatus::Assigned => "preliminary",
        SignalStatus::Verified | SignalStatus::Responding | SignalStatus::Closed => "final",
    };
    let threshold = s.threshold.map_or_else(String::new, |t| format!(" > {t}"));
    let mut o = json!({
        "resourceType": "DetectedIssue",
        "id": s.id.to_string(),
        "meta": {
            "lastUpdated": instant(s.closed_at.or(s.verified_at).unwrap_or(s.raised_at)),
            "tag": [{"system": STATUS_SYSTEM, "code": s.status.as_str(), "display": s.status.name_en()}]
        },
        "contained": [observed, baseline],
        "status": status,
        "code": {
            "coding": [{"system": METHOD_SYSTEM, "code": s.method, "display": method_display}],
            "text": format!("{disease_zh} {method_display} 预警 · {disease_en} {method_display} signal")
        },
        "identifiedDateTime": s.day.to_string(),
        "detail": format!(
            "{}，{}：观察值 {}{} · {}, {}: observed {}{} ({measure})",
            s.division_name, disease_zh, s.observed, threshold, s.division_name, disease_en, s.observed, threshold
        ),
        "evidence": [{
            "code": [disease_concept(&s.disease, None)],
            "detail": [{"reference": "#observed"}, {"reference": "#baseline"}]
        }],
    });
    let mitigations: Vec<Value> = events
        .iter()
        .map(|e| {
            let mut m = json!({
                "action": {
                    "coding": [{"system": STEP_SYSTEM, "code": e.step}],
                    "text": if e.notes.is_empty() { format!("{} → {}", e.step, e.to_status) } else { e.notes.clone() }
                },
                "date": instant(e.at),
            });
            if let Some(who) = &e.user_name {
                m["author"] = json!({"display": who});
            }
            m
        })
        .collect();
    if !mitigations.is_empty() {
        o["mitigation"] = Value::Array(mitigations);
    }
    o
}

fn forbidden() -> Outcome {
    Outcome {
        status: StatusCode::FORBIDDEN,
        code: "forbidden",
        english: "this signal's area is outside your reach".into(),
        chinese: "该地区不在您的权限范围内".into(),
    }
}

pub async fn read(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let id: i64 = id
        .parse()
        .map_err(|_| Outcome::not_found("DetectedIssue"))?;
    let s = notifiable::signal(&state.store, id).await?;
    let area = DivisionCode::parse(&s.division).map_err(|_| Outcome::not_found("DetectedIssue"))?;
    if user.role == Role::Resident || !(user.reach.contains(&area) || area.contains(&user.reach)) {
        return Err(forbidden());
    }
    let events = notifiable::signal_events(&state.store, id).await?;
    Ok(Fhir(StatusCode::OK, to_detected_issue(&s, &events)))
}

/// The default area of a search: the user's reach inside the county, else the county.
fn default_area(state: &AppState, user: &User) -> DivisionCode {
    if state.config.county.contains(&user.reach) {
        user.reach.clone()
    } else {
        state.config.county.clone()
    }
}

pub async fn search(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(raw.as_deref(), SEARCH_PARAMS)?;
    let mut filter = SignalFilter::default();
    let mut dates = Vec::new();
    let mut area = None;
    for (k, v) in &pairs {
        match k.as_str() {
            "identified" | "date" => dates.push(v.as_str()),
            "code" => {
                for token in v.split(',').filter(|t| !t.is_empty()) {
                    let (system, code) = match token.split_once('|') {
                        Some((s, c)) => (Some(s), c),
                        None => (None, token),
                    };
                    let as_disease = matches!(system, None | Some("") | Some(DISEASE_SYSTEM))
                        && disease::by_code(code).is_some();
                    let as_method = matches!(system, None | Some("") | Some(METHOD_SYSTEM))
                        && method_of(code).is_some();
                    let slot = if as_disease {
                        &mut filter.disease
                    } else if as_method {
                        &mut filter.method
                    } else {
                        return Err(Outcome::invalid(
                            format!(
                                "code {token:?} is neither a disease of {DISEASE_SYSTEM} nor a method of {METHOD_SYSTEM} (fixed, mpm, ears_c1, ears_c2, ears_c3, farrington)"
                            ),
                            format!("未知的病种或预警方法 {token}"),
                        ));
                    };
                    if slot.as_deref().is_some_and(|old| old != code) {
                        return Err(Outcome::invalid(
                            "search DetectedIssue by at most one disease and one method",
                            "每次最多查询一个病种和一种方法",
                        ));
                    }
                    *slot = Some(code.to_owned());
                }
            }
            "area" => area = Some(area_of(v)?),
            "status" => {
                for token in v.split(',').filter(|t| !t.is_empty()) {
                    let code = token.rsplit('|').next().unwrap_or(token);
                    let s = SignalStatus::parse(code).ok_or_else(|| {
                        Outcome::invalid(
                            format!(
                                "status {token:?} is not a signal status; use raised, assigned, verified, responding or closed"
                            ),
                            "status 须为 raised、assigned、verified、responding 或 closed",
                        )
                    })?;
                    filter.statuses.push(s);
                }
            }
            _ => {}
        }
    }
    let offset = state.config.utc_offset_hours;
    let window = date_window(&dates, offset, TimelineFilter::default())?;
    (filter.from, filter.to) = local_days(&window, offset);
    if user.role == Role::Resident {
        return Err(forbidden());
    }
    let root = match area {
        Some(a) if user.reach.contains(&a) => a,
        Some(_) => return Err(forbidden()),
        None => default_area(&state, &user),
    };
    let (list, total) =
        notifiable::signals(&state.store, &root, &filter, paging.count, paging.offset).await?;
    let mut resources = Vec::with_capacity(list.len());
    for s in &list {
        let events = notifiable::signal_events(&state.store, s.id).await?;
        resources.push(to_detected_issue(s, &events));
    }
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::pages::org::urlencode(v)))
        .collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "DetectedIssue",
            &q.join("&"),
            &resources,
            total,
            &paging,
        ),
    ))
}
