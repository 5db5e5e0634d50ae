//! The warehouse on disk: tenants, their rules, and their tables as Delta Lake tables.
//!
//! ```text
//! WAREHOUSE/gridassess.json               marks the folder as a warehouse
//! WAREHOUSE/tenants/ID/tenant.json        id, name, created
//! WAREHOUSE/tenants/ID/rules/0001.toml    rules versions; the highest is in force
//! WAREHOUSE/tenants/ID/headers.toml       the tenant's own header map, if it has one
//! WAREHOUSE/tenants/ID/tables/NAME/       one Delta table per SPEC §2 table, plus the load log
//! WAREHOUSE/tenants/ID/current.json       the committed Delta version of every table
//! WAREHOUSE/tenants/ID/loads/NNNNNN.json  the manifest each load committed (for `--as-of`)
//! ```
//!
//! Delta commits are atomic per table, but a load changes several tables. `current.json` makes
//! the load atomic for the tenant: a load first commits new Delta versions of the tables it
//! changes (their data files and logs flushed to disk), then replaces `current.json` in one
//! rename. gridassess only ever reads the versions `current.json` names, so a load killed at any
//! moment leaves either the old state or the new one. Other Delta readers (Spark, DuckDB,
//! delta-rs) read the newest version of each table instead; versions a killed load left there
//! are rolled back, by a restore commit to the manifest's version, before the next load
//! ([`Tenant::roll_back_orphans`]).

#![warn(missing_docs)]

mod headers;
mod results;
pub mod store;

pub use results::{ResultsKey, StoredResults};

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableError};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use url::Url;

use model::rules::{DEFAULT_RULES_TOML, Rules, RulesError};
use model::schema::TABLES;

const MARKER: &str = "gridassess.json";
const FORMAT_VERSION: u32 = 1;

/// Why the warehouse could not do what was asked. Every variant that involves a file or a
/// tenant names it.
#[allow(missing_docs)] // the fields are the ones each message names
#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    /// The folder has no `gridassess.json`.
    #[error("no warehouse at {}: run `gridassess init` first (or pass --warehouse DIR)", .path.display())]
    NotAWarehouse { path: PathBuf },
    /// `init` on a warehouse.
    #[error("{} already holds a warehouse", .path.display())]
    AlreadyExists { path: PathBuf },
    /// `init` on a folder with other files in it.
    #[error("{} is not empty and is not a warehouse; choose an empty or new folder", .path.display())]
    NotEmpty { path: PathBuf },
    /// `init --tables` with a place that is not an object store we can use.
    #[error("the tables' place {url:?} cannot be used: {reason}")]
    TablesUrl { url: String, reason: String },
    /// The object store holding the tables did not answer (credentials, endpoint, bucket).
    #[error(
        "cannot reach the tables at {url}: {reason} (credentials and endpoint come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT, AWS_ALLOW_HTTP)"
    )]
    TablesUnreachable { url: String, reason: String },
    /// `init --tables` on a place that already holds something.
    #[error("{url} is not empty; choose an empty bucket or prefix for a new warehouse's tables")]
    TablesNotEmpty { url: String },
    /// A tenant id that cannot be a folder name and a database name.
    #[error(
        "tenant id '{id}' is not valid: use 1–64 lower-case letters, digits, '_' or '-', starting with a letter"
    )]
    InvalidTenantId { id: String },
    /// `tenant add` of an existing id.
    #[error("tenant '{id}' already exists")]
    TenantExists { id: String },
    /// No tenant with that id; `known` lists the ones there are.
    #[error("unknown tenant '{id}' (tenants: {known})")]
    UnknownTenant { id: String, known: String },
    /// Another process holds the tenant's writer lock.
    #[error("tenant '{id}' is being loaded by another process; try again when it finishes")]
    Busy { id: String },
    /// A file of the warehouse could not be read or written.
    #[error("cannot read or write {}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A JSON file of the warehouse was changed by hand or damaged.
    #[error("{} is not the JSON gridassess wrote", .path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// Delta Lake's own message already carries its causes: it is quoted, not chained.
    #[error("Delta table {}: {error}", .path.display())]
    Delta {
        path: PathBuf,
        error: Box<DeltaTableError>,
    },
    /// The task writing a table stopped before it finished (it panicked or was cancelled).
    #[error("writing {} stopped before it finished", .path.display())]
    WriteStopped {
        path: PathBuf,
        source: tokio::task::JoinError,
    },
    /// A stored table does not have the columns the warehouse promises.
    #[error("table {table}: stored data does not match the expected schema")]
    Schema {
        table: String,
        source: arrow::error::ArrowError,
    },
    /// A stored or offered rules file is refused.
    #[error(transparent)]
    Rules(#[from] RulesError),
    /// A stored or offered header map is refused.
    #[error(transparent)]
    HeaderMap(#[from] model::HeaderMapError),
    /// `limits.toml` does not parse.
    #[error("{}: the limits cannot be read", .path.display())]
    Limits {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    /// `--as-of` a load the tenant has not committed.
    #[error("tenant '{id}' has no load {load_id} (its loads are 1 to {last})")]
    UnknownLoad { id: String, load_id: u64, last: u64 },
    /// `--as-of` a load committed before the warehouse kept each load's state.
    #[error(
        "load {load_id} of tenant '{id}' was committed before gridassess kept each load's state; it cannot be read as of then"
    )]
    NoLoadState { id: String, load_id: u64 },
    /// A file of kept metric results could not be written or read back.
    #[error("metric results {}: {source}", .path.display())]
    Results {
        path: PathBuf,
        source: arrow::error::ArrowError,
    },
    /// A replay asked for a rules version that was never set.
    #[error("there is no rules version {version} (versions: {known})")]
    UnknownRulesVersion { version: u32, known: String },
}

type Result<T, E = WarehouseError> = std::result::Result<T, E>;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> WarehouseError + '_ {
    move |source| WarehouseError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` so that readers see the old file or the new one, never a mix:
/// write a temporary sibling, flush it to disk, rename it over, then flush the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io_err(path))?;
    if let Ok(d) = fs::File::open(dir) {
        // Persist the rename itself; not all filesystems allow syncing a folder.
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads a JSON file of the warehouse (a tenant's or the warehouse's own settings).
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    serde_json::from_str(&text).map_err(|source| WarehouseError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Replaces a JSON file of the warehouse atomically (see [`write_atomic`]).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|source| WarehouseError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomic(path, text.as_bytes())
}

#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    format: u32,
    /// Where the tables live when not in the folder: an object store URL (`store` module).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tables: Option<String>,
}

/// Who a tenant is (`tenant.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantInfo {
    /// The id: a folder name and the database name clients connect to.
    pub id: String,
    /// The county's name (`醴陵市`).
    pub name: String,
    /// When it was added (RFC 3339).
    pub created_at: String,
}

/// The committed state of a tenant: which Delta version of each table is current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Bumped by every commit.
    pub generation: u64,
    /// The id of the newest load, 0 before the first.
    pub last_load_id: u64,
    /// The committed Delta version of each table.
    pub tables: BTreeMap<String, u64>,
}

/// A warehouse folder: its tenants and their tables.
pub struct Warehouse {
    root: PathBuf,
    /// Where the tables live when not in the folder (see [`store`]).
    tables: Option<Url>,
}

impl Warehouse {
    /// Creates an empty warehouse at `root` (the folder may exist if it is empty).
    pub fn init(root: &Path) -> Result<Warehouse> {
        Self::check_new(root)?;
        Self::create(root, None)
    }

    /// Creates an empty warehouse at `root` whose tables live in the object store at `tables`
    /// (an empty bucket or prefix, reached with the environment's credentials).
    pub async fn init_with_tables(root: &Path, tables: &Url) -> Result<Warehouse> {
        Self::check_new(root)?;
        if store::probe(tables).await? {
            return Err(WarehouseError::TablesNotEmpty {
                url: tables.to_string(),
            });
        }
        Self::create(root, Some(tables))
    }

    fn check_new(root: &Path) -> Result<()> {
        if root.join(MARKER).exists() {
            return Err(WarehouseError::AlreadyExists {
                path: root.to_path_buf(),
            });
        }
        if root.exists() {
            let mut entries = fs::read_dir(root).map_err(io_err(root))?;
            if entries.next().is_some() {
                return Err(WarehouseError::NotEmpty {
                    path: root.to_path_buf(),
                });
            }
        }
        Ok(())
    }

    fn create(root: &Path, tables: Option<&Url>) -> Result<Warehouse> {
        let tenants = root.join("tenants");
        fs::create_dir_all(&tenants).map_err(io_err(&tenants))?;
        write_json(
            &root.join(MARKER),
            &Marker {
                format: FORMAT_VERSION,
                tables: tables.map(Url::to_string),
            },
        )?;
        Self::open(root)
    }

    /// Opens the warehouse at `root`, or says there is none and how to make one.
    pub fn open(root: &Path) -> Result<Warehouse> {
        let marker = root.join(MARKER);
        if !marker.is_file() {
            return Err(WarehouseError::NotAWarehouse {
                path: root.to_path_buf(),
            });
        }
        let tables = read_json::<Marker>(&marker)?
            .tables
            .map(|url| store::parse_tables_url(&url))
            .transpose()?;
        if tables.is_some() {
            store::register_with_deltalake();
        }
        Ok(Warehouse {
            root: root.to_path_buf(),
            tables,
        })
    }

    /// Its folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The object store its tables live in, when they are not in its folder.
    pub fn tables_url(&self) -> Option<&Url> {
        self.tables.as_ref()
    }

    /// Where tenant `id`'s tables live, when not in its folder.
    fn tenant_tables(&self, id: &str) -> Option<Url> {
        self.tables.as_ref().map(|base| {
            base.join(&format!("tenants/{id}/tables/"))
                .expect("a tenant id is a plain path segment")
        })
    }

    fn tenant_dir(&self, id: &str) -> PathBuf {
        self.root.join("tenants").join(id)
    }

    /// Tenant ids become folder names and PostgreSQL database names, so they are kept plain.
    pub fn validate_tenant_id(id: &str) -> Result<()> {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if ok {
            Ok(())
        } else {
            Err(WarehouseError::InvalidTenantId { id: id.to_string() })
        }
    }

    /// Adds a tenant with the default rules and an empty table of every kind.
    pub async fn add_tenant(&self, id: &str, name: &str) -> Result<Tenant> {
        Self::validate_tenant_id(id)?;
        let dir = self.tenant_dir(id);
        if dir.join("tenant.json").exists() {
            return Err(WarehouseError::TenantExists { id: id.to_string() });
        }
        // Build the tenant in a staging folder and rename it into place, so a tenant either
        // exists whole or not at all.
        let staging = self.root.join("tenants").join(format!(".new-{id}"));
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
        }
        fs::create_dir_all(staging.join("rules")).map_err(io_err(&staging))?;
        let staged = Tenant {
            id: id.to_string(),
            dir: staging.clone(),
            tables: self.tenant_tables(id),
        };
        write_atomic(
            &staging.join("rules").join(rules_file_name(1)),
            DEFAULT_RULES_TOML.as_bytes(),
        )?;
        let mut tables = BTreeMap::new();
        for (name, schema) in all_table_schemas() {
            let path = staged.table_path(&name);
            let url = staged.table_url(&name)?;
            let new_table = |url: Url| {
                // Built without loading: there is no log yet to load.
                deltalake::DeltaTableBuilder::from_url(url)
                    .and_then(|b| b.build())
                    .map_err(|e| delta_err(&path, e))
            };
            let table = if url.scheme() == "file" {
                fs::create_dir_all(&path).map_err(io_err(&path))?;
                new_table(url)?
            } else {
                // In an object store there is no staging folder to rename: a tenant whose
                // adding was stopped left its tables there, and they are overwritten.
                if store::probe(&url).await? {
                    open_delta(&url, &path).await?
                } else {
                    new_table(url)?
                }
            };
            let table = table
                .write(vec![RecordBatch::new_empty(schema)])
                .with_save_mode(SaveMode::Overwrite)
                .with_table_name(name.as_str())
                .await
                .map_err(|e| delta_err(&path, e))?;
            tables.insert(name, table.version().unwrap_or(0));
        }
        write_json(
            &staging.join("current.json"),
            &Manifest {
                generation: 0,
                last_load_id: 0,
                tables,
            },
        )?;
        write_json(
            &staging.join("tenant.json"),
            &TenantInfo {
                id: id.to_string(),
                name: name.to_string(),
                created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            },
        )?;
        fs::rename(&staging, &dir).map_err(io_err(&dir))?;
        Ok(Tenant {
            id: id.to_string(),
            dir,
            tables: self.tenant_tables(id),
        })
    }

    /// Every tenant, by id.
    pub fn tenants(&self) -> Result<Vec<TenantInfo>> {
        let dir = self.root.join("tenants");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let info = entry.path().join("tenant.json");
            if info.is_file() {
                out.push(read_json::<TenantInfo>(&info)?);
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// The tenant `id`, or an error that lists the tenants there are.
    pub fn tenant(&self, id: &str) -> Result<Tenant> {
        let dir = self.tenant_dir(id);
        if Self::validate_tenant_id(id).is_err() || !dir.join("tenant.json").is_file() {
            let known: Vec<String> = self.tenants()?.into_iter().map(|t| t.id).collect();
            return Err(WarehouseError::UnknownTenant {
                id: id.to_string(),
                known: if known.is_empty() {
                    "none yet; add one with `gridassess tenant add`".into()
                } else {
                    known.join(", ")
                },
            });
        }
        Ok(Tenant {
            id: id.to_string(),
            dir,
            tables: self.tenant_tables(id),
        })
    }
}

fn rules_file_name(version: u32) -> String {
    format!("{version:04}.toml")
}

fn delta_err(path: &Path, e: DeltaTableError) -> WarehouseError {
    WarehouseError::Delta {
        path: path.to_path_buf(),
        error: Box::new(e),
    }
}

fn table_url(path: &Path) -> Result<Url> {
    let abs = std::path::absolute(path).map_err(io_err(path))?;
    Url::from_directory_path(&abs).map_err(|()| WarehouseError::Io {
        path: abs.clone(),
        source: std::io::Error::other("cannot be expressed as a file URL"),
    })
}

/// Table `table` in the object store folder `base` of its tenant's tables.
fn remote_table_url(base: &Url, table: &str) -> Url {
    base.join(&format!("{table}/"))
        .expect("a table name is a plain path segment")
}

/// The most rows in one Parquet row group of a table. A reader splits a file between its
/// cores by row group, so a table in one group is read, filtered and pre-aggregated by one
/// core: Parquet's default (1,048,576 rows) put each of a county's tables in one or two.
/// DuckDB writes groups of 122,880 rows; half that gives 16 cores a share of a county's
/// 1.5 M attendance rows. Measured on 2 cores: one view after another, 6 % less time; every
/// view at once (a load's results), the same time (the cores were busy either way).
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Writes one table's new contents as its next Delta version, on disk before it returns;
/// returns that version.
async fn write_table(
    url: Url,
    path: PathBuf,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<u64> {
    let mut batches: Vec<RecordBatch> = batches.into_iter().filter(|b| b.num_rows() > 0).collect();
    if batches.is_empty() {
        batches.push(RecordBatch::new_empty(schema));
    }
    // Overwrite from the committed state: versions a killed load left behind are replaced,
    // never built upon. A table written under an older schema (the load log gained a column)
    // takes the current one.
    let table = open_delta(&url, &path).await?;
    // DataFusion's Parquet options, as delta-rs uses when given none, with smaller row groups.
    let properties = deltalake::datafusion::config::ParquetOptions::default()
        .into_writer_properties_builder()
        .map_err(|e| delta_err(&path, e.into()))?
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let table = table
        .write(batches)
        .with_writer_properties(properties)
        .with_save_mode(SaveMode::Overwrite)
        .with_schema_mode(SchemaMode::Overwrite)
        .await
        .map_err(|e| delta_err(&path, e))?;
    // The manifest must never name data that is not on disk yet.
    sync_version(&url, &path, &table)?;
    Ok(table.version().unwrap_or_default())
}

async fn open_delta(url: &Url, path: &Path) -> Result<DeltaTable> {
    DeltaTable::try_from_url(url.clone())
        .await
        .map_err(|e| delta_err(path, e))
}

/// Flushes to disk the data files and the log entry of `table`'s current version, and the
/// folders that name them, so that a manifest written after never names data a power cut
/// could lose. (object_store writes local files without syncing them; a table in an object
/// store at `url` is stored once its writes are acknowledged, and has nothing to flush.)
fn sync_version(url: &Url, path: &Path, table: &DeltaTable) -> Result<()> {
    if url.scheme() != "file" {
        return Ok(());
    }
    let sync = |file: &Path| -> Result<()> {
        fs::File::open(file)
            .and_then(|f| f.sync_all())
            .map_err(io_err(file))
    };
    let uris: Vec<String> = table
        .get_file_uris()
        .map_err(|e| delta_err(path, e))?
        .collect();
    let mut dirs: Vec<PathBuf> = vec![path.to_path_buf(), path.join("_delta_log")];
    for uri in uris {
        let Some(file) = Url::parse(&uri).ok().and_then(|u| u.to_file_path().ok()) else {
            continue;
        };
        sync(&file)?;
        if let Some(dir) = file.parent()
            && !dirs.iter().any(|d| d == dir)
        {
            dirs.push(dir.to_path_buf());
        }
    }
    if let Some(version) = table.version() {
        sync(&path.join("_delta_log").join(format!("{version:020}.json")))?;
    }
    for dir in dirs {
        // Not every filesystem lets a folder be synced; the files themselves are.
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// The tables kept beside the data: one row per load, its per-table reconciliation, and every
/// rejected row and warning.
pub const LOADS_TABLE: &str = "_loads";
/// See [`LOADS_TABLE`].
pub const LOAD_TABLES_TABLE: &str = "_load_tables";
/// See [`LOADS_TABLE`].
pub const ISSUES_TABLE: &str = "_issues";

/// `_loads`: one row per load.
pub fn loads_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("load_id", DataType::Int64, false),
        Field::new(
            "loaded_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("files", DataType::Utf8, false),
        Field::new("rules_version", DataType::Int64, false),
    ]))
}

/// `_load_tables`: a load's reconciliation, a row per table (`read = loaded + rejected`).
pub fn load_tables_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("load_id", DataType::Int64, false),
        Field::new("table", DataType::Utf8, false),
        Field::new("read", DataType::Int64, false),
        Field::new("loaded", DataType::Int64, false),
        Field::new("rejected", DataType::Int64, false),
        Field::new("warnings", DataType::Int64, false),
        // Null for the loads made before snapshot loads existed.
        Field::new("removed", DataType::Int64, true),
    ]))
}

/// `_issues`: every rejected row and warning of a load, with file, line, column and value.
pub fn issues_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("load_id", DataType::Int64, false),
        Field::new("table", DataType::Utf8, false),
        Field::new("file", DataType::Utf8, false),
        Field::new("line", DataType::Int64, true),
        Field::new("column", DataType::Utf8, true),
        Field::new("value", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
    ]))
}

/// Every table a tenant stores, with the schema it is stored under.
pub fn all_table_schemas() -> Vec<(String, SchemaRef)> {
    let mut v: Vec<(String, SchemaRef)> = TABLES
        .iter()
        .map(|t| (t.name.to_string(), t.arrow_schema()))
        .collect();
    v.push((LOADS_TABLE.into(), loads_schema()));
    v.push((LOAD_TABLES_TABLE.into(), load_tables_schema()));
    v.push((ISSUES_TABLE.into(), issues_schema()));
    v
}

/// The schema `table` is stored under, if the warehouse stores such a table.
pub fn schema_of(table: &str) -> Option<SchemaRef> {
    all_table_schemas()
        .into_iter()
        .find(|(n, _)| n == table)
        .map(|(_, s)| s)
}

/// Casts a batch read back from storage to the schema the warehouse promises (the Parquet
/// reader may hand strings back as views, and Delta may widen nullability).
pub fn conform(table: &str, batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let schema_err = |source| WarehouseError::Schema {
        table: table.to_string(),
        source,
    };
    let mut columns = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let Ok(idx) = batch.schema().index_of(field.name()) else {
            // A column added since the table was written (a nullable one only) reads as null.
            if field.is_nullable() {
                columns.push(arrow::array::new_null_array(
                    field.data_type(),
                    batch.num_rows(),
                ));
                continue;
            }
            return Err(schema_err(arrow::error::ArrowError::SchemaError(format!(
                "no column {}",
                field.name()
            ))));
        };
        let col = batch.column(idx);
        columns.push(if col.data_type() == field.data_type() {
            col.clone()
        } else {
            cast(col, field.data_type()).map_err(schema_err)?
        });
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(schema_err)
}

/// An exclusive right to change one tenant, held until dropped. The operating system releases
/// it when the process dies, so a killed load never leaves the tenant locked.
pub struct TenantLock {
    _file: fs::File,
}

/// One tenant (a county) of a warehouse.
pub struct Tenant {
    /// Its id.
    pub id: String,
    dir: PathBuf,
    /// Where its tables live when not in its folder (an object store folder URL).
    tables: Option<Url>,
}

impl Tenant {
    /// Its folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Who it is.
    pub fn info(&self) -> Result<TenantInfo> {
        read_json(&self.dir.join("tenant.json"))
    }

    /// Its Delta table `table` as messages name it: the folder, or the object store URL when
    /// the tables live in one.
    pub fn table_path(&self, table: &str) -> PathBuf {
        match &self.tables {
            None => self.dir.join("tables").join(table),
            Some(base) => PathBuf::from(remote_table_url(base, table).to_string()),
        }
    }

    /// The URL deltalake opens its Delta table `table` at.
    pub fn table_url(&self, table: &str) -> Result<Url> {
        match &self.tables {
            None => table_url(&self.table_path(table)),
            Some(base) => Ok(remote_table_url(base, table)),
        }
    }

    /// Its committed state: what every reader reads.
    pub fn manifest(&self) -> Result<Manifest> {
        read_json(&self.dir.join("current.json"))
    }

    fn load_state_path(&self, load_id: u64) -> PathBuf {
        self.dir.join("loads").join(format!("{load_id:06}.json"))
    }

    /// The state load `load_id` committed: the Delta versions its tables had then.
    pub fn manifest_at(&self, load_id: u64) -> Result<Manifest> {
        let current = self.manifest()?;
        if load_id == 0 || load_id > current.last_load_id {
            return Err(WarehouseError::UnknownLoad {
                id: self.id.clone(),
                load_id,
                last: current.last_load_id,
            });
        }
        if load_id == current.last_load_id {
            return Ok(current);
        }
        let path = self.load_state_path(load_id);
        if !path.is_file() {
            return Err(WarehouseError::NoLoadState {
                id: self.id.clone(),
                load_id,
            });
        }
        read_json(&path)
    }

    /// Rolls every table whose Delta log runs past the committed manifest (a load was killed
    /// between its table commits and the manifest) back to the manifest's version, by a
    /// restore commit, so that readers of the newest version — Spark, DuckDB, delta-rs — read
    /// the committed state. Returns the manifest, naming the restore commits (the same rows).
    pub async fn roll_back_orphans(&self, lock: &TenantLock) -> Result<Manifest> {
        let _ = lock;
        let mut manifest = self.manifest()?;
        let mut rolled = false;
        for (name, version) in manifest.tables.clone() {
            let path = self.table_path(&name);
            let url = self.table_url(&name)?;
            let table = open_delta(&url, &path).await?;
            if table.version().is_none_or(|head| head <= version) {
                continue;
            }
            let (table, _) = table
                .restore()
                .with_version_to_restore(version)
                .await
                .map_err(|e| delta_err(&path, e))?;
            sync_version(&url, &path, &table)?;
            manifest
                .tables
                .insert(name, table.version().unwrap_or_default());
            rolled = true;
        }
        if rolled {
            // The same state under the restore commits' numbers; the generation stays, as
            // nothing a reader sees has changed.
            write_json(&self.dir.join("current.json"), &manifest)?;
        }
        Ok(manifest)
    }

    /// Takes the tenant's writer lock, or says another process holds it.
    pub fn lock(&self) -> Result<TenantLock> {
        let path = self.dir.join(".lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(TenantLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(WarehouseError::Busy {
                id: self.id.clone(),
            }),
            Err(fs::TryLockError::Error(e)) => Err(WarehouseError::Io { path, source: e }),
        }
    }

    /// Every rules version kept, oldest first (the versions a replay can name).
    pub fn rules_versions(&self) -> Result<Vec<u32>> {
        let dir = self.dir.join("rules");
        let mut versions = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let name = entry.map_err(io_err(&dir))?.file_name();
            if let Some(v) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".toml"))
                .and_then(|n| n.parse::<u32>().ok())
            {
                versions.push(v);
            }
        }
        versions.sort_unstable();
        Ok(versions)
    }

    /// The tenant's query limits (`limits.toml`; the defaults when there is none).
    pub fn limits(&self) -> Result<model::Limits> {
        let path = self.dir.join("limits.toml");
        if !path.is_file() {
            return Ok(model::Limits::default());
        }
        let text = fs::read_to_string(&path).map_err(io_err(&path))?;
        model::Limits::parse(&text).map_err(|source| WarehouseError::Limits { path, source })
    }

    /// Replaces the tenant's query limits.
    pub fn set_limits(&self, limits: &model::Limits) -> Result<()> {
        write_atomic(&self.dir.join("limits.toml"), limits.to_toml().as_bytes())
    }

    /// The rules in force: (version, text, parsed).
    pub fn rules(&self) -> Result<(u32, String, Rules)> {
        let version = self.rules_versions()?.last().copied().unwrap_or(0);
        self.rules_version(version)
    }

    /// Rules version `version`: (version, text, parsed), for a replay.
    pub fn rules_version(&self, version: u32) -> Result<(u32, String, Rules)> {
        let path = self.dir.join("rules").join(rules_file_name(version));
        if !path.is_file() {
            let known = self.rules_versions()?;
            return Err(WarehouseError::UnknownRulesVersion {
                version,
                known: known
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let text = fs::read_to_string(&path).map_err(io_err(&path))?;
        let rules = Rules::parse(&text, &path.display().to_string())?;
        Ok((version, text, rules))
    }

    /// Validates `text` and, when it is accepted, makes it the next rules version.
    pub fn set_rules(&self, text: &str, source_name: &str) -> Result<u32> {
        Rules::parse(text, source_name)?;
        let _lock = self.lock()?;
        let next = self.rules_versions()?.last().copied().unwrap_or(0) + 1;
        write_atomic(
            &self.dir.join("rules").join(rules_file_name(next)),
            text.as_bytes(),
        )?;
        Ok(next)
    }

    /// The Delta table `table` at the version `manifest` committed.
    pub async fn delta_at(&self, table: &str, manifest: &Manifest) -> Result<DeltaTable> {
        let path = self.table_path(table);
        let version = manifest.tables.get(table).copied().unwrap_or(0);
        deltalake::open_table_with_version(self.table_url(table)?, version)
            .await
            .map_err(|e| delta_err(&path, e))
    }

    /// Reads a table as committed in `manifest`.
    pub async fn read_table(&self, table: &str, manifest: &Manifest) -> Result<Vec<RecordBatch>> {
        let schema = schema_of(table).ok_or_else(|| WarehouseError::Schema {
            table: table.to_string(),
            source: arrow::error::ArrowError::SchemaError("not a warehouse table".into()),
        })?;
        let path = self.table_path(table);
        let delta = self.delta_at(table, manifest).await?;
        let (_, stream) = delta.scan_table().await.map_err(|e| delta_err(&path, e))?;
        let batches: Vec<RecordBatch> = stream
            .try_collect()
            .await
            .map_err(|e| delta_err(&path, DeltaTableError::from(e)))?;
        batches
            .iter()
            .filter(|b| b.num_rows() > 0)
            .map(|b| conform(table, b, &schema))
            .collect()
    }

    /// Commits new contents for some tables as one step: either all of them become current
    /// or, if the process dies first, none do. The caller must hold the tenant's lock and pass
    /// the manifest it read under that lock.
    pub async fn commit(
        &self,
        _lock: &TenantLock,
        base: &Manifest,
        last_load_id: u64,
        tables: Vec<(String, Vec<RecordBatch>)>,
    ) -> Result<Manifest> {
        // The tables are written at once, each on a task of its own (encoding Parquet is most
        // of a load's commit); the manifest below is still the one step that makes them current.
        let mut writes = Vec::new();
        for (name, batches) in tables {
            let path = self.table_path(&name);
            let url = self.table_url(&name)?;
            let schema = schema_of(&name).ok_or_else(|| WarehouseError::Schema {
                table: name.clone(),
                source: arrow::error::ArrowError::SchemaError("not a warehouse table".into()),
            })?;
            let task = tokio::spawn(write_table(url, path.clone(), schema, batches));
            writes.push((name, path, task));
        }
        // Every write is waited for, failed or not: none may still be writing once the caller
        // lets go of the tenant's lock.
        let mut next = base.clone();
        let mut failed = None;
        for (name, path, task) in writes {
            match task.await {
                Ok(Ok(version)) => {
                    next.tables.insert(name, version);
                }
                Ok(Err(e)) => {
                    failed.get_or_insert(e);
                }
                Err(source) => {
                    failed.get_or_insert(WarehouseError::WriteStopped { path, source });
                }
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        next.generation += 1;
        next.last_load_id = last_load_id;
        // Each load's state is kept for `--as-of`; written first, so a kill in between leaves
        // a state for a load id the next load reuses.
        let loads = self.dir.join("loads");
        fs::create_dir_all(&loads).map_err(io_err(&loads))?;
        write_json(&self.load_state_path(last_load_id), &next)?;
        write_json(&self.dir.join("current.json"), &next)?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};

    use super::*;

    fn units(ids: &[&str]) -> RecordBatch {
        let schema = schema_of("grid_units").unwrap();
        let n = ids.len();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(ids.to_vec())),
                Arc::new(StringArray::from(vec![None::<&str>; n])),
                Arc::new(Int64Array::from(vec![0; n])),
                Arc::new(StringArray::from(vec!["县"; n])),
                Arc::new(StringArray::from(vec![None::<&str>; n])),
                Arc::new(StringArray::from(vec![None::<&str>; n])),
            ],
        )
        .unwrap()
    }

    async fn ids(tenant: &Tenant) -> Vec<String> {
        let manifest = tenant.manifest().unwrap();
        let batches = tenant.read_table("grid_units", &manifest).await.unwrap();
        let mut out: Vec<String> = batches
            .iter()
            .flat_map(|b| {
                let col = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
                col.iter()
                    .map(|v| v.unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        out
    }

    /// A new warehouse with one tenant, `t`; the folder goes when the first value is dropped.
    async fn one_tenant() -> (tempfile::TempDir, Warehouse, Tenant) {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::init(&dir.path().join("wh")).unwrap();
        let tenant = wh.add_tenant("t", "测试县").await.unwrap();
        (dir, wh, tenant)
    }

    /// Commits grid units `ids` as load `load` over the tenant's current state.
    async fn commit_units(tenant: &Tenant, lock: &TenantLock, load: u64, ids: &[&str]) {
        let base = tenant.manifest().unwrap();
        tenant
            .commit(
                lock,
                &base,
                load,
                vec![("grid_units".into(), vec![units(ids)])],
            )
            .await
            .unwrap();
    }

    /// A table is written in row groups of [`ROW_GROUP_ROWS`], not one: a reader gives each
    /// core a share of a file's row groups, so a county's 616,000 points entries in one row
    /// group were read, and aggregated, by one core while the other waited.
    #[tokio::test]
    async fn a_large_table_is_written_in_row_groups_every_core_can_share() {
        use deltalake::parquet::file::reader::{FileReader, SerializedFileReader};

        let (_dir, _wh, tenant) = one_tenant().await;
        let lock = tenant.lock().unwrap();
        let ids: Vec<String> = (0..3 * ROW_GROUP_ROWS + 5)
            .map(|i| format!("U{i}"))
            .collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        commit_units(&tenant, &lock, 1, &ids).await;
        let mut groups = Vec::new();
        for file in fs::read_dir(tenant.table_path("grid_units")).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "parquet") {
                let reader = SerializedFileReader::new(fs::File::open(&path).unwrap()).unwrap();
                let meta = reader.metadata();
                groups.extend((0..meta.num_row_groups()).map(|g| meta.row_group(g).num_rows()));
            }
        }
        let size = ROW_GROUP_ROWS as i64;
        assert_eq!(groups, [size, size, size, 5], "row groups of every file");
    }

    /// A load that dies after committing a Delta version but before `current.json` moves on
    /// leaves a version nobody reads; the next commit replaces it rather than building on it.
    #[tokio::test]
    async fn versions_written_by_a_dead_load_are_never_read_or_built_upon() {
        let (_dir, _wh, tenant) = one_tenant().await;
        let lock = tenant.lock().unwrap();
        commit_units(&tenant, &lock, 1, &["A"]).await;
        assert_eq!(ids(&tenant).await, ["A"]);

        // The dead load: a Delta commit with no manifest update.
        let path = tenant.table_path("grid_units");
        let orphan = open_delta(&tenant.table_url("grid_units").unwrap(), &path)
            .await
            .unwrap();
        orphan
            .write(vec![units(&["A", "ORPHAN"])])
            .with_save_mode(SaveMode::Overwrite)
            .await
            .unwrap();
        assert_eq!(
            ids(&tenant).await,
            ["A"],
            "readers follow current.json only"
        );

        commit_units(&tenant, &lock, 2, &["A", "B"]).await;
        assert_eq!(ids(&tenant).await, ["A", "B"]);
        assert_eq!(tenant.manifest().unwrap().last_load_id, 2);
    }

    #[tokio::test]
    async fn a_second_writer_is_told_the_tenant_is_busy() {
        let (_dir, wh, tenant) = one_tenant().await;
        let _held = tenant.lock().unwrap();
        let again = wh.tenant("t").unwrap();
        assert!(matches!(again.lock(), Err(WarehouseError::Busy { .. })));
    }

    #[test]
    fn tenant_ids_are_plain() {
        for ok in ["liling", "qingxi_2", "a-b"] {
            assert!(Warehouse::validate_tenant_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "../x", "Liling", "醴陵", "1abc", "a b"] {
            assert!(Warehouse::validate_tenant_id(bad).is_err(), "{bad}");
        }
    }
}
