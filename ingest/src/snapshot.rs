//! Snapshot loads: a table the load replaces whole (`--replace members`). Counties send full
//! lists, so a committed row whose key is not in the list is removed, and what points at a
//! removed row follows it:
//!
//! - a required reference (a member's branch, an attendance row's meeting and member, a unit's
//!   parent, …) removes the row that holds it;
//! - an optional one (an organization's covering branch, a branch's paired branch, a visit's
//!   member) is cleared and the row kept, with a warning.
//!
//! A row of the snapshot that is rejected still names its key: the committed row stays, since a
//! typo in a full list is no reason to delete. A row this load carries decides for itself: a
//! committed row is only removed for its references when no loaded row replaces it.
//!
//! Every removed row is an [`Issue`] of severity [`Severity::Removed`] with its key, and every
//! cleared reference a warning, so nothing leaves the warehouse without a line.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt, HashSet};

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use model::schema::{TABLES, TableDef};

use crate::issue::{Issue, Severity};
use crate::reason::Reason;
use crate::validate::Staged;

/// A reference followed by the cascade: `column` of a table points at the key of `target`.
#[derive(Debug, Clone, Copy)]
struct Ref {
    column: &'static str,
    target: &'static str,
    required: bool,
}

/// The references of `table` the cascade follows: its foreign keys, and a unit's parent
/// (checked by the grid rules, not declared as a foreign key; a unit without its parent has
/// no place in the grid).
fn refs(table: &TableDef) -> Vec<Ref> {
    let mut out: Vec<Ref> = table
        .foreign_keys
        .iter()
        .map(|fk| Ref {
            column: fk.column,
            target: fk.table,
            required: table.column(fk.column).is_some_and(|c| c.required),
        })
        .collect();
    if table.name == "grid_units" {
        out.push(Ref {
            column: "parent_id",
            target: "grid_units",
            required: true,
        });
    }
    out
}

/// The key of every row of `batch` (parts joined by U+001F), `None` where a part is null.
pub(crate) fn row_keys(table: &TableDef, batch: &RecordBatch) -> Vec<Option<String>> {
    let cols: Vec<&StringArray> = table
        .primary_key
        .iter()
        .filter_map(|k| table.column_index(k))
        .filter_map(|i| batch.column(i).as_string_opt::<i32>())
        .collect();
    (0..batch.num_rows())
        .map(|r| {
            let mut key = String::new();
            for (i, c) in cols.iter().enumerate() {
                if c.is_null(r) {
                    return None;
                }
                if i > 0 {
                    key.push('\u{1f}');
                }
                key.push_str(c.value(r));
            }
            Some(key)
        })
        .collect()
}

/// A cleared optional reference: (its column, the table it pointed into, the removed key).
type ClearedRef = (&'static str, &'static str, String);

/// Whether the load replaces a committed row: (table, key, reference column, the keys removed
/// from the table that column points into).
type Replaced<'a> = &'a dyn Fn(&'static str, &str, &'static str, &HashSet<String>) -> bool;

/// Why a committed row goes.
#[derive(Debug, Clone)]
enum Why {
    /// Not in the snapshot of its table.
    Absent,
    /// It points at a removed row of `table`.
    With { table: &'static str, value: String },
}

/// A committed table as the cascade sees it.
struct Committed<'a> {
    table: &'static TableDef,
    batch: &'a RecordBatch,
    keys: Vec<Option<String>>,
}

/// What a snapshot load takes out of the warehouse, decided before the load's rows are
/// checked (so that a row pointing at a removed row is rejected, not loaded) and completed
/// after (a committed row whose replacement was rejected no longer has one).
#[derive(Debug, Default)]
pub(crate) struct Removal {
    /// Per table, the committed rows removed and why.
    rows: HashMap<&'static str, BTreeMap<usize, Why>>,
    /// Per table, the keys removed.
    pub(crate) keys: HashMap<&'static str, HashSet<String>>,
    /// Per table, the committed rows whose optional reference is cleared: row → columns.
    cleared: HashMap<&'static str, BTreeMap<usize, Vec<ClearedRef>>>,
    /// The snapshot's file names, for the lines of the rows it removes.
    files: String,
}

impl Removal {
    /// The committed rows of the `replace`d tables whose keys are not in the load, and what
    /// follows them. A committed row the load carries again (with a reference that still
    /// holds) is left to that row.
    pub(crate) fn plan(
        replace: &[&'static TableDef],
        staged: &[Staged],
        committed: &HashMap<&'static str, RecordBatch>,
    ) -> Removal {
        // A load that replaces nothing removes nothing: the committed keys are not even read.
        if replace.is_empty() {
            return Removal::default();
        }
        let tables = committed_tables(committed);
        let mut files: Vec<&str> = Vec::new();
        let mut removal = Removal::default();
        for table in replace {
            let Some(s) = staged.iter().find(|s| s.table.name == table.name) else {
                continue;
            };
            for f in s.sources.iter() {
                if !files.contains(&f.as_ref()) {
                    files.push(f.as_ref());
                }
            }
            let listed: HashSet<String> =
                row_keys(s.table, &s.batch).into_iter().flatten().collect();
            let Some(c) = tables.iter().find(|c| c.table.name == table.name) else {
                continue;
            };
            for (row, key) in c.keys.iter().enumerate() {
                if let Some(key) = key
                    && !listed.contains(key)
                {
                    removal.remove(c, row, key.clone(), Why::Absent);
                }
            }
        }
        removal.files = files.join(", ");
        if removal.rows.is_empty() {
            return removal;
        }
        // Before the checks, a committed row is left alone when the load carries its key in
        // a row whose reference does not point at a removed row: that row replaces it.
        let carried = carried_refs(staged);
        removal.cascade(&tables, &|table, key, column, removed| {
            carried
                .get(&(table, column))
                .and_then(|k| k.get(key))
                .is_some_and(|values| {
                    values
                        .iter()
                        .any(|v| !v.as_ref().is_some_and(|v| removed.contains(v)))
                })
        });
        removal
    }

    /// After the load's rows are checked: a committed row is left alone only when a loaded
    /// row replaces it. Returns whether anything more was removed.
    pub(crate) fn complete(
        &mut self,
        staged: &[Staged],
        committed: &HashMap<&'static str, RecordBatch>,
    ) -> bool {
        if self.rows.is_empty() {
            return false;
        }
        let tables = committed_tables(committed);
        let loaded: HashMap<&'static str, HashSet<String>> = staged
            .iter()
            .map(|s| {
                let keys = row_keys(s.table, &s.batch)
                    .into_iter()
                    .enumerate()
                    .filter(|(r, _)| s.alive[*r])
                    .filter_map(|(_, k)| k)
                    .collect();
                (s.table.name, keys)
            })
            .collect();
        let before: usize = self.rows.values().map(BTreeMap::len).sum();
        self.cascade(&tables, &|table, key, _, _| {
            loaded.get(table).is_some_and(|k| k.contains(key))
        });
        self.rows.values().map(BTreeMap::len).sum::<usize>() > before
    }

    fn remove(&mut self, c: &Committed, row: usize, key: String, why: Why) {
        self.rows.entry(c.table.name).or_default().insert(row, why);
        self.keys.entry(c.table.name).or_default().insert(key);
        if let Some(cleared) = self.cleared.get_mut(c.table.name) {
            cleared.remove(&row);
        }
    }

    /// Follows the references into removed rows until nothing more falls; `replaced(table,
    /// key, column, removed keys)` says whether the load replaces the committed row.
    fn cascade(&mut self, tables: &[Committed], replaced: Replaced<'_>) {
        loop {
            let mut changed = false;
            for c in tables {
                for r in refs(c.table) {
                    let Some(gone) = self.keys.get(r.target).cloned() else {
                        continue;
                    };
                    let Some(values) = c
                        .table
                        .column_index(r.column)
                        .and_then(|i| c.batch.column(i).as_string_opt::<i32>())
                    else {
                        continue;
                    };
                    for row in 0..c.batch.num_rows() {
                        if values.is_null(row)
                            || !gone.contains(values.value(row))
                            || self
                                .rows
                                .get(c.table.name)
                                .is_some_and(|m| m.contains_key(&row))
                        {
                            continue;
                        }
                        let Some(key) = c.keys[row].clone() else {
                            continue;
                        };
                        if replaced(c.table.name, &key, r.column, &gone) {
                            continue;
                        }
                        let value = values.value(row).to_string();
                        if r.required {
                            let why = Why::With {
                                table: r.target,
                                value,
                            };
                            self.remove(c, row, key, why);
                            changed = true;
                        } else {
                            let cols = self
                                .cleared
                                .entry(c.table.name)
                                .or_default()
                                .entry(row)
                                .or_default();
                            if !cols.iter().any(|(col, _, _)| *col == r.column) {
                                cols.push((r.column, r.target, value));
                            }
                        }
                    }
                }
            }
            if !changed {
                return;
            }
        }
    }

    /// The committed rows of `table` that stay, in their order, with cleared references
    /// nulled; `None` when the snapshot changes nothing of it.
    pub(crate) fn apply(
        &self,
        table: &'static TableDef,
        batch: &RecordBatch,
    ) -> Result<Option<RecordBatch>, arrow::error::ArrowError> {
        let removed = self.rows.get(table.name);
        let cleared = self.cleared.get(table.name);
        if removed.is_none() && cleared.is_none() {
            return Ok(None);
        }
        let mut columns = batch.columns().to_vec();
        if let Some(cleared) = cleared {
            for (i, def) in table.columns.iter().enumerate() {
                let rows: HashSet<usize> = cleared
                    .iter()
                    .filter(|(_, cols)| cols.iter().any(|(c, _, _)| *c == def.name))
                    .map(|(r, _)| *r)
                    .collect();
                if rows.is_empty() {
                    continue;
                }
                let Some(values) = columns[i].as_string_opt::<i32>() else {
                    continue;
                };
                let nulled: StringArray = values
                    .iter()
                    .enumerate()
                    .map(|(r, v)| if rows.contains(&r) { None } else { v })
                    .collect();
                columns[i] = std::sync::Arc::new(nulled);
            }
        }
        let keep: arrow::array::BooleanArray = (0..batch.num_rows())
            .map(|r| Some(!removed.is_some_and(|m| m.contains_key(&r))))
            .collect();
        let batch = RecordBatch::try_new(batch.schema(), columns)?;
        Ok(Some(arrow::compute::filter_record_batch(&batch, &keep)?))
    }

    /// Rows removed from `table`.
    pub(crate) fn removed(&self, table: &str) -> usize {
        self.rows.get(table).map_or(0, BTreeMap::len)
    }

    /// A line for every removed row (its key) and every cleared reference, in table order and
    /// then the committed order.
    pub(crate) fn issues(&self, committed: &HashMap<&'static str, RecordBatch>) -> Vec<Issue> {
        let mut out = Vec::new();
        for c in committed_tables(committed) {
            let key_columns = c.table.primary_key.join(", ");
            if let Some(rows) = self.rows.get(c.table.name) {
                for (row, why) in rows {
                    let reason = match why {
                        Why::Absent => Reason::AbsentFromSnapshot {
                            table: c.table.name,
                        },
                        Why::With { table, value } => Reason::RemovedWith {
                            table,
                            value: value.clone(),
                        },
                    };
                    out.push(Issue {
                        table: c.table.name,
                        file: self.files.clone(),
                        line: None,
                        column: Some(key_columns.clone()),
                        value: c.keys[*row].as_ref().map(|k| k.replace('\u{1f}', ", ")),
                        reason,
                        severity: Severity::Removed,
                    });
                }
            }
            if let Some(rows) = self.cleared.get(c.table.name) {
                for (row, cols) in rows {
                    for (column, target, value) in cols {
                        out.push(Issue {
                            table: c.table.name,
                            file: self.files.clone(),
                            line: None,
                            column: Some(column.to_string()),
                            value: Some(value.clone()),
                            reason: Reason::ReferenceCleared {
                                table: target,
                                value: value.clone(),
                                row: c.keys[*row]
                                    .as_ref()
                                    .map(|k| k.replace('\u{1f}', ", "))
                                    .unwrap_or_default(),
                            },
                            severity: Severity::Warning,
                        });
                    }
                }
            }
        }
        out
    }

    /// Tables that lose rows, with how many they lose and hold now.
    pub(crate) fn losses<'a>(
        &'a self,
        committed: &'a HashMap<&'static str, RecordBatch>,
    ) -> impl Iterator<Item = (&'static str, usize, usize)> + 'a {
        TABLES.iter().filter_map(move |t| {
            let removed = self.removed(t.name);
            let held = committed.get(t.name).map_or(0, RecordBatch::num_rows);
            (removed > 0).then_some((t.name, removed, held))
        })
    }

    /// Whether `table` has rows removed or references cleared.
    pub(crate) fn touches(&self, table: &str) -> bool {
        self.rows.contains_key(table) || self.cleared.contains_key(table)
    }
}

fn committed_tables<'a>(committed: &'a HashMap<&'static str, RecordBatch>) -> Vec<Committed<'a>> {
    TABLES
        .iter()
        .filter_map(|t| {
            let batch = committed.get(t.name)?;
            Some(Committed {
                table: t,
                batch,
                keys: row_keys(t, batch),
            })
        })
        .collect()
}

/// For each (table, reference column): the load's rows by key → the values they give it.
type Carried = HashMap<(&'static str, &'static str), HashMap<String, Vec<Option<String>>>>;

fn carried_refs(staged: &[Staged]) -> Carried {
    let mut out: Carried = HashMap::new();
    for s in staged {
        let keys = row_keys(s.table, &s.batch);
        for r in refs(s.table) {
            let Some(values) = s
                .table
                .column_index(r.column)
                .and_then(|i| s.batch.column(i).as_string_opt::<i32>())
            else {
                continue;
            };
            let by_key = out.entry((s.table.name, r.column)).or_default();
            for (row, key) in keys.iter().enumerate() {
                if let Some(key) = key {
                    by_key
                        .entry(key.clone())
                        .or_default()
                        .push(values.is_valid(row).then(|| values.value(row).to_string()));
                }
            }
        }
    }
    out
}
