//! Encounter: a resident's encounters (就诊/服务记录) from every institution, read and
//! searched through the access check (each read audited, like Patient).
//!
//! - `status` is `finished`: only past encounters are recorded.
//! - `class` (v3 ActCode, FHIR R4 Encounter.class, extensible binding): `AMB` for exams,
//!   outpatient visits, follow-ups and other services, `HH` for home visits, `IMP` for
//!   inpatient stays.
//! - `type` carries the yiwei kind (`urn:yiwei:encounter-kind`) with its Chinese name as
//!   text; `subject` is the Patient, `serviceProvider` the Organization (institution);
//!   `period.start` the instant it started.
//! - Search needs `patient` or `subject` (listing every encounter of the county is not
//!   offered) and takes `date` with the `eq`, `ge`, `gt`, `le` and `lt` prefixes of FHIR R4
//!   §3.1.1.4.2, at year, month, day or instant precision; a date without a zone is the
//!   county's local time.
//!
//! The summary and diagnoses are not carried: R4 puts diagnoses in Condition resources,
//! which yiwei does not serve yet, and a free-text summary would need an XHTML narrative.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde_json::{Value, json};
use yiwei_domain::exam::EncounterKind;
use yiwei_store::access::{self, AccessError, Viewer};
use yiwei_store::encounter::{Encounter, TimelineFilter};

use super::{Fhir, FhirUser, Outcome, bundle, parse_search};
use crate::AppState;

pub const KIND_SYSTEM: &str = "urn:yiwei:encounter-kind";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

/// An access refusal as a 403 OperationOutcome; other errors as usual.
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

/// An instant as FHIR writes it.
pub(crate) fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The v3 ActCode class of a kind: (code, display).
fn class_of(kind: EncounterKind) -> (&'static str, &'static str) {
    match kind {
        EncounterKind::Inpatient => ("IMP", "inpatient encounter"),
        EncounterKind::HomeVisit => ("HH", "home health"),
        EncounterKind::HealthExam
        | EncounterKind::Outpatient
        | EncounterKind::FollowUp
        | EncounterKind::Other => ("AMB", "ambulatory"),
    }
}

/// The Encounter JSON of a stored encounter.
pub fn to_encounter(e: &Encounter) -> Value {
    let (class, class_display) = class_of(e.kind);
    json!({
        "resourceType": "Encounter",
        "id": e.id.to_string(),
        "meta": {"lastUpdated": instant(e.created_at)},
        "status": if e.voided.is_some() { "entered-in-error" } else { "finished" },
        "class": {"system": ACT_CODE, "code": class, "display": class_display},
        "type": [{
            "coding": [{"system": KIND_SYSTEM, "code": e.kind.as_str(), "display": e.kind.name_en()}],
            "text": e.kind.name_zh()
        }],
        "subject": {"reference": format!("Patient/{}", e.resident_id)},
        "serviceProvider": {"reference": format!("Organization/{}", e.institution_id), "display": e.institution_name},
        "period": {"start": instant(e.started_at)},
    })
}

/// The Patient id of a `patient` or `subject` value: `123`, `Patient/123` or an absolute
/// URL ending in `Patient/123`.
pub(crate) fn patient_id(name: &str, value: &str) -> Result<i64, Outcome> {
    let id = match value.rsplit_once("Patient/") {
        Some((_, id)) => id,
        None if name == "subject" && value.contains('/') => "",
        None => value,
    };
    id.parse().map_err(|_| {
        Outcome::invalid(
            format!("{name} must be a Patient id or Patient/<id>, got {value:?}"),
            format!("{name} 须为 Patient/<编号>"),
        )
    })
}

/// The instants `[low, high)` a FHIR date value covers. A date without a zone is in the
/// county's local time (`offset_hours` east of UTC).
fn date_range(text: &str, offset_hours: i32) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let local =
        |d: NaiveDateTime| Utc.from_utc_datetime(&(d - Duration::hours(offset_hours.into())));
    let day = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d);
    match text.len() {
        4 => {
            let y: i32 = text.parse().ok()?;
            let start = day(y, 1, 1)?.and_hms_opt(0, 0, 0)?;
            let end = day(y + 1, 1, 1)?.and_hms_opt(0, 0, 0)?;
            Some((local(start), local(end)))
        }
        7 => {
            let start = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").ok()?;
            let end = start.checked_add_months(chrono::Months::new(1))?;
            Some((
                local(start.and_hms_opt(0, 0, 0)?),
                local(end.and_hms_opt(0, 0, 0)?),
            ))
        }
        10 => {
            let start = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
            let end = start.succ_opt()?;
            Some((
                local(start.and_hms_opt(0, 0, 0)?),
                local(end.and_hms_opt(0, 0, 0)?),
            ))
        }
        _ => {
            let t = DateTime::parse_from_rfc3339(text)
                .ok()
                .or_else(|| {
                    // FHIR allows a dateTime to the minute: 2026-05-12T09:30+08:00.
                    let (head, zone) = text.split_at(text.len().checked_sub(6)?);
                    DateTime::parse_from_rfc3339(&format!("{head}:00{zone}")).ok()
                })
                .or_else(|| {
                    let head = text.strip_suffix('Z')?;
                    DateTime::parse_from_rfc3339(&format!("{head}:00Z")).ok()
                })?
                .with_timezone(&Utc);
            Some((t, t + Duration::seconds(1)))
        }
    }
}

/// Fold the `date` search values into a window (`from` inclusive, `to` exclusive).
pub(crate) fn date_window(
    values: &[&str],
    offset_hours: i32,
    mut filter: TimelineFilter,
) -> Result<TimelineFilter, Outcome> {
    for value in values {
        let (prefix, rest) = match value.get(..2) {
            Some(p) if p.chars().all(|c| c.is_ascii_lowercase()) => (p, &value[2..]),
            _ => ("eq", *value),
        };
        let Some((low, high)) = date_range(rest, offset_hours) else {
            return Err(Outcome::invalid(
                format!(
                    "date {value:?} is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime with a zone)"
                ),
                "日期格式有误",
            ));
        };
        let raise = |from: &mut Option<DateTime<Utc>>, t| {
            *from = Some(from.map_or(t, |f: DateTime<Utc>| f.max(t)))
        };
        let lower = |to: &mut Option<DateTime<Utc>>, t| {
            *to = Some(to.map_or(t, |f: DateTime<Utc>| f.min(t)))
        };
        match prefix {
            "eq" => {
                raise(&mut filter.from, low);
                lower(&mut filter.to, high);
            }
            "ge" => raise(&mut filter.from, low),
            "gt" => raise(&mut filter.from, high),
            "le" => lower(&mut filter.to, high),
            "lt" => lower(&mut filter.to, low),
            other => {
                return Err(Outcome::invalid(
                    format!("date prefix {other:?} is not supported; use eq, ge, gt, le or lt"),
                    "不支持的日期前缀",
                ));
            }
        }
    }
    Ok(filter)
}

pub async fn read(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let id: i64 = id.parse().map_err(|_| Outcome::not_found("Encounter"))?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let e = access::open_encounter(&state.store, &viewer, id)
        .await
        .map_err(refused)?;
    Ok(Fhir(StatusCode::OK, to_encounter(&e)))
}

pub async fn search(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(raw.as_deref(), &["patient", "subject", "date"])?;
    let mut patient = None;
    let mut dates = Vec::new();
    for (k, v) in &pairs {
        match k.as_str() {
            "patient" | "subject" => {
                let id = patient_id(k, v)?;
                if patient.is_some_and(|p| p != id) {
                    return Err(Outcome::invalid(
                        "patient and subject name different Patients",
                        "patient 与 subject 不一致",
                    ));
                }
                patient = Some(id);
            }
            "date" => dates.push(v.as_str()),
            _ => {}
        }
    }
    let Some(patient) = patient else {
        return Err(Outcome::invalid(
            "search Encounter by patient (or subject); listing every encounter is not offered",
            "请按 patient 查询",
        ));
    };
    let filter = date_window(
        &dates,
        state.config.utc_offset_hours,
        TimelineFilter::default(),
    )?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let (list, total) = access::timeline(
        &state.store,
        &viewer,
        patient,
        &filter,
        paging.count,
        paging.offset,
    )
    .await
    .map_err(refused)?;
    let resources: Vec<Value> = list.iter().map(to_encounter).collect();
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::pages::org::urlencode(v)))
        .collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "Encounter",
            &q.join("&"),
            &resources,
            total,
            &paging,
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn date_values_cover_their_precision_in_county_time() {
        let cases: &[(&str, DateTime<Utc>, DateTime<Utc>)] = &[
            ("2026", at(2025, 12, 31, 16), at(2026, 12, 31, 16)),
            ("2026-02", at(2026, 1, 31, 16), at(2026, 2, 28, 16)),
            ("2026-05-12", at(2026, 5, 11, 16), at(2026, 5, 12, 16)),
            (
                "2026-05-12T09:30:00+08:00",
                Utc.with_ymd_and_hms(2026, 5, 12, 1, 30, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 5, 12, 1, 30, 1).unwrap(),
            ),
            (
                "2026-05-12T01:30Z",
                Utc.with_ymd_and_hms(2026, 5, 12, 1, 30, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 5, 12, 1, 30, 1).unwrap(),
            ),
        ];
        for (text, low, high) in cases {
            assert_eq!(date_range(text, 8), Some((*low, *high)), "{text}");
        }
        for bad in [
            "26",
            "2026-13",
            "2026-02-30",
            "yesterday",
            "2026-05-12T09:30",
        ] {
            assert_eq!(date_range(bad, 8), None, "{bad}");
        }
    }

    #[test]
    fn prefixes_narrow_the_window() {
        let f = date_window(
            &["ge2026-01-01", "lt2026-07-01"],
            8,
            TimelineFilter::default(),
        )
        .unwrap();
        assert_eq!(
            (f.from, f.to),
            (Some(at(2025, 12, 31, 16)), Some(at(2026, 6, 30, 16)))
        );
        let f = date_window(&["2026-03"], 8, TimelineFilter::default()).unwrap();
        assert_eq!(
            (f.from, f.to),
            (Some(at(2026, 2, 28, 16)), Some(at(2026, 3, 31, 16)))
        );
        let f = date_window(
            &["gt2026-03-01", "le2026-03-02"],
            0,
            TimelineFilter::default(),
        )
        .unwrap();
        assert_eq!(
            (f.from, f.to),
            (Some(at(2026, 3, 2, 0)), Some(at(2026, 3, 3, 0)))
        );
        assert!(date_window(&["ne2026"], 8, TimelineFilter::default()).is_err());
        assert!(date_window(&["ge2026-1-1"], 8, TimelineFilter::default()).is_err());
    }

    #[test]
    fn patients_are_named_by_id_or_reference() {
        assert_eq!(patient_id("patient", "12").unwrap(), 12);
        assert_eq!(patient_id("subject", "Patient/12").unwrap(), 12);
        assert_eq!(
            patient_id("subject", "http://x/fhir/Patient/12").unwrap(),
            12
        );
        assert!(patient_id("subject", "Group/12").is_err());
        assert!(patient_id("patient", "abc").is_err());
    }
}
