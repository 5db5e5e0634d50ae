//! The coverage heat table: township × organization kind, coloured by the share covered.

use plotters::prelude::DrawingBackend;
use plotters::style::RGBColor;
use plotters::style::text_anchor::{HPos, VPos};

use crate::data::percent_text;
use crate::pen::palette::*;
use crate::pen::{ChartSpec, Drawn, PAGE_WIDTH, Pen, fit, text_width};

use super::LABEL_EM;

/// One cell of the coverage heat table.
#[derive(Debug, Clone)]
pub(crate) struct CoverageCell {
    pub(crate) orgs: i64,
    pub(crate) covered: i64,
    pub(crate) standalone: i64,
}

/// Township × organization kind, coloured by the share covered by a party organization.
pub(crate) struct CoverageChart {
    pub(crate) kinds: Vec<String>,
    /// (township name, one cell per kind; `None` when it has no organizations of that kind).
    pub(crate) rows: Vec<(String, Vec<Option<CoverageCell>>)>,
}

const HEAT_ROW: f64 = 40.0;

/// A sequential blue scale (light → dark), readable in grey and by colour-blind readers.
fn blues(t: f64) -> RGBColor {
    let stops = [
        (0.0, (0xF7, 0xFB, 0xFF)),
        (0.5, (0x6B, 0xAE, 0xD6)),
        (1.0, (0x08, 0x30, 0x6B)),
    ];
    let t = t.clamp(0.0, 1.0);
    let (a, b) = if t <= 0.5 {
        (stops[0], stops[1])
    } else {
        (stops[1], stops[2])
    };
    let u = (t - a.0) / (b.0 - a.0);
    let mix = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * u).round() as u8;
    RGBColor(mix(a.1.0, b.1.0), mix(a.1.1, b.1.1), mix(a.1.2, b.1.2))
}

impl ChartSpec for CoverageChart {
    fn name(&self) -> String {
        "coverage".into()
    }
    fn title(&self) -> String {
        "两新组织党组织覆盖率（乡镇 × 组织类型）".into()
    }
    fn size(&self) -> (f64, f64) {
        (
            PAGE_WIDTH,
            62.0 + 28.0 + self.rows.len().max(1) as f64 * HEAT_ROW + 16.0,
        )
    }
    fn texts(&self) -> Vec<String> {
        let mut t = vec![self.title(), "已覆盖 单独组建 无此类组织".into()];
        t.extend(self.kinds.iter().cloned());
        t.extend(self.rows.iter().map(|r| r.0.clone()));
        t
    }
    fn draw<DB: DrawingBackend>(&self, pen: &Pen<'_, DB>) -> Drawn<DB> {
        let top = pen.heading(
            &self.title(),
            "格内大字为覆盖率（已建或已纳入党组织的组织 ÷ 组织数），小字为已覆盖/组织数与单独组建数；颜色越深覆盖越高",
        )?;
        let name_w = self
            .rows
            .iter()
            .map(|r| text_width(&r.0, LABEL_EM))
            .fold(60.0, f64::max)
            .min(PAGE_WIDTH * 0.3);
        let x0 = 16.0 + name_w + 12.0;
        let cell_w = (PAGE_WIDTH - 16.0 - x0) / self.kinds.len().max(1) as f64;
        for (j, k) in self.kinds.iter().enumerate() {
            pen.text(
                &fit(k, LABEL_EM, cell_w - 8.0),
                x0 + (j as f64 + 0.5) * cell_w,
                top + 12.0,
                LABEL_EM,
                INK,
                HPos::Center,
                VPos::Center,
            )?;
        }
        let y0 = top + 28.0;
        for (i, (name, cells)) in self.rows.iter().enumerate() {
            let y = y0 + i as f64 * HEAT_ROW;
            pen.text(
                &fit(name, LABEL_EM, name_w),
                16.0,
                y + HEAT_ROW / 2.0,
                LABEL_EM,
                INK,
                HPos::Left,
                VPos::Center,
            )?;
            for (j, cell) in cells.iter().enumerate() {
                let cx = x0 + j as f64 * cell_w;
                let (ax, ay, bx, by) = (cx + 1.5, y + 1.5, cx + cell_w - 1.5, y + HEAT_ROW - 1.5);
                match cell {
                    Some(c) if c.orgs > 0 => {
                        let rate = c.covered as f64 / c.orgs as f64;
                        let fill = blues(rate);
                        pen.rect(ax, ay, bx, by, fill)?;
                        let luminance = 0.2126 * f64::from(fill.0)
                            + 0.7152 * f64::from(fill.1)
                            + 0.0722 * f64::from(fill.2);
                        let ink = if luminance < 128.0 { PAPER } else { INK };
                        let mid = cx + cell_w / 2.0;
                        pen.text(
                            &percent_text(rate),
                            mid,
                            y + 14.0,
                            13.5,
                            ink,
                            HPos::Center,
                            VPos::Center,
                        )?;
                        let detail =
                            format!("已覆盖 {}/{}，单独组建 {}", c.covered, c.orgs, c.standalone);
                        pen.text(
                            &fit(&detail, 9.5, cell_w - 8.0),
                            mid,
                            y + 29.0,
                            9.5,
                            ink,
                            HPos::Center,
                            VPos::Center,
                        )?;
                    }
                    _ => {
                        pen.rect(ax, ay, bx, by, RGBColor(0xF2, 0xF2, 0xF2))?;
                        pen.text(
                            "无此类组织",
                            cx + cell_w / 2.0,
                            y + HEAT_ROW / 2.0,
                            10.0,
                            MUTED,
                            HPos::Center,
                            VPos::Center,
                        )?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_cells_choose_readable_ink() {
        assert_eq!(blues(0.0), RGBColor(0xF7, 0xFB, 0xFF));
        assert_eq!(blues(1.0), RGBColor(0x08, 0x30, 0x6B));
        let mid = blues(0.5);
        assert_eq!(mid, RGBColor(0x6B, 0xAE, 0xD6));
    }
}
