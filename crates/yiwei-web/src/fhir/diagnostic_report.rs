//! DiagnosticReport: a radiology report (影像诊断报告), one resource per version.
//!
//! - `id` is the version's id; the current version of a study's report is the one with
//!   the highest `meta.versionId`, and an amendment is a new resource (status `amended`)
//!   whose `extension` is not needed to find the old one: both share `imagingStudy`.
//! - `status` is the stored state (`registered` a draft, `preliminary` an AI draft,
//!   `final`, `amended`), R4 `diagnostic-report-status`.
//! - `category` is HL7 v2-0074 `RAD`; `code` is LOINC 18748-4 "Diagnostic imaging study".
//! - `subject` the Patient (when the study is linked), `imagingStudy` the ImagingStudy
//!   (`ImagingStudy/<study id>`), `performer` the study's Organization,
//!   `resultsInterpreter` the signing Practitioner, `issued` the signing time,
//!   `effectiveDateTime` the study date.
//! - Findings (检查所见) go in `presentedForm` as text/plain (base64, with the Chinese
//!   title) and the impression (诊断意见) in `conclusion`. An AI draft carries the reading
//!   model in an extension `urn:yiwei:ai-model`.
//!
//! Reads go through `access::recognition` (audited as reads of the study); a resident
//! sees only signed versions. Search needs `patient` (or `subject`); `status` and `date`
//! (`eq`, `ge`, `le` on county dates) narrow it.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde_json::{Value, json};
use yiwei_domain::report::Status;
use yiwei_store::access::Viewer;
use yiwei_store::access::recognition as gate;
use yiwei_store::imaging::Study;
use yiwei_store::imaging_report::{Report, ReportQuery};

use super::care_plan::refused_as;
use super::encounter::{instant, patient_id, refused};
use super::{Fhir, FhirUser, Outcome, bundle, parse_search};
use crate::AppState;

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The DiagnosticReport JSON of one report version of `study`.
pub fn to_diagnostic_report(r: &Report, study: &Study) -> Value {
    let mut v = json!({
        "resourceType": "DiagnosticReport",
        "id": r.id.to_string(),
        "meta": {"versionId": r.version.to_string(), "lastUpdated": instant(r.updated_at)},
        "status": r.status.as_str(),
        "category": [{
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD", "display": "Radiology"}],
            "text": "影像诊断"
        }],
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "18748-4", "display": "Diagnostic imaging study"}],
            "text": if study.description.is_empty() { "影像检查".to_owned() } else { study.description.clone() }
        },
        "imagingStudy": [{"reference": format!("ImagingStudy/{}", study.id)}],
        "performer": [{"reference": format!("Organization/{}", study.institution_id)}],
    });
    if let Some(p) = study.resident_id {
        v["subject"] = json!({"reference": format!("Patient/{p}")});
    }
    if let Some(d) = study.study_date {
        v["effectiveDateTime"] = json!(d.to_string());
    }
    if let Some(t) = r.signed_at {
        v["issued"] = json!(instant(t));
    }
    if let Some(s) = r.signer_id {
        v["resultsInterpreter"] = json!([{"reference": format!("Practitioner/{s}")}]);
    }
    if !r.impression.is_empty() {
        v["conclusion"] = json!(r.impression);
    }
    if !r.findings.is_empty() {
        v["presentedForm"] = json!([{
            "contentType": "text/plain; charset=utf-8",
            "language": "zh-CN",
            "title": "检查所见",
            "data": base64(r.findings.as_bytes())
        }]);
    }
    if let Some(m) = &r.ai_model {
        v["extension"] = json!([{"url": "urn:yiwei:ai-model", "valueString": m}]);
    }
    v
}

pub async fn read(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let id: i64 = id
        .parse()
        .map_err(|_| Outcome::not_found("DiagnosticReport"))?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let (study, report) = gate::open_report(&state.store, &viewer, id)
        .await
        .map_err(refused_as("DiagnosticReport"))?;
    Ok(Fhir(StatusCode::OK, to_diagnostic_report(&report, &study)))
}

fn date_of(value: &str) -> Result<(&str, NaiveDate), Outcome> {
    let (prefix, rest) = match value.get(..2) {
        Some(p) if p.chars().all(|c| c.is_ascii_lowercase()) => (p, &value[2..]),
        _ => ("eq", value),
    };
    let date = NaiveDate::parse_from_str(rest, "%Y-%m-%d").map_err(|_| {
        Outcome::invalid(
            format!("date {value:?}: use YYYY-MM-DD with eq, ge or le"),
            "日期格式须为 YYYY-MM-DD",
        )
    })?;
    match prefix {
        "eq" | "ge" | "le" => Ok((prefix, date)),
        other => Err(Outcome::invalid(
            format!("date prefix {other:?} is not supported; use eq, ge or le"),
            "不支持的日期前缀",
        )),
    }
}

pub async fn search(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(raw.as_deref(), &["patient", "subject", "status", "date"])?;
    let mut patient = None;
    let mut query = ReportQuery {
        limit: paging.count.max(1),
        offset: paging.offset,
        ..ReportQuery::default()
    };
    for (k, v) in &pairs {
        match k.as_str() {
            "patient" | "subject" => patient = Some(patient_id(k, v)?),
            "status" => {
                query.status = Some(Status::parse(v).ok_or_else(|| {
                    Outcome::invalid(
                        format!("status {v:?}: registered, preliminary, final or amended"),
                        "status 须为 registered、preliminary、final 或 amended",
                    )
                })?)
            }
            "date" => {
                let (prefix, d) = date_of(v)?;
                if prefix != "le" {
                    query.from = Some(d);
                }
                if prefix != "ge" {
                    query.to = Some(d);
                }
            }
            _ => {}
        }
    }
    let Some(patient) = patient else {
        return Err(Outcome::invalid(
            "DiagnosticReport search needs patient (or subject)",
            "查询诊断报告须指定 patient",
        ));
    };
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let reports = gate::reports_of(&state.store, &viewer, patient, query)
        .await
        .map_err(refused)?;
    let mut resources = Vec::new();
    for r in &reports {
        let study = gate::report_of(&state.store, &viewer, r.study_id)
            .await
            .map_err(refused)?
            .0;
        resources.push(to_diagnostic_report(r, &study));
    }
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::pages::org::urlencode(v)))
        .collect();
    // The total is of this page and what came before it: the store pages by offset.
    let total = paging.offset + resources.len() as i64;
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "DiagnosticReport",
            &q.join("&"),
            &resources,
            total,
            &paging,
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_pads_like_rfc_4648() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }
}
