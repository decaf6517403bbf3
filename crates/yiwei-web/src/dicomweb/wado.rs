//! WADO-RS (PS3.18 10.4): instances, series and studies as `multipart/related;
//! type="application/dicom"` (streamed from the blob store part by part), their metadata
//! as DICOM JSON (stored at STOW time, so a study's metadata is one indexed read), bulk
//! data of top-level binary attributes, and rendered frames (PS3.18 10.4.1.1.3) as
//! `image/jpeg` (the default) or `image/png`.
//!
//! Rendered query parameters (PS3.18 8.3.5.1): `window=center,width[,function]` (only the
//! LINEAR function), `viewport=width,height` (scaled to fit, aspect kept), `quality`
//! (1–100, JPEG). `accept=image/png` in the query stands in for the header for `<img>`
//! tags. An instance dicom-pixeldata cannot draw faithfully is a 406 saying so.
//!
//! Transfer syntax: instances are returned as they were stored; an `Accept` asking for a
//! specific other transfer syntax is a 406 (yiwei does not transcode).

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use yiwei_dicom::multipart::Builder;
use yiwei_dicom::render::{self, Format, Options, RenderError};
use yiwei_store::access::imaging as gate;
use yiwei_store::imaging::{Instance, InstanceFilter};

use super::{Caller, DICOM_JSON, query_pairs, refused, uid};
use crate::AppState;
use crate::error::ApiError;

fn not_acceptable(message: String, zh: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_ACCEPTABLE, "not_acceptable", message, zh)
}

/// Check the Accept header of a retrieve: multipart/related of application/dicom (any
/// transfer syntax, or the stored one), or anything.
fn check_accept(headers: &HeaderMap, stored: &[&str]) -> Result<(), ApiError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    for range in accept.split(',') {
        let lower = range.trim().to_ascii_lowercase();
        if lower.starts_with("*/*") || lower.starts_with("multipart/*") {
            return Ok(());
        }
        if lower.starts_with("multipart/related") {
            let part_type = lower
                .split(';')
                .find_map(|p| p.trim().strip_prefix("type="))
                .map(|t| t.trim_matches('"').to_owned())
                .unwrap_or_else(|| "application/dicom".into());
            if part_type != "application/dicom" {
                continue;
            }
            let syntax = range
                .split(';')
                .find_map(|p| p.trim().strip_prefix("transfer-syntax="))
                .map(|t| t.trim_matches('"').to_owned());
            match syntax.as_deref() {
                None | Some("*") => return Ok(()),
                Some(ts) if stored.iter().all(|s| *s == ts) => return Ok(()),
                Some(_) => {}
            }
        }
    }
    Err(not_acceptable(
        format!(
            "this server returns instances as stored ({}) and does not transcode; accept multipart/related; type=\"application/dicom\"; transfer-syntax=*",
            stored.first().copied().unwrap_or("")
        ),
        "本服务按原传输语法返回实例，不做转码",
    ))
}

/// Stream instances as a multipart/related response.
fn multipart_response(state: &AppState, instances: Vec<Instance>) -> Response {
    let mut builder = Builder::fresh();
    let content_type = builder.content_type("application/dicom");
    let heads: Vec<Bytes> = instances
        .iter()
        .map(|i| {
            Bytes::from(builder.head(
                &format!("application/dicom; transfer-syntax={}", i.transfer_syntax),
                None,
            ))
        })
        .collect();
    let close = Bytes::from(builder.close());
    let blobs = state.config.imaging.blobs.clone();
    let keys: Vec<String> = instances.into_iter().map(|i| i.blob_key).collect();
    let parts = stream::iter(heads.into_iter().zip(keys)).then(move |(head, key)| {
        let blobs = blobs.clone();
        async move {
            let body = match blobs.get(&key, None).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "an indexed instance's file is missing");
                    stream::once(async move { Err(std::io::Error::other(e.to_string())) }).boxed()
                }
            };
            stream::once(async move { Ok::<_, std::io::Error>(head) })
                .chain(body)
                .boxed()
        }
    });
    let body = parts
        .flatten()
        .chain(stream::once(async move { Ok(close) }));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(body),
    )
        .into_response()
}

async fn retrieve(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    study: &str,
    filter: InstanceFilter,
) -> Result<Response, ApiError> {
    let (_, instances) = gate::instances_of(&state.store, &caller.viewer(), study, &filter)
        .await
        .map_err(refused)?;
    if instances.is_empty() {
        return Err(ApiError::not_found("instance"));
    }
    let syntaxes: Vec<&str> = instances
        .iter()
        .map(|i| i.transfer_syntax.as_str())
        .collect();
    check_accept(headers, &syntaxes)?;
    Ok(multipart_response(state, instances))
}

/// `GET /studies/{study}`.
pub async fn study(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(study): Path<String>,
) -> Result<Response, ApiError> {
    let study = uid(&study, "StudyInstanceUID")?;
    retrieve(&state, &caller, &headers, &study, InstanceFilter::default()).await
}

/// `GET /studies/{study}/series/{series}`.
pub async fn series(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((study, series)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let study = uid(&study, "StudyInstanceUID")?;
    let filter = InstanceFilter {
        series_uid: Some(uid(&series, "SeriesInstanceUID")?),
        ..InstanceFilter::default()
    };
    retrieve(&state, &caller, &headers, &study, filter).await
}

/// `GET /studies/{study}/series/{series}/instances/{instance}`.
pub async fn instance(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((study, series, instance)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let study = uid(&study, "StudyInstanceUID")?;
    let filter = InstanceFilter {
        series_uid: Some(uid(&series, "SeriesInstanceUID")?),
        sop_uid: Some(uid(&instance, "SOPInstanceUID")?),
        ..InstanceFilter::default()
    };
    retrieve(&state, &caller, &headers, &study, filter).await
}

async fn metadata(
    state: &AppState,
    caller: &Caller,
    study: &str,
    series: Option<&str>,
    instance: Option<&str>,
) -> Result<Response, ApiError> {
    let objects = gate::metadata_of(&state.store, &caller.viewer(), study, series, instance)
        .await
        .map_err(refused)?;
    if objects.is_empty() {
        return Err(ApiError::not_found("instance"));
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, DICOM_JSON)],
        yiwei_dicom::json::array_of(&objects),
    )
        .into_response())
}

/// `GET /studies/{study}/metadata`.
pub async fn study_metadata(
    State(state): State<AppState>,
    caller: Caller,
    Path(study): Path<String>,
) -> Result<Response, ApiError> {
    let study = uid(&study, "StudyInstanceUID")?;
    metadata(&state, &caller, &study, None, None).await
}

/// `GET /studies/{study}/series/{series}/metadata`.
pub async fn series_metadata(
    State(state): State<AppState>,
    caller: Caller,
    Path((study, series)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let study = uid(&study, "StudyInstanceUID")?;
    let series = uid(&series, "SeriesInstanceUID")?;
    metadata(&state, &caller, &study, Some(&series), None).await
}

/// `GET /studies/{study}/series/{series}/instances/{instance}/metadata`.
pub async fn instance_metadata(
    State(state): State<AppState>,
    caller: Caller,
    Path((study, series, instance)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let study = uid(&study, "StudyInstanceUID")?;
    let series = uid(&series, "SeriesInstanceUID")?;
    let instance = uid(&instance, "SOPInstanceUID")?;
    metadata(&state, &caller, &study, Some(&series), Some(&instance)).await
}

/// Open one instance's file (checked and audited through the gate).
async fn load(
    state: &AppState,
    caller: &Caller,
    study: &str,
    series: &str,
    instance: &str,
) -> Result<Vec<u8>, ApiError> {
    let filter = InstanceFilter {
        series_uid: Some(uid(series, "SeriesInstanceUID")?),
        sop_uid: Some(uid(instance, "SOPInstanceUID")?),
        ..InstanceFilter::default()
    };
    let study = uid(study, "StudyInstanceUID")?;
    let (_, instances) = gate::instances_of(&state.store, &caller.viewer(), &study, &filter)
        .await
        .map_err(refused)?;
    let Some(i) = instances.into_iter().next() else {
        return Err(ApiError::not_found("instance"));
    };
    yiwei_dicom::blob::get_bytes(state.config.imaging.blobs.as_ref(), &i.blob_key)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "an indexed instance's file could not be read");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "blob_unavailable",
                "the image store is unavailable",
                "影像存储暂时不可用",
            )
        })
}

/// Read the rendering parameters of the query and the Accept header.
fn render_options(raw: Option<&str>, headers: &HeaderMap, frame: u32) -> Result<Options, ApiError> {
    let bad =
        |m: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", m, "渲染参数有误");
    let mut options = Options {
        frame,
        format: Format::Jpeg(90),
        ..Options::default()
    };
    let mut accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut quality = 90u8;
    for (k, v) in query_pairs(raw)? {
        match k.as_str() {
            "window" => {
                let parts: Vec<&str> = v.split(',').map(str::trim).collect();
                let num = |s: &str| s.parse::<f64>().ok().filter(|f| f.is_finite());
                match parts.as_slice() {
                    [c, w] | [c, w, _] => {
                        if let [_, _, f] = parts.as_slice()
                            && !f.eq_ignore_ascii_case("linear")
                        {
                            return Err(bad(format!(
                                "window function {f:?} is not supported; use linear"
                            )));
                        }
                        let (Some(c), Some(w)) = (num(c), num(w)) else {
                            return Err(bad(format!("window {v:?} must be center,width")));
                        };
                        options.window = Some((c, w));
                    }
                    _ => return Err(bad(format!("window {v:?} must be center,width"))),
                }
            }
            "viewport" => {
                let dims: Vec<u32> = v.split(',').filter_map(|s| s.trim().parse().ok()).collect();
                match dims.as_slice() {
                    [w, h, ..] if *w > 0 && *h > 0 && *w <= 4096 && *h <= 4096 => {
                        options.max_size = Some((*w).min(*h));
                    }
                    _ => return Err(bad(format!("viewport {v:?} must be width,height (1-4096)"))),
                }
            }
            "quality" => {
                quality = v
                    .trim()
                    .parse::<u8>()
                    .ok()
                    .filter(|q| (1..=100).contains(q))
                    .ok_or_else(|| bad(format!("quality {v:?} must be 1-100")))?;
            }
            "accept" => accept = v.to_ascii_lowercase(),
            other => return Err(bad(format!("{other:?} is not a rendering parameter"))),
        }
    }
    options.format = if accept.contains("image/png") && !accept.contains("image/jpeg") {
        Format::Png
    } else if accept.is_empty()
        || accept.contains("image/jpeg")
        || accept.contains("image/*")
        || accept.contains("*/*")
    {
        Format::Jpeg(quality)
    } else {
        return Err(not_acceptable(
            format!("rendered frames are image/jpeg or image/png, not {accept:?}"),
            "渲染结果只提供 image/jpeg 或 image/png",
        ));
    };
    Ok(options)
}

async fn render_frame(
    state: &AppState,
    caller: &Caller,
    ids: (&str, &str, &str),
    options: Options,
) -> Result<Response, ApiError> {
    let bytes = load(state, caller, ids.0, ids.1, ids.2).await?;
    let image = tokio::task::spawn_blocking(move || {
        let obj =
            yiwei_dicom::parse::open(&bytes).map_err(|e| RenderError::Decode(e.to_string()))?;
        render::render(&obj, &options)
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "render_failed",
            e.to_string(),
            "渲染失败",
        )
    })?;
    match image {
        Ok(bytes) => Ok((
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, options.format.content_type()),
                (header::CACHE_CONTROL, "private, max-age=3600"),
            ],
            bytes,
        )
            .into_response()),
        Err(e @ RenderError::Unsupported(_)) => Err(not_acceptable(
            e.to_string(),
            "该图像无法在线显示，请下载原始 DICOM 文件",
        )),
        Err(e @ RenderError::NoSuchFrame { .. }) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_frame",
            e.to_string(),
            "帧号不存在",
        )),
        Err(e @ RenderError::BadWindow) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            e.to_string(),
            "窗宽须大于 0",
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "decode_failed",
            e.to_string(),
            "图像解码失败",
        )),
    }
}

/// `GET …/instances/{instance}/rendered` (the first frame).
pub async fn rendered(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((study, series, instance)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let options = render_options(raw.as_deref(), &headers, 1)?;
    render_frame(&state, &caller, (&study, &series, &instance), options).await
}

/// `GET …/instances/{instance}/thumbnail`: the first frame in at most 128×128.
pub async fn thumbnail(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((study, series, instance)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut options = render_options(raw.as_deref(), &headers, 1)?;
    options.max_size = Some(options.max_size.unwrap_or(128).min(128));
    render_frame(&state, &caller, (&study, &series, &instance), options).await
}

/// `GET …/instances/{instance}/frames/{frame}/rendered`.
pub async fn frame_rendered(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((study, series, instance, frame)): Path<(String, String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let frame: u32 = frame.parse().ok().filter(|f| *f > 0).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_frame",
            format!(
                "frame {frame:?} must be a number from 1 (a single frame; lists are not supported)"
            ),
            "帧号须为从 1 开始的整数",
        )
    })?;
    let options = render_options(raw.as_deref(), &headers, frame)?;
    render_frame(&state, &caller, (&study, &series, &instance), options).await
}

/// `GET …/instances/{instance}/bulkdata/{tag}`: a top-level binary value as a single
/// `application/octet-stream` part (PS3.18 10.4.1.1.5).
pub async fn bulkdata(
    State(state): State<AppState>,
    caller: Caller,
    Path((study, series, instance, tag)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let tag = yiwei_dicom::json::parse_key(&tag).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_tag",
            format!("{tag:?} is not a tag (eight hex digits, GGGGEEEE)"),
            "标签须为 8 位十六进制",
        )
    })?;
    let bytes = load(&state, &caller, &study, &series, &instance).await?;
    let value = tokio::task::spawn_blocking(move || yiwei_dicom::parse::bulk_value(&bytes, tag))
        .await
        .ok()
        .flatten()
        .ok_or_else(|| ApiError::not_found("bulk data"))?;
    let mut builder = Builder::fresh();
    let content_type = builder.content_type("application/octet-stream");
    let mut body = builder.head("application/octet-stream", None);
    body.extend_from_slice(&value);
    body.extend(builder.close());
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response())
}
