//! Reading a received instance: a DICOM Part 10 file (PS3.10 7.1: preamble, `DICM`, file
//! meta information, data set) parsed with dicom-object, and the attributes the index
//! needs (PS3.4 C.6.1.1 study, series and instance levels), with Chinese names repaired
//! (`crate::charset`).
//!
//! A file is parsed whole from memory: STOW-RS buffers one part (one instance) at a time,
//! never a whole request.

use chrono::NaiveDate;
use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use sha2::{Digest, Sha256};

use crate::charset;

/// Other Patient IDs (0010,1000): retired in PS3.6 in favour of the sequence
/// (0010,1002), but still what many modalities send, often with the ID-card number.
pub const OTHER_PATIENT_IDS: Tag = Tag(0x0010, 0x1000);

/// Why bytes are not an instance yiwei can store.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("不是 DICOM 文件 / not a DICOM Part 10 file: {0}")]
    NotDicom(String),
    #[error("缺少必需属性 / a required attribute is missing: {0}")]
    Missing(&'static str),
    #[error("属性值无效 / an attribute value is invalid: {0}")]
    Invalid(String),
}

/// The index attributes of one instance, text decoded to Unicode.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    pub study_uid: String,
    pub series_uid: String,
    pub sop_uid: String,
    pub sop_class_uid: String,
    pub transfer_syntax: String,
    /// Specific Character Set (0008,0005) as declared (empty when absent).
    pub charset: String,
    pub patient_id: String,
    pub other_patient_ids: Vec<String>,
    pub patient_name: String,
    pub patient_birth_date: Option<NaiveDate>,
    pub patient_sex: String,
    pub study_date: Option<NaiveDate>,
    pub study_time: String,
    pub accession_number: String,
    pub study_id: String,
    pub study_description: String,
    pub referring_physician: String,
    pub institution_name: String,
    pub modality: String,
    pub body_part: String,
    pub series_number: Option<i64>,
    pub series_description: String,
    pub instance_number: Option<i64>,
    pub rows: Option<i64>,
    pub columns: Option<i64>,
    pub frames: i64,
    pub size_bytes: i64,
    /// Hex SHA-256 of the whole file.
    pub sha256: String,
}

/// Open a Part 10 file held in memory.
pub fn open(bytes: &[u8]) -> Result<DefaultDicomObject, ParseError> {
    if bytes.len() < 132 || &bytes[128..132] != b"DICM" {
        return Err(ParseError::NotDicom(
            "no DICM prefix at byte 128 (a truncated or non-DICOM part)".into(),
        ));
    }
    OpenFileOptions::new()
        .from_reader(&bytes[128..])
        .map_err(|e| ParseError::NotDicom(e.to_string()))
}

/// A text attribute, trimmed, with a mislabelled charset repaired; empty when absent.
pub fn text(obj: &InMemDicomObject, tag: Tag, declared: &str) -> String {
    let raw = obj
        .element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.to_str().ok().map(|s| s.into_owned()))
        .unwrap_or_default();
    let trimmed = raw.trim_matches(|c: char| c == ' ' || c == '\0').to_owned();
    charset::repair_declared(&trimmed, declared)
}

fn int(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.to_int::<i64>().ok())
}

/// A DA value (`YYYYMMDD`; the old `YYYY.MM.DD` too).
pub fn date(value: &str) -> Option<NaiveDate> {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 8 {
        return None;
    }
    NaiveDate::parse_from_str(&digits, "%Y%m%d").ok()
}

/// Parse a Part 10 file and extract its index attributes.
pub fn parse(bytes: &[u8]) -> Result<(DefaultDicomObject, Parsed), ParseError> {
    let obj = open(bytes)?;
    let parsed = extract(&obj, bytes)?;
    Ok((obj, parsed))
}

/// The index attributes of an opened file (`bytes` is the whole file, for size and hash).
pub fn extract(obj: &DefaultDicomObject, bytes: &[u8]) -> Result<Parsed, ParseError> {
    let meta = obj.meta();
    let cs = text(obj, tags::SPECIFIC_CHARACTER_SET, "ISO_IR 192");
    let t = |tag| text(obj, tag, &cs);
    let required = |tag, name| {
        let v = text(obj, tag, "ISO_IR 192");
        if v.is_empty() {
            Err(ParseError::Missing(name))
        } else {
            Ok(v)
        }
    };
    let mut other_ids: Vec<String> = t(OTHER_PATIENT_IDS)
        .split('\\')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if let Ok(Some(seq)) = obj.element_opt(tags::OTHER_PATIENT_I_DS_SEQUENCE)
        && let Some(items) = seq.items()
    {
        for item in items {
            let id = text(item, tags::PATIENT_ID, &cs);
            if !id.is_empty() {
                other_ids.push(id);
            }
        }
    }
    let sop_uid = required(tags::SOP_INSTANCE_UID, "SOPInstanceUID (0008,0018)")?;
    let meta_sop = meta
        .media_storage_sop_instance_uid()
        .trim_end_matches('\0')
        .trim();
    if !meta_sop.is_empty() && meta_sop != sop_uid {
        return Err(ParseError::Invalid(
            "MediaStorageSOPInstanceUID differs from SOPInstanceUID".into(),
        ));
    }
    Ok(Parsed {
        study_uid: required(tags::STUDY_INSTANCE_UID, "StudyInstanceUID (0020,000D)")?,
        series_uid: required(tags::SERIES_INSTANCE_UID, "SeriesInstanceUID (0020,000E)")?,
        sop_uid,
        sop_class_uid: required(tags::SOP_CLASS_UID, "SOPClassUID (0008,0016)")?,
        transfer_syntax: meta
            .transfer_syntax()
            .trim_end_matches('\0')
            .trim()
            .to_owned(),
        charset: cs.clone(),
        patient_id: t(tags::PATIENT_ID),
        other_patient_ids: other_ids,
        patient_name: t(tags::PATIENT_NAME),
        patient_birth_date: date(&t(tags::PATIENT_BIRTH_DATE)),
        patient_sex: t(tags::PATIENT_SEX),
        study_date: date(&t(tags::STUDY_DATE)),
        study_time: t(tags::STUDY_TIME),
        accession_number: t(tags::ACCESSION_NUMBER),
        study_id: t(tags::STUDY_ID),
        study_description: t(tags::STUDY_DESCRIPTION),
        referring_physician: t(tags::REFERRING_PHYSICIAN_NAME),
        institution_name: t(tags::INSTITUTION_NAME),
        modality: t(tags::MODALITY),
        body_part: t(tags::BODY_PART_EXAMINED),
        series_number: int(obj, tags::SERIES_NUMBER),
        series_description: t(tags::SERIES_DESCRIPTION),
        instance_number: int(obj, tags::INSTANCE_NUMBER),
        rows: int(obj, tags::ROWS),
        columns: int(obj, tags::COLUMNS),
        frames: int(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1),
        size_bytes: bytes.len() as i64,
        sha256: hex::encode(Sha256::digest(bytes)),
    })
}

/// The bytes of a top-level attribute's value (binary, or the fragments of encapsulated
/// pixel data joined), for WADO-RS bulk data; `None` when absent or a sequence.
pub fn bulk_value(bytes: &[u8], tag: Tag) -> Option<Vec<u8>> {
    let obj = open(bytes).ok()?;
    let element = obj.element_opt(tag).ok().flatten()?;
    match element.value() {
        dicom_core::value::Value::Primitive(p) => Some(p.to_bytes().into_owned()),
        dicom_core::value::Value::PixelSequence(seq) => {
            Some(seq.fragments().iter().flatten().copied().collect())
        }
        dicom_core::value::Value::Sequence(_) => None,
    }
}

/// A UID is at most 64 characters of digits and dots, components without leading zeros
/// (PS3.5 9.1). Path segments and STOW paths are checked with this before any lookup.
pub fn is_uid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.split('.').all(|c| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_digit())
                && (c == "0" || !c.starts_with('0'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{Charset, Synthetic};

    #[test]
    fn a_generated_instance_parses_with_its_attributes() {
        let s = Synthetic::new(7)
            .patient("韦阿娜", "F", "19850315")
            .charset(Charset::Utf8);
        let bytes = s.instance(0, 0);
        let (_, p) = parse(&bytes).unwrap();
        assert_eq!(p.patient_name, "韦阿娜");
        assert_eq!(p.patient_sex, "F");
        assert_eq!(p.patient_birth_date, NaiveDate::from_ymd_opt(1985, 3, 15));
        assert_eq!(p.study_uid, s.study_uid());
        assert_eq!(p.sop_uid, s.sop_uid(0, 0));
        assert_eq!(p.rows, Some(32));
        assert_eq!(p.size_bytes, bytes.len() as i64);
        assert_eq!(p.sha256.len(), 64);
    }

    #[test]
    fn chinese_names_read_right_under_every_charset_and_mislabelling() {
        for cs in [
            Charset::Utf8,
            Charset::Gb18030,
            Charset::Gbk,
            Charset::MislabelledGb18030,
            Charset::MislabelledUtf8,
            Charset::UndeclaredGb18030,
        ] {
            let s = Synthetic::new(3)
                .patient("谭晨", "F", "20010920")
                .charset(cs);
            let (_, p) = parse(&s.instance(0, 0)).unwrap();
            assert_eq!(p.patient_name, "谭晨", "{cs:?}");
            assert_eq!(p.institution_name, "环江县人民医院", "{cs:?}");
        }
    }

    #[test]
    fn truncated_and_foreign_bytes_are_refused_not_panicked() {
        let bytes = Synthetic::new(1).instance(0, 0);
        assert!(matches!(parse(b"hello"), Err(ParseError::NotDicom(_))));
        assert!(parse(&bytes[..200]).is_err());
        assert!(parse(&bytes[..bytes.len() / 2]).is_err());
    }

    #[test]
    fn uids_are_checked() {
        assert!(is_uid("1.2.840.10008.1.2.1"));
        assert!(!is_uid("1.2.03"));
        assert!(!is_uid("1..2"));
        assert!(!is_uid("../etc"));
        assert!(!is_uid(&"1.".repeat(40)));
    }

    proptest::proptest! {
        #[test]
        fn any_prefix_of_a_file_is_refused_or_parsed_never_a_panic(cut in 0usize..4000) {
            let bytes = Synthetic::new(5).instance(0, 0);
            let cut = cut.min(bytes.len());
            let _ = parse(&bytes[..cut]);
        }
    }
}
