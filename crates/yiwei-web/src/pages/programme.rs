//! The public-health programme pages (基本公共卫生服务): the work list of a village doctor
//! or team (who is due, overdue or missed this week or month, with one click to record the
//! visit); a resident's programmes (enrolments, what is due, the visits made) with the
//! enrolment and end-of-management forms; the visit form, built from the programme's form
//! definition, which re-shows every problem next to its field and, once saved, what the
//! rules concluded (classification, referral advice, next due date); one visit with its
//! answers and the void form; and the reminder outbox with "queue" and "export CSV".
//!
//! Personal data goes through `yiwei_store::access::programmes`, which checks and audits.
//! The rules are `yiwei_domain::programme`, held in the web configuration's catalogue.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use yiwei_domain::access::Role;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::programme::{FieldKind, FieldProblem, Programme, Status};
use yiwei_store::access::programmes as gate;
use yiwei_store::access::{self, AccessError};
use yiwei_store::programme::{
    self as store_programme, Catalogue, Episode, NewEnrolment, NewVisit, VisitError, WorkFilter,
};
use yiwei_store::user::User;
use yiwei_store::{StoreError, division};

use super::render;
use super::viewer;
use crate::AppState;
use crate::auth::{Ctx, Staff};
use crate::error::PageError;
use crate::i18n::{Lang, Tr};
use crate::shell::Shell;

/// Lines of a work list shown at once.
const WORKLIST_LIMIT: i64 = 3000;

fn today(state: &AppState) -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(i64::from(state.config.utc_offset_hours)))
        .date_naive()
}

fn en(tr: Tr) -> bool {
    tr.lang == Lang::En
}

fn catalogue(state: &AppState) -> &Catalogue {
    &state.config.programmes
}

/// Whether the role records clinical data.
fn writes(user: &User) -> bool {
    user.role.reads_personal_records() && user.role != Role::Resident
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Overdue => "bad",
        Status::Due => "warn",
        Status::Upcoming => "muted",
        Status::Missed => "bad",
    }
}

fn status_label(tr: Tr, s: Status) -> String {
    if en(tr) {
        s.name_en().to_owned()
    } else {
        format!("{} {}", s.name_zh(), s.name_en())
    }
}

/// Chinese first, English beside (English alone on English pages).
fn both(tr: Tr, zh: &str, en_text: &str) -> String {
    if en(tr) {
        en_text.to_owned()
    } else {
        format!("{zh} {en_text}")
    }
}

/// Names of the divisions of a subtree, by code (villages of a work list).
async fn names_under(state: &AppState, root: &DivisionCode) -> HashMap<String, String> {
    let mut names = HashMap::new();
    let mut queue = vec![root.clone()];
    while let Some(code) = queue.pop() {
        if let Ok(children) = division::children(&state.store, &code).await {
            for child in children {
                names.insert(child.code.as_str().to_owned(), child.name.clone());
                if names.len() < 5000 {
                    queue.push(child.code);
                }
            }
        }
    }
    if let Ok(d) = division::get(&state.store, root).await {
        names.insert(root.as_str().to_owned(), d.name);
    }
    names
}

// ---------------------------------------------------------------------------------------
// The work list

pub struct WorkRow {
    pub resident_id: i64,
    pub name: String,
    pub age: String,
    pub village: String,
    pub programme: String,
    pub programme_code: String,
    pub visit: String,
    pub visit_code: String,
    pub window: String,
    pub status: String,
    pub status_class: &'static str,
    pub record_href: String,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "worklist.html")]
struct WorklistPage {
    shell: Shell,
    division: String,
    division_name: String,
    programmes: Vec<Choice>,
    periods: Vec<Choice>,
    mine: bool,
    counts: Vec<(String, usize, &'static str)>,
    rows: Vec<WorkRow>,
    truncated: bool,
}

#[derive(Deserialize, Default)]
pub struct WorklistQuery {
    #[serde(default)]
    division: String,
    #[serde(default)]
    programme: String,
    #[serde(default)]
    period: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    mine: String,
}

fn parse_division(text: &str, user: &User) -> Result<DivisionCode, PageError> {
    match text.trim() {
        "" => Ok(user.reach.clone()),
        t => DivisionCode::parse(t).map_err(|e| PageError::BadRequest(e.to_string())),
    }
}

fn programme_choices(tr: Tr, catalogue: &Catalogue, selected: &str, any: bool) -> Vec<Choice> {
    let mut out = Vec::new();
    if any {
        out.push(Choice {
            value: String::new(),
            label: tr.t("prog.all_programmes").to_owned(),
            selected: selected.is_empty(),
        });
    }
    for p in &catalogue.programmes {
        out.push(Choice {
            value: p.code.to_owned(),
            label: both(tr, p.name_zh, p.name_en),
            selected: selected == p.code,
        });
    }
    if any {
        out.push(Choice {
            value: store_programme::IMMUNIZATION.to_owned(),
            label: both(tr, "预防接种", "Immunization"),
            selected: selected == store_programme::IMMUNIZATION,
        });
    }
    out
}

fn age_text(tr: Tr, birth: Option<NaiveDate>, today: NaiveDate) -> String {
    let Some(b) = birth else {
        return String::new();
    };
    let years = yiwei_domain::key_group::age_on(b, today);
    if years >= 3 {
        return format!("{years}{}", tr.t("prog.years"));
    }
    let months = (today - b).num_days() / 30;
    format!("{months}{}", tr.t("prog.months"))
}

/// 工作清单: the due, overdue and recently missed visits of a subtree.
pub async fn worklist(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<WorklistQuery>,
) -> Result<Response, PageError> {
    let root = parse_division(&q.division, &user)?;
    let today = today(&state);
    let period = match q.period.as_str() {
        "month" | "today" => q.period.as_str(),
        _ => "week",
    };
    let programme = q.programme.trim();
    let cat = catalogue(&state);
    if !programme.is_empty()
        && programme != store_programme::IMMUNIZATION
        && cat.programme(programme).is_none()
    {
        return Err(PageError::BadRequest(format!(
            "unknown programme {programme:?}"
        )));
    }
    let mine = q.mine == "1";
    let filter = WorkFilter {
        root: root.clone(),
        team_id: q.team.trim().parse().ok(),
        doctor_id: mine.then_some(user.id),
        programme: (!programme.is_empty()).then(|| programme.to_owned()),
        until: store_programme::period_end(today, period),
        missed_within_days: if period == "month" { 31 } else { 7 },
        limit: WORKLIST_LIMIT,
    };
    let items = gate::worklist(&state.store, &viewer(&ctx, &user), &filter, today).await?;
    let names = names_under(&state, &root).await;
    let tr = ctx.tr;
    let mut counts: HashMap<Status, usize> = HashMap::new();
    let rows: Vec<WorkRow> = items
        .iter()
        .map(|w| {
            *counts.entry(w.status).or_default() += 1;
            let (pzh, pen) = cat.names(&w.programme);
            let (vzh, ven) = cat.visit_names(&w.programme, &w.visit_code);
            let record_href = if w.programme == store_programme::IMMUNIZATION {
                format!("/residents/{}/immunizations", w.resident_id)
            } else {
                format!(
                    "/residents/{}/programmes/{}/visit?visit_code={}",
                    w.resident_id, w.programme, w.visit_code
                )
            };
            WorkRow {
                resident_id: w.resident_id,
                name: w.name.clone(),
                age: age_text(tr, w.birth_date, today),
                village: names
                    .get(&w.village)
                    .cloned()
                    .unwrap_or_else(|| w.village.clone()),
                programme: both(tr, pzh, pen),
                programme_code: w.programme.clone(),
                visit: both(tr, &vzh, &ven),
                visit_code: w.visit_code.clone(),
                window: format!("{} ~ {}", w.due_from, w.due_by),
                status: status_label(tr, w.status),
                status_class: status_class(w.status),
                record_href,
            }
        })
        .collect();
    let counts = [
        Status::Overdue,
        Status::Due,
        Status::Upcoming,
        Status::Missed,
    ]
    .into_iter()
    .map(|s| {
        (
            status_label(tr, s),
            counts.get(&s).copied().unwrap_or(0),
            status_class(s),
        )
    })
    .collect();
    let periods = [
        ("today", "prog.period.today"),
        ("week", "prog.period.week"),
        ("month", "prog.period.month"),
    ]
    .into_iter()
    .map(|(v, key)| Choice {
        value: v.to_owned(),
        label: tr.t(key).to_owned(),
        selected: v == period,
    })
    .collect();
    let truncated = items.len() as i64 >= WORKLIST_LIMIT;
    let division_name = names.get(root.as_str()).cloned().unwrap_or_default();
    Ok(render(&WorklistPage {
        shell: Shell::new(&ctx, &state, "prog.worklist"),
        division: root.as_str().to_owned(),
        division_name,
        programmes: programme_choices(tr, cat, programme, true),
        periods,
        mine,
        counts,
        rows,
        truncated,
    })?
    .into_response())
}

// ---------------------------------------------------------------------------------------
// A resident's programmes

pub struct EnrolmentRow {
    pub id: i64,
    pub programme: String,
    pub started_on: String,
    pub ended: String,
    pub open: bool,
    pub episode: String,
}

pub struct DueLine {
    pub programme: String,
    pub visit: String,
    pub window: String,
    pub status: String,
    pub status_class: &'static str,
    pub record_href: String,
}

pub struct VisitLine {
    pub id: i64,
    pub date: String,
    pub programme: String,
    pub visit: String,
    pub classification: String,
    pub referral: String,
    pub voided: bool,
}

#[derive(Template)]
#[template(path = "programmes.html")]
struct ProgrammesPage {
    shell: Shell,
    resident_id: i64,
    resident_name: String,
    can_write: bool,
    done: String,
    error: String,
    enrolments: Vec<EnrolmentRow>,
    due: Vec<DueLine>,
    visits: Vec<VisitLine>,
    programmes: Vec<Choice>,
    today: String,
}

#[derive(Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
    #[serde(default)]
    visit: String,
}

fn episode_text(tr: Tr, e: &Episode) -> String {
    let mut parts = Vec::new();
    if let Some(d) = e.lmp {
        parts.push(format!("{} {d}", tr.t("prog.lmp")));
    }
    if let Some(d) = e.edd {
        parts.push(format!("{} {d}", tr.t("prog.edd")));
    }
    if let Some(d) = e.delivered_on {
        parts.push(format!("{} {d}", tr.t("prog.delivered_on")));
    }
    if let (Some(s), Some(g)) = (&e.school, e.grade) {
        parts.push(format!(
            "{} {s} · {} {g}",
            tr.t("prog.school"),
            tr.t("prog.grade")
        ));
    }
    if let Some(c) = &e.condition {
        parts.push(c.clone());
    }
    parts.join(" · ")
}

async fn programmes_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    resident_id: i64,
    done: String,
    error: String,
) -> Result<Response, PageError> {
    let today = today(state);
    let v = viewer(ctx, user);
    let resident = access::open_resident(&state.store, &v, resident_id).await?;
    let overview = gate::programme_overview(&state.store, &v, resident_id, today).await?;
    let tr = ctx.tr;
    let cat = catalogue(state);
    let enrolments = overview
        .enrolments
        .iter()
        .map(|e| {
            let (zh, en_name) = cat.names(&e.programme);
            EnrolmentRow {
                id: e.id,
                programme: both(tr, zh, en_name),
                started_on: e.started_on.to_string(),
                ended: match (e.ended_on, &e.end_reason) {
                    (Some(d), Some(r)) => format!("{d} {r}"),
                    (Some(d), None) => d.to_string(),
                    _ => String::new(),
                },
                open: e.ended_on.is_none(),
                episode: episode_text(tr, &e.episode),
            }
        })
        .collect();
    let due = overview
        .due
        .iter()
        .map(|(r, s)| {
            let (pzh, pen) = cat.names(&r.programme);
            let (vzh, ven) = cat.visit_names(&r.programme, &r.visit_code);
            DueLine {
                programme: both(tr, pzh, pen),
                visit: both(tr, &vzh, &ven),
                window: format!("{} ~ {}", r.due_from, r.due_by),
                status: status_label(tr, *s),
                status_class: status_class(*s),
                record_href: if r.programme == store_programme::IMMUNIZATION {
                    format!("/residents/{resident_id}/immunizations")
                } else {
                    format!(
                        "/residents/{resident_id}/programmes/{}/visit?visit_code={}",
                        r.programme, r.visit_code
                    )
                },
            }
        })
        .collect();
    let visits = overview
        .visits
        .iter()
        .map(|vr| {
            let (pzh, pen) = cat.names(&vr.programme);
            let (vzh, ven) = cat.visit_names(&vr.programme, &vr.visit_code);
            VisitLine {
                id: vr.id,
                date: vr.visit_date.to_string(),
                programme: both(tr, pzh, pen),
                visit: both(tr, &vzh, &ven),
                classification: vr
                    .classification
                    .as_deref()
                    .and_then(yiwei_domain::programme::Classification::parse)
                    .map(|c| both(tr, c.name_zh(), c.name_en()))
                    .unwrap_or_default(),
                referral: vr
                    .referral
                    .as_ref()
                    .map(|r| {
                        let key = if en(tr) { "en" } else { "zh" };
                        r[key].as_str().unwrap_or_default().to_owned()
                    })
                    .unwrap_or_default(),
                voided: vr.voided,
            }
        })
        .collect();
    Ok(render(&ProgrammesPage {
        shell: Shell::new(ctx, state, "prog.title"),
        resident_id,
        resident_name: resident.0.name,
        can_write: writes(user),
        done,
        error,
        enrolments,
        due,
        visits,
        programmes: programme_choices(tr, cat, "", false),
        today: today.to_string(),
    })?
    .into_response())
}

/// 居民的公卫服务: enrolments, what is due, the visits.
pub async fn show(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let done = match q.done.as_str() {
        "enrolled" => ctx.tr.t("prog.done.enrolled").to_owned(),
        "ended" => ctx.tr.t("prog.done.ended").to_owned(),
        "voided" => ctx.tr.t("prog.done.voided").to_owned(),
        _ => String::new(),
    };
    let _ = q.visit;
    programmes_page(&state, &ctx, &user, id, done, String::new()).await
}

#[derive(Deserialize)]
pub struct EnrolForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    programme: String,
    #[serde(default)]
    started_on: String,
    #[serde(default)]
    lmp: String,
    #[serde(default)]
    edd: String,
    #[serde(default)]
    school: String,
    #[serde(default)]
    grade: String,
    #[serde(default)]
    condition: String,
}

fn optional_date(text: &str, what: &str) -> Result<Option<NaiveDate>, String> {
    match text.trim() {
        "" => Ok(None),
        t => NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| format!("{what}: 请按 年-月-日 填写 / write the date as YYYY-MM-DD")),
    }
}

fn message_of(e: AccessError) -> Result<String, PageError> {
    match e {
        AccessError::Store(StoreError::Invalid(m)) => Ok(m),
        other => Err(other.into()),
    }
}

/// 登记管理.
pub async fn enrol(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<EnrolForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let today = today(&state);
    let parsed = (|| {
        let started_on = optional_date(&form.started_on, "started_on")?
            .ok_or_else(|| "请填写管理开始日期 / give the start date".to_owned())?;
        let grade = match form.grade.trim() {
            "" => None,
            g => Some(
                g.parse::<u8>()
                    .map_err(|_| "年级应为 0–12 的数字 / the grade is a number 0–12".to_owned())?,
            ),
        };
        Ok::<_, String>(NewEnrolment {
            programme: form.programme.trim().to_owned(),
            started_on,
            episode: Episode {
                lmp: optional_date(&form.lmp, "lmp")?,
                edd: optional_date(&form.edd, "edd")?,
                school: Some(form.school.trim().to_owned()).filter(|s| !s.is_empty()),
                grade,
                condition: Some(form.condition.trim().to_owned()).filter(|s| !s.is_empty()),
                ..Episode::default()
            },
            today,
        })
    })();
    let error = match parsed {
        Err(message) => message,
        Ok(new) => match gate::enrol(
            &state.store,
            &viewer(&ctx, &user),
            catalogue(&state),
            id,
            &new,
        )
        .await
        {
            Ok(_) => {
                return Ok(
                    Redirect::to(&format!("/residents/{id}/programmes?done=enrolled"))
                        .into_response(),
                );
            }
            Err(e) => message_of(e)?,
        },
    };
    programmes_page(&state, &ctx, &user, id, String::new(), error).await
}

#[derive(Deserialize)]
pub struct EndForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    ended_on: String,
    #[serde(default)]
    reason: String,
}

/// 结案.
pub async fn end(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(enrolment_id): Path<i64>,
    Form(form): Form<EndForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let today = today(&state);
    let enrolment = store_programme::get_enrolment(&state.store, enrolment_id).await?;
    let resident_id = enrolment.resident_id;
    let error = match optional_date(&form.ended_on, "ended_on") {
        Err(m) => m,
        Ok(ended_on) => {
            match gate::end_enrolment(
                &state.store,
                &viewer(&ctx, &user),
                catalogue(&state),
                enrolment_id,
                ended_on.unwrap_or(today),
                &form.reason,
                today,
            )
            .await
            {
                Ok(()) => {
                    return Ok(Redirect::to(&format!(
                        "/residents/{resident_id}/programmes?done=ended"
                    ))
                    .into_response());
                }
                Err(e) => message_of(e)?,
            }
        }
    };
    programmes_page(&state, &ctx, &user, resident_id, String::new(), error).await
}

// ---------------------------------------------------------------------------------------
// The visit form

pub struct FieldView {
    pub key: String,
    pub label: String,
    pub kind: &'static str,
    pub required: bool,
    pub min: String,
    pub max: String,
    pub unit: String,
    pub options: Vec<Choice>,
    pub value: String,
    pub problem: String,
}

#[derive(Template)]
#[template(path = "programme_visit.html")]
struct VisitPage {
    shell: Shell,
    resident_id: i64,
    resident_name: String,
    programme_code: String,
    programme_name: String,
    form_name: String,
    source: String,
    visit_kinds: Vec<Choice>,
    visit_date: String,
    date_problem: String,
    other_problems: Vec<String>,
    fields: Vec<FieldView>,
}

fn fields_of(
    tr: Tr,
    p: &Programme,
    typed: &[(String, String)],
    problems: &[FieldProblem],
) -> Vec<FieldView> {
    let english = en(tr);
    p.form
        .fields
        .iter()
        .map(|f| {
            let values: Vec<&str> = typed
                .iter()
                .filter(|(k, _)| k == f.key)
                .map(|(_, v)| v.as_str())
                .collect();
            let problem = problems
                .iter()
                .filter(|pr| pr.key == f.key)
                .map(|pr| {
                    if english {
                        pr.message_en.clone()
                    } else {
                        format!("{} {}", pr.message_zh, pr.message_en)
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
            let set_options = |set: &'static [yiwei_domain::exam::Code]| {
                set.iter()
                    .map(|(code, zh, en_label)| Choice {
                        value: (*code).to_owned(),
                        label: both(tr, zh, en_label),
                        selected: values.contains(code),
                    })
                    .collect()
            };
            let (kind, min, max, unit, options) = match &f.kind {
                FieldKind::Number {
                    range,
                    unit,
                    unit_en,
                } => (
                    "number",
                    range.min.to_string(),
                    if range.max >= f64::MAX / 2.0 {
                        String::new()
                    } else {
                        range.max.to_string()
                    },
                    if english {
                        (*unit_en).to_owned()
                    } else {
                        (*unit).to_owned()
                    },
                    Vec::new(),
                ),
                FieldKind::Code { set } => (
                    "code",
                    String::new(),
                    String::new(),
                    String::new(),
                    set_options(set),
                ),
                FieldKind::Codes { set } => (
                    "codes",
                    String::new(),
                    String::new(),
                    String::new(),
                    set_options(set),
                ),
                FieldKind::YesNo => (
                    "yesno",
                    String::new(),
                    String::new(),
                    String::new(),
                    [("1", "是", "yes"), ("0", "否", "no")]
                        .into_iter()
                        .map(|(code, zh, en_label)| Choice {
                            value: code.to_owned(),
                            label: both(tr, zh, en_label),
                            selected: values.iter().any(|v| {
                                let v = v.to_lowercase();
                                (code == "1"
                                    && matches!(
                                        v.as_str(),
                                        "1" | "yes" | "是" | "y" | "true" | "有"
                                    ))
                                    || (code == "0"
                                        && matches!(
                                            v.as_str(),
                                            "0" | "no" | "否" | "n" | "false" | "无"
                                        ))
                            }),
                        })
                        .collect(),
                ),
                FieldKind::Text { max_chars } => (
                    "text",
                    String::new(),
                    max_chars.to_string(),
                    String::new(),
                    Vec::new(),
                ),
                FieldKind::Date => (
                    "date",
                    String::new(),
                    String::new(),
                    String::new(),
                    Vec::new(),
                ),
            };
            FieldView {
                key: f.key.to_owned(),
                label: both(tr, f.label_zh, f.label_en),
                kind,
                required: f.required,
                min,
                max,
                unit,
                options,
                value: values.first().map(|v| (*v).to_owned()).unwrap_or_default(),
                problem,
            }
        })
        .collect()
}

#[derive(Deserialize, Default)]
pub struct VisitQuery {
    #[serde(default)]
    visit_code: String,
}

#[allow(clippy::too_many_arguments)]
async fn visit_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    resident_id: i64,
    p: &Programme,
    visit_code: &str,
    visit_date: &str,
    typed: &[(String, String)],
    problems: &[FieldProblem],
) -> Result<Response, PageError> {
    let resident = access::open_resident(&state.store, &viewer(ctx, user), resident_id).await?;
    let tr = ctx.tr;
    let english = en(tr);
    let text = |pr: &FieldProblem| {
        if english {
            pr.message_en.clone()
        } else {
            format!("{} {}", pr.message_zh, pr.message_en)
        }
    };
    let date_problem = problems
        .iter()
        .filter(|pr| pr.key == "visit_date")
        .map(text)
        .collect::<Vec<_>>()
        .join(" ");
    let other_problems = problems
        .iter()
        .filter(|pr| pr.key != "visit_date" && p.form.field(&pr.key).is_none())
        .map(text)
        .collect();
    let visit_kinds = p
        .visit_kinds()
        .into_iter()
        .map(|k| Choice {
            value: k.code.to_owned(),
            label: both(tr, k.name_zh, k.name_en),
            selected: k.code == visit_code,
        })
        .collect();
    Ok(render(&VisitPage {
        shell: Shell::new(ctx, state, "prog.visit"),
        resident_id,
        resident_name: resident.0.name,
        programme_code: p.code.to_owned(),
        programme_name: both(tr, p.name_zh, p.name_en),
        form_name: both(tr, p.form.name_zh, p.form.name_en),
        source: p.source.to_owned(),
        visit_kinds,
        visit_date: visit_date.to_owned(),
        date_problem,
        other_problems,
        fields: fields_of(tr, p, typed, problems),
    })?
    .into_response())
}

fn programme_or_404<'a>(state: &'a AppState, code: &str) -> Result<&'a Programme, PageError> {
    catalogue(state).programme(code).ok_or(PageError::NotFound)
}

/// The visit form of a programme (随访记录表).
pub async fn visit_form(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path((id, code)): Path<(i64, String)>,
    Query(q): Query<VisitQuery>,
) -> Result<Response, PageError> {
    if !writes(&user) {
        return Err(PageError::Forbidden);
    }
    let p = programme_or_404(&state, &code)?;
    let date = today(&state).to_string();
    visit_page(
        &state,
        &ctx,
        &user,
        id,
        p,
        q.visit_code.trim(),
        &date,
        &[],
        &[],
    )
    .await
}

#[derive(Template)]
#[template(path = "programme_visit_done.html")]
struct VisitDonePage {
    shell: Shell,
    resident_id: i64,
    visit_id: i64,
    programme_name: String,
    classification: String,
    referral: String,
    referral_urgent: bool,
    next_due: String,
    advice: Vec<String>,
}

/// Record the visit; re-show the form with every problem, or show what the rules concluded.
pub async fn record_visit(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path((id, code)): Path<(i64, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    ctx.check_csrf(&state, &csrf)?;
    let p = programme_or_404(&state, &code)?;
    let field = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let visit_code = field("visit_code");
    let visit_date_text = field("visit_date");
    // Answers: the form's own fields, non-empty. Anything else typed is ignored here
    // (csrf, visit_code, visit_date are the page's; the API refuses unknown keys).
    let answers: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, v)| p.form.field(k).is_some() && !v.trim().is_empty())
        .cloned()
        .collect();
    let tr = ctx.tr;
    let visit_date = match NaiveDate::parse_from_str(&visit_date_text, "%Y-%m-%d") {
        Ok(d) => d,
        Err(_) => {
            let problem = FieldProblem {
                key: "visit_date".into(),
                message_zh: "请按 年-月-日 填写随访日期。".into(),
                message_en: "Write the visit date as YYYY-MM-DD.".into(),
            };
            return visit_page(
                &state,
                &ctx,
                &user,
                id,
                p,
                &visit_code,
                &visit_date_text,
                &answers,
                &[problem],
            )
            .await;
        }
    };
    let new = NewVisit {
        programme: p.code.to_owned(),
        visit_code: Some(visit_code.clone()).filter(|c| !c.is_empty()),
        visit_date,
        answers: answers.clone(),
        institution_id: None,
        today: today(&state),
    };
    match gate::record_visit(
        &state.store,
        &viewer(&ctx, &user),
        catalogue(&state),
        id,
        &new,
    )
    .await
    {
        Ok(recorded) => {
            let o = &recorded.outcome;
            let english = en(tr);
            let pick = |m: &yiwei_domain::programme::Message| {
                if english {
                    m.en.clone()
                } else {
                    format!("{} {}", m.zh, m.en)
                }
            };
            let next_due = match o.next_due {
                Some(yiwei_domain::programme::NextDue::On(d)) => {
                    format!("{} {d}", tr.t("prog.next_on"))
                }
                Some(yiwei_domain::programme::NextDue::By(d)) => {
                    format!("{} {d}", tr.t("prog.next_by"))
                }
                None => String::new(),
            };
            render(&VisitDonePage {
                shell: Shell::new(&ctx, &state, "prog.visit_saved"),
                resident_id: id,
                visit_id: recorded.visit_id,
                programme_name: both(tr, p.name_zh, p.name_en),
                classification: o
                    .classification
                    .map(|c| both(tr, c.name_zh(), c.name_en()))
                    .unwrap_or_default(),
                referral: o
                    .referral
                    .as_ref()
                    .map(|r| pick(&r.reason))
                    .unwrap_or_default(),
                referral_urgent: o
                    .referral
                    .as_ref()
                    .is_some_and(|r| r.urgency.as_str() == "urgent"),
                next_due,
                advice: o.advice.iter().map(pick).collect(),
            })
            .map(IntoResponse::into_response)
        }
        Err(VisitError::Form(problems)) => {
            visit_page(
                &state,
                &ctx,
                &user,
                id,
                p,
                &visit_code,
                &visit_date_text,
                &answers,
                &problems,
            )
            .await
        }
        Err(VisitError::Access(e)) => Err(e.into()),
        Err(VisitError::Store(StoreError::Invalid(m))) => {
            let problem = FieldProblem {
                key: "programme".into(),
                message_zh: m.clone(),
                message_en: m,
            };
            visit_page(
                &state,
                &ctx,
                &user,
                id,
                p,
                &visit_code,
                &visit_date_text,
                &answers,
                &[problem],
            )
            .await
        }
        Err(VisitError::Store(e)) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------
// One visit

pub struct AnswerLine {
    pub label: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "programme_visit_show.html")]
struct VisitShowPage {
    shell: Shell,
    visit_id: i64,
    resident_id: i64,
    programme_name: String,
    visit_name: String,
    date: String,
    classification: String,
    referral: String,
    voided: bool,
    can_write: bool,
    answers: Vec<AnswerLine>,
    error: String,
}

async fn visit_show_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    visit_id: i64,
    error: String,
) -> Result<Response, PageError> {
    let v = gate::open_programme_visit(&state.store, &viewer(ctx, user), visit_id).await?;
    let tr = ctx.tr;
    let cat = catalogue(state);
    let (pzh, pen) = cat.names(&v.programme);
    let (vzh, ven) = cat.visit_names(&v.programme, &v.visit_code);
    let form = cat.programme(&v.programme).map(|p| &p.form);
    let answers = v
        .answers
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(key, value)| {
                    let def = form.and_then(|f| f.field(key));
                    let label =
                        def.map_or_else(|| key.clone(), |d| both(tr, d.label_zh, d.label_en));
                    let code_label = |code: &str| {
                        def.and_then(|d| match &d.kind {
                            FieldKind::Code { set } | FieldKind::Codes { set } => set
                                .iter()
                                .find(|(c, _, _)| *c == code)
                                .map(|(_, zh, en_l)| both(tr, zh, en_l)),
                            _ => None,
                        })
                        .unwrap_or_else(|| code.to_owned())
                    };
                    let value = match value {
                        serde_json::Value::Bool(true) => tr.t("prog.yes").to_owned(),
                        serde_json::Value::Bool(false) => tr.t("prog.no").to_owned(),
                        serde_json::Value::String(s) => code_label(s),
                        serde_json::Value::Array(a) => a
                            .iter()
                            .filter_map(|x| x.as_str())
                            .map(code_label)
                            .collect::<Vec<_>>()
                            .join("、"),
                        other => other.to_string(),
                    };
                    AnswerLine { label, value }
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(render(&VisitShowPage {
        shell: Shell::new(ctx, state, "prog.visit"),
        visit_id,
        resident_id: v.resident_id,
        programme_name: both(tr, pzh, pen),
        visit_name: both(tr, &vzh, &ven),
        date: v.visit_date.to_string(),
        classification: v
            .classification
            .as_deref()
            .and_then(yiwei_domain::programme::Classification::parse)
            .map(|c| both(tr, c.name_zh(), c.name_en()))
            .unwrap_or_default(),
        referral: v
            .referral
            .as_ref()
            .map(|r| {
                let key = if en(tr) { "en" } else { "zh" };
                r[key].as_str().unwrap_or_default().to_owned()
            })
            .unwrap_or_default(),
        voided: v.voided,
        can_write: writes(user),
        answers,
        error,
    })?
    .into_response())
}

pub async fn visit_show(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    visit_show_page(&state, &ctx, &user, id, String::new()).await
}

#[derive(Deserialize)]
pub struct VoidForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// 作废.
pub async fn void(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<VoidForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let today = today(&state);
    match gate::void_visit(
        &state.store,
        &viewer(&ctx, &user),
        catalogue(&state),
        id,
        &form.reason,
        today,
    )
    .await
    {
        Ok(()) => {
            let resident_id = store_programme::visit_resident(&state.store, id).await?;
            Ok(
                Redirect::to(&format!("/residents/{resident_id}/programmes?done=voided"))
                    .into_response(),
            )
        }
        Err(e) => {
            let message = message_of(e)?;
            visit_show_page(&state, &ctx, &user, id, message).await
        }
    }
}

// ---------------------------------------------------------------------------------------
// The outbox

pub struct MessageLine {
    pub id: i64,
    pub created: String,
    pub body: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxPage {
    shell: Shell,
    division: String,
    division_name: String,
    status: String,
    pending: i64,
    exported: i64,
    cancelled: i64,
    done: String,
    messages: Vec<MessageLine>,
}

#[derive(Deserialize, Default)]
pub struct OutboxQuery {
    #[serde(default)]
    division: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    queued: String,
}

/// 短信提醒: pending and sent reminders of a subtree.
pub async fn outbox(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<OutboxQuery>,
) -> Result<Response, PageError> {
    let root = parse_division(&q.division, &user)?;
    let status = match q.status.as_str() {
        "exported" | "cancelled" => q.status.clone(),
        _ => "pending".to_owned(),
    };
    let messages = gate::outbox(&state.store, &viewer(&ctx, &user), &root, &status, 500).await?;
    let counts = store_programme::outbox_counts(&state.store, &root).await?;
    let count = |s: &str| counts.get(s).copied().unwrap_or(0);
    let offset = state.config.utc_offset_hours;
    let d = division::get(&state.store, &root).await?;
    let done = match q.queued.trim().parse::<u64>() {
        Ok(n) => ctx
            .tr
            .t("prog.outbox.queued")
            .replace("{n}", &n.to_string()),
        Err(_) => String::new(),
    };
    Ok(render(&OutboxPage {
        shell: Shell::new(&ctx, &state, "prog.outbox"),
        division: root.as_str().to_owned(),
        division_name: d.name,
        status,
        pending: count("pending"),
        exported: count("exported"),
        cancelled: count("cancelled"),
        done,
        messages: messages
            .into_iter()
            .map(|m| MessageLine {
                id: m.id,
                created: super::local_time(m.created_at, offset),
                body: m.body,
                status: m.status,
            })
            .collect(),
    })?
    .into_response())
}

#[derive(Deserialize)]
pub struct OutboxForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    division: String,
    #[serde(default)]
    days: String,
}

/// Queue reminders for what opens within the next days (default 7).
pub async fn queue(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Form(form): Form<OutboxForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    if !writes(&user) {
        return Err(PageError::Forbidden);
    }
    let root = parse_division(&form.division, &user)?;
    if !user.reach.contains(&root) {
        return Err(PageError::Forbidden);
    }
    let days = form.days.trim().parse::<i64>().unwrap_or(7).clamp(0, 60);
    let n = store_programme::queue_reminders(
        &state.store,
        catalogue(&state),
        &root,
        today(&state),
        days,
    )
    .await?;
    Ok(Redirect::to(&format!("/outbox?division={}&queued={n}", root.as_str())).into_response())
}

/// Export pending reminders as CSV (phone, text) for the SMS gateway; they become
/// "exported". The download is the only place phones appear.
pub async fn export(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Form(form): Form<OutboxForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let root = parse_division(&form.division, &user)?;
    let out = gate::export_outbox(&state.store, &viewer(&ctx, &user), &root, 10_000).await?;
    let mut csv = String::from("id,phone,message\n");
    for m in out {
        csv.push_str(&format!(
            "{},{},\"{}\"\n",
            m.id,
            m.phone,
            m.body.replace('"', "\"\"")
        ));
    }
    let name = format!(
        "attachment; filename=\"outbox-{}-{}.csv\"",
        root.as_str(),
        today(&state)
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        csv,
    )
        .into_response())
}
