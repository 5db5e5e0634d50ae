//! A tenant's own header map (`headers.toml`): the headers of a county's files that no built-in
//! spelling knows, each naming a column of a table. It is kept per tenant and used by every
//! later load, before the built-in spellings.
//!
//! ```toml
//! [meetings]            # a table, in English or Chinese (组织生活)
//! "承办支部" = "branch_id" # the header as the county writes it = a column (or its 中文 name)
//! ```

use std::collections::BTreeMap;

use toml::Spanned;

use crate::schema::{TABLES, TableDef, normalize_header, table_for_name};

/// One header of a county's files and the column it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderEntry {
    /// The table (SPEC name).
    pub table: &'static str,
    /// The header as the map writes it.
    pub header: String,
    /// The column it names (SPEC name).
    pub column: &'static str,
    normalized: String,
}

/// A tenant's header map; empty when the tenant has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderMap {
    entries: Vec<HeaderEntry>,
}

/// Why a header map was refused, with the 1-based line at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name} line {line}: {message}")]
pub struct HeaderMapError {
    /// The file the map came from.
    pub source_name: String,
    /// The line at fault, from 1.
    pub line: usize,
    /// What is wrong there.
    pub message: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

type Tables = BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, Spanned<String>>>;

fn column_names(table: &TableDef) -> String {
    table
        .columns
        .iter()
        .map(|c| format!("{} ({})", c.name, c.zh))
        .collect::<Vec<_>>()
        .join(", ")
}

impl HeaderMap {
    /// Parses and validates a header map; `source_name` names it in errors. A table or column
    /// the schema does not have, and a header listed twice for one table, are errors.
    pub fn parse(text: &str, source_name: &str) -> Result<HeaderMap, HeaderMapError> {
        let err = |offset: usize, message: String| HeaderMapError {
            source_name: source_name.to_string(),
            line: line_of(text, offset),
            message,
        };
        let tables: Tables = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            let mut message = e.message().trim().to_string();
            if message.contains("unquoted key") {
                // TOML names without quotes may only be ASCII: the usual slip with Chinese.
                message.push_str(
                    "; put Chinese table names and headers in double quotes: [\"组织生活\"] and \"支部代码\" = \"branch_id\"",
                );
            }
            err(offset, message)
        })?;
        // In the order of the file, so that the first mistake is the one reported.
        let mut tables: Vec<_> = tables.iter().collect();
        tables.sort_by_key(|(t, _)| t.span().start);
        let mut entries: Vec<HeaderEntry> = Vec::new();
        for (table_name, headers) in tables {
            let Some(table) = table_for_name(table_name.get_ref()) else {
                let known: Vec<String> = TABLES
                    .iter()
                    .map(|t| format!("{} ({})", t.name, t.zh))
                    .collect();
                return Err(err(
                    table_name.span().start,
                    format!(
                        "'{}' is not a table; the tables are {}",
                        table_name.get_ref(),
                        known.join(", ")
                    ),
                ));
            };
            let mut headers: Vec<_> = headers.iter().collect();
            headers.sort_by_key(|(h, _)| h.span().start);
            for (header, column) in headers {
                let normalized = normalize_header(header.get_ref());
                if normalized.is_empty() {
                    return Err(err(header.span().start, "an empty header".into()));
                }
                let wanted = column.get_ref().trim();
                let Some(def) = table
                    .columns
                    .iter()
                    .find(|c| c.name == wanted || c.zh == wanted)
                else {
                    return Err(err(
                        column.span().start,
                        format!(
                            "{} ({}) has no column '{}'; its columns are {}",
                            table.name,
                            table.zh,
                            column.get_ref(),
                            column_names(table)
                        ),
                    ));
                };
                if let Some(before) = entries
                    .iter()
                    .find(|e| e.table == table.name && e.normalized == normalized)
                {
                    return Err(err(
                        header.span().start,
                        format!(
                            "header '{}' of {} is already mapped (as '{}' to {})",
                            header.get_ref(),
                            table.name,
                            before.header,
                            before.column
                        ),
                    ));
                }
                entries.push(HeaderEntry {
                    table: table.name,
                    header: header.get_ref().clone(),
                    column: def.name,
                    normalized,
                });
            }
        }
        Ok(HeaderMap { entries })
    }

    /// The column of `table` that `header` (as written in a file) names in this map.
    pub fn column_for(&self, table: &str, header: &str) -> Option<&'static str> {
        let h = normalize_header(header);
        self.entries
            .iter()
            .find(|e| e.table == table && e.normalized == h)
            .map(|e| e.column)
    }

    /// Every header of the map, in table order then as written.
    pub fn entries(&self) -> &[HeaderEntry] {
        &self.entries
    }

    /// Whether the map has no header.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_columns_in_english_or_chinese() {
        let map = HeaderMap::parse(
            "[meetings]\n\"承办支部\" = \"branch_id\"\n[\"党员\"]\n\"人员代号\" = \"党员编号\"\n",
            "headers.toml",
        )
        .unwrap();
        assert_eq!(map.column_for("meetings", " 承办支部 "), Some("branch_id"));
        assert_eq!(map.column_for("members", "人员代号"), Some("member_id"));
        assert_eq!(map.column_for("members", "承办支部"), None);
    }

    #[test]
    fn an_unknown_table_or_column_names_its_line() {
        let e =
            HeaderMap::parse("[meetings]\n\"a\" = \"held_on\"\n[meeting]\n", "h.toml").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("'meeting' is not a table"), "{e}");
        let e = HeaderMap::parse(
            "[meetings]\n\"a\" = \"held_on\"\n\"b\" = \"when\"\n",
            "h.toml",
        )
        .unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("has no column 'when'"), "{e}");
        let e = HeaderMap::parse(
            "[meetings]\n\"Ａ\" = \"held_on\"\n\"a\" = \"kind\"\n",
            "h.toml",
        )
        .unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let e = HeaderMap::parse("[组织生活]\n", "h.toml").unwrap_err();
        assert!(e.message.contains("in double quotes"), "{e}");
    }
}
