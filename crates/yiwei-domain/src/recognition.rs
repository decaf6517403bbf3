//! 检查结果互认 (mutual recognition of exam results): which prior result a clinician must
//! accept instead of ordering the exam again, why they may still repeat it, and what the
//! avoided exam is worth to the patient and to the insurer and institution.
//!
//! Source: 《医疗机构检查检验结果互认管理办法》 (NHC, 医保局, 中医药局, 2022; domain.md §9).
//! Only items that passed the quality evaluation of the relevant 质控组织 carry the "HR"
//! mark with a scope ("全国HR", "广西HR", a county's own list); an item done at an
//! institution without that accreditation is not recognisable. Physicians accept marked
//! results that meet clinical needs, **except** for the reasons in [`ExceptionReason`].
//! There is no national validity window: each catalogue item carries its own
//! `validity_days`, fixed by the local list (local practice, configuration).
//!
//! Diagnostic conclusions are excluded by the rule: what is recognised is the images and
//! measurements, so a recognised prior study is shown with its report as information, and
//! the new clinician draws their own conclusion.
//!
//! The price split ([`PriceSplit::of`]) is local practice too, documented there.

use chrono::NaiveDate;

/// One institution's accreditation for an item: who, and the scope of its "HR" mark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accreditation {
    pub institution_id: i64,
    /// The mark's scope as printed on the report, e.g. `广西HR`, `县域HR`.
    pub hr_scope: String,
}

/// 互认项目: one entry of the county's catalogue of recognisable exam items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The catalogue code (local, e.g. `DR-CHEST`).
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// DICOM modality (`DX`, `CR`, `CT`, `MR`, `US`).
    pub modality: String,
    /// DICOM BodyPartExamined (`CHEST`, `HEAD`, `LSPINE`, `ABDOMEN` …).
    pub body_part: String,
    /// How long a result stays recognisable, in days after the exam (local list).
    pub validity_days: u32,
    /// The price of the exam in fen (分), by the county's price list.
    pub price_fen: i64,
    /// The patient's share of the price, in per mille (see [`PriceSplit::of`]).
    pub patient_share_permille: u32,
    pub accreditations: Vec<Accreditation>,
}

impl Item {
    /// Whether a study of `modality` and `body_part` is an exam of this item. Modalities
    /// `DX` and `CR` are both plain radiography (DR / CR) and count as one.
    pub fn covers(&self, modality: &str, body_part: &str) -> bool {
        fn radiography(m: &str) -> bool {
            matches!(m, "DX" | "CR")
        }
        let m = modality.trim().to_ascii_uppercase();
        let same_modality = m == self.modality || (radiography(&m) && radiography(&self.modality));
        same_modality && body_part.trim().eq_ignore_ascii_case(&self.body_part)
    }

    /// The accreditation of `institution_id` for this item, if it holds one.
    pub fn accreditation_of(&self, institution_id: i64) -> Option<&Accreditation> {
        self.accreditations
            .iter()
            .find(|a| a.institution_id == institution_id)
    }
}

/// The price of an avoided exam, split between who would have paid it.
///
/// Rule (local practice, configuration per item): the patient's share is
/// `price × patient_share_permille / 1000`, rounded half up to the fen; the rest is the
/// share of the insurer and the institution (医保基金和医疗机构). The two always add up to
/// the price. The county default of 525 ‰ is calibrated on context.md's figures (patients
/// 836,800 yuan, institutions 756,700 yuan: 52.5 % to patients); a county with its own
/// reimbursement rates sets the per-item value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceSplit {
    pub patient_fen: i64,
    pub institution_fen: i64,
}

/// The county default patient share in per mille (see [`PriceSplit`]).
pub const DEFAULT_PATIENT_SHARE_PERMILLE: u32 = 525;

impl PriceSplit {
    pub fn of(price_fen: i64, patient_share_permille: u32) -> PriceSplit {
        let price = price_fen.max(0);
        let share = i64::from(patient_share_permille.min(1000));
        let patient_fen = (price * share + 500) / 1000;
        PriceSplit {
            patient_fen,
            institution_fen: price - patient_fen,
        }
    }
}

/// A prior result offered for recognition: one study with what the catalogue needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prior {
    pub institution_id: i64,
    pub modality: String,
    pub body_part: String,
    /// The exam date (county date).
    pub exam_date: NaiveDate,
    /// A later study of the same item for the same resident exists: only the newest
    /// result is offered.
    pub superseded: bool,
}

/// Why a prior result is not recognisable for an order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotRecognisable {
    #[error("该结果不是本项目的检查 / the result is not an exam of this item")]
    OtherItem,
    #[error("检查机构未获本项目互认资质 / the institution holds no HR accreditation for this item")]
    NotAccredited,
    #[error(
        "结果已超过互认有效期（{age_days} 天 > {validity_days} 天）/ the result is older than the item's validity ({age_days} > {validity_days} days)"
    )]
    Expired { age_days: i64, validity_days: u32 },
    #[error("有更新的同项检查 / a newer result of the same item exists")]
    Superseded,
    #[error("检查日期晚于开单日期 / the exam is dated after the order")]
    AfterOrder,
}

/// A recognisable prior result: the scope of its mark and until when it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recognisable {
    pub hr_scope: String,
    /// The last date (inclusive) the result is recognisable.
    pub valid_through: NaiveDate,
    pub age_days: i64,
}

/// Whether `prior` is recognisable for an order of `item` on `order_date`: the same item,
/// done at an institution accredited for it, not superseded, and no older than the item's
/// validity (the exam day counts as day 0, so a 30-day item done on 1 March holds through
/// 31 March).
pub fn decide(
    item: &Item,
    prior: &Prior,
    order_date: NaiveDate,
) -> Result<Recognisable, NotRecognisable> {
    if !item.covers(&prior.modality, &prior.body_part) {
        return Err(NotRecognisable::OtherItem);
    }
    let accreditation = item
        .accreditation_of(prior.institution_id)
        .ok_or(NotRecognisable::NotAccredited)?;
    let age_days = (order_date - prior.exam_date).num_days();
    if age_days < 0 {
        return Err(NotRecognisable::AfterOrder);
    }
    if age_days > i64::from(item.validity_days) {
        return Err(NotRecognisable::Expired {
            age_days,
            validity_days: item.validity_days,
        });
    }
    if prior.superseded {
        return Err(NotRecognisable::Superseded);
    }
    Ok(Recognisable {
        hr_scope: accreditation.hr_scope.clone(),
        valid_through: prior.exam_date + chrono::Duration::days(i64::from(item.validity_days)),
        age_days,
    })
}

/// Why a clinician repeats an exam although a recognisable result exists: the closed
/// list of the 2022 办法 (第二十一条) plus the local "too long ago".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExceptionReason {
    /// 病情变化 / 结果与临床表现不符.
    ConditionChanged,
    /// 检查项目变化快 (fast-changing values).
    FastChanging,
    /// 重大医疗措施前（手术、输血等）.
    BeforeIntervention,
    /// 急诊、急救.
    Emergency,
    /// 司法鉴定、伤残鉴定、病退鉴定.
    Assessment,
    /// 患者或家属要求.
    PatientRequest,
    /// 距上次检查时间较长 (local rule).
    TooLongAgo,
    /// 其他 (the reason must be written out).
    Other,
}

impl ExceptionReason {
    pub const ALL: [ExceptionReason; 8] = [
        ExceptionReason::ConditionChanged,
        ExceptionReason::FastChanging,
        ExceptionReason::BeforeIntervention,
        ExceptionReason::Emergency,
        ExceptionReason::Assessment,
        ExceptionReason::PatientRequest,
        ExceptionReason::TooLongAgo,
        ExceptionReason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionReason::ConditionChanged => "condition_changed",
            ExceptionReason::FastChanging => "fast_changing",
            ExceptionReason::BeforeIntervention => "before_intervention",
            ExceptionReason::Emergency => "emergency",
            ExceptionReason::Assessment => "assessment",
            ExceptionReason::PatientRequest => "patient_request",
            ExceptionReason::TooLongAgo => "too_long_ago",
            ExceptionReason::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<ExceptionReason> {
        Self::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ExceptionReason::ConditionChanged => "病情变化或结果与临床表现不符",
            ExceptionReason::FastChanging => "检查结果变化快",
            ExceptionReason::BeforeIntervention => "手术、输血等重大医疗措施前",
            ExceptionReason::Emergency => "急诊、急救",
            ExceptionReason::Assessment => "司法、伤残或病退鉴定",
            ExceptionReason::PatientRequest => "患者或家属要求",
            ExceptionReason::TooLongAgo => "距上次检查时间较长",
            ExceptionReason::Other => "其他",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            ExceptionReason::ConditionChanged => {
                "condition changed or result inconsistent with presentation"
            }
            ExceptionReason::FastChanging => "fast-changing values",
            ExceptionReason::BeforeIntervention => "before a major intervention",
            ExceptionReason::Emergency => "emergency or rescue",
            ExceptionReason::Assessment => "forensic, disability or retirement assessment",
            ExceptionReason::PatientRequest => "patient's request",
            ExceptionReason::TooLongAgo => "too long since the exam",
            ExceptionReason::Other => "other",
        }
    }
}

/// The clinician's decision on a recognisable result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// 互认，不重复检查.
    Recognised,
    /// 重复检查, with the reason (and free text, required for `Other`).
    Repeated {
        reason: ExceptionReason,
        note: String,
    },
}

/// Longest free-text note kept with a decision.
pub const MAX_NOTE_CHARS: usize = 500;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("请选择“互认”或“重复检查” / choose recognised or repeat")]
    Missing,
    #[error("重复检查须选择原因 / a repeat needs one of the listed reasons")]
    UnknownReason,
    #[error("原因为“其他”时须写明 / write the reason out when it is \"other\"")]
    OtherNeedsText,
    #[error("说明不超过 {MAX_NOTE_CHARS} 字 / the note is limited to {MAX_NOTE_CHARS} characters")]
    NoteTooLong,
}

impl Decision {
    /// Parse a form's choice (`recognised` or `repeated`), reason code and note.
    pub fn parse(choice: &str, reason: &str, note: &str) -> Result<Decision, DecisionError> {
        let note = note.trim();
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(DecisionError::NoteTooLong);
        }
        match choice.trim() {
            "recognised" => Ok(Decision::Recognised),
            "repeated" => {
                let reason = ExceptionReason::parse(reason).ok_or(DecisionError::UnknownReason)?;
                if reason == ExceptionReason::Other && note.is_empty() {
                    return Err(DecisionError::OtherNeedsText);
                }
                Ok(Decision::Repeated {
                    reason,
                    note: note.to_owned(),
                })
            }
            _ => Err(DecisionError::Missing),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Recognised => "recognised",
            Decision::Repeated { .. } => "repeated",
        }
    }

    /// The money the decision saved: the item's split price when recognised, nothing
    /// when the exam is repeated.
    pub fn saved(&self, item: &Item) -> PriceSplit {
        match self {
            Decision::Recognised => PriceSplit::of(item.price_fen, item.patient_share_permille),
            Decision::Repeated { .. } => PriceSplit {
                patient_fen: 0,
                institution_fen: 0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn chest() -> Item {
        Item {
            code: "DR-CHEST".into(),
            name_zh: "胸部正位片".into(),
            name_en: "Chest radiograph (PA)".into(),
            modality: "DX".into(),
            body_part: "CHEST".into(),
            validity_days: 30,
            price_fen: 7000,
            patient_share_permille: DEFAULT_PATIENT_SHARE_PERMILLE,
            accreditations: vec![Accreditation {
                institution_id: 1,
                hr_scope: "县域HR".into(),
            }],
        }
    }

    fn prior(institution_id: i64, date: &str) -> Prior {
        Prior {
            institution_id,
            modality: "CR".into(),
            body_part: "chest".into(),
            exam_date: d(date),
            superseded: false,
        }
    }

    #[test]
    fn a_result_inside_the_window_from_an_accredited_institution_is_recognisable() {
        let got = decide(&chest(), &prior(1, "2026-03-01"), d("2026-03-31")).unwrap();
        assert_eq!(got.hr_scope, "县域HR");
        assert_eq!(got.valid_through, d("2026-03-31"));
        assert_eq!(got.age_days, 30);
    }

    #[test]
    fn each_refusal_has_its_reason() {
        let item = chest();
        assert_eq!(
            decide(&item, &prior(1, "2026-03-01"), d("2026-04-01")),
            Err(NotRecognisable::Expired {
                age_days: 31,
                validity_days: 30
            })
        );
        assert_eq!(
            decide(&item, &prior(2, "2026-03-01"), d("2026-03-02")),
            Err(NotRecognisable::NotAccredited)
        );
        let mut ct = prior(1, "2026-03-01");
        ct.modality = "CT".into();
        assert_eq!(
            decide(&item, &ct, d("2026-03-02")),
            Err(NotRecognisable::OtherItem)
        );
        let mut old = prior(1, "2026-03-01");
        old.superseded = true;
        assert_eq!(
            decide(&item, &old, d("2026-03-02")),
            Err(NotRecognisable::Superseded)
        );
        assert_eq!(
            decide(&item, &prior(1, "2026-03-05"), d("2026-03-02")),
            Err(NotRecognisable::AfterOrder)
        );
    }

    #[test]
    fn decisions_parse_from_the_form_and_other_needs_text() {
        assert_eq!(
            Decision::parse("recognised", "", ""),
            Ok(Decision::Recognised)
        );
        assert_eq!(
            Decision::parse("repeated", "emergency", ""),
            Ok(Decision::Repeated {
                reason: ExceptionReason::Emergency,
                note: String::new()
            })
        );
        assert_eq!(
            Decision::parse("repeated", "other", "  "),
            Err(DecisionError::OtherNeedsText)
        );
        assert_eq!(
            Decision::parse("repeated", "whim", ""),
            Err(DecisionError::UnknownReason)
        );
        assert_eq!(Decision::parse("", "", ""), Err(DecisionError::Missing));
        assert_eq!(
            Decision::parse("recognised", "", &"字".repeat(501)),
            Err(DecisionError::NoteTooLong)
        );
    }

    #[test]
    fn every_reason_round_trips_and_has_labels() {
        for r in ExceptionReason::ALL {
            assert_eq!(ExceptionReason::parse(r.as_str()), Some(r));
            assert!(!r.label_zh().is_empty() && !r.label_en().is_empty());
        }
    }

    #[test]
    fn the_default_split_matches_the_county_figures() {
        assert_eq!(
            PriceSplit::of(7000, DEFAULT_PATIENT_SHARE_PERMILLE),
            PriceSplit {
                patient_fen: 3675,
                institution_fen: 3325
            }
        );
        // A repeat saves nothing.
        let saved = Decision::Repeated {
            reason: ExceptionReason::PatientRequest,
            note: String::new(),
        }
        .saved(&chest());
        assert_eq!(saved.patient_fen + saved.institution_fen, 0);
    }

    proptest! {
        #[test]
        fn the_split_always_adds_up_to_the_price(price in 0i64..10_000_000, permille in 0u32..2000) {
            let s = PriceSplit::of(price, permille);
            prop_assert_eq!(s.patient_fen + s.institution_fen, price);
            prop_assert!(s.patient_fen >= 0 && s.institution_fen >= 0);
        }

        #[test]
        fn recognisable_exactly_inside_the_window(age in 0i64..400, validity in 0u32..365) {
            let mut item = chest();
            item.validity_days = validity;
            let order = d("2026-06-01");
            let p = Prior { exam_date: order - chrono::Duration::days(age), ..prior(1, "2026-01-01") };
            prop_assert_eq!(decide(&item, &p, order).is_ok(), age <= i64::from(validity));
        }
    }
}
