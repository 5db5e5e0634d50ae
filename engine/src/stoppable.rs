//! What makes a query stopped at its time limit stop working, not only answer.
//!
//! The guard stops a query by aborting its task, which takes effect the next time the task
//! yields to the scheduler. DataFusion's sources yield every so often (they spend Tokio's task
//! budget per batch), but two kinds of join can work for seconds without asking their inputs
//! for anything, and an aborted query kept a core busy for minutes after its error
//! (apache/datafusion#19358):
//!
//! - a join that makes thousands of batches out of one (every row sharing a key, a cross
//!   join): the operator above it takes batch after batch and the task never yields. Each such
//!   operator is put under DataFusion's own [`CooperativeExec`], so every batch it makes spends
//!   budget as a source's would.
//! - a join whose condition is mostly false: a nested-loop join evaluates its filter for every
//!   left row against a right batch and makes no batch at all while nothing matches (200,000 ×
//!   8,192 evaluations between two reads of its input). Its filter, and a hash join's, is
//!   wrapped in [`StopWhenFlagged`], which fails the query at its next evaluation once the
//!   guard has raised the query's [`StopFlag`].

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::RecordBatch;
use arrow::datatypes::{FieldRef, Schema};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::joins::utils::JoinFilter;
use datafusion::physical_plan::joins::{
    CrossJoinExec, HashJoinExec, NestedLoopJoinExec, NestedLoopJoinExecBuilder,
    PiecewiseMergeJoinExec, SortMergeJoinExec, SymmetricHashJoinExec,
};
use datafusion::physical_plan::unnest::UnnestExec;

/// Raised by the guard when a query's time is up.
#[derive(Debug, Clone, Default)]
pub(crate) struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub(crate) fn raise(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn raised(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// `plan` made stoppable: operators that multiply rows yield per batch they make, and join
/// filters fail once `stop` is raised.
pub(crate) fn stoppable(
    plan: Arc<dyn ExecutionPlan>,
    stop: &StopFlag,
) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        let node = with_stoppable_filter(node, stop)?;
        if multiplies_rows(node.as_ref()) {
            Ok(Transformed::yes(
                Arc::new(CooperativeExec::new(node)) as Arc<dyn ExecutionPlan>
            ))
        } else {
            Ok(Transformed::no(node))
        }
    })
    .map(|t| t.data)
}

/// Whether `plan` can make many batches out of one batch of its input.
fn multiplies_rows(plan: &dyn ExecutionPlan) -> bool {
    plan.is::<HashJoinExec>()
        || plan.is::<NestedLoopJoinExec>()
        || plan.is::<CrossJoinExec>()
        || plan.is::<SortMergeJoinExec>()
        || plan.is::<SymmetricHashJoinExec>()
        || plan.is::<PiecewiseMergeJoinExec>()
        || plan.is::<UnnestExec>()
}

/// A hash or nested-loop join rebuilt with its filter under [`StopWhenFlagged`]; any other
/// node as it was.
fn with_stoppable_filter(
    node: Arc<dyn ExecutionPlan>,
    stop: &StopFlag,
) -> Result<Arc<dyn ExecutionPlan>> {
    let wrap = |filter: &JoinFilter| {
        JoinFilter::new(
            Arc::new(StopWhenFlagged {
                inner: filter.expression().clone(),
                stop: stop.clone(),
            }),
            filter.column_indices().to_vec(),
            filter.schema().clone(),
        )
    };
    if let Some(join) = node.downcast_ref::<HashJoinExec>()
        && let Some(filter) = join.filter()
    {
        return join.builder().with_filter(Some(wrap(filter))).build_exec();
    }
    if let Some(join) = node.downcast_ref::<NestedLoopJoinExec>()
        && let Some(filter) = join.filter()
    {
        let rebuilt = NestedLoopJoinExecBuilder::new(
            join.left().clone(),
            join.right().clone(),
            *join.join_type(),
        )
        .with_projection_ref(join.projection().clone())
        .with_filter(Some(wrap(filter)))
        .build()?;
        return Ok(Arc::new(rebuilt));
    }
    Ok(node)
}

/// A join filter that fails the query once its [`StopFlag`] is raised, and otherwise is the
/// filter it wraps.
#[derive(Debug)]
struct StopWhenFlagged {
    inner: Arc<dyn PhysicalExpr>,
    stop: StopFlag,
}

impl PartialEq for StopWhenFlagged {
    fn eq(&self, other: &Self) -> bool {
        self.inner.eq(&other.inner) && Arc::ptr_eq(&self.stop.0, &other.stop.0)
    }
}

impl Eq for StopWhenFlagged {}

impl Hash for StopWhenFlagged {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

impl fmt::Display for StopWhenFlagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl PhysicalExpr for StopWhenFlagged {
    fn return_field(&self, input_schema: &Schema) -> Result<FieldRef> {
        self.inner.return_field(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        if self.stop.raised() {
            return Err(DataFusionError::Execution(
                "the query was stopped at its time limit".into(),
            ));
        }
        self.inner.evaluate(batch)
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.inner]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        Ok(Arc::new(StopWhenFlagged {
            inner: children.swap_remove(0),
            stop: self.stop.clone(),
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt_sql(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::physical_plan::{collect, displayable};
    use datafusion::prelude::SessionContext;

    const SQL: &str = "select count(*) from \
        (select 1 as k, v from unnest(range(50)) as t(v)) a \
        join (select 1 as k, v from unnest(range(50)) as t(v)) b on a.k = b.k and a.v <> b.v \
        cross join (select 2 as w) c \
        where exists (select 1 from unnest(range(3)) as u(x) where u.x < a.v + b.v)";

    async fn planned() -> (SessionContext, Arc<dyn ExecutionPlan>) {
        let ctx = SessionContext::new();
        let plan = ctx
            .sql(SQL)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        (ctx, plan)
    }

    #[tokio::test]
    async fn joins_yield_and_their_filters_stop_without_changing_the_answer() {
        // A physical plan runs once (its repartitions keep state): each run plans afresh.
        let (ctx, plan) = planned().await;
        let expected = collect(plan, ctx.task_ctx()).await.unwrap();
        let stop = StopFlag::default();
        let plan = stoppable(planned().await.1, &stop).unwrap();
        let text = displayable(plan.as_ref()).indent(false).to_string();
        let lines: Vec<&str> = text.lines().collect();
        let mut joins = 0;
        for (i, line) in lines.iter().enumerate() {
            let op = line.trim_start();
            if [
                "HashJoinExec",
                "CrossJoinExec",
                "NestedLoopJoinExec",
                "UnnestExec",
            ]
            .iter()
            .any(|name| op.starts_with(name))
            {
                joins += 1;
                assert!(
                    i > 0 && lines[i - 1].trim_start().starts_with("CooperativeExec"),
                    "{op} is not under a CooperativeExec:\n{text}"
                );
            }
        }
        assert!(joins >= 4, "{text}");
        // The same answer (the filters were kept, only wrapped).
        let got = collect(plan, ctx.task_ctx()).await.unwrap();
        assert_eq!(
            arrow::util::pretty::pretty_format_batches(&got)
                .unwrap()
                .to_string(),
            arrow::util::pretty::pretty_format_batches(&expected)
                .unwrap()
                .to_string()
        );
        // Once raised, the first filter evaluation fails the query.
        stop.raise();
        let plan = stoppable(planned().await.1, &stop).unwrap();
        let err = collect(plan, ctx.task_ctx()).await.unwrap_err();
        assert!(
            err.to_string().contains("stopped at its time limit"),
            "{err}"
        );
    }
}
