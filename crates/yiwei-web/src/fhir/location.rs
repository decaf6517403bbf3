//! Location: administrative divisions (行政区划) as jurisdictions. The id is the division
//! code's significant digits; the identifier is the 12-digit 统计用区划代码.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde::Serialize;
use yiwei_domain::division::{DivisionCode, Level};
use yiwei_store::division::{self, Division};

use super::organization::{CodeableConcept, Coding, Identifier};
use super::{Fhir, Outcome, bundle, parse_search};
use crate::AppState;

pub const DIVISION_SYSTEM: &str = "urn:yiwei:division-code";

#[derive(Serialize)]
pub struct Reference {
    pub reference: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    resource_type: &'static str,
    id: String,
    identifier: Vec<Identifier>,
    status: &'static str,
    name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    alias: Vec<String>,
    mode: &'static str,
    #[serde(rename = "type")]
    kind: Vec<CodeableConcept>,
    physical_type: CodeableConcept,
    #[serde(skip_serializing_if = "Option::is_none")]
    part_of: Option<Reference>,
}

pub fn division_id(code: &DivisionCode) -> String {
    code.as_str().to_owned()
}

fn level_text(level: Level) -> (&'static str, &'static str) {
    match level {
        Level::Province => ("province", "省级"),
        Level::Prefecture => ("prefecture", "地级"),
        Level::County => ("county", "县级"),
        Level::Township => ("township", "乡级"),
        Level::Village => ("village", "村级"),
    }
}

pub fn from_division(d: &Division) -> Location {
    let (level_code, level_zh) = level_text(d.level);
    Location {
        resource_type: "Location",
        id: division_id(&d.code),
        identifier: vec![Identifier {
            system: DIVISION_SYSTEM.into(),
            value: d.code.stats12(),
        }],
        status: "active",
        name: d.name.clone(),
        alias: if d.name_en.is_empty() {
            vec![]
        } else {
            vec![d.name_en.clone()]
        },
        mode: "instance",
        kind: vec![CodeableConcept {
            coding: vec![Coding {
                system: "urn:yiwei:division-level".into(),
                code: level_code.into(),
                display: level_code.into(),
            }],
            text: level_zh.into(),
        }],
        physical_type: CodeableConcept {
            coding: vec![Coding {
                system: "http://terminology.hl7.org/CodeSystem/location-physical-type".into(),
                code: "jdn".into(),
                display: "Jurisdiction".into(),
            }],
            text: "行政区划".into(),
        },
        part_of: d.parent.as_ref().map(|p| Reference {
            reference: format!("Location/{}", division_id(p)),
        }),
    }
}

fn parse_code(v: &str) -> Result<DivisionCode, Outcome> {
    DivisionCode::parse(v).map_err(|e| Outcome::invalid(e.to_string(), "区划代码有误"))
}

pub async fn read(
    State(state): State<AppState>,
    _user: super::FhirUser,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let code = DivisionCode::parse(&id).map_err(|_| Outcome::not_found("Location"))?;
    let d = division::get(&state.store, &code).await?;
    let value = serde_json::to_value(from_division(&d))
        .map_err(|e| Outcome::invalid(e.to_string(), "序列化失败"))?;
    Ok(Fhir(StatusCode::OK, value))
}

pub async fn search(
    State(state): State<AppState>,
    _user: super::FhirUser,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(raw.as_deref(), &["_id", "name", "partof"])?;
    let mut name = String::new();
    let mut id: Option<DivisionCode> = None;
    let mut parent: Option<DivisionCode> = None;
    for (k, v) in &pairs {
        match k.as_str() {
            "_id" => id = Some(parse_code(v)?),
            "name" => name = v.clone(),
            "partof" => parent = Some(parse_code(v.trim_start_matches("Location/"))?),
            _ => {}
        }
    }
    let (found, total): (Vec<Division>, i64) = match (id, parent) {
        (Some(code), _) => {
            let hit = division::get(&state.store, &code)
                .await
                .ok()
                .filter(|d| d.name.contains(&name));
            let n = i64::from(hit.is_some());
            (hit.into_iter().skip(paging.offset as usize).collect(), n)
        }
        (None, Some(parent)) => {
            let all: Vec<Division> = division::children(&state.store, &parent)
                .await?
                .into_iter()
                .filter(|d| d.name.contains(&name))
                .collect();
            let n = all.len() as i64;
            (
                all.into_iter()
                    .skip(paging.offset as usize)
                    .take(paging.count as usize)
                    .collect(),
                n,
            )
        }
        (None, None) => {
            let root = &state.config.county;
            let n = if name.is_empty() {
                division::count_within(&state.store, root).await?
            } else {
                division::search(&state.store, root, &name, None, i64::MAX, 0)
                    .await?
                    .len() as i64
            };
            (
                division::search(&state.store, root, &name, None, paging.count, paging.offset)
                    .await?,
                n,
            )
        }
    };
    let resources: Vec<Location> = found.iter().map(from_division).collect();
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::pages::org::urlencode(v)))
        .collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "Location",
            &query.join("&"),
            &resources,
            total,
            &paging,
        ),
    ))
}
