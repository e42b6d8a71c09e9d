//! What a client may do: `SET` checked per connection, read-only unless `--allow-writes`, and
//! files only inside the data folder.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{Expr, ObjectName, Reset, Set, Statement, Value};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion_postgres::QueryHook;
use datafusion_postgres::arrow_pg::datatypes::df::encode_dataframe;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::api::portal::Format;
use datafusion_postgres::pgwire::api::results::{Response, Tag};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

use super::ServerOptions;

/// The client metadata key that holds a connection's `statement_timeout` in milliseconds
/// (datafusion-postgres's own, so that `SHOW statement_timeout` reads it).
pub(super) const STATEMENT_TIMEOUT_KEY: &str = "statement_timeout_ms";

/// A DataFusion error on its way to the client (the error handler turns it into one line with
/// a SQLSTATE).
pub(super) fn api(e: datafusion::error::DataFusionError) -> PgWireError {
    PgWireError::ApiError(Box::new(e))
}

/// A PostgreSQL error with its SQLSTATE.
pub(super) fn sql_error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        code.to_string(),
        message.into(),
    )))
}

/// The error of a statement a read-only server refuses.
fn read_only(what: &str) -> PgWireError {
    sql_error(
        "25006", // read_only_sql_transaction
        format!(
            "{what} is not allowed: the server is read-only (start it with --allow-writes to \
             write files inside --data or change tables)"
        ),
    )
}

/// `SET` as this server allows it, before datafusion-postgres's own `SET` handling:
/// `agent_refusal.*` and `datafusion.*` settings are checked (a bad value is an error, and the
/// connection keeps its setting), `datafusion.runtime.*` is refused (the server sets memory and
/// spill files), and `statement_timeout` cannot go past the server's limit.
#[derive(Debug)]
pub(super) struct SettingsHook {
    pub(super) max_timeout: Duration,
}

impl SettingsHook {
    async fn set(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let (name, values) = match statement {
            Statement::Set(Set::SingleAssignment { variable, values, .. }) => {
                (setting_name(variable), Some(values))
            }
            Statement::Reset(reset) => match &reset.reset {
                Reset::ConfigurationParameter(variable) => (setting_name(variable), None),
                Reset::ALL => {
                    return Some(Err(sql_error(
                        "0A000", // feature_not_supported
                        "RESET ALL is not supported: reset settings one by one",
                    )));
                }
            },
            // Other forms (several assignments at once): refused when they name the runtime.
            Statement::Set(other) => {
                let text = other.to_string().replace('"', "").to_ascii_lowercase();
                return text
                    .contains("datafusion.runtime.")
                    .then(|| Err(runtime_refused("datafusion.runtime.*")));
            }
            _ => return None,
        };
        if name == "statement_timeout" {
            let values = values.map_or(&[][..], Vec::as_slice);
            return Some(self.set_timeout(values, client));
        }
        if name.starts_with("datafusion.runtime.") {
            return Some(Err(runtime_refused(&name)));
        }
        if !(name.starts_with("agent_refusal.") || name.starts_with("datafusion.")) {
            return None;
        }
        Some(match ctx.sql(&statement.to_string()).await {
            Ok(_) => Ok(Response::Execution(Tag::new(if values.is_some() {
                "SET"
            } else {
                "RESET"
            }))),
            Err(e) => Err(api(e)),
        })
    }

    /// `SET statement_timeout = value` (no value: `RESET`).
    fn set_timeout(&self, values: &[Expr], client: &mut dyn HookClient) -> PgWireResult<Response> {
        let text = match values {
            [] => "default".to_string(),
            [Expr::Value(v)] => match &v.value {
                Value::Number(n, _) => n.clone(),
                Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
                other => other.to_string(),
            },
            [Expr::Identifier(ident)] => ident.value.clone(),
            other => other
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        };
        let timeout = if text.eq_ignore_ascii_case("default") {
            Some(Duration::ZERO)
        } else {
            parse_timeout(&text)
        };
        let Some(timeout) = timeout else {
            return Err(sql_error(
                "22023",
                format!(
                    "invalid value for statement_timeout: '{text}' (such as 30s, 5min or 1500 for milliseconds)"
                ),
            ));
        };
        if timeout > self.max_timeout {
            return Err(sql_error(
                "22023",
                format!(
                    "statement_timeout can be at most {} on this server (--statement-timeout)",
                    format_duration(self.max_timeout)
                ),
            ));
        }
        // 0 (no timeout, in PostgreSQL) and DEFAULT mean the server's limit.
        let timeout = if timeout.is_zero() {
            self.max_timeout
        } else {
            timeout
        };
        client
            .metadata_mut()
            .insert(STATEMENT_TIMEOUT_KEY.to_string(), timeout.as_millis().to_string());
        Ok(Response::Execution(Tag::new("SET")))
    }
}

/// A setting's name as DataFusion reads it: quotes removed, lower case.
fn setting_name(variable: &ObjectName) -> String {
    variable.to_string().replace('"', "").to_ascii_lowercase()
}

/// The error for a `datafusion.runtime.*` setting.
fn runtime_refused(name: &str) -> PgWireError {
    sql_error(
        "42501", // insufficient_privilege
        format!(
            "{name} cannot be changed by a client: the server sets memory and spill files (--memory-limit)"
        ),
    )
}

/// A duration as PostgreSQL's `statement_timeout` takes it: a number of milliseconds, or a
/// number with `ms`, `s`, `min`, `h` or `d`.
pub fn parse_timeout(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let millis = match unit.trim() {
        "" | "ms" => 1.0,
        "s" => 1e3,
        "min" => 60e3,
        "h" => 3600e3,
        "d" => 86_400e3,
        _ => return None,
    };
    let millis = number * millis;
    (millis.is_finite() && (0.0..1e15).contains(&millis)).then(|| Duration::from_secs_f64(millis / 1e3))
}

/// A duration the way [`parse_timeout`] reads it back.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(60_000) {
        format!("{}min", millis / 60_000)
    } else if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// The setting a `SHOW` names, when it is one of DataFusion's or this project's
/// (`agent_refusal.time_zone`, `datafusion.execution.batch_size`).
fn shown_setting(statement: &Statement) -> Option<String> {
    let Statement::ShowVariable { variable } = statement else {
        return None;
    };
    let name = variable
        .iter()
        .map(|ident| ident.value.as_str())
        .collect::<Vec<_>>()
        .join(".")
        .to_ascii_lowercase();
    (name.starts_with("agent_refusal.") || name.starts_with("datafusion.")).then_some(name)
}

/// Whether `statement` is `SHOW statement_timeout`.
fn shows_timeout(statement: &Statement) -> bool {
    matches!(statement, Statement::ShowVariable { variable }
        if variable.len() == 1 && variable[0].value.eq_ignore_ascii_case("statement_timeout"))
}

/// `SHOW name` as PostgreSQL answers it: one column named after the setting, one row.
async fn show_plan(name: &str, ctx: &SessionContext) -> PgWireResult<LogicalPlan> {
    let quoted = name.replace('"', "");
    let literal = name.replace('\'', "''");
    let sql = format!(
        "SELECT coalesce(value, '') AS \"{quoted}\" FROM information_schema.df_settings WHERE name = '{literal}'"
    );
    let plan = ctx.state().create_logical_plan(&sql).await.map_err(api)?;
    ctx.state().optimize(&plan).map_err(api)
}

/// `SHOW statement_timeout`'s answer, `value`, as a plan.
async fn timeout_plan(value: &str, ctx: &SessionContext) -> PgWireResult<LogicalPlan> {
    let sql = format!("SELECT '{value}' AS statement_timeout");
    ctx.state().create_logical_plan(&sql).await.map_err(api)
}

impl SettingsHook {
    /// `SHOW statement_timeout`: the connection's limit, or the server's.
    async fn show_timeout(&self, ctx: &SessionContext, client: &dyn HookClient) -> PgWireResult<Response> {
        let timeout = client
            .metadata()
            .get(STATEMENT_TIMEOUT_KEY)
            .and_then(|ms| ms.parse::<u64>().ok())
            .map_or(self.max_timeout, Duration::from_millis);
        let plan = timeout_plan(&format_duration(timeout), ctx).await?;
        let frame = ctx.execute_logical_plan(plan).await.map_err(api)?;
        Ok(Response::Query(
            encode_dataframe(frame, &Format::UnifiedText, None).await?,
        ))
    }
}

/// Runs a `SHOW` plan: an error when no such setting exists.
async fn show(name: &str, plan: LogicalPlan, ctx: &SessionContext) -> PgWireResult<Response> {
    let batches = ctx
        .execute_logical_plan(plan)
        .await
        .map_err(api)?
        .collect()
        .await
        .map_err(api)?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        return Err(sql_error(
            "42704", // undefined_object
            format!("unrecognized configuration parameter \"{name}\""),
        ));
    }
    let frame = ctx.read_batches(batches).map_err(api)?;
    Ok(Response::Query(
        encode_dataframe(frame, &Format::UnifiedText, None).await?,
    ))
}

#[async_trait]
impl QueryHook for SettingsHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if shows_timeout(statement) {
            return Some(self.show_timeout(ctx, &*client).await);
        }
        if let Some(name) = shown_setting(statement) {
            return Some(match show_plan(&name, ctx).await {
                Ok(plan) => show(&name, plan, ctx).await,
                Err(e) => Err(e),
            });
        }
        self.set(statement, ctx, client).await
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        if shows_timeout(statement) {
            return Some(timeout_plan("0", ctx).await);
        }
        let name = shown_setting(statement)?;
        Some(show_plan(&name, ctx).await)
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        plan: &LogicalPlan,
        _params: &ParamValues,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if shows_timeout(statement) {
            return Some(self.show_timeout(ctx, &*client).await);
        }
        if let Some(name) = shown_setting(statement) {
            return Some(show(&name, plan.clone(), ctx).await);
        }
        self.set(statement, ctx, client).await
    }
}

/// Refuses, on a read-only server, every statement that is not a query, `EXPLAIN` of one,
/// `SHOW`, `SET`, a cursor or a transaction statement (which change nothing here).
#[derive(Debug)]
pub(super) struct ReadOnlyHook;

/// Whether `statement` only reads; otherwise the name it is refused under.
fn refused(statement: &Statement) -> Option<String> {
    match statement {
        Statement::Query(_)
        | Statement::Set(_)
        | Statement::Reset(_)
        | Statement::ShowVariable { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowCreate { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ShowCatalogs { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ExplainTable { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. }
        | Statement::Deallocate { .. }
        | Statement::Execute { .. }
        | Statement::Discard { .. } => None,
        Statement::Explain { statement, .. } | Statement::Prepare { statement, .. } => refused(statement),
        other => Some(statement_name(&other.to_string())),
    }
}

/// The leading keywords of a statement (`CREATE TABLE`, `INSERT`), to name it in an error.
fn statement_name(sql: &str) -> String {
    const KINDS: [&str; 14] = [
        "TABLE",
        "VIEW",
        "EXTERNAL",
        "SCHEMA",
        "DATABASE",
        "CATALOG",
        "FUNCTION",
        "INDEX",
        "OR",
        "REPLACE",
        "TEMPORARY",
        "TEMP",
        "UNLOGGED",
        "MATERIALIZED",
    ];
    let mut words = sql.split_whitespace().map(str::to_ascii_uppercase);
    let mut name = words.next().unwrap_or_default();
    for word in words.take(4) {
        if !KINDS.contains(&word.as_str()) {
            break;
        }
        name.push(' ');
        name.push_str(&word);
    }
    name
}

#[async_trait]
impl QueryHook for ReadOnlyHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        refused(statement).map(|name| Err(read_only(&name)))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        refused(statement).map(|name| Err(read_only(&name)))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        refused(statement).map(|name| Err(read_only(&name)))
    }
}

/// Where a connection may read and write files.
#[derive(Debug, Clone)]
pub(super) struct FileRules {
    pub(super) allow_writes: bool,
    pub(super) data_dir: Option<PathBuf>,
}

impl FileRules {
    pub(super) fn of(options: &ServerOptions) -> FileRules {
        FileRules {
            allow_writes: options.allow_writes,
            data_dir: options.data_dir.clone(),
        }
    }
}

/// Whether DataFusion would read or write files for `statement` (`COPY`, `CREATE EXTERNAL TABLE`
/// or a `CREATE TABLE` with a location, also inside `EXPLAIN` or `PREPARE`).
fn names_files_sql(statement: &Statement) -> bool {
    match statement {
        Statement::Copy { .. } => true,
        Statement::CreateTable(create) => create.external || create.location.is_some(),
        Statement::Explain { statement, .. } | Statement::Prepare { statement, .. } => {
            names_files_sql(statement)
        }
        _ => false,
    }
}

/// The first hook: every statement that names files, whichever way it arrived (a simple query
/// DataFusion's parser could not split goes to datafusion-postgres statement by statement), is
/// planned here with its paths checked ([`files_inside`]) or refused.
#[derive(Debug)]
pub(super) struct FilesHook {
    pub(super) files: FileRules,
}

#[async_trait]
impl QueryHook for FilesHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if !names_files_sql(statement) {
            return None;
        }
        let text = statement.to_string();
        let parsed = DFParser::parse_sql_with_dialect(&text, &PostgreSqlDialect {}).ok();
        Some(
            match parsed.as_ref().map(|p| p.iter().collect::<Vec<_>>()).as_deref() {
                Some([single]) if names_files(single) => {
                    super::session::run_file_statement(ctx, &self.files, (*single).clone()).await
                }
                _ => Err(sql_error(
                    "42501",
                    format!(
                        "{} is not allowed: its files cannot be checked",
                        statement_name(&text)
                    ),
                )),
            },
        )
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        names_files_sql(statement).then(|| {
            let name = statement_name(&statement.to_string());
            if !self.files.allow_writes {
                return Err(read_only(&name));
            }
            Err(sql_error(
                "0A000", // feature_not_supported
                format!(
                    "{name} is not supported through the extended protocol: send it as a plain statement"
                ),
            ))
        })
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        names_files_sql(statement).then(|| {
            Err(sql_error(
                "0A000",
                "statements with files are not supported through the extended protocol",
            ))
        })
    }
}

/// The hooks of a connection, in order: ours first, then datafusion-postgres's (cursors,
/// `SET`/`SHOW`, transactions), then the read-only check, then the planning of statements with
/// parameters among the report's arguments.
pub(super) fn hooks(options: &ServerOptions, late: super::late::LateStatements) -> Vec<Arc<dyn QueryHook>> {
    use datafusion_postgres::hooks::cursor::CursorStatementHook;
    use datafusion_postgres::hooks::set_show::SetShowHook;
    use datafusion_postgres::hooks::transactions::TransactionStatementHook;
    let mut hooks: Vec<Arc<dyn QueryHook>> = vec![
        Arc::new(FilesHook {
            files: FileRules::of(options),
        }),
        Arc::new(SettingsHook {
            max_timeout: options.statement_timeout,
        }),
        Arc::new(CursorStatementHook),
        Arc::new(SetShowHook),
        Arc::new(TransactionStatementHook),
    ];
    if !options.allow_writes {
        hooks.push(Arc::new(ReadOnlyHook));
    }
    hooks.push(Arc::new(super::late::LateHook { late }));
    hooks
}

/// The statements that name files (`COPY ... TO`, `CREATE EXTERNAL TABLE`, and `EXPLAIN` of
/// them): the server plans them itself, to keep their paths inside the data folder.
pub(super) fn names_files(statement: &DFStatement) -> bool {
    match statement {
        DFStatement::CopyTo(_) | DFStatement::CreateExternalTable(_) => true,
        DFStatement::Explain(explain) => names_files(&explain.statement),
        _ => false,
    }
}

/// `plan` with the paths of its `COPY ... TO` and `CREATE EXTERNAL TABLE` resolved inside
/// `data_dir` (relative paths from it); an error when one points elsewhere.
pub(super) fn files_inside(plan: LogicalPlan, data_dir: Option<&Path>) -> PgWireResult<LogicalPlan> {
    let mut refusal = None;
    let plan = plan.transform_down(|node| {
        let resolved = match node {
            LogicalPlan::Copy(mut copy) => match inside(&copy.output_url, data_dir) {
                Ok(path) => {
                    copy.output_url = path;
                    LogicalPlan::Copy(copy)
                }
                Err(e) => {
                    refusal = Some(e);
                    LogicalPlan::Copy(copy)
                }
            },
            LogicalPlan::Ddl(DdlStatement::CreateExternalTable(mut create)) => {
                let resolved: PgWireResult<Vec<String>> =
                    create.locations.iter().map(|l| inside(l, data_dir)).collect();
                match resolved {
                    Ok(paths) => create.locations = paths,
                    Err(e) => refusal = Some(e),
                }
                LogicalPlan::Ddl(DdlStatement::CreateExternalTable(create))
            }
            other => return Ok(Transformed::no(other)),
        };
        Ok(Transformed::yes(resolved))
    });
    if let Some(e) = refusal {
        return Err(e);
    }
    plan.map(|t| t.data).map_err(api)
}

/// `location` as a path inside `data_dir`, or why it is refused.
fn inside(location: &str, data_dir: Option<&Path>) -> PgWireResult<String> {
    let refuse = |why: String| sql_error("42501", why);
    let Some(data_dir) = data_dir else {
        return Err(refuse(format!(
            "'{location}': this server reads and writes no files (it serves the built-in demo \
             data; start it with --data DIR to use files inside DIR)"
        )));
    };
    let local = location.strip_prefix("file://").unwrap_or(location);
    if local.contains("://") {
        return Err(refuse(format!(
            "'{location}': only files inside the server's --data folder are allowed"
        )));
    }
    let path = Path::new(local);
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(refuse(format!(
            "'{location}' is not inside the server's --data folder: '..' is not allowed in a path"
        )));
    }
    let root = data_dir.canonicalize().map_err(|e| {
        refuse(format!(
            "the server's --data folder '{}' is gone: {e}",
            data_dir.display()
        ))
    })?;
    let joined = data_dir.join(path);
    // The longest part that exists, with links resolved, must lie inside the folder; what
    // follows it has no `..` and cannot leave it.
    let mut existing = joined.as_path();
    let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
    let resolved: PathBuf = loop {
        if let Ok(real) = existing.canonicalize() {
            break real;
        }
        let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else {
            return Err(refuse(format!(
                "'{location}' is not inside the server's --data folder"
            )));
        };
        rest.push(name);
        existing = parent;
    };
    if !resolved.starts_with(&root) {
        return Err(refuse(format!(
            "'{location}' is not inside the server's --data folder '{}'",
            data_dir.display()
        )));
    }
    let mut full = resolved;
    for name in rest.into_iter().rev() {
        full.push(name);
    }
    let mut text = full.to_string_lossy().into_owned();
    // A trailing `/` means a folder to DataFusion.
    if local.ends_with('/') && !text.ends_with('/') {
        text.push('/');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_like_postgres() {
        assert_eq!(parse_timeout("1500"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_timeout("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_timeout("5min"), Some(Duration::from_mins(5)));
        assert_eq!(parse_timeout("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_timeout("0"), Some(Duration::ZERO));
        assert_eq!(parse_timeout("5 min"), Some(Duration::from_mins(5)));
        assert_eq!(parse_timeout("soon"), None);
        assert_eq!(parse_timeout("-1"), None);
        assert_eq!(parse_timeout("1e400"), None);
        assert_eq!(format_duration(Duration::from_mins(5)), "5min");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn statements_are_named_by_their_keywords() {
        assert_eq!(statement_name("CREATE TABLE t AS SELECT 1"), "CREATE TABLE");
        assert_eq!(
            statement_name("create or replace view v as select 1"),
            "CREATE OR REPLACE VIEW"
        );
        assert_eq!(statement_name("INSERT INTO t VALUES (1)"), "INSERT");
        assert_eq!(statement_name("DROP TABLE IF EXISTS t"), "DROP TABLE");
    }

    #[test]
    fn paths_stay_inside_the_data_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("out")).unwrap();
        let data = Some(root.as_path());
        assert_eq!(
            inside("out/r.csv", data).unwrap(),
            root.join("out/r.csv").to_string_lossy()
        );
        assert_eq!(
            inside("new/", data).unwrap(),
            format!("{}/", root.join("new").display())
        );
        let absolute = root.join("r.parquet").to_string_lossy().into_owned();
        assert_eq!(inside(&absolute, data).unwrap(), absolute);
        assert_eq!(inside(&format!("file://{absolute}"), data).unwrap(), absolute);
        for bad in [
            "/etc/passwd",
            "../x.csv",
            "out/../../x.csv",
            "s3://bucket/x.csv",
            "/tmp/x.csv",
        ] {
            let e = inside(bad, data).unwrap_err().to_string();
            assert!(e.contains(bad), "{bad}: {e}");
        }
        // a link inside the folder that leads out of it
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
        assert!(inside("etc/passwd", data).is_err());
        assert!(inside("etc/new.csv", data).is_err());
        assert!(inside("x.csv", None).is_err());
    }
}
