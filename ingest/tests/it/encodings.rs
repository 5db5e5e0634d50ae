//! CSV in every encoding a county's tools write: UTF-8, GBK, UTF-8 with a BOM, and Excel's
//! UTF-16 "Unicode text"; and a cell whose bytes fit no encoding.

use ingest::Reason;

use crate::common::{Loaded, assert_same_tables, load_case, reference_county, rows};

/// Every file of the case was read in `encoding`.
fn assert_encoding(loaded: &Loaded, encoding: &str) {
    assert_eq!(loaded.report.files.len(), 9);
    for f in &loaded.report.files {
        assert_eq!(f.encoding, Some(encoding), "{}", f.source);
    }
}

#[test]
fn utf8_with_english_headers() {
    let county = reference_county();
    assert_encoding(&county, "UTF-8");
    for (table, batch) in &county.tables {
        assert!(batch.num_rows() > 0, "{table} is empty");
    }
}

#[test]
fn gbk_with_chinese_headers_and_values() {
    let loaded = load_case("valid/gbk_chinese");
    assert_encoding(&loaded, "GBK/GB18030");
    assert_same_tables("gbk_chinese", &loaded, &reference_county());
}

#[test]
fn utf8_with_a_bom_and_chinese_dates() {
    let loaded = load_case("valid/bom_chinese");
    assert_encoding(&loaded, "UTF-8 with BOM");
    assert_same_tables("bom_chinese", &loaded, &reference_county());
}

#[test]
fn utf16_unicode_text_exports() {
    let loaded = load_case("valid/utf16_unicode_text");
    assert_encoding(&loaded, "UTF-16");
    assert_same_tables("utf16_unicode_text", &loaded, &reference_county());
}

#[test]
fn undecodable_bytes_reject_their_row_and_show_where_they_are() {
    let loaded = load_case("invalid/undecodable_bytes");
    let [issue] = loaded.report.issues.as_slice() else {
        panic!("{:#?}", loaded.report.issues);
    };
    assert_eq!(
        issue.reason,
        Reason::Undecodable {
            encoding: "GBK/GB18030"
        }
    );
    assert_eq!(issue.value.as_deref(), Some("南\\xFF村"));
    assert_eq!(rows(&loaded, "grid_units"), 8);
}
