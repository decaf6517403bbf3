//! ImagingStudy (FHIR R4): a study of the imaging cloud, read and searched through
//! `access::imaging` (each read audited).
//!
//! - `identifier`: the Study Instance UID (`urn:dicom:uid`, `urn:oid:<uid>`) and the
//!   accession number (v2-0203 `ACSN`).
//! - `status` is `available` (every indexed instance is retrievable); `modality` and
//!   `series.modality` use the DICOM code system (`http://dicom.nema.org/resources/ontology/DCM`).
//! - `subject` is the Patient when the master patient index linked the study; a study
//!   still in the match queue has a `subject` with only a display ("未关联居民").
//! - `started` is the StudyDate and StudyTime in county time; `endpoint` is not sent, the
//!   DICOMweb base is `/dicom-web` (docs/imaging.md).
//! - Search needs `patient`; `date` (started, eq/ge/gt/le/lt) and `modality` narrow it.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use yiwei_store::access::Viewer;
use yiwei_store::access::imaging as gate;
use yiwei_store::imaging::{Instance, InstanceFilter, Series, Study};

use super::encounter::{instant, patient_id, refused};
use super::immunization::date_window;
use super::{Fhir, FhirUser, Outcome, bundle, parse_search};
use crate::AppState;

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";

/// StudyDate + StudyTime as a FHIR dateTime in county time.
fn started(s: &Study, offset_hours: i32) -> Option<String> {
    let date = s.study_date?;
    let digits: String = s
        .study_time
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    if digits.len() >= 4 {
        let (h, m) = (&digits[0..2], &digits[2..4]);
        let sec = digits.get(4..6).unwrap_or("00");
        let sign = if offset_hours < 0 { '-' } else { '+' };
        Some(format!(
            "{}T{h}:{m}:{sec}{sign}{:02}:00",
            date.format("%Y-%m-%d"),
            offset_hours.abs()
        ))
    } else {
        Some(date.format("%Y-%m-%d").to_string())
    }
}

/// The ImagingStudy JSON of a study with its series and instances.
pub fn to_imaging_study(
    s: &Study,
    series: &[Series],
    instances: &[Instance],
    offset_hours: i32,
) -> Value {
    let mut v = json!({
        "resourceType": "ImagingStudy",
        "id": s.id.to_string(),
        "meta": {"lastUpdated": instant(s.updated_at)},
        "identifier": [{"system": "urn:dicom:uid", "value": format!("urn:oid:{}", s.study_uid)}],
        "status": "available",
        "modality": s.modalities.iter().map(|m| json!({"system": DCM, "code": m})).collect::<Vec<_>>(),
        "subject": match s.resident_id {
            Some(r) => json!({"reference": format!("Patient/{r}")}),
            None => json!({"display": "未关联居民 (not yet linked to a resident)"}),
        },
        "numberOfSeries": s.n_series,
        "numberOfInstances": s.n_instances,
    });
    if !s.accession_number.is_empty()
        && let Some(ids) = v["identifier"].as_array_mut()
    {
        ids.push(json!({
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]},
            "value": s.accession_number,
        }));
    }
    if let Some(t) = started(s, offset_hours) {
        v["started"] = json!(t);
    }
    if !s.description.is_empty() {
        v["description"] = json!(s.description);
    }
    let series_json: Vec<Value> = series
        .iter()
        .map(|se| {
            let mut j = json!({
                "uid": se.series_uid,
                "modality": {"system": DCM, "code": if se.modality.is_empty() { "OT" } else { se.modality.as_str() }},
                "numberOfInstances": se.n_instances,
            });
            if let Some(n) = se.series_number.filter(|n| *n >= 0) {
                j["number"] = json!(n);
            }
            if !se.description.is_empty() {
                j["description"] = json!(se.description);
            }
            if !se.body_part.is_empty() {
                j["bodySite"] = json!({"display": se.body_part});
            }
            let inst: Vec<Value> = instances
                .iter()
                .filter(|i| i.series_id == se.id)
                .map(|i| {
                    let mut ij = json!({
                        "uid": i.sop_uid,
                        "sopClass": {"system": "urn:ietf:rfc:3986", "code": format!("urn:oid:{}", i.sop_class_uid)},
                    });
                    if let Some(n) = i.instance_number.filter(|n| *n >= 0) {
                        ij["number"] = json!(n);
                    }
                    ij
                })
                .collect();
            if !inst.is_empty() {
                j["instance"] = Value::Array(inst);
            }
            j
        })
        .collect();
    if !series_json.is_empty() {
        v["series"] = Value::Array(series_json);
    }
    v
}

pub async fn read(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let id: i64 = id.parse().map_err(|_| Outcome::not_found("ImagingStudy"))?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let study = gate::open_study_by_id(&state.store, &viewer, id)
        .await
        .map_err(refused)?;
    let (_, series) = gate::series_of(&state.store, &viewer, &study.study_uid)
        .await
        .map_err(refused)?;
    let (_, instances) = gate::instances_of(
        &state.store,
        &viewer,
        &study.study_uid,
        &InstanceFilter::default(),
    )
    .await
    .map_err(refused)?;
    Ok(Fhir(
        StatusCode::OK,
        to_imaging_study(&study, &series, &instances, state.config.utc_offset_hours),
    ))
}

pub async fn search(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) =
        parse_search(raw.as_deref(), &["patient", "subject", "date", "modality"])?;
    let mut patient = None;
    let mut dates = Vec::new();
    let mut modalities: Option<Vec<String>> = None;
    for (k, v) in &pairs {
        match k.as_str() {
            "patient" | "subject" => patient = Some(patient_id(k, v)?),
            "date" => dates.push(v.as_str()),
            "modality" => {
                let list: Vec<String> = v
                    .split(',')
                    .map(|t| t.rsplit('|').next().unwrap_or(t).trim().to_owned())
                    .collect();
                modalities = Some(match modalities {
                    None => list,
                    Some(prev) => prev.into_iter().filter(|m| list.contains(m)).collect(),
                });
            }
            _ => {}
        }
    }
    let Some(patient) = patient else {
        return Err(Outcome::invalid(
            "search ImagingStudy by patient; the county's study list is served by QIDO-RS at /dicom-web/studies",
            "请按 patient 查询；检查列表请用 /dicom-web/studies",
        ));
    };
    let (from, to) = date_window(&dates)?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let studies = gate::studies_of(&state.store, &viewer, patient, 1000, 0)
        .await
        .map_err(refused)?;
    let matching: Vec<&Study> = studies
        .iter()
        .filter(|s| from.is_none_or(|f| s.study_date.is_some_and(|d| d >= f)))
        .filter(|s| to.is_none_or(|t| s.study_date.is_some_and(|d| d < t)))
        .filter(|s| {
            modalities
                .as_ref()
                .is_none_or(|m| s.modalities.iter().any(|x| m.contains(x)))
        })
        .collect();
    let total = i64::try_from(matching.len()).unwrap_or(i64::MAX);
    let resources: Vec<Value> = matching
        .iter()
        .skip(usize::try_from(paging.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(paging.count).unwrap_or(0))
        .map(|s| to_imaging_study(s, &[], &[], state.config.utc_offset_hours))
        .collect();
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::pages::org::urlencode(v)))
        .collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "ImagingStudy",
            &q.join("&"),
            &resources,
            total,
            &paging,
        ),
    ))
}
