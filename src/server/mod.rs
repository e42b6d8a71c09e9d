//! The report over the PostgreSQL wire protocol (feature `server`; the binary's `serve` command),
//! built on [`datafusion_postgres`] and [`pgwire`](datafusion_postgres::pgwire).
//!
//! [`Server::bind`] takes a session with everything registered (the tables, [`crate::register`])
//! and serves it to psql, BI tools and drivers. Each connection gets a session of its own, made
//! from that one: the same tables, functions and settings, its own `SET` values, its own memory
//! pool of [`ServerOptions::memory_limit`] bytes. Safe to expose:
//!
//! - loopback by default; another address needs users ([`ServerOptions::users`], SCRAM-SHA-256)
//!   and TLS ([`ServerOptions::tls`]) unless [`ServerOptions::insecure`];
//! - read-only unless [`ServerOptions::allow_writes`]; even then files are read and written only
//!   inside [`ServerOptions::data_dir`];
//! - bounded: connections, memory per query, a statement timeout; a cancel request or a client
//!   that goes away cancels its query;
//! - a failed login or garbage on the socket closes that connection only, with one log line.
//!
//! [`Server::run`] serves until its `shutdown` future completes, then stops accepting, lets
//! running queries finish for [`ServerOptions::shutdown_grace`] and returns.

mod auth;
mod guard;
mod late;
mod session;
mod tls;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
use datafusion::execution::session_state::SessionState;
use datafusion::prelude::SessionContext;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use datafusion_postgres::pgwire::tokio::TlsAcceptor;
use futures::FutureExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

pub use auth::Users;
pub use guard::{format_duration, parse_timeout};

/// How [`Server`] listens and what it allows.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Address and port to listen on (`127.0.0.1:5432`).
    pub listen: SocketAddr,
    /// The users and passwords clients log in with (SCRAM-SHA-256); `None`: any user name, no
    /// password (loopback only).
    pub users: Option<Users>,
    /// The certificate chain and private key (PEM files) for TLS.
    pub tls: Option<TlsFiles>,
    /// Allow a non-loopback address without TLS.
    pub insecure: bool,
    /// Allow statements that write files or change the catalog.
    pub allow_writes: bool,
    /// The folder whose files the tables come from: the only place `COPY ... TO` and `CREATE
    /// EXTERNAL TABLE` may touch (relative paths are taken from it). `None`: no file access.
    pub data_dir: Option<PathBuf>,
    /// Connections served at once; more are refused with SQLSTATE 53300.
    pub max_connections: usize,
    /// The longest a statement may run (planning, execution and sending its rows); a client may
    /// `SET statement_timeout` lower, not higher.
    pub statement_timeout: Duration,
    /// Memory for each connection's queries (sorts, joins and aggregates spill past it).
    pub memory_limit: usize,
    /// How long running queries may go on after the shutdown signal.
    pub shutdown_grace: Duration,
    /// How long a new connection may take to log in (a client that connects and says nothing
    /// is closed after it).
    pub login_timeout: Duration,
}

/// PEM files for TLS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl ServerOptions {
    /// The default port, PostgreSQL's.
    pub const DEFAULT_PORT: u16 = 5432;
    /// The default [`ServerOptions::max_connections`].
    pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
    /// The default [`ServerOptions::statement_timeout`]: 5 minutes.
    pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_mins(5);
    /// The default [`ServerOptions::memory_limit`]: 1 GiB per connection.
    pub const DEFAULT_MEMORY_LIMIT: usize = 1 << 30;

    /// Options with the defaults: `127.0.0.1:5432`, no users, no TLS, read-only, no data folder.
    pub fn new() -> ServerOptions {
        ServerOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], Self::DEFAULT_PORT)),
            users: None,
            tls: None,
            insecure: false,
            allow_writes: false,
            data_dir: None,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            statement_timeout: Self::DEFAULT_STATEMENT_TIMEOUT,
            memory_limit: Self::DEFAULT_MEMORY_LIMIT,
            shutdown_grace: Duration::from_secs(5),
            login_timeout: Duration::from_secs(10),
        }
    }

    /// Whether these options are safe to serve with: another address than loopback needs users
    /// and, unless [`ServerOptions::insecure`], TLS. The message says what to add.
    pub fn check(&self) -> std::result::Result<(), String> {
        let address = self.listen;
        if !address.ip().is_loopback() {
            if self.users.is_none() {
                return Err(format!(
                    "listening on {address} needs authentication: give --password-file FILE or \
                     set AGENT_REFUSAL_PASSWORDS (user:password pairs); without them only \
                     loopback (127.0.0.1) is served"
                ));
            }
            if self.tls.is_none() && !self.insecure {
                return Err(format!(
                    "listening on {address} needs TLS: give --tls-cert and --tls-key (PEM files), \
                     or --insecure to send passwords and data unencrypted"
                ));
            }
        }
        if self.max_connections == 0 {
            return Err("--max-connections must be at least 1".to_string());
        }
        if self.statement_timeout.is_zero() {
            return Err("--statement-timeout must be longer than 0".to_string());
        }
        Ok(())
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions::new()
    }
}

/// Where the server's log lines go (one line per event).
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// A server bound to its address, ready to [`Server::run`].
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

/// What every connection shares.
struct Shared {
    /// The session every connection's own session is made from.
    base: SessionState,
    options: ServerOptions,
    tls: Option<TlsAcceptor>,
    users: Option<Arc<auth::UserStore>>,
    log: Log,
    /// Cancel requests find a connection's query here.
    cancels: session::CancelRegistry,
    /// The statements running now.
    running: watch::Sender<usize>,
}

impl Server {
    /// Checks `options` ([`ServerOptions::check`]), loads the TLS files, adds PostgreSQL's
    /// `pg_catalog` to `ctx` (what psql's `\d` and BI tools read) and binds the address.
    pub async fn bind(ctx: SessionContext, mut options: ServerOptions, log: Log) -> Result<Server> {
        options.check().map_err(DataFusionError::Configuration)?;
        let tls = match &options.tls {
            Some(files) => Some(tls::acceptor(files)?),
            None => None,
        };
        // Only the salted passwords stay in memory.
        let users = options
            .users
            .take()
            .map(|users| Arc::new(auth::UserStore::new(&users)));
        setup_pg_catalog(&ctx, "datafusion", EmptyContextProvider)
            .map_err(|e| e.context("cannot add pg_catalog to the session"))?;
        let listener = TcpListener::bind(options.listen).await.map_err(|e| {
            DataFusionError::IoError(e).context(format!("cannot listen on {}", options.listen))
        })?;
        let (running, _) = watch::channel(0);
        Ok(Server {
            listener,
            shared: Arc::new(Shared {
                base: ctx.state(),
                options,
                tls,
                users,
                log,
                cancels: session::CancelRegistry::default(),
                running,
            }),
        })
    }

    /// The address the server listens on (the port chosen when port 0 was asked for).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener.local_addr().map_err(DataFusionError::IoError)
    }

    /// Serves until `shutdown` completes; then stops accepting connections, waits up to
    /// [`ServerOptions::shutdown_grace`] for running queries and closes every connection.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let Server { listener, shared } = self;
        let limiter = Arc::new(Semaphore::new(shared.options.max_connections));
        let mut connections = JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        if let Ok(permit) = Arc::clone(&limiter).try_acquire_owned() {
                            connections.spawn(serve_connection(Arc::clone(&shared), tcp, peer, permit));
                        } else {
                            (shared.log)(&format!(
                                "{peer}: refused: {} connections already (--max-connections)",
                                shared.options.max_connections
                            ));
                            connections.spawn(session::refuse_busy(Arc::clone(&shared), tcp));
                        }
                    }
                    Err(e) => {
                        // Out of file descriptors, or a connection reset before it was accepted:
                        // the server goes on.
                        (shared.log)(&format!("cannot accept a connection: {e}"));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        let mut running = shared.running.subscribe();
        let queries = *running.borrow_and_update();
        if queries > 0 {
            let grace = shared.options.shutdown_grace;
            (shared.log)(&format!(
                "stopping: no new connections; waiting up to {} s for {queries} running {}",
                grace.as_secs_f64(),
                if queries == 1 { "query" } else { "queries" }
            ));
            let finished = tokio::time::timeout(grace, running.wait_for(|n| *n == 0)).await;
            if finished.is_err() {
                (shared.log)("stopping: queries still running were cancelled");
            }
            // A statement that just ended may still be sending its last messages.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        connections.abort_all();
        while connections.join_next().await.is_some() {}
        (shared.log)("stopped");
        Ok(())
    }
}

impl Shared {
    /// A session of its own for a new connection: the base session's tables, functions and
    /// settings, with a memory pool of its own.
    fn connection_context(&self, id: u64) -> SessionContext {
        let mut runtime = self.base.runtime_env().as_ref().clone();
        let top_consumers = NonZeroUsize::MIN.saturating_add(4);
        runtime.memory_pool = Arc::new(TrackConsumersPool::new(
            GreedyMemoryPool::new(self.options.memory_limit),
            top_consumers,
        ));
        let state = SessionStateBuilder::new_from_existing(self.base.clone())
            .with_runtime_env(Arc::new(runtime))
            .with_session_id(format!("agent-refusal-serve-{id}"))
            .build();
        SessionContext::new_with_state(state)
    }
}

/// What is said of a connection whose handling panicked.
const PANICKED: &str = "a malformed message broke the protocol library; connection closed";

/// Serves one connection until it ends, the client goes away, or the server stops.
async fn serve_connection(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
) {
    // A second handle on the socket, only to notice a client that is gone while its query runs
    // (nothing reads the socket then).
    let (tcp, watch) = match session::watch_handle(tcp) {
        Ok(pair) => pair,
        Err(e) => {
            (shared.log)(&format!("{peer}: cannot serve: {e}"));
            return;
        }
    };
    let connection = session::Connection::new(&shared, peer);
    let state = connection.state();
    let tls = shared.tls.clone();
    // pgwire can panic on a malformed message: that closes this connection only.
    let served = std::panic::AssertUnwindSafe(datafusion_postgres::pgwire::tokio::process_socket(
        tcp, tls, connection,
    ))
    .catch_unwind();
    let outcome = tokio::select! {
        served = served => match served {
            Ok(served) => served.err().map(|e| e.to_string()),
            Err(_) => Some(PANICKED.to_string()),
        },
        () = session::peer_gone(watch, &state) => Some("the client went away".to_string()),
        () = state.login_expired(shared.options.login_timeout) => Some(format!(
            "no login within {} s", shared.options.login_timeout.as_secs_f64()
        )),
    };
    state.finish(&shared, peer, outcome.as_deref());
}
