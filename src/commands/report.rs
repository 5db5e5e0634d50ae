//! `report`: the reports crate gathers every table through the engine's metrics API, draws
//! and writes them; this lists what it wrote and how long each phase took.

use std::path::Path;

use anyhow::{Context, Result};
use reports::{Report, Scope};
use warehouse::Warehouse;

use super::metrics;

/// Writes the report for `scope` into `out` and lists what it wrote.
pub async fn report(
    wh: &Path,
    tenant_id: &str,
    scope: Scope,
    as_of: Option<u64>,
    out: &Path,
) -> Result<()> {
    let started = std::time::Instant::now();
    let county = Warehouse::open(wh)?.tenant(tenant_id)?.info()?.name;
    let metrics = metrics::open(wh, tenant_id, None, as_of).await?;
    let generated_at = chrono::Local::now().format("%Y-%m-%d %H:%M").to_string();
    let input = reports::gather(&metrics, tenant_id, &county, scope, generated_at).await?;
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
