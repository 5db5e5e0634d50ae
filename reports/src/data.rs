//! What a report is made of: the record batches the engine's metric views return, and the
//! typed columns the charts read from them.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};

use model::Period;

use crate::error::ReportError;

/// What the report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One assessment period.
    Period(Period),
    /// One calendar year.
    Year(i32),
}

impl Scope {
    /// The calendar year.
    pub(crate) fn year(&self) -> i32 {
        match self {
            Scope::Period(p) => p.year(),
            Scope::Year(y) => *y,
        }
    }

    /// The months (1–12) the scope covers.
    pub(crate) fn months(&self) -> Vec<u32> {
        match self {
            Scope::Period(p) => p.months().map(|m| u32::from(m.month())).collect(),
            Scope::Year(_) => (1..=12).collect(),
        }
    }

    /// How people write it: `2024年第3期（5—6月）`, `2024年第2季度`, `2024年度`.
    pub(crate) fn label(&self) -> String {
        match self {
            Scope::Year(y) => format!("{y}年度"),
            Scope::Period(p) => p.label(),
        }
    }

    /// A short tag for file names and sheet titles: `2024-B3` or `2024`.
    pub(crate) fn tag(&self) -> String {
        match self {
            Scope::Period(p) => p.to_string(),
            Scope::Year(y) => y.to_string(),
        }
    }
}

/// The lines drawn across score charts, from the rules in force.
#[derive(Debug, Clone)]
pub(crate) struct Thresholds {
    /// The reward tiers' minimum scores, highest first (95, 85).
    pub(crate) reward_min: Vec<f64>,
    /// A last-placed branch below this is penalized (85).
    pub(crate) penalty_below: f64,
    /// The most a branch can score (the sum of the indicator maxima, 100).
    pub(crate) max_total: f64,
    /// The points grades, best first (优秀, 合格, 基本合格, 不合格).
    pub(crate) grades: Vec<String>,
}

impl Thresholds {
    /// The thresholds of `rules`.
    pub(crate) fn of(rules: &model::Rules) -> Thresholds {
        let a = &rules.assessment;
        Thresholds {
            reward_min: a
                .tiers
                .get_ref()
                .iter()
                .map(|t| f64::from(t.min_score))
                .collect(),
            penalty_below: f64::from(a.penalty_below),
            max_total: a
                .indicators
                .get_ref()
                .iter()
                .map(|i| f64::from(i.max))
                .sum(),
            grades: rules
                .points
                .grades
                .get_ref()
                .iter()
                .map(|g| g.name.clone())
                .collect(),
        }
    }
}

/// Everything a report shows, as the engine returned it ([`gather`](crate::gather) asks for it,
/// [`Report::build`](crate::Report::build) takes it). Each field names the view it comes from
/// and the columns the report reads; extra columns are carried into the full tables.
#[derive(Debug, Clone)]
pub struct ReportInput {
    pub(crate) tenant_id: String,
    pub(crate) county: String,
    pub(crate) scope: Scope,
    pub(crate) rules_version: u32,
    /// When the report was made, as printed on it (`2024-07-01 09:30`).
    pub(crate) generated_at: String,
    pub(crate) thresholds: Thresholds,
    /// `red_flag_ranking` of the period (empty for a year report), in ranking order.
    pub(crate) ranking: Vec<RecordBatch>,
    /// `red_flag_year` of the year plus `group_name`, in ranking order within each group.
    pub(crate) year_summary: Vec<RecordBatch>,
    /// `red_flag_ranking` of every period of the year: `period, group_id, group_name,
    /// branch_id, branch_name, total, red_flag, penalty`.
    pub(crate) year_periods: Vec<RecordBatch>,
    /// `attendance_monthly_by_unit` of the year at level 0 (the county) and the rules'
    /// group level (townships).
    pub(crate) attendance: Vec<RecordBatch>,
    /// `coverage` at level 0 and the group level.
    pub(crate) coverage: Vec<RecordBatch>,
    /// `coverage_findings`.
    pub(crate) findings: Vec<RecordBatch>,
    /// `meeting_compliance` rows of the year that are not compliant.
    pub(crate) compliance_gaps: Vec<RecordBatch>,
    /// `attendance_alerts` of the year.
    pub(crate) alerts: Vec<RecordBatch>,
    /// Members per township and grade for the year (`member_points` rolled up): `unit_id,
    /// unit_name, grade, members`.
    pub(crate) points: Vec<RecordBatch>,
    /// `grid_visits` at the group level.
    pub(crate) visits: Vec<RecordBatch>,
}

/// One column of a view's result, cast to a Rust type, across all its batches.
pub(crate) struct Column;

impl Column {
    fn arrays(
        batches: &[RecordBatch],
        table: &'static str,
        column: &'static str,
        to: &DataType,
    ) -> Result<Vec<arrow::array::ArrayRef>, ReportError> {
        batches
            .iter()
            .map(|b| {
                let a = b
                    .column_by_name(column)
                    .ok_or(ReportError::MissingColumn { table, column })?;
                cast(a, to).map_err(|source| ReportError::Arrow { table, source })
            })
            .collect()
    }

    pub(crate) fn text(
        batches: &[RecordBatch],
        table: &'static str,
        column: &'static str,
    ) -> Result<Vec<String>, ReportError> {
        let mut out = Vec::new();
        for a in Self::arrays(batches, table, column, &DataType::Utf8)? {
            out.extend(
                a.as_string::<i32>()
                    .iter()
                    .map(|v| v.unwrap_or_default().to_string()),
            );
        }
        Ok(out)
    }

    pub(crate) fn float(
        batches: &[RecordBatch],
        table: &'static str,
        column: &'static str,
    ) -> Result<Vec<Option<f64>>, ReportError> {
        let mut out = Vec::new();
        for a in Self::arrays(batches, table, column, &DataType::Float64)? {
            out.extend(a.as_primitive::<Float64Type>().iter());
        }
        Ok(out)
    }

    pub(crate) fn int(
        batches: &[RecordBatch],
        table: &'static str,
        column: &'static str,
    ) -> Result<Vec<i64>, ReportError> {
        let mut out = Vec::new();
        for a in Self::arrays(batches, table, column, &DataType::Int64)? {
            out.extend(a.as_primitive::<Int64Type>().iter().map(|v| v.unwrap_or(0)));
        }
        Ok(out)
    }

    pub(crate) fn flag(
        batches: &[RecordBatch],
        table: &'static str,
        column: &'static str,
    ) -> Result<Vec<bool>, ReportError> {
        let mut out = Vec::new();
        for a in Self::arrays(batches, table, column, &DataType::Boolean)? {
            let a = a.as_boolean();
            out.extend((0..a.len()).map(|i| a.is_valid(i) && a.value(i)));
        }
        Ok(out)
    }
}

/// Numbers as a person reads them: up to two decimals, no trailing zeros (95, 95.5, 95.25).
pub(crate) fn score_text(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A rate as a percentage with one decimal (0.953 → 95.3 %), as the terminal tables print it.
pub(crate) fn percent_text(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_as_people_write_them() {
        let period = |p: &str| Scope::Period(p.parse().unwrap());
        let p = period("2024-B3");
        assert_eq!(p.label(), "2024年第3期（5—6月）");
        assert_eq!(p.months(), vec![5, 6]);
        assert_eq!(p.tag(), "2024-B3");
        assert_eq!(period("2024-Q2").months(), vec![4, 5, 6]);
        assert_eq!(period("2024-H2").label(), "2024年下半年");
        assert_eq!(period("2024-M05").label(), "2024年5月");
        assert_eq!(Scope::Year(2024).months().len(), 12);
    }

    #[test]
    fn numbers_drop_needless_decimals() {
        assert_eq!(score_text(95.0), "95");
        assert_eq!(score_text(95.5), "95.5");
        assert_eq!(score_text(95.25), "95.25");
        assert_eq!(percent_text(0.9531), "95.3 %");
    }
}
