//! `gridassess serve`: the PostgreSQL wire protocol (pgwire, with datafusion-postgres for query
//! handling, result encoding and `pg_catalog`), with a session per connection.
//!
//! datafusion-postgres's own `serve` shares one SessionContext across all connections and
//! accepts any user. Here every connection authenticates (cleartext password, checked against
//! the Argon2 hash; use TLS on untrusted networks), the database name picks the tenant (`all`
//! for every tenant the user was granted), and only then is a session built for that user
//! (see [`engine::access`]). Before a connection has authenticated, every query handler refuses.
//! Every statement passes the guardrails of [`engine::guard`]: size check on the raw text,
//! read-only plans, a time limit, a row limit, panics caught; and is written to the audit log.

use std::fmt::Debug;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::arrow_pg::datatypes::df::encode_dataframe;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::pgwire;
use datafusion_postgres::{DfSessionService, Parser, QueryHook};
use futures::Sink;
use pgwire::api::auth::{
    DefaultServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{DescribePortalResponse, DescribeStatementResponse, Response};
use pgwire::api::stmt::StoredStatement;
use pgwire::api::store::PortalStore;
use pgwire::api::{
    ClientInfo, ClientPortalStore, METADATA_DATABASE, METADATA_USER, PgWireConnectionState,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::extendedquery::{Bind, Close, Parse, TARGET_TYPE_BYTE_STATEMENT};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::tokio_rustls::rustls;
use pgwire::types::format::FormatOptions;

use crate::admission::{Admission, AdmissionLimits, SessionSlot, Turned};
use crate::audit::{AUDIT_LOGINS, AUDIT_QUERIES, AuditLog, Kind, QUERY};
use crate::message_limit::{self, Limited};
use crate::users::{User, Users};
use engine::QueryError;
use engine::access::{Access, Role};
use engine::guard;
use engine::guard::StatementKind;
use engine::guard::read_only;
use engine::session::Session;
use model::Limits;
use warehouse::Warehouse;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The warehouse whose tenants are served.
    pub warehouse: PathBuf,
    /// The PostgreSQL wire protocol's address, if it is served.
    pub listen: Option<SocketAddr>,
    /// The web console's address, if it is served.
    pub http: Option<SocketAddr>,
    /// The most bytes one upload to the console may send (its zips may unpack to 4×).
    pub max_upload_bytes: u64,
    /// PEM certificate chain and private key; with them, only TLS connections are accepted.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Where each query is recorded (JSON lines), besides the log on stderr.
    pub audit_log: Option<PathBuf>,
    /// Caps on connections and logins.
    pub admission: AdmissionLimits,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address is taken or not this machine's.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The certificate or key file cannot be read as PEM.
    #[error("cannot read the TLS certificate or key {}", .path.display())]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: rustls::pki_types::pem::Error,
    },
    /// The certificate and key do not make a TLS server (a key that does not match, say).
    #[error("the TLS certificate and key cannot be used together")]
    TlsConfig {
        /// What rustls said.
        source: rustls::Error,
    },
    /// The console's templates do not compile (a bug of this build, not of the input).
    #[error("the web console cannot start: {0}")]
    Console(String),
    /// The audit log cannot be opened for appending.
    #[error("cannot open the audit log {}", .path.display())]
    Audit {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The warehouse cannot be opened.
    #[error(transparent)]
    Warehouse(#[from] warehouse::WarehouseError),
}

fn user_error(sqlstate: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        sqlstate.into(),
        message.into(),
    )))
}

fn query_error(e: QueryError) -> PgWireError {
    user_error(e.sqlstate(), with_causes(&e))
}

/// An error and its causes on one line, as a client shows it: the crates' errors chain their
/// causes instead of repeating them (a warehouse file's "permission denied" is a cause).
fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Something of the server's own broke (a lost task, a result that cannot be re-read).
/// An error that ends the connection (pgwire closes the socket after a FATAL).
fn fatal(sqlstate: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".into(),
        sqlstate.into(),
        message.into(),
    )))
}

fn turned(t: Turned) -> PgWireError {
    fatal(t.sqlstate(), t.to_string())
}

fn internal(e: impl std::error::Error + 'static) -> PgWireError {
    query_error(QueryError::internal(with_causes(&e)))
}

/// SQLSTATE of a login that is not (yet) allowed: not authenticated, wrong password.
const INVALID_AUTHORIZATION: &str = "28000";
/// SQLSTATE of a database name that is not one of the user's tenants.
const INVALID_CATALOG: &str = "3D000";
/// SQLSTATE of a message the protocol does not allow (here: over the size limit).
const PROTOCOL_VIOLATION: &str = "08P01";

/// Everything the connections share.
pub(crate) struct Shared {
    pub(crate) warehouse: Warehouse,
    pub(crate) admission: Admission,
    audit: Option<Mutex<std::fs::File>>,
    /// Where the audit log is, for `audit_queries` in an admin's session.
    audit_path: Option<PathBuf>,
    require_tls: bool,
}

/// Why a login was refused, whichever door (pg-wire, the console) it came through.
#[derive(Debug)]
pub(crate) enum LoginRefused {
    /// Locked out, backing off, or the password line is full.
    Turned(Turned),
    /// A wrong password or an unknown user (the same answer for both).
    WrongPassword,
    /// The users file could not be read.
    Internal(String),
}

impl Shared {
    /// Checks a password with the shared back-off, lockout and line of password checks, and
    /// writes the audit lines; `door` says where the login came from (for the log).
    pub(crate) async fn authenticate(
        &self,
        user: &str,
        password: &str,
        address: IpAddr,
        door: &str,
    ) -> Result<User, LoginRefused> {
        let admission = &self.admission;
        let delay = admission.before_login(user, address).map_err(|t| {
            tracing::warn!(target: "audit", user, %address, reason = %t, door, "login refused");
            LoginRefused::Turned(t)
        })?;
        // Back-off after failures: the wait holds no password-check slot, only this socket.
        tokio::time::sleep(delay).await;
        let users = Users::of(&self.warehouse);
        let (name, pw) = (user.to_string(), password.to_string());
        // Argon2 is slow on purpose: off the async workers, and only a few at a time.
        let found = admission
            .check_password(move || users.authenticate(&name, &pw))
            .await
            .map_err(|t| {
                tracing::warn!(target: "audit", user, %address, reason = %t, door, "login refused");
                LoginRefused::Turned(t)
            })?
            .map_err(|e| LoginRefused::Internal(e.to_string()))?
            .map_err(|e| LoginRefused::Internal(e.to_string()))?;
        // Refusals that cost a client nothing (a lockout, a full line) go to the server's log
        // only, so a flood of them cannot grow the audit log; from here on each line cost a
        // password check.
        let Some(found) = found else {
            self.audit_door(
                "login failed",
                user,
                address,
                Some(&format!("wrong password ({door})")),
            );
            for lock in admission.failed(user, address) {
                self.audit_door("locked out", user, address, Some(&lock.to_string()));
            }
            return Err(LoginRefused::WrongPassword);
        };
        admission.succeeded(user, address);
        Ok(found)
    }

    /// Appends one line to the audit log (when there is one). serde_json escapes whatever the
    /// fields hold, so a line stays one valid JSON object.
    fn audit_line(&self, line: serde_json::Value) {
        if let Some(file) = &self.audit {
            use std::io::Write;
            if let Ok(mut f) = file.lock() {
                let _ = writeln!(f, "{line}");
            }
        }
    }

    /// An admin's session reads the audit log of their counties as `audit_queries` and
    /// `audit_logins`.
    pub(crate) fn register_audit(
        &self,
        ctx: &SessionContext,
        role: Role,
        tenants: &[String],
    ) -> datafusion::error::Result<()> {
        if role == Role::Admin
            && let Some(path) = &self.audit_path
        {
            ctx.register_table(
                AUDIT_QUERIES,
                Arc::new(AuditLog::new(path.clone(), tenants, Kind::Queries)),
            )?;
            ctx.register_table(
                AUDIT_LOGINS,
                Arc::new(AuditLog::new(path.clone(), tenants, Kind::Logins)),
            )?;
        }
        Ok(())
    }

    /// A statement's line (pg-wire's statements, the console's SQL and requests): who, in which
    /// counties, how long, how many rows or which error.
    pub(crate) fn audit_query(
        &self,
        user: &str,
        tenants: &str,
        sql: &str,
        started: Instant,
        result: &Result<u64, String>,
    ) {
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(rows) => {
                tracing::info!(target: "audit", user, tenants, ms = format!("{ms:.1}"), rows, sql)
            }
            Err(e) => {
                tracing::info!(target: "audit", user, tenants, ms = format!("{ms:.1}"), error = %e, sql)
            }
        }
        self.audit_line(serde_json::json!({
            "at": chrono::Utc::now().to_rfc3339(),
            "event": QUERY,
            "user": user,
            "tenants": tenants,
            "ms": (ms * 10.0).round() / 10.0,
            "rows": result.as_ref().ok(),
            "error": result.as_ref().err(),
            "sql": sql,
        }));
    }

    /// A line for what happened at the door: `event` is `login`, `login failed`, `login
    /// refused`, `locked out`, `session ended` or `message refused`. It is filed under the
    /// counties of `user` (none for an unknown name), so their admins read it in
    /// `audit_logins`.
    pub(crate) fn audit_door(
        &self,
        event: &str,
        user: &str,
        address: IpAddr,
        reason: Option<&str>,
    ) {
        if event == "login" {
            tracing::info!(target: "audit", event, user, %address, "login");
        } else {
            tracing::warn!(target: "audit", event, user, %address, reason, "login");
        }
        if self.audit.is_none() {
            return;
        }
        let tenants = Users::of(&self.warehouse)
            .tenants_of(user)
            .unwrap_or_default()
            .join(",");
        self.audit_line(serde_json::json!({
            "at": chrono::Utc::now().to_rfc3339(),
            "event": event,
            "user": user,
            "tenants": tenants,
            "address": address.to_string(),
            "reason": reason,
        }));
    }
}

/// The most prepared statements, and the most named portals, one connection keeps. Each holds
/// a parsed plan; a client that prepares without ever closing (by bug or on purpose) would grow
/// the server's memory with every statement.
const MAX_NAMED_PER_CONNECTION: usize = 1_000;

/// The names of the statements and portals a connection keeps (pgwire's store cannot count).
#[derive(Default)]
struct Named {
    statements: std::collections::HashSet<String>,
    portals: std::collections::HashSet<String>,
}

/// Which of a connection's named things.
#[derive(Debug, Clone, Copy)]
enum NamedKind {
    Statement,
    Portal,
}

impl Named {
    fn of(&mut self, kind: NamedKind) -> &mut std::collections::HashSet<String> {
        match kind {
            NamedKind::Statement => &mut self.statements,
            NamedKind::Portal => &mut self.portals,
        }
    }

    /// Refuses a new `name` when the connection already keeps the most it may; the unnamed
    /// one replaces itself and is free. Nothing is counted until it is kept ([`Named::keep`]).
    fn room_for(&mut self, kind: NamedKind, name: Option<&str>) -> PgWireResult<()> {
        let set = self.of(kind);
        match name {
            Some(name)
                if !name.is_empty()
                    && !set.contains(name)
                    && set.len() >= MAX_NAMED_PER_CONNECTION =>
            {
                let what = match kind {
                    NamedKind::Statement => "prepared statements",
                    NamedKind::Portal => "named portals",
                };
                Err(user_error(
                    "54000",
                    format!(
                        "this connection already keeps {MAX_NAMED_PER_CONNECTION} {what} (the most \
                         one may); close some (Close, DEALLOCATE) or use the unnamed one"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Counts `name` once pgwire has stored it (a Parse or Bind that failed stores nothing).
    fn keep(&mut self, kind: NamedKind, name: Option<&str>) {
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            self.of(kind).insert(name.to_string());
        }
    }
}

/// A connection after it has authenticated.
struct Authed {
    service: Arc<DfSessionService>,
    limits: Limits,
    /// The statements and portals it keeps by name, capped.
    named: Mutex<Named>,
    /// The session's place in its user's and tenants' connection caps, until it ends.
    _slot: SessionSlot,
    /// The session's context, to take its pg_catalog apart when the connection ends.
    ctx: SessionContext,
}

impl Drop for Authed {
    /// datafusion-postgres's pg_catalog schema holds the catalog list it is registered in: a
    /// cycle of `Arc`s that would keep every ended session (about 6 MB) alive for the life of
    /// the server. Taking the schema out of the catalog breaks it.
    fn drop(&mut self) {
        if let Some(catalog) = self.ctx.catalog(PG_CATALOG_IN)
            && let Err(e) = catalog.deregister_schema("pg_catalog", true)
        {
            tracing::warn!(error = %e, "an ended session's pg_catalog could not be taken apart");
        }
    }
}

/// The catalog pg_catalog is registered in.
const PG_CATALOG_IN: &str = "datafusion";

/// One connection's handlers. The session slot is filled by the startup handler once the
/// password checks out; until then every query handler refuses.
#[derive(Clone)]
struct Connection {
    shared: Arc<Shared>,
    authed: Arc<OnceLock<Authed>>,
    /// Provides a parser before login, for pgwire's describe defaults; never runs anything.
    placeholder: Arc<DfSessionService>,
    /// Set when the server was full as the connection arrived: its startup is answered with
    /// this and the connection closed.
    turned_away: Option<Turned>,
}

impl Authed {
    fn named(&self) -> PgWireResult<std::sync::MutexGuard<'_, Named>> {
        self.named
            .lock()
            .map_err(|_| user_error("XX000", "the connection's statement list is unavailable"))
    }
}

impl Connection {
    fn authed(&self) -> PgWireResult<&Authed> {
        self.authed
            .get()
            .ok_or_else(|| user_error(INVALID_AUTHORIZATION, "not authenticated"))
    }
}

#[async_trait]
impl StartupHandler for Connection {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        use futures::SinkExt;
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                if let Some(t) = &self.turned_away {
                    return Err(turned(t.clone()));
                }
                if self.shared.require_tls && !client.is_secure() {
                    return Err(fatal(
                        INVALID_AUTHORIZATION,
                        "this server accepts TLS connections only (sslmode=require)",
                    ));
                }
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(
                        Authentication::CleartextPassword,
                    ))
                    .await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(p) => {
                let password = p.into_password()?.password;
                let user = client
                    .metadata()
                    .get(METADATA_USER)
                    .cloned()
                    .ok_or(PgWireError::UserNameRequired)?;
                let database = client
                    .metadata()
                    .get(METADATA_DATABASE)
                    .cloned()
                    .unwrap_or_else(|| user.clone());
                let address = client.socket_addr().ip();
                let authed = self.login(&user, &password, &database, address).await?;
                let _ = self.authed.set(authed);
                let mut params = DefaultServerParameterProvider::default();
                params.is_superuser = false;
                params.default_transaction_read_only = true;
                finish_authentication(client, &params).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

impl Connection {
    async fn login(
        &self,
        user: &str,
        password: &str,
        database: &str,
        address: IpAddr,
    ) -> PgWireResult<Authed> {
        let found = self
            .shared
            .authenticate(user, password, address, &format!("database {database}"))
            .await
            .map_err(|refused| match refused {
                LoginRefused::Turned(t) => turned(t),
                LoginRefused::WrongPassword => PgWireError::InvalidPassword(user.to_string()),
                LoginRefused::Internal(e) => query_error(QueryError::internal(e)),
            })?;
        let admission = &self.shared.admission;
        let door = |event: &str, reason: Option<&str>| {
            self.shared.audit_door(event, user, address, reason);
        };
        let tenants = if database == "all" {
            found.tenants.clone()
        } else if found.tenants.iter().any(|t| t == database) {
            vec![database.to_string()]
        } else {
            // The same answer whether the tenant exists or not.
            door(
                "login refused",
                Some(&format!("database {database} is not theirs")),
            );
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".into(),
                INVALID_CATALOG.into(),
                format!(
                    "database \"{database}\" is not one of yours (yours: {}, or all)",
                    found.tenants.join(", ")
                ),
            ))));
        };
        let slot = admission.open_session(user, &tenants).map_err(|t| {
            door("login refused", Some(&t.to_string()));
            turned(t)
        })?;
        let access = Access::new(tenants.clone(), found.role);
        let session = Session::open(&self.shared.warehouse, &access)
            .await
            .map_err(query_error)?;
        let (ctx, limits) = (session.context().clone(), session.limits().clone());
        let queue = session.queue().clone();
        datafusion_postgres::datafusion_pg_catalog::setup_pg_catalog(
            &ctx,
            PG_CATALOG_IN,
            datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider,
        )
        .map_err(internal)?;
        self.shared
            .register_audit(&ctx, found.role, &tenants)
            .map_err(internal)?;
        let guard = Arc::new(Guard {
            user: user.to_string(),
            address,
            logged_in_as: found.clone(),
            tenants: tenants.join(","),
            limits: limits.clone(),
            queue,
            shared: self.shared.clone(),
        });
        let hooks: Vec<Arc<dyn QueryHook>> = vec![
            guard,
            Arc::new(SetShowHook),
            Arc::new(TransactionStatementHook),
        ];
        door("login", None);
        Ok(Authed {
            service: Arc::new(DfSessionService::new_with_hooks(
                Arc::new(ctx.clone()),
                hooks,
            )),
            limits,
            named: Mutex::new(Named::default()),
            _slot: slot,
            ctx,
        })
    }
}

#[async_trait]
impl SimpleQueryHandler for Connection {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let authed = self.authed()?;
        // Before anything parses it: a hostile text must never reach a recursive parser.
        guard::check_sql(query, &authed.limits).map_err(query_error)?;
        <DfSessionService as SimpleQueryHandler>::do_query(&authed.service, client, query).await
    }
}

type Stmt = (String, Option<(Statement, LogicalPlan)>);

#[async_trait]
impl ExtendedQueryHandler for Connection {
    type Statement = Stmt;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        match self.authed.get() {
            Some(a) => a.service.query_parser(),
            None => self.placeholder.query_parser(),
        }
    }

    async fn on_parse<C>(&self, client: &mut C, message: Parse) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let authed = self.authed()?;
        guard::check_sql(&message.query, &authed.limits).map_err(query_error)?;
        let name = message.name.clone();
        authed
            .named()?
            .room_for(NamedKind::Statement, name.as_deref())?;
        <DfSessionService as ExtendedQueryHandler>::on_parse(&authed.service, client, message)
            .await?;
        authed.named()?.keep(NamedKind::Statement, name.as_deref());
        Ok(())
    }

    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let authed = self.authed()?;
        let name = message.portal_name.clone();
        authed
            .named()?
            .room_for(NamedKind::Portal, name.as_deref())?;
        <DfSessionService as ExtendedQueryHandler>::on_bind(&authed.service, client, message)
            .await?;
        authed.named()?.keep(NamedKind::Portal, name.as_deref());
        Ok(())
    }

    async fn on_close<C>(&self, client: &mut C, message: Close) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let authed = self.authed()?;
        if let Some(name) = message.name.as_deref() {
            let kind = match message.target_type {
                TARGET_TYPE_BYTE_STATEMENT => NamedKind::Statement,
                _ => NamedKind::Portal,
            };
            authed.named()?.of(kind).remove(name);
        }
        <DfSessionService as ExtendedQueryHandler>::on_close(&authed.service, client, message).await
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let authed = self.authed()?;
        <DfSessionService as ExtendedQueryHandler>::do_query(
            &authed.service,
            client,
            portal,
            max_rows,
        )
        .await
    }

    async fn do_describe_statement<C>(
        &self,
        client: &mut C,
        target: &StoredStatement<Self::Statement>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let authed = self.authed()?;
        <DfSessionService as ExtendedQueryHandler>::do_describe_statement(
            &authed.service,
            client,
            target,
        )
        .await
    }

    async fn do_describe_portal<C>(
        &self,
        client: &mut C,
        target: &Portal<Self::Statement>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let authed = self.authed()?;
        <DfSessionService as ExtendedQueryHandler>::do_describe_portal(
            &authed.service,
            client,
            target,
        )
        .await
    }
}

/// The first hook of every statement: lets through what reads, runs it under the limits, and
/// writes the audit line; refuses everything else.
struct Guard {
    user: String,
    /// Where the user connected from, for the audit log.
    address: IpAddr,
    /// The user as they logged in: a statement after their removal, or a change of their
    /// password, tenants or role, ends the session instead of running.
    logged_in_as: User,
    tenants: String,
    limits: Limits,
    /// The line the tenants' queries wait in, shared with their other sessions.
    queue: guard::Queue,
    shared: Arc<Shared>,
}

impl Guard {
    /// Ends the session (FATAL) when its user was removed or changed since the login.
    fn still_admitted(&self) -> Result<(), PgWireError> {
        match Users::of(&self.shared.warehouse).still_stands(&self.logged_in_as) {
            Ok(true) => Ok(()),
            Ok(false) => {
                self.shared.audit_door(
                    "session ended",
                    &self.user,
                    self.address,
                    Some("the user was removed or changed"),
                );
                Err(fatal(
                    INVALID_AUTHORIZATION,
                    format!(
                        "user {} was removed or changed since this session logged in: log in again",
                        self.user
                    ),
                ))
            }
            Err(e) => Err(internal(e)),
        }
    }

    fn audit(&self, sql: &str, started: Instant, result: &Result<u64, String>) {
        self.shared
            .audit_query(&self.user, &self.tenants, sql, started, result);
    }
}

#[async_trait]
impl QueryHook for Guard {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if let Err(ended) = self.still_admitted() {
            return Some(Err(ended));
        }
        match guard::classify(statement) {
            Ok(StatementKind::Session) => None,
            Err(refused) => {
                self.audit(
                    &statement.to_string(),
                    Instant::now(),
                    &Err(refused.to_string()),
                );
                Some(Err(query_error(refused)))
            }
            Ok(StatementKind::Read) => {
                let sql = statement.to_string();
                let (ctx2, statement) = (ctx.clone(), statement.clone());
                let plan = async move {
                    let plan = ctx2
                        .state()
                        .statement_to_plan(DfStatement::Statement(Box::new(statement)))
                        .await?;
                    read_only().verify_plan(&plan)?;
                    Ok(ctx2.execute_logical_plan(plan).await?)
                };
                Some(self.respond(ctx, &sql, plan, &*client).await)
            }
        }
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        if let Err(ended) = self.still_admitted() {
            return Some(Err(ended));
        }
        match guard::classify(statement) {
            Err(refused) => {
                self.audit(
                    &statement.to_string(),
                    Instant::now(),
                    &Err(refused.to_string()),
                );
                Some(Err(query_error(refused)))
            }
            Ok(StatementKind::Session) => None,
            // Planned here rather than by datafusion-postgres, so that planning runs under the
            // time limit and the tenants' line like execution does.
            Ok(StatementKind::Read) => {
                let (sql, started) = (statement.to_string(), Instant::now());
                let (ctx, statement) = (ctx.clone(), statement.clone());
                let planned = guard::plan(&self.limits, &self.queue, async move {
                    let plan = ctx
                        .state()
                        .statement_to_plan(DfStatement::Statement(Box::new(statement)))
                        .await?;
                    read_only().verify_plan(&plan)?;
                    Ok(plan)
                })
                .await;
                if let Err(e) = &planned {
                    self.audit(&sql, started, &Err(e.to_string()));
                }
                Some(planned.map_err(query_error))
            }
        }
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        plan: &LogicalPlan,
        params: &ParamValues,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if let Err(ended) = self.still_admitted() {
            return Some(Err(ended));
        }
        match guard::classify(statement) {
            Ok(StatementKind::Session) => None,
            Err(refused) => Some(Err(query_error(refused))),
            Ok(StatementKind::Read) => {
                let sql = statement.to_string();
                let (ctx2, plan, params) = (ctx.clone(), plan.clone(), params.clone());
                let plan = async move {
                    read_only().verify_plan(&plan)?;
                    let plan = plan.replace_params_with_values(&params)?;
                    Ok(ctx2.execute_logical_plan(plan).await?)
                };
                Some(self.respond(ctx, &sql, plan, &*client).await)
            }
        }
    }
}

impl Guard {
    async fn respond(
        &self,
        ctx: &SessionContext,
        sql: &str,
        plan: impl std::future::Future<Output = Result<DataFrame, QueryError>> + Send + 'static,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> PgWireResult<Response> {
        let started = Instant::now();
        let result = guard::execute(&self.limits, &self.queue, plan).await;
        let rows = result
            .as_ref()
            .map(|(_, b)| b.iter().map(|b| b.num_rows() as u64).sum())
            .map_err(|e| with_causes(e));
        self.audit(sql, started, &rows);
        let (schema, batches) = result.map_err(query_error)?;
        let table = MemTable::try_new(schema, vec![batches]).map_err(internal)?;
        let df = ctx.read_table(Arc::new(table)).map_err(internal)?;
        let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
        let response = encode_dataframe(df, &Format::UnifiedText, Some(options)).await?;
        Ok(Response::Query(response))
    }
}

/// Serves until `shutdown` completes; then stops accepting and lets open connections finish
/// their current statement (up to the time limit).
pub async fn serve(
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServeError> {
    let warehouse = Warehouse::open(&options.warehouse)?;
    let tls = match &options.tls {
        Some((cert, key)) => Some(tls_acceptor(cert, key, b"postgresql")?),
        None => None,
    };
    let audit = match &options.audit_log {
        Some(path) => Some(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| ServeError::Audit {
                    path: path.clone(),
                    source,
                })?,
        )),
        None => None,
    };
    let shared = Arc::new(Shared {
        warehouse,
        admission: Admission::new(options.admission.clone()),
        audit,
        audit_path: options.audit_log.clone(),
        require_tls: tls.is_some(),
    });
    // Both doors stop together: the signal is passed on through a watch.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let when_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    let mut doors = tokio::task::JoinSet::new();
    if let Some(addr) = options.http {
        let listener = bind(addr).await?;
        let local = listener
            .local_addr()
            .map_err(|source| ServeError::Listen { addr, source })?;
        let https = match &options.tls {
            Some((cert, key)) => Some(tls_acceptor(cert, key, b"http/1.1")?),
            None => None,
        };
        let web = Arc::new(
            crate::web::Web::new(shared.clone(), https.is_some(), options.max_upload_bytes)
                .map_err(|e| ServeError::Console(e.to_string()))?,
        );
        println!(
            "console on http{}://{local}",
            if https.is_some() { "s" } else { "" }
        );
        doors.spawn(crate::web::serve(
            web,
            listener,
            https,
            when_stopped(stopped.clone()),
        ));
    }
    if let Some(addr) = options.listen {
        let listener = bind(addr).await?;
        let local = listener
            .local_addr()
            .map_err(|source| ServeError::Listen { addr, source })?;
        // The line a supervisor (or a test) waits for.
        println!("listening on {local}");
        doors.spawn(serve_wire(
            shared.clone(),
            listener,
            tls,
            when_stopped(stopped.clone()),
        ));
    }
    shutdown.await;
    let _ = stop.send(true);
    while doors.join_next().await.is_some() {}
    Ok(())
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Listen { addr, source })
}

/// The pg-wire door: accepts until `shutdown`, then lets open connections finish their
/// current statement (up to 10 s).
async fn serve_wire(
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
    tls: Option<pgwire::tokio::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let placeholder = Arc::new(DfSessionService::new(Arc::new(SessionContext::new())));
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            (socket, peer) = accept(&listener, "pg-wire") => {
                let (slot, turned_away) = match shared.admission.connect() {
                    Ok(slot) => (Some(slot), None),
                    Err(t) => {
                        tracing::warn!(target: "audit", %peer, reason = %t, "connection refused");
                        (None, Some(t))
                    }
                };
                let handlers = Connection {
                    shared: shared.clone(),
                    authed: Arc::new(OnceLock::new()),
                    placeholder: placeholder.clone(),
                    turned_away,
                };
                let tls = tls.clone();
                connections.spawn(async move {
                    // Held until the connection ends.
                    let _slot = slot;
                    if let Err(e) = process_connection(socket, tls, handlers, peer).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    tracing::info!(
        "shutting down: waiting for {} open connection(s)",
        connections.len()
    );
    let grace = tokio::time::sleep(std::time::Duration::from_secs(10));
    tokio::pin!(grace);
    loop {
        tokio::select! {
            _ = &mut grace => { connections.abort_all(); break; }
            next = connections.join_next() => if next.is_none() { break },
        }
    }
}

/// The next connection on `listener` (of `door`, for the log). Out of file descriptors, or
/// another transient failure, the error comes back at once on every try: it pauses 100 ms
/// rather than spin a core. Cancel-safe, for `select!`.
pub(crate) async fn accept(
    listener: &tokio::net::TcpListener,
    door: &str,
) -> (tokio::net::TcpStream, std::net::SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(e) => {
                tracing::warn!(error = %e, door, "cannot accept a connection; pausing 100 ms");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// How long a client may take to log in (pgwire's own limit).
const LOGIN_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// pgwire's `process_socket`, with the size of every message the client sends checked at its
/// header ([`message_limit`]) after TLS: pgwire alone would buffer up to 1 GiB of one message,
/// before login too.
async fn process_connection(
    socket: tokio::net::TcpStream,
    tls: Option<pgwire::tokio::TlsAcceptor>,
    handlers: Connection,
    peer: SocketAddr,
) -> std::io::Result<()> {
    use futures::{SinkExt, StreamExt};
    use pgwire::api::ErrorHandler;
    use pgwire::tokio::server::{negotiate_tls, process_error, process_message};
    use tokio_util::codec::{Framed, FramedParts};

    let login_within = tokio::time::sleep(LOGIN_WITHIN);
    tokio::pin!(login_within);
    let negotiated = tokio::select! {
        _ = &mut login_within => return Ok(()),
        negotiated = negotiate_tls::<Stmt>(socket, tls) => negotiated?,
    };
    // A direct TLS connection to a server without a certificate.
    let Some(negotiated) = negotiated else {
        return Ok(());
    };
    let old = negotiated.into_parts();
    let mut parts = FramedParts::new(Limited::new(old.io, &old.read_buf)?, old.codec);
    parts.read_buf = old.read_buf;
    parts.write_buf = old.write_buf;
    let mut socket = Framed::from_parts(parts);

    // The connection handles startup, simple and extended queries; COPY is refused by the
    // guard before it starts; cancel requests and errors take pgwire's defaults.
    let handler = Arc::new(handlers);
    let noop = Arc::new(pgwire::api::NoopHandler);
    loop {
        let logging_in = matches!(
            socket.state(),
            PgWireConnectionState::AwaitingStartup
                | PgWireConnectionState::AuthenticationInProgress
        );
        socket.get_mut().set_logged_in(!logging_in);
        let next = if logging_in {
            tokio::select! {
                _ = &mut login_within => None,
                next = socket.next() => next,
            }
        } else {
            socket.next().await
        };
        let message = match next {
            Some(Ok(message)) => message,
            Some(Err(PgWireError::IoError(e))) => {
                if let Some(why) = message_limit::refusal(&e) {
                    let user = socket.metadata().get(METADATA_USER).cloned();
                    let reason = why.to_string();
                    match (&user, logging_in) {
                        // A logged-in user's refusal is theirs to account for; before login
                        // it costs nothing, so it goes to the server's log only.
                        (Some(user), false) => handler.shared.audit_door(
                            "message refused",
                            user,
                            peer.ip(),
                            Some(&reason),
                        ),
                        _ => {
                            tracing::warn!(target: "audit", %peer, ?user, %reason, "message refused")
                        }
                    }
                    let told = ErrorInfo::new("FATAL".into(), PROTOCOL_VIOLATION.into(), reason);
                    // The client may be busy sending the rest: tell it, but do not wait on it.
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_secs(1),
                        socket.send(PgWireBackendMessage::ErrorResponse(told.into())),
                    )
                    .await;
                }
                break;
            }
            Some(Err(_)) | None => break,
        };
        // A Terminate means the client is leaving: close rather than wait for more.
        if matches!(message, PgWireFrontendMessage::Terminate(_)) {
            break;
        }
        let extended_query = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => message.is_extended_query(),
        };
        if let Err(mut e) = process_message(
            message,
            &mut socket,
            handler.clone(),
            handler.clone(),
            handler.clone(),
            noop.clone(),
            noop.clone(),
        )
        .await
        {
            noop.on_error(&socket, &mut e);
            process_error(&mut socket, e, extended_query).await?;
        }
    }
    Ok(())
}

/// A TLS acceptor for the certificate and key, offering `alpn` (`postgresql` for pg-wire's
/// direct TLS, `http/1.1` for the console).
fn tls_acceptor(
    cert: &PathBuf,
    key: &PathBuf,
    alpn: &[u8],
) -> Result<pgwire::tokio::TlsAcceptor, ServeError> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let file_err = |path: &PathBuf| {
        let path = path.clone();
        move |source| ServeError::TlsFile { path, source }
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(file_err(cert))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(file_err(cert))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(file_err(key))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|source| ServeError::TlsConfig { source })?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|source| ServeError::TlsConfig { source })?;
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(pgwire::tokio::TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_told_the_cause_too() {
        let e = QueryError::Warehouse(warehouse::WarehouseError::Io {
            path: "users.json".into(),
            source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied"),
        });
        assert_eq!(
            with_causes(&e),
            "cannot read or write users.json: permission denied"
        );
    }
}
