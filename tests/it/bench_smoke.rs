//! The benchmark's smoke run: `bench/run.py --check` at sample scale, with the binaries of
//! this build. It times nothing worth reading; it proves every phase still runs and that
//! gridassess, DuckDB and Polars compute the same results (P1 every metric, P2 the attendance
//! group-by, P3 the township ranks, P8 the group-by on a Ballista cluster of one and of two
//! executors). Needs python3 with duckdb, polars, pyarrow and psycopg;
//! `.ci/run` installs them.

use std::path::Path;

#[test]
fn the_benchmark_runs_and_every_engine_agrees_on_the_sample() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let binaries = Path::new(env!("CARGO_BIN_EXE_gridassess"))
        .parent()
        .expect("the binaries' folder");
    assert!(binaries.join("gridassess-bench").is_file());
    let work = tempfile::tempdir().expect("dir");
    let out = std::process::Command::new("python3")
        .arg(root.join("bench/run.py"))
        .args([
            "--scale",
            "sample",
            "--check",
            "--runs",
            "1",
            "--profile",
            "dev",
        ])
        .arg("--binaries")
        .arg(binaries)
        .arg("--work")
        .arg(work.path())
        .output()
        .expect("python3 runs");
    let report = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}\n{log}");
    // P1: 10 views × (CLI, concurrent, kept results, DuckDB, Polars); P2: 2; P3: 4; P4: 3
    // (every row of the GBK CSV, Parquet and xlsx inputs loaded); P5: 1; P6: 2; P7: 9 metric
    // commands answered; P8: 2 (one and two executors, each equal to in-process).
    assert!(
        report.contains("Results checked equal: 73 of 73."),
        "{report}\n{log}"
    );
}
