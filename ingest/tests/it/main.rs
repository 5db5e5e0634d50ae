//! Integration tests of ingest as a library: every golden fixture case in `tests/fixtures/`
//! loaded into a fresh warehouse, one module per feature.

mod common;

mod cells;
mod csv_files;
mod dates;
mod delta_log;
mod encodings;
mod folders;
mod free_text;
mod grid;
mod headers;
mod history;
mod inputs;
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
    "invalid/key_characters",
    "invalid/key_collisions",
    "invalid/members",
    "invalid/missing_column_closest",
    "invalid/references_to_warehouse",
    "invalid/scores",
    "invalid/undecodable_bytes",
    "valid/bom_chinese",
    "valid/free_text_as_written",
    "valid/gbk_chinese",
    "valid/header_variants",
    "valid/parquet",
    "valid/tenant_header_map",
    "valid/utf16_unicode_text",
    "valid/utf8_english",
    "valid/xlsx_workbook",
];

#[test]
fn every_fixture_case_has_a_test() {
    let tested: std::collections::BTreeSet<String> = TESTED.iter().map(|s| s.to_string()).collect();
    assert_eq!(common::case_names(), tested);
}
