//! 健康档案编号: the 17-digit number of a resident health record.
//!
//! Layout (国家基本公共卫生服务规范, 居民健康档案管理服务规范, 居民健康档案填写基本要求 \[S\], see
//! `shared/domain.md` §1):
//!
//! | digits | part | rule |
//! |---|---|---|
//! | 1-6 | county | GB/T 2260 county-level code of the 建档 county |
//! | 7-9 | township | 乡镇（街道）, GB/T 10114 |
//! | 10-12 | village part | 001-099 居委会, 101-199 村委会, 901-999 other organisations |
//! | 13-17 | serial | the resident's serial number within the village part, 00001-99999 |
//!
//! The identity key of a person is the 身份证号, not this number; the record number says where
//! the record is kept.
//!
//! # Village part vs the statistical village code
//!
//! The 12-digit 统计用区划代码 (GB/T 10114, see [`crate::division`]) numbers 居委会 001-199 and
//! 村委会 200-399, which does not fit the record number's ranges. [`village_part_for`] maps
//! the last three digits `v` of a 12-digit village code:
//!
//! - `v` in 001-099 (居委会) → `v` unchanged;
//! - `v` in 200-298 (村委会) → `v - 99`, i.e. 200 → 101 … 298 → 199;
//! - anything else (居委会 100-199, 村委会 299-399) has no place in the scheme and is refused
//!   with [`RecordNoError::VillageNotMappable`]: the county then assigns a number by hand from
//!   the 901-999 "other" range, which [`RecordNo::compose_parts`] accepts.
//!
//! The mapping is ours (local practice, \[M\]): the 规范 fixes the ranges but says nothing about
//! the conversion. It keeps order within a township and is one-to-one, so two villages never
//! share a village part.
//!
//! What this module does not do: it does not check that the county or village exists (the
//! division tree is in the store), and it does not allocate serials (the store takes the next
//! free one inside a transaction).

use std::fmt;

use crate::division::{DivisionCode, Level};

/// A checked 17-digit health-record number.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordNo(String);

/// The kind of organisation a village part stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VillageKind {
    /// 居委会, village part 001-099.
    ResidentsCommittee,
    /// 村委会, village part 101-199.
    VillagersCommittee,
    /// 其他 (e.g. a farm, a school, a care home), village part 901-999.
    Other,
}

/// Why a record number was refused or could not be composed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordNoError {
    #[error("a health-record number has 17 digits, this one has {0}")]
    Length(usize),
    #[error("character {position} of a health-record number must be a digit")]
    NotDigit { position: usize },
    #[error("the first 6 digits {0} are not a county-level GB/T 2260 code")]
    County(String),
    #[error("the township part (digits 7-9) cannot be 000")]
    Township,
    #[error(
        "the village part (digits 10-12) {0} is outside 001-099 (居委会), 101-199 (村委会) and 901-999 (other)"
    )]
    VillagePart(String),
    #[error("the serial (digits 13-17) must be 00001 to 99999, found {0}")]
    Serial(u32),
    #[error("{0} is not a 12-digit village code (村级 统计用区划代码)")]
    NotAVillage(String),
    #[error(
        "village code {0} has no village part in the record-number scheme (only 居委会 001-099 and 村委会 200-298 map); assign one from 901-999"
    )]
    VillageNotMappable(String),
}

fn village_kind(part: u16) -> Option<VillageKind> {
    match part {
        1..=99 => Some(VillageKind::ResidentsCommittee),
        101..=199 => Some(VillageKind::VillagersCommittee),
        901..=999 => Some(VillageKind::Other),
        _ => None,
    }
}

/// The record-number village part of a 12-digit village code. See the module documentation.
pub fn village_part_for(village: &DivisionCode) -> Result<u16, RecordNoError> {
    if village.level() != Level::Village {
        return Err(RecordNoError::NotAVillage(village.stats12()));
    }
    let own: u16 = village.as_str()[9..12]
        .parse()
        .expect("a village code ends in three digits");
    match own {
        1..=99 => Ok(own),
        200..=298 => Ok(own - 99),
        _ => Err(RecordNoError::VillageNotMappable(village.stats12())),
    }
}

impl RecordNo {
    /// Check a 17-digit number (surrounding spaces ignored).
    pub fn parse(input: &str) -> Result<RecordNo, RecordNoError> {
        let s = input.trim();
        let n = s.chars().count();
        if n != 17 {
            return Err(RecordNoError::Length(n));
        }
        if let Some(position) = s.chars().position(|c| !c.is_ascii_digit()) {
            return Err(RecordNoError::NotDigit {
                position: position + 1,
            });
        }
        let county = &s[..6];
        match DivisionCode::parse(county) {
            Ok(code) if code.level() == Level::County => {}
            _ => return Err(RecordNoError::County(county.to_owned())),
        }
        if &s[6..9] == "000" {
            return Err(RecordNoError::Township);
        }
        let part: u16 = s[9..12].parse().expect("three digits");
        if village_kind(part).is_none() {
            return Err(RecordNoError::VillagePart(s[9..12].to_owned()));
        }
        let serial: u32 = s[12..].parse().expect("five digits");
        if serial == 0 {
            return Err(RecordNoError::Serial(0));
        }
        Ok(RecordNo(s.to_owned()))
    }

    /// The number of the `serial`-th resident of a 12-digit `village`, by [`village_part_for`].
    pub fn compose(village: &DivisionCode, serial: u32) -> Result<RecordNo, RecordNoError> {
        let part = village_part_for(village)?;
        let township = village.parent().expect("a village has a township");
        RecordNo::compose_parts(&township, part, serial)
    }

    /// The number from a 9-digit `township` code, a village part assigned by the county
    /// (for organisations in 901-999, or villages [`village_part_for`] cannot map) and a serial.
    pub fn compose_parts(
        township: &DivisionCode,
        village_part: u16,
        serial: u32,
    ) -> Result<RecordNo, RecordNoError> {
        if township.level() != Level::Township {
            return Err(RecordNoError::NotAVillage(township.stats12()));
        }
        if village_kind(village_part).is_none() {
            return Err(RecordNoError::VillagePart(format!("{village_part:03}")));
        }
        if !(1..=99_999).contains(&serial) {
            return Err(RecordNoError::Serial(serial));
        }
        Ok(RecordNo(format!(
            "{}{village_part:03}{serial:05}",
            township.as_str()
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 6-digit GB/T 2260 county code.
    pub fn county(&self) -> &str {
        &self.0[..6]
    }

    /// The 3-digit township part.
    pub fn township(&self) -> &str {
        &self.0[6..9]
    }

    /// The 3-digit village part (not the statistical village code: see the module docs).
    pub fn village_part(&self) -> &str {
        &self.0[9..12]
    }

    pub fn village_kind(&self) -> VillageKind {
        village_kind(self.0[9..12].parse().expect("checked in parse")).expect("checked in parse")
    }

    pub fn serial(&self) -> u32 {
        self.0[12..].parse().expect("checked in parse")
    }
}

impl fmt::Display for RecordNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> DivisionCode {
        DivisionCode::parse(s).unwrap()
    }

    #[track_caller]
    fn check_parse(input: &str, expect: Result<(&str, &str, &str, u32), RecordNoError>) {
        let got = RecordNo::parse(input).map(|r| {
            let serial = r.serial();
            (
                r.county().to_owned(),
                r.township().to_owned(),
                r.village_part().to_owned(),
                serial,
            )
        });
        let expect = expect.map(|(c, t, v, s)| (c.to_owned(), t.to_owned(), v.to_owned(), s));
        assert_eq!(got, expect, "{input}");
    }

    #[test]
    fn parses_and_refuses_with_a_reason() {
        use RecordNoError::*;
        check_parse("45122610010100001", Ok(("451226", "100", "101", 1)));
        check_parse(" 45122610000199999 ", Ok(("451226", "100", "001", 99_999)));
        check_parse("45128120090100042", Ok(("451281", "200", "901", 42)));
        check_parse("4512261001010000", Err(Length(16)));
        check_parse("451226100101000012", Err(Length(18)));
        check_parse("4512261001010000a", Err(NotDigit { position: 17 }));
        check_parse("45120010010100001", Err(County("451200".into())));
        check_parse("99122610010100001", Err(County("991226".into())));
        check_parse("45122600010100001", Err(Township));
        check_parse("45122610000000001", Err(VillagePart("000".into())));
        check_parse("45122610010000001", Err(VillagePart("100".into())));
        check_parse("45122610020000001", Err(VillagePart("200".into())));
        check_parse("45122610090000001", Err(VillagePart("900".into())));
        check_parse("45122610010100000", Err(Serial(0)));
    }

    #[test]
    fn kinds_follow_the_village_ranges() {
        let kind = |s: &str| RecordNo::parse(s).unwrap().village_kind();
        assert_eq!(kind("45122610009900001"), VillageKind::ResidentsCommittee);
        assert_eq!(kind("45122610019900001"), VillageKind::VillagersCommittee);
        assert_eq!(kind("45122610099900001"), VillageKind::Other);
    }

    #[test]
    fn maps_statistical_village_codes() {
        let cases: &[(&str, Result<u16, RecordNoError>)] = &[
            ("451226100001", Ok(1)),
            ("451226100099", Ok(99)),
            ("451226100200", Ok(101)),
            ("451226100201", Ok(102)),
            ("451226100298", Ok(199)),
            (
                "451226100100",
                Err(RecordNoError::VillageNotMappable("451226100100".into())),
            ),
            (
                "451226100299",
                Err(RecordNoError::VillageNotMappable("451226100299".into())),
            ),
            (
                "451226100",
                Err(RecordNoError::NotAVillage("451226100000".into())),
            ),
        ];
        for (village, expect) in cases {
            assert_eq!(&village_part_for(&code(village)), expect, "{village}");
        }
    }

    #[test]
    fn composes_from_a_village_code() {
        let r = RecordNo::compose(&code("451226100201"), 42).unwrap();
        assert_eq!(r.to_string(), "45122610010200042");
        assert_eq!(r.village_kind(), VillageKind::VillagersCommittee);
        assert_eq!(
            RecordNo::compose(&code("451226100201"), 0),
            Err(RecordNoError::Serial(0))
        );
        assert_eq!(
            RecordNo::compose(&code("451226100201"), 100_000),
            Err(RecordNoError::Serial(100_000))
        );
        let other = RecordNo::compose_parts(&code("451226100"), 901, 7).unwrap();
        assert_eq!(other.as_str(), "45122610090100007");
        assert_eq!(
            RecordNo::compose_parts(&code("451226100"), 250, 7),
            Err(RecordNoError::VillagePart("250".into()))
        );
    }

    #[test]
    fn error_messages_say_what_to_fix() {
        assert_eq!(
            RecordNoError::VillagePart("250".into()).to_string(),
            "the village part (digits 10-12) 250 is outside 001-099 (居委会), 101-199 (村委会) and 901-999 (other)"
        );
    }

    proptest::proptest! {
        #[test]
        fn compose_then_parse_round_trips(
            township in 1u16..400,
            village in proptest::prop_oneof![1u16..100, 200u16..299],
            serial in 1u32..100_000,
        ) {
            let village_code = code(&format!("451226{township:03}{village:03}"));
            let r = RecordNo::compose(&village_code, serial).unwrap();
            let again = RecordNo::parse(&r.to_string()).unwrap();
            proptest::prop_assert_eq!(&again, &r);
            proptest::prop_assert_eq!(again.serial(), serial);
            proptest::prop_assert_eq!(again.county(), "451226");
            proptest::prop_assert_eq!(again.township(), format!("{township:03}"));
        }

        #[test]
        fn distinct_villages_get_distinct_parts(a in 1u16..400, b in 1u16..400) {
            let part = |v: u16| village_part_for(&code(&format!("451226100{v:03}"))).ok();
            if a != b && part(a).is_some() {
                proptest::prop_assert_ne!(part(a), part(b));
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = RecordNo::parse(&s);
        }
    }
}
