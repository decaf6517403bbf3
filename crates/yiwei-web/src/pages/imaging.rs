//! The staff pages of the imaging cloud (影像云): the study list with search, a study page
//! with its series and thumbnails (drawn by the DICOMweb rendered endpoint), and the queue
//! of studies no resident was found for, where a person links them.
//!
//! Everything goes through `access::imaging`: the list shows only what the viewer may
//! reach, and each study opened is audited. The images are loaded by the browser from
//! `/dicom-web/…/thumbnail` with the session cookie.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yiwei_store::access::imaging as gate;
use yiwei_store::imaging::{InstanceFilter, MatchState, Study, StudyQuery};

use super::{render, say, viewer};
use crate::AppState;
use crate::auth::Staff;
use crate::error::PageError;
use crate::shell::{PAGE_SIZE, Pager, Shell, offset};

/// A row of the list.
#[derive(Clone, Debug)]
pub struct Row {
    pub id: i64,
    pub date: String,
    pub name: String,
    pub sex_birth: String,
    pub modalities: String,
    pub description: String,
    pub institution: String,
    pub instances: i64,
    pub state: String,
    pub linked: bool,
}

fn state_label(tr: crate::i18n::Tr, m: MatchState) -> String {
    match m {
        MatchState::Linked => say(tr, "已关联", "linked"),
        MatchState::Manual => say(tr, "人工关联", "linked by hand"),
        MatchState::Review => say(tr, "待核对", "to review"),
        MatchState::Unmatched => say(tr, "未匹配", "unmatched"),
    }
}

fn display_name(pn: &str) -> String {
    yiwei_domain::imaging::matching_name(pn)
}

fn row(tr: crate::i18n::Tr, s: &Study) -> Row {
    Row {
        id: s.id,
        date: s
            .study_date
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        name: display_name(&s.patient_name),
        sex_birth: format!(
            "{} {}",
            s.patient_sex,
            s.patient_birth_date
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        ),
        modalities: s.modalities.join(", "),
        description: s.description.clone(),
        institution: s.institution_name.clone(),
        instances: s.n_instances,
        state: state_label(tr, s.match_state),
        linked: s.resident_id.is_some(),
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    name: String,
    #[serde(default)]
    pid: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    modality: String,
    page: Option<i64>,
}

#[derive(Template)]
#[template(path = "imaging_list.html")]
struct ListPage {
    shell: Shell,
    q: ListQuery,
    rows: Vec<Row>,
    pager: Pager,
    modalities: Vec<&'static str>,
}

fn date(s: &str, what: &str) -> Result<Option<chrono::NaiveDate>, PageError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(|_| {
            PageError::BadRequest(format!("{what}须为 YYYY-MM-DD / {what} must be YYYY-MM-DD"))
        })
}

/// `GET /imaging`: the studies in the viewer's reach, newest first, with search.
pub async fn list(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let (page, off) = offset(q.page);
    let query = StudyQuery {
        patient_name: Some(q.name.trim().to_owned())
            .filter(|n| !n.is_empty())
            .map(|n| {
                if n.contains(['*', '?']) {
                    n
                } else {
                    format!("{n}*")
                }
            }),
        patient_id: Some(q.pid.trim().to_owned()).filter(|p| !p.is_empty()),
        study_date_from: date(&q.from, "开始日期")?,
        study_date_to: date(&q.to, "结束日期")?,
        modality: Some(q.modality.trim().to_owned()).filter(|m| !m.is_empty()),
        limit: PAGE_SIZE,
        offset: off,
        ..StudyQuery::default()
    };
    let (found, more) = gate::search_studies(&state.store, &viewer(&ctx, &user), &query).await?;
    let base = format!(
        "/imaging?name={}&pid={}&from={}&to={}&modality={}&",
        super::org::urlencode(&q.name),
        super::org::urlencode(&q.pid),
        super::org::urlencode(&q.from),
        super::org::urlencode(&q.to),
        super::org::urlencode(&q.modality)
    );
    // The search says only whether more follow: the pager needs no exact total.
    let seen = off + found.len() as i64 + i64::from(more);
    let page_view = ListPage {
        rows: found.iter().map(|s| row(ctx.tr, s)).collect(),
        pager: Pager::new(&base, page, seen),
        shell: Shell::new(&ctx, &state, "imaging.title"),
        q,
        modalities: vec!["CT", "MR", "CR", "DX", "US", "MG", "XA", "NM", "PT", "ES"],
    };
    Ok(render(&page_view)?.into_response())
}

/// A series on the study page.
#[derive(Clone, Debug)]
pub struct SeriesRow {
    pub number: String,
    pub modality: String,
    pub body_part: String,
    pub description: String,
    pub instances: i64,
    /// The thumbnail of its first instance.
    pub thumbnail: Option<String>,
    pub rendered: Option<String>,
}

#[derive(Template)]
#[template(path = "imaging_study.html")]
struct StudyPage {
    shell: Shell,
    study: Row,
    uid: String,
    accession: String,
    patient_id: String,
    resident_id: Option<i64>,
    referring: String,
    series: Vec<SeriesRow>,
}

/// `GET /imaging/studies/{id}`: one study (checked and audited).
pub async fn show(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let v = viewer(&ctx, &user);
    let study = gate::open_study_by_id(&state.store, &v, id).await?;
    let (_, series) = gate::series_of(&state.store, &v, &study.study_uid).await?;
    let (_, instances) = gate::instances_of(
        &state.store,
        &v,
        &study.study_uid,
        &InstanceFilter::default(),
    )
    .await?;
    let rows = series
        .iter()
        .map(|se| {
            let first = instances.iter().find(|i| i.series_id == se.id);
            let base = first.map(|i| {
                crate::dicomweb::url(&study.study_uid, Some(&se.series_uid), Some(&i.sop_uid))
            });
            SeriesRow {
                number: se.series_number.map(|n| n.to_string()).unwrap_or_default(),
                modality: se.modality.clone(),
                body_part: se.body_part.clone(),
                description: se.description.clone(),
                instances: se.n_instances,
                thumbnail: base
                    .as_ref()
                    .map(|b| format!("{b}/thumbnail?accept=image/png")),
                rendered: base.map(|b| format!("{b}/rendered?accept=image/png")),
            }
        })
        .collect();
    let page = StudyPage {
        study: row(ctx.tr, &study),
        uid: study.study_uid.clone(),
        accession: study.accession_number.clone(),
        patient_id: study.patient_id.clone(),
        resident_id: study.resident_id,
        referring: display_name(&study.referring_physician),
        series: rows,
        shell: Shell::new(&ctx, &state, "imaging.study"),
    };
    Ok(render(&page)?.into_response())
}

/// A study waiting in the queue, with its candidates.
#[derive(Clone, Debug)]
pub struct QueueRow {
    pub row: Row,
    pub candidates: Vec<(i64, String)>,
}

#[derive(Template)]
#[template(path = "imaging_queue.html")]
struct QueuePage {
    shell: Shell,
    rows: Vec<QueueRow>,
    pager: Pager,
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

/// `GET /imaging/queue`: studies no resident was linked to (grey band, then unmatched).
pub async fn queue(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let (page, off) = offset(q.page);
    let found = gate::match_queue(&state.store, &viewer(&ctx, &user), PAGE_SIZE + 1, off).await?;
    let seen = off + found.len() as i64;
    let rows = found
        .iter()
        .take(PAGE_SIZE as usize)
        .map(|s| QueueRow {
            row: row(ctx.tr, s),
            candidates: s
                .candidates
                .iter()
                .map(|c| (c.resident_id, format!("{:.1}", c.score)))
                .collect(),
        })
        .collect();
    let page_view = QueuePage {
        shell: Shell::new(&ctx, &state, "imaging.queue"),
        rows,
        pager: Pager::new("/imaging/queue?", page, seen),
    };
    Ok(render(&page_view)?.into_response())
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    resident: String,
}

/// `POST /imaging/studies/{id}/link`: link a waiting study to a resident.
pub async fn link(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<LinkForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let resident: i64 = form.resident.trim().parse().map_err(|_| {
        PageError::BadRequest("请填写居民编号（数字）/ enter the resident's number".into())
    })?;
    gate::link_study(&state.store, &viewer(&ctx, &user), id, resident).await?;
    Ok(Redirect::to(&format!("/imaging/studies/{id}")).into_response())
}
