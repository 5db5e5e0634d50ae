//! One load: read the files, clean and validate them, merge the accepted rows into the
//! tenant's tables by primary key, and commit everything — data, reconciliation and issues —
//! in one atomic step.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::Int64Type;
use model::HeaderMap;
use model::schema::{TABLES, TableDef};
use warehouse::{
    ISSUES_TABLE, LOAD_TABLES_TABLE, LOADS_TABLE, issues_schema, load_tables_schema, loads_schema,
};
use warehouse::{Manifest, Tenant};

use crate::clean::clean;
use crate::error::IngestError;
use crate::issue::{Issue, Severity};
use crate::source::{Skipped, read_sources};
use crate::validate::{Existing, Staged, stage, validate_fields, validate_relations};

/// The reconciliation of one table: every row read is loaded or rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    /// The table.
    pub table: &'static str,
    /// Rows read from the load's files.
    pub read: usize,
    /// Rows loaded: `read - rejected`.
    pub loaded: usize,
    /// Rows rejected, each with at least one rejection issue.
    pub rejected: usize,
    /// Warnings: values of loaded rows that were not stored, and notes on headers.
    pub warnings: usize,
}

/// One file or sheet as read, for the user to check the encoding and row count.
#[derive(Debug, Clone)]
pub struct FileRead {
    /// The file, with the sheet for workbooks.
    pub source: String,
    /// The table it holds.
    pub table: &'static str,
    /// The text encoding detected (CSV only).
    pub encoding: Option<&'static str>,
    /// Rows read.
    pub rows: usize,
}

/// What a load did: the reconciliation per table and every issue, as committed.
#[derive(Debug)]
pub struct LoadReport {
    /// The load's number in the tenant's log.
    pub load_id: u64,
    /// The version of the tenant's rules the rows were checked against.
    pub rules_version: u32,
    /// Every file and sheet read.
    pub files: Vec<FileRead>,
    /// Files and sheets looked at and not read.
    pub skipped: Vec<Skipped>,
    /// The reconciliation, in table order.
    pub tables: Vec<TableCount>,
    /// Every rejection and warning, by table, file and line.
    pub issues: Vec<Issue>,
    /// Tables whose contents changed; empty when the same files were loaded again.
    pub changed_tables: Vec<&'static str>,
}

/// How a load reads its files.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The tenant's own header map (`gridassess headers set`), asked before the built-in
    /// spellings; empty for none.
    pub headers: HeaderMap,
}

/// Progress messages for the user while a load runs.
pub trait Progress {
    /// Shows one message.
    fn message(&self, text: &str);
}

impl<F: Fn(&str)> Progress for F {
    fn message(&self, text: &str) {
        self(text)
    }
}

/// Loads `paths` into `tenant`. Rows with problems are reported, not fatal; an error means
/// nothing was committed.
pub async fn load(
    tenant: &Tenant,
    paths: &[PathBuf],
    options: &LoadOptions,
    progress: &dyn Progress,
) -> Result<LoadReport, IngestError> {
    let lock = tenant.lock()?;
    let manifest = tenant.manifest()?;
    let (rules_version, _, rules) = tenant.rules()?;

    let sources = read_sources(paths, &options.headers)?;
    let mut issues: Vec<Issue> = Vec::new();
    let mut files = Vec::new();
    let mut parts: HashMap<&'static str, Vec<_>> = HashMap::new();
    for raw in &sources.tables {
        progress.message(&format!(
            "read {} → {} ({} rows{})",
            raw.source,
            raw.table.name,
            raw.len(),
            raw.encoding
                .map(|e| format!(", {}", e.label()))
                .unwrap_or_default()
        ));
        files.push(FileRead {
            source: raw.source.clone(),
            table: raw.table.name,
            encoding: raw.encoding.map(|e| e.label()),
            rows: raw.len(),
        });
        issues.extend(raw.notes.iter().cloned());
        let cleaned = clean(raw)?;
        let rows = validate_fields(raw, cleaned, &rules, &mut issues)?;
        parts.entry(raw.table.name).or_default().push(rows);
    }
    let mut staged: Vec<Staged> = Vec::new();
    for table in TABLES {
        if let Some(p) = parts.remove(table.name) {
            staged.push(stage(table, p)?);
        }
    }

    // The committed tables: for references, and as the base the load merges into.
    let mut committed: HashMap<&'static str, RecordBatch> = HashMap::new();
    for table in TABLES {
        let batches = tenant.read_table(table.name, &manifest).await?;
        let batch = concat_batches(&table.arrow_schema(), &batches).map_err(|source| {
            IngestError::Arrow {
                table: table.name,
                source,
            }
        })?;
        committed.insert(table.name, batch);
    }
    let existing = existing_keys(&committed);
    validate_relations(&mut staged, &existing, &mut issues);

    let load_id = manifest.last_load_id + 1;
    let mut writes: Vec<(String, Vec<RecordBatch>)> = Vec::new();
    let mut changed_tables = Vec::new();
    let mut counts = Vec::new();
    for s in &staged {
        let warnings = issues
            .iter()
            .filter(|i| i.table == s.table.name && i.severity == Severity::Warning)
            .count();
        counts.push(TableCount {
            table: s.table.name,
            read: s.read(),
            loaded: s.loaded(),
            rejected: s.read() - s.loaded(),
            warnings,
        });
        if s.loaded() == 0 {
            continue;
        }
        let old = committed
            .get(s.table.name)
            .cloned()
            .unwrap_or_else(|| RecordBatch::new_empty(s.table.arrow_schema()));
        let merged = merge_by_key(s.table, &old, &s.loaded_batch()?)?;
        if merged != old {
            changed_tables.push(s.table.name);
            writes.push((s.table.name.to_string(), vec![merged]));
        }
    }
    // Issues are sorted so that the stored list reads like the files: file, then line.
    issues.sort_by(|a, b| {
        (
            TABLES.iter().position(|t| t.name == a.table),
            &a.file,
            a.line,
            a.severity,
        )
            .cmp(&(
                TABLES.iter().position(|t| t.name == b.table),
                &b.file,
                b.line,
                b.severity,
            ))
    });
    let log = load_log(
        tenant,
        &manifest,
        load_id,
        rules_version,
        &sources.files,
        &counts,
        &issues,
    )
    .await?;
    writes.extend(log);
    progress.message(&format!("committing load {load_id}"));
    tenant.commit(&lock, &manifest, load_id, writes).await?;

    Ok(LoadReport {
        load_id,
        rules_version,
        files,
        skipped: sources.skipped,
        tables: counts,
        issues,
        changed_tables,
    })
}

fn existing_keys(committed: &HashMap<&'static str, RecordBatch>) -> Existing {
    let mut existing = Existing::default();
    for table in TABLES {
        let Some(batch) = committed.get(table.name) else {
            continue;
        };
        if let [key] = table.primary_key {
            let Some(col) = table
                .column_index(key)
                .and_then(|i| batch.column(i).as_string_opt::<i32>())
            else {
                continue;
            };
            existing.keys.insert(
                table.name,
                col.iter().flatten().map(str::to_owned).collect(),
            );
        }
        if table.name == "grid_units" {
            let ids = batch.column(0).as_string::<i32>();
            let parents = batch.column(1).as_string::<i32>();
            let levels = batch.column(2).as_primitive::<Int64Type>();
            for r in 0..batch.num_rows() {
                existing.grid.insert(
                    ids.value(r).to_string(),
                    (
                        parents.is_valid(r).then(|| parents.value(r).to_string()),
                        levels.value(r),
                    ),
                );
            }
        }
    }
    existing
}

fn keys(table: &TableDef, batch: &RecordBatch) -> Vec<String> {
    let cols: Vec<&StringArray> = table
        .primary_key
        .iter()
        .filter_map(|k| table.column_index(k))
        .filter_map(|i| batch.column(i).as_string_opt::<i32>())
        .collect();
    (0..batch.num_rows())
        .map(|r| {
            cols.iter()
                .map(|c| c.value(r))
                .collect::<Vec<_>>()
                .join("\u{1f}")
        })
        .collect()
}

/// The committed rows whose key the load does not carry, then the load's rows: a newer load
/// wins on a key conflict, and loading the same rows again gives the same table.
fn merge_by_key(
    table: &TableDef,
    old: &RecordBatch,
    new: &RecordBatch,
) -> Result<RecordBatch, IngestError> {
    let arrow_err = |source| IngestError::Arrow {
        table: table.name,
        source,
    };
    let new_keys: HashSet<String> = keys(table, new).into_iter().collect();
    let keep: BooleanArray = keys(table, old)
        .into_iter()
        .map(|k| Some(!new_keys.contains(&k)))
        .collect();
    let kept = filter_record_batch(old, &keep).map_err(arrow_err)?;
    concat_batches(&table.arrow_schema(), [&kept, new]).map_err(arrow_err)
}

/// The load's own record: the load, its reconciliation and its issues, appended to what the
/// committed log holds.
async fn load_log(
    tenant: &Tenant,
    manifest: &Manifest,
    load_id: u64,
    rules_version: u32,
    files: &[String],
    counts: &[TableCount],
    issues: &[Issue],
) -> Result<Vec<(String, Vec<RecordBatch>)>, IngestError> {
    let id = load_id as i64;
    let arrow_err = |table: &'static str| move |source| IngestError::Arrow { table, source };
    let now = chrono::Utc::now().timestamp_micros();
    let load = RecordBatch::try_new(
        loads_schema(),
        vec![
            Arc::new(Int64Array::from(vec![id])),
            Arc::new(TimestampMicrosecondArray::from(vec![now]).with_timezone("UTC")),
            Arc::new(StringArray::from(vec![files.join("\n")])),
            Arc::new(Int64Array::from(vec![i64::from(rules_version)])),
        ],
    )
    .map_err(arrow_err(LOADS_TABLE))?;
    let n = counts.len();
    let table_counts = RecordBatch::try_new(
        load_tables_schema(),
        vec![
            Arc::new(Int64Array::from(vec![id; n])),
            Arc::new(StringArray::from_iter_values(
                counts.iter().map(|c| c.table),
            )),
            Arc::new(Int64Array::from_iter_values(
                counts.iter().map(|c| c.read as i64),
            )),
            Arc::new(Int64Array::from_iter_values(
                counts.iter().map(|c| c.loaded as i64),
            )),
            Arc::new(Int64Array::from_iter_values(
                counts.iter().map(|c| c.rejected as i64),
            )),
            Arc::new(Int64Array::from_iter_values(
                counts.iter().map(|c| c.warnings as i64),
            )),
        ],
    )
    .map_err(arrow_err(LOAD_TABLES_TABLE))?;
    let n = issues.len();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![id; n])),
        Arc::new(StringArray::from_iter_values(
            issues.iter().map(|i| i.table),
        )),
        Arc::new(StringArray::from_iter_values(
            issues.iter().map(|i| i.file.as_str()),
        )),
        Arc::new(Int64Array::from_iter(
            issues.iter().map(|i| i.line.map(|l| l as i64)),
        )),
        Arc::new(StringArray::from_iter(
            issues.iter().map(|i| i.column.as_deref()),
        )),
        Arc::new(StringArray::from_iter(
            issues.iter().map(|i| i.value.as_deref()),
        )),
        Arc::new(StringArray::from_iter_values(
            issues.iter().map(|i| i.reason.to_string()),
        )),
        Arc::new(StringArray::from_iter_values(
            issues.iter().map(|i| i.severity.as_str()),
        )),
    ];
    let issue_rows =
        RecordBatch::try_new(issues_schema(), columns).map_err(arrow_err(ISSUES_TABLE))?;

    let mut out = Vec::new();
    for (name, fresh) in [
        (LOADS_TABLE, load),
        (LOAD_TABLES_TABLE, table_counts),
        (ISSUES_TABLE, issue_rows),
    ] {
        let mut batches = tenant.read_table(name, manifest).await?;
        batches.push(fresh);
        out.push((name.to_string(), batches));
    }
    Ok(out)
}

/// The stored reconciliation and issues of a load (the newest when `load_id` is `None`).
pub async fn load_issues(
    tenant: &Tenant,
    load_id: Option<u64>,
) -> Result<(u64, Vec<RecordBatch>), IngestError> {
    let manifest = tenant.manifest()?;
    let id = load_id.unwrap_or(manifest.last_load_id) as i64;
    let batches = tenant.read_table(ISSUES_TABLE, &manifest).await?;
    let mut out = Vec::new();
    for b in batches {
        let ids = b.column(0).as_primitive::<Int64Type>();
        let mask: BooleanArray = ids.iter().map(|v| Some(v == Some(id))).collect();
        let kept = filter_record_batch(&b, &mask).map_err(|source| IngestError::Arrow {
            table: ISSUES_TABLE,
            source,
        })?;
        if kept.num_rows() > 0 {
            out.push(kept);
        }
    }
    Ok((id as u64, out))
}
