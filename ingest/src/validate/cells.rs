//! Each cell against its column's type: one loop over the cells of a column checks empty and
//! required cells the same way for every type, and a parser per column type turns the
//! non-empty text into the values of the column's Arrow array. Free text is stored as
//! written; ids are cleaned per character class, each change reported on its cell.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder,
    RecordBatch, StringArray, StringBuilder,
};
use arrow::error::ArrowError;
use chrono::Datelike;
use model::schema::{ColumnType, DECIMAL_PRECISION, DECIMAL_SCALE, EnumValue, id_check_char};
use model::{Month, Period};

use super::RowIssues;
use crate::clean::{CleanColumn, clean_key};
use crate::issue::Severity;
use crate::reason::{Choices, Reason};
use crate::source::RawTable;
use crate::values::{parse_bool, parse_cents, parse_date, parse_whole_number};

/// How one column type turns cleaned, non-empty text into the values of its Arrow column.
trait CellParser {
    /// Parses cell `row`, whose cleaned text is `text`, and appends its value. On an error
    /// nothing is appended: the caller reports the reason and appends [`Self::push_none`].
    fn push(&mut self, row: usize, text: &str) -> Result<(), Reason>;

    /// Appends the value of a cell that has none: null, or the column's default.
    fn push_none(&mut self);

    /// Whether [`Self::push_none`] appends a default. An empty cell of such a column is not
    /// missing, and a bad one is stored as the default with a warning, required or not.
    fn has_default(&self) -> bool {
        false
    }

    /// A warning about the value just pushed (a key that was cleaned), if any.
    fn take_warning(&mut self) -> Option<Reason> {
        None
    }

    fn finish(self) -> Result<ArrayRef, ArrowError>;
}

/// Types the cells of column `c`, reporting every cell that is missing or does not parse.
pub(super) fn typed_column(
    ri: &mut RowIssues,
    c: usize,
    clean: &CleanColumn,
) -> Result<ArrayRef, ArrowError> {
    let n = ri.raw.len();
    match &ri.raw.table.columns[c].ty {
        ColumnType::Text if ri.raw.table.is_key_column(ri.raw.table.columns[c].name) => {
            check_cells(ri, c, clean, KeyCells::new(n))
        }
        ColumnType::Text => check_cells(ri, c, clean, TextCells(Arc::new(clean.text.clone()))),
        ColumnType::Int { min, max } => {
            let parser = IntCells {
                min: *min,
                max: *max,
                values: Int64Builder::with_capacity(n),
            };
            check_cells(ri, c, clean, parser)
        }
        ColumnType::Decimal => {
            let parser = DecimalCells(Decimal128Builder::with_capacity(n));
            check_cells(ri, c, clean, parser)
        }
        ColumnType::Date => {
            let parser = DateCells {
                values: Date32Builder::with_capacity(n),
            };
            check_cells(ri, c, clean, parser)
        }
        ColumnType::Bool { default } => {
            let parser = BoolCells {
                default: *default,
                values: BooleanBuilder::with_capacity(n),
            };
            check_cells(ri, c, clean, parser)
        }
        ColumnType::Enum(values) => {
            let parser = EnumCells {
                spellings: spellings(values),
                choices: values,
                values: StringBuilder::with_capacity(n, n * 8),
            };
            check_cells(ri, c, clean, parser)
        }
        ColumnType::Period => check_cells(ri, c, clean, NormalizedCells::new(n, period)),
        ColumnType::Month => check_cells(ri, c, clean, NormalizedCells::new(n, month)),
        ColumnType::IdNumber => check_cells(ri, c, clean, NormalizedCells::new(n, id_number)),
    }
}

/// The rows whose primary key is written otherwise than it is stored (beyond surrounding
/// spaces): row → the key as written, its parts joined by `, `. Two such spellings that clean
/// to one key are reported with both ([`Reason::KeyCollision`]).
pub(super) fn written_keys(raw: &RawTable, batch: &RecordBatch) -> HashMap<usize, String> {
    let mut out = HashMap::new();
    let parts: Vec<(&StringArray, &StringArray)> = raw
        .table
        .primary_key
        .iter()
        .filter_map(|k| {
            let c = raw.table.column_index(k)?;
            Some((
                raw.cells[c].as_ref()?,
                batch.column(c).as_string_opt::<i32>()?,
            ))
        })
        .collect();
    if parts.len() != raw.table.primary_key.len() {
        return out;
    }
    for row in 0..raw.len() {
        let differs = parts.iter().any(|(cells, stored)| {
            stored.is_valid(row)
                && cells.is_valid(row)
                && cells.value(row).trim_matches(' ') != stored.value(row)
        });
        if differs {
            let written: Vec<&str> = parts
                .iter()
                .map(|(cells, _)| {
                    if cells.is_valid(row) {
                        cells.value(row)
                    } else {
                        ""
                    }
                })
                .collect();
            out.insert(row, written.join(", "));
        }
    }
    out
}

/// The one loop over a column's cells: an empty cell is missing when the column is required
/// (unless it has a default), a non-empty one goes to the type's parser, and a value that does
/// not parse rejects its row or, in an optional column, is dropped with a warning.
fn check_cells<P: CellParser>(
    ri: &mut RowIssues,
    c: usize,
    clean: &CleanColumn,
    mut parser: P,
) -> Result<ArrayRef, ArrowError> {
    let def = &ri.raw.table.columns[c];
    let text = &clean.text;
    for row in 0..ri.raw.len() {
        if text.is_null(row) {
            if def.required && !parser.has_default() {
                let reason = Reason::MissingRequired {
                    column: def.name,
                    zh: def.zh,
                };
                ri.report(row, def, None, reason, Severity::Rejected);
            }
            parser.push_none();
            continue;
        }
        match parser.push(row, text.value(row)) {
            Ok(()) => {
                if let Some(warning) = parser.take_warning() {
                    ri.report_value(c, row, warning, Severity::Warning);
                }
            }
            Err(reason) => {
                if parser.has_default() {
                    ri.report_value(c, row, reason, Severity::Warning);
                } else {
                    ri.bad(c, row, reason);
                }
                parser.push_none();
            }
        }
    }
    parser.finish()
}

/// Free text: any cleaned text is the value, so the column is the cleaned text itself.
struct TextCells(ArrayRef);

impl CellParser for TextCells {
    fn push(&mut self, _row: usize, _text: &str) -> Result<(), Reason> {
        Ok(())
    }

    fn push_none(&mut self) {}

    fn finish(self) -> Result<ArrayRef, ArrowError> {
        Ok(self.0)
    }
}

/// Ids, cleaned per character class by [`clean_key`]; a cleaned id carries a warning that
/// says what was removed or folded and what is stored.
struct KeyCells {
    values: StringBuilder,
    warning: Option<Reason>,
}

impl KeyCells {
    fn new(n: usize) -> Self {
        KeyCells {
            values: StringBuilder::with_capacity(n, n * 8),
            warning: None,
        }
    }
}

impl CellParser for KeyCells {
    fn push(&mut self, _row: usize, text: &str) -> Result<(), Reason> {
        let (key, changes) = clean_key(text)?;
        if !changes.is_empty() {
            self.warning = Some(Reason::KeyCleaned {
                stored: key.to_string(),
                removed: changes.removed,
                folded: changes.folded,
            });
        }
        self.values.append_value(key);
        Ok(())
    }

    fn push_none(&mut self) {
        self.values.append_null();
    }

    fn take_warning(&mut self) -> Option<Reason> {
        self.warning.take()
    }

    fn finish(mut self) -> Result<ArrayRef, ArrowError> {
        Ok(Arc::new(self.values.finish()))
    }
}

/// Whole numbers (a whole float such as `12.0` included), within the column's range.
struct IntCells {
    min: i64,
    max: i64,
    values: Int64Builder,
}

impl CellParser for IntCells {
    fn push(&mut self, _row: usize, text: &str) -> Result<(), Reason> {
        let Some(v) = parse_whole_number(text) else {
            return Err(Reason::NotAWholeNumber);
        };
        if !(self.min..=self.max).contains(&v) {
            return Err(Reason::OutOfRange {
                min: self.min,
                max: self.max,
            });
        }
        self.values.append_value(v);
        Ok(())
    }

    fn push_none(&mut self) {
        self.values.append_null();
    }

    fn finish(mut self) -> Result<ArrayRef, ArrowError> {
        Ok(Arc::new(self.values.finish()))
    }
}

/// Exact decimals with at most two places.
struct DecimalCells(Decimal128Builder);

impl CellParser for DecimalCells {
    fn push(&mut self, _row: usize, text: &str) -> Result<(), Reason> {
        let cents = parse_cents(text).map_err(Reason::NotADecimal)?;
        self.0.append_value(cents);
        Ok(())
    }

    fn push_none(&mut self) {
        self.0.append_null();
    }

    fn finish(mut self) -> Result<ArrayRef, ArrowError> {
        let array = self
            .0
            .finish()
            .with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)?;
        Ok(Arc::new(array))
    }
}

/// Dates in any of the county forms, from 1900 to 2100.
struct DateCells {
    values: Date32Builder,
}

impl CellParser for DateCells {
    fn push(&mut self, _row: usize, text: &str) -> Result<(), Reason> {
        // 1900-01-01 and 2100-12-31 as days since 1970-01-01.
        const FIRST: i32 = -25_567;
        const LAST: i32 = 47_482;
        let Some(date) = parse_date(text) else {
            return Err(Reason::NotADate);
        };
        let days = date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE;
        if !(FIRST..=LAST).contains(&days) {
            return Err(Reason::DateOutOfRange);
        }
        self.values.append_value(days);
        Ok(())
    }

    fn push_none(&mut self) {
        self.values.append_null();
    }

    fn finish(mut self) -> Result<ArrayRef, ArrowError> {
        Ok(Arc::new(self.values.finish()))
    }
}

/// Yes/no values; empty and unreadable cells hold the default.
struct BoolCells {
    default: bool,
    values: BooleanBuilder,
}

impl CellParser for BoolCells {
    fn push(&mut self, _row: usize, text: &str) -> Result<(), Reason> {
        let Some(v) = parse_bool(text) else {
            return Err(Reason::NotABool {
                default: self.default,
            });
        };
        self.values.append_value(v);
        Ok(())
    }

    fn push_none(&mut self) {
        self.values.append_value(self.default);
    }

    fn has_default(&self) -> bool {
        true
    }

    fn finish(mut self) -> Result<ArrayRef, ArrowError> {
        Ok(Arc::new(self.values.finish()))
    }
}

/// Canonical values of an enumeration, from any of its spellings in any case.
struct EnumCells {
    /// Lower-cased spelling → canonical value.
    spellings: HashMap<String, &'static str>,
    choices: &'static [EnumValue],
    values: StringBuilder,
}

impl CellParser for EnumCells {
    fn push(&mut self, _row: usize, text: &str) -> Result<(), Reason> {
        // A spelling found as written is already lower-case (every key is); only a miss pays
        // for lower-casing.
        let canonical = match self.spellings.get(text) {
            Some(c) => *c,
            None => *self
                .spellings
                .get(&text.to_lowercase())
                .ok_or(Reason::NotOneOf(Choices(self.choices)))?,
        };
        self.values.append_value(canonical);
        Ok(())
    }

    fn push_none(&mut self) {
        self.values.append_null();
    }

    fn finish(mut self) -> Result<ArrayRef, ArrowError> {
        Ok(Arc::new(self.values.finish()))
    }
}

/// Text stored in a normal form: periods, months, ID numbers.
struct NormalizedCells {
    normalize: fn(&str) -> Result<String, Reason>,
    values: StringBuilder,
}

impl NormalizedCells {
    fn new(n: usize, normalize: fn(&str) -> Result<String, Reason>) -> Self {
        NormalizedCells {
            normalize,
            values: StringBuilder::with_capacity(n, n * 8),
        }
    }
}

impl CellParser for NormalizedCells {
    fn push(&mut self, _row: usize, text: &str) -> Result<(), Reason> {
        self.values.append_value((self.normalize)(text)?);
        Ok(())
    }

    fn push_none(&mut self) {
        self.values.append_null();
    }

    fn finish(mut self) -> Result<ArrayRef, ArrowError> {
        Ok(Arc::new(self.values.finish()))
    }
}

/// Days from 0001-01-01 (day 1) to 1970-01-01, for Arrow's Date32.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The spellings of an enumeration, lower-cased, each with its canonical value; a spelling
/// two values share keeps the first value's meaning.
fn spellings(values: &'static [EnumValue]) -> HashMap<String, &'static str> {
    let mut map = BTreeMap::new();
    for v in values {
        map.entry(v.canonical.to_lowercase()).or_insert(v.canonical);
        for s in v.spellings {
            map.entry(s.to_lowercase()).or_insert(v.canonical);
        }
    }
    map.into_iter().collect()
}

fn period(s: &str) -> Result<String, Reason> {
    Period::parse(s)
        .map(|p| p.to_string())
        .ok_or(Reason::NotAPeriod)
}

fn month(s: &str) -> Result<String, Reason> {
    Month::parse(s)
        .map(|m| m.to_string())
        .ok_or(Reason::NotAMonth)
}

fn id_number(s: &str) -> Result<String, Reason> {
    let id = s.to_ascii_uppercase();
    if id.len() != 18 || !id.is_ascii() {
        return Err(Reason::IdNumberLength {
            chars: s.chars().count(),
        });
    }
    let found = char::from(id.as_bytes()[17]);
    match id_check_char(&id.as_bytes()[..17]) {
        None => Err(Reason::IdNumberNotDigits),
        Some(check) if found == check => Ok(id),
        Some(check) => Err(Reason::IdNumberCheckDigit {
            expected: check,
            found,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers_are_upper_cased_and_their_check_digit_verified() {
        let valid = "43028119800101991";
        let check = id_check_char(valid.as_bytes()).expect("digits");
        let wrong = if check == '0' { '1' } else { '0' };
        assert_eq!(
            id_number(&format!("{valid}{}", check.to_ascii_lowercase())),
            Ok(format!("{valid}{check}"))
        );
        assert_eq!(
            id_number(&format!("{valid}{wrong}")),
            Err(Reason::IdNumberCheckDigit {
                expected: check,
                found: wrong
            })
        );
        assert_eq!(
            id_number("4302811980"),
            Err(Reason::IdNumberLength { chars: 10 })
        );
        assert_eq!(
            id_number("43028119800101９９１X"),
            Err(Reason::IdNumberLength { chars: 18 })
        );
        assert_eq!(
            id_number("4302811980010199AX"),
            Err(Reason::IdNumberNotDigits)
        );
    }
}
