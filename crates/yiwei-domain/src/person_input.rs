//! Checking a person's identifying data as entered: on the web form, in a CSV import row,
//! in a FHIR Patient. One set of rules, so every door refuses the same things with the same
//! words.
//!
//! Rules: a name (1–50 characters after trimming); sex `male` / `female` / `unknown`
//! (GB/T 2261.1 1 / 2 / 0, also accepted as `1`, `2`, `0`, `9`, 男, 女); a birth date
//! `YYYY-MM-DD` (or `YYYYMMDD`) not in the future and not before 1880; an ID-card number
//! valid per GB 11643 ([`crate::id_card`]) whose birth date and sex agree with the fields
//! given, or else a reason why there is none (newborns, elderly people without a card,
//! WS 365 allows records without one); phone numbers of 7–13 digits; a village-level
//! division code. Every failure names its field and says what to fix, in Chinese and
//! English.

use chrono::{Datelike, NaiveDate};

use crate::division::{DivisionCode, Level};
use crate::id_card::{IdCardNumber, Sex};

/// The raw text of one person as entered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawPerson {
    pub name: String,
    pub sex: String,
    pub birth_date: String,
    pub id_card: String,
    pub no_id_reason: String,
    pub phone: String,
    pub contact_phone: String,
    pub village: String,
}

/// The checked values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    /// `male`, `female` or `unknown`.
    pub sex: &'static str,
    pub birth_date: Option<NaiveDate>,
    /// Canonical 18-character form.
    pub id_card: Option<String>,
    pub no_id_reason: Option<String>,
    pub phone: Option<String>,
    pub contact_phone: Option<String>,
    pub village: DivisionCode,
}

/// Which field a problem is in (the names of [`RawPerson`]'s fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub field: &'static str,
    pub zh: String,
    pub en: String,
}

impl Problem {
    fn new(field: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Problem {
        Problem {
            field,
            zh: zh.into(),
            en: en.into(),
        }
    }
}

/// Read a sex code or word.
pub fn parse_sex(text: &str) -> Option<&'static str> {
    match text.trim() {
        "male" | "1" | "男" | "M" | "m" => Some("male"),
        "female" | "2" | "女" | "F" | "f" => Some("female"),
        "unknown" | "0" | "9" | "" | "未知" | "未说明" => Some("unknown"),
        _ => None,
    }
}

fn phone_ok(p: &str) -> bool {
    let digits = p.chars().filter(char::is_ascii_digit).count();
    (7..=13).contains(&digits) && p.chars().all(|c| c.is_ascii_digit() || " -+()".contains(c))
}

/// Check a person. `id_on_file`: the record already holds an ID-card number (an edit that
/// leaves the field empty keeps it), so no reason for a missing one is needed.
pub fn check(raw: &RawPerson, today: NaiveDate, id_on_file: bool) -> Result<Person, Vec<Problem>> {
    let mut problems = Vec::new();
    let name = raw.name.trim();
    if name.is_empty() {
        problems.push(Problem::new("name", "请填写姓名。", "Enter the name."));
    } else if name.chars().count() > 50 {
        problems.push(Problem::new(
            "name",
            "姓名不能超过 50 个字。",
            "A name has at most 50 characters.",
        ));
    }
    let sex = parse_sex(&raw.sex).unwrap_or_else(|| {
        problems.push(Problem::new(
            "sex",
            "性别应为 男/女/未知。",
            "Sex is male, female or unknown.",
        ));
        "unknown"
    });
    let mut birth = None;
    let birth_text = raw.birth_date.trim();
    if !birth_text.is_empty() {
        let parsed = NaiveDate::parse_from_str(birth_text, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(birth_text, "%Y%m%d"));
        match parsed {
            Ok(d) if d > today => problems.push(Problem::new(
                "birth_date",
                "出生日期不能晚于今天。",
                "The birth date cannot be in the future.",
            )),
            Ok(d) if d.year() < 1880 => problems.push(Problem::new(
                "birth_date",
                "出生日期早于 1880 年，请核对。",
                "The birth date is before 1880; check it.",
            )),
            Ok(d) => birth = Some(d),
            Err(_) => problems.push(Problem::new(
                "birth_date",
                "出生日期格式应为 年-月-日（如 1958-03-09）。",
                "Write the birth date as YYYY-MM-DD (e.g. 1958-03-09).",
            )),
        }
    }
    let mut id_card = None;
    if !raw.id_card.trim().is_empty() {
        match IdCardNumber::parse(&raw.id_card, today) {
            Ok(n) => {
                if birth.is_some_and(|b| b != n.birth_date()) {
                    problems.push(Problem::new(
                        "birth_date",
                        "出生日期与身份证号中的出生日期不一致。",
                        "The birth date differs from the one in the ID-card number.",
                    ));
                }
                let id_sex = match n.sex() {
                    Sex::Male => "male",
                    Sex::Female => "female",
                };
                if sex != "unknown" && sex != id_sex {
                    problems.push(Problem::new(
                        "id_card",
                        "性别与身份证号第 17 位不一致。",
                        "The sex differs from the 17th digit of the ID-card number.",
                    ));
                }
                birth = birth.or(Some(n.birth_date()));
                id_card = Some(n.as_str().to_owned());
            }
            Err(e) => problems.push(Problem::new(
                "id_card",
                format!("身份证号有误：{e}"),
                e.to_string(),
            )),
        }
    } else if raw.no_id_reason.trim().is_empty() && !id_on_file {
        problems.push(Problem::new(
            "id_card",
            "请填写身份证号；没有的（如新生儿），请填写原因。",
            "Enter the ID-card number, or say why there is none (a newborn, for example).",
        ));
    }
    for (field, value) in [("phone", &raw.phone), ("contact_phone", &raw.contact_phone)] {
        if !value.trim().is_empty() && !phone_ok(value) {
            problems.push(Problem::new(
                field,
                "电话号码应为 7 到 13 位数字。",
                "A phone number has 7 to 13 digits.",
            ));
        }
    }
    let village = match DivisionCode::parse(&raw.village) {
        Ok(v) if v.level() == Level::Village => Some(v),
        Ok(_) => {
            problems.push(Problem::new(
                "village",
                "请选择村/社区（12 位区划代码）。",
                "Give the village or community (a 12-digit code).",
            ));
            None
        }
        Err(e) => {
            problems.push(Problem::new(
                "village",
                format!("区划代码有误：{e}"),
                e.to_string(),
            ));
            None
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let some = |s: &str| Some(s.trim().to_owned()).filter(|v| !v.is_empty());
    Ok(Person {
        name: name.to_owned(),
        sex,
        birth_date: birth,
        id_card,
        no_id_reason: some(&raw.no_id_reason),
        phone: some(&raw.phone),
        contact_phone: some(&raw.contact_phone),
        village: village.expect("checked"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn id(birth: &str, seq: u32) -> String {
        let first = format!("451226{birth}{seq:03}");
        format!("{first}{}", crate::id_card::check_char(&first))
    }

    fn raw() -> RawPerson {
        RawPerson {
            name: " 黄小明 ".into(),
            sex: "男".into(),
            birth_date: "1970-05-05".into(),
            id_card: id("19700505", 17),
            phone: "139 7700 1234".into(),
            village: "451226100201".into(),
            ..RawPerson::default()
        }
    }

    fn fields(r: Result<Person, Vec<Problem>>) -> Vec<&'static str> {
        r.err()
            .unwrap_or_default()
            .iter()
            .map(|p| p.field)
            .collect()
    }

    #[test]
    fn a_complete_person_passes_and_is_normalised() {
        let p = check(&raw(), today(), false).unwrap();
        assert_eq!(p.name, "黄小明");
        assert_eq!(p.sex, "male");
        assert_eq!(p.birth_date, NaiveDate::from_ymd_opt(1970, 5, 5));
        assert_eq!(p.village.as_str(), "451226100201");
    }

    #[test]
    fn each_failure_names_its_field() {
        let check_one = |edit: fn(&mut RawPerson), field: &str| {
            let mut r = raw();
            edit(&mut r);
            assert_eq!(fields(check(&r, today(), false)), vec![field], "{r:?}");
        };
        check_one(|r| r.name = "  ".into(), "name");
        check_one(|r| r.sex = "x".into(), "sex");
        check_one(|r| r.birth_date = "1970-05-06".into(), "birth_date");
        check_one(|r| r.birth_date = "05/05/1970".into(), "birth_date");
        check_one(|r| r.id_card = "451226197005050171".into(), "id_card");
        check_one(|r| r.sex = "女".into(), "id_card");
        check_one(|r| r.phone = "12ab".into(), "phone");
        check_one(|r| r.village = "451226100".into(), "village");
        check_one(|r| r.village = "45x".into(), "village");
    }

    #[test]
    fn no_id_card_needs_a_reason_unless_one_is_on_file() {
        let mut r = raw();
        r.id_card.clear();
        assert_eq!(fields(check(&r, today(), false)), vec!["id_card"]);
        assert!(check(&r, today(), true).is_ok());
        r.no_id_reason = "新生儿".into();
        assert!(check(&r, today(), false).is_ok());
    }

    #[test]
    fn future_birth_dates_are_refused() {
        let mut r = raw();
        r.id_card.clear();
        r.no_id_reason = "新生儿".into();
        r.birth_date = "2027-01-01".into();
        assert_eq!(fields(check(&r, today(), false)), vec!["birth_date"]);
        r.birth_date = "20261122".into();
        assert!(check(&r, today(), false).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(name in "\\PC{0,8}", sex in "\\PC{0,3}", birth in "\\PC{0,12}", idc in "\\PC{0,20}", village in "\\PC{0,14}") {
            let r = RawPerson { name, sex, birth_date: birth, id_card: idc, village, ..RawPerson::default() };
            let _ = check(&r, today(), false);
        }
    }
}
