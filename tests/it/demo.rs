//! `demo` from a fresh start: the sample county loads without a rejection, the newest period is
//! ranked on screen, the metrics are written as files, and the report is written.

use crate::common::bin;

#[test]
fn demo_runs_into_a_temp_dir() {
    let dir = tempfile::tempdir().expect("dir");
    let out_dir = dir.path().join("demo");
    let out = bin()
        .args(["demo", "--out", out_dir.to_str().expect("path")])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("+ 0 rejected"), "{stdout}");
    assert!(stdout.contains("流动红旗排名"), "{stdout}");
    assert!(stdout.contains("🚩"), "{stdout}");
    for f in [
        "ranking.csv",
        "ranking.xlsx",
        "ranking_year.csv",
        "coverage.csv",
        "coverage_findings.csv",
        "attendance_townships.csv",
        "meeting_compliance.csv",
        "attendance_alerts.csv",
        "points.csv",
        "grid_visits.csv",
    ] {
        let path = out_dir.join(f);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(len > 100, "{} is missing or empty", path.display());
    }
    // It ends with the report.
    for f in [
        "report/report.html",
        "report/ranking.xlsx",
        "report/charts/attendance_trend.png",
        "report/charts/coverage.svg",
    ] {
        let path = out_dir.join(f);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(len > 1000, "{} is missing or empty", path.display());
    }
    assert!(stdout.contains("考核报告"), "{stdout}");
    // The files it loads are written beside the results, the same bytes as the committed
    // sample: an installed binary needs no source tree to run its demo.
    let sample = out_dir.join("sample");
    for entry in std::fs::read_dir(datasets::sample_dir()).expect("the committed sample") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name");
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let written = std::fs::read(sample.join(name))
            .unwrap_or_else(|e| panic!("{} in {}: {e}", path.display(), sample.display()));
        assert!(
            written == std::fs::read(&path).expect("committed"),
            "{} differs from the committed sample",
            name.display()
        );
    }
    let ranking = std::fs::read_to_string(out_dir.join("ranking.csv")).expect("ranking");
    assert!(ranking.starts_with("period,group_id,group_name,rank,branch_id,branch_name,total"));

    // Running it again starts from a fresh warehouse rather than loading on top.
    let again = bin()
        .args(["demo", "--out", out_dir.to_str().expect("path")])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("load 1:"), "{stdout}");
}
