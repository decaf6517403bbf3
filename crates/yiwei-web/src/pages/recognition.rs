//! 检查结果互认 pages: the "order exam" form with the recognition prompt
//! (`/residents/{id}/orders/new`), the decision it records, and the county's recognition
//! figures (`/recognition/stats`).
//!
//! The prompt lists the resident's prior results that are exams of the chosen catalogue
//! item, each with the rule's answer (recognisable with its HR scope and last valid day,
//! or why not) and its signed report. On a recognisable result the clinician records
//! "recognised, not repeated" or "repeat, with a reason" (the closed list of
//! `yiwei_domain::recognition::ExceptionReason`). Bookings of exam services and referrals
//! link here with `context=booking|referral&context_id=…`, so the ledger knows where the
//! decision was made. Everything personal goes through `yiwei_store::access::recognition`.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, Months};
use serde::Deserialize;
use yiwei_domain::access::Role;
use yiwei_domain::recognition::{Decision, ExceptionReason};
use yiwei_store::access::recognition as gate;
use yiwei_store::recognition::{self as store_recognition, Context};

use super::{render, say, viewer};
use crate::AppState;
use crate::auth::{Ctx, Staff};
use crate::error::PageError;
use crate::shell::Shell;

/// Fen as yuan with two decimals (`12345` → `123.45`).
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.abs();
    let whole = (fen / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", fen % 100)
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct OrderQuery {
    #[serde(default)]
    item: String,
    #[serde(default)]
    context: String,
    context_id: Option<i64>,
    #[serde(default)]
    done: String,
}

pub struct ItemChoice {
    pub code: String,
    pub label: String,
    pub selected: bool,
}

pub struct OfferRow {
    pub study_id: i64,
    pub item_code: String,
    pub date: String,
    pub institution: String,
    pub description: String,
    pub recognisable: bool,
    /// HR scope and last valid day, or why not.
    pub verdict: String,
    pub impression: Option<String>,
    pub price: String,
}

#[derive(Template)]
#[template(path = "recognition_order.html")]
struct OrderPage {
    shell: Shell,
    resident_id: i64,
    items: Vec<ItemChoice>,
    item: String,
    context: String,
    context_id: String,
    offers: Vec<OfferRow>,
    reasons: Vec<(&'static str, String)>,
    error: Option<String>,
    labels: Labels,
}

/// The page's bilingual labels, chosen once.
pub struct Labels {
    pub title: String,
    pub exam: String,
    pub show: String,
    pub none: String,
    pub date: String,
    pub institution: String,
    pub result: String,
    pub report: String,
    pub price: String,
    pub recognised: String,
    pub repeated: String,
    pub reason: String,
    pub note: String,
    pub record: String,
    pub stats: String,
    pub no_report: String,
}

fn labels(shell: &Shell) -> Labels {
    let s = |zh: &str, en: &str| say(shell.tr, zh, en);
    Labels {
        title: s(
            "开检查单 · 检查结果互认",
            "Order an exam · mutual recognition",
        ),
        exam: s("检查项目", "Exam"),
        show: s("查看既往结果", "Show prior results"),
        none: s(
            "该居民没有本项目可互认的既往检查，可直接开单。",
            "No recognisable prior result of this exam: order it.",
        ),
        date: s("检查日期", "Exam date"),
        institution: s("检查机构", "Performed at"),
        result: s("互认判断", "Recognition"),
        report: s("报告印象", "Report impression"),
        price: s("费用（元）", "Price (yuan)"),
        recognised: s("互认，不重复检查", "Recognised, not repeated"),
        repeated: s("重复检查", "Repeat the exam"),
        reason: s("重复原因", "Reason to repeat"),
        note: s("说明", "Note"),
        record: s("记录决定", "Record the decision"),
        stats: s("互认统计", "Recognition figures"),
        no_report: s("（尚无签发报告）", "(no signed report yet)"),
    }
}

async fn order_page(
    state: &AppState,
    ctx: &Ctx,
    user: &yiwei_store::user::User,
    resident_id: i64,
    q: &OrderQuery,
    error: Option<String>,
) -> Result<OrderPage, PageError> {
    let shell = Shell::new(ctx, state, "nav.residents");
    let l = labels(&shell);
    let flash = match q.done.as_str() {
        "recognised" => Some(say(
            shell.tr,
            "已记录：结果互认，不重复检查。",
            "Recorded: result recognised, exam not repeated.",
        )),
        "repeated" => Some(say(
            shell.tr,
            "已记录：重复检查及原因。",
            "Recorded: exam repeated, with the reason.",
        )),
        _ => None,
    };
    let shell = shell.with_title(l.title.clone()).with_flash(flash);
    let en = shell.tr.lang == crate::i18n::Lang::En;
    let catalogue = store_recognition::catalogue(&state.store).await?;
    let chosen = catalogue.iter().find(|i| i.code == q.item);
    let items = catalogue
        .iter()
        .map(|i| ItemChoice {
            code: i.code.clone(),
            label: format!(
                "{} ({} {})",
                if en { &i.name_en } else { &i.name_zh },
                i.modality,
                i.body_part
            ),
            selected: i.code == q.item,
        })
        .collect();
    let mut offers = Vec::new();
    if let Some(item) = chosen {
        let today = store_recognition::county_date(yiwei_store::now());
        let v = viewer(ctx, user);
        let found = gate::offers(
            &state.store,
            &v,
            resident_id,
            today,
            Some((&item.modality, &item.body_part)),
        )
        .await?;
        for (offer, report) in found {
            if offer.item.code != item.code {
                continue;
            }
            let institution = yiwei_store::org::get(&state.store, offer.study.institution_id)
                .await
                .map(|i| i.name)
                .unwrap_or_default();
            let verdict = match &offer.decision {
                Ok(r) => say(
                    shell.tr,
                    &format!("可互认（{}），有效至 {}", r.hr_scope, r.valid_through),
                    &format!(
                        "recognisable ({}), valid through {}",
                        r.hr_scope, r.valid_through
                    ),
                ),
                Err(e) => e.to_string(),
            };
            offers.push(OfferRow {
                study_id: offer.study.id,
                item_code: offer.item.code.clone(),
                date: store_recognition::exam_date(&offer.study).to_string(),
                institution,
                description: offer.study.description.clone(),
                recognisable: offer.decision.is_ok(),
                verdict,
                impression: report.map(|r| r.impression),
                price: yuan(offer.item.price_fen),
            });
        }
    }
    Ok(OrderPage {
        shell,
        resident_id,
        items,
        item: q.item.clone(),
        context: Context::parse(&q.context)
            .unwrap_or(Context::Order)
            .as_str()
            .to_owned(),
        context_id: q.context_id.map(|i| i.to_string()).unwrap_or_default(),
        offers,
        reasons: ExceptionReason::ALL
            .iter()
            .map(|r| {
                (
                    r.as_str(),
                    if en {
                        r.label_en().to_owned()
                    } else {
                        r.label_zh().to_owned()
                    },
                )
            })
            .collect(),
        error,
        labels: l,
    })
}

fn clinical(user: &yiwei_store::user::User) -> Result<(), PageError> {
    if user.role.reads_personal_records() && user.role != Role::Resident {
        Ok(())
    } else {
        Err(PageError::Forbidden)
    }
}

/// `GET /residents/{id}/orders/new[?item=CODE&context=…&context_id=…]`.
pub async fn order_form(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(resident_id): Path<i64>,
    Query(q): Query<OrderQuery>,
) -> Result<Response, PageError> {
    clinical(&user)?;
    let page = order_page(&state, &ctx, &user, resident_id, &q, None).await?;
    Ok(render(&page)?.into_response())
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    study: i64,
    #[serde(default)]
    choice: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    context: String,
    #[serde(default)]
    context_id: String,
}

/// `POST /residents/{id}/orders/decide`: record the decision in the ledger.
pub async fn decide(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(resident_id): Path<i64>,
    Form(form): Form<DecisionForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    clinical(&user)?;
    let context = Context::parse(&form.context).unwrap_or(Context::Order);
    let context_id = form.context_id.trim().parse::<i64>().ok();
    let q = OrderQuery {
        item: form.item.clone(),
        context: context.as_str().to_owned(),
        context_id,
        done: String::new(),
    };
    let decision = match Decision::parse(&form.choice, &form.reason, &form.note) {
        Ok(d) => d,
        Err(e) => {
            let page =
                order_page(&state, &ctx, &user, resident_id, &q, Some(e.to_string())).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
        }
    };
    let input = gate::DecisionInput {
        resident_id,
        prior_study_id: form.study,
        item_code: form.item.clone(),
        context,
        context_id,
        decision: decision.clone(),
        order_date: store_recognition::county_date(yiwei_store::now()),
    };
    let v = viewer(&ctx, &user);
    match gate::record_decision(&state.store, &v, &input).await {
        Ok(_) => {
            let mut to = format!(
                "/residents/{resident_id}/orders/new?item={}&context={}&done={}",
                form.item,
                context.as_str(),
                decision.as_str()
            );
            if let Some(id) = context_id {
                to.push_str(&format!("&context_id={id}"));
            }
            Ok(Redirect::to(&to).into_response())
        }
        Err(yiwei_store::access::AccessError::Store(yiwei_store::StoreError::Invalid(m))) => {
            let page = order_page(&state, &ctx, &user, resident_id, &q, Some(m)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct StatsQuery {
    from: Option<String>,
    to: Option<String>,
}

pub struct FigureRow {
    pub period: String,
    pub institution: String,
    pub recognised: i64,
    pub repeated: i64,
    pub patient: String,
    pub institution_share: String,
    pub total: String,
}

#[derive(Template)]
#[template(path = "recognition_stats.html")]
struct StatsPage {
    shell: Shell,
    from: String,
    to: String,
    rows: Vec<FigureRow>,
    total: FigureRow,
    labels: StatsLabels,
}

pub struct StatsLabels {
    pub from: String,
    pub to: String,
    pub show: String,
    pub month: String,
    pub institution: String,
    pub recognised: String,
    pub repeated: String,
    pub patient: String,
    pub institution_share: String,
    pub total: String,
    pub county: String,
    pub note: String,
    pub empty: String,
}

fn month_of(s: Option<&str>) -> Option<String> {
    let s = s?.trim();
    let ok = s.len() == 7
        && s.as_bytes()[4] == b'-'
        && s[..4].bytes().all(|b| b.is_ascii_digit())
        && s[5..].parse::<u32>().is_ok_and(|m| (1..=12).contains(&m));
    ok.then(|| s.to_owned())
}

fn figure_row(f: &store_recognition::Figure) -> FigureRow {
    FigureRow {
        period: f.period.clone(),
        institution: f.institution_name.clone(),
        recognised: f.recognised,
        repeated: f.repeated,
        patient: yuan(f.saved_patient_fen),
        institution_share: yuan(f.saved_institution_fen),
        total: yuan(f.saved_patient_fen + f.saved_institution_fen),
    }
}

/// `GET /recognition/stats[?from=YYYY-MM&to=YYYY-MM]`: count and money saved, for patients
/// and for institutions, by month and ordering institution (default: the last 12 months).
pub async fn stats(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<StatsQuery>,
) -> Result<Response, PageError> {
    let today = store_recognition::county_date(yiwei_store::now());
    let start = today
        .with_day(1)
        .and_then(|d| d.checked_sub_months(Months::new(11)))
        .unwrap_or(today);
    let bad = |what: &Option<String>| what.as_deref().is_some_and(|s| !s.is_empty());
    let from = match month_of(q.from.as_deref()) {
        Some(m) => m,
        None if bad(&q.from) => {
            return Err(PageError::BadRequest(
                "月份格式为 YYYY-MM / months are written YYYY-MM".into(),
            ));
        }
        None => start.format("%Y-%m").to_string(),
    };
    let to = match month_of(q.to.as_deref()) {
        Some(m) => m,
        None if bad(&q.to) => {
            return Err(PageError::BadRequest(
                "月份格式为 YYYY-MM / months are written YYYY-MM".into(),
            ));
        }
        None => today.format("%Y-%m").to_string(),
    };
    let v = viewer(&ctx, &user);
    let figures = gate::figures(&state.store, &v, &from, &to).await?;
    let mut total = figure_row(&store_recognition::totals(&figures));
    let shell = Shell::new(&ctx, &state, "nav.home");
    let s = |zh: &str, en: &str| say(shell.tr, zh, en);
    total.institution = s("全县合计", "County total");
    let labels = StatsLabels {
        from: s("起始月份", "From month"),
        to: s("截止月份", "To month"),
        show: s("查询", "Show"),
        month: s("月份", "Month"),
        institution: s("开单机构", "Ordering institution"),
        recognised: s("互认次数", "Recognised"),
        repeated: s("重复检查", "Repeated"),
        patient: s("为患者节省（元）", "Saved for patients (yuan)"),
        institution_share: s(
            "为医保及机构节省（元）",
            "Saved for insurer and institutions (yuan)",
        ),
        total: s("合计（元）", "Total (yuan)"),
        county: s("全县合计", "County total"),
        note: s(
            "节省金额按互认项目目录价格计算；患者与医保/机构的分摊比例为各项目本地配置（默认患者 52.5%）。",
            "Savings are the catalogue price of each avoided exam, split between the patient and the insurer/institution by each item's local share (default 52.5 % patient).",
        ),
        empty: s(
            "所选期间没有互认记录。",
            "No recognition decisions in this period.",
        ),
    };
    let title = s("检查结果互认统计", "Mutual recognition figures");
    let page = StatsPage {
        shell: shell.with_title(title),
        from,
        to,
        rows: figures.iter().map(figure_row).collect(),
        total,
        labels,
    };
    Ok(render(&page)?.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_groups_thousands_and_keeps_two_decimals() {
        assert_eq!(yuan(0), "0.00");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(83_680_000), "836,800.00");
        assert_eq!(yuan(-12_345), "-123.45");
    }

    #[test]
    fn months_are_checked() {
        assert_eq!(month_of(Some("2026-11")), Some("2026-11".into()));
        for bad in ["2026-13", "2026-1", "26-11", "abcd-ef", ""] {
            assert_eq!(month_of(Some(bad)), None, "{bad}");
        }
    }
}
