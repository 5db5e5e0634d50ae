//! The points grades per township as 100 % stacked bars.

use plotters::prelude::DrawingBackend;
use plotters::style::RGBColor;
use plotters::style::text_anchor::{HPos, VPos};

use crate::pen::palette::*;
use crate::pen::{ChartSpec, Drawn, PAGE_WIDTH, Pen, fit, text_width};

use super::{LABEL_EM, ROW, TICK_EM, ticks};

/// Members per grade in one township.
#[derive(Debug, Clone)]
pub(crate) struct GradeRow {
    pub(crate) name: String,
    /// Members in each grade, in the rules' grade order.
    pub(crate) counts: Vec<i64>,
}

/// The points grade distribution per township, as 100 % stacked bars.
pub(crate) struct PointsChart {
    pub(crate) year: i32,
    pub(crate) grades: Vec<String>,
    pub(crate) rows: Vec<GradeRow>,
}

const GRADE_COLORS: [RGBColor; 4] = [GREEN, SKY, ORANGE, VERMILLION];

impl ChartSpec for PointsChart {
    fn name(&self) -> String {
        "points_grades".into()
    }
    fn title(&self) -> String {
        format!("{}年党员积分等次分布（各乡镇）", self.year)
    }
    fn size(&self) -> (f64, f64) {
        (
            PAGE_WIDTH,
            62.0 + 28.0 + self.rows.len().max(1) as f64 * ROW + 30.0,
        )
    }
    fn texts(&self) -> Vec<String> {
        let mut t = vec![self.title(), "共 人".into()];
        t.extend(self.grades.iter().cloned());
        t.extend(self.rows.iter().map(|r| r.name.clone()));
        t
    }
    fn draw<DB: DrawingBackend>(&self, pen: &Pen<'_, DB>) -> Drawn<DB> {
        let top = pen.heading(
            &self.title(),
            "每条为该乡镇参加积分的党员（不含免于积分者）按等次的占比，格内为人数",
        )?;
        let colors: Vec<RGBColor> = (0..self.grades.len())
            .map(|i| {
                if i + 1 == self.grades.len() {
                    VERMILLION
                } else {
                    GRADE_COLORS[i.min(2)]
                }
            })
            .collect();
        let items: Vec<(RGBColor, &str)> = colors
            .iter()
            .copied()
            .zip(self.grades.iter().map(String::as_str))
            .collect();
        pen.legend_row(&items, 16.0, top + 6.0)?;
        let y0 = top + 28.0;
        let name_w = self
            .rows
            .iter()
            .map(|r| text_width(&r.name, LABEL_EM))
            .fold(40.0, f64::max)
            .min(PAGE_WIDTH * 0.3);
        let x0 = 16.0 + name_w + 10.0;
        let total_w = text_width("共 99999 人", 11.0);
        let x1 = PAGE_WIDTH - 16.0 - total_w - 8.0;
        for (i, r) in self.rows.iter().enumerate() {
            let cy = y0 + i as f64 * ROW + ROW / 2.0;
            pen.text(
                &fit(&r.name, LABEL_EM, name_w),
                16.0,
                cy,
                LABEL_EM,
                INK,
                HPos::Left,
                VPos::Center,
            )?;
            let total: i64 = r.counts.iter().sum();
            let mut x = x0;
            for (g, &n) in r.counts.iter().enumerate() {
                if total == 0 || n == 0 {
                    continue;
                }
                let w = (x1 - x0) * n as f64 / total as f64;
                let color = colors.get(g).copied().unwrap_or(MUTED);
                pen.rect(x, cy - 8.0, x + w, cy + 8.0, color)?;
                let label = n.to_string();
                if text_width(&label, 10.5) + 4.0 < w {
                    let ink = if color == VERMILLION || color == GREEN {
                        PAPER
                    } else {
                        INK
                    };
                    pen.text(
                        &label,
                        x + w / 2.0,
                        cy,
                        10.5,
                        ink,
                        HPos::Center,
                        VPos::Center,
                    )?;
                }
                x += w;
            }
            pen.text(
                &format!("共 {total} 人"),
                x1 + 8.0,
                cy,
                11.0,
                MUTED,
                HPos::Left,
                VPos::Center,
            )?;
        }
        let bottom = y0 + self.rows.len() as f64 * ROW;
        for t in ticks(0.0, 100.0, 25.0) {
            let x = x0 + (x1 - x0) * t / 100.0;
            pen.text(
                &format!("{} %", t),
                x,
                bottom + 6.0,
                TICK_EM,
                MUTED,
                HPos::Center,
                VPos::Top,
            )?;
        }
        Ok(())
    }
}
