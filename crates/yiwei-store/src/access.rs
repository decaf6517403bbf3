//! The access check on personal records: every read, reveal and break-glass goes through
//! here, is decided by `yiwei_domain::access`, and is written to the audit log, allowed or
//! not.
//!
//! Ties (contract, referral, booking, study) extend a user's reach beyond their subtree;
//! [`ties`] is where each capability adds its query. Today it finds family-doctor
//! contracts (an active, unexpired contract held by the viewer's institution), open
//! referrals to or from the viewer's institution (for the life of the referral) and active
//! bookings at it, and studies done at or shared with it (`crate::imaging`).

use chrono::Duration;
use yiwei_domain::access::{self as rules, Basis, Refusal, Tie};
use yiwei_domain::division::DivisionCode;

use crate::audit::{self, Action, Event};
use crate::crypto::Field;
use crate::resident::{self, Resident};
use crate::user::User;
use crate::{Result, Store, StoreError, on_pool};

pub mod imaging;
pub mod indicators;
pub mod programmes;
pub mod recognition;
// cost alerts (防返贫监测预警)
pub mod cost_alert;

/// Who is asking, and from where.
#[derive(Clone, Debug)]
pub struct Viewer<'a> {
    pub user: &'a User,
    pub remote_addr: Option<String>,
}

/// Why an access failed.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(
        "a break-glass reason needs at least {} characters",
        rules::BREAK_GLASS_MIN_REASON_CHARS
    )]
    ReasonTooShort,
    #[error("your role cannot use break-glass")]
    NoBreakGlass,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether the viewer holds a live break-glass grant for the resident.
async fn has_break_glass(store: &Store, user_id: i64, resident_id: i64) -> Result<bool> {
    let now = crate::now();
    let n: i64 = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM break_glass WHERE user_id = $1 AND resident_id = $2 AND expires_at > $3",
        )
        .bind(user_id)
        .bind(resident_id)
        .bind(now)
        .fetch_one(pool)
        .await
    })?;
    Ok(n > 0)
}

/// The first tie of `institution_id` to the resident, in this order: a live contract, a
/// live referral, a booking, a study done or shared there (`Tie`); the ones after the
/// first found are not asked.
async fn first_tie(
    store: &Store,
    institution_id: Option<i64>,
    resident_id: i64,
) -> Result<Option<Tie>> {
    let Some(institution_id) = institution_id else {
        return Ok(None);
    };
    let today = crate::now().date_naive();
    if crate::contract::institution_holds(store, institution_id, resident_id, today).await? {
        return Ok(Some(Tie::Contract));
    }
    if crate::referral::institution_holds(store, institution_id, resident_id).await? {
        return Ok(Some(Tie::Referral));
    }
    if crate::booking::institution_holds(store, institution_id, resident_id).await? {
        return Ok(Some(Tie::Booking));
    }
    if crate::imaging::institution_holds(store, institution_id, resident_id).await? {
        return Ok(Some(Tie::Study));
    }
    Ok(None)
}

/// `rules::decide_personal_read` over the facts it needs, asked for lazily: the record's
/// scope first; the ties and break-glass only when the scope alone does not allow the
/// read, since an allowed answer from the scope (the resident's own record, a record
/// inside the reach) is the same whatever the ties and grants are. Most reads are inside
/// the reach, so most decisions are one query instead of six.
async fn decision(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
) -> Result<std::result::Result<Basis, Refusal>> {
    let scope = resident::scope(store, resident_id).await?;
    let actor = viewer.user.actor();
    let quick = rules::decide_personal_read(&actor, &scope, &[], false);
    if quick.is_ok() || actor.role == rules::Role::Resident {
        return Ok(quick);
    }
    if actor.role.reads_personal_records()
        && let Some(tie) = first_tie(store, viewer.user.institution_id, resident_id).await?
    {
        return Ok(rules::decide_personal_read(&actor, &scope, &[tie], false));
    }
    let glass = has_break_glass(store, viewer.user.id, resident_id).await?;
    Ok(rules::decide_personal_read(&actor, &scope, &[], glass))
}

/// Decide and audit one access of `action` to `resident_id`.
async fn check(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    action: Action,
    what: &str,
) -> Result<Basis, AccessError> {
    let decision = decision(store, viewer, resident_id).await?;
    let event = match decision {
        Ok(basis) => Event::new(viewer.user.who(), action).basis(basis.as_str()),
        Err(refusal) => Event::new(viewer.user.who(), Action::Denied)
            .outcome("denied")
            .basis(refusal_code(refusal))
            .reason(action.as_str()),
    }
    .object(what, resident_id)
    .resident(resident_id)
    .from_addr(viewer.remote_addr.clone());
    audit::append(store, &event).await?;
    Ok(decision?)
}

/// The list rule ([`rules::decide_list_read`]) on `root`, as the audit event that records
/// it: `action` on the subtree, or a denial naming the refusal. The caller names the object.
fn list_decision(
    viewer: &Viewer<'_>,
    root: &DivisionCode,
    action: Action,
) -> (Event, Option<Refusal>) {
    let refusal = rules::decide_list_read(&viewer.user.actor(), root).err();
    let event = match refusal {
        None => Event::new(viewer.user.who(), action).basis("subtree"),
        Some(r) => Event::new(viewer.user.who(), Action::Denied)
            .outcome("denied")
            .basis(refusal_code(r)),
    }
    .from_addr(viewer.remote_addr.clone());
    (event, refusal)
}

/// Append a list read's event, allowed or not, and turn its refusal into the error.
async fn audit_list(
    store: &Store,
    event: &Event,
    refusal: Option<Refusal>,
) -> Result<(), AccessError> {
    audit::append(store, event).await?;
    match refusal {
        Some(r) => Err(r.into()),
        None => Ok(()),
    }
}

fn refusal_code(r: Refusal) -> &'static str {
    match r {
        Refusal::OutsideReach => "outside_reach",
        Refusal::AggregateRole => "aggregate_role",
        Refusal::NotOwnRecord => "not_own_record",
        Refusal::OtherInstitution => "other_institution",
    }
}

/// Open a resident's record: checked and audited.
pub async fn open_resident(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
) -> Result<(Resident, Basis), AccessError> {
    let basis = check(store, viewer, resident_id, Action::Read, "resident").await?;
    Ok((resident::get(store, resident_id).await?, basis))
}

/// Reveal a masked identifier of a resident: checked and audited as `reveal`.
pub async fn reveal(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    field: Field,
) -> Result<Option<String>, AccessError> {
    let what = match field {
        Field::IdCard => "resident.id_card",
        Field::Phone => "resident.phone",
    };
    check(store, viewer, resident_id, Action::Reveal, what).await?;
    Ok(resident::secret(store, resident_id, field).await?)
}

/// Find a resident by ID-card number (an exact, hashed lookup) and open the record.
pub async fn find_by_id_card(
    store: &Store,
    viewer: &Viewer<'_>,
    id_card: &str,
) -> Result<Option<(Resident, Basis)>, AccessError> {
    match resident::id_by_id_card(store, id_card).await? {
        Some(id) => open_resident(store, viewer, id).await.map(Some),
        None => Ok(None),
    }
}

/// List the residents of a division inside the viewer's reach, audited as one read of the
/// list. Aggregate roles and residents are refused: lists are personal data.
pub async fn list_residents(
    store: &Store,
    viewer: &Viewer<'_>,
    root: &DivisionCode,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Resident>, i64), AccessError> {
    let (event, refusal) = list_decision(viewer, root, Action::Read);
    let event = match refusal {
        Some(_) => event.reason("read"),
        None => event,
    };
    audit_list(
        store,
        &event.object("resident_list", root.as_str()),
        refusal,
    )
    .await?;
    Ok(resident::list_within(store, root, limit, offset).await?)
}

/// Open break-glass access to one resident for `lasts`, with a reason. Audited and kept
/// for review.
pub async fn break_glass(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    reason: &str,
    lasts: Duration,
) -> Result<(), AccessError> {
    if !viewer.user.role.may_break_glass() {
        return Err(AccessError::NoBreakGlass);
    }
    let reason = rules::break_glass_reason(reason).ok_or(AccessError::ReasonTooShort)?;
    resident::scope(store, resident_id).await?;
    let now = crate::now();
    let mut tx = store.begin().await?;
    crate::on_tx!(&mut tx, |conn| {
        sqlx::query(
            "INSERT INTO break_glass (user_id, resident_id, reason, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(viewer.user.id)
        .bind(resident_id)
        .bind(reason)
        .bind(now)
        .bind(now + lasts)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })
    .map_err(StoreError::from)?;
    let event = Event::new(viewer.user.who(), Action::BreakGlass)
        .object("resident", resident_id)
        .resident(resident_id)
        .basis("break_glass")
        .reason(reason)
        .from_addr(viewer.remote_addr.clone());
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(())
}

/// A break-glass grant, for the review list.
#[derive(Clone, Debug)]
pub struct Grant {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub resident_id: i64,
    pub reason: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub reviewed: bool,
}

/// Break-glass grants, unreviewed first, newest first.
pub async fn grants(store: &Store, limit: i64, offset: i64) -> Result<Vec<Grant>> {
    use crate::Row;
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT b.id, b.user_id, u.username, b.resident_id, b.reason, b.created_at, b.expires_at, \
             b.reviewed_at IS NOT NULL AS reviewed FROM break_glass b JOIN app_user u ON u.id = b.user_id \
             ORDER BY reviewed, b.id DESC LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Grant {
                    id: r.col("id")?,
                    user_id: r.col("user_id")?,
                    username: r.col("username")?,
                    resident_id: r.col("resident_id")?,
                    reason: r.col("reason")?,
                    created_at: r.col("created_at")?,
                    expires_at: r.col("expires_at")?,
                    reviewed: r.col("reviewed")?,
                })
            })
            .collect()
    })
}

/// Search residents inside the viewer's reach (`root` defaults to the reach), audited as
/// one read of the result list. Aggregate roles and residents are refused.
pub async fn search_residents(
    store: &Store,
    viewer: &Viewer<'_>,
    root: &DivisionCode,
    query: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Resident>, i64), AccessError> {
    let (event, refusal) = list_decision(viewer, root, Action::Read);
    let parsed = resident::interpret(query);
    let kind = match &parsed {
        resident::Query::IdCard(_) => "id_card",
        resident::Query::RecordNo(_) => "record_no",
        resident::Query::Phone(_) => "phone",
        resident::Query::Division(_) => "division",
        resident::Query::Name(_) => "name",
    };
    // The query itself may be personal data (a name, a number): only its kind is logged.
    let event = event
        .object("resident_search", root.as_str())
        .reason(&format!("search by {kind}"));
    audit::append(store, &event).await?;
    if let Some(r) = refusal {
        return Err(r.into());
    }
    Ok(resident::search(store, root, &parsed, limit, offset).await?)
}

/// Register a new record through the master patient index, if the viewer may keep records
/// in its village. Audited by [`crate::empi::register`].
pub async fn register_resident(
    store: &Store,
    viewer: &Viewer<'_>,
    new: &resident::NewResident,
) -> Result<crate::empi::Outcome, AccessError> {
    let actor = viewer.user.actor();
    if actor.role == rules::Role::Resident {
        return Err(Refusal::NotOwnRecord.into());
    }
    if !actor.role.reads_personal_records() {
        return Err(Refusal::AggregateRole.into());
    }
    if !actor.reach.contains(&new.division) {
        return Err(Refusal::OutsideReach.into());
    }
    let who = viewer.user.who();
    Ok(crate::empi::register(store, new, &who).await?)
}

/// Change a record the viewer may open, and whose new village is inside their reach.
pub async fn update_resident(
    store: &Store,
    viewer: &Viewer<'_>,
    id: i64,
    expected_version: i64,
    new: &resident::NewResident,
) -> Result<i64, AccessError> {
    check(store, viewer, id, Action::Read, "resident").await?;
    let actor = viewer.user.actor();
    if actor.role == rules::Role::Resident || !actor.role.reads_personal_records() {
        return Err(Refusal::AggregateRole.into());
    }
    if !actor.reach.contains(&new.division) {
        return Err(Refusal::OutsideReach.into());
    }
    Ok(resident::update(store, id, expected_version, new, &viewer.user.who()).await?)
}

// Encounters and health exams (就诊/服务记录, 健康体检表): written and read only through
// the functions below. Unlike [`check`], the writers do not audit an allowed decision
// here: the store appends the `create` inside the write's own transaction, so the audit
// row and the record commit or roll back together, and each write leaves one row.

/// Decide an access to `resident_id` without auditing it; the caller writes the row.
async fn decide(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
) -> Result<std::result::Result<Basis, Refusal>> {
    decision(store, viewer, resident_id).await
}

/// Decide and audit a read of one object about `resident_id` (an encounter, a timeline).
async fn read_checked(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    object_type: &str,
    object_id: i64,
) -> Result<Basis, AccessError> {
    let decision = decide(store, viewer, resident_id).await?;
    let event = match decision {
        Ok(basis) => Event::new(viewer.user.who(), Action::Read).basis(basis.as_str()),
        Err(refusal) => Event::new(viewer.user.who(), Action::Denied)
            .outcome("denied")
            .basis(refusal_code(refusal))
            .reason(Action::Read.as_str()),
    }
    .object(object_type, object_id)
    .resident(resident_id)
    .from_addr(viewer.remote_addr.clone());
    audit::append(store, &event).await?;
    Ok(decision?)
}

/// Decide a write of a clinical record about `resident_id`. The viewer must be allowed
/// to open the record and hold a clinical role: residents and aggregate roles write no
/// clinical records, break-glass or not. A refusal is audited here; for an allowed write
/// this returns the `create` event, which the store completes and appends with the write.
async fn write_checked(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
) -> Result<Event, AccessError> {
    let role = viewer.user.role;
    let decision = if role == rules::Role::Resident || !role.reads_personal_records() {
        Err(Refusal::AggregateRole)
    } else {
        decide(store, viewer, resident_id).await?
    };
    match decision {
        Ok(basis) => Ok(Event::new(viewer.user.who(), Action::Create)
            .basis(basis.as_str())
            .from_addr(viewer.remote_addr.clone())),
        Err(refusal) => {
            let event = Event::new(viewer.user.who(), Action::Denied)
                .outcome("denied")
                .basis(refusal_code(refusal))
                .reason(Action::Create.as_str())
                .object("encounter", "new")
                .resident(resident_id)
                .from_addr(viewer.remote_addr.clone());
            audit::append(store, &event).await?;
            Err(refusal.into())
        }
    }
}

/// The institution an encounter took place at: the one given, else the author's.
fn encounter_institution(viewer: &Viewer<'_>, given: Option<i64>) -> Result<i64, AccessError> {
    given.or(viewer.user.institution_id).ok_or_else(|| {
        StoreError::Invalid(
            "say at which institution the encounter took place: your account belongs to none"
                .into(),
        )
        .into()
    })
}

/// Record a health exam (健康体检表) on a record the viewer may open; audited as `create`
/// of the encounter in the same transaction. Figures outside their plausible ranges are
/// refused with `StoreError::Invalid` naming each.
pub async fn record_exam(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    new: &crate::encounter::NewExam,
) -> Result<i64, AccessError> {
    let event = write_checked(store, viewer, resident_id).await?;
    let institution = encounter_institution(viewer, new.institution_id)?;
    Ok(crate::encounter::record_exam(
        store,
        resident_id,
        Some(viewer.user.id),
        institution,
        new,
        event,
    )
    .await?)
}

/// Record an encounter summary (outpatient, inpatient, follow-up, home visit, other) on a
/// record the viewer may open; audited like [`record_exam`].
pub async fn record_encounter(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    new: &crate::encounter::NewEncounter,
) -> Result<i64, AccessError> {
    let event = write_checked(store, viewer, resident_id).await?;
    let institution = encounter_institution(viewer, new.institution_id)?;
    Ok(crate::encounter::record_encounter(
        store,
        resident_id,
        Some(viewer.user.id),
        institution,
        new,
        event,
    )
    .await?)
}

/// A resident's encounters from every institution, newest first, with the exam figures:
/// checked and audited as one read of the timeline.
pub async fn timeline(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    filter: &crate::encounter::TimelineFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<crate::encounter::Encounter>, i64), AccessError> {
    read_checked(store, viewer, resident_id, "timeline", resident_id).await?;
    Ok(crate::encounter::timeline(store, resident_id, filter, limit, offset).await?)
}

/// Open one encounter: checked against its resident and audited as a read of it.
pub async fn open_encounter(
    store: &Store,
    viewer: &Viewer<'_>,
    encounter_id: i64,
) -> Result<crate::encounter::Encounter, AccessError> {
    let resident_id = crate::encounter::resident_of(store, encounter_id).await?;
    read_checked(store, viewer, resident_id, "encounter", encounter_id).await?;
    Ok(crate::encounter::get(store, encounter_id).await?)
}

/// Open one health exam with all its sections: checked and audited like
/// [`open_encounter`]; `NotFound` when the encounter is not an exam.
pub async fn open_exam(
    store: &Store,
    viewer: &Viewer<'_>,
    encounter_id: i64,
) -> Result<crate::encounter::Exam, AccessError> {
    let resident_id = crate::encounter::resident_of(store, encounter_id).await?;
    read_checked(store, viewer, resident_id, "encounter", encounter_id).await?;
    Ok(crate::encounter::get_exam(store, encounter_id).await?)
}

/// A correction of what an institution wrote is for that institution's staff only: the
/// write's `event` as an `update`, or the refusal (audited) for anyone else, even when the
/// resident is in their reach.
async fn own_institution(
    store: &Store,
    viewer: &Viewer<'_>,
    event: Event,
    written_by: i64,
    object_type: &str,
    object_id: i64,
    resident_id: i64,
) -> Result<Event, AccessError> {
    if viewer.user.institution_id == Some(written_by) {
        return Ok(Event {
            action: Action::Update,
            ..event
        });
    }
    let refusal = Refusal::OtherInstitution;
    audit::append(
        store,
        &Event::new(viewer.user.who(), Action::Denied)
            .outcome("denied")
            .basis(refusal_code(refusal))
            .reason(Action::Update.as_str())
            .object(object_type, object_id)
            .resident(resident_id)
            .from_addr(viewer.remote_addr.clone()),
    )
    .await?;
    Err(refusal.into())
}

/// Correct a health exam (更正): staff of the institution that recorded it, who may still
/// write to the resident's record; the replaced version is kept with the reason and the
/// change audited as `update`. Returns the new version.
pub async fn correct_exam(
    store: &Store,
    viewer: &Viewer<'_>,
    encounter_id: i64,
    expected_version: i64,
    new: &crate::encounter::NewExam,
    reason: &str,
) -> Result<i64, AccessError> {
    let resident_id = crate::encounter::resident_of(store, encounter_id).await?;
    let event = write_checked(store, viewer, resident_id).await?;
    let by = crate::encounter::institution_of(store, encounter_id).await?;
    let event = own_institution(
        store,
        viewer,
        event,
        by,
        "encounter",
        encounter_id,
        resident_id,
    )
    .await?;
    Ok(crate::encounter::correct_exam(
        store,
        encounter_id,
        expected_version,
        new,
        reason,
        Some(viewer.user.id),
        event,
    )
    .await?)
}

/// Void an encounter entered in error (作废), with a reason: staff of the institution that
/// recorded it; it stays readable, marked, and leaves the timeline and the figures.
pub async fn void_encounter(
    store: &Store,
    viewer: &Viewer<'_>,
    encounter_id: i64,
    expected_version: i64,
    reason: &str,
) -> Result<(), AccessError> {
    let resident_id = crate::encounter::resident_of(store, encounter_id).await?;
    let event = write_checked(store, viewer, resident_id).await?;
    let by = crate::encounter::institution_of(store, encounter_id).await?;
    let event = own_institution(
        store,
        viewer,
        event,
        by,
        "encounter",
        encounter_id,
        resident_id,
    )
    .await?;
    Ok(crate::encounter::void(
        store,
        encounter_id,
        expected_version,
        reason,
        Some(viewer.user.id),
        event,
    )
    .await?)
}

/// The corrections of an exam (the versions it replaced), checked and audited as a read.
pub async fn exam_revisions(
    store: &Store,
    viewer: &Viewer<'_>,
    encounter_id: i64,
) -> Result<Vec<crate::encounter::Revision>, AccessError> {
    let resident_id = crate::encounter::resident_of(store, encounter_id).await?;
    read_checked(store, viewer, resident_id, "exam_revision", encounter_id).await?;
    Ok(crate::encounter::revisions(store, encounter_id).await?)
}

/// The EHR-quality figures of a division and its fix-it list (records with problems),
/// for a viewer who may read personal records there; audited as one read of the list.
pub async fn quality_worklist(
    store: &Store,
    viewer: &Viewer<'_>,
    root: &DivisionCode,
    today: chrono::NaiveDate,
    keep: usize,
) -> Result<(crate::quality::Figures, Vec<crate::quality::Flagged>), AccessError> {
    let (event, refusal) = list_decision(viewer, root, Action::Read);
    audit_list(store, &event.object("ehr_quality", root.as_str()), refusal).await?;
    Ok(crate::quality::scan(store, root, today, keep).await?)
}

/// The EHR-quality figures only (no names): for aggregate roles too, inside their reach.
pub async fn quality_figures(
    store: &Store,
    viewer: &Viewer<'_>,
    root: &DivisionCode,
    today: chrono::NaiveDate,
) -> Result<crate::quality::Figures, AccessError> {
    if !rules::may_see_aggregate(&viewer.user.actor(), root) {
        return Err(Refusal::OutsideReach.into());
    }
    Ok(crate::quality::scan(store, root, today, 0).await?.0)
}

// Family-doctor contracts (家庭医生签约, `crate::contract`): signed, renewed, transferred,
// terminated and fulfilled only through the functions below. A change needs a clinical role
// that may open the record (reach, a tie, or break-glass) and, except for recording a
// delivered service, acting for the contract's team: being a member of it or staff of its
// institution. As with encounters, the allowed change is audited inside the store's write
// transaction and a refusal here.

/// Decide a contract change about `resident_id` by a viewer acting for one of `teams`
/// (none: any clinical writer). Returns the event the store completes and appends.
async fn contract_write_checked(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    teams: &[i64],
    object_id: &str,
) -> Result<Event, AccessError> {
    let role = viewer.user.role;
    let decision = if role == rules::Role::Resident || !role.reads_personal_records() {
        Err(Refusal::AggregateRole)
    } else {
        decide(store, viewer, resident_id).await?
    };
    let denied = |basis: &str| {
        Event::new(viewer.user.who(), Action::Denied)
            .outcome("denied")
            .basis(basis)
            .reason(Action::Update.as_str())
            .object("contract", object_id)
            .resident(resident_id)
            .from_addr(viewer.remote_addr.clone())
    };
    let basis = match decision {
        Ok(basis) => basis,
        Err(refusal) => {
            audit::append(store, &denied(refusal_code(refusal))).await?;
            return Err(refusal.into());
        }
    };
    let mut acts = teams.is_empty();
    for team in teams {
        if crate::contract::acts_for_team(store, *team, viewer.user.id, viewer.user.institution_id)
            .await?
        {
            acts = true;
            break;
        }
    }
    if !acts {
        audit::append(store, &denied("not_in_team")).await?;
        return Err(StoreError::Invalid(
            "only a member of the team, or staff of its institution, signs and changes its contracts"
                .into(),
        )
        .into());
    }
    Ok(Event::new(viewer.user.who(), Action::Create)
        .basis(basis.as_str())
        .from_addr(viewer.remote_addr.clone()))
}

/// Sign a family-doctor contract for a resident the viewer may open, for a team they act
/// for; audited as `create` of the contract in the same transaction.
pub async fn sign_contract(
    store: &Store,
    viewer: &Viewer<'_>,
    new: &crate::contract::NewContract,
    period: &yiwei_domain::contract::PeriodRules,
) -> Result<i64, AccessError> {
    let event =
        contract_write_checked(store, viewer, new.resident_id, &[new.team_id], "new").await?;
    Ok(crate::contract::sign(store, new, period, Some(viewer.user.id), event).await?)
}

/// Renew an active contract (续约); returns the new contract's id.
pub async fn renew_contract(
    store: &Store,
    viewer: &Viewer<'_>,
    id: i64,
    expected_version: i64,
    renewal: &crate::contract::Renewal,
    period: &yiwei_domain::contract::PeriodRules,
) -> Result<i64, AccessError> {
    let resident_id = crate::contract::resident_of(store, id).await?;
    let team = crate::contract::team_of(store, id).await?;
    let event =
        contract_write_checked(store, viewer, resident_id, &[team], &id.to_string()).await?;
    Ok(crate::contract::renew(
        store,
        id,
        expected_version,
        renewal,
        period,
        Some(viewer.user.id),
        event,
    )
    .await?)
}

/// Transfer an active contract to another team or doctor (转签), by staff of either team;
/// returns the new contract's id.
pub async fn transfer_contract(
    store: &Store,
    viewer: &Viewer<'_>,
    id: i64,
    expected_version: i64,
    transfer: &crate::contract::Transfer,
) -> Result<i64, AccessError> {
    let resident_id = crate::contract::resident_of(store, id).await?;
    let team = crate::contract::team_of(store, id).await?;
    let event = contract_write_checked(
        store,
        viewer,
        resident_id,
        &[team, transfer.team_id],
        &id.to_string(),
    )
    .await?;
    Ok(crate::contract::transfer(
        store,
        id,
        expected_version,
        transfer,
        Some(viewer.user.id),
        event,
    )
    .await?)
}

/// Terminate an active contract (解约) with a reason; `on` is its last day in force.
pub async fn terminate_contract(
    store: &Store,
    viewer: &Viewer<'_>,
    id: i64,
    expected_version: i64,
    reason: &str,
    on: chrono::NaiveDate,
) -> Result<(), AccessError> {
    let resident_id = crate::contract::resident_of(store, id).await?;
    let team = crate::contract::team_of(store, id).await?;
    let event =
        contract_write_checked(store, viewer, resident_id, &[team], &id.to_string()).await?;
    Ok(crate::contract::terminate(store, id, expected_version, reason, on, event).await?)
}

/// Record a service delivered under a contract (履约), by anyone who may write clinical
/// records of the resident.
pub async fn record_contract_service(
    store: &Store,
    viewer: &Viewer<'_>,
    contract_id: i64,
    new: &crate::contract::NewService,
) -> Result<i64, AccessError> {
    let resident_id = crate::contract::resident_of(store, contract_id).await?;
    let event =
        contract_write_checked(store, viewer, resident_id, &[], &contract_id.to_string()).await?;
    Ok(
        crate::contract::record_service(store, contract_id, new, Some(viewer.user.id), event)
            .await?,
    )
}

/// Open one contract: checked against its resident and audited as a read of it.
pub async fn open_contract(
    store: &Store,
    viewer: &Viewer<'_>,
    id: i64,
) -> Result<crate::contract::Contract, AccessError> {
    let resident_id = crate::contract::resident_of(store, id).await?;
    read_checked(store, viewer, resident_id, "contract", id).await?;
    Ok(crate::contract::get(store, id).await?)
}

/// A resident's contracts, newest first (only those of `status` when given): checked and
/// audited as one read.
pub async fn contracts_of(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    status: Option<yiwei_domain::contract::ContractStatus>,
) -> Result<Vec<crate::contract::Contract>, AccessError> {
    read_checked(store, viewer, resident_id, "contracts", resident_id).await?;
    Ok(crate::contract::of_resident(store, resident_id, status).await?)
}

/// The services recorded under a contract and its 履约 in the contract year containing
/// `on`: checked and audited as one read.
pub async fn contract_fulfilment(
    store: &Store,
    viewer: &Viewer<'_>,
    id: i64,
    on: chrono::NaiveDate,
) -> Result<(Vec<crate::contract::Service>, crate::contract::Fulfilment), AccessError> {
    let resident_id = crate::contract::resident_of(store, id).await?;
    read_checked(store, viewer, resident_id, "contract_service", id).await?;
    let c = crate::contract::get(store, id).await?;
    let fulfilment = crate::contract::fulfilment(store, &c, on).await?;
    Ok((crate::contract::services(store, id).await?, fulfilment))
}

/// The family-doctor teams that hold or held a resident's contracts (FHIR CareTeam by
/// patient): checked and audited as one read.
pub async fn care_teams_of(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
) -> Result<Vec<crate::contract::Team>, AccessError> {
    read_checked(store, viewer, resident_id, "care_team", resident_id).await?;
    Ok(crate::contract::teams_of_resident(store, resident_id).await?)
}

/// A team's contracts with the residents' names, for those who act for the team (its
/// members and the staff of its institution); audited as one read of the list.
pub async fn team_contracts(
    store: &Store,
    viewer: &Viewer<'_>,
    team_id: i64,
    active_only: bool,
    limit: i64,
    offset: i64,
) -> Result<(Vec<crate::contract::TeamContract>, i64), AccessError> {
    let actor = viewer.user.actor();
    let refusal = if actor.role == rules::Role::Resident {
        Some(Refusal::NotOwnRecord)
    } else if !actor.role.reads_personal_records() {
        Some(Refusal::AggregateRole)
    } else if !crate::contract::acts_for_team(
        store,
        team_id,
        viewer.user.id,
        viewer.user.institution_id,
    )
    .await?
    {
        Some(Refusal::OutsideReach)
    } else {
        None
    };
    let event = match refusal {
        None => Event::new(viewer.user.who(), Action::Read).basis("team"),
        Some(r) => Event::new(viewer.user.who(), Action::Denied)
            .outcome("denied")
            .basis(refusal_code(r))
            .reason("read"),
    }
    .object("team_contracts", team_id)
    .from_addr(viewer.remote_addr.clone());
    audit::append(store, &event).await?;
    if let Some(r) = refusal {
        return Err(r.into());
    }
    Ok(crate::contract::of_team(store, team_id, active_only, limit, offset).await?)
}

/// The contract coverage figures of a division on a day (签约服务覆盖率, 重点人群签约服务覆盖率,
/// 续签率): aggregates, for anyone who sees aggregates inside their reach.
pub async fn contract_coverage(
    store: &Store,
    viewer: &Viewer<'_>,
    root: &DivisionCode,
    on: chrono::NaiveDate,
) -> Result<crate::contract::Coverage, AccessError> {
    if !rules::may_see_aggregate(&viewer.user.actor(), root) {
        return Err(Refusal::OutsideReach.into());
    }
    Ok(crate::contract::report(store, root, on).await?)
}

// ---- Immunization (预防接种, `crate::immunization`) -------------------------------------
// Doses are recorded, voided and read only through the functions below. A write needs a
// clinical role that may open the child's record (`write_checked`); the allowed write is
// audited inside the store's transaction, a refusal here. A refused write is logged with
// the object `encounter`/`new` by `write_checked`, which all clinical writes share.

/// Record a dose (预防接种) on a record the viewer may open, checked against the schedule
/// in force on its date; audited as `create` of the dose in the same transaction. A dose
/// that breaks the schedule is refused with every problem
/// ([`crate::immunization::DoseError::Schedule`]) unless `new.override_reason` is given.
/// `today` is the county's date.
pub async fn record_dose(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    new: &crate::immunization::NewDose,
    today: chrono::NaiveDate,
) -> Result<i64, crate::immunization::DoseError> {
    let event = write_checked(store, viewer, resident_id).await?;
    let institution = new.institution_id.or(viewer.user.institution_id);
    crate::immunization::record(
        store,
        resident_id,
        Some(viewer.user.id),
        institution,
        new,
        today,
        event,
    )
    .await
}

/// Void a recorded dose with a reason (kept, never deleted); audited as `update` of the
/// dose in the same transaction.
pub async fn void_dose(
    store: &Store,
    viewer: &Viewer<'_>,
    dose_id: i64,
    reason: &str,
) -> Result<(), AccessError> {
    let resident_id = crate::immunization::resident_of(store, dose_id).await?;
    let event = write_checked(store, viewer, resident_id).await?;
    Ok(crate::immunization::void(store, dose_id, reason, Some(viewer.user.id), event).await?)
}

/// A child's doses, voided ones included, numbered within their series: checked and
/// audited as one read.
pub async fn doses_of(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
) -> Result<Vec<crate::immunization::StoredDose>, AccessError> {
    read_checked(store, viewer, resident_id, "immunizations", resident_id).await?;
    Ok(crate::immunization::of_resident(store, resident_id).await?)
}

/// Open one dose: checked against its child and audited as a read of it.
pub async fn open_dose(
    store: &Store,
    viewer: &Viewer<'_>,
    dose_id: i64,
) -> Result<crate::immunization::StoredDose, AccessError> {
    let resident_id = crate::immunization::resident_of(store, dose_id).await?;
    read_checked(store, viewer, resident_id, "immunization", dose_id).await?;
    Ok(crate::immunization::get(store, dose_id).await?)
}

// ---------------------------------------------------------------------------------------
// Programme indicators (基本公卫考核指标, `crate::programme_indicator`; issue 4). The figures
// are aggregates, for anyone who sees aggregates inside their reach; the residents behind a
// figure are a list of personal records, decided by `decide_list_read` and audited as one
// read of the list.

/// Every programme indicator of a division and its children for a period.
pub async fn programme_indicators(
    store: &Store,
    viewer: &Viewer<'_>,
    root: &DivisionCode,
    period: yiwei_domain::programme::indicator::IndicatorPeriod,
    config: &yiwei_domain::programme::indicator::IndicatorConfig,
) -> Result<crate::programme_indicator::Report, AccessError> {
    if !rules::may_see_aggregate(&viewer.user.actor(), root) {
        return Err(Refusal::OutsideReach.into());
    }
    Ok(crate::programme_indicator::report(store, root, period, config).await?)
}

/// The residents behind one figure (an indicator × division × period × part), a page of
/// them; audited as one read of the list, allowed or refused.
#[expect(
    clippy::too_many_arguments,
    reason = "the figure's coordinates and a page"
)]
pub async fn programme_indicator_list(
    store: &Store,
    viewer: &Viewer<'_>,
    root: &DivisionCode,
    period: yiwei_domain::programme::indicator::IndicatorPeriod,
    config: &yiwei_domain::programme::indicator::IndicatorConfig,
    code: &str,
    part: yiwei_domain::programme::indicator::Part,
    (limit, offset): (usize, usize),
) -> Result<crate::programme_indicator::List, AccessError> {
    let (event, refusal) = list_decision(viewer, root, Action::Read);
    let what = format!(
        "{root}:{code}:{part}:{from}..{to}",
        root = root.as_str(),
        part = part.as_str(),
        from = period.from,
        to = period.to
    );
    let event = event.object("programme_indicator_list", what.as_str());
    audit_list(store, &event, refusal).await?;
    Ok(
        crate::programme_indicator::list(store, root, period, config, code, part, limit, offset)
            .await?,
    )
}

// Notifiable-disease case reports, food-borne cases and the cases behind warning signals
// (`crate::notifiable`). A card is written by a clinical role that may open the record
// (as for encounters; the `create` is appended in the write's transaction). Reading a
// card follows the record. Review lists, reviews and the cases behind a signal are for
// CDC staff (`cdc_staff`) inside their reach: they are lists of personal records, audited
// as one read each. Signals and counts carry no personal data and are read directly from
// `crate::notifiable`.

/// Whether the viewer is CDC staff; a refusal is audited with `object`.
async fn cdc_checked(
    store: &Store,
    viewer: &Viewer<'_>,
    root: &DivisionCode,
    action: Action,
    object_type: &str,
    object_id: &str,
) -> Result<(), AccessError> {
    let actor = viewer.user.actor();
    let refusal = if actor.role != rules::Role::CdcStaff {
        Some(if actor.role.reads_personal_records() {
            Refusal::OutsideReach
        } else {
            Refusal::AggregateRole
        })
    } else {
        rules::decide_list_read(&actor, root).err()
    };
    let event = match refusal {
        None => Event::new(viewer.user.who(), action).basis("subtree"),
        Some(r) => Event::new(viewer.user.who(), Action::Denied)
            .outcome("denied")
            .basis(refusal_code(r))
            .reason(action.as_str()),
    }
    .object(object_type, object_id)
    .from_addr(viewer.remote_addr.clone());
    audit::append(store, &event).await?;
    match refusal {
        Some(r) => Err(r.into()),
        None => Ok(()),
    }
}

/// Report a notifiable-disease case (传染病报告卡) about a resident the viewer may open.
/// The card is checked (`yiwei_domain::notifiable::card::validate`; `StoreError::Invalid`
/// names every failing field), timed against its deadline, and written as a probable
/// duplicate when the same resident has a card of the same disease within the window.
pub async fn report_case(
    store: &Store,
    viewer: &Viewer<'_>,
    settings: &crate::notifiable::Settings,
    resident_id: i64,
    card: &yiwei_domain::notifiable::Card,
) -> Result<crate::notifiable::Reported, AccessError> {
    let event = write_checked(store, viewer, resident_id).await?;
    let institution = encounter_institution(viewer, None)?;
    Ok(crate::notifiable::report(
        store,
        settings,
        resident_id,
        Some(viewer.user.id),
        institution,
        card,
        event,
    )
    .await?)
}

/// Open one card with its review history: checked against its resident and audited.
pub async fn open_case(
    store: &Store,
    viewer: &Viewer<'_>,
    case_id: i64,
) -> Result<
    (
        crate::notifiable::CaseReport,
        Vec<crate::notifiable::Review>,
    ),
    AccessError,
> {
    let resident_id = crate::notifiable::resident_of(store, case_id).await?;
    read_checked(store, viewer, resident_id, "case_report", case_id).await?;
    Ok((
        crate::notifiable::get(store, case_id).await?,
        crate::notifiable::reviews(store, case_id).await?,
    ))
}

/// A resident's cards, newest first: checked and audited as one read.
pub async fn cases_of(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
) -> Result<Vec<crate::notifiable::CaseReport>, AccessError> {
    read_checked(store, viewer, resident_id, "case_reports", resident_id).await?;
    let scope = resident::scope(store, resident_id).await?;
    // Cards carry the village at report time; a resident who moved keeps old cards
    // elsewhere, so look in the whole county of the record.
    let root = scope
        .division
        .ancestor_at(yiwei_domain::division::Level::County)
        .unwrap_or(scope.division);
    let filter = crate::notifiable::CaseFilter {
        resident_id: Some(resident_id),
        ..Default::default()
    };
    Ok(crate::notifiable::list(store, &root, &filter, 200, 0)
        .await?
        .0)
}

/// Cards inside `root` matching `filter` (the CDC review queue and case lists), for CDC
/// staff; audited as one read of the list.
pub async fn case_list(
    store: &Store,
    viewer: &Viewer<'_>,
    root: &DivisionCode,
    filter: &crate::notifiable::CaseFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<crate::notifiable::CaseReport>, i64), AccessError> {
    cdc_checked(
        store,
        viewer,
        root,
        Action::Read,
        "case_list",
        root.as_str(),
    )
    .await?;
    Ok(crate::notifiable::list(store, root, filter, limit, offset).await?)
}

/// A list of the viewer's own institution's reports (a work queue), audited as one read
/// of `object` for the institution: clinical staff only. `None` for an account of no
/// institution (nothing to list, nothing audited).
async fn own_institution_list(
    store: &Store,
    viewer: &Viewer<'_>,
    object: &str,
) -> Result<Option<i64>, AccessError> {
    let role = viewer.user.role;
    let refusal = (role == rules::Role::Resident || !role.reads_personal_records())
        .then_some(Refusal::AggregateRole);
    let Some(institution) = viewer.user.institution_id else {
        return Ok(None);
    };
    let event = match refusal {
        None => Event::new(viewer.user.who(), Action::Read).basis("institution"),
        Some(r) => Event::new(viewer.user.who(), Action::Denied)
            .outcome("denied")
            .basis(refusal_code(r))
            .reason(Action::Read.as_str()),
    }
    .object(object, institution)
    .from_addr(viewer.remote_addr.clone());
    audit_list(store, &event, refusal).await?;
    Ok(Some(institution))
}

/// The cards the viewer's institution reported that the CDC returned for correction (退回
/// 待订正), newest first: the reporting clinicians' work queue; audited as one read of the
/// list.
pub async fn returned_cards(
    store: &Store,
    viewer: &Viewer<'_>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<crate::notifiable::CaseReport>, i64), AccessError> {
    let Some(institution) = own_institution_list(store, viewer, "returned_cards").await? else {
        return Ok((Vec::new(), 0));
    };
    let filter = crate::notifiable::CaseFilter {
        statuses: vec![yiwei_domain::notifiable::CardStatus::Returned],
        institution_id: Some(institution),
        ..Default::default()
    };
    // The institution's own cards wherever their residents live: the province holds them.
    let reach = viewer.user.reach.as_str();
    let everywhere = DivisionCode::parse(&reach[..reach.len().min(2)])
        .unwrap_or_else(|_| viewer.user.reach.clone());
    Ok(crate::notifiable::list(store, &everywhere, &filter, limit, offset).await?)
}

/// Cards for the FHIR Condition search. With `resident_id`, the resident's cards inside
/// `root` (default: the county of the record, as [`cases_of`]), checked against the record
/// and audited as one read of it; without, the cards inside `root` for CDC staff, as
/// [`case_list`].
pub async fn find_cases(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: Option<i64>,
    root: Option<&DivisionCode>,
    filter: &crate::notifiable::CaseFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<crate::notifiable::CaseReport>, i64), AccessError> {
    match resident_id {
        Some(resident_id) => {
            read_checked(store, viewer, resident_id, "case_reports", resident_id).await?;
            let root = match root {
                Some(r) => r.clone(),
                None => {
                    let division = resident::scope(store, resident_id).await?.division;
                    division
                        .ancestor_at(yiwei_domain::division::Level::County)
                        .unwrap_or(division)
                }
            };
            let filter = crate::notifiable::CaseFilter {
                resident_id: Some(resident_id),
                ..filter.clone()
            };
            Ok(crate::notifiable::list(store, &root, &filter, limit, offset).await?)
        }
        None => {
            let root = root.unwrap_or(&viewer.user.reach);
            case_list(store, viewer, root, filter, limit, offset).await
        }
    }
}

/// Review a card (accept, return, delete as duplicate, revise): CDC staff whose reach holds
/// the card; audited as `update` in the review's transaction. Returns the correction card's
/// id for a revision.
#[expect(clippy::too_many_arguments, reason = "one review, its parts named")]
pub async fn review_case(
    store: &Store,
    viewer: &Viewer<'_>,
    settings: &crate::notifiable::Settings,
    case_id: i64,
    expected_version: i64,
    action: yiwei_domain::notifiable::ReviewAction,
    reason: &str,
    revision: Option<&crate::notifiable::Revision>,
) -> Result<Option<i64>, AccessError> {
    let resident_id = crate::notifiable::resident_of(store, case_id).await?;
    let scope = resident::scope(store, resident_id).await?;
    cdc_checked(
        store,
        viewer,
        &scope.division,
        Action::Read,
        "case_report",
        &case_id.to_string(),
    )
    .await?;
    let event = Event::new(viewer.user.who(), Action::Update)
        .basis("subtree")
        .from_addr(viewer.remote_addr.clone());
    Ok(crate::notifiable::review(
        store,
        settings,
        case_id,
        expected_version,
        action,
        reason,
        revision,
        Some(viewer.user.id),
        event,
    )
    .await?)
}

/// Correct a card the CDC returned and send it back to review: staff of the institution
/// that reported it, who may still write to the resident's record; audited as `update` in
/// the resubmission's transaction. Returns the card's new status.
pub async fn resubmit_case(
    store: &Store,
    viewer: &Viewer<'_>,
    settings: &crate::notifiable::Settings,
    case_id: i64,
    expected_version: i64,
    card: &yiwei_domain::notifiable::Card,
    note: &str,
) -> Result<yiwei_domain::notifiable::workflow::CardStatus, AccessError> {
    let resident_id = crate::notifiable::resident_of(store, case_id).await?;
    let event = write_checked(store, viewer, resident_id).await?;
    let reported_by = crate::notifiable::institution_of(store, case_id).await?;
    let event = own_institution(
        store,
        viewer,
        event,
        reported_by,
        "case_report",
        case_id,
        resident_id,
    )
    .await?;
    Ok(crate::notifiable::resubmit(
        store,
        settings,
        case_id,
        expected_version,
        card,
        note,
        Some(viewer.user.id),
        event,
    )
    .await?)
}

/// Review a food-borne case (accept, return, delete as duplicate): CDC staff whose reach
/// holds the case's resident; audited as `update` in the review's transaction.
pub async fn review_foodborne(
    store: &Store,
    viewer: &Viewer<'_>,
    case_id: i64,
    expected_version: i64,
    action: yiwei_domain::notifiable::ReviewAction,
    reason: &str,
) -> Result<(), AccessError> {
    let resident_id = crate::notifiable::foodborne_resident_of(store, case_id).await?;
    let scope = resident::scope(store, resident_id).await?;
    cdc_checked(
        store,
        viewer,
        &scope.division,
        Action::Read,
        "foodborne_case",
        &case_id.to_string(),
    )
    .await?;
    let event = Event::new(viewer.user.who(), Action::Update)
        .basis("subtree")
        .from_addr(viewer.remote_addr.clone());
    Ok(crate::notifiable::review_foodborne(
        store,
        case_id,
        expected_version,
        action,
        reason,
        Some(viewer.user.id),
        event,
    )
    .await?)
}

/// Move a warning signal one step: CDC staff whose reach holds the signal's area. Signals
/// hold no personal data, so this is recorded in the signal's own history, not the audit
/// log.
pub async fn step_signal(
    store: &Store,
    viewer: &Viewer<'_>,
    signal_id: i64,
    expected_version: i64,
    step: yiwei_domain::notifiable::SignalStep,
    notes: &str,
    assignee: Option<i64>,
) -> Result<yiwei_domain::notifiable::SignalStatus, AccessError> {
    let signal = crate::notifiable::signal(store, signal_id).await?;
    let area = DivisionCode::parse(&signal.division)
        .map_err(|_| StoreError::Other("stored signal has a bad division".into()))?;
    let actor = viewer.user.actor();
    if actor.role != rules::Role::CdcStaff {
        return Err(Refusal::OutsideReach.into());
    }
    if !(actor.reach.contains(&area) || area.contains(&actor.reach)) {
        return Err(Refusal::OutsideReach.into());
    }
    if let Some(a) = assignee {
        let user = crate::user::get(store, a).await?;
        if user.role != rules::Role::CdcStaff {
            return Err(StoreError::Invalid(
                "a signal is assigned to a member of the CDC staff".into(),
            )
            .into());
        }
    }
    Ok(crate::notifiable::step_signal(
        store,
        signal_id,
        expected_version,
        step,
        notes,
        assignee,
        viewer.user.id,
    )
    .await?)
}

/// The cards behind a signal: its disease in its area over the seven days up to its day.
/// For CDC staff; audited as one read of the list.
pub async fn signal_cases(
    store: &Store,
    viewer: &Viewer<'_>,
    signal: &crate::notifiable::Signal,
) -> Result<Vec<crate::notifiable::CaseReport>, AccessError> {
    let area = DivisionCode::parse(&signal.division)
        .map_err(|_| StoreError::Other("stored signal has a bad division".into()))?;
    cdc_checked(
        store,
        viewer,
        &area,
        Action::Read,
        "signal_cases",
        &signal.id.to_string(),
    )
    .await?;
    let filter = crate::notifiable::CaseFilter {
        statuses: vec![
            yiwei_domain::notifiable::CardStatus::Pending,
            yiwei_domain::notifiable::CardStatus::ProbableDuplicate,
            yiwei_domain::notifiable::CardStatus::Accepted,
        ],
        disease: Some(signal.disease.clone()),
        from: Some(signal.day - chrono::Duration::days(6)),
        to: Some(signal.day + chrono::Duration::days(1)),
        ..Default::default()
    };
    Ok(crate::notifiable::list(store, &area, &filter, 200, 0)
        .await?
        .0)
}

/// Report a suspected food-borne disease case about a resident the viewer may open.
pub async fn report_foodborne(
    store: &Store,
    viewer: &Viewer<'_>,
    settings: &crate::notifiable::Settings,
    resident_id: i64,
    case: &yiwei_domain::notifiable::foodborne::FoodborneCase,
) -> Result<i64, AccessError> {
    let event = write_checked(store, viewer, resident_id).await?;
    let institution = encounter_institution(viewer, None)?;
    Ok(crate::notifiable::report_foodborne(
        store,
        settings,
        resident_id,
        Some(viewer.user.id),
        institution,
        case,
        event,
    )
    .await?)
}

/// One food-borne case with its review history: reading it follows the record (checked
/// and audited as a read).
pub async fn open_foodborne(
    store: &Store,
    viewer: &Viewer<'_>,
    case_id: i64,
) -> Result<
    (
        crate::notifiable::StoredFoodborne,
        Vec<crate::notifiable::FoodborneReview>,
    ),
    AccessError,
> {
    let resident_id = crate::notifiable::foodborne_resident_of(store, case_id).await?;
    read_checked(store, viewer, resident_id, "foodborne_case", case_id).await?;
    Ok((
        crate::notifiable::foodborne_get(store, case_id).await?,
        crate::notifiable::foodborne_reviews(store, case_id).await?,
    ))
}

/// A returned food-borne case as a form to correct: staff of the institution that
/// reported it, who may still write to the resident's record (audited as a read).
pub async fn foodborne_draft(
    store: &Store,
    viewer: &Viewer<'_>,
    settings: &crate::notifiable::Settings,
    case_id: i64,
) -> Result<crate::notifiable::FoodborneDraft, AccessError> {
    let resident_id = crate::notifiable::foodborne_resident_of(store, case_id).await?;
    read_checked(store, viewer, resident_id, "foodborne_case", case_id).await?;
    Ok(crate::notifiable::foodborne_draft(store, settings, case_id).await?)
}

/// Correct a food-borne case the CDC returned and send it back to review: staff of the
/// institution that reported it, who may still write to the resident's record; audited
/// as `update` in the resubmission's transaction.
pub async fn resubmit_foodborne(
    store: &Store,
    viewer: &Viewer<'_>,
    settings: &crate::notifiable::Settings,
    case_id: i64,
    expected_version: i64,
    case: &yiwei_domain::notifiable::foodborne::FoodborneCase,
    note: &str,
) -> Result<(), AccessError> {
    let resident_id = crate::notifiable::foodborne_resident_of(store, case_id).await?;
    let event = write_checked(store, viewer, resident_id).await?;
    let reported_by = crate::notifiable::foodborne_institution_of(store, case_id).await?;
    let event = own_institution(
        store,
        viewer,
        event,
        reported_by,
        "foodborne_case",
        case_id,
        resident_id,
    )
    .await?;
    Ok(crate::notifiable::resubmit_foodborne(
        store,
        settings,
        case_id,
        expected_version,
        case,
        note,
        Some(viewer.user.id),
        event,
    )
    .await?)
}

/// The food-borne cases the viewer's institution reported that the CDC returned for
/// correction, oldest return first (at most `limit`); audited as one read of the list.
pub async fn returned_foodborne(
    store: &Store,
    viewer: &Viewer<'_>,
    limit: i64,
) -> Result<Vec<crate::notifiable::StoredFoodborne>, AccessError> {
    let Some(institution) = own_institution_list(store, viewer, "returned_foodborne").await? else {
        return Ok(Vec::new());
    };
    Ok(crate::notifiable::foodborne_returned(store, institution, limit).await?)
}

/// Food-borne cases inside `root`, for CDC staff; audited as one read of the list.
pub async fn foodborne_list(
    store: &Store,
    viewer: &Viewer<'_>,
    root: &DivisionCode,
    limit: i64,
    offset: i64,
) -> Result<(Vec<crate::notifiable::StoredFoodborne>, i64), AccessError> {
    cdc_checked(
        store,
        viewer,
        root,
        Action::Read,
        "foodborne_list",
        root.as_str(),
    )
    .await?;
    Ok(crate::notifiable::foodborne_list(store, root, limit, offset).await?)
}

// =======================================================================================
// Booking and two-way referral (预约挂号, 双向转诊; issue 7, `crate::booking`,
// `crate::referral`). Everything below is added by that work and kept in this one block.
//
// Who may do what:
// - a resident books, joins the waitlist, moves and cancels only their own bookings
//   (online rules: cut-offs, no-show suspension);
// - staff with a clinical role book for a resident they may open (reach, a tie or
//   break-glass), or for anyone at their own institution's desk (the booking then ties the
//   resident to it); they cancel and move bookings at their institution or of residents
//   they may open, and mark attendance and no-shows at their institution only;
// - a referral is sent by a clinician who may open the record, from their institution;
//   the receiving end accepts, declines, marks arrival, completes and returns; the sending
//   end cancels. Both ends may open the record while the referral is open (the tie).
// Allowed changes are audited inside the store's write transaction; refusals here.

use crate::booking::{BookingError, When};

fn denied(viewer: &Viewer<'_>, code: &str, action: Action, object: &str, id: &str) -> Event {
    Event::new(viewer.user.who(), Action::Denied)
        .outcome("denied")
        .basis(code)
        .reason(action.as_str())
        .object(object, id)
        .from_addr(viewer.remote_addr.clone())
}

fn allowed(viewer: &Viewer<'_>, action: Action, basis: &str) -> Event {
    Event::new(viewer.user.who(), action)
        .basis(basis)
        .from_addr(viewer.remote_addr.clone())
}

fn is_staff(viewer: &Viewer<'_>) -> bool {
    let role = viewer.user.role;
    role != rules::Role::Resident && role.reads_personal_records()
}

/// Decide whether the viewer may book for (or change a booking of) `resident_id` at
/// `institution_id`; returns the channel and the basis, or audits and returns the refusal.
async fn booking_checked(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    institution_id: i64,
    object: &str,
    object_id: &str,
) -> Result<(yiwei_domain::booking::Channel, String), BookingError> {
    use yiwei_domain::booking::Channel;
    let user = viewer.user;
    let refusal = if user.role == rules::Role::Resident {
        if user.resident_id == Some(resident_id) {
            return Ok((Channel::Resident, Basis::OwnRecord.as_str().to_owned()));
        }
        Refusal::NotOwnRecord
    } else if !is_staff(viewer) {
        Refusal::AggregateRole
    } else if user.institution_id == Some(institution_id) {
        resident::scope(store, resident_id).await?;
        return Ok((Channel::Staff, Basis::Tie(Tie::Booking).as_str().to_owned()));
    } else {
        match decide(store, viewer, resident_id).await? {
            Ok(basis) => return Ok((Channel::Staff, basis.as_str().to_owned())),
            Err(r) => r,
        }
    };
    let event = denied(
        viewer,
        refusal_code(refusal),
        Action::Update,
        object,
        object_id,
    )
    .resident(resident_id);
    audit::append(store, &event).await?;
    Err(refusal.into())
}

/// Book `resident_id` into `slot_id` and return the booking made, for the answer to the
/// request (FHIR `POST Appointment`). The booking's `create` audit row, written with it,
/// covers showing it back to the one who made it: no second decision or read row.
pub async fn book_and_get(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    slot_id: i64,
    when: When,
) -> Result<crate::booking::Booking, BookingError> {
    let id = book(store, viewer, resident_id, slot_id, when).await?;
    Ok(crate::booking::get(store, id).await?)
}

/// Book `resident_id` into `slot_id`.
pub async fn book(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    slot_id: i64,
    when: When,
) -> Result<i64, BookingError> {
    let slot = crate::booking::slot(store, slot_id).await?;
    let (channel, basis) = booking_checked(
        store,
        viewer,
        resident_id,
        slot.institution_id,
        "booking",
        "new",
    )
    .await?;
    let division = resident::scope(store, resident_id).await?.division;
    let who = crate::booking::Booker {
        resident_id,
        division: division.as_str(),
        channel,
        by_user: Some(viewer.user.id),
        moved_from: None,
    };
    let event = allowed(viewer, Action::Create, &basis);
    crate::booking::book(store, slot_id, &who, when, event).await
}

/// Cancel a booking; returns the booking the waitlist made in the freed seat, if any.
pub async fn cancel_booking(
    store: &Store,
    viewer: &Viewer<'_>,
    booking_id: i64,
    reason: &str,
    when: When,
) -> Result<Option<i64>, BookingError> {
    let (resident_id, institution_id) = crate::booking::owner_of(store, booking_id).await?;
    let (channel, basis) = booking_checked(
        store,
        viewer,
        resident_id,
        institution_id,
        "booking",
        &booking_id.to_string(),
    )
    .await?;
    let reason = if reason.trim().is_empty() {
        channel.as_str()
    } else {
        reason.trim()
    };
    let event = allowed(viewer, Action::Update, &basis);
    crate::booking::cancel(store, booking_id, channel, reason, when, event).await
}

/// Move a booking to another slot of its schedule; returns the new booking.
pub async fn reschedule_booking(
    store: &Store,
    viewer: &Viewer<'_>,
    booking_id: i64,
    slot_id: i64,
    when: When,
) -> Result<i64, BookingError> {
    let (resident_id, institution_id) = crate::booking::owner_of(store, booking_id).await?;
    let (channel, basis) = booking_checked(
        store,
        viewer,
        resident_id,
        institution_id,
        "booking",
        &booking_id.to_string(),
    )
    .await?;
    let event = allowed(viewer, Action::Update, &basis);
    crate::booking::reschedule(
        store,
        booking_id,
        slot_id,
        channel,
        when,
        Some(viewer.user.id),
        event,
    )
    .await
}

/// Mark a booking attended or a no-show: staff of the booking's institution only.
pub async fn mark_booking(
    store: &Store,
    viewer: &Viewer<'_>,
    booking_id: i64,
    outcome: yiwei_domain::booking::BookingStatus,
    when: When,
) -> Result<(), BookingError> {
    let (resident_id, institution_id) = crate::booking::owner_of(store, booking_id).await?;
    if !is_staff(viewer) || viewer.user.institution_id != Some(institution_id) {
        let event = denied(
            viewer,
            "not_institution_staff",
            Action::Update,
            "booking",
            &booking_id.to_string(),
        )
        .resident(resident_id);
        audit::append(store, &event).await?;
        return Err(BookingError::Invalid(
            "只有该机构的工作人员可以登记就诊或爽约 / only staff of the institution mark attendance or no-shows"
                .into(),
        ));
    }
    let event = allowed(viewer, Action::Update, "institution");
    crate::booking::mark_outcome(store, booking_id, outcome, when, event).await
}

/// Put a resident on the waitlist of a schedule's date.
pub async fn join_waitlist(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    schedule_id: i64,
    date: chrono::NaiveDate,
    when: When,
) -> Result<i64, BookingError> {
    let sc = crate::booking::schedule(store, schedule_id).await?;
    let (_, basis) = booking_checked(
        store,
        viewer,
        resident_id,
        sc.institution_id,
        "waitlist",
        "new",
    )
    .await?;
    let division = resident::scope(store, resident_id).await?.division;
    let event = allowed(viewer, Action::Create, &basis);
    crate::booking::join_waitlist(
        store,
        schedule_id,
        date,
        resident_id,
        division.as_str(),
        when,
        Some(viewer.user.id),
        event,
    )
    .await
}

/// Open one booking: its resident, or anyone who may open the resident's record, or staff
/// of its institution; audited as a read.
pub async fn open_booking(
    store: &Store,
    viewer: &Viewer<'_>,
    booking_id: i64,
) -> Result<crate::booking::Booking, BookingError> {
    let (resident_id, _) = crate::booking::owner_of(store, booking_id).await?;
    read_checked(store, viewer, resident_id, "booking", booking_id).await?;
    Ok(crate::booking::get(store, booking_id).await?)
}

/// A resident's bookings, by slot start: checked and audited as one read.
pub async fn bookings_of(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<crate::booking::Booking>, i64), BookingError> {
    read_checked(store, viewer, resident_id, "bookings", resident_id).await?;
    let f = crate::booking::BookingFilter {
        resident_id: Some(resident_id),
        ..Default::default()
    };
    Ok(crate::booking::list(store, &f, limit, offset).await?)
}

/// The bookings at an institution (a day list, a slot's list): for its staff, audited as
/// one read of the list.
pub async fn institution_bookings(
    store: &Store,
    viewer: &Viewer<'_>,
    institution_id: i64,
    filter: &crate::booking::BookingFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<crate::booking::Booking>, i64), BookingError> {
    let ok = is_staff(viewer) && viewer.user.institution_id == Some(institution_id);
    let event = if ok {
        allowed(viewer, Action::Read, "institution").object("booking_list", institution_id)
    } else {
        denied(
            viewer,
            "not_institution_staff",
            Action::Read,
            "booking_list",
            &institution_id.to_string(),
        )
    };
    audit::append(store, &event).await?;
    if !ok {
        return Err(Refusal::OutsideReach.into());
    }
    let f = crate::booking::BookingFilter {
        institution_id: Some(institution_id),
        ..filter.clone()
    };
    Ok(crate::booking::list(store, &f, limit, offset).await?)
}

/// Send a referral from the viewer's institution for a resident they may open.
pub async fn send_referral(
    store: &Store,
    viewer: &Viewer<'_>,
    new: &crate::referral::NewReferral,
    when: When,
) -> Result<i64, BookingError> {
    let Some(from) = viewer.user.institution_id.filter(|_| is_staff(viewer)) else {
        let event = denied(viewer, "aggregate_role", Action::Create, "referral", "new")
            .resident(new.resident_id);
        audit::append(store, &event).await?;
        return Err(Refusal::AggregateRole.into());
    };
    let basis = match decide(store, viewer, new.resident_id).await? {
        Ok(basis) => basis,
        Err(refusal) => {
            let event = denied(
                viewer,
                refusal_code(refusal),
                Action::Create,
                "referral",
                "new",
            )
            .resident(new.resident_id);
            audit::append(store, &event).await?;
            return Err(refusal.into());
        }
    };
    let direction = crate::referral::check_new(store, from, new).await?;
    let event = allowed(viewer, Action::Create, basis.as_str());
    crate::referral::send(
        store,
        from,
        direction,
        new,
        Some(viewer.user.id),
        when,
        event,
    )
    .await
}

/// Move a referral (accept, decline, arrive, complete, return, cancel) as the end the
/// viewer's institution is. Returns the new state and, for a return, the downward referral.
pub async fn move_referral(
    store: &Store,
    viewer: &Viewer<'_>,
    referral_id: i64,
    mv: &yiwei_domain::referral::Event,
    when: When,
) -> Result<(yiwei_domain::referral::State, Option<i64>), BookingError> {
    use yiwei_domain::referral::Side;
    let (resident_id, from, to) = crate::referral::parties_of(store, referral_id).await?;
    let side = match viewer.user.institution_id {
        Some(i) if is_staff(viewer) && i == to => Some(Side::Receiver),
        Some(i) if is_staff(viewer) && i == from => Some(Side::Sender),
        _ => None,
    };
    let Some(side) = side else {
        let event = denied(
            viewer,
            "not_a_party",
            Action::Update,
            "referral",
            &referral_id.to_string(),
        )
        .resident(resident_id);
        audit::append(store, &event).await?;
        return Err(BookingError::Invalid(
            "只有转诊双方机构的医务人员可以处理该转诊 / only clinicians of the two institutions of this referral may act on it"
                .into(),
        ));
    };
    let event = allowed(viewer, Action::Update, Basis::Tie(Tie::Referral).as_str());
    crate::referral::apply(
        store,
        referral_id,
        mv,
        side,
        Some(viewer.user.id),
        when,
        event,
    )
    .await
}

/// Open one referral with its history: checked against its resident (the open referral
/// is a tie for both ends) and audited as a read.
pub async fn open_referral(
    store: &Store,
    viewer: &Viewer<'_>,
    referral_id: i64,
) -> Result<(crate::referral::Referral, Vec<crate::referral::Step>), BookingError> {
    let (resident_id, from, to) = crate::referral::parties_of(store, referral_id).await?;
    // A closed referral stays readable by the two ends as their own work record.
    let party =
        is_staff(viewer) && matches!(viewer.user.institution_id, Some(i) if i == from || i == to);
    if party {
        let event = allowed(viewer, Action::Read, "referral_party")
            .object("referral", referral_id)
            .resident(resident_id);
        audit::append(store, &event).await?;
    } else {
        read_checked(store, viewer, resident_id, "referral", referral_id).await?;
    }
    Ok((
        crate::referral::get(store, referral_id).await?,
        crate::referral::history(store, referral_id).await?,
    ))
}

/// The referral queue of the viewer's institution: `incoming` (received) or outgoing
/// (sent); audited as one read of the list.
pub async fn referral_queue(
    store: &Store,
    viewer: &Viewer<'_>,
    incoming: bool,
    open_only: bool,
    limit: i64,
    offset: i64,
) -> Result<(Vec<crate::referral::Referral>, i64), BookingError> {
    let Some(institution) = viewer.user.institution_id.filter(|_| is_staff(viewer)) else {
        let event = denied(
            viewer,
            "aggregate_role",
            Action::Read,
            "referral_queue",
            "-",
        );
        audit::append(store, &event).await?;
        return Err(Refusal::AggregateRole.into());
    };
    let event = allowed(viewer, Action::Read, "institution").object(
        if incoming {
            "referral_incoming"
        } else {
            "referral_outgoing"
        },
        institution,
    );
    audit::append(store, &event).await?;
    let f = crate::referral::Filter {
        to_institution_id: incoming.then_some(institution),
        from_institution_id: (!incoming).then_some(institution),
        open_only,
        ..Default::default()
    };
    Ok(crate::referral::list(store, &f, limit, offset).await?)
}

/// A resident's referrals: checked and audited as one read.
pub async fn referrals_of(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<crate::referral::Referral>, i64), BookingError> {
    read_checked(store, viewer, resident_id, "referrals", resident_id).await?;
    let f = crate::referral::Filter {
        resident_id: Some(resident_id),
        ..Default::default()
    };
    Ok(crate::referral::list(store, &f, limit, offset).await?)
}
