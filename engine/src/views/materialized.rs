//! Views computed once per session and then read from memory.
//!
//! A DataFusion view is re-planned and recomputed inside every query that names it, and the
//! metric views name each other: every roll-up recomputes the recursive `grid_closure`,
//! `red_flag_year` recomputes the whole ranking, a dashboard recomputes its view on every
//! refresh. Over committed (immutable) tables a view's rows cannot change, so each view here is
//! computed the first time a query reads it and its batches are kept for the session's life —
//! and for every later session over the same committed state, when the providers are shared
//! (see [`crate::access`]).

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::{ExecutionPlan, collect_partitioned};
use tokio::sync::OnceCell;

/// A view whose rows are computed on first read (under the reading session's memory pool and
/// time limit) and then served from memory. A first read that fails or is cancelled leaves
/// nothing behind; the next read computes again.
#[derive(Debug)]
pub struct MaterializedView {
    plan: LogicalPlan,
    schema: SchemaRef,
    definition: Option<String>,
    rows: OnceCell<Arc<MemTable>>,
}

impl MaterializedView {
    /// The view of `plan`; nothing is planned or computed until a query reads it.
    pub fn new(plan: LogicalPlan, definition: Option<String>) -> MaterializedView {
        let schema = Arc::new(plan.schema().as_arrow().clone());
        MaterializedView {
            plan,
            schema,
            definition,
            rows: OnceCell::new(),
        }
    }

    /// Whether the rows have been computed (for tests and diagnostics).
    pub fn is_computed(&self) -> bool {
        self.rows.initialized()
    }

    async fn rows(&self, state: &dyn Session) -> Result<&Arc<MemTable>> {
        self.rows
            .get_or_try_init(|| async {
                let plan = state.create_physical_plan(&self.plan).await?;
                let partitions = collect_partitioned(plan, state.task_ctx()).await?;
                let mut kept = Vec::with_capacity(partitions.len().max(1));
                for partition in partitions {
                    let batches = partition
                        .iter()
                        .map(|b| self.as_planned(b))
                        .collect::<Result<Vec<_>>>()?;
                    kept.push(batches);
                }
                if kept.is_empty() {
                    kept.push(Vec::new());
                }
                Ok(Arc::new(MemTable::try_new(self.schema.clone(), kept)?))
            })
            .await
    }
}

impl MaterializedView {
    /// A computed batch under the view's logical schema, which readers were planned against.
    /// The views are written so the two agree (`every_view_computes_the_types_it_declares`);
    /// a column that still differs is cast rather than failing the query.
    fn as_planned(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let columns = batch
            .columns()
            .iter()
            .zip(self.schema.fields())
            .map(|(c, f)| {
                if c.data_type() == f.data_type() {
                    Ok(c.clone())
                } else {
                    arrow::compute::cast(c, f.data_type())
                }
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
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
