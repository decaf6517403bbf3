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
//! - residents with valid ID-card numbers (GB 11643), names common in Huanjiang, a rural
//!   age structure (many children and people over fifty, fewer young adults, who work
//!   away) and mobile numbers.
//!
//! The township names are real. Their 统计用区划代码 were not available offline, so the codes
//! follow the NBS convention instead of the published table: 镇 `1xx`, 乡 `2xx`, 居委会
//! (社区) `0xx`, 村委会 `2xx`. Village names are generated.
//!
//! What it does not do yet: households, conditions, contracts, follow-ups and the rest of
//! design.md's list arrive with their modules. Residents are created one transaction each
//! through `resident::create`, which is fine for the default thousand; a million-resident
//! county needs a batched insert in the store.

use anyhow::{Context, Result, bail};
use chrono::{Datelike, NaiveDate};
use yiwei_domain::access::Role;
use yiwei_domain::division::{DivisionCode, Level};
use yiwei_domain::id_card::check_char;
use yiwei_domain::org::InstitutionKind;
use yiwei_store::audit::Who;
use yiwei_store::division::{self, Division};
use yiwei_store::org::{self, NewInstitution};
use yiwei_store::resident::{self, NewResident};
use yiwei_store::user::{self, NewUser};
use yiwei_store::{Store, StoreError, backup};

/// The password of every demo account. Printed at start; a demo password, never for a
/// real installation.
pub const DEMO_PASSWORD: &str = "yiwei-demo-2026";

/// The demo county's GB/T 2260 code.
pub const COUNTY_CODE: &str = "451226";
pub const COUNTY_NAME: &str = "环江毛南族自治县";

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

/// Surnames common in Huanjiang (毛南族 谭, 覃, 卢, 蒙, 韦, 吴, 欧, 袁 among them), with
/// relative weights.
const SURNAMES: [(&str, u64); 18] = [
    ("韦", 12),
    ("覃", 11),
    ("谭", 10),
    ("蒙", 8),
    ("卢", 6),
    ("吴", 5),
    ("莫", 5),
    ("黄", 5),
    ("罗", 4),
    ("欧", 4),
    ("袁", 3),
    ("潘", 3),
    ("谢", 2),
    ("兰", 2),
    ("梁", 2),
    ("李", 2),
    ("何", 2),
    ("银", 1),
];

/// Given-name characters by sex and generation (born before 1970, 1970–1999, since 2000).
const GIVEN_MALE: [&[&str]; 3] = [
    &[
        "福", "德", "明", "光", "金", "荣", "才", "华", "贵", "生", "发", "忠", "富", "安",
    ],
    &[
        "建", "国", "军", "志", "强", "海", "林", "伟", "勇", "斌", "东", "平", "文", "俊",
    ],
    &[
        "宇", "浩", "轩", "睿", "杰", "子", "涛", "鑫", "博", "晨", "豪", "然", "铭", "航",
    ],
];
const GIVEN_FEMALE: [&[&str]; 3] = [
    &[
        "秀", "英", "桂", "凤", "兰", "珍", "梅", "花", "芳", "玉", "莲", "翠", "香", "妹",
    ],
    &[
        "丽", "玲", "红", "艳", "燕", "娟", "霞", "萍", "琴", "美", "春", "丹", "静", "敏",
    ],
    &[
        "欣", "怡", "涵", "诗", "雨", "梓", "萱", "琳", "婷", "佳", "彤", "思", "瑶", "雪",
    ],
];

/// Mobile prefixes of the three carriers.
const MOBILE_PREFIXES: [&str; 14] = [
    "138", "139", "135", "136", "150", "151", "158", "177", "180", "183", "187", "188", "189",
    "199",
];

/// Five-year age bands from 0–4 to 90–94, weighted like a rural county whose young adults
/// work in the cities: many children, a bulge at 45–59, a long tail of old people.
const AGE_BANDS: [u64; 19] = [6, 7, 7, 6, 5, 5, 6, 6, 6, 8, 9, 8, 6, 6, 4, 3, 2, 1, 1];

/// Birth dates count back from this day, not from today, so the county is the same
/// whenever it is built.
const REFERENCE_YEAR: i32 = 2026;

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

#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Residents per village and community (at least 1: the handy ids need one).
    pub residents_per_village: u32,
    /// Villages (村) per township; `None` varies them between 8 and 14.
    pub villages_per_township: Option<u32>,
    /// A village doctor account for every village and community; by default only for the
    /// first village of each township (each account costs an argon2 hash).
    pub all_village_doctors: bool,
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            residents_per_village: 6,
            villages_per_township: None,
            all_village_doctors: false,
            seed: 451_226,
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
    /// The first resident registered in the village.
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

/// The generation index of [`GIVEN_MALE`] and [`GIVEN_FEMALE`].
fn generation(birth_year: i32) -> usize {
    match birth_year {
        ..1970 => 0,
        1970..2000 => 1,
        _ => 2,
    }
}

fn mobile(rng: &mut Rng) -> String {
    format!(
        "{}{:08}",
        rng.pick(&MOBILE_PREFIXES),
        rng.below(100_000_000)
    )
}

/// A synthetic resident of `village`: every value drawn from `rng`.
fn person(rng: &mut Rng, village: &DivisionCode) -> NewResident {
    let band = rng.weighted(&AGE_BANDS) as u64;
    let age = band * 5 + rng.below(5);
    let year = REFERENCE_YEAR - 1 - age as i32;
    let birth = NaiveDate::from_ymd_opt(year, 1, 1).expect("valid year")
        + chrono::Duration::days(rng.below(365) as i64);
    let male = rng.chance(51);
    // GB 11643: the sequence's last digit is odd for men and even for women.
    let seq = 2 * rng.below(499) + if male { 1 } else { 2 };
    let body = format!("{COUNTY_CODE}{}{seq:03}", birth.format("%Y%m%d"));
    let id_card = format!("{body}{}", check_char(&body));
    let chars = if male {
        GIVEN_MALE[generation(birth.year())]
    } else {
        GIVEN_FEMALE[generation(birth.year())]
    };
    let n_given = if rng.chance(70) { 2 } else { 1 };
    let given: String = (0..n_given).map(|_| *rng.pick(chars)).collect();
    let surname = SURNAMES[rng.weighted(&SURNAMES.map(|s| s.1))].0;
    // Children have no phone of their own: the contact is a parent's. Some of the oldest
    // have none at all.
    let own_phone = age >= 16 && (age < 75 || rng.chance(60));
    let (phone, contact_phone) = if own_phone {
        (Some(mobile(rng)), None)
    } else {
        (None, Some(mobile(rng)))
    };
    NewResident {
        division: village.clone(),
        name: format!("{surname}{given}"),
        sex: if male { "male" } else { "female" }.into(),
        birth_date: Some(birth),
        id_card: Some(id_card),
        phone,
        contact_phone,
        details: Default::default(),
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

struct Builder<'a> {
    store: &'a Store,
    by: Who,
    rng: Rng,
    n_institutions: usize,
    n_residents: usize,
    users: Vec<NewUser>,
}

impl Builder<'_> {
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

    /// Register `n` residents in `village`; returns the first one's id.
    async fn residents(&mut self, village: &DivisionCode, n: u32) -> Result<i64> {
        let mut first = None;
        for _ in 0..n {
            // Two synthetic people can draw the same birth date and sequence number; draw
            // again rather than leave the village one short.
            let mut attempts = 0;
            let id = loop {
                let new = person(&mut self.rng, village);
                match resident::create(self.store, &new, &self.by).await {
                    Ok(id) => break id,
                    Err(StoreError::Conflict { .. }) if attempts < 10 => attempts += 1,
                    Err(e) => {
                        return Err(e).with_context(|| {
                            format!("cannot add a resident in {}", village.as_str())
                        });
                    }
                }
            };
            first.get_or_insert(id);
            self.n_residents += 1;
        }
        first.context("a village needs at least one resident")
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
    if !backup::is_empty(store).await? {
        bail!("the database already holds data; the demo county goes into an empty one");
    }
    if opts.residents_per_village == 0 {
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
        rng: Rng::new(opts.seed),
        n_institutions: 0,
        n_residents: 0,
        users: Vec::new(),
    };
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

    let mut townships = Vec::new();
    let mut villages: Vec<DivisionCode> = Vec::new();
    let mut handy: Vec<DemoVillage> = Vec::new();
    let mut sien_centre = 0;
    let mut village_doctors = Vec::new();
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
        let mut places: Vec<(String, String, String, String, String, bool)> = Vec::new();
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
                places.push((
                    format!("{:03}", idx + 1),
                    (*c_name).into(),
                    (*c_en).into(),
                    format!("{c_name}卫生服务站"),
                    format!("{c_en} Health Station"),
                    false,
                ));
            }
        }
        let n_villages = match opts.villages_per_township {
            Some(n) => u64::from(n),
            None => b.rng.between(8, 14),
        };
        let mut taken = Vec::new();
        for v_idx in 0..n_villages {
            let (v_name, v_en) = village_name(&mut b.rng, &taken);
            taken.push(v_name.clone());
            places.push((
                format!("{}", 201 + v_idx),
                v_name.clone(),
                v_en.clone(),
                format!("{v_name}卫生室"),
                format!("{v_en} Clinic"),
                true,
            ));
        }
        let mut first_village_done = false;
        for (own, v_name, v_en, clinic_name, clinic_en, is_village) in places {
            let village = township.child(&own)?;
            b.division(&village, Level::Village, &v_name, &v_en).await?;
            villages.push(village.clone());
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
            let resident_id = b.residents(&village, opts.residents_per_village).await?;
            let is_first = is_village && !first_village_done;
            first_village_done |= is_village;
            if opts.all_village_doctors || is_first {
                village_doctors.push((village.clone(), v_name.clone(), clinic));
            }
            // The handy villages: 思恩镇's first two 村 and 水源镇's first.
            let handy_here = (t_idx == 0 && own.as_str() <= "202") || (t_idx == 1 && is_first);
            if is_village && handy_here {
                handy.push(DemoVillage {
                    code: village,
                    name: v_name,
                    township: township.clone(),
                    clinic_id: clinic,
                    clinic_code,
                    resident_id,
                });
            }
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

    // argon2 dominates the build time: one hash per account.
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
    Ok(DemoCounty {
        county,
        logins,
        townships,
        villages,
        institutions: b.n_institutions,
        residents: b.n_residents,
        first_village,
        second_village,
        other_township_village,
        bureau_id: bureau,
        county_hospital_id: hospital,
        cdc_id: cdc,
        sien_centre_id: sien_centre,
    })
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
    use super::*;
    use yiwei_domain::id_card::{IdCardNumber, Sex};

    #[test]
    fn the_generator_is_deterministic() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let village = code("451226100201");
        for _ in 0..100 {
            let (x, y) = (person(&mut a, &village), person(&mut b, &village));
            assert_eq!(x.name, y.name);
            assert_eq!(x.id_card, y.id_card);
        }
    }

    #[test]
    fn generated_id_cards_are_valid_and_match_sex_and_birth() {
        let mut rng = Rng::new(451_226);
        let village = code("451226100201");
        let today = NaiveDate::from_ymd_opt(REFERENCE_YEAR, 1, 1).unwrap();
        let mut n_children = 0;
        let mut n_old = 0;
        for _ in 0..2000 {
            let p = person(&mut rng, &village);
            let id = IdCardNumber::parse(p.id_card.as_deref().unwrap(), today)
                .expect("a valid ID-card number");
            assert_eq!(id.area_code(), COUNTY_CODE);
            assert_eq!(Some(id.birth_date()), p.birth_date);
            let sex = if p.sex == "male" {
                Sex::Male
            } else {
                Sex::Female
            };
            assert_eq!(id.sex(), sex);
            let age = REFERENCE_YEAR - id.birth_date().year();
            n_children += usize::from(age <= 15);
            n_old += usize::from(age >= 60);
            assert!((1..=95).contains(&age), "{age}");
            assert_eq!(p.phone.is_some(), p.contact_phone.is_none());
            if let Some(phone) = &p.phone {
                assert!(phone.len() == 11 && phone.starts_with('1'), "{phone}");
            }
            assert!((2..=3).contains(&p.name.chars().count()), "{}", p.name);
        }
        // A rural age structure: a fifth children, a fifth over sixty, roughly.
        assert!((300..=600).contains(&n_children), "{n_children}");
        assert!((300..=600).contains(&n_old), "{n_old}");
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
