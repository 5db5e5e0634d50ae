//! Bundled data: the sample county (`sample/`) and the
//! deterministic generator of sample, county, city and province data ([`generate()`]).
//!
//! The same seed gives byte-identical files on any number of threads: each county and each
//! part of it draws from its own random stream of the seed.
//!
//! ```no_run
//! use datasets::{GenerateOptions, Scale, generate};
//!
//! let opts = GenerateOptions::new(Scale::County, "/tmp/county".into());
//! let summary = generate(&opts, &|msg| eprintln!("{msg}"))?;
//! println!("{} bytes", summary.bytes_written);
//! # Ok::<(), datasets::GenerateError>(())
//! ```

#![warn(missing_docs)]

mod generate;

pub use generate::{
    CountySummary, CountyTables, DEFAULT_SEED, GenerateError, GenerateOptions, GenerateSummary,
    OutputFormat, Scale, Tuning, UnknownName, generate, generate_tuned, sample_dir,
    sample_identity, sample_tables,
};
