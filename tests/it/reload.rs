use crate::common::{Warehouse, fixtures, tables_of};

#[test]
fn loading_the_same_folder_twice_changes_nothing() {
    let w = Warehouse::new();
    let folder = fixtures().join("valid/gbk_chinese/input");
    let folder = folder.to_str().expect("path");
    let first = w.ok(&["ingest", "--tenant", "t", folder]);
    let after_first = tables_of(&w.path());
    let second = w.ok(&["ingest", "--tenant", "t", folder]);
    let after_second = tables_of(&w.path());
    assert_eq!(after_first, after_second);
    assert!(!first.contains("no table changed"), "{first}");
    assert!(second.contains("no table changed"), "{second}");
    // Both loads are recorded.
    let loads = w.ok(&[
        "rejections",
        "--tenant",
        "t",
        "--load",
        "2",
        "--format",
        "csv",
    ]);
    assert!(loads.starts_with("load_id,table,file,line,column,value,reason,severity"));
}

#[test]
fn a_newer_load_wins_on_a_key_conflict() {
    let w = Warehouse::new();
    let base = fixtures().join("valid/utf8_english/input");
    w.ok(&["ingest", "--tenant", "t", base.to_str().expect("path")]);
    let dir = tempfile::tempdir().expect("dir");
    let renamed = dir.path().join("branches.csv");
    std::fs::write(
        &renamed,
        "branch_id,name,unit_id,type\nB2,南桥村党总支,V2,rural\n",
    )
    .expect("write");
    w.ok(&["ingest", "--tenant", "t", renamed.to_str().expect("path")]);
    let out = w.ok(&[
        "sql",
        "--tenant",
        "t",
        "--format",
        "csv",
        "select branch_id, name from branches order by branch_id",
    ]);
    assert_eq!(
        out,
        "branch_id,name\nB1,古楼坪村党支部\nB2,南桥村党总支\nB3,石门口社区党支部\nB4,东富镇机关党支部\nB5,浦口镇非公企业联合党支部\n"
    );
}
