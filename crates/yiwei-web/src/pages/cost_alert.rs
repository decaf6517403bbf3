//! 防返贫监测预警 pages (docs/cost_alerts.md).
//!
//! - `/cost-alerts`: the alerts of the viewer's reach (a township's staff: their
//!   township; the bureau: the county, names masked), filtered by month and status.
//! - `/cost-alerts/{id}`: one alert with the charges behind it, the household checks so
//!   far and the check form (入户核查: outcome, note, date); the bureau reopens a closed
//!   alert from here.
//! - `/cost-alerts/unmatched`: charges whose patient the master index does not know, with
//!   a form to attach each to a resident.
//! - `/cost-alerts/rules`: the rules with their history; the bureau edits them (every
//!   check of `yiwei_domain::cost_alert::RuleForm` next to its field) and runs a month.
//! - `/cost-alerts/stats`: alerts and checks per month and township, and the outcome mix.
//!
//! Everything personal goes through `yiwei_store::access::cost_alert`.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, NaiveDate, Utc};
use serde::Deserialize;
use yiwei_domain::access::Role;
use yiwei_domain::cost_alert::{
    AlertStatus, CheckInput, CheckOutcome, CostBasis, Month, Population, RuleForm, format_yuan,
};
use yiwei_domain::division::DivisionCode;
use yiwei_store::access::AccessError;
use yiwei_store::access::cost_alert as gate;
use yiwei_store::cost_alert::{self as store, AlertFilter, CheckFailed};
use yiwei_store::user::User;
use yiwei_store::{StoreError, division};

use super::{render, say, viewer};
use crate::AppState;
use crate::auth::{Ctx, Staff};
use crate::error::PageError;
use crate::i18n::{Lang, Tr};
use crate::shell::{PAGE_SIZE, Pager, Shell, offset};

fn today(state: &AppState) -> NaiveDate {
    (Utc::now() + Duration::hours(i64::from(state.config.utc_offset_hours))).date_naive()
}

fn shell(ctx: &Ctx, state: &AppState, zh: &str, en: &str) -> Shell {
    Shell::new(ctx, state, "nav.cost_alerts").with_title(say(ctx.tr, zh, en))
}

fn en(tr: Tr) -> bool {
    tr.lang == Lang::En
}

fn status_name(s: AlertStatus, tr: Tr) -> String {
    if en(tr) {
        s.name_en().into()
    } else {
        s.name_zh().into()
    }
}

fn outcome_name(code: &str, tr: Tr) -> String {
    match CheckOutcome::parse(code) {
        Some(o) if en(tr) => o.name_en().into(),
        Some(o) => o.name_zh().into(),
        None => code.into(),
    }
}

fn basis_name(code: &str, tr: Tr) -> String {
    match CostBasis::parse(code) {
        Some(b) if en(tr) => b.name_en().into(),
        Some(b) => b.name_zh().into(),
        None => code.into(),
    }
}

fn population_name(code: &str, tr: Tr) -> String {
    match Population::parse(code) {
        Some(p) if en(tr) => p.name_en().into(),
        Some(p) => p.name_zh().into(),
        None => code.into(),
    }
}

fn yuan(fen: i64) -> String {
    format_yuan(fen)
}

/// The last 12 months up to last month, newest first, for the month filter.
fn recent_months(today: NaiveDate) -> Vec<String> {
    let last = Month::previous_of(today);
    (0..12).map(|n| last.minus(n).to_string()).collect()
}

/// Whether the user may record checks (a clinical role).
fn may_check(user: &User) -> bool {
    user.role.reads_personal_records() && user.role != Role::Resident
}

// ---------------------------------------------------------------------------------------
// The list

pub struct AlertRow {
    pub id: i64,
    pub month: String,
    pub name: String,
    pub village: String,
    pub rule: String,
    pub amount: String,
    pub threshold: String,
    pub status: String,
    pub status_code: &'static str,
    pub outcome: String,
}

#[derive(Template)]
#[template(path = "cost_alerts.html")]
struct ListPage {
    shell: Shell,
    rows: Vec<AlertRow>,
    total: i64,
    masked: bool,
    months: Vec<String>,
    month: String,
    statuses: Vec<(String, String)>,
    status: String,
    area_name: String,
    pager: Pager,
}

#[derive(Deserialize)]
pub struct ListQuery {
    month: Option<String>,
    status: Option<String>,
    page: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let tr = ctx.tr;
    let (page, skip) = offset(q.page);
    let month_text = q.month.clone().unwrap_or_default();
    let month = match month_text.trim() {
        "" => None,
        text => Some(Month::parse(text).ok_or_else(|| {
            PageError::BadRequest("月份格式应为 YYYY-MM / month must be YYYY-MM".into())
        })?),
    };
    let status_text = q.status.clone().unwrap_or_default();
    let status = match status_text.trim() {
        "" => None,
        text => Some(
            AlertStatus::parse(text)
                .ok_or_else(|| PageError::BadRequest("未知状态 / unknown status".into()))?,
        ),
    };
    let filter = AlertFilter {
        root: user.reach.clone(),
        month,
        status,
        resident_id: None,
    };
    let page_of =
        gate::alert_list(&state.store, &viewer(&ctx, &user), &filter, PAGE_SIZE, skip).await?;
    let rows = page_of
        .alerts
        .iter()
        .map(|a| AlertRow {
            id: a.id,
            month: a.month.clone(),
            name: a.resident_name.clone(),
            village: a.village_name.clone(),
            rule: a.rule_name.clone(),
            amount: yuan(a.amount_fen),
            threshold: yuan(a.threshold_fen),
            status: status_name(a.status, tr),
            status_code: a.status.code(),
            outcome: a
                .outcome
                .as_deref()
                .map(|o| outcome_name(o, tr))
                .unwrap_or_default(),
        })
        .collect();
    let area_name = division::get(&state.store, &user.reach)
        .await
        .map(|d| d.name)
        .unwrap_or_default();
    let base = format!(
        "/cost-alerts?month={}&status={}&",
        month.map(|m| m.to_string()).unwrap_or_default(),
        status.map(AlertStatus::code).unwrap_or_default()
    );
    Ok(render(&ListPage {
        shell: shell(&ctx, &state, "防返贫监测预警", "Cost alerts"),
        rows,
        total: page_of.total,
        masked: page_of.masked,
        months: recent_months(today(&state)),
        month: month.map(|m| m.to_string()).unwrap_or_default(),
        statuses: AlertStatus::ALL
            .iter()
            .map(|s| (s.code().to_owned(), status_name(*s, tr)))
            .collect(),
        status: status.map(|s| s.code().to_owned()).unwrap_or_default(),
        area_name,
        pager: Pager::new(&base, page, page_of.total),
    })?
    .into_response())
}

// ---------------------------------------------------------------------------------------
// One alert

pub struct ChargeRow {
    pub date: String,
    pub institution: String,
    pub kind: String,
    pub total: String,
    pub paid: String,
    pub oop: String,
}

pub struct CheckRow {
    pub on: String,
    pub action: String,
    pub outcome: String,
    pub note: String,
    pub by: String,
}

#[derive(Template)]
#[template(path = "cost_alert.html")]
struct ShowPage {
    shell: Shell,
    id: i64,
    resident_id: i64,
    name: String,
    village: String,
    month: String,
    rule: String,
    population: String,
    basis: String,
    window: String,
    amount: String,
    threshold: String,
    status: String,
    status_code: &'static str,
    outcome: String,
    masked: bool,
    charges: Vec<ChargeRow>,
    charge_total: String,
    checks: Vec<CheckRow>,
    version: i64,
    can_check: bool,
    can_reopen: bool,
    outcomes: Vec<(String, String)>,
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
    general_error: Option<String>,
    today: String,
}

impl ShowPage {
    fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }
    fn error(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(String::as_str)
    }
}

async fn show_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    id: i64,
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
    general_error: Option<String>,
) -> Result<ShowPage, PageError> {
    let tr = ctx.tr;
    let view = gate::open_alert(&state.store, &viewer(ctx, user), id).await?;
    let a = &view.alert;
    let charge_total: i64 = view.charges.iter().map(|c| c.total_fen).sum();
    let kind = |k: &str| match yiwei_domain::cost_alert::VisitKind::parse(k) {
        Some(v) if !en(tr) => v.name_zh().to_owned(),
        _ => k.to_owned(),
    };
    Ok(ShowPage {
        shell: shell(ctx, state, "预警详情", "Cost alert").with_title(format!(
            "{} #{}",
            say(tr, "防返贫监测预警", "Cost alert"),
            a.id
        )),
        id: a.id,
        resident_id: a.resident_id,
        name: a.resident_name.clone(),
        village: a.village_name.clone(),
        month: a.month.clone(),
        rule: a.rule_name.clone(),
        population: population_name(&a.population, tr),
        basis: basis_name(&a.basis, tr),
        window: format!("{} – {}", a.window_start, a.window_end),
        amount: yuan(a.amount_fen),
        threshold: yuan(a.threshold_fen),
        status: status_name(a.status, tr),
        status_code: a.status.code(),
        outcome: a
            .outcome
            .as_deref()
            .map(|o| outcome_name(o, tr))
            .unwrap_or_default(),
        masked: view.masked,
        charges: view
            .charges
            .iter()
            .map(|c| ChargeRow {
                date: c.visit_date.to_string(),
                institution: c.institution_name.clone(),
                kind: kind(&c.kind),
                total: yuan(c.total_fen),
                paid: yuan(c.insurance_paid_fen),
                oop: yuan(c.out_of_pocket_fen),
            })
            .collect(),
        charge_total: yuan(charge_total),
        checks: view
            .checks
            .iter()
            .map(|k| CheckRow {
                on: k.checked_on.to_string(),
                action: if k.action == "reopen" {
                    say(tr, "退回重查", "reopened")
                } else {
                    say(tr, "入户核查", "household check")
                },
                outcome: k
                    .outcome
                    .as_deref()
                    .map(|o| outcome_name(o, tr))
                    .unwrap_or_default(),
                note: k.note.clone(),
                by: k.checked_by_name.clone().unwrap_or_default(),
            })
            .collect(),
        version: a.version,
        can_check: may_check(user) && a.status != AlertStatus::Closed,
        can_reopen: gate::is_bureau(user.role) && a.status == AlertStatus::Closed,
        outcomes: CheckOutcome::ALL
            .iter()
            .map(|o| {
                (
                    o.code().to_owned(),
                    format!("{} {}", o.name_zh(), o.name_en()),
                )
            })
            .collect(),
        values,
        errors,
        general_error,
        today: today(state).to_string(),
    })
}

pub async fn show(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let page = show_page(
        &state,
        &ctx,
        &user,
        id,
        HashMap::new(),
        HashMap::new(),
        None,
    )
    .await?;
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
pub struct CheckForm {
    csrf: String,
    version: i64,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    checked_on: String,
}

/// Record a household check; every problem shows next to its field, nothing is written.
pub async fn check(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<CheckForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let tr = ctx.tr;
    let values: HashMap<String, String> = [
        ("outcome".to_owned(), form.outcome.clone()),
        ("note".to_owned(), form.note.clone()),
        ("checked_on".to_owned(), form.checked_on.clone()),
    ]
    .into();
    let mut errors = HashMap::new();
    let outcome = CheckOutcome::parse(&form.outcome);
    if outcome.is_none() {
        errors.insert(
            "outcome".to_owned(),
            say(tr, "请选择核查结果。", "Choose the outcome of the check."),
        );
    }
    let on = NaiveDate::parse_from_str(form.checked_on.trim(), "%Y-%m-%d").ok();
    if on.is_none() {
        errors.insert(
            "checked_on".to_owned(),
            say(
                tr,
                "请填写核查日期（年-月-日）。",
                "Enter the date of the check (YYYY-MM-DD).",
            ),
        );
    }
    let (Some(outcome), Some(checked_on)) = (outcome, on) else {
        let page = show_page(&state, &ctx, &user, id, values, errors, None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
    };
    let input = CheckInput {
        outcome,
        note: form.note.clone(),
        checked_on,
    };
    let result = gate::record_check(
        &state.store,
        &viewer(&ctx, &user),
        id,
        form.version,
        &input,
        today(&state),
    )
    .await;
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/cost-alerts/{id}")).into_response()),
        Err(CheckFailed::Rule(e)) => {
            use yiwei_domain::cost_alert::CheckError as E;
            let field = match e {
                E::NoteRequired | E::NoteTooLong => Some("note"),
                E::BadDate => Some("checked_on"),
                E::UnknownOutcome => Some("outcome"),
                E::AlreadyClosed | E::NotClosed => None,
            };
            let (mut errors, mut general) = (HashMap::new(), None);
            match field {
                Some(f) => {
                    errors.insert(f.to_owned(), e.to_string());
                }
                None => general = Some(e.to_string()),
            }
            let page = show_page(&state, &ctx, &user, id, values, errors, general).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(CheckFailed::Store(StoreError::Invalid(message))) => {
            let page = show_page(
                &state,
                &ctx,
                &user,
                id,
                values,
                HashMap::new(),
                Some(message),
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(CheckFailed::Refused(_)) => Err(PageError::Forbidden),
        Err(CheckFailed::Store(e)) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ReopenForm {
    csrf: String,
    version: i64,
    #[serde(default)]
    note: String,
}

pub async fn reopen(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<ReopenForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    if !gate::is_bureau(user.role) {
        return Err(PageError::Forbidden);
    }
    match gate::reopen(
        &state.store,
        &viewer(&ctx, &user),
        id,
        form.version,
        &form.note,
        today(&state),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/cost-alerts/{id}")).into_response()),
        Err(CheckFailed::Rule(e)) => {
            let page = show_page(
                &state,
                &ctx,
                &user,
                id,
                HashMap::new(),
                HashMap::new(),
                Some(e.to_string()),
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(CheckFailed::Store(StoreError::Invalid(message))) => {
            let page = show_page(
                &state,
                &ctx,
                &user,
                id,
                HashMap::new(),
                HashMap::new(),
                Some(message),
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(CheckFailed::Refused(_)) => Err(PageError::Forbidden),
        Err(CheckFailed::Store(e)) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------
// Unmatched charges

pub struct UnmatchedRow {
    pub id: i64,
    pub institution: String,
    pub visit: String,
    pub date: String,
    pub name: String,
    pub id_card: String,
    pub total: String,
}

#[derive(Template)]
#[template(path = "cost_unmatched.html")]
struct UnmatchedPage {
    shell: Shell,
    rows: Vec<UnmatchedRow>,
    total: i64,
    error: Option<String>,
    pager: Pager,
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

async fn unmatched_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    page: Option<i64>,
    error: Option<String>,
) -> Result<UnmatchedPage, PageError> {
    let (page, skip) = offset(page);
    let (list, total) =
        gate::unmatched_list(&state.store, &viewer(ctx, user), PAGE_SIZE, skip).await?;
    Ok(UnmatchedPage {
        shell: shell(ctx, state, "未匹配费用", "Unmatched charges"),
        rows: list
            .into_iter()
            .map(|c| UnmatchedRow {
                id: c.id,
                institution: c.institution_name,
                visit: c.external_visit_id,
                date: c.visit_date.to_string(),
                name: c.patient_name,
                id_card: c.id_card_masked.unwrap_or_default(),
                total: yuan(c.total_fen),
            })
            .collect(),
        total,
        error,
        pager: Pager::new("/cost-alerts/unmatched?", page, total),
    })
}

pub async fn unmatched(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let page = unmatched_page(&state, &ctx, &user, q.page, None).await?;
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
pub struct AttachForm {
    csrf: String,
    #[serde(default)]
    resident_id: String,
}

pub async fn attach(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<AttachForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let tr = ctx.tr;
    let fail = |message: String| async {
        let page = unmatched_page(&state, &ctx, &user, None, Some(message)).await?;
        Ok::<_, PageError>((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
    };
    let Ok(resident_id) = form.resident_id.trim().parse::<i64>() else {
        return fail(say(
            tr,
            "请填写居民编号（居民档案页地址中的数字）。",
            "Enter the resident number (the number in the record page's address).",
        ))
        .await;
    };
    match gate::attach_charge(&state.store, &viewer(&ctx, &user), id, resident_id).await {
        Ok(()) => Ok(Redirect::to("/cost-alerts/unmatched").into_response()),
        Err(AccessError::Store(StoreError::Invalid(m))) => fail(m).await,
        Err(AccessError::Store(StoreError::NotFound(_))) => {
            fail(say(tr, "没有这个居民。", "No such resident.")).await
        }
        Err(AccessError::Refused(_)) => {
            fail(say(
                tr,
                "您无权把费用关联到该居民。",
                "You may not attach charges to this resident.",
            ))
            .await
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------
// Rules

pub struct RuleRow {
    pub id: i64,
    pub version: i64,
    pub code: String,
    pub form: RuleForm,
    pub summary: String,
    pub active: bool,
    pub history: Vec<String>,
    pub errors: HashMap<String, String>,
}

impl RuleRow {
    fn error(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(String::as_str)
    }
}

#[derive(Template)]
#[template(path = "cost_rules.html")]
struct RulesPage {
    shell: Shell,
    rules: Vec<RuleRow>,
    new_rule: RuleRow,
    can_edit: bool,
    populations: Vec<(String, String)>,
    bases: Vec<(String, String)>,
    runs: Vec<String>,
    months: Vec<String>,
    message: Option<String>,
}

async fn rules_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    edited: Option<(Option<i64>, RuleForm, HashMap<String, String>)>,
    message: Option<String>,
) -> Result<RulesPage, PageError> {
    let tr = ctx.tr;
    let mut rules = Vec::new();
    for r in store::rules(&state.store).await? {
        let history = store::rule_history(&state.store, r.id)
            .await?
            .into_iter()
            .map(|h| {
                format!(
                    "v{} · {} · {} {} > {} · {} · {}{}",
                    h.version,
                    super::local_time(h.changed_at, state.config.utc_offset_hours),
                    population_name(&h.population, tr),
                    basis_name(&h.basis, tr),
                    yuan(h.threshold_fen),
                    say(
                        tr,
                        &format!("{} 个月", h.window_months),
                        &format!("{} months", h.window_months)
                    ),
                    h.changed_by_name
                        .unwrap_or_else(|| say(tr, "系统", "system")),
                    if h.note.is_empty() {
                        String::new()
                    } else {
                        format!(" · {}", h.note)
                    },
                )
            })
            .collect();
        let (form, errors) = match &edited {
            Some((Some(id), form, errors)) if *id == r.id => (form.clone(), errors.clone()),
            _ => (RuleForm::of(&r.rule), HashMap::new()),
        };
        rules.push(RuleRow {
            id: r.id,
            version: r.version,
            code: r.rule.code.clone(),
            summary: format!(
                "{} · {} > {} {} · {}",
                population_name(r.rule.population.code(), tr),
                basis_name(r.rule.basis.code(), tr),
                yuan(r.rule.threshold_fen),
                say(tr, "元", "yuan"),
                say(
                    tr,
                    &format!("{} 个月窗口", r.rule.window_months),
                    &format!("{}-month window", r.rule.window_months)
                ),
            ),
            active: r.rule.active,
            form,
            history,
            errors,
        });
    }
    let (new_form, new_errors) = match edited {
        Some((None, form, errors)) => (form, errors),
        _ => (
            RuleForm {
                window_months: "1".into(),
                active: true,
                population: Population::Everyone.code().into(),
                basis: CostBasis::Total.code().into(),
                ..RuleForm::default()
            },
            HashMap::new(),
        ),
    };
    let runs = store::runs(&state.store, 12)
        .await?
        .into_iter()
        .map(|r| {
            format!(
                "{} · {} · {} {} · {} {} · {}",
                r.month,
                super::local_time(r.finished_at, state.config.utc_offset_hours),
                say(tr, "新增", "new"),
                r.summary.n_new,
                say(tr, "当月合计", "month total"),
                r.summary.n_hits,
                r.source
            )
        })
        .collect();
    Ok(RulesPage {
        shell: shell(ctx, state, "预警规则", "Alert rules"),
        rules,
        new_rule: RuleRow {
            id: 0,
            version: 0,
            code: String::new(),
            form: new_form,
            summary: String::new(),
            active: true,
            history: Vec::new(),
            errors: new_errors,
        },
        can_edit: gate::may_edit_rules(user.role),
        populations: Population::ALL
            .iter()
            .map(|p| {
                (
                    p.code().to_owned(),
                    format!("{} {}", p.name_zh(), p.name_en()),
                )
            })
            .collect(),
        bases: CostBasis::ALL
            .iter()
            .map(|b| {
                (
                    b.code().to_owned(),
                    format!("{} {}", b.name_zh(), b.name_en()),
                )
            })
            .collect(),
        runs,
        months: recent_months(today(state)),
        message,
    })
}

pub async fn rules(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
) -> Result<Response, PageError> {
    if user.role == Role::Resident {
        return Err(PageError::Forbidden);
    }
    let page = rules_page(&state, &ctx, &user, None, None).await?;
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
pub struct RuleEdit {
    csrf: String,
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name_zh: String,
    #[serde(default)]
    name_en: String,
    #[serde(default)]
    population: String,
    #[serde(default)]
    basis: String,
    #[serde(default)]
    threshold_yuan: String,
    #[serde(default)]
    window_months: String,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    note: String,
}

/// Add or change a rule (the bureau); each problem shows next to its field.
pub async fn save_rule(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Form(form): Form<RuleEdit>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    if !gate::may_edit_rules(user.role) {
        return Err(PageError::Forbidden);
    }
    let id = form.id.filter(|id| *id > 0);
    let mut typed = RuleForm {
        code: form.code.clone(),
        name_zh: form.name_zh.clone(),
        name_en: form.name_en.clone(),
        population: form.population.clone(),
        basis: form.basis.clone(),
        threshold_yuan: form.threshold_yuan.clone(),
        window_months: form.window_months.clone(),
        active: form.active.is_some(),
    };
    if let Some(id) = id {
        // The code of an existing rule does not change.
        typed.code = store::rule(&state.store, id).await?.rule.code;
    }
    let rule = match typed.parse() {
        Ok(rule) => rule,
        Err(problems) => {
            let errors = problems
                .iter()
                .map(|p| (p.field().code().to_owned(), p.to_string()))
                .collect();
            let page = rules_page(&state, &ctx, &user, Some((id, typed, errors)), None).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
        }
    };
    match gate::save_rule(
        &state.store,
        &viewer(&ctx, &user),
        id,
        form.version,
        &rule,
        form.note.trim(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/cost-alerts/rules").into_response()),
        Err(StoreError::Invalid(message)) => {
            let page = rules_page(&state, &ctx, &user, None, Some(message)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(StoreError::Conflict { .. }) => {
            let errors = [(
                "code".to_owned(),
                say(
                    ctx.tr,
                    "已有同代码的规则。",
                    "A rule with this code exists.",
                ),
            )]
            .into();
            let page = rules_page(&state, &ctx, &user, Some((id, typed, errors)), None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct RunForm {
    csrf: String,
    month: String,
}

/// Run a month now (the bureau): the same idempotent run as the monthly job.
pub async fn run_month(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Form(form): Form<RunForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    if !gate::may_edit_rules(user.role) {
        return Err(PageError::Forbidden);
    }
    let Some(month) = Month::parse(&form.month).filter(|m| m.first_day() <= today(&state)) else {
        return Err(PageError::BadRequest(
            "月份格式应为 YYYY-MM，且不能是将来 / month must be YYYY-MM and not in the future"
                .into(),
        ));
    };
    if store::rules(&state.store).await?.is_empty() {
        store::ensure_rules(&state.store, &yiwei_domain::cost_alert::default_rules()).await?;
    }
    let s = store::run_month(&state.store, month, Some(user.id), "page").await?;
    let message = say(
        ctx.tr,
        &format!(
            "{month}：新增预警 {} 条，当月合计 {} 条。",
            s.n_new, s.n_hits
        ),
        &format!(
            "{month}: {} new alerts, {} for the month.",
            s.n_new, s.n_hits
        ),
    );
    let page = rules_page(&state, &ctx, &user, None, Some(message)).await?;
    Ok(render(&page)?.into_response())
}

// ---------------------------------------------------------------------------------------
// Statistics

pub struct StatLine {
    pub month: String,
    pub township: String,
    pub alerts: i64,
    pub open: i64,
    pub checking: i64,
    pub closed: i64,
    pub checks: i64,
    pub outcomes: String,
}

#[derive(Template)]
#[template(path = "cost_stats.html")]
struct StatsPage {
    shell: Shell,
    lines: Vec<StatLine>,
    totals: StatLine,
    mix: Vec<(String, i64, String)>,
    from: String,
    to: String,
}

#[derive(Deserialize)]
pub struct StatsQuery {
    from: Option<String>,
    to: Option<String>,
}

pub async fn stats(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<StatsQuery>,
) -> Result<Response, PageError> {
    let tr = ctx.tr;
    let last = Month::previous_of(today(&state));
    let parse = |text: Option<&str>, default: Month| match text.map(str::trim) {
        None | Some("") => Ok(default),
        Some(t) => Month::parse(t).ok_or_else(|| {
            PageError::BadRequest("月份格式应为 YYYY-MM / month must be YYYY-MM".into())
        }),
    };
    let to = parse(q.to.as_deref(), last)?;
    let from = parse(q.from.as_deref(), to.minus(11))?;
    let root: DivisionCode = user.reach.clone();
    let rows = gate::stats(&state.store, &viewer(&ctx, &user), &root, from, to).await?;
    let mut names: HashMap<String, String> = HashMap::new();
    let mut totals = StatLine {
        month: say(tr, "合计", "Total"),
        township: String::new(),
        alerts: 0,
        open: 0,
        checking: 0,
        closed: 0,
        checks: 0,
        outcomes: String::new(),
    };
    let mut mix: Vec<(String, i64)> = Vec::new();
    let mut lines = Vec::new();
    for r in rows {
        let name = match names.get(&r.township) {
            Some(n) => n.clone(),
            None => {
                let n = match DivisionCode::parse(&r.township) {
                    Ok(code) => division::get(&state.store, &code)
                        .await
                        .map(|d| d.name)
                        .unwrap_or_else(|_| r.township.clone()),
                    Err(_) => r.township.clone(),
                };
                names.insert(r.township.clone(), n.clone());
                n
            }
        };
        totals.alerts += r.n_alerts;
        totals.open += r.n_open;
        totals.checking += r.n_checking;
        totals.closed += r.n_closed;
        totals.checks += r.n_checks;
        for (o, n) in &r.outcomes {
            match mix.iter_mut().find(|(c, _)| c == o) {
                Some((_, m)) => *m += n,
                None => mix.push((o.clone(), *n)),
            }
        }
        lines.push(StatLine {
            month: r.month,
            township: name,
            alerts: r.n_alerts,
            open: r.n_open,
            checking: r.n_checking,
            closed: r.n_closed,
            checks: r.n_checks,
            outcomes: r
                .outcomes
                .iter()
                .map(|(o, n)| format!("{} {n}", outcome_name(o, tr)))
                .collect::<Vec<_>>()
                .join(" · "),
        });
    }
    let closed_total: i64 = mix.iter().map(|(_, n)| n).sum();
    mix.sort_by_key(|m| std::cmp::Reverse(m.1));
    let mix = mix
        .into_iter()
        .map(|(o, n)| {
            let share = if closed_total > 0 {
                format!("{:.1}%", 100.0 * n as f64 / closed_total as f64)
            } else {
                String::new()
            };
            (outcome_name(&o, tr), n, share)
        })
        .collect();
    Ok(render(&StatsPage {
        shell: shell(&ctx, &state, "预警与核查统计", "Alert and check statistics"),
        lines,
        totals,
        mix,
        from: from.to_string(),
        to: to.to_string(),
    })?
    .into_response())
}
