//! Resident pages of the foundation: the list of a division, one record with masked
//! identifiers, the audited reveal, break-glass, and a resident's own record with who
//! opened it. Everything goes through `yiwei_store::access`, which checks and audits.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yiwei_domain::access::{Basis, Role};
use yiwei_domain::division::DivisionCode;
use yiwei_domain::mask;
use yiwei_store::access::{self, AccessError};
use yiwei_store::audit;
use yiwei_store::crypto::Field;
use yiwei_store::{division, user::User};

use super::viewer;
use super::{local_time, render};
use crate::AppState;
use crate::auth::{Ctx, Staff};
use crate::error::PageError;
use crate::shell::{Pager, Shell, offset};

pub struct Row {
    pub record_no: String,
    pub id: i64,
    pub name: String,
    pub sex_key: &'static str,
    pub birth_date: String,
    pub village: String,
}

#[derive(Template)]
#[template(path = "residents.html")]
struct ListPage {
    shell: Shell,
    q: String,
    division: String,
    division_name: String,
    rows: Vec<Row>,
    total_label: String,
    pager: Pager,
}

pub struct Viewing {
    pub at: String,
    pub user: String,
    pub action: String,
    pub basis: String,
}

#[derive(Template)]
#[template(path = "resident.html")]
struct DetailPage {
    shell: Shell,
    id: i64,
    name: String,
    sex_key: &'static str,
    birth_date: String,
    village: String,
    id_card: String,
    phone: String,
    basis: String,
    break_glass: bool,
    revealed: bool,
    can_reveal: bool,
    can_edit: bool,
    record_no: String,
    address: String,
    contact: String,
    coded: Vec<(&'static str, String)>,
    merged_into: Option<i64>,
    undo_merge: Option<i64>,
    viewers: Vec<Viewing>,
    timeline: super::exam::Timeline,
    contract: super::contract::Panel,
}

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    shell: Shell,
    name: String,
    sex_key: &'static str,
    birth_date: String,
    village: String,
    id_card: String,
    phone: String,
    viewers: Vec<Viewing>,
}

pub struct BreakGlassForm {
    pub action: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct RefusedPage {
    shell: Shell,
    status: u16,
    message: String,
    break_glass: Option<BreakGlassForm>,
}

pub fn sex_key(sex: &str) -> &'static str {
    match sex {
        "male" => "sex.male",
        "female" => "sex.female",
        _ => "sex.unknown",
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    division: Option<String>,
    page: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let root = match q.division.as_deref().filter(|d| !d.is_empty()) {
        Some(d) => DivisionCode::parse(d).map_err(|e| PageError::BadRequest(e.to_string()))?,
        None => user.reach.clone(),
    };
    let (page, off) = offset(q.page);
    let q = q.q.unwrap_or_default();
    let result = if q.trim().is_empty() {
        access::list_residents(
            &state.store,
            &viewer(&ctx, &user),
            &root,
            crate::shell::PAGE_SIZE,
            off,
        )
        .await
    } else {
        access::search_residents(
            &state.store,
            &viewer(&ctx, &user),
            &root,
            &q,
            crate::shell::PAGE_SIZE,
            off,
        )
        .await
    };
    let (found, total) = match result {
        Ok(r) => r,
        Err(AccessError::Refused(refusal)) => {
            return refused(&state, &ctx, &user, &refusal.to_string(), None);
        }
        Err(e) => return Err(e.into()),
    };
    let d = division::get(&state.store, &root).await?;
    let mut rows = Vec::with_capacity(found.len());
    for r in found {
        rows.push(Row {
            record_no: r.details.record_no.clone().unwrap_or_default(),
            id: r.id,
            name: r.name.clone(),
            sex_key: sex_key(&r.sex),
            birth_date: r.birth_date.map(|b| b.to_string()).unwrap_or_default(),
            village: division::get(&state.store, &r.division).await?.name,
        });
    }
    let base = format!(
        "/residents?division={}&q={}&",
        root.as_str(),
        crate::pages::org::urlencode(&q)
    );
    Ok(render(&ListPage {
        shell: Shell::new(&ctx, &state, "resident.title"),
        q,
        division: root.as_str().to_owned(),
        division_name: d.name,
        rows,
        total_label: ctx.tr.t1("list.total", "n", &total.to_string()),
        pager: Pager::new(&base, page, total),
    })?
    .into_response())
}

/// A 403 page; with a break-glass form when the role may use it.
fn refused(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    message: &str,
    resident_id: Option<i64>,
) -> Result<Response, PageError> {
    let form = resident_id
        .filter(|_| user.role.may_break_glass())
        .map(|id| BreakGlassForm {
            action: format!("/residents/{id}/break-glass"),
            error: None,
        });
    refused_with(state, ctx, StatusCode::FORBIDDEN, message, form)
}

fn refused_with(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    message: &str,
    form: Option<BreakGlassForm>,
) -> Result<Response, PageError> {
    let page = RefusedPage {
        shell: Shell::new(ctx, state, "error.title"),
        status: status.as_u16(),
        message: format!("{} {}", ctx.tr.t("error.403"), message),
        break_glass: form,
    };
    Ok((status, render(&page)?).into_response())
}

async fn detail(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    id: i64,
    reveal: bool,
    flash: Option<String>,
) -> Result<Response, PageError> {
    let v = viewer(ctx, user);
    let (r, basis) = match access::open_resident(&state.store, &v, id).await {
        Ok(found) => found,
        Err(AccessError::Refused(refusal)) => {
            return refused(state, ctx, user, &refusal.to_string(), Some(id));
        }
        Err(e) => return Err(e.into()),
    };
    let (id_card, phone) = if reveal {
        (
            access::reveal(&state.store, &v, id, Field::IdCard)
                .await?
                .unwrap_or_default(),
            access::reveal(&state.store, &v, id, Field::Phone)
                .await?
                .unwrap_or_default(),
        )
    } else {
        (
            r.id_card_masked.clone().unwrap_or_default(),
            r.phone_masked.clone().unwrap_or_default(),
        )
    };
    let village = division::get(&state.store, &r.division).await?.name;
    let undo_merge = match r.merged_into {
        Some(_) => yiwei_store::empi::live_merge_of(&state.store, r.id).await?,
        None => None,
    };
    let today = (chrono::Utc::now()
        + chrono::Duration::hours(i64::from(state.config.utc_offset_hours)))
    .date_naive();
    let coded = crate::pages::codes::describe(&r.details, r.birth_date, today, ctx.tr.lang);
    let timeline = super::exam::timeline(state, ctx, user, id).await?;
    let contract = super::contract::panel(state, ctx, user, id).await?;
    let page = DetailPage {
        shell: Shell::new(ctx, state, "resident.title")
            .with_title(mask::name(&r.name))
            .with_flash(flash.map(|f| match f.strip_prefix("review") {
                Some(n) => ctx.tr.t1("record.created_review", "n", n),
                None if f == "saved" => ctx.tr.t("record.saved").to_owned(),
                None => ctx.tr.t("record.created").to_owned(),
            })),
        can_edit: user.role.reads_personal_records()
            && user.role != Role::Resident
            && r.merged_into.is_none(),
        record_no: r.details.record_no.clone().unwrap_or_default(),
        address: r.details.address.clone(),
        contact: [
            r.details.contact_name.clone().unwrap_or_default(),
            r.contact_phone_masked.clone().unwrap_or_default(),
        ]
        .join(" ")
        .trim()
        .to_owned(),
        coded,
        merged_into: r.merged_into,
        undo_merge,
        id: r.id,
        name: r.name,
        sex_key: sex_key(&r.sex),
        birth_date: r.birth_date.map(|b| b.to_string()).unwrap_or_default(),
        village,
        id_card,
        phone,
        basis: ctx.tr.t(&format!("basis.{}", basis.as_str())).to_owned(),
        break_glass: basis == Basis::BreakGlass,
        revealed: reveal,
        can_reveal: !reveal && (r.has_id_card || r.has_phone),
        viewers: Vec::new(),
        timeline,
        contract,
    };
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
pub struct ShowQuery {
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, PageError> {
    detail(&state, &ctx, &user, id, false, q.done).await
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn reveal(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    detail(&state, &ctx, &user, id, true, None).await
}

#[derive(Deserialize)]
pub struct BreakGlassInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

pub async fn break_glass(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<BreakGlassInput>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    match access::break_glass(
        &state.store,
        &viewer(&ctx, &user),
        id,
        &form.reason,
        state.config.break_glass,
    )
    .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/residents/{id}")).into_response()),
        Err(AccessError::ReasonTooShort) => {
            let form = BreakGlassForm {
                action: format!("/residents/{id}/break-glass"),
                error: Some(ctx.tr.t("break_glass.too_short").to_owned()),
            };
            refused_with(&state, &ctx, StatusCode::BAD_REQUEST, "", Some(form))
        }
        Err(e) => Err(e.into()),
    }
}

/// A resident's own record, with who opened it.
pub async fn me(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
) -> Result<Response, PageError> {
    let (Role::Resident, Some(own)) = (user.role, user.resident_id) else {
        return Ok(Redirect::to("/").into_response());
    };
    let v = viewer(&ctx, &user);
    let (r, _) = access::open_resident(&state.store, &v, own).await?;
    let id_card = r.id_card_masked.clone().unwrap_or_default();
    let phone = r.phone_masked.clone().unwrap_or_default();
    let entries = audit::for_resident(&state.store, own, 50, 0).await?;
    let viewers = entries
        .into_iter()
        .filter(|e| e.event.who.user_id != Some(user.id))
        .map(|e| Viewing {
            at: local_time(e.at, state.config.utc_offset_hours),
            user: e.event.who.username.unwrap_or_default(),
            action: e.event.action.as_str().to_owned(),
            basis: e.event.basis.unwrap_or_default(),
        })
        .collect();
    let village = division::get(&state.store, &r.division).await?.name;
    let page = MePage {
        shell: Shell::new(&ctx, &state, "nav.my_record"),
        name: r.name,
        sex_key: sex_key(&r.sex),
        birth_date: r.birth_date.map(|b| b.to_string()).unwrap_or_default(),
        village,
        id_card,
        phone,
        viewers,
    };
    Ok(render(&page)?.into_response())
}
