//! Hostile inputs a test writes itself, one small county file at a time, and what the load
//! said about them.

use std::fs;

use encoding_rs::GB18030;
use ingest::{IngestError, Issue, LoadReport, Reason, Severity};
use warehouse::Warehouse;

use crate::common::{Loaded, load_paths};

/// Writes `files` (name, bytes) into a fresh folder and loads the folder.
pub fn load_files(files: &[(&str, Vec<u8>)]) -> Loaded {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("input");
    for (name, bytes) in files {
        let path = input.join(name);
        fs::create_dir_all(path.parent().expect("a parent")).expect("create folder");
        fs::write(&path, bytes).expect("write input");
    }
    load_paths(dir, &[input])
}

/// Writes `files` into a fresh folder and loads it, returning what the load returned.
pub fn try_load_files(files: &[(&str, Vec<u8>)]) -> Result<LoadReport, IngestError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("input");
    for (name, bytes) in files {
        let path = input.join(name);
        fs::create_dir_all(path.parent().expect("a parent")).expect("create folder");
        fs::write(&path, bytes).expect("write input");
    }
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async {
        let wh = Warehouse::init(&dir.path().join("wh")).expect("init warehouse");
        let tenant = wh.add_tenant("t", "测试县").await.expect("add tenant");
        ingest::load(
            &tenant,
            &[input],
            &ingest::LoadOptions::default(),
            &|_: &str| {},
        )
        .await
    })
}

/// `text` in GBK, as Excel on Chinese Windows saves a CSV.
pub fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = GB18030.encode(text);
    assert!(!unmappable, "{text} has no GBK form");
    bytes.into_owned()
}

/// The issues of the load, with severity `severity`.
pub fn issues(loaded: &Loaded, severity: Severity) -> Vec<&Issue> {
    loaded
        .report
        .issues
        .iter()
        .filter(|i| i.severity == severity)
        .collect()
}

/// The one issue with `severity`, or a panic listing them all.
pub fn only_issue(loaded: &Loaded, severity: Severity) -> &Issue {
    match issues(loaded, severity).as_slice() {
        [one] => one,
        _ => panic!(
            "expected one {severity:?} issue: {:#?}",
            loaded.report.issues
        ),
    }
}

/// The issues whose reason `matches`.
pub fn issues_where(loaded: &Loaded, matches: impl Fn(&Reason) -> bool) -> Vec<&Issue> {
    loaded
        .report
        .issues
        .iter()
        .filter(|i| matches(&i.reason))
        .collect()
}
