//! Errors a user meets, as they read them: each names the file, line and value at fault.

use std::fs;

use crate::common::{Warehouse, bin};

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn error_messages_name_what_to_fix() {
    let w = Warehouse::new();
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path().to_str().expect("path").to_string();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(&root), "[DIR]");
    settings.add_filter(
        &regex_escape(w.path().to_str().expect("path")),
        "[WAREHOUSE]",
    );
    let _guard = settings.bind_to_scope();

    // A rules file whose maxima do not sum to 100.
    let rules = dir.path().join("rules.toml");
    let text = w.ok(&["rules", "show", "--tenant", "t"]).replace(
        "{ name = \"党风廉政\", max = 5 }",
        "{ name = \"党风廉政\", max = 15 }",
    );
    fs::write(&rules, text).expect("write");
    let out = w.run(&[
        "rules",
        "set",
        "--tenant",
        "t",
        rules.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("rules_maxima", stderr_of(&out));

    // A rules file with an unknown key.
    fs::write(&rules, "[assessment]\nperiod = \"bimonthly\"\nperoid = 2\n").expect("write");
    let out = w.run(&[
        "rules",
        "set",
        "--tenant",
        "t",
        rules.to_str().expect("path"),
    ]);
    insta::assert_snapshot!("rules_unknown_key", stderr_of(&out));

    // A file whose name names no table.
    let odd = dir.path().join("名单.csv");
    fs::write(&odd, "a,b\n1,2\n").expect("write");
    let out = w.run(&["ingest", "--tenant", "t", odd.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("unknown_table_file", stderr_of(&out));

    // A header that has no column of the table (编号 and 名字 are variants of member_id and name).
    let bad = dir.path().join("党员.csv");
    fs::write(&bad, "序号,备注\n1,张三\n").expect("write");
    let out = w.run(&["ingest", "--tenant", "t", bad.to_str().expect("path")]);
    insta::assert_snapshot!("header_without_known_columns", stderr_of(&out));

    // An unknown tenant.
    let out = w.run(&["sql", "--tenant", "qingxi", "select 1"]);
    insta::assert_snapshot!("unknown_tenant", stderr_of(&out));

    // A row-level problem is not an error: it is reported with file, line, column and value.
    let units = dir.path().join("grid_units.csv");
    fs::write(
        &units,
        "unit_id,parent_id,level,name\nC0,,0,县\nT1,C0,二,镇\n",
    )
    .expect("write");
    let out = w.run(&["ingest", "--tenant", "t", units.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("row_problem_reported", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn a_missing_warehouse_says_how_to_make_one() {
    let dir = tempfile::tempdir().expect("dir");
    let out = bin()
        .env("GRIDASSESS_WAREHOUSE", dir.path().join("nowhere"))
        .args(["tenant", "list"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("run `gridassess init` first"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_usage_error_exits_with_2() {
    let out = bin().args(["ingest"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
