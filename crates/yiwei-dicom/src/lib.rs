//! DICOM for yiwei's imaging cloud, on dicom-rs: parsing a received instance (PS3.10) and
//! extracting what the index needs ([`parse`]), repairing mislabelled Chinese names
//! ([`charset`]), the DICOM JSON model (PS3.18 F.2, [`json`]), multipart/related bodies
//! for STOW-RS and WADO-RS (PS3.18 8.6, RFC 2387, [`multipart`]), rendering frames to PNG or
//! JPEG with windowing ([`render`]), a deterministic generator of small valid instances
//! for tests, the demo county and benchmarks ([`generate`]), and the blob store the files
//! live in ([`blob`]).
//!
//! It knows nothing of residents, access or the database: the web layer hands what
//! [`parse::Parsed`] extracted to `yiwei_store::imaging`. It fences the dicom-rs
//! dependencies off from the rest of the workspace.

pub mod blob;
pub mod charset;
pub mod generate;
pub mod json;
pub mod multipart;
pub mod parse;
// recognition: pixels for the AI reading hook
pub mod reading;
pub mod render;

/// Transfer syntax UIDs yiwei names (PS3.6 Table A-1).
pub mod ts {
    pub const IMPLICIT_VR_LITTLE_ENDIAN: &str = "1.2.840.10008.1.2";
    pub const EXPLICIT_VR_LITTLE_ENDIAN: &str = "1.2.840.10008.1.2.1";
    pub const DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN: &str = "1.2.840.10008.1.2.1.99";
    pub const EXPLICIT_VR_BIG_ENDIAN: &str = "1.2.840.10008.1.2.2";
    pub const JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";
    pub const JPEG_EXTENDED: &str = "1.2.840.10008.1.2.4.51";
    pub const JPEG_LOSSLESS_NH: &str = "1.2.840.10008.1.2.4.57";
    pub const JPEG_LOSSLESS_SV1: &str = "1.2.840.10008.1.2.4.70";
    pub const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";
}
