//! The report's logical plan over the session's `refusals`, `contacts` and `agents` tables.
//!
//! DataFusion inlines it and optimizes it with the rest of the query: the window becomes a range
//! predicate on the refusals' `refuse_time` column, so it reaches the scan (row-group pruning),
//! and columns nothing reads are not read.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, TimeUnit};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{
    Column, JoinType, Result, ScalarValue, TableReference, plan_datafusion_err, plan_err,
};
use datafusion::datasource::provider_as_source;
use datafusion::functions::expr_fn::{coalesce, concat_ws, nullif};
use datafusion::functions_aggregate::expr_fn::min;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, col, lit};
use futures::FutureExt;

use super::ResolvedReport;
use crate::config::AgentRefusalConfig;
use crate::reasons::refusal_reason_udf;
use crate::schema::{
    AGENT_NO, CONTACT_ID, FULL_NAME, REASON, REFUSE_TIME, REFUSING_AGENT_ID, STATION_ID, column_names,
};

/// One input table of the report, resolved in the session's catalog.
struct Input {
    name: String,
    reference: TableReference,
    provider: Arc<dyn TableProvider>,
}

impl Input {
    fn resolve(session: &dyn Session, name: &str, setting: &str) -> Result<Input> {
        let reference = TableReference::from(name);
        let options = &session.config_options().catalog;
        let resolved = reference
            .clone()
            .resolve(&options.default_catalog, &options.default_schema);
        let not_found = || {
            plan_datafusion_err!(
                "agent_refusal: table '{name}' not found (register it, or set agent_refusal.{setting} to the table to use)"
            )
        };
        let schema = session
            .catalog_list()
            .catalog(&resolved.catalog)
            .and_then(|c| c.schema(&resolved.schema))
            .ok_or_else(not_found)?;
        let table_future = schema.table(&resolved.table);
        let provider = match table_future.now_or_never() {
            Some(found) => found?,
            // A catalog that must do I/O to find the table: wait for it on this runtime.
            None => match tokio::runtime::Handle::try_current() {
                Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                    tokio::task::block_in_place(|| handle.block_on(schema.table(&resolved.table)))?
                }
                _ => {
                    return plan_err!(
                        "agent_refusal: table '{name}' lives in a catalog that cannot be read while planning"
                    );
                }
            },
        };
        let provider = provider.ok_or_else(not_found)?;
        Ok(Input {
            name: name.to_string(),
            reference,
            provider,
        })
    }

    /// The column `name` (exact match first, else the one case-insensitive match) and its type.
    fn column(&self, name: &str) -> Result<(Expr, DataType)> {
        let schema = self.provider.schema();
        let field: &Field = if let Ok(f) = schema.field_with_name(name) {
            f
        } else {
            let mut matches = schema
                .fields()
                .iter()
                .filter(|f| f.name().eq_ignore_ascii_case(name));
            match (matches.next(), matches.next()) {
                (Some(f), None) => f,
                _ => {
                    return plan_err!(
                        "agent_refusal: table '{}' has no column '{name}' (it has: {})",
                        self.name,
                        column_names(&schema)
                    );
                }
            }
        };
        let expr = Expr::Column(Column::new(Some(self.reference.clone()), field.name()));
        Ok((expr, field.data_type().clone()))
    }

    fn unusable<T>(&self, column: &str, t: &DataType, expected: &str) -> Result<T> {
        plan_err!(
            "agent_refusal: column {}.{column} has type {t}; expected {expected}",
            self.name
        )
    }

    /// An integer ID column as Int64.
    fn id(&self, name: &str) -> Result<Expr> {
        let (e, t) = self.column(name)?;
        match t {
            DataType::Int64 => Ok(e),
            t if t.is_integer() || t.is_null() => Ok(cast(e, DataType::Int64)),
            t => self.unusable(name, &t, "an integer"),
        }
    }

    /// A text column as Utf8.
    fn text(&self, name: &str) -> Result<Expr> {
        let (e, t) = self.column(name)?;
        match t {
            DataType::Utf8 => Ok(e),
            DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => Ok(cast(e, DataType::Utf8)),
            t => self.unusable(name, &t, "text"),
        }
    }

    /// The raw `reason` column (any string type, or integers), as `refusal_reason` takes it.
    fn reason(&self) -> Result<Expr> {
        let (e, t) = self.column("reason")?;
        match t {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(e),
            t if t.is_integer() || t.is_null() => Ok(e),
            t => self.unusable("reason", &t, "text or an integer"),
        }
    }

    fn scan(&self) -> Result<LogicalPlanBuilder> {
        LogicalPlanBuilder::scan(
            self.reference.clone(),
            provider_as_source(Arc::clone(&self.provider)),
            None,
        )
    }
}

/// `refuse_time` restricted to the window, and the same column as a UTC-based instant in `zone`.
fn refuse_time(refusals: &Input, request: &ResolvedReport) -> Result<(Expr, Expr)> {
    let (raw, t) = refusals.column("refuse_time")?;
    let ranges = request.zone.utc_ranges(request.window.start, request.window.end);
    let out_type = REFUSE_TIME.data_type(request.zone);
    // The instant with its values in UTC, and a literal maker in the same type, so that the
    // predicate compares the stored column itself (and prunes row groups and files).
    let (instant, literal): (Expr, Box<dyn Fn(i64) -> Expr>) = match &t {
        DataType::Timestamp(unit, tz) => {
            let (unit, tz) = (*unit, tz.clone());
            let scale = match unit {
                TimeUnit::Second => 1,
                TimeUnit::Millisecond => 1_000,
                TimeUnit::Microsecond => 1_000_000,
                TimeUnit::Nanosecond => 1_000_000_000,
            };
            let lit_of = move |secs: i64| {
                let v = Some(secs.saturating_mul(scale));
                lit(match unit {
                    TimeUnit::Second => ScalarValue::TimestampSecond(v, tz.clone()),
                    TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(v, tz.clone()),
                    TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(v, tz.clone()),
                    TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(v, tz.clone()),
                })
            };
            (raw.clone(), Box::new(lit_of))
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            // ISO-8601 text: without an offset it is UTC, with one it is that instant.
            let parsed = cast(raw.clone(), DataType::Timestamp(TimeUnit::Microsecond, None));
            let lit_of = |secs: i64| {
                lit(ScalarValue::TimestampMicrosecond(
                    Some(secs.saturating_mul(1_000_000)),
                    None,
                ))
            };
            (parsed, Box::new(lit_of))
        }
        t => return refusals.unusable("refuse_time", t, "a timestamp or ISO-8601 text"),
    };
    let predicate = ranges
        .iter()
        .map(|&(lo, hi)| {
            instant
                .clone()
                .gt_eq(literal(lo))
                .and(instant.clone().lt(literal(hi)))
        })
        .reduce(Expr::or)
        .unwrap_or(lit(false));
    // Re-label the instant with the report's zone. A value without a zone holds UTC: a cast to
    // UTC reads it as UTC's local time, the same instant, and then the zone is only a label.
    // Timestamp-to-timestamp casts keep a declared order (DataFusion knows them as monotonic), so
    // a sorted naive `refuse_time` still spares the final sort.
    let naive_us = cast(instant, DataType::Timestamp(TimeUnit::Microsecond, None));
    let is_naive = matches!(t, DataType::Timestamp(_, None)) || !matches!(t, DataType::Timestamp(..));
    let output = if is_naive {
        let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        cast(cast(naive_us, utc), out_type)
    } else {
        cast(raw, out_type)
    };
    Ok((predicate, output))
}

/// The report's logical plan for a resolved request, over the tables that the session's
/// `agent_refusal.*_table` settings name.
pub fn report_plan(session: &dyn Session, request: &ResolvedReport) -> Result<LogicalPlan> {
    let config = session
        .config_options()
        .extensions
        .get::<AgentRefusalConfig>()
        .cloned()
        .unwrap_or_default();
    let refusals = Input::resolve(session, &config.refusals_table, "refusals_table")?;
    let contacts = Input::resolve(session, &config.contacts_table, "contacts_table")?;
    let agents = Input::resolve(session, &config.agents_table, "agents_table")?;

    let (in_window, refuse_time) = refuse_time(&refusals, request)?;
    let r = refusals
        .scan()?
        .filter(in_window)?
        .project(vec![
            refusals.id("contact_id")?.alias("contact_id"),
            refusals.id("agent_id")?.alias("agent_id"),
            refusals.id("station_id")?.alias("station_id"),
            refusals.reason()?.alias("reason"),
            refuse_time.alias("refuse_time"),
        ])?
        .alias("r")?
        .build()?;

    // The last handling agent of each refused contact; a duplicated contact takes its smallest agent.
    // The refused ids are the build side of the semi-join and contacts stream past them.
    let refused_ids = LogicalPlanBuilder::from(r.clone())
        .project(vec![col("r.contact_id").alias("refused_id")])?
        .build()?;
    let contact_rows = contacts
        .scan()?
        .project(vec![
            contacts.id("contact_id")?.alias("contact_id"),
            contacts.id("agent_id")?.alias("last_agent"),
        ])?
        .build()?;
    let c = LogicalPlanBuilder::from(refused_ids)
        .join(
            contact_rows,
            JoinType::RightSemi,
            (vec!["refused_id"], vec!["contact_id"]),
            None,
        )?
        .aggregate(
            vec![col("contact_id")],
            vec![min(col("last_agent")).alias("last_agent")],
        )?
        .alias("c")?
        .build()?;

    // The refusing agent's full name; a duplicated agent takes the smallest name.
    let first = nullif(agents.text("first_name")?, lit(""));
    let last = nullif(agents.text("last_name")?, lit(""));
    let a = agents
        .scan()?
        .project(vec![
            agents.id("agent_id")?.alias("agent_id"),
            nullif(concat_ws(lit(" "), vec![first, last]), lit("")).alias("full_name"),
        ])?
        .aggregate(
            vec![col("agent_id")],
            vec![min(col("full_name")).alias("full_name")],
        )?
        .alias("a")?
        .build()?;

    // The small lookups are the build sides (left) and the refusals stream through as the probe
    // side (right), so every join keeps the refusals' order: when the refusals are known to be
    // sorted by time, the final sort only orders the ties (see `super::partial_sort`).
    let with_contact = LogicalPlanBuilder::from(c)
        .join(
            r,
            JoinType::Right,
            (
                vec![Column::from_qualified_name("c.contact_id")],
                vec![Column::from_qualified_name("r.contact_id")],
            ),
            None,
        )?
        .build()?;
    LogicalPlanBuilder::from(a)
        .join(
            with_contact,
            JoinType::Right,
            (
                vec![Column::from_qualified_name("a.agent_id")],
                vec![Column::from_qualified_name("r.agent_id")],
            ),
            None,
        )?
        .project(vec![
            col("r.contact_id").alias(CONTACT_ID.name),
            coalesce(vec![col("c.last_agent"), col("r.agent_id")]).alias(AGENT_NO.name),
            col("a.full_name").alias(FULL_NAME.name),
            col("r.station_id").alias(STATION_ID.name),
            refusal_reason_udf()
                .call(vec![col("r.reason")])
                .alias(REASON.name),
            col("r.refuse_time").alias(REFUSE_TIME.name),
            col("r.agent_id").alias(REFUSING_AGENT_ID.name),
        ])?
        .sort(vec![
            col(REFUSE_TIME.name).sort(true, false),
            col(CONTACT_ID.name).sort(true, false),
            col(REFUSING_AGENT_ID.name).sort(true, false),
        ])?
        // DataFusion's SQL planner drops an ORDER BY inside a relation unless a LIMIT sits above
        // it (`sql_parser.enable_subquery_sort_elimination`). The report's order is part of its
        // contract, so keep the sort with a limit that limits nothing (the optimizer removes it).
        .limit(0, None)?
        .build()
}
