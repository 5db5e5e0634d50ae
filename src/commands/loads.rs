use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use warehouse::Warehouse;
use warehouse::issues_schema;

use crate::output::{Format, write_batches};

/// How many issues `ingest` shows after the reconciliation; the rest are one command away.
const SHOWN_ISSUES: usize = 20;

pub async fn ingest(
    wh: &Path,
    tenant_id: &str,
    paths: &[PathBuf],
    options: &ingest::LoadOptions,
    format: Format,
) -> Result<()> {
    let warehouse = Warehouse::open(wh)?;
    let tenant = warehouse.tenant(tenant_id)?;
    let progress = |msg: &str| eprintln!("{msg}");
    // The county's own headers, as set with `gridassess headers set`.
    let options = ingest::LoadOptions {
        headers: tenant.header_map()?.map(|(_, map)| map).unwrap_or_default(),
        ..options.clone()
    };
    let report = ingest::load(&tenant, paths, &options, &progress).await?;
    for s in &report.skipped {
        eprintln!("skipped {}: {}", s.path, s.reason);
    }
    // The new state's results, so every command after the load reads instead of computing.
    super::keep_results(&warehouse, tenant_id).await;
    let schema = Arc::new(Schema::new(vec![
        Field::new("table", DataType::Utf8, false),
        Field::new("read", DataType::Int64, false),
        Field::new("loaded", DataType::Int64, false),
        Field::new("rejected", DataType::Int64, false),
        Field::new("warnings", DataType::Int64, false),
        Field::new("removed", DataType::Int64, false),
    ]));
    let t = &report.tables;
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(t.iter().map(|c| c.table))),
            Arc::new(Int64Array::from_iter_values(
                t.iter().map(|c| c.read as i64),
            )),
            Arc::new(Int64Array::from_iter_values(
                t.iter().map(|c| c.loaded as i64),
            )),
            Arc::new(Int64Array::from_iter_values(
                t.iter().map(|c| c.rejected as i64),
            )),
            Arc::new(Int64Array::from_iter_values(
                t.iter().map(|c| c.warnings as i64),
            )),
            Arc::new(Int64Array::from_iter_values(
                t.iter().map(|c| c.removed as i64),
            )),
        ],
    )?;
    let mut out = std::io::stdout().lock();
    let labels: &[&str] = &[
        "表 table",
        "读取 read",
        "入库 loaded",
        "拒绝 rejected",
        "警告 warnings",
        "删除 removed",
    ];
    write_batches(&mut out, format, &schema, &[batch], Some(labels))?;
    if format == Format::Table {
        use std::io::Write;
        let (read, loaded, rejected): (usize, usize, usize) = t.iter().fold((0, 0, 0), |a, c| {
            (a.0 + c.read, a.1 + c.loaded, a.2 + c.rejected)
        });
        writeln!(
            out,
            "load {}: {read} rows read = {loaded} loaded + {rejected} rejected (rules version {})",
            report.load_id, report.rules_version
        )?;
        let removed: usize = t.iter().map(|c| c.removed).sum();
        if removed > 0 {
            writeln!(
                out,
                "{removed} committed rows removed: not in the full lists of --replace, or pointing at rows that are not"
            )?;
        }
        if report.unchanged() {
            writeln!(
                out,
                "unchanged: no table changed, the warehouse already held these rows (no new table version was written)"
            )?;
        }
        for issue in report.issues.iter().take(SHOWN_ISSUES) {
            writeln!(out, "  {issue}")?;
        }
        if report.issues.len() > SHOWN_ISSUES {
            writeln!(
                out,
                "  … and {} more: gridassess rejections --tenant {tenant_id} --load {}",
                report.issues.len() - SHOWN_ISSUES,
                report.load_id
            )?;
        }
    }
    Ok(())
}

pub async fn rejections(
    wh: &Path,
    tenant_id: &str,
    load_id: Option<u64>,
    format: Format,
) -> Result<()> {
    let tenant = Warehouse::open(wh)?.tenant(tenant_id)?;
    let (id, batches) = ingest::load_issues(&tenant, load_id).await?;
    if id == 0 {
        anyhow::bail!("tenant {tenant_id} has no loads yet");
    }
    write_batches(
        &mut std::io::stdout().lock(),
        format,
        &issues_schema(),
        &batches,
        None,
    )
}

/// `history`: every load of the tenant with the Delta version of each table it committed,
/// the states `--as-of LOAD` reads.
pub async fn history(wh: &Path, tenant_id: &str, format: Format) -> Result<()> {
    let tenant = Warehouse::open(wh)?.tenant(tenant_id)?;
    let loads = ingest::history(&tenant).await?;
    let schema = Arc::new(Schema::new(vec![
        Field::new("load_id", DataType::Int64, false),
        Field::new("loaded_at", DataType::Utf8, false),
        Field::new("rules_version", DataType::Int64, false),
        Field::new("files", DataType::Utf8, false),
        Field::new("table_versions", DataType::Utf8, false),
    ]));
    let versions = |l: &ingest::LoadState| {
        if l.tables.is_empty() {
            return "(not kept: committed before load states were kept)".to_string();
        }
        l.tables
            .iter()
            .map(|(t, v)| format!("{t}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(
                loads.iter().map(|l| l.load_id as i64),
            )),
            Arc::new(StringArray::from_iter_values(
                loads.iter().map(|l| l.loaded_at.as_str()),
            )),
            Arc::new(Int64Array::from_iter_values(
                loads.iter().map(|l| l.rules_version),
            )),
            Arc::new(StringArray::from_iter_values(
                loads.iter().map(|l| l.files.join("; ")),
            )),
            Arc::new(StringArray::from_iter_values(loads.iter().map(versions))),
        ],
    )?;
    let labels: &[&str] = &[
        "批次 load_id",
        "时间 loaded_at",
        "规则版本 rules_version",
        "文件 files",
        "表版本 table_versions",
    ];
    write_batches(
        &mut std::io::stdout().lock(),
        format,
        &schema,
        &[batch],
        Some(labels),
    )
}
