//! Programme indicators (考核指标) of the 国家基本公共卫生服务规范（第三版）: the catalogue as
//! data, and one pure evaluation per resident that says, for every indicator, whether the
//! resident is in the denominator and in the numerator, and if counted short, why.
//!
//! **One definition per indicator.** The figure of a division is the sum of [`evaluate`]
//! over its residents, and the list behind a figure is the residents for whom the same
//! [`evaluate`] answered "in the numerator" (or denominator, or the gap between them). There
//! is no second formula in SQL: the store only narrows the residents it reads to those who
//! can be in some denominator, and a resident it skipped would have evaluated to nothing.
//!
//! Formulas (numerator / denominator, `shared/domain.md` §1 and §3; tags as there: \[S\] seen
//! in a source, \[M\] background knowledge consistent with sources, *unconfirmed* a default to
//! configure in [`IndicatorConfig`]). The period is `from ..= to`, calendar days.
//!
//! | Code | Numerator / denominator |
//! |---|---|
//! | `hypertension_standard`, `diabetes_standard` | 规范管理率 \[S name\]: enrolled residents ≥35 \[S\] whose enrolment overlaps the period ("年内已管理人数") / of them, those with at least the required follow-ups inside the overlap. Required = 4 a year \[M\], scaled by the months of the overlap (see [`required_visits`]) |
//! | `hypertension_controlled`, `diabetes_controlled` | 控制率 \[S\]: the same denominator / those whose last follow-up in the overlap was classified controlled; no follow-up counts as not controlled \[M\] |
//! | `severe_mental_standard` | 规范管理率 \[S\]: enrolled (登记在册确诊) in the period / at least the required follow-ups (4 a year \[S\], scaled) |
//! | `tuberculosis_managed` | 管理率 \[S name\]: notices (enrolment start) in the period / with at least one visit on or after the notice, by the period end |
//! | `tuberculosis_first_visit_72h` | notices in the period / first visit within 72 hours, read as 3 calendar days after the notice day \[M\] |
//! | `maternal_early_registration` | 早孕建册率 \[S name, M wording\]: deliveries in the period (活产数, one per delivery) / with the `prenatal_1` visit of that pregnancy before 13 weeks \[S\] |
//! | `maternal_postpartum_visit` | 产后访视率: deliveries in the period / with a `postpartum_visit` within 28 days of discharge \[S name, M wording\] |
//! | `child_health` | 0～6岁儿童健康管理率: children aged 0–6 on the period end / with ≥1 `child_health` visit in the period \[S name, M wording\] |
//! | `newborn_visit` | 新生儿访视率: births in the period / with a `newborn_visit` within 7 days of discharge (the birth date when unknown) \[S\] |
//! | `elderly_health` | 老年人健康管理率 \[S\]: 65 or older on the period end / with ≥1 `elderly_annual` visit in the period |
//! | `student_vision`, `student_scoliosis` | 筛查率: pupils enrolled in the screening in the period / screened (≥1 visit) in the period \[M\] |
//! | `vaccine:<series>:<dose>` | 接种率 \[S\]: children who reached the dose's minimum age inside the period (适龄) / of them, those with the dose counted by the period end |
//! | `vaccine_timely:<series>:<dose>` | 及时接种率: the same denominator / those given the dose before its completion age (建议完成年龄), or within `timely_within` of the minimum age where the schedule names none (*unconfirmed* default one month) |
//!
//! What it deliberately does not do: signing coverage (签约服务覆盖率) is the contract
//! module's (`yiwei_domain::contract`, the store's `contract::coverage`) and is only shown
//! beside these figures; residency (常住) is the store's: every live record counts.

use chrono::{Datelike, NaiveDate};

use super::Pregnancy;
use super::immunization::{self, Dose, Edition, Slot};
use super::rules::Classification;
use super::schedule::{Offset, add_days};
use crate::key_group::{KeyGroup, age_on};
use crate::ws365::Sex;

/// The period of a figure, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IndicatorPeriod {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Why a period cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("the period ends before it starts")]
    Reversed,
    #[error("a period is at most 5 years long")]
    TooLong,
    #[error("no such month or quarter")]
    NoSuchPart,
}

impl IndicatorPeriod {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<IndicatorPeriod, PeriodError> {
        if to < from {
            return Err(PeriodError::Reversed);
        }
        if (to - from).num_days() > 5 * 366 {
            return Err(PeriodError::TooLong);
        }
        Ok(IndicatorPeriod { from, to })
    }

    /// The calendar year (考核年度 = calendar year unless the province says otherwise \[S\]).
    pub fn year(year: i32) -> Result<IndicatorPeriod, PeriodError> {
        let from = NaiveDate::from_ymd_opt(year, 1, 1).ok_or(PeriodError::NoSuchPart)?;
        let to = NaiveDate::from_ymd_opt(year, 12, 31).ok_or(PeriodError::NoSuchPart)?;
        IndicatorPeriod::new(from, to)
    }

    /// Quarter 1–4 of `year`.
    pub fn quarter(year: i32, quarter: u32) -> Result<IndicatorPeriod, PeriodError> {
        if !(1..=4).contains(&quarter) {
            return Err(PeriodError::NoSuchPart);
        }
        let first = IndicatorPeriod::month(year, quarter * 3 - 2)?;
        let last = IndicatorPeriod::month(year, quarter * 3)?;
        IndicatorPeriod::new(first.from, last.to)
    }

    /// Month 1–12 of `year`.
    pub fn month(year: i32, month: u32) -> Result<IndicatorPeriod, PeriodError> {
        let from = NaiveDate::from_ymd_opt(year, month, 1).ok_or(PeriodError::NoSuchPart)?;
        let next = from
            .checked_add_months(chrono::Months::new(1))
            .ok_or(PeriodError::NoSuchPart)?;
        IndicatorPeriod::new(from, add_days(next, -1))
    }

    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }
}

/// Months touched by `from ..= to`, a part month counting whole: January–December is 12,
/// one quarter 3, 15 January–14 February 2.
pub fn months_touched(from: NaiveDate, to: NaiveDate) -> u32 {
    if to < from {
        return 0;
    }
    let m = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32 + 1;
    u32::try_from(m).unwrap_or(0)
}

/// Follow-ups required of a resident managed for `months` months when `per_year` are
/// required a year: `ceil(per_year × months / 12)`, at least 1. A year needs 4, a half year
/// 2, a quarter or a single month 1. The 规范 counts a calendar year; the scaling for part
/// years (a quarterly figure, a patient enrolled in October) is this project's reading
/// (*unconfirmed*; a province that counts only full-year patients sets
/// [`IndicatorConfig::prorate`] to false and gets `per_year` whatever the months).
pub fn required_visits(per_year: u32, months: u32, prorate: bool) -> u32 {
    if !prorate {
        return per_year;
    }
    (per_year * months.min(12)).div_ceil(12).max(1)
}

/// Cut-offs that vary by province or were not confirmed; defaults as `domain.md` gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndicatorConfig {
    /// Follow-ups a year for 规范管理 of hypertension and diabetes (≥4 \[M\]).
    pub chronic_visits_per_year: u32,
    /// Follow-ups a year for severe mental disorders (≥4 \[S\]).
    pub mental_visits_per_year: u32,
    /// Scale the yearly count by the months managed in the period (*unconfirmed*).
    pub prorate: bool,
    /// Minimum age of hypertension and diabetes management (35 \[S\]).
    pub chronic_min_age: u32,
    /// Age of the elderly programme (65 \[S\]), reached by the period end.
    pub elderly_age: u32,
    /// Days after the notice for the first tuberculosis visit (72 h \[M\] = 3 days).
    pub tb_first_visit_days: u32,
    /// 早孕建册 before this many weeks of gestation (13 \[S\]).
    pub early_registration_weeks: u32,
    /// 产后访视 within this many days of discharge (28 \[M wording\]; the 规范's own window
    /// is 3–7 days, which the work list uses).
    pub postpartum_within_days: u32,
    /// 新生儿访视 within this many days of discharge (7 \[S\]).
    pub newborn_within_days: u32,
    /// Target coverage of each vaccine dose, percent (≥90 at township level \[S old
    /// secondary\]).
    pub vaccine_target: Option<u32>,
}

impl Default for IndicatorConfig {
    fn default() -> Self {
        IndicatorConfig {
            chronic_visits_per_year: 4,
            mental_visits_per_year: 4,
            prorate: true,
            chronic_min_age: 35,
            elderly_age: 65,
            tb_first_visit_days: 3,
            early_registration_weeks: 13,
            postpartum_within_days: 28,
            newborn_within_days: 7,
            vaccine_target: Some(90),
        }
    }
}

/// What an indicator counts; the evaluation dispatches on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    ChronicStandard { programme: &'static str },
    ChronicControlled { programme: &'static str },
    MentalStandard,
    TbManaged,
    TbFirstVisit,
    EarlyRegistration,
    PostpartumVisit,
    ChildHealth,
    NewbornVisit,
    ElderlyHealth,
    Screening { programme: &'static str },
    VaccineCoverage { series: &'static str, dose: u8 },
    VaccineTimely { series: &'static str, dose: u8 },
}

/// One indicator of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Indicator {
    /// Stable ASCII code for URLs and the API (`hypertension_standard`, `vaccine:hepb:1`).
    pub code: String,
    /// The programme it belongs to (a programme code, or `immunization`).
    pub programme: &'static str,
    pub name_zh: String,
    pub name_en: String,
    pub numerator_zh: String,
    pub numerator_en: String,
    pub denominator_zh: String,
    pub denominator_en: String,
    /// Always a percentage today (`%`); kept so a count-type indicator can be added.
    pub unit: &'static str,
    /// The text it follows and the tag of its formula.
    pub source: String,
    /// Target rate in percent, where one is set.
    pub target: Option<u32>,
    pub kind: Kind,
}

const SPEC: &str = "国家基本公共卫生服务规范（第三版）";

#[expect(
    clippy::too_many_arguments,
    reason = "one struct literal, named at the call"
)]
fn ind(
    code: &str,
    programme: &'static str,
    name: (&str, &str),
    numerator: (&str, &str),
    denominator: (&str, &str),
    source: &str,
    target: Option<u32>,
    kind: Kind,
) -> Indicator {
    Indicator {
        code: code.to_owned(),
        programme,
        name_zh: name.0.to_owned(),
        name_en: name.1.to_owned(),
        numerator_zh: numerator.0.to_owned(),
        numerator_en: numerator.1.to_owned(),
        denominator_zh: denominator.0.to_owned(),
        denominator_en: denominator.1.to_owned(),
        unit: "%",
        source: source.to_owned(),
        target,
        kind,
    }
}

/// The catalogue for a period: the programme indicators, then coverage and timeliness of
/// every dose of the immunization `edition` (the one in force on the period end; doses are
/// counted by their order in the series, so older cohorts carry over).
pub fn catalogue(config: &IndicatorConfig, edition: &Edition) -> Vec<Indicator> {
    let chronic_den_zh = format!("年内已管理的{}岁及以上患者数", config.chronic_min_age);
    let chronic_den_en = format!(
        "patients aged {}+ under management in the period",
        config.chronic_min_age
    );
    let standard_num_zh = format!(
        "期内面对面随访≥{}次/年（按管理月数折算）的人数",
        config.chronic_visits_per_year
    );
    let standard_num_en = format!(
        "with ≥{} follow-ups a year (scaled by the months managed)",
        config.chronic_visits_per_year
    );
    let mut out = vec![
        ind(
            "hypertension_standard",
            "hypertension",
            ("高血压患者规范管理率", "Hypertension: managed to standard"),
            (&standard_num_zh, &standard_num_en),
            (&chronic_den_zh, &chronic_den_en),
            &format!("{SPEC} 高血压患者健康管理服务规范 [S 指标名称; ≥4次 M]"),
            None,
            Kind::ChronicStandard {
                programme: "hypertension",
            },
        ),
        ind(
            "hypertension_controlled",
            "hypertension",
            (
                "管理人群血压控制率",
                "Hypertension: blood pressure controlled",
            ),
            (
                "期内最近一次随访血压达标的人数（无随访计为未达标）",
                "whose last follow-up in the period was controlled (none counts as not)",
            ),
            (&chronic_den_zh, &chronic_den_en),
            &format!("{SPEC} 高血压 [S]; 失访计为未控制 [M]; 达标标准按随访时分类"),
            None,
            Kind::ChronicControlled {
                programme: "hypertension",
            },
        ),
        ind(
            "diabetes_standard",
            "diabetes",
            (
                "2型糖尿病患者规范管理率",
                "Type 2 diabetes: managed to standard",
            ),
            (&standard_num_zh, &standard_num_en),
            (&chronic_den_zh, &chronic_den_en),
            &format!("{SPEC} 2型糖尿病患者健康管理服务规范 [S 指标名称; ≥4次 M]"),
            None,
            Kind::ChronicStandard {
                programme: "diabetes",
            },
        ),
        ind(
            "diabetes_controlled",
            "diabetes",
            ("管理人群血糖控制率", "Type 2 diabetes: glucose controlled"),
            (
                "期内最近一次随访空腹血糖达标的人数（无随访计为未达标）",
                "whose last follow-up in the period was controlled (none counts as not)",
            ),
            (&chronic_den_zh, &chronic_den_en),
            &format!("{SPEC} 2型糖尿病 [S]; 达标 = 空腹血糖 <7.0 mmol/L [S]"),
            None,
            Kind::ChronicControlled {
                programme: "diabetes",
            },
        ),
        ind(
            "severe_mental_standard",
            "severe_mental",
            (
                "严重精神障碍患者规范管理率",
                "Severe mental disorders: managed to standard",
            ),
            (
                &format!(
                    "期内随访≥{}次/年（按管理月数折算）的人数",
                    config.mental_visits_per_year
                ),
                &format!(
                    "with ≥{} follow-ups a year (scaled by the months managed)",
                    config.mental_visits_per_year
                ),
            ),
            (
                "期内登记在册的确诊患者数",
                "diagnosed patients registered in the period",
            ),
            &format!("{SPEC} 严重精神障碍患者管理服务规范 [S]"),
            None,
            Kind::MentalStandard,
        ),
        ind(
            "tuberculosis_managed",
            "tuberculosis",
            ("肺结核患者管理率", "Tuberculosis: patients managed"),
            (
                "期末前至少随访1次的人数",
                "with at least one visit by the period end",
            ),
            (
                "期内通知基层管理的确诊患者数",
                "confirmed patients notified to primary care in the period",
            ),
            &format!("{SPEC} 肺结核患者健康管理服务规范 [S 指标名称, M 口径]"),
            None,
            Kind::TbManaged,
        ),
        ind(
            "tuberculosis_first_visit_72h",
            "tuberculosis",
            (
                "肺结核患者72小时内首次入户随访率",
                "Tuberculosis: first visit within 72 hours",
            ),
            (
                &format!("通知后{}天内首次随访的人数", config.tb_first_visit_days),
                &format!(
                    "first visit within {} days of the notice",
                    config.tb_first_visit_days
                ),
            ),
            (
                "期内通知基层管理的确诊患者数",
                "confirmed patients notified to primary care in the period",
            ),
            &format!("{SPEC} 肺结核 72小时 [M]"),
            None,
            Kind::TbFirstVisit,
        ),
        ind(
            "maternal_early_registration",
            "maternal",
            ("早孕建册率", "Early pregnancy registration"),
            (
                &format!(
                    "孕{}周前建册并首检的产妇数",
                    config.early_registration_weeks
                ),
                &format!(
                    "deliveries whose first visit was before {} weeks",
                    config.early_registration_weeks
                ),
            ),
            (
                "期内分娩数（活产数）",
                "deliveries in the period (live births)",
            ),
            &format!("{SPEC} 孕产妇健康管理服务规范 [S 指标名称, M 口径]"),
            None,
            Kind::EarlyRegistration,
        ),
        ind(
            "maternal_postpartum_visit",
            "maternal",
            ("产后访视率", "Postpartum home visits"),
            (
                &format!(
                    "出院后{}天内接受产后访视的产妇数",
                    config.postpartum_within_days
                ),
                &format!(
                    "deliveries with a postpartum visit within {} days of discharge",
                    config.postpartum_within_days
                ),
            ),
            (
                "期内分娩数（活产数）",
                "deliveries in the period (live births)",
            ),
            &format!("{SPEC} 孕产妇 [S 指标名称, M 口径]"),
            None,
            Kind::PostpartumVisit,
        ),
        ind(
            "child_health",
            "child_health",
            ("0～6岁儿童健康管理率", "Child health management, 0–6"),
            (
                "期内接受≥1次随访的0～6岁儿童数",
                "children 0–6 with at least one check in the period",
            ),
            ("期末0～6岁儿童数", "children aged 0–6 on the period end"),
            &format!("{SPEC} 0～6岁儿童健康管理服务规范 [S 指标名称, M 口径]"),
            None,
            Kind::ChildHealth,
        ),
        ind(
            "newborn_visit",
            "child_health",
            ("新生儿访视率", "Newborn home visits"),
            (
                &format!("出院后{}天内接受访视的新生儿数", config.newborn_within_days),
                &format!(
                    "newborns visited within {} days of discharge",
                    config.newborn_within_days
                ),
            ),
            ("期内活产数", "live births in the period"),
            &format!("{SPEC} 0～6岁儿童 新生儿家庭访视 [S]"),
            None,
            Kind::NewbornVisit,
        ),
        ind(
            "elderly_health",
            "elderly_annual",
            ("老年人健康管理率", "Health management, 65 and over"),
            (
                "期内接受健康管理的人数",
                "with an annual check in the period",
            ),
            (
                &format!("期末{}岁及以上居民数", config.elderly_age),
                &format!("residents aged {}+ on the period end", config.elderly_age),
            ),
            &format!("{SPEC} 老年人健康管理服务规范 [S]"),
            None,
            Kind::ElderlyHealth,
        ),
        ind(
            "student_vision",
            "student_vision",
            ("学生视力筛查率", "School vision screening"),
            ("期内已筛查的学生数", "pupils screened in the period"),
            ("期内应筛查的学生数", "pupils to be screened in the period"),
            "WS/T 663-2020 [M 口径]",
            None,
            Kind::Screening {
                programme: "student_vision",
            },
        ),
        ind(
            "student_scoliosis",
            "student_scoliosis",
            ("学生脊柱弯曲异常筛查率", "School scoliosis screening"),
            ("期内已筛查的学生数", "pupils screened in the period"),
            ("期内应筛查的学生数", "pupils to be screened in the period"),
            "GB/T 16133-2014 [M 口径]",
            None,
            Kind::Screening {
                programme: "student_scoliosis",
            },
        ),
    ];
    for s in &edition.series {
        for (k, rule) in s.doses.iter().enumerate() {
            let dose = u8::try_from(k + 1).unwrap_or(u8::MAX);
            let age_zh = rule.min_age.label_zh();
            let age_en = rule.min_age.label_en();
            let den_zh = format!("期内满{age_zh}（适龄）的儿童数");
            let den_en = format!("children who reached {age_en} in the period");
            out.push(ind(
                &format!("vaccine:{}:{dose}", s.code),
                "immunization",
                (
                    &format!("{} 第{dose}剂 接种率", s.name_zh),
                    &format!("{} dose {dose}: coverage", s.name_en),
                ),
                (
                    "其中期末前已接种该剂次的人数",
                    "of them, given the dose by the period end",
                ),
                (&den_zh, &den_en),
                &format!(
                    "{} [S 某疫苗接种率 = 实际接种人数/应接种人数]",
                    edition.name_zh
                ),
                config.vaccine_target,
                Kind::VaccineCoverage {
                    series: s.code,
                    dose,
                },
            ));
            let (timely_zh, timely_en) = match rule.complete_before {
                Some(age) => (
                    format!("{}前完成", age.label_zh()),
                    format!("before {}", age.label_en()),
                ),
                None => {
                    let w = rule.timely_within.unwrap_or(edition.rules.timely_within);
                    (
                        format!("满{age_zh}后{}内", w.label_zh()),
                        format!("within {} of {age_en}", w.label_en()),
                    )
                }
            };
            out.push(ind(
                &format!("vaccine_timely:{}:{dose}", s.code),
                "immunization",
                (
                    &format!("{} 第{dose}剂 及时接种率", s.name_zh),
                    &format!("{} dose {dose}: on time", s.name_en),
                ),
                (
                    &format!("其中{timely_zh}接种的人数"),
                    &format!("of them, given {timely_en}"),
                ),
                (&den_zh, &den_en),
                &format!(
                    "{}; 建议完成年龄 [S], 无完成年龄时默认1个月 (unconfirmed)",
                    edition.name_zh
                ),
                None,
                Kind::VaccineTimely {
                    series: s.code,
                    dose,
                },
            ));
        }
    }
    out
}

/// An enrolment (在管) overlapping the period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrolmentFact {
    /// The store's id, to tie visits to a pregnancy.
    pub id: i64,
    pub programme: String,
    pub started_on: NaiveDate,
    pub ended_on: Option<NaiveDate>,
    /// For maternal care: the pregnancy's dates.
    pub pregnancy: Option<Pregnancy>,
}

/// A visit that was not voided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitFact {
    pub programme: String,
    /// The visit kind's code (`prenatal_1`, `postpartum_visit`, `newborn_visit` …).
    pub code: String,
    pub date: NaiveDate,
    /// The enrolment it belongs to, when the store recorded one.
    pub enrolment_id: Option<i64>,
    pub classification: Option<Classification>,
}

/// One resident's facts for one period: what [`evaluate`] reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResidentPeriod {
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<Sex>,
    pub key_groups: Vec<KeyGroup>,
    /// The day a newborn left hospital, when known.
    pub discharged_after_birth: Option<NaiveDate>,
    pub enrolments: Vec<EnrolmentFact>,
    /// Non-voided visits in the period, and for maternal care also before it.
    pub visits: Vec<VisitFact>,
    /// Non-voided doses given up to the period end.
    pub doses: Vec<Dose>,
}

/// Why a resident counted in the denominator is short of the numerator (the gap a doctor
/// must close), in words for the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shortfall {
    pub zh: String,
    pub en: String,
}

impl Shortfall {
    fn new(zh: impl Into<String>, en: impl Into<String>) -> Shortfall {
        Shortfall {
            zh: zh.into(),
            en: en.into(),
        }
    }
}

/// A resident's count for one indicator: how many times in the denominator and in the
/// numerator (more than once only for indicators counted per delivery), and the reason for
/// each one short.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Count {
    pub denominator: u32,
    pub numerator: u32,
    pub shortfalls: Vec<Shortfall>,
}

impl Count {
    fn one(hit: Result<(), Shortfall>) -> Count {
        match hit {
            Ok(()) => Count {
                denominator: 1,
                numerator: 1,
                shortfalls: Vec::new(),
            },
            Err(s) => Count {
                denominator: 1,
                numerator: 0,
                shortfalls: vec![s],
            },
        }
    }

    fn add(&mut self, other: Count) {
        self.denominator += other.denominator;
        self.numerator += other.numerator;
        self.shortfalls.extend(other.shortfalls);
    }

    /// Whether the resident belongs to `part` of the figure.
    pub fn is_in(&self, part: Part) -> bool {
        match part {
            Part::Numerator => self.numerator > 0,
            Part::Denominator => self.denominator > 0,
            Part::Gap => self.numerator < self.denominator,
        }
    }
}

/// A part of a figure a list can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    Numerator,
    Denominator,
    /// Denominator minus numerator: the residents still to be served.
    Gap,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Numerator => "numerator",
            Part::Denominator => "denominator",
            Part::Gap => "gap",
        }
    }

    pub fn parse(s: &str) -> Option<Part> {
        match s {
            "numerator" => Some(Part::Numerator),
            "denominator" => Some(Part::Denominator),
            "gap" => Some(Part::Gap),
            _ => None,
        }
    }
}

/// Evaluate every indicator of `indicators` for one resident in `period`, in the same
/// order. Pure: the same facts give the same counts.
pub fn evaluate(
    indicators: &[Indicator],
    config: &IndicatorConfig,
    edition: &Edition,
    facts: &ResidentPeriod,
    period: IndicatorPeriod,
) -> Vec<Count> {
    let mut doses: Vec<Dose> = facts
        .doses
        .iter()
        .copied()
        .filter(|d| d.date <= period.to && facts.birth_date.is_none_or(|b| d.date >= b))
        .collect();
    doses.sort_by_key(|g| (g.date, g.vaccine));
    let needs_doses = indicators.iter().any(|i| {
        matches!(
            i.kind,
            Kind::VaccineCoverage { .. } | Kind::VaccineTimely { .. }
        )
    });
    let counted = match (facts.birth_date, needs_doses) {
        (Some(_), true) => Some(immunization::assign(edition, facts.sex, &doses)),
        _ => None,
    };
    indicators
        .iter()
        .map(|i| one(i, config, edition, facts, period, counted.as_ref()))
        .collect()
}

type Assigned = (Vec<Slot>, Vec<Option<Vec<NaiveDate>>>);

fn one(
    indicator: &Indicator,
    config: &IndicatorConfig,
    edition: &Edition,
    facts: &ResidentPeriod,
    period: IndicatorPeriod,
    counted: Option<&Assigned>,
) -> Count {
    match &indicator.kind {
        Kind::ChronicStandard { programme } => managed(
            facts,
            period,
            programme,
            Some(config.chronic_min_age),
            |visits, months| {
                standard(
                    visits,
                    required_visits(config.chronic_visits_per_year, months, config.prorate),
                )
            },
        ),
        Kind::MentalStandard => managed(facts, period, "severe_mental", None, |visits, months| {
            standard(
                visits,
                required_visits(config.mental_visits_per_year, months, config.prorate),
            )
        }),
        Kind::ChronicControlled { programme } => managed(
            facts,
            period,
            programme,
            Some(config.chronic_min_age),
            |visits, _| match visits.last() {
                None => Err(Shortfall::new(
                    "期内无随访（计为未控制）",
                    "no follow-up in the period (counts as not controlled)",
                )),
                Some(v) if v.classification == Some(Classification::Controlled) => Ok(()),
                Some(v) => Err(Shortfall::new(
                    format!("最近一次随访（{}）未达标", v.date),
                    format!("last follow-up ({}) not controlled", v.date),
                )),
            },
        ),
        Kind::TbManaged | Kind::TbFirstVisit => {
            let mut c = Count::default();
            for e in facts
                .enrolments
                .iter()
                .filter(|e| e.programme == "tuberculosis" && period.contains(e.started_on))
            {
                let first = facts
                    .visits
                    .iter()
                    .filter(|v| {
                        v.programme == "tuberculosis"
                            && v.date >= e.started_on
                            && v.date <= period.to
                            && v.enrolment_id.is_none_or(|id| id == e.id)
                    })
                    .map(|v| v.date)
                    .min();
                let hit = match (first, &indicator.kind) {
                    (None, _) => Err(Shortfall::new(
                        format!("{} 通知后未随访", e.started_on),
                        format!("no visit since the notice of {}", e.started_on),
                    )),
                    (Some(_), Kind::TbManaged) => Ok(()),
                    (Some(d), _) => {
                        let limit = add_days(e.started_on, i64::from(config.tb_first_visit_days));
                        if d <= limit {
                            Ok(())
                        } else {
                            Err(Shortfall::new(
                                format!("首次随访 {d}，晚于 {limit}"),
                                format!("first visit {d}, after {limit}"),
                            ))
                        }
                    }
                };
                c.add(Count::one(hit));
            }
            c
        }
        Kind::EarlyRegistration | Kind::PostpartumVisit => {
            let mut c = Count::default();
            for e in facts
                .enrolments
                .iter()
                .filter(|e| e.programme == "maternal")
            {
                let Some(p) = e.pregnancy else { continue };
                let Some(delivered) = p.delivered_on.filter(|d| period.contains(*d)) else {
                    continue;
                };
                let of_episode = |code: &str| {
                    facts
                        .visits
                        .iter()
                        .filter(|v| {
                            v.programme == "maternal" && v.code == code && {
                                match v.enrolment_id {
                                    Some(id) => id == e.id,
                                    None => {
                                        v.date >= e.started_on
                                            && e.ended_on.is_none_or(|end| v.date <= end)
                                    }
                                }
                            }
                        })
                        .map(|v| v.date)
                        .min()
                };
                let hit = if indicator.kind == Kind::EarlyRegistration {
                    match (p.lmp(), of_episode("prenatal_1")) {
                        (_, None) => {
                            Err(Shortfall::new("无孕早期建册记录", "no registration visit"))
                        }
                        (None, Some(_)) => Err(Shortfall::new(
                            "末次月经与预产期均未知",
                            "neither LMP nor due date known",
                        )),
                        (Some(lmp), Some(d)) => {
                            let limit =
                                add_days(lmp, 7 * i64::from(config.early_registration_weeks));
                            if d < limit {
                                Ok(())
                            } else {
                                Err(Shortfall::new(
                                    format!("建册 {d}，已满{}周", config.early_registration_weeks),
                                    format!(
                                        "registered {d}, at {} weeks or later",
                                        config.early_registration_weeks
                                    ),
                                ))
                            }
                        }
                    }
                } else {
                    let discharged = p.discharged_on.unwrap_or(delivered);
                    let limit = add_days(discharged, i64::from(config.postpartum_within_days));
                    let visit = facts
                        .visits
                        .iter()
                        .filter(|v| {
                            v.programme == "maternal"
                                && v.code == "postpartum_visit"
                                && v.enrolment_id.is_none_or(|id| id == e.id)
                                && v.date >= delivered
                                && v.date <= limit
                        })
                        .map(|v| v.date)
                        .min();
                    match visit {
                        Some(_) => Ok(()),
                        None => Err(Shortfall::new(
                            format!(
                                "{discharged} 出院后{}天内无产后访视",
                                config.postpartum_within_days
                            ),
                            format!(
                                "no postpartum visit within {} days of {discharged}",
                                config.postpartum_within_days
                            ),
                        )),
                    }
                };
                c.add(Count::one(hit));
            }
            c
        }
        Kind::ChildHealth => {
            let Some(birth) = facts.birth_date.filter(|b| *b <= period.to) else {
                return Count::default();
            };
            if age_on(birth, period.to) > 6 {
                return Count::default();
            }
            Count::one(
                any_visit(facts, period, "child_health", |_| true).ok_or_else(|| {
                    Shortfall::new("期内无儿童健康检查", "no child health check in the period")
                }),
            )
        }
        Kind::NewbornVisit => {
            let Some(birth) = facts.birth_date.filter(|b| period.contains(*b)) else {
                return Count::default();
            };
            let start = facts.discharged_after_birth.unwrap_or(birth).max(birth);
            let limit = add_days(start, i64::from(config.newborn_within_days));
            let hit = facts.visits.iter().any(|v| {
                v.programme == "child_health"
                    && v.code == "newborn_visit"
                    && v.date >= birth
                    && v.date <= limit
            });
            Count::one(if hit {
                Ok(())
            } else {
                Err(Shortfall::new(
                    format!("{limit} 前无新生儿访视"),
                    format!("no newborn visit by {limit}"),
                ))
            })
        }
        Kind::ElderlyHealth => {
            let Some(birth) = facts.birth_date else {
                return Count::default();
            };
            if birth > period.to || age_on(birth, period.to) < config.elderly_age {
                return Count::default();
            }
            Count::one(
                any_visit(facts, period, "elderly_annual", |_| true).ok_or_else(|| {
                    Shortfall::new("期内未做年度健康管理", "no annual check in the period")
                }),
            )
        }
        Kind::Screening { programme } => {
            let enrolled = facts
                .enrolments
                .iter()
                .any(|e| e.programme == *programme && overlap(e, period).is_some());
            if !enrolled {
                return Count::default();
            }
            Count::one(
                any_visit(facts, period, programme, |_| true)
                    .ok_or_else(|| Shortfall::new("期内未筛查", "not screened in the period")),
            )
        }
        Kind::VaccineCoverage { series, dose } | Kind::VaccineTimely { series, dose } => {
            let (Some(birth), Some((_, counted))) = (facts.birth_date, counted) else {
                return Count::default();
            };
            vaccine(
                edition,
                birth,
                counted,
                series,
                *dose,
                period,
                matches!(indicator.kind, Kind::VaccineTimely { .. }),
            )
        }
    }
}

/// `Some(())` when the resident has a visit of `programme` in the period passing `keep`.
fn any_visit(
    facts: &ResidentPeriod,
    period: IndicatorPeriod,
    programme: &str,
    keep: impl Fn(&VisitFact) -> bool,
) -> Option<()> {
    facts
        .visits
        .iter()
        .any(|v| v.programme == programme && period.contains(v.date) && keep(v))
        .then_some(())
}

/// The part of the period an enrolment covers.
fn overlap(e: &EnrolmentFact, period: IndicatorPeriod) -> Option<(NaiveDate, NaiveDate)> {
    let from = e.started_on.max(period.from);
    let to = e.ended_on.map_or(period.to, |end| end.min(period.to));
    (from <= to).then_some((from, to))
}

/// A condition programme's denominator (enrolled during the period, old enough by its end)
/// and numerator (`test` over the visits inside the overlap, by date, and the months
/// managed). Several enrolments of one programme in a period (a transfer, a re-enrolment)
/// count once, over the union of their overlaps.
fn managed(
    facts: &ResidentPeriod,
    period: IndicatorPeriod,
    programme: &str,
    min_age: Option<u32>,
    test: impl Fn(&[&VisitFact], u32) -> Result<(), Shortfall>,
) -> Count {
    let spans: Vec<(NaiveDate, NaiveDate)> = facts
        .enrolments
        .iter()
        .filter(|e| e.programme == programme)
        .filter_map(|e| overlap(e, period))
        .collect();
    let (Some(from), Some(to)) = (
        spans.iter().map(|s| s.0).min(),
        spans.iter().map(|s| s.1).max(),
    ) else {
        return Count::default();
    };
    if let Some(age) = min_age {
        match facts.birth_date {
            Some(b) if b <= period.to && age_on(b, period.to) >= age => {}
            _ => return Count::default(),
        }
    }
    let mut visits: Vec<&VisitFact> = facts
        .visits
        .iter()
        .filter(|v| {
            v.programme == programme && spans.iter().any(|s| s.0 <= v.date && v.date <= s.1)
        })
        .collect();
    visits.sort_by_key(|v| v.date);
    Count::one(test(&visits, months_touched(from, to)))
}

fn standard(visits: &[&VisitFact], required: u32) -> Result<(), Shortfall> {
    // Two visits on one day are one follow-up.
    let mut days: Vec<NaiveDate> = visits.iter().map(|v| v.date).collect();
    days.dedup();
    let n = u32::try_from(days.len()).unwrap_or(u32::MAX);
    if n >= required {
        Ok(())
    } else {
        Err(Shortfall::new(
            format!("随访 {n} 次，应 {required} 次"),
            format!("{n} of {required} follow-ups"),
        ))
    }
}

fn vaccine(
    edition: &Edition,
    birth: NaiveDate,
    counted: &[Option<Vec<NaiveDate>>],
    series: &str,
    dose: u8,
    period: IndicatorPeriod,
    timely: bool,
) -> Count {
    let Some((index, s)) = edition
        .series
        .iter()
        .enumerate()
        .find(|(_, s)| s.code == series)
    else {
        return Count::default();
    };
    // A series that does not apply (the other product of a choice was started, or the
    // wrong sex) has no one due.
    let Some(Some(dates)) = counted.get(index) else {
        return Count::default();
    };
    let Some(rule) = s.doses.get(usize::from(dose).saturating_sub(1)) else {
        return Count::default();
    };
    let eligible = rule.min_age.after(birth);
    if !period.contains(eligible) {
        return Count::default();
    }
    let given = dates.get(usize::from(dose).saturating_sub(1)).copied();
    let hit = match given {
        None => Err(Shortfall::new(
            format!("{}第{dose}剂未接种（{eligible} 起适龄）", s.name_zh),
            format!("{} dose {dose} not given (due from {eligible})", s.name_en),
        )),
        Some(_) if !timely => Ok(()),
        Some(d) => {
            let limit = timely_limit(
                edition,
                rule.min_age,
                rule.complete_before,
                rule.timely_within,
                birth,
            );
            if d < limit {
                Ok(())
            } else {
                Err(Shortfall::new(
                    format!("{d} 接种，应在 {limit} 前"),
                    format!("given {d}, due before {limit}"),
                ))
            }
        }
    };
    Count::one(hit)
}

/// The first day a dose is no longer on time: the completion age, or `timely_within`
/// after the minimum age.
fn timely_limit(
    edition: &Edition,
    min_age: Offset,
    complete_before: Option<Offset>,
    timely_within: Option<Offset>,
    birth: NaiveDate,
) -> NaiveDate {
    match complete_before {
        Some(age) => age.after(birth),
        None => timely_within
            .unwrap_or(edition.rules.timely_within)
            .after(min_age.after(birth)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::programme::immunization::{Vaccine, edition_2025};
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
    }

    fn year() -> IndicatorPeriod {
        IndicatorPeriod::year(2025).expect("year")
    }

    fn enrol(id: i64, programme: &str, from: &str) -> EnrolmentFact {
        EnrolmentFact {
            id,
            programme: programme.to_owned(),
            started_on: d(from),
            ended_on: None,
            pregnancy: None,
        }
    }

    fn visit(programme: &str, code: &str, date: &str, c: Option<Classification>) -> VisitFact {
        VisitFact {
            programme: programme.to_owned(),
            code: code.to_owned(),
            date: d(date),
            enrolment_id: None,
            classification: c,
        }
    }

    fn count(code: &str, facts: &ResidentPeriod, period: IndicatorPeriod) -> (u32, u32) {
        let config = IndicatorConfig::default();
        let edition = edition_2025();
        let all = catalogue(&config, &edition);
        let i = all
            .iter()
            .find(|i| i.code == code)
            .expect("indicator in catalogue")
            .clone();
        let c = evaluate(&[i], &config, &edition, facts, period).remove(0);
        (c.numerator, c.denominator)
    }

    fn hypertensive(visits: &[(&str, Classification)]) -> ResidentPeriod {
        ResidentPeriod {
            birth_date: Some(d("1960-05-01")),
            enrolments: vec![enrol(1, "hypertension", "2020-01-01")],
            visits: visits
                .iter()
                .map(|(date, c)| visit("hypertension", "followup", date, Some(*c)))
                .collect(),
            ..ResidentPeriod::default()
        }
    }

    #[test]
    fn required_visits_scale_by_months() {
        for (months, want) in [(12, 4), (6, 2), (3, 1), (1, 1), (9, 3), (7, 3), (24, 4)] {
            assert_eq!(required_visits(4, months, true), want, "{months} months");
        }
        assert_eq!(required_visits(4, 3, false), 4);
        assert_eq!(months_touched(d("2025-01-15"), d("2025-02-14")), 2);
        assert_eq!(months_touched(d("2025-01-01"), d("2025-12-31")), 12);
    }

    #[test]
    fn periods_by_year_quarter_and_month() {
        let q = IndicatorPeriod::quarter(2024, 1).expect("q1");
        assert_eq!((q.from, q.to), (d("2024-01-01"), d("2024-03-31")));
        let m = IndicatorPeriod::month(2024, 2).expect("feb");
        assert_eq!(m.to, d("2024-02-29"));
        assert_eq!(
            IndicatorPeriod::quarter(2024, 5),
            Err(PeriodError::NoSuchPart)
        );
        assert_eq!(
            IndicatorPeriod::new(d("2025-02-01"), d("2025-01-01")),
            Err(PeriodError::Reversed)
        );
    }

    #[test]
    fn hypertension_standard_needs_four_follow_ups_in_a_year() {
        use Classification::Controlled as C;
        let three = hypertensive(&[("2025-01-10", C), ("2025-04-10", C), ("2025-07-10", C)]);
        assert_eq!(count("hypertension_standard", &three, year()), (0, 1));
        let four = hypertensive(&[
            ("2025-01-10", C),
            ("2025-04-10", C),
            ("2025-07-10", C),
            ("2025-10-10", C),
        ]);
        assert_eq!(count("hypertension_standard", &four, year()), (1, 1));
        // The same day twice is one follow-up.
        let doubled = hypertensive(&[
            ("2025-01-10", C),
            ("2025-01-10", C),
            ("2025-07-10", C),
            ("2025-10-10", C),
        ]);
        assert_eq!(count("hypertension_standard", &doubled, year()), (0, 1));
        // One quarter needs one.
        let q3 = IndicatorPeriod::quarter(2025, 3).expect("q3");
        assert_eq!(count("hypertension_standard", &three, q3), (1, 1));
    }

    #[test]
    fn enrolment_late_in_the_year_prorates_and_under_35_is_not_counted() {
        let mut late = hypertensive(&[("2025-11-20", Classification::Controlled)]);
        late.enrolments = vec![enrol(1, "hypertension", "2025-10-01")];
        assert_eq!(count("hypertension_standard", &late, year()), (1, 1));
        let mut young = late.clone();
        young.birth_date = Some(d("1995-01-01"));
        assert_eq!(count("hypertension_standard", &young, year()), (0, 0));
        let mut ended = late.clone();
        ended.enrolments[0].ended_on = Some(d("2024-12-31"));
        ended.enrolments[0].started_on = d("2024-01-01");
        assert_eq!(count("hypertension_standard", &ended, year()), (0, 0));
    }

    #[test]
    fn control_reads_the_last_follow_up_and_none_is_not_controlled() {
        use Classification::{Controlled, Uncontrolled};
        let good_last = hypertensive(&[("2025-02-01", Uncontrolled), ("2025-05-01", Controlled)]);
        assert_eq!(count("hypertension_controlled", &good_last, year()), (1, 1));
        let bad_last = hypertensive(&[("2025-02-01", Controlled), ("2025-05-01", Uncontrolled)]);
        assert_eq!(count("hypertension_controlled", &bad_last, year()), (0, 1));
        let none = hypertensive(&[]);
        assert_eq!(count("hypertension_controlled", &none, year()), (0, 1));
        // A follow-up after the period does not count.
        let after = hypertensive(&[("2026-01-05", Controlled)]);
        assert_eq!(count("hypertension_controlled", &after, year()), (0, 1));
    }

    #[test]
    fn tuberculosis_counts_notices_in_the_period_and_the_72_hours() {
        let mut f = ResidentPeriod {
            birth_date: Some(d("1980-01-01")),
            enrolments: vec![enrol(5, "tuberculosis", "2025-03-10")],
            visits: vec![visit("tuberculosis", "followup", "2025-03-13", None)],
            ..ResidentPeriod::default()
        };
        assert_eq!(count("tuberculosis_managed", &f, year()), (1, 1));
        assert_eq!(count("tuberculosis_first_visit_72h", &f, year()), (1, 1));
        f.visits[0].date = d("2025-03-14");
        assert_eq!(count("tuberculosis_first_visit_72h", &f, year()), (0, 1));
        assert_eq!(count("tuberculosis_managed", &f, year()), (1, 1));
        f.enrolments[0].started_on = d("2024-12-01");
        assert_eq!(count("tuberculosis_managed", &f, year()), (0, 0));
    }

    fn mother(prenatal_1: &str, postpartum: Option<&str>) -> ResidentPeriod {
        let mut e = enrol(9, "maternal", "2024-07-01");
        e.pregnancy = Some(Pregnancy {
            last_menstrual_period: Some(d("2024-06-01")),
            expected_delivery: None,
            delivered_on: Some(d("2025-03-08")),
            discharged_on: Some(d("2025-03-10")),
        });
        let mut visits = vec![visit("maternal", "prenatal_1", prenatal_1, None)];
        if let Some(p) = postpartum {
            visits.push(visit("maternal", "postpartum_visit", p, None));
        }
        ResidentPeriod {
            birth_date: Some(d("1995-01-01")),
            sex: Some(Sex::Female),
            enrolments: vec![e],
            visits,
            ..ResidentPeriod::default()
        }
    }

    #[test]
    fn maternal_indicators_count_deliveries_in_the_period() {
        // LMP 2024-06-01: 13 weeks is 2024-08-31.
        let early = mother("2024-08-30", Some("2025-04-07"));
        assert_eq!(count("maternal_early_registration", &early, year()), (1, 1));
        assert_eq!(count("maternal_postpartum_visit", &early, year()), (1, 1));
        let late = mother("2024-08-31", Some("2025-04-08"));
        assert_eq!(count("maternal_early_registration", &late, year()), (0, 1));
        assert_eq!(count("maternal_postpartum_visit", &late, year()), (0, 1));
        let last_year = IndicatorPeriod::year(2024).expect("2024");
        assert_eq!(
            count("maternal_early_registration", &early, last_year),
            (0, 0)
        );
    }

    #[test]
    fn child_newborn_and_elderly() {
        let baby = ResidentPeriod {
            birth_date: Some(d("2025-06-01")),
            visits: vec![visit("child_health", "newborn_visit", "2025-06-08", None)],
            ..ResidentPeriod::default()
        };
        assert_eq!(count("newborn_visit", &baby, year()), (1, 1));
        assert_eq!(count("child_health", &baby, year()), (1, 1));
        let mut late = baby.clone();
        late.visits[0].date = d("2025-06-09");
        assert_eq!(count("newborn_visit", &late, year()), (0, 1));
        let seven = ResidentPeriod {
            birth_date: Some(d("2018-12-31")),
            ..ResidentPeriod::default()
        };
        assert_eq!(count("child_health", &seven, year()), (0, 0));
        let six = ResidentPeriod {
            birth_date: Some(d("2019-01-01")),
            ..ResidentPeriod::default()
        };
        assert_eq!(count("child_health", &six, year()), (0, 1));
        // 65 on the last day of the year counts.
        let old = ResidentPeriod {
            birth_date: Some(d("1960-12-31")),
            visits: vec![visit("elderly_annual", "annual", "2025-12-31", None)],
            ..ResidentPeriod::default()
        };
        assert_eq!(count("elderly_health", &old, year()), (1, 1));
        let not_yet = ResidentPeriod {
            birth_date: Some(d("1961-01-01")),
            ..old.clone()
        };
        assert_eq!(count("elderly_health", &not_yet, year()), (0, 0));
    }

    #[test]
    fn screening_counts_enrolled_pupils() {
        let pupil = ResidentPeriod {
            birth_date: Some(d("2015-03-01")),
            enrolments: vec![enrol(3, "student_vision", "2024-09-01")],
            visits: vec![visit("student_vision", "screening", "2025-10-01", None)],
            ..ResidentPeriod::default()
        };
        assert_eq!(count("student_vision", &pupil, year()), (1, 1));
        assert_eq!(count("student_scoliosis", &pupil, year()), (0, 0));
    }

    #[test]
    fn vaccine_coverage_counts_children_who_reached_the_minimum_age() {
        // MMR dose 1 from 8 months: born 2024-06-15 → due 2025-02-15; complete before 12
        // months (2025-06-15).
        let mut child = ResidentPeriod {
            birth_date: Some(d("2024-06-15")),
            doses: vec![Dose {
                vaccine: Vaccine::Mmr,
                date: d("2025-03-01"),
            }],
            ..ResidentPeriod::default()
        };
        assert_eq!(count("vaccine:mmr:1", &child, year()), (1, 1));
        assert_eq!(count("vaccine_timely:mmr:1", &child, year()), (1, 1));
        child.doses[0].date = d("2025-06-15");
        assert_eq!(count("vaccine:mmr:1", &child, year()), (1, 1));
        assert_eq!(count("vaccine_timely:mmr:1", &child, year()), (0, 1));
        child.doses.clear();
        assert_eq!(count("vaccine:mmr:1", &child, year()), (0, 1));
        // Reached 8 months in 2025 only: not due in 2024.
        let y2024 = IndicatorPeriod::year(2024).expect("2024");
        assert_eq!(count("vaccine:mmr:1", &child, y2024), (0, 0));
        // A dose after the period end is not yet given.
        child.doses.push(Dose {
            vaccine: Vaccine::Mmr,
            date: d("2026-01-02"),
        });
        assert_eq!(count("vaccine:mmr:1", &child, year()), (0, 1));
    }

    #[test]
    fn a_child_on_inactivated_je_is_not_due_live_je() {
        let child = ResidentPeriod {
            birth_date: Some(d("2024-05-01")),
            doses: vec![Dose {
                vaccine: Vaccine::JeInactivated,
                date: d("2025-01-05"),
            }],
            ..ResidentPeriod::default()
        };
        assert_eq!(count("vaccine:je_l:1", &child, year()), (0, 0));
        assert_eq!(count("vaccine:je_i:1", &child, year()), (1, 1));
    }

    #[test]
    fn catalogue_codes_are_unique_and_every_dose_has_both_figures() {
        let edition = edition_2025();
        let all = catalogue(&IndicatorConfig::default(), &edition);
        let mut codes: Vec<&str> = all.iter().map(|i| i.code.as_str()).collect();
        codes.sort_unstable();
        let n = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), n);
        let doses: usize = edition.series.iter().map(|s| s.doses.len()).sum();
        assert_eq!(
            all.iter().filter(|i| i.programme == "immunization").count(),
            2 * doses
        );
    }

    fn arb_facts() -> impl Strategy<Value = ResidentPeriod> {
        let date = (0i64..2200).prop_map(|n| add_days(d("2020-01-01"), n));
        let programmes = prop::sample::select(vec![
            "hypertension",
            "diabetes",
            "severe_mental",
            "tuberculosis",
            "maternal",
            "student_vision",
            "child_health",
            "elderly_annual",
        ]);
        let classes = prop::option::of(prop::sample::select(vec![
            Classification::Controlled,
            Classification::Uncontrolled,
        ]));
        let vaccines = prop::sample::select(Vaccine::ALL.to_vec());
        (
            (0i64..30000).prop_map(|n| add_days(d("1940-01-01"), n)),
            prop::collection::vec(
                (
                    programmes.clone(),
                    date.clone(),
                    prop::option::of(0u32..400),
                ),
                0..4,
            ),
            prop::collection::vec(
                (
                    programmes,
                    prop::sample::select(vec![
                        "followup",
                        "prenatal_1",
                        "postpartum_visit",
                        "newborn_visit",
                    ]),
                    date.clone(),
                    classes,
                ),
                0..12,
            ),
            prop::collection::vec((vaccines, date), 0..10),
            (0u32..300, 0u32..60),
        )
            .prop_map(|(birth, enrolments, visits, doses, (lmp_back, stay))| {
                ResidentPeriod {
                    birth_date: Some(birth),
                    sex: Some(Sex::Female),
                    enrolments: enrolments
                        .into_iter()
                        .enumerate()
                        .map(|(i, (p, start, len))| EnrolmentFact {
                            id: i as i64,
                            programme: p.to_owned(),
                            started_on: start,
                            ended_on: len.map(|l| add_days(start, i64::from(l))),
                            pregnancy: (p == "maternal").then(|| Pregnancy {
                                last_menstrual_period: Some(add_days(start, -i64::from(lmp_back))),
                                expected_delivery: None,
                                delivered_on: Some(add_days(start, 200)),
                                discharged_on: Some(add_days(start, 200 + i64::from(stay % 5))),
                            }),
                        })
                        .collect(),
                    visits: visits
                        .into_iter()
                        .map(|(p, code, date, c)| VisitFact {
                            programme: p.to_owned(),
                            code: code.to_owned(),
                            date,
                            enrolment_id: None,
                            classification: c,
                        })
                        .collect(),
                    doses: doses
                        .into_iter()
                        .map(|(vaccine, date)| Dose { vaccine, date })
                        .collect(),
                    ..ResidentPeriod::default()
                }
            })
    }

    proptest! {
        #[test]
        fn numerator_is_within_the_denominator(facts in arb_facts(), y in 2021i32..2026) {
            let config = IndicatorConfig::default();
            let edition = edition_2025();
            let all = catalogue(&config, &edition);
            let period = IndicatorPeriod::year(y).expect("year");
            for (i, c) in all.iter().zip(evaluate(&all, &config, &edition, &facts, period)) {
                prop_assert!(c.numerator <= c.denominator, "{}", i.code);
                prop_assert_eq!(c.shortfalls.len() as u32, c.denominator - c.numerator, "{}", &i.code);
            }
        }

        #[test]
        fn another_visit_never_lowers_a_count(facts in arb_facts(), extra in 0i64..2200, p in 0usize..3) {
            // Monotone for the indicators that count visits (not control, which reads the
            // last one).
            let config = IndicatorConfig::default();
            let edition = edition_2025();
            let all: Vec<Indicator> = catalogue(&config, &edition)
                .into_iter()
                .filter(|i| !matches!(i.kind, Kind::ChronicControlled { .. }))
                .collect();
            let period = IndicatorPeriod::year(2024).expect("year");
            let before = evaluate(&all, &config, &edition, &facts, period);
            let mut more = facts.clone();
            let programme = ["hypertension", "severe_mental", "tuberculosis"][p];
            more.visits.push(VisitFact {
                programme: programme.to_owned(),
                code: "followup".to_owned(),
                date: add_days(d("2020-01-01"), extra),
                enrolment_id: None,
                classification: None,
            });
            let after = evaluate(&all, &config, &edition, &more, period);
            for ((i, b), a) in all.iter().zip(&before).zip(&after) {
                prop_assert_eq!(a.denominator, b.denominator, "{}", &i.code);
                prop_assert!(a.numerator >= b.numerator, "{}", &i.code);
            }
        }

        #[test]
        fn a_year_is_the_sum_of_nothing_more_than_its_people(facts in arb_facts()) {
            // Evaluating one indicator alone gives what the whole catalogue gives for it:
            // the drill-down path (one indicator) and the figure path (all) agree.
            let config = IndicatorConfig::default();
            let edition = edition_2025();
            let all = catalogue(&config, &edition);
            let period = IndicatorPeriod::year(2024).expect("year");
            let together = evaluate(&all, &config, &edition, &facts, period);
            for (i, c) in all.iter().zip(together) {
                let alone = evaluate(std::slice::from_ref(i), &config, &edition, &facts, period);
                prop_assert_eq!(&alone[0], &c, "{}", &i.code);
            }
        }
    }
}
