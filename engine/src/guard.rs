//! Guardrails for every ad-hoc query, from `sql` and from the server (SPEC §5): read-only, a
//! size check before anything is parsed, a memory pool per set of tenants, a time limit with
//! real cancellation, a result-row limit, and a panic inside the engine turned into an error
//! for that query alone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::execute_stream;
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion::sql::sqlparser::ast::{Query, SetExpr, Statement};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use futures::StreamExt;

use model::Limits;

use crate::error::{QueryError, Refusal};
use crate::stoppable::{StopFlag, stoppable};

/// The runtime (and with it the memory pool) of a set of tenants: every session over the same
/// tenants shares it, so one tenant's queries together stay within its memory limit, and no
/// other tenant's pool is touched. Queries that need more fail with "Resources exhausted";
/// nothing spills to disk.
pub fn runtime_for(tenants: &[String], limits: &Limits) -> Result<Arc<RuntimeEnv>, QueryError> {
    /// (pool size in bytes, runtime) per sorted tenant list.
    type Pools = Mutex<HashMap<String, (u64, Arc<RuntimeEnv>)>>;
    static RUNTIMES: OnceLock<Pools> = OnceLock::new();
    let key = tenant_key(tenants);
    let bytes = limits.memory_mb.saturating_mul(1024 * 1024);
    let map = RUNTIMES.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = map
        .lock()
        .map_err(|_| QueryError::internal("the memory pools are unavailable"))?;
    if let Some((b, rt)) = map.get(&key)
        && *b == bytes
    {
        return Ok(rt.clone());
    }
    let rt = RuntimeEnvBuilder::new()
        .with_memory_limit(bytes as usize, 1.0)
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()?;
    map.insert(key, (bytes, rt.clone()));
    Ok(rt)
}

/// The line a set of tenants' queries wait in: at most `max_concurrent_queries` of them run at
/// once, so that one county's heavy queries leave cores for the others. Every session over the
/// same tenants shares it, as it shares their memory pool, and their queries run on the
/// tenants' own runtime ([`tenant_runtime`]).
#[derive(Debug, Clone)]
pub struct Queue {
    permits: Arc<tokio::sync::Semaphore>,
    allowed: usize,
    runtime: &'static tokio::runtime::Runtime,
}

impl Queue {
    /// The queue of `tenants` (one per sorted tenant list and allowance).
    pub fn of(tenants: &[String], limits: &Limits) -> Result<Queue, QueryError> {
        static QUEUES: OnceLock<Mutex<HashMap<(String, usize), Queue>>> = OnceLock::new();
        let allowed = limits.max_concurrent_queries.max(1);
        let key = (tenant_key(tenants), allowed);
        let mut gates = QUEUES
            .get_or_init(|| Mutex::new(HashMap::new()))
            .lock()
            .map_err(|_| QueryError::internal("the query queues are unavailable"))?;
        if let Some(queue) = gates.get(&key) {
            return Ok(queue.clone());
        }
        let queue = Queue {
            permits: Arc::new(tokio::sync::Semaphore::new(allowed)),
            allowed,
            runtime: tenant_runtime(&key.0)?,
        };
        gates.insert(key, queue.clone());
        Ok(queue)
    }
}

/// The tenants as one key: sorted, joined by commas.
fn tenant_key(tenants: &[String]) -> String {
    let mut key: Vec<&str> = tenants.iter().map(String::as_str).collect();
    key.sort_unstable();
    key.join(",")
}

/// Refuses SQL that is too big or too deeply built to plan safely, before it is parsed: the
/// planner recurses over expression trees, and `1+1+…` twenty thousand times deep would
/// overflow the stack and abort the whole process (apache/datafusion#22229). The tokenizer
/// does not recurse, so this check cannot itself be made to overflow.
pub fn check_sql(sql: &str, limits: &Limits) -> Result<(), QueryError> {
    if sql.len() > limits.max_sql_bytes {
        return Err(QueryError::refused(
            Refusal::TooLarge,
            format!(
                "the query is {} bytes long; the limit is {} bytes",
                sql.len(),
                limits.max_sql_bytes
            ),
        ));
    }
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize()
        .map_err(|e| {
            QueryError::refused(Refusal::Unreadable, format!("cannot read the query: {e}"))
        })?;
    let (mut operators, mut depth, mut deepest, mut set_ops) = (0usize, 0usize, 0usize, 0usize);
    let mut relations = Relations::default();
    for t in &tokens {
        relations.see(t);
        match t {
            Token::LParen | Token::LBrace => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            // A subscript is a tree level even when it does not nest: `a[1][1][1]…`.
            Token::LBracket => {
                operators += 1;
                depth += 1;
                deepest = deepest.max(depth);
            }
            Token::RParen | Token::RBracket | Token::RBrace => depth = depth.saturating_sub(1),
            Token::Word(w) if w.keyword == Keyword::NoKeyword => {}
            Token::Word(w) => {
                operators += 1;
                if matches!(
                    w.keyword,
                    Keyword::UNION | Keyword::INTERSECT | Keyword::EXCEPT
                ) {
                    set_ops += 1;
                }
            }
            t if is_leaf(t) => {}
            // Every other token is an operator of some kind (`<<`, `#`, `~`, `::`, `->`, `[`…):
            // counting them all, rather than a list of the usual ones, leaves no operator
            // whose chain can build a tree deep enough to overflow the planner's stack.
            _ => operators += 1,
        }
    }
    let refuse = |what: &str, n: usize, max: usize| {
        Err(QueryError::refused(
            Refusal::TooLarge,
            format!(
                "the query has {n} {what}; the limit is {max} (split it, or use IN (...) or a join)"
            ),
        ))
    };
    if operators > limits.max_operators {
        return refuse("operators and keywords", operators, limits.max_operators);
    }
    if deepest > limits.max_nesting {
        return refuse("levels of nested parentheses", deepest, limits.max_nesting);
    }
    if set_ops > limits.max_set_operations {
        return refuse("UNION/INTERSECT/EXCEPT", set_ops, limits.max_set_operations);
    }
    if relations.count > limits.max_relations {
        return refuse(
            "tables, views and subqueries read",
            relations.count,
            limits.max_relations,
        );
    }
    Ok(())
}

/// Counts the relations a statement reads, from its tokens: one for each FROM and JOIN, and
/// one for each comma of a FROM list (at the FROM's own depth of parentheses, until the clause
/// after it). It never counts fewer than the planner will join; it may count a few more
/// (`EXTRACT(YEAR FROM d)`, `IS DISTINCT FROM`), which only matters far below the limit.
#[derive(Debug, Default)]
struct Relations {
    count: usize,
    /// Per depth of parentheses, whether a FROM list is open there.
    in_from: Vec<bool>,
}

impl Relations {
    fn see(&mut self, token: &Token) {
        if self.in_from.is_empty() {
            self.in_from.push(false);
        }
        let depth = self.in_from.len();
        let open = self
            .in_from
            .last_mut()
            .expect("the outermost level is always there");
        match token {
            Token::LParen => self.in_from.push(false),
            Token::RParen if depth > 1 => {
                self.in_from.pop();
            }
            Token::Comma if *open => self.count += 1,
            Token::SemiColon => *open = false,
            Token::Word(w) => match w.keyword {
                Keyword::FROM => {
                    self.count += 1;
                    *open = true;
                }
                Keyword::JOIN => self.count += 1,
                Keyword::WHERE
                | Keyword::GROUP
                | Keyword::HAVING
                | Keyword::ORDER
                | Keyword::LIMIT
                | Keyword::OFFSET
                | Keyword::FETCH
                | Keyword::WINDOW
                | Keyword::QUALIFY
                | Keyword::UNION
                | Keyword::INTERSECT
                | Keyword::EXCEPT
                | Keyword::SELECT
                | Keyword::FOR => *open = false,
                _ => {}
            },
            _ => {}
        }
    }
}

/// Tokens that are leaves of a statement's tree: names, literals and separators. Keywords,
/// operators and brackets are counted by [`check_sql`] instead.
fn is_leaf(token: &Token) -> bool {
    matches!(
        token,
        Token::EOF
            | Token::Number(..)
            | Token::Char(_)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::Comma
            | Token::Whitespace(_)
            | Token::Period
            | Token::SemiColon
            | Token::Placeholder(_)
    )
}

/// Session settings a client may change: how values are shown, nothing about resources.
const SETTABLE: &[&str] = &[
    "datestyle",
    "extra_float_digits",
    "application_name",
    "client_encoding",
    "search_path",
    "bytea_output",
    "intervalstyle",
    "timezone",
    "time",
    "client_min_messages",
    "standard_conforming_strings",
    "statement_timeout",
];

/// What a statement is allowed to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// A query: it runs under the tenant's limits.
    Read,
    /// A statement about the session itself: SET of a display setting, SHOW, and transaction
    /// statements.
    Session,
}

/// The gate every parsed statement passes, from any door: a read, a session statement, or
/// refused as a change (DDL, DML, COPY, a setting that is not about display).
pub fn classify(statement: &Statement) -> Result<StatementKind, QueryError> {
    match statement {
        Statement::Query(query) if selects_into(query) => Err(QueryError::refused(
            Refusal::ReadOnly,
            "SELECT … INTO creates a table: this server is read-only (queries only)",
        )),
        Statement::Query(_)
        | Statement::Explain { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. } => Ok(StatementKind::Read),
        Statement::Set(_) => {
            let text = statement.to_string().to_lowercase();
            let name = text
                .trim_start_matches("set ")
                .trim_start_matches("session ")
                .trim_start_matches("local ")
                .split([' ', '='])
                .next()
                .unwrap_or_default()
                .to_string();
            if SETTABLE.contains(&name.as_str()) {
                Ok(StatementKind::Session)
            } else {
                Err(QueryError::refused(
                    Refusal::ReadOnly,
                    format!("SET {name} is not allowed: only display settings may be changed"),
                ))
            }
        }
        Statement::ShowVariable { .. }
        | Statement::ShowStatus { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. } => Ok(StatementKind::Session),
        // A cursor's FETCH runs its query in pieces, outside the row and time limits, the audit
        // and the read-only check of a plan: refused at the gate rather than guarded twice.
        Statement::Declare { .. } | Statement::Fetch { .. } | Statement::Close { .. } => {
            Err(QueryError::refused(
                Refusal::NotSupported,
                "cursors (DECLARE, FETCH, CLOSE) are not supported: run the query itself (psql: \\unset FETCH_COUNT)",
            ))
        }
        other => {
            let text = other.to_string();
            let first: String = text
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            Err(QueryError::refused(
                Refusal::ReadOnly,
                format!(
                    "{first} …: this server is read-only (queries only: no DDL, DML, COPY or settings)"
                ),
            ))
        }
    }
}

/// Whether any SELECT of the query, in any branch of a set operation, has an INTO clause.
fn selects_into(query: &Query) -> bool {
    // A worklist rather than recursion: the branches of a set operation nest as deep as the
    // query has UNIONs.
    let mut pending = vec![query.body.as_ref()];
    while let Some(body) = pending.pop() {
        match body {
            SetExpr::Select(select) if select.into.is_some() => return true,
            SetExpr::SetOperation { left, right, .. } => {
                pending.push(left);
                pending.push(right);
            }
            SetExpr::Query(inner) => pending.push(inner.body.as_ref()),
            _ => {}
        }
    }
    false
}

/// Statements a query may not contain: it reads, it never changes anything.
pub fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Runs one read-only query under `limits`: checked, planned, then executed as [`execute`].
pub async fn run(
    ctx: &SessionContext,
    sql: &str,
    limits: &Limits,
    queue: &Queue,
) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
    check_sql(sql, limits)?;
    let (ctx, sql) = (ctx.clone(), sql.to_string());
    execute(limits, queue, async move {
        Ok(ctx.sql_with_options(&sql, read_only()).await?)
    })
    .await
}

/// The runtime the queries of a set of tenants execute on (one per set, made when its first
/// session opens, kept for the process's life), apart from the one that accepts connections
/// and keeps time: a query that keeps its threads busy for a long stretch cannot delay the
/// timer that stops it, nor another client's login. And apart from every other county's: a
/// DataFusion task gives its thread back only between batches, so on one shared runtime two
/// heavy queries of one county held both worker threads and another county's 5 ms query
/// waited behind them for seconds (the soak run answered 317 of 7,300 honest queries). With a
/// runtime each, the operating system shares the cores between the counties' threads.
/// Runs `work` on the runtime of `tenants`' queries, not the caller's: a county's metric
/// results computed after an upload keep the worker threads of the server's own runtime (which
/// answers logins and other counties) free, as its queries do.
pub(crate) async fn on_tenants_runtime<T: Send + 'static>(
    tenants: &[String],
    work: impl std::future::Future<Output = Result<T, QueryError>> + Send + 'static,
) -> Result<T, QueryError> {
    tenant_runtime(&tenant_key(tenants))?
        .spawn(work)
        .await
        .map_err(|e| QueryError::internal(format!("the computation stopped: {e}")))?
}

fn tenant_runtime(key: &str) -> Result<&'static tokio::runtime::Runtime, QueryError> {
    static RUNTIMES: OnceLock<Mutex<HashMap<String, &'static tokio::runtime::Runtime>>> =
        OnceLock::new();
    let mut runtimes = RUNTIMES
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .map_err(|_| QueryError::internal("the query runtimes are unavailable"))?;
    if let Some(runtime) = runtimes.get(key) {
        return Ok(runtime);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("gridassess-query")
        // Planning recurses over expression trees; check_sql bounds their size and a roomy
        // stack keeps every accepted query clear of an overflow.
        .thread_stack_size(16 * 1024 * 1024)
        .enable_all()
        .build()
        .map_err(|e| QueryError::internal(format!("cannot start a query runtime: {e}")))?;
    // Leaked on purpose: a runtime cannot be dropped inside another one, and a county's is
    // needed for as long as the server serves it.
    let runtime: &'static tokio::runtime::Runtime = Box::leak(Box::new(runtime));
    runtimes.insert(key.to_string(), runtime);
    Ok(runtime)
}

/// Plans (`plan`) and executes a query on its tenants' runtime once its turn comes in `queue`
/// (waiting at most the time limit), with a time limit (on expiry the task is aborted, which
/// drops the plan and cancels its tasks), stopped past `max_rows` or `max_result_mb`; a panic
/// anywhere inside becomes an error for this query only.
pub async fn execute(
    limits: &Limits,
    queue: &Queue,
    plan: impl std::future::Future<Output = Result<DataFrame, QueryError>> + Send + 'static,
) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
    let max_rows = limits.max_rows;
    let max_result_mb = limits.max_result_mb;
    let stop = StopFlag::default();
    let stop_inside = stop.clone();
    within_limits(limits, queue, stop, async move {
        let df = plan.await?;
        let task = Arc::new(df.task_ctx());
        let physical = df
            .create_physical_plan()
            .await
            .map_err(QueryError::running)?;
        let physical = stoppable(physical, &stop_inside).map_err(QueryError::running)?;
        let mut stream = execute_stream(physical, task).map_err(QueryError::running)?;
        // The physical schema: what the batches carry (view types, nullability).
        let schema = stream.schema();
        let mut batches = Vec::new();
        let (mut rows, mut bytes) = (0u64, 0u64);
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(QueryError::running)?;
            rows += batch.num_rows() as u64;
            if rows > max_rows {
                return Err(QueryError::RowLimit { max_rows });
            }
            bytes += result_bytes(&batch);
            if bytes > max_result_mb.saturating_mul(1024 * 1024) {
                return Err(QueryError::ResultTooLarge { max_result_mb });
            }
            batches.push(batch);
        }
        Ok((schema, batches))
    })
    .await
}

/// Plans a query (`plan`) under the same line, time limit and panic containment as
/// [`execute`], without running it: what a client's Parse does in the extended protocol,
/// where planning would otherwise run with no timer.
pub async fn plan(
    limits: &Limits,
    queue: &Queue,
    plan: impl std::future::Future<Output = Result<LogicalPlan, QueryError>> + Send + 'static,
) -> Result<LogicalPlan, QueryError> {
    within_limits(limits, queue, StopFlag::default(), plan).await
}

/// Runs `work` on the query runtime once its turn comes in `queue` (waiting at most the time
/// limit); at the time limit `stop` is raised and the task aborted ([`crate::stoppable`]); a
/// panic inside it turned into this query's error.
async fn within_limits<T: Send + 'static>(
    limits: &Limits,
    queue: &Queue,
    stop: StopFlag,
    work: impl std::future::Future<Output = Result<T, QueryError>> + Send + 'static,
) -> Result<T, QueryError> {
    let _permit =
        match tokio::time::timeout(limits.timeout(), queue.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(QueryError::internal("the query queue is closed")),
            Err(_) => {
                return Err(QueryError::Busy {
                    running: queue.allowed,
                    seconds: limits.timeout_seconds,
                });
            }
        };
    let task = queue.runtime.spawn(work);
    let abort = task.abort_handle();
    match tokio::time::timeout(limits.timeout(), task).await {
        Err(_) => {
            stop.raise();
            abort.abort();
            Err(QueryError::Timeout {
                seconds: limits.timeout_seconds,
            })
        }
        Ok(Err(join)) => {
            let what = if join.is_panic() {
                let panic = join.into_panic();
                panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default()
            } else {
                join.to_string()
            };
            tracing::error!(%what, "a query failed inside the engine");
            Err(QueryError::internal(
                "the query failed inside the engine (an internal error, logged); nothing else is affected",
            ))
        }
        Ok(Ok(result)) => result,
    }
}

/// The bytes a result batch carries to its client: its values and offsets, not the buffers
/// its arrays share with others (a string view's data pages, a slice's parent), which
/// `get_array_memory_size` would count once per batch.
fn result_bytes(batch: &RecordBatch) -> u64 {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::DataType;
    batch
        .columns()
        .iter()
        .map(|a| {
            let len = a.len() as u64;
            match a.data_type() {
                DataType::Utf8 => {
                    let offsets = a.as_string::<i32>().value_offsets();
                    (offsets[offsets.len() - 1] - offsets[0]) as u64 + 4 * len
                }
                DataType::LargeUtf8 => {
                    let offsets = a.as_string::<i64>().value_offsets();
                    (offsets[offsets.len() - 1] - offsets[0]) as u64 + 8 * len
                }
                DataType::Utf8View => {
                    let views = a.as_string_view();
                    views.lengths().map(u64::from).sum::<u64>() + 4 * len
                }
                DataType::Binary => {
                    let offsets = a.as_binary::<i32>().value_offsets();
                    (offsets[offsets.len() - 1] - offsets[0]) as u64 + 4 * len
                }
                t => match t.primitive_width() {
                    Some(width) => width as u64 * len,
                    // Lists, structs, dictionaries: what they hold, shared or not.
                    None => a.get_array_memory_size() as u64,
                },
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn queue(limits: &Limits) -> Queue {
        Queue::of(&["guard-tests".to_string()], limits).unwrap()
    }

    fn chain(op: &str, n: usize) -> String {
        format!("SELECT {}", vec!["1"; n].join(op))
    }

    #[test]
    fn huge_and_deep_queries_are_refused_before_parsing() {
        let l = Limits::default();
        assert!(check_sql(&chain("+", 1_000), &l).is_ok());
        let err = check_sql(
            &chain("+", 20_000),
            &Limits {
                max_sql_bytes: 1 << 20,
                ..l.clone()
            },
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("20000 operators and keywords"),
            "{err}"
        );
        assert!(
            check_sql(&chain("+", 40_000), &l)
                .unwrap_err()
                .to_string()
                .contains("bytes long")
        );
        let nested = format!("SELECT {}1{}", "(".repeat(100), ")".repeat(100));
        assert!(
            check_sql(&nested, &l)
                .unwrap_err()
                .to_string()
                .contains("nested")
        );
        let unions = vec!["SELECT 1"; 500].join(" UNION ALL ");
        assert!(
            check_sql(&unions, &l)
                .unwrap_err()
                .to_string()
                .contains("UNION")
        );
    }

    /// A join of hundreds of tables fits the size and operator limits but plans for seconds
    /// before the time limit can stop it: refused by counting what it reads, however written.
    #[test]
    fn joins_of_hundreds_of_relations_are_refused() {
        let l = Limits::default();
        let comma = format!("SELECT 1 FROM {}", vec!["branches"; 1_500].join(", "));
        let joined = format!(
            "SELECT 1 FROM branches b0 {}",
            (1..300)
                .map(|i| format!("JOIN branches b{i} ON true"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let ctes = format!(
            "WITH c0 AS (SELECT 1 AS x), {} SELECT * FROM c299",
            (1..300)
                .map(|i| format!("c{i} AS (SELECT x FROM c{})", i - 1))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let nested = format!(
            "SELECT 1 FROM branches WHERE branch_id IN ({})",
            vec!["SELECT branch_id FROM members, meetings"; 60].join(" UNION ALL ")
        );
        for sql in [comma, joined, ctes, nested] {
            let err = check_sql(&sql, &l).expect_err(&sql[..40]);
            assert!(
                err.to_string().contains("tables, views and subqueries"),
                "{err}"
            );
        }
        // What a county office writes is far from it: commas of a select list, of function
        // arguments and of IN lists are not relations.
        let honest = "WITH t AS (SELECT unit_id, count(*) AS n FROM branches GROUP BY unit_id) \
                      SELECT b.name, coalesce(t.n, 0), substring(b.name FROM 1 FOR 2) \
                      FROM branches b LEFT JOIN t ON t.unit_id = b.unit_id, grid_units g \
                      WHERE g.unit_id = b.unit_id AND b.kind IN ('a', 'b', 'c') \
                      ORDER BY 1, 2 LIMIT 5";
        let mut counted = Relations::default();
        let tokens = Tokenizer::new(&PostgreSqlDialect {}, honest)
            .tokenize()
            .expect("tokens");
        tokens.iter().for_each(|t| counted.see(t));
        // branches (in t), FROM of substring, branches b, JOIN t, grid_units.
        assert_eq!(counted.count, 5);
        check_sql(honest, &l).expect("an honest query");
    }

    /// Every operator that builds one tree level per use, in a chain that fits the size
    /// limit: each must be refused before it is parsed, or the planner overflows its stack and
    /// the process aborts (the token check once counted `+` but not `<<`, `#` or `~`).
    #[test]
    fn every_operator_chain_is_refused_not_only_arithmetic() {
        let l = Limits::default();
        let chains = [
            chain("<<", 15_000),
            chain(">>", 15_000),
            chain("#", 20_000),
            chain(" ~ ", 12_000),
            chain("::int::int", 0) + &"::int".repeat(10_000),
            format!("SELECT '{{}}'::json{}", "->'a'".repeat(10_000)),
            format!("SELECT 1{}", " IS NULL".repeat(7_000)),
            format!("SELECT now(){}", " AT TIME ZONE 'UTC'".repeat(3_000)),
            format!("SELECT make_array(1){}", "[1]".repeat(15_000)),
        ];
        for sql in chains {
            assert!(sql.len() <= l.max_sql_bytes, "{} bytes", sql.len());
            let err = check_sql(&sql, &l).expect_err(&sql[..40]);
            assert!(
                err.to_string().contains("operators and keywords")
                    || err.to_string().contains("nested"),
                "{err}"
            );
        }
        // An honest query stays far below the limit.
        let honest = "SELECT b.name, count(*) AS n FROM branches b JOIN members m \
                      ON m.branch_id = b.branch_id WHERE m.status IN ('formal', 'probationary') \
                      GROUP BY b.name HAVING count(*) > 3 ORDER BY n DESC LIMIT 10";
        check_sql(honest, &l).unwrap();
    }

    /// Up to the limit, every kind of chain plans without overflowing the stack: an answer or
    /// a clean error (`~` on numbers is a type error), never an abort of the whole process.
    #[tokio::test]
    async fn chains_at_the_limit_plan_without_overflowing() {
        let l = Limits::default();
        let n = l.max_operators - 10;
        let ctx = SessionContext::new();
        for sql in [
            chain("<<", n),
            chain("#", n),
            chain(" ~ ", n),
            chain("+", n),
            // `::` and `int` count one each.
            format!("SELECT 1{}", "::int".repeat(n / 2)),
            format!("SELECT make_array(1){}", "[1]".repeat(n)),
        ] {
            check_sql(&sql, &l).expect("within the limit");
            let _answer_or_clean_error = run(&ctx, &sql, &l, &queue(&l)).await;
        }
    }

    fn kind_of(sql: &str) -> Result<StatementKind, QueryError> {
        let statements =
            datafusion::sql::sqlparser::parser::Parser::parse_sql(&PostgreSqlDialect {}, sql)
                .expect("parses");
        classify(&statements[0])
    }

    #[test]
    fn cursors_and_select_into_are_refused_at_the_gate() {
        for sql in [
            "DECLARE c CURSOR FOR SELECT 1",
            "FETCH ALL FROM c",
            "FETCH FORWARD 9223372036854775807 FROM c",
            "CLOSE c",
        ] {
            let err = kind_of(sql).expect_err(sql);
            assert_eq!(err.sqlstate(), "0A000", "{sql}: {err}");
            assert!(err.to_string().contains("cursors"), "{err}");
        }
        for sql in [
            "SELECT 1 AS x INTO t",
            "SELECT 1 UNION ALL (SELECT 2 INTO t)",
        ] {
            let err = kind_of(sql).expect_err(sql);
            assert_eq!(err.sqlstate(), "25006", "{sql}: {err}");
        }
        assert_eq!(
            kind_of("SELECT 1 UNION SELECT 2").unwrap(),
            StatementKind::Read
        );
        assert_eq!(kind_of("SHOW TIME ZONE").unwrap(), StatementKind::Session);
    }

    /// DataFusion gives a thread back only between batches; one county's queries that keep
    /// every thread of its runtime (here: blocked outright) must not keep another county's
    /// query from starting. On one shared runtime this query waited out its time limit.
    #[tokio::test]
    async fn a_county_holding_every_query_thread_does_not_hold_another_county() {
        let limits = Limits {
            timeout_seconds: 2.0,
            max_concurrent_queries: 16,
            ..Limits::default()
        };
        let hog = Queue::of(&["hog-county".to_string()], &limits).unwrap();
        let quiet = Queue::of(&["quiet-county".to_string()], &limits).unwrap();
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let hogs: Vec<_> = (0..threads * 2)
            .map(|_| {
                hog.runtime
                    .spawn(async { std::thread::sleep(Duration::from_secs(3)) })
            })
            .collect();
        let answered = within_limits(&limits, &quiet, StopFlag::default(), async { Ok(7) }).await;
        assert_eq!(
            answered.unwrap(),
            7,
            "the quiet county waited for the hog's threads"
        );
        for h in hogs {
            h.await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_panic_in_a_query_is_that_query_s_error_and_the_next_one_runs() {
        let limits = Limits::default();
        let err = execute(&limits, &queue(&limits), async {
            panic!("boom inside an operator")
        })
        .await
        .unwrap_err();
        assert_eq!(err.sqlstate(), "XX000");
        assert!(err.to_string().contains("internal error"), "{err}");
        let ctx = SessionContext::new();
        let (_, batches) = run(&ctx, "select 1 as x", &limits, &queue(&limits))
            .await
            .unwrap();
        assert_eq!(batches[0].num_rows(), 1);
    }

    #[tokio::test]
    async fn a_result_of_few_rows_but_many_bytes_is_refused() {
        let limits = Limits {
            max_result_mb: 1,
            ..Limits::default()
        };
        let ctx = SessionContext::new();
        // 100 rows of 20 kB: far under the row limit, 2 MB of text.
        let wide = "select repeat('x', 20000) as w from generate_series(1, 100)";
        let err = run(&ctx, wide, &limits, &queue(&limits)).await.unwrap_err();
        assert_eq!(err.sqlstate(), "54000", "{err}");
        assert!(err.to_string().contains("1 MiB"), "{err}");
        // Half of it passes, and so do many short rows that share their string buffers.
        let half = "select repeat('x', 20000) as w from generate_series(1, 40)";
        assert_eq!(
            run(&ctx, half, &limits, &queue(&limits))
                .await
                .unwrap()
                .1
                .len(),
            1
        );
        let narrow =
            "select arrow_cast(v::text, 'Utf8View') as s from generate_series(1, 50000) as t(v)";
        let rows: usize = run(&ctx, narrow, &limits, &queue(&limits))
            .await
            .unwrap()
            .1
            .iter()
            .map(|b| b.num_rows())
            .sum();
        assert_eq!(rows, 50_000);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_county_s_queries_wait_in_line_and_another_county_s_do_not() {
        let limits = Limits {
            max_concurrent_queries: 1,
            timeout_seconds: 0.5,
            ..Limits::default()
        };
        let long = Limits {
            timeout_seconds: 30.0,
            ..limits.clone()
        };
        let a = Queue::of(&["fair-a".to_string()], &limits).unwrap();
        let b = Queue::of(&["fair-b".to_string()], &limits).unwrap();
        let quick = || async { Ok(SessionContext::new().read_empty()?) };
        // County a's first query holds its one place for 3 s (standing in for a heavy scan).
        let heavy = {
            let a = a.clone();
            tokio::spawn(async move {
                execute(&long, &a, async {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    Ok(SessionContext::new().read_empty()?)
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        // County b's query does not wait for it (it would be told "busy" after 0.5 s) ...
        execute(&limits, &b, quick()).await.unwrap();
        // ... county a's second one does, and is told why when its time limit passes first.
        let err = execute(&limits, &a, quick()).await.unwrap_err();
        assert_eq!(err.sqlstate(), "53000", "{err}");
        assert!(err.to_string().contains("runs 1 queries at once"), "{err}");
        heavy.await.unwrap().unwrap();
        // Once the heavy one has ended, county a runs again.
        execute(&limits, &a, quick()).await.unwrap();
    }

    #[tokio::test]
    async fn a_slow_query_is_cancelled_at_its_time_limit() {
        let limits = Limits {
            timeout_seconds: 0.5,
            ..Limits::default()
        };
        let started = std::time::Instant::now();
        let err = execute(&limits, &queue(&limits), async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(SessionContext::new().read_empty()?)
        })
        .await
        .unwrap_err();
        assert_eq!(err.sqlstate(), "57014");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    /// Planning that does not yield (a join of many relations plans in one go) is still
    /// answered at the time limit: it runs on the query runtime, and the caller's timer is not
    /// held up by it.
    #[tokio::test]
    async fn planning_is_answered_at_the_time_limit() {
        let limits = Limits {
            timeout_seconds: 0.2,
            ..Limits::default()
        };
        let started = std::time::Instant::now();
        let err = plan(&limits, &queue(&limits), async {
            // Blocks its thread, as a planner's recursion would.
            std::thread::sleep(Duration::from_secs(3));
            Ok(SessionContext::new().read_empty()?.logical_plan().clone())
        })
        .await
        .unwrap_err();
        assert_eq!(err.sqlstate(), "57014", "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}
