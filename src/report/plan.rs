//! The report as one SQL query over the session's `refusals`, `contacts` and `agents` tables.
//!
//! [`report_sql`] writes it from a resolved request and the tables' schemas; it is the one
//! definition of the report. [`report_plan`] plans that text in a session (what the
//! `agent_refusal(...)` table function and [`super::report`] use), and the Python package runs
//! the same text in datafusion-python's engine, so both give the same rows in the same order.
//!
//! DataFusion inlines the plan and optimizes it with the rest of the query: the window becomes a
//! range predicate on the refusals' `refuse_time` column itself, so it reaches the scan (row-group
//! pruning), and columns nothing reads are not read.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, FieldRef, SchemaRef, TimeUnit};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{ResolvedTableReference, Result, TableReference, plan_datafusion_err, plan_err};
use datafusion::config::ConfigOptions;
use datafusion::datasource::provider_as_source;
use datafusion::execution::SessionState;
use datafusion::logical_expr::planner::{ContextProvider, ExprPlanner};
use datafusion::logical_expr::{
    AggregateUDF, HigherOrderUDF, LogicalPlan, ScalarUDF, TableSource, WindowUDF,
};
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::planner::{ParserOptions, SqlToRel};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use futures::FutureExt;

use super::ResolvedReport;
use crate::config::AgentRefusalConfig;
use crate::reasons::refusal_reason_udf;
use crate::schema::{COLUMNS, REFUSE_TIME, column_names};

/// An SQL identifier, quoted.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// An SQL string literal.
fn text_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `expr` cast to exactly `to` (SQL type names would depend on session settings, such as
/// `datafusion.sql_parser.map_string_types_to_utf8view`).
fn arrow_cast(expr: &str, to: &DataType) -> String {
    format!("arrow_cast({expr}, {})", text_literal(&to.to_string()))
}

/// One input table of the report: the name its setting gives, where that name leads in the
/// catalog, and the table's columns.
struct Input {
    name: String,
    reference: ResolvedTableReference,
    schema: SchemaRef,
}

impl Input {
    /// The table that `agent_refusal.{setting}` names, resolved in `options`' default catalog and
    /// schema, its columns from `schema_of` (`None`: no such table).
    fn resolve(
        options: &ConfigOptions,
        name: &str,
        setting: &str,
        schema_of: &mut dyn FnMut(&ResolvedTableReference) -> Result<Option<SchemaRef>>,
    ) -> Result<Input> {
        let catalog = &options.catalog;
        let reference = TableReference::from(name).resolve(&catalog.default_catalog, &catalog.default_schema);
        let Some(schema) = schema_of(&reference)? else {
            return plan_err!(
                "agent_refusal: table '{name}' not found (register it, or set agent_refusal.{setting} to the table to use)"
            );
        };
        Ok(Input {
            name: name.to_string(),
            reference,
            schema,
        })
    }

    /// The column `name` (exact match first, else the one case-insensitive match), as the quoted
    /// `table."column"`, and its type.
    fn column(&self, name: &str) -> Result<(String, DataType)> {
        let field: &FieldRef = if let Ok(i) = self.schema.index_of(name) {
            &self.schema.fields()[i]
        } else {
            let mut matches = self
                .schema
                .fields()
                .iter()
                .filter(|f| f.name().eq_ignore_ascii_case(name));
            match (matches.next(), matches.next()) {
                (Some(f), None) => f,
                _ => {
                    return plan_err!(
                        "agent_refusal: table '{}' has no column '{name}' (it has: {})",
                        self.name,
                        column_names(&self.schema)
                    );
                }
            }
        };
        Ok((
            format!("{}.{}", quoted_reference(&self.reference), ident(field.name())),
            field.data_type().clone(),
        ))
    }

    fn unusable<T>(&self, column: &str, t: &DataType, expected: &str) -> Result<T> {
        plan_err!(
            "agent_refusal: column {}.{column} has type {t}; expected {expected}",
            self.name
        )
    }

    /// An integer ID column as Int64.
    fn id(&self, name: &str) -> Result<String> {
        let (e, t) = self.column(name)?;
        match t {
            DataType::Int64 => Ok(e),
            t if t.is_integer() || t.is_null() => Ok(arrow_cast(&e, &DataType::Int64)),
            t => self.unusable(name, &t, "an integer"),
        }
    }

    /// A text column as Utf8.
    fn text(&self, name: &str) -> Result<String> {
        let (e, t) = self.column(name)?;
        match t {
            DataType::Utf8 => Ok(e),
            DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => Ok(arrow_cast(&e, &DataType::Utf8)),
            t => self.unusable(name, &t, "text"),
        }
    }

    /// The raw `reason` column (any string type, or integers), as `refusal_reason` takes it.
    fn reason(&self) -> Result<String> {
        let (e, t) = self.column("reason")?;
        match t {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(e),
            t if t.is_integer() || t.is_null() => Ok(e),
            t => self.unusable("reason", &t, "text or an integer"),
        }
    }

    /// The table, as `FROM` names it.
    fn from(&self) -> String {
        quoted_reference(&self.reference)
    }
}

/// `"catalog"."schema"."table"`: every part quoted, so that no name reads as a keyword or as one
/// of the query's own `WITH` names (`r`, `c`, `a`).
pub fn quoted_reference(reference: &ResolvedTableReference) -> String {
    format!(
        "{}.{}.{}",
        ident(&reference.catalog),
        ident(&reference.schema),
        ident(&reference.table)
    )
}

/// `refuse_time` restricted to the window, and the same column as a UTC-based instant in the
/// report's zone.
fn refuse_time(refusals: &Input, request: &ResolvedReport) -> Result<(String, String)> {
    let (raw, t) = refusals.column("refuse_time")?;
    let ranges = request.zone.utc_ranges(request.window.start, request.window.end);
    let out_type = REFUSE_TIME.data_type(request.zone);
    let naive_us = DataType::Timestamp(TimeUnit::Microsecond, None);
    // The instant with its values in UTC, and its type, so that the predicate compares the stored
    // column itself with literals of its own type (and prunes row groups and files).
    let (instant, instant_type, scale) = match &t {
        DataType::Timestamp(unit, _) => {
            let scale: i64 = match unit {
                TimeUnit::Second => 1,
                TimeUnit::Millisecond => 1_000,
                TimeUnit::Microsecond => 1_000_000,
                TimeUnit::Nanosecond => 1_000_000_000,
            };
            (raw.clone(), t.clone(), scale)
        }
        // ISO-8601 text: without an offset it is UTC, with one it is that instant.
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            (arrow_cast(&raw, &naive_us), naive_us.clone(), 1_000_000)
        }
        t => return refusals.unusable("refuse_time", t, "a timestamp or ISO-8601 text"),
    };
    let literal = |secs: i64| arrow_cast(&secs.saturating_mul(scale).to_string(), &instant_type);
    let predicate = if ranges.is_empty() {
        "false".to_string()
    } else {
        ranges
            .iter()
            .map(|&(lo, hi)| format!("({instant} >= {} AND {instant} < {})", literal(lo), literal(hi)))
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    // Re-label the instant with the report's zone. A value without a zone holds UTC: a cast to
    // UTC reads it as UTC's local time, the same instant, and then the zone is only a label.
    // Timestamp-to-timestamp casts keep a declared order (DataFusion knows them as monotonic), so
    // a sorted naive `refuse_time` still spares the final sort.
    let is_naive = !matches!(t, DataType::Timestamp(_, Some(_)));
    let output = if is_naive {
        let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        arrow_cast(&arrow_cast(&arrow_cast(&instant, &naive_us), &utc), &out_type)
    } else {
        arrow_cast(&raw, &out_type)
    };
    Ok((predicate, output))
}

/// The report's query for a resolved request: one `SELECT` over the tables that the
/// `agent_refusal.*_table` settings in `options` name, with their columns from `schema_of` (it
/// returns `None` for a table that does not exist).
///
/// The query ends in `ORDER BY ... OFFSET 0`, which keeps the report's order where it is used as
/// a relation (DataFusion drops an `ORDER BY` inside a relation that has no limit). The refusals
/// are the probe side of every join, so the joins keep their order (see [`super::partial_sort`]).
pub fn report_sql(
    request: &ResolvedReport,
    options: &ConfigOptions,
    schema_of: &mut dyn FnMut(&ResolvedTableReference) -> Result<Option<SchemaRef>>,
) -> Result<String> {
    let config = options
        .extensions
        .get::<AgentRefusalConfig>()
        .cloned()
        .unwrap_or_default();
    let refusals = Input::resolve(options, &config.refusals_table, "refusals_table", schema_of)?;
    let contacts = Input::resolve(options, &config.contacts_table, "contacts_table", schema_of)?;
    let agents = Input::resolve(options, &config.agents_table, "agents_table", schema_of)?;

    let (in_window, refuse_time) = refuse_time(&refusals, request)?;
    let r = format!(
        "SELECT {} AS contact_id, {} AS agent_id, {} AS station_id, {} AS reason, {refuse_time} AS refuse_time FROM {} WHERE {in_window}",
        refusals.id("contact_id")?,
        refusals.id("agent_id")?,
        refusals.id("station_id")?,
        refusals.reason()?,
        refusals.from(),
    );
    // The last handling agent of each refused contact; a duplicated contact takes its smallest
    // agent. The refused ids are the build side of the semi-join and contacts stream past them.
    let c = format!(
        "SELECT k.contact_id, min(k.last_agent) AS last_agent \
         FROM (SELECT contact_id AS refused_id FROM r) AS ids \
         RIGHT SEMI JOIN (SELECT {} AS contact_id, {} AS last_agent FROM {}) AS k \
         ON ids.refused_id = k.contact_id GROUP BY k.contact_id",
        contacts.id("contact_id")?,
        contacts.id("agent_id")?,
        contacts.from(),
    );
    // The refusing agent's full name; a duplicated agent takes the smallest name.
    let a = format!(
        "SELECT n.agent_id, min(n.full_name) AS full_name \
         FROM (SELECT {} AS agent_id, nullif(concat_ws(' ', nullif({}, ''), nullif({}, '')), '') AS full_name FROM {}) AS n \
         GROUP BY n.agent_id",
        agents.id("agent_id")?,
        agents.text("first_name")?,
        agents.text("last_name")?,
        agents.from(),
    );
    // The small lookups are the build sides (left) and the refusals stream through as the probe
    // side (right), so every join keeps the refusals' order: when the refusals are known to be
    // sorted by time, the final sort only orders the ties (see `super::partial_sort`).
    let [
        contact_id,
        agent_no,
        full_name,
        station_id,
        reason,
        refuse_time,
        refusing_agent_id,
    ] = COLUMNS.map(|c| ident(c.name));
    Ok(format!(
        "WITH r AS ({r}), c AS ({c}), a AS ({a}) \
         SELECT r.contact_id AS {contact_id}, coalesce(c.last_agent, r.agent_id) AS {agent_no}, \
         a.full_name AS {full_name}, r.station_id AS {station_id}, refusal_reason(r.reason) AS {reason}, \
         r.refuse_time AS {refuse_time}, r.agent_id AS {refusing_agent_id} \
         FROM a RIGHT JOIN (c RIGHT JOIN r ON c.contact_id = r.contact_id) ON a.agent_id = r.agent_id \
         ORDER BY {refuse_time} ASC NULLS LAST, {contact_id} ASC NULLS LAST, {refusing_agent_id} ASC NULLS LAST \
         OFFSET 0"
    ))
}

/// The table `reference` in the session's catalog, waiting for a catalog that must do I/O.
fn find_table(
    session: &dyn Session,
    reference: &ResolvedTableReference,
) -> Result<Option<Arc<dyn TableProvider>>> {
    let Some(schema) = session
        .catalog_list()
        .catalog(&reference.catalog)
        .and_then(|c| c.schema(&reference.schema))
    else {
        return Ok(None);
    };
    match schema.table(&reference.table).now_or_never() {
        Some(found) => found,
        None => match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| handle.block_on(schema.table(&reference.table)))
            }
            _ => plan_err!(
                "agent_refusal: table '{}' lives in a catalog that cannot be read while planning",
                reference.table
            ),
        },
    }
}

/// The report's logical plan for a resolved request: [`report_sql`] planned over the session's
/// tables and functions.
pub fn report_plan(session: &dyn Session, request: &ResolvedReport) -> Result<LogicalPlan> {
    let mut tables: HashMap<ResolvedTableReference, Arc<dyn TableProvider>> = HashMap::new();
    let sql = report_sql(request, session.config_options(), &mut |reference| {
        let found = find_table(session, reference)?;
        let schema = found.as_ref().map(|t| t.schema());
        if let Some(table) = found {
            tables.insert(reference.clone(), table);
        }
        Ok(schema)
    })?;
    let planners = session
        .as_any()
        .downcast_ref::<SessionState>()
        .map(|state| state.expr_planners().to_vec())
        .unwrap_or_default();
    let context = ReportContext {
        session,
        tables,
        planners,
    };
    let statement = DFParser::parse_sql_with_dialect(&sql, &GenericDialect {})?
        .pop_front()
        .ok_or_else(|| plan_datafusion_err!("agent_refusal: the report's query is empty"))?;
    let Statement::Statement(statement) = statement else {
        return plan_err!("agent_refusal: the report's query is not a SELECT");
    };
    let options = ParserOptions::from(&session.config_options().sql_parser);
    SqlToRel::new_with_options(&context, options).sql_statement_to_plan(*statement)
}

/// What the SQL planner sees while it plans the report: the three resolved tables and the
/// session's functions.
struct ReportContext<'a> {
    session: &'a dyn Session,
    tables: HashMap<ResolvedTableReference, Arc<dyn TableProvider>>,
    planners: Vec<Arc<dyn ExprPlanner>>,
}

impl ContextProvider for ReportContext<'_> {
    fn get_table_source(&self, name: TableReference) -> Result<Arc<dyn TableSource>> {
        let options = &self.session.config_options().catalog;
        let resolved = name.resolve(&options.default_catalog, &options.default_schema);
        let Some(table) = self.tables.get(&resolved) else {
            return plan_err!("agent_refusal: table '{resolved}' not found");
        };
        Ok(provider_as_source(Arc::clone(table)))
    }

    fn get_expr_planners(&self) -> &[Arc<dyn ExprPlanner>] {
        &self.planners
    }

    // The report's functions are the crate's and DataFusion's own, whatever the session has
    // registered under their names (or whether it registered them at all).
    fn get_function_meta(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        if name == refusal_reason_udf().name() {
            return Some(Arc::new(refusal_reason_udf()));
        }
        datafusion::functions::all_default_functions()
            .into_iter()
            .find(|f| f.name() == name)
    }

    fn get_higher_order_meta(&self, name: &str) -> Option<Arc<HigherOrderUDF>> {
        self.session.higher_order_functions().get(name).cloned()
    }

    fn get_aggregate_meta(&self, name: &str) -> Option<Arc<AggregateUDF>> {
        datafusion::functions_aggregate::all_default_aggregate_functions()
            .into_iter()
            .find(|f| f.name() == name)
    }

    fn get_window_meta(&self, name: &str) -> Option<Arc<WindowUDF>> {
        self.session.window_functions().get(name).cloned()
    }

    fn get_variable_type(&self, _variable_names: &[String]) -> Option<DataType> {
        None
    }

    fn options(&self) -> &ConfigOptions {
        self.session.config_options()
    }

    fn udf_names(&self) -> Vec<String> {
        self.session.scalar_functions().keys().cloned().collect()
    }

    fn higher_order_function_names(&self) -> Vec<String> {
        self.session.higher_order_functions().keys().cloned().collect()
    }

    fn udaf_names(&self) -> Vec<String> {
        self.session.aggregate_functions().keys().cloned().collect()
    }

    fn udwf_names(&self) -> Vec<String> {
        self.session.window_functions().keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn arrow_cast_names_read_back_as_the_same_types() {
        for t in [
            DataType::Int64,
            DataType::Utf8,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            DataType::Timestamp(TimeUnit::Second, Some("America/New_York".into())),
            DataType::Timestamp(TimeUnit::Millisecond, Some("+05:30".into())),
        ] {
            assert_eq!(DataType::from_str(&t.to_string()).ok(), Some(t.clone()), "{t}");
        }
    }
}
