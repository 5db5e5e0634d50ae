//! Views computed once per session and then read from memory.
//!
//! A DataFusion view is re-planned and recomputed inside every query that names it, and the
//! metric views name each other: every roll-up recomputes `grid_closure`,
//! `red_flag_year` recomputes the whole ranking, a dashboard recomputes its view on every
//! refresh. Over committed (immutable) tables a view's rows cannot change, so each view here is
//! computed the first time a query reads it and its batches are kept for the session's life —
//! and for every later session over the same committed state, when the providers are shared
//! (see [`crate::access`]).
//!
//! The computation is a task of its own, not a part of the query that started it. A query is
//! stopped at its time limit; if the view's computation stopped with it, then on a busy server
//! (the cores shared with a heavy query) a county-scale view that needs more than one time limit
//! would be started again by every query and finished by none, and every reader would be told
//! "out of time" for ever. Detached, the work one reader paid for is kept: later readers wait
//! for the same computation, and once it is done every read is a read from memory.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::{ExecutionPlan, collect_partitioned};
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::task::AbortHandle;

/// How long a view's computation may run once no reader waits for it any more. The views are
/// the product's own SQL over committed tables (a client cannot define one), so this only
/// bounds a computation that something unforeseen keeps from finishing.
const LONGEST_COMPUTATION: Duration = Duration::from_secs(30 * 60);

type Computation =
    Shared<BoxFuture<'static, std::result::Result<Arc<MemTable>, Arc<DataFusionError>>>>;

/// Where a view's rows stand.
#[derive(Default)]
enum Rows {
    /// Never read, or the last computation failed: the next read computes.
    #[default]
    NotComputed,
    /// A computation is under way; every reader awaits the same one.
    Computing {
        rows: Computation,
        abort: AbortHandle,
    },
    Computed(Arc<MemTable>),
}

impl std::fmt::Debug for Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Rows::NotComputed => "NotComputed",
            Rows::Computing { .. } => "Computing",
            Rows::Computed(_) => "Computed",
        })
    }
}

/// A view whose rows are computed on first read (under the reading session's memory pool) and
/// then served from memory. The computation outlives a reader stopped at its time limit; one
/// that fails leaves nothing behind, and the next read computes again.
#[derive(Debug)]
pub struct MaterializedView {
    plan: LogicalPlan,
    schema: SchemaRef,
    definition: Option<String>,
    /// Shared with the computation's task, which files its result here (weakly: a view
    /// dropped meanwhile has no one to file it for).
    rows: Arc<Mutex<Rows>>,
}

impl Drop for MaterializedView {
    /// A view no session can read any more (a newer commit replaced it) stops computing.
    fn drop(&mut self) {
        if let Rows::Computing { abort, .. } = &*lock(&self.rows) {
            abort.abort();
        }
    }
}

/// The lock holds no invariant a panic could break (each write is one assignment).
fn lock(rows: &Mutex<Rows>) -> MutexGuard<'_, Rows> {
    rows.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MaterializedView {
    /// The view of `plan`; nothing is planned or computed until a query reads it.
    pub fn new(plan: LogicalPlan, definition: Option<String>) -> MaterializedView {
        let schema = Arc::new(plan.schema().as_arrow().clone());
        MaterializedView {
            plan,
            schema,
            definition,
            rows: Arc::default(),
        }
    }

    /// Whether the rows have been computed (for tests and diagnostics).
    pub fn is_computed(&self) -> bool {
        matches!(*lock(&self.rows), Rows::Computed(_))
    }

    /// Whether a computation is under way (for tests and diagnostics).
    pub fn is_computing(&self) -> bool {
        matches!(*lock(&self.rows), Rows::Computing { .. })
    }

    /// The view's rows: kept ones, or those of the computation under way, or of one this read
    /// starts.
    async fn rows(&self, state: &dyn Session) -> Result<Arc<MemTable>> {
        let started = match &*lock(&self.rows) {
            Rows::Computed(rows) => return Ok(rows.clone()),
            Rows::Computing { rows, .. } => Some(rows.clone()),
            Rows::NotComputed => None,
        };
        let computation = match started {
            Some(computation) => computation,
            None => {
                // Planned by this reader (planning reads the views this one is built on, and
                // so starts their computations); two readers arriving together may both plan,
                // but only the first one's plan runs.
                let plan = state.create_physical_plan(&self.plan).await?;
                let mut rows = lock(&self.rows);
                match &*rows {
                    Rows::Computed(kept) => return Ok(kept.clone()),
                    Rows::Computing { rows, .. } => rows.clone(),
                    Rows::NotComputed => {
                        let (computation, abort) = self.start(plan, state.task_ctx());
                        *rows = Rows::Computing {
                            rows: computation.clone(),
                            abort,
                        };
                        computation
                    }
                }
            }
        };
        computation.await.map_err(DataFusionError::Shared)
    }

    /// Spawns the computation of `plan` on the current runtime (a query's, on the server).
    fn start(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
    ) -> (Computation, AbortHandle) {
        let schema = self.schema.clone();
        let slot: Weak<Mutex<Rows>> = Arc::downgrade(&self.rows);
        let handle =
            tokio::spawn(async move {
                let computed =
                    match tokio::time::timeout(LONGEST_COMPUTATION, compute(plan, task, schema))
                        .await
                    {
                        Ok(computed) => computed,
                        Err(_) => Err(DataFusionError::ResourcesExhausted(format!(
                            "computing a view took more than {} minutes",
                            LONGEST_COMPUTATION.as_secs() / 60
                        ))),
                    }
                    .map_err(Arc::new);
                if let Some(slot) = slot.upgrade() {
                    *lock(&slot) = match &computed {
                        Ok(rows) => Rows::Computed(rows.clone()),
                        Err(_) => Rows::NotComputed,
                    };
                }
                computed
            });
        let abort = handle.abort_handle();
        let computation = async move {
            match handle.await {
                Ok(computed) => computed,
                // Aborted (the view was dropped) or panicked: an error for whoever still waits.
                Err(join) => Err(Arc::new(DataFusionError::External(Box::new(join)))),
            }
        }
        .boxed()
        .shared();
        (computation, abort)
    }
}

/// Runs a view's plan to its end and keeps its batches, one partition per input partition.
async fn compute(
    plan: Arc<dyn ExecutionPlan>,
    task: Arc<TaskContext>,
    schema: SchemaRef,
) -> Result<Arc<MemTable>> {
    let partitions = collect_partitioned(plan, task).await?;
    let mut kept = Vec::with_capacity(partitions.len().max(1));
    for partition in partitions {
        let batches = partition
            .iter()
            .map(|b| as_planned(&schema, b))
            .collect::<Result<Vec<_>>>()?;
        kept.push(batches);
    }
    if kept.is_empty() {
        kept.push(Vec::new());
    }
    Ok(Arc::new(MemTable::try_new(schema, kept)?))
}

/// A computed batch under the view's logical schema, which readers were planned against.
/// The views are written so the two agree (`every_view_computes_the_types_it_declares`);
/// a column that still differs is cast rather than failing the query.
fn as_planned(schema: &SchemaRef, batch: &RecordBatch) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c.clone())
            } else {
                arrow::compute::cast(c, f.data_type())
            }
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

#[async_trait]
impl TableProvider for MaterializedView {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn get_table_definition(&self) -> Option<&str> {
        self.definition.as_deref()
    }

    fn get_logical_plan(&'_ self) -> Option<Cow<'_, LogicalPlan>> {
        // Not inlined into the reading query: that is what would recompute it.
        None
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.rows(state)
            .await?
            .scan(state, projection, filters, limit)
            .await
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    async fn rows(ctx: &SessionContext, sql: &str) -> String {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string()
    }

    /// A table whose one batch is held back until the test opens its gate, counting how many
    /// times it was scanned: a computation as slow as the test wants.
    #[derive(Debug)]
    struct Gated {
        schema: SchemaRef,
        gate: Arc<tokio::sync::Semaphore>,
        scans: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl datafusion::physical_plan::streaming::PartitionStream for Gated {
        fn schema(&self) -> &SchemaRef {
            &self.schema
        }

        fn execute(&self, _: Arc<TaskContext>) -> datafusion::execution::SendableRecordBatchStream {
            self.scans.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (schema, gate) = (self.schema.clone(), self.gate.clone());
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(arrow::array::Int64Array::from(vec![1, 2, 3]))],
            );
            let held = futures::stream::once(async move {
                let _open = gate.acquire().await;
                Ok(batch?)
            });
            Box::pin(datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(schema, held))
        }
    }

    /// A session with `v`, the sum of a gated table's three rows (6).
    async fn gated_view() -> (
        SessionContext,
        Arc<MaterializedView>,
        Arc<tokio::sync::Semaphore>,
        Arc<std::sync::atomic::AtomicUsize>,
    ) {
        let ctx = SessionContext::new();
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("x", arrow::datatypes::DataType::Int64, false),
        ]));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let scans = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let gated = Gated {
            schema: schema.clone(),
            gate: gate.clone(),
            scans: scans.clone(),
        };
        let table =
            datafusion::catalog::streaming::StreamingTable::try_new(schema, vec![Arc::new(gated)])
                .unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        let plan = ctx
            .sql("SELECT sum(x) AS s FROM t")
            .await
            .unwrap()
            .into_optimized_plan()
            .unwrap();
        let view = Arc::new(MaterializedView::new(plan, None));
        ctx.register_table("v", view.clone()).unwrap();
        (ctx, view, gate, scans)
    }

    async fn until(what: &str, done: impl Fn() -> bool) {
        for _ in 0..2000 {
            if done() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("waited 10 s for {what}");
    }

    /// On a busy server a reader is stopped at its time limit before a big view is computed.
    /// The work it started must go on, or the next reader starts it again and none finishes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_stopped_mid_computation_leaves_the_computation_to_finish() {
        let (ctx, view, gate, scans) = gated_view().await;

        let first = {
            let ctx = ctx.clone();
            tokio::spawn(async move { rows(&ctx, "SELECT s FROM v").await })
        };
        until("the first read to start the computation", || {
            view.is_computing()
        })
        .await;
        first.abort();
        assert!(first.await.unwrap_err().is_cancelled());
        assert!(
            view.is_computing(),
            "the stopped reader took the computation with it"
        );

        // Nobody reads; the computation finishes on its own and is kept.
        gate.add_permits(1);
        until("the computation to finish", || view.is_computed()).await;
        assert!(rows(&ctx, "SELECT s FROM v").await.contains("| 6 |"));
        assert_eq!(
            scans.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "computed once"
        );
    }

    /// Readers arriving while the view is computed wait for that computation; they do not
    /// start their own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readers_arriving_together_share_one_computation() {
        let (ctx, view, gate, scans) = gated_view().await;
        let readers: Vec<_> = (0..8)
            .map(|_| {
                let ctx = ctx.clone();
                tokio::spawn(async move { rows(&ctx, "SELECT s FROM v").await })
            })
            .collect();
        until("a computation to start", || view.is_computing()).await;
        gate.add_permits(8);
        for reader in readers {
            assert!(reader.await.unwrap().contains("| 6 |"));
        }
        assert_eq!(
            scans.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "computed once"
        );
    }

    #[tokio::test]
    async fn a_view_is_computed_on_first_read_and_answers_like_the_plain_view() {
        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE t AS VALUES ('a', 1.25), ('a', 2.50), ('b', 4.00)")
            .await
            .unwrap();
        let sql = "SELECT column1 AS k, round(avg(CAST(column2 AS DECIMAL(12,2))), 2) AS m \
                   FROM t GROUP BY column1";
        let plan = ctx.sql(sql).await.unwrap().into_optimized_plan().unwrap();
        let view = Arc::new(MaterializedView::new(plan, None));
        ctx.register_table("v", view.clone()).unwrap();
        assert!(!view.is_computed(), "nothing is computed at registration");
        let read = "SELECT k, m FROM v WHERE k = 'a'";
        let plain = format!("SELECT k, m FROM ({sql}) WHERE k = 'a'");
        assert_eq!(rows(&ctx, read).await, rows(&ctx, &plain).await);
        assert!(view.is_computed());
        // The rows are kept: a change to the table is not seen (the warehouse's tables are
        // committed versions, so they never change under a session).
        ctx.sql("INSERT INTO t VALUES ('a', 100.00)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert!(rows(&ctx, read).await.contains("1.88"));
    }
}
