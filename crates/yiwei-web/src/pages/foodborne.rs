//! 疑似食源性疾病病例报告 pages (issue 5), following the case-card pages
//! (`super::notifiable`).
//!
//! - `/residents/{id}/foodborne/new`: a clinician fills the report from the resident's
//!   page, prefilled from the record. Every failed check of
//!   `yiwei_domain::notifiable::foodborne::validate` shows next to its field, the typed
//!   values are kept and nothing is written.
//! - `/foodborne/{id}`: one report, read through the access gate (audited), with its
//!   on-time status against `notifiable.foodborne_deadline_hours`.
//! - `/cdc/foodborne`: CDC staff's list of recent reports within their reach.
//!
//! Everything personal goes through `yiwei_store::access`.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;
use yiwei_domain::access::Role;
use yiwei_domain::notifiable::ReviewAction;
use yiwei_domain::notifiable::foodborne::{self, FoodborneCase, SYMPTOMS};
use yiwei_store::StoreError;
use yiwei_store::access::{self, AccessError};
use yiwei_store::notifiable::{FoodborneDraft, StoredFoodborne};
use yiwei_store::user::User;

use super::notifiable::Fact;
use super::render;
use super::{say, viewer};
use crate::AppState;
use crate::auth::{Ctx, Staff};
use crate::error::PageError;
use crate::i18n::{Lang, Tr};
use crate::shell::{PAGE_SIZE, Pager, Shell, offset};

fn local_now(state: &AppState) -> NaiveDateTime {
    state.config.notifiable.to_local(Utc::now())
}

fn may_report(user: &User) -> bool {
    user.role.reads_personal_records() && user.role != Role::Resident
}

/// One symptom checkbox: (code, label, checked).
type Symptom = (String, String, bool);

#[derive(Template)]
#[template(path = "foodborne_form.html")]
struct FormPage {
    shell: Shell,
    resident_id: i64,
    resident_name: String,
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
    general_error: Option<String>,
    symptoms: Vec<Symptom>,
    /// Where the form posts: a new report, or the correction of a returned one.
    action: String,
    /// The case's version when correcting a returned case.
    version: Option<i64>,
    /// Why the CDC returned the case, when correcting one.
    returned_reason: Option<String>,
}

impl FormPage {
    fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }
    fn error(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(String::as_str)
    }
}

#[allow(clippy::too_many_arguments)]
fn form_page(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    name: String,
    values: HashMap<String, String>,
    chosen: &[String],
    errors: HashMap<String, String>,
    general_error: Option<String>,
) -> FormPage {
    let en = ctx.tr.lang == Lang::En;
    let symptoms = SYMPTOMS
        .iter()
        .map(|s| {
            (
                s.0.to_owned(),
                if en { s.2 } else { s.1 }.to_owned(),
                chosen.iter().any(|c| c == s.0),
            )
        })
        .collect();
    FormPage {
        shell: Shell::new(ctx, state, "nav.foodborne").with_title(say(
            ctx.tr,
            "疑似食源性疾病病例报告",
            "Suspected food-borne disease case report",
        )),
        resident_id: id,
        resident_name: name,
        values,
        errors,
        general_error,
        symptoms,
        action: format!("/residents/{id}/foodborne/new"),
        version: None,
        returned_reason: None,
    }
}

/// The form's fields (the last value of each) and the symptoms ticked.
fn split(form: Vec<(String, String)>) -> (HashMap<String, String>, Vec<String>) {
    let mut values = HashMap::new();
    let mut symptoms = Vec::new();
    for (k, v) in form {
        if k == "symptoms" {
            symptoms.push(v);
        } else {
            values.insert(k, v);
        }
    }
    (values, symptoms)
}

/// The case as typed and checked by `foodborne::validate`, or every field's first problem
/// in the viewer's language (for a new report and for a correction alike).
fn checked_case(
    state: &AppState,
    form: &HashMap<String, String>,
    symptoms: &[String],
    tr: Tr,
) -> Result<FoodborneCase, HashMap<String, String>> {
    let en = tr.lang == Lang::En;
    let case = parse_case(form, symptoms, tr)?;
    foodborne::validate(&case, local_now(state)).map_err(|problems| {
        let mut errors = HashMap::new();
        for p in problems {
            errors
                .entry(p.field.to_owned())
                .or_insert(if en { p.en } else { p.zh });
        }
        errors
    })?;
    Ok(case)
}

/// The case as typed, or the problems of the fields that could not be read at all.
fn parse_case(
    form: &HashMap<String, String>,
    symptoms: &[String],
    tr: Tr,
) -> Result<FoodborneCase, HashMap<String, String>> {
    let v = |k: &str| form.get(k).map(|s| s.trim()).unwrap_or_default().to_owned();
    let mut errors = HashMap::new();
    let birth = NaiveDate::parse_from_str(&v("birth_date"), "%Y-%m-%d").ok();
    if birth.is_none() {
        errors.insert(
            "birth_date".to_owned(),
            say(
                tr,
                "请填写出生日期（年-月-日）。",
                "Enter the birth date (YYYY-MM-DD).",
            ),
        );
    }
    let fill = NaiveDate::parse_from_str(&v("fill_date"), "%Y-%m-%d").ok();
    if fill.is_none() {
        errors.insert(
            "fill_date".to_owned(),
            say(
                tr,
                "请填写填卡日期（年-月-日）。",
                "Enter the fill date (YYYY-MM-DD).",
            ),
        );
    }
    let mut moment = |prefix: &str, field: &str, zh: &str, en: &str| {
        let t = NaiveDateTime::parse_from_str(
            &format!(
                "{} {}",
                v(&format!("{prefix}_date")),
                v(&format!("{prefix}_time"))
            ),
            "%Y-%m-%d %H:%M",
        )
        .ok();
        if t.is_none() {
            errors.insert(field.to_owned(), say(tr, zh, en));
        }
        t
    };
    let onset = moment(
        "onset",
        "onset_at",
        "请填写发病日期和时间（时:分）。",
        "Enter the onset date and time (HH:MM).",
    );
    let visit = moment(
        "visit",
        "visit_at",
        "请填写就诊日期和时间（时:分）。",
        "Enter the visit date and time (HH:MM).",
    );
    let mut count = |k: &str| match v(k).as_str() {
        "" => None,
        text => match text.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.insert(
                    k.to_owned(),
                    say(
                        tr,
                        "请填写人数（整数）。",
                        "Enter a whole number of people.",
                    ),
                );
                None
            }
        },
    };
    let shared_meal = count("shared_meal");
    let shared_ill = count("shared_ill");
    match (birth, fill, onset, visit) {
        (Some(birth_date), Some(fill_date), Some(onset_at), Some(visit_at))
            if errors.is_empty() =>
        {
            Ok(FoodborneCase {
                patient_name: v("patient_name"),
                sex: v("sex"),
                birth_date,
                phone: v("phone"),
                address_code: v("address_code"),
                onset_at,
                visit_at,
                symptoms: symptoms.to_vec(),
                suspected_food: v("suspected_food"),
                food_place: v("food_place"),
                shared_meal,
                shared_ill,
                specimen_taken: v("specimen_taken") == "yes",
                diagnosis: v("diagnosis"),
                fill_date,
                doctor: v("doctor"),
            })
        }
        _ => Err(errors),
    }
}

pub async fn new_form(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    if !may_report(&user) {
        return Err(PageError::Forbidden);
    }
    let (r, _) = access::open_resident(&state.store, &viewer(&ctx, &user), id).await?;
    let now = local_now(&state);
    let values = HashMap::from([
        ("patient_name".to_owned(), r.name.clone()),
        ("sex".to_owned(), r.sex.clone()),
        (
            "birth_date".to_owned(),
            r.birth_date.map(|d| d.to_string()).unwrap_or_default(),
        ),
        ("address_code".to_owned(), r.division.as_str().to_owned()),
        ("onset_date".to_owned(), now.date().to_string()),
        ("visit_date".to_owned(), now.date().to_string()),
        ("visit_time".to_owned(), now.format("%H:%M").to_string()),
        ("fill_date".to_owned(), now.date().to_string()),
        ("doctor".to_owned(), user.display_name.clone()),
    ]);
    let page = form_page(&state, &ctx, id, r.name, values, &[], HashMap::new(), None);
    Ok(render(&page)?.into_response())
}

pub async fn create(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let (values, symptoms) = split(form);
    ctx.check_csrf(&state, values.get("csrf").map_or("", String::as_str))?;
    if !may_report(&user) {
        return Err(PageError::Forbidden);
    }
    let fix = say(
        ctx.tr,
        "报告有误，请按提示修改后再提交。",
        "The report has errors; correct the fields marked below.",
    );
    let checked = checked_case(&state, &values, &symptoms, ctx.tr);
    let case = match checked {
        Ok(case) => case,
        Err(errors) => {
            let (r, _) = access::open_resident(&state.store, &viewer(&ctx, &user), id).await?;
            let page = form_page(
                &state,
                &ctx,
                id,
                r.name,
                values,
                &symptoms,
                errors,
                Some(fix),
            );
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
        }
    };
    match access::report_foodborne(
        &state.store,
        &viewer(&ctx, &user),
        &state.config.notifiable,
        id,
        &case,
    )
    .await
    {
        Ok(case_id) => Ok(Redirect::to(&format!("/foodborne/{case_id}")).into_response()),
        Err(AccessError::Store(StoreError::Invalid(message))) => {
            let (r, _) = access::open_resident(&state.store, &viewer(&ctx, &user), id).await?;
            let page = form_page(
                &state,
                &ctx,
                id,
                r.name,
                values,
                &symptoms,
                HashMap::new(),
                Some(message),
            );
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

fn status_name(status: &str, tr: Tr) -> String {
    match status {
        "pending" => say(tr, "待审核", "Awaiting review"),
        "accepted" => say(tr, "已审核", "Accepted"),
        "returned" => say(tr, "已退回", "Returned"),
        "deleted" => say(tr, "已删除", "Deleted"),
        other => other.to_owned(),
    }
}

fn timeliness(c: &StoredFoodborne, tr: Tr) -> String {
    if c.on_time {
        say(tr, "按时报告", "On time")
    } else {
        say(tr, "迟报", "Late")
    }
}

fn symptom_names(codes: &[String], tr: Tr) -> String {
    let en = tr.lang == Lang::En;
    codes
        .iter()
        .map(|c| {
            SYMPTOMS
                .iter()
                .find(|s| s.0 == c)
                .map_or(c.as_str(), |s| if en { s.2 } else { s.1 })
        })
        .collect::<Vec<_>>()
        .join(if en { ", " } else { "、" })
}

#[derive(Template)]
#[template(path = "foodborne.html")]
struct ShowPage {
    shell: Shell,
    resident_id: i64,
    id: i64,
    status: String,
    on_time: bool,
    facts: Vec<Fact>,
    version: i64,
    history: Vec<HistoryRow>,
    can_review: bool,
    /// The viewer's institution reported this returned case and may correct it.
    can_resubmit: bool,
    review_error: Option<String>,
}

pub struct HistoryRow {
    pub at: String,
    pub action: String,
    pub to: String,
    pub reason: String,
    pub who: String,
}

fn action_name(action: &str, tr: Tr) -> String {
    match action {
        "accept" => say(tr, "审核通过", "Accept"),
        "return" => say(tr, "退回", "Return"),
        "delete_duplicate" => say(tr, "删除重复报告", "Delete as duplicate"),
        "resubmit" => say(tr, "重新提交", "Resubmit"),
        other => other.to_owned(),
    }
}

pub async fn show(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let page = show_page(&state, &ctx, &user, id, None).await?;
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
pub struct ReviewForm {
    csrf: String,
    version: i64,
    action: String,
    #[serde(default)]
    reason: String,
}

/// CDC review of one report: accept, return or delete as a duplicate.
pub async fn review(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<ReviewForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let action = match ReviewAction::parse(&form.action) {
        Some(a) if a != ReviewAction::Revise => a,
        _ => return Err(PageError::BadRequest("unknown review action".into())),
    };
    let result = access::review_foodborne(
        &state.store,
        &viewer(&ctx, &user),
        id,
        form.version,
        action,
        &form.reason,
    )
    .await;
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/foodborne/{id}")).into_response()),
        Err(AccessError::Store(StoreError::Invalid(message))) => {
            let page = show_page(&state, &ctx, &user, id, Some(message)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn show_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    id: i64,
    review_error: Option<String>,
) -> Result<ShowPage, PageError> {
    let tr = ctx.tr;
    let (c, reviews) = access::open_foodborne(&state.store, &viewer(ctx, user), id).await?;
    let s = &state.config.notifiable;
    let t = |zh: &str, en: &str| say(tr, zh, en);
    let when = |at| s.to_local(at).format("%Y-%m-%d %H:%M").to_string();
    let deadline = c.visit_at + Duration::hours(s.foodborne_deadline_hours);
    let people = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    let facts = vec![
        Fact {
            label: t("患者", "Patient"),
            value: c.patient_name.clone(),
        },
        Fact {
            label: t("发病时间", "Onset"),
            value: when(c.onset_at),
        },
        Fact {
            label: t("就诊时间", "Visit"),
            value: when(c.visit_at),
        },
        Fact {
            label: t("主要症状", "Symptoms"),
            value: symptom_names(&c.symptoms, tr),
        },
        Fact {
            label: t("可疑食品", "Suspected food"),
            value: c.suspected_food.clone(),
        },
        Fact {
            label: t("进食或购买地点", "Where eaten or bought"),
            value: c.food_place.clone(),
        },
        Fact {
            label: t("共同进餐人数", "Shared the meal"),
            value: people(c.shared_meal),
        },
        Fact {
            label: t("发病人数", "Fell ill"),
            value: people(c.shared_ill),
        },
        Fact {
            label: t("采集标本", "Specimen taken"),
            value: if c.specimen_taken {
                t("是", "yes")
            } else {
                t("否", "no")
            },
        },
        Fact {
            label: t("初步诊断", "Preliminary diagnosis"),
            value: c.diagnosis.clone(),
        },
        Fact {
            label: t("报告单位", "Reporting unit"),
            value: c.institution_name.clone(),
        },
        Fact {
            label: t("报告时间", "Reported"),
            value: when(c.reported_at),
        },
        Fact {
            label: t("报告时限", "Deadline"),
            value: format!("{} ({} h)", when(deadline), s.foodborne_deadline_hours),
        },
        Fact {
            label: t("及时性", "Timeliness"),
            value: timeliness(&c, tr),
        },
    ];
    let page = ShowPage {
        shell: Shell::new(ctx, state, "nav.foodborne").with_title(format!(
            "{} #{}",
            t("食源性疾病病例报告", "Food-borne case report"),
            c.id
        )),
        resident_id: c.resident_id,
        id: c.id,
        status: status_name(&c.status, tr),
        on_time: c.on_time,
        facts,
        version: c.version,
        history: reviews
            .into_iter()
            .map(|r| HistoryRow {
                at: when(r.at),
                action: action_name(&r.action, tr),
                to: status_name(&r.to_status, tr),
                reason: r.reason,
                who: r.user_name.unwrap_or_default(),
            })
            .collect(),
        can_review: user.role == Role::CdcStaff && c.status == "pending",
        can_resubmit: c.status == "returned"
            && may_report(user)
            && user.institution_id == Some(c.institution_id),
        review_error,
    };
    Ok(page)
}

pub struct ListRow {
    pub id: i64,
    pub patient: String,
    pub visit: String,
    pub food: String,
    pub diagnosis: String,
    pub institution: String,
    pub on_time: bool,
    pub timeliness: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "foodborne_list.html")]
struct ListPage {
    shell: Shell,
    heading: String,
    rows: Vec<ListRow>,
    total: i64,
    pager: Pager,
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let (page, skip) = offset(q.page);
    let (list, total) = access::foodborne_list(
        &state.store,
        &viewer(&ctx, &user),
        &user.reach,
        PAGE_SIZE,
        skip,
    )
    .await?;
    let tr = ctx.tr;
    let rows = list_rows(&state, tr, &list);
    let heading = say(tr, "食源性疾病病例报告", "Food-borne case reports");
    let shell = Shell::new(&ctx, &state, "nav.foodborne").with_title(heading.clone());
    Ok(render(&ListPage {
        shell,
        heading,
        rows,
        total,
        pager: Pager::new("/cdc/foodborne?", page, total),
    })?
    .into_response())
}

fn list_rows(state: &AppState, tr: Tr, list: &[StoredFoodborne]) -> Vec<ListRow> {
    let s = &state.config.notifiable;
    list.iter()
        .map(|c| ListRow {
            id: c.id,
            patient: yiwei_domain::mask::name(&c.patient_name),
            visit: s.to_local(c.visit_at).format("%Y-%m-%d %H:%M").to_string(),
            food: c.suspected_food.clone(),
            diagnosis: c.diagnosis.clone(),
            institution: c.institution_name.clone(),
            on_time: c.on_time,
            timeliness: timeliness(c, tr),
            status: status_name(&c.status, tr),
        })
        .collect()
}

/// `/foodborne/returned`: the food-borne reports of the viewer's institution that the CDC
/// returned for correction, each linking to its report (and from there its correction).
pub async fn returned(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
) -> Result<Response, PageError> {
    let list = access::returned_foodborne(&state.store, &viewer(&ctx, &user), PAGE_SIZE).await?;
    let tr = ctx.tr;
    let heading = say(
        tr,
        "退回待订正的食源性疾病报告",
        "Food-borne reports returned for correction",
    );
    let total = list.len() as i64;
    let shell = Shell::new(&ctx, &state, "nav.foodborne").with_title(heading.clone());
    Ok(render(&ListPage {
        shell,
        heading,
        rows: list_rows(&state, tr, &list),
        total,
        pager: Pager::new("/foodborne/returned?", 1, total),
    })?
    .into_response())
}

/// The form values of a stored case, for its correction.
fn case_values(c: &FoodborneCase) -> HashMap<String, String> {
    let count = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
    HashMap::from([
        ("patient_name".to_owned(), c.patient_name.clone()),
        ("sex".to_owned(), c.sex.clone()),
        ("birth_date".to_owned(), c.birth_date.to_string()),
        ("phone".to_owned(), c.phone.clone()),
        ("address_code".to_owned(), c.address_code.clone()),
        ("onset_date".to_owned(), c.onset_at.date().to_string()),
        (
            "onset_time".to_owned(),
            c.onset_at.format("%H:%M").to_string(),
        ),
        ("visit_date".to_owned(), c.visit_at.date().to_string()),
        (
            "visit_time".to_owned(),
            c.visit_at.format("%H:%M").to_string(),
        ),
        ("suspected_food".to_owned(), c.suspected_food.clone()),
        ("food_place".to_owned(), c.food_place.clone()),
        ("shared_meal".to_owned(), count(c.shared_meal)),
        ("shared_ill".to_owned(), count(c.shared_ill)),
        (
            "specimen_taken".to_owned(),
            if c.specimen_taken { "yes" } else { "no" }.to_owned(),
        ),
        ("diagnosis".to_owned(), c.diagnosis.clone()),
        ("fill_date".to_owned(), c.fill_date.to_string()),
        ("doctor".to_owned(), c.doctor.clone()),
    ])
}

/// The correction form of a returned case, with `values` as typed (or as stored).
#[expect(clippy::too_many_arguments, reason = "one form, its parts named")]
fn correction_page(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    draft: &FoodborneDraft,
    values: HashMap<String, String>,
    chosen: &[String],
    errors: HashMap<String, String>,
    general_error: Option<String>,
) -> FormPage {
    let mut page = form_page(
        state,
        ctx,
        id,
        draft.case.patient_name.clone(),
        values,
        chosen,
        errors,
        general_error,
    );
    page.action = format!("/foodborne/{id}/resubmit");
    page.version = Some(draft.version);
    page.returned_reason = Some(draft.review_reason.clone());
    page.shell = page.shell.with_title(say(
        ctx.tr,
        "订正食源性疾病病例报告",
        "Correct a food-borne case report",
    ));
    page
}

/// `GET /foodborne/{id}/resubmit`: the returned case, prefilled, with the CDC's reason.
pub async fn resubmit_form(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    if !may_report(&user) {
        return Err(PageError::Forbidden);
    }
    let draft = access::foodborne_draft(
        &state.store,
        &viewer(&ctx, &user),
        &state.config.notifiable,
        id,
    )
    .await?;
    if draft.status != "returned" {
        return Ok(Redirect::to(&format!("/foodborne/{id}")).into_response());
    }
    let values = case_values(&draft.case);
    let chosen = draft.case.symptoms.clone();
    let page = correction_page(
        &state,
        &ctx,
        id,
        &draft,
        values,
        &chosen,
        HashMap::new(),
        None,
    );
    Ok(render(&page)?.into_response())
}

/// `POST /foodborne/{id}/resubmit`: check the corrected case like a new one and send it
/// back to the CDC's review.
pub async fn resubmit(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let (values, symptoms) = split(form);
    ctx.check_csrf(&state, values.get("csrf").map_or("", String::as_str))?;
    if !may_report(&user) {
        return Err(PageError::Forbidden);
    }
    let Some(version) = values
        .get("version")
        .and_then(|v| v.trim().parse::<i64>().ok())
    else {
        return Err(PageError::BadRequest(
            "the form lacks the case's version".into(),
        ));
    };
    let settings = &state.config.notifiable;
    let draft = access::foodborne_draft(&state.store, &viewer(&ctx, &user), settings, id).await?;
    let fix = say(
        ctx.tr,
        "报告有误，请按提示修改后再提交。",
        "The report has errors; correct the fields marked below.",
    );
    let checked = checked_case(&state, &values, &symptoms, ctx.tr);
    let case = match checked {
        Ok(case) => case,
        Err(errors) => {
            let page = correction_page(
                &state,
                &ctx,
                id,
                &draft,
                values,
                &symptoms,
                errors,
                Some(fix),
            );
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
        }
    };
    let note = values.get("note").map_or("", String::as_str);
    match access::resubmit_foodborne(
        &state.store,
        &viewer(&ctx, &user),
        settings,
        id,
        version,
        &case,
        note,
    )
    .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/foodborne/{id}")).into_response()),
        Err(AccessError::Store(StoreError::Invalid(message))) => {
            let page = correction_page(
                &state,
                &ctx,
                id,
                &draft,
                values,
                &symptoms,
                HashMap::new(),
                Some(message),
            );
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
