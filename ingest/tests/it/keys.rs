//! A primary key repeated within a load: the first row with it is loaded, the others rejected
//! naming where the first one is.

use ingest::{Reason, Severity};

use crate::common::{Loaded, load_case, rows, texts};

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

/// The rejections and warnings of `table` as (line, column, reason text).
fn issues_of(loaded: &Loaded, table: &str, severity: Severity) -> Vec<(u64, String, String)> {
    loaded
        .report
        .issues
        .iter()
        .filter(|i| i.table == table && i.severity == severity)
        .map(|i| {
            (
                i.line.unwrap_or(0),
                i.column.clone().unwrap_or_default(),
                i.reason.to_string(),
            )
        })
        .collect()
}

#[test]
fn invisible_and_full_width_characters_in_keys_are_cleaned_with_a_warning() {
    let loaded = load_case("invalid/key_characters");
    let ids: Vec<Option<String>> = texts(&loaded, "members", "member_id");
    assert_eq!(
        ids,
        ["M 8", "M1", "M2", "M3", "M4"].map(|s| Some(s.to_string()))
    );
    // The foreign keys were cleaned the same way, so the members found their branches.
    let branches = texts(&loaded, "members", "branch_id");
    assert_eq!(
        branches,
        ["B2", "B1", "B1", "B2", "B3"].map(|s| Some(s.to_string()))
    );
    let warnings = issues_of(&loaded, "members", Severity::Warning);
    let lines: Vec<(u64, &str)> = warnings.iter().map(|(l, c, _)| (*l, c.as_str())).collect();
    assert_eq!(
        lines,
        [
            (2, "member_id"),
            (3, "member_id"),
            (4, "member_id"),
            (4, "branch_id"),
            (5, "member_id"),
            (9, "member_id"),
            (9, "branch_id"),
        ]
    );
    assert!(warnings[0].2.contains("U+FEFF"), "{}", warnings[0].2);
    assert!(warnings[1].2.contains("U+200B"), "{}", warnings[1].2);
    assert!(warnings[2].2.contains("U+2060"), "{}", warnings[2].2);
    assert!(warnings[4].2.contains("full-width"), "{}", warnings[4].2);
    assert!(warnings[5].2.contains("U+3000"), "{}", warnings[5].2);
}

#[test]
fn control_and_private_use_characters_in_keys_reject_the_row() {
    let loaded = load_case("invalid/key_characters");
    let rejected = issues_of(&loaded, "members", Severity::Rejected);
    let lines: Vec<u64> = rejected.iter().map(|(l, _, _)| *l).collect();
    assert_eq!(lines, [6, 7, 8]);
    assert!(rejected[0].2.contains("U+0007"), "{}", rejected[0].2);
    assert!(rejected[1].2.contains("U+E000"), "{}", rejected[1].2);
    assert!(rejected[2].2.contains("U+200B"), "{}", rejected[2].2);
    // In an optional key the row stays and the value does not.
    assert_eq!(rows(&loaded, "visits"), 2);
    assert_eq!(texts(&loaded, "visits", "member_id"), [None, None]);
    let visit = issues_of(&loaded, "visits", Severity::Warning);
    assert_eq!(visit.len(), 1);
    assert!(visit[0].2.contains("U+0001"), "{}", visit[0].2);
}

#[test]
fn keys_that_become_one_after_cleaning_are_reported_with_both_spellings() {
    let loaded = load_case("invalid/key_collisions");
    let rejected = issues_of(&loaded, "members", Severity::Rejected);
    let lines: Vec<u64> = rejected.iter().map(|(l, _, _)| *l).collect();
    assert_eq!(lines, [3, 5, 7]);
    // Ｍ5 (line 3) after M5 (line 2); M6 (line 5) after M6 with a zero-width space (line 4).
    for (text, spellings) in [
        (&rejected[0].2, ["'Ｍ5'", "'M5'"]),
        (&rejected[1].2, ["'M6'", "'M6<U+200B>'"]),
    ] {
        for s in spellings {
            assert!(text.contains(s), "{text} does not name {s}");
        }
        assert!(text.contains("line 2") || text.contains("line 4"), "{text}");
    }
    // The same spelling twice is a plain duplicate.
    assert!(
        rejected[2].2.starts_with("duplicate key (member_id)"),
        "{}",
        rejected[2].2
    );
    // Two spellings of one period: the later row names both.
    let scores = issues_of(&loaded, "scores", Severity::Rejected);
    assert_eq!(scores.len(), 1);
    assert!(
        scores[0].2.contains("'2024年1-2月, B1, 党组织建设'")
            && scores[0].2.contains("'2024-B1, B1, 党组织建设'"),
        "{}",
        scores[0].2
    );
    // Ｍ１ cleans to the committed M1: it merges, and says it was written otherwise.
    let warnings = issues_of(&loaded, "members", Severity::Warning);
    assert!(
        warnings
            .iter()
            .any(|(l, _, t)| *l == 8 && t.contains("already in the warehouse")),
        "{warnings:#?}"
    );
    assert_eq!(rows(&loaded, "members"), 7);
}
