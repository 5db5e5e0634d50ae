//! DataFusion sessions over one tenant's committed tables.

use std::path::Path;

use arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::schema::TABLES;
use crate::warehouse::{Manifest, Tenant, WarehouseError};

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error("{0}")]
    Sql(#[from] DataFusionError),
    /// Refused before planning, or stopped by a limit (see [`crate::guard`]); `sqlstate` is
    /// the PostgreSQL error code the server reports.
    #[error("{message}")]
    Refused {
        sqlstate: &'static str,
        message: String,
    },
}

impl QueryError {
    pub fn refused(sqlstate: &'static str, message: impl Into<String>) -> QueryError {
        QueryError::Refused {
            sqlstate,
            message: message.into(),
        }
    }

    /// The PostgreSQL SQLSTATE for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            QueryError::Refused { sqlstate, .. } => sqlstate,
            QueryError::Sql(e) => match e.find_root() {
                DataFusionError::ResourcesExhausted(_) => "53200",
                DataFusionError::Plan(_) | DataFusionError::SQL(..) => "42601",
                DataFusionError::SchemaError(..) => "42703",
                _ => "XX000",
            },
            QueryError::Warehouse(_) => "58000",
        }
    }
}

/// A session over the tenant's committed tables and the metric views under the rules in
/// force (or, with `rules_version`, under that earlier version of the rules).
pub async fn tenant_session(
    tenant: &Tenant,
    manifest: &Manifest,
    rules_version: Option<u32>,
) -> Result<SessionContext, QueryError> {
    let ctx = base_session(tenant, manifest).await?;
    let (version, _, rules) = match rules_version {
        Some(v) => tenant.rules_version(v)?,
        None => tenant.rules()?,
    };
    crate::views::register(&ctx, &rules, version).await?;
    Ok(ctx)
}

/// A session in which the tenant's tables, as committed in `manifest`, are registered under
/// their SPEC names. Nothing else is registered: no other tenant's table is reachable by name.
pub async fn base_session(
    tenant: &Tenant,
    manifest: &Manifest,
) -> Result<SessionContext, QueryError> {
    let ctx = SessionContext::new_with_config(config()?);
    register_tables(&ctx, tenant, manifest, false).await?;
    Ok(ctx)
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
pub async fn register_tables(
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
        delta
            .update_datafusion_session(&ctx.state())
            .map_err(|e| delta_err(&tenant.table_path(table.name), e))?;
        let provider = delta.table_provider().await.map_err(QueryError::Sql)?;
        let provider = if mask && table.columns.iter().any(|c| c.mask.is_some()) {
            crate::access::masked(ctx, table, provider)?
        } else {
            provider
        };
        ctx.register_table(table.name, provider)?;
    }
    Ok(())
}

fn delta_err(path: &Path, e: deltalake::DeltaTableError) -> QueryError {
    QueryError::Warehouse(WarehouseError::Delta {
        path: path.to_path_buf(),
        source: Box::new(e),
    })
}

/// Statements a query may not contain: it reads, it never changes anything.
pub fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Runs one read-only query and collects its result.
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>, QueryError> {
    let df = ctx.sql_with_options(sql, read_only()).await?;
    Ok(df.collect().await?)
}
