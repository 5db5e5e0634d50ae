//! The checks across rows and tables: repeated keys, the grid, references. A rejected row
//! takes the rows that depend on it with it, and their reason says where and why it fell.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use arrow::array::{Array, AsArray, Int64Array, StringArray};
use arrow::datatypes::Int64Type;
use rayon::prelude::*;

use super::{Existing, Staged};
use crate::issue::{Issue, Severity};
use crate::keys::{FirstRows, KeyColumns};
use crate::reason::{Cause, Reason, Rejection};

fn reject(
    staged: &mut Staged,
    row: usize,
    column: &str,
    value: Option<String>,
    reason: Reason,
    issues: &mut Vec<Issue>,
) {
    staged.alive[row] = false;
    staged.first_reason.entry(row).or_insert_with(|| Cause {
        column: Some(column.to_string()),
        reason: reason.clone(),
    });
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

/// The primary-key columns of a staged table.
fn key_columns(staged: &Staged) -> Option<KeyColumns> {
    KeyColumns::of(staged.table, &staged.batch)
}

/// A repeated primary key inside the load: the first occurrence is kept, and the later row
/// is rejected naming it — with both spellings when the two were written differently and are
/// one key only once cleaned. A key written otherwise than the committed key it cleans to
/// merges, as SPEC says, with a warning.
fn reject_duplicate_keys(staged: &mut Staged, existing: &Existing, issues: &mut Vec<Issue>) {
    let Some(keys) = key_columns(staged) else {
        return;
    };
    let mut first = FirstRows::new(&keys, staged.read());
    let committed = existing.keys.get(staged.table.name);
    let column = staged.table.primary_key.join(", ");
    for row in 0..staged.read() {
        if !staged.alive[row] {
            continue;
        }
        let Some(key) = keys.at(row) else {
            continue;
        };
        match first.first_or_insert(key, row) {
            None => {
                if let (Some(written), Some(committed), Some(single)) =
                    (staged.written_keys.get(&row), committed, key.single())
                    && committed.contains(single)
                {
                    let reason = Reason::KeyMergesWithCommitted {
                        written: written.clone(),
                        key: key.shown(),
                    };
                    issues.push(Issue {
                        table: staged.table.name,
                        file: staged.sources[row].to_string(),
                        line: Some(staged.lines[row]),
                        column: Some(column.clone()),
                        value: Some(written.clone()),
                        reason,
                        severity: Severity::Warning,
                    });
                }
            }
            Some(kept) => {
                let shown = key.shown();
                let written = staged.written_keys.get(&row).unwrap_or(&shown);
                let first_written = staged.written_keys.get(&kept).unwrap_or(&shown);
                let reason = if written == first_written {
                    Reason::DuplicateKey {
                        columns: staged.table.primary_key,
                        file: staged.sources[kept].clone(),
                        line: staged.lines[kept],
                    }
                } else {
                    Reason::KeyCollision {
                        columns: staged.table.primary_key,
                        written: written.clone(),
                        first_written: first_written.clone(),
                        key: shown.clone(),
                        file: staged.sources[kept].clone(),
                        line: staged.lines[kept],
                    }
                };
                let value = written.clone();
                reject(staged, row, &column, Some(value), reason, issues);
            }
        }
    }
}

/// Where a key was rejected in this load, to explain a cascading rejection.
fn rejected_keys(staged: &Staged) -> HashMap<String, Rejection> {
    let mut out = HashMap::new();
    let Some(keys) = key_columns(staged) else {
        return out;
    };
    for row in 0..staged.read() {
        if staged.alive[row] {
            continue;
        }
        if let Some(key) = keys.at(row) {
            out.entry(key.shown())
                .or_insert_with(|| rejection(staged, row));
        }
    }
    out
}

/// Where and why `row` was rejected.
fn rejection(staged: &Staged, row: usize) -> Rejection {
    Rejection {
        file: staged.sources[row].clone(),
        line: staged.lines[row],
        cause: staged.first_reason.get(&row).cloned(),
    }
}

fn alive_keys(staged: &Staged) -> HashSet<String> {
    let Some(keys) = key_columns(staged) else {
        return HashSet::default();
    };
    (0..staged.read())
        .filter(|r| staged.alive[*r])
        .filter_map(|r| keys.at(r).map(|k| k.shown()))
        .collect()
}

/// The grid rules: one root at level 0; every other unit's parent exists and sits exactly one
/// level up; no unit sits under itself. Levels alone do not rule cycles out: a committed unit
/// keeps its level while the load moves its parent, so a load can hang a township under its
/// own village group with levels that check. Cycles are therefore found first, over the grid
/// as it would be after the load, and the units on one are rejected before the levels are
/// checked, so that the units under them fall with them.
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
        removed: existing
            .removed
            .get("grid_units")
            .cloned()
            .unwrap_or_default(),
    };
    reject_cycles(
        units,
        (&ids, &parents),
        existing,
        &new_rows,
        &mut grid,
        issues,
    );
    let mut order: Vec<usize> = (0..units.read()).filter(|r| units.alive[*r]).collect();
    order.sort_by_key(|r| (levels.is_valid(*r).then(|| levels.value(*r)), *r));
    for row in order {
        if !units.alive[row] || ids.is_null(row) || levels.is_null(row) {
            continue;
        }
        check_unit(units, row, (&ids, &parents, &levels), &mut grid, issues);
        if !units.alive[row] {
            grid.rejected
                .entry(ids.value(row).to_string())
                .or_insert_with(|| rejection(units, row));
        }
    }
}

/// The grid as accepted so far while units are checked level by level.
struct GridState {
    /// Accepted units (committed and loaded): id → level.
    valid: HashMap<String, i64>,
    root: Option<String>,
    /// Units rejected in this load: id → where and why.
    rejected: HashMap<String, Rejection>,
    /// Committed units this snapshot load removes.
    removed: HashSet<String>,
}

/// Rejects every unit of the load that is on a cycle of parents in the grid as it would be
/// after the load (the committed units the load does not replace, and the load's units), with
/// the cycle's path from that unit back to it.
fn reject_cycles(
    units: &mut Staged,
    cols: (&StringArray, &StringArray),
    existing: &Existing,
    new_rows: &HashSet<String>,
    grid: &mut GridState,
    issues: &mut Vec<Issue>,
) {
    let (ids, parents) = cols;
    let mut parent_of: HashMap<&str, &str> = existing
        .grid
        .iter()
        .filter(|(id, _)| !new_rows.contains(*id))
        .filter_map(|(id, (parent, _))| Some((id.as_str(), parent.as_deref()?)))
        .collect();
    for r in 0..units.read() {
        if units.alive[r] && ids.is_valid(r) && parents.is_valid(r) {
            parent_of.insert(ids.value(r), parents.value(r));
        }
    }
    // Each unit is walked once: a walk stops at a unit seen before, in this walk (a cycle)
    // or an earlier one (whatever lies beyond was decided then).
    let mut done: HashSet<&str> = HashSet::new();
    let mut cycle_of: HashMap<String, Vec<String>> = HashMap::new();
    for r in 0..units.read() {
        if !units.alive[r] || ids.is_null(r) {
            continue;
        }
        let mut walk: Vec<&str> = Vec::new();
        let mut at: HashMap<&str, usize> = HashMap::new();
        let mut unit = ids.value(r);
        loop {
            if done.contains(unit) {
                break;
            }
            if let Some(&start) = at.get(unit) {
                let cycle = &walk[start..];
                for (i, member) in cycle.iter().enumerate() {
                    let mut path: Vec<String> = cycle[i..]
                        .iter()
                        .chain(&cycle[..i])
                        .map(|u| u.to_string())
                        .collect();
                    path.push(member.to_string());
                    cycle_of.insert(member.to_string(), path);
                }
                break;
            }
            at.insert(unit, walk.len());
            walk.push(unit);
            match parent_of.get(unit) {
                Some(parent) => unit = parent,
                None => break,
            }
        }
        done.extend(walk);
    }
    if cycle_of.is_empty() {
        return;
    }
    for r in 0..units.read() {
        if !units.alive[r] || ids.is_null(r) {
            continue;
        }
        let Some(path) = cycle_of.get(ids.value(r)) else {
            continue;
        };
        let parent = parents.is_valid(r).then(|| parents.value(r).to_string());
        let reason = Reason::GridCycle { path: path.clone() };
        reject(units, r, "parent_id", parent, reason, issues);
        grid.rejected
            .entry(ids.value(r).to_string())
            .or_insert_with(|| rejection(units, r));
    }
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
                Reason::RootWithParent,
                issues,
            );
            return;
        }
        match &grid.root {
            Some(r) if *r != id => {
                let reason = Reason::SecondRoot { root: r.clone() };
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
            Reason::NoParent { level },
            issues,
        );
        return;
    };
    match grid.valid.get(&parent) {
        Some(pl) if *pl == level - 1 => {
            grid.valid.insert(id, level);
        }
        Some(pl) => {
            let reason = Reason::ParentLevel {
                parent: parent.clone(),
                parent_level: *pl,
                level,
            };
            reject(units, row, "parent_id", Some(parent), reason, issues);
        }
        None => {
            let reason = match grid.rejected.get(&parent) {
                Some(rejection) => Reason::ParentRejected {
                    parent: parent.clone(),
                    rejection: Box::new(rejection.clone()),
                },
                None if grid.removed.contains(&parent) => Reason::ReferenceRemoved {
                    table: "grid_units",
                    value: parent.clone(),
                },
                None => Reason::ParentMissing {
                    parent: parent.clone(),
                },
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
    target: &'static str,
    alive: &HashSet<String>,
    rejected: &HashMap<String, Rejection>,
    existing: &Existing,
    issues: &mut Vec<Issue>,
) -> bool {
    let Some(values) = staged.key_column(column).cloned() else {
        return false;
    };
    let committed = existing.keys.get(target);
    // The lookups run in parallel; the rows that point nowhere are rejected in row order.
    let dangling: Vec<usize> = (0..staged.read())
        .into_par_iter()
        .filter(|&row| {
            staged.alive[row]
                && values.is_valid(row)
                && !alive.contains(values.value(row))
                && !committed.is_some_and(|k| k.contains(values.value(row)))
        })
        .collect();
    let changed = !dangling.is_empty();
    for row in dangling {
        let v = values.value(row);
        let reason = match rejected.get(v) {
            Some(rejection) => Reason::ReferenceRejected {
                table: target,
                value: v.to_string(),
                rejection: Box::new(rejection.clone()),
            },
            None if existing.removed.get(target).is_some_and(|r| r.contains(v)) => {
                Reason::ReferenceRemoved {
                    table: target,
                    value: v.to_string(),
                }
            }
            None => Reason::NotInTable {
                table: target,
                value: v.to_string(),
            },
        };
        reject(staged, row, column, Some(v.to_string()), reason, issues);
    }
    changed
}

/// The checks across rows and tables, in table order so that a rejected parent is known
/// before its children are checked.
pub(crate) fn validate_relations(
    staged: &mut [Staged],
    existing: &Existing,
    issues: &mut Vec<Issue>,
) {
    // Each table's repeated keys are its own affair: the tables are checked in parallel, and
    // their issues taken in table order.
    let repeated: Vec<Vec<Issue>> = staged
        .par_iter_mut()
        .map(|s| {
            let mut found = Vec::new();
            reject_duplicate_keys(s, existing, &mut found);
            found
        })
        .collect();
    issues.extend(repeated.into_iter().flatten());
    if let Some(units) = staged.iter_mut().find(|s| s.table.name == "grid_units") {
        check_grid(units, existing, issues);
    }
    check_references(staged, existing, issues);
}

/// After the snapshot's removals are final: rejects the loaded rows that point at a removed
/// row (or, for a unit, whose parent is removed). Returns whether any row fell.
pub(crate) fn reject_references_to_removed(
    staged: &mut [Staged],
    removed: &HashMap<&'static str, HashSet<String>>,
    issues: &mut Vec<Issue>,
) -> bool {
    let mut changed = false;
    for s in staged.iter_mut() {
        let mut refs: Vec<(&'static str, &'static str)> = s
            .table
            .foreign_keys
            .iter()
            .map(|fk| (fk.column, fk.table))
            .collect();
        if s.table.name == "grid_units" {
            refs.push(("parent_id", "grid_units"));
        }
        for (column, target) in refs {
            let Some(gone) = removed.get(target) else {
                continue;
            };
            let Some(values) = s.key_column(column).cloned() else {
                continue;
            };
            for row in 0..s.read() {
                if !s.alive[row] || values.is_null(row) || !gone.contains(values.value(row)) {
                    continue;
                }
                let value = values.value(row).to_string();
                let reason = Reason::ReferenceRemoved {
                    table: target,
                    value: value.clone(),
                };
                reject(s, row, column, Some(value), reason, issues);
                changed = true;
            }
        }
    }
    changed
}
