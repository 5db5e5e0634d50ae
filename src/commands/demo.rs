//! `generate` and `demo`: the built-in sample county and the scale generator.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use datasets::{GenerateOptions, OutputFormat, Scale};
use model::Period;
use warehouse::Warehouse;

use super::{loads, metrics};
use crate::output::{Format, Output};
use crate::{AssessWhat, AttendanceWhat};

pub fn generate(scale: &str, seed: Option<u64>, out: &Path, format: Option<&str>) -> Result<()> {
    let scale: Scale = scale.parse()?;
    let mut opts = GenerateOptions::new(scale, out.to_path_buf());
    if let Some(seed) = seed {
        opts.seed = seed;
    }
    if let Some(f) = format {
        opts.format = f.parse::<OutputFormat>()?;
    }
    let started = std::time::Instant::now();
    let summary = datasets::generate(&opts, &|msg: &str| eprintln!("{msg}"))?;
    for c in &summary.counties {
        let rows: u64 = c.rows.iter().map(|(_, n)| n).sum();
        println!(
            "{}\t{}\t{} rows\t{}",
            c.tenant_id,
            c.name,
            rows,
            c.dir.display()
        );
    }
    eprintln!(
        "generated {} ({} counties, seed {}, {}) in {:.1} s: {:.1} MB, {} attendance rows",
        scale,
        summary.counties.len(),
        summary.seed,
        summary.format,
        started.elapsed().as_secs_f64(),
        summary.bytes_written as f64 / 1e6,
        summary.rows("attendance")
    );
    Ok(())
}

/// The sample county end to end: a fresh warehouse in OUT/warehouse, the load with its
/// reconciliation, the newest period's ranking, the metrics written to OUT, and the report in
/// OUT/report.
pub async fn demo(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let wh = out.join("warehouse");
    if wh.exists() {
        // Only ever remove a warehouse this command made.
        if Warehouse::open(&wh).is_err() {
            bail!(
                "{} exists and is not a warehouse; choose another --out",
                wh.display()
            );
        }
        std::fs::remove_dir_all(&wh).with_context(|| format!("cannot remove {}", wh.display()))?;
    }
    let (tenant, name) = datasets::sample_identity();
    // The sample's files as the county hands them over, written by the generator (the same
    // bytes as `datasets/sample/`): the demo of an installed or copied binary needs no source
    // tree, and the user sees the files the load reads.
    let sample = out.join("sample");
    datasets::generate(
        &GenerateOptions::new(Scale::Sample, sample.clone()),
        &|_| {},
    )
    .with_context(|| format!("cannot write the sample county to {}", sample.display()))?;
    let warehouse = Warehouse::init(&wh)?;
    warehouse.add_tenant(tenant, name).await?;
    println!(
        "== 1. 导入示例县数据 (load the sample county {name}, files in {}) ==",
        sample.display()
    );
    loads::ingest(
        &wh,
        tenant,
        &[sample],
        &ingest::LoadOptions::default(),
        Format::Table,
    )
    .await?;

    let period = latest_period(&wh, tenant).await?;
    println!("\n== 2. {period} 流动红旗排名 (the newest period's ranking) ==");
    let table = Output {
        format: Format::Table,
        file: None,
    };
    metrics::assess(&wh, tenant, AssessWhat::Period(period), None, None, &table).await?;

    println!("\n== 3. 指标文件 (metrics written to {}) ==", out.display());
    let file = |name: &str| -> PathBuf { out.join(name) };
    let outputs: Vec<(PathBuf, Format)> = vec![
        (file("ranking.csv"), Format::Csv),
        (file("ranking.xlsx"), Format::Xlsx),
        (file("ranking_year.csv"), Format::Csv),
        (file("coverage.csv"), Format::Csv),
        (file("coverage_findings.csv"), Format::Csv),
        (file("attendance_townships.csv"), Format::Csv),
        (file("meeting_compliance.csv"), Format::Csv),
        (file("attendance_alerts.csv"), Format::Csv),
        (file("points.csv"), Format::Csv),
        (file("grid_visits.csv"), Format::Csv),
    ];
    let year = period.year();
    // The township outputs follow the rules' ranking groups; visits are counted where they
    // happen, at SPEC's default level.
    let township = metrics::open(&wh, tenant, None, None).await?.group_level();
    for (path, format) in &outputs {
        let o = Output {
            format: *format,
            file: Some(path),
        };
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        match name {
            "ranking.csv" | "ranking.xlsx" => {
                metrics::assess(&wh, tenant, AssessWhat::Period(period), None, None, &o).await?
            }
            "ranking_year.csv" => {
                metrics::assess(&wh, tenant, AssessWhat::Year(year), None, None, &o).await?
            }
            "coverage.csv" => metrics::coverage(&wh, tenant, township, false, None, &o).await?,
            "coverage_findings.csv" => {
                metrics::coverage(&wh, tenant, township, true, None, &o).await?
            }
            "attendance_townships.csv" => {
                metrics::attendance(
                    &wh,
                    tenant,
                    Some(township),
                    Some(year),
                    AttendanceWhat::Rates,
                    None,
                    &o,
                )
                .await?
            }
            "meeting_compliance.csv" => {
                metrics::attendance(
                    &wh,
                    tenant,
                    None,
                    Some(year),
                    AttendanceWhat::Compliance,
                    None,
                    &o,
                )
                .await?
            }
            "attendance_alerts.csv" => {
                metrics::attendance(
                    &wh,
                    tenant,
                    None,
                    Some(year),
                    AttendanceWhat::Alerts,
                    None,
                    &o,
                )
                .await?
            }
            "points.csv" => metrics::points(&wh, tenant, year, None, &o).await?,
            _ => metrics::grid(&wh, tenant, crate::GRID_LEVEL, None, &o).await?,
        }
        println!("  {}", path.display());
    }
    let report_dir = out.join("report");
    println!(
        "\n== 4. 考核报告 (charts, report.html and the print-ready ranking.xlsx in {}) ==",
        report_dir.display()
    );
    super::report::report(
        &wh,
        tenant,
        reports::Scope::Period(period),
        None,
        &report_dir,
    )
    .await?;
    println!(
        "\nOpen {} in a browser (it works offline), or print it.",
        report_dir.join("report.html").display()
    );
    println!(
        "\nExplore further: gridassess --warehouse {} sql --tenant {tenant} \"select * from red_flag_year\"",
        wh.display()
    );
    Ok(())
}

async fn latest_period(wh: &Path, tenant: &str) -> Result<Period> {
    let metrics = metrics::open(wh, tenant, None, None).await?;
    let periods = metrics.periods().await?;
    periods
        .last()
        .copied()
        .context("the sample has no scores to rank")
}
