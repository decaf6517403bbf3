//! 预约挂号: schedules, slots, bookings, the waitlist and the message outbox.
//!
//! The rules are `yiwei_domain::booking`'s; this module keeps the rows and makes the rules
//! hold under concurrency. A booking is one write transaction ([`Store::begin`]: `BEGIN
//! IMMEDIATE` on SQLite, so the write lock is taken at the start):
//!
//! 1. read the slot and its schedule's rules and check them (for a clear refusal);
//! 2. `UPDATE slot SET booked = booked + 1 WHERE id = $1 AND status = 'open' AND booked <
//!    $seats`: the authority on capacity. On PostgreSQL a second transaction on the same
//!    slot waits for the row lock and re-evaluates the condition on the new row, so two
//!    processes cannot both take the last seat; a CHECK (`booked <= capacity`) backs it;
//! 3. insert the booking, refused by the unique index `booking_active_resident` if the
//!    resident already holds the slot;
//! 4. queue the confirmation in the `outbox` (migration 0007), and append the audit row;
//! 5. commit. Anything failing before the commit rolls back all of it, so a crash leaves no
//!    half booking: never a raised counter without its booking row.
//!
//! On SQLite a booking is one [`Store::write`]: concurrent bookings share one commit (group
//! commit), each in its own savepoint so a refused one rolls back alone, and each caller
//! is answered only after that commit.
//!
//! There is no lock in the process: several server processes over one PostgreSQL database
//! get the same guarantee. Cancelling gives the seat back and, in the same transaction,
//! books the oldest waiting resident of that schedule and date into it (候补).
//!
//! Personal data (who booked) is written and read only through `crate::access`, which
//! checks and audits; the writers here are `pub(crate)` and take the caller's audit event.
//! Schedules and slots are not personal data and have public functions.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use yiwei_domain::booking::{
    self as rules, BookingRefusal, BookingStatus, Channel, ScheduleError, ScheduleRules,
    ServiceKind, Session, SlotLabel, SlotState, SlotStatus,
};
use yiwei_domain::referral::{RouteRefusal, TransitionRefusal};

use crate::access::AccessError;
use crate::audit::{self, Event};
use crate::{Result, Row, Store, StoreError, Tx, on_pool, on_tx};

/// Why a booking or referral action failed: a rule (with a bilingual message a person can
/// act on), the access gate, or the store.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error(transparent)]
    Refused(#[from] BookingRefusal),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Route(#[from] RouteRefusal),
    #[error(transparent)]
    Transition(#[from] TransitionRefusal),
    /// Input the rules cannot take; the message says what to change.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for BookingError {
    fn from(e: sqlx::Error) -> Self {
        BookingError::Store(e.into())
    }
}

impl From<yiwei_domain::access::Refusal> for BookingError {
    fn from(r: yiwei_domain::access::Refusal) -> Self {
        BookingError::Access(r.into())
    }
}

/// The instant and the county's offset: "now" and "today" for the rules. Passed in, so
/// tests can set the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct When {
    pub now: DateTime<Utc>,
    pub offset_hours: i32,
}

impl When {
    pub fn now(offset_hours: i32) -> When {
        When {
            now: crate::now(),
            offset_hours,
        }
    }

    pub fn today(&self) -> NaiveDate {
        rules::to_local(self.now, self.offset_hours).date()
    }
}

/// A schedule to create.
#[derive(Clone, Debug)]
pub struct NewSchedule {
    pub institution_id: i64,
    pub department: String,
    pub doctor_id: Option<i64>,
    pub service: ServiceKind,
    pub name: String,
    pub rules: ScheduleRules,
}

/// 排班.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub id: i64,
    pub institution_id: i64,
    pub institution_name: String,
    pub department: String,
    pub doctor_id: Option<i64>,
    pub service: ServiceKind,
    pub name: String,
    pub rules: ScheduleRules,
    pub active: bool,
    pub version: i64,
}

/// 号源.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    pub id: i64,
    pub schedule_id: i64,
    pub institution_id: i64,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub local_date: NaiveDate,
    pub capacity: i64,
    pub green_reserved: i64,
    pub booked: i64,
    pub status: SlotStatus,
}

impl Slot {
    fn state(&self) -> SlotState {
        SlotState {
            start: self.starts_at,
            status: self.status,
            capacity: self.capacity as u32,
            booked: self.booked as u32,
            local_date: self.local_date,
        }
    }

    /// Seats still open to ordinary booking.
    pub fn free(&self) -> i64 {
        (self.capacity - self.green_reserved - self.booked).max(0)
    }

    pub fn label(&self, offset_hours: i32) -> String {
        SlotLabel(
            rules::to_local(self.starts_at, offset_hours),
            rules::to_local(self.ends_at, offset_hours),
        )
        .to_string()
    }
}

/// 预约, with its slot's times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Booking {
    pub id: i64,
    pub slot_id: i64,
    pub schedule_id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub division_code: String,
    pub institution_id: i64,
    pub status: BookingStatus,
    pub channel: Channel,
    pub reschedules: i64,
    pub rescheduled_from: Option<i64>,
    pub booked_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub cancel_reason: Option<String>,
    pub version: i64,
}

fn bad_stored(what: &str) -> StoreError {
    StoreError::Other(format!("stored {what} cannot be read"))
}

fn schedule_row(r: &impl Row) -> Result<Schedule> {
    let sessions: String = r.col("sessions")?;
    let holidays: String = r.col("holidays")?;
    let service: String = r.col("service")?;
    let sessions = sessions
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(Session::parse)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| bad_stored("schedule sessions"))?;
    let holidays = holidays
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d"))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad_stored("schedule holidays"))?;
    let n = |c: &str| -> Result<u32> {
        let v: i64 = r.col(c)?;
        u32::try_from(v).map_err(|_| bad_stored(c))
    };
    Ok(Schedule {
        id: r.col("id")?,
        institution_id: r.col("institution_id")?,
        institution_name: r.col("institution_name")?,
        department: r.col("department")?,
        doctor_id: r.col("doctor_id")?,
        service: ServiceKind::parse(&service).ok_or_else(|| bad_stored("service"))?,
        name: r.col("name")?,
        rules: ScheduleRules {
            sessions,
            horizon_days: n("horizon_days")?,
            holidays,
            booking_cutoff_minutes: n("booking_cutoff_minutes")?,
            cancel_cutoff_minutes: n("cancel_cutoff_minutes")?,
            max_reschedules: n("max_reschedules")?,
            green_reserved: n("green_reserved")?,
        },
        active: r.col("active")?,
        version: r.col("version")?,
    })
}

const SCHEDULE_COLUMNS: &str = "sc.id, sc.institution_id, i.name AS institution_name, sc.department, \
     sc.doctor_id, sc.service, sc.name, sc.sessions, sc.holidays, sc.horizon_days, \
     sc.booking_cutoff_minutes, sc.cancel_cutoff_minutes, sc.max_reschedules, sc.green_reserved, \
     sc.active, sc.version";

fn slot_row(r: &impl Row) -> Result<Slot> {
    let status: String = r.col("status")?;
    Ok(Slot {
        id: r.col("id")?,
        schedule_id: r.col("schedule_id")?,
        institution_id: r.col("institution_id")?,
        starts_at: r.col("starts_at")?,
        ends_at: r.col("ends_at")?,
        local_date: r.col("local_date")?,
        capacity: r.col("capacity")?,
        green_reserved: r.col("green_reserved")?,
        booked: r.col("booked")?,
        status: SlotStatus::parse(&status).ok_or_else(|| bad_stored("slot status"))?,
    })
}

const SLOT_COLUMNS: &str = "s.id, s.schedule_id, s.institution_id, s.starts_at, s.ends_at, \
     s.local_date, s.capacity, s.green_reserved, s.booked, s.status";

fn booking_row(r: &impl Row) -> Result<Booking> {
    let status: String = r.col("status")?;
    let channel: String = r.col("channel")?;
    Ok(Booking {
        id: r.col("id")?,
        slot_id: r.col("slot_id")?,
        schedule_id: r.col("schedule_id")?,
        resident_id: r.col("resident_id")?,
        resident_name: r.col("resident_name")?,
        division_code: r.col("division_code")?,
        institution_id: r.col("institution_id")?,
        status: BookingStatus::parse(&status).ok_or_else(|| bad_stored("booking status"))?,
        channel: Channel::parse(&channel).ok_or_else(|| bad_stored("booking channel"))?,
        reschedules: r.col("reschedules")?,
        rescheduled_from: r.col("rescheduled_from")?,
        booked_by: r.col("booked_by")?,
        created_at: r.col("created_at")?,
        starts_at: r.col("starts_at")?,
        ends_at: r.col("ends_at")?,
        cancel_reason: r.col("cancel_reason")?,
        version: r.col("version")?,
    })
}

const BOOKING_COLUMNS: &str = "b.id, b.slot_id, s.schedule_id, b.resident_id, r.name AS resident_name, \
     b.division_code, b.institution_id, b.status, b.channel, b.reschedules, b.rescheduled_from, \
     b.booked_by, b.created_at, s.starts_at, s.ends_at, b.cancel_reason, b.version";

const BOOKING_FROM: &str =
    "FROM booking b JOIN slot s ON s.id = b.slot_id JOIN resident r ON r.id = b.resident_id";

// ---------------------------------------------------------------------------------------
// Schedules and slots (not personal data).

/// Create a schedule after checking its rules.
pub async fn create_schedule(
    store: &Store,
    new: &NewSchedule,
    by: Option<i64>,
) -> Result<i64, BookingError> {
    new.rules.check()?;
    if new.department.trim().is_empty() || new.name.trim().is_empty() {
        return Err(BookingError::Invalid(
            "科室和名称不能为空 / give the department and a name".into(),
        ));
    }
    crate::org::get(store, new.institution_id).await?;
    let sessions: Vec<String> = new.rules.sessions.iter().map(Session::code).collect();
    let holidays: Vec<String> = new
        .rules
        .holidays
        .iter()
        .map(|d| d.format("%Y-%m-%d").to_string())
        .collect();
    let now = crate::now();
    let id: i64 = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "INSERT INTO schedule (institution_id, department, doctor_id, service, name, sessions, \
             holidays, horizon_days, booking_cutoff_minutes, cancel_cutoff_minutes, max_reschedules, \
             green_reserved, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        )
        .bind(new.institution_id)
        .bind(new.department.trim())
        .bind(new.doctor_id)
        .bind(new.service.as_str())
        .bind(new.name.trim())
        .bind(sessions.join("\n"))
        .bind(holidays.join(","))
        .bind(i64::from(new.rules.horizon_days))
        .bind(i64::from(new.rules.booking_cutoff_minutes))
        .bind(i64::from(new.rules.cancel_cutoff_minutes))
        .bind(i64::from(new.rules.max_reschedules))
        .bind(i64::from(new.rules.green_reserved))
        .bind(by)
        .bind(now)
        .fetch_one(pool)
        .await
    })?;
    Ok(id)
}

/// One schedule.
pub async fn schedule(store: &Store, id: i64) -> Result<Schedule> {
    let sql = format!(
        "SELECT {SCHEDULE_COLUMNS} FROM schedule sc JOIN institution i ON i.id = sc.institution_id \
         WHERE sc.id = $1"
    );
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("schedule"))?;
        schedule_row(&row)
    })
}

/// The schedules of an institution (all institutions when `None`), by id.
pub async fn schedules(
    store: &Store,
    institution_id: Option<i64>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Schedule>> {
    let sql = format!(
        "SELECT {SCHEDULE_COLUMNS} FROM schedule sc JOIN institution i ON i.id = sc.institution_id \
         WHERE ($1 IS NULL OR sc.institution_id = $1) ORDER BY sc.id LIMIT $2 OFFSET $3"
    );
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(institution_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
        rows.iter().map(schedule_row).collect()
    })
}

/// Make the slots of a schedule for `from..=to` (cut to what is open on `when`'s day), and
/// return how many were new. Slots already made are kept as they are, so running this
/// again (daily, or after a change of rules) never touches bookings.
pub async fn open_slots(
    store: &Store,
    schedule_id: i64,
    from: NaiveDate,
    to: NaiveDate,
    when: When,
) -> Result<u64, BookingError> {
    let sc = schedule(store, schedule_id).await?;
    if !sc.active {
        return Err(BookingError::Invalid(
            "该排班已停用 / this schedule is inactive".into(),
        ));
    }
    let specs = rules::generate_slots(&sc.rules, from, to, when.today())?;
    let mut tx = store.begin().await?;
    let mut made = 0;
    for spec in specs {
        let starts = rules::to_utc(spec.start, when.offset_hours);
        let ends = rules::to_utc(spec.end, when.offset_hours);
        let n = on_tx!(&mut tx, |conn| {
            sqlx::query(
                "INSERT INTO slot (schedule_id, institution_id, starts_at, ends_at, local_date, \
                 capacity, green_reserved) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (schedule_id, starts_at) DO NOTHING",
            )
            .bind(sc.id)
            .bind(sc.institution_id)
            .bind(starts)
            .bind(ends)
            .bind(spec.start.date())
            .bind(i64::from(spec.capacity))
            .bind(i64::from(sc.rules.green_reserved))
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        made += n;
    }
    tx.commit().await?;
    Ok(made)
}

/// One slot.
pub async fn slot(store: &Store, id: i64) -> Result<Slot> {
    let sql = format!("SELECT {SLOT_COLUMNS} FROM slot s WHERE s.id = $1");
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("slot"))?;
        slot_row(&row)
    })
}

/// Which slots to list.
#[derive(Clone, Debug, Default)]
pub struct SlotFilter {
    pub schedule_id: Option<i64>,
    pub institution_id: Option<i64>,
    /// Slots starting at or after this instant.
    pub start_from: Option<DateTime<Utc>>,
    /// Slots starting before this instant.
    pub start_before: Option<DateTime<Utc>>,
    /// `free`: open with an ordinary seat left; `busy`: open and full; `closed`.
    pub status: Option<String>,
}

/// Slots by start time, then id, with the total.
pub async fn slots(
    store: &Store,
    f: &SlotFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Slot>, i64)> {
    let status = f.status.as_deref().unwrap_or("");
    let filter = "($1 IS NULL OR s.schedule_id = $1) AND ($2 IS NULL OR s.institution_id = $2) \
         AND ($3 IS NULL OR s.starts_at >= $3) AND ($4 IS NULL OR s.starts_at < $4) \
         AND ($5 = '' OR ($5 = 'free' AND s.status = 'open' AND s.booked < s.capacity - s.green_reserved) \
              OR ($5 = 'busy' AND s.status = 'open' AND s.booked >= s.capacity - s.green_reserved) \
              OR ($5 = 'closed' AND s.status = 'closed'))";
    let sql = format!(
        "SELECT {SLOT_COLUMNS} FROM slot s WHERE {filter} ORDER BY s.starts_at, s.id LIMIT $6 OFFSET $7"
    );
    let count = format!("SELECT COUNT(*) FROM slot s WHERE {filter}");
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(f.schedule_id)
            .bind(f.institution_id)
            .bind(f.start_from)
            .bind(f.start_before)
            .bind(status)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count.as_str()))
            .bind(f.schedule_id)
            .bind(f.institution_id)
            .bind(f.start_from)
            .bind(f.start_before)
            .bind(status)
            .fetch_one(pool)
            .await?;
        let slots = rows.iter().map(slot_row).collect::<Result<Vec<_>>>()?;
        Ok((slots, total))
    })
}

/// Close (停诊) or reopen a slot. Bookings already made stay; staff move or cancel them.
pub async fn set_slot_status(store: &Store, id: i64, status: SlotStatus) -> Result<()> {
    let n = on_pool!(store, |pool| {
        sqlx::query("UPDATE slot SET status = $2 WHERE id = $1")
            .bind(id)
            .bind(status.as_str())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(StoreError::NotFound("slot"));
    }
    Ok(())
}

/// Whether a user may manage the schedules of an institution: the county administrator,
/// or staff of that institution with a clinical role.
pub fn may_manage(user: &crate::user::User, institution_id: i64) -> bool {
    user.role.administers()
        || (user.institution_id == Some(institution_id)
            && user.role.reads_personal_records()
            && user.role != yiwei_domain::access::Role::Resident)
}

// ---------------------------------------------------------------------------------------
// Bookings: written only through `crate::access`.

/// The slot with its schedule's rules, read inside a transaction.
async fn slot_in(tx: &mut Tx<'_>, slot_id: i64) -> Result<(Slot, ScheduleRules), BookingError> {
    let sql = format!(
        "SELECT {SLOT_COLUMNS}, sc.sessions, sc.holidays, sc.horizon_days, sc.booking_cutoff_minutes, \
         sc.cancel_cutoff_minutes, sc.max_reschedules, sc.green_reserved AS sc_green, \
         sc.id AS sc_id, sc.institution_id AS sc_inst, '' AS institution_name, sc.department, sc.doctor_id, \
         sc.service, sc.name, sc.active, sc.version \
         FROM slot s JOIN schedule sc ON sc.id = s.schedule_id WHERE s.id = $1"
    );
    on_tx!(tx, |conn| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(slot_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound("slot"))?;
        let slot = slot_row(&row)?;
        let sessions: String = row.col("sessions")?;
        let holidays: String = row.col("holidays")?;
        let n = |c: &str| -> Result<u32> {
            let v: i64 = row.col(c)?;
            u32::try_from(v).map_err(|_| bad_stored(c))
        };
        let rules = ScheduleRules {
            sessions: sessions
                .lines()
                .filter_map(|l| Session::parse(l).ok())
                .collect(),
            horizon_days: n("horizon_days")?,
            holidays: holidays
                .split(',')
                .filter_map(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
                .collect(),
            booking_cutoff_minutes: n("booking_cutoff_minutes")?,
            cancel_cutoff_minutes: n("cancel_cutoff_minutes")?,
            max_reschedules: n("max_reschedules")?,
            // The slot's own reserve, fixed when it was made.
            green_reserved: u32::try_from(slot.green_reserved).map_err(|_| bad_stored("slot"))?,
        };
        Ok((slot, rules))
    })
}

/// The local dates of a resident's no-shows, for the suspension rule.
async fn no_show_dates(tx: &mut Tx<'_>, resident_id: i64) -> Result<Vec<NaiveDate>> {
    on_tx!(tx, |conn| {
        let dates: Vec<NaiveDate> = sqlx::query_scalar(
            "SELECT s.local_date FROM booking b JOIN slot s ON s.id = b.slot_id \
             WHERE b.resident_id = $1 AND b.status = 'no_show' ORDER BY s.local_date DESC LIMIT 50",
        )
        .bind(resident_id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(dates)
    })
}

/// A message for the outbox (`outbox`, migration 0007). Bodies name an institution, a
/// time and a booking number, never a person. A repeated dedupe key is ignored.
async fn queue_message(
    tx: &mut Tx<'_>,
    resident_id: i64,
    division: &str,
    topic: &str,
    dedupe_key: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO outbox (resident_id, division_code, topic, dedupe_key, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(resident_id)
        .bind(division)
        .bind(topic)
        .bind(dedupe_key)
        .bind(body)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(())
    })
}

async fn institution_name_in(tx: &mut Tx<'_>, id: i64) -> Result<String> {
    on_tx!(tx, |conn| {
        let name: String = sqlx::query_scalar("SELECT name FROM institution WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
        Ok(name)
    })
}

/// What a booking needs besides the slot.
#[derive(Clone, Debug)]
pub(crate) struct Booker<'a> {
    pub resident_id: i64,
    pub division: &'a str,
    pub channel: Channel,
    pub by_user: Option<i64>,
    /// For a move: the old booking and how often it was moved before.
    pub moved_from: Option<(i64, i64)>,
}

/// Book inside `tx`: check, take a seat with the conditional update, insert, queue the
/// confirmation. Returns the booking id. The caller commits.
pub(crate) async fn book_in(
    tx: &mut Tx<'_>,
    slot_id: i64,
    who: &Booker<'_>,
    when: When,
) -> Result<i64, BookingError> {
    let (slot, rules) = slot_in(tx, slot_id).await?;
    rules::check_booking(&rules, &slot.state(), when.now, when.today(), who.channel)?;
    if who.channel == Channel::Resident {
        let dates = no_show_dates(tx, who.resident_id).await?;
        rules::NoShowPolicy::default().check(&dates, when.today())?;
    }
    let holds: i64 = on_tx!(&mut *tx, |conn| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM booking WHERE slot_id = $1 AND resident_id = $2 AND status = 'booked'",
        )
        .bind(slot_id)
        .bind(who.resident_id)
        .fetch_one(&mut *conn)
        .await?
    });
    if holds > 0 {
        return Err(BookingRefusal::AlreadyBooked.into());
    }
    let seats = i64::from(rules::seats_for(&rules, slot.capacity as u32, who.channel));
    // The authority on capacity: see the module docs.
    let taken = on_tx!(&mut *tx, |conn| {
        sqlx::query(
            "UPDATE slot SET booked = booked + 1 WHERE id = $1 AND status = 'open' AND booked < $2",
        )
        .bind(slot_id)
        .bind(seats)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    if taken == 0 {
        return Err(BookingRefusal::SlotFull.into());
    }
    let (reschedules, from) = match who.moved_from {
        Some((id, n)) => (n + 1, Some(id)),
        None => (0, None),
    };
    let inserted: std::result::Result<i64, sqlx::Error> = on_tx!(&mut *tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO booking (slot_id, resident_id, division_code, institution_id, status, channel, \
             reschedules, rescheduled_from, booked_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'booked', $5, $6, $7, $8, $9, $9) RETURNING id",
        )
        .bind(slot_id)
        .bind(who.resident_id)
        .bind(who.division)
        .bind(slot.institution_id)
        .bind(who.channel.as_str())
        .bind(reschedules)
        .bind(from)
        .bind(who.by_user)
        .bind(when.now)
        .fetch_one(&mut *conn)
        .await
    });
    let id = match inserted {
        Ok(id) => id,
        Err(e) => {
            return Err(match StoreError::from(e) {
                StoreError::Conflict { .. } => BookingRefusal::AlreadyBooked.into(),
                other => other.into(),
            });
        }
    };
    let place = institution_name_in(tx, slot.institution_id).await?;
    let label = slot.label(when.offset_hours);
    let topic = if who.moved_from.is_some() {
        "booking_moved"
    } else if who.channel == Channel::Waitlist {
        "waitlist_filled"
    } else {
        "booking_confirmed"
    };
    queue_message(
        tx,
        who.resident_id,
        who.division,
        topic,
        &format!("booking:{id}:confirm"),
        &format!("【预约成功】{place} {label}，预约号 {id}。如需取消请提前办理。"),
        when.now,
    )
    .await?;
    Ok(id)
}

/// The booking's facts needed to change it, read inside a transaction.
async fn booking_in(tx: &mut Tx<'_>, id: i64) -> Result<Booking, BookingError> {
    let sql = format!("SELECT {BOOKING_COLUMNS} {BOOKING_FROM} WHERE b.id = $1");
    on_tx!(tx, |conn| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound("booking"))?;
        Ok(booking_row(&row)?)
    })
}

/// Cancel inside `tx`: give the seat back, cancel the pending reminder, queue the notice,
/// and (when `fill`) book the first waiting resident into the seat. Returns the booking
/// made from the waitlist, if any.
pub(crate) async fn cancel_in(
    tx: &mut Tx<'_>,
    id: i64,
    channel: Channel,
    reason: &str,
    when: When,
    fill: bool,
) -> Result<Option<i64>, BookingError> {
    let b = booking_in(tx, id).await?;
    let (slot, rules) = slot_in(tx, b.slot_id).await?;
    rules::check_cancel(&rules, b.status, slot.starts_at, when.now, channel)?;
    let changed = on_tx!(&mut *tx, |conn| {
        sqlx::query(
            "UPDATE booking SET status = 'cancelled', cancel_reason = $2, updated_at = $3, \
             version = version + 1 WHERE id = $1 AND status = 'booked'",
        )
        .bind(id)
        .bind(reason)
        .bind(when.now)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    if changed == 0 {
        return Err(BookingRefusal::NotActive {
            state_zh: BookingStatus::Cancelled.name_zh(),
            state_en: BookingStatus::Cancelled.name_en(),
        }
        .into());
    }
    on_tx!(&mut *tx, |conn| {
        sqlx::query("UPDATE slot SET booked = booked - 1 WHERE id = $1 AND booked > 0")
            .bind(b.slot_id)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "UPDATE outbox SET status = 'cancelled' WHERE dedupe_key = $1 AND status = 'pending'",
        )
        .bind(format!("booking:{id}:remind"))
        .execute(&mut *conn)
        .await?;
    });
    let place = institution_name_in(tx, slot.institution_id).await?;
    queue_message(
        tx,
        b.resident_id,
        &b.division_code,
        "booking_cancelled",
        &format!("booking:{id}:cancel"),
        &format!(
            "【预约已取消】{place} {}，预约号 {id}。",
            slot.label(when.offset_hours)
        ),
        when.now,
    )
    .await?;
    if !fill {
        return Ok(None);
    }
    fill_from_waitlist(tx, &slot, when).await
}

/// Book the oldest waiting resident of the slot's schedule and date into the slot.
async fn fill_from_waitlist(
    tx: &mut Tx<'_>,
    slot: &Slot,
    when: When,
) -> Result<Option<i64>, BookingError> {
    if slot.starts_at <= when.now {
        return Ok(None);
    }
    let waiting: Vec<(i64, i64, String)> = on_tx!(&mut *tx, |conn| {
        sqlx::query_as(
            "SELECT w.id, w.resident_id, w.division_code FROM waitlist w \
             WHERE w.schedule_id = $1 AND w.local_date = $2 AND w.status = 'waiting' \
             AND NOT EXISTS (SELECT 1 FROM booking b WHERE b.slot_id = $3 \
                             AND b.resident_id = w.resident_id AND b.status = 'booked') \
             ORDER BY w.id LIMIT 5",
        )
        .bind(slot.schedule_id)
        .bind(slot.local_date)
        .bind(slot.id)
        .fetch_all(&mut *conn)
        .await?
    });
    for (entry, resident_id, division) in waiting {
        // Claim the entry first: a concurrent cancellation on PostgreSQL waits on this row
        // and then sees it taken.
        let claimed = on_tx!(&mut *tx, |conn| {
            sqlx::query(
                "UPDATE waitlist SET status = 'booked', updated_at = $2 WHERE id = $1 AND status = 'waiting'",
            )
            .bind(entry)
            .bind(when.now)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        if claimed == 0 {
            continue;
        }
        let who = Booker {
            resident_id,
            division: &division,
            channel: Channel::Waitlist,
            by_user: None,
            moved_from: None,
        };
        let id = book_in(tx, slot.id, &who, when).await?;
        on_tx!(&mut *tx, |conn| {
            sqlx::query("UPDATE waitlist SET booking_id = $2 WHERE id = $1")
                .bind(entry)
                .bind(id)
                .execute(&mut *conn)
                .await?;
        });
        return Ok(Some(id));
    }
    Ok(None)
}

/// Book `resident_id` into `slot_id`; `event` is the caller's checked audit event.
pub(crate) async fn book(
    store: &Store,
    slot_id: i64,
    who: &Booker<'_>,
    when: When,
    event: Event,
) -> Result<i64, BookingError> {
    // Through the group committer on SQLite: concurrent bookings share one commit, each in
    // its own savepoint, and the caller hears "booked" only after that commit.
    let key = *store.keys().audit_key();
    let division = who.division.to_owned();
    let (resident_id, channel, by_user, moved_from) =
        (who.resident_id, who.channel, who.by_user, who.moved_from);
    store
        .write(move |tx| {
            Box::pin(async move {
                let who = Booker {
                    resident_id,
                    division: &division,
                    channel,
                    by_user,
                    moved_from,
                };
                let id = book_in(tx, slot_id, &who, when).await?;
                let event = event.object("booking", id).resident(resident_id);
                audit::append_in(tx, &key, &event).await?;
                Ok(id)
            })
        })
        .await
}

/// Cancel a booking; returns the booking made from the waitlist into the freed seat.
pub(crate) async fn cancel(
    store: &Store,
    id: i64,
    channel: Channel,
    reason: &str,
    when: When,
    event: Event,
) -> Result<Option<i64>, BookingError> {
    let mut tx = store.begin().await?;
    let b = booking_in(&mut tx, id).await?;
    let filled = cancel_in(&mut tx, id, channel, reason, when, true).await?;
    let event = event.object("booking", id).resident(b.resident_id);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(filled)
}

/// Move a booking to another slot of the same schedule (改约); returns the new booking.
/// Both changes are one transaction: the resident never holds both seats or neither.
pub(crate) async fn reschedule(
    store: &Store,
    id: i64,
    target_slot: i64,
    channel: Channel,
    when: When,
    by_user: Option<i64>,
    event: Event,
) -> Result<i64, BookingError> {
    let mut tx = store.begin().await?;
    let b = booking_in(&mut tx, id).await?;
    let (target, rules) = slot_in(&mut tx, target_slot).await?;
    if target.id == b.slot_id {
        return Err(BookingRefusal::AlreadyBooked.into());
    }
    rules::check_reschedule(
        &rules,
        b.status,
        b.starts_at,
        u32::try_from(b.reschedules).unwrap_or(u32::MAX),
        target.schedule_id == b.schedule_id,
        &target.state(),
        when.now,
        when.today(),
        channel,
    )?;
    let who = Booker {
        resident_id: b.resident_id,
        division: &b.division_code,
        channel,
        by_user,
        moved_from: Some((b.id, b.reschedules)),
    };
    // Touch the two slots in id order, so two crossing moves cannot deadlock.
    let new_id = if target.id < b.slot_id {
        let new_id = book_in(&mut tx, target.id, &who, when).await?;
        cancel_in(&mut tx, id, channel, "rescheduled", when, true).await?;
        new_id
    } else {
        cancel_in(&mut tx, id, channel, "rescheduled", when, true).await?;
        book_in(&mut tx, target.id, &who, when).await?
    };
    let event = event.object("booking", new_id).resident(b.resident_id);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(new_id)
}

/// Mark a booking attended (已就诊) or a no-show (爽约).
pub(crate) async fn mark_outcome(
    store: &Store,
    id: i64,
    outcome: BookingStatus,
    when: When,
    event: Event,
) -> Result<(), BookingError> {
    if !matches!(outcome, BookingStatus::Attended | BookingStatus::NoShow) {
        return Err(BookingError::Invalid(
            "只能标记为已就诊或爽约 / mark attended or no-show".into(),
        ));
    }
    let mut tx = store.begin().await?;
    let b = booking_in(&mut tx, id).await?;
    rules::check_outcome(b.status, b.starts_at, when.now)?;
    let n = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE booking SET status = $2, updated_at = $3, version = version + 1 \
             WHERE id = $1 AND status = 'booked'",
        )
        .bind(id)
        .bind(outcome.as_str())
        .bind(when.now)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    if n == 0 {
        return Err(BookingRefusal::NotActive {
            state_zh: "已更改",
            state_en: "changed meanwhile",
        }
        .into());
    }
    let event = event.object("booking", id).resident(b.resident_id);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Put a resident on the waitlist of a schedule's date.
#[expect(
    clippy::too_many_arguments,
    reason = "a waitlist entry is these facts; a struct would only rename them"
)]
pub(crate) async fn join_waitlist(
    store: &Store,
    schedule_id: i64,
    date: NaiveDate,
    resident_id: i64,
    division: &str,
    when: When,
    by_user: Option<i64>,
    event: Event,
) -> Result<i64, BookingError> {
    let sc = schedule(store, schedule_id).await?;
    if date < when.today() || date > sc.rules.last_open_date(when.today()) {
        return Err(BookingError::Invalid(
            "只能候补已放号且未过去的日期 / join the waitlist only for an open, future date".into(),
        ));
    }
    let mut tx = store.begin().await?;
    let inserted: std::result::Result<i64, sqlx::Error> = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO waitlist (schedule_id, local_date, resident_id, division_code, status, \
             created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, 'waiting', $5, $6, $6) RETURNING id",
        )
        .bind(schedule_id)
        .bind(date)
        .bind(resident_id)
        .bind(division)
        .bind(by_user)
        .bind(when.now)
        .fetch_one(&mut *conn)
        .await
    });
    let id = match inserted.map_err(StoreError::from) {
        Ok(id) => id,
        Err(StoreError::Conflict { .. }) => {
            return Err(BookingError::Invalid(
                "已在该日期的候补名单中 / already on the waitlist for this date".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let event = event.object("waitlist", id).resident(resident_id);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(id)
}

/// One booking with the resident's name. `pub(crate)`: read through `crate::access`.
pub(crate) async fn get(store: &Store, id: i64) -> Result<Booking> {
    let sql = format!("SELECT {BOOKING_COLUMNS} {BOOKING_FROM} WHERE b.id = $1");
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("booking"))?;
        booking_row(&row)
    })
}

/// The resident and institution of a booking: no personal data, for access decisions.
pub async fn owner_of(store: &Store, id: i64) -> Result<(i64, i64)> {
    on_pool!(store, |pool| {
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT resident_id, institution_id FROM booking WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or(StoreError::NotFound("booking"))
    })
}

/// Which bookings to list.
#[derive(Clone, Debug, Default)]
pub struct BookingFilter {
    pub resident_id: Option<i64>,
    pub institution_id: Option<i64>,
    pub slot_id: Option<i64>,
    pub status: Option<BookingStatus>,
    pub start_from: Option<DateTime<Utc>>,
    pub start_before: Option<DateTime<Utc>>,
}

/// Bookings by slot start then id, with the total. `pub(crate)`: read through `access`.
pub(crate) async fn list(
    store: &Store,
    f: &BookingFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Booking>, i64)> {
    let filter = "($1 IS NULL OR b.resident_id = $1) AND ($2 IS NULL OR b.institution_id = $2) \
         AND ($3 IS NULL OR b.slot_id = $3) AND ($4 IS NULL OR b.status = $4) \
         AND ($5 IS NULL OR s.starts_at >= $5) AND ($6 IS NULL OR s.starts_at < $6)";
    let sql = format!(
        "SELECT {BOOKING_COLUMNS} {BOOKING_FROM} WHERE {filter} ORDER BY s.starts_at, b.id LIMIT $7 OFFSET $8"
    );
    let count = format!("SELECT COUNT(*) {BOOKING_FROM} WHERE {filter}");
    let status = f.status.map(BookingStatus::as_str);
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(f.resident_id)
            .bind(f.institution_id)
            .bind(f.slot_id)
            .bind(status)
            .bind(f.start_from)
            .bind(f.start_before)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count.as_str()))
            .bind(f.resident_id)
            .bind(f.institution_id)
            .bind(f.slot_id)
            .bind(status)
            .bind(f.start_from)
            .bind(f.start_before)
            .fetch_one(pool)
            .await?;
        let list = rows.iter().map(booking_row).collect::<Result<Vec<_>>>()?;
        Ok((list, total))
    })
}

/// Whether the institution holds an active booking of the resident (the booking tie).
pub(crate) async fn institution_holds(
    store: &Store,
    institution_id: i64,
    resident_id: i64,
) -> Result<bool> {
    let n: i64 = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM booking WHERE institution_id = $1 AND resident_id = $2 AND status = 'booked'",
        )
        .bind(institution_id)
        .bind(resident_id)
        .fetch_one(pool)
        .await
    })?;
    Ok(n > 0)
}

/// (booking, resident, village, slot start, slot end, institution name).
type DueReminder = (i64, i64, String, DateTime<Utc>, DateTime<Utc>, String);

/// Queue the reminders (就诊提醒) of the bookings whose slot starts within `ahead` of
/// `when`, once each (the dedupe key); returns how many were new. Run daily or hourly by
/// the job runner; running it again queues nothing twice.
pub async fn queue_reminders(store: &Store, when: When, ahead: Duration) -> Result<u64> {
    let due: Vec<DueReminder> = on_pool!(store, |pool| {
        sqlx::query_as(
                "SELECT b.id, b.resident_id, b.division_code, s.starts_at, s.ends_at, i.name \
                 FROM booking b JOIN slot s ON s.id = b.slot_id JOIN institution i ON i.id = b.institution_id \
                 WHERE b.status = 'booked' AND s.starts_at > $1 AND s.starts_at <= $2 ORDER BY b.id",
            )
            .bind(when.now)
            .bind(when.now + ahead)
            .fetch_all(pool)
            .await
    })?;
    let mut n = 0;
    for chunk in due.chunks(500) {
        let mut tx = store.begin().await?;
        for (id, resident, division, starts, ends, place) in chunk {
            let label = SlotLabel(
                rules::to_local(*starts, when.offset_hours),
                rules::to_local(*ends, when.offset_hours),
            );
            let key = format!("booking:{id}:remind");
            let body = format!("【就诊提醒】您预约的 {place} {label} 即将开始，预约号 {id}。");
            let new = on_tx!(&mut tx, |conn| {
                sqlx::query(
                    "INSERT INTO outbox (resident_id, division_code, topic, dedupe_key, body, created_at) \
                     VALUES ($1, $2, 'booking_reminder', $3, $4, $5) ON CONFLICT (dedupe_key) DO NOTHING",
                )
                .bind(*resident)
                .bind(division.as_str())
                .bind(&key)
                .bind(&body)
                .bind(when.now)
                .execute(&mut *conn)
                .await?
                .rows_affected()
            });
            n += new;
        }
        tx.commit().await?;
    }
    Ok(n)
}

/// A booking message in the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: i64,
    pub resident_id: i64,
    pub topic: String,
    pub dedupe_key: String,
    pub body: String,
    pub status: String,
}

/// The booking messages of a resident (all when `None`), newest first.
pub async fn messages(store: &Store, resident_id: Option<i64>, limit: i64) -> Result<Vec<Message>> {
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT id, resident_id, topic, dedupe_key, body, status FROM outbox \
             WHERE dedupe_key LIKE 'booking:%' AND ($1 IS NULL OR resident_id = $1) \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(resident_id)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Message {
                    id: r.col("id")?,
                    resident_id: r.col("resident_id")?,
                    topic: r.col("topic")?,
                    dedupe_key: r.col("dedupe_key")?,
                    body: r.col("body")?,
                    status: r.col("status")?,
                })
            })
            .collect()
    })
}

/// Booking figures of one institution over a period.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstitutionFigures {
    pub institution_id: i64,
    pub institution_name: String,
    pub booked: i64,
    pub cancelled: i64,
    pub attended: i64,
    pub no_show: i64,
}

impl InstitutionFigures {
    pub fn total(&self) -> i64 {
        self.booked + self.cancelled + self.attended + self.no_show
    }

    /// 爽约率 over the bookings whose outcome is known.
    pub fn no_show_rate(&self) -> Option<f64> {
        rules::no_show_rate(self.attended as u64, self.no_show as u64)
    }
}

/// Bookings per institution of slots starting in `[from, to)`: aggregates, no names.
pub async fn figures(
    store: &Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<InstitutionFigures>> {
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT i.id, i.name, \
             SUM(CASE WHEN b.status = 'booked' THEN 1 ELSE 0 END) AS booked, \
             SUM(CASE WHEN b.status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled, \
             SUM(CASE WHEN b.status = 'attended' THEN 1 ELSE 0 END) AS attended, \
             SUM(CASE WHEN b.status = 'no_show' THEN 1 ELSE 0 END) AS no_show \
             FROM booking b JOIN slot s ON s.id = b.slot_id JOIN institution i ON i.id = b.institution_id \
             WHERE s.starts_at >= $1 AND s.starts_at < $2 GROUP BY i.id, i.name ORDER BY i.id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InstitutionFigures {
                    institution_id: r.col("id")?,
                    institution_name: r.col("name")?,
                    booked: r.col("booked")?,
                    cancelled: r.col("cancelled")?,
                    attended: r.col("attended")?,
                    no_show: r.col("no_show")?,
                })
            })
            .collect()
    })
}

/// For tests and the benchmark: every slot whose counter disagrees with its active
/// bookings or passes its capacity, and every (slot, resident) held twice. Empty when the
/// booking invariants hold.
pub async fn invariant_violations(store: &Store) -> Result<Vec<String>> {
    on_pool!(store, |pool| {
        let mut bad = Vec::new();
        let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT s.id, s.capacity, s.booked, \
             (SELECT COUNT(*) FROM booking b WHERE b.slot_id = s.id AND b.status IN ('booked', 'attended', 'no_show')) \
             FROM slot s",
        )
        .fetch_all(pool)
        .await?;
        for (id, capacity, booked, held) in rows {
            if booked != held {
                bad.push(format!(
                    "slot {id}: counter {booked} but {held} bookings hold it"
                ));
            }
            if held > capacity {
                bad.push(format!(
                    "slot {id}: {held} bookings over capacity {capacity}"
                ));
            }
        }
        let twice: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT slot_id, resident_id FROM booking WHERE status = 'booked' \
             GROUP BY slot_id, resident_id HAVING COUNT(*) > 1",
        )
        .fetch_all(pool)
        .await?;
        for (slot, resident) in twice {
            bad.push(format!("slot {slot}: resident {resident} holds it twice"));
        }
        Ok(bad)
    })
}
