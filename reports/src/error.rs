//! What can go wrong while rendering a report, and whose fault it is.

use std::path::PathBuf;

/// A report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The engine's result lacks a column the report needs (a programming error between the
    /// CLI's queries and this crate).
    #[error("the {table} result has no column {column}")]
    MissingColumn {
        table: &'static str,
        column: &'static str,
    },
    #[error("reading the {table} result")]
    Arrow {
        table: &'static str,
        #[source]
        source: arrow::error::ArrowError,
    },
    /// The engine could not give a table the report shows.
    #[error(transparent)]
    Metrics(#[from] engine::MetricsError),
    #[error("drawing the chart {chart}: {message}")]
    Chart { chart: String, message: String },
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
    #[error("writing {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing the workbook {path}")]
    Xlsx {
        path: PathBuf,
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
    #[error("encoding {chart} as PNG")]
    Png {
        chart: String,
        #[source]
        source: png::EncodingError,
    },
}
