//! The web console (`gridassess serve --http ADDR`): pages for the county office, rendered on
//! the server (minijinja), and the JSON API they and a county's own scripts use. The same
//! users, roles, counties, limits, login back-off and audit log as the pg-wire server.
//!
//! Safe by construction: every response carries a Content-Security-Policy with no remote
//! origin; every POST but the login carries the session's CSRF token; output is escaped by the
//! templates; no client-supplied name reaches the file system.

mod api;
mod pages;
mod report;
pub(crate) mod sessions;
mod upload;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use minijinja::Environment;

use crate::wire::Shared;
use sessions::{COOKIE, Sessions, WebSession, same_secret};

/// What every request handler shares.
pub(crate) struct Web {
    pub(crate) shared: Arc<Shared>,
    pub(crate) sessions: Sessions,
    pub(crate) reports: report::Reports,
    pub(crate) templates: Environment<'static>,
    /// Served over TLS: the cookie is `Secure`.
    pub(crate) secure: bool,
    /// What one upload may send and unpack to.
    pub(crate) upload: upload::UploadLimits,
    /// The counties with an upload being staged or loaded: one at a time per county (each
    /// takes disk up to five times the upload limit, and a load a core).
    uploading: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// A county's turn to upload, held until its load has finished (even when the client has
/// gone away).
pub(crate) struct UploadTurn {
    uploading: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    tenant: String,
}

impl Drop for UploadTurn {
    fn drop(&mut self) {
        let mut uploading = self.uploading.lock().unwrap_or_else(|p| p.into_inner());
        uploading.remove(&self.tenant);
    }
}

/// No script, style, image or font from anywhere but this server; no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

impl Web {
    pub(crate) fn new(
        shared: Arc<Shared>,
        secure: bool,
        max_upload_bytes: u64,
    ) -> Result<Web, minijinja::Error> {
        let mut templates = Environment::new();
        for (name, text) in [
            ("base.html", include_str!("templates/base.html")),
            ("login.html", include_str!("templates/login.html")),
            ("home.html", include_str!("templates/home.html")),
            ("metric.html", include_str!("templates/metric.html")),
            ("message.html", include_str!("templates/message.html")),
            ("upload.html", include_str!("templates/upload.html")),
            ("sql.html", include_str!("templates/sql.html")),
            ("report.html", include_str!("templates/report.html")),
            ("rules.html", include_str!("templates/rules.html")),
            ("users.html", include_str!("templates/users.html")),
        ] {
            templates.add_template(name, text)?;
        }
        Ok(Web {
            shared,
            sessions: Sessions::default(),
            reports: report::Reports::default(),
            templates,
            secure,
            upload: upload::UploadLimits::of(max_upload_bytes),
            uploading: Arc::default(),
        })
    }

    /// `tenant`'s turn to upload, or 409 while another upload of it is staged or loading.
    pub(crate) fn upload_turn(&self, tenant: &str) -> Result<UploadTurn, Refused> {
        let mut uploading = self.uploading.lock().unwrap_or_else(|p| p.into_inner());
        if !uploading.insert(tenant.to_string()) {
            return Err(Refused::new(
                StatusCode::CONFLICT,
                "本县另一批数据正在导入，请等它完成后再上传 / another upload of this county is being loaded",
            ));
        }
        Ok(UploadTurn {
            uploading: self.uploading.clone(),
            tenant: tenant.to_string(),
        })
    }

    /// The session of the request's cookie, when it is open and its user still stands as
    /// they logged in (a removed or changed user's session ends here).
    pub(crate) fn session(&self, headers: &HeaderMap) -> Option<(String, WebSession)> {
        let token = cookie(headers, COOKIE)?;
        let session = self.sessions.get(&token)?;
        match crate::users::Users::of(&self.shared.warehouse).still_stands(&session.user) {
            Ok(true) => Some((token, session)),
            _ => {
                self.sessions.end(&token);
                None
            }
        }
    }

    /// The `Set-Cookie` value that carries `token` (or, with `None`, removes it).
    pub(crate) fn cookie(&self, token: Option<&str>) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let value = match token {
            Some(t) => format!(
                "{COOKIE}={t}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
                sessions::LONGEST.as_secs()
            ),
            None => format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"),
        };
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// Whether `headers` carry the session's CSRF token (`X-CSRF-Token`, or `form_token` from a
/// page's form).
pub(crate) fn csrf_ok(headers: &HeaderMap, session: &WebSession, form_token: Option<&str>) -> bool {
    let sent = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .or(form_token);
    sent.is_some_and(|t| same_secret(t, &session.csrf))
}

/// The value of cookie `name` in the request.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The console's routes.
pub(crate) fn router(web: Arc<Web>) -> Router {
    // Uploads are streamed to disk and counted part by part (`upload::stage`); this is the
    // outer bound the multipart reader enforces.
    let body_limit = usize::try_from(web.upload.bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1024 * 1024);
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route(
            "/t/{tenant}/upload",
            get(pages::upload_form)
                .post(pages::upload_submit)
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .route(
            "/t/{tenant}/sql",
            get(pages::sql_form).post(pages::sql_submit),
        )
        .route("/t/{tenant}/report", get(report::page))
        .route("/t/{tenant}/report/{scope}/{file}", get(report::file))
        .route(
            "/t/{tenant}/rules",
            get(pages::rules_form).post(pages::rules_submit),
        )
        .route(
            "/t/{tenant}/users",
            get(pages::users_page).post(pages::users_submit),
        )
        .route("/t/{tenant}/{metric}", get(pages::metric))
        .route("/assets/console.css", get(stylesheet))
        .route("/assets/table.js", get(script))
        .route("/assets/gridassess-sans-sc.ttf", get(font))
        .route(
            "/api/v1/session",
            post(api::open_session).delete(api::close_session),
        )
        .route(
            "/api/v1/tenants/{tenant}/loads",
            get(api::loads)
                .post(api::upload)
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .route(
            "/api/v1/tenants/{tenant}/loads/{load_id}/rejections",
            get(api::rejections),
        )
        .route("/api/v1/tenants/{tenant}/sql", post(api::sql))
        .route("/api/v1/tenants/{tenant}/{metric}", get(api::metric))
        .layer(middleware::from_fn_with_state(web.clone(), audit_requests))
        .layer(middleware::from_fn(deadline))
        .layer(middleware::from_fn(security_headers))
        .with_state(web)
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/table.js"),
    )
        .into_response()
}

/// The embedded Chinese font, for a machine without one (7 MB, so cached for a day; it changes
/// only with the binary).
async fn font() -> Response {
    (
        [
            (header::CONTENT_TYPE, "font/ttf"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        reports::embedded_font(),
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/console.css"),
    )
        .into_response()
}

/// Every request of a logged-in user is audited like a query: who, which counties, the method
/// and path (with the query string: period, year, level), how long, and the status when it
/// was refused or failed. The login itself is audited by the password check; requests with
/// no session cost nothing and go to the server's log only.
async fn audit_requests(State(web): State<Arc<Web>>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let user = cookie(request.headers(), COOKIE).and_then(|t| web.sessions.peek(&t));
    let line = format!(
        "{} {}",
        request.method(),
        request.uri().path_and_query().map_or("/", |p| p.as_str())
    );
    let response = next.run(request).await;
    let status = response.status();
    match user {
        Some(user) => {
            let result = if status.is_client_error() || status.is_server_error() {
                Err(format!("HTTP {}", status.as_u16()))
            } else {
                Ok(0)
            };
            // Filed under the county the request is about, when it is one of the user's:
            // a user of two counties reading one is not shown to the other county's admin.
            let county = county_in(&line).filter(|c| user.tenants.iter().any(|t| t == c));
            web.shared
                .audit_query(&user.name, county.unwrap_or(""), &line, started, &result);
        }
        None => {
            tracing::debug!(%line, status = status.as_u16(), "console request without a session")
        }
    }
    response
}

/// How long a request may take, its body included: a client that sends a body a byte at a
/// time holds a connection, and the connections are capped. An upload may take longer (512 MB
/// over a township's line); its load goes on when the client is told it took too long.
const REQUEST_WITHIN: std::time::Duration = std::time::Duration::from_secs(120);
const UPLOAD_WITHIN: std::time::Duration = std::time::Duration::from_secs(30 * 60);

async fn deadline(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let upload = request.method() == axum::http::Method::POST
        && (path.ends_with("/upload") || path.ends_with("/loads"));
    let within = if upload {
        UPLOAD_WITHIN
    } else {
        REQUEST_WITHIN
    };
    match tokio::time::timeout(within, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Refused::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request took longer than {} s", within.as_secs()),
        )
        .into_response(),
    }
}

/// The county a console path is about: `/t/{county}/…` or `/api/v1/tenants/{county}/…`.
fn county_in(line: &str) -> Option<&str> {
    let path = line.split_once(' ').map_or(line, |(_, p)| p);
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let mut parts = path.trim_start_matches('/').split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("t"), Some(county), _, _) if !county.is_empty() => Some(county),
        (Some("api"), Some("v1"), Some("tenants"), Some(county)) if !county.is_empty() => {
            Some(county)
        }
        _ => None,
    }
}

/// Every response: the CSP, no sniffing, no referrer, no framing, no caching of pages that
/// show a county's data.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    // A response may bring a policy of its own (the report's), never a looser origin.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// An answer with a status and a short text (JSON for the API, a page for people).
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl Refused {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Refused {
        Refused {
            status,
            message: message.into(),
        }
    }

    /// The county is not one of the user's: the same answer whether or not it exists.
    pub(crate) fn no_county(tenant: &str) -> Refused {
        Refused::new(
            StatusCode::NOT_FOUND,
            format!("no county {tenant} among yours"),
        )
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

/// How long a client may take to send a request's headers: a client that trickles them
/// (slowloris) holds a connection, and the connections are capped.
const HEADERS_WITHIN: std::time::Duration = std::time::Duration::from_secs(15);

/// Serves the console on `addr` until `shutdown`; with `tls`, over TLS only. Each connection
/// takes a place in the server's overall connection cap (shared with pg-wire), and HTTP/1.1 is
/// all it speaks: a browser needs no more, and HTTP/2's own ways to hold a server are left out.
pub(crate) async fn serve(
    web: Arc<Web>,
    listener: tokio::net::TcpListener,
    tls: Option<datafusion_postgres::pgwire::tokio::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceExt;

    let shared = web.shared.clone();
    let per_address = PerAddress::default();
    let app = router(web);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            (socket, peer) = crate::wire::accept(&listener, "console") => {
                let Some(from_address) = per_address.take(peer.ip()) else {
                    tracing::warn!(target: "audit", %peer, "console connection refused: {MOST_PER_ADDRESS} open from this address");
                    connections.spawn(answer_busy(socket));
                    continue;
                };
                let slot = match shared.admission.connect() {
                    Ok(slot) => slot,
                    Err(t) => {
                        tracing::warn!(target: "audit", %peer, reason = %t, "console connection refused");
                        connections.spawn(answer_busy(socket));
                        continue;
                    }
                };
                let app = app.clone().map_request(move |mut r: hyper::Request<hyper::body::Incoming>| {
                    r.extensions_mut().insert(axum::extract::ConnectInfo::<SocketAddr>(peer));
                    r
                });
                let tls = tls.clone();
                connections.spawn(async move {
                    // Held until the connection ends.
                    let (_slot, _from_address) = (slot, from_address);
                    let mut http = hyper::server::conn::http1::Builder::new();
                    http.timer(TokioTimer::new()).header_read_timeout(HEADERS_WITHIN);
                    let service = TowerToHyperService::new(app);
                    let served = match tls {
                        Some(tls) => match tls.accept(socket).await {
                            Ok(stream) => http.serve_connection(TokioIo::new(stream), service).await,
                            Err(e) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                        },
                        None => http.serve_connection(TokioIo::new(socket), service).await,
                    };
                    if let Err(e) = served {
                        tracing::debug!(%peer, error = %e, "console connection ended with an error");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// The most console connections open from one address. A browser opens up to six per server;
/// an office behind one NAT address may have a dozen people on the console.
const MOST_PER_ADDRESS: usize = 64;

/// Console connections open per address.
#[derive(Clone, Default)]
struct PerAddress(Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>);

/// One connection's place in its address's count, given back when it ends.
struct AddressSlot(PerAddress, std::net::IpAddr);

impl PerAddress {
    fn take(&self, address: std::net::IpAddr) -> Option<AddressSlot> {
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(address).or_default();
        if *n >= MOST_PER_ADDRESS {
            return None;
        }
        *n += 1;
        Some(AddressSlot(self.clone(), address))
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = (self.0).0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.1);
            }
        }
    }
}

/// The answer to a connection over the cap: 503 and close, without reading the request.
async fn answer_busy(mut socket: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let body = "服务器连接已满，请稍后再试 / the server has all the connections it takes; try again shortly\n";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nRetry-After: 5\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // A second at most: a flood of refused connections must not pile up sockets.
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        socket.write_all(answer.as_bytes()),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::county_in;

    #[test]
    fn a_request_is_filed_under_the_county_of_its_path() {
        assert_eq!(county_in("GET /t/a/ranking?period=2024-B3"), Some("a"));
        assert_eq!(county_in("POST /api/v1/tenants/liling/sql"), Some("liling"));
        assert_eq!(county_in("GET /"), None);
        assert_eq!(county_in("GET /api/v1/session"), None);
        assert_eq!(county_in("GET /t//ranking"), None);
    }
}
