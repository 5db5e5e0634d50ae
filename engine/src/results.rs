//! Metric results stored with the commit.
//!
//! The views of a committed state are computed once — by the load that committed it, or by the
//! `rules set` that put a new rules version in force ([`refresh`]) — and kept beside the data
//! ([`warehouse::StoredResults`]). A session over that state then reads each view's rows from
//! its file instead of opening the views' inputs and computing them: a metric command becomes a
//! read. A state without kept results (a replay under an older rules version, `--as-of` an
//! older load, a warehouse written before results were kept) is computed as before, on first
//! read, and answers the same.
//!
//! The results are computed over the tables as an analyst sees them (personal columns masked),
//! so they can be handed to every role: no view reads a personal column, and if one ever did,
//! an admin would see it masked rather than an analyst see it in clear
//! (`stored_results_equal_the_views_for_every_role` checks that they are equal).

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{MemTable, Session as CatalogSession, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use model::Rules;
use tokio::sync::OnceCell;
use warehouse::{Manifest, ResultsKey, StoredResults, Tenant, Warehouse};

use crate::error::QueryError;
use crate::views::{VIEW_NAMES, view_sql};

/// The key of the results of `generation` under rules `version`: it also names the views' SQL
/// and the DataFusion that computes them, so a gridassess whose views or engine changed
/// computes its own rows rather than reading another's.
pub fn key(generation: u64, version: u32, rules: &Rules) -> ResultsKey {
    // SipHash with fixed keys: the same text gives the same number in every process.
    let mut hasher = std::hash::DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    datafusion::DATAFUSION_VERSION.hash(&mut hasher);
    for (name, sql) in view_sql(rules, version) {
        name.hash(&mut hasher);
        sql.hash(&mut hasher);
    }
    ResultsKey {
        generation,
        rules_version: version,
        fingerprint: hasher.finish(),
    }
}

/// What [`refresh`] did.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// The state and rules the results are of.
    pub key: ResultsKey,
    /// They were kept already (nothing was computed).
    pub already_kept: bool,
    /// Rows kept, over every view.
    pub rows: usize,
    /// The time spent computing and writing them.
    pub took: Duration,
}

/// Computes and keeps the metric results of `tenant`'s committed state under the rules in
/// force, unless they are kept already. Every command that commits a state or a rules version
/// calls it; a failure leaves the state readable (its views are then computed on read).
pub async fn refresh(warehouse: &Warehouse, tenant: &str) -> Result<Refreshed, QueryError> {
    keep(warehouse, tenant, false).await
}

async fn keep(warehouse: &Warehouse, tenant: &str, again: bool) -> Result<Refreshed, QueryError> {
    let started = Instant::now();
    let tenant = warehouse.tenant(tenant)?;
    let manifest = tenant.manifest()?;
    let (version, _, rules) = tenant.rules()?;
    let key = key(manifest.generation, version, &rules);
    if again {
        tenant.drop_results(&key)?;
    } else if tenant.stored_results(&key).is_some() {
        return Ok(Refreshed {
            key,
            already_kept: true,
            rows: 0,
            took: started.elapsed(),
        });
    }
    let views = {
        let (root, id, manifest) = (
            warehouse.root().to_path_buf(),
            tenant.id.clone(),
            manifest.clone(),
        );
        crate::guard::on_tenants_runtime(std::slice::from_ref(&tenant.id), async move {
            let tenant = Warehouse::open(&root)?.tenant(&id)?;
            compute(&tenant, &manifest, version, &rules).await
        })
        .await?
    };
    let rows = views
        .iter()
        .flat_map(|(_, _, batches)| batches.iter().map(|b| b.num_rows()))
        .sum();
    // Writing is blocking file work; the views are small next to their inputs.
    let stored = {
        let tenant = warehouse.tenant(&tenant.id)?;
        let key = key.clone();
        tokio::task::spawn_blocking(move || tenant.store_results(&key, &views))
            .await
            .map_err(|e| QueryError::internal(format!("keeping the metric results: {e}")))?
    };
    stored?;
    Ok(Refreshed {
        key,
        already_kept: false,
        rows,
        took: started.elapsed(),
    })
}

/// Computes and keeps the metric results of each of `tenants` (as [`refresh`] does for one),
/// as many at a time as there are cores, each on its own runtime. Returns each tenant's
/// outcome, in `tenants`' order; one county's failure is its own and the others are kept.
/// Name each tenant once: two refreshes of one tenant at once would drop and write the same
/// results under each other.
///
/// Computing a set of tenants as one (their tables unioned with a tenant number, every join,
/// grouping and window of the views keyed by it) was measured and is slower: DataFusion 55
/// groups and joins on two columns 2.5–3 times slower than on one, which cost more than the
/// plans it saved (BENCHMARKS.md).
pub async fn refresh_many(
    warehouse: &Warehouse,
    tenants: &[String],
) -> Vec<(String, Result<Refreshed, QueryError>)> {
    keep_many(warehouse, tenants, false).await
}

/// The same, computing them again even when they are kept (`gridassess tenant refresh`: after
/// a disk error damaged a file, say).
pub async fn recompute_many(
    warehouse: &Warehouse,
    tenants: &[String],
) -> Vec<(String, Result<Refreshed, QueryError>)> {
    keep_many(warehouse, tenants, true).await
}

async fn keep_many(
    warehouse: &Warehouse,
    tenants: &[String],
    again: bool,
) -> Vec<(String, Result<Refreshed, QueryError>)> {
    // As many tenants at a time as there are cores: each keeps the cores busy by itself while
    // its views run. A city's ten counties at once on two cores took 4.3-5.0 s and 850 MB;
    // two at a time, 4.0 s and 480-560 MB.
    let at_once = std::thread::available_parallelism().map_or(2, |n| n.get());
    let turns = Arc::new(tokio::sync::Semaphore::new(at_once));
    let mut tasks = tokio::task::JoinSet::new();
    for (order, tenant) in tenants.iter().enumerate() {
        let (root, tenant) = (warehouse.root().to_path_buf(), tenant.clone());
        let turns = turns.clone();
        tasks.spawn(async move {
            let _turn = turns.acquire_owned().await;
            let outcome = match Warehouse::open(&root) {
                Ok(warehouse) => keep(&warehouse, &tenant, again).await,
                Err(e) => Err(e.into()),
            };
            (order, outcome)
        });
    }
    let mut outcomes = Vec::with_capacity(tenants.len());
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(outcome) => outcomes.push(outcome),
            // A task that panicked or was cancelled: its tenant is named below.
            Err(e) => tracing::warn!("a tenant's refresh stopped: {e}"),
        }
    }
    let mut all: Vec<(String, Result<Refreshed, QueryError>)> = Vec::with_capacity(tenants.len());
    for (order, tenant) in tenants.iter().enumerate() {
        let outcome = match outcomes.iter().position(|(o, _)| *o == order) {
            Some(at) => outcomes.swap_remove(at).1,
            None => Err(QueryError::internal(format!(
                "the refresh of {tenant} stopped before it finished"
            ))),
        };
        all.push((tenant.clone(), outcome));
    }
    all
}

/// Every view of `manifest`'s state under `rules`, computed at once (the views share their
/// inputs' computations: see [`crate::views::materialized`]).
async fn compute(
    tenant: &Tenant,
    manifest: &Manifest,
    version: u32,
    rules: &Rules,
) -> Result<Vec<(&'static str, SchemaRef, Vec<arrow::array::RecordBatch>)>, QueryError> {
    let limits = tenant.limits()?;
    let runtime = crate::guard::runtime_for(std::slice::from_ref(&tenant.id), &limits)?;
    let ctx = SessionContext::new_with_config_rt(crate::session::config()?, runtime);
    crate::session::register_tables(&ctx, tenant, manifest, true).await?;
    crate::views::register(&ctx, rules, version).await?;
    // A task per view: planning a view is CPU work on the task that reads it, and in one task
    // the eleven plans were made one after another while the other core waited. The set aborts
    // the others when one fails or the refresh is dropped, as one future of them all did.
    let mut tasks = tokio::task::JoinSet::new();
    for (order, &name) in VIEW_NAMES.iter().enumerate() {
        let ctx = ctx.clone();
        tasks.spawn(async move {
            let started = Instant::now();
            let df = ctx.table(name).await?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await.map_err(QueryError::running)?;
            // With the views it reads (their computations are shared, so the times overlap).
            tracing::debug!(
                target: "results",
                view = name,
                ms = started.elapsed().as_secs_f64() * 1000.0,
                "computed"
            );
            Ok::<_, QueryError>((order, (name, schema, batches)))
        });
    }
    let mut computed = Vec::with_capacity(VIEW_NAMES.len());
    while let Some(done) = tasks.join_next().await {
        let done = done.map_err(|e| {
            QueryError::internal(format!("computing the metric results stopped: {e}"))
        })?;
        computed.push(done?);
    }
    computed.sort_by_key(|(order, _)| *order);
    Ok(computed.into_iter().map(|(_, view)| view).collect())
}

/// Registers `stored`'s views in `ctx` in place of computing them. Returns false (and registers
/// nothing) when the set does not hold every view.
pub(crate) fn register(
    ctx: &SessionContext,
    tenant: &str,
    stored: &StoredResults,
    rules: &Rules,
    version: u32,
) -> Result<bool, QueryError> {
    if !VIEW_NAMES.iter().all(|v| stored.holds(v)) {
        return Ok(false);
    }
    let mut views = Vec::with_capacity(VIEW_NAMES.len());
    for (name, sql) in view_sql(rules, version) {
        // A file whose footer cannot be read (a disk error, a hand edit) costs the speed, not
        // the answer: the views are computed, and the user is told how to keep them again.
        let schema = match stored.schema(name) {
            Ok(schema) => schema,
            Err(e) => {
                tracing::warn!(
                    "the kept results of {name} cannot be read: {e} ({}); the views are computed instead. `gridassess tenant refresh {tenant}` keeps them again",
                    std::error::Error::source(&e)
                        .map(ToString::to_string)
                        .unwrap_or_default()
                );
                return Ok(false);
            }
        };
        views.push((name, schema, sql));
    }
    for (name, schema, sql) in views {
        let view = StoredView {
            tenant: tenant.to_string(),
            name,
            schema,
            stored: stored.clone(),
            definition: sql,
            rows: OnceCell::new(),
        };
        ctx.register_table(name, Arc::new(view))?;
    }
    Ok(true)
}

/// A view whose rows were kept with the commit: read from its file on first scan, then held
/// in memory for the session's life (and every later session of the same state).
#[derive(Debug)]
struct StoredView {
    tenant: String,
    name: &'static str,
    schema: SchemaRef,
    stored: StoredResults,
    definition: String,
    rows: OnceCell<Arc<MemTable>>,
}

impl StoredView {
    async fn rows(&self, partitions: usize) -> DfResult<Arc<MemTable>> {
        self.rows
            .get_or_try_init(|| async {
                let (stored, name) = (self.stored.clone(), self.name);
                let read = tokio::task::spawn_blocking(move || stored.read(name))
                    .await
                    .map_err(|e| DataFusionError::External(Box::new(e)))?;
                let (schema, batches) = read.map_err(|e| {
                    DataFusionError::Execution(format!(
                        "the kept results of {} cannot be read: {e} ({}); `gridassess tenant \
                         refresh {}` computes them again",
                        self.name,
                        std::error::Error::source(&e)
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                        self.tenant
                    ))
                })?;
                if schema != self.schema {
                    return Err(DataFusionError::Internal(format!(
                        "the kept rows of {} changed their columns while read",
                        self.name
                    )));
                }
                // Spread over the session's partitions, so a reader's plan runs in parallel.
                let parts = partitions.max(1);
                let mut spread = vec![Vec::new(); parts];
                for (i, batch) in batches.into_iter().enumerate() {
                    spread[i % parts].push(batch);
                }
                Ok(Arc::new(MemTable::try_new(schema, spread)?))
            })
            .await
            .cloned()
    }
}

#[async_trait]
impl TableProvider for StoredView {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn get_table_definition(&self) -> Option<&str> {
        Some(&self.definition)
    }

    async fn scan(
        &self,
        state: &dyn CatalogSession,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let partitions = state.config().target_partitions();
        self.rows(partitions)
            .await?
            .scan(state, projection, filters, limit)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key is the same in every process for the same rules, and changes with anything that
    /// changes the views' rows.
    #[test]
    fn the_key_names_the_rules_and_the_views() {
        let rules = Rules::default_rules();
        assert_eq!(key(3, 1, &rules), key(3, 1, &rules));
        assert_ne!(key(3, 1, &rules), key(4, 1, &rules), "another state");
        let text = model::rules::DEFAULT_RULES_TOML
            .replace("unexcused_warning = 3 ", "unexcused_warning = 4 ");
        assert_ne!(
            text,
            model::rules::DEFAULT_RULES_TOML,
            "the edit must apply"
        );
        let stricter = Rules::parse(&text, "rules.toml").unwrap();
        assert_ne!(
            key(3, 2, &rules).fingerprint,
            key(3, 2, &stricter).fingerprint,
            "other rules, other SQL"
        );
    }
}
