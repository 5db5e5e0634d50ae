use std::path::Path;

use anyhow::Result;
use warehouse::Warehouse;

use crate::TenantCommand;
use crate::output::write_text_table;

pub async fn init(wh: &Path, tables: Option<&url::Url>) -> Result<()> {
    match tables {
        None => {
            Warehouse::init(wh)?;
            println!("created an empty warehouse in {}", wh.display());
        }
        Some(tables) => {
            Warehouse::init_with_tables(wh, tables).await?;
            println!(
                "created an empty warehouse in {}, its tables in {tables}",
                wh.display()
            );
        }
    }
    Ok(())
}

pub async fn run(wh: &Path, cmd: TenantCommand) -> Result<()> {
    let warehouse = Warehouse::open(wh)?;
    match cmd {
        TenantCommand::Add { id, name } => {
            warehouse.add_tenant(&id, &name).await?;
            println!("added tenant {id} ({name}) with the default rules");
        }
        TenantCommand::Refresh { ids, all } => {
            let mut ids: Vec<String> = if all {
                warehouse.tenants()?.into_iter().map(|t| t.id).collect()
            } else {
                ids
            };
            // Each once, in the order given: two refreshes of one tenant at once would drop
            // and write the same results under each other.
            let mut seen = std::collections::HashSet::new();
            ids.retain(|id| seen.insert(id.clone()));
            if ids.is_empty() {
                eprintln!("no tenants in the warehouse: nothing to refresh");
                return Ok(());
            }
            let mut failed = Vec::new();
            for (id, refreshed) in engine::results::recompute_many(&warehouse, &ids).await {
                match refreshed {
                    Ok(refreshed) => println!(
                        "kept the metric results of tenant {id}: {} rows, computed in {:.1} s",
                        refreshed.rows,
                        refreshed.took.as_secs_f64()
                    ),
                    Err(e) => {
                        eprintln!("error: tenant {id}: {e}");
                        failed.push(id);
                    }
                }
            }
            anyhow::ensure!(
                failed.is_empty(),
                "the metric results of {} of {} tenants could not be kept: {}",
                failed.len(),
                ids.len(),
                failed.join(", ")
            );
        }
        TenantCommand::List { format } => {
            let tenants = warehouse.tenants()?;
            write_text_table(
                format,
                &[
                    ("id", tenants.iter().map(|t| t.id.clone()).collect()),
                    ("name", tenants.iter().map(|t| t.name.clone()).collect()),
                    (
                        "created_at",
                        tenants.iter().map(|t| t.created_at.clone()).collect(),
                    ),
                ],
            )?;
        }
        TenantCommand::Limits {
            id,
            memory_mb,
            timeout_seconds,
            max_rows,
            max_result_mb,
            max_function_output_mb,
        } => {
            let tenant = warehouse.tenant(&id)?;
            let mut limits = tenant.limits()?;
            let changed = memory_mb.is_some()
                || timeout_seconds.is_some()
                || max_rows.is_some()
                || max_result_mb.is_some()
                || max_function_output_mb.is_some();
            if let Some(v) = memory_mb {
                limits.memory_mb = v;
            }
            if let Some(v) = timeout_seconds {
                anyhow::ensure!(v > 0.0, "--timeout-seconds must be more than 0");
                limits.timeout_seconds = v;
            }
            if let Some(v) = max_rows {
                limits.max_rows = v;
            }
            if let Some(v) = max_result_mb {
                limits.max_result_mb = v;
            }
            if let Some(v) = max_function_output_mb {
                limits.max_function_output_mb = v;
            }
            if changed {
                tenant.set_limits(&limits)?;
            }
            print!("{}", limits.to_toml());
        }
    }
    Ok(())
}
