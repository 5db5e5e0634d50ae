//! `gridassess headers show|set`: a tenant's own header map, used by every later load.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use warehouse::Warehouse;

#[derive(Debug, Subcommand)]
pub enum HeadersCommand {
    /// Print the tenant's header map.
    Show {
        #[arg(long)]
        tenant: String,
    },
    /// Validate FILE (TOML: [table] "header in your files" = "column") and make it the
    /// tenant's header map, used by every later load.
    Set {
        #[arg(long)]
        tenant: String,
        file: PathBuf,
    },
}

pub fn run(wh: &Path, cmd: HeadersCommand) -> Result<()> {
    let warehouse = Warehouse::open(wh)?;
    match cmd {
        HeadersCommand::Show { tenant } => match warehouse.tenant(&tenant)?.header_map()? {
            Some((text, _)) => {
                println!("# header map of tenant {tenant}");
                print!("{text}");
            }
            None => println!(
                "# tenant {tenant} has no header map; set one with `gridassess headers set --tenant {tenant} FILE`"
            ),
        },
        HeadersCommand::Set { tenant, file } => {
            let tenant = warehouse.tenant(&tenant)?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let map = tenant.set_header_map(&text, &file.display().to_string())?;
            println!(
                "the header map of tenant {} ({} headers) is used by every later load",
                tenant.id,
                map.entries().len()
            );
        }
    }
    Ok(())
}
