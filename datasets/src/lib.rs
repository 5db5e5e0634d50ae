//! Bundled data: the sample county (`sample/`) and the deterministic generator of sample,
//! county, city and province data ([`generate`]).

pub mod generate;

pub use generate::{
    CountySummary, CountyTables, DEFAULT_SEED, GenerateError, GenerateOptions, GenerateSummary,
    OutputFormat, Scale, Tuning, UnknownName, generate, generate_tuned, sample_dir,
    sample_identity, sample_tables,
};
