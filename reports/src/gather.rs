//! What a report asks the engine: every table it shows, through the metrics API, for one
//! scope. The queries are independent and run together so both cores work.

use engine::Metrics;
use model::Month;

use crate::data::{ReportInput, Scope, Thresholds};
use crate::error::ReportError;

/// Asks `metrics` for everything the report of `scope` shows. A period without scores is an
/// error that lists the periods that have them.
pub async fn gather(
    metrics: &Metrics,
    tenant_id: &str,
    county: &str,
    scope: Scope,
    generated_at: String,
) -> Result<ReportInput, ReportError> {
    let (year, through) = match scope {
        Scope::Period(p) => (p.year(), Some(metrics.period_with_scores(p).await?)),
        Scope::Year(y) => (y, None),
    };
    // A period's report shows the year up to the period's end, never later months.
    let last_month = through.and_then(|p| Month::new(p.year(), p.last_month()));
    let ranking = async {
        match through {
            Some(p) => metrics.ranking(p).await,
            // A year has no single ranking; the year's summary takes its place.
            None => Ok(engine::Table {
                schema: metrics.ranking_schema().await?,
                batches: Vec::new(),
            }),
        }
    };
    let (
        ranking,
        year_summary,
        year_periods,
        attendance,
        coverage,
        findings,
        compliance_gaps,
        alerts,
        points,
        visits,
    ) = futures::try_join!(
        ranking,
        metrics.year_ranked(year),
        metrics.ranking_over_year(year, through),
        metrics.attendance_county_and_groups(year, last_month),
        metrics.coverage_county_and_groups(),
        metrics.coverage_findings(),
        metrics.compliance_gaps(year, through),
        metrics.alerts_named(year),
        metrics.points_grades_by_group(year),
        metrics.grid_visits(metrics.group_level()),
    )?;
    Ok(ReportInput {
        tenant_id: tenant_id.to_string(),
        county: county.to_string(),
        scope,
        rules_version: metrics.rules_version(),
        generated_at,
        thresholds: Thresholds::of(metrics.rules()),
        ranking: ranking.batches,
        year_summary: year_summary.batches,
        year_periods: year_periods.batches,
        attendance: attendance.batches,
        coverage: coverage.batches,
        findings: findings.batches,
        compliance_gaps: compliance_gaps.batches,
        alerts: alerts.batches,
        points: points.batches,
        visits: visits.batches,
    })
}
