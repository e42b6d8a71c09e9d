//! The interactive SQL shell and the statement runner behind `agent-refusal sql` (feature `cli`).
//!
//! Built from `datafusion-cli`'s public pieces: its rustyline helper (multi-line input, syntax
//! highlighting, hints), its `\` commands (`\d`, `\?`, `\pset`, `\h`, `\quiet`, ...) and its
//! print formats. Added here: history in the user's state directory, an `agent-refusal>` prompt,
//! Ctrl-C cancelling the running query, one-line errors, `\timing`, and tab completion of table,
//! column and function names.

use std::borrow::Cow;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use datafusion::common::Result;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::DFParser;
use datafusion::sql::sqlparser::dialect::dialect_from_str;

pub use crate::error::error_line;
use datafusion_cli::command::{Command, OutputFormat};
use datafusion_cli::helper::CliHelper;
use datafusion_cli::object_storage::instrumented::InstrumentedObjectStoreRegistry;
use datafusion_cli::print_format::PrintFormat;
use datafusion_cli::print_options::{MaxRows, PrintOptions};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper};

/// The deepest expression a statement may hold: a chain of this many operators (`1+1+...`) or
/// nested parentheses. DataFusion's planning costs grow with the square of the depth (each level
/// names the whole expression below it): past this, planning would take minutes and gigabytes.
pub const MAX_EXPRESSION_DEPTH: usize = 1_000;

/// Refuses a statement holding an expression nested deeper than [`MAX_EXPRESSION_DEPTH`].
pub fn check_depth(statement: &datafusion::sql::parser::Statement) -> Result<()> {
    use datafusion::sql::parser::{CopyToSource, Statement};
    use datafusion::sql::sqlparser::ast::{Expr, Visit, Visitor};
    use std::ops::ControlFlow;

    struct Depth(usize);
    impl Visitor for Depth {
        type Break = ();
        fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
            self.0 += 1;
            if self.0 > MAX_EXPRESSION_DEPTH {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
        fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
            self.0 -= 1;
            ControlFlow::Continue(())
        }
    }
    let too_deep = match statement {
        Statement::Statement(s) => s.visit(&mut Depth(0)).is_break(),
        Statement::CopyTo(copy) => match &copy.source {
            CopyToSource::Query(q) => q.visit(&mut Depth(0)).is_break(),
            CopyToSource::Relation(_) => false,
        },
        Statement::Explain(explain) => return check_depth(&explain.statement),
        Statement::CreateExternalTable(_) | Statement::Reset(_) => false,
    };
    if too_deep {
        return datafusion::common::plan_err!(
            "an expression is nested more than {MAX_EXPRESSION_DEPTH} levels deep (a chain of \
             operators or of parentheses): split the statement"
        );
    }
    Ok(())
}

/// A SQL session that runs statements and prints their results.
pub struct Shell {
    ctx: SessionContext,
    print: PrintOptions,
}

/// What the shell should do after a `\` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// `\q`: stop.
    Quit,
}

impl Shell {
    /// A shell over `ctx` printing in `format`, without timing lines.
    pub fn new(ctx: SessionContext, format: PrintFormat) -> Self {
        let print = PrintOptions {
            format,
            quiet: true,
            maxrows: MaxRows::Unlimited,
            color: false,
            instrumented_registry: Arc::new(InstrumentedObjectStoreRegistry::new()),
        };
        Self { ctx, print }
    }

    /// The session.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The names of the tables in the session's default schema, sorted.
    pub fn table_names(&self) -> Vec<String> {
        let state = self.ctx.state();
        let options = &state.config_options().catalog;
        let mut tables = state
            .catalog_list()
            .catalog(&options.default_catalog)
            .and_then(|c| c.schema(&options.default_schema))
            .map(|s| s.table_names())
            .unwrap_or_default();
        tables.sort();
        tables
    }

    /// Turns the "N row(s) fetched, elapsed" line after each result on or off (`\timing`).
    pub fn set_timing(&mut self, on: bool) {
        self.print.quiet = !on;
    }

    /// Runs every statement of `sql` in order, printing each result; stops at the first error.
    pub async fn execute_sql(&mut self, sql: &str) -> Result<()> {
        let state = self.ctx.state();
        let dialect_name = state.config().options().sql_parser.dialect;
        let dialect = dialect_from_str(dialect_name).ok_or_else(|| {
            datafusion::common::plan_datafusion_err!("unsupported SQL dialect {dialect_name}")
        })?;
        let statements = DFParser::parse_sql_with_dialect(sql, dialect.as_ref())?;
        for statement in &statements {
            check_depth(statement)?;
        }
        for statement in statements {
            let start = Instant::now();
            let mut plan = self.ctx.state().statement_to_plan(statement).await?;
            if let LogicalPlan::Copy(copy) = &plan {
                // DataFusion's own formats as well as this crate's: never over an input, through
                // links, not over devices
                let catalogs = Arc::clone(self.ctx.state().catalog_list());
                if let Some(checked) = crate::export::copy::check_copy(catalogs.as_ref(), copy).await? {
                    plan = LogicalPlan::Copy(checked);
                }
            }
            let df = self.ctx.execute_logical_plan(plan).await?;
            let schema = Arc::clone(df.schema().inner());
            let batches = df.collect().await?;
            if schema.fields().is_empty() {
                continue; // SET, CREATE, DROP...: nothing to show
            }
            let rows = batches.iter().map(arrow::array::RecordBatch::num_rows).sum();
            let format = self.ctx.state().config_options().format.clone();
            self.print.print_batches(schema, &batches, start, rows, &format)?;
        }
        Ok(())
    }

    /// Runs a `\` command (the line without its backslash handled by the caller).
    pub async fn execute_command(&mut self, line: &str) -> Result<Flow> {
        let words = line
            .trim()
            .trim_start_matches('\\')
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        match words.as_str() {
            "timing" | "timing on" => {
                self.set_timing(true);
                println!("Timing is on.");
                return Ok(Flow::Continue);
            }
            "timing off" => {
                self.set_timing(false);
                println!("Timing is off.");
                return Ok(Flow::Continue);
            }
            _ => {}
        }
        let Ok(command) = words.parse::<Command>() else {
            return datafusion::common::plan_err!("'\\{words}' is not a command; \\? lists them");
        };
        match command {
            Command::Quit => return Ok(Flow::Quit),
            Command::Help => {
                command.execute(&self.ctx, &mut self.print).await?;
                println!("\\timing [on|off]\tshow each query's elapsed time");
            }
            Command::OutputFormat(Some(subcommand)) => match subcommand.parse::<OutputFormat>() {
                Ok(change) => change.execute(&mut self.print)?,
                Err(()) => {
                    return datafusion::common::plan_err!("'\\pset {subcommand}' is not a valid setting");
                }
            },
            Command::OutputFormat(None) => println!("Output format is {:?}.", self.print.format),
            other => other.execute(&self.ctx, &mut self.print).await?,
        }
        Ok(Flow::Continue)
    }

    /// Runs statements read from `input` (`;`-terminated, over any number of lines; `\` commands on
    /// lines of their own); stops at the first error.
    pub async fn run_script(&mut self, input: impl BufRead) -> Result<()> {
        let mut buffer = String::new();
        for line in input.lines() {
            let line = line?;
            if buffer.trim().is_empty() && line.trim_start().starts_with('\\') {
                if self.execute_command(&line).await? == Flow::Quit {
                    return Ok(());
                }
                continue;
            }
            buffer.push_str(&line);
            buffer.push('\n');
            if line.trim_end().ends_with(';') {
                self.execute_sql(&std::mem::take(&mut buffer)).await?;
            }
        }
        if !buffer.trim().is_empty() {
            self.execute_sql(&buffer).await?;
        }
        Ok(())
    }

    /// The interactive loop: reads with line editing and history until `\q` or Ctrl-D.
    /// Ctrl-C cancels the running query (or the line being typed) and keeps the shell.
    pub async fn repl(&mut self) -> Result<()> {
        self.print.maxrows = MaxRows::Limited(40);
        self.print.color = true;
        let mut editor: Editor<ShellHelper, rustyline::history::DefaultHistory> =
            Editor::new().map_err(|e| DataFusionError::External(Box::new(e)))?;
        let dialect = self.ctx.state().config_options().sql_parser.dialect;
        editor.set_helper(Some(ShellHelper {
            inner: CliHelper::new(&dialect, true),
            words: Vec::new(),
        }));
        self.refresh_completions(&mut editor);
        let history = history_file();
        if let Some(path) = &history {
            let _ = editor.load_history(path);
        }
        loop {
            match editor.readline("agent-refusal> ") {
                Ok(line) if line.trim().is_empty() => {}
                Ok(line) => {
                    let _ = editor.add_history_entry(line.trim_end());
                    if line.trim_start().starts_with('\\') {
                        match self.execute_command(&line).await {
                            Ok(Flow::Quit) => break,
                            Ok(Flow::Continue) => {}
                            Err(e) => eprintln!("Error: {}", error_line(&e)),
                        }
                        continue;
                    }
                    // Listen for Ctrl-C before the query starts, so that none is missed.
                    let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
                    let cancelled = futures::poll!(&mut interrupt).is_ready()
                        || tokio::select! {
                            _ = &mut interrupt => true,
                            result = self.execute_sql(&line) => {
                                if let Err(e) = result {
                                    eprintln!("Error: {}", error_line(&e));
                                }
                                false
                            }
                        };
                    if cancelled {
                        println!("^C (query cancelled)");
                    }
                    self.refresh_completions(&mut editor);
                }
                Err(ReadlineError::Interrupted) => println!("^C"),
                Err(ReadlineError::Eof) => {
                    println!("\\q");
                    break;
                }
                Err(e) => {
                    eprintln!("Error: {e}");
                    break;
                }
            }
        }
        if let Some(path) = &history {
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = editor.save_history(path);
        }
        Ok(())
    }

    /// Table, column and function names for tab completion.
    fn refresh_completions(&self, editor: &mut Editor<ShellHelper, rustyline::history::DefaultHistory>) {
        let state = self.ctx.state();
        let mut words: Vec<String> = state.scalar_functions().keys().cloned().collect();
        words.extend(state.aggregate_functions().keys().cloned());
        words.extend(state.window_functions().keys().cloned());
        words.extend(state.table_functions().keys().cloned());
        let options = state.config_options().catalog.clone();
        if let Some(schema) = state
            .catalog_list()
            .catalog(&options.default_catalog)
            .and_then(|c| c.schema(&options.default_schema))
        {
            for table in schema.table_names() {
                if let Ok(Some(provider)) =
                    futures::FutureExt::now_or_never(schema.table(&table)).unwrap_or(Ok(None))
                {
                    words.extend(provider.schema().fields().iter().map(|f| f.name().clone()));
                }
                words.push(table);
            }
        }
        words.extend(crate::schema::COLUMNS.iter().map(|c| c.name.to_string()));
        words.sort();
        words.dedup();
        if let Some(helper) = editor.helper_mut() {
            helper.words = words;
        }
    }
}

/// Where the REPL keeps its history: `$XDG_STATE_HOME/agent-refusal/history`, else
/// `~/.local/state/agent-refusal/history`; none when neither is known.
pub fn history_file() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(state.join("agent-refusal").join("history"))
}

/// datafusion-cli's helper, with completion of the session's names added.
struct ShellHelper {
    inner: CliHelper,
    words: Vec<String>,
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, found) = self.inner.complete(line, pos, ctx)?;
        if !found.is_empty() {
            return Ok((start, found)); // a file path inside quotes
        }
        let start = line[..pos]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let prefix = line[start..pos].to_lowercase();
        if prefix.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let pairs = self
            .words
            .iter()
            .filter(|w| w.to_lowercase().starts_with(&prefix))
            .map(|w| Pair {
                display: w.clone(),
                replacement: w.clone(),
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Highlighter for ShellHelper {
    fn highlight<'l>(&self, line: &'l str, pos: usize) -> Cow<'l, str> {
        self.inner.highlight(line, pos)
    }

    fn highlight_char(&self, line: &str, pos: usize, kind: CmdKind) -> bool {
        self.inner.highlight_char(line, pos, kind)
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        self.inner.highlight_hint(hint)
    }
}

impl Hinter for ShellHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, ctx: &Context<'_>) -> Option<String> {
        self.inner.hint(line, pos, ctx)
    }
}

impl Validator for ShellHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        self.inner.validate(ctx)
    }
}

impl Helper for ShellHelper {}
