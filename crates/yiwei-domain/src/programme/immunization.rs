//! The national immunization schedule (国家免疫规划疫苗儿童免疫程序) as data, in
//! editions, and the two questions asked of it: which doses a child is due for
//! ([`vaccine_due`]), and whether a dose about to be recorded breaks a rule
//! ([`check_dose`]).
//!
//! An [`Edition`] is a list of [`Series`] (one per vaccine, or one per alternative product
//! such as live or inactivated JE), each a list of [`DoseRule`]s: the minimum age (the age
//! in the schedule table is "可以接种该剂次疫苗的最小年龄" \[S code citing the text\]), the
//! age before which the dose should be complete (建议完成年龄), minimum gaps after earlier
//! doses, and the age after which it is no longer caught up. [`edition_in_force`] picks the
//! edition for a date. Doses already given are counted by their order within a series, so a
//! child who started under one edition continues under the next without migration: only the
//! missing doses are caught up, never the series restarted \[S\].
//!
//! General rules (edition-wide, [`GeneralRules`]): two injected live vaccines not given on
//! the same day need ≥28 days between them \[S\] (BCG, MMR, live JE and live hepatitis A are
//! injected live vaccines \[M for BCG, given intradermally\]; bOPV is oral and exempt);
//! catch-up runs to 18 years unless a dose says otherwise \[S code\]; a dose whose schedule
//! names no completion age is timely within one month of becoming due (*unconfirmed*, this
//! project's default for the work list).
//!
//! | Edition | In force | What changed |
//! |---|---|---|
//! | [`edition_2021`] 国家免疫规划疫苗儿童免疫程序及说明（2021年版） | 2021-03-01 (*unconfirmed*) | base table \[S code\] |
//! | [`edition_2025`] 2021 edition with the DTaP change (gov.cn notice, Dec 2024) | 2025-01-01 \[S\] | DTaP 2, 4, 6, 18 months + 6 years; the 6-year DT dose removed, DT only for 7–11 y catch-up \[S\] |
//! | [`edition_2026`] 2026年版（国疾控卫免发〔2026〕16号） | 2026-06-17, the issue date (*unconfirmed* as the in-force date) | MPSV-A dose 2 before 24 months; bivalent HPV for girls at 13 y, 2 doses 6 months apart, the first before 14 \[S code\] |
//!
//! Per-dose tags are on the edition functions. Not modelled: the extra hepatitis B schedule
//! for infants of HBsAg-positive mothers under 2000 g (0, 1, 2, 7 months \[S\]) — the record
//! does not yet carry the mother's HBsAg or the birth weight; the PPD test before BCG
//! catch-up at 3 months–3 years is a [`DoseRule::note`], not a rule.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::schedule::{MISSED_LOOKBACK_DAYS, Offset, Status, add_days};
use crate::ws365::Sex;

/// A vaccine product of the programme. Codes are local and stable (the national
/// immunization information system's own codes are not used here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Vaccine {
    HepB,
    Bcg,
    Ipv,
    Bopv,
    Dtap,
    Dt,
    Mmr,
    JeLive,
    JeInactivated,
    MenA,
    MenAc,
    HepALive,
    HepAInactivated,
    Hpv2,
}

impl Vaccine {
    pub const ALL: [Vaccine; 14] = [
        Vaccine::HepB,
        Vaccine::Bcg,
        Vaccine::Ipv,
        Vaccine::Bopv,
        Vaccine::Dtap,
        Vaccine::Dt,
        Vaccine::Mmr,
        Vaccine::JeLive,
        Vaccine::JeInactivated,
        Vaccine::MenA,
        Vaccine::MenAc,
        Vaccine::HepALive,
        Vaccine::HepAInactivated,
        Vaccine::Hpv2,
    ];

    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Vaccine::HepB => ("hepb", "乙肝疫苗", "hepatitis B vaccine"),
            Vaccine::Bcg => ("bcg", "卡介苗", "BCG"),
            Vaccine::Ipv => ("ipv", "脊灰灭活疫苗", "inactivated polio vaccine (IPV)"),
            Vaccine::Bopv => (
                "bopv",
                "脊灰减毒活疫苗",
                "bivalent oral polio vaccine (bOPV)",
            ),
            Vaccine::Dtap => ("dtap", "百白破疫苗", "DTaP"),
            Vaccine::Dt => ("dt", "白破疫苗", "DT"),
            Vaccine::Mmr => ("mmr", "麻腮风疫苗", "MMR"),
            Vaccine::JeLive => (
                "je_l",
                "乙脑减毒活疫苗",
                "live Japanese encephalitis vaccine",
            ),
            Vaccine::JeInactivated => (
                "je_i",
                "乙脑灭活疫苗",
                "inactivated Japanese encephalitis vaccine",
            ),
            Vaccine::MenA => (
                "mpsv_a",
                "A群流脑多糖疫苗",
                "meningococcal A vaccine (MPSV-A)",
            ),
            Vaccine::MenAc => (
                "mpsv_ac",
                "A群C群流脑多糖疫苗",
                "meningococcal A+C vaccine (MPSV-AC)",
            ),
            Vaccine::HepALive => ("hepa_l", "甲肝减毒活疫苗", "live hepatitis A vaccine"),
            Vaccine::HepAInactivated => {
                ("hepa_i", "甲肝灭活疫苗", "inactivated hepatitis A vaccine")
            }
            Vaccine::Hpv2 => ("hpv2", "双价人乳头瘤病毒疫苗", "bivalent HPV vaccine"),
        }
    }

    pub fn code(self) -> &'static str {
        self.names().0
    }

    pub fn name_zh(self) -> &'static str {
        self.names().1
    }

    pub fn name_en(self) -> &'static str {
        self.names().2
    }

    pub fn parse(code: &str) -> Option<Vaccine> {
        Vaccine::ALL.into_iter().find(|v| v.code() == code.trim())
    }

    /// A live attenuated vaccine.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            Vaccine::Bcg | Vaccine::Bopv | Vaccine::Mmr | Vaccine::JeLive | Vaccine::HepALive
        )
    }

    /// Given by injection (everything but bOPV).
    pub fn is_injected(self) -> bool {
        self != Vaccine::Bopv
    }

    /// An injected live vaccine, to which the 28-day rule applies.
    pub fn is_injected_live(self) -> bool {
        self.is_live() && self.is_injected()
    }
}

/// A minimum gap after an earlier dose (of this series or another).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    pub series: &'static str,
    pub dose: u8,
    pub min: Offset,
}

/// One dose of a series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoseRule {
    /// Products that count for this dose; the first is the one to give.
    pub products: Vec<Vaccine>,
    /// The youngest age at which the dose may be given.
    pub min_age: Offset,
    /// Complete before this age (建议完成年龄; "小于12月龄完成" = `Months(12)`).
    pub complete_before: Option<Offset>,
    /// When no completion age is set: timely within this long of becoming due (else the
    /// edition's default).
    pub timely_within: Option<Offset>,
    /// Not given (no longer caught up) from this age; else the edition's default.
    pub catch_up_until: Option<Offset>,
    /// Minimum gaps after earlier doses.
    pub after: Vec<Gap>,
    /// From this age, catch up with this product instead (DT instead of DTaP from 7 y).
    pub catch_up_with: Option<(Offset, Vaccine)>,
    /// A note for the vaccinator (Chinese, English).
    pub note: Option<(&'static str, &'static str)>,
}

/// A dose rule for `products` from `min_age`; the methods add the rest.
pub fn dose(products: &[Vaccine], min_age: Offset) -> DoseRule {
    DoseRule {
        products: products.to_vec(),
        min_age,
        complete_before: None,
        timely_within: None,
        catch_up_until: None,
        after: Vec::new(),
        catch_up_with: None,
        note: None,
    }
}

impl DoseRule {
    pub fn before(mut self, age: Offset) -> Self {
        self.complete_before = Some(age);
        self
    }

    pub fn timely_within(mut self, within: Offset) -> Self {
        self.timely_within = Some(within);
        self
    }

    pub fn until(mut self, age: Offset) -> Self {
        self.catch_up_until = Some(age);
        self
    }

    pub fn after(mut self, series: &'static str, dose: u8, min: Offset) -> Self {
        self.after.push(Gap { series, dose, min });
        self
    }

    pub fn catch_up_with(mut self, from_age: Offset, vaccine: Vaccine) -> Self {
        self.catch_up_with = Some((from_age, vaccine));
        self
    }

    pub fn note(mut self, zh: &'static str, en: &'static str) -> Self {
        self.note = Some((zh, en));
        self
    }

    fn accepts(&self, v: Vaccine) -> bool {
        self.products.contains(&v) || self.catch_up_with.is_some_and(|(_, c)| c == v)
    }
}

/// The doses of one vaccine (or one product of a choice).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    /// Series sharing a choice are alternatives (live or inactivated JE): the one a child
    /// has started continues; a child who has started none gets the first listed.
    pub choice: Option<&'static str>,
    /// Only for this sex (HPV: girls). A child whose sex is unknown is not offered it.
    pub sex: Option<Sex>,
    pub doses: Vec<DoseRule>,
}

impl Series {
    fn accepts(&self, v: Vaccine) -> bool {
        self.doses.iter().any(|d| d.accepts(v))
    }

    fn applies_to(&self, sex: Option<Sex>) -> bool {
        self.sex.is_none_or(|s| sex == Some(s))
    }
}

/// Rules of an edition that are not about one dose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneralRules {
    /// Two injected live vaccines not given the same day: at least 28 days apart \[S\].
    pub live_injected_gap_days: u32,
    /// Default for [`DoseRule::timely_within`]: one month (*unconfirmed*).
    pub timely_within: Offset,
    /// Default for [`DoseRule::catch_up_until`]: 18 years \[S code\].
    pub catch_up_until: Offset,
}

impl Default for GeneralRules {
    fn default() -> Self {
        GeneralRules {
            live_injected_gap_days: 28,
            timely_within: Offset::Months(1),
            catch_up_until: Offset::Years(18),
        }
    }
}

/// An edition of the schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edition {
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub source: &'static str,
    pub in_force_from: NaiveDate,
    pub series: Vec<Series>,
    pub rules: GeneralRules,
}

impl Edition {
    pub fn series(&self, code: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.code == code)
    }

    fn series_mut(&mut self, code: &str) -> Option<&mut Series> {
        self.series.iter_mut().find(|s| s.code == code)
    }
}

/// A dose given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dose {
    pub vaccine: Vaccine,
    pub date: NaiveDate,
}

/// A dose not yet given, with its window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoseDue {
    pub series: &'static str,
    /// 1-based dose number within the series.
    pub dose: u8,
    /// The product to give (the catch-up product where one applies).
    pub vaccine: Vaccine,
    pub due_from: NaiveDate,
    pub due_by: NaiveDate,
    /// No longer given from this day.
    pub until: NaiveDate,
    pub status: Status,
    pub note: Option<(&'static str, &'static str)>,
}

/// Every edition, oldest first.
pub fn editions() -> Vec<Edition> {
    vec![edition_2021(), edition_2025(), edition_2026()]
}

/// The edition in force on `on`: the latest whose `in_force_from` is not after it. `None`
/// before the first.
pub fn edition_in_force(editions: &[Edition], on: NaiveDate) -> Option<&Edition> {
    editions
        .iter()
        .filter(|e| e.in_force_from <= on)
        .max_by_key(|e| e.in_force_from)
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap_or(NaiveDate::MIN)
}

fn series(
    code: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    doses: Vec<DoseRule>,
) -> Series {
    Series {
        code,
        name_zh,
        name_en,
        choice: None,
        sex: None,
        doses,
    }
}

/// 国家免疫规划疫苗儿童免疫程序及说明（2021年版）.
///
/// Minimum ages and completion ages \[S code citing the text\] (HepB 1 within 24 h; BCG
/// < 3 months; HepB 3, polio 3, DTaP 3, MMR 1, JE 1 (live) or 2 (inactivated) < 12 months;
/// MPSV-A 2 < 18 months; MMR 2, HepA 1, DTaP 4 < 24 months; JE-L 2, JE-I 3, HepA-I 2 < 3 y;
/// MPSV-AC 1 < 4 y; polio 4 < 5 y; DT, MPSV-AC 2, JE-I 4 < 7 y). Gaps between doses are
/// \[M\] (HepB 1→2 ≥28 d, 2→3 ≥60 d; polio and DTaP 1–3 ≥28 d, DTaP 3→4 ≥6 months; MMR ≥28
/// d; JE-L ≥12 months; JE-I 1→2 7 d, 2→3 1 month, 3→4 3 y; MPSV-A ≥3 months, MPSV-AC 1
/// ≥12 months after MPSV-A 2, MPSV-AC 1→2 ≥3 y; HepA-I ≥6 months). Catch-up limits: BCG
/// not from 4 y \[S\]; MPSV-A not from 24 months (MPSV-AC instead) \[M\]; DTaP from 6 y with
/// DT, DT to 12 y \[M\].
pub fn edition_2021() -> Edition {
    use Offset::{Days, Months, Years};
    use Vaccine::*;
    let polio = [Ipv, Bopv];
    let polio_late = [Bopv, Ipv];
    let mut je_l = series(
        "je_l",
        "乙脑减毒活疫苗",
        "live JE vaccine",
        vec![
            dose(&[JeLive], Months(8)).before(Months(12)),
            dose(&[JeLive], Years(2))
                .before(Years(3))
                .after("je_l", 1, Months(12)),
        ],
    );
    je_l.choice = Some("je");
    let mut je_i = series(
        "je_i",
        "乙脑灭活疫苗",
        "inactivated JE vaccine",
        vec![
            dose(&[JeInactivated], Months(8)),
            dose(&[JeInactivated], Months(8))
                .before(Months(12))
                .after("je_i", 1, Days(7)),
            dose(&[JeInactivated], Years(2))
                .before(Years(3))
                .after("je_i", 2, Months(1)),
            dose(&[JeInactivated], Years(6))
                .before(Years(7))
                .after("je_i", 3, Years(3)),
        ],
    );
    je_i.choice = Some("je");
    let mut hepa_l = series(
        "hepa_l",
        "甲肝减毒活疫苗",
        "live hepatitis A vaccine",
        vec![dose(&[HepALive], Months(18)).before(Months(24))],
    );
    hepa_l.choice = Some("hepa");
    let mut hepa_i = series(
        "hepa_i",
        "甲肝灭活疫苗",
        "inactivated hepatitis A vaccine",
        vec![
            dose(&[HepAInactivated], Months(18)).before(Months(24)),
            dose(&[HepAInactivated], Years(2))
                .before(Years(3))
                .after("hepa_i", 1, Months(6)),
        ],
    );
    hepa_i.choice = Some("hepa");
    Edition {
        code: "nip_2021",
        name_zh: "国家免疫规划疫苗儿童免疫程序（2021年版）",
        name_en: "National immunization schedule, 2021 edition",
        source: "国家免疫规划疫苗儿童免疫程序及说明（2021年版）",
        in_force_from: d(2021, 3, 1),
        rules: GeneralRules::default(),
        series: vec![
            series(
                "hepb",
                "乙肝疫苗",
                "hepatitis B vaccine",
                vec![
                    // "出生后24小时内": 24 hours may run into the next calendar day.
                    dose(&[HepB], Days(0)).before(Days(2)),
                    dose(&[HepB], Months(1)).after("hepb", 1, Days(28)),
                    dose(&[HepB], Months(6))
                        .before(Months(12))
                        .after("hepb", 2, Days(60)),
                ],
            ),
            series(
                "bcg",
                "卡介苗",
                "BCG",
                vec![
                    dose(&[Bcg], Days(0))
                        .before(Months(3))
                        .until(Years(4))
                        .note(
                            "3月龄～3周岁儿童结核菌素试验阴性后补种；≥4周岁不补种",
                            "from 3 months to 3 years, catch up only after a negative PPD test; not from 4 years",
                        ),
                ],
            ),
            series(
                "polio",
                "脊灰疫苗",
                "polio vaccine",
                vec![
                    dose(&polio, Months(2)),
                    dose(&polio, Months(3)).after("polio", 1, Days(28)),
                    dose(&polio_late, Months(4))
                        .before(Months(12))
                        .after("polio", 2, Days(28)),
                    dose(&polio_late, Years(4))
                        .before(Years(5))
                        .after("polio", 3, Days(28)),
                ],
            ),
            series(
                "dtp",
                "百白破疫苗",
                "DTaP",
                vec![
                    dose(&[Dtap], Months(3))
                        .until(Years(12))
                        .catch_up_with(Years(6), Dt),
                    dose(&[Dtap], Months(4))
                        .after("dtp", 1, Days(28))
                        .until(Years(12))
                        .catch_up_with(Years(6), Dt),
                    dose(&[Dtap], Months(5))
                        .before(Months(12))
                        .after("dtp", 2, Days(28))
                        .until(Years(12))
                        .catch_up_with(Years(6), Dt),
                    dose(&[Dtap], Months(18))
                        .before(Months(24))
                        .after("dtp", 3, Months(6))
                        .until(Years(12))
                        .catch_up_with(Years(6), Dt),
                ],
            ),
            series(
                "dt",
                "白破疫苗",
                "DT",
                vec![dose(&[Dt], Years(6)).before(Years(7)).until(Years(12))],
            ),
            series(
                "mmr",
                "麻腮风疫苗",
                "MMR",
                vec![
                    dose(&[Mmr], Months(8)).before(Months(12)),
                    dose(&[Mmr], Months(18))
                        .before(Months(24))
                        .after("mmr", 1, Days(28)),
                ],
            ),
            je_l,
            je_i,
            series(
                "mpsv_a",
                "A群流脑多糖疫苗",
                "MPSV-A",
                vec![
                    dose(&[MenA], Months(6)).until(Months(24)),
                    dose(&[MenA], Months(9))
                        .before(Months(18))
                        .after("mpsv_a", 1, Months(3))
                        .until(Months(24)),
                ],
            ),
            series(
                "mpsv_ac",
                "A群C群流脑多糖疫苗",
                "MPSV-AC",
                vec![
                    dose(&[MenAc], Years(3))
                        .before(Years(4))
                        .after("mpsv_a", 2, Months(12)),
                    dose(&[MenAc], Years(6))
                        .before(Years(7))
                        .after("mpsv_ac", 1, Years(3)),
                ],
            ),
            hepa_l,
            hepa_i,
        ],
    }
}

/// The 2021 edition with the DTaP change in force from 2025-01-01 \[S, gov.cn notice of Dec
/// 2024\]: DTaP at 2, 4, 6, 18 months and 6 years (dose 5 < 7 y \[S code\]), the 6-year DT
/// dose removed, DT for catch-up at 7–11 years only. A DT given at 6 years under the old
/// table counts as dose 5. The gap before dose 5 (28 days) is *unconfirmed*.
pub fn edition_2025() -> Edition {
    use Offset::{Days, Months, Years};
    use Vaccine::{Dt, Dtap};
    let mut e = edition_2021();
    e.code = "nip_2025";
    e.name_zh = "国家免疫规划疫苗儿童免疫程序（2021年版，2025年百白破程序调整）";
    e.name_en = "National immunization schedule, 2021 edition with the 2025 DTaP change";
    e.source =
        "国家免疫规划疫苗儿童免疫程序及说明（2021年版）；百白破疫苗免疫程序调整（2025年1月1日起）";
    e.in_force_from = d(2025, 1, 1);
    let dtp = |products: &[Vaccine], age| {
        dose(products, age)
            .until(Years(12))
            .catch_up_with(Years(7), Dt)
    };
    if let Some(s) = e.series_mut("dtp") {
        s.doses = vec![
            dtp(&[Dtap], Months(2)),
            dtp(&[Dtap], Months(4)).after("dtp", 1, Days(28)),
            dtp(&[Dtap], Months(6))
                .before(Months(12))
                .after("dtp", 2, Days(28)),
            dtp(&[Dtap], Months(18))
                .before(Months(24))
                .after("dtp", 3, Months(6)),
            dtp(&[Dtap, Dt], Years(6))
                .before(Years(7))
                .after("dtp", 4, Days(28)),
        ];
    }
    e.series.retain(|s| s.code != "dt");
    e
}

/// 国家免疫规划疫苗儿童免疫程序及说明（2026年版）, 国疾控卫免发〔2026〕16号, issued
/// 2026-06-17 \[S code\]: the 2025 DTaP table kept; MPSV-A dose 2 before 24 months \[S\];
/// bivalent HPV for girls from 13 years, the first dose before 14 \[S\] (and not started
/// later, *unconfirmed*), the second ≥6 months after the first \[S\] and timely within 12
/// months of the first \[S code, secondary\]. One source also lists MPSV-A dose 1 as "before
/// 12 months"; not applied (*unconfirmed*).
pub fn edition_2026() -> Edition {
    use Offset::{Months, Years};
    let mut e = edition_2025();
    e.code = "nip_2026";
    e.name_zh = "国家免疫规划疫苗儿童免疫程序（2026年版）";
    e.name_en = "National immunization schedule, 2026 edition";
    e.source = "国家免疫规划疫苗儿童免疫程序及说明（2026年版），国疾控卫免发〔2026〕16号";
    e.in_force_from = d(2026, 6, 17);
    if let Some(s) = e.series_mut("mpsv_a")
        && let Some(d2) = s.doses.get_mut(1)
    {
        d2.complete_before = Some(Months(24));
    }
    e.series.push(Series {
        code: "hpv",
        name_zh: "双价HPV疫苗",
        name_en: "bivalent HPV vaccine",
        choice: None,
        sex: Some(Sex::Female),
        doses: vec![
            dose(&[Vaccine::Hpv2], Years(13))
                .before(Years(14))
                .until(Years(14)),
            dose(&[Vaccine::Hpv2], Years(13))
                .after("hpv", 1, Months(6))
                .timely_within(Months(6)),
        ],
    });
    e
}

/// Where each given dose went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    /// Counted as dose `dose` (1-based) of series index `series`.
    Counted { series: usize, dose: u8 },
    /// A second dose of a series on a day one was already counted.
    Duplicate { series: usize },
    /// Counted nowhere: no applicable series takes it (complete, another choice, or not in
    /// the edition).
    Unused,
}

/// Count `given` (sorted by date) into the series of `edition`. Returns a slot per given
/// dose and, per series, the dates of its counted doses (`None`: the series does not apply
/// — another product of its choice was started, or the sex does not match).
pub(super) fn assign(
    edition: &Edition,
    sex: Option<Sex>,
    given: &[Dose],
) -> (Vec<Slot>, Vec<Option<Vec<NaiveDate>>>) {
    let mut chosen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, s) in edition.series.iter().enumerate() {
        if let Some(choice) = s.choice
            && s.applies_to(sex)
            && given.iter().any(|g| s.accepts(g.vaccine))
        {
            chosen.entry(choice).or_insert(i);
        }
    }
    for (i, s) in edition.series.iter().enumerate() {
        if let Some(choice) = s.choice
            && s.applies_to(sex)
        {
            chosen.entry(choice).or_insert(i);
        }
    }
    let mut slots = vec![Slot::Unused; given.len()];
    let mut counted = Vec::with_capacity(edition.series.len());
    for (i, s) in edition.series.iter().enumerate() {
        let applies = s.applies_to(sex) && s.choice.is_none_or(|c| chosen.get(c) == Some(&i));
        if !applies {
            counted.push(None);
            continue;
        }
        let mut dates: Vec<NaiveDate> = Vec::new();
        for (j, g) in given.iter().enumerate() {
            if slots[j] != Slot::Unused || !s.accepts(g.vaccine) {
                continue;
            }
            if dates.last() == Some(&g.date) {
                slots[j] = Slot::Duplicate { series: i };
                continue;
            }
            let Some(rule) = s.doses.get(dates.len()) else {
                break;
            };
            if rule.accepts(g.vaccine) {
                dates.push(g.date);
                slots[j] = Slot::Counted {
                    series: i,
                    dose: u8::try_from(dates.len()).unwrap_or(u8::MAX),
                };
            }
        }
        counted.push(Some(dates));
    }
    (slots, counted)
}

fn sorted(doses: impl IntoIterator<Item = Dose>) -> Vec<Dose> {
    let mut v: Vec<Dose> = doses.into_iter().collect();
    v.sort_by_key(|g| (g.date, g.vaccine));
    v
}

/// The doses of `edition` a child born on `birth` has not had, each with its window and
/// status on `today`: upcoming, due, overdue (still caught up) or missed (past the catch-up
/// age, or unable to be completed before it; reported for [`MISSED_LOOKBACK_DAYS`]).
/// Doses in `given` dated before birth or after `today` are ignored. Sorted by `due_from`,
/// then schedule order.
///
/// A later dose's window is projected from the earlier dose's `due_from` when that dose is
/// not given yet. An injected live vaccine's `due_from` is moved past the 28 days after
/// another injected live vaccine when the next day it could be given falls inside them.
pub fn vaccine_due(
    edition: &Edition,
    birth: NaiveDate,
    sex: Option<Sex>,
    given: &[Dose],
    today: NaiveDate,
) -> Vec<DoseDue> {
    let given = sorted(
        given
            .iter()
            .copied()
            .filter(|g| g.date >= birth && g.date <= today),
    );
    let (_, counted) = assign(edition, sex, &given);
    let mut known: BTreeMap<(&str, u8), NaiveDate> = BTreeMap::new();
    for (s, dates) in edition.series.iter().zip(&counted) {
        for (k, date) in dates.iter().flatten().enumerate() {
            known.insert((s.code, dose_no(k)), *date);
        }
    }
    let live: Vec<NaiveDate> = given
        .iter()
        .filter(|g| g.vaccine.is_injected_live())
        .map(|g| g.date)
        .collect();
    let live_gap = i64::from(edition.rules.live_injected_gap_days);
    let oldest = add_days(today, -MISSED_LOOKBACK_DAYS);
    let mut out: Vec<(usize, DoseDue)> = Vec::new();
    for (order, (s, dates)) in edition.series.iter().zip(&counted).enumerate() {
        let Some(dates) = dates else { continue };
        for (k, rule) in s.doses.iter().enumerate().skip(dates.len()) {
            let until = rule
                .catch_up_until
                .unwrap_or(edition.rules.catch_up_until)
                .after(birth);
            let mut from = rule.min_age.after(birth);
            for gap in &rule.after {
                if let Some(earlier) = known.get(&(gap.series, gap.dose)) {
                    from = from.max(gap.min.after(*earlier));
                }
            }
            let Some(&first) = rule.products.first() else {
                continue;
            };
            let vaccine = match rule.catch_up_with {
                Some((age, v)) if from.max(today) >= age.after(birth) => v,
                _ => first,
            };
            if vaccine.is_injected_live() {
                for g in &live {
                    let next_possible = from.max(today);
                    let clear = add_days(*g, live_gap);
                    if *g < next_possible && next_possible < clear {
                        from = from.max(clear);
                    }
                }
            }
            let by = match rule.complete_before {
                Some(age) => add_days(age.after(birth), -1),
                None => add_days(
                    rule.timely_within
                        .unwrap_or(edition.rules.timely_within)
                        .after(from),
                    -1,
                ),
            }
            .max(from);
            let status = if from >= until {
                Status::Missed
            } else {
                Status::at(today, from, by, Some(until))
            };
            if status == Status::Missed {
                if until > oldest {
                    out.push((
                        order,
                        due_entry(s, k, vaccine, from, by, until, status, rule),
                    ));
                }
                continue;
            }
            // Not given yet: the earliest it can still be given is today.
            known.insert((s.code, dose_no(k)), from.max(today));
            out.push((
                order,
                due_entry(s, k, vaccine, from, by, until, status, rule),
            ));
        }
    }
    out.sort_by_key(|(order, due)| (due.due_from, *order, due.dose));
    out.into_iter().map(|(_, due)| due).collect()
}

fn dose_no(index: usize) -> u8 {
    u8::try_from(index + 1).unwrap_or(u8::MAX)
}

#[expect(
    clippy::too_many_arguments,
    reason = "one struct literal, named at the call"
)]
fn due_entry(
    s: &Series,
    k: usize,
    vaccine: Vaccine,
    due_from: NaiveDate,
    due_by: NaiveDate,
    until: NaiveDate,
    status: Status,
    rule: &DoseRule,
) -> DoseDue {
    DoseDue {
        series: s.code,
        dose: dose_no(k),
        vaccine,
        due_from,
        due_by,
        until,
        status,
        note: rule.note,
    }
}

/// Why a dose about to be recorded breaks the schedule. The store refuses or flags it;
/// the messages say why in both languages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DoseProblem {
    /// Dated before the child's birth.
    BeforeBirth,
    /// Not a vaccine of this edition.
    NotInSchedule { vaccine: Vaccine },
    /// Only for the other sex (or the sex is not recorded).
    NotForSex { vaccine: Vaccine },
    /// A second dose of the same series on the same day.
    Duplicate { vaccine: Vaccine },
    /// The series is complete, or is being continued with another product.
    NotNeeded { vaccine: Vaccine },
    /// Younger than the dose's minimum age.
    BeforeMinimumAge {
        series: &'static str,
        dose: u8,
        min_age: Offset,
        earliest: NaiveDate,
    },
    /// Too soon after an earlier dose.
    TooSoonAfterDose {
        series: &'static str,
        dose: u8,
        given_on: NaiveDate,
        earliest: NaiveDate,
    },
    /// Within 28 days of another injected live vaccine not given the same day.
    TooCloseToLiveVaccine {
        other: Vaccine,
        given_on: NaiveDate,
        gap_days: u32,
    },
    /// Past the age at which the dose is still caught up.
    PastCatchUpAge { until: NaiveDate },
    /// At this age the dose is caught up with another product.
    UseInstead { vaccine: Vaccine },
}

impl DoseProblem {
    pub fn message_zh(&self) -> String {
        match self {
            DoseProblem::BeforeBirth => "接种日期早于出生日期，请核对。".to_owned(),
            DoseProblem::NotInSchedule { vaccine } => {
                format!("{}不在本版国家免疫规划程序中。", vaccine.name_zh())
            }
            DoseProblem::NotForSex { vaccine } => {
                format!(
                    "{}不适用于该儿童的性别（或性别未登记）。",
                    vaccine.name_zh()
                )
            }
            DoseProblem::Duplicate { vaccine } => {
                format!("同一天已登记过一剂{}，请勿重复录入。", vaccine.name_zh())
            }
            DoseProblem::NotNeeded { vaccine } => {
                format!(
                    "{}已完成全程（或已选用其他同类疫苗），无需再接种。",
                    vaccine.name_zh()
                )
            }
            DoseProblem::BeforeMinimumAge {
                dose,
                min_age,
                earliest,
                ..
            } => format!(
                "第{dose}剂的最小接种年龄为{}，最早 {earliest} 可接种。",
                min_age.label_zh()
            ),
            DoseProblem::TooSoonAfterDose {
                dose,
                given_on,
                earliest,
                ..
            } => format!("与第{dose}剂（{given_on}）间隔不足，最早 {earliest} 可接种。"),
            DoseProblem::TooCloseToLiveVaccine {
                other,
                given_on,
                gap_days,
            } => format!(
                "与{}（{given_on}）均为注射类减毒活疫苗，未同时接种时应间隔≥{gap_days}天。",
                other.name_zh()
            ),
            DoseProblem::PastCatchUpAge { until } => {
                format!("已超过补种年龄（{until} 起不再补种）。")
            }
            DoseProblem::UseInstead { vaccine } => {
                format!("该年龄应使用{}补种。", vaccine.name_zh())
            }
        }
    }

    pub fn message_en(&self) -> String {
        match self {
            DoseProblem::BeforeBirth => {
                "The dose is dated before the birth date; check it.".to_owned()
            }
            DoseProblem::NotInSchedule { vaccine } => {
                format!(
                    "{} is not in this edition of the national schedule.",
                    vaccine.name_en()
                )
            }
            DoseProblem::NotForSex { vaccine } => format!(
                "{} is not for this child's sex (or the sex is not recorded).",
                vaccine.name_en()
            ),
            DoseProblem::Duplicate { vaccine } => {
                format!(
                    "A dose of {} is already recorded on this day.",
                    vaccine.name_en()
                )
            }
            DoseProblem::NotNeeded { vaccine } => format!(
                "The {} series is complete (or continued with another product); no dose is needed.",
                vaccine.name_en()
            ),
            DoseProblem::BeforeMinimumAge {
                dose,
                min_age,
                earliest,
                ..
            } => format!(
                "Dose {dose} may be given from {} of age, that is from {earliest}.",
                min_age.label_en()
            ),
            DoseProblem::TooSoonAfterDose {
                dose,
                given_on,
                earliest,
                ..
            } => {
                format!("Too soon after dose {dose} ({given_on}); the earliest date is {earliest}.")
            }
            DoseProblem::TooCloseToLiveVaccine {
                other,
                given_on,
                gap_days,
            } => format!(
                "{} ({given_on}) is also an injected live vaccine; not given the same day, they need at least {gap_days} days between them.",
                other.name_en()
            ),
            DoseProblem::PastCatchUpAge { until } => {
                format!("Past the catch-up age (not given from {until}).")
            }
            DoseProblem::UseInstead { vaccine } => {
                format!("At this age, catch up with {}.", vaccine.name_en())
            }
        }
    }
}

/// Check a dose about to be recorded (`new`) against the edition and the doses already
/// given. An empty list means it fits the schedule. Backdated entries are checked in date
/// order with the others.
pub fn check_dose(
    edition: &Edition,
    birth: NaiveDate,
    sex: Option<Sex>,
    given: &[Dose],
    new: Dose,
) -> Vec<DoseProblem> {
    if new.date < birth {
        return vec![DoseProblem::BeforeBirth];
    }
    let vaccine = new.vaccine;
    if !edition.series.iter().any(|s| s.accepts(vaccine)) {
        return vec![DoseProblem::NotInSchedule { vaccine }];
    }
    if !edition
        .series
        .iter()
        .any(|s| s.accepts(vaccine) && s.applies_to(sex))
    {
        return vec![DoseProblem::NotForSex { vaccine }];
    }
    // The new dose goes after same-day doses already recorded, so a repeat is the duplicate.
    let mut all: Vec<(Dose, bool)> = given
        .iter()
        .filter(|g| g.date >= birth)
        .map(|g| (*g, false))
        .collect();
    all.push((new, true));
    all.sort_by_key(|(g, is_new)| (g.date, *is_new, g.vaccine));
    let doses: Vec<Dose> = all.iter().map(|(g, _)| *g).collect();
    let Some(new_index) = all.iter().position(|(_, is_new)| *is_new) else {
        return Vec::new();
    };
    let (slots, counted) = assign(edition, sex, &doses);
    let (series_index, dose) = match slots[new_index] {
        Slot::Counted { series, dose } => (series, dose),
        Slot::Duplicate { .. } => return vec![DoseProblem::Duplicate { vaccine }],
        Slot::Unused => return vec![DoseProblem::NotNeeded { vaccine }],
    };
    let s = &edition.series[series_index];
    let Some(rule) = usize::from(dose)
        .checked_sub(1)
        .and_then(|k| s.doses.get(k))
    else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    let earliest = rule.min_age.after(birth);
    if new.date < earliest {
        problems.push(DoseProblem::BeforeMinimumAge {
            series: s.code,
            dose,
            min_age: rule.min_age,
            earliest,
        });
    }
    let date_of = |series: &str, dose: u8| {
        let i = edition.series.iter().position(|x| x.code == series)?;
        counted[i]
            .as_ref()?
            .get(usize::from(dose).checked_sub(1)?)
            .copied()
    };
    for gap in &rule.after {
        if let Some(given_on) = date_of(gap.series, gap.dose)
            && given_on < new.date
        {
            let earliest = gap.min.after(given_on);
            if new.date < earliest {
                problems.push(DoseProblem::TooSoonAfterDose {
                    series: gap.series,
                    dose: gap.dose,
                    given_on,
                    earliest,
                });
            }
        }
    }
    let gap_days = edition.rules.live_injected_gap_days;
    if vaccine.is_injected_live() {
        for (other, is_new) in &all {
            let apart = (new.date - other.date).num_days().abs();
            if !is_new
                && other.vaccine.is_injected_live()
                && apart > 0
                && apart < i64::from(gap_days)
            {
                problems.push(DoseProblem::TooCloseToLiveVaccine {
                    other: other.vaccine,
                    given_on: other.date,
                    gap_days,
                });
            }
        }
    }
    let until = rule
        .catch_up_until
        .unwrap_or(edition.rules.catch_up_until)
        .after(birth);
    if new.date >= until {
        problems.push(DoseProblem::PastCatchUpAge { until });
    }
    if let Some((age, instead)) = rule.catch_up_with
        && new.date >= age.after(birth)
        && vaccine != instead
    {
        problems.push(DoseProblem::UseInstead { vaccine: instead });
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn given(v: Vaccine, y: i32, m: u32, day: u32) -> Dose {
        Dose {
            vaccine: v,
            date: d(y, m, day),
        }
    }

    /// The entry for (series, dose), if listed.
    fn entry<'a>(list: &'a [DoseDue], series: &str, dose: u8) -> Option<&'a DoseDue> {
        list.iter().find(|e| e.series == series && e.dose == dose)
    }

    #[test]
    fn the_edition_in_force_is_chosen_by_date() {
        let all = editions();
        let cases = [
            (d(2020, 12, 31), None),
            (d(2021, 3, 1), Some("nip_2021")),
            (d(2024, 12, 31), Some("nip_2021")),
            (d(2025, 1, 1), Some("nip_2025")),
            (d(2026, 6, 16), Some("nip_2025")),
            (d(2026, 6, 17), Some("nip_2026")),
            (d(2040, 1, 1), Some("nip_2026")),
        ];
        for (on, expect) in cases {
            assert_eq!(edition_in_force(&all, on).map(|e| e.code), expect, "{on}");
        }
    }

    #[test]
    fn hepb_dose_3_is_due_at_6_months_and_overdue_after_12() {
        let e = edition_2025();
        let birth = d(2025, 3, 1);
        let doses = [
            given(Vaccine::HepB, 2025, 3, 1),
            given(Vaccine::HepB, 2025, 4, 1),
        ];
        let cases = [
            (d(2025, 8, 31), Status::Upcoming),
            (d(2025, 9, 1), Status::Due),
            (d(2026, 2, 28), Status::Due),
            (d(2026, 3, 1), Status::Overdue),
            (d(2043, 2, 28), Status::Overdue),
            (d(2043, 3, 1), Status::Missed),
        ];
        for (today, status) in cases {
            let list = vaccine_due(&e, birth, Some(Sex::Male), &doses, today);
            let hepb3 = entry(&list, "hepb", 3).unwrap();
            assert_eq!(hepb3.status, status, "{today}");
            assert_eq!(
                (hepb3.due_from, hepb3.due_by),
                (d(2025, 9, 1), d(2026, 2, 28))
            );
            assert!(entry(&list, "hepb", 1).is_none() && entry(&list, "hepb", 2).is_none());
        }
    }

    #[test]
    fn a_newborn_has_every_dose_ahead_and_the_birth_doses_due() {
        let e = edition_2026();
        let birth = d(2026, 7, 1);
        let list = vaccine_due(&e, birth, Some(Sex::Female), &[], birth);
        let hepb1 = entry(&list, "hepb", 1).unwrap();
        assert_eq!((hepb1.status, hepb1.due_by), (Status::Due, d(2026, 7, 2)));
        assert_eq!(entry(&list, "bcg", 1).unwrap().due_by, d(2026, 9, 30));
        assert_eq!(entry(&list, "polio", 1).unwrap().vaccine, Vaccine::Ipv);
        assert_eq!(entry(&list, "polio", 3).unwrap().vaccine, Vaccine::Bopv);
        // Live JE and live hepatitis A by default; the inactivated choices are not listed.
        assert!(entry(&list, "je_l", 2).is_some() && entry(&list, "je_i", 1).is_none());
        assert!(entry(&list, "hepa_l", 1).is_some() && entry(&list, "hepa_i", 1).is_none());
        let hpv1 = entry(&list, "hpv", 1).unwrap();
        assert_eq!(
            (hpv1.due_from, hpv1.status),
            (d(2039, 7, 1), Status::Upcoming)
        );
        // Sorted by due_from, none before birth.
        assert!(list.windows(2).all(|w| w[0].due_from <= w[1].due_from));
        assert!(
            list.iter()
                .all(|e| e.due_from >= birth && e.due_by >= e.due_from)
        );
        // A boy is not offered HPV, nor a child whose sex is unknown.
        for sex in [Some(Sex::Male), None] {
            let list = vaccine_due(&e, birth, sex, &[], birth);
            assert!(entry(&list, "hpv", 1).is_none(), "{sex:?}");
        }
    }

    #[test]
    fn dtap_follows_the_edition() {
        let birth = d(2025, 1, 15);
        let on = d(2025, 1, 15);
        // 2021: 3, 4, 5, 18 months and a DT at 6 years.
        let old = vaccine_due(&edition_2021(), birth, Some(Sex::Male), &[], on);
        let ages: Vec<NaiveDate> = (1..=4)
            .map(|k| entry(&old, "dtp", k).unwrap().due_from)
            .collect();
        assert_eq!(
            ages,
            [
                d(2025, 4, 15),
                d(2025, 5, 15),
                d(2025, 6, 15),
                d(2026, 7, 15)
            ]
        );
        assert!(entry(&old, "dtp", 5).is_none());
        assert_eq!(entry(&old, "dt", 1).unwrap().due_from, d(2031, 1, 15));
        // From 2025: 2, 4, 6, 18 months and 6 years, no DT.
        let new = vaccine_due(&edition_2025(), birth, Some(Sex::Male), &[], on);
        let ages: Vec<NaiveDate> = (1..=5)
            .map(|k| entry(&new, "dtp", k).unwrap().due_from)
            .collect();
        assert_eq!(
            ages,
            [
                d(2025, 3, 15),
                d(2025, 5, 15),
                d(2025, 7, 15),
                d(2026, 7, 15),
                d(2031, 1, 15)
            ]
        );
        assert_eq!(entry(&new, "dtp", 5).unwrap().due_by, d(2032, 1, 14));
        assert!(entry(&new, "dt", 1).is_none());
    }

    #[test]
    fn children_who_started_under_2021_continue_under_2025() {
        let birth = d(2018, 5, 10);
        let mut doses = vec![
            given(Vaccine::Dtap, 2018, 8, 10),
            given(Vaccine::Dtap, 2018, 9, 10),
            given(Vaccine::Dtap, 2018, 10, 10),
            given(Vaccine::Dtap, 2019, 11, 10),
        ];
        let today = d(2025, 3, 1);
        let list = vaccine_due(&edition_2025(), birth, Some(Sex::Female), &doses, today);
        let dtp5 = entry(&list, "dtp", 5).unwrap();
        assert_eq!(
            (dtp5.vaccine, dtp5.due_from, dtp5.status),
            (Vaccine::Dtap, d(2024, 5, 10), Status::Due)
        );
        // A DT given at 6 under the old table counts as dose 5.
        doses.push(given(Vaccine::Dt, 2024, 6, 1));
        let list = vaccine_due(&edition_2025(), birth, Some(Sex::Female), &doses, today);
        assert!(entry(&list, "dtp", 5).is_none());
    }

    #[test]
    fn only_missing_doses_are_caught_up_with_the_catch_up_product_at_its_age() {
        let birth = d(2016, 1, 1);
        let doses = [
            given(Vaccine::Dtap, 2016, 4, 1),
            given(Vaccine::Dtap, 2016, 5, 1),
        ];
        let today = d(2025, 6, 1);
        let list = vaccine_due(&edition_2025(), birth, Some(Sex::Male), &doses, today);
        let dtp: Vec<(u8, Vaccine, Status)> = list
            .iter()
            .filter(|e| e.series == "dtp")
            .map(|e| (e.dose, e.vaccine, e.status))
            .collect();
        assert_eq!(
            dtp,
            [
                (3, Vaccine::Dt, Status::Overdue),
                (4, Vaccine::Dt, Status::Upcoming),
                (5, Vaccine::Dt, Status::Upcoming),
            ]
        );
        // Dose 4 waits 6 months after dose 3, projected from dose 3's earliest day.
        assert_eq!(entry(&list, "dtp", 4).unwrap().due_from, d(2025, 12, 1));
    }

    #[test]
    fn the_2026_edition_brings_hpv_and_a_later_mpsv_a_dose_2() {
        let girl = d(2014, 5, 1);
        let today = d(2027, 5, 10);
        let e26 = edition_2026();
        let list = vaccine_due(&e26, girl, Some(Sex::Female), &[], today);
        let hpv1 = entry(&list, "hpv", 1).unwrap();
        assert_eq!(
            (hpv1.status, hpv1.due_from, hpv1.due_by, hpv1.until),
            (Status::Due, d(2027, 5, 1), d(2028, 4, 30), d(2028, 5, 1))
        );
        assert!(
            vaccine_due(&edition_2025(), girl, Some(Sex::Female), &[], today)
                .iter()
                .all(|e| e.series != "hpv")
        );
        // After dose 1: dose 2 six months later, timely within 12 months of dose 1.
        let doses = [given(Vaccine::Hpv2, 2027, 5, 10)];
        let list = vaccine_due(&e26, girl, Some(Sex::Female), &doses, d(2027, 6, 1));
        let hpv2 = entry(&list, "hpv", 2).unwrap();
        assert_eq!(
            (hpv2.status, hpv2.due_from, hpv2.due_by),
            (Status::Upcoming, d(2027, 11, 10), d(2028, 5, 9))
        );
        // Past 14 without a first dose: missed.
        let list = vaccine_due(&e26, girl, Some(Sex::Female), &[], d(2028, 5, 1));
        assert_eq!(entry(&list, "hpv", 1).unwrap().status, Status::Missed);
        // MPSV-A dose 2: before 18 months in 2021, before 24 months in 2026.
        let birth = d(2024, 1, 1);
        let doses = [given(Vaccine::MenA, 2024, 7, 1)];
        let by = |e: &Edition| {
            entry(
                &vaccine_due(e, birth, None, &doses, d(2024, 10, 1)),
                "mpsv_a",
                2,
            )
            .unwrap()
            .due_by
        };
        assert_eq!(by(&edition_2021()), d(2025, 6, 30));
        assert_eq!(by(&e26), d(2025, 12, 31));
    }

    #[test]
    fn injected_live_vaccines_not_given_together_wait_28_days() {
        let birth = d(2025, 3, 1);
        // MMR at 8 months, JE-L not given that day.
        let doses = [given(Vaccine::Mmr, 2025, 11, 1)];
        let list = vaccine_due(&edition_2025(), birth, None, &doses, d(2025, 11, 10));
        let je = entry(&list, "je_l", 1).unwrap();
        assert_eq!(
            (je.due_from, je.status),
            (d(2025, 11, 29), Status::Upcoming)
        );
        // bOPV (oral) and inactivated vaccines are not held back.
        assert_eq!(entry(&list, "mpsv_a", 1).unwrap().status, Status::Overdue);
        // After the 28 days the JE dose is due from its age again.
        let list = vaccine_due(&edition_2025(), birth, None, &doses, d(2025, 12, 1));
        assert_eq!(entry(&list, "je_l", 1).unwrap().due_from, d(2025, 11, 1));
    }

    #[test]
    fn a_started_alternative_continues() {
        let birth = d(2024, 1, 1);
        let doses = [given(Vaccine::JeInactivated, 2024, 9, 1)];
        let list = vaccine_due(&edition_2025(), birth, None, &doses, d(2024, 9, 3));
        assert!(list.iter().all(|e| e.series != "je_l"));
        let je2 = entry(&list, "je_i", 2).unwrap();
        assert_eq!(
            (je2.due_from, je2.status),
            (d(2024, 9, 8), Status::Upcoming)
        );
    }

    #[test]
    fn missed_doses_drop_off_after_a_year() {
        let birth = d(2020, 1, 1);
        let bcg = |today| {
            entry(
                &vaccine_due(&edition_2025(), birth, None, &[], today),
                "bcg",
                1,
            )
            .map(|e| e.status)
        };
        assert_eq!(bcg(d(2023, 12, 31)), Some(Status::Overdue));
        assert_eq!(bcg(d(2024, 1, 1)), Some(Status::Missed));
        assert_eq!(bcg(d(2024, 12, 30)), Some(Status::Missed));
        assert_eq!(bcg(d(2024, 12, 31)), None);
    }

    #[test]
    fn doses_that_break_the_rules_are_reported() {
        let e25 = edition_2025();
        let birth = d(2025, 3, 1);
        let hepb = [
            given(Vaccine::HepB, 2025, 3, 1),
            given(Vaccine::HepB, 2025, 4, 1),
        ];
        let check =
            |given: &[Dose], new: Dose| check_dose(&e25, birth, Some(Sex::Male), given, new);
        assert_eq!(check(&hepb, given(Vaccine::HepB, 2025, 9, 1)), []);
        assert_eq!(
            check(&[], given(Vaccine::HepB, 2025, 2, 28)),
            [DoseProblem::BeforeBirth]
        );
        assert_eq!(
            check(&hepb[..1], given(Vaccine::HepB, 2025, 3, 20)),
            [
                DoseProblem::BeforeMinimumAge {
                    series: "hepb",
                    dose: 2,
                    min_age: Offset::Months(1),
                    earliest: d(2025, 4, 1),
                },
                DoseProblem::TooSoonAfterDose {
                    series: "hepb",
                    dose: 1,
                    given_on: d(2025, 3, 1),
                    earliest: d(2025, 3, 29),
                },
            ]
        );
        assert_eq!(
            check(&hepb, given(Vaccine::HepB, 2025, 4, 1)),
            [DoseProblem::Duplicate {
                vaccine: Vaccine::HepB
            }]
        );
        let complete = [hepb[0], hepb[1], given(Vaccine::HepB, 2025, 9, 1)];
        assert_eq!(
            check(&complete, given(Vaccine::HepB, 2026, 1, 1)),
            [DoseProblem::NotNeeded {
                vaccine: Vaccine::HepB
            }]
        );
        assert_eq!(
            check(&[], given(Vaccine::Dtap, 2025, 3, 20)),
            [DoseProblem::BeforeMinimumAge {
                series: "dtp",
                dose: 1,
                min_age: Offset::Months(2),
                earliest: d(2025, 5, 1),
            }]
        );
        assert_eq!(
            check(&[], given(Vaccine::Hpv2, 2038, 3, 1)),
            [DoseProblem::NotInSchedule {
                vaccine: Vaccine::Hpv2
            }]
        );
        let e26 = edition_2026();
        assert_eq!(
            check_dose(
                &e26,
                birth,
                Some(Sex::Male),
                &[],
                given(Vaccine::Hpv2, 2038, 3, 1)
            ),
            [DoseProblem::NotForSex {
                vaccine: Vaccine::Hpv2
            }]
        );
        // Two injected live vaccines: the same day is fine, 9 days apart is not.
        let mmr = [given(Vaccine::Mmr, 2025, 11, 1)];
        assert_eq!(check(&mmr, given(Vaccine::JeLive, 2025, 11, 1)), []);
        assert_eq!(
            check(&mmr, given(Vaccine::JeLive, 2025, 11, 10)),
            [DoseProblem::TooCloseToLiveVaccine {
                other: Vaccine::Mmr,
                given_on: d(2025, 11, 1),
                gap_days: 28,
            }]
        );
        // A backdated JE-L entry 5 days before an MMR is flagged too (and is too young).
        assert!(
            check(&mmr, given(Vaccine::JeLive, 2025, 10, 27))
                .iter()
                .any(|p| matches!(p, DoseProblem::TooCloseToLiveVaccine { .. }))
        );
        // bOPV is oral: no 28-day rule.
        let polio = [
            given(Vaccine::Ipv, 2025, 5, 1),
            given(Vaccine::Ipv, 2025, 6, 1),
        ];
        assert_eq!(
            check(
                &[polio[0], polio[1], given(Vaccine::Mmr, 2025, 11, 1)],
                given(Vaccine::Bopv, 2025, 11, 5)
            ),
            []
        );
        // A DTaP at 8 years should be DT; past 12 years nothing is caught up.
        assert_eq!(
            check(&[], given(Vaccine::Dtap, 2033, 3, 1)),
            [DoseProblem::UseInstead {
                vaccine: Vaccine::Dt
            }]
        );
        assert_eq!(
            check(&[], given(Vaccine::Dt, 2037, 3, 1)),
            [DoseProblem::PastCatchUpAge {
                until: d(2037, 3, 1)
            }]
        );
    }

    #[test]
    fn every_problem_has_both_messages() {
        let problems = [
            DoseProblem::BeforeBirth,
            DoseProblem::NotInSchedule {
                vaccine: Vaccine::Hpv2,
            },
            DoseProblem::NotForSex {
                vaccine: Vaccine::Hpv2,
            },
            DoseProblem::Duplicate {
                vaccine: Vaccine::HepB,
            },
            DoseProblem::NotNeeded {
                vaccine: Vaccine::HepB,
            },
            DoseProblem::BeforeMinimumAge {
                series: "dtp",
                dose: 1,
                min_age: Offset::Months(2),
                earliest: d(2025, 5, 1),
            },
            DoseProblem::TooSoonAfterDose {
                series: "hepb",
                dose: 1,
                given_on: d(2025, 3, 1),
                earliest: d(2025, 3, 29),
            },
            DoseProblem::TooCloseToLiveVaccine {
                other: Vaccine::Mmr,
                given_on: d(2025, 11, 1),
                gap_days: 28,
            },
            DoseProblem::PastCatchUpAge {
                until: d(2037, 3, 1),
            },
            DoseProblem::UseInstead {
                vaccine: Vaccine::Dt,
            },
        ];
        for p in problems {
            assert!(
                !p.message_zh().is_empty() && !p.message_en().is_empty(),
                "{p:?}"
            );
        }
        assert_eq!(
            DoseProblem::BeforeMinimumAge {
                series: "dtp",
                dose: 1,
                min_age: Offset::Months(2),
                earliest: d(2025, 5, 1),
            }
            .message_zh(),
            "第1剂的最小接种年龄为2月龄，最早 2025-05-01 可接种。"
        );
    }

    #[test]
    fn editions_are_consistent() {
        for e in editions() {
            for s in &e.series {
                assert!(!s.doses.is_empty(), "{} {}", e.code, s.code);
                for (k, rule) in s.doses.iter().enumerate() {
                    assert!(!rule.products.is_empty());
                    for gap in &rule.after {
                        let target = e.series(gap.series).unwrap_or_else(|| {
                            panic!(
                                "{} {} dose {}: no series {}",
                                e.code,
                                s.code,
                                k + 1,
                                gap.series
                            )
                        });
                        assert!(usize::from(gap.dose) <= target.doses.len());
                        if gap.series == s.code {
                            assert!(usize::from(gap.dose) <= k, "{} gap to a later dose", s.code);
                        }
                    }
                }
            }
        }
        for v in Vaccine::ALL {
            assert_eq!(Vaccine::parse(v.code()), Some(v));
        }
    }

    fn any_date() -> impl proptest::strategy::Strategy<Value = NaiveDate> {
        use proptest::strategy::Strategy;
        // 1990-01-01 .. 2060-12-31.
        (726_468i32..752_364).prop_map(|n| NaiveDate::from_num_days_from_ce_opt(n).unwrap())
    }

    fn any_dose() -> impl proptest::strategy::Strategy<Value = Dose> {
        use proptest::strategy::Strategy;
        ((0usize..Vaccine::ALL.len()), any_date()).prop_map(|(i, date)| Dose {
            vaccine: Vaccine::ALL[i],
            date,
        })
    }

    proptest::proptest! {
        #[test]
        fn vaccine_due_never_panics_is_deterministic_and_never_before_birth(
            birth in any_date(),
            today in any_date(),
            female in proptest::bool::ANY,
            mut doses in proptest::collection::vec(any_dose(), 0..12),
            edition in 0usize..3,
        ) {
            let e = &editions()[edition];
            let sex = Some(if female { Sex::Female } else { Sex::Male });
            let list = vaccine_due(e, birth, sex, &doses, today);
            for due in &list {
                proptest::prop_assert!(due.due_from >= birth);
                proptest::prop_assert!(due.due_by >= due.due_from);
            }
            doses.reverse();
            proptest::prop_assert_eq!(&vaccine_due(e, birth, sex, &doses, today), &list);
        }

        #[test]
        fn check_dose_never_panics(
            birth in any_date(),
            doses in proptest::collection::vec(any_dose(), 0..12),
            new in any_dose(),
        ) {
            for e in editions() {
                for p in check_dose(&e, birth, None, &doses, new) {
                    proptest::prop_assert!(!p.message_zh().is_empty());
                }
            }
        }
    }
}
