//! The one error of a query, from any door (the CLI, the metrics API, the wire server), with
//! the PostgreSQL SQLSTATE a client is told.

use datafusion::error::DataFusionError;
use warehouse::WarehouseError;

/// Why a query gave no result.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query could not be planned: a syntax error, an unknown table or column, a type that
    /// does not fit. (DataFusion's message carries its own causes: it is quoted, not chained.)
    #[error("{0}")]
    Plan(DataFusionError),
    /// It was planned and failed while running.
    #[error("{0}")]
    Execution(DataFusionError),
    /// It needed more memory than the tenant's pool holds. The pool is shared by the county's
    /// queries running at once, so the same query may fit when the others have ended.
    /// (DataFusion's own text, quoted last, suggests settings a user cannot change.)
    #[error(
        "the query needs more memory than this county's limit (memory_mb, shared by its queries running at once); narrow it, or try again when the county's other queries end ({0})"
    )]
    ResourcesExhausted(DataFusionError),
    /// It ran past the tenant's time limit and was cancelled.
    #[error("the query ran longer than {seconds} s (this tenant's time limit) and was cancelled")]
    Timeout {
        /// The limit it ran into.
        seconds: f64,
    },
    /// Its result has more rows than the tenant allows.
    #[error(
        "the result has more than {max_rows} rows (this tenant's limit); add LIMIT or narrow the query"
    )]
    RowLimit {
        /// The limit it ran into.
        max_rows: u64,
    },
    /// The tenant's other queries held every place for the whole time limit.
    #[error(
        "this county already runs {running} queries at once (its limit, max_concurrent_queries) and none ended within the time limit ({seconds} s); try again when they end"
    )]
    Busy {
        /// How many of the tenant's queries may run at once.
        running: usize,
        /// How long it waited.
        seconds: f64,
    },
    /// The result holds more bytes than the tenant's `max_result_mb`, however few its rows.
    #[error(
        "the result holds more than {max_result_mb} MiB (this tenant's limit); select fewer columns or rows"
    )]
    ResultTooLarge {
        /// The limit it ran into, in MiB.
        max_result_mb: u64,
    },
    /// Refused before it ran (see [`Refusal`]).
    #[error("{message}")]
    Refused {
        /// Which rule refused it.
        kind: Refusal,
        /// What to tell the user: what was refused and what to do instead.
        message: String,
    },
    /// Something inside the engine broke (a panic, a lost thread); logged, and nothing else
    /// is affected.
    #[error("{message}")]
    Internal {
        /// What to tell the user.
        message: String,
    },
    /// The tenant's committed tables could not be read.
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    /// The cluster the process runs its queries on (`--cluster`) did not answer.
    #[error(
        "cannot reach the cluster's scheduler at {scheduler} ({reason}); is `gridassess cluster scheduler` running there, and its port open to this machine?"
    )]
    ClusterUnreachable {
        /// The scheduler's address (`df://HOST:PORT`).
        scheduler: String,
        /// Why, as the network said.
        reason: String,
    },
}

/// Which rule refused a query before it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Longer, wider or deeper than the tenant's limits allow.
    TooLarge,
    /// The text cannot be read as SQL.
    Unreadable,
    /// It would change something: DDL, DML, COPY, a setting other than a display setting.
    ReadOnly,
    /// The user's role may not read what it names.
    NotPermitted,
    /// A statement this server does not offer (cursors: a query's answer comes whole, within
    /// the row limit, so a cursor would only be a way around the limits).
    NotSupported,
}

impl Refusal {
    /// The PostgreSQL SQLSTATE of a query refused for this reason.
    pub fn sqlstate(self) -> &'static str {
        match self {
            Refusal::TooLarge => "54001",
            Refusal::Unreadable => "42601",
            Refusal::ReadOnly => "25006",
            Refusal::NotPermitted => "42501",
            Refusal::NotSupported => "0A000",
        }
    }
}

impl QueryError {
    /// A query refused before it ran.
    pub fn refused(kind: Refusal, message: impl Into<String>) -> QueryError {
        QueryError::Refused {
            kind,
            message: message.into(),
        }
    }

    /// An internal failure, told to the user as `message`.
    pub fn internal(message: impl Into<String>) -> QueryError {
        QueryError::Internal {
            message: message.into(),
        }
    }

    /// A DataFusion error of a query that was being planned.
    pub fn planning(e: DataFusionError) -> QueryError {
        match e.find_root() {
            DataFusionError::ResourcesExhausted(_) => QueryError::ResourcesExhausted(e),
            DataFusionError::Plan(_)
            | DataFusionError::SQL(..)
            | DataFusionError::SchemaError(..)
            | DataFusionError::NotImplemented(_) => QueryError::Plan(e),
            _ => QueryError::Execution(e),
        }
    }

    /// A DataFusion error of a query that was running.
    pub fn running(e: DataFusionError) -> QueryError {
        match e.find_root() {
            DataFusionError::ResourcesExhausted(_) => QueryError::ResourcesExhausted(e),
            // A plan error while running is still the query's fault (a cast that cannot be
            // done, say), not the engine's.
            DataFusionError::Plan(_)
            | DataFusionError::SQL(..)
            | DataFusionError::SchemaError(..) => QueryError::Plan(e),
            _ => QueryError::Execution(e),
        }
    }

    /// The PostgreSQL SQLSTATE a client is told.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            QueryError::Plan(e) => match e.find_root() {
                DataFusionError::SchemaError(..) => "42703",
                DataFusionError::NotImplemented(_) => "0A000",
                _ => "42601",
            },
            QueryError::Execution(_) => "XX000",
            QueryError::ResourcesExhausted(_) => "53200",
            QueryError::Timeout { .. } => "57014",
            QueryError::Busy { .. } => "53000",
            QueryError::RowLimit { .. } | QueryError::ResultTooLarge { .. } => "54000",
            QueryError::Refused { kind, .. } => kind.sqlstate(),
            QueryError::Internal { .. } => "XX000",
            QueryError::Warehouse(_) => "58000",
            QueryError::ClusterUnreachable { .. } => "08001",
        }
    }
}

/// Most DataFusion calls outside a query's run are planning: registering tables, building
/// views, parsing SQL.
impl From<DataFusionError> for QueryError {
    fn from(e: DataFusionError) -> QueryError {
        QueryError::planning(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_its_sqlstate() {
        let plan = QueryError::from(DataFusionError::Plan("no such table".into()));
        assert!(matches!(plan, QueryError::Plan(_)));
        assert_eq!(plan.sqlstate(), "42601");
        let oom = QueryError::running(DataFusionError::ResourcesExhausted("pool".into()));
        assert_eq!(oom.sqlstate(), "53200");
        let exec = QueryError::running(DataFusionError::Execution("divide".into()));
        assert_eq!(exec.sqlstate(), "XX000");
        assert_eq!(QueryError::Timeout { seconds: 1.0 }.sqlstate(), "57014");
        assert_eq!(QueryError::RowLimit { max_rows: 1 }.sqlstate(), "54000");
        assert_eq!(
            QueryError::ResultTooLarge { max_result_mb: 1 }.sqlstate(),
            "54000"
        );
        assert_eq!(
            QueryError::Busy {
                running: 2,
                seconds: 1.0
            }
            .sqlstate(),
            "53000"
        );
        assert_eq!(
            QueryError::refused(Refusal::ReadOnly, "no").sqlstate(),
            "25006"
        );
        assert_eq!(
            QueryError::refused(Refusal::TooLarge, "no").sqlstate(),
            "54001"
        );
        assert_eq!(QueryError::internal("boom").sqlstate(), "XX000");
    }
}
