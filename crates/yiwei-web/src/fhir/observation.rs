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
//! Programme visits (随访, 年度健康管理, 儿童健康检查; `programme_visit`) give the same
//! Observations from their form answers, under the same id scheme `<encounter id>-<figure>`
//! with the visit's Encounter: `sys`/`dia` as one blood-pressure panel `bp` (85354-9 with
//! 8480-6 and 8462-4; the forms do not record the arm, so there is no `bodySite`), `fpg`
//! as fasting glucose (14771-0, mmol/L, as above), `weight` (29463-7), `height`
//! (8302-2) and `heart_rate` (8867-4). Their `effectiveDateTime` is the visit's date
//! (day precision) and `issued` when it was recorded. A voided visit's Observations read
//! as `entered-in-error` and are left out of searches.
//!
//! Search needs `patient`/`subject` or `encounter`, and takes `code` (a LOINC code, with
//! or without `http://loinc.org|`, comma for "or"; `Observation.code` only, so the
//! panel's 85354-9 finds blood pressures) and `date` (as for Encounter). A search by
//! patient reads the exams (one audited timeline read) and the programme visits (one
//! audited read of the visits).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chrono::TimeZone;
use serde_json::{Value, json};
use yiwei_domain::exam::{Field, Measurements};
use yiwei_store::access::{self, AccessError, Viewer};
use yiwei_store::encounter::{Encounter, TimelineFilter};
use yiwei_store::programme::VisitRecord;

use super::encounter::{date_window, instant, patient_id, refused};
use super::{Fhir, FhirUser, Outcome, bundle, parse_search};
use crate::AppState;
use yiwei_store::access::programmes as programme_gate;

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

/// Where a figure is read from: an exam's measurement or a programme visit's answer.
#[derive(Clone, Copy)]
enum Source {
    Exam(Field),
    Answer(&'static str),
}

use Source::{Answer, Exam};

enum What {
    /// A blood-pressure panel: systolic, diastolic, and the arm as a SNOMED body site when
    /// it is known.
    Pressure(Source, Source, Option<(&'static str, &'static str)>),
    /// One figure: where from, UCUM code, unit as shown.
    Figure(Source, &'static str, &'static str),
}

const KINDS: &[Kind] = &[
    Kind {
        slug: "bp-left",
        loinc: "85354-9",
        display: "Blood pressure panel with all children optional",
        profile: Some("http://hl7.org/fhir/StructureDefinition/bp"),
        category: "vital-signs",
        what: What::Pressure(
            Exam(Field::BpLeftSys),
            Exam(Field::BpLeftDia),
            Some(("368208006", "Left upper arm structure")),
        ),
    },
    Kind {
        slug: "bp-right",
        loinc: "85354-9",
        display: "Blood pressure panel with all children optional",
        profile: Some("http://hl7.org/fhir/StructureDefinition/bp"),
        category: "vital-signs",
        what: What::Pressure(
            Exam(Field::BpRightSys),
            Exam(Field::BpRightDia),
            Some(("368209003", "Right upper arm structure")),
        ),
    },
    Kind {
        slug: "heart-rate",
        loinc: "8867-4",
        display: "Heart rate",
        profile: Some("http://hl7.org/fhir/StructureDefinition/heartrate"),
        category: "vital-signs",
        what: What::Figure(Exam(Field::Pulse), "/min", "beats/minute"),
    },
    Kind {
        slug: "body-temperature",
        loinc: "8310-5",
        display: "Body temperature",
        profile: Some("http://hl7.org/fhir/StructureDefinition/bodytemp"),
        category: "vital-signs",
        what: What::Figure(Exam(Field::Temperature), "Cel", "°C"),
    },
    Kind {
        slug: "respiratory-rate",
        loinc: "9279-1",
        display: "Respiratory rate",
        profile: Some("http://hl7.org/fhir/StructureDefinition/resprate"),
        category: "vital-signs",
        what: What::Figure(Exam(Field::Respiration), "/min", "breaths/minute"),
    },
    Kind {
        slug: "body-height",
        loinc: "8302-2",
        display: "Body height",
        profile: Some("http://hl7.org/fhir/StructureDefinition/bodyheight"),
        category: "vital-signs",
        what: What::Figure(Exam(Field::Height), "cm", "cm"),
    },
    Kind {
        slug: "body-weight",
        loinc: "29463-7",
        display: "Body weight",
        profile: Some("http://hl7.org/fhir/StructureDefinition/bodyweight"),
        category: "vital-signs",
        what: What::Figure(Exam(Field::Weight), "kg", "kg"),
    },
    Kind {
        slug: "bmi",
        loinc: "39156-5",
        display: "Body mass index (BMI) [Ratio]",
        profile: Some("http://hl7.org/fhir/StructureDefinition/bmi"),
        category: "vital-signs",
        what: What::Figure(Exam(Field::Bmi), "kg/m2", "kg/m2"),
    },
    Kind {
        slug: "waist",
        loinc: "8280-0",
        display: "Waist Circumference at umbilicus by Tape measure",
        profile: None,
        category: "vital-signs",
        what: What::Figure(Exam(Field::Waist), "cm", "cm"),
    },
    Kind {
        slug: "fasting-glucose",
        loinc: "14771-0",
        display: "Fasting glucose [Moles/volume] in Serum or Plasma",
        profile: None,
        category: "laboratory",
        what: What::Figure(Exam(Field::FastingGlucose), "mmol/L", "mmol/L"),
    },
];

/// The figures of a programme visit's answers (keys of `yiwei_domain::programme`'s forms),
/// with the same slugs, codes and units as the exam's.
const VISIT_KINDS: &[Kind] = &[
    Kind {
        slug: "bp",
        loinc: "85354-9",
        display: "Blood pressure panel with all children optional",
        profile: Some("http://hl7.org/fhir/StructureDefinition/bp"),
        category: "vital-signs",
        what: What::Pressure(Answer("sys"), Answer("dia"), None),
    },
    Kind {
        slug: "heart-rate",
        loinc: "8867-4",
        display: "Heart rate",
        profile: Some("http://hl7.org/fhir/StructureDefinition/heartrate"),
        category: "vital-signs",
        what: What::Figure(Answer("heart_rate"), "/min", "beats/minute"),
    },
    Kind {
        slug: "body-height",
        loinc: "8302-2",
        display: "Body height",
        profile: Some("http://hl7.org/fhir/StructureDefinition/bodyheight"),
        category: "vital-signs",
        what: What::Figure(Answer("height"), "cm", "cm"),
    },
    Kind {
        slug: "body-weight",
        loinc: "29463-7",
        display: "Body weight",
        profile: Some("http://hl7.org/fhir/StructureDefinition/bodyweight"),
        category: "vital-signs",
        what: What::Figure(Answer("weight"), "kg", "kg"),
    },
    Kind {
        slug: "fasting-glucose",
        loinc: "14771-0",
        display: "Fasting glucose [Moles/volume] in Serum or Plasma",
        profile: None,
        category: "laboratory",
        what: What::Figure(Answer("fpg"), "mmol/L", "mmol/L"),
    },
];

/// What an Observation is made from: the event it belongs to and where its figures are.
struct Origin<'a> {
    encounter_id: i64,
    resident_id: i64,
    effective: String,
    recorded: chrono::DateTime<chrono::Utc>,
    performer: Option<(i64, &'a str)>,
    voided: bool,
    figures: Figures<'a>,
}

enum Figures<'a> {
    Exam(&'a Measurements),
    Answers(&'a Value),
}

impl Figures<'_> {
    fn get(&self, source: Source) -> Option<f64> {
        match (self, source) {
            (Figures::Exam(m), Exam(field)) => m.get(field),
            (Figures::Answers(a), Answer(key)) => a.get(key)?.as_f64(),
            _ => None,
        }
    }
}

impl<'a> Origin<'a> {
    fn of_exam(e: &'a Encounter, m: &'a Measurements) -> Origin<'a> {
        Origin {
            encounter_id: e.id,
            resident_id: e.resident_id,
            effective: instant(e.started_at),
            recorded: e.created_at,
            performer: Some((e.institution_id, &e.institution_name)),
            voided: e.voided.is_some(),
            figures: Figures::Exam(m),
        }
    }

    fn of_visit(v: &'a VisitRecord) -> Origin<'a> {
        Origin {
            encounter_id: v.encounter_id,
            resident_id: v.resident_id,
            effective: v.visit_date.to_string(),
            recorded: v.recorded_at,
            performer: None,
            voided: v.voided,
            figures: Figures::Answers(&v.answers),
        }
    }
}

fn quantity(value: f64, code: &str, unit: &str) -> Value {
    json!({"value": value, "unit": unit, "system": UCUM, "code": code})
}

fn concept(code: &str, display: &str) -> Value {
    json!({"coding": [{"system": LOINC, "code": code, "display": display}], "text": display})
}

/// The Observation of one kind of figure of an exam or a visit, if it was measured.
fn observation(e: &Origin<'_>, kind: &Kind) -> Option<Value> {
    let category_display = if kind.category == "laboratory" {
        "Laboratory"
    } else {
        "Vital Signs"
    };
    let mut o = json!({
        "resourceType": "Observation",
        "id": format!("{}-{}", e.encounter_id, kind.slug),
        "meta": {"lastUpdated": instant(e.recorded)},
        "status": if e.voided { "entered-in-error" } else { "final" },
        "category": [{
            "coding": [{"system": CATEGORY, "code": kind.category, "display": category_display}],
            "text": category_display
        }],
        "code": concept(kind.loinc, kind.display),
        "subject": {"reference": format!("Patient/{}", e.resident_id)},
        "encounter": {"reference": format!("Encounter/{}", e.encounter_id)},
        "effectiveDateTime": e.effective,
        "issued": e.recorded.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    if let Some((id, name)) = e.performer {
        o["performer"] = json!([{"reference": format!("Organization/{id}"), "display": name}]);
    }
    if let Some(profile) = kind.profile {
        o["meta"]["profile"] = json!([profile]);
    }
    match kind.what {
        What::Pressure(sys, dia, site) => {
            let (s, d) = (e.figures.get(sys)?, e.figures.get(dia)?);
            if let Some((site, site_display)) = site {
                o["bodySite"] = json!({
                    "coding": [{"system": SNOMED, "code": site, "display": site_display}],
                    "text": site_display
                });
            }
            o["component"] = json!([
                {"code": concept("8480-6", "Systolic blood pressure"), "valueQuantity": quantity(s, "mm[Hg]", "mmHg")},
                {"code": concept("8462-4", "Diastolic blood pressure"), "valueQuantity": quantity(d, "mm[Hg]", "mmHg")},
            ]);
        }
        What::Figure(field, code, unit) => {
            o["valueQuantity"] = quantity(e.figures.get(field)?, code, unit);
        }
    }
    Some(o)
}

/// Every Observation of an encounter (none unless it is an exam).
pub fn of_encounter(e: &Encounter) -> Vec<Value> {
    let Some(x) = &e.exam else {
        return Vec::new();
    };
    let origin = Origin::of_exam(e, &x.measurements);
    KINDS
        .iter()
        .filter_map(|k| observation(&origin, k))
        .collect()
}

/// Every Observation of a programme visit's answers.
pub fn of_visit(v: &VisitRecord) -> Vec<Value> {
    let origin = Origin::of_visit(v);
    VISIT_KINDS
        .iter()
        .filter_map(|k| observation(&origin, k))
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
    if !KINDS.iter().chain(VISIT_KINDS).any(|k| k.slug == slug) {
        return Err(not_found());
    }
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let e = access::open_encounter(&state.store, &viewer, encounter_id)
        .await
        .map_err(refused)?;
    let o = match &e.exam {
        Some(x) => {
            let kind = KINDS.iter().find(|k| k.slug == slug);
            kind.and_then(|k| observation(&Origin::of_exam(&e, &x.measurements), k))
        }
        None => {
            let Some(kind) = VISIT_KINDS.iter().find(|k| k.slug == slug) else {
                return Err(not_found());
            };
            let v = match programme_gate::open_visit_of_encounter(&state.store, &viewer, e.id).await
            {
                Ok(v) => v,
                Err(AccessError::Store(yiwei_store::StoreError::NotFound(_))) => {
                    return Err(not_found());
                }
                Err(other) => return Err(refused(other)),
            };
            observation(&Origin::of_visit(&v), kind)
        }
    };
    Ok(Fhir(StatusCode::OK, o.ok_or_else(not_found)?))
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
    let offset_hours = state.config.utc_offset_hours;
    // A visit's day as instants [start, end) in county time, matched by overlap.
    let visit_in_window = |v: &VisitRecord| {
        let start = chrono::Utc.from_utc_datetime(&v.visit_date.and_time(chrono::NaiveTime::MIN))
            - chrono::Duration::hours(offset_hours.into());
        let end = start + chrono::Duration::days(1);
        !v.voided && filter.from.is_none_or(|f| end > f) && filter.to.is_none_or(|t| start < t)
    };
    let (exams, visits): (Vec<Encounter>, Vec<VisitRecord>) = match (encounter, patient) {
        (Some(id), _) => match access::open_encounter(&state.store, &viewer, id).await {
            Ok(e) => {
                let same_patient = patient.is_none_or(|p| p == e.resident_id);
                if !same_patient {
                    (vec![], vec![])
                } else if e.exam.is_some() {
                    let in_window = filter.from.is_none_or(|f| e.started_at >= f)
                        && filter.to.is_none_or(|t| e.started_at < t);
                    (if in_window { vec![e] } else { vec![] }, vec![])
                } else {
                    match programme_gate::open_visit_of_encounter(&state.store, &viewer, e.id).await
                    {
                        Ok(v) if visit_in_window(&v) => (vec![], vec![v]),
                        Ok(_) | Err(AccessError::Store(yiwei_store::StoreError::NotFound(_))) => {
                            (vec![], vec![])
                        }
                        Err(other) => return Err(refused(other)),
                    }
                }
            }
            Err(AccessError::Store(yiwei_store::StoreError::NotFound(_))) => (vec![], vec![]),
            Err(e) => return Err(refused(e)),
        },
        (None, Some(p)) => {
            let exams = access::timeline(&state.store, &viewer, p, &filter, MAX_EXAMS, 0)
                .await
                .map_err(refused)?
                .0;
            let visits = programme_gate::programme_visits(&state.store, &viewer, p)
                .await
                .map_err(refused)?;
            (
                exams,
                visits.into_iter().filter(|v| visit_in_window(v)).collect(),
            )
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
        .chain(visits.iter().flat_map(of_visit))
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
            version: 1,
            voided: None,
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
