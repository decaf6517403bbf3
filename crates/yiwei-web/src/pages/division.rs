//! Division pages: a division, its subdivisions and aggregate figures, inside the user's reach.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use yiwei_domain::access::may_see_aggregate;
use yiwei_domain::division::{DivisionCode, Level};
use yiwei_store::audit::{self, Action, Event};
use yiwei_store::{division, org, resident};

use super::render;
use crate::AppState;
use crate::auth::Staff;
use crate::error::PageError;
use crate::shell::Shell;

pub struct Crumb {
    pub code: String,
    pub name: String,
}

pub struct ChildRow {
    pub code: String,
    pub name: String,
    pub count: i64,
}

#[derive(Template)]
#[template(path = "divisions.html")]
struct DivisionPage {
    shell: Shell,
    code: String,
    display_code: String,
    name: String,
    level_key: &'static str,
    residents: i64,
    institutions: i64,
    crumbs: Vec<Crumb>,
    children: Vec<ChildRow>,
    can_list_residents: bool,
}

pub fn level_key(level: Level) -> &'static str {
    match level {
        Level::Province => "level.province",
        Level::Prefecture => "level.prefecture",
        Level::County => "level.county",
        Level::Township => "level.township",
        Level::Village => "level.village",
    }
}

pub async fn index(Staff { user, .. }: Staff) -> Response {
    Redirect::to(&format!("/divisions/{}", user.reach.as_str())).into_response()
}

pub async fn show(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(code): Path<String>,
) -> Result<Html<String>, PageError> {
    let code = DivisionCode::parse(&code).map_err(|e| PageError::BadRequest(e.to_string()))?;
    if !may_see_aggregate(&user.actor(), &code) {
        let event = Event::new(user.who(), Action::Denied)
            .outcome("denied")
            .object("division", code.as_str())
            .basis("outside_reach")
            .reason("read")
            .from_addr(ctx.remote.clone());
        audit::append(&state.store, &event).await?;
        return Err(PageError::Forbidden);
    }
    let d = division::get(&state.store, &code).await?;
    let mut crumbs = Vec::new();
    let mut up = d.parent.clone();
    while let Some(p) = up {
        if !user.reach.contains(&p) {
            break;
        }
        let pd = division::get(&state.store, &p).await?;
        crumbs.push(Crumb {
            code: p.as_str().to_owned(),
            name: pd.name,
        });
        up = pd.parent;
    }
    crumbs.reverse();
    let counts = resident::count_by_child(&state.store, &code).await?;
    let children = division::children(&state.store, &code)
        .await?
        .into_iter()
        .map(|c| ChildRow {
            count: counts
                .iter()
                .find(|n| n.0 == c.code.as_str())
                .map_or(0, |n| n.1),
            code: c.code.as_str().to_owned(),
            name: c.name,
        })
        .collect();
    let filter = org::Filter {
        within: Some(code.clone()),
        ..Default::default()
    };
    let (_, institutions) = org::list(&state.store, &filter, 1, 0).await?;
    let shell = Shell::new(&ctx, &state, "division.title").with_title(d.name.clone());
    render(&DivisionPage {
        shell,
        code: code.as_str().to_owned(),
        display_code: code.to_string(),
        name: d.name,
        level_key: level_key(d.level),
        residents: counts.iter().map(|c| c.1).sum(),
        institutions,
        crumbs,
        children,
        can_list_residents: user.role.reads_personal_records(),
    })
}
