//! Imaging rules that do not depend on DICOM parsing: how a DICOM Person Name (PN, PS3.5
//! 6.2) becomes a name the master patient index can compare, how a patient identifier that
//! is a 居民身份证号 is recognised, and how a QIDO-RS wildcard (PS3.4 C.2.2.2.4: `*` any
//! run, `?` one character) becomes a prefix range or a SQL `LIKE` pattern.
//!
//! It deliberately knows nothing of character sets: names arrive here already decoded
//! (yiwei-dicom's `charset` module does that, including the mislabelled GB18030 case).

use chrono::NaiveDate;

use crate::id_card::{IdCardNumber, Sex};

/// The name to match on from a DICOM PN value. A PN holds up to three component groups
/// separated by `=` (alphabetic, ideographic, phonetic), each with `^`-separated parts
/// (family, given, middle, prefix, suffix). Chinese modalities write either the ideographic
/// group (`Wei^Ana=韦^阿娜`) or Han characters in the first group (`韦阿娜` or `韦^阿娜`).
/// The ideographic group wins when present; Han parts are joined without a space, Latin
/// parts with one.
pub fn matching_name(pn: &str) -> String {
    let mut groups = pn.split('=');
    let alphabetic = groups.next().unwrap_or("");
    let ideographic = groups.next().unwrap_or("");
    let chosen = if ideographic.trim().is_empty() {
        alphabetic
    } else {
        ideographic
    };
    let parts: Vec<&str> = chosen
        .split('^')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let han = parts.iter().any(|p| p.chars().any(is_han));
    parts.join(if han { "" } else { " " })
}

/// Whether `c` is a CJK unified ideograph (the basic block and extension A).
pub fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

/// DICOM Patient's Sex (`M`, `F`, `O` or empty) as the sex the index compares.
pub fn sex(code: &str) -> Option<Sex> {
    match code.trim() {
        "M" => Some(Sex::Male),
        "F" => Some(Sex::Female),
        _ => None,
    }
}

/// The first of `ids` that is a valid 居民身份证号 on `today`, in its 18-character form.
/// Modalities put it in PatientID, OtherPatientIDs or (in the older attribute) Other
/// Patient IDs Sequence; the caller passes all of them.
pub fn id_card_among<'a>(
    ids: impl IntoIterator<Item = &'a str>,
    today: NaiveDate,
) -> Option<IdCardNumber> {
    ids.into_iter()
        .find_map(|id| IdCardNumber::parse(id, today).ok())
}

/// A QIDO-RS matching value for a text attribute (PS3.4 C.2.2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextMatch {
    /// No wildcard: the stored value equals this.
    Exact(String),
    /// `prefix*` with no other wildcard: a range scan on an index.
    Prefix(String),
    /// Anything else: a `LIKE` pattern with `\` as the escape character.
    Like(String),
}

impl TextMatch {
    /// Parse a matching value. `None` for the universal match (empty or only `*`), which
    /// matches everything and so is no condition at all.
    pub fn parse(value: &str) -> Option<TextMatch> {
        let value = value.trim();
        if value.is_empty() || value.chars().all(|c| c == '*') {
            return None;
        }
        let wild = |c: char| c == '*' || c == '?';
        if !value.contains(wild) {
            return Some(TextMatch::Exact(value.to_owned()));
        }
        if let Some(prefix) = value.strip_suffix('*')
            && !prefix.contains(wild)
        {
            return Some(TextMatch::Prefix(prefix.to_owned()));
        }
        let mut like = String::with_capacity(value.len() + 4);
        for c in value.chars() {
            match c {
                '*' => like.push('%'),
                '?' => like.push('_'),
                '%' | '_' | '\\' => {
                    like.push('\\');
                    like.push(c);
                }
                c => like.push(c),
            }
        }
        Some(TextMatch::Like(like))
    }

    /// Whether `text` matches, by the same rule the SQL applies (used by tests and by
    /// callers filtering in memory).
    pub fn matches(&self, text: &str) -> bool {
        match self {
            TextMatch::Exact(v) => text == v,
            TextMatch::Prefix(p) => text.starts_with(p.as_str()),
            TextMatch::Like(pattern) => like_matches(pattern, text),
        }
    }
}

fn like_matches(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('%') => (0..=t.len()).any(|i| go(&p[1..], &t[i..])),
            Some('_') => !t.is_empty() && go(&p[1..], &t[1..]),
            Some('\\') if p.len() > 1 => t.first() == Some(&p[1]) && go(&p[2..], &t[1..]),
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_name_prefers_the_ideographic_group_and_joins_han_without_space() {
        let cases = [
            ("Wei^Ana=韦^阿娜", "韦阿娜"),
            ("韦阿娜", "韦阿娜"),
            ("韦^阿娜", "韦阿娜"),
            ("Wei^Ana", "Wei Ana"),
            ("Wei^Ana==", "Wei Ana"),
            ("", ""),
        ];
        for (pn, want) in cases {
            assert_eq!(matching_name(pn), want, "{pn}");
        }
    }

    #[test]
    fn sex_reads_dicom_codes() {
        assert_eq!(sex("M"), Some(Sex::Male));
        assert_eq!(sex("F "), Some(Sex::Female));
        assert_eq!(sex("O"), None);
    }

    #[test]
    fn id_card_among_skips_hospital_numbers() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert!(id_card_among(["MR0001", ""], today).is_none());
        let found = id_card_among(["MR0001", "11010519491231002X"], today);
        assert_eq!(
            found.map(|n| n.as_str().to_owned()).as_deref(),
            Some("11010519491231002X")
        );
    }

    #[test]
    fn text_match_forms() {
        assert_eq!(TextMatch::parse(""), None);
        assert_eq!(TextMatch::parse("**"), None);
        assert_eq!(
            TextMatch::parse("韦阿娜"),
            Some(TextMatch::Exact("韦阿娜".into()))
        );
        assert_eq!(
            TextMatch::parse("韦*"),
            Some(TextMatch::Prefix("韦".into()))
        );
        assert_eq!(TextMatch::parse("*娜"), Some(TextMatch::Like("%娜".into())));
        assert_eq!(
            TextMatch::parse("a_b?*"),
            Some(TextMatch::Like("a\\_b_%".into()))
        );
    }

    proptest::proptest! {
        #[test]
        fn a_value_matches_its_own_prefix_and_exact_patterns(s in "[a-z韦阿娜%_]{1,8}", n in 0usize..8) {
            let cut: String = s.chars().take(n).collect();
            let prefix = TextMatch::parse(&format!("{cut}*"));
            if let Some(m) = prefix {
                proptest::prop_assert!(m.matches(&s));
            }
            proptest::prop_assert!(TextMatch::parse(&s).unwrap().matches(&s));
            let like = TextMatch::parse(&format!("*{s}")).unwrap();
            proptest::prop_assert!(like.matches(&s));
        }
    }
}
