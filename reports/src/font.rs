//! The one font every chart and report is drawn with, embedded in the binary so a machine with
//! no Chinese fonts installed (a fresh server, a locked-down office PC) still shows every label.
//!
//! `fonts/GridassessSansSC-Regular.ttf` is Noto Sans CJK SC cut down to the GBK character set
//! (see `fonts/make_font.py` and `fonts/OFL.txt`): every character a county's GBK-encoded files
//! can hold. PNG charts are rasterized with it; SVG files and the HTML report carry a WOFF2
//! subset of exactly the characters they use, so they look the same everywhere at a few
//! kilobytes instead of seven megabytes.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use ab_glyph::{Font as _, FontRef};
use base64::Engine as _;

use crate::error::ReportError;

/// The font file.
pub(crate) static FONT_BYTES: &[u8] = include_bytes!("../fonts/GridassessSansSC-Regular.ttf");

/// The CSS font-family list written into SVG text and the HTML. The first name is the embedded
/// font; the rest are what Chinese desktops have, for a viewer that ignores embedded fonts.
pub(crate) const FAMILY: &str =
    "Gridassess Sans SC, Microsoft YaHei, PingFang SC, Noto Sans CJK SC, sans-serif";

struct Loaded {
    face: FontRef<'static>,
    /// ab_glyph scales a font so that ascent − descent fills the pixel size; this is that
    /// height in ems, to convert between the two.
    height_em: f64,
    units_per_em: f64,
}

fn loaded() -> Result<&'static Loaded, ReportError> {
    static LOADED: OnceLock<Option<Loaded>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let face = FontRef::try_from_slice(FONT_BYTES).ok()?;
            plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, FONT_BYTES)
                .ok()?;
            let units_per_em = f64::from(face.units_per_em()?);
            let height_em = f64::from(face.height_unscaled()) / units_per_em;
            Some(Loaded {
                face,
                height_em,
                units_per_em,
            })
        })
        .as_ref()
        .ok_or(ReportError::Font("the embedded font cannot be read".into()))
}

/// Registers the font with plotters (once) and checks it can be read.
pub(crate) fn ensure_registered() -> Result<(), ReportError> {
    loaded().map(|_| ())
}

/// Ascent − descent of the font in ems (see [`Loaded::height_em`]).
pub(crate) fn height_em() -> f64 {
    loaded().map_or(1.0, |l| l.height_em)
}

/// The width of `text` set at `em` pixels per em.
pub(crate) fn text_width(text: &str, em: f64) -> f64 {
    let Ok(l) = loaded() else {
        return text.chars().count() as f64 * em;
    };
    let units: f32 = text
        .chars()
        .map(|c| l.face.h_advance_unscaled(l.face.glyph_id(c)))
        .sum();
    f64::from(units) / l.units_per_em * em
}

/// The characters of `text` the font has no glyph for (they would show as a box).
pub(crate) fn missing_chars(text: &str) -> BTreeSet<char> {
    let Ok(l) = loaded() else {
        return BTreeSet::new();
    };
    text.chars()
        .filter(|c| !c.is_control() && l.face.glyph_id(*c).0 == 0)
        .collect()
}

/// How a font subset is packed into a `data:` URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Packing {
    /// Brotli-compressed (about half the size, but compressing takes a noticeable fraction of a
    /// second): for the one subset the HTML carries.
    Woff2,
    /// Plain TrueType: for the many small per-chart SVG files, where speed matters more.
    TrueType,
}

/// A CSS `@font-face` rule carrying a subset of the font with the characters of `text`.
pub(crate) fn font_face_css(text: &str, packing: Packing) -> Result<String, ReportError> {
    let font = font_subset::Font::opentype(FONT_BYTES)
        .map_err(|e| ReportError::Font(format!("the embedded font cannot be read: {e:?}")))?;
    let mut chars: BTreeSet<char> = text.chars().filter(|c| font.contains_char(*c)).collect();
    // Digits, Latin letters and common punctuation always: a viewer may zoom into numbers.
    chars.extend((' '..='~').filter(|c| font.contains_char(*c)));
    let subset = font
        .subset(&chars)
        .map_err(|e| ReportError::Font(format!("cannot subset the embedded font: {e:?}")))?;
    let (mime, format, bytes) = match packing {
        Packing::Woff2 => ("font/woff2", "woff2", subset.to_woff2()),
        Packing::TrueType => ("font/ttf", "truetype", subset.to_opentype()),
    };
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    let family = FAMILY.split(',').next().unwrap_or(FAMILY);
    Ok(format!(
        "@font-face{{font-family:\"{family}\";src:url(data:{mime};base64,{data}) format(\"{format}\");}}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_font_covers_every_gbk_hanzi_used_in_names() {
        ensure_registered().unwrap();
        assert!(missing_chars("醴陵示范县古楼坪村党支部流动红旗 95.5 %（）¥—·").is_empty());
        // A character outside GBK (CJK Extension B) is reported, not silently boxed.
        assert_eq!(missing_chars("𠀀村"), BTreeSet::from(['𠀀']));
    }

    #[test]
    fn widths_grow_with_text_and_size() {
        let a = text_width("党支部", 10.0);
        assert!((a - 30.0).abs() < 0.5, "CJK glyphs are one em wide: {a}");
        assert!(text_width("党支部", 20.0) > 1.9 * a);
        assert!(text_width("1", 10.0) < 10.0);
    }

    #[test]
    fn the_css_subset_is_small_and_self_contained() {
        for packing in [Packing::Woff2, Packing::TrueType] {
            let css = font_face_css("醴陵示范县流动红旗", packing).unwrap();
            assert!(css.starts_with("@font-face{font-family:\"Gridassess Sans SC\""));
            assert!(css.len() < 60_000, "{packing:?}: {} bytes", css.len());
            assert!(!css.contains("http"));
        }
    }
}
