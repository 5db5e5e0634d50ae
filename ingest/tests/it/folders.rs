//! Folders as counties keep them: last year's copy in a sub-folder, two files of one table.

use ingest::Reason;

use crate::common::texts;
use crate::inputs::{issues_where, load_files};

/// A `backup/` folder sorts before `grid_units.csv`: were it read, its stale row would be the
/// first occurrence of the key and win.
#[test]
fn a_sub_folder_is_not_read_and_is_listed_as_skipped() {
    let current = "unit_id,parent_id,level,name\nC,,0,县\nU1,C,1,新村\n";
    let stale = "unit_id,parent_id,level,name\nC,,0,县\nU1,C,1,旧村\n";
    let loaded = load_files(&[
        ("grid_units.csv", current.as_bytes().to_vec()),
        ("backup/grid_units.csv", stale.as_bytes().to_vec()),
    ]);
    assert_eq!(
        texts(&loaded, "grid_units", "name"),
        [Some("县".into()), Some("新村".into())]
    );
    assert_eq!(loaded.report.files.len(), 1);
    let [skipped] = loaded.report.skipped.as_slice() else {
        panic!("{:?}", loaded.report.skipped);
    };
    assert!(skipped.path.ends_with("backup"), "{}", skipped.path);
    assert_eq!(
        skipped.reason,
        "sub-folder not read: name it on the command line to load it"
    );
}

/// Two files of one table in one folder are read in name order (`grid_units.csv` before
/// `网格单元.csv`), so the first occurrence of a key is the same on every machine.
#[test]
fn files_of_a_folder_are_read_in_name_order() {
    let english = "unit_id,parent_id,level,name\nC,,0,县\nU1,C,1,甲村\n";
    let chinese = "单元编码,上级编码,网格级别,名称\nU1,C,1,乙村\n";
    let loaded = load_files(&[
        ("网格单元.csv", chinese.as_bytes().to_vec()),
        ("grid_units.csv", english.as_bytes().to_vec()),
    ]);
    let read: Vec<&str> = loaded
        .report
        .files
        .iter()
        .map(|f| f.source.rsplit('/').next().unwrap_or_default())
        .collect();
    assert_eq!(read, ["grid_units.csv", "网格单元.csv"]);
    let duplicate = issues_where(&loaded, |r| matches!(r, Reason::DuplicateKey { .. }));
    assert_eq!(duplicate.len(), 1);
    assert!(duplicate[0].file.ends_with("网格单元.csv"));
}
