//! Task: one row of the programme work list (`programme_due`: a visit due in a window), so
//! that external work-list apps can pull what is due. Read and searched through the access
//! gate: by patient as one audited read of the resident's programmes
//! (`programme_plans`), without patient as a list read of the user's area
//! (`worklist_with_enrolments`, the list rule and one audit row).
//!
//! Id: `<resident id>.<programme>.<visit>.<YYYYMMDD of the window's first day>`, the
//! stored key of the row, with `_` written `-` and an immunization visit's `:` written `.`
//! (`12.hypertension.followup.20261201`, `40.immunization.hepb.2.20260301`). Programme
//! and visit codes have no `-` or `.` of their own, so the id parses back.
//!
//! Status (R4 TaskStatus, a required binding), with the work-list status in
//! `businessStatus` (`urn:yiwei:due-status`) so nothing is lost:
//! - upcoming → `draft` ("not yet ready to be acted upon"): the window has not opened,
//!   and its dates still move when a visit is recorded;
//! - due, overdue → `ready` ("ready to be performed, but no action has yet been taken;
//!   used in place of requested/received/accepted when assignment and acceptance is a
//!   given"): the contract and the village say who does it, nobody accepts it. An overdue
//!   visit still counts, so it is not `on-hold` (which would mean started and paused) or
//!   `failed`;
//! - missed → `cancelled` ("the task was not completed"), with `statusReason` text: the
//!   window closed and the visit can no longer count.
//!
//! A visit done removes its row from the work list, so there is no `completed` Task: the
//! visit is an Encounter, linked from the CarePlan. `intent` is `plan`; `for` the Patient;
//! `basedOn` the CarePlan of the programme (see `care_plan.rs`); `code` the visit kind
//! (`urn:yiwei:programme-visit|<programme>/<visit>`, text the programme and visit names in
//! Chinese, `description` in English); `restriction.period` the window (R4: "over what time
//! period is fulfillment sought"). `executionPeriod` is left out: R4 defines it as when
//! action was actually taken, and nothing has been.
//!
//! Search takes `patient` (or `subject`), `status` (TaskStatus codes, comma for or), `code`
//! (a programme code, `urn:yiwei:programme|<code>` or bare, comma for or) and `period` (the
//! window overlaps the searched range; yiwei searches `restriction.period`, since
//! `executionPeriod` is empty). Without `patient` it lists the user's area (their reach):
//! rows whose window opens by the `le`/`lt` bound (default: the end of this month), and
//! missed rows of the last 31 days; at most 5,000 rows are read.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};
use yiwei_domain::programme::Status;
use yiwei_store::access::Viewer;
use yiwei_store::access::programmes as gate;
use yiwei_store::encounter::TimelineFilter;
use yiwei_store::programme::{Catalogue, WorkFilter};

use super::care_plan::{PlanId, plan_of_row, programme_token, refused_as, today, visit_concept};
use super::encounter::{date_window, patient_id, refused};
use super::{Fhir, FhirUser, Outcome, bundle, parse_search};
use crate::AppState;

pub const DUE_STATUS_SYSTEM: &str = "urn:yiwei:due-status";
/// The most work-list rows a search without `patient` reads.
const MAX_LIST: i64 = 5000;

/// The key of a work-list row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskId {
    pub resident_id: i64,
    pub programme: String,
    pub visit_code: String,
    pub due_from: NaiveDate,
}

impl TaskId {
    pub fn render(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.resident_id,
            self.programme.replace('_', "-"),
            self.visit_code.replace('_', "-").replace(':', "."),
            self.due_from.format("%Y%m%d")
        )
    }

    /// Parse an id; `None` for anything [`TaskId::render`] cannot have written.
    pub fn parse(id: &str) -> Option<TaskId> {
        let mut parts = id.split('.');
        let resident_id: i64 = parts.next()?.parse().ok()?;
        let programme = parts.next()?.replace('-', "_");
        let rest: Vec<&str> = parts.collect();
        let (date, visit) = rest.split_last()?;
        if visit.is_empty() || visit.iter().any(|p| p.is_empty()) {
            return None;
        }
        let parsed = TaskId {
            resident_id,
            programme,
            visit_code: visit.join(":").replace('-', "_"),
            due_from: NaiveDate::parse_from_str(date, "%Y%m%d").ok()?,
        };
        (parsed.render() == id).then_some(parsed)
    }
}

/// The R4 TaskStatus of a work-list status.
pub fn task_status(status: Status) -> &'static str {
    match status {
        Status::Upcoming => "draft",
        Status::Due | Status::Overdue => "ready",
        Status::Missed => "cancelled",
    }
}

/// One Task in the making.
pub struct Row<'a> {
    pub key: TaskId,
    pub due_by: NaiveDate,
    pub status: Status,
    pub plan: PlanId,
    pub catalogue: &'a Catalogue,
}

fn status_names(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Upcoming => ("未到期", "Upcoming"),
        Status::Due => ("到期", "Due"),
        Status::Overdue => ("逾期", "Overdue"),
        Status::Missed => ("失访", "Missed"),
    }
}

pub fn to_task(row: &Row<'_>) -> Value {
    let c = row.catalogue;
    let k = &row.key;
    let (pzh, pen) = c.names(&k.programme);
    let (vzh, ven) = c.visit_names(&k.programme, &k.visit_code);
    let mut code = visit_concept(c, &k.programme, &k.visit_code);
    code["text"] = json!(format!("{pzh}：{vzh}"));
    let (szh, sen) = status_names(row.status);
    let mut task = json!({
        "resourceType": "Task",
        "id": k.render(),
        "basedOn": [{"reference": format!("CarePlan/{}", row.plan.render(c))}],
        "status": task_status(row.status),
        "businessStatus": {
            "coding": [{"system": DUE_STATUS_SYSTEM, "code": row.status.as_str(), "display": sen}],
            "text": szh
        },
        "intent": "plan",
        "code": code,
        "description": format!("{pen}: {ven}"),
        "for": {"reference": format!("Patient/{}", k.resident_id)},
        "restriction": {"period": {"start": k.due_from.to_string(), "end": row.due_by.to_string()}},
    });
    if row.status == Status::Missed {
        task["statusReason"] = json!({"text": "失访：服务时间窗已过 / missed: the window closed, the visit can no longer count"});
    }
    task
}

pub async fn read(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    remote: super::Remote,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let catalogue = &state.config.programmes;
    let key = TaskId::parse(&id).ok_or_else(|| Outcome::not_found("Task"))?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let now = today(&state);
    let p = gate::programme_plans(&state.store, &viewer, catalogue, key.resident_id, now)
        .await
        .map_err(refused_as("Task"))?;
    let (row, status) = p
        .overview
        .due
        .iter()
        .find(|(d, _)| {
            d.programme == key.programme
                && d.visit_code == key.visit_code
                && d.due_from == key.due_from
        })
        .ok_or_else(|| Outcome::not_found("Task"))?;
    let open = open_enrolment(&p.overview.enrolments, &key.programme);
    let task = to_task(&Row {
        plan: plan_of_row(key.resident_id, &key.programme, open),
        due_by: row.due_by,
        status: *status,
        key,
        catalogue,
    });
    Ok(Fhir(StatusCode::OK, task))
}

fn open_enrolment(list: &[yiwei_store::programme::Enrolment], programme: &str) -> Option<i64> {
    list.iter()
        .find(|e| e.programme == programme && e.ended_on.is_none())
        .map(|e| e.id)
}

const STATUSES: [&str; 12] = [
    "draft",
    "requested",
    "received",
    "accepted",
    "rejected",
    "ready",
    "cancelled",
    "in-progress",
    "on-hold",
    "failed",
    "completed",
    "entered-in-error",
];

/// The instants `[low, high)` of a window in county time.
fn window_instants(
    from: NaiveDate,
    by: NaiveDate,
    offset_hours: i32,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let at = |d: NaiveDate| {
        Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN))
            - Duration::hours(offset_hours.into())
    };
    (at(from), at(by + Duration::days(1)))
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
        &["patient", "subject", "status", "code", "period"],
    )?;
    let mut patient = None;
    let mut statuses: Vec<String> = Vec::new();
    let mut programmes: Vec<String> = Vec::new();
    let mut periods = Vec::new();
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
                                "status {s:?} is not a Task status; one of: {}",
                                STATUSES.join(", ")
                            ),
                            "status 取值有误",
                        ));
                    }
                    statuses.push(s.to_owned());
                }
            }
            "code" => {
                for token in v.split(',') {
                    programmes.push(programme_token("code", token, catalogue)?);
                }
            }
            "period" => periods.push(v.as_str()),
            _ => {}
        }
    }
    let offset_hours = state.config.utc_offset_hours;
    let window = date_window(&periods, offset_hours, TimelineFilter::default())?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote.0,
    };
    let now = today(&state);
    let rows: Vec<Row<'_>> = match patient {
        Some(resident_id) => {
            let p = gate::programme_plans(&state.store, &viewer, catalogue, resident_id, now)
                .await
                .map_err(refused)?;
            p.overview
                .due
                .iter()
                .map(|(d, status)| Row {
                    key: TaskId {
                        resident_id,
                        programme: d.programme.clone(),
                        visit_code: d.visit_code.clone(),
                        due_from: d.due_from,
                    },
                    due_by: d.due_by,
                    status: *status,
                    plan: plan_of_row(
                        resident_id,
                        &d.programme,
                        open_enrolment(&p.overview.enrolments, &d.programme),
                    ),
                    catalogue,
                })
                .collect()
        }
        None => {
            // The last day whose window may open: the `le`/`lt` bound, else the month's end.
            let until = match window.to {
                Some(to) => {
                    (to + Duration::hours(offset_hours.into()) - Duration::seconds(1)).date_naive()
                }
                None => yiwei_store::programme::period_end(now, "month"),
            };
            let filter = WorkFilter {
                root: user.reach.clone(),
                team_id: None,
                doctor_id: None,
                programme: (programmes.len() == 1).then(|| programmes[0].clone()),
                until,
                missed_within_days: 31,
                limit: MAX_LIST,
            };
            gate::worklist_with_enrolments(&state.store, &viewer, &filter, now)
                .await
                .map_err(refused)?
                .into_iter()
                .map(|(w, enrolment)| Row {
                    plan: plan_of_row(w.resident_id, &w.programme, enrolment),
                    key: TaskId {
                        resident_id: w.resident_id,
                        programme: w.programme,
                        visit_code: w.visit_code,
                        due_from: w.due_from,
                    },
                    due_by: w.due_by,
                    status: w.status,
                    catalogue,
                })
                .collect()
        }
    };
    let selected: Vec<Value> = rows
        .iter()
        .filter(|r| statuses.is_empty() || statuses.iter().any(|s| s == task_status(r.status)))
        .filter(|r| programmes.is_empty() || programmes.contains(&r.key.programme))
        .filter(|r| {
            let (low, high) = window_instants(r.key.due_from, r.due_by, offset_hours);
            window.to.is_none_or(|to| low < to) && window.from.is_none_or(|from| high > from)
        })
        .map(to_task)
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
            "Task",
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

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn task_ids_round_trip_and_refuse_what_was_never_written() {
        let cases = [
            (
                TaskId {
                    resident_id: 12,
                    programme: "elderly_annual".into(),
                    visit_code: "annual".into(),
                    due_from: d(2026, 1, 1),
                },
                "12.elderly-annual.annual.20260101",
            ),
            (
                TaskId {
                    resident_id: 40,
                    programme: "immunization".into(),
                    visit_code: "hepa_l:1".into(),
                    due_from: d(2026, 3, 1),
                },
                "40.immunization.hepa-l.1.20260301",
            ),
        ];
        for (key, text) in cases {
            assert_eq!(key.render(), text);
            assert_eq!(TaskId::parse(text), Some(key), "{text}");
        }
        for bad in [
            "12",
            "12.elderly-annual",
            "12.elderly-annual.20260101",
            "12.elderly-annual.annual.2026011",
            "12.elderly-annual.annual.20261301",
            "x.elderly-annual.annual.20260101",
            "12.elderly-annual..20260101",
        ] {
            assert_eq!(TaskId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_status_maps_to_a_task_status_and_keeps_the_business_status() {
        let c = Catalogue::default();
        for (status, code) in [
            (Status::Upcoming, "draft"),
            (Status::Due, "ready"),
            (Status::Overdue, "ready"),
            (Status::Missed, "cancelled"),
        ] {
            let t = to_task(&Row {
                key: TaskId {
                    resident_id: 3,
                    programme: "hypertension".into(),
                    visit_code: "followup".into(),
                    due_from: d(2026, 12, 1),
                },
                due_by: d(2026, 12, 15),
                status,
                plan: PlanId::Enrolment(5),
                catalogue: &c,
            });
            assert_eq!(t["status"], code);
            assert!(STATUSES.contains(&code));
            assert_eq!(t["businessStatus"]["coding"][0]["code"], status.as_str());
            assert_eq!(t["basedOn"][0]["reference"], "CarePlan/enr-5");
            assert_eq!(t["restriction"]["period"]["end"], "2026-12-15");
            assert_eq!(t.get("statusReason").is_some(), status == Status::Missed);
        }
    }
}
