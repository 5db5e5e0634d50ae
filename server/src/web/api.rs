//! `/api/v1`: the console's JSON API, documented in the README.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use engine::access::{Access, Role};
use engine::{Metric, Metrics};
use model::Period;
use serde::Deserialize;

use super::{Refused, Web, csrf_ok};
use crate::wire::LoginRefused;

/// A user name and password, as the API's JSON and the login page's form send them.
#[derive(Deserialize)]
pub(crate) struct Credentials {
    pub(crate) user: String,
    pub(crate) password: String,
}

/// Logs `credentials` in from `peer` for the console (the password check, back-off and lockout
/// shared with pg-wire) and opens a session: its token and CSRF token. The login is audited.
pub(crate) async fn log_in(
    web: &Web,
    credentials: &Credentials,
    peer: SocketAddr,
) -> Result<(String, String), Refused> {
    let user = web
        .shared
        .authenticate(
            &credentials.user,
            &credentials.password,
            peer.ip(),
            "web console",
        )
        .await
        .map_err(login_refused)?;
    let opened = web
        .sessions
        .open(user)
        .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    web.shared
        .audit_door("login", &credentials.user, peer.ip(), Some("web console"));
    Ok(opened)
}

/// `POST /api/v1/session` `{"user", "password"}`: 200 with the session cookie and
/// `{"csrf_token"}`, or 401 (429 while locked out, 503 when the password line is full).
pub(crate) async fn open_session(
    State(web): State<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(credentials): Json<Credentials>,
) -> Response {
    match log_in(&web, &credentials, peer).await {
        Ok((token, csrf)) => (
            [(header::SET_COOKIE, web.cookie(Some(&token)))],
            Json(serde_json::json!({ "csrf_token": csrf })),
        )
            .into_response(),
        Err(refused) => refused.into_response(),
    }
}

/// How a refused login is told, whichever page or route it came through.
pub(crate) fn login_refused(refused: LoginRefused) -> Refused {
    match refused {
        LoginRefused::WrongPassword => {
            Refused::new(StatusCode::UNAUTHORIZED, "wrong user name or password")
        }
        LoginRefused::Turned(t) => Refused::new(StatusCode::TOO_MANY_REQUESTS, t.to_string()),
        LoginRefused::Internal(e) => Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// `DELETE /api/v1/session` (with `X-CSRF-Token`): ends the session.
pub(crate) async fn close_session(
    State(web): State<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let Some((token, session)) = web.session(&headers) else {
        return Refused::new(StatusCode::UNAUTHORIZED, "not logged in").into_response();
    };
    if !csrf_ok(&headers, &session, None) {
        return Refused::new(StatusCode::FORBIDDEN, "missing or wrong X-CSRF-Token")
            .into_response();
    }
    web.sessions.end(&token);
    web.shared.audit_door(
        "session ended",
        &session.user.name,
        peer.ip(),
        Some("logout (web console)"),
    );
    (
        [(header::SET_COOKIE, web.cookie(None))],
        Json(serde_json::json!({ "ended": true })),
    )
        .into_response()
}

/// The metric a URL names, with its parameters; defaults as the CLI's (the latest period with
/// scores, its year, level 2 for coverage, 3 for grid).
pub(crate) async fn metric_of(
    metrics: &Metrics,
    name: &str,
    params: &HashMap<String, String>,
) -> Result<Metric, Refused> {
    let bad = |what: &str, value: &str| {
        Refused::new(
            StatusCode::BAD_REQUEST,
            format!("{what}={value} is not valid"),
        )
    };
    let latest = || async {
        metrics
            .periods()
            .await
            .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
            .map(|p| p.last().copied())
    };
    let period = match params.get("period") {
        Some(p) => Some(p.parse::<Period>().map_err(|_| bad("period", p))?),
        None => None,
    };
    let year = match params.get("year") {
        Some(y) => Some(y.parse::<i32>().map_err(|_| bad("year", y))?),
        None => None,
    };
    let level = match params.get("level") {
        Some(l) => Some(l.parse::<u8>().map_err(|_| bad("level", l))?),
        None => None,
    };
    let year_or_latest = || async {
        match year {
            Some(y) => Ok::<_, Refused>(Some(y)),
            None => Ok(latest().await?.map(|p| p.year())),
        }
    };
    let no_scores = || Refused::new(StatusCode::NOT_FOUND, "no period has scores yet");
    Ok(match name {
        "ranking" => Metric::Ranking {
            period: match period {
                Some(p) => p,
                None => latest().await?.ok_or_else(no_scores)?,
            },
        },
        "ranking-year" => Metric::RankingYear {
            year: year_or_latest().await?.ok_or_else(no_scores)?,
        },
        "coverage" => Metric::Coverage {
            level: level.unwrap_or(2),
        },
        "findings" => Metric::Findings,
        "attendance" => Metric::Attendance { level, year },
        "compliance" => Metric::Compliance { year },
        "alerts" => Metric::Alerts { year },
        "points" => Metric::Points {
            year: year_or_latest().await?.ok_or_else(no_scores)?,
        },
        "grid" => Metric::Grid {
            level: level.unwrap_or(3),
        },
        other => {
            return Err(Refused::new(
                StatusCode::NOT_FOUND,
                format!(
                    "no metric {other}: ranking, ranking-year, coverage, findings, attendance, \
                     compliance, alerts, points or grid"
                ),
            ));
        }
    })
}

/// The user's metrics of `tenant`, when it is theirs.
pub(crate) async fn metrics_for(
    web: &Web,
    user: &crate::users::User,
    tenant: &str,
    rules: Option<u32>,
) -> Result<Metrics, Refused> {
    if !user.tenants.iter().any(|t| t == tenant) {
        return Err(Refused::no_county(tenant));
    }
    let access = Access::new(vec![tenant.to_string()], user.role).with_rules_version(rules);
    Metrics::open(&web.shared.warehouse, &access)
        .await
        .map_err(|e| Refused::new(StatusCode::BAD_REQUEST, e.to_string()))
}

/// `GET /api/v1/tenants/{tenant}/{metric}?format=json|csv&period=&year=&level=`.
pub(crate) async fn metric(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path((tenant, name)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match metric_response(&web, &headers, &tenant, &name, &params).await {
        Ok(r) => r,
        Err(refused) => refused.into_response(),
    }
}

async fn metric_response(
    web: &Web,
    headers: &HeaderMap,
    tenant: &str,
    name: &str,
    params: &HashMap<String, String>,
) -> Result<Response, Refused> {
    let (_, session) = web
        .session(headers)
        .ok_or_else(|| Refused::new(StatusCode::UNAUTHORIZED, "not logged in"))?;
    let rules = match params.get("rules").filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => Some(r.parse::<u32>().map_err(|_| {
            Refused::new(
                StatusCode::BAD_REQUEST,
                format!("rules={r} is not a version number"),
            )
        })?),
    };
    let metrics = metrics_for(web, &session.user, tenant, rules).await?;
    let metric = metric_of(&metrics, name, params).await?;
    if metric.is_member_level() && session.user.role == Role::Viewer {
        return Err(Refused::new(
            StatusCode::FORBIDDEN,
            "a viewer sees no member-level table",
        ));
    }
    let table = metrics
        .table(&metric)
        .await
        .map_err(|e| Refused::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let mut body = Vec::new();
    let (content_type, written) = match params.get("format").map(String::as_str) {
        None | Some("json") => (
            "application/json",
            reports::export::json(&mut body, &table.schema, &table.batches),
        ),
        Some("csv") => (
            "text/csv; charset=utf-8",
            reports::export::csv(&mut body, &table.schema, &table.batches),
        ),
        Some(other) => {
            return Err(Refused::new(
                StatusCode::BAD_REQUEST,
                format!("format={other}: json or csv"),
            ));
        }
    };
    written.map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// The session of a request that changes something: logged in (401), carrying the CSRF token
/// (403), of a user granted `tenant` (404, the same whether or not it exists) in `role` or
/// better (403).
pub(crate) fn changing(
    web: &Web,
    headers: &HeaderMap,
    tenant: &str,
    role: Role,
) -> Result<super::sessions::WebSession, Refused> {
    let (_, session) = web
        .session(headers)
        .ok_or_else(|| Refused::new(StatusCode::UNAUTHORIZED, "not logged in"))?;
    if !csrf_ok(headers, &session, None) {
        return Err(Refused::new(
            StatusCode::FORBIDDEN,
            "missing or wrong X-CSRF-Token",
        ));
    }
    granted(&session, tenant, role)?;
    Ok(session)
}

/// Whether the session's user was granted `tenant` (404 otherwise) in `role` or a role that
/// may do more (403 otherwise).
pub(crate) fn granted(
    session: &super::sessions::WebSession,
    tenant: &str,
    role: Role,
) -> Result<(), Refused> {
    if !session.user.tenants.iter().any(|t| t == tenant) {
        return Err(Refused::no_county(tenant));
    }
    let rank = |r: Role| match r {
        Role::Viewer => 0,
        Role::Analyst => 1,
        Role::Admin => 2,
    };
    if rank(session.user.role) < rank(role) {
        return Err(Refused::new(
            StatusCode::FORBIDDEN,
            format!("this needs the {role} role"),
        ));
    }
    Ok(())
}

/// `POST /api/v1/tenants/{tenant}/loads` (admin, `X-CSRF-Token`, multipart with `files`
/// parts): stages the upload, loads it as `gridassess ingest` does, and answers the
/// reconciliation.
pub(crate) async fn upload(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    multipart: axum::extract::Multipart,
) -> Response {
    match upload_response(&web, &headers, &tenant, multipart).await {
        Ok(r) => r,
        Err(refused) => refused.into_response(),
    }
}

async fn upload_response(
    web: &Web,
    headers: &HeaderMap,
    tenant: &str,
    multipart: axum::extract::Multipart,
) -> Result<Response, Refused> {
    let session = changing(web, headers, tenant, Role::Admin)?;
    let turn = web.upload_turn(tenant)?;
    let staged = super::upload::stage(multipart, web.upload).await?;
    let report = load_staged(web, tenant, staged, turn).await?;
    tracing::info!(target: "audit", user = %session.user.name, tenant, load = report.load_id, "upload loaded");
    Ok(Json(load_json(tenant, &report)).into_response())
}

/// Loads a staged upload on a thread of its own (reading and checking files is CPU work that
/// must not hold up the runtime that answers logins), keeping the staging folder until the
/// load is done even if the client goes away.
pub(crate) async fn load_staged(
    web: &Web,
    tenant: &str,
    staged: super::upload::Staged,
    turn: super::UploadTurn,
) -> Result<ingest::LoadReport, Refused> {
    let county = web
        .shared
        .warehouse
        .tenant(tenant)
        .map_err(|_| Refused::no_county(tenant))?;
    let root = staged.folder.path().to_path_buf();
    let options = ingest::LoadOptions {
        headers: county
            .header_map()
            .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .map(|(_, map)| map)
            .unwrap_or_default(),
        replace: staged.replace.clone(),
        allow_mass_removal: staged.allow_mass_removal,
        shown_from: Some(root.clone()),
    };
    let runtime = tokio::runtime::Handle::current();
    let warehouse_root = web.shared.warehouse.root().to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || {
        let progress = |message: &str| tracing::debug!(target: "upload", message);
        let report = runtime.block_on(ingest::load(&county, &staged.paths, &options, &progress));
        drop(staged);
        if report.is_ok() {
            // Still in the county's upload turn: the next load waits for these results
            // rather than racing them. The answer comes once every metric page is a read.
            runtime.block_on(crate::keep_results(&warehouse_root, &county.id));
        }
        drop(turn);
        report
    })
    .await
    .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    loaded.map_err(|e| {
        // The staging folder's path is the server's; the township knows its files by name.
        let message = e.to_string().replace(
            &format!("{}{}", root.display(), std::path::MAIN_SEPARATOR),
            "",
        );
        let status = match &e {
            ingest::IngestError::Warehouse(warehouse::WarehouseError::Busy { .. }) => {
                StatusCode::CONFLICT
            }
            ingest::IngestError::Warehouse(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Refused::new(status, message)
    })
}

/// A load's reconciliation as JSON: per table `read = loaded + rejected`, `removed` apart.
pub(crate) fn load_json(tenant: &str, report: &ingest::LoadReport) -> serde_json::Value {
    let sum = |f: fn(&ingest::TableCount) -> usize| report.tables.iter().map(f).sum::<usize>();
    serde_json::json!({
        "load_id": report.load_id,
        "rules_version": report.rules_version,
        "unchanged": report.unchanged(),
        "read": sum(|t| t.read),
        "loaded": sum(|t| t.loaded),
        "rejected": sum(|t| t.rejected),
        "warnings": sum(|t| t.warnings),
        "removed": sum(|t| t.removed),
        "tables": report.tables.iter().map(|t| serde_json::json!({
            "table": t.table,
            "read": t.read,
            "loaded": t.loaded,
            "rejected": t.rejected,
            "warnings": t.warnings,
            "removed": t.removed,
        })).collect::<Vec<_>>(),
        "files": report.files.iter().map(|f| serde_json::json!({
            "file": f.source,
            "table": f.table,
            "encoding": f.encoding,
            "rows": f.rows,
        })).collect::<Vec<_>>(),
        "skipped": report.skipped.iter().map(|s| serde_json::json!({
            "file": s.path,
            "reason": s.reason,
        })).collect::<Vec<_>>(),
        "issues": report.issues.len(),
        "rejections": format!("/api/v1/tenants/{tenant}/loads/{}/rejections", report.load_id),
    })
}

/// `GET /api/v1/tenants/{tenant}/loads`: every committed load, oldest first.
pub(crate) async fn loads(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Response {
    let answer = async {
        let (_, session) = web
            .session(&headers)
            .ok_or_else(|| Refused::new(StatusCode::UNAUTHORIZED, "not logged in"))?;
        granted(&session, &tenant, Role::Viewer)?;
        let county = web
            .shared
            .warehouse
            .tenant(&tenant)
            .map_err(|_| Refused::no_county(&tenant))?;
        let history = ingest::history(&county)
            .await
            .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        Ok::<_, Refused>(Json(
            history
                .iter()
                .map(|l| {
                    serde_json::json!({
                        "load_id": l.load_id,
                        "loaded_at": l.loaded_at,
                        "files": l.files,
                        "rules_version": l.rules_version,
                        "tables": l.tables,
                    })
                })
                .collect::<Vec<_>>(),
        ))
    };
    match answer.await {
        Ok(r) => r.into_response(),
        Err(refused) => refused.into_response(),
    }
}

/// The rejections' columns in Chinese, for the workbook a township gets back.
pub(crate) const REJECTION_LABELS: &[&str] =
    &["批次", "表", "文件", "行", "列", "值", "原因", "处理"];

/// `GET /api/v1/tenants/{tenant}/loads/{id}/rejections?format=json|csv|xlsx` (admin: the
/// values are as the files had them, unmasked).
pub(crate) async fn rejections(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path((tenant, load_id)): Path<(String, u64)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match rejections_response(&web, &headers, &tenant, load_id, &params).await {
        Ok(r) => r,
        Err(refused) => refused.into_response(),
    }
}

async fn rejections_response(
    web: &Web,
    headers: &HeaderMap,
    tenant: &str,
    load_id: u64,
    params: &HashMap<String, String>,
) -> Result<Response, Refused> {
    let (_, session) = web
        .session(headers)
        .ok_or_else(|| Refused::new(StatusCode::UNAUTHORIZED, "not logged in"))?;
    granted(&session, tenant, Role::Admin)?;
    let county = web
        .shared
        .warehouse
        .tenant(tenant)
        .map_err(|_| Refused::no_county(tenant))?;
    let last = county
        .manifest()
        .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .last_load_id;
    if load_id == 0 || load_id > last {
        return Err(Refused::new(
            StatusCode::NOT_FOUND,
            format!("no load {load_id} in {tenant} (the last is {last})"),
        ));
    }
    let (_, batches) = ingest::load_issues(&county, Some(load_id))
        .await
        .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let schema = warehouse::issues_schema();
    let failed =
        |e: reports::ReportError| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let mut body = Vec::new();
    let (content_type, disposition) = match params.get("format").map(String::as_str) {
        None | Some("json") => {
            reports::export::json(&mut body, &schema, &batches).map_err(failed)?;
            ("application/json", None)
        }
        Some("csv") => {
            reports::export::csv(&mut body, &schema, &batches).map_err(failed)?;
            ("text/csv; charset=utf-8", Some("csv"))
        }
        Some("xlsx") => {
            body =
                reports::export::xlsx(&schema, &batches, Some(REJECTION_LABELS)).map_err(failed)?;
            (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                Some("xlsx"),
            )
        }
        Some(other) => {
            return Err(Refused::new(
                StatusCode::BAD_REQUEST,
                format!("format={other}: json, csv or xlsx"),
            ));
        }
    };
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    if let Some(ext) = disposition {
        // An ASCII name, so every browser keeps it as given.
        let name = format!("attachment; filename=\"rejections-{tenant}-load-{load_id}.{ext}\"");
        if let Ok(value) = axum::http::HeaderValue::from_str(&name) {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, value);
        }
    }
    Ok(response)
}

#[derive(Deserialize)]
pub(crate) struct SqlRequest {
    sql: String,
    #[serde(default)]
    format: Option<String>,
}

/// `POST /api/v1/tenants/{tenant}/sql` (`X-CSRF-Token`) `{"sql", "format": "json|csv|xlsx"}`:
/// one read-only statement through the same guard as pg-wire (size and depth checks, the
/// county's time, row, byte and memory limits, its queue), masked for the user's role, and
/// audited as a query. JSON answers `{"columns": [...], "rows": [[...]]}`.
pub(crate) async fn sql(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    Json(request): Json<SqlRequest>,
) -> Response {
    match sql_response(&web, &headers, &tenant, &request).await {
        Ok(r) => r,
        Err(refused) => refused.into_response(),
    }
}

/// A query's columns and rows, for the editor's grid and a script.
pub(crate) struct Answer {
    pub(crate) schema: arrow::datatypes::SchemaRef,
    pub(crate) batches: Vec<arrow::array::RecordBatch>,
}

/// Runs `sql` for the session's user over `tenant`, through the guard, and audits it.
pub(crate) async fn run_sql(
    web: &Web,
    session: &super::sessions::WebSession,
    tenant: &str,
    sql: &str,
) -> Result<Answer, Refused> {
    granted(session, tenant, Role::Viewer)?;
    let started = std::time::Instant::now();
    let tenants = vec![tenant.to_string()];
    let access = Access::new(tenants.clone(), session.user.role);
    let ran = async {
        let opened = engine::Session::open(&web.shared.warehouse, &access).await?;
        web.shared
            .register_audit(opened.context(), session.user.role, &tenants)
            .map_err(engine::QueryError::running)?;
        opened.sql(sql).await
    }
    .await;
    let rows = ran
        .as_ref()
        .map(|(_, b)| b.iter().map(|b| b.num_rows() as u64).sum::<u64>())
        .map_err(|e| e.to_string());
    web.shared
        .audit_query(&session.user.name, tenant, sql, started, &rows);
    match ran {
        Ok((schema, batches)) => Ok(Answer { schema, batches }),
        Err(e) => Err(Refused::new(query_status(&e), e.to_string())),
    }
}

/// How a refused or failed statement is answered over HTTP.
fn query_status(e: &engine::QueryError) -> StatusCode {
    use engine::QueryError as Q;
    match e {
        Q::Refused {
            kind: engine::Refusal::NotPermitted,
            ..
        } => StatusCode::FORBIDDEN,
        // Syntax, a column or table that is not there, a statement that is not a read.
        Q::Plan(_) | Q::Refused { .. } => StatusCode::BAD_REQUEST,
        // The county's line is full: try again shortly.
        Q::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Q::Internal { .. } | Q::Warehouse(_) => StatusCode::INTERNAL_SERVER_ERROR,
        // Limits (time, rows, bytes, memory) and errors while running (a bad cast).
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

async fn sql_response(
    web: &Web,
    headers: &HeaderMap,
    tenant: &str,
    request: &SqlRequest,
) -> Result<Response, Refused> {
    let session = changing(web, headers, tenant, Role::Viewer)?;
    let answer = run_sql(web, &session, tenant, &request.sql).await?;
    answer_response(&answer, request.format.as_deref(), "query")
}

/// An answer in `format`: JSON columns and rows (the default), CSV or a workbook (as files).
pub(crate) fn answer_response(
    answer: &Answer,
    format: Option<&str>,
    file_stem: &str,
) -> Result<Response, Refused> {
    let failed =
        |e: reports::ReportError| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let attachment = |ext: &str| {
        axum::http::HeaderValue::from_str(&format!("attachment; filename=\"{file_stem}.{ext}\""))
            .unwrap_or(axum::http::HeaderValue::from_static("attachment"))
    };
    match format {
        None | Some("json") => {
            let mut objects = Vec::new();
            reports::export::json(&mut objects, &answer.schema, &answer.batches).map_err(failed)?;
            let objects: Vec<serde_json::Map<String, serde_json::Value>> =
                serde_json::from_slice(&objects)
                    .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            let columns: Vec<String> = answer
                .schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let rows: Vec<Vec<serde_json::Value>> = objects
                .into_iter()
                .map(|mut o| {
                    columns
                        .iter()
                        .map(|c| o.remove(c).unwrap_or(serde_json::Value::Null))
                        .collect()
                })
                .collect();
            Ok(Json(serde_json::json!({ "columns": columns, "rows": rows })).into_response())
        }
        Some("csv") => {
            let mut body = Vec::new();
            reports::export::csv(&mut body, &answer.schema, &answer.batches).map_err(failed)?;
            Ok((
                [
                    (
                        header::CONTENT_TYPE,
                        axum::http::HeaderValue::from_static("text/csv; charset=utf-8"),
                    ),
                    (header::CONTENT_DISPOSITION, attachment("csv")),
                ],
                body,
            )
                .into_response())
        }
        Some("xlsx") => {
            let body =
                reports::export::xlsx(&answer.schema, &answer.batches, None).map_err(failed)?;
            Ok((
                [
                    (
                        header::CONTENT_TYPE,
                        axum::http::HeaderValue::from_static(
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        ),
                    ),
                    (header::CONTENT_DISPOSITION, attachment("xlsx")),
                ],
                body,
            )
                .into_response())
        }
        Some(other) => Err(Refused::new(
            StatusCode::BAD_REQUEST,
            format!("format {other}: json, csv or xlsx"),
        )),
    }
}
