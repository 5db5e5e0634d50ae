//! `gridassess`: the command line. It parses flags and calls the library crates; the work is
//! done in `ingest` and `engine`.

mod commands;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::Format;

#[derive(Debug, Parser)]
#[command(
    name = "gridassess",
    version,
    about = "Assessment analytics for grassroots party organizations: load a county's files, rank, report"
)]
struct Cli {
    /// The warehouse folder.
    #[arg(
        long,
        global = true,
        env = "GRIDASSESS_WAREHOUSE",
        default_value = "warehouse"
    )]
    warehouse: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an empty warehouse.
    Init,
    /// Add or list tenants (counties).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Show or set a tenant's assessment rules (rules.toml).
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Load files, folders and workbooks into a tenant; prints the reconciliation.
    Ingest {
        #[arg(long)]
        tenant: String,
        /// CSV, Excel or Parquet files, or folders of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List the rejected rows and warnings of a load (the newest by default).
    Rejections {
        #[arg(long)]
        tenant: String,
        #[arg(long = "load")]
        load_id: Option<u64>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run a read-only SQL query over a tenant's tables.
    Sql {
        #[arg(long)]
        tenant: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        query: String,
    },
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Add a tenant; it starts with the default rules.
    Add {
        id: String,
        #[arg(long)]
        name: String,
    },
    /// List the tenants.
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Print the rules in force.
    Show {
        #[arg(long)]
        tenant: String,
    },
    /// Validate FILE and make it the tenant's rules (a new rules version).
    Set {
        #[arg(long)]
        tenant: String,
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GRIDASSESS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
