use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::RecordBatch;
use arrow::compute::{SortColumn, lexsort_to_indices, take_record_batch};
use tempfile::TempDir;

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gridassess"))
}

/// The golden ingest fixtures (`valid/<case>/`, `invalid/<case>/`), which live with ingest.
pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/ingest/tests/fixtures"
    ))
}

/// A fresh warehouse with one tenant, `t`.
pub struct Warehouse {
    pub dir: TempDir,
}

impl Warehouse {
    pub fn new() -> Self {
        let w = Warehouse {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        w.ok(&["init"]);
        w.ok(&["tenant", "add", "t", "--name", "测试县"]);
        w
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("wh")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = bin();
        c.env("GRIDASSESS_WAREHOUSE", self.path()).args(args);
        c
    }

    pub fn run_in(&self, cwd: &Path, args: &[&str]) -> Output {
        self.command(args)
            .current_dir(cwd)
            .output()
            .expect("run gridassess")
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run gridassess")
    }

    /// Loads the bundled sample county into `t`; returns the load's report.
    pub fn load_sample(&self) -> String {
        self.ok(&[
            "ingest",
            "--tenant",
            "t",
            datasets::sample_dir().to_str().expect("path"),
        ])
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok_in(&self, cwd: &Path, args: &[&str]) -> String {
        let out = self.run_in(cwd, args);
        assert!(
            out.status.success(),
            "gridassess {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_in(Path::new("."), args)
    }
}

/// A warehouse at `wh` with two counties: `a` (甲县) holding the sample county, and `b` (乙县)
/// holding the English UTF-8 fixture, whose values stand as canaries that `a` must never see.
pub fn two_counties(wh: &Path) {
    let run = |args: &[&str]| run_in(wh, args);
    run(&["init"]);
    run(&["tenant", "add", "a", "--name", "甲县"]);
    run(&["tenant", "add", "b", "--name", "乙县"]);
    let sample = datasets::sample_dir();
    run(&["ingest", "--tenant", "a", sample.to_str().expect("path")]);
    let fixture = fixtures().join("valid/utf8_english/input");
    run(&["ingest", "--tenant", "b", fixture.to_str().expect("path")]);
}

/// Every SPEC table of tenant `t` in `warehouse`, as committed, with rows in key order.
pub fn tables_of(warehouse: &Path) -> Vec<(String, RecordBatch)> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let tenant = warehouse::Warehouse::open(warehouse)
            .expect("warehouse")
            .tenant("t")
            .expect("tenant");
        let manifest = tenant.manifest().expect("manifest");
        let mut out = Vec::new();
        for table in model::schema::TABLES {
            let batches = tenant
                .read_table(table.name, &manifest)
                .await
                .expect("read");
            let batch =
                arrow::compute::concat_batches(&table.arrow_schema(), &batches).expect("concat");
            let sort: Vec<SortColumn> = table
                .primary_key
                .iter()
                .map(|k| SortColumn {
                    values: batch.column(table.column_index(k).expect("key")).clone(),
                    options: None,
                })
                .collect();
            let idx = lexsort_to_indices(&sort, None).expect("sort");
            out.push((
                table.name.to_string(),
                take_record_batch(&batch, &idx).expect("take"),
            ));
        }
        out
    })
}

/// Runs `gridassess ARGS` on the warehouse `wh`; fails the test with its stderr if it fails.
pub fn run_in(wh: &Path, args: &[&str]) {
    let out = bin()
        .env("GRIDASSESS_WAREHOUSE", wh)
        .args(args)
        .output()
        .expect("run gridassess");
    assert!(
        out.status.success(),
        "gridassess {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs gridassess on the warehouse `wh` with `stdin` (a password, say) and asserts success;
/// returns stdout.
pub fn cli(wh: &Path, args: &[&str], stdin: Option<&str>) -> String {
    use std::process::Stdio;
    let mut cmd = bin();
    cmd.env("GRIDASSESS_WAREHOUSE", wh).args(args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run gridassess");
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write");
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "gridassess {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a Python script of `tests/{folder}/` (a client of a running server: psycopg, urllib or
/// selenium) with `args`: it must exit 0, having printed at least `min_checks` `ok NAME` lines.
/// `tests/run.sh` sets up the environment it needs.
pub fn run_checks(folder: &str, script: &str, args: &[String], min_checks: usize) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(folder)
        .join(script);
    let out = Command::new("python3")
        .arg(&script)
        .args(args)
        .output()
        .expect("python3 runs (tests/run.sh sets up its environment)");
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passed = report.lines().filter(|l| l.starts_with("ok ")).count();
    assert!(passed >= min_checks, "{passed} checks passed:\n{report}");
}

/// Sets tenant `t`'s rules version 2: the default rules plus a tier from 0 points, so the flag
/// holder of a low-scoring township is paid too (¥100).
pub fn set_rules_paying_low_flag_holders(w: &Warehouse) {
    let shown = w.ok(&["rules", "show", "--tenant", "t"]);
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("rules.toml");
    let edited = shown.replace(
        "{ min_score = 85, rewards = [300, 250, 200] } ]",
        "{ min_score = 85, rewards = [300, 250, 200] },\n          { min_score = 0, rewards = [100] } ]",
    );
    assert_ne!(
        edited, shown,
        "the default rules' tiers are written as this expects"
    );
    std::fs::write(&file, edited).expect("write");
    w.ok(&[
        "rules",
        "set",
        "--tenant",
        "t",
        file.to_str().expect("path"),
    ]);
}
