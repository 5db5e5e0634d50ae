//! Each cell against its column's type and each row against its table's rules: a bad value in
//! a required column rejects the row, in an optional one it is dropped with a warning.

use ingest::{DecimalError, Reason, Severity};

use crate::common::{load_case, texts};

#[test]
fn members_with_bad_cells() {
    let loaded = load_case("invalid/members");
    // The rows with bad optional values are loaded without them; M7 (no name), M8 (not a
    // status) and M9 (no such branch) are not.
    let ids = texts(&loaded, "members", "member_id");
    let ids: Vec<&str> = ids.iter().flatten().map(String::as_str).collect();
    assert_eq!(ids, ["M1", "M10", "M2", "M3", "M4", "M5", "M6"]);
    let by_id = |column: &str, id: &str| {
        let values = texts(&loaded, "members", column);
        values[ids.iter().position(|i| *i == id).expect("member")].clone()
    };
    assert_eq!(by_id("id_number", "M5"), None);
    assert_eq!(by_id("category", "M6"), None);
    let wrong_check_digit = loaded
        .report
        .issues
        .iter()
        .find(|i| i.column.as_deref() == Some("id_number"))
        .expect("the ID number warning");
    assert_eq!(wrong_check_digit.severity, Severity::Warning);
    assert_eq!(
        wrong_check_digit.reason,
        Reason::KeptWithoutValue(Box::new(Reason::IdNumberCheckDigit {
            expected: '4',
            found: '0'
        }))
    );
    // A yes/no column has a default: a bad value is stored as it, with a warning.
    let maybe = loaded
        .report
        .issues
        .iter()
        .find(|i| i.column.as_deref() == Some("points_exempt"))
        .expect("the yes/no warning");
    assert_eq!(maybe.reason, Reason::NotABool { default: false });
}

#[test]
fn scores_outside_the_tenant_rules() {
    let loaded = load_case("invalid/scores");
    let reasons: Vec<&Reason> = loaded.report.issues.iter().map(|i| &i.reason).collect();
    assert!(reasons.contains(&&Reason::ScoreOutOfRange {
        score: 2100,
        max: 2000,
        indicator: "党组织建设".into()
    }));
    assert!(reasons.contains(&&Reason::NotADecimal(DecimalError::TooManyPlaces)));
    assert!(reasons.contains(&&Reason::NotAPeriod));
    assert!(
        reasons.iter().any(
            |r| matches!(r, Reason::UnknownIndicator { indicators } if indicators.len() == 10)
        )
    );
    // Both spellings of the first period are stored as its normal form.
    let periods = texts(&loaded, "scores", "period");
    assert_eq!(periods.len(), 5);
    assert!(
        periods.iter().all(|p| p.as_deref() == Some("2024-B1")),
        "{periods:?}"
    );
}
