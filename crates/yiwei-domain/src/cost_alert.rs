//! 防返贫监测预警: the monthly medical-cost alerts that send a township to a household.
//!
//! Every institution of the county submits a charge per visit (total cost, the part the
//! insurance funds paid, the out-of-pocket part, all in fen). Once a month the charges of
//! each resident are summed over a window and compared with the rules; a hit is an alert
//! for the township, which visits the household (入户核查) and records what it found.
//!
//! What is here, all pure: checking a submitted [`Charge`]; the [`Rule`]s as data and the
//! check of a rule edit; the default rules; [`evaluate`], the comparison of one resident's
//! [`Aggregate`] with a rule (the monthly job runs the same comparison as set-based SQL, and
//! the store's conformance tests hold the two to the same answers); the [`Month`] and its
//! window; and the household-check workflow ([`CheckOutcome`], [`AlertStatus::after_check`]).
//!
//! Sources and choices (`shared/domain.md` §8):
//! - The default thresholds (脱贫户 and 监测对象 total cost above 10,000 yuan; other residents
//!   out-of-pocket above 20,000 yuan, monthly) are local practice from the reviews, **not a
//!   national text**; hence rules are data that the county edits, with history.
//! - "Above" is strict: exactly 10,000.00 yuan raises nothing.
//! - The cost basis is 总费用, 自付 (everything the patient paid) or 政策范围内自付. A charge
//!   that does not carry the policy-scope amount counts with its whole out-of-pocket part,
//!   which can only raise more alerts, never hide one.
//! - A window of N months is the alert month and the N−1 months before it, by visit date in
//!   county time (UTC+8).
//! - Population: 脱贫人口 and 防返贫监测对象 (风险未消除) are the key groups
//!   [`crate::key_group::KeyGroup::PovertyAlleviated`] and
//!   [`crate::key_group::KeyGroup::MonitoredHousehold`]; everyone else is "other".
//!
//! What is not here: matching a charge to a resident (the master patient index does that),
//! and money owed or paid back (医疗救助 is applied for outside the platform; the check only
//! records that it was).

use chrono::{Datelike, Months, NaiveDate};

/// An amount of money in fen (分); 100 fen are one yuan.
pub type Fen = i64;

/// The largest single charge accepted: 5,000,000 yuan. A long intensive-care stay costs
/// hundreds of thousands of yuan; more than this is a unit mistake (yuan sent as fen × 100).
pub const MAX_CHARGE_FEN: Fen = 500_000_000;

/// The earliest visit date accepted. Older charges cannot matter to a monthly alert and are
/// usually a date typed wrong.
pub fn earliest_visit_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date")
}

/// Kind of visit, as the institution reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VisitKind {
    /// 门诊.
    Outpatient,
    /// 住院.
    Inpatient,
    /// 其他 (pharmacy, home care).
    Other,
}

impl VisitKind {
    pub const ALL: [VisitKind; 3] = [
        VisitKind::Outpatient,
        VisitKind::Inpatient,
        VisitKind::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            VisitKind::Outpatient => "outpatient",
            VisitKind::Inpatient => "inpatient",
            VisitKind::Other => "other",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            VisitKind::Outpatient => "门诊",
            VisitKind::Inpatient => "住院",
            VisitKind::Other => "其他",
        }
    }

    pub fn parse(code: &str) -> Option<VisitKind> {
        let code = code.trim();
        if code.is_empty() {
            return Some(VisitKind::Outpatient);
        }
        VisitKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// The amounts of one visit as submitted, before checking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChargeInput {
    pub visit_date: NaiveDate,
    pub kind: VisitKind,
    pub total_fen: Fen,
    pub insurance_paid_fen: Fen,
    pub out_of_pocket_fen: Fen,
    /// 政策范围内自付, when the institution's system carries it.
    pub policy_out_of_pocket_fen: Option<Fen>,
}

/// A checked charge: every amount non-negative and at most [`MAX_CHARGE_FEN`], paid plus
/// out-of-pocket at most the total, policy-scope out-of-pocket at most the out-of-pocket
/// part, and a visit date between [`earliest_visit_date`] and today.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charge(ChargeInput);

impl Charge {
    /// Check `input` as of `today` (county time). Returns every problem, one per field.
    pub fn parse(input: ChargeInput, today: NaiveDate) -> Result<Charge, Vec<ChargeError>> {
        let mut problems = Vec::new();
        let amounts = [
            (ChargeField::Total, Some(input.total_fen)),
            (ChargeField::InsurancePaid, Some(input.insurance_paid_fen)),
            (ChargeField::OutOfPocket, Some(input.out_of_pocket_fen)),
            (
                ChargeField::PolicyOutOfPocket,
                input.policy_out_of_pocket_fen,
            ),
        ];
        for (field, value) in amounts {
            match value {
                Some(v) if v < 0 => problems.push(ChargeError::Negative(field)),
                Some(v) if v > MAX_CHARGE_FEN => problems.push(ChargeError::TooLarge(field)),
                _ => {}
            }
        }
        if problems.is_empty() {
            if input
                .insurance_paid_fen
                .checked_add(input.out_of_pocket_fen)
                .is_none_or(|sum| sum > input.total_fen)
            {
                problems.push(ChargeError::PartsExceedTotal);
            }
            if input
                .policy_out_of_pocket_fen
                .is_some_and(|p| p > input.out_of_pocket_fen)
            {
                problems.push(ChargeError::PolicyExceedsOutOfPocket);
            }
        }
        if input.visit_date > today {
            problems.push(ChargeError::FutureDate);
        } else if input.visit_date < earliest_visit_date() {
            problems.push(ChargeError::TooOld);
        }
        if problems.is_empty() {
            Ok(Charge(input))
        } else {
            Err(problems)
        }
    }

    pub fn input(&self) -> &ChargeInput {
        &self.0
    }

    pub fn into_input(self) -> ChargeInput {
        self.0
    }
}

/// A field of a charge, for error messages next to the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChargeField {
    VisitDate,
    Total,
    InsurancePaid,
    OutOfPocket,
    PolicyOutOfPocket,
}

impl ChargeField {
    /// The column name used by the import and the form.
    pub fn code(self) -> &'static str {
        match self {
            ChargeField::VisitDate => "visit_date",
            ChargeField::Total => "total_fen",
            ChargeField::InsurancePaid => "insurance_paid_fen",
            ChargeField::OutOfPocket => "out_of_pocket_fen",
            ChargeField::PolicyOutOfPocket => "policy_out_of_pocket_fen",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            ChargeField::VisitDate => "就诊日期",
            ChargeField::Total => "总费用",
            ChargeField::InsurancePaid => "医保支付",
            ChargeField::OutOfPocket => "个人自付",
            ChargeField::PolicyOutOfPocket => "政策范围内自付",
        }
    }
}

/// What is wrong with a submitted charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChargeError {
    #[error("{}（{}）不能为负数 / {} must not be negative", .0.name_zh(), .0.code(), .0.code())]
    Negative(ChargeField),
    #[error(
        "{}（{}）超过单次就诊上限 5,000,000 元，请检查单位是否为分 / {} is above 5,000,000 yuan for one visit: amounts are in fen",
        .0.name_zh(), .0.code(), .0.code()
    )]
    TooLarge(ChargeField),
    #[error(
        "医保支付加个人自付超过总费用 / insurance_paid_fen + out_of_pocket_fen is more than total_fen"
    )]
    PartsExceedTotal,
    #[error("政策范围内自付超过个人自付 / policy_out_of_pocket_fen is more than out_of_pocket_fen")]
    PolicyExceedsOutOfPocket,
    #[error("就诊日期在今天之后 / visit_date is in the future")]
    FutureDate,
    #[error("就诊日期早于 2000-01-01 / visit_date is before 2000-01-01")]
    TooOld,
}

impl ChargeError {
    /// The field the message belongs next to.
    pub fn field(self) -> ChargeField {
        match self {
            ChargeError::Negative(f) | ChargeError::TooLarge(f) => f,
            ChargeError::PartsExceedTotal => ChargeField::Total,
            ChargeError::PolicyExceedsOutOfPocket => ChargeField::PolicyOutOfPocket,
            ChargeError::FutureDate | ChargeError::TooOld => ChargeField::VisitDate,
        }
    }
}

/// Parse an amount in fen written as digits (the import and FHIR carry fen).
pub fn parse_fen(text: &str) -> Option<Fen> {
    let t = text.trim();
    if t.is_empty() || t.len() > 15 {
        return None;
    }
    t.parse::<i64>().ok()
}

/// Parse an amount in yuan as a person types it ("10000", "10,000", "12345.6", "0.05")
/// into fen. At most two decimals; no sign.
pub fn parse_yuan(text: &str) -> Option<Fen> {
    let t: String = text
        .trim()
        .chars()
        .filter(|c| *c != ',' && *c != '，')
        .collect();
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, f),
        None => (t.as_str(), ""),
    };
    if whole.is_empty() && frac.is_empty()
        || whole.len() > 12
        || frac.len() > 2
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(frac)
}

/// Format fen as yuan with two decimals and thousands separators: `1,234,567.89`.
pub fn format_yuan(fen: Fen) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", abs % 100)
}

// ---------------------------------------------------------------------------------------
// Months and windows

/// A calendar month in county time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((1..=12).contains(&month) && (2000..=2999).contains(&year))
            .then_some(Month { year, month })
    }

    /// Parse `YYYY-MM`.
    pub fn parse(text: &str) -> Option<Month> {
        let (y, m) = text.trim().split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        Month::new(y.parse().ok()?, m.parse().ok()?)
    }

    pub fn of(date: NaiveDate) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// The month before the one `today` falls in: the month the job runs for.
    pub fn previous_of(today: NaiveDate) -> Month {
        Month::of(today).minus(1)
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("valid month")
    }

    pub fn last_day(self) -> NaiveDate {
        self.plus(1).first_day().pred_opt().expect("valid date")
    }

    pub fn plus(self, n: u32) -> Month {
        Month::of(self.first_day() + Months::new(n))
    }

    pub fn minus(self, n: u32) -> Month {
        Month::of(self.first_day() - Months::new(n))
    }

    /// First and last day of the `window_months` months ending with this one.
    pub fn window(self, window_months: u8) -> (NaiveDate, NaiveDate) {
        let n = u32::from(window_months.max(1));
        (self.minus(n - 1).first_day(), self.last_day())
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

// ---------------------------------------------------------------------------------------
// Rules

/// Who a rule looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Population {
    /// 脱贫人口 or 防返贫监测对象.
    PovertyOrMonitored,
    /// Everyone else (一般人群).
    Others,
    /// Everyone.
    Everyone,
}

impl Population {
    pub const ALL: [Population; 3] = [
        Population::PovertyOrMonitored,
        Population::Others,
        Population::Everyone,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Population::PovertyOrMonitored => "poverty_or_monitored",
            Population::Others => "others",
            Population::Everyone => "everyone",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Population::PovertyOrMonitored => "脱贫人口及监测对象",
            Population::Others => "一般人群",
            Population::Everyone => "全部居民",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Population::PovertyOrMonitored => "lifted out of poverty or monitored",
            Population::Others => "other residents",
            Population::Everyone => "all residents",
        }
    }

    pub fn parse(code: &str) -> Option<Population> {
        Population::ALL
            .into_iter()
            .find(|p| p.code() == code.trim())
    }

    /// Whether a resident of `group` is in this population.
    pub fn includes(self, group: ResidentGroup) -> bool {
        match self {
            Population::PovertyOrMonitored => group == ResidentGroup::PovertyOrMonitored,
            Population::Others => group == ResidentGroup::Other,
            Population::Everyone => true,
        }
    }
}

/// Which of the two groups a resident is in, from their key groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResidentGroup {
    PovertyOrMonitored,
    Other,
}

impl ResidentGroup {
    /// The group of a resident with these stored key-group codes (`resident.key_groups`).
    pub fn from_key_groups<'a>(codes: impl IntoIterator<Item = &'a str>) -> ResidentGroup {
        use crate::key_group::KeyGroup;
        let poor = codes.into_iter().any(|c| {
            matches!(
                KeyGroup::parse(c),
                Some(KeyGroup::PovertyAlleviated | KeyGroup::MonitoredHousehold)
            )
        });
        if poor {
            ResidentGroup::PovertyOrMonitored
        } else {
            ResidentGroup::Other
        }
    }
}

/// Which amount a rule sums.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CostBasis {
    /// 总费用.
    Total,
    /// 个人自付 (everything the patient paid).
    OutOfPocket,
    /// 政策范围内自付; a charge without it counts its whole out-of-pocket part.
    PolicyOutOfPocket,
}

impl CostBasis {
    pub const ALL: [CostBasis; 3] = [
        CostBasis::Total,
        CostBasis::OutOfPocket,
        CostBasis::PolicyOutOfPocket,
    ];

    pub fn code(self) -> &'static str {
        match self {
            CostBasis::Total => "total",
            CostBasis::OutOfPocket => "out_of_pocket",
            CostBasis::PolicyOutOfPocket => "policy_out_of_pocket",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            CostBasis::Total => "医疗总费用",
            CostBasis::OutOfPocket => "个人自付费用",
            CostBasis::PolicyOutOfPocket => "政策范围内自付费用",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            CostBasis::Total => "total cost",
            CostBasis::OutOfPocket => "out-of-pocket",
            CostBasis::PolicyOutOfPocket => "policy-scope out-of-pocket",
        }
    }

    pub fn parse(code: &str) -> Option<CostBasis> {
        CostBasis::ALL.into_iter().find(|b| b.code() == code.trim())
    }

    /// The amount of one charge this basis counts.
    pub fn amount_of(self, charge: &ChargeInput) -> Fen {
        match self {
            CostBasis::Total => charge.total_fen,
            CostBasis::OutOfPocket => charge.out_of_pocket_fen,
            CostBasis::PolicyOutOfPocket => charge
                .policy_out_of_pocket_fen
                .unwrap_or(charge.out_of_pocket_fen),
        }
    }
}

/// The smallest threshold a rule may have: 1,000 yuan. Below it nearly every inpatient
/// stay raises an alert and the townships drown.
pub const MIN_THRESHOLD_FEN: Fen = 100_000;
/// The largest threshold: 1,000,000 yuan.
pub const MAX_THRESHOLD_FEN: Fen = 100_000_000;
/// The longest window: a year.
pub const MAX_WINDOW_MONTHS: u8 = 12;

/// An alert rule (预警规则).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable ASCII code, `[a-z0-9_]`, 1–40 characters.
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub population: Population,
    pub basis: CostBasis,
    /// Alert when the sum is strictly above this.
    pub threshold_fen: Fen,
    /// 1 = the month itself; N = the month and the N−1 before it.
    pub window_months: u8,
    pub active: bool,
}

/// The rules when the county has set none (the reviews' practice, `domain.md` §8).
pub fn default_rules() -> Vec<Rule> {
    vec![
        Rule {
            code: "poverty_total".into(),
            name_zh: "脱贫人口及监测对象医疗总费用超过1万元".into(),
            name_en: "Lifted out of poverty or monitored: total cost above 10,000 yuan".into(),
            population: Population::PovertyOrMonitored,
            basis: CostBasis::Total,
            threshold_fen: 1_000_000,
            window_months: 1,
            active: true,
        },
        Rule {
            code: "others_out_of_pocket".into(),
            name_zh: "一般人群个人自付费用超过2万元".into(),
            name_en: "Other residents: out-of-pocket above 20,000 yuan".into(),
            population: Population::Others,
            basis: CostBasis::OutOfPocket,
            threshold_fen: 2_000_000,
            window_months: 1,
            active: true,
        },
    ]
}

/// A field of a rule, for messages next to the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleField {
    Code,
    NameZh,
    Population,
    Basis,
    Threshold,
    Window,
}

impl RuleField {
    pub fn code(self) -> &'static str {
        match self {
            RuleField::Code => "code",
            RuleField::NameZh => "name_zh",
            RuleField::Population => "population",
            RuleField::Basis => "basis",
            RuleField::Threshold => "threshold",
            RuleField::Window => "window_months",
        }
    }
}

/// What is wrong with a rule edit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error(
        "规则代码只能用小写字母、数字和下划线，1–40 个字符 / code: lower-case letters, digits and _ only, 1-40 characters"
    )]
    BadCode,
    #[error("请填写规则名称（不超过 80 字）/ give the rule a name (at most 80 characters)")]
    BadName,
    #[error("未知的人群 / unknown population: {0}")]
    UnknownPopulation(String),
    #[error("未知的费用口径 / unknown cost basis: {0}")]
    UnknownBasis(String),
    #[error("阈值请填写元，如 10000 或 10000.50 / threshold: give yuan, e.g. 10000 or 10000.50")]
    ThresholdNotANumber,
    #[error(
        "阈值须在 1,000 元至 1,000,000 元之间 / threshold must be between 1,000 and 1,000,000 yuan"
    )]
    ThresholdOutOfRange,
    #[error("统计窗口须为 1–12 个月 / the window must be 1 to 12 months")]
    BadWindow,
}

impl RuleError {
    pub fn field(&self) -> RuleField {
        match self {
            RuleError::BadCode => RuleField::Code,
            RuleError::BadName => RuleField::NameZh,
            RuleError::UnknownPopulation(_) => RuleField::Population,
            RuleError::UnknownBasis(_) => RuleField::Basis,
            RuleError::ThresholdNotANumber | RuleError::ThresholdOutOfRange => RuleField::Threshold,
            RuleError::BadWindow => RuleField::Window,
        }
    }
}

/// A rule as typed on the rules page or in `yiwei.toml`: text, threshold in yuan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleForm {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub population: String,
    pub basis: String,
    pub threshold_yuan: String,
    pub window_months: String,
    pub active: bool,
}

impl RuleForm {
    pub fn of(rule: &Rule) -> RuleForm {
        RuleForm {
            code: rule.code.clone(),
            name_zh: rule.name_zh.clone(),
            name_en: rule.name_en.clone(),
            population: rule.population.code().into(),
            basis: rule.basis.code().into(),
            threshold_yuan: format!("{}", rule.threshold_fen as f64 / 100.0),
            window_months: rule.window_months.to_string(),
            active: rule.active,
        }
    }

    /// Check the form; every problem, one per field.
    pub fn parse(&self) -> Result<Rule, Vec<RuleError>> {
        let mut problems = Vec::new();
        let code = self.code.trim();
        if code.is_empty()
            || code.len() > 40
            || !code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            problems.push(RuleError::BadCode);
        }
        let name_zh = self.name_zh.trim();
        if name_zh.is_empty() || name_zh.chars().count() > 80 || self.name_en.chars().count() > 120
        {
            problems.push(RuleError::BadName);
        }
        let population = Population::parse(&self.population);
        if population.is_none() {
            problems.push(RuleError::UnknownPopulation(self.population.clone()));
        }
        let basis = CostBasis::parse(&self.basis);
        if basis.is_none() {
            problems.push(RuleError::UnknownBasis(self.basis.clone()));
        }
        let threshold = parse_yuan(&self.threshold_yuan);
        match threshold {
            None => problems.push(RuleError::ThresholdNotANumber),
            Some(t) if !(MIN_THRESHOLD_FEN..=MAX_THRESHOLD_FEN).contains(&t) => {
                problems.push(RuleError::ThresholdOutOfRange);
            }
            Some(_) => {}
        }
        let window = self
            .window_months
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|w| (1..=MAX_WINDOW_MONTHS).contains(w));
        if window.is_none() {
            problems.push(RuleError::BadWindow);
        }
        match (population, basis, threshold, window) {
            (Some(population), Some(basis), Some(threshold_fen), Some(window_months))
                if problems.is_empty() =>
            {
                Ok(Rule {
                    code: code.to_owned(),
                    name_zh: name_zh.to_owned(),
                    name_en: self.name_en.trim().to_owned(),
                    population,
                    basis,
                    threshold_fen,
                    window_months,
                    active: self.active,
                })
            }
            _ => Err(problems),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Evaluation

/// One resident's charges summed over a rule's window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Aggregate {
    pub n_charges: i64,
    pub total_fen: Fen,
    pub out_of_pocket_fen: Fen,
    /// Σ policy-scope out-of-pocket, each charge without it counted with its out-of-pocket.
    pub policy_out_of_pocket_fen: Fen,
}

impl Aggregate {
    /// Sum the charges whose visit date falls in `[from, to]`.
    pub fn of<'a>(
        charges: impl IntoIterator<Item = &'a ChargeInput>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Aggregate {
        let mut a = Aggregate::default();
        for c in charges {
            if c.visit_date < from || c.visit_date > to {
                continue;
            }
            a.n_charges += 1;
            a.total_fen += c.total_fen;
            a.out_of_pocket_fen += c.out_of_pocket_fen;
            a.policy_out_of_pocket_fen += CostBasis::PolicyOutOfPocket.amount_of(c);
        }
        a
    }

    pub fn amount(&self, basis: CostBasis) -> Fen {
        match basis {
            CostBasis::Total => self.total_fen,
            CostBasis::OutOfPocket => self.out_of_pocket_fen,
            CostBasis::PolicyOutOfPocket => self.policy_out_of_pocket_fen,
        }
    }
}

/// A rule's hit on one resident.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub amount_fen: Fen,
    pub threshold_fen: Fen,
}

/// Whether a resident of `group`, with `aggregate` summed over `rule`'s window, raises an
/// alert under `rule`. Inactive rules raise nothing.
pub fn evaluate(rule: &Rule, group: ResidentGroup, aggregate: &Aggregate) -> Option<Hit> {
    if !rule.active || !rule.population.includes(group) || aggregate.n_charges == 0 {
        return None;
    }
    let amount_fen = aggregate.amount(rule.basis);
    (amount_fen > rule.threshold_fen).then_some(Hit {
        amount_fen,
        threshold_fen: rule.threshold_fen,
    })
}

// ---------------------------------------------------------------------------------------
// Household check (入户核查)

/// Where an alert stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlertStatus {
    /// 待核查: raised, nobody has been yet.
    Open,
    /// 核查中: a visit was made but the household could not be reached; try again.
    Checking,
    /// 已办结: checked, with an outcome.
    Closed,
}

impl AlertStatus {
    pub const ALL: [AlertStatus; 3] = [
        AlertStatus::Open,
        AlertStatus::Checking,
        AlertStatus::Closed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Checking => "checking",
            AlertStatus::Closed => "closed",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            AlertStatus::Open => "待核查",
            AlertStatus::Checking => "核查中",
            AlertStatus::Closed => "已办结",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            AlertStatus::Open => "to check",
            AlertStatus::Checking => "being checked",
            AlertStatus::Closed => "closed",
        }
    }

    pub fn parse(code: &str) -> Option<AlertStatus> {
        AlertStatus::ALL
            .into_iter()
            .find(|s| s.code() == code.trim())
    }

    /// The status after a check with `outcome`, or why the check cannot be recorded.
    pub fn after_check(self, outcome: CheckOutcome) -> Result<AlertStatus, CheckError> {
        match self {
            AlertStatus::Closed => Err(CheckError::AlreadyClosed),
            AlertStatus::Open | AlertStatus::Checking => Ok(if outcome.closes() {
                AlertStatus::Closed
            } else {
                AlertStatus::Checking
            }),
        }
    }

    /// The status after the county reopens a closed alert (a check found wanting).
    pub fn after_reopen(self) -> Result<AlertStatus, CheckError> {
        match self {
            AlertStatus::Closed => Ok(AlertStatus::Checking),
            _ => Err(CheckError::NotClosed),
        }
    }
}

/// What a household check found (核查结果).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckOutcome {
    /// 已申请医疗救助或帮扶: the household applied for medical assistance or support.
    AssistanceApplied,
    /// 已享受保障政策: already covered (先诊疗后付费, 一站式结算, 大病保险 …).
    AlreadyCovered,
    /// 纳入防返贫监测: the household is proposed as a monitoring object.
    ProposedForMonitoring,
    /// 经核查无需帮扶: no risk of returning to poverty.
    NotNeeded,
    /// 已迁出.
    MovedAway,
    /// 已死亡.
    Deceased,
    /// 未能联系: nobody reached; the alert stays open for another visit.
    CouldNotReach,
}

impl CheckOutcome {
    pub const ALL: [CheckOutcome; 7] = [
        CheckOutcome::AssistanceApplied,
        CheckOutcome::AlreadyCovered,
        CheckOutcome::ProposedForMonitoring,
        CheckOutcome::NotNeeded,
        CheckOutcome::MovedAway,
        CheckOutcome::Deceased,
        CheckOutcome::CouldNotReach,
    ];

    pub fn code(self) -> &'static str {
        match self {
            CheckOutcome::AssistanceApplied => "assistance_applied",
            CheckOutcome::AlreadyCovered => "already_covered",
            CheckOutcome::ProposedForMonitoring => "proposed_for_monitoring",
            CheckOutcome::NotNeeded => "not_needed",
            CheckOutcome::MovedAway => "moved_away",
            CheckOutcome::Deceased => "deceased",
            CheckOutcome::CouldNotReach => "could_not_reach",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            CheckOutcome::AssistanceApplied => "已申请医疗救助/帮扶",
            CheckOutcome::AlreadyCovered => "已享受保障政策",
            CheckOutcome::ProposedForMonitoring => "拟纳入防返贫监测",
            CheckOutcome::NotNeeded => "经核查无需帮扶",
            CheckOutcome::MovedAway => "已迁出",
            CheckOutcome::Deceased => "已死亡",
            CheckOutcome::CouldNotReach => "未能联系",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            CheckOutcome::AssistanceApplied => "assistance applied for",
            CheckOutcome::AlreadyCovered => "already covered",
            CheckOutcome::ProposedForMonitoring => "proposed for monitoring",
            CheckOutcome::NotNeeded => "no help needed",
            CheckOutcome::MovedAway => "moved away",
            CheckOutcome::Deceased => "deceased",
            CheckOutcome::CouldNotReach => "could not reach",
        }
    }

    pub fn parse(code: &str) -> Option<CheckOutcome> {
        CheckOutcome::ALL
            .into_iter()
            .find(|o| o.code() == code.trim())
    }

    /// Whether this outcome ends the check.
    pub fn closes(self) -> bool {
        self != CheckOutcome::CouldNotReach
    }

    /// Whether a note is required: "no help needed" and "could not reach" must say why.
    pub fn needs_note(self) -> bool {
        matches!(self, CheckOutcome::NotNeeded | CheckOutcome::CouldNotReach)
    }
}

/// The longest note on a check.
pub const MAX_NOTE_CHARS: usize = 1000;

/// Why a check cannot be recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error(
        "该预警已办结，不能再登记核查 / this alert is closed; no further check can be recorded"
    )]
    AlreadyClosed,
    #[error("只有已办结的预警可以退回重查 / only a closed alert can be reopened")]
    NotClosed,
    #[error("请选择核查结果 / choose the outcome of the check")]
    UnknownOutcome,
    #[error("此结果须填写说明 / this outcome needs a note saying why")]
    NoteRequired,
    #[error("说明不超过 1000 字 / the note is limited to 1000 characters")]
    NoteTooLong,
    #[error(
        "核查日期不能晚于今天，也不能早于预警月份 / the check date cannot be after today or before the alert month"
    )]
    BadDate,
}

/// A household check as entered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckInput {
    pub outcome: CheckOutcome,
    pub note: String,
    pub checked_on: NaiveDate,
}

/// Check a household-check entry against an alert of `month` in `status`, as of `today`;
/// returns the status after it.
pub fn record_check(
    status: AlertStatus,
    month: Month,
    input: &CheckInput,
    today: NaiveDate,
) -> Result<AlertStatus, CheckError> {
    let next = status.after_check(input.outcome)?;
    let note = input.note.trim();
    if input.outcome.needs_note() && note.is_empty() {
        return Err(CheckError::NoteRequired);
    }
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(CheckError::NoteTooLong);
    }
    if input.checked_on > today || input.checked_on < month.first_day() {
        return Err(CheckError::BadDate);
    }
    Ok(next)
}

#[cfg(test)]
mod tests;
