//! The report's charts, one file each. Each is a [`ChartSpec`]: data in, layout in logical
//! pixels, drawing. Long names never overlap: rows are as tall as the text, label columns are as
//! wide as the widest label, and anything that still does not fit is cut with an ellipsis.
//!
//! [`ChartSpec`]: crate::pen::ChartSpec

mod attendance;
mod coverage;
mod points;
mod ranking;
mod totals;
mod visits;

pub(crate) use attendance::{AttendanceChart, RateSeries};
pub(crate) use coverage::{CoverageCell, CoverageChart};
pub(crate) use points::{GradeRow, PointsChart};
pub(crate) use ranking::{RankedBar, RankingChart};
pub(crate) use totals::{BranchSeries, BranchTotalsChart};
pub(crate) use visits::{VisitRow, VisitsChart};

/// Label text (names in front of rows, column heads), in pixels per em.
const LABEL_EM: f64 = 12.0;
/// Axis tick labels, in pixels per em.
const TICK_EM: f64 = 10.5;
/// The height of one bar row: a label line with air above and below.
const ROW: f64 = 24.0;

/// Small multiples (branch totals, attendance of many townships): panels per row and the height
/// of one panel.
const PANELS_PER_ROW: usize = 4;
const PANEL_H: f64 = 118.0;

/// Axis ticks: multiples of `step` from `lo` to `hi`.
fn ticks(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut v = (lo / step).ceil() * step;
    while v <= hi + 1e-9 {
        out.push(v);
        v += step;
    }
    out
}

/// What the charts' tests share: the usual rules' thresholds and the text elements of an SVG.
#[cfg(test)]
mod testing {
    use crate::data::Thresholds;

    pub(super) fn thresholds() -> Thresholds {
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
    pub(super) fn texts(svg: &str) -> Vec<(f64, f64, f64, String, String)> {
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
}
