use std::path::Path;

use anyhow::Result;
use engine::Warehouse;
use engine::session::{read_only, tenant_session};

use crate::output::{Format, write_batches};

pub async fn run(wh: &Path, tenant: &str, sql: &str, format: Format) -> Result<()> {
    let tenant = Warehouse::open(wh)?.tenant(tenant)?;
    let manifest = tenant.manifest()?;
    let ctx = tenant_session(&tenant, &manifest, None).await?;
    let df = ctx.sql_with_options(sql, read_only()).await?;
    let schema = df.schema().inner().clone();
    let batches = df.collect().await?;
    // Ad-hoc queries keep the names the user wrote, in every format.
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    write_batches(
        &mut std::io::stdout().lock(),
        format,
        &schema,
        &batches,
        Some(&names),
    )
}
