//! Integration tests of the generator: the committed sample, determinism, the integrity of
//! every scale's output, and loading the output through the real ingest.

// clippy.toml allows unwrap in #[test] functions; the helpers these tests share panic the
// same way on purpose, since a panic is how a test fails.
#![allow(clippy::unwrap_used)]

mod common;
mod ingest_load;
mod sample_cases;
mod sample_files;
mod scales;
