//! Who sees what (SPEC §5), built into the session itself.
//!
//! A session is made for one user: it registers only the tables and views of the tenants that
//! user was granted — no other tenant's table has a name, path or URL in it. For an analyst the
//! personal-data columns are masked inside the table provider (a projection over the stored
//! table that the session never exposes by name), so the mask holds wherever the column is
//! used: output, joins, GROUP BY, exports and error messages. The metric views are built on top
//! of those providers. A viewer gets the metric views only, without member-level rows. A user
//! of several tenants sees their union, with a `tenant_id` column first.
//!
//! Building a session opens every Delta table and plans every view; the views then compute
//! their rows on first read (see [`crate::views::materialized`]). Both are kept per user kind
//! and committed state ([`SessionKey`]), so the next session of the same kind — every psql
//! connection, every dashboard refresh — starts from the same providers and reads the views'
//! rows from memory until a load or a rules change commits a new state.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::catalog::TableProvider;
use datafusion::common::Column;
use datafusion::logical_expr::{Expr, lit};
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use serde::{Deserialize, Serialize};

use crate::guard::Limits;
use crate::schema::{Mask, TABLES};
use crate::session::QueryError;
use crate::views::VIEW_NAMES;
use crate::warehouse::Warehouse;

/// A user's role (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every column.
    Admin,
    /// Personal data masked.
    Analyst,
    /// The metric views only, without member-level rows.
    Viewer,
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "analyst" => Ok(Role::Analyst),
            "viewer" => Ok(Role::Viewer),
            other => Err(format!(
                "unknown role '{other}' (roles: admin, analyst, viewer)"
            )),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
        })
    }
}

/// The metric views with a row per member; a viewer gets every other view.
pub const MEMBER_LEVEL_VIEWS: &[&str] = &["member_points", "attendance_alerts"];

/// The metric views a viewer may read.
pub fn viewer_views() -> Vec<&'static str> {
    VIEW_NAMES
        .iter()
        .copied()
        .filter(|v| !MEMBER_LEVEL_VIEWS.contains(v) && *v != "grid_closure")
        .collect()
}

/// The SQL expression that masks column `c` (SPEC §5). Values too short to keep their ends
/// are starred out entirely rather than shown.
pub fn mask_sql(mask: Mask, c: &str) -> String {
    let c = format!("\"{c}\"");
    let len = format!("character_length({c})");
    match mask {
        Mask::Name => {
            format!("CASE WHEN {c} IS NULL THEN NULL ELSE concat(substr({c}, 1, 1), '*') END")
        }
        Mask::IdNumber => format!(
            "CASE WHEN {c} IS NULL THEN NULL WHEN {len} < 11 THEN repeat('*', {len}) \
             ELSE concat(substr({c}, 1, 6), '********', substr({c}, {len} - 3, 4)) END"
        ),
        Mask::Phone => format!(
            "CASE WHEN {c} IS NULL THEN NULL WHEN {len} < 8 THEN repeat('*', {len}) \
             ELSE concat(substr({c}, 1, 3), '****', substr({c}, {len} - 3, 4)) END"
        ),
    }
}

fn column(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

/// What a session is for.
#[derive(Debug, Clone)]
pub struct Access {
    pub tenants: Vec<String>,
    pub role: Role,
}

/// A session for `access` over the committed state of its tenants, with the tenants' limits
/// (the strictest of them when there are several) and their memory pool.
pub async fn user_session(
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
    let runtime = crate::guard::runtime_for(&access.tenants, &limits)?;
    let config = crate::session::config()?;
    let config = || config.clone();

    let key = SessionKey::of(warehouse, access, &limits)?;
    if let Some(providers) = cache::get(&key) {
        let session = SessionContext::new_with_config_rt(config(), runtime);
        for (name, provider) in providers.iter() {
            session.register_table(*name, provider.clone())?;
        }
        return Ok((session, limits));
    }
    let (session, names) = build_session(warehouse, access, config, runtime).await?;
    let mut providers = Vec::with_capacity(names.len());
    for name in names {
        providers.push((name, session.table_provider(name).await?));
    }
    cache::put(key, providers);
    Ok((session, limits))
}

/// What makes two sessions the same: the user's tenants and role, each tenant's committed
/// generation and rules version, and the memory pool their tables were registered under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SessionKey {
    tenants: Vec<String>,
    role: Role,
    state: Vec<(u64, u32)>,
    memory_mb: u64,
}

impl SessionKey {
    fn of(warehouse: &Warehouse, access: &Access, limits: &Limits) -> Result<Self, QueryError> {
        let mut state = Vec::with_capacity(access.tenants.len());
        for t in &access.tenants {
            let tenant = warehouse.tenant(t)?;
            state.push((tenant.manifest()?.generation, tenant.rules()?.0));
        }
        Ok(SessionKey {
            tenants: access.tenants.clone(),
            role: access.role,
            state,
            memory_mb: limits.memory_mb,
        })
    }
}

/// Drops every kept session, so the next one opens its tables and computes its views anew
/// (a benchmark of the cold path calls this between runs).
pub fn forget_sessions() {
    cache::clear();
}

mod cache {
    use super::*;

    type Providers = Arc<Vec<(&'static str, Arc<dyn TableProvider>)>>;

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

    pub(super) fn put(key: SessionKey, providers: Vec<(&'static str, Arc<dyn TableProvider>)>) {
        let Ok(mut map) = map().lock() else { return };
        // An older committed state of the same user kind is never asked for again.
        map.retain(|k, _| !(k.tenants == key.tenants && k.role == key.role));
        if map.len() >= KEPT
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, (t, _))| *t)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(key, (tick(), Arc::new(providers)));
    }

    pub(super) fn clear() {
        if let Ok(mut map) = map().lock() {
            map.clear();
        }
    }
}

/// Opens the tenants' tables and registers what `access` may see; returns the session and
/// the names registered in it.
async fn build_session(
    warehouse: &Warehouse,
    access: &Access,
    config: impl Fn() -> SessionConfig,
    runtime: Arc<datafusion::execution::runtime_env::RuntimeEnv>,
) -> Result<(SessionContext, Vec<&'static str>), QueryError> {
    // One session per tenant, with (masked) tables and the views over them; the tenants'
    // sessions are built at once (a city's ten, each opening nine Delta logs).
    let mut per_tenant = futures::future::try_join_all(access.tenants.iter().map(|t| {
        let (config, runtime) = (config(), runtime.clone());
        async move {
            let tenant = warehouse.tenant(t)?;
            let manifest = tenant.manifest()?;
            let ctx = SessionContext::new_with_config_rt(config, runtime);
            let mask = access.role == Role::Analyst;
            crate::session::register_tables(&ctx, &tenant, &manifest, mask).await?;
            let (version, _, rules) = tenant.rules()?;
            crate::views::register(&ctx, &rules, version).await?;
            Ok::<_, QueryError>((t.clone(), ctx))
        }
    }))
    .await?;

    let names: Vec<&str> = match access.role {
        Role::Viewer => viewer_views(),
        _ => TABLES
            .iter()
            .map(|t| t.name)
            .chain(VIEW_NAMES.iter().copied())
            .collect(),
    };
    if per_tenant.len() == 1 && access.role != Role::Viewer {
        let (_, ctx) = per_tenant.remove(0);
        return Ok((ctx, names));
    }

    // A fresh session that holds only the allowed names; each is a view over the tenant
    // sessions' plans (one tenant), or their union with the tenant's id first.
    let session = SessionContext::new_with_config_rt(config(), runtime);
    let several = per_tenant.len() > 1;
    for &name in &names {
        let mut union: Option<DataFrame> = None;
        for (t, ctx) in &per_tenant {
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
        if let Some(df) = union {
            session.register_table(name, df.into_view())?;
        }
    }
    Ok((session, names))
}

/// The provider of `table` as an analyst sees it: the stored table under a projection that
/// masks its personal columns. The stored table itself gets no name in the session.
pub(crate) fn masked(
    ctx: &SessionContext,
    table: &crate::schema::TableDef,
    stored: Arc<dyn datafusion::catalog::TableProvider>,
) -> Result<Arc<dyn datafusion::catalog::TableProvider>, QueryError> {
    let df = ctx.read_table(stored)?;
    let mut exprs = Vec::new();
    for c in table.columns {
        exprs.push(match c.mask {
            None => column(c.name),
            Some(m) => df.parse_sql_expr(&mask_sql(m, c.name))?.alias(c.name),
        });
    }
    Ok(df.select(exprs)?.into_view())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_as_written() {
        assert_eq!("analyst".parse::<Role>().unwrap(), Role::Analyst);
        assert!(
            "root"
                .parse::<Role>()
                .unwrap_err()
                .contains("admin, analyst, viewer")
        );
        assert_eq!(Role::Viewer.to_string(), "viewer");
    }
}
