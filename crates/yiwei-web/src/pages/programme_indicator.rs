//! Programme indicators (基本公共卫生服务考核指标): the figures of a division and of each
//! child division for a period, each figure linking to the residents behind it, each
//! indicator linking to its definition; and the same figures as JSON under
//! `/api/v1/indicators/programmes`.
//!
//! The figures are aggregates (anyone who sees aggregates inside their reach); the lists are
//! personal records (`decide_list_read`, audited once per list). Both come from
//! `yiwei_store::programme_indicator`, which evaluates one definition per indicator.

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use yiwei_domain::access::Role;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::programme::indicator::{IndicatorConfig, IndicatorPeriod, Part};
use yiwei_store::access::{self, Viewer};
use yiwei_store::programme_indicator::{self as store_indicator, Figure};

use super::render;
use crate::AppState;
use crate::auth::{ApiUser, Staff};
use crate::error::{ApiError, PageError};
use crate::i18n::Lang;
use crate::shell::Shell;

/// Residents per page of a list.
const LIST_PAGE: usize = 100;

/// The period and division of a request. The period is, in order of precedence: `from` and
/// `to`; a `month` of `year`; a `quarter` of `year`; the calendar `year` (default: this
/// year).
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct PeriodQuery {
    /// Division code (significant digits or the padded forms); default the viewer's reach.
    division: Option<String>,
    year: Option<String>,
    /// 1–4.
    quarter: Option<String>,
    /// 1–12.
    month: Option<String>,
    /// First day, `YYYY-MM-DD`.
    from: Option<String>,
    /// Last day, `YYYY-MM-DD`.
    to: Option<String>,
}

/// A request that cannot be answered, in both languages.
struct Bad {
    en: String,
    zh: &'static str,
}

fn bad(en: impl Into<String>, zh: &'static str) -> Bad {
    Bad { en: en.into(), zh }
}

impl From<Bad> for PageError {
    fn from(b: Bad) -> Self {
        PageError::BadRequest(format!("{} · {}", b.zh, b.en))
    }
}

impl From<Bad> for ApiError {
    fn from(b: Bad) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", b.en, b.zh)
    }
}

fn some(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn number<T: std::str::FromStr>(
    v: &Option<String>,
    what: &str,
    zh: &'static str,
) -> Result<Option<T>, Bad> {
    some(v)
        .map(|s| {
            s.parse::<T>()
                .map_err(|_| bad(format!("{what} must be a number"), zh))
        })
        .transpose()
}

fn date(v: &str, what: &str) -> Result<NaiveDate, Bad> {
    NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
        bad(
            format!("{what} must be a date like 2025-01-31"),
            "日期格式应为 2025-01-31",
        )
    })
}

impl PeriodQuery {
    fn period(&self, today: NaiveDate) -> Result<IndicatorPeriod, Bad> {
        let year: i32 = number(&self.year, "year", "年份应为数字")?.unwrap_or(today.year());
        let result = match (some(&self.from), some(&self.to)) {
            (Some(from), Some(to)) => IndicatorPeriod::new(date(from, "from")?, date(to, "to")?),
            (Some(_), None) | (None, Some(_)) => {
                return Err(bad("give both from and to", "起止日期须同时填写"));
            }
            (None, None) => match (
                number::<u32>(&self.month, "month", "月份应为数字")?,
                number::<u32>(&self.quarter, "quarter", "季度应为数字")?,
            ) {
                (Some(m), _) => IndicatorPeriod::month(year, m),
                (None, Some(q)) => IndicatorPeriod::quarter(year, q),
                (None, None) => IndicatorPeriod::year(year),
            },
        };
        result.map_err(|e| {
            bad(
                e.to_string(),
                "统计期间有误（起日不得晚于止日，最长5年，季度1–4，月份1–12）",
            )
        })
    }

    fn root(&self, reach: &DivisionCode) -> Result<DivisionCode, Bad> {
        match some(&self.division) {
            Some(d) => {
                DivisionCode::parse(d).map_err(|e| bad(format!("division: {e}"), "区划代码有误"))
            }
            None => Ok(reach.clone()),
        }
    }
}

fn today(state: &AppState) -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(i64::from(state.config.utc_offset_hours)))
        .date_naive()
}

fn rate(f: Figure) -> String {
    f.rate()
        .map_or_else(|| "—".to_owned(), |r| format!("{r:.1}%"))
}

fn ratio(numerator: i64, denominator: i64) -> String {
    if denominator > 0 {
        format!("{:.1}%", numerator as f64 * 100.0 / denominator as f64)
    } else {
        "—".to_owned()
    }
}

/// One figure as the table shows it.
pub struct Cell {
    pub division: String,
    pub division_link: Option<String>,
    pub numerator: u64,
    pub denominator: u64,
    pub rate: String,
    pub below_target: bool,
    pub numerator_href: String,
    pub denominator_href: String,
    pub gap_href: String,
}

pub struct IndicatorRows {
    pub code: String,
    pub name: String,
    pub other_name: String,
    pub target: String,
    pub rows: Vec<Cell>,
}

pub struct SigningRow {
    pub name: String,
    pub signed: i64,
    pub residents: i64,
    pub rate: String,
}

#[derive(Template)]
#[template(path = "programme_indicators.html")]
struct IndicatorsPage {
    shell: Shell,
    division: String,
    division_name: String,
    from: String,
    to: String,
    year: String,
    edition: String,
    children: Vec<(String, String)>,
    indicators: Vec<IndicatorRows>,
    signing: Vec<SigningRow>,
    signing_href: String,
    show_lists: bool,
}

fn list_href(division: &str, period: IndicatorPeriod, code: &str, part: Part) -> String {
    format!(
        "/indicators/programmes/list?division={division}&from={}&to={}&indicator={}&part={}",
        period.from,
        period.to,
        code.replace(':', "%3A"),
        part.as_str()
    )
}

fn may_list(role: Role) -> bool {
    role.reads_personal_records() && role != Role::Resident
}

/// The indicator table of a division and its children.
pub async fn show(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<PeriodQuery>,
) -> Result<Html<String>, PageError> {
    let period = q.period(today(&state))?;
    let root = q.root(&user.reach)?;
    let viewer = Viewer {
        user: &user,
        remote_addr: ctx.remote.clone(),
    };
    let report = access::programme_indicators(
        &state.store,
        &viewer,
        &root,
        period,
        &IndicatorConfig::default(),
    )
    .await?;
    let en = ctx.tr.lang == Lang::En;
    let show_lists = may_list(user.role);
    let divisions: Vec<(&store_indicator::DivisionFigures, bool)> =
        std::iter::once((&report.root, false))
            .chain(report.children.iter().map(|c| (c, true)))
            .collect();
    let indicators = report
        .indicators
        .iter()
        .enumerate()
        .map(|(i, ind)| IndicatorRows {
            code: ind.code.clone(),
            name: if en {
                ind.name_en.clone()
            } else {
                ind.name_zh.clone()
            },
            other_name: if en {
                ind.name_zh.clone()
            } else {
                ind.name_en.clone()
            },
            target: ind.target.map(|t| format!("≥{t}%")).unwrap_or_default(),
            rows: divisions
                .iter()
                .map(|(d, child)| {
                    let f = d.figures[i];
                    Cell {
                        division: d.name.clone(),
                        division_link: child.then(|| {
                            format!(
                                "/indicators/programmes?division={}&from={}&to={}",
                                d.code, period.from, period.to
                            )
                        }),
                        numerator: f.numerator,
                        denominator: f.denominator,
                        rate: rate(f),
                        below_target: ind
                            .target
                            .zip(f.rate())
                            .is_some_and(|(t, r)| r < f64::from(t)),
                        numerator_href: list_href(&d.code, period, &ind.code, Part::Numerator),
                        denominator_href: list_href(&d.code, period, &ind.code, Part::Denominator),
                        gap_href: list_href(&d.code, period, &ind.code, Part::Gap),
                    }
                })
                .collect(),
        })
        .collect();
    let s = &report.signing.root;
    let mut signing = vec![
        SigningRow {
            name: ctx.tr.t("pi.signing_all").to_owned(),
            signed: s.signed,
            residents: s.residents,
            rate: ratio(s.signed, s.residents),
        },
        SigningRow {
            name: ctx.tr.t("pi.signing_key").to_owned(),
            signed: s.key_signed,
            residents: s.key_residents,
            rate: ratio(s.key_signed, s.key_residents),
        },
    ];
    signing.extend(s.groups.iter().map(|(g, residents, signed)| SigningRow {
        name: if en { g.name_en() } else { g.name_zh() }.to_owned(),
        signed: *signed,
        residents: *residents,
        rate: ratio(*signed, *residents),
    }));
    render(&IndicatorsPage {
        shell: Shell::new(&ctx, &state, "pi.title"),
        division: report.root.code.clone(),
        division_name: report.root.name.clone(),
        from: period.from.to_string(),
        to: period.to.to_string(),
        year: period.to.year().to_string(),
        edition: report.edition.to_owned(),
        children: report
            .children
            .iter()
            .map(|c| (c.code.clone(), c.name.clone()))
            .collect(),
        indicators,
        signing,
        signing_href: format!(
            "/contracts/coverage?division={}&on={}",
            report.root.code, period.to
        ),
        show_lists,
    })
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    period: PeriodQuery,
    indicator: Option<String>,
    part: Option<String>,
    page: Option<String>,
}

pub struct ListRow {
    pub id: i64,
    pub name: String,
    pub village: String,
    pub counted: String,
    pub why: String,
}

#[derive(Template)]
#[template(path = "programme_indicator_list.html")]
struct ListPage {
    shell: Shell,
    indicator_code: String,
    indicator_name: String,
    part_key: &'static str,
    division_name: String,
    from: String,
    to: String,
    total: u64,
    rows: Vec<ListRow>,
    prev: Option<String>,
    next: Option<String>,
    back: String,
}

/// The residents behind one figure.
pub async fn list(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, PageError> {
    let period = q.period.period(today(&state))?;
    let root = q.period.root(&user.reach)?;
    let code = some(&q.indicator).ok_or_else(|| bad("name an indicator", "请指定指标"))?;
    let part = match some(&q.part) {
        None => Part::Gap,
        Some(p) => Part::parse(p).ok_or_else(|| {
            bad(
                "part must be numerator, denominator or gap",
                "part 应为 numerator、denominator 或 gap",
            )
        })?,
    };
    let page: usize = number(&q.page, "page", "页码应为数字")?.unwrap_or(1).max(1);
    let viewer = Viewer {
        user: &user,
        remote_addr: ctx.remote.clone(),
    };
    let list = access::programme_indicator_list(
        &state.store,
        &viewer,
        &root,
        period,
        &IndicatorConfig::default(),
        code,
        part,
        (LIST_PAGE, (page - 1) * LIST_PAGE),
    )
    .await?;
    let en = ctx.tr.lang == Lang::En;
    let division = yiwei_store::division::get(&state.store, &root).await?;
    let base = list_href(root.as_str(), period, code, part);
    let pages = (list.total as usize).div_ceil(LIST_PAGE).max(1);
    render(&ListPage {
        shell: Shell::new(&ctx, &state, "pi.list_title"),
        indicator_code: list.indicator.code.clone(),
        indicator_name: if en {
            list.indicator.name_en.clone()
        } else {
            list.indicator.name_zh.clone()
        },
        part_key: match part {
            Part::Numerator => "pi.numerator",
            Part::Denominator => "pi.denominator",
            Part::Gap => "pi.gap",
        },
        division_name: division.name,
        from: period.from.to_string(),
        to: period.to.to_string(),
        total: list.total,
        rows: list
            .rows
            .into_iter()
            .map(|r| ListRow {
                id: r.resident_id,
                name: r.name,
                village: r.village,
                counted: format!("{} / {}", r.count.numerator, r.count.denominator),
                why: store_indicator::reasons(&r.count.shortfalls, en),
            })
            .collect(),
        prev: (page > 1).then(|| format!("{base}&page={}", page - 1)),
        next: (page < pages).then(|| format!("{base}&page={}", page + 1)),
        back: format!(
            "/indicators/programmes?division={}&from={}&to={}",
            root.as_str(),
            period.from,
            period.to
        ),
    })
}

pub struct Definition {
    pub code: String,
    pub name: String,
    pub other_name: String,
    pub numerator: String,
    pub denominator: String,
    pub unit: String,
    pub source: String,
    pub target: String,
}

#[derive(Template)]
#[template(path = "programme_indicator_definitions.html")]
struct DefinitionsPage {
    shell: Shell,
    edition: String,
    definitions: Vec<Definition>,
}

/// Every indicator's definition (numerator, denominator, source), anchored by code.
pub async fn definitions(
    State(state): State<AppState>,
    Staff { ctx, .. }: Staff,
    Query(q): Query<PeriodQuery>,
) -> Result<Html<String>, PageError> {
    let period = q.period(today(&state))?;
    let en = ctx.tr.lang == Lang::En;
    let edition = store_indicator::edition_for(period.to);
    let definitions = store_indicator::catalogue(&IndicatorConfig::default(), period)
        .into_iter()
        .map(|i| Definition {
            name: if en {
                i.name_en.clone()
            } else {
                i.name_zh.clone()
            },
            other_name: if en {
                i.name_zh.clone()
            } else {
                i.name_en.clone()
            },
            numerator: if en { i.numerator_en } else { i.numerator_zh },
            denominator: if en {
                i.denominator_en
            } else {
                i.denominator_zh
            },
            unit: i.unit.to_owned(),
            source: i.source,
            target: i.target.map(|t| format!("≥{t}%")).unwrap_or_default(),
            code: i.code,
        })
        .collect();
    render(&DefinitionsPage {
        shell: Shell::new(&ctx, &state, "pi.definitions"),
        edition: if en { edition.name_en } else { edition.name_zh }.to_owned(),
        definitions,
    })
}

/// One indicator's figure in one division.
#[derive(Serialize, ToSchema)]
pub struct ApiFigure {
    numerator: u64,
    denominator: u64,
    /// Percent, absent when the denominator is 0.
    rate: Option<f64>,
}

/// An indicator of the catalogue.
#[derive(Serialize, ToSchema)]
pub struct ApiIndicator {
    /// Stable code, e.g. `hypertension_standard`, `vaccine:hepb:1`.
    code: String,
    programme: &'static str,
    name_zh: String,
    name_en: String,
    numerator_zh: String,
    numerator_en: String,
    denominator_zh: String,
    denominator_en: String,
    unit: &'static str,
    source: String,
    /// Target rate in percent, where one is set.
    target: Option<u32>,
}

/// The figures of one division, in the order of `indicators`.
#[derive(Serialize, ToSchema)]
pub struct ApiDivision {
    code: String,
    name: String,
    figures: Vec<ApiFigure>,
}

/// Signing coverage (签约服务覆盖率) on the period end, from the contract module.
#[derive(Serialize, ToSchema)]
pub struct ApiSigning {
    on: String,
    residents: i64,
    signed: i64,
    key_residents: i64,
    key_signed: i64,
    /// Per key group: code, residents, signed.
    groups: Vec<(String, i64, i64)>,
}

/// Programme indicators of a division and its children for a period.
#[derive(Serialize, ToSchema)]
pub struct ApiIndicators {
    from: String,
    to: String,
    /// The immunization edition the dose indicators follow.
    edition: &'static str,
    indicators: Vec<ApiIndicator>,
    division: ApiDivision,
    children: Vec<ApiDivision>,
    signing: ApiSigning,
}

fn api_division(d: store_indicator::DivisionFigures) -> ApiDivision {
    ApiDivision {
        code: d.code,
        name: d.name,
        figures: d
            .figures
            .into_iter()
            .map(|f| ApiFigure {
                numerator: f.numerator,
                denominator: f.denominator,
                rate: f.rate(),
            })
            .collect(),
    }
}

/// Every programme indicator (规范管理率, 控制率, dose coverage and timeliness, 65+, maternal,
/// child, TB, screening, signing coverage) of a division and of each child division for a
/// period. Aggregates only; the residents behind a figure are on the web page's lists.
#[utoipa::path(get, path = "/api/v1/indicators/programmes", security(("bearer" = [])),
    params(PeriodQuery),
    responses((status = 200, body = ApiIndicators),
        (status = 400, description = "Malformed division or period"),
        (status = 403, description = "Outside the caller's reach"),
        (status = 404, description = "No such division")))]
pub async fn api(
    State(state): State<AppState>,
    ApiUser { user, remote }: ApiUser,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<ApiIndicators>, ApiError> {
    let period = q.period(today(&state))?;
    let root = q.root(&user.reach)?;
    let viewer = Viewer {
        user: &user,
        remote_addr: remote,
    };
    let report = access::programme_indicators(
        &state.store,
        &viewer,
        &root,
        period,
        &IndicatorConfig::default(),
    )
    .await
    .map_err(|e| match e {
        access::AccessError::Store(s) => ApiError::from(s),
        _ => ApiError::forbidden("this division is outside your area"),
    })?;
    let s = report.signing.root;
    Ok(Json(ApiIndicators {
        from: period.from.to_string(),
        to: period.to.to_string(),
        edition: report.edition,
        indicators: report
            .indicators
            .into_iter()
            .map(|i| ApiIndicator {
                code: i.code,
                programme: i.programme,
                name_zh: i.name_zh,
                name_en: i.name_en,
                numerator_zh: i.numerator_zh,
                numerator_en: i.numerator_en,
                denominator_zh: i.denominator_zh,
                denominator_en: i.denominator_en,
                unit: i.unit,
                source: i.source,
                target: i.target,
            })
            .collect(),
        division: api_division(report.root),
        children: report.children.into_iter().map(api_division).collect(),
        signing: ApiSigning {
            on: report.signing.on.to_string(),
            residents: s.residents,
            signed: s.signed,
            key_residents: s.key_residents,
            key_signed: s.key_signed,
            groups: s
                .groups
                .iter()
                .map(|(g, n, signed)| (g.code().to_owned(), *n, *signed))
                .collect(),
        },
    }))
}
