//! Integration tests of ingest as a library: every golden fixture case in `tests/fixtures/`
//! loaded into a fresh warehouse, one module per feature.

mod common;

mod cells;
mod delta_log;
mod encodings;
mod grid;
mod history;
mod keys;
mod parquet;
mod references;
mod reload;
mod snapshot;
mod workbooks;

/// Every case folder the modules above load. A new folder fails this test until a test loads
/// it and it is named here.
const TESTED: &[&str] = &[
    "invalid/dangling_parent",
    "invalid/duplicate_key",
    "invalid/grid_rules",
    "invalid/members",
    "invalid/references_to_warehouse",
    "invalid/scores",
    "invalid/undecodable_bytes",
    "valid/bom_chinese",
    "valid/gbk_chinese",
    "valid/parquet",
    "valid/utf16_unicode_text",
    "valid/utf8_english",
    "valid/xlsx_workbook",
];

#[test]
fn every_fixture_case_has_a_test() {
    let tested: std::collections::BTreeSet<String> = TESTED.iter().map(|s| s.to_string()).collect();
    assert_eq!(common::case_names(), tested);
}
