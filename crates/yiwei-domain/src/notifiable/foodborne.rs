//! 食源性疾病病例监测: the suspected food-borne disease case report, a simpler card than
//! the 传染病报告卡.
//!
//! What is kept is what the county reviews count and what a CDC investigator needs to link
//! cases (`shared/context.md`: 569 suspected cases, 100 % reported on time): the patient,
//! onset and visit times, the main symptoms, the suspected food with where it was eaten or
//! bought, how many people ate it and how many fell ill, whether specimens were taken, and
//! the preliminary diagnosis. The national case-report form has more fields (exposure
//! history per meal, lab results); they are not modelled here, rather than half-modelled.
//!
//! Deadline: the national food-borne surveillance work manual asks hospitals to report
//! within a short time of the visit; the exact figure was not confirmed from a source, so
//! it is configuration (`notifiable.foodborne_deadline_hours`, default 48 h, unconfirmed).

use chrono::{NaiveDate, NaiveDateTime};

use super::card::Problem;
use crate::division::{DivisionCode, Level};

/// The default deadline from visit to report (hours). Unconfirmed; configurable.
pub const DEFAULT_DEADLINE_HOURS: i64 = 48;

/// The symptoms on the card (code, 中文, English).
pub const SYMPTOMS: &[(&str, &str, &str)] = &[
    ("diarrhoea", "腹泻", "diarrhoea"),
    ("vomiting", "呕吐", "vomiting"),
    ("nausea", "恶心", "nausea"),
    ("abdominal_pain", "腹痛", "abdominal pain"),
    ("fever", "发热", "fever"),
    ("headache", "头痛", "headache"),
    ("dizziness", "头晕", "dizziness"),
    ("numbness", "口唇或四肢麻木", "numbness of lips or limbs"),
    ("other", "其他", "other"),
];

/// A suspected food-borne disease case as entered.
#[derive(Clone, Debug, PartialEq)]
pub struct FoodborneCase {
    pub patient_name: String,
    pub sex: String,
    pub birth_date: NaiveDate,
    pub phone: String,
    pub address_code: String,
    pub onset_at: NaiveDateTime,
    pub visit_at: NaiveDateTime,
    /// Codes from [`SYMPTOMS`].
    pub symptoms: Vec<String>,
    pub suspected_food: String,
    /// Where the food was eaten or bought.
    pub food_place: String,
    /// How many ate it together (including the patient), and how many fell ill.
    pub shared_meal: Option<u32>,
    pub shared_ill: Option<u32>,
    pub specimen_taken: bool,
    /// 初步诊断.
    pub diagnosis: String,
    pub fill_date: NaiveDate,
    pub doctor: String,
}

/// Check a food-borne case; all problems or nothing.
pub fn validate(case: &FoodborneCase, now: NaiveDateTime) -> Result<(), Vec<Problem>> {
    let mut p = Vec::new();
    if case.patient_name.trim().is_empty() {
        p.push(Problem::new(
            "patient_name",
            "请填写患者姓名。",
            "Enter the patient's name.",
        ));
    }
    if !matches!(case.sex.as_str(), "male" | "female" | "unknown") {
        p.push(Problem::new("sex", "请选择性别。", "Choose the sex."));
    }
    if case.onset_at.date() < case.birth_date {
        p.push(Problem::new(
            "onset_at",
            "发病时间早于出生日期。",
            "The onset is before the birth date.",
        ));
    }
    if case.visit_at < case.onset_at {
        p.push(Problem::new(
            "visit_at",
            "就诊时间早于发病时间。",
            "The visit is before the onset.",
        ));
    }
    if case.visit_at > now {
        p.push(Problem::new(
            "visit_at",
            "就诊时间不能晚于现在。",
            "The visit cannot be in the future.",
        ));
    }
    if case.fill_date < case.visit_at.date() || case.fill_date > now.date() {
        p.push(Problem::new(
            "fill_date",
            "填卡日期应在就诊日期与今天之间。",
            "The fill date must lie between the visit date and today.",
        ));
    }
    if case.symptoms.is_empty() {
        p.push(Problem::new(
            "symptoms",
            "请至少选择一个症状。",
            "Choose at least one symptom.",
        ));
    } else if case
        .symptoms
        .iter()
        .any(|s| !SYMPTOMS.iter().any(|k| k.0 == s))
    {
        p.push(Problem::new(
            "symptoms",
            "症状请从列表中选择。",
            "Choose symptoms from the list.",
        ));
    }
    if let (Some(meal), Some(ill)) = (case.shared_meal, case.shared_ill)
        && ill > meal
    {
        p.push(Problem::new(
            "shared_ill",
            format!("发病人数 {ill} 多于共同进餐人数 {meal}。"),
            format!("{ill} ill is more than the {meal} who shared the meal."),
        ));
    }
    match DivisionCode::parse(case.address_code.trim()) {
        Ok(c) if c.level() >= Level::County => {}
        _ => p.push(Problem::new(
            "address_code",
            "现住址地址码无效，至少要到县（区）一级。",
            "The address code must be a division code of a county or below.",
        )),
    }
    if case.diagnosis.trim().is_empty() {
        p.push(Problem::new(
            "diagnosis",
            "请填写初步诊断。",
            "Enter the preliminary diagnosis.",
        ));
    }
    if case.doctor.trim().is_empty() {
        p.push(Problem::new(
            "doctor",
            "请填写报告医生。",
            "Enter the reporting doctor.",
        ));
    }
    if p.is_empty() { Ok(()) } else { Err(p) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 7, d)
            .and_then(|d| d.and_hms_opt(h, 0, 0))
            .expect("t")
    }

    fn case() -> FoodborneCase {
        FoodborneCase {
            patient_name: "蒙某".into(),
            sex: "male".into(),
            birth_date: NaiveDate::from_ymd_opt(1990, 1, 1).expect("d"),
            phone: String::new(),
            address_code: "451226100201".into(),
            onset_at: at(3, 20),
            visit_at: at(4, 8),
            symptoms: vec!["diarrhoea".into(), "vomiting".into()],
            suspected_food: "凉拌米粉".into(),
            food_place: "村宴".into(),
            shared_meal: Some(40),
            shared_ill: Some(6),
            specimen_taken: true,
            diagnosis: "急性胃肠炎".into(),
            fill_date: NaiveDate::from_ymd_opt(2026, 7, 4).expect("d"),
            doctor: "韦医生".into(),
        }
    }

    #[test]
    fn a_complete_case_passes_and_bad_ones_name_their_field() {
        let now = at(5, 12);
        assert_eq!(validate(&case(), now), Ok(()));
        let mut c = case();
        c.visit_at = at(3, 19);
        c.fill_date = NaiveDate::from_ymd_opt(2026, 7, 3).expect("d");
        let fields: Vec<_> = validate(&c, now)
            .expect_err("bad")
            .iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, vec!["visit_at"]);
        let mut c = case();
        c.symptoms.clear();
        c.shared_ill = Some(41);
        let fields: Vec<_> = validate(&c, now)
            .expect_err("bad")
            .iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, vec!["symptoms", "shared_ill"]);
    }
}
