//! Headers as counties write them: the usual variants of every column, a tenant's own header
//! map, and, when a required column is missing, the file's header that looks closest.

use ingest::Severity;
use model::schema::{HEADER_VARIANTS, TABLES, table};

use crate::common::{assert_same_tables, load_case, reference_county, rows};

#[test]
fn common_header_variants_of_every_table_are_accepted() {
    let loaded = load_case("valid/header_variants");
    assert!(
        loaded.report.issues.is_empty(),
        "{:#?}",
        loaded.report.issues
    );
    assert_same_tables("header_variants", &loaded, &reference_county());
}

#[test]
fn a_missing_required_column_names_the_closest_header_of_the_file() {
    let loaded = load_case("invalid/missing_column_closest");
    assert_eq!(rows(&loaded, "meetings"), 0);
    let missing: Vec<_> = loaded
        .report
        .issues
        .iter()
        .filter(|i| i.table == "meetings" && i.severity == Severity::Rejected)
        .collect();
    assert_eq!(missing.len(), 4);
    for issue in missing {
        let text = issue.reason.to_string();
        assert!(
            text.contains("`支部代号` looks closest") && text.contains("gridassess headers set"),
            "{text}"
        );
    }
}

#[test]
fn a_tenants_own_header_map_is_used_by_its_loads() {
    // The meetings and members headers of this county are its own: only its map knows them.
    let loaded = load_case("valid/tenant_header_map");
    assert!(
        loaded.report.issues.is_empty(),
        "{:#?}",
        loaded.report.issues
    );
    assert_same_tables("tenant_header_map", &loaded, &reference_county());
}

#[test]
fn no_header_is_claimed_by_two_columns() {
    for table in TABLES {
        let spellings: Vec<(&str, &str)> = table
            .columns
            .iter()
            .flat_map(|c| {
                table
                    .header_spellings(c)
                    .into_iter()
                    .map(move |s| (c.name, s))
            })
            .collect();
        for (column, spelling) in &spellings {
            let claiming: Vec<&str> = table
                .columns
                .iter()
                .filter(|c| table.header_names(c, spelling).is_some())
                .map(|c| c.name)
                .collect();
            assert_eq!(
                claiming,
                [*column],
                "{}: header '{spelling}' is claimed by {claiming:?}",
                table.name
            );
        }
    }
    // Every row of the variants table names a real column.
    for (t, column, _) in HEADER_VARIANTS {
        let def = table(t).unwrap_or_else(|| panic!("no table {t}"));
        assert!(def.column(column).is_some(), "{t} has no column {column}");
    }
}

#[test]
fn english_headers_in_any_case_with_spaces_or_underscores() {
    let members = table("members").expect("members");
    for header in [
        "Member ID",
        "member_id",
        "MEMBER-ID",
        "memberId",
        "member",
        "Member No.",
    ] {
        assert_eq!(
            members
                .column_for_header(header)
                .map(|(c, _)| members.columns[c].name),
            Some("member_id"),
            "{header}"
        );
    }
    assert_eq!(
        members
            .column_for_header("所在支部（必填）")
            .map(|(c, _)| c),
        Some(1)
    );
}
