//! 规范化电子健康档案: the rule set that says whether a resident record is complete and
//! standard, and what to fix.
//!
//! The national texts define the *fields* of the record (WS 365-2011 个人基本信息表 and the
//! form of 国家基本公共卫生服务规范（第三版）, `shared/domain.md` §7 \[S\]) and the *使用率*
//! indicator (档案中有动态记录的份数 / 档案总份数, §1 \[S\]), but no national text lists which
//! fields make a record "规范": that is set by provincial assessment rules. The rules below are
//! therefore local practice built on those sources, each documented on its [`RuleId`], with
//! the thresholds in [`Config`] so a county can change them.
//!
//! [`check`] returns every problem found, not the first, so a village doctor's work list can
//! show all fixes for a record at once. A record is standardised ([`is_standardised`]) when no
//! issue has [`Severity::Error`]; warnings are shown but do not count against it.
//!
//! This module does not read or write records; the store builds a [`RecordFacts`] from a row.

use chrono::NaiveDate;

use crate::division::{DivisionCode, Level};
use crate::id_card::{IdCardError, IdCardNumber};
use crate::key_group::age_on;
use crate::ws365;

/// What the rules need to know of one record. Coded fields are the stored codes, so that an
/// invalid code can be reported rather than hidden by a type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordFacts<'a> {
    /// 姓名.
    pub name: Option<&'a str>,
    /// 性别, GB/T 2261.1 code.
    pub sex_code: Option<&'a str>,
    /// 出生日期.
    pub birth_date: Option<NaiveDate>,
    /// 身份证号 as stored.
    pub id_card: Option<&'a str>,
    /// Why there is no 身份证号, when there is none.
    pub no_id_card_reason: Option<NoIdCardReason<'a>>,
    /// 本人电话.
    pub phone: Option<&'a str>,
    /// 联系人电话.
    pub contact_phone: Option<&'a str>,
    /// 现住址 village, 12-digit 统计用区划代码.
    pub village_code: Option<&'a str>,
    /// 常住类型 code.
    pub residence_type_code: Option<&'a str>,
    /// 民族 code.
    pub ethnicity_code: Option<&'a str>,
    /// ABO 血型 code (5 不详 is an answer).
    pub blood_abo_code: Option<&'a str>,
    /// Rh 血型 code (3 不详 is an answer).
    pub blood_rh_code: Option<&'a str>,
    /// 医疗费用支付方式 codes (one or more).
    pub payment_method_codes: Vec<&'a str>,
    /// 药物过敏史 answered (无 counts as an answer).
    pub allergy_answered: bool,
    /// 既往史 answered.
    pub history_answered: bool,
    /// 家族史 answered.
    pub family_history_answered: bool,
    /// 残疾情况 answered.
    pub disability_answered: bool,
    /// 生活环境 (all five items) answered.
    pub living_conditions_answered: bool,
    /// Date of the latest 健康体检 or service/visit record linked to the record.
    pub last_exam_or_visit: Option<NaiveDate>,
    /// 建档日期.
    pub created: Option<NaiveDate>,
}

/// A documented reason for a record without an ID-card number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoIdCardReason<'a> {
    /// 新生儿, not yet registered in the 户口.
    Newborn,
    /// 老年人无身份证 (never issued, or lost and not renewed).
    ElderlyWithoutCard,
    /// Any other reason, written out.
    Other(&'a str),
}

/// How serious an issue is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Shown on the work list; the record still counts as standardised.
    Warning,
    /// The record is not standardised until it is fixed.
    Error,
}

/// The rules. Each variant's doc says where the rule comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleId {
    /// Required fields of the 个人基本信息表 are filled. The fields are WS 365 / 第三版 form
    /// fields \[S\]; the choice of which are required is local practice (provincial 考核 rules),
    /// listed in [`check`]. 生活环境 is optional where [`Config::require_living_conditions`] is
    /// off (the 2011 规范 asked it of rural households only).
    Required,
    /// Coded fields hold a code of their value set ([`crate::ws365`], GB/T 2261.1, GB 3304,
    /// WS 364) and the village code is a 12-digit 统计用区划代码.
    Code,
    /// The birth date is not in the future and not before [`Config::earliest_birth`]
    /// (1900-01-01 by default; local practice).
    BirthDate,
    /// The ID-card number passes GB 11643-1999 (length, digits, province, birth date, check
    /// character, known GB/T 2260 area code; see [`crate::id_card`]).
    IdCard,
    /// The birth date encoded in the ID-card number equals the record's birth date
    /// (GB 11643-1999 digits 7-14).
    IdCardBirth,
    /// The sex encoded in the ID-card number (digit 17, odd = male) equals the record's sex.
    IdCardSex,
    /// A record without an ID-card number gives a reason that still holds: newborn up to
    /// [`Config::newborn_max_days`], elderly from [`Config::elderly_min_age`], or another
    /// reason written out. Local practice; thresholds configurable.
    NoIdCard,
    /// There is a phone number for the resident or a contact (本人电话 / 联系人电话 are form
    /// fields \[S\]; "one of them" is local practice), and it looks like a Chinese mobile or
    /// landline number (warning only).
    Contact,
    /// Dates are in order: birth ≤ 建档日期 ≤ today, birth ≤ last exam or visit ≤ today.
    Dates,
    /// The record has a 动态记录: an exam or service record within [`Config::dynamic_record_days`]
    /// (365) days. The 使用率 indicator counts such records (`domain.md` §1 \[S\]; "within the
    /// last year" \[M\]).
    DynamicRecord,
}

impl RuleId {
    pub const ALL: [RuleId; 10] = [
        RuleId::Required,
        RuleId::Code,
        RuleId::BirthDate,
        RuleId::IdCard,
        RuleId::IdCardBirth,
        RuleId::IdCardSex,
        RuleId::NoIdCard,
        RuleId::Contact,
        RuleId::Dates,
        RuleId::DynamicRecord,
    ];

    /// Stable code for storage and URLs.
    pub fn code(self) -> &'static str {
        match self {
            RuleId::Required => "required",
            RuleId::Code => "code",
            RuleId::BirthDate => "birth_date",
            RuleId::IdCard => "id_card",
            RuleId::IdCardBirth => "id_card_birth",
            RuleId::IdCardSex => "id_card_sex",
            RuleId::NoIdCard => "no_id_card",
            RuleId::Contact => "contact",
            RuleId::Dates => "dates",
            RuleId::DynamicRecord => "dynamic_record",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            RuleId::Required => "必填项",
            RuleId::Code => "代码有效",
            RuleId::BirthDate => "出生日期合理",
            RuleId::IdCard => "身份证号有效",
            RuleId::IdCardBirth => "身份证号与出生日期一致",
            RuleId::IdCardSex => "身份证号与性别一致",
            RuleId::NoIdCard => "无身份证原因",
            RuleId::Contact => "联系电话",
            RuleId::Dates => "日期先后",
            RuleId::DynamicRecord => "动态记录",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            RuleId::Required => "required fields",
            RuleId::Code => "valid codes",
            RuleId::BirthDate => "plausible birth date",
            RuleId::IdCard => "valid ID-card number",
            RuleId::IdCardBirth => "ID card matches birth date",
            RuleId::IdCardSex => "ID card matches sex",
            RuleId::NoIdCard => "reason for no ID card",
            RuleId::Contact => "contact phone",
            RuleId::Dates => "dates in order",
            RuleId::DynamicRecord => "exam or visit in the last year",
        }
    }

    pub fn parse(code: &str) -> Option<RuleId> {
        RuleId::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// One problem with a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub rule: RuleId,
    /// The [`RecordFacts`] field concerned.
    pub field: &'static str,
    pub message_zh: String,
    pub message_en: String,
    pub severity: Severity,
}

/// Thresholds of the rules (local practice; the defaults are this project's choice).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// A 动态记录 is an exam or visit at most this many days before today.
    pub dynamic_record_days: i64,
    /// "Newborn" explains a missing ID card up to this age in days.
    pub newborn_max_days: i64,
    /// "Elderly without card" explains a missing ID card from this age in years.
    pub elderly_min_age: u32,
    /// Whether 生活环境 is required (all households) or optional.
    pub require_living_conditions: bool,
    /// Birth dates before this are refused as implausible.
    pub earliest_birth: NaiveDate,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            dynamic_record_days: 365,
            newborn_max_days: 365,
            elderly_min_age: 60,
            require_living_conditions: true,
            earliest_birth: NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date"),
        }
    }
}

/// Check a record as of `today` with the default [`Config`].
pub fn check(r: &RecordFacts<'_>, today: NaiveDate) -> Vec<Issue> {
    check_with(r, today, &Config::default())
}

/// True if no issue is an error.
pub fn is_standardised(issues: &[Issue]) -> bool {
    !issues.iter().any(|i| i.severity == Severity::Error)
}

struct Issues(Vec<Issue>);

impl Issues {
    fn push(
        &mut self,
        rule: RuleId,
        field: &'static str,
        severity: Severity,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) {
        self.0.push(Issue {
            rule,
            field,
            message_zh: zh.into(),
            message_en: en.into(),
            severity,
        });
    }

    fn missing(&mut self, field: &'static str, zh: &str, en: &str) {
        self.push(
            RuleId::Required,
            field,
            Severity::Error,
            format!("{zh}未填写"),
            format!("{en} is missing"),
        );
    }

    fn bad_code(&mut self, field: &'static str, zh: &str, en: &str, code: &str) {
        self.push(
            RuleId::Code,
            field,
            Severity::Error,
            format!("{zh}代码“{code}”无效"),
            format!("{en} code {code:?} is not valid"),
        );
    }
}

fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// A required coded field: missing → `Required`, unparsable → `Code`.
fn coded<T>(
    out: &mut Issues,
    value: Option<&str>,
    field: &'static str,
    zh: &str,
    en: &str,
    parse: impl Fn(&str) -> Result<T, ws365::UnknownCode>,
) -> Option<T> {
    let Some(code) = present(value) else {
        out.missing(field, zh, en);
        return None;
    };
    match parse(code) {
        Ok(value) => Some(value),
        Err(_) => {
            out.bad_code(field, zh, en, code);
            None
        }
    }
}

/// Chinese reading of an ID-card refusal, for the work list.
fn id_card_error_zh(e: &IdCardError) -> String {
    match e {
        IdCardError::Length(n) => format!("身份证号应为18位（旧证15位），现为{n}位"),
        IdCardError::NotDigit { position } => format!("身份证号第{position}位应为数字"),
        IdCardError::Province(p) => format!("身份证号前两位{p}不是省级代码"),
        IdCardError::BirthDate(d) => format!("身份证号中的出生日期{d}不是有效日期"),
        IdCardError::BirthInFuture => "身份证号中的出生日期晚于今天".to_owned(),
        IdCardError::CheckDigit { expected, found } => {
            format!("身份证号校验位应为{expected}，实为{found}，可能有数字录入错误")
        }
        IdCardError::UnknownArea(code) => {
            format!("身份证号前六位{code}不是任何版本的行政区划代码")
        }
    }
}

/// A Chinese mobile (11 digits from 1) or landline (7-8 digits, or 0 + area code + number,
/// 10-12 digits), after dropping spaces, dashes and a +86 prefix.
fn looks_like_phone(raw: &str) -> bool {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    let digits = digits.strip_prefix("+86").unwrap_or(&digits);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    match digits.len() {
        11 if digits.starts_with('1') => true,
        7 | 8 => !digits.starts_with('0'),
        10..=12 => digits.starts_with('0'),
        _ => false,
    }
}

/// Check a record as of `today` with `config`. Issues come in rule order.
pub fn check_with(r: &RecordFacts<'_>, today: NaiveDate, config: &Config) -> Vec<Issue> {
    use RuleId::*;
    use Severity::*;
    let mut out = Issues(Vec::new());

    // Required fields and codes.
    if present(r.name).is_none() {
        out.missing("name", "姓名", "name");
    }
    let sex = coded(
        &mut out,
        r.sex_code,
        "sex",
        "性别",
        "sex",
        ws365::Sex::parse,
    );
    let birth = r.birth_date;
    if birth.is_none() {
        out.missing("birth_date", "出生日期", "birth date");
    }
    match present(r.village_code) {
        None => out.missing("village_code", "现住址村（居）委会", "village"),
        Some(code) => match DivisionCode::parse(code) {
            Ok(c) if c.level() == Level::Village => {}
            _ => out.bad_code("village_code", "村（居）委会", "village", code),
        },
    }
    coded(
        &mut out,
        r.residence_type_code,
        "residence_type",
        "常住类型",
        "residence type",
        ws365::ResidenceType::parse,
    );
    coded(
        &mut out,
        r.ethnicity_code,
        "ethnicity",
        "民族",
        "ethnicity",
        ws365::Ethnicity::parse,
    );
    coded(
        &mut out,
        r.blood_abo_code,
        "blood_abo",
        "ABO血型",
        "ABO blood group",
        ws365::BloodAbo::parse,
    );
    match present(r.blood_rh_code) {
        None => out.push(
            Required,
            "blood_rh",
            Warning,
            "Rh血型未填写（不详请选“不详”）",
            "Rh blood group is missing (choose \"not known\" if unknown)",
        ),
        Some(code) if ws365::BloodRh::parse(code).is_err() => {
            out.bad_code("blood_rh", "Rh血型", "Rh blood group", code)
        }
        Some(_) => {}
    }
    let payments: Vec<&str> = r
        .payment_method_codes
        .iter()
        .filter_map(|c| present(Some(c)))
        .collect();
    if payments.is_empty() {
        out.missing(
            "payment_method",
            "医疗费用支付方式",
            "medical payment method",
        );
    }
    for code in payments {
        if ws365::PaymentMethod::parse(code).is_err() {
            out.bad_code(
                "payment_method",
                "医疗费用支付方式",
                "medical payment method",
                code,
            );
        }
    }
    let answered = [
        (
            r.allergy_answered,
            "drug_allergy",
            "药物过敏史",
            "drug allergy",
        ),
        (r.history_answered, "past_history", "既往史", "past history"),
        (
            r.family_history_answered,
            "family_history",
            "家族史",
            "family history",
        ),
        (
            r.disability_answered,
            "disability",
            "残疾情况",
            "disability",
        ),
    ];
    for (done, field, zh, en) in answered {
        if !done {
            out.missing(field, zh, en);
        }
    }
    if config.require_living_conditions && !r.living_conditions_answered {
        out.missing("living_conditions", "生活环境", "living conditions");
    }
    if r.created.is_none() {
        out.missing("created", "建档日期", "record creation date");
    }

    // Birth date.
    if let Some(b) = birth {
        if b > today {
            out.push(
                BirthDate,
                "birth_date",
                Error,
                format!("出生日期{b}晚于今天"),
                format!("birth date {b} is in the future"),
            );
        } else if b < config.earliest_birth {
            out.push(
                BirthDate,
                "birth_date",
                Error,
                format!("出生日期{b}早于{}", config.earliest_birth),
                format!("birth date {b} is before {}", config.earliest_birth),
            );
        }
    }

    // ID card, or a reason for none.
    match present(r.id_card) {
        Some(raw) => match IdCardNumber::parse(raw, today) {
            Err(e) => out.push(
                IdCard,
                "id_card",
                Error,
                id_card_error_zh(&e),
                e.to_string(),
            ),
            Ok(id) => {
                if let Some(b) = birth
                    && id.birth_date() != b
                {
                    out.push(
                        IdCardBirth,
                        "birth_date",
                        Error,
                        format!("出生日期{b}与身份证号中的{}不一致", id.birth_date()),
                        format!(
                            "birth date {b} differs from {} in the ID-card number",
                            id.birth_date()
                        ),
                    );
                }
                let card_sex = ws365::Sex::from(id.sex());
                match sex {
                    Some(s @ (ws365::Sex::Male | ws365::Sex::Female)) if s != card_sex => out.push(
                        IdCardSex,
                        "sex",
                        Error,
                        format!("性别“{s}”与身份证号（{card_sex}）不一致"),
                        format!(
                            "sex {} differs from the ID-card number ({})",
                            s.name_en(),
                            card_sex.name_en()
                        ),
                    ),
                    Some(ws365::Sex::Unknown | ws365::Sex::Unstated) => out.push(
                        IdCardSex,
                        "sex",
                        Warning,
                        format!("性别未知，身份证号显示为{card_sex}"),
                        format!(
                            "sex is not given; the ID-card number says {}",
                            card_sex.name_en()
                        ),
                    ),
                    _ => {}
                }
            }
        },
        None => {
            let age_days = birth.map(|b| (today - b).num_days());
            let age_years = birth.filter(|b| *b <= today).map(|b| age_on(b, today));
            match r.no_id_card_reason {
                None => out.push(
                    NoIdCard,
                    "id_card",
                    Error,
                    "未填写身份证号，也未说明原因（新生儿、老年人无证等）",
                    "no ID-card number and no reason given (newborn, elderly without card, …)",
                ),
                Some(NoIdCardReason::Newborn)
                    if age_days.is_none_or(|d| d > config.newborn_max_days) =>
                {
                    out.push(
                        NoIdCard,
                        "id_card",
                        Error,
                        format!(
                            "已超过{}天，不再是新生儿，请补录身份证号",
                            config.newborn_max_days
                        ),
                        format!(
                            "older than {} days, no longer a newborn: add the ID-card number",
                            config.newborn_max_days
                        ),
                    )
                }
                Some(NoIdCardReason::ElderlyWithoutCard)
                    if age_years.is_none_or(|a| a < config.elderly_min_age) =>
                {
                    out.push(
                        NoIdCard,
                        "id_card",
                        Error,
                        format!("未满{}岁，“老年人无证”不适用", config.elderly_min_age),
                        format!(
                            "younger than {}: \"elderly without card\" does not apply",
                            config.elderly_min_age
                        ),
                    )
                }
                Some(NoIdCardReason::Other(text)) if text.trim().is_empty() => out.push(
                    NoIdCard,
                    "no_id_card_reason",
                    Error,
                    "无身份证的其他原因未写明",
                    "the other reason for no ID card is not written out",
                ),
                Some(_) => {}
            }
        }
    }

    // Contact phone.
    let phones: Vec<(&'static str, &str)> =
        [("phone", r.phone), ("contact_phone", r.contact_phone)]
            .into_iter()
            .filter_map(|(field, value)| present(value).map(|v| (field, v)))
            .collect();
    if phones.is_empty() {
        out.push(
            Contact,
            "phone",
            Error,
            "本人电话和联系人电话均未填写",
            "neither the resident's nor a contact's phone number is given",
        );
    }
    for (field, number) in phones {
        if !looks_like_phone(number) {
            out.push(
                Contact,
                field,
                Warning,
                format!("电话“{number}”不像手机号或固定电话"),
                format!("{number:?} does not look like a mobile or landline number"),
            );
        }
    }

    // Dates in order.
    if let Some(created) = r.created {
        if created > today {
            out.push(
                Dates,
                "created",
                Error,
                format!("建档日期{created}晚于今天"),
                format!("record creation date {created} is in the future"),
            );
        }
        if let Some(b) = birth
            && created < b
        {
            out.push(
                Dates,
                "created",
                Error,
                format!("建档日期{created}早于出生日期{b}"),
                format!("record creation date {created} is before the birth date {b}"),
            );
        }
    }
    if let Some(visit) = r.last_exam_or_visit {
        if visit > today {
            out.push(
                Dates,
                "last_exam_or_visit",
                Error,
                format!("最近体检或随访日期{visit}晚于今天"),
                format!("last exam or visit {visit} is in the future"),
            );
        }
        if let Some(b) = birth
            && visit < b
        {
            out.push(
                Dates,
                "last_exam_or_visit",
                Error,
                format!("最近体检或随访日期{visit}早于出生日期{b}"),
                format!("last exam or visit {visit} is before the birth date {b}"),
            );
        }
    }

    // 动态记录.
    let window_start = today - chrono::Duration::days(config.dynamic_record_days);
    match r.last_exam_or_visit {
        Some(visit) if visit >= window_start => {}
        last => {
            let when_zh = last.map_or("从未有记录".to_owned(), |d| format!("最近一次为{d}"));
            let when_en = last.map_or("there is none".to_owned(), |d| format!("the last was {d}"));
            out.push(
                DynamicRecord,
                "last_exam_or_visit",
                Error,
                format!(
                    "近{}天内无体检或随访记录（{when_zh}）",
                    config.dynamic_record_days
                ),
                format!(
                    "no exam or visit in the last {} days ({when_en})",
                    config.dynamic_record_days
                ),
            );
        }
    }

    let mut issues = out.0;
    issues.sort_by_key(|i| i.rule);
    issues
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id_card::check_char;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn today() -> NaiveDate {
        d(2026, 11, 23)
    }

    /// A valid ID-card number of a man born 1960-05-10 in 环江县.
    fn id_male_1960() -> String {
        let body = "45122619600510001";
        format!("{body}{}", check_char(body))
    }

    fn good<'a>(id: &'a str) -> RecordFacts<'a> {
        RecordFacts {
            name: Some("韦秀英"),
            sex_code: Some("1"),
            birth_date: Some(d(1960, 5, 10)),
            id_card: Some(id),
            no_id_card_reason: None,
            phone: Some("13907781234"),
            contact_phone: None,
            village_code: Some("451226100201"),
            residence_type_code: Some("1"),
            ethnicity_code: Some("08"),
            blood_abo_code: Some("5"),
            blood_rh_code: Some("3"),
            payment_method_codes: vec!["02"],
            allergy_answered: true,
            history_answered: true,
            family_history_answered: true,
            disability_answered: true,
            living_conditions_answered: true,
            last_exam_or_visit: Some(d(2026, 3, 1)),
            created: Some(d(2012, 6, 1)),
        }
    }

    /// The (rule, field, severity) of each issue.
    fn summary(issues: &[Issue]) -> Vec<(RuleId, &'static str, Severity)> {
        issues
            .iter()
            .map(|i| (i.rule, i.field, i.severity))
            .collect()
    }

    #[track_caller]
    fn check_one(
        edit: impl FnOnce(&mut RecordFacts<'_>),
        expect: &[(RuleId, &'static str, Severity)],
    ) {
        let id = id_male_1960();
        let mut r = good(&id);
        edit(&mut r);
        let issues = check(&r, today());
        assert_eq!(summary(&issues), expect, "{issues:#?}");
    }

    use RuleId::*;
    use Severity::*;

    #[test]
    fn a_complete_record_has_no_issue() {
        check_one(|_| {}, &[]);
        let id = id_male_1960();
        assert!(is_standardised(&check(&good(&id), today())));
    }

    #[test]
    fn required_fields() {
        check_one(|r| r.name = Some("  "), &[(Required, "name", Error)]);
        check_one(|r| r.sex_code = None, &[(Required, "sex", Error)]);
        check_one(|r| r.birth_date = None, &[(Required, "birth_date", Error)]);
        check_one(
            |r| r.village_code = None,
            &[(Required, "village_code", Error)],
        );
        check_one(
            |r| r.residence_type_code = None,
            &[(Required, "residence_type", Error)],
        );
        check_one(
            |r| r.ethnicity_code = None,
            &[(Required, "ethnicity", Error)],
        );
        check_one(
            |r| r.blood_abo_code = None,
            &[(Required, "blood_abo", Error)],
        );
        check_one(
            |r| r.blood_rh_code = None,
            &[(Required, "blood_rh", Warning)],
        );
        check_one(
            |r| r.payment_method_codes = vec![],
            &[(Required, "payment_method", Error)],
        );
        check_one(
            |r| r.allergy_answered = false,
            &[(Required, "drug_allergy", Error)],
        );
        check_one(
            |r| r.history_answered = false,
            &[(Required, "past_history", Error)],
        );
        check_one(
            |r| r.family_history_answered = false,
            &[(Required, "family_history", Error)],
        );
        check_one(
            |r| r.disability_answered = false,
            &[(Required, "disability", Error)],
        );
        check_one(
            |r| r.living_conditions_answered = false,
            &[(Required, "living_conditions", Error)],
        );
        check_one(|r| r.created = None, &[(Required, "created", Error)]);
    }

    #[test]
    fn living_conditions_can_be_optional() {
        let id = id_male_1960();
        let mut r = good(&id);
        r.living_conditions_answered = false;
        let config = Config {
            require_living_conditions: false,
            ..Config::default()
        };
        assert_eq!(check_with(&r, today(), &config), vec![]);
    }

    #[test]
    fn codes_must_be_valid() {
        check_one(|r| r.sex_code = Some("3"), &[(Code, "sex", Error)]);
        check_one(
            |r| r.ethnicity_code = Some("57"),
            &[(Code, "ethnicity", Error)],
        );
        check_one(
            |r| r.residence_type_code = Some("3"),
            &[(Code, "residence_type", Error)],
        );
        check_one(
            |r| r.blood_abo_code = Some("A"),
            &[(Code, "blood_abo", Error)],
        );
        check_one(
            |r| r.blood_rh_code = Some("4"),
            &[(Code, "blood_rh", Error)],
        );
        check_one(
            |r| r.payment_method_codes = vec!["02", "08"],
            &[(Code, "payment_method", Error)],
        );
        // A township is not a village.
        check_one(
            |r| r.village_code = Some("451226100"),
            &[(Code, "village_code", Error)],
        );
        check_one(
            |r| r.village_code = Some("45122610020x"),
            &[(Code, "village_code", Error)],
        );
        let id = id_male_1960();
        let mut r = good(&id);
        r.ethnicity_code = Some("57");
        let issue = &check(&r, today())[0];
        assert_eq!(issue.message_zh, "民族代码“57”无效");
        assert_eq!(issue.message_en, "ethnicity code \"57\" is not valid");
    }

    #[test]
    fn birth_date_range() {
        // Future birth: also disagrees with the ID card and is after creation and the visit.
        check_one(
            |r| {
                r.id_card = None;
                r.no_id_card_reason = Some(NoIdCardReason::Newborn);
                r.birth_date = Some(d(2026, 12, 1));
                r.created = Some(d(2026, 11, 1));
                r.last_exam_or_visit = None;
            },
            &[
                (BirthDate, "birth_date", Error),
                (Dates, "created", Error),
                (DynamicRecord, "last_exam_or_visit", Error),
            ],
        );
        check_one(
            |r| {
                r.id_card = None;
                r.no_id_card_reason = Some(NoIdCardReason::ElderlyWithoutCard);
                r.birth_date = Some(d(1899, 12, 31));
            },
            &[(BirthDate, "birth_date", Error)],
        );
    }

    #[test]
    fn id_card_must_be_valid_and_agree() {
        check_one(
            |r| r.id_card = Some("451226196005100010"),
            &[(IdCard, "id_card", Error)],
        );
        check_one(
            |r| r.birth_date = Some(d(1960, 5, 11)),
            &[(IdCardBirth, "birth_date", Error)],
        );
        check_one(|r| r.sex_code = Some("2"), &[(IdCardSex, "sex", Error)]);
        check_one(|r| r.sex_code = Some("9"), &[(IdCardSex, "sex", Warning)]);
        let id = id_male_1960();
        let mut r = good(&id);
        r.id_card = Some("451226196005100010");
        let issue = &check(&r, today())[0];
        assert!(
            issue.message_zh.starts_with("身份证号校验位应为"),
            "{issue:?}"
        );
        assert!(issue.message_en.contains("check character"), "{issue:?}");
    }

    #[test]
    fn a_missing_id_card_needs_a_reason_that_holds() {
        let without = |reason: Option<NoIdCardReason<'static>>, birth: NaiveDate| {
            move |r: &mut RecordFacts<'_>| {
                r.id_card = None;
                r.no_id_card_reason = reason;
                r.birth_date = Some(birth);
            }
        };
        check_one(
            without(None, d(1960, 5, 10)),
            &[(NoIdCard, "id_card", Error)],
        );
        check_one(
            without(Some(NoIdCardReason::ElderlyWithoutCard), d(1960, 5, 10)),
            &[],
        );
        check_one(
            without(Some(NoIdCardReason::ElderlyWithoutCard), d(1980, 5, 10)),
            &[(NoIdCard, "id_card", Error)],
        );
        check_one(
            without(Some(NoIdCardReason::Newborn), d(2026, 10, 1)),
            &[
                (Dates, "created", Error),
                (Dates, "last_exam_or_visit", Error),
            ],
        );
        check_one(
            without(Some(NoIdCardReason::Newborn), d(2020, 10, 1)),
            &[(NoIdCard, "id_card", Error), (Dates, "created", Error)],
        );
        check_one(
            without(Some(NoIdCardReason::Other("外籍")), d(1960, 5, 10)),
            &[],
        );
        check_one(
            without(Some(NoIdCardReason::Other(" ")), d(1960, 5, 10)),
            &[(NoIdCard, "no_id_card_reason", Error)],
        );
    }

    #[test]
    fn a_phone_or_contact_is_needed() {
        check_one(|r| r.phone = None, &[(Contact, "phone", Error)]);
        check_one(
            |r| {
                r.phone = None;
                r.contact_phone = Some("0778-7932100");
            },
            &[],
        );
        check_one(|r| r.phone = Some("1390778"), &[]);
        check_one(|r| r.phone = Some("12345"), &[(Contact, "phone", Warning)]);
        let cases = [
            ("13907781234", true),
            ("+86 139 0778 1234", true),
            ("0778-7932100", true),
            ("7932100", true),
            ("07787932100", true),
            ("23907781234", false),
            ("139077812345", false),
            ("abc", false),
            ("0793210", false),
        ];
        for (number, ok) in cases {
            assert_eq!(looks_like_phone(number), ok, "{number}");
        }
    }

    #[test]
    fn dates_must_be_in_order() {
        check_one(
            |r| r.created = Some(d(2027, 1, 1)),
            &[(Dates, "created", Error)],
        );
        check_one(
            |r| r.last_exam_or_visit = Some(d(2027, 1, 1)),
            &[(Dates, "last_exam_or_visit", Error)],
        );
        check_one(
            |r| r.created = Some(d(1950, 1, 1)),
            &[(Dates, "created", Error)],
        );
    }

    #[test]
    fn a_record_needs_an_exam_or_visit_in_the_last_year() {
        // 365 days back is still inside the window; 366 is not.
        check_one(|r| r.last_exam_or_visit = Some(d(2025, 11, 23)), &[]);
        check_one(
            |r| r.last_exam_or_visit = Some(d(2025, 11, 22)),
            &[(DynamicRecord, "last_exam_or_visit", Error)],
        );
        check_one(
            |r| r.last_exam_or_visit = None,
            &[(DynamicRecord, "last_exam_or_visit", Error)],
        );
        let id = id_male_1960();
        let mut r = good(&id);
        r.last_exam_or_visit = None;
        let issues = check(&r, today());
        assert!(!is_standardised(&issues));
        assert_eq!(
            issues[0].message_en,
            "no exam or visit in the last 365 days (there is none)"
        );
    }

    #[test]
    fn warnings_do_not_stop_a_record_being_standardised() {
        let id = id_male_1960();
        let mut r = good(&id);
        r.blood_rh_code = None;
        r.phone = Some("12345");
        let issues = check(&r, today());
        assert_eq!(issues.len(), 2);
        assert!(is_standardised(&issues));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let issues = check(&RecordFacts::default(), today());
        let rules: std::collections::BTreeSet<RuleId> = issues.iter().map(|i| i.rule).collect();
        assert!(rules.contains(&Required));
        assert!(rules.contains(&NoIdCard));
        assert!(rules.contains(&Contact));
        assert!(rules.contains(&DynamicRecord));
        // Sorted by rule.
        assert!(issues.windows(2).all(|w| w[0].rule <= w[1].rule));
        for rule in RuleId::ALL {
            assert_eq!(RuleId::parse(rule.code()), Some(rule));
        }
    }
}
