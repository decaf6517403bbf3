//! Errors rendered as responses: [`PageError`] for pages, [`ApiError`] for `/api` JSON,
//! and `fhir::Outcome` for FHIR.
//!
//! A page error becomes a response carrying a [`PageFailure`] extension and no body; the
//! `render_page_errors` middleware, which knows the visitor's language, renders the
//! bilingual error page and logs server errors once. A 4xx is not logged as an error.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use yiwei_store::StoreError;
use yiwei_store::access::AccessError;

/// What went wrong on a page.
#[derive(Debug)]
pub enum PageError {
    /// Not logged in (or the session expired): go to the login page.
    Login {
        expired: bool,
    },
    BadRequest(String),
    Forbidden,
    Csrf,
    NotFound,
    Unavailable,
    Internal(String),
}

/// Carried from a failing handler to the rendering middleware.
#[derive(Clone, Debug)]
pub struct PageFailure {
    pub status: StatusCode,
    /// Message-catalog key.
    pub key: &'static str,
    /// An extra sentence (already in a person's words), e.g. a validation message.
    pub detail: Option<String>,
    /// For 500s: the cause, logged once by the middleware and never shown.
    pub cause: Option<String>,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, key, detail, cause) = match self {
            PageError::Login { expired } => {
                return Redirect::to(if expired {
                    "/login?expired=1"
                } else {
                    "/login"
                })
                .into_response();
            }
            PageError::BadRequest(msg) => (StatusCode::BAD_REQUEST, "error.400", Some(msg), None),
            PageError::Forbidden => (StatusCode::FORBIDDEN, "error.403", None, None),
            PageError::Csrf => (StatusCode::FORBIDDEN, "error.csrf", None, None),
            PageError::NotFound => (StatusCode::NOT_FOUND, "error.404", None, None),
            PageError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "error.503", None, None),
            PageError::Internal(cause) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "error.500",
                None,
                Some(cause),
            ),
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(PageFailure {
            status,
            key,
            detail,
            cause,
        });
        response
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => PageError::NotFound,
            StoreError::Invalid(msg) => PageError::BadRequest(msg),
            StoreError::Conflict { constraint } => {
                PageError::BadRequest(format!("conflicts with existing data ({constraint})"))
            }
            StoreError::Unavailable(_) => PageError::Unavailable,
            other => PageError::Internal(other.to_string()),
        }
    }
}

impl From<AccessError> for PageError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::Refused(_) | AccessError::NoBreakGlass => PageError::Forbidden,
            AccessError::ReasonTooShort => PageError::BadRequest(e.to_string()),
            AccessError::Store(s) => s.into(),
        }
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        PageError::Internal(format!("template: {e}"))
    }
}

/// An error of the JSON API: `{"error": {"code", "message", "message_zh"}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub message_zh: String,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        message_zh: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            message_zh: message_zh.into(),
        }
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "log in or send a bearer token",
            "请先登录或提供访问令牌",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message, "无权访问")
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
            "未找到",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(error.code = self.code, error.message = %self.message, "api request failed");
        }
        let body = serde_json::json!({
            "error": {"code": self.code, "message": self.message, "message_zh": self.message_zh}
        });
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Invalid(msg) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid", msg, "请求有误")
            }
            StoreError::Conflict { constraint } => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("conflicts with existing data ({constraint})"),
                "与已有数据冲突",
            ),
            StoreError::Unavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database is unavailable",
                "数据库暂时不可用",
            ),
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                other.to_string(),
                "系统内部错误",
            ),
        }
    }
}
