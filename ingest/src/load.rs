//! One load: read the files, clean and validate them, merge the accepted rows into the
//! tenant's tables by primary key (and, for a snapshot of a table, remove the committed rows
//! its files no longer list), and commit everything — data, reconciliation and issues — in
//! one atomic step.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, UInt32Array,
};
use arrow::compute::{concat_batches, filter_record_batch, take_record_batch};
use arrow::datatypes::{Int64Type, TimestampMicrosecondType};
use model::HeaderMap;
use model::schema::{TABLES, TableDef};
use rayon::prelude::*;
use warehouse::{
    ISSUES_TABLE, LOAD_TABLES_TABLE, LOADS_TABLE, issues_schema, load_tables_schema, loads_schema,
};
use warehouse::{Manifest, Tenant};

use crate::clean::clean;
use crate::error::IngestError;
use crate::issue::{Issue, Severity};
use crate::keys::{KeyColumns, RowKey};
use crate::snapshot::Removal;
use crate::source::{Skipped, read_sources};
use crate::validate::{
    Existing, FileRows, Staged, reject_references_to_removed, stage, validate_fields,
    validate_relations,
};

/// How to load: how to read the files' headers, and which tables the load replaces whole.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The tenant's own header map (`gridassess headers set`), asked before the built-in
    /// spellings; empty for none.
    pub headers: HeaderMap,
    /// Tables (English or Chinese name) whose files are the county's full list: committed
    /// rows they do not list are removed, and the rows pointing at those follow.
    pub replace: Vec<String>,
    /// Lets a snapshot remove more than half of a table's rows.
    pub allow_mass_removal: bool,
    /// A folder whose own path is not shown: files under it are named from there in the
    /// report, the rejections and the load's history (an upload's staging folder).
    pub shown_from: Option<PathBuf>,
}

/// The reconciliation of one table: every row read is loaded or rejected; committed rows a
/// snapshot load removes are counted apart.
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
    /// Warnings: values of loaded rows that were not stored, notes on headers, and
    /// references a snapshot cleared.
    pub warnings: usize,
    /// Committed rows a snapshot load removed (not part of `read`).
    pub removed: usize,
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

impl LoadReport {
    /// Whether the warehouse already held every row of the load: no table was rewritten
    /// (the load itself is still recorded).
    pub fn unchanged(&self) -> bool {
        self.changed_tables.is_empty()
    }
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

/// Loads `paths` into `tenant` as `options` say (see [`LoadOptions`]). Rows with problems are
/// reported, not fatal; an error means nothing was committed.
pub async fn load(
    tenant: &Tenant,
    paths: &[PathBuf],
    options: &LoadOptions,
    progress: &dyn Progress,
) -> Result<LoadReport, IngestError> {
    let replace = snapshot_tables(&options.replace)?;
    let lock = tenant.lock()?;
    // A load killed before its manifest left table versions no manifest names; other Delta
    // readers would read them, so they are rolled back before anything else.
    let mut stages = Stages::start();
    let manifest = tenant.roll_back_orphans(&lock).await?;
    let (rules_version, _, rules) = tenant.rules()?;
    stages.done("opened");

    let sources = read_sources(paths, &options.headers, options.shown_from.as_deref())?;
    stages.done("read (decoded and split into cells)");
    // Each file's cells are typed and its rows checked on their own, files in parallel; the
    // results are taken in file order, so issues and counts read as the files do.
    let checked: Vec<(Vec<Issue>, FileRows)> = sources
        .tables
        .par_iter()
        .map(|raw| {
            let mut issues = raw.notes.clone();
            let rows = validate_fields(raw, clean(raw), &rules, &mut issues)?;
            Ok((issues, rows))
        })
        .collect::<Result<_, IngestError>>()?;
    stages.done("cells typed and rows checked");
    let mut issues: Vec<Issue> = Vec::new();
    let mut files = Vec::new();
    let mut parts: HashMap<&'static str, Vec<_>> = HashMap::new();
    for (raw, (file_issues, rows)) in sources.tables.iter().zip(checked) {
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
        issues.extend(file_issues);
        parts.entry(raw.table.name).or_default().push(rows);
    }
    let mut staged: Vec<Staged> = Vec::new();
    for table in TABLES {
        if let Some(p) = parts.remove(table.name) {
            staged.push(stage(table, p)?);
        }
    }
    stages.done("staged (duplicate keys)");
    if let Some(missing) = replace
        .iter()
        .find(|t| !staged.iter().any(|s| s.table.name == t.name))
    {
        return Err(IngestError::SnapshotNotInLoad {
            table: missing.name,
        });
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
    stages.done("committed tables read");
    let mut removal = Removal::plan(&replace, &staged, &committed);
    let existing = existing_keys(&committed, &removal);
    validate_relations(&mut staged, &existing, &mut issues);
    // A committed row kept for a loaded row that was then rejected has no replacement after
    // all: it may have to go too, and so may the loaded rows pointing at it.
    while removal.complete(&staged, &committed)
        && reject_references_to_removed(&mut staged, &removal.keys, &mut issues)
    {}
    if !options.allow_mass_removal
        && let Some((table, removed, held)) = removal
            .losses(&committed)
            .find(|(_, removed, held)| removed * 2 > *held)
    {
        return Err(IngestError::MassRemoval {
            table,
            removed,
            committed: held,
        });
    }
    issues.extend(removal.issues(&committed));
    stages.done("references checked");

    let load_id = manifest.last_load_id + 1;
    let mut writes: Vec<(String, Vec<RecordBatch>)> = Vec::new();
    let mut changed_tables = Vec::new();
    let mut counts = Vec::new();
    for table in TABLES {
        let s = staged.iter().find(|s| s.table.name == table.name);
        if s.is_none() && !removal.touches(table.name) {
            continue;
        }
        let warnings = issues
            .iter()
            .filter(|i| i.table == table.name && i.severity == Severity::Warning)
            .count();
        let (read, loaded) = s.map_or((0, 0), |s| (s.read(), s.loaded()));
        counts.push(TableCount {
            table: table.name,
            read,
            loaded,
            rejected: read - loaded,
            warnings,
            removed: removal.removed(table.name),
        });
        let arrow_err = |source| IngestError::Arrow {
            table: table.name,
            source,
        };
        let old = committed
            .get(table.name)
            .cloned()
            .unwrap_or_else(|| RecordBatch::new_empty(table.arrow_schema()));
        let kept = removal.apply(table, &old).map_err(arrow_err)?;
        let mut merged = kept.clone().unwrap_or_else(|| old.clone());
        if let Some(s) = s
            && s.loaded() > 0
        {
            merged = merge_by_key(table, &merged, &s.loaded_batch()?)?;
        }
        if merged != old {
            changed_tables.push(table.name);
            writes.push((table.name.to_string(), vec![merged]));
        }
    }
    stages.done("merged by key");
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
    stages.done("committed (issues, log and tables written)");

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

/// The time of each stage of a load, logged at debug level (`GRIDASSESS_LOG=ingest=debug`) so
/// that a slow load shows which stage it spends its time in.
struct Stages {
    last: Instant,
}

impl Stages {
    fn start() -> Self {
        Stages {
            last: Instant::now(),
        }
    }

    fn done(&mut self, stage: &str) {
        let now = Instant::now();
        tracing::debug!(
            target: "ingest",
            "{stage}: {:.3} s",
            (now - self.last).as_secs_f64()
        );
        self.last = now;
    }
}

/// The tables `names` (English or Chinese) name, in table order.
fn snapshot_tables(names: &[String]) -> Result<Vec<&'static TableDef>, IngestError> {
    let mut out: Vec<&'static TableDef> = Vec::new();
    for name in names {
        let name = name.trim();
        let Some(table) = TABLES.iter().find(|t| t.name == name || t.zh == name) else {
            return Err(IngestError::UnknownSnapshotTable {
                name: name.to_string(),
                tables: TABLES
                    .iter()
                    .map(|t| format!("{} ({})", t.name, t.zh))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        if !out.iter().any(|t| t.name == table.name) {
            out.push(table);
        }
    }
    out.sort_by_key(|t| TABLES.iter().position(|x| x.name == t.name));
    Ok(out)
}

/// The committed keys and grid the load's rows are checked against, without what the
/// snapshot removes.
fn existing_keys(committed: &HashMap<&'static str, RecordBatch>, removal: &Removal) -> Existing {
    let mut existing = Existing {
        removed: removal.keys.clone(),
        ..Existing::default()
    };
    let gone = |table: &str, key: &str| removal.keys.get(table).is_some_and(|k| k.contains(key));
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
                col.iter()
                    .flatten()
                    .filter(|k| !gone(table.name, k))
                    .map(str::to_owned)
                    .collect(),
            );
        }
        if table.name == "grid_units" {
            let ids = batch.column(0).as_string::<i32>();
            let parents = batch.column(1).as_string::<i32>();
            let levels = batch.column(2).as_primitive::<Int64Type>();
            for r in 0..batch.num_rows() {
                if gone(table.name, ids.value(r)) {
                    continue;
                }
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

/// The committed rows with the load's rows in place of those with the same key, then the
/// load's new rows: a newer load wins on a key conflict, and re-sent rows that are identical
/// leave the table exactly as it was (same rows, same order), so it is not rewritten.
fn merge_by_key(
    table: &TableDef,
    old: &RecordBatch,
    new: &RecordBatch,
) -> Result<RecordBatch, IngestError> {
    let arrow_err = |source| IngestError::Arrow {
        table: table.name,
        source,
    };
    // The first load of a table, and every load of a table a snapshot emptied.
    if old.num_rows() == 0 {
        return Ok(new.clone());
    }
    let (Some(new_keys), Some(old_keys)) = (KeyColumns::of(table, new), KeyColumns::of(table, old))
    else {
        return concat_batches(&table.arrow_schema(), [old, new]).map_err(arrow_err);
    };
    let by_key: HashMap<RowKey, usize> = (0..new.num_rows())
        .filter_map(|i| Some((new_keys.at(i)?, i)))
        .collect();
    let base = old.num_rows();
    let mut replaced = vec![false; new.num_rows()];
    let mut take: Vec<u32> = Vec::with_capacity(base + new.num_rows());
    for i in 0..base {
        match old_keys.at(i).and_then(|k| by_key.get(&k)) {
            Some(&j) => {
                replaced[j] = true;
                take.push((base + j) as u32);
            }
            None => take.push(i as u32),
        }
    }
    take.extend(
        (0..new.num_rows())
            .filter(|j| !replaced[*j])
            .map(|j| (base + j) as u32),
    );
    let both = concat_batches(&table.arrow_schema(), [old, new]).map_err(arrow_err)?;
    take_record_batch(&both, &UInt32Array::from(take)).map_err(arrow_err)
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
            Arc::new(Int64Array::from_iter_values(
                counts.iter().map(|c| c.removed as i64),
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

/// One committed load as the tenant's history keeps it.
#[derive(Debug, Clone)]
pub struct LoadState {
    /// The load's number.
    pub load_id: u64,
    /// When it was committed (RFC 3339, UTC).
    pub loaded_at: String,
    /// The files and folders it was given.
    pub files: Vec<String>,
    /// The rules version its rows were checked against.
    pub rules_version: i64,
    /// The Delta version of every table it committed; empty for a load made before the
    /// warehouse kept each load's state.
    pub tables: BTreeMap<String, u64>,
}

/// Every committed load of `tenant`, oldest first, with the table versions it committed:
/// the states `--as-of` can read.
pub async fn history(tenant: &Tenant) -> Result<Vec<LoadState>, IngestError> {
    let manifest = tenant.manifest()?;
    let mut out = Vec::new();
    for b in tenant.read_table(LOADS_TABLE, &manifest).await? {
        let ids = b.column(0).as_primitive::<Int64Type>();
        let at = b.column(1).as_primitive::<TimestampMicrosecondType>();
        let files = b.column(2).as_string::<i32>();
        let rules = b.column(3).as_primitive::<Int64Type>();
        for r in 0..b.num_rows() {
            let load_id = ids.value(r) as u64;
            let tables = match tenant.manifest_at(load_id) {
                Ok(m) => m.tables,
                Err(warehouse::WarehouseError::NoLoadState { .. }) => BTreeMap::new(),
                Err(e) => return Err(e.into()),
            };
            out.push(LoadState {
                load_id,
                loaded_at: chrono::DateTime::from_timestamp_micros(at.value(r))
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default(),
                files: files.value(r).lines().map(str::to_owned).collect(),
                rules_version: rules.value(r),
                tables,
            });
        }
    }
    out.sort_by_key(|l| l.load_id);
    Ok(out)
}
