//! `gridassess`: the command line. It parses flags and calls the library crates; the work is
//! done in `ingest` (loads), `engine` (metrics and SQL), `server` (users, serve) and `reports`.

mod allocator;
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

    /// Read the state committed by load N (see `history`) instead of the newest one; for the
    /// query commands (assess, coverage, attendance, points, grid, sql, report).
    #[arg(long, global = true, value_name = "LOAD")]
    as_of: Option<u64>,

    /// Run the query commands (assess, coverage, attendance, points, grid, sql, report, serve)
    /// on an Apache DataFusion Ballista cluster started with `gridassess cluster`: the same
    /// answers, computed by its executors.
    #[arg(
        long,
        global = true,
        env = "GRIDASSESS_CLUSTER",
        value_name = "df://HOST:PORT"
    )]
    cluster: Option<engine::cluster::Scheduler>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an empty warehouse.
    Init {
        /// Keep the tables in an S3-compatible object store (an empty bucket or prefix),
        /// so that cluster executors on other machines read them: s3://BUCKET/PREFIX. The
        /// credentials and endpoint come from the environment (AWS_ACCESS_KEY_ID,
        /// AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT, AWS_ALLOW_HTTP); the manifest and
        /// the rest of the warehouse stay in its folder.
        #[arg(long, value_name = "s3://BUCKET/PREFIX", value_parser = tables_url)]
        tables: Option<url::Url>,
    },
    /// Add or list tenants (counties).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Add, list or remove the users of the SQL server (passwords are read from stdin).
    #[command(subcommand)]
    User(UserCommand),
    /// Show or set a tenant's assessment rules (rules.toml).
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Show or set a tenant's own header map (the headers of its files → columns).
    #[command(subcommand)]
    Headers(commands::headers::HeadersCommand),
    /// Load files, folders and workbooks into a tenant; prints the reconciliation.
    Ingest {
        #[arg(long)]
        tenant: String,
        /// CSV, Excel or Parquet files, or folders of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Tables whose files are full lists (e.g. members,branches): committed rows they do
        /// not list are removed, with the rows that point at them.
        #[arg(long, value_delimiter = ',', value_name = "TABLE[,TABLE…]")]
        replace: Vec<String>,
        /// Let --replace remove more than half of a table.
        #[arg(long, requires = "replace")]
        allow_mass_removal: bool,
    },
    /// List a tenant's loads with the table versions each committed (for --as-of).
    History {
        #[arg(long)]
        tenant: String,
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
    /// The red-flag ranking of one period, or the year's summary.
    Assess {
        #[arg(long)]
        tenant: String,
        /// A period: 2024-B3, 2024年1-2月, 2024-Q2, …
        #[arg(long, conflicts_with = "year", required_unless_present = "year")]
        period: Option<model::Period>,
        #[arg(long)]
        year: Option<i32>,
        /// Recompute under an earlier version of the rules (see `rules show`).
        #[arg(long)]
        rules_version: Option<u32>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// The two coverage rates per unit at a grid level, or the findings to act on.
    Coverage {
        #[arg(long)]
        tenant: String,
        /// Grid level: 0 county, 1 district, 2 township, 3 village.
        #[arg(long, default_value_t = COVERAGE_LEVEL, value_parser = clap::value_parser!(u8).range(0..=5))]
        level: u8,
        #[arg(long)]
        findings: bool,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Monthly attendance per branch (or per unit at --level), 三会一课 compliance, or alerts.
    Attendance {
        #[arg(long)]
        tenant: String,
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=5))]
        level: Option<u8>,
        #[arg(long)]
        year: Option<i32>,
        #[arg(long, conflicts_with = "alerts")]
        compliance: bool,
        #[arg(long)]
        alerts: bool,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Members' annual points, grades and top share.
    Points {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        year: i32,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Grid visits and issue resolution per unit at a grid level.
    Grid {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = GRID_LEVEL, value_parser = clap::value_parser!(u8).range(0..=5))]
        level: u8,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Write county data: the sample county, or counties, cities and provinces of realistic
    /// shape, the same bytes for the same seed.
    Generate {
        /// sample, county, city or province.
        #[arg(long)]
        scale: String,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long)]
        out: PathBuf,
        /// csv or parquet (province: parquet only).
        #[arg(long)]
        format: Option<String>,
    },
    /// Charts (PNG, SVG), an offline HTML report and a print-ready ranking workbook.
    Report {
        #[arg(long)]
        tenant: String,
        /// A period: 2024-B3, 2024年1-2月, 2024-Q2, …
        #[arg(long, conflicts_with = "year", required_unless_present = "year")]
        period: Option<model::Period>,
        #[arg(long)]
        year: Option<i32>,
        /// The folder to write charts/, report.html and ranking.xlsx into.
        #[arg(long)]
        out: PathBuf,
    },
    /// Serve SQL over the PostgreSQL wire protocol (psql, DBeaver, FineBI, Python), and the web
    /// console for the county office with --http.
    Serve {
        /// The PostgreSQL wire protocol's address (127.0.0.1:5433 when neither this nor --http
        /// is given).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// The web console's address (e.g. 0.0.0.0:8080); with --tls-*, HTTPS only.
        #[arg(long)]
        http: Option<std::net::SocketAddr>,
        /// The most MB one upload to the console may send; its zips may unpack to four times
        /// as much.
        #[arg(long, default_value_t = 512)]
        max_upload_mb: u64,
        /// PEM certificate chain; with --tls-key, only TLS connections are accepted.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Where each query is recorded as a JSON line (default: audit.jsonl in the warehouse).
        #[arg(long)]
        audit_log: Option<PathBuf>,
        /// Open connections in all; more are told the server is full.
        #[arg(long, default_value_t = server::AdmissionLimits::default().max_connections)]
        max_connections: usize,
        /// Open connections of one user.
        #[arg(long, default_value_t = server::AdmissionLimits::default().max_connections_per_user)]
        max_connections_per_user: usize,
        /// Open connections reading one county.
        #[arg(long, default_value_t = server::AdmissionLimits::default().max_connections_per_tenant)]
        max_connections_per_tenant: usize,
        /// Failed logins (of one user, or from one address) before it is locked out for
        /// 15 minutes; each failure past the third already waits 1, 2, 4, then 8 seconds.
        #[arg(long, default_value_t = server::AdmissionLimits::default().failures_before_lockout)]
        lockout_after: u32,
    },
    /// Start the processes of a cluster, for when one machine is not enough (see `--cluster`).
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// The sample county end to end: load, rank, write the metrics and the report.
    Demo {
        #[arg(long, default_value = "demo")]
        out: PathBuf,
    },
    /// Run a read-only SQL query over a tenant's tables.
    Sql {
        /// A tenant, or several separated by commas (their union, with a tenant_id column).
        #[arg(long)]
        tenant: String,
        /// See the data as this role would: admin, analyst (personal data masked) or viewer
        /// (the metric views only).
        #[arg(long, default_value = "admin")]
        role: engine::access::Role,
        #[command(flatten)]
        out: OutputArgs,
        /// The query; without one, statements ending in ';' are read from standard input.
        query: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
struct OutputArgs {
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write to FILE instead of standard output (needed for parquet and xlsx).
    #[arg(long)]
    output: Option<PathBuf>,
}

impl OutputArgs {
    fn output(&self) -> output::Output<'_> {
        output::Output {
            format: self.format,
            file: self.output.as_deref(),
        }
    }
}

/// SPEC §4's default level of `coverage`: townships.
const COVERAGE_LEVEL: u8 = 2;
/// SPEC §4's default level of `grid`: villages and communities, where visits happen.
const GRID_LEVEL: u8 = 3;

#[derive(Debug)]
enum AssessWhat {
    Period(model::Period),
    Year(i32),
}

#[derive(Debug, Clone, Copy)]
enum AttendanceWhat {
    Rates,
    Compliance,
    Alerts,
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Add a tenant; it starts with the default rules.
    Add {
        id: String,
        #[arg(long)]
        name: String,
    },
    /// Compute and keep (again) the metric results of tenants' committed states. A load and
    /// `rules set` do this themselves; run it when a load warned that it could not, or when a
    /// command says the kept results cannot be read. Several tenants are computed at once.
    Refresh {
        /// The tenants (one or more).
        #[arg(required_unless_present = "all")]
        ids: Vec<String>,
        /// Every tenant of the warehouse.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
    /// List the tenants.
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show, or change, a tenant's query limits (memory, time, result rows and bytes; the rest in
    /// its limits.toml).
    Limits {
        id: String,
        /// Memory all of the tenant's running queries may hold together, in MiB.
        #[arg(long)]
        memory_mb: Option<u64>,
        /// A query running longer is cancelled.
        #[arg(long)]
        timeout_seconds: Option<f64>,
        /// A result with more rows is refused.
        #[arg(long)]
        max_rows: Option<u64>,
        /// A result holding more MiB is refused, however few its rows.
        #[arg(long)]
        max_result_mb: Option<u64>,
        /// The most MiB one call of repeat, lpad, replace, range, … may build for a batch.
        #[arg(long)]
        max_function_output_mb: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Start a scheduler: it splits each query of a `--cluster` client into stages and hands
    /// them to its executors. Keep its port on a trusted network: the cluster checks no
    /// passwords (users and roles are checked by the client that plans the query).
    Scheduler {
        #[arg(long, default_value = "127.0.0.1:50050")]
        listen: std::net::SocketAddr,
    },
    /// Start an executor that reads the warehouse's tables (`--warehouse`, at the same path as
    /// every client sees it, or `--tables`) and runs the scheduler's tasks.
    Executor {
        /// The scheduler to register with: HOST:PORT or df://HOST:PORT.
        #[arg(long, value_parser = scheduler_address)]
        scheduler: engine::cluster::Scheduler,
        /// Where it serves its results; the next port takes its tasks.
        #[arg(long, default_value = "127.0.0.1:50051")]
        listen: std::net::SocketAddr,
        /// Tasks it runs at once (default: one per core).
        #[arg(long, default_value_t = 0)]
        slots: usize,
        /// On a machine without the warehouse folder: the object store its tables are in (as
        /// `init --tables` named it), reached with this machine's AWS_* environment.
        #[arg(long, value_name = "s3://BUCKET/PREFIX", value_parser = tables_url)]
        tables: Option<url::Url>,
    },
}

/// An object store place for the tables, checked as `init --tables` takes it.
fn tables_url(s: &str) -> Result<url::Url, String> {
    warehouse::store::parse_tables_url(s).map_err(|e| e.to_string())
}

/// A scheduler given as HOST:PORT (as `cluster scheduler --listen` printed it) or df://HOST:PORT.
fn scheduler_address(s: &str) -> Result<engine::cluster::Scheduler, String> {
    if s.contains("://") {
        s.parse()
    } else {
        format!("df://{s}").parse()
    }
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from standard input (asked twice on a terminal).
    Add {
        name: String,
        /// The tenants the user may read, separated by commas.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        role: engine::access::Role,
    },
    /// List the users and what they may read (never their passwords).
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Remove a user.
    Remove { name: String },
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
    // Only the processes that run until stopped (the server, a cluster's scheduler and
    // executors) are capped; parsing starts no thread, so this still comes before any.
    if matches!(cli.command, Command::Serve { .. } | Command::Cluster(_)) {
        allocator::cap_arenas();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GRIDASSESS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,audit=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Planning recurses over expression trees; the guardrails bound their size, and roomy
    // stacks keep every accepted query well clear of an overflow.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(16 * 1024 * 1024)
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
        Err(e)
            if e.downcast_ref::<ingest::IngestError>()
                .is_some_and(|e| e.is_usage()) =>
        {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            // Every library error says what it was doing and chains its cause (the crates'
            // one convention: a message never repeats its source), so the chain reads top-down.
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
