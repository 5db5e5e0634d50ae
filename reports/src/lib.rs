//! gridassess reports: what the bimonthly review meeting looks at.
//!
//! From the record batches the engine's metric views return ([`ReportInput`]), [`Report::build`]
//! draws the charts (PNG for Word documents, SVG for screens, both with Chinese labels from an
//! embedded font), and [`Report::write`] writes them with `report.html` — one self-contained
//! file that opens offline and prints on A4 — and `ranking.xlsx`, ready to print for the wall.
//! It runs no SQL of its own: [`gather`] asks the engine's metrics API for every table.

mod assemble;
mod charts;
pub mod data;
mod error;
pub mod font;
mod gather;
mod html;
pub mod pen;
pub mod present;
mod tables;
mod xlsx;

use std::path::{Path, PathBuf};

pub use data::{ReportInput, Scope, Thresholds};
pub use error::ReportError;
pub use gather::gather;
pub use pen::Chart;

/// The headline numbers at the top of the report.
#[derive(Debug, Clone, Default)]
pub struct KeyFigures {
    /// (township, branch) of every flag holder in scope (a year counts each flag once).
    pub flag_holders: Vec<(String, String)>,
    pub rewards_yuan: f64,
    /// (township, branch, step) of every penalty in scope.
    pub penalties: Vec<(String, String, String)>,
    /// The county's attendance rate over the scope's months.
    pub attendance_rate: Option<f64>,
    pub orgs: i64,
    pub covered: i64,
    pub standalone: i64,
}

/// A report ready to write.
pub struct Report {
    pub input: ReportInput,
    pub figures: KeyFigures,
    pub charts: Vec<Chart>,
}

/// What [`Report::write`] wrote.
#[derive(Debug, Clone)]
pub struct Written {
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
    pub fn html(&self) -> Result<String, ReportError> {
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
