//! Writing results for people (`table`) and for machines (`csv`, `json`, `parquet`, `xlsx`).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
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
        // The same bytes as the console's downloads (`format=csv|json`).
        Format::Csv => reports::export::csv(out, schema, batches)?,
        Format::Json => reports::export::json(out, schema, batches)?,
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

/// A plain workbook (the console's `format=xlsx` too).
fn write_xlsx(file: &Path, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    std::fs::write(file, reports::export::xlsx(schema, batches, None)?)?;
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
