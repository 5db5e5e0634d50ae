//! Tables for machines: CSV and JSON exactly as `--format csv|json` writes them (SPEC column
//! names, ISO dates, rates as decimals, empty or null for null), and a plain workbook. The CLI
//! and the web console both write through here, so a download equals the command's output.

use std::io::Write;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::ReportError;

fn failed(
    format: &'static str,
) -> impl Fn(Box<dyn std::error::Error + Send + Sync>) -> ReportError {
    move |source| ReportError::Export { format, source }
}

/// Comma-separated with a header row (also for no rows).
pub fn csv(
    out: &mut dyn Write,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<(), ReportError> {
    let failed = failed("CSV");
    let mut writer = arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(&mut *out);
    if batches.is_empty() {
        writer
            .write(&RecordBatch::new_empty(schema.clone()))
            .map_err(|e| failed(e.into()))?;
    }
    for batch in batches {
        writer.write(batch).map_err(|e| failed(e.into()))?;
    }
    Ok(())
}

/// A JSON array of objects, one per row (`[]` for none), and a newline.
pub fn json(
    out: &mut dyn Write,
    _schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<(), ReportError> {
    let failed = failed("JSON");
    let mut writer = arrow::json::ArrayWriter::new(&mut *out);
    for batch in batches {
        writer.write(batch).map_err(|e| failed(e.into()))?;
    }
    writer.finish().map_err(|e| failed(e.into()))?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        write!(out, "[]").map_err(|e| failed(e.into()))?;
    }
    writeln!(out).map_err(|e| failed(e.into()))?;
    Ok(())
}

/// A plain workbook: one sheet, a bold header (`labels`, or the SPEC column names), numbers as
/// numbers, the header row frozen.
pub fn xlsx(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    labels: Option<&[&str]>,
) -> Result<Vec<u8>, ReportError> {
    write_xlsx(schema, batches, labels).map_err(failed("xlsx"))
}

fn write_xlsx(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    labels: Option<&[&str]>,
) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, field) in schema.fields().iter().enumerate() {
        let header = labels
            .and_then(|l| l.get(c).copied())
            .unwrap_or(field.name());
        sheet.write_string_with_format(0, c as u16, header, &bold)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    let options = FormatOptions::default().with_null("");
    let mut row = 1u32;
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for r in 0..batch.num_rows() {
            for (c, (col, f)) in batch.columns().iter().zip(&formatters).enumerate() {
                let c = c as u16;
                if col.is_null(r) {
                    continue;
                }
                match col.data_type() {
                    DataType::Int64 => {
                        sheet.write_number(
                            row,
                            c,
                            col.as_primitive::<Int64Type>().value(r) as f64,
                        )?;
                    }
                    DataType::Float64 => {
                        sheet.write_number(row, c, col.as_primitive::<Float64Type>().value(r))?;
                    }
                    DataType::Decimal128(_, _) => {
                        let text = f.value(r).to_string();
                        match text.parse::<f64>() {
                            Ok(v) => sheet.write_number(row, c, v)?,
                            Err(_) => sheet.write_string(row, c, &text)?,
                        };
                    }
                    DataType::Boolean => {
                        sheet.write_boolean(row, c, col.as_boolean().value(r))?;
                    }
                    _ => {
                        sheet.write_string(row, c, f.value(r).to_string())?;
                    }
                }
            }
            row += 1;
        }
    }
    sheet.autofit();
    Ok(workbook.save_to_buffer()?)
}
