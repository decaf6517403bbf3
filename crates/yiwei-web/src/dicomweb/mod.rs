//! DICOMweb (PS3.18) under `/dicom-web`: STOW-RS ([`stow`]), QIDO-RS ([`qido`]) and
//! WADO-RS with rendered frames ([`wado`]), on `yiwei_dicom` and `yiwei_store::imaging`.
//!
//! Auth is the API's: a bearer token or a session cookie, with the user's role and reach.
//! A modality or PACS uploads as an institution account of role `radiologist` (影像技师/
//! 放射科医生) holding an API token. Every read goes through `access::imaging`, which
//! decides and audits; a study of a resident outside the caller's reach is a 403 with a
//! message, and the refusal is in the audit log.
//!
//! Errors are JSON `{"error": {"code", "message", "message_zh"}}` with the DICOMweb status
//! codes (400 bad query or body, 401, 403, 404, 406 an unacceptable media type, 409 a STOW
//! that stored nothing, 415 a body that is not multipart/related DICOM).

pub mod qido;
pub mod stow;
pub mod wado;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};
use yiwei_dicom::blob::{BlobStore, LocalFolder};
use yiwei_store::StoreError;
use yiwei_store::access::{AccessError, Viewer};
use yiwei_store::user::User;

use crate::AppState;
use crate::error::ApiError;

/// The media type of DICOM JSON (PS3.18 8.7.3.2).
pub const DICOM_JSON: &str = "application/dicom+json";

/// Imaging settings of the web layer.
#[derive(Clone, Debug)]
pub struct ImagingConfig {
    /// Where instance files are kept.
    pub blobs: Arc<dyn BlobStore>,
    /// The largest single instance STOW-RS accepts (it is held in memory while parsed).
    pub max_instance_bytes: usize,
    /// The largest STOW-RS request body.
    pub max_request_bytes: usize,
    /// Queue an AI draft report (job [`AI_DRAFT_JOB`]) for each new study.
    pub ai_draft: bool,
}

/// The job kind that attaches an AI draft report to a new study (run by `yiwei`'s job
/// runner, payload `{"study_id": …}`, the study id as dedup key).
pub const AI_DRAFT_JOB: &str = "ai_draft";

/// How long after a study's first instance its AI draft is made, so that the rest of the
/// study has usually arrived.
pub const AI_DRAFT_DELAY_SECONDS: i64 = 60;

impl ImagingConfig {
    /// Files under `folder` (the default: `<data folder>/images`).
    pub fn local(folder: impl Into<PathBuf>) -> ImagingConfig {
        ImagingConfig {
            blobs: Arc::new(LocalFolder::new(folder)),
            max_instance_bytes: 512 * 1024 * 1024,
            max_request_bytes: 8 * 1024 * 1024 * 1024,
            ai_draft: true,
        }
    }
}

/// The routes, to be nested at `/dicom-web` outside the general body limit (STOW bodies
/// are large; this router sets its own).
pub fn router(config: &ImagingConfig) -> Router<AppState> {
    let stow_routes = Router::new()
        .route("/studies", post(stow::store).get(qido::studies))
        .route(
            "/studies/{study}",
            post(stow::store_in_study).get(wado::study),
        )
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            config.max_request_bytes,
        ))
        .layer(axum::extract::DefaultBodyLimit::disable());
    Router::new()
        .merge(stow_routes)
        .route("/series", get(qido::all_series))
        .route("/instances", get(qido::all_instances))
        .route("/studies/{study}/metadata", get(wado::study_metadata))
        .route("/studies/{study}/series", get(qido::series))
        .route("/studies/{study}/instances", get(qido::study_instances))
        .route("/studies/{study}/series/{series}", get(wado::series))
        .route(
            "/studies/{study}/series/{series}/metadata",
            get(wado::series_metadata),
        )
        .route(
            "/studies/{study}/series/{series}/instances",
            get(qido::instances),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}",
            get(wado::instance),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/metadata",
            get(wado::instance_metadata),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/rendered",
            get(wado::rendered),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/thumbnail",
            get(wado::thumbnail),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/frames/{frame}/rendered",
            get(wado::frame_rendered),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/bulkdata/{tag}",
            get(wado::bulkdata),
        )
}

/// The signed-in caller of a DICOMweb request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: User,
    pub remote: Option<String>,
}

impl Caller {
    pub fn viewer(&self) -> Viewer<'_> {
        Viewer {
            user: &self.user,
            remote_addr: self.remote.clone(),
        }
    }
}

impl axum::extract::FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match crate::auth::ApiUser::resolve(parts, state).await? {
            Some(user) => Ok(Caller {
                user,
                remote: crate::auth::remote_addr(parts),
            }),
            None => Err(ApiError::unauthorized()),
        }
    }
}

/// An access failure as a DICOMweb error: a refusal is 403 with what to do about it.
pub fn refused(e: AccessError) -> ApiError {
    match e {
        AccessError::Refused(r) => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "{r}: this study belongs to a resident outside your reach; ask for a share, or use break-glass on the resident's record"
            ),
            "该检查属于您权限范围外的居民：请申请共享，或在居民档案页使用紧急授权",
        ),
        AccessError::Store(StoreError::NotFound(what)) => ApiError::not_found(what),
        AccessError::Store(s) => s.into(),
        other => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            other.to_string(),
            "请求有误",
        ),
    }
}

/// Check a UID from a path; 400 when it is not one.
pub fn uid(s: &str, what: &str) -> Result<String, ApiError> {
    if yiwei_dicom::parse::is_uid(s) {
        Ok(s.to_owned())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_uid",
            format!("{what} {s:?} is not a DICOM UID (digits and dots, at most 64)"),
            format!("{what} 不是有效的 DICOM UID"),
        ))
    }
}

/// The WADO-RS URL of a study, series or instance (path only: clients resolve it against
/// the origin they called).
pub fn url(study: &str, series: Option<&str>, instance: Option<&str>) -> String {
    let mut s = format!("/dicom-web/studies/{study}");
    if let Some(se) = series {
        s.push_str("/series/");
        s.push_str(se);
        if let Some(i) = instance {
            s.push_str("/instances/");
            s.push_str(i);
        }
    }
    s
}

/// Decode a percent-encoded query component (`+` is a space).
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let text = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(text, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Split a raw query into decoded pairs; 400 when it is not valid UTF-8.
pub fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for part in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match (percent_decode(k), percent_decode(v)) {
            (Some(k), Some(v)) => out.push((k, v)),
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    "the query is not valid percent-encoded UTF-8",
                    "查询参数编码有误",
                ));
            }
        }
    }
    Ok(out)
}
