//! What can go wrong while rendering a report, and whose fault it is.

use std::path::PathBuf;

/// A report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The engine's result lacks a column the report needs (a programming error between the
    /// CLI's queries and this crate).
    #[error("the {table} result has no column {column}")]
    MissingColumn {
        /// The view whose result it is.
        table: &'static str,
        /// The column the report reads.
        column: &'static str,
    },
    /// A column of the engine's result cannot be read as the report reads it.
    #[error("reading the {table} result")]
    Arrow {
        /// The view whose result it is.
        table: &'static str,
        /// Why not.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// The engine could not give a table the report shows.
    #[error(transparent)]
    Metrics(#[from] engine::MetricsError),
    /// plotters could not draw a chart.
    #[error("drawing the chart {chart}: {message}")]
    Chart {
        /// The chart's file stem.
        chart: String,
        /// What plotters said.
        message: String,
    },
    /// The embedded font cannot be read or subset.
    #[error("{0}")]
    Font(String),
    /// A template of `report.html` does not parse or render (a programming error in
    /// `templates/`).
    #[error("rendering the HTML template {template}")]
    Template {
        /// The template's name (`body.html`).
        template: &'static str,
        /// minijinja's error, with the line.
        #[source]
        source: minijinja::Error,
    },
    /// A file of the report cannot be written.
    #[error("writing {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// `ranking.xlsx` cannot be written.
    #[error("writing the workbook {path}")]
    Xlsx {
        /// The workbook's path.
        path: PathBuf,
        /// Why not.
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
    /// A chart's pixels cannot be encoded as PNG.
    #[error("encoding {chart} as PNG")]
    Png {
        /// The chart's file stem.
        chart: String,
        /// Why not.
        #[source]
        source: png::EncodingError,
    },
    /// A table cannot be written as CSV, JSON or a workbook for a download.
    #[error("writing the table as {format}")]
    Export {
        /// `csv`, `json` or `xlsx`.
        format: &'static str,
        /// Why not.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
