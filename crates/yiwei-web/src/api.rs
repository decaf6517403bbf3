//! The JSON API under `/api/v1`, `/healthz` and the OpenAPI document.
//!
//! Conventions (docs/api.md): bearer tokens or a browser session; errors as
//! `{"error": {"code", "message", "message_zh"}}`; lists page with `limit`/`offset`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use yiwei_domain::access::may_see_aggregate;
use yiwei_domain::division::DivisionCode;
use yiwei_store::{division, resident};

use crate::AppState;
use crate::auth::ApiUser;
use crate::error::ApiError;

/// Health of the process and its database.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    status: &'static str,
    /// `sqlite` or `postgres`.
    backend: &'static str,
    version: &'static str,
}

/// Liveness and database reachability.
#[utoipa::path(get, path = "/healthz", responses(
    (status = 200, description = "Up and the database answers", body = Health),
    (status = 503, description = "The database does not answer", body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let ok = state.store.ping().await.is_ok();
    let body = Health {
        status: if ok { "ok" } else { "unavailable" },
        backend: state.store.backend().as_str(),
        version: env!("CARGO_PKG_VERSION"),
    };
    (
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
}

/// The calling user.
#[derive(Serialize, ToSchema)]
pub struct Me {
    id: i64,
    username: String,
    display_name: String,
    /// Role code, e.g. `village_doctor`.
    role: &'static str,
    /// Root of the user's division subtree (significant digits).
    reach: String,
    institution_id: Option<i64>,
}

/// Who am I, with which role and reach.
#[utoipa::path(get, path = "/api/v1/me", security(("bearer" = [])), responses(
    (status = 200, body = Me), (status = 401, description = "No valid token or session")))]
pub async fn me(ApiUser { user, .. }: ApiUser) -> Json<Me> {
    Json(Me {
        id: user.id,
        username: user.username,
        display_name: user.display_name,
        role: user.role.as_str(),
        reach: user.reach.as_str().to_owned(),
        institution_id: user.institution_id,
    })
}

/// A division with its subdivisions and resident counts (aggregate, no personal data).
#[derive(Serialize, ToSchema)]
pub struct DivisionSummary {
    code: String,
    name: String,
    level: &'static str,
    parent: Option<String>,
    residents: i64,
    children: Vec<ChildSummary>,
}

#[derive(Serialize, ToSchema)]
pub struct ChildSummary {
    code: String,
    name: String,
    residents: i64,
}

/// A division inside the caller's reach, with aggregate counts.
#[utoipa::path(get, path = "/api/v1/divisions/{code}", security(("bearer" = [])),
    params(("code" = String, Path, description = "Division code: 6, 9 or 12 digits")),
    responses((status = 200, body = DivisionSummary), (status = 400, description = "Malformed code"),
        (status = 403, description = "Outside the caller's reach"), (status = 404, description = "No such division")))]
pub async fn division_summary(
    State(state): State<AppState>,
    ApiUser { user, .. }: ApiUser,
    Path(code): Path<String>,
) -> Result<Json<DivisionSummary>, ApiError> {
    let code = DivisionCode::parse(&code).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            e.to_string(),
            "区划代码有误",
        )
    })?;
    if !may_see_aggregate(&user.actor(), &code) {
        return Err(ApiError::forbidden("this division is outside your area"));
    }
    let d = division::get(&state.store, &code).await?;
    let counts = resident::count_by_child(&state.store, &code).await?;
    let children = division::children(&state.store, &code)
        .await?
        .into_iter()
        .map(|c| ChildSummary {
            residents: counts
                .iter()
                .find(|n| n.0 == c.code.as_str())
                .map_or(0, |n| n.1),
            code: c.code.as_str().to_owned(),
            name: c.name,
        })
        .collect();
    Ok(Json(DivisionSummary {
        code: d.code.as_str().to_owned(),
        name: d.name,
        level: d.level.as_str(),
        parent: d.parent.map(|p| p.as_str().to_owned()),
        residents: counts.iter().map(|c| c.1).sum(),
        children,
    }))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "yiwei JSON API", description = "Non-FHIR endpoints of yiwei. FHIR R4 lives under /fhir (see /fhir/metadata)."),
    paths(
        healthz,
        me,
        division_summary,
        crate::pages::programme_indicator::api,
        crate::pages::dashboard::api
    ),
    components(schemas(
        Health,
        Me,
        DivisionSummary,
        ChildSummary,
        crate::pages::programme_indicator::ApiIndicators,
        crate::pages::dashboard::ApiFigures,
        crate::pages::dashboard::ApiFigure
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}
