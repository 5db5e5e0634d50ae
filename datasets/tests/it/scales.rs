//! County, city and province output: determinism across runs and thread counts, the layout,
//! the integrity of the rows, and the refusals.

use std::time::Instant;

use datasets::{GenerateError, GenerateOptions, OutputFormat, Scale, Tuning, generate_tuned};

use crate::common::{check_integrity, files_of, read_csv_dir, read_parquet_dir, row_counts};

fn run(
    scale: Scale,
    seed: u64,
    format: OutputFormat,
    percent: u32,
    threads: usize,
) -> (tempfile::TempDir, datasets::GenerateSummary) {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenerateOptions {
        scale,
        seed,
        out: dir.path().to_path_buf(),
        format,
    };
    let tuning = Tuning {
        size_percent: percent,
        threads,
    };
    let summary = generate_tuned(&opts, &tuning, &|_| {}).unwrap();
    (dir, summary)
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, _) = run(Scale::County, 5, OutputFormat::Parquet, 8, 2);
    let (b, _) = run(Scale::County, 5, OutputFormat::Parquet, 8, 1);
    let (c, _) = run(Scale::County, 6, OutputFormat::Parquet, 8, 2);
    let (fa, fb, fc) = (files_of(a.path()), files_of(b.path()), files_of(c.path()));
    assert_eq!(fa.len(), 9);
    assert!(fa == fb, "same seed, different bytes");
    for (name, bytes) in &fa {
        assert_ne!(
            &fc[name],
            bytes,
            "{} did not change with the seed",
            name.display()
        );
    }
}

#[test]
fn csv_and_parquet_hold_the_same_rows_and_pass_integrity() {
    let (p, summary) = run(Scale::County, 11, OutputFormat::Parquet, 8, 2);
    let (c, _) = run(Scale::County, 11, OutputFormat::Csv, 8, 2);
    let from_parquet = read_parquet_dir(p.path());
    let from_csv = read_csv_dir(c.path());
    check_integrity(&from_parquet);
    for ((t, a), (_, b)) in from_parquet.iter().zip(&from_csv) {
        assert_eq!(a.columns(), b.columns(), "{}", t.name);
    }
    let counts = row_counts(&from_parquet);
    for ((table, n), (t2, m)) in counts.iter().zip(&summary.counties[0].rows) {
        assert_eq!((table, *n as u64), (t2, *m));
    }
    // The English CSV: ISO dates, true/false, decimals with two places, empty for null.
    let branches = std::fs::read_to_string(c.path().join("branches.csv")).unwrap();
    assert!(
        branches.starts_with("branch_id,name,unit_id,type,is_joint,founded_on,paired_branch_id\n")
    );
    assert!(branches.contains(",true,") && branches.contains(",false,"));
    let scores = std::fs::read_to_string(c.path().join("scores.csv")).unwrap();
    let first = scores.lines().nth(1).unwrap();
    assert!(first.starts_with("2024-B1,"), "{first}");
    let score = first.split(',').nth(3).unwrap();
    assert_eq!(score.split('.').nth(1).map(str::len), Some(2), "{first}");
}

#[test]
fn a_city_is_the_same_on_one_thread_or_two_and_starts_with_the_county() {
    let (two, summary) = run(Scale::City, 3, OutputFormat::Parquet, 3, 2);
    let (one, _) = run(Scale::City, 3, OutputFormat::Parquet, 3, 1);
    let (county, _) = run(Scale::County, 3, OutputFormat::Parquet, 3, 1);
    let f2 = files_of(two.path());
    assert_eq!(f2.len(), 90);
    assert!(f2 == files_of(one.path()), "thread count changed the bytes");
    let ids: Vec<&str> = summary
        .counties
        .iter()
        .map(|c| c.tenant_id.as_str())
        .collect();
    assert_eq!(ids[0], "c001");
    assert_eq!(ids[9], "c010");
    let names: std::collections::BTreeSet<&str> =
        summary.counties.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), 10, "county names repeat");
    for (name, bytes) in files_of(county.path()) {
        assert!(
            f2[&std::path::Path::new("county=c001").join(&name)] == bytes,
            "county c001 of the city differs from the county scale in {}",
            name.display()
        );
    }
    for c in &summary.counties {
        check_integrity(&read_parquet_dir(&c.dir));
    }
}

#[test]
fn province_refuses_csv() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenerateOptions {
        format: OutputFormat::Csv,
        ..GenerateOptions::new(Scale::Province, dir.path().to_path_buf())
    };
    assert_eq!(opts.scale.default_format(), OutputFormat::Parquet);
    let err = datasets::generate(&opts, &|_| {}).unwrap_err();
    assert!(
        matches!(err, GenerateError::FormatNotSupported { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("Parquet only"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn refuses_to_mix_with_another_generation() {
    let dir = tempfile::tempdir().unwrap();
    let csv = GenerateOptions {
        scale: Scale::County,
        seed: 1,
        out: dir.path().to_path_buf(),
        format: OutputFormat::Csv,
    };
    let tiny = Tuning {
        size_percent: 3,
        threads: 1,
    };
    generate_tuned(&csv, &tiny, &|_| {}).unwrap();
    // The same run again overwrites its own files.
    generate_tuned(&csv, &tiny, &|_| {}).unwrap();
    let parquet = GenerateOptions {
        format: OutputFormat::Parquet,
        ..csv.clone()
    };
    let err = generate_tuned(&parquet, &tiny, &|_| {}).unwrap_err();
    match &err {
        GenerateError::ForeignData { dir: d, entry } => {
            assert_eq!(d, dir.path());
            assert!(entry.ends_with(".csv"), "{entry}");
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains(&dir.path().display().to_string()));
}

#[test]
fn names_parse() {
    assert_eq!("Province".parse::<Scale>(), Ok(Scale::Province));
    assert_eq!("parquet".parse::<OutputFormat>(), Ok(OutputFormat::Parquet));
    let err = "state".parse::<Scale>().unwrap_err();
    assert!(err.to_string().contains("sample, county, city, province"));
}

/// A full-size county (≈1,000 branches, ≈45,000 members, ≈1.5 million attendance rows),
/// written and read back in the dev profile: a few seconds.
#[test]
fn full_county_has_the_shape_of_liling() {
    let started = Instant::now();
    let (dir, summary) = run(
        Scale::County,
        datasets::DEFAULT_SEED,
        OutputFormat::Parquet,
        100,
        2,
    );
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "county: {:.1}s, {} bytes, {:?}",
        secs, summary.bytes_written, summary.counties[0].rows
    );
    let rows = |t: &str| summary.rows(t);
    assert!(
        (850..=1_200).contains(&rows("branches")),
        "{}",
        rows("branches")
    );
    assert!(
        (38_000..=55_000).contains(&rows("members")),
        "{}",
        rows("members")
    );
    assert!(
        (1_200_000..=1_900_000).contains(&rows("attendance")),
        "{}",
        rows("attendance")
    );
    let tables = read_parquet_dir(dir.path());
    check_integrity(&tables);
}
