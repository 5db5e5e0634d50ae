//! Sessions whose queries run on an Apache DataFusion Ballista cluster (`--cluster
//! df://HOST:PORT`): a scheduler that splits each plan into stages, and executors that run them.
//!
//! A cluster session is built by the one session builder ([`crate::Session::open`]): the same
//! tenants, the same masking, the same views, the same guard. Three things differ, each so the
//! plan can leave this process:
//! - A Delta table is read as the Parquet files its committed version lists (a `ListingTable`
//!   over those files, [`committed_files`]). DataFusion's plan format carries such a scan, and
//!   every executor reads it with no Delta code. delta-rs 1.1's own scan node has no codec (its
//!   `DeltaPhysicalCodec` serves only the retired `DeltaScan` wrapper), and the warehouse writes
//!   neither partitions, deletion vectors nor column mapping, so the file list is the table.
//! - The metric views are plain views, inlined into each query, so their work runs on the
//!   executors. The rows kept with the commit are one machine's shortcut, not read here.
//! - The functions the guard bounds (`repeat`, `lpad`, …) travel with their bound ([`Codec`]),
//!   so an executor refuses what this process would.
//!
//! Where sessions run is a property of the process, like its allocator: the binary says it once
//! ([`run_on`]), before the first session opens.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use arrow::datatypes::SchemaRef;
use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::planner::BallistaQueryPlanner;
use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::catalog::TableProvider;
use datafusion::catalog::view::ViewTable;
use datafusion::common::DFSchema;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result as DfResult, TableReference};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::source_as_provider;
use datafusion::execution::TaskContext;
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::{EmptyRelation, Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use datafusion_proto::protobuf::LogicalPlanNode;
use object_store::ObjectStore;

use crate::bounded_functions::{bound_of, bounded};
use crate::error::QueryError;

/// The port a scheduler listens on when an address names none (Ballista's own default).
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// A cluster's scheduler, as `--cluster` names it: `df://HOST[:PORT]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scheduler {
    host: String,
    port: u16,
}

impl Scheduler {
    /// The host the scheduler listens on.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl FromStr for Scheduler {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = "a cluster is named df://HOST:PORT, e.g. df://127.0.0.1:50050";
        let url = url::Url::parse(s).map_err(|e| format!("{s:?}: {e}; {usage}"))?;
        if url.scheme() != "df" {
            return Err(format!("{s:?}: {usage}"));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("{s:?} names no host; {usage}"))?;
        if !matches!(url.path(), "" | "/")
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
        {
            return Err(format!("{s:?} has more than a host and a port; {usage}"));
        }
        Ok(Scheduler {
            host: host.to_string(),
            port: url.port().unwrap_or(DEFAULT_SCHEDULER_PORT),
        })
    }
}

impl fmt::Display for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "df://{}:{}", self.host, self.port)
    }
}

static SCHEDULER: OnceLock<Scheduler> = OnceLock::new();

/// Every session this process opens from now on runs its queries on `scheduler`'s cluster.
/// Said once, before the first session: a second, different scheduler is refused.
pub fn run_on(scheduler: Scheduler) -> Result<(), QueryError> {
    let set = SCHEDULER.get_or_init(|| scheduler.clone());
    if *set == scheduler {
        Ok(())
    } else {
        Err(QueryError::internal(format!(
            "this process already runs its queries on {set}, not {scheduler}"
        )))
    }
}

/// The cluster this process's sessions run on, if [`run_on`] named one.
pub fn scheduler() -> Option<&'static Scheduler> {
    SCHEDULER.get()
}

/// `config` as a cluster session needs it: Ballista's settings (a stage boundary cannot carry
/// some of DataFusion's in-process shortcuts), gridassess' codecs, and [`plan_settings`].
pub fn config(config: SessionConfig) -> SessionConfig {
    plan_settings(
        config
            .upgrade_for_ballista()
            .with_ballista_logical_extension_codec(Arc::new(Codec::default()))
            .with_ballista_physical_extension_codec(Arc::new(Codec::default()))
            .with_ballista_job_name("gridassess"),
    )
}

/// What a plan needs to give the in-process answer on a cluster. The client sets it, and the
/// scheduler sets it again on every query it plans: a client with other settings (a
/// `DATAFUSION_*` variable, another program) must not bring back a plan that is wrong there.
///
/// Ballista's adaptive planner is off: in 55.0 it rewrites window functions into stages whose
/// input has lost its order, and `assess --year` (ranks and running counts per branch) failed
/// on the executors with "Expects PARTITION BY expression to be ordered". The static planner
/// runs every metric view.
///
/// Sorts are not split per partition (`repartition_sorts`): a window's sort may leave out a
/// key the plan knows to be constant (`member_points` for one year sorts by branch alone), and
/// an executor, reading the rows from another stage, no longer knows it, so `points --year`
/// failed the same way. One sort above the exchange keeps what it knows.
///
/// Joins are hash joins, as in-process. Ballista defaults to sort-merge joins (DataFusion's
/// hash join cannot spill), which sorted every shuffled side: a province's attendance joined
/// to its meetings took 106 s on two executors against 15.5 s in one process. Ballista alone
/// decides which hash joins broadcast their smaller side (`broadcast_join_threshold_bytes`);
/// DataFusion is told never to collect a side into one partition, neither by size
/// (`hash_join_single_partition_threshold*` = 0) nor for every join (`repartition_joins`).
/// When DataFusion did, Ballista 55 re-partitioned each such join it found unsafe to
/// broadcast (a LEFT join, a side over its threshold or of unknown size) under a plan that
/// still counted on the old partitioning, and `assess --period` on the sample lost three of its
/// five groups with no error. Both cluster tests that compare every metric with the in-process
/// answer caught it.
pub fn plan_settings(config: SessionConfig) -> SessionConfig {
    let mut config = config.with_ballista_adaptive_query_planner(false);
    let optimizer = &mut config.options_mut().optimizer;
    optimizer.repartition_sorts = false;
    optimizer.prefer_hash_join = true;
    optimizer.repartition_joins = true;
    optimizer.hash_join_single_partition_threshold = 0;
    optimizer.hash_join_single_partition_threshold_rows = 0;
    config
}

/// Whether `scheduler` accepts a connection. Ballista connects only when a query runs, and a
/// refused connection then reads as a failed query; a session for a cluster that is not there
/// is refused at once, naming it.
pub(crate) async fn reach(scheduler: &Scheduler) -> Result<(), QueryError> {
    let unreachable = |reason: String| QueryError::ClusterUnreachable {
        scheduler: scheduler.to_string(),
        reason,
    };
    let connect = tokio::net::TcpStream::connect((scheduler.host.as_str(), scheduler.port));
    match tokio::time::timeout(std::time::Duration::from_secs(10), connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable("no answer within 10 s".into())),
    }
}

/// A context whose queries are planned here and executed on `scheduler`'s cluster; `config`
/// as [`config`] made it. (A user's session comes from [`crate::Session::open`]; this is for
/// a program that registers its own tables, such as the benchmark's Parquet runs.)
pub async fn context(
    scheduler: &Scheduler,
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> Result<SessionContext, QueryError> {
    let planner = Planner {
        cluster: BallistaQueryPlanner::with_extension(
            format!("http://{}:{}", scheduler.host, scheduler.port),
            config.ballista_config(),
            Arc::new(Codec::default()),
        ),
        here: DefaultPhysicalPlanner::default(),
    };
    let config = config.with_ballista_query_planner(Arc::new(planner));
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    Ok(SessionContext::remote_with_state(&scheduler.to_string(), state).await?)
}

/// Sends a query that reads the warehouse to the cluster, and plans here one that reads none of
/// it: the catalog a SQL client asks for when it connects (`pg_catalog`, `information_schema`),
/// `SELECT 1`. Those tables live in this process and have no codec; Ballista alone would send
/// them anyway, or answer a bare `SELECT` with no row.
struct Planner {
    cluster: BallistaQueryPlanner<LogicalPlanNode>,
    here: DefaultPhysicalPlanner,
}

impl fmt::Debug for Planner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Planner")
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl QueryPlanner for Planner {
    async fn create_physical_plan(
        &self,
        plan: &LogicalPlan,
        state: &dyn datafusion::catalog::Session,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if reads_the_warehouse(plan)? {
            self.cluster.create_physical_plan(plan, state).await
        } else {
            self.here.create_physical_plan(plan, state).await
        }
    }
}

/// Whether `plan` (its subqueries included) scans a table of the warehouse: the committed
/// files [`committed_files`] registers.
fn reads_the_warehouse(plan: &LogicalPlan) -> DfResult<bool> {
    let mut found = false;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && source_as_provider(&scan.source)?
                .downcast_ref::<ListingTable>()
                .is_some()
        {
            found = true;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(found)
}

/// A committed Delta table as the Parquet files of its version: a scan any executor can run.
pub(crate) async fn committed_files(
    ctx: &SessionContext,
    delta: &deltalake::DeltaTable,
    path: &std::path::Path,
) -> Result<Arc<dyn TableProvider>, QueryError> {
    // The columns and types exactly as the in-process Delta scan presents them.
    let schema: SchemaRef = delta.table_provider().await?.schema();
    if delta
        .get_file_uris()
        .map_or(true, |mut f| f.next().is_none())
    {
        // A table with no rows yet: a plan of no rows (a scan needs at least one file).
        let empty = LogicalPlan::EmptyRelation(EmptyRelation {
            produce_one_row: false,
            schema: Arc::new(DFSchema::try_from(schema.as_ref().clone())?),
        });
        return Ok(Arc::new(ViewTable::new(empty, None)));
    }
    let files = delta
        .get_file_uris()
        .map_err(|error| {
            QueryError::Warehouse(warehouse::WarehouseError::Delta {
                path: path.to_path_buf(),
                error: Box::new(error),
            })
        })?
        .map(|uri| ListingTableUrl::parse(&uri))
        .collect::<DfResult<Vec<_>>>()?;
    let state = ctx.state();
    let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
    // Partitions and statistics follow the session's settings.
    let options = ListingOptions::new(Arc::new(format)).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(files)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// The object stores a scheduler and its executors read committed files from: this machine's
/// files, and any S3-compatible bucket a plan names (a warehouse made with `init --tables
/// s3://…`), reached with the process' own environment (`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT`,
/// …; see `warehouse::store`). A bucket's store is made the first time a plan names it.
#[derive(Debug, Default)]
pub struct TableStores {
    known: DefaultObjectStoreRegistry,
}

impl TableStores {
    /// The registry, ready to give a [`RuntimeEnv`].
    pub fn shared() -> Arc<dyn ObjectStoreRegistry> {
        Arc::new(Self::default())
    }
}

impl ObjectStoreRegistry for TableStores {
    fn register_store(
        &self,
        url: &url::Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn deregister_store(&self, url: &url::Url) -> DfResult<Arc<dyn ObjectStore>> {
        self.known.deregister_store(url)
    }

    fn get_store(&self, url: &url::Url) -> DfResult<Arc<dyn ObjectStore>> {
        match self.known.get_store(url) {
            Ok(store) => Ok(store),
            Err(e) if !matches!(url.scheme(), "s3" | "s3a") => Err(e),
            Err(_) => {
                let store = warehouse::store::object_store(url)
                    .map_err(|e| DataFusionError::External(Box::new(e)))?;
                self.known.register_store(url, store.clone());
                Ok(store)
            }
        }
    }
}

/// The logical and physical codec of every gridassess cluster process (the client here, the
/// scheduler, the executors): Ballista's, plus the guard's bounded functions, which travel
/// as their name and their bound.
#[derive(Debug, Default)]
pub struct Codec {
    logical: BallistaLogicalExtensionCodec,
    physical: BallistaPhysicalExtensionCodec,
}

/// What a bounded function's bytes start with; the bound follows as a little-endian u128.
const BOUND_TAG: &[u8] = b"gridassess-bound:";

fn encode_bound(udf: &ScalarUDF, buf: &mut Vec<u8>) -> bool {
    match bound_of(udf) {
        Some(max_bytes) => {
            buf.extend_from_slice(BOUND_TAG);
            buf.extend_from_slice(&max_bytes.to_le_bytes());
            true
        }
        None => false,
    }
}

fn decode_bound(name: &str, buf: &[u8]) -> Option<DfResult<Arc<ScalarUDF>>> {
    let bytes = buf.strip_prefix(BOUND_TAG)?;
    let max_bytes = match <[u8; 16]>::try_from(bytes) {
        Ok(b) => u128::from_le_bytes(b),
        Err(_) => {
            return Some(Err(DataFusionError::Internal(format!(
                "the bound of {name} arrived damaged ({} bytes)",
                bytes.len()
            ))));
        }
    };
    Some(bounded(name, max_bytes).ok_or_else(|| {
        DataFusionError::Internal(format!("{name} arrived bounded, and is not bounded here"))
    }))
}

impl LogicalExtensionCodec for Codec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> DfResult<Extension> {
        self.logical.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> DfResult<()> {
        self.logical.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> DfResult<Arc<dyn TableProvider>> {
        self.logical
            .try_decode_table_provider(buf, table_ref, schema, ctx)
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> DfResult<()> {
        self.logical.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> DfResult<Arc<dyn FileFormatFactory>> {
        self.logical.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> DfResult<()> {
        self.logical.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<ScalarUDF>> {
        decode_bound(name, buf).unwrap_or_else(|| self.logical.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> DfResult<()> {
        if encode_bound(node, buf) {
            return Ok(());
        }
        self.logical.try_encode_udf(node, buf)
    }
}

impl PhysicalExtensionCodec for Codec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        self.physical.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<()> {
        self.physical.try_encode(node, buf, proto_converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<ScalarUDF>> {
        decode_bound(name, buf).unwrap_or_else(|| self.physical.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> DfResult<()> {
        if encode_bound(node, buf) {
            return Ok(());
        }
        self.physical.try_encode_udf(node, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheduler_is_named_by_host_and_port() {
        let s: Scheduler = "df://127.0.0.1:50060".parse().unwrap();
        assert_eq!((s.host(), s.port()), ("127.0.0.1", 50060));
        assert_eq!(s.to_string(), "df://127.0.0.1:50060");
        let s: Scheduler = "df://scheduler.county.local".parse().unwrap();
        assert_eq!(s.port(), DEFAULT_SCHEDULER_PORT);
        for bad in [
            "127.0.0.1:50050",
            "http://127.0.0.1:50050",
            "df://",
            "df://host:50050/warehouse",
            "df://user@host:50050",
            "df://host:99999",
        ] {
            let err = bad.parse::<Scheduler>().unwrap_err();
            assert!(err.contains("df://HOST:PORT"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_bounded_function_travels_with_its_bound() {
        let ours = bounded("repeat", 1024).unwrap();
        let codec = Codec::default();
        let mut buf = Vec::new();
        LogicalExtensionCodec::try_encode_udf(&codec, &ours, &mut buf).unwrap();
        let back = LogicalExtensionCodec::try_decode_udf(&codec, "repeat", &buf).unwrap();
        assert_eq!(bound_of(&back), Some(1024));
        let mut buf = Vec::new();
        PhysicalExtensionCodec::try_encode_udf(&codec, &ours, &mut buf).unwrap();
        let back = PhysicalExtensionCodec::try_decode_udf(&codec, "repeat", &buf).unwrap();
        assert_eq!(bound_of(&back), Some(1024));

        // A damaged bound is an error, never an unbounded function.
        buf.truncate(buf.len() - 1);
        assert!(PhysicalExtensionCodec::try_decode_udf(&codec, "repeat", &buf).is_err());
        // DataFusion's own functions travel by name alone.
        let plain = datafusion::functions::string::upper();
        let mut buf = Vec::new();
        LogicalExtensionCodec::try_encode_udf(&codec, &plain, &mut buf).unwrap();
        assert!(buf.is_empty());
    }
}
