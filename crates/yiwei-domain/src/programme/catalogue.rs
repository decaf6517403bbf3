//! The programme definitions: one builder function per programme, each returning a
//! [`Programme`] built from the [`Config`]. These functions are the data; read them as
//! tables. Sources and tags are on the config fields (`rules.rs`) and on the code sets
//! below.

use super::Programme;
use super::enrolment::Enrolment;
use super::form::{Check, FieldDef, VisitForm};
use super::rules::{
    ChildRules, DiabetesRules, ElderlyRules, HypertensionRules, MaternalRules, MentalRules, Rules,
    ScoliosisRules, TuberculosisRules, VisionRules, keys,
};
use super::schedule::{Anchor, Milestone, Offset, Schedule, VisitKind, Yearly};
use crate::exam::{self, COGNITION, Code, EMOTION, Range, Ranges, SELF_CARE};
use crate::key_group::Condition;

/// Every threshold and window of every programme. `Config::default()` is the national
/// default as far as the sources go; a county changes fields, not code.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// Plausible ranges of measurements, shared with the health-exam form.
    pub ranges: Ranges,
    pub hypertension: HypertensionRules,
    pub diabetes: DiabetesRules,
    pub elderly: ElderlyRules,
    pub severe_mental: MentalRules,
    pub tuberculosis: TuberculosisRules,
    pub maternal: MaternalRules,
    pub child_health: ChildRules,
    pub vision: VisionRules,
    pub scoliosis: ScoliosisRules,
}

/// Every programme, in display order.
pub fn all(config: &Config) -> Vec<Programme> {
    vec![
        hypertension(config),
        diabetes(config),
        elderly(config),
        severe_mental(config),
        tuberculosis(config),
        maternal(config),
        child_health(config),
        student_vision(config),
        student_scoliosis(config),
    ]
}

/// The programme with this code.
pub fn by_code<'a>(programmes: &'a [Programme], code: &str) -> Option<&'a Programme> {
    programmes.iter().find(|p| p.code == code)
}

/// Danger signs that send a hypertensive patient for urgent referral after first aid
/// (第三版 高血压 spec; the list \[M\], the rule \[S\]).
pub(crate) const HYPERTENSION_SIGNS: &[Code] = &[
    ("1", "意识改变", "altered consciousness"),
    ("2", "剧烈头痛或头晕", "severe headache or dizziness"),
    ("3", "恶心呕吐", "nausea and vomiting"),
    ("4", "视力模糊、眼痛", "blurred vision or eye pain"),
    ("5", "心悸、胸闷", "palpitations or chest tightness"),
    ("6", "喘憋不能平卧", "breathless, cannot lie flat"),
    (
        "7",
        "妊娠期或哺乳期血压高于正常",
        "pregnant or breastfeeding with raised pressure",
    ),
    (
        "8",
        "存在不能处理的其他疾病",
        "another illness that cannot be handled here",
    ),
];

/// Danger signs of type 2 diabetes follow-up (第三版 spec \[S partial\], list \[M\]).
pub(crate) const DIABETES_SIGNS: &[Code] = &[
    ("1", "意识或行为改变", "altered consciousness or behaviour"),
    ("2", "呼气有烂苹果样丙酮味", "acetone (rotten-apple) breath"),
    ("3", "心悸、出汗", "palpitations and sweating"),
    (
        "4",
        "食欲减退、恶心、呕吐",
        "poor appetite, nausea, vomiting",
    ),
    ("5", "多饮、多尿", "excessive thirst and urination"),
    ("6", "腹痛", "abdominal pain"),
    (
        "7",
        "深大呼吸、皮肤潮红",
        "deep rapid breathing, flushed skin",
    ),
    ("8", "视力突然骤降", "sudden loss of vision"),
    (
        "9",
        "妊娠期或哺乳期血糖高于正常",
        "pregnant or breastfeeding with raised glucose",
    ),
    ("10", "其他突发异常情况", "another sudden emergency"),
];

/// 服药依从性 (第三版 随访表) \[M\].
const ADHERENCE: &[Code] = &[
    ("1", "规律", "regular"),
    ("2", "间断", "intermittent"),
    ("3", "不服药", "not taking"),
];

/// 危险性评估 0–5 级 (第三版 严重精神障碍 spec \[S\]).
const RISK_GRADES: &[Code] = &[
    (
        "0",
        "0级：无下列任何行为",
        "0: none of the behaviours below",
    ),
    (
        "1",
        "1级：口头威胁，喊叫，但没有打砸行为",
        "1: verbal threats, shouting, no smashing",
    ),
    (
        "2",
        "2级：打砸行为，局限在家里，针对财物，能被劝说制止",
        "2: smashing at home, against things, stops when persuaded",
    ),
    (
        "3",
        "3级：明显打砸行为，不分场合，针对财物，不能接受劝说而停止",
        "3: smashing anywhere, against things, does not stop when persuaded",
    ),
    (
        "4",
        "4级：持续的打砸行为，不分场合，针对财物或人，不能接受劝说而停止（包括自伤、自杀）",
        "4: persistent smashing anywhere, against things or people, including self-harm and suicide attempts",
    ),
    (
        "5",
        "5级：持械针对人的任何暴力行为，或者纵火、爆炸等行为",
        "5: armed violence against people, arson, explosions",
    ),
];

/// 精神症状 (summarised from the 随访表's symptom list) \[M\].
const SYMPTOM_LEVELS: &[Code] = &[
    ("1", "无或基本消失", "none or nearly gone"),
    ("2", "存在但不明显", "present, not prominent"),
    ("3", "明显", "prominent"),
];

/// 自知力 \[S\].
const INSIGHT: &[Code] = &[
    ("1", "自知力完全", "full insight"),
    ("2", "自知力不全", "partial insight"),
    ("3", "自知力缺失", "no insight"),
];

/// 社会功能 (summarised over the 随访表's items) \[M\].
const SOCIAL_FUNCTION: &[Code] = &[
    ("1", "良好", "good"),
    ("2", "一般", "fair"),
    ("3", "较差", "poor"),
];

/// 药物不良反应 \[M\].
const DRUG_REACTION: &[Code] = &[
    ("1", "无", "none"),
    ("2", "有，不严重", "present, not serious"),
    ("3", "急性或严重", "acute or serious"),
];

/// 治疗阶段 (肺结核) \[M\].
const TB_PHASE: &[Code] = &[
    ("1", "强化期", "intensive phase"),
    ("2", "继续期", "continuation phase"),
];

/// 督导人员 (肺结核) \[M\].
const TB_SUPERVISOR: &[Code] = &[
    ("1", "医生", "medical staff"),
    ("2", "家属", "family member"),
    ("3", "自服药", "self-administered"),
    ("4", "其他", "other"),
];

fn bp_fields(ranges: &Ranges) -> [FieldDef; 2] {
    [
        FieldDef::number(
            keys::SYS,
            "收缩压",
            "Systolic pressure",
            ranges.systolic,
            "mmHg",
            "mmHg",
        )
        .required(),
        FieldDef::number(
            keys::DIA,
            "舒张压",
            "Diastolic pressure",
            ranges.diastolic,
            "mmHg",
            "mmHg",
        )
        .required(),
    ]
}

fn bp_check() -> Check {
    Check::Below {
        lower: keys::DIA,
        upper: keys::SYS,
    }
}

fn number(key: &'static str, field: exam::Field, ranges: &Ranges) -> FieldDef {
    let range = match field {
        exam::Field::Weight => ranges.weight_kg,
        exam::Field::Height => ranges.height_cm,
        exam::Field::Pulse => ranges.pulse_bpm,
        exam::Field::Temperature => ranges.temperature_c,
        exam::Field::FastingGlucose => ranges.fasting_glucose_mmol,
        _ => Range::new(0.0, f64::MAX),
    };
    let unit_en = match field {
        exam::Field::Pulse => "beats/min",
        other => other.unit(),
    };
    FieldDef::number(
        key,
        field.label_zh(),
        field.label_en(),
        range,
        field.unit(),
        unit_en,
    )
}

/// Haemoglobin, g/L: 30–250 (this project's plausible range, like [`Ranges`]).
fn hb_field() -> FieldDef {
    FieldDef::number(
        keys::HB,
        "血红蛋白",
        "Haemoglobin",
        Range::new(30.0, 250.0),
        "g/L",
        "g/L",
    )
}

fn note_field() -> FieldDef {
    FieldDef::text(keys::NOTE, "备注", "Note", 200)
}

fn chronic_form(
    code: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    ranges: &Ranges,
    glucose: bool,
    signs: &'static [Code],
) -> VisitForm {
    let mut fields = Vec::from(bp_fields(ranges));
    if glucose {
        fields.push(number(keys::FPG, exam::Field::FastingGlucose, ranges).required());
        fields.push(number(keys::HEART_RATE, exam::Field::Pulse, ranges));
        fields.push(number(keys::TEMPERATURE, exam::Field::Temperature, ranges));
    }
    fields.extend([
        number(keys::WEIGHT, exam::Field::Weight, ranges),
        FieldDef::codes(keys::DANGER_SIGNS, "危急情况", "Danger signs", signs),
        FieldDef::code(keys::ADHERENCE, "服药依从性", "Adherence", ADHERENCE),
        FieldDef::yes_no(keys::ADVERSE_REACTION, "药物不良反应", "Drug reaction").required(),
        FieldDef::yes_no(
            keys::NEW_COMPLICATION,
            "新发并发症或原有并发症加重",
            "New or worse complication",
        )
        .required(),
        note_field(),
    ]);
    VisitForm {
        code,
        name_zh,
        name_en,
        fields,
        checks: vec![bp_check()],
    }
}

/// 高血压患者健康管理: residents ≥35 with primary hypertension; follow-up every 90 days;
/// classification by [`crate::exam::classify_bp`] with the age on the visit day.
pub fn hypertension(config: &Config) -> Programme {
    let r = &config.hypertension;
    Programme {
        code: "hypertension",
        name_zh: "高血压患者健康管理",
        name_en: "Hypertension management",
        source: "国家基本公共卫生服务规范（第三版）高血压患者健康管理服务规范",
        enrolment: Enrolment::All(vec![
            Enrolment::AgeFrom(Offset::Years(r.min_age_years)),
            Enrolment::Condition(Condition::Hypertension),
        ]),
        schedule: Schedule::Interval(r.follow_up.after_referral(r.referral_follow_up_days)),
        form: chronic_form(
            "hypertension_followup",
            "高血压患者随访服务记录表",
            "Hypertension follow-up",
            &config.ranges,
            false,
            HYPERTENSION_SIGNS,
        ),
        rules: Rules::Hypertension(r.clone()),
    }
}

/// 2型糖尿病患者健康管理: residents ≥35 with type 2 diabetes; follow-up every 90 days;
/// classification by [`crate::exam::classify_glucose`].
pub fn diabetes(config: &Config) -> Programme {
    let r = &config.diabetes;
    Programme {
        code: "diabetes",
        name_zh: "2型糖尿病患者健康管理",
        name_en: "Type 2 diabetes management",
        source: "国家基本公共卫生服务规范（第三版）2型糖尿病患者健康管理服务规范",
        enrolment: Enrolment::All(vec![
            Enrolment::AgeFrom(Offset::Years(r.min_age_years)),
            Enrolment::Condition(Condition::Type2Diabetes),
        ]),
        schedule: Schedule::Interval(r.follow_up.after_referral(r.referral_follow_up_days)),
        form: chronic_form(
            "diabetes_followup",
            "2型糖尿病患者随访服务记录表",
            "Type 2 diabetes follow-up",
            &config.ranges,
            true,
            DIABETES_SIGNS,
        ),
        rules: Rules::Diabetes(r.clone()),
    }
}

/// 老年人健康管理: residents 65 and over, once a calendar year.
pub fn elderly(config: &Config) -> Programme {
    let r = &config.elderly;
    let mut fields = Vec::from(bp_fields(&config.ranges));
    fields.extend([
        number(keys::FPG, exam::Field::FastingGlucose, &config.ranges),
        number(keys::WEIGHT, exam::Field::Weight, &config.ranges),
        FieldDef::code(
            keys::SELF_CARE,
            "生活自理能力自我评估",
            "Self-care",
            SELF_CARE,
        )
        .required(),
        FieldDef::code(keys::COGNITION, "认知功能", "Cognition", COGNITION).required(),
        FieldDef::code(keys::EMOTION, "情感状态", "Mood", EMOTION).required(),
        note_field(),
    ]);
    Programme {
        code: "elderly_annual",
        name_zh: "老年人健康管理",
        name_en: "Annual health management, 65 and over",
        source: "国家基本公共卫生服务规范（第三版）老年人健康管理服务规范",
        enrolment: Enrolment::AgeFrom(Offset::Years(r.min_age_years)),
        schedule: Schedule::Yearly(Yearly {
            visit: VisitKind::new("annual", "年度健康管理", "annual check"),
            from_month: r.from_month,
            to_month: r.to_month,
        }),
        form: VisitForm {
            code: "elderly_annual",
            name_zh: "老年人年度健康管理记录",
            name_en: "Annual check, 65 and over",
            fields,
            checks: vec![bp_check()],
        },
        rules: Rules::Elderly(r.clone()),
    }
}

/// 严重精神障碍患者管理: the six diagnoses; follow-up every 3 months when stable, at 2
/// weeks otherwise.
pub fn severe_mental(config: &Config) -> Programme {
    let r = &config.severe_mental;
    Programme {
        code: "severe_mental",
        name_zh: "严重精神障碍患者管理",
        name_en: "Severe mental disorder management",
        source: "国家基本公共卫生服务规范（第三版）严重精神障碍患者管理服务规范",
        enrolment: Enrolment::AnyCondition(
            Condition::ALL
                .into_iter()
                .filter(|c| c.is_severe_mental())
                .collect(),
        ),
        schedule: Schedule::Interval(r.follow_up.after_referral(r.referral_follow_up_days)),
        form: VisitForm {
            code: "severe_mental_followup",
            name_zh: "严重精神障碍患者随访服务记录表",
            name_en: "Severe mental disorder follow-up",
            fields: vec![
                FieldDef::code(keys::RISK_GRADE, "危险性评估", "Risk grade", RISK_GRADES)
                    .required(),
                FieldDef::code(
                    keys::SYMPTOMS,
                    "精神症状",
                    "Psychotic symptoms",
                    SYMPTOM_LEVELS,
                )
                .required(),
                FieldDef::code(keys::INSIGHT, "自知力", "Insight", INSIGHT).required(),
                FieldDef::code(
                    keys::SOCIAL_FUNCTION,
                    "社会功能",
                    "Social function",
                    SOCIAL_FUNCTION,
                )
                .required(),
                FieldDef::code(
                    keys::DRUG_REACTION,
                    "药物不良反应",
                    "Drug reaction",
                    DRUG_REACTION,
                )
                .required(),
                FieldDef::yes_no(
                    keys::PHYSICAL_ILLNESS,
                    "严重躯体疾病",
                    "Serious physical illness",
                )
                .required(),
                FieldDef::code(keys::ADHERENCE, "服药依从性", "Adherence", ADHERENCE),
                note_field(),
            ],
            checks: Vec::new(),
        },
        rules: Rules::SevereMental(r.clone()),
    }
}

/// 肺结核患者健康管理: first home visit within 72 hours of the notice, then supervision
/// visits (monthly, or every 10 days while the family supervises the intensive phase).
pub fn tuberculosis(config: &Config) -> Programme {
    let r = &config.tuberculosis;
    Programme {
        code: "tuberculosis",
        name_zh: "肺结核患者健康管理",
        name_en: "Tuberculosis patient management",
        source: "国家基本公共卫生服务规范（第三版）肺结核患者健康管理服务规范",
        enrolment: Enrolment::Condition(Condition::Tuberculosis),
        schedule: Schedule::Interval(r.follow_up.after_referral(r.referral_follow_up_days)),
        form: VisitForm {
            code: "tuberculosis_followup",
            name_zh: "肺结核患者随访服务记录表",
            name_en: "Tuberculosis follow-up",
            fields: vec![
                FieldDef::code(keys::PHASE, "治疗阶段", "Treatment phase", TB_PHASE).required(),
                FieldDef::code(keys::SUPERVISOR, "督导人员", "Supervised by", TB_SUPERVISOR)
                    .required(),
                FieldDef::number(
                    keys::MISSED_DOSES,
                    "漏服药次数",
                    "Missed doses",
                    Range::new(0.0, 90.0),
                    "次",
                    "doses",
                )
                .required(),
                FieldDef::yes_no(keys::ADVERSE_REACTION, "药物不良反应", "Drug reaction")
                    .required(),
                FieldDef::yes_no(keys::COMPLICATION, "并发症或合并症", "Complication").required(),
                note_field(),
            ],
            checks: Vec::new(),
        },
        rules: Rules::Tuberculosis(r.clone()),
    }
}

/// 孕产妇健康管理: the five prenatal windows counted from the LMP, the postpartum home
/// visit after discharge and the 42-day check.
///
/// Windows (\[S\] for the weeks; the inclusive reading "16–20 周" = 16+0 … 20+6 is \[M\]):
/// 1st before 13 weeks (early registration, 早孕建册; later registration is overdue, not
/// missed), 16–20, 21–24, 28–36, 37–40 weeks (missed when the window closes).
pub fn maternal(config: &Config) -> Programme {
    let r = &config.maternal;
    let week_window = |code, zh, en, from_week: u32, to_week: u32| Milestone {
        visit: VisitKind::new(code, zh, en),
        anchor: Anchor::LastMenstrualPeriod,
        from: Offset::Weeks(from_week),
        by: Offset::Days(to_week * 7 + 6),
        until: Some(Offset::Weeks(to_week + 1)),
    };
    let mut fields = Vec::from(bp_fields(&config.ranges));
    fields.extend([
        number(keys::WEIGHT, exam::Field::Weight, &config.ranges),
        hb_field(),
        FieldDef::yes_no(keys::HIGH_RISK, "高危因素", "High-risk factors").required(),
        note_field(),
    ]);
    Programme {
        code: "maternal",
        name_zh: "孕产妇健康管理",
        name_en: "Maternal care",
        source: "国家基本公共卫生服务规范（第三版）孕产妇健康管理服务规范",
        enrolment: Enrolment::Pregnancy,
        schedule: Schedule::Gestational(vec![
            Milestone {
                visit: VisitKind::new(
                    "prenatal_1",
                    "孕早期健康管理（孕13周前建册）",
                    "first prenatal visit (before 13 weeks)",
                ),
                anchor: Anchor::LastMenstrualPeriod,
                from: Offset::Days(0),
                by: Offset::Days(12 * 7 + 6),
                until: None,
            },
            week_window(
                "prenatal_2",
                "孕16～20周健康管理",
                "prenatal visit, 16–20 weeks",
                16,
                20,
            ),
            week_window(
                "prenatal_3",
                "孕21～24周健康管理",
                "prenatal visit, 21–24 weeks",
                21,
                24,
            ),
            week_window(
                "prenatal_4",
                "孕28～36周健康管理",
                "prenatal visit, 28–36 weeks",
                28,
                36,
            ),
            week_window(
                "prenatal_5",
                "孕37～40周健康管理",
                "prenatal visit, 37–40 weeks",
                37,
                40,
            ),
            Milestone {
                visit: VisitKind::new("postpartum_visit", "产后访视", "postpartum home visit"),
                anchor: Anchor::DeliveryDischarge,
                from: Offset::Days(0),
                by: Offset::Days(r.postpartum_visit_within_days),
                until: Some(Offset::Days(r.postpartum_visit_until_days + 1)),
            },
            Milestone {
                visit: VisitKind::new(
                    "postnatal_42d",
                    "产后42天健康检查",
                    "42-day postnatal check",
                ),
                anchor: Anchor::Delivery,
                from: Offset::Days(42),
                by: Offset::Days(r.postnatal_check_by_days),
                until: Some(Offset::Days(r.postnatal_check_until_days + 1)),
            },
        ]),
        form: VisitForm {
            code: "maternal_visit",
            name_zh: "孕产妇健康管理记录",
            name_en: "Maternal care visit",
            fields,
            checks: vec![bp_check()],
        },
        rules: Rules::Maternal(r.clone()),
    }
}

/// 0～6岁儿童健康管理: newborn home visit within 7 days of discharge \[S\]; 满月 at 28–30
/// days \[S\]; 3, 6, 8, 12, 18, 24, 30, 36 months \[S\]; yearly at 4, 5 and 6 years \[S\].
/// Each check-up is missed when the next one's age arrives (the 6-year one at 7 years);
/// the grace for being on time is [`ChildRules`].
pub fn child_health(config: &Config) -> Programme {
    let r = &config.child_health;
    let ages: [(&'static str, &'static str, &'static str, Offset); 11] = [
        (
            "month_3",
            "3月龄健康检查",
            "3-month check",
            Offset::Months(3),
        ),
        (
            "month_6",
            "6月龄健康检查",
            "6-month check",
            Offset::Months(6),
        ),
        (
            "month_8",
            "8月龄健康检查",
            "8-month check",
            Offset::Months(8),
        ),
        (
            "month_12",
            "12月龄健康检查",
            "12-month check",
            Offset::Months(12),
        ),
        (
            "month_18",
            "18月龄健康检查",
            "18-month check",
            Offset::Months(18),
        ),
        (
            "month_24",
            "24月龄健康检查",
            "24-month check",
            Offset::Months(24),
        ),
        (
            "month_30",
            "30月龄健康检查",
            "30-month check",
            Offset::Months(30),
        ),
        (
            "month_36",
            "36月龄健康检查",
            "36-month check",
            Offset::Months(36),
        ),
        ("year_4", "4岁健康检查", "4-year check", Offset::Years(4)),
        ("year_5", "5岁健康检查", "5-year check", Offset::Years(5)),
        ("year_6", "6岁健康检查", "6-year check", Offset::Years(6)),
    ];
    let months = |o: Offset| match o {
        Offset::Months(n) => n,
        Offset::Years(n) => n * 12,
        Offset::Days(_) | Offset::Weeks(_) => 0,
    };
    let plus = |age: Offset, g: Offset| Offset::Months(months(age) + months(g));
    let mut milestones = vec![
        Milestone {
            visit: VisitKind::new("newborn_visit", "新生儿家庭访视", "newborn home visit"),
            anchor: Anchor::BirthDischarge,
            from: Offset::Days(0),
            by: Offset::Days(r.newborn_visit_within_days),
            until: Some(Offset::Days(28)),
        },
        Milestone {
            visit: VisitKind::new("month_1", "满月健康管理", "one-month check"),
            anchor: Anchor::Birth,
            from: Offset::Days(28),
            by: Offset::Days(30),
            until: Some(Offset::Months(3)),
        },
    ];
    for (i, (code, zh, en, age)) in ages.iter().enumerate() {
        let next = ages.get(i + 1).map_or(Offset::Years(7), |a| a.3);
        let g = if months(*age) < 48 {
            r.infant_grace
        } else {
            r.preschool_grace
        };
        milestones.push(Milestone {
            visit: VisitKind::new(code, zh, en),
            anchor: Anchor::Birth,
            from: *age,
            by: plus(*age, g),
            until: Some(next),
        });
    }
    Programme {
        code: "child_health",
        name_zh: "0～6岁儿童健康管理",
        name_en: "Child health, 0–6 years",
        source: "国家基本公共卫生服务规范（第三版）0～6岁儿童健康管理服务规范",
        enrolment: Enrolment::AgeBelow(Offset::Years(7)),
        schedule: Schedule::AgeBased(milestones),
        form: VisitForm {
            code: "child_check",
            name_zh: "儿童健康检查记录表",
            name_en: "Child health check",
            fields: vec![
                number(keys::WEIGHT, exam::Field::Weight, &config.ranges).required(),
                FieldDef::number(
                    keys::HEIGHT,
                    "身长（身高）",
                    "Length (height)",
                    Range::new(30.0, 160.0),
                    "cm",
                    "cm",
                )
                .required(),
                FieldDef::number(
                    keys::HEAD,
                    "头围",
                    "Head circumference",
                    Range::new(25.0, 60.0),
                    "cm",
                    "cm",
                ),
                hb_field(),
                FieldDef::yes_no(keys::ABNORMAL_FINDINGS, "检查发现异常", "Abnormal findings")
                    .required(),
                note_field(),
            ],
            checks: Vec::new(),
        },
        rules: Rules::ChildHealth(r.clone()),
    }
}

/// 学生视力筛查: once a school year in the configured season, for the configured grades.
pub fn student_vision(config: &Config) -> Programme {
    let r = &config.vision;
    // 5-point logMAR chart (标准对数视力表, GB 11533): 4.0 … 5.3 on the chart, 3.0 for
    // counting fingers and below.
    let va = |key, zh, en| FieldDef::number(key, zh, en, Range::new(3.0, 5.3), "", "");
    Programme {
        code: "student_vision",
        name_zh: "学生视力筛查",
        name_en: "School vision screening",
        source: "WS/T 663-2020 中小学生屈光不正筛查规范",
        enrolment: Enrolment::InSchool {
            grades: r.grades.clone(),
        },
        schedule: Schedule::Yearly(Yearly {
            visit: VisitKind::new("screening", "视力筛查", "vision screening"),
            from_month: r.from_month,
            to_month: r.to_month,
        }),
        form: VisitForm {
            code: "vision_screening",
            name_zh: "学生视力筛查记录",
            name_en: "Vision screening",
            fields: vec![
                va(keys::UCVA_LEFT, "左眼裸眼视力", "Left eye, uncorrected").required(),
                va(keys::UCVA_RIGHT, "右眼裸眼视力", "Right eye, uncorrected").required(),
                FieldDef::yes_no(keys::GLASSES, "戴镜", "Wears glasses"),
                va(keys::CORRECTED_LEFT, "左眼戴镜视力", "Left eye, corrected"),
                va(
                    keys::CORRECTED_RIGHT,
                    "右眼戴镜视力",
                    "Right eye, corrected",
                ),
                note_field(),
            ],
            checks: Vec::new(),
        },
        rules: Rules::Vision(r.clone()),
    }
}

/// 学生脊柱弯曲异常筛查: once a school year, for the configured grades.
pub fn student_scoliosis(config: &Config) -> Programme {
    let r = &config.scoliosis;
    Programme {
        code: "student_scoliosis",
        name_zh: "学生脊柱弯曲异常筛查",
        name_en: "School scoliosis screening",
        source: "GB/T 16133-2014 儿童青少年脊柱弯曲异常的筛查",
        enrolment: Enrolment::InSchool {
            grades: r.grades.clone(),
        },
        schedule: Schedule::Yearly(Yearly {
            visit: VisitKind::new("screening", "脊柱弯曲异常筛查", "scoliosis screening"),
            from_month: r.from_month,
            to_month: r.to_month,
        }),
        form: VisitForm {
            code: "scoliosis_screening",
            name_zh: "学生脊柱弯曲异常筛查记录",
            name_en: "Scoliosis screening",
            fields: vec![
                FieldDef::number(
                    keys::ATR,
                    "躯干旋转角",
                    "Angle of trunk rotation",
                    Range::new(0.0, 30.0),
                    "°",
                    "°",
                )
                .required(),
                FieldDef::yes_no(
                    keys::FORWARD_BEND,
                    "前屈试验阳性",
                    "Forward bend test positive",
                ),
                note_field(),
            ],
            checks: Vec::new(),
        },
        rules: Rules::Scoliosis(r.clone()),
    }
}
