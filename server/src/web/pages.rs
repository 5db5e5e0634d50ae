//! The console's pages, rendered on the server. People log in with a form, read each metric as
//! a chart and a table, and download what they see.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use engine::access::Role;
use engine::{Metric, Table};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::api::{login_refused, metric_of, metrics_for};
use super::sessions::WebSession;
use super::{Refused, Web, csrf_ok};

/// The metric pages of a county, in the order of the county's navigation.
const NAV: &[(&str, &str)] = &[
    ("ranking", "流动红旗"),
    ("ranking-year", "年度汇总"),
    ("coverage", "两个覆盖"),
    ("findings", "覆盖问题"),
    ("attendance", "出勤"),
    ("compliance", "三会一课"),
    ("alerts", "缺勤预警"),
    ("points", "党员积分"),
    ("grid", "网格走访"),
];

#[derive(Serialize)]
struct NavItem {
    path: &'static str,
    label: &'static str,
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Admin => "管理员",
        Role::Analyst => "分析员",
        Role::Viewer => "查看者",
    }
}

fn render(web: &Web, template: &str, ctx: minijinja::Value) -> Response {
    match web
        .templates
        .get_template(template)
        .and_then(|t| t.render(ctx))
    {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(template, error = %e, "a console page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "页面生成失败（已记录）").into_response()
        }
    }
}

fn user_ctx(session: &WebSession) -> minijinja::Value {
    context! {
        name => session.user.name.clone(),
        role_label => role_label(session.user.role),
    }
}

pub(crate) async fn login_form(State(web): State<Arc<Web>>) -> Response {
    render(&web, "login.html", context! { title => "登录" })
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    user: String,
    password: String,
}

/// The login form: the same password check, back-off and lockout as pg-wire and the API.
pub(crate) async fn login(
    State(web): State<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<LoginForm>,
) -> Response {
    match web
        .shared
        .authenticate(&form.user, &form.password, peer.ip(), "web console")
        .await
    {
        Ok(user) => match web.sessions.open(user) {
            Ok((token, _)) => (
                [(header::SET_COOKIE, web.cookie(Some(&token)))],
                Redirect::to("/"),
            )
                .into_response(),
            Err(e) => Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        Err(refused) => {
            let refused = login_refused(refused);
            let message = match refused.status {
                StatusCode::UNAUTHORIZED => "用户名或密码不对".to_string(),
                _ => refused.message,
            };
            let mut page = render(
                &web,
                "login.html",
                context! { title => "登录", error => message, name => form.user },
            );
            *page.status_mut() = refused.status;
            page
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct LogoutForm {
    csrf_token: Option<String>,
}

pub(crate) async fn logout(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Some((token, session)) = web.session(&headers) {
        if !csrf_ok(&headers, &session, form.csrf_token.as_deref()) {
            return Refused::new(StatusCode::FORBIDDEN, "missing or wrong CSRF token")
                .into_response();
        }
        web.sessions.end(&token);
    }
    (
        [(header::SET_COOKIE, web.cookie(None))],
        Redirect::to("/login"),
    )
        .into_response()
}

#[derive(Serialize)]
struct CountyCard {
    id: String,
    name: String,
    load_id: Option<u64>,
    loaded_at: Option<String>,
    period: Option<String>,
}

/// Home: the counties the user was granted, with each one's latest load and period.
pub(crate) async fn home(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let Some((_, session)) = web.session(&headers) else {
        return Redirect::to("/login").into_response();
    };
    let mut counties = Vec::new();
    for id in &session.user.tenants {
        let Ok(tenant) = web.shared.warehouse.tenant(id) else {
            continue;
        };
        let name = tenant.info().map(|i| i.name).unwrap_or_else(|_| id.clone());
        let last = ingest::history(&tenant)
            .await
            .ok()
            .and_then(|h| h.into_iter().last());
        let period = match metrics_for(&web, &session.user, id).await {
            Ok(m) => m.periods().await.ok().and_then(|p| p.last().map(|p| p.to_string())),
            Err(_) => None,
        };
        counties.push(CountyCard {
            id: id.clone(),
            name,
            load_id: last.as_ref().map(|l| l.load_id),
            loaded_at: last.map(|l| l.loaded_at),
            period,
        });
    }
    render(
        &web,
        "home.html",
        context! {
            title => "首页",
            user => user_ctx(&session),
            csrf => session.csrf.clone(),
            counties => counties,
        },
    )
}

#[derive(Serialize)]
struct Cell {
    text: String,
    num: bool,
}

#[derive(Serialize)]
struct Row {
    cells: Vec<Cell>,
    flag: bool,
}

/// A metric as a page: its pickers, its table with Chinese headers, a CSV link.
pub(crate) async fn metric(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path((tenant, name)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some((_, session)) = web.session(&headers) else {
        return Redirect::to("/login").into_response();
    };
    match metric_page(&web, &session, &tenant, &name, &params).await {
        Ok(page) => page,
        Err(refused) => {
            let mut page = render(
                &web,
                "metric.html",
                context! {
                    title => refused.message.clone(),
                    user => user_ctx(&session),
                    csrf => session.csrf.clone(),
                    headers => Vec::<String>::new(),
                    rows => Vec::<Row>::new(),
                    empty => refused.message,
                },
            );
            *page.status_mut() = refused.status;
            page
        }
    }
}

async fn metric_page(
    web: &Web,
    session: &WebSession,
    tenant: &str,
    name: &str,
    params: &HashMap<String, String>,
) -> Result<Response, Refused> {
    let metrics = metrics_for(web, &session.user, tenant).await?;
    let metric = metric_of(&metrics, name, params).await?;
    if metric.is_member_level() && session.user.role == Role::Viewer {
        return Err(Refused::new(
            StatusCode::FORBIDDEN,
            "查看者不能查看党员个人层面的数据",
        ));
    }
    let table = metrics
        .table(&metric)
        .await
        .map_err(|e| Refused::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let (headers, rows) = rows_of(&table)?;
    let county = web
        .shared
        .warehouse
        .tenant(tenant)
        .and_then(|t| t.info())
        .map(|i| i.name)
        .unwrap_or_else(|_| tenant.to_string());
    let label = NAV
        .iter()
        .find(|(path, _)| *path == name)
        .map_or(name, |(_, label)| label);
    let title = match &metric {
        Metric::Ranking { period } => format!("{period} {label}"),
        Metric::RankingYear { year } | Metric::Points { year } => format!("{year} 年 {label}"),
        _ => label.to_string(),
    };
    let mut query: Vec<String> = params
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "period" | "year" | "level"))
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect();
    query.push("format=csv".into());
    let nav: Vec<NavItem> = NAV
        .iter()
        .filter(|(path, _)| {
            session.user.role != Role::Viewer || !matches!(*path, "alerts" | "points")
        })
        .map(|(path, label)| NavItem { path, label })
        .collect();
    Ok(render(
        web,
        "metric.html",
        context! {
            title => title,
            user => user_ctx(session),
            csrf => session.csrf.clone(),
            tenant => context! { id => tenant, name => county },
            nav => nav,
            here => name,
            headers => headers,
            rows => rows,
            picks => Vec::<String>::new(),
            csv_href => format!("/api/v1/tenants/{tenant}/{name}?{}", query.join("&")),
            empty => "没有数据",
        },
    ))
}

/// The table's Chinese headers and its rows as people read them (reports' presentation: 95.3 %,
/// ¥600, 是/否); a row holding the red flag is marked.
fn rows_of(table: &Table) -> Result<(Vec<String>, Vec<Row>), Refused> {
    let names: Vec<String> = table
        .schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let numeric: Vec<bool> = table
        .schema
        .fields()
        .iter()
        .map(|f| f.data_type().is_numeric())
        .collect();
    let flag_at = names.iter().position(|n| n == "red_flag");
    let rows = reports::present::humanize(&table.batches, &names, reports::present::Marks::PRINT)
        .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let headers = names
        .iter()
        .map(|n| reports::present::label(n))
        .collect();
    let rows = rows
        .into_iter()
        .map(|cells| Row {
            flag: flag_at.is_some_and(|i| cells.get(i).is_some_and(|c| c.starts_with('★'))),
            cells: cells
                .into_iter()
                .zip(&numeric)
                .map(|(text, num)| Cell { text, num: *num })
                .collect(),
        })
        .collect();
    Ok((headers, rows))
}

/// Percent-encodes a query value (periods and years are plain, but a value is a value).
fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
