//! 影像诊断报告 pages: the report of one study (`/imaging/studies/{id}/report`), edited by
//! radiologists (draft → sign → amend), read-only once signed, and shown with its earlier
//! versions. An AI draft (`preliminary`) is marked as such and never presented as a
//! result; the radiologist edits it and signs, or overwrites it.
//!
//! The state rules are `yiwei_domain::report`; reads and writes go through
//! `yiwei_store::access::recognition` (audited as reads of the study).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yiwei_domain::access::Role;
use yiwei_domain::report::{Content, Status, Step};
use yiwei_store::access::recognition as gate;
use yiwei_store::imaging::Study;
use yiwei_store::imaging_report::Report;

use super::{local_time, render, say, viewer};
use crate::AppState;
use crate::auth::{Ctx, Staff};
use crate::error::PageError;
use crate::i18n::Lang;
use crate::shell::Shell;

pub struct VersionRow {
    pub version: i64,
    pub status: String,
    pub signed: bool,
    pub ai: bool,
    pub ai_model: String,
    pub findings: String,
    pub impression: String,
    pub amend_reason: String,
    pub when: String,
}

pub struct StudyFacts {
    pub date: String,
    pub modality: String,
    pub body_part: String,
    pub description: String,
    pub institution: String,
    pub accession: String,
}

pub struct ReportLabels {
    pub findings: String,
    pub impression: String,
    pub amend_reason: String,
    pub save: String,
    pub sign: String,
    pub amend: String,
    pub ai_banner: String,
    pub history: String,
    pub none: String,
    pub date: String,
    pub modality: String,
    pub institution: String,
    pub accession: String,
    pub read_only: String,
}

#[derive(Template)]
#[template(path = "imaging_report.html")]
struct ReportPage {
    shell: Shell,
    study_id: i64,
    facts: StudyFacts,
    current: Option<VersionRow>,
    history: Vec<VersionRow>,
    /// The radiologist may edit (no report, a draft or an AI draft).
    can_edit: bool,
    /// The radiologist may amend (a signed report).
    can_amend: bool,
    form: ReportForm,
    error: Option<String>,
    labels: ReportLabels,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ReportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    pub findings: String,
    #[serde(default)]
    pub impression: String,
    #[serde(default)]
    pub amend_reason: String,
}

fn status_label(s: Status, lang: Lang) -> String {
    if lang == Lang::En {
        s.label_en().to_owned()
    } else {
        s.label_zh().to_owned()
    }
}

pub fn version_row(r: &Report, lang: Lang, offset_hours: i32) -> VersionRow {
    VersionRow {
        version: r.version,
        status: status_label(r.status, lang),
        signed: r.status.is_signed(),
        ai: r.status == Status::Preliminary,
        ai_model: r.ai_model.clone().unwrap_or_default(),
        findings: r.findings.clone(),
        impression: r.impression.clone(),
        amend_reason: r.amend_reason.clone(),
        when: local_time(r.signed_at.unwrap_or(r.updated_at), offset_hours),
    }
}

pub async fn study_facts(state: &AppState, study: &Study) -> StudyFacts {
    let institution = yiwei_store::org::get(&state.store, study.institution_id)
        .await
        .map(|i| i.name)
        .unwrap_or_else(|_| study.institution_name.clone());
    StudyFacts {
        date: study.study_date.map(|d| d.to_string()).unwrap_or_default(),
        modality: study.modalities.join(", "),
        body_part: study.body_parts.join(", "),
        description: study.description.clone(),
        institution,
        accession: study.accession_number.clone(),
    }
}

fn labels(shell: &Shell) -> ReportLabels {
    let s = |zh: &str, en: &str| say(shell.tr, zh, en);
    ReportLabels {
        findings: s("检查所见", "Findings"),
        impression: s("诊断意见", "Impression"),
        amend_reason: s("修正原因", "Reason for the amendment"),
        save: s("保存草稿", "Save draft"),
        sign: s("签发报告", "Sign the report"),
        amend: s("修正并重新签发", "Amend and sign again"),
        ai_banner: s(
            "AI 初稿：由阅片模型生成，未经医师审核，不是诊断结论。",
            "AI draft: written by a reading model, not reviewed by a radiologist, not a diagnosis.",
        ),
        history: s("历史版本", "Earlier versions"),
        none: s("尚无报告。", "No report yet."),
        date: s("检查日期", "Study date"),
        modality: s("检查类型/部位", "Modality / body part"),
        institution: s("检查机构", "Performed at"),
        accession: s("检查号", "Accession number"),
        read_only: s(
            "报告已签发，只读；如需更改请修正。",
            "The report is signed and read-only; amend it to change it.",
        ),
    }
}

async fn report_page(
    state: &AppState,
    ctx: &Ctx,
    user: &yiwei_store::user::User,
    study_id: i64,
    form: Option<ReportForm>,
    error: Option<String>,
) -> Result<ReportPage, PageError> {
    let v = viewer(ctx, user);
    let (study, versions) = gate::report_of(&state.store, &v, study_id).await?;
    let shell = Shell::new(ctx, state, "nav.home");
    let lang = shell.tr.lang;
    let offset = state.config.utc_offset_hours;
    let title = say(shell.tr, "影像诊断报告", "Radiology report");
    let labels = labels(&shell);
    let current = versions.first();
    let radiologist = user.role == Role::Radiologist;
    let can_edit = radiologist && current.is_none_or(|r| !r.status.is_signed());
    let can_amend = radiologist && current.is_some_and(|r| r.status.is_signed());
    let form = form.unwrap_or_else(|| ReportForm {
        findings: current.map(|r| r.findings.clone()).unwrap_or_default(),
        impression: current.map(|r| r.impression.clone()).unwrap_or_default(),
        ..ReportForm::default()
    });
    Ok(ReportPage {
        shell: shell.with_title(title),
        study_id,
        facts: study_facts(state, &study).await,
        current: current.map(|r| version_row(r, lang, offset)),
        history: versions
            .iter()
            .skip(1)
            .map(|r| version_row(r, lang, offset))
            .collect(),
        can_edit,
        can_amend,
        form,
        error,
        labels,
    })
}

/// `GET /imaging/studies/{id}/report`.
pub async fn show(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(study_id): Path<i64>,
) -> Result<Response, PageError> {
    let page = report_page(&state, &ctx, &user, study_id, None, None).await?;
    Ok(render(&page)?.into_response())
}

/// `POST /imaging/studies/{id}/report` with `action=save|sign|amend`.
pub async fn submit(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(study_id): Path<i64>,
    Form(form): Form<ReportForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let step = match form.action.as_str() {
        "save" => Step::SaveDraft,
        "sign" => Step::Sign,
        "amend" => Step::Amend,
        _ => {
            return Err(PageError::BadRequest(
                "未知操作 / unknown action: save, sign or amend".into(),
            ));
        }
    };
    let content = Content {
        findings: form.findings.clone(),
        impression: form.impression.clone(),
        amend_reason: form.amend_reason.clone(),
    };
    let v = viewer(&ctx, &user);
    match gate::write_report(&state.store, &v, study_id, step, &content).await {
        Ok(_) => Ok(Redirect::to(&format!("/imaging/studies/{study_id}/report")).into_response()),
        Err(yiwei_store::access::AccessError::Store(yiwei_store::StoreError::Invalid(m))) => {
            let page = report_page(&state, &ctx, &user, study_id, Some(form), Some(m)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Run the shipped reading model (`yiwei_domain::reading::ImageStatistics`) on a study's
/// representative image (the middle instance of its first series that decodes) and
/// attach the findings as the study's AI draft. `Ok(None)` when the study already has a
/// report or no readable image. Used by the radiologist's button and the demo.
pub async fn ai_draft(
    store: &yiwei_store::Store,
    blobs: &dyn yiwei_dicom::blob::BlobStore,
    study: &Study,
) -> Result<Option<i64>, PageError> {
    use yiwei_domain::reading::{Image, ImageStatistics, ReadingModel};
    let (series, instances) = gate::shared_images(store, study).await?;
    for se in &series {
        let of_series: Vec<_> = instances.iter().filter(|i| i.series_id == se.id).collect();
        let Some(instance) = of_series.get(of_series.len() / 2) else {
            continue;
        };
        let bytes = yiwei_dicom::blob::get_bytes(blobs, &instance.blob_key)
            .await
            .map_err(|e| PageError::Internal(format!("blob: {e}")))?;
        let modality = se.modality.clone();
        let body_part = se.body_part.clone();
        let read = tokio::task::spawn_blocking(move || {
            let obj = yiwei_dicom::parse::open(&bytes).ok()?;
            let frame = yiwei_dicom::reading::grey_frame(&obj, 1).ok()?;
            let image = Image {
                rows: frame.rows,
                columns: frame.columns,
                pixels: &frame.pixels,
                modality: &modality,
                body_part: &body_part,
                inverted: frame.inverted,
            };
            Some(ImageStatistics.read(&image))
        })
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
        let Some(findings) = read else { continue };
        let model = ImageStatistics.name();
        let content = Content {
            findings: findings.findings_text(model),
            impression: findings.impression_text(),
            amend_reason: String::new(),
        };
        return match gate::attach_ai_draft(store, study, model, &content).await {
            Ok(id) => Ok(Some(id)),
            Err(yiwei_store::access::AccessError::Store(yiwei_store::StoreError::Invalid(_))) => {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        };
    }
    Ok(None)
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct AiForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /imaging/studies/{id}/report/ai`: a radiologist asks for an AI draft of a study
/// that has no report yet.
pub async fn run_ai(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(study_id): Path<i64>,
    Form(form): Form<AiForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    if user.role != Role::Radiologist {
        return Err(PageError::Forbidden);
    }
    let v = viewer(&ctx, &user);
    let (study, versions) = gate::report_of(&state.store, &v, study_id).await?;
    let refused = |m: &str| PageError::BadRequest(m.to_owned());
    if !versions.is_empty() {
        return Err(refused(
            "该检查已有报告，AI 初稿只用于尚无报告的检查 / the study already has a report: an AI draft is only made for a study without one",
        ));
    }
    match ai_draft(&state.store, state.config.imaging.blobs.as_ref(), &study).await? {
        Some(_) => Ok(Redirect::to(&format!("/imaging/studies/{study_id}/report")).into_response()),
        None => Err(refused(
            "没有可供阅片模型读取的灰度图像 / no grey image the reading model can read",
        )),
    }
}
