//! Each branch's totals over the year: small multiples, one panel per branch of a township.

use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::{HPos, VPos};

use crate::data::{Thresholds, score_text};
use crate::pen::palette::*;
use crate::pen::{ChartSpec, Drawn, PAGE_WIDTH, Pen, fit};

use super::{PANEL_H, PANELS_PER_ROW};

/// One branch's totals over the year's periods.
#[derive(Debug, Clone)]
pub(crate) struct BranchSeries {
    pub(crate) name: String,
    /// Per period of the year (in order): the total, whether it held the flag, whether it was
    /// penalized; `None` when it did not take part.
    pub(crate) points: Vec<Option<(f64, bool, bool)>>,
}

/// Small multiples: every branch of a township, its total in each period of the year.
pub(crate) struct BranchTotalsChart {
    pub(crate) stem: String,
    pub(crate) group_name: String,
    pub(crate) year: i32,
    pub(crate) periods: Vec<String>,
    pub(crate) branches: Vec<BranchSeries>,
    pub(crate) thresholds: Thresholds,
}

impl BranchTotalsChart {
    fn y_range(&self) -> (f64, f64) {
        let lowest = self
            .branches
            .iter()
            .flat_map(|b| b.points.iter().flatten().map(|p| p.0))
            .fold(self.thresholds.penalty_below - 5.0, f64::min);
        (
            ((lowest - 1.0) / 10.0).floor() * 10.0,
            self.thresholds.max_total,
        )
    }
}

impl ChartSpec for BranchTotalsChart {
    fn name(&self) -> String {
        self.stem.clone()
    }
    fn title(&self) -> String {
        format!("{} 各党组织{}年各期总分", self.group_name, self.year)
    }
    fn size(&self) -> (f64, f64) {
        let rows = self.branches.len().div_ceil(PANELS_PER_ROW).max(1);
        (PAGE_WIDTH, 62.0 + 26.0 + rows as f64 * PANEL_H + 8.0)
    }
    fn texts(&self) -> Vec<String> {
        let mut t = vec![self.title()];
        t.extend(self.branches.iter().map(|b| b.name.clone()));
        t.extend(self.periods.iter().map(|p| period_short(p)));
        t
    }
    fn draw<DB: DrawingBackend>(&self, pen: &Pen<'_, DB>) -> Drawn<DB> {
        let (lo, hi) = self.y_range();
        let top = pen.heading(
            &self.title(),
            &format!(
                "纵轴 {}—{} 分；虚线为 {} 分处罚线；红点为获流动红旗的一期，黑方块为受处理的一期",
                score_text(lo),
                score_text(hi),
                score_text(self.thresholds.penalty_below)
            ),
        )?;
        pen.legend_row(
            &[
                (VERMILLION, "获流动红旗"),
                (INK, "受处理"),
                (BLUE, "其他各期"),
            ],
            16.0,
            top + 6.0,
        )?;
        let grid_top = top + 26.0;
        let panel_w = (PAGE_WIDTH - 32.0) / PANELS_PER_ROW as f64;
        let n = self.periods.len().max(1);
        for (i, b) in self.branches.iter().enumerate() {
            let px = 16.0 + (i % PANELS_PER_ROW) as f64 * panel_w;
            let py = grid_top + (i / PANELS_PER_ROW) as f64 * PANEL_H;
            let (x0, x1) = (px + 26.0, px + panel_w - 10.0);
            let (y0, y1) = (py + 24.0, py + PANEL_H - 22.0);
            pen.text(
                &fit(&b.name, 11.5, panel_w - 12.0),
                px + 4.0,
                py + 6.0,
                11.5,
                INK,
                HPos::Left,
                VPos::Top,
            )?;
            let sy = |v: f64| y1 - (y1 - y0) * ((v - lo) / (hi - lo).max(1.0)).clamp(0.0, 1.0);
            let sx = |j: usize| {
                if n == 1 {
                    (x0 + x1) / 2.0
                } else {
                    x0 + (x1 - x0) * j as f64 / (n - 1) as f64
                }
            };
            pen.outline(x0, y0, x1, y1, GRID, 1.0)?;
            for v in [lo, self.thresholds.penalty_below, hi] {
                pen.text(
                    &score_text(v),
                    x0 - 3.0,
                    sy(v),
                    9.5,
                    MUTED,
                    HPos::Right,
                    VPos::Center,
                )?;
            }
            pen.dashed(
                &[
                    (x0, sy(self.thresholds.penalty_below)),
                    (x1, sy(self.thresholds.penalty_below)),
                ],
                MUTED,
                1.0,
            )?;
            for (j, p) in self.periods.iter().enumerate() {
                pen.text(
                    &period_short(p),
                    sx(j),
                    y1 + 4.0,
                    9.5,
                    MUTED,
                    HPos::Center,
                    VPos::Top,
                )?;
            }
            // The line breaks where the branch did not take part.
            let mut run: Vec<(f64, f64)> = Vec::new();
            for (j, p) in b.points.iter().enumerate() {
                match p {
                    Some((v, _, _)) => run.push((sx(j), sy(*v))),
                    None => {
                        if run.len() > 1 {
                            pen.line(&run, BLUE, 1.5)?;
                        }
                        run.clear();
                    }
                }
            }
            if run.len() > 1 {
                pen.line(&run, BLUE, 1.5)?;
            }
            for (j, p) in b.points.iter().enumerate() {
                if let Some((v, flag, penalty)) = p {
                    let (x, y) = (sx(j), sy(*v));
                    if *flag {
                        pen.dot(x, y, 4.0, VERMILLION)?;
                    } else if *penalty {
                        pen.rect(x - 3.5, y - 3.5, x + 3.5, y + 3.5, INK)?;
                    } else {
                        pen.dot(x, y, 2.5, BLUE)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// `2024-B3` → `3期`, `2024-Q2` → `2季`, `2024-M05` → `5月`, `2024-H1` → `上半年`.
fn period_short(p: &str) -> String {
    let n: u32 = p.get(6..).and_then(|n| n.parse().ok()).unwrap_or(0);
    match p.get(5..6) {
        Some("B") => format!("{n}期"),
        Some("Q") => format!("{n}季"),
        Some("M") => format!("{n}月"),
        Some("H") if n == 1 => "上半年".into(),
        Some("H") => "下半年".into(),
        _ => p.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_axis_labels_are_short() {
        assert_eq!(period_short("2024-B3"), "3期");
        assert_eq!(period_short("2024-M05"), "5月");
    }
}
