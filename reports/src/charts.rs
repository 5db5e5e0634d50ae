//! The report's charts. Each is a [`ChartSpec`]: data in, layout in logical pixels, drawing.
//! Long names never overlap: rows are as tall as the text, label columns are as wide as the
//! widest label, and anything that still does not fit is cut with an ellipsis.

use plotters::prelude::DrawingBackend;
use plotters::style::RGBColor;
use plotters::style::text_anchor::{HPos, VPos};

use crate::data::{Thresholds, percent_text, score_text};
use crate::pen::palette::*;
use crate::pen::{ChartSpec, Drawn, PAGE_WIDTH, Pen, fit, text_width};

const LABEL_EM: f64 = 12.0;
const TICK_EM: f64 = 10.5;
const ROW: f64 = 24.0;

/// One branch's bar in a ranking.
#[derive(Debug, Clone)]
pub struct RankedBar {
    pub rank: i64,
    pub name: String,
    pub value: f64,
    pub flag: bool,
    /// Penalized (last place below the line), with the step (表态发言 …).
    pub penalty: Option<String>,
    /// What the bar's label adds after the value (`流动红旗 ¥600`, `获旗 2 次`).
    pub note: String,
}

/// Red-flag ranking bars for one township: the flag holder and penalized branches marked,
/// reward and penalty lines drawn.
pub struct RankingChart {
    pub stem: String,
    pub group_name: String,
    pub scope_label: String,
    /// "总分" for a period, "平均分" for a year.
    pub measure: String,
    /// A year's summary (bars are mean totals; marks mean "at least once") rather than a period.
    pub whole_year: bool,
    pub bars: Vec<RankedBar>,
    pub thresholds: Thresholds,
}

/// The reference lines with their captions, highest first.
fn threshold_lines(t: &Thresholds) -> Vec<(f64, String)> {
    let mut values: Vec<f64> = t.reward_min.clone();
    values.push(t.penalty_below);
    values.sort_by(|a, b| b.total_cmp(a));
    values.dedup();
    values
        .into_iter()
        .map(|v| {
            let mut what = Vec::new();
            if t.reward_min.contains(&v) {
                what.push("奖励");
            }
            if v == t.penalty_below {
                what.push("处罚");
            }
            (v, format!("{}分{}线", score_text(v), what.join("/")))
        })
        .collect()
}

fn ticks(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut v = (lo / step).ceil() * step;
    while v <= hi + 1e-9 {
        out.push(v);
        v += step;
    }
    out
}

impl ChartSpec for RankingChart {
    fn name(&self) -> String {
        self.stem.clone()
    }
    fn title(&self) -> String {
        format!("{}流动红旗排名  {}", self.group_name, self.scope_label)
    }
    fn size(&self) -> (f64, f64) {
        (
            PAGE_WIDTH,
            62.0 + 30.0 + 22.0 + self.bars.len().max(1) as f64 * ROW + 34.0,
        )
    }
    fn texts(&self) -> Vec<String> {
        let mut t = vec![self.title(), self.measure.clone()];
        for b in &self.bars {
            t.push(b.name.clone());
            t.push(b.note.clone());
        }
        t.extend(
            threshold_lines(&self.thresholds)
                .into_iter()
                .map(|(_, s)| s),
        );
        t
    }
    fn draw<DB: DrawingBackend>(&self, pen: &Pen<'_, DB>) -> Drawn<DB> {
        let top = pen.heading(
            &self.title(),
            &if self.whole_year {
                format!(
                    "{}，满分 {}；红色为本年获过流动红旗，黑色为本年因排名末位且低于 {} 分受过处理",
                    self.measure,
                    score_text(self.thresholds.max_total),
                    score_text(self.thresholds.penalty_below)
                )
            } else {
                format!(
                    "{}，满分 {}；红色为流动红旗，黑色为排名末位且低于 {} 分（按规定处理）",
                    self.measure,
                    score_text(self.thresholds.max_total),
                    score_text(self.thresholds.penalty_below)
                )
            },
        )?;
        let (flag_label, penalty_label) = if self.whole_year {
            ("获过流动红旗", "受过处理")
        } else {
            ("流动红旗", "末位且低于处罚线")
        };
        pen.legend_row(
            &[
                (VERMILLION, flag_label),
                (INK, penalty_label),
                (BLUE, "其他参评党组织"),
            ],
            16.0,
            top + 6.0,
        )?;
        let plot_top = top + 30.0 + 22.0;
        let rank_w = text_width("99", LABEL_EM) + 8.0;
        let name_w = self
            .bars
            .iter()
            .map(|b| text_width(&b.name, LABEL_EM))
            .fold(0.0, f64::max)
            .min(PAGE_WIDTH * 0.3);
        let x0 = 16.0 + rank_w + name_w + 10.0;
        let note_w = self
            .bars
            .iter()
            .map(|b| text_width(&format!("{} {}", score_text(b.value), b.note), 11.0))
            .fold(0.0, f64::max)
            .min(PAGE_WIDTH * 0.3);
        let x1 = PAGE_WIDTH - 16.0 - note_w - 8.0;
        let max = self.thresholds.max_total.max(1.0);
        let sx = |v: f64| x0 + (x1 - x0) * (v / max).clamp(0.0, 1.0);
        let plot_bottom = plot_top + self.bars.len().max(1) as f64 * ROW;

        for t in ticks(0.0, max, if max > 50.0 { 20.0 } else { 10.0 }) {
            pen.line(&[(sx(t), plot_top), (sx(t), plot_bottom)], GRID, 1.0)?;
            pen.text(
                &score_text(t),
                sx(t),
                plot_bottom + 6.0,
                TICK_EM,
                MUTED,
                HPos::Center,
                VPos::Top,
            )?;
        }
        pen.line(&[(x0, plot_top), (x0, plot_bottom)], RULE, 1.0)?;

        let mut labels = Vec::new();
        for (i, b) in self.bars.iter().enumerate() {
            let cy = plot_top + i as f64 * ROW + ROW / 2.0;
            let (color, note_color) = if b.flag {
                (VERMILLION, VERMILLION)
            } else if b.penalty.is_some() {
                (INK, INK)
            } else {
                (BLUE, MUTED)
            };
            pen.text(
                &b.rank.to_string(),
                16.0 + rank_w - 8.0,
                cy,
                LABEL_EM,
                MUTED,
                HPos::Right,
                VPos::Center,
            )?;
            pen.text(
                &fit(&b.name, LABEL_EM, name_w),
                16.0 + rank_w,
                cy,
                LABEL_EM,
                INK,
                HPos::Left,
                VPos::Center,
            )?;
            pen.rect(x0, cy - 7.0, sx(b.value).max(x0 + 1.0), cy + 7.0, color)?;
            labels.push((
                format!("{} {}", score_text(b.value), b.note),
                sx(b.value) + 5.0,
                cy,
                note_color,
            ));
        }

        // Reference lines over the bars, captions staggered so neighbours never collide.
        for (i, (v, caption)) in threshold_lines(&self.thresholds).iter().enumerate() {
            let x = sx(*v);
            pen.dashed(&[(x, plot_top - 4.0), (x, plot_bottom)], MUTED, 1.2)?;
            let (h, dx) = if i % 2 == 0 {
                (HPos::Left, 3.0)
            } else {
                (HPos::Right, -3.0)
            };
            let y = plot_top - 8.0 - (i / 2) as f64 * 13.0;
            pen.text(caption, x + dx, y, 10.5, MUTED, h, VPos::Bottom)?;
        }
        // Value labels last, on paper, so no reference line runs through them.
        for (label, x, y, color) in labels {
            pen.label(label.trim_end(), x, y, 11.0, color, HPos::Left)?;
        }
        Ok(())
    }
}

/// One branch's totals over the year's periods.
#[derive(Debug, Clone)]
pub struct BranchSeries {
    pub name: String,
    /// Per period of the year (in order): the total, whether it held the flag, whether it was
    /// penalized; `None` when it did not take part.
    pub points: Vec<Option<(f64, bool, bool)>>,
}

/// Small multiples: every branch of a township, its total in each period of the year.
pub struct BranchTotalsChart {
    pub stem: String,
    pub group_name: String,
    pub year: i32,
    pub periods: Vec<String>,
    pub branches: Vec<BranchSeries>,
    pub thresholds: Thresholds,
}

const PANELS_PER_ROW: usize = 4;
const PANEL_H: f64 = 118.0;

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

/// One line of the attendance trend: a rate per month 1–12 (`None` without meetings).
#[derive(Debug, Clone)]
pub struct RateSeries {
    pub name: String,
    pub rates: [Option<f64>; 12],
}

/// The colour and marker of the i-th line: colours cycle, and within each colour the marker
/// changes, so up to 28 lines differ by colour or marker (and never by colour alone in the
/// first seven, which also differ by marker).
fn series_style(i: usize) -> (RGBColor, usize) {
    let (colour, cycle) = (i % SERIES.len(), i / SERIES.len());
    (SERIES[colour], (colour + cycle) % 4)
}

/// Monthly attendance rates of the county (bold) and each township.
pub struct AttendanceChart {
    pub year: i32,
    pub county: RateSeries,
    pub townships: Vec<RateSeries>,
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

/// One cell of the coverage heat table.
#[derive(Debug, Clone)]
pub struct CoverageCell {
    pub orgs: i64,
    pub covered: i64,
    pub standalone: i64,
}

/// Township × organization kind, coloured by the share covered by a party organization.
pub struct CoverageChart {
    pub kinds: Vec<String>,
    /// (township name, one cell per kind; `None` when it has no organizations of that kind).
    pub rows: Vec<(String, Vec<Option<CoverageCell>>)>,
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

/// Members per grade in one township.
#[derive(Debug, Clone)]
pub struct GradeRow {
    pub name: String,
    /// Members in each grade, in the rules' grade order.
    pub counts: Vec<i64>,
}

/// The points grade distribution per township, as 100 % stacked bars.
pub struct PointsChart {
    pub year: i32,
    pub grades: Vec<String>,
    pub rows: Vec<GradeRow>,
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

/// One township's grid visits.
#[derive(Debug, Clone)]
pub struct VisitRow {
    pub name: String,
    pub raised: i64,
    pub resolved: i64,
    pub visits: i64,
}

/// Grid visit resolution rates per township, with the county's rate as a line.
pub struct VisitsChart {
    pub rows: Vec<VisitRow>,
}

impl ChartSpec for VisitsChart {
    fn name(&self) -> String {
        "visit_resolution".into()
    }
    fn title(&self) -> String {
        "网格走访问题办结率（各乡镇，累计）".into()
    }
    fn size(&self) -> (f64, f64) {
        (
            PAGE_WIDTH,
            62.0 + 20.0 + self.rows.len().max(1) as f64 * ROW + 30.0,
        )
    }
    fn texts(&self) -> Vec<String> {
        let mut t = vec![self.title(), "全县 办结 件 次走访".into()];
        t.extend(self.rows.iter().map(|r| r.name.clone()));
        t
    }
    fn draw<DB: DrawingBackend>(&self, pen: &Pen<'_, DB>) -> Drawn<DB> {
        let top = pen.heading(
            &self.title(),
            "办结率 = 已办结问题 ÷ 走访收集的问题；虚线为全县办结率；没有收集到问题的乡镇不画条",
        )?;
        let y0 = top + 20.0;
        let name_w = self
            .rows
            .iter()
            .map(|r| text_width(&r.name, LABEL_EM))
            .fold(40.0, f64::max)
            .min(PAGE_WIDTH * 0.3);
        let x0 = 16.0 + name_w + 10.0;
        let note_w = text_width("100.0%（办结 9999/9999 件，9999 次走访）", 11.0);
        let x1 = PAGE_WIDTH - 16.0 - note_w - 8.0;
        let sx = |r: f64| x0 + (x1 - x0) * r.clamp(0.0, 1.0);
        let bottom = y0 + self.rows.len().max(1) as f64 * ROW;
        for t in ticks(0.0, 100.0, 20.0) {
            pen.line(&[(sx(t / 100.0), y0), (sx(t / 100.0), bottom)], GRID, 1.0)?;
            pen.text(
                &format!("{} %", t),
                sx(t / 100.0),
                bottom + 6.0,
                TICK_EM,
                MUTED,
                HPos::Center,
                VPos::Top,
            )?;
        }
        let mut labels = Vec::new();
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
            if r.raised == 0 {
                pen.text(
                    &format!("未收集到问题（{} 次走访）", r.visits),
                    x0 + 4.0,
                    cy,
                    11.0,
                    MUTED,
                    HPos::Left,
                    VPos::Center,
                )?;
                continue;
            }
            let rate = r.resolved as f64 / r.raised as f64;
            pen.rect(x0, cy - 7.0, sx(rate).max(x0 + 1.0), cy + 7.0, BLUE)?;
            let label = format!(
                "{}（办结 {}/{} 件，{} 次走访）",
                percent_text(rate),
                r.resolved,
                r.raised,
                r.visits
            );
            labels.push((label, sx(rate) + 5.0, cy));
        }
        let (raised, resolved): (i64, i64) = self
            .rows
            .iter()
            .fold((0, 0), |a, r| (a.0 + r.raised, a.1 + r.resolved));
        if raised > 0 {
            let x = sx(resolved as f64 / raised as f64);
            pen.dashed(&[(x, y0 - 4.0), (x, bottom)], INK, 1.2)?;
            pen.text(
                &format!("全县 {}", percent_text(resolved as f64 / raised as f64)),
                x,
                y0 - 6.0,
                10.5,
                INK,
                HPos::Center,
                VPos::Bottom,
            )?;
        }
        // Labels last, on paper, so the county line never runs through them.
        for (label, x, y) in labels {
            pen.label(&label, x, y, 11.0, INK, HPos::Left)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pen::render;

    fn thresholds() -> Thresholds {
        Thresholds {
            reward_min: vec![95.0, 85.0],
            penalty_below: 85.0,
            max_total: 100.0,
            grades: vec![
                "优秀".into(),
                "合格".into(),
                "基本合格".into(),
                "不合格".into(),
            ],
        }
    }

    /// (x, y, font size, anchor, text) of every SVG text element.
    fn texts(svg: &str) -> Vec<(f64, f64, f64, String, String)> {
        let mut out = Vec::new();
        for part in svg.split("<text ").skip(1) {
            let (tag, rest) = part.split_once('>').unwrap();
            let attr = |n: &str| {
                tag.split(&format!("{n}=\""))
                    .nth(1)
                    .and_then(|v| v.split('"').next())
                    .unwrap_or_default()
                    .to_string()
            };
            let num = |n: &str| attr(n).parse::<f64>().unwrap_or(0.0);
            let text = rest.split("</text>").next().unwrap().trim().to_string();
            out.push((
                num("x"),
                num("y"),
                num("font-size"),
                attr("text-anchor"),
                text,
            ));
        }
        out
    }

    #[test]
    fn twenty_five_villages_with_long_names_keep_to_their_rows_and_columns() {
        let very_long = "某某县某某镇某某某某某某村党总支部委员会第一党支部";
        let bars: Vec<RankedBar> = (0..25)
            .map(|i| RankedBar {
                rank: i + 1,
                name: match i {
                    0 => "古楼坪村党支部".to_string(),
                    1 => very_long.to_string(),
                    _ => format!("第{i}村党支部"),
                },
                value: 99.5 - i as f64,
                flag: i == 0,
                penalty: (i == 24).then(|| "表态发言".to_string()),
                note: match i {
                    0 => "★流动红旗 奖¥600".into(),
                    24 => "末位，表态发言".into(),
                    _ => String::new(),
                },
            })
            .collect();
        let chart = RankingChart {
            stem: "ranking_x".into(),
            group_name: "古楼坪镇".into(),
            scope_label: "2024年第3期（5—6月）".into(),
            measure: "总分".into(),
            whole_year: false,
            bars,
            thresholds: thresholds(),
        };
        let c = render(&chart).unwrap();
        assert!(c.missing_chars.is_empty());
        let svg_texts = texts(&c.svg);
        let bar_x = c
            .svg
            .split("<rect ")
            .filter(|r| r.contains("height=\"14\""))
            .filter_map(|r| {
                r.split("x=\"")
                    .nth(1)?
                    .split('"')
                    .next()?
                    .parse::<f64>()
                    .ok()
            })
            .fold(f64::MAX, f64::min);
        let names: Vec<_> = svg_texts
            .iter()
            .filter(|t| t.2 == 12.0 && t.3 == "start" && t.4.contains("党"))
            .collect();
        assert_eq!(names.len(), 25, "{names:?}");
        assert!(names.iter().any(|t| t.4 == "古楼坪村党支部"));
        // The very long name is cut with an ellipsis rather than running into the bars.
        assert!(
            names
                .iter()
                .any(|t| t.4.ends_with('…') && very_long.starts_with(t.4.trim_end_matches('…')))
        );
        for w in names.windows(2) {
            assert!(
                w[1].1 - w[0].1 >= 20.0,
                "rows overlap: {:?} {:?}",
                w[0],
                w[1]
            );
        }
        for t in &names {
            assert!(
                t.0 + text_width(&t.4, 12.0) <= bar_x,
                "{} runs into the bars",
                t.4
            );
        }
        // Every value label ends inside the page.
        for t in svg_texts.iter().filter(|t| t.2 == 11.0) {
            assert!(
                t.0 + text_width(&t.4, 11.0) <= PAGE_WIDTH,
                "{} leaves the page",
                t.4
            );
        }
        assert_eq!(c.png_size, (1600, (chart.size().1 * 2.0).ceil() as u32));
    }

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

    #[test]
    fn coverage_cells_choose_readable_ink() {
        assert_eq!(blues(0.0), RGBColor(0xF7, 0xFB, 0xFF));
        assert_eq!(blues(1.0), RGBColor(0x08, 0x30, 0x6B));
        let mid = blues(0.5);
        assert_eq!(mid, RGBColor(0x6B, 0xAE, 0xD6));
    }

    #[test]
    fn reference_lines_name_what_they_mean() {
        let lines = threshold_lines(&thresholds());
        assert_eq!(
            lines,
            vec![
                (95.0, "95分奖励线".to_string()),
                (85.0, "85分奖励/处罚线".to_string())
            ]
        );
        assert_eq!(period_short("2024-B3"), "3期");
        assert_eq!(period_short("2024-M05"), "5月");
    }
}
