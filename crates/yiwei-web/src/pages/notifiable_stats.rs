//! 传染病统计 pages: case statistics (`/cdc/statistics`) and reporting timeliness per
//! institution (`/cdc/timeliness`). Aggregates only, no personal data: any staff role may
//! see them for an area inside its reach.
//!
//! **Statistics.** Cards that count (pending, probable duplicate, accepted; by the local
//! diagnosis date, live from the cards via `notifiable::village_counts`) inside the area,
//! optionally of one disease, between two dates (inclusive): per disease, per
//! sub-division (the townships of a county, the villages of a township) with the area's
//! total, and per week (ISO, Monday to Sunday), month or year; plus an epidemic curve of
//! weekly bars as inline SVG. Incidence is cases per 100,000 of the 常住人口
//! (`division::population`) of the year in which the row's period starts (for the disease
//! and area tables: the year of the start date). It is the rate over the period, not
//! annualised; where no population is known there is no rate, not a guess. `?format=csv`
//! downloads the three tables as one CSV (UTF-8 with BOM so spreadsheet programs read the
//! Chinese).
//!
//! **Timeliness.** 报告及时率 = cards reported within their deadline (2 h or 24 h from
//! diagnosis) / cards reported, per reporting institution and overall, for initial cards
//! diagnosed in the period (`notifiable::timeliness_by_institution`), with each
//! institution's median minutes from diagnosis to report. The overall median is not shown:
//! it cannot be derived from per-institution medians.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Duration, NaiveDate};
use serde::Deserialize;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::notifiable::disease;
use yiwei_store::division;
use yiwei_store::notifiable;
use yiwei_store::user::User;

use super::render;
use super::say;
use crate::AppState;
use crate::auth::Staff;
use crate::error::PageError;
use crate::i18n::{Lang, Tr};
use crate::shell::Shell;

/// The longest period a page covers (10 years).
const MAX_DAYS: i64 = 3660;

/// How the period rows are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grouping {
    Week,
    Month,
    Year,
}

impl Grouping {
    fn parse(s: &str) -> Option<Grouping> {
        match s {
            "" | "week" => Some(Grouping::Week),
            "month" => Some(Grouping::Month),
            "year" => Some(Grouping::Year),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Grouping::Week => "week",
            Grouping::Month => "month",
            Grouping::Year => "year",
        }
    }

    /// The first day of the period holding `day`.
    fn start(self, day: NaiveDate) -> NaiveDate {
        match self {
            Grouping::Week => day - Duration::days(day.weekday().num_days_from_monday().into()),
            Grouping::Month => day.with_day(1).unwrap_or(day),
            Grouping::Year => NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day),
        }
    }

    /// The first day of the next period after the one starting on `start`.
    fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Grouping::Week => start + Duration::days(7),
            Grouping::Month => start
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(start + Duration::days(31)),
            Grouping::Year => NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
                .unwrap_or(start + Duration::days(366)),
        }
    }

    fn label(self, start: NaiveDate) -> String {
        match self {
            Grouping::Week => start.format("%G-W%V").to_string(),
            Grouping::Month => start.format("%Y-%m").to_string(),
            Grouping::Year => start.format("%Y").to_string(),
        }
    }
}

/// Cases per 100,000, to two decimals; empty where the population is unknown or zero.
pub fn incidence(cases: i64, population: Option<i64>) -> String {
    match population {
        Some(p) if p > 0 => format!("{:.2}", cases as f64 * 100_000.0 / p as f64),
        _ => String::new(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct StatsQuery {
    #[serde(default)]
    disease: String,
    #[serde(default)]
    area: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    format: String,
}

pub struct Row {
    pub code: String,
    pub name: String,
    pub cases: i64,
    pub population: String,
    pub incidence: String,
}

pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub height: f64,
    pub label: String,
    pub n: i64,
}

#[derive(Template)]
#[template(path = "case_stats.html")]
struct StatsPage {
    shell: Shell,
    error: Option<String>,
    disease: String,
    area: String,
    area_name: String,
    from: String,
    to: String,
    group: String,
    diseases: Vec<(String, String)>,
    by_disease: Vec<Row>,
    by_area: Vec<Row>,
    total: Option<Row>,
    by_period: Vec<Row>,
    bars: Vec<Bar>,
    bar_width: f64,
    chart_width: f64,
    chart_height: f64,
    chart_max: i64,
    csv_link: String,
}

/// The area a user's figures default to: their reach inside the county, else the county.
fn default_area(state: &AppState, user: &User) -> DivisionCode {
    if state.config.county.contains(&user.reach) {
        user.reach.clone()
    } else {
        state.config.county.clone()
    }
}

fn today(state: &AppState) -> NaiveDate {
    state.config.notifiable.to_local(chrono::Utc::now()).date()
}

/// The filters read from a query: (area, disease, from, to, grouping), or a message
/// naming the bad field.
type Filters = (DivisionCode, Option<String>, NaiveDate, NaiveDate, Grouping);

fn filters(q: &StatsQuery, state: &AppState, user: &User, tr: Tr) -> Result<Filters, String> {
    let area = if q.area.trim().is_empty() {
        default_area(state, user)
    } else {
        DivisionCode::parse(q.area.trim()).map_err(|_| {
            say(
                tr,
                &format!("地区代码 {} 无效：应为 6、9 或 12 位行政区划代码", q.area),
                &format!(
                    "area {:?} is not a division code: give 6, 9 or 12 digits (e.g. 451226100)",
                    q.area
                ),
            )
        })?
    };
    let disease = match q.disease.trim() {
        "" => None,
        code if disease::by_code(code).is_some() => Some(code.to_owned()),
        code => {
            return Err(say(
                tr,
                &format!("未知病种 {code}"),
                &format!("unknown disease {code:?}; choose one from the list"),
            ));
        }
    };
    let date = |text: &str, name_zh: &str, name_en: &str| -> Result<Option<NaiveDate>, String> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                say(
                    tr,
                    &format!("{name_zh} {text} 不是有效日期（YYYY-MM-DD）"),
                    &format!("{name_en} {text:?} is not a date (YYYY-MM-DD)"),
                )
            })
    };
    let to = date(&q.to, "截止日期", "to")?.unwrap_or_else(|| today(state));
    let from = date(&q.from, "起始日期", "from")?
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(to.year(), 1, 1).unwrap_or(to));
    if from > to {
        return Err(say(
            tr,
            "起始日期晚于截止日期",
            "the start date is after the end date",
        ));
    }
    if (to - from).num_days() > MAX_DAYS {
        return Err(say(
            tr,
            "时间跨度不能超过 10 年",
            "choose a period of at most 10 years",
        ));
    }
    let group = Grouping::parse(q.group.trim()).ok_or_else(|| {
        say(
            tr,
            "分组须为周、月或年",
            "group must be week, month or year",
        )
    })?;
    Ok((area, disease, from, to, group))
}

/// The three tables and the weekly curve of a period.
pub struct Figures {
    pub by_disease: Vec<Row>,
    pub by_area: Vec<Row>,
    pub total: Row,
    pub by_period: Vec<Row>,
    /// Weekly counts: (Monday, cases).
    pub weeks: Vec<(NaiveDate, i64)>,
}

#[expect(clippy::too_many_arguments, reason = "the filters of one query, named")]
async fn figures(
    state: &AppState,
    area: &DivisionCode,
    area_name: &str,
    disease_filter: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
    group: Grouping,
    tr: Tr,
) -> Result<Figures, PageError> {
    let store = &state.store;
    let counts = notifiable::village_counts(store, area, from, to, disease_filter).await?;
    let population = division::population(store, area, from.year()).await?;

    let mut per_disease: BTreeMap<&str, i64> = BTreeMap::new();
    for c in &counts {
        *per_disease.entry(c.disease.as_str()).or_default() += c.n;
    }
    let mut by_disease: Vec<Row> = per_disease
        .into_iter()
        .map(|(code, n)| Row {
            code: code.to_owned(),
            name: disease::by_code(code)
                .map_or_else(|| code.to_owned(), |d| say(tr, d.name_zh, d.name_en)),
            cases: n,
            population: population.map(|p| p.to_string()).unwrap_or_default(),
            incidence: incidence(n, population),
        })
        .collect();
    by_disease.sort_by(|a, b| b.cases.cmp(&a.cases).then(a.code.cmp(&b.code)));

    let mut by_area = Vec::new();
    for child in division::children(store, area).await? {
        let prefix = child.code.as_str();
        let n: i64 = counts
            .iter()
            .filter(|c| c.division.starts_with(prefix))
            .map(|c| c.n)
            .sum();
        let p = division::population(store, &child.code, from.year()).await?;
        by_area.push(Row {
            code: child.code.as_str().to_owned(),
            name: if tr.lang == Lang::En && !child.name_en.is_empty() {
                child.name_en.clone()
            } else {
                child.name.clone()
            },
            cases: n,
            population: p.map(|p| p.to_string()).unwrap_or_default(),
            incidence: incidence(n, p),
        });
    }
    let all: i64 = counts.iter().map(|c| c.n).sum();
    let total = Row {
        code: area.as_str().to_owned(),
        name: area_name.to_owned(),
        cases: all,
        population: population.map(|p| p.to_string()).unwrap_or_default(),
        incidence: incidence(all, population),
    };

    let mut per_period: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    let mut start = group.start(from);
    while start <= to {
        per_period.insert(start, 0);
        start = group.next(start);
    }
    for c in &counts {
        *per_period.entry(group.start(c.day)).or_default() += c.n;
    }
    let mut populations: BTreeMap<i32, Option<i64>> = BTreeMap::new();
    let mut by_period = Vec::new();
    for (start, n) in per_period {
        let year = start.max(from).year();
        let p = match populations.get(&year) {
            Some(p) => *p,
            None => {
                let p = division::population(store, area, year).await?;
                populations.insert(year, p);
                p
            }
        };
        by_period.push(Row {
            code: start.to_string(),
            name: group.label(start),
            cases: n,
            population: p.map(|p| p.to_string()).unwrap_or_default(),
            incidence: incidence(n, p),
        });
    }

    let mut weeks: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    let mut monday = Grouping::Week.start(from);
    while monday <= to {
        weeks.insert(monday, 0);
        monday += Duration::days(7);
    }
    for c in &counts {
        *weeks.entry(Grouping::Week.start(c.day)).or_default() += c.n;
    }
    Ok(Figures {
        by_disease,
        by_area,
        total,
        by_period,
        weeks: weeks.into_iter().collect(),
    })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The three tables as CSV: `table,code,name,cases,population,incidence_per_100000`.
pub fn to_csv(f: &Figures) -> String {
    let mut out = String::from("\u{feff}table,code,name,cases,population,incidence_per_100000\n");
    let mut put = |table: &str, r: &Row| {
        out.push_str(&format!(
            "{table},{},{},{},{},{}\n",
            csv_field(&r.code),
            csv_field(&r.name),
            r.cases,
            r.population,
            r.incidence
        ));
    };
    for r in &f.by_disease {
        put("disease", r);
    }
    for r in &f.by_area {
        put("area", r);
    }
    put("total", &f.total);
    for r in &f.by_period {
        put("period", r);
    }
    out
}

fn urlencode(s: &str) -> String {
    super::org::urlencode(s)
}

pub async fn statistics(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<StatsQuery>,
) -> Result<Response, PageError> {
    let tr = ctx.tr;
    if !user.role.sees_aggregates() {
        return Err(PageError::Forbidden);
    }
    let diseases: Vec<(String, String)> = disease::DISEASES
        .iter()
        .map(|d| (d.code.to_owned(), say(tr, d.name_zh, d.name_en)))
        .collect();
    let shell = Shell::new(&ctx, &state, "stats.title");
    let mut page = StatsPage {
        shell,
        error: None,
        disease: q.disease.clone(),
        area: q.area.clone(),
        area_name: String::new(),
        from: q.from.clone(),
        to: q.to.clone(),
        group: if q.group.is_empty() {
            "week".into()
        } else {
            q.group.clone()
        },
        diseases,
        by_disease: Vec::new(),
        by_area: Vec::new(),
        total: None,
        by_period: Vec::new(),
        bars: Vec::new(),
        bar_width: 1.0,
        chart_width: 560.0,
        chart_height: 160.0,
        chart_max: 0,
        csv_link: String::new(),
    };
    let (area, disease_code, from, to, group) = match filters(&q, &state, &user, tr) {
        Ok(f) => f,
        Err(message) => {
            page.error = Some(message);
            return Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response());
        }
    };
    if !yiwei_domain::access::may_see_aggregate(&user.actor(), &area) {
        return Err(PageError::Forbidden);
    }
    let area_division = match division::get(&state.store, &area).await {
        Ok(d) => d,
        Err(yiwei_store::StoreError::NotFound(_)) => {
            page.error = Some(say(
                tr,
                &format!("没有行政区划 {area}"),
                &format!("there is no division {area} in this county"),
            ));
            return Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let area_name = if tr.lang == Lang::En && !area_division.name_en.is_empty() {
        area_division.name_en.clone()
    } else {
        area_division.name.clone()
    };
    let f = figures(
        &state,
        &area,
        &area_name,
        disease_code.as_deref(),
        from,
        to,
        group,
        tr,
    )
    .await?;
    if q.format == "csv" {
        let name = format!("cases-{}-{from}-{to}.csv", area.as_str());
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            to_csv(&f),
        )
            .into_response());
    }
    let max = f.weeks.iter().map(|w| w.1).max().unwrap_or(0).max(1);
    let scale = (page.chart_height - 10.0) / max as f64;
    let w = page.chart_width / f.weeks.len().max(1) as f64;
    page.bar_width = (w - 1.0).max(1.0);
    page.chart_max = max;
    page.bars = f
        .weeks
        .iter()
        .enumerate()
        .map(|(i, (monday, n))| Bar {
            x: i as f64 * w,
            y: page.chart_height - *n as f64 * scale,
            height: *n as f64 * scale,
            label: Grouping::Week.label(*monday),
            n: *n,
        })
        .collect();
    page.csv_link = format!(
        "/cdc/statistics?disease={}&area={}&from={from}&to={to}&group={}&format=csv",
        urlencode(disease_code.as_deref().unwrap_or("")),
        area.as_str(),
        group.as_str()
    );
    page.area = area.as_str().to_owned();
    page.area_name = area_name;
    page.from = from.to_string();
    page.to = to.to_string();
    page.group = group.as_str().to_owned();
    page.by_disease = f.by_disease;
    page.by_area = f.by_area;
    page.total = Some(f.total);
    page.by_period = f.by_period;
    Ok(render(&page)?.into_response())
}

// ---------------------------------------------------------------------------------------
// Timeliness.

pub struct TimelinessRow {
    pub name: String,
    pub reported: i64,
    pub on_time: i64,
    pub rate: String,
    pub median: String,
}

#[derive(Template)]
#[template(path = "timeliness.html")]
struct TimelinessPage {
    shell: Shell,
    error: Option<String>,
    area: String,
    area_name: String,
    from: String,
    to: String,
    rows: Vec<TimelinessRow>,
    overall: Option<TimelinessRow>,
}

/// on time / reported as a percentage to one decimal; empty when nothing was reported.
pub fn rate(on_time: i64, reported: i64) -> String {
    if reported == 0 {
        String::new()
    } else {
        format!("{:.1}%", on_time as f64 * 100.0 / reported as f64)
    }
}

fn minutes(m: Option<i64>) -> String {
    m.map(|m| format!("{}:{:02}", m / 60, m % 60))
        .unwrap_or_default()
}

pub async fn timeliness(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<StatsQuery>,
) -> Result<Response, PageError> {
    let tr = ctx.tr;
    if !user.role.sees_aggregates() {
        return Err(PageError::Forbidden);
    }
    let mut page = TimelinessPage {
        shell: Shell::new(&ctx, &state, "timeliness.title"),
        error: None,
        area: q.area.clone(),
        area_name: String::new(),
        from: q.from.clone(),
        to: q.to.clone(),
        rows: Vec::new(),
        overall: None,
    };
    let (area, _, from, to, _) = match filters(
        &StatsQuery {
            disease: String::new(),
            group: String::new(),
            ..q
        },
        &state,
        &user,
        tr,
    ) {
        Ok(f) => f,
        Err(message) => {
            page.error = Some(message);
            return Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response());
        }
    };
    if !yiwei_domain::access::may_see_aggregate(&user.actor(), &area) {
        return Err(PageError::Forbidden);
    }
    let area_division = division::get(&state.store, &area)
        .await
        .map_err(|e| match e {
            yiwei_store::StoreError::NotFound(_) => PageError::BadRequest(say(
                tr,
                &format!("没有行政区划 {area}"),
                &format!("there is no division {area} in this county"),
            )),
            other => other.into(),
        })?;
    let list =
        notifiable::timeliness_by_institution(&state.store, &area, from, to + Duration::days(1))
            .await?;
    let (reported, on_time) = list
        .iter()
        .fold((0, 0), |(r, o), t| (r + t.reported, o + t.on_time));
    page.rows = list
        .into_iter()
        .map(|t| TimelinessRow {
            rate: rate(t.on_time, t.reported),
            median: minutes(t.median_minutes),
            name: t.institution_name,
            reported: t.reported,
            on_time: t.on_time,
        })
        .collect();
    page.overall = Some(TimelinessRow {
        name: say(tr, "合计", "All institutions"),
        reported,
        on_time,
        rate: rate(on_time, reported),
        median: String::new(),
    });
    page.area = area.as_str().to_owned();
    page.area_name = area_division.name;
    page.from = from.to_string();
    page.to = to.to_string();
    Ok(render(&page)?.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn periods_start_on_monday_the_first_of_the_month_or_new_year() {
        assert_eq!(Grouping::Week.start(day(2026, 1, 1)), day(2025, 12, 29));
        assert_eq!(Grouping::Week.label(day(2025, 12, 29)), "2026-W01");
        assert_eq!(Grouping::Month.start(day(2026, 2, 17)), day(2026, 2, 1));
        assert_eq!(Grouping::Month.next(day(2026, 1, 1)), day(2026, 2, 1));
        assert_eq!(Grouping::Year.start(day(2026, 7, 4)), day(2026, 1, 1));
        assert_eq!(Grouping::Year.next(day(2026, 1, 1)), day(2027, 1, 1));
        assert_eq!(Grouping::parse("day"), None);
    }

    #[test]
    fn incidence_is_per_100000_and_absent_without_a_population() {
        assert_eq!(incidence(5, Some(30_000)), "16.67");
        assert_eq!(incidence(0, Some(30_000)), "0.00");
        assert_eq!(incidence(3, None), "");
        assert_eq!(incidence(3, Some(0)), "");
        assert_eq!(rate(2, 3), "66.7%");
        assert_eq!(rate(0, 0), "");
        assert_eq!(minutes(Some(125)), "2:05");
    }
}
