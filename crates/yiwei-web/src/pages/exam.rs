//! Health exams (健康体检表) and the encounter timeline (就诊/服务记录) of a resident.
//!
//! - `/residents/{id}/exams/new`: the form with the main sections of the 健康体检表
//!   (第三版规范; `shared/domain.md` §7). The figures are checked by
//!   `yiwei_domain::exam::validate` and each problem is shown next to its field; every
//!   field re-shows on error. BMI is computed, never typed.
//! - `/residents/{id}/exams/{encounter_id}`: one exam.
//! - `/residents/{id}/timeline`: every encounter from every institution, newest first,
//!   paged; the resident page shows the newest few through [`timeline`].
//!
//! Everything goes through `yiwei_store::access`, which checks reach and audits. The
//! figures and the three 老年人 assessments are typed columns; the other sections are kept
//! as one JSON object, grouped by section (`{"lifestyle": {"smoking": "1", …}, …}`).

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use yiwei_domain::access::Role;
use yiwei_domain::exam::{self, BpClass, Field, GlucoseClass, Measurements};
use yiwei_domain::key_group::age_on;
use yiwei_domain::mask;
use yiwei_store::access::{self, AccessError};
use yiwei_store::encounter::{Encounter, NewExam, TimelineFilter};
use yiwei_store::user::User;
use yiwei_store::{Store, StoreError};

use super::{local_time, render};
use super::{say, viewer};
use crate::AppState;
use crate::auth::{Ctx, Staff};
use crate::error::PageError;
use crate::i18n::{Lang, Tr};
use crate::shell::{PAGE_SIZE, Pager, Shell, offset};

/// How a form field is entered.
#[derive(Clone, Copy)]
enum Widget {
    /// A measured figure (typed column).
    Figure(Field),
    /// One line of text.
    Text,
    /// Several lines of text.
    Area,
    /// A choice; the options are (code, message key).
    Choice(&'static [(&'static str, &'static str)]),
    /// A 老年人 assessment code (typed column), labelled by the domain's value set.
    Assessment(&'static [exam::Code]),
}

struct Spec {
    /// Form field name; for JSON-kept fields also the key inside the section's object.
    name: &'static str,
    label_key: &'static str,
    widget: Widget,
}

const fn spec(name: &'static str, label_key: &'static str, widget: Widget) -> Spec {
    Spec {
        name,
        label_key,
        widget,
    }
}

/// A section of the form: its key in the `sections` JSON, its title key, its fields.
struct Section {
    key: &'static str,
    title_key: &'static str,
    fields: &'static [Spec],
}

const SELF_RATING: &[(&str, &str)] = &[
    ("1", "exam.opt.rating.1"),
    ("2", "exam.opt.rating.2"),
    ("3", "exam.opt.rating.3"),
    ("4", "exam.opt.rating.4"),
    ("5", "exam.opt.rating.5"),
];
const SMOKING: &[(&str, &str)] = &[
    ("1", "exam.opt.smoking.1"),
    ("2", "exam.opt.smoking.2"),
    ("3", "exam.opt.smoking.3"),
];
const DRINKING: &[(&str, &str)] = &[
    ("1", "exam.opt.drinking.1"),
    ("2", "exam.opt.drinking.2"),
    ("3", "exam.opt.drinking.3"),
    ("4", "exam.opt.drinking.4"),
];
const EVALUATION: &[(&str, &str)] = &[
    ("1", "exam.opt.evaluation.1"),
    ("2", "exam.opt.evaluation.2"),
];

/// Fields stored in typed columns rather than in the sections JSON.
const COLUMN_FIELDS: [&str; 5] = ["self_care", "cognition", "emotion", "diagnoses", "summary"];

/// The main sections of the 健康体检表, in the form's order.
const SECTIONS: &[Section] = &[
    Section {
        key: "symptoms",
        title_key: "exam.s.symptoms",
        fields: &[spec("symptoms", "exam.f.symptoms", Widget::Area)],
    },
    Section {
        key: "general",
        title_key: "exam.s.general",
        fields: &[
            spec(
                "temperature",
                "exam.f.temperature",
                Widget::Figure(Field::Temperature),
            ),
            spec("pulse", "exam.f.pulse", Widget::Figure(Field::Pulse)),
            spec(
                "respiration",
                "exam.f.respiration",
                Widget::Figure(Field::Respiration),
            ),
            spec(
                "bp_left_sys",
                "exam.f.bp_left_sys",
                Widget::Figure(Field::BpLeftSys),
            ),
            spec(
                "bp_left_dia",
                "exam.f.bp_left_dia",
                Widget::Figure(Field::BpLeftDia),
            ),
            spec(
                "bp_right_sys",
                "exam.f.bp_right_sys",
                Widget::Figure(Field::BpRightSys),
            ),
            spec(
                "bp_right_dia",
                "exam.f.bp_right_dia",
                Widget::Figure(Field::BpRightDia),
            ),
            spec("height_cm", "exam.f.height", Widget::Figure(Field::Height)),
            spec("weight_kg", "exam.f.weight", Widget::Figure(Field::Weight)),
            spec("waist_cm", "exam.f.waist", Widget::Figure(Field::Waist)),
            spec(
                "health_self_rating",
                "exam.f.health_self_rating",
                Widget::Choice(SELF_RATING),
            ),
            spec(
                "self_care",
                "exam.f.self_care",
                Widget::Assessment(exam::SELF_CARE),
            ),
            spec(
                "cognition",
                "exam.f.cognition",
                Widget::Assessment(exam::COGNITION),
            ),
            spec(
                "emotion",
                "exam.f.emotion",
                Widget::Assessment(exam::EMOTION),
            ),
        ],
    },
    Section {
        key: "lifestyle",
        title_key: "exam.s.lifestyle",
        fields: &[
            spec("exercise", "exam.f.exercise", Widget::Text),
            spec("diet", "exam.f.diet", Widget::Text),
            spec("smoking", "exam.f.smoking", Widget::Choice(SMOKING)),
            spec("drinking", "exam.f.drinking", Widget::Choice(DRINKING)),
            spec(
                "occupational_exposure",
                "exam.f.occupational_exposure",
                Widget::Text,
            ),
        ],
    },
    Section {
        key: "organ_function",
        title_key: "exam.s.organ_function",
        fields: &[
            spec("oral", "exam.f.oral", Widget::Text),
            spec("vision", "exam.f.vision", Widget::Text),
            spec("hearing", "exam.f.hearing", Widget::Text),
            spec("motor", "exam.f.motor", Widget::Text),
        ],
    },
    Section {
        key: "physical_exam",
        title_key: "exam.s.physical_exam",
        fields: &[
            spec("skin", "exam.f.skin", Widget::Text),
            spec("lungs", "exam.f.lungs", Widget::Text),
            spec("heart", "exam.f.heart", Widget::Text),
            spec("abdomen", "exam.f.abdomen", Widget::Text),
            spec("oedema", "exam.f.oedema", Widget::Text),
            spec("other_findings", "exam.f.other_findings", Widget::Area),
        ],
    },
    Section {
        key: "auxiliary",
        title_key: "exam.s.auxiliary",
        fields: &[
            spec(
                "fasting_glucose_mmol",
                "exam.f.fasting_glucose",
                Widget::Figure(Field::FastingGlucose),
            ),
            spec("blood_routine", "exam.f.blood_routine", Widget::Text),
            spec("urine_routine", "exam.f.urine_routine", Widget::Text),
            spec("ecg", "exam.f.ecg", Widget::Text),
            spec("liver_function", "exam.f.liver_function", Widget::Text),
            spec("kidney_function", "exam.f.kidney_function", Widget::Text),
            spec("lipids", "exam.f.lipids", Widget::Text),
            spec("ultrasound", "exam.f.ultrasound", Widget::Text),
            spec("other_auxiliary", "exam.f.other_auxiliary", Widget::Area),
        ],
    },
    Section {
        key: "problems",
        title_key: "exam.s.problems",
        fields: &[spec("diagnoses", "exam.f.diagnoses", Widget::Area)],
    },
    Section {
        key: "hospitalisation",
        title_key: "exam.s.hospitalisation",
        fields: &[spec(
            "hospitalisations",
            "exam.f.hospitalisations",
            Widget::Area,
        )],
    },
    Section {
        key: "medication",
        title_key: "exam.s.medication",
        fields: &[spec("medications", "exam.f.medications", Widget::Area)],
    },
    Section {
        key: "vaccination",
        title_key: "exam.s.vaccination",
        fields: &[spec("vaccinations", "exam.f.vaccinations", Widget::Text)],
    },
    Section {
        key: "evaluation",
        title_key: "exam.s.evaluation",
        fields: &[
            spec(
                "evaluation",
                "exam.f.evaluation",
                Widget::Choice(EVALUATION),
            ),
            spec("summary", "exam.f.summary", Widget::Area),
        ],
    },
    Section {
        key: "guidance",
        title_key: "exam.s.guidance",
        fields: &[
            spec("guidance", "exam.f.guidance", Widget::Area),
            spec("risk_control", "exam.f.risk_control", Widget::Area),
        ],
    },
];

/// The longest text of one JSON-kept field (characters).
const MAX_TEXT_CHARS: usize = 1000;

/// One input of the form, ready for the template.
pub struct Input {
    pub name: &'static str,
    pub label: String,
    /// `figure`, `text`, `area` or `select`.
    pub kind: &'static str,
    pub value: String,
    pub options: Vec<(String, String)>,
    pub error: Option<String>,
}

pub struct FormSection {
    pub key: &'static str,
    pub title: String,
    pub inputs: Vec<Input>,
}

#[derive(Template)]
#[template(path = "exam_form.html")]
struct FormPage {
    shell: Shell,
    resident_id: i64,
    resident_name: String,
    action: String,
    /// Set when the form corrects a stored exam: its version and the reason asked for.
    correction: Option<CorrectionFields>,
    exam_date: String,
    exam_time: String,
    date_error: Option<String>,
    general_error: Option<String>,
    sections: Vec<FormSection>,
}

/// The extra fields of a correction (更正): the version corrected and why.
pub struct CorrectionFields {
    pub version: i64,
    pub reason: String,
    pub reason_error: Option<String>,
}

/// One correction of an exam, as the exam page lists it.
pub struct RevisionRow {
    pub version: i64,
    pub at: String,
    pub who: String,
    pub reason: String,
}

/// A labelled value of the exam page.
pub struct Fact {
    pub label: String,
    pub value: String,
}

pub struct ShowSection {
    pub title: String,
    pub facts: Vec<Fact>,
}

#[derive(Template)]
#[template(path = "exam.html")]
struct ExamPage {
    shell: Shell,
    resident_id: i64,
    resident_name: String,
    encounter_id: i64,
    version: i64,
    /// The viewer's institution recorded this exam and it is not voided: it may correct
    /// or void it.
    can_correct: bool,
    /// Why it was voided, when it was.
    voided: Option<String>,
    revisions: Vec<RevisionRow>,
    header: Vec<Fact>,
    bp_note: Option<String>,
    glucose_note: Option<String>,
    sections: Vec<ShowSection>,
}

/// One row of the timeline.
pub struct TimelineRow {
    pub id: i64,
    /// The exam page, for a health exam.
    pub href: Option<String>,
    pub when: String,
    pub kind: String,
    pub institution: String,
    pub summary: String,
    pub bp: String,
    pub glucose: String,
    /// The blood pressure is at an urgent-referral level.
    pub urgent_bp: bool,
    /// The fasting glucose is at an urgent-referral level.
    pub urgent_glucose: bool,
}

/// The timeline of a resident, for the resident page (`timeline.html`).
pub struct Timeline {
    pub resident_id: i64,
    pub rows: Vec<TimelineRow>,
    pub total: i64,
    /// Whether the viewer may record an exam here.
    pub can_record: bool,
    /// The full, paged timeline when there are more rows than shown.
    pub more: Option<String>,
}

#[derive(Template)]
#[template(path = "timeline_page.html")]
struct TimelinePage {
    shell: Shell,
    resident_name: String,
    timeline: Timeline,
    pager: Pager,
}

/// Whether the role records clinical data (the store checks again, and audits).
fn records_clinical_data(user: &User) -> bool {
    user.role.reads_personal_records() && user.role != Role::Resident
}

/// The county's local "now" (date and minute).
fn local_now(state: &AppState) -> chrono::NaiveDateTime {
    (Utc::now() + chrono::Duration::hours(i64::from(state.config.utc_offset_hours))).naive_utc()
}

fn options_of(widget: Widget, tr: Tr) -> Vec<(String, String)> {
    match widget {
        Widget::Choice(list) => list
            .iter()
            .map(|(code, key)| ((*code).to_owned(), tr.t(key).to_owned()))
            .collect(),
        Widget::Assessment(set) => set
            .iter()
            .map(|c| {
                let label = if tr.lang == Lang::En { c.2 } else { c.1 };
                (c.0.to_owned(), label.to_owned())
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn kind_of(widget: Widget) -> &'static str {
    match widget {
        Widget::Figure(_) => "figure",
        Widget::Text => "text",
        Widget::Area => "area",
        Widget::Choice(_) | Widget::Assessment(_) => "select",
    }
}

/// The form's sections with `values` filled in and `errors` next to their fields.
fn form_sections(
    values: &HashMap<String, String>,
    errors: &HashMap<&'static str, String>,
    tr: Tr,
) -> Vec<FormSection> {
    SECTIONS
        .iter()
        .map(|s| FormSection {
            key: s.key,
            title: tr.t(s.title_key).to_owned(),
            inputs: s
                .fields
                .iter()
                .map(|f| Input {
                    name: f.name,
                    label: tr.t(f.label_key).to_owned(),
                    kind: kind_of(f.widget),
                    value: values.get(f.name).cloned().unwrap_or_default(),
                    options: options_of(f.widget, tr),
                    error: errors.get(f.name).cloned(),
                })
                .collect(),
        })
        .collect()
}

/// The values of a form as typed, with their errors; the exam when there are none.
struct Parsed {
    exam: Option<NewExam>,
    errors: HashMap<&'static str, String>,
    date_error: Option<String>,
}

/// Split a list of health problems typed one per line or separated by 、，,；;.
fn split_list(text: &str) -> Vec<String> {
    text.split(['\n', '、', '，', ',', '；', ';'])
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn parse_form(
    form: &HashMap<String, String>,
    tr: Tr,
    today: NaiveDate,
    offset_hours: i32,
) -> Parsed {
    let en = tr.lang == Lang::En;
    let mut errors: HashMap<&'static str, String> = HashMap::new();
    let mut date_error = None;
    let value = |name: &str| form.get(name).map(|v| v.trim()).unwrap_or_default();

    let date = match NaiveDate::parse_from_str(value("exam_date"), "%Y-%m-%d") {
        Ok(d) if d > today => {
            date_error = Some(say(
                tr,
                "体检日期不能晚于今天。",
                "The exam date cannot be in the future.",
            ));
            None
        }
        Ok(d) if d < NaiveDate::from_ymd_opt(1950, 1, 1).unwrap_or(d) => {
            date_error = Some(say(
                tr,
                "体检日期早于 1950 年，请核对。",
                "The exam date is before 1950; check it.",
            ));
            None
        }
        Ok(d) => Some(d),
        Err(_) => {
            date_error = Some(say(
                tr,
                "请填写体检日期（年-月-日）。",
                "Enter the exam date (YYYY-MM-DD).",
            ));
            None
        }
    };
    let time = if value("exam_time").is_empty() {
        Some(NaiveTime::MIN)
    } else {
        match NaiveTime::parse_from_str(value("exam_time"), "%H:%M") {
            Ok(t) => Some(t),
            Err(_) => {
                date_error = Some(say(
                    tr,
                    "时间格式应为 时:分，例如 09:30。",
                    "Write the time as HH:MM, for example 09:30.",
                ));
                None
            }
        }
    };

    let mut measurements = Measurements::default();
    let mut sections = Map::new();
    let mut codes: HashMap<&str, Option<String>> = HashMap::new();
    for section in SECTIONS {
        let mut group = Map::new();
        for f in section.fields {
            let text = value(f.name);
            match f.widget {
                Widget::Figure(field) => match field.read(text) {
                    Ok(v) => measurements.set(field, v),
                    Err(p) => {
                        errors.insert(f.name, if en { p.message_en } else { p.message_zh });
                    }
                },
                Widget::Assessment(set) => {
                    if !text.is_empty() && !exam::is_code(set, text) {
                        errors.insert(f.name, say(tr, "请从列表中选择。", "Choose from the list."));
                    }
                    codes.insert(f.name, Some(text.to_owned()).filter(|t| !t.is_empty()));
                }
                Widget::Choice(list) => {
                    if text.is_empty() {
                        continue;
                    }
                    if !list.iter().any(|(code, _)| *code == text) {
                        errors.insert(f.name, say(tr, "请从列表中选择。", "Choose from the list."));
                    }
                    group.insert(f.name.to_owned(), Value::from(text));
                }
                Widget::Text | Widget::Area => {
                    if text.chars().count() > MAX_TEXT_CHARS {
                        errors.insert(
                            f.name,
                            tr.t1("exam.too_long", "n", &MAX_TEXT_CHARS.to_string()),
                        );
                    }
                    if !text.is_empty() && !COLUMN_FIELDS.contains(&f.name) {
                        group.insert(f.name.to_owned(), Value::from(text));
                    }
                }
            }
        }
        if !group.is_empty() {
            sections.insert(section.key.to_owned(), Value::Object(group));
        }
    }
    // Ranges, pairs and BMI, once every figure was read.
    let checked = match exam::validate(&measurements, &exam::Ranges::default()) {
        Ok(m) => Some(m),
        Err(problems) => {
            for p in problems {
                // A BMI problem concerns height and weight: show it under the weight.
                let name = if p.field == Field::Bmi {
                    "weight_kg"
                } else {
                    p.field.name()
                };
                errors
                    .entry(name)
                    .or_insert(if en { p.message_en } else { p.message_zh });
            }
            None
        }
    };
    let exam = match (date, time, checked) {
        (Some(d), Some(t), Some(m)) if errors.is_empty() && date_error.is_none() => {
            let local = d.and_time(t) - chrono::Duration::hours(i64::from(offset_hours));
            Some(NewExam {
                institution_id: None,
                started_at: Utc.from_utc_datetime(&local),
                exam_date: d,
                summary: value("summary").to_owned(),
                diagnoses: split_list(value("diagnoses")),
                measurements: m,
                self_care: codes.remove("self_care").flatten(),
                cognition: codes.remove("cognition").flatten(),
                emotion: codes.remove("emotion").flatten(),
                sections: Value::Object(sections),
            })
        }
        _ => None,
    };
    Parsed {
        exam,
        errors,
        date_error,
    }
}

/// Open the resident (checked, audited) for a page about them: the name, the name
/// masked for the window title, and the birth date. A refusal is a 403.
async fn resident_name(
    store: &Store,
    ctx: &Ctx,
    user: &User,
    id: i64,
) -> Result<(String, String, Option<NaiveDate>), PageError> {
    let (r, _) = access::open_resident(store, &viewer(ctx, user), id).await?;
    Ok((r.name.clone(), mask::name(&r.name), r.birth_date))
}

#[expect(
    clippy::too_many_arguments,
    reason = "one page model, built from its parts in three places"
)]
fn form_page(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    (name, masked): (String, String),
    values: &HashMap<String, String>,
    errors: &HashMap<&'static str, String>,
    date_error: Option<String>,
    general_error: Option<String>,
) -> FormPage {
    FormPage {
        shell: Shell::new(ctx, state, "exam.new")
            .with_title(format!("{} · {masked}", ctx.tr.t("exam.new"))),
        resident_id: id,
        resident_name: name,
        action: format!("/residents/{id}/exams/new"),
        correction: None,
        exam_date: values.get("exam_date").cloned().unwrap_or_default(),
        exam_time: values.get("exam_time").cloned().unwrap_or_default(),
        date_error,
        general_error,
        sections: form_sections(values, errors, ctx.tr),
    }
}

pub async fn new_form(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    if !records_clinical_data(&user) {
        return Err(PageError::Forbidden);
    }
    let (name, masked, _) = resident_name(&state.store, &ctx, &user, id).await?;
    let now = local_now(&state);
    let values = HashMap::from([
        ("exam_date".to_owned(), now.date().to_string()),
        ("exam_time".to_owned(), now.format("%H:%M").to_string()),
    ]);
    let page = form_page(
        &state,
        &ctx,
        id,
        (name, masked),
        &values,
        &HashMap::new(),
        None,
        None,
    );
    Ok(render(&page)?.into_response())
}

pub async fn create(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, form.get("csrf").map_or("", String::as_str))?;
    if !records_clinical_data(&user) {
        return Err(PageError::Forbidden);
    }
    let today = local_now(&state).date();
    let parsed = parse_form(&form, ctx.tr, today, state.config.utc_offset_hours);
    let Some(new) = parsed.exam else {
        let (name, masked, _) = resident_name(&state.store, &ctx, &user, id).await?;
        let page = form_page(
            &state,
            &ctx,
            id,
            (name, masked),
            &form,
            &parsed.errors,
            parsed.date_error,
            Some(ctx.tr.t("exam.fix_errors").to_owned()),
        );
        return Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response());
    };
    match access::record_exam(&state.store, &viewer(&ctx, &user), id, &new).await {
        Ok(encounter_id) => Ok(Redirect::to(&format!(
            "/residents/{id}/exams/{encounter_id}?done=saved"
        ))
        .into_response()),
        Err(AccessError::Store(StoreError::Invalid(message))) => {
            let (name, masked, _) = resident_name(&state.store, &ctx, &user, id).await?;
            let page = form_page(
                &state,
                &ctx,
                id,
                (name, masked),
                &form,
                &parsed.errors,
                None,
                Some(message),
            );
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// A figure with its unit, or empty.
fn with_unit(v: Option<f64>, unit: &str) -> String {
    v.map(|v| format!("{} {unit}", exam::figure(v)))
        .unwrap_or_default()
}

fn bp_text(m: &Measurements) -> String {
    m.representative_bp()
        .map(|(s, d)| format!("{}/{} mmHg", exam::figure(s), exam::figure(d)))
        .unwrap_or_default()
}

#[derive(Deserialize)]
pub struct ShowQuery {
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path((id, encounter_id)): Path<(i64, i64)>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, PageError> {
    let tr = ctx.tr;
    let (name, masked, birth) = resident_name(&state.store, &ctx, &user, id).await?;
    let found = access::open_exam(&state.store, &viewer(&ctx, &user), encounter_id).await?;
    let e = &found.encounter;
    if e.resident_id != id {
        return Err(PageError::NotFound);
    }
    let Some(figures) = &e.exam else {
        return Err(PageError::NotFound);
    };
    let m = &figures.measurements;
    let age = birth.map(|b| age_on(b, figures.exam_date));
    let bp_note = m.representative_bp().map(|(s, d)| {
        let class = exam::classify_bp(s, d, age, &exam::BpThresholds::default());
        let key = match class {
            BpClass::Controlled => "exam.bp.controlled",
            BpClass::Uncontrolled => "exam.bp.uncontrolled",
            BpClass::UrgentReferral => "exam.bp.urgent",
        };
        format!("{} {}", bp_text(m), tr.t(key))
    });
    let glucose_note = m.fasting_glucose_mmol.map(|g| {
        let key = match exam::classify_glucose(g, &exam::GlucoseThresholds::default()) {
            GlucoseClass::Controlled => "exam.glucose.controlled",
            GlucoseClass::Uncontrolled => "exam.glucose.uncontrolled",
            GlucoseClass::UrgentReferral => "exam.glucose.urgent",
        };
        format!("{} mmol/L {}", exam::figure(g), tr.t(key))
    });
    let header = vec![
        Fact {
            label: tr.t("exam.date").to_owned(),
            value: figures.exam_date.to_string(),
        },
        Fact {
            label: tr.t("timeline.institution").to_owned(),
            value: e.institution_name.clone(),
        },
        Fact {
            label: tr.t("exam.author").to_owned(),
            value: e.author_name.clone().unwrap_or_default(),
        },
        Fact {
            label: tr.t("exam.recorded_at").to_owned(),
            value: local_time(e.created_at, state.config.utc_offset_hours),
        },
    ];
    let mut sections = Vec::new();
    for s in SECTIONS {
        let group = found.sections.get(s.key);
        let mut facts = Vec::new();
        for f in s.fields {
            let value = match (f.name, f.widget) {
                (_, Widget::Figure(field)) => {
                    let unit = match field {
                        Field::Pulse | Field::Respiration => tr.t("exam.per_minute"),
                        other => other.unit(),
                    };
                    with_unit(m.get(field), unit)
                }
                ("self_care", Widget::Assessment(set)) => figures
                    .self_care
                    .as_deref()
                    .map(|c| label_of(set, c, tr))
                    .unwrap_or_default(),
                ("cognition", Widget::Assessment(set)) => figures
                    .cognition
                    .as_deref()
                    .map(|c| label_of(set, c, tr))
                    .unwrap_or_default(),
                ("emotion", Widget::Assessment(set)) => figures
                    .emotion
                    .as_deref()
                    .map(|c| label_of(set, c, tr))
                    .unwrap_or_default(),
                ("diagnoses", _) => e.diagnoses.join("、"),
                ("summary", _) => e.summary.clone(),
                (name, Widget::Choice(list)) => {
                    let code = group
                        .and_then(|g| g.get(name))
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    list.iter()
                        .find(|(c, _)| *c == code)
                        .map_or(code.to_owned(), |(_, key)| tr.t(key).to_owned())
                }
                (name, _) => group
                    .and_then(|g| g.get(name))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            };
            if !value.is_empty() {
                facts.push(Fact {
                    label: short(tr.t(f.label_key)),
                    value,
                });
            }
            if f.name == "waist_cm" && m.bmi.is_some() {
                facts.push(Fact {
                    label: short(tr.t("exam.f.bmi")),
                    value: with_unit(m.bmi, "kg/m²"),
                });
            }
        }
        if !facts.is_empty() {
            sections.push(ShowSection {
                title: tr.t(s.title_key).to_owned(),
                facts,
            });
        }
    }
    let revisions = access::exam_revisions(&state.store, &viewer(&ctx, &user), encounter_id)
        .await?
        .into_iter()
        .map(|r| RevisionRow {
            version: r.version,
            at: local_time(r.changed_at, state.config.utc_offset_hours),
            who: r.changed_by.unwrap_or_default(),
            reason: r.reason,
        })
        .collect();
    let flash = match q.done.as_deref() {
        Some("saved") => Some(tr.t("exam.saved").to_owned()),
        Some("corrected") => Some(say(
            tr,
            "已更正，原记录已保留。",
            "Corrected; the previous version is kept.",
        )),
        Some("voided") => Some(say(tr, "已作废。", "Voided.")),
        _ => None,
    };
    let page = ExamPage {
        shell: Shell::new(&ctx, &state, "exam.title")
            .with_title(format!("{} · {masked}", tr.t("exam.title")))
            .with_flash(flash),
        resident_id: id,
        resident_name: name,
        encounter_id,
        version: e.version,
        can_correct: e.voided.is_none()
            && records_clinical_data(&user)
            && user.institution_id == Some(e.institution_id),
        voided: e.voided.as_ref().map(|(_, why)| why.clone()),
        revisions,
        header,
        bp_note,
        glucose_note,
        sections,
    };
    Ok(render(&page)?.into_response())
}

/// The form values of a stored exam, for its correction: the inverse of [`parse_form`].
fn exam_values(found: &yiwei_store::encounter::Exam, offset_hours: i32) -> HashMap<String, String> {
    let e = &found.encounter;
    let mut values = HashMap::new();
    let local = e.started_at + chrono::Duration::hours(i64::from(offset_hours));
    values.insert("exam_time".to_owned(), local.format("%H:%M").to_string());
    let Some(figures) = &e.exam else {
        return values;
    };
    values.insert("exam_date".to_owned(), figures.exam_date.to_string());
    for s in SECTIONS {
        let group = found.sections.get(s.key);
        for f in s.fields {
            let value = match (f.name, f.widget) {
                (_, Widget::Figure(field)) => figures
                    .measurements
                    .get(field)
                    .map(exam::figure)
                    .unwrap_or_default(),
                ("self_care", _) => figures.self_care.clone().unwrap_or_default(),
                ("cognition", _) => figures.cognition.clone().unwrap_or_default(),
                ("emotion", _) => figures.emotion.clone().unwrap_or_default(),
                ("diagnoses", _) => e.diagnoses.join("\n"),
                ("summary", _) => e.summary.clone(),
                (name, _) => match group.and_then(|g| g.get(name)) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(text)) => text.clone(),
                    // Written by another system as a list: one item per line.
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join("、"),
                    Some(other) => other.to_string(),
                },
            };
            values.insert(f.name.to_owned(), value);
        }
    }
    values
}

/// The correction form of an exam with `values` as typed (or as stored).
#[expect(
    clippy::too_many_arguments,
    reason = "one page model, built from its parts"
)]
fn correction_page(
    state: &AppState,
    ctx: &Ctx,
    (id, encounter_id): (i64, i64),
    names: (String, String),
    values: &HashMap<String, String>,
    errors: &HashMap<&'static str, String>,
    date_error: Option<String>,
    general_error: Option<String>,
    fields: CorrectionFields,
) -> FormPage {
    let mut page = form_page(
        state,
        ctx,
        id,
        names,
        values,
        errors,
        date_error,
        general_error,
    );
    page.action = format!("/residents/{id}/exams/{encounter_id}/correct");
    page.shell = page
        .shell
        .with_title(say(ctx.tr, "更正体检记录", "Correct the exam"));
    page.correction = Some(fields);
    page
}

/// `GET /residents/{id}/exams/{encounter_id}/correct`: the stored exam in its form.
pub async fn correct_form(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path((id, encounter_id)): Path<(i64, i64)>,
) -> Result<Response, PageError> {
    if !records_clinical_data(&user) {
        return Err(PageError::Forbidden);
    }
    let (name, masked, _) = resident_name(&state.store, &ctx, &user, id).await?;
    let found = access::open_exam(&state.store, &viewer(&ctx, &user), encounter_id).await?;
    if found.encounter.resident_id != id {
        return Err(PageError::NotFound);
    }
    let values = exam_values(&found, state.config.utc_offset_hours);
    let page = correction_page(
        &state,
        &ctx,
        (id, encounter_id),
        (name, masked),
        &values,
        &HashMap::new(),
        None,
        None,
        CorrectionFields {
            version: found.encounter.version,
            reason: String::new(),
            reason_error: None,
        },
    );
    Ok(render(&page)?.into_response())
}

/// `POST …/correct`: check the form like a new exam, then correct the stored one.
pub async fn correct(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path((id, encounter_id)): Path<(i64, i64)>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, form.get("csrf").map_or("", String::as_str))?;
    if !records_clinical_data(&user) {
        return Err(PageError::Forbidden);
    }
    let version: i64 = form
        .get("version")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            PageError::BadRequest("the form lost the exam's version; reload it".into())
        })?;
    let reason = form.get("reason").map_or("", |r| r.trim()).to_owned();
    let today = local_now(&state).date();
    let parsed = parse_form(&form, ctx.tr, today, state.config.utc_offset_hours);
    let reason_error = (reason.chars().count() < yiwei_store::encounter::MIN_REASON_CHARS)
        .then(|| say(ctx.tr, "请写明更正原因。", "Say why the exam is corrected."));
    let again = |errors: &HashMap<&'static str, String>,
                 date_error: Option<String>,
                 message: Option<String>,
                 reason_error: Option<String>| {
        let state = state.clone();
        let ctx = ctx.clone();
        let user = user.clone();
        let form = form.clone();
        let errors = errors.clone();
        let reason = reason.clone();
        async move {
            let (name, masked, _) = resident_name(&state.store, &ctx, &user, id).await?;
            let page = correction_page(
                &state,
                &ctx,
                (id, encounter_id),
                (name, masked),
                &form,
                &errors,
                date_error,
                message,
                CorrectionFields {
                    version,
                    reason,
                    reason_error,
                },
            );
            Ok::<_, PageError>((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
    };
    let new = match parsed.exam {
        Some(new) if reason_error.is_none() => new,
        _ => {
            let fix = ctx.tr.t("exam.fix_errors").to_owned();
            return again(&parsed.errors, parsed.date_error, Some(fix), reason_error).await;
        }
    };
    match access::correct_exam(
        &state.store,
        &viewer(&ctx, &user),
        encounter_id,
        version,
        &new,
        &reason,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!(
            "/residents/{id}/exams/{encounter_id}?done=corrected"
        ))
        .into_response()),
        Err(AccessError::Store(StoreError::Invalid(message))) => {
            again(&parsed.errors, None, Some(message), None).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct VoidForm {
    csrf: String,
    version: i64,
    #[serde(default)]
    reason: String,
}

/// `POST …/void`: void the exam with a reason; a refusal of the reason shows on the exam
/// page.
pub async fn void(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path((id, encounter_id)): Path<(i64, i64)>,
    Form(form): Form<VoidForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    if yiwei_store::encounter::resident_of(&state.store, encounter_id).await? != id {
        return Err(PageError::NotFound);
    }
    match access::void_encounter(
        &state.store,
        &viewer(&ctx, &user),
        encounter_id,
        form.version,
        &form.reason,
    )
    .await
    {
        Ok(()) => Ok(
            Redirect::to(&format!("/residents/{id}/exams/{encounter_id}?done=voided"))
                .into_response(),
        ),
        Err(AccessError::Store(StoreError::Invalid(message))) => {
            Err(PageError::BadRequest(message))
        }
        Err(e) => Err(e.into()),
    }
}

/// A form label without its hint in brackets (units, examples), for the two-column facts
/// of the exam page, which must fit a 360-px phone.
fn short(label: &str) -> String {
    label
        .split(['（', '('])
        .next()
        .unwrap_or(label)
        .trim()
        .to_owned()
}

fn label_of(set: &[exam::Code], code: &str, tr: Tr) -> String {
    exam::code_label(set, code, tr.lang == Lang::En)
        .unwrap_or(code)
        .to_owned()
}

fn kind_key(kind: exam::EncounterKind) -> &'static str {
    match kind {
        exam::EncounterKind::HealthExam => "encounter.kind.health_exam",
        exam::EncounterKind::Outpatient => "encounter.kind.outpatient",
        exam::EncounterKind::Inpatient => "encounter.kind.inpatient",
        exam::EncounterKind::FollowUp => "encounter.kind.follow_up",
        exam::EncounterKind::HomeVisit => "encounter.kind.home_visit",
        exam::EncounterKind::Other => "encounter.kind.other",
    }
}

fn row(e: &Encounter, tr: Tr, offset_hours: i32) -> TimelineRow {
    let m = e.exam.as_ref().map(|x| x.measurements).unwrap_or_default();
    let urgent_bp = m.representative_bp().is_some_and(|(s, d)| {
        exam::classify_bp(s, d, None, &exam::BpThresholds::default()) == BpClass::UrgentReferral
    });
    let urgent_glucose = m.fasting_glucose_mmol.is_some_and(|g| {
        exam::classify_glucose(g, &exam::GlucoseThresholds::default())
            == GlucoseClass::UrgentReferral
    });
    let mut summary = e.summary.clone();
    if !e.diagnoses.is_empty() {
        if !summary.is_empty() {
            summary.push_str(" · ");
        }
        summary.push_str(&e.diagnoses.join("、"));
    }
    TimelineRow {
        id: e.id,
        href: e
            .exam
            .as_ref()
            .map(|_| format!("/residents/{}/exams/{}", e.resident_id, e.id)),
        when: local_time(e.started_at, offset_hours),
        kind: tr.t(kind_key(e.kind)).to_owned(),
        institution: e.institution_name.clone(),
        summary,
        bp: bp_text(&m),
        glucose: with_unit(m.fasting_glucose_mmol, "mmol/L"),
        urgent_bp,
        urgent_glucose,
    }
}

/// The rows of the resident page's timeline: the newest few.
const NEWEST: i64 = 10;

/// The newest encounters of a resident for the resident page (checked and audited as one
/// read of the timeline).
pub async fn timeline(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    resident_id: i64,
) -> Result<Timeline, PageError> {
    let (list, total) = access::timeline(
        &state.store,
        &viewer(ctx, user),
        resident_id,
        &TimelineFilter::default(),
        NEWEST,
        0,
    )
    .await?;
    Ok(Timeline {
        resident_id,
        rows: list
            .iter()
            .map(|e| row(e, ctx.tr, state.config.utc_offset_hours))
            .collect(),
        total,
        can_record: records_clinical_data(user),
        more: (total > NEWEST).then(|| format!("/residents/{resident_id}/timeline")),
    })
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

/// Every encounter of a resident, newest first, paged.
pub async fn timeline_page(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let (name, masked, _) = resident_name(&state.store, &ctx, &user, id).await?;
    let (page, off) = offset(q.page);
    let (list, total) = access::timeline(
        &state.store,
        &viewer(&ctx, &user),
        id,
        &TimelineFilter::default(),
        PAGE_SIZE,
        off,
    )
    .await?;
    let timeline = Timeline {
        resident_id: id,
        rows: list
            .iter()
            .map(|e| row(e, ctx.tr, state.config.utc_offset_hours))
            .collect(),
        total,
        can_record: records_clinical_data(&user),
        more: None,
    };
    let page = TimelinePage {
        shell: Shell::new(&ctx, &state, "timeline.title")
            .with_title(format!("{} · {masked}", ctx.tr.t("timeline.title"))),
        resident_name: name,
        timeline,
        pager: Pager::new(&format!("/residents/{id}/timeline?"), page, total),
    };
    Ok(render(&page)?.into_response())
}
