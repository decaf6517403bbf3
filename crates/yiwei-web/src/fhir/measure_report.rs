//! MeasureReport (summary): the maintained indicator figures (`yiwei_store::indicator`) of
//! a division and period, one report per indicator (FHIR R4 §15.12 MeasureReport).
//!
//! The id is `<indicator>.<period>.<division>` (`contract_coverage.2025.451226`); `measure`
//! is the canonical `<base>/Measure/<indicator>` (we do not serve Measure resources: the
//! definition is the page `/indicators/catalogue#<indicator>`, linked from the report's
//! extension-free `group.code.text`). Populations use the measure-population code system's
//! `numerator` and `denominator`; `measureScore` is the value in the indicator's unit.
//! `status` is `complete` for an ended period and `pending` while it runs.
//!
//! `group.stratifier` carries the strata the catalogue allows for the indicator and the
//! refresh keeps (sex, age group, key group; `yiwei_domain::indicator::breakdown`), each
//! stratum with its own numerator, denominator and score. Sex strata use the
//! administrative-gender codes; age groups and key groups use local code systems
//! (`urn:yiwei:age-group`, `urn:yiwei:key-group`). Sex and age strata add up to the group;
//! key groups overlap.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};
use yiwei_domain::division::DivisionCode;
use yiwei_domain::indicator::breakdown;
use yiwei_domain::indicator::{self as rules, Definition, Disaggregation, Fraction, Period, Unit};
use yiwei_store::access::indicators::{indicator_figures, indicator_strata};
use yiwei_store::access::{AccessError, Viewer};
use yiwei_store::indicator::Stratum;

use super::{Fhir, FhirUser, Outcome, Remote, bundle, parse_search};
use crate::AppState;

const POPULATION: &str = "http://terminology.hl7.org/CodeSystem/measure-population";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeasureReport {
    resource_type: &'static str,
    id: String,
    status: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    measure: String,
    subject: Value,
    date: String,
    period: Value,
    group: Vec<Value>,
}

fn score(d: &Definition, f: Fraction) -> Option<Value> {
    let v = f.value(d.unit)?;
    Some(match d.unit {
        Unit::Percent => {
            json!({"value": v, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"})
        }
        Unit::Per100k => json!({"value": v, "unit": "/10万 per 100,000"}),
        Unit::Count => json!({"value": v, "unit": "count"}),
        Unit::Yuan => {
            json!({"value": v, "unit": "CNY", "system": "urn:iso:std:iso:4217", "code": "CNY"})
        }
    })
}

fn populations(d: &Definition, f: Fraction) -> Vec<Value> {
    let mut population = vec![json!({
        "code": {"coding": [{"system": POPULATION, "code": "numerator"}]},
        "count": f.numerator,
    })];
    if d.unit.is_ratio() {
        population.push(json!({
            "code": {"coding": [{"system": POPULATION, "code": "denominator"}]},
            "count": f.denominator,
        }));
    }
    population
}

/// The stratifiers of `d` from its stored strata: one per dimension the entry allows.
fn stratifiers(d: &Definition, strata: &[Stratum]) -> Vec<Value> {
    let mut out = Vec::new();
    for dim in breakdown::stored_of(d.disaggregations) {
        let mut mine: Vec<(&str, Fraction)> = strata
            .iter()
            .filter(|s| s.indicator == d.code)
            .filter_map(|s| match breakdown::split(&s.breakdown) {
                Some((x, value)) if x == dim => Some((value, s.fraction)),
                _ => None,
            })
            .collect();
        mine.sort_by_key(|(v, _)| (breakdown::rank(v), *v));
        let (system, name_zh, name_en) = match dim {
            Disaggregation::Sex => ("http://hl7.org/fhir/administrative-gender", "性别", "sex"),
            Disaggregation::AgeGroup => ("urn:yiwei:age-group", "年龄组", "age group"),
            _ => ("urn:yiwei:key-group", "重点人群", "key group"),
        };
        let stratum: Vec<Value> = mine
            .into_iter()
            .map(|(value, f)| {
                let (zh, en) = breakdown::label(dim, value);
                let mut s = json!({
                    "value": {"coding": [{"system": system, "code": value, "display": en}],
                              "text": format!("{zh} · {en}")},
                    "population": populations(d, f),
                });
                if let Some(score) = score(d, f) {
                    s["measureScore"] = score;
                }
                s
            })
            .collect();
        // FHIR JSON allows no empty array: a dimension without strata is left out.
        if stratum.is_empty() {
            continue;
        }
        out.push(json!({
            "code": [{"coding": [{"system": "urn:yiwei:breakdown", "code": dim.as_str()}],
                      "text": format!("{name_zh} · {name_en}")}],
            "stratum": stratum,
        }));
    }
    out
}

fn report(
    base: &str,
    d: &Definition,
    period: Period,
    division: &DivisionCode,
    f: Fraction,
    strata: &[Stratum],
    today: chrono::NaiveDate,
) -> MeasureReport {
    let mut group = json!({
        "code": {"coding": [{"system": "urn:yiwei:indicator", "code": d.code, "display": d.name_zh}],
                 "text": format!("{} · {} (/indicators/catalogue#{})", d.name_zh, d.name_en, d.code)},
        "population": populations(d, f),
    });
    if let Some(s) = score(d, f) {
        group["measureScore"] = s;
    }
    let stratifier = stratifiers(d, strata);
    if !stratifier.is_empty() {
        group["stratifier"] = Value::Array(stratifier);
    }
    MeasureReport {
        resource_type: "MeasureReport",
        // FHIR ids allow only letters, digits, '-' and '.': the code's '_' become '-'.
        id: format!(
            "{}.{period}.{}",
            d.code.replace('_', "-"),
            division.as_str()
        ),
        status: if period.ended_by(today) {
            "complete"
        } else {
            "pending"
        },
        kind: "summary",
        measure: format!("{base}/Measure/{}", d.code),
        subject: json!({"reference": format!("Location/{}", division.as_str())}),
        date: yiwei_store::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        period: json!({"start": period.first_day().to_string(), "end": period.last_day().to_string()}),
        group: vec![group],
    }
}

fn refused(e: AccessError) -> Outcome {
    match e {
        AccessError::Store(s) => s.into(),
        _ => Outcome {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            english: "this division is outside your area".into(),
            chinese: "该区划不在您的权限范围内".into(),
        },
    }
}

fn parse_period(v: &str) -> Result<Period, Outcome> {
    Period::parse(v)
        .map_err(|e| Outcome::invalid(e.to_string(), "期间格式应为 2025、2025-Q1 或 2025-03"))
}

fn parse_division(v: &str) -> Result<DivisionCode, Outcome> {
    DivisionCode::parse(v.trim_start_matches("Location/"))
        .map_err(|e| Outcome::invalid(format!("subject: {e}"), "区划代码有误"))
}

fn parse_measure(v: &str) -> Result<&'static Definition, Outcome> {
    let code = v.rsplit('/').next().unwrap_or(v);
    let code = code.rsplit('|').next().unwrap_or(code);
    rules::by_code(code)
        .filter(|d| d.source.is_maintained())
        .ok_or_else(|| {
            Outcome::invalid(
                format!("unknown or unmaintained measure {v:?}"),
                "指标不存在或无汇总数据",
            )
        })
}

async fn reports(
    state: &AppState,
    user: &yiwei_store::user::User,
    remote: Option<String>,
    defs: &[&'static Definition],
    period: Period,
    division: &DivisionCode,
) -> Result<Vec<MeasureReport>, Outcome> {
    let v = Viewer {
        user,
        remote_addr: remote,
    };
    let codes: Vec<&str> = defs.iter().map(|d| d.code).collect();
    let found = indicator_figures(
        &state.store,
        &v,
        division,
        &codes,
        &[period],
        division.as_str().len(),
    )
    .await
    .map_err(refused)?;
    let strata = indicator_strata(&state.store, &v, division, &codes, period)
        .await
        .map_err(refused)?;
    let today = crate::pages::dashboard::today(state);
    Ok(defs
        .iter()
        .map(|d| {
            let f = found
                .iter()
                .find(|f| f.indicator == d.code)
                .map(|f| f.fraction)
                .unwrap_or_default();
            report(&state.fhir_base(), d, period, division, f, &strata, today)
        })
        .collect())
}

pub async fn read(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    Remote(remote): Remote,
    Path(id): Path<String>,
) -> Result<Fhir, Outcome> {
    let mut parts = id.splitn(3, '.');
    let (Some(code), Some(period), Some(division)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(Outcome::not_found("MeasureReport"));
    };
    let d =
        parse_measure(&code.replace('-', "_")).map_err(|_| Outcome::not_found("MeasureReport"))?;
    let period = parse_period(period).map_err(|_| Outcome::not_found("MeasureReport"))?;
    let division = parse_division(division).map_err(|_| Outcome::not_found("MeasureReport"))?;
    let mut found = reports(&state, &user, remote, &[d], period, &division).await?;
    let value = serde_json::to_value(found.pop())
        .map_err(|e| Outcome::invalid(e.to_string(), "序列化失败"))?;
    Ok(Fhir(StatusCode::OK, value))
}

pub async fn search(
    State(state): State<AppState>,
    FhirUser(user): FhirUser,
    Remote(remote): Remote,
    RawQuery(raw): RawQuery,
) -> Result<Fhir, Outcome> {
    let (pairs, paging) = parse_search(raw.as_deref(), &["measure", "period", "subject"])?;
    let mut defs: Vec<&'static Definition> = Vec::new();
    let mut period = None;
    let mut division = None;
    for (k, v) in &pairs {
        match k.as_str() {
            "measure" => {
                for m in v.split(',') {
                    defs.push(parse_measure(m)?);
                }
            }
            "period" => period = Some(parse_period(v)?),
            "subject" => division = Some(parse_division(v)?),
            _ => {}
        }
    }
    if defs.is_empty() {
        defs = rules::catalogue()
            .iter()
            .filter(|d| d.source.is_maintained())
            .collect();
    }
    let period = period.unwrap_or(Period::Year(chrono::Datelike::year(
        &crate::pages::dashboard::today(&state),
    )));
    let division = division.unwrap_or_else(|| user.reach.clone());
    let all = reports(&state, &user, remote, &defs, period, &division).await?;
    let total = all.len() as i64;
    let page: Vec<MeasureReport> = all
        .into_iter()
        .skip(paging.offset as usize)
        .take(paging.count as usize)
        .collect();
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::pages::org::urlencode(v)))
        .collect();
    Ok(Fhir(
        StatusCode::OK,
        bundle(
            &state.fhir_base(),
            "MeasureReport",
            &query.join("&"),
            &page,
            total,
            &paging,
        ),
    ))
}
