//! yiwei's HTTP face: server-rendered pages, the FHIR R4 API, the JSON API, auth and
//! error rendering, on axum.
//!
//! Handlers are thin: extract, call `yiwei-store` (which checks access and audits) and
//! `yiwei-domain`, render. Pages are askama templates with escaping on; text comes from
//! the message catalogs in `i18n/` (Chinese by default, English by a switch). FHIR
//! resources are hand-written serde types next to their handlers.

use chrono::Duration;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::lockout::LockoutPolicy;
use yiwei_store::Store;

/// What the web layer needs from the configuration.
#[derive(Clone, Debug)]
pub struct WebConfig {
    pub lockout: LockoutPolicy,
    /// Sessions idle longer than this end.
    pub session_idle: Duration,
    /// How long a break-glass grant lasts.
    pub break_glass: Duration,
    /// Mark cookies `Secure` (when served over HTTPS).
    pub secure_cookies: bool,
    /// The county this instance runs.
    pub county: DivisionCode,
    pub county_name: String,
}

/// The whole application: every route with its middleware.
pub fn app(store: Store, config: WebConfig) -> axum::Router {
    let _ = (store, config);
    axum::Router::new()
}
