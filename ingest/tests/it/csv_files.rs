//! CSV as county files break it: a quote that never closes, and line endings of every kind in
//! one file.

use ingest::{Reason, Severity};

use crate::common::texts;
use crate::inputs::{issues, load_files, only_issue};

/// A quote opened by mistake in one cell must cost that row only: the lines after it are still
/// read, counted and loaded.
#[test]
fn an_unclosed_quote_rejects_its_record_and_reading_goes_on_at_the_next_line() {
    let csv = "unit_id,parent_id,level,name\nC,,0,城关社区\nU1,C,1,\"古楼坪村\nU2,C,1,南桥村\nU3,C,1,新华社区\n";
    let loaded = load_files(&[("grid_units.csv", csv.as_bytes().to_vec())]);
    let grid = &loaded.report.tables[0];
    assert_eq!((grid.read, grid.loaded, grid.rejected), (4, 3, 1));
    let rejected = only_issue(&loaded, Severity::Rejected);
    assert_eq!(rejected.line, Some(3));
    assert_eq!(
        rejected.reason,
        Reason::UnclosedQuote { line: 3, column: 8 }
    );
    assert_eq!(rejected.value.as_deref(), Some("\"古楼坪村"));
    assert_eq!(
        texts(&loaded, "grid_units", "name"),
        [
            Some("城关社区".into()),
            Some("南桥村".into()),
            Some("新华社区".into())
        ]
    );
}

/// A file with CRLF, LF and lone-CR line ends, and a CR typed inside a cell: every rejection
/// names the line an editor shows.
#[test]
fn a_lone_cr_does_not_shift_later_line_numbers() {
    let csv = concat!(
        "unit_id,parent_id,level,name\r\n", // 1
        "C,,0,县\n",                        // 2
        "U1,C,1,甲\r",                      // 3: an old Mac line end
        "U2,C,9,乙\r\n",                    // 4: level out of range
        "U3,C,1,丙\n",                      // 5
        "U4,C,7,丁\n",                      // 6: level out of range
        "U5,C,1,戊\r己\n",                  // 7 and 8: a CR inside a cell ends the line
        "U6,C,8,庚\n",                      // 9: level out of range
    );
    let loaded = load_files(&[("grid_units.csv", csv.as_bytes().to_vec())]);
    let lines: Vec<Option<u64>> = issues(&loaded, Severity::Rejected)
        .iter()
        .map(|i| i.line)
        .collect();
    // Line 7 reads as a whole row, but its last cell was cut by the CR: it is rejected too,
    // never loaded with `戊` for `戊\r己`.
    assert_eq!(lines, [Some(4), Some(6), Some(7), Some(8), Some(9)]);
    let split = issues(&loaded, Severity::Rejected)
        .into_iter()
        .find(|i| i.line == Some(7))
        .expect("line 7");
    assert_eq!(split.reason, Reason::SplitByCarriageReturn { next_line: 8 });
    assert!(!texts(&loaded, "grid_units", "name").contains(&Some("戊".into())));
}
