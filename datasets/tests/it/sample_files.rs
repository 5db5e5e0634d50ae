//! The committed sample is exactly what the generator makes, byte for byte, and it has the
//! form DESIGN promises: Chinese headers and values, GBK and BOM CSVs, one workbook.

use datasets::{GenerateOptions, OutputFormat, Scale, generate, sample_dir};

use crate::common::files_of;

fn fresh(
    seed: u64,
) -> (
    tempfile::TempDir,
    std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>,
) {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenerateOptions {
        seed,
        ..GenerateOptions::new(Scale::Sample, dir.path().to_path_buf())
    };
    let summary = generate(&opts, &|_| {}).unwrap();
    assert_eq!(summary.counties.len(), 1);
    assert_eq!(summary.counties[0].tenant_id, "sample");
    let files = files_of(dir.path());
    assert_eq!(
        summary.bytes_written,
        files.values().map(|b| b.len() as u64).sum::<u64>()
    );
    (dir, files)
}

#[test]
fn sample_on_disk_is_fresh() {
    let (_dir, files) = fresh(datasets::DEFAULT_SEED);
    let mut committed = files_of(&sample_dir());
    committed.remove(std::path::Path::new("README.md"));
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        files.keys().collect::<Vec<_>>(),
        "the sample's files changed: run `cargo run -p datasets --example regenerate_sample`"
    );
    for (name, bytes) in &files {
        assert!(
            committed[name] == *bytes,
            "{} differs from a fresh generation: run `cargo run -p datasets --example regenerate_sample`",
            name.display()
        );
    }
}

#[test]
fn another_seed_changes_every_file_but_not_the_layout() {
    let (_a, a) = fresh(datasets::DEFAULT_SEED);
    let (_b, b) = fresh(9);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert_ne!(
            &b[name],
            bytes,
            "{} did not change with the seed",
            name.display()
        );
    }
}

#[test]
fn sample_files_have_the_hand_over_form() {
    let files = files_of(&sample_dir());
    let names: Vec<String> = files
        .keys()
        .map(|p| p.display().to_string())
        .filter(|n| n != "README.md")
        .collect();
    assert_eq!(
        names,
        [
            "党员.csv",
            "党组织.csv",
            "签到记录.csv",
            "组织生活.csv",
            "网格单元.csv",
            "醴陵示范县考核数据.xlsx"
        ]
    );
    for (name, bom) in [
        ("党员.csv", false),
        ("党组织.csv", false),
        ("网格单元.csv", false),
        ("签到记录.csv", true),
        ("组织生活.csv", true),
    ] {
        let bytes = &files[std::path::Path::new(name)];
        if bom {
            assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "{name}");
            assert!(std::str::from_utf8(&bytes[3..]).is_ok());
        } else {
            // GBK: not UTF-8, decodes without a single replacement.
            assert!(std::str::from_utf8(bytes).is_err(), "{name} is not GBK");
            let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(bytes);
            assert!(!had_errors, "{name}");
            let header = text.lines().next().unwrap();
            let table = model::schema::table_for_name(name.trim_end_matches(".csv")).unwrap();
            let zh: Vec<&str> = table.columns.iter().map(|c| c.zh).collect();
            assert_eq!(header, zh.join(","));
        }
    }
    let members = encoding_rs::GBK
        .decode_without_bom_handling(&files[std::path::Path::new("党员.csv")])
        .0
        .into_owned();
    assert!(members.contains(",正式,") && members.contains(",预备,"));
    assert!(members.contains(",第一党小组,") && members.contains(",是\r\n"));
}

#[test]
fn sample_as_parquet_holds_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenerateOptions {
        format: OutputFormat::Parquet,
        ..GenerateOptions::new(Scale::Sample, dir.path().to_path_buf())
    };
    generate(&opts, &|_| {}).unwrap();
    let read = crate::common::read_parquet_dir(dir.path());
    let mem = datasets::sample_tables(datasets::DEFAULT_SEED).unwrap();
    for ((t, a), (_, b)) in read.iter().zip(&mem.tables) {
        assert_eq!(a.columns(), b.columns(), "{}", t.name);
    }
}
