//! The audit log, written and read back as tables.
//!
//! The server writes one JSON object per line (serde_json, so any query text stays valid JSON):
//! an `event` of `query` for every statement, and of `login`, `login failed`, `login refused`,
//! `locked out`, `session ended` or `message refused` for what happens at the door. An admin's
//! session holds the lines that touched one of the admin's counties, read afresh at every
//! query: `audit_queries` (the statements) and `audit_logins` (the door).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

/// The name an admin queries the statements by.
pub(crate) const AUDIT_QUERIES: &str = "audit_queries";
/// The name an admin queries the logins and refusals by.
pub(crate) const AUDIT_LOGINS: &str = "audit_logins";

/// The `event` of a statement's line (lines written before events were named have none).
pub(crate) const QUERY: &str = "query";

/// Which lines a table holds, and as which columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `at, user, tenants, ms, rows, error, sql`.
    Queries,
    /// `at, event, user, tenants, address, reason`.
    Logins,
}

impl Kind {
    fn holds(self, event: Option<&str>) -> bool {
        match self {
            Kind::Queries => event.is_none_or(|e| e == QUERY),
            Kind::Logins => event.is_some_and(|e| e != QUERY),
        }
    }

    /// The text columns after `at` (and, for queries, the numbers between them).
    fn text_columns(self) -> &'static [&'static str] {
        match self {
            Kind::Queries => &["user", "tenants", "error", "sql"],
            Kind::Logins => &["event", "user", "tenants", "address", "reason"],
        }
    }
}

/// An audit table: the audit log's lines of one [`Kind`] whose tenants include one of
/// `tenants`.
#[derive(Debug)]
pub(crate) struct AuditLog {
    path: PathBuf,
    tenants: Vec<String>,
    kind: Kind,
    schema: SchemaRef,
}

impl AuditLog {
    pub(crate) fn new(path: PathBuf, tenants: &[String], kind: Kind) -> AuditLog {
        let at = Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        );
        let text = |name: &str| Field::new(name, DataType::Utf8, true);
        let fields = match kind {
            Kind::Queries => vec![
                at,
                text("user"),
                text("tenants"),
                Field::new("ms", DataType::Float64, true),
                Field::new("rows", DataType::Int64, true),
                text("error"),
                text("sql"),
            ],
            Kind::Logins => std::iter::once(at)
                .chain(kind.text_columns().iter().map(|c| text(c)))
                .collect(),
        };
        AuditLog {
            path,
            tenants: tenants.to_vec(),
            kind,
            schema: Arc::new(Schema::new(fields)),
        }
    }

    /// The log's lines for these tenants. A line that does not parse (the last one of a server
    /// killed while writing it) cannot be told apart from another county's, so it is left out
    /// and counted in the server's log.
    fn read(&self) -> Result<RecordBatch> {
        let mut at = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        let mut texts: Vec<StringBuilder> = self
            .kind
            .text_columns()
            .iter()
            .map(|_| StringBuilder::new())
            .collect();
        let mut ms = Float64Builder::new();
        let mut rows = Int64Builder::new();
        let file = match File::open(&self.path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(DataFusionError::IoError(e)),
        };
        let mut unreadable = 0usize;
        for line in file.into_iter().flat_map(|f| BufReader::new(f).lines()) {
            let line = line?;
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                unreadable += 1;
                continue;
            };
            let text = |key: &str| entry.get(key).and_then(|v| v.as_str());
            if !self.kind.holds(text("event")) {
                continue;
            }
            let Some(line_tenants) = text("tenants") else {
                unreadable += 1;
                continue;
            };
            if !line_tenants
                .split(',')
                .any(|t| self.tenants.iter().any(|mine| mine == t))
            {
                continue;
            }
            at.append_option(
                text("at")
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.timestamp_micros()),
            );
            for (builder, column) in texts.iter_mut().zip(self.kind.text_columns()) {
                builder.append_option(text(column));
            }
            ms.append_option(entry.get("ms").and_then(|v| v.as_f64()));
            rows.append_option(entry.get("rows").and_then(|v| v.as_i64()));
        }
        if unreadable > 0 {
            tracing::warn!(path = %self.path.display(), unreadable, "audit log lines that do not parse were left out of the audit tables");
        }
        let mut texts = texts
            .into_iter()
            .map(|mut b| Arc::new(b.finish()) as ArrayRef);
        let mut columns: Vec<ArrayRef> = vec![Arc::new(at.finish())];
        match self.kind {
            Kind::Queries => {
                // user, tenants, ms, rows, error, sql
                columns.extend(texts.by_ref().take(2));
                columns.push(Arc::new(ms.finish()));
                columns.push(Arc::new(rows.finish()));
                columns.extend(texts);
            }
            Kind::Logins => columns.extend(texts),
        }
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

#[async_trait]
impl TableProvider for AuditLog {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let batch = self.read()?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.schema.clone(),
            projection.cloned(),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn an_admin_reads_the_lines_of_their_counties_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let lines = [
            serde_json::json!({"at": "2026-12-01T08:00:00+00:00", "user": "wang", "tenants": "a", "ms": 1.5, "rows": 3, "error": null, "sql": "select '\"quoted\"\n, newline'"}),
            serde_json::json!({"at": "2026-12-01T08:01:00+00:00", "user": "li", "tenants": "b", "ms": 2.0, "rows": 1, "error": null, "sql": "select 'b only'"}),
            serde_json::json!({"at": "2026-12-01T08:02:00+00:00", "user": "city", "tenants": "a,b", "ms": 9.0, "rows": null, "error": "time limit", "sql": "select 2"}),
        ];
        let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        // A server killed mid-line leaves a torn last line.
        text.push_str("{\"at\": \"2026-12-01T08:03");
        std::fs::write(&path, text).unwrap();
        let ctx = SessionContext::new();
        ctx.register_table(
            AUDIT_QUERIES,
            Arc::new(AuditLog::new(path, &["a".to_string()], Kind::Queries)),
        )
        .unwrap();
        let batches = ctx
            .sql("select \"user\", sql, error from audit_queries order by at")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let table = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(table.contains("wang") && table.contains("city"), "{table}");
        assert!(table.contains("time limit"), "{table}");
        assert!(
            !table.contains("b only") && !table.contains("li "),
            "{table}"
        );
        let n: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(n, 2);
    }

    #[tokio::test]
    async fn logins_and_queries_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let lines = [
            serde_json::json!({"at": "2026-12-01T08:00:00+00:00", "event": "query", "user": "wang", "tenants": "a", "ms": 1.5, "rows": 3, "error": null, "sql": "select 1"}),
            serde_json::json!({"at": "2026-12-01T08:01:00+00:00", "event": "login failed", "user": "wang", "tenants": "a", "address": "10.0.0.7", "reason": "wrong password"}),
            serde_json::json!({"at": "2026-12-01T08:02:00+00:00", "event": "login", "user": "li", "tenants": "b", "address": "10.0.0.8", "reason": null}),
            serde_json::json!({"at": "2026-12-01T08:03:00+00:00", "event": "login failed", "user": "nobody", "tenants": "", "address": "10.0.0.9", "reason": "wrong password"}),
        ];
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let ctx = SessionContext::new();
        let mine = ["a".to_string()];
        ctx.register_table(
            AUDIT_QUERIES,
            Arc::new(AuditLog::new(path.clone(), &mine, Kind::Queries)),
        )
        .unwrap();
        ctx.register_table(
            AUDIT_LOGINS,
            Arc::new(AuditLog::new(path, &mine, Kind::Logins)),
        )
        .unwrap();
        let table = |sql: &'static str| {
            let ctx = ctx.clone();
            async move {
                let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
                arrow::util::pretty::pretty_format_batches(&batches)
                    .unwrap()
                    .to_string()
            }
        };
        let queries = table("select \"user\", ms, sql from audit_queries").await;
        assert!(
            queries.contains("select 1") && queries.contains("1.5"),
            "{queries}"
        );
        assert!(!queries.contains("wrong password"), "{queries}");
        let logins = table("select event, \"user\", address, reason from audit_logins").await;
        assert!(
            logins.contains("login failed") && logins.contains("10.0.0.7"),
            "{logins}"
        );
        assert!(
            !logins.contains("10.0.0.8")
                && !logins.contains("nobody")
                && !logins.contains("select"),
            "{logins}"
        );
    }
}
