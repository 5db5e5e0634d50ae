//! CSV in every encoding a county's tools write: UTF-8, GBK, UTF-8 with a BOM, and Excel's
//! UTF-16 "Unicode text"; and a cell whose bytes fit no encoding.

use encoding_rs::GB18030;
use ingest::{Reason, Severity};

use crate::common::{Loaded, assert_same_tables, load_case, reference_county, rows, texts};
use crate::inputs::{gbk, load_files, only_issue};

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

/// Every file of the case is one table of grid units: the root and its villages.
fn grid_names(loaded: &Loaded) -> Vec<Option<String>> {
    texts(loaded, "grid_units", "name")
}

/// The hostile part of a UTF-8 file with one row pasted from a GBK file: its UTF-8 names
/// (`古楼坪村`) also decode as GB18030 (`鍙ゆゼ鍧潙`), and so does the whole file; only the
/// lines say which reading is Chinese.
#[test]
fn a_pasted_gbk_row_does_not_turn_a_utf8_file_into_gbk() {
    let mut csv = "unit_id,parent_id,level,name\nC,,0,城关社区\nU1,C,1,古楼坪村\nU2,C,1,"
        .as_bytes()
        .to_vec();
    csv.extend(gbk("南桥村"));
    csv.extend("\nU3,C,1,新华社区\n".as_bytes());
    assert!(
        GB18030
            .decode_without_bom_handling_and_without_replacement(&csv)
            .is_some()
    );

    let loaded = load_files(&[("grid_units.csv", csv)]);
    assert_eq!(loaded.report.files[0].encoding, Some("UTF-8"));
    assert_eq!(
        grid_names(&loaded),
        [
            Some("城关社区".into()),
            Some("古楼坪村".into()),
            Some("新华社区".into())
        ]
    );
    let rejected = only_issue(&loaded, Severity::Rejected);
    assert_eq!(rejected.line, Some(4));
    assert_eq!(rejected.reason, Reason::Undecodable { encoding: "UTF-8" });
    assert_eq!(
        rejected.value.as_deref(),
        Some("\\xC4\\xCF\\xC7\\xC5\\xB4\\xE5")
    );
    let mixed = only_issue(&loaded, Severity::Warning);
    assert_eq!(
        mixed.reason,
        Reason::MixedEncoding {
            chosen: "UTF-8",
            chosen_lines: 3,
            other: "GBK/GB18030",
            other_lines: 1
        }
    );
}

/// GB2312 characters whose lead byte is 0xC2–0xDF and trail byte 0xA1–0xBF are valid two-byte
/// UTF-8 too: a GBK file of them reads as UTF-8 without an error, as Greek and IPA letters.
#[test]
fn gbk_bytes_that_are_valid_utf8_are_read_as_gbk() {
    let text = "unit_id,parent_id,level,name\nC,,0,太平山\nU1,C,1,农庄\nU2,C,1,小学\n";
    let csv = gbk(text);
    assert!(std::str::from_utf8(&csv).is_ok());

    let loaded = load_files(&[("grid_units.csv", csv)]);
    assert_eq!(loaded.report.files[0].encoding, Some("GBK/GB18030"));
    assert_eq!(
        grid_names(&loaded),
        [
            Some("太平山".into()),
            Some("农庄".into()),
            Some("小学".into())
        ]
    );
    assert!(
        loaded.report.issues.is_empty(),
        "{:#?}",
        loaded.report.issues
    );
}

/// A GBK row pasted into a UTF-8 file, whose bytes happen to be valid UTF-8: it decodes, but
/// as letters of other scripts, so it is rejected with its bytes shown, never stored.
#[test]
fn a_pasted_gbk_row_that_is_valid_utf8_is_rejected_not_stored() {
    let mut csv = "unit_id,parent_id,level,name\nC,,0,城关社区\nU1,C,1,古楼坪村\nU2,C,1,"
        .as_bytes()
        .to_vec();
    csv.extend(gbk("农庄"));
    csv.extend("\nU3,C,1,新华社区\n".as_bytes());
    assert!(std::str::from_utf8(&csv).is_ok());

    let loaded = load_files(&[("grid_units.csv", csv)]);
    assert_eq!(loaded.report.files[0].encoding, Some("UTF-8"));
    assert_eq!(grid_names(&loaded).len(), 3);
    let rejected = only_issue(&loaded, Severity::Rejected);
    assert_eq!(rejected.line, Some(4));
    assert_eq!(
        rejected.reason,
        Reason::OtherEncoding {
            encoding: "UTF-8",
            other: "GBK/GB18030"
        }
    );
    assert_eq!(rejected.value.as_deref(), Some("\\xC5\\xA9\\xD7\\xAF"));
}
