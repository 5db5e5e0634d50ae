//! gridassess ingest: a county's files → validated Arrow → the tenant's warehouse.
//!
//! The stages, in order:
//! 1. `source` reads CSV (UTF-8, BOM, GBK/GB18030, UTF-16), Excel workbooks and Parquet into
//!    raw text cells, each with its file and line (`decode` decides a CSV's encoding);
//! 2. `clean` keeps free text as written and trims and folds the other cells;
//! 3. `validate` checks cells, rows, keys, the grid and references;
//! 4. [`load`] merges the accepted rows by primary key and commits them with the
//!    reconciliation and every issue, atomically; [`LoadOptions`] can make the load a snapshot of
//!    some tables, removing the committed rows their files no longer list (`snapshot`).
//!
//! Every row read is loaded or rejected: a rejected row, and a value that is not stored, is an
//! [`Issue`] with its file, line, column, value and [`Reason`]; so is every committed row a
//! snapshot removes. [`history`] lists the committed loads whose states stay readable.
//!
//! It is not a query engine: reading the warehouse back is `engine`'s job.
#![warn(missing_docs)]

mod clean;
mod decode;
mod error;
mod headers;
mod issue;
mod keys;
mod load;
mod reason;
mod snapshot;
mod source;
mod validate;
mod values;

pub use error::IngestError;
pub use issue::{Issue, Severity};
pub use load::{
    FileRead, LoadOptions, LoadReport, LoadState, Progress, TableCount, history, load, load_issues,
};
pub use reason::{Cause, Choices, Reason, Rejection};
pub use source::Skipped;
pub use values::DecimalError;
