use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use engine::Warehouse;

use crate::TenantCommand;
use crate::output::write_batches;

pub fn init(wh: &Path) -> Result<()> {
    Warehouse::init(wh)?;
    println!("created an empty warehouse in {}", wh.display());
    Ok(())
}

pub async fn run(wh: &Path, cmd: TenantCommand) -> Result<()> {
    let warehouse = Warehouse::open(wh)?;
    match cmd {
        TenantCommand::Add { id, name } => {
            warehouse.add_tenant(&id, &name).await?;
            println!("added tenant {id} ({name}) with the default rules");
        }
        TenantCommand::List { format } => {
            let tenants = warehouse.tenants()?;
            let schema = Arc::new(Schema::new(vec![
                Field::new("id", DataType::Utf8, false),
                Field::new("name", DataType::Utf8, false),
                Field::new("created_at", DataType::Utf8, false),
            ]));
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from_iter_values(
                        tenants.iter().map(|t| t.id.as_str()),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        tenants.iter().map(|t| t.name.as_str()),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        tenants.iter().map(|t| t.created_at.as_str()),
                    )),
                ],
            )?;
            write_batches(
                &mut std::io::stdout().lock(),
                format,
                &schema,
                &[batch],
                None,
            )?;
        }
        TenantCommand::Limits {
            id,
            memory_mb,
            timeout_seconds,
            max_rows,
        } => {
            let tenant = warehouse.tenant(&id)?;
            let mut limits = tenant.limits()?;
            let changed = memory_mb.is_some() || timeout_seconds.is_some() || max_rows.is_some();
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
            if changed {
                tenant.set_limits(&limits)?;
            }
            print!("{}", limits.to_toml());
        }
    }
    Ok(())
}
