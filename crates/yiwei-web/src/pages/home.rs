//! The home page: a workbench per role.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use yiwei_domain::access::Role;
use yiwei_domain::division::Level;
use yiwei_store::{division, org, resident};

use super::render;
use crate::AppState;
use crate::auth::Staff;
use crate::error::PageError;
use crate::shell::{Shell, role_key};

pub struct Tile {
    pub href: String,
    pub label_key: &'static str,
    pub value: i64,
}

pub struct ChildRow {
    pub code: String,
    pub name: String,
    pub count: i64,
    pub percent: i64,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    shell: Shell,
    display_name: String,
    role_code: &'static str,
    role_label: String,
    reach_name: String,
    reach_code: String,
    institution: Option<String>,
    is_resident: bool,
    tiles: Vec<Tile>,
    by_child: Vec<ChildRow>,
}

pub async fn show(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
) -> Result<Html<String>, PageError> {
    let tr = ctx.tr;
    let reach = division::get(&state.store, &user.reach).await?;
    let institution = match user.institution_id {
        Some(id) => Some(org::get(&state.store, id).await?.name),
        None => None,
    };
    let mut tiles = Vec::new();
    let mut by_child = Vec::new();
    if user.role != Role::Resident {
        let root = &user.reach;
        let townships = division::count_at_level(&state.store, root, Level::Township).await?;
        let villages = division::count_at_level(&state.store, root, Level::Village).await?;
        let filter = org::Filter {
            within: Some(root.clone()),
            ..Default::default()
        };
        let (_, institutions) = org::list(&state.store, &filter, 1, 0).await?;
        let counts = resident::count_by_child(&state.store, root).await?;
        let residents: i64 = counts.iter().map(|c| c.1).sum();
        let code = root.as_str();
        if root.level() <= Level::County {
            tiles.push(Tile {
                href: format!("/divisions/{code}"),
                label_key: "home.townships",
                value: townships,
            });
        }
        tiles.push(Tile {
            href: format!("/divisions/{code}"),
            label_key: "home.villages",
            value: villages,
        });
        tiles.push(Tile {
            href: format!("/orgs?within={code}"),
            label_key: "home.institutions",
            value: institutions,
        });
        let residents_href = if user.role.reads_personal_records() {
            format!("/residents?division={code}")
        } else {
            format!("/divisions/{code}")
        };
        tiles.push(Tile {
            href: residents_href,
            label_key: "home.residents",
            value: residents,
        });
        let children = division::children(&state.store, root).await?;
        let max = counts.iter().map(|c| c.1).max().unwrap_or(0).max(1);
        for child in children {
            let count = counts
                .iter()
                .find(|c| c.0 == child.code.as_str())
                .map_or(0, |c| c.1);
            by_child.push(ChildRow {
                code: child.code.as_str().to_owned(),
                name: child.name,
                count,
                percent: count * 100 / max,
            });
        }
    }
    let shell = Shell::new(&ctx, &state, "home.title");
    render(&HomePage {
        shell,
        display_name: user.display_name.clone(),
        role_code: user.role.as_str(),
        role_label: tr.t(role_key(user.role)).to_owned(),
        reach_name: reach.name,
        reach_code: user.reach.to_string(),
        institution,
        is_resident: user.role == Role::Resident,
        tiles,
        by_child,
    })
}
