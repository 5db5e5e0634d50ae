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
//! [`crate::session::Session`] builds such a session; this module says what goes in it.

use std::str::FromStr;
use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::common::Column;
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionContext;
use model::schema::{Mask, TableDef};
use serde::{Deserialize, Serialize};

use crate::error::QueryError;
use crate::views::VIEW_NAMES;

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

pub(crate) fn column(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

/// What a session is for: whose tables, seen in which role, under which rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Access {
    /// The tenants, in the order the user named them.
    pub tenants: Vec<String>,
    /// What the user may see of them.
    pub role: Role,
    /// The rules version the metric views compute under (`None`: the one in force).
    pub rules_version: Option<u32>,
    /// The load whose committed state the tables are read at (`None`: the newest).
    pub as_of: Option<u64>,
}

impl Access {
    /// `role`'s view of `tenants` under the rules in force.
    pub fn new(tenants: Vec<String>, role: Role) -> Access {
        Access {
            tenants,
            role,
            rules_version: None,
            as_of: None,
        }
    }

    /// Everything of one tenant, as its own county office sees it.
    pub fn admin_of(tenant: &str) -> Access {
        Access::new(vec![tenant.to_string()], Role::Admin)
    }

    /// The same, with the metric views computed under an earlier rules version (a replay).
    pub fn with_rules_version(mut self, version: Option<u32>) -> Access {
        self.rules_version = version;
        self
    }

    /// The same, reading the tables as load `load` committed them (`None`: the newest state).
    pub fn as_of(mut self, load: Option<u64>) -> Access {
        self.as_of = load;
        self
    }

    /// The table and view names a session for this access holds.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = match self.role {
            Role::Viewer => viewer_views(),
            _ => model::schema::TABLES
                .iter()
                .map(|t| t.name)
                .chain(VIEW_NAMES.iter().copied())
                .collect(),
        };
        if self.role == Role::Admin {
            names.push(AUDIT_LOADS);
        }
        names
    }
}

/// The loads of the county as its admin reads them: one row per load and table, with the
/// reconciliation (`read = loaded + rejected`, `removed`), the files and the rules version.
pub const AUDIT_LOADS: &str = "audit_loads";

/// The provider of `table` as an analyst sees it: the stored table under a projection that
/// masks its personal columns. The stored table itself gets no name in the session.
pub(crate) fn masked(
    ctx: &SessionContext,
    table: &TableDef,
    stored: Arc<dyn TableProvider>,
) -> Result<Arc<dyn TableProvider>, QueryError> {
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
