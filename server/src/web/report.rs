//! The period report in the console: built once per county, role, scope, rules version and
//! committed load (the same inputs give the same report), kept in memory for the pages' charts
//! and the downloads: `report.html` (self-contained), `ranking.xlsx` and each chart's PNG.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use engine::access::{Access, Role};
use minijinja::context;
use model::Period;
use reports::Scope;

use super::api::granted;
use super::pages::{county_page, refused_page};
use super::sessions::WebSession;
use super::{Refused, Web};

/// Reports kept per county; the least recently built of the county goes first. A
/// county-scale report is a few MB.
const KEPT: usize = 6;

/// What `report.html` may use: its own inline style, fonts and images as data, nothing remote.
const REPORT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; font-src data:; \
                          img-src data:; form-action 'none'; frame-ancestors 'none'; \
                          base-uri 'none'; sandbox";

/// A built report's files.
#[derive(Debug)]
pub(crate) struct Built {
    pub(crate) html: Vec<u8>,
    pub(crate) workbook: Vec<u8>,
    /// (chart name, PNG), in the report's order.
    pub(crate) charts: Vec<(String, Vec<u8>)>,
}

/// What a report depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    tenant: String,
    role: Role,
    scope: String,
    rules_version: u32,
    load_id: u64,
}

/// The reports built so far.
#[derive(Debug, Default)]
pub(crate) struct Reports {
    kept: Mutex<Vec<(Key, Arc<Built>)>>,
    /// One build at a time per county: a second request for the same report waits for the
    /// first's result, and a user asking for one year after another keeps one core of the
    /// county's busy, not every core of the server (a build runs outside the query guard).
    building: tokio::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Reports {
    fn get(&self, key: &Key) -> Option<Arc<Built>> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.iter().find(|(k, _)| k == key).map(|(_, b)| b.clone())
    }

    fn put(&self, key: Key, built: Arc<Built>) {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.retain(|(k, _)| *k != key);
        let of_county = kept.iter().filter(|(k, _)| k.tenant == key.tenant).count();
        if of_county >= KEPT
            && let Some(oldest) = kept.iter().position(|(k, _)| k.tenant == key.tenant)
        {
            kept.remove(oldest);
        }
        kept.push((key, built));
    }
}

/// A scope as URLs write it: `2024-B3` or `2024`.
pub(crate) fn parse_scope(text: &str) -> Result<Scope, Refused> {
    if let Ok(period) = text.parse::<Period>() {
        return Ok(Scope::Period(period));
    }
    match text.parse::<i32>() {
        Ok(year) if (1900..=2999).contains(&year) => Ok(Scope::Year(year)),
        _ => Err(Refused::new(
            StatusCode::BAD_REQUEST,
            format!("{text} is neither a period (2024-B3) nor a year"),
        )),
    }
}

fn scope_tag(scope: &Scope) -> String {
    match scope {
        Scope::Period(p) => p.to_string(),
        Scope::Year(y) => y.to_string(),
    }
}

/// The report of `scope` for the session's user (built, or as kept).
pub(crate) async fn report_for(
    web: &Web,
    session: &WebSession,
    tenant: &str,
    scope: Scope,
    rules_version: Option<u32>,
) -> Result<Arc<Built>, Refused> {
    granted(session, tenant, Role::Viewer)?;
    granted(session, tenant, Role::Analyst).map_err(|_| {
        Refused::new(
            StatusCode::FORBIDDEN,
            "考核报告列出党员个人情况，查看者不能生成或下载",
        )
    })?;
    let internal = |e: String| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e);
    let county = web
        .shared
        .warehouse
        .tenant(tenant)
        .map_err(|_| Refused::no_county(tenant))?;
    let load_id = county
        .manifest()
        .map_err(|e| internal(e.to_string()))?
        .last_load_id;
    let access =
        Access::new(vec![tenant.to_string()], session.user.role).with_rules_version(rules_version);
    let metrics = engine::Metrics::open(&web.shared.warehouse, &access)
        .await
        .map_err(|e| Refused::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    // Only a period with scores, or a year with one, has a report: any other scope is refused
    // before it costs a build (a build runs outside the query guard).
    let periods = metrics
        .periods()
        .await
        .map_err(|e| internal(e.to_string()))?;
    let known = match scope {
        Scope::Period(p) => periods.contains(&p),
        Scope::Year(y) => periods.iter().any(|p| p.year() == y),
    };
    if !known {
        return Err(Refused::new(
            StatusCode::NOT_FOUND,
            format!("{} 没有考评分数，没有报告", scope_tag(&scope)),
        ));
    }
    let key = Key {
        tenant: tenant.to_string(),
        role: session.user.role,
        scope: scope_tag(&scope),
        rules_version: metrics.rules_version(),
        load_id,
    };
    if let Some(built) = web.reports.get(&key) {
        return Ok(built);
    }
    let line = {
        let mut building = web.reports.building.lock().await;
        building.entry(key.tenant.clone()).or_default().clone()
    };
    // Owned, and moved into the build: a client that goes away mid-build does not free the
    // county's turn while its build still runs.
    let turn = line.lock_owned().await;
    if let Some(built) = web.reports.get(&key) {
        return Ok(built);
    }
    let name = county
        .info()
        .map(|i| i.name)
        .unwrap_or_else(|_| tenant.to_string());
    let generated_at = chrono::Local::now().format("%Y-%m-%d %H:%M").to_string();
    let input = reports::gather(&metrics, tenant, &name, scope, generated_at)
        .await
        .map_err(|e| Refused::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    // Drawing and writing are CPU work, kept off the runtime that answers logins.
    let built = tokio::task::spawn_blocking(move || -> Result<Built, String> {
        let _turn = turn;
        let report = reports::Report::build(input).map_err(|e| e.to_string())?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let written = report.write(dir.path()).map_err(|e| e.to_string())?;
        let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| e.to_string());
        let mut built = Built {
            html: Vec::new(),
            workbook: Vec::new(),
            charts: Vec::new(),
        };
        for file in &written.files {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            match name {
                "report.html" => built.html = read(file)?,
                "ranking.xlsx" => built.workbook = read(file)?,
                _ if name.ends_with(".png") => built
                    .charts
                    .push((name.trim_end_matches(".png").to_string(), read(file)?)),
                _ => {}
            }
        }
        Ok(built)
    })
    .await
    .map_err(|e| internal(e.to_string()))?
    .map_err(internal)?;
    let built = Arc::new(built);
    web.reports.put(key, built.clone());
    Ok(built)
}

/// The scope a page asks for (`period=` or `year=`), else the latest period with scores.
async fn asked_scope(
    web: &Web,
    session: &WebSession,
    tenant: &str,
    params: &HashMap<String, String>,
) -> Result<Scope, Refused> {
    if let Some(p) = params.get("period").filter(|p| !p.is_empty()) {
        return parse_scope(p);
    }
    if let Some(y) = params.get("year").filter(|y| !y.is_empty()) {
        return parse_scope(y);
    }
    let metrics = super::api::metrics_for(web, &session.user, tenant, None).await?;
    let periods = metrics
        .periods()
        .await
        .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    periods
        .last()
        .map(|p| Scope::Period(*p))
        .ok_or_else(|| Refused::new(StatusCode::NOT_FOUND, "还没有任何考评期的分数"))
}

fn rules_param(params: &HashMap<String, String>) -> Result<Option<u32>, Refused> {
    match params.get("rules").filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(r) => r.parse().map(Some).map_err(|_| {
            Refused::new(
                StatusCode::BAD_REQUEST,
                format!("rules={r} is not a version number"),
            )
        }),
    }
}

/// `GET /t/{tenant}/report?period=|year=&rules=`: the report's charts and its downloads.
pub(crate) async fn page(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some((_, session)) = web.session(&headers) else {
        return Redirect::to("/login").into_response();
    };
    let answer = async {
        let scope = asked_scope(&web, &session, &tenant, &params).await?;
        let rules = rules_param(&params)?;
        let built = report_for(&web, &session, &tenant, scope, rules).await?;
        Ok::<_, Refused>((scope, rules, built))
    };
    match answer.await {
        Ok((scope, rules, built)) => {
            let tag = scope_tag(&scope);
            let suffix = rules.map(|r| format!("?rules={r}")).unwrap_or_default();
            let charts: Vec<minijinja::Value> = built
                .charts
                .iter()
                .map(|(name, _)| {
                    context! { src => format!("/t/{tenant}/report/{tag}/{name}.png{suffix}") }
                })
                .collect();
            let label = match scope {
                Scope::Period(p) => p.label(),
                Scope::Year(y) => format!("{y}年度"),
            };
            county_page(
                &web,
                &session,
                &tenant,
                "report",
                "report.html",
                format!("{label} 考核报告"),
                context! {
                    html_href => format!("/t/{tenant}/report/{tag}/report.html{suffix}"),
                    xlsx_href => format!("/t/{tenant}/report/{tag}/ranking.xlsx{suffix}"),
                    charts => charts,
                    period => match scope { Scope::Period(p) => p.to_string(), _ => String::new() },
                    year => match scope { Scope::Year(y) => y.to_string(), _ => String::new() },
                    rules => rules,
                },
            )
        }
        Err(refused) => refused_page(&web, &session, &tenant, refused),
    }
}

/// `GET /t/{tenant}/report/{scope}/{file}`: `report.html`, `ranking.xlsx` or `{chart}.png`.
pub(crate) async fn file(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path((tenant, scope, file)): Path<(String, String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some((_, session)) = web.session(&headers) else {
        return Refused::new(StatusCode::UNAUTHORIZED, "not logged in").into_response();
    };
    let answer = async {
        let scope = parse_scope(&scope)?;
        let rules = rules_param(&params)?;
        let built = report_for(&web, &session, &tenant, scope, rules).await?;
        let tag = scope_tag(&scope);
        let (content_type, body, attachment) = match file.as_str() {
            "report.html" => ("text/html; charset=utf-8", built.html.clone(), None),
            "ranking.xlsx" => (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                built.workbook.clone(),
                Some(format!("ranking-{tenant}-{tag}.xlsx")),
            ),
            png => {
                let name = png.strip_suffix(".png").unwrap_or("");
                let (_, bytes) = built
                    .charts
                    .iter()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| Refused::new(StatusCode::NOT_FOUND, format!("no file {png}")))?;
                ("image/png", bytes.clone(), None)
            }
        };
        let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
        if let Some(name) = attachment
            && let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, value);
        }
        if file == "report.html" {
            // One self-contained file with its own inline style and embedded font; it runs no
            // script and may load nothing from anywhere (sandboxed, as a download would be).
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(REPORT_CSP),
            );
        }
        Ok::<_, Refused>(response)
    };
    match answer.await {
        Ok(r) => r,
        Err(refused) => refused.into_response(),
    }
}
