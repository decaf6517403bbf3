//! Rendering a frame to PNG or JPEG (WADO-RS rendered resources, PS3.18 8.3.5 and 9.5),
//! with the modality LUT (Rescale Slope/Intercept), a window (VOI LUT: the request's
//! centre/width, else the instance's first window, else min–max), MONOCHROME1 inverted,
//! and RGB / YBR_FULL colour, on dicom-pixeldata's pure-Rust decoders.
//!
//! What dicom-pixeldata cannot draw faithfully is refused before decoding, as
//! [`RenderError::Unsupported`]: JPEG-LS and JPEG 2000 (no pure-Rust decoder built in),
//! 12-bit JPEG (the JPEG decoder reads 8-bit only), PALETTE COLOR (would come out grey),
//! and anything else outside the list below. A wrong picture is worse than none.

use std::io::Cursor;

use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::image::{DynamicImage, ImageFormat, imageops::FilterType};
use dicom_pixeldata::{ConvertOptions, PixelDecoder, VoiLutOption, WindowLevel};

use crate::ts;

/// The output image type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    /// Quality 1–100.
    Jpeg(u8),
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg(_) => "image/jpeg",
        }
    }
}

/// What to render.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    /// The frame, from 1 (DICOM numbering).
    pub frame: u32,
    /// Window centre and width; `None` for the instance's own.
    pub window: Option<(f64, f64)>,
    pub format: Format,
    /// Scale down to fit in a square of this many pixels (thumbnails, `viewport`).
    pub max_size: Option<u32>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            frame: 1,
            window: None,
            format: Format::Png,
            max_size: None,
        }
    }
}

/// Why a frame was not rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("无法显示此图像 / this instance cannot be rendered: {0}")]
    Unsupported(String),
    #[error("帧号超出范围 / frame {frame} does not exist: the instance has {frames} frame(s)")]
    NoSuchFrame { frame: u32, frames: u32 },
    #[error("窗宽须大于 0 / the window width must be greater than 0")]
    BadWindow,
    #[error("图像解码失败 / the pixel data could not be decoded: {0}")]
    Decode(String),
}

const SUPPORTED_SYNTAXES: &[&str] = &[
    ts::IMPLICIT_VR_LITTLE_ENDIAN,
    ts::EXPLICIT_VR_LITTLE_ENDIAN,
    ts::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    ts::EXPLICIT_VR_BIG_ENDIAN,
    ts::JPEG_BASELINE,
    ts::JPEG_EXTENDED,
    ts::JPEG_LOSSLESS_NH,
    ts::JPEG_LOSSLESS_SV1,
    ts::RLE_LOSSLESS,
];

fn uint(obj: &DefaultDicomObject, tag: dicom_core::Tag) -> Option<u32> {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.to_int::<u32>().ok())
}

/// Whether the instance can be rendered faithfully; the reason when not.
pub fn check(obj: &DefaultDicomObject) -> Result<(), RenderError> {
    let syntax = obj.meta().transfer_syntax().trim_end_matches('\0').trim();
    if !SUPPORTED_SYNTAXES.contains(&syntax) {
        return Err(RenderError::Unsupported(format!(
            "transfer syntax {syntax} has no pure-Rust decoder here"
        )));
    }
    if obj.element_opt(tags::PIXEL_DATA).ok().flatten().is_none() {
        return Err(RenderError::Unsupported(
            "the instance has no pixel data".into(),
        ));
    }
    let bits_stored = uint(obj, tags::BITS_STORED).unwrap_or(8);
    if syntax == ts::JPEG_EXTENDED && bits_stored > 8 {
        return Err(RenderError::Unsupported(
            "12-bit JPEG cannot be decoded".into(),
        ));
    }
    let photometric = obj
        .element_opt(tags::PHOTOMETRIC_INTERPRETATION)
        .ok()
        .flatten()
        .and_then(|e| e.to_str().ok().map(|s| s.trim().to_owned()))
        .unwrap_or_default();
    if !matches!(
        photometric.as_str(),
        "MONOCHROME1" | "MONOCHROME2" | "RGB" | "YBR_FULL" | "YBR_FULL_422"
    ) {
        return Err(RenderError::Unsupported(format!(
            "photometric interpretation {photometric:?} is not rendered"
        )));
    }
    let samples = uint(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    let bits = uint(obj, tags::BITS_ALLOCATED).unwrap_or(0);
    if !(matches!((samples, bits), (1, 8 | 16) | (3, 8))) {
        return Err(RenderError::Unsupported(format!(
            "{samples} sample(s) of {bits} bits per pixel are not rendered"
        )));
    }
    Ok(())
}

/// The number of frames of the instance.
pub fn frames(obj: &DefaultDicomObject) -> u32 {
    uint(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1)
}

/// Render one frame; see the module docs.
pub fn render(obj: &DefaultDicomObject, options: &Options) -> Result<Vec<u8>, RenderError> {
    check(obj)?;
    let n = frames(obj);
    if options.frame == 0 || options.frame > n {
        return Err(RenderError::NoSuchFrame {
            frame: options.frame,
            frames: n,
        });
    }
    let voi = match options.window {
        Some((_, width)) if width <= 0.0 || !width.is_finite() => {
            return Err(RenderError::BadWindow);
        }
        Some((center, width)) => VoiLutOption::Custom(WindowLevel { center, width }),
        None => VoiLutOption::First,
    };
    let convert = ConvertOptions::new().with_voi_lut(voi).force_8bit();
    let decoded = obj
        .decode_pixel_data_frame(options.frame - 1)
        .map_err(|e| RenderError::Decode(e.to_string()))?;
    let mut image = decoded
        .to_dynamic_image_with_options(0, &convert)
        .map_err(|e| RenderError::Decode(e.to_string()))?;
    if let Some(max) = options.max_size
        && (image.width() > max || image.height() > max)
    {
        image = image.resize(max, max, FilterType::Triangle);
    }
    encode(&image, options.format)
}

fn encode(image: &DynamicImage, format: Format) -> Result<Vec<u8>, RenderError> {
    let mut out = Cursor::new(Vec::new());
    match format {
        Format::Png => image
            .write_to(&mut out, ImageFormat::Png)
            .map_err(|e| RenderError::Decode(e.to_string()))?,
        Format::Jpeg(quality) => {
            let encoder = dicom_pixeldata::image::codecs::jpeg::JpegEncoder::new_with_quality(
                &mut out,
                quality.clamp(1, 100),
            );
            let rgb_or_grey = match image.color().has_color() {
                true => DynamicImage::ImageRgb8(image.to_rgb8()),
                false => DynamicImage::ImageLuma8(image.to_luma8()),
            };
            rgb_or_grey
                .write_with_encoder(encoder)
                .map_err(|e| RenderError::Decode(e.to_string()))?;
        }
    }
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{Synthetic, Unsupported};
    use dicom_pixeldata::image::GenericImageView;

    fn decode(png: &[u8]) -> DynamicImage {
        dicom_pixeldata::image::load_from_memory(png).unwrap()
    }

    #[test]
    fn a_ct_frame_renders_to_png_with_its_window_and_a_chosen_one() {
        let bytes = Synthetic::new(1).size(32, 40, 1).instance(0, 0);
        let obj = crate::parse::open(&bytes).unwrap();
        let png = render(&obj, &Options::default()).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let img = decode(&png);
        assert_eq!(img.dimensions(), (40, 32));
        // A window that puts everything above its top renders white.
        let white = decode(
            &render(
                &obj,
                &Options {
                    window: Some((-2000.0, 10.0)),
                    ..Options::default()
                },
            )
            .unwrap(),
        );
        assert!(white.to_luma8().pixels().all(|p| p.0[0] == 255));
        let err = render(
            &obj,
            &Options {
                window: Some((40.0, 0.0)),
                ..Options::default()
            },
        );
        assert!(matches!(err, Err(RenderError::BadWindow)));
    }

    #[test]
    fn jpeg_frames_and_thumbnails() {
        let bytes = Synthetic::new(2)
            .modality("US", "ABDOMEN")
            .size(64, 64, 3)
            .instance(0, 0);
        let obj = crate::parse::open(&bytes).unwrap();
        let jpeg = render(
            &obj,
            &Options {
                frame: 3,
                format: Format::Jpeg(80),
                max_size: Some(16),
                ..Options::default()
            },
        )
        .unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        assert_eq!(decode(&jpeg).dimensions(), (16, 16));
        assert!(matches!(
            render(
                &obj,
                &Options {
                    frame: 4,
                    ..Options::default()
                }
            ),
            Err(RenderError::NoSuchFrame {
                frame: 4,
                frames: 3
            })
        ));
    }

    #[test]
    fn palette_colour_and_jpeg_ls_are_refused_not_drawn() {
        for u in [Unsupported::PaletteColor, Unsupported::JpegLs] {
            let mut s = Synthetic::new(3);
            s.unsupported = Some(u);
            let obj = crate::parse::open(&s.instance(0, 0)).unwrap();
            assert!(
                matches!(
                    render(&obj, &Options::default()),
                    Err(RenderError::Unsupported(_))
                ),
                "{u:?}"
            );
        }
    }
}
