//! Snapshot loads: a county's full list of a table replaces it. Committed rows absent from
//! the list are removed, the rows that point to them follow (or lose an optional reference),
//! and every removed row is listed like a rejection.

use ingest::{IngestError, LoadOptions, Reason, Severity};

use crate::common::{County, reference_input, texts_of};

const MEMBERS_HEADER: &str = "member_id,branch_id,name,gender,birth_date,joined_on,status,category,id_number,phone,party_group,points_exempt\n";
const M1: &str = "M1,B1,张三丰,男,1980-01-01,2005-07-01,formal,no_post,430281198001019914,13800001111,第一党小组,false\n";
const M2: &str = "M2,B1,李秀英,女,1975-12-12,1999-06-30,formal,retired,430281197512129926,13900002222,第二党小组,true\n";
const M3: &str =
    "M3,B2,王小明,男,1990-06-06,2023-11-20,probationary,mobile,430281199006069931,,,false\n";
const M4: &str = "M4,B3,欧阳娜,女,,,formal,employed,,,,false\n";

fn replace(tables: &[&str]) -> LoadOptions {
    LoadOptions {
        replace: tables.iter().map(|t| t.to_string()).collect(),
        ..LoadOptions::default()
    }
}

/// The removed rows, (table, key); every row of the load is checked to be loaded, rejected
/// or removed with its line first.
fn removed(report: &ingest::LoadReport) -> Vec<(&'static str, String)> {
    crate::common::check_every_row_is_accounted_for("snapshot", report);
    report
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Removed)
        .map(|i| (i.table, i.value.clone().unwrap_or_default()))
        .collect()
}

fn count(report: &ingest::LoadReport, table: &str) -> (usize, usize, usize, usize, usize) {
    let t = report
        .tables
        .iter()
        .find(|t| t.table == table)
        .unwrap_or_else(|| panic!("no count for {table}: {:?}", report.tables));
    (t.read, t.loaded, t.rejected, t.warnings, t.removed)
}

/// M3 left: the members list no longer has them. M3, their attendance and their points go,
/// each with a line saying why; nothing else changes.
#[test]
fn a_member_absent_from_the_snapshot_is_removed_with_their_rows() {
    let county = County::new();
    county.load(&[reference_input()]);
    let members = format!("{MEMBERS_HEADER}{M4}{M1}{M2}");
    let input = county.folder("snapshot", &[("党员.csv", members.as_str())]);
    let report = county
        .load_with(&[input], &replace(&["党员"]))
        .expect("snapshot load");
    assert_eq!(
        removed(&report),
        [
            ("members", "M3".to_string()),
            ("attendance", "MT4, M3".to_string()),
            ("points", "P3".to_string()),
        ],
        "{:#?}",
        report.issues
    );
    assert_eq!(count(&report, "members"), (3, 3, 0, 0, 1));
    assert_eq!(count(&report, "attendance"), (0, 0, 0, 0, 1));
    assert_eq!(count(&report, "points"), (0, 0, 0, 0, 1));
    let member_line = report
        .issues
        .iter()
        .find(|i| i.table == "members")
        .expect("members issue");
    assert_eq!(member_line.column.as_deref(), Some("member_id"));
    assert!(matches!(
        member_line.reason,
        Reason::AbsentFromSnapshot { table: "members" }
    ));
    let attendance_line = report
        .issues
        .iter()
        .find(|i| i.table == "attendance")
        .expect("attendance issue");
    assert!(
        matches!(&attendance_line.reason, Reason::RemovedWith { table: "members", value } if value == "M3"),
        "{attendance_line}"
    );
    assert_eq!(county.keys("members"), ["M1", "M2", "M4"]);
    assert_eq!(county.keys("points"), ["P1", "P2"]);
    assert_eq!(county.keys("meetings"), ["MT1", "MT2", "MT3", "MT4"]);
    // The removals are stored with the load, severity `removed`.
    let (_, stored) = county
        .rt
        .block_on(ingest::load_issues(&county.tenant, None))
        .expect("issues");
    let severities: Vec<Option<String>> = stored
        .iter()
        .flat_map(|b| texts_of(b, "severity"))
        .collect();
    assert_eq!(severities, vec![Some("removed".to_string()); 3]);
}

/// A branch dissolved: the organization it covered stays, no longer covered, with a warning
/// that says so; its members, meetings and their attendance go.
#[test]
fn an_optional_reference_to_a_removed_row_is_cleared_with_a_warning() {
    let county = County::new();
    county.load(&[reference_input()]);
    let input = county.folder(
        "branches",
        &[(
            "branches.csv",
            "branch_id,name,unit_id,type,is_joint,founded_on,paired_branch_id\n\
             B1,古楼坪村党支部,V1,rural,false,2001-07-01,\n\
             B2,南桥村党支部,V2,rural,false,,\n\
             B3,石门口社区党支部,V3,community,false,2010-03-15,\n\
             B4,东富镇机关党支部,T1,organ,false,,B1\n",
        )],
    );
    let report = county
        .load_with(&[input], &replace(&["branches"]))
        .expect("snapshot load");
    assert_eq!(removed(&report), [("branches", "B5".to_string())]);
    assert_eq!(count(&report, "organizations"), (0, 0, 0, 1, 0));
    let warning = report
        .issues
        .iter()
        .find(|i| i.table == "organizations")
        .expect("warning");
    assert_eq!(warning.severity, Severity::Warning);
    assert_eq!(warning.column.as_deref(), Some("branch_id"));
    assert!(
        matches!(&warning.reason, Reason::ReferenceCleared { table: "branches", value, row } if value == "B5" && row == "O1")
    );
    let (_, orgs) = county
        .tables()
        .into_iter()
        .find(|(t, _)| *t == "organizations")
        .expect("organizations");
    assert_eq!(texts_of(&orgs, "branch_id"), [None, None]);
    assert_eq!(
        texts_of(&orgs, "org_id"),
        [Some("O1".into()), Some("O2".into())]
    );
}

/// A row of the same load that points at a row the snapshot removes is rejected, naming the
/// removal; the committed rows under the removed branch go with it.
#[test]
fn a_loaded_row_pointing_at_a_removed_row_is_rejected() {
    let county = County::new();
    county.load(&[reference_input()]);
    let input = county.folder(
        "branches_and_meetings",
        &[
            (
                "branches.csv",
                "branch_id,name,unit_id,type,is_joint,founded_on,paired_branch_id\n\
                 B1,古楼坪村党支部,V1,rural,false,2001-07-01,\n\
                 B2,南桥村党支部,V2,rural,false,,\n\
                 B4,东富镇机关党支部,T1,organ,false,,B1\n\
                 B5,浦口镇非公企业联合党支部,T2,private_enterprise,true,2019-05-05,\n",
            ),
            (
                "meetings.csv",
                "meeting_id,branch_id,kind,held_on\nMT9,B3,committee,2024-04-01\n",
            ),
        ],
    );
    let report = county
        .load_with(&[input], &replace(&["branches"]))
        .expect("snapshot load");
    let rejected: Vec<&ingest::Issue> = report
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Rejected)
        .collect();
    assert_eq!(rejected.len(), 1, "{:#?}", report.issues);
    assert!(
        matches!(&rejected[0].reason, Reason::ReferenceRemoved { table: "branches", value } if value == "B3")
    );
    assert_eq!(
        removed(&report),
        [
            ("branches", "B3".to_string()),
            ("members", "M4".to_string()),
            ("meetings", "MT3".to_string()),
            ("attendance", "MT3, M4".to_string()),
        ]
    );
    assert_eq!(count(&report, "meetings"), (1, 0, 1, 0, 1));
    assert_eq!(county.keys("members"), ["M1", "M2", "M3"]);
}

/// A member whose row in the snapshot is rejected is still in the county's list: the
/// committed row stays rather than being removed for a typo.
#[test]
fn a_rejected_snapshot_row_does_not_remove_its_committed_row() {
    let county = County::new();
    county.load(&[reference_input()]);
    let members = format!("{MEMBERS_HEADER}{M1}{M2}{M3}M4,B3,欧阳娜,女,,,在逃,employed,,,,false\n");
    let input = county.folder("typo", &[("members.csv", members.as_str())]);
    let report = county
        .load_with(&[input], &replace(&["members"]))
        .expect("snapshot load");
    assert_eq!(count(&report, "members"), (4, 3, 1, 0, 0));
    assert!(removed(&report).is_empty());
    assert_eq!(county.keys("members"), ["M1", "M2", "M3", "M4"]);
}

/// The wrong file sent as the members list would wipe the county's members: refused unless
/// asked for, and nothing is committed.
#[test]
fn a_snapshot_removing_more_than_half_of_a_table_is_refused() {
    let county = County::new();
    county.load(&[reference_input()]);
    let manifest = county.tenant.manifest().expect("manifest");
    let members = format!("{MEMBERS_HEADER}{M1}");
    let input = county.folder("wrong", &[("members.csv", members.as_str())]);
    let err = county
        .load_with(std::slice::from_ref(&input), &replace(&["members"]))
        .expect_err("refused");
    assert!(
        matches!(
            &err,
            IngestError::MassRemoval {
                table: "members",
                removed: 3,
                committed: 4
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("--allow-mass-removal"), "{err}");
    assert_eq!(county.tenant.manifest().expect("manifest"), manifest);

    let allowed = LoadOptions {
        allow_mass_removal: true,
        ..replace(&["members"])
    };
    let report = county.load_with(&[input], &allowed).expect("allowed");
    assert_eq!(count(&report, "members"), (1, 1, 0, 0, 3));
    assert_eq!(county.keys("members"), ["M1"]);
}

#[test]
fn a_snapshot_of_a_table_the_load_does_not_contain_is_a_usage_error() {
    let county = County::new();
    county.load(&[reference_input()]);
    let members = format!("{MEMBERS_HEADER}{M1}{M2}{M3}{M4}");
    let input = county.folder("members_only", &[("members.csv", members.as_str())]);
    let err = county
        .load_with(std::slice::from_ref(&input), &replace(&["branches"]))
        .expect_err("usage error");
    assert!(
        matches!(&err, IngestError::SnapshotNotInLoad { table: "branches" }),
        "{err}"
    );
    assert!(err.is_usage());
    let err = county
        .load_with(&[input], &replace(&["memberz"]))
        .expect_err("usage error");
    assert!(
        matches!(&err, IngestError::UnknownSnapshotTable { .. }),
        "{err}"
    );
    assert!(err.is_usage());
    assert_eq!(county.tenant.manifest().expect("manifest").last_load_id, 1);
}

/// Without --replace nothing is ever removed, even when a file lists fewer rows.
#[test]
fn a_merge_load_never_removes() {
    let county = County::new();
    county.load(&[reference_input()]);
    let members = format!("{MEMBERS_HEADER}{M1}");
    let input = county.folder("merge", &[("members.csv", members.as_str())]);
    let report = county.load(&[input]);
    assert!(removed(&report).is_empty());
    assert!(report.tables.iter().all(|t| t.removed == 0));
    assert_eq!(county.keys("members"), ["M1", "M2", "M3", "M4"]);
}
