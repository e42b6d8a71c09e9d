//! `agent-refusal`: the Agent Refusal report from the command line. A thin layer over the library.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use agent_refusal::export::{self, ExportFormat, ExportOptions};
use agent_refusal::shell::{self, Shell};
use agent_refusal::zone::Zone;
use agent_refusal::{ReportRange, demo, quote, session};
use anyhow::{Context, Result, bail};
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use datafusion::error::DataFusionError;
use datafusion_cli::print_format::PrintFormat;

/// mimalloc (as datafusion-cli uses): it backs large buffers with transparent huge pages, which
/// makes the report's big, short-lived join tables cheap to fault in (`benches/scale.rs`: a month
/// took 0.80 s with the system allocator and 0.54 s with mimalloc).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its C enum value; the Rust binding names no constant).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc 3 keeps freed memory for a second before it returns it to the system. The report frees
/// its large join and aggregate tables while it runs, and a second later the year's peak has
/// passed: return memory after 10 ms (mimalloc 2's default), unless `MIMALLOC_PURGE_DELAY` says
/// otherwise. Measured on the year (`benches/scale.rs`): peak 1.29 GB with the default, 0.97 GB.
fn tune_allocator() {
    // SAFETY: called first thing in `main`, before any other thread exists (mimalloc's option
    // setters are not thread safe); the option index and value are valid.
    unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, 10) }
}

/// NICE CXone's Agent Refusal report as plain SQL, on Apache DataFusion.
///
/// With no command, opens the interactive SQL shell (or runs the SQL piped to it).
#[derive(Parser, Debug)]
#[command(name = "agent-refusal", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    data: DataArg,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Open the interactive SQL shell (the default); reads SQL from stdin when it is not a terminal.
    Repl(DataArg),
    /// Run the Agent Refusal report and export it (CXone's CSV by default, to stdout).
    Report(ReportArgs),
    /// Run SQL statements (-c and -f, in the order given) and print their results.
    Sql(SqlArgs),
    /// Write the built-in demo data set to a folder.
    DemoData(DemoArgs),
}

#[derive(clap::Args, Debug)]
struct DataArg {
    /// Folder whose NAME.csv/.parquet/.json/.ndjson files and NAME/ folders become tables
    /// (default: the built-in demo data).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Memory for queries (such as 2G or 512M); sorts and aggregates past it spill to disk.
    #[arg(long, value_name = "SIZE", default_value = DEFAULT_MEMORY_LIMIT)]
    memory_limit: String,
    /// Declare that each file of a --data table is sorted by these columns (ascending), like
    /// SQL's WITH ORDER. `--order refusals=refuse_time` lets the report skip its full sort.
    #[arg(long, value_name = "TABLE=COLUMN[,COLUMN...]")]
    order: Vec<agent_refusal::data::TableOrder>,
}

/// The default `--memory-limit`.
const DEFAULT_MEMORY_LIMIT: &str = "4G";

#[derive(clap::Args, Debug)]
struct ReportArgs {
    /// First day of the report (YYYY-MM-DD).
    #[arg(
        long,
        value_name = "DATE",
        required_unless_present = "range",
        conflicts_with = "range"
    )]
    from: Option<String>,
    /// Last day of the report (YYYY-MM-DD), inclusive.
    #[arg(
        long,
        value_name = "DATE",
        required_unless_present = "range",
        conflicts_with = "range"
    )]
    to: Option<String>,
    /// Start time on the first day (HH:MM or HH:MM:SS).
    #[arg(long, value_name = "TIME", default_value = "00:00")]
    start_time: String,
    /// End time on the last day, inclusive to the minute (HH:MM) or second (HH:MM:SS).
    #[arg(long, value_name = "TIME", default_value = "23:59")]
    end_time: String,
    /// A date range preset: today, yesterday, "last 7 days", "last 30 days", "previous week",
    /// "previous month", "month to date".
    #[arg(long, value_name = "PRESET")]
    range: Option<String>,
    /// Time zone of the report: an IANA name (America/New_York) or an offset (+05:30). Default UTC.
    #[arg(long, value_name = "TZ")]
    time_zone: Option<String>,
    /// Use the zone's standard offset all year, as CXone does.
    #[arg(long)]
    ignore_dst: bool,
    /// Export format: CXone's csv, tab and xml; xlsx; parquet, json and ndjson (all columns, typed).
    #[arg(long, default_value = "csv", value_parser = export_format_parser())]
    format: ExportFormat,
    /// Leave out the header row (csv, tab, xlsx).
    #[arg(long)]
    no_headers: bool,
    /// Put _YYYYMMDD (today in the report's zone) before the output file's extension.
    #[arg(long)]
    append_date: bool,
    #[command(flatten)]
    data: DataArg,
    /// Output file, or - for stdout (the default).
    #[arg(long, short, value_name = "PATH", default_value = "-")]
    output: String,
}

#[derive(clap::Args, Debug)]
struct SqlArgs {
    #[command(flatten)]
    data: DataArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SqlFormat::Table)]
    format: SqlFormat,
    /// SQL to run (repeatable).
    #[arg(short = 'c', long = "command", value_name = "SQL", action = ArgAction::Append)]
    command: Vec<String>,
    /// File of SQL statements to run (repeatable).
    #[arg(short = 'f', long = "file", value_name = "FILE", action = ArgAction::Append)]
    file: Vec<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum SqlFormat {
    Table,
    Csv,
    Tsv,
    Json,
    Ndjson,
}

#[derive(clap::Args, Debug)]
struct DemoArgs {
    /// Folder to write the tables to (created if missing).
    #[arg(long, value_name = "DIR")]
    output: PathBuf,
    /// Size multiplier (1: 60 agents, about 6,000 refusals).
    #[arg(long, default_value_t = 1)]
    scale: u32,
    /// File format.
    #[arg(long, value_enum, default_value_t = DemoFormatArg::Parquet)]
    format: DemoFormatArg,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum DemoFormatArg {
    Parquet,
    Csv,
}

/// `--format`'s parser: the export formats by name, listed in `--help`.
fn export_format_parser() -> impl clap::builder::TypedValueParser<Value = ExportFormat> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(ExportFormat::ALL.map(ExportFormat::name))
        .try_map(|name: String| ExportFormat::parse(&name).map_err(|e| e.to_string()))
}

fn main() -> ExitCode {
    tune_allocator();
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(e) => return usage_error(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    // The order of -c and -f as given on the command line.
    let sql_order = matches.subcommand_matches("sql").map(|m| {
        let mut order: Vec<(usize, bool)> = Vec::new();
        order.extend(m.indices_of("command").into_iter().flatten().map(|i| (i, true)));
        order.extend(m.indices_of("file").into_iter().flatten().map(|i| (i, false)));
        order.sort();
        order
            .into_iter()
            .map(|(_, is_command)| is_command)
            .collect::<Vec<_>>()
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::Error::from(e)),
    };
    match runtime.block_on(run(cli, sql_order.unwrap_or_default())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

async fn run(cli: Cli, sql_order: Vec<bool>) -> Result<()> {
    match cli.command {
        None => repl(cli.data).await,
        Some(Command::Repl(data)) => repl(data).await,
        Some(Command::Report(args)) => report(args).await,
        Some(Command::Sql(args)) => sql(args, sql_order).await,
        Some(Command::DemoData(args)) => {
            let format = match args.format {
                DemoFormatArg::Parquet => demo::DemoFormat::Parquet,
                DemoFormatArg::Csv => demo::DemoFormat::Csv,
            };
            for path in demo::write_demo(&args.output, args.scale, format)? {
                eprintln!("wrote {}", path.display());
            }
            Ok(())
        }
    }
}

/// The session over `--data` (or the demo data, said on stderr) with `--memory-limit` applied.
async fn open(data: &DataArg) -> Result<datafusion::prelude::SessionContext> {
    let ctx = quiet_open(data).await?;
    if data.data.is_none() {
        eprintln!(
            "agent-refusal: no --data given, using the built-in demo data ({} to {}, New York business hours)",
            demo::FIRST_DAY,
            demo::LAST_DAY
        );
    }
    Ok(ctx)
}

/// [`open`] without the note on stderr.
async fn quiet_open(data: &DataArg) -> Result<datafusion::prelude::SessionContext> {
    let ctx = session(data.data.as_deref(), &data.order).await?;
    ctx.sql(&format!(
        "SET datafusion.runtime.memory_limit = {}",
        quote(&data.memory_limit)
    ))
    .await
    .with_context(|| {
        format!(
            "invalid --memory-limit '{}': use a size such as 2G or 512M",
            data.memory_limit
        )
    })?;
    Ok(ctx)
}

async fn report(args: ReportArgs) -> Result<()> {
    let range = match (&args.range, &args.from, &args.to) {
        (Some(preset), _, _) => ReportRange::Preset(preset.clone()),
        (None, Some(from), Some(to)) => ReportRange::Dates {
            from: from.clone(),
            to: to.clone(),
            start_time: args.start_time.clone(),
            end_time: args.end_time.clone(),
        },
        _ => bail!("give --from and --to, or --range"),
    };
    let format = args.format;
    let to_stdout = args.output == "-";
    if to_stdout && !format.is_text() {
        bail!("{} is a binary format: give --output FILE", format.name());
    }
    if to_stdout && args.append_date {
        bail!("--append-date needs --output FILE");
    }
    let ctx = open(&args.data).await?;
    if let Some(zone) = &args.time_zone {
        ctx.sql(&format!("SET agent_refusal.time_zone = {}", quote(zone)))
            .await?;
    }
    if args.ignore_dst {
        ctx.sql("SET agent_refusal.ignore_dst = true").await?;
    }
    // The report's plan already puts the small lookups on the build side and the refusals on the
    // probe side, which keeps their time order; statistics must not swap them.
    ctx.sql("SET datafusion.optimizer.join_reordering = false")
        .await?;
    let df = ctx.sql(&range.to_sql()).await?;
    let options = ExportOptions {
        format,
        headers: !args.no_headers,
        progress: !to_stdout,
    };
    let stream = df.execute_stream().await?;
    if to_stdout {
        export::write_stream(
            stream,
            std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()),
            options,
        )
        .await?;
        return Ok(());
    }
    let mut path = PathBuf::from(&args.output);
    if args.append_date {
        let zone = Zone::parse(args.time_zone.as_deref().unwrap_or("UTC"))?;
        let zone = if args.ignore_dst {
            zone.without_dst(chrono::Utc::now().naive_utc())
        } else {
            zone
        };
        path = export::append_date(&path, zone.today());
    }
    let rows = tokio::select! {
        written = export::write_file(stream, &path, options) => written?,
        _ = tokio::signal::ctrl_c() => bail!("interrupted; {} was not written", path.display()),
    };
    eprintln!("agent-refusal: wrote {rows} rows to {}", path.display());
    Ok(())
}

async fn sql(args: SqlArgs, order: Vec<bool>) -> Result<()> {
    if args.command.is_empty() && args.file.is_empty() {
        bail!("give SQL with -c or a file with -f");
    }
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
    let mut shell = Shell::new(open(&args.data).await?, format);
    for script in scripts {
        shell.execute_sql(&script).await?;
    }
    std::io::stdout().flush()?;
    Ok(())
}

async fn repl(data: DataArg) -> Result<()> {
    let interactive = std::io::stdin().is_terminal();
    let ctx = if interactive {
        quiet_open(&data).await?
    } else {
        open(&data).await?
    };
    let mut shell = Shell::new(ctx, PrintFormat::Table);
    if !interactive {
        shell.run_script(std::io::stdin().lock()).await?;
        std::io::stdout().flush()?;
        return Ok(());
    }
    let source = match &data.data {
        Some(dir) => {
            let state = shell.context().state();
            let options = &state.config_options().catalog;
            let mut tables = state
                .catalog_list()
                .catalog(&options.default_catalog)
                .and_then(|c| c.schema(&options.default_schema))
                .map(|s| s.table_names())
                .unwrap_or_default();
            tables.sort();
            format!("{} ({})", dir.display(), tables.join(", "))
        }
        None => format!(
            "the built-in demo data ({} to {}, New York business hours)",
            demo::FIRST_DAY,
            demo::LAST_DAY
        ),
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
fn usage_error(e: clap::Error) -> ExitCode {
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
    eprintln!("agent-refusal: {line}");
    ExitCode::from(2)
}

/// Prints one line naming the error and returns the failure exit code.
fn fail(e: &anyhow::Error) -> ExitCode {
    let message = match e.downcast_ref::<DataFusionError>() {
        Some(df) if e.chain().count() == 1 => shell::error_line(df),
        _ => format!("{e:#}"),
    };
    eprintln!(
        "agent-refusal: error: {}",
        message.lines().next().unwrap_or_default()
    );
    ExitCode::FAILURE
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.to_string().contains("Broken pipe")
    })
}
