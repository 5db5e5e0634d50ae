//! The one way to open a DataFusion session over the warehouse: [`Session::open`] for an
//! [`Access`] (whose tenants, which role, which rules version). The CLI's metric commands, the
//! report, `sql`, the wire server and the benchmark all come through here.
//!
//! Building a session registers every Delta table, opened when a query first names it
//! ([`crate::lazy_schema`]), and every view: the rows kept with the commit
//! ([`crate::results`]), or views that compute their rows on first read (see
//! [`crate::views::materialized`]). Both are kept per user kind and committed state
//! ([`SessionKey`]), so the next session of the same kind — every psql connection, every
//! dashboard refresh — starts from the same providers and reads the views' rows from memory
//! until a load or a rules change commits a new state.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::datasource::TableType;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::lit;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use futures::FutureExt;
use model::Limits;
use model::schema::TABLES;
use warehouse::{Manifest, Tenant, Warehouse, WarehouseError};

use crate::access::{Access, Role, column};
use crate::bounded_functions::bound_functions;
use crate::constant_filters::ConstantFiltersAbove;
use crate::error::QueryError;
use crate::guard;
use crate::lazy_schema::{LazySchema, Opener};

/// A user's session: the tables and views `access` allows, under the tenants' limits.
#[derive(Clone)]
pub struct Session {
    ctx: SessionContext,
    limits: Limits,
    queue: guard::Queue,
    access: Access,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("access", &self.access)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session for `access` over the committed state of its tenants, with the tenants'
    /// limits (the strictest of them when there are several) and their memory pool.
    pub async fn open(warehouse: &Warehouse, access: &Access) -> Result<Session, QueryError> {
        let (ctx, limits) = open_context(warehouse, access).await?;
        Ok(Session {
            queue: guard::Queue::of(&access.tenants, &limits)?,
            ctx,
            limits,
            access: access.clone(),
        })
    }

    /// The DataFusion context, for a caller that plans on its own (the wire server).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The limits every ad-hoc query of this session runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The line this session's tenants' queries wait in (see [`guard::Queue`]).
    pub fn queue(&self) -> &guard::Queue {
        &self.queue
    }

    /// Whose session it is.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// The names of the tables and views the session holds, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names = self
            .ctx
            .catalog("datafusion")
            .and_then(|c| c.schema("public"))
            .map(|s| s.table_names())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Runs one ad-hoc read-only query through the guard (size check, time, memory and row
    /// limits).
    pub async fn sql(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
        guard::run(&self.ctx, sql, &self.limits, &self.queue).await
    }
}

async fn open_context(
    warehouse: &Warehouse,
    access: &Access,
) -> Result<(SessionContext, Limits), QueryError> {
    let mut limits: Option<Limits> = None;
    for t in &access.tenants {
        let l = warehouse.tenant(t)?.limits()?;
        limits = Some(match limits {
            None => l,
            Some(prev) => prev.strictest(&l),
        });
    }
    let limits = limits.unwrap_or_default();
    let runtime = guard::runtime_for(&access.tenants, &limits)?;
    let cluster = crate::cluster::scheduler();
    let config = match cluster {
        Some(scheduler) => {
            crate::cluster::reach(scheduler).await?;
            crate::cluster::config(config()?)
        }
        None => config()?,
    };
    let config = || config.clone();

    let key = SessionKey::of(warehouse, access, &limits, cluster.is_some())?;
    let schema = match cache::get(&key) {
        Some(schema) => schema,
        None => {
            let schema = build_session(
                warehouse,
                access,
                config,
                runtime.clone(),
                cluster.is_some(),
            )
            .await?;
            cache::put(key, schema.clone());
            schema
        }
    };
    let session = session_over(config(), runtime, &schema, cluster).await?;
    bound_functions(&session, &limits)?;
    Ok((session, limits))
}

/// What makes two sessions the same: the user's tenants and role, each tenant's committed
/// generation and rules version, the memory pool their tables were registered under, and whether
/// the tables are read in place or by a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SessionKey {
    access: Access,
    state: Vec<(u64, u32)>,
    memory_mb: u64,
    on_cluster: bool,
}

impl SessionKey {
    fn of(
        warehouse: &Warehouse,
        access: &Access,
        limits: &Limits,
        on_cluster: bool,
    ) -> Result<Self, QueryError> {
        let mut state = Vec::with_capacity(access.tenants.len());
        for t in &access.tenants {
            let tenant = warehouse.tenant(t)?;
            let version = match access.rules_version {
                Some(v) => tenant.rules_version(v)?.0,
                None => tenant.rules()?.0,
            };
            state.push((manifest_of(&tenant, access)?.generation, version));
        }
        Ok(SessionKey {
            access: access.clone(),
            state,
            memory_mb: limits.memory_mb,
            on_cluster,
        })
    }
}

/// The committed state `access` reads: the newest, or the one load `as_of` committed.
fn manifest_of(tenant: &Tenant, access: &Access) -> Result<Manifest, WarehouseError> {
    match access.as_of {
        Some(load) => tenant.manifest_at(load),
        None => tenant.manifest(),
    }
}

/// Drops every kept session, so the next one opens its tables and computes its views anew
/// (a benchmark of the cold path calls this between runs).
pub fn forget_sessions() {
    cache::clear();
}

mod cache {
    use super::*;

    type Providers = Arc<LazySchema>;

    /// Kinds of sessions kept at once; past it the oldest state goes first.
    const KEPT: usize = 32;

    fn map() -> &'static Mutex<HashMap<SessionKey, (u64, Providers)>> {
        static SESSIONS: OnceLock<Mutex<HashMap<SessionKey, (u64, Providers)>>> = OnceLock::new();
        SESSIONS.get_or_init(Default::default)
    }

    fn tick() -> u64 {
        static TICK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        TICK.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    pub(super) fn get(key: &SessionKey) -> Option<Providers> {
        let mut map = map().lock().ok()?;
        let entry = map.get_mut(key)?;
        entry.0 = tick();
        Some(entry.1.clone())
    }

    pub(super) fn put(key: SessionKey, providers: Providers) {
        let Ok(mut map) = map().lock() else { return };
        // An older committed state of the same user kind is never asked for again.
        map.retain(|k, _| k.access != key.access);
        if map.len() >= KEPT
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, (t, _))| *t)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(key, (tick(), providers));
    }

    pub(super) fn clear() {
        if let Ok(mut map) = map().lock() {
            map.clear();
        }
    }
}

/// A session whose `public` schema is `schema` (a fork of it, so what the session registers
/// later stays its own), executing here or on `cluster`.
async fn session_over(
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
    schema: &LazySchema,
    cluster: Option<&crate::cluster::Scheduler>,
) -> Result<SessionContext, QueryError> {
    let session = match cluster {
        Some(scheduler) => crate::cluster::context(scheduler, config, runtime).await?,
        None => SessionContext::new_with_config_rt(config, runtime),
    };
    let catalog = session
        .catalog("datafusion")
        .ok_or_else(|| QueryError::internal("the session has no default catalog"))?;
    catalog.register_schema("public", Arc::new(schema.fork()))?;
    Ok(session)
}

/// Registers what `access` may see of its tenants; returns the schema that holds it. Tables are
/// opened when a query first names them ([`LazySchema`]); the views are the kept results, or
/// views computed on first read. For a cluster, tables are their committed files and views are
/// inlined into each query (see [`crate::cluster`]).
async fn build_session(
    warehouse: &Warehouse,
    access: &Access,
    config: impl Fn() -> SessionConfig,
    runtime: Arc<RuntimeEnv>,
    on_cluster: bool,
) -> Result<Arc<LazySchema>, QueryError> {
    // One session per tenant, with (masked) tables and the views over them, built at once.
    let per_tenant = futures::future::try_join_all(access.tenants.iter().map(|t| {
        let (config, runtime) = (config(), runtime.clone());
        async move {
            let tenant = warehouse.tenant(t)?;
            let manifest = manifest_of(&tenant, access)?;
            let schema = LazySchema::default();
            let mask = access.role == Role::Analyst;
            let opening = Opening {
                root: warehouse.root().to_path_buf(),
                tenant: t.clone(),
                manifest: manifest.clone(),
                config: config.clone(),
                runtime: runtime.clone(),
                on_cluster,
            };
            for table in TABLES {
                schema.add(table.name, TableType::Base, opening.table(table.name, mask));
            }
            if access.role == Role::Admin {
                schema.add(
                    crate::access::AUDIT_LOADS,
                    TableType::View,
                    opening.audit_loads(),
                );
            }
            let schema = Arc::new(schema);
            let ctx = SessionContext::new_with_config_rt(config, runtime);
            ctx.catalog("datafusion")
                .ok_or_else(|| QueryError::internal("the session has no default catalog"))?
                .register_schema("public", schema.clone())?;
            let (version, _, rules) = match access.rules_version {
                Some(v) => tenant.rules_version(v)?,
                None => tenant.rules()?,
            };
            if on_cluster {
                crate::views::register_inline(&ctx, &rules, version).await?;
                return Ok::<_, QueryError>((t.clone(), ctx, schema));
            }
            // The rows kept with the commit when there are any; computed on first read if not.
            let kept = tenant
                .stored_results(&crate::results::key(manifest.generation, version, &rules))
                .map(|stored| crate::results::register(&ctx, t, &stored, &rules, version))
                .transpose()?
                .unwrap_or(false);
            if !kept {
                crate::views::register(&ctx, &rules, version).await?;
            }
            Ok::<_, QueryError>((t.clone(), ctx, schema))
        }
    }))
    .await?;

    if let [(_, _, schema)] = per_tenant.as_slice()
        && access.role != Role::Viewer
    {
        return Ok(schema.clone());
    }

    // A schema that holds only the allowed names; each is a view over the tenant sessions'
    // tables (one tenant), or their union with the tenant's id first, made when a query first
    // names it.
    let per_tenant: Arc<Vec<(String, SessionContext)>> =
        Arc::new(per_tenant.into_iter().map(|(t, ctx, _)| (t, ctx)).collect());
    let schema = LazySchema::default();
    for name in access.names() {
        let per_tenant = per_tenant.clone();
        schema.add(
            name,
            TableType::View,
            Box::new(move || {
                let per_tenant = per_tenant.clone();
                async move { union_of(&per_tenant, name).await }.boxed()
            }),
        );
    }
    Ok(Arc::new(schema))
}

/// `name` of every tenant session, with the tenant's id first when there are several.
async fn union_of(
    per_tenant: &[(String, SessionContext)],
    name: &str,
) -> Result<Arc<dyn TableProvider>, QueryError> {
    let several = per_tenant.len() > 1;
    let mut union: Option<DataFrame> = None;
    for (t, ctx) in per_tenant {
        let df = ctx.table(name).await?;
        let df = if several {
            let mut exprs = vec![lit(t.as_str()).alias("tenant_id")];
            exprs.extend(df.schema().fields().iter().map(|f| column(f.name())));
            df.select(exprs)?
        } else {
            df
        };
        union = Some(match union {
            None => df,
            // Tenants may weigh different indicators; by name, missing ones are null.
            Some(u) => u.union_by_name(df)?,
        });
    }
    let df = union.ok_or_else(|| QueryError::internal("a session without tenants"))?;
    Ok(df.into_view())
}

/// What opening one of a tenant's tables needs, owned, so the opener can run whenever a query
/// first names the table.
#[derive(Clone)]
struct Opening {
    root: std::path::PathBuf,
    tenant: String,
    manifest: Manifest,
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
    on_cluster: bool,
}

impl Opening {
    /// A context to build a provider in: the session's runtime (where the table's object store
    /// is registered), without a reference back to the session.
    fn context(&self) -> SessionContext {
        SessionContext::new_with_config_rt(self.config.clone(), self.runtime.clone())
    }

    fn table(&self, name: &'static str, mask: bool) -> Opener {
        let opening = self.clone();
        Box::new(move || {
            let opening = opening.clone();
            async move {
                let tenant = Warehouse::open(&opening.root)?.tenant(&opening.tenant)?;
                let ctx = opening.context();
                let delta = tenant.delta_at(name, &opening.manifest).await?;
                let provider =
                    delta_provider(&ctx, &tenant, name, delta, opening.on_cluster).await?;
                let def = TABLES
                    .iter()
                    .find(|t| t.name == name)
                    .ok_or_else(|| QueryError::internal(format!("no table {name}")))?;
                if mask && def.columns.iter().any(|c| c.mask.is_some()) {
                    crate::access::masked(&ctx, def, provider)
                } else {
                    Ok(provider)
                }
            }
            .boxed()
        })
    }

    fn audit_loads(&self) -> Opener {
        let opening = self.clone();
        Box::new(move || {
            let opening = opening.clone();
            async move {
                let tenant = Warehouse::open(&opening.root)?.tenant(&opening.tenant)?;
                let ctx = opening.context();
                audit_loads(&ctx, &tenant, &opening.manifest, opening.on_cluster).await
            }
            .boxed()
        })
    }
}

/// The configuration of every gridassess session: DataFusion's defaults, then any
/// `DATAFUSION_*` environment variable (e.g. `DATAFUSION_EXECUTION_BATCH_SIZE=16384`), so an
/// operator can tune a deployment — and a benchmark can try a setting — without a rebuild.
pub fn config() -> Result<SessionConfig, QueryError> {
    let mut config = SessionConfig::from_env()?
        .with_information_schema(true)
        .with_default_catalog_and_schema("datafusion", "public");
    if std::env::var_os("DATAFUSION_OPTIMIZER_ENABLE_WINDOW_TOPN").is_none() {
        // "The top 3 of each township" keeps a small heap per township instead of sorting
        // every row: 5.9 M point entries, 1.8 s -> 0.4 s and 900 -> 180 MB. DataFusion leaves
        // it off for many-valued partition keys; a county's groups (townships, branches,
        // periods) are few.
        config.options_mut().optimizer.enable_window_topn = true;
    }
    Ok(config)
}

/// Registers the tenant's tables in `ctx` under their SPEC names; with `mask`, personal columns
/// are masked inside each provider (see [`crate::access`]).
pub(crate) async fn register_tables(
    ctx: &SessionContext,
    tenant: &Tenant,
    manifest: &Manifest,
    mask: bool,
) -> Result<(), QueryError> {
    // Opening a Delta table reads its log; the nine are read at once.
    let opened = futures::future::try_join_all(
        TABLES
            .iter()
            .map(|table| tenant.delta_at(table.name, manifest)),
    )
    .await?;
    for (table, delta) in TABLES.iter().zip(opened) {
        let provider = delta_provider(ctx, tenant, table.name, delta, false).await?;
        let provider = if mask && table.columns.iter().any(|c| c.mask.is_some()) {
            crate::access::masked(ctx, table, provider)?
        } else {
            provider
        };
        ctx.register_table(table.name, provider)?;
    }
    Ok(())
}

/// [`crate::access::AUDIT_LOADS`]: the tenant's load log (`_loads`) with each load's
/// reconciliation (`_load_tables`), as of `manifest`.
async fn audit_loads(
    ctx: &SessionContext,
    tenant: &Tenant,
    manifest: &Manifest,
    on_cluster: bool,
) -> Result<Arc<dyn TableProvider>, QueryError> {
    let read = async |table: &str| -> Result<DataFrame, QueryError> {
        let delta = tenant.delta_at(table, manifest).await?;
        Ok(ctx.read_table(delta_provider(ctx, tenant, table, delta, on_cluster).await?)?)
    };
    let loads = read(warehouse::LOADS_TABLE).await?;
    let tables = read(warehouse::LOAD_TABLES_TABLE).await?.select(vec![
        column("load_id").alias("t_load_id"),
        column("table"),
        column("read"),
        column("loaded"),
        column("rejected"),
        column("warnings"),
        column("removed"),
    ])?;
    let joined = loads
        .join(
            tables,
            datafusion::common::JoinType::Inner,
            &["load_id"],
            &["t_load_id"],
            None,
        )?
        .select(vec![
            column("load_id"),
            column("loaded_at"),
            column("table"),
            column("read"),
            column("loaded"),
            column("rejected"),
            column("warnings"),
            column("removed"),
            column("rules_version"),
            column("files"),
        ])?;
    Ok(joined.into_view())
}

/// The provider a session reads a tenant's Delta `table` through: its files reachable from the
/// session, and filters without a column kept above the scan ([`ConstantFiltersAbove`]). For a
/// cluster, the Parquet files of the committed version ([`crate::cluster::committed_files`]).
async fn delta_provider(
    ctx: &SessionContext,
    tenant: &Tenant,
    table: &str,
    delta: deltalake::DeltaTable,
    on_cluster: bool,
) -> Result<Arc<dyn TableProvider>, QueryError> {
    delta
        .update_datafusion_session(&ctx.state())
        .map_err(|e| delta_err(&tenant.table_path(table), e))?;
    if on_cluster {
        return crate::cluster::committed_files(ctx, &delta, &tenant.table_path(table)).await;
    }
    // The scan follows the session's `datafusion.execution.parquet.pushdown_filters` (off by
    // default) rather than delta-rs' own default (on).
    Ok(Arc::new(ConstantFiltersAbove(
        delta
            .table_provider()
            .with_session(Arc::new(ctx.state()))
            .await?,
    )))
}

fn delta_err(path: &Path, e: deltalake::DeltaTableError) -> QueryError {
    QueryError::Warehouse(WarehouseError::Delta {
        path: path.to_path_buf(),
        error: Box::new(e),
    })
}
