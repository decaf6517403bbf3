//! A child's vaccination record (预防接种证) at `/residents/{id}/immunizations`: the doses
//! given, by series, with their dates, lots and flags; what is due, overdue or missed today
//! with its window (`yiwei_domain::programme::immunization::vaccine_due` under the edition
//! in force); a form to record a dose; and a void button with a reason on each dose.
//!
//! A dose that breaks the schedule is refused by the store with every
//! `DoseProblem`; the page shows each message next to the form (in the page's language,
//! with the other language beside it) and keeps the typed values, so the vaccinator can
//! correct the date or give an override reason. Everything goes through
//! `yiwei_store::access`, which checks reach and audits.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use yiwei_domain::access::Role;
use yiwei_domain::programme::Status;
use yiwei_domain::programme::immunization::{self as schedule, DoseProblem, Vaccine, vaccine_due};
use yiwei_store::access::{self, AccessError};
use yiwei_store::immunization::{self as store_imm, DoseError, NewDose, StoredDose};
use yiwei_store::user::User;

use super::render;
use super::viewer;
use crate::AppState;
use crate::auth::{Ctx, Staff};
use crate::error::PageError;
use crate::i18n::{Lang, Tr};
use crate::shell::Shell;

fn today(state: &AppState) -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(i64::from(state.config.utc_offset_hours)))
        .date_naive()
}

/// Whether the user writes clinical records (residents and aggregate roles do not).
fn writes_doses(user: &User) -> bool {
    user.role != Role::Resident && user.role.reads_personal_records()
}

fn pick<'a>(tr: Tr, zh: &'a str, en: &'a str) -> &'a str {
    match tr.lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

/// A problem in the page's language, and in the other one beside it.
pub struct Problem {
    pub code: &'static str,
    pub message: String,
    pub other: String,
}

fn problem(tr: Tr, p: &DoseProblem) -> Problem {
    let (message, other) = match tr.lang {
        Lang::Zh => (p.message_zh(), p.message_en()),
        Lang::En => (p.message_en(), p.message_zh()),
    };
    Problem {
        code: store_imm::problem_code(p),
        message,
        other,
    }
}

/// One dose on the card.
pub struct DoseRow {
    pub id: i64,
    pub number: String,
    pub date: String,
    pub vaccine: String,
    pub lot: String,
    pub manufacturer: String,
    pub site: String,
    pub institution: String,
    /// The rules it broke (message keys of the codes) and why it was given anyway.
    pub flags: Vec<String>,
    pub override_reason: String,
    pub voided: bool,
    pub void_reason: String,
    /// The void form's error, when this dose's void was refused.
    pub void_error: Option<String>,
}

/// The doses of one series.
pub struct SeriesBlock {
    pub name: String,
    pub doses: Vec<DoseRow>,
}

/// One dose due, overdue, missed or upcoming.
pub struct DueRow {
    pub series: String,
    pub dose: u8,
    pub vaccine: String,
    pub status: String,
    pub status_code: &'static str,
    pub from: String,
    pub by: String,
    pub until: String,
    pub note: String,
}

/// The record form's values, as typed.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DoseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    vaccine: String,
    #[serde(default)]
    given_on: String,
    #[serde(default)]
    lot: String,
    #[serde(default)]
    manufacturer: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    override_reason: String,
}

#[derive(Template)]
#[template(path = "immunization.html")]
struct CardPage {
    shell: Shell,
    id: i64,
    name: String,
    birth_date: String,
    sex_key: &'static str,
    edition: String,
    series: Vec<SeriesBlock>,
    due: Vec<DueRow>,
    upcoming: Vec<DueRow>,
    can_record: bool,
    vaccines: Vec<(&'static str, String)>,
    form: DoseForm,
    problems: Vec<Problem>,
    form_error: Option<String>,
    no_birth_date: bool,
}

/// What went wrong with a submitted form, to show on the page.
#[derive(Default)]
struct Errors {
    problems: Vec<Problem>,
    form: Option<String>,
    void: Option<(i64, String)>,
}

fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn dose_row(tr: Tr, d: &StoredDose, errors: &Errors) -> DoseRow {
    DoseRow {
        id: d.id,
        number: d.dose_number.map(|n| n.to_string()).unwrap_or_default(),
        date: date_text(d.given_on),
        vaccine: pick(tr, d.vaccine.name_zh(), d.vaccine.name_en()).to_owned(),
        lot: d.lot.clone(),
        manufacturer: d.manufacturer.clone(),
        site: d.site.clone(),
        institution: d.institution_name.clone().unwrap_or_default(),
        flags: d
            .problems
            .iter()
            .map(|c| tr.t(&format!("imm.problem.{c}")).to_owned())
            .collect(),
        override_reason: d.override_reason.clone().unwrap_or_default(),
        voided: d.is_voided(),
        void_reason: d.void_reason.clone().unwrap_or_default(),
        void_error: errors
            .void
            .as_ref()
            .filter(|(id, _)| *id == d.id)
            .map(|(_, m)| m.clone()),
    }
}

/// What the card shows besides the record: the form as typed, its errors, the status.
struct Shown {
    form: DoseForm,
    errors: Errors,
    status: StatusCode,
    flash: Option<String>,
}

impl Shown {
    /// An empty form dated today, with `errors`, as 422.
    fn refused(state: &AppState, errors: Errors) -> Shown {
        Shown {
            form: DoseForm {
                given_on: date_text(today(state)),
                ..DoseForm::default()
            },
            errors,
            status: StatusCode::UNPROCESSABLE_ENTITY,
            flash: None,
        }
    }
}

async fn card(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    id: i64,
    shown: Shown,
) -> Result<Response, PageError> {
    let Shown {
        form,
        errors,
        status,
        flash,
    } = shown;
    let tr = ctx.tr;
    let v = viewer(ctx, user);
    let (resident, _) = access::open_resident(&state.store, &v, id).await?;
    let doses = access::doses_of(&state.store, &v, id).await?;
    let today = today(state);
    let editions = schedule::editions();
    let edition = store_imm::edition_for(&editions, today);
    // The card: series in the order of the edition in force, then anything else (voided
    // doses, vaccines outside it) under "other".
    let mut series: Vec<SeriesBlock> = Vec::new();
    let mut other = Vec::new();
    if let Some(e) = edition {
        for s in &e.series {
            let rows: Vec<DoseRow> = doses
                .iter()
                .filter(|d| d.series == Some(s.code))
                .map(|d| dose_row(tr, d, &errors))
                .collect();
            if !rows.is_empty() {
                series.push(SeriesBlock {
                    name: pick(tr, s.name_zh, s.name_en).to_owned(),
                    doses: rows,
                });
            }
        }
    }
    for d in &doses {
        let shown = edition.is_some_and(|e| d.series.is_some_and(|c| e.series(c).is_some()));
        if !shown {
            other.push(dose_row(tr, d, &errors));
        }
    }
    if !other.is_empty() {
        series.push(SeriesBlock {
            name: tr.t("imm.other").to_owned(),
            doses: other,
        });
    }
    let mut due = Vec::new();
    let mut upcoming = Vec::new();
    if let (Some(e), Some(birth)) = (edition, resident.birth_date) {
        let given: Vec<schedule::Dose> = doses
            .iter()
            .filter(|d| !d.is_voided())
            .map(StoredDose::as_dose)
            .collect();
        for entry in vaccine_due(e, birth, store_imm::sex_of(&resident.sex), &given, today) {
            let name = e
                .series(entry.series)
                .map(|s| pick(tr, s.name_zh, s.name_en))
                .unwrap_or(entry.series);
            let row = DueRow {
                series: name.to_owned(),
                dose: entry.dose,
                vaccine: pick(tr, entry.vaccine.name_zh(), entry.vaccine.name_en()).to_owned(),
                status: pick(tr, entry.status.name_zh(), entry.status.name_en()).to_owned(),
                status_code: entry.status.as_str(),
                from: date_text(entry.due_from),
                by: date_text(entry.due_by),
                until: date_text(entry.until),
                note: entry
                    .note
                    .map(|(zh, en)| pick(tr, zh, en).to_owned())
                    .unwrap_or_default(),
            };
            if entry.status == Status::Upcoming {
                upcoming.push(row);
            } else {
                due.push(row);
            }
        }
    }
    upcoming.truncate(8);
    let page = CardPage {
        shell: Shell::new(ctx, state, "imm.title")
            .with_title(format!("{} · {}", tr.t("imm.title"), resident.name))
            .with_flash(flash),
        id,
        name: resident.name.clone(),
        birth_date: resident.birth_date.map(date_text).unwrap_or_default(),
        sex_key: super::resident::sex_key(&resident.sex),
        edition: edition
            .map(|e| pick(tr, e.name_zh, e.name_en).to_owned())
            .unwrap_or_default(),
        series,
        due,
        upcoming,
        can_record: writes_doses(user) && resident.merged_into.is_none(),
        vaccines: Vaccine::ALL
            .iter()
            .map(|v| (v.code(), pick(tr, v.name_zh(), v.name_en()).to_owned()))
            .collect(),
        form: DoseForm {
            csrf: String::new(),
            ..form
        },
        problems: errors.problems,
        form_error: errors.form,
        no_birth_date: resident.birth_date.is_none(),
    };
    Ok((status, render(&page)?).into_response())
}

#[derive(Deserialize)]
pub struct CardQuery {
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Query(q): Query<CardQuery>,
) -> Result<Response, PageError> {
    let flash = match q.done.as_deref() {
        Some("recorded") => Some(ctx.tr.t("imm.done.recorded").to_owned()),
        Some("voided") => Some(ctx.tr.t("imm.done.voided").to_owned()),
        _ => None,
    };
    let shown = Shown {
        flash,
        status: StatusCode::OK,
        ..Shown::refused(&state, Errors::default())
    };
    card(&state, &ctx, &user, id, shown).await
}

pub async fn record(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<DoseForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let tr = ctx.tr;
    let mut errors = Errors::default();
    let vaccine = Vaccine::parse(&form.vaccine);
    let given_on = NaiveDate::parse_from_str(form.given_on.trim(), "%Y-%m-%d").ok();
    match (vaccine, given_on) {
        (None, _) => errors.form = Some(tr.t("imm.err.vaccine").to_owned()),
        (_, None) => errors.form = Some(tr.t("imm.err.date").to_owned()),
        (_, Some(given_on)) if given_on > today(&state) => {
            errors.form = Some(tr.t("imm.err.future").to_owned());
        }
        (_, _)
            if !form.override_reason.trim().is_empty()
                && form.override_reason.trim().chars().count()
                    < store_imm::MIN_OVERRIDE_REASON_CHARS =>
        {
            errors.form = Some(tr.t("imm.err.reason").to_owned());
        }
        (Some(vaccine), Some(given_on)) => {
            let reason = form.override_reason.trim();
            let new = NewDose {
                vaccine,
                given_on,
                lot: form.lot.clone(),
                manufacturer: form.manufacturer.clone(),
                site: form.site.clone(),
                institution_id: None,
                override_reason: (!reason.is_empty()).then(|| reason.to_owned()),
            };
            let v = viewer(&ctx, &user);
            match access::record_dose(&state.store, &v, id, &new, today(&state)).await {
                Ok(_) => {
                    return Ok(Redirect::to(&format!(
                        "/residents/{id}/immunizations?done=recorded"
                    ))
                    .into_response());
                }
                Err(DoseError::Schedule(problems)) => {
                    errors.problems = problems.iter().map(|p| problem(tr, p)).collect();
                    errors.form = Some(tr.t("imm.err.schedule").to_owned());
                }
                Err(DoseError::Access(AccessError::Store(yiwei_store::StoreError::Invalid(m)))) => {
                    errors.form = Some(m);
                }
                Err(DoseError::Access(e)) => return Err(e.into()),
            }
        }
    }
    let shown = Shown {
        form,
        ..Shown::refused(&state, errors)
    };
    card(&state, &ctx, &user, id, shown).await
}

#[derive(Deserialize)]
pub struct VoidForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

pub async fn void(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path((id, dose_id)): Path<(i64, i64)>,
    Form(form): Form<VoidForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let v = viewer(&ctx, &user);
    // The dose must be on this card (the record or one merged into it).
    let on_card = access::doses_of(&state.store, &v, id)
        .await?
        .iter()
        .any(|d| d.id == dose_id);
    if !on_card {
        return Err(PageError::NotFound);
    }
    if form.reason.trim().chars().count() < store_imm::MIN_VOID_REASON_CHARS {
        let errors = Errors {
            void: Some((dose_id, ctx.tr.t("imm.err.void_reason").to_owned())),
            ..Errors::default()
        };
        return card(&state, &ctx, &user, id, Shown::refused(&state, errors)).await;
    }
    let message = match access::void_dose(&state.store, &v, dose_id, &form.reason).await {
        Ok(()) => {
            return Ok(
                Redirect::to(&format!("/residents/{id}/immunizations?done=voided")).into_response(),
            );
        }
        Err(AccessError::Store(yiwei_store::StoreError::Invalid(m))) => m,
        Err(e) => return Err(e.into()),
    };
    let errors = Errors {
        void: Some((dose_id, message)),
        ..Errors::default()
    };
    card(&state, &ctx, &user, id, Shown::refused(&state, errors)).await
}
