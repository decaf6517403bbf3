//! The annual review (年度工作总结): the county's figures of a year in the order and style
//! of the reviews in shared/context.md — records, family doctors, public health, disease
//! control, the medical community, imaging, poverty alerts — each figure from the
//! maintained aggregates (`yiwei_store::indicator`) and linked to its definition.
//!
//! One model ([`Annual`]) and four renderings: the page `/reports/annual/{year}` (and the
//! same body as a standalone HTML file for `yiwei report annual`), CSV and XLSX of every
//! figure (rust_xlsxwriter), and a PDF drawn with krilla in a Debian CJK font
//! (fonts-noto-cjk's Noto Sans CJK SC, a CFF collection krilla subsets and embeds). A
//! section whose source is pending says so instead of printing zeros.

use std::sync::OnceLock;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use yiwei_domain::division::DivisionCode;
use yiwei_domain::indicator::{self as rules, Definition, Period, Section, Source, TargetStatus};
use yiwei_store::access::indicators::indicator_figures;
use yiwei_store::indicator::Figure;
use yiwei_store::{Store, StoreError};

use super::dashboard::{get, shown, table, value};
use super::{render, viewer};
use crate::AppState;
use crate::auth::Staff;
use crate::error::PageError;
use crate::shell::Shell;

/// One figure of the review.
#[derive(Clone, Debug)]
pub struct AnnualFigure {
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    /// The value as shown (`91.4%`, `8303`, `—`); empty when the source is not maintained.
    pub value: String,
    pub numerator: i64,
    pub denominator: i64,
    pub unit: &'static str,
    pub target: String,
    /// `met`, `missed` or empty.
    pub status: &'static str,
    pub previous: String,
    pub definition_href: String,
    /// Why there is no figure, in both languages (pending source, computed live).
    pub note_zh: String,
    pub note_en: String,
}

#[derive(Clone, Debug)]
pub struct AnnualSection {
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    /// The review's sentence: the section's figures in prose.
    pub summary_zh: String,
    pub summary_en: String,
    pub figures: Vec<AnnualFigure>,
}

/// The county's review of a year.
#[derive(Clone, Debug)]
pub struct Annual {
    pub county_code: String,
    pub county_name: String,
    pub year: i32,
    pub computed_at: String,
    /// Whether the year is closed (its figures are the published ones).
    pub closed: bool,
    /// Differences a refresh found after closing (late edits), if closed.
    pub differences: usize,
    pub sections: Vec<AnnualSection>,
}

fn figure(
    d: &'static Definition,
    now: Option<yiwei_domain::indicator::Fraction>,
    before: Option<yiwei_domain::indicator::Fraction>,
    base_url: &str,
) -> AnnualFigure {
    let (note_zh, note_en) = match d.source {
        Source::Maintained(_) => (String::new(), String::new()),
        Source::Pending { module } => (
            format!("数据来源建设中（{module}），本年度暂无数据"),
            format!("Source pending ({module}): no figures for this year yet"),
        ),
        Source::Unavailable { why } => {
            let (zh, en) = why.split_once(" · ").unwrap_or((why, why));
            (
                format!("无法由本平台数据计算：{zh}"),
                format!("Not computable from the platform's data: {en}"),
            )
        }
        Source::Live { .. } => (
            "由模块页面实时计算，不进入年度汇总".to_owned(),
            "Computed live on its module's page; not part of the maintained figures".to_owned(),
        ),
    };
    let maintained = d.source.is_maintained();
    AnnualFigure {
        code: d.code,
        name_zh: d.name_zh,
        name_en: d.name_en,
        value: if maintained {
            shown(d, now)
        } else {
            String::new()
        },
        numerator: now.map_or(0, |f| f.numerator),
        denominator: now.map_or(0, |f| f.denominator),
        unit: d.unit.as_str(),
        target: d.target.map(|t| t.label(d.unit)).unwrap_or_default(),
        status: match d.target.map(|t| t.compare(value(d, now))) {
            Some(TargetStatus::Met) => "met",
            Some(TargetStatus::Missed) => "missed",
            _ => "",
        },
        previous: if maintained {
            shown(d, before)
        } else {
            String::new()
        },
        definition_href: format!("{base_url}/indicators/catalogue#{}", d.code),
        note_zh,
        note_en,
    }
}

/// Assemble the review from the county's figures of `year` and the year before.
#[expect(clippy::too_many_arguments, reason = "the review's header fields")]
pub fn assemble(
    county_code: &str,
    county_name: &str,
    year: i32,
    figures: Vec<Figure>,
    computed_at: String,
    closed: bool,
    differences: usize,
    base_url: &str,
) -> Annual {
    let t = table(figures);
    let (this, last) = (Period::Year(year), Period::Year(year - 1));
    let sections = Section::ALL
        .iter()
        .map(|s| {
            let figures: Vec<AnnualFigure> = rules::catalogue()
                .iter()
                .filter(|d| d.section == *s)
                .map(|d| {
                    figure(
                        d,
                        get(&t, d.code, this, county_code),
                        get(&t, d.code, last, county_code),
                        base_url,
                    )
                })
                .collect();
            let stated: Vec<&AnnualFigure> =
                figures.iter().filter(|f| f.note_zh.is_empty()).collect();
            let pending: Vec<&AnnualFigure> = figures
                .iter()
                .filter(|f| f.note_zh.starts_with("数据来源建设中"))
                .collect();
            let mut summary_zh = stated
                .iter()
                .map(|f| format!("{}{}", f.name_zh, f.value))
                .collect::<Vec<_>>()
                .join("，");
            let mut summary_en = stated
                .iter()
                .map(|f| format!("{} {}", f.name_en.to_lowercase(), f.value))
                .collect::<Vec<_>>()
                .join("; ");
            if !pending.is_empty() {
                let names_zh: Vec<&str> = pending.iter().map(|f| f.name_zh).collect();
                let names_en: Vec<&str> = pending.iter().map(|f| f.name_en).collect();
                if !summary_zh.is_empty() {
                    summary_zh.push('；');
                    summary_en.push_str(". ");
                }
                summary_zh.push_str(&format!(
                    "{}的数据来源尚在建设，本报告不列数字",
                    names_zh.join("、")
                ));
                summary_en.push_str(&format!(
                    "No figures yet for {}: their source is being built",
                    names_en.join(", ").to_lowercase()
                ));
            }
            let unavailable: Vec<&AnnualFigure> = figures
                .iter()
                .filter(|f| f.note_zh.starts_with("无法由本平台"))
                .collect();
            if !unavailable.is_empty() {
                let names_zh: Vec<&str> = unavailable.iter().map(|f| f.name_zh).collect();
                let names_en: Vec<&str> = unavailable.iter().map(|f| f.name_en).collect();
                if !summary_zh.is_empty() {
                    summary_zh.push('；');
                    summary_en.push_str(". ");
                }
                summary_zh.push_str(&format!(
                    "{}所需数据不在本平台，不列数字（原因见指标定义）",
                    names_zh.join("、")
                ));
                summary_en.push_str(&format!(
                    "{} needs data the platform does not hold (see its definition)",
                    names_en.join(", ")
                ));
            }
            if !summary_zh.is_empty() {
                summary_zh = format!("全年{summary_zh}。");
                summary_en = format!("In {year}: {summary_en}.");
            }
            AnnualSection {
                code: s.code(),
                name_zh: s.name_zh(),
                name_en: s.name_en(),
                summary_zh,
                summary_en,
                figures,
            }
        })
        .collect();
    Annual {
        county_code: county_code.to_owned(),
        county_name: county_name.to_owned(),
        year,
        computed_at,
        closed,
        differences,
        sections,
    }
}

/// The codes the review reads.
fn codes() -> Vec<&'static str> {
    super::dashboard::maintained()
}

/// The review of `county` for `year`, straight from the store (the CLI; pages go through
/// the gate first).
pub async fn load(
    store: &Store,
    county: &DivisionCode,
    year: i32,
    base_url: &str,
    utc_offset_hours: i32,
) -> Result<Annual, StoreError> {
    let figures = yiwei_store::indicator::figures(
        store,
        county,
        &codes(),
        &[Period::Year(year), Period::Year(year - 1)],
        county.as_str().len(),
    )
    .await?;
    header_and_assemble(store, county, year, figures, base_url, utc_offset_hours).await
}

async fn header_and_assemble(
    store: &Store,
    county: &DivisionCode,
    year: i32,
    figures: Vec<Figure>,
    base_url: &str,
    utc_offset_hours: i32,
) -> Result<Annual, StoreError> {
    let division = yiwei_store::division::get(store, county).await?;
    let period = Period::Year(year);
    let computed_at = yiwei_store::indicator::computed_at(store, period)
        .await?
        .map(|t| super::local_time(t, utc_offset_hours))
        .unwrap_or_else(|| "尚未计算 not computed yet".to_owned());
    let closed = yiwei_store::indicator::is_closed(store, period).await?;
    let differences = if closed {
        yiwei_store::indicator::differences(store, period)
            .await?
            .len()
    } else {
        0
    };
    Ok(assemble(
        county.as_str(),
        &division.name,
        year,
        figures,
        computed_at,
        closed,
        differences,
        base_url,
    ))
}

// ---------------------------------------------------------------------------------------
// HTML

#[derive(Template)]
#[template(path = "annual_report.html")]
struct AnnualPage {
    shell: Shell,
    report: Annual,
    page: bool,
}

#[derive(Template)]
#[template(path = "annual_document.html")]
struct AnnualDocument<'a> {
    report: &'a Annual,
    page: bool,
}

/// The review as a standalone HTML document (for `yiwei report annual`).
pub fn to_html(report: &Annual) -> Result<String, askama::Error> {
    AnnualDocument {
        report,
        page: false,
    }
    .render()
}

fn parse_year(text: &str) -> Result<i32, PageError> {
    match Period::parse(text) {
        Ok(Period::Year(y)) => Ok(y),
        _ => Err(PageError::BadRequest(format!(
            "年份应为四位数字，如 2025 · year must be like 2025, got {text:?}"
        ))),
    }
}

async fn gated(state: &AppState, staff: &Staff, year: i32) -> Result<Annual, PageError> {
    let county = state.config.county.clone();
    let v = viewer(&staff.ctx, &staff.user);
    let figures = indicator_figures(
        &state.store,
        &v,
        &county,
        &codes(),
        &[Period::Year(year), Period::Year(year - 1)],
        county.as_str().len(),
    )
    .await?;
    Ok(header_and_assemble(
        &state.store,
        &county,
        year,
        figures,
        "",
        state.config.utc_offset_hours,
    )
    .await?)
}

/// The review page.
pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(year): Path<String>,
) -> Result<Html<String>, PageError> {
    let year = parse_year(&year)?;
    let report = gated(&state, &staff, year).await?;
    render(&AnnualPage {
        shell: Shell::new(&staff.ctx, &state, "annual.title")
            .with_title(format!("{} {year}", staff.ctx.tr.t("annual.title"))),
        report,
        page: true,
    })
}

fn download(body: Vec<u8>, content_type: &'static str, name: String) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// `/reports/annual/{year}/figures.csv`, `…/figures.xlsx`, `…/review.pdf`.
pub async fn file(
    State(state): State<AppState>,
    staff: Staff,
    Path((year, name)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let year = parse_year(&year)?;
    let report = gated(&state, &staff, year).await?;
    let base = format!("annual-{}-{year}", report.county_code);
    match name.as_str() {
        "figures.csv" => Ok(download(
            to_csv(&report).into_bytes(),
            "text/csv; charset=utf-8",
            format!("{base}.csv"),
        )),
        "figures.xlsx" => Ok(download(
            to_xlsx(&report).map_err(|e| PageError::Internal(format!("xlsx: {e}")))?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            format!("{base}.xlsx"),
        )),
        "review.pdf" => match to_pdf(&report, &state.config.public_url) {
            Ok(pdf) => Ok(download(pdf, "application/pdf", format!("{base}.pdf"))),
            Err(PdfError::NoFont) => Err(PageError::Unavailable),
            Err(e) => Err(PageError::Internal(format!("pdf: {e}"))),
        },
        _ => Err(PageError::NotFound),
    }
}

// ---------------------------------------------------------------------------------------
// CSV and XLSX

const COLUMNS: [&str; 14] = [
    "section",
    "code",
    "name_zh",
    "name_en",
    "period",
    "division",
    "numerator",
    "denominator",
    "value",
    "unit",
    "target",
    "target_status",
    "previous_year",
    "note",
];

fn rows(report: &Annual) -> Vec<[String; 14]> {
    let mut out = Vec::new();
    for s in &report.sections {
        for f in &s.figures {
            let pending = !f.note_en.is_empty();
            out.push([
                s.code.to_owned(),
                f.code.to_owned(),
                f.name_zh.to_owned(),
                f.name_en.to_owned(),
                report.year.to_string(),
                report.county_code.clone(),
                if pending {
                    String::new()
                } else {
                    f.numerator.to_string()
                },
                if pending {
                    String::new()
                } else {
                    f.denominator.to_string()
                },
                f.value.clone(),
                f.unit.to_owned(),
                f.target.clone(),
                f.status.to_owned(),
                f.previous.clone(),
                f.note_en.clone(),
            ]);
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Every figure as CSV (UTF-8 with a BOM so spreadsheet programs read the Chinese).
pub fn to_csv(report: &Annual) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(&COLUMNS.join(","));
    out.push('\n');
    for r in rows(report) {
        out.push_str(&r.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

/// Every figure as an XLSX workbook (numbers as numbers), with the definitions on a
/// second sheet.
pub fn to_xlsx(report: &Annual) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = book.add_worksheet();
    sheet.set_name(format!("{}年", report.year))?;
    for (c, name) in COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *name, &bold)?;
    }
    for (r, row) in rows(report).iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            // numerator and denominator are numbers
            if (c == 6 || c == 7) && !cell.is_empty() {
                sheet.write_number(r, c, cell.parse::<f64>().unwrap_or(0.0))?;
            } else {
                sheet.write_string(r, c, cell)?;
            }
        }
    }
    sheet.set_column_width(2, 28)?;
    sheet.set_column_width(3, 36)?;
    let defs = book.add_worksheet();
    defs.set_name("definitions")?;
    for (c, name) in ["code", "numerator", "denominator", "rule"]
        .iter()
        .enumerate()
    {
        defs.write_string_with_format(0, c as u16, *name, &bold)?;
    }
    for (r, d) in rules::catalogue().iter().enumerate() {
        let r = r as u32 + 1;
        defs.write_string(r, 0, d.code)?;
        defs.write_string(r, 1, format!("{} / {}", d.numerator_zh, d.numerator_en))?;
        defs.write_string(r, 2, format!("{} / {}", d.denominator_zh, d.denominator_en))?;
        defs.write_string(r, 3, d.rule)?;
    }
    book.save_to_buffer()
}

// ---------------------------------------------------------------------------------------
// PDF

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error(
        "no CJK font: install the Debian package fonts-noto-cjk (or set YIWEI_CJK_FONT to an OTF/TTC file)"
    )]
    NoFont,
    #[error("the PDF could not be written: {0}")]
    Write(String),
}

/// Where Debian puts Noto Sans CJK (fonts-noto-cjk) and the face index of Simplified
/// Chinese inside the collection; `YIWEI_CJK_FONT` (a path, index 0 unless `path#N`)
/// overrides.
const FONT_CANDIDATES: &[(&str, u32)] = &[
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
];

fn font() -> Option<krilla::text::Font> {
    static FONT: OnceLock<Option<krilla::text::Font>> = OnceLock::new();
    FONT.get_or_init(|| {
        let configured = std::env::var("YIWEI_CJK_FONT").ok().map(|v| {
            let (path, index) = v.split_once('#').unwrap_or((&v, "0"));
            (path.to_owned(), index.parse().unwrap_or(0))
        });
        configured
            .into_iter()
            .chain(FONT_CANDIDATES.iter().map(|(p, i)| ((*p).to_owned(), *i)))
            .find_map(|(path, index)| {
                let data = std::fs::read(&path).ok()?;
                krilla::text::Font::new(data.into(), index)
            })
    })
    .clone()
}

/// Approximate advance of a text in points (CJK a full em, Latin about half).
fn width(text: &str, size: f32) -> f32 {
    text.chars()
        .map(|c| if c.is_ascii() { 0.55 } else { 1.0 })
        .sum::<f32>()
        * size
}

fn wrap(text: &str, size: f32, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for c in text.chars() {
        line.push(c);
        if width(&line, size) > max {
            // Break Latin text at the last space when there is one.
            let cut = if c.is_ascii() {
                line.rfind(' ').filter(|i| *i > 0)
            } else {
                None
            };
            match cut {
                Some(i) => {
                    let rest = line[i + 1..].to_owned();
                    line.truncate(i);
                    lines.push(std::mem::take(&mut line));
                    line = rest;
                }
                None => {
                    let last = line.pop();
                    lines.push(std::mem::take(&mut line));
                    line.extend(last);
                }
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A run of text lines laid out top to bottom over A4 pages.
struct Layout {
    pages: Vec<Vec<Item>>,
    y: f32,
}

enum Item {
    Text {
        x: f32,
        y: f32,
        size: f32,
        grey: bool,
        text: String,
    },
    Link {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        uri: String,
    },
}

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 50.0;

impl Layout {
    fn new() -> Layout {
        Layout {
            pages: vec![Vec::new()],
            y: MARGIN,
        }
    }

    fn need(&mut self, height: f32) {
        if self.y + height > PAGE_H - MARGIN {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn push(&mut self, item: Item) {
        if let Some(p) = self.pages.last_mut() {
            p.push(item);
        }
    }

    fn line(&mut self, x: f32, size: f32, grey: bool, text: &str) {
        self.need(size * 1.5);
        self.y += size * 1.2;
        let y = self.y;
        self.push(Item::Text {
            x,
            y,
            size,
            grey,
            text: text.to_owned(),
        });
        self.y += size * 0.3;
    }

    fn paragraph(&mut self, size: f32, grey: bool, text: &str) {
        for l in wrap(text, size, PAGE_W - 2.0 * MARGIN) {
            self.line(MARGIN, size, grey, &l);
        }
    }
}

/// The review as a PDF: Chinese first, English beside (under each line, in grey), each
/// figure's name a link to its definition on `public_url`.
pub fn to_pdf(report: &Annual, public_url: &str) -> Result<Vec<u8>, PdfError> {
    use krilla::color::rgb;
    use krilla::geom::{Point, Rect};
    use krilla::num::NormalizedF32;
    use krilla::page::PageSettings;
    use krilla::paint::Fill;
    use krilla::text::TextDirection;

    let font = font().ok_or(PdfError::NoFont)?;
    let base = public_url.trim_end_matches('/');
    let mut l = Layout::new();
    l.line(
        MARGIN,
        18.0,
        false,
        &format!(
            "{}{}年度卫生健康工作主要指标",
            report.county_name, report.year
        ),
    );
    l.line(
        MARGIN,
        11.0,
        true,
        &format!(
            "{} {}: key health indicators of the year",
            report.county_code, report.year
        ),
    );
    l.line(
        MARGIN,
        9.0,
        true,
        &format!(
            "数据计算于 computed {}{}",
            report.computed_at,
            if report.closed {
                format!(
                    " · 已关账 closed · 关账后差异 differences after closing: {}",
                    report.differences
                )
            } else {
                " · 未关账（数字可能随迟报更新） not closed: figures may change with late reports"
                    .to_owned()
            }
        ),
    );
    for (n, s) in report.sections.iter().enumerate() {
        l.y += 8.0;
        l.need(60.0);
        l.line(MARGIN, 14.0, false, &format!("{}、{}", n + 1, s.name_zh));
        l.line(MARGIN, 10.0, true, s.name_en);
        if !s.summary_zh.is_empty() {
            l.paragraph(10.0, false, &s.summary_zh);
            l.paragraph(8.5, true, &s.summary_en);
        }
        l.y += 4.0;
        for f in &s.figures {
            l.need(30.0);
            l.y += 12.0;
            let y = l.y;
            l.push(Item::Text {
                x: MARGIN,
                y,
                size: 10.0,
                grey: false,
                text: f.name_zh.to_owned(),
            });
            l.push(Item::Link {
                x: MARGIN,
                y: y - 10.0,
                w: width(f.name_zh, 10.0),
                h: 12.0,
                uri: format!("{base}/indicators/catalogue#{}", f.code),
            });
            let shown = if f.note_zh.is_empty() {
                let mut v = f.value.clone();
                if !f.target.is_empty() {
                    v.push_str(&format!("（目标 {}）", f.target));
                }
                v
            } else {
                "—".to_owned()
            };
            l.push(Item::Text {
                x: 330.0,
                y,
                size: 10.0,
                grey: false,
                text: shown,
            });
            l.y += 3.0;
            let en = if f.note_en.is_empty() {
                format!("{} · previous year {}", f.name_en, f.previous)
            } else {
                format!("{} · {} / {}", f.name_en, f.note_zh, f.note_en)
            };
            for line in wrap(&en, 8.0, PAGE_W - 2.0 * MARGIN) {
                l.line(MARGIN + 8.0, 8.0, true, &line);
            }
        }
    }
    let mut document = krilla::Document::new();
    for items in &l.pages {
        let settings =
            PageSettings::from_wh(PAGE_W, PAGE_H).ok_or(PdfError::Write("page".into()))?;
        let mut page = document.start_page_with(settings);
        let mut links = Vec::new();
        {
            let mut surface = page.surface();
            for item in items {
                match item {
                    Item::Text {
                        x,
                        y,
                        size,
                        grey,
                        text,
                    } => {
                        let shade = if *grey { 100 } else { 0 };
                        surface.set_fill(Some(Fill {
                            paint: rgb::Color::new(shade, shade, shade).into(),
                            opacity: NormalizedF32::ONE,
                            rule: Default::default(),
                        }));
                        surface.draw_text(
                            Point::from_xy(*x, *y),
                            font.clone(),
                            *size,
                            text,
                            false,
                            TextDirection::Auto,
                        );
                    }
                    Item::Link { x, y, w, h, uri } => {
                        if let Some(rect) = Rect::from_xywh(*x, *y, w.max(1.0), *h) {
                            links.push((rect, uri.clone()));
                        }
                    }
                }
            }
            surface.finish();
        }
        for (rect, uri) in links {
            page.add_annotation(krilla::annotation::Annotation::new_link(
                krilla::annotation::LinkAnnotation::new(
                    rect,
                    krilla::annotation::Target::Action(krilla::action::LinkAction::new(uri).into()),
                ),
                None,
            ));
        }
        page.finish();
    }
    document
        .finish()
        .map_err(|e| PdfError::Write(format!("{e:?}")))
}
