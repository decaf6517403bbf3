//! Who is asking: cookies, sessions, bearer tokens and CSRF.
//!
//! - Pages use a session cookie (`yw_session`, HttpOnly, SameSite=Lax). Every form carries
//!   the session's CSRF token; anonymous forms (login) carry a token signed over a random
//!   pre-session cookie (`yw_pre`), the double-submit pattern.
//! - API and FHIR clients send `Authorization: Bearer <token>` and get the same role and
//!   reach as the user the token belongs to. Bearer requests carry no cookies, so CSRF does
//!   not apply to them.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use yiwei_store::session::{self, Lookup, Session};
use yiwei_store::user::User;

use crate::AppState;
use crate::error::{ApiError, PageError};
use crate::i18n::{Lang, Tr};

pub const SESSION_COOKIE: &str = "yw_session";
pub const PRE_COOKIE: &str = "yw_pre";
pub const LANG_COOKIE: &str = "lang";

/// The value of cookie `name`, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value. `max_age` of `Some(0)` deletes the cookie.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age: Option<i64>,
    http_only: bool,
    secure: bool,
) -> String {
    let mut c = format!("{name}={value}; Path=/; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The visitor's language: the `lang` cookie, else Chinese.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(Lang::parse)
        .unwrap_or_default()
}

/// The client address, when the server was started with connect info.
pub fn remote_addr(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip().to_string())
}

/// The page context of any request: language, path, session if any.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub tr: Tr,
    pub path: String,
    pub remote: Option<String>,
    pub session: Option<Session>,
    /// The session cookie was sent but the session had expired.
    pub expired: bool,
    /// The pre-session cookie, if sent (for anonymous forms).
    pub pre: Option<String>,
    /// The session cookie's token, when the session is active (for logout).
    pub session_token: Option<String>,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let headers = &parts.headers;
        let mut ctx = Ctx {
            tr: Tr::new(lang_of(headers)),
            path: parts
                .uri
                .path_and_query()
                .map_or("/".into(), |p| p.as_str().to_owned()),
            remote: remote_addr(parts),
            session: None,
            expired: false,
            pre: cookie(headers, PRE_COOKIE)
                .filter(|v| v.len() == 64)
                .map(str::to_owned),
            session_token: None,
        };
        if let Some(token) = cookie(headers, SESSION_COOKIE) {
            match session::lookup(&state.store, token, state.config.session_idle).await? {
                Lookup::Active(s) => {
                    ctx.session = Some(s);
                    ctx.session_token = Some(token.to_owned());
                }
                Lookup::Expired => ctx.expired = true,
                Lookup::Unknown => {}
            }
        }
        Ok(ctx)
    }
}

impl Ctx {
    pub fn user(&self) -> Option<&User> {
        self.session.as_ref().map(|s| &s.user)
    }

    /// The CSRF token forms on this page must carry.
    pub fn csrf(&self, state: &AppState) -> String {
        match (&self.session, &self.pre) {
            (Some(s), _) => s.csrf_token.clone(),
            (None, Some(pre)) => state.store.keys().sign(pre),
            (None, None) => String::new(),
        }
    }

    /// Check a submitted CSRF token in constant time.
    pub fn check_csrf(&self, state: &AppState, submitted: &str) -> Result<(), PageError> {
        let expected = self.csrf(state);
        if !expected.is_empty() && constant_time_eq(expected.as_bytes(), submitted.as_bytes()) {
            Ok(())
        } else {
            Err(PageError::Csrf)
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A logged-in user on a page; redirects to the login page otherwise.
#[derive(Clone, Debug)]
pub struct Staff {
    pub ctx: Ctx,
    pub user: User,
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ctx = Ctx::from_request_parts(parts, state).await?;
        match ctx.user().cloned() {
            Some(user) => Ok(Staff { ctx, user }),
            None => Err(PageError::Login {
                expired: ctx.expired,
            }),
        }
    }
}

/// The user of an API or FHIR request: a bearer token, or a session cookie (for the
/// browser). Refused with 401 otherwise.
#[derive(Clone, Debug)]
pub struct ApiUser {
    pub user: User,
    pub remote: Option<String>,
}

impl ApiUser {
    pub async fn resolve(
        parts: &Parts,
        state: &AppState,
    ) -> Result<Option<User>, yiwei_store::StoreError> {
        if let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            return session::api_token_user(&state.store, token.trim()).await;
        }
        if let Some(token) = cookie(&parts.headers, SESSION_COOKIE)
            && let Lookup::Active(s) =
                session::lookup(&state.store, token, state.config.session_idle).await?
        {
            return Ok(Some(s.user));
        }
        Ok(None)
    }
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match ApiUser::resolve(parts, state).await? {
            Some(user) => Ok(ApiUser {
                user,
                remote: remote_addr(parts),
            }),
            None => Err(ApiError::unauthorized()),
        }
    }
}
