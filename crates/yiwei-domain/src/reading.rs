//! AI 辅助阅片 (AI-assisted reading): the interface a reading model implements, and one
//! real, deliberately simple implementation.
//!
//! A [`ReadingModel`] receives the pixels and a little metadata of one image and returns
//! [`Findings`]. The caller (yiwei-web after STOW, or the "run AI" button) decodes the
//! image, calls the model for the representative image of each series, and attaches the
//! findings to the study as a report in the `preliminary` state (AI 初稿, see
//! `crate::report`): a radiologist reviews, edits and signs it, or discards it. Findings
//! are never shown as a signed result and never reach the patient unsigned.
//!
//! To plug in a real model (a neural network served elsewhere, a vendor's engine), write a
//! type that implements the trait; keep it pure and deterministic where possible and put
//! its name and version in [`ReadingModel::name`], which is stored as the draft's
//! provenance.
//!
//! [`ImageStatistics`] is what ships. It is **not** a diagnostic model and says so in its
//! output: it measures image quality from pixel statistics (a blank image, under- or
//! over-exposure, a clipped histogram) and, on a frontal chest radiograph, compares the
//! mean darkness of the left and right lung fields, flagging a marked asymmetry for the
//! radiologist to look at. It needs no weights and gives the same answer every time.

/// One decoded image as the model sees it: grey values after the modality LUT (rescale
/// slope/intercept), row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Image<'a> {
    pub rows: usize,
    pub columns: usize,
    pub pixels: &'a [f32],
    /// DICOM Modality (`DX`, `CR`, `CT` …).
    pub modality: &'a str,
    /// DICOM BodyPartExamined.
    pub body_part: &'a str,
    /// Whether larger values are darker (PhotometricInterpretation MONOCHROME1).
    pub inverted: bool,
}

/// How much a finding matters to the radiologist reviewing the draft.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    Attention,
}

/// One finding, in both languages.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub code: &'static str,
    pub level: Level,
    pub zh: String,
    pub en: String,
}

/// What a model read from one image.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Findings {
    pub items: Vec<Finding>,
}

impl Findings {
    /// The draft's findings text (检查所见), one line per finding, Chinese then English.
    pub fn findings_text(&self, model: &str) -> String {
        let mut out = format!("【AI 初稿，未经医师审核 / AI draft, not reviewed】{model}\n");
        for f in &self.items {
            out.push_str(&format!("- {} / {}\n", f.zh, f.en));
        }
        out
    }

    /// The draft's impression: what needs attention, or that nothing was flagged.
    pub fn impression_text(&self) -> String {
        let flagged: Vec<&Finding> = self
            .items
            .iter()
            .filter(|f| f.level == Level::Attention)
            .collect();
        if flagged.is_empty() {
            "图像统计未见需提示的问题（非诊断结论）/ no image-statistics flag (not a diagnosis)"
                .to_owned()
        } else {
            flagged
                .iter()
                .map(|f| format!("请注意：{} / check: {}", f.zh, f.en))
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

/// A reading model: see the module docs.
pub trait ReadingModel {
    /// Name and version, stored as the AI draft's provenance.
    fn name(&self) -> &'static str;
    fn read(&self, image: &Image<'_>) -> Findings;
}

/// The shipped model: image-quality statistics and chest lung-field symmetry (module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct ImageStatistics;

/// A standard deviation below this fraction of the value range is a blank image.
const BLANK_SPREAD: f32 = 0.01;
/// More than this share of pixels at the extreme of the range is clipping.
const CLIPPED_SHARE: f32 = 0.25;
/// Mean brightness (0 black … 1 white) outside these bounds is poorly exposed.
const DARK_MEAN: f32 = 0.15;
const BRIGHT_MEAN: f32 = 0.85;
/// Left/right lung-field darkness differing by more than this share is asymmetric.
const ASYMMETRY: f32 = 0.20;

impl ReadingModel for ImageStatistics {
    fn name(&self) -> &'static str {
        "yiwei image-statistics reader 1 (quality + chest symmetry; not a diagnostic model)"
    }

    fn read(&self, image: &Image<'_>) -> Findings {
        let mut items = Vec::new();
        let n = image.rows * image.columns;
        if n == 0 || image.pixels.len() < n {
            items.push(Finding {
                code: "no_pixels",
                level: Level::Attention,
                zh: "无可读取的像素数据".into(),
                en: "no readable pixel data".into(),
            });
            return Findings { items };
        }
        let pixels = &image.pixels[..n];
        let (lo, hi) = pixels
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &p| (lo.min(p), hi.max(p)));
        let range = hi - lo;
        // Brightness as displayed: 0 black … 1 white.
        let bright = |p: f32| {
            let v = if range > 0.0 { (p - lo) / range } else { 0.0 };
            if image.inverted { 1.0 - v } else { v }
        };
        let mean = pixels.iter().map(|&p| bright(p)).sum::<f32>() / n as f32;
        let spread = (pixels
            .iter()
            .map(|&p| (bright(p) - mean).powi(2))
            .sum::<f32>()
            / n as f32)
            .sqrt();
        if range <= 0.0 || spread < BLANK_SPREAD {
            items.push(Finding {
                code: "blank",
                level: Level::Attention,
                zh: "图像几乎为空白（像素值无变化），请确认曝光或传输".into(),
                en: "the image is almost blank (no variation): check exposure or transfer".into(),
            });
            return Findings { items };
        }
        items.push(Finding {
            code: "brightness",
            level: Level::Info,
            zh: format!(
                "平均亮度 {:.0}%，离散度 {:.0}%",
                mean * 100.0,
                spread * 100.0
            ),
            en: format!(
                "mean brightness {:.0} %, spread {:.0} %",
                mean * 100.0,
                spread * 100.0
            ),
        });
        if mean < DARK_MEAN {
            items.push(Finding {
                code: "dark",
                level: Level::Attention,
                zh: "图像整体偏暗，可能曝光过度（X线）或窗设置不当".into(),
                en: "the image is very dark: possible over-exposure (X-ray) or wrong window".into(),
            });
        } else if mean > BRIGHT_MEAN {
            items.push(Finding {
                code: "bright",
                level: Level::Attention,
                zh: "图像整体偏亮，可能曝光不足（X线）".into(),
                en: "the image is very bright: possible under-exposure (X-ray)".into(),
            });
        }
        let clipped = pixels.iter().filter(|&&p| p <= lo || p >= hi).count() as f32 / n as f32;
        if clipped > CLIPPED_SHARE {
            items.push(Finding {
                code: "clipped",
                level: Level::Attention,
                zh: format!("{:.0}% 像素处于取值极限，动态范围不足", clipped * 100.0),
                en: format!(
                    "{:.0} % of pixels at the range limits: dynamic range lost",
                    clipped * 100.0
                ),
            });
        }
        let chest_radiograph =
            matches!(image.modality, "DX" | "CR") && image.body_part.eq_ignore_ascii_case("CHEST");
        if chest_radiograph {
            items.push(lung_symmetry(image, &bright));
        }
        Findings { items }
    }
}

/// Compare the darkness of the two lung fields of a frontal chest radiograph: the middle
/// band of rows (20–75 % of the height), left and right thirds of the width outside the
/// mediastinum (10–40 % and 60–90 %). Air is dark on a radiograph, so a field much
/// brighter than the other may hold an effusion or consolidation, or the patient was
/// rotated. The measure is crude and says so.
fn lung_symmetry(image: &Image<'_>, bright: &dyn Fn(f32) -> f32) -> Finding {
    let field_mean = |from: usize, to: usize| {
        let (r0, r1) = (image.rows * 20 / 100, image.rows * 75 / 100);
        let (c0, c1) = (image.columns * from / 100, image.columns * to / 100);
        let mut sum = 0.0f32;
        let mut n = 0usize;
        for r in r0..r1 {
            for c in c0..c1 {
                sum += bright(image.pixels[r * image.columns + c]);
                n += 1;
            }
        }
        if n == 0 { 0.0 } else { sum / n as f32 }
    };
    // Image left is the patient's right on a PA view; the finding names image sides.
    let left = 1.0 - field_mean(10, 40);
    let right = 1.0 - field_mean(60, 90);
    let larger = left.max(right).max(f32::EPSILON);
    let difference = (left - right).abs() / larger;
    if difference > ASYMMETRY {
        let darker_zh = if left > right { "左侧" } else { "右侧" };
        let darker_en = if left > right { "left" } else { "right" };
        Finding {
            code: "lung_asymmetry",
            level: Level::Attention,
            zh: format!(
                "两侧肺野透亮度差 {:.0}%（图像{darker_zh}更透亮），请注意体位或单侧病变",
                difference * 100.0
            ),
            en: format!(
                "lung fields differ in lucency by {:.0} % (image {darker_en} more lucent): check positioning or a one-sided process",
                difference * 100.0
            ),
        }
    } else {
        Finding {
            code: "lung_symmetry",
            level: Level::Info,
            zh: format!("两侧肺野透亮度大致对称（差 {:.0}%）", difference * 100.0),
            en: format!(
                "lung fields roughly symmetric in lucency ({:.0} % difference)",
                difference * 100.0
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn image<'a>(pixels: &'a [f32], rows: usize, columns: usize, modality: &'a str) -> Image<'a> {
        Image {
            rows,
            columns,
            pixels,
            modality,
            body_part: "CHEST",
            inverted: false,
        }
    }

    fn codes(f: &Findings) -> Vec<&'static str> {
        f.items.iter().map(|i| i.code).collect()
    }

    /// A synthetic chest: mid-grey body, two dark lung fields of the given darkness.
    fn chest(left_lung: f32, right_lung: f32) -> Vec<f32> {
        let (rows, cols) = (40, 40);
        let mut px = vec![600.0f32; rows * cols];
        for r in 10..30 {
            for c in 4..16 {
                px[r * cols + c] = left_lung;
            }
            for c in 24..36 {
                px[r * cols + c] = right_lung;
            }
        }
        px[0] = 0.0;
        px[1] = 1000.0;
        px
    }

    #[test]
    fn a_blank_image_is_flagged_and_nothing_else_is_said() {
        let px = vec![512.0; 100];
        let f = ImageStatistics.read(&image(&px, 10, 10, "CT"));
        assert_eq!(codes(&f), ["blank"]);
        assert!(f.impression_text().contains("check"));
    }

    #[test]
    fn symmetric_lungs_pass_and_one_white_lung_is_flagged() {
        let px = chest(100.0, 110.0);
        let f = ImageStatistics.read(&image(&px, 40, 40, "DX"));
        assert!(codes(&f).contains(&"lung_symmetry"), "{f:?}");
        let px = chest(100.0, 700.0);
        let f = ImageStatistics.read(&image(&px, 40, 40, "CR"));
        assert!(codes(&f).contains(&"lung_asymmetry"), "{f:?}");
        assert!(
            f.findings_text(ImageStatistics.name())
                .starts_with("【AI 初稿")
        );
    }

    #[test]
    fn exposure_is_judged_on_displayed_brightness() {
        // Mostly at the top of the range: bright, and clipped.
        let mut px = vec![1000.0f32; 100];
        px[0] = 0.0;
        px[1] = 500.0;
        let f = ImageStatistics.read(&image(&px, 10, 10, "CT"));
        assert!(codes(&f).contains(&"bright") && codes(&f).contains(&"clipped"));
        let mut inverted = image(&px, 10, 10, "CT");
        inverted.inverted = true;
        assert!(codes(&ImageStatistics.read(&inverted)).contains(&"dark"));
        assert_eq!(
            codes(&ImageStatistics.read(&image(&[], 0, 0, "DX"))),
            ["no_pixels"]
        );
    }

    proptest! {
        #[test]
        fn the_reader_never_panics_and_is_deterministic(px in proptest::collection::vec(-5000.0f32..5000.0, 0..200), rows in 0usize..15) {
            let columns = px.len().checked_div(rows).unwrap_or(0);
            let img = image(&px, rows, columns, "DX");
            prop_assert_eq!(ImageStatistics.read(&img), ImageStatistics.read(&img));
        }
    }
}
