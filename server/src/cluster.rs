//! The processes of a gridassess cluster (`gridassess cluster scheduler|executor`): Apache
//! DataFusion Ballista's scheduler and executor, started from this binary so that both speak
//! gridassess' plans (the codec of [`engine::cluster`]: the guard's bounded functions travel
//! with their bound).
//!
//! A client (`gridassess --cluster df://HOST:PORT …`) plans each query in its own process, for
//! its own user: only that user's tenants, masked by role, go into the plan. The scheduler splits
//! the plan into stages; executors read the committed Parquet files the plan names and shuffle
//! between stages. So every process must reach the tables where the plan names them: at the
//! same path (a shared filesystem), or in the S3-compatible bucket a warehouse made with
//! `init --tables s3://…` keeps them in, with credentials from each process' environment. The
//! scheduler's and executors' ports belong on a trusted network: Ballista authenticates no
//! one, which is why the users and their roles stay with the client.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ballista_core::serde::generated::ballista::executor_status;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::{SchedulerConfig, TaskDistributionPolicy};
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::SessionConfig;
use engine::cluster::{Codec, Scheduler, TableStores};
use futures::StreamExt;
use url::Url;

/// What a cluster process could not do.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Ballista refused its configuration, or stopped with an error.
    #[error("the {process} stopped: {source}")]
    Ballista {
        /// "scheduler" or "executor".
        process: &'static str,
        /// Ballista's error.
        #[source]
        source: ballista_core::error::BallistaError,
    },
    /// The executor cannot read the warehouse it was told to serve.
    #[error("the executor cannot read the warehouse {}: {source}", path.display())]
    Warehouse {
        /// The folder given.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: warehouse::WarehouseError,
    },
    /// The executor cannot reach the object store the tables are in.
    #[error("the executor cannot read the tables: {0}")]
    Tables(#[source] warehouse::WarehouseError),
    /// Its working folder (shuffle files) could not be made.
    #[error("cannot make the executor's working folder: {0}")]
    WorkDir(#[source] std::io::Error),
    /// Two listening ports are needed, and the second one would not fit.
    #[error("the executor listens on {0} and the next port for its tasks; choose a lower port")]
    Port(SocketAddr),
}

/// Runs a scheduler on `listen` until the process is stopped.
pub async fn scheduler(listen: SocketAddr) -> Result<(), ClusterError> {
    let codec = Arc::new(Codec::default());
    let stores = TableStores::shared();
    // The cores of the executors registered now; kept current below.
    let cluster_cores = Arc::new(AtomicUsize::new(0));
    let cores = Arc::clone(&cluster_cores);
    let config = SchedulerConfig {
        bind_host: listen.ip().to_string(),
        bind_port: listen.port(),
        external_host: listen.ip().to_string(),
        // One task to each executor in turn: a county's queries are short, and Ballista's
        // default (fill one executor's slots first) leaves the second machine idle.
        task_distribution: TaskDistributionPolicy::RoundRobin,
        // A client plans its query into as many partitions as its own session has (by default
        // its own cores, 2 on an office PC), and Ballista gives a task as many of a stage's
        // partitions as the executor it goes to has free cores: two partitions all went to
        // the first executor, and a cluster's other executors stayed idle. So the scheduler
        // plans for at least every core of the cluster, and with the settings a cluster plan
        // needs (`engine::cluster::plan_settings`), whatever the client sent. Planning also
        // lists the committed files, which may be in an S3 bucket.
        override_session_builder: Some(Arc::new(move |config: SessionConfig| {
            let cores = cores.load(Ordering::Relaxed);
            let config = if cores > config.target_partitions() {
                config.with_target_partitions(cores)
            } else {
                config
            };
            let config = engine::cluster::plan_settings(config);
            let state = ballista_core::utils::default_session_builder(config)?;
            let runtime = RuntimeEnvBuilder::from_runtime_env(state.runtime_env())
                .with_object_store_registry(stores.clone())
                .build_arc()?;
            Ok(SessionStateBuilder::new_from_existing(state)
                .with_runtime_env(runtime)
                .build())
        })),
        override_logical_codec: Some(codec.clone()),
        override_physical_codec: Some(codec),
        ..SchedulerConfig::default()
    };
    let ballista = |source| ClusterError::Ballista {
        process: "scheduler",
        source,
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(ballista)?;
    // Executors come and go: their cores are counted again when one registers or is removed,
    // and every second for one that stopped answering (a query planned in between is split
    // for the cores counted last: slower, never wrong). An executor counts while it is active
    // and was heard from within the time after which Ballista gives it up.
    let state = cluster.cluster_state();
    let mut events = state.cluster_state_events().await.map_err(ballista)?;
    let given_up_after = config.executor_timeout_seconds;
    let counting = tokio::spawn(async move {
        let mut counted = 0;
        loop {
            let heard_since = ballista_core::utils::get_time_before(given_up_after);
            let alive = state.executor_heartbeats();
            let alive = |id: &str| {
                alive.get(id).is_some_and(|heartbeat| {
                    let active = matches!(
                        heartbeat.status.as_ref().and_then(|s| s.status.as_ref()),
                        Some(executor_status::Status::Active(_))
                    );
                    active && heartbeat.timestamp > heard_since
                })
            };
            let cores: usize = state
                .registered_executor_metadata()
                .await
                .iter()
                .filter(|executor| alive(&executor.id))
                .map(|executor| executor.specification.vcores as usize)
                .sum();
            if cores != counted {
                tracing::info!(
                    cores,
                    "the executors have {cores} cores; queries are split for them"
                );
                counted = cores;
            }
            cluster_cores.store(cores, Ordering::Relaxed);
            // The state that sends the events lives as long as this task: the stream never ends.
            let _ = tokio::time::timeout(Duration::from_secs(1), events.next()).await;
        }
    });
    tracing::info!(%listen, "cluster scheduler listening");
    let served = start_server(cluster, listen, Arc::new(config)).await;
    counting.abort();
    served.map_err(ballista)
}

/// What an executor is told at start.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler it registers with.
    pub scheduler: Scheduler,
    /// Where it serves its results (Arrow Flight); the next port takes its tasks (gRPC).
    pub listen: SocketAddr,
    /// Tasks it runs at once (0: one per core).
    pub slots: usize,
    /// The object store the tables are in (`s3://BUCKET/PREFIX`), for an executor on a machine
    /// without the warehouse folder; `None` reads the warehouse folder to find them.
    pub tables: Option<Url>,
}

/// Runs an executor of `warehouse`'s tables until the process is stopped (or the scheduler
/// tells it to stop).
pub async fn executor(warehouse: &Path, options: ExecutorOptions) -> Result<(), ClusterError> {
    // A plan names the committed files by their path or URL: an executor that cannot read them
    // there would fail every task it takes, so it refuses to start instead.
    let tables = match &options.tables {
        Some(url) => Some(url.clone()),
        None => warehouse::Warehouse::open(warehouse)
            .map_err(|source| ClusterError::Warehouse {
                path: warehouse.to_path_buf(),
                source,
            })?
            .tables_url()
            .cloned(),
    };
    if let Some(url) = &tables {
        warehouse::store::probe(url)
            .await
            .map_err(ClusterError::Tables)?;
    }
    let grpc_port = options
        .listen
        .port()
        .checked_add(1)
        .ok_or(ClusterError::Port(options.listen))?;
    // Shuffle files live here while a job needs them, and go with the process.
    let work_dir = tempfile::Builder::new()
        .prefix("gridassess-executor-")
        .tempdir()
        .map_err(ClusterError::WorkDir)?;
    let codec = Arc::new(Codec::default());
    let ip = options.listen.ip();
    let spill_dir = work_dir.path().to_string_lossy().into_owned();
    let stores = TableStores::shared();
    let config = ExecutorProcessConfig {
        bind_host: ip.to_string(),
        // An executor listening on every interface is reached at the address the scheduler
        // sees its registration come from.
        external_host: (!ip.is_unspecified()).then(|| ip.to_string()),
        port: options.listen.port(),
        grpc_port,
        scheduler_host: options.scheduler.host().to_string(),
        scheduler_port: options.scheduler.port(),
        vcores: options.slots,
        work_dir: Some(spill_dir.clone()),
        // Ballista's own runtime, plus the tables' S3 bucket when a plan names one.
        override_runtime_producer: Some(Arc::new(move |_| {
            RuntimeEnvBuilder::new()
                .with_temp_file_path(spill_dir.clone())
                .with_object_store_registry(stores.clone())
                .build_arc()
        })),
        override_logical_codec: Some(codec.clone()),
        override_physical_codec: Some(codec),
        ..ExecutorProcessConfig::default()
    };
    tracing::info!(listen = %options.listen, scheduler = %options.scheduler, "cluster executor starting");
    let result = start_executor_process(Arc::new(config)).await;
    drop(work_dir);
    result.map_err(|source| ClusterError::Ballista {
        process: "executor",
        source,
    })
}
