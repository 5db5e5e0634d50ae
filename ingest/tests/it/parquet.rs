//! Typed Parquet: dates, booleans and decimals are read back as text and checked like CSV.

use crate::common::{assert_same_tables, load_case, reference_county};

#[test]
fn typed_parquet_files() {
    let loaded = load_case("valid/parquet");
    assert_same_tables("parquet", &loaded, &reference_county());
    assert_eq!(loaded.report.files.len(), 9);
    assert!(loaded.report.files.iter().all(|f| f.encoding.is_none()));
}
