//! The demo county (演示县): 环江毛南族自治县, GB/T 2260 code 451226, under 河池市 (4512)
//! under 广西壮族自治区 (45).
//!
//! [`build`] fills an empty store with a synthetic but plausible county, the same on every
//! run (a fixed-seed SplitMix64; no `rand` dependency for a few lines of arithmetic):
//! - divisions: the province and prefecture above, the county, its 12 real townships
//!   (镇 and 乡), 8–14 villages (村) per township and three communities (社区) in the seat
//!   思恩镇;
//! - institutions of every type: the health bureau, the county people's hospital and the
//!   TCM hospital each leading a medical community (医共体), the maternal and child health
//!   hospital, the CDC, one health centre (卫生院) per township, a community health centre
//!   in 思恩镇, one clinic (卫生室) per village and two private clinics;
//! - a user for every role, all with the password [`DEMO_PASSWORD`];
//! - households (户) and their residents ([`Generator`]): householder first, relations by
//!   GB/T 4761, valid and unique ID-card numbers (GB 11643), names common in Huanjiang,
//!   mobile numbers (children get a parent's as their contact), WS 365 basic data, chronic
//!   conditions at the prevalence below, and their key groups (`yiwei_domain::key_group`):
//!   those that follow from conditions, disability, pregnancy and poverty are stored in
//!   `details.key_groups` (the facts behind them in `details.profile`); the age groups
//!   (65+, 0–6) are not stored, because the record pages and the contract coverage derive
//!   them from the birth date, so that they never go stale.
//!
//! The township names are real. Their 统计用区划代码 were not available offline, so the codes
//! follow the NBS convention instead of the published table: 镇 `1xx`, 乡 `2xx`, 居委会
//! (社区) `0xx`, 村委会 `2xx`. Village names are generated.
//!
//! # Size and write path
//!
//! By default every village and community gets [`DemoOptions::residents_per_village`]
//! residents, and each household and resident is written and audited one by one, as if
//! typed in (`resident::create_household`). With [`DemoOptions::residents`] the county has
//! that many residents in total, spread over the villages by a log-normal village size
//! (σ = 0.5, communities of the seat twice the weight), and they are bulk-loaded through
//! `resident::insert_household_batch`: [`DemoOptions::batch_size`] residents per
//! transaction and one audit event per batch. Residents are generated as a stream, village
//! by village; only the current batch is in memory, never the county. A county too large
//! for 14 villages a township gets more villages, about [`VILLAGE_SIZE`] people each
//! (Guangxi's administrative villages average roughly that many registered residents (B)),
//! up to 98 a township, the most the record-number scheme can number.
//!
//! # What the people are based on
//!
//! (C) marks a figure checked here against a public copy of its source; (B) marks
//! background knowledge that could not be checked offline and is given as remembered.
//! Prevalences are per person at the reference date; the generated county reproduces them
//! within sampling error (see the tests).
//!
//! - **Age.** Guangxi at the 7th census (2020): 0–14 years 23.6%, 15–59 59.7%, 60+ 16.7%,
//!   65+ 12.2% (广西壮族自治区第七次全国人口普查公报 (C)). Rural China is older (60+ 23.8%,
//!   65+ 17.7% (B)), and a mountain county like Huanjiang sends its young adults to work in
//!   Guangdong while their children and parents stay. The households below give about 20%
//!   aged 0–14, 20% aged 60+, 15% aged 65+, with a hollow at 20–34.
//! - **Sex.** Guangxi's sex ratio was 107 men per 100 women in 2020 (C), higher among
//!   children (Guangxi's sex ratio at birth was among China's highest (B)); here about 110,
//!   with more women among the oldest.
//! - **Households.** Guangxi's family households averaged 2.87 people in 2020 (C); a
//!   registered rural household (户籍户), which keeps the members working away, is larger:
//!   here about 3.5, from four kinds: a couple with children (40%), three generations
//!   (32%; one in five through a daughter and a son-in-law who married in, 上门女婿, common
//!   among the Zhuang and Maonan (B)), old people alone or as a couple (16%), single
//!   adults (12%).
//! - **Hypertension.** China Hypertension Survey 2012–2015: 23.2% of adults (weighted),
//!   rising from about 5% under 35 to over half after 65 (Wang Z et al., Circulation 2018
//!   (B)); the basic public health service counts the managed, diagnosed patients, fewer
//!   than the survey finds. Here 2% at 18–34, 9% at 35–44, 20% at 45–54, 32% at 55–64,
//!   40% at 65–74 and 45% from 75: about 25% of adults aged 35 and over.
//! - **Type 2 diabetes.** 10.9% of adults in 2013 (Wang L et al., JAMA 2017 (B)), 11.2% in
//!   2015–2017 (Li Y et al., BMJ 2020 (B)), lower in rural areas. Here 1.5% at 18–34, 5% at
//!   35–44, 10% at 45–54, 15% at 55–64 and 18% from 65: about 9% of adults.
//! - **Severe mental disorders** (the six managed under the 规范): about 0.5% of people
//!   aged 15 and over, near the national registration of roughly 4.5 per 1,000 people
//!   (B); schizophrenia is most of them.
//! - **Pulmonary tuberculosis** under treatment: 4 in 10,000 adults (China notifies about
//!   50–60 cases per 100,000 a year, Guangxi more (B); treatment lasts six months or more).
//! - **Disability**: 6.34% of people in the second national sample survey on disability,
//!   2006 (B), mostly old people: here 1% under 15, 4% at 15–59, 12% at 60–79, 30% from 80.
//! - **Pregnancy**: Guangxi's birth rate was about 11 per 1,000 in 2020 (B); here 6% of
//!   women aged 20–39 are pregnant or postpartum.
//! - **Poverty**: Huanjiang was a national poverty county until 2020 (B). Here 20% of
//!   households are 脱贫户 (three in four still receiving support) and 2% are monitored
//!   against relapse (风险未消除) — an assumption, not a published figure.
//! - **Ethnicity**: Zhuang 62%, Maonan 17%, Han 12%, Yao 4%, Miao 3%, other 2% — rough
//!   shares for the only Maonan autonomous county (B), drawn per household.
//! - Blood group (A 26%, B 23%, O 45%, AB 6%; Rh-negative 0.4% (B)), education by birth
//!   cohort, occupation and marital status by age are plausible, not sourced.
//!
//! Ages and key groups are as of [`reference_date`], not today, so that the county is the
//! same whenever it is built.

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use chrono::{Datelike, NaiveDate};
use serde_json::json;
use yiwei_domain::access::Role;
use yiwei_domain::division::{DivisionCode, Level};
use yiwei_domain::id_card::check_char;
use yiwei_domain::key_group::{self, Condition, Facts, KeyGroup, PovertyStatus};
use yiwei_domain::org::InstitutionKind;
use yiwei_domain::ws365::Disability;
use yiwei_store::audit::Who;
use yiwei_store::division::{self, Division};
use yiwei_store::org::{self, NewInstitution};
use yiwei_store::resident::{self, Details, NewHousehold, NewResident};
use yiwei_store::user::{self, NewUser};
use yiwei_store::{Store, backup};

/// The password of every demo account. Printed at start; a demo password, never for a
/// real installation.
pub const DEMO_PASSWORD: &str = "yiwei-demo-2026";

/// The demo county's GB/T 2260 code.
pub const COUNTY_CODE: &str = "451226";
pub const COUNTY_NAME: &str = "环江毛南族自治县";

/// The usual number of registered residents of a village when the county is large enough
/// to need more villages than the default 8–14 a township.
pub const VILLAGE_SIZE: u64 = 2_700;

/// The most villages a township can have: 村委会 codes 201–298 are the ones the 17-digit
/// record number can number (`yiwei_domain::record_no`).
const MAX_VILLAGES_PER_TOWNSHIP: u64 = 98;

/// Own digits, name, English name. 镇 first (1xx), then 乡 (2xx); 思恩镇 is the seat.
const TOWNSHIPS: [(&str, &str, &str); 12] = [
    ("100", "思恩镇", "Si'en Town"),
    ("101", "水源镇", "Shuiyuan Town"),
    ("102", "洛阳镇", "Luoyang Town"),
    ("103", "川山镇", "Chuanshan Town"),
    ("104", "明伦镇", "Minglun Town"),
    ("105", "东兴镇", "Dongxing Town"),
    ("200", "大才乡", "Dacai Township"),
    ("201", "下南乡", "Xianan Township"),
    ("202", "大安乡", "Da'an Township"),
    ("203", "长美乡", "Changmei Township"),
    ("204", "龙岩乡", "Longyan Township"),
    ("205", "驯乐苗族乡", "Xunle Miao Ethnic Township"),
];

/// The seat's communities (社区, 居委会 codes 001–003).
const COMMUNITIES: [(&str, &str); 3] = [
    ("城东社区", "Chengdong Community"),
    ("城西社区", "Chengxi Community"),
    ("城南社区", "Chengnan Community"),
];

/// Syllables of generated village names, with pinyin for the English name.
const SYLLABLES: [(&str, &str); 40] = [
    ("上", "shang"),
    ("下", "xia"),
    ("长", "chang"),
    ("龙", "long"),
    ("凤", "feng"),
    ("福", "fu"),
    ("新", "xin"),
    ("和", "he"),
    ("平", "ping"),
    ("安", "an"),
    ("清", "qing"),
    ("石", "shi"),
    ("岩", "yan"),
    ("江", "jiang"),
    ("坡", "po"),
    ("洞", "dong"),
    ("岭", "ling"),
    ("桥", "qiao"),
    ("塘", "tang"),
    ("花", "hua"),
    ("才", "cai"),
    ("南", "nan"),
    ("北", "bei"),
    ("文", "wen"),
    ("东", "dong"),
    ("西", "xi"),
    ("高", "gao"),
    ("田", "tian"),
    ("山", "shan"),
    ("水", "shui"),
    ("木", "mu"),
    ("同", "tong"),
    ("兴", "xing"),
    ("仁", "ren"),
    ("义", "yi"),
    ("德", "de"),
    ("良", "liang"),
    ("明", "ming"),
    ("中", "zhong"),
    ("古", "gu"),
];

/// Surnames in Huanjiang with relative weights: the 毛南族 and 壮族 surnames 韦, 覃, 谭,
/// 蒙, 卢 and their neighbours first, then common Han surnames. Several sound alike (韦 魏,
/// 覃 秦, 蒙 孟, 卢 陆, 吴 伍), as they do in a real county.
pub const SURNAMES: [(&str, u64); 44] = [
    ("韦", 120),
    ("覃", 100),
    ("谭", 90),
    ("蒙", 70),
    ("卢", 50),
    ("吴", 45),
    ("莫", 45),
    ("黄", 45),
    ("罗", 35),
    ("欧", 30),
    ("袁", 25),
    ("潘", 25),
    ("李", 25),
    ("谢", 20),
    ("兰", 20),
    ("梁", 20),
    ("何", 20),
    ("蓝", 15),
    ("杨", 15),
    ("王", 15),
    ("陈", 15),
    ("陆", 12),
    ("廖", 12),
    ("银", 10),
    ("刘", 10),
    ("张", 10),
    ("周", 8),
    ("胡", 8),
    ("石", 8),
    ("徐", 6),
    ("林", 6),
    ("赵", 6),
    ("唐", 6),
    ("邓", 6),
    ("严", 5),
    ("方", 5),
    ("苏", 5),
    ("宁", 5),
    ("孟", 4),
    ("秦", 4),
    ("魏", 4),
    ("伍", 4),
    ("盘", 4),
    ("颜", 3),
];

/// Given-name characters by sex and generation (born before 1970, 1970–1999, since 2000).
pub const GIVEN_MALE: [&[&str]; 3] = [
    &[
        "福", "德", "明", "光", "金", "荣", "才", "华", "贵", "生", "发", "忠", "富", "安", "国",
        "正", "文", "永", "长", "成", "桂", "世", "春", "玉", "东", "海", "山", "林", "树", "宝",
    ],
    &[
        "建", "军", "志", "强", "海", "林", "伟", "勇", "斌", "东", "平", "文", "俊", "华", "刚",
        "辉", "明", "杰", "涛", "波", "峰", "鹏", "宏", "亮", "新", "超", "春", "雄", "飞", "龙",
    ],
    &[
        "宇", "浩", "轩", "睿", "杰", "子", "涛", "鑫", "博", "晨", "豪", "然", "铭", "航", "俊",
        "泽", "宸", "皓", "天", "逸", "辰", "嘉", "文", "凯", "瑞", "阳", "宏", "锦", "昊", "毅",
    ],
];
pub const GIVEN_FEMALE: [&[&str]; 3] = [
    &[
        "秀", "英", "桂", "凤", "兰", "珍", "梅", "花", "芳", "玉", "莲", "翠", "香", "妹", "金",
        "春", "月", "琼", "群", "娥", "爱", "菊", "荣", "清", "美", "彩", "素", "丽", "仙", "娇",
    ],
    &[
        "丽", "玲", "红", "艳", "燕", "娟", "霞", "萍", "琴", "美", "春", "丹", "静", "敏", "华",
        "芳", "莉", "梅", "雪", "婷", "兰", "晓", "慧", "颖", "洁", "倩", "微", "青", "云", "凤",
    ],
    &[
        "欣", "怡", "涵", "诗", "雨", "梓", "萱", "琳", "婷", "佳", "彤", "思", "瑶", "雪", "悦",
        "可", "馨", "雅", "妍", "琪", "紫", "晴", "语", "嘉", "一", "子", "若", "楠", "蕾", "月",
    ],
];

/// Mobile prefixes of the three carriers.
const MOBILE_PREFIXES: [&str; 14] = [
    "138", "139", "135", "136", "150", "151", "158", "177", "180", "183", "187", "188", "189",
    "199",
];

/// Ethnicity codes (GB 3304) and weights: Zhuang, Maonan, Han, Yao, Miao, other.
const ETHNICITIES: [(&str, u64); 6] = [
    ("08", 62),
    ("36", 17),
    ("01", 12),
    ("13", 4),
    ("06", 3),
    ("97", 2),
];

/// The six severe mental disorders with their share of registered patients.
const SEVERE_MENTAL: [(Condition, u64); 6] = [
    (Condition::Schizophrenia, 60),
    (Condition::BipolarDisorder, 12),
    (Condition::EpilepsyPsychosis, 10),
    (Condition::IntellectualDisabilityWithPsychosis, 10),
    (Condition::ParanoidPsychosis, 4),
    (Condition::SchizoaffectiveDisorder, 4),
];

/// Kinds of disability and their shares.
const DISABILITIES: [(Disability, u64); 7] = [
    (Disability::Physical, 30),
    (Disability::Hearing, 25),
    (Disability::Visual, 18),
    (Disability::Mental, 9),
    (Disability::Intellectual, 8),
    (Disability::Speech, 2),
    (Disability::Other, 8),
];

/// Ages and key groups are as of this day (the 1st of January of the demo year), so the
/// county is the same whenever it is built.
pub fn reference_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).expect("a valid date")
}

/// SplitMix64 (Steele, Lea and Flood 2014): small, fast, and good enough for synthetic
/// data; not for anything secret.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0). The modulo bias is below 2⁻⁴⁰ for the small
    /// `n` used here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high.saturating_sub(low) + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// The index of a weighted choice.
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut roll = self.below(weights.iter().sum());
        for (idx, w) in weights.iter().enumerate() {
            if roll < *w {
                return idx;
            }
            roll -= w;
        }
        weights.len() - 1
    }
}

impl Rng {
    /// True with probability `per_mille`/1000.
    pub fn chance_per_mille(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// True with probability `per_10k`/10,000.
    pub fn chance_per_10k(&mut self, per_10k: u64) -> bool {
        self.below(10_000) < per_10k
    }

    /// A standard normal draw, near enough (Irwin–Hall: the sum of 12 uniforms, less 6).
    pub fn normal(&mut self) -> f64 {
        (0..12)
            .map(|_| (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
            .sum::<f64>()
            - 6.0
    }
}

/// Unique, valid ID-card numbers (GB 11643) without remembering the numbers issued: a
/// counter per birth date and sex walks the 499 sequence numbers of that day and sex
/// (odd for men, even for women) in an order scrambled per day, so two residents never
/// share a number and the numbers do not all start at 001.
#[derive(Clone, Debug, Default)]
struct IdCards {
    issued: HashMap<(NaiveDate, bool), u16>,
}

/// Sequence numbers per birth date and sex (the third digit's parity carries the sex).
const SEQUENCES_PER_DAY: u64 = 499;

impl IdCards {
    /// A number for someone born on `birth`, or `None` when that day's 499 are used up.
    fn issue(&mut self, birth: NaiveDate, male: bool, seed: u64) -> Option<String> {
        let n = self.issued.entry((birth, male)).or_insert(0);
        if u64::from(*n) >= SEQUENCES_PER_DAY {
            return None;
        }
        let k = u64::from(*n);
        *n += 1;
        let mut mix = Rng::new(seed ^ ((birth.num_days_from_ce() as u64) << 1) ^ u64::from(male));
        let h = mix.next_u64();
        // 499 is prime: any stride in 1..499 visits every index once.
        let (start, stride) = (
            h % SEQUENCES_PER_DAY,
            1 + (h >> 32) % (SEQUENCES_PER_DAY - 1),
        );
        let index = (start + k * stride) % SEQUENCES_PER_DAY;
        let seq = 2 * index + if male { 1 } else { 2 };
        let body = format!("{COUNTY_CODE}{}{seq:03}", birth.format("%Y%m%d"));
        Some(format!("{body}{}", check_char(&body)))
    }
}

/// One member of a household being planned.
#[derive(Clone, Copy, Debug)]
struct Member {
    age: u32,
    male: bool,
    /// GB/T 4761 relation to the householder.
    relation: &'static str,
    /// Index into [`SURNAMES`].
    surname: usize,
}

/// Facts shared by a household: its ethnicity and poverty status.
struct HouseholdFacts {
    ethnicity: &'static str,
    poverty: Option<PovertyStatus>,
}

/// The generator of households and residents (see the module documentation for what the
/// figures are based on). Deterministic for a seed.
#[derive(Clone, Debug)]
pub struct Generator {
    rng: Rng,
    seed: u64,
    cards: IdCards,
}

/// The index of a generation in [`GIVEN_MALE`] and [`GIVEN_FEMALE`].
fn generation(birth_year: i32) -> usize {
    match birth_year {
        ..1970 => 0,
        1970..2000 => 1,
        _ => 2,
    }
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator {
            rng: Rng::new(seed),
            seed,
            cards: IdCards::default(),
        }
    }

    /// The random source, for the choices the county builder makes itself.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    fn surname(&mut self) -> usize {
        self.rng.weighted(&SURNAMES.map(|s| s.1))
    }

    /// Someone `age` years old married to someone of `age` and sex `male`: husbands are a
    /// few years older.
    fn spouse_age(&mut self, age: u32, male: bool) -> u32 {
        let gap = self.rng.between(0, 5) as u32;
        if male {
            age.saturating_sub(gap).max(20)
        } else {
            (age + gap).min(99)
        }
    }

    /// Ages, sexes, relations and surnames of one household, householder first.
    fn plan(&mut self) -> Vec<Member> {
        let family = self.surname();
        let mut out = Vec::with_capacity(6);
        let mut add = |age: u32, male: bool, relation: &'static str, surname: usize| {
            out.push(Member {
                age,
                male,
                relation,
                surname,
            })
        };
        match self.rng.weighted(&[40, 32, 16, 12]) {
            // A couple with their children.
            0 => {
                let h = self.rng.between(27, 56) as u32;
                let male = self.rng.chance(85);
                add(h, male, "02", family);
                let mother = if self.rng.chance(92) {
                    let s = self.spouse_age(h, male);
                    let other = self.surname();
                    add(s, !male, "10", other);
                    if male { s } else { h }
                } else if male {
                    h.saturating_sub(3)
                } else {
                    h
                };
                let children = [0, 1, 2, 3][self.rng.weighted(&[4, 22, 46, 28])];
                for _ in 0..children {
                    let gap = self.rng.between(20, 36) as u32;
                    if mother >= gap {
                        let son = self.rng.chance(53);
                        add(mother - gap, son, if son { "20" } else { "30" }, family);
                    }
                }
            }
            // Three generations: the householder's couple, a married child, grandchildren,
            // and now and then the householder's widowed parent.
            1 => {
                let h = self.rng.between(48, 76) as u32;
                let male = self.rng.chance(90);
                add(h, male, "02", family);
                if self.rng.chance(85) {
                    let s = self.spouse_age(h, male);
                    let other = self.surname();
                    add(s, !male, "10", other);
                }
                let child = (h - self.rng.between(22, 32) as u32).max(18);
                let mother = if self.rng.chance(80) {
                    add(child, true, "20", family);
                    if self.rng.chance(78) {
                        let wife = child.saturating_sub(self.rng.between(0, 4) as u32).max(18);
                        let other = self.surname();
                        add(wife, false, "38", other);
                        wife
                    } else {
                        child.saturating_sub(2)
                    }
                } else {
                    // A daughter whose husband married into the family (上门女婿).
                    add(child, false, "30", family);
                    if self.rng.chance(80) {
                        let husband = (child + self.rng.between(0, 4) as u32).min(99);
                        let other = self.surname();
                        add(husband, true, "28", other);
                    }
                    child
                };
                let grandchildren = [1, 2, 3][self.rng.weighted(&[25, 50, 25])];
                for _ in 0..grandchildren {
                    let gap = self.rng.between(20, 34) as u32;
                    if mother >= gap {
                        let male = self.rng.chance(53);
                        add(mother - gap, male, "40", family);
                    }
                }
                if self.rng.chance(12) {
                    let age = (h + self.rng.between(22, 30) as u32).min(99);
                    let father = self.rng.chance(25);
                    let surname = if father { family } else { self.surname() };
                    add(age, father, "50", surname);
                }
            }
            // Old people alone or as a couple, their children gone.
            2 => {
                let h = self.rng.between(60, 92) as u32;
                let male = self.rng.chance(65);
                add(h, male, "02", family);
                if h < 88 && self.rng.chance(65) {
                    let s = self.spouse_age(h, male);
                    let other = self.surname();
                    add(s, !male, "10", other);
                }
            }
            // A single adult: a young man or woman on their own, or a widow(er).
            _ => {
                let (h, male) = if self.rng.chance(45) {
                    (self.rng.between(22, 55) as u32, self.rng.chance(62))
                } else {
                    (self.rng.between(55, 94) as u32, self.rng.chance(45))
                };
                add(h, male, "02", family);
            }
        }
        out
    }

    fn mobile(&mut self) -> String {
        format!(
            "{}{:08}",
            self.rng.pick(&MOBILE_PREFIXES),
            self.rng.below(100_000_000)
        )
    }

    /// A birth date `age` years before the reference date and the ID-card number that goes
    /// with it; a later day when that day's numbers are used up.
    fn birth_and_card(&mut self, age: u32, male: bool) -> (NaiveDate, String) {
        let year = reference_date().year() - 1 - age as i32;
        let first = NaiveDate::from_ymd_opt(year, 1, 1).expect("a valid year");
        let days = if NaiveDate::from_ymd_opt(year, 12, 31)
            .expect("a valid year")
            .ordinal()
            == 366
        {
            366
        } else {
            365
        };
        let mut day = self.rng.below(days);
        loop {
            let birth = first + chrono::Duration::days(day as i64);
            if let Some(card) = self.cards.issue(birth, male, self.seed) {
                return (birth, card);
            }
            // A full day (499 people of one sex born on it in one county): the next one.
            day = (day + 1) % days;
        }
    }

    /// Conditions of someone `age` years old, at the rates of the module documentation.
    fn conditions(&mut self, age: u32) -> Vec<Condition> {
        let mut out = Vec::new();
        let hypertension = match age {
            ..18 => 0,
            18..35 => 20,
            35..45 => 90,
            45..55 => 200,
            55..65 => 320,
            65..75 => 400,
            _ => 450,
        };
        if self.rng.chance_per_mille(hypertension) {
            out.push(Condition::Hypertension);
        }
        let diabetes = match age {
            ..18 => 0,
            18..35 => 15,
            35..45 => 50,
            45..55 => 100,
            55..65 => 150,
            _ => 180,
        };
        if self.rng.chance_per_mille(diabetes) {
            out.push(Condition::Type2Diabetes);
        }
        if age >= 15 && self.rng.chance_per_10k(50) {
            let idx = self.rng.weighted(&SEVERE_MENTAL.map(|s| s.1));
            out.push(SEVERE_MENTAL[idx].0);
        }
        if age >= 18 && self.rng.chance_per_10k(4) {
            out.push(Condition::Tuberculosis);
        }
        out
    }

    fn disabilities(&mut self, age: u32) -> Vec<Disability> {
        let rate = match age {
            ..15 => 10,
            15..60 => 40,
            60..80 => 120,
            _ => 300,
        };
        if self.rng.chance_per_mille(rate) {
            vec![DISABILITIES[self.rng.weighted(&DISABILITIES.map(|d| d.1))].0]
        } else {
            Vec::new()
        }
    }

    fn education(&mut self, age: u32, birth_year: i32) -> Option<&'static str> {
        let pick = |rng: &mut Rng, options: &[(&'static str, u64)]| {
            options[rng.weighted(&options.iter().map(|o| o.1).collect::<Vec<_>>())].0
        };
        Some(match (age, birth_year) {
            (..6, _) => return None,
            (6..12, _) => "80",
            (12..15, _) => "70",
            (15..18, _) => pick(&mut self.rng, &[("60", 60), ("70", 30), ("50", 10)]),
            (_, ..1960) => pick(
                &mut self.rng,
                &[("90", 30), ("80", 50), ("70", 15), ("60", 5)],
            ),
            (_, 1960..1980) => pick(
                &mut self.rng,
                &[("80", 30), ("70", 50), ("60", 13), ("40", 4), ("30", 3)],
            ),
            (_, 1980..2000) => pick(
                &mut self.rng,
                &[
                    ("80", 8),
                    ("70", 50),
                    ("60", 17),
                    ("50", 7),
                    ("30", 10),
                    ("20", 8),
                ],
            ),
            _ => pick(
                &mut self.rng,
                &[("70", 25), ("60", 30), ("30", 25), ("20", 20)],
            ),
        })
    }

    fn occupation(&mut self, age: u32) -> Option<&'static str> {
        let options: &[(&'static str, u64)] = match age {
            ..16 => return None,
            16..23 => &[("W", 30), ("5", 40), ("6", 20), ("4", 10)],
            23..65 => &[
                ("5", 60),
                ("6", 15),
                ("4", 12),
                ("1", 3),
                ("3", 3),
                ("Y", 7),
            ],
            _ => &[("5", 45), ("W", 55)],
        };
        Some(
            options[self
                .rng
                .weighted(&options.iter().map(|o| o.1).collect::<Vec<_>>())]
            .0,
        )
    }

    fn marital(&mut self, m: &Member, has_spouse: bool) -> &'static str {
        match m.relation {
            _ if m.age < 20 => "10",
            "02" | "10" if has_spouse => "20",
            "38" | "28" => "20",
            "02" if m.age >= 60 => {
                if self.rng.chance(80) {
                    "30"
                } else {
                    "40"
                }
            }
            "50" => "30",
            "20" | "30" if m.age >= 25 && self.rng.chance(70) => "20",
            _ => "10",
        }
    }

    fn blood(&mut self) -> (&'static str, &'static str) {
        if self.rng.chance(30) {
            // Many rural records say 不详.
            return ("5", "3");
        }
        let abo = ["1", "2", "3", "4"][self.rng.weighted(&[26, 23, 45, 6])];
        let rh = if self.rng.chance_per_mille(4) {
            "1"
        } else {
            "2"
        };
        (abo, rh)
    }

    /// One household of `village`, at most `max` people (at least the householder), living
    /// at `address`. Members carry no household id: the store sets it.
    pub fn household(&mut self, village: &DivisionCode, address: &str, max: usize) -> NewHousehold {
        let mut plan = self.plan();
        plan.truncate(max.max(1));
        let roll = self.rng.below(100);
        let facts = HouseholdFacts {
            ethnicity: ETHNICITIES[self.rng.weighted(&ETHNICITIES.map(|e| e.1))].0,
            poverty: match roll {
                0..15 => Some(PovertyStatus::AlleviatedWithPolicy),
                15..20 => Some(PovertyStatus::AlleviatedWithoutPolicy),
                20..22 => Some(PovertyStatus::MonitoredRiskNotEliminated),
                _ => None,
            },
        };
        let has_spouse = plan.iter().any(|m| m.relation == "10");
        let mut members: Vec<NewResident> = Vec::with_capacity(plan.len());
        // Whose phone a member without one gives as contact: the householder's, or the
        // first adult's that has one.
        let mut family_phone: Option<String> = None;
        for m in &plan {
            let r = self.person(village, address, m, &facts, has_spouse, &family_phone);
            if family_phone.is_none() {
                family_phone.clone_from(&r.phone);
            }
            members.push(r);
        }
        NewHousehold {
            division: village.clone(),
            address: address.to_owned(),
            members,
        }
    }

    fn person(
        &mut self,
        village: &DivisionCode,
        address: &str,
        m: &Member,
        facts: &HouseholdFacts,
        has_spouse: bool,
        family_phone: &Option<String>,
    ) -> NewResident {
        let (birth, id_card) = self.birth_and_card(m.age, m.male);
        let chars = if m.male {
            GIVEN_MALE[generation(birth.year())]
        } else {
            GIVEN_FEMALE[generation(birth.year())]
        };
        let n_given = if self.rng.chance(75) { 2 } else { 1 };
        let given: String = (0..n_given).map(|_| *self.rng.pick(chars)).collect();
        let name = format!("{}{given}", SURNAMES[m.surname].0);
        // Children have no phone of their own: the contact is a parent's. Some of the
        // oldest have none at all.
        let own_phone = m.age >= 16 && (m.age < 75 || self.rng.chance(60));
        let (phone, contact_phone) = if own_phone {
            (Some(self.mobile()), None)
        } else {
            let contact = match family_phone {
                Some(p) => p.clone(),
                None => self.mobile(),
            };
            (None, Some(contact))
        };
        let conditions = self.conditions(m.age);
        let disabilities = self.disabilities(m.age);
        let pregnant = !m.male && (20..40).contains(&m.age) && self.rng.chance_per_mille(60);
        let groups = key_group::key_groups(
            &Facts {
                birth_date: Some(birth),
                pregnant,
                conditions: conditions.clone(),
                disabilities: disabilities.clone(),
                poverty_status: facts.poverty,
            },
            reference_date(),
        );
        let mut profile = serde_json::Map::new();
        if !conditions.is_empty() {
            profile.insert(
                "conditions".into(),
                json!(conditions.iter().map(|c| c.code()).collect::<Vec<_>>()),
            );
        }
        if !disabilities.is_empty() {
            profile.insert(
                "disabilities".into(),
                json!(disabilities.iter().map(|d| d.code()).collect::<Vec<_>>()),
            );
        }
        if let Some(p) = facts.poverty {
            profile.insert("poverty_status".into(), json!(p.code()));
        }
        if pregnant {
            profile.insert("pregnant".into(), json!(true));
        }
        let (blood_abo, blood_rh) = self.blood();
        let ethnicity = if m.relation == "10" || m.relation == "38" || m.relation == "28" {
            // Spouses married in: another family, sometimes another people.
            ETHNICITIES[self.rng.weighted(&ETHNICITIES.map(|e| e.1))].0
        } else {
            facts.ethnicity
        };
        let mut payment = vec![
            if (23..60).contains(&m.age) && self.rng.chance(3) {
                "01"
            } else {
                "02"
            }
            .to_owned(),
        ];
        if facts.poverty == Some(PovertyStatus::AlleviatedWithPolicy) {
            payment.push("04".into());
        }
        let education = self.education(m.age, birth.year());
        let occupation = self.occupation(m.age);
        let marital = self.marital(m, has_spouse);
        NewResident {
            division: village.clone(),
            name,
            sex: if m.male { "male" } else { "female" }.into(),
            birth_date: Some(birth),
            id_card: Some(id_card),
            phone,
            contact_phone,
            details: Details {
                relation: Some(m.relation.into()),
                address: address.to_owned(),
                residence_type: Some(if self.rng.chance(96) { "1" } else { "2" }.into()),
                ethnicity: Some(ethnicity.into()),
                blood_abo: Some(blood_abo.into()),
                blood_rh: Some(blood_rh.into()),
                education: education.map(str::to_owned),
                occupation: occupation.map(str::to_owned),
                marital: Some(marital.into()),
                payment,
                // The age groups (65+, 0–6) are derived from the birth date wherever they
                // are shown or counted, never stored, so they cannot go stale.
                key_groups: groups
                    .iter()
                    .filter(|g| !matches!(g, KeyGroup::Elderly65 | KeyGroup::Child0to6))
                    .map(|g| g.code().to_owned())
                    .collect(),
                profile: serde_json::Value::Object(profile),
                ..Details::default()
            },
        }
    }
}

#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Residents per village and community (at least 1: the handy ids need one), written
    /// one by one. Ignored when [`DemoOptions::residents`] is set.
    pub residents_per_village: u32,
    /// Residents of the whole county, spread over the villages by size and bulk-loaded.
    pub residents: Option<u64>,
    /// Villages (村) per township; `None` varies them between 8 and 14, or more for a
    /// county of more than about 450,000 residents.
    pub villages_per_township: Option<u32>,
    /// A village doctor account for every village and community; by default only for the
    /// first village of each township (each account costs an argon2 hash).
    pub all_village_doctors: bool,
    /// Residents per bulk transaction (with [`DemoOptions::residents`]).
    pub batch_size: usize,
    pub seed: u64,
    /// Also build the services on top of the residents: family-doctor teams and contracts,
    /// programme enrolments and visit histories (on by default; `yiwei bench residents`
    /// turns it off to time the residents alone).
    pub services: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            residents_per_village: 6,
            residents: None,
            villages_per_township: None,
            all_village_doctors: false,
            batch_size: 5_000,
            seed: 451_226,
            services: true,
        }
    }
}

/// One demo login to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    pub username: String,
    pub role: Role,
    pub display_name: String,
}

/// A village with the ids a test needs to work in it.
#[derive(Clone, Debug)]
pub struct DemoVillage {
    pub code: DivisionCode,
    pub name: String,
    pub township: DivisionCode,
    /// The village clinic (村卫生室): institution id and code.
    pub clinic_id: i64,
    pub clinic_code: String,
    /// The first resident registered in the village (the first householder).
    pub resident_id: i64,
}

/// What [`build`] made.
#[derive(Clone, Debug)]
pub struct DemoCounty {
    pub county: DivisionCode,
    /// Every account, in the order they were created; all have [`DEMO_PASSWORD`].
    pub logins: Vec<Login>,
    pub townships: Vec<DivisionCode>,
    /// Every village-level division (村 and 社区).
    pub villages: Vec<DivisionCode>,
    pub institutions: usize,
    pub households: usize,
    pub residents: usize,
    /// 思恩镇's first village (451226100201). Its doctor is `village.451226100201` and
    /// `resident.demo` is its first resident.
    pub first_village: DemoVillage,
    /// 思恩镇's second village (451226100202): same township, no village doctor account.
    pub second_village: DemoVillage,
    /// 水源镇's first village (451226101201): another township, outside `doctor.sien`'s
    /// and `team.sien`'s reach.
    pub other_township_village: DemoVillage,
    pub bureau_id: i64,
    pub county_hospital_id: i64,
    pub cdc_id: i64,
    /// 思恩镇中心卫生院, the institution of `doctor.sien` and `team.sien`.
    pub sien_centre_id: i64,
    /// Teams, contracts, enrolments and visit histories.
    pub programmes: crate::demo_programmes::Summary,
}

impl DemoCounty {
    /// The village doctor account of a village (exists for each township's first village,
    /// or for all with [`DemoOptions::all_village_doctors`]).
    pub fn village_doctor(village: &DivisionCode) -> String {
        format!("village.{}", village.as_str())
    }
}

fn code(s: &str) -> DivisionCode {
    DivisionCode::parse(s).expect("demo codes are valid")
}

/// Whether a username belongs to the demo's fixed accounts.
pub fn is_demo_username(username: &str) -> bool {
    matches!(
        username,
        "admin"
            | "analyst"
            | "cdc"
            | "doctor.county"
            | "radiology"
            | "doctor.sien"
            | "team.sien"
            | "resident.demo"
    ) || username
        .strip_prefix("village.")
        .is_some_and(|c| c.starts_with(COUNTY_CODE))
}

fn institution(
    code: &str,
    name: &str,
    name_en: &str,
    kind: InstitutionKind,
    division: &DivisionCode,
    community_id: Option<i64>,
    is_lead: bool,
) -> NewInstitution {
    NewInstitution {
        code: code.into(),
        name: name.into(),
        name_en: name_en.into(),
        kind,
        division: division.clone(),
        community_id,
        is_lead,
    }
}

/// A generated village name (two syllables + 村) not yet in `taken`, with its English name.
fn village_name(rng: &mut Rng, taken: &[String]) -> (String, String) {
    loop {
        let (a, pa) = *rng.pick(&SYLLABLES);
        let (b, pb) = *rng.pick(&SYLLABLES);
        let name = format!("{a}{b}村");
        if a == b || taken.contains(&name) {
            continue;
        }
        // Pinyin puts an apostrophe before a syllable that starts with a, o or e (Xin'an).
        let joint = if pb.starts_with(['a', 'o', 'e']) {
            "'"
        } else {
            ""
        };
        let mut en = format!("{pa}{joint}{pb} Village");
        en[..1].make_ascii_uppercase();
        return (name, en);
    }
}

/// Split `total` residents over villages in proportion to `weights`, at least one each
/// (largest remainders get the rest), so the counts add up exactly.
fn allocate(total: u64, weights: &[f64]) -> Vec<u64> {
    let n = weights.len() as u64;
    let spare = total.saturating_sub(n) as f64;
    let sum: f64 = weights.iter().sum();
    let shares: Vec<f64> = weights.iter().map(|w| spare * w / sum).collect();
    let mut counts: Vec<u64> = shares.iter().map(|s| 1 + s.floor() as u64).collect();
    let mut left = total.saturating_sub(counts.iter().sum());
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let (fa, fb) = (shares[a].fract(), shares[b].fract());
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for idx in order.into_iter().cycle() {
        if left == 0 {
            break;
        }
        counts[idx] += 1;
        left -= 1;
    }
    counts
}

/// A village or community of the county, created before its residents.
struct Place {
    code: DivisionCode,
    name: String,
    township: usize,
    is_village: bool,
    clinic_id: i64,
    clinic_code: String,
    /// Relative size, for [`DemoOptions::residents`].
    weight: f64,
}

/// Residents stored so far: their ids with what was stored. Called after every write.
pub type Stored<'a> = [(i64, &'a NewResident)];

struct Builder<'a, F> {
    store: &'a Store,
    by: Who,
    generator: Generator,
    bulk: bool,
    batch_size: usize,
    /// Households waiting for the next bulk write, and the place of each.
    pending: Vec<NewHousehold>,
    pending_places: Vec<usize>,
    pending_people: usize,
    /// The first resident of each place, once stored.
    first_resident: Vec<Option<i64>>,
    n_institutions: usize,
    n_households: usize,
    n_residents: usize,
    users: Vec<NewUser>,
    on_stored: F,
}

impl<F: FnMut(&Stored<'_>)> Builder<'_, F> {
    async fn division(
        &mut self,
        code: &DivisionCode,
        level: Level,
        name: &str,
        name_en: &str,
    ) -> Result<()> {
        let d = Division {
            code: code.clone(),
            parent: code.parent(),
            level,
            name: name.into(),
            name_en: name_en.into(),
        };
        division::upsert(self.store, &d)
            .await
            .with_context(|| format!("cannot add division {}", code.as_str()))
    }

    async fn institution(&mut self, new: NewInstitution) -> Result<i64> {
        self.n_institutions += 1;
        org::add(self.store, &new)
            .await
            .with_context(|| format!("cannot add institution {}", new.code))
    }

    /// Generate and store `n` residents of `place`, household by household.
    async fn residents(&mut self, place_idx: usize, place: &Place, n: u64) -> Result<()> {
        let mut left = n as usize;
        let mut door = 0u32;
        while left > 0 {
            door += 1;
            // Village groups (村民小组) of about forty households.
            let address = format!("{}{}组{}号", place.name, 1 + door / 40, 1 + door % 40);
            let household = self.generator.household(&place.code, &address, left);
            left -= household.members.len();
            if self.bulk {
                self.pending_people += household.members.len();
                self.pending.push(household);
                self.pending_places.push(place_idx);
                if self.pending_people >= self.batch_size {
                    self.flush().await?;
                }
            } else {
                let ids = resident::create_household(self.store, &household, &self.by)
                    .await
                    .with_context(|| {
                        format!("cannot add a household in {}", place.code.as_str())
                    })?;
                self.stored(place_idx, &household, &ids.members);
            }
        }
        Ok(())
    }

    fn stored(&mut self, place_idx: usize, household: &NewHousehold, ids: &[i64]) {
        self.first_resident[place_idx].get_or_insert(ids[0]);
        self.n_households += 1;
        self.n_residents += ids.len();
        let rows: Vec<(i64, &NewResident)> =
            ids.iter().copied().zip(household.members.iter()).collect();
        (self.on_stored)(&rows);
    }

    /// Write the pending households in one bulk transaction.
    async fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let places = std::mem::take(&mut self.pending_places);
        self.pending_people = 0;
        let stored = resident::insert_household_batch(self.store, &pending, &self.by)
            .await
            .context("cannot bulk-load a batch of households")?;
        for ((place_idx, household), ids) in places.iter().zip(&pending).zip(&stored) {
            self.stored(*place_idx, household, &ids.members);
        }
        Ok(())
    }

    fn user(
        &mut self,
        username: &str,
        display_name: &str,
        role: Role,
        institution_id: i64,
        reach: &DivisionCode,
        resident_id: Option<i64>,
    ) {
        self.users.push(NewUser {
            username: username.into(),
            display_name: display_name.into(),
            role,
            institution_id: Some(institution_id),
            reach: reach.clone(),
            resident_id,
            password: DEMO_PASSWORD.into(),
            phone: None,
        });
    }
}

/// Build the demo county into an empty store; refuses a store that holds anything.
pub async fn build(store: &Store, opts: &DemoOptions) -> Result<DemoCounty> {
    build_with(store, opts, |_| {}).await
}

/// [`build`], calling `on_stored` with every write of residents (a household, or a bulk
/// batch of them): for a progress bar, or to sample the generated people.
pub async fn build_with(
    store: &Store,
    opts: &DemoOptions,
    on_stored: impl FnMut(&Stored<'_>),
) -> Result<DemoCounty> {
    if !backup::is_empty(store).await? {
        bail!("the database already holds data; the demo county goes into an empty one");
    }
    if opts.residents.is_none() && opts.residents_per_village == 0 {
        bail!("the demo county needs at least one resident per village");
    }
    if opts
        .villages_per_township
        .is_some_and(|n| !(2..=199).contains(&n))
    {
        bail!("villages per township must be between 2 and 199 (村委会 codes 201–399)");
    }
    let mut b = Builder {
        store,
        by: Who {
            username: Some("demo".into()),
            role: Some("system".into()),
            ..Who::default()
        },
        generator: Generator::new(opts.seed),
        bulk: opts.residents.is_some(),
        batch_size: opts.batch_size.max(1),
        pending: Vec::new(),
        pending_places: Vec::new(),
        pending_people: 0,
        first_resident: Vec::new(),
        n_institutions: 0,
        n_households: 0,
        n_residents: 0,
        users: Vec::new(),
        on_stored,
    };
    // A large county gets more villages rather than villages of ten thousand people.
    let villages_per_township = opts.villages_per_township.map(u64::from).or_else(|| {
        let total = opts.residents?;
        let townships = TOWNSHIPS.len() as u64;
        (total > townships * 14 * VILLAGE_SIZE)
            .then(|| total.div_ceil(townships * VILLAGE_SIZE))
            .map(|n| n.min(MAX_VILLAGES_PER_TOWNSHIP))
    });
    let county = code(COUNTY_CODE);
    b.division(
        &code("45"),
        Level::Province,
        "广西壮族自治区",
        "Guangxi Zhuang Autonomous Region",
    )
    .await?;
    b.division(&code("4512"), Level::Prefecture, "河池市", "Hechi City")
        .await?;
    b.division(
        &county,
        Level::County,
        COUNTY_NAME,
        "Huanjiang Maonan Autonomous County",
    )
    .await?;

    // 医共体 1 takes the 镇 (1xx) and the MCH hospital, 医共体 2 the 乡 (2xx).
    let hospital_mc = org::add_community(
        store,
        "环江县人民医院医共体",
        "Huanjiang People's Hospital Medical Community",
        &county,
    )
    .await?;
    let tcm_mc = org::add_community(
        store,
        "环江县中医医院医共体",
        "Huanjiang TCM Hospital Medical Community",
        &county,
    )
    .await?;
    use InstitutionKind as K;
    let bureau = b
        .institution(institution(
            "451226-B001",
            "环江县卫生健康局",
            "Huanjiang Health Bureau",
            K::HealthBureau,
            &county,
            None,
            false,
        ))
        .await?;
    let hospital = b
        .institution(institution(
            "451226-H001",
            "环江县人民医院",
            "Huanjiang People's Hospital",
            K::CountyHospital,
            &county,
            Some(hospital_mc),
            true,
        ))
        .await?;
    b.institution(institution(
        "451226-H002",
        "环江县中医医院",
        "Huanjiang Hospital of Traditional Chinese Medicine",
        K::TcmHospital,
        &county,
        Some(tcm_mc),
        true,
    ))
    .await?;
    b.institution(institution(
        "451226-H003",
        "环江县妇幼保健院",
        "Huanjiang Maternal and Child Health Hospital",
        K::MaternalChildHospital,
        &county,
        Some(hospital_mc),
        false,
    ))
    .await?;
    let cdc = b
        .institution(institution(
            "451226-C001",
            "环江县疾病预防控制中心",
            "Huanjiang Center for Disease Control and Prevention",
            K::Cdc,
            &county,
            None,
            false,
        ))
        .await?;
    b.user(
        "admin",
        "县管理员 韦建国",
        Role::CountyAdmin,
        bureau,
        &county,
        None,
    );
    b.user(
        "analyst",
        "统计员 覃丽华",
        Role::Analyst,
        bureau,
        &county,
        None,
    );
    b.user("cdc", "疾控 蒙志强", Role::CdcStaff, cdc, &county, None);
    b.user(
        "doctor.county",
        "县医院 黄明",
        Role::Clinician,
        hospital,
        &county,
        None,
    );
    b.user(
        "radiology",
        "影像科 罗春",
        Role::Radiologist,
        hospital,
        &county,
        None,
    );

    // First the divisions and institutions of every township, then the residents: with a
    // county total, the villages' sizes must be known before anyone is placed.
    let mut townships = Vec::new();
    let mut places: Vec<Place> = Vec::new();
    let mut sien_centre = 0;
    for (t_idx, (digits, name, en)) in TOWNSHIPS.iter().enumerate() {
        let township = county.child(digits)?;
        b.division(&township, Level::Township, name, en).await?;
        townships.push(township.clone());
        let mc = if digits.starts_with('1') {
            hospital_mc
        } else {
            tcm_mc
        };
        let is_seat = t_idx == 0;
        let centre_name = if is_seat {
            format!("{name}中心卫生院")
        } else {
            format!("{name}卫生院")
        };
        let centre = b
            .institution(institution(
                &format!("451226-T{digits}"),
                &centre_name,
                &format!("{en} Health Centre"),
                K::TownshipHealthCentre,
                &township,
                Some(mc),
                false,
            ))
            .await?;
        // Own digits, name, English name, clinic name, clinic English name, is a 村.
        let mut here: Vec<(String, String, String, String, String, bool)> = Vec::new();
        if is_seat {
            sien_centre = centre;
            b.institution(institution(
                "451226-S001",
                "思恩镇社区卫生服务中心",
                "Si'en Community Health Service Centre",
                K::CommunityHealthCentre,
                &township,
                Some(mc),
                false,
            ))
            .await?;
            for (idx, (c_name, c_en)) in COMMUNITIES.iter().enumerate() {
                here.push((
                    format!("{:03}", idx + 1),
                    (*c_name).into(),
                    (*c_en).into(),
                    format!("{c_name}卫生服务站"),
                    format!("{c_en} Health Station"),
                    false,
                ));
            }
        }
        let n_villages = match villages_per_township {
            Some(n) => n,
            None => b.generator.rng().between(8, 14),
        };
        let mut taken = Vec::new();
        for v_idx in 0..n_villages {
            let (v_name, v_en) = village_name(b.generator.rng(), &taken);
            taken.push(v_name.clone());
            here.push((
                format!("{}", 201 + v_idx),
                v_name.clone(),
                v_en.clone(),
                format!("{v_name}卫生室"),
                format!("{v_en} Clinic"),
                true,
            ));
        }
        for (own, v_name, v_en, clinic_name, clinic_en, is_village) in here {
            let village = township.child(&own)?;
            b.division(&village, Level::Village, &v_name, &v_en).await?;
            let clinic_code = format!("451226-V{}", village.as_str());
            let clinic = b
                .institution(institution(
                    &clinic_code,
                    &clinic_name,
                    &clinic_en,
                    K::VillageClinic,
                    &village,
                    Some(mc),
                    false,
                ))
                .await?;
            // Village sizes vary log-normally; the seat's communities are larger.
            let weight =
                (0.5 * b.generator.rng().normal()).exp() * if is_village { 1.0 } else { 2.0 };
            places.push(Place {
                code: village,
                name: v_name,
                township: t_idx,
                is_village,
                clinic_id: clinic,
                clinic_code,
                weight,
            });
        }
    }

    let counts: Vec<u64> = match opts.residents {
        Some(total) => {
            if total < places.len() as u64 {
                bail!(
                    "{total} residents cannot fill {} villages: give at least one per village",
                    places.len()
                );
            }
            let counts = allocate(total, &places.iter().map(|p| p.weight).collect::<Vec<_>>());
            if let Some(max) = counts.iter().max().filter(|m| **m > 99_999) {
                bail!(
                    "a village would get {max} residents, more than the 99,999 record numbers \
                     it has; give more villages per township"
                );
            }
            counts
        }
        None => vec![u64::from(opts.residents_per_village); places.len()],
    };
    b.first_resident = vec![None; places.len()];
    for (idx, (place, n)) in places.iter().zip(&counts).enumerate() {
        b.residents(idx, place, *n).await?;
    }
    b.flush().await?;
    if opts.services {
        // Doses up to the county's today, like the visit histories: the county's people are
        // as of the reference day, but a vaccination record that stopped on that day would
        // show no coverage for the current year.
        let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
        crate::demo_immunization::generate(store, opts.seed, today.max(reference_date()), &b.by)
            .await?;
    }

    // The handy villages: 思恩镇's first two 村 and 水源镇's first; the first 村 of every
    // township gets a village doctor (or every village, if asked).
    let mut handy: Vec<DemoVillage> = Vec::new();
    let mut village_doctors = Vec::new();
    let mut seen_first = vec![false; TOWNSHIPS.len()];
    for (idx, place) in places.iter().enumerate() {
        let is_first = place.is_village && !seen_first[place.township];
        seen_first[place.township] |= place.is_village;
        if opts.all_village_doctors || is_first {
            village_doctors.push((place.code.clone(), place.name.clone(), place.clinic_id));
        }
        let own = &place.code.as_str()[9..];
        let handy_here = (place.township == 0 && own <= "202") || (place.township == 1 && is_first);
        if place.is_village && handy_here {
            handy.push(DemoVillage {
                code: place.code.clone(),
                name: place.name.clone(),
                township: townships[place.township].clone(),
                clinic_id: place.clinic_id,
                clinic_code: place.clinic_code.clone(),
                resident_id: b.first_resident[idx]
                    .context("a village needs at least one resident")?,
            });
        }
    }
    b.institution(institution(
        "451226-P001",
        "环江仁心诊所",
        "Huanjiang Renxin Clinic",
        K::PrivateClinic,
        &townships[0],
        None,
        false,
    ))
    .await?;
    b.institution(institution(
        "451226-P002",
        "环江康民诊所",
        "Huanjiang Kangmin Clinic",
        K::PrivateClinic,
        &townships[1],
        None,
        false,
    ))
    .await?;

    let [first_village, second_village, other_township_village]: [DemoVillage; 3] = handy
        .try_into()
        .map_err(|_| anyhow::anyhow!("the demo county lacks its handy villages"))?;
    let seat = townships[0].clone();
    b.user(
        "doctor.sien",
        "思恩镇卫生院 谭海",
        Role::Clinician,
        sien_centre,
        &seat,
        None,
    );
    b.user(
        "team.sien",
        "家庭医生团队 莫金",
        Role::TeamMember,
        sien_centre,
        &seat,
        None,
    );
    for (village, v_name, clinic) in &village_doctors {
        b.user(
            &DemoCounty::village_doctor(village),
            &format!("{v_name}村医"),
            Role::VillageDoctor,
            *clinic,
            village,
            None,
        );
    }
    b.user(
        "resident.demo",
        "居民 (演示)",
        Role::Resident,
        first_village.clinic_id,
        &first_village.code,
        Some(first_village.resident_id),
    );

    // argon2 dominates the build time of a small county: one hash per account.
    let mut logins = Vec::with_capacity(b.users.len());
    for u in &b.users {
        user::add(store, u, &b.by)
            .await
            .with_context(|| format!("cannot add user {}", u.username))?;
        logins.push(Login {
            username: u.username.clone(),
            role: u.role,
            display_name: u.display_name.clone(),
        });
    }
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let programmes = if opts.services {
        crate::demo_programmes::generate(store, opts.seed, today, &b.by).await?
    } else {
        crate::demo_programmes::Summary::default()
    };
    if opts.services {
        crate::demo_cases::load(
            store,
            &county,
            &townships,
            (yiwei_store::now() + chrono::Duration::hours(8)).date_naive(),
            opts.seed,
        )
        .await?;
    }
    let demo = DemoCounty {
        programmes,
        county,
        logins,
        townships,
        villages: places.into_iter().map(|p| p.code).collect(),
        institutions: b.n_institutions,
        households: b.n_households,
        residents: b.n_residents,
        first_village,
        second_village,
        other_township_village,
        bureau_id: bureau,
        county_hospital_id: hospital,
        cdc_id: cdc,
        sien_centre_id: sien_centre,
    };
    crate::demo_booking::add(store, &demo).await?;
    // cost alerts (防返贫监测预警): charges of the last 12 months, the alerts and checks.
    if opts.services {
        crate::demo_charges::load(store, opts.seed, today).await?;
    }
    Ok(demo)
}

/// The demo accounts already in a store, for a second start of `yiwei demo`.
pub async fn logins(store: &Store) -> Result<Vec<Login>> {
    let (users, _) = user::list(store, 100_000, 0).await?;
    Ok(users
        .into_iter()
        .filter(|u| is_demo_username(&u.username))
        .map(|u| Login {
            username: u.username,
            role: u.role,
            display_name: u.display_name,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use yiwei_domain::id_card::{IdCardNumber, Sex};
    use yiwei_domain::key_group::age_on;

    fn people(seed: u64, n: usize) -> (Vec<NewResident>, usize) {
        let mut generator = Generator::new(seed);
        let village = code("451226100201");
        let mut out = Vec::with_capacity(n);
        let mut households = 0;
        while out.len() < n {
            let h = generator.household(&village, "上龙村1组1号", n - out.len());
            assert_eq!(h.members[0].details.relation.as_deref(), Some("02"));
            households += 1;
            out.extend(h.members);
        }
        (out, households)
    }

    fn age(p: &NewResident) -> u32 {
        age_on(p.birth_date.expect("a birth date"), reference_date())
    }

    #[test]
    fn the_generator_is_deterministic() {
        let (a, _) = people(7, 300);
        let (b, _) = people(7, 300);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.name, y.name);
            assert_eq!(x.id_card, y.id_card);
            assert_eq!(x.details, y.details);
        }
        let (c, _) = people(8, 300);
        assert_ne!(
            a.iter().map(|p| &p.name).collect::<Vec<_>>(),
            c.iter().map(|p| &p.name).collect::<Vec<_>>()
        );
    }

    #[test]
    fn id_cards_are_valid_unique_and_match_sex_and_birth() {
        let (people, _) = people(451_226, 20_000);
        let today = reference_date();
        let mut seen = HashSet::new();
        for p in &people {
            let card = p.id_card.as_deref().expect("an ID card");
            assert!(seen.insert(card.to_owned()), "{card} twice");
            let id = IdCardNumber::parse(card, today).expect("a valid ID-card number");
            assert_eq!(id.area_code(), COUNTY_CODE);
            assert_eq!(Some(id.birth_date()), p.birth_date);
            let sex = if p.sex == "male" {
                Sex::Male
            } else {
                Sex::Female
            };
            assert_eq!(id.sex(), sex);
            assert!(age(p) <= 99, "{}", age(p));
            assert_eq!(p.phone.is_some(), p.contact_phone.is_none());
            for phone in [&p.phone, &p.contact_phone].into_iter().flatten() {
                assert!(phone.len() == 11 && phone.starts_with('1'), "{phone}");
            }
            assert!((2..=3).contains(&p.name.chars().count()), "{}", p.name);
        }
        // A day's 499 numbers of one sex, then none: the caller moves to the next day.
        let mut cards = IdCards::default();
        let day = NaiveDate::from_ymd_opt(1980, 5, 5).expect("a date");
        let issued: HashSet<String> = (0..499)
            .map(|_| cards.issue(day, true, 1).expect("a number"))
            .collect();
        assert_eq!(issued.len(), 499);
        assert!(cards.issue(day, true, 1).is_none());
        assert!(cards.issue(day, false, 1).is_some());
    }

    /// The figures of the module documentation, within sampling error of 40,000 people.
    #[test]
    fn the_county_has_a_rural_age_structure_and_realistic_prevalence() {
        let (people, households) = people(451_226, 40_000);
        let n = people.len() as f64;
        let share = |f: &dyn Fn(&NewResident) -> bool| {
            people.iter().filter(|p| f(p)).count() as f64 / n * 100.0
        };
        let children = share(&|p| age(p) <= 14);
        let sixty = share(&|p| age(p) >= 60);
        let sixty_five = share(&|p| age(p) >= 65);
        assert!((18.0..=24.0).contains(&children), "0-14: {children:.1}%");
        assert!((17.0..=24.0).contains(&sixty), "60+: {sixty:.1}%");
        assert!((13.0..=18.0).contains(&sixty_five), "65+: {sixty_five:.1}%");
        let men = share(&|p| p.sex == "male");
        let ratio = men / (100.0 - men) * 100.0;
        assert!((103.0..=116.0).contains(&ratio), "sex ratio {ratio:.1}");
        let size = n / households as f64;
        assert!((3.0..=4.0).contains(&size), "household size {size:.2}");

        let has = |p: &NewResident, g: &str| p.details.key_groups.iter().any(|k| k == g);
        let among = |keep: &dyn Fn(&NewResident) -> bool, g: &str| {
            let group: Vec<&NewResident> = people.iter().filter(|p| keep(p)).collect();
            group.iter().filter(|p| has(p, g)).count() as f64 / group.len() as f64 * 100.0
        };
        let hypertension = among(&|p| age(p) >= 35, "hypertension");
        assert!(
            (22.0..=28.0).contains(&hypertension),
            "hypertension among 35+: {hypertension:.1}%"
        );
        let diabetes = among(&|p| age(p) >= 18, "diabetes");
        eprintln!(
            "0-14 {children:.1}%, 60+ {sixty:.1}%, 65+ {sixty_five:.1}%, sex ratio {ratio:.1}, \
             household {size:.2}, hypertension 35+ {hypertension:.1}%, diabetes 18+ {diabetes:.1}%"
        );
        assert!(
            (7.0..=11.0).contains(&diabetes),
            "diabetes among adults: {diabetes:.1}%"
        );
        let derived = |p: &NewResident, g: KeyGroup| {
            key_group::key_groups(
                &Facts {
                    birth_date: p.birth_date,
                    ..Facts::default()
                },
                reference_date(),
            )
            .contains(&g)
        };
        let elderly = people
            .iter()
            .filter(|p| derived(p, KeyGroup::Elderly65))
            .count() as f64
            / n
            * 100.0;
        assert!(
            (sixty_five - elderly).abs() < 1e-9,
            "65+ derived from the birth date"
        );
        for p in &people {
            assert!(
                !has(p, "elderly_65") && !has(p, "child_0_6"),
                "age groups are not stored"
            );
            assert_eq!(derived(p, KeyGroup::Child0to6), age(p) <= 6);
            if has(p, "hypertension") {
                let conditions = &p.details.profile["conditions"];
                assert!(
                    conditions
                        .as_array()
                        .is_some_and(|c| c.contains(&json!("hypertension"))),
                    "{conditions}"
                );
            }
        }
    }

    #[test]
    fn households_share_an_address_and_children_have_a_contact() {
        let mut generator = Generator::new(3);
        let village = code("451226100201");
        for _ in 0..200 {
            let h = generator.household(&village, "上龙村2组5号", 10);
            assert!(!h.members.is_empty() && h.members.len() <= 10);
            let head = &h.members[0];
            assert_eq!(head.details.relation.as_deref(), Some("02"));
            assert!(age(head) >= 18, "{}", age(head));
            for m in &h.members {
                assert_eq!(m.details.address, "上龙村2组5号");
                assert_eq!(m.division, village);
                let relation = m.details.relation.as_deref().expect("a relation");
                assert!(
                    yiwei_domain::ws365::HouseholdRelation::parse(relation).is_ok(),
                    "{relation}"
                );
                if age(m) < 16 {
                    assert!(m.phone.is_none() && m.contact_phone.is_some());
                }
            }
        }
        // A household never exceeds what is left of the village.
        assert_eq!(generator.household(&village, "x", 1).members.len(), 1);
    }

    #[test]
    fn allocation_adds_up_and_gives_everyone_a_resident() {
        let weights = [1.0, 2.0, 0.5, 3.3, 0.01];
        for total in [5, 6, 17, 1_000, 1_000_003] {
            let counts = allocate(total, &weights);
            assert_eq!(counts.iter().sum::<u64>(), total);
            assert!(counts.iter().all(|c| *c >= 1));
        }
        let counts = allocate(1_000_000, &weights);
        assert!(counts[3] > counts[1] && counts[1] > counts[0] && counts[0] > counts[2]);
    }

    #[test]
    fn village_names_are_unique_and_have_pinyin() {
        let mut rng = Rng::new(1);
        let mut taken = Vec::new();
        for _ in 0..30 {
            let (name, en) = village_name(&mut rng, &taken);
            assert!(!taken.contains(&name));
            assert!(name.ends_with('村'));
            assert!(en.ends_with(" Village") && en.is_ascii(), "{en}");
            assert!(en.starts_with(|c: char| c.is_ascii_uppercase()), "{en}");
            taken.push(name);
        }
    }

    #[test]
    fn demo_usernames_are_recognised() {
        assert!(is_demo_username("admin"));
        assert!(is_demo_username("village.451226100201"));
        assert!(!is_demo_username("wang.li"));
        assert!(!is_demo_username("village.999999"));
    }
}
