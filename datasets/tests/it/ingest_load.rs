//! The real ingest loads the committed sample (GBK, BOM, workbook) with no rejected row and no
//! warning under the default rules. A full generated county is loaded through the binary by the
//! end-to-end tests (`tests/it/sample_views.rs`).

use std::path::PathBuf;

use datasets::sample_dir;

fn load(paths: &[PathBuf], tenant: &str) -> ingest::LoadReport {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let wh = warehouse::Warehouse::init(&dir.path().join("wh")).unwrap();
        let tenant = wh.add_tenant(tenant, "测试县").await.unwrap();
        ingest::load(
            &tenant,
            paths,
            &ingest::LoadOptions::default(),
            &|_: &str| {},
        )
        .await
        .unwrap()
    })
}

fn assert_clean(report: &ingest::LoadReport, expected: &[(&'static str, u64)]) {
    let problems: Vec<String> = report
        .issues
        .iter()
        .take(5)
        .map(|i| {
            format!(
                "{} {} {:?} {:?}: {}",
                i.table, i.file, i.line, i.column, i.reason
            )
        })
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    let got: Vec<(&str, u64, usize, usize)> = report
        .tables
        .iter()
        .map(|t| (t.table, t.loaded as u64, t.rejected, t.warnings))
        .collect();
    let want: Vec<(&str, u64, usize, usize)> =
        expected.iter().map(|(t, n)| (*t, *n, 0, 0)).collect();
    assert_eq!(got, want);
}

#[test]
fn the_committed_sample_loads_without_a_rejection() {
    let report = load(&[sample_dir()], "sample");
    let expected = datasets::sample_tables(datasets::DEFAULT_SEED).unwrap();
    let rows: Vec<(&'static str, u64)> = expected
        .tables
        .iter()
        .map(|(t, b)| (t.name, b.num_rows() as u64))
        .collect();
    assert_clean(&report, &rows);
    // Five CSVs and four sheets; the workbook's notes sheet is skipped, not rejected.
    assert_eq!(report.files.len(), 9);
}
