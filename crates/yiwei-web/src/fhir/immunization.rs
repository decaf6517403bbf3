//! Immunization: the doses of the national immunization programme (预防接种), read,
//! searched and created through the access check (each read audited, like Patient).
//!
//! - `status` is `completed`, or `entered-in-error` for a voided dose (R4 Immunization
//!   status, required binding); voided doses are kept and served, never deleted.
//! - `vaccineCode` carries yiwei's local product code (`urn:yiwei:vaccine`, the codes of
//!   `yiwei_domain::programme::immunization::Vaccine`) with its English display, and the
//!   Chinese name as text.
//! - `occurrenceDateTime` is the date given (a date: the schedule counts days);
//!   `recorded` the instant it was entered; `lotNumber`, `manufacturer.display` and
//!   `site.text` as typed; `performer` the institution (Organization).
//! - `protocolApplied` names the series (`hepb`, `dtp`, …) and `doseNumberPositiveInt` its
//!   number among the doses not voided, under the edition in force on its date.
//! - A dose recorded outside the schedule with a reason carries the reason in the
//!   extension [`OVERRIDE_URL`] and the broken rules' codes in `note`.
//!
//! Search needs `patient` (every dose of the county is not listed) and takes `date` (on the
//! date given, with `eq`, `ge`, `gt`, `le`, `lt`), `vaccine-code` (`[system|]code`, comma
//! for or) and `status` (comma for or). A child has tens of doses, so the filters run on
//! the child's list and paging slices it.
//!
//! Create (POST) goes through the same store path as the page: a dose that breaks the
//! schedule is refused with 422 and one OperationOutcome issue per problem, unless the
//! override extension gives a reason.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate};
use serde_json::{Value, json};
use yiwei_domain::programme::immunization::Vaccine;
use yiwei_store::access::{self, Viewer};
use yiwei_store::immunization::{DoseError, NewDose, StoredDose};

use super::encounter::{instant, patient_id, refused};
use super::{Fhir, FhirUser, Outcome, bundle, parse_search};
use crate::AppState;

/// yiwei's local vaccine product codes.
pub const VACCINE_SYSTEM: &str = "urn:yiwei:vaccine";
/// The extension carrying the reason a dose outside the schedule was recorded anyway.
pub const OVERRIDE_URL: &str = "urn:yiwei:fhir:StructureDefinition:immunization-override-reason";

/// The Immunization JSON of a stored dose.
pub fn to_immunization(d: &StoredDose) -> Value {
    let mut r = json!({
        "resourceType": "Immunization",
        "id": d.id.to_string(),
        "meta": {"lastUpdated": instant(d.voided_at.unwrap_or(d.recorded_at))},
        "status": if d.is_voided() { "entered-in-error" } else { "completed" },
        "vaccineCode": {
            "coding": [{"system": VACCINE_SYSTEM, "code": d.vaccine.code(), "display": d.vaccine.name_en()}],
            "text": d.vaccine.name_zh()
        },
        "patient": {"reference": format!("Patient/{}", d.resident_id)},
        "occurrenceDateTime": d.given_on.format("%Y-%m-%d").to_string(),
        "recorded": instant(d.recorded_at),
    });
    let obj = r.as_object_mut().expect("a JSON object");
    if !d.lot.is_empty() {
        obj.insert("lotNumber".into(), json!(d.lot));
    }
    if !d.manufacturer.is_empty() {
        obj.insert("manufacturer".into(), json!({"display": d.manufacturer}));
    }
    if !d.site.is_empty() {
        obj.insert("site".into(), json!({"text": d.site}));
    }
    if let Some(org) = d.institution_id {
        let mut actor = json!({"reference": format!("Organization/{org}")});
        if let Some(name) = &d.institution_name {
            actor["display"] = json!(name);
        }
        obj.insert("performer".into(), json!([{"actor": actor}]));
    }
    if let (Some(series), Some(n)) = (d.series, d.dose_number) {
        obj.insert(
            "protocolApplied".into(),
            json!([{"series": series, "doseNumberPositiveInt": n}]),
        );
    }
    if let Some(reason) = &d.override_reason {
        obj.insert(
            "extension".into(),
            json!([{"url": OVERRIDE_URL, "valueString": reason}]),
        );
    }
    let mut notes = Vec::new();
    if !d.problems.is_empty() {
        notes.push(json!({"text": format!("outside the schedule: {}", d.problems.join(", "))}));
    }
    if let Some(reason) = &d.void_reason {
        notes.push(json!({"text": format!("voided: {reason}")}));
    }
    if !notes.is_empty() {
        obj.insert("note".into(), Value::Array(notes));
    }
    r
}

pub async fn read(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let id: i64 = id.parse().map_err(|_| Outcome::not_found("Immunization"))?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let d = access::open_dose(&state.store, &viewer, id)
        .await
        .map_err(refused)?;
    Ok(Fhir(StatusCode::OK, to_immunization(&d)))
}

/// The days `[low, high)` a FHIR date value covers (year, month or day precision; a
/// dateTime is read as its date).
fn day_range(text: &str) -> Option<(NaiveDate, NaiveDate)> {
    match text.len() {
        4 => {
            let y: i32 = text.parse().ok()?;
            Some((
                NaiveDate::from_ymd_opt(y, 1, 1)?,
                NaiveDate::from_ymd_opt(y + 1, 1, 1)?,
            ))
        }
        7 => {
            let start = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").ok()?;
            Some((start, start.checked_add_months(chrono::Months::new(1))?))
        }
        10 => {
            let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
            Some((day, day.succ_opt()?))
        }
        _ => {
            let day = DateTime::parse_from_rfc3339(text).ok()?.date_naive();
            Some((day, day.succ_opt()?))
        }
    }
}

/// The window `[from, to)` of the `date` values.
pub(crate) fn date_window(
    values: &[&str],
) -> Result<(Option<NaiveDate>, Option<NaiveDate>), Outcome> {
    let (mut from, mut to): (Option<NaiveDate>, Option<NaiveDate>) = (None, None);
    for value in values {
        let (prefix, rest) = match value.get(..2) {
            Some(p) if p.chars().all(|c| c.is_ascii_lowercase()) => (p, &value[2..]),
            _ => ("eq", *value),
        };
        let Some((low, high)) = day_range(rest) else {
            return Err(Outcome::invalid(
                format!("date {value:?} is not a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)"),
                "日期格式有误",
            ));
        };
        let raise = |f: &mut Option<NaiveDate>, d: NaiveDate| *f = Some(f.map_or(d, |x| x.max(d)));
        let lower = |t: &mut Option<NaiveDate>, d: NaiveDate| *t = Some(t.map_or(d, |x| x.min(d)));
        match prefix {
            "eq" => {
                raise(&mut from, low);
                lower(&mut to, high);
            }
            "ge" => raise(&mut from, low),
            "gt" => raise(&mut from, high),
            "le" => lower(&mut to, high),
            "lt" => lower(&mut to, low),
            other => {
                return Err(Outcome::invalid(
                    format!("date prefix {other:?} is not supported; use eq, ge, gt, le or lt"),
                    "不支持的日期前缀",
                ));
            }
        }
    }
    Ok((from, to))
}

/// The vaccines a `vaccine-code` value names (`code`, `system|code`, comma for or).
fn vaccine_codes(value: &str) -> Result<Vec<Vaccine>, Outcome> {
    value
        .split(',')
        .map(|token| {
            let code = match token.split_once('|') {
                Some((system, code)) if system.is_empty() || system == VACCINE_SYSTEM => code,
                Some((system, _)) => {
                    return Err(Outcome::invalid(
                        format!("vaccine-code system must be {VACCINE_SYSTEM}, got {system:?}"),
                        "疫苗编码体系有误",
                    ));
                }
                None => token,
            };
            Vaccine::parse(code).ok_or_else(|| {
                Outcome::invalid(
                    format!(
                        "unknown vaccine code {code:?}; known: {}",
                        Vaccine::ALL.map(|v| v.code()).join(", ")
                    ),
                    format!("未知的疫苗编码 {code}"),
                )
            })
        })
        .collect()
}

fn statuses(value: &str) -> Result<Vec<bool>, Outcome> {
    value
        .split(',')
        .map(|s| match s {
            "completed" => Ok(false),
            "entered-in-error" => Ok(true),
            other => Err(Outcome::invalid(
                format!("status must be completed or entered-in-error, got {other:?}"),
                "status 取值有误",
            )),
        })
        .collect()
}

pub async fn search(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(
        raw.as_deref(),
        &["patient", "date", "vaccine-code", "status"],
    )?;
    let mut patient = None;
    let mut dates = Vec::new();
    let mut vaccines: Option<Vec<Vaccine>> = None;
    let mut voided: Option<Vec<bool>> = None;
    for (k, v) in &pairs {
        match k.as_str() {
            "patient" => {
                let id = patient_id(k, v)?;
                if patient.is_some_and(|p| p != id) {
                    return Err(Outcome::invalid(
                        "patient is given twice with different Patients",
                        "patient 参数不一致",
                    ));
                }
                patient = Some(id);
            }
            "date" => dates.push(v.as_str()),
            "vaccine-code" => {
                let list = vaccine_codes(v)?;
                // Repeated parameters are ANDed (FHIR R4 §3.1.1.3.4).
                vaccines = Some(match vaccines {
                    None => list,
                    Some(prev) => prev.into_iter().filter(|x| list.contains(x)).collect(),
                });
            }
            "status" => {
                let list = statuses(v)?;
                voided = Some(match voided {
                    None => list,
                    Some(prev) => prev.into_iter().filter(|x| list.contains(x)).collect(),
                });
            }
            _ => {}
        }
    }
    let Some(patient) = patient else {
        return Err(Outcome::invalid(
            "search Immunization by patient; listing every dose is not offered",
            "请按 patient 查询",
        ));
    };
    let (from, to) = date_window(&dates)?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let doses = access::doses_of(&state.store, &viewer, patient)
        .await
        .map_err(refused)?;
    let matching: Vec<&StoredDose> = doses
        .iter()
        .filter(|d| from.is_none_or(|f| d.given_on >= f))
        .filter(|d| to.is_none_or(|t| d.given_on < t))
        .filter(|d| vaccines.as_ref().is_none_or(|v| v.contains(&d.vaccine)))
        .filter(|d| voided.as_ref().is_none_or(|v| v.contains(&d.is_voided())))
        .collect();
    let total = i64::try_from(matching.len()).unwrap_or(i64::MAX);
    let resources: Vec<Value> = matching
        .iter()
        .skip(usize::try_from(paging.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(paging.count).unwrap_or(0))
        .map(|d| to_immunization(d))
        .collect();
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::pages::org::urlencode(v)))
        .collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "Immunization",
            &q.join("&"),
            &resources,
            total,
            &paging,
        ),
    ))
}

fn invalid(english: impl Into<String>, chinese: &str) -> Outcome {
    Outcome::invalid(english, chinese)
}

fn text_of<'a>(v: &'a Value, path: &[&str]) -> Result<Option<&'a str>, Outcome> {
    let mut at = v;
    for p in path {
        match at.get(p) {
            Some(next) => at = next,
            None => return Ok(None),
        }
    }
    at.as_str().map(Some).ok_or_else(|| {
        invalid(
            format!("{} must be a string", path.join(".")),
            "字段类型有误",
        )
    })
}

/// The patient id and the dose of a posted Immunization.
fn to_new(body: &[u8]) -> Result<(i64, NewDose), Outcome> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        invalid(
            format!("the body is not JSON: {e}"),
            "请求体不是有效的 JSON",
        )
    })?;
    if v.get("resourceType").and_then(Value::as_str) != Some("Immunization") {
        return Err(invalid(
            "resourceType must be Immunization",
            "resourceType 须为 Immunization",
        ));
    }
    match text_of(&v, &["status"])? {
        Some("completed") => {}
        other => {
            return Err(invalid(
                format!("status must be completed for a dose given, got {other:?}"),
                "status 须为 completed",
            ));
        }
    }
    let codings = v
        .pointer("/vaccineCode/coding")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let vaccine = codings
        .iter()
        .find(|c| c.get("system").and_then(Value::as_str) == Some(VACCINE_SYSTEM))
        .and_then(|c| c.get("code").and_then(Value::as_str))
        .ok_or_else(|| {
            invalid(
                format!("vaccineCode needs a coding of {VACCINE_SYSTEM}"),
                "vaccineCode 须含 urn:yiwei:vaccine 编码",
            )
        })
        .and_then(|code| {
            Vaccine::parse(code).ok_or_else(|| {
                invalid(
                    format!(
                        "unknown vaccine code {code:?}; known: {}",
                        Vaccine::ALL.map(|x| x.code()).join(", ")
                    ),
                    "未知的疫苗编码",
                )
            })
        })?;
    let patient = text_of(&v, &["patient", "reference"])?
        .ok_or_else(|| invalid("patient.reference is required", "缺少 patient"))?;
    let patient = patient_id("patient", patient)?;
    let when = text_of(&v, &["occurrenceDateTime"])?.ok_or_else(|| {
        invalid(
            "occurrenceDateTime (the date given) is required",
            "缺少接种日期 occurrenceDateTime",
        )
    })?;
    let given_on = NaiveDate::parse_from_str(when, "%Y-%m-%d")
        .ok()
        .or_else(|| {
            DateTime::parse_from_rfc3339(when)
                .ok()
                .map(|t| t.date_naive())
        })
        .ok_or_else(|| {
            invalid(
                format!("occurrenceDateTime {when:?} is not a date (YYYY-MM-DD) or a dateTime with a zone"),
                "接种日期格式有误",
            )
        })?;
    let override_reason = v
        .get("extension")
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter()
                .find(|e| e.get("url").and_then(Value::as_str) == Some(OVERRIDE_URL))
        })
        .and_then(|e| e.get("valueString").and_then(Value::as_str))
        .map(str::to_owned);
    Ok((
        patient,
        NewDose {
            vaccine,
            given_on,
            lot: text_of(&v, &["lotNumber"])?.unwrap_or_default().to_owned(),
            manufacturer: text_of(&v, &["manufacturer", "display"])?
                .unwrap_or_default()
                .to_owned(),
            site: text_of(&v, &["site", "text"])?
                .unwrap_or_default()
                .to_owned(),
            institution_id: None,
            override_reason,
        },
    ))
}

/// 422 with one issue per broken rule.
fn schedule_outcome(problems: &[yiwei_domain::programme::immunization::DoseProblem]) -> Response {
    let issues: Vec<Value> = problems
        .iter()
        .map(|p| {
            json!({
                "severity": "error",
                "code": "business-rule",
                "details": {
                    "coding": [{"system": "urn:yiwei:dose-problem", "code": yiwei_store::immunization::problem_code(p)}],
                    "text": p.message_zh()
                },
                "diagnostics": p.message_en(),
            })
        })
        .collect();
    Fhir(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"resourceType": "OperationOutcome", "issue": issues}),
    )
    .into_response()
}

pub async fn create(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    body: axum::body::Bytes,
) -> Result<Response, Outcome> {
    let (patient, new) = to_new(&body)?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let today = super::patient::today(&state);
    let id = match access::record_dose(&state.store, &viewer, patient, &new, today).await {
        Ok(id) => id,
        Err(DoseError::Schedule(problems)) => return Ok(schedule_outcome(&problems)),
        Err(DoseError::Access(e)) => {
            let mut outcome = refused(e);
            if outcome.status == StatusCode::BAD_REQUEST {
                outcome.status = StatusCode::UNPROCESSABLE_ENTITY;
                outcome.code = "business-rule";
            }
            return Err(outcome);
        }
    };
    let d = access::open_dose(&state.store, &viewer, id)
        .await
        .map_err(refused)?;
    let mut response = Fhir(StatusCode::CREATED, to_immunization(&d)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("{}/Immunization/{id}", state.fhir_base()))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn date_prefixes_narrow_the_days() {
        assert_eq!(
            date_window(&["ge2025-03", "le2025-06-30"]).unwrap(),
            (Some(d(2025, 3, 1)), Some(d(2025, 7, 1)))
        );
        assert_eq!(
            date_window(&["2025"]).unwrap(),
            (Some(d(2025, 1, 1)), Some(d(2026, 1, 1)))
        );
        assert_eq!(
            date_window(&["gt2025-03-01", "lt2025-04-01"]).unwrap(),
            (Some(d(2025, 3, 2)), Some(d(2025, 4, 1)))
        );
        assert!(date_window(&["ne2025"]).is_err());
        assert!(date_window(&["2025-02-30"]).is_err());
    }

    #[test]
    fn vaccine_codes_take_our_system_or_none() {
        assert_eq!(
            vaccine_codes("hepb,urn:yiwei:vaccine|bcg,|mmr").unwrap(),
            [Vaccine::HepB, Vaccine::Bcg, Vaccine::Mmr]
        );
        assert!(vaccine_codes("http://hl7.org/fhir/sid/cvx|08").is_err());
        assert!(vaccine_codes("flu").is_err());
    }

    #[test]
    fn a_posted_dose_is_read_with_its_override_reason() {
        let body = json!({
            "resourceType": "Immunization",
            "status": "completed",
            "vaccineCode": {"coding": [{"system": VACCINE_SYSTEM, "code": "hepb"}]},
            "patient": {"reference": "Patient/7"},
            "occurrenceDateTime": "2025-03-20T10:00:00+08:00",
            "lotNumber": "L1",
            "extension": [{"url": OVERRIDE_URL, "valueString": "外院已接种"}]
        });
        let (patient, new) = to_new(body.to_string().as_bytes()).unwrap();
        assert_eq!(patient, 7);
        assert_eq!(
            (new.vaccine, new.given_on, new.lot.as_str()),
            (Vaccine::HepB, d(2025, 3, 20), "L1")
        );
        assert_eq!(new.override_reason.as_deref(), Some("外院已接种"));
        let mut bad = body.clone();
        bad["status"] = json!("not-done");
        assert!(to_new(bad.to_string().as_bytes()).is_err());
        let mut bad = body;
        bad["occurrenceDateTime"] = json!("yesterday");
        assert!(to_new(bad.to_string().as_bytes()).is_err());
    }
}
