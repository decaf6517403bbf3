//! The institution directory (any staff member may browse it: it holds no personal data).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Html;
use serde::Deserialize;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::org::InstitutionKind;
use yiwei_store::{division, org};

use super::render;
use crate::AppState;
use crate::auth::Staff;
use crate::error::PageError;
use crate::i18n::Lang;
use crate::shell::{Pager, Shell, offset};

pub struct Row {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub division: String,
    pub community: String,
    pub is_lead: bool,
}

#[derive(Template)]
#[template(path = "orgs.html")]
struct OrgsPage {
    shell: Shell,
    name: String,
    kind: String,
    within: String,
    kinds: Vec<(&'static str, &'static str)>,
    rows: Vec<Row>,
    total_label: String,
    pager: Pager,
}

#[derive(Deserialize)]
pub struct OrgQuery {
    name: Option<String>,
    kind: Option<String>,
    within: Option<String>,
    page: Option<i64>,
}

pub fn kind_name(kind: InstitutionKind, lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => kind.name_zh(),
        Lang::En => kind.name_en(),
    }
}

pub async fn list(
    State(state): State<AppState>,
    Staff { ctx, .. }: Staff,
    Query(q): Query<OrgQuery>,
) -> Result<Html<String>, PageError> {
    let lang = ctx.tr.lang;
    let name = q.name.unwrap_or_default();
    let kind_text = q.kind.unwrap_or_default();
    let kind = match kind_text.as_str() {
        "" => None,
        k => Some(
            InstitutionKind::parse(k)
                .ok_or_else(|| PageError::BadRequest(format!("unknown kind {k:?}")))?,
        ),
    };
    let within_text = q.within.unwrap_or_default();
    let within = match within_text.as_str() {
        "" => None,
        w => Some(DivisionCode::parse(w).map_err(|e| PageError::BadRequest(e.to_string()))?),
    };
    let (page, off) = offset(q.page);
    let filter = org::Filter {
        within,
        kind,
        community_id: None,
        name: (!name.trim().is_empty()).then(|| name.clone()),
    };
    let (found, total) = org::list(&state.store, &filter, crate::shell::PAGE_SIZE, off).await?;
    let communities: HashMap<i64, String> = org::communities(&state.store)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let mut division_names: HashMap<String, String> = HashMap::new();
    let mut rows = Vec::with_capacity(found.len());
    for i in found {
        let key = i.division.as_str().to_owned();
        if !division_names.contains_key(&key) {
            let d = division::get(&state.store, &i.division).await?;
            division_names.insert(key.clone(), d.name);
        }
        rows.push(Row {
            code: i.code,
            name: if lang == Lang::En && !i.name_en.is_empty() {
                i.name_en
            } else {
                i.name
            },
            kind: kind_name(i.kind, lang).to_owned(),
            division: division_names[&key].clone(),
            community: i
                .community_id
                .and_then(|id| communities.get(&id).cloned())
                .unwrap_or_default(),
            is_lead: i.is_lead,
        });
    }
    let base = format!(
        "/orgs?name={}&kind={}&within={}&",
        urlencode(&name),
        urlencode(&kind_text),
        urlencode(&within_text)
    );
    render(&OrgsPage {
        shell: Shell::new(&ctx, &state, "org.title"),
        total_label: ctx.tr.t1("list.total", "n", &total.to_string()),
        pager: Pager::new(&base, page, total),
        name,
        kind: kind_text,
        within: within_text,
        kinds: InstitutionKind::ALL
            .iter()
            .map(|k| (k.as_str(), kind_name(*k, lang)))
            .collect(),
        rows,
    })
}

/// Percent-encode a query value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
