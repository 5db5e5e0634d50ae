//! Bundled data: the golden ingest fixtures (`fixtures/`), the sample county (`sample/`), and
//! the deterministic generator of sample, county, city and province data ([`generate`]).

use std::path::PathBuf;

pub mod generate;

pub use generate::{
    CountySummary, CountyTables, DEFAULT_SEED, GenerateError, GenerateOptions, GenerateSummary,
    OutputFormat, Scale, Tuning, UnknownName, generate, generate_tuned, sample_dir,
    sample_identity, sample_tables,
};

/// The folder of golden ingest fixtures: `valid/<case>/` and `invalid/<case>/`, each with
/// `input/` (and for some `before/`, loaded first) and the expected reconciliation and issues.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}
