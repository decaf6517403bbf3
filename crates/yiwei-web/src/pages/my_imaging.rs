//! 我的影像 (patients' phone access): a resident's own studies and signed reports
//! (`/me/imaging`), a mobile viewer for a study (`/me/imaging/{id}`: scroll through a
//! series, window presets, pinch/zoom, over the WADO-RS rendered URLs), time-limited share
//! links with a PIN and a QR code, and the page an outside doctor opens from such a link
//! (`/s/{token}`: the PIN, then a read-only view).
//!
//! The share link's token and PIN are shown once, when made, and never stored (see
//! `yiwei_store::share_link`). The QR code is an SVG drawn on the server by the `qrcode`
//! crate (pure Rust, no dependencies with its `svg` feature only). Wrong PINs lock the link
//! after `yiwei_domain::share_link::MAX_FAILURES`; an expired or revoked link says so with
//! 410 Gone, a locked one with 423 Locked, a wrong PIN with 403, an unknown one with 404.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yiwei_domain::access::Role;
use yiwei_domain::share_link::{DEFAULT_HOURS, MAX_HOURS, ShareError};
use yiwei_store::access::imaging as imaging_gate;
use yiwei_store::access::recognition::{self as gate, ShareOpenError};
use yiwei_store::imaging::{Study, StudyQuery};
use yiwei_store::share_link::ShareLink;

use super::imaging_report::{StudyFacts, VersionRow, study_facts, version_row};
use super::{local_time, render, say, viewer};
use crate::AppState;
use crate::auth::{Ctx, PRE_COOKIE, Staff, set_cookie};
use crate::error::PageError;
use crate::shell::Shell;

/// Window presets (center, width) in Hounsfield units for CT (PS3.18 `window=`).
pub const PRESETS: [(&str, &str, i32, i32); 4] = [
    ("lung", "肺窗", -600, 1500),
    ("bone", "骨窗", 400, 1800),
    ("soft", "软组织窗", 40, 400),
    ("brain", "脑窗", 40, 80),
];

fn own(user: &yiwei_store::user::User) -> Result<i64, PageError> {
    match (user.role, user.resident_id) {
        (Role::Resident, Some(r)) => Ok(r),
        _ => Err(PageError::Forbidden),
    }
}

pub struct StudyRow {
    pub id: i64,
    pub facts: StudyFacts,
    pub impression: Option<String>,
}

pub struct LinkRow {
    pub id: i64,
    pub state: String,
    pub live: bool,
    pub expires: String,
    pub opens: i64,
}

pub struct MeLabels {
    pub none: String,
    pub view: String,
    pub share: String,
    pub hours: String,
    pub download: String,
    pub no_report: String,
    pub links: String,
    pub revoke: String,
    pub opens: String,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "my_imaging.html")]
struct MePage {
    shell: Shell,
    studies: Vec<StudyRow>,
    links: Vec<LinkRow>,
    default_hours: i64,
    max_hours: i64,
    labels: MeLabels,
}

fn link_row(l: &ShareLink, shell: &Shell, offset: i32) -> LinkRow {
    let now = yiwei_store::now();
    let s = |zh: &str, en: &str| say(shell.tr, zh, en);
    let (state, live) = match yiwei_domain::share_link::check_usable(&l.state(), now) {
        Ok(()) => (s("有效", "active"), true),
        Err(ShareError::Revoked) => (s("已撤销", "revoked"), false),
        Err(ShareError::Expired) => (s("已过期", "expired"), false),
        Err(_) => (s("已锁定", "locked"), false),
    };
    LinkRow {
        id: l.id,
        state,
        live,
        expires: local_time(l.expires_at, offset),
        opens: l.n_opens,
    }
}

/// `GET /me/imaging`: the resident's studies, newest first, with signed reports and links.
pub async fn list(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
) -> Result<Response, PageError> {
    own(&user)?;
    let v = viewer(&ctx, &user);
    let query = StudyQuery {
        limit: 100,
        ..StudyQuery::default()
    };
    let (found, _) = imaging_gate::search_studies(&state.store, &v, &query).await?;
    let mut studies = Vec::new();
    for study in found {
        let report = gate::shared_report(&state.store, study.id).await?;
        studies.push(StudyRow {
            id: study.id,
            facts: study_facts(&state, &study).await,
            impression: report.map(|r| r.impression),
        });
    }
    let links = gate::my_share_links(&state.store, &v).await?;
    let shell = Shell::new(&ctx, &state, "nav.home");
    let s = |zh: &str, en: &str| say(shell.tr, zh, en);
    let labels = MeLabels {
        none: s("您还没有影像检查。", "You have no imaging studies yet."),
        view: s("看片", "View images"),
        share: s("生成分享链接", "Make a share link"),
        hours: s("有效小时数", "Valid for (hours)"),
        download: s("下载 DICOM", "Download DICOM"),
        no_report: s("报告尚未签发", "Report not signed yet"),
        links: s("我的分享链接", "My share links"),
        revoke: s("撤销", "Revoke"),
        opens: s("打开次数", "Opened"),
        expires: s("到期", "Expires"),
    };
    let offset = state.config.utc_offset_hours;
    let title = s("我的影像", "My imaging");
    let page = MePage {
        links: links.iter().map(|l| link_row(l, &shell, offset)).collect(),
        shell: shell.with_title(title),
        studies,
        default_hours: DEFAULT_HOURS,
        max_hours: MAX_HOURS,
        labels,
    };
    Ok(render(&page)?.into_response())
}

pub struct Frame {
    pub url: String,
    pub label: String,
}

pub struct SeriesView {
    pub label: String,
    pub frames: Vec<Frame>,
}

pub struct ViewerLabels {
    pub report: String,
    pub no_report: String,
    pub presets: Vec<(String, String)>,
    pub default_window: String,
    pub previous: String,
    pub next: String,
    pub hint: String,
}

#[derive(Template)]
#[template(path = "imaging_viewer.html")]
struct ViewerPage {
    shell: Shell,
    facts: StudyFacts,
    report: Option<VersionRow>,
    series: Vec<SeriesView>,
    labels: ViewerLabels,
}

fn viewer_labels(shell: &Shell) -> ViewerLabels {
    let s = |zh: &str, en: &str| say(shell.tr, zh, en);
    ViewerLabels {
        report: s("诊断报告", "Report"),
        no_report: s("报告尚未签发", "Report not signed yet"),
        presets: PRESETS
            .iter()
            .map(|(code, zh, c, w)| {
                (
                    format!("{c},{w}"),
                    if shell.tr.lang == crate::i18n::Lang::En {
                        (*code).to_owned()
                    } else {
                        (*zh).to_owned()
                    },
                )
            })
            .collect(),
        default_window: s("默认窗", "Default window"),
        previous: s("上一张", "Previous"),
        next: s("下一张", "Next"),
        hint: s(
            "上下滑动或用按钮翻页；双指缩放。",
            "Swipe or use the buttons to page; pinch to zoom.",
        ),
    }
}

/// The series of a study with the URL of each instance's rendered image, built by `url`.
fn series_views(
    series: &[yiwei_store::imaging::Series],
    instances: &[yiwei_store::imaging::Instance],
    url: impl Fn(&yiwei_store::imaging::Instance) -> String,
) -> Vec<SeriesView> {
    series
        .iter()
        .map(|se| SeriesView {
            label: format!(
                "{} {} {}",
                se.modality,
                se.series_number.map(|n| n.to_string()).unwrap_or_default(),
                se.description
            ),
            frames: instances
                .iter()
                .filter(|i| i.series_id == se.id)
                .enumerate()
                .map(|(n, i)| Frame {
                    url: url(i),
                    label: format!("{}/{}", n + 1, se.n_instances.max(1)),
                })
                .collect(),
        })
        .collect()
}

/// `GET /me/imaging/{id}`: the mobile viewer of one of the resident's studies.
pub async fn view(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(study_id): Path<i64>,
) -> Result<Response, PageError> {
    own(&user)?;
    let v = viewer(&ctx, &user);
    let (study, reports) = gate::report_of(&state.store, &v, study_id).await?;
    let (_, series) = imaging_gate::series_of(&state.store, &v, &study.study_uid).await?;
    let (_, instances) = imaging_gate::instances_of(
        &state.store,
        &v,
        &study.study_uid,
        &yiwei_store::imaging::InstanceFilter {
            limit: 2000,
            ..Default::default()
        },
    )
    .await?;
    let shell = Shell::new(&ctx, &state, "nav.home");
    let offset = state.config.utc_offset_hours;
    let report = reports
        .first()
        .map(|r| version_row(r, shell.tr.lang, offset));
    let labels = viewer_labels(&shell);
    let title = say(shell.tr, "看片", "Images");
    let page = ViewerPage {
        shell: shell.with_title(title),
        facts: study_facts(&state, &study).await,
        report,
        series: series_views(&series, &instances, |i| {
            format!(
                "/dicom-web/studies/{}/series/{}/instances/{}/rendered?accept=image/png",
                i.study_uid, i.series_uid, i.sop_uid
            )
        }),
        labels,
    };
    Ok(render(&page)?.into_response())
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ShareForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    hours: String,
}

#[derive(Template)]
#[template(path = "share_made.html")]
struct MadePage {
    shell: Shell,
    url: String,
    pin: String,
    qr_svg: String,
    expires: String,
    note: String,
}

/// A QR code of `text` as an SVG element (dark modules on white).
pub fn qr_svg(text: &str) -> Result<String, PageError> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)
        .map_err(|e| PageError::Internal(format!("qr: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// `POST /me/imaging/{id}/share`: make a link; shows its URL, PIN and QR code once.
pub async fn share(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(study_id): Path<i64>,
    Form(form): Form<ShareForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    own(&user)?;
    let hours = match form.hours.trim() {
        "" => None,
        h => Some(
            h.parse::<i64>()
                .map_err(|_| PageError::BadRequest(ShareError::BadLifetime.to_string()))?,
        ),
    };
    let v = viewer(&ctx, &user);
    let link = gate::create_share_link(&state.store, &v, study_id, hours).await?;
    let url = format!(
        "{}/s/{}",
        state.config.public_url.trim_end_matches('/'),
        link.token
    );
    let links = gate::my_share_links(&state.store, &v).await?;
    let expires = links
        .iter()
        .find(|l| l.id == link.id)
        .map(|l| local_time(l.expires_at, state.config.utc_offset_hours))
        .unwrap_or_default();
    let shell = Shell::new(&ctx, &state, "nav.home");
    let note = say(
        shell.tr,
        "请把链接（或二维码）和 PIN 分别告诉医生。PIN 只显示这一次；输错 5 次链接将锁定。",
        "Give the doctor the link (or QR code) and the PIN separately. The PIN is shown only now; five wrong PINs lock the link.",
    );
    let title = say(shell.tr, "分享链接已生成", "Share link made");
    let page = MadePage {
        shell: shell.with_title(title),
        qr_svg: qr_svg(&url)?,
        url,
        pin: link.pin,
        expires,
        note,
    };
    Ok(render(&page)?.into_response())
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /me/imaging/links/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(link_id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    own(&user)?;
    let v = viewer(&ctx, &user);
    gate::revoke_share_link(&state.store, &v, link_id).await?;
    Ok(Redirect::to("/me/imaging").into_response())
}

#[derive(Template)]
#[template(path = "share_open.html")]
struct PinPage {
    shell: Shell,
    token: String,
    error: Option<String>,
    pin_label: String,
    open: String,
    intro: String,
}

#[derive(Template)]
#[template(path = "share_view.html")]
struct SharedPage {
    shell: Shell,
    facts: StudyFacts,
    report: Option<VersionRow>,
    series: Vec<SeriesView>,
    labels: ViewerLabels,
    notice: String,
}

/// The anonymous page's shell and a fresh pre-session cookie when the visitor has none
/// (the PIN form's CSRF token is signed over it).
fn anonymous_shell(ctx: &mut Ctx, state: &AppState, title: String) -> (Shell, Option<String>) {
    let new_pre = if ctx.pre.is_none() {
        let pre = yiwei_store::crypto::random_token();
        ctx.pre = Some(pre.clone());
        Some(pre)
    } else {
        None
    };
    let shell = Shell::new(ctx, state, "nav.home").with_title(title);
    let cookie =
        new_pre.map(|pre| set_cookie(PRE_COOKIE, &pre, None, true, state.config.secure_cookies));
    (shell, cookie)
}

fn share_status(e: &ShareOpenError) -> StatusCode {
    match e {
        ShareOpenError::Unknown => StatusCode::NOT_FOUND,
        ShareOpenError::Rule(ShareError::Expired | ShareError::Revoked) => StatusCode::GONE,
        ShareOpenError::Rule(ShareError::Locked) => StatusCode::LOCKED,
        ShareOpenError::Rule(ShareError::WrongPin { .. } | ShareError::BadPin) => {
            StatusCode::FORBIDDEN
        }
        ShareOpenError::Rule(ShareError::BadLifetime) => StatusCode::BAD_REQUEST,
        ShareOpenError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn pin_page(
    state: &AppState,
    mut ctx: Ctx,
    token: String,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, PageError> {
    let title = say(ctx.tr, "查看分享的影像", "Open shared images");
    let (shell, cookie) = anonymous_shell(&mut ctx, state, title);
    let page = PinPage {
        pin_label: say(shell.tr, "PIN（6 位数字）", "PIN (6 digits)"),
        open: say(shell.tr, "查看", "Open"),
        intro: say(
            shell.tr,
            "患者与您分享了一项影像检查。请输入患者告诉您的 PIN。",
            "A patient shared an imaging study with you. Enter the PIN they gave you.",
        ),
        shell,
        token,
        error,
    };
    let mut response = (status, render(&page)?).into_response();
    if let Some(c) = cookie
        && let Ok(v) = c.parse()
    {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// `GET /s/{token}`: the PIN form, or why the link no longer opens.
pub async fn open_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    match gate::peek_share_link(&state.store, &token).await {
        Ok(_) => pin_page(&state, ctx, token, StatusCode::OK, None).await,
        Err(ShareOpenError::Store(e)) => Err(e.into()),
        Err(e) => {
            let status = share_status(&e);
            pin_page(&state, ctx, token, status, Some(e.to_string())).await
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct PinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pin: String,
}

/// `POST /s/{token}`: check the PIN; the read-only view on success.
pub async fn open(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
    Form(form): Form<PinForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let (link, study) =
        match gate::open_share_link(&state.store, &token, &form.pin, ctx.remote.clone()).await {
            Ok(found) => found,
            Err(ShareOpenError::Store(e)) => return Err(e.into()),
            Err(e) => {
                let status = share_status(&e);
                return pin_page(&state, ctx, token, status, Some(e.to_string())).await;
            }
        };
    shared_view(&state, &ctx, &link, &study, &token).await
}

async fn shared_view(
    state: &AppState,
    ctx: &Ctx,
    link: &ShareLink,
    study: &Study,
    token: &str,
) -> Result<Response, PageError> {
    let report = gate::shared_report(&state.store, study.id).await?;
    let (series, instances) = gate::shared_images(&state.store, study).await?;
    let shell = Shell::new(ctx, state, "nav.home");
    let offset = state.config.utc_offset_hours;
    let labels = viewer_labels(&shell);
    let notice = say(
        shell.tr,
        &format!(
            "只读分享，有效至 {}。每次打开都会记录并告知患者。",
            local_time(link.expires_at, offset)
        ),
        &format!(
            "Read-only share, valid until {}. Every opening is recorded and shown to the patient.",
            local_time(link.expires_at, offset)
        ),
    );
    // The images are fetched with a grant bound to this link (see `shared_image`).
    let grant = grant_for(state, link.id);
    let title = say(shell.tr, "分享的影像", "Shared images");
    let page = SharedPage {
        report: report.map(|r| version_row(&r, shell.tr.lang, offset)),
        shell: shell.with_title(title),
        facts: study_facts(state, study).await,
        series: series_views(&series, &instances, |i| {
            format!("/s/{token}/images/{}?g={grant}", i.id)
        }),
        labels,
        notice,
    };
    Ok(render(&page)?.into_response())
}

/// A MAC naming the link, so the image URLs of an opened share work only with this link
/// (and stop working when it expires, is revoked or locks, which `shared_study` checks).
pub fn grant_for(state: &AppState, link_id: i64) -> String {
    state.store.keys().sign(&format!("share-grant:{link_id}"))
}

/// `GET /static/viewer.js`: the viewer's progressive enhancement.
pub async fn viewer_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/viewer.js"),
    )
        .into_response()
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ImageQuery {
    #[serde(default)]
    g: String,
    #[serde(default)]
    window: String,
}

/// A `window=center,width[,linear]` value (PS3.18 8.3.5.1.3), or none.
fn window_of(value: &str) -> Result<Option<(f64, f64)>, PageError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let mut parts = value.split(',');
    let center = parts.next().and_then(|c| c.trim().parse::<f64>().ok());
    let width = parts.next().and_then(|w| w.trim().parse::<f64>().ok());
    match (center, width) {
        (Some(c), Some(w)) if w > 0.0 && c.is_finite() && w.is_finite() => Ok(Some((c, w))),
        _ => Err(PageError::BadRequest(
            "窗宽窗位格式为 中心,宽度 / window is center,width with a positive width".into(),
        )),
    }
}

/// `GET /s/{token}/images/{instance}?g=…[&window=c,w]`: one image of a shared study as
/// PNG, for a browser that opened the link with its PIN (the grant `g`). No audit row per
/// image: the opening was audited.
pub async fn shared_image(
    State(state): State<AppState>,
    Path((token, instance_id)): Path<(String, i64)>,
    axum::extract::Query(q): axum::extract::Query<ImageQuery>,
) -> Result<Response, PageError> {
    let window = window_of(&q.window)?;
    let link = match gate::peek_share_link(&state.store, &token).await {
        Ok(l) => l,
        Err(ShareOpenError::Store(e)) => return Err(e.into()),
        Err(e) => return Ok((share_status(&e), e.to_string()).into_response()),
    };
    let want = grant_for(&state, link.id);
    let ok = want.len() == q.g.len()
        && want
            .bytes()
            .zip(q.g.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !ok {
        return Err(PageError::Forbidden);
    }
    let (_, study) = gate::shared_study(&state.store, link.id)
        .await
        .map_err(|e| match e {
            ShareOpenError::Store(s) => PageError::from(s),
            _ => PageError::Forbidden,
        })?;
    let (_, instances) = gate::shared_images(&state.store, &study).await?;
    let instance = instances
        .iter()
        .find(|i| i.id == instance_id)
        .ok_or(PageError::NotFound)?;
    let png = render_png(&state, &instance.blob_key, window).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        png,
    )
        .into_response())
}

/// Render the first frame of the instance at `blob_key` as PNG (at most 1024 pixels).
async fn render_png(
    state: &AppState,
    blob_key: &str,
    window: Option<(f64, f64)>,
) -> Result<Vec<u8>, PageError> {
    let bytes = yiwei_dicom::blob::get_bytes(state.config.imaging.blobs.as_ref(), blob_key)
        .await
        .map_err(|e| PageError::Internal(format!("blob {blob_key}: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let obj = yiwei_dicom::parse::open(&bytes).map_err(|e| e.to_string())?;
        yiwei_dicom::render::render(
            &obj,
            &yiwei_dicom::render::Options {
                window,
                max_size: Some(1024),
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| PageError::Internal(e.to_string()))?
    .map_err(|e| PageError::BadRequest(format!("该图像无法显示 / this image cannot be shown: {e}")))
}

/// `GET /me/imaging/{id}/download`: the resident's own study as DICOM, through the
/// WADO-RS study retrieve (PS3.18 10.4: `multipart/related; type="application/dicom"`,
/// streamed from the blob store part by part, never held whole in memory).
pub async fn download(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(study_id): Path<i64>,
) -> Result<Response, PageError> {
    own(&user)?;
    let v = viewer(&ctx, &user);
    let study = imaging_gate::open_study_by_id(&state.store, &v, study_id).await?;
    Ok(Redirect::to(&format!("/dicom-web/studies/{}", study.study_uid)).into_response())
}
