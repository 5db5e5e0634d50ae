//! gridassess ingest: a county's files → validated Arrow → the tenant's warehouse.
//!
//! The stages, in order:
//! 1. [`source`] reads CSV (UTF-8, BOM, GBK/GB18030), Excel workbooks and Parquet into raw
//!    text cells, each with its file and line;
//! 2. [`clean`] trims and normalizes the cells and parses types with Polars;
//! 3. [`validate`] checks cells, rows, keys, the grid and references;
//! 4. [`load`] merges the accepted rows by primary key and commits them with the
//!    reconciliation and every issue, atomically.
//!
//! It is not a query engine: reading the warehouse back is `engine`'s job.

pub mod clean;
pub mod decode;
pub mod error;
pub mod issue;
pub mod load;
pub mod reason;
pub mod source;
pub mod validate;
pub mod values;

pub use error::IngestError;
pub use issue::{Issue, Severity};
pub use reason::Reason;
pub use load::{LoadReport, TableCount, load, load_issues};
