//! One golden ingest fixture case through the binary: `ingest --format csv` prints the
//! reconciliation and `rejections --format csv` the stored issues exactly as the reviewed files
//! beside the case say, naming files as the user typed them. Every case is loaded through the
//! library by ingest's own tests (`ingest/tests/it`).

use std::fs;
use std::path::Path;

use crate::common::{Warehouse, fixtures};

fn expected(case: &Path, file: &str) -> String {
    let path = case.join(file);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_case_through_the_cli_prints_its_reconciliation_and_issues() {
    let case = fixtures().join("invalid/references_to_warehouse");
    let w = Warehouse::new();
    let ingest = |folder: &str| {
        w.ok_in(
            &case,
            &["ingest", "--tenant", "t", "--format", "csv", folder],
        )
    };
    let before = ingest("before");
    assert!(
        before.lines().skip(1).all(|l| l.ends_with(",0,0")),
        "the before/ files must load cleanly:\n{before}"
    );
    assert_eq!(ingest("input"), expected(&case, "expected.csv"));
    let issues = w.ok_in(&case, &["rejections", "--tenant", "t", "--format", "csv"]);
    assert_eq!(issues, expected(&case, "expected_issues.csv"));
}
