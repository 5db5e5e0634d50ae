use std::path::PathBuf;

use arrow::error::ArrowError;
use parquet::errors::ParquetError;

use super::{OutputFormat, Scale};

/// Why a generation failed. Every variant that involves a file names it.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A file or folder could not be created, written or read.
    #[error("cannot write {}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A Parquet file could not be written.
    #[error("writing Parquet {}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What the Parquet writer said.
        #[source]
        source: ParquetError,
    },
    /// A CSV file could not be written.
    #[error("writing CSV {}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// What the CSV writer said.
        #[source]
        source: ArrowError,
    },
    /// The sample's workbook could not be written.
    #[error("writing workbook {}", path.display())]
    Xlsx {
        /// The file.
        path: PathBuf,
        /// What the workbook writer said.
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
    /// A generated table does not fit its schema: a bug in the generator, not in the input.
    #[error("internal error building table {table}")]
    Arrow {
        /// The table being built.
        table: &'static str,
        /// What Arrow said.
        #[source]
        source: ArrowError,
    },
    /// A line of a sample file meant to be GBK-encoded has a character GBK lacks: a name
    /// list of the generator holds a character it should not.
    #[error("{}: '{text}' has a character GBK cannot encode", path.display())]
    NotGbk {
        /// The file.
        path: PathBuf,
        /// The first line GBK cannot hold.
        text: String,
    },
    /// The province is written as Parquet only.
    #[error(
        "the {scale} scale is written as Parquet only (about 150 million attendance rows would \
         not be usable as CSV); {format} was asked for — use --format parquet"
    )]
    FormatNotSupported {
        /// The scale asked for.
        scale: Scale,
        /// The format asked for, which that scale is not written in.
        format: OutputFormat,
    },
    /// The folder to write into holds data files or county folders this generation would not
    /// overwrite.
    #[error(
        "{} already holds '{entry}', which this generation would not replace; files from two \
         generations would mix — choose an empty folder or remove it",
        dir.display()
    )]
    ForeignData {
        /// The folder written into.
        dir: PathBuf,
        /// The file or folder in it from another generation.
        entry: String,
    },
    /// The worker threads could not be started.
    #[error("starting {threads} worker threads")]
    Threads {
        /// How many were asked for.
        threads: usize,
        /// What rayon said.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
}

/// A name on the command line that is not a scale or a format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{value}' (expected one of: {expected})")]
pub struct UnknownName {
    /// What was named: `scale` or `format`.
    pub what: &'static str,
    /// The name given.
    pub value: String,
    /// The names accepted, comma-separated.
    pub expected: &'static str,
}
