//! The full tables of the report, shared by the HTML and the workbook: the display text a
//! person reads, the number behind it for Excel, and which rows to highlight.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};

use crate::error::ReportError;
use crate::present::{self, Marks};

/// Why a row is highlighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    Flag,
    Penalty,
}

/// Which columns of a view's result a table shows.
pub(crate) enum Select<'a> {
    Only(&'a [&'a str]),
    AllBut(&'a [&'a str]),
}

/// The columns the HTML report and the workbook both show for these views, in this order.
pub(crate) const COVERAGE_COLUMNS: &[&str] = &[
    "unit_name",
    "kind",
    "orgs",
    "covered",
    "coverage_rate",
    "standalone",
    "joint",
    "standalone_rate",
];
pub(crate) const FINDINGS_COLUMNS: &[&str] = &["finding", "org_id", "branch_id", "detail"];
pub(crate) const ATTENDANCE_COLUMNS: &[&str] = &[
    "month", "name", "meetings", "expected", "present", "excused", "absent", "rate",
];
pub(crate) const POINTS_COLUMNS: &[&str] = &["unit_name", "grade", "members"];

pub(crate) struct Table {
    pub names: Vec<String>,
    pub headers: Vec<String>,
    pub text: Vec<Vec<String>>,
    /// The number behind each cell, when it is one (rates as fractions).
    pub numbers: Vec<Vec<Option<f64>>>,
    pub marks: Vec<Option<Mark>>,
}

impl Table {
    pub fn is_rate(name: &str) -> bool {
        name == "rate" || name.ends_with("_rate") || name == "rate_change"
    }
}

pub(crate) fn table(
    table: &'static str,
    batches: &[RecordBatch],
    select: Select<'_>,
) -> Result<Table, ReportError> {
    let arrow_err = |source| ReportError::Arrow { table, source };
    let schema = batches.first().map(|b| b.schema());
    let names: Vec<String> = match (&select, &schema) {
        (Select::Only(cols), _) => cols.iter().map(|c| c.to_string()).collect(),
        (Select::AllBut(skip), Some(s)) => s
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| !skip.contains(&n.as_str()))
            .collect(),
        (Select::AllBut(_), None) => Vec::new(),
    };
    let mut projected = Vec::new();
    for b in batches {
        let indices = names
            .iter()
            .map(|n| {
                b.schema()
                    .index_of(n)
                    .map_err(|_| ReportError::MissingColumn {
                        table,
                        column: "(see the report's column list)",
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        projected.push(b.project(&indices).map_err(arrow_err)?);
    }
    let text = present::humanize(&projected, &names, Marks::PRINT).map_err(arrow_err)?;
    let mut numbers = Vec::new();
    let mut marks = Vec::new();
    for b in &projected {
        let cols: Vec<Option<arrow::array::ArrayRef>> = b
            .columns()
            .iter()
            .map(|c| {
                let numeric = c.data_type().is_numeric();
                numeric.then(|| cast(c, &DataType::Float64).ok()).flatten()
            })
            .collect();
        let flag = names.iter().position(|n| n == "red_flag");
        let penalty = names.iter().position(|n| n == "penalty");
        for r in 0..b.num_rows() {
            numbers.push(
                cols.iter()
                    .map(|c| {
                        c.as_ref().and_then(|a| {
                            let a = a.as_primitive::<Float64Type>();
                            a.is_valid(r).then(|| a.value(r))
                        })
                    })
                    .collect(),
            );
            let is_penalty = penalty.is_some_and(|p| b.column(p).is_valid(r));
            let is_flag = flag.is_some_and(|f| {
                let a = b.column(f).as_boolean_opt();
                a.is_some_and(|a| a.is_valid(r) && a.value(r))
            });
            marks.push(if is_penalty {
                Some(Mark::Penalty)
            } else if is_flag {
                Some(Mark::Flag)
            } else {
                None
            });
        }
    }
    Ok(Table {
        headers: names.iter().map(|n| present::label(n)).collect(),
        names,
        text,
        numbers,
        marks,
    })
}

/// The rows of `batches` whose `column`, read as text, equals `value`.
pub(crate) fn rows_where(
    batches: &[RecordBatch],
    table: &'static str,
    column: &'static str,
    value: &str,
) -> Result<Vec<RecordBatch>, ReportError> {
    use arrow::array::{Scalar, StringArray};
    use arrow::compute::{filter_record_batch, kernels::cmp::eq};
    let arrow_err = |source| ReportError::Arrow { table, source };
    let wanted = StringArray::from(vec![value]);
    batches
        .iter()
        .map(|b| {
            let c = b
                .column_by_name(column)
                .ok_or(ReportError::MissingColumn { table, column })?;
            let text = cast(c, &DataType::Utf8).map_err(arrow_err)?;
            let mask = eq(&text, &Scalar::new(&wanted)).map_err(arrow_err)?;
            filter_record_batch(b, &mask).map_err(arrow_err)
        })
        .collect()
}
