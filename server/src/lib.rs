//! gridassess for other programs: the users and their passwords, the PostgreSQL wire server
//! (`gridassess serve`) with its caps on connections and logins, and its audit log. Every query a client sends runs in a session the
//! engine builds for that user ([`engine::access`]), under the engine's guard.

#![warn(missing_docs)]

pub mod admission;
mod audit;
pub mod cluster;
mod message_limit;
pub mod users;
mod web;
pub mod wire;

pub use admission::{AdmissionLimits, Turned};
pub use users::{User, UserError, Users};
pub use wire::{ServeError, ServeOptions, serve};

/// Computes and keeps a county's metric results after a commit (see [`engine::results`]). A
/// failure is logged and costs nothing else: the state stays readable, its views computed on
/// read.
pub(crate) async fn keep_results(root: &std::path::Path, tenant: &str) {
    let kept = match warehouse::Warehouse::open(root) {
        Ok(warehouse) => engine::results::refresh(&warehouse, tenant)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match kept {
        Ok(r) => tracing::info!(
            target: "results",
            tenant,
            rows = r.rows,
            seconds = r.took.as_secs_f64(),
            "metric results kept"
        ),
        Err(error) => tracing::warn!(
            target: "results",
            tenant,
            error,
            "the metric results could not be kept; they are computed on read"
        ),
    }
}
