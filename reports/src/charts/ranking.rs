//! The red-flag ranking of one township: a bar per branch, flag holder and penalized branches
//! marked, the reward and penalty lines drawn across.

use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::{HPos, VPos};

use crate::data::{Thresholds, score_text};
use crate::pen::palette::*;
use crate::pen::{ChartSpec, Drawn, PAGE_WIDTH, Pen, fit, text_width};

use super::{LABEL_EM, ROW, TICK_EM, ticks};

/// One branch's bar in a ranking.
#[derive(Debug, Clone)]
pub(crate) struct RankedBar {
    pub(crate) rank: i64,
    pub(crate) name: String,
    pub(crate) value: f64,
    pub(crate) flag: bool,
    /// Penalized (last place below the line), with the step (表态发言 …).
    pub(crate) penalty: Option<String>,
    /// What the bar's label adds after the value (`流动红旗 ¥600`, `获旗 2 次`).
    pub(crate) note: String,
}

/// Red-flag ranking bars for one township: the flag holder and penalized branches marked,
/// reward and penalty lines drawn.
pub(crate) struct RankingChart {
    pub(crate) stem: String,
    pub(crate) group_name: String,
    pub(crate) scope_label: String,
    /// "总分" for a period, "平均分" for a year.
    pub(crate) measure: String,
    /// A year's summary (bars are mean totals; marks mean "at least once") rather than a period.
    pub(crate) whole_year: bool,
    pub(crate) bars: Vec<RankedBar>,
    pub(crate) thresholds: Thresholds,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::testing::{texts, thresholds};
    use crate::pen::render;

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
        let png = png::Decoder::new(std::io::Cursor::new(&c.png))
            .read_info()
            .unwrap();
        assert_eq!(
            (png.info().width, png.info().height),
            (1600, (chart.size().1 * 2.0).ceil() as u32)
        );
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
    }
}
