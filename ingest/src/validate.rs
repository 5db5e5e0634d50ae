//! Validation: first each cell against its column's type and the row against its table's
//! rules, then the rows of the whole load against each other and the warehouse — keys, the
//! grid, references — with rejections cascading to the rows that depend on a rejected row.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Date32Array, Decimal128Builder, Int64Array,
    Int64Builder, RecordBatch, StringArray, StringBuilder,
};
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::{Field, Int64Type, Schema, SchemaRef};
use model::Rules;
use model::schema::{
    ColumnDef, ColumnType, DECIMAL_PRECISION, DECIMAL_SCALE, TableDef, id_check_char,
};

use crate::clean::CleanColumn;
use crate::error::IngestError;
use crate::issue::{Issue, Severity};
use crate::source::RawTable;
use model::{Month, Period};

use crate::values::{format_cents, parse_cents};

/// The rows of one table across every file of the load, typed, with where each came from and
/// whether it is still to be loaded.
#[derive(Debug)]
pub struct Staged {
    pub table: &'static TableDef,
    /// Every row read, typed; cells that failed are null (the schema here is all-nullable).
    pub batch: RecordBatch,
    pub sources: Vec<Arc<str>>,
    pub lines: Vec<u64>,
    pub alive: Vec<bool>,
    /// The first rejection of each rejected row, for the reasons of cascading rejections.
    pub first_reason: HashMap<usize, String>,
}

impl Staged {
    pub fn read(&self) -> usize {
        self.lines.len()
    }

    pub fn loaded(&self) -> usize {
        self.alive.iter().filter(|a| **a).count()
    }

    /// The rows to load, in the warehouse's schema.
    pub fn loaded_batch(&self) -> Result<RecordBatch, IngestError> {
        let arrow_err = |source| IngestError::Arrow {
            table: self.table.name,
            source,
        };
        let mask = arrow::array::BooleanArray::from(self.alive.clone());
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

struct RowIssues<'a> {
    raw: &'a RawTable,
    issues: &'a mut Vec<Issue>,
    rejected: &'a mut [bool],
    first_reason: &'a mut HashMap<usize, String>,
}

impl RowIssues<'_> {
    fn report(
        &mut self,
        row: usize,
        col: &ColumnDef,
        value: Option<String>,
        reason: String,
        severity: Severity,
    ) {
        // A row that could not be read is already rejected with why; its blanked cells would
        // only repeat that.
        if self.raw.unreadable.contains_key(&row) {
            return;
        }
        if severity == Severity::Rejected {
            self.rejected[row] = true;
            self.first_reason
                .entry(row)
                .or_insert_with(|| format!("{}: {reason}", col.name));
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
        self.raw.cells[c].as_ref().and_then(|v| v[row].clone())
    }

    /// A bad value in a required column rejects the row; in an optional one it is a warning
    /// and the value is not stored.
    fn bad(&mut self, c: usize, row: usize, reason: String) {
        let col = &self.raw.table.columns[c];
        let severity = if col.required {
            Severity::Rejected
        } else {
            Severity::Warning
        };
        let value = self.raw_value(c, row);
        let reason = if col.required {
            reason
        } else {
            format!("{reason}; the row is kept without this value")
        };
        self.report(row, col, value, reason, severity);
    }
}

fn enum_choices(ty: &ColumnType) -> String {
    match ty {
        ColumnType::Enum(values) => values
            .iter()
            .map(|v| match v.spellings.first() {
                Some(zh) if *zh != v.canonical => format!("{zh} ({})", v.canonical),
                _ => v.canonical.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

/// One file's rows after the checks of each row on its own.
#[derive(Debug)]
pub struct FileRows {
    /// Every row, typed; cells that failed are null.
    pub batch: RecordBatch,
    pub source: Arc<str>,
    pub lines: Vec<u64>,
    pub rejected: Vec<bool>,
    /// The first rejection of each rejected row.
    pub first_reason: HashMap<usize, String>,
}

/// Types every cell of a raw table and checks each row on its own. Returns the typed rows
/// (all of them; cells that failed are null) and which rows are rejected.
pub fn validate_fields(
    raw: &RawTable,
    cleaned: Vec<Option<CleanColumn>>,
    rules: &Rules,
    issues: &mut Vec<Issue>,
) -> Result<FileRows, IngestError> {
    let n = raw.len();
    let table = raw.table;
    let mut rejected = vec![false; n];
    let mut first_reason = HashMap::new();
    for (row, row_issues) in &raw.unreadable {
        rejected[*row] = true;
        if let Some(first) = row_issues.first() {
            first_reason.insert(*row, first.reason.clone());
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
    for (c, (def, clean)) in table.columns.iter().zip(cleaned).enumerate() {
        let Some(clean) = clean else {
            if def.required {
                for row in 0..n {
                    ri.report(
                        row,
                        def,
                        None,
                        format!(
                            "the file has no column {} ({}), which is required",
                            def.name, def.zh
                        ),
                        Severity::Rejected,
                    );
                }
            }
            arrays.push(match def.ty {
                ColumnType::Bool { default } => {
                    Arc::new(arrow::array::BooleanArray::from(vec![default; n]))
                }
                _ => arrow::array::new_null_array(&def.ty.arrow_type(), n),
            });
            continue;
        };
        let text = clean.text.as_string::<i32>();
        let missing_required = |ri: &mut RowIssues, row: usize| {
            ri.report(
                row,
                def,
                None,
                format!("{} ({}) is required but empty", def.name, def.zh),
                Severity::Rejected,
            );
        };
        let array: ArrayRef = match &def.ty {
            ColumnType::Text => {
                for row in 0..n {
                    if def.required && text.is_null(row) {
                        missing_required(&mut ri, row);
                    }
                }
                clean.text.clone()
            }
            ColumnType::Int { min, max } => {
                let parsed = clean
                    .parsed
                    .as_ref()
                    .and_then(|p| p.as_primitive_opt::<Int64Type>())
                    .cloned()
                    .unwrap_or_else(|| Int64Array::from(vec![None; n]));
                let mut b = Int64Builder::with_capacity(n);
                for row in 0..n {
                    if text.is_null(row) {
                        if def.required {
                            missing_required(&mut ri, row);
                        }
                        b.append_null();
                    } else if parsed.is_null(row) {
                        ri.bad(c, row, "not a whole number".into());
                        b.append_null();
                    } else if !(*min..=*max).contains(&parsed.value(row)) {
                        let range = if *max == i64::MAX {
                            format!("must be {min} or more")
                        } else {
                            format!("must be between {min} and {max}")
                        };
                        ri.bad(c, row, range);
                        b.append_null();
                    } else {
                        b.append_value(parsed.value(row));
                    }
                }
                Arc::new(b.finish())
            }
            ColumnType::Decimal => {
                let mut b = Decimal128Builder::with_capacity(n);
                for row in 0..n {
                    if text.is_null(row) {
                        if def.required {
                            missing_required(&mut ri, row);
                        }
                        b.append_null();
                        continue;
                    }
                    match parse_cents(text.value(row)) {
                        Ok(v) => b.append_value(v),
                        Err(why) => {
                            ri.bad(
                                c,
                                row,
                                format!(
                                    "{why} (expected a number with at most two decimal places)"
                                ),
                            );
                            b.append_null();
                        }
                    }
                }
                Arc::new(
                    b.finish()
                        .with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)
                        .map_err(|source| IngestError::Arrow {
                            table: table.name,
                            source,
                        })?,
                )
            }
            ColumnType::Date => {
                let parsed = clean
                    .parsed
                    .as_ref()
                    .and_then(|p| p.as_any().downcast_ref::<Date32Array>())
                    .cloned()
                    .unwrap_or_else(|| Date32Array::from(vec![None; n]));
                // 1900-01-01 and 2100-12-31 as days since 1970-01-01.
                const FIRST: i32 = -25_567;
                const LAST: i32 = 47_482;
                let mut values = Vec::with_capacity(n);
                for row in 0..n {
                    if text.is_null(row) {
                        if def.required {
                            missing_required(&mut ri, row);
                        }
                        values.push(None);
                    } else if parsed.is_null(row) {
                        ri.bad(
                            c,
                            row,
                            "not a date (expected 2024-05-05, 2024/5/5, 2024年5月5日 or an Excel date)".into(),
                        );
                        values.push(None);
                    } else if !(FIRST..=LAST).contains(&parsed.value(row)) {
                        ri.bad(c, row, "a date outside 1900–2100".into());
                        values.push(None);
                    } else {
                        values.push(Some(parsed.value(row)));
                    }
                }
                Arc::new(Date32Array::from(values))
            }
            ColumnType::Bool { default } => {
                let parsed = clean
                    .parsed
                    .as_ref()
                    .and_then(|p| p.as_boolean_opt().cloned());
                let mut b = BooleanBuilder::with_capacity(n);
                for row in 0..n {
                    let v = parsed
                        .as_ref()
                        .filter(|p| p.is_valid(row))
                        .map(|p| p.value(row));
                    match (text.is_null(row), v) {
                        (true, _) => b.append_value(*default),
                        (false, Some(v)) => b.append_value(v),
                        (false, None) => {
                            let col = &table.columns[c];
                            let value = ri.raw_value(c, row);
                            ri.report(
                                row,
                                col,
                                value,
                                format!(
                                    "not a yes/no value (expected 是/否, Y/N, true/false or 1/0); stored as the default, {}",
                                    if *default { "是" } else { "否" }
                                ),
                                Severity::Warning,
                            );
                            b.append_value(*default);
                        }
                    }
                }
                Arc::new(b.finish())
            }
            ColumnType::Enum(_) => {
                let parsed = clean
                    .parsed
                    .as_ref()
                    .and_then(|p| p.as_string_opt::<i32>().cloned());
                let mut b = StringBuilder::with_capacity(n, n * 8);
                for row in 0..n {
                    let v = parsed
                        .as_ref()
                        .filter(|p| p.is_valid(row))
                        .map(|p| p.value(row));
                    match (text.is_null(row), v) {
                        (true, _) => {
                            if def.required {
                                missing_required(&mut ri, row);
                            }
                            b.append_null();
                        }
                        (false, Some(v)) => b.append_value(v),
                        (false, None) => {
                            ri.bad(c, row, format!("not one of: {}", enum_choices(&def.ty)));
                            b.append_null();
                        }
                    }
                }
                Arc::new(b.finish())
            }
            ColumnType::Period | ColumnType::Month | ColumnType::IdNumber => {
                let mut b = StringBuilder::with_capacity(n, n * 8);
                for row in 0..n {
                    if text.is_null(row) {
                        if def.required {
                            missing_required(&mut ri, row);
                        }
                        b.append_null();
                        continue;
                    }
                    let s = text.value(row);
                    let normalized = match def.ty {
                        ColumnType::Period => Period::parse(s).map(|p| p.to_string()).ok_or_else(|| {
                            "not a period (expected 2024-B3, 2024-Q2, 2024-M05, 2024-H1, 2024年第3季度 or 2024年1-2月)".to_string()
                        }),
                        ColumnType::Month => Month::parse(s)
                            .map(|m| m.to_string())
                            .ok_or_else(|| "not a month (expected 2024-05 or 2024年5月)".to_string()),
                        _ => check_id_number(s),
                    };
                    match normalized {
                        Ok(v) => b.append_value(v),
                        Err(why) => {
                            ri.bad(c, row, why);
                            b.append_null();
                        }
                    }
                }
                Arc::new(b.finish())
            }
        };
        arrays.push(array);
    }
    let batch = RecordBatch::try_new(nullable_schema(table), arrays).map_err(|source| {
        IngestError::Arrow {
            table: table.name,
            source,
        }
    })?;
    row_rules(&batch, &mut ri, rules);
    Ok(FileRows {
        batch,
        source: Arc::from(raw.source.as_str()),
        lines: raw.lines.clone(),
        rejected,
        first_reason,
    })
}

fn check_id_number(s: &str) -> Result<String, String> {
    let id = s.to_ascii_uppercase();
    if id.len() != 18 || !id.is_ascii() {
        return Err(format!(
            "an ID number has 18 characters, this has {}",
            s.chars().count()
        ));
    }
    match id_check_char(&id.as_bytes()[..17]) {
        None => Err("the first 17 characters of an ID number must be digits".into()),
        Some(check) if id.ends_with(check) => Ok(id),
        Some(check) => Err(format!(
            "the check digit is wrong (GB 11643 gives {check}, the number ends in {})",
            &id[17..]
        )),
    }
}

/// Rules that involve more than one cell of a row, or the tenant's rules.
fn row_rules(batch: &RecordBatch, ri: &mut RowIssues, rules: &Rules) {
    let table = ri.raw.table;
    let col = |name: &str| table.column_index(name).map(|i| batch.column(i));
    match table.name {
        "visits" => {
            let (Some(raised), Some(resolved)) = (col("issues_raised"), col("issues_resolved"))
            else {
                return;
            };
            let (raised, resolved) = (
                raised.as_primitive::<Int64Type>(),
                resolved.as_primitive::<Int64Type>(),
            );
            let c = table.column_index("issues_resolved").unwrap_or(0);
            for row in 0..batch.num_rows() {
                if raised.is_valid(row)
                    && resolved.is_valid(row)
                    && resolved.value(row) > raised.value(row)
                {
                    let value = ri.raw_value(c, row);
                    ri.report(
                        row,
                        &table.columns[c],
                        value,
                        format!(
                            "more issues resolved ({}) than raised ({})",
                            resolved.value(row),
                            raised.value(row)
                        ),
                        Severity::Rejected,
                    );
                }
            }
        }
        "scores" => {
            let (Some(indicator), Some(score)) = (col("indicator"), col("score")) else {
                return;
            };
            let indicator = indicator.as_string::<i32>();
            let score = score.as_primitive::<arrow::datatypes::Decimal128Type>();
            let ci = table.column_index("indicator").unwrap_or(0);
            let cs = table.column_index("score").unwrap_or(0);
            let names: Vec<&str> = rules
                .assessment
                .indicators
                .get_ref()
                .iter()
                .map(|i| i.name.as_str())
                .collect();
            for row in 0..batch.num_rows() {
                if indicator.is_null(row) {
                    continue;
                }
                let name = indicator.value(row);
                let Some(ind) = rules.indicator(name) else {
                    let value = ri.raw_value(ci, row);
                    ri.report(
                        row,
                        &table.columns[ci],
                        value,
                        format!("not one of the tenant's indicators ({})", names.join(", ")),
                        Severity::Rejected,
                    );
                    continue;
                };
                if score.is_null(row) {
                    continue;
                }
                let v = score.value(row);
                let max = i128::from(ind.max.0);
                if v < 0 || v > max {
                    let value = ri.raw_value(cs, row);
                    ri.report(
                        row,
                        &table.columns[cs],
                        value,
                        format!(
                            "score {} is outside 0–{} for {}",
                            format_cents(v),
                            format_cents(max),
                            ind.name
                        ),
                        Severity::Rejected,
                    );
                }
            }
        }
        _ => {}
    }
}

/// Puts the typed rows of every file of one table together.
pub fn stage(table: &'static TableDef, parts: Vec<FileRows>) -> Result<Staged, IngestError> {
    let schema = nullable_schema(table);
    let mut batches = Vec::new();
    let mut sources = Vec::new();
    let mut lines = Vec::new();
    let mut alive = Vec::new();
    let mut first_reason = HashMap::new();
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
    })
}

/// What the warehouse already holds that the load is checked against.
#[derive(Debug, Default)]
pub struct Existing {
    /// Primary keys of the committed rows, per table (single-column keys only).
    pub keys: HashMap<&'static str, HashSet<String>>,
    /// Committed grid units: id → (parent, level).
    pub grid: HashMap<String, (Option<String>, i64)>,
}

fn reject(
    staged: &mut Staged,
    row: usize,
    column: &str,
    value: Option<String>,
    reason: String,
    issues: &mut Vec<Issue>,
) {
    staged.alive[row] = false;
    staged
        .first_reason
        .entry(row)
        .or_insert_with(|| format!("{column}: {reason}"));
    issues.push(Issue {
        table: staged.table.name,
        file: staged.sources[row].to_string(),
        line: Some(staged.lines[row]),
        column: Some(column.to_string()),
        value,
        reason,
        severity: Severity::Rejected,
    });
}

/// The primary-key columns of a staged table, looked up once rather than per row.
struct Keys {
    cols: Vec<StringArray>,
}

impl Keys {
    fn of(staged: &Staged) -> Keys {
        Keys {
            cols: staged
                .table
                .primary_key
                .iter()
                .filter_map(|k| staged.key_column(k).cloned())
                .collect(),
        }
    }

    /// The row's key (parts joined by U+001F), or `None` when a part is null.
    fn at(&self, row: usize) -> Option<String> {
        if let [col] = self.cols.as_slice() {
            return col.is_valid(row).then(|| col.value(row).to_string());
        }
        let mut key = String::new();
        for (i, col) in self.cols.iter().enumerate() {
            if col.is_null(row) {
                return None;
            }
            if i > 0 {
                key.push('\u{1f}');
            }
            key.push_str(col.value(row));
        }
        Some(key)
    }
}

/// A repeated primary key inside the load: the first occurrence is kept.
fn reject_duplicate_keys(staged: &mut Staged, issues: &mut Vec<Issue>) {
    let mut first: HashMap<String, usize> = HashMap::new();
    let keys = Keys::of(staged);
    for row in 0..staged.read() {
        if !staged.alive[row] {
            continue;
        }
        let Some(key) = keys.at(row) else {
            continue;
        };
        match first.get(&key) {
            None => {
                first.insert(key, row);
            }
            Some(&kept) => {
                let shown = key.replace('\u{1f}', ", ");
                let reason = format!(
                    "duplicate key ({}); the first occurrence, {} line {}, is kept",
                    staged.table.primary_key.join(", "),
                    staged.sources[kept],
                    staged.lines[kept]
                );
                let column = staged.table.primary_key.join(", ");
                reject(staged, row, &column, Some(shown), reason, issues);
            }
        }
    }
}

/// Where a key was rejected in this load, to explain a cascading rejection.
fn rejected_keys(staged: &Staged) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let keys = Keys::of(staged);
    for row in 0..staged.read() {
        if staged.alive[row] {
            continue;
        }
        if let Some(key) = keys.at(row) {
            out.entry(key).or_insert_with(|| {
                format!(
                    "{} line {}: {}",
                    staged.sources[row],
                    staged.lines[row],
                    staged
                        .first_reason
                        .get(&row)
                        .map(String::as_str)
                        .unwrap_or("rejected")
                )
            });
        }
    }
    out
}

fn alive_keys(staged: &Staged) -> HashSet<String> {
    let keys = Keys::of(staged);
    (0..staged.read())
        .filter(|r| staged.alive[*r])
        .filter_map(|r| keys.at(r))
        .collect()
}

/// The grid rules: one root at level 0; every other unit's parent exists and sits exactly one
/// level up. Levels strictly decrease towards the root, so no chain of parents can loop.
fn check_grid(units: &mut Staged, existing: &Existing, issues: &mut Vec<Issue>) {
    let (Some(ids), Some(parents), Some(levels)) = (
        units.key_column("unit_id").cloned(),
        units.key_column("parent_id").cloned(),
        units.table.column_index("level").and_then(|i| {
            units
                .batch
                .column(i)
                .as_primitive_opt::<Int64Type>()
                .cloned()
        }),
    ) else {
        return;
    };
    let new_rows: HashSet<String> = (0..units.read())
        .filter(|r| units.alive[*r] && ids.is_valid(*r))
        .map(|r| ids.value(r).to_string())
        .collect();
    // A committed unit stays as it is unless this load replaces it.
    let valid: HashMap<String, i64> = existing
        .grid
        .iter()
        .filter(|(id, _)| !new_rows.contains(*id))
        .map(|(id, (_, level))| (id.clone(), *level))
        .collect();
    let root: Option<String> = existing
        .grid
        .iter()
        .find(|(id, (parent, level))| *level == 0 && parent.is_none() && !new_rows.contains(*id))
        .map(|(id, _)| id.clone());
    let mut grid = GridState {
        valid,
        root,
        rejected: rejected_keys(units),
    };
    let mut order: Vec<usize> = (0..units.read()).filter(|r| units.alive[*r]).collect();
    order.sort_by_key(|r| (levels.is_valid(*r).then(|| levels.value(*r)), *r));
    for row in order {
        if !units.alive[row] || ids.is_null(row) || levels.is_null(row) {
            continue;
        }
        check_unit(units, row, (&ids, &parents, &levels), &mut grid, issues);
        if !units.alive[row] {
            let why = format!(
                "{} line {}: {}",
                units.sources[row],
                units.lines[row],
                units
                    .first_reason
                    .get(&row)
                    .map(String::as_str)
                    .unwrap_or("rejected")
            );
            grid.rejected
                .entry(ids.value(row).to_string())
                .or_insert(why);
        }
    }
}

/// The grid as accepted so far while units are checked level by level.
struct GridState {
    /// Accepted units (committed and loaded): id → level.
    valid: HashMap<String, i64>,
    root: Option<String>,
    /// Units rejected in this load: id → where and why.
    rejected: HashMap<String, String>,
}

/// Checks one unit against the units accepted so far (all of lower levels).
fn check_unit(
    units: &mut Staged,
    row: usize,
    cols: (&StringArray, &StringArray, &Int64Array),
    grid: &mut GridState,
    issues: &mut Vec<Issue>,
) {
    let (ids, parents, levels) = cols;
    let id = ids.value(row).to_string();
    let level = levels.value(row);
    let parent = parents
        .is_valid(row)
        .then(|| parents.value(row).to_string());
    if level == 0 {
        if let Some(p) = parent {
            reject(
                units,
                row,
                "parent_id",
                Some(p),
                "a level-0 unit is the root (the county) and cannot have a parent".into(),
                issues,
            );
            return;
        }
        match &grid.root {
            Some(r) if *r != id => {
                let reason = format!("a second root: the grid already has the level-0 unit '{r}'");
                reject(units, row, "level", Some("0".into()), reason, issues);
            }
            _ => {
                grid.root = Some(id.clone());
                grid.valid.insert(id, 0);
            }
        }
        return;
    }
    let Some(parent) = parent else {
        reject(
            units,
            row,
            "parent_id",
            None,
            format!("a level-{level} unit needs a parent; only the level-0 root has none"),
            issues,
        );
        return;
    };
    match grid.valid.get(&parent) {
        Some(pl) if *pl == level - 1 => {
            grid.valid.insert(id, level);
        }
        Some(pl) => {
            let reason = format!(
                "parent '{parent}' is at level {pl}; a level-{level} unit's parent must be at level {}",
                level - 1
            );
            reject(units, row, "parent_id", Some(parent), reason, issues);
        }
        None => {
            let reason = match grid.rejected.get(&parent) {
                Some(why) => format!("parent '{parent}' was rejected ({why})"),
                None => {
                    format!("parent '{parent}' is not in grid_units, in this load or the warehouse")
                }
            };
            reject(units, row, "parent_id", Some(parent), reason, issues);
        }
    }
}

/// References: a row whose foreign key points nowhere is rejected, naming the rejected row it
/// pointed at when there is one.
fn check_references(staged: &mut [Staged], existing: &Existing, issues: &mut Vec<Issue>) {
    for i in 0..staged.len() {
        let table = staged[i].table;
        // A table can refer to itself (a branch paired with another branch), so repeat until
        // no more rows fall.
        loop {
            let mut changed = false;
            for fk in table.foreign_keys {
                let Some(target_idx) = staged.iter().position(|s| s.table.name == fk.table) else {
                    // Nothing of the target table in this load: check against the warehouse.
                    changed |= check_fk(
                        &mut staged[i],
                        fk.column,
                        fk.table,
                        &HashSet::new(),
                        &HashMap::new(),
                        existing,
                        issues,
                    );
                    continue;
                };
                let alive = alive_keys(&staged[target_idx]);
                let rejected = rejected_keys(&staged[target_idx]);
                changed |= check_fk(
                    &mut staged[i],
                    fk.column,
                    fk.table,
                    &alive,
                    &rejected,
                    existing,
                    issues,
                );
            }
            if !changed {
                break;
            }
        }
    }
}

fn check_fk(
    staged: &mut Staged,
    column: &str,
    target: &str,
    alive: &HashSet<String>,
    rejected: &HashMap<String, String>,
    existing: &Existing,
    issues: &mut Vec<Issue>,
) -> bool {
    let Some(values) = staged.key_column(column).cloned() else {
        return false;
    };
    let committed = existing.keys.get(target);
    let mut changed = false;
    for row in 0..staged.read() {
        if !staged.alive[row] || values.is_null(row) {
            continue;
        }
        let v = values.value(row);
        if alive.contains(v) || committed.is_some_and(|k| k.contains(v)) {
            continue;
        }
        let reason = match rejected.get(v) {
            Some(why) => format!("{target} '{v}' was rejected in this load ({why})"),
            None => format!("'{v}' is not in {target}, in this load or the warehouse"),
        };
        reject(staged, row, column, Some(v.to_string()), reason, issues);
        changed = true;
    }
    changed
}

/// The checks across rows and tables, in table order so that a rejected parent is known
/// before its children are checked.
pub fn validate_relations(staged: &mut [Staged], existing: &Existing, issues: &mut Vec<Issue>) {
    for s in staged.iter_mut() {
        reject_duplicate_keys(s, issues);
    }
    if let Some(units) = staged.iter_mut().find(|s| s.table.name == "grid_units") {
        check_grid(units, existing, issues);
    }
    check_references(staged, existing, issues);
}
