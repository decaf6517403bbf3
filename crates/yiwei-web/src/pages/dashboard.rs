//! The indicator dashboard (`/dashboard`), the catalogue of definitions
//! (`/indicators/catalogue`) and the figures as JSON (`/api/v1/indicators`).
//!
//! Everything here reads the maintained aggregates (`yiwei_store::indicator`), never the
//! facts, so the county's page is a handful of indexed sums. A figure is shown for the
//! viewer's reach (village doctor: the village; township staff: the township; bureau,
//! analyst, admin: the county) and links to its definition and to the list behind it on
//! the page of the module that owns the records, whose own gate decides and audits.
//!
//! The map is a tile cartogram: we hold no township boundary geometry, so the child
//! divisions are squares in code order, coloured by value, and the page says so.

use std::collections::HashMap;

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use yiwei_domain::division::DivisionCode;
use yiwei_domain::indicator::breakdown;
use yiwei_domain::indicator::{
    self as rules, Definition, Fraction, Period, PeriodType, Section, Source, TargetStatus, Trend,
    Unit,
};
use yiwei_store::access::indicators::{indicator_figures, indicator_strata};
use yiwei_store::indicator::{Figure, Stratum};

use super::{render, say, viewer};
use crate::AppState;
use crate::auth::{ApiUser, Staff};
use crate::error::{ApiError, PageError};
use crate::i18n::{Lang, Tr};
use crate::shell::Shell;

/// The county's local date today.
pub(crate) fn today(state: &AppState) -> NaiveDate {
    (yiwei_store::now() + chrono::Duration::hours(i64::from(state.config.utc_offset_hours)))
        .date_naive()
}

/// The codes of every maintained indicator.
pub(crate) fn maintained() -> Vec<&'static str> {
    rules::catalogue()
        .iter()
        .filter(|d| d.source.is_maintained())
        .map(|d| d.code)
        .collect()
}

/// Figures keyed by (indicator, period, division).
pub(crate) type Table = HashMap<(String, String, String), Fraction>;

pub(crate) fn table(figures: Vec<Figure>) -> Table {
    figures
        .into_iter()
        .map(|f| ((f.indicator, f.period, f.division_code), f.fraction))
        .collect()
}

pub(crate) fn get(t: &Table, code: &str, period: Period, division: &str) -> Option<Fraction> {
    t.get(&(code.to_owned(), period.to_string(), division.to_owned()))
        .copied()
}

/// The value of a figure in its unit, `None` without a figure or a denominator.
pub(crate) fn value(d: &Definition, f: Option<Fraction>) -> Option<f64> {
    f.and_then(|f| f.value(d.unit))
}

pub(crate) fn shown(d: &Definition, f: Option<Fraction>) -> String {
    f.map_or_else(|| "—".to_owned(), |f| f.display(d.unit))
}

fn status_class(s: TargetStatus) -> &'static str {
    match s {
        TargetStatus::Met => "met",
        TargetStatus::Missed => "missed",
        TargetStatus::Unknown => "",
    }
}

pub(crate) fn definition_href(code: &str) -> String {
    format!("/indicators/catalogue#{code}")
}

/// The page that lists the records behind a figure, with the figure's coordinates in the
/// parameters that page takes; `None` where no list exists.
pub(crate) fn drill_href(d: &Definition, division: &str, period: Period) -> Option<String> {
    let (from, to) = (period.first_day(), period.last_day());
    let base = d.drill_down?;
    Some(match base {
        "/indicators/programmes" if d.code.starts_with("immunization") => {
            format!("/indicators/programmes?division={division}&from={from}&to={to}")
        }
        "/indicators/programmes" => format!(
            "/indicators/programmes/list?division={division}&from={from}&to={to}&indicator={}&part=gap",
            d.code
        ),
        "/contracts/coverage" => format!("/contracts/coverage?division={division}&on={to}"),
        "/cdc/statistics" => format!("/cdc/statistics?area={division}&from={from}&to={to}"),
        "/cdc/timeliness" => format!("/cdc/timeliness?from={from}&to={to}"),
        "/booking/stats" => format!("/booking/stats?from={from}&to={to}"),
        "/cost-alerts/stats" | "/recognition/stats" => format!(
            "{base}?from={}&to={}",
            from.format("%Y-%m"),
            to.format("%Y-%m")
        ),
        "/imaging" => format!("/imaging?from={from}&to={to}"),
        "/residents" | "/residents/quality" => format!("{base}?division={division}"),
        other => other.to_owned(),
    })
}

/// A small SVG line of monthly values (points already scaled to the box).
pub struct Spark {
    pub points: String,
    pub dots: Vec<(f64, f64, String)>,
}

fn spark(values: &[Option<f64>], width: f64, height: f64) -> Option<Spark> {
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    if known.len() < 2 {
        return None;
    }
    let max = known.iter().copied().fold(f64::MIN, f64::max);
    let min = known.iter().copied().fold(f64::MAX, f64::min).min(0.0);
    let span = (max - min).max(1e-9);
    let step = width / (values.len().max(2) - 1) as f64;
    let mut points = Vec::new();
    let mut dots = Vec::new();
    for (i, v) in values.iter().enumerate() {
        if let Some(v) = v {
            let x = i as f64 * step;
            let y = height - 2.0 - (v - min) / span * (height - 4.0);
            points.push(format!("{x:.1},{y:.1}"));
            dots.push((x, y, format!("{}: {}", i + 1, trim(*v))));
        }
    }
    Some(Spark {
        points: points.join(" "),
        dots,
    })
}

fn trim(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e12 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// One figure on the dashboard.
pub struct Tile {
    pub code: &'static str,
    pub name: String,
    pub other_name: String,
    pub value: String,
    pub previous: String,
    pub arrow: &'static str,
    pub target: String,
    pub status: &'static str,
    pub spark: Option<Spark>,
    pub definition_href: String,
    pub drill_href: Option<String>,
    /// Why there is no figure (source pending, computed on its own page).
    pub note: String,
    pub live_href: Option<String>,
}

pub struct SectionView {
    pub code: &'static str,
    pub name: String,
    pub other_name: String,
    pub tiles: Vec<Tile>,
}

/// A township (or village) square of the cartogram.
pub struct MapTile {
    pub x: u32,
    pub y: u32,
    pub fill: &'static str,
    pub dark: bool,
    pub name: String,
    pub value: String,
    pub href: String,
}

pub struct LegendItem {
    pub fill: &'static str,
    pub label: String,
}

/// The monthly trend of the chosen indicator.
pub struct Chart {
    pub points: String,
    pub dots: Vec<(f64, f64, String)>,
    pub months: Vec<(f64, String)>,
    pub target_y: Option<f64>,
    pub max_label: String,
}

pub struct ChildRow {
    pub name: String,
    pub href: String,
    pub value: String,
    pub numerator: i64,
    pub denominator: i64,
    pub status: &'static str,
}

/// One stratum of the chosen indicator (sex, age group, key group).
pub struct StratumRow {
    pub dimension: String,
    pub name: String,
    pub numerator: i64,
    pub denominator: i64,
    pub value: String,
}

/// Order of strata inside a dimension: age bands young to old, others by code.
fn stratum_order(key: &str) -> (usize, usize, String) {
    match breakdown::split(key) {
        Some((dim, value)) => (
            breakdown::STORED
                .iter()
                .position(|d| *d == dim)
                .unwrap_or(9),
            breakdown::rank(value),
            value.to_owned(),
        ),
        None => (9, 0, key.to_owned()),
    }
}

/// The strata of `d` among `found`, in display order, labelled in the viewer's language.
pub(crate) fn stratum_rows(tr: Tr, d: &Definition, found: &[Stratum]) -> Vec<StratumRow> {
    let mut rows: Vec<&Stratum> = found.iter().filter(|s| s.indicator == d.code).collect();
    rows.sort_by_key(|s| stratum_order(&s.breakdown));
    rows.into_iter()
        .filter_map(|s| {
            let (dim, value) = breakdown::split(&s.breakdown)?;
            let (zh, en) = breakdown::label(dim, value);
            let dimension = match dim {
                rules::Disaggregation::Sex => say(tr, "性别", "sex"),
                rules::Disaggregation::AgeGroup => say(tr, "年龄组", "age group"),
                _ => say(tr, "重点人群", "key group"),
            };
            Some(StratumRow {
                dimension,
                name: say(tr, &zh, &en),
                numerator: s.fraction.numerator,
                denominator: s.fraction.denominator,
                value: s.fraction.display(d.unit),
            })
        })
        .collect()
}

pub struct TargetRow {
    pub name: String,
    pub value: String,
    pub target: String,
    pub status: &'static str,
    pub definition_href: String,
}

const PALETTE: [&str; 5] = ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"];

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct DashboardQuery {
    /// Division code inside the viewer's reach (default: the whole reach).
    division: Option<String>,
    /// Year (default: this year).
    year: Option<String>,
    /// The indicator of the map and the trend chart.
    map: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    shell: Shell,
    division: String,
    division_name: String,
    parent: Option<(String, String)>,
    year: i32,
    computed_at: String,
    sections: Vec<SectionView>,
    map_code: String,
    map_name: String,
    map_choices: Vec<(&'static str, String, bool)>,
    map_tiles: Vec<MapTile>,
    map_width: u32,
    map_height: u32,
    legend: Vec<LegendItem>,
    chart: Option<Chart>,
    children: Vec<ChildRow>,
    /// The chosen indicator by sex, age group and key group (when its entry allows).
    strata: Vec<StratumRow>,
    /// Key-group strata overlap: say so under the table.
    strata_overlap: bool,
    targets: Vec<TargetRow>,
}

fn bad(en: &str, zh: &str) -> PageError {
    PageError::BadRequest(format!("{zh} · {en}"))
}

pub(crate) fn parse_year(text: Option<&str>, today: NaiveDate) -> Result<i32, (String, String)> {
    match text.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(today.year()),
        Some(t) => match Period::parse(t) {
            Ok(Period::Year(y)) => Ok(y),
            _ => Err((
                format!("year must be like 2025, got {t:?}"),
                "年份应为四位数字，如 2025".to_owned(),
            )),
        },
    }
}

pub(crate) fn parse_division(
    text: Option<&str>,
    reach: &DivisionCode,
) -> Result<DivisionCode, (String, String)> {
    match text.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(reach.clone()),
        Some(t) => DivisionCode::parse(t)
            .map_err(|e| (format!("division: {e}"), "区划代码有误".to_owned())),
    }
}

fn name_pair(tr: Tr, zh: &str, en: &str) -> (String, String) {
    (say(tr, zh, en), say(tr, en, zh))
}

fn source_note(tr: Tr, d: &Definition) -> (String, Option<String>) {
    match d.source {
        Source::Maintained(_) => (String::new(), None),
        Source::Pending { module } => (
            say(
                tr,
                &format!("数据来源建设中（{module}），暂无数据"),
                &format!("Source pending ({module}): no figures yet"),
            ),
            None,
        ),
        Source::Unavailable { why } => {
            let (zh, en) = why.split_once(" · ").unwrap_or((why, why));
            (
                say(
                    tr,
                    &format!("无法由本平台数据计算：{zh}"),
                    &format!("Not computable from the platform's data: {en}"),
                ),
                None,
            )
        }
        Source::Live { .. } => (
            say(
                tr,
                "在其模块页面实时计算（不保存为汇总）",
                "Computed live on its module's page (not kept as an aggregate)",
            ),
            d.drill_down.map(str::to_owned),
        ),
    }
}

/// The dashboard of a division for a year.
pub async fn show(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<DashboardQuery>,
) -> Result<Html<String>, PageError> {
    let tr = ctx.tr;
    let today = today(&state);
    let year = parse_year(q.year.as_deref(), today).map_err(|(en, zh)| bad(&en, &zh))?;
    let root =
        parse_division(q.division.as_deref(), &user.reach).map_err(|(en, zh)| bad(&en, &zh))?;
    let map_def = match q.map.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => rules::by_code("contract_coverage"),
        Some(code) => Some(
            rules::by_code(code)
                .filter(|d| d.source.is_maintained())
                .ok_or_else(|| {
                    bad(
                        "unknown or unmaintained indicator",
                        "指标不存在或无汇总数据",
                    )
                })?,
        ),
    }
    .ok_or(PageError::NotFound)?;

    let codes = maintained();
    let this = Period::Year(year);
    let last = Period::Year(year - 1);
    let months = this.month_periods();
    let mut periods = vec![this, last];
    periods.extend(months.iter().copied());
    let v = viewer(&ctx, &user);
    let root_len = root.as_str().len();
    let totals =
        table(indicator_figures(&state.store, &v, &root, &codes, &periods, root_len).await?);
    let division = yiwei_store::division::get(&state.store, &root).await?;
    let here = root.as_str();

    let sections = Section::ALL
        .iter()
        .map(|s| {
            let (name, other_name) = name_pair(tr, s.name_zh(), s.name_en());
            let tiles = rules::catalogue()
                .iter()
                .filter(|d| d.section == *s)
                .map(|d| {
                    let (name, other_name) = name_pair(tr, d.name_zh, d.name_en);
                    let (note, live_href) = source_note(tr, d);
                    let now = get(&totals, d.code, this, here);
                    let before = get(&totals, d.code, last, here);
                    let monthly: Vec<Option<f64>> = if d.kept_for(PeriodType::Month) {
                        months
                            .iter()
                            .map(|m| value(d, get(&totals, d.code, *m, here)))
                            .collect()
                    } else {
                        Vec::new()
                    };
                    let tolerance = if d.unit == Unit::Percent { 0.05 } else { 0.0 };
                    Tile {
                        code: d.code,
                        name,
                        other_name,
                        value: if d.source.is_maintained() {
                            shown(d, now)
                        } else {
                            String::new()
                        },
                        previous: shown(d, before),
                        arrow: Trend::between(value(d, before), value(d, now), tolerance).arrow(),
                        target: d.target.map(|t| t.label(d.unit)).unwrap_or_default(),
                        status: d
                            .target
                            .map_or("", |t| status_class(t.compare(value(d, now)))),
                        spark: spark(&monthly, 100.0, 28.0),
                        definition_href: definition_href(d.code),
                        drill_href: if d.source.is_maintained() {
                            drill_href(d, here, this)
                        } else {
                            None
                        },
                        note,
                        live_href,
                    }
                })
                .collect();
            SectionView {
                code: s.code(),
                name,
                other_name,
                tiles,
            }
        })
        .collect();

    // The children: the map, the table and their figures for the year.
    let children = yiwei_store::division::children(&state.store, &root).await?;
    let child_len = children.first().map(|c| c.code.as_str().len());
    let by_child = match child_len {
        Some(len) => {
            table(indicator_figures(&state.store, &v, &root, &[map_def.code], &[this], len).await?)
        }
        None => Table::new(),
    };
    let child_values: Vec<Option<f64>> = children
        .iter()
        .map(|c| value(map_def, get(&by_child, map_def.code, this, c.code.as_str())))
        .collect();
    let known: Vec<f64> = child_values.iter().flatten().copied().collect();
    let (lo, hi) = (
        known.iter().copied().fold(f64::MAX, f64::min),
        known.iter().copied().fold(f64::MIN, f64::max),
    );
    let bin = |v: f64| -> usize {
        if hi <= lo {
            2
        } else {
            (((v - lo) / (hi - lo)) * 5.0).floor().clamp(0.0, 4.0) as usize
        }
    };
    let columns = (children.len() as f64).sqrt().ceil().max(1.0) as u32;
    let year_param = year;
    let map_tiles: Vec<MapTile> = children
        .iter()
        .zip(&child_values)
        .enumerate()
        .map(|(i, (c, v))| {
            let b = v.map(bin);
            MapTile {
                x: (i as u32 % columns) * 92,
                y: (i as u32 / columns) * 62,
                fill: b.map_or("#f0f0f0", |b| PALETTE[b]),
                dark: b.is_some_and(|b| b >= 3),
                name: if tr.lang == Lang::En && !c.name_en.is_empty() {
                    c.name_en.clone()
                } else {
                    c.name.clone()
                },
                value: shown(map_def, get(&by_child, map_def.code, this, c.code.as_str())),
                href: format!(
                    "/dashboard?division={}&year={year_param}&map={}",
                    c.code.as_str(),
                    map_def.code
                ),
            }
        })
        .collect();
    let rows = (children.len() as u32).div_ceil(columns);
    let legend = if known.is_empty() {
        Vec::new()
    } else if hi <= lo {
        vec![LegendItem {
            fill: PALETTE[2],
            label: trim(lo),
        }]
    } else {
        (0..5)
            .map(|b| {
                let a = lo + (hi - lo) * b as f64 / 5.0;
                let z = lo + (hi - lo) * (b + 1) as f64 / 5.0;
                LegendItem {
                    fill: PALETTE[b],
                    label: format!("{}–{}", trim(a), trim(z)),
                }
            })
            .collect()
    };
    let child_rows = children
        .iter()
        .map(|c| {
            let f = get(&by_child, map_def.code, this, c.code.as_str());
            ChildRow {
                name: c.name.clone(),
                href: format!(
                    "/dashboard?division={}&year={year}&map={}",
                    c.code.as_str(),
                    map_def.code
                ),
                value: shown(map_def, f),
                numerator: f.map_or(0, |f| f.numerator),
                denominator: f.map_or(0, |f| f.denominator),
                status: map_def
                    .target
                    .map_or("", |t| status_class(t.compare(value(map_def, f)))),
            }
        })
        .collect();

    // The monthly trend of the map's indicator (or its years when it is kept yearly).
    let chart = if map_def.kept_for(PeriodType::Month) {
        let values: Vec<Option<f64>> = months
            .iter()
            .map(|m| value(map_def, get(&totals, map_def.code, *m, here)))
            .collect();
        chart(map_def, &values)
    } else {
        None
    };

    // The chosen indicator's strata, summed over the division (aggregates, same gate).
    let stored_dims = breakdown::stored_of(map_def.disaggregations);
    let strata = if stored_dims.is_empty() {
        Vec::new()
    } else {
        let found = indicator_strata(&state.store, &v, &root, &[map_def.code], this).await?;
        stratum_rows(tr, map_def, &found)
    };
    let strata_overlap = stored_dims.contains(&rules::Disaggregation::KeyGroup);

    let targets = rules::catalogue()
        .iter()
        .filter(|d| d.target.is_some())
        .map(|d| {
            let f = get(&totals, d.code, this, here);
            TargetRow {
                name: say(tr, d.name_zh, d.name_en),
                value: if d.source.is_maintained() {
                    shown(d, f)
                } else if matches!(d.source, Source::Unavailable { .. }) {
                    say(tr, "无法计算（见定义）", "not computable (see definition)")
                } else {
                    say(tr, "来源建设中", "source pending")
                },
                target: d.target.map(|t| t.label(d.unit)).unwrap_or_default(),
                status: d
                    .target
                    .map_or("", |t| status_class(t.compare(value(d, f)))),
                definition_href: definition_href(d.code),
            }
        })
        .collect();

    let computed_at = yiwei_store::indicator::computed_at(&state.store, this)
        .await?
        .map(|t| super::local_time(t, state.config.utc_offset_hours))
        .unwrap_or_else(|| say(tr, "尚未计算", "not computed yet"));
    let parent = match root.parent() {
        Some(p) if user.reach.contains(&p) => {
            let d = yiwei_store::division::get(&state.store, &p).await?;
            Some((p.as_str().to_owned(), d.name))
        }
        _ => None,
    };
    let (map_name, _) = name_pair(tr, map_def.name_zh, map_def.name_en);
    render(&DashboardPage {
        shell: Shell::new(&ctx, &state, "dash.title"),
        division: here.to_owned(),
        division_name: division.name,
        parent,
        year,
        computed_at,
        sections,
        map_code: map_def.code.to_owned(),
        map_name,
        map_choices: rules::catalogue()
            .iter()
            .filter(|d| d.source.is_maintained())
            .map(|d| {
                (
                    d.code,
                    say(tr, d.name_zh, d.name_en),
                    d.code == map_def.code,
                )
            })
            .collect(),
        map_tiles,
        map_width: columns * 92,
        map_height: rows.max(1) * 62,
        legend,
        chart,
        children: child_rows,
        strata,
        strata_overlap,
        targets,
    })
}

fn chart(d: &Definition, values: &[Option<f64>]) -> Option<Chart> {
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    if known.is_empty() {
        return None;
    }
    let (w, h, left, top) = (560.0, 160.0, 40.0, 10.0);
    let mut max = known.iter().copied().fold(0.0f64, f64::max);
    if let Some(t) = d.target {
        max = max.max(t.value());
    }
    let max = if max <= 0.0 { 1.0 } else { max * 1.05 };
    let step = w / 11.0;
    let y = |v: f64| top + h - v / max * h;
    let mut points = Vec::new();
    let mut dots = Vec::new();
    for (i, v) in values.iter().enumerate() {
        if let Some(v) = v {
            let x = left + i as f64 * step;
            points.push(format!("{x:.1},{:.1}", y(*v)));
            dots.push((x, y(*v), format!("{}月: {}", i + 1, trim(*v))));
        }
    }
    Some(Chart {
        points: points.join(" "),
        dots,
        months: (0..12)
            .map(|i| (left + i as f64 * step, format!("{}", i + 1)))
            .collect(),
        target_y: d.target.map(|t| y(t.value())),
        max_label: trim(max),
    })
}

// ---------------------------------------------------------------------------------------
// The catalogue page

pub struct DefinitionView {
    pub code: &'static str,
    pub section: String,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub numerator_zh: &'static str,
    pub numerator_en: &'static str,
    pub denominator_zh: &'static str,
    pub denominator_en: &'static str,
    pub unit: &'static str,
    pub measure: &'static str,
    pub periods: String,
    pub disaggregations: String,
    pub target: String,
    pub rule: &'static str,
    pub source: String,
}

pub(crate) fn definition_views() -> Vec<DefinitionView> {
    rules::catalogue()
        .iter()
        .map(|d| DefinitionView {
            code: d.code,
            section: format!("{} · {}", d.section.name_zh(), d.section.name_en()),
            name_zh: d.name_zh,
            name_en: d.name_en,
            numerator_zh: d.numerator_zh,
            numerator_en: d.numerator_en,
            denominator_zh: d.denominator_zh,
            denominator_en: d.denominator_en,
            unit: d.unit.as_str(),
            measure: match d.measure {
                rules::Measure::Flow => "期内发生数 · flow in the period",
                rules::Measure::PointInTime => "期末时点数 · state on the period end",
            },
            periods: d
                .periods
                .iter()
                .map(|p| match p {
                    PeriodType::Month => "月 month",
                    PeriodType::Quarter => "季 quarter",
                    PeriodType::Year => "年 year",
                })
                .collect::<Vec<_>>()
                .join(", "),
            disaggregations: d
                .disaggregations
                .iter()
                .map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            target: d.target.map(|t| t.label(d.unit)).unwrap_or_default(),
            rule: d.rule,
            source: match d.source {
                Source::Maintained(s) => format!("汇总表 maintained: yiwei_store::indicator ({s})"),
                Source::Live { computation, why } => {
                    format!("实时计算 live: {computation} — {why}")
                }
                Source::Pending { module } => format!("来源建设中 source pending: {module}"),
                Source::Unavailable { why } => format!("无法计算 not computable: {why}"),
            },
        })
        .collect()
}

#[derive(Template)]
#[template(path = "indicator_catalogue.html")]
struct CataloguePage {
    shell: Shell,
    definitions: Vec<DefinitionView>,
}

/// Every indicator's definition, with an anchor per code.
pub async fn catalogue(
    State(state): State<AppState>,
    Staff { ctx, .. }: Staff,
) -> Result<Html<String>, PageError> {
    render(&CataloguePage {
        shell: Shell::new(&ctx, &state, "dash.catalogue"),
        definitions: definition_views(),
    })
}

// ---------------------------------------------------------------------------------------
// JSON

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ApiQuery {
    /// Indicator codes, comma-separated (default: every maintained indicator).
    indicator: Option<String>,
    /// `2025`, `2025-Q1` or `2025-03` (default: this year).
    period: Option<String>,
    /// Division code inside the caller's reach (default: the whole reach).
    division: Option<String>,
    /// `children` for one figure per child division, else the division's own.
    by: Option<String>,
    /// `sex`, `age_group` or `key_group`: beside each total, one figure per stratum of that
    /// dimension, for the indicators whose catalogue entry lists it (sex and age strata add
    /// up to the total; key groups overlap). Not with `by=children`.
    breakdown: Option<String>,
}

/// One figure.
#[derive(Serialize, ToSchema)]
pub struct ApiFigure {
    indicator: String,
    period: String,
    /// The division the figure is for (significant digits).
    division: String,
    /// With `breakdown`: the dimension (`sex`, `age_group`, `key_group`); absent on totals.
    #[serde(skip_serializing_if = "Option::is_none")]
    breakdown: Option<&'static str>,
    /// With `breakdown`: the stratum (`female`, `65+`, `poverty_alleviated`); absent on totals.
    #[serde(skip_serializing_if = "Option::is_none")]
    stratum: Option<String>,
    numerator: i64,
    denominator: i64,
    /// In `unit`; null when the denominator is empty.
    value: Option<f64>,
    /// `%`, `count`, `yuan` or `per 100k`.
    unit: &'static str,
    /// `≥95%`-style target, when the catalogue has one.
    target: Option<String>,
    /// `met`, `missed` or null.
    target_status: Option<&'static str>,
    /// The definition page.
    definition: String,
}

/// The figures of a division.
#[derive(Serialize, ToSchema)]
pub struct ApiFigures {
    figures: Vec<ApiFigure>,
}

/// Maintained indicator figures (aggregates, no personal data) of a division inside the
/// caller's reach.
#[utoipa::path(get, path = "/api/v1/indicators", params(ApiQuery), security(("bearer" = [])),
    responses((status = 200, body = ApiFigures), (status = 400, description = "Bad parameter"),
    (status = 401), (status = 403, description = "Division outside the caller's reach")))]
pub async fn api(
    State(state): State<AppState>,
    ApiUser { user, remote }: ApiUser,
    Query(q): Query<ApiQuery>,
) -> Result<Json<ApiFigures>, ApiError> {
    let invalid =
        |(en, zh): (String, String)| ApiError::new(StatusCode::BAD_REQUEST, "invalid", en, zh);
    let period = match q.period.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Period::Year(today(&state).year()),
        Some(p) => Period::parse(p).map_err(|e| {
            invalid((
                e.to_string(),
                "期间格式应为 2025、2025-Q1 或 2025-03".into(),
            ))
        })?,
    };
    let root = parse_division(q.division.as_deref(), &user.reach).map_err(invalid)?;
    let defs: Vec<&Definition> = match q
        .indicator
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => rules::catalogue()
            .iter()
            .filter(|d| d.source.is_maintained())
            .collect(),
        Some(list) => list
            .split(',')
            .map(|c| {
                rules::by_code(c.trim()).ok_or_else(|| {
                    invalid((format!("unknown indicator {c:?}"), "指标代码不存在".into()))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let codes: Vec<&str> = defs.iter().map(|d| d.code).collect();
    let by_children = match q.by.as_deref() {
        None | Some("") => false,
        Some("children") => true,
        Some(other) => {
            return Err(invalid((
                format!("by must be children, got {other:?}"),
                "by 只能为 children".into(),
            )));
        }
    };
    let dimension = match q.breakdown.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => match breakdown::dimension(name) {
            Some(_) if by_children => {
                return Err(invalid((
                    "breakdown is for one division; leave out by=children".into(),
                    "分组统计只针对单个区划，不能与 by=children 同用".into(),
                )));
            }
            Some(d) => Some(d),
            None => {
                return Err(invalid((
                    format!("breakdown must be sex, age_group or key_group, got {name:?}"),
                    "breakdown 只能为 sex、age_group 或 key_group".into(),
                )));
            }
        },
    };
    let digits = if by_children {
        root.level()
            .child()
            .map_or(root.as_str().len(), |l| l.digits())
    } else {
        root.as_str().len()
    };
    let v = yiwei_store::access::Viewer {
        user: &user,
        remote_addr: remote,
    };
    let refused = |e| match e {
        yiwei_store::access::AccessError::Store(s) => ApiError::from(s),
        _ => ApiError::forbidden("this division is outside your area"),
    };
    let found = indicator_figures(&state.store, &v, &root, &codes, &[period], digits)
        .await
        .map_err(refused)?;
    let mut found: Vec<(Figure, Option<(rules::Disaggregation, String)>)> =
        found.into_iter().map(|f| (f, None)).collect();
    if let Some(dim) = dimension {
        let strata = indicator_strata(&state.store, &v, &root, &codes, period)
            .await
            .map_err(refused)?;
        for s in strata {
            let Some((d, value)) = breakdown::split(&s.breakdown) else {
                continue;
            };
            if d != dim {
                continue;
            }
            let value = value.to_owned();
            found.push((
                Figure {
                    indicator: s.indicator,
                    period: s.period,
                    division_code: root.as_str().to_owned(),
                    fraction: s.fraction,
                },
                Some((dim, value)),
            ));
        }
        // Each total first, then its strata (age bands young to old).
        found.sort_by_key(|(f, s)| {
            (
                f.indicator.clone(),
                s.as_ref().map(|(_, v)| (breakdown::rank(v), v.clone())),
            )
        });
    }
    let figures = found
        .into_iter()
        .filter_map(|(f, stratum)| {
            let d = defs.iter().find(|d| d.code == f.indicator)?;
            let value = f.fraction.value(d.unit);
            Some(ApiFigure {
                breakdown: stratum.as_ref().map(|s| s.0.as_str()),
                stratum: stratum.map(|s| s.1),
                value,
                unit: d.unit.as_str(),
                target: d.target.map(|t| t.label(d.unit)),
                target_status: d.target.and_then(|t| match t.compare(value) {
                    TargetStatus::Met => Some("met"),
                    TargetStatus::Missed => Some("missed"),
                    TargetStatus::Unknown => None,
                }),
                definition: definition_href(d.code),
                indicator: f.indicator,
                period: f.period,
                division: f.division_code,
                numerator: f.fraction.numerator,
                denominator: f.fraction.denominator,
            })
        })
        .collect();
    Ok(Json(ApiFigures { figures }))
}
