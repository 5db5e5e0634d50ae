//! Cleaning with Polars, by what a column holds (SPEC §2):
//! - free text (names, themes, reasons) is kept exactly as written; only a cell of nothing but
//!   white space becomes null;
//! - keys (ids) are kept as written here too, and cleaned per character by [`clean_key`] when
//!   validation types them, so that every change can be reported on its cell;
//! - every other column (enumerations, numbers, dates, periods, …) is trimmed, full-width ASCII
//!   is folded to half-width and empty text becomes null; then whole numbers, dates, booleans
//!   and enumerations are parsed column at a time. A cell that had text but did not parse comes
//!   back as null beside its cleaned text, which is how validation finds it and reports the
//!   original value.

use std::borrow::Cow;
use std::collections::BTreeMap;

use arrow::array::{ArrayRef, make_array};
use arrow::compute::cast;
use arrow::datatypes::DataType as ArrowType;
use model::schema::{ColumnType, EnumValue};
use polars::prelude::*;

use crate::error::IngestError;
use crate::reason::Reason;
use crate::source::RawTable;

/// A column after cleaning, as arrow-rs arrays of the raw table's length.
#[derive(Debug)]
pub(crate) struct CleanColumn {
    /// The text: as written for free text and keys, trimmed and half-width for the other
    /// columns; null for empty cells.
    pub(crate) text: ArrayRef,
    /// The parsed value for whole numbers, dates, booleans and enumerations; null where the
    /// text did not parse.
    pub(crate) parsed: Option<ArrayRef>,
}

/// Date forms a county file uses. A bare number is none of them (`2024` is a year, not day
/// 2024 of Excel's calendar): Excel serial days exist only in workbook number cells, and the
/// workbook reader turns those into dates.
pub(crate) const DATE_FORMATS: &[&str] =
    &["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y.%m.%d", "%Y%m%d"];

/// The same dates with a time of day, as spreadsheets and databases export them. The date is
/// stored; the reader reports a time other than midnight as not stored.
pub(crate) const DATE_TIME_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
];

const BOOLEAN_SPELLINGS: &[(&str, bool)] = &[
    ("是", true),
    ("否", false),
    ("y", true),
    ("n", false),
    ("yes", true),
    ("no", false),
    ("true", true),
    ("false", false),
    ("1", true),
    ("0", false),
];

fn full_width_folding() -> (Expr, Expr) {
    let mut from: Vec<String> = (0xFF01u32..=0xFF5E)
        .filter_map(char::from_u32)
        .map(String::from)
        .collect();
    let mut to: Vec<String> = (0x21u32..=0x7E)
        .filter_map(char::from_u32)
        .map(String::from)
        .collect();
    from.push("\u{3000}".into());
    to.push(" ".into());
    (
        lit(Series::new("from".into(), from)).implode(false),
        lit(Series::new("to".into(), to)).implode(false),
    )
}

fn null_of(dtype: DataType) -> Expr {
    lit(NULL).cast(dtype)
}

/// trim + full-width → half-width + empty → null.
fn normalized(c: Expr) -> Expr {
    let (from, to) = full_width_folding();
    let text = c
        .str()
        .replace_many(from, to, false, false)
        .str()
        .strip_chars(lit(NULL));
    when(text.clone().str().len_bytes().eq(lit(0u32)))
        .then(null_of(DataType::String))
        .otherwise(text)
}

/// Text as written; null when the cell is nothing but white space.
fn as_written(c: Expr) -> Expr {
    when(
        c.clone()
            .str()
            .strip_chars(lit(NULL))
            .str()
            .len_bytes()
            .eq(lit(0u32)),
    )
    .then(null_of(DataType::String))
    .otherwise(c)
}

/// What [`clean_key`] changed in a key, for the warning on its cell.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct KeyChanges {
    /// Invisible characters removed.
    pub(crate) removed: Vec<char>,
    /// Full-width characters and unusual spaces folded to their plain form.
    pub(crate) folded: Vec<char>,
}

impl KeyChanges {
    pub(crate) fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.folded.is_empty()
    }
}

/// Invisible format characters that come with copied and pasted ids: the BOM, zero-width
/// spaces and joiners, the word joiner, direction marks and the like (Unicode Cf). They are
/// never part of an id someone typed.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// The plain form of a full-width ASCII character (Ａ → A) or of a space other than the ASCII
/// one (the ideographic space, no-break spaces, typographic spaces).
pub(crate) fn folded(c: char) -> Option<char> {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0),
        '\u{3000}' | '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' => Some(' '),
        _ => None,
    }
}

/// Characters no one can type as part of an id: control characters (a tab or line break
/// included), line and paragraph separators, private-use characters, noncharacters, and
/// U+FFFD, which a failed decoding leaves behind.
pub(crate) fn cannot_be_typed(c: char) -> bool {
    let u = c as u32;
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FFFD}')
        || (0xE000..=0xF8FF).contains(&u)
        || u >= 0xF0000
        || (0xFDD0..=0xFDEF).contains(&u)
        || (u & 0xFFFE) == 0xFFFE
}

/// Cleans one key (an id) per character class, as the README's table says: surrounding ASCII
/// spaces are trimmed; invisible characters are removed and full-width forms and unusual spaces
/// folded, and both are returned so the cell gets a warning; a character that cannot be typed
/// is an error naming it and its position (from 1). An id with nothing left is an error too.
pub(crate) fn clean_key(raw: &str) -> Result<(Cow<'_, str>, KeyChanges), Reason> {
    // Almost every id is plain ASCII: take it as it is.
    if raw.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        let key = raw.trim_matches(' ');
        if key.is_empty() {
            return Err(Reason::KeyOnlyInvisible {
                removed: Vec::new(),
            });
        }
        return Ok((Cow::Borrowed(key), KeyChanges::default()));
    }
    let mut key = String::with_capacity(raw.len());
    let mut changes = KeyChanges::default();
    for (i, c) in raw.chars().enumerate() {
        if is_invisible(c) {
            changes.removed.push(c);
        } else if let Some(plain) = folded(c) {
            changes.folded.push(c);
            key.push(plain);
        } else if cannot_be_typed(c) {
            return Err(Reason::KeyCharacter {
                ch: c,
                position: i + 1,
            });
        } else {
            key.push(c);
        }
    }
    let trimmed = key.trim_matches(' ');
    if trimmed.is_empty() {
        return Err(Reason::KeyOnlyInvisible {
            removed: changes.removed,
        });
    }
    Ok((Cow::Owned(trimmed.to_string()), changes))
}

fn enum_mapping(values: &[EnumValue]) -> (Vec<String>, Vec<String>) {
    // Lower-cased spellings → canonical value; BTreeMap keeps the first meaning of a spelling.
    let mut map = BTreeMap::new();
    for v in values {
        map.entry(v.canonical.to_lowercase())
            .or_insert_with(|| v.canonical.to_string());
        for s in v.spellings {
            map.entry(s.to_lowercase())
                .or_insert_with(|| v.canonical.to_string());
        }
    }
    map.into_iter().unzip()
}

fn parse_expr(ty: &ColumnType, text: Expr) -> Option<Expr> {
    match ty {
        ColumnType::Int { .. } => {
            let as_float = text.clone().cast(DataType::Float64);
            // "12.0" (a number a spreadsheet wrote as a float) is the whole number 12.
            let truncated = as_float.clone().cast(DataType::Int64);
            let whole_float = when(truncated.clone().cast(DataType::Float64).eq(as_float))
                .then(truncated)
                .otherwise(null_of(DataType::Int64));
            Some(coalesce(&[text.cast(DataType::Int64), whole_float]))
        }
        ColumnType::Date => {
            let options = |format: &str| StrptimeOptions {
                format: Some(format.into()),
                strict: false,
                exact: true,
                cache: true,
            };
            let dates = DATE_FORMATS
                .iter()
                .map(|f| text.clone().str().to_date(options(f)));
            let date_times = DATE_TIME_FORMATS.iter().map(|f| {
                text.clone()
                    .str()
                    .to_datetime(Some(TimeUnit::Microseconds), None, options(f), lit("raise"))
                    .dt()
                    .date()
            });
            Some(coalesce(&dates.chain(date_times).collect::<Vec<_>>()))
        }
        ColumnType::Bool { .. } => {
            let (from, to): (Vec<&str>, Vec<bool>) = BOOLEAN_SPELLINGS.iter().copied().unzip();
            Some(text.str().to_lowercase().replace_strict(
                lit(Series::new("from".into(), from)),
                lit(Series::new("to".into(), to)),
                Some(null_of(DataType::Boolean)),
                Some(DataType::Boolean),
            ))
        }
        ColumnType::Enum(values) => {
            let (from, to) = enum_mapping(values);
            Some(text.str().to_lowercase().replace_strict(
                lit(Series::new("from".into(), from)),
                lit(Series::new("to".into(), to)),
                Some(null_of(DataType::String)),
                Some(DataType::String),
            ))
        }
        ColumnType::Text
        | ColumnType::Decimal
        | ColumnType::Period
        | ColumnType::Month
        | ColumnType::IdNumber => None,
    }
}

/// Hands a Polars column to arrow-rs through the Arrow C data interface, without copying.
fn to_arrow_rs(s: &Series) -> Result<ArrayRef, String> {
    let s = s.rechunk();
    let array = s.to_arrow(0, CompatLevel::newest());
    let field = s.field().to_arrow(CompatLevel::newest());
    let c_array = polars_arrow::ffi::export_array_to_c(array);
    let c_schema = polars_arrow::ffi::export_field_to_c(&field);
    // SAFETY: both crates define these structs as the #[repr(C)] `ArrowArray` and
    // `ArrowSchema` of the Arrow C data interface, so they have one layout (transmute checks
    // the sizes). Ownership moves to arrow-rs, whose drop calls the producer's release.
    let (c_array, c_schema): (arrow::ffi::FFI_ArrowArray, arrow::ffi::FFI_ArrowSchema) = unsafe {
        (
            std::mem::transmute::<polars_arrow::ffi::ArrowArray, arrow::ffi::FFI_ArrowArray>(
                c_array,
            ),
            std::mem::transmute::<polars_arrow::ffi::ArrowSchema, arrow::ffi::FFI_ArrowSchema>(
                c_schema,
            ),
        )
    };
    // SAFETY: the array and schema were just exported by Polars and describe each other.
    let data = unsafe { arrow::ffi::from_ffi(c_array, &c_schema) }.map_err(|e| e.to_string())?;
    Ok(make_array(data))
}

/// Cleans every column the file has; `None` for table columns the file lacks.
pub(crate) fn clean(raw: &RawTable) -> Result<Vec<Option<CleanColumn>>, IngestError> {
    let err = |message: String| IngestError::Clean {
        file: raw.source.clone(),
        message,
    };
    let mut out: Vec<Option<CleanColumn>> = raw.cells.iter().map(|_| None).collect();
    let mut columns = Vec::new();
    let mut exprs = Vec::new();
    for (i, def) in raw.table.columns.iter().enumerate() {
        let Some(cells) = &raw.cells[i] else { continue };
        let name = format!("c{i}");
        let values: Vec<Option<&str>> = cells.iter().map(|c| c.as_deref()).collect();
        columns.push(Series::new(name.as_str().into(), values).into_column());
        let text = match def.ty {
            // Free text is stored as written; keys are cleaned cell by cell in validation.
            ColumnType::Text => as_written(col(name.as_str())),
            _ => normalized(col(name.as_str())),
        };
        exprs.push(text.clone().alias(format!("t{i}")));
        if let Some(parsed) = parse_expr(&def.ty, text) {
            exprs.push(parsed.alias(format!("p{i}")));
        }
    }
    if columns.is_empty() || raw.is_empty() {
        for (i, cells) in raw.cells.iter().enumerate() {
            if cells.is_some() {
                let empty = arrow::array::new_empty_array(&ArrowType::Utf8);
                let parsed = parse_expr(&raw.table.columns[i].ty, col("x"))
                    .map(|_| arrow::array::new_empty_array(&raw.table.columns[i].ty.arrow_type()));
                out[i] = Some(CleanColumn {
                    text: empty,
                    parsed,
                });
            }
        }
        return Ok(out);
    }
    let df = DataFrame::new(raw.len(), columns).map_err(|e| err(e.to_string()))?;
    let cleaned = df
        .lazy()
        .select(exprs)
        .collect()
        .map_err(|e| err(e.to_string()))?;
    for (i, slot) in out.iter_mut().enumerate() {
        if raw.cells[i].is_none() {
            continue;
        }
        let get = |prefix: &str| -> Result<Option<ArrayRef>, IngestError> {
            match cleaned.column(&format!("{prefix}{i}")) {
                Ok(c) => Ok(Some(to_arrow_rs(c.as_materialized_series()).map_err(err)?)),
                Err(_) => Ok(None),
            }
        };
        let text = get("t")?.ok_or_else(|| err(format!("column t{i} missing")))?;
        let text = cast(&text, &ArrowType::Utf8).map_err(|e| err(e.to_string()))?;
        let parsed = match get("p")? {
            Some(p) if matches!(p.data_type(), ArrowType::Utf8View) => {
                Some(cast(&p, &ArrowType::Utf8).map_err(|e| err(e.to_string()))?)
            }
            other => other,
        };
        *slot = Some(CleanColumn { text, parsed });
    }
    Ok(out)
}
