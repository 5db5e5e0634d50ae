use std::path::PathBuf;

use warehouse::WarehouseError;

/// Why a load could not run at all. Problems with single rows are not errors: they are
/// [`crate::Issue`]s, reported and stored with the load.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{}: cannot read the file", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: the name does not say which table it holds; name the file or sheet after one of: {tables}", .path.display())]
    UnknownTable { path: PathBuf, tables: String },
    #[error("{}: not a CSV, Excel or Parquet file", .path.display())]
    Unsupported { path: PathBuf },
    #[error("{} line {line}: the CSV cannot be read", .path.display())]
    Csv {
        path: PathBuf,
        line: u64,
        source: csv::Error,
    },
    #[error("{} line 1: the header cannot be read: bytes '{bytes}' are not valid {encoding}", .path.display())]
    UndecodableHeader {
        path: PathBuf,
        bytes: String,
        encoding: &'static str,
    },
    #[error("{}: byte {offset} is not valid {encoding}; re-save the file as CSV UTF-8", .path.display())]
    Undecodable {
        path: PathBuf,
        offset: usize,
        encoding: &'static str,
    },
    #[error("{}: not a readable Excel workbook: {message}", .path.display())]
    Workbook { path: PathBuf, message: String },
    #[error("{}: not a readable Parquet file", .path.display())]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
    #[error("{}: column '{column}' cannot be read as text", .path.display())]
    ParquetColumn {
        path: PathBuf,
        column: String,
        source: arrow::error::ArrowError,
    },
    #[error(
        "{file} line {line}: none of the headers ({headers}) is a column of {table} ({zh}); expected e.g. {expected}"
    )]
    NoKnownColumns {
        file: String,
        line: u64,
        headers: String,
        table: &'static str,
        zh: &'static str,
        expected: String,
    },
    #[error("no CSV, Excel or Parquet files found in {}", .path.display())]
    NoInputs { path: PathBuf },
    #[error("cleaning {file}: {message}")]
    Clean { file: String, message: String },
    #[error("building table {table}")]
    Arrow {
        table: &'static str,
        source: arrow::error::ArrowError,
    },
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
}
