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

use super::api::{
    Credentials, answer_response, granted, load_staged, log_in, metric_of, metrics_for, run_sql,
};
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

/// The login form: the same password check, back-off and lockout as pg-wire and the API.
pub(crate) async fn login(
    State(web): State<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<Credentials>,
) -> Response {
    match log_in(&web, &form, peer).await {
        Ok((token, _)) => (
            [(header::SET_COOKIE, web.cookie(Some(&token)))],
            Redirect::to("/"),
        )
            .into_response(),
        Err(refused) => {
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
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Some((token, session)) = web.session(&headers) {
        if !csrf_ok(&headers, &session, form.csrf_token.as_deref()) {
            return Refused::new(StatusCode::FORBIDDEN, "missing or wrong CSRF token")
                .into_response();
        }
        web.sessions.end(&token);
        web.shared.audit_door(
            "session ended",
            &session.user.name,
            peer.ip(),
            Some("logout (web console)"),
        );
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
        let period = match metrics_for(&web, &session.user, id, None).await {
            Ok(m) => m
                .periods()
                .await
                .ok()
                .and_then(|p| p.last().map(|p| p.to_string())),
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
        Err(refused) => refused_page(&web, &session, &tenant, refused),
    }
}

async fn metric_page(
    web: &Web,
    session: &WebSession,
    tenant: &str,
    name: &str,
    params: &HashMap<String, String>,
) -> Result<Response, Refused> {
    let rules =
        match params.get("rules").filter(|r| !r.is_empty()) {
            None => None,
            Some(r) => Some(r.parse::<u32>().map_err(|_| {
                Refused::new(StatusCode::BAD_REQUEST, format!("rules={r} 不是版本号"))
            })?),
        };
    granted(session, tenant, Role::Viewer)?;
    let access = engine::access::Access::new(vec![tenant.to_string()], session.user.role)
        .with_rules_version(rules);
    let metrics = engine::Metrics::open(&web.shared.warehouse, &access)
        .await
        .map_err(|e| Refused::new(StatusCode::BAD_REQUEST, e.to_string()))?;
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
    // A county's alerts or attendance by member run to tens of thousands of rows: a page
    // shows the first ones (cut before they are turned into text), and the CSV (and the
    // report's workbook) holds them all. A ranking, where the flag holders are, has a row per
    // branch, far below the cut.
    let total: usize = table.batches.iter().map(|b| b.num_rows()).sum();
    let shown = first_rows(&table, METRIC_ROWS);
    let (headers, rows) = rows_of(&shown)?;
    let label = NAV
        .iter()
        .find(|(path, _)| *path == name)
        .map_or(name, |(_, label)| label);
    let periods = metrics.periods().await.unwrap_or_default();
    let mut years: Vec<i32> = periods.iter().map(|p| p.year()).collect();
    years.dedup();
    let title = match &metric {
        Metric::Ranking { period } => format!("{} {label}", period.label()),
        Metric::RankingYear { year } | Metric::Points { year } => format!("{year} 年 {label}"),
        _ => label.to_string(),
    };
    let picks = picks_of(&metric, &periods, &years, &metrics, rules, web, tenant);
    // The chart of the page, from the report of the same period (or the latest one); a
    // viewer, who may not see the report, sees the table alone.
    let scope = match &metric {
        Metric::Ranking { period } => Some(period.to_string()),
        Metric::RankingYear { year } => Some(year.to_string()),
        _ => periods.last().map(|p| p.to_string()),
    };
    let prefix = match &metric {
        Metric::Ranking { .. } => Some("ranking_"),
        Metric::RankingYear { .. } => Some("totals_"),
        Metric::Coverage { .. } | Metric::Findings => Some("coverage"),
        Metric::Attendance { .. } => Some("attendance_trend"),
        Metric::Points { .. } => Some("points_grades"),
        Metric::Grid { .. } => Some("visit_resolution"),
        _ => None,
    };
    let mut charts = Vec::new();
    if let (Some(scope), Some(prefix)) = (scope, prefix)
        && session.user.role != Role::Viewer
        && let Ok(parsed) = super::report::parse_scope(&scope)
    {
        match super::report::report_for(web, session, tenant, parsed, rules).await {
            Ok(built) => {
                let suffix = rules.map(|r| format!("?rules={r}")).unwrap_or_default();
                charts = built
                    .charts
                    .iter()
                    .filter(|(n, _)| n.starts_with(prefix))
                    .map(|(n, _)| format!("/t/{tenant}/report/{scope}/{n}.png{suffix}"))
                    .collect();
            }
            Err(e) => tracing::warn!(tenant, error = %e.message, "no chart for a metric page"),
        }
    }
    let mut query: Vec<String> = params
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "period" | "year" | "level" | "rules"))
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect();
    query.sort();
    query.push("format=csv".into());
    let flag_holders: Vec<String> = rows
        .iter()
        .filter(|r| r.flag)
        .filter_map(|r| {
            let at = |col: &str| headers_index(&table, col).and_then(|i| r.cells.get(i));
            Some(format!(
                "{} {}",
                at("group_name")?.text,
                at("branch_name")?.text
            ))
        })
        .collect();
    Ok(county_page(
        web,
        session,
        tenant,
        name,
        "metric.html",
        title,
        context! {
            headers => headers,
            rows => rows,
            picks => picks,
            charts => charts,
            flag_holders => flag_holders,
            csv_href => format!("/api/v1/tenants/{tenant}/{name}?{}", query.join("&")),
            empty => "没有数据",
            rules_version => metrics.rules_version(),
            total => total,
            shown => rows_shown(total),
        },
    ))
}

/// The first `most` rows of `table`.
fn first_rows(table: &Table, most: usize) -> Table {
    let mut left = most;
    let mut batches = Vec::new();
    for batch in &table.batches {
        if left == 0 {
            break;
        }
        let take = batch.num_rows().min(left);
        batches.push(batch.slice(0, take));
        left -= take;
    }
    Table {
        schema: table.schema.clone(),
        batches,
    }
}

/// The most rows a metric page shows (the CSV link gives every row).
const METRIC_ROWS: usize = 2_000;

/// How many of `total` rows a metric page shows.
fn rows_shown(total: usize) -> usize {
    total.min(METRIC_ROWS)
}

fn headers_index(table: &Table, column: &str) -> Option<usize> {
    table.schema.index_of(column).ok()
}

#[derive(Serialize)]
struct Pick {
    name: &'static str,
    label: &'static str,
    chosen: String,
    options: Vec<PickOption>,
}

#[derive(Serialize)]
struct PickOption {
    value: String,
    label: String,
}

/// The pickers of a metric page: the period (or year, or level) shown, and the rules version.
fn picks_of(
    metric: &Metric,
    periods: &[model::Period],
    years: &[i32],
    metrics: &engine::Metrics,
    rules: Option<u32>,
    web: &Web,
    tenant: &str,
) -> Vec<Pick> {
    let year_pick = |chosen: Option<i32>, any: bool| Pick {
        name: "year",
        label: "年度",
        chosen: chosen.map(|y| y.to_string()).unwrap_or_default(),
        options: any
            .then(|| PickOption {
                value: String::new(),
                label: "全部".into(),
            })
            .into_iter()
            .chain(years.iter().rev().map(|y| PickOption {
                value: y.to_string(),
                label: format!("{y} 年"),
            }))
            .collect(),
    };
    let level_pick = |chosen: Option<u8>, any: bool| Pick {
        name: "level",
        label: "层级",
        chosen: chosen.map(|l| l.to_string()).unwrap_or_default(),
        options: any
            .then(|| PickOption {
                value: String::new(),
                label: "按支部".into(),
            })
            .into_iter()
            .chain((0..=4u8).map(|l| PickOption {
                value: l.to_string(),
                label: match l {
                    0 => "全县".to_string(),
                    l if l == metrics.group_level() => format!("第 {l} 级（乡镇）"),
                    l => format!("第 {l} 级"),
                },
            }))
            .collect(),
    };
    let mut picks = match metric {
        Metric::Ranking { period } => vec![Pick {
            name: "period",
            label: "考评期",
            chosen: period.to_string(),
            options: periods
                .iter()
                .rev()
                .map(|p| PickOption {
                    value: p.to_string(),
                    label: p.label(),
                })
                .collect(),
        }],
        Metric::RankingYear { year } | Metric::Points { year } => {
            vec![year_pick(Some(*year), false)]
        }
        Metric::Coverage { level } | Metric::Grid { level } => {
            vec![level_pick(Some(*level), false)]
        }
        Metric::Attendance { level, year } => {
            vec![year_pick(*year, true), level_pick(*level, true)]
        }
        Metric::Compliance { year } | Metric::Alerts { year } => vec![year_pick(*year, true)],
        Metric::Findings => Vec::new(),
    };
    if matches!(metric, Metric::Ranking { .. } | Metric::RankingYear { .. }) {
        let versions = web
            .shared
            .warehouse
            .tenant(tenant)
            .and_then(|t| t.rules_versions())
            .unwrap_or_default();
        picks.push(Pick {
            name: "rules",
            label: "规则版本",
            chosen: rules.map(|r| r.to_string()).unwrap_or_default(),
            options: std::iter::once(PickOption {
                value: String::new(),
                label: format!("现行（第 {} 版）", versions.last().copied().unwrap_or(1)),
            })
            .chain(versions.iter().rev().map(|v| PickOption {
                value: v.to_string(),
                label: format!("第 {v} 版"),
            }))
            .collect(),
        });
    }
    picks
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
    let headers = names.iter().map(|n| reports::present::label(n)).collect();
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

/// The session of a page request about `tenant` by a user granted it in `role` or better; or
/// the answer that turns it away (to the login page, or a refusal in the county's frame).
fn page_session(
    web: &Web,
    headers: &HeaderMap,
    tenant: &str,
    role: Role,
) -> Result<WebSession, Box<Response>> {
    let Some((_, session)) = web.session(headers) else {
        return Err(Box::new(Redirect::to("/login").into_response()));
    };
    granted(&session, tenant, role)
        .map_err(|refused| Box::new(refused_page(web, &session, tenant, refused)))?;
    Ok(session)
}

/// [`page_session`] for a form that changes something: it must carry the session's CSRF token
/// (`token`, its `csrf_token` field), checked before the grant.
fn form_session(
    web: &Web,
    headers: &HeaderMap,
    tenant: &str,
    role: Role,
    token: Option<&str>,
) -> Result<WebSession, Box<Response>> {
    let Some((_, session)) = web.session(headers) else {
        return Err(Box::new(Redirect::to("/login").into_response()));
    };
    if !csrf_ok(headers, &session, token) {
        return Err(Box::new(refused_page(
            web,
            &session,
            tenant,
            Refused::new(StatusCode::FORBIDDEN, FORM_EXPIRED),
        )));
    }
    granted(&session, tenant, role)
        .map_err(|refused| Box::new(refused_page(web, &session, tenant, refused)))?;
    Ok(session)
}

/// What a form without the session's CSRF token is told (an old tab, a session that ended).
const FORM_EXPIRED: &str = "表单已过期，请刷新页面后重新提交";

/// The county of a page: its id and name, and the navigation the user's role sees.
fn county_ctx(web: &Web, session: &WebSession, tenant: &str) -> (minijinja::Value, Vec<NavItem>) {
    let name = web
        .shared
        .warehouse
        .tenant(tenant)
        .and_then(|t| t.info())
        .map(|i| i.name)
        .unwrap_or_else(|_| tenant.to_string());
    let role = session.user.role;
    let mut nav: Vec<NavItem> = NAV
        .iter()
        .filter(|(path, _)| role != Role::Viewer || !matches!(*path, "alerts" | "points"))
        .map(|(path, label)| NavItem { path, label })
        .collect();
    nav.push(NavItem {
        path: "report",
        label: "考核报告",
    });
    nav.push(NavItem {
        path: "sql",
        label: "SQL 查询",
    });
    if role == Role::Admin {
        nav.push(NavItem {
            path: "upload",
            label: "数据导入",
        });
        nav.push(NavItem {
            path: "rules",
            label: "考核规则",
        });
        nav.push(NavItem {
            path: "users",
            label: "用户与限额",
        });
    }
    (context! { id => tenant, name => name }, nav)
}

/// A page of the county's, with the frame every county page has.
pub(crate) fn county_page(
    web: &Web,
    session: &WebSession,
    tenant: &str,
    here: &str,
    template: &str,
    title: String,
    extra: minijinja::Value,
) -> Response {
    let (county, nav) = county_ctx(web, session, tenant);
    let ctx = context! {
        title => title,
        user => user_ctx(session),
        csrf => session.csrf.clone(),
        tenant => county,
        nav => nav,
        here => here,
        ..extra
    };
    render(web, template, ctx)
}

/// A refusal as a page inside the county's frame.
pub(crate) fn refused_page(
    web: &Web,
    session: &WebSession,
    tenant: &str,
    refused: Refused,
) -> Response {
    let shown_tenant = session.user.tenants.iter().any(|t| t == tenant);
    let mut page = if shown_tenant {
        county_page(
            web,
            session,
            tenant,
            "",
            "message.html",
            "无法完成".into(),
            context! { message => refused.message },
        )
    } else {
        render(
            web,
            "message.html",
            context! {
                title => "无法完成",
                user => user_ctx(session),
                csrf => session.csrf.clone(),
                message => refused.message,
            },
        )
    };
    *page.status_mut() = refused.status;
    page
}

#[derive(Serialize)]
struct LoadRow {
    load_id: u64,
    loaded_at: String,
    files: String,
    rules_version: i64,
}

async fn load_rows(web: &Web, tenant: &str) -> Vec<LoadRow> {
    let Ok(county) = web.shared.warehouse.tenant(tenant) else {
        return Vec::new();
    };
    let mut rows: Vec<LoadRow> = ingest::history(&county)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|l| LoadRow {
            load_id: l.load_id,
            loaded_at: l.loaded_at,
            files: l.files.join("、"),
            rules_version: l.rules_version,
        })
        .collect();
    rows.reverse();
    rows
}

/// `GET /t/{tenant}/upload` (admin): the upload form and the load history.
pub(crate) async fn upload_form(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Response {
    let session = match page_session(&web, &headers, &tenant, Role::Admin) {
        Ok(session) => session,
        Err(turned_away) => return *turned_away,
    };
    let loads = load_rows(&web, &tenant).await;
    county_page(
        &web,
        &session,
        &tenant,
        "upload",
        "upload.html",
        "数据导入".into(),
        context! { loads => loads, tables => table_names() },
    )
}

fn table_names() -> Vec<minijinja::Value> {
    model::schema::TABLES
        .iter()
        .map(|t| context! { name => t.name, zh => t.zh })
        .collect()
}

/// The most rejections shown on the page; all of them are in the workbook.
const SHOWN_ISSUES: usize = 200;

/// `POST /t/{tenant}/upload` (admin; multipart whose first field is `csrf_token`): loads the
/// files and shows the reconciliation and the rejections.
pub(crate) async fn upload_submit(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    mut multipart: axum::extract::Multipart,
) -> Response {
    let session = match page_session(&web, &headers, &tenant, Role::Admin) {
        Ok(session) => session,
        Err(turned_away) => return *turned_away,
    };
    // The form puts its token first, so nothing is stored before it is checked.
    let token = match multipart.next_field().await {
        Ok(Some(field)) if field.name() == Some("csrf_token") => {
            super::upload::short_text(field, "csrf_token").await.ok()
        }
        _ => None,
    };
    if !csrf_ok(&HeaderMap::new(), &session, token.as_deref()) {
        return refused_page(
            &web,
            &session,
            &tenant,
            Refused::new(StatusCode::FORBIDDEN, FORM_EXPIRED),
        );
    }
    let loaded = match web.upload_turn(&tenant) {
        Ok(turn) => match super::upload::stage(multipart, web.upload).await {
            Ok(staged) => load_staged(&web, &tenant, staged, turn).await,
            Err(refused) => Err(refused),
        },
        Err(refused) => Err(refused),
    };
    let report = match loaded {
        Ok(report) => report,
        Err(refused) => {
            let loads = load_rows(&web, &tenant).await;
            let mut page = county_page(
                &web,
                &session,
                &tenant,
                "upload",
                "upload.html",
                "数据导入".into(),
                context! { loads => loads, tables => table_names(), error => refused.message },
            );
            *page.status_mut() = refused.status;
            return page;
        }
    };
    tracing::info!(target: "audit", user = %session.user.name, tenant, load = report.load_id, "upload loaded");
    let result = super::api::load_json(&tenant, &report);
    let issues: Vec<minijinja::Value> = report
        .issues
        .iter()
        .take(SHOWN_ISSUES)
        .map(|i| {
            context! {
                table => i.table,
                file => i.file.clone(),
                line => i.line,
                column => i.column.clone(),
                value => i.value.clone(),
                reason => i.reason.to_string(),
                severity => match i.severity {
                    ingest::Severity::Rejected => "拒绝",
                    ingest::Severity::Warning => "警告",
                    ingest::Severity::Removed => "删除",
                },
            }
        })
        .collect();
    let loads = load_rows(&web, &tenant).await;
    county_page(
        &web,
        &session,
        &tenant,
        "upload",
        "upload.html",
        format!("第 {} 批导入结果", report.load_id),
        context! {
            loads => loads,
            tables => table_names(),
            result => minijinja::Value::from_serialize(&result),
            issues => issues,
            more_issues => report.issues.len().saturating_sub(SHOWN_ISSUES),
        },
    )
}

#[derive(Deserialize)]
pub(crate) struct SqlForm {
    csrf_token: Option<String>,
    sql: String,
    format: Option<String>,
}

/// The most rows the editor's grid shows; a download has them all.
const SHOWN_ROWS: usize = 1000;

/// `GET /t/{tenant}/sql`: the editor, with the tables and views the user may read.
pub(crate) async fn sql_form(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Response {
    let session = match page_session(&web, &headers, &tenant, Role::Viewer) {
        Ok(session) => session,
        Err(turned_away) => return *turned_away,
    };
    sql_page(&web, &session, &tenant, "", None).await
}

async fn sql_page(
    web: &Web,
    session: &WebSession,
    tenant: &str,
    sql: &str,
    outcome: Option<Result<super::api::Answer, Refused>>,
) -> Response {
    let access = engine::access::Access::new(vec![tenant.to_string()], session.user.role);
    let names = match engine::Session::open(&web.shared.warehouse, &access).await {
        Ok(s) => {
            let mut names = s.names();
            if session.user.role == Role::Admin {
                names.extend(["audit_logins".to_string(), "audit_queries".to_string()]);
                names.sort();
            }
            names
        }
        Err(_) => Vec::new(),
    };
    let (mut status, mut extra) = (StatusCode::OK, context! {});
    match outcome {
        Some(Ok(answer)) => match rows_of(&engine::Table {
            schema: answer.schema.clone(),
            batches: answer.batches.clone(),
        }) {
            Ok((headers, mut rows)) => {
                let total = rows.len();
                rows.truncate(SHOWN_ROWS);
                extra = context! { headers => headers, rows => rows, total => total, ran => true,
                cut => total > SHOWN_ROWS };
            }
            Err(refused) => {
                status = refused.status;
                extra = context! { error => refused.message };
            }
        },
        Some(Err(refused)) => {
            status = refused.status;
            extra = context! { error => refused.message };
        }
        None => {}
    }
    let mut page = county_page(
        web,
        session,
        tenant,
        "sql",
        "sql.html",
        "SQL 查询".into(),
        context! { sql => sql, names => names, ..extra },
    );
    *page.status_mut() = status;
    page
}

/// `POST /t/{tenant}/sql` (form): runs the statement through the guard; shows the grid, or
/// answers the whole result as CSV or a workbook.
pub(crate) async fn sql_submit(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    Form(form): Form<SqlForm>,
) -> Response {
    let token = form.csrf_token.as_deref();
    let session = match form_session(&web, &headers, &tenant, Role::Viewer, token) {
        Ok(session) => session,
        Err(turned_away) => return *turned_away,
    };
    let outcome = run_sql(&web, &session, &tenant, &form.sql).await;
    match (form.format.as_deref(), outcome) {
        (Some(format @ ("csv" | "xlsx")), Ok(answer)) => {
            match answer_response(&answer, Some(format), &format!("query-{tenant}")) {
                Ok(r) => r,
                Err(refused) => {
                    sql_page(&web, &session, &tenant, &form.sql, Some(Err(refused))).await
                }
            }
        }
        (_, outcome) => sql_page(&web, &session, &tenant, &form.sql, Some(outcome)).await,
    }
}

#[derive(Deserialize)]
pub(crate) struct VersionQuery {
    version: Option<u32>,
}

/// `GET /t/{tenant}/rules?version=N` (admin): the rules in force (or version N) and every
/// version kept, to read and to edit.
pub(crate) async fn rules_form(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    Query(query): Query<VersionQuery>,
) -> Response {
    let session = match page_session(&web, &headers, &tenant, Role::Admin) {
        Ok(session) => session,
        Err(turned_away) => return *turned_away,
    };
    match rules_of(&web, &tenant, query.version) {
        Ok((version, text, versions)) => county_page(
            &web,
            &session,
            &tenant,
            "rules",
            "rules.html",
            format!("考核规则（第 {version} 版）"),
            context! { text => text, version => version, versions => versions },
        ),
        Err(refused) => refused_page(&web, &session, &tenant, refused),
    }
}

fn rules_of(
    web: &Web,
    tenant: &str,
    version: Option<u32>,
) -> Result<(u32, String, Vec<u32>), Refused> {
    let county = web
        .shared
        .warehouse
        .tenant(tenant)
        .map_err(|_| Refused::no_county(tenant))?;
    let (version, text, _) = match version {
        Some(v) => county.rules_version(v),
        None => county.rules(),
    }
    .map_err(|e| Refused::new(StatusCode::NOT_FOUND, e.to_string()))?;
    let mut versions = county
        .rules_versions()
        .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    versions.reverse();
    Ok((version, text, versions))
}

#[derive(Deserialize)]
pub(crate) struct RulesForm {
    csrf_token: Option<String>,
    text: String,
}

/// `POST /t/{tenant}/rules` (admin): validates the edited rules and, when they are accepted,
/// keeps them as the next version. A rejected text stays in the editor, with the line at
/// fault marked.
pub(crate) async fn rules_submit(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    Form(form): Form<RulesForm>,
) -> Response {
    let token = form.csrf_token.as_deref();
    let session = match form_session(&web, &headers, &tenant, Role::Admin, token) {
        Ok(session) => session,
        Err(turned_away) => return *turned_away,
    };
    let Ok(county) = web.shared.warehouse.tenant(&tenant) else {
        return refused_page(&web, &session, &tenant, Refused::no_county(&tenant));
    };
    // Browsers send a textarea's lines with CR LF.
    let text = form.text.replace("\r\n", "\n");
    let saved = county.set_rules(&text, "网页编辑");
    let versions = county.rules_versions().unwrap_or_default();
    let mut versions_desc = versions.clone();
    versions_desc.reverse();
    match saved {
        Ok(version) => {
            tracing::info!(target: "audit", user = %session.user.name, tenant, version, "rules saved");
            // Computed while the editor shows the saved rules; a page read before they are
            // kept computes what it shows, with the same result.
            let root = web.shared.warehouse.root().to_path_buf();
            let county_id = tenant.clone();
            tokio::spawn(async move { crate::keep_results(&root, &county_id).await });
            county_page(
                &web,
                &session,
                &tenant,
                "rules",
                "rules.html",
                format!("考核规则（第 {version} 版）"),
                context! { text => text, version => version, versions => versions_desc,
                saved => true },
            )
        }
        Err(e) => {
            let line = match &e {
                warehouse::WarehouseError::Rules(r) => Some(r.line),
                _ => None,
            };
            let lines: Vec<minijinja::Value> = text
                .lines()
                .enumerate()
                .map(|(i, l)| context! { n => i + 1, text => l, bad => Some(i + 1) == line })
                .collect();
            let mut page = county_page(
                &web,
                &session,
                &tenant,
                "rules",
                "rules.html",
                "考核规则：未保存".into(),
                context! { text => text, versions => versions_desc, error => e.to_string(),
                error_line => line, lines => lines },
            );
            *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            page
        }
    }
}

/// `GET /t/{tenant}/users` (admin): who may read the county, in which role, and its limits.
/// `GET /t/{tenant}/users` (admin): who may read the county, in which role, and its limits.
pub(crate) async fn users_page(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Response {
    let session = match page_session(&web, &headers, &tenant, Role::Admin) {
        Ok(session) => session,
        Err(turned_away) => return *turned_away,
    };
    users_view(&web, &session, &tenant, None)
}

/// The users page, with the outcome of a change when there was one.
fn users_view(
    web: &Web,
    session: &WebSession,
    tenant: &str,
    outcome: Option<Result<String, Refused>>,
) -> Response {
    let mine = |u: &crate::users::User| u.tenants.iter().all(|t| session.user.tenants.contains(t));
    let users: Vec<minijinja::Value> = crate::users::Users::of(&web.shared.warehouse)
        .list()
        .unwrap_or_default()
        .into_iter()
        .filter(|u| u.tenants.iter().any(|t| t == tenant))
        .map(|u| {
            context! {
                name => u.name.clone(),
                role => role_label(u.role),
                // Counties the admin was not granted are not named to them.
                tenants => shown_counties(&u.tenants, &session.user.tenants),
                changeable => mine(&u) && u.name != session.user.name,
            }
        })
        .collect();
    let limits = web
        .shared
        .warehouse
        .tenant(tenant)
        .and_then(|t| t.limits())
        .unwrap_or_default();
    let limits = vec![
        ("单个查询最长时间（秒）", limits.timeout_seconds.to_string()),
        ("全县查询内存合计（MB）", limits.memory_mb.to_string()),
        ("单个结果最多行数", limits.max_rows.to_string()),
        ("单个结果最多字节（MB）", limits.max_result_mb.to_string()),
        (
            "同时运行的查询数",
            limits.max_concurrent_queries.to_string(),
        ),
        ("SQL 最长字节数", limits.max_sql_bytes.to_string()),
        ("一条语句最多读取的表", limits.max_relations.to_string()),
    ];
    let limits: Vec<minijinja::Value> = limits
        .into_iter()
        .map(|(label, value)| context! { label => label, value => value })
        .collect();
    let status = match &outcome {
        Some(Err(refused)) => refused.status,
        _ => StatusCode::OK,
    };
    let (done, error) = match outcome {
        Some(Ok(done)) => (Some(done), None),
        Some(Err(refused)) => (None, Some(refused.message)),
        None => (None, None),
    };
    let mut page = county_page(
        web,
        session,
        tenant,
        "users",
        "users.html",
        "用户与限额".into(),
        context! { users => users, limits => limits, tenant_id => tenant.to_string(),
        done => done, error => error },
    );
    *page.status_mut() = status;
    page
}

/// A user's counties as an admin of `mine` may see them: their own by name, the rest counted.
fn shown_counties(counties: &[String], mine: &[String]) -> String {
    let (known, others): (Vec<&String>, Vec<&String>) =
        counties.iter().partition(|c| mine.contains(c));
    let mut shown: Vec<String> = known.into_iter().cloned().collect();
    if !others.is_empty() {
        shown.push(format!("另有 {} 个县", others.len()));
    }
    shown.join("、")
}

#[derive(Deserialize)]
pub(crate) struct UserForm {
    csrf_token: Option<String>,
    /// `add`, `password` or `remove`.
    action: String,
    name: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// `POST /t/{tenant}/users` (admin): adds a user of this county, sets a user's password, or
/// removes a user. A county's admin may change only users who read nothing but counties of
/// theirs (a city's analyst who also reads this county is the operator's to change), never
/// themselves by removal, and may grant nothing but this county. A changed or removed user's
/// open sessions end at their next request, on the console and on pg-wire.
pub(crate) async fn users_submit(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    Form(form): Form<UserForm>,
) -> Response {
    let token = form.csrf_token.as_deref();
    let session = match form_session(&web, &headers, &tenant, Role::Admin, token) {
        Ok(session) => session,
        Err(turned_away) => return *turned_away,
    };
    let outcome = change_user(&web, &session, &tenant, form).await;
    users_view(&web, &session, &tenant, Some(outcome))
}

fn outside(name: &str) -> Refused {
    Refused::new(
        StatusCode::FORBIDDEN,
        format!("用户 {name} 还可以查看其他县，请服务器管理员修改"),
    )
}

async fn change_user(
    web: &Web,
    session: &WebSession,
    tenant: &str,
    form: UserForm,
) -> Result<String, Refused> {
    use crate::users::{UserError, Users};
    let shared = web.shared.clone();
    let name = form.name.trim().to_string();
    let refused = |e: UserError| match e {
        UserError::InvalidName { .. }
        | UserError::Exists { .. }
        | UserError::EmptyPassword
        | UserError::NoTenant => Refused::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        UserError::Unknown { .. } => Refused::new(StatusCode::NOT_FOUND, e.to_string()),
        // Granted another county between the page's check and the change.
        UserError::Outside { name } => outside(&name),
        _ => Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    // Argon2 is CPU work, and the users file is locked while it changes: off the runtime.
    let blocking = |work: Box<dyn FnOnce() -> Result<String, UserError> + Send>| async move {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .map_err(refused)
    };
    if form.action != "add" {
        let target = Users::of(&shared.warehouse)
            .get(&name)
            .map_err(refused)?
            .filter(|u| u.tenants.iter().any(|t| t == tenant))
            .ok_or_else(|| Refused::new(StatusCode::NOT_FOUND, format!("本县没有用户 {name}")))?;
        if !target
            .tenants
            .iter()
            .all(|t| session.user.tenants.contains(t))
        {
            return Err(outside(&name));
        }
    }
    let done = match form.action.as_str() {
        "add" => {
            let role = match form.role.as_deref() {
                Some("admin") => Role::Admin,
                Some("analyst") => Role::Analyst,
                Some("viewer") => Role::Viewer,
                other => {
                    return Err(Refused::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!(
                            "角色 {:?} 无效：admin、analyst 或 viewer",
                            other.unwrap_or("")
                        ),
                    ));
                }
            };
            let password = form.password.unwrap_or_default();
            let tenants = vec![tenant.to_string()];
            let added = name.clone();
            blocking(Box::new(move || {
                Users::of(&shared.warehouse)
                    .add(&shared.warehouse, &added, &tenants, role, &password)
                    .map(|_| format!("已添加用户 {added}（{}）", role_label(role)))
            }))
            .await?
        }
        "password" => {
            let password = form.password.unwrap_or_default();
            let changed = name.clone();
            let within = session.user.tenants.clone();
            blocking(Box::new(move || {
                Users::of(&shared.warehouse)
                    .set_password_within(&changed, &password, &within)
                    .map(|_| format!("已重设 {changed} 的密码，其已登录的会话随即结束"))
            }))
            .await?
        }
        "remove" => {
            if name == session.user.name {
                return Err(Refused::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "不能删除自己：请另一位管理员操作",
                ));
            }
            let removed = name.clone();
            let within = session.user.tenants.clone();
            blocking(Box::new(move || {
                Users::of(&shared.warehouse)
                    .remove_within(&removed, &within)
                    .map(|()| format!("已删除用户 {removed}，其已登录的会话随即结束"))
            }))
            .await?
        }
        other => {
            return Err(Refused::new(
                StatusCode::BAD_REQUEST,
                format!("unknown action {other:?}: add, password or remove"),
            ));
        }
    };
    tracing::info!(target: "audit", user = %session.user.name, tenant, action = %form.action,
                   changed = %name, "user changed in the console");
    Ok(done)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn a_page_takes_the_first_rows_across_batches() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batch = |from: i64, n: i64| {
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(Int64Array::from_iter_values(from..from + n))],
            )
            .unwrap()
        };
        let table = Table {
            schema: schema.clone(),
            batches: vec![batch(0, 3), batch(3, 4), batch(7, 5)],
        };
        let first = first_rows(&table, 5);
        let values: Vec<i64> = first
            .batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(values, vec![0, 1, 2, 3, 4]);
        assert_eq!(first_rows(&table, 100).batches.len(), 3);
        assert!(first_rows(&table, 0).batches.is_empty());
        assert_eq!(
            shown_counties(&["a".into(), "b".into(), "c".into()], &["a".into()]),
            "a、另有 2 个县"
        );
    }
}
