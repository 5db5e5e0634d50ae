//! `gridassess-bench`: the in-process side of `bench/run.py`.
//!
//! The CLI pays for a process, opening the warehouse and registering the views on every
//! command; a program that links the engine pays for that once. This binary measures the
//! second case, and runs single queries over the same Parquet files DuckDB and Polars read,
//! so all three engines are timed on identical input. It prints one JSON object on stdout:
//! the wall time of every run, the rows of every result and the process's peak RSS.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use clap::{Parser, Subcommand};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use engine::access::{Access, Role};
use engine::session::Session;
use serde_json::json;
use warehouse::Warehouse;

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Worker threads of the runtime and DataFusion's target partitions.
    #[arg(long, default_value_t = 2, global = true)]
    threads: usize,
    /// Timed runs (the first is not discarded: warm-up is the caller's choice).
    #[arg(long, default_value_t = 3, global = true)]
    runs: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The assessment run: open a session over the tenants as an admin, run every query of
    /// QUERIES (a JSON object name → SQL), collect each result. One run = session + queries.
    Session {
        #[arg(long)]
        warehouse: PathBuf,
        /// Comma-separated tenant ids; several give a tenant_id column.
        #[arg(long)]
        tenants: String,
        #[arg(long)]
        queries: PathBuf,
        /// Writes each result of the last run to OUT/<name>.parquet.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Runs the queries concurrently, as `gridassess report` does, instead of one by one.
        #[arg(long)]
        concurrent: bool,
        /// Each run first computes and keeps every tenant's metric results, as a load does
        /// (`engine::results::refresh`), and the queries read them. Without it the kept
        /// results are removed and every view is computed by the query that reads it.
        #[arg(long)]
        kept: bool,
    },
    /// One query over Parquet files laid out as ROOT/county=<id>/<table>.parquet; every table
    /// found there is registered with `county` as a partition column.
    Parquet {
        #[arg(long)]
        root: PathBuf,
        #[arg(long)]
        sql: String,
        /// Writes the result of the last run to this Parquet file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Runs the query on this Ballista cluster (`gridassess cluster`) instead of in
        /// this process: planned here, executed by the cluster's executors.
        #[arg(long, value_name = "df://HOST:PORT")]
        cluster: Option<engine::cluster::Scheduler>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads)
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        match &cli.command {
            Command::Session {
                warehouse,
                tenants,
                queries,
                out,
                concurrent,
                kept,
            } => {
                session_runs(
                    &cli,
                    warehouse,
                    tenants,
                    queries,
                    out.as_deref(),
                    *concurrent,
                    *kept,
                )
                .await
            }
            Command::Parquet {
                root,
                sql,
                out,
                cluster,
            } => parquet_runs(&cli, root, sql, out.as_deref(), cluster.as_ref()).await,
        }
    })?;
    let mut report = report;
    report["peak_rss_mb"] = json!(peak_rss_mb());
    println!("{report}");
    Ok(())
}

async fn session_runs(
    cli: &Cli,
    warehouse: &Path,
    tenants: &str,
    queries: &Path,
    out: Option<&Path>,
    concurrent: bool,
    kept: bool,
) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(queries)
        .with_context(|| format!("reading {}", queries.display()))?;
    let queries: BTreeMap<String, String> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON object of name → SQL", queries.display()))?;
    let warehouse = Warehouse::open(warehouse)?;
    let access = Access::new(
        tenants.split(',').map(|t| t.trim().to_string()).collect(),
        Role::Admin,
    );
    let mut times = Vec::new();
    let mut refresh_times = Vec::new();
    let mut per_query: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut rows = BTreeMap::new();
    let mut last = Vec::new();
    for _ in 0..cli.runs {
        // Every run is cold: the tables opened anew and every view computed anew.
        engine::session::forget_sessions();
        for tenant in &access.tenants {
            warehouse.tenant(tenant)?.forget_results()?;
        }
        let start = Instant::now();
        if kept {
            // The tenants at once, as `gridassess tenant refresh` of several counties runs.
            for (tenant, refreshed) in
                engine::results::refresh_many(&warehouse, &access.tenants).await
            {
                refreshed.with_context(|| format!("keeping the results of {tenant}"))?;
            }
            refresh_times.push(start.elapsed().as_secs_f64());
        }
        let session = Session::open(&warehouse, &access).await?;
        let ctx = session.context().clone();
        last.clear();
        let mut tasks = tokio::task::JoinSet::new();
        for (name, sql) in &queries {
            let (ctx, name, sql) = (ctx.clone(), name.clone(), sql.clone());
            let task = async move {
                let q = Instant::now();
                let df = ctx
                    .sql(&sql)
                    .await
                    .with_context(|| format!("planning {name}"))?;
                let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
                let batches = df
                    .collect()
                    .await
                    .with_context(|| format!("running {name}"))?;
                anyhow::Ok((name, schema, batches, q.elapsed().as_secs_f64()))
            };
            if concurrent {
                tasks.spawn(task);
            } else {
                last.push(task.await?);
            }
        }
        while let Some(done) = tasks.join_next().await {
            last.push(done??);
        }
        for (name, _, batches, seconds) in &last {
            per_query.entry(name.clone()).or_default().push(*seconds);
            rows.insert(
                name.clone(),
                batches.iter().map(|b| b.num_rows()).sum::<usize>(),
            );
        }
        times.push(start.elapsed().as_secs_f64());
    }
    if let Some(dir) = out {
        std::fs::create_dir_all(dir)?;
        for (name, schema, batches, _) in &last {
            write_parquet(&dir.join(format!("{name}.parquet")), schema, batches)?;
        }
    }
    Ok(json!({ "times": times, "refresh": refresh_times, "per_query": per_query, "rows": rows }))
}

async fn parquet_runs(
    cli: &Cli,
    root: &Path,
    sql: &str,
    out: Option<&Path>,
    cluster: Option<&engine::cluster::Scheduler>,
) -> Result<serde_json::Value> {
    let tables = parquet_tables(root)?;
    let mut times = Vec::new();
    let mut rows = 0;
    let mut last = None;
    for _ in 0..cli.runs {
        let start = Instant::now();
        let config = engine::session::config()?.with_target_partitions(cli.threads);
        let ctx = match cluster {
            Some(scheduler) => {
                let runtime = Arc::new(datafusion::execution::runtime_env::RuntimeEnv::default());
                engine::cluster::context(scheduler, engine::cluster::config(config), runtime)
                    .await?
            }
            None => SessionContext::new_with_config(config),
        };
        for table in &tables {
            let suffix = format!("/{table}.parquet");
            let options = ParquetReadOptions::default()
                .file_extension(&suffix)
                .table_partition_cols(vec![("county".to_string(), DataType::Utf8)]);
            ctx.register_parquet(table, root.to_string_lossy().as_ref(), options)
                .await?;
        }
        let df = ctx.sql(sql).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        times.push(start.elapsed().as_secs_f64());
        rows = batches.iter().map(|b| b.num_rows()).sum::<usize>();
        last = Some((schema, batches));
    }
    if let (Some(path), Some((schema, batches))) = (out, &last) {
        write_parquet(path, schema, batches)?;
    }
    Ok(json!({ "times": times, "rows": rows }))
}

/// The table names of ROOT/county=<id>/<table>.parquet, from the first county folder.
fn parquet_tables(root: &Path) -> Result<Vec<String>> {
    let first = std::fs::read_dir(root)
        .with_context(|| format!("reading {}", root.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .min()
        .with_context(|| format!("{} has no county=<id> folders", root.display()))?;
    let mut tables: Vec<String> = std::fs::read_dir(&first)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".parquet").map(str::to_string)
        })
        .collect();
    tables.sort();
    Ok(tables)
}

fn write_parquet(path: &Path, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None)?;
    for b in batches {
        writer.write(b)?;
    }
    writer.close()?;
    Ok(())
}

/// Peak resident set of this process in MB (Linux; 0 where /proc is absent).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
