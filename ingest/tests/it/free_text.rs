//! Free text (names, themes, reasons, …) is stored exactly as the file has it: no folding of
//! full-width punctuation, no trimming; only a cell of nothing but white space is empty.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use calamine::Reader;
use model::schema::{ColumnType, TableDef, table_for_name};

use crate::common::{Loaded, load_case, load_folder, texts};

/// The sample county's files, as `datasets/sample` has them.
fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/sample")
}

/// A file's rows as its cells decode, independently of ingest: UTF-8 (with or without a BOM)
/// when the bytes are UTF-8, else GB18030.
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let bytes = fs::read(path).expect("read sample file");
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t.trim_start_matches('\u{feff}').to_string(),
        Err(_) => {
            let (t, _, bad) = encoding_rs::GB18030.decode(&bytes);
            assert!(
                !bad,
                "{} decodes as neither UTF-8 nor GB18030",
                path.display()
            );
            t.into_owned()
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| r.expect("csv record").iter().map(str::to_string).collect())
        .collect()
}

/// Every sheet of a workbook named after a table, its cells as text.
fn workbook_rows(path: &Path) -> Vec<(&'static TableDef, Vec<Vec<String>>)> {
    let mut wb = calamine::open_workbook_auto(path).expect("open workbook");
    let mut out = Vec::new();
    for sheet in wb.sheet_names() {
        let Some(table) = table_for_name(&sheet) else {
            continue;
        };
        let range = wb.worksheet_range(&sheet).expect("sheet");
        let rows = range
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        out.push((table, rows));
    }
    out
}

/// Checks that every free-text and key cell of `rows` (a header, then data) is stored byte for
/// byte in the committed table; returns how many values were compared.
fn assert_stored_as_written(loaded: &Loaded, table: &TableDef, rows: &[Vec<String>]) -> usize {
    let (header, data) = rows.split_first().expect("a header");
    let file_col = |name: &str| {
        let zh = table.column(name).expect("column").zh;
        header
            .iter()
            .position(|h| h == zh || h == name)
            .unwrap_or_else(|| panic!("{}: no header for {name}", table.name))
    };
    let key_cols: Vec<usize> = table.primary_key.iter().map(|k| file_col(k)).collect();
    // Committed rows by their key as the file writes it (the sample's keys are plain).
    let (_, batch): &(&str, RecordBatch) = loaded
        .tables
        .iter()
        .find(|(t, _)| *t == table.name)
        .expect("table");
    assert_eq!(batch.num_rows(), data.len(), "{}: rows", table.name);
    let stored_keys: Vec<Vec<Option<String>>> = table
        .primary_key
        .iter()
        .map(|k| texts(loaded, table.name, k))
        .collect();
    let mut row_of: HashMap<Vec<String>, usize> = HashMap::new();
    for r in 0..batch.num_rows() {
        let key = stored_keys
            .iter()
            .map(|c| c[r].clone().expect("key"))
            .collect();
        row_of.insert(key, r);
    }
    let mut compared = 0;
    for column in table.columns {
        if !matches!(column.ty, ColumnType::Text) {
            continue;
        }
        let c = file_col(column.name);
        let stored = batch
            .column_by_name(column.name)
            .expect("stored column")
            .as_string::<i32>();
        for cells in data {
            let key: Vec<String> = key_cols.iter().map(|k| cells[*k].clone()).collect();
            let Some(&r) = row_of.get(&key) else {
                // Keys normalized on the way in (a period) are not text columns: look up
                // tables whose key is all text only.
                panic!("{}: no stored row for key {key:?}", table.name);
            };
            let written = &cells[c];
            let expected = (!written.trim().is_empty()).then_some(written.as_str());
            let got = stored.is_valid(r).then(|| stored.value(r));
            assert_eq!(
                got, expected,
                "{}.{} of row {key:?} is not stored as written",
                table.name, column.name
            );
            compared += 1;
        }
    }
    compared
}

#[test]
fn the_sample_county_round_trips_every_text_value_byte_for_byte() {
    let loaded = load_folder(&sample());
    let mut compared = 0;
    let mut entries: Vec<PathBuf> = fs::read_dir(sample())
        .expect("sample folder")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => {
                let stem = path.file_stem().and_then(|s| s.to_str()).expect("stem");
                let table = table_for_name(stem).expect("a table file");
                compared += assert_stored_as_written(&loaded, table, &csv_rows(&path));
            }
            Some("xlsx") => {
                for (table, rows) in workbook_rows(&path) {
                    if table.name == "scores" {
                        // Its key holds a period, stored normalized (2024年1-2月 → 2024-B1):
                        // compare by position instead.
                        compared += assert_scores_text(&loaded, &rows);
                        continue;
                    }
                    compared += assert_stored_as_written(&loaded, table, &rows);
                }
            }
            _ => {}
        }
    }
    // Every table's text, not a handful: the sample has tens of thousands of text cells.
    assert!(compared > 50_000, "only {compared} values compared");
}

/// The scores' free text (indicator, assessor) by branch, indicator and the period's position
/// in the file, since the stored period is the normal form of the written one.
fn assert_scores_text(loaded: &Loaded, rows: &[Vec<String>]) -> usize {
    let (header, data) = rows.split_first().expect("a header");
    let col = |zh: &str| header.iter().position(|h| h == zh).expect("header");
    let (period, branch, indicator, assessor) = (
        col("考核周期"),
        col("组织编码"),
        col("考核指标"),
        col("考核人"),
    );
    let stored_period = texts(loaded, "scores", "period");
    let stored_branch = texts(loaded, "scores", "branch_id");
    let stored_indicator = texts(loaded, "scores", "indicator");
    let stored_assessor = texts(loaded, "scores", "assessor");
    assert_eq!(stored_period.len(), data.len());
    let mut by_key: HashMap<(String, String, String), Option<String>> = HashMap::new();
    for r in 0..stored_period.len() {
        let p = model::Period::parse(stored_period[r].as_deref().expect("period"))
            .expect("a stored period");
        let key = (
            p.to_string(),
            stored_branch[r].clone().expect("branch"),
            stored_indicator[r].clone().expect("indicator"),
        );
        by_key.insert(key, stored_assessor[r].clone());
    }
    let mut compared = 0;
    for cells in data {
        let p = model::Period::parse(&cells[period]).expect("a written period");
        let key = (
            p.to_string(),
            cells[branch].clone(),
            cells[indicator].clone(),
        );
        let stored = by_key
            .get(&key)
            .unwrap_or_else(|| panic!("no stored score {key:?}"));
        let written = &cells[assessor];
        let expected = (!written.trim().is_empty()).then(|| written.clone());
        assert_eq!(stored, &expected, "scores.assessor of {key:?}");
        compared += 3;
    }
    compared
}

#[test]
fn full_width_punctuation_and_spaces_in_free_text_are_kept() {
    let loaded = load_case("valid/free_text_as_written");
    let themes = texts(&loaded, "meetings", "theme");
    assert_eq!(
        themes[0].as_deref(),
        Some("主题党日：新春走访慰问（第一次）")
    );
    assert_eq!(themes[1].as_deref(), Some("  学习党章，　交流心得 "));
    let groups = texts(&loaded, "meetings", "party_group");
    assert_eq!(groups[1].as_deref(), Some("第一党小组 "));
    let names = texts(&loaded, "members", "name");
    assert_eq!(names[3].as_deref(), Some("欧阳　娜"));
    // A cell of nothing but an ideographic space is empty.
    let reasons = texts(&loaded, "points", "reason");
    assert_eq!(
        reasons,
        [Some("无故缺席党小组会！".to_string()), None, None]
    );
    let units = texts(&loaded, "grid_units", "name");
    assert!(
        units.contains(&Some("醴陵示例县（ＤＥＭＯ）".to_string())),
        "{units:?}"
    );
    assert!(
        loaded.report.issues.is_empty(),
        "{:#?}",
        loaded.report.issues
    );
}
