//! The access gate of the public-health programmes (`crate::programme`): enrolments,
//! visits, work lists and the reminder outbox are written and read only through here. A
//! write needs a clinical role that may open the record; the allowed write is audited in
//! the store's transaction, a refusal here. A work list or an outbox is a list of personal
//! records: [`rules::decide_list_read`] on its subtree, and one audit row per list.

use chrono::NaiveDate;
use yiwei_domain::division::DivisionCode;

use super::{
    AccessError, Viewer, audit_list, encounter_institution, list_decision, read_checked,
    write_checked,
};
use crate::audit::{self, Action, Event};
use crate::programme::{
    self as store_programme, Catalogue, DueRow, Enrolment, Episode, Message, NewEnrolment,
    NewVisit, Outgoing, Recorded, VisitError, VisitRecord, WorkFilter, WorkItem,
};
use crate::{Result, Store};

/// A resident's programmes at a glance: enrolments, the work-list rows, the visits.
#[derive(Clone, Debug)]
pub struct Overview {
    pub enrolments: Vec<Enrolment>,
    pub due: Vec<(DueRow, yiwei_domain::programme::Status)>,
    pub visits: Vec<VisitRecord>,
}

/// A resident's programme overview on `today`: checked and audited as one read.
pub async fn programme_overview(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    today: NaiveDate,
) -> Result<Overview, AccessError> {
    read_checked(store, viewer, resident_id, "programmes", resident_id).await?;
    Ok(Overview {
        enrolments: store_programme::enrolments(store, resident_id).await?,
        due: store_programme::due_of(store, resident_id, today).await?,
        visits: store_programme::visits_of(store, resident_id, None).await?,
    })
}

/// Open one programme visit: checked against its resident and audited.
pub async fn open_programme_visit(
    store: &Store,
    viewer: &Viewer<'_>,
    visit_id: i64,
) -> Result<VisitRecord, AccessError> {
    let resident_id = store_programme::visit_resident(store, visit_id).await?;
    read_checked(store, viewer, resident_id, "programme_visit", visit_id).await?;
    Ok(store_programme::get_visit(store, visit_id).await?)
}

/// Enrol a resident in a programme (登记管理).
pub async fn enrol(
    store: &Store,
    viewer: &Viewer<'_>,
    catalogue: &Catalogue,
    resident_id: i64,
    new: &NewEnrolment,
) -> Result<i64, AccessError> {
    let event = write_checked(store, viewer, resident_id).await?;
    Ok(store_programme::enrol(
        store,
        catalogue,
        resident_id,
        new,
        Some(viewer.user.id),
        event,
    )
    .await?)
}

/// Change an open enrolment's episode (a delivery, a new grade).
pub async fn update_episode(
    store: &Store,
    viewer: &Viewer<'_>,
    catalogue: &Catalogue,
    enrolment_id: i64,
    episode: &Episode,
    today: NaiveDate,
) -> Result<(), AccessError> {
    let e = store_programme::get_enrolment(store, enrolment_id).await?;
    let event = write_checked(store, viewer, e.resident_id)
        .await
        .map(as_update)?;
    Ok(
        store_programme::update_episode(store, catalogue, enrolment_id, episode, today, event)
            .await?,
    )
}

/// End an enrolment (结案) with a reason.
pub async fn end_enrolment(
    store: &Store,
    viewer: &Viewer<'_>,
    catalogue: &Catalogue,
    enrolment_id: i64,
    ended_on: NaiveDate,
    reason: &str,
    today: NaiveDate,
) -> Result<(), AccessError> {
    let e = store_programme::get_enrolment(store, enrolment_id).await?;
    let event = write_checked(store, viewer, e.resident_id)
        .await
        .map(as_update)?;
    Ok(store_programme::end_enrolment(
        store,
        catalogue,
        enrolment_id,
        ended_on,
        reason,
        today,
        event,
    )
    .await?)
}

/// Record a programme visit (随访) on a record the viewer may open.
pub async fn record_visit(
    store: &Store,
    viewer: &Viewer<'_>,
    catalogue: &Catalogue,
    resident_id: i64,
    new: &NewVisit,
) -> Result<Recorded, VisitError> {
    let event = write_checked(store, viewer, resident_id).await?;
    let institution = encounter_institution(viewer, new.institution_id)?;
    store_programme::record_visit(
        store,
        catalogue,
        resident_id,
        Some(viewer.user.id),
        institution,
        new,
        event,
    )
    .await
}

/// Void a visit entered in error, with a reason.
pub async fn void_visit(
    store: &Store,
    viewer: &Viewer<'_>,
    catalogue: &Catalogue,
    visit_id: i64,
    reason: &str,
    today: NaiveDate,
) -> Result<(), AccessError> {
    let resident_id = store_programme::visit_resident(store, visit_id).await?;
    let event = write_checked(store, viewer, resident_id)
        .await
        .map(as_update)?;
    Ok(store_programme::void_visit(
        store,
        catalogue,
        visit_id,
        reason,
        Some(viewer.user.id),
        today,
        event,
    )
    .await?)
}

/// The allowed write's event as an update of an existing record.
fn as_update(mut event: Event) -> Event {
    event.action = Action::Update;
    event
}

/// Decide a read of a list of personal records under `root`: a refusal is audited here;
/// the allowed read's event is returned for the caller to append (with the read, or in the
/// export's transaction).
async fn list_checked(
    store: &Store,
    viewer: &Viewer<'_>,
    root: &DivisionCode,
    what: &str,
    action: Action,
) -> Result<Event, AccessError> {
    let (event, refusal) = list_decision(viewer, root, action);
    let event = event.object(what, root.as_str());
    if refusal.is_some() {
        audit_list(store, &event, refusal).await?;
    }
    Ok(event)
}

/// The work list of a subtree (a village doctor's villages, a team's, a township's):
/// checked with the list rule and audited as one read.
pub async fn worklist(
    store: &Store,
    viewer: &Viewer<'_>,
    filter: &WorkFilter,
    today: NaiveDate,
) -> Result<Vec<WorkItem>, AccessError> {
    let event = list_checked(store, viewer, &filter.root, "worklist", Action::Read).await?;
    audit::append(store, &event).await?;
    Ok(store_programme::worklist(store, filter, today).await?)
}

/// The outbox of a subtree in one status (the texts carry surnames): a list read.
pub async fn outbox(
    store: &Store,
    viewer: &Viewer<'_>,
    root: &DivisionCode,
    status: &str,
    limit: i64,
) -> Result<Vec<Message>, AccessError> {
    let event = list_checked(store, viewer, root, "outbox", Action::Read).await?;
    audit::append(store, &event).await?;
    Ok(store_programme::outbox(store, root, status, limit).await?)
}

/// Export pending reminders of a subtree with their phone numbers for the SMS gateway:
/// a reveal of phones, audited in the export's transaction.
pub async fn export_outbox(
    store: &Store,
    viewer: &Viewer<'_>,
    root: &DivisionCode,
    limit: i64,
) -> Result<Vec<Outgoing>, AccessError> {
    let event = list_checked(store, viewer, root, "outbox", Action::Reveal).await?;
    Ok(store_programme::export_outbox(store, root, limit, viewer.user.who(), event).await?)
}

// ---------------------------------------------------------------------------------------
// For the FHIR CarePlan, Task and Observation resources (yiwei-web fhir/care_plan.rs,
// fhir/task.rs, fhir/observation.rs): each function is one checked and audited read.

/// A programme a resident is in by the record alone, with no open enrolment row: an
/// age-based one (65+, 0–6, immunization) or a condition programme enrolled from the
/// record's profile conditions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Derived {
    pub programme: String,
    /// The days on which the programme's enrolment rule holds (`until` exclusive).
    pub period: yiwei_domain::programme::Period,
}

/// A resident's programmes as care plans: the overview, and the programmes that hold by
/// the record alone.
#[derive(Clone, Debug)]
pub struct Plans {
    pub overview: Overview,
    pub derived: Vec<Derived>,
}

/// The age below which the immunization programme runs (the schedule's series end with
/// the HPV doses of girls; `Facts::due_rows` skips adults the same way).
const IMMUNIZATION_BELOW_YEARS: u32 = 18;

/// A resident's programmes on `today`, for CarePlan and Task: checked and audited as one
/// read of the resident's programmes. A derived programme is listed while its rule holds,
/// or after, when it has visits or work-list rows to show.
pub async fn programme_plans(
    store: &Store,
    viewer: &Viewer<'_>,
    catalogue: &Catalogue,
    resident_id: i64,
    today: NaiveDate,
) -> Result<Plans, AccessError> {
    read_checked(store, viewer, resident_id, "programmes", resident_id).await?;
    let overview = Overview {
        enrolments: store_programme::enrolments(store, resident_id).await?,
        due: store_programme::due_of(store, resident_id, today).await?,
        visits: store_programme::visits_of(store, resident_id, None).await?,
    };
    let facts = store_programme::facts(store, resident_id).await?;
    let subject = facts.subject();
    let has_rows = |code: &str| {
        overview.due.iter().any(|(d, _)| d.programme == code)
            || overview
                .visits
                .iter()
                .any(|v| v.programme == code && !v.voided)
    };
    let mut derived = Vec::new();
    for p in &catalogue.programmes {
        let enrolled = overview
            .enrolments
            .iter()
            .any(|e| e.programme == p.code && e.ended_on.is_none());
        if enrolled {
            continue;
        }
        if let Some(period) = p.enrolment.period(&subject)
            && (period.contains(today) || has_rows(p.code))
            && period.from <= today
        {
            derived.push(Derived {
                programme: p.code.to_owned(),
                period,
            });
        }
    }
    if let Some(birth) = facts.birth_date {
        let until = birth
            .checked_add_months(chrono::Months::new(12 * IMMUNIZATION_BELOW_YEARS))
            .unwrap_or(NaiveDate::MAX);
        let period = yiwei_domain::programme::Period {
            from: birth,
            until: Some(until),
        };
        if period.contains(today) || has_rows(store_programme::IMMUNIZATION) {
            derived.push(Derived {
                programme: store_programme::IMMUNIZATION.to_owned(),
                period,
            });
        }
    }
    Ok(Plans { overview, derived })
}

/// The programme visit recorded with an encounter: checked against its resident and
/// audited as a read of the visit; `NotFound` when the encounter is not a programme visit.
pub async fn open_visit_of_encounter(
    store: &Store,
    viewer: &Viewer<'_>,
    encounter_id: i64,
) -> Result<VisitRecord, AccessError> {
    let visit_id = store_programme::visit_of_encounter(store, encounter_id).await?;
    open_programme_visit(store, viewer, visit_id).await
}

/// A resident's programme visits, newest first (voided ones included, marked): checked
/// and audited as one read.
pub async fn programme_visits(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
) -> Result<Vec<VisitRecord>, AccessError> {
    read_checked(store, viewer, resident_id, "programme_visits", resident_id).await?;
    Ok(store_programme::visits_of(store, resident_id, None).await?)
}

/// The work list of a subtree as [`worklist`] (the list rule, one audit row), each line
/// with the id of the open enrolment it belongs to, if one is stored.
pub async fn worklist_with_enrolments(
    store: &Store,
    viewer: &Viewer<'_>,
    filter: &WorkFilter,
    today: NaiveDate,
) -> Result<Vec<(WorkItem, Option<i64>)>, AccessError> {
    let items = worklist(store, viewer, filter, today).await?;
    let open = store_programme::open_enrolments_under(store, &filter.root).await?;
    Ok(items
        .into_iter()
        .map(|w| {
            let enrolment = open.get(&(w.resident_id, w.programme.clone())).copied();
            (w, enrolment)
        })
        .collect())
}
