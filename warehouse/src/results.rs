//! Metric results kept next to the data they were computed from.
//!
//! A committed state never changes, so neither do the metric views over it: they are computed
//! once (by the load that committed the state, or the `rules set` that made a new rules version
//! the one in force) and every later command reads them instead of computing them again.
//!
//! Layout: `tenants/ID/results/<key>/<view>.arrow`, one Arrow IPC file per view, where the key
//! names everything the rows depend on — the state's generation, the rules version, and a
//! fingerprint of the views' SQL (a gridassess whose views changed does not read an older
//! one's rows). A result set is written in a hidden folder and renamed into place, so a reader
//! sees the whole set or none of it; a writer killed midway leaves a hidden folder that the next
//! write clears. Arrow IPC keeps every type exactly (decimals, nulls) and is read without
//! decoding; pyarrow, Polars and DuckDB open it as well.

use std::fs;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;

use crate::{Result, Tenant, WarehouseError, io_err};

/// What a set of results depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResultsKey {
    /// The committed state's generation ([`crate::Manifest::generation`]).
    pub generation: u64,
    /// The rules version the views were computed under.
    pub rules_version: u32,
    /// What else decides the rows: the views' SQL and the program's version, hashed.
    pub fingerprint: u64,
}

impl ResultsKey {
    fn folder_name(&self) -> String {
        format!(
            "g{:06}-r{:04}-{:016x}",
            self.generation, self.rules_version, self.fingerprint
        )
    }

    fn generation_of(folder: &str) -> Option<u64> {
        folder.strip_prefix('g')?.split('-').next()?.parse().ok()
    }
}

/// A complete set of kept results.
#[derive(Debug, Clone)]
pub struct StoredResults {
    dir: PathBuf,
}

impl StoredResults {
    /// The file of `view`'s rows.
    pub fn path(&self, view: &str) -> PathBuf {
        self.dir.join(format!("{view}.arrow"))
    }

    /// Whether the set holds `view`.
    pub fn holds(&self, view: &str) -> bool {
        self.path(view).is_file()
    }

    /// `view`'s columns, read from its file's footer (no rows are read).
    pub fn schema(&self, view: &str) -> Result<SchemaRef> {
        let path = self.path(view);
        let file = fs::File::open(&path).map_err(io_err(&path))?;
        let reader = FileReader::try_new(file, None).map_err(|e| ipc_err(&path, e))?;
        Ok(reader.schema())
    }

    /// `view`'s rows.
    pub fn read(&self, view: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let path = self.path(view);
        let file = fs::File::open(&path).map_err(io_err(&path))?;
        let reader = FileReader::try_new(std::io::BufReader::new(file), None)
            .map_err(|e| ipc_err(&path, e))?;
        let schema = reader.schema();
        let batches = reader
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| ipc_err(&path, e))?;
        Ok((schema, batches))
    }
}

fn ipc_err(path: &Path, source: arrow::error::ArrowError) -> WarehouseError {
    WarehouseError::Results {
        path: path.to_path_buf(),
        source,
    }
}

/// How many generations of results stay: the newest, and the one before it for readers that
/// opened it just before a commit.
const GENERATIONS_KEPT: u64 = 2;

impl Tenant {
    fn results_root(&self) -> PathBuf {
        self.dir.join("results")
    }

    /// The results kept for `key`, if a complete set was stored.
    pub fn stored_results(&self, key: &ResultsKey) -> Option<StoredResults> {
        let dir = self.results_root().join(key.folder_name());
        dir.is_dir().then_some(StoredResults { dir })
    }

    /// Keeps `views` (name, columns, rows) as the results of `key`, whole or not at all, and
    /// clears results of generations no reader asks for any more. Two writers of the same key
    /// (both computed the same rows) keep the first set.
    pub fn store_results(
        &self,
        key: &ResultsKey,
        views: &[(&str, SchemaRef, Vec<RecordBatch>)],
    ) -> Result<StoredResults> {
        let root = self.results_root();
        fs::create_dir_all(&root).map_err(io_err(&root))?;
        let done = root.join(key.folder_name());
        let partial = root.join(format!(
            ".partial-{}-{}-{}",
            key.folder_name(),
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        fs::create_dir(&partial).map_err(io_err(&partial))?;
        let written = write_views(&partial, views);
        if let Err(e) = written {
            let _ = fs::remove_dir_all(&partial);
            return Err(e);
        }
        if let Err(e) = fs::rename(&partial, &done) {
            let _ = fs::remove_dir_all(&partial);
            // Another writer stored the same key first: its rows are the same.
            if !done.is_dir() {
                return Err(io_err(&done)(e));
            }
        }
        if let Ok(d) = fs::File::open(&root) {
            let _ = d.sync_all();
        }
        self.prune_results(key.generation);
        Ok(StoredResults { dir: done })
    }

    /// Removes the results of `key` (to compute them again: `gridassess tenant refresh`).
    pub fn drop_results(&self, key: &ResultsKey) -> Result<()> {
        let dir = self.results_root().join(key.folder_name());
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(&dir)(e)),
            _ => Ok(()),
        }
    }

    /// Removes every kept result set, so the next reader computes its views (a benchmark of
    /// the computation calls this between runs).
    pub fn forget_results(&self) -> Result<()> {
        let root = self.results_root();
        match fs::remove_dir_all(&root) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(&root)(e)),
            _ => Ok(()),
        }
    }

    /// Removes the results of generations older than the kept ones, and hidden folders that
    /// writers killed midway left behind (older than a minute, so no running writer's).
    fn prune_results(&self, newest: u64) {
        let root = self.results_root();
        let Ok(entries) = fs::read_dir(&root) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let stale = if name.starts_with(".partial-") {
                entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age.as_secs() > 60)
            } else {
                ResultsKey::generation_of(name).is_some_and(|g| g + GENERATIONS_KEPT <= newest)
            };
            if stale {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

fn write_views(dir: &Path, views: &[(&str, SchemaRef, Vec<RecordBatch>)]) -> Result<()> {
    for (name, schema, batches) in views {
        let path = dir.join(format!("{name}.arrow"));
        let file = fs::File::create(&path).map_err(io_err(&path))?;
        let mut writer = FileWriter::try_new(std::io::BufWriter::new(file), schema)
            .map_err(|e| ipc_err(&path, e))?;
        for batch in batches {
            writer.write(batch).map_err(|e| ipc_err(&path, e))?;
        }
        let file = writer
            .into_inner()
            .map_err(|e| ipc_err(&path, e))?
            .into_inner()
            .map_err(|e| io_err(&path)(e.into_error()))?;
        file.sync_all().map_err(io_err(&path))?;
    }
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Decimal128Array, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::Warehouse;

    fn rows() -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("total", DataType::Decimal128(12, 2), true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(
                    Decimal128Array::from(vec![Some(9500), None])
                        .with_precision_and_scale(12, 2)
                        .unwrap(),
                ),
            ],
        )
        .unwrap();
        (schema, vec![batch])
    }

    fn key(generation: u64) -> ResultsKey {
        ResultsKey {
            generation,
            rules_version: 1,
            fingerprint: 0xabc,
        }
    }

    async fn tenant() -> (tempfile::TempDir, Tenant) {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::init(&dir.path().join("w")).unwrap();
        let tenant = wh.add_tenant("t", "县").await.unwrap();
        (dir, tenant)
    }

    #[tokio::test]
    async fn results_are_read_back_exactly_and_only_under_their_key() {
        let (_dir, tenant) = tenant().await;
        assert!(tenant.stored_results(&key(1)).is_none());
        let (schema, batches) = rows();
        tenant
            .store_results(&key(1), &[("v", schema.clone(), batches.clone())])
            .unwrap();
        let stored = tenant.stored_results(&key(1)).unwrap();
        assert_eq!(stored.schema("v").unwrap(), schema);
        assert_eq!(stored.read("v").unwrap(), (schema, batches));
        assert!(!stored.holds("w"));
        let other = ResultsKey {
            fingerprint: 0xdef,
            ..key(1)
        };
        assert!(tenant.stored_results(&other).is_none(), "other views' SQL");
        let replay = ResultsKey {
            rules_version: 2,
            ..key(1)
        };
        assert!(tenant.stored_results(&replay).is_none(), "other rules");
    }

    #[tokio::test]
    async fn a_second_writer_of_the_same_key_keeps_the_first_set() {
        let (_dir, tenant) = tenant().await;
        let (schema, batches) = rows();
        tenant
            .store_results(&key(1), &[("v", schema.clone(), batches.clone())])
            .unwrap();
        tenant
            .store_results(&key(1), &[("v", schema.clone(), vec![])])
            .unwrap();
        assert_eq!(
            tenant.stored_results(&key(1)).unwrap().read("v").unwrap().1,
            batches
        );
        let left: Vec<_> = fs::read_dir(tenant.results_root()).unwrap().collect();
        assert_eq!(left.len(), 1, "no partial folder left behind");
    }

    /// A writer killed before its rename leaves a hidden folder; nothing reads it, and it is
    /// cleared once it is old.
    #[tokio::test]
    async fn a_killed_writer_leaves_nothing_a_reader_sees() {
        let (_dir, tenant) = tenant().await;
        let partial = tenant
            .results_root()
            .join(format!(".partial-{}-1-1", key(1).folder_name()));
        fs::create_dir_all(&partial).unwrap();
        fs::write(partial.join("v.arrow"), b"half a file").unwrap();
        assert!(tenant.stored_results(&key(1)).is_none());
        let (schema, batches) = rows();
        tenant
            .store_results(&key(1), &[("v", schema, batches)])
            .unwrap();
        assert!(partial.is_dir(), "young: it may be a running writer's");
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
        fs::File::open(&partial).unwrap().set_modified(old).unwrap();
        tenant.prune_results(1);
        assert!(!partial.exists());
    }

    #[tokio::test]
    async fn only_the_newest_two_generations_are_kept() {
        let (_dir, tenant) = tenant().await;
        let (schema, batches) = rows();
        for g in 1..=4 {
            tenant
                .store_results(&key(g), &[("v", schema.clone(), batches.clone())])
                .unwrap();
        }
        let kept: Vec<_> = (1..=4)
            .filter(|g| tenant.stored_results(&key(*g)).is_some())
            .collect();
        assert_eq!(kept, vec![3, 4]);
    }

    /// A damaged file is an error naming it, never rows read as empty.
    #[tokio::test]
    async fn a_damaged_file_is_named() {
        let (_dir, tenant) = tenant().await;
        let (schema, batches) = rows();
        let stored = tenant
            .store_results(&key(1), &[("v", schema, batches)])
            .unwrap();
        fs::write(stored.path("v"), b"not arrow").unwrap();
        let e = stored.read("v").unwrap_err().to_string();
        assert!(e.contains("v.arrow"), "{e}");
    }
}
