//! 双向转诊: referrals between the institutions of a medical community, their events, the
//! green-channel booking and the queues at both ends.
//!
//! The rules (route, reason, green channel, state machine, timeliness) are
//! `yiwei_domain::referral`'s. Every move is one transaction: the state changes with a
//! conditional `UPDATE … WHERE id = $1 AND state = $old`, so two clinicians pressing
//! "accept" and "decline" at once cannot both win; the event row, the side effects
//! (cancelling the green-channel booking of a declined or cancelled referral, creating the
//! downward referral of a return) and the audit row commit with it.
//!
//! The open referral is also a tie (`crate::access`): while it runs, both institutions may
//! open the resident's record, audited with basis `referral`.
//!
//! Writers are `pub(crate)` and called from `crate::access`, which checks and audits.

use chrono::{DateTime, Utc};
use yiwei_domain::booking::Channel;
use yiwei_domain::referral::{
    self as rules, Direction, Event as Move, Party, Reason, Side, State, Timeliness, Urgency,
};

use crate::audit::{self, Event};
use crate::booking::{self, Booker, BookingError, When};
use crate::{Result, Row, Store, StoreError, Tx, on_pool, on_tx};

/// A referral to send.
#[derive(Clone, Debug)]
pub struct NewReferral {
    pub resident_id: i64,
    pub to_institution_id: i64,
    pub urgency: Urgency,
    pub reason: Reason,
    /// 病情摘要: the clinical summary.
    pub summary: String,
    /// Encounters and studies sent along, as ("encounter" | "study", id).
    pub attachments: Vec<(String, i64)>,
    /// Ask for the green channel (绿色通道).
    pub green_channel: bool,
    /// With the green channel: the slot at the receiving end to hold.
    pub slot_id: Option<i64>,
}

/// 转诊单.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Referral {
    pub id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub division_code: String,
    pub from_institution_id: i64,
    pub from_name: String,
    pub to_institution_id: i64,
    pub to_name: String,
    pub direction: Direction,
    pub urgency: Urgency,
    pub reason: Reason,
    pub summary: String,
    pub attachments: String,
    pub green_channel: bool,
    pub state: State,
    pub requested_by: Option<i64>,
    pub requested_at: DateTime<Utc>,
    pub respond_by: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub decline_reason: Option<String>,
    pub return_summary: Option<String>,
    pub booking_id: Option<i64>,
    pub parent_id: Option<i64>,
    pub version: i64,
}

const COLUMNS: &str = "f.id, f.resident_id, r.name AS resident_name, f.division_code, \
     f.from_institution_id, fi.name AS from_name, f.to_institution_id, ti.name AS to_name, \
     f.direction, f.urgency, f.reason, f.summary, f.attachments, f.green_channel, f.state, \
     f.requested_by, f.requested_at, f.respond_by, f.accepted_at, f.closed_at, f.decline_reason, \
     f.return_summary, f.booking_id, f.parent_id, f.version";

const FROM: &str = "FROM referral f JOIN resident r ON r.id = f.resident_id \
     JOIN institution fi ON fi.id = f.from_institution_id JOIN institution ti ON ti.id = f.to_institution_id";

fn bad(what: &str) -> StoreError {
    StoreError::Other(format!("stored referral {what} cannot be read"))
}

fn referral_row(r: &impl Row) -> Result<Referral> {
    let direction: String = r.col("direction")?;
    let urgency: String = r.col("urgency")?;
    let reason: String = r.col("reason")?;
    let state: String = r.col("state")?;
    Ok(Referral {
        id: r.col("id")?,
        resident_id: r.col("resident_id")?,
        resident_name: r.col("resident_name")?,
        division_code: r.col("division_code")?,
        from_institution_id: r.col("from_institution_id")?,
        from_name: r.col("from_name")?,
        to_institution_id: r.col("to_institution_id")?,
        to_name: r.col("to_name")?,
        direction: Direction::parse(&direction).ok_or_else(|| bad("direction"))?,
        urgency: Urgency::parse(&urgency).ok_or_else(|| bad("urgency"))?,
        reason: Reason::parse(&reason).ok_or_else(|| bad("reason"))?,
        summary: r.col("summary")?,
        attachments: r.col("attachments")?,
        green_channel: r.col("green_channel")?,
        state: State::parse(&state).ok_or_else(|| bad("state"))?,
        requested_by: r.col("requested_by")?,
        requested_at: r.col("requested_at")?,
        respond_by: r.col("respond_by")?,
        accepted_at: r.col("accepted_at")?,
        closed_at: r.col("closed_at")?,
        decline_reason: r.col("decline_reason")?,
        return_summary: r.col("return_summary")?,
        booking_id: r.col("booking_id")?,
        parent_id: r.col("parent_id")?,
        version: r.col("version")?,
    })
}

/// The routing facts of an institution.
pub async fn party(store: &Store, institution_id: i64) -> Result<Party> {
    let i = crate::org::get(store, institution_id).await?;
    Ok(Party {
        institution_id: i.id,
        kind: i.kind,
        community_id: i.community_id,
    })
}

/// Whether the resident has an active family-doctor contract (for the green channel).
async fn signed(store: &Store, resident_id: i64) -> Result<bool> {
    let n: i64 = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM contract WHERE resident_id = $1 AND status = 'active'",
        )
        .bind(resident_id)
        .fetch_one(pool)
        .await
    })?;
    Ok(n > 0)
}

/// Check a new referral from `from_institution` against the rules; returns its direction.
pub(crate) async fn check_new(
    store: &Store,
    from_institution: i64,
    new: &NewReferral,
) -> Result<Direction, BookingError> {
    let from = party(store, from_institution).await?;
    let to = match party(store, new.to_institution_id).await {
        Ok(p) => p,
        Err(StoreError::NotFound(_)) => {
            return Err(BookingError::Invalid(
                "接收机构不存在 / the receiving institution does not exist".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let direction = rules::check_route(&from, &to)?;
    if !new.reason.fits(direction) {
        return Err(BookingError::Invalid(format!(
            "转诊原因“{}”不适用于{} / the reason \"{}\" does not fit a {} referral",
            new.reason.name_zh(),
            direction.name_zh(),
            new.reason.name_en(),
            direction.name_en()
        )));
    }
    if new.summary.trim().chars().count() < rules::MIN_NOTE_CHARS {
        return Err(BookingError::Invalid(format!(
            "请填写病情摘要（至少 {} 个字）/ write a clinical summary of at least {} characters",
            rules::MIN_NOTE_CHARS,
            rules::MIN_NOTE_CHARS
        )));
    }
    if new.green_channel
        && !rules::green_channel_allowed(
            direction,
            new.urgency,
            signed(store, new.resident_id).await?,
        )
    {
        return Err(BookingError::Invalid(
            "绿色通道仅用于紧急、急危重症或已签约居民的上转 / the green channel is for urgent, \
             emergency or signed residents' upward referrals"
                .into(),
        ));
    }
    if new.slot_id.is_some() && !new.green_channel {
        return Err(BookingError::Invalid(
            "只有绿色通道转诊可预留号源 / only a green-channel referral holds a slot".into(),
        ));
    }
    if let Some(slot_id) = new.slot_id {
        let slot = booking::slot(store, slot_id).await?;
        if slot.institution_id != new.to_institution_id {
            return Err(BookingError::Invalid(
                "预留的号源须属于接收机构 / the held slot must belong to the receiving institution"
                    .into(),
            ));
        }
    }
    for (kind, _) in &new.attachments {
        if kind != "encounter" && kind != "study" {
            return Err(BookingError::Invalid(
                "附件只能是就诊记录或影像检查 / attach encounters or studies only".into(),
            ));
        }
    }
    Ok(direction)
}

fn attachments_json(list: &[(String, i64)]) -> String {
    serde_json::Value::Array(
        list.iter()
            .map(|(t, id)| serde_json::json!({"type": t, "id": id}))
            .collect(),
    )
    .to_string()
}

#[expect(
    clippy::too_many_arguments,
    reason = "an event row is these facts; a struct would only rename them"
)]
async fn insert_event(
    tx: &mut Tx<'_>,
    referral_id: i64,
    event: &str,
    from: Option<State>,
    to: State,
    note: Option<&str>,
    by: Option<i64>,
    at: DateTime<Utc>,
) -> Result<()> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO referral_event (referral_id, event, from_state, to_state, note, by_user, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(referral_id)
        .bind(event)
        .bind(from.map(State::as_str))
        .bind(to.as_str())
        .bind(note)
        .bind(by)
        .bind(at)
        .execute(&mut *conn)
        .await?;
        Ok(())
    })
}

/// Insert a referral in `requested` inside `tx`; returns its id.
#[expect(
    clippy::too_many_arguments,
    reason = "a referral row is these facts; a struct would only rename them"
)]
async fn insert_in(
    tx: &mut Tx<'_>,
    new: &NewReferral,
    division: &str,
    from_institution: i64,
    direction: Direction,
    by: Option<i64>,
    parent: Option<i64>,
    when: When,
) -> Result<i64, BookingError> {
    let respond_by = Timeliness::default().respond_by(new.urgency, when.now);
    let id: i64 = on_tx!(&mut *tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO referral (resident_id, division_code, from_institution_id, to_institution_id, \
             direction, urgency, reason, summary, attachments, green_channel, state, requested_by, \
             requested_at, respond_by, parent_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'requested', $11, $12, $13, $14) RETURNING id",
        )
        .bind(new.resident_id)
        .bind(division)
        .bind(from_institution)
        .bind(new.to_institution_id)
        .bind(direction.as_str())
        .bind(new.urgency.as_str())
        .bind(new.reason.as_str())
        .bind(new.summary.trim())
        .bind(attachments_json(&new.attachments))
        .bind(new.green_channel)
        .bind(by)
        .bind(when.now)
        .bind(respond_by)
        .bind(parent)
        .fetch_one(&mut *conn)
        .await?
    });
    insert_event(
        tx,
        id,
        "request",
        None,
        State::Requested,
        None,
        by,
        when.now,
    )
    .await?;
    Ok(id)
}

/// Send a checked referral (see [`check_new`]); with the green channel and a slot, the
/// slot is held in the same transaction.
pub(crate) async fn send(
    store: &Store,
    from_institution: i64,
    direction: Direction,
    new: &NewReferral,
    by: Option<i64>,
    when: When,
    event: Event,
) -> Result<i64, BookingError> {
    let scope = crate::resident::scope(store, new.resident_id).await?;
    let division = scope.division.as_str().to_owned();
    let mut tx = store.begin().await?;
    let id = insert_in(
        &mut tx,
        new,
        &division,
        from_institution,
        direction,
        by,
        None,
        when,
    )
    .await?;
    if let Some(slot_id) = new.slot_id {
        let who = Booker {
            resident_id: new.resident_id,
            division: &division,
            channel: Channel::GreenChannel,
            by_user: by,
            moved_from: None,
        };
        let booking = booking::book_in(&mut tx, slot_id, &who, when).await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query("UPDATE referral SET booking_id = $2 WHERE id = $1")
                .bind(id)
                .bind(booking)
                .execute(&mut *conn)
                .await?;
        });
    }
    let event = event.object("referral", id).resident(new.resident_id);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(id)
}

/// Apply `mv` from `side` to referral `id`; returns the new state (and, for a return, the
/// id of the downward referral it created).
pub(crate) async fn apply(
    store: &Store,
    id: i64,
    mv: &Move,
    side: Side,
    by: Option<i64>,
    when: When,
    event: Event,
) -> Result<(State, Option<i64>), BookingError> {
    let current = get(store, id).await?;
    let next = rules::transition(current.state, current.direction, mv, side)?;
    let mut tx = store.begin().await?;
    let (decline, summary) = match mv {
        Move::Decline { reason } => (Some(reason.trim()), None),
        Move::ReturnDown { summary } => (None, Some(summary.trim())),
        _ => (None, None),
    };
    let accepted_at = (next == State::Accepted).then_some(when.now);
    let closed_at = (!next.is_open()).then_some(when.now);
    let n = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE referral SET state = $3, version = version + 1, \
             accepted_at = COALESCE($4, accepted_at), closed_at = COALESCE($5, closed_at), \
             decline_reason = COALESCE($6, decline_reason), return_summary = COALESCE($7, return_summary) \
             WHERE id = $1 AND state = $2",
        )
        .bind(id)
        .bind(current.state.as_str())
        .bind(next.as_str())
        .bind(accepted_at)
        .bind(closed_at)
        .bind(decline)
        .bind(summary)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    if n == 0 {
        // Someone moved it first; nothing was changed here.
        return Err(BookingError::Invalid(
            "该转诊刚被他人更改，请刷新后再试 / someone changed this referral just now; reload and try again"
                .into(),
        ));
    }
    insert_event(
        &mut tx,
        id,
        mv.as_str(),
        Some(current.state),
        next,
        decline.or(summary),
        by,
        when.now,
    )
    .await?;
    // A declined, cancelled or expired referral gives its held seat back.
    if matches!(next, State::Declined | State::Cancelled | State::Expired)
        && let Some(b) = current.booking_id
    {
        let status: String = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar("SELECT status FROM booking WHERE id = $1")
                .bind(b)
                .fetch_one(&mut *conn)
                .await?
        });
        let start = booking::slot(store, booking::get(store, b).await?.slot_id)
            .await?
            .starts_at;
        if status == "booked" && start > when.now {
            booking::cancel_in(&mut tx, b, Channel::Staff, "referral closed", when, true).await?;
        }
    }
    // Arrival uses the held seat: the green-channel booking is attended.
    if next == State::Arrived
        && let Some(b) = current.booking_id
    {
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE booking SET status = 'attended', updated_at = $2, version = version + 1 \
                 WHERE id = $1 AND status = 'booked'",
            )
            .bind(b)
            .bind(when.now)
            .execute(&mut *conn)
            .await?;
        });
    }
    let mut created = None;
    if next == State::Returned {
        let down = NewReferral {
            resident_id: current.resident_id,
            to_institution_id: current.from_institution_id,
            urgency: Urgency::Routine,
            reason: Reason::ChronicFollowUp,
            summary: summary.unwrap_or_default().to_owned(),
            attachments: Vec::new(),
            green_channel: false,
            slot_id: None,
        };
        created = Some(
            insert_in(
                &mut tx,
                &down,
                &current.division_code,
                current.to_institution_id,
                Direction::Down,
                by,
                Some(id),
                when,
            )
            .await?,
        );
    }
    let event = event.object("referral", id).resident(current.resident_id);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok((next, created))
}

/// One referral with names. `pub(crate)`: read through `crate::access`.
pub(crate) async fn get(store: &Store, id: i64) -> Result<Referral> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE f.id = $1");
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("referral"))?;
        referral_row(&row)
    })
}

/// The resident and both institutions of a referral: no personal data, for access.
pub async fn parties_of(store: &Store, id: i64) -> Result<(i64, i64, i64)> {
    on_pool!(store, |pool| {
        sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT resident_id, from_institution_id, to_institution_id FROM referral WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or(StoreError::NotFound("referral"))
    })
}

/// Which referrals to list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Received by this institution (incoming queue).
    pub to_institution_id: Option<i64>,
    /// Sent by this institution (outgoing queue).
    pub from_institution_id: Option<i64>,
    pub resident_id: Option<i64>,
    /// Only open referrals (requested, accepted, arrived).
    pub open_only: bool,
    pub state: Option<State>,
}

/// Referrals, most urgent and oldest first for open queues, with the total.
pub(crate) async fn list(
    store: &Store,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Referral>, i64)> {
    let filter = "($1 IS NULL OR f.to_institution_id = $1) AND ($2 IS NULL OR f.from_institution_id = $2) \
         AND ($3 IS NULL OR f.resident_id = $3) AND ($4 IS NULL OR f.state = $4) \
         AND ($5 = FALSE OR f.state IN ('requested', 'accepted', 'arrived'))";
    let sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE {filter} ORDER BY \
         CASE f.urgency WHEN 'emergency' THEN 0 WHEN 'urgent' THEN 1 ELSE 2 END, f.requested_at, f.id \
         LIMIT $6 OFFSET $7"
    );
    let count = format!("SELECT COUNT(*) FROM referral f WHERE {filter}");
    let state = f.state.map(State::as_str);
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(f.to_institution_id)
            .bind(f.from_institution_id)
            .bind(f.resident_id)
            .bind(state)
            .bind(f.open_only)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count.as_str()))
            .bind(f.to_institution_id)
            .bind(f.from_institution_id)
            .bind(f.resident_id)
            .bind(state)
            .bind(f.open_only)
            .fetch_one(pool)
            .await?;
        let list = rows.iter().map(referral_row).collect::<Result<Vec<_>>>()?;
        Ok((list, total))
    })
}

/// Whether an open referral ties the institution to the resident (either end).
pub(crate) async fn institution_holds(
    store: &Store,
    institution_id: i64,
    resident_id: i64,
) -> Result<bool> {
    let n: i64 = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM referral WHERE resident_id = $2 \
             AND (to_institution_id = $1 OR from_institution_id = $1) \
             AND state IN ('requested', 'accepted', 'arrived')",
        )
        .bind(institution_id)
        .bind(resident_id)
        .fetch_one(pool)
        .await
    })?;
    Ok(n > 0)
}

/// One step of a referral's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub event: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub note: Option<String>,
    pub by_user: Option<i64>,
    pub at: DateTime<Utc>,
}

/// The history of a referral, oldest first. `pub(crate)`: notes may be clinical.
pub(crate) async fn history(store: &Store, id: i64) -> Result<Vec<Step>> {
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT event, from_state, to_state, note, by_user, at FROM referral_event \
             WHERE referral_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Step {
                    event: r.col("event")?,
                    from_state: r.col("from_state")?,
                    to_state: r.col("to_state")?,
                    note: r.col("note")?,
                    by_user: r.col("by_user")?,
                    at: r.col("at")?,
                })
            })
            .collect()
    })
}

/// (id, state, requested at, accepted at).
type OpenReferral = (i64, String, DateTime<Utc>, Option<DateTime<Utc>>);

/// Expire the referrals that waited too long (the timeliness job); returns how many.
pub async fn expire_due(store: &Store, when: When, t: &Timeliness) -> Result<u64, BookingError> {
    let open: Vec<OpenReferral> = on_pool!(store, |pool| {
        sqlx::query_as(
            "SELECT id, state, requested_at, accepted_at FROM referral \
             WHERE state IN ('requested', 'accepted') ORDER BY id",
        )
        .fetch_all(pool)
        .await
    })?;
    let mut n = 0;
    for (id, state, requested_at, accepted_at) in open {
        let state = State::parse(&state).ok_or_else(|| bad("state"))?;
        if t.should_expire(state, requested_at, accepted_at, when.now) {
            let event = Event::new(audit::Who::default(), audit::Action::Update).basis("system");
            match apply(store, id, &Move::Expire, Side::System, None, when, event).await {
                Ok(_) => n += 1,
                // Moved by someone else meanwhile: nothing to expire.
                Err(BookingError::Invalid(_)) | Err(BookingError::Transition(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(n)
}

/// Referral figures over a period: counts by direction and state (aggregates, no names).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    pub up: i64,
    pub down: i64,
    pub up_completed: i64,
    pub down_completed: i64,
    pub declined: i64,
    pub open: i64,
    pub overdue: i64,
}

/// Referral figures for referrals requested in `[from, to)`.
pub async fn figures(
    store: &Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Figures> {
    let rows: Vec<(String, String, String, DateTime<Utc>)> = on_pool!(store, |pool| {
        sqlx::query_as(
            "SELECT direction, state, urgency, requested_at FROM referral \
             WHERE requested_at >= $1 AND requested_at < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await
    })?;
    let t = Timeliness::default();
    let mut f = Figures::default();
    for (direction, state, urgency, at) in rows {
        let state = State::parse(&state).ok_or_else(|| bad("state"))?;
        let urgency = Urgency::parse(&urgency).ok_or_else(|| bad("urgency"))?;
        let up = direction == "up";
        let done = matches!(state, State::Completed | State::Returned);
        if up {
            f.up += 1;
            f.up_completed += i64::from(done);
        } else {
            f.down += 1;
            f.down_completed += i64::from(done);
        }
        f.declined += i64::from(state == State::Declined);
        f.open += i64::from(state.is_open());
        f.overdue += i64::from(t.is_overdue(state, urgency, at, now));
    }
    Ok(f)
}
