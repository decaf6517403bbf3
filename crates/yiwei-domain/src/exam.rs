//! 健康体检表 (the health-exam form) and encounter summaries (就诊/服务记录): the kinds of
//! encounter, the exam's measurements with their plausible ranges, BMI, and the
//! blood-pressure and fasting-glucose classifications that follow-up and indicators use.
//!
//! The form is the 健康体检表 of 国家基本公共卫生服务规范（第三版, 2017）, whose sections
//! are listed in `shared/domain.md` §7 \[M\]. This module checks the figures a person types
//! (一般状况: temperature, pulse, respiration, both arms' blood pressure, height, weight,
//! waist, BMI; 辅助检查: fasting glucose) and the 老年人 self-assessment codes. The other
//! sections (symptoms, lifestyle, organ function, physical findings, other auxiliary exams,
//! health problems, hospitalisations, medications, vaccinations, evaluation, guidance) are
//! free structured text that the store keeps as one JSON object; no rule reads them.
//!
//! No national text sets plausible ranges for data entry: the [`Ranges`] defaults are this
//! project's choice (wide enough for every living person, narrow enough to catch a slipped
//! digit or a unit mix-up such as a height in metres), and a county may change them. The
//! blood-pressure and glucose cut-offs are those of the 第三版 follow-up specs as gathered
//! in `shared/domain.md` §1, each cited on its field of [`BpThresholds`] and
//! [`GlucoseThresholds`]; several are marked \[M\] there, and the indicator cut-offs differ
//! by province, so they are configuration as well.
//!
//! This module does no IO; it does not know how exams are stored or shown.

use std::fmt;

/// The kind of an encounter (就诊/服务记录类型): one row on a resident's timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EncounterKind {
    /// 健康体检: a 健康体检表 (it carries the exam's figures).
    HealthExam,
    /// 门诊: an outpatient visit.
    Outpatient,
    /// 住院: an inpatient stay (the summary is the 出院小结).
    Inpatient,
    /// 随访: a programme follow-up (hypertension, diabetes, …).
    FollowUp,
    /// 入户/家庭访视: a home visit, including 家庭病床.
    HomeVisit,
    /// 其他: any other service record.
    Other,
}

impl EncounterKind {
    pub const ALL: [EncounterKind; 6] = [
        EncounterKind::HealthExam,
        EncounterKind::Outpatient,
        EncounterKind::Inpatient,
        EncounterKind::FollowUp,
        EncounterKind::HomeVisit,
        EncounterKind::Other,
    ];

    /// Stable code for storage and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            EncounterKind::HealthExam => "health_exam",
            EncounterKind::Outpatient => "outpatient",
            EncounterKind::Inpatient => "inpatient",
            EncounterKind::FollowUp => "follow_up",
            EncounterKind::HomeVisit => "home_visit",
            EncounterKind::Other => "other",
        }
    }

    pub fn parse(code: &str) -> Option<EncounterKind> {
        EncounterKind::ALL.into_iter().find(|k| k.as_str() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            EncounterKind::HealthExam => "健康体检",
            EncounterKind::Outpatient => "门诊",
            EncounterKind::Inpatient => "住院",
            EncounterKind::FollowUp => "随访",
            EncounterKind::HomeVisit => "家庭访视",
            EncounterKind::Other => "其他服务",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            EncounterKind::HealthExam => "Health exam",
            EncounterKind::Outpatient => "Outpatient visit",
            EncounterKind::Inpatient => "Inpatient stay",
            EncounterKind::FollowUp => "Follow-up",
            EncounterKind::HomeVisit => "Home visit",
            EncounterKind::Other => "Other service",
        }
    }
}

/// One measured figure of the exam form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// 体温, °C.
    Temperature,
    /// 脉率, beats per minute.
    Pulse,
    /// 呼吸频率, breaths per minute.
    Respiration,
    /// 血压 左侧 收缩压, mmHg.
    BpLeftSys,
    /// 血压 左侧 舒张压, mmHg.
    BpLeftDia,
    /// 血压 右侧 收缩压, mmHg.
    BpRightSys,
    /// 血压 右侧 舒张压, mmHg.
    BpRightDia,
    /// 身高, cm.
    Height,
    /// 体重, kg.
    Weight,
    /// 腰围, cm.
    Waist,
    /// 体质指数 (BMI), kg/m²; computed from height and weight, never typed.
    Bmi,
    /// 空腹血糖, mmol/L.
    FastingGlucose,
}

impl Field {
    pub const ALL: [Field; 12] = [
        Field::Temperature,
        Field::Pulse,
        Field::Respiration,
        Field::BpLeftSys,
        Field::BpLeftDia,
        Field::BpRightSys,
        Field::BpRightDia,
        Field::Height,
        Field::Weight,
        Field::Waist,
        Field::Bmi,
        Field::FastingGlucose,
    ];

    /// The column and form-field name.
    pub fn name(self) -> &'static str {
        match self {
            Field::Temperature => "temperature",
            Field::Pulse => "pulse",
            Field::Respiration => "respiration",
            Field::BpLeftSys => "bp_left_sys",
            Field::BpLeftDia => "bp_left_dia",
            Field::BpRightSys => "bp_right_sys",
            Field::BpRightDia => "bp_right_dia",
            Field::Height => "height_cm",
            Field::Weight => "weight_kg",
            Field::Waist => "waist_cm",
            Field::Bmi => "bmi",
            Field::FastingGlucose => "fasting_glucose_mmol",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Field::Temperature => "体温",
            Field::Pulse => "脉率",
            Field::Respiration => "呼吸频率",
            Field::BpLeftSys => "左侧收缩压",
            Field::BpLeftDia => "左侧舒张压",
            Field::BpRightSys => "右侧收缩压",
            Field::BpRightDia => "右侧舒张压",
            Field::Height => "身高",
            Field::Weight => "体重",
            Field::Waist => "腰围",
            Field::Bmi => "体质指数",
            Field::FastingGlucose => "空腹血糖",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Field::Temperature => "Temperature",
            Field::Pulse => "Pulse",
            Field::Respiration => "Respiratory rate",
            Field::BpLeftSys => "Left systolic pressure",
            Field::BpLeftDia => "Left diastolic pressure",
            Field::BpRightSys => "Right systolic pressure",
            Field::BpRightDia => "Right diastolic pressure",
            Field::Height => "Height",
            Field::Weight => "Weight",
            Field::Waist => "Waist",
            Field::Bmi => "BMI",
            Field::FastingGlucose => "Fasting glucose",
        }
    }

    /// The unit as people write it.
    pub fn unit(self) -> &'static str {
        match self {
            Field::Temperature => "°C",
            Field::Pulse => "次/分",
            Field::Respiration => "次/分",
            Field::BpLeftSys | Field::BpLeftDia | Field::BpRightSys | Field::BpRightDia => "mmHg",
            Field::Height | Field::Waist => "cm",
            Field::Weight => "kg",
            Field::Bmi => "kg/m²",
            Field::FastingGlucose => "mmol/L",
        }
    }

    fn unit_en(self) -> &'static str {
        match self {
            Field::Pulse => "beats/min",
            Field::Respiration => "breaths/min",
            other => other.unit(),
        }
    }

    /// Read a typed figure: empty means not measured. Full-width digits and the Chinese
    /// full stop (common with a Chinese input method) are read as ASCII.
    pub fn read(self, text: &str) -> Result<Option<f64>, Problem> {
        let normal: String = text
            .trim()
            .chars()
            .map(|c| match c {
                '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
                '。' | '．' => '.',
                other => other,
            })
            .collect();
        if normal.is_empty() {
            return Ok(None);
        }
        match normal.parse::<f64>() {
            Ok(v) if v.is_finite() && normal.chars().all(|c| c.is_ascii_digit() || c == '.') => {
                Ok(Some(v))
            }
            _ => Err(Problem {
                field: self,
                message_zh: format!("{}应为数字（单位 {}）。", self.label_zh(), self.unit()),
                message_en: format!(
                    "{} must be a number (in {}).",
                    self.label_en(),
                    self.unit_en()
                ),
            }),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The measured figures of one exam; `None` where not measured.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Measurements {
    pub temperature_c: Option<f64>,
    pub pulse_bpm: Option<f64>,
    pub respiration_per_min: Option<f64>,
    pub bp_left_sys: Option<f64>,
    pub bp_left_dia: Option<f64>,
    pub bp_right_sys: Option<f64>,
    pub bp_right_dia: Option<f64>,
    pub height_cm: Option<f64>,
    pub weight_kg: Option<f64>,
    pub waist_cm: Option<f64>,
    /// Computed by [`validate`] from height and weight; an input value is ignored.
    pub bmi: Option<f64>,
    pub fasting_glucose_mmol: Option<f64>,
}

impl Measurements {
    /// The value of one field.
    pub fn get(&self, field: Field) -> Option<f64> {
        match field {
            Field::Temperature => self.temperature_c,
            Field::Pulse => self.pulse_bpm,
            Field::Respiration => self.respiration_per_min,
            Field::BpLeftSys => self.bp_left_sys,
            Field::BpLeftDia => self.bp_left_dia,
            Field::BpRightSys => self.bp_right_sys,
            Field::BpRightDia => self.bp_right_dia,
            Field::Height => self.height_cm,
            Field::Weight => self.weight_kg,
            Field::Waist => self.waist_cm,
            Field::Bmi => self.bmi,
            Field::FastingGlucose => self.fasting_glucose_mmol,
        }
    }

    /// Set one field.
    pub fn set(&mut self, field: Field, value: Option<f64>) {
        let slot = match field {
            Field::Temperature => &mut self.temperature_c,
            Field::Pulse => &mut self.pulse_bpm,
            Field::Respiration => &mut self.respiration_per_min,
            Field::BpLeftSys => &mut self.bp_left_sys,
            Field::BpLeftDia => &mut self.bp_left_dia,
            Field::BpRightSys => &mut self.bp_right_sys,
            Field::BpRightDia => &mut self.bp_right_dia,
            Field::Height => &mut self.height_cm,
            Field::Weight => &mut self.weight_kg,
            Field::Waist => &mut self.waist_cm,
            Field::Bmi => &mut self.bmi,
            Field::FastingGlucose => &mut self.fasting_glucose_mmol,
        };
        *slot = value;
    }

    /// The blood pressure that counts for classification: of the two arms, the one with the
    /// higher systolic pressure (then the higher diastolic). 中国高血压防治指南 (2018) asks
    /// for both arms at the first measurement and the higher arm thereafter \[M\].
    pub fn representative_bp(&self) -> Option<(f64, f64)> {
        let left = self.bp_left_sys.zip(self.bp_left_dia);
        let right = self.bp_right_sys.zip(self.bp_right_dia);
        match (left, right) {
            (Some(l), Some(r)) => Some(if (r.0, r.1) > (l.0, l.1) { r } else { l }),
            (l, r) => l.or(r),
        }
    }

    /// Whether any figure was measured.
    pub fn is_empty(&self) -> bool {
        Field::ALL.iter().all(|f| self.get(*f).is_none())
    }
}

/// An inclusive plausible range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

impl Range {
    pub const fn new(min: f64, max: f64) -> Range {
        Range { min, max }
    }

    pub fn contains(&self, v: f64) -> bool {
        v >= self.min && v <= self.max
    }
}

/// Plausible ranges for data entry. Not a national text: these are this project's
/// defaults, chosen to accept every living person (newborns to the very tall) and refuse
/// slips of the keyboard and unit mix-ups; change them per county if needed.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranges {
    /// 体温: 34–43 °C (below 34 is deep hypothermia, above 43 is not survived).
    pub temperature_c: Range,
    /// 脉率: 20–250 per minute (newborns reach about 200).
    pub pulse_bpm: Range,
    /// 呼吸频率: 4–80 per minute (newborns breathe up to about 60).
    pub respiration_per_min: Range,
    /// 收缩压: 60–280 mmHg.
    pub systolic: Range,
    /// 舒张压: 30–180 mmHg, and below the systolic pressure of the same arm.
    pub diastolic: Range,
    /// 身高: 40–230 cm.
    pub height_cm: Range,
    /// 体重: 2–250 kg.
    pub weight_kg: Range,
    /// 腰围: 30–200 cm.
    pub waist_cm: Range,
    /// The BMI that height and weight give must fall here (8–80 kg/m²); outside, one of
    /// the two was mistyped (a height in metres, a weight in 斤).
    pub bmi: Range,
    /// 空腹血糖: 1–35 mmol/L (a value in mg/dL would be about 18 times larger).
    pub fasting_glucose_mmol: Range,
}

impl Default for Ranges {
    fn default() -> Ranges {
        Ranges {
            temperature_c: Range::new(34.0, 43.0),
            pulse_bpm: Range::new(20.0, 250.0),
            respiration_per_min: Range::new(4.0, 80.0),
            systolic: Range::new(60.0, 280.0),
            diastolic: Range::new(30.0, 180.0),
            height_cm: Range::new(40.0, 230.0),
            weight_kg: Range::new(2.0, 250.0),
            waist_cm: Range::new(30.0, 200.0),
            bmi: Range::new(8.0, 80.0),
            fasting_glucose_mmol: Range::new(1.0, 35.0),
        }
    }
}

impl Ranges {
    fn of(&self, field: Field) -> Range {
        match field {
            Field::Temperature => self.temperature_c,
            Field::Pulse => self.pulse_bpm,
            Field::Respiration => self.respiration_per_min,
            Field::BpLeftSys | Field::BpRightSys => self.systolic,
            Field::BpLeftDia | Field::BpRightDia => self.diastolic,
            Field::Height => self.height_cm,
            Field::Weight => self.weight_kg,
            Field::Waist => self.waist_cm,
            Field::Bmi => self.bmi,
            Field::FastingGlucose => self.fasting_glucose_mmol,
        }
    }
}

/// One problem with a figure, in both languages, for the message next to the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub field: Field,
    pub message_zh: String,
    pub message_en: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message_en)
    }
}

/// A figure as people write it: no trailing zeros (`36.5`, `120`, `23.4`).
pub fn figure(v: f64) -> String {
    let text = format!("{:.1}", (v * 10.0).round() / 10.0);
    text.strip_suffix(".0").map_or(text.clone(), str::to_owned)
}

/// 体质指数 = weight (kg) / height (m)², rounded to 0.1 as the form writes it. `None` when
/// either is missing or not positive.
pub fn bmi(weight_kg: f64, height_cm: f64) -> Option<f64> {
    if !(weight_kg.is_finite() && height_cm.is_finite()) || weight_kg <= 0.0 || height_cm <= 0.0 {
        return None;
    }
    let metres = height_cm / 100.0;
    let value = (weight_kg / (metres * metres) * 10.0).round() / 10.0;
    value.is_finite().then_some(value)
}

/// Check every figure against `ranges`, the arms' pairs (both pressures or neither, the
/// diastolic below the systolic) and the BMI that height and weight give. Returns the
/// figures with the BMI computed, or every problem found (not just the first), so a form
/// can show each next to its field.
pub fn validate(m: &Measurements, ranges: &Ranges) -> Result<Measurements, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut out = *m;
    out.bmi = None;
    for field in Field::ALL {
        if field == Field::Bmi {
            continue;
        }
        let Some(v) = m.get(field) else { continue };
        let range = ranges.of(field);
        if !v.is_finite() {
            problems.push(Problem {
                field,
                message_zh: format!("{}不是有效数字。", field.label_zh()),
                message_en: format!("{} is not a valid number.", field.label_en()),
            });
        } else if !range.contains(v) {
            problems.push(Problem {
                field,
                message_zh: format!(
                    "{} {} {} 超出合理范围（{}–{} {}），请核对。",
                    field.label_zh(),
                    figure(v),
                    field.unit(),
                    figure(range.min),
                    figure(range.max),
                    field.unit()
                ),
                message_en: format!(
                    "{} {} {} is outside the plausible range {}–{} {}; check it.",
                    field.label_en(),
                    figure(v),
                    field.unit_en(),
                    figure(range.min),
                    figure(range.max),
                    field.unit_en()
                ),
            });
        }
    }
    let flagged = |problems: &[Problem], f: Field| problems.iter().any(|p| p.field == f);
    for (sys_field, dia_field, zh_arm, en_arm) in [
        (Field::BpLeftSys, Field::BpLeftDia, "左侧", "left"),
        (Field::BpRightSys, Field::BpRightDia, "右侧", "right"),
    ] {
        match (m.get(sys_field), m.get(dia_field)) {
            (Some(_), None) => problems.push(Problem {
                field: dia_field,
                message_zh: format!("请同时填写{zh_arm}舒张压。"),
                message_en: format!("Enter the {en_arm} diastolic pressure too."),
            }),
            (None, Some(_)) => problems.push(Problem {
                field: sys_field,
                message_zh: format!("请同时填写{zh_arm}收缩压。"),
                message_en: format!("Enter the {en_arm} systolic pressure too."),
            }),
            (Some(sys), Some(dia))
                if !flagged(&problems, sys_field)
                    && !flagged(&problems, dia_field)
                    && dia >= sys =>
            {
                problems.push(Problem {
                    field: dia_field,
                    message_zh: format!(
                        "{zh_arm}舒张压 {} mmHg 应低于收缩压 {} mmHg，请核对是否填反。",
                        figure(dia),
                        figure(sys)
                    ),
                    message_en: format!(
                        "The {en_arm} diastolic pressure {} mmHg must be below the systolic {} mmHg; were they swapped?",
                        figure(dia),
                        figure(sys)
                    ),
                });
            }
            _ => {}
        }
    }
    if let (Some(w), Some(h)) = (m.weight_kg, m.height_cm)
        && !flagged(&problems, Field::Weight)
        && !flagged(&problems, Field::Height)
    {
        match bmi(w, h) {
            Some(b) if ranges.bmi.contains(b) => out.bmi = Some(b),
            Some(b) => problems.push(Problem {
                field: Field::Bmi,
                message_zh: format!(
                    "身高 {} cm 与体重 {} kg 得出的体质指数 {} 不合理（应在 {}–{} 之间），请核对身高（厘米）和体重（千克）。",
                    figure(h),
                    figure(w),
                    figure(b),
                    figure(ranges.bmi.min),
                    figure(ranges.bmi.max)
                ),
                message_en: format!(
                    "Height {} cm and weight {} kg give a BMI of {}, outside {}–{}; check the height (in cm) and weight (in kg).",
                    figure(h),
                    figure(w),
                    figure(b),
                    figure(ranges.bmi.min),
                    figure(ranges.bmi.max)
                ),
            }),
            None => {}
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// A coded answer of the 老年人 part of 一般状况: (code, Chinese, English).
pub type Code = (&'static str, &'static str, &'static str);

/// 老年人生活自理能力自我评估 (第三版 健康体检表, scored with the 老年人生活自理能力评估表) \[M\].
pub const SELF_CARE: &[Code] = &[
    ("1", "可自理（0～3分）", "Independent (0-3)"),
    ("2", "轻度依赖（4～8分）", "Mildly dependent (4-8)"),
    ("3", "中度依赖（9～18分）", "Moderately dependent (9-18)"),
    ("4", "不能自理（≥19分）", "Dependent (19 or more)"),
];

/// 老年人认知功能 (粗筛; 简易智力状态检查 when positive) \[M\].
pub const COGNITION: &[Code] = &[
    ("1", "粗筛阴性", "Screen negative"),
    ("2", "粗筛阳性", "Screen positive"),
];

/// 老年人情感状态 (粗筛; 老年人抑郁评分检查 when positive) \[M\].
pub const EMOTION: &[Code] = &[
    ("1", "粗筛阴性", "Screen negative"),
    ("2", "粗筛阳性", "Screen positive"),
];

/// Whether `code` is one of `set`.
pub fn is_code(set: &[Code], code: &str) -> bool {
    set.iter().any(|c| c.0 == code)
}

/// The label of `code` in `set`, Chinese or English.
pub fn code_label(set: &[Code], code: &str, english: bool) -> Option<&'static str> {
    set.iter()
        .find(|c| c.0 == code)
        .map(|c| if english { c.2 } else { c.1 })
}

/// The blood-pressure cut-offs of hypertension follow-up (高血压患者健康管理服务规范,
/// 第三版) and of the 血压控制率 indicator. Provinces set their own indicator cut-offs, and
/// current clinical guidelines aim lower (<130/80 below 80 years, 2024-25 guideline \[S\]),
/// so all of these are configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct BpThresholds {
    /// 达标: systolic below this, `domain.md` §1: SBP < 140 \[M\].
    pub controlled_sys_below: f64,
    /// 达标: and diastolic below this: DBP < 90 \[M\].
    pub controlled_dia_below: f64,
    /// From this age the elderly cut-offs apply: ≥ 65 years \[M\].
    pub elderly_from_age: u32,
    /// 达标 for the elderly: SBP < 150 \[M\].
    pub elderly_controlled_sys_below: f64,
    /// 达标 for the elderly: DBP < 90 \[M\].
    pub elderly_controlled_dia_below: f64,
    /// 紧急转诊: SBP ≥ 180 (第三版 高血压 spec, `domain.md` §1 \[S\]).
    pub urgent_sys_from: f64,
    /// 紧急转诊: or DBP ≥ 110 \[S\].
    pub urgent_dia_from: f64,
}

impl Default for BpThresholds {
    fn default() -> BpThresholds {
        BpThresholds {
            controlled_sys_below: 140.0,
            controlled_dia_below: 90.0,
            elderly_from_age: 65,
            elderly_controlled_sys_below: 150.0,
            elderly_controlled_dia_below: 90.0,
            urgent_sys_from: 180.0,
            urgent_dia_from: 110.0,
        }
    }
}

/// What a blood pressure means for follow-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BpClass {
    /// 血压达标.
    Controlled,
    /// 血压未达标: adjust treatment, see again within 2 weeks.
    Uncontrolled,
    /// 紧急转诊: refer at once, follow the referral up within 2 weeks.
    UrgentReferral,
}

impl BpClass {
    pub fn as_str(self) -> &'static str {
        match self {
            BpClass::Controlled => "controlled",
            BpClass::Uncontrolled => "uncontrolled",
            BpClass::UrgentReferral => "urgent_referral",
        }
    }
}

/// Classify one blood pressure. `age` is in whole years on the day of measurement; when
/// unknown, the general (stricter) cut-offs apply.
pub fn classify_bp(sys: f64, dia: f64, age: Option<u32>, t: &BpThresholds) -> BpClass {
    if sys >= t.urgent_sys_from || dia >= t.urgent_dia_from {
        return BpClass::UrgentReferral;
    }
    let elderly = age.is_some_and(|a| a >= t.elderly_from_age);
    let (sys_below, dia_below) = if elderly {
        (
            t.elderly_controlled_sys_below,
            t.elderly_controlled_dia_below,
        )
    } else {
        (t.controlled_sys_below, t.controlled_dia_below)
    };
    if sys < sys_below && dia < dia_below {
        BpClass::Controlled
    } else {
        BpClass::Uncontrolled
    }
}

/// The fasting-glucose cut-offs of type 2 diabetes follow-up (2型糖尿病患者健康管理服务规范,
/// 第三版); configuration like [`BpThresholds`].
#[derive(Clone, Debug, PartialEq)]
pub struct GlucoseThresholds {
    /// 血糖达标: FPG < 7.0 mmol/L (`domain.md` §1 \[S\]).
    pub controlled_below: f64,
    /// 紧急转诊: FPG ≥ 16.7 mmol/L \[S\].
    pub urgent_from: f64,
    /// 紧急转诊: or FPG ≤ 3.9 mmol/L \[S\].
    pub urgent_at_or_below: f64,
}

impl Default for GlucoseThresholds {
    fn default() -> GlucoseThresholds {
        GlucoseThresholds {
            controlled_below: 7.0,
            urgent_from: 16.7,
            urgent_at_or_below: 3.9,
        }
    }
}

/// What a fasting glucose means for follow-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GlucoseClass {
    Controlled,
    Uncontrolled,
    UrgentReferral,
}

impl GlucoseClass {
    pub fn as_str(self) -> &'static str {
        match self {
            GlucoseClass::Controlled => "controlled",
            GlucoseClass::Uncontrolled => "uncontrolled",
            GlucoseClass::UrgentReferral => "urgent_referral",
        }
    }
}

pub fn classify_glucose(fpg_mmol: f64, t: &GlucoseThresholds) -> GlucoseClass {
    if fpg_mmol >= t.urgent_from || fpg_mmol <= t.urgent_at_or_below {
        GlucoseClass::UrgentReferral
    } else if fpg_mmol < t.controlled_below {
        GlucoseClass::Controlled
    } else {
        GlucoseClass::Uncontrolled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal() -> Measurements {
        Measurements {
            temperature_c: Some(36.5),
            pulse_bpm: Some(72.0),
            respiration_per_min: Some(18.0),
            bp_left_sys: Some(132.0),
            bp_left_dia: Some(84.0),
            bp_right_sys: Some(128.0),
            bp_right_dia: Some(80.0),
            height_cm: Some(160.0),
            weight_kg: Some(60.0),
            waist_cm: Some(82.0),
            bmi: None,
            fasting_glucose_mmol: Some(5.6),
        }
    }

    /// The fields with problems after `edit`.
    #[track_caller]
    fn check(edit: impl FnOnce(&mut Measurements), expect: &[Field]) {
        let mut m = normal();
        edit(&mut m);
        let got: Vec<Field> = match validate(&m, &Ranges::default()) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.iter().map(|p| p.field).collect(),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn a_normal_exam_passes_and_gets_its_bmi() {
        let ok = validate(&normal(), &Ranges::default()).unwrap();
        assert_eq!(ok.bmi, Some(23.4));
        assert_eq!(ok.bp_left_sys, Some(132.0));
        let empty = validate(&Measurements::default(), &Ranges::default()).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn each_range_is_checked_at_its_edges() {
        use Field::*;
        let cases: &[(Field, f64, bool)] = &[
            (Temperature, 34.0, true),
            (Temperature, 33.9, false),
            (Temperature, 43.0, true),
            (Temperature, 43.1, false),
            (Pulse, 20.0, true),
            (Pulse, 251.0, false),
            (Respiration, 3.0, false),
            (Respiration, 80.0, true),
            (BpLeftSys, 60.0, true),
            (BpLeftSys, 59.0, false),
            (BpLeftSys, 280.0, true),
            (BpRightSys, 281.0, false),
            (Height, 40.0, true),
            (Height, 39.9, false),
            (Height, 230.0, true),
            (Height, 231.0, false),
            (Weight, 2.0, true),
            (Weight, 1.9, false),
            (Weight, 250.0, true),
            (Weight, 251.0, false),
            (Waist, 29.0, false),
            (FastingGlucose, 1.0, true),
            (FastingGlucose, 0.9, false),
            (FastingGlucose, 35.0, true),
            (FastingGlucose, 35.1, false),
            (FastingGlucose, 100.0, false), // mg/dL typed into mmol/L
        ];
        for (field, value, ok) in cases {
            let mut m = normal();
            // Low diastolic pressures, so a systolic at its lower edge stays above them.
            m.bp_left_dia = Some(40.0);
            m.bp_right_dia = Some(40.0);
            // Height and weight alone, so the BMI check does not join in.
            m.height_cm = None;
            m.weight_kg = None;
            m.set(*field, Some(*value));
            let result = validate(&m, &Ranges::default());
            assert_eq!(result.is_ok(), *ok, "{field} = {value}: {result:?}");
        }
    }

    #[test]
    fn diastolic_pressures_have_their_own_range_and_stay_below_systolic() {
        use Field::*;
        check(|m| m.bp_left_dia = Some(29.0), &[BpLeftDia]);
        check(|m| m.bp_right_dia = Some(181.0), &[BpRightDia]);
        check(|m| m.bp_left_dia = Some(132.0), &[BpLeftDia]);
        check(
            |m| {
                m.bp_left_sys = Some(80.0);
                m.bp_left_dia = Some(120.0);
            },
            &[BpLeftDia],
        );
        // A systolic out of range is reported once, not again as "not above diastolic".
        check(|m| m.bp_left_sys = Some(30.0), &[BpLeftSys]);
    }

    #[test]
    fn an_arm_needs_both_pressures_or_neither() {
        use Field::*;
        check(|m| m.bp_left_dia = None, &[BpLeftDia]);
        check(|m| m.bp_right_sys = None, &[BpRightSys]);
        check(
            |m| {
                m.bp_right_sys = None;
                m.bp_right_dia = None;
            },
            &[],
        );
    }

    #[test]
    fn a_height_in_metres_is_caught_by_range_and_an_odd_pair_by_bmi() {
        use Field::*;
        check(|m| m.height_cm = Some(1.6), &[Height]);
        check(|m| m.weight_kg = Some(240.0), &[Bmi]);
        check(
            |m| {
                m.height_cm = Some(50.0);
                m.weight_kg = Some(3.5);
            },
            &[],
        );
    }

    #[test]
    fn every_problem_is_reported_with_both_languages() {
        let m = Measurements {
            temperature_c: Some(50.0),
            bp_left_sys: Some(300.0),
            bp_left_dia: Some(90.0),
            fasting_glucose_mmol: Some(0.5),
            ..Measurements::default()
        };
        let problems = validate(&m, &Ranges::default()).unwrap_err();
        let fields: Vec<Field> = problems.iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [Field::Temperature, Field::BpLeftSys, Field::FastingGlucose]
        );
        assert_eq!(
            problems[1].message_zh,
            "左侧收缩压 300 mmHg 超出合理范围（60–280 mmHg），请核对。"
        );
        assert_eq!(
            problems[1].message_en,
            "Left systolic pressure 300 mmHg is outside the plausible range 60–280 mmHg; check it."
        );
        assert!(problems[0].message_zh.contains("34–43 °C"));
    }

    #[test]
    fn non_finite_figures_are_refused() {
        check(|m| m.pulse_bpm = Some(f64::NAN), &[Field::Pulse]);
        check(|m| m.weight_kg = Some(f64::INFINITY), &[Field::Weight]);
    }

    #[test]
    fn bmi_is_kilograms_per_square_metre_to_one_decimal() {
        let cases: &[(f64, f64, Option<f64>)] = &[
            (60.0, 160.0, Some(23.4)),
            (70.0, 175.0, Some(22.9)),
            (3.4, 50.0, Some(13.6)),
            (100.0, 180.0, Some(30.9)),
            (0.0, 160.0, None),
            (60.0, 0.0, None),
            (f64::NAN, 160.0, None),
        ];
        for (w, h, expect) in cases {
            assert_eq!(bmi(*w, *h), *expect, "{w} kg, {h} cm");
        }
    }

    #[test]
    fn typed_figures_accept_full_width_digits_and_refuse_words() {
        assert_eq!(Field::Temperature.read(" 36.5 "), Ok(Some(36.5)));
        assert_eq!(Field::Temperature.read("３６。５"), Ok(Some(36.5)));
        assert_eq!(Field::Pulse.read(""), Ok(None));
        for bad in ["abc", "-5", "1e3", "36,5", "NaN", "inf", "12..3"] {
            let err = Field::Pulse.read(bad).unwrap_err();
            assert_eq!(err.field, Field::Pulse, "{bad}");
            assert_eq!(err.message_zh, "脉率应为数字（单位 次/分）。");
        }
    }

    #[test]
    fn figures_print_without_trailing_zeros() {
        assert_eq!(figure(120.0), "120");
        assert_eq!(figure(36.5), "36.5");
        assert_eq!(figure(23.44), "23.4");
    }

    #[test]
    fn the_higher_arm_counts() {
        let m = normal();
        assert_eq!(m.representative_bp(), Some((132.0, 84.0)));
        let right_only = Measurements {
            bp_right_sys: Some(150.0),
            bp_right_dia: Some(95.0),
            ..Measurements::default()
        };
        assert_eq!(right_only.representative_bp(), Some((150.0, 95.0)));
        assert_eq!(Measurements::default().representative_bp(), None);
    }

    #[test]
    fn blood_pressure_classes_follow_the_third_edition_cut_offs() {
        use BpClass::*;
        let t = BpThresholds::default();
        let cases: &[(f64, f64, Option<u32>, BpClass)] = &[
            (139.0, 89.0, Some(50), Controlled),
            (140.0, 80.0, Some(50), Uncontrolled),
            (130.0, 90.0, Some(50), Uncontrolled),
            (145.0, 85.0, Some(64), Uncontrolled),
            (145.0, 85.0, Some(65), Controlled),
            (149.0, 89.0, Some(80), Controlled),
            (150.0, 80.0, Some(80), Uncontrolled),
            (145.0, 85.0, None, Uncontrolled),
            (179.0, 109.0, Some(50), Uncontrolled),
            (180.0, 100.0, Some(50), UrgentReferral),
            (150.0, 110.0, Some(70), UrgentReferral),
        ];
        for (sys, dia, age, expect) in cases {
            assert_eq!(
                classify_bp(*sys, *dia, *age, &t),
                *expect,
                "{sys}/{dia} at {age:?}"
            );
        }
        let stricter = BpThresholds {
            controlled_sys_below: 130.0,
            controlled_dia_below: 80.0,
            ..BpThresholds::default()
        };
        assert_eq!(classify_bp(135.0, 75.0, Some(50), &stricter), Uncontrolled);
    }

    #[test]
    fn glucose_classes_follow_the_third_edition_cut_offs() {
        use GlucoseClass::*;
        let t = GlucoseThresholds::default();
        for (fpg, expect) in [
            (6.9, Controlled),
            (7.0, Uncontrolled),
            (16.6, Uncontrolled),
            (16.7, UrgentReferral),
            (3.9, UrgentReferral),
            (4.0, Controlled),
        ] {
            assert_eq!(classify_glucose(fpg, &t), expect, "{fpg}");
        }
    }

    #[test]
    fn encounter_kinds_round_trip() {
        for k in EncounterKind::ALL {
            assert_eq!(EncounterKind::parse(k.as_str()), Some(k));
            assert!(!k.name_zh().is_empty() && !k.name_en().is_empty());
        }
        assert_eq!(EncounterKind::parse("surgery"), None);
    }

    #[test]
    fn assessment_codes_are_known() {
        assert!(is_code(SELF_CARE, "4"));
        assert!(!is_code(SELF_CARE, "5"));
        assert_eq!(code_label(COGNITION, "2", false), Some("粗筛阳性"));
        assert_eq!(code_label(EMOTION, "1", true), Some("Screen negative"));
    }

    fn any_figure() -> impl proptest::strategy::Strategy<Value = Option<f64>> {
        use proptest::prelude::*;
        proptest::option::of(prop_oneof![
            -1.0e6..1.0e6f64,
            0.0..300.0f64,
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
        ])
    }

    proptest::proptest! {
        #[test]
        fn validate_never_panics_and_reports_only_what_it_was_given(
            figures in proptest::collection::vec(any_figure(), 12)
        ) {
            let mut m = Measurements::default();
            for (field, value) in Field::ALL.iter().zip(&figures) {
                m.set(*field, *value);
            }
            match validate(&m, &Ranges::default()) {
                Ok(out) => {
                    for field in Field::ALL {
                        if field != Field::Bmi {
                            proptest::prop_assert_eq!(out.get(field), m.get(field));
                        }
                    }
                    if let Some(b) = out.bmi {
                        proptest::prop_assert!(Ranges::default().bmi.contains(b));
                    }
                }
                Err(problems) => {
                    proptest::prop_assert!(!problems.is_empty());
                    for p in problems {
                        proptest::prop_assert!(!p.message_zh.is_empty() && !p.message_en.is_empty());
                    }
                }
            }
        }

        #[test]
        fn bmi_never_decreases_as_weight_grows(
            height in 40.0..230.0f64,
            w1 in 2.0..250.0f64,
            extra in 0.0..100.0f64,
        ) {
            let lighter = bmi(w1, height).unwrap();
            let heavier = bmi(w1 + extra, height).unwrap();
            proptest::prop_assert!(heavier >= lighter, "{} < {}", heavier, lighter);
        }

        #[test]
        fn reading_any_text_never_panics(text in "\\PC{0,12}") {
            let _ = Field::Height.read(&text);
        }

        #[test]
        fn classification_never_panics(sys in -1.0e3..1.0e3f64, dia in -1.0e3..1.0e3f64, age in proptest::option::of(0u32..130)) {
            let _ = classify_bp(sys, dia, age, &BpThresholds::default());
        }
    }
}
