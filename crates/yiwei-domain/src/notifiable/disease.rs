//! The notifiable-disease list (法定传染病) as data: codes, names, class, the case
//! classifications each disease allows, subtypes, and the reporting deadline.
//!
//! Source: `shared/domain.md` §4. The list in force is the one of the 传染病防治法 revised
//! 2025-04-30, in force 2025-09-01: 甲类 2, 乙类 27, 丙类 11 \[S\]. The history needed to
//! read old data is kept as `since`/`until` dates on each entry (手足口病 丙类 from
//! 2008-05-02, COVID 乙类甲管 until 2023-01-08, 猴痘 乙类 from 2023-09-20, the avian
//! influenzas merged into 人感染新亚型流感 on 2025-09-01) \[S dates for COVID and mpox;
//! HFMD and H7N9 day-of-year M\].
//!
//! Codes are local, stable and ASCII (`hfmd`, `tb`): the national NIDRIS numeric codes
//! were not available in the sources, so they are not invented here.
//!
//! Case classifications (病例分类1) that a production CHIS refuses \[S\]: 乙肝 not 疑似 or
//! 临床诊断; 脊灰 and HIV not 临床诊断; AFP not 确诊. The rest of the matrix (which diseases
//! admit 病原携带者 or 阳性检测) is background knowledge \[M\], kept deliberately narrow:
//! carriers only for cholera, typhoid/paratyphoid and bacillary dysentery; 阳性检测 only
//! for HIV and hepatitis C. 病例分类2 (急性/慢性/未分型) applies only to hepatitis B,
//! hepatitis C and schistosomiasis \[S\].
//!
//! Deadlines \[S\]: 甲类, 乙类按甲类管理 (肺炭疽, SARS), new or unexplained diseases → 2 h;
//! everything else → 24 h. Polio and the novel-subtype influenzas are also on the 2-hour
//! list of the 2006/2015 reporting specification \[M\]. An outbreak is reported within 2 h
//! too; that is a property of the event, not of the card, and is not modelled here.

use chrono::NaiveDate;

/// 传染病类别.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// 甲类.
    A,
    /// 乙类.
    B,
    /// 丙类.
    C,
    /// 其他重点监测传染病 (not a legal class; listed in the monthly reports since 2026).
    Other,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::A => "A",
            Class::B => "B",
            Class::C => "C",
            Class::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Class> {
        [Class::A, Class::B, Class::C, Class::Other]
            .into_iter()
            .find(|c| c.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Class::A => "甲类",
            Class::B => "乙类",
            Class::C => "丙类",
            Class::Other => "其他重点监测",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Class::A => "class A",
            Class::B => "class B",
            Class::C => "class C",
            Class::Other => "other monitored",
        }
    }
}

/// 病例分类1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaseClass {
    /// 疑似病例.
    Suspected,
    /// 临床诊断病例.
    Clinical,
    /// 确诊病例.
    Confirmed,
    /// 病原携带者.
    Carrier,
    /// 阳性检测.
    PositiveTest,
}

impl CaseClass {
    pub const ALL: [CaseClass; 5] = [
        CaseClass::Suspected,
        CaseClass::Clinical,
        CaseClass::Confirmed,
        CaseClass::Carrier,
        CaseClass::PositiveTest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseClass::Suspected => "suspected",
            CaseClass::Clinical => "clinical",
            CaseClass::Confirmed => "confirmed",
            CaseClass::Carrier => "carrier",
            CaseClass::PositiveTest => "positive_test",
        }
    }

    pub fn parse(s: &str) -> Option<CaseClass> {
        CaseClass::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            CaseClass::Suspected => "疑似病例",
            CaseClass::Clinical => "临床诊断病例",
            CaseClass::Confirmed => "确诊病例",
            CaseClass::Carrier => "病原携带者",
            CaseClass::PositiveTest => "阳性检测",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            CaseClass::Suspected => "suspected case",
            CaseClass::Clinical => "clinically diagnosed case",
            CaseClass::Confirmed => "confirmed case",
            CaseClass::Carrier => "carrier",
            CaseClass::PositiveTest => "positive test",
        }
    }
}

/// 病例分类2 (only hepatitis B, hepatitis C and schistosomiasis).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Course {
    /// 急性.
    Acute,
    /// 慢性.
    Chronic,
    /// 未分型.
    Unclassified,
}

impl Course {
    pub const ALL: [Course; 3] = [Course::Acute, Course::Chronic, Course::Unclassified];

    pub fn as_str(self) -> &'static str {
        match self {
            Course::Acute => "acute",
            Course::Chronic => "chronic",
            Course::Unclassified => "unclassified",
        }
    }

    pub fn parse(s: &str) -> Option<Course> {
        Course::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Course::Acute => "急性",
            Course::Chronic => "慢性",
            Course::Unclassified => "未分型",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Course::Acute => "acute",
            Course::Chronic => "chronic",
            Course::Unclassified => "unclassified",
        }
    }
}

/// A subtype (for 肝炎, 痢疾, 肺结核, 梅毒, 疟疾, 炭疽, 艾滋病, 伤寒和副伤寒). A subtype may
/// narrow the classifications, carry 病例分类2, or be managed as class A (肺炭疽).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subtype {
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    /// Overrides the disease's classifications when set.
    pub classifications: Option<&'static [CaseClass]>,
    /// Whether 病例分类2 (acute/chronic) is required.
    pub course: bool,
    /// 乙类按甲类管理 for this subtype (肺炭疽).
    pub managed_as_a: bool,
}

const fn sub(code: &'static str, name_zh: &'static str, name_en: &'static str) -> Subtype {
    Subtype {
        code,
        name_zh,
        name_en,
        classifications: None,
        course: false,
        managed_as_a: false,
    }
}

/// One notifiable disease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Disease {
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub class: Class,
    /// 乙类按甲类管理 (SARS), or another disease on the 2-hour list.
    pub managed_as_a: bool,
    /// The case classifications a card may carry (病例分类1).
    pub classifications: &'static [CaseClass],
    /// Whether 病例分类2 is required (and allowed).
    pub course: bool,
    /// The subtypes; when not empty, a card must name one.
    pub subtypes: &'static [Subtype],
    /// First day the disease was notifiable under this code (`None`: before any data).
    pub since: Option<NaiveDate>,
    /// First day it no longer was (`None`: still in force).
    pub until: Option<NaiveDate>,
    /// Until this day (exclusive) it was managed as class A (COVID until 2023-01-08).
    pub managed_as_a_until: Option<NaiveDate>,
}

const SCC: &[CaseClass] = &[
    CaseClass::Suspected,
    CaseClass::Clinical,
    CaseClass::Confirmed,
];
const SCC_CARRIER: &[CaseClass] = &[
    CaseClass::Suspected,
    CaseClass::Clinical,
    CaseClass::Confirmed,
    CaseClass::Carrier,
];
const SC: &[CaseClass] = &[CaseClass::Suspected, CaseClass::Confirmed];
const HIV: &[CaseClass] = &[
    CaseClass::Suspected,
    CaseClass::Confirmed,
    CaseClass::PositiveTest,
];
const CONFIRMED_ONLY: &[CaseClass] = &[CaseClass::Confirmed];
const HCV: &[CaseClass] = &[
    CaseClass::Suspected,
    CaseClass::Clinical,
    CaseClass::Confirmed,
    CaseClass::PositiveTest,
];
const AFP: &[CaseClass] = &[CaseClass::Suspected, CaseClass::Clinical];

const fn d(y: i32, m: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, day)
}

const fn disease(
    code: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    class: Class,
) -> Disease {
    Disease {
        code,
        name_zh,
        name_en,
        class,
        managed_as_a: false,
        classifications: SCC,
        course: false,
        subtypes: &[],
        since: None,
        until: None,
        managed_as_a_until: None,
    }
}

const HEPATITIS: &[Subtype] = &[
    sub("hav", "甲型肝炎", "hepatitis A"),
    Subtype {
        classifications: Some(CONFIRMED_ONLY),
        course: true,
        ..sub("hbv", "乙型肝炎", "hepatitis B")
    },
    Subtype {
        classifications: Some(HCV),
        course: true,
        ..sub("hcv", "丙型肝炎", "hepatitis C")
    },
    sub("hdv", "丁型肝炎", "hepatitis D"),
    sub("hev", "戊型肝炎", "hepatitis E"),
    sub("unclassified", "未分型肝炎", "hepatitis, unclassified"),
];

const DYSENTERY: &[Subtype] = &[
    Subtype {
        classifications: Some(SCC_CARRIER),
        ..sub("bacillary", "细菌性痢疾", "bacillary dysentery")
    },
    sub("amoebic", "阿米巴性痢疾", "amoebic dysentery"),
];

const TUBERCULOSIS: &[Subtype] = &[
    sub("rifampicin_resistant", "利福平耐药", "rifampicin-resistant"),
    sub(
        "bacteriology_positive",
        "病原学阳性",
        "bacteriologically positive",
    ),
    sub(
        "bacteriology_negative",
        "病原学阴性",
        "bacteriologically negative",
    ),
    sub(
        "no_bacteriology",
        "无病原学结果",
        "no bacteriological result",
    ),
];

const SYPHILIS: &[Subtype] = &[
    sub("primary", "一期梅毒", "primary syphilis"),
    sub("secondary", "二期梅毒", "secondary syphilis"),
    sub("tertiary", "三期梅毒", "tertiary syphilis"),
    sub("congenital", "胎传梅毒", "congenital syphilis"),
    sub("latent", "隐性梅毒", "latent syphilis"),
];

const MALARIA: &[Subtype] = &[
    sub("vivax", "间日疟", "vivax malaria"),
    sub("falciparum", "恶性疟", "falciparum malaria"),
    sub("malariae", "三日疟", "malariae malaria"),
    sub("ovale", "卵形疟", "ovale malaria"),
    sub("unclassified", "未分型", "unclassified"),
];

const ANTHRAX: &[Subtype] = &[
    Subtype {
        managed_as_a: true,
        ..sub("pulmonary", "肺炭疽", "pulmonary anthrax")
    },
    sub("cutaneous", "皮肤炭疽", "cutaneous anthrax"),
    sub("unclassified", "未分型", "unclassified"),
];

const HIV_AIDS: &[Subtype] = &[
    sub("hiv", "HIV感染者", "HIV infection"),
    sub("aids", "艾滋病病人", "AIDS patient"),
];

const TYPHOID: &[Subtype] = &[
    sub("typhoid", "伤寒", "typhoid fever"),
    sub("paratyphoid", "副伤寒", "paratyphoid fever"),
];

/// The whole list, in the order of the law (甲, 乙, 丙), then the historical codes, then
/// the other monitored diseases.
pub const DISEASES: &[Disease] = &[
    // 甲类
    disease("plague", "鼠疫", "plague", Class::A),
    Disease {
        classifications: SCC_CARRIER,
        ..disease("cholera", "霍乱", "cholera", Class::A)
    },
    // 乙类
    Disease {
        managed_as_a: true,
        ..disease("sars", "传染性非典型肺炎", "SARS", Class::B)
    },
    Disease {
        classifications: HIV,
        subtypes: HIV_AIDS,
        ..disease("hiv_aids", "艾滋病", "HIV/AIDS", Class::B)
    },
    Disease {
        subtypes: HEPATITIS,
        ..disease("hepatitis", "病毒性肝炎", "viral hepatitis", Class::B)
    },
    Disease {
        managed_as_a: true,
        classifications: SC,
        ..disease("polio", "脊髓灰质炎", "poliomyelitis", Class::B)
    },
    Disease {
        managed_as_a: true,
        since: d(2025, 9, 1),
        ..disease(
            "novel_influenza",
            "人感染新亚型流感",
            "human infection with a novel influenza subtype",
            Class::B,
        )
    },
    disease("measles", "麻疹", "measles", Class::B),
    disease(
        "hfrs",
        "流行性出血热",
        "haemorrhagic fever with renal syndrome",
        Class::B,
    ),
    disease("rabies", "狂犬病", "rabies", Class::B),
    disease(
        "japanese_encephalitis",
        "流行性乙型脑炎",
        "Japanese encephalitis",
        Class::B,
    ),
    disease("dengue", "登革热", "dengue", Class::B),
    Disease {
        since: d(2023, 9, 20),
        ..disease("mpox", "猴痘", "mpox", Class::B)
    },
    Disease {
        subtypes: ANTHRAX,
        ..disease("anthrax", "炭疽", "anthrax", Class::B)
    },
    Disease {
        subtypes: DYSENTERY,
        ..disease(
            "dysentery",
            "细菌性和阿米巴性痢疾",
            "bacillary and amoebic dysentery",
            Class::B,
        )
    },
    Disease {
        subtypes: TUBERCULOSIS,
        ..disease("tb", "肺结核", "pulmonary tuberculosis", Class::B)
    },
    Disease {
        classifications: SCC_CARRIER,
        subtypes: TYPHOID,
        ..disease(
            "typhoid",
            "伤寒和副伤寒",
            "typhoid and paratyphoid fever",
            Class::B,
        )
    },
    disease(
        "meningococcal",
        "流行性脑脊髓膜炎",
        "meningococcal meningitis",
        Class::B,
    ),
    disease("pertussis", "百日咳", "pertussis", Class::B),
    disease("diphtheria", "白喉", "diphtheria", Class::B),
    disease(
        "neonatal_tetanus",
        "新生儿破伤风",
        "neonatal tetanus",
        Class::B,
    ),
    disease("scarlet_fever", "猩红热", "scarlet fever", Class::B),
    disease("brucellosis", "布鲁氏菌病", "brucellosis", Class::B),
    disease("gonorrhoea", "淋病", "gonorrhoea", Class::B),
    Disease {
        subtypes: SYPHILIS,
        ..disease("syphilis", "梅毒", "syphilis", Class::B)
    },
    disease("leptospirosis", "钩端螺旋体病", "leptospirosis", Class::B),
    Disease {
        course: true,
        ..disease("schistosomiasis", "血吸虫病", "schistosomiasis", Class::B)
    },
    Disease {
        subtypes: MALARIA,
        ..disease("malaria", "疟疾", "malaria", Class::B)
    },
    Disease {
        since: d(2020, 1, 20),
        managed_as_a_until: d(2023, 1, 8),
        ..disease("covid19", "新型冠状病毒感染", "COVID-19", Class::B)
    },
    // 丙类
    disease("influenza", "流行性感冒", "influenza", Class::C),
    disease("mumps", "流行性腮腺炎", "mumps", Class::C),
    disease("rubella", "风疹", "rubella", Class::C),
    disease(
        "ahc",
        "急性出血性结膜炎",
        "acute haemorrhagic conjunctivitis",
        Class::C,
    ),
    disease("leprosy", "麻风病", "leprosy", Class::C),
    disease(
        "typhus",
        "流行性和地方性斑疹伤寒",
        "epidemic and endemic typhus",
        Class::C,
    ),
    disease("kala_azar", "黑热病", "kala-azar", Class::C),
    disease("echinococcosis", "包虫病", "echinococcosis", Class::C),
    disease("filariasis", "丝虫病", "filariasis", Class::C),
    Disease {
        since: d(2008, 5, 2),
        ..disease("hfmd", "手足口病", "hand, foot and mouth disease", Class::C)
    },
    disease(
        "other_diarrhoea",
        "其他感染性腹泻病",
        "other infectious diarrhoea",
        Class::C,
    ),
    // Historical codes, for old data (merged into 人感染新亚型流感 on 2025-09-01).
    Disease {
        managed_as_a: true,
        until: d(2025, 9, 1),
        ..disease(
            "hpai",
            "人感染高致病性禽流感",
            "human highly pathogenic avian influenza",
            Class::B,
        )
    },
    Disease {
        since: d(2013, 11, 4),
        until: d(2025, 9, 1),
        ..disease(
            "h7n9",
            "人感染H7N9禽流感",
            "human avian influenza H7N9",
            Class::B,
        )
    },
    // 其他重点监测传染病 [S secondary]; AFP and unexplained pneumonia are surveillance
    // syndromes reported on the same card.
    disease("varicella", "水痘", "varicella", Class::Other),
    Disease {
        managed_as_a: true,
        ..disease("mers", "中东呼吸综合征", "MERS", Class::Other)
    },
    Disease {
        managed_as_a: true,
        ..disease("ebola", "埃博拉病毒病", "Ebola virus disease", Class::Other)
    },
    disease("zika", "寨卡病毒病", "Zika virus disease", Class::Other),
    disease(
        "s_suis",
        "人感染猪链球菌病",
        "human Streptococcus suis infection",
        Class::Other,
    ),
    Disease {
        classifications: AFP,
        ..disease(
            "afp",
            "急性弛缓性麻痹",
            "acute flaccid paralysis",
            Class::Other,
        )
    },
    Disease {
        managed_as_a: true,
        ..disease(
            "unexplained_pneumonia",
            "不明原因肺炎",
            "pneumonia of unknown cause",
            Class::Other,
        )
    },
];

/// The disease with `code`.
pub fn by_code(code: &str) -> Option<&'static Disease> {
    DISEASES.iter().find(|d| d.code == code)
}

/// The diseases notifiable on `on` under the law then in force (the "other monitored"
/// list included), in list order.
pub fn in_force(on: NaiveDate) -> impl Iterator<Item = &'static Disease> {
    DISEASES.iter().filter(move |d| d.in_force(on))
}

impl Disease {
    pub fn in_force(&self, on: NaiveDate) -> bool {
        self.since.is_none_or(|s| on >= s) && self.until.is_none_or(|u| on < u)
    }

    pub fn subtype(&self, code: &str) -> Option<&'static Subtype> {
        self.subtypes.iter().find(|s| s.code == code)
    }

    /// The classifications allowed for `subtype` (the subtype's own list if it has one).
    pub fn allowed(&self, subtype: Option<&Subtype>) -> &'static [CaseClass] {
        subtype
            .and_then(|s| s.classifications)
            .unwrap_or(self.classifications)
    }

    /// Whether 病例分类2 is required for this disease and subtype.
    pub fn needs_course(&self, subtype: Option<&Subtype>) -> bool {
        self.course || subtype.is_some_and(|s| s.course)
    }

    /// Whether a case diagnosed on `on` is reported within 2 hours (甲类, 乙类按甲类管理,
    /// new and unexplained diseases).
    pub fn two_hour(&self, subtype: Option<&Subtype>, on: NaiveDate) -> bool {
        self.class == Class::A
            || self.managed_as_a
            || subtype.is_some_and(|s| s.managed_as_a)
            || self.managed_as_a_until.is_some_and(|u| on < u)
    }

    /// The reporting deadline in hours from diagnosis (2 or 24).
    pub fn deadline_hours(&self, subtype: Option<&Subtype>, on: NaiveDate) -> i64 {
        if self.two_hour(subtype, on) { 2 } else { 24 }
    }

    /// The display name with the subtype, in Chinese: `病毒性肝炎（乙型肝炎）`.
    pub fn label_zh(&self, subtype: Option<&Subtype>) -> String {
        match subtype {
            Some(s) => format!("{}（{}）", self.name_zh, s.name_zh),
            None => self.name_zh.to_owned(),
        }
    }

    pub fn label_en(&self, subtype: Option<&Subtype>) -> String {
        match subtype {
            Some(s) => format!("{} ({})", self.name_en, s.name_en),
            None => self.name_en.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn the_2025_law_lists_2_27_11() {
        let on = day(2025, 9, 1);
        let count = |c: Class| in_force(on).filter(|d| d.class == c).count();
        assert_eq!(count(Class::A), 2);
        assert_eq!(count(Class::B), 27);
        assert_eq!(count(Class::C), 11);
    }

    #[test]
    fn codes_are_unique_ascii_and_names_filled() {
        for (i, a) in DISEASES.iter().enumerate() {
            assert!(
                a.code
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()),
                "{}",
                a.code
            );
            assert!(!a.name_zh.is_empty() && !a.name_en.is_empty());
            assert!(!a.classifications.is_empty());
            for b in &DISEASES[i + 1..] {
                assert_ne!(a.code, b.code);
            }
            for (j, s) in a.subtypes.iter().enumerate() {
                for t in &a.subtypes[j + 1..] {
                    assert_ne!(s.code, t.code, "{}", a.code);
                }
            }
        }
    }

    #[test]
    fn history_moves_diseases_in_and_out_of_the_list() {
        let hfmd = by_code("hfmd").expect("hfmd");
        assert!(!hfmd.in_force(day(2008, 5, 1)));
        assert!(hfmd.in_force(day(2008, 5, 2)));
        let mpox = by_code("mpox").expect("mpox");
        assert!(!mpox.in_force(day(2023, 9, 19)));
        assert!(mpox.in_force(day(2023, 9, 20)));
        let h7n9 = by_code("h7n9").expect("h7n9");
        assert!(h7n9.in_force(day(2025, 8, 31)));
        assert!(!h7n9.in_force(day(2025, 9, 1)));
        assert!(
            by_code("novel_influenza")
                .expect("x")
                .in_force(day(2025, 9, 1))
        );
    }

    #[test]
    fn deadlines_follow_class_and_managed_as_a() {
        let on = day(2026, 3, 1);
        let h = |code: &str, sub: Option<&str>, on: NaiveDate| {
            let d = by_code(code).expect("disease");
            d.deadline_hours(sub.and_then(|s| d.subtype(s)), on)
        };
        assert_eq!(h("plague", None, on), 2);
        assert_eq!(h("cholera", None, on), 2);
        assert_eq!(h("sars", None, on), 2);
        assert_eq!(h("anthrax", Some("pulmonary"), on), 2);
        assert_eq!(h("anthrax", Some("cutaneous"), on), 24);
        assert_eq!(h("measles", None, on), 24);
        assert_eq!(h("hfmd", None, on), 24);
        assert_eq!(h("covid19", None, day(2022, 12, 1)), 2);
        assert_eq!(h("covid19", None, day(2023, 1, 8)), 24);
    }

    #[test]
    fn forbidden_classifications_of_the_production_chis_are_not_allowed() {
        let hep = by_code("hepatitis").expect("hepatitis");
        let hbv = hep.subtype("hbv");
        assert!(!hep.allowed(hbv).contains(&CaseClass::Suspected));
        assert!(!hep.allowed(hbv).contains(&CaseClass::Clinical));
        assert!(hep.needs_course(hbv));
        assert!(!hep.needs_course(hep.subtype("hav")));
        for code in ["polio", "hiv_aids"] {
            let d = by_code(code).expect("disease");
            assert!(!d.allowed(None).contains(&CaseClass::Clinical), "{code}");
        }
        assert!(
            !by_code("afp")
                .expect("afp")
                .allowed(None)
                .contains(&CaseClass::Confirmed)
        );
        assert!(by_code("schistosomiasis").expect("x").needs_course(None));
    }
}
