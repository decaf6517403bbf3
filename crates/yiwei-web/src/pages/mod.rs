//! Server-rendered pages. Each handler extracts, calls the store, and renders a template.

pub mod admin;
pub mod annual;
pub mod booking;
pub mod codes;
pub mod contract;
// cost alerts (防返贫监测预警)
pub mod cost_alert;
pub mod dashboard;
pub mod division;
pub mod exam;
pub mod foodborne;
pub mod home;
pub mod imaging;
pub mod imaging_report;
pub mod immunization;
pub mod login;
pub mod my_imaging;
pub mod notifiable;
pub mod notifiable_stats;
pub mod org;
pub mod programme;
pub mod programme_indicator;
pub mod quality;
pub mod recognition;
pub mod record;
pub mod referral;
pub mod resident;

use askama::Template;
use axum::response::Html;
use yiwei_store::access::Viewer;
use yiwei_store::user::User;

use crate::auth::Ctx;
use crate::error::PageError;
use crate::i18n::{Lang, Tr};

/// The viewer of a request: the signed-in user and the address the request came from, as
/// the access gate audits it.
pub(crate) fn viewer<'a>(ctx: &Ctx, user: &'a User) -> Viewer<'a> {
    Viewer {
        user,
        remote_addr: ctx.remote.clone(),
    }
}

/// One of two texts by the page's language (Chinese unless English was chosen).
pub(crate) fn say(tr: Tr, zh: &str, en: &str) -> String {
    if tr.lang == Lang::En {
        en.to_owned()
    } else {
        zh.to_owned()
    }
}

/// Render a template into an HTML response.
pub fn render(t: &impl Template) -> Result<Html<String>, PageError> {
    Ok(Html(t.render()?))
}

/// Format an instant in the county's local time (UTC+8 by default).
pub fn local_time(t: chrono::DateTime<chrono::Utc>, offset_hours: i32) -> String {
    let offset = chrono::FixedOffset::east_opt(offset_hours * 3600)
        .unwrap_or_else(|| chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset"));
    t.with_timezone(&offset)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}
