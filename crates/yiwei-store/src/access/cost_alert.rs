//! The access gate of the cost alerts (防返贫监测预警, `crate::cost_alert`).
//!
//! Who may do what (docs/cost_alerts.md says the same for operators):
//! - township (and village) staff with a clinical role see the alerts of their reach with
//!   names, open an alert with the charges behind it and record household checks; each
//!   list is one audited read, each alert one audited read of the resident, each check an
//!   audited update in the same transaction;
//! - the county health bureau (county admin, analyst) sees every alert of its reach, with
//!   the name masked (their roles read no personal records), the checks and the
//!   statistics, edits the rules and reopens a closed alert whose check was wanting;
//! - the unmatched-charges queue holds names and ID cards: staff with county reach see
//!   all of it, other staff the charges their own institution sent; attaching a charge
//!   needs the right to open the target record and is audited;
//! - residents see none of this here (their own charges belong to their record).

use chrono::NaiveDate;
use yiwei_domain::access::{self as rules, Refusal, Role};
use yiwei_domain::cost_alert::{AlertStatus, CheckInput, Month, Rule};
use yiwei_domain::division::{DivisionCode, Level};

use super::{AccessError, Viewer, audit_list, list_decision, read_checked, write_checked};
use crate::audit::{self, Action, Event};
use crate::cost_alert::{
    self as store, Alert, AlertFilter, CheckFailed, CheckRecord, StatRow, StoredCharge,
};
use crate::{Result, Store, StoreError};

/// Whether the role is the county health bureau's (sees all alerts, masked; edits rules).
pub fn is_bureau(role: Role) -> bool {
    matches!(role, Role::CountyAdmin | Role::Analyst)
}

/// A page of alerts and whether the names in it are masked.
#[derive(Clone, Debug)]
pub struct AlertPage {
    pub alerts: Vec<Alert>,
    pub total: i64,
    pub masked: bool,
}

fn mask_alert(mut a: Alert) -> Alert {
    a.resident_name = yiwei_domain::mask::name(&a.resident_name);
    a
}

/// Alerts under `filter.root`: audited as one read of the list.
pub async fn alert_list(
    store: &Store,
    viewer: &Viewer<'_>,
    filter: &AlertFilter,
    limit: i64,
    offset: i64,
) -> Result<AlertPage, AccessError> {
    let role = viewer.user.role;
    if is_bureau(role) {
        let refused = (!viewer.user.reach.contains(&filter.root)).then_some(Refusal::OutsideReach);
        let event = match refused {
            None => Event::new(viewer.user.who(), Action::Read).basis("bureau_masked"),
            Some(_) => Event::new(viewer.user.who(), Action::Denied)
                .outcome("denied")
                .basis("outside_reach"),
        }
        .object("cost_alert_list", filter.root.as_str())
        .from_addr(viewer.remote_addr.clone());
        audit_list(store, &event, refused).await?;
        let (alerts, total) = store::alerts(store, filter, limit, offset).await?;
        return Ok(AlertPage {
            alerts: alerts.into_iter().map(mask_alert).collect(),
            total,
            masked: true,
        });
    }
    let (event, refusal) = list_decision(viewer, &filter.root, Action::Read);
    let event = event.object("cost_alert_list", filter.root.as_str());
    audit_list(store, &event, refusal).await?;
    let (alerts, total) = store::alerts(store, filter, limit, offset).await?;
    Ok(AlertPage {
        alerts,
        total,
        masked: false,
    })
}

/// One alert as its page shows it.
#[derive(Clone, Debug)]
pub struct AlertView {
    pub alert: Alert,
    /// The charges in the alert's window (empty for the bureau, which reads no records).
    pub charges: Vec<StoredCharge>,
    pub checks: Vec<CheckRecord>,
    pub masked: bool,
}

/// Open an alert: for staff a checked and audited read of the resident; for the bureau
/// the masked alert and its checks, audited as a read of the alert.
pub async fn open_alert(
    store: &Store,
    viewer: &Viewer<'_>,
    alert_id: i64,
) -> Result<AlertView, AccessError> {
    let (resident_id, division) = store::alert_scope(store, alert_id).await?;
    if is_bureau(viewer.user.role) {
        let refused = (!viewer.user.reach.contains(&division)).then_some(Refusal::OutsideReach);
        let event = match refused {
            None => Event::new(viewer.user.who(), Action::Read).basis("bureau_masked"),
            Some(_) => Event::new(viewer.user.who(), Action::Denied)
                .outcome("denied")
                .basis("outside_reach"),
        }
        .object("cost_alert", alert_id)
        .from_addr(viewer.remote_addr.clone());
        audit_list(store, &event, refused).await?;
        return Ok(AlertView {
            alert: mask_alert(store::alert(store, alert_id).await?),
            charges: Vec::new(),
            checks: store::checks(store, alert_id).await?,
            masked: true,
        });
    }
    read_checked(store, viewer, resident_id, "cost_alert", alert_id).await?;
    let alert = store::alert(store, alert_id).await?;
    let charges =
        store::charges_of(store, resident_id, alert.window_start, alert.window_end).await?;
    Ok(AlertView {
        checks: store::checks(store, alert_id).await?,
        alert,
        charges,
        masked: false,
    })
}

/// Record a household check (入户核查) on an alert the viewer may open, as a clinical
/// role (township or village staff).
pub async fn record_check(
    store: &Store,
    viewer: &Viewer<'_>,
    alert_id: i64,
    expected_version: i64,
    input: &CheckInput,
    today: NaiveDate,
) -> Result<AlertStatus, CheckFailed> {
    let (resident_id, _) = store::alert_scope(store, alert_id).await?;
    let event = write_checked(store, viewer, resident_id)
        .await
        .map_err(access_to_check)?;
    let mut event = event;
    event.action = Action::Update;
    store::record_check(
        store,
        alert_id,
        expected_version,
        input,
        Some(viewer.user.id),
        today,
        event,
    )
    .await
}

fn access_to_check(e: AccessError) -> CheckFailed {
    match e {
        AccessError::Store(s) => CheckFailed::Store(s),
        AccessError::Refused(r) => CheckFailed::Refused(r),
        other => CheckFailed::Store(StoreError::Invalid(format!(
            "无权登记此预警的核查 / you may not record a check on this alert ({other})"
        ))),
    }
}

/// Reopen a closed alert, by the bureau within its reach; audited in the change.
pub async fn reopen(
    store: &Store,
    viewer: &Viewer<'_>,
    alert_id: i64,
    expected_version: i64,
    note: &str,
    today: NaiveDate,
) -> Result<AlertStatus, CheckFailed> {
    let (resident_id, division) = store::alert_scope(store, alert_id).await?;
    if !is_bureau(viewer.user.role) || !viewer.user.reach.contains(&division) {
        let event = Event::new(viewer.user.who(), Action::Denied)
            .outcome("denied")
            .basis("not_bureau")
            .reason("reopen")
            .object("cost_alert", alert_id)
            .resident(resident_id)
            .from_addr(viewer.remote_addr.clone());
        audit::append(store, &event).await?;
        return Err(CheckFailed::Refused(Refusal::OutsideReach));
    }
    let event = Event::new(viewer.user.who(), Action::Update)
        .basis("bureau")
        .from_addr(viewer.remote_addr.clone());
    store::reopen(
        store,
        alert_id,
        expected_version,
        note,
        Some(viewer.user.id),
        today,
        event,
    )
    .await
}

/// Whether the viewer sees the whole unmatched queue (county reach) or only their
/// institution's part; None: not at all.
fn unmatched_scope(viewer: &Viewer<'_>) -> Option<Option<i64>> {
    let role = viewer.user.role;
    if role == Role::Resident || !role.reads_personal_records() {
        return None;
    }
    if viewer.user.reach.level() <= Level::County {
        Some(None)
    } else {
        viewer.user.institution_id.map(Some)
    }
}

/// The unmatched charges the viewer may see: audited as one read of the list.
pub async fn unmatched_list(
    store: &Store,
    viewer: &Viewer<'_>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<StoredCharge>, i64), AccessError> {
    let scope = unmatched_scope(viewer);
    let event = match scope {
        Some(_) => Event::new(viewer.user.who(), Action::Read).basis(match scope {
            Some(None) => "county_reach",
            _ => "own_institution",
        }),
        None => Event::new(viewer.user.who(), Action::Denied)
            .outcome("denied")
            .basis("aggregate_role"),
    }
    .object("cost_charge_unmatched", "list")
    .from_addr(viewer.remote_addr.clone());
    audit_list(
        store,
        &event,
        scope.is_none().then_some(Refusal::AggregateRole),
    )
    .await?;
    let institution = scope.flatten();
    Ok(store::unmatched(store, institution, limit, offset).await?)
}

/// Attach an unmatched charge to a resident the viewer may open.
pub async fn attach_charge(
    store: &Store,
    viewer: &Viewer<'_>,
    charge_id: i64,
    resident_id: i64,
) -> Result<(), AccessError> {
    let charge = store::charge(store, charge_id).await?;
    match unmatched_scope(viewer) {
        Some(None) => {}
        Some(Some(inst)) if inst == charge.institution_id => {}
        _ => {
            let event = Event::new(viewer.user.who(), Action::Denied)
                .outcome("denied")
                .basis("outside_reach")
                .object("cost_charge", charge_id)
                .from_addr(viewer.remote_addr.clone());
            audit::append(store, &event).await?;
            return Err(Refusal::OutsideReach.into());
        }
    }
    let mut event = write_checked(store, viewer, resident_id).await?;
    event.action = Action::Update;
    Ok(store::attach(store, charge_id, resident_id, Some(viewer.user.id), event).await?)
}

/// Whether the user may change the rules: the county bureau.
pub fn may_edit_rules(role: Role) -> bool {
    is_bureau(role)
}

/// Add or change a rule, by the bureau. The rule table keeps who and when.
pub async fn save_rule(
    store: &Store,
    viewer: &Viewer<'_>,
    id: Option<i64>,
    expected_version: i64,
    rule: &Rule,
    note: &str,
) -> Result<i64> {
    if !may_edit_rules(viewer.user.role) {
        return Err(StoreError::Invalid(
            "只有县级管理员或卫健局统计人员可以修改预警规则 / only the county admin or the bureau's analyst may change alert rules"
                .into(),
        ));
    }
    store::save_rule(
        store,
        id,
        expected_version,
        rule,
        Some(viewer.user.id),
        note,
    )
    .await
}

/// Statistics of `root` (counts only): any role that sees aggregates of it.
pub async fn stats(
    store: &Store,
    viewer: &Viewer<'_>,
    root: &DivisionCode,
    from: Month,
    to: Month,
) -> Result<Vec<StatRow>, AccessError> {
    if !rules::may_see_aggregate(&viewer.user.actor(), root) {
        return Err(Refusal::OutsideReach.into());
    }
    Ok(store::stats(store, root, from, to).await?)
}

/// Submit a batch of charges (import, FHIR) as a staff user of any institution; one audit
/// event for the batch (the charges name residents, but nothing is read back).
pub async fn submit_charges(
    store: &Store,
    viewer: &Viewer<'_>,
    rows: &[store::NewCharge],
    source: &str,
) -> Result<Vec<store::Submitted>, AccessError> {
    let role = viewer.user.role;
    if role == Role::Resident {
        let event = Event::new(viewer.user.who(), Action::Denied)
            .outcome("denied")
            .basis("not_own_record")
            .object("cost_charge_batch", source)
            .from_addr(viewer.remote_addr.clone());
        audit::append(store, &event).await?;
        return Err(Refusal::NotOwnRecord.into());
    }
    let out = store::submit_charges(store, rows).await?;
    let event = Event::new(viewer.user.who(), Action::Create)
        .basis("submit_charges")
        .object("cost_charge_batch", format!("{source}:{}", out.len()))
        .from_addr(viewer.remote_addr.clone());
    audit::append(store, &event).await?;
    Ok(out)
}

/// A resident's charges with a visit date in `[from, to]`: a checked and audited read of
/// the resident (FHIR ChargeItem search).
pub async fn charges_of(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<StoredCharge>, AccessError> {
    read_checked(store, viewer, resident_id, "cost_charges", resident_id).await?;
    Ok(store::charges_of(store, resident_id, from, to).await?)
}

/// One charge: a matched one is a read of its resident; an unmatched one is for those who
/// see the unmatched queue (county reach, or the submitting institution).
pub async fn open_charge(
    store: &Store,
    viewer: &Viewer<'_>,
    charge_id: i64,
) -> Result<StoredCharge, AccessError> {
    let charge = store::charge(store, charge_id).await?;
    match charge.resident_id {
        Some(resident_id) => {
            read_checked(store, viewer, resident_id, "cost_charge", charge_id).await?;
        }
        None => {
            let allowed = match unmatched_scope(viewer) {
                Some(None) => true,
                Some(Some(inst)) => inst == charge.institution_id,
                None => false,
            };
            let event = if allowed {
                Event::new(viewer.user.who(), Action::Read).basis("unmatched_queue")
            } else {
                Event::new(viewer.user.who(), Action::Denied)
                    .outcome("denied")
                    .basis("outside_reach")
            }
            .object("cost_charge", charge_id)
            .from_addr(viewer.remote_addr.clone());
            audit_list(store, &event, (!allowed).then_some(Refusal::OutsideReach)).await?;
        }
    }
    Ok(charge)
}

/// A resident's alerts, newest month first: a checked and audited read of the record.
pub async fn alerts_of(
    store: &Store,
    viewer: &Viewer<'_>,
    resident_id: i64,
    filter: &AlertFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Alert>, i64), AccessError> {
    read_checked(store, viewer, resident_id, "cost_alerts", resident_id).await?;
    let scope = crate::resident::scope(store, resident_id).await?;
    // The resident's alerts wherever they lived (an alert keeps the village of its month).
    let root = scope
        .division
        .ancestor_at(Level::County)
        .unwrap_or(scope.division);
    let f = AlertFilter {
        root,
        resident_id: Some(resident_id),
        ..filter.clone()
    };
    Ok(store::alerts(store, &f, limit, offset).await?)
}
