//! The gridassess engine: DataFusion sessions over a tenant's committed tables, the metric
//! views (SQL generated from the tenant's rules), who sees what (roles and masking), and the
//! guard every ad-hoc query passes.
//!
//! It reads the warehouse ([`warehouse`]) and knows nothing of spreadsheets, passwords or wire
//! protocols: `ingest` writes the warehouse, `server` serves what the engine answers.

#![warn(missing_docs)]

pub mod access;
mod bounded_functions;
pub mod cluster;
mod constant_filters;
pub mod error;
pub mod guard;
mod lazy_schema;
pub mod metrics;
pub mod results;
pub mod session;
mod stoppable;
pub mod views;

pub use error::{QueryError, Refusal};
pub use metrics::{Metric, Metrics, MetricsError, Table};
pub use session::Session;
