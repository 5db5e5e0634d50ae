//! The metric views of SPEC §4, as SQL generated from the tenant's rules.
//!
//! Each view lives in its own module and is registered in every tenant session beside the
//! base tables, so ad-hoc SQL can join and filter them and the CLI commands are thin queries
//! over them. To change a metric, change its module and its `.slt` file under
//! `engine/tests/sqllogictest/`.
//!
//! Conventions shared by all views: ranks are competition ranks (`RANK()`); scores and points
//! stay `DECIMAL` end to end so 95.00 is exactly 95; rates are `CAST(numerator AS DOUBLE) /
//! denominator` of summed counts (never averages of rates), null when the denominator is 0.

mod attendance;
mod coverage;
mod grid;
pub mod materialized;
mod points;
mod red_flag;

use std::sync::Arc;

use datafusion::catalog::view::ViewTable;
use datafusion::error::Result;
use datafusion::prelude::SessionContext;

use self::materialized::MaterializedView;

use model::rules::{Cents, Rules};

/// The names of the views, in the order they are created (later ones use earlier ones).
pub const VIEW_NAMES: &[&str] = &[
    "grid_closure",
    "red_flag_ranking",
    "red_flag_year",
    "coverage",
    "coverage_findings",
    "attendance_monthly",
    "attendance_monthly_by_unit",
    "meeting_compliance",
    "attendance_alerts",
    "member_points",
    "grid_visits",
];

/// The SQL of every view, as `(name, CREATE VIEW statement)`.
pub fn view_sql(rules: &Rules, rules_version: u32) -> Vec<(&'static str, String)> {
    vec![
        ("grid_closure", grid::closure()),
        ("red_flag_ranking", red_flag::ranking(rules, rules_version)),
        ("red_flag_year", red_flag::year()),
        ("coverage", coverage::coverage()),
        ("coverage_findings", coverage::findings(rules)),
        ("attendance_monthly", attendance::monthly()),
        ("attendance_monthly_by_unit", attendance::monthly_by_unit()),
        ("meeting_compliance", attendance::compliance(rules)),
        ("attendance_alerts", attendance::alerts(rules)),
        ("member_points", points::member_points(rules)),
        ("grid_visits", grid::visits()),
    ]
}

/// Creates (or replaces) every view in `ctx`, over the committed tables already registered
/// there. Each is registered as a [`MaterializedView`]: computed once, on first read, and later
/// views read the earlier ones' rows instead of recomputing them.
pub async fn register(ctx: &SessionContext, rules: &Rules, rules_version: u32) -> Result<()> {
    create(ctx, rules, rules_version, true).await
}

/// Creates every view as a plain DataFusion view, recomputed by each query: for tables that
/// change while the session lives (the `.slt` tests insert rows into in-memory tables).
pub async fn register_inline(
    ctx: &SessionContext,
    rules: &Rules,
    rules_version: u32,
) -> Result<()> {
    create(ctx, rules, rules_version, false).await
}

async fn create(
    ctx: &SessionContext,
    rules: &Rules,
    rules_version: u32,
    materialize: bool,
) -> Result<()> {
    for (name, sql) in view_sql(rules, rules_version) {
        ctx.sql(&sql)
            .await
            .map_err(|e| e.context(format!("creating view {name}")))?;
        if !materialize {
            continue;
        }
        let provider = ctx.table_provider(name).await?;
        if let Some(view) = provider.downcast_ref::<ViewTable>() {
            let materialized =
                MaterializedView::new(view.logical_plan().clone(), view.definition().cloned());
            ctx.deregister_table(name)?;
            ctx.register_table(name, Arc::new(materialized))?;
        }
    }
    Ok(())
}

/// The key of a join that pairs every row of one side with every row of the other, written in
/// place of `CROSS JOIN`: both sides select it as a column (`… AS one`) and join `ON a.one =
/// b.one`. DataFusion 55's cross join emits one batch per row of its buffered side times each
/// batch of the other, so every branch × every quarter became thousands of one-row batches that
/// each later operator paid for; a hash join on one key emits full batches. (The pairs are the
/// same: the key is equal on every row.)
pub(crate) const EVERY_PAIR_KEY: &str = "CAST(0 AS BIGINT)";

/// A SQL string literal.
pub(crate) fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A SQL identifier, quoted so Chinese indicator names can be column names.
pub(crate) fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// An exact decimal literal for an amount in hundredths.
pub(crate) fn dec(c: Cents) -> String {
    let sign = if c.0 < 0 { "-" } else { "" };
    let a = c.0.unsigned_abs();
    format!("CAST('{sign}{}.{:02}' AS DECIMAL(12,2))", a / 100, a % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A materialized view hands its rows out under the logical schema; where DataFusion plans
    /// one type and computes another (`round(avg(decimal), 2)`), the view must say which.
    #[tokio::test]
    async fn every_view_computes_the_types_it_declares() {
        let ctx = SessionContext::new();
        for table in model::schema::TABLES {
            let empty =
                datafusion::catalog::MemTable::try_new(table.arrow_schema(), vec![vec![]]).unwrap();
            ctx.register_table(table.name, Arc::new(empty)).unwrap();
        }
        register_inline(&ctx, &Rules::default_rules(), 1)
            .await
            .unwrap();
        let types = |schema: &arrow::datatypes::Schema| -> Vec<_> {
            schema
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect()
        };
        for name in VIEW_NAMES {
            let df = ctx.table(*name).await.unwrap();
            let declared = types(df.schema().as_arrow());
            let computed = types(&df.create_physical_plan().await.unwrap().schema());
            assert_eq!(declared, computed, "{name}");
        }
    }

    #[test]
    fn literals_are_escaped() {
        assert_eq!(lit("O'Brien"), "'O''Brien'");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(dec(Cents(9500)), "CAST('95.00' AS DECIMAL(12,2))");
        assert_eq!(dec(Cents(-5)), "CAST('-0.05' AS DECIMAL(12,2))");
    }
}
