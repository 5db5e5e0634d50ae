use std::path::PathBuf;

use warehouse::WarehouseError;

/// Why a load could not run at all. Problems with single rows are not errors: they are
/// [`crate::Issue`]s, reported and stored with the load.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A file or folder that cannot be read.
    #[error("{}: cannot read the file", .path.display())]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file whose name names no table.
    #[error("{}: the name does not say which table it holds; name the file or sheet after one of: {tables}", .path.display())]
    UnknownTable {
        /// The file.
        path: PathBuf,
        /// The tables, in English and Chinese.
        tables: String,
    },
    /// A file named on the command line that is no kind ingest reads.
    #[error("{}: not a CSV, Excel or Parquet file", .path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
    },
    /// A CSV file the csv reader gives up on.
    #[error("{} line {line}: the CSV cannot be read", .path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The line where reading stopped.
        line: u64,
        /// Why.
        source: csv::Error,
    },
    /// A CSV header with bytes that are not valid in the file's encoding.
    #[error("{} line 1: the header cannot be read: bytes '{bytes}' are not valid {encoding}", .path.display())]
    UndecodableHeader {
        /// The file.
        path: PathBuf,
        /// The header, with the bad bytes as `\xNN`.
        bytes: String,
        /// The encoding detected.
        encoding: &'static str,
    },
    /// A UTF-16 file with an invalid sequence (it is converted as a whole, so it cannot be
    /// rejected row by row).
    #[error("{}: byte {offset} is not valid {encoding}; re-save the file as CSV UTF-8", .path.display())]
    Undecodable {
        /// The file.
        path: PathBuf,
        /// The byte offset of the invalid sequence.
        offset: usize,
        /// The encoding.
        encoding: &'static str,
    },
    /// A workbook calamine cannot open or read.
    #[error("{}: not a readable Excel workbook: {message}", .path.display())]
    Workbook {
        /// The workbook.
        path: PathBuf,
        /// calamine's message.
        message: String,
    },
    /// A Parquet file that cannot be read.
    #[error("{}: not a readable Parquet file", .path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// Why.
        source: parquet::errors::ParquetError,
    },
    /// A Parquet column of a type that cannot be turned into text.
    #[error("{}: column '{column}' cannot be read as text", .path.display())]
    ParquetColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// Why.
        source: arrow::error::ArrowError,
    },
    /// A Parquet column of floating-point numbers holding ids.
    #[error("{}: column '{column}' holds {table}.{target} as floating-point numbers; ids are text or whole numbers: write the column as text or as integers", .path.display())]
    FloatIdColumn {
        /// The file.
        path: PathBuf,
        /// The column as the file names it.
        column: String,
        /// The table.
        table: &'static str,
        /// The table column it holds.
        target: &'static str,
    },
    /// A header with no column of the table the file's name names.
    #[error(
        "{file} line {line}: none of the headers ({headers}) is a column of {table} ({zh}); expected e.g. {expected}"
    )]
    NoKnownColumns {
        /// The file, with the sheet for workbooks.
        file: String,
        /// The header's line.
        line: u64,
        /// The headers as written.
        headers: String,
        /// The table the file's name names.
        table: &'static str,
        /// Its Chinese name.
        zh: &'static str,
        /// A few of its columns, in English and Chinese.
        expected: String,
    },
    /// A folder named on the command line with no file ingest reads.
    #[error("no CSV, Excel or Parquet files found in {}", .path.display())]
    NoInputs {
        /// The folder.
        path: PathBuf,
    },
    /// Arrow failed while building a table's rows.
    #[error("building table {table}")]
    Arrow {
        /// The table.
        table: &'static str,
        /// Why.
        source: arrow::error::ArrowError,
    },
    /// `--replace` names no table.
    #[error("--replace {name}: not a table; name one of: {tables}")]
    UnknownSnapshotTable {
        /// The name as given.
        name: String,
        /// The tables, in English and Chinese.
        tables: String,
    },
    /// `--replace` names a table none of the load's files holds: replacing it would remove
    /// every row.
    #[error(
        "--replace {table}: none of the files of this load holds {table}; a snapshot replaces a table with the rows of its file, so give the file or leave the table out of --replace"
    )]
    SnapshotNotInLoad {
        /// The table.
        table: &'static str,
    },
    /// A snapshot load that would remove more than half of a table's rows, without
    /// `--allow-mass-removal`. Nothing was committed.
    #[error(
        "the snapshot would remove {removed} of the {committed} rows of {table}; nothing was loaded. If the files are the full, current lists, load again with --allow-mass-removal"
    )]
    MassRemoval {
        /// The table.
        table: &'static str,
        /// Rows the snapshot would remove (absent from it, or pointing at removed rows).
        removed: usize,
        /// Rows the table holds now.
        committed: usize,
    },
    /// The warehouse failed: reading the tenant, its rules or tables, or the commit.
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
}

impl IngestError {
    /// Whether the command was asked for something it cannot mean (exit status 2), rather
    /// than failing at it.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            IngestError::UnknownSnapshotTable { .. } | IngestError::SnapshotNotInLoad { .. }
        )
    }
}
