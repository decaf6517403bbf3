//! The access gate of the maintained indicator figures (`crate::indicator`). Figures are
//! aggregates without personal data: anyone whose role sees aggregates may read those of a
//! division inside their reach ([`rules::may_see_aggregate`]). The residents behind a figure
//! are opened through the gates of the modules that own them (the drill-down links of the
//! dashboard go to those pages), never from here.

use yiwei_domain::access::{self as rules, Refusal};
use yiwei_domain::division::DivisionCode;
use yiwei_domain::indicator::Period;

use super::{AccessError, Viewer};
use crate::Store;
use crate::indicator::{self, Figure};

/// The figures of `indicators` in `periods` inside `root`, grouped by code prefix of
/// `group_digits`, if `root` is inside the viewer's reach.
pub async fn indicator_figures(
    store: &Store,
    viewer: &Viewer<'_>,
    root: &DivisionCode,
    indicators: &[&str],
    periods: &[Period],
    group_digits: usize,
) -> Result<Vec<Figure>, AccessError> {
    if !rules::may_see_aggregate(&viewer.user.actor(), root) {
        return Err(Refusal::OutsideReach.into());
    }
    Ok(indicator::figures(store, root, indicators, periods, group_digits).await?)
}

/// The sex, age-group and key-group strata of `indicators` in `period`, summed over `root`,
/// if `root` is inside the viewer's reach (aggregates, like the totals).
pub async fn indicator_strata(
    store: &Store,
    viewer: &Viewer<'_>,
    root: &DivisionCode,
    indicators: &[&str],
    period: Period,
) -> Result<Vec<indicator::Stratum>, AccessError> {
    if !rules::may_see_aggregate(&viewer.user.actor(), root) {
        return Err(Refusal::OutsideReach.into());
    }
    Ok(indicator::strata(store, root, indicators, period).await?)
}
