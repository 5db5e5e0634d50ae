//! The audit log read back as a table: `audit_queries` in an admin's session holds the lines of
//! the server's audit log (one JSON object per statement, written by `wire`) that touched one of
//! the admin's counties, read afresh at every query.

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

/// The name an admin queries it by.
pub(crate) const AUDIT_QUERIES: &str = "audit_queries";

/// `audit_queries`: the audit log's lines whose tenants include one of `tenants`.
#[derive(Debug)]
pub(crate) struct AuditQueries {
    path: PathBuf,
    tenants: Vec<String>,
    schema: SchemaRef,
}

impl AuditQueries {
    pub(crate) fn new(path: PathBuf, tenants: &[String]) -> AuditQueries {
        let schema = Arc::new(Schema::new(vec![
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new("user", DataType::Utf8, true),
            Field::new("tenants", DataType::Utf8, true),
            Field::new("ms", DataType::Float64, true),
            Field::new("rows", DataType::Int64, true),
            Field::new("error", DataType::Utf8, true),
            Field::new("sql", DataType::Utf8, true),
        ]));
        AuditQueries {
            path,
            tenants: tenants.to_vec(),
            schema,
        }
    }

    /// The log's lines for these tenants. A line that does not parse (the last one of a server
    /// killed while writing it) cannot be told apart from another county's, so it is left out
    /// and counted in the server's log.
    fn read(&self) -> Result<RecordBatch> {
        let mut at = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        let (mut user, mut tenants, mut error, mut sql) = (
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
        );
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
            user.append_option(text("user"));
            tenants.append_value(line_tenants);
            ms.append_option(entry.get("ms").and_then(|v| v.as_f64()));
            rows.append_option(entry.get("rows").and_then(|v| v.as_i64()));
            error.append_option(text("error"));
            sql.append_option(text("sql"));
        }
        if unreadable > 0 {
            tracing::warn!(path = %self.path.display(), unreadable, "audit log lines that do not parse were left out of audit_queries");
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(at.finish()),
            Arc::new(user.finish()),
            Arc::new(tenants.finish()),
            Arc::new(ms.finish()),
            Arc::new(rows.finish()),
            Arc::new(error.finish()),
            Arc::new(sql.finish()),
        ];
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

#[async_trait]
impl TableProvider for AuditQueries {
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
            Arc::new(AuditQueries::new(path, &["a".to_string()])),
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
}
