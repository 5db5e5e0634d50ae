//! The metric commands of SPEC §6: each is a query over one metric view, with the SPEC columns
//! in the SPEC order.

use std::path::Path;

use anyhow::{Result, bail};
use datafusion::prelude::SessionContext;
use engine::Warehouse;
use engine::session::{read_only, tenant_session};

use crate::output::Output;
use crate::{AssessWhat, AttendanceWhat};

async fn session(wh: &Path, tenant: &str, rules_version: Option<u32>) -> Result<SessionContext> {
    let tenant = Warehouse::open(wh)?.tenant(tenant)?;
    let manifest = tenant.manifest()?;
    Ok(tenant_session(&tenant, &manifest, rules_version).await?)
}

/// Runs `sql` and writes the result; `empty` explains an empty result to the user.
async fn show(
    ctx: &SessionContext,
    sql: &str,
    out: &Output<'_>,
    empty: impl FnOnce() -> Option<String>,
) -> Result<()> {
    let df = ctx.sql_with_options(sql, read_only()).await?;
    let schema = df.schema().inner().clone();
    let batches = df.collect().await?;
    if batches.iter().all(|b| b.num_rows() == 0)
        && let Some(why) = empty()
    {
        eprintln!("{why}");
    }
    out.write(&schema, &batches, None)
}

async fn distinct(ctx: &SessionContext, sql: &str) -> Result<Vec<String>> {
    let batches = ctx.sql(sql).await?.collect().await?;
    let mut out = Vec::new();
    for b in batches {
        let col = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8)?;
        let col = col.as_any().downcast_ref::<arrow::array::StringArray>();
        out.extend(col.into_iter().flatten().flatten().map(str::to_string));
    }
    Ok(out)
}

/// `p` normalized (2024年1-2月 → 2024-B1), or an error when no branch has scores in it.
pub async fn period_with_scores(ctx: &SessionContext, p: &str) -> Result<String> {
    let Some(period) = ingest::values::normalize_period(p) else {
        bail!("'{p}' is not a period (expected e.g. 2024-B3, 2024年1-2月, 2024-Q2)");
    };
    let periods = distinct(
        ctx,
        "SELECT DISTINCT period FROM red_flag_ranking ORDER BY period",
    )
    .await?;
    if !periods.contains(&period) {
        bail!(
            "no branch took part in {period}: there are no scores for it{}",
            if periods.is_empty() {
                " (no scores are loaded yet)".to_string()
            } else {
                format!(" (periods with scores: {})", periods.join(", "))
            }
        );
    }
    Ok(period)
}

pub async fn assess(
    wh: &Path,
    tenant: &str,
    what: AssessWhat,
    rules_version: Option<u32>,
    out: &Output<'_>,
) -> Result<()> {
    let ctx = session(wh, tenant, rules_version).await?;
    match what {
        AssessWhat::Period(p) => {
            let period = period_with_scores(&ctx, &p).await?;
            // People read the ranking; machines get every column, indicators included.
            let columns = if out.format == crate::output::Format::Table {
                println!("{period} 流动红旗排名");
                "group_name, rank, branch_name, total, missing_indicators, reward_yuan, red_flag, \
                 last_place, penalty, consecutive_flags, rules_version"
            } else {
                "*"
            };
            let sql = format!(
                "SELECT {columns} FROM red_flag_ranking WHERE period = '{period}' ORDER BY group_id, rank, branch_id"
            );
            show(&ctx, &sql, out, || None).await
        }
        AssessWhat::Year(y) => {
            let sql = format!(
                "SELECT * FROM red_flag_year WHERE year = {y} ORDER BY group_id, branch_id"
            );
            show(&ctx, &sql, out, || {
                Some(format!("no branch took part in any period of {y}"))
            })
            .await
        }
    }
}

pub async fn coverage(
    wh: &Path,
    tenant: &str,
    level: u8,
    findings: bool,
    out: &Output<'_>,
) -> Result<()> {
    let ctx = session(wh, tenant, None).await?;
    let sql = if findings {
        "SELECT finding, org_id, branch_id, detail FROM coverage_findings ORDER BY finding, org_id, branch_id".to_string()
    } else {
        format!(
            "SELECT kind, unit_id, unit_name, orgs, covered, coverage_rate, standalone, joint, standalone_rate
             FROM coverage WHERE level = {level} ORDER BY unit_id, kind"
        )
    };
    show(&ctx, &sql, out, || {
        Some("no organizations are loaded (两新组织)".into())
    })
    .await
}

pub async fn attendance(
    wh: &Path,
    tenant: &str,
    level: Option<u8>,
    year: Option<i32>,
    what: AttendanceWhat,
    out: &Output<'_>,
) -> Result<()> {
    let ctx = session(wh, tenant, None).await?;
    let year_filter = |column: &str| match year {
        Some(y) => format!("AND {column} LIKE '{y}-%'"),
        None => String::new(),
    };
    let sql = match what {
        AttendanceWhat::Compliance => format!(
            "SELECT quarter, branch_id, branch_name, compliant, missing FROM meeting_compliance
             WHERE true {} ORDER BY quarter, branch_id",
            year_filter("quarter")
        ),
        AttendanceWhat::Alerts => format!(
            "SELECT year, member_id, branch_id, unexcused, longest_run, admonish, discipline
             FROM attendance_alerts WHERE true {} ORDER BY year, branch_id, member_id",
            year.map(|y| format!("AND year = {y}")).unwrap_or_default()
        ),
        AttendanceWhat::Rates => match level {
            None => format!(
                "SELECT month, branch_id, name, meetings, expected, present, excused, absent, rate, rate_change
                 FROM attendance_monthly WHERE true {} ORDER BY branch_id, month",
                year_filter("month")
            ),
            Some(l) => format!(
                "SELECT month, unit_id, name, meetings, expected, present, excused, absent, rate, rate_change
                 FROM attendance_monthly_by_unit WHERE level = {l} {} ORDER BY unit_id, month",
                year_filter("month")
            ),
        },
    };
    show(&ctx, &sql, out, || Some("no meetings match".into())).await
}

pub async fn points(wh: &Path, tenant: &str, year: i32, out: &Output<'_>) -> Result<()> {
    let ctx = session(wh, tenant, None).await?;
    let sql = format!(
        "SELECT year, member_id, branch_id, base, task, reward, honor, total, grade, violation, rank, top_share
         FROM member_points WHERE year = {year} ORDER BY branch_id, rank, member_id"
    );
    show(&ctx, &sql, out, || {
        Some(format!("no points entries are loaded for {year}"))
    })
    .await
}

pub async fn grid(wh: &Path, tenant: &str, level: u8, out: &Output<'_>) -> Result<()> {
    let ctx = session(wh, tenant, None).await?;
    let sql = format!(
        "SELECT unit_id, unit_name, level, visits, households, issues_raised, issues_resolved, resolution_rate
         FROM grid_visits WHERE level = {level} ORDER BY unit_id"
    );
    show(&ctx, &sql, out, || {
        Some(format!("no grid units at level {level}"))
    })
    .await
}
