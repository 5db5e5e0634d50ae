//! gridassess reports: what the bimonthly review meeting looks at.
//!
//! From the record batches the engine's metric views return ([`ReportInput`]), [`Report::build`]
//! draws the charts (PNG for Word documents, SVG for screens, both with Chinese labels from an
//! embedded font), and [`Report::write`] writes them with `report.html` — one self-contained
//! file that opens offline and prints on A4 — and `ranking.xlsx`, ready to print for the wall.
//! It runs no SQL of its own: [`gather`] asks the engine's metrics API for every table.
//!
//! ```no_run
//! # async fn run(metrics: &engine::Metrics) -> Result<(), Box<dyn std::error::Error>> {
//! use reports::{Report, Scope, gather};
//! let scope = Scope::Period("2024-B3".parse()?);
//! let input = gather(metrics, "liling", "醴陵市", scope, "2024-07-01 09:30".into()).await?;
//! let written = Report::build(input)?.write("report".as_ref())?;
//! println!("{} files written", written.files.len());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod assemble;
mod charts;
mod data;
mod error;
pub mod export;
mod font;
mod gather;
mod html;
mod pen;
pub mod present;
mod tables;
mod xlsx;

use std::path::{Path, PathBuf};

pub use data::{ReportInput, Scope};
pub use error::ReportError;
pub use gather::gather;
pub use pen::Chart;

/// The embedded Chinese font (Noto Sans CJK SC cut to the GBK character set, OFL), as a
/// TrueType file: what the web console serves to a machine that has no Chinese font of its
/// own, so every page reads the same offline.
pub fn embedded_font() -> &'static [u8] {
    font::FONT_BYTES
}

/// The headline numbers at the top of the report.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyFigures {
    /// (township, branch) of every flag holder in scope (a year counts each flag once).
    pub(crate) flag_holders: Vec<(String, String)>,
    pub(crate) rewards_yuan: f64,
    /// (township, branch, step) of every penalty in scope.
    pub(crate) penalties: Vec<(String, String, String)>,
    /// The county's attendance rate over the scope's months.
    pub(crate) attendance_rate: Option<f64>,
    /// The county's organizations (两新组织), those covered by a party organization, and those
    /// with one of their own.
    pub(crate) orgs: i64,
    pub(crate) covered: i64,
    pub(crate) standalone: i64,
}

/// A report ready to write.
pub struct Report {
    pub(crate) input: ReportInput,
    pub(crate) figures: KeyFigures,
    /// Every chart, in the order the report shows them.
    pub charts: Vec<Chart>,
}

/// What [`Report::write`] wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// Every file written, charts first.
    pub files: Vec<PathBuf>,
    /// Characters in the data the embedded font lacks (shown as boxes in the PNGs).
    pub missing_chars: String,
}

impl Report {
    /// Draws every chart and works out the key figures.
    pub fn build(input: ReportInput) -> Result<Report, ReportError> {
        let figures = assemble::key_figures(&input)?;
        let charts = assemble::charts(&input)?;
        Ok(Report {
            input,
            figures,
            charts,
        })
    }

    /// The self-contained HTML report.
    pub(crate) fn html(&self) -> Result<String, ReportError> {
        html::render(self)
    }

    /// Writes `charts/*.png`, `charts/*.svg`, `report.html` and `ranking.xlsx` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<Written, ReportError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ReportError::Io { path, source }
        };
        let charts_dir = dir.join("charts");
        std::fs::create_dir_all(&charts_dir).map_err(io(&charts_dir))?;
        let mut files = Vec::new();
        for c in &self.charts {
            let png = charts_dir.join(format!("{}.png", c.name));
            std::fs::write(&png, &c.png).map_err(io(&png))?;
            let svg = charts_dir.join(format!("{}.svg", c.name));
            std::fs::write(&svg, &c.svg_file).map_err(io(&svg))?;
            files.extend([png, svg]);
        }
        let html = dir.join("report.html");
        std::fs::write(&html, self.html()?).map_err(io(&html))?;
        files.push(html);
        let workbook = dir.join("ranking.xlsx");
        xlsx::write(self, &workbook)?;
        files.push(workbook);
        let mut missing: Vec<char> = self
            .charts
            .iter()
            .flat_map(|c| c.missing_chars.chars())
            .collect();
        missing.sort_unstable();
        missing.dedup();
        Ok(Written {
            files,
            missing_chars: missing.into_iter().collect(),
        })
    }
}
