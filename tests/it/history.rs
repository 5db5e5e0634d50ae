//! Snapshot loads, the load history and `--as-of` through the binary.

use crate::common::{Warehouse, fixtures};

const MEMBERS: &str = "member_id,branch_id,name,status\nM1,B1,张三丰,formal\nM2,B1,李秀英,formal\nM4,B3,欧阳娜,formal\n";

fn count_m3(w: &Warehouse, as_of: Option<&str>) -> String {
    let mut args = vec!["sql", "--tenant", "t", "--format", "csv"];
    if let Some(load) = as_of {
        args.extend(["--as-of", load]);
    }
    args.push("select count(*) as n from members where member_id = 'M3'");
    w.ok(&args)
}

#[test]
fn a_snapshot_removes_a_member_and_as_of_the_first_load_still_finds_them() {
    let w = Warehouse::new();
    let base = fixtures().join("valid/utf8_english/input");
    w.ok(&["ingest", "--tenant", "t", base.to_str().expect("path")]);
    let dir = tempfile::tempdir().expect("dir");
    let members = dir.path().join("members.csv");
    std::fs::write(&members, MEMBERS).expect("write");
    let members = members.to_str().expect("path");

    let out = w.ok(&[
        "ingest",
        "--tenant",
        "t",
        "--replace",
        "members",
        "--format",
        "csv",
        members,
    ]);
    assert_eq!(
        out,
        "table,read,loaded,rejected,warnings,removed\nmembers,3,3,0,0,1\nattendance,0,0,0,0,1\npoints,0,0,0,0,1\n"
    );
    let removed = w.ok(&["rejections", "--tenant", "t", "--format", "csv"]);
    assert!(
        removed.contains(",members,")
            && removed.contains(",member_id,M3,")
            && removed.contains(",removed\n"),
        "{removed}"
    );

    assert_eq!(count_m3(&w, None), "n\n0\n");
    assert_eq!(count_m3(&w, Some("1")), "n\n1\n");
    assert_eq!(count_m3(&w, Some("2")), "n\n0\n");

    let history = w.ok(&["history", "--tenant", "t", "--format", "csv"]);
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(
        lines[0],
        "load_id,loaded_at,rules_version,files,table_versions"
    );
    assert_eq!(lines.len(), 3, "{history}");
    assert!(
        lines[1].starts_with("1,") && lines[2].starts_with("2,"),
        "{history}"
    );
    assert!(lines[2].contains("members="), "{history}");

    // A load that was never committed has no state to read.
    let out = w.run(&["points", "--tenant", "t", "--year", "2024", "--as-of", "7"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no load 7"));
}

#[test]
fn a_snapshot_of_a_table_the_load_does_not_hold_is_a_usage_error() {
    let w = Warehouse::new();
    let base = fixtures().join("valid/utf8_english/input");
    w.ok(&["ingest", "--tenant", "t", base.to_str().expect("path")]);
    let dir = tempfile::tempdir().expect("dir");
    let members = dir.path().join("members.csv");
    std::fs::write(&members, MEMBERS).expect("write");
    let out = w.run(&[
        "ingest",
        "--tenant",
        "t",
        "--replace",
        "branches",
        members.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--replace branches"), "{err}");
    // --as-of on a command that writes is refused the same way.
    let out = w.run(&[
        "ingest",
        "--tenant",
        "t",
        "--as-of",
        "1",
        members.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_wrong_file_as_a_full_list_is_refused_unless_allowed() {
    let w = Warehouse::new();
    let base = fixtures().join("valid/utf8_english/input");
    w.ok(&["ingest", "--tenant", "t", base.to_str().expect("path")]);
    let dir = tempfile::tempdir().expect("dir");
    let members = dir.path().join("members.csv");
    std::fs::write(
        &members,
        "member_id,branch_id,name,status\nM1,B1,张三丰,formal\n",
    )
    .expect("write");
    let members = members.to_str().expect("path");
    let out = w.run(&["ingest", "--tenant", "t", "--replace", "members", members]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("remove 3 of the 4 rows of members"), "{err}");
    w.ok(&[
        "ingest",
        "--tenant",
        "t",
        "--replace",
        "members",
        "--allow-mass-removal",
        members,
    ]);
}
