//! A primary key repeated within a load: the first row with it is loaded, the others rejected
//! naming where the first one is.

use ingest::Reason;

use crate::common::{load_case, rows};

#[test]
fn repeated_keys_keep_the_first_occurrence() {
    let loaded = load_case("invalid/duplicate_key");
    let duplicates: Vec<_> = loaded
        .report
        .issues
        .iter()
        .filter_map(|i| match &i.reason {
            Reason::DuplicateKey { columns, line, .. } => Some((i.table, *columns, *line)),
            _ => None,
        })
        .collect();
    assert_eq!(
        duplicates,
        [
            ("branches", &["branch_id"][..], 3),
            ("attendance", &["meeting_id", "member_id"][..], 2)
        ]
    );
    assert_eq!(rows(&loaded, "branches"), 5);
    assert_eq!(rows(&loaded, "attendance"), 5);
}
