use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Decimal128Type, Int64Type};
use model::schema::{ColumnType, TABLES, TableDef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub type Tables = Vec<(&'static TableDef, RecordBatch)>;

/// Every file under `dir` (recursively), relative path → bytes.
pub fn files_of(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

pub fn read_parquet_dir(dir: &Path) -> Tables {
    TABLES
        .iter()
        .map(|t| {
            let file = File::open(dir.join(format!("{}.parquet", t.name))).unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .unwrap()
                .build()
                .unwrap();
            let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
            let batch = arrow::compute::concat_batches(&t.arrow_schema(), &batches).unwrap();
            (t, batch)
        })
        .collect()
}

pub fn read_csv_dir(dir: &Path) -> Tables {
    TABLES
        .iter()
        .map(|t| {
            let file = File::open(dir.join(format!("{}.csv", t.name))).unwrap();
            let reader = arrow::csv::ReaderBuilder::new(t.arrow_schema())
                .with_header(true)
                .build(file)
                .unwrap();
            let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
            let batch = arrow::compute::concat_batches(&t.arrow_schema(), &batches).unwrap();
            (t, batch)
        })
        .collect()
}

pub fn table<'a>(tables: &'a Tables, name: &str) -> &'a RecordBatch {
    &tables.iter().find(|(t, _)| t.name == name).unwrap().1
}

pub fn strings(batch: &RecordBatch, col: &str) -> Vec<Option<String>> {
    let c = batch.column_by_name(col).unwrap().as_string::<i32>();
    (0..c.len())
        .map(|i| c.is_valid(i).then(|| c.value(i).to_string()))
        .collect()
}

pub fn text(batch: &RecordBatch, col: &str) -> Vec<String> {
    strings(batch, col)
        .into_iter()
        .map(|s| s.unwrap_or_default())
        .collect()
}

pub fn ints(batch: &RecordBatch, col: &str) -> Vec<i64> {
    let c = batch
        .column_by_name(col)
        .unwrap()
        .as_primitive::<Int64Type>();
    (0..c.len()).map(|i| c.value(i)).collect()
}

pub fn cents(batch: &RecordBatch, col: &str) -> Vec<i128> {
    let c = batch
        .column_by_name(col)
        .unwrap()
        .as_primitive::<Decimal128Type>();
    (0..c.len()).map(|i| c.value(i)).collect()
}

fn key_of(batch: &RecordBatch, cols: &[&str], row: usize) -> String {
    cols.iter()
        .map(|c| {
            let a = batch.column_by_name(c).unwrap().as_string::<i32>();
            a.value(row).to_string()
        })
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// What ingest checks under the default rules, checked here on the generated rows: keys,
/// references, the grid, scores, enumerations, ID numbers, periods, months and visits.
pub fn check_integrity(tables: &Tables) {
    assert_eq!(tables.len(), TABLES.len());
    let mut keys: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (t, batch) in tables {
        assert_eq!(batch.schema().fields().len(), t.columns.len(), "{}", t.name);
        for (i, c) in t.columns.iter().enumerate() {
            assert_eq!(batch.schema().field(i).name(), c.name);
            if c.required {
                assert_eq!(
                    batch.column(i).null_count(),
                    0,
                    "{}.{} has nulls",
                    t.name,
                    c.name
                );
            }
            if let ColumnType::Enum(values) = &c.ty {
                for v in strings(batch, c.name).into_iter().flatten() {
                    assert!(
                        values.iter().any(|e| e.canonical == v),
                        "{}.{}: '{v}' is not canonical",
                        t.name,
                        c.name
                    );
                }
            }
        }
        let mut set = BTreeSet::new();
        for row in 0..batch.num_rows() {
            let k = key_of(batch, t.primary_key, row);
            assert!(set.insert(k.clone()), "{}: duplicate key {k}", t.name);
        }
        assert!(!set.is_empty(), "{} is empty", t.name);
        keys.insert(t.name, set);
    }
    for (t, batch) in tables {
        for fk in t.foreign_keys {
            let target = &keys[fk.table];
            for v in strings(batch, fk.column).into_iter().flatten() {
                assert!(
                    target.contains(&v),
                    "{}.{} = {v} is not in {}",
                    t.name,
                    fk.column,
                    fk.table
                );
            }
        }
    }

    // Grid: one root at level 0; every parent exists one level up.
    let grid = table(tables, "grid_units");
    let ids = text(grid, "unit_id");
    let parents = strings(grid, "parent_id");
    let levels = ints(grid, "level");
    let level_of: BTreeMap<&str, i64> = ids
        .iter()
        .map(|s| s.as_str())
        .zip(levels.iter().copied())
        .collect();
    let roots = parents.iter().filter(|p| p.is_none()).count();
    assert_eq!(roots, 1);
    for ((p, l), id) in parents.iter().zip(&levels).zip(&ids) {
        match p {
            None => assert_eq!(*l, 0, "root {id}"),
            Some(p) => assert_eq!(level_of[p.as_str()] + 1, *l, "{id} under {p}"),
        }
        assert!((0..=5).contains(l));
    }
    for l in 0..=5 {
        assert!(levels.contains(&l), "no unit at level {l}");
    }

    // Scores: only the default rules' indicators, within their maxima; periods 2024-Bn.
    let rules = model::rules::Rules::default_rules();
    let scores = table(tables, "scores");
    for ((ind, v), p) in text(scores, "indicator")
        .iter()
        .zip(cents(scores, "score"))
        .zip(text(scores, "period"))
    {
        let def = rules
            .indicator(ind)
            .unwrap_or_else(|| panic!("unknown indicator {ind}"));
        assert!(v >= 0 && v <= i128::from(def.max.0), "{ind} = {v}");
        assert!(
            p.len() == 7 && p.starts_with("2024-B") && ("1"..="6").contains(&&p[6..]),
            "{p}"
        );
    }
    let points = table(tables, "points");
    for m in text(points, "month") {
        let (y, mm) = m.split_once('-').unwrap();
        assert_eq!(y, "2024");
        assert_eq!(mm.len(), 2);
        assert!((1..=12).contains(&mm.parse::<u32>().unwrap()), "{m}");
    }
    for id in strings(table(tables, "members"), "id_number")
        .into_iter()
        .flatten()
    {
        assert!(model::schema::id_number_is_valid(&id), "{id}");
        assert_eq!(&id[14..15], "9", "{id}: not a synthetic 9xx sequence");
    }
    let visits = table(tables, "visits");
    for (r, s) in ints(visits, "issues_raised")
        .iter()
        .zip(ints(visits, "issues_resolved"))
    {
        assert!(s >= 0 && s <= *r);
    }
    for (t, batch) in tables {
        for (i, c) in t.columns.iter().enumerate() {
            if matches!(c.ty, ColumnType::Int { .. }) {
                let a = batch.column(i).as_primitive::<Int64Type>();
                assert!(a.iter().flatten().all(|v| v >= 0), "{}.{}", t.name, c.name);
            }
        }
    }
}

/// Row counts per table.
pub fn row_counts(tables: &Tables) -> Vec<(&'static str, usize)> {
    tables.iter().map(|(t, b)| (t.name, b.num_rows())).collect()
}
