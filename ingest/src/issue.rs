//! What ingest reports about a row: a rejection (the row is not loaded), a warning (the row
//! is loaded, the value at fault is stored as null) or, in a snapshot load, a removal (a
//! committed row is taken out of the warehouse).

use std::fmt;

use crate::reason::Reason;

/// Whether the row of an [`Issue`] is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The row is not loaded.
    Rejected,
    /// The row is loaded; the value at fault is not stored (or its column's default is).
    Warning,
    /// A committed row removed by a snapshot load; the issue names its key.
    Removed,
}

impl Severity {
    /// The word stored in the `_issues` table: `rejected` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Rejected => "rejected",
            Severity::Warning => "warning",
            Severity::Removed => "removed",
        }
    }
}

/// One finding about one row (or, with no line, about a file's header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The table the file holds.
    pub table: &'static str,
    /// The file as the user named it, with the sheet for workbooks; for a removed row, the
    /// snapshot file(s) it is absent from.
    pub file: String,
    /// The line (CSV), sheet row (Excel) or row number (Parquet); none for a removed row,
    /// which is in the warehouse rather than in a file.
    pub line: Option<u64>,
    /// The column at fault: a table column, the key's columns, or a header as written.
    pub column: Option<String>,
    /// The value at fault, as read.
    pub value: Option<String>,
    /// Why.
    pub reason: Reason,
    /// Whether the row is loaded, or removed.
    pub severity: Severity,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column {column}")?;
        }
        if let Some(value) = &self.value {
            write!(f, ", value '{value}'")?;
        }
        write!(f, ": {} ({})", self.reason, self.severity.as_str())
    }
}
