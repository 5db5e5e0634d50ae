//! What gridassess is about, with no I/O: the tables of SPEC §2 and their columns, the domain's
//! enumerations, the assessment rules, and a tenant's query limits. Every other crate speaks
//! in these types.

#![warn(missing_docs)]

pub mod domain;
pub mod header_map;
pub mod limits;
pub mod period;
pub mod rules;
pub mod schema;

pub use header_map::{HeaderMap, HeaderMapError};
pub use limits::Limits;
pub use period::{Month, NotAPeriod, Period, PeriodKind};
pub use rules::{Cents, Rules, RulesError};
