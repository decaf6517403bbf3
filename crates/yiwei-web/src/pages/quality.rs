//! The EHR-quality page (档案质量): the record indicators of a division for anyone who sees
//! its aggregates, and the fix-it list of records with problems for those who keep them.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Html;
use chrono::Datelike;
use serde::Deserialize;
use yiwei_domain::division::DivisionCode;
use yiwei_store::access::{self, Viewer};
use yiwei_store::division;

use super::render;
use crate::AppState;
use crate::auth::Staff;
use crate::error::PageError;
use crate::i18n::Lang;
use crate::shell::Shell;

/// Rows of the fix-it list shown at once.
const KEEP: usize = 200;

pub struct Row {
    pub id: i64,
    pub name: String,
    pub village: String,
    pub problems: Vec<String>,
}

#[derive(Template)]
#[template(path = "quality.html")]
struct QualityPage {
    shell: Shell,
    division_name: String,
    records: i64,
    coverage: String,
    standardised_rate: String,
    use_rate: String,
    population: String,
    show_list: bool,
    rows: Vec<Row>,
    truncated: bool,
}

#[derive(Deserialize)]
pub struct QualityQuery {
    division: Option<String>,
}

fn percent(numerator: i64, denominator: Option<i64>) -> String {
    match denominator {
        Some(d) if d > 0 => format!("{:.1}%", numerator as f64 * 100.0 / d as f64),
        _ => "—".to_owned(),
    }
}

pub async fn show(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<QualityQuery>,
) -> Result<Html<String>, PageError> {
    let root = match q.division.as_deref().filter(|d| !d.is_empty()) {
        Some(d) => DivisionCode::parse(d).map_err(|e| PageError::BadRequest(e.to_string()))?,
        None => user.reach.clone(),
    };
    let today = (chrono::Utc::now()
        + chrono::Duration::hours(i64::from(state.config.utc_offset_hours)))
    .date_naive();
    let viewer = Viewer {
        user: &user,
        remote_addr: ctx.remote.clone(),
    };
    let show_list =
        user.role.reads_personal_records() && user.role != yiwei_domain::access::Role::Resident;
    let (figures, flagged) = if show_list {
        access::quality_worklist(&state.store, &viewer, &root, today, KEEP).await?
    } else {
        (
            access::quality_figures(&state.store, &viewer, &root, today).await?,
            Vec::new(),
        )
    };
    let population = division::population(&state.store, &root, today.year()).await?;
    let truncated = flagged.len() >= KEEP;
    let en = ctx.tr.lang == Lang::En;
    let rows = flagged
        .into_iter()
        .map(|f| Row {
            id: f.resident_id,
            name: f.name,
            village: f.village,
            problems: f
                .issues
                .into_iter()
                .map(|i| if en { i.message_en } else { i.message_zh })
                .collect(),
        })
        .collect();
    let d = division::get(&state.store, &root).await?;
    render(&QualityPage {
        shell: Shell::new(&ctx, &state, "quality.title"),
        division_name: d.name,
        records: figures.records,
        coverage: percent(figures.records, population),
        standardised_rate: percent(figures.standardised, population),
        use_rate: percent(figures.in_use, Some(figures.records)),
        population: population.map(|p| p.to_string()).unwrap_or_default(),
        show_list,
        rows,
        truncated,
    })
}
