//! QIDO-RS (PS3.18 10.6): search for studies, series and instances, answered from the
//! index (`yiwei_store::imaging`) inside the caller's reach, as `application/dicom+json`.
//!
//! Matching keys, by keyword or by tag (PS3.18 10.6.1.2), at the study level:
//! PatientID, PatientName (`*` and `?` wildcards; a trailing `*` uses an index),
//! PatientBirthDate and StudyDate (single dates or ranges `A-B`, `A-`, `-B`),
//! AccessionNumber, ModalitiesInStudy, StudyInstanceUID (a list, `,` or `\` separated);
//! at the series level Modality, SeriesInstanceUID and SeriesNumber; at the instance level
//! SOPInstanceUID, SOPClassUID and InstanceNumber. Paging: `limit` (default 100, at most
//! 1000) and `offset`; `includefield` (`all` or attributes) adds the optional attributes
//! this index holds. `fuzzymatching=true` is accepted and treated as false (it is
//! optional, PS3.18 10.6.1.2.3). An unknown parameter is a 400 naming it.
//!
//! The top-level `/series` and `/instances` searches apply the study-level keys first and
//! look into the first 1000 matching studies.

use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde_json::{Map, Value, json};
use yiwei_domain::imaging::TextMatch;
use yiwei_store::access::imaging as gate;
use yiwei_store::imaging::{Instance, InstanceFilter, Series, Study, StudyQuery};

use super::{Caller, DICOM_JSON, query_pairs, refused, uid, url};
use crate::AppState;
use crate::error::ApiError;

/// The parsed query.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub study: StudyQuery,
    pub modality: Option<String>,
    pub series_uid: Option<String>,
    pub series_number: Option<i64>,
    pub sop_uid: Option<String>,
    pub sop_class: Option<String>,
    pub instance_number: Option<i64>,
    pub include_all: bool,
    pub limit: i64,
    pub offset: i64,
}

/// Keyword ↔ tag of the matching keys.
const KEYS: &[(&str, &str)] = &[
    ("PatientID", "00100020"),
    ("PatientName", "00100010"),
    ("PatientBirthDate", "00100030"),
    ("StudyDate", "00080020"),
    ("AccessionNumber", "00080050"),
    ("ModalitiesInStudy", "00080061"),
    ("StudyInstanceUID", "0020000D"),
    ("Modality", "00080060"),
    ("SeriesInstanceUID", "0020000E"),
    ("SeriesNumber", "00200011"),
    ("SOPInstanceUID", "00080018"),
    ("SOPClassUID", "00080016"),
    ("InstanceNumber", "00200013"),
];

fn bad(message: String, zh: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message, zh)
}

/// A DA value or range (PS3.4 C.2.2.2.5) as inclusive bounds.
pub fn date_range(value: &str) -> Result<(Option<NaiveDate>, Option<NaiveDate>), ApiError> {
    let one = |s: &str| -> Result<Option<NaiveDate>, ApiError> {
        if s.is_empty() {
            return Ok(None);
        }
        yiwei_dicom::parse::date(s).map(Some).ok_or_else(|| {
            bad(
                format!("{s:?} is not a DICOM date (YYYYMMDD)"),
                "日期须为 YYYYMMDD 格式",
            )
        })
    };
    match value.split_once('-') {
        Some((from, to)) => Ok((one(from.trim())?, one(to.trim())?)),
        None => {
            let d = one(value.trim())?;
            Ok((d, d))
        }
    }
}

/// Parse a QIDO-RS query (see the module docs).
pub fn parse(raw: Option<&str>) -> Result<Query, ApiError> {
    let mut q = Query {
        limit: 100,
        ..Query::default()
    };
    for (k, v) in query_pairs(raw)? {
        let key = KEYS
            .iter()
            .find(|(name, tag)| k == *name || k.eq_ignore_ascii_case(tag))
            .map(|(name, _)| *name)
            .unwrap_or(k.as_str());
        let int = |v: &str, what: &str| {
            v.trim().parse::<i64>().map_err(|_| {
                bad(
                    format!("{what} must be a whole number, got {v:?}"),
                    "须为整数",
                )
            })
        };
        match key {
            "limit" => q.limit = int(&v, "limit")?.clamp(1, 1000),
            "offset" => q.offset = int(&v, "offset")?.max(0),
            // `all` or named attributes: either way the few optional attributes this
            // index holds are returned; others are not available here (use /metadata).
            "includefield" => q.include_all = true,
            "fuzzymatching" => {}
            "PatientID" => q.study.patient_id = Some(v),
            "PatientName" => q.study.patient_name = Some(v),
            "AccessionNumber" => q.study.accession_number = Some(v),
            "StudyDate" => {
                let (from, to) = date_range(&v)?;
                q.study.study_date_from = from;
                q.study.study_date_to = to;
            }
            "PatientBirthDate" => {
                let (from, to) = date_range(&v)?;
                q.study.birth_date_from = from;
                q.study.birth_date_to = to;
            }
            "ModalitiesInStudy" => {
                q.study.modality = Some(v.trim().to_owned()).filter(|m| !m.is_empty())
            }
            "StudyInstanceUID" => {
                for u in v
                    .split([',', '\\'])
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                {
                    q.study.study_uids.push(uid(u, "StudyInstanceUID")?);
                }
            }
            "Modality" => q.modality = Some(v.trim().to_owned()).filter(|m| !m.is_empty()),
            "SeriesInstanceUID" => q.series_uid = Some(uid(v.trim(), "SeriesInstanceUID")?),
            "SeriesNumber" => q.series_number = Some(int(&v, "SeriesNumber")?),
            "SOPInstanceUID" => q.sop_uid = Some(uid(v.trim(), "SOPInstanceUID")?),
            "SOPClassUID" => q.sop_class = Some(uid(v.trim(), "SOPClassUID")?),
            "InstanceNumber" => q.instance_number = Some(int(&v, "InstanceNumber")?),
            other => {
                return Err(bad(
                    format!(
                        "{other:?} is not a matching key or parameter of this server; see docs/imaging.md"
                    ),
                    "不支持的查询参数",
                ));
            }
        }
    }
    q.study.limit = q.limit;
    q.study.offset = q.offset;
    Ok(q)
}

fn put(o: &mut Map<String, Value>, tag: &str, vr: &str, value: Option<Value>) {
    match value {
        Some(v) => o.insert(tag.into(), json!({"vr": vr, "Value": [v]})),
        None => o.insert(tag.into(), json!({"vr": vr})),
    };
}

fn text(s: &str) -> Option<Value> {
    (!s.is_empty()).then(|| json!(s))
}

fn da(d: Option<NaiveDate>) -> Option<Value> {
    d.map(|d| json!(d.format("%Y%m%d").to_string()))
}

fn pn(s: &str) -> Option<Value> {
    if s.is_empty() {
        return None;
    }
    let mut groups = s.split('=');
    let mut o = Map::new();
    for name in ["Alphabetic", "Ideographic", "Phonetic"] {
        if let Some(g) = groups.next()
            && !g.is_empty()
        {
            o.insert(name.into(), json!(g));
        }
    }
    Some(Value::Object(o))
}

/// The study-level attributes of a study (PS3.18 Table 10.6.3-3).
pub fn study_json(s: &Study, include_all: bool) -> Value {
    let mut o = Map::new();
    put(&mut o, "00080005", "CS", Some(json!("ISO_IR 192")));
    put(&mut o, "00080020", "DA", da(s.study_date));
    put(&mut o, "00080030", "TM", text(&s.study_time));
    put(&mut o, "00080050", "SH", text(&s.accession_number));
    put(&mut o, "00080056", "CS", Some(json!("ONLINE")));
    o.insert(
        "00080061".into(),
        json!({"vr": "CS", "Value": s.modalities}),
    );
    put(&mut o, "00080090", "PN", pn(&s.referring_physician));
    put(
        &mut o,
        "00081190",
        "UR",
        Some(json!(url(&s.study_uid, None, None))),
    );
    put(&mut o, "00100010", "PN", pn(&s.patient_name));
    put(&mut o, "00100020", "LO", text(&s.patient_id));
    put(&mut o, "00100030", "DA", da(s.patient_birth_date));
    put(&mut o, "00100040", "CS", text(&s.patient_sex));
    put(&mut o, "0020000D", "UI", Some(json!(s.study_uid)));
    put(&mut o, "00200010", "SH", text(&s.study_id));
    put(&mut o, "00201206", "IS", Some(json!(s.n_series)));
    put(&mut o, "00201208", "IS", Some(json!(s.n_instances)));
    if include_all {
        put(&mut o, "00081030", "LO", text(&s.description));
        put(&mut o, "00080080", "LO", text(&s.institution_name));
    }
    Value::Object(o)
}

fn series_json(study: &Study, s: &Series, include_all: bool) -> Value {
    let mut o = Map::new();
    put(&mut o, "00080005", "CS", Some(json!("ISO_IR 192")));
    put(&mut o, "00080056", "CS", Some(json!("ONLINE")));
    put(&mut o, "00080060", "CS", text(&s.modality));
    put(&mut o, "0008103E", "LO", text(&s.description));
    put(
        &mut o,
        "00081190",
        "UR",
        Some(json!(url(&study.study_uid, Some(&s.series_uid), None))),
    );
    put(&mut o, "0020000D", "UI", Some(json!(study.study_uid)));
    put(&mut o, "0020000E", "UI", Some(json!(s.series_uid)));
    put(&mut o, "00200011", "IS", s.series_number.map(|n| json!(n)));
    put(&mut o, "00201209", "IS", Some(json!(s.n_instances)));
    if include_all {
        put(&mut o, "00180015", "CS", text(&s.body_part));
        put(&mut o, "00100020", "LO", text(&study.patient_id));
        put(&mut o, "00100010", "PN", pn(&study.patient_name));
    }
    Value::Object(o)
}

fn instance_json(study: &Study, i: &Instance) -> Value {
    let mut o = Map::new();
    put(&mut o, "00080005", "CS", Some(json!("ISO_IR 192")));
    put(&mut o, "00080016", "UI", Some(json!(i.sop_class_uid)));
    put(&mut o, "00080018", "UI", Some(json!(i.sop_uid)));
    put(&mut o, "00080056", "CS", Some(json!("ONLINE")));
    put(&mut o, "00083002", "UI", Some(json!(i.transfer_syntax)));
    put(
        &mut o,
        "00081190",
        "UR",
        Some(json!(url(
            &study.study_uid,
            Some(&i.series_uid),
            Some(&i.sop_uid)
        ))),
    );
    put(&mut o, "0020000D", "UI", Some(json!(study.study_uid)));
    put(&mut o, "0020000E", "UI", Some(json!(i.series_uid)));
    put(
        &mut o,
        "00200013",
        "IS",
        i.instance_number.map(|n| json!(n)),
    );
    put(&mut o, "00280008", "IS", Some(json!(i.frames)));
    put(&mut o, "00280010", "US", i.rows.map(|n| json!(n)));
    put(&mut o, "00280011", "US", i.columns.map(|n| json!(n)));
    Value::Object(o)
}

fn json_response(items: Vec<Value>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, DICOM_JSON)],
        Value::Array(items).to_string(),
    )
        .into_response()
}

/// `GET /studies`.
pub async fn studies(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = parse(raw.as_deref())?;
    let (rows, _more) = gate::search_studies(&state.store, &caller.viewer(), &q.study)
        .await
        .map_err(refused)?;
    Ok(json_response(
        rows.iter().map(|s| study_json(s, q.include_all)).collect(),
    ))
}

fn series_matches(q: &Query, s: &Series) -> bool {
    q.modality.as_deref().is_none_or(|m| s.modality == m)
        && q.series_uid.as_deref().is_none_or(|u| s.series_uid == u)
        && q.series_number.is_none_or(|n| s.series_number == Some(n))
}

fn instance_matches(q: &Query, i: &Instance) -> bool {
    q.sop_uid.as_deref().is_none_or(|u| i.sop_uid == u)
        && q.sop_class.as_deref().is_none_or(|c| i.sop_class_uid == c)
        && q.instance_number
            .is_none_or(|n| i.instance_number == Some(n))
}

fn page<T>(items: Vec<T>, q: &Query) -> Vec<T> {
    items
        .into_iter()
        .skip(q.offset as usize)
        .take(q.limit as usize)
        .collect()
}

/// `GET /studies/{study}/series`.
pub async fn series(
    State(state): State<AppState>,
    caller: Caller,
    Path(study): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let study = uid(&study, "StudyInstanceUID")?;
    let q = parse(raw.as_deref())?;
    let (s, list) = gate::series_of(&state.store, &caller.viewer(), &study)
        .await
        .map_err(refused)?;
    let matching: Vec<Value> = list
        .iter()
        .filter(|se| series_matches(&q, se))
        .map(|se| series_json(&s, se, q.include_all))
        .collect();
    Ok(json_response(page(matching, &q)))
}

/// `GET /studies/{study}/series/{series}/instances`.
pub async fn instances(
    State(state): State<AppState>,
    caller: Caller,
    Path((study, series)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let study = uid(&study, "StudyInstanceUID")?;
    let series = uid(&series, "SeriesInstanceUID")?;
    let q = parse(raw.as_deref())?;
    list_instances(&state, &caller, &study, Some(series), &q).await
}

/// `GET /studies/{study}/instances`.
pub async fn study_instances(
    State(state): State<AppState>,
    caller: Caller,
    Path(study): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let study = uid(&study, "StudyInstanceUID")?;
    let q = parse(raw.as_deref())?;
    list_instances(&state, &caller, &study, q.series_uid.clone(), &q).await
}

async fn list_instances(
    state: &AppState,
    caller: &Caller,
    study: &str,
    series: Option<String>,
    q: &Query,
) -> Result<Response, ApiError> {
    let filter = InstanceFilter {
        series_uid: series,
        sop_uid: q.sop_uid.clone(),
        modality: q.modality.clone(),
        ..InstanceFilter::default()
    };
    let (s, list) = gate::instances_of(&state.store, &caller.viewer(), study, &filter)
        .await
        .map_err(refused)?;
    let matching: Vec<Value> = list
        .iter()
        .filter(|i| instance_matches(q, i))
        .map(|i| instance_json(&s, i))
        .collect();
    Ok(json_response(page(matching, q)))
}

/// The studies a top-level `/series` or `/instances` search looks into.
async fn candidate_studies(
    state: &AppState,
    caller: &Caller,
    q: &Query,
) -> Result<Vec<Study>, ApiError> {
    let mut sq = q.study.clone();
    sq.limit = 1000;
    sq.offset = 0;
    if sq.modality.is_none() {
        sq.modality = q.modality.clone();
    }
    Ok(gate::search_studies(&state.store, &caller.viewer(), &sq)
        .await
        .map_err(refused)?
        .0)
}

/// `GET /series`.
pub async fn all_series(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = parse(raw.as_deref())?;
    let mut out = Vec::new();
    for s in candidate_studies(&state, &caller, &q).await? {
        let (_, list) = gate::series_of(&state.store, &caller.viewer(), &s.study_uid)
            .await
            .map_err(refused)?;
        out.extend(
            list.iter()
                .filter(|se| series_matches(&q, se))
                .map(|se| series_json(&s, se, q.include_all)),
        );
        if out.len() as i64 >= q.offset + q.limit {
            break;
        }
    }
    Ok(json_response(page(out, &q)))
}

/// `GET /instances`.
pub async fn all_instances(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = parse(raw.as_deref())?;
    let mut out = Vec::new();
    for s in candidate_studies(&state, &caller, &q).await? {
        let filter = InstanceFilter {
            series_uid: q.series_uid.clone(),
            sop_uid: q.sop_uid.clone(),
            modality: q.modality.clone(),
            ..InstanceFilter::default()
        };
        let (_, list) = gate::instances_of(&state.store, &caller.viewer(), &s.study_uid, &filter)
            .await
            .map_err(refused)?;
        out.extend(
            list.iter()
                .filter(|i| instance_matches(&q, i))
                .map(|i| instance_json(&s, i)),
        );
        if out.len() as i64 >= q.offset + q.limit {
            break;
        }
    }
    Ok(json_response(page(out, &q)))
}

/// Whether a patient name matches a QIDO pattern (kept for callers filtering in memory).
pub fn name_matches(pattern: &str, name: &str) -> bool {
    TextMatch::parse(pattern).is_none_or(|m| m.matches(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_by_keyword_or_tag_and_refuse_unknown_keys() {
        let q = parse(Some(
            "PatientName=%E9%9F%A6*&00080020=20260101-20261231&ModalitiesInStudy=CT&limit=5&offset=10&includefield=all",
        ))
        .unwrap();
        assert_eq!(q.study.patient_name.as_deref(), Some("韦*"));
        assert_eq!(q.study.study_date_from, NaiveDate::from_ymd_opt(2026, 1, 1));
        assert_eq!(q.study.study_date_to, NaiveDate::from_ymd_opt(2026, 12, 31));
        assert_eq!(q.study.modality.as_deref(), Some("CT"));
        assert_eq!((q.limit, q.offset, q.include_all), (5, 10, true));
        assert!(parse(Some("Bogus=1")).is_err());
        assert!(parse(Some("StudyDate=2026")).is_err());
        assert!(parse(Some("StudyInstanceUID=../x")).is_err());
        let open = parse(Some("StudyDate=-20260101")).unwrap();
        assert_eq!(open.study.study_date_from, None);
        assert!(name_matches("*阿*", "韦阿娜"));
    }
}
