//! Reading county files into raw tables: every cell as text, every row with the line it came
//! from. Nothing is interpreted here beyond the text encoding and the header names; the
//! cleaning and validation that follow decide what each cell means.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float32Type, Float64Type};
use calamine::{Data, Reader};
use model::HeaderMap;
use model::schema::{TABLES, TableDef, table_for_name};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::decode::{TextEncoding, decode_field, detect, utf16_to_utf8};
use crate::error::IngestError;
use crate::headers::map_headers;
use crate::issue::{Issue, Severity};
use crate::reason::Reason;

/// The rows of one table as read from one file or sheet.
#[derive(Debug)]
pub(crate) struct RawTable {
    pub(crate) table: &'static TableDef,
    /// The file as the user named it, with the sheet for workbooks: `县数据.xlsx [党员]`.
    pub(crate) source: String,
    pub(crate) encoding: Option<TextEncoding>,
    /// The source line (CSV), sheet row (Excel) or row number (Parquet) of each row.
    pub(crate) lines: Vec<u64>,
    /// One entry per column of the table definition: its cells, or `None` when the file has
    /// no such column.
    pub(crate) cells: Vec<Option<Vec<Option<String>>>>,
    /// Rows that could not be read faithfully (undecodable bytes, wrong field count, Excel
    /// error cells); they are rejected whatever their other cells say.
    pub(crate) unreadable: HashMap<usize, Vec<Issue>>,
    /// Findings about the file as a whole, such as a column that belongs to no table.
    pub(crate) notes: Vec<Issue>,
}

impl RawTable {
    pub(crate) fn len(&self) -> usize {
        self.lines.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// A file the load looked at and did not read, with why (shown to the user).
#[derive(Debug, Clone)]
pub struct Skipped {
    /// The file, or the workbook and sheet.
    pub path: String,
    /// Why it was not read.
    pub reason: String,
}

/// Everything a load read.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    pub(crate) tables: Vec<RawTable>,
    /// Every file read, in order.
    pub(crate) files: Vec<String>,
    pub(crate) skipped: Vec<Skipped>,
}

fn table_names() -> String {
    TABLES
        .iter()
        .map(|t| format!("{} ({})", t.name, t.zh))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Collects rows into a [`RawTable`], given the header and an iterator of rows.
struct RawBuilder {
    raw: RawTable,
    map: Vec<Option<usize>>,
    width: usize,
}

impl RawBuilder {
    fn new(
        table: &'static TableDef,
        source: String,
        encoding: Option<TextEncoding>,
        headers: &[String],
        header_line: u64,
        tenant: &HeaderMap,
    ) -> Result<Self, IngestError> {
        let (map, notes) = map_headers(table, headers, &source, header_line, tenant)?;
        let cells = map.iter().map(|m| m.map(|_| Vec::new())).collect();
        Ok(RawBuilder {
            raw: RawTable {
                table,
                source,
                encoding,
                lines: Vec::new(),
                cells,
                unreadable: HashMap::new(),
                notes,
            },
            map,
            width: headers.len(),
        })
    }

    fn header_name(&self, file_col: usize) -> Option<String> {
        self.map
            .iter()
            .position(|m| *m == Some(file_col))
            .map(|c| self.raw.table.columns[c].name.to_string())
    }

    /// Adds a row; `problems` are cell-level read failures: (file column, shown value, reason).
    fn push(
        &mut self,
        line: u64,
        values: Vec<Option<String>>,
        problems: Vec<(usize, String, Reason)>,
    ) {
        let row = self.raw.lines.len();
        self.raw.lines.push(line);
        let mut issues: Vec<Issue> = problems
            .into_iter()
            .map(|(c, value, reason)| Issue {
                table: self.raw.table.name,
                file: self.raw.source.clone(),
                line: Some(line),
                column: self.header_name(c).or(Some(format!("#{}", c + 1))),
                value: Some(value),
                reason,
                severity: Severity::Rejected,
            })
            .collect();
        let extra = values.iter().skip(self.width).any(Option::is_some);
        if values.len() < self.width || extra {
            issues.push(Issue {
                table: self.raw.table.name,
                file: self.raw.source.clone(),
                line: Some(line),
                column: None,
                value: None,
                reason: Reason::FieldCount {
                    fields: values.len(),
                    header: self.width,
                },
                severity: Severity::Rejected,
            });
        }
        for (c, target) in self.map.iter().enumerate() {
            if let (Some(file_col), Some(cells)) = (target, self.raw.cells[c].as_mut()) {
                cells.push(values.get(*file_col).cloned().flatten());
            }
        }
        if !issues.is_empty() {
            self.raw.unreadable.insert(row, issues);
        }
    }
}

fn is_blank(values: &[Option<String>]) -> bool {
    values
        .iter()
        .all(|v| v.as_deref().is_none_or(|s| s.trim().is_empty()))
}

/// Line numbers of CSV records as an editor shows them. The csv crate's own line count runs
/// one behind after a CRLF record (the '\n' is consumed with the next record), and Excel on
/// Windows writes CRLF, so lines are counted here from byte offsets.
struct LineCounter<'a> {
    bytes: &'a [u8],
    scanned: usize,
    newlines: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            scanned: 0,
            newlines: 0,
        }
    }

    /// The 1-based line of a record whose bytes start at `offset` (offsets only grow).
    fn line_at(&mut self, offset: usize) -> u64 {
        let mut start = offset.min(self.bytes.len());
        // A record's offset can point at the end of the previous record's terminator.
        while start < self.bytes.len() && matches!(self.bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        if start > self.scanned {
            self.newlines += self.bytes[self.scanned..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
            self.scanned = start;
        }
        self.newlines + 1
    }
}

/// Tab when the header line has tabs and no commas (Excel's "Unicode text" and `.tsv`
/// exports), otherwise comma.
fn sniff_delimiter(bytes: &[u8]) -> u8 {
    let header = bytes
        .split(|b| *b == b'\n')
        .find(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .unwrap_or_default();
    let tabs = header.iter().filter(|b| **b == b'\t').count();
    let commas = header.iter().filter(|b| **b == b',').count();
    if tabs > 0 && commas == 0 { b'\t' } else { b',' }
}

/// Reads a delimited text file in UTF-8, UTF-8 with BOM, GBK/GB18030 or UTF-16.
fn read_csv(
    path: &Path,
    table: &'static TableDef,
    tenant: &HeaderMap,
) -> Result<RawTable, IngestError> {
    let bytes = fs::read(path).map_err(|source| IngestError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let (bytes, encoding, skip) = match utf16_to_utf8(&bytes) {
        Some(Ok(text)) => (text.into_bytes(), TextEncoding::Utf16, 0),
        Some(Err(offset)) => {
            return Err(IngestError::Undecodable {
                path: path.to_path_buf(),
                offset,
                encoding: TextEncoding::Utf16.label(),
            });
        }
        None => {
            let (encoding, skip) = detect(&bytes);
            (bytes, encoding, skip)
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(&bytes[skip..]))
        .from_reader(&bytes[skip..]);
    let source = path.display().to_string();
    let mut builder: Option<RawBuilder> = None;
    let mut record = csv::ByteRecord::new();
    let mut lines = LineCounter::new(&bytes[skip..]);
    loop {
        let more = reader
            .read_byte_record(&mut record)
            .map_err(|source| IngestError::Csv {
                path: path.to_path_buf(),
                line: source.position().map(|p| p.line()).unwrap_or(0),
                source,
            })?;
        if !more {
            break;
        }
        let line = lines.line_at(record.position().map(|p| p.byte() as usize).unwrap_or(0));
        let mut values = Vec::with_capacity(record.len());
        let mut problems = Vec::new();
        for (i, field) in record.iter().enumerate() {
            match decode_field(field, encoding) {
                Ok(s) => values.push(if s.is_empty() { None } else { Some(s) }),
                Err(shown) => {
                    problems.push((
                        i,
                        shown,
                        Reason::Undecodable {
                            encoding: encoding.label(),
                        },
                    ));
                    values.push(None);
                }
            }
        }
        match builder.as_mut() {
            None => {
                if is_blank(&values) {
                    continue;
                }
                if let Some((_, shown, _)) = problems.first() {
                    return Err(IngestError::UndecodableHeader {
                        path: path.to_path_buf(),
                        bytes: shown.clone(),
                        encoding: encoding.label(),
                    });
                }
                let headers: Vec<String> =
                    values.into_iter().map(Option::unwrap_or_default).collect();
                builder = Some(RawBuilder::new(
                    table,
                    source.clone(),
                    Some(encoding),
                    &headers,
                    line,
                    tenant,
                )?);
            }
            Some(b) => {
                // Rows of empty cells are spreadsheet padding, not data.
                if problems.is_empty() && is_blank(&values) {
                    continue;
                }
                b.push(line, values, problems);
            }
        }
    }
    match builder {
        Some(b) => Ok(b.raw),
        None => Ok(RawTable {
            table,
            source,
            encoding: Some(encoding),
            lines: Vec::new(),
            cells: vec![None; table.columns.len()],
            unreadable: HashMap::new(),
            notes: Vec::new(),
        }),
    }
}

/// The text of an Excel cell as a person reads it: whole numbers without `.0`, dates as
/// `YYYY-MM-DD`. Error cells (`#N/A`) are not data and reject their row.
fn cell_text(cell: &Data) -> Result<Option<String>, Reason> {
    Ok(match cell {
        Data::Empty => None,
        Data::String(s) => Some(s.clone()),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(f) => Some(format_float(*f)),
        Data::Bool(b) => Some(b.to_string()),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => Some(t.date().to_string()),
            Some(t) => Some(t.format("%Y-%m-%d %H:%M:%S").to_string()),
            None => Some(format_float(dt.as_f64())),
        },
        Data::DateTimeIso(s) => Some(s.split('T').next().unwrap_or(s).to_string()),
        Data::DurationIso(s) => Some(s.clone()),
        Data::Error(e) => {
            return Err(Reason::ExcelError {
                error: e.to_string(),
            });
        }
    })
}

fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Reads every sheet of a workbook that is named after a table.
fn read_workbook(
    path: &Path,
    tenant: &HeaderMap,
) -> Result<(Vec<RawTable>, Vec<Skipped>), IngestError> {
    let wb_err = |e: calamine::Error| IngestError::Workbook {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut wb = calamine::open_workbook_auto(path).map_err(wb_err)?;
    let mut tables = Vec::new();
    let mut skipped = Vec::new();
    for sheet in wb.sheet_names() {
        let source = format!("{} [{}]", path.display(), sheet);
        let Some(table) = table_for_name(&sheet) else {
            skipped.push(Skipped {
                path: source,
                reason: format!("sheet '{sheet}' is not named after a table"),
            });
            continue;
        };
        let range = wb.worksheet_range(&sheet).map_err(wb_err)?;
        let first_row = u64::from(range.start().map(|(r, _)| r).unwrap_or(0));
        let mut builder: Option<RawBuilder> = None;
        for (i, row) in range.rows().enumerate() {
            let line = first_row + i as u64 + 1;
            let mut values = Vec::with_capacity(row.len());
            let mut problems = Vec::new();
            for (c, cell) in row.iter().enumerate() {
                match cell_text(cell) {
                    Ok(v) => values.push(v),
                    Err(reason) => {
                        problems.push((c, cell.to_string(), reason));
                        values.push(None);
                    }
                }
            }
            // Excel ranges are rectangular: trailing empty cells are not extra fields.
            while values.len() > 1 && values.last().is_some_and(Option::is_none) {
                values.pop();
            }
            match builder.as_mut() {
                None => {
                    if is_blank(&values) {
                        continue;
                    }
                    let headers: Vec<String> =
                        values.into_iter().map(Option::unwrap_or_default).collect();
                    builder = Some(RawBuilder::new(
                        table,
                        source.clone(),
                        None,
                        &headers,
                        line,
                        tenant,
                    )?);
                }
                Some(b) => {
                    if problems.is_empty() && is_blank(&values) {
                        continue;
                    }
                    // Short rows in a sheet are rows whose last cells are empty.
                    values.resize(values.len().max(b.width), None);
                    b.push(line, values, problems);
                }
            }
        }
        if let Some(b) = builder {
            tables.push(b.raw);
        }
    }
    Ok((tables, skipped))
}

/// Reads a Parquet file; typed columns are turned back into text so that they are cleaned
/// and validated exactly like CSV cells.
fn read_parquet(
    path: &Path,
    table: &'static TableDef,
    tenant: &HeaderMap,
) -> Result<RawTable, IngestError> {
    let file = fs::File::open(path).map_err(|source| IngestError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let pq_err = |source| IngestError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(pq_err)?
        .build()
        .map_err(pq_err)?;
    let source = path.display().to_string();
    let mut builder: Option<RawBuilder> = None;
    let mut row_no = 0u64;
    for batch in reader {
        let batch =
            batch.map_err(|e| pq_err(parquet::errors::ParquetError::ArrowError(e.to_string())))?;
        if builder.is_none() {
            let headers: Vec<String> = batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            builder = Some(RawBuilder::new(
                table,
                source.clone(),
                None,
                &headers,
                0,
                tenant,
            )?);
        }
        let texts: Vec<Vec<Option<String>>> = batch
            .columns()
            .iter()
            .zip(batch.schema().fields())
            .map(|(col, field)| {
                column_text(col).map_err(|source| IngestError::ParquetColumn {
                    path: path.to_path_buf(),
                    column: field.name().clone(),
                    source,
                })
            })
            .collect::<Result<_, _>>()?;
        if let Some(b) = builder.as_mut() {
            for r in 0..batch.num_rows() {
                row_no += 1;
                let values: Vec<Option<String>> = texts.iter().map(|c| c[r].clone()).collect();
                if is_blank(&values) {
                    continue;
                }
                b.push(row_no, values, Vec::new());
            }
        }
    }
    Ok(match builder {
        Some(b) => b.raw,
        None => RawTable {
            table,
            source,
            encoding: None,
            lines: Vec::new(),
            cells: vec![None; table.columns.len()],
            unreadable: HashMap::new(),
            notes: Vec::new(),
        },
    })
}

fn column_text(col: &ArrayRef) -> Result<Vec<Option<String>>, arrow::error::ArrowError> {
    let floats: Option<Vec<Option<f64>>> = match col.data_type() {
        DataType::Float64 => Some(col.as_primitive::<Float64Type>().iter().collect()),
        DataType::Float32 => Some(
            col.as_primitive::<Float32Type>()
                .iter()
                .map(|v| v.map(f64::from))
                .collect(),
        ),
        _ => None,
    };
    if let Some(f) = floats {
        return Ok(f.into_iter().map(|v| v.map(format_float)).collect());
    }
    let as_text: ArrayRef = match col.data_type() {
        DataType::Timestamp(_, _) | DataType::Date64 => {
            cast(&cast(col, &DataType::Date32)?, &DataType::Utf8)?
        }
        _ => cast(col, &DataType::Utf8)?,
    };
    let strings = as_text.as_string::<i32>();
    Ok((0..strings.len())
        .map(|i| strings.is_valid(i).then(|| strings.value(i).to_string()))
        .collect())
}

/// Which table a file holds: from its name, or for a file inside a partition folder
/// (`attendance/part-0.parquet`), from the folder's name.
fn table_of(path: &Path) -> Option<&'static TableDef> {
    let stem = path.file_stem()?.to_str()?;
    table_for_name(stem).or_else(|| {
        path.parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .and_then(|n| table_for_name(n.split('=').next_back().unwrap_or(n)))
    })
}

fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

#[derive(Clone, Copy)]
enum Kind {
    Csv,
    Workbook,
    Parquet,
}

fn kind_of(path: &Path) -> Option<Kind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "csv" | "tsv" | "txt" => Some(Kind::Csv),
        "xlsx" | "xlsm" | "xls" | "ods" => Some(Kind::Workbook),
        "parquet" => Some(Kind::Parquet),
        _ => None,
    }
}

fn collect_files(
    path: &Path,
    out: &mut Vec<PathBuf>,
    skipped: &mut Vec<Skipped>,
) -> Result<(), IngestError> {
    let meta = fs::metadata(path).map_err(|source| IngestError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = fs::read_dir(path)
        .map_err(|source| IngestError::Read {
            path: path.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // Hidden files and the lock files Excel leaves beside open workbooks (~$book.xlsx).
        if name.starts_with('.') || name.starts_with("~$") {
            continue;
        }
        if entry.is_dir() {
            collect_files(&entry, out, skipped)?;
        } else if kind_of(&entry).is_some()
            && (!has_extension(&entry, "txt") || table_of(&entry).is_some())
        {
            out.push(entry);
        } else {
            skipped.push(Skipped {
                path: entry.display().to_string(),
                reason: "not a CSV, Excel or Parquet file, nor a text export named after a table"
                    .into(),
            });
        }
    }
    Ok(())
}

/// Reads every file named, and every data file inside every folder named, in order; headers
/// are mapped with the tenant's header map first.
pub(crate) fn read_sources(paths: &[PathBuf], tenant: &HeaderMap) -> Result<Sources, IngestError> {
    let mut files = Vec::new();
    let mut sources = Sources::default();
    for p in paths {
        let before = files.len();
        collect_files(p, &mut files, &mut sources.skipped)?;
        if files.len() == before && p.is_dir() {
            return Err(IngestError::NoInputs { path: p.clone() });
        }
    }
    for file in files {
        let kind = kind_of(&file).ok_or_else(|| IngestError::Unsupported { path: file.clone() })?;
        sources.files.push(file.display().to_string());
        if let Kind::Workbook = kind {
            let (tables, skipped) = read_workbook(&file, tenant)?;
            sources.tables.extend(tables);
            sources.skipped.extend(skipped);
            continue;
        }
        let table = table_of(&file).ok_or_else(|| IngestError::UnknownTable {
            path: file.clone(),
            tables: table_names(),
        })?;
        sources.tables.push(match kind {
            Kind::Csv => read_csv(&file, table, tenant)?,
            _ => read_parquet(&file, table, tenant)?,
        });
    }
    Ok(sources)
}
