//! What follows from a visit's answers: the [`Rules`] kinds, their configuration, and
//! [`outcome`] → [`Outcome`] (classification, referral advice, next due date).
//!
//! Every threshold is a field of a config struct with `Default`, tagged as in
//! `shared/domain.md`: \[S\] seen in a source, \[M\] background knowledge consistent with
//! sources, *unconfirmed* a default to configure. Blood-pressure and glucose classes are
//! [`crate::exam::classify_bp`] and [`crate::exam::classify_glucose`] with their
//! thresholds; they are not restated here.
//!
//! The field keys the rules read are the constants of [`keys`]; the forms in `catalogue.rs`
//! use the same constants, and a test checks every programme's rules read only fields its
//! form has.

use chrono::NaiveDate;

use super::schedule::{Interval, NextDue, Offset, VisitKind, add_days};
use super::{Programme, Subject, ValidAnswers, Visit};
use crate::exam::{
    BpClass, BpThresholds, GlucoseClass, GlucoseThresholds, classify_bp, classify_glucose, figure,
};
use crate::key_group::age_on;

/// The keys of the fields the rules read.
pub(crate) mod keys {
    pub const SYS: &str = "sys";
    pub const DIA: &str = "dia";
    pub const FPG: &str = "fpg";
    pub const HEART_RATE: &str = "heart_rate";
    pub const TEMPERATURE: &str = "temperature";
    pub const WEIGHT: &str = "weight";
    pub const HEIGHT: &str = "height";
    pub const HEAD: &str = "head_circumference";
    pub const HB: &str = "hb";
    pub const DANGER_SIGNS: &str = "danger_signs";
    pub const ADVERSE_REACTION: &str = "adverse_reaction";
    pub const NEW_COMPLICATION: &str = "new_complication";
    pub const ADHERENCE: &str = "adherence";
    pub const RISK_GRADE: &str = "risk_grade";
    pub const SYMPTOMS: &str = "symptoms";
    pub const INSIGHT: &str = "insight";
    pub const SOCIAL_FUNCTION: &str = "social_function";
    pub const DRUG_REACTION: &str = "drug_reaction";
    pub const PHYSICAL_ILLNESS: &str = "physical_illness";
    pub const PHASE: &str = "phase";
    pub const SUPERVISOR: &str = "supervisor";
    pub const MISSED_DOSES: &str = "missed_doses";
    pub const COMPLICATION: &str = "complication";
    pub const HIGH_RISK: &str = "high_risk";
    pub const ABNORMAL_FINDINGS: &str = "abnormal_findings";
    pub const SELF_CARE: &str = "self_care";
    pub const COGNITION: &str = "cognition";
    pub const EMOTION: &str = "emotion";
    pub const UCVA_LEFT: &str = "ucva_left";
    pub const UCVA_RIGHT: &str = "ucva_right";
    pub const GLASSES: &str = "wears_glasses";
    pub const CORRECTED_LEFT: &str = "corrected_left";
    pub const CORRECTED_RIGHT: &str = "corrected_right";
    pub const ATR: &str = "atr";
    pub const FORWARD_BEND: &str = "forward_bend_positive";
    pub const NOTE: &str = "note";
}

/// What a visit's answers mean (此次随访分类 and the like). Stable codes for storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Classification {
    /// 控制满意.
    Controlled,
    /// 控制不满意.
    Uncontrolled,
    /// 不良反应.
    AdverseReaction,
    /// 并发症 (new, or worse).
    Complication,
    /// 紧急转诊.
    UrgentReferral,
    /// 病情稳定 (严重精神障碍).
    Stable,
    /// 病情基本稳定.
    BasicallyStable,
    /// 病情不稳定.
    Unstable,
    /// 规则服药 (肺结核).
    MedicationRegular,
    /// 不规则服药.
    MedicationIrregular,
    /// 未见异常.
    Normal,
    /// 有异常.
    Abnormal,
    /// 高危 (孕产妇).
    HighRisk,
    /// 贫血.
    Anaemia,
    /// 视力不良 (screening positive).
    VisionReduced,
    /// 脊柱弯曲异常筛查阳性.
    ScoliosisSuspected,
}

impl Classification {
    pub const ALL: [Classification; 16] = [
        Classification::Controlled,
        Classification::Uncontrolled,
        Classification::AdverseReaction,
        Classification::Complication,
        Classification::UrgentReferral,
        Classification::Stable,
        Classification::BasicallyStable,
        Classification::Unstable,
        Classification::MedicationRegular,
        Classification::MedicationIrregular,
        Classification::Normal,
        Classification::Abnormal,
        Classification::HighRisk,
        Classification::Anaemia,
        Classification::VisionReduced,
        Classification::ScoliosisSuspected,
    ];

    pub fn code(self) -> &'static str {
        self.names().0
    }

    pub fn name_zh(self) -> &'static str {
        self.names().1
    }

    pub fn name_en(self) -> &'static str {
        self.names().2
    }

    pub fn parse(code: &str) -> Option<Classification> {
        Classification::ALL
            .into_iter()
            .find(|c| c.code() == code.trim())
    }

    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Classification::Controlled => ("controlled", "控制满意", "controlled"),
            Classification::Uncontrolled => ("uncontrolled", "控制不满意", "not controlled"),
            Classification::AdverseReaction => {
                ("adverse_reaction", "药物不良反应", "adverse drug reaction")
            }
            Classification::Complication => ("complication", "并发症", "complication"),
            Classification::UrgentReferral => ("urgent_referral", "紧急转诊", "urgent referral"),
            Classification::Stable => ("stable", "病情稳定", "stable"),
            Classification::BasicallyStable => {
                ("basically_stable", "病情基本稳定", "basically stable")
            }
            Classification::Unstable => ("unstable", "病情不稳定", "unstable"),
            Classification::MedicationRegular => (
                "medication_regular",
                "规则服药",
                "takes medication regularly",
            ),
            Classification::MedicationIrregular => {
                ("medication_irregular", "不规则服药", "misses medication")
            }
            Classification::Normal => ("normal", "未见异常", "nothing abnormal"),
            Classification::Abnormal => ("abnormal", "有异常", "abnormal findings"),
            Classification::HighRisk => ("high_risk", "高危", "high risk"),
            Classification::Anaemia => ("anaemia", "贫血", "anaemia"),
            Classification::VisionReduced => ("vision_reduced", "视力不良", "reduced vision"),
            Classification::ScoliosisSuspected => (
                "scoliosis_suspected",
                "脊柱弯曲异常筛查阳性",
                "suspected scoliosis",
            ),
        }
    }

    /// 控制不满意 in the sense of "连续两次控制不满意 → 转诊": not controlled, a drug
    /// reaction, or an urgent referral.
    fn is_unsatisfactory(self) -> bool {
        matches!(
            self,
            Classification::Uncontrolled
                | Classification::AdverseReaction
                | Classification::UrgentReferral
        )
    }
}

/// A text in both languages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub zh: String,
    pub en: String,
}

impl Message {
    fn new(zh: impl Into<String>, en: impl Into<String>) -> Message {
        Message {
            zh: zh.into(),
            en: en.into(),
        }
    }

    fn join(parts: &[Message]) -> Message {
        Message {
            zh: parts
                .iter()
                .map(|m| m.zh.as_str())
                .collect::<Vec<_>>()
                .join("；"),
            en: parts
                .iter()
                .map(|m| m.en.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// How soon a referral is needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Urgency {
    /// 紧急转诊: after first aid, at once.
    Urgent,
    /// 建议转诊: an ordinary referral to a higher level (or a report to the specialist
    /// institution).
    Routine,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Urgent => "urgent",
            Urgency::Routine => "routine",
        }
    }
}

/// Referral advice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Referral {
    pub urgency: Urgency,
    pub reason: Message,
    /// The referring institution follows the referral up within this many days (主动随访
    /// 转诊情况).
    pub follow_up_within_days: u32,
}

/// What follows from one visit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub classification: Option<Classification>,
    pub referral: Option<Referral>,
    /// For interval programmes, when the next visit is due; `None` where the schedule alone
    /// decides (milestones, yearly).
    pub next_due: Option<NextDue>,
    /// Advice for the doctor (not a referral).
    pub advice: Vec<Message>,
}

impl Outcome {
    fn classified(c: Classification) -> Outcome {
        Outcome {
            classification: Some(c),
            referral: None,
            next_due: None,
            advice: Vec::new(),
        }
    }
}

/// The rule kind of a programme, with its configuration.
#[derive(Clone, Debug, PartialEq)]
pub enum Rules {
    Hypertension(HypertensionRules),
    Diabetes(DiabetesRules),
    Elderly(ElderlyRules),
    SevereMental(MentalRules),
    Tuberculosis(TuberculosisRules),
    Maternal(MaternalRules),
    ChildHealth(ChildRules),
    Vision(VisionRules),
    Scoliosis(ScoliosisRules),
}

fn follow_up(every_days: u32, window_days: u32, first_within_days: u32) -> Interval {
    let visit = VisitKind::new("followup", "随访", "follow-up");
    Interval {
        first: visit,
        regular: visit,
        first_within_days,
        every_days,
        window_before_days: window_days,
        window_after_days: window_days,
        after_referral_days: None,
    }
}

/// 高血压患者健康管理 (第三版).
#[derive(Clone, Debug, PartialEq)]
pub struct HypertensionRules {
    /// Managed from 35 years \[S\].
    pub min_age_years: u32,
    /// Control and urgent-referral cut-offs, incl. the ≥65 y < 150/90 rule \[S/M, see the
    /// fields\].
    pub bp: BpThresholds,
    /// ≥4 face-to-face follow-ups a year \[S\] → every 90 days; a visit within 14 days of
    /// the target counts for it (*unconfirmed*, provinces count quarters); the first
    /// follow-up within 30 days of enrolment (*unconfirmed*).
    pub follow_up: Interval,
    /// Not controlled (first time) or a drug reaction: adjust, see again within 2 weeks
    /// \[M\]; twice in a row → refer \[M\].
    pub recheck_days: u32,
    /// After a referral, follow it up within 2 weeks \[S\].
    pub referral_follow_up_days: u32,
}

impl Default for HypertensionRules {
    fn default() -> Self {
        HypertensionRules {
            min_age_years: 35,
            bp: BpThresholds::default(),
            follow_up: follow_up(90, 14, 30),
            recheck_days: 14,
            referral_follow_up_days: 14,
        }
    }
}

/// 2型糖尿病患者健康管理 (第三版).
#[derive(Clone, Debug, PartialEq)]
pub struct DiabetesRules {
    /// Managed from 35 years \[S\].
    pub min_age_years: u32,
    /// Control FPG < 7.0, urgent ≥16.7 or ≤3.9 mmol/L \[S\].
    pub glucose: GlucoseThresholds,
    /// Only the urgent cut-offs (≥180/110 \[S\]) are used here.
    pub bp: BpThresholds,
    /// Urgent referral: persistent heart rate above 100/min \[S partial\].
    pub urgent_heart_rate_above: f64,
    /// Urgent referral: temperature above 39 °C \[S partial\].
    pub urgent_temperature_above: f64,
    /// ≥4 follow-ups a year \[M\] → every 90 days; windows as for hypertension
    /// (*unconfirmed*).
    pub follow_up: Interval,
    /// First uncontrolled or drug reaction → within 2 weeks \[M\].
    pub recheck_days: u32,
    /// Referral followed up within 2 weeks \[M\].
    pub referral_follow_up_days: u32,
}

impl Default for DiabetesRules {
    fn default() -> Self {
        DiabetesRules {
            min_age_years: 35,
            glucose: GlucoseThresholds::default(),
            bp: BpThresholds::default(),
            urgent_heart_rate_above: 100.0,
            urgent_temperature_above: 39.0,
            follow_up: follow_up(90, 14, 30),
            recheck_days: 14,
            referral_follow_up_days: 14,
        }
    }
}

/// 老年人健康管理: once a year for residents 65 and over.
#[derive(Clone, Debug, PartialEq)]
pub struct ElderlyRules {
    /// 65 years \[S\].
    pub min_age_years: u32,
    /// The months of the year the annual check runs: all year by default; many counties
    /// run it in a campaign season (*unconfirmed*, local).
    pub from_month: u32,
    pub to_month: u32,
    /// An exam is "abnormal" when the blood pressure is not below the *general* control
    /// cut-offs (140/90) or the fasting glucose is not below 7.0 \[M\]; urgent cut-offs
    /// refer at once \[S\].
    pub bp: BpThresholds,
    pub glucose: GlucoseThresholds,
}

impl Default for ElderlyRules {
    fn default() -> Self {
        ElderlyRules {
            min_age_years: 65,
            from_month: 1,
            to_month: 12,
            bp: BpThresholds::default(),
            glucose: GlucoseThresholds::default(),
        }
    }
}

/// 严重精神障碍患者管理 (第三版): classification by 危险性评估 (0–5 级) and the state of
/// symptoms, insight, social function, drug reactions and physical illness.
#[derive(Clone, Debug, PartialEq)]
pub struct MentalRules {
    /// 病情不稳定 from risk grade 3 (3–5 级) \[S\].
    pub unstable_from_grade: u8,
    /// 病情基本稳定 from grade 1 (1–2 级) \[S\].
    pub basically_stable_from_grade: u8,
    /// ≥4 follow-ups a year; a stable patient is seen again at 3 months \[S\]; window
    /// ±14 days and first visit within 14 days of registration (*unconfirmed*).
    pub follow_up: Interval,
    /// Basically stable: see again at 2 weeks \[S\]; still basically stable then → refer
    /// \[M\].
    pub recheck_days: u32,
    /// Unstable: refer, and follow up within 2 weeks \[S\].
    pub referral_follow_up_days: u32,
}

impl Default for MentalRules {
    fn default() -> Self {
        MentalRules {
            unstable_from_grade: 3,
            basically_stable_from_grade: 1,
            follow_up: follow_up(90, 14, 14),
            recheck_days: 14,
            referral_follow_up_days: 14,
        }
    }
}

/// 肺结核患者健康管理 (第三版).
#[derive(Clone, Debug, PartialEq)]
pub struct TuberculosisRules {
    /// First home visit within 72 hours (3 days) of the notice \[S\] (a stored county
    /// 督导管理制度 page following the spec; `domain.md` has it as \[M\]); then the monthly
    /// record of staff-supervised treatment (医务人员督导) \[M\], window ±7 days
    /// (*unconfirmed*).
    pub follow_up: Interval,
    /// Family-supervised (家庭成员督导) in the intensive phase: every 10 days \[M\].
    pub family_intensive_every_days: u32,
    /// Family-supervised in the continuation phase: monthly \[M\].
    pub family_continuation_every_days: u32,
    /// Missed doses from which treatment counts as irregular and is reported to the
    /// specialist institution: a week's doses \[M\].
    pub report_from_missed_doses: u32,
    /// A drug reaction or complication: refer at once, follow up within 2 weeks \[M\].
    pub referral_follow_up_days: u32,
}

impl Default for TuberculosisRules {
    fn default() -> Self {
        TuberculosisRules {
            follow_up: Interval {
                first: VisitKind::new("first_home_visit", "第一次入户随访", "first home visit"),
                regular: VisitKind::new("followup", "督导随访", "supervision visit"),
                first_within_days: 3,
                every_days: 30,
                window_before_days: 7,
                window_after_days: 7,
                after_referral_days: None,
            },
            family_intensive_every_days: 10,
            family_continuation_every_days: 30,
            report_from_missed_doses: 7,
            referral_follow_up_days: 14,
        }
    }
}

/// 孕产妇健康管理 (第三版). The visit windows are the [`super::maternal`] schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct MaternalRules {
    /// Postpartum home visit within 7 days of discharge \[S\]; counted for the 产后访视率
    /// if within 28 days \[M\].
    pub postpartum_visit_within_days: u32,
    pub postpartum_visit_until_days: u32,
    /// The 42-day check: due from day 42 \[S\], by day 56 and not counted after day 90
    /// (*unconfirmed*).
    pub postnatal_check_by_days: u32,
    pub postnatal_check_until_days: u32,
    /// Raised blood pressure in pregnancy: SBP ≥140 or DBP ≥90 → high risk, refer \[M\].
    pub raised_sys_from: f64,
    pub raised_dia_from: f64,
    /// Severe: SBP ≥160 or DBP ≥110 → urgent referral \[M\].
    pub severe_sys_from: f64,
    pub severe_dia_from: f64,
    /// Anaemia in pregnancy: Hb < 110 g/L \[M\] (WHO).
    pub anaemia_below_g_l: f64,
}

impl Default for MaternalRules {
    fn default() -> Self {
        MaternalRules {
            postpartum_visit_within_days: 7,
            postpartum_visit_until_days: 28,
            postnatal_check_by_days: 56,
            postnatal_check_until_days: 90,
            raised_sys_from: 140.0,
            raised_dia_from: 90.0,
            severe_sys_from: 160.0,
            severe_dia_from: 110.0,
            anaemia_below_g_l: 110.0,
        }
    }
}

/// 0～6岁儿童健康管理 (第三版).
#[derive(Clone, Debug, PartialEq)]
pub struct ChildRules {
    /// Newborn home visit within 7 days of discharge \[S\].
    pub newborn_visit_within_days: u32,
    /// How long after the age a check-up at 3–36 months is still timely: 1 month
    /// (*unconfirmed*; the 规范 names only the ages). A check missed until the next
    /// check-up age is missed.
    pub infant_grace: Offset,
    /// The same for the yearly checks at 4, 5 and 6 years: 3 months (*unconfirmed*).
    pub preschool_grace: Offset,
    /// Anaemia: Hb < 110 g/L \[M\] (WHO, 6–59 months; 115 from 5 years is not applied).
    pub anaemia_below_g_l: f64,
}

impl Default for ChildRules {
    fn default() -> Self {
        ChildRules {
            newborn_visit_within_days: 7,
            infant_grace: Offset::Months(1),
            preschool_grace: Offset::Months(3),
            anaemia_below_g_l: 110.0,
        }
    }
}

/// 学生视力筛查 (WS/T 663-2020 中小学生屈光不正筛查规范 is the national text \[S name\]).
#[derive(Clone, Debug, PartialEq)]
pub struct VisionRules {
    /// The grades screened: all of 1–12 (*unconfirmed*; local plans decide).
    pub grades: std::ops::RangeInclusive<u8>,
    /// The screening season: the autumn term, September to December (*unconfirmed*).
    pub from_month: u32,
    pub to_month: u32,
    /// Uncorrected visual acuity below 5.0 (5-point logMAR chart) in either eye is
    /// "reduced" and referred \[M\] (a stored secondary page: 筛查性近视 = UCVA < 5.0 and
    /// SE ≤ −0.50 D from 6 years); the refraction is not on this screening form.
    pub reduced_below: f64,
}

impl Default for VisionRules {
    fn default() -> Self {
        VisionRules {
            grades: 1..=12,
            from_month: 9,
            to_month: 12,
            reduced_below: 5.0,
        }
    }
}

/// 学生脊柱弯曲异常筛查 (GB/T 16133-2014 儿童青少年脊柱弯曲异常的筛查 \[M\]).
#[derive(Clone, Debug, PartialEq)]
pub struct ScoliosisRules {
    /// The grades screened: 1–12 (*unconfirmed*; many plans start at grade 4 or 5).
    pub grades: std::ops::RangeInclusive<u8>,
    /// The screening season (*unconfirmed*).
    pub from_month: u32,
    pub to_month: u32,
    /// Angle of trunk rotation (scoliometer, forward bend) ≥ 5° → screening positive,
    /// refer for an X-ray \[M\].
    pub refer_from_atr_degrees: f64,
}

impl Default for ScoliosisRules {
    fn default() -> Self {
        ScoliosisRules {
            grades: 1..=12,
            from_month: 9,
            to_month: 12,
            refer_from_atr_degrees: 5.0,
        }
    }
}

/// What follows from a visit with `answers` (as [`super::validate`] returned them) made on
/// `visit_date`, given the earlier visits of the programme (`history`; visits on or after
/// `visit_date` are ignored, so the visit itself may be in it).
pub fn outcome(
    programme: &Programme,
    answers: &ValidAnswers,
    subject: &Subject,
    visit_date: NaiveDate,
    history: &[Visit],
) -> Outcome {
    let age = subject
        .birth_date
        .filter(|b| *b <= visit_date)
        .map(|b| age_on(b, visit_date));
    let previous = history
        .iter()
        .filter(|v| v.date < visit_date)
        .max()
        .and_then(|v| v.classification);
    match &programme.rules {
        Rules::Hypertension(r) => hypertension(r, answers, age, previous, visit_date),
        Rules::Diabetes(r) => diabetes(r, answers, age, previous, visit_date),
        Rules::Elderly(r) => elderly(r, answers),
        Rules::SevereMental(r) => mental(r, answers, previous, visit_date),
        Rules::Tuberculosis(r) => tuberculosis(r, answers, visit_date),
        Rules::Maternal(r) => maternal(r, answers),
        Rules::ChildHealth(r) => child(r, answers),
        Rules::Vision(r) => vision(r, answers),
        Rules::Scoliosis(r) => scoliosis(r, answers),
    }
}

fn by(visit_date: NaiveDate, days: u32) -> Option<NextDue> {
    Some(NextDue::By(add_days(visit_date, i64::from(days))))
}

fn on(visit_date: NaiveDate, days: u32) -> Option<NextDue> {
    Some(NextDue::On(add_days(visit_date, i64::from(days))))
}

fn urgent_bp_reason(sys: f64, dia: f64, t: &BpThresholds) -> Message {
    Message::new(
        format!(
            "血压 {}/{} mmHg（收缩压≥{} 和/或舒张压≥{}）",
            figure(sys),
            figure(dia),
            figure(t.urgent_sys_from),
            figure(t.urgent_dia_from)
        ),
        format!(
            "blood pressure {}/{} mmHg (systolic ≥{} and/or diastolic ≥{})",
            figure(sys),
            figure(dia),
            figure(t.urgent_sys_from),
            figure(t.urgent_dia_from)
        ),
    )
}

fn sign_reasons(answers: &ValidAnswers, set: &[crate::exam::Code]) -> Vec<Message> {
    answers
        .codes(keys::DANGER_SIGNS)
        .iter()
        .filter_map(|c| set.iter().find(|s| s.0 == *c))
        .map(|s| Message::new(s.1, s.2))
        .collect()
}

/// The common path of hypertension and diabetes follow-up: urgent reasons first, then a
/// new complication, then not controlled or a drug reaction (twice in a row → refer), else
/// controlled.
#[expect(
    clippy::too_many_arguments,
    reason = "the two programmes' shared decision"
)]
fn chronic(
    urgent: Vec<Message>,
    class: Classification,
    complication: bool,
    previous: Option<Classification>,
    visit_date: NaiveDate,
    follow_up: &Interval,
    recheck_days: u32,
    referral_days: u32,
) -> Outcome {
    if !urgent.is_empty() {
        return Outcome {
            classification: Some(Classification::UrgentReferral),
            referral: Some(Referral {
                urgency: Urgency::Urgent,
                reason: Message::join(&urgent),
                follow_up_within_days: referral_days,
            }),
            next_due: by(visit_date, referral_days),
            advice: Vec::new(),
        };
    }
    if complication {
        return Outcome {
            classification: Some(Classification::Complication),
            referral: Some(Referral {
                urgency: Urgency::Routine,
                reason: Message::new(
                    "出现新的并发症或原有并发症加重",
                    "a new complication, or an existing one worse",
                ),
                follow_up_within_days: referral_days,
            }),
            next_due: by(visit_date, referral_days),
            advice: Vec::new(),
        };
    }
    if class.is_unsatisfactory() {
        if previous.is_some_and(Classification::is_unsatisfactory) {
            return Outcome {
                classification: Some(class),
                referral: Some(Referral {
                    urgency: Urgency::Routine,
                    reason: Message::new(
                        "连续两次控制不满意或药物不良反应难以控制",
                        "not controlled (or a drug reaction) at two visits in a row",
                    ),
                    follow_up_within_days: referral_days,
                }),
                next_due: by(visit_date, referral_days),
                advice: Vec::new(),
            };
        }
        return Outcome {
            classification: Some(class),
            referral: None,
            next_due: by(visit_date, recheck_days),
            advice: vec![Message::new(
                format!("调整用药（增加剂量、更换或加用药物），{recheck_days}天内随访"),
                format!(
                    "adjust the treatment (dose, change or add a drug) and see again within {recheck_days} days"
                ),
            )],
        };
    }
    Outcome {
        classification: Some(Classification::Controlled),
        referral: None,
        next_due: on(visit_date, follow_up.every_days),
        advice: Vec::new(),
    }
}

fn hypertension(
    r: &HypertensionRules,
    a: &ValidAnswers,
    age: Option<u32>,
    previous: Option<Classification>,
    visit_date: NaiveDate,
) -> Outcome {
    let bp = a.number(keys::SYS).zip(a.number(keys::DIA));
    let class = bp.map(|(s, d)| classify_bp(s, d, age, &r.bp));
    let mut urgent = Vec::new();
    if let (Some((s, d)), Some(BpClass::UrgentReferral)) = (bp, class) {
        urgent.push(urgent_bp_reason(s, d, &r.bp));
    }
    urgent.extend(sign_reasons(a, super::catalogue::HYPERTENSION_SIGNS));
    let class = match class {
        Some(BpClass::Uncontrolled) => Classification::Uncontrolled,
        _ if a.yes(keys::ADVERSE_REACTION) == Some(true) => Classification::AdverseReaction,
        _ => Classification::Controlled,
    };
    chronic(
        urgent,
        class,
        a.yes(keys::NEW_COMPLICATION) == Some(true),
        previous,
        visit_date,
        &r.follow_up,
        r.recheck_days,
        r.referral_follow_up_days,
    )
}

fn diabetes(
    r: &DiabetesRules,
    a: &ValidAnswers,
    age: Option<u32>,
    previous: Option<Classification>,
    visit_date: NaiveDate,
) -> Outcome {
    let mut urgent = Vec::new();
    let glucose = a
        .number(keys::FPG)
        .map(|g| (g, classify_glucose(g, &r.glucose)));
    if let Some((g, GlucoseClass::UrgentReferral)) = glucose {
        urgent.push(Message::new(
            format!(
                "血糖 {} mmol/L（≥{} 或 ≤{}）",
                figure(g),
                figure(r.glucose.urgent_from),
                figure(r.glucose.urgent_at_or_below)
            ),
            format!(
                "glucose {} mmol/L (≥{} or ≤{})",
                figure(g),
                figure(r.glucose.urgent_from),
                figure(r.glucose.urgent_at_or_below)
            ),
        ));
    }
    if let Some((s, d)) = a.number(keys::SYS).zip(a.number(keys::DIA))
        && classify_bp(s, d, age, &r.bp) == BpClass::UrgentReferral
    {
        urgent.push(urgent_bp_reason(s, d, &r.bp));
    }
    if let Some(hr) = a
        .number(keys::HEART_RATE)
        .filter(|hr| *hr > r.urgent_heart_rate_above)
    {
        urgent.push(Message::new(
            format!(
                "心率 {} 次/分（>{}）",
                figure(hr),
                figure(r.urgent_heart_rate_above)
            ),
            format!(
                "heart rate {}/min (above {})",
                figure(hr),
                figure(r.urgent_heart_rate_above)
            ),
        ));
    }
    if let Some(t) = a
        .number(keys::TEMPERATURE)
        .filter(|t| *t > r.urgent_temperature_above)
    {
        urgent.push(Message::new(
            format!(
                "体温 {} °C（>{}）",
                figure(t),
                figure(r.urgent_temperature_above)
            ),
            format!(
                "temperature {} °C (above {})",
                figure(t),
                figure(r.urgent_temperature_above)
            ),
        ));
    }
    urgent.extend(sign_reasons(a, super::catalogue::DIABETES_SIGNS));
    let class = match glucose {
        Some((_, GlucoseClass::Uncontrolled)) => Classification::Uncontrolled,
        _ if a.yes(keys::ADVERSE_REACTION) == Some(true) => Classification::AdverseReaction,
        _ => Classification::Controlled,
    };
    chronic(
        urgent,
        class,
        a.yes(keys::NEW_COMPLICATION) == Some(true),
        previous,
        visit_date,
        &r.follow_up,
        r.recheck_days,
        r.referral_follow_up_days,
    )
}

fn elderly(r: &ElderlyRules, a: &ValidAnswers) -> Outcome {
    let mut urgent = Vec::new();
    let mut findings = Vec::new();
    if let Some((s, d)) = a.number(keys::SYS).zip(a.number(keys::DIA)) {
        // General cut-offs: `None` age, not the ≥65 control rule for hypertensives.
        match classify_bp(s, d, None, &r.bp) {
            BpClass::UrgentReferral => urgent.push(urgent_bp_reason(s, d, &r.bp)),
            BpClass::Uncontrolled => findings.push(Message::new(
                format!("血压偏高 {}/{} mmHg", figure(s), figure(d)),
                format!("raised blood pressure {}/{} mmHg", figure(s), figure(d)),
            )),
            BpClass::Controlled => {}
        }
    }
    if let Some(g) = a.number(keys::FPG) {
        match classify_glucose(g, &r.glucose) {
            GlucoseClass::UrgentReferral => urgent.push(Message::new(
                format!("空腹血糖 {} mmol/L", figure(g)),
                format!("fasting glucose {} mmol/L", figure(g)),
            )),
            GlucoseClass::Uncontrolled => findings.push(Message::new(
                format!("空腹血糖偏高 {} mmol/L", figure(g)),
                format!("raised fasting glucose {} mmol/L", figure(g)),
            )),
            GlucoseClass::Controlled => {}
        }
    }
    if a.code(keys::SELF_CARE).is_some_and(|c| c != "1") {
        findings.push(Message::new(
            "生活自理能力下降",
            "needs help with self-care",
        ));
    }
    if a.code(keys::COGNITION) == Some("2") {
        findings.push(Message::new(
            "认知功能粗筛阳性，需做简易智力状态检查",
            "cognition screen positive: do the mini-mental state examination",
        ));
    }
    if a.code(keys::EMOTION) == Some("2") {
        findings.push(Message::new(
            "情感状态粗筛阳性，需做老年人抑郁评分检查",
            "mood screen positive: do the geriatric depression scale",
        ));
    }
    if !urgent.is_empty() {
        return Outcome {
            classification: Some(Classification::UrgentReferral),
            referral: Some(Referral {
                urgency: Urgency::Urgent,
                reason: Message::join(&urgent),
                follow_up_within_days: 14,
            }),
            next_due: None,
            advice: findings,
        };
    }
    Outcome {
        classification: Some(if findings.is_empty() {
            Classification::Normal
        } else {
            Classification::Abnormal
        }),
        referral: None,
        next_due: None,
        advice: findings,
    }
}

fn mental(
    r: &MentalRules,
    a: &ValidAnswers,
    previous: Option<Classification>,
    visit_date: NaiveDate,
) -> Outcome {
    let grade: u8 = a
        .code(keys::RISK_GRADE)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let level = |key: &str| a.code(key).unwrap_or("1");
    let mut unstable = Vec::new();
    if grade >= r.unstable_from_grade {
        unstable.push(Message::new(
            format!("危险性评估 {grade} 级"),
            format!("risk grade {grade}"),
        ));
    }
    if level(keys::SYMPTOMS) == "3" {
        unstable.push(Message::new("精神症状明显", "prominent psychotic symptoms"));
    }
    if level(keys::INSIGHT) == "3" {
        unstable.push(Message::new("自知力缺乏", "no insight"));
    }
    if level(keys::DRUG_REACTION) == "3" {
        unstable.push(Message::new(
            "急性或严重药物不良反应",
            "acute or serious drug reaction",
        ));
    }
    if a.yes(keys::PHYSICAL_ILLNESS) == Some(true) {
        unstable.push(Message::new("严重躯体疾病", "serious physical illness"));
    }
    if !unstable.is_empty() {
        return Outcome {
            classification: Some(Classification::Unstable),
            referral: Some(Referral {
                urgency: Urgency::Urgent,
                reason: Message::join(&unstable),
                follow_up_within_days: r.referral_follow_up_days,
            }),
            next_due: by(visit_date, r.referral_follow_up_days),
            advice: vec![Message::new(
                "对症处理后立即转诊；必要时报告当地公安部门协助送院",
                "treat the symptoms and refer at once; if needed ask the police to help take the patient to hospital",
            )],
        };
    }
    let basically_stable = grade >= r.basically_stable_from_grade
        || level(keys::SYMPTOMS) == "2"
        || level(keys::INSIGHT) == "2"
        || level(keys::SOCIAL_FUNCTION) == "3"
        || level(keys::DRUG_REACTION) == "2";
    if basically_stable {
        if previous == Some(Classification::BasicallyStable) {
            return Outcome {
                classification: Some(Classification::BasicallyStable),
                referral: Some(Referral {
                    urgency: Urgency::Routine,
                    reason: Message::new(
                        "初步处理后病情仍未稳定",
                        "not yet stable after the first adjustment",
                    ),
                    follow_up_within_days: r.referral_follow_up_days,
                }),
                next_due: by(visit_date, r.referral_follow_up_days),
                advice: Vec::new(),
            };
        }
        return Outcome {
            classification: Some(Classification::BasicallyStable),
            referral: None,
            next_due: by(visit_date, r.recheck_days),
            advice: vec![Message::new(
                format!(
                    "判断是病情波动、疗效不佳还是不良反应，调整用药或对症处理，{}天时随访",
                    r.recheck_days
                ),
                format!(
                    "decide whether it is a relapse, poor response or a drug reaction; adjust or treat, and see again at {} days",
                    r.recheck_days
                ),
            )],
        };
    }
    Outcome {
        classification: Some(Classification::Stable),
        referral: None,
        next_due: on(visit_date, r.follow_up.every_days),
        advice: Vec::new(),
    }
}

fn tuberculosis(r: &TuberculosisRules, a: &ValidAnswers, visit_date: NaiveDate) -> Outcome {
    let missed = a.number(keys::MISSED_DOSES).unwrap_or(0.0);
    let irregular = missed >= f64::from(r.report_from_missed_doses);
    let mut out = Outcome::classified(if irregular {
        Classification::MedicationIrregular
    } else {
        Classification::MedicationRegular
    });
    let mut urgent = Vec::new();
    if a.yes(keys::ADVERSE_REACTION) == Some(true) {
        urgent.push(Message::new("药物不良反应", "drug reaction"));
    }
    if a.yes(keys::COMPLICATION) == Some(true) {
        urgent.push(Message::new(
            "并发症或合并症",
            "complication or comorbidity",
        ));
    }
    if !urgent.is_empty() {
        out.referral = Some(Referral {
            urgency: Urgency::Urgent,
            reason: Message::join(&urgent),
            follow_up_within_days: r.referral_follow_up_days,
        });
        out.next_due = by(visit_date, r.referral_follow_up_days);
        return out;
    }
    if irregular {
        out.referral = Some(Referral {
            urgency: Urgency::Routine,
            reason: Message::new(
                format!("漏服药 {} 次，报告上级专业机构", figure(missed)),
                format!(
                    "{} missed doses: report to the tuberculosis institution",
                    figure(missed)
                ),
            ),
            follow_up_within_days: r.referral_follow_up_days,
        });
    }
    let staff = a.code(keys::SUPERVISOR) == Some("1");
    let intensive = a.code(keys::PHASE) == Some("1");
    let every = if staff {
        r.follow_up.every_days
    } else if intensive {
        r.family_intensive_every_days
    } else {
        r.family_continuation_every_days
    };
    out.next_due = on(visit_date, every);
    out
}

fn maternal(r: &MaternalRules, a: &ValidAnswers) -> Outcome {
    let mut out = Outcome::classified(Classification::Normal);
    if let Some((s, d)) = a.number(keys::SYS).zip(a.number(keys::DIA)) {
        if s >= r.severe_sys_from || d >= r.severe_dia_from {
            out.classification = Some(Classification::UrgentReferral);
            out.referral = Some(Referral {
                urgency: Urgency::Urgent,
                reason: Message::new(
                    format!("孕产妇血压 {}/{} mmHg", figure(s), figure(d)),
                    format!(
                        "blood pressure {}/{} mmHg in pregnancy",
                        figure(s),
                        figure(d)
                    ),
                ),
                follow_up_within_days: 14,
            });
            return out;
        }
        if s >= r.raised_sys_from || d >= r.raised_dia_from {
            out.classification = Some(Classification::HighRisk);
            out.advice.push(Message::new(
                format!("血压升高 {}/{} mmHg", figure(s), figure(d)),
                format!("raised blood pressure {}/{} mmHg", figure(s), figure(d)),
            ));
        }
    }
    if a.yes(keys::HIGH_RISK) == Some(true) {
        out.classification = Some(Classification::HighRisk);
        out.advice
            .push(Message::new("有高危因素", "has high-risk factors"));
    }
    if out.classification == Some(Classification::HighRisk) {
        out.referral = Some(Referral {
            urgency: Urgency::Routine,
            reason: Message::new(
                "高危孕产妇，转上级医疗机构专案管理",
                "high-risk pregnancy: refer for specialist case management",
            ),
            follow_up_within_days: 14,
        });
    }
    if let Some(hb) = a.number(keys::HB).filter(|hb| *hb < r.anaemia_below_g_l) {
        if out.classification == Some(Classification::Normal) {
            out.classification = Some(Classification::Anaemia);
        }
        out.advice.push(Message::new(
            format!("血红蛋白 {} g/L，贫血", figure(hb)),
            format!("haemoglobin {} g/L: anaemia", figure(hb)),
        ));
    }
    out
}

fn child(r: &ChildRules, a: &ValidAnswers) -> Outcome {
    let mut out = Outcome::classified(Classification::Normal);
    if let Some(hb) = a.number(keys::HB).filter(|hb| *hb < r.anaemia_below_g_l) {
        out.classification = Some(Classification::Anaemia);
        out.advice.push(Message::new(
            format!("血红蛋白 {} g/L，贫血", figure(hb)),
            format!("haemoglobin {} g/L: anaemia", figure(hb)),
        ));
    }
    if a.yes(keys::ABNORMAL_FINDINGS) == Some(true) {
        out.classification = Some(Classification::Abnormal);
        out.referral = Some(Referral {
            urgency: Urgency::Routine,
            reason: Message::new("体检发现异常", "abnormal findings at the check-up"),
            follow_up_within_days: 14,
        });
    }
    out
}

fn vision(r: &VisionRules, a: &ValidAnswers) -> Outcome {
    let worst = [keys::UCVA_LEFT, keys::UCVA_RIGHT]
        .iter()
        .filter_map(|k| a.number(k))
        .fold(None, |acc: Option<f64>, v| {
            Some(acc.map_or(v, |w| w.min(v)))
        });
    match worst {
        Some(v) if v < r.reduced_below => Outcome {
            classification: Some(Classification::VisionReduced),
            referral: Some(Referral {
                urgency: Urgency::Routine,
                reason: Message::new(
                    format!(
                        "裸眼视力 {} 低于 {}，到医疗机构进一步检查（散瞳验光）",
                        figure(v),
                        figure(r.reduced_below)
                    ),
                    format!(
                        "uncorrected visual acuity {} below {}: eye examination with cycloplegic refraction",
                        figure(v),
                        figure(r.reduced_below)
                    ),
                ),
                follow_up_within_days: 30,
            }),
            next_due: None,
            advice: Vec::new(),
        },
        _ => Outcome::classified(Classification::Normal),
    }
}

fn scoliosis(r: &ScoliosisRules, a: &ValidAnswers) -> Outcome {
    match a.number(keys::ATR) {
        Some(atr) if atr >= r.refer_from_atr_degrees => Outcome {
            classification: Some(Classification::ScoliosisSuspected),
            referral: Some(Referral {
                urgency: Urgency::Routine,
                reason: Message::new(
                    format!(
                        "躯干旋转角 {}°（≥{}°），到医疗机构复查（站立位全脊柱X线）",
                        figure(atr),
                        figure(r.refer_from_atr_degrees)
                    ),
                    format!(
                        "angle of trunk rotation {}° (≥{}°): standing spine X-ray",
                        figure(atr),
                        figure(r.refer_from_atr_degrees)
                    ),
                ),
                follow_up_within_days: 30,
            }),
            next_due: None,
            advice: Vec::new(),
        },
        _ => Outcome::classified(Classification::Normal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_codes_round_trip_and_are_named() {
        for c in Classification::ALL {
            assert_eq!(Classification::parse(c.code()), Some(c));
            assert!(!c.name_zh().is_empty() && !c.name_en().is_empty());
        }
        assert_eq!(Classification::parse("nonsense"), None);
    }

    #[test]
    fn messages_join_in_each_language() {
        let m = Message::join(&[Message::new("甲", "a"), Message::new("乙", "b")]);
        assert_eq!(m.zh, "甲；乙");
        assert_eq!(m.en, "a; b");
    }
}
