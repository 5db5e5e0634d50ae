//! Grid visit resolution per township, with the county's rate as a line.

use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::{HPos, VPos};

use crate::data::percent_text;
use crate::pen::palette::*;
use crate::pen::{ChartSpec, Drawn, PAGE_WIDTH, Pen, fit, text_width};

use super::{LABEL_EM, ROW, TICK_EM, ticks};

/// One township's grid visits.
#[derive(Debug, Clone)]
pub(crate) struct VisitRow {
    pub(crate) name: String,
    pub(crate) raised: i64,
    pub(crate) resolved: i64,
    pub(crate) visits: i64,
}

/// Grid visit resolution rates per township, with the county's rate as a line.
pub(crate) struct VisitsChart {
    pub(crate) rows: Vec<VisitRow>,
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
