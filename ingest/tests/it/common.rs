//! Loading a golden fixture case into a fresh warehouse and comparing what the load reports
//! and stores with the reviewed `expected.csv` and `expected_issues.csv` beside it. Set
//! `GRIDASSESS_BLESS=1` to write the files of a new case, then review them by hand before
//! committing.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::compute::{SortColumn, concat_batches, lexsort_to_indices, take_record_batch};
use ingest::{LoadReport, Severity};
use model::schema::TABLES;
use tokio::runtime::Runtime;
use warehouse::{Tenant, Warehouse, issues_schema};

/// The folder of golden fixtures: `valid/<case>/` and `invalid/<case>/`, each with `input/`
/// (and for some `before/`, loaded first) and the expected reconciliation and issues.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every case folder, as `valid/<case>` and `invalid/<case>`.
pub fn case_names() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for kind in ["valid", "invalid"] {
        for entry in fs::read_dir(fixtures().join(kind)).expect("fixtures folder") {
            let path = entry.expect("fixture entry").path();
            if path.is_dir() {
                let name = path.file_name().expect("name").to_string_lossy();
                out.insert(format!("{kind}/{name}"));
            }
        }
    }
    out
}

/// A case loaded into its own warehouse.
pub struct Loaded {
    pub report: LoadReport,
    /// Every table of the tenant as committed, rows in key order.
    pub tables: Vec<(&'static str, RecordBatch)>,
    _dir: tempfile::TempDir,
}

/// Loads case `name` (`invalid/scores`), after setting its `headers.toml` as the tenant's
/// header map when it has one: its `before/` files first, which must load cleanly,
/// then `input/`. Checks the reconciliation against `expected.csv`, the issues stored in the
/// warehouse against `expected_issues.csv`, and that every row read was loaded or rejected
/// with a reason.
pub fn load_case(name: &str) -> Loaded {
    let case = fixtures().join(name);
    assert!(case.join("input").is_dir(), "{name} has no input/ folder");
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = Runtime::new().expect("tokio runtime");
    let (report, issues, tables) = rt.block_on(async {
        let wh = Warehouse::init(&dir.path().join("wh")).expect("init warehouse");
        let tenant = wh.add_tenant("t", "测试县").await.expect("add tenant");
        // A case with a headers.toml is a county that set its own header map first.
        let map = case.join("headers.toml");
        if map.is_file() {
            let text = fs::read_to_string(&map).expect("read headers.toml");
            tenant
                .set_header_map(&text, "headers.toml")
                .expect("a valid header map");
        }
        if case.join("before").is_dir() {
            let before = load(&tenant, &case.join("before")).await;
            assert!(
                before.issues.is_empty(),
                "the before/ files of {name} must load cleanly: {:#?}",
                before.issues
            );
        }
        let report = load(&tenant, &case.join("input")).await;
        let (_, issues) = ingest::load_issues(&tenant, None)
            .await
            .expect("read the stored issues");
        (report, issues, committed_tables(&tenant).await)
    });
    check_or_bless(&case.join("expected.csv"), &reconciliation(&report));
    let stored = issues_csv(&issues, &format!("{}/", case.display()));
    check_or_bless(&case.join("expected_issues.csv"), &stored);
    check_every_row_is_accounted_for(name, &report);
    Loaded {
        report,
        tables,
        _dir: dir,
    }
}

/// Loads a folder that is not a golden case (the sample county) into its own warehouse,
/// checking only that every row read was loaded or rejected with a reason.
pub fn load_folder(folder: &Path) -> Loaded {
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = Runtime::new().expect("tokio runtime");
    let (report, tables) = rt.block_on(async {
        let wh = Warehouse::init(&dir.path().join("wh")).expect("init warehouse");
        let tenant = wh.add_tenant("t", "测试县").await.expect("add tenant");
        let report = load(&tenant, folder).await;
        (report, committed_tables(&tenant).await)
    });
    check_every_row_is_accounted_for(&folder.display().to_string(), &report);
    Loaded {
        report,
        tables,
        _dir: dir,
    }
}

/// Loads `folder` with the tenant's header map, as `gridassess ingest` does.
async fn load(tenant: &Tenant, folder: &Path) -> LoadReport {
    let options = ingest::LoadOptions {
        headers: tenant
            .header_map()
            .expect("read the header map")
            .map(|(_, map)| map)
            .unwrap_or_default(),
        ..ingest::LoadOptions::default()
    };
    ingest::load(tenant, &[folder.to_path_buf()], &options, &|_: &str| {})
        .await
        .unwrap_or_else(|e| panic!("loading {}: {e}", folder.display()))
}

/// The reconciliation as the CLI prints it with `--format csv`.
fn reconciliation(report: &LoadReport) -> String {
    let mut out = String::from("table,read,loaded,rejected,warnings,removed\n");
    for t in &report.tables {
        out.push_str(&format!(
            "{},{},{},{},{},{}\n",
            t.table, t.read, t.loaded, t.rejected, t.warnings, t.removed
        ));
    }
    out
}

/// The stored issues as the CLI prints them with `--format csv`, with the case's folder taken
/// off every file name (the expected files name them as the CLI does, run inside the case).
fn issues_csv(batches: &[RecordBatch], case_prefix: &str) -> String {
    let schema = issues_schema();
    let relative: Vec<RecordBatch> = batches
        .iter()
        .map(|b| {
            let columns: Vec<ArrayRef> = b
                .columns()
                .iter()
                .map(|c| match c.as_string_opt::<i32>() {
                    Some(s) => Arc::new(
                        s.iter()
                            .map(|v| v.map(|v| v.replace(case_prefix, "")))
                            .collect::<StringArray>(),
                    ) as ArrayRef,
                    None => c.clone(),
                })
                .collect();
            RecordBatch::try_new(schema.clone(), columns).expect("issues batch")
        })
        .collect();
    let mut out = Vec::new();
    {
        let mut writer = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut out);
        if relative.is_empty() {
            writer
                .write(&RecordBatch::new_empty(schema.clone()))
                .expect("write header");
        }
        for batch in &relative {
            writer.write(batch).expect("write issues");
        }
    }
    String::from_utf8(out).expect("utf-8 csv")
}

fn check_or_bless(path: &Path, actual: &str) {
    if std::env::var_os("GRIDASSESS_BLESS").is_some() {
        fs::write(path, actual).expect("write expected file");
        return;
    }
    let expected = fs::read_to_string(path).unwrap_or_else(|_| {
        panic!(
            "{} is missing; run with GRIDASSESS_BLESS=1 and review it",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "{} differs from what the load stored",
        path.display()
    );
}

/// read = loaded + rejected for every table, the rejected rows are exactly the rows with a
/// rejection issue, and each removed row has its line.
pub fn check_every_row_is_accounted_for(name: &str, report: &LoadReport) {
    for t in &report.tables {
        assert_eq!(t.read, t.loaded + t.rejected, "{name}: {t:?}");
        let rows: BTreeSet<(&str, Option<u64>)> = report
            .issues
            .iter()
            .filter(|i| i.table == t.table && i.severity == Severity::Rejected)
            .map(|i| (i.file.as_str(), i.line))
            .collect();
        assert_eq!(
            rows.len(),
            t.rejected,
            "{name}: rejected rows of {}",
            t.table
        );
        let warnings = report
            .issues
            .iter()
            .filter(|i| i.table == t.table && i.severity == Severity::Warning)
            .count();
        assert_eq!(warnings, t.warnings, "{name}: warnings of {}", t.table);
        let removed = report
            .issues
            .iter()
            .filter(|i| i.table == t.table && i.severity == Severity::Removed)
            .count();
        assert_eq!(removed, t.removed, "{name}: removed rows of {}", t.table);
    }
}

/// Every SPEC table of the tenant as committed, with rows in key order.
async fn committed_tables(tenant: &Tenant) -> Vec<(&'static str, RecordBatch)> {
    let manifest = tenant.manifest().expect("manifest");
    let mut out = Vec::new();
    for table in TABLES {
        let batches = tenant
            .read_table(table.name, &manifest)
            .await
            .expect("read table");
        let batch = concat_batches(&table.arrow_schema(), &batches).expect("concat");
        let sort: Vec<SortColumn> = table
            .primary_key
            .iter()
            .map(|k| SortColumn {
                values: batch.column(table.column_index(k).expect("key")).clone(),
                options: None,
            })
            .collect();
        let idx = lexsort_to_indices(&sort, None).expect("sort");
        out.push((table.name, take_record_batch(&batch, &idx).expect("take")));
    }
    out
}

/// The committed rows of `table`.
pub fn rows(loaded: &Loaded, table: &str) -> usize {
    loaded
        .tables
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, b)| b.num_rows())
        .unwrap_or_else(|| panic!("no table {table}"))
}

/// Text of column `column` of the committed `table`, in key order.
pub fn texts(loaded: &Loaded, table: &str, column: &str) -> Vec<Option<String>> {
    let (_, batch) = loaded
        .tables
        .iter()
        .find(|(t, _)| *t == table)
        .unwrap_or_else(|| panic!("no table {table}"));
    let c = batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("no column {table}.{column}"))
        .as_string::<i32>();
    (0..c.len())
        .map(|i| c.is_valid(i).then(|| c.value(i).to_string()))
        .collect()
}

/// The county every valid case holds, loaded from its English UTF-8 form.
pub fn reference_county() -> Loaded {
    load_case("valid/utf8_english")
}

/// Asserts that case `name` committed the same rows as the reference county, table by table.
pub fn assert_same_tables(name: &str, loaded: &Loaded, reference: &Loaded) {
    for ((table, a), (_, b)) in loaded.tables.iter().zip(&reference.tables) {
        assert_eq!(
            a, b,
            "{table} from {name} differs from the English UTF-8 form"
        );
    }
}

/// Loads the files or folders a test wrote into `dir` (kept alive with the result) into a
/// fresh warehouse, and checks that every row read was loaded or rejected with a reason.
pub fn load_paths(dir: tempfile::TempDir, paths: &[PathBuf]) -> Loaded {
    let rt = Runtime::new().expect("tokio runtime");
    let (report, tables) = rt.block_on(async {
        let wh = Warehouse::init(&dir.path().join("wh")).expect("init warehouse");
        let tenant = wh.add_tenant("t", "测试县").await.expect("add tenant");
        let report = ingest::load(
            &tenant,
            paths,
            &ingest::LoadOptions::default(),
            &|_: &str| {},
        )
        .await
        .unwrap_or_else(|e| panic!("loading {paths:?}: {e}"));
        (report, committed_tables(&tenant).await)
    });
    check_every_row_is_accounted_for("a test's own files", &report);
    Loaded {
        report,
        tables,
        _dir: dir,
    }
}

/// A tenant of its own warehouse for tests that load several times and look at the state in
/// between; inputs are written as files next to it.
pub struct County {
    pub tenant: Tenant,
    pub rt: Runtime,
    pub dir: tempfile::TempDir,
}

impl County {
    pub fn new() -> County {
        let dir = tempfile::tempdir().expect("temp dir");
        let rt = Runtime::new().expect("tokio runtime");
        let tenant = rt.block_on(async {
            let wh = Warehouse::init(&dir.path().join("wh")).expect("init warehouse");
            wh.add_tenant("t", "测试县").await.expect("add tenant")
        });
        County { tenant, rt, dir }
    }

    /// Writes `files` (name, text) into a new folder `name` and returns the folder.
    pub fn folder(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let folder = self.dir.path().join(name);
        fs::create_dir_all(&folder).expect("mkdir");
        for (file, text) in files {
            fs::write(folder.join(file), text).expect("write input");
        }
        folder
    }

    /// Loads `paths`; the load must run (rows may be rejected).
    pub fn load(&self, paths: &[PathBuf]) -> LoadReport {
        self.load_with(paths, &ingest::LoadOptions::default())
            .unwrap_or_else(|e| panic!("loading {paths:?}: {e}"))
    }

    /// Loads `paths` with `options`.
    pub fn load_with(
        &self,
        paths: &[PathBuf],
        options: &ingest::LoadOptions,
    ) -> Result<LoadReport, ingest::IngestError> {
        self.rt
            .block_on(ingest::load(&self.tenant, paths, options, &|_: &str| {}))
    }

    /// Every SPEC table as committed now, rows in key order.
    pub fn tables(&self) -> Vec<(&'static str, RecordBatch)> {
        self.rt.block_on(committed_tables(&self.tenant))
    }

    /// The committed keys of `table` (the first key column), sorted.
    pub fn keys(&self, table: &str) -> Vec<String> {
        let (_, batch) = self
            .tables()
            .into_iter()
            .find(|(t, _)| *t == table)
            .unwrap_or_else(|| panic!("no table {table}"));
        let mut out: Vec<String> = batch
            .column(0)
            .as_string::<i32>()
            .iter()
            .map(|v| v.expect("key").to_string())
            .collect();
        out.sort();
        out
    }
}

/// The English UTF-8 reference county's input folder.
pub fn reference_input() -> PathBuf {
    fixtures().join("valid/utf8_english/input")
}

/// Text of column `column` of `batch`.
pub fn texts_of(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let c = batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("no column {column}"))
        .as_string::<i32>();
    (0..c.len())
        .map(|i| c.is_valid(i).then(|| c.value(i).to_string()))
        .collect()
}
