//! References checked against the warehouse as well as the load: a row is loaded when what it
//! points at was committed earlier, and rejected when it points nowhere.

use ingest::Reason;

use crate::common::{load_case, rows};

#[test]
fn references_to_rows_committed_by_an_earlier_load() {
    let loaded = load_case("invalid/references_to_warehouse");
    assert_eq!(loaded.report.load_id, 2);
    // The branches, members and units of the first load are still there, and referred to.
    assert_eq!(rows(&loaded, "branches"), 5);
    assert_eq!(rows(&loaded, "meetings"), 1);
    let missing: Vec<(&str, &str)> = loaded
        .report
        .issues
        .iter()
        .filter_map(|i| match &i.reason {
            Reason::NotInTable { table, value } => Some((*table, value.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        missing,
        [("branches", "B7"), ("members", "M9"), ("grid_units", "Q1")]
    );
}
