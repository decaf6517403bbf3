//! What a visit records: a [`VisitForm`] of typed fields, and [`validate`], which reads the
//! answers as typed (a form post, a CSV row, a FHIR Observation flattened to key/value) into
//! [`ValidAnswers`] or reports every problem, in Chinese and English, next to its field.
//!
//! The plausible ranges of measurements are those of [`crate::exam::Ranges`], so a blood
//! pressure of 400/20 is refused here as on the health-exam form. Numbers accept full-width
//! digits and the Chinese full stop, as [`crate::exam::Field::read`] does. Keys that are not
//! fields of the form are reported rather than dropped, so nothing typed is lost silently.

use std::fmt;

use chrono::NaiveDate;

use super::Subject;
use crate::exam::{Code, Range, figure};

/// A visit form (随访记录表): its fields, in display order, and cross-field checks.
#[derive(Clone, Debug, PartialEq)]
pub struct VisitForm {
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub fields: Vec<FieldDef>,
    pub checks: Vec<Check>,
}

impl VisitForm {
    pub fn field(&self, key: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.key == key)
    }
}

/// One field of a form.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldDef {
    /// The form-field name and storage key.
    pub key: &'static str,
    pub label_zh: &'static str,
    pub label_en: &'static str,
    pub kind: FieldKind,
    pub required: bool,
}

/// The type of a field's answer.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldKind {
    /// A number within `range`, in `unit` (`unit_en` in English messages).
    Number {
        range: Range,
        unit: &'static str,
        unit_en: &'static str,
    },
    /// One code of a value set (code, Chinese, English).
    Code { set: &'static [Code] },
    /// Any number of codes of a value set (check boxes); given as repeated keys.
    Codes { set: &'static [Code] },
    /// 是/否.
    YesNo,
    /// Free text of at most `max_chars` characters.
    Text { max_chars: usize },
    /// A date written `YYYY-MM-DD`.
    Date,
}

impl FieldDef {
    pub fn number(
        key: &'static str,
        label_zh: &'static str,
        label_en: &'static str,
        range: Range,
        unit: &'static str,
        unit_en: &'static str,
    ) -> FieldDef {
        FieldDef::new(
            key,
            label_zh,
            label_en,
            FieldKind::Number {
                range,
                unit,
                unit_en,
            },
        )
    }

    pub fn code(
        key: &'static str,
        label_zh: &'static str,
        label_en: &'static str,
        set: &'static [Code],
    ) -> FieldDef {
        FieldDef::new(key, label_zh, label_en, FieldKind::Code { set })
    }

    pub fn codes(
        key: &'static str,
        label_zh: &'static str,
        label_en: &'static str,
        set: &'static [Code],
    ) -> FieldDef {
        FieldDef::new(key, label_zh, label_en, FieldKind::Codes { set })
    }

    pub fn yes_no(key: &'static str, label_zh: &'static str, label_en: &'static str) -> FieldDef {
        FieldDef::new(key, label_zh, label_en, FieldKind::YesNo)
    }

    pub fn text(
        key: &'static str,
        label_zh: &'static str,
        label_en: &'static str,
        max_chars: usize,
    ) -> FieldDef {
        FieldDef::new(key, label_zh, label_en, FieldKind::Text { max_chars })
    }

    pub fn date(key: &'static str, label_zh: &'static str, label_en: &'static str) -> FieldDef {
        FieldDef::new(key, label_zh, label_en, FieldKind::Date)
    }

    fn new(
        key: &'static str,
        label_zh: &'static str,
        label_en: &'static str,
        kind: FieldKind,
    ) -> FieldDef {
        FieldDef {
            key,
            label_zh,
            label_en,
            kind,
            required: false,
        }
    }

    /// The same field, required.
    pub fn required(mut self) -> FieldDef {
        self.required = true;
        self
    }
}

/// A check across two fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// When both are given, the number at `lower` must be below the one at `upper` (a
    /// diastolic pressure below the systolic).
    Below {
        lower: &'static str,
        upper: &'static str,
    },
}

/// A typed answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Number(f64),
    Code(&'static str),
    Codes(Vec<&'static str>),
    YesNo(bool),
    Text(String),
    Date(NaiveDate),
}

/// The answers of a form after [`validate`]: only fields of the form, each typed, in form
/// order. Fields left empty are absent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValidAnswers {
    values: Vec<(&'static str, Value)>,
}

impl ValidAnswers {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    pub fn number(&self, key: &str) -> Option<f64> {
        match self.get(key) {
            Some(Value::Number(n)) => Some(*n),
            _ => None,
        }
    }

    pub fn code(&self, key: &str) -> Option<&'static str> {
        match self.get(key) {
            Some(Value::Code(c)) => Some(c),
            _ => None,
        }
    }

    /// The codes of a multiple-choice field (empty if none).
    pub fn codes(&self, key: &str) -> &[&'static str] {
        match self.get(key) {
            Some(Value::Codes(c)) => c,
            _ => &[],
        }
    }

    pub fn yes(&self, key: &str) -> Option<bool> {
        match self.get(key) {
            Some(Value::YesNo(b)) => Some(*b),
            _ => None,
        }
    }

    pub fn text(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Value::Text(t)) => Some(t),
            _ => None,
        }
    }

    pub fn date(&self, key: &str) -> Option<NaiveDate> {
        match self.get(key) {
            Some(Value::Date(d)) => Some(*d),
            _ => None,
        }
    }

    /// Every answer, in form order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.values.iter().map(|(k, v)| (*k, v))
    }
}

/// One problem with an answer, in both languages, for the message next to the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field's key (or the unknown key as typed).
    pub key: String,
    pub message_zh: String,
    pub message_en: String,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message_en)
    }
}

fn problem(key: &str, zh: String, en: String) -> FieldProblem {
    FieldProblem {
        key: key.to_owned(),
        message_zh: zh,
        message_en: en,
    }
}

/// Check `answers` (key, text as typed; a key may repeat for a multiple-choice field)
/// against `form`. Returns the typed answers, or every problem found, not just the first.
pub fn validate(
    form: &VisitForm,
    answers: &[(&str, &str)],
) -> Result<ValidAnswers, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    for (key, _) in answers {
        if form.field(key.trim()).is_none()
            && !problems.iter().any(|p: &FieldProblem| p.key == *key)
        {
            problems.push(problem(
                key,
                format!("“{key}”不是本表的项目。"),
                format!("“{key}” is not a field of this form."),
            ));
        }
    }
    let mut values = Vec::new();
    for field in &form.fields {
        let given: Vec<&str> = answers
            .iter()
            .filter(|(k, _)| k.trim() == field.key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        if given.is_empty() {
            if field.required {
                problems.push(problem(
                    field.key,
                    format!("请填写{}。", field.label_zh),
                    format!("{} is required.", field.label_en),
                ));
            }
            continue;
        }
        if given.len() > 1 && !matches!(field.kind, FieldKind::Codes { .. }) {
            problems.push(problem(
                field.key,
                format!("{}只能填一个值。", field.label_zh),
                format!("{} takes one value.", field.label_en),
            ));
            continue;
        }
        match read(field, &given) {
            Ok(value) => values.push((field.key, value)),
            Err(p) => problems.push(p),
        }
    }
    let answers = ValidAnswers { values };
    for check in &form.checks {
        match check {
            Check::Below { lower, upper } => {
                let flagged = |k: &str| problems.iter().any(|p| p.key == k);
                if let (Some(lo), Some(hi), Some(lo_def), Some(hi_def)) = (
                    answers.number(lower),
                    answers.number(upper),
                    form.field(lower),
                    form.field(upper),
                ) && !flagged(lower)
                    && !flagged(upper)
                    && lo >= hi
                {
                    problems.push(problem(
                        lower,
                        format!(
                            "{} {} 应低于{} {}，请核对是否填反。",
                            lo_def.label_zh,
                            figure(lo),
                            hi_def.label_zh,
                            figure(hi)
                        ),
                        format!(
                            "{} {} must be below {} {}; were they swapped?",
                            lo_def.label_en,
                            figure(lo),
                            hi_def.label_en.to_lowercase(),
                            figure(hi)
                        ),
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(answers)
    } else {
        Err(problems)
    }
}

fn read(field: &FieldDef, given: &[&str]) -> Result<Value, FieldProblem> {
    let text = given[0];
    let (zh, en) = (field.label_zh, field.label_en);
    match &field.kind {
        FieldKind::Number {
            range,
            unit,
            unit_en,
        } => {
            let Some(v) = read_number(text) else {
                return Err(problem(
                    field.key,
                    format!("{zh}应为数字（单位 {unit}）。"),
                    format!("{en} must be a number (in {unit_en})."),
                ));
            };
            if !range.contains(v) {
                return Err(problem(
                    field.key,
                    format!(
                        "{zh} {} {unit} 超出合理范围（{}–{} {unit}），请核对。",
                        figure(v),
                        figure(range.min),
                        figure(range.max)
                    ),
                    format!(
                        "{en} {} {unit_en} is outside the plausible range {}–{} {unit_en}; check it.",
                        figure(v),
                        figure(range.min),
                        figure(range.max)
                    ),
                ));
            }
            Ok(Value::Number(v))
        }
        FieldKind::Code { set } => find_code(field, set, text).map(Value::Code),
        FieldKind::Codes { set } => {
            let mut codes = Vec::new();
            for t in given {
                let c = find_code(field, set, t)?;
                if !codes.contains(&c) {
                    codes.push(c);
                }
            }
            // In value-set order, so equal answers compare equal.
            codes.sort_by_key(|c| set.iter().position(|s| s.0 == *c));
            Ok(Value::Codes(codes))
        }
        FieldKind::YesNo => match text.to_lowercase().as_str() {
            "1" | "y" | "yes" | "true" | "是" | "有" => Ok(Value::YesNo(true)),
            "0" | "n" | "no" | "false" | "否" | "无" => Ok(Value::YesNo(false)),
            _ => Err(problem(
                field.key,
                format!("{zh}应填“是”或“否”。"),
                format!("{en} must be yes or no."),
            )),
        },
        FieldKind::Text { max_chars } => {
            let n = text.chars().count();
            if n > *max_chars {
                Err(problem(
                    field.key,
                    format!("{zh}不能超过 {max_chars} 个字（现有 {n} 个）。"),
                    format!("{en} must be at most {max_chars} characters (it has {n})."),
                ))
            } else {
                Ok(Value::Text(text.to_owned()))
            }
        }
        FieldKind::Date => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Value::Date)
            .map_err(|_| {
                problem(
                    field.key,
                    format!("{zh}应为日期，如 2025-03-01。"),
                    format!("{en} must be a date such as 2025-03-01."),
                )
            }),
    }
}

fn find_code(
    field: &FieldDef,
    set: &'static [Code],
    text: &str,
) -> Result<&'static str, FieldProblem> {
    set.iter()
        .find(|c| c.0 == text)
        .map(|c| c.0)
        .ok_or_else(|| {
            problem(
                field.key,
                format!("“{text}”不是{}的选项。", field.label_zh),
                format!("“{text}” is not an option of {}.", field.label_en),
            )
        })
}

/// A non-negative decimal as typed: full-width digits and 。/． read as ASCII; signs,
/// exponents and commas refused.
fn read_number(text: &str) -> Option<f64> {
    let normal: String = text
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            '。' | '．' => '.',
            other => other,
        })
        .collect();
    if normal.is_empty() || !normal.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    normal.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A visit's date must be on or after the subject's birth and not after `today`.
pub fn check_visit_date(
    subject: &Subject,
    visit_date: NaiveDate,
    today: NaiveDate,
) -> Result<(), FieldProblem> {
    if let Some(birth) = subject.birth_date
        && visit_date < birth
    {
        return Err(problem(
            "visit_date",
            format!("随访日期 {visit_date} 早于出生日期 {birth}，请核对。"),
            format!("The visit date {visit_date} is before the birth date {birth}; check it."),
        ));
    }
    if visit_date > today {
        return Err(problem(
            "visit_date",
            format!("随访日期 {visit_date} 晚于今天 {today}，请核对。"),
            format!("The visit date {visit_date} is after today ({today}); check it."),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNS: &[Code] = &[
        ("1", "头痛", "headache"),
        ("2", "头晕", "dizziness"),
        ("3", "胸闷", "chest tightness"),
    ];

    fn form() -> VisitForm {
        VisitForm {
            code: "test",
            name_zh: "测试表",
            name_en: "Test form",
            fields: vec![
                FieldDef::number(
                    "sys",
                    "收缩压",
                    "Systolic pressure",
                    Range::new(60.0, 280.0),
                    "mmHg",
                    "mmHg",
                )
                .required(),
                FieldDef::number(
                    "dia",
                    "舒张压",
                    "Diastolic pressure",
                    Range::new(30.0, 180.0),
                    "mmHg",
                    "mmHg",
                )
                .required(),
                FieldDef::codes("signs", "症状", "Symptoms", SIGNS),
                FieldDef::code("grade", "分级", "Grade", SIGNS),
                FieldDef::yes_no("smoker", "吸烟", "Smoker"),
                FieldDef::text("note", "备注", "Note", 5),
                FieldDef::date("next", "下次随访日期", "Next visit date"),
            ],
            checks: vec![Check::Below {
                lower: "dia",
                upper: "sys",
            }],
        }
    }

    /// The keys with problems.
    #[track_caller]
    fn check(answers: &[(&str, &str)], expect: &[&str]) {
        let got: Vec<String> = match validate(&form(), answers) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.into_iter().map(|p| p.key).collect(),
        };
        assert_eq!(got, expect, "{answers:?}");
    }

    #[test]
    fn typed_answers_are_read() {
        let ok = validate(
            &form(),
            &[
                ("sys", "１３５"),
                ("dia", " 85。5 "),
                ("signs", "3"),
                ("signs", "1"),
                ("signs", "3"),
                ("grade", "2"),
                ("smoker", "否"),
                ("note", "按时服药"),
                ("next", "2026-03-01"),
            ],
        )
        .unwrap();
        assert_eq!(ok.number("sys"), Some(135.0));
        assert_eq!(ok.number("dia"), Some(85.5));
        assert_eq!(ok.codes("signs"), ["1", "3"]);
        assert_eq!(ok.code("grade"), Some("2"));
        assert_eq!(ok.yes("smoker"), Some(false));
        assert_eq!(ok.text("note"), Some("按时服药"));
        assert_eq!(
            ok.date("next"),
            Some(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap())
        );
        assert_eq!(ok.iter().count(), 7);
        // Empty optional fields are absent.
        let ok = validate(&form(), &[("sys", "120"), ("dia", "80"), ("note", "  ")]).unwrap();
        assert_eq!(ok.text("note"), None);
        assert!(ok.codes("signs").is_empty());
    }

    #[test]
    fn each_kind_of_bad_answer_is_reported_at_its_field() {
        let bp = [("sys", "120"), ("dia", "80")];
        let with = |extra: (&'static str, &'static str)| {
            let mut v = bp.to_vec();
            v.push(extra);
            v
        };
        check(&[], &["sys", "dia"]);
        check(&[("sys", "400"), ("dia", "20")], &["sys", "dia"]);
        check(&[("sys", "80"), ("dia", "120")], &["dia"]);
        check(&[("sys", "120"), ("dia", "120")], &["dia"]);
        // Out of range is reported once, not again as "not below".
        check(&[("sys", "300"), ("dia", "90")], &["sys"]);
        check(&[("sys", "-120"), ("dia", "80")], &["sys"]);
        check(&[("sys", "1e2"), ("dia", "80")], &["sys"]);
        check(&[("sys", "120"), ("sys", "130"), ("dia", "80")], &["sys"]);
        check(&with(("signs", "9")), &["signs"]);
        check(&with(("grade", "1 2")), &["grade"]);
        check(&with(("smoker", "maybe")), &["smoker"]);
        check(&with(("note", "一二三四五六")), &["note"]);
        check(&with(("next", "2026/03/01")), &["next"]);
        check(&with(("next", "2026-02-30")), &["next"]);
        check(&with(("weight", "60")), &["weight"]);
        check(&with(("note", "一二三四五")), &[]);
    }

    #[test]
    fn messages_are_bilingual_and_name_the_range() {
        let problems = validate(&form(), &[("sys", "400"), ("dia", "90"), ("x", "1")]).unwrap_err();
        assert_eq!(problems[0].message_en, "“x” is not a field of this form.");
        assert_eq!(
            problems[1].message_zh,
            "收缩压 400 mmHg 超出合理范围（60–280 mmHg），请核对。"
        );
        assert_eq!(
            problems[1].message_en,
            "Systolic pressure 400 mmHg is outside the plausible range 60–280 mmHg; check it."
        );
        let swapped = validate(&form(), &[("sys", "80"), ("dia", "120")]).unwrap_err();
        assert_eq!(
            swapped[0].message_zh,
            "舒张压 120 应低于收缩压 80，请核对是否填反。"
        );
        assert_eq!(
            problems[1].to_string(),
            format!("sys: {}", problems[1].message_en)
        );
    }

    #[test]
    fn a_visit_date_before_birth_or_in_the_future_is_refused() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let s = Subject {
            birth_date: Some(d(2025, 3, 1)),
            ..Subject::default()
        };
        let today = d(2026, 1, 1);
        assert!(check_visit_date(&s, d(2025, 3, 1), today).is_ok());
        let before = check_visit_date(&s, d(2025, 2, 28), today).unwrap_err();
        assert_eq!(before.key, "visit_date");
        assert!(before.message_zh.contains("早于出生日期"));
        assert!(check_visit_date(&s, d(2026, 1, 2), today).is_err());
        assert!(check_visit_date(&Subject::default(), d(1900, 1, 1), today).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn validate_never_panics(
            answers in proptest::collection::vec(
                (proptest::prop_oneof![
                    proptest::strategy::Just("sys".to_owned()),
                    proptest::strategy::Just("dia".to_owned()),
                    proptest::strategy::Just("signs".to_owned()),
                    proptest::strategy::Just("smoker".to_owned()),
                    proptest::strategy::Just("next".to_owned()),
                    "\\PC{0,6}",
                ], "\\PC{0,12}"),
                0..8,
            )
        ) {
            let pairs: Vec<(&str, &str)> = answers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            match validate(&form(), &pairs) {
                Ok(ok) => {
                    proptest::prop_assert!(ok.number("sys").is_some());
                    for (key, _) in ok.iter() {
                        proptest::prop_assert!(form().field(key).is_some());
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
    }
}
