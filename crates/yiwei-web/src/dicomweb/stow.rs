//! STOW-RS (PS3.18 10.5): `POST /studies` and `POST /studies/{study}` with a
//! `multipart/related; type="application/dicom"` body, one Part 10 instance per part.
//!
//! The body is read as it arrives through `yiwei_dicom::multipart::Parser`; one part (one
//! instance) at a time is held in memory, parsed, written to the blob store and indexed
//! through `access::imaging::store_instance`. A part that is not DICOM, is truncated, is
//! too large, belongs to another study than the path names, or is refused by the access
//! gate fails alone, in `FailedSOPSequence` (0008,1198) with a `FailureReason`
//! (0008,1197); the instances before and after it are kept.
//!
//! Status (PS3.18 Table 10.5.3-1): 200 when every instance was stored, 202 when some
//! failed, 409 when none was stored, 403 when none was stored and every failure was an
//! access refusal, 400 for a body that is not multipart at all, 415 for a wrong type.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Value, json};
use yiwei_dicom::multipart::{self, Event, MultipartError};
use yiwei_store::StoreError;
use yiwei_store::access::AccessError;
use yiwei_store::access::imaging as gate;
use yiwei_store::imaging::{NewInstance, Stored};

use super::{Caller, DICOM_JSON, uid, url};
use crate::AppState;
use crate::error::ApiError;

/// FailureReason values (PS3.18 Table 10.5.3-2 and PS3.4 Annex GG status codes).
pub mod reason {
    /// Processing failure.
    pub const PROCESSING_FAILURE: u16 = 0x0110;
    /// Duplicate SOP Instance (same UID, other content).
    pub const DUPLICATE: u16 = 0x0111;
    /// Refused: not authorized.
    pub const NOT_AUTHORIZED: u16 = 0x0124;
    /// Refused: out of resources (the instance is too large).
    pub const OUT_OF_RESOURCES: u16 = 0xA700;
    /// Error: data set does not match SOP class / the study of the request.
    pub const DOES_NOT_MATCH: u16 = 0xA900;
    /// Error: cannot understand (not DICOM, truncated, a required attribute missing).
    pub const CANNOT_UNDERSTAND: u16 = 0xC000;
}

/// The outcome of one part (one instance).
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub sop_class: String,
    pub sop_uid: String,
    pub study_uid: String,
    pub series_uid: String,
    /// The FailureReason and why, or `None` when the instance is stored.
    pub failure: Option<(u16, String)>,
    /// The study's id when this instance opened it.
    pub new_study: Option<i64>,
}

pub async fn store(
    state: State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run(state, caller, headers, None, body).await
}

pub async fn store_in_study(
    state: State<AppState>,
    caller: Caller,
    Path(study): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match uid(&study, "StudyInstanceUID") {
        Ok(study) => run(state, caller, headers, Some(study), body).await,
        Err(e) => e.into_response(),
    }
}

async fn run(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    study: Option<String>,
    body: Body,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let ct = match multipart::content_type(content_type) {
        Ok(ct) => ct,
        Err(e) => {
            return ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("{e}; send multipart/related; type=\"application/dicom\""),
                "请以 multipart/related; type=\"application/dicom\" 上传",
            )
            .into_response();
        }
    };
    if !ct.part_type.is_empty() && ct.part_type != "application/dicom" {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "parts of type {:?} are not accepted; yiwei stores application/dicom (Part 10) instances",
                ct.part_type
            ),
            "只接受 application/dicom 格式的实例",
        )
        .into_response();
    }
    let config = &state.config.imaging;
    let mut parser = multipart::Parser::new(&ct.boundary);
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut events = Vec::new();
    let mut current: Option<Part> = None;
    let mut stream = body.into_data_stream();
    let mut broken: Option<String> = None;
    while let Some(chunk) = stream.next().await {
        let chunk: Bytes = match chunk {
            Ok(c) => c,
            Err(e) => {
                broken = Some(format!("the request body could not be read: {e}"));
                break;
            }
        };
        events.clear();
        if let Err(e) = parser.feed(&chunk, &mut events) {
            broken = Some(e.to_string());
            break;
        }
        for event in events.drain(..) {
            match event {
                Event::Headers(h) => {
                    let part_type = h
                        .iter()
                        .find(|(k, _)| k == "content-type")
                        .map(|(_, v)| v.to_ascii_lowercase())
                        .unwrap_or_default();
                    current = Some(Part {
                        bytes: Vec::new(),
                        too_large: false,
                        wrong_type: !part_type.is_empty()
                            && !part_type.starts_with("application/dicom"),
                    });
                }
                Event::Body(b) => {
                    if let Some(p) = current.as_mut() {
                        if p.bytes.len() + b.len() > config.max_instance_bytes {
                            p.too_large = true;
                            p.bytes = Vec::new();
                        } else if !p.too_large {
                            p.bytes.extend_from_slice(&b);
                        }
                    }
                }
                Event::PartEnd => {
                    if let Some(p) = current.take() {
                        outcomes.push(store_part(&state, &caller, study.as_deref(), p).await);
                    }
                }
                Event::End => {}
            }
        }
    }
    if broken.is_none()
        && let Err(MultipartError::Truncated) = parser.finish()
    {
        broken = Some(MultipartError::Truncated.to_string());
    }
    if let Some(message) = &broken {
        if outcomes.is_empty() && current.is_none() {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_multipart",
                message.clone(),
                "请求体不是完整的 multipart/related 消息",
            )
            .into_response();
        }
        // The part being read when the body broke off fails alone.
        if current.is_some() {
            outcomes.push(Outcome {
                sop_class: String::new(),
                sop_uid: String::new(),
                study_uid: String::new(),
                series_uid: String::new(),
                failure: Some((
                    reason::CANNOT_UNDERSTAND,
                    format!("truncated part: {message}"),
                )),
                new_study: None,
            });
        }
    }
    respond(study.as_deref(), &outcomes)
}

/// A part being read.
struct Part {
    bytes: Vec<u8>,
    too_large: bool,
    wrong_type: bool,
}

async fn store_part(state: &AppState, caller: &Caller, study: Option<&str>, part: Part) -> Outcome {
    let mut outcome = Outcome::default();
    if part.too_large {
        outcome.failure = Some((
            reason::OUT_OF_RESOURCES,
            format!(
                "the instance is larger than the {} MiB limit",
                state.config.imaging.max_instance_bytes / (1024 * 1024)
            ),
        ));
        return outcome;
    }
    if part.wrong_type {
        outcome.failure = Some((
            reason::CANNOT_UNDERSTAND,
            "the part is not application/dicom".into(),
        ));
        return outcome;
    }
    let outcome = ingest(
        &state.store,
        state.config.imaging.blobs.as_ref(),
        &caller.viewer(),
        part.bytes,
        study,
    )
    .await;
    if let Some(study_id) = outcome.new_study
        && state.config.imaging.ai_draft
    {
        queue_ai_draft(&state.store, study_id).await;
    }
    outcome
}

/// The AI reading hook: queue a draft report of a new study for the radiologist, made by
/// the job runner a minute later (`yiwei`'s `jobs.rs`). Failing to queue it loses no
/// image, so a failure is only logged.
async fn queue_ai_draft(store: &yiwei_store::Store, study_id: i64) {
    let at = yiwei_store::now() + chrono::Duration::seconds(super::AI_DRAFT_DELAY_SECONDS);
    let payload = json!({ "study_id": study_id }).to_string();
    if let Err(e) = yiwei_store::job::enqueue(
        store,
        super::AI_DRAFT_JOB,
        &study_id.to_string(),
        at,
        &payload,
    )
    .await
    {
        tracing::warn!(error = %e, "queueing the AI draft of a new study failed");
    }
}

/// Run an `ai_draft` job (payload `{"study_id": …}`): the shipped reading model's findings
/// attached to the study as a draft report, unless it has a report by now. Returns the
/// draft's id, or `None` when no draft was made; `Err` with why the job failed.
pub async fn run_ai_draft_job(
    store: &yiwei_store::Store,
    blobs: &dyn yiwei_dicom::blob::BlobStore,
    payload: &str,
) -> Result<Option<i64>, String> {
    let study_id = serde_json::from_str::<Value>(payload)
        .ok()
        .and_then(|v| v.get("study_id").and_then(Value::as_i64))
        .ok_or_else(|| format!("ai_draft payload {payload:?} has no study_id"))?;
    let study = gate::study_for_job(store, study_id)
        .await
        .map_err(|e| format!("study {study_id}: {e}"))?;
    crate::pages::imaging_report::ai_draft(store, blobs, &study)
        .await
        .map_err(|e| format!("AI draft of study {study_id}: {e:?}"))
}

/// Store one Part 10 instance the way STOW-RS does: parse, encode its metadata, write the
/// file to the blob store, index it through the access gate. The demo county and the
/// benchmarks use this too, so their studies take the real path.
pub async fn ingest(
    store: &yiwei_store::Store,
    blobs: &dyn yiwei_dicom::blob::BlobStore,
    viewer: &yiwei_store::access::Viewer<'_>,
    bytes: Vec<u8>,
    study: Option<&str>,
) -> Outcome {
    let mut outcome = Outcome::default();
    // Parsing a large instance is CPU work: keep it off the request threads' turn.
    let parsed = tokio::task::spawn_blocking(move || {
        let (obj, parsed) = yiwei_dicom::parse::parse(&bytes)?;
        let bulk = url(
            &parsed.study_uid,
            Some(&parsed.series_uid),
            Some(&parsed.sop_uid),
        );
        let metadata =
            serde_json::Value::Object(yiwei_dicom::json::encode(&obj, &bulk)).to_string();
        Ok::<_, yiwei_dicom::parse::ParseError>((parsed, metadata, bytes))
    })
    .await;
    let (parsed, metadata, bytes) = match parsed {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            outcome.failure = Some((reason::CANNOT_UNDERSTAND, e.to_string()));
            return outcome;
        }
        Err(e) => {
            outcome.failure = Some((reason::PROCESSING_FAILURE, e.to_string()));
            return outcome;
        }
    };
    outcome.sop_class = parsed.sop_class_uid.clone();
    outcome.sop_uid = parsed.sop_uid.clone();
    outcome.study_uid = parsed.study_uid.clone();
    outcome.series_uid = parsed.series_uid.clone();
    for (value, what) in [
        (&parsed.study_uid, "StudyInstanceUID"),
        (&parsed.series_uid, "SeriesInstanceUID"),
        (&parsed.sop_uid, "SOPInstanceUID"),
    ] {
        if !yiwei_dicom::parse::is_uid(value) {
            outcome.failure = Some((
                reason::CANNOT_UNDERSTAND,
                format!("{what} is not a valid UID"),
            ));
            return outcome;
        }
    }
    if let Some(study) = study
        && study != parsed.study_uid
    {
        outcome.failure = Some((
            reason::DOES_NOT_MATCH,
            format!(
                "the instance belongs to study {}, not to the study of the request",
                parsed.study_uid
            ),
        ));
        return outcome;
    }
    let key = yiwei_dicom::blob::instance_key(
        &parsed.study_uid,
        &parsed.series_uid,
        &parsed.sop_uid,
        &parsed.sha256,
    );
    let new = NewInstance {
        study_uid: parsed.study_uid,
        series_uid: parsed.series_uid,
        sop_uid: parsed.sop_uid,
        sop_class_uid: parsed.sop_class_uid,
        patient_id: parsed.patient_id,
        other_patient_ids: parsed.other_patient_ids,
        patient_name: parsed.patient_name,
        patient_birth_date: parsed.patient_birth_date,
        patient_sex: parsed.patient_sex,
        study_date: parsed.study_date,
        study_time: parsed.study_time,
        accession_number: parsed.accession_number,
        study_id: parsed.study_id,
        study_description: parsed.study_description,
        referring_physician: parsed.referring_physician,
        institution_name: parsed.institution_name,
        modality: parsed.modality,
        body_part: parsed.body_part,
        series_number: parsed.series_number,
        series_description: parsed.series_description,
        instance_number: parsed.instance_number,
        transfer_syntax: parsed.transfer_syntax,
        rows: parsed.rows,
        columns: parsed.columns,
        frames: parsed.frames,
        size_bytes: parsed.size_bytes,
        sha256: parsed.sha256,
        blob_key: key.clone(),
        metadata,
    };
    // The file is written before it is indexed, so an indexed instance always has its
    // file. Keys carry the content's hash: a re-send rewrites the same bytes, and other
    // content under a stored SOP Instance UID gets its own key (removed again when the
    // index refuses it as a duplicate). A refused upload can leave its own file behind,
    // which no index row points to.
    if let Err(e) = blobs.put(&key, Bytes::from(bytes)).await {
        tracing::error!(error = %e, "blob store write failed");
        outcome.failure = Some((
            reason::PROCESSING_FAILURE,
            "the image store is unavailable".into(),
        ));
        return outcome;
    }
    match gate::store_instance(store, viewer, &new).await {
        Ok(Stored::New {
            study_id,
            new_study: true,
            ..
        }) => outcome.new_study = Some(study_id),
        Ok(Stored::New { .. } | Stored::AlreadyStored { .. }) => {}
        Err(AccessError::Refused(r)) => {
            outcome.failure = Some((
                reason::NOT_AUTHORIZED,
                format!("{r}: the study belongs to a resident outside your reach"),
            ));
        }
        Err(AccessError::Store(StoreError::Conflict { constraint })) => {
            if let Err(e) = blobs.delete(&key).await {
                tracing::warn!(error = %e, "removing a refused duplicate's file failed");
            }
            outcome.failure = Some((
                reason::DUPLICATE,
                match constraint.as_str() {
                    "imaging_series.study" => {
                        "the series already belongs to another study".to_owned()
                    }
                    _ => "an instance with this SOPInstanceUID but other content is stored"
                        .to_owned(),
                },
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "indexing an instance failed");
            outcome.failure = Some((
                reason::PROCESSING_FAILURE,
                "the instance could not be indexed".into(),
            ));
        }
    }
    outcome
}

/// The PS3.18 response: the study's RetrieveURL, ReferencedSOPSequence and
/// FailedSOPSequence, with the status of the module docs.
fn respond(study: Option<&str>, outcomes: &[Outcome]) -> Response {
    let attr = |vr: &str, value: Value| json!({"vr": vr, "Value": [value]});
    let mut stored = Vec::new();
    let mut failed = Vec::new();
    for o in outcomes {
        match &o.failure {
            None => stored.push(json!({
                "00081150": attr("UI", json!(o.sop_class)),
                "00081155": attr("UI", json!(o.sop_uid)),
                "00081190": attr("UR", json!(url(&o.study_uid, Some(&o.series_uid), Some(&o.sop_uid)))),
            })),
            Some((code, message)) => {
                let mut item = serde_json::Map::new();
                if !o.sop_uid.is_empty() {
                    item.insert("00081150".into(), attr("UI", json!(o.sop_class)));
                    item.insert("00081155".into(), attr("UI", json!(o.sop_uid)));
                }
                item.insert("00081197".into(), attr("US", json!(code)));
                // ErrorComment (0000,0902): why, for the person reading the log.
                item.insert("00000902".into(), attr("LO", json!(message)));
                failed.push(Value::Object(item));
            }
        }
    }
    let mut body = serde_json::Map::new();
    let study_uid = study.map(str::to_owned).or_else(|| {
        let mut uids = outcomes
            .iter()
            .filter(|o| o.failure.is_none())
            .map(|o| o.study_uid.as_str());
        let first = uids.next()?;
        uids.all(|u| u == first).then(|| first.to_owned())
    });
    if let Some(s) = study_uid {
        body.insert("00081190".into(), attr("UR", json!(url(&s, None, None))));
    }
    if !failed.is_empty() {
        body.insert("00081198".into(), json!({"vr": "SQ", "Value": failed}));
    }
    if !stored.is_empty() {
        body.insert("00081199".into(), json!({"vr": "SQ", "Value": stored}));
    }
    let all_refused = outcomes
        .iter()
        .all(|o| matches!(o.failure, Some((reason::NOT_AUTHORIZED, _))));
    let status = if outcomes.is_empty() {
        StatusCode::BAD_REQUEST
    } else if stored.is_empty() && all_refused {
        StatusCode::FORBIDDEN
    } else if stored.is_empty() {
        StatusCode::CONFLICT
    } else if failed.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    (
        status,
        [(header::CONTENT_TYPE, DICOM_JSON)],
        Value::Object(body).to_string(),
    )
        .into_response()
}
