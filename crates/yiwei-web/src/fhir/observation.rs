//! Observation: the measured figures of health exams (健康体检表), read and searched
//! through the access check.
//!
//! Each figure of an exam is one Observation with the id `<encounter id>-<figure>`, coded
//! in LOINC with UCUM units, `status` final, `subject` the Patient, `encounter` the exam's
//! Encounter, `performer` the Organization and `effectiveDateTime` the exam's start. The
//! vital signs follow the FHIR R4 vital-signs profiles (observation-vitalsigns.html) and
//! claim them in `meta.profile`: one blood-pressure panel (85354-9) per arm with systolic
//! (8480-6) and diastolic (8462-4) components and the arm as `bodySite` (SNOMED CT), heart
//! rate (8867-4; the form's 脉率), body temperature (8310-5), respiratory rate (9279-1),
//! height (8302-2), weight (29463-7) and BMI (39156-5). Waist circumference (8280-0) is a
//! vital sign without a core profile. Fasting glucose is a laboratory result in mmol/L,
//! so it is 14771-0 (Fasting glucose [Moles/volume] in Serum or Plasma); 1558-6 is the
//! mass concentration (mg/dL) and would not match the unit.
//!
//! Search needs `patient`/`subject` or `encounter`, and takes `code` (a LOINC code, with
//! or without `http://loinc.org|`, comma for "or"; `Observation.code` only, so the
//! panel's 85354-9 finds blood pressures) and `date` (as for Encounter).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use yiwei_domain::exam::{Field, Measurements};
use yiwei_store::access::{self, AccessError, Viewer};
use yiwei_store::encounter::{Encounter, TimelineFilter};

use super::encounter::{date_window, instant, patient_id, refused};
use super::{Fhir, FhirUser, Outcome, bundle, parse_search};
use crate::AppState;

pub const LOINC: &str = "http://loinc.org";
const UCUM: &str = "http://unitsofmeasure.org";
const SNOMED: &str = "http://snomed.info/sct";
const CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
/// The most exams of one resident that a search looks at.
const MAX_EXAMS: i64 = 1000;

/// One kind of Observation made from an exam.
struct Kind {
    /// The id suffix.
    slug: &'static str,
    loinc: &'static str,
    display: &'static str,
    /// The R4 core profile, for vital signs that have one.
    profile: Option<&'static str>,
    category: &'static str,
    what: What,
}

enum What {
    /// A blood-pressure panel of one arm: systolic, diastolic, SNOMED body site.
    Pressure(Field, Field, &'static str, &'static str),
    /// One figure: the field, UCUM code, unit as shown.
    Figure(Field, &'static str, &'static str),
}

const KINDS: &[Kind] = &[
    Kind {
        slug: "bp-left",
        loinc: "85354-9",
        display: "Blood pressure panel with all children optional",
        profile: Some("http://hl7.org/fhir/StructureDefinition/bp"),
        category: "vital-signs",
        what: What::Pressure(
            Field::BpLeftSys,
            Field::BpLeftDia,
            "368208006",
            "Left upper arm structure",
        ),
    },
    Kind {
        slug: "bp-right",
        loinc: "85354-9",
        display: "Blood pressure panel with all children optional",
        profile: Some("http://hl7.org/fhir/StructureDefinition/bp"),
        category: "vital-signs",
        what: What::Pressure(
            Field::BpRightSys,
            Field::BpRightDia,
            "368209003",
            "Right upper arm structure",
        ),
    },
    Kind {
        slug: "heart-rate",
        loinc: "8867-4",
        display: "Heart rate",
        profile: Some("http://hl7.org/fhir/StructureDefinition/heartrate"),
        category: "vital-signs",
        what: What::Figure(Field::Pulse, "/min", "beats/minute"),
    },
    Kind {
        slug: "body-temperature",
        loinc: "8310-5",
        display: "Body temperature",
        profile: Some("http://hl7.org/fhir/StructureDefinition/bodytemp"),
        category: "vital-signs",
        what: What::Figure(Field::Temperature, "Cel", "°C"),
    },
    Kind {
        slug: "respiratory-rate",
        loinc: "9279-1",
        display: "Respiratory rate",
        profile: Some("http://hl7.org/fhir/StructureDefinition/resprate"),
        category: "vital-signs",
        what: What::Figure(Field::Respiration, "/min", "breaths/minute"),
    },
    Kind {
        slug: "body-height",
        loinc: "8302-2",
        display: "Body height",
        profile: Some("http://hl7.org/fhir/StructureDefinition/bodyheight"),
        category: "vital-signs",
        what: What::Figure(Field::Height, "cm", "cm"),
    },
    Kind {
        slug: "body-weight",
        loinc: "29463-7",
        display: "Body weight",
        profile: Some("http://hl7.org/fhir/StructureDefinition/bodyweight"),
        category: "vital-signs",
        what: What::Figure(Field::Weight, "kg", "kg"),
    },
    Kind {
        slug: "bmi",
        loinc: "39156-5",
        display: "Body mass index (BMI) [Ratio]",
        profile: Some("http://hl7.org/fhir/StructureDefinition/bmi"),
        category: "vital-signs",
        what: What::Figure(Field::Bmi, "kg/m2", "kg/m2"),
    },
    Kind {
        slug: "waist",
        loinc: "8280-0",
        display: "Waist Circumference at umbilicus by Tape measure",
        profile: None,
        category: "vital-signs",
        what: What::Figure(Field::Waist, "cm", "cm"),
    },
    Kind {
        slug: "fasting-glucose",
        loinc: "14771-0",
        display: "Fasting glucose [Moles/volume] in Serum or Plasma",
        profile: None,
        category: "laboratory",
        what: What::Figure(Field::FastingGlucose, "mmol/L", "mmol/L"),
    },
];

fn quantity(value: f64, code: &str, unit: &str) -> Value {
    json!({"value": value, "unit": unit, "system": UCUM, "code": code})
}

fn concept(code: &str, display: &str) -> Value {
    json!({"coding": [{"system": LOINC, "code": code, "display": display}], "text": display})
}

/// The Observation of one kind of figure of an exam, if it was measured.
fn observation(e: &Encounter, m: &Measurements, kind: &Kind) -> Option<Value> {
    let category_display = if kind.category == "laboratory" {
        "Laboratory"
    } else {
        "Vital Signs"
    };
    let mut o = json!({
        "resourceType": "Observation",
        "id": format!("{}-{}", e.id, kind.slug),
        "meta": {"lastUpdated": instant(e.created_at)},
        "status": "final",
        "category": [{
            "coding": [{"system": CATEGORY, "code": kind.category, "display": category_display}],
            "text": category_display
        }],
        "code": concept(kind.loinc, kind.display),
        "subject": {"reference": format!("Patient/{}", e.resident_id)},
        "encounter": {"reference": format!("Encounter/{}", e.id)},
        "effectiveDateTime": instant(e.started_at),
        "issued": e.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "performer": [{"reference": format!("Organization/{}", e.institution_id), "display": e.institution_name}],
    });
    if let Some(profile) = kind.profile {
        o["meta"]["profile"] = json!([profile]);
    }
    match kind.what {
        What::Pressure(sys, dia, site, site_display) => {
            let (s, d) = (m.get(sys)?, m.get(dia)?);
            o["bodySite"] = json!({
                "coding": [{"system": SNOMED, "code": site, "display": site_display}],
                "text": site_display
            });
            o["component"] = json!([
                {"code": concept("8480-6", "Systolic blood pressure"), "valueQuantity": quantity(s, "mm[Hg]", "mmHg")},
                {"code": concept("8462-4", "Diastolic blood pressure"), "valueQuantity": quantity(d, "mm[Hg]", "mmHg")},
            ]);
        }
        What::Figure(field, code, unit) => {
            o["valueQuantity"] = quantity(m.get(field)?, code, unit);
        }
    }
    Some(o)
}

/// Every Observation of an encounter (none unless it is an exam).
pub fn of_encounter(e: &Encounter) -> Vec<Value> {
    let Some(x) = &e.exam else {
        return Vec::new();
    };
    KINDS
        .iter()
        .filter_map(|k| observation(e, &x.measurements, k))
        .collect()
}

pub async fn read(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let not_found = || Outcome::not_found("Observation");
    let (encounter_id, slug) = id.split_once('-').ok_or_else(not_found)?;
    let encounter_id: i64 = encounter_id.parse().map_err(|_| not_found())?;
    let kind = KINDS
        .iter()
        .find(|k| k.slug == slug)
        .ok_or_else(not_found)?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let e = access::open_encounter(&state.store, &viewer, encounter_id)
        .await
        .map_err(refused)?;
    let x = e.exam.as_ref().ok_or_else(not_found)?;
    let o = observation(&e, &x.measurements, kind).ok_or_else(not_found)?;
    Ok(Fhir(StatusCode::OK, o))
}

/// Whether an Observation's LOINC code matches one of a `code` search's values.
fn code_matches(o: &Value, wanted: &[(Option<String>, String)]) -> bool {
    let code = o["code"]["coding"][0]["code"].as_str().unwrap_or_default();
    wanted.iter().any(|(system, c)| {
        system.as_deref().is_none_or(|s| s.is_empty() || s == LOINC) && c == code
    })
}

pub async fn search(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(
        raw.as_deref(),
        &["patient", "subject", "encounter", "code", "date"],
    )?;
    let mut patient = None;
    let mut encounter = None;
    let mut codes: Option<Vec<(Option<String>, String)>> = None;
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
            "encounter" => {
                let id = v.trim_start_matches("Encounter/");
                encounter = Some(id.parse::<i64>().map_err(|_| {
                    Outcome::invalid(
                        format!("encounter must be an Encounter id or Encounter/<id>, got {v:?}"),
                        "encounter 须为 Encounter/<编号>",
                    )
                })?);
            }
            "code" => {
                let list = codes.get_or_insert_with(Vec::new);
                for token in v.split(',').filter(|t| !t.is_empty()) {
                    list.push(match token.split_once('|') {
                        Some((system, code)) => (Some(system.to_owned()), code.to_owned()),
                        None => (None, token.to_owned()),
                    });
                }
            }
            "date" => dates.push(v.as_str()),
            _ => {}
        }
    }
    let filter = date_window(
        &dates,
        state.config.utc_offset_hours,
        TimelineFilter {
            exams_only: true,
            ..TimelineFilter::default()
        },
    )?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let exams: Vec<Encounter> = match (encounter, patient) {
        (Some(id), _) => match access::open_encounter(&state.store, &viewer, id).await {
            Ok(e) => {
                let in_window = filter.from.is_none_or(|f| e.started_at >= f)
                    && filter.to.is_none_or(|t| e.started_at < t);
                let same_patient = patient.is_none_or(|p| p == e.resident_id);
                if in_window && same_patient {
                    vec![e]
                } else {
                    vec![]
                }
            }
            Err(AccessError::Store(yiwei_store::StoreError::NotFound(_))) => vec![],
            Err(e) => return Err(refused(e)),
        },
        (None, Some(p)) => {
            access::timeline(&state.store, &viewer, p, &filter, MAX_EXAMS, 0)
                .await
                .map_err(refused)?
                .0
        }
        (None, None) => {
            return Err(Outcome::invalid(
                "search Observation by patient (or subject) or encounter; listing every observation is not offered",
                "请按 patient 或 encounter 查询",
            ));
        }
    };
    let all: Vec<Value> = exams
        .iter()
        .flat_map(of_encounter)
        .filter(|o| codes.as_deref().is_none_or(|c| code_matches(o, c)))
        .collect();
    let total = all.len() as i64;
    let page: Vec<Value> = all
        .into_iter()
        .skip(paging.offset as usize)
        .take(paging.count as usize)
        .collect();
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::pages::org::urlencode(v)))
        .collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "Observation",
            &q.join("&"),
            &page,
            total,
            &paging,
        ),
    ))
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};
    use yiwei_domain::division::DivisionCode;
    use yiwei_domain::exam::EncounterKind;
    use yiwei_store::encounter::ExamFigures;

    use super::*;

    fn exam() -> Encounter {
        Encounter {
            id: 7,
            resident_id: 3,
            division: DivisionCode::parse("451226100201").unwrap(),
            institution_id: 5,
            institution_name: "城西村卫生室".into(),
            author_id: Some(2),
            author_name: None,
            kind: EncounterKind::HealthExam,
            started_at: Utc.with_ymd_and_hms(2026, 5, 12, 1, 30, 0).unwrap(),
            summary: String::new(),
            diagnoses: vec![],
            created_at: Utc.with_ymd_and_hms(2026, 5, 12, 2, 0, 0).unwrap(),
            exam: Some(ExamFigures {
                exam_date: NaiveDate::from_ymd_opt(2026, 5, 12).unwrap(),
                measurements: Measurements {
                    bp_left_sys: Some(146.0),
                    bp_left_dia: Some(92.0),
                    pulse_bpm: Some(76.0),
                    fasting_glucose_mmol: Some(6.1),
                    ..Measurements::default()
                },
                self_care: None,
                cognition: None,
                emotion: None,
            }),
        }
    }

    #[test]
    fn an_exam_gives_one_observation_per_measured_figure() {
        let list = of_encounter(&exam());
        let ids: Vec<&str> = list.iter().map(|o| o["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["7-bp-left", "7-heart-rate", "7-fasting-glucose"]);
        let bp = &list[0];
        assert_eq!(bp["code"]["coding"][0]["code"], "85354-9");
        assert_eq!(bp["component"][0]["code"]["coding"][0]["code"], "8480-6");
        assert_eq!(bp["component"][0]["valueQuantity"]["value"], 146.0);
        assert_eq!(bp["component"][1]["code"]["coding"][0]["code"], "8462-4");
        assert_eq!(bp["component"][1]["valueQuantity"]["code"], "mm[Hg]");
        assert_eq!(bp["bodySite"]["coding"][0]["code"], "368208006");
        assert!(bp.get("valueQuantity").is_none());
        assert_eq!(bp["effectiveDateTime"], "2026-05-12T01:30:00Z");
        assert_eq!(bp["encounter"]["reference"], "Encounter/7");
        assert_eq!(bp["subject"]["reference"], "Patient/3");
        let glucose = &list[2];
        assert_eq!(glucose["category"][0]["coding"][0]["code"], "laboratory");
        assert_eq!(glucose["valueQuantity"]["code"], "mmol/L");
        assert!(glucose["meta"].get("profile").is_none());
    }

    #[test]
    fn codes_match_with_or_without_the_loinc_system() {
        let list = of_encounter(&exam());
        let want = |s: Option<&str>, c: &str| vec![(s.map(str::to_owned), c.to_owned())];
        assert!(code_matches(&list[1], &want(None, "8867-4")));
        assert!(code_matches(&list[1], &want(Some(LOINC), "8867-4")));
        assert!(code_matches(&list[1], &want(Some(""), "8867-4")));
        assert!(!code_matches(&list[1], &want(Some("urn:other"), "8867-4")));
        assert!(
            !code_matches(&list[0], &want(None, "8480-6")),
            "components are not the code"
        );
    }
}
