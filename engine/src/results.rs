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

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{MemTable, Session as CatalogSession, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{DataFrame, SessionContext, lit};
use model::Rules;
use model::schema::TABLES;
use tokio::sync::OnceCell;
use warehouse::{Manifest, ResultsKey, StoredResults, Tenant, Warehouse};

use crate::access::column;
use crate::error::QueryError;
use crate::views::{TENANT_NO, VIEW_NAMES, view_sql};

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

/// The same, computing them again even when they are kept (`gridassess tenant refresh`: after
/// a disk error damaged a file, say).
pub async fn recompute(warehouse: &Warehouse, tenant: &str) -> Result<Refreshed, QueryError> {
    keep(warehouse, tenant, true).await
}

async fn keep(warehouse: &Warehouse, tenant: &str, again: bool) -> Result<Refreshed, QueryError> {
    let started = Instant::now();
    let state = match due(warehouse, tenant, again)? {
        Due::Kept(refreshed) => return Ok(refreshed),
        Due::Compute(state) => state,
    };
    let views = {
        let (root, owned) = (warehouse.root().to_path_buf(), state.clone());
        crate::guard::on_tenants_runtime(std::slice::from_ref(&state.tenant), async move {
            let tenant = Warehouse::open(&root)?.tenant(&owned.tenant)?;
            compute(&tenant, &owned.manifest, owned.version, &owned.rules).await
        })
        .await?
    };
    store(warehouse, state, views, started).await
}

/// Computes and keeps the metric results of each of `tenants` (as [`refresh`] does for one),
/// with one plan per view for every set of tenants under the same rules: their tables are
/// read as one, each row tagged with its tenant, and the rows are handed back to each tenant
/// after. A city's counties loaded together then cost one plan of each view instead of one
/// per county (planning is most of a county's refresh when its tables are small). Returns
/// each tenant's outcome, in `tenants`' order; a failure of the shared computation is tried
/// again tenant by tenant, so one county's trouble is reported as its own.
pub async fn refresh_many(
    warehouse: &Warehouse,
    tenants: &[String],
) -> Vec<(String, Result<Refreshed, QueryError>)> {
    keep_many(warehouse, tenants, false).await
}

/// The same, computing them again even when they are kept (`gridassess tenant refresh a b …`).
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
    let started = Instant::now();
    let mut outcomes: Vec<(String, Option<Result<Refreshed, QueryError>>)> =
        tenants.iter().map(|t| (t.clone(), None)).collect();
    // The tenants still to compute, by the SQL of their views: the same SQL is the same rules.
    let mut sets: Vec<(Vec<(String, String)>, Vec<(usize, State)>)> = Vec::new();
    for (i, (tenant, outcome)) in outcomes.iter_mut().enumerate() {
        match due(warehouse, tenant, again) {
            Ok(Due::Kept(refreshed)) => *outcome = Some(Ok(refreshed)),
            Err(e) => *outcome = Some(Err(e)),
            Ok(Due::Compute(state)) => {
                let sql: Vec<(String, String)> = view_sql(&state.rules, state.version)
                    .into_iter()
                    .map(|(name, sql)| (name.to_string(), sql))
                    .collect();
                match sets.iter_mut().find(|(s, _)| *s == sql) {
                    Some((_, members)) => members.push((i, state)),
                    None => sets.push((sql, vec![(i, state)])),
                }
            }
        }
    }
    for (_, members) in sets {
        let shared = if members.len() > 1 {
            let states: Vec<State> = members.iter().map(|(_, s)| s.clone()).collect();
            let root = warehouse.root().to_path_buf();
            let ids: Vec<String> = states.iter().map(|s| s.tenant.clone()).collect();
            crate::guard::on_tenants_runtime(&ids, async move {
                compute_many(&Warehouse::open(&root)?, &states).await
            })
            .await
            .inspect_err(|e| {
                tracing::warn!(
                    "computing the metric results of {} at once failed ({e}); each is computed on its own",
                    ids.join(", ")
                )
            })
            .ok()
        } else {
            None
        };
        match shared {
            Some(per_tenant) => {
                for ((i, state), views) in members.into_iter().zip(per_tenant) {
                    outcomes[i].1 = Some(store(warehouse, state, views, started).await);
                }
            }
            None => {
                for (i, state) in members {
                    outcomes[i].1 = Some(keep(warehouse, &state.tenant, again).await);
                }
            }
        }
    }
    outcomes
        .into_iter()
        .map(|(t, outcome)| {
            let outcome = outcome
                .unwrap_or_else(|| Err(QueryError::internal("a tenant's refresh was skipped")));
            (t, outcome)
        })
        .collect()
}

/// What a tenant's refresh has to do.
enum Due {
    /// Its results are kept already.
    Kept(Refreshed),
    Compute(State),
}

/// The committed state and rules a tenant's results are computed for.
#[derive(Clone)]
struct State {
    tenant: String,
    manifest: Manifest,
    version: u32,
    rules: Rules,
    key: ResultsKey,
}

fn due(warehouse: &Warehouse, tenant: &str, again: bool) -> Result<Due, QueryError> {
    let started = Instant::now();
    let tenant = warehouse.tenant(tenant)?;
    let manifest = tenant.manifest()?;
    let (version, _, rules) = tenant.rules()?;
    let key = key(manifest.generation, version, &rules);
    if again {
        tenant.drop_results(&key)?;
    } else if tenant.stored_results(&key).is_some() {
        return Ok(Due::Kept(Refreshed {
            key,
            already_kept: true,
            rows: 0,
            took: started.elapsed(),
        }));
    }
    Ok(Due::Compute(State {
        tenant: tenant.id.clone(),
        manifest,
        version,
        rules,
        key,
    }))
}

type Views = Vec<(&'static str, SchemaRef, Vec<RecordBatch>)>;

/// Writes `views` as `state`'s kept results.
async fn store(
    warehouse: &Warehouse,
    state: State,
    views: Views,
    started: Instant,
) -> Result<Refreshed, QueryError> {
    let rows = views
        .iter()
        .flat_map(|(_, _, batches)| batches.iter().map(|b| b.num_rows()))
        .sum();
    // Writing is blocking file work; the views are small next to their inputs.
    let stored = {
        let tenant = warehouse.tenant(&state.tenant)?;
        let key = state.key.clone();
        tokio::task::spawn_blocking(move || tenant.store_results(&key, &views))
            .await
            .map_err(|e| QueryError::internal(format!("keeping the metric results: {e}")))?
    };
    stored?;
    Ok(Refreshed {
        key: state.key,
        already_kept: false,
        rows,
        took: started.elapsed(),
    })
}

/// Every view of `manifest`'s state under `rules`, computed at once (the views share their
/// inputs' computations: see [`crate::views::materialized`]).
async fn compute(
    tenant: &Tenant,
    manifest: &Manifest,
    version: u32,
    rules: &Rules,
) -> Result<Views, QueryError> {
    let limits = tenant.limits()?;
    let runtime = crate::guard::runtime_for(std::slice::from_ref(&tenant.id), &limits)?;
    let ctx = SessionContext::new_with_config_rt(crate::session::config()?, runtime);
    crate::session::register_tables(&ctx, tenant, manifest, true).await?;
    crate::views::register(&ctx, rules, version).await?;
    compute_views(&ctx).await
}

/// The views of every tenant of `states` (all under the same rules), computed as one: each
/// table is the union of the tenants' tables with the tenant's place in `states` as
/// [`TENANT_NO`], the views are written over many tenants
/// ([`crate::views::register_over_many`]), and each view's rows are then split by tenant.
/// Returns each tenant's views, in `states`' order, as [`compute`] returns one tenant's.
async fn compute_many(warehouse: &Warehouse, states: &[State]) -> Result<Vec<Views>, QueryError> {
    let ids: Vec<String> = states.iter().map(|s| s.tenant.clone()).collect();
    let mut limits: Option<model::Limits> = None;
    for state in states {
        let l = warehouse.tenant(&state.tenant)?.limits()?;
        limits = Some(match limits {
            None => l,
            Some(prev) => prev.strictest(&l),
        });
    }
    let limits = limits.unwrap_or_default();
    let runtime = crate::guard::runtime_for(&ids, &limits)?;
    let config = crate::session::config()?;
    let ctx = SessionContext::new_with_config_rt(config.clone(), runtime.clone());
    // Each tenant's (masked) tables are opened in a context of their own, at once.
    let opened = futures::future::try_join_all(states.iter().map(|state| {
        let (config, runtime) = (config.clone(), runtime.clone());
        async move {
            let tenant = warehouse.tenant(&state.tenant)?;
            let own = SessionContext::new_with_config_rt(config, runtime);
            crate::session::register_tables(&own, &tenant, &state.manifest, true).await?;
            Ok::<_, QueryError>(own)
        }
    }))
    .await?;
    for table in TABLES {
        let mut union: Option<DataFrame> = None;
        for (no, own) in opened.iter().enumerate() {
            let df = own.table(table.name).await?;
            let no = i64::try_from(no).map_err(|_| QueryError::internal("too many tenants"))?;
            let mut columns = vec![lit(no).alias(TENANT_NO)];
            columns.extend(df.schema().fields().iter().map(|f| column(f.name())));
            let df = df.select(columns)?;
            union = Some(match union {
                None => df,
                Some(u) => u.union(df)?,
            });
        }
        let union = union.ok_or_else(|| QueryError::internal("a refresh of no tenants"))?;
        ctx.register_table(table.name, union.into_view())?;
    }
    let state = states
        .first()
        .ok_or_else(|| QueryError::internal("a refresh of no tenants"))?;
    crate::views::register_over_many(&ctx, &state.rules, state.version).await?;
    let views = compute_views(&ctx).await?;
    let mut per_tenant: Vec<Views> = vec![Vec::with_capacity(views.len()); states.len()];
    for (name, schema, batches) in views {
        for (no, split) in split_by_tenant(&schema, &batches, states.len())
            .map_err(|e| QueryError::internal(format!("splitting {name} by tenant: {e}")))?
            .into_iter()
            .enumerate()
        {
            per_tenant[no].push((name, split.0, split.1));
        }
    }
    Ok(per_tenant)
}

/// `batches` (whose first column is [`TENANT_NO`]) as each tenant's rows, without that column.
fn split_by_tenant(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    tenants: usize,
) -> Result<Vec<(SchemaRef, Vec<RecordBatch>)>, arrow::error::ArrowError> {
    use arrow::array::{Array, Int64Array};
    let first = schema.fields().first().map(|f| f.name().as_str());
    if first != Some(TENANT_NO) {
        return Err(arrow::error::ArrowError::SchemaError(format!(
            "the first column is {first:?}, not {TENANT_NO}"
        )));
    }
    let own_schema: SchemaRef =
        Arc::new(schema.project(&(1..schema.fields().len()).collect::<Vec<_>>())?);
    let rest: Vec<usize> = (1..schema.fields().len()).collect();
    let mut out: Vec<(SchemaRef, Vec<RecordBatch>)> =
        vec![(own_schema.clone(), Vec::new()); tenants];
    for batch in batches {
        let numbers = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| {
                arrow::error::ArrowError::SchemaError(format!("{TENANT_NO} is not a BIGINT"))
            })?;
        if numbers.null_count() > 0 {
            return Err(arrow::error::ArrowError::ComputeError(format!(
                "a row without its {TENANT_NO}"
            )));
        }
        let rows = batch.project(&rest)?;
        for (no, (_, kept)) in out.iter_mut().enumerate() {
            let no = i64::try_from(no).unwrap_or(i64::MAX);
            let mine = arrow::compute::kernels::cmp::eq(numbers, &Int64Array::new_scalar(no))?;
            if mine.true_count() == 0 {
                continue;
            }
            let rows = arrow::compute::filter_record_batch(&rows, &mine)?;
            kept.push(RecordBatch::try_new(
                own_schema.clone(),
                rows.columns().to_vec(),
            )?);
        }
    }
    Ok(out)
}

/// Every view registered in `ctx`, computed at once.
async fn compute_views(ctx: &SessionContext) -> Result<Views, QueryError> {
    // A task per view: planning a view is CPU work on the task that reads it, and in one task
    // the eleven plans were made one after another while the other core waited. The set aborts
    // the others when one fails or the refresh is dropped, as one future of them all did.
    let mut tasks = tokio::task::JoinSet::new();
    for (order, &name) in VIEW_NAMES.iter().enumerate() {
        let ctx = ctx.clone();
        tasks.spawn(async move {
            let df = ctx.table(name).await?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await.map_err(QueryError::running)?;
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
