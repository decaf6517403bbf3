//! 传染病报告 and 预警 pages.
//!
//! - `/residents/{id}/cases/new`: a clinician fills the 传染病报告卡 from the resident's
//!   page, prefilled from the record (name, sex, birth date, village). Every failed check
//!   of `yiwei_domain::notifiable::card::validate` shows next to its field, in the
//!   visitor's language, and nothing is written. A probable duplicate is written and the
//!   card page says it went to CDC review.
//! - `/cases/{id}`: one card with its review history; CDC staff review it there (accept,
//!   return with a reason, delete as duplicate with a reason, revise the diagnosis).
//! - `/cdc/review`: the CDC review queue (awaiting review and probable duplicates).
//! - `/warnings`, `/warnings/{id}`: the signal list, and one signal with its time series
//!   as inline SVG (threshold marked), the why (method, parameters, observed, threshold,
//!   baseline), the cases behind it and the workflow buttons.
//!
//! Everything personal goes through `yiwei_store::access`.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;
use yiwei_domain::access::Role;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::notifiable::card::{self, Belongs, Card, CardKind, OCCUPATIONS};
use yiwei_domain::notifiable::disease::{self, CaseClass, Course};
use yiwei_domain::notifiable::{CardStatus, ReviewAction, SignalStatus, SignalStep};
use yiwei_store::StoreError;
use yiwei_store::access::{self, AccessError};
use yiwei_store::notifiable::{self, CaseFilter, CaseReport, Revision, SignalFilter};
use yiwei_store::user::User;

use super::render;
use super::{say, viewer};
use crate::AppState;
use crate::auth::{Ctx, Staff};
use crate::error::PageError;
use crate::i18n::{Lang, Tr};
use crate::shell::{PAGE_SIZE, Pager, Shell, offset};

fn local_now(state: &AppState) -> NaiveDateTime {
    state.config.notifiable.to_local(Utc::now())
}

fn is_cdc(user: &User) -> bool {
    user.role == Role::CdcStaff
}

/// One option of a select: (value, label).
type Opt = (String, String);

#[derive(Template)]
#[template(path = "case_form.html")]
struct FormPage {
    shell: Shell,
    /// Where the form posts: a new card, or the correction of a returned one.
    action: String,
    /// The card's version when correcting a returned card.
    version: Option<i64>,
    /// Why the CDC returned the card, when correcting one.
    returned_reason: Option<String>,
    resident_id: i64,
    resident_name: String,
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
    general_error: Option<String>,
    diseases: Vec<Opt>,
    subtypes: Vec<Opt>,
    classes: Vec<Opt>,
    courses: Vec<Opt>,
    occupations: Vec<Opt>,
    belongs: Vec<Opt>,
}

impl FormPage {
    fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }
    fn error(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(String::as_str)
    }
}

/// The select options of a card: diseases, subtypes, classifications, courses,
/// occupations, 病人属于.
type CardOptions = (Vec<Opt>, Vec<Opt>, Vec<Opt>, Vec<Opt>, Vec<Opt>, Vec<Opt>);

fn options(tr: Tr) -> CardOptions {
    let en = tr.lang == Lang::En;
    let today = Utc::now().date_naive();
    let diseases = disease::in_force(today)
        .map(|d| {
            let class = if en {
                d.class.name_en()
            } else {
                d.class.name_zh()
            };
            let name = if en { d.name_en } else { d.name_zh };
            (d.code.to_owned(), format!("{name} ({class})"))
        })
        .collect();
    let subtypes = disease::DISEASES
        .iter()
        .flat_map(|d| {
            d.subtypes.iter().map(move |s| {
                (
                    s.code.to_owned(),
                    if en {
                        format!("{}: {}", d.name_en, s.name_en)
                    } else {
                        format!("{}：{}", d.name_zh, s.name_zh)
                    },
                )
            })
        })
        .collect();
    let classes = CaseClass::ALL
        .iter()
        .map(|c| {
            (
                c.as_str().to_owned(),
                if en { c.name_en() } else { c.name_zh() }.to_owned(),
            )
        })
        .collect();
    let courses = Course::ALL
        .iter()
        .map(|c| {
            (
                c.as_str().to_owned(),
                if en { c.name_en() } else { c.name_zh() }.to_owned(),
            )
        })
        .collect();
    let occupations = OCCUPATIONS
        .iter()
        .map(|o| (o.0.to_owned(), if en { o.2 } else { o.1 }.to_owned()))
        .collect();
    let belongs = Belongs::ALL
        .iter()
        .map(|b| {
            (
                b.as_str().to_owned(),
                if en { b.name_en() } else { b.name_zh() }.to_owned(),
            )
        })
        .collect();
    (diseases, subtypes, classes, courses, occupations, belongs)
}

fn form_page(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    name: String,
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
    general_error: Option<String>,
) -> FormPage {
    let (diseases, subtypes, classes, courses, occupations, belongs) = options(ctx.tr);
    FormPage {
        shell: Shell::new(ctx, state, "case.new").with_title(say(
            ctx.tr,
            "传染病报告卡",
            "Case report card",
        )),
        action: format!("/residents/{id}/cases/new"),
        version: None,
        returned_reason: None,
        resident_id: id,
        resident_name: name,
        values,
        errors,
        general_error,
        diseases,
        subtypes,
        classes,
        courses,
        occupations,
        belongs,
    }
}

/// The card as typed, or the problems of the fields that could not be read at all.
fn parse_card(form: &HashMap<String, String>, tr: Tr) -> Result<Card, HashMap<String, String>> {
    let v = |k: &str| form.get(k).map(|s| s.trim()).unwrap_or_default().to_owned();
    let mut errors = HashMap::new();
    let mut date = |k: &str, zh: &str, en: &str| match NaiveDate::parse_from_str(&v(k), "%Y-%m-%d")
    {
        Ok(d) => Some(d),
        Err(_) => {
            errors.insert(k.to_owned(), say(tr, zh, en));
            None
        }
    };
    let birth = date(
        "birth_date",
        "请填写出生日期（年-月-日）。",
        "Enter the birth date (YYYY-MM-DD).",
    );
    let onset = date(
        "onset_date",
        "请填写发病日期（年-月-日）。",
        "Enter the onset date (YYYY-MM-DD).",
    );
    let fill = date(
        "fill_date",
        "请填写填卡日期（年-月-日）。",
        "Enter the fill date (YYYY-MM-DD).",
    );
    let diagnosed = NaiveDateTime::parse_from_str(
        &format!("{} {}", v("diagnosed_date"), v("diagnosed_time")),
        "%Y-%m-%d %H:%M",
    )
    .ok();
    if diagnosed.is_none() {
        errors.insert(
            "diagnosed_at".into(),
            say(
                tr,
                "请填写诊断日期和时间（时:分）。",
                "Enter the diagnosis date and time (HH:MM).",
            ),
        );
    }
    let death = match v("death_date").as_str() {
        "" => None,
        text => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                errors.insert(
                    "death_date".into(),
                    say(
                        tr,
                        "死亡日期格式应为 年-月-日。",
                        "Write the date of death as YYYY-MM-DD.",
                    ),
                );
                None
            }
        },
    };
    let case_class = CaseClass::parse(&v("case_class"));
    if case_class.is_none() {
        errors.insert(
            "case_class".into(),
            say(tr, "请选择病例分类。", "Choose the case classification."),
        );
    }
    let course = match v("course").as_str() {
        "" => None,
        text => Course::parse(text),
    };
    let belongs = Belongs::parse(&v("belongs"));
    if belongs.is_none() {
        errors.insert(
            "belongs".into(),
            say(tr, "请选择病人属于。", "Choose where the patient lives."),
        );
    }
    match (birth, onset, fill, diagnosed, case_class, belongs) {
        (
            Some(birth_date),
            Some(onset_date),
            Some(fill_date),
            Some(diagnosed_at),
            Some(case_class),
            Some(belongs),
        ) if errors.is_empty() => Ok(Card {
            kind: CardKind::Initial,
            patient_name: v("patient_name"),
            guardian_name: v("guardian_name"),
            sex: v("sex"),
            birth_date,
            work_unit: v("work_unit"),
            phone: v("phone"),
            belongs,
            address_code: v("address_code"),
            address_detail: v("address_detail"),
            occupation: v("occupation"),
            disease: v("disease"),
            subtype: Some(v("subtype")).filter(|s| !s.is_empty()),
            case_class,
            course,
            onset_date,
            diagnosed_at,
            death_date: death,
            fill_date,
            doctor: v("doctor"),
            remarks: v("remarks"),
        }),
        _ => Err(errors),
    }
}

/// The card as typed and checked (`card::validate`), or every problem by field in the
/// visitor's language: one check for a new card and for a corrected one.
fn checked_card(
    state: &AppState,
    form: &HashMap<String, String>,
    tr: Tr,
) -> Result<Card, HashMap<String, String>> {
    let en = tr.lang == Lang::En;
    parse_card(form, tr).and_then(|card| {
        let context = card::Context {
            now: local_now(state),
            county: state.config.notifiable.county.clone(),
        };
        card::validate(&card, &context)
            .map(|()| card)
            .map_err(|problems| {
                let mut errors = HashMap::new();
                for p in problems {
                    errors
                        .entry(p.field.to_owned())
                        .or_insert(if en { p.en } else { p.zh });
                }
                errors
            })
    })
}

pub async fn new_form(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    if !user.role.reads_personal_records() || user.role == Role::Resident {
        return Err(PageError::Forbidden);
    }
    let (r, _) = access::open_resident(&state.store, &viewer(&ctx, &user), id).await?;
    let now = local_now(&state);
    let mut values = HashMap::from([
        ("patient_name".to_owned(), r.name.clone()),
        ("sex".to_owned(), r.sex.clone()),
        (
            "birth_date".to_owned(),
            r.birth_date.map(|d| d.to_string()).unwrap_or_default(),
        ),
        ("address_code".to_owned(), r.division.as_str().to_owned()),
        ("belongs".to_owned(), "county".to_owned()),
        ("diagnosed_date".to_owned(), now.date().to_string()),
        ("diagnosed_time".to_owned(), now.format("%H:%M").to_string()),
        ("fill_date".to_owned(), now.date().to_string()),
        ("doctor".to_owned(), user.display_name.clone()),
    ]);
    values.insert("onset_date".into(), now.date().to_string());
    let page = form_page(&state, &ctx, id, r.name, values, HashMap::new(), None);
    Ok(render(&page)?.into_response())
}

pub async fn create(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, form.get("csrf").map_or("", String::as_str))?;
    if !user.role.reads_personal_records() || user.role == Role::Resident {
        return Err(PageError::Forbidden);
    }
    let fix = say(
        ctx.tr,
        "报告卡有误，请按提示修改后再提交。",
        "The card has errors; correct the fields marked below.",
    );
    let checked = checked_card(&state, &form, ctx.tr);
    let card = match checked {
        Ok(card) => card,
        Err(errors) => {
            let (r, _) = access::open_resident(&state.store, &viewer(&ctx, &user), id).await?;
            let page = form_page(&state, &ctx, id, r.name, form, errors, Some(fix));
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
        }
    };
    match access::report_case(
        &state.store,
        &viewer(&ctx, &user),
        &state.config.notifiable,
        id,
        &card,
    )
    .await
    {
        Ok(reported) => Ok(Redirect::to(&format!("/cases/{}", reported.id)).into_response()),
        Err(AccessError::Store(StoreError::Invalid(message))) => {
            let (r, _) = access::open_resident(&state.store, &viewer(&ctx, &user), id).await?;
            let page = form_page(
                &state,
                &ctx,
                id,
                r.name,
                form,
                HashMap::new(),
                Some(message),
            );
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// A labelled value.
pub struct Fact {
    pub label: String,
    pub value: String,
}

pub struct HistoryRow {
    pub at: String,
    pub action: String,
    pub to: String,
    pub reason: String,
    pub who: String,
    pub correction: Option<i64>,
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    shell: Shell,
    id: i64,
    version: i64,
    resident_id: i64,
    card_no: String,
    status: String,
    notice: Option<String>,
    facts: Vec<Fact>,
    history: Vec<HistoryRow>,
    can_review: bool,
    /// The viewer's institution reported this returned card and may correct it.
    can_resubmit: bool,
    review_error: Option<String>,
    diseases: Vec<Opt>,
    subtypes: Vec<Opt>,
    classes: Vec<Opt>,
    courses: Vec<Opt>,
}

fn status_name(s: CardStatus, tr: Tr) -> String {
    say(tr, s.name_zh(), s.name_en())
}

fn label(c: &CaseReport, tr: Tr) -> String {
    match disease::by_code(&c.disease) {
        Some(d) => {
            let sub = c.subtype.as_deref().and_then(|s| d.subtype(s));
            say(tr, &d.label_zh(sub), &d.label_en(sub))
        }
        None => c.disease.clone(),
    }
}

async fn case_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    id: i64,
    review_error: Option<String>,
) -> Result<CasePage, PageError> {
    let tr = ctx.tr;
    let (c, reviews) = access::open_case(&state.store, &viewer(ctx, user), id).await?;
    let s = &state.config.notifiable;
    let t = |zh: &str, en: &str| say(tr, zh, en);
    let mut facts = vec![
        Fact {
            label: t("患者", "Patient"),
            value: c.patient_name.clone(),
        },
        Fact {
            label: t("出生日期", "Birth date"),
            value: c.birth_date.to_string(),
        },
        Fact {
            label: t("疾病", "Disease"),
            value: label(&c, tr),
        },
        Fact {
            label: t("病例分类", "Classification"),
            value: say(tr, c.case_class.name_zh(), c.case_class.name_en()),
        },
        Fact {
            label: t("发病日期", "Onset"),
            value: c.onset_date.to_string(),
        },
        Fact {
            label: t("诊断时间", "Diagnosed"),
            value: s
                .to_local(c.diagnosed_at)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
        },
        Fact {
            label: t("报告时间", "Reported"),
            value: s
                .to_local(c.reported_at)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
        },
        Fact {
            label: t("报告时限", "Deadline"),
            value: format!(
                "{} h · {}",
                c.deadline_hours,
                if c.on_time {
                    t("及时", "on time")
                } else {
                    t("超时", "late")
                }
            ),
        },
        Fact {
            label: t("报告单位", "Reporting unit"),
            value: c.institution_name.clone(),
        },
        Fact {
            label: t("报告医生", "Doctor"),
            value: c.doctor.clone(),
        },
        Fact {
            label: t("联系电话", "Phone"),
            value: c
                .phone
                .as_deref()
                .map(yiwei_domain::mask::phone)
                .unwrap_or_default(),
        },
    ];
    if let Some(course) = c.course {
        facts.push(Fact {
            label: t("病例分类2", "Course"),
            value: say(tr, course.name_zh(), course.name_en()),
        });
    }
    let notice = match (c.status, c.duplicate_of) {
        (CardStatus::ProbableDuplicate, Some(first)) => Some(say(
            tr,
            &format!(
                "该患者 {} 天内已有同病种报告卡（#{first}），本卡作为疑似重卡转疾控审核。",
                s.duplicate_window_days
            ),
            &format!(
                "This patient already has a card for this disease within {} days (#{first}); this card went to CDC review as a probable duplicate.",
                s.duplicate_window_days
            ),
        )),
        _ => None,
    };
    let (diseases, subtypes, classes, courses, _, _) = options(tr);
    Ok(CasePage {
        shell: Shell::new(ctx, state, "case.title").with_title(format!(
            "{} {}",
            t("报告卡", "Card"),
            c.card_no
        )),
        id: c.id,
        version: c.version,
        resident_id: c.resident_id,
        card_no: c.card_no.clone(),
        status: status_name(c.status, tr),
        notice,
        facts,
        history: reviews
            .into_iter()
            .map(|r| HistoryRow {
                at: s.to_local(r.at).format("%Y-%m-%d %H:%M").to_string(),
                action: r.action,
                to: CardStatus::parse(&r.to_status)
                    .map_or(r.to_status.clone(), |x| status_name(x, tr)),
                reason: r.reason,
                who: r.user_name.unwrap_or_default(),
                correction: r.correction_id,
            })
            .collect(),
        can_review: is_cdc(user)
            && matches!(
                c.status,
                CardStatus::Pending | CardStatus::ProbableDuplicate
            ),
        can_resubmit: c.status == CardStatus::Returned
            && user.institution_id == Some(c.institution_id),
        review_error,
        diseases,
        subtypes,
        classes,
        courses,
    })
}

pub async fn show(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let page = case_page(&state, &ctx, &user, id, None).await?;
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
pub struct ReviewForm {
    csrf: String,
    version: i64,
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    disease: String,
    #[serde(default)]
    subtype: String,
    #[serde(default)]
    case_class: String,
    #[serde(default)]
    course: String,
}

pub async fn review(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<ReviewForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let Some(action) = ReviewAction::parse(&form.action) else {
        return Err(PageError::BadRequest("unknown review action".into()));
    };
    let revision = (action == ReviewAction::Revise).then(|| Revision {
        disease: form.disease.trim().to_owned(),
        subtype: Some(form.subtype.trim().to_owned()).filter(|s| !s.is_empty()),
        case_class: CaseClass::parse(&form.case_class).unwrap_or(CaseClass::Suspected),
        course: Course::parse(&form.course),
    });
    let result = access::review_case(
        &state.store,
        &viewer(&ctx, &user),
        &state.config.notifiable,
        id,
        form.version,
        action,
        &form.reason,
        revision.as_ref(),
    )
    .await;
    match result {
        Ok(Some(correction)) => Ok(Redirect::to(&format!("/cases/{correction}")).into_response()),
        Ok(None) => Ok(Redirect::to(&format!("/cases/{id}")).into_response()),
        Err(AccessError::Store(StoreError::Invalid(message))) => {
            let page = case_page(&state, &ctx, &user, id, Some(message)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub struct QueueRow {
    pub id: i64,
    pub card_no: String,
    pub patient: String,
    pub disease: String,
    pub diagnosed: String,
    pub status: String,
    pub institution: String,
    pub duplicate_of: Option<i64>,
}

#[derive(Template)]
#[template(path = "case_queue.html")]
struct QueuePage {
    shell: Shell,
    heading: String,
    rows: Vec<QueueRow>,
    total: i64,
    pager: Pager,
    /// Link to the returned food-borne reports too (the returned-cards queue).
    foodborne_link: bool,
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

pub async fn queue(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let (page, skip) = offset(q.page);
    let filter = CaseFilter {
        statuses: vec![CardStatus::ProbableDuplicate, CardStatus::Pending],
        ..Default::default()
    };
    let (list, total) = access::case_list(
        &state.store,
        &viewer(&ctx, &user),
        &user.reach,
        &filter,
        PAGE_SIZE,
        skip,
    )
    .await?;
    let heading = say(ctx.tr, "报告卡审核", "Case review queue");
    let shell = Shell::new(&ctx, &state, "case.queue").with_title(heading.clone());
    Ok(render(&QueuePage {
        shell,
        heading,
        rows: queue_rows(&state, ctx.tr, &list),
        total,
        pager: Pager::new("/cdc/review?", page, total),
        foodborne_link: false,
    })?
    .into_response())
}

fn queue_rows(state: &AppState, tr: Tr, list: &[CaseReport]) -> Vec<QueueRow> {
    let s = &state.config.notifiable;
    list.iter()
        .map(|c| QueueRow {
            id: c.id,
            card_no: c.card_no.clone(),
            patient: yiwei_domain::mask::name(&c.patient_name),
            disease: label(c, tr),
            diagnosed: s
                .to_local(c.diagnosed_at)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            status: status_name(c.status, tr),
            institution: c.institution_name.clone(),
            duplicate_of: c.duplicate_of,
        })
        .collect()
}

/// `/cases/returned`: the cards of the viewer's institution that the CDC returned for
/// correction (退回待订正), each linking to its card and its correction form.
pub async fn returned(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let (page, skip) = offset(q.page);
    let (list, total) =
        access::returned_cards(&state.store, &viewer(&ctx, &user), PAGE_SIZE, skip).await?;
    let heading = say(
        ctx.tr,
        "退回待订正的报告卡",
        "Cards returned for correction",
    );
    let shell = Shell::new(&ctx, &state, "case.queue").with_title(heading.clone());
    Ok(render(&QueuePage {
        shell,
        heading,
        rows: queue_rows(&state, ctx.tr, &list),
        total,
        pager: Pager::new("/cases/returned?", page, total),
        foodborne_link: true,
    })?
    .into_response())
}

/// The form values of a stored card, for its correction.
fn card_values(c: &CaseReport, s: &notifiable::Settings) -> HashMap<String, String> {
    let diagnosed = s.to_local(c.diagnosed_at);
    let optional = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    HashMap::from([
        ("patient_name".to_owned(), c.patient_name.clone()),
        ("guardian_name".to_owned(), c.guardian_name.clone()),
        ("sex".to_owned(), c.sex.clone()),
        ("birth_date".to_owned(), c.birth_date.to_string()),
        ("work_unit".to_owned(), c.work_unit.clone()),
        ("phone".to_owned(), c.phone.clone().unwrap_or_default()),
        ("belongs".to_owned(), c.belongs.as_str().to_owned()),
        ("address_code".to_owned(), c.address_code.clone()),
        ("address_detail".to_owned(), c.address_detail.clone()),
        ("occupation".to_owned(), c.occupation.clone()),
        ("disease".to_owned(), c.disease.clone()),
        ("subtype".to_owned(), c.subtype.clone().unwrap_or_default()),
        ("case_class".to_owned(), c.case_class.as_str().to_owned()),
        (
            "course".to_owned(),
            c.course.map(|x| x.as_str().to_owned()).unwrap_or_default(),
        ),
        ("onset_date".to_owned(), c.onset_date.to_string()),
        ("diagnosed_date".to_owned(), diagnosed.date().to_string()),
        (
            "diagnosed_time".to_owned(),
            diagnosed.format("%H:%M").to_string(),
        ),
        ("death_date".to_owned(), optional(c.death_date)),
        ("fill_date".to_owned(), c.fill_date.to_string()),
        ("doctor".to_owned(), c.doctor.clone()),
        ("remarks".to_owned(), c.remarks.clone()),
    ])
}

/// The correction form of a returned card, with `values` as typed (or as stored).
#[expect(clippy::too_many_arguments, reason = "one form, its parts named")]
fn correction_page(
    state: &AppState,
    ctx: &Ctx,
    c: &CaseReport,
    reviews: &[notifiable::Review],
    version: i64,
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
    general_error: Option<String>,
) -> FormPage {
    let mut page = form_page(
        state,
        ctx,
        c.resident_id,
        c.patient_name.clone(),
        values,
        errors,
        general_error,
    );
    page.action = format!("/cases/{}/resubmit", c.id);
    page.version = Some(version);
    page.returned_reason = reviews
        .iter()
        .rev()
        .find(|r| r.action == "return")
        .map(|r| r.reason.clone());
    page
}

/// `GET /cases/{id}/resubmit`: the returned card, prefilled, with the CDC's reason.
pub async fn resubmit_form(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (c, reviews) = access::open_case(&state.store, &viewer(&ctx, &user), id).await?;
    if c.status != CardStatus::Returned {
        return Ok(Redirect::to(&format!("/cases/{id}")).into_response());
    }
    let values = card_values(&c, &state.config.notifiable);
    let page = correction_page(
        &state,
        &ctx,
        &c,
        &reviews,
        c.version,
        values,
        HashMap::new(),
        None,
    );
    Ok(render(&page)?.into_response())
}

/// `POST /cases/{id}/resubmit`: check the corrected card like a new one and send it back
/// to CDC review; errors re-show the form next to their fields.
pub async fn resubmit(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, form.get("csrf").map_or("", String::as_str))?;
    let version: i64 = form
        .get("version")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            PageError::BadRequest("the form lost the card's version; reload it".into())
        })?;
    let note = form.get("note").map_or("", String::as_str).to_owned();
    let checked = checked_card(&state, &form, ctx.tr);
    let again = |errors: HashMap<String, String>, message: Option<String>| {
        let state = state.clone();
        let ctx = ctx.clone();
        let user = user.clone();
        let form = form.clone();
        async move {
            let (c, reviews) = access::open_case(&state.store, &viewer(&ctx, &user), id).await?;
            let page = correction_page(&state, &ctx, &c, &reviews, version, form, errors, message);
            Ok::<_, PageError>((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
    };
    let card = match checked {
        Ok(card) => card,
        Err(errors) => {
            let fix = say(
                ctx.tr,
                "报告卡有误，请按提示修改后再提交。",
                "The card has errors; correct the fields marked below.",
            );
            return again(errors, Some(fix)).await;
        }
    };
    match access::resubmit_case(
        &state.store,
        &viewer(&ctx, &user),
        &state.config.notifiable,
        id,
        version,
        &card,
        &note,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/cases/{id}")).into_response()),
        Err(AccessError::Store(StoreError::Invalid(message))) => {
            again(HashMap::new(), Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------
// Signals.

pub struct SignalRow {
    pub id: i64,
    pub day: String,
    pub disease: String,
    pub area: String,
    pub method: String,
    pub observed: String,
    pub threshold: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "signals.html")]
struct SignalsPage {
    shell: Shell,
    rows: Vec<SignalRow>,
    total: i64,
    pager: Pager,
}

fn disease_name(code: &str, tr: Tr) -> String {
    disease::by_code(code).map_or_else(|| code.to_owned(), |d| say(tr, d.name_zh, d.name_en))
}

fn figure(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

pub async fn signals(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    if !yiwei_domain::access::may_see_aggregate(&user.actor(), &user.reach) {
        return Err(PageError::Forbidden);
    }
    let (page, skip) = offset(q.page);
    let root = aggregate_root(&state, &user);
    let (list, total) = notifiable::signals(
        &state.store,
        &root,
        &SignalFilter::default(),
        PAGE_SIZE,
        skip,
    )
    .await?;
    let tr = ctx.tr;
    let rows = list
        .iter()
        .map(|s| SignalRow {
            id: s.id,
            day: s.day.to_string(),
            disease: disease_name(&s.disease, tr),
            area: s.division_name.clone(),
            method: s.method.clone(),
            observed: figure(s.observed),
            threshold: s.threshold.map(figure).unwrap_or_default(),
            status: say(tr, s.status.name_zh(), s.status.name_en()),
        })
        .collect();
    let shell =
        Shell::new(&ctx, &state, "signal.list").with_title(say(tr, "预警信号", "Warning signals"));
    Ok(render(&SignalsPage {
        shell,
        rows,
        total,
        pager: Pager::new("/warnings?", page, total),
    })?
    .into_response())
}

/// Signals of a county are seen from the county down: a township user sees the county's.
fn aggregate_root(state: &AppState, user: &User) -> DivisionCode {
    if state.config.county.contains(&user.reach) && user.reach != state.config.county {
        user.reach.clone()
    } else {
        state.config.county.clone()
    }
}

pub struct Point {
    pub x: f64,
    pub y: f64,
}

pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub bars: Vec<(f64, f64, f64, bool)>,
    pub threshold_y: Option<f64>,
    pub max: u32,
    pub first: String,
    pub last: String,
}

/// The 56 days up to the signal as bars, the signal's day highlighted, and the threshold
/// as a line where the method's unit is a day (fixed, EARS); MPM's threshold is a 7-day
/// sum and Farrington's a weekly count, so they are stated, not drawn.
fn chart(series: &[u32], first: NaiveDate, threshold: Option<f64>) -> Chart {
    let (width, height) = (560.0, 160.0);
    let max = series
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .max(threshold.map_or(0, |t| t.ceil() as u32))
        .max(1);
    let scale = (height - 10.0) / f64::from(max);
    let w = width / series.len().max(1) as f64;
    let bars = series
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let h = f64::from(*n) * scale;
            (i as f64 * w, height - h, h, i + 1 == series.len())
        })
        .collect();
    Chart {
        width,
        height,
        bars,
        threshold_y: threshold.map(|t| height - t * scale),
        max,
        first: first.to_string(),
        last: (first + Duration::days(series.len() as i64 - 1)).to_string(),
    }
}

pub struct CaseRow {
    pub id: i64,
    pub patient: String,
    pub village: String,
    pub diagnosed: String,
}

#[derive(Template)]
#[template(path = "signal.html")]
struct SignalPage {
    shell: Shell,
    id: i64,
    version: i64,
    facts: Vec<Fact>,
    parameters: Vec<(String, String)>,
    chart: Chart,
    bar_width: f64,
    cases: Vec<CaseRow>,
    cases_hidden: bool,
    events: Vec<HistoryRow>,
    steps: Vec<Opt>,
    assignees: Vec<Opt>,
    error: Option<String>,
}

async fn signal_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    id: i64,
    error: Option<String>,
) -> Result<SignalPage, PageError> {
    let tr = ctx.tr;
    let s = notifiable::signal(&state.store, id).await?;
    let area = DivisionCode::parse(&s.division).map_err(|_| PageError::NotFound)?;
    if !(user.reach.contains(&area) || area.contains(&user.reach)) || user.role == Role::Resident {
        return Err(PageError::Forbidden);
    }
    let from = s.day - Duration::days(55);
    let series = notifiable::series(&state.store, &s.disease, &area, from, s.day).await?;
    let daily = matches!(
        s.method.as_str(),
        "fixed" | "ears_c1" | "ears_c2" | "ears_c3"
    );
    let chart = chart(&series, from, if daily { s.threshold } else { None });
    let bar_width = (chart.width / series.len().max(1) as f64 - 1.0).max(1.0);
    let t = |zh: &str, en: &str| say(tr, zh, en);
    let b = &s.baseline;
    let text = |k: &str| {
        b.get(k)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .unwrap_or_default()
    };
    let facts = vec![
        Fact {
            label: t("日期", "Day"),
            value: s.day.to_string(),
        },
        Fact {
            label: t("疾病", "Disease"),
            value: disease_name(&s.disease, tr),
        },
        Fact {
            label: t("地区", "Area"),
            value: s.division_name.clone(),
        },
        Fact {
            label: t("方法", "Method"),
            value: s.method.clone(),
        },
        Fact {
            label: t("观察值", "Observed"),
            value: figure(s.observed),
        },
        Fact {
            label: t("阈值", "Threshold"),
            value: s.threshold.map(figure).unwrap_or_default(),
        },
        Fact {
            label: t("期望值", "Expected"),
            value: s.expected.map(figure).unwrap_or_default(),
        },
        Fact {
            label: t("基线", "Baseline"),
            value: format!(
                "{} – {}, n = {}, mean {}, sd {} {}",
                text("from"),
                text("to"),
                text("n"),
                text("mean"),
                text("sd"),
                text("note")
            ),
        },
        Fact {
            label: t("状态", "Status"),
            value: say(tr, s.status.name_zh(), s.status.name_en()),
        },
        Fact {
            label: t("负责人", "Assigned to"),
            value: s.assignee_name.clone().unwrap_or_default(),
        },
        Fact {
            label: t("核实用时", "Time to verify"),
            value: s
                .hours_to_verify()
                .map(|h| format!("{h:.1} h"))
                .unwrap_or_default(),
        },
    ];
    let (cases, cases_hidden) = if is_cdc(user) {
        let list = access::signal_cases(&state.store, &viewer(ctx, user), &s).await?;
        let settings = &state.config.notifiable;
        (
            list.iter()
                .map(|c| CaseRow {
                    id: c.id,
                    patient: yiwei_domain::mask::name(&c.patient_name),
                    village: c.division.as_str().to_owned(),
                    diagnosed: settings
                        .to_local(c.diagnosed_at)
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                })
                .collect(),
            false,
        )
    } else {
        (Vec::new(), true)
    };
    let events = notifiable::signal_events(&state.store, id)
        .await?
        .into_iter()
        .map(|e| HistoryRow {
            at: state
                .config
                .notifiable
                .to_local(e.at)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            action: e.step,
            to: SignalStatus::parse(&e.to_status)
                .map_or(e.to_status.clone(), |x| say(tr, x.name_zh(), x.name_en())),
            reason: e.notes,
            who: e.user_name.unwrap_or_default(),
            correction: None,
        })
        .collect();
    let all_steps = [
        ("assign", "分派", "Assign"),
        ("verify_true", "核实：疑似暴发", "Verified: outbreak"),
        ("verify_false", "核实：排除", "Verified: not an outbreak"),
        ("respond", "开始响应", "Start response"),
        ("close", "关闭", "Close"),
    ];
    let steps = if is_cdc(user) {
        all_steps
            .iter()
            .filter(|(code, _, _)| {
                SignalStep::parse(code).is_some_and(|step| {
                    yiwei_domain::notifiable::workflow::signal_step(
                        s.status, s.outbreak, step, "ok",
                    )
                    .is_ok()
                })
            })
            .map(|(code, zh, en)| ((*code).to_owned(), say(tr, zh, en)))
            .collect()
    } else {
        Vec::new()
    };
    let assignees = if is_cdc(user) {
        yiwei_store::user::list(&state.store, 1000, 0)
            .await?
            .0
            .into_iter()
            .filter(|u| u.role == Role::CdcStaff)
            .map(|u| (u.id.to_string(), u.display_name))
            .collect()
    } else {
        Vec::new()
    };
    Ok(SignalPage {
        shell: Shell::new(ctx, state, "signal.title").with_title(format!(
            "{} #{}",
            t("预警信号", "Signal"),
            s.id
        )),
        id: s.id,
        version: s.version,
        facts,
        parameters: s.parameters.clone(),
        chart,
        bar_width,
        cases,
        cases_hidden,
        events,
        steps,
        assignees,
        error,
    })
}

pub async fn signal(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let page = signal_page(&state, &ctx, &user, id, None).await?;
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
pub struct StepForm {
    csrf: String,
    version: i64,
    step: String,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    assignee: String,
}

pub async fn step(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<StepForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let Some(step) = SignalStep::parse(&form.step) else {
        return Err(PageError::BadRequest("unknown workflow step".into()));
    };
    let assignee = form.assignee.trim().parse::<i64>().ok();
    match access::step_signal(
        &state.store,
        &viewer(&ctx, &user),
        id,
        form.version,
        step,
        &form.notes,
        assignee,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/warnings/{id}")).into_response()),
        Err(AccessError::Store(StoreError::Invalid(message))) => {
            let page = signal_page(&state, &ctx, &user, id, Some(message)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
