//! Excel workbooks: one sheet per table, named in Chinese, with real date cells.

use crate::common::{assert_same_tables, load_case, reference_county};

#[test]
fn a_workbook_with_a_sheet_per_table() {
    let loaded = load_case("valid/xlsx_workbook");
    assert_same_tables("xlsx_workbook", &loaded, &reference_county());
    assert_eq!(loaded.report.files.len(), 9);
    assert!(loaded.report.files.iter().all(|f| f.encoding.is_none()));
    // The instructions sheet names no table: skipped and said so, not rejected.
    let [skipped] = loaded.report.skipped.as_slice() else {
        panic!("{:?}", loaded.report.skipped);
    };
    assert!(skipped.path.ends_with("[填表说明]"), "{}", skipped.path);
}
