//! The deterministic data generator behind `gridassess generate`.
//!
//! Four scales: the hand-laid **sample** county (the product's demo, committed under
//! `datasets/sample/`), one **county** the size of 醴陵 (24 townships, ≈1,000 branches,
//! ≈45,000 members, ≈1.5 million attendance rows), a **city** of 10 counties and a
//! **province** of 100. Every county covers the year 2024 and loads into the warehouse under
//! the default rules with no rejected row.
//!
//! The same seed gives byte-identical files, on any number of threads: each county and each
//! part of it draws from its own ChaCha8 stream of the seed, and nothing is ever produced by
//! iterating a hash map. The county list is one endless list, so the county scale is the first
//! county of a city and a city the first ten counties of a province.
//!
//! The stages: `county` lays out a county's structure (or `sample` the sample's), `plan` fills
//! in members, meetings, scores and visits, `emit` derives attendance and points while writing
//! each table to a `sink` (or, for the sample's hand-over form, `handover`).

mod county;
mod dates;
mod emit;
mod error;
mod handover;
mod names;
mod plan;
mod rng;
mod sample;
mod sink;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use arrow::array::RecordBatch;
use model::schema::{TABLES, TableDef};
use rayon::ThreadPool;

pub use error::{GenerateError, UnknownName};

use plan::{CountyId, Plan};
use sink::Sink;

/// The seed the committed sample was generated with, and the CLI's default.
pub const DEFAULT_SEED: u64 = 2024;

/// How much to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// The demo county 醴陵示范县, in the form a county hands its files over.
    Sample,
    /// One county like 醴陵.
    County,
    /// Ten counties.
    City,
    /// A hundred counties; Parquet only.
    Province,
}

impl Scale {
    /// Every scale, smallest first.
    pub const ALL: [Scale; 4] = [Scale::Sample, Scale::County, Scale::City, Scale::Province];

    /// The name the CLI takes (`--scale county`).
    pub fn name(self) -> &'static str {
        match self {
            Scale::Sample => "sample",
            Scale::County => "county",
            Scale::City => "city",
            Scale::Province => "province",
        }
    }

    /// How many counties the scale writes.
    pub fn counties(self) -> u32 {
        match self {
            Scale::Sample | Scale::County => 1,
            Scale::City => 10,
            Scale::Province => 100,
        }
    }

    /// CSV, except for the province, which is Parquet only.
    pub fn default_format(self) -> OutputFormat {
        match self {
            Scale::Province => OutputFormat::Parquet,
            _ => OutputFormat::Csv,
        }
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scale {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scale::ALL
            .into_iter()
            .find(|x| x.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownName {
                what: "scale",
                value: s.to_string(),
                expected: "sample, county, city, province",
            })
    }
}

/// How tables are written. For the sample, `Csv` means the county's own hand-over form (GBK
/// and UTF-8-with-BOM CSVs with Chinese headers and values, plus one `.xlsx` workbook), and
/// `Parquet` the same rows as typed English Parquet. For the other scales, `Csv` is UTF-8 with
/// the English headers and canonical values of SPEC §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// CSV files (for the sample: the hand-over form).
    Csv,
    /// Parquet files, typed as the warehouse stores them.
    Parquet,
}

impl OutputFormat {
    /// The name the CLI takes (`--format parquet`), also the files' extension.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Csv => "csv",
            OutputFormat::Parquet => "parquet",
        }
    }

    fn extension(self) -> &'static str {
        self.name()
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OutputFormat {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(OutputFormat::Csv),
            "parquet" => Ok(OutputFormat::Parquet),
            _ => Err(UnknownName {
                what: "format",
                value: s.to_string(),
                expected: "csv, parquet",
            }),
        }
    }
}

/// What to generate, and where.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// How much.
    pub scale: Scale,
    /// The seed of every random stream: the same seed gives the same bytes.
    pub seed: u64,
    /// The folder to write into; created when missing. It may hold other files, but not data
    /// files or county folders this run would not overwrite.
    pub out: PathBuf,
    /// How tables are written.
    pub format: OutputFormat,
}

impl GenerateOptions {
    /// The default seed and the scale's default format.
    pub fn new(scale: Scale, out: PathBuf) -> Self {
        GenerateOptions {
            scale,
            seed: DEFAULT_SEED,
            out,
            format: scale.default_format(),
        }
    }
}

/// Knobs the CLI does not offer: tests use a smaller county and a fixed thread count.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// County size in percent of a full county (townships scale with it, at least two).
    pub size_percent: u32,
    /// Worker threads; 0 picks the number of cores, at most 4.
    pub threads: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            size_percent: 100,
            threads: 0,
        }
    }
}

/// What a generation wrote.
#[derive(Debug, Clone)]
pub struct GenerateSummary {
    /// The scale generated.
    pub scale: Scale,
    /// The seed used.
    pub seed: u64,
    /// The format written.
    pub format: OutputFormat,
    /// The folder written into.
    pub out: PathBuf,
    /// In county order.
    pub counties: Vec<CountySummary>,
    /// The size of all files written.
    pub bytes_written: u64,
}

impl GenerateSummary {
    /// Rows of `table` over all counties.
    pub fn rows(&self, table: &str) -> u64 {
        self.counties
            .iter()
            .flat_map(|c| &c.rows)
            .filter(|(t, _)| *t == table)
            .map(|(_, n)| n)
            .sum()
    }
}

/// What a generation wrote for one county.
#[derive(Debug, Clone)]
pub struct CountySummary {
    /// A tenant id the county can be loaded under: `sample`, or `c001` … `c100`.
    pub tenant_id: String,
    /// The county's name, e.g. 醴陵示范县.
    pub name: String,
    /// The folder holding the county's files.
    pub dir: PathBuf,
    /// Rows per table (English table names), in `model::schema::TABLES` order.
    pub rows: Vec<(&'static str, u64)>,
    /// The size of the county's files.
    pub bytes: u64,
}

/// A county's tables in memory, canonical English values, in `model::schema::TABLES` order.
#[derive(Debug, Clone)]
pub struct CountyTables {
    /// A tenant id the county can be loaded under.
    pub tenant_id: String,
    /// The county's name.
    pub name: String,
    /// Each table with all its rows in one batch.
    pub tables: Vec<(&'static TableDef, RecordBatch)>,
}

impl CountyTables {
    /// The rows of the table named `name` (English), if the schema has it.
    pub fn table(&self, name: &str) -> Option<&RecordBatch> {
        self.tables
            .iter()
            .find(|(t, _)| t.name == name)
            .map(|(_, b)| b)
    }
}

/// The committed sample county: `datasets/sample/`, generated with [`DEFAULT_SEED`].
pub fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample")
}

/// The tenant id and name of the sample county.
pub fn sample_identity() -> (&'static str, &'static str) {
    (sample::TENANT, sample::NAME)
}

/// Generates `opts.scale` into `opts.out`, reporting progress (a line per county written, with
/// its row counts and size) through `progress`.
pub fn generate(
    opts: &GenerateOptions,
    progress: &dyn Fn(&str),
) -> Result<GenerateSummary, GenerateError> {
    generate_tuned(opts, &Tuning::default(), progress)
}

/// [`generate`] with the knobs of [`Tuning`].
pub fn generate_tuned(
    opts: &GenerateOptions,
    tuning: &Tuning,
    progress: &dyn Fn(&str),
) -> Result<GenerateSummary, GenerateError> {
    if opts.scale == Scale::Province && opts.format == OutputFormat::Csv {
        return Err(GenerateError::FormatNotSupported {
            scale: opts.scale,
            format: opts.format,
        });
    }
    let threads = worker_threads(tuning);
    let scale = f64::from(tuning.size_percent.max(1)) / 100.0;
    let out = opts.out.clone();
    mkdir(&out)?;
    let counties = match opts.scale {
        Scale::Sample => vec![write_sample(opts, progress)?],
        Scale::County => {
            let ids = county::county_ids(opts.seed, 1);
            check_foreign(&out, &expected_entries(opts.format, None))?;
            let started = Instant::now();
            // Two threads at most: the attendance table beside all the others.
            let pool = if threads > 1 {
                Some(worker_pool(threads.min(2))?)
            } else {
                None
            };
            let summary = write_county(&ids[0], opts, scale, &out, pool.as_ref())?;
            progress(&county_line(&summary, started));
            vec![summary]
        }
        Scale::City | Scale::Province => {
            let ids = county::county_ids(opts.seed, opts.scale.counties());
            let dirs: Vec<String> = ids.iter().map(|c| county_dir(&c.tenant_id)).collect();
            check_foreign(&out, &dirs.iter().cloned().collect())?;
            for d in &dirs {
                let dir = out.join(d);
                if dir.is_dir() {
                    check_foreign(&dir, &expected_entries(opts.format, None))?;
                }
            }
            let pool = worker_pool(threads.min(ids.len()).max(1))?;
            write_many(&ids, opts, scale, &pool, progress)?
        }
    };
    let bytes_written = counties.iter().map(|c| c.bytes).sum();
    Ok(GenerateSummary {
        scale: opts.scale,
        seed: opts.seed,
        format: opts.format,
        out,
        counties,
        bytes_written,
    })
}

/// The number of worker threads `tuning` asks for; 0 picks the number of cores, at most 4.
fn worker_threads(tuning: &Tuning) -> usize {
    match tuning.threads {
        // Only counted here: asking rayon for the core count would start its global pool.
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(1, 4),
        n => n,
    }
}

/// A pool of `threads` workers for this generation alone, so the thread count asked for holds
/// whatever else in the process uses rayon's global pool.
fn worker_pool(threads: usize) -> Result<ThreadPool, GenerateError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("generate-{i}"))
        .build()
        .map_err(|source| GenerateError::Threads { threads, source })
}

/// The sample county's tables in memory (canonical values), for tests and the demo.
pub fn sample_tables(seed: u64) -> Result<CountyTables, GenerateError> {
    let plan = sample::plan(seed);
    Ok(CountyTables {
        tenant_id: plan.county.tenant_id.clone(),
        name: plan.county.name.clone(),
        tables: memory_tables(&plan)?,
    })
}

/// Every table of `plan`, each in one batch.
fn memory_tables(plan: &Plan) -> Result<Vec<(&'static TableDef, RecordBatch)>, GenerateError> {
    let mut tables = Vec::new();
    for table in TABLES {
        let mut sink = Sink::Memory(Vec::new());
        emit::emit(plan, table, &mut sink)?;
        let (_, batches) = sink.finish()?;
        let batch =
            arrow::compute::concat_batches(&table.arrow_schema(), &batches).map_err(|source| {
                GenerateError::Arrow {
                    table: table.name,
                    source,
                }
            })?;
        tables.push((table, batch));
    }
    Ok(tables)
}

fn county_dir(tenant_id: &str) -> String {
    format!("county={tenant_id}")
}

fn mkdir(dir: &Path) -> Result<(), GenerateError> {
    std::fs::create_dir_all(dir).map_err(|source| GenerateError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// The file names a county folder will hold; with `handover`, the sample's hand-over files.
fn expected_entries(format: OutputFormat, handover: Option<&str>) -> BTreeSet<String> {
    let all: Vec<&'static TableDef> = TABLES.iter().collect();
    match handover {
        Some(county) => handover::file_names(county, &all).into_iter().collect(),
        None => TABLES
            .iter()
            .map(|t| format!("{}.{}", t.name, format.extension()))
            .collect(),
    }
}

/// Refuses to write into a folder holding data from another generation (other tables' files
/// in another format, other counties' folders), which a later ingest of the folder would mix
/// in. Other files, such as a README, are left alone.
fn check_foreign(dir: &Path, ours: &BTreeSet<String>) -> Result<(), GenerateError> {
    let entries = std::fs::read_dir(dir).map_err(|source| GenerateError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| GenerateError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    for name in names {
        let lower = name.to_ascii_lowercase();
        let data = [".csv", ".parquet", ".xlsx", ".xls"]
            .iter()
            .any(|e| lower.ends_with(e))
            || lower.starts_with("county=");
        if data && !ours.contains(&name) {
            return Err(GenerateError::ForeignData {
                dir: dir.to_path_buf(),
                entry: name,
            });
        }
    }
    Ok(())
}

fn write_sample(
    opts: &GenerateOptions,
    progress: &dyn Fn(&str),
) -> Result<CountySummary, GenerateError> {
    let started = Instant::now();
    let handover_form = opts.format == OutputFormat::Csv;
    let ours = expected_entries(opts.format, handover_form.then_some(sample::NAME));
    check_foreign(&opts.out, &ours)?;
    let plan = sample::plan(opts.seed);
    if !handover_form {
        let summary = write_tables(&plan, &opts.out, opts.format, None)?;
        progress(&county_line(&summary, started));
        return Ok(summary);
    }
    let tables = memory_tables(&plan)?;
    let bytes = handover::write(&opts.out, &plan.county.name, &tables)?;
    let rows: Vec<(&'static str, u64)> = tables
        .iter()
        .map(|(t, b)| (t.name, b.num_rows() as u64))
        .collect();
    let files = handover::file_names(&plan.county.name, &TABLES.iter().collect::<Vec<_>>());
    progress(&format!(
        "{} ({}): {} files, {} members, {} attendance rows, {} bytes, {:.1}s",
        plan.county.tenant_id,
        plan.county.name,
        files.len(),
        thousands(rows_of(&rows, "members")),
        thousands(rows_of(&rows, "attendance")),
        thousands(bytes),
        started.elapsed().as_secs_f64()
    ));
    Ok(CountySummary {
        tenant_id: plan.county.tenant_id.clone(),
        name: plan.county.name.clone(),
        dir: opts.out.clone(),
        rows,
        bytes,
    })
}

fn rows_of(rows: &[(&'static str, u64)], table: &str) -> u64 {
    rows.iter()
        .find(|(t, _)| *t == table)
        .map_or(0, |(_, n)| *n)
}

/// 1480212 → `1,480,212`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Builds one county's model (everything but attendance and points).
fn county_plan(id: &CountyId, seed: u64, scale: f64) -> Plan {
    let sk = county::county_structure(id, seed, scale);
    let mut p = plan::populate(id.clone(), seed, sk);
    plan::schedule(&mut p);
    plan::score(&mut p, &Default::default());
    plan::visit(&mut p);
    p
}

/// Builds and writes one county; with `pool`, the attendance table beside the others.
fn write_county(
    id: &CountyId,
    opts: &GenerateOptions,
    scale: f64,
    dir: &Path,
    pool: Option<&ThreadPool>,
) -> Result<CountySummary, GenerateError> {
    let plan = county_plan(id, opts.seed, scale);
    write_tables(&plan, dir, opts.format, pool)
}

fn write_table(
    plan: &Plan,
    table: &'static TableDef,
    dir: &Path,
    format: OutputFormat,
) -> Result<(u64, u64), GenerateError> {
    let path = dir.join(format!("{}.{}", table.name, format.extension()));
    let mut sink = match format {
        OutputFormat::Parquet => Sink::parquet(&path, table.arrow_schema())?,
        OutputFormat::Csv => Sink::csv(&path)?,
    };
    let rows = emit::emit(plan, table, &mut sink)?;
    let (bytes, _) = sink.finish()?;
    Ok((rows, bytes))
}

/// Writes every table of `plan` into `dir`. With a pool, the attendance table, about two
/// thirds of the work, is written on one worker and the other tables on another. Every table
/// is written even when one fails; the first failure in table order is returned.
fn write_tables(
    plan: &Plan,
    dir: &Path,
    format: OutputFormat,
    pool: Option<&ThreadPool>,
) -> Result<CountySummary, GenerateError> {
    mkdir(dir)?;
    let write = |table: &'static TableDef| write_table(plan, table, dir, format);
    let side = TABLES.iter().position(|t| t.name == "attendance");
    let results: Vec<Result<(u64, u64), GenerateError>> = match (pool, side) {
        (Some(pool), Some(side)) => {
            let (side_result, mut results) = pool.join(
                || write(&TABLES[side]),
                || {
                    TABLES
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != side)
                        .map(|(_, t)| write(t))
                        .collect::<Vec<_>>()
                },
            );
            results.insert(side, side_result);
            results
        }
        _ => TABLES.iter().map(write).collect(),
    };
    let mut rows = Vec::new();
    let mut bytes = 0;
    for (table, result) in TABLES.iter().zip(results) {
        let (r, b) = result?;
        rows.push((table.name, r));
        bytes += b;
    }
    Ok(CountySummary {
        tenant_id: plan.county.tenant_id.clone(),
        name: plan.county.name.clone(),
        dir: dir.to_path_buf(),
        rows,
        bytes,
    })
}

/// The progress line of a county written since `started`.
fn county_line(county: &CountySummary, started: Instant) -> String {
    let rows = &county.rows;
    format!(
        "county {} ({}): {} branches, {} members, {} attendance rows, {} points entries, {} bytes, {:.1}s",
        county.tenant_id,
        county.name,
        thousands(rows_of(rows, "branches")),
        thousands(rows_of(rows, "members")),
        thousands(rows_of(rows, "attendance")),
        thousands(rows_of(rows, "points")),
        thousands(county.bytes),
        started.elapsed().as_secs_f64()
    )
}

enum Report {
    Progress(String),
    Done(usize, Result<CountySummary, GenerateError>),
}

/// Counties on the workers of `pool`, each county start to finish on one worker, taken in
/// county order as workers come free. Progress comes back to this thread (the callback need
/// not be thread-safe); the first error, in county order, stops the workers taking new
/// counties and is returned.
fn write_many(
    ids: &[CountyId],
    opts: &GenerateOptions,
    scale: f64,
    pool: &ThreadPool,
    progress: &dyn Fn(&str),
) -> Result<Vec<CountySummary>, GenerateError> {
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<Report>();
    let mut results: Vec<Option<Result<CountySummary, GenerateError>>> =
        ids.iter().map(|_| None).collect();
    // This thread stays out of the pool: it runs the closure, the workers run the counties.
    pool.in_place_scope_fifo(|s| {
        for (i, id) in ids.iter().enumerate() {
            let tx = tx.clone();
            let stop = &stop;
            s.spawn_fifo(move |_| {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let started = Instant::now();
                let dir = opts.out.join(county_dir(&id.tenant_id));
                let result = write_county(id, opts, scale, &dir, None);
                // The receiver lives until every job is done.
                match &result {
                    Ok(county) => {
                        let _ = tx.send(Report::Progress(county_line(county, started)));
                    }
                    Err(_) => stop.store(true, Ordering::Relaxed),
                }
                let _ = tx.send(Report::Done(i, result));
            });
        }
        drop(tx);
        let total = ids.len();
        let mut done = 0;
        for report in rx {
            match report {
                Report::Progress(msg) => progress(&msg),
                Report::Done(i, result) => {
                    done += 1;
                    if result.is_ok() {
                        progress(&format!("{done}/{total} counties written"));
                    }
                    results[i] = Some(result);
                }
            }
        }
    });
    let mut out = Vec::new();
    for r in results.into_iter().flatten() {
        out.push(r?);
    }
    Ok(out)
}
