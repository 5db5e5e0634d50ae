//! Reading county files into raw tables: every cell as text, every row with the line it came
//! from. Nothing is interpreted here beyond the text encoding and the header names; the
//! cleaning and validation that follow decide what each cell means.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, AsArray, StringArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float32Type, Float64Type};
use calamine::{Data, DataType as _, Dimensions, Reader, SheetVisible, Sheets, StyleRange};
use model::HeaderMap;
use model::schema::{ColumnDef, ColumnType, TABLES, TableDef, table_for_name};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;

use crate::decode::{
    Detected, TextEncoding, decode_field, decode_gb18030_whole, decode_lossy, detect, utf16_to_utf8,
};
use crate::error::IngestError;
use crate::headers::map_headers;
use crate::issue::{Issue, Severity};
use crate::reason::Reason;
use crate::values::{decimal_text, excel_serial, time_of_day};

/// The rows of one table as read from one file or sheet.
#[derive(Debug)]
pub(crate) struct RawTable {
    pub(crate) table: &'static TableDef,
    /// The file as the user named it, with the sheet for workbooks: `县数据.xlsx [党员]`.
    pub(crate) source: String,
    pub(crate) encoding: Option<TextEncoding>,
    /// The source line (CSV), sheet row (Excel) or row number (Parquet) of each row.
    pub(crate) lines: Vec<u64>,
    /// One entry per column of the table definition: its cells as read (null for an empty
    /// one), or `None` when the file has no such column.
    pub(crate) cells: Vec<Option<StringArray>>,
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

    /// The text of column `c` in `row` as read; `None` when empty or not in the file.
    pub(crate) fn cell(&self, c: usize, row: usize) -> Option<&str> {
        let cells = self.cells[c].as_ref()?;
        cells.is_valid(row).then(|| cells.value(row))
    }

    /// A table of no rows: the file had a header and nothing else, or nothing at all.
    fn empty(
        table: &'static TableDef,
        source: String,
        encoding: Option<TextEncoding>,
        notes: Vec<Issue>,
    ) -> Self {
        RawTable {
            table,
            source,
            encoding,
            lines: Vec::new(),
            cells: vec![None; table.columns.len()],
            unreadable: HashMap::new(),
            notes,
        }
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

/// Collects rows into a [`RawTable`], given the header and an iterator of rows. Cells go
/// straight into one Arrow text column per table column: no string of their own.
struct RawBuilder {
    raw: RawTable,
    columns: Vec<Option<StringBuilder>>,
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
        let columns = map
            .iter()
            .map(|m| m.map(|_| StringBuilder::new()))
            .collect();
        Ok(RawBuilder {
            raw: RawTable::empty(table, source, encoding, notes),
            columns,
            map,
            width: headers.len(),
        })
    }

    fn header_name(&self, file_col: usize) -> Option<String> {
        self.column_of(file_col).map(|c| c.name.to_string())
    }

    /// The table column that file column `file_col` holds.
    fn column_of(&self, file_col: usize) -> Option<&'static ColumnDef> {
        let table = self.raw.table;
        self.map
            .iter()
            .position(|m| *m == Some(file_col))
            .map(|c| &table.columns[c])
    }

    /// An issue of this file at `line`.
    fn issue(
        &self,
        line: u64,
        column: Option<String>,
        value: Option<String>,
        reason: Reason,
        severity: Severity,
    ) -> Issue {
        Issue {
            table: self.raw.table.name,
            file: self.raw.source.clone(),
            line: Some(line),
            column,
            value,
            reason,
            severity,
        }
    }

    /// The name of file column `file_col` in an issue: its table column, or `#N`.
    fn shown_column(&self, file_col: usize) -> Option<String> {
        self.header_name(file_col)
            .or(Some(format!("#{}", file_col + 1)))
    }

    /// A value of file column `file_col` in the row at `line` that is read as empty, with why.
    fn warn(&mut self, line: u64, file_col: usize, value: String, reason: Reason) {
        let reason = Reason::KeptWithoutValue(Box::new(reason));
        let column = self.shown_column(file_col);
        let issue = self.issue(line, column, Some(value), reason, Severity::Warning);
        self.raw.notes.push(issue);
    }

    /// Rejects the row already pushed at `row` (read from `line`): a lone CR inside one of its
    /// cells ended it early, so its last cell holds only part of what the file says.
    fn reject_split(&mut self, row: usize, line: u64, next_line: u64) {
        let reason = Reason::SplitByCarriageReturn { next_line };
        let issue = self.issue(line, None, None, reason, Severity::Rejected);
        self.raw.unreadable.entry(row).or_default().push(issue);
    }

    /// Adds a row that is rejected as a whole, such as a row with no values.
    fn push_rejected(&mut self, line: u64, reason: Reason) {
        let row = self.raw.lines.len();
        self.raw.lines.push(line);
        for cells in self.columns.iter_mut().flatten() {
            cells.append_null();
        }
        let issue = self.issue(line, None, None, reason, Severity::Rejected);
        self.raw.unreadable.insert(row, vec![issue]);
    }

    /// Reports the time of day of the row's dates, which is not stored.
    fn check_times<V: AsRef<str>>(&mut self, row: usize, line: u64, values: &[Option<V>]) {
        if self.raw.unreadable.contains_key(&row) {
            return;
        }
        for (c, def) in self.raw.table.columns.iter().enumerate() {
            if !matches!(def.ty, ColumnType::Date) {
                continue;
            }
            let Some(text) = self.map[c]
                .and_then(|fc| values.get(fc))
                .and_then(|v| v.as_ref())
                .map(AsRef::as_ref)
            else {
                continue;
            };
            if let Some(time) = time_of_day(text) {
                let issue = self.issue(
                    line,
                    Some(def.name.to_string()),
                    Some(text.to_string()),
                    Reason::TimeOfDay { time },
                    Severity::Warning,
                );
                self.raw.notes.push(issue);
            }
        }
    }

    /// Adds a row; `problems` are cell-level read failures: (file column, shown value, reason).
    fn push<V: AsRef<str>>(
        &mut self,
        line: u64,
        values: &[Option<V>],
        problems: Vec<(usize, String, Reason)>,
    ) {
        let row = self.raw.lines.len();
        self.raw.lines.push(line);
        let mut issues: Vec<Issue> = problems
            .into_iter()
            .map(|(c, value, reason)| {
                let column = self.shown_column(c);
                self.issue(line, column, Some(value), reason, Severity::Rejected)
            })
            .collect();
        let extra = values.iter().skip(self.width).any(Option::is_some);
        if values.len() < self.width || extra {
            let reason = Reason::FieldCount {
                fields: values.len(),
                header: self.width,
            };
            issues.push(self.issue(line, None, None, reason, Severity::Rejected));
        }
        for (target, cells) in self.map.iter().zip(&mut self.columns) {
            if let (Some(file_col), Some(cells)) = (target, cells) {
                cells.append_option(values.get(*file_col).and_then(|v| v.as_ref()));
            }
        }
        if !issues.is_empty() {
            self.raw.unreadable.insert(row, issues);
        }
        self.check_times(row, line, values);
    }

    /// The table read, its columns finished.
    fn finish(mut self) -> RawTable {
        self.raw.cells = self
            .columns
            .into_iter()
            .map(|b| b.map(|mut b| b.finish()))
            .collect();
        self.raw
    }
}

fn is_blank<V: AsRef<str>>(values: &[Option<V>]) -> bool {
    values
        .iter()
        .all(|v| v.as_ref().is_none_or(|s| s.as_ref().trim().is_empty()))
}

/// Line numbers of CSV records as an editor shows them. The csv crate's own line count runs
/// one behind after a CRLF record (the '\n' is consumed with the next record) and does not
/// count a lone CR, which ends a record (and a line, in an editor) all the same; so lines are
/// counted here from byte offsets, with `\r\n`, `\r` and `\n` each one line break.
struct LineCounter<'a> {
    bytes: &'a [u8],
    scanned: usize,
    breaks: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            scanned: 0,
            breaks: 0,
        }
    }

    /// The 1-based line of a record whose bytes start at `offset` (offsets only grow).
    fn line_at(&mut self, offset: usize) -> u64 {
        let mut start = offset.min(self.bytes.len());
        // A record's offset can point at the end of the previous record's terminator. Moving
        // past every terminator byte also keeps a `\r\n` pair inside one counted span.
        while start < self.bytes.len() && matches!(self.bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        if start > self.scanned {
            self.breaks += count_breaks(&self.bytes[self.scanned..start]);
            self.scanned = start;
        }
        self.breaks + 1
    }
}

/// The line breaks in `bytes` as an editor counts them: `\r\n`, `\r` and `\n` each one.
fn count_breaks(bytes: &[u8]) -> u64 {
    let mut n = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                n += 1;
                i += 1;
            }
            b'\r' | b'\n' => n += 1,
            _ => {}
        }
        i += 1;
    }
    n
}

/// The byte offset of a quote that opens a field and is still open at the end of `bytes`, read
/// the way the csv crate reads quotes: only a quote at the start of a field opens one, `""`
/// inside is a quote, and the next lone quote closes it.
fn unclosed_quote(bytes: &[u8], delimiter: u8) -> Option<usize> {
    enum State {
        FieldStart,
        Unquoted,
        Quoted(usize),
        QuoteInQuoted(usize),
    }
    let mut state = State::FieldStart;
    for (i, &b) in bytes.iter().enumerate() {
        state = match state {
            State::FieldStart if b == b'"' => State::Quoted(i),
            State::FieldStart | State::Unquoted if b == delimiter || b == b'\r' || b == b'\n' => {
                State::FieldStart
            }
            State::FieldStart | State::Unquoted => State::Unquoted,
            State::Quoted(open) if b == b'"' => State::QuoteInQuoted(open),
            State::Quoted(open) => State::Quoted(open),
            State::QuoteInQuoted(open) if b == b'"' => State::Quoted(open),
            State::QuoteInQuoted(_) if b == delimiter || b == b'\r' || b == b'\n' => {
                State::FieldStart
            }
            State::QuoteInQuoted(_) => State::Unquoted,
        };
    }
    match state {
        State::Quoted(open) => Some(open),
        _ => None,
    }
}

/// The offset just past the line break that ends the line holding `offset` (or the end).
fn end_of_line(bytes: &[u8], offset: usize) -> usize {
    match bytes[offset..]
        .iter()
        .position(|b| matches!(b, b'\r' | b'\n'))
    {
        Some(i) => {
            let at = offset + i;
            if bytes[at] == b'\r' && bytes.get(at + 1) == Some(&b'\n') {
                at + 2
            } else {
                at + 1
            }
        }
        None => bytes.len(),
    }
}

/// A stretch of a CSV file read as one: the whole file, or, when a quote never closes, the
/// lines up to the one where it opens (whose last record is rejected) and then the rest.
struct Segment {
    start: usize,
    end: usize,
    /// The unclosed quote that ends this segment, at this offset of the file.
    unclosed: Option<usize>,
}

fn segments(bytes: &[u8], delimiter: u8) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        match unclosed_quote(&bytes[start..], delimiter) {
            None => {
                out.push(Segment {
                    start,
                    end: bytes.len(),
                    unclosed: None,
                });
                break;
            }
            Some(q) => {
                let end = end_of_line(bytes, start + q);
                out.push(Segment {
                    start,
                    end,
                    unclosed: Some(start + q),
                });
                start = end;
            }
        }
    }
    out
}

/// Bytes as a person can find them in a file: ASCII as it is, every other byte as `\xNN`.
fn show_bytes(bytes: &[u8]) -> String {
    let mut shown = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        if b.is_ascii() {
            shown.push(char::from(b));
        } else {
            shown.push_str(&format!("\\x{b:02X}"));
        }
    }
    shown
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
    let (bytes, detected) = match utf16_to_utf8(&bytes) {
        Some(Ok(text)) => (
            text.into_bytes(),
            Detected {
                encoding: TextEncoding::Utf16,
                skip: 0,
                chosen_lines: 0,
                other_lines: Vec::new(),
            },
        ),
        Some(Err(offset)) => {
            return Err(IngestError::Undecodable {
                path: path.to_path_buf(),
                offset,
                encoding: TextEncoding::Utf16.label(),
            });
        }
        None => {
            let detected = detect(&bytes);
            (bytes, detected)
        }
    };
    let encoding = detected.encoding;
    let body = &bytes[detected.skip..];
    let source = path.display().to_string();
    let other_lines: BTreeSet<u64> = detected.other_lines.iter().copied().collect();
    let mut notes = Vec::new();
    if !other_lines.is_empty() {
        notes.push(Issue {
            table: table.name,
            file: source.clone(),
            line: None,
            column: None,
            value: None,
            reason: Reason::MixedEncoding {
                chosen: encoding.label(),
                chosen_lines: detected.chosen_lines,
                other: detected.other().label(),
                other_lines: other_lines.len(),
            },
            severity: Severity::Warning,
        });
    }
    // A GBK file whose every line is GBK is decoded as a whole, in parallel, and its cells are
    // then slices of that UTF-8 text, read in place; otherwise each cell is decoded on its own,
    // to say which ones do not decode. The two texts have the same lines and delimiters.
    let decoded = (encoding == TextEncoding::Gb18030 && other_lines.is_empty())
        .then(|| decode_gb18030_whole(body))
        .flatten();
    let (body, cells_in) = match &decoded {
        Some(text) => (text.as_bytes(), TextEncoding::Utf8),
        None => (body, encoding),
    };
    let delimiter = sniff_delimiter(body);
    let mut builder: Option<RawBuilder> = None;
    let mut record = csv::ByteRecord::new();
    let mut lines = LineCounter::new(body);
    // The row index and line of the last row when it ended at a lone CR.
    let mut ended_by_cr: Option<(usize, u64)> = None;
    for segment in segments(body, delimiter) {
        let part = &body[segment.start..segment.end];
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(part);
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
            let start = segment.start
                + record
                    .position()
                    .map(|p| usize::try_from(p.byte()).unwrap_or(usize::MAX))
                    .unwrap_or(0);
            let end = segment.start + usize::try_from(reader.position().byte()).unwrap_or(0);
            let line = lines.line_at(start);
            let mut values = Vec::with_capacity(record.len());
            let mut problems = Vec::new();
            for (i, field) in record.iter().enumerate() {
                match decode_field(field, cells_in) {
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
            // A record made of lines that read as Chinese only in the other encoding: a row
            // pasted from another file. Its bytes are shown as they are, never as either
            // reading of them; those that decode still spell some other script.
            if !other_lines.is_empty()
                && other_lines
                    .range(line..=line + count_breaks(body[start..end].trim_ascii_end()))
                    .next()
                    .is_some()
            {
                for (i, field) in record.iter().enumerate() {
                    if field.is_ascii() {
                        continue;
                    }
                    if let Some(p) = problems.iter_mut().find(|(c, _, _)| *c == i) {
                        p.1 = show_bytes(field);
                        continue;
                    }
                    problems.push((
                        i,
                        show_bytes(field),
                        Reason::OtherEncoding {
                            encoding: encoding.label(),
                            other: detected.other().label(),
                        },
                    ));
                    values[i] = None;
                }
            }
            if let Some(q) = segment.unclosed.filter(|q| (start..end).contains(q)) {
                // The record runs from here to the end of the quote's line, where reading
                // starts again: it is the segment's last record, rejected as a whole.
                let quote_line = count_breaks(&body[..q]) + 1;
                let line_start = body[..q]
                    .iter()
                    .rposition(|b| matches!(b, b'\r' | b'\n'))
                    .map_or(0, |i| i + 1);
                let column = decode_lossy(&body[line_start..q], cells_in).chars().count() + 1;
                let field = record.len().saturating_sub(1);
                let shown = record
                    .get(field)
                    .map(|f| {
                        let f = f.trim_ascii_end();
                        decode_field(f, cells_in).map_or_else(|shown| shown, Cow::into_owned)
                    })
                    .unwrap_or_default();
                problems.retain(|(c, _, _)| *c != field);
                problems.push((
                    field,
                    format!("\"{shown}"),
                    Reason::UnclosedQuote {
                        line: quote_line,
                        column,
                    },
                ));
                if let Some(v) = values.get_mut(field) {
                    *v = None;
                }
            }
            match builder.as_mut() {
                None => {
                    if is_blank(&values) && problems.is_empty() {
                        continue;
                    }
                    if let Some((_, shown, _)) = problems.first() {
                        return Err(IngestError::UndecodableHeader {
                            path: path.to_path_buf(),
                            bytes: shown.clone(),
                            encoding: encoding.label(),
                        });
                    }
                    let headers: Vec<String> = values
                        .into_iter()
                        .map(|v| v.map(Cow::into_owned).unwrap_or_default())
                        .collect();
                    let mut b = RawBuilder::new(
                        table,
                        source.clone(),
                        Some(encoding),
                        &headers,
                        line,
                        tenant,
                    )?;
                    b.raw.notes.append(&mut notes);
                    builder = Some(b);
                }
                Some(b) => {
                    // Rows of empty cells are spreadsheet padding, not data.
                    if problems.is_empty() && is_blank(&values) {
                        ended_by_cr = None;
                        continue;
                    }
                    // A row that ended at a lone CR, followed by one that is not a whole row:
                    // the CR was typed inside a cell, and the first row's last cell is cut.
                    if let Some((row, row_line)) = ended_by_cr
                        && values.len() != b.width
                    {
                        b.reject_split(row, row_line, line);
                    }
                    ended_by_cr = (end > start && body[end - 1] == b'\r')
                        .then_some((b.raw.lines.len(), line));
                    b.push(line, &values, problems);
                }
            }
        }
    }
    Ok(match builder {
        Some(b) => b.finish(),
        None => RawTable::empty(table, source, Some(encoding), notes),
    })
}

/// The text of an Excel cell as a person reads it: whole numbers without `.0`, dates as
/// `YYYY-MM-DD` (with the time of day when there is one). Error cells (`#N/A`) are not data
/// and reject their row.
fn cell_text(cell: &Data) -> Result<Option<String>, Reason> {
    Ok(match cell {
        Data::Empty => None,
        Data::String(s) => Some(s.clone()),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(f) => Some(format_float(*f)),
        Data::Bool(b) => Some(b.to_string()),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) => Some(date_time_text(t)),
            None => Some(format_float(dt.as_f64())),
        },
        // ISO cells (`t="d"`) keep their time of day, for the date check to report it.
        Data::DateTimeIso(s) => Some(
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .map(date_time_text)
                .unwrap_or_else(|_| s.clone()),
        ),
        Data::DurationIso(s) => Some(s.clone()),
        Data::Error(e) => {
            return Err(Reason::ExcelError {
                error: e.to_string(),
            });
        }
    })
}

/// A date, with its time of day when it is not midnight.
fn date_time_text(t: chrono::NaiveDateTime) -> String {
    if t.time() == chrono::NaiveTime::MIN {
        t.date().to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Whether a column identifies a row or refers to one (or is an ID number): a value of it that
/// cannot be read rejects the row even when the column is optional, since an empty reference
/// means something else (no paired branch, an uncovered organization).
fn is_key(table: &TableDef, def: &ColumnDef) -> bool {
    table.primary_key.contains(&def.name)
        || table.foreign_keys.iter().any(|fk| fk.column == def.name)
        || matches!(def.ty, ColumnType::IdNumber)
}

/// The text of a workbook cell of column `def` (`None` for a header, or a column of no
/// table), per the column's type: a number cell is a serial day in a date column, rounded
/// float noise in a decimal column, and what its number format shows in a text column.
fn workbook_cell(
    cell: &Data,
    def: Option<&ColumnDef>,
    number_format: Option<&str>,
    formula: bool,
) -> Result<Option<String>, Reason> {
    let number = match cell {
        // A formula whose file holds no value (or an empty one) shows nothing only until
        // Excel calculates it: it is not an empty cell.
        Data::Empty if formula => return Err(Reason::FormulaWithoutValue),
        Data::String(s) if formula && s.is_empty() => return Err(Reason::FormulaWithoutValue),
        Data::Float(f) => *f,
        Data::Int(i) => *i as f64,
        Data::DateTime(dt) if def.is_some_and(|d| matches!(d.ty, ColumnType::Date)) => {
            return Ok(dt.as_datetime().map(date_time_text));
        }
        other => return cell_text(other),
    };
    let Some(def) = def else {
        return cell_text(cell);
    };
    Ok(Some(match def.ty {
        ColumnType::Date => {
            excel_serial(number).map_or_else(|| format_float(number), date_time_text)
        }
        ColumnType::Decimal => decimal_text(number),
        ColumnType::Text | ColumnType::IdNumber => {
            if number.fract() == 0.0 && number.abs() >= 1e15 {
                return Err(Reason::LostDigits);
            }
            display_number(number, number_format)
        }
        ColumnType::Period | ColumnType::Month | ColumnType::Enum(_) => {
            display_number(number, number_format)
        }
        ColumnType::Int { .. } | ColumnType::Bool { .. } => match cell {
            Data::Int(i) => i.to_string(),
            _ => format_float(number),
        },
    }))
}

/// A number as its cell's number format shows it, for the formats of codes: zeros that pad
/// (`000000`), digits (`0.00`, `#,##0`) and quoted or escaped literal text (`"B"000`). Any
/// other format (General, `@`, percentages, dates) shows the number as typed.
fn display_number(value: f64, code: Option<&str>) -> String {
    code.and_then(|c| digits_format(value, c.split(';').next().unwrap_or(c)))
        .unwrap_or_else(|| format_float(value))
}

fn digits_format(value: f64, code: &str) -> Option<String> {
    let (mut prefix, mut suffix) = (String::new(), String::new());
    let (mut int_zeros, mut decimals, mut grouped, mut seen_digits, mut in_decimals) =
        (0usize, 0usize, false, false, false);
    let mut chars = code.chars();
    while let Some(c) = chars.next() {
        let literal = |c: char, prefix: &mut String, suffix: &mut String| {
            if seen_digits {
                suffix.push(c)
            } else {
                prefix.push(c)
            }
        };
        match c {
            '0' | '#' if !suffix.is_empty() => return None,
            '0' if in_decimals => decimals += 1,
            '0' => {
                int_zeros += 1;
                seen_digits = true;
            }
            '#' if !in_decimals => seen_digits = true,
            ',' if seen_digits && !in_decimals => grouped = true,
            '.' if seen_digits && !in_decimals => in_decimals = true,
            '"' => {
                for q in chars.by_ref() {
                    if q == '"' {
                        break;
                    }
                    literal(q, &mut prefix, &mut suffix);
                }
            }
            '\\' => literal(chars.next()?, &mut prefix, &mut suffix),
            _ => return None,
        }
    }
    if !seen_digits {
        return None;
    }
    let text = format!("{:.*}", decimals, value.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut int = format!("{int:0>int_zeros$}");
    if int_zeros == 0 && int == "0" {
        int.clear();
    }
    if grouped {
        // Thousands from the right: the first group holds what is left over.
        let first = int.len() % 3;
        let mut groups = Vec::new();
        if first > 0 {
            groups.push(&int[..first]);
        }
        groups.extend(
            int.as_bytes()[first..]
                .chunks(3)
                .filter_map(|c| std::str::from_utf8(c).ok()),
        );
        int = groups.join(",");
    }
    let sign = if value < 0.0 { "-" } else { "" };
    let point = if decimals > 0 { "." } else { "" };
    Some(format!("{sign}{prefix}{int}{point}{frac}{suffix}"))
}

/// `A5`: a cell's name in Excel, from its 0-based row and column.
fn cell_name(row: u32, col: u32) -> String {
    let mut letters = Vec::new();
    let mut c = col + 1;
    while c > 0 {
        let rem = (c - 1) % 26;
        letters.push(char::from(b'A' + rem as u8));
        c = (c - 1) / 26;
    }
    letters.iter().rev().collect::<String>() + &(row + 1).to_string()
}

/// What calamine does not put into a sheet's cell values: which cells hold formulas, their
/// number formats, and the merged regions.
struct SheetLayout {
    formulas: HashSet<(u32, u32)>,
    styles: StyleRange,
    merged: Vec<Dimensions>,
}

impl SheetLayout {
    fn read(
        wb: &mut Sheets<std::io::BufReader<fs::File>>,
        sheet: &str,
    ) -> Result<Self, calamine::Error> {
        let mut formulas = HashSet::new();
        let mut merged = Vec::new();
        match wb {
            // Only xlsx files can hold a formula without its value: xls and ods files store
            // every formula's result.
            Sheets::Xlsx(x) => {
                let range = x.worksheet_formula(sheet).map_err(calamine::Error::Xlsx)?;
                if let Some((r0, c0)) = range.start() {
                    for (r, c, f) in range.used_cells() {
                        if !f.is_empty() {
                            formulas.insert((r0 + r as u32, c0 + c as u32));
                        }
                    }
                }
                merged = x
                    .merge_cells_by_sheet_name(sheet)
                    .map_err(calamine::Error::Xlsx)?;
            }
            Sheets::Xls(x) => {
                merged = x
                    .merge_cells_by_sheet_name(sheet)
                    .map_err(calamine::Error::Xls)?;
            }
            Sheets::Xlsb(_) | Sheets::Ods(_) => {}
        }
        let styles = wb.worksheet_style(sheet)?;
        Ok(SheetLayout {
            formulas,
            styles,
            merged,
        })
    }

    /// Copies each merged region's value (held by its top-left cell) into every cell of the
    /// region, as the sheet shows it; returns, per filled cell, the top-left cell whose
    /// formula and format it shares.
    fn fill_merged(&self, range: &mut calamine::Range<Data>) -> HashMap<(u32, u32), (u32, u32)> {
        let mut origin = HashMap::new();
        for region in &self.merged {
            let value = range
                .get_value(region.start)
                .cloned()
                .unwrap_or(Data::Empty);
            if matches!(value, Data::Empty) && !self.formulas.contains(&region.start) {
                continue;
            }
            for r in region.start.0..=region.end.0 {
                for c in region.start.1..=region.end.1 {
                    if (r, c) != region.start {
                        range.set_value((r, c), value.clone());
                        origin.insert((r, c), region.start);
                    }
                }
            }
        }
        origin
    }
}

/// Reads every visible sheet of a workbook that is named after a table.
fn read_workbook(path: &Path, tenant: &HeaderMap) -> Result<FileTables, IngestError> {
    let wb_err = |e: calamine::Error| IngestError::Workbook {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut wb = calamine::open_workbook_auto(path).map_err(wb_err)?;
    let mut tables = Vec::new();
    let mut skipped = Vec::new();
    let sheets = wb.sheets_metadata().to_vec();
    for sheet in sheets {
        let name = sheet.name;
        let source = format!("{} [{}]", path.display(), name);
        // A hidden sheet is often last year's copy kept out of sight: read, it could win
        // over the visible sheet as the first occurrence of every key.
        if sheet.visible != SheetVisible::Visible {
            skipped.push(Skipped {
                path: source,
                reason: "hidden sheet: not read; unhide it in Excel/WPS to load it".into(),
            });
            continue;
        }
        let Some(table) = table_for_name(&name) else {
            skipped.push(Skipped {
                path: source,
                reason: format!("sheet '{name}' is not named after a table"),
            });
            continue;
        };
        let mut range = wb.worksheet_range(&name).map_err(wb_err)?;
        let layout = SheetLayout::read(&mut wb, &name).map_err(wb_err)?;
        let origin = layout.fill_merged(&mut range);
        let (first_row, first_col) = range.start().unwrap_or((0, 0));
        let mut builder: Option<RawBuilder> = None;
        let mut columns: Vec<Option<&'static ColumnDef>> = Vec::new();
        for (i, row) in range.rows().enumerate() {
            let line = u64::from(first_row) + i as u64 + 1;
            let mut values = Vec::with_capacity(row.len());
            let mut problems = Vec::new();
            let mut warnings = Vec::new();
            for (c, cell) in row.iter().enumerate() {
                let at = (first_row + i as u32, first_col + c as u32);
                let at = origin.get(&at).copied().unwrap_or(at);
                let def = columns.get(c).copied().flatten();
                let format = layout
                    .styles
                    .get(at)
                    .and_then(|s| s.number_format.as_ref())
                    .map(|f| f.format_code.as_str());
                let formula = layout.formulas.contains(&at);
                match workbook_cell(cell, def, format, formula) {
                    Ok(v) => values.push(v),
                    Err(reason) => {
                        let shown = match cell {
                            Data::Empty => String::new(),
                            Data::Float(f) => format_float(*f),
                            other => other.to_string(),
                        };
                        let keep = def.is_some_and(|d| !d.required && !is_key(table, d))
                            && !matches!(reason, Reason::ExcelError { .. });
                        if keep {
                            warnings.push((c, shown, reason));
                        } else {
                            problems.push((c, shown, reason));
                        }
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
                    let b = RawBuilder::new(table, source.clone(), None, &headers, line, tenant)?;
                    columns = (0..range.width()).map(|c| b.column_of(c)).collect();
                    builder = Some(b);
                }
                Some(b) => {
                    if problems.is_empty() && warnings.is_empty() && is_blank(&values) {
                        continue;
                    }
                    for (c, shown, reason) in warnings {
                        b.warn(line, c, shown, reason);
                    }
                    // Short rows in a sheet are rows whose last cells are empty.
                    values.resize(values.len().max(b.width), None);
                    b.push(line, &values, problems);
                }
            }
        }
        if let Some(mut b) = builder {
            for region in &layout.merged {
                let Some(value) = range.get_value(region.start).filter(|v| !v.is_empty()) else {
                    continue;
                };
                let column = region.start.1.checked_sub(first_col).map(|c| c as usize);
                let issue = Issue {
                    table: table.name,
                    file: source.clone(),
                    line: Some(u64::from(region.start.0) + 1),
                    column: column.and_then(|c| b.header_name(c)),
                    value: Some(value.to_string()),
                    reason: Reason::MergedCells {
                        range: format!(
                            "{}:{}",
                            cell_name(region.start.0, region.start.1),
                            cell_name(region.end.0, region.end.1)
                        ),
                    },
                    severity: Severity::Warning,
                };
                b.raw.notes.push(issue);
            }
            tables.push(b.finish());
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
        let b = match builder.as_mut() {
            Some(b) => b,
            None => {
                let headers: Vec<String> = batch
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect();
                let b = RawBuilder::new(table, source.clone(), None, &headers, 0, tenant)?;
                // An id stored as a float (7.0) was computed, not copied: ids are text or
                // whole numbers, and a float one may already have lost its digits.
                for (i, field) in batch.schema().fields().iter().enumerate() {
                    let def = b.column_of(i);
                    if matches!(
                        field.data_type(),
                        DataType::Float16 | DataType::Float32 | DataType::Float64
                    ) && let Some(def) = def.filter(|d| is_key(table, d))
                    {
                        return Err(IngestError::FloatIdColumn {
                            path: path.to_path_buf(),
                            column: field.name().clone(),
                            table: table.name,
                            target: def.name,
                        });
                    }
                }
                builder.insert(b)
            }
        };
        let texts: Vec<StringArray> = batch
            .columns()
            .iter()
            .zip(batch.schema().fields())
            .enumerate()
            .map(|(i, (col, field))| {
                column_text(col, b.column_of(i)).map_err(|source| IngestError::ParquetColumn {
                    path: path.to_path_buf(),
                    column: field.name().clone(),
                    source,
                })
            })
            .collect::<Result<_, _>>()?;
        for r in 0..batch.num_rows() {
            row_no += 1;
            let values: Vec<Option<&str>> = texts
                .iter()
                .map(|c| c.is_valid(r).then(|| c.value(r)))
                .collect();
            // A Parquet row is a row the file has, even with no values: it is counted.
            if is_blank(&values) {
                b.push_rejected(row_no, Reason::EmptyRow);
                continue;
            }
            b.push(row_no, &values, Vec::new());
        }
    }
    Ok(match builder {
        Some(b) => b.finish(),
        None => RawTable::empty(table, source, None, Vec::new()),
    })
}

/// The cells of a Parquet column as text; floats of a decimal column have their float noise
/// rounded away (see [`decimal_text`]).
fn column_text(
    col: &ArrayRef,
    def: Option<&ColumnDef>,
) -> Result<StringArray, arrow::error::ArrowError> {
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
        let text = match def.map(|d| &d.ty) {
            Some(ColumnType::Decimal) => decimal_text,
            _ => format_float,
        };
        return Ok(f.into_iter().map(|v| v.map(text)).collect());
    }
    if let Some(strings) = col.as_string_opt::<i32>() {
        return Ok(strings.clone());
    }
    let as_text: ArrayRef = match col.data_type() {
        DataType::Timestamp(_, _) | DataType::Date64 => {
            cast(&cast(col, &DataType::Date32)?, &DataType::Utf8)?
        }
        _ => cast(col, &DataType::Utf8)?,
    };
    Ok(as_text.as_string::<i32>().clone())
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
        // Not descending keeps a `backup/` copy of last year's file from being read, and
        // from winning as the first occurrence of its keys.
        if entry.is_dir() {
            skipped.push(Skipped {
                path: entry.display().to_string(),
                reason: "sub-folder not read: name it on the command line to load it".into(),
            });
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

/// Reads every file named, and every data file directly inside every folder named: the files
/// of a folder in name order (by Unicode code point), sub-folders not at all.
/// Reads every file of `paths` (a folder's files, not its sub-folders). Files under `shown_from`
/// are named from there: an upload's staging folder is the server's business, not the
/// township's, and its path would otherwise be in every rejection.
pub(crate) fn read_sources(
    paths: &[PathBuf],
    tenant: &HeaderMap,
    shown_from: Option<&Path>,
) -> Result<Sources, IngestError> {
    let mut files = Vec::new();
    let mut sources = Sources::default();
    for p in paths {
        let before = files.len();
        collect_files(p, &mut files, &mut sources.skipped)?;
        if files.len() == before && p.is_dir() {
            return Err(IngestError::NoInputs { path: p.clone() });
        }
    }
    // Files are read in parallel and taken in name order: the first error is the first
    // file's, as if they had been read one by one.
    let read: Vec<Result<FileTables, IngestError>> = files
        .par_iter()
        .map(|file| read_file(file, tenant))
        .collect();
    for (file, result) in files.iter().zip(read) {
        let (tables, skipped) = result?;
        sources.files.push(file.display().to_string());
        sources.tables.extend(tables);
        sources.skipped.extend(skipped);
    }
    if let Some(root) = shown_from {
        sources.name_from(root);
    }
    Ok(sources)
}

impl Sources {
    /// Names every file, sheet and finding from `root` rather than with its whole path.
    fn name_from(&mut self, root: &Path) {
        let root = format!("{}{}", root.display(), std::path::MAIN_SEPARATOR);
        let shown = |text: &mut String| {
            if let Some(rest) = text.strip_prefix(&root) {
                *text = rest.to_string();
            }
        };
        self.files.iter_mut().for_each(shown);
        self.skipped.iter_mut().for_each(|s| shown(&mut s.path));
        for raw in &mut self.tables {
            shown(&mut raw.source);
            raw.notes.iter_mut().for_each(|i| shown(&mut i.file));
            raw.unreadable
                .values_mut()
                .flatten()
                .for_each(|i| shown(&mut i.file));
        }
    }
}

/// The tables one file holds (a workbook's sheets, or the one table of a CSV or Parquet file)
/// and the sheets it skipped.
type FileTables = (Vec<RawTable>, Vec<Skipped>);

/// Reads one file by its kind.
fn read_file(file: &Path, tenant: &HeaderMap) -> Result<FileTables, IngestError> {
    let kind = kind_of(file).ok_or_else(|| IngestError::Unsupported {
        path: file.to_path_buf(),
    })?;
    if let Kind::Workbook = kind {
        return read_workbook(file, tenant);
    }
    let table = table_of(file).ok_or_else(|| IngestError::UnknownTable {
        path: file.to_path_buf(),
        tables: table_names(),
    })?;
    let raw = match kind {
        Kind::Csv => read_csv(file, table, tenant)?,
        _ => read_parquet(file, table, tenant)?,
    };
    Ok((vec![raw], Vec::new()))
}
