//! Creating and editing resident records (居民健康档案), and the master patient index's
//! review queue. Every write goes through `yiwei_store::access` (reach check, audit) and
//! the master patient index, so a person entered twice is found, not duplicated.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use yiwei_domain::division::{DivisionCode, Level};
use yiwei_domain::person_input::{self, RawPerson};
use yiwei_store::access::{self, AccessError, Viewer};
use yiwei_store::empi::{self, Outcome};
use yiwei_store::resident::{Details, NewResident, Resident};
use yiwei_store::{StoreError, division};

use super::render;
use crate::AppState;
use crate::auth::{Ctx, Staff};
use crate::error::PageError;
use crate::i18n::Tr;
use crate::shell::{Pager, Shell, offset};

/// What the form sends back; every field re-shows on error.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RecordForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub sex: String,
    #[serde(default)]
    pub birth_date: String,
    #[serde(default)]
    pub id_card: String,
    #[serde(default)]
    pub no_id_reason: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub village: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub contact_name: String,
    #[serde(default)]
    pub contact_phone: String,
    #[serde(flatten)]
    pub coded: HashMap<String, String>,
}

#[derive(Default)]
pub struct FieldErrors {
    pub general: Option<String>,
    pub name: Option<String>,
    pub id_card: Option<String>,
    pub birth_date: Option<String>,
    pub phone: Option<String>,
    pub village: Option<String>,
    pub contact_phone: Option<String>,
}

/// A coded select of the form (民族, 血型, …).
pub struct Select {
    pub name: &'static str,
    pub label_key: &'static str,
    pub value: String,
    pub options: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "resident_form.html")]
struct FormPage {
    shell: Shell,
    id: Option<i64>,
    action: String,
    form: RecordForm,
    errors: FieldErrors,
    sexes: Vec<(&'static str, String)>,
    villages: Vec<(String, String)>,
    selects: Vec<Select>,
    id_card_hint: String,
    phone_hint: String,
}

pub struct ExplainRow {
    pub field: String,
    pub level: String,
    pub weight: String,
}

#[derive(Template)]
#[template(path = "linked.html")]
struct LinkedPage {
    shell: Shell,
    id: i64,
    score: String,
    fields: Vec<ExplainRow>,
}

/// The county's "today" (the offset is configuration; China has one zone, UTC+8).
fn today(state: &AppState) -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(i64::from(state.config.utc_offset_hours)))
        .date_naive()
}

/// The coded fields, each a select over its WS 365 value set.
fn selects(form: &RecordForm, tr: Tr) -> Vec<Select> {
    crate::pages::codes::coded_fields()
        .into_iter()
        .map(|(name, label_key, options)| Select {
            name,
            label_key,
            value: form.coded.get(name).cloned().unwrap_or_default(),
            options: options(tr.lang),
        })
        .collect()
}

/// Villages inside the user's reach, for the village select.
async fn villages(
    state: &AppState,
    reach: &DivisionCode,
) -> Result<Vec<(String, String)>, PageError> {
    let mut out = Vec::new();
    if reach.level() == Level::Village {
        let d = division::get(&state.store, reach).await?;
        out.push((d.code.as_str().to_owned(), d.name));
        return Ok(out);
    }
    let townships = if reach.level() == Level::Township {
        vec![division::get(&state.store, reach).await?]
    } else {
        division::search(&state.store, reach, "", Some(Level::Township), 1000, 0).await?
    };
    for t in townships {
        for v in division::children(&state.store, &t.code).await? {
            out.push((
                v.code.as_str().to_owned(),
                format!("{} · {}", t.name, v.name),
            ));
        }
    }
    Ok(out)
}

/// Check the form with the shared person rules (`yiwei_domain::person_input`); the record
/// to store, or the errors next to their fields.
/// `id_on_file`: the record already holds an ID-card number, which an empty field keeps.
fn validate(
    form: &RecordForm,
    tr: Tr,
    today: NaiveDate,
    id_on_file: bool,
) -> Result<NewResident, Box<FieldErrors>> {
    let raw = RawPerson {
        name: form.name.clone(),
        sex: form.sex.clone(),
        birth_date: form.birth_date.clone(),
        id_card: form.id_card.clone(),
        no_id_reason: form.no_id_reason.clone(),
        phone: form.phone.clone(),
        contact_phone: form.contact_phone.clone(),
        village: form.village.clone(),
    };
    let person = match person_input::check(&raw, today, id_on_file) {
        Ok(p) => p,
        Err(problems) => {
            let mut e = FieldErrors::default();
            for p in problems {
                let text = if tr.lang == crate::i18n::Lang::En {
                    p.en
                } else {
                    p.zh
                };
                let slot = match p.field {
                    "name" => &mut e.name,
                    "id_card" | "sex" => &mut e.id_card,
                    "birth_date" => &mut e.birth_date,
                    "phone" => &mut e.phone,
                    "contact_phone" => &mut e.contact_phone,
                    "village" => &mut e.village,
                    _ => &mut e.general,
                };
                slot.get_or_insert(text);
            }
            return Err(Box::new(e));
        }
    };
    let coded = |name: &str| {
        form.coded
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    Ok(NewResident {
        division: person.village,
        name: person.name,
        sex: person.sex.to_owned(),
        birth_date: person.birth_date,
        id_card: person.id_card,
        phone: person.phone,
        contact_phone: person.contact_phone,
        details: Details {
            address: form.address.trim().to_owned(),
            residence_type: coded("residence_type"),
            ethnicity: coded("ethnicity"),
            blood_abo: coded("blood_abo"),
            blood_rh: coded("blood_rh"),
            education: coded("education"),
            occupation: coded("occupation"),
            marital: coded("marital"),
            payment: coded("payment").into_iter().collect(),
            no_id_reason: person.no_id_reason,
            contact_name: Some(form.contact_name.trim().to_owned()).filter(|c| !c.is_empty()),
            profile: serde_json::json!({}),
            ..Details::default()
        },
    })
}

async fn form_page(
    state: &AppState,
    ctx: &Ctx,
    reach: &DivisionCode,
    id: Option<i64>,
    form: RecordForm,
    errors: FieldErrors,
) -> Result<FormPage, PageError> {
    let tr = ctx.tr;
    let title = if id.is_some() {
        "record.edit"
    } else {
        "record.new"
    };
    Ok(FormPage {
        shell: Shell::new(ctx, state, title),
        action: id.map_or("/residents/new".to_owned(), |i| {
            format!("/residents/{i}/edit")
        }),
        id,
        selects: selects(&form, tr),
        form,
        errors,
        sexes: ["male", "female", "unknown"]
            .into_iter()
            .map(|s| (s, tr.t(super::resident::sex_key(s)).to_owned()))
            .collect(),
        villages: villages(state, reach).await?,
        id_card_hint: tr.t("record.id_card_hint").to_owned(),
        phone_hint: tr.t("record.phone_hint").to_owned(),
    })
}

pub async fn new_form(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
) -> Result<Response, PageError> {
    if !user.role.reads_personal_records() || user.role == yiwei_domain::access::Role::Resident {
        return Err(PageError::Forbidden);
    }
    let form = RecordForm {
        sex: "unknown".into(),
        village: user.reach.as_str().to_owned(),
        ..RecordForm::default()
    };
    Ok(render(
        &form_page(
            &state,
            &ctx,
            &user.reach,
            None,
            form,
            FieldErrors::default(),
        )
        .await?,
    )?
    .into_response())
}

fn explain_rows(explanation: &str, tr: Tr) -> (String, Vec<ExplainRow>) {
    let v: serde_json::Value = serde_json::from_str(explanation).unwrap_or_default();
    let total = v["total"]
        .as_f64()
        .map(|t| format!("{t:.2}"))
        .unwrap_or_default();
    let lang_key = if tr.lang == crate::i18n::Lang::En {
        "en"
    } else {
        "zh"
    };
    let rows = v["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| ExplainRow {
                    field: f["field"].as_str().unwrap_or_default().to_owned(),
                    level: f[lang_key].as_str().unwrap_or_default().to_owned(),
                    weight: f["weight"]
                        .as_f64()
                        .map(|w| format!("{w:+.2}"))
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    (total, rows)
}

pub async fn create(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Form(form): Form<RecordForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let new = match validate(&form, ctx.tr, today(&state), false) {
        Ok(new) => new,
        Err(errors) => {
            let page = form_page(&state, &ctx, &user.reach, None, form, *errors).await?;
            return Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response());
        }
    };
    let viewer = Viewer {
        user: &user,
        remote_addr: ctx.remote.clone(),
    };
    match access::register_resident(&state.store, &viewer, &new).await {
        Ok(Outcome::Created { id, review }) => {
            let flash = if review.is_empty() {
                "created".to_owned()
            } else {
                format!("review{}", review.len())
            };
            Ok(Redirect::to(&format!("/residents/{id}?done={flash}")).into_response())
        }
        Ok(Outcome::Linked {
            id, explanation, ..
        }) => {
            let (score, fields) = explain_rows(&explanation, ctx.tr);
            let page = LinkedPage {
                shell: Shell::new(&ctx, &state, "record.linked_title"),
                id,
                score,
                fields,
            };
            Ok((StatusCode::OK, render(&page)?).into_response())
        }
        Err(AccessError::Store(StoreError::Conflict { constraint })) => {
            let errors = FieldErrors {
                id_card: constraint
                    .contains("id_card")
                    .then(|| ctx.tr.t("error.409").to_owned()),
                general: (!constraint.contains("id_card"))
                    .then(|| format!("{} ({constraint})", ctx.tr.t("error.409"))),
                ..FieldErrors::default()
            };
            let page = form_page(&state, &ctx, &user.reach, None, form, errors).await?;
            Ok((StatusCode::CONFLICT, render(&page)?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

fn form_of(r: &Resident) -> RecordForm {
    let d = &r.details;
    let mut coded = HashMap::new();
    for (k, v) in [
        ("residence_type", &d.residence_type),
        ("ethnicity", &d.ethnicity),
        ("blood_abo", &d.blood_abo),
        ("blood_rh", &d.blood_rh),
        ("education", &d.education),
        ("occupation", &d.occupation),
        ("marital", &d.marital),
    ] {
        if let Some(v) = v {
            coded.insert(k.to_owned(), v.clone());
        }
    }
    if let Some(p) = d.payment.first() {
        coded.insert("payment".to_owned(), p.clone());
    }
    RecordForm {
        csrf: String::new(),
        version: r.version.to_string(),
        name: r.name.clone(),
        sex: r.sex.clone(),
        birth_date: r.birth_date.map(|b| b.to_string()).unwrap_or_default(),
        // Identity and phone numbers are not put back into the form: leaving them empty
        // keeps the stored values, so editing an address never reveals them.
        id_card: String::new(),
        no_id_reason: d.no_id_reason.clone().unwrap_or_default(),
        phone: String::new(),
        village: r.division.as_str().to_owned(),
        address: d.address.clone(),
        contact_name: d.contact_name.clone().unwrap_or_default(),
        contact_phone: String::new(),
        coded,
    }
}

pub async fn edit_form(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let viewer = Viewer {
        user: &user,
        remote_addr: ctx.remote.clone(),
    };
    let (r, _) = access::open_resident(&state.store, &viewer, id).await?;
    let form = form_of(&r);
    Ok(render(
        &form_page(
            &state,
            &ctx,
            &user.reach,
            Some(id),
            form,
            FieldErrors::default(),
        )
        .await?,
    )?
    .into_response())
}

pub async fn update(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<RecordForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let viewer = Viewer {
        user: &user,
        remote_addr: ctx.remote.clone(),
    };
    let (current, _) = access::open_resident(&state.store, &viewer, id).await?;
    let mut new = match validate(&form, ctx.tr, today(&state), current.has_id_card) {
        Ok(new) => new,
        Err(errors) => {
            let page = form_page(&state, &ctx, &user.reach, Some(id), form, *errors).await?;
            return Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response());
        }
    };
    new.details.record_no = current.details.record_no.clone();
    new.details.household_id = current.details.household_id;
    new.details.relation = current.details.relation.clone();
    new.details.key_groups = current.details.key_groups.clone();
    new.details.profile = current.details.profile.clone();
    let version: i64 = form
        .version
        .parse()
        .map_err(|_| PageError::BadRequest("version".into()))?;
    match access::update_resident(&state.store, &viewer, id, version, &new).await {
        Ok(_) => Ok(Redirect::to(&format!("/residents/{id}?done=saved")).into_response()),
        Err(AccessError::Store(StoreError::Conflict { constraint })) => {
            let errors = FieldErrors {
                general: Some(if constraint.starts_with("version") {
                    ctx.tr.t("record.version_conflict").to_owned()
                } else {
                    format!("{} ({constraint})", ctx.tr.t("error.409"))
                }),
                ..FieldErrors::default()
            };
            let page = form_page(&state, &ctx, &user.reach, Some(id), form, errors).await?;
            Ok((StatusCode::CONFLICT, render(&page)?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub struct Side {
    pub id: i64,
    pub name: String,
    pub birth: String,
    pub village: String,
}

pub struct ReviewRow {
    pub id: i64,
    pub left: Side,
    pub right: Side,
    pub score: String,
    pub fields: Vec<ExplainRow>,
}

impl Clone for ExplainRow {
    fn clone(&self) -> Self {
        ExplainRow {
            field: self.field.clone(),
            level: self.level.clone(),
            weight: self.weight.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "reviews.html")]
struct ReviewsPage {
    shell: Shell,
    rows: Vec<ReviewRow>,
    pager: Pager,
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

/// The open review pairs whose two records the user may both open.
pub async fn reviews(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    if !user.role.reads_personal_records() || user.role == yiwei_domain::access::Role::Resident {
        return Err(PageError::Forbidden);
    }
    let (page, off) = offset(q.page);
    let viewer = Viewer {
        user: &user,
        remote_addr: ctx.remote.clone(),
    };
    let mut rows = Vec::new();
    let pending = empi::reviews(&state.store, "open", crate::shell::PAGE_SIZE + 1, off).await?;
    let has_more = pending.len() as i64 > crate::shell::PAGE_SIZE;
    for r in pending.into_iter().take(crate::shell::PAGE_SIZE as usize) {
        let (Ok(left), Ok(right)) = (
            yiwei_store::resident::scope(&state.store, r.resident_id).await,
            yiwei_store::resident::scope(&state.store, r.candidate_id).await,
        ) else {
            continue;
        };
        if !(user.reach.contains(&left.division) && user.reach.contains(&right.division)) {
            continue;
        }
        let mut sides = Vec::new();
        for id in [r.resident_id, r.candidate_id] {
            let (res, _) = access::open_resident(&state.store, &viewer, id).await?;
            sides.push(Side {
                id,
                name: res.name,
                birth: res.birth_date.map(|b| b.to_string()).unwrap_or_default(),
                village: division::get(&state.store, &res.division).await?.name,
            });
        }
        let right = sides.pop().expect("two sides");
        let left = sides.pop().expect("two sides");
        let (score, fields) = explain_rows(&r.explanation, ctx.tr);
        rows.push(ReviewRow {
            id: r.id,
            left,
            right,
            score,
            fields,
        });
    }
    let pager = Pager {
        prev: (page > 1).then(|| format!("/residents/reviews?page={}", page - 1)),
        next: has_more.then(|| format!("/residents/reviews?page={}", page + 1)),
    };
    Ok(render(&ReviewsPage {
        shell: Shell::new(&ctx, &state, "record.reviews"),
        rows,
        pager,
    })?
    .into_response())
}

#[derive(Deserialize)]
pub struct Decision {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
}

pub async fn decide(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<Decision>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let r = empi::review(&state.store, id).await?;
    let viewer = Viewer {
        user: &user,
        remote_addr: ctx.remote.clone(),
    };
    // Both records must be open to the user, which also audits the look.
    access::open_resident(&state.store, &viewer, r.resident_id).await?;
    access::open_resident(&state.store, &viewer, r.candidate_id).await?;
    let same = match form.decision.as_str() {
        "merge" => true,
        "distinct" => false,
        _ => {
            return Err(PageError::BadRequest(
                "decision is merge or distinct".into(),
            ));
        }
    };
    empi::decide(&state.store, id, same, &user.who()).await?;
    Ok(Redirect::to("/residents/reviews").into_response())
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn undo_merge(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let viewer = Viewer {
        user: &user,
        remote_addr: ctx.remote.clone(),
    };
    let merge = empi::merge_by_id(&state.store, id).await?;
    access::open_resident(&state.store, &viewer, merge.0).await?;
    access::open_resident(&state.store, &viewer, merge.1).await?;
    empi::unmerge(&state.store, id, &user.who()).await?;
    Ok(Redirect::to(&format!("/residents/{}", merge.1)).into_response())
}
