//! Why a row was rejected or a value not stored: one variant per reason ingest gives. The
//! `Display` text is what the warehouse's `_issues` table stores and the CLI prints, so a
//! change to it changes every stored message and the golden fixtures' expected issues.

use std::fmt;
use std::sync::Arc;

use model::schema::EnumValue;

use crate::values::{DecimalError, format_cents};

/// The reason of one [`crate::Issue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A header naming a column another header of the file names better (or first); that one
    /// is read.
    SecondColumn {
        /// The table column both headers name.
        column: &'static str,
        /// The header that is read.
        read: String,
    },
    /// A header that names no column of the table the file holds.
    UnknownColumn {
        /// The table the file holds.
        table: &'static str,
        /// Its Chinese name.
        zh: &'static str,
    },
    /// A cell with bytes that are not valid in the file's detected encoding.
    Undecodable {
        /// The encoding detected for the file.
        encoding: &'static str,
    },
    /// A file whose lines do not all look like one encoding: it is read in the one most of its
    /// lines look like, and the rows of the other lines are rejected.
    MixedEncoding {
        /// The encoding the file is read in.
        chosen: &'static str,
        /// Lines that look like it.
        chosen_lines: usize,
        /// The other encoding.
        other: &'static str,
        /// Lines that look like the other encoding.
        other_lines: usize,
    },
    /// Bytes that are valid in the file's encoding but spell no text a county file holds
    /// there, and read as Chinese in the other: a row pasted from a file in another encoding.
    OtherEncoding {
        /// The encoding the file is read in.
        encoding: &'static str,
        /// The encoding the bytes look like.
        other: &'static str,
    },
    /// A quote that opens a field and never closes: the record is rejected and reading goes on
    /// at the next line.
    UnclosedQuote {
        /// The line of the quote.
        line: u64,
        /// Its column, in characters from 1.
        column: usize,
    },
    /// A carriage return typed inside an unquoted cell ended the row early: the rest of the
    /// row is on the next line, which does not read as a row of its own.
    SplitByCarriageReturn {
        /// The line holding the rest of the row.
        next_line: u64,
    },
    /// An Excel formula cell saved without its value (written by a tool that does not
    /// calculate).
    FormulaWithoutValue,
    /// A number beyond 15 significant digits in a text column: Excel kept only 15 of them.
    LostDigits,
    /// A merged region of a sheet: its value is read into every cell of the region.
    MergedCells {
        /// The region, e.g. `A5:A9`.
        range: String,
    },
    /// A row with no values at all.
    EmptyRow,
    /// A date with a time of day other than midnight: the date is stored, the time is not.
    TimeOfDay {
        /// The time as `08:30` or `08:30:15`.
        time: String,
    },
    /// An Excel error cell such as `#N/A`.
    ExcelError {
        /// The error as Excel shows it.
        error: String,
    },
    /// A row with another number of fields than the header.
    FieldCount {
        /// Fields in the row.
        fields: usize,
        /// Fields in the header.
        header: usize,
    },
    /// A required column the file does not have.
    MissingColumn {
        /// The column.
        column: &'static str,
        /// Its Chinese name.
        zh: &'static str,
        /// The file's unknown header that looks most like it, if one is close.
        closest: Option<String>,
    },
    /// An empty cell in a required column.
    MissingRequired {
        /// The column.
        column: &'static str,
        /// Its Chinese name.
        zh: &'static str,
    },
    /// Text in a whole-number column that is not a whole number.
    NotAWholeNumber,
    /// A whole number outside its column's range.
    OutOfRange {
        /// The smallest value allowed.
        min: i64,
        /// The largest value allowed; `i64::MAX` for no limit.
        max: i64,
    },
    /// Text in a decimal column that is not a number with at most two places.
    NotADecimal(DecimalError),
    /// Text in a date column that is no date form ingest reads.
    NotADate,
    /// A date before 1900 or after 2100.
    DateOutOfRange,
    /// Text in a yes/no column that is no yes/no spelling; the default is stored.
    NotABool {
        /// The column's default, stored instead.
        default: bool,
    },
    /// Text in an enumerated column that spells none of its values.
    NotOneOf(Choices),
    /// Text in a period column that is no period.
    NotAPeriod,
    /// Text in a month column that is no month.
    NotAMonth,
    /// An ID number that does not have 18 ASCII characters.
    IdNumberLength {
        /// Characters it has.
        chars: usize,
    },
    /// An ID number whose first 17 characters are not all digits.
    IdNumberNotDigits,
    /// An ID number whose check digit is not the one GB 11643 gives.
    IdNumberCheckDigit {
        /// The check digit GB 11643 gives.
        expected: char,
        /// The last character of the number.
        found: char,
    },
    /// A bad value in an optional column: the row is loaded without it.
    KeptWithoutValue(Box<Reason>),
    /// A visit that resolved more issues than it raised.
    MoreResolvedThanRaised {
        /// Issues resolved.
        resolved: i64,
        /// Issues raised.
        raised: i64,
    },
    /// A score for an indicator the tenant's rules do not have.
    UnknownIndicator {
        /// The tenant's indicators, in the rules' order.
        indicators: Vec<String>,
    },
    /// A score outside 0 and its indicator's maximum.
    ScoreOutOfRange {
        /// The score, in hundredths.
        score: i128,
        /// The indicator's maximum, in hundredths.
        max: i128,
        /// The indicator.
        indicator: String,
    },
    /// An id that was cleaned: invisible characters removed, full-width forms or unusual
    /// spaces folded. The row is loaded with the cleaned id.
    KeyCleaned {
        /// The id stored.
        stored: String,
        /// Invisible characters removed.
        removed: Vec<char>,
        /// Characters folded to their plain form.
        folded: Vec<char>,
    },
    /// An id with a character no one can type (a control character, a private-use one, …).
    KeyCharacter {
        /// The character.
        ch: char,
        /// Its position in the cell, from 1.
        position: usize,
    },
    /// An id with nothing left once its invisible characters are removed.
    KeyOnlyInvisible {
        /// The invisible characters it held.
        removed: Vec<char>,
    },
    /// A key that is another row's key once both are cleaned, written differently; the first
    /// row is kept.
    KeyCollision {
        /// The key's columns.
        columns: &'static [&'static str],
        /// The key as this row writes it.
        written: String,
        /// The key as the first row writes it.
        first_written: String,
        /// The key both clean to.
        key: String,
        /// The file of the row kept.
        file: Arc<str>,
        /// Its line.
        line: u64,
    },
    /// A key written differently from the committed key it cleans to: the row replaces the
    /// committed one, as every reloaded key does.
    KeyMergesWithCommitted {
        /// The key as this row writes it.
        written: String,
        /// The committed key.
        key: String,
    },
    /// A primary key seen earlier in the load; the first row with it is kept.
    DuplicateKey {
        /// The key's columns.
        columns: &'static [&'static str],
        /// The file of the row kept.
        file: Arc<str>,
        /// Its line.
        line: u64,
    },
    /// A level-0 unit (the root) with a parent.
    RootWithParent,
    /// A second level-0 unit.
    SecondRoot {
        /// The root the grid already has.
        root: String,
    },
    /// A unit below level 0 without a parent.
    NoParent {
        /// The unit's level.
        level: i64,
    },
    /// A unit whose parent is not exactly one level up.
    ParentLevel {
        /// The parent.
        parent: String,
        /// The parent's level.
        parent_level: i64,
        /// The unit's level.
        level: i64,
    },
    /// A unit whose parent is neither in the load nor in the warehouse.
    ParentMissing {
        /// The parent.
        parent: String,
    },
    /// A unit whose parent was rejected in this load.
    ParentRejected {
        /// The parent.
        parent: String,
        /// Where and why the parent was rejected.
        rejection: Box<Rejection>,
    },
    /// A reference to a row neither in the load nor in the warehouse.
    NotInTable {
        /// The table referred to.
        table: &'static str,
        /// The key referred to.
        value: String,
    },
    /// A unit whose chain of parents leads back to itself.
    GridCycle {
        /// The unit, its parent, its parent's parent, … back to the unit.
        path: Vec<String>,
    },
    /// A committed row whose key is not in this snapshot load's list of its table: removed.
    AbsentFromSnapshot {
        /// The table the snapshot replaces.
        table: &'static str,
    },
    /// A committed row that points at a row removed by this snapshot load: removed with it.
    RemovedWith {
        /// The table of the removed row.
        table: &'static str,
        /// Its key.
        value: String,
    },
    /// A committed row whose optional reference points at a row removed by this snapshot
    /// load: the reference is cleared and the row kept.
    ReferenceCleared {
        /// The table of the removed row.
        table: &'static str,
        /// Its key.
        value: String,
        /// The key of the row that keeps living without the reference.
        row: String,
    },
    /// A row of this load that points at a row this snapshot load removes.
    ReferenceRemoved {
        /// The table of the removed row.
        table: &'static str,
        /// Its key.
        value: String,
    },
    /// A reference to a row that was rejected in this load.
    ReferenceRejected {
        /// The table referred to.
        table: &'static str,
        /// The key referred to.
        value: String,
        /// Where and why that row was rejected.
        rejection: Box<Rejection>,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::SecondColumn { column, read } => write!(
                f,
                "a second column for {column}; the column headed '{read}' is read and this one ignored"
            ),
            Reason::UnknownColumn { table, zh } => {
                write!(f, "not a column of {table} ({zh}); ignored")
            }
            Reason::Undecodable { encoding } => write!(
                f,
                "bytes that are not valid {encoding}, the encoding detected for this file; fix this cell or re-save the file"
            ),
            Reason::MixedEncoding {
                chosen,
                chosen_lines,
                other,
                other_lines,
            } => write!(
                f,
                "the file is read as {chosen}: {chosen_lines} lines look like {chosen} and {other_lines} like {other}, whose rows are rejected"
            ),
            Reason::OtherEncoding { encoding, other } => write!(
                f,
                "bytes that read as {encoding} spell no Chinese text but look like {other}: a row pasted from a {other} file; re-type it or re-save it as {encoding}"
            ),
            Reason::UnclosedQuote { line, column } => write!(
                f,
                "unclosed quote opened at line {line}, column {column}; reading goes on at the next line"
            ),
            Reason::SplitByCarriageReturn { next_line } => write!(
                f,
                "a carriage return (CR) inside a cell ends this row early; the rest of it is on line {next_line}: put the cell in quotes or remove the CR"
            ),
            Reason::FormulaWithoutValue => f.write_str(
                "formula without a saved value; open the file in Excel/WPS and save it",
            ),
            Reason::LostDigits => f.write_str(
                "a number of more than 15 digits, of which Excel keeps only 15: the last digits are lost; format the column as text and type the value again",
            ),
            Reason::MergedCells { range } => write!(
                f,
                "merged cells {range}: the value is read into every cell of the region"
            ),
            Reason::EmptyRow => f.write_str("a row with no values"),
            Reason::TimeOfDay { time } => write!(f, "time of day {time} not stored"),
            Reason::ExcelError { error } => write!(f, "Excel error cell {error}"),
            Reason::FieldCount { fields, header } => write!(
                f,
                "the row has {fields} fields but the header has {header}"
            ),
            Reason::MissingColumn {
                column,
                zh,
                closest: None,
            } => write!(
                f,
                "the file has no column {column} ({zh}), which is required"
            ),
            Reason::MissingColumn {
                column,
                zh,
                closest: Some(header),
            } => write!(
                f,
                "required column {zh} ({column}) is missing; the file's header `{header}` looks closest — add it to the tenant's header map with `gridassess headers set`"
            ),
            Reason::MissingRequired { column, zh } => {
                write!(f, "{column} ({zh}) is required but empty")
            }
            Reason::NotAWholeNumber => f.write_str("not a whole number"),
            Reason::OutOfRange { min, max } if *max == i64::MAX => {
                write!(f, "must be {min} or more")
            }
            Reason::OutOfRange { min, max } => write!(f, "must be between {min} and {max}"),
            Reason::NotADecimal(why) => write!(
                f,
                "{why} (expected a number with at most two decimal places)"
            ),
            Reason::NotADate => f.write_str(
                "not a date (expected 2024-05-05, 2024/5/5, 2024年5月5日 or an Excel date)",
            ),
            Reason::DateOutOfRange => f.write_str("a date outside 1900–2100"),
            Reason::NotABool { default } => write!(
                f,
                "not a yes/no value (expected 是/否, Y/N, true/false or 1/0); stored as the default, {}",
                if *default { "是" } else { "否" }
            ),
            Reason::NotOneOf(choices) => write!(f, "not one of: {choices}"),
            Reason::NotAPeriod => f.write_str(
                "not a period (expected 2024-B3, 2024-Q2, 2024-M05, 2024-H1, 2024年第3季度 or 2024年1-2月)",
            ),
            Reason::NotAMonth => f.write_str("not a month (expected 2024-05 or 2024年5月)"),
            Reason::IdNumberLength { chars } => {
                write!(f, "an ID number has 18 characters, this has {chars}")
            }
            Reason::IdNumberNotDigits => {
                f.write_str("the first 17 characters of an ID number must be digits")
            }
            Reason::IdNumberCheckDigit { expected, found } => write!(
                f,
                "the check digit is wrong (GB 11643 gives {expected}, the number ends in {found})"
            ),
            Reason::KeptWithoutValue(why) => {
                write!(f, "{why}; the row is kept without this value")
            }
            Reason::MoreResolvedThanRaised { resolved, raised } => write!(
                f,
                "more issues resolved ({resolved}) than raised ({raised})"
            ),
            Reason::UnknownIndicator { indicators } => write!(
                f,
                "not one of the tenant's indicators ({})",
                indicators.join(", ")
            ),
            Reason::ScoreOutOfRange {
                score,
                max,
                indicator,
            } => write!(
                f,
                "score {} is outside 0–{} for {indicator}",
                format_cents(*score),
                format_cents(*max)
            ),
            Reason::KeyCleaned {
                stored,
                removed,
                folded,
            } => {
                write!(f, "the id is stored as '{stored}'")?;
                if !removed.is_empty() {
                    write!(f, "; removed invisible {}", char_list(removed))?;
                }
                if !folded.is_empty() {
                    write!(f, "; folded full-width {} to half-width", char_list(folded))?;
                }
                Ok(())
            }
            Reason::KeyCharacter { ch, position } => write!(
                f,
                "{} at position {position} cannot be part of an id ({}); retype the id",
                char_name(*ch),
                char_class(*ch)
            ),
            Reason::KeyOnlyInvisible { removed } if removed.is_empty() => {
                f.write_str("the id is only spaces")
            }
            Reason::KeyOnlyInvisible { removed } => write!(
                f,
                "the id is only invisible characters ({}); nothing is left of it",
                char_list(removed)
            ),
            Reason::KeyCollision {
                columns,
                written,
                first_written,
                key,
                file,
                line,
            } => write!(
                f,
                "duplicate key ({}) after cleaning: '{}' here and '{}' at {file} line {line} are both '{}'; the first occurrence is kept",
                columns.join(", "),
                visible(written),
                visible(first_written),
                visible(key)
            ),
            Reason::KeyMergesWithCommitted { written, key } => write!(
                f,
                "'{}' is the key '{}' already in the warehouse once cleaned; this row replaces that one",
                visible(written),
                visible(key)
            ),
            Reason::DuplicateKey {
                columns,
                file,
                line,
            } => write!(
                f,
                "duplicate key ({}); the first occurrence, {file} line {line}, is kept",
                columns.join(", ")
            ),
            Reason::RootWithParent => f.write_str(
                "a level-0 unit is the root (the county) and cannot have a parent",
            ),
            Reason::SecondRoot { root } => write!(
                f,
                "a second root: the grid already has the level-0 unit '{root}'"
            ),
            Reason::NoParent { level } => write!(
                f,
                "a level-{level} unit needs a parent; only the level-0 root has none"
            ),
            Reason::ParentLevel {
                parent,
                parent_level,
                level,
            } => write!(
                f,
                "parent '{parent}' is at level {parent_level}; a level-{level} unit's parent must be at level {}",
                level - 1
            ),
            Reason::ParentMissing { parent } => write!(
                f,
                "parent '{parent}' is not in grid_units, in this load or the warehouse"
            ),
            Reason::ParentRejected { parent, rejection } => {
                write!(f, "parent '{parent}' was rejected ({rejection})")
            }
            Reason::NotInTable { table, value } => write!(
                f,
                "'{value}' is not in {table}, in this load or the warehouse"
            ),
            Reason::GridCycle { path } => write!(
                f,
                "a cycle of parents: {}; a unit cannot sit under itself or under one of its own units",
                path.join(" → ")
            ),
            Reason::AbsentFromSnapshot { table } => write!(
                f,
                "not in this load's full list of {table}; removed from the warehouse"
            ),
            Reason::RemovedWith { table, value } => write!(
                f,
                "{table} '{value}' is removed by this snapshot load; removed with it"
            ),
            Reason::ReferenceCleared { table, value, row } => write!(
                f,
                "{table} '{value}' is removed by this snapshot load; row '{row}' is kept without the reference"
            ),
            Reason::ReferenceRemoved { table, value } => write!(
                f,
                "{table} '{value}' is removed by this snapshot load (it is not in the load's full list of {table})"
            ),
            Reason::ReferenceRejected {
                table,
                value,
                rejection,
            } => write!(
                f,
                "{table} '{value}' was rejected in this load ({rejection})"
            ),
        }
    }
}

/// A character as a person can identify it: `U+200B (zero-width space)`.
fn char_name(c: char) -> String {
    let name = match c {
        '\u{FEFF}' => "byte-order mark",
        '\u{200B}' => "zero-width space",
        '\u{200C}' => "zero-width non-joiner",
        '\u{200D}' => "zero-width joiner",
        '\u{200E}' | '\u{200F}' => "direction mark",
        '\u{2060}' => "word joiner",
        '\u{00AD}' => "soft hyphen",
        '\u{3000}' => "ideographic space",
        '\u{00A0}' => "no-break space",
        '\t' => "tab",
        '\n' | '\r' => "line break",
        '\u{FFFD}' => "replacement character",
        _ => "",
    };
    let code = format!("U+{:04X}", c as u32);
    if !name.is_empty() {
        format!("{code} ({name})")
    } else if crate::clean::cannot_be_typed(c) || crate::clean::is_invisible(c) || c.is_whitespace()
    {
        // Shown, it would be nothing, or a box that depends on the font.
        code
    } else {
        format!("'{c}' {code}")
    }
}

/// Why a character cannot be part of an id.
fn char_class(c: char) -> &'static str {
    let u = c as u32;
    if c.is_control() {
        "a control character"
    } else if (0xE000..=0xF8FF).contains(&u) || u >= 0xF0000 {
        "a private-use character, which only one font or input method shows"
    } else if c == '\u{FFFD}' {
        "it marks bytes that could not be decoded"
    } else if matches!(c, '\u{2028}' | '\u{2029}') {
        "a line break"
    } else {
        "not a character"
    }
}

fn char_list(chars: &[char]) -> String {
    chars
        .iter()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => format!("'{c}'"),
            _ => char_name(*c),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Text with its invisible and control characters shown as `<U+200B>`, so that two spellings
/// that look alike can be told apart in a message.
pub(crate) fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if crate::clean::is_invisible(c) || crate::clean::cannot_be_typed(c) {
            out.push_str(&format!("<U+{:04X}>", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The values of an enumerated column, shown as a person may write them: `正式 (formal)`.
#[derive(Debug, Clone, Copy)]
pub struct Choices(pub &'static [EnumValue]);

impl PartialEq for Choices {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(other.0)
                .all(|(a, b)| a.canonical == b.canonical)
    }
}

impl Eq for Choices {}

impl fmt::Display for Choices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match v.spellings.first() {
                Some(zh) if *zh != v.canonical => write!(f, "{zh} ({})", v.canonical)?,
                _ => f.write_str(v.canonical)?,
            }
        }
        Ok(())
    }
}

/// The first rejection of a row: the column at fault (none for a row that could not be read)
/// and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// The column, or the key's columns joined by `, `.
    pub column: Option<String>,
    /// Why.
    pub reason: Reason,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "{column}: {}", self.reason),
            None => write!(f, "{}", self.reason),
        }
    }
}

/// Where a row rejected in this load came from and why, to explain the rejections it causes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The row's file.
    pub file: Arc<str>,
    /// The row's line.
    pub line: u64,
    /// Its first rejection, when one was recorded.
    pub cause: Option<Cause>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}: ", self.file, self.line)?;
        match &self.cause {
            Some(cause) => write!(f, "{cause}"),
            None => f.write_str("rejected"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_the_ones_stored_in_the_issues_table() {
        assert_eq!(
            Reason::IdNumberCheckDigit {
                expected: '4',
                found: '0'
            }
            .to_string(),
            "the check digit is wrong (GB 11643 gives 4, the number ends in 0)"
        );
        assert_eq!(
            Reason::KeptWithoutValue(Box::new(Reason::OutOfRange {
                min: 0,
                max: i64::MAX
            }))
            .to_string(),
            "must be 0 or more; the row is kept without this value"
        );
        assert_eq!(
            Reason::OutOfRange { min: 0, max: 5 }.to_string(),
            "must be between 0 and 5"
        );
    }
}
