//! Monthly attendance rates: the county and up to seven townships as lines on one chart, more
//! townships as a panel each.

use plotters::prelude::DrawingBackend;
use plotters::style::RGBColor;
use plotters::style::text_anchor::{HPos, VPos};

use crate::data::score_text;
use crate::pen::palette::*;
use crate::pen::{ChartSpec, Drawn, PAGE_WIDTH, Pen, fit, text_width};

use super::{PANEL_H, PANELS_PER_ROW, TICK_EM, ticks};

/// One line of the attendance trend: a rate per month 1–12 (`None` without meetings).
#[derive(Debug, Clone)]
pub(crate) struct RateSeries {
    pub(crate) name: String,
    pub(crate) rates: [Option<f64>; 12],
}

/// The colour and marker of the i-th line: colours cycle, and within each colour the marker
/// changes, so up to 28 lines differ by colour or marker (and never by colour alone in the
/// first seven, which also differ by marker).
fn series_style(i: usize) -> (RGBColor, usize) {
    let (colour, cycle) = (i % SERIES.len(), i / SERIES.len());
    (SERIES[colour], (colour + cycle) % 4)
}

/// Monthly attendance rates of the county (bold) and each township.
pub(crate) struct AttendanceChart {
    pub(crate) year: i32,
    pub(crate) county: RateSeries,
    pub(crate) townships: Vec<RateSeries>,
}

impl AttendanceChart {
    fn y_range(&self) -> (f64, f64) {
        let lowest = std::iter::once(&self.county)
            .chain(&self.townships)
            .flat_map(|s| s.rates.iter().flatten())
            .fold(1.0f64, |a, &b| a.min(b));
        (((lowest * 100.0 - 1.0) / 5.0).floor() * 5.0, 100.0)
    }
}

/// More lines than this on one chart cannot be told apart; each township then gets a panel.
const MAX_LINES: usize = 7;

/// Draws `rates` as a line broken where a month has no value, with a marker on every value.
fn rate_line<DB: DrawingBackend>(
    pen: &Pen<'_, DB>,
    rates: &[Option<f64>; 12],
    at: impl Fn(usize, f64) -> (f64, f64),
    color: RGBColor,
    width: f64,
    marker: Option<(usize, f64)>,
) -> Drawn<DB> {
    let mut run: Vec<(f64, f64)> = Vec::new();
    for (m, r) in rates.iter().enumerate() {
        match r {
            Some(r) => run.push(at(m, *r)),
            None => {
                if run.len() > 1 {
                    pen.line(&run, color, width)?;
                }
                run.clear();
            }
        }
    }
    if run.len() > 1 {
        pen.line(&run, color, width)?;
    }
    if let Some((shape, size)) = marker {
        for (m, r) in rates.iter().enumerate() {
            if let Some(r) = r {
                let (x, y) = at(m, *r);
                pen.marker(shape, x, y, size, color)?;
            }
        }
    }
    Ok(())
}

impl AttendanceChart {
    fn small_multiples(&self) -> bool {
        self.townships.len() > MAX_LINES
    }

    /// One panel per township: its line in blue over the county's in grey.
    fn draw_panels<DB: DrawingBackend>(&self, pen: &Pen<'_, DB>) -> Drawn<DB> {
        let (lo, hi) = self.y_range();
        let top = pen.heading(
            &self.title(),
            &format!(
                "出勤率 = 实到（含线上）人次 ÷ 应到人次；每格一个乡镇（蓝），灰线为全县；纵轴 {}—{} %",
                score_text(lo),
                score_text(hi)
            ),
        )?;
        pen.legend_row(&[(BLUE, "本乡镇"), (RULE, "全县")], 16.0, top + 6.0)?;
        let grid_top = top + 26.0;
        let panel_w = (PAGE_WIDTH - 32.0) / PANELS_PER_ROW as f64;
        for (i, s) in self.townships.iter().enumerate() {
            let px = 16.0 + (i % PANELS_PER_ROW) as f64 * panel_w;
            let py = grid_top + (i / PANELS_PER_ROW) as f64 * PANEL_H;
            let (x0, x1) = (px + 30.0, px + panel_w - 10.0);
            let (y0, y1) = (py + 24.0, py + PANEL_H - 22.0);
            pen.text(
                &fit(&s.name, 11.5, panel_w - 12.0),
                px + 4.0,
                py + 6.0,
                11.5,
                INK,
                HPos::Left,
                VPos::Top,
            )?;
            let at = |m: usize, r: f64| {
                (
                    x0 + (x1 - x0) * m as f64 / 11.0,
                    y1 - (y1 - y0) * ((r * 100.0 - lo) / (hi - lo).max(1.0)).clamp(0.0, 1.0),
                )
            };
            pen.outline(x0, y0, x1, y1, GRID, 1.0)?;
            for v in [lo, hi] {
                pen.text(
                    &format!("{} %", score_text(v)),
                    x0 - 3.0,
                    at(0, v / 100.0).1,
                    9.5,
                    MUTED,
                    HPos::Right,
                    VPos::Center,
                )?;
            }
            for m in [0usize, 5, 11] {
                pen.text(
                    &format!("{}月", m + 1),
                    at(m, lo / 100.0).0,
                    y1 + 4.0,
                    9.5,
                    MUTED,
                    HPos::Center,
                    VPos::Top,
                )?;
            }
            rate_line(pen, &self.county.rates, at, RULE, 1.5, None)?;
            rate_line(pen, &s.rates, at, BLUE, 1.6, Some((0, 2.2)))?;
        }
        Ok(())
    }
}

impl ChartSpec for AttendanceChart {
    fn name(&self) -> String {
        "attendance_trend".into()
    }
    fn title(&self) -> String {
        format!("{}年各月出勤率（全县与各乡镇）", self.year)
    }
    fn size(&self) -> (f64, f64) {
        if self.small_multiples() {
            let rows = self.townships.len().div_ceil(PANELS_PER_ROW);
            return (PAGE_WIDTH, 62.0 + 26.0 + rows as f64 * PANEL_H + 8.0);
        }
        let legend = (self.townships.len() + 1) as f64 * 20.0 + 20.0;
        (PAGE_WIDTH, 62.0 + legend.max(300.0) + 40.0)
    }
    fn texts(&self) -> Vec<String> {
        let mut t = vec![self.title(), self.county.name.clone()];
        t.extend(self.townships.iter().map(|s| s.name.clone()));
        t
    }
    fn draw<DB: DrawingBackend>(&self, pen: &Pen<'_, DB>) -> Drawn<DB> {
        if self.small_multiples() {
            return self.draw_panels(pen);
        }
        let (lo, hi) = self.y_range();
        let top = pen.heading(
            &self.title(),
            "出勤率 = 实到（含线上）人次 ÷ 应到人次；粗黑线为全县；没有开会的月份不画点",
        )?;
        let legend_w = std::iter::once(&self.county)
            .chain(&self.townships)
            .map(|s| text_width(&s.name, 11.5))
            .fold(0.0, f64::max)
            .min(200.0)
            + 34.0;
        let (x0, x1) = (60.0, PAGE_WIDTH - 16.0 - legend_w - 12.0);
        let (_, h) = self.size();
        let (y0, y1) = (top + 8.0, h - 36.0);
        let sx = |m: usize| x0 + (x1 - x0) * m as f64 / 11.0;
        let sy = |r: f64| y1 - (y1 - y0) * ((r * 100.0 - lo) / (hi - lo).max(1.0)).clamp(0.0, 1.0);
        let step = if hi - lo > 30.0 { 10.0 } else { 5.0 };
        for t in ticks(lo, hi, step) {
            pen.line(&[(x0, sy(t / 100.0)), (x1, sy(t / 100.0))], GRID, 1.0)?;
            pen.text(
                &format!("{} %", score_text(t)),
                x0 - 6.0,
                sy(t / 100.0),
                TICK_EM,
                MUTED,
                HPos::Right,
                VPos::Center,
            )?;
        }
        for m in 0..12 {
            pen.text(
                &format!("{}月", m + 1),
                sx(m),
                y1 + 6.0,
                TICK_EM,
                MUTED,
                HPos::Center,
                VPos::Top,
            )?;
        }
        pen.line(&[(x0, y1), (x1, y1)], RULE, 1.0)?;

        let draw_series =
            |s: &RateSeries, color: RGBColor, width: f64, shape: usize| -> Drawn<DB> {
                let mut run: Vec<(f64, f64)> = Vec::new();
                for (m, r) in s.rates.iter().enumerate() {
                    match r {
                        Some(r) => run.push((sx(m), sy(*r))),
                        None => {
                            if run.len() > 1 {
                                pen.line(&run, color, width)?;
                            }
                            run.clear();
                        }
                    }
                }
                if run.len() > 1 {
                    pen.line(&run, color, width)?;
                }
                for (m, r) in s.rates.iter().enumerate() {
                    if let Some(r) = r {
                        pen.marker(shape, sx(m), sy(*r), width + 1.5, color)?;
                    }
                }
                Ok(())
            };
        let lx = PAGE_WIDTH - 16.0 - legend_w;
        let mut ly = y0 + 6.0;
        for (i, s) in self.townships.iter().enumerate() {
            let (color, shape) = series_style(i);
            draw_series(s, color, 1.6, shape)?;
            pen.line(&[(lx, ly), (lx + 22.0, ly)], color, 1.6)?;
            pen.marker(shape, lx + 11.0, ly, 3.1, color)?;
            pen.text(
                &fit(&s.name, 11.5, legend_w - 30.0),
                lx + 28.0,
                ly,
                11.5,
                INK,
                HPos::Left,
                VPos::Center,
            )?;
            ly += 20.0;
        }
        draw_series(&self.county, INK, 3.0, 0)?;
        pen.line(&[(lx, ly), (lx + 22.0, ly)], INK, 3.0)?;
        pen.text(
            &self.county.name,
            lx + 28.0,
            ly,
            11.5,
            INK,
            HPos::Left,
            VPos::Center,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::testing::texts;
    use crate::pen::render;

    fn rates(k: usize) -> [Option<f64>; 12] {
        let mut r = [None; 12];
        for (m, v) in r.iter_mut().enumerate() {
            *v = Some(0.7 + ((m + k) % 7) as f64 * 0.04);
        }
        r
    }

    fn attendance(townships: usize) -> AttendanceChart {
        AttendanceChart {
            year: 2024,
            county: RateSeries {
                name: "全县".into(),
                rates: rates(0),
            },
            townships: (0..townships)
                .map(|i| RateSeries {
                    name: format!("第{i}镇"),
                    rates: rates(i),
                })
                .collect(),
        }
    }

    #[test]
    fn up_to_seven_townships_share_one_chart_with_a_legend_row_each() {
        let chart = attendance(7);
        let c = render(&chart).unwrap();
        let legend: Vec<_> = texts(&c.svg)
            .into_iter()
            .filter(|t| t.4.starts_with('第') || t.4 == "全县")
            .collect();
        assert_eq!(legend.len(), 8);
        for w in legend.windows(2) {
            assert!(w[1].1 - w[0].1 >= 18.0, "legend rows overlap");
        }
        assert!(
            legend.last().unwrap().1 < chart.size().1,
            "legend leaves the chart"
        );
        // Colour and marker together tell up to 28 lines apart.
        let styles: std::collections::BTreeSet<_> = (0..28)
            .map(|i| {
                let (c, m) = series_style(i);
                (c.0, c.1, c.2, m)
            })
            .collect();
        assert_eq!(styles.len(), 28);
    }

    #[test]
    fn more_townships_get_a_panel_each_instead_of_a_tangle_of_lines() {
        let chart = attendance(15);
        let c = render(&chart).unwrap();
        let names: Vec<_> = texts(&c.svg)
            .into_iter()
            .filter(|t| t.4.starts_with('第'))
            .collect();
        assert_eq!(names.len(), 15);
        // Four panels a row, each name in its own panel.
        let rows: std::collections::BTreeSet<i64> = names.iter().map(|t| t.1 as i64).collect();
        assert_eq!(rows.len(), 4);
        let (_, h) = chart.size();
        assert!(names.iter().all(|t| t.1 + PANEL_H <= h + 8.0));
    }
}
