//! The metric commands of SPEC §6: each asks the engine's metrics API for one table and writes
//! it with SPEC's columns in SPEC's order.

use std::path::Path;

use anyhow::Result;
use engine::access::Access;
use engine::{Metrics, Table};
use warehouse::Warehouse;

use crate::output::{Format, Output};
use crate::{AssessWhat, AttendanceWhat};

/// The tenant's metrics, as its own county office sees them (as of load `as_of`, when given).
pub async fn open(
    wh: &Path,
    tenant: &str,
    rules_version: Option<u32>,
    as_of: Option<u64>,
) -> Result<Metrics> {
    let warehouse = Warehouse::open(wh)?;
    let access = Access::admin_of(tenant)
        .with_rules_version(rules_version)
        .as_of(as_of);
    Ok(Metrics::open(&warehouse, &access).await?)
}

/// Writes `table`; `empty` explains an empty result to the user.
fn show(table: &Table, out: &Output<'_>, empty: impl FnOnce() -> Option<String>) -> Result<()> {
    if table.is_empty()
        && let Some(why) = empty()
    {
        eprintln!("{why}");
    }
    out.write(&table.schema, &table.batches, None)
}

pub async fn assess(
    wh: &Path,
    tenant: &str,
    what: AssessWhat,
    rules_version: Option<u32>,
    as_of: Option<u64>,
    out: &Output<'_>,
) -> Result<()> {
    let metrics = open(wh, tenant, rules_version, as_of).await?;
    match what {
        AssessWhat::Period(period) => {
            let ranking = metrics.ranking(period).await?;
            // People read the ranking; machines get every column, indicators included.
            let ranking = if out.format == Format::Table {
                println!("{period} 流动红旗排名");
                ranking.select(&[
                    "group_name",
                    "rank",
                    "branch_name",
                    "total",
                    "missing_indicators",
                    "reward_yuan",
                    "red_flag",
                    "last_place",
                    "penalty",
                    "consecutive_flags",
                    "rules_version",
                ])?
            } else {
                ranking
            };
            show(&ranking, out, || None)
        }
        AssessWhat::Year(y) => show(&metrics.year(y).await?, out, || {
            Some(format!("no branch took part in any period of {y}"))
        }),
    }
}

pub async fn coverage(
    wh: &Path,
    tenant: &str,
    level: u8,
    findings: bool,
    as_of: Option<u64>,
    out: &Output<'_>,
) -> Result<()> {
    let metrics = open(wh, tenant, None, as_of).await?;
    let table = if findings {
        metrics.coverage_findings().await?
    } else {
        metrics.coverage(level).await?
    };
    show(&table, out, || {
        Some("no organizations are loaded (两新组织)".into())
    })
}

pub async fn attendance(
    wh: &Path,
    tenant: &str,
    level: Option<u8>,
    year: Option<i32>,
    what: AttendanceWhat,
    as_of: Option<u64>,
    out: &Output<'_>,
) -> Result<()> {
    let metrics = open(wh, tenant, None, as_of).await?;
    let table = match what {
        AttendanceWhat::Compliance => metrics.compliance(year).await?,
        AttendanceWhat::Alerts => metrics.alerts(year).await?,
        AttendanceWhat::Rates => match level {
            None => metrics.attendance_by_branch(year).await?,
            Some(l) => metrics.attendance_by_unit(l, year).await?,
        },
    };
    show(&table, out, || Some("no meetings match".into()))
}

pub async fn points(
    wh: &Path,
    tenant: &str,
    year: i32,
    as_of: Option<u64>,
    out: &Output<'_>,
) -> Result<()> {
    let metrics = open(wh, tenant, None, as_of).await?;
    show(&metrics.points(year).await?, out, || {
        Some(format!("no points entries are loaded for {year}"))
    })
}

pub async fn grid(
    wh: &Path,
    tenant: &str,
    level: u8,
    as_of: Option<u64>,
    out: &Output<'_>,
) -> Result<()> {
    let metrics = open(wh, tenant, None, as_of).await?;
    show(&metrics.grid_visits(level).await?, out, || {
        Some(format!("no grid units at level {level}"))
    })
}
