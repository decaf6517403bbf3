//! Organization: institutions, and medical communities (医共体) as Organizations of their
//! own (`mc-N`) that member institutions are `partOf`.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use yiwei_domain::org::InstitutionKind;
use yiwei_store::org::{self, Filter, Institution, MedicalCommunity};

use super::{Fhir, Outcome, bundle, parse_search};
use crate::AppState;
use crate::fhir::location::{Reference, division_id};

pub const KIND_SYSTEM: &str = "urn:yiwei:institution-kind";
pub const CODE_SYSTEM: &str = "urn:yiwei:institution-code";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    resource_type: &'static str,
    id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    identifier: Vec<Identifier>,
    active: bool,
    #[serde(rename = "type")]
    kind: Vec<CodeableConcept>,
    name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    alias: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    address: Vec<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    part_of: Option<Reference>,
}

#[derive(Serialize)]
pub struct Identifier {
    pub system: String,
    pub value: String,
}

#[derive(Serialize)]
pub struct Coding {
    pub system: String,
    pub code: String,
    pub display: String,
}

#[derive(Serialize)]
pub struct CodeableConcept {
    pub coding: Vec<Coding>,
    pub text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// The GB/T 2260 county code.
    district: String,
    country: &'static str,
    extension: Vec<Value>,
}

fn kind_concept(kind: InstitutionKind) -> CodeableConcept {
    CodeableConcept {
        coding: vec![Coding {
            system: KIND_SYSTEM.into(),
            code: kind.as_str().into(),
            display: kind.name_en().into(),
        }],
        text: kind.name_zh().into(),
    }
}

pub fn from_institution(i: &Institution) -> Organization {
    Organization {
        resource_type: "Organization",
        id: i.id.to_string(),
        identifier: vec![Identifier {
            system: CODE_SYSTEM.into(),
            value: i.code.clone(),
        }],
        active: i.active,
        kind: vec![kind_concept(i.kind)],
        name: i.name.clone(),
        alias: if i.name_en.is_empty() {
            vec![]
        } else {
            vec![i.name_en.clone()]
        },
        address: vec![Address {
            district: i.division.gbt2260(),
            country: "CN",
            // The village or township the institution sits in, as a Location reference.
            extension: vec![serde_json::json!({
                "url": "urn:yiwei:fhir:division",
                "valueReference": {"reference": format!("Location/{}", division_id(&i.division))}
            })],
        }],
        part_of: i.community_id.map(|c| Reference {
            reference: format!("Organization/mc-{c}"),
        }),
    }
}

pub fn from_community(c: &MedicalCommunity) -> Organization {
    Organization {
        resource_type: "Organization",
        id: format!("mc-{}", c.id),
        identifier: vec![],
        active: true,
        kind: vec![CodeableConcept {
            coding: vec![Coding {
                system: KIND_SYSTEM.into(),
                code: "medical_community".into(),
                display: "County medical community".into(),
            }],
            text: "医共体".into(),
        }],
        name: c.name.clone(),
        alias: if c.name_en.is_empty() {
            vec![]
        } else {
            vec![c.name_en.clone()]
        },
        address: vec![],
        part_of: None,
    }
}

pub async fn read(
    State(state): State<AppState>,
    _user: super::FhirUser,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let resource = if let Some(n) = id.strip_prefix("mc-") {
        let n: i64 = n.parse().map_err(|_| Outcome::not_found("Organization"))?;
        serde_json::to_value(from_community(
            &org::community_by_id(&state.store, n).await?,
        ))
    } else {
        let n: i64 = id.parse().map_err(|_| Outcome::not_found("Organization"))?;
        serde_json::to_value(from_institution(&org::get(&state.store, n).await?))
    };
    Ok(Fhir(
        StatusCode::OK,
        resource.map_err(|e| Outcome::invalid(e.to_string(), "序列化失败"))?,
    ))
}

pub async fn search(
    State(state): State<AppState>,
    _user: super::FhirUser,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(
        raw.as_deref(),
        &["_id", "name", "type", "identifier", "partof"],
    )?;
    let mut filter = Filter::default();
    let mut only_id: Option<i64> = None;
    let mut only_code: Option<String> = None;
    for (k, v) in &pairs {
        match k.as_str() {
            "_id" => {
                only_id = Some(v.parse().map_err(|_| {
                    Outcome::invalid(format!("_id {v:?} is not an institution id"), "_id 有误")
                })?)
            }
            "name" => filter.name = Some(v.clone()),
            "type" => {
                let code = v.rsplit('|').next().unwrap_or_default();
                filter.kind = Some(InstitutionKind::parse(code).ok_or_else(|| {
                    Outcome::invalid(
                        format!("unknown institution type {code:?}"),
                        format!("未知机构类别 {code}"),
                    )
                })?);
            }
            "identifier" => only_code = Some(v.rsplit('|').next().unwrap_or_default().to_owned()),
            "partof" => {
                let n = v
                    .trim_start_matches("Organization/")
                    .strip_prefix("mc-")
                    .and_then(|n| n.parse().ok());
                filter.community_id = Some(n.ok_or_else(|| {
                    Outcome::invalid(
                        "partof must be Organization/mc-N (a medical community)",
                        "partof 须为医共体引用",
                    )
                })?);
            }
            _ => {}
        }
    }
    let (found, total) = if only_id.is_some() || only_code.is_some() {
        let hit = match (only_id, &only_code) {
            (Some(id), _) => org::get(&state.store, id).await.ok(),
            (None, Some(code)) => org::by_code(&state.store, code).await.ok(),
            _ => None,
        };
        let hits: Vec<Institution> = hit.into_iter().filter(|i| matches(i, &filter)).collect();
        let n = hits.len() as i64;
        (
            hits.into_iter()
                .skip(paging.offset as usize)
                .take(paging.count as usize)
                .collect(),
            n,
        )
    } else {
        org::list(&state.store, &filter, paging.count, paging.offset).await?
    };
    let resources: Vec<Organization> = found.iter().map(from_institution).collect();
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::pages::org::urlencode(v)))
        .collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "Organization",
            &query.join("&"),
            &resources,
            total,
            &paging,
        ),
    ))
}

fn matches(i: &Institution, f: &Filter) -> bool {
    f.kind.is_none_or(|k| k == i.kind)
        && f.community_id.is_none_or(|c| Some(c) == i.community_id)
        && f.name
            .as_deref()
            .is_none_or(|n| i.name.contains(n) || i.name_en.contains(n))
}
