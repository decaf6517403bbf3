//! Administration pages (county administrator only): users, the audit log, break-glass review.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use yiwei_domain::access::Role;
use yiwei_domain::division::DivisionCode;
use yiwei_store::access as store_access;
use yiwei_store::audit::{self, Filter};
use yiwei_store::user::{self, NewUser, User};
use yiwei_store::{StoreError, org};

use super::{local_time, render};
use crate::AppState;
use crate::auth::Staff;
use crate::error::PageError;
use crate::shell::{Pager, Shell, offset, role_key};

fn require_admin(user: &User) -> Result<(), PageError> {
    if user.role.administers() {
        Ok(())
    } else {
        Err(PageError::Forbidden)
    }
}

pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub reach: String,
    pub status: String,
    pub disabled: bool,
}

#[derive(Default, Deserialize)]
pub struct UserForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub institution: String,
    #[serde(default)]
    pub reach: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub password: String,
}

#[derive(Default)]
pub struct FieldErrors {
    pub username: Option<String>,
    pub institution: Option<String>,
    pub reach: Option<String>,
    pub password: Option<String>,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    shell: Shell,
    rows: Vec<UserRow>,
    total_label: String,
    pager: Pager,
    roles: Vec<(&'static str, String)>,
    form: UserForm,
    errors: FieldErrors,
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
    done: Option<String>,
}

async fn users_page(
    state: &AppState,
    staff: &Staff,
    page: Option<i64>,
    form: UserForm,
    errors: FieldErrors,
    flash: Option<String>,
) -> Result<UsersPage, PageError> {
    let tr = staff.ctx.tr;
    let now = yiwei_store::now();
    let (page, off) = offset(page);
    let (found, total) = user::list(&state.store, crate::shell::PAGE_SIZE, off).await?;
    let rows = found
        .into_iter()
        .map(|u| UserRow {
            status: if u.disabled {
                tr.t("users.disabled").to_owned()
            } else if u.locked_until.is_some_and(|t| t > now) {
                tr.t("users.locked").to_owned()
            } else {
                tr.t("users.active").to_owned()
            },
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            role: tr.t(role_key(u.role)).to_owned(),
            reach: u.reach.to_string(),
            disabled: u.disabled,
        })
        .collect();
    Ok(UsersPage {
        shell: Shell::new(&staff.ctx, state, "users.title").with_flash(flash),
        rows,
        total_label: tr.t1("list.total", "n", &total.to_string()),
        pager: Pager::new("/admin/users?", page, total),
        roles: Role::ALL
            .iter()
            .map(|r| (r.as_str(), tr.t(role_key(*r)).to_owned()))
            .collect(),
        form,
        errors,
    })
}

pub async fn users(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, PageError> {
    require_admin(&staff.user)?;
    let flash = q.done.map(|_| staff.ctx.tr.t("users.updated").to_owned());
    render(
        &users_page(
            &state,
            &staff,
            q.page,
            UserForm::default(),
            FieldErrors::default(),
            flash,
        )
        .await?,
    )
}

pub async fn add_user(
    State(state): State<AppState>,
    staff: Staff,
    Form(mut form): Form<UserForm>,
) -> Result<Response, PageError> {
    require_admin(&staff.user)?;
    staff.ctx.check_csrf(&state, &form.csrf)?;
    let mut errors = FieldErrors::default();
    let role =
        Role::parse(&form.role).ok_or_else(|| PageError::BadRequest("unknown role".into()))?;
    let institution = match org::by_code(&state.store, form.institution.trim()).await {
        Ok(i) => Some(i),
        Err(StoreError::NotFound(_)) => {
            errors.institution = Some(format!("{} ?", form.institution.trim()));
            None
        }
        Err(e) => return Err(e.into()),
    };
    let reach = if form.reach.trim().is_empty() {
        institution.as_ref().map(|i| i.division.clone())
    } else {
        match DivisionCode::parse(&form.reach) {
            Ok(code) if code.as_str().starts_with(&staff.user.reach.as_str()[..2]) => Some(code),
            Ok(_) => {
                errors.reach = Some("outside this county".into());
                None
            }
            Err(e) => {
                errors.reach = Some(e.to_string());
                None
            }
        }
    };
    if let (Some(institution), Some(reach), true) = (
        &institution,
        reach,
        errors.institution.is_none() && errors.reach.is_none(),
    ) {
        let new = NewUser {
            username: form.username.trim().to_owned(),
            display_name: form.display_name.trim().to_owned(),
            role,
            institution_id: Some(institution.id),
            reach,
            resident_id: None,
            password: form.password.clone(),
            phone: Some(form.phone.clone()).filter(|p| !p.trim().is_empty()),
        };
        match user::add(&state.store, &new, &staff.user.who()).await {
            Ok(_) => return Ok(Redirect::to("/admin/users?done=1").into_response()),
            Err(StoreError::Invalid(msg)) if msg.contains("password") => {
                errors.password = Some(msg)
            }
            Err(StoreError::Invalid(msg)) => errors.username = Some(msg),
            Err(StoreError::Conflict { .. }) => {
                errors.username = Some("this username is taken / 用户名已存在".into())
            }
            Err(e) => return Err(e.into()),
        }
    }
    form.password.clear();
    let page = users_page(&state, &staff, None, form, errors, None).await?;
    Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response())
}

#[derive(Deserialize)]
pub struct UserAction {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

pub async fn user_action(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, action)): Path<(i64, String)>,
    Form(form): Form<UserAction>,
) -> Result<Response, PageError> {
    require_admin(&staff.user)?;
    staff.ctx.check_csrf(&state, &form.csrf)?;
    let by = staff.user.who();
    match action.as_str() {
        "disable" if id == staff.user.id => {
            return Err(PageError::BadRequest(
                "you cannot disable your own account".into(),
            ));
        }
        "disable" => user::set_disabled(&state.store, id, true, &by).await?,
        "enable" => user::set_disabled(&state.store, id, false, &by).await?,
        "reset-password" => user::reset_password(&state.store, id, &form.password, &by).await?,
        _ => return Err(PageError::NotFound),
    }
    Ok(Redirect::to("/admin/users?done=1").into_response())
}

pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub user: String,
    pub action: String,
    pub outcome: String,
    pub object: String,
    pub basis: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    shell: Shell,
    actions: Vec<String>,
    outcomes: Vec<String>,
    action: String,
    outcome: String,
    rows: Vec<AuditRow>,
    pager: Pager,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    action: Option<String>,
    outcome: Option<String>,
    page: Option<i64>,
}

pub async fn audit_log(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<AuditQuery>,
) -> Result<Html<String>, PageError> {
    require_admin(&staff.user)?;
    let action = q.action.unwrap_or_default();
    let outcome = q.outcome.unwrap_or_default();
    let filter = Filter {
        action: Some(action.clone()).filter(|a| !a.is_empty()),
        user_id: None,
        outcome: Some(outcome.clone()).filter(|o| !o.is_empty()),
    };
    let (page, off) = offset(q.page);
    let entries = audit::list(&state.store, &filter, crate::shell::PAGE_SIZE + 1, off).await?;
    let has_more = entries.len() as i64 > crate::shell::PAGE_SIZE;
    let rows = entries
        .into_iter()
        .take(crate::shell::PAGE_SIZE as usize)
        .map(|e| AuditRow {
            seq: e.seq,
            at: local_time(e.at, state.config.utc_offset_hours),
            user: e.event.who.username.unwrap_or_default(),
            action: e.event.action.as_str().to_owned(),
            outcome: e.event.outcome.to_owned(),
            object: match (e.event.object_type, e.event.object_id) {
                (Some(t), Some(i)) => format!("{t}/{i}"),
                (Some(t), None) => t,
                _ => String::new(),
            },
            basis: e.event.basis.unwrap_or_default(),
            reason: e.event.reason.unwrap_or_default(),
        })
        .collect();
    let base = format!("/admin/audit?action={action}&outcome={outcome}&");
    let pager = Pager {
        prev: (page > 1).then(|| format!("{base}page={}", page - 1)),
        next: has_more.then(|| format!("{base}page={}", page + 1)),
    };
    render(&AuditPage {
        shell: Shell::new(&staff.ctx, &state, "audit.title"),
        actions: [
            "login",
            "login_failed",
            "logout",
            "read",
            "reveal",
            "create",
            "update",
            "delete",
            "break_glass",
            "user_admin",
            "denied",
            "backup",
            "restore",
        ]
        .map(String::from)
        .to_vec(),
        outcomes: ["ok", "denied", "failed"].map(String::from).to_vec(),
        action,
        outcome,
        rows,
        pager,
    })
}

pub struct GrantRow {
    pub at: String,
    pub user: String,
    pub resident_id: i64,
    pub reason: String,
    pub expires: String,
    pub reviewed: bool,
}

#[derive(Template)]
#[template(path = "grants.html")]
struct GrantsPage {
    shell: Shell,
    rows: Vec<GrantRow>,
    pager: Pager,
}

pub async fn grants(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, PageError> {
    require_admin(&staff.user)?;
    let (page, off) = offset(q.page);
    let found = store_access::grants(&state.store, crate::shell::PAGE_SIZE + 1, off).await?;
    let has_more = found.len() as i64 > crate::shell::PAGE_SIZE;
    let rows = found
        .into_iter()
        .take(crate::shell::PAGE_SIZE as usize)
        .map(|g| GrantRow {
            at: local_time(g.created_at, state.config.utc_offset_hours),
            user: g.username,
            resident_id: g.resident_id,
            reason: g.reason,
            expires: local_time(g.expires_at, state.config.utc_offset_hours),
            reviewed: g.reviewed,
        })
        .collect();
    let pager = Pager {
        prev: (page > 1).then(|| format!("/admin/break-glass?page={}", page - 1)),
        next: has_more.then(|| format!("/admin/break-glass?page={}", page + 1)),
    };
    render(&GrantsPage {
        shell: Shell::new(&staff.ctx, &state, "grants.title"),
        rows,
        pager,
    })
}
