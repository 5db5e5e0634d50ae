//! Header mapping: which column of a table each header of a file names. The tenant's own
//! header map is asked first, then the schema's names and variants ([`TableDef::column_for_header`]);
//! both compare headers after [`model::schema::normalize_header`] (full-width forms, a BOM,
//! spaces, case, a bracketed note). When a required column is missing, [`closest_header`]
//! names the file's header that looks most like it.

use model::HeaderMap;
use model::schema::{HeaderMatch, TableDef, normalize_header};

use crate::error::IngestError;
use crate::issue::{Issue, Severity};
use crate::reason::Reason;

/// How well a header names its column: the tenant's map first, then the schema's matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    TenantMap,
    Schema(HeaderMatch),
}

/// Maps each header of a file to a column of `table`; returns, per table column, the index of
/// the file column holding it, plus notes on headers that match nothing or name a column
/// another header names better (the better one is read: the tenant's map, then the column's
/// own name, then a variant; on a tie, the first).
pub(crate) fn map_headers(
    table: &'static TableDef,
    headers: &[String],
    source: &str,
    header_line: u64,
    tenant: &HeaderMap,
) -> Result<(Vec<Option<usize>>, Vec<Issue>), IngestError> {
    let mut best: Vec<Option<(Rank, usize)>> = vec![None; table.columns.len()];
    let mut targets: Vec<Option<usize>> = Vec::with_capacity(headers.len());
    let mut notes = Vec::new();
    let note = |raw: &String, reason: Reason| Issue {
        table: table.name,
        file: source.to_string(),
        line: Some(header_line),
        column: Some(raw.clone()),
        value: None,
        reason,
        severity: Severity::Warning,
    };
    for (i, raw) in headers.iter().enumerate() {
        let target = tenant
            .column_for(table.name, raw)
            .and_then(|name| table.column_index(name))
            .map(|c| (c, Rank::TenantMap))
            .or_else(|| {
                table
                    .column_for_header(raw)
                    .map(|(c, m)| (c, Rank::Schema(m)))
            });
        targets.push(target.map(|(c, _)| c));
        match target {
            Some((c, rank)) => {
                if best[c].is_none_or(|(r, _)| rank < r) {
                    best[c] = Some((rank, i));
                }
            }
            None if normalize_header(raw).is_empty() => {}
            None => notes.push(note(
                raw,
                Reason::UnknownColumn {
                    table: table.name,
                    zh: table.zh,
                },
            )),
        }
    }
    let map: Vec<Option<usize>> = best.iter().map(|b| b.map(|(_, i)| i)).collect();
    for (i, target) in targets.iter().enumerate() {
        if let Some(c) = target
            && map[*c] != Some(i)
        {
            let reason = Reason::SecondColumn {
                column: table.columns[*c].name,
                read: headers[map[*c].unwrap_or(i)].clone(),
            };
            notes.push(note(&headers[i], reason));
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

/// The edit distance between two strings, in characters (Levenshtein: insertions, deletions
/// and substitutions each count one).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Of `headers` (a file's headers that name no column), the one closest to any spelling of
/// `column`, when it is close: at most half of the longer of the two differs.
pub(crate) fn closest_header(table: &TableDef, column: &str, headers: &[String]) -> Option<String> {
    let def = table.column(column)?;
    let spellings: Vec<String> = table
        .header_spellings(def)
        .iter()
        .map(|s| normalize_header(s))
        .collect();
    headers
        .iter()
        .filter_map(|raw| {
            let h = normalize_header(raw);
            spellings
                .iter()
                .map(|s| {
                    let longer = h.chars().count().max(s.chars().count());
                    (edit_distance(&h, s), longer)
                })
                .filter(|(d, longer)| *d > 0 && d * 2 <= *longer)
                .min_by_key(|(d, _)| *d)
                .map(|(d, _)| (d, raw))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, raw)| raw.clone())
}

#[cfg(test)]
mod tests {
    use model::schema::table;

    use super::*;

    #[test]
    fn edit_distance_counts_characters() {
        assert_eq!(edit_distance("支部代号", "支部代码"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn the_closest_header_is_named_only_when_it_is_close() {
        let meetings = table("meetings").expect("meetings");
        let headers = ["开会那天".to_string(), "支部代号".to_string()];
        assert_eq!(
            closest_header(meetings, "branch_id", &headers).as_deref(),
            Some("支部代号")
        );
        assert_eq!(closest_header(meetings, "theme", &headers), None);
    }
}
