//! Family-doctor teams and contracts (家庭医生签约) pages: the team list and a team with its
//! members, villages and contracts; service packages; signing from a resident's page;
//! one contract with its fulfilment (履约) and the renew, transfer, terminate and
//! record-a-service forms; the contract panel of the resident page; and the coverage page
//! (签约服务覆盖率 overall and per key group, 续签率) per division.
//!
//! Personal data (contracts, residents' names) goes through `yiwei_store::access`, which
//! checks and audits; teams and packages are staff and configuration data. The rules are
//! `yiwei_domain::contract`; forms re-show their input with each error next to its field.
//!
//! The resident's signature is recorded as "signed on paper, witnessed by …", plus, where
//! the browser runs `/static/sign.js`, a signature drawn with a finger on a canvas and sent
//! as a PNG data URL in a hidden field. Without JavaScript the canvas stays hidden and the
//! paper signature is the record; the script comes from our origin, so the
//! `script-src 'self'` policy holds.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use yiwei_domain::access::Role;
use yiwei_domain::contract::{self as rules, ContractStatus, PackageKind, PeriodRules, TeamRole};
use yiwei_domain::division::{DivisionCode, Level};
use yiwei_store::access::{self, AccessError};
use yiwei_store::contract::{
    self as store_contract, Contract, NewContract, NewPackage, NewService, NewTeam, Renewal,
    Signature, Team, Transfer,
};
use yiwei_store::user::User;
use yiwei_store::{StoreError, division, org};

use super::render;
use super::viewer;
use crate::AppState;
use crate::auth::{Ctx, Staff};
use crate::error::PageError;
use crate::i18n::{Lang, Tr};
use crate::shell::{PAGE_SIZE, Pager, Shell, offset};

/// The period rules in force. The one-year minimum is national; the 30-day renewal window
/// is local practice (`yiwei_domain::contract::PeriodRules`).
// FIXME: read them from the configuration once the binary's `Config` carries a `contract`
// section (the binary is being reworked in parallel); until then the defaults apply.
pub fn period_rules() -> PeriodRules {
    PeriodRules::default()
}

fn today(state: &AppState) -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(i64::from(state.config.utc_offset_hours)))
        .date_naive()
}

fn en(tr: Tr) -> bool {
    tr.lang == Lang::En
}

/// Whether the role writes clinical records (signs, renews, records services).
fn writes(user: &User) -> bool {
    user.role.reads_personal_records() && user.role != Role::Resident
}

/// Whether the user may set up and change `team` (or, with `None`, create teams): the
/// county administrator, the team's lead, and clinicians and team members of its
/// institution.
fn manages(user: &User, team: Option<&Team>) -> bool {
    if user.role == Role::CountyAdmin {
        return true;
    }
    let staff = matches!(user.role, Role::Clinician | Role::TeamMember);
    match team {
        None => staff && user.institution_id.is_some(),
        Some(t) => {
            t.lead_user_id == Some(user.id)
                || (staff && user.institution_id == Some(t.institution_id))
        }
    }
}

fn role_name(role: TeamRole, tr: Tr) -> &'static str {
    if en(tr) {
        role.name_en()
    } else {
        role.name_zh()
    }
}

fn status_name(status: ContractStatus, tr: Tr) -> &'static str {
    if en(tr) {
        status.name_en()
    } else {
        status.name_zh()
    }
}

fn item_name(code: &str, tr: Tr) -> String {
    match rules::service_item_names(code) {
        Some((zh, en_name)) => if en(tr) { en_name } else { zh }.to_owned(),
        None => code.to_owned(),
    }
}

fn package_name(name: &str, name_en: &str, tr: Tr) -> String {
    if en(tr) && !name_en.is_empty() {
        name_en.to_owned()
    } else {
        name.to_owned()
    }
}

/// A date typed in a form: empty is `None`, anything else must be `YYYY-MM-DD`.
fn parse_date(text: &str) -> Result<Option<NaiveDate>, ()> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| ())
}

fn message(e: &rules::ContractError, tr: Tr) -> String {
    if en(tr) {
        e.to_string()
    } else {
        e.message_zh()
    }
}

// ---------------------------------------------------------------------------------------
// Teams

pub struct TeamRow {
    pub id: i64,
    pub name: String,
    pub institution: String,
    pub lead: String,
    pub members: i64,
    pub villages: i64,
    pub active: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct TeamForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    institution: String,
    #[serde(default)]
    lead: String,
}

#[derive(Default)]
pub struct TeamErrors {
    pub name: Option<String>,
    pub institution: Option<String>,
    pub lead: Option<String>,
}

#[derive(Template)]
#[template(path = "teams.html")]
struct TeamsPage {
    shell: Shell,
    rows: Vec<TeamRow>,
    total_label: String,
    pager: Pager,
    can_create: bool,
    institutions: Vec<(String, String)>,
    form: TeamForm,
    errors: TeamErrors,
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

/// Institutions a user may create teams for: any in the county for the administrator,
/// their own otherwise.
async fn institutions_for(
    state: &AppState,
    user: &User,
) -> Result<Vec<(String, String)>, PageError> {
    if user.role == Role::CountyAdmin {
        let filter = org::Filter {
            within: Some(user.reach.clone()),
            kind: None,
            community_id: None,
            name: None,
        };
        let (list, _) = org::list(&state.store, &filter, 1000, 0).await?;
        return Ok(list
            .into_iter()
            .filter(|i| i.active)
            .map(|i| (i.id.to_string(), i.name))
            .collect());
    }
    match user.institution_id {
        Some(id) => {
            let i = org::get(&state.store, id).await?;
            Ok(vec![(i.id.to_string(), i.name)])
        }
        None => Ok(Vec::new()),
    }
}

async fn teams_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    page: Option<i64>,
    form: TeamForm,
    errors: TeamErrors,
) -> Result<TeamsPage, PageError> {
    let (page, off) = offset(page);
    let (list, total) =
        store_contract::list_teams(&state.store, &user.reach, Some(user.id), PAGE_SIZE, off)
            .await?;
    let can_create = manages(user, None);
    Ok(TeamsPage {
        shell: Shell::new(ctx, state, "team.title"),
        rows: list
            .into_iter()
            .map(|t| TeamRow {
                id: t.id,
                name: t.name,
                institution: t.institution_name,
                lead: t.lead_name.unwrap_or_default(),
                members: t.n_members,
                villages: t.n_villages,
                active: t.active,
            })
            .collect(),
        total_label: ctx.tr.t1("list.total", "n", &total.to_string()),
        pager: Pager::new("/teams?", page, total),
        institutions: if can_create {
            institutions_for(state, user).await?
        } else {
            Vec::new()
        },
        can_create,
        form,
        errors,
    })
}

pub async fn teams(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    if user.role == Role::Resident {
        return Err(PageError::Forbidden);
    }
    let page = teams_page(
        &state,
        &ctx,
        &user,
        q.page,
        TeamForm::default(),
        TeamErrors::default(),
    )
    .await?;
    Ok(render(&page)?.into_response())
}

pub async fn create_team(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Form(form): Form<TeamForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    if !manages(&user, None) {
        return Err(PageError::Forbidden);
    }
    let tr = ctx.tr;
    let mut errors = TeamErrors::default();
    let allowed = institutions_for(&state, &user).await?;
    let institution = form
        .institution
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|id| allowed.iter().any(|(i, _)| *i == id.to_string()));
    if institution.is_none() {
        errors.institution = Some(tr.t("team.err.institution").to_owned());
    }
    let lead = match form.lead.trim() {
        "" => None,
        name => match yiwei_store::user::by_username(&state.store, name).await {
            Ok(u) => Some(u.id),
            Err(StoreError::NotFound(_)) => {
                errors.lead = Some(tr.t1("team.err.no_user", "name", name));
                None
            }
            Err(e) => return Err(e.into()),
        },
    };
    if form.name.trim().is_empty() {
        errors.name = Some(tr.t("team.err.name").to_owned());
    }
    if let (Some(institution_id), None, None, None) =
        (institution, &errors.name, &errors.institution, &errors.lead)
    {
        let new = NewTeam {
            institution_id,
            name: form.name.clone(),
            lead_user_id: lead,
        };
        match store_contract::create_team(&state.store, &new, &user.who()).await {
            Ok(id) => return Ok(Redirect::to(&format!("/teams/{id}")).into_response()),
            Err(StoreError::Conflict { .. }) => {
                errors.name = Some(tr.t("team.err.duplicate").to_owned())
            }
            Err(StoreError::Invalid(m)) => errors.lead = Some(m),
            Err(e) => return Err(e.into()),
        }
    }
    let page = teams_page(&state, &ctx, &user, None, form, errors).await?;
    Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response())
}

pub struct MemberRow {
    pub user_id: i64,
    pub name: String,
    pub username: String,
    pub role: String,
}

pub struct ContractRow {
    pub id: i64,
    pub resident_id: i64,
    pub resident: String,
    pub village: String,
    pub doctor: String,
    pub period: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "team.html")]
struct TeamPage {
    shell: Shell,
    id: i64,
    name: String,
    institution: String,
    active: bool,
    members: Vec<MemberRow>,
    villages: Vec<(String, String)>,
    can_manage: bool,
    roles: Vec<(&'static str, &'static str)>,
    village_options: Vec<(String, String)>,
    contracts: Option<Vec<ContractRow>>,
    contracts_label: String,
    pager: Pager,
    error: Option<String>,
}

/// The villages under the team's institution's division (for the "add a village" list).
async fn village_options(
    state: &AppState,
    institution_id: i64,
) -> Result<Vec<(String, String)>, PageError> {
    let i = org::get(&state.store, institution_id).await?;
    let root = match i.division.level() {
        Level::Village => i.division.parent().unwrap_or(i.division.clone()),
        _ => i.division.clone(),
    };
    let villages = division::search(&state.store, &root, "", Some(Level::Village), 1000, 0).await?;
    Ok(villages
        .into_iter()
        .map(|v| (v.code.as_str().to_owned(), v.name))
        .collect())
}

async fn team_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    id: i64,
    page: Option<i64>,
    error: Option<String>,
) -> Result<TeamPage, PageError> {
    let tr = ctx.tr;
    let team = store_contract::get_team(&state.store, id).await?;
    let members = store_contract::members(&state.store, id).await?;
    let villages = store_contract::villages(&state.store, id).await?;
    let can_manage = manages(user, Some(&team));
    let (page, off) = offset(page);
    let acts = writes(user)
        && store_contract::acts_for_team(&state.store, id, user.id, user.institution_id).await?;
    let (contracts, total) = if acts {
        let (list, total) =
            access::team_contracts(&state.store, &viewer(ctx, user), id, false, PAGE_SIZE, off)
                .await?;
        let rows = list
            .into_iter()
            .map(|row| ContractRow {
                id: row.contract.id,
                resident_id: row.contract.resident_id,
                resident: row.resident_name,
                village: row.village_name,
                doctor: row.contract.doctor_name.clone(),
                period: format!("{} — {}", row.contract.starts_on, row.contract.last_day()),
                status: status_name(row.contract.status, tr).to_owned(),
            })
            .collect();
        (Some(rows), total)
    } else {
        (None, 0)
    };
    Ok(TeamPage {
        shell: Shell::new(ctx, state, "team.title").with_title(team.name.clone()),
        id,
        name: team.name.clone(),
        institution: team.institution_name.clone(),
        active: team.active,
        members: members
            .into_iter()
            .map(|m| MemberRow {
                user_id: m.user_id,
                name: m.display_name,
                username: m.username,
                role: role_name(m.role, tr).to_owned(),
            })
            .collect(),
        villages: villages
            .into_iter()
            .map(|v| (v.code.as_str().to_owned(), v.name))
            .collect(),
        roles: TeamRole::ALL
            .into_iter()
            .map(|r| (r.code(), role_name(r, tr)))
            .collect(),
        village_options: if can_manage {
            village_options(state, team.institution_id).await?
        } else {
            Vec::new()
        },
        can_manage,
        contracts,
        contracts_label: tr.t1("list.total", "n", &total.to_string()),
        pager: Pager::new(&format!("/teams/{id}?"), page, total),
        error,
    })
}

pub async fn team(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    if user.role == Role::Resident {
        return Err(PageError::Forbidden);
    }
    Ok(render(&team_page(&state, &ctx, &user, id, q.page, None).await?)?.into_response())
}

#[derive(Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
}

#[derive(Deserialize)]
pub struct VillageForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// The team, if the user may change it.
async fn managed_team(state: &AppState, user: &User, id: i64) -> Result<Team, PageError> {
    let team = store_contract::get_team(&state.store, id).await?;
    if manages(user, Some(&team)) {
        Ok(team)
    } else {
        Err(PageError::Forbidden)
    }
}

/// Re-show the team page with `error`, or go back to it.
async fn after_team_change(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    id: i64,
    result: Result<(), String>,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/teams/{id}")).into_response()),
        Err(message) => {
            let page = team_page(state, ctx, user, id, None, Some(message)).await?;
            Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response())
        }
    }
}

fn invalid_only(result: Result<(), StoreError>) -> Result<Result<(), String>, PageError> {
    match result {
        Ok(()) => Ok(Ok(())),
        Err(StoreError::Invalid(m)) => Ok(Err(m)),
        Err(StoreError::NotFound(what)) => Ok(Err(format!("{what} not found"))),
        Err(e) => Err(e.into()),
    }
}

pub async fn add_member(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<MemberForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    managed_team(&state, &user, id).await?;
    let tr = ctx.tr;
    let result = match (
        TeamRole::parse(&form.role),
        yiwei_store::user::by_username(&state.store, form.username.trim()).await,
    ) {
        (None, _) => Err(tr.t("team.err.role").to_owned()),
        (_, Err(StoreError::NotFound(_))) => {
            Err(tr.t1("team.err.no_user", "name", form.username.trim()))
        }
        (_, Err(e)) => return Err(e.into()),
        (Some(role), Ok(member)) => invalid_only(
            store_contract::add_member(&state.store, id, member.id, role, &user.who()).await,
        )?,
    };
    after_team_change(&state, &ctx, &user, id, result).await
}

pub async fn remove_member(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path((id, member)): Path<(i64, i64)>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    managed_team(&state, &user, id).await?;
    let result =
        invalid_only(store_contract::remove_member(&state.store, id, member, &user.who()).await)?;
    after_team_change(&state, &ctx, &user, id, result).await
}

pub async fn add_village(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<VillageForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    managed_team(&state, &user, id).await?;
    let result = match DivisionCode::parse(form.code.trim()) {
        Err(e) => Err(e.to_string()),
        Ok(code) => {
            invalid_only(store_contract::add_village(&state.store, id, &code, &user.who()).await)?
        }
    };
    after_team_change(&state, &ctx, &user, id, result).await
}

pub async fn remove_village(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path((id, code)): Path<(i64, String)>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    managed_team(&state, &user, id).await?;
    let code = DivisionCode::parse(&code).map_err(|e| PageError::BadRequest(e.to_string()))?;
    let result =
        invalid_only(store_contract::remove_village(&state.store, id, &code, &user.who()).await)?;
    after_team_change(&state, &ctx, &user, id, result).await
}

// ---------------------------------------------------------------------------------------
// Packages

pub struct PackageRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub price: String,
    pub items: Vec<String>,
    pub active: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct PackageForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    name_en: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    items: String,
}

#[derive(Default)]
pub struct PackageErrors {
    pub code: Option<String>,
    pub name: Option<String>,
    pub price: Option<String>,
    pub items: Option<String>,
}

#[derive(Template)]
#[template(path = "packages.html")]
struct PackagesPage {
    shell: Shell,
    rows: Vec<PackageRow>,
    can_create: bool,
    kinds: Vec<(&'static str, &'static str)>,
    known_items: Vec<(&'static str, String)>,
    form: PackageForm,
    errors: PackageErrors,
}

async fn packages_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    form: PackageForm,
    errors: PackageErrors,
) -> Result<PackagesPage, PageError> {
    let tr = ctx.tr;
    let list = store_contract::list_packages(&state.store, false).await?;
    Ok(PackagesPage {
        shell: Shell::new(ctx, state, "package.title"),
        rows: list
            .into_iter()
            .map(|p| PackageRow {
                id: p.id,
                code: p.code,
                name: package_name(&p.name, &p.name_en, tr),
                kind: if en(tr) {
                    p.kind.name_en()
                } else {
                    p.kind.name_zh()
                }
                .to_owned(),
                price: rules::yuan_text(p.price_fen),
                items: p
                    .items
                    .iter()
                    .map(|i| format!("{} ×{}", item_name(&i.code, tr), i.per_year))
                    .collect(),
                active: p.active,
            })
            .collect(),
        can_create: user.role == Role::CountyAdmin,
        kinds: PackageKind::ALL
            .into_iter()
            .map(|k| (k.code(), if en(tr) { k.name_en() } else { k.name_zh() }))
            .collect(),
        known_items: rules::SERVICE_ITEMS
            .iter()
            .map(|(code, _, _)| (*code, item_name(code, tr)))
            .collect(),
        form,
        errors,
    })
}

pub async fn packages(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
) -> Result<Response, PageError> {
    if user.role == Role::Resident {
        return Err(PageError::Forbidden);
    }
    let form = PackageForm {
        kind: "basic".into(),
        price: "0".into(),
        ..PackageForm::default()
    };
    let page = packages_page(&state, &ctx, &user, form, PackageErrors::default()).await?;
    Ok(render(&page)?.into_response())
}

pub async fn create_package(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Form(form): Form<PackageForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    if user.role != Role::CountyAdmin {
        return Err(PageError::Forbidden);
    }
    let tr = ctx.tr;
    let mut errors = PackageErrors::default();
    let price = rules::parse_yuan(&form.price);
    if price.is_none() {
        errors.price = Some(tr.t("package.err.price").to_owned());
    }
    let items = match rules::parse_items(&form.items) {
        Ok(items) if items.is_empty() => {
            errors.items = Some(tr.t("package.err.no_items").to_owned());
            Vec::new()
        }
        Ok(items) => items,
        Err(e) => {
            errors.items = Some(e);
            Vec::new()
        }
    };
    if rules::check_item_code(form.code.trim()).is_err() {
        errors.code = Some(tr.t("package.err.code").to_owned());
    }
    if form.name.trim().is_empty() {
        errors.name = Some(tr.t("package.err.name").to_owned());
    }
    if let (Some(price_fen), None, None, None, None) = (
        price,
        &errors.code,
        &errors.name,
        &errors.price,
        &errors.items,
    ) {
        let new = NewPackage {
            code: form.code.clone(),
            name: form.name.clone(),
            name_en: form.name_en.clone(),
            kind: PackageKind::parse(&form.kind).unwrap_or(PackageKind::Basic),
            price_fen,
            items,
        };
        match store_contract::create_package(&state.store, &new, &user.who()).await {
            Ok(_) => return Ok(Redirect::to("/packages").into_response()),
            Err(StoreError::Conflict { .. }) => {
                errors.code = Some(tr.t("package.err.duplicate").to_owned())
            }
            Err(StoreError::Invalid(m)) => errors.items = Some(m),
            Err(e) => return Err(e.into()),
        }
    }
    let page = packages_page(&state, &ctx, &user, form, errors).await?;
    Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response())
}

// ---------------------------------------------------------------------------------------
// Signing

#[derive(Clone, Debug, Default, Deserialize)]
pub struct SignForm {
    #[serde(default)]
    csrf: String,
    /// `team_id:doctor_id`.
    #[serde(default)]
    assignment: String,
    #[serde(default)]
    package: String,
    #[serde(default)]
    starts_on: String,
    #[serde(default)]
    ends_on: String,
    #[serde(default)]
    on_paper: Option<String>,
    #[serde(default)]
    witness: String,
    #[serde(default)]
    signature_drawing: String,
}

#[derive(Default)]
pub struct SignErrors {
    pub general: Option<String>,
    pub assignment: Option<String>,
    pub package: Option<String>,
    pub starts_on: Option<String>,
    pub ends_on: Option<String>,
    pub signature: Option<String>,
    /// The active contract that blocks a second one.
    pub existing: Option<i64>,
}

#[derive(Template)]
#[template(path = "contract_form.html")]
struct SignPage {
    shell: Shell,
    resident_id: i64,
    resident_name: String,
    village: String,
    assignments: Vec<(String, String)>,
    packages: Vec<(String, String)>,
    form: SignForm,
    errors: SignErrors,
    default_end_hint: String,
}

/// (value `team:doctor`, label) of every doctor who may hold contracts in `teams`.
async fn assignments(
    state: &AppState,
    teams: &[Team],
    tr: Tr,
) -> Result<Vec<(String, String)>, PageError> {
    let mut out = Vec::new();
    for t in teams {
        for m in store_contract::members(&state.store, t.id).await? {
            if m.role.may_hold_contracts() {
                out.push((
                    format!("{}:{}", t.id, m.user_id),
                    format!(
                        "{} · {}（{}）",
                        t.name,
                        m.display_name,
                        role_name(m.role, tr)
                    ),
                ));
            }
        }
    }
    Ok(out)
}

async fn package_options(state: &AppState, tr: Tr) -> Result<Vec<(String, String)>, PageError> {
    Ok(store_contract::list_packages(&state.store, true)
        .await?
        .into_iter()
        .map(|p| {
            let name = package_name(&p.name, &p.name_en, tr);
            let kind = if en(tr) {
                p.kind.name_en()
            } else {
                p.kind.name_zh()
            };
            (
                p.id.to_string(),
                format!("{name}（{kind}，¥{}）", rules::yuan_text(p.price_fen)),
            )
        })
        .collect())
}

async fn sign_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    resident_id: i64,
    form: SignForm,
    errors: SignErrors,
) -> Result<SignPage, PageError> {
    let tr = ctx.tr;
    let (r, _) = access::open_resident(&state.store, &viewer(ctx, user), resident_id).await?;
    let teams =
        store_contract::teams_for_signing(&state.store, &r.division, user.institution_id).await?;
    let start = parse_date(&form.starts_on)
        .ok()
        .flatten()
        .unwrap_or_else(|| today(state));
    Ok(SignPage {
        shell: Shell::new(ctx, state, "contract.sign"),
        resident_id,
        resident_name: r.name,
        village: division::get(&state.store, &r.division).await?.name,
        assignments: assignments(state, &teams, tr).await?,
        packages: package_options(state, tr).await?,
        default_end_hint: tr.t1(
            "contract.default_end",
            "date",
            &rules::default_end(start, &period_rules()).to_string(),
        ),
        form,
        errors,
    })
}

pub async fn sign_form(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    if !writes(&user) {
        return Err(PageError::Forbidden);
    }
    let form = SignForm {
        starts_on: today(&state).to_string(),
        on_paper: Some("1".into()),
        witness: user.display_name.clone(),
        ..SignForm::default()
    };
    let page = sign_page(&state, &ctx, &user, id, form, SignErrors::default()).await?;
    Ok(render(&page)?.into_response())
}

/// Where a store message about a contract belongs on a form.
fn place_message(message: String, errors: &mut SignErrors) {
    let slot = if message.contains("signature") || message.contains("witness") {
        &mut errors.signature
    } else if message.contains("doctor") || message.contains("team") {
        &mut errors.assignment
    } else if message.contains("package") {
        &mut errors.package
    } else if message.contains("month") || message.contains("ends before") {
        &mut errors.ends_on
    } else if message.contains("in force until") || message.contains("start") {
        &mut errors.starts_on
    } else {
        &mut errors.general
    };
    slot.get_or_insert(message);
}

/// The signature fields of a form.
fn signature_of(on_paper: &Option<String>, witness: &str, drawing: &str) -> Signature {
    Signature {
        on_paper: on_paper.is_some(),
        witness: witness.to_owned(),
        drawing: Some(drawing.trim().to_owned()).filter(|d| !d.is_empty()),
    }
}

pub async fn sign(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<SignForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    if !writes(&user) {
        return Err(PageError::Forbidden);
    }
    let tr = ctx.tr;
    let rules_now = period_rules();
    let mut errors = SignErrors::default();
    let assignment = form
        .assignment
        .split_once(':')
        .and_then(|(t, d)| Some((t.trim().parse::<i64>().ok()?, d.trim().parse::<i64>().ok()?)));
    if assignment.is_none() {
        errors.assignment = Some(tr.t("contract.err.assignment").to_owned());
    }
    let package = form.package.trim().parse::<i64>().ok();
    if package.is_none() {
        errors.package = Some(tr.t("contract.err.package").to_owned());
    }
    let starts_on = match parse_date(&form.starts_on) {
        Ok(Some(d)) => Some(d),
        _ => {
            errors.starts_on = Some(tr.t("contract.err.date").to_owned());
            None
        }
    };
    let ends_on = match parse_date(&form.ends_on) {
        Ok(d) => d,
        Err(()) => {
            errors.ends_on = Some(tr.t("contract.err.date").to_owned());
            None
        }
    };
    if let (Some(start), Some(end)) = (starts_on, ends_on)
        && let Err(e) = rules::check_period(start, end, &rules_now)
    {
        errors.ends_on = Some(message(&e, tr));
    }
    let signature = signature_of(&form.on_paper, &form.witness, &form.signature_drawing);
    if let Err(StoreError::Invalid(m)) = signature.checked() {
        errors.signature = Some(if m.contains("witness") {
            tr.t("contract.err.witness").to_owned()
        } else if m.contains("PNG") {
            m
        } else {
            tr.t("contract.err.signature").to_owned()
        });
    }
    let ready = errors.assignment.is_none()
        && errors.package.is_none()
        && errors.starts_on.is_none()
        && errors.ends_on.is_none()
        && errors.signature.is_none();
    if let (true, Some((team_id, doctor_id)), Some(package_id), Some(starts_on)) =
        (ready, assignment, package, starts_on)
    {
        let new = NewContract {
            resident_id: id,
            team_id,
            doctor_id,
            package_id,
            starts_on,
            ends_on,
            signature,
        };
        match access::sign_contract(&state.store, &viewer(&ctx, &user), &new, &rules_now).await {
            Ok(contract) => {
                return Ok(
                    Redirect::to(&format!("/contracts/{contract}?done=signed")).into_response()
                );
            }
            Err(AccessError::Store(StoreError::Conflict { constraint }))
                if constraint == "contract_one_active" =>
            {
                errors.general = Some(tr.t("contract.err.one_active").to_owned());
                errors.existing = access::contracts_of(
                    &state.store,
                    &viewer(&ctx, &user),
                    id,
                    Some(ContractStatus::Active),
                )
                .await?
                .first()
                .map(|c| c.id);
                let page = sign_page(&state, &ctx, &user, id, form, errors).await?;
                return Ok((StatusCode::CONFLICT, render(&page)?).into_response());
            }
            Err(AccessError::Store(StoreError::Invalid(m))) => place_message(m, &mut errors),
            Err(e) => return Err(e.into()),
        }
    }
    let page = sign_page(&state, &ctx, &user, id, form, errors).await?;
    Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response())
}

// ---------------------------------------------------------------------------------------
// One contract

pub struct ServiceRow {
    pub item: String,
    pub delivered_on: String,
    pub encounter: Option<i64>,
    pub by: String,
}

pub struct ItemRow {
    pub item: String,
    pub required: u32,
    pub delivered: u32,
    pub fulfilled: bool,
}

/// Which form of the contract page an error belongs to.
#[derive(Default)]
pub struct ActionErrors {
    pub renew: Option<String>,
    pub transfer: Option<String>,
    pub terminate: Option<String>,
    pub service: Option<String>,
}

#[derive(Template)]
#[template(path = "contract.html")]
struct ContractPage {
    shell: Shell,
    id: i64,
    version: i64,
    resident_id: i64,
    resident_name: String,
    team_id: i64,
    team: String,
    institution: String,
    doctor: String,
    package: String,
    status: String,
    period: String,
    ended: String,
    ended_reason: String,
    signed_at: String,
    on_paper: bool,
    witness: String,
    drawing: Option<String>,
    replaces: Option<i64>,
    replaced_by: Option<i64>,
    year: String,
    items: Vec<ItemRow>,
    fulfilled: bool,
    services: Vec<ServiceRow>,
    can_change: bool,
    renew_opens: Option<String>,
    packages: Vec<(String, String)>,
    assignments: Vec<(String, String)>,
    item_options: Vec<(String, String)>,
    today: String,
    /// The user's name, the default witness of a renewal.
    me: String,
    errors: ActionErrors,
}

async fn contract_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    id: i64,
    errors: ActionErrors,
    flash: Option<String>,
) -> Result<ContractPage, PageError> {
    let tr = ctx.tr;
    let v = viewer(ctx, user);
    let c: Contract = access::open_contract(&state.store, &v, id).await?;
    let (r, _) = access::open_resident(&state.store, &v, c.resident_id).await?;
    let now = today(state);
    let (services, fulfilment) = access::contract_fulfilment(&state.store, &v, id, now).await?;
    let active = c.status == ContractStatus::Active;
    let can_change = active && writes(user);
    let opens = rules::renewal_opens(c.ends_on, &period_rules());
    let (assignments_list, packages, item_options) = if can_change {
        let teams =
            store_contract::teams_for_signing(&state.store, &r.division, user.institution_id)
                .await?;
        let current = format!("{}:{}", c.team_id, c.doctor_id);
        let package = store_contract::get_package(&state.store, c.package_id).await?;
        (
            assignments(state, &teams, tr)
                .await?
                .into_iter()
                .filter(|(value, _)| *value != current)
                .collect(),
            package_options(state, tr).await?,
            package
                .items
                .iter()
                .map(|i| (i.code.clone(), item_name(&i.code, tr)))
                .collect(),
        )
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let flash = flash.map(|f| tr.t(&format!("contract.done.{f}")).to_owned());
    Ok(ContractPage {
        shell: Shell::new(ctx, state, "contract.title").with_flash(flash),
        id,
        version: c.version,
        resident_id: c.resident_id,
        resident_name: r.name,
        team_id: c.team_id,
        team: c.team_name.clone(),
        institution: c.institution_name.clone(),
        doctor: c.doctor_name.clone(),
        package: package_name(&c.package_name, &c.package_name_en, tr),
        status: status_name(c.status, tr).to_owned(),
        period: format!("{} — {}", c.starts_on, c.ends_on),
        ended: c.ended_on.map(|d| d.to_string()).unwrap_or_default(),
        ended_reason: c.ended_reason.clone().unwrap_or_default(),
        signed_at: super::local_time(c.signed_at, state.config.utc_offset_hours),
        on_paper: c.signature.on_paper,
        witness: c.signature.witness.clone(),
        drawing: c.signature.drawing.clone(),
        replaces: c.replaces,
        replaced_by: c.replaced_by,
        year: format!("{} — {}", fulfilment.from, fulfilment.to),
        fulfilled: fulfilment.fulfilled(),
        items: fulfilment
            .items
            .iter()
            .map(|i| ItemRow {
                item: item_name(&i.code, tr),
                required: i.required,
                delivered: i.delivered,
                fulfilled: i.fulfilled(),
            })
            .collect(),
        services: services
            .into_iter()
            .map(|s| ServiceRow {
                item: item_name(&s.item_code, tr),
                delivered_on: s.delivered_on.to_string(),
                encounter: s.encounter_id,
                by: s.recorded_by_name.unwrap_or_default(),
            })
            .collect(),
        can_change,
        renew_opens: (now < opens).then(|| opens.to_string()),
        packages,
        assignments: assignments_list,
        item_options,
        today: now.to_string(),
        me: user.display_name.clone(),
        errors,
    })
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let flash = q.done.filter(|d| {
        matches!(
            d.as_str(),
            "signed" | "renewed" | "transferred" | "terminated" | "service"
        )
    });
    let page = contract_page(&state, &ctx, &user, id, ActionErrors::default(), flash).await?;
    Ok(render(&page)?.into_response())
}

/// Go to `to` on success; re-show the contract page with the error at its form otherwise.
async fn after_action<T>(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    id: i64,
    result: Result<T, AccessError>,
    to: impl FnOnce(T) -> String,
    place: impl FnOnce(&mut ActionErrors) -> &mut Option<String>,
) -> Result<Response, PageError> {
    let message = match result {
        Ok(v) => return Ok(Redirect::to(&to(v)).into_response()),
        Err(AccessError::Store(StoreError::Invalid(m))) => m,
        Err(AccessError::Store(StoreError::Conflict { .. })) => {
            ctx.tr.t("contract.err.changed").to_owned()
        }
        Err(e) => return Err(e.into()),
    };
    let mut errors = ActionErrors::default();
    *place(&mut errors) = Some(message);
    let page = contract_page(state, ctx, user, id, errors, None).await?;
    Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response())
}

fn version_of(text: &str) -> Result<i64, PageError> {
    text.trim()
        .parse()
        .map_err(|_| PageError::BadRequest("version".into()))
}

#[derive(Deserialize)]
pub struct RenewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    ends_on: String,
    #[serde(default)]
    package: String,
    #[serde(default)]
    on_paper: Option<String>,
    #[serde(default)]
    witness: String,
    #[serde(default)]
    signature_drawing: String,
}

pub async fn renew(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<RenewForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let version = version_of(&form.version)?;
    let result = match parse_date(&form.ends_on) {
        Err(()) => Err(AccessError::Store(StoreError::Invalid(
            ctx.tr.t("contract.err.date").to_owned(),
        ))),
        Ok(ends_on) => {
            let renewal = Renewal {
                today: today(&state),
                ends_on,
                package_id: form.package.trim().parse().ok(),
                signature: signature_of(&form.on_paper, &form.witness, &form.signature_drawing),
            };
            access::renew_contract(
                &state.store,
                &viewer(&ctx, &user),
                id,
                version,
                &renewal,
                &period_rules(),
            )
            .await
        }
    };
    after_action(
        &state,
        &ctx,
        &user,
        id,
        result,
        |new| format!("/contracts/{new}?done=renewed"),
        |e| &mut e.renew,
    )
    .await
}

#[derive(Deserialize)]
pub struct TransferForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    assignment: String,
    #[serde(default)]
    on: String,
    #[serde(default)]
    reason: String,
}

pub async fn transfer(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<TransferForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let version = version_of(&form.version)?;
    let tr = ctx.tr;
    let assignment = form
        .assignment
        .split_once(':')
        .and_then(|(t, d)| Some((t.trim().parse::<i64>().ok()?, d.trim().parse::<i64>().ok()?)));
    let result = match (assignment, parse_date(&form.on)) {
        (None, _) => Err(AccessError::Store(StoreError::Invalid(
            tr.t("contract.err.assignment").to_owned(),
        ))),
        (_, Err(())) => Err(AccessError::Store(StoreError::Invalid(
            tr.t("contract.err.date").to_owned(),
        ))),
        (Some((team_id, doctor_id)), Ok(on)) => {
            let transfer = Transfer {
                team_id,
                doctor_id,
                on: on.unwrap_or_else(|| today(&state)),
                reason: form.reason.clone(),
                signature: None,
            };
            access::transfer_contract(&state.store, &viewer(&ctx, &user), id, version, &transfer)
                .await
        }
    };
    after_action(
        &state,
        &ctx,
        &user,
        id,
        result,
        |new| format!("/contracts/{new}?done=transferred"),
        |e| &mut e.transfer,
    )
    .await
}

#[derive(Deserialize)]
pub struct TerminateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    on: String,
    #[serde(default)]
    reason: String,
}

pub async fn terminate(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<TerminateForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let version = version_of(&form.version)?;
    let result = match parse_date(&form.on) {
        Err(()) => Err(AccessError::Store(StoreError::Invalid(
            ctx.tr.t("contract.err.date").to_owned(),
        ))),
        Ok(on) => {
            let on = on.unwrap_or_else(|| today(&state));
            if rules::reason(&form.reason).is_err() {
                Err(AccessError::Store(StoreError::Invalid(message(
                    &rules::ContractError::ReasonTooShort,
                    ctx.tr,
                ))))
            } else {
                access::terminate_contract(
                    &state.store,
                    &viewer(&ctx, &user),
                    id,
                    version,
                    &form.reason,
                    on,
                )
                .await
            }
        }
    };
    after_action(
        &state,
        &ctx,
        &user,
        id,
        result,
        |()| format!("/contracts/{id}?done=terminated"),
        |e| &mut e.terminate,
    )
    .await
}

#[derive(Deserialize)]
pub struct ServiceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    delivered_on: String,
    #[serde(default)]
    encounter: String,
}

pub async fn record_service(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<ServiceForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let tr = ctx.tr;
    let encounter = match form.encounter.trim() {
        "" => Ok(None),
        n => n.parse::<i64>().map(Some).map_err(|_| ()),
    };
    let result = match (parse_date(&form.delivered_on), encounter) {
        (Ok(on), Ok(encounter_id)) => {
            let new = NewService {
                item_code: form.item.clone(),
                delivered_on: on.unwrap_or_else(|| today(&state)),
                encounter_id,
                today: today(&state),
            };
            access::record_contract_service(&state.store, &viewer(&ctx, &user), id, &new).await
        }
        (Err(()), _) => Err(AccessError::Store(StoreError::Invalid(
            tr.t("contract.err.date").to_owned(),
        ))),
        (_, Err(())) => Err(AccessError::Store(StoreError::Invalid(
            tr.t("contract.err.encounter").to_owned(),
        ))),
    };
    after_action(
        &state,
        &ctx,
        &user,
        id,
        result,
        |_| format!("/contracts/{id}?done=service"),
        |e| &mut e.service,
    )
    .await
}

// ---------------------------------------------------------------------------------------
// The panel of the resident page

/// The contract panel of the resident page (`contract_panel.html`).
pub struct Panel {
    pub resident_id: i64,
    /// The contract in force today (or the active one, when it has not started yet).
    pub current: Option<PanelContract>,
    /// A renewal signed to start after the current one.
    pub next: Option<PanelContract>,
    pub items: Vec<ItemRow>,
    pub fulfilled: bool,
    pub year: String,
    pub can_sign: bool,
    /// Earlier contracts.
    pub history: i64,
}

pub struct PanelContract {
    pub id: i64,
    pub team: String,
    pub doctor: String,
    pub package: String,
    pub period: String,
    pub status: String,
}

fn panel_contract(c: &Contract, tr: Tr) -> PanelContract {
    PanelContract {
        id: c.id,
        team: c.team_name.clone(),
        doctor: c.doctor_name.clone(),
        package: package_name(&c.package_name, &c.package_name_en, tr),
        period: format!("{} — {}", c.starts_on, c.last_day()),
        status: status_name(c.status, tr).to_owned(),
    }
}

/// The resident's contracts for the resident page (two audited reads: the contracts, and
/// the fulfilment of the current one).
pub async fn panel(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    resident_id: i64,
) -> Result<Panel, PageError> {
    let tr = ctx.tr;
    let v = viewer(ctx, user);
    let now = today(state);
    let all = access::contracts_of(&state.store, &v, resident_id, None).await?;
    let in_force = all.iter().find(|c| c.in_force_on(now));
    let active = all.iter().find(|c| c.status == ContractStatus::Active);
    let (current, next) = match (in_force, active) {
        (Some(f), Some(a)) if f.id != a.id => (Some(f), Some(a)),
        (Some(f), _) => (Some(f), None),
        (None, a) => (a, None),
    };
    let (items, fulfilled, year) = match current {
        Some(c) => {
            let (_, f) = access::contract_fulfilment(&state.store, &v, c.id, now).await?;
            (
                f.items
                    .iter()
                    .map(|i| ItemRow {
                        item: item_name(&i.code, tr),
                        required: i.required,
                        delivered: i.delivered,
                        fulfilled: i.fulfilled(),
                    })
                    .collect(),
                f.fulfilled(),
                format!("{} — {}", f.from, f.to),
            )
        }
        None => (Vec::new(), false, String::new()),
    };
    let shown = usize::from(current.is_some()) + usize::from(next.is_some());
    Ok(Panel {
        resident_id,
        current: current.map(|c| panel_contract(c, tr)),
        next: next.map(|c| panel_contract(c, tr)),
        items,
        fulfilled,
        year,
        can_sign: writes(user) && active.is_none(),
        history: (all.len() - shown.min(all.len())) as i64,
    })
}

// ---------------------------------------------------------------------------------------
// Coverage

pub struct CoverageRowView {
    pub code: String,
    pub name: String,
    pub link: Option<String>,
    pub population: String,
    pub residents: i64,
    pub signed: i64,
    pub coverage: String,
    pub of_records: String,
    pub key_residents: i64,
    pub key_signed: i64,
    pub key_coverage: String,
}

pub struct GroupRow {
    pub name: String,
    pub residents: i64,
    pub signed: i64,
    pub coverage: String,
}

#[derive(Template)]
#[template(path = "coverage.html")]
struct CoveragePage {
    shell: Shell,
    division: String,
    division_name: String,
    on: String,
    parent: Option<String>,
    total: CoverageRowView,
    rows: Vec<CoverageRowView>,
    groups: Vec<GroupRow>,
    renewal_period: String,
    renewals_due: i64,
    renewed: i64,
    renewal_rate: String,
}

#[derive(Deserialize)]
pub struct CoverageQuery {
    division: Option<String>,
    on: Option<String>,
}

async fn row_view(
    state: &AppState,
    row: &store_contract::CoverageRow,
    year: i32,
    on: NaiveDate,
    drill: bool,
) -> Result<CoverageRowView, PageError> {
    let code = DivisionCode::parse(&row.code).map_err(|e| PageError::Internal(e.to_string()))?;
    let name = division::get(&state.store, &code).await?.name;
    let population = division::population(&state.store, &code, year).await?;
    Ok(CoverageRowView {
        link: (drill && code.level() != Level::Village)
            .then(|| format!("/contracts/coverage?division={}&on={on}", code.as_str())),
        code: row.code.clone(),
        name,
        population: population
            .map(|p| p.to_string())
            .unwrap_or_else(|| "—".into()),
        residents: row.residents,
        signed: row.signed,
        coverage: rules::coverage(row.signed, population).text(),
        of_records: rules::Rate::new(row.signed, row.residents).text(),
        key_residents: row.key_residents,
        key_signed: row.key_signed,
        key_coverage: rules::key_group_coverage(row.key_signed, row.key_residents).text(),
    })
}

pub async fn coverage(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<CoverageQuery>,
) -> Result<Response, PageError> {
    let tr = ctx.tr;
    let root = match q.division.as_deref().filter(|d| !d.is_empty()) {
        Some(d) => DivisionCode::parse(d).map_err(|e| PageError::BadRequest(e.to_string()))?,
        None => user.reach.clone(),
    };
    let on = match q.on.as_deref().map(parse_date) {
        None | Some(Ok(None)) => today(&state),
        Some(Ok(Some(d))) => d,
        Some(Err(())) => return Err(PageError::BadRequest(tr.t("contract.err.date").into())),
    };
    let report = access::contract_coverage(&state.store, &viewer(&ctx, &user), &root, on).await?;
    let year = on.year();
    let total = row_view(&state, &report.root, year, on, false).await?;
    let mut rows = Vec::with_capacity(report.children.len());
    for row in &report.children {
        rows.push(row_view(&state, row, year, on, true).await?);
    }
    let groups = report
        .root
        .groups
        .iter()
        .map(|(g, n, s)| GroupRow {
            name: if en(tr) { g.name_en() } else { g.name_zh() }.to_owned(),
            residents: *n,
            signed: *s,
            coverage: rules::key_group_coverage(*s, *n).text(),
        })
        .collect();
    let parent = root
        .parent()
        .filter(|p| user.reach.contains(p))
        .map(|p| format!("/contracts/coverage?division={}&on={on}", p.as_str()));
    let page = CoveragePage {
        shell: Shell::new(&ctx, &state, "coverage.title"),
        division: root.as_str().to_owned(),
        division_name: total.name.clone(),
        on: on.to_string(),
        parent,
        total,
        rows,
        groups,
        renewal_period: format!("{} — {}", report.renewals_from, report.on),
        renewals_due: report.renewals_due,
        renewed: report.renewed,
        renewal_rate: rules::renewal_rate(report.renewed, report.renewals_due).text(),
    };
    Ok(render(&page)?.into_response())
}

/// The signature pad: progressive enhancement of the signing forms (see the module doc).
pub async fn sign_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/sign.js"),
    )
        .into_response()
}
