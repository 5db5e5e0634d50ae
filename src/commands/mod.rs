//! One module per subcommand; each turns flags into library calls and prints the result.

mod loads;
mod rules;
mod sql;
mod tenant;

use anyhow::Result;

use crate::{Cli, Command};

pub async fn run(cli: Cli) -> Result<()> {
    let wh = cli.warehouse;
    match cli.command {
        Command::Init => tenant::init(&wh),
        Command::Tenant(cmd) => tenant::run(&wh, cmd).await,
        Command::Rules(cmd) => rules::run(&wh, cmd),
        Command::Ingest {
            tenant,
            paths,
            format,
        } => loads::ingest(&wh, &tenant, &paths, format).await,
        Command::Rejections {
            tenant,
            load_id,
            format,
        } => loads::rejections(&wh, &tenant, load_id, format).await,
        Command::Sql {
            tenant,
            format,
            query,
        } => sql::run(&wh, &tenant, &query, format).await,
    }
}
