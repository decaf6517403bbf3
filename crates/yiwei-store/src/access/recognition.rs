//! The gate for radiology reports, mutual recognition (互认) and patients' share links.
//!
//! - Reports: opening a study's report is a read of the study (`imaging::open_study_by_id`,
//!   audited, ties and break-glass as for any study). A resident sees only signed versions
//!   of their own studies. Writing (draft, sign, amend) needs a radiologist who may open
//!   the study; the state rule is `yiwei_domain::report::step`. The AI hook writes a first
//!   draft as the system (`attach_ai_draft`), audited under the model's name.
//! - Recognition: the offers (a resident's prior results with the rule's answer) are a read
//!   of the resident; a decision is a clinical write about the resident (clinician roles,
//!   reach or ties), audited in the ledger's transaction. The figures are aggregates: any
//!   staff role, no audit row.
//! - Share links: only the resident (their own account) makes or revokes a link to their
//!   own study. Opening a link is anonymous: every attempt, right or wrong, is audited as
//!   the link (`share_link:<id>`), with the resident named, so the resident sees it among
//!   who opened their record.

use chrono::NaiveDate;
use yiwei_domain::access::{Refusal, Role};
use yiwei_domain::recognition::Decision;
use yiwei_domain::report::{self as report_rules, Content, Status, Step};
use yiwei_domain::share_link::{self as link_rules, ShareError};

use super::{AccessError, Viewer, read_checked, write_checked};
use crate::audit::{self, Action, Event, Who};
use crate::imaging::Study;
use crate::imaging_report::{self as store_report, Report, ReportQuery};
use crate::recognition::{self as store_recognition, Context, NewRecognition, Offer, Recognition};
use crate::share_link::{self as store_link, ShareLink};
use crate::{Result, Store, StoreError};

fn invalid(e: impl std::fmt::Display) -> AccessError {
    StoreError::Invalid(e.to_string()).into()
}

/// A study and its report versions (newest first), as the viewer may see them: a
/// resident only the signed ones. One audited read of the study.
pub async fn report_of(
    store: &Store,
    viewer: &Viewer<'_>,
    study_id: i64,
) -> Result<(Study, Vec<Report>), AccessError> {
    let study = super::imaging::open_study_by_id(store, viewer, study_id).await?;
    let mut versions = store_report::versions(store, study.id).await?;
    if viewer.user.role == Role::Resident {
        versions.retain(|r| r.status.is_signed());
    }
    Ok((study, versions))
}

/// Save, sign or amend the report of a study: see the module docs. Returns the written
/// version's id.
pub async fn write_report(
    store: &Store,
    viewer: &Viewer<'_>,
    study_id: i64,
    step: Step,
    content: &Content,
) -> Result<i64, AccessError> {
    let study = super::imaging::open_study_by_id(store, viewer, study_id).await?;
    let current = store_report::versions(store, study.id).await?;
    let current_status = current.first().map(|r| r.status);
    let status = report_rules::step(current_status, step, Some(viewer.user.role), content)
        .map_err(invalid)?;
    let action = if current.is_empty() || status == Status::Amended {
        Action::Create
    } else {
        Action::Update
    };
    let mut event = Event::new(viewer.user.who(), action)
        .basis(status.as_str())
        .from_addr(viewer.remote_addr.clone());
    if let Some(r) = study.resident_id {
        event = event.resident(r);
    }
    // An amendment keeps the AI provenance of what it amends only in the old version.
    let ai_model = current
        .first()
        .filter(|r| !r.status.is_signed())
        .and_then(|r| r.ai_model.clone());
    Ok(store_report::write(
        store,
        study.id,
        study.resident_id,
        status,
        content,
        Some(viewer.user.id),
        ai_model.as_deref(),
        event,
    )
    .await?)
}

/// Attach a reading model's findings to a study as its AI draft (`preliminary`): only
/// when the study has no report yet. Run by the system after a study is stored or from a
/// radiologist's "run AI" button; audited as the model.
pub async fn attach_ai_draft(
    store: &Store,
    study: &Study,
    model: &str,
    content: &Content,
) -> Result<i64, AccessError> {
    let current = store_report::versions(store, study.id).await?;
    let status = report_rules::step(
        current.first().map(|r| r.status),
        Step::AttachAiDraft,
        None,
        content,
    )
    .map_err(invalid)?;
    let who = Who {
        user_id: None,
        username: Some("reading_model".into()),
        role: None,
        institution_id: None,
    };
    let mut event = Event::new(who, Action::Create)
        .basis("ai_draft")
        .reason(model);
    if let Some(r) = study.resident_id {
        event = event.resident(r);
    }
    Ok(store_report::write(
        store,
        study.id,
        study.resident_id,
        status,
        content,
        None,
        Some(model),
        event,
    )
    .await?)
}

/// One report version by id (FHIR DiagnosticReport read): checked through its study.
pub async fn open_report(
    store: &Store,
    viewer: &Viewer<'_>,
    report_id: i64,
) -> Result<(Study, Report), AccessError> {
    let report = store_report::by_id(store, report_id).await?;
    let study = super::imaging::open_study_by_id(store, viewer, report.study_id).await?;
    if viewer.user.role == Role::Resident && !report.status.is_signed() {
        return Err(StoreError::NotFound("imaging_report").into());
    }
    Ok((study, report))
}

/// Reports of a resident (FHIR DiagnosticReport search by patient): one audited read of
/// the resident. A resident gets only signed reports.
pub async fn reports_of(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    mut query: ReportQuery,
) -> Result<Vec<Report>, AccessError> {
    read_checked(store, viewer, resident_id, "imaging_reports", resident_id).await?;
    query.resident_id = Some(resident_id);
    let mut reports = store_report::search(store, &query).await?;
    if viewer.user.role == Role::Resident {
        reports.retain(|r| r.status.is_signed());
    }
    Ok(reports)
}

/// The resident's prior results that are exams of catalogue items, with the rule's answer
/// for an order on `order_date`; `only` narrows to one exam (modality, body part). One
/// audited read of the resident.
pub async fn offers(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    order_date: NaiveDate,
    only: Option<(&str, &str)>,
) -> Result<Vec<(Offer, Option<Report>)>, AccessError> {
    read_checked(
        store,
        viewer,
        resident_id,
        "recognition_offers",
        resident_id,
    )
    .await?;
    let offers = store_recognition::offers(store, resident_id, order_date, only).await?;
    let mut out = Vec::with_capacity(offers.len());
    for offer in offers {
        let report = store_report::versions(store, offer.study.id)
            .await?
            .into_iter()
            .find(|r| r.status.is_signed());
        out.push((offer, report));
    }
    Ok(out)
}

/// A clinician's decision on a prior result.
#[derive(Clone, Debug)]
pub struct DecisionInput {
    pub resident_id: i64,
    pub prior_study_id: i64,
    pub item_code: String,
    pub context: Context,
    pub context_id: Option<i64>,
    pub decision: Decision,
    /// The county date of the order (today for a new order).
    pub order_date: NaiveDate,
}

/// Record a decision in the ledger: the prior study must be the resident's, an exam of
/// the item, and recognisable on the order date (a result that is not offers nothing to
/// recognise). Audited as a write about the resident.
pub async fn record_decision(
    store: &Store,
    viewer: &Viewer<'_>,
    input: &DecisionInput,
) -> Result<i64, AccessError> {
    let event = write_checked(store, viewer, input.resident_id).await?;
    let Some(ordering_institution_id) = viewer.user.institution_id else {
        return Err(invalid(
            "您的账号不属于任何机构 / your account belongs to no institution",
        ));
    };
    let offers =
        store_recognition::offers(store, input.resident_id, input.order_date, None).await?;
    let offer = offers
        .iter()
        .find(|o| o.study.id == input.prior_study_id && o.item.code == input.item_code)
        .ok_or(StoreError::NotFound("recognition offer"))?;
    let recognisable = offer.decision.clone().map_err(invalid)?;
    let division = crate::resident::scope(store, input.resident_id)
        .await?
        .division
        .as_str()
        .to_owned();
    let new = NewRecognition {
        resident_id: input.resident_id,
        division: &division,
        item: &offer.item,
        hr_scope: &recognisable.hr_scope,
        prior: &offer.study,
        ordering_institution_id,
        context: input.context,
        context_id: input.context_id,
        decision: &input.decision,
        clinician_id: viewer.user.id,
    };
    Ok(store_recognition::record(store, &new, event.resident(input.resident_id)).await?)
}

/// A resident's ledger rows (the record page): one audited read of the resident.
pub async fn recognitions_of(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
) -> Result<Vec<Recognition>, AccessError> {
    read_checked(store, viewer, resident_id, "recognitions", resident_id).await?;
    Ok(store_recognition::of_resident(store, resident_id).await?)
}

/// The recognition figures for months `from..=to`: staff roles only (aggregates).
pub async fn figures(
    store: &Store,
    viewer: &Viewer<'_>,
    from: &str,
    to: &str,
) -> Result<Vec<store_recognition::Figure>, AccessError> {
    if viewer.user.role == Role::Resident {
        return Err(Refusal::NotOwnRecord.into());
    }
    Ok(store_recognition::figures(store, from, to).await?)
}

/// A new share link as shown once to the resident.
#[derive(Clone, Debug)]
pub struct NewLink {
    pub id: i64,
    pub token: String,
    pub pin: String,
}

/// Refuse (and audit) a share-link action that is not the resident's own.
async fn not_own(
    store: &Store,
    viewer: &Viewer<'_>,
    what: &str,
    id: i64,
) -> Result<AccessError, AccessError> {
    let event = Event::new(viewer.user.who(), Action::Denied)
        .outcome("denied")
        .basis("not_own_record")
        .object(what, id)
        .from_addr(viewer.remote_addr.clone());
    audit::append(store, &event).await?;
    Ok(Refusal::NotOwnRecord.into())
}

/// A fresh random PIN of [`link_rules::PIN_DIGITS`] digits.
fn random_pin() -> String {
    let mut bytes = [0u8; 8];
    crate::crypto::fill_random(&mut bytes);
    let n = u64::from_le_bytes(bytes) % 10u64.pow(link_rules::PIN_DIGITS as u32);
    format!("{n:0width$}", width = link_rules::PIN_DIGITS)
}

/// Make a share link to one of the resident's own studies lasting `hours` (default when
/// `None`): the token and a random PIN are returned once and never stored.
pub async fn create_share_link(
    store: &Store,
    viewer: &Viewer<'_>,
    study_id: i64,
    hours: Option<i64>,
) -> Result<NewLink, AccessError> {
    let lasts = link_rules::lifetime(hours).map_err(invalid)?;
    let study = crate::imaging::study_by_id(store, study_id).await?;
    let own = viewer.user.role == Role::Resident
        && viewer.user.resident_id.is_some()
        && study.resident_id == viewer.user.resident_id;
    let Some(resident_id) = study.resident_id.filter(|_| own) else {
        return Err(not_own(store, viewer, "imaging_study", study_id).await?);
    };
    let pin = random_pin();
    let event = Event::new(viewer.user.who(), Action::Create)
        .basis("own_record")
        .resident(resident_id)
        .from_addr(viewer.remote_addr.clone());
    let (id, token) = store_link::create(
        store,
        study.id,
        resident_id,
        viewer.user.id,
        &pin,
        lasts,
        event,
    )
    .await?;
    Ok(NewLink { id, token, pin })
}

/// The viewer's own share links (a resident's account), newest first.
pub async fn my_share_links(
    store: &Store,
    viewer: &Viewer<'_>,
) -> Result<Vec<ShareLink>, AccessError> {
    match (viewer.user.role, viewer.user.resident_id) {
        (Role::Resident, Some(r)) => Ok(store_link::of_resident(store, r).await?),
        _ => Err(Refusal::NotOwnRecord.into()),
    }
}

/// Revoke one of the viewer's own links.
pub async fn revoke_share_link(
    store: &Store,
    viewer: &Viewer<'_>,
    link_id: i64,
) -> Result<(), AccessError> {
    let mine = my_share_links(store, viewer).await?;
    let Some(link) = mine.iter().find(|l| l.id == link_id) else {
        return Err(not_own(store, viewer, "imaging_share_link", link_id).await?);
    };
    let event = Event::new(viewer.user.who(), Action::Delete)
        .basis("own_record")
        .resident(link.resident_id)
        .from_addr(viewer.remote_addr.clone());
    Ok(store_link::revoke(store, link.id, event).await?)
}

/// Why a share link did not open.
#[derive(Debug, thiserror::Error)]
pub enum ShareOpenError {
    #[error("分享链接不存在 / no such share link")]
    Unknown,
    #[error(transparent)]
    Rule(#[from] ShareError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn link_who(link: &ShareLink) -> Who {
    Who {
        user_id: None,
        username: Some(format!("share_link:{}", link.id)),
        role: None,
        institution_id: None,
    }
}

/// The link a token names, if it is usable now (not revoked, expired or locked); no PIN
/// is checked and nothing is audited. For a page that only asks for the PIN.
pub async fn peek_share_link(store: &Store, token: &str) -> Result<ShareLink, ShareOpenError> {
    let link = match store_link::by_token(store, token).await {
        Ok(l) => l,
        Err(StoreError::NotFound(_)) => return Err(ShareOpenError::Unknown),
        Err(e) => return Err(e.into()),
    };
    link_rules::check_usable(&link.state(), crate::now())?;
    Ok(link)
}

/// Open a share link with its PIN: the study on success. Every attempt is audited; wrong
/// PINs count towards the lock (see `yiwei_domain::share_link`).
pub async fn open_share_link(
    store: &Store,
    token: &str,
    pin: &str,
    remote_addr: Option<String>,
) -> Result<(ShareLink, Study), ShareOpenError> {
    let link = match store_link::by_token(store, token).await {
        Ok(l) => l,
        Err(StoreError::NotFound(_)) => return Err(ShareOpenError::Unknown),
        Err(e) => return Err(e.into()),
    };
    let pin_ok = link_rules::parse_pin(pin)
        .map(|p| store_link::pin_matches(store, &link, &p))
        .unwrap_or(false);
    let (failures, outcome) = link_rules::attempt(&link.state(), crate::now(), pin_ok);
    let event = match &outcome {
        Ok(()) => Event::new(link_who(&link), Action::Read).basis("share_link"),
        Err(e) => Event::new(link_who(&link), Action::Denied)
            .outcome("denied")
            .basis(match e {
                ShareError::Expired => "expired",
                ShareError::Revoked => "revoked",
                ShareError::Locked => "locked",
                _ => "wrong_pin",
            }),
    }
    .object("imaging_study", link.study_id)
    .resident(link.resident_id)
    .from_addr(remote_addr);
    store_link::record_attempt(store, link.id, failures, outcome.is_ok(), event).await?;
    outcome?;
    let study = crate::imaging::study_by_id(store, link.study_id).await?;
    Ok((link, study))
}

/// The study behind a link that was opened with its PIN earlier in this browser (the
/// web layer keeps a signed grant): usable-only check, no PIN, no audit row (the open
/// was audited). Used for the images of the shared view.
pub async fn shared_study(
    store: &Store,
    link_id: i64,
) -> Result<(ShareLink, Study), ShareOpenError> {
    let link = crate::share_link::by_id(store, link_id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => ShareOpenError::Unknown,
            e => e.into(),
        })?;
    link_rules::check_usable(&link.state(), crate::now())?;
    let study = crate::imaging::study_by_id(store, link.study_id).await?;
    Ok((link, study))
}

/// The signed report of a shared study (the outside doctor's view), if one exists.
pub async fn shared_report(store: &Store, study_id: i64) -> Result<Option<Report>> {
    Ok(store_report::versions(store, study_id)
        .await?
        .into_iter()
        .find(|r| r.status.is_signed()))
}

/// The series and instances of a shared study (the outside doctor's viewer), after
/// [`shared_study`] has checked the link.
pub async fn shared_images(
    store: &Store,
    study: &Study,
) -> Result<(Vec<crate::imaging::Series>, Vec<crate::imaging::Instance>)> {
    let series = crate::imaging::series_of(store, study.id).await?;
    let instances =
        crate::imaging::instances_of(store, study.id, &crate::imaging::InstanceFilter::default())
            .await?;
    Ok((series, instances))
}
