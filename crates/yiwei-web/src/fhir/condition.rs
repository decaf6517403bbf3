//! Condition: notifiable-disease case reports (传染病报告卡), read and searched through the
//! access check (a card follows its resident's record; lists of an area are for CDC staff).
//!
//! - `code`: the disease in the yiwei CodeSystem `urn:yiwei:notifiable-disease` (local
//!   ASCII codes of `yiwei_domain::notifiable::disease`, English display, Chinese `text`),
//!   plus the subtype in `urn:yiwei:notifiable-disease-subtype` where the card names one.
//!   No ICD-10 coding is sent: the disease list does not carry ICD-10 codes, and a mapping
//!   made up here (one notifiable disease often spans several ICD-10 codes) would be a
//!   guess.
//! - `verificationStatus` (required binding to condition-ver-status, FHIR R4 §Condition)
//!   from 病例分类1, with the exact classification as a second coding in
//!   `urn:yiwei:case-class`:
//!   疑似病例 → `provisional` ("a tentative diagnosis, still a candidate");
//!   临床诊断病例 → `confirmed`: R4 defines confirmed as "sufficient diagnostic and/or
//!   clinical evidence to treat this as a confirmed condition", which is what a clinical
//!   diagnosis is for reporting; `differential` ("one of a set of potential diagnoses")
//!   would say the clinician had not settled, which is wrong;
//!   确诊病例 and 病原携带者 → `confirmed` (a carrier's state is laboratory-confirmed);
//!   阳性检测 → `unconfirmed` (a positive test awaiting the case definition);
//!   a card deleted as a duplicate → `entered-in-error`.
//! - `clinicalStatus` is left out: the card records the diagnosis, not whether the
//!   disease is still active or resolved, and R4 requires it only for problem-list items
//!   (con-3; con-5 forbids it with `entered-in-error`).
//! - `category` is `encounter-diagnosis`; `subject` the Patient; `onsetDateTime` the onset
//!   date (date precision); `recordedDate` when the card reached yiwei; `asserter` the
//!   reporting user as `Practitioner/<user id>` with the doctor's name as display;
//!   `identifier` the card number (`urn:yiwei:case-card-no`). The review state is a
//!   `meta.tag` in `urn:yiwei:case-card-status`; a card superseded by a correction (订正)
//!   says so in `note`.
//!
//! Search: `patient`/`subject`, `code` (a disease code, with or without the system, comma
//! for "or"), `onset-date` and `recorded-date` (eq, ge, gt, le, lt as for Encounter), and
//! the custom `area` (a GB/T 2260 division code: the cards of residents whose village lies
//! inside it). Without a patient, only CDC staff may search, inside their reach. Search
//! returns the cards that count (pending, probable duplicate, accepted); deleted,
//! returned and superseded cards are read by id.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::{Value, json};
use yiwei_domain::division::DivisionCode;
use yiwei_domain::notifiable::CardStatus;
use yiwei_domain::notifiable::disease::{self, CaseClass};
use yiwei_store::access::{self, Viewer};
use yiwei_store::encounter::TimelineFilter;
use yiwei_store::notifiable::{CaseFilter, CaseReport, Review};

use super::encounter::{date_window, instant, patient_id, refused};
use super::{Fhir, FhirUser, Outcome, bundle, parse_search};
use crate::AppState;

pub const DISEASE_SYSTEM: &str = "urn:yiwei:notifiable-disease";
pub const SUBTYPE_SYSTEM: &str = "urn:yiwei:notifiable-disease-subtype";
const CASE_CLASS_SYSTEM: &str = "urn:yiwei:case-class";
const CARD_NO_SYSTEM: &str = "urn:yiwei:case-card-no";
const CARD_STATUS_SYSTEM: &str = "urn:yiwei:case-card-status";
const VER_STATUS: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
const CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
/// WHO ICD-10 (FHIR's system URI for it).
pub const ICD10_SYSTEM: &str = "http://hl7.org/fhir/sid/icd-10";

pub const SEARCH_PARAMS: &[&str] = &[
    "patient",
    "subject",
    "code",
    "onset-date",
    "recorded-date",
    "area",
];

/// The condition-ver-status code of a card: (code, display).
pub fn verification(class: CaseClass, status: CardStatus) -> (&'static str, &'static str) {
    if status == CardStatus::Deleted {
        return ("entered-in-error", "Entered in Error");
    }
    match class {
        CaseClass::Suspected => ("provisional", "Provisional"),
        CaseClass::Clinical | CaseClass::Confirmed | CaseClass::Carrier => {
            ("confirmed", "Confirmed")
        }
        CaseClass::PositiveTest => ("unconfirmed", "Unconfirmed"),
    }
}

/// The disease as a CodeableConcept (with the subtype when there is one).
pub fn disease_concept(code: &str, subtype: Option<&str>) -> Value {
    let Some(d) = disease::by_code(code) else {
        return json!({"coding": [{"system": DISEASE_SYSTEM, "code": code}], "text": code});
    };
    let sub = subtype.and_then(|s| d.subtype(s));
    let mut coding = vec![json!({"system": DISEASE_SYSTEM, "code": d.code, "display": d.name_en})];
    if let Some(s) = sub {
        coding.push(json!({"system": SUBTYPE_SYSTEM, "code": s.code, "display": s.name_en}));
    }
    json!({"coding": coding, "text": d.label_zh(sub)})
}

/// A card's disease as a CodeableConcept: the list's codes, then the ICD-10 code its
/// subtype, classification and course give (`yiwei_domain::notifiable::icd10`).
fn card_concept(c: &CaseReport) -> Value {
    let mut concept = disease_concept(&c.disease, c.subtype.as_deref());
    let icd = yiwei_domain::notifiable::icd10::icd10(
        &c.disease,
        c.subtype.as_deref(),
        c.case_class,
        c.course,
    );
    if let (Some(icd), Some(coding)) = (icd, concept["coding"].as_array_mut()) {
        coding.push(json!({"system": ICD10_SYSTEM, "code": icd.code, "display": icd.display}));
    }
    concept
}

/// The Condition JSON of a card; `correction` is the card that superseded it, if any.
pub fn to_condition(c: &CaseReport, correction: Option<i64>) -> Value {
    let (ver, ver_display) = verification(c.case_class, c.status);
    let mut o = json!({
        "resourceType": "Condition",
        "id": c.id.to_string(),
        "meta": {
            "lastUpdated": instant(c.reported_at),
            "tag": [{"system": CARD_STATUS_SYSTEM, "code": c.status.as_str(), "display": c.status.name_en()}]
        },
        "identifier": [{"system": CARD_NO_SYSTEM, "value": c.card_no}],
        "verificationStatus": {
            "coding": [
                {"system": VER_STATUS, "code": ver, "display": ver_display},
                {"system": CASE_CLASS_SYSTEM, "code": c.case_class.as_str(), "display": c.case_class.name_en()}
            ],
            "text": c.case_class.name_zh()
        },
        "category": [{
            "coding": [{"system": CATEGORY, "code": "encounter-diagnosis", "display": "Encounter Diagnosis"}]
        }],
        "code": card_concept(c),
        "subject": {"reference": format!("Patient/{}", c.resident_id)},
        "onsetDateTime": c.onset_date.to_string(),
        "recordedDate": instant(c.reported_at),
    });
    o["asserter"] = match c.author_id {
        Some(id) => json!({"reference": format!("Practitioner/{id}"), "display": c.doctor}),
        None => json!({"display": c.doctor}),
    };
    let mut notes = Vec::new();
    if let Some(first) = c.duplicate_of {
        notes.push(json!({"text": format!("疑似重卡，首卡 Condition/{first} · probable duplicate of Condition/{first}")}));
    }
    if let Some(original) = c.corrects_id {
        notes.push(
            json!({"text": format!("订正 Condition/{original} · corrects Condition/{original}")}),
        );
    }
    if let Some(new) = correction {
        notes.push(
            json!({"text": format!("已订正为 Condition/{new} · superseded by Condition/{new}")}),
        );
    }
    if !notes.is_empty() {
        o["note"] = Value::Array(notes);
    }
    o
}

fn correction_of(reviews: &[Review]) -> Option<i64> {
    reviews.iter().rev().find_map(|r| r.correction_id)
}

fn viewer<'a>(user: &'a yiwei_store::user::User, remote: super::Remote) -> Viewer<'a> {
    Viewer {
        user,
        remote_addr: remote.0,
    }
}

pub async fn read(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let id: i64 = id.parse().map_err(|_| Outcome::not_found("Condition"))?;
    let (card, reviews) = access::open_case(&state.store, &viewer(&user, remote), id)
        .await
        .map_err(refused)?;
    Ok(Fhir(
        StatusCode::OK,
        to_condition(&card, correction_of(&reviews)),
    ))
}

/// A division code given as a search value (`area`).
pub(crate) fn area_of(value: &str) -> Result<DivisionCode, Outcome> {
    DivisionCode::parse(value.trim_start_matches("Location/")).map_err(|_| {
        Outcome::invalid(
            format!(
                "area must be a GB/T 2260 division code (6, 9 or 12 digits, e.g. 451226100), got {value:?}"
            ),
            "area 须为行政区划代码",
        )
    })
}

/// The disease codes of a `code` value: `hfmd`, `urn:yiwei:notifiable-disease|hfmd`,
/// comma for "or". Another system or an unknown disease is a 400.
pub(crate) fn disease_codes(value: &str) -> Result<Vec<String>, Outcome> {
    let mut out = Vec::new();
    for token in value.split(',').filter(|t| !t.is_empty()) {
        let code = match token.split_once('|') {
            Some((system, code)) if system.is_empty() || system == DISEASE_SYSTEM => code,
            Some((system, _)) => {
                return Err(Outcome::invalid(
                    format!("code system {system:?} is not searchable here; use {DISEASE_SYSTEM}"),
                    "不支持的编码系统",
                ));
            }
            None => token,
        };
        if disease::by_code(code).is_none() {
            return Err(Outcome::invalid(
                format!(
                    "unknown disease code {code:?}; see the codes of yiwei_domain::notifiable::disease (e.g. hfmd, influenza, tb)"
                ),
                format!("未知病种代码 {code}"),
            ));
        }
        out.push(code.to_owned());
    }
    Ok(out)
}

/// The local dates `[from, to)` covering a window of instants (a date is inside when any
/// part of its day is).
pub(crate) fn local_days(
    filter: &TimelineFilter,
    offset_hours: i32,
) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let local = |t: DateTime<Utc>| (t + chrono::Duration::hours(offset_hours.into())).naive_utc();
    let from = filter.from.map(|t| local(t).date());
    let to = filter.to.map(|t| {
        let l = local(t);
        if l.time() == NaiveTime::MIN {
            l.date()
        } else {
            l.date() + chrono::Duration::days(1)
        }
    });
    (from, to)
}

pub async fn search(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(raw.as_deref(), SEARCH_PARAMS)?;
    let mut patient = None;
    let mut diseases: Option<Vec<String>> = None;
    let (mut onset, mut recorded) = (Vec::new(), Vec::new());
    let mut area = None;
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
            "code" => {
                let list = disease_codes(v)?;
                diseases = Some(match diseases {
                    // Two `code` parameters are an "and": keep the codes both name.
                    Some(old) => old.into_iter().filter(|c| list.contains(c)).collect(),
                    None => list,
                });
            }
            "onset-date" => onset.push(v.as_str()),
            "recorded-date" => recorded.push(v.as_str()),
            "area" => {
                let a = area_of(v)?;
                if area.as_ref().is_some_and(|old: &DivisionCode| *old != a) {
                    return Err(Outcome::invalid("give area once", "area 只能给一个"));
                }
                area = Some(a);
            }
            _ => {}
        }
    }
    let offset = state.config.utc_offset_hours;
    let onset = date_window(&onset, offset, TimelineFilter::default())?;
    let recorded = date_window(&recorded, offset, TimelineFilter::default())?;
    let (onset_from, onset_to) = local_days(&onset, offset);
    let mut filter = CaseFilter {
        statuses: vec![
            CardStatus::Pending,
            CardStatus::ProbableDuplicate,
            CardStatus::Accepted,
        ],
        onset_from,
        onset_to,
        reported_from: recorded.from,
        reported_to: recorded.to,
        ..CaseFilter::default()
    };
    let viewer = viewer(&user, remote);
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::pages::org::urlencode(v)))
        .collect();
    // One disease is filtered in SQL; several are fetched one by one and merged, which
    // keeps paging exact without an IN list in the store's filter.
    let (list, total) = match diseases.as_deref() {
        Some([]) => (Vec::new(), 0),
        Some([one]) => {
            filter.disease = Some(one.clone());
            access::find_cases(
                &state.store,
                &viewer,
                patient,
                area.as_ref(),
                &filter,
                paging.count,
                paging.offset,
            )
            .await
            .map_err(refused)?
        }
        Some(many) => {
            let mut all = Vec::new();
            for d in many {
                filter.disease = Some(d.clone());
                let (list, _) = access::find_cases(
                    &state.store,
                    &viewer,
                    patient,
                    area.as_ref(),
                    &filter,
                    10_000,
                    0,
                )
                .await
                .map_err(refused)?;
                all.extend(list);
            }
            all.sort_by_key(|c| std::cmp::Reverse(c.id));
            let total = all.len() as i64;
            let page = all
                .into_iter()
                .skip(paging.offset as usize)
                .take(paging.count as usize)
                .collect();
            (page, total)
        }
        None => access::find_cases(
            &state.store,
            &viewer,
            patient,
            area.as_ref(),
            &filter,
            paging.count,
            paging.offset,
        )
        .await
        .map_err(refused)?,
    };
    let resources: Vec<Value> = list.iter().map(|c| to_condition(c, None)).collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "Condition",
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

    #[test]
    fn case_classes_map_to_r4_verification_statuses() {
        let cases = [
            (CaseClass::Suspected, CardStatus::Pending, "provisional"),
            (CaseClass::Clinical, CardStatus::Accepted, "confirmed"),
            (CaseClass::Confirmed, CardStatus::Accepted, "confirmed"),
            (CaseClass::Carrier, CardStatus::Pending, "confirmed"),
            (CaseClass::PositiveTest, CardStatus::Pending, "unconfirmed"),
            (
                CaseClass::Confirmed,
                CardStatus::Deleted,
                "entered-in-error",
            ),
        ];
        for (class, status, want) in cases {
            assert_eq!(verification(class, status).0, want, "{class:?} {status:?}");
        }
    }

    #[test]
    fn disease_codes_take_the_yiwei_system_or_none() {
        assert_eq!(disease_codes("hfmd").unwrap(), ["hfmd"]);
        assert_eq!(
            disease_codes("urn:yiwei:notifiable-disease|hfmd,influenza").unwrap(),
            ["hfmd", "influenza"]
        );
        assert!(disease_codes("http://hl7.org/fhir/sid/icd-10|B08.4").is_err());
        assert!(disease_codes("no-such-disease").is_err());
    }

    #[test]
    fn onset_windows_cover_whole_local_days() {
        let f = date_window(
            &["ge2026-03-01", "le2026-03-31"],
            8,
            TimelineFilter::default(),
        )
        .unwrap();
        let (from, to) = local_days(&f, 8);
        assert_eq!(from, NaiveDate::from_ymd_opt(2026, 3, 1));
        assert_eq!(to, NaiveDate::from_ymd_opt(2026, 4, 1));
    }
}
