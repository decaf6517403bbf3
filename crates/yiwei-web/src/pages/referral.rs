//! 双向转诊 pages: the queues at both ends (`/referrals?box=in|out`), sending a referral
//! from a resident's page (`/referrals/new?resident=ID`), and one referral with its history
//! and the moves the viewer's end may make (accept, decline, arrive, complete, return
//! downward; cancel for the sender).
//!
//! Everything goes through `yiwei_store::access` (checked, audited). The rules are
//! `yiwei_domain::referral`; a refused move shows its bilingual reason with a 4xx status
//! and changes nothing.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yiwei_domain::access::Role;
use yiwei_domain::referral::{Event as Move, Reason, State as RState, Timeliness, Urgency};
use yiwei_store::access::{self};
use yiwei_store::org;
use yiwei_store::referral::{NewReferral, Referral};
use yiwei_store::user::User;

use super::booking::{failure, when};
use super::viewer;
use super::{local_time, render};
use crate::AppState;
use crate::auth::{Ctx, Staff};
use crate::error::PageError;
use crate::i18n::Lang;
use crate::shell::{PAGE_SIZE, Pager, Shell, offset};

fn state_name(s: RState, lang: Lang) -> &'static str {
    if lang == Lang::En {
        s.name_en()
    } else {
        s.name_zh()
    }
}

pub struct QueueRow {
    pub id: i64,
    pub name: String,
    pub other_end: String,
    pub direction: &'static str,
    pub urgency: &'static str,
    pub state: &'static str,
    pub requested: String,
    pub overdue: bool,
    pub green: bool,
}

#[derive(Template)]
#[template(path = "referrals.html")]
struct QueuePage {
    shell: Shell,
    incoming: bool,
    open_only: bool,
    rows: Vec<QueueRow>,
    total: i64,
    pager: Pager,
}

#[derive(Deserialize)]
pub struct QueueQuery {
    #[serde(rename = "box")]
    which: Option<String>,
    all: Option<String>,
    page: Option<i64>,
}

fn row(
    r: Referral,
    incoming: bool,
    lang: Lang,
    offset_hours: i32,
    now: chrono::DateTime<chrono::Utc>,
) -> QueueRow {
    QueueRow {
        id: r.id,
        name: yiwei_domain::mask::name(&r.resident_name),
        other_end: if incoming { r.from_name } else { r.to_name },
        direction: r.direction.name_zh(),
        urgency: r.urgency.name_zh(),
        state: state_name(r.state, lang),
        requested: local_time(r.requested_at, offset_hours),
        overdue: Timeliness::default().is_overdue(r.state, r.urgency, r.requested_at, now),
        green: r.green_channel,
    }
}

/// `GET /referrals?box=in|out[&all=1]`: the work queue of the viewer's institution.
pub async fn queue(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<QueueQuery>,
) -> Result<Response, PageError> {
    if user.role == Role::Resident {
        return Err(PageError::Forbidden);
    }
    let incoming = q.which.as_deref() != Some("out");
    let open_only = q.all.is_none();
    let (page, off) = offset(q.page);
    let v = viewer(&ctx, &user);
    let (list, total) =
        access::referral_queue(&state.store, &v, incoming, open_only, PAGE_SIZE, off)
            .await
            .map_err(|e| match failure(e) {
                Ok((StatusCode::FORBIDDEN, _)) => PageError::Forbidden,
                Ok((_, m)) => PageError::BadRequest(m),
                Err(p) => p,
            })?;
    let w = when(&state);
    let base = format!(
        "/referrals?box={}{}&",
        if incoming { "in" } else { "out" },
        if open_only { "" } else { "&all=1" }
    );
    let page = QueuePage {
        shell: Shell::new(&ctx, &state, "referral.title"),
        incoming,
        open_only,
        rows: list
            .into_iter()
            .map(|r| row(r, incoming, ctx.tr.lang, w.offset_hours, w.now))
            .collect(),
        total,
        pager: Pager::new(&base, page, total),
    };
    Ok(render(&page)?.into_response())
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct NewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    resident: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    urgency: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    green: String,
    #[serde(default)]
    slot: String,
}

#[derive(Template)]
#[template(path = "referral_form.html")]
struct FormPage {
    shell: Shell,
    form: NewForm,
    institutions: Vec<(String, String)>,
    urgencies: Vec<(&'static str, &'static str)>,
    reasons: Vec<(&'static str, &'static str)>,
    error: Option<String>,
}

async fn form_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    form: NewForm,
    error: Option<String>,
) -> Result<FormPage, PageError> {
    let mut institutions = Vec::new();
    if let Some(own) = user.institution_id {
        let me = org::get(&state.store, own).await?;
        if let Some(community) = me.community_id {
            let filter = org::Filter {
                within: None,
                kind: None,
                community_id: Some(community),
                name: None,
            };
            for i in org::list(&state.store, &filter, 1000, 0).await?.0 {
                if i.id != own && i.kind.provides_care() && i.active {
                    institutions.push((i.id.to_string(), i.name));
                }
            }
        }
    }
    let en = ctx.tr.lang == Lang::En;
    Ok(FormPage {
        shell: Shell::new(ctx, state, "referral.new"),
        form,
        institutions,
        urgencies: Urgency::ALL
            .iter()
            .map(|u| (u.as_str(), u.name_zh()))
            .collect(),
        reasons: Reason::ALL
            .iter()
            .map(|r| (r.as_str(), if en { r.name_en() } else { r.name_zh() }))
            .collect(),
        error,
    })
}

#[derive(Deserialize)]
pub struct NewQuery {
    resident: Option<i64>,
}

/// `GET /referrals/new?resident=ID`.
pub async fn new_form(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<NewQuery>,
) -> Result<Response, PageError> {
    if user.role == Role::Resident || !user.role.reads_personal_records() {
        return Err(PageError::Forbidden);
    }
    let form = NewForm {
        resident: q.resident.map(|r| r.to_string()).unwrap_or_default(),
        ..NewForm::default()
    };
    let page = form_page(&state, &ctx, &user, form, None).await?;
    Ok(render(&page)?.into_response())
}

/// `POST /referrals`: send a referral.
pub async fn send(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Form(form): Form<NewForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let parsed = (|| {
        Some(NewReferral {
            resident_id: form.resident.trim().parse().ok()?,
            to_institution_id: form.to.trim().parse().ok()?,
            urgency: Urgency::parse(form.urgency.trim())?,
            reason: Reason::parse(form.reason.trim())?,
            summary: form.summary.clone(),
            attachments: Vec::new(),
            green_channel: !form.green.is_empty(),
            slot_id: match form.slot.trim() {
                "" => None,
                s => Some(s.parse().ok()?),
            },
        })
    })();
    let Some(new) = parsed else {
        let msg = "请填写居民、接收机构、紧急程度和转诊原因 / give the resident, the receiving institution, the urgency and the reason".to_owned();
        let page = form_page(&state, &ctx, &user, form, Some(msg)).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
    };
    let v = viewer(&ctx, &user);
    match access::send_referral(&state.store, &v, &new, when(&state)).await {
        Ok(id) => Ok(Redirect::to(&format!("/referrals/{id}")).into_response()),
        Err(e) => {
            let (status, msg) = failure(e)?;
            let page = form_page(&state, &ctx, &user, form, Some(msg)).await?;
            Ok((status, render(&page)?).into_response())
        }
    }
}

pub struct StepRow {
    pub at: String,
    pub event: String,
    pub to_state: &'static str,
    pub note: String,
}

#[derive(Template)]
#[template(path = "referral.html")]
struct ShowPage {
    shell: Shell,
    r: Referral,
    direction: &'static str,
    urgency: &'static str,
    reason: &'static str,
    state: &'static str,
    requested: String,
    respond_by: String,
    overdue: bool,
    steps: Vec<StepRow>,
    receiver: bool,
    sender: bool,
    error: Option<String>,
}

async fn show_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    id: i64,
    error: Option<String>,
) -> Result<ShowPage, PageError> {
    let v = viewer(ctx, user);
    let (r, steps) =
        access::open_referral(&state.store, &v, id)
            .await
            .map_err(|e| match failure(e) {
                Ok((StatusCode::FORBIDDEN, _)) => PageError::Forbidden,
                Ok((_, m)) => PageError::BadRequest(m),
                Err(p) => p,
            })?;
    let w = when(state);
    let lang = ctx.tr.lang;
    Ok(ShowPage {
        shell: Shell::new(ctx, state, "referral.one"),
        direction: r.direction.name_zh(),
        urgency: r.urgency.name_zh(),
        reason: if lang == Lang::En {
            r.reason.name_en()
        } else {
            r.reason.name_zh()
        },
        state: state_name(r.state, lang),
        requested: local_time(r.requested_at, w.offset_hours),
        respond_by: local_time(r.respond_by, w.offset_hours),
        overdue: Timeliness::default().is_overdue(r.state, r.urgency, r.requested_at, w.now),
        steps: steps
            .into_iter()
            .map(|s| StepRow {
                at: local_time(s.at, w.offset_hours),
                event: s.event,
                to_state: RState::parse(&s.to_state).map_or("?", |x| state_name(x, lang)),
                note: s.note.unwrap_or_default(),
            })
            .collect(),
        receiver: user.institution_id == Some(r.to_institution_id),
        sender: user.institution_id == Some(r.from_institution_id),
        r,
        error,
    })
}

/// `GET /referrals/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let page = show_page(&state, &ctx, &user, id, None).await?;
    Ok(render(&page)?.into_response())
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    event: String,
    #[serde(default)]
    note: String,
}

/// `POST /referrals/{id}/move`.
pub async fn move_referral(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<MoveForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let mv = match form.event.as_str() {
        "accept" => Move::Accept,
        "decline" => Move::Decline {
            reason: form.note.clone(),
        },
        "arrive" => Move::Arrive,
        "complete" => Move::Complete,
        "return" => Move::ReturnDown {
            summary: form.note.clone(),
        },
        "cancel" => Move::Cancel,
        _ => return Err(PageError::BadRequest("unknown referral action".into())),
    };
    let v = viewer(&ctx, &user);
    let result = access::move_referral(&state.store, &v, id, &mv, when(&state)).await;
    if result.is_ok() && matches!(mv, Move::Accept) {
        // A down-referral accepted back into primary care brings the resident's chronic
        // follow-up forward (2 周内随访): rebuild their work list now rather than at night.
        let (resident_id, _, _) = yiwei_store::referral::parties_of(&state.store, id).await?;
        let today = when(&state).today();
        yiwei_store::programme::refresh_resident(
            &state.store,
            &state.config.programmes,
            resident_id,
            today,
        )
        .await?;
    }
    match result {
        Ok((_, Some(down))) => Ok(Redirect::to(&format!("/referrals/{down}")).into_response()),
        Ok(_) => Ok(Redirect::to(&format!("/referrals/{id}")).into_response()),
        Err(e) => {
            let (status, msg) = failure(e)?;
            if status == StatusCode::FORBIDDEN {
                return Err(PageError::Forbidden);
            }
            let page = show_page(&state, &ctx, &user, id, Some(msg)).await?;
            Ok((status, render(&page)?).into_response())
        }
    }
}
