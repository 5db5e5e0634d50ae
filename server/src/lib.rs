//! gridassess for other programs: the users and their passwords, the PostgreSQL wire server
//! (`gridassess serve`) with its caps on connections and logins, and its audit log. Every query a client sends runs in a session the
//! engine builds for that user ([`engine::access`]), under the engine's guard.

#![warn(missing_docs)]

pub mod admission;
mod audit;
mod message_limit;
pub mod users;
mod web;
pub mod wire;

pub use admission::{AdmissionLimits, Turned};
pub use users::{User, UserError, Users};
pub use wire::{ServeError, ServeOptions, serve};
