//! yiwei's HTTP face: server-rendered pages, the FHIR R4 API, the JSON API, auth and
//! error rendering, on axum.
//!
//! Handlers are thin: extract, call `yiwei-store` (which checks access and audits) and
//! `yiwei-domain`, render. Pages are askama templates with escaping on; text comes from
//! the message catalogs in `i18n/` (Chinese by default, English by a switch). FHIR
//! resources are hand-written serde types next to their handlers.

pub mod api;
pub mod auth;
pub mod dicomweb;
pub mod error;
pub mod fhir;
pub mod i18n;
pub mod pages;
pub mod shell;

use std::sync::{Arc, OnceLock};
use std::time::{Duration as StdDuration, Instant};

use askama::Template;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Duration;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_http::set_header::SetResponseHeaderLayer;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::lockout::LockoutPolicy;
use yiwei_store::Store;

use crate::error::PageFailure;
use crate::i18n::Tr;

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
    /// The county's offset from UTC in hours (China: 8), for dates shown on pages.
    pub utc_offset_hours: i32,
    /// The address clients reach this server at, e.g. `http://127.0.0.1:8080`; used for
    /// absolute URLs in FHIR Bundles.
    pub public_url: String,
    /// The public-health programmes and immunization editions in force.
    pub programmes: yiwei_store::programme::Catalogue,
    /// The reporting rules of notifiable diseases that are configuration.
    pub notifiable: yiwei_store::notifiable::Settings,
    /// The imaging cloud: blob store and DICOMweb limits.
    pub imaging: dicomweb::ImagingConfig,
}

/// Shared state of every handler.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<WebConfig>,
    metrics: PrometheusHandle,
}

impl AppState {
    pub fn fhir_base(&self) -> String {
        format!("{}/fhir", self.config.public_url.trim_end_matches('/'))
    }
}

/// The process-wide Prometheus recorder (a recorder can be installed once per process).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ])
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (in tests); ours still renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Request body limit: forms and FHIR JSON are small; DICOM uploads get their own route
/// limit when they arrive.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The whole application: every route with its middleware.
pub fn app(store: Store, config: WebConfig) -> Router {
    let state = AppState {
        store,
        config: Arc::new(config),
        metrics: metrics_handle(),
    };
    let pages = Router::new()
        .route("/", get(pages::home::show))
        .route("/login", get(pages::login::show).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route("/lang/{code}", get(pages::login::switch_lang))
        .route("/divisions", get(pages::division::index))
        .route("/divisions/{code}", get(pages::division::show))
        .route("/orgs", get(pages::org::list))
        .route("/residents", get(pages::resident::list))
        .route(
            "/residents/new",
            get(pages::record::new_form).post(pages::record::create),
        )
        .route("/residents/reviews", get(pages::record::reviews))
        .route("/residents/quality", get(pages::quality::show))
        .route(
            "/indicators/programmes",
            get(pages::programme_indicator::show),
        )
        .route(
            "/indicators/programmes/list",
            get(pages::programme_indicator::list),
        )
        .route(
            "/indicators/programmes/definitions",
            get(pages::programme_indicator::definitions),
        )
        .route("/residents/reviews/{id}", post(pages::record::decide))
        .route(
            "/residents/merges/{id}/undo",
            post(pages::record::undo_merge),
        )
        .route("/residents/{id}", get(pages::resident::show))
        .route(
            "/residents/{id}/edit",
            get(pages::record::edit_form).post(pages::record::update),
        )
        .route(
            "/residents/{id}/exams/new",
            get(pages::exam::new_form).post(pages::exam::create),
        )
        .route(
            "/residents/{id}/exams/{encounter_id}",
            get(pages::exam::show),
        )
        .route(
            "/residents/{id}/exams/{encounter_id}/correct",
            get(pages::exam::correct_form).post(pages::exam::correct),
        )
        .route(
            "/residents/{id}/exams/{encounter_id}/void",
            post(pages::exam::void),
        )
        .route("/residents/{id}/timeline", get(pages::exam::timeline_page))
        .route("/residents/{id}/programmes", get(pages::programme::show))
        .route(
            "/residents/{id}/programmes/enrol",
            post(pages::programme::enrol),
        )
        .route(
            "/residents/{id}/programmes/{code}/visit",
            get(pages::programme::visit_form).post(pages::programme::record_visit),
        )
        .route(
            "/programme-enrolments/{id}/end",
            post(pages::programme::end),
        )
        .route("/programme-visits/{id}", get(pages::programme::visit_show))
        .route("/programme-visits/{id}/void", post(pages::programme::void))
        .route("/worklist", get(pages::programme::worklist))
        .route("/outbox", get(pages::programme::outbox))
        .route("/outbox/queue", post(pages::programme::queue))
        .route("/outbox/export", post(pages::programme::export))
        .route(
            "/residents/{id}/immunizations",
            get(pages::immunization::show).post(pages::immunization::record),
        )
        .route(
            "/residents/{id}/immunizations/{dose_id}/void",
            post(pages::immunization::void),
        )
        .route(
            "/residents/{id}/cases/new",
            get(pages::notifiable::new_form).post(pages::notifiable::create),
        )
        .route(
            "/residents/{id}/foodborne/new",
            get(pages::foodborne::new_form).post(pages::foodborne::create),
        )
        .route("/foodborne/{id}", get(pages::foodborne::show))
        .route("/foodborne/{id}/review", post(pages::foodborne::review))
        .route("/foodborne/returned", get(pages::foodborne::returned))
        .route(
            "/foodborne/{id}/resubmit",
            get(pages::foodborne::resubmit_form).post(pages::foodborne::resubmit),
        )
        .route("/cdc/foodborne", get(pages::foodborne::list))
        // cost alerts (防返贫监测预警)
        .route("/cost-alerts", get(pages::cost_alert::list))
        .route("/cost-alerts/{id}", get(pages::cost_alert::show))
        .route("/cost-alerts/{id}/check", post(pages::cost_alert::check))
        .route("/cost-alerts/{id}/reopen", post(pages::cost_alert::reopen))
        .route("/cost-alerts/unmatched", get(pages::cost_alert::unmatched))
        .route(
            "/cost-alerts/unmatched/{id}/attach",
            post(pages::cost_alert::attach),
        )
        .route(
            "/cost-alerts/rules",
            get(pages::cost_alert::rules).post(pages::cost_alert::save_rule),
        )
        .route("/cost-alerts/run", post(pages::cost_alert::run_month))
        .route("/cost-alerts/stats", get(pages::cost_alert::stats))
        .route("/cases/{id}", get(pages::notifiable::show))
        .route("/cases/{id}/review", post(pages::notifiable::review))
        .route(
            "/cases/{id}/resubmit",
            get(pages::notifiable::resubmit_form).post(pages::notifiable::resubmit),
        )
        .route("/cases/returned", get(pages::notifiable::returned))
        .route("/cdc/review", get(pages::notifiable::queue))
        .route("/cdc/statistics", get(pages::notifiable_stats::statistics))
        .route("/cdc/timeliness", get(pages::notifiable_stats::timeliness))
        .route("/warnings", get(pages::notifiable::signals))
        .route("/warnings/{id}", get(pages::notifiable::signal))
        .route("/warnings/{id}/step", post(pages::notifiable::step))
        .route("/residents/{id}/reveal", post(pages::resident::reveal))
        .route(
            "/residents/{id}/break-glass",
            post(pages::resident::break_glass),
        )
        .route("/me", get(pages::resident::me))
        .route(
            "/teams",
            get(pages::contract::teams).post(pages::contract::create_team),
        )
        .route("/teams/{id}", get(pages::contract::team))
        .route("/teams/{id}/members", post(pages::contract::add_member))
        .route(
            "/teams/{id}/members/{user_id}/remove",
            post(pages::contract::remove_member),
        )
        .route("/teams/{id}/villages", post(pages::contract::add_village))
        .route(
            "/teams/{id}/villages/{code}/remove",
            post(pages::contract::remove_village),
        )
        .route(
            "/packages",
            get(pages::contract::packages).post(pages::contract::create_package),
        )
        .route(
            "/residents/{id}/contracts/new",
            get(pages::contract::sign_form).post(pages::contract::sign),
        )
        .route("/contracts/coverage", get(pages::contract::coverage))
        .route("/contracts/{id}", get(pages::contract::show))
        .route("/contracts/{id}/renew", post(pages::contract::renew))
        .route("/contracts/{id}/transfer", post(pages::contract::transfer))
        .route(
            "/contracts/{id}/terminate",
            post(pages::contract::terminate),
        )
        .route(
            "/contracts/{id}/services",
            post(pages::contract::record_service),
        )
        .route(
            "/admin/users",
            get(pages::admin::users).post(pages::admin::add_user),
        )
        .route(
            "/admin/users/{id}/{action}",
            post(pages::admin::user_action),
        )
        .route("/booking", get(pages::booking::schedules))
        .route("/booking/schedules", post(pages::booking::create_schedule))
        .route("/booking/schedules/{id}", get(pages::booking::schedule))
        .route(
            "/booking/schedules/{id}/open",
            post(pages::booking::open_slots),
        )
        .route("/booking/slots/{id}", get(pages::booking::slot))
        .route("/booking/slots/{id}/book", post(pages::booking::book))
        .route("/booking/bookings/{id}", post(pages::booking::change))
        .route("/booking/stats", get(pages::booking::stats))
        .route("/me/bookings", get(pages::booking::mine))
        .route(
            "/referrals",
            get(pages::referral::queue).post(pages::referral::send),
        )
        .route("/referrals/new", get(pages::referral::new_form))
        .route("/referrals/{id}", get(pages::referral::show))
        .route("/referrals/{id}/move", post(pages::referral::move_referral))
        // indicators
        .route("/dashboard", get(pages::dashboard::show))
        .route("/indicators/catalogue", get(pages::dashboard::catalogue))
        .route("/reports/annual/{year}", get(pages::annual::show))
        .route("/reports/annual/{year}/{file}", get(pages::annual::file))
        // imaging
        .route("/imaging", get(pages::imaging::list))
        .route("/imaging/queue", get(pages::imaging::queue))
        .route("/imaging/studies/{id}", get(pages::imaging::show))
        .route("/imaging/studies/{id}/link", post(pages::imaging::link))
        // recognition: reports, 互认, patients' phone access and share links
        .route(
            "/residents/{id}/orders/new",
            get(pages::recognition::order_form),
        )
        .route(
            "/residents/{id}/orders/decide",
            post(pages::recognition::decide),
        )
        .route("/recognition/stats", get(pages::recognition::stats))
        .route(
            "/imaging/studies/{id}/report",
            get(pages::imaging_report::show).post(pages::imaging_report::submit),
        )
        .route("/me/imaging", get(pages::my_imaging::list))
        .route("/me/imaging/{id}", get(pages::my_imaging::view))
        .route("/me/imaging/{id}/share", post(pages::my_imaging::share))
        .route(
            "/me/imaging/links/{id}/revoke",
            post(pages::my_imaging::revoke),
        )
        .route(
            "/s/{token}",
            get(pages::my_imaging::open_form).post(pages::my_imaging::open),
        )
        .route(
            "/s/{token}/images/{instance}",
            get(pages::my_imaging::shared_image),
        )
        .route(
            "/me/imaging/{id}/download",
            get(pages::my_imaging::download),
        )
        .route(
            "/imaging/studies/{id}/report/ai",
            post(pages::imaging_report::run_ai),
        )
        .route("/admin/audit", get(pages::admin::audit_log))
        .route("/admin/break-glass", get(pages::admin::grants))
        .fallback(not_found)
        .layer(middleware::from_fn(render_page_errors))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    let fhir = Router::new()
        .route("/", post(fhir::bundle::process))
        .route("/metadata", get(fhir_metadata))
        .route("/Schedule", get(fhir::booking::search_schedule))
        .route("/Schedule/{id}", get(fhir::booking::read_schedule))
        .route("/Slot", get(fhir::booking::search_slot))
        .route("/Slot/{id}", get(fhir::booking::read_slot))
        .route(
            "/Appointment",
            get(fhir::booking::search_appointment).post(fhir::booking::create_appointment),
        )
        .route(
            "/Appointment/{id}",
            get(fhir::booking::read_appointment).put(fhir::booking::update_appointment),
        )
        .route(
            "/ServiceRequest",
            get(fhir::referral::search_service_request),
        )
        .route(
            "/ServiceRequest/{id}",
            get(fhir::referral::read_service_request),
        )
        .route("/Organization", get(fhir::organization::search))
        .route("/Organization/{id}", get(fhir::organization::read))
        .route(
            "/Practitioner",
            get(fhir::practitioner::search_practitioners),
        )
        .route(
            "/Practitioner/{id}",
            get(fhir::practitioner::read_practitioner),
        )
        .route("/PractitionerRole", get(fhir::practitioner::search_roles))
        .route("/PractitionerRole/{id}", get(fhir::practitioner::read_role))
        .route("/Location", get(fhir::location::search))
        .route("/Location/{id}", get(fhir::location::read))
        .route(
            "/Patient",
            get(fhir::patient::search).post(fhir::patient::create),
        )
        .route(
            "/Patient/{id}",
            get(fhir::patient::read).put(fhir::patient::update),
        )
        .route("/Encounter", get(fhir::encounter::search))
        .route("/Encounter/{id}", get(fhir::encounter::read))
        .route("/Observation", get(fhir::observation::search))
        .route("/Observation/{id}", get(fhir::observation::read))
        .route("/CareTeam", get(fhir::care_team::search))
        .route("/CareTeam/{id}", get(fhir::care_team::read))
        .route("/Condition", get(fhir::condition::search))
        .route("/Condition/{id}", get(fhir::condition::read))
        // cost alerts (防返贫监测预警)
        .route(
            "/ChargeItem",
            get(fhir::charge_item::search).post(fhir::charge_item::create),
        )
        .route("/ChargeItem/{id}", get(fhir::charge_item::read))
        .route("/Flag", get(fhir::flag::search))
        .route("/Flag/{id}", get(fhir::flag::read))
        .route("/DetectedIssue", get(fhir::detected_issue::search))
        .route("/DetectedIssue/{id}", get(fhir::detected_issue::read))
        .route("/EpisodeOfCare", get(fhir::episode_of_care::search))
        .route("/EpisodeOfCare/{id}", get(fhir::episode_of_care::read))
        .route(
            "/Immunization",
            get(fhir::immunization::search).post(fhir::immunization::create),
        )
        .route("/Immunization/{id}", get(fhir::immunization::read))
        .route("/CarePlan", get(fhir::care_plan::search))
        .route("/CarePlan/{id}", get(fhir::care_plan::read))
        // imaging
        .route("/ImagingStudy", get(fhir::imaging_study::search))
        .route("/ImagingStudy/{id}", get(fhir::imaging_study::read))
        // recognition
        .route("/DiagnosticReport", get(fhir::diagnostic_report::search))
        .route("/DiagnosticReport/{id}", get(fhir::diagnostic_report::read))
        .route("/Task", get(fhir::referral::search_tasks))
        .route("/Task/{id}", get(fhir::referral::read_tasks))
        .route("/MeasureReport", get(fhir::measure_report::search))
        .route("/MeasureReport/{id}", get(fhir::measure_report::read))
        .fallback(fhir_unknown);
    Router::new()
        .merge(pages)
        .nest("/fhir", fhir)
        .route("/api/v1/me", get(api::me))
        .route("/api/v1/indicators", get(pages::dashboard::api))
        .route("/api/v1/divisions/{code}", get(api::division_summary))
        .route(
            "/api/v1/indicators/programmes",
            get(pages::programme_indicator::api),
        )
        .route("/openapi.json", get(api::openapi))
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(render_metrics))
        .route("/static/style.css", get(stylesheet))
        .route("/static/sign.js", get(pages::contract::sign_js))
        // recognition
        .route("/static/viewer.js", get(pages::my_imaging::viewer_js))
        .layer(middleware::from_fn(record_metrics))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT))
        // imaging: DICOMweb sets its own body limit, so it is nested after the general one
        .nest(
            "/dicom-web",
            dicomweb::router(&state.config.imaging).layer(middleware::from_fn(record_metrics)),
        )
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

/// Security headers on every response (docs/security.md).
async fn security_headers(mut response: Response) -> Response {
    const HEADERS: [(&str, &str); 5] = [
        (
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        (
            "permissions-policy",
            "camera=(), microphone=(), geolocation=()",
        ),
    ];
    let headers = response.headers_mut();
    for (name, value) in HEADERS {
        headers
            .entry(HeaderName::from_static(name))
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/style.css"),
    )
        .into_response()
}

async fn fhir_metadata(State(state): State<AppState>) -> fhir::Fhir {
    fhir::Fhir(
        StatusCode::OK,
        fhir::capability_statement(&state.fhir_base()),
    )
}

async fn fhir_unknown() -> fhir::Outcome {
    fhir::Outcome {
        status: StatusCode::NOT_FOUND,
        code: "not-supported",
        english: "this resource type or interaction is not supported; see /fhir/metadata".into(),
        chinese: "不支持该资源类型或操作".into(),
    }
}

async fn not_found() -> error::PageError {
    error::PageError::NotFound
}

async fn render_metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// Count requests and time them, labelled by route template (not raw path, so ids do not
/// explode the label set).
async fn record_metrics(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let elapsed = started.elapsed();
    metrics::counter!("yiwei_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("yiwei_http_request_duration_seconds", "method" => method, "route" => route)
        .record(elapsed.as_secs_f64());
    if elapsed > StdDuration::from_secs(2) {
        tracing::warn!(duration_ms = elapsed.as_millis() as u64, "slow request");
    }
    response
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    shell: shell::Shell,
    status: u16,
    message: String,
    break_glass: Option<pages::resident::BreakGlassForm>,
}

/// Render page errors in the visitor's language, and log server errors once.
async fn render_page_errors(request: Request, next: Next) -> Response {
    let tr = Tr::new(auth::lang_of(request.headers()));
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let Some(failure) = response.extensions_mut().remove::<PageFailure>() else {
        return response;
    };
    if let Some(cause) = &failure.cause {
        tracing::error!(http.status = failure.status.as_u16(), http.path = %path, error = %cause, "page failed");
    }
    let mut message = tr.t(failure.key).to_owned();
    if let Some(detail) = &failure.detail {
        message.push(' ');
        message.push_str(detail);
    }
    let page = ErrorPage {
        shell: shell::Shell {
            tr,
            title: tr.t("error.title").to_owned(),
            path,
            csrf: String::new(),
            user: None,
            nav: Vec::new(),
            flash: None,
        },
        status: failure.status.as_u16(),
        message,
        break_glass: None,
    };
    match page.render() {
        Ok(html) => (failure.status, axum::response::Html(html)).into_response(),
        Err(_) => (failure.status, tr.t(failure.key).to_owned()).into_response(),
    }
}
