//! The demo county: 环江毛南族自治县 (GB/T 2260 451226, under 河池市 4512, 广西 45).
//!
//! Deterministic (a fixed-seed SplitMix64), so every run builds the same county. For now it
//! holds what the foundation serves: divisions, institutions with two medical
//! communities, a user for every role, and a few residents per village so that reach
//! rules have records to guard. The township names are real; their 统计用区划代码 were
//! not available offline, so codes follow the NBS convention (镇 1xx, 乡 2xx; 村委会
//! 2xx, 居委会 0xx) rather than the published table.

use anyhow::{Result, bail};
use yiwei_domain::access::Role;
use yiwei_domain::division::{DivisionCode, Level};
use yiwei_domain::id_card::check_char;
use yiwei_domain::org::InstitutionKind;
use yiwei_store::audit::Who;
use yiwei_store::division::{self, Division};
use yiwei_store::org::{self, NewInstitution};
use yiwei_store::resident::{self, NewResident};
use yiwei_store::user::{self, NewUser};
use yiwei_store::{Store, backup};

/// The password of every demo account. Printed at start; never use it in production.
pub const DEMO_PASSWORD: &str = "yiwei-demo-2026";

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
    ("205", "驯乐苗族乡", "Xunle Miao Township"),
];

const SYLLABLES: [&str; 24] = [
    "上", "下", "长", "龙", "凤", "福", "新", "和", "平", "安", "清", "石", "岩", "江", "坡", "洞",
    "岭", "桥", "塘", "花", "才", "南", "北", "文",
];
const SURNAMES: [&str; 16] = [
    "韦", "覃", "蒙", "谭", "莫", "黄", "罗", "卢", "吴", "欧", "潘", "谢", "兰", "袁", "卢", "梁",
];
const GIVEN: [&str; 20] = [
    "秀", "英", "桂", "芳", "美", "玲", "丽", "华", "明", "建", "国", "军", "志", "强", "海", "林",
    "春", "福", "金", "荣",
];

/// SplitMix64: small, fast and good enough for synthetic data.
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

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub residents_per_village: u32,
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            residents_per_village: 6,
            seed: 451_226,
        }
    }
}

/// One demo login to print.
#[derive(Clone, Debug)]
pub struct Login {
    pub username: String,
    pub role: Role,
    pub display_name: String,
}

#[derive(Clone, Debug)]
pub struct DemoCounty {
    pub county: DivisionCode,
    pub logins: Vec<Login>,
    pub villages: usize,
    pub institutions: usize,
    pub residents: usize,
}

fn code(s: &str) -> DivisionCode {
    DivisionCode::parse(s).expect("demo codes are valid")
}

/// Build the demo county into an empty store.
pub async fn build(store: &Store, opts: &DemoOptions) -> Result<DemoCounty> {
    if !backup::is_empty(store).await? {
        bail!("the database already holds data; the demo county goes into an empty one");
    }
    let by = Who {
        username: Some("demo".into()),
        role: Some("system".into()),
        ..Who::default()
    };
    let mut rng = Rng::new(opts.seed);
    let county = code("451226");
    for (c, parent, level, name, en) in [
        (
            "45",
            None,
            Level::Province,
            "广西壮族自治区",
            "Guangxi Zhuang Autonomous Region",
        ),
        ("4512", Some("45"), Level::Prefecture, "河池市", "Hechi"),
        (
            "451226",
            Some("4512"),
            Level::County,
            "环江毛南族自治县",
            "Huanjiang Maonan Autonomous County",
        ),
    ] {
        let d = Division {
            code: code(c),
            parent: parent.map(code),
            level,
            name: name.into(),
            name_en: en.into(),
        };
        division::upsert(store, &d).await?;
    }
    let hospital_mc = org::add_community(
        store,
        "环江县人民医院医共体",
        "Huanjiang People's Hospital medical community",
        &county,
    )
    .await?;
    let tcm_mc = org::add_community(
        store,
        "环江县中医医院医共体",
        "Huanjiang TCM Hospital medical community",
        &county,
    )
    .await?;
    let mut n_inst = 0usize;
    let mut add = async |code_: String,
                         name: String,
                         name_en: String,
                         kind: InstitutionKind,
                         division: &DivisionCode,
                         mc: Option<i64>,
                         lead: bool|
           -> Result<i64> {
        n_inst += 1;
        let new = NewInstitution {
            code: code_,
            name,
            name_en,
            kind,
            division: division.clone(),
            community_id: mc,
            is_lead: lead,
        };
        Ok(org::add(store, &new).await?)
    };
    let bureau = add(
        "451226-B001".into(),
        "环江县卫生健康局".into(),
        "Huanjiang Health Bureau".into(),
        InstitutionKind::HealthBureau,
        &county,
        None,
        false,
    )
    .await?;
    let hospital = add(
        "451226-H001".into(),
        "环江县人民医院".into(),
        "Huanjiang People's Hospital".into(),
        InstitutionKind::CountyHospital,
        &county,
        Some(hospital_mc),
        true,
    )
    .await?;
    let _tcm = add(
        "451226-H002".into(),
        "环江县中医医院".into(),
        "Huanjiang TCM Hospital".into(),
        InstitutionKind::TcmHospital,
        &county,
        Some(tcm_mc),
        true,
    )
    .await?;
    let _mch = add(
        "451226-H003".into(),
        "环江县妇幼保健院".into(),
        "Huanjiang Maternal and Child Health Hospital".into(),
        InstitutionKind::MaternalChildHospital,
        &county,
        Some(hospital_mc),
        false,
    )
    .await?;
    let cdc = add(
        "451226-C001".into(),
        "环江县疾病预防控制中心".into(),
        "Huanjiang CDC".into(),
        InstitutionKind::Cdc,
        &county,
        None,
        false,
    )
    .await?;
    let mut logins = Vec::new();
    let mut users: Vec<NewUser> = Vec::new();
    let mut person = |username: &str,
                      display: &str,
                      role: Role,
                      inst: i64,
                      reach: &DivisionCode,
                      resident_id: Option<i64>| {
        users.push(NewUser {
            username: username.into(),
            display_name: display.into(),
            role,
            institution_id: Some(inst),
            reach: reach.clone(),
            resident_id,
            password: DEMO_PASSWORD.into(),
            phone: None,
        });
    };
    person(
        "admin",
        "县管理员 韦建国",
        Role::CountyAdmin,
        bureau,
        &county,
        None,
    );
    person(
        "analyst",
        "统计员 覃丽华",
        Role::Analyst,
        bureau,
        &county,
        None,
    );
    person("cdc", "疾控 蒙志强", Role::CdcStaff, cdc, &county, None);
    person(
        "doctor.county",
        "县医院 黄明",
        Role::Clinician,
        hospital,
        &county,
        None,
    );
    person(
        "radiology",
        "影像科 罗春",
        Role::Radiologist,
        hospital,
        &county,
        None,
    );
    let mut n_villages = 0usize;
    let mut n_residents = 0usize;
    let mut first_resident = None;
    for (t_idx, (digits, name, en)) in TOWNSHIPS.iter().enumerate() {
        let township = county.child(digits)?;
        division::upsert(
            store,
            &Division {
                code: township.clone(),
                parent: Some(county.clone()),
                level: Level::Township,
                name: (*name).into(),
                name_en: (*en).into(),
            },
        )
        .await?;
        let mc = if digits.starts_with('1') {
            hospital_mc
        } else {
            tcm_mc
        };
        let centre_name = if t_idx == 0 {
            format!("{name}中心卫生院")
        } else {
            format!("{name}卫生院")
        };
        let centre = add(
            format!("451226-T{digits}"),
            centre_name,
            format!("{en} Health Centre"),
            InstitutionKind::TownshipHealthCentre,
            &township,
            Some(mc),
            false,
        )
        .await?;
        let mut village_codes = Vec::new();
        if t_idx == 0 {
            for (i, community) in ["城东社区", "城西社区", "城南社区"].iter().enumerate()
            {
                village_codes.push((format!("{:03}", i + 1), (*community).to_owned()));
            }
            add(
                "451226-S001".into(),
                "思恩镇社区卫生服务中心".into(),
                "Si'en Community Health Centre".into(),
                InstitutionKind::CommunityHealthCentre,
                &township,
                Some(mc),
                false,
            )
            .await?;
        }
        let n = 8 + rng.below(7) as usize;
        for i in 0..n {
            let vname = format!("{}{}村", rng.pick(&SYLLABLES), rng.pick(&SYLLABLES));
            village_codes.push((format!("{}", 201 + i), vname));
        }
        for (v_idx, (own, vname)) in village_codes.iter().enumerate() {
            let village = township.child(own)?;
            division::upsert(
                store,
                &Division {
                    code: village.clone(),
                    parent: Some(township.clone()),
                    level: Level::Village,
                    name: vname.clone(),
                    name_en: String::new(),
                },
            )
            .await?;
            n_villages += 1;
            let clinic = add(
                format!("451226-V{}", village.as_str()),
                format!("{vname}卫生室"),
                String::new(),
                InstitutionKind::VillageClinic,
                &village,
                Some(mc),
                false,
            )
            .await?;
            for _ in 0..opts.residents_per_village {
                let age = 1 + rng.below(90) as i32;
                let birth = chrono::NaiveDate::from_ymd_opt(
                    2026 - age,
                    1 + rng.below(12) as u32,
                    1 + rng.below(28) as u32,
                )
                .expect("valid date");
                let male = rng.below(2) == 0;
                let seq = 1 + rng.below(499) as u32 * 2 + u32::from(male);
                let body = format!("451226{}{:03}", birth.format("%Y%m%d"), seq);
                let id_card = format!("{body}{}", check_char(&body));
                let given: String = (0..1 + rng.below(2)).map(|_| *rng.pick(&GIVEN)).collect();
                let new = NewResident {
                    division: village.clone(),
                    name: format!("{}{given}", rng.pick(&SURNAMES)),
                    sex: if male { "male" } else { "female" }.into(),
                    birth_date: Some(birth),
                    id_card: Some(id_card),
                    phone: Some(format!(
                        "{}{:08}",
                        rng.pick(&["138", "139", "177", "183", "150"]),
                        rng.below(100_000_000)
                    )),
                };
                let id = match resident::create(store, &new, &by).await {
                    Ok(id) => id,
                    Err(yiwei_store::StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(e.into()),
                };
                first_resident.get_or_insert(id);
                n_residents += 1;
            }
            if v_idx == village_codes.len().min(3) {
                person(
                    &format!("village.{}", village.as_str()),
                    &format!("{vname}村医"),
                    Role::VillageDoctor,
                    clinic,
                    &village,
                    None,
                );
            }
        }
        if t_idx == 0 {
            person(
                "doctor.sien",
                "思恩镇卫生院 谭海",
                Role::Clinician,
                centre,
                &township,
                None,
            );
            person(
                "team.sien",
                "家庭医生团队 莫金",
                Role::TeamMember,
                centre,
                &township,
                None,
            );
        }
    }
    add(
        "451226-P001".into(),
        "环江仁心诊所".into(),
        String::new(),
        InstitutionKind::PrivateClinic,
        &county.child("100")?,
        None,
        false,
    )
    .await?;
    add(
        "451226-P002".into(),
        "环江康民诊所".into(),
        String::new(),
        InstitutionKind::PrivateClinic,
        &county.child("101")?,
        None,
        false,
    )
    .await?;
    let own = first_resident.expect("the demo county has residents");
    let own_village = resident::scope(store, own).await?.division;
    person(
        "resident.demo",
        "居民 演示",
        Role::Resident,
        bureau,
        &own_village,
        Some(own),
    );
    // argon2 dominates the build time: one hash per account.
    for u in &users {
        user::add(store, u, &by).await?;
        logins.push(Login {
            username: u.username.clone(),
            role: u.role,
            display_name: u.display_name.clone(),
        });
    }
    Ok(DemoCounty {
        county,
        logins,
        villages: n_villages,
        institutions: n_inst,
        residents: n_residents,
    })
}

/// The demo logins already in a store (for a second start of `yiwei demo`).
pub async fn logins(store: &Store) -> Result<Vec<Login>> {
    let (users, _) = user::list(store, 1000, 0).await?;
    Ok(users
        .into_iter()
        .map(|u| Login {
            username: u.username,
            role: u.role,
            display_name: u.display_name,
        })
        .collect())
}
