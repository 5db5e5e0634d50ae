//! End-to-end tests of the `gridassess` binary, one module per feature.

mod common;

mod atomic_load;
mod bench_smoke;
mod cli_errors;
mod cluster;
mod demo;
mod differential;
mod fixtures;
mod fuzz;
mod headers_cli;
mod history;
mod kept_results;
mod metrics_cli;
mod object_store;
mod readme;
mod reload;
mod report;
mod rules_cli;
mod sample_views;
mod server;
mod sql;
mod web;
