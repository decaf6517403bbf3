//! The DICOM JSON model (PS3.18 F.2): one JSON object per instance, keyed by the tag as
//! eight upper-case hex digits, each value `{"vr": …, "Value": […]}`.
//!
//! - PN values become `{"Alphabetic", "Ideographic", "Phonetic"}` objects (F.2.2), text
//!   under a mislabelled Latin-1 declaration is repaired first (`crate::charset`), and the
//!   Specific Character Set is written as `ISO_IR 192`: JSON is UTF-8 (F.2.1.1).
//! - IS, DS and the binary numbers are JSON numbers; AT is a tag string.
//! - Binary values of the top-level data set (OB, OW, OF, OD, OL, OV, UN, and encapsulated
//!   Pixel Data) are not inlined: they get a `BulkDataURI` under `bulk_base` (`…/bulkdata/
//!   GGGGEEEE`), which WADO-RS answers; inside sequences they are `InlineBinary` (base64).
//! - Group 0002 (file meta) is left out, as WADO-RS metadata does.

use dicom_core::header::HasLength;
use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use serde_json::{Map, Value as Json, json};

use crate::charset;

fn is_binary(vr: VR) -> bool {
    matches!(
        vr,
        VR::OB | VR::OW | VR::OF | VR::OD | VR::OL | VR::OV | VR::UN
    )
}

fn is_text(vr: VR) -> bool {
    matches!(
        vr,
        VR::SH | VR::LO | VR::ST | VR::LT | VR::UT | VR::PN | VR::UC
    )
}

/// The tag as its JSON key.
pub fn key(tag: Tag) -> String {
    format!("{:04X}{:04X}", tag.group(), tag.element())
}

/// Parse a `GGGGEEEE` key.
pub fn parse_key(s: &str) -> Option<Tag> {
    if s.len() != 8 {
        return None;
    }
    let group = u16::from_str_radix(&s[..4], 16).ok()?;
    let element = u16::from_str_radix(&s[4..], 16).ok()?;
    Some(Tag(group, element))
}

/// Encode a data set. `bulk_base` is the instance's WADO-RS URL (without a trailing `/`).
pub fn encode(obj: &InMemDicomObject, bulk_base: &str) -> Map<String, Json> {
    let declared = obj
        .element_opt(tags::SPECIFIC_CHARACTER_SET)
        .ok()
        .flatten()
        .and_then(|e| e.to_str().ok().map(|s| s.into_owned()))
        .unwrap_or_default();
    encode_level(obj, Some(bulk_base), &declared)
}

fn encode_level(
    obj: &InMemDicomObject,
    bulk_base: Option<&str>,
    declared: &str,
) -> Map<String, Json> {
    let mut out = Map::new();
    for elem in obj.iter() {
        let tag = elem.header().tag;
        if tag.group() == 0x0002 {
            continue;
        }
        let vr = elem.vr();
        let mut entry = Map::new();
        entry.insert("vr".into(), Json::String(vr.to_string().to_owned()));
        if tag == tags::SPECIFIC_CHARACTER_SET {
            entry.insert("Value".into(), json!(["ISO_IR 192"]));
            out.insert(key(tag), Json::Object(entry));
            continue;
        }
        match elem.value() {
            Value::Sequence(seq) => {
                let items: Vec<Json> = seq
                    .items()
                    .iter()
                    .map(|item| Json::Object(encode_level(item, None, declared)))
                    .collect();
                if !items.is_empty() {
                    entry.insert("Value".into(), Json::Array(items));
                }
            }
            Value::PixelSequence(seq) => match bulk_base {
                Some(base) => {
                    entry.insert(
                        "BulkDataURI".into(),
                        Json::String(format!("{base}/bulkdata/{}", key(tag))),
                    );
                }
                None => {
                    let bytes: Vec<u8> = seq.fragments().iter().flatten().copied().collect();
                    entry.insert("InlineBinary".into(), Json::String(base64(&bytes)));
                }
            },
            Value::Primitive(p) => {
                if is_binary(vr) {
                    if p.is_empty() {
                        // An empty binary value has no Value and no URI (F.2.5).
                    } else if let Some(base) = bulk_base {
                        entry.insert(
                            "BulkDataURI".into(),
                            Json::String(format!("{base}/bulkdata/{}", key(tag))),
                        );
                    } else {
                        let bytes = p.to_bytes();
                        entry.insert("InlineBinary".into(), Json::String(base64(&bytes)));
                    }
                } else if !p.is_empty()
                    && let Some(values) = primitive_values(vr, p, declared)
                    && !values.is_empty()
                {
                    entry.insert("Value".into(), Json::Array(values));
                }
            }
        }
        out.insert(key(tag), Json::Object(entry));
    }
    out
}

fn primitive_values(vr: VR, p: &dicom_core::PrimitiveValue, declared: &str) -> Option<Vec<Json>> {
    let strings = p.to_multi_str();
    let trim = |s: &str| s.trim_matches(|c: char| c == ' ' || c == '\0').to_owned();
    let values = strings.iter().map(|s| trim(s));
    Some(match vr {
        VR::PN => values
            .map(|s| {
                let s = charset::repair_declared(&s, declared);
                let mut groups = s.split('=');
                let mut o = Map::new();
                for name in ["Alphabetic", "Ideographic", "Phonetic"] {
                    if let Some(g) = groups.next()
                        && !g.is_empty()
                    {
                        o.insert(name.into(), Json::String(g.to_owned()));
                    }
                }
                if o.is_empty() {
                    Json::Null
                } else {
                    Json::Object(o)
                }
            })
            .collect(),
        VR::IS | VR::SL | VR::SS | VR::SV | VR::UL | VR::US | VR::UV => values
            .map(|s| match s.parse::<i64>() {
                Ok(n) => json!(n),
                Err(_) => s.parse::<f64>().map(|f| json!(f)).unwrap_or(Json::Null),
            })
            .collect(),
        VR::DS | VR::FL | VR::FD => values
            .map(|s| {
                s.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Json::Number)
                    .unwrap_or(Json::Null)
            })
            .collect(),
        VR::AT => {
            // dicom-rs renders tags as "(GGGG,EEEE)".
            values
                .map(|s| {
                    Json::String(
                        s.chars()
                            .filter(char::is_ascii_hexdigit)
                            .collect::<String>()
                            .to_uppercase(),
                    )
                })
                .collect()
        }
        _ if is_text(vr) => values
            .map(|s| {
                if s.is_empty() {
                    Json::Null
                } else {
                    Json::String(charset::repair_declared(&s, declared))
                }
            })
            .collect(),
        _ => values
            .map(|s| {
                if s.is_empty() {
                    Json::Null
                } else {
                    Json::String(s)
                }
            })
            .collect(),
    })
}

/// Standard base64 with padding (RFC 4648 §4), for InlineBinary.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A JSON array of instance objects (already JSON text each), as `/metadata` returns.
pub fn array_of(objects: &[String]) -> String {
    let mut out =
        String::with_capacity(objects.iter().map(String::len).sum::<usize>() + objects.len() + 2);
    out.push('[');
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(o);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{Charset, Synthetic};

    #[test]
    fn an_instance_encodes_to_the_dicom_json_model() {
        let bytes = Synthetic::new(9)
            .patient("Wei^Ana=韦^阿娜", "F", "19850315")
            .charset(Charset::MislabelledGb18030)
            .instance(0, 0);
        let obj = crate::parse::open(&bytes).unwrap();
        let j = encode(&obj, "/dicom-web/studies/1/series/2/instances/3");
        assert_eq!(j["00080005"]["Value"], json!(["ISO_IR 192"]));
        assert_eq!(
            j["00100010"]["Value"][0],
            json!({"Alphabetic": "Wei^Ana", "Ideographic": "韦^阿娜"})
        );
        assert_eq!(j["00100010"]["vr"], "PN");
        assert_eq!(j["00280010"]["Value"], json!([32]));
        assert_eq!(j["00281050"]["Value"], json!([40.0]));
        assert_eq!(j["00200013"]["Value"], json!([1]));
        assert_eq!(
            j["7FE00010"]["BulkDataURI"],
            "/dicom-web/studies/1/series/2/instances/3/bulkdata/7FE00010"
        );
        assert!(j["7FE00010"].get("Value").is_none());
        assert!(!j.contains_key("00020010"));
        assert_eq!(j["00080080"]["Value"], json!(["环江县人民医院"]));
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn keys_round_trip() {
        assert_eq!(
            parse_key(&key(Tag(0x7FE0, 0x0010))),
            Some(Tag(0x7FE0, 0x0010))
        );
        assert_eq!(parse_key("7FE0001"), None);
        assert_eq!(parse_key("zzzz0010"), None);
    }
}
