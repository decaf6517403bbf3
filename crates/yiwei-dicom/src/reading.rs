//! The pixels a reading model looks at (AI 辅助阅片): one frame decoded to grey values
//! after the Modality LUT (rescale slope and intercept, so CT values are Hounsfield
//! units), row-major, with whether the photometric interpretation is MONOCHROME1 (larger
//! values darker). The model itself is `yiwei_domain::reading`, which knows nothing of
//! DICOM; this module only decodes. Colour images are not read (a reading model for them
//! would need the colour planes) and answer `Unsupported`.

use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::PixelDecoder;

use crate::render::{RenderError, check};

/// One decoded grey frame.
#[derive(Clone, Debug, PartialEq)]
pub struct GreyFrame {
    pub rows: usize,
    pub columns: usize,
    pub pixels: Vec<f32>,
    pub inverted: bool,
}

/// Decode frame `frame` (from 1) of a grey instance.
pub fn grey_frame(obj: &DefaultDicomObject, frame: u32) -> Result<GreyFrame, RenderError> {
    check(obj)?;
    let photometric = obj
        .element_opt(tags::PHOTOMETRIC_INTERPRETATION)
        .ok()
        .flatten()
        .and_then(|e| e.to_str().ok().map(|s| s.trim().to_owned()))
        .unwrap_or_default();
    if !photometric.starts_with("MONOCHROME") {
        return Err(RenderError::Unsupported(format!(
            "a reading model reads grey images, not {photometric}"
        )));
    }
    let decoded = obj
        .decode_pixel_data_frame(frame.saturating_sub(1))
        .map_err(|e| RenderError::Decode(e.to_string()))?;
    let pixels: Vec<f32> = decoded
        .to_vec_frame(0)
        .map_err(|e| RenderError::Decode(e.to_string()))?;
    Ok(GreyFrame {
        rows: decoded.rows() as usize,
        columns: decoded.columns() as usize,
        pixels,
        inverted: photometric == "MONOCHROME1",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::Synthetic;

    #[test]
    fn a_synthetic_instance_decodes_to_its_size_in_grey() {
        let bytes = Synthetic::new(7)
            .modality("CT", "CHEST")
            .size(32, 24, 1)
            .instance(1, 1);
        let obj = crate::parse::open(&bytes).expect("parse");
        let frame = grey_frame(&obj, 1).expect("grey");
        assert_eq!((frame.rows, frame.columns), (32, 24));
        assert_eq!(frame.pixels.len(), 32 * 24);
        assert!(!frame.inverted);
        let (lo, hi) = frame
            .pixels
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &p| (l.min(p), h.max(p)));
        assert!(hi > lo, "a synthetic image is not blank");
    }
}
