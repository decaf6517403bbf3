//! The 传染病报告卡 (notifiable-disease case report card): its fields and the checks a
//! card must pass before it is stored.
//!
//! Fields and rules: `shared/domain.md` §4 \[S\]. The date order birth ≤ onset ≤ diagnosis
//! ≤ fill date ≤ now, the guardian and phone for children up to 14, 人群分类 of a child
//! (幼托儿童, 散居儿童, 学生 only), the forbidden disease/classification pairs (see
//! [`super::disease`]) and 新生儿破伤风 within 28 days of birth come from a production CHIS
//! validation script. "Up to 14" is read as an age of 14 completed years or less on the
//! onset date (the card's 实足年龄); the source does not say on which date.
//!
//! Every failure is a [`Problem`] naming the form field, with a Chinese and an English
//! message; [`validate`] returns all of them at once so a form can show each next to its
//! field. The card does not hold the resident's id: the store ties the card to a record.

use chrono::{NaiveDate, NaiveDateTime};

use super::disease::{self, CaseClass, Course, Disease, Subtype};
use crate::division::{DivisionCode, Level};
use crate::key_group::age_on;

/// 报卡类别.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardKind {
    /// 初次报告.
    Initial,
    /// 订正报告 (revised diagnosis).
    Correction,
}

impl CardKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CardKind::Initial => "initial",
            CardKind::Correction => "correction",
        }
    }

    pub fn parse(s: &str) -> Option<CardKind> {
        match s {
            "initial" => Some(CardKind::Initial),
            "correction" => Some(CardKind::Correction),
            _ => None,
        }
    }
}

/// 病人属于: where the patient lives, relative to the reporting county.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Belongs {
    /// 本县区.
    County,
    /// 本市其他县区.
    City,
    /// 本省其他地市.
    Province,
    /// 外省.
    OtherProvince,
    /// 港澳台.
    HongKongMacaoTaiwan,
    /// 外籍.
    Foreign,
}

impl Belongs {
    pub const ALL: [Belongs; 6] = [
        Belongs::County,
        Belongs::City,
        Belongs::Province,
        Belongs::OtherProvince,
        Belongs::HongKongMacaoTaiwan,
        Belongs::Foreign,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Belongs::County => "county",
            Belongs::City => "city",
            Belongs::Province => "province",
            Belongs::OtherProvince => "other_province",
            Belongs::HongKongMacaoTaiwan => "hk_macao_taiwan",
            Belongs::Foreign => "foreign",
        }
    }

    pub fn parse(s: &str) -> Option<Belongs> {
        Belongs::ALL.into_iter().find(|b| b.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Belongs::County => "本县区",
            Belongs::City => "本市其他县区",
            Belongs::Province => "本省其他地市",
            Belongs::OtherProvince => "外省",
            Belongs::HongKongMacaoTaiwan => "港澳台",
            Belongs::Foreign => "外籍",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Belongs::County => "this county",
            Belongs::City => "another county of this city",
            Belongs::Province => "another city of this province",
            Belongs::OtherProvince => "another province",
            Belongs::HongKongMacaoTaiwan => "Hong Kong, Macao or Taiwan",
            Belongs::Foreign => "foreign national",
        }
    }
}

/// 人群分类 (occupation) codes of the card, with names. The three children's codes come
/// first; they are the only ones allowed up to 14 years.
pub const OCCUPATIONS: &[(&str, &str, &str)] = &[
    (
        "kindergarten",
        "幼托儿童",
        "child in kindergarten or nursery",
    ),
    ("scattered_child", "散居儿童", "child cared for at home"),
    ("student", "学生", "student"),
    ("teacher", "教师", "teacher"),
    ("childcare", "保育员及保姆", "childcare worker or nanny"),
    ("food_service", "餐饮食品业", "food and catering"),
    ("public_service", "商业服务", "commercial services"),
    ("medical", "医务人员", "health worker"),
    ("worker", "工人", "factory worker"),
    ("migrant_worker", "民工", "migrant worker"),
    ("farmer", "农民", "farmer"),
    ("herdsman", "牧民", "herdsman"),
    ("fisherman", "渔(船)民", "fisherman or boatman"),
    (
        "seaman_driver",
        "海员及长途驾驶员",
        "seaman or long-distance driver",
    ),
    ("cadre", "干部职员", "office worker"),
    ("retired", "离退人员", "retired"),
    ("housework", "家务及待业", "housework or unemployed"),
    ("other", "其他", "other"),
    ("unknown", "不详", "unknown"),
];

const CHILD_OCCUPATIONS: [&str; 3] = ["kindergarten", "scattered_child", "student"];

/// The age up to which a guardian and a phone are required and only children's 人群分类
/// are allowed.
pub const CHILD_MAX_AGE: u32 = 14;
/// 新生儿破伤风: onset within this many days of birth.
pub const NEONATAL_DAYS: i64 = 28;
/// The longest 现住址 detail (characters).
pub const MAX_ADDRESS_CHARS: usize = 50;
/// The longest name, work unit, remark (characters).
pub const MAX_NAME_CHARS: usize = 50;
pub const MAX_REMARK_CHARS: usize = 500;

/// A card as entered.
#[derive(Clone, Debug, PartialEq)]
pub struct Card {
    pub kind: CardKind,
    /// 患者姓名.
    pub patient_name: String,
    /// 患儿家长姓名.
    pub guardian_name: String,
    /// `male`, `female` or `unknown`.
    pub sex: String,
    pub birth_date: NaiveDate,
    /// 工作单位/学校+班级.
    pub work_unit: String,
    /// 联系电话.
    pub phone: String,
    pub belongs: Belongs,
    /// 现住址 国标地址码 (a division code of any level down to the village).
    pub address_code: String,
    /// 现住址 详细.
    pub address_detail: String,
    /// 人群分类 code ([`OCCUPATIONS`]).
    pub occupation: String,
    pub disease: String,
    pub subtype: Option<String>,
    pub case_class: CaseClass,
    pub course: Option<Course>,
    /// 发病日期.
    pub onset_date: NaiveDate,
    /// 诊断日期 (to the hour).
    pub diagnosed_at: NaiveDateTime,
    /// 死亡日期.
    pub death_date: Option<NaiveDate>,
    /// 填卡日期.
    pub fill_date: NaiveDate,
    /// 报告医生 (display name).
    pub doctor: String,
    pub remarks: String,
}

/// One failed check: the form field and the message in both languages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub field: &'static str,
    pub zh: String,
    pub en: String,
}

impl Problem {
    pub fn new(field: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Problem {
        Problem {
            field,
            zh: zh.into(),
            en: en.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} / {}", self.field, self.zh, self.en)
    }
}

/// What the checks need besides the card.
#[derive(Clone, Debug)]
pub struct Context {
    /// The county's local now.
    pub now: NaiveDateTime,
    /// The county this system serves (本县区 addresses must lie inside it).
    pub county: DivisionCode,
}

fn occupation_name(code: &str) -> Option<(&'static str, &'static str)> {
    OCCUPATIONS.iter().find(|o| o.0 == code).map(|o| (o.1, o.2))
}

/// A cleaned 11-digit mobile or a landline (digits with one optional hyphen, 7–12 digits).
fn phone_ok(phone: &str) -> bool {
    let digits: String = phone.chars().filter(|c| *c != '-').collect();
    let hyphens = phone.chars().filter(|c| *c == '-').count();
    hyphens <= 1 && digits.chars().all(|c| c.is_ascii_digit()) && (7..=12).contains(&digits.len())
}

/// Resolve the disease and subtype of a card, or the problems with them.
pub fn resolve(
    disease_code: &str,
    subtype: Option<&str>,
    on: NaiveDate,
) -> Result<(&'static Disease, Option<&'static Subtype>), Vec<Problem>> {
    let Some(d) = disease::by_code(disease_code) else {
        return Err(vec![Problem::new(
            "disease",
            "请从列表中选择疾病名称。",
            "Choose the disease from the list.",
        )]);
    };
    let mut problems = Vec::new();
    if !d.in_force(on) {
        problems.push(Problem::new(
            "disease",
            format!(
                "{}在诊断日期 {on} 不属于法定报告传染病，请核对诊断日期或病名。",
                d.name_zh
            ),
            format!(
                "{} was not notifiable on the diagnosis date {on}; check the date or the disease.",
                d.name_en
            ),
        ));
    }
    let sub = match subtype.filter(|s| !s.is_empty()) {
        None if !d.subtypes.is_empty() => {
            problems.push(Problem::new(
                "subtype",
                format!("{}须填写分型。", d.name_zh),
                format!("{} needs a subtype.", d.name_en),
            ));
            None
        }
        None => None,
        Some(code) => match d.subtype(code) {
            Some(s) => Some(s),
            None => {
                problems.push(Problem::new(
                    "subtype",
                    format!("{}没有这个分型，请从列表中选择。", d.name_zh),
                    format!("{} has no such subtype; choose from the list.", d.name_en),
                ));
                None
            }
        },
    };
    if problems.is_empty() {
        Ok((d, sub))
    } else {
        Err(problems)
    }
}

/// Check a card; all problems, in form order, or nothing.
pub fn validate(card: &Card, ctx: &Context) -> Result<(), Vec<Problem>> {
    let mut p = Vec::new();
    let today = ctx.now.date();
    let text_len = |s: &str| s.trim().chars().count();

    if card.patient_name.trim().is_empty() {
        p.push(Problem::new(
            "patient_name",
            "请填写患者姓名。",
            "Enter the patient's name.",
        ));
    } else if text_len(&card.patient_name) > MAX_NAME_CHARS {
        p.push(Problem::new(
            "patient_name",
            format!("姓名最多 {MAX_NAME_CHARS} 个字。"),
            format!("A name has at most {MAX_NAME_CHARS} characters."),
        ));
    }
    if !matches!(card.sex.as_str(), "male" | "female" | "unknown") {
        p.push(Problem::new("sex", "请选择性别。", "Choose the sex."));
    }

    // Dates: birth ≤ onset ≤ diagnosis ≤ fill ≤ now.
    let diagnosed = card.diagnosed_at.date();
    if card.birth_date > today {
        p.push(Problem::new(
            "birth_date",
            "出生日期不能晚于今天。",
            "The birth date cannot be in the future.",
        ));
    }
    if card.onset_date < card.birth_date {
        p.push(Problem::new(
            "onset_date",
            format!(
                "发病日期 {} 早于出生日期 {}。",
                card.onset_date, card.birth_date
            ),
            format!(
                "The onset date {} is before the birth date {}.",
                card.onset_date, card.birth_date
            ),
        ));
    }
    if diagnosed < card.onset_date {
        p.push(Problem::new(
            "diagnosed_at",
            format!("诊断日期 {diagnosed} 早于发病日期 {}。", card.onset_date),
            format!(
                "The diagnosis date {diagnosed} is before the onset date {}.",
                card.onset_date
            ),
        ));
    }
    if card.fill_date < diagnosed {
        p.push(Problem::new(
            "fill_date",
            format!("填卡日期 {} 早于诊断日期 {diagnosed}。", card.fill_date),
            format!(
                "The fill date {} is before the diagnosis date {diagnosed}.",
                card.fill_date
            ),
        ));
    }
    if card.fill_date > today {
        p.push(Problem::new(
            "fill_date",
            "填卡日期不能晚于今天。",
            "The fill date cannot be in the future.",
        ));
    }
    if card.diagnosed_at > ctx.now {
        p.push(Problem::new(
            "diagnosed_at",
            "诊断时间不能晚于现在。",
            "The diagnosis time cannot be in the future.",
        ));
    }
    if let Some(death) = card.death_date
        && (death < card.onset_date || death > today)
    {
        p.push(Problem::new(
            "death_date",
            format!("死亡日期应在发病日期 {} 与今天之间。", card.onset_date),
            format!(
                "The date of death must lie between the onset date {} and today.",
                card.onset_date
            ),
        ));
    }

    // Children: guardian, phone, 人群分类.
    let age = age_on(card.birth_date, card.onset_date.max(card.birth_date));
    let child = card.birth_date <= card.onset_date && age <= CHILD_MAX_AGE;
    if child && card.guardian_name.trim().is_empty() {
        p.push(Problem::new(
            "guardian_name",
            format!("患者发病时 {age} 岁（≤{CHILD_MAX_AGE} 岁），须填写患儿家长姓名。"),
            format!(
                "The patient was {age} at onset (≤{CHILD_MAX_AGE}): enter a parent's or guardian's name."
            ),
        ));
    }
    if card.phone.trim().is_empty() {
        if child {
            p.push(Problem::new(
                "phone",
                format!("患者 ≤{CHILD_MAX_AGE} 岁，须填写联系电话。"),
                format!("The patient is {CHILD_MAX_AGE} or younger: enter a contact phone."),
            ));
        }
    } else if !phone_ok(card.phone.trim()) {
        p.push(Problem::new(
            "phone",
            "联系电话应为 7–12 位数字（座机可含一个“-”）。",
            "A phone number has 7–12 digits (a landline may have one hyphen).",
        ));
    }
    match occupation_name(&card.occupation) {
        None => p.push(Problem::new("occupation", "请选择人群分类。", "Choose the occupation group.")),
        Some(_) if child && !CHILD_OCCUPATIONS.contains(&card.occupation.as_str()) => {
            p.push(Problem::new(
                "occupation",
                format!("{CHILD_MAX_AGE} 岁及以下患者的人群分类只能是幼托儿童、散居儿童或学生。"),
                format!(
                    "A patient aged {CHILD_MAX_AGE} or under is a kindergarten child, a child at home, or a student."
                ),
            ))
        }
        Some(_) => {}
    }

    // Address.
    match DivisionCode::parse(card.address_code.trim()) {
        Err(_) => p.push(Problem::new(
            "address_code",
            "现住址国标地址码无效，请从区划中选择。",
            "The address code is not a valid division code; choose it from the divisions.",
        )),
        Ok(code) => {
            if code.level() < Level::County {
                p.push(Problem::new(
                    "address_code",
                    "现住址地址码至少要到县（区）一级。",
                    "The address code must name at least a county.",
                ));
            } else if card.belongs == Belongs::County && !ctx.county.contains(&code) {
                p.push(Problem::new(
                    "address_code",
                    format!(
                        "病人属于“本县区”，现住址地址码应在 {} 之内。",
                        ctx.county.gbt2260()
                    ),
                    format!(
                        "The patient lives in this county, so the address code must lie within {}.",
                        ctx.county.gbt2260()
                    ),
                ));
            } else if card.belongs != Belongs::County
                && card.belongs != Belongs::Foreign
                && card.belongs != Belongs::HongKongMacaoTaiwan
                && ctx.county.contains(&code)
            {
                p.push(Problem::new(
                    "belongs",
                    "现住址在本县区之内，“病人属于”应为本县区。",
                    "The address lies in this county: choose \"this county\".",
                ));
            }
        }
    }
    if card.address_detail.trim().is_empty() {
        p.push(Problem::new(
            "address_detail",
            "请填写详细现住址。",
            "Enter the street address.",
        ));
    } else if text_len(&card.address_detail) > MAX_ADDRESS_CHARS {
        p.push(Problem::new(
            "address_detail",
            format!("详细地址最多 {MAX_ADDRESS_CHARS} 个字。"),
            format!("The address has at most {MAX_ADDRESS_CHARS} characters."),
        ));
    }
    if text_len(&card.work_unit) > MAX_NAME_CHARS || text_len(&card.guardian_name) > MAX_NAME_CHARS
    {
        p.push(Problem::new(
            "work_unit",
            format!("工作单位和家长姓名最多 {MAX_NAME_CHARS} 个字。"),
            format!("Work unit and guardian name have at most {MAX_NAME_CHARS} characters."),
        ));
    }
    if text_len(&card.remarks) > MAX_REMARK_CHARS {
        p.push(Problem::new(
            "remarks",
            format!("备注最多 {MAX_REMARK_CHARS} 个字。"),
            format!("Remarks have at most {MAX_REMARK_CHARS} characters."),
        ));
    }
    if card.doctor.trim().is_empty() {
        p.push(Problem::new(
            "doctor",
            "请填写报告医生。",
            "Enter the reporting doctor.",
        ));
    }

    // Disease, subtype, classifications.
    match resolve(&card.disease, card.subtype.as_deref(), diagnosed) {
        Err(mut more) => p.append(&mut more),
        Ok((d, sub)) => {
            let allowed = d.allowed(sub);
            if !allowed.contains(&card.case_class) {
                let names_zh: Vec<&str> = allowed.iter().map(|c| c.name_zh()).collect();
                let names_en: Vec<&str> = allowed.iter().map(|c| c.name_en()).collect();
                p.push(Problem::new(
                    "case_class",
                    format!(
                        "{}不能报告为“{}”；可选：{}。",
                        d.label_zh(sub),
                        card.case_class.name_zh(),
                        names_zh.join("、")
                    ),
                    format!(
                        "{} cannot be reported as a {}; allowed: {}.",
                        d.label_en(sub),
                        card.case_class.name_en(),
                        names_en.join(", ")
                    ),
                ));
            }
            match (d.needs_course(sub), card.course) {
                (true, None) => p.push(Problem::new(
                    "course",
                    format!("{}须填写病例分类2（急性、慢性或未分型）。", d.label_zh(sub)),
                    format!(
                        "{} needs the course: acute, chronic or unclassified.",
                        d.label_en(sub)
                    ),
                )),
                (false, Some(_)) => p.push(Problem::new(
                    "course",
                    "只有乙肝、丙肝和血吸虫病填写病例分类2（急性/慢性）。",
                    "Only hepatitis B, hepatitis C and schistosomiasis take acute/chronic.",
                )),
                _ => {}
            }
            if d.code == "neonatal_tetanus"
                && (card.onset_date - card.birth_date).num_days() > NEONATAL_DAYS
            {
                p.push(Problem::new(
                    "onset_date",
                    format!(
                        "新生儿破伤风须在出生后 {NEONATAL_DAYS} 天内发病（本卡为第 {} 天）。",
                        (card.onset_date - card.birth_date).num_days()
                    ),
                    format!(
                        "Neonatal tetanus begins within {NEONATAL_DAYS} days of birth (this card says day {}).",
                        (card.onset_date - card.birth_date).num_days()
                    ),
                ));
            }
        }
    }

    if p.is_empty() { Ok(()) } else { Err(p) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn ctx() -> Context {
        Context {
            now: day(2026, 5, 10).and_hms_opt(15, 0, 0).expect("time"),
            county: DivisionCode::parse("451226").expect("code"),
        }
    }

    fn adult() -> Card {
        Card {
            kind: CardKind::Initial,
            patient_name: "韦某".into(),
            guardian_name: String::new(),
            sex: "female".into(),
            birth_date: day(1980, 2, 1),
            work_unit: String::new(),
            phone: "13812345678".into(),
            belongs: Belongs::County,
            address_code: "451226100201".into(),
            address_detail: "思恩镇城西村3组".into(),
            occupation: "farmer".into(),
            disease: "influenza".into(),
            subtype: None,
            case_class: CaseClass::Clinical,
            course: None,
            onset_date: day(2026, 5, 7),
            diagnosed_at: day(2026, 5, 8).and_hms_opt(10, 0, 0).expect("time"),
            death_date: None,
            fill_date: day(2026, 5, 8),
            doctor: "覃医生".into(),
            remarks: String::new(),
        }
    }

    fn fields(card: &Card) -> Vec<&'static str> {
        validate(card, &ctx())
            .err()
            .unwrap_or_default()
            .iter()
            .map(|p| p.field)
            .collect()
    }

    #[test]
    fn a_plain_adult_card_passes() {
        assert_eq!(validate(&adult(), &ctx()), Ok(()));
    }

    #[test]
    fn dates_out_of_order_name_the_later_field() {
        let mut c = adult();
        c.onset_date = day(2026, 5, 9);
        assert_eq!(fields(&c), vec!["diagnosed_at"]);
        let mut c = adult();
        c.fill_date = day(2026, 5, 7);
        assert_eq!(fields(&c), vec!["fill_date"]);
        let mut c = adult();
        c.fill_date = day(2026, 5, 11);
        assert_eq!(fields(&c), vec!["fill_date"]);
        let mut c = adult();
        c.birth_date = day(2026, 5, 8);
        assert_eq!(fields(&c), vec!["onset_date"]);
        let mut c = adult();
        c.diagnosed_at = day(2026, 5, 10).and_hms_opt(16, 0, 0).expect("t");
        c.fill_date = day(2026, 5, 10);
        assert_eq!(fields(&c), vec!["diagnosed_at"]);
    }

    #[test]
    fn the_message_quotes_both_dates() {
        let mut c = adult();
        c.onset_date = day(2026, 5, 9);
        let p = validate(&c, &ctx()).expect_err("bad");
        assert!(
            p[0].zh.contains("2026-05-08") && p[0].zh.contains("2026-05-09"),
            "{}",
            p[0].zh
        );
        assert!(
            p[0].en.contains("before the onset date 2026-05-09"),
            "{}",
            p[0].en
        );
    }

    #[test]
    fn a_child_needs_guardian_phone_and_a_child_occupation() {
        let mut c = adult();
        c.birth_date = day(2014, 1, 1); // 12 at onset
        c.phone = String::new();
        assert_eq!(fields(&c), vec!["guardian_name", "phone", "occupation"]);
        c.guardian_name = "韦某某".into();
        c.phone = "13812345678".into();
        c.occupation = "student".into();
        assert_eq!(validate(&c, &ctx()), Ok(()));
    }

    #[test]
    fn fifteen_is_not_a_child() {
        let mut c = adult();
        c.birth_date = day(2011, 5, 7); // 15 on the onset day
        assert_eq!(validate(&c, &ctx()), Ok(()));
        c.birth_date = day(2011, 5, 8); // still 14
        assert_eq!(fields(&c), vec!["guardian_name", "occupation"]);
    }

    #[test]
    fn hepatitis_b_cannot_be_suspected_and_needs_its_course() {
        let mut c = adult();
        c.disease = "hepatitis".into();
        c.subtype = Some("hbv".into());
        c.case_class = CaseClass::Suspected;
        let p = validate(&c, &ctx()).expect_err("forbidden pair");
        assert_eq!(
            p.iter().map(|p| p.field).collect::<Vec<_>>(),
            vec!["case_class", "course"]
        );
        assert!(
            p[0].zh.contains("乙型肝炎") && p[0].zh.contains("疑似病例"),
            "{}",
            p[0].zh
        );
        c.case_class = CaseClass::Confirmed;
        c.course = Some(Course::Chronic);
        assert_eq!(validate(&c, &ctx()), Ok(()));
    }

    #[test]
    fn course_is_refused_where_it_does_not_apply() {
        let mut c = adult();
        c.course = Some(Course::Acute);
        assert_eq!(fields(&c), vec!["course"]);
    }

    #[test]
    fn subtypes_are_required_and_checked() {
        let mut c = adult();
        c.disease = "tb".into();
        assert_eq!(fields(&c), vec!["subtype"]);
        c.subtype = Some("nonsense".into());
        assert_eq!(fields(&c), vec!["subtype"]);
        c.subtype = Some("bacteriology_positive".into());
        assert_eq!(validate(&c, &ctx()), Ok(()));
    }

    #[test]
    fn neonatal_tetanus_starts_within_28_days_of_birth() {
        let mut c = adult();
        c.disease = "neonatal_tetanus".into();
        c.birth_date = day(2026, 4, 1);
        c.guardian_name = "母亲".into();
        c.occupation = "scattered_child".into();
        c.onset_date = day(2026, 4, 29);
        assert_eq!(validate(&c, &ctx()), Ok(()));
        c.onset_date = day(2026, 4, 30);
        c.diagnosed_at = day(2026, 5, 1).and_hms_opt(8, 0, 0).expect("t");
        c.fill_date = day(2026, 5, 1);
        assert_eq!(fields(&c), vec!["onset_date"]);
    }

    #[test]
    fn a_disease_not_yet_notifiable_is_refused() {
        let mut c = adult();
        c.disease = "mpox".into();
        c.onset_date = day(2023, 9, 1);
        c.diagnosed_at = day(2023, 9, 2).and_hms_opt(9, 0, 0).expect("t");
        c.fill_date = day(2023, 9, 2);
        assert_eq!(fields(&c), vec!["disease"]);
    }

    #[test]
    fn addresses_must_fit_the_belongs_choice() {
        let mut c = adult();
        c.address_code = "4512".into();
        assert_eq!(fields(&c), vec!["address_code"]);
        c.address_code = "450102".into();
        assert_eq!(fields(&c), vec!["address_code"]);
        c.belongs = Belongs::Province;
        assert_eq!(validate(&c, &ctx()), Ok(()));
        c.address_code = "451226100".into();
        assert_eq!(fields(&c), vec!["belongs"]);
        c.address_code = "x".into();
        assert_eq!(fields(&c), vec!["address_code"]);
    }

    proptest! {
        /// Whatever the dates, the checks never pass a card whose dates are out of order.
        #[test]
        fn no_card_with_dates_out_of_order_passes(b in 0i64..20000, o in 0i64..20000, dg in 0i64..20000, f in 0i64..20000) {
            let base = day(1970, 1, 1);
            let mut c = adult();
            c.birth_date = base + chrono::Duration::days(b);
            c.onset_date = base + chrono::Duration::days(o);
            c.diagnosed_at = (base + chrono::Duration::days(dg)).and_hms_opt(9, 0, 0).expect("t");
            c.fill_date = base + chrono::Duration::days(f);
            c.guardian_name = "家长".into();
            c.occupation = "student".into();
            let ordered = c.birth_date <= c.onset_date
                && c.onset_date <= c.diagnosed_at.date()
                && c.diagnosed_at.date() <= c.fill_date
                && c.fill_date <= ctx().now.date();
            if !ordered {
                prop_assert!(validate(&c, &ctx()).is_err());
            }
        }
    }
}
