//! One connection: its handlers (login, queries, cancel, errors), its session, and the limits
//! around every statement (timeout, cancel, the client going away).

use std::collections::HashMap;
use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::Statement as DfSqlStatement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion_postgres::arrow_pg::datatypes::df::{
    deserialize_parameters_with_server_types, encode_dataframe,
};
use datafusion_postgres::arrow_pg::datatypes::into_pg_type;
use datafusion_postgres::pgwire::api::DEFAULT_NAME;
use datafusion_postgres::pgwire::api::Type;
use datafusion_postgres::pgwire::api::auth::noop::NoopStartupHandler;
use datafusion_postgres::pgwire::api::auth::sasl::SASLAuthStartupHandler;
use datafusion_postgres::pgwire::api::auth::{DefaultServerParameterProvider, StartupHandler};
use datafusion_postgres::pgwire::api::cancel::CancelHandler;
use datafusion_postgres::pgwire::api::portal::PortalExecutionState;
use datafusion_postgres::pgwire::api::portal::{Format, Portal};
use datafusion_postgres::pgwire::api::query::send_execution_response;
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::{Response, Tag};
use datafusion_postgres::pgwire::api::store::Entry;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{
    ClientInfo, ClientPortalStore, ConnectionManager, ErrorHandler, PgWireConnectionState,
    PgWireServerHandlers,
};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::cancel::CancelRequest;
use datafusion_postgres::pgwire::messages::extendedquery::Execute;
use datafusion_postgres::pgwire::messages::response::EmptyQueryResponse;
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use datafusion_postgres::pgwire::types::format::FormatOptions;
use datafusion_postgres::{DfSessionService, Parser};
use futures::{Sink, SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::Shared;
use super::guard::{self, STATEMENT_TIMEOUT_KEY, api, sql_error};
use super::late::{self, LateStatements};

/// A connection's process id and secret key, as a cancel request names them.
type CancelKey = (i32, Bytes);

/// The connections' cancel switches, by the process id and secret key each was given at login.
#[derive(Default)]
pub(super) struct CancelRegistry {
    switches: Mutex<HashMap<CancelKey, Arc<watch::Sender<u64>>>>,
    /// pgwire's own registry: it cancels a statement while it is planned.
    manager: Arc<ConnectionManager>,
}

impl CancelRegistry {
    fn insert(&self, key: (i32, Bytes), switch: Arc<watch::Sender<u64>>) {
        self.switches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, switch);
    }

    fn remove(&self, key: &(i32, Bytes)) {
        self.switches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    fn cancel(&self, key: &(i32, Bytes)) -> bool {
        let switch = self
            .switches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned();
        match switch {
            Some(switch) => {
                switch.send_modify(|generation| *generation += 1);
                true
            }
            None => false,
        }
    }
}

/// What a connection's handlers share, and what is said about it when it ends.
pub(super) struct ConnectionState {
    /// Bumped by a cancel request: the statement running then stops.
    cancel: Arc<watch::Sender<u64>>,
    /// The key a cancel request names this connection by, once logged in.
    key: Mutex<Option<(i32, Bytes)>>,
    logged_in: AtomicBool,
    /// A statement is running.
    busy: AtomicBool,
    /// This connection was a cancel request.
    cancel_request: AtomicBool,
    /// A failure was already logged.
    logged_failure: AtomicBool,
    /// The client went away while a statement ran.
    gone_while_busy: AtomicBool,
}

impl ConnectionState {
    /// Completes when `timeout` has passed and the client has not logged in.
    pub(super) async fn login_expired(&self, timeout: Duration) {
        tokio::time::sleep(timeout).await;
        if self.logged_in.load(Ordering::Relaxed) || self.cancel_request.load(Ordering::Relaxed) {
            std::future::pending::<()>().await;
        }
    }

    /// Says what needs saying about the connection that ended, and forgets its cancel key.
    pub(super) fn finish(&self, shared: &Shared, peer: SocketAddr, failure: Option<&str>) {
        if let Some(key) = self.key.lock().unwrap_or_else(PoisonError::into_inner).take() {
            shared.cancels.remove(&key);
        }
        if self.cancel_request.load(Ordering::Relaxed) || self.logged_failure.load(Ordering::Relaxed) {
            return;
        }
        let busy = self.busy.load(Ordering::Relaxed) || self.gone_while_busy.load(Ordering::Relaxed);
        match failure {
            Some(cause) if busy => (shared.log)(&format!("{peer}: {cause}; its query was cancelled")),
            Some(cause) if cause == super::PANICKED => (shared.log)(&format!("{peer}: {cause}")),
            _ if !self.logged_in.load(Ordering::Relaxed) => (shared.log)(&format!(
                "{peer}: closed before logging in ({})",
                failure.unwrap_or("the client left, or sent no valid startup message")
            )),
            _ => {}
        }
    }
}

static CONNECTION_IDS: AtomicU64 = AtomicU64::new(1);

/// The handlers of one connection.
pub(super) struct Connection {
    session: Arc<Session>,
    startup: Arc<Startup>,
    cancel: Arc<Cancel>,
    errors: Arc<Errors>,
}

impl Connection {
    pub(super) fn new(shared: &Arc<Shared>, peer: SocketAddr) -> Connection {
        let id = CONNECTION_IDS.fetch_add(1, Ordering::Relaxed);
        let ctx = Arc::new(shared.connection_context(id));
        let state = Arc::new(ConnectionState {
            cancel: Arc::new(watch::Sender::new(0)),
            key: Mutex::new(None),
            logged_in: AtomicBool::new(false),
            busy: AtomicBool::new(false),
            cancel_request: AtomicBool::new(false),
            logged_failure: AtomicBool::new(false),
            gone_while_busy: AtomicBool::new(false),
        });
        let late = LateStatements::default();
        let inner = Arc::new(DfSessionService::new_with_hooks(
            Arc::clone(&ctx),
            guard::hooks(&shared.options, late.clone()),
        ));
        let login = match &shared.users {
            Some(users) => Login::Password(
                SASLAuthStartupHandler::new(Arc::new(DefaultServerParameterProvider::default()))
                    .with_scram(users.scram())
                    .with_connection_manager(Arc::clone(&shared.cancels.manager)),
            ),
            None => Login::Open(OpenLogin {
                manager: Arc::clone(&shared.cancels.manager),
            }),
        };
        Connection {
            session: Arc::new(Session {
                inner,
                late,
                ctx,
                shared: Arc::clone(shared),
                state: Arc::clone(&state),
            }),
            startup: Arc::new(Startup {
                login,
                shared: Arc::clone(shared),
                state: Arc::clone(&state),
            }),
            cancel: Arc::new(Cancel {
                shared: Arc::clone(shared),
                state: Arc::clone(&state),
            }),
            errors: Arc::new(Errors {
                shared: Arc::clone(shared),
                state,
                peer,
            }),
        }
    }

    pub(super) fn state(&self) -> Arc<ConnectionState> {
        Arc::clone(&self.session.state)
    }
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::clone(&self.session)
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::clone(&self.session)
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::clone(&self.startup)
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::clone(&self.errors)
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        Arc::clone(&self.cancel)
    }
}

/// No password: any user name (loopback only).
struct OpenLogin {
    manager: Arc<ConnectionManager>,
}

impl NoopStartupHandler for OpenLogin {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(Arc::clone(&self.manager))
    }
}

enum Login {
    Open(OpenLogin),
    Password(SASLAuthStartupHandler<DefaultServerParameterProvider>),
}

/// The login, then the connection's registration for cancel requests.
struct Startup {
    login: Login,
    shared: Arc<Shared>,
    state: Arc<ConnectionState>,
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if self.shared.tls.is_some()
            && !self.shared.options.insecure
            && !client.is_secure()
            && matches!(message, PgWireFrontendMessage::Startup(_))
        {
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".to_string(),
                "28000".to_string(), // invalid_authorization_specification
                "this server requires TLS: connect with sslmode=require (or start it with --insecure to allow plain connections)"
                    .to_string(),
            ))));
        }
        match &self.login {
            Login::Open(login) => login.on_startup(client, message).await?,
            Login::Password(login) => login.on_startup(client, message).await?,
        }
        if matches!(client.state(), PgWireConnectionState::ReadyForQuery)
            && !self.state.logged_in.swap(true, Ordering::Relaxed)
        {
            let (pid, secret) = client.pid_and_secret_key();
            let key = (pid, secret.to_bytes());
            self.shared
                .cancels
                .insert(key.clone(), Arc::clone(&self.state.cancel));
            *self.state.key.lock().unwrap_or_else(PoisonError::into_inner) = Some(key);
        }
        Ok(())
    }
}

/// Cancel requests: stop the named connection's statement.
struct Cancel {
    shared: Arc<Shared>,
    state: Arc<ConnectionState>,
}

#[async_trait]
impl CancelHandler for Cancel {
    async fn on_cancel_request(&self, request: CancelRequest) {
        self.state.cancel_request.store(true, Ordering::Relaxed);
        let key = (request.pid, request.secret_key.to_bytes());
        // while it is planned
        self.shared
            .cancels
            .manager
            .cancel(request.pid, &request.secret_key)
            .await;
        // while it runs and sends its rows
        self.shared.cancels.cancel(&key);
    }
}

/// Errors as the client reads them: DataFusion's as one line with a SQLSTATE; failed logins
/// logged.
struct Errors {
    shared: Arc<Shared>,
    state: Arc<ConnectionState>,
    peer: SocketAddr,
}

impl ErrorHandler for Errors {
    fn on_error<C>(&self, client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        if !self.state.logged_in.load(Ordering::Relaxed) {
            let user: String = client
                .metadata()
                .get("user")
                .map_or("", String::as_str)
                .escape_debug()
                .collect();
            let why = match &*error {
                PgWireError::InvalidPassword(_) | PgWireError::InvalidScramMessage(_) => {
                    "password authentication failed".to_string()
                }
                other => other.to_string(),
            };
            (self.shared.log)(&format!("{}: login refused for user '{user}': {why}", self.peer));
            if why == "password authentication failed" {
                // PostgreSQL's words, with the user name the client gave
                *error = PgWireError::UserError(Box::new(ErrorInfo::new(
                    "FATAL".to_string(),
                    "28P01".to_string(), // invalid_password
                    format!("password authentication failed for user \"{user}\""),
                )));
            }
            self.state.logged_failure.store(true, Ordering::Relaxed);
            return;
        }
        let replaced = match error {
            PgWireError::ApiError(inner) => inner.downcast_ref::<DataFusionError>().map(|e| {
                let mut line = crate::error::error_line(e);
                if matches!(e.find_root(), DataFusionError::ResourcesExhausted(_)) {
                    // DataFusion's message goes on to list the consumers on the next lines
                    if let Some(at) = line.find(" with top memory consumers") {
                        line.truncate(at);
                    }
                    line = format!(
                        "{line}: the query needs more memory than a connection has on this server \
                         (--memory-limit, {} MiB)",
                        self.shared.options.memory_limit >> 20
                    );
                }
                sql_error(sqlstate(e), line)
            }),
            _ => None,
        };
        if let Some(replaced) = replaced {
            *error = replaced;
        }
    }
}

/// The SQLSTATE of a DataFusion error.
fn sqlstate(e: &DataFusionError) -> &'static str {
    match e.find_root() {
        DataFusionError::SQL(..) => "42601",         // syntax_error
        DataFusionError::SchemaError(..) => "42703", // undefined_column
        DataFusionError::Plan(m) if m.starts_with("table '") && m.ends_with("' not found") => "42P01", // undefined_table
        DataFusionError::Plan(_) => "42000", // syntax_error_or_access_rule_violation
        DataFusionError::NotImplemented(_) => "0A000", // feature_not_supported
        DataFusionError::ResourcesExhausted(_) => "53200", // out_of_memory
        DataFusionError::IoError(_) => "58030", // io_error
        DataFusionError::Execution(_) | DataFusionError::Configuration(_) => "22023", // invalid_parameter_value
        _ => "XX000",                                                                 // internal_error
    }
}

/// The queries of one connection: datafusion-postgres's handlers, with this server's limits
/// around each statement and its own handling of the statements that name files.
struct Session {
    inner: Arc<DfSessionService>,
    /// Statements planned when executed ([`super::late`]).
    late: LateStatements,
    ctx: Arc<SessionContext>,
    shared: Arc<Shared>,
    state: Arc<ConnectionState>,
}

/// Why a statement was stopped.
#[derive(Clone, Copy)]
enum Stop {
    Cancelled,
    TimedOut,
}

impl Stop {
    fn error(self) -> PgWireError {
        match self {
            Stop::Cancelled => sql_error("57014", "canceling statement due to user request"),
            Stop::TimedOut => sql_error("57014", "canceling statement due to statement timeout"),
        }
    }
}

/// A running statement, counted while it lives.
struct Running {
    shared: Arc<Shared>,
    state: Arc<ConnectionState>,
}

impl Running {
    fn start(shared: &Arc<Shared>, state: &Arc<ConnectionState>) -> Arc<Running> {
        shared.running.send_modify(|n| *n += 1);
        state.busy.store(true, Ordering::Relaxed);
        Arc::new(Running {
            shared: Arc::clone(shared),
            state: Arc::clone(state),
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.state.busy.store(false, Ordering::Relaxed);
        self.shared.running.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// The limits of one statement: its deadline and the cancel generation it started in.
struct Limits {
    deadline: tokio::time::Instant,
    cancel: watch::Receiver<u64>,
    running: Arc<Running>,
}

impl Limits {
    /// Completes when the statement must stop, saying why.
    fn stop(&self) -> impl Future<Output = Stop> + Send + 'static {
        let deadline = self.deadline;
        let mut cancel = self.cancel.clone();
        async move {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => Stop::TimedOut,
                changed = cancel.changed() => {
                    if changed.is_err() {
                        // the connection is gone: only the deadline is left
                        tokio::time::sleep_until(deadline).await;
                        return Stop::TimedOut;
                    }
                    Stop::Cancelled
                }
            }
        }
    }

    /// Runs `work` (planning, or a statement the server runs itself) within the limits.
    async fn within<T>(&self, work: impl Future<Output = PgWireResult<T>>) -> PgWireResult<T> {
        tokio::select! {
            result = work => result,
            stop = self.stop() => Err(stop.error()),
        }
    }

    /// `response` with its rows sent within the limits: when they are reached the rows stop
    /// with the error.
    fn guard(&self, response: Response) -> Response {
        let Response::Query(mut query) = response else {
            return response;
        };
        let rows = std::mem::replace(&mut query.data_rows, Box::pin(futures::stream::empty()));
        let stop: std::pin::Pin<Box<dyn Future<Output = Stop> + Send>> = Box::pin(self.stop());
        let running = Arc::clone(&self.running);
        let guarded = futures::stream::unfold(Some((rows, stop, running)), |state| async move {
            let (mut rows, mut stop, running) = state?;
            tokio::select! {
                biased;
                why = &mut stop => Some((Err(why.error()), None)),
                row = rows.next() => row.map(|row| (row, Some((rows, stop, running)))),
            }
        });
        query.data_rows = Box::pin(guarded);
        Response::Query(query)
    }
}

impl Session {
    fn limits<C: ClientInfo>(&self, client: &C) -> Limits {
        let limit = self.shared.options.statement_timeout;
        let timeout = client
            .metadata()
            .get(STATEMENT_TIMEOUT_KEY)
            .and_then(|ms| ms.parse::<u64>().ok())
            .map_or(limit, |ms| Duration::from_millis(ms).min(limit));
        let mut cancel = self.state.cancel.subscribe();
        cancel.mark_unchanged();
        Limits {
            deadline: tokio::time::Instant::now() + timeout,
            cancel,
            running: Running::start(&self.shared, &self.state),
        }
    }
}

impl Session {
    /// A statement with parameters among the report's arguments, planned now with its values.
    async fn run_late<C: ClientInfo>(
        &self,
        client: &C,
        portal: &Portal<<Self as ExtendedQueryHandler>::Statement>,
        statement: &datafusion::sql::sqlparser::ast::Statement,
        plan: &datafusion::logical_expr::LogicalPlan,
    ) -> PgWireResult<Response> {
        let mut ids: Vec<(usize, Option<DataType>)> = plan
            .get_parameter_types()
            .map_err(api)?
            .into_iter()
            .filter_map(|(id, t)| Some((id.strip_prefix('$')?.parse::<usize>().ok()?, t)))
            .collect();
        ids.sort_by_key(|(n, _)| *n);
        let inferred: Vec<Option<DataType>> = ids.into_iter().map(|(_, t)| t).collect();
        let wire = inferred
            .iter()
            .map(|t| t.as_ref().map_or(Ok(Type::UNKNOWN), into_pg_type))
            .collect::<PgWireResult<Vec<Type>>>()?;
        let values = deserialize_parameters_with_server_types(
            portal,
            &inferred.iter().map(Option::as_ref).collect::<Vec<_>>(),
            &wire.iter().map(Some).collect::<Vec<_>>(),
        )?;
        let bound = late::bind(statement, &values)?;
        let plan = self
            .ctx
            .state()
            .statement_to_plan(DFStatement::Statement(Box::new(bound)))
            .await
            .and_then(|plan| plan.replace_params_with_values(&values))
            .map_err(api)?;
        let frame = self.ctx.execute_logical_plan(plan).await.map_err(api)?;
        let format = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
        Ok(Response::Query(
            encode_dataframe(frame, &portal.result_column_format, Some(format)).await?,
        ))
    }
}

/// A `COPY ... TO` or `CREATE EXTERNAL TABLE` (or `EXPLAIN` of one), planned and run here
/// with its paths kept inside the data folder; refused on a read-only server.
pub(super) async fn run_file_statement(
    ctx: &SessionContext,
    files: &guard::FileRules,
    statement: DFStatement,
) -> PgWireResult<Response> {
    let name = match &statement {
        DFStatement::CopyTo(_) => "COPY",
        DFStatement::CreateExternalTable(_) => "CREATE EXTERNAL TABLE",
        _ => "EXPLAIN",
    };
    // refused, EXPLAIN of one as well (`EXPLAIN ANALYZE COPY ...` runs the COPY)
    if !files.allow_writes {
        let name = if name == "EXPLAIN" {
            "EXPLAIN of COPY or CREATE EXTERNAL TABLE"
        } else {
            name
        };
        return Err(sql_error(
            "25006",
            format!(
                "{name} is not allowed: the server is read-only (start it with --allow-writes \
                 to write files inside --data or change tables)"
            ),
        ));
    }
    let plan = ctx.state().statement_to_plan(statement).await.map_err(api)?;
    let plan = guard::files_inside(plan, files.data_dir.as_deref())?;
    let frame = ctx.execute_logical_plan(plan).await.map_err(api)?;
    match name {
        "EXPLAIN" => Ok(Response::Query(
            encode_dataframe(frame, &Format::UnifiedText, None).await?,
        )),
        "COPY" => {
            let batches = frame.collect().await.map_err(api)?;
            let rows = batches
                .first()
                .and_then(|b| b.column_by_name("count"))
                .and_then(|c| c.as_any().downcast_ref::<datafusion::arrow::array::UInt64Array>())
                .and_then(|c| (!c.is_empty()).then(|| c.value(0)))
                .unwrap_or(0);
            Ok(Response::Execution(
                Tag::new("COPY").with_rows(usize::try_from(rows).unwrap_or(usize::MAX)),
            ))
        }
        _ => {
            frame.collect().await.map_err(api)?;
            Ok(Response::Execution(Tag::new(name)))
        }
    }
}

/// The statements of a simple query, split where some name files: those the server runs
/// itself, the rest (as text) go to datafusion-postgres. `None` when none names a file (or
/// DataFusion's parser cannot read the text: datafusion-postgres's parser then has its say).
fn split_file_statements(query: &str) -> Option<Vec<Result<DFStatement, String>>> {
    let statements = DFParser::parse_sql_with_dialect(query, &PostgreSqlDialect {}).ok()?;
    if !statements.iter().any(guard::names_files) {
        return None;
    }
    Some(
        statements
            .into_iter()
            .map(|s| {
                if guard::names_files(&s) {
                    Ok(s)
                } else {
                    Err(s.to_string())
                }
            })
            .collect(),
    )
}

#[async_trait]
impl SimpleQueryHandler for Session {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let limits = self.limits(client);
        let responses = match split_file_statements(query) {
            None => {
                limits
                    .within(SimpleQueryHandler::do_query(self.inner.as_ref(), client, query))
                    .await?
            }
            Some(parts) => {
                let mut responses = Vec::new();
                for part in parts {
                    match part {
                        Ok(statement) => {
                            responses.push(
                                limits
                                    .within(run_file_statement(
                                        &self.ctx,
                                        &guard::FileRules::of(&self.shared.options),
                                        statement,
                                    ))
                                    .await?,
                            );
                        }
                        Err(text) => responses.extend(
                            limits
                                .within(SimpleQueryHandler::do_query(self.inner.as_ref(), client, &text))
                                .await?,
                        ),
                    }
                }
                responses
            }
        };
        Ok(responses.into_iter().map(|r| limits.guard(r)).collect())
    }
}

#[async_trait]
impl ExtendedQueryHandler for Session {
    type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.inner.query_parser()
    }

    /// pgwire collects every row of an `Execute` that asks for all of them before it sends
    /// the first; a query's rows are streamed here instead (memory stays bounded, and a client
    /// that goes away stops the query). An `Execute` with a row limit goes to pgwire.
    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let portal = match client.portal_store().get_portal(name) {
            Some(Entry::Value(portal))
                if message.max_rows == 0
                    && matches!(
                        &portal.statement.statement,
                        (_, Some((DfSqlStatement::Query(_), _)))
                    )
                    && matches!(*portal.state.lock().await, PortalExecutionState::Initial) =>
            {
                portal
            }
            _ => return self._on_execute(client, message).await,
        };
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        *portal.state.lock().await = PortalExecutionState::Finished;
        match ExtendedQueryHandler::do_query(self, client, portal.as_ref(), 0).await? {
            Response::Query(mut results) => {
                let mut rows = 0;
                while let Some(row) = results.data_rows.next().await {
                    client.feed(PgWireBackendMessage::DataRow(row?)).await?;
                    rows += 1;
                }
                let tag = Tag::new(&results.command_tag).with_rows(rows);
                client
                    .send(PgWireBackendMessage::CommandComplete(tag.into()))
                    .await?;
            }
            Response::Execution(tag) => send_execution_response(client, tag).await?,
            Response::EmptyQuery => {
                client
                    .feed(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new()))
                    .await?;
            }
            _ => return Err(sql_error("XX000", "unexpected response to a query")),
        }
        client.set_state(PgWireConnectionState::ReadyForQuery);
        Ok(())
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
        let limits = self.limits(client);
        let response = match &portal.statement.statement {
            (sql, Some((statement, plan))) if self.late.contains(sql) => {
                limits
                    .within(self.run_late(client, portal, statement, plan))
                    .await?
            }
            _ => {
                limits
                    .within(ExtendedQueryHandler::do_query(
                        self.inner.as_ref(),
                        client,
                        portal,
                        max_rows,
                    ))
                    .await?
            }
        };
        if max_rows > 0 {
            // Fetched in parts, maybe long after: the limits cover the planning only, and the
            // statement does not count as running between the parts.
            return Ok(response);
        }
        Ok(limits.guard(response))
    }
}

/// `tcp` and a second handle on the same socket, for [`peer_gone`].
pub(super) fn watch_handle(tcp: TcpStream) -> std::io::Result<(TcpStream, std::net::TcpStream)> {
    let socket = tcp.into_std()?;
    let watch = socket.try_clone()?;
    Ok((TcpStream::from_std(socket)?, watch))
}

/// Completes when the client has closed its end of the connection (or reset it), looking
/// every half second without reading: waiting bytes stay for the protocol.
pub(super) async fn peer_gone(socket: std::net::TcpStream, state: &ConnectionState) {
    let mut byte = [0u8; 1];
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let gone = match socket.peek(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
            ),
        };
        if gone {
            // asked now: the statement's guard goes with the connection
            state
                .gone_while_busy
                .store(state.busy.load(Ordering::Relaxed), Ordering::Relaxed);
            return;
        }
    }
}

/// Refuses a connection past `--max-connections` with PostgreSQL's error (SQLSTATE 53300), as
/// PostgreSQL does: after refusing TLS and reading the startup message, so that the client shows
/// the message.
pub(super) async fn refuse_busy(shared: Arc<Shared>, mut tcp: TcpStream) {
    use tokio::io::AsyncReadExt;
    /// The request codes of `SSLRequest` and `GSSENCRequest`.
    const ENCRYPTION_REQUESTS: [u32; 2] = [80_877_103, 80_877_104];
    /// The request code of `CancelRequest`: served even when the server is full, since that is
    /// when a user most wants to stop a query.
    const CANCEL_REQUEST: u32 = 80_877_102;
    let mut body = Vec::new();
    for (field, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "53300"),
        (
            b'M',
            "sorry, too many clients already (the server's --max-connections)",
        ),
    ] {
        body.push(field);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut message = vec![b'E'];
    let length = u32::try_from(body.len() + 4).unwrap_or(u32::MAX);
    message.extend_from_slice(&length.to_be_bytes());
    message.extend_from_slice(&body);
    let refuse = async {
        for _ in 0..3 {
            let length = tcp.read_u32().await?;
            if !(8..=10_000).contains(&length) {
                break;
            }
            let mut rest = vec![0u8; length as usize - 4];
            tcp.read_exact(&mut rest).await?;
            let code = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
            if code == CANCEL_REQUEST && rest.len() >= 12 {
                let pid = i32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]);
                shared.cancels.cancel(&(pid, Bytes::copy_from_slice(&rest[8..])));
                return std::io::Result::Ok(());
            }
            if !ENCRYPTION_REQUESTS.contains(&code) {
                break;
            }
            tcp.write_all(b"N").await?;
        }
        tcp.write_all(&message).await?;
        tcp.shutdown().await?;
        // until the client closes: closing with its bytes unread would reset the connection
        let mut sink = [0u8; 512];
        while tcp.read(&mut sink).await? > 0 {}
        std::io::Result::Ok(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), refuse).await;
}
