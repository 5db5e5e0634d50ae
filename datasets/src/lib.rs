//! Bundled data: the golden ingest fixtures (`fixtures/`), and in time the sample county and
//! the scale generator.

use std::path::PathBuf;

/// The folder of golden ingest fixtures: `valid/<case>/` and `invalid/<case>/`, each with
/// `input/` (and for some `before/`, loaded first) and the expected reconciliation and issues.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}
