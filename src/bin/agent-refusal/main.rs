//! `agent-refusal`: the Agent Refusal report from the command line. A thin layer over the library:
//! [`args`] parses and validates, this file opens the session and runs the command.

mod alloc;
mod args;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use agent_refusal::export::{self, ExportFormat, ExportOptions, Progress};
use agent_refusal::report::{ReportRange, ReportRequest};
use agent_refusal::shell::{self, Shell};
use agent_refusal::sources::{self, demo};
use anyhow::{Context, Result};
use clap::{CommandFactory, FromArgMatches};
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::SessionContext;
use datafusion_cli::print_format::PrintFormat;

use crate::args::{Cli, Command, DataArgs, ReportArgs, ServeArgs, SqlArgs, SqlFormat};

/// A mistake in the command line found after parsing: exit status 2, like clap's own.
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

fn usage(message: &str) -> anyhow::Error {
    Usage(message.to_string()).into()
}

/// Writes `agent-refusal: MESSAGE` on stderr; a closed stderr is not worth a panic.
fn say(message: &str) {
    let _ = writeln!(std::io::stderr(), "agent-refusal: {message}");
}

fn main() -> ExitCode {
    alloc::tune();
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(e) => return usage_error(&e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    // The order of -c and -f as given on the command line.
    let sql_order = matches.subcommand_matches("sql").map(|m| {
        let mut order: Vec<(usize, bool)> = Vec::new();
        order.extend(m.indices_of("command").into_iter().flatten().map(|i| (i, true)));
        order.extend(m.indices_of("file").into_iter().flatten().map(|i| (i, false)));
        order.sort_unstable();
        order
            .into_iter()
            .map(|(_, is_command)| is_command)
            .collect::<Vec<_>>()
    });
    // Planning recurses over a statement's tree: a deeply nested statement needs a deep stack,
    // on the thread that plans and on the runtime's workers.
    let main = std::thread::Builder::new()
        .name("agent-refusal".to_string())
        .stack_size(STACK_SIZE)
        .spawn(move || run_command(cli, sql_order.unwrap_or_default()));
    match main.map(std::thread::JoinHandle::join) {
        Ok(Ok(code)) => code,
        Ok(Err(_)) => ExitCode::from(101), // a panic, already reported by the hook
        Err(e) => fail(&anyhow::Error::from(e)),
    }
}

/// The stack of the threads that plan and run queries.
const STACK_SIZE: usize = 256 << 20;

/// Runs the command on a runtime of its own, stopping it at a signal.
fn run_command(cli: Cli, sql_order: Vec<bool>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(STACK_SIZE)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::Error::from(e)),
    };
    // The server stops on a signal by itself: it lets running queries finish, then exits 0.
    if let Some(Command::Serve(_)) = &cli.command {
        let Cli {
            command: Some(Command::Serve(mut args)),
            data,
        } = cli
        else {
            return ExitCode::FAILURE;
        };
        args.data = args.data.or(data);
        let outcome = runtime.block_on(serve(args));
        runtime.shutdown_timeout(std::time::Duration::from_millis(500));
        return match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => match e.downcast_ref::<Usage>() {
                Some(Usage(message)) => {
                    say(&format!("error: {message}"));
                    ExitCode::from(2)
                }
                None => fail(&e),
            },
        };
    }
    // The interactive shell handles Ctrl-C itself: it cancels the query and goes on.
    let shell_owns_ctrl_c =
        cli.command.as_ref().is_none_or(|c| matches!(c, Command::Repl(_))) && std::io::stdin().is_terminal();
    let outcome = runtime.block_on(async {
        let (signals, watchdog) = match (
            Signals::listen(!shell_owns_ctrl_c),
            Signals::listen(!shell_owns_ctrl_c),
        ) {
            (Ok(signals), Ok(watchdog)) => (signals, watchdog),
            (Err(e), _) | (_, Err(e)) => return Err(anyhow::Error::from(e)),
        };
        // The command is dropped at a signal only where it awaits: one blocked in a system call
        // (the shell waiting at its prompt, a write to a stalled pipe) would never see it. Then,
        // after a grace period, the process ends as the signal's default action would.
        let grace = std::time::Duration::from_secs(2);
        tokio::spawn(async move {
            let signal = watchdog.recv().await;
            tokio::time::sleep(grace).await;
            let writing = export::remove_unfinished_files();
            say(&stopped_line(signal, writing));
            std::process::exit(128 + i32::from(signal.number()));
        });
        // Dropping the command at a signal drops what it was writing: a file export's temporary
        // file is removed and the target keeps its content.
        tokio::select! {
            result = run(cli, sql_order) => result,
            // asked as the signal arrives, while the command (and any file it writes) is alive
            (signal, writing) = async { (signals.recv().await, export::writing_files()) } => {
                Err(Stopped(signal, writing).into())
            }
        }
    });
    // A blocking task still running (a workbook being saved) is not waited for.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(Usage(message)) = e.downcast_ref::<Usage>() {
                say(&format!("error: {message}"));
                ExitCode::from(2)
            } else if let Some(Stopped(signal, writing)) = e.downcast_ref::<Stopped>() {
                say(&stopped_line(*signal, *writing));
                ExitCode::from(128 + signal.number())
            } else {
                fail(&e)
            }
        }
    }
}

/// A signal that stops the program.
#[derive(Debug, Clone, Copy)]
enum Signal {
    Interrupt,
    Terminate,
    HangUp,
}

impl Signal {
    fn number(self) -> u8 {
        match self {
            Signal::HangUp => 1,
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signal::Interrupt => "SIGINT (Ctrl-C)",
            Signal::Terminate => "SIGTERM",
            Signal::HangUp => "SIGHUP",
        })
    }
}

/// The line said when a signal stops the program; `writing` when it was writing files.
fn stopped_line(signal: Signal, writing: bool) -> String {
    if writing {
        format!("stopped by {signal}: the file being written was removed, an existing file is unchanged")
    } else {
        format!("stopped by {signal}")
    }
}

/// The command was stopped by a signal (while writing files, or not).
#[derive(Debug)]
struct Stopped(Signal, bool);

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stopped by {}", self.0)
    }
}

impl std::error::Error for Stopped {}

/// The stopping signals, listened to from the start.
struct Signals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: tokio::signal::unix::Signal,
    hang_up: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen(interrupt: bool) -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: if interrupt {
                Some(signal(SignalKind::interrupt())?)
            } else {
                None
            },
            terminate: signal(SignalKind::terminate())?,
            hang_up: signal(SignalKind::hangup())?,
        })
    }

    async fn recv(mut self) -> Signal {
        let interrupt = async {
            match &mut self.interrupt {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = interrupt => Signal::Interrupt,
            _ = self.terminate.recv() => Signal::Terminate,
            _ = self.hang_up.recv() => Signal::HangUp,
        }
    }
}

async fn run(cli: Cli, sql_order: Vec<bool>) -> Result<()> {
    let outer = cli.data;
    match cli.command {
        None => repl(outer).await,
        Some(Command::Repl(data)) => repl(data.or(outer)).await,
        Some(Command::Report(mut args)) => {
            args.data = args.data.or(outer);
            report(args).await
        }
        Some(Command::Sql(mut args)) => {
            args.data = args.data.or(outer);
            sql(args, sql_order).await
        }
        // run by `run_command` itself
        Some(Command::Serve(_)) => Err(usage("serve cannot run here")),
        Some(Command::DemoData(args)) => {
            if outer.data.is_some() || outer.memory_limit.is_some() || !outer.order.is_empty() {
                return Err(usage(
                    "demo-data reads no data: --data, --memory-limit and --order do not apply",
                ));
            }
            for path in demo::write_demo(&args.output, args.scale, args.format.into())? {
                say(&format!("wrote {}", path.display()));
            }
            Ok(())
        }
    }
}

/// The session over `--data` (or the demo data) with `--memory-limit` and `--order` applied:
/// [`agent_refusal::session_config`] and everything registered.
async fn open(data: &DataArgs) -> Result<SessionContext> {
    if data.data.is_none() && !data.order.is_empty() {
        return Err(usage(
            "--order needs --data: the built-in demo data's order is fixed",
        ));
    }
    let memory_limit = data.memory_limit.unwrap_or(DataArgs::DEFAULT_MEMORY_LIMIT);
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(memory_limit, 1.0)
        .build_arc()?;
    let ctx = SessionContext::new_with_config_rt(agent_refusal::session_config(), runtime);
    agent_refusal::register(&ctx)?;
    match &data.data {
        Some(dir) => {
            sources::register_data_dir(&ctx, dir, &data.order).await?;
        }
        None => demo::register_demo(&ctx, 1)?,
    }
    Ok(ctx)
}

/// What the built-in demo data is, for the notes that say it is used.
fn demo_description() -> String {
    format!(
        "the built-in demo data ({} to {}, New York business hours)",
        demo::FIRST_DAY,
        demo::LAST_DAY
    )
}

/// Says on stderr that the built-in demo data is used, when no `--data` was given.
fn note_demo(data: &DataArgs) {
    if data.data.is_none() {
        say(&format!("no --data given, using {}", demo_description()));
    }
}

async fn report(args: ReportArgs) -> Result<()> {
    let range = match (args.range, args.from, args.to) {
        (Some(preset), _, _) => ReportRange::Preset(preset),
        (None, Some(from), Some(to)) => ReportRange::Dates {
            from,
            to,
            start_time: args.start_time,
            end_time: args.end_time,
        },
        // clap requires both dates unless --range is given
        _ => return Err(usage("give --from and --to, or --range")),
    };
    let request = ReportRequest {
        range,
        zone: args.time_zone,
        ignore_dst: Some(args.ignore_dst),
    };
    let to_stdout = args.output == "-";
    let file = (!to_stdout).then(|| Path::new(&args.output));
    let format = ExportFormat::choose(file, args.format).map_err(|(given, implied)| {
        usage(&format!(
            "--format {} contradicts --output '{}', a .{} file: change one of them",
            given.name(),
            args.output,
            implied.name()
        ))
    })?;
    if to_stdout && !format.is_text() {
        return Err(usage(&format!(
            "{} is a binary format: give --output FILE",
            format.name()
        )));
    }
    if to_stdout && args.append_date {
        return Err(usage("--append-date needs --output FILE"));
    }
    // The CLI's session sets no zone or DST setting, so the request resolves the same before the
    // session exists: an impossible window is a usage error, found before any data is read.
    let resolved = request
        .resolve(agent_refusal::session_config().options(), chrono::Utc::now())
        .map_err(|e| usage(&args::library_message(&e)))?;
    let ctx = open(&args.data).await?;
    note_demo(&args.data);
    let mut path = PathBuf::from(&args.output);
    if args.append_date {
        path = export::append_date(&path, resolved.run_date);
    }
    if !to_stdout {
        export::target::refuse_inputs(ctx.state().catalog_list().as_ref(), &path).await?;
    }
    let stream = resolved.dataframe(&ctx)?.execute_stream().await?;
    let options = ExportOptions::new(format)
        .with_headers(!args.no_headers)
        .with_excel_safe(args.excel_safe);
    if to_stdout {
        let out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
        export::write_stream(stream, out, options).await?;
        return Ok(());
    }
    let options = match ProgressLine::on_terminal() {
        Some(line) => options.with_progress(Arc::new(line)),
        None => options,
    };
    let rows = export::write_file(stream, &path, options).await?;
    say(&format!("wrote {rows} rows to {}", path.display()));
    Ok(())
}

/// The progress line of a file export: rows written and their rate, on stderr when it is a
/// terminal.
struct ProgressLine {
    bar: indicatif::ProgressBar,
    started: std::time::Instant,
}

impl ProgressLine {
    fn on_terminal() -> Option<ProgressLine> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{spinner} {human_pos} rows written ({msg}, {elapsed})")
        {
            bar.set_style(style);
        }
        Some(ProgressLine {
            bar,
            started: std::time::Instant::now(),
        })
    }
}

impl Progress for ProgressLine {
    fn rows_written(&self, rows: u64) {
        self.bar.set_position(rows);
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let rate = (rows as f64 / seconds) as u64;
        self.bar
            .set_message(format!("{} rows/s", indicatif::HumanCount(rate)));
    }

    fn finished(&self) {
        self.bar.finish_and_clear();
    }
}

async fn sql(args: SqlArgs, order: Vec<bool>) -> Result<()> {
    let (mut commands, mut files) = (args.command.into_iter(), args.file.into_iter());
    let mut scripts = Vec::new();
    for is_command in order {
        if is_command {
            scripts.extend(commands.next());
        } else if let Some(file) = files.next() {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read SQL file '{}'", file.display()))?;
            scripts.push(text);
        }
    }
    let format = match args.format {
        SqlFormat::Table => PrintFormat::Table,
        SqlFormat::Csv => PrintFormat::Csv,
        SqlFormat::Tsv => PrintFormat::Tsv,
        SqlFormat::Json => PrintFormat::Json,
        SqlFormat::Ndjson => PrintFormat::NdJson,
    };
    let ctx = open(&args.data).await?;
    note_demo(&args.data);
    let mut shell = Shell::new(ctx, format);
    for script in scripts {
        shell.execute_sql(&script).await?;
    }
    std::io::stdout().flush()?;
    Ok(())
}

/// `serve`: the session over `--data` (or the demo data) over the PostgreSQL protocol, until
/// SIGINT, SIGTERM or SIGHUP.
/// The server's options from `serve`'s arguments and `AGENT_REFUSAL_PASSWORDS`: a usage error
/// (exit status 2) when they are bad or unsafe.
fn server_options(args: &ServeArgs) -> Result<agent_refusal::server::ServerOptions> {
    use agent_refusal::server::{ServerOptions, TlsFiles, Users};
    const PASSWORDS_VARIABLE: &str = "AGENT_REFUSAL_PASSWORDS";
    let users = match &args.password_file {
        Some(file) => Some(Users::from_file(file).map_err(|e| usage(&args::library_message(&e)))?),
        None => match std::env::var(PASSWORDS_VARIABLE) {
            Ok(text) => Some(
                Users::parse(&text, &format!("the variable {PASSWORDS_VARIABLE}"), true)
                    .map_err(|e| usage(&args::library_message(&e)))?,
            ),
            Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(usage(&format!("{PASSWORDS_VARIABLE} is not UTF-8 text")));
            }
        },
    };
    let options = ServerOptions {
        listen: args.listen,
        users,
        tls: args
            .tls_cert
            .clone()
            .zip(args.tls_key.clone())
            .map(|(cert, key)| TlsFiles { cert, key }),
        insecure: args.insecure,
        allow_writes: args.allow_writes,
        data_dir: args.data.data.clone(),
        max_connections: args.max_connections as usize,
        statement_timeout: args.statement_timeout,
        memory_limit: args
            .data
            .memory_limit
            .unwrap_or(ServerOptions::DEFAULT_MEMORY_LIMIT),
        ..ServerOptions::new()
    };
    options.check().map_err(|message| usage(&message))?;
    Ok(options)
}

async fn serve(args: ServeArgs) -> Result<()> {
    use agent_refusal::server::Server;
    let options = server_options(&args)?;
    let mut data = args.data;
    data.memory_limit = Some(options.memory_limit);
    let ctx = open(&data).await?;
    let log: agent_refusal::server::Log = Arc::new(|line: &str| say(line));
    // A panic in a connection's task (the protocol library on a malformed message) closes that
    // connection and is logged by the server: one line here, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        say(&format!(
            "internal error{place}: {}",
            panic_message(info.payload())
        ));
    }));
    let login = match &options.users {
        Some(users) => format!(
            "users {} with passwords (SCRAM-SHA-256)",
            users.names().join(", ")
        ),
        None => "any user, no password".to_string(),
    };
    let user = options
        .users
        .as_ref()
        .and_then(|u| u.names().first().map(|n| format!(" -U {n}")))
        .unwrap_or_default();
    let rules = [
        login.as_str(),
        if options.tls.is_some() { "TLS" } else { "no TLS" },
        if options.allow_writes {
            "writes allowed inside --data"
        } else {
            "read-only"
        },
    ];
    // The options go to the server, which keeps only the passwords' salted hashes.
    let server = Server::bind(ctx, options, log).await?;
    let address = server.local_addr()?;
    let source = match &data.data {
        Some(dir) => format!("'{}'", dir.display()),
        None => demo_description(),
    };
    // listening before the startup line: a signal right after it stops the server as well
    let signals = Signals::listen(true);
    let host = address.ip();
    say(&format!(
        "serving {source} over the PostgreSQL protocol on {address} ({}); connect with: psql -h {host} -p {}{user}",
        rules.join(", "),
        address.port()
    ));
    let shutdown = async {
        match signals {
            Ok(signals) => {
                let signal = signals.recv().await;
                say(&format!("{signal}: stopping"));
            }
            Err(e) => {
                say(&format!(
                    "cannot listen for signals ({e}); stop the server with SIGKILL"
                ));
                std::future::pending::<()>().await;
            }
        }
    };
    server.run(shutdown).await?;
    Ok(())
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_string()
    }
    .lines()
    .next()
    .unwrap_or_default()
    .to_string()
}

async fn repl(data: DataArgs) -> Result<()> {
    let interactive = std::io::stdin().is_terminal();
    let ctx = open(&data).await?;
    if !interactive {
        note_demo(&data);
    }
    let mut shell = Shell::new(ctx, PrintFormat::Table);
    if !interactive {
        shell.run_script(std::io::stdin().lock()).await?;
        std::io::stdout().flush()?;
        return Ok(());
    }
    let source = match &data.data {
        Some(dir) => format!("{} ({})", dir.display(), shell.table_names().join(", ")),
        None => demo_description(),
    };
    println!(
        "agent-refusal {} - SQL shell over {source}.",
        env!("CARGO_PKG_VERSION")
    );
    println!(
        "Try: SELECT * FROM agent_refusal('2026-03-09', '2026-03-13', '00:00', '23:59', 'America/New_York') LIMIT 5;"
    );
    println!("\\d lists tables, \\? shows help, \\q quits.");
    shell.repl().await?;
    Ok(())
}

/// Help and version go to stdout as clap prints them; a usage error becomes one line on stderr.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.to_string();
    let line = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information") && !l.starts_with("Usage:"))
        .collect::<Vec<_>>()
        .join(" ");
    say(&line);
    ExitCode::from(2)
}

/// Prints one line naming the error and its cause, and returns the failure exit code.
fn fail(e: &anyhow::Error) -> ExitCode {
    let message = match e.downcast_ref::<DataFusionError>() {
        Some(df) => shell::error_line(df),
        None => format!("{e:#}"),
    };
    let line = message.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    say(&format!("error: {line}"));
    ExitCode::FAILURE
}

/// Whether the error comes from writing to a closed pipe (`agent-refusal report | head`): its
/// chain of sources holds an I/O error of that kind.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            // arrow's CSV writer (`sql --format csv`) keeps only the I/O error's text
            || cause.to_string().ends_with("Broken pipe (os error 32)")
    })
}
