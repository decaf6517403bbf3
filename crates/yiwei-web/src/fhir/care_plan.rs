//! CarePlan: a resident's public-health programmes (国家基本公共卫生服务项目), one plan
//! per programme episode, read and searched through the access gate
//! (`yiwei_store::access::programmes::programme_plans`, one audited read per request).
//!
//! Which plans exist, and their ids (FHIR ids allow `[A-Za-z0-9\-.]`, so a programme
//! code's `_` is written `-`; programme codes have no `-` of their own):
//! - `enr-<enrolment id>`: a stored enrolment (在管记录), open or ended;
//! - `age-<resident id>-<programme>`: an age-based programme the birth date enrols in
//!   (65+ annual check `elderly-annual`, child health 0–6 `child-health`, immunization
//!   `immunization`, the last until the 18th birthday);
//! - `rec-<resident id>-<programme>`: a condition programme the record's profile enrols
//!   in while no doctor has recorded an enrolment.
//!
//! Mapping (FHIR R4 CarePlan, careplan.html):
//! - `status` (RequestStatus): `active` for an open enrolment or a rule that holds today,
//!   `completed` for an ended enrolment or a rule that no longer holds;
//! - `intent` `plan`; `subject` the Patient; `period` the enrolment's first and last day
//!   (an age rule's last day when it has one);
//! - `category` and `title`: the programme code (`urn:yiwei:programme`) with its English
//!   name as display and the Chinese as text;
//! - `activity[]`: one per work-list row (`programme_due`) and one per visit recorded.
//!   A work-list row has `detail.code` `urn:yiwei:programme-visit|<programme>/<visit>`
//!   (for immunization the visit is `<series>:<dose>`) and `detail.scheduledPeriod` its
//!   window. A visit has `detail.status` `completed` and `outcomeReference` its Encounter.
//!
//! `detail.status` of a work-list row (CarePlanActivityStatus, a required binding):
//! upcoming, due and overdue rows are all `not-started` ("planned but no action has yet
//! been taken"), with `statusReason.text` saying which; `scheduled` is not used because it
//! means an appointment or booking exists, and the work list books nothing, and
//! `in-progress` means the visit has begun. A missed row (the window closed, the visit can
//! no longer count) is `cancelled` ("the planned activity has been withdrawn"), again with
//! the reason as text: `stopped` would claim it had started.
//!
//! Voided visits and immunization doses are not activities: doses are Immunization
//! resources (search them by patient). Search needs `patient` (or `subject`) and takes
//! `status` (comma for or), `category` (a programme code, with or without the system) and
//! `date` (the plan's period overlaps the searched range; `ge`, `gt`, `le`, `lt`, `eq`).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};
use yiwei_domain::programme::{Enrolment as Rule, Status};
use yiwei_store::access::programmes::{self as gate, Derived, Plans};
use yiwei_store::access::{AccessError, Viewer};
use yiwei_store::encounter::TimelineFilter;
use yiwei_store::programme::{self as store_programme, Catalogue, DueRow, Enrolment, VisitRecord};

use super::encounter::{date_window, patient_id, refused};
use super::{Fhir, FhirUser, Outcome, bundle, parse_search};
use crate::AppState;

pub const PROGRAMME_SYSTEM: &str = "urn:yiwei:programme";
pub const VISIT_SYSTEM: &str = "urn:yiwei:programme-visit";

/// The id of a plan, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanId {
    Enrolment(i64),
    /// A programme that holds by the record (`age-` or `rec-`).
    Derived {
        resident_id: i64,
        programme: String,
    },
}

/// Whether a programme enrols by age alone (immunization included).
pub fn is_age_based(catalogue: &Catalogue, programme: &str) -> bool {
    programme == store_programme::IMMUNIZATION
        || catalogue
            .programme(programme)
            .is_some_and(|p| matches!(p.enrolment, Rule::AgeFrom(_) | Rule::AgeBelow(_)))
}

impl PlanId {
    pub fn render(&self, catalogue: &Catalogue) -> String {
        match self {
            PlanId::Enrolment(id) => format!("enr-{id}"),
            PlanId::Derived {
                resident_id,
                programme,
            } => {
                let prefix = if is_age_based(catalogue, programme) {
                    "age"
                } else {
                    "rec"
                };
                format!("{prefix}-{resident_id}-{}", programme.replace('_', "-"))
            }
        }
    }

    /// Parse an id; `None` for anything [`PlanId::render`] cannot have written.
    pub fn parse(id: &str, catalogue: &Catalogue) -> Option<PlanId> {
        let (prefix, rest) = id.split_once('-')?;
        let parsed = match prefix {
            "enr" => PlanId::Enrolment(rest.parse().ok().filter(|n: &i64| *n > 0)?),
            "age" | "rec" => {
                let (resident, programme) = rest.split_once('-')?;
                PlanId::Derived {
                    resident_id: resident.parse().ok()?,
                    programme: programme.replace('-', "_"),
                }
            }
            _ => return None,
        };
        (parsed.render(catalogue) == id).then_some(parsed)
    }
}

/// The plan a work-list row or a visit of `programme` belongs to: the open enrolment, else
/// the derived plan.
pub fn plan_of_row(resident_id: i64, programme: &str, open_enrolment: Option<i64>) -> PlanId {
    match open_enrolment {
        Some(id) => PlanId::Enrolment(id),
        None => PlanId::Derived {
            resident_id,
            programme: programme.to_owned(),
        },
    }
}

/// The R4 CarePlanActivityStatus of a work-list row and the reason as text.
pub fn activity_status(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Upcoming => (
            "not-started",
            "未到期 / upcoming: the window has not opened",
        ),
        Status::Due => ("not-started", "到期 / due: inside the window"),
        Status::Overdue => (
            "not-started",
            "逾期 / overdue: the window has passed, the visit still counts",
        ),
        Status::Missed => (
            "cancelled",
            "失访 / missed: the window closed, the visit can no longer count",
        ),
    }
}

/// The visit coding of a programme's visit kind: (system, code, English, Chinese).
pub fn visit_concept(catalogue: &Catalogue, programme: &str, visit_code: &str) -> Value {
    let (zh, en) = catalogue.visit_names(programme, visit_code);
    json!({
        "coding": [{"system": VISIT_SYSTEM, "code": format!("{programme}/{visit_code}"), "display": en}],
        "text": zh
    })
}

/// The programme as a CodeableConcept.
pub fn programme_concept(catalogue: &Catalogue, programme: &str) -> Value {
    let (zh, en) = catalogue.names(programme);
    json!({
        "coding": [{"system": PROGRAMME_SYSTEM, "code": programme, "display": en}],
        "text": zh
    })
}

/// One plan before rendering.
struct Plan<'a> {
    id: PlanId,
    resident_id: i64,
    programme: &'a str,
    active: bool,
    start: NaiveDate,
    /// The last day, if known.
    end: Option<NaiveDate>,
    due: Vec<&'a (DueRow, Status)>,
    visits: Vec<&'a VisitRecord>,
}

impl Plan<'_> {
    /// The instants `[low, high)` the period covers in county time.
    fn covers(&self, offset_hours: i32) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
        let at = |d: NaiveDate| {
            Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN))
                - Duration::hours(offset_hours.into())
        };
        (at(self.start), self.end.and_then(|e| e.succ_opt()).map(at))
    }
}

/// Whether the enrolment's days hold `day`.
fn enrolment_holds(e: &Enrolment, day: NaiveDate) -> bool {
    day >= e.started_on && e.ended_on.is_none_or(|end| day <= end)
}

/// Every plan of a resident, enrolments first (open ones first), then derived ones.
fn plans<'a>(resident_id: i64, p: &'a Plans, today: NaiveDate) -> Vec<Plan<'a>> {
    let o = &p.overview;
    let mut out: Vec<Plan<'a>> = Vec::new();
    for e in &o.enrolments {
        let open = e.ended_on.is_none();
        out.push(Plan {
            id: PlanId::Enrolment(e.id),
            resident_id,
            programme: &e.programme,
            active: open,
            start: e.started_on,
            end: e.ended_on,
            due: if open {
                o.due
                    .iter()
                    .filter(|(d, _)| d.programme == e.programme)
                    .collect()
            } else {
                Vec::new()
            },
            visits: Vec::new(),
        });
    }
    for Derived { programme, period } in &p.derived {
        out.push(Plan {
            id: PlanId::Derived {
                resident_id,
                programme: programme.clone(),
            },
            resident_id,
            programme,
            active: period.contains(today),
            start: period.from,
            end: period.until.and_then(|u| u.pred_opt()),
            due: o
                .due
                .iter()
                .filter(|(d, _)| &d.programme == programme)
                .collect(),
            visits: Vec::new(),
        });
    }
    // A visit belongs to the enrolment of its programme holding its day (an open one
    // first), else to the derived plan of the programme.
    for v in o.visits.iter().filter(|v| !v.voided) {
        let by_enrolment = o
            .enrolments
            .iter()
            .filter(|e| e.programme == v.programme && enrolment_holds(e, v.visit_date))
            .map(|e| PlanId::Enrolment(e.id))
            .next();
        let target = by_enrolment.unwrap_or_else(|| PlanId::Derived {
            resident_id,
            programme: v.programme.clone(),
        });
        if let Some(plan) = out.iter_mut().find(|p| p.id == target) {
            plan.visits.push(v);
        }
    }
    out
}

fn to_care_plan(plan: &Plan<'_>, catalogue: &Catalogue) -> Value {
    let (zh, en) = catalogue.names(plan.programme);
    let mut period = json!({"start": plan.start.to_string()});
    if let Some(end) = plan.end {
        period["end"] = json!(end.to_string());
    }
    let mut activities: Vec<Value> = plan
        .due
        .iter()
        .map(|(row, status)| {
            let (code, reason) = activity_status(*status);
            json!({"detail": {
                "code": visit_concept(catalogue, &row.programme, &row.visit_code),
                "status": code,
                "statusReason": {"text": reason},
                "scheduledPeriod": {"start": row.due_from.to_string(), "end": row.due_by.to_string()},
            }})
        })
        .collect();
    activities.extend(plan.visits.iter().map(|v| {
        json!({
            "outcomeReference": [{"reference": format!("Encounter/{}", v.encounter_id)}],
            "detail": {
                "code": visit_concept(catalogue, &v.programme, &v.visit_code),
                "status": "completed",
                "scheduledString": v.visit_date.to_string(),
            }
        })
    }));
    let mut plan_json = json!({
        "resourceType": "CarePlan",
        "id": plan.id.render(catalogue),
        "status": if plan.active { "active" } else { "completed" },
        "intent": "plan",
        "category": [programme_concept(catalogue, plan.programme)],
        "title": format!("{zh} / {en}"),
        "subject": {"reference": format!("Patient/{}", plan.resident_id)},
        "period": period,
    });
    if !activities.is_empty() {
        plan_json["activity"] = Value::Array(activities);
    }
    plan_json
}

pub(crate) fn today(state: &AppState) -> NaiveDate {
    (Utc::now() + Duration::hours(i64::from(state.config.utc_offset_hours))).date_naive()
}

/// An access error of a plan or task read: not found as 404 of `what`, the rest as usual.
pub(crate) fn refused_as(what: &'static str) -> impl Fn(AccessError) -> Outcome {
    move |e| match e {
        AccessError::Store(yiwei_store::StoreError::NotFound(_)) => Outcome::not_found(what),
        other => refused(other),
    }
}

pub async fn read(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let catalogue = &state.config.programmes;
    let not_found = || Outcome::not_found("CarePlan");
    let plan_id = PlanId::parse(&id, catalogue).ok_or_else(not_found)?;
    let resident_id = match &plan_id {
        PlanId::Enrolment(e) => {
            store_programme::get_enrolment(&state.store, *e)
                .await
                .map_err(|e| match e {
                    yiwei_store::StoreError::NotFound(_) => not_found(),
                    other => other.into(),
                })?
                .resident_id
        }
        PlanId::Derived { resident_id, .. } => *resident_id,
    };
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let now = today(&state);
    let p = gate::programme_plans(&state.store, &viewer, catalogue, resident_id, now)
        .await
        .map_err(refused_as("CarePlan"))?;
    let all = plans(resident_id, &p, now);
    let plan = all.iter().find(|x| x.id == plan_id).ok_or_else(not_found)?;
    Ok(Fhir(StatusCode::OK, to_care_plan(plan, catalogue)))
}

const STATUSES: [&str; 7] = [
    "draft",
    "active",
    "on-hold",
    "revoked",
    "completed",
    "entered-in-error",
    "unknown",
];

/// The programme code of a `category` or `code` token: `<code>` or `urn:yiwei:programme|<code>`.
pub(crate) fn programme_token(
    name: &str,
    token: &str,
    catalogue: &Catalogue,
) -> Result<String, Outcome> {
    let code = match token.split_once('|') {
        Some(("" | PROGRAMME_SYSTEM, code)) => code,
        Some((system, _)) => {
            return Err(Outcome::invalid(
                format!("{name} system {system:?} is not known; use {PROGRAMME_SYSTEM}"),
                format!("{name} 编码系统有误"),
            ));
        }
        None => token,
    };
    if code != store_programme::IMMUNIZATION && catalogue.programme(code).is_none() {
        let mut known: Vec<&str> = catalogue.programmes.iter().map(|p| p.code).collect();
        known.push(store_programme::IMMUNIZATION);
        return Err(Outcome::invalid(
            format!(
                "{name} {code:?} is not a programme; one of: {}",
                known.join(", ")
            ),
            format!("{name} 不是已知的服务项目"),
        ));
    }
    Ok(code.to_owned())
}

pub async fn search(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let catalogue = &state.config.programmes;
    let (pairs, paging) = parse_search(
        raw.as_deref(),
        &["patient", "subject", "status", "category", "date"],
    )?;
    let mut patient = None;
    let mut statuses: Vec<String> = Vec::new();
    let mut categories: Vec<String> = Vec::new();
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
            "status" => {
                for s in v.split(',') {
                    if !STATUSES.contains(&s) {
                        return Err(Outcome::invalid(
                            format!(
                                "status {s:?} is not a CarePlan status; one of: {}",
                                STATUSES.join(", ")
                            ),
                            "status 取值有误",
                        ));
                    }
                    statuses.push(s.to_owned());
                }
            }
            "category" => {
                for token in v.split(',') {
                    categories.push(programme_token("category", token, catalogue)?);
                }
            }
            "date" => dates.push(v.as_str()),
            _ => {}
        }
    }
    let Some(patient) = patient else {
        return Err(Outcome::invalid(
            "search CarePlan by patient (or subject); for the work list of an area search Task",
            "请按 patient 查询",
        ));
    };
    let offset_hours = state.config.utc_offset_hours;
    let window = date_window(&dates, offset_hours, TimelineFilter::default())?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let now = today(&state);
    let p = gate::programme_plans(&state.store, &viewer, catalogue, patient, now)
        .await
        .map_err(refused)?;
    let selected: Vec<Value> = plans(patient, &p, now)
        .iter()
        .filter(|plan| {
            let status = if plan.active { "active" } else { "completed" };
            statuses.is_empty() || statuses.iter().any(|s| s == status)
        })
        .filter(|plan| categories.is_empty() || categories.iter().any(|c| c == plan.programme))
        .filter(|plan| {
            let (low, high) = plan.covers(offset_hours);
            window.to.is_none_or(|to| low < to)
                && window.from.is_none_or(|from| high.is_none_or(|h| h > from))
        })
        .map(|plan| to_care_plan(plan, catalogue))
        .collect();
    let total = selected.len() as i64;
    let page: Vec<Value> = selected
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
            "CarePlan",
            &q.join("&"),
            &page,
            total,
            &paging,
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_ids_round_trip_and_refuse_what_was_never_written() {
        let c = Catalogue::default();
        let cases = [
            (PlanId::Enrolment(12), "enr-12"),
            (
                PlanId::Derived {
                    resident_id: 7,
                    programme: "elderly_annual".into(),
                },
                "age-7-elderly-annual",
            ),
            (
                PlanId::Derived {
                    resident_id: 7,
                    programme: "immunization".into(),
                },
                "age-7-immunization",
            ),
            (
                PlanId::Derived {
                    resident_id: 9,
                    programme: "hypertension".into(),
                },
                "rec-9-hypertension",
            ),
        ];
        for (id, text) in cases {
            assert_eq!(id.render(&c), text);
            assert_eq!(PlanId::parse(text, &c), Some(id), "{text}");
        }
        for bad in [
            "enr-",
            "enr-x",
            "enr-0",
            "age-7-hypertension",
            "rec-7-elderly-annual",
            "age-x-immunization",
            "12",
            "zzz-1",
        ] {
            assert_eq!(PlanId::parse(bad, &c), None, "{bad}");
        }
    }

    #[test]
    fn every_id_fits_the_fhir_id_pattern() {
        let c = Catalogue::default();
        let mut codes: Vec<&str> = c.programmes.iter().map(|p| p.code).collect();
        codes.push(store_programme::IMMUNIZATION);
        for code in codes {
            let id = PlanId::Derived {
                resident_id: 99_999_999,
                programme: code.into(),
            }
            .render(&c);
            assert!(id.len() <= 64, "{id}");
            assert!(
                id.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '.'),
                "{id}"
            );
            assert!(PlanId::parse(&id, &c).is_some(), "{id}");
        }
    }

    #[test]
    fn open_rows_are_not_started_and_missed_ones_cancelled() {
        assert_eq!(activity_status(Status::Upcoming).0, "not-started");
        assert_eq!(activity_status(Status::Due).0, "not-started");
        assert_eq!(activity_status(Status::Overdue).0, "not-started");
        assert_eq!(activity_status(Status::Missed).0, "cancelled");
    }
}
