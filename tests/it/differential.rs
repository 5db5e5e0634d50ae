//! Every metric view equals an independent formulation of SPEC §4 (DuckDB plus plain Python,
//! written from the SPEC text, not from the views) on a full generated county.
//! Needs `python3` with `duckdb`; `tests/run.sh` sets it up.

use std::path::Path;

#[test]
fn every_view_equals_an_independent_duckdb_formulation() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/duckdb_metrics.py");
    let work = tempfile::tempdir().expect("dir");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_gridassess"))
        .arg(work.path())
        .output()
        .expect("python3 runs (with duckdb and polars: tests/run.sh sets them up)");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "views differ from the DuckDB formulation:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        report.lines().filter(|l| l.starts_with("ok ")).count(),
        10,
        "{report}"
    );
}
