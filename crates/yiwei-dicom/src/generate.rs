//! A tiny deterministic generator of valid DICOM instances: the same seed gives the same
//! bytes, every time, on every machine. Tests, the demo county and the benchmarks use it,
//! so nothing downloads sample images.
//!
//! An instance is a minimal but valid object of the modality's storage SOP class (PS3.4
//! B.5): patient, study, series and instance modules with the attributes the index and a
//! viewer read, and a small generated picture (a gradient with a disc whose place depends
//! on the seed, the series and the instance), 16-bit MONOCHROME2 with CT's rescale for CT,
//! 8-bit RGB for ultrasound. Text is written in the character set asked for, including the
//! mislabelled cases `crate::charset` repairs.

use dicom_core::value::PixelFragmentSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

use crate::ts;

/// How the generator writes text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    /// `ISO_IR 192`, UTF-8.
    Utf8,
    /// `GB18030`.
    Gb18030,
    /// `GBK`.
    Gbk,
    /// Declared `ISO_IR 100` but the bytes are GB18030 (the common mislabelling).
    MislabelledGb18030,
    /// Declared `ISO_IR 100` but the bytes are UTF-8.
    MislabelledUtf8,
    /// No Specific Character Set at all, GB18030 bytes.
    UndeclaredGb18030,
}

/// The root under which generated UIDs are made (a UUID-derived `2.25` root, PS3.5 B.2).
pub const UID_ROOT: &str = "2.25.1806157342";

/// One generated study: patient, modality and shape, then [`Synthetic::instance`].
#[derive(Clone, Debug)]
pub struct Synthetic {
    pub seed: u64,
    pub patient_name: String,
    pub patient_sex: String,
    pub patient_birth_date: String,
    pub patient_id: String,
    pub other_patient_ids: Vec<String>,
    pub modality: String,
    pub body_part: String,
    pub study_date: String,
    pub study_time: String,
    pub accession_number: String,
    pub study_description: String,
    pub institution_name: String,
    pub charset: Charset,
    pub rows: u16,
    pub columns: u16,
    pub frames: u32,
    /// Write PALETTE COLOR or an unsupported compressed syntax, to test refusals.
    pub unsupported: Option<Unsupported>,
}

/// Instances a renderer must refuse rather than draw wrongly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsupported {
    /// PALETTE COLOR photometric interpretation (would render grey).
    PaletteColor,
    /// JPEG-LS lossless (1.2.840.10008.1.2.4.80): no pure-Rust decoder.
    JpegLs,
}

impl Synthetic {
    /// A CT chest study of a default patient, 32×32, one frame, UTF-8.
    pub fn new(seed: u64) -> Synthetic {
        Synthetic {
            seed,
            patient_name: "韦阿娜".into(),
            patient_sex: "F".into(),
            patient_birth_date: "19850315".into(),
            patient_id: format!("MR{seed:06}"),
            other_patient_ids: Vec::new(),
            modality: "CT".into(),
            body_part: "CHEST".into(),
            study_date: "20261120".into(),
            study_time: "101500".into(),
            accession_number: format!("A{seed:08}"),
            study_description: "胸部平扫".into(),
            institution_name: "环江县人民医院".into(),
            charset: Charset::Utf8,
            rows: 32,
            columns: 32,
            frames: 1,
            unsupported: None,
        }
    }

    pub fn patient(mut self, name: &str, sex: &str, birth_date: &str) -> Synthetic {
        self.patient_name = name.into();
        self.patient_sex = sex.into();
        self.patient_birth_date = birth_date.into();
        self
    }

    pub fn charset(mut self, charset: Charset) -> Synthetic {
        self.charset = charset;
        self
    }

    pub fn modality(mut self, modality: &str, body_part: &str) -> Synthetic {
        self.modality = modality.into();
        self.body_part = body_part.into();
        self
    }

    pub fn size(mut self, rows: u16, columns: u16, frames: u32) -> Synthetic {
        self.rows = rows;
        self.columns = columns;
        self.frames = frames.max(1);
        self
    }

    pub fn study_uid(&self) -> String {
        format!("{UID_ROOT}.{}", self.seed)
    }

    pub fn series_uid(&self, series: u32) -> String {
        format!("{}.{}", self.study_uid(), series + 1)
    }

    pub fn sop_uid(&self, series: u32, instance: u32) -> String {
        format!("{}.{}", self.series_uid(series), instance + 1)
    }

    /// The SOP class of the modality (CT, MR, US, CR, DX; others as Secondary Capture).
    pub fn sop_class(&self) -> &'static str {
        match self.modality.as_str() {
            "CT" => "1.2.840.10008.5.1.4.1.1.2",
            "MR" => "1.2.840.10008.5.1.4.1.1.4",
            "US" => "1.2.840.10008.5.1.4.1.1.6.1",
            "CR" => "1.2.840.10008.5.1.4.1.1.1",
            "DX" => "1.2.840.10008.5.1.4.1.1.1.1",
            _ => "1.2.840.10008.5.1.4.1.1.7",
        }
    }

    fn rgb(&self) -> bool {
        self.modality == "US"
    }

    /// Encode text for the charset: the string dicom-rs should write so that the bytes
    /// in the file are the ones this charset asks for.
    fn text(&self, s: &str) -> String {
        match self.charset {
            Charset::Utf8 | Charset::Gb18030 | Charset::Gbk => s.to_owned(),
            Charset::MislabelledGb18030 | Charset::UndeclaredGb18030 => {
                crate::charset::as_latin1(&encoding_rs::GB18030.encode(s).0)
            }
            Charset::MislabelledUtf8 => crate::charset::as_latin1(s.as_bytes()),
        }
    }

    fn declared(&self) -> Option<&'static str> {
        match self.charset {
            Charset::Utf8 => Some("ISO_IR 192"),
            Charset::Gb18030 => Some("GB18030"),
            Charset::Gbk => Some("GBK"),
            Charset::MislabelledGb18030 | Charset::MislabelledUtf8 => Some("ISO_IR 100"),
            Charset::UndeclaredGb18030 => None,
        }
    }

    /// The pixel values of one frame: a gradient and a disc, deterministic.
    fn frame_pixels(&self, series: u32, instance: u32, frame: u32) -> Vec<u16> {
        let (rows, cols) = (u32::from(self.rows), u32::from(self.columns));
        let shift = (self.seed as u32)
            .wrapping_mul(31)
            .wrapping_add(series * 7 + instance * 3 + frame);
        let (cx, cy) = (cols / 4 + shift % (cols / 2).max(1), rows / 2);
        let r2 = (rows.min(cols) / 5).pow(2);
        let mut out = Vec::with_capacity((rows * cols) as usize);
        for y in 0..rows {
            for x in 0..cols {
                let d2 = (x as i64 - cx as i64).pow(2) + (y as i64 - cy as i64).pow(2);
                let base = (x * 1000 / cols.max(1)) as u16;
                out.push(if d2 <= i64::from(r2) {
                    base + 2000
                } else {
                    base
                });
            }
        }
        out
    }

    /// One instance (Part 10 bytes) of series `series`, number `instance` (both from 0).
    pub fn instance(&self, series: u32, instance: u32) -> Vec<u8> {
        let mut obj = InMemDicomObject::new_empty();
        let mut put = |tag: Tag, vr: VR, value: PrimitiveValue| {
            obj.put(DataElement::new(tag, vr, value));
        };
        if let Some(cs) = self.declared() {
            put(tags::SPECIFIC_CHARACTER_SET, VR::CS, cs.into());
        }
        put(tags::SOP_CLASS_UID, VR::UI, self.sop_class().into());
        put(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            self.sop_uid(series, instance).into(),
        );
        put(tags::STUDY_DATE, VR::DA, self.study_date.as_str().into());
        put(tags::STUDY_TIME, VR::TM, self.study_time.as_str().into());
        put(
            tags::ACCESSION_NUMBER,
            VR::SH,
            self.accession_number.as_str().into(),
        );
        put(tags::MODALITY, VR::CS, self.modality.as_str().into());
        put(
            tags::INSTITUTION_NAME,
            VR::LO,
            self.text(&self.institution_name).into(),
        );
        put(
            tags::REFERRING_PHYSICIAN_NAME,
            VR::PN,
            self.text("蓝医生").into(),
        );
        put(
            tags::STUDY_DESCRIPTION,
            VR::LO,
            self.text(&self.study_description).into(),
        );
        put(
            tags::SERIES_DESCRIPTION,
            VR::LO,
            format!("Series {}", series + 1).into(),
        );
        put(
            tags::PATIENT_NAME,
            VR::PN,
            self.text(&self.patient_name).into(),
        );
        put(tags::PATIENT_ID, VR::LO, self.patient_id.as_str().into());
        put(
            tags::PATIENT_BIRTH_DATE,
            VR::DA,
            self.patient_birth_date.as_str().into(),
        );
        put(tags::PATIENT_SEX, VR::CS, self.patient_sex.as_str().into());
        if !self.other_patient_ids.is_empty() {
            put(
                crate::parse::OTHER_PATIENT_IDS,
                VR::LO,
                PrimitiveValue::Strs(self.other_patient_ids.iter().cloned().collect()),
            );
        }
        put(
            tags::BODY_PART_EXAMINED,
            VR::CS,
            self.body_part.as_str().into(),
        );
        put(tags::STUDY_INSTANCE_UID, VR::UI, self.study_uid().into());
        put(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            self.series_uid(series).into(),
        );
        put(tags::STUDY_ID, VR::SH, "1".into());
        put(tags::SERIES_NUMBER, VR::IS, (series + 1).to_string().into());
        put(
            tags::INSTANCE_NUMBER,
            VR::IS,
            (instance + 1).to_string().into(),
        );
        let rgb = self.rgb();
        put(
            tags::SAMPLES_PER_PIXEL,
            VR::US,
            PrimitiveValue::from(if rgb { 3_u16 } else { 1 }),
        );
        let photometric = match (self.unsupported, rgb) {
            (Some(Unsupported::PaletteColor), _) => "PALETTE COLOR",
            (_, true) => "RGB",
            _ => "MONOCHROME2",
        };
        put(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, photometric.into());
        if rgb {
            put(
                tags::PLANAR_CONFIGURATION,
                VR::US,
                PrimitiveValue::from(0_u16),
            );
        }
        if self.frames > 1 {
            put(
                tags::NUMBER_OF_FRAMES,
                VR::IS,
                self.frames.to_string().into(),
            );
        }
        put(tags::ROWS, VR::US, PrimitiveValue::from(self.rows));
        put(tags::COLUMNS, VR::US, PrimitiveValue::from(self.columns));
        let bits: u16 = if rgb { 8 } else { 16 };
        put(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(bits));
        put(
            tags::BITS_STORED,
            VR::US,
            PrimitiveValue::from(if rgb { 8_u16 } else { 12 }),
        );
        put(
            tags::HIGH_BIT,
            VR::US,
            PrimitiveValue::from(if rgb { 7_u16 } else { 11 }),
        );
        put(
            tags::PIXEL_REPRESENTATION,
            VR::US,
            PrimitiveValue::from(0_u16),
        );
        if !rgb {
            let (center, width, intercept) = if self.modality == "CT" {
                ("40", "400", "-1024")
            } else {
                ("1500", "3000", "0")
            };
            put(tags::WINDOW_CENTER, VR::DS, center.into());
            put(tags::WINDOW_WIDTH, VR::DS, width.into());
            put(tags::RESCALE_INTERCEPT, VR::DS, intercept.into());
            put(tags::RESCALE_SLOPE, VR::DS, "1".into());
        }
        let mut transfer_syntax = ts::EXPLICIT_VR_LITTLE_ENDIAN;
        if self.unsupported == Some(Unsupported::JpegLs) {
            transfer_syntax = "1.2.840.10008.1.2.4.80";
            let fragment = vec![0xFF_u8, 0xD8, 0xFF, 0xF7, 0, 0, 0, 0];
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                PixelFragmentSequence::new(Vec::<u32>::new(), vec![fragment]),
            ));
        } else if rgb {
            let mut bytes = Vec::new();
            for f in 0..self.frames {
                for v in self.frame_pixels(series, instance, f) {
                    let g = (v / 12).min(255) as u8;
                    bytes.extend_from_slice(&[g, g / 2, 255 - g]);
                }
            }
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                PrimitiveValue::from(bytes),
            ));
        } else {
            let mut values: Vec<u16> = Vec::new();
            for f in 0..self.frames {
                values.extend(self.frame_pixels(series, instance, f));
            }
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OW,
                PrimitiveValue::U16(values.into()),
            ));
        }
        let file = obj
            .with_meta(
                FileMetaTableBuilder::new()
                    .transfer_syntax(transfer_syntax)
                    .implementation_class_uid(format!("{UID_ROOT}.0.1")),
            )
            .expect("the generator's meta table is complete");
        let mut out =
            Vec::with_capacity(usize::from(self.rows) * usize::from(self.columns) * 2 + 2048);
        file.write_all(&mut out)
            .expect("the generator writes only what its syntax and charset can encode");
        out
    }

    /// Every instance of a study of `series` series × `per_series` instances, in order.
    pub fn study(&self, series: u32, per_series: u32) -> Vec<Vec<u8>> {
        (0..series)
            .flat_map(|s| (0..per_series).map(move |i| (s, i)))
            .map(|(s, i)| self.instance(s, i))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_bytes() {
        let a = Synthetic::new(42).instance(0, 1);
        let b = Synthetic::new(42).instance(0, 1);
        assert_eq!(a, b);
        assert_ne!(a, Synthetic::new(43).instance(0, 1));
        assert_eq!(&a[128..132], b"DICM");
    }

    #[test]
    fn gb18030_names_are_written_as_gb18030_bytes() {
        let bytes = Synthetic::new(1).charset(Charset::Gb18030).instance(0, 0);
        let gb = encoding_rs::GB18030.encode("韦阿娜").0.into_owned();
        assert!(bytes.windows(gb.len()).any(|w| w == gb.as_slice()));
        let mislabelled = Synthetic::new(1)
            .charset(Charset::MislabelledGb18030)
            .instance(0, 0);
        assert!(mislabelled.windows(gb.len()).any(|w| w == gb.as_slice()));
    }
}
