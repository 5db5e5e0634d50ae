//! One module per subcommand; each turns flags into library calls and prints the result.

mod demo;
pub(crate) mod headers;
mod loads;
mod metrics;
mod report;
mod rules;
mod sql;
mod tenant;
mod users;

use anyhow::Result;

use crate::{AssessWhat, AttendanceWhat, Cli, Command};

pub async fn run(cli: Cli) -> Result<()> {
    let wh = cli.warehouse;
    let as_of = cli.as_of;
    if as_of.is_some() && !reads_as_of(&cli.command) {
        use clap::CommandFactory;
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--as-of is for the query commands (assess, coverage, attendance, points, grid, sql, report); a load always builds on the newest state",
            )
            .exit();
    }
    if let Some(scheduler) = cli.cluster {
        if !reads_as_of(&cli.command) && !matches!(cli.command, Command::Serve { .. }) {
            use clap::CommandFactory;
            Cli::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    "--cluster is for the query commands (assess, coverage, attendance, points, grid, sql, report, serve); loads and the cluster's own processes run here",
                )
                .exit();
        }
        engine::cluster::run_on(scheduler)?;
    }
    match cli.command {
        Command::Init { tables } => tenant::init(&wh, tables.as_ref()).await,
        Command::Tenant(cmd) => tenant::run(&wh, cmd).await,
        Command::Rules(cmd) => rules::run(&wh, cmd).await,
        Command::Headers(cmd) => headers::run(&wh, cmd),
        Command::Ingest {
            tenant,
            paths,
            format,
            replace,
            allow_mass_removal,
        } => {
            // The tenant's header map is added by `loads::ingest`, which opens the tenant.
            let options = ingest::LoadOptions {
                replace,
                allow_mass_removal,
                ..ingest::LoadOptions::default()
            };
            loads::ingest(&wh, &tenant, &paths, &options, format).await
        }
        Command::History { tenant, format } => loads::history(&wh, &tenant, format).await,
        Command::Rejections {
            tenant,
            load_id,
            format,
        } => loads::rejections(&wh, &tenant, load_id, format).await,
        Command::Assess {
            tenant,
            period,
            year,
            rules_version,
            out,
        } => {
            let what = match (period, year) {
                (Some(p), _) => AssessWhat::Period(p),
                (None, Some(y)) => AssessWhat::Year(y),
                (None, None) => anyhow::bail!("give --period P or --year Y"),
            };
            metrics::assess(&wh, &tenant, what, rules_version, as_of, &out.output()).await
        }
        Command::Coverage {
            tenant,
            level,
            findings,
            out,
        } => metrics::coverage(&wh, &tenant, level, findings, as_of, &out.output()).await,
        Command::Attendance {
            tenant,
            level,
            year,
            compliance,
            alerts,
            out,
        } => {
            let what = if compliance {
                AttendanceWhat::Compliance
            } else if alerts {
                AttendanceWhat::Alerts
            } else {
                AttendanceWhat::Rates
            };
            metrics::attendance(&wh, &tenant, level, year, what, as_of, &out.output()).await
        }
        Command::Points { tenant, year, out } => {
            metrics::points(&wh, &tenant, year, as_of, &out.output()).await
        }
        Command::Grid { tenant, level, out } => {
            metrics::grid(&wh, &tenant, level, as_of, &out.output()).await
        }
        Command::Generate {
            scale,
            seed,
            out,
            format,
        } => demo::generate(&scale, seed, &out, format.as_deref()),
        Command::Report {
            tenant,
            period,
            year,
            out,
        } => {
            let scope = match (period, year) {
                (Some(p), _) => reports::Scope::Period(p),
                (None, Some(y)) => reports::Scope::Year(y),
                (None, None) => anyhow::bail!("give --period P or --year Y"),
            };
            report::report(&wh, &tenant, scope, as_of, &out).await
        }
        Command::Demo { out } => demo::demo(&out).await,
        Command::Serve {
            listen,
            http,
            max_upload_mb,
            tls_cert,
            tls_key,
            audit_log,
            max_connections,
            max_connections_per_user,
            max_connections_per_tenant,
            lockout_after,
        } => {
            let options = server::wire::ServeOptions {
                admission: server::AdmissionLimits {
                    max_connections,
                    max_connections_per_user,
                    max_connections_per_tenant,
                    failures_before_lockout: lockout_after,
                    ..server::AdmissionLimits::default()
                },
                audit_log: Some(audit_log.unwrap_or_else(|| wh.join("audit.jsonl"))),
                warehouse: wh,
                // The pg-wire server by default; the console alone when only --http is given.
                listen: match (listen, http) {
                    (None, None) => Some(std::net::SocketAddr::from(([127, 0, 0, 1], 5433))),
                    (listen, _) => listen,
                },
                http,
                max_upload_bytes: max_upload_mb.saturating_mul(1024 * 1024),
                tls: tls_cert.zip(tls_key),
            };
            crate::allocator::trim_every(crate::allocator::TRIM_EVERY);
            server::wire::serve(options, shutdown_signal()).await?;
            eprintln!("stopped");
            Ok(())
        }
        Command::Sql {
            tenant,
            role,
            out,
            query,
        } => sql::run(&wh, &tenant, role, as_of, query.as_deref(), &out.output()).await,
        Command::User(cmd) => users::run(&wh, cmd),
        Command::Cluster(cmd) => cluster(&wh, cmd).await,
    }
}

/// `gridassess cluster …`: runs the process until it is stopped.
async fn cluster(wh: &std::path::Path, cmd: crate::ClusterCommand) -> Result<()> {
    let process = async {
        match cmd {
            crate::ClusterCommand::Scheduler { listen } => {
                eprintln!("cluster scheduler listening on {listen} (df://{listen})");
                server::cluster::scheduler(listen).await
            }
            crate::ClusterCommand::Executor {
                scheduler,
                listen,
                slots,
                tables,
            } => {
                eprintln!("cluster executor on {listen}, registering with {scheduler}");
                let options = server::cluster::ExecutorOptions {
                    scheduler,
                    listen,
                    slots,
                    tables,
                };
                server::cluster::executor(wh, options).await
            }
        }
    };
    tokio::select! {
        stopped = process => stopped?,
        () = shutdown_signal() => eprintln!("stopped"),
    }
    Ok(())
}

/// Computes and keeps the metric results of `tenant`'s committed state (see
/// [`engine::results`]), saying so on stderr. A failure is a warning, not an error: what was
/// committed stays committed, and each command computes the views it reads.
pub(crate) async fn keep_results(warehouse: &warehouse::Warehouse, tenant: &str) {
    match engine::results::refresh(warehouse, tenant).await {
        Ok(r) if r.already_kept => {}
        Ok(r) => eprintln!(
            "metric results kept: {} rows, computed in {:.1} s",
            r.rows,
            r.took.as_secs_f64()
        ),
        Err(e) => eprintln!(
            "warning: the metric results could not be kept ({e}); each command computes the views it reads until `gridassess tenant refresh {tenant}` succeeds"
        ),
    }
}

/// The commands that read a tenant's tables and so can read an earlier state.
fn reads_as_of(command: &Command) -> bool {
    matches!(
        command,
        Command::Assess { .. }
            | Command::Coverage { .. }
            | Command::Attendance { .. }
            | Command::Points { .. }
            | Command::Grid { .. }
            | Command::Sql { .. }
            | Command::Report { .. }
    )
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
