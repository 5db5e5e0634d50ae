//! Header mapping: which column of a table each header of a file names. Headers are folded
//! (full-width forms, BOM, surrounding spaces and `*` marks, case) before they are compared.

use model::schema::{HEADER_ALIASES, TableDef};

use crate::error::IngestError;
use crate::issue::{Issue, Severity};
use crate::reason::Reason;

/// Folds full-width ASCII (Ａ，１) and the ideographic space to their half-width forms, as
/// Chinese input methods often type them in headers and codes.
fn fold_full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            other => other,
        })
        .collect()
}

fn normalize_header(h: &str) -> String {
    fold_full_width(h.trim_start_matches('\u{FEFF}'))
        .trim()
        .trim_matches('*')
        .trim()
        .to_lowercase()
}

/// Maps each header of a file to a column of `table`; returns, per table column, the index of
/// the file column holding it, plus notes on headers that match nothing.
pub(crate) fn map_headers(
    table: &'static TableDef,
    headers: &[String],
    source: &str,
    header_line: u64,
) -> Result<(Vec<Option<usize>>, Vec<Issue>), IngestError> {
    let mut map = vec![None; table.columns.len()];
    let mut notes = Vec::new();
    for (i, raw) in headers.iter().enumerate() {
        let h = normalize_header(raw);
        if h.is_empty() {
            continue;
        }
        let target = table
            .columns
            .iter()
            .position(|c| c.name == h || c.zh == h)
            .or_else(|| {
                HEADER_ALIASES
                    .iter()
                    .find(|(t, alias, _)| *t == table.name && *alias == h)
                    .and_then(|(_, _, col)| table.column_index(col))
            });
        match target {
            Some(c) if map[c].is_none() => map[c] = Some(i),
            Some(c) => notes.push(Issue {
                table: table.name,
                file: source.to_string(),
                line: Some(header_line),
                column: Some(raw.clone()),
                value: None,
                reason: Reason::SecondColumn {
                    column: table.columns[c].name,
                },
                severity: Severity::Warning,
            }),
            None => notes.push(Issue {
                table: table.name,
                file: source.to_string(),
                line: Some(header_line),
                column: Some(raw.clone()),
                value: None,
                reason: Reason::UnknownColumn {
                    table: table.name,
                    zh: table.zh,
                },
                severity: Severity::Warning,
            }),
        }
    }
    if map.iter().all(Option::is_none) {
        return Err(IngestError::NoKnownColumns {
            file: source.to_string(),
            line: header_line,
            headers: headers.join(", "),
            table: table.name,
            zh: table.zh,
            expected: table
                .columns
                .iter()
                .take(3)
                .map(|c| format!("{} / {}", c.name, c.zh))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok((map, notes))
}
