//! Typed Parquet: dates, booleans and decimals are read back as text and checked like CSV.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use ingest::{Reason, Severity};
use parquet::arrow::ArrowWriter;

use crate::common::{assert_same_tables, load_case, reference_county};
use crate::inputs::{load_files, only_issue, try_load_files};

#[test]
fn typed_parquet_files() {
    let loaded = load_case("valid/parquet");
    assert_same_tables("parquet", &loaded, &reference_county());
    assert_eq!(loaded.report.files.len(), 9);
    assert!(loaded.report.files.iter().all(|f| f.encoding.is_none()));
}

/// Writes `batch` as a Parquet file's bytes.
fn parquet_bytes(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), None).expect("writer");
    writer.write(batch).expect("write batch");
    writer.close().expect("close");
    out
}

fn grid_batch(
    unit_id: ArrayRef,
    parent_id: Vec<Option<&str>>,
    level: Vec<Option<i64>>,
) -> RecordBatch {
    let names: Vec<Option<String>> = level
        .iter()
        .map(|l| l.map(|l| format!("第{l}级")))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("unit_id", unit_id.data_type().clone(), true),
            Field::new("parent_id", DataType::Utf8, true),
            Field::new("level", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ])),
        vec![
            unit_id,
            Arc::new(StringArray::from(parent_id)),
            Arc::new(Int64Array::from(level)),
            Arc::new(StringArray::from(names)),
        ],
    )
    .expect("grid batch")
}

/// A row of nulls is a row the file has: counted and rejected, never dropped uncounted.
#[test]
fn an_all_null_row_is_read_and_rejected() {
    let batch = grid_batch(
        Arc::new(StringArray::from(vec![Some("C"), None, Some("U1")])),
        vec![None, None, Some("C")],
        vec![Some(0), None, Some(1)],
    );
    let loaded = load_files(&[("grid_units.parquet", parquet_bytes(&batch))]);
    let grid = &loaded.report.tables[0];
    assert_eq!((grid.read, grid.loaded, grid.rejected), (3, 2, 1));
    let rejected = only_issue(&loaded, Severity::Rejected);
    assert_eq!(
        (rejected.line, &rejected.reason),
        (Some(2), &Reason::EmptyRow)
    );
}

/// Ids are text or whole numbers: a floating-point id column (`7.0`) is refused, naming it.
#[test]
fn a_floating_point_id_column_is_refused() {
    let batch = grid_batch(
        Arc::new(Float64Array::from(vec![1.0, 7.0])),
        vec![None, Some("1")],
        vec![Some(0), Some(1)],
    );
    let err = try_load_files(&[("grid_units.parquet", parquet_bytes(&batch))])
        .expect_err("a float id column must be refused");
    let message = err.to_string();
    assert!(message.contains("grid_units.parquet"), "{message}");
    assert!(message.contains("'unit_id'"), "{message}");
    assert!(message.contains("floating-point"), "{message}");
}
