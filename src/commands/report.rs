//! `report`: asks the engine for every view the report shows and hands the results to the
//! `reports` crate, which draws and writes them.

use std::path::Path;

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use engine::Warehouse;
use engine::session::{read_only, tenant_session};
use reports::{Report, ReportInput, Scope, Thresholds};

use super::metrics;

async fn collect(ctx: &SessionContext, what: &str, sql: &str) -> Result<Vec<RecordBatch>> {
    let df = ctx
        .sql_with_options(sql, read_only())
        .await
        .with_context(|| format!("querying {what} for the report"))?;
    Ok(df.collect().await?)
}

/// Writes the report for `scope` into `out` and lists what it wrote.
pub async fn report(wh: &Path, tenant_id: &str, scope: Scope, out: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    let tenant = Warehouse::open(wh)?.tenant(tenant_id)?;
    let info = tenant.info()?;
    let manifest = tenant.manifest()?;
    let (rules_version, _, rules) = tenant.rules()?;
    let ctx = tenant_session(&tenant, &manifest, None).await?;

    let scope = match scope {
        Scope::Period(p) => Scope::Period(metrics::period_with_scores(&ctx, &p).await?),
        year => year,
    };
    let y = scope.year();
    // A period's report shows the year up to the period's end, never later months.
    let last_month = scope.months().last().copied().unwrap_or(12);
    let (period_filter, month_filter, quarter_filter) = match &scope {
        Scope::Period(p) => (
            format!("period LIKE '{y}-%' AND period <= '{p}'"),
            format!("month LIKE '{y}-%' AND month <= '{y}-{last_month:02}'"),
            format!(
                "quarter LIKE '{y}-%' AND quarter <= '{y}-Q{}'",
                last_month.div_ceil(3)
            ),
        ),
        Scope::Year(_) => (
            format!("period LIKE '{y}-%'"),
            format!("month LIKE '{y}-%'"),
            format!("quarter LIKE '{y}-%'"),
        ),
    };

    let ranking_sql = match &scope {
        Scope::Period(p) => format!(
            "SELECT * FROM red_flag_ranking WHERE period = '{p}' ORDER BY group_id, rank, branch_id"
        ),
        // A year has no single ranking; the year's summary takes its place.
        Scope::Year(_) => "SELECT * FROM red_flag_ranking WHERE false".to_string(),
    };
    let year_summary_sql = format!(
        "SELECT y.year, y.group_id, g.name AS group_name, y.branch_id, y.branch_name, y.periods,
                y.flags, y.best_rank, y.worst_rank, y.mean_total, y.reward_yuan, y.penalties,
                y.bonus_funding, y.subsidy_cancelled
         FROM red_flag_year y LEFT JOIN grid_units g ON g.unit_id = y.group_id
         WHERE y.year = {y} ORDER BY y.group_id, y.mean_total DESC, y.branch_id"
    );
    let year_periods_sql = format!(
        "SELECT period, group_id, group_name, rank, branch_id, branch_name, total, reward_yuan,
                red_flag, last_place, penalty
         FROM red_flag_ranking WHERE {period_filter} ORDER BY group_id, branch_id, period"
    );
    let attendance_sql = format!(
        "SELECT level, month, unit_id, name, meetings, expected, present, excused, absent, rate
         FROM attendance_monthly_by_unit WHERE level IN (0, 2) AND {month_filter}
         ORDER BY level, unit_id, month"
    );
    let compliance_sql = format!(
        "SELECT quarter, branch_id, branch_name, missing FROM meeting_compliance
         WHERE NOT compliant AND {quarter_filter} ORDER BY quarter, branch_id"
    );
    let alerts_sql = format!(
        "SELECT a.year, a.member_id, m.name AS member_name, b.name AS branch_name, a.unexcused,
                a.longest_run, a.admonish, a.discipline
         FROM attendance_alerts a
         LEFT JOIN members m ON m.member_id = a.member_id
         LEFT JOIN branches b ON b.branch_id = a.branch_id
         WHERE a.year = {y} ORDER BY a.branch_id, a.member_id"
    );
    // Branches of county-level units have no township; they are counted under their own
    // heading rather than left out.
    let points_sql = format!(
        "SELECT COALESCE(c.ancestor_id, '~') AS unit_id, COALESCE(u.name, '县直及其他') AS unit_name,
                p.grade, COUNT(*) AS members
         FROM member_points p
         JOIN branches b ON b.branch_id = p.branch_id
         LEFT JOIN grid_closure c ON c.unit_id = b.unit_id AND c.ancestor_level = 2
         LEFT JOIN grid_units u ON u.unit_id = c.ancestor_id
         WHERE p.year = {y}
         GROUP BY 1, 2, 3 ORDER BY 1, 3"
    );
    // The views are independent: run them together so both cores work.
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
    ) = tokio::try_join!(
        collect(&ctx, "the ranking", &ranking_sql),
        collect(&ctx, "the year's summary", &year_summary_sql),
        collect(&ctx, "the year's periods", &year_periods_sql),
        collect(&ctx, "attendance", &attendance_sql),
        collect(
            &ctx,
            "coverage",
            "SELECT * FROM coverage WHERE level IN (0, 2) ORDER BY level DESC, unit_id, kind",
        ),
        collect(
            &ctx,
            "coverage findings",
            "SELECT finding, org_id, branch_id, detail FROM coverage_findings
             ORDER BY finding, org_id, branch_id",
        ),
        collect(&ctx, "meeting compliance", &compliance_sql),
        collect(&ctx, "attendance alerts", &alerts_sql),
        collect(&ctx, "member points", &points_sql),
        collect(
            &ctx,
            "grid visits",
            "SELECT unit_id, unit_name, level, visits, households, issues_raised, issues_resolved,
                    resolution_rate
             FROM grid_visits WHERE level = 2 ORDER BY unit_id",
        ),
    )?;

    let a = &rules.assessment;
    let thresholds = Thresholds {
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
    };
    let input = ReportInput {
        tenant_id: tenant_id.to_string(),
        county: info.name,
        scope,
        rules_version,
        generated_at: chrono::Local::now().format("%Y-%m-%d %H:%M").to_string(),
        thresholds,
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
    };
    let queried = started.elapsed();
    let report = Report::build(input)?;
    let drawn = started.elapsed();
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let written = report.write(out)?;
    for f in &written.files {
        println!("  {}", f.display());
    }
    if !written.missing_chars.is_empty() {
        eprintln!(
            "warning: the chart font has no glyph for {} (outside GBK); they show as boxes in the PNG charts, the HTML and SVG use the reader's fonts for them",
            written.missing_chars
        );
    }
    let done = started.elapsed();
    eprintln!(
        "report: {} charts, report.html and ranking.xlsx in {:.2} s (queries {:.2} s, charts {:.2} s, files {:.2} s)",
        report.charts.len(),
        done.as_secs_f64(),
        queried.as_secs_f64(),
        (drawn - queried).as_secs_f64(),
        (done - drawn).as_secs_f64()
    );
    Ok(())
}
