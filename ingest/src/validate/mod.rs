//! Validation: first each cell against its column's type ([`cells`]) and the row against its
//! table's rules ([`rows`]), then the rows of the whole load against each other and the
//! warehouse — keys, the grid, references ([`relations`]) — with rejections cascading to the
//! rows that depend on a rejected row.

mod cells;
mod relations;
mod rows;

use foldhash::{HashMap, HashMapExt, HashSet};
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray};
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::{Field, Schema, SchemaRef};
use model::Rules;
use model::schema::{ColumnDef, ColumnType, TableDef};

use crate::clean::CleanColumn;
use crate::error::IngestError;
use crate::headers::closest_header;
use crate::issue::{Issue, Severity};
use crate::reason::{Cause, Reason};
use crate::source::RawTable;

pub(crate) use relations::{reject_references_to_removed, validate_relations};

/// The rows of one table across every file of the load, typed, with where each came from and
/// whether it is still to be loaded.
#[derive(Debug)]
pub(crate) struct Staged {
    pub(crate) table: &'static TableDef,
    /// Every row read, typed; cells that failed are null (the schema here is all-nullable).
    pub(crate) batch: RecordBatch,
    pub(crate) sources: Vec<Arc<str>>,
    pub(crate) lines: Vec<u64>,
    pub(crate) alive: Vec<bool>,
    /// The first rejection of each rejected row, for the reasons of cascading rejections.
    pub(crate) first_reason: HashMap<usize, Cause>,
    /// Rows whose primary key the file writes otherwise than it is stored: row → as written.
    pub(crate) written_keys: HashMap<usize, String>,
}

impl Staged {
    pub(crate) fn read(&self) -> usize {
        self.lines.len()
    }

    pub(crate) fn loaded(&self) -> usize {
        self.alive.iter().filter(|a| **a).count()
    }

    /// The rows to load, in the warehouse's schema.
    pub(crate) fn loaded_batch(&self) -> Result<RecordBatch, IngestError> {
        let arrow_err = |source| IngestError::Arrow {
            table: self.table.name,
            source,
        };
        let mask = BooleanArray::from(self.alive.clone());
        let kept = filter_record_batch(&self.batch, &mask).map_err(arrow_err)?;
        RecordBatch::try_new(self.table.arrow_schema(), kept.columns().to_vec()).map_err(arrow_err)
    }

    fn key_column(&self, name: &str) -> Option<&StringArray> {
        let i = self.table.column_index(name)?;
        self.batch.column(i).as_string_opt::<i32>()
    }
}

fn nullable_schema(table: &TableDef) -> SchemaRef {
    let fields: Vec<Field> = table
        .columns
        .iter()
        .map(|c| Field::new(c.name, c.ty.arrow_type(), true))
        .collect();
    Arc::new(Schema::new(fields))
}

/// Records the issues of one file's rows while they are checked one by one.
struct RowIssues<'a> {
    raw: &'a RawTable,
    issues: &'a mut Vec<Issue>,
    rejected: &'a mut [bool],
    first_reason: &'a mut HashMap<usize, Cause>,
}

impl RowIssues<'_> {
    fn report(
        &mut self,
        row: usize,
        col: &ColumnDef,
        value: Option<String>,
        reason: Reason,
        severity: Severity,
    ) {
        // A row that could not be read is already rejected with why; its blanked cells would
        // only repeat that.
        if self.raw.unreadable.contains_key(&row) {
            return;
        }
        if severity == Severity::Rejected {
            self.rejected[row] = true;
            self.first_reason.entry(row).or_insert_with(|| Cause {
                column: Some(col.name.to_string()),
                reason: reason.clone(),
            });
        }
        self.issues.push(Issue {
            table: self.raw.table.name,
            file: self.raw.source.clone(),
            line: Some(self.raw.lines[row]),
            column: Some(col.name.to_string()),
            value,
            reason,
            severity,
        });
    }

    fn raw_value(&self, c: usize, row: usize) -> Option<String> {
        self.raw.cell(c, row).map(str::to_string)
    }

    /// Reports the value of column `c` in `row` as read, with `reason`.
    fn report_value(&mut self, c: usize, row: usize, reason: Reason, severity: Severity) {
        let value = self.raw_value(c, row);
        self.report(row, &self.raw.table.columns[c], value, reason, severity);
    }

    /// A bad value in a required column rejects the row; in an optional one it is a warning
    /// and the value is not stored.
    fn bad(&mut self, c: usize, row: usize, reason: Reason) {
        if self.raw.table.columns[c].required {
            self.report_value(c, row, reason, Severity::Rejected);
        } else {
            let reason = Reason::KeptWithoutValue(Box::new(reason));
            self.report_value(c, row, reason, Severity::Warning);
        }
    }
}

/// One file's rows after the checks of each row on its own.
#[derive(Debug)]
pub(crate) struct FileRows {
    /// Every row, typed; cells that failed are null.
    batch: RecordBatch,
    source: Arc<str>,
    lines: Vec<u64>,
    rejected: Vec<bool>,
    /// The first rejection of each rejected row.
    first_reason: HashMap<usize, Cause>,
    /// Rows whose key is written otherwise than it is stored.
    written_keys: HashMap<usize, String>,
}

/// Types every cell of a raw table and checks each row on its own. Returns the typed rows
/// (all of them; cells that failed are null) and which rows are rejected.
pub(crate) fn validate_fields(
    raw: &RawTable,
    cleaned: Vec<Option<CleanColumn>>,
    rules: &Rules,
    issues: &mut Vec<Issue>,
) -> Result<FileRows, IngestError> {
    let n = raw.len();
    let table = raw.table;
    let arrow_err = |source| IngestError::Arrow {
        table: table.name,
        source,
    };
    let mut rejected = vec![false; n];
    let mut first_reason = HashMap::new();
    for (row, row_issues) in &raw.unreadable {
        rejected[*row] = true;
        if let Some(first) = row_issues.first() {
            first_reason.insert(
                *row,
                Cause {
                    column: None,
                    reason: first.reason.clone(),
                },
            );
        }
        issues.extend(row_issues.iter().cloned());
    }
    let mut ri = RowIssues {
        raw,
        issues,
        rejected: &mut rejected,
        first_reason: &mut first_reason,
    };
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(table.columns.len());
    for (c, clean) in cleaned.iter().enumerate() {
        arrays.push(match clean {
            Some(clean) => cells::typed_column(&mut ri, c, clean).map_err(arrow_err)?,
            None => missing_column(&mut ri, c),
        });
    }
    let batch = RecordBatch::try_new(nullable_schema(table), arrays).map_err(arrow_err)?;
    rows::row_rules(&batch, &mut ri, rules);
    let written_keys = cells::written_keys(raw, &batch);
    Ok(FileRows {
        batch,
        source: Arc::from(raw.source.as_str()),
        lines: raw.lines.clone(),
        rejected,
        first_reason,
        written_keys,
    })
}

/// A column the file does not have: every row is rejected when it is required; the column
/// holds its default, or null.
fn missing_column(ri: &mut RowIssues, c: usize) -> ArrayRef {
    let def = &ri.raw.table.columns[c];
    let n = ri.raw.len();
    if def.required {
        // The file's headers that named no column: one may be this column, spelled otherwise.
        let unknown: Vec<String> = ri
            .raw
            .notes
            .iter()
            .filter(|i| matches!(i.reason, Reason::UnknownColumn { .. }))
            .filter_map(|i| i.column.clone())
            .collect();
        let closest = closest_header(ri.raw.table, def.name, &unknown);
        for row in 0..n {
            let reason = Reason::MissingColumn {
                column: def.name,
                zh: def.zh,
                closest: closest.clone(),
            };
            ri.report(row, def, None, reason, Severity::Rejected);
        }
    }
    match def.ty {
        ColumnType::Bool { default } => Arc::new(BooleanArray::from(vec![default; n])),
        _ => arrow::array::new_null_array(&def.ty.arrow_type(), n),
    }
}

/// Puts the typed rows of every file of one table together.
pub(crate) fn stage(table: &'static TableDef, parts: Vec<FileRows>) -> Result<Staged, IngestError> {
    let schema = nullable_schema(table);
    let mut batches = Vec::new();
    let mut sources = Vec::new();
    let mut lines = Vec::new();
    let mut alive = Vec::new();
    let mut first_reason = HashMap::new();
    let mut written_keys = HashMap::new();
    for part in parts {
        let offset = lines.len();
        sources.extend(std::iter::repeat_n(part.source, part.lines.len()));
        lines.extend(part.lines);
        alive.extend(part.rejected.iter().map(|r| !r));
        first_reason.extend(
            part.first_reason
                .into_iter()
                .map(|(r, why)| (r + offset, why)),
        );
        written_keys.extend(part.written_keys.into_iter().map(|(r, w)| (r + offset, w)));
        batches.push(part.batch);
    }
    let batch = concat_batches(&schema, &batches).map_err(|source| IngestError::Arrow {
        table: table.name,
        source,
    })?;
    Ok(Staged {
        table,
        batch,
        sources,
        lines,
        alive,
        first_reason,
        written_keys,
    })
}

/// What the warehouse already holds that the load is checked against.
#[derive(Debug, Default)]
pub(crate) struct Existing {
    /// Primary keys of the committed rows, per table (single-column keys only).
    pub(crate) keys: HashMap<&'static str, HashSet<String>>,
    /// Committed grid units: id → (parent, level).
    pub(crate) grid: HashMap<String, (Option<String>, i64)>,
    /// Keys a snapshot load removes, per table: no longer in `keys` or `grid`, kept to say
    /// why a row pointing at one is rejected.
    pub(crate) removed: HashMap<&'static str, HashSet<String>>,
}
