//! 家庭医生签约服务: family-doctor teams, service packages, contracts and their rules.
//!
//! What the rules say (`shared/domain.md` §2, from the national guidance on family-doctor
//! contracted services and the 2022 高质量发展意见):
//! - a **team** is led by a family doctor (a general practitioner or a qualified 乡村医生)
//!   with nurses, public-health staff and village doctors, optionally specialists of a
//!   higher hospital ("1+1+N") \[S\];
//! - a **contract** ties one resident to one family doctor at a time, for **in principle at
//!   least one year**, renewed or switched at its end \[S\]; it carries a service package
//!   (基础性签约服务 and 个性化服务包) \[S\];
//! - the **indicators** are 签约服务覆盖率 = 签约人数 / 常住人口数, 重点人群签约服务覆盖率 =
//!   重点人群签约人数 / 重点人群总数 \[M\] and 续签率 \[S code\];
//! - **履约** (fulfilment) has no national formula (unconfirmed): here a package item is
//!   fulfilled when its yearly count of services was delivered in the contract year.
//!
//! Local practice, not national text, and therefore configuration ([`PeriodRules`]): the
//! renewal window (30 days before the end by default), the longest period accepted (five
//! years, to catch typing errors), and the shortest termination reason.
//!
//! Dates here are the county's calendar dates. A contract's `ends_on` is its **last day**
//! in force (a one-year contract from 2026-01-01 ends on 2026-12-31), and `ended_on`, when
//! a contract stopped early (terminated or transferred), is likewise the last day it was
//! in force.
//!
//! This module decides; it stores nothing. `yiwei-store::contract` keeps the rows and asks
//! these functions.

use chrono::{Datelike, Duration, Months, NaiveDate};

use crate::key_group::{self, KeyGroup};

/// 团队角色: a member's role in a family-doctor team.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TeamRole {
    /// 团队长 / 家庭医生 (the lead doctor).
    Lead,
    /// 家庭医生 (a doctor of the team).
    Doctor,
    /// 护士.
    Nurse,
    /// 公卫人员 (public-health staff).
    PublicHealth,
    /// 乡村医生.
    VillageDoctor,
    /// 专科医生 (the "N" of 1+1+N, from a higher hospital).
    Specialist,
}

impl TeamRole {
    pub const ALL: [TeamRole; 6] = [
        TeamRole::Lead,
        TeamRole::Doctor,
        TeamRole::Nurse,
        TeamRole::PublicHealth,
        TeamRole::VillageDoctor,
        TeamRole::Specialist,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TeamRole::Lead => "lead",
            TeamRole::Doctor => "doctor",
            TeamRole::Nurse => "nurse",
            TeamRole::PublicHealth => "public_health",
            TeamRole::VillageDoctor => "village_doctor",
            TeamRole::Specialist => "specialist",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            TeamRole::Lead => "团队长（家庭医生）",
            TeamRole::Doctor => "家庭医生",
            TeamRole::Nurse => "护士",
            TeamRole::PublicHealth => "公卫人员",
            TeamRole::VillageDoctor => "乡村医生",
            TeamRole::Specialist => "专科医生",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            TeamRole::Lead => "team lead (family doctor)",
            TeamRole::Doctor => "family doctor",
            TeamRole::Nurse => "nurse",
            TeamRole::PublicHealth => "public-health staff",
            TeamRole::VillageDoctor => "village doctor",
            TeamRole::Specialist => "specialist",
        }
    }

    pub fn parse(code: &str) -> Option<TeamRole> {
        TeamRole::ALL.into_iter().find(|r| r.code() == code.trim())
    }

    /// Whether a member in this role may be the contract's doctor (签约医生): the family
    /// doctors and qualified village doctors, not nurses, public-health staff or visiting
    /// specialists (`domain.md` §2).
    pub fn may_hold_contracts(self) -> bool {
        matches!(
            self,
            TeamRole::Lead | TeamRole::Doctor | TeamRole::VillageDoctor
        )
    }
}

/// 服务包类型: the basic package every contract carries, or a paid personalised one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PackageKind {
    /// 基础服务包 (basic medical and basic public-health services).
    Basic,
    /// 个性化（有偿）服务包.
    Paid,
}

impl PackageKind {
    pub const ALL: [PackageKind; 2] = [PackageKind::Basic, PackageKind::Paid];

    pub fn code(self) -> &'static str {
        match self {
            PackageKind::Basic => "basic",
            PackageKind::Paid => "paid",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            PackageKind::Basic => "基础包",
            PackageKind::Paid => "个性化服务包",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            PackageKind::Basic => "basic package",
            PackageKind::Paid => "paid package",
        }
    }

    pub fn parse(code: &str) -> Option<PackageKind> {
        PackageKind::ALL
            .into_iter()
            .find(|k| k.code() == code.trim())
    }
}

/// 签约状态.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContractStatus {
    /// 生效中 (or signed and waiting for its start date, after a renewal).
    Active,
    /// 已到期 / 已续约: ran to its end; `replaced_by` set when it was renewed.
    Ended,
    /// 已解约: stopped early, with a reason.
    Terminated,
    /// 已转签: moved to another team or doctor; `replaced_by` is the new contract.
    Transferred,
}

impl ContractStatus {
    pub const ALL: [ContractStatus; 4] = [
        ContractStatus::Active,
        ContractStatus::Ended,
        ContractStatus::Terminated,
        ContractStatus::Transferred,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ContractStatus::Active => "active",
            ContractStatus::Ended => "ended",
            ContractStatus::Terminated => "terminated",
            ContractStatus::Transferred => "transferred",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            ContractStatus::Active => "生效中",
            ContractStatus::Ended => "已到期",
            ContractStatus::Terminated => "已解约",
            ContractStatus::Transferred => "已转签",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            ContractStatus::Active => "active",
            ContractStatus::Ended => "ended",
            ContractStatus::Terminated => "terminated",
            ContractStatus::Transferred => "transferred",
        }
    }

    pub fn parse(s: &str) -> Option<ContractStatus> {
        ContractStatus::ALL
            .into_iter()
            .find(|c| c.as_str() == s.trim())
    }
}

/// Service items a package may list (服务项目), with the programme they come from. The list
/// is local: packages are defined by each county (there is no national code list), so a
/// package may also name an item not in this list; it then shows by its code.
pub const SERVICE_ITEMS: &[(&str, &str, &str)] = &[
    ("health_exam", "健康体检", "health examination"),
    (
        "hypertension_followup",
        "高血压随访",
        "hypertension follow-up",
    ),
    ("diabetes_followup", "糖尿病随访", "diabetes follow-up"),
    (
        "elderly_assessment",
        "老年人健康评估",
        "elderly health assessment",
    ),
    ("tcm_guidance", "中医药健康管理", "TCM health guidance"),
    ("health_education", "健康教育", "health education"),
    ("home_visit", "上门服务", "home visit"),
    ("medication_review", "用药指导", "medication guidance"),
    ("child_checkup", "儿童健康检查", "child health check"),
    ("prenatal_visit", "孕产妇随访", "maternal visit"),
    (
        "mental_followup",
        "严重精神障碍随访",
        "severe mental disorder follow-up",
    ),
    ("referral_priority", "优先转诊", "priority referral"),
];

/// The Chinese and English names of a service item code, if it is a known one.
pub fn service_item_names(code: &str) -> Option<(&'static str, &'static str)> {
    SERVICE_ITEMS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, zh, en)| (*zh, *en))
}

/// One item of a package: a service and how many times a year it is owed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageItem {
    /// ASCII code (letters, digits, `_`), e.g. `hypertension_followup`.
    pub code: String,
    /// Times per contract year (at least 1).
    pub per_year: u32,
}

/// Read package items written one per line as `code count` (or `code×count`, `code*count`,
/// `code:count`); a line with only a code means once a year. Empty lines are skipped.
pub fn parse_items(text: &str) -> Result<Vec<PackageItem>, String> {
    let mut items: Vec<PackageItem> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line
            .split(|c: char| c.is_whitespace() || "×*:：,，".contains(c))
            .filter(|p| !p.is_empty());
        let code = parts.next().unwrap_or_default();
        let count = parts.next();
        if parts.next().is_some() {
            return Err(format!("line {}: write `code count`", n + 1));
        }
        let per_year = match count {
            None => 1,
            Some(c) => c
                .parse::<u32>()
                .ok()
                .filter(|c| (1..=366).contains(c))
                .ok_or_else(|| format!("line {}: the count is a number from 1 to 366", n + 1))?,
        };
        check_item_code(code).map_err(|e| format!("line {}: {e}", n + 1))?;
        if items.iter().any(|i| i.code == code) {
            return Err(format!("line {}: {code} is listed twice", n + 1));
        }
        items.push(PackageItem {
            code: code.to_owned(),
            per_year,
        });
    }
    Ok(items)
}

/// Check a service item code: 1-40 ASCII letters, digits or `_`.
pub fn check_item_code(code: &str) -> Result<(), String> {
    let ok = (1..=40).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "service item code {code:?} must be 1-40 letters, digits or _"
        ))
    }
}

/// Read an amount in yuan as typed (`120`, `120.5`, `120.50`, `¥120`) into fen, without
/// floating point (money is integer fen, ARCHITECTURE.md). Negative amounts and more than
/// two decimals are refused.
pub fn parse_yuan(text: &str) -> Option<i64> {
    let t = text
        .trim()
        .trim_start_matches(['¥', '￥'])
        .trim_end_matches('元')
        .trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty() || whole.len() > 12 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fen_part: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(fen_part)
}

/// Fen as yuan with two decimals (`12000` → `120.00`).
pub fn yuan_text(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// The configurable rules of contract periods. The defaults are local practice, not
/// national text, except the one-year minimum (`domain.md` §2 \[S\]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeriodRules {
    /// The shortest contract, in months ("in principle at least one year").
    pub min_months: u32,
    /// The longest contract accepted, in months; longer is taken as a typing error.
    pub max_months: u32,
    /// How many days before its end a contract may be renewed (local practice).
    pub renew_window_days: i64,
}

impl Default for PeriodRules {
    fn default() -> Self {
        PeriodRules {
            min_months: 12,
            max_months: 60,
            renew_window_days: 30,
        }
    }
}

/// Why a contract change is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    #[error("the contract ends before it starts")]
    EndsBeforeStart,
    #[error(
        "a contract lasts at least {min_months} months: with this start it ends on {earliest_end} or later"
    )]
    TooShort {
        min_months: u32,
        earliest_end: NaiveDate,
    },
    #[error("a contract lasts at most {max_months} months; check the end date")]
    TooLong { max_months: u32 },
    #[error("renewal opens on {opens} ({days} days before the contract ends)")]
    RenewalNotOpen { opens: NaiveDate, days: i64 },
    #[error(
        "a termination needs a reason of at least {} characters",
        MIN_REASON_CHARS
    )]
    ReasonTooShort,
}

impl ContractError {
    /// The same message in Chinese, for pages.
    pub fn message_zh(&self) -> String {
        match self {
            ContractError::EndsBeforeStart => "结束日期早于开始日期。".to_owned(),
            ContractError::TooShort {
                min_months,
                earliest_end,
            } => format!(
                "签约周期原则上不少于{}个月：按此开始日期，结束日期应不早于 {earliest_end}。",
                min_months
            ),
            ContractError::TooLong { max_months } => {
                format!("签约周期不超过{max_months}个月，请检查结束日期。")
            }
            ContractError::RenewalNotOpen { opens, days } => {
                format!("续约自 {opens} 起办理（到期前{days}天）。")
            }
            ContractError::ReasonTooShort => {
                format!("解约须填写原因（至少{MIN_REASON_CHARS}个字）。")
            }
        }
    }
}

/// The shortest termination or transfer reason, in characters ("死亡", "迁出" are enough).
pub const MIN_REASON_CHARS: usize = 2;

/// Check a termination or transfer reason; the trimmed reason.
pub fn reason(input: &str) -> Result<&str, ContractError> {
    let r = input.trim();
    if r.chars().count() >= MIN_REASON_CHARS {
        Ok(r)
    } else {
        Err(ContractError::ReasonTooShort)
    }
}

/// `months` calendar months after `from` (the end of the month when the day does not
/// exist, as chrono does: 2024-02-29 + 12 months = 2025-02-28).
fn add_months(from: NaiveDate, months: u32) -> NaiveDate {
    from.checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// The last day of a contract of `months` months starting on `starts_on`: one day before
/// the same date `months` later.
pub fn end_after(starts_on: NaiveDate, months: u32) -> NaiveDate {
    add_months(starts_on, months)
        .pred_opt()
        .unwrap_or(NaiveDate::MAX)
}

/// The default last day of a contract: the shortest period the rules allow.
pub fn default_end(starts_on: NaiveDate, rules: &PeriodRules) -> NaiveDate {
    end_after(starts_on, rules.min_months)
}

/// Check a contract period (`ends_on` is the last day in force).
pub fn check_period(
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    rules: &PeriodRules,
) -> Result<(), ContractError> {
    if ends_on < starts_on {
        return Err(ContractError::EndsBeforeStart);
    }
    let earliest_end = end_after(starts_on, rules.min_months);
    if ends_on < earliest_end {
        return Err(ContractError::TooShort {
            min_months: rules.min_months,
            earliest_end,
        });
    }
    if ends_on > end_after(starts_on, rules.max_months) {
        return Err(ContractError::TooLong {
            max_months: rules.max_months,
        });
    }
    Ok(())
}

/// The first day a contract ending on `ends_on` may be renewed.
pub fn renewal_opens(ends_on: NaiveDate, rules: &PeriodRules) -> NaiveDate {
    ends_on - Duration::days(rules.renew_window_days)
}

/// Whether a contract ending on `ends_on` may be renewed on `today`. A contract past its
/// end (and not yet closed) may still be renewed: a late renewal.
pub fn check_renewal(
    ends_on: NaiveDate,
    today: NaiveDate,
    rules: &PeriodRules,
) -> Result<(), ContractError> {
    let opens = renewal_opens(ends_on, rules);
    if today < opens {
        Err(ContractError::RenewalNotOpen {
            opens,
            days: rules.renew_window_days,
        })
    } else {
        Ok(())
    }
}

/// The first day of the contract that renews one ending on `ends_on`, renewed on `today`:
/// the day after the old one ends, or today for a late renewal. The two never overlap and
/// leave no gap unless the renewal came late.
pub fn renewal_start(ends_on: NaiveDate, today: NaiveDate) -> NaiveDate {
    ends_on.succ_opt().unwrap_or(ends_on).max(today)
}

/// Whether a contract was in force on `on`: from its first day to its last (the early end
/// when it stopped early).
pub fn in_force(
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    ended_on: Option<NaiveDate>,
    on: NaiveDate,
) -> bool {
    starts_on <= on && on <= ended_on.unwrap_or(ends_on).min(ends_on)
}

/// The contract year that contains `on`: `[start, end]` (both inclusive), counted in whole
/// years from `starts_on` and cut at `last_day`. Before the start, the first year; after
/// the end, the last.
pub fn contract_year(
    starts_on: NaiveDate,
    last_day: NaiveDate,
    on: NaiveDate,
) -> (NaiveDate, NaiveDate) {
    let on = on.clamp(starts_on, last_day.max(starts_on));
    let mut year_start = starts_on;
    let mut k = 0u32;
    loop {
        let next = add_months(starts_on, 12 * (k + 1));
        if on < next || next > last_day {
            return (year_start, next.pred_opt().unwrap_or(next).min(last_day));
        }
        k += 1;
        year_start = next;
    }
}

/// How far one package item was delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemFulfilment {
    pub code: String,
    /// Owed in the contract year.
    pub required: u32,
    /// Delivered in the contract year.
    pub delivered: u32,
}

impl ItemFulfilment {
    /// 已履约: the yearly count was delivered.
    pub fn fulfilled(&self) -> bool {
        self.delivered >= self.required
    }
}

/// 履约 of a package in a contract year: each item with its delivered count, counting the
/// services in `delivered` (item code, date) that fall in `[from, to]`; services of items
/// the package does not list are ignored.
pub fn fulfilment(
    items: &[PackageItem],
    delivered: &[(&str, NaiveDate)],
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<ItemFulfilment> {
    items
        .iter()
        .map(|item| ItemFulfilment {
            code: item.code.clone(),
            required: item.per_year,
            delivered: delivered
                .iter()
                .filter(|(code, on)| *code == item.code && from <= *on && *on <= to)
                .count() as u32,
        })
        .collect()
}

/// Whether every item of a package was delivered (a package without items is fulfilled).
pub fn all_fulfilled(items: &[ItemFulfilment]) -> bool {
    items.iter().all(ItemFulfilment::fulfilled)
}

/// The key groups (重点人群) counted for 重点人群签约服务覆盖率 (`domain.md` §2): 老年人,
/// 孕产妇, 0～6岁儿童, 残疾人, 高血压, 2型糖尿病, 结核病, 严重精神障碍 and 脱贫人口. 防返贫监测
/// 对象 is counted too, as the provinces' plans add 贫困人口 (local practice); 计划生育特殊
/// 家庭 is not recorded in yiwei yet.
pub const KEY_POPULATIONS: [KeyGroup; 10] = KeyGroup::ALL;

/// The key groups of a resident on `on`, from the birth date (65+ and 0–6, never stored, so
/// they cannot go stale) and the stored condition-based codes (age-based codes stored by
/// older versions are ignored); in [`KeyGroup`] order, without duplicates or unknown codes.
pub fn key_groups_on(
    birth_date: Option<NaiveDate>,
    stored: &[&str],
    on: NaiveDate,
) -> Vec<KeyGroup> {
    let mut groups = key_group::key_groups(
        &key_group::Facts {
            birth_date,
            ..key_group::Facts::default()
        },
        on,
    );
    for code in stored {
        if let Some(g) = KeyGroup::parse(code)
            && !matches!(g, KeyGroup::Elderly65 | KeyGroup::Child0to6)
            && !groups.contains(&g)
        {
            groups.push(g);
        }
    }
    groups.sort();
    groups.retain(|g| KEY_POPULATIONS.contains(g));
    groups
}

/// The latest birth date of someone who is at least `years` old on `on` (completed years,
/// as [`key_group::age_on`] counts them): `age_on(b, on) >= years` exactly when
/// `b <= age_cutoff(on, years)`. Lets the store count age groups with an index range on
/// the birth date instead of computing ages row by row.
pub fn age_cutoff(on: NaiveDate, years: u32) -> NaiveDate {
    let year = on.year() - years as i32;
    NaiveDate::from_ymd_opt(year, on.month(), on.day())
        // 29 February in a common year: born on 28 February, one has had the birthday.
        .or_else(|| NaiveDate::from_ymd_opt(year, 2, 28))
        .unwrap_or(NaiveDate::MIN)
}

/// A rate as numerator over denominator; no rate without a positive denominator (an
/// indicator then shows "—", never a guess).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rate {
    pub numerator: i64,
    pub denominator: i64,
}

impl Rate {
    pub fn new(numerator: i64, denominator: i64) -> Rate {
        Rate {
            numerator,
            denominator,
        }
    }

    /// Per cent, when the denominator is positive.
    pub fn percent(self) -> Option<f64> {
        (self.denominator > 0).then(|| self.numerator as f64 * 100.0 / self.denominator as f64)
    }

    /// Per cent with one decimal, or "—".
    pub fn text(self) -> String {
        self.percent()
            .map_or_else(|| "—".to_owned(), |p| format!("{p:.1}%"))
    }
}

/// 签约服务覆盖率 = residents under contract / 常住人口 (the population figure when known).
pub fn coverage(signed: i64, population: Option<i64>) -> Rate {
    Rate::new(signed, population.unwrap_or(0))
}

/// 重点人群签约服务覆盖率 = key-group residents under contract / key-group residents.
pub fn key_group_coverage(signed_key: i64, key_residents: i64) -> Rate {
    Rate::new(signed_key, key_residents)
}

/// 续签率 = contracts that ran to their end in the period and were renewed / contracts that
/// ran to their end in the period (terminated and transferred ones did not reach their end
/// and count in neither).
pub fn renewal_rate(renewed: i64, due: i64) -> Rate {
    Rate::new(renewed, due)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn periods_of_at_least_a_year_pass() {
        let rules = PeriodRules::default();
        let cases = [
            // (start, end, ok?)
            (d(2026, 1, 1), d(2026, 12, 31), true),
            (d(2026, 1, 1), d(2026, 12, 30), false),
            (d(2026, 3, 15), d(2027, 3, 14), true),
            (d(2026, 3, 15), d(2026, 9, 14), false),
            (d(2026, 3, 15), d(2028, 3, 14), true),
            (d(2026, 3, 15), d(2031, 3, 14), true),
            (d(2026, 3, 15), d(2031, 3, 15), false),
            // 29 February: a year later is 28 February, so the last day is the 27th.
            (d(2024, 2, 29), d(2025, 2, 27), true),
            (d(2024, 2, 29), d(2025, 2, 26), false),
            (d(2026, 5, 1), d(2026, 4, 30), false),
        ];
        for (start, end, ok) in cases {
            assert_eq!(
                check_period(start, end, &rules).is_ok(),
                ok,
                "{start} to {end}"
            );
        }
        assert_eq!(
            check_period(d(2026, 5, 1), d(2026, 4, 30), &rules),
            Err(ContractError::EndsBeforeStart)
        );
        assert_eq!(
            check_period(d(2026, 5, 1), d(2026, 11, 1), &rules),
            Err(ContractError::TooShort {
                min_months: 12,
                earliest_end: d(2027, 4, 30)
            })
        );
        assert_eq!(default_end(d(2026, 11, 23), &rules), d(2027, 11, 22));
    }

    #[test]
    fn the_rules_are_configuration() {
        let two_years = PeriodRules {
            min_months: 24,
            ..PeriodRules::default()
        };
        assert!(check_period(d(2026, 1, 1), d(2026, 12, 31), &two_years).is_err());
        assert!(check_period(d(2026, 1, 1), d(2027, 12, 31), &two_years).is_ok());
        let week = PeriodRules {
            renew_window_days: 7,
            ..PeriodRules::default()
        };
        assert_eq!(renewal_opens(d(2026, 12, 31), &week), d(2026, 12, 24));
    }

    #[test]
    fn renewal_opens_thirty_days_before_the_end_and_starts_the_day_after() {
        let rules = PeriodRules::default();
        let end = d(2026, 12, 31);
        let cases = [
            // (today, may renew, new start)
            (d(2026, 11, 30), false, d(2027, 1, 1)),
            (d(2026, 12, 1), true, d(2027, 1, 1)),
            (d(2026, 12, 31), true, d(2027, 1, 1)),
            (d(2027, 1, 1), true, d(2027, 1, 1)),
            // Late: the new contract starts on the day of renewal.
            (d(2027, 2, 10), true, d(2027, 2, 10)),
        ];
        for (today, ok, start) in cases {
            assert_eq!(check_renewal(end, today, &rules).is_ok(), ok, "{today}");
            assert_eq!(renewal_start(end, today), start, "{today}");
        }
        assert_eq!(
            check_renewal(end, d(2026, 6, 1), &rules),
            Err(ContractError::RenewalNotOpen {
                opens: d(2026, 12, 1),
                days: 30
            })
        );
    }

    #[test]
    fn contracts_are_in_force_from_start_to_their_last_day() {
        let (s, e) = (d(2026, 1, 1), d(2026, 12, 31));
        let cases = [
            (None, d(2025, 12, 31), false),
            (None, d(2026, 1, 1), true),
            (None, d(2026, 12, 31), true),
            (None, d(2027, 1, 1), false),
            (Some(d(2026, 6, 30)), d(2026, 6, 30), true),
            (Some(d(2026, 6, 30)), d(2026, 7, 1), false),
            // Ended before it started (transferred on its first day): never in force.
            (Some(d(2025, 12, 31)), d(2026, 1, 1), false),
            // An early end after the last day does not lengthen it.
            (Some(d(2027, 3, 1)), d(2027, 2, 1), false),
        ];
        for (ended, on, expect) in cases {
            assert_eq!(in_force(s, e, ended, on), expect, "{ended:?} {on}");
        }
    }

    #[test]
    fn contract_years_count_from_the_start() {
        let (s, e) = (d(2026, 3, 15), d(2028, 3, 14));
        let cases = [
            (d(2026, 3, 15), (d(2026, 3, 15), d(2027, 3, 14))),
            (d(2027, 3, 14), (d(2026, 3, 15), d(2027, 3, 14))),
            (d(2027, 3, 15), (d(2027, 3, 15), d(2028, 3, 14))),
            (d(2029, 1, 1), (d(2027, 3, 15), d(2028, 3, 14))),
            (d(2020, 1, 1), (d(2026, 3, 15), d(2027, 3, 14))),
        ];
        for (on, expect) in cases {
            assert_eq!(contract_year(s, e, on), expect, "{on}");
        }
        // A one-year contract is one contract year.
        assert_eq!(
            contract_year(d(2026, 1, 1), d(2026, 12, 31), d(2026, 7, 1)),
            (d(2026, 1, 1), d(2026, 12, 31))
        );
        // Stopped early: the year is cut at the last day in force.
        assert_eq!(
            contract_year(d(2026, 1, 1), d(2026, 6, 30), d(2026, 7, 1)),
            (d(2026, 1, 1), d(2026, 6, 30))
        );
    }

    #[test]
    fn an_item_is_fulfilled_when_its_yearly_count_is_delivered() {
        let items = parse_items("hypertension_followup 4\nhealth_exam\n").unwrap();
        let (from, to) = (d(2026, 1, 1), d(2026, 12, 31));
        let visits = [
            ("hypertension_followup", d(2026, 2, 1)),
            ("hypertension_followup", d(2026, 5, 1)),
            ("hypertension_followup", d(2026, 8, 1)),
            ("hypertension_followup", d(2025, 11, 1)),
            ("health_exam", d(2026, 4, 1)),
            ("home_visit", d(2026, 4, 1)),
        ];
        let f = fulfilment(&items, &visits, from, to);
        assert_eq!(
            f,
            vec![
                ItemFulfilment {
                    code: "hypertension_followup".into(),
                    required: 4,
                    delivered: 3
                },
                ItemFulfilment {
                    code: "health_exam".into(),
                    required: 1,
                    delivered: 1
                },
            ]
        );
        assert!(!f[0].fulfilled() && f[1].fulfilled());
        assert!(!all_fulfilled(&f));
        let mut more = visits.to_vec();
        more.push(("hypertension_followup", d(2026, 11, 1)));
        assert!(all_fulfilled(&fulfilment(&items, &more, from, to)));
        assert!(all_fulfilled(&[]));
    }

    #[test]
    fn package_items_are_read_one_per_line() {
        let ok = [
            ("health_exam 1", vec![("health_exam", 1)]),
            ("health_exam", vec![("health_exam", 1)]),
            (
                "a×4\nb*2\n\n c:3 \nd：5",
                vec![("a", 4), ("b", 2), ("c", 3), ("d", 5)],
            ),
            ("", vec![]),
        ];
        for (text, expect) in ok {
            let got: Vec<(String, u32)> = parse_items(text)
                .unwrap()
                .into_iter()
                .map(|i| (i.code, i.per_year))
                .collect();
            let expect: Vec<(String, u32)> =
                expect.into_iter().map(|(c, n)| (c.to_owned(), n)).collect();
            assert_eq!(got, expect, "{text:?}");
        }
        for bad in [
            "a 0", "a 400", "a b c", "随访 4", "a 1\na 2", "a -1", "a 1.5",
        ] {
            assert!(parse_items(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn money_is_read_into_fen_without_floats() {
        let cases = [
            ("120", Some(12_000)),
            ("120.5", Some(12_050)),
            ("120.05", Some(12_005)),
            ("¥0.01", Some(1)),
            ("￥35元", Some(3_500)),
            (" 0 ", Some(0)),
            ("120.505", None),
            ("-1", None),
            ("1e3", None),
            ("", None),
            (".5", None),
            ("12,000", None),
        ];
        for (text, fen) in cases {
            assert_eq!(parse_yuan(text), fen, "{text:?}");
        }
        assert_eq!(yuan_text(12_005), "120.05");
        assert_eq!(yuan_text(0), "0.00");
        assert_eq!(yuan_text(-150), "-1.50");
    }

    #[test]
    fn key_groups_come_from_the_birth_date_and_the_stored_conditions() {
        use KeyGroup::*;
        let on = d(2026, 11, 23);
        let cases: [(Option<NaiveDate>, &[&str], &[KeyGroup]); 5] = [
            (
                Some(d(1950, 1, 1)),
                &["hypertension"],
                &[Elderly65, Hypertension],
            ),
            // A stored age tag is ignored: the birth date decides.
            (
                Some(d(1990, 1, 1)),
                &["elderly_65", "diabetes"],
                &[Diabetes],
            ),
            (Some(d(2022, 5, 1)), &[], &[Child0to6]),
            (None, &["nonsense", "disabled", "disabled"], &[Disabled]),
            (
                Some(d(1961, 11, 24)),
                &["severe_mental", "pregnant"],
                &[Pregnant, SevereMental],
            ),
        ];
        for (birth, stored, expect) in cases {
            assert_eq!(
                key_groups_on(birth, stored, on),
                expect,
                "{birth:?} {stored:?}"
            );
        }
    }

    #[test]
    fn age_cutoffs_match_completed_years() {
        let cases = [
            (d(2026, 11, 23), 65, d(1961, 11, 23)),
            (d(2024, 2, 29), 65, d(1959, 2, 28)),
            (d(2024, 2, 29), 4, d(2020, 2, 29)),
            (d(2026, 1, 1), 7, d(2019, 1, 1)),
        ];
        for (on, years, cut) in cases {
            assert_eq!(age_cutoff(on, years), cut, "{on} {years}");
        }
    }

    #[test]
    fn rates_need_a_positive_denominator() {
        assert_eq!(coverage(30, Some(120)).text(), "25.0%");
        assert_eq!(coverage(30, None).text(), "—");
        assert_eq!(coverage(30, Some(0)).percent(), None);
        assert_eq!(key_group_coverage(2, 3).text(), "66.7%");
        assert_eq!(renewal_rate(0, 0).text(), "—");
        assert_eq!(renewal_rate(9, 10).percent(), Some(90.0));
    }

    #[test]
    fn codes_round_trip() {
        for r in TeamRole::ALL {
            assert_eq!(TeamRole::parse(r.code()), Some(r));
            assert!(!r.name_zh().is_empty() && !r.name_en().is_empty());
        }
        for k in PackageKind::ALL {
            assert_eq!(PackageKind::parse(k.code()), Some(k));
        }
        for s in ContractStatus::ALL {
            assert_eq!(ContractStatus::parse(s.as_str()), Some(s));
            assert!(!s.name_zh().is_empty());
        }
        for (code, _, _) in SERVICE_ITEMS {
            assert!(check_item_code(code).is_ok());
            assert!(service_item_names(code).is_some());
        }
        let holders: Vec<_> = TeamRole::ALL
            .into_iter()
            .filter(|r| r.may_hold_contracts())
            .collect();
        assert_eq!(
            holders,
            [TeamRole::Lead, TeamRole::Doctor, TeamRole::VillageDoctor]
        );
        assert_eq!(reason(" 迁出 "), Ok("迁出"));
        assert_eq!(reason("死"), Err(ContractError::ReasonTooShort));
    }

    fn any_date() -> impl proptest::strategy::Strategy<Value = NaiveDate> {
        use proptest::strategy::Strategy;
        // 1900-01-01 .. 2100-12-31 as day numbers from the common era.
        (693_596i32..767_010).prop_map(|n| NaiveDate::from_num_days_from_ce_opt(n).unwrap())
    }

    proptest::proptest! {
        #[test]
        fn the_default_end_always_passes_and_a_day_less_never(start in any_date(), months in 1u32..60) {
            let rules = PeriodRules { min_months: months, ..PeriodRules::default() };
            let end = default_end(start, &rules);
            proptest::prop_assert!(check_period(start, end, &rules).is_ok());
            let shorter = end.pred_opt().unwrap();
            proptest::prop_assert!(check_period(start, shorter, &rules).is_err());
        }

        #[test]
        fn renewals_never_overlap_the_old_contract(end in any_date(), today in any_date()) {
            let start = renewal_start(end, today);
            proptest::prop_assert!(start > end);
            proptest::prop_assert!(start >= today);
            let rules = PeriodRules::default();
            // Never in force on the same day as the old one.
            proptest::prop_assert!(!in_force(start, default_end(start, &rules), None, end));
        }

        #[test]
        fn the_age_cutoff_agrees_with_age_on(birth in any_date(), on in any_date(), years in 0u32..110) {
            proptest::prop_assume!(birth <= on);
            proptest::prop_assert_eq!(
                key_group::age_on(birth, on) >= years,
                birth <= age_cutoff(on, years)
            );
        }

        #[test]
        fn more_services_never_undo_fulfilment(
            per_year in 1u32..12,
            days in proptest::collection::vec(0i64..365, 0..20),
            extra in 0i64..365,
        ) {
            let from = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
            let to = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
            let items = [PackageItem { code: "x".into(), per_year }];
            let dates: Vec<(&str, NaiveDate)> =
                days.iter().map(|n| ("x", from + Duration::days(*n))).collect();
            let before = fulfilment(&items, &dates, from, to);
            proptest::prop_assert_eq!(before[0].delivered as usize, days.len());
            proptest::prop_assert_eq!(before[0].fulfilled(), days.len() as u32 >= per_year);
            let mut more = dates.clone();
            more.push(("x", from + Duration::days(extra)));
            let after = fulfilment(&items, &more, from, to);
            proptest::prop_assert!(!before[0].fulfilled() || after[0].fulfilled());
        }

        #[test]
        fn yuan_round_trips(fen in 0i64..10_000_000_000) {
            proptest::prop_assert_eq!(parse_yuan(&yuan_text(fen)), Some(fen));
        }

        #[test]
        fn the_contract_year_contains_the_day(start in any_date(), years in 1u32..5, offset in 0i64..2000) {
            let end = end_after(start, 12 * years);
            let on = start + Duration::days(offset);
            let (from, to) = contract_year(start, end, on);
            proptest::prop_assert!(start <= from && from <= to && to <= end);
            let clamped = on.min(end);
            proptest::prop_assert!(from <= clamped && clamped <= to);
        }
    }
}
