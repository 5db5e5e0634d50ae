//! The golden ingest fixtures: each case's reconciliation and issues must match the reviewed
//! `expected.csv` and `expected_issues.csv` beside it. Set `GRIDASSESS_BLESS=1` to write the
//! files of a new case, then review them by hand before committing.

use std::fs;
use std::path::Path;

use crate::common::{Warehouse, fixtures, tables_of};

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
        "{} differs from what the load printed",
        path.display()
    );
}

/// Loads one case and compares its reconciliation and issues; returns the warehouse.
fn run_case(case: &Path) -> Warehouse {
    let w = Warehouse::new();
    if case.join("before").is_dir() {
        let before = w.ok_in(
            case,
            &["ingest", "--tenant", "t", "--format", "csv", "before"],
        );
        assert!(
            before.lines().skip(1).all(|l| l.ends_with(",0,0")),
            "the before/ files of {} must load cleanly:\n{before}",
            case.display()
        );
    }
    let reconciliation = w.ok_in(
        case,
        &["ingest", "--tenant", "t", "--format", "csv", "input"],
    );
    check_or_bless(&case.join("expected.csv"), &reconciliation);
    let issues = w.ok_in(case, &["rejections", "--tenant", "t", "--format", "csv"]);
    check_or_bless(&case.join("expected_issues.csv"), &issues);

    // read = loaded + rejected, for every table.
    for line in reconciliation.lines().skip(1) {
        let f: Vec<i64> = line
            .split(',')
            .skip(1)
            .map(|v| v.parse().expect("count"))
            .collect();
        assert_eq!(f[0], f[1] + f[2], "{}: {line}", case.display());
    }
    // Every rejected row has a rejection issue, every warning is counted.
    let rejected_issues = issues.lines().filter(|l| l.ends_with(",rejected")).count();
    let rejected_rows: i64 = reconciliation
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .nth(3)
                .expect("rejected")
                .parse::<i64>()
                .expect("count")
        })
        .sum();
    assert!(
        rejected_issues as i64 >= rejected_rows,
        "{}",
        case.display()
    );
    w
}

fn cases(kind: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = fs::read_dir(fixtures().join(kind))
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

#[test]
fn every_form_of_the_county_loads_to_the_same_tables() {
    let cases = cases("valid");
    assert!(cases.len() >= 5);
    let mut first: Option<(String, Vec<(String, arrow::array::RecordBatch)>)> = None;
    for case in cases {
        let w = run_case(&case);
        let tables = tables_of(&w.path());
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        for (table, batch) in &tables {
            assert!(batch.num_rows() > 0, "{name}: {table} is empty");
        }
        match &first {
            None => first = Some((name, tables)),
            Some((first_name, expected)) => {
                for ((table, a), (_, b)) in tables.iter().zip(expected) {
                    assert_eq!(
                        a, b,
                        "{table} from {name} differs from {table} from {first_name}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_invalid_case_rejects_exactly_what_its_expected_files_say() {
    let cases = cases("invalid");
    assert!(cases.len() >= 6);
    for case in cases {
        run_case(&case);
    }
}
