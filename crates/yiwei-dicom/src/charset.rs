//! Chinese text in DICOM (PS3.5 6.1, Specific Character Set (0008,0005)).
//!
//! dicom-encoding decodes the declared repertoires itself: `ISO_IR 192` (UTF-8), `GB18030`
//! and `GBK` (with `GB2312` and `ISO 2022 IR 58` read as GBK). What it cannot know is the
//! common mislabelled case: a modality that declares `ISO_IR 100` (Latin-1), or nothing
//! (the default repertoire), but writes GB18030 or UTF-8 bytes. dicom-rs then decodes each
//! byte as one Latin-1 character, which loses nothing: every such character is below
//! U+0100, so the bytes can be recovered exactly and decoded again.
//!
//! The heuristic ([`repair`]), applied only under a Latin-1 or absent declaration, to text
//! whose characters are all below U+0100 and some above U+007F:
//! 1. the bytes are valid UTF-8, every non-ASCII character is Han or CJK punctuation and
//!    at least one is Han → UTF-8 (a lone `·` is also the GBK bytes of 路);
//! 2. else they decode as GB18030 without error, every non-ASCII character decoded is Han
//!    or CJK punctuation, and no ASCII letter was swallowed as a trail byte (that is what
//!    separates `Müller` from a name) → GB18030. (Rule 1 must ask for Han too: the
//!    GB18030 bytes of some names happen to be valid UTF-8 for Greek or Cyrillic letters.)
//! 3. else valid UTF-8 of any script → UTF-8 (Latin-1 text almost never is: a lead byte
//!    must be followed by the right number of continuation bytes);
//! 4. else the text is what it said it was, Latin-1.
//!
//! Known limit: a GBK name whose rare character has an ASCII letter as its trail byte is
//! left as Latin-1 (rule 2 cannot tell it from Latin-1 text); such studies fall to the
//! match queue by name rather than being linked wrongly.

/// What [`repair`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repair {
    /// Left as decoded.
    Unchanged,
    /// Re-read as UTF-8.
    Utf8,
    /// Re-read as GB18030.
    Gb18030,
}

/// Whether the declared Specific Character Set is one under which mislabelled Chinese
/// text is looked for: absent, the default repertoire, or Latin-1.
pub fn is_latin1_declaration(declared: &str) -> bool {
    let first = declared.split('\\').next().unwrap_or("").trim();
    matches!(
        first,
        "" | "ISO_IR 6" | "ISO_IR 100" | "ISO 2022 IR 6" | "ISO 2022 IR 100"
    )
}

/// Repair text decoded under a Latin-1 (or absent) declaration; see the module docs.
pub fn repair(text: &str) -> (String, Repair) {
    if text.is_ascii() || text.chars().any(|c| c as u32 > 0xFF) {
        return (text.to_owned(), Repair::Unchanged);
    }
    let bytes: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
    let all_cjk = |t: &str| {
        t.chars()
            .filter(|c| !c.is_ascii())
            .all(|c| is_han(c) || is_cjk_symbol(c))
    };
    let utf8 = std::str::from_utf8(&bytes).ok();
    if let Some(s) = utf8
        && all_cjk(s)
        && s.chars().any(is_han)
    {
        return (s.to_owned(), Repair::Utf8);
    }
    if let Some(s) =
        encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(&bytes)
    {
        let letters = |t: &str| t.chars().filter(char::is_ascii_alphabetic).count();
        if all_cjk(&s) && letters(&s) == letters(text) {
            return (s.into_owned(), Repair::Gb18030);
        }
    }
    match utf8 {
        Some(s) => (s.to_owned(), Repair::Utf8),
        None => (text.to_owned(), Repair::Unchanged),
    }
}

/// Repair `text` if `declared` is a Latin-1 (or absent) declaration; else return it as is.
pub fn repair_declared(text: &str, declared: &str) -> String {
    if is_latin1_declaration(declared) {
        repair(text).0
    } else {
        text.to_owned()
    }
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{20000}'..='\u{2FFFF}')
}

fn is_cjk_symbol(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FFEF}' | '\u{00B7}')
}

/// Text as its Latin-1 mis-decoding: each byte of `bytes` one character. What dicom-rs
/// produces for GB18030 or UTF-8 bytes under `ISO_IR 100`; the generator uses it to
/// write mislabelled instances.
pub fn as_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gb(s: &str) -> Vec<u8> {
        encoding_rs::GB18030.encode(s).0.into_owned()
    }

    #[test]
    fn mislabelled_gb18030_and_utf8_names_are_recovered() {
        assert_eq!(
            repair(&as_latin1(&gb("韦阿娜"))),
            ("韦阿娜".into(), Repair::Gb18030)
        );
        assert_eq!(
            repair(&as_latin1("覃大^明".as_bytes())),
            ("覃大^明".into(), Repair::Utf8)
        );
        assert_eq!(
            repair(&as_latin1(&gb("Wei^Ana=韦^阿娜"))),
            ("Wei^Ana=韦^阿娜".into(), Repair::Gb18030)
        );
    }

    #[test]
    fn real_latin1_text_is_left_alone() {
        for s in ["Müller^Jürgen", "Ångström", "Zoë", "ASCII^ONLY"] {
            assert_eq!(repair(s), (s.to_owned(), Repair::Unchanged), "{s}");
        }
        // Already Unicode (declared correctly): nothing to do.
        assert_eq!(repair("韦阿娜").1, Repair::Unchanged);
    }

    #[test]
    fn gbk_bytes_that_are_also_utf8_punctuation_read_as_the_name() {
        // 路 is C2 B7 in GBK, which is also the UTF-8 of `·`: a name is not punctuation.
        assert_eq!(
            repair(&as_latin1(&gb("路"))),
            ("路".into(), Repair::Gb18030)
        );
        assert_eq!(repair(&as_latin1("艾力·买买提".as_bytes())).1, Repair::Utf8);
    }

    #[test]
    fn a_gbk_character_with_a_letter_as_trail_byte_is_the_known_limit() {
        // 蘆 is CC 4A in GBK: the trail byte is `J`. Rule 2 cannot tell it from Latin-1
        // text, so the name stays as declared (and goes to the match queue by name).
        let garbled = as_latin1(&gb("蘆"));
        assert_eq!(repair(&garbled), (garbled.clone(), Repair::Unchanged));
    }

    #[test]
    fn only_latin1_declarations_are_repaired() {
        let bytes = as_latin1(&gb("谭晨"));
        assert_eq!(repair_declared(&bytes, "ISO_IR 100"), "谭晨");
        assert_eq!(repair_declared(&bytes, ""), "谭晨");
        assert_eq!(repair_declared(&bytes, "ISO_IR 144"), bytes);
    }

    proptest::proptest! {
        #[test]
        fn any_gb2312_name_survives_mislabelling_in_either_encoding(
            pairs in proptest::collection::vec((0xB0u8..=0xD7, 0xA1u8..=0xFE), 1..5),
            caret in 0usize..5,
        ) {
            // GB2312 hanzi (level 1 and most of level 2): both bytes at or above 0xA1.
            let mut name = String::new();
            for (i, (lead, trail)) in pairs.iter().enumerate() {
                if i == caret && i > 0 {
                    name.push('^');
                }
                let pair = [*lead, *trail];
                let (c, _, bad) = encoding_rs::GB18030.decode(&pair);
                proptest::prop_assume!(!bad && c.chars().all(is_han));
                name.push_str(&c);
            }
            proptest::prop_assert_eq!(repair(&as_latin1(&gb(&name))).0, name.clone());
            proptest::prop_assert_eq!(repair(&as_latin1(name.as_bytes())).0, name);
        }

        #[test]
        fn any_han_name_survives_mislabelled_utf8(name in "[\u{4E00}-\u{9FA5}]{1,4}") {
            proptest::prop_assert_eq!(repair(&as_latin1(name.as_bytes())).0, name);
        }

        #[test]
        fn repair_never_panics(s in "\\PC{0,12}") {
            let _ = repair(&s);
        }
    }
}
