//! Writing results for people (`table`) and for machines (`csv`, `json`, `parquet`, `xlsx`).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use clap::ValueEnum;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use reports::present;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns with Chinese labels, for reading in a terminal.
    Table,
    /// Comma-separated with the SPEC column names; ISO dates, rates as decimals, empty for null.
    Csv,
    /// A JSON array of objects with the SPEC column names.
    Json,
    /// A Parquet file (needs --output).
    Parquet,
    /// An Excel workbook with one sheet (needs --output).
    Xlsx,
}

/// Where and how to write a result.
pub struct Output<'a> {
    pub format: Format,
    pub file: Option<&'a Path>,
}

impl Output<'_> {
    /// Writes batches; `labels` replaces the header of the `table` format, otherwise the
    /// columns get their Chinese labels there.
    pub fn write(
        &self,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        labels: Option<&[&str]>,
    ) -> Result<()> {
        match self.format {
            Format::Parquet | Format::Xlsx => {
                let Some(file) = self.file else {
                    bail!(
                        "--format {} writes a file: give it with --output FILE",
                        format_name(self.format)
                    );
                };
                if self.format == Format::Parquet {
                    write_parquet(file, schema, batches)
                } else {
                    write_xlsx(file, schema, batches)
                }
                .with_context(|| format!("writing {}", file.display()))?;
                eprintln!("wrote {}", file.display());
                Ok(())
            }
            _ => match self.file {
                Some(file) => {
                    let mut f = std::fs::File::create(file)
                        .with_context(|| format!("cannot create {}", file.display()))?;
                    write_batches(&mut f, self.format, schema, batches, labels)
                }
                None => write_batches(
                    &mut std::io::stdout().lock(),
                    self.format,
                    schema,
                    batches,
                    labels,
                ),
            },
        }
    }
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Table => "table",
        Format::Csv => "csv",
        Format::Json => "json",
        Format::Parquet => "parquet",
        Format::Xlsx => "xlsx",
    }
}

/// Writes batches in a text format to `out`.
pub fn write_batches(
    out: &mut dyn Write,
    format: Format,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    labels: Option<&[&str]>,
) -> Result<()> {
    match format {
        Format::Table => {
            let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
            let mut table = Table::new();
            table
                .load_preset(UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Disabled);
            match labels {
                Some(l) => table.set_header(l.to_vec()),
                None => table.set_header(names.iter().map(|n| present::label(n))),
            };
            for row in present::humanize(batches, &names, present::Marks::TERMINAL)? {
                table.add_row(row);
            }
            writeln!(out, "{table}")?;
        }
        Format::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            if batches.is_empty() {
                writer.write(&RecordBatch::new_empty(schema.clone()))?;
            }
            for batch in batches {
                writer.write(batch)?;
            }
        }
        Format::Json => {
            let mut writer = arrow::json::ArrayWriter::new(&mut *out);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
            if batches.iter().all(|b| b.num_rows() == 0) {
                write!(out, "[]")?;
            }
            writeln!(out)?;
        }
        Format::Parquet | Format::Xlsx => {
            bail!("--format {} needs --output FILE", format_name(format))
        }
    }
    Ok(())
}

fn write_parquet(file: &Path, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    let f = std::fs::File::create(file)?;
    let mut writer = parquet::arrow::ArrowWriter::try_new(f, schema.clone(), None)?;
    for b in batches {
        writer.write(b)?;
    }
    writer.close()?;
    Ok(())
}

/// A plain workbook: one sheet, SPEC column names in the header, numbers as numbers.
fn write_xlsx(file: &Path, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, field) in schema.fields().iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, field.name(), &bold)?;
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
    workbook.save(file)?;
    Ok(())
}

/// A small all-text result (listings of tenants, users), written like any other.
pub fn write_text_table(format: Format, columns: &[(&str, Vec<String>)]) -> Result<()> {
    use std::sync::Arc;
    let schema = Arc::new(arrow::datatypes::Schema::new(
        columns
            .iter()
            .map(|(name, _)| arrow::datatypes::Field::new(*name, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let arrays = columns
        .iter()
        .map(|(_, values)| {
            Arc::new(arrow::array::StringArray::from_iter_values(values)) as arrow::array::ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays)?;
    write_batches(
        &mut std::io::stdout().lock(),
        format,
        &schema,
        &[batch],
        None,
    )
}
