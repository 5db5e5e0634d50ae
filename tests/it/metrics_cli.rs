//! The metric commands on the fixture county: the csv output keeps the SPEC names and raw
//! values, the table output is for people. Both are snapshots.

use crate::common::{Warehouse, fixtures};

fn loaded() -> Warehouse {
    let w = Warehouse::new();
    let input = fixtures().join("valid/gbk_chinese/input");
    w.ok(&["ingest", "--tenant", "t", input.to_str().expect("path")]);
    w
}

#[test]
fn every_metric_command_in_csv_and_table() {
    let w = loaded();
    let runs: &[(&str, &[&str])] = &[
        (
            "assess_period",
            &["assess", "--tenant", "t", "--period", "2024年1-2月"],
        ),
        (
            "assess_year",
            &["assess", "--tenant", "t", "--year", "2024"],
        ),
        ("coverage", &["coverage", "--tenant", "t"]),
        (
            "coverage_findings",
            &["coverage", "--tenant", "t", "--findings"],
        ),
        ("attendance", &["attendance", "--tenant", "t"]),
        (
            "attendance_township",
            &[
                "attendance",
                "--tenant",
                "t",
                "--level",
                "2",
                "--year",
                "2024",
            ],
        ),
        (
            "attendance_compliance",
            &["attendance", "--tenant", "t", "--compliance"],
        ),
        (
            "attendance_alerts",
            &["attendance", "--tenant", "t", "--alerts"],
        ),
        ("points", &["points", "--tenant", "t", "--year", "2024"]),
        ("grid", &["grid", "--tenant", "t"]),
    ];
    for (name, args) in runs {
        let mut csv_args = args.to_vec();
        csv_args.extend(["--format", "csv"]);
        insta::assert_snapshot!(format!("{name}_csv"), w.ok(&csv_args));
        insta::assert_snapshot!(format!("{name}_table"), w.ok(args));
    }
}

#[test]
fn a_period_without_scores_says_which_periods_have_them() {
    let w = loaded();
    let out = w.run(&["assess", "--tenant", "t", "--period", "2024-B5"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no branch took part in 2024-B5"), "{err}");
    assert!(err.contains("periods with scores: 2024-B1"), "{err}");
}

#[test]
fn binary_formats_are_written_to_the_output_file() {
    let w = loaded();
    let dir = tempfile::tempdir().expect("dir");
    for (format, magic) in [("parquet", &b"PAR1"[..]), ("xlsx", &b"PK"[..])] {
        let file = dir.path().join(format!("ranking.{format}"));
        let args = [
            "assess",
            "--tenant",
            "t",
            "--period",
            "2024-B1",
            "--format",
            format,
            "--output",
            file.to_str().expect("path"),
        ];
        w.ok(&args);
        let bytes = std::fs::read(&file).expect("written");
        assert!(bytes.starts_with(magic), "{format}");
    }
    let out = w.run(&[
        "assess", "--tenant", "t", "--period", "2024-B1", "--format", "xlsx",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--output FILE"));
}

#[test]
fn the_sample_countys_ranking_and_coverage_as_people_and_machines_see_them() {
    let w = Warehouse::new();
    w.load_sample();
    let runs: &[(&str, &[&str])] = &[
        (
            "sample_assess_b6",
            &["assess", "--tenant", "t", "--period", "2024-B6"],
        ),
        (
            "sample_assess_year",
            &["assess", "--tenant", "t", "--year", "2024"],
        ),
        (
            "sample_coverage_county",
            &["coverage", "--tenant", "t", "--level", "0"],
        ),
        (
            "sample_coverage_findings",
            &["coverage", "--tenant", "t", "--findings"],
        ),
        (
            "sample_attendance_districts",
            &["attendance", "--tenant", "t", "--level", "1"],
        ),
        (
            "sample_grid_townships",
            &["grid", "--tenant", "t", "--level", "2"],
        ),
    ];
    for (name, args) in runs {
        let mut csv_args = args.to_vec();
        csv_args.extend(["--format", "csv"]);
        insta::assert_snapshot!(format!("{name}_csv"), w.ok(&csv_args));
        insta::assert_snapshot!(format!("{name}_table"), w.ok(args));
    }
}
