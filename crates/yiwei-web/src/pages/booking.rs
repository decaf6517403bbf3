//! 预约挂号 pages: schedules and their slots for the staff of an institution, a slot's
//! bookings with cancel / move / attended / no-show, booking a resident at the desk and the
//! waitlist; the resident's own bookings on a phone (`/me/bookings`), with the open slots
//! of the county to book; and the booking and referral figures (`/booking/stats`).
//!
//! Personal data (who booked) goes through `yiwei_store::access`, which checks and audits;
//! schedules and slots are not personal. The rules are `yiwei_domain::booking`; a refusal
//! comes back with its bilingual message and the page shows it next to the form, with a
//! 4xx status and nothing changed.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, NaiveDate};
use serde::Deserialize;
use yiwei_domain::access::Role;
use yiwei_domain::booking::{BookingRefusal, BookingStatus, ScheduleRules, ServiceKind, Session};
use yiwei_store::access::{self, AccessError};
use yiwei_store::booking::{self, BookingError, NewSchedule, Slot, SlotFilter, When};
use yiwei_store::user::User;
use yiwei_store::{org, referral};

use super::render;
use super::viewer;
use crate::AppState;
use crate::auth::{Ctx, Staff};
use crate::error::PageError;
use crate::shell::Shell;

/// The clock of a request: now, in the county's offset.
pub fn when(state: &AppState) -> When {
    When::now(state.config.utc_offset_hours)
}

/// The status and message of a booking or referral failure. Rule refusals are 409 (the
/// state of the slot or referral forbids it) or 422 (the input cannot be taken); access
/// refusals 403.
pub fn failure(e: BookingError) -> Result<(StatusCode, String), PageError> {
    Ok(match e {
        BookingError::Refused(
            r @ (BookingRefusal::SlotFull
            | BookingRefusal::AlreadyBooked
            | BookingRefusal::NotActive { .. }),
        ) => (StatusCode::CONFLICT, r.to_string()),
        BookingError::Refused(r) => (StatusCode::UNPROCESSABLE_ENTITY, r.to_string()),
        BookingError::Transition(t) => (StatusCode::CONFLICT, t.to_string()),
        BookingError::Route(r) => (StatusCode::UNPROCESSABLE_ENTITY, r.to_string()),
        BookingError::Schedule(s) => (StatusCode::UNPROCESSABLE_ENTITY, s.to_string()),
        BookingError::Invalid(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
        BookingError::Access(AccessError::Refused(r)) => (
            StatusCode::FORBIDDEN,
            format!("无权操作 / not allowed: {r}"),
        ),
        BookingError::Access(other) => return Err(other.into()),
        BookingError::Store(s) => return Err(s.into()),
    })
}

/// A page re-rendered with a refusal next to its form.
fn refused(status: StatusCode, page: &impl Template) -> Result<Response, PageError> {
    Ok((status, render(page)?).into_response())
}

fn service_name(s: ServiceKind, shell: &Shell) -> &'static str {
    if shell.tr.lang == crate::i18n::Lang::En {
        s.name_en()
    } else {
        s.name_zh()
    }
}

fn status_name(s: BookingStatus, shell: &Shell) -> &'static str {
    if shell.tr.lang == crate::i18n::Lang::En {
        s.name_en()
    } else {
        s.name_zh()
    }
}

fn is_staff(user: &User) -> bool {
    user.role != Role::Resident && user.role.reads_personal_records()
}

// ---------------------------------------------------------------------------------------
// Schedules

pub struct ScheduleRow {
    pub id: i64,
    pub name: String,
    pub institution: String,
    pub department: String,
    pub service: &'static str,
    pub sessions: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    institution: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    sessions: String,
    #[serde(default)]
    horizon_days: String,
    #[serde(default)]
    green_reserved: String,
    #[serde(default)]
    holidays: String,
}

#[derive(Template)]
#[template(path = "booking.html")]
struct SchedulesPage {
    shell: Shell,
    rows: Vec<ScheduleRow>,
    can_create: bool,
    institutions: Vec<(String, String)>,
    services: Vec<(&'static str, &'static str)>,
    form: ScheduleForm,
    error: Option<String>,
}

async fn schedules_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    form: ScheduleForm,
    error: Option<String>,
) -> Result<SchedulesPage, PageError> {
    let shell = Shell::new(ctx, state, "booking.title");
    let own = if user.role.administers() {
        None
    } else {
        user.institution_id
    };
    let list = booking::schedules(&state.store, own, 200, 0).await?;
    let mut institutions = Vec::new();
    if user.role.administers() {
        let filter = org::Filter {
            within: Some(user.reach.clone()),
            kind: None,
            community_id: None,
            name: None,
        };
        for i in org::list(&state.store, &filter, 1000, 0).await?.0 {
            if i.kind.provides_care() {
                institutions.push((i.id.to_string(), i.name));
            }
        }
    } else if let Some(id) = user.institution_id {
        let i = org::get(&state.store, id).await?;
        institutions.push((i.id.to_string(), i.name));
    }
    let rows = list
        .into_iter()
        .map(|s| ScheduleRow {
            id: s.id,
            service: service_name(s.service, &shell),
            sessions: s
                .rules
                .sessions
                .iter()
                .map(Session::code)
                .collect::<Vec<_>>()
                .join("; "),
            name: s.name,
            institution: s.institution_name,
            department: s.department,
        })
        .collect();
    let services = ServiceKind::ALL
        .into_iter()
        .map(|s| (s.as_str(), service_name(s, &shell)))
        .collect();
    Ok(SchedulesPage {
        can_create: !institutions.is_empty() && (is_staff(user) || user.role.administers()),
        shell,
        rows,
        institutions,
        services,
        form,
        error,
    })
}

/// `GET /booking`: the schedules of the user's institution (all, for the administrator).
pub async fn schedules(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
) -> Result<Response, PageError> {
    if user.role == Role::Resident {
        return Ok(Redirect::to("/me/bookings").into_response());
    }
    let page = schedules_page(&state, &ctx, &user, ScheduleForm::default(), None).await?;
    Ok(render(&page)?.into_response())
}

fn parse_rules(form: &ScheduleForm) -> Result<ScheduleRules, String> {
    let mut rules = ScheduleRules {
        sessions: form
            .sessions
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(Session::parse)
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?,
        ..ScheduleRules::default()
    };
    if !form.horizon_days.trim().is_empty() {
        rules.horizon_days =
            form.horizon_days.trim().parse().map_err(|_| {
                "放号周期须为天数 / the opening horizon is a number of days".to_owned()
            })?;
    }
    if !form.green_reserved.trim().is_empty() {
        rules.green_reserved = form.green_reserved.trim().parse().map_err(|_| {
            "绿色通道预留须为整数 / the green-channel reserve is a whole number".to_owned()
        })?;
    }
    for d in form
        .holidays
        .split([',', '\n', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        rules
            .holidays
            .insert(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                format!("节假日 {d:?} 应写作 YYYY-MM-DD / holiday {d:?}: use YYYY-MM-DD")
            })?);
    }
    rules.check().map_err(|e| e.to_string())?;
    Ok(rules)
}

/// `POST /booking/schedules`: create a schedule and open its slots.
pub async fn create_schedule(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Form(form): Form<ScheduleForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let institution: i64 = form.institution.trim().parse().unwrap_or(0);
    if !booking::may_manage(&user, institution) {
        return Err(PageError::Forbidden);
    }
    let rules = match parse_rules(&form) {
        Ok(r) => r,
        Err(msg) => {
            let page = schedules_page(&state, &ctx, &user, form, Some(msg)).await?;
            return refused(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let service = ServiceKind::parse(form.service.trim()).unwrap_or(ServiceKind::Outpatient);
    let new = NewSchedule {
        institution_id: institution,
        department: form.department.clone(),
        doctor_id: None,
        service,
        name: form.name.clone(),
        rules,
    };
    let w = when(&state);
    let made = match booking::create_schedule(&state.store, &new, Some(user.id)).await {
        Ok(id) => booking::open_slots(
            &state.store,
            id,
            w.today(),
            w.today() + Duration::days(90),
            w,
        )
        .await
        .map(|_| id),
        Err(e) => Err(e),
    };
    match made {
        Ok(id) => Ok(Redirect::to(&format!("/booking/schedules/{id}")).into_response()),
        Err(e) => {
            let (status, msg) = failure(e)?;
            let page = schedules_page(&state, &ctx, &user, form, Some(msg)).await?;
            refused(status, &page)
        }
    }
}

pub struct SlotRow {
    pub id: i64,
    pub label: String,
    pub booked: i64,
    pub capacity: i64,
    pub free: i64,
    pub closed: bool,
}

fn slot_rows(slots: &[Slot], offset_hours: i32) -> Vec<SlotRow> {
    slots
        .iter()
        .map(|s| SlotRow {
            id: s.id,
            label: s.label(offset_hours),
            booked: s.booked,
            capacity: s.capacity,
            free: s.free(),
            closed: s.status == yiwei_domain::booking::SlotStatus::Closed,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "schedule.html")]
struct SchedulePage {
    shell: Shell,
    id: i64,
    name: String,
    institution: String,
    department: String,
    sessions: String,
    horizon_days: u32,
    green_reserved: u32,
    slots: Vec<SlotRow>,
    can_manage: bool,
}

/// `GET /booking/schedules/{id}`: the schedule's coming slots.
pub async fn schedule(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    if user.role == Role::Resident {
        return Err(PageError::Forbidden);
    }
    let sc = booking::schedule(&state.store, id).await?;
    let w = when(&state);
    let f = SlotFilter {
        schedule_id: Some(id),
        start_from: Some(w.now),
        ..Default::default()
    };
    let (slots, _) = booking::slots(&state.store, &f, 200, 0).await?;
    let page = SchedulePage {
        shell: Shell::new(&ctx, &state, "booking.schedule"),
        id,
        can_manage: booking::may_manage(&user, sc.institution_id),
        sessions: sc
            .rules
            .sessions
            .iter()
            .map(Session::code)
            .collect::<Vec<_>>()
            .join("; "),
        horizon_days: sc.rules.horizon_days,
        green_reserved: sc.rules.green_reserved,
        name: sc.name,
        institution: sc.institution_name,
        department: sc.department,
        slots: slot_rows(&slots, w.offset_hours),
    };
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /booking/schedules/{id}/open`: open the slots up to the horizon (idempotent).
pub async fn open_slots(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let sc = booking::schedule(&state.store, id).await?;
    if !booking::may_manage(&user, sc.institution_id) {
        return Err(PageError::Forbidden);
    }
    let w = when(&state);
    booking::open_slots(
        &state.store,
        id,
        w.today(),
        w.today() + Duration::days(90),
        w,
    )
    .await
    .map_err(|e| match failure(e) {
        Ok((_, m)) => PageError::BadRequest(m),
        Err(p) => p,
    })?;
    Ok(Redirect::to(&format!("/booking/schedules/{id}")).into_response())
}

// ---------------------------------------------------------------------------------------
// A slot and its bookings

pub struct BookingRow {
    pub id: i64,
    pub resident_id: i64,
    pub name: String,
    pub status: &'static str,
    pub active: bool,
    pub channel: &'static str,
}

#[derive(Template)]
#[template(path = "slot.html")]
struct SlotPage {
    shell: Shell,
    slot: SlotRow,
    schedule_id: i64,
    schedule_name: String,
    date: String,
    rows: Vec<BookingRow>,
    others: Vec<SlotRow>,
    error: Option<String>,
    resident_input: String,
    /// recognition: an exam service's bookings link to the recognition prompt.
    exam_service: bool,
}

async fn slot_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    id: i64,
    error: Option<String>,
    resident_input: String,
) -> Result<SlotPage, PageError> {
    let slot = booking::slot(&state.store, id).await?;
    let sc = booking::schedule(&state.store, slot.schedule_id).await?;
    let shell = Shell::new(ctx, state, "booking.slot");
    let f = booking::BookingFilter {
        slot_id: Some(id),
        ..Default::default()
    };
    let v = viewer(ctx, user);
    let rows = match access::institution_bookings(&state.store, &v, slot.institution_id, &f, 200, 0)
        .await
    {
        Ok((list, _)) => list
            .into_iter()
            .map(|b| BookingRow {
                id: b.id,
                resident_id: b.resident_id,
                name: yiwei_domain::mask::name(&b.resident_name),
                status: status_name(b.status, &shell),
                active: b.status == BookingStatus::Booked,
                channel: b.channel.as_str(),
            })
            .collect(),
        // Staff of other institutions see the slot, not who holds it.
        Err(BookingError::Access(AccessError::Refused(_))) => Vec::new(),
        Err(e) => return Err(failure(e).map(|(_, m)| PageError::BadRequest(m))?),
    };
    let w = when(state);
    let others = booking::slots(
        &state.store,
        &SlotFilter {
            schedule_id: Some(slot.schedule_id),
            start_from: Some(w.now),
            status: Some("free".into()),
            ..Default::default()
        },
        50,
        0,
    )
    .await?
    .0;
    Ok(SlotPage {
        shell,
        schedule_id: sc.id,
        schedule_name: sc.name,
        date: slot.local_date.to_string(),
        slot: slot_rows(std::slice::from_ref(&slot), w.offset_hours).remove(0),
        rows,
        others: slot_rows(&others, w.offset_hours)
            .into_iter()
            .filter(|s| s.id != id)
            .collect(),
        error,
        resident_input,
        exam_service: sc.service == ServiceKind::Exam,
    })
}

/// `GET /booking/slots/{id}`.
pub async fn slot(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    if user.role == Role::Resident {
        return Err(PageError::Forbidden);
    }
    let page = slot_page(&state, &ctx, &user, id, None, String::new()).await?;
    Ok(render(&page)?.into_response())
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct BookForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    resident: String,
    /// `book` or `waitlist`.
    #[serde(default)]
    action: String,
}

/// `POST /booking/slots/{id}/book`: book a resident (staff: any resident id; a resident:
/// themself), or put them on the waitlist of the slot's date.
pub async fn book(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<BookForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let resident = if user.role == Role::Resident {
        user.resident_id.ok_or(PageError::Forbidden)?
    } else {
        match form.resident.trim().parse::<i64>() {
            Ok(r) => r,
            Err(_) => {
                let msg = "请填写居民编号 / give the resident's number".to_owned();
                let page = slot_page(&state, &ctx, &user, id, Some(msg), form.resident).await?;
                return refused(StatusCode::UNPROCESSABLE_ENTITY, &page);
            }
        }
    };
    let v = viewer(&ctx, &user);
    let w = when(&state);
    let done = if form.action == "waitlist" {
        let slot = booking::slot(&state.store, id).await?;
        access::join_waitlist(
            &state.store,
            &v,
            resident,
            slot.schedule_id,
            slot.local_date,
            w,
        )
        .await
        .map(|_| ())
    } else {
        access::book(&state.store, &v, resident, id, w)
            .await
            .map(|_| ())
    };
    let back = if user.role == Role::Resident {
        "/me/bookings".to_owned()
    } else {
        format!("/booking/slots/{id}")
    };
    match done {
        Ok(()) => Ok(Redirect::to(&back).into_response()),
        Err(e) => {
            let (status, msg) = failure(e)?;
            if user.role == Role::Resident {
                let page = my_page(&state, &ctx, &user, Some(msg)).await?;
                return refused(status, &page);
            }
            let page = slot_page(&state, &ctx, &user, id, Some(msg), form.resident).await?;
            refused(status, &page)
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    /// `cancel`, `attended`, `no_show` or `move`.
    #[serde(default)]
    action: String,
    #[serde(default)]
    slot: String,
    #[serde(default)]
    reason: String,
}

/// `POST /booking/bookings/{id}`: cancel, move, or mark a booking.
pub async fn change(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Path(id): Path<i64>,
    Form(form): Form<ChangeForm>,
) -> Result<Response, PageError> {
    ctx.check_csrf(&state, &form.csrf)?;
    let v = viewer(&ctx, &user);
    let w = when(&state);
    let (_, _) = booking::owner_of(&state.store, id).await?;
    let slot_of = |b: Result<booking::Booking, BookingError>| b.map(|b| b.slot_id);
    let done = match form.action.as_str() {
        "cancel" => access::cancel_booking(&state.store, &v, id, &form.reason, w)
            .await
            .map(|_| ()),
        "attended" => access::mark_booking(&state.store, &v, id, BookingStatus::Attended, w).await,
        "no_show" => access::mark_booking(&state.store, &v, id, BookingStatus::NoShow, w).await,
        "move" => match form.slot.trim().parse::<i64>() {
            Ok(target) => access::reschedule_booking(&state.store, &v, id, target, w)
                .await
                .map(|_| ()),
            Err(_) => Err(BookingError::Invalid(
                "请选择要改到的号源 / choose the slot to move to".into(),
            )),
        },
        _ => return Err(PageError::BadRequest("unknown action".into())),
    };
    let back_slot = slot_of(access::open_booking(&state.store, &v, id).await).ok();
    match done {
        Ok(()) if user.role == Role::Resident => Ok(Redirect::to("/me/bookings").into_response()),
        Ok(()) => Ok(Redirect::to(&match back_slot {
            Some(s) => format!("/booking/slots/{s}"),
            None => "/booking".to_owned(),
        })
        .into_response()),
        Err(e) => {
            let (status, msg) = failure(e)?;
            if user.role == Role::Resident {
                let page = my_page(&state, &ctx, &user, Some(msg)).await?;
                return refused(status, &page);
            }
            match back_slot {
                Some(s) => {
                    let page = slot_page(&state, &ctx, &user, s, Some(msg), String::new()).await?;
                    refused(status, &page)
                }
                None => Err(if status == StatusCode::FORBIDDEN {
                    PageError::Forbidden
                } else {
                    PageError::BadRequest(msg)
                }),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The resident's own bookings (phone)

pub struct MyBooking {
    pub id: i64,
    pub label: String,
    pub status: &'static str,
    pub active: bool,
}

pub struct OpenSlot {
    pub id: i64,
    pub label: String,
    pub place: String,
    pub free: i64,
}

#[derive(Template)]
#[template(path = "my_bookings.html")]
struct MyPage {
    shell: Shell,
    bookings: Vec<MyBooking>,
    open: Vec<OpenSlot>,
    error: Option<String>,
}

async fn my_page(
    state: &AppState,
    ctx: &Ctx,
    user: &User,
    error: Option<String>,
) -> Result<MyPage, PageError> {
    let resident = user.resident_id.ok_or(PageError::Forbidden)?;
    let shell = Shell::new(ctx, state, "booking.mine");
    let v = viewer(ctx, user);
    let w = when(state);
    let (list, _) = access::bookings_of(&state.store, &v, resident, 50, 0)
        .await
        .map_err(|e| match failure(e) {
            Ok((_, m)) => PageError::BadRequest(m),
            Err(p) => p,
        })?;
    let bookings = list
        .into_iter()
        .map(|b| MyBooking {
            id: b.id,
            label: yiwei_domain::booking::SlotLabel(
                yiwei_domain::booking::to_local(b.starts_at, w.offset_hours),
                yiwei_domain::booking::to_local(b.ends_at, w.offset_hours),
            )
            .to_string(),
            status: status_name(b.status, &shell),
            active: b.status == BookingStatus::Booked && b.starts_at > w.now,
        })
        .collect();
    let (slots, _) = booking::slots(
        &state.store,
        &SlotFilter {
            start_from: Some(w.now + Duration::minutes(30)),
            start_before: Some(w.now + Duration::days(8)),
            status: Some("free".into()),
            ..Default::default()
        },
        30,
        0,
    )
    .await?;
    let mut open = Vec::new();
    for s in &slots {
        let sc = booking::schedule(&state.store, s.schedule_id).await?;
        open.push(OpenSlot {
            id: s.id,
            label: s.label(w.offset_hours),
            place: format!("{} · {}", sc.institution_name, sc.name),
            free: s.free(),
        });
    }
    Ok(MyPage {
        shell,
        bookings,
        open,
        error,
    })
}

/// `GET /me/bookings`: a resident's bookings and the open slots to book.
pub async fn mine(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
) -> Result<Response, PageError> {
    if user.role != Role::Resident {
        return Ok(Redirect::to("/booking").into_response());
    }
    let page = my_page(&state, &ctx, &user, None).await?;
    Ok(render(&page)?.into_response())
}

// ---------------------------------------------------------------------------------------
// Figures

pub struct FigureRow {
    pub institution: String,
    pub total: i64,
    pub attended: i64,
    pub no_show: i64,
    pub cancelled: i64,
    pub no_show_rate: String,
}

#[derive(Template)]
#[template(path = "booking_stats.html")]
struct StatsPage {
    shell: Shell,
    from: String,
    to: String,
    rows: Vec<FigureRow>,
    referrals: referral::Figures,
    up_share: String,
}

#[derive(Deserialize)]
pub struct StatsQuery {
    from: Option<String>,
    to: Option<String>,
}

fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

/// `GET /booking/stats`: bookings per institution, no-show rates and referral counts over
/// a period (default: the last 30 days). Aggregates only.
pub async fn stats(
    State(state): State<AppState>,
    Staff { ctx, user }: Staff,
    Query(q): Query<StatsQuery>,
) -> Result<Response, PageError> {
    if !user.role.sees_aggregates() {
        return Err(PageError::Forbidden);
    }
    let w = when(&state);
    let parse = |s: &Option<String>, default: NaiveDate| -> Result<NaiveDate, PageError> {
        match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| {
                PageError::BadRequest("日期应写作 YYYY-MM-DD / dates are YYYY-MM-DD".into())
            }),
        }
    };
    let to = parse(&q.to, w.today())?;
    let from = parse(&q.from, to - Duration::days(30))?;
    if from > to {
        return Err(PageError::BadRequest(
            "开始日期晚于结束日期 / the period ends before it starts".into(),
        ));
    }
    let start = |d: NaiveDate| {
        yiwei_domain::booking::to_utc(d.and_time(chrono::NaiveTime::MIN), w.offset_hours)
    };
    let (a, b) = (start(from), start(to + Duration::days(1)));
    let rows = booking::figures(&state.store, a, b)
        .await?
        .into_iter()
        .map(|f| FigureRow {
            no_show_rate: percent(f.no_show_rate()),
            total: f.total(),
            institution: f.institution_name,
            attended: f.attended,
            no_show: f.no_show,
            cancelled: f.cancelled,
        })
        .collect();
    let referrals = referral::figures(&state.store, a, b, w.now).await?;
    let total = referrals.up + referrals.down;
    let page = StatsPage {
        shell: Shell::new(&ctx, &state, "booking.stats"),
        from: from.to_string(),
        to: to.to_string(),
        rows,
        up_share: percent((total > 0).then(|| referrals.up as f64 / total as f64)),
        referrals,
    };
    Ok(render(&page)?.into_response())
}
