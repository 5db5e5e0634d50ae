//! The gridassess engine: the tenant warehouse (Delta tables committed atomically per tenant),
//! the assessment rules, the table definitions of SPEC §2, and DataFusion sessions over a
//! tenant's tables.
//!
//! It knows nothing of spreadsheets: `ingest` turns county files into validated Arrow batches
//! and commits them through [`warehouse::Tenant::commit`].

pub mod access;
pub mod guard;
pub mod rules;
pub mod schema;
pub mod server;
pub mod session;
pub mod users;
pub mod views;
pub mod warehouse;

pub use rules::Rules;
pub use warehouse::{Manifest, Tenant, Warehouse, WarehouseError};
