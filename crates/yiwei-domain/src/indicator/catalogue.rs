//! The catalogue rows. Add an indicator by adding a row here (docs/indicators.md says how);
//! a maintained one also needs its source in `yiwei_store::indicator::sources`.
//!
//! Targets appear only where a review in shared/context.md or the cited 规范 sets one;
//! achievements quoted in the reviews (91.38 % standardised records, 97.08 % immunization
//! coverage) are not targets and are recorded in docs/indicators.md instead.

use super::Disaggregation::{self, *};
use super::PeriodType::{self, *};
use super::{Definition, Measure, Source, Target, Unit};

/// The sections of the annual review, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    Records,
    FamilyDoctors,
    PublicHealth,
    DiseaseControl,
    MedicalCommunity,
    Imaging,
    PovertyAlert,
}

impl Section {
    pub const ALL: [Section; 7] = [
        Section::Records,
        Section::FamilyDoctors,
        Section::PublicHealth,
        Section::DiseaseControl,
        Section::MedicalCommunity,
        Section::Imaging,
        Section::PovertyAlert,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Section::Records => "records",
            Section::FamilyDoctors => "family_doctors",
            Section::PublicHealth => "public_health",
            Section::DiseaseControl => "disease_control",
            Section::MedicalCommunity => "medical_community",
            Section::Imaging => "imaging",
            Section::PovertyAlert => "poverty_alert",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Section::Records => "居民电子健康档案",
            Section::FamilyDoctors => "家庭医生签约服务",
            Section::PublicHealth => "基本公共卫生服务",
            Section::DiseaseControl => "传染病防控",
            Section::MedicalCommunity => "县域医共体（转诊与预约）",
            Section::Imaging => "影像云与检查结果互认",
            Section::PovertyAlert => "防返贫监测预警",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Section::Records => "Resident health records",
            Section::FamilyDoctors => "Family-doctor contracting",
            Section::PublicHealth => "Basic public-health programmes",
            Section::DiseaseControl => "Infectious-disease control",
            Section::MedicalCommunity => "Medical community (referrals and bookings)",
            Section::Imaging => "Imaging cloud and mutual recognition",
            Section::PovertyAlert => "Prevent-return-to-poverty cost alerts",
        }
    }
}

const ALL_PERIODS: &[PeriodType] = &[Month, Quarter, Year];
const YEAR_ONLY: &[PeriodType] = &[Year];
const PLACE: &[Disaggregation] = &[Division];
const PERSON: &[Disaggregation] = &[Division, Sex, AgeGroup, KeyGroup];
const CASES: &[Disaggregation] = &[Division, Institution, Sex, AgeGroup, DiseaseClass];
const SERVICE: &[Disaggregation] = &[Division, Institution];

const SPEC_EHR: &str = "国家基本公共卫生服务规范（第三版）· 居民健康档案管理服务规范 · 考核指标";
const SPEC: &str = "国家基本公共卫生服务规范（第三版）";
const FD: &str = "关于规范家庭医生签约服务管理的指导意见（国卫基层发〔2018〕35号）";
const NOTIFIABLE: &str = "传染病信息报告管理规范（2015年版）";

/// A programme indicator of `yiwei_domain::programme::indicator`, maintained by the refresh.
#[expect(
    clippy::too_many_arguments,
    reason = "one row of the table, named at the call"
)]
const fn programme(
    code: &'static str,
    name: (&'static str, &'static str),
    numerator: (&'static str, &'static str),
    denominator: (&'static str, &'static str),
    target: Option<Target>,
    rule: &'static str,
    source: &'static str,
    drill_down: Option<&'static str>,
) -> Definition {
    Definition {
        code,
        section: Section::PublicHealth,
        name_zh: name.0,
        name_en: name.1,
        numerator_zh: numerator.0,
        numerator_en: numerator.1,
        denominator_zh: denominator.0,
        denominator_en: denominator.1,
        unit: Unit::Percent,
        measure: Measure::Flow,
        periods: YEAR_ONLY,
        disaggregations: PLACE,
        target,
        rule,
        source: Source::Maintained(source),
        drill_down,
    }
}

/// A count kept per month, quarter and year.
#[expect(
    clippy::too_many_arguments,
    reason = "one row of the table, named at the call"
)]
const fn count(
    code: &'static str,
    section: Section,
    name: (&'static str, &'static str),
    numerator: (&'static str, &'static str),
    measure: Measure,
    disaggregations: &'static [Disaggregation],
    rule: &'static str,
    source: Source,
    drill_down: Option<&'static str>,
) -> Definition {
    Definition {
        code,
        section,
        name_zh: name.0,
        name_en: name.1,
        numerator_zh: numerator.0,
        numerator_en: numerator.1,
        denominator_zh: "",
        denominator_en: "",
        unit: Unit::Count,
        measure,
        periods: ALL_PERIODS,
        disaggregations,
        target: None,
        rule,
        source,
        drill_down,
    }
}

/// A percentage kept per month, quarter and year.
#[expect(
    clippy::too_many_arguments,
    reason = "one row of the table, named at the call"
)]
const fn rate(
    code: &'static str,
    section: Section,
    name: (&'static str, &'static str),
    numerator: (&'static str, &'static str),
    denominator: (&'static str, &'static str),
    measure: Measure,
    disaggregations: &'static [Disaggregation],
    target: Option<Target>,
    rule: &'static str,
    source: Source,
    drill_down: Option<&'static str>,
) -> Definition {
    Definition {
        code,
        section,
        name_zh: name.0,
        name_en: name.1,
        numerator_zh: numerator.0,
        numerator_en: numerator.1,
        denominator_zh: denominator.0,
        denominator_en: denominator.1,
        unit: Unit::Percent,
        measure,
        periods: ALL_PERIODS,
        disaggregations,
        target,
        rule,
        source,
        drill_down,
    }
}

const PROGRAMME_LIST: Option<&str> = Some("/indicators/programmes");

static CATALOGUE: &[Definition] = &[
    // --- records -------------------------------------------------------------------------
    count(
        "records_held",
        Section::Records,
        ("居民电子健康档案建档数", "Resident health records held"),
        (
            "期末在档（未合并）且建档日期不晚于期末的居民档案数",
            "Live (unmerged) records created on or before the period end",
        ),
        Measure::PointInTime,
        PERSON,
        SPEC_EHR,
        Source::Maintained("records"),
        Some("/residents"),
    ),
    rate(
        "records_coverage",
        Section::Records,
        ("健康档案建档率", "Health-record coverage"),
        (
            "期末建档居民数",
            "Residents with a record at the period end",
        ),
        (
            "辖区常住人口（统计部门，按村录入的年度人口）",
            "Resident population of the year (statistics bureau, entered per village)",
        ),
        Measure::PointInTime,
        PLACE,
        None,
        SPEC_EHR,
        Source::Maintained("records"),
        Some("/residents"),
    ),
    Definition {
        code: "records_standardised",
        section: Section::Records,
        name_zh: "规范化电子健康档案覆盖率",
        name_en: "Standardised health-record coverage",
        numerator_zh: "通过规范化规则检查的档案数",
        numerator_en: "Records passing every standardisation rule",
        denominator_zh: "辖区常住人口",
        denominator_en: "Resident population",
        unit: Unit::Percent,
        measure: Measure::PointInTime,
        periods: YEAR_ONLY,
        disaggregations: PLACE,
        target: None,
        rule: SPEC_EHR,
        source: Source::Live {
            computation: "yiwei_store::quality::scan",
            why: "depends on the current content of each record, which is not dated, so a past period cannot be recomputed",
        },
        drill_down: Some("/residents/quality"),
    },
    // --- family doctors ------------------------------------------------------------------
    count(
        "contracts_signed",
        Section::FamilyDoctors,
        (
            "家庭医生签约人数",
            "Residents under a family-doctor contract",
        ),
        (
            "期末有效签约的在档居民数",
            "Live residents with a contract in force on the period end",
        ),
        Measure::PointInTime,
        PERSON,
        FD,
        Source::Maintained("contracts"),
        Some("/contracts/coverage"),
    ),
    rate(
        "contract_coverage",
        Section::FamilyDoctors,
        ("家庭医生签约服务覆盖率", "Family-doctor contract coverage"),
        (
            "期末有效签约居民数",
            "Residents under contract on the period end",
        ),
        (
            "期末在档居民数",
            "Live residents with a record on the period end",
        ),
        Measure::PointInTime,
        PERSON,
        None,
        FD,
        Source::Maintained("contracts"),
        Some("/contracts/coverage"),
    ),
    rate(
        "contract_key_coverage",
        Section::FamilyDoctors,
        ("重点人群签约服务覆盖率", "Contract coverage of key groups"),
        (
            "重点人群中期末有效签约人数",
            "Key-group residents under contract on the period end",
        ),
        (
            "期末重点人群人数（65岁及以上、0～6岁、孕产妇、慢病、严重精神障碍、肺结核、残疾、脱贫、监测对象）",
            "Residents in at least one key group on the period end",
        ),
        Measure::PointInTime,
        PERSON,
        None,
        FD,
        Source::Maintained("contracts"),
        Some("/contracts/coverage"),
    ),
    count(
        "contracts_poverty_signed",
        Section::FamilyDoctors,
        (
            "脱贫人口签约人数",
            "Poverty-alleviated residents under contract",
        ),
        (
            "期末有效签约的脱贫人口数",
            "Poverty-alleviated residents under contract on the period end",
        ),
        Measure::PointInTime,
        PLACE,
        FD,
        Source::Maintained("contracts"),
        Some("/contracts/coverage"),
    ),
    count(
        "contract_services",
        Section::FamilyDoctors,
        ("签约服务人次", "Contract services delivered"),
        (
            "期内提供的签约服务项目次数",
            "Contracted services delivered in the period",
        ),
        Measure::Flow,
        SERVICE,
        FD,
        Source::Maintained("contract_services"),
        None,
    ),
    // --- public health (programme indicators) ---------------------------------------------
    programme(
        "hypertension_standard",
        ("高血压患者规范管理率", "Hypertension: managed to standard"),
        (
            "按规范要求完成随访的高血压患者数",
            "Patients with the visits the 规范 requires",
        ),
        ("年内管理的高血压患者数", "Patients managed in the year"),
        None,
        SPEC,
        "programmes",
        PROGRAMME_LIST,
    ),
    programme(
        "hypertension_controlled",
        (
            "管理人群血压控制率",
            "Hypertension: blood pressure controlled",
        ),
        (
            "最近一次随访血压达标人数",
            "Patients whose latest visit was on target",
        ),
        ("年内管理的高血压患者数", "Patients managed in the year"),
        None,
        SPEC,
        "programmes",
        PROGRAMME_LIST,
    ),
    programme(
        "diabetes_standard",
        (
            "2型糖尿病患者规范管理率",
            "Type 2 diabetes: managed to standard",
        ),
        (
            "按规范要求完成随访的糖尿病患者数",
            "Patients with the visits the 规范 requires",
        ),
        ("年内管理的2型糖尿病患者数", "Patients managed in the year"),
        None,
        SPEC,
        "programmes",
        PROGRAMME_LIST,
    ),
    programme(
        "diabetes_controlled",
        ("管理人群血糖控制率", "Type 2 diabetes: glucose controlled"),
        (
            "最近一次随访血糖达标人数",
            "Patients whose latest visit was on target",
        ),
        ("年内管理的2型糖尿病患者数", "Patients managed in the year"),
        None,
        SPEC,
        "programmes",
        PROGRAMME_LIST,
    ),
    programme(
        "severe_mental_standard",
        (
            "严重精神障碍患者规范管理率",
            "Severe mental disorders: managed to standard",
        ),
        (
            "按规范要求完成随访的患者数",
            "Patients with the visits the 规范 requires",
        ),
        ("年内在册患者数", "Registered patients"),
        None,
        SPEC,
        "programmes",
        PROGRAMME_LIST,
    ),
    programme(
        "tuberculosis_managed",
        ("肺结核患者管理率", "Tuberculosis: patients managed"),
        ("已管理的患者数", "Patients managed"),
        ("辖区登记的肺结核患者数", "Registered patients"),
        None,
        SPEC,
        "programmes",
        PROGRAMME_LIST,
    ),
    programme(
        "tuberculosis_first_visit_72h",
        (
            "肺结核患者72小时内首次入户访视率",
            "Tuberculosis: first home visit within 72 h",
        ),
        ("72小时内首次访视人数", "Patients visited within 72 hours"),
        ("登记的肺结核患者数", "Registered patients"),
        None,
        SPEC,
        "programmes",
        PROGRAMME_LIST,
    ),
    programme(
        "maternal_early_registration",
        ("早孕建册率", "Early pregnancy registration"),
        ("孕13周前建册的产妇数", "Women registered before 13 weeks"),
        ("期内分娩的产妇数", "Women delivered in the period"),
        None,
        SPEC,
        "programmes",
        PROGRAMME_LIST,
    ),
    programme(
        "maternal_postpartum_visit",
        ("产后访视率", "Postpartum home visits"),
        (
            "产后28天内接受访视的产妇数",
            "Women visited within 28 days of delivery",
        ),
        ("期内分娩的产妇数", "Women delivered in the period"),
        None,
        SPEC,
        "programmes",
        PROGRAMME_LIST,
    ),
    programme(
        "child_health",
        ("0～6岁儿童健康管理率", "Child health management, 0–6"),
        (
            "年内接受健康管理的0～6岁儿童数",
            "Children 0–6 with a check in the year",
        ),
        ("0～6岁儿童数", "Children 0–6"),
        None,
        SPEC,
        "programmes",
        PROGRAMME_LIST,
    ),
    programme(
        "newborn_visit",
        ("新生儿访视率", "Newborn home visits"),
        (
            "出生7天内接受访视的新生儿数",
            "Newborns visited within 7 days",
        ),
        ("期内出生的新生儿数", "Newborns of the period"),
        None,
        SPEC,
        "programmes",
        PROGRAMME_LIST,
    ),
    programme(
        "elderly_health",
        ("老年人健康管理率", "Health management, 65 and over"),
        (
            "年内接受健康管理（体检）的65岁及以上居民数",
            "Residents 65+ with an annual health check",
        ),
        ("65岁及以上居民数", "Residents aged 65 and over"),
        None,
        SPEC,
        "programmes",
        PROGRAMME_LIST,
    ),
    programme(
        "student_vision",
        ("学生视力筛查率", "School vision screening"),
        ("年内完成视力筛查的学生数", "Pupils screened in the year"),
        ("在册学生数", "Pupils on the roll"),
        // The reviews' target for student vision screening (shared/context.md).
        Some(Target::AtLeast(95.0)),
        "儿童青少年近视防控适宜技术指南 · 年度综述目标 95%",
        "programmes",
        PROGRAMME_LIST,
    ),
    programme(
        "student_scoliosis",
        ("学生脊柱弯曲异常筛查率", "School scoliosis screening"),
        (
            "年内完成脊柱弯曲筛查的学生数",
            "Pupils screened in the year",
        ),
        ("在册学生数", "Pupils on the roll"),
        None,
        "儿童青少年脊柱弯曲异常防控技术指南",
        "programmes",
        PROGRAMME_LIST,
    ),
    programme(
        "immunization_coverage",
        (
            "国家免疫规划疫苗接种率",
            "Immunization coverage (all doses)",
        ),
        (
            "期末前已接种的应种剂次数（各疫苗各剂次合计）",
            "Doses given among doses due (all vaccines and doses, summed)",
        ),
        (
            "期内应种剂次数（按期末适用的免疫程序）",
            "Doses due in the period (schedule in force on the period end)",
        ),
        Some(Target::AtLeast(90.0)),
        "国家免疫规划疫苗儿童免疫程序及说明（2021年版）",
        "programmes",
        PROGRAMME_LIST,
    ),
    programme(
        "immunization_timely",
        (
            "国家免疫规划疫苗及时接种率",
            "Immunization timeliness (all doses)",
        ),
        (
            "在程序规定月龄内接种的剂次数",
            "Doses given within the schedule's age window",
        ),
        ("期内应种剂次数", "Doses due in the period"),
        None,
        "国家免疫规划疫苗儿童免疫程序及说明（2021年版）",
        "programmes",
        PROGRAMME_LIST,
    ),
    // --- disease control -------------------------------------------------------------------
    count(
        "notifiable_cases",
        Section::DiseaseControl,
        ("法定传染病报告病例数", "Notifiable disease cases reported"),
        (
            "诊断日期在期内、状态为待审/疑似重复/已审核的报告卡数（订正卡计入，被订正卡不计）",
            "Cards diagnosed in the period that count (pending, probable duplicate, accepted)",
        ),
        Measure::Flow,
        CASES,
        NOTIFIABLE,
        Source::Maintained("notifiable"),
        Some("/cdc/statistics"),
    ),
    count(
        "notifiable_class_b",
        Section::DiseaseControl,
        ("乙类传染病病例数", "Class B cases"),
        (
            "期内乙类传染病报告病例数",
            "Class B cases diagnosed in the period",
        ),
        Measure::Flow,
        CASES,
        NOTIFIABLE,
        Source::Maintained("notifiable"),
        Some("/cdc/statistics"),
    ),
    count(
        "notifiable_class_c",
        Section::DiseaseControl,
        ("丙类传染病病例数", "Class C cases"),
        (
            "期内丙类传染病报告病例数",
            "Class C cases diagnosed in the period",
        ),
        Measure::Flow,
        CASES,
        NOTIFIABLE,
        Source::Maintained("notifiable"),
        Some("/cdc/statistics"),
    ),
    Definition {
        code: "notifiable_incidence",
        section: Section::DiseaseControl,
        name_zh: "法定传染病报告发病率",
        name_en: "Notifiable disease incidence",
        numerator_zh: "期内报告病例数",
        numerator_en: "Cases diagnosed in the period",
        denominator_zh: "常住人口（当年）",
        denominator_en: "Resident population of the year",
        unit: Unit::Per100k,
        measure: Measure::Flow,
        periods: ALL_PERIODS,
        disaggregations: PLACE,
        target: None,
        rule: NOTIFIABLE,
        source: Source::Maintained("notifiable"),
        drill_down: Some("/cdc/statistics"),
    },
    rate(
        "notifiable_timely",
        Section::DiseaseControl,
        ("传染病网络报告及时率", "Notifiable reports on time"),
        (
            "在规定时限内网络报告的病例数",
            "Cards reported within the deadline of their disease",
        ),
        ("期内报告病例数", "Cases diagnosed in the period"),
        Measure::Flow,
        SERVICE,
        None,
        NOTIFIABLE,
        Source::Maintained("notifiable"),
        Some("/cdc/timeliness"),
    ),
    count(
        "foodborne_cases",
        Section::DiseaseControl,
        (
            "食源性疾病病例报告数",
            "Suspected food-borne cases reported",
        ),
        (
            "就诊时间在期内、未被删除的食源性疾病病例报告数",
            "Reports with a visit in the period, not deleted",
        ),
        Measure::Flow,
        SERVICE,
        "食源性疾病监测报告工作规范（试行）",
        Source::Maintained("foodborne"),
        Some("/cdc/foodborne"),
    ),
    rate(
        "foodborne_timely",
        Section::DiseaseControl,
        ("食源性疾病病例及时报告率", "Food-borne reports on time"),
        ("按时报告的病例数", "Reports on time"),
        ("期内病例报告数", "Reports of the period"),
        Measure::Flow,
        SERVICE,
        None,
        "食源性疾病监测报告工作规范（试行）",
        Source::Maintained("foodborne"),
        Some("/cdc/foodborne"),
    ),
    count(
        "warning_signals",
        Section::DiseaseControl,
        ("预警信号数", "Early-warning signals raised"),
        (
            "期内产生的预警信号数",
            "Signals raised for days in the period",
        ),
        Measure::Flow,
        PLACE,
        "传染病自动预警信息系统 · 预警信号响应工作规范",
        Source::Maintained("signals"),
        Some("/warnings"),
    ),
    rate(
        "warning_signals_handled",
        Section::DiseaseControl,
        ("预警信号处置率", "Early-warning signals handled"),
        ("已核实或已关闭的信号数", "Signals verified or closed"),
        ("期内产生的预警信号数", "Signals raised in the period"),
        Measure::Flow,
        PLACE,
        None,
        "传染病自动预警信息系统 · 预警信号响应工作规范",
        Source::Maintained("signals"),
        Some("/warnings"),
    ),
    // --- medical community ---------------------------------------------------------------
    count(
        "referrals_up",
        Section::MedicalCommunity,
        ("上转患者人次", "Upward referrals"),
        (
            "期内发起的上转申请数（不含撤销）",
            "Upward referrals requested (not cancelled)",
        ),
        Measure::Flow,
        SERVICE,
        "关于推进分级诊疗制度建设的指导意见（国办发〔2015〕70号）",
        Source::Maintained("referrals"),
        Some("/referrals"),
    ),
    count(
        "referrals_down",
        Section::MedicalCommunity,
        ("下转患者人次", "Downward referrals"),
        (
            "期内发起的下转数（不含撤销）",
            "Downward referrals requested (not cancelled)",
        ),
        Measure::Flow,
        SERVICE,
        "关于推进分级诊疗制度建设的指导意见（国办发〔2015〕70号）",
        Source::Maintained("referrals"),
        Some("/referrals"),
    ),
    count(
        "referrals_green_channel",
        Section::MedicalCommunity,
        ("绿色通道转诊人次", "Green-channel referrals"),
        (
            "期内经绿色通道的转诊数",
            "Referrals through the green channel",
        ),
        Measure::Flow,
        SERVICE,
        "紧密型县域医疗卫生共同体建设 · 双向转诊",
        Source::Maintained("referrals"),
        Some("/referrals"),
    ),
    Definition {
        code: "county_visit_rate",
        section: Section::MedicalCommunity,
        name_zh: "县域内就诊率",
        name_en: "Share of visits inside the county",
        numerator_zh: "县域内医疗机构就诊人次",
        numerator_en: "Visits to institutions inside the county",
        denominator_zh: "县域居民全部就诊人次（含县外）",
        denominator_en: "All visits of the county's residents, inside and outside",
        unit: Unit::Percent,
        measure: Measure::Flow,
        periods: ALL_PERIODS,
        disaggregations: PLACE,
        // The reviews' figure for the medical community (shared/context.md).
        target: Some(Target::AtLeast(90.0)),
        rule: "紧密型县域医疗卫生共同体建设评判标准和监测指标体系（试行）",
        // Our charges come from the county's own institutions: a resident's visit to a
        // prefecture or provincial hospital never reaches the platform, so the denominator
        // is unknown and a ratio over our own data would be 100 % by construction.
        source: Source::Unavailable {
            why: "县外就诊不在本平台：费用只由县内机构上报，异地就医结算需医保部门的参保人结算数据 · \
                  visits outside the county never reach the platform (only the county's own \
                  institutions submit charges); it needs the insurance bureau's settlement \
                  records of the county's insured residents, including 异地就医",
        },
        drill_down: None,
    },
    count(
        "bookings",
        Section::MedicalCommunity,
        ("预约挂号人次", "Appointments booked"),
        (
            "期内创建的预约数（含已取消）",
            "Bookings created in the period (incl. cancelled)",
        ),
        Measure::Flow,
        SERVICE,
        "医疗机构预约诊疗服务工作规范",
        Source::Maintained("bookings"),
        Some("/booking/stats"),
    ),
    rate(
        "bookings_online_share",
        Section::MedicalCommunity,
        (
            "居民自助（线上）预约占比",
            "Bookings made by residents online",
        ),
        ("居民本人在线预约数", "Bookings made by the resident"),
        ("期内预约数", "Bookings of the period"),
        Measure::Flow,
        SERVICE,
        None,
        "医疗机构预约诊疗服务工作规范",
        Source::Maintained("bookings"),
        Some("/booking/stats"),
    ),
    rate(
        "bookings_attended",
        Section::MedicalCommunity,
        ("预约就诊率", "Booked patients who came"),
        ("已就诊的预约数", "Bookings attended"),
        ("已就诊与爽约的预约数", "Bookings attended or missed"),
        Measure::Flow,
        SERVICE,
        None,
        "医疗机构预约诊疗服务工作规范",
        Source::Maintained("bookings"),
        Some("/booking/stats"),
    ),
    // --- imaging and mutual recognition (影像云与检查结果互认) --------------------------------
    count(
        "imaging_studies",
        Section::Imaging,
        ("影像云上传检查数", "Studies uploaded to the imaging cloud"),
        (
            "上传至影像云、检查日期在期内的检查数（无检查日期的按上传时间）",
            "Studies in the imaging cloud whose exam date falls in the period (by upload time when the study has no date)",
        ),
        Measure::Flow,
        SERVICE,
        "医疗机构检查检验结果互认管理办法（国卫医发〔2022〕6号）",
        Source::Maintained("imaging"),
        Some("/imaging"),
    ),
    count(
        "imaging_recognitions",
        Section::Imaging,
        ("检查结果互认次数", "Studies reused by mutual recognition"),
        (
            "期内被其他机构互认调阅、免于重复检查的次数",
            "Reuses of a study by another institution instead of a repeat",
        ),
        Measure::Flow,
        SERVICE,
        "医疗机构检查检验结果互认管理办法（国卫医发〔2022〕6号）",
        Source::Maintained("recognition"),
        Some("/recognition/stats"),
    ),
    Definition {
        code: "recognition_savings_patients",
        section: Section::Imaging,
        name_zh: "互认为患者节约费用",
        name_en: "Patients' savings from mutual recognition",
        numerator_zh: "互认免除的检查费用中个人负担部分（分）",
        numerator_en: "Out-of-pocket share of the charges avoided (fen)",
        denominator_zh: "",
        denominator_en: "",
        unit: Unit::Yuan,
        measure: Measure::Flow,
        periods: ALL_PERIODS,
        disaggregations: SERVICE,
        target: None,
        rule: "医疗机构检查检验结果互认管理办法（国卫医发〔2022〕6号）",
        source: Source::Maintained("recognition"),
        drill_down: Some("/recognition/stats"),
    },
    Definition {
        code: "recognition_savings_institutions",
        section: Section::Imaging,
        name_zh: "互认为机构节约费用",
        name_en: "Institutions' savings from mutual recognition",
        numerator_zh: "互认免除的检查费用中医保及机构负担部分（分）",
        numerator_en: "Insurance and institution share of the charges avoided (fen)",
        denominator_zh: "",
        denominator_en: "",
        unit: Unit::Yuan,
        measure: Measure::Flow,
        periods: ALL_PERIODS,
        disaggregations: SERVICE,
        target: None,
        rule: "医疗机构检查检验结果互认管理办法（国卫医发〔2022〕6号）",
        source: Source::Maintained("recognition"),
        drill_down: Some("/recognition/stats"),
    },
    rate(
        "recognition_rate",
        Section::Imaging,
        ("可互认检查互认率", "Recognisable exams recognised"),
        (
            "期内互认（未重复检查）的决定数",
            "Decisions to recognise a prior result instead of repeating",
        ),
        (
            "期内对可互认的既往结果作出的决定数（互认与重复检查）",
            "Decisions made on a recognisable prior result (recognised or repeated)",
        ),
        Measure::Flow,
        SERVICE,
        None,
        "医疗机构检查检验结果互认管理办法（国卫医发〔2022〕6号）",
        Source::Maintained("recognition"),
        Some("/recognition/stats"),
    ),
    count(
        "imaging_shares",
        Section::Imaging,
        (
            "影像跨机构共享次数",
            "Studies shared with another institution",
        ),
        (
            "期内共享给其他机构（会诊、转诊）的检查次数",
            "Shares of a study with another institution (consultation, referral) made in the period",
        ),
        Measure::Flow,
        SERVICE,
        "医疗机构检查检验结果互认管理办法（国卫医发〔2022〕6号）· 影像云",
        Source::Maintained("imaging"),
        None,
    ),
    count(
        "imaging_reports_signed",
        Section::Imaging,
        ("影像诊断报告签发数", "Imaging reports signed"),
        (
            "期内签发（含修订）的诊断报告版本数",
            "Report versions signed (incl. amendments) in the period",
        ),
        Measure::Flow,
        SERVICE,
        "医学影像诊断中心基本标准和管理规范（试行）",
        Source::Maintained("imaging"),
        None,
    ),
    count(
        "imaging_patient_links",
        Section::Imaging,
        (
            "患者手机调阅影像（电子胶片）链接数",
            "Patients' phone links to their images (electronic films)",
        ),
        (
            "期内为居民生成的影像分享链接数",
            "Share links made for residents in the period",
        ),
        Measure::Flow,
        PLACE,
        "影像云 · 电子胶片（各地实施方案）",
        Source::Maintained("imaging"),
        None,
    ),
    // --- prevent-return-to-poverty cost alerts (source pending) ---------------------------
    count(
        "cost_alerts",
        Section::PovertyAlert,
        ("防返贫医疗费用预警人数", "Cost alerts raised"),
        (
            "期内月度预警产生的预警数（脱贫/监测对象总费用超1万元，其他居民自付超2万元）",
            "Alerts raised by the monthly runs (poverty-alleviated or monitored residents above 10,000 yuan total; others above 20,000 yuan out of pocket)",
        ),
        Measure::Flow,
        PERSON,
        "防止返贫动态监测和帮扶机制 · 医疗费用预警（各地实施方案）",
        Source::Maintained("cost_alerts"),
        Some("/cost-alerts/stats"),
    ),
    count(
        "household_checks",
        Section::PovertyAlert,
        ("入户核查户次", "Household checks done"),
        (
            "期内完成并记录结果的入户核查数",
            "Household checks with a recorded outcome",
        ),
        Measure::Flow,
        PLACE,
        "防止返贫动态监测和帮扶机制 · 医疗费用预警（各地实施方案）",
        Source::Maintained("cost_alerts"),
        Some("/cost-alerts/stats"),
    ),
    rate(
        "cost_alerts_checked",
        Section::PovertyAlert,
        ("预警核查完成率", "Alerts checked"),
        (
            "已完成入户核查的预警数",
            "Alerts with a recorded household check",
        ),
        ("期内预警数", "Alerts of the period"),
        Measure::Flow,
        PLACE,
        None,
        "防止返贫动态监测和帮扶机制 · 医疗费用预警（各地实施方案）",
        Source::Maintained("cost_alerts"),
        Some("/cost-alerts/stats"),
    ),
];

/// Every indicator, in the annual review's order.
pub fn catalogue() -> &'static [Definition] {
    CATALOGUE
}

/// The indicator with `code`.
pub fn by_code(code: &str) -> Option<&'static Definition> {
    CATALOGUE.iter().find(|d| d.code == code)
}
