//! A small drawing layer over plotters: every chart is laid out in logical pixels (an 800-pixel
//! wide page, about A4's text width) and drawn twice — once as SVG at 1×, once as PNG at 2× —
//! from the same code, so the two files never disagree.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::ReportError;
use crate::font::{self, FAMILY};

/// Colour-blind-safe colours (Okabe & Ito), plus greys for ink and rules.
pub(crate) mod palette {
    use plotters::style::RGBColor;
    pub(crate) const BLUE: RGBColor = RGBColor(0x00, 0x72, 0xB2);
    pub(crate) const SKY: RGBColor = RGBColor(0x56, 0xB4, 0xE9);
    pub(crate) const VERMILLION: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
    pub(crate) const ORANGE: RGBColor = RGBColor(0xE6, 0x9F, 0x00);
    pub(crate) const GREEN: RGBColor = RGBColor(0x00, 0x9E, 0x73);
    pub(crate) const PURPLE: RGBColor = RGBColor(0xCC, 0x79, 0xA7);
    pub(crate) const YELLOW: RGBColor = RGBColor(0xF0, 0xE4, 0x42);
    pub(crate) const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
    pub(crate) const MUTED: RGBColor = RGBColor(0x66, 0x66, 0x66);
    pub(crate) const RULE: RGBColor = RGBColor(0xBB, 0xBB, 0xBB);
    pub(crate) const GRID: RGBColor = RGBColor(0xE6, 0xE6, 0xE6);
    pub(crate) const PAPER: RGBColor = RGBColor(0xFF, 0xFF, 0xFF);
    /// Series colours in order; the yellow is last because it is faint on white.
    pub(crate) const SERIES: [RGBColor; 7] = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, YELLOW];
}

/// Logical page width in pixels; PNGs are drawn at twice this.
pub(crate) const PAGE_WIDTH: f64 = 800.0;
/// PNGs are drawn at this multiple of the logical size (1600 px wide ≈ 240 dpi across A4's
/// 170 mm text width).
pub(crate) const PNG_SCALE: f64 = 2.0;
/// Pixels per metre written into the PNG, so Word places it at A4 text width.
const PNG_PIXELS_PER_METRE: u32 = 9449; // 240 dpi

/// What drawing on a backend returns.
pub(crate) type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A chart's layout and drawing, independent of the output format.
pub(crate) trait ChartSpec {
    /// The file stem (`ranking_TS01`).
    fn name(&self) -> String;
    /// The title shown above the chart in the report.
    fn title(&self) -> String;
    /// Logical size in pixels.
    fn size(&self) -> (f64, f64);
    fn draw<DB: DrawingBackend>(&self, pen: &Pen<'_, DB>) -> Drawn<DB>;
    /// All text the chart draws, to check the font covers it.
    fn texts(&self) -> Vec<String>;
}

/// A rendered chart: the same drawing as SVG and as PNG.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The file stem (`ranking_TS01`).
    pub(crate) name: String,
    /// The SVG without an embedded font (the HTML report embeds one for all charts).
    pub(crate) svg: String,
    /// The SVG file: the chart with a font subset of its own characters embedded, so it looks
    /// the same on a machine without Chinese fonts.
    pub(crate) svg_file: String,
    pub(crate) png: Vec<u8>,
    /// Characters the font lacks (drawn as boxes in the PNG).
    pub(crate) missing_chars: String,
}

/// Draws in logical pixels on one backend, scaled to its resolution.
pub(crate) struct Pen<'a, DB: DrawingBackend> {
    area: &'a DrawingArea<DB, Shift>,
    k: f64,
    bitmap: bool,
}

/// The width of `text` in logical pixels at `em` pixels per em.
pub(crate) fn text_width(text: &str, em: f64) -> f64 {
    font::text_width(text, em)
}

/// `text` cut to `max` pixels wide at `em`, with an ellipsis when cut.
pub(crate) fn fit(text: &str, em: f64, max: f64) -> String {
    if text_width(text, em) <= max {
        return text.to_string();
    }
    let mut out = String::new();
    for c in text.chars() {
        out.push(c);
        if text_width(&out, em) + text_width("…", em) > max {
            out.pop();
            break;
        }
    }
    out.push('…');
    out
}

impl<DB: DrawingBackend> Pen<'_, DB> {
    fn at(&self, x: f64, y: f64) -> (i32, i32) {
        ((x * self.k).round() as i32, (y * self.k).round() as i32)
    }

    /// The plotters font size that sets `em` pixels per em in this backend.
    fn font_size(&self, em: f64) -> f64 {
        // plotters writes size / 1.24 as the SVG font-size, and ab_glyph fills ascent − descent
        // with the size; both are made to mean `em` pixels per em.
        if self.bitmap {
            em * self.k * font::height_em()
        } else {
            em * self.k * 1.24
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn text(
        &self,
        s: &str,
        x: f64,
        y: f64,
        em: f64,
        color: RGBColor,
        h: HPos,
        v: VPos,
    ) -> Drawn<DB> {
        if s.is_empty() {
            return Ok(());
        }
        let style = TextStyle::from((FAMILY, self.font_size(em)).into_font())
            .color(&color)
            .pos(Pos::new(h, v));
        self.area
            .draw(&Text::new(s.to_string(), self.at(x, y), style))
    }

    /// Text on a paper-coloured box, so lines drawn earlier pass behind it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn label(
        &self,
        s: &str,
        x: f64,
        y: f64,
        em: f64,
        color: RGBColor,
        h: HPos,
    ) -> Drawn<DB> {
        let w = text_width(s, em);
        let left = match h {
            HPos::Left => x,
            HPos::Center => x - w / 2.0,
            HPos::Right => x - w,
        };
        self.rect(
            left - 2.0,
            y - em * 0.8,
            left + w + 2.0,
            y + em * 0.8,
            palette::PAPER,
        )?;
        self.text(s, x, y, em, color, h, VPos::Center)
    }

    pub(crate) fn rect(&self, x0: f64, y0: f64, x1: f64, y1: f64, fill: RGBColor) -> Drawn<DB> {
        self.area.draw(&Rectangle::new(
            [self.at(x0, y0), self.at(x1, y1)],
            fill.filled(),
        ))
    }

    pub(crate) fn outline(
        &self,
        x0: f64,
        y0: f64,
        x1: f64,
        y1: f64,
        color: RGBColor,
        w: f64,
    ) -> Drawn<DB> {
        self.area.draw(&Rectangle::new(
            [self.at(x0, y0), self.at(x1, y1)],
            color.stroke_width(self.width(w)),
        ))
    }

    fn width(&self, w: f64) -> u32 {
        ((w * self.k).round() as u32).max(1)
    }

    pub(crate) fn line(&self, points: &[(f64, f64)], color: RGBColor, w: f64) -> Drawn<DB> {
        let pts: Vec<_> = points.iter().map(|&(x, y)| self.at(x, y)).collect();
        self.area
            .draw(&PathElement::new(pts, color.stroke_width(self.width(w))))
    }

    pub(crate) fn dashed(&self, points: &[(f64, f64)], color: RGBColor, w: f64) -> Drawn<DB> {
        let pts: Vec<_> = points.iter().map(|&(x, y)| self.at(x, y)).collect();
        let (dash, gap) = ((4.0 * self.k) as i32, (3.0 * self.k) as i32);
        self.area.draw(&DashedPathElement::new(
            pts,
            dash,
            gap,
            color.stroke_width(self.width(w)),
        ))
    }

    pub(crate) fn dot(&self, x: f64, y: f64, r: f64, color: RGBColor) -> Drawn<DB> {
        self.area.draw(&Circle::new(
            self.at(x, y),
            ((r * self.k).round() as i32).max(1),
            color.filled(),
        ))
    }

    pub(crate) fn polygon(&self, points: &[(f64, f64)], color: RGBColor) -> Drawn<DB> {
        let pts: Vec<_> = points.iter().map(|&(x, y)| self.at(x, y)).collect();
        self.area.draw(&Polygon::new(pts, color.filled()))
    }

    /// A series marker: circle, square, triangle or diamond, by index.
    pub(crate) fn marker(
        &self,
        shape: usize,
        x: f64,
        y: f64,
        r: f64,
        color: RGBColor,
    ) -> Drawn<DB> {
        match shape % 4 {
            0 => self.dot(x, y, r, color),
            1 => self.rect(
                x - r * 0.85,
                y - r * 0.85,
                x + r * 0.85,
                y + r * 0.85,
                color,
            ),
            2 => self.polygon(
                &[
                    (x, y - r * 1.1),
                    (x + r, y + r * 0.75),
                    (x - r, y + r * 0.75),
                ],
                color,
            ),
            _ => self.polygon(
                &[(x, y - r * 1.15), (x + r, y), (x, y + r * 1.15), (x - r, y)],
                color,
            ),
        }
    }

    /// The chart's title and one line of explanation under it; returns where content starts.
    pub(crate) fn heading(
        &self,
        title: &str,
        note: &str,
    ) -> Result<f64, DrawingAreaErrorKind<DB::ErrorType>> {
        use palette::*;
        self.text(title, 16.0, 14.0, 17.0, INK, HPos::Left, VPos::Top)?;
        if note.is_empty() {
            return Ok(44.0);
        }
        self.text(note, 16.0, 38.0, 11.5, MUTED, HPos::Left, VPos::Top)?;
        Ok(62.0)
    }

    /// Legend swatches in a row from (x, y); returns the x after the last one.
    pub(crate) fn legend_row(
        &self,
        items: &[(RGBColor, &str)],
        x: f64,
        y: f64,
    ) -> Result<f64, DrawingAreaErrorKind<DB::ErrorType>> {
        let mut x = x;
        for (color, label) in items {
            self.rect(x, y - 5.0, x + 12.0, y + 5.0, *color)?;
            self.text(
                label,
                x + 16.0,
                y,
                11.5,
                palette::INK,
                HPos::Left,
                VPos::Center,
            )?;
            x += 16.0 + text_width(label, 11.5) + 18.0;
        }
        Ok(x)
    }
}

fn chart_error<E: std::fmt::Debug>(name: &str, e: E) -> ReportError {
    ReportError::Chart {
        chart: name.to_string(),
        message: format!("{e:?}"),
    }
}

/// Draws `spec` as SVG and as PNG.
pub(crate) fn render<S: ChartSpec>(spec: &S) -> Result<Chart, ReportError> {
    font::ensure_registered()?;
    let name = spec.name();
    let (w, h) = spec.size();
    let (sw, sh) = (w.ceil() as u32, h.ceil() as u32);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (sw, sh)).into_drawing_area();
        root.fill(&palette::PAPER)
            .map_err(|e| chart_error(&name, e))?;
        let pen = Pen {
            area: &root,
            k: 1.0,
            bitmap: false,
        };
        spec.draw(&pen).map_err(|e| chart_error(&name, e))?;
        root.present().map_err(|e| chart_error(&name, e))?;
    }

    let (pw, ph) = ((w * PNG_SCALE).ceil() as u32, (h * PNG_SCALE).ceil() as u32);
    let mut pixels = vec![0u8; pw as usize * ph as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (pw, ph)).into_drawing_area();
        root.fill(&palette::PAPER)
            .map_err(|e| chart_error(&name, e))?;
        let pen = Pen {
            area: &root,
            k: PNG_SCALE,
            bitmap: true,
        };
        spec.draw(&pen).map_err(|e| chart_error(&name, e))?;
        root.present().map_err(|e| chart_error(&name, e))?;
    }
    let png = encode_png(&name, &pixels, pw, ph)?;

    let missing: std::collections::BTreeSet<char> = spec
        .texts()
        .iter()
        .flat_map(|t| font::missing_chars(t))
        .collect();
    let css = font::font_face_css(&svg_text(&svg), font::Packing::TrueType)?;
    let svg_file = insert_after_svg_open(&svg, &format!("<style>{css}</style>"));
    Ok(Chart {
        name,
        svg,
        svg_file,
        png,
        missing_chars: missing.into_iter().collect(),
    })
}

fn encode_png(name: &str, pixels: &[u8], w: u32, h: u32) -> Result<Vec<u8>, ReportError> {
    let mut out = Vec::new();
    let err = |source| ReportError::Png {
        chart: name.to_string(),
        source,
    };
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Default);
        enc.set_pixel_dims(Some(png::PixelDimensions {
            xppu: PNG_PIXELS_PER_METRE,
            yppu: PNG_PIXELS_PER_METRE,
            unit: png::Unit::Meter,
        }));
        let mut writer = enc.write_header().map_err(err)?;
        writer.write_image_data(pixels).map_err(err)?;
        writer.finish().map_err(err)?;
    }
    Ok(out)
}

impl Chart {
    /// The SVG for inlining into HTML: no namespace attribute, scaled by CSS.
    pub(crate) fn svg_inline(&self) -> String {
        self.svg
            .replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
            .replacen("<svg ", "<svg role=\"img\" ", 1)
    }
}

/// The characters drawn in the SVG (text contents), for font subsetting.
fn svg_text(svg: &str) -> String {
    let mut out = String::new();
    let mut rest = svg;
    while let Some(start) = rest.find("<text") {
        rest = &rest[start..];
        let Some(open_end) = rest.find('>') else {
            break;
        };
        let Some(close) = rest.find("</text>") else {
            break;
        };
        out.push_str(&rest[open_end + 1..close]);
        rest = &rest[close..];
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

fn insert_after_svg_open(svg: &str, insert: &str) -> String {
    match svg
        .find("<svg")
        .and_then(|s| svg[s..].find('>').map(|e| s + e + 1))
    {
        Some(at) => format!("{}\n{insert}{}", &svg[..at], &svg[at..]),
        None => svg.to_string(),
    }
}
