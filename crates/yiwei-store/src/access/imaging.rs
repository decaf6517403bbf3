//! The access gate of the imaging cloud (`crate::imaging`): storing instances, searching
//! and opening studies, the match queue, links and shares go only through here.
//!
//! - A study linked to a resident is opened by the resident rule (`decide_personal_read`:
//!   subtree, ties, break-glass), audited as a read of `imaging_study` about the resident.
//!   A study done at (or shared with) an institution ties the resident to it (`Tie::Study`).
//! - A study not (yet) linked has no resident to decide on: staff of the sending
//!   institution and clinical roles whose subtree holds the institution may open it.
//! - A search (QIDO-RS, the study list) is a list read: aggregate roles are refused, a
//!   resident sees their own studies, staff see the studies of their subtree, of their
//!   institution (done there or shared with it) and of residents they hold break-glass
//!   for. One audit row per search.
//! - Storing (STOW-RS) needs a radiologist or clinician account of an institution. A new
//!   study is matched and opened; an instance for an existing study needs the right to open
//!   that study, so nobody can append images to a study of a resident outside their reach.

use chrono::Duration;
use yiwei_domain::access::{Basis, Refusal, Role};
use yiwei_domain::division::DivisionCode;

use super::{AccessError, Viewer, decide, read_checked, refusal_code, write_checked};
use crate::audit::{self, Action, Event};
use crate::imaging::{
    self as store_imaging, Instance, InstanceFilter, NewInstance, Scope, Series, Stored, Study,
    StudyQuery,
};
use crate::read_window::ReadKey;
use crate::{Result, Store, StoreError, on_pool};

/// The studies a viewer may list: see the module docs.
pub async fn scope_of(store: &Store, viewer: &Viewer<'_>) -> Result<Scope, AccessError> {
    let user = viewer.user;
    if user.role == Role::Resident {
        return match user.resident_id {
            Some(r) => Ok(Scope::OwnRecord(r)),
            None => Err(Refusal::NotOwnRecord.into()),
        };
    }
    if !user.role.reads_personal_records() {
        return Err(Refusal::AggregateRole.into());
    }
    let now = crate::now();
    let residents: Vec<i64> = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "SELECT DISTINCT resident_id FROM break_glass WHERE user_id = $1 AND expires_at > $2",
        )
        .bind(user.id)
        .bind(now)
        .fetch_all(pool)
        .await
    })
    .map_err(StoreError::from)?;
    Ok(Scope::Reach {
        root: user.reach.clone(),
        institution: user.institution_id,
        residents,
    })
}

/// Audit a list read of studies: allowed (with the scope's root) or the refusal.
async fn audit_search(
    store: &Store,
    viewer: &Viewer<'_>,
    what: &str,
    scope: &Result<Scope, AccessError>,
) -> Result<(), AccessError> {
    let root = viewer.user.reach.as_str().to_owned();
    let event = match scope {
        Ok(Scope::OwnRecord(r)) => Event::new(viewer.user.who(), Action::Read)
            .basis("own_record")
            .resident(*r),
        Ok(_) => Event::new(viewer.user.who(), Action::Read).basis("subtree"),
        Err(AccessError::Refused(refusal)) => Event::new(viewer.user.who(), Action::Denied)
            .outcome("denied")
            .basis(refusal_code(*refusal))
            .reason("read"),
        Err(_) => return Ok(()),
    }
    .object(what, root)
    .from_addr(viewer.remote_addr.clone());
    audit::append(store, &event).await?;
    Ok(())
}

/// Search studies (QIDO-RS, the study list) inside the viewer's scope; one audit row.
/// Returns the page and whether more rows follow.
pub async fn search_studies(
    store: &Store,
    viewer: &Viewer<'_>,
    query: &StudyQuery,
) -> Result<(Vec<Study>, bool), AccessError> {
    let scope = scope_of(store, viewer).await;
    audit_search(store, viewer, "imaging_study_list", &scope).await?;
    Ok(store_imaging::search_studies(store, &scope?, query).await?)
}

/// The studies waiting for a person to link them (grey band, then unmatched), inside the
/// viewer's scope; one audit row.
pub async fn match_queue(
    store: &Store,
    viewer: &Viewer<'_>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Study>, AccessError> {
    let scope = scope_of(store, viewer).await;
    audit_search(store, viewer, "imaging_match_queue", &scope).await?;
    Ok(store_imaging::match_queue(store, &scope?, limit, offset).await?)
}

/// Whether a clinical viewer may open a study that is linked to no resident: staff of the
/// sending institution or of one it is shared with, or a subtree that holds the sending
/// institution's division.
async fn may_open_unlinked(
    store: &Store,
    viewer: &Viewer<'_>,
    study: &Study,
) -> Result<Result<Basis, Refusal>> {
    let shared = match viewer.user.institution_id {
        Some(i) => store_imaging::shared_with(store, study.id, i).await?,
        None => false,
    };
    Ok(unlinked_rule(viewer, study, shared))
}

fn unlinked_rule(viewer: &Viewer<'_>, study: &Study, shared: bool) -> Result<Basis, Refusal> {
    let user = viewer.user;
    if user.role == Role::Resident {
        return Err(Refusal::NotOwnRecord);
    }
    if !user.role.reads_personal_records() {
        return Err(Refusal::AggregateRole);
    }
    let inside = DivisionCode::parse(&study.division)
        .map(|d| user.reach.contains(&d))
        .unwrap_or(false);
    if user.institution_id == Some(study.institution_id) || shared || inside {
        Ok(Basis::Subtree)
    } else {
        Err(Refusal::OutsideReach)
    }
}

/// Decide and audit a read of `study` (see the module docs). Every read is decided; an
/// allowed read that repeats one audited within the last minute (same user, study, basis
/// and address) is covered by that row (`crate::read_window`), so a viewer or a
/// DICOMweb client fetching a study image by image leaves one row per burst, not one per
/// image.
async fn check_study(store: &Store, viewer: &Viewer<'_>, study: &Study) -> Result<(), AccessError> {
    let decision = match study.resident_id {
        Some(resident) => decide(store, viewer, resident).await?,
        None => may_open_unlinked(store, viewer, study).await?,
    };
    let now = std::time::Instant::now();
    let key = decision.ok().map(|basis| ReadKey {
        user_id: viewer.user.id,
        object_type: "imaging_study",
        object_id: study.id,
        basis: basis.as_str(),
        remote_addr: viewer.remote_addr.clone(),
    });
    if let Some(key) = &key
        && store.recent_reads().covered(key, now)
    {
        return Ok(());
    }
    let event = match decision {
        Ok(basis) => Event::new(viewer.user.who(), Action::Read).basis(basis.as_str()),
        Err(refusal) => Event::new(viewer.user.who(), Action::Denied)
            .outcome("denied")
            .basis(refusal_code(refusal))
            .reason("read"),
    }
    .object("imaging_study", study.id)
    .from_addr(viewer.remote_addr.clone());
    let event = match study.resident_id {
        Some(resident) => event.resident(resident),
        None => event,
    };
    audit::append(store, &event).await?;
    decision?;
    if let Some(key) = key {
        store.recent_reads().record(key, now);
    }
    Ok(())
}

/// Open a study by its Study Instance UID: checked and audited.
pub async fn open_study(
    store: &Store,
    viewer: &Viewer<'_>,
    study_uid: &str,
) -> Result<Study, AccessError> {
    let study = store_imaging::study_by_uid(store, study_uid).await?;
    check_study(store, viewer, &study).await?;
    Ok(study)
}

/// A study for the job runner (the AI reading hook's draft): no person reads it here, so
/// there is no decision to audit; what the job writes is recorded by the report store.
pub async fn study_for_job(store: &Store, study_id: i64) -> Result<Study, AccessError> {
    Ok(store_imaging::study_by_id(store, study_id).await?)
}

/// Open a study by its id: checked and audited.
pub async fn open_study_by_id(
    store: &Store,
    viewer: &Viewer<'_>,
    study_id: i64,
) -> Result<Study, AccessError> {
    let study = store_imaging::study_by_id(store, study_id).await?;
    check_study(store, viewer, &study).await?;
    Ok(study)
}

/// The series of a study (QIDO-RS `/studies/{s}/series`): one audited read of the study.
pub async fn series_of(
    store: &Store,
    viewer: &Viewer<'_>,
    study_uid: &str,
) -> Result<(Study, Vec<Series>), AccessError> {
    let study = open_study(store, viewer, study_uid).await?;
    let series = store_imaging::series_of(store, study.id).await?;
    Ok((study, series))
}

/// Instances of a study, optionally of one series or one instance (QIDO-RS instances,
/// WADO-RS retrieve): one audited read of the study.
pub async fn instances_of(
    store: &Store,
    viewer: &Viewer<'_>,
    study_uid: &str,
    filter: &InstanceFilter,
) -> Result<(Study, Vec<Instance>), AccessError> {
    let study = open_study(store, viewer, study_uid).await?;
    let instances = store_imaging::instances_of(store, study.id, filter).await?;
    Ok((study, instances))
}

/// The stored DICOM JSON of the instances of a study, a series or one instance (WADO-RS
/// `/metadata`), each a JSON object text: one audited read of the study.
pub async fn metadata_of(
    store: &Store,
    viewer: &Viewer<'_>,
    study_uid: &str,
    series_uid: Option<&str>,
    sop_uid: Option<&str>,
) -> Result<Vec<String>, AccessError> {
    let study = open_study(store, viewer, study_uid).await?;
    Ok(store_imaging::metadata_of(store, study.id, series_uid, sop_uid).await?)
}

/// A resident's studies, newest first (the record's imaging tab, FHIR ImagingStudy by
/// patient): checked against the resident and audited.
pub async fn studies_of(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<Study>, AccessError> {
    read_checked(store, viewer, resident_id, "imaging_studies", resident_id).await?;
    let query = StudyQuery {
        resident_id: Some(resident_id),
        limit,
        offset,
        ..StudyQuery::default()
    };
    Ok(
        store_imaging::search_studies(store, &Scope::Everything, &query)
            .await?
            .0,
    )
}

/// Refuse, and audit the refusal of, a write about a study.
async fn refuse_write(
    store: &Store,
    viewer: &Viewer<'_>,
    refusal: Refusal,
    what: &str,
    id: &str,
    resident: Option<i64>,
) -> Result<AccessError, AccessError> {
    let mut event = Event::new(viewer.user.who(), Action::Denied)
        .outcome("denied")
        .basis(refusal_code(refusal))
        .reason(Action::Create.as_str())
        .object(what, id)
        .from_addr(viewer.remote_addr.clone());
    if let Some(r) = resident {
        event = event.resident(r);
    }
    audit::append(store, &event).await?;
    Ok(refusal.into())
}

/// Store (index) one received instance whose file is already in the blob store: see the
/// module docs for who may. Audited as `create` of the instance in the store's
/// transaction; a refusal is audited here.
pub async fn store_instance(
    store: &Store,
    viewer: &Viewer<'_>,
    new: &NewInstance,
) -> Result<Stored, AccessError> {
    let user = viewer.user;
    let institution = match (user.role, user.institution_id) {
        (Role::Radiologist | Role::Clinician, Some(i)) => i,
        _ => {
            return Err(refuse_write(
                store,
                viewer,
                Refusal::AggregateRole,
                "imaging_instance",
                "new",
                None,
            )
            .await?);
        }
    };
    let existing = match store_imaging::study_by_uid(store, &new.study_uid).await {
        Ok(study) => Some(study),
        Err(StoreError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let (matched, basis) = match &existing {
        Some(study) => {
            let decision = match study.resident_id {
                Some(r) => decide(store, viewer, r).await?,
                None => may_open_unlinked(store, viewer, study).await?,
            };
            match decision {
                Ok(basis) => (
                    store_imaging::MatchResult {
                        state: study.match_state,
                        resident_id: study.resident_id,
                        score: study.match_score,
                        candidates: Vec::new(),
                    },
                    basis.as_str(),
                ),
                Err(refusal) => {
                    return Err(refuse_write(
                        store,
                        viewer,
                        refusal,
                        "imaging_study",
                        &study.id.to_string(),
                        study.resident_id,
                    )
                    .await?);
                }
            }
        }
        None => (
            store_imaging::match_patient(store, new).await?,
            "performing_institution",
        ),
    };
    let event = Event::new(user.who(), Action::Create)
        .basis(basis)
        .from_addr(viewer.remote_addr.clone());
    Ok(
        store_imaging::store_instance(store, institution, Some(user.id), new, &matched, event)
            .await?,
    )
}

/// Link a waiting study to a resident (the match queue's decision): the viewer must be
/// able to open the study and to write the resident's record.
pub async fn link_study(
    store: &Store,
    viewer: &Viewer<'_>,
    study_id: i64,
    resident_id: i64,
) -> Result<(), AccessError> {
    let study = open_study_by_id(store, viewer, study_id).await?;
    if study.resident_id.is_some() {
        return Err(StoreError::Invalid(
            "该检查已关联居民 / this study is already linked to a resident".into(),
        )
        .into());
    }
    let event = write_checked(store, viewer, resident_id).await?;
    Ok(store_imaging::link(store, study.id, resident_id, event).await?)
}

/// Share a study with another institution for `lasts` (a consultation, a referral): the
/// viewer must be able to open it and hold a clinical role.
pub async fn share_study(
    store: &Store,
    viewer: &Viewer<'_>,
    study_uid: &str,
    institution_id: i64,
    reason: &str,
    lasts: Duration,
) -> Result<i64, AccessError> {
    let study = open_study(store, viewer, study_uid).await?;
    if !matches!(viewer.user.role, Role::Radiologist | Role::Clinician) {
        return Err(refuse_write(
            store,
            viewer,
            Refusal::AggregateRole,
            "imaging_study",
            &study.id.to_string(),
            study.resident_id,
        )
        .await?);
    }
    crate::org::get(store, institution_id).await?;
    let mut event = Event::new(viewer.user.who(), Action::Create)
        .basis("study")
        .reason(reason)
        .from_addr(viewer.remote_addr.clone());
    if let Some(r) = study.resident_id {
        event = event.resident(r);
    }
    Ok(store_imaging::share(
        store,
        study.id,
        institution_id,
        reason,
        Some(viewer.user.id),
        lasts,
        event,
    )
    .await?)
}
