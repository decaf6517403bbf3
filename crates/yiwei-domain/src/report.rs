//! 影像诊断报告 (radiology report): its states and who may move it between them.
//!
//! States follow the FHIR DiagnosticReport status codes (R4 `diagnostic-report-status`)
//! so the API maps one to one:
//!
//! ```text
//!   (none) ──save──► draft ──save──► draft
//!   (none) ──AI────► preliminary (AI draft, never shown as a result)
//!   draft / preliminary ──sign──► final (signed, read-only)
//!   final / amended ──amend──► amended (a new signed version, with the reason)
//! ```
//!
//! A signed report is never edited in place: an amendment is a new version that keeps the
//! old one. Only a radiologist (影像科医师) signs or amends, and signing needs both the
//! findings (检查所见) and the impression (诊断意见); an amendment also needs its reason.
//! An AI draft is written by the reading hook (`crate::reading`), never by a person, and
//! it only ever reaches `final` through a radiologist's signature.

use crate::access::Role;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// 草稿: a radiologist is writing it.
    Draft,
    /// AI 初稿: a reading model's findings waiting for a radiologist.
    Preliminary,
    /// 已签发.
    Final,
    /// 已修正: signed again after a change.
    Amended,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Draft,
        Status::Preliminary,
        Status::Final,
        Status::Amended,
    ];

    /// The FHIR DiagnosticReport.status code, also the stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "registered",
            Status::Preliminary => "preliminary",
            Status::Final => "final",
            Status::Amended => "amended",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Status::Draft => "草稿",
            Status::Preliminary => "AI 初稿（待审核）",
            Status::Final => "已签发",
            Status::Amended => "已修正",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Preliminary => "AI draft (to review)",
            Status::Final => "signed",
            Status::Amended => "amended",
        }
    }

    /// Whether the report is a signed result (shown to clinicians and the patient).
    pub fn is_signed(self) -> bool {
        matches!(self, Status::Final | Status::Amended)
    }
}

/// What someone does to a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    SaveDraft,
    AttachAiDraft,
    Sign,
    Amend,
}

/// The text of a report version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Content {
    /// 检查所见.
    pub findings: String,
    /// 诊断意见 / 印象.
    pub impression: String,
    /// Why a signed report was amended.
    pub amend_reason: String,
}

/// Longest text kept in one field.
pub const MAX_FIELD_CHARS: usize = 8000;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error(
        "只有影像科医师可以书写、签发或修正报告 / only a radiologist writes, signs or amends a report"
    )]
    NotRadiologist,
    #[error("签发前须填写检查所见 / write the findings before signing")]
    FindingsMissing,
    #[error("签发前须填写诊断意见 / write the impression before signing")]
    ImpressionMissing,
    #[error("修正已签发报告须写明原因 / say why the signed report is amended")]
    AmendReasonMissing,
    #[error("已签发的报告只能修正，不能直接编辑 / a signed report is amended, not edited")]
    AlreadySigned,
    #[error("报告尚未签发，无需修正 / the report is not signed yet: edit and sign it")]
    NotSigned,
    #[error(
        "AI 初稿只能附在没有报告的检查上 / an AI draft attaches only to a study without a report"
    )]
    AlreadyStarted,
    #[error(
        "每项不超过 {MAX_FIELD_CHARS} 字 / each field is limited to {MAX_FIELD_CHARS} characters"
    )]
    TooLong,
}

/// The state after `step` on a report in `current` (`None`: no report yet) by someone of
/// `role` (`None`: the AI hook), with `content` as the new text.
pub fn step(
    current: Option<Status>,
    step: Step,
    role: Option<Role>,
    content: &Content,
) -> Result<Status, ReportError> {
    if [
        &content.findings,
        &content.impression,
        &content.amend_reason,
    ]
    .iter()
    .any(|t| t.chars().count() > MAX_FIELD_CHARS)
    {
        return Err(ReportError::TooLong);
    }
    if step == Step::AttachAiDraft {
        return match current {
            None => Ok(Status::Preliminary),
            Some(_) => Err(ReportError::AlreadyStarted),
        };
    }
    if role != Some(Role::Radiologist) {
        return Err(ReportError::NotRadiologist);
    }
    let signed = current.is_some_and(Status::is_signed);
    let complete = || {
        if content.findings.trim().is_empty() {
            Err(ReportError::FindingsMissing)
        } else if content.impression.trim().is_empty() {
            Err(ReportError::ImpressionMissing)
        } else {
            Ok(())
        }
    };
    match step {
        Step::AttachAiDraft => unreachable!("handled above"),
        Step::SaveDraft if signed => Err(ReportError::AlreadySigned),
        Step::SaveDraft => Ok(Status::Draft),
        Step::Sign if signed => Err(ReportError::AlreadySigned),
        Step::Sign => complete().map(|()| Status::Final),
        Step::Amend if !signed => Err(ReportError::NotSigned),
        Step::Amend => {
            complete()?;
            if content.amend_reason.trim().is_empty() {
                return Err(ReportError::AmendReasonMissing);
            }
            Ok(Status::Amended)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn full() -> Content {
        Content {
            findings: "双肺纹理清晰。".into(),
            impression: "心肺未见异常。".into(),
            amend_reason: String::new(),
        }
    }

    const R: Option<Role> = Some(Role::Radiologist);

    #[test]
    fn a_radiologist_drafts_signs_and_amends() {
        let s = step(None, Step::SaveDraft, R, &Content::default()).unwrap();
        assert_eq!(s, Status::Draft);
        let s = step(Some(s), Step::Sign, R, &full()).unwrap();
        assert_eq!(s, Status::Final);
        assert_eq!(
            step(Some(s), Step::SaveDraft, R, &full()),
            Err(ReportError::AlreadySigned)
        );
        assert_eq!(
            step(Some(s), Step::Amend, R, &full()),
            Err(ReportError::AmendReasonMissing)
        );
        let mut c = full();
        c.amend_reason = "补充描述".into();
        assert_eq!(step(Some(s), Step::Amend, R, &c), Ok(Status::Amended));
        assert_eq!(
            step(Some(Status::Amended), Step::Amend, R, &c),
            Ok(Status::Amended)
        );
    }

    #[test]
    fn signing_needs_findings_and_impression() {
        let mut c = full();
        c.findings = " ".into();
        assert_eq!(
            step(Some(Status::Draft), Step::Sign, R, &c),
            Err(ReportError::FindingsMissing)
        );
        let mut c = full();
        c.impression.clear();
        assert_eq!(
            step(Some(Status::Preliminary), Step::Sign, R, &c),
            Err(ReportError::ImpressionMissing)
        );
    }

    #[test]
    fn only_a_radiologist_writes_and_the_ai_only_attaches_a_first_draft() {
        for role in [Role::Clinician, Role::Resident, Role::CountyAdmin] {
            assert_eq!(
                step(Some(Status::Draft), Step::Sign, Some(role), &full()),
                Err(ReportError::NotRadiologist)
            );
        }
        assert_eq!(
            step(None, Step::Sign, None, &full()),
            Err(ReportError::NotRadiologist)
        );
        assert_eq!(
            step(None, Step::AttachAiDraft, None, &full()),
            Ok(Status::Preliminary)
        );
        assert_eq!(
            step(Some(Status::Draft), Step::AttachAiDraft, None, &full()),
            Err(ReportError::AlreadyStarted)
        );
        assert_eq!(
            step(Some(Status::Draft), Step::Amend, R, &full()),
            Err(ReportError::NotSigned)
        );
    }

    #[test]
    fn status_codes_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }

    proptest! {
        #[test]
        fn nothing_but_a_radiologist_signature_yields_a_signed_report(
            current in proptest::option::of(0usize..4),
            which in 0usize..4,
            radiologist in any::<bool>(),
            findings in ".{0,5}",
            impression in ".{0,5}",
        ) {
            let current = current.map(|i| Status::ALL[i]);
            let s = [Step::SaveDraft, Step::AttachAiDraft, Step::Sign, Step::Amend][which];
            let role = if radiologist { R } else { Some(Role::Clinician) };
            let c = Content { findings, impression, amend_reason: "x".into() };
            if let Ok(next) = step(current, s, role, &c) {
                if next.is_signed() {
                    prop_assert!(radiologist);
                    prop_assert!(!c.findings.trim().is_empty() && !c.impression.trim().is_empty());
                }
                if current.is_some_and(Status::is_signed) {
                    prop_assert!(next.is_signed());
                }
            }
        }
    }
}
