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

#[derive(Deserialize)]
pub(crate) struct Credentials {
    user: String,
    password: String,
}

/// `POST /api/v1/session` `{"user", "password"}`: 200 with the session cookie and
/// `{"csrf_token"}`, or 401 (429 while locked out, 503 when the password line is full).
pub(crate) async fn open_session(
    State(web): State<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(credentials): Json<Credentials>,
) -> Response {
    match web
        .shared
        .authenticate(&credentials.user, &credentials.password, peer.ip(), "web console")
        .await
    {
        Ok(user) => match web.sessions.open(user) {
            Ok((token, csrf)) => (
                [(header::SET_COOKIE, web.cookie(Some(&token)))],
                Json(serde_json::json!({ "csrf_token": csrf })),
            )
                .into_response(),
            Err(e) => Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        Err(refused) => login_refused(refused).into_response(),
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
pub(crate) async fn close_session(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let Some((token, session)) = web.session(&headers) else {
        return Refused::new(StatusCode::UNAUTHORIZED, "not logged in").into_response();
    };
    if !csrf_ok(&headers, &session, None) {
        return Refused::new(StatusCode::FORBIDDEN, "missing or wrong X-CSRF-Token").into_response();
    }
    web.sessions.end(&token);
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
            Some(y) => Ok(Some(y)),
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
) -> Result<Metrics, Refused> {
    if !user.tenants.iter().any(|t| t == tenant) {
        return Err(Refused::no_county(tenant));
    }
    let access = Access::new(vec![tenant.to_string()], user.role);
    Metrics::open(&web.shared.warehouse, &access)
        .await
        .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
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
    let metrics = metrics_for(web, &session.user, tenant).await?;
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
