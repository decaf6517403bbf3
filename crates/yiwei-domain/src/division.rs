//! Administrative divisions (行政区划) and their codes.
//!
//! Two code systems meet here:
//! - **GB/T 2260** gives 6-digit codes down to the county (县级): `PPCCDD`, where a
//!   prefecture is written `PPCC00` and a province `PP0000`.
//! - The National Bureau of Statistics' **统计用区划代码** extends them to 12 digits: the 6-digit
//!   county, then 3 digits for the township (乡级: 街道 001-099, 镇 100-199, 乡 200-399 by the NBS
//!   coding rules) and 3 for the village or community (村级: 居委会 001-199, 村委会 200-399).
//!
//! A [`DivisionCode`] keeps only the *significant* digits (`45` for Guangxi, `4512` for 河池市,
//! `451226` for 环江县, `451226100` for a township, `451226100201` for a village), so that "is
//! inside" is "starts with" and a subtree is a contiguous key range. It prints in the padded
//! forms people know ([`DivisionCode::gbt2260`], [`DivisionCode::stats12`]).
//!
//! This module does not know which codes exist; the list of divisions lives in the store.
//! The township/village sub-ranges above are background knowledge consistent with the NBS
//! tables, not checked against the rule text, so they are not enforced.

use std::fmt;

/// The level of a division, from the province down to the village (村/社区).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// 省级
    Province,
    /// 地级 (prefecture, 市/州/盟)
    Prefecture,
    /// 县级 (county, county-level city, district)
    County,
    /// 乡级 (township, town, sub-district)
    Township,
    /// 村级 (village committee or residents' committee)
    Village,
}

impl Level {
    /// Number of significant digits of a code at this level.
    pub fn digits(self) -> usize {
        match self {
            Level::Province => 2,
            Level::Prefecture => 4,
            Level::County => 6,
            Level::Township => 9,
            Level::Village => 12,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::Prefecture => "prefecture",
            Level::County => "county",
            Level::Township => "township",
            Level::Village => "village",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "province" => Level::Province,
            "prefecture" => Level::Prefecture,
            "county" => Level::County,
            "township" => Level::Township,
            "village" => Level::Village,
            _ => return None,
        })
    }

    /// The level one step down, if any.
    pub fn child(self) -> Option<Level> {
        match self {
            Level::Province => Some(Level::Prefecture),
            Level::Prefecture => Some(Level::County),
            Level::County => Some(Level::Township),
            Level::Township => Some(Level::Village),
            Level::Village => None,
        }
    }
}

/// Why a division code was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DivisionCodeError {
    #[error("a division code has only digits, found {0:?}")]
    NotDigits(String),
    #[error(
        "a division code has 2, 4, 6, 9 or 12 significant digits (or 6/12 padded with zeros), found {0}"
    )]
    BadLength(usize),
    #[error("{0} is not a province code of GB/T 2260")]
    UnknownProvince(String),
    #[error("a division code cannot have a zero part above a non-zero one: {0}")]
    Gap(String),
}

/// A division code, kept as its significant digits. See the module documentation.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DivisionCode(String);

/// Province-level codes of GB/T 2260 (and 71/81/82 for 台湾, 香港, 澳门).
const PROVINCES: [&str; 34] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82",
];

impl DivisionCode {
    /// Parse a code in any of its usual forms: significant digits (`451226100`), the
    /// 6-digit GB/T 2260 form (`451200`), or the 12-digit statistical form
    /// (`451226100000`). Trailing zero groups are dropped by level.
    pub fn parse(input: &str) -> Result<DivisionCode, DivisionCodeError> {
        let s = input.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DivisionCodeError::NotDigits(s.to_owned()));
        }
        if ![2, 4, 6, 9, 12].contains(&s.len()) {
            return Err(DivisionCodeError::BadLength(s.len()));
        }
        // Split into the level groups and drop trailing all-zero groups.
        let bounds = [0usize, 2, 4, 6, 9, 12];
        let mut groups: Vec<&str> = bounds
            .windows(2)
            .filter(|w| w[1] <= s.len())
            .map(|w| &s[w[0]..w[1]])
            .collect();
        while groups.len() > 1 && groups.last().is_some_and(|g| g.bytes().all(|b| b == b'0')) {
            groups.pop();
        }
        if !PROVINCES.contains(&groups[0]) {
            return Err(DivisionCodeError::UnknownProvince(groups[0].to_owned()));
        }
        if groups.iter().any(|g| g.bytes().all(|b| b == b'0')) {
            return Err(DivisionCodeError::Gap(s.to_owned()));
        }
        Ok(DivisionCode(groups.concat()))
    }

    /// The significant digits, which is also the stored key.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn level(&self) -> Level {
        match self.0.len() {
            2 => Level::Province,
            4 => Level::Prefecture,
            6 => Level::County,
            9 => Level::Township,
            _ => Level::Village,
        }
    }

    /// The 6-digit GB/T 2260 form of this code or of its county (`451226`, `451200`).
    pub fn gbt2260(&self) -> String {
        let mut s: String = self.0.chars().take(6).collect();
        while s.len() < 6 {
            s.push('0');
        }
        s
    }

    /// The 12-digit 统计用区划代码 form (`451226100000`).
    pub fn stats12(&self) -> String {
        let mut s = self.0.clone();
        while s.len() < 12 {
            s.push('0');
        }
        s
    }

    /// The division one level up, or `None` for a province.
    pub fn parent(&self) -> Option<DivisionCode> {
        let up = match self.level() {
            Level::Province => return None,
            Level::Prefecture => 2,
            Level::County => 4,
            Level::Township => 6,
            Level::Village => 9,
        };
        Some(DivisionCode(self.0[..up].to_owned()))
    }

    /// The ancestor at `level`, if this code is at or below it.
    pub fn ancestor_at(&self, level: Level) -> Option<DivisionCode> {
        (level <= self.level()).then(|| DivisionCode(self.0[..level.digits()].to_owned()))
    }

    /// True if `other` is this division or lies inside it.
    pub fn contains(&self, other: &DivisionCode) -> bool {
        other.0.starts_with(&self.0)
    }

    /// Build a child code from this code and the child's own digits (2, 2, 3 or 3 of them).
    pub fn child(&self, own_digits: &str) -> Result<DivisionCode, DivisionCodeError> {
        let level = self
            .level()
            .child()
            .ok_or(DivisionCodeError::BadLength(self.0.len() + 1))?;
        let want = level.digits() - self.0.len();
        if own_digits.len() != want {
            return Err(DivisionCodeError::BadLength(
                self.0.len() + own_digits.len(),
            ));
        }
        if own_digits.bytes().all(|b| b == b'0') {
            return Err(DivisionCodeError::Gap(format!("{}{}", self.0, own_digits)));
        }
        DivisionCode::parse(&format!("{}{}", self.0, own_digits))
    }

    /// The half-open key range `[low, high)` that holds this code and every code below it.
    /// Codes are ASCII digits, and `:` sorts right after `9`, so `high` is `low` + `:`.
    /// Stores compare with a byte-order collation (`COLLATE "C"` on PostgreSQL).
    pub fn subtree_range(&self) -> (String, String) {
        (self.0.clone(), format!("{}:", self.0))
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.level() {
            Level::Province | Level::Prefecture | Level::County => f.write_str(&self.gbt2260()),
            Level::Township | Level::Village => f.write_str(&self.0),
        }
    }
}

impl fmt::Debug for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DivisionCode({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, significant: &str, level: Level) {
        let code = DivisionCode::parse(input).expect(input);
        assert_eq!(code.as_str(), significant, "{input}");
        assert_eq!(code.level(), level, "{input}");
    }

    #[test]
    fn parses_every_usual_form() {
        check("45", "45", Level::Province);
        check("450000", "45", Level::Province);
        check("451200", "4512", Level::Prefecture);
        check("451226", "451226", Level::County);
        check("451226000000", "451226", Level::County);
        check("451226100", "451226100", Level::Township);
        check("451226100000", "451226100", Level::Township);
        check("451226100201", "451226100201", Level::Village);
        check("410482", "410482", Level::County);
        check(" 130682 ", "130682", Level::County);
    }

    #[test]
    fn refuses_malformed_codes_with_a_reason() {
        use DivisionCodeError::*;
        assert_eq!(
            DivisionCode::parse("45122a"),
            Err(NotDigits("45122a".into()))
        );
        assert_eq!(DivisionCode::parse(""), Err(NotDigits("".into())));
        assert_eq!(DivisionCode::parse("4512261"), Err(BadLength(7)));
        assert_eq!(
            DivisionCode::parse("991226"),
            Err(UnknownProvince("99".into()))
        );
        assert_eq!(DivisionCode::parse("450026"), Err(Gap("450026".into())));
        assert_eq!(
            DivisionCode::parse("451226000201"),
            Err(Gap("451226000201".into()))
        );
        assert_eq!(
            DivisionCode::parse("000000"),
            Err(UnknownProvince("00".into()))
        );
    }

    #[test]
    fn parents_and_containment_follow_the_prefix() {
        let village = DivisionCode::parse("451226100201").unwrap();
        let township = village.parent().unwrap();
        assert_eq!(township.as_str(), "451226100");
        let county = township.parent().unwrap();
        assert_eq!(county.gbt2260(), "451226");
        assert_eq!(county.parent().unwrap().gbt2260(), "451200");
        assert!(county.contains(&village));
        assert!(township.contains(&village));
        assert!(village.contains(&village));
        assert!(!village.contains(&township));
        let other_township = DivisionCode::parse("451226101").unwrap();
        assert!(!other_township.contains(&village));
        assert_eq!(village.ancestor_at(Level::Township), Some(township));
        assert_eq!(county.ancestor_at(Level::Village), None);
    }

    #[test]
    fn displays_in_the_padded_forms() {
        let village = DivisionCode::parse("451226100201").unwrap();
        assert_eq!(village.stats12(), "451226100201");
        assert_eq!(village.gbt2260(), "451226");
        assert_eq!(DivisionCode::parse("4512").unwrap().to_string(), "451200");
        assert_eq!(
            DivisionCode::parse("451226100").unwrap().stats12(),
            "451226100000"
        );
    }

    #[test]
    fn child_codes_need_the_right_number_of_digits() {
        let county = DivisionCode::parse("451226").unwrap();
        assert_eq!(county.child("100").unwrap().as_str(), "451226100");
        assert!(county.child("10").is_err());
        assert!(county.child("000").is_err());
    }

    proptest::proptest! {
        #[test]
        fn subtree_range_holds_exactly_the_descendants(a in "[1-9]{3}", b in "[1-9]{3}", c in "[1-9]{3}") {
            let township = DivisionCode::parse(&format!("451226{a}")).unwrap();
            let village = DivisionCode::parse(&format!("451226{b}{c}")).unwrap();
            let (low, high) = township.subtree_range();
            let inside = village.as_str() >= low.as_str() && village.as_str() < high.as_str();
            proptest::prop_assert_eq!(inside, township.contains(&village));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,14}") {
            let _ = DivisionCode::parse(&s);
        }
    }
}
