//! The database the `.slt` files talk to: a session holding the SPEC tables (empty, in memory:
//! each file inserts its own rows) and the metric views under the file's rules.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use model::Rules;
use model::schema::TABLES;
use sqllogictest::{DBOutput, DefaultColumnType};

pub(crate) struct Session {
    ctx: SessionContext,
}

fn cell(col: &ArrayRef, row: usize) -> Result<String, DataFusionError> {
    if col.is_null(row) {
        return Ok("NULL".into());
    }
    if let DataType::Float64 = col.data_type() {
        // Rates are compared to 6 places: enough to see a wrong denominator, immune to the
        // last bits of a division.
        let v = col
            .as_any()
            .downcast_ref::<arrow::array::Float64Array>()
            .map(|a| a.value(row))
            .unwrap_or_default();
        let s = format!("{v:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        return Ok(if s == "-0" { "0".into() } else { s.to_string() });
    }
    let options = FormatOptions::default();
    let f = ArrayFormatter::try_new(col.as_ref(), &options)?;
    let s = f.value(row).to_string();
    Ok(if s.is_empty() { "(empty)".into() } else { s })
}

fn rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, DataFusionError> {
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            out.push(
                b.columns()
                    .iter()
                    .map(|c| cell(c, r))
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
    }
    Ok(out)
}

#[async_trait]
impl sqllogictest::AsyncDB for Session {
    type Error = DataFusionError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DataFusionError> {
        let df = self.ctx.sql(sql).await?;
        let width = df.schema().fields().len();
        let batches = df.collect().await?;
        let head = sql.trim_start().to_ascii_uppercase();
        let is_statement = head.starts_with("INSERT") || head.starts_with("CREATE");
        if is_statement {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; width],
            rows: rows(&batches)?,
        })
    }

    async fn shutdown(&mut self) {}
}

/// A fresh session: every file starts from empty tables, so no file sees another's rows.
pub(crate) async fn session(rules: Arc<Rules>) -> Result<Session, DataFusionError> {
    let config = datafusion::prelude::SessionConfig::new().with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    for table in TABLES {
        let provider = MemTable::try_new(table.arrow_schema(), vec![vec![]])?;
        ctx.register_table(table.name, Arc::new(provider))?;
    }
    // The rows change as each file inserts them: views recomputed per query.
    engine::views::register_inline(&ctx, &rules, 1).await?;
    Ok(Session { ctx })
}
