//! Rules that involve more than one cell of a row, or the tenant's rules.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Decimal128Type, Int64Type};
use model::Rules;

use super::RowIssues;
use crate::issue::Severity;
use crate::reason::Reason;

pub(super) fn row_rules(batch: &RecordBatch, ri: &mut RowIssues, rules: &Rules) {
    match ri.raw.table.name {
        "visits" => visits(batch, ri),
        "scores" => scores(batch, ri, rules),
        _ => {}
    }
}

/// A visit cannot resolve more issues than it raised.
fn visits(batch: &RecordBatch, ri: &mut RowIssues) {
    let table = ri.raw.table;
    let (Some(raised), Some(c)) = (
        table.column_index("issues_raised"),
        table.column_index("issues_resolved"),
    ) else {
        return;
    };
    let raised = batch.column(raised).as_primitive::<Int64Type>();
    let resolved = batch.column(c).as_primitive::<Int64Type>();
    for row in 0..batch.num_rows() {
        if raised.is_valid(row) && resolved.is_valid(row) && resolved.value(row) > raised.value(row)
        {
            let reason = Reason::MoreResolvedThanRaised {
                resolved: resolved.value(row),
                raised: raised.value(row),
            };
            ri.report_value(c, row, reason, Severity::Rejected);
        }
    }
}

/// A score is for one of the tenant's indicators and within 0 and its maximum.
fn scores(batch: &RecordBatch, ri: &mut RowIssues, rules: &Rules) {
    let table = ri.raw.table;
    let (Some(ci), Some(cs)) = (table.column_index("indicator"), table.column_index("score"))
    else {
        return;
    };
    let indicator = batch.column(ci).as_string::<i32>();
    let score = batch.column(cs).as_primitive::<Decimal128Type>();
    for row in 0..batch.num_rows() {
        if indicator.is_null(row) {
            continue;
        }
        let Some(ind) = rules.indicator(indicator.value(row)) else {
            let indicators = rules
                .assessment
                .indicators
                .get_ref()
                .iter()
                .map(|i| i.name.clone())
                .collect();
            let reason = Reason::UnknownIndicator { indicators };
            ri.report_value(ci, row, reason, Severity::Rejected);
            continue;
        };
        if score.is_null(row) {
            continue;
        }
        let v = score.value(row);
        let max = i128::from(ind.max.0);
        if v < 0 || v > max {
            let reason = Reason::ScoreOutOfRange {
                score: v,
                max,
                indicator: ind.name.clone(),
            };
            ri.report_value(cs, row, reason, Severity::Rejected);
        }
    }
}
