//! `gridassess headers set|show`: a county's own headers, kept per tenant and used by every
//! later `ingest`.

use std::fs;

use crate::common::Warehouse;

#[test]
fn a_tenants_header_map_is_set_shown_and_used_by_the_next_load() {
    let w = Warehouse::new();
    let shown = w.ok(&["headers", "show", "--tenant", "t"]);
    assert!(shown.contains("has no header map"), "{shown}");

    let dir = tempfile::tempdir().expect("dir");
    let units = dir.path().join("网格单元.csv");
    fs::write(&units, "编码,上级,层级,单元称谓\nC0,,0,示例县\n").expect("write");

    // 单元称谓 is no spelling of grid_units.name: the required name is missing, and the
    // message names the header that looks closest.
    let out = w.run(&["ingest", "--tenant", "t", units.to_str().expect("path")]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("单元称谓"), "{printed}");

    // A map naming a column the table does not have is refused with its line.
    let bad = dir.path().join("bad.toml");
    fs::write(&bad, "[grid_units]\n\"单元称谓\" = \"title\"\n").expect("write");
    let out = w.run(&[
        "headers",
        "set",
        "--tenant",
        "t",
        bad.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml line 2") && err.contains("no column 'title'"),
        "{err}"
    );

    let map = dir.path().join("headers.toml");
    fs::write(&map, "[\"网格单元\"]\n\"单元称谓\" = \"name\"\n").expect("write");
    w.ok(&[
        "headers",
        "set",
        "--tenant",
        "t",
        map.to_str().expect("path"),
    ]);
    let shown = w.ok(&["headers", "show", "--tenant", "t"]);
    assert!(shown.contains("\"单元称谓\" = \"name\""), "{shown}");

    let out = w.ok(&[
        "ingest",
        "--tenant",
        "t",
        "--format",
        "csv",
        units.to_str().expect("path"),
    ]);
    assert!(out.contains("grid_units,1,1,0,0"), "{out}");
}
