//! 居民身份证号 (citizen identity number), GB 11643-1999.
//!
//! 18 characters: 6-digit address code (the GB/T 2260 county at *first registration*),
//! 8-digit birth date `YYYYMMDD`, 3-digit sequence (odd = male, even = female) and a check
//! character by ISO 7064 MOD 11-2. Legacy 15-digit numbers (`YYMMDD`, no check character)
//! are upgraded by inserting `19` and computing the check.
//!
//! A code that is no longer current (宜州市 451281 became 宜州区 451203 in 2016) is still a
//! valid identity number, so the address code is checked against [`crate::area_code`], the
//! union of every GB/T 2260 edition 1980-2021, never against the current list. A code is
//! refused only when that table is sure it never existed: not for codes under 台湾/香港/澳门,
//! and not for people born after [`crate::area_code::COMPLETE_THROUGH_YEAR`], who may be
//! registered in a county created after the table's last edition.

use chrono::{Datelike, NaiveDate};

use crate::area_code::AreaStatus;

/// Weights of ISO 7064 MOD 11-2 for the first 17 digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each remainder 0..=10.
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

/// A checked identity number, always in its 18-character form with an upper-case `X`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdCardNumber(String);

impl std::fmt::Debug for IdCardNumber {
    // Never print the number itself: it is personal data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdCardNumber(..)")
    }
}

/// Why an identity number was refused. Messages say what to check on the card.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdCardError {
    #[error("an ID-card number has 18 characters (or 15 for an old card), this one has {0}")]
    Length(usize),
    #[error("character {position} must be a digit{}", if *position == 18 { " or X" } else { "" })]
    NotDigit { position: usize },
    #[error("the first two digits {0} are not a province code")]
    Province(String),
    #[error("the birth date {0} in the number is not a real date")]
    BirthDate(String),
    #[error("the birth date in the number lies in the future")]
    BirthInFuture,
    #[error(
        "the check character should be {expected}, the number ends in {found}: a digit was probably mistyped"
    )]
    CheckDigit { expected: char, found: char },
    #[error("the first 6 digits {0} are not an address code of any GB/T 2260 edition")]
    UnknownArea(String),
}

impl IdCardNumber {
    /// Check an identity number as of `today` (birth dates after it are refused).
    pub fn parse(input: &str, today: NaiveDate) -> Result<IdCardNumber, IdCardError> {
        let s: String = input
            .trim()
            .chars()
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let n = s.chars().count();
        let body = match n {
            18 => s.clone(),
            15 => {
                if let Some(position) = s.chars().position(|c| !c.is_ascii_digit()) {
                    return Err(IdCardError::NotDigit {
                        position: position + 1,
                    });
                }
                format!("{}19{}", &s[..6], &s[6..])
            }
            _ => return Err(IdCardError::Length(n)),
        };
        let chars: Vec<char> = body.chars().collect();
        if let Some(position) = chars[..17].iter().position(|c| !c.is_ascii_digit()) {
            return Err(IdCardError::NotDigit {
                position: position + 1,
            });
        }
        let province = &body[..2];
        if crate::division::DivisionCode::parse(province).is_err() {
            return Err(IdCardError::Province(province.to_owned()));
        }
        let birth_text = &body[6..14];
        let birth = NaiveDate::parse_from_str(birth_text, "%Y%m%d")
            .ok()
            .filter(|d| d.year() >= 1870)
            .ok_or_else(|| IdCardError::BirthDate(birth_text.to_owned()))?;
        if birth > today {
            return Err(IdCardError::BirthInFuture);
        }
        let expected = check_char(&body[..17]);
        if n == 18 {
            let found = chars[17];
            if !(found.is_ascii_digit() || found == 'X') {
                return Err(IdCardError::NotDigit { position: 18 });
            }
            if found != expected {
                return Err(IdCardError::CheckDigit { expected, found });
            }
        }
        // Checked last: a mistyped digit is better reported by the check character above.
        let area = &body[..6];
        if crate::area_code::status_for_year(area, birth.year()) == AreaStatus::Unknown {
            return Err(IdCardError::UnknownArea(area.to_owned()));
        }
        if n == 18 {
            Ok(IdCardNumber(body))
        } else {
            Ok(IdCardNumber(format!("{body}{expected}")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 6-digit address code of first registration.
    pub fn area_code(&self) -> &str {
        &self.0[..6]
    }

    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").expect("checked in parse")
    }

    pub fn sex(&self) -> Sex {
        let digit = self.0.as_bytes()[16] - b'0';
        if digit % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }
}

/// The MOD 11-2 check character for 17 digits.
pub fn check_char(first17: &str) -> char {
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b.wrapping_sub(b'0')) * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn accepts_valid_numbers_and_reads_birth_and_sex() {
        // The GB 11643 example number.
        let id = IdCardNumber::parse("11010519491231002X", today()).unwrap();
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.area_code(), "110105");
        let lower = IdCardNumber::parse("11010519491231002x", today()).unwrap();
        assert_eq!(lower.as_str(), "11010519491231002X");
    }

    #[test]
    fn accepts_codes_that_are_no_longer_current() {
        // 宜州市 451281 (abolished 2016).
        let body = "45128119800101001";
        let id = format!("{body}{}", check_char(body));
        assert!(IdCardNumber::parse(&id, today()).is_ok());
    }

    #[test]
    fn refuses_area_codes_no_edition_lists() {
        // 451299 was never a code; 451281 and 451203 were.
        let unknown = "45129919800101001";
        assert_eq!(
            IdCardNumber::parse(&format!("{unknown}{}", check_char(unknown)), today()),
            Err(IdCardError::UnknownArea("451299".into()))
        );
        assert_eq!(
            IdCardNumber::parse("451299800101001", today()),
            Err(IdCardError::UnknownArea("451299".into()))
        );
        // Born after the table's last edition: the county may be newer than the table.
        let recent = "45129920230101001";
        assert!(IdCardNumber::parse(&format!("{recent}{}", check_char(recent)), today()).is_ok());
        // 台湾 has no county codes in GB/T 2260: not refused.
        let taiwan = "71010119800101001";
        assert!(IdCardNumber::parse(&format!("{taiwan}{}", check_char(taiwan)), today()).is_ok());
        for area in ["451281", "451203", "410482", "130682", "622927"] {
            let body = format!("{area}19800101001");
            let id = format!("{body}{}", check_char(&body));
            assert!(IdCardNumber::parse(&id, today()).is_ok(), "{area}");
        }
    }

    #[test]
    fn upgrades_fifteen_digit_numbers() {
        let id = IdCardNumber::parse("110105491231002", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
    }

    #[test]
    fn refuses_each_failure_with_its_own_reason() {
        use IdCardError::*;
        let t = today();
        assert_eq!(IdCardNumber::parse("1101051949", t), Err(Length(10)));
        assert_eq!(
            IdCardNumber::parse("11010519491231002Y", t),
            Err(NotDigit { position: 18 })
        );
        assert_eq!(
            IdCardNumber::parse("1101051949123A002X", t),
            Err(NotDigit { position: 14 })
        );
        assert_eq!(
            IdCardNumber::parse("99010519491231002X", t),
            Err(Province("99".into()))
        );
        let bad_date = "11010519490231002";
        assert_eq!(
            IdCardNumber::parse(&format!("{bad_date}{}", check_char(bad_date)), t),
            Err(BirthDate("19490231".into()))
        );
        let future = "11010520300101002";
        assert_eq!(
            IdCardNumber::parse(&format!("{future}{}", check_char(future)), t),
            Err(BirthInFuture)
        );
        assert_eq!(
            IdCardNumber::parse("110105194912310021", t),
            Err(CheckDigit {
                expected: 'X',
                found: '1'
            })
        );
    }

    #[test]
    fn debug_never_prints_the_number() {
        let id = IdCardNumber::parse("11010519491231002X", today()).unwrap();
        assert!(!format!("{id:?}").contains("1949"));
    }

    proptest::proptest! {
        #[test]
        fn any_single_digit_change_is_caught(pos in 0usize..17, delta in 1u8..10) {
            let good = b"11010519491231002X".to_vec();
            let mut bad = good.clone();
            bad[pos] = b'0' + (bad[pos] - b'0' + delta) % 10;
            let bad = String::from_utf8(bad).unwrap();
            proptest::prop_assert!(IdCardNumber::parse(&bad, today()).is_err());
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = IdCardNumber::parse(&s, today());
        }
    }
}
