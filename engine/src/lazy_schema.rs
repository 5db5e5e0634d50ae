//! A schema whose tables are opened when a query first names them.
//!
//! Opening a Delta table reads its log; a session over ten counties holds ninety of them. A
//! command that reads one kept metric result needs none of them, so a session registers each
//! table as a way to open it, and DataFusion's planner (which asks the schema for each name a
//! query uses, asynchronously) opens only those. An opened table is kept and shared by every
//! session forked from the same schema.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use futures::future::BoxFuture;
use tokio::sync::OnceCell;

use crate::error::QueryError;

/// How to open one table.
pub(crate) type Opener =
    Box<dyn Fn() -> BoxFuture<'static, Result<Arc<dyn TableProvider>, QueryError>> + Send + Sync>;

struct Lazy {
    kind: TableType,
    open: Opener,
    opened: OnceCell<Arc<dyn TableProvider>>,
}

impl Lazy {
    async fn get(&self) -> Result<Arc<dyn TableProvider>> {
        self.opened
            .get_or_try_init(|| (self.open)())
            .await
            .cloned()
            .map_err(|e| DataFusionError::External(Box::new(e)))
    }
}

/// Tables opened on first use, beside tables registered as they are (the views).
#[derive(Default)]
pub(crate) struct LazySchema {
    lazy: Mutex<BTreeMap<String, Arc<Lazy>>>,
    registered: Mutex<HashMap<String, Arc<dyn TableProvider>>>,
}

impl std::fmt::Debug for LazySchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazySchema")
            .field("tables", &self.table_names())
            .finish()
    }
}

/// The maps hold no invariant a panic could break (each change is one insert or remove).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LazySchema {
    /// Adds `name`, opened by `open` when a query first names it.
    pub(crate) fn add(&self, name: &str, kind: TableType, open: Opener) {
        lock(&self.lazy).insert(
            name.to_string(),
            Arc::new(Lazy {
                kind,
                open,
                opened: OnceCell::new(),
            }),
        );
    }

    /// A schema with the same tables (opened once for both) whose later registrations are its
    /// own: each session of a kept kind gets one, so nothing one session registers is seen by
    /// another.
    pub(crate) fn fork(&self) -> LazySchema {
        LazySchema {
            lazy: Mutex::new(lock(&self.lazy).clone()),
            registered: Mutex::new(lock(&self.registered).clone()),
        }
    }
}

#[async_trait]
impl SchemaProvider for LazySchema {
    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = lock(&self.lazy).keys().cloned().collect();
        names.extend(lock(&self.registered).keys().cloned());
        names.sort();
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(table) = lock(&self.registered).get(name) {
            return Ok(Some(table.clone()));
        }
        let lazy = lock(&self.lazy).get(name).cloned();
        match lazy {
            Some(lazy) => lazy.get().await.map(Some),
            None => Ok(None),
        }
    }

    async fn table_type(&self, name: &str) -> Result<Option<TableType>> {
        if let Some(table) = lock(&self.registered).get(name) {
            return Ok(Some(table.table_type()));
        }
        Ok(lock(&self.lazy).get(name).map(|l| l.kind))
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        if self.table_exist(&name) {
            return Err(DataFusionError::Execution(format!(
                "The table {name} already exists"
            )));
        }
        Ok(lock(&self.registered).insert(name, table))
    }

    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(table) = lock(&self.registered).remove(name) {
            return Ok(Some(table));
        }
        Ok(lock(&self.lazy)
            .remove(name)
            .and_then(|l| l.opened.get().cloned()))
    }

    fn table_exist(&self, name: &str) -> bool {
        lock(&self.registered).contains_key(name) || lock(&self.lazy).contains_key(name)
    }
}
