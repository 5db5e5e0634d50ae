use std::path::PathBuf;

use arrow::error::ArrowError;
use parquet::errors::ParquetError;

use super::{OutputFormat, Scale};

/// Why a generation failed. Every variant that involves a file names it.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("cannot write {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing Parquet {}", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: ParquetError,
    },
    #[error("writing CSV {}", path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: ArrowError,
    },
    #[error("writing workbook {}", path.display())]
    Xlsx {
        path: PathBuf,
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
    /// A generated table does not fit its schema: a bug in the generator, not in the input.
    #[error("internal error building table {table}")]
    Arrow {
        table: &'static str,
        #[source]
        source: ArrowError,
    },
    #[error("{}: '{text}' has a character GBK cannot encode", path.display())]
    NotGbk { path: PathBuf, text: String },
    #[error(
        "the {scale} scale is written as Parquet only (about 150 million attendance rows would \
         not be usable as CSV); {format} was asked for — use --format parquet"
    )]
    FormatNotSupported { scale: Scale, format: OutputFormat },
    #[error(
        "{} already holds '{entry}', which this generation would not replace; files from two \
         generations would mix — choose an empty folder or remove it",
        dir.display()
    )]
    ForeignData { dir: PathBuf, entry: String },
    #[error("starting {threads} worker threads")]
    Threads {
        threads: usize,
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
}

/// A name on the command line that is not a scale or a format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{value}' (expected one of: {expected})")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}
