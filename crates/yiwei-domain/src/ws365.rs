//! Coded value sets of the resident record's 个人基本信息表 (WS 365-2011 城乡居民健康档案基本
//! 数据集; form of 国家基本公共卫生服务规范（第三版）, 2017).
//!
//! Each set is an enum with `ALL`, `code()`, `name_zh()`, `name_en()` and `parse(code)`.
//! `code()` is the national code where a national classification exists (GB/T 2261.1 sex,
//! GB 3304 ethnicity, GB/T 4658 education, GB/T 6565 occupation, GB/T 2261.2 marital status,
//! GB/T 4761 family relation, the WS 364 payment-method codes); otherwise it is the option
//! number printed on the 个人基本信息表, which is what paper forms and most county systems
//! store. Each enum's `CODES` constant says which. Multiple-choice questions whose form option
//! 1 is "无" (allergy, exposure, disability) are modelled as a list of these values, and "无"
//! is the empty list, so `"1"` does not parse there.
//!
//! This module holds value sets only: which fields are required, and how a record is judged,
//! is [`crate::ehr_quality`]; wire formats (FHIR codings) live in `yiwei-web`.
//!
//! # How sure each set is
//!
//! Legend as in `shared/domain.md`: **\[S\]** seen in a stored public source this session,
//! **\[M\]** background knowledge consistent with what was seen.
//!
//! | Set | Codes | Status |
//! |---|---|---|
//! | [`Sex`] | GB/T 2261.1: 0, 1, 2, 9 | \[S\] rw-bsoft/his `chis/dictionary/gender.dic` |
//! | [`Ethnicity`] | GB 3304: 01-56, 97 其他, 98 外国血统中国籍人士 | \[S\] rw-bsoft/his `ethnic.dic` (01-56 in this order); 97/98 in several public code tables |
//! | [`ResidenceType`] | form 1 户籍, 2 非户籍 | \[S\] form text in a stored page; rw-bsoft/his `MPI_DemographicInfo.sc` |
//! | [`BloodAbo`] | form/WS 364 1 A, 2 B, 3 O, 4 AB, 5 不详 | \[S\] rw-bsoft/his `blood.dic` and form text |
//! | [`BloodRh`] | WS 364 1 阴性, 2 阳性, 3 不详 | \[M\] — see the trap in its doc |
//! | [`Education`] | GB/T 4658: 10 … 90; 不详 local `99` | \[S\] 10-90 in one public code comment; wording of the form \[S\] rw-bsoft/his `education.dic`; `99` local |
//! | [`Occupation`] | GB/T 6565-1999 major groups 0, 1/2, 3, 4, 5, 6/7/8/9, X, Y; 无职业 local `W` | \[S\] rw-bsoft/his `jobtitle.dic` (which spells the sixth group `9-9`, accepted as an alias) and its form radio (`W`); the spelling `6/7/8/9` is \[M\] |
//! | [`MaritalStatus`] | GB/T 2261.2: 10, 20, 30, 40, 90 | \[S\] one public code comment listing 10/20-23/30/40/90 |
//! | [`PaymentMethod`] | WS 364 医疗费用来源类别: 01-07, 99 | \[S\] rw-bsoft/his `payMode.dic` (01, 02 城乡居民, 04-07, 99); 03 新农合 and the old name of 02 \[M\] |
//! | [`DrugAllergy`] | form 2 青霉素, 3 磺胺, 4 链霉素, 5 其他 | \[M\] |
//! | [`Exposure`] | form 2 化学品, 3 毒物, 4 射线 | \[M\] |
//! | [`Disability`] | form 2 视力 … 8 其他 | \[S\] order of the options in a public form app; numbers \[M\] |
//! | [`KitchenExhaust`] | form 1 无, 2 油烟机, 3 换气扇, 4 烟囱 | \[S\] public code comment with these keys |
//! | [`Fuel`] | form 1 液化气 … 6 其他 | \[S\] public code comment with these keys |
//! | [`DrinkingWater`] | form 1 自来水 … 6 其他 | \[S\] public form page with these numbers |
//! | [`Toilet`] | form 1 卫生厕所 … 5 简易棚厕 | \[S\] public form page and enum with these numbers |
//! | [`LivestockPen`] | form 1 无, 2 单设, 3 室内, 4 室外 | \[S\] public form app (the 2011 form had only 单设/室内/室外 as 1-3) |
//! | [`HouseholdRelation`] | GB/T 4761-2008 group codes 02, 10 … 70, 97, 99 | \[S\] 01/02/10-52/97/99 in public code tables; 60, 70 and the 80-96 group \[M\] |
//!
//! Where a county system uses other numbers (some number the options of the 2011 form, some
//! reverse Rh), convert at import; never reinterpret stored codes.

use std::fmt;

/// A code that is not in a value set.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code:?} is not a code of {set_en} ({set_zh})")]
pub struct UnknownCode {
    pub set_zh: &'static str,
    pub set_en: &'static str,
    pub code: String,
}

/// Defines a value-set enum. Each entry is `Variant = "code" | "alias"…, "中文", "English";`.
/// Aliases are other spellings accepted by `parse` (detailed sub-codes that fold into a
/// group, or spellings seen in production systems); `code()` always returns the first.
macro_rules! value_set {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($set_zh:literal, $set_en:literal, codes: $codes:literal) {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $code:literal $(| $alias:literal)*, $zh:literal, $en:literal;
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order of the standard or form.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
            /// Name of the value set.
            pub const SET_ZH: &'static str = $set_zh;
            pub const SET_EN: &'static str = $set_en;
            /// Where `code()` comes from.
            pub const CODES: &'static str = $codes;

            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            pub fn name_zh(self) -> &'static str {
                match self { $($name::$variant => $zh,)+ }
            }

            pub fn name_en(self) -> &'static str {
                match self { $($name::$variant => $en,)+ }
            }

            /// The value of a code (surrounding spaces ignored).
            pub fn parse(code: &str) -> Result<$name, UnknownCode> {
                let code = code.trim();
                $(
                    if code == $code $(|| code == $alias)* {
                        return Ok($name::$variant);
                    }
                )+
                Err(UnknownCode { set_zh: $set_zh, set_en: $set_en, code: code.to_owned() })
            }
        }

        impl fmt::Display for $name {
            /// The Chinese name, as printed on the form.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name_zh())
            }
        }
    };
}

value_set! {
    /// 性别 (GB/T 2261.1-2003).
    pub enum Sex ("性别", "sex", codes: "GB/T 2261.1-2003") {
        Unknown = "0", "未知的性别", "unknown";
        Male = "1", "男", "male";
        Female = "2", "女", "female";
        Unstated = "9", "未说明的性别", "not stated";
    }
}

impl From<crate::id_card::Sex> for Sex {
    fn from(sex: crate::id_card::Sex) -> Sex {
        match sex {
            crate::id_card::Sex::Male => Sex::Male,
            crate::id_card::Sex::Female => Sex::Female,
        }
    }
}

value_set! {
    /// 民族 (GB 3304-1991 中国各民族名称的罗马字母拼写法和代码). The form itself only asks
    /// 汉族 / 少数民族; the record stores the group.
    pub enum Ethnicity ("民族", "ethnicity", codes: "GB 3304-1991") {
        Han = "01", "汉族", "Han";
        Mongol = "02", "蒙古族", "Mongol";
        Hui = "03", "回族", "Hui";
        Tibetan = "04", "藏族", "Tibetan";
        Uyghur = "05", "维吾尔族", "Uyghur";
        Miao = "06", "苗族", "Miao";
        Yi = "07", "彝族", "Yi";
        Zhuang = "08", "壮族", "Zhuang";
        Bouyei = "09", "布依族", "Bouyei";
        Korean = "10", "朝鲜族", "Korean";
        Manchu = "11", "满族", "Manchu";
        Dong = "12", "侗族", "Dong";
        Yao = "13", "瑶族", "Yao";
        Bai = "14", "白族", "Bai";
        Tujia = "15", "土家族", "Tujia";
        Hani = "16", "哈尼族", "Hani";
        Kazakh = "17", "哈萨克族", "Kazakh";
        Dai = "18", "傣族", "Dai";
        Li = "19", "黎族", "Li";
        Lisu = "20", "傈僳族", "Lisu";
        Va = "21", "佤族", "Va";
        She = "22", "畲族", "She";
        Gaoshan = "23", "高山族", "Gaoshan";
        Lahu = "24", "拉祜族", "Lahu";
        Sui = "25", "水族", "Sui";
        Dongxiang = "26", "东乡族", "Dongxiang";
        Naxi = "27", "纳西族", "Naxi";
        Jingpo = "28", "景颇族", "Jingpo";
        Kyrgyz = "29", "柯尔克孜族", "Kyrgyz";
        Tu = "30", "土族", "Tu";
        Daur = "31", "达斡尔族", "Daur";
        Mulao = "32", "仫佬族", "Mulao";
        Qiang = "33", "羌族", "Qiang";
        Blang = "34", "布朗族", "Blang";
        Salar = "35", "撒拉族", "Salar";
        Maonan = "36", "毛南族", "Maonan";
        Gelao = "37", "仡佬族", "Gelao";
        Xibe = "38", "锡伯族", "Xibe";
        Achang = "39", "阿昌族", "Achang";
        Pumi = "40", "普米族", "Pumi";
        Tajik = "41", "塔吉克族", "Tajik";
        Nu = "42", "怒族", "Nu";
        Uzbek = "43", "乌孜别克族", "Uzbek";
        Russian = "44", "俄罗斯族", "Russian";
        Evenki = "45", "鄂温克族", "Evenki";
        Deang = "46", "德昂族", "De'ang";
        Bonan = "47", "保安族", "Bonan";
        Yugur = "48", "裕固族", "Yugur";
        Gin = "49", "京族", "Gin";
        Tatar = "50", "塔塔尔族", "Tatar";
        Derung = "51", "独龙族", "Derung";
        Oroqen = "52", "鄂伦春族", "Oroqen";
        Hezhen = "53", "赫哲族", "Hezhen";
        Monba = "54", "门巴族", "Monba";
        Lhoba = "55", "珞巴族", "Lhoba";
        Jino = "56", "基诺族", "Jino";
        Other = "97", "其他", "other";
        ForeignOrigin = "98", "外国血统中国籍人士", "Chinese citizen of foreign origin";
    }
}

impl Ethnicity {
    /// The form's own question: 1 汉族, 2 少数民族.
    pub fn is_minority(self) -> bool {
        self != Ethnicity::Han
    }
}

value_set! {
    /// 常住类型: whether the resident's 户籍 is here. Both count as 常住居民 (living here for at
    /// least half a year, `domain.md` §1).
    pub enum ResidenceType ("常住类型", "residence type", codes: "个人基本信息表 option numbers") {
        Registered = "1", "户籍", "registered household (hukou) here";
        NotRegistered = "2", "非户籍", "hukou elsewhere";
    }
}

value_set! {
    /// ABO 血型 (WS 364 ABO血型代码; the form uses the same numbers).
    pub enum BloodAbo ("ABO血型", "ABO blood group", codes: "WS 364 ABO血型代码 = form option numbers") {
        A = "1", "A型", "A";
        B = "2", "B型", "B";
        O = "3", "O型", "O";
        Ab = "4", "AB型", "AB";
        NotKnown = "5", "不详", "not known";
    }
}

value_set! {
    /// Rh(D) 血型 (WS 364 Rh血型代码 \[M\]).
    ///
    /// Trap: the 2011 form asked "Rh阴性: 1否 2是 3不详", so a system built on it stores 1 for
    /// *positive*, and at least one production CHIS (rw-bsoft/his `rhBlood.dic`) uses
    /// 1 阳性, 2 阴性. Convert such data at import by meaning, not by number.
    pub enum BloodRh ("Rh血型", "Rh blood group", codes: "WS 364 Rh(D)血型代码 [M]") {
        Negative = "1", "Rh阴性", "Rh negative";
        Positive = "2", "Rh阳性", "Rh positive";
        NotKnown = "3", "不详", "not known";
    }
}

value_set! {
    /// 文化程度 as the form simplifies GB/T 4658-2006 (highest level completed). The form
    /// numbers them 1 研究生 … 10 不详; the codes here are GB/T 4658's, and 不详, which the
    /// standard lacks, gets the local code `99`.
    pub enum Education ("文化程度", "education", codes: "GB/T 4658-2006; 99 local") {
        Postgraduate = "10", "研究生", "postgraduate";
        Bachelor = "20", "大学本科", "university (bachelor)";
        College = "30", "大学专科和专科学校", "college (associate)";
        SecondarySpecialised = "40", "中等专业学校", "specialised secondary school";
        Technical = "50", "技工学校", "technical school";
        HighSchool = "60", "高中", "senior high school";
        JuniorHigh = "70", "初中", "junior high school";
        Primary = "80", "小学", "primary school";
        Illiterate = "90", "文盲或半文盲", "illiterate or semi-literate";
        NotKnown = "99", "不详", "not known";
    }
}

value_set! {
    /// 职业 as the form lists the major groups of GB/T 6565-1999 (职业分类与代码), plus the
    /// form's 无职业, which has no code there (local `W`, as rw-bsoft/his stores it).
    /// Single digits of the split groups (`1`, `2`; `6` … `9`) are accepted on input.
    pub enum Occupation ("职业", "occupation", codes: "GB/T 6565-1999 major groups; W local") {
        Leaders = "0", "国家机关、党群组织、企业、事业单位负责人",
            "heads of government, party and mass organisations, enterprises and institutions";
        Professionals = "1/2" | "1" | "2", "专业技术人员", "professional and technical staff";
        Clerks = "3", "办事人员和有关人员", "clerks and related staff";
        CommerceAndServices = "4", "商业、服务业人员", "commerce and service workers";
        Agriculture = "5", "农、林、牧、渔、水利业生产人员",
            "farming, forestry, animal husbandry, fishery and water conservancy workers";
        Production = "6/7/8/9" | "6" | "7" | "8" | "9" | "9-9", "生产、运输设备操作人员及有关人员",
            "production and transport equipment operators and related workers";
        Military = "X", "军人", "military";
        Other = "Y", "不便分类的其他从业人员", "other workers not classified";
        NoOccupation = "W", "无职业", "no occupation";
    }
}

value_set! {
    /// 婚姻状况 (GB/T 2261.2-2003). The form's options are 1 未婚 … 5 未说明; the detailed
    /// codes 21 初婚, 22 再婚, 23 复婚 fold into 已婚 on input.
    pub enum MaritalStatus ("婚姻状况", "marital status", codes: "GB/T 2261.2-2003") {
        Unmarried = "10", "未婚", "never married";
        Married = "20" | "21" | "22" | "23", "已婚", "married";
        Widowed = "30", "丧偶", "widowed";
        Divorced = "40", "离婚", "divorced";
        Unstated = "90", "未说明的婚姻状况", "not stated";
    }
}

value_set! {
    /// 医疗费用支付方式 (WS 364 医疗费用来源类别代码; several may apply).
    ///
    /// 城镇居民基本医疗保险 (02) and 新型农村合作医疗 (03) were merged into 城乡居民基本医疗保险
    /// (国发〔2016〕3号, rolled out by 2019-2020); systems that followed reuse 02 for the merged
    /// scheme \[S rw-bsoft/his `payMode.dic`]. 03 stays parseable for old records; see
    /// [`PaymentMethod::current`].
    pub enum PaymentMethod ("医疗费用支付方式", "medical payment method", codes: "WS 364 医疗费用来源类别代码") {
        UrbanEmployee = "01", "城镇职工基本医疗保险", "urban employee basic medical insurance";
        UrbanRuralResident = "02", "城乡居民基本医疗保险",
            "urban and rural resident basic medical insurance (formerly urban resident)";
        /// Historical: merged into [`PaymentMethod::UrbanRuralResident`].
        NewRuralCooperative = "03", "新型农村合作医疗", "new rural cooperative medical scheme";
        PovertyRelief = "04", "贫困救助", "medical assistance for the poor";
        Commercial = "05", "商业医疗保险", "commercial medical insurance";
        FullyPublic = "06", "全公费", "fully state-funded";
        SelfPaid = "07", "全自费", "fully self-paid";
        Other = "99", "其他", "other";
    }
}

impl PaymentMethod {
    /// The scheme a value means today: 新农合 is now 城乡居民基本医疗保险.
    pub fn current(self) -> PaymentMethod {
        match self {
            PaymentMethod::NewRuralCooperative => PaymentMethod::UrbanRuralResident,
            other => other,
        }
    }
}

value_set! {
    /// 药物过敏史 (form options; 1 无 = empty list).
    pub enum DrugAllergy ("药物过敏史", "drug allergy", codes: "个人基本信息表 option numbers") {
        Penicillin = "2", "青霉素", "penicillin";
        Sulfonamide = "3", "磺胺", "sulfonamides";
        Streptomycin = "4", "链霉素", "streptomycin";
        Other = "5", "其他", "other";
    }
}

value_set! {
    /// 暴露史 (form options; 1 无 = empty list).
    pub enum Exposure ("暴露史", "exposure", codes: "个人基本信息表 option numbers") {
        Chemicals = "2", "化学品", "chemicals";
        Poisons = "3", "毒物", "poisons";
        Radiation = "4", "射线", "radiation";
    }
}

value_set! {
    /// 残疾情况 (form options; 1 无残疾 = empty list). GB/T 26341-2010 numbers the six kinds
    /// 1-6 instead; the form's numbers are kept because records are entered from the form.
    pub enum Disability ("残疾情况", "disability", codes: "个人基本信息表 option numbers") {
        Visual = "2", "视力残疾", "visual";
        Hearing = "3", "听力残疾", "hearing";
        Speech = "4", "言语残疾", "speech";
        Physical = "5", "肢体残疾", "physical";
        Intellectual = "6", "智力残疾", "intellectual";
        Mental = "7", "精神残疾", "mental (psychiatric)";
        Other = "8", "其他残疾", "other";
    }
}

value_set! {
    /// 生活环境 — 厨房排风设施.
    pub enum KitchenExhaust ("厨房排风设施", "kitchen exhaust", codes: "个人基本信息表 option numbers") {
        None = "1", "无", "none";
        RangeHood = "2", "油烟机", "range hood";
        ExhaustFan = "3", "换气扇", "exhaust fan";
        Chimney = "4", "烟囱", "chimney";
    }
}

value_set! {
    /// 生活环境 — 燃料类型.
    pub enum Fuel ("燃料类型", "cooking fuel", codes: "个人基本信息表 option numbers") {
        Lpg = "1", "液化气", "liquefied petroleum gas";
        Coal = "2", "煤", "coal";
        NaturalGas = "3", "天然气", "natural gas";
        Biogas = "4", "沼气", "biogas";
        Firewood = "5", "柴火", "firewood";
        Other = "6", "其他", "other";
    }
}

value_set! {
    /// 生活环境 — 饮水.
    pub enum DrinkingWater ("饮水", "drinking water", codes: "个人基本信息表 option numbers") {
        TapWater = "1", "自来水", "tap water";
        Purified = "2", "经净化过滤的水", "purified or filtered water";
        Well = "3", "井水", "well water";
        RiverOrLake = "4", "河湖水", "river or lake water";
        Pond = "5", "塘水", "pond water";
        Other = "6", "其他", "other";
    }
}

value_set! {
    /// 生活环境 — 厕所.
    pub enum Toilet ("厕所", "toilet", codes: "个人基本信息表 option numbers") {
        Sanitary = "1", "卫生厕所", "sanitary toilet";
        SepticOneOrTwoCompartment = "2", "一格或二格粪池式", "one- or two-compartment septic pit";
        Bucket = "3", "马桶", "chamber pot";
        OpenPit = "4", "露天粪坑", "open pit";
        SimpleShed = "5", "简易棚厕", "simple shed latrine";
    }
}

value_set! {
    /// 生活环境 — 禽畜栏.
    pub enum LivestockPen ("禽畜栏", "livestock pen", codes: "个人基本信息表 option numbers") {
        None = "1", "无", "none";
        Separate = "2", "单设", "separate pen";
        Indoor = "3", "室内", "indoors";
        Outdoor = "4", "室外", "outdoors";
    }
}

value_set! {
    /// 与户主关系 (GB/T 4761-2008 家庭关系代码, group level). Detailed codes fold into their
    /// group on input (11 夫 → 配偶, 28 女婿 → 子 as the standard groups it, 41 孙子 → 孙子女,
    /// 80-96 伯父 … 外甥女 → 其他亲属). 01 本人 is not a relation to a householder.
    pub enum HouseholdRelation ("与户主关系", "relation to householder", codes: "GB/T 4761-2008") {
        Householder = "02", "户主", "householder";
        Spouse = "10" | "11" | "12", "配偶", "spouse";
        Son = "20" | "21" | "22" | "23" | "24" | "25" | "26" | "27" | "28" | "29", "子",
            "son";
        Daughter = "30" | "31" | "32" | "33" | "34" | "35" | "36" | "37" | "38" | "39", "女",
            "daughter";
        Grandchild = "40" | "41" | "42" | "43" | "44" | "45" | "46" | "47" | "48" | "49",
            "孙子女或外孙子女", "grandchild";
        Parent = "50" | "51" | "52" | "53" | "54" | "55" | "56" | "57" | "58" | "59", "父母",
            "parent";
        Grandparent = "60" | "61" | "62" | "63" | "64" | "65" | "66" | "67" | "68" | "69",
            "祖父母或外祖父母", "grandparent";
        Sibling = "70" | "71" | "72" | "73" | "74" | "75" | "76" | "77" | "78" | "79",
            "兄弟姐妹", "sibling";
        OtherRelative = "97" | "80" | "81" | "82" | "83" | "84" | "85" | "86" | "87" | "88"
            | "89" | "90" | "91" | "92" | "93" | "94" | "95" | "96", "其他亲属", "other relative";
        NonRelative = "99", "非亲属", "not related";
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Every set: codes unique, names non-empty, and `parse(code())` gives the value back.
    macro_rules! check_sets {
        ($($set:ty),+ $(,)?) => {$(
            let mut seen = HashSet::new();
            for value in <$set>::ALL {
                assert!(seen.insert(value.code()), "{} duplicate {}", <$set>::SET_EN, value.code());
                assert_eq!(<$set>::parse(value.code()), Ok(*value), "{}", <$set>::SET_EN);
                assert!(!value.name_zh().is_empty() && !value.name_en().is_empty());
                assert_eq!(value.to_string(), value.name_zh());
            }
            let err = <$set>::parse("nonsense").unwrap_err();
            assert_eq!(err.set_en, <$set>::SET_EN);
        )+};
    }

    #[test]
    fn every_set_round_trips_and_has_unique_codes() {
        check_sets!(
            Sex,
            Ethnicity,
            ResidenceType,
            BloodAbo,
            BloodRh,
            Education,
            Occupation,
            MaritalStatus,
            PaymentMethod,
            DrugAllergy,
            Exposure,
            Disability,
            KitchenExhaust,
            Fuel,
            DrinkingWater,
            Toilet,
            LivestockPen,
            HouseholdRelation,
        );
    }

    #[test]
    fn sizes_match_the_standards() {
        assert_eq!(Sex::ALL.len(), 4);
        // 56 groups plus 其他 and 外国血统.
        assert_eq!(Ethnicity::ALL.len(), 58);
        assert_eq!(Education::ALL.len(), 10);
        assert_eq!(Occupation::ALL.len(), 9);
        assert_eq!(MaritalStatus::ALL.len(), 5);
        assert_eq!(PaymentMethod::ALL.len(), 8);
        assert_eq!(Disability::ALL.len(), 7);
        assert_eq!(HouseholdRelation::ALL.len(), 10);
    }

    #[test]
    fn parses_known_codes_and_aliases() {
        let cases: &[(&str, Result<&str, ()>)] = &[
            ("01", Ok("汉族")),
            ("56", Ok("基诺族")),
            ("36", Ok("毛南族")),
            ("98", Ok("外国血统中国籍人士")),
            ("57", Err(())),
            ("1", Err(())),
        ];
        for (code, expect) in cases {
            let got = Ethnicity::parse(code)
                .map(Ethnicity::name_zh)
                .map_err(|_| ());
            assert_eq!(&got, expect, "{code}");
        }
        assert_eq!(Sex::parse(" 2 "), Ok(Sex::Female));
        assert_eq!(Occupation::parse("2"), Ok(Occupation::Professionals));
        assert_eq!(Occupation::parse("9-9"), Ok(Occupation::Production));
        assert_eq!(Occupation::parse("X"), Ok(Occupation::Military));
        assert_eq!(MaritalStatus::parse("22"), Ok(MaritalStatus::Married));
        assert_eq!(
            HouseholdRelation::parse("11"),
            Ok(HouseholdRelation::Spouse)
        );
        assert_eq!(
            HouseholdRelation::parse("93"),
            Ok(HouseholdRelation::OtherRelative)
        );
        assert!(HouseholdRelation::parse("01").is_err());
        // Option 1 (无) of a multiple choice is the empty list, not a value.
        assert!(DrugAllergy::parse("1").is_err());
        assert!(Disability::parse("1").is_err());
    }

    #[test]
    fn unknown_codes_name_the_set() {
        let err = BloodAbo::parse("6").unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"6\" is not a code of ABO blood group (ABO血型)"
        );
    }

    #[test]
    fn new_rural_cooperative_is_now_the_resident_scheme() {
        assert_eq!(
            PaymentMethod::NewRuralCooperative.current(),
            PaymentMethod::UrbanRuralResident
        );
        assert_eq!(PaymentMethod::SelfPaid.current(), PaymentMethod::SelfPaid);
    }

    #[test]
    fn sex_from_the_id_card() {
        assert_eq!(Sex::from(crate::id_card::Sex::Male), Sex::Male);
        assert_eq!(Sex::from(crate::id_card::Sex::Female), Sex::Female);
        assert!(Ethnicity::Zhuang.is_minority());
        assert!(!Ethnicity::Han.is_minority());
    }
}
