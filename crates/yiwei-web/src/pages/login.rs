//! Login, logout and the language switch.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yiwei_store::audit::{self, Action, Event};
use yiwei_store::session;
use yiwei_store::user::{self, LoginOutcome};

use super::render;
use crate::AppState;
use crate::auth::{Ctx, LANG_COOKIE, PRE_COOKIE, SESSION_COOKIE, set_cookie};
use crate::error::PageError;
use crate::shell::Shell;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    shell: Shell,
    error: Option<String>,
    username: String,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    expired: Option<String>,
    bye: Option<String>,
}

fn page(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    error: Option<String>,
    username: &str,
    flash: Option<String>,
) -> Result<Response, PageError> {
    // An anonymous form needs the pre-session cookie its token is signed over.
    let mut ctx = ctx.clone();
    let new_pre = if ctx.pre.is_none() {
        let pre = yiwei_store::crypto::random_token();
        ctx.pre = Some(pre.clone());
        Some(pre)
    } else {
        None
    };
    let shell = Shell::new(&ctx, state, "login.title").with_flash(flash);
    let html = render(&LoginPage {
        shell,
        error,
        username: username.to_owned(),
    })?;
    let mut response = (status, html).into_response();
    if let Some(pre) = new_pre {
        let cookie = set_cookie(PRE_COOKIE, &pre, None, true, state.config.secure_cookies);
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookie.parse().expect("cookie is ASCII"));
    }
    Ok(response)
}

pub async fn show(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<LoginQuery>,
) -> Result<Response, PageError> {
    if ctx.session.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let flash = if q.expired.is_some() || ctx.expired {
        Some(ctx.tr.t("login.expired").to_owned())
    } else if q.bye.is_some() {
        Some(ctx.tr.t("login.logged_out").to_owned())
    } else {
        None
    };
    page(&state, &ctx, StatusCode::OK, None, "", flash)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

pub async fn submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    if ctx.check_csrf(&state, &form.csrf).is_err() {
        let event = Event::new(audit::Who::default(), Action::LoginFailed)
            .outcome("denied")
            .reason("csrf")
            .from_addr(ctx.remote.clone());
        audit::append(&state.store, &event).await?;
        return Err(PageError::Csrf);
    }
    let username = form.username.trim();
    let outcome = user::login(
        &state.store,
        username,
        &form.password,
        state.config.lockout,
        ctx.remote.clone(),
    )
    .await?;
    let tr = ctx.tr;
    match outcome {
        LoginOutcome::Ok(user) => {
            let token = session::create(&state.store, user.id).await?;
            let cookie = set_cookie(
                SESSION_COOKIE,
                &token,
                None,
                true,
                state.config.secure_cookies,
            );
            let mut response = Redirect::to("/").into_response();
            response
                .headers_mut()
                .append(header::SET_COOKIE, cookie.parse().expect("cookie is ASCII"));
            Ok(response)
        }
        LoginOutcome::WrongCredentials => page(
            &state,
            &ctx,
            StatusCode::UNAUTHORIZED,
            Some(tr.t("login.wrong").to_owned()),
            username,
            None,
        ),
        LoginOutcome::Locked { until } => {
            let until = super::local_time(until, state.config.utc_offset_hours);
            let msg = tr.t1("login.locked", "until", &until);
            page(
                &state,
                &ctx,
                StatusCode::FORBIDDEN,
                Some(msg),
                username,
                None,
            )
        }
        LoginOutcome::Disabled => page(
            &state,
            &ctx,
            StatusCode::FORBIDDEN,
            Some(tr.t("login.disabled").to_owned()),
            username,
            None,
        ),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    let Some(session_user) = ctx.user().cloned() else {
        return Ok(Redirect::to("/login").into_response());
    };
    ctx.check_csrf(&state, &form.csrf)?;
    if let Some(token) = &ctx.session_token {
        session::end(&state.store, token).await?;
    }
    end_session(&state, &ctx, &session_user).await
}

async fn end_session(
    state: &AppState,
    ctx: &Ctx,
    user: &yiwei_store::user::User,
) -> Result<Response, PageError> {
    audit::append(
        &state.store,
        &Event::new(user.who(), Action::Logout).from_addr(ctx.remote.clone()),
    )
    .await?;
    let mut response = Redirect::to("/login?bye=1").into_response();
    let cookie = set_cookie(
        SESSION_COOKIE,
        "",
        Some(0),
        true,
        state.config.secure_cookies,
    );
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookie.parse().expect("cookie is ASCII"));
    Ok(response)
}

#[derive(Deserialize)]
pub struct LangQuery {
    back: Option<String>,
}

/// Switch language and go back where the visitor was (only to a local path).
pub async fn switch_lang(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = crate::i18n::Lang::parse(&code).unwrap_or_default();
    let back = q
        .back
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'));
    let mut response = Redirect::to(back.as_deref().unwrap_or("/")).into_response();
    let cookie = set_cookie(
        LANG_COOKIE,
        lang.code(),
        Some(365 * 24 * 3600),
        false,
        state.config.secure_cookies,
    );
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookie.parse().expect("cookie is ASCII"));
    response
}
