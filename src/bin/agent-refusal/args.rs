//! The command line, parsed and validated with the library's own parsers: a bad date, time, zone,
//! preset, format, size or order is a usage error (exit status 2) before any data is read.

use std::path::PathBuf;

use agent_refusal::export::ExportFormat;
use agent_refusal::report::{EndTime, Preset, Zone, parse_date, parse_time};
use agent_refusal::sources::TableOrder;
use agent_refusal::sources::demo::DemoFormat;
use chrono::{NaiveDate, NaiveTime};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{ArgAction, Parser, Subcommand, ValueEnum};
use datafusion::prelude::SessionContext;

/// NICE CXone's Agent Refusal report as plain SQL, on Apache DataFusion.
///
/// With no command, opens the interactive SQL shell (or runs the SQL piped to it).
#[derive(Parser, Debug)]
#[command(name = "agent-refusal", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open the interactive SQL shell (the default); reads SQL from stdin when it is not a terminal.
    Repl(DataArgs),
    /// Run the Agent Refusal report and export it (CXone's CSV by default, to stdout).
    Report(ReportArgs),
    /// Run SQL statements (-c and -f, in the order given) and print their results.
    Sql(SqlArgs),
    /// Write the built-in demo data set to a folder.
    DemoData(DemoArgs),
    /// Serve SQL over the PostgreSQL wire protocol, for psql, BI tools and drivers (loopback and
    /// read-only by default).
    Serve(ServeArgs),
}

/// Where the data comes from, and the session's resources. Given before the command
/// (`agent-refusal --data DIR sql ...`) they apply to it as well, unless it gives its own.
#[derive(clap::Args, Debug, Default)]
pub struct DataArgs {
    /// Folder whose NAME.csv/.parquet/.json/.ndjson files and NAME/ folders become tables
    /// (default: the built-in demo data).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Memory for queries (such as 2G or 512M; default 4G); sorts and aggregates past it spill
    /// to disk.
    #[arg(long, value_name = "SIZE", value_parser = size, allow_hyphen_values = true)]
    pub memory_limit: Option<usize>,
    /// Declare that each file of a --data table is sorted by these columns (ascending), like
    /// SQL's WITH ORDER. `--order refusals=refuse_time` lets the report skip its full sort.
    #[arg(long, value_name = "TABLE=COLUMN[,COLUMN...]")]
    pub order: Vec<TableOrder>,
}

impl DataArgs {
    /// The default `--memory-limit`: 4 GiB.
    pub const DEFAULT_MEMORY_LIMIT: usize = 4 << 30;

    /// These options, with `outer` (given before the command) filling in what they leave out.
    #[must_use]
    pub fn or(self, outer: DataArgs) -> DataArgs {
        DataArgs {
            data: self.data.or(outer.data),
            memory_limit: self.memory_limit.or(outer.memory_limit),
            order: if self.order.is_empty() {
                outer.order
            } else {
                self.order
            },
        }
    }
}

#[derive(clap::Args, Debug)]
#[allow(clippy::struct_excessive_bools)] // clap's flags
pub struct ReportArgs {
    /// First day of the report (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", required_unless_present = "range", conflicts_with = "range",
          value_parser = |t: &str| library(parse_date(t, "start date")))]
    pub from: Option<NaiveDate>,
    /// Last day of the report (YYYY-MM-DD), inclusive.
    #[arg(long, value_name = "DATE", required_unless_present = "range", conflicts_with = "range",
          value_parser = |t: &str| library(parse_date(t, "end date")))]
    pub to: Option<NaiveDate>,
    /// Start time on the first day (HH:MM or HH:MM:SS).
    #[arg(long, value_name = "TIME", default_value = "00:00", conflicts_with = "range",
          value_parser = |t: &str| library(parse_time(t, "start time")).map(|t| t.time))]
    pub start_time: NaiveTime,
    /// End time on the last day, inclusive to the minute (HH:MM) or second (HH:MM:SS).
    #[arg(long, value_name = "TIME", default_value = "23:59", conflicts_with = "range",
          value_parser = |t: &str| library(parse_time(t, "end time")))]
    pub end_time: EndTime,
    /// A date range preset: today, yesterday, "last 7 days", "last 30 days", "previous week",
    /// "previous month", "month to date".
    #[arg(long, value_name = "PRESET", value_parser = |t: &str| library(Preset::parse(t)))]
    pub range: Option<Preset>,
    /// Time zone of the report: an IANA name (`America/New_York`) or an offset (+05:30). Default UTC.
    #[arg(long, value_name = "TZ", allow_hyphen_values = true,
          value_parser = |t: &str| library(Zone::parse(t)))]
    pub time_zone: Option<Zone>,
    /// Use the zone's standard offset all year, as CXone does.
    #[arg(long)]
    pub ignore_dst: bool,
    /// Export format: CXone's csv, tab and xml; xlsx; parquet, json and ndjson (all columns,
    /// typed). Default: from the --output file's extension, else csv.
    #[arg(long, ignore_case = true, value_parser = export_format())]
    pub format: Option<ExportFormat>,
    /// Leave out the header row (csv, tab, xlsx).
    #[arg(long)]
    pub no_headers: bool,
    /// Put ' before csv/tab text cells that start with =, +, -, @, tab or CR, so that Excel does
    /// not run them as formulas (off by default: CXone's bytes). XLSX always stores text as text.
    #[arg(long)]
    pub excel_safe: bool,
    /// Put _YYYYMMDD (today in the report's zone) before the output file's extension.
    #[arg(long)]
    pub append_date: bool,
    #[command(flatten)]
    pub data: DataArgs,
    /// Output file, or - for stdout (the default).
    #[arg(long, short, value_name = "PATH", default_value = "-",
          value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub output: String,
}

#[derive(clap::Args, Debug)]
pub struct SqlArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Output format (`tab` is accepted for tsv).
    #[arg(long, value_enum, ignore_case = true, default_value_t = SqlFormat::Table)]
    pub format: SqlFormat,
    /// SQL to run (repeatable).
    #[arg(short = 'c', long = "command", value_name = "SQL", action = ArgAction::Append,
          required_unless_present = "file")]
    pub command: Vec<String>,
    /// File of SQL statements to run (repeatable).
    #[arg(short = 'f', long = "file", value_name = "FILE", action = ArgAction::Append)]
    pub file: Vec<PathBuf>,
}

/// How `sql` prints results.
#[derive(ValueEnum, Clone, Copy, Debug)]
#[value(rename_all = "lower")]
pub enum SqlFormat {
    Table,
    Csv,
    #[value(alias = "tab")]
    Tsv,
    Json,
    #[value(alias = "jsonl")]
    Ndjson,
}

#[derive(clap::Args, Debug)]
#[allow(clippy::struct_excessive_bools)] // clap's flags
#[allow(clippy::doc_markdown)] // the help text shows names as they are typed, without backticks
#[command(mut_arg("memory_limit", |a| a.help(
    "Memory for each connection's queries (such as 2G or 512M; default 1G); sorts and aggregates past it spill to disk"
)))]
pub struct ServeArgs {
    /// Data and memory: each connection's queries get --memory-limit (default 1G) of their own.
    #[command(flatten)]
    pub data: DataArgs,
    /// Address and port to listen on. Any address but loopback needs --password-file (or
    /// AGENT_REFUSAL_PASSWORDS) and TLS.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:5432", value_parser = listen_address)]
    pub listen: std::net::SocketAddr,
    /// File of user:password lines: clients must log in as one of them (SCRAM-SHA-256). Without
    /// it, the variable AGENT_REFUSAL_PASSWORDS (user:password pairs, comma-separated) is read;
    /// without both, any user name is accepted with no password.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// TLS certificate chain (PEM); every connection must then use TLS (sslmode=require or
    /// prefer), unless --insecure.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Allow a non-loopback address without TLS, and plain connections beside TLS ones
    /// (passwords and data travel unencrypted).
    #[arg(long)]
    pub insecure: bool,
    /// Allow statements that write files or change tables (COPY ... TO, CREATE EXTERNAL TABLE,
    /// CREATE/DROP TABLE or VIEW, INSERT); files only inside --data.
    #[arg(long)]
    pub allow_writes: bool,
    /// Connections served at once.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Longest a statement may run, such as 30s, 5min or 1h; it is then cancelled with an error.
    #[arg(long, value_name = "DURATION", default_value = "5min", value_parser = statement_timeout)]
    pub statement_timeout: std::time::Duration,
}

/// `--listen`: an IP address and port, or `localhost:PORT`.
fn listen_address(text: &str) -> Result<std::net::SocketAddr, String> {
    let text = text.trim();
    if let Some(port) = text.strip_prefix("localhost:") {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("bad port in --listen '{text}'"))?;
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().map_err(|_| {
        format!("--listen '{text}' is not ADDR:PORT (such as 127.0.0.1:5432, 0.0.0.0:5432 or [::1]:5432)")
    })
}

/// `--statement-timeout`: a duration with a unit.
fn statement_timeout(text: &str) -> Result<std::time::Duration, String> {
    match agent_refusal::server::parse_timeout(text) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(format!(
            "--statement-timeout '{text}' is not a duration such as 30s, 5min or 1h"
        )),
    }
}

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Folder to write the tables to (created if missing).
    #[arg(long, value_name = "DIR")]
    pub output: PathBuf,
    /// Size multiplier (1: 60 agents, about 6,000 refusals).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub scale: u32,
    /// File format.
    #[arg(long, value_enum, default_value_t = DemoFormatArg::Parquet)]
    pub format: DemoFormatArg,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum DemoFormatArg {
    Parquet,
    Csv,
}

impl From<DemoFormatArg> for DemoFormat {
    fn from(format: DemoFormatArg) -> DemoFormat {
        match format {
            DemoFormatArg::Parquet => DemoFormat::Parquet,
            DemoFormatArg::Csv => DemoFormat::Csv,
        }
    }
}

/// A library error as the command line says it: one line, without the category prefix and the
/// `agent_refusal:` of SQL's messages.
pub fn library_message(e: &datafusion::error::DataFusionError) -> String {
    let message = agent_refusal::shell::error_line(e);
    match message.strip_prefix("agent_refusal: ") {
        Some(rest) => rest.to_string(),
        None => message,
    }
}

/// A library parser's result for clap.
fn library<T>(parsed: datafusion::common::Result<T>) -> Result<T, String> {
    parsed.map_err(|e| library_message(&e))
}

/// `--memory-limit`: a size as DataFusion's `datafusion.runtime.memory_limit` takes it.
fn size(text: &str) -> Result<usize, String> {
    let bytes = library(SessionContext::parse_capacity_limit(
        "--memory-limit",
        text.trim(),
    ))
    .map_err(|e| format!("{e}; use a size such as 2G or 512M"))?;
    if bytes < MIN_MEMORY_LIMIT {
        return Err(format!(
            "--memory-limit {text} is too small for the report: give at least 16M"
        ));
    }
    Ok(bytes)
}

/// The smallest `--memory-limit`: below it, the report's sort cannot run.
const MIN_MEMORY_LIMIT: usize = 16 << 20;

/// `--format`: the export formats by name, with their aliases, listed in `--help`.
fn export_format() -> impl TypedValueParser<Value = ExportFormat> {
    PossibleValuesParser::new(
        ExportFormat::ALL.map(|f| PossibleValue::new(f.name()).aliases(f.aliases().iter().copied())),
    )
    .try_map(|name: String| library(ExportFormat::parse(&name)))
}
