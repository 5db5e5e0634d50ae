use std::path::Path;

use anyhow::{Context, Result};
use warehouse::Warehouse;

use crate::RulesCommand;

pub async fn run(wh: &Path, cmd: RulesCommand) -> Result<()> {
    let warehouse = Warehouse::open(wh)?;
    match cmd {
        RulesCommand::Show { tenant } => {
            let (version, text, _) = warehouse.tenant(&tenant)?.rules()?;
            println!("# rules version {version} of tenant {tenant}");
            print!("{text}");
        }
        RulesCommand::Set { tenant, file } => {
            let tenant = warehouse.tenant(&tenant)?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let version = tenant.set_rules(&text, &file.display().to_string())?;
            println!(
                "rules version {version} of tenant {} is now in force",
                tenant.id
            );
            super::keep_results(&warehouse, &tenant.id).await;
        }
    }
    Ok(())
}
