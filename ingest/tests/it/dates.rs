//! Dates as county files write them: a bare number is no date in a text file, and a date with
//! a time of day keeps its date and says what it did not store.

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use ingest::{Reason, Severity};

use crate::common::Loaded;
use crate::inputs::{issues, load_files};

const GRID: &str = "unit_id,parent_id,level,name\nC,,0,县\n";
const VISITS: &str = "visit_id,unit_id,visited_on,households,issues_raised,issues_resolved\n";

/// The stored `visited_on` of every visit, in key order, as `YYYY-MM-DD`.
pub fn visit_dates(loaded: &Loaded) -> Vec<Option<String>> {
    let (_, batch) = loaded
        .tables
        .iter()
        .find(|(t, _)| *t == "visits")
        .expect("visits");
    let dates = cast(
        batch.column_by_name("visited_on").expect("visited_on"),
        &DataType::Utf8,
    )
    .expect("dates as text");
    let dates = dates.as_string::<i32>();
    (0..dates.len())
        .map(|i| dates.is_valid(i).then(|| dates.value(i).to_string()))
        .collect()
}

fn load_visits(rows: &str) -> Loaded {
    load_files(&[
        ("grid_units.csv", GRID.as_bytes().to_vec()),
        ("visits.csv", format!("{VISITS}{rows}").into_bytes()),
    ])
}

/// `2024` in a text file is a year, and `45413` a number: neither is an Excel serial day.
#[test]
fn a_bare_integer_in_a_text_file_is_not_a_date() {
    let loaded = load_visits(
        "V1,C,2024,1,0,0\nV2,C,45413,1,0,0\nV3,C,2024-05-05,1,0,0\nV4,C,20240506,1,0,0\n",
    );
    let rejected: Vec<(Option<u64>, &Reason)> = issues(&loaded, Severity::Rejected)
        .iter()
        .map(|i| (i.line, &i.reason))
        .collect();
    assert_eq!(
        rejected,
        [(Some(2), &Reason::NotADate), (Some(3), &Reason::NotADate)]
    );
    assert_eq!(
        visit_dates(&loaded),
        [Some("2024-05-05".into()), Some("2024-05-06".into())]
    );
}

/// A date with a time of day is read in every usual form; the date is stored and a time
/// other than midnight is reported as not stored.
#[test]
fn a_date_with_a_time_of_day_keeps_its_date_and_says_so() {
    let loaded = load_visits(concat!(
        "V1,C,2024-05-05 08:30,1,0,0\n",
        "V2,C,2024-05-05 08:30:00,1,0,0\n",
        "V3,C,2024/5/5 8:30,1,0,0\n",
        "V4,C,2024-05-05T08:30:00,1,0,0\n",
        "V5,C,2024-05-06 00:00:00,1,0,0\n",
    ));
    assert!(
        issues(&loaded, Severity::Rejected).is_empty(),
        "{:#?}",
        loaded.report.issues
    );
    let warnings: Vec<(Option<u64>, &Reason)> = issues(&loaded, Severity::Warning)
        .iter()
        .map(|i| (i.line, &i.reason))
        .collect();
    let at_0830 = Reason::TimeOfDay {
        time: "08:30".into(),
    };
    assert_eq!(
        warnings,
        [
            (Some(2), &at_0830),
            (Some(3), &at_0830),
            (Some(4), &at_0830),
            (Some(5), &at_0830)
        ]
    );
    let mut expected = vec![Some("2024-05-05".to_string()); 4];
    expected.push(Some("2024-05-06".into()));
    assert_eq!(visit_dates(&loaded), expected);
}
