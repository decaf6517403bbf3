//! What happens to a card and to a warning signal after they are written: duplicate
//! detection, reporting timeliness, the CDC review of a card, and the signal workflow.
//!
//! - **Duplicates.** A second card for the same resident and the same disease (and
//!   subtype) diagnosed within a window of the first is a *probable duplicate*: it is
//!   stored, never refused, and routed to CDC review with a pointer to the first. The
//!   window is configuration (`notifiable.duplicate_window_days`, default 30 days); no
//!   national figure was found, so this is local practice (unconfirmed). Deleted and
//!   returned cards do not count.
//! - **Timeliness (报告及时率).** A card is on time when it reached the system within the
//!   disease's deadline (2 h or 24 h, [`super::disease::Disease::deadline_hours`]) of the
//!   diagnosis time (`domain.md` §4 \[S\]).
//! - **Review (审核).** A CDC reviewer accepts a card, returns it for correction with a
//!   reason, deletes it as a duplicate with a reason, or revises the diagnosis (订正), which
//!   writes a correction card and supersedes the original.
//! - **Signals (预警信号).** raised → assigned → verified (true outbreak or not, with
//!   notes) → response → closed, following the CIDARS response chain (verify → investigate
//!   → judge, `domain.md` §5 \[S\]). A signal judged "not an outbreak" may close without a
//!   response.

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// The default duplicate window (days). Local practice, unconfirmed.
pub const DEFAULT_DUPLICATE_WINDOW_DAYS: i64 = 30;

/// An earlier card of the same resident, as duplicate detection sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prior {
    pub id: i64,
    pub disease: String,
    pub subtype: Option<String>,
    pub diagnosed_on: NaiveDate,
    /// Deleted and returned cards do not count.
    pub live: bool,
}

/// The earliest live prior card of the same disease and subtype diagnosed within
/// `window_days` (either side) of `diagnosed_on`.
pub fn probable_duplicate(
    priors: &[Prior],
    disease: &str,
    subtype: Option<&str>,
    diagnosed_on: NaiveDate,
    window_days: i64,
) -> Option<i64> {
    priors
        .iter()
        .filter(|p| {
            p.live
                && p.disease == disease
                && p.subtype.as_deref() == subtype
                && (p.diagnosed_on - diagnosed_on).num_days().abs() <= window_days
        })
        .min_by_key(|p| (p.diagnosed_on, p.id))
        .map(|p| p.id)
}

/// Whether a card reported at `reported_at` for a diagnosis at `diagnosed_at` met a
/// deadline of `deadline_hours`; and how many minutes it took.
pub fn timeliness(
    diagnosed_at: DateTime<Utc>,
    reported_at: DateTime<Utc>,
    deadline_hours: i64,
) -> (bool, i64) {
    let taken = reported_at - diagnosed_at;
    (
        taken <= Duration::hours(deadline_hours),
        taken.num_minutes().max(0),
    )
}

/// Where a card stands in CDC review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardStatus {
    /// 待审核.
    Pending,
    /// 疑似重卡, waiting for review.
    ProbableDuplicate,
    /// 已审核.
    Accepted,
    /// 退回订正: the reporting clinician must correct and resubmit.
    Returned,
    /// 已删除 (重卡).
    Deleted,
    /// 已订正: replaced by a correction card.
    Superseded,
}

impl CardStatus {
    pub const ALL: [CardStatus; 6] = [
        CardStatus::Pending,
        CardStatus::ProbableDuplicate,
        CardStatus::Accepted,
        CardStatus::Returned,
        CardStatus::Deleted,
        CardStatus::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CardStatus::Pending => "pending",
            CardStatus::ProbableDuplicate => "probable_duplicate",
            CardStatus::Accepted => "accepted",
            CardStatus::Returned => "returned",
            CardStatus::Deleted => "deleted",
            CardStatus::Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> Option<CardStatus> {
        CardStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            CardStatus::Pending => "待审核",
            CardStatus::ProbableDuplicate => "疑似重卡",
            CardStatus::Accepted => "已审核",
            CardStatus::Returned => "退回订正",
            CardStatus::Deleted => "已删除",
            CardStatus::Superseded => "已订正",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            CardStatus::Pending => "awaiting review",
            CardStatus::ProbableDuplicate => "probable duplicate",
            CardStatus::Accepted => "accepted",
            CardStatus::Returned => "returned for correction",
            CardStatus::Deleted => "deleted",
            CardStatus::Superseded => "revised",
        }
    }

    /// Whether the card counts in statistics and in warning series.
    pub fn counts(self) -> bool {
        matches!(
            self,
            CardStatus::Pending | CardStatus::ProbableDuplicate | CardStatus::Accepted
        )
    }
}

/// A CDC review action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewAction {
    Accept,
    Return,
    DeleteDuplicate,
    Revise,
}

impl ReviewAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewAction::Accept => "accept",
            ReviewAction::Return => "return",
            ReviewAction::DeleteDuplicate => "delete_duplicate",
            ReviewAction::Revise => "revise",
        }
    }

    pub fn parse(s: &str) -> Option<ReviewAction> {
        [
            ReviewAction::Accept,
            ReviewAction::Return,
            ReviewAction::DeleteDuplicate,
            ReviewAction::Revise,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }

    /// Whether the action needs a written reason.
    pub fn needs_reason(self) -> bool {
        matches!(self, ReviewAction::Return | ReviewAction::DeleteDuplicate)
    }
}

/// Why a workflow step is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("a card that is {from} cannot be changed by {action}; only cards awaiting review can")]
    NotReviewable {
        from: &'static str,
        action: &'static str,
    },
    #[error("give a reason of at least {min} characters")]
    ReasonMissing { min: usize },
    #[error("only a card returned for correction can be resubmitted; this one is {from}")]
    NotReturned { from: &'static str },
    #[error("a signal that is {from} cannot go to {to}")]
    SignalStep {
        from: &'static str,
        to: &'static str,
    },
}

/// The shortest reason accepted for returning or deleting a card (characters, trimmed).
pub const MIN_REASON_CHARS: usize = 2;

/// The status after `action` on a card in `from`; a reason where the action needs one.
pub fn review(
    from: CardStatus,
    action: ReviewAction,
    reason: &str,
) -> Result<CardStatus, StepError> {
    if !matches!(from, CardStatus::Pending | CardStatus::ProbableDuplicate) {
        return Err(StepError::NotReviewable {
            from: from.as_str(),
            action: action.as_str(),
        });
    }
    if action.needs_reason() && reason.trim().chars().count() < MIN_REASON_CHARS {
        return Err(StepError::ReasonMissing {
            min: MIN_REASON_CHARS,
        });
    }
    Ok(match action {
        ReviewAction::Accept => CardStatus::Accepted,
        ReviewAction::Return => CardStatus::Returned,
        ReviewAction::DeleteDuplicate => CardStatus::Deleted,
        ReviewAction::Revise => CardStatus::Superseded,
    })
}

/// The status of a returned card once its reporting clinician has corrected and resubmitted
/// it (更正后重新上报): back to review, as a probable duplicate when the corrected card now
/// duplicates a live one (`duplicate` is [`probable_duplicate`]'s answer for the corrected
/// card).
pub fn resubmit(from: CardStatus, duplicate: Option<i64>) -> Result<CardStatus, StepError> {
    if from != CardStatus::Returned {
        return Err(StepError::NotReturned {
            from: from.as_str(),
        });
    }
    Ok(if duplicate.is_some() {
        CardStatus::ProbableDuplicate
    } else {
        CardStatus::Pending
    })
}

/// Where a warning signal stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SignalStatus {
    /// 已发出.
    Raised,
    /// 已分派.
    Assigned,
    /// 已核实: a true outbreak (疑似事件) or not.
    Verified,
    /// 现场处置/响应.
    Responding,
    /// 已关闭.
    Closed,
}

impl SignalStatus {
    pub const ALL: [SignalStatus; 5] = [
        SignalStatus::Raised,
        SignalStatus::Assigned,
        SignalStatus::Verified,
        SignalStatus::Responding,
        SignalStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignalStatus::Raised => "raised",
            SignalStatus::Assigned => "assigned",
            SignalStatus::Verified => "verified",
            SignalStatus::Responding => "responding",
            SignalStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<SignalStatus> {
        SignalStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            SignalStatus::Raised => "待处理",
            SignalStatus::Assigned => "已分派",
            SignalStatus::Verified => "已核实",
            SignalStatus::Responding => "响应中",
            SignalStatus::Closed => "已关闭",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            SignalStatus::Raised => "raised",
            SignalStatus::Assigned => "assigned",
            SignalStatus::Verified => "verified",
            SignalStatus::Responding => "responding",
            SignalStatus::Closed => "closed",
        }
    }
}

/// A step of the signal workflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalStep {
    Assign,
    /// Verified: `true` = a real outbreak (疑似暴发), `false` = not.
    Verify {
        outbreak: bool,
    },
    Respond,
    Close,
}

impl SignalStep {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalStep::Assign => "assign",
            SignalStep::Verify { outbreak: true } => "verify_true",
            SignalStep::Verify { outbreak: false } => "verify_false",
            SignalStep::Respond => "respond",
            SignalStep::Close => "close",
        }
    }

    pub fn parse(s: &str) -> Option<SignalStep> {
        match s {
            "assign" => Some(SignalStep::Assign),
            "verify_true" => Some(SignalStep::Verify { outbreak: true }),
            "verify_false" => Some(SignalStep::Verify { outbreak: false }),
            "respond" => Some(SignalStep::Respond),
            "close" => Some(SignalStep::Close),
            _ => None,
        }
    }
}

/// The status after `step` from `from`. `outbreak` is the verification's finding, when
/// there was one: a signal verified as a true outbreak must go through a response before
/// it closes; one verified as not an outbreak may close at once. Verification needs notes.
pub fn signal_step(
    from: SignalStatus,
    outbreak: Option<bool>,
    step: SignalStep,
    notes: &str,
) -> Result<SignalStatus, StepError> {
    use SignalStatus::*;
    let to = match (from, step) {
        (Raised, SignalStep::Assign) | (Assigned, SignalStep::Assign) => Assigned,
        (Raised | Assigned, SignalStep::Verify { .. }) => Verified,
        (Verified, SignalStep::Respond) if outbreak == Some(true) => Responding,
        (Verified, SignalStep::Close) if outbreak == Some(false) => Closed,
        (Responding, SignalStep::Close) => Closed,
        _ => {
            let to = match step {
                SignalStep::Assign => "assigned",
                SignalStep::Verify { .. } => "verified",
                SignalStep::Respond => "responding",
                SignalStep::Close => "closed",
            };
            return Err(StepError::SignalStep {
                from: from.as_str(),
                to,
            });
        }
    };
    if matches!(step, SignalStep::Verify { .. }) && notes.trim().chars().count() < MIN_REASON_CHARS
    {
        return Err(StepError::ReasonMissing {
            min: MIN_REASON_CHARS,
        });
    }
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).expect("date")
    }

    fn prior(id: i64, disease: &str, on: NaiveDate, live: bool) -> Prior {
        Prior {
            id,
            disease: disease.into(),
            subtype: None,
            diagnosed_on: on,
            live,
        }
    }

    #[test]
    fn a_second_card_within_the_window_is_a_probable_duplicate() {
        let priors = [
            prior(7, "influenza", day(1), true),
            prior(8, "mumps", day(2), true),
        ];
        assert_eq!(
            probable_duplicate(&priors, "influenza", None, day(20), 30),
            Some(7)
        );
        assert_eq!(
            probable_duplicate(&priors, "influenza", None, day(20), 10),
            None
        );
        assert_eq!(probable_duplicate(&priors, "hfmd", None, day(2), 30), None);
    }

    #[test]
    fn deleted_cards_and_other_subtypes_do_not_count() {
        let mut p = prior(7, "hepatitis", day(1), false);
        assert_eq!(
            probable_duplicate(&[p.clone()], "hepatitis", None, day(2), 30),
            None
        );
        p.live = true;
        p.subtype = Some("hav".into());
        assert_eq!(
            probable_duplicate(&[p.clone()], "hepatitis", Some("hbv"), day(2), 30),
            None
        );
        assert_eq!(
            probable_duplicate(&[p], "hepatitis", Some("hav"), day(2), 30),
            Some(7)
        );
    }

    #[test]
    fn timeliness_is_inclusive_of_the_deadline() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).expect("t");
        assert_eq!(timeliness(t0, t0 + Duration::hours(2), 2), (true, 120));
        assert_eq!(timeliness(t0, t0 + Duration::minutes(121), 2), (false, 121));
        assert_eq!(
            timeliness(t0, t0 + Duration::hours(23), 24),
            (true, 23 * 60)
        );
    }

    #[test]
    fn only_a_returned_card_is_resubmitted_and_goes_back_to_review() {
        use CardStatus::*;
        assert_eq!(resubmit(Returned, None), Ok(Pending));
        assert_eq!(resubmit(Returned, Some(7)), Ok(ProbableDuplicate));
        for from in [Pending, ProbableDuplicate, Accepted, Deleted, Superseded] {
            assert_eq!(
                resubmit(from, None),
                Err(StepError::NotReturned {
                    from: from.as_str()
                })
            );
        }
    }

    #[test]
    fn review_needs_a_reviewable_card_and_a_reason() {
        use CardStatus::*;
        assert_eq!(review(Pending, ReviewAction::Accept, ""), Ok(Accepted));
        assert_eq!(
            review(ProbableDuplicate, ReviewAction::DeleteDuplicate, "重卡"),
            Ok(Deleted)
        );
        assert_eq!(
            review(Pending, ReviewAction::Return, " "),
            Err(StepError::ReasonMissing {
                min: MIN_REASON_CHARS
            })
        );
        assert!(matches!(
            review(Accepted, ReviewAction::Accept, ""),
            Err(StepError::NotReviewable { .. })
        ));
        assert!(Pending.counts() && !Deleted.counts() && !Superseded.counts());
    }

    #[test]
    fn the_signal_workflow_runs_in_order() {
        use SignalStatus::*;
        let t = |from, outbreak, step, notes| signal_step(from, outbreak, step, notes);
        assert_eq!(t(Raised, None, SignalStep::Assign, ""), Ok(Assigned));
        assert_eq!(
            t(
                Assigned,
                None,
                SignalStep::Verify { outbreak: true },
                "聚集"
            ),
            Ok(Verified)
        );
        assert_eq!(
            t(Verified, Some(true), SignalStep::Respond, ""),
            Ok(Responding)
        );
        assert_eq!(t(Responding, Some(true), SignalStep::Close, ""), Ok(Closed));
        assert_eq!(t(Verified, Some(false), SignalStep::Close, ""), Ok(Closed));
        assert!(t(Verified, Some(true), SignalStep::Close, "").is_err());
        assert!(t(Raised, None, SignalStep::Close, "").is_err());
        assert!(t(Closed, Some(false), SignalStep::Assign, "").is_err());
        assert_eq!(
            t(Raised, None, SignalStep::Verify { outbreak: false }, ""),
            Err(StepError::ReasonMissing {
                min: MIN_REASON_CHARS
            })
        );
    }
}
