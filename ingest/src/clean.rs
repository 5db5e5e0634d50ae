//! Cleaning with Polars: every cell is trimmed, full-width ASCII is folded to half-width and
//! empty text becomes null; then whole numbers, dates, booleans and enumerations are parsed
//! column at a time. A cell that had text but did not parse comes back as null beside its
//! cleaned text, which is how validation finds it and reports the original value.

use std::collections::BTreeMap;

use arrow::array::{ArrayRef, make_array};
use arrow::compute::cast;
use arrow::datatypes::DataType as ArrowType;
use model::schema::{ColumnType, EnumValue};
use polars::prelude::*;

use crate::error::IngestError;
use crate::source::RawTable;

/// A column after cleaning, as arrow-rs arrays of the raw table's length.
#[derive(Debug)]
pub(crate) struct CleanColumn {
    /// Trimmed, half-width text; null for empty cells.
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
        let text = normalized(col(name.as_str()));
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
