//! NICE CXone's **Agent Refusal** report as plain SQL on [Apache DataFusion].
//!
//! [`register`] adds everything to a [`SessionContext`]:
//!
//! - the table function `agent_refusal(start_date, end_date [, start_time, end_time [, time_zone]])`
//!   (or `agent_refusal('yesterday')` and the other presets): one row per refusal event in the
//!   window, with `contact_id`, `agent_no`, `full_name`, `station_id`, `reason`, `refuse_time`
//!   and `refusing_agent_id`, as a view over the session's `refusals`, `contacts` and `agents`
//!   tables that DataFusion optimizes with the rest of the query;
//! - the scalar functions `refusal_reason(raw)` and `refusal_reason_text(reason)`;
//! - the `refusal_reasons` table;
//! - the settings `agent_refusal.time_zone`, `agent_refusal.ignore_dst` and
//!   `agent_refusal.{refusals,contacts,agents,stations}_table`;
//! - the physical optimizer rule [`partial_sort::PartialSortRule`]: when the refusals are declared
//!   sorted by `refuse_time` (`WITH ORDER`, Parquet `sorting_columns`, or `--order` in the CLI),
//!   the report's final sort only orders the rows of each instant.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> datafusion::error::Result<()> {
//! use datafusion::prelude::SessionContext;
//!
//! let ctx = SessionContext::new();
//! agent_refusal::register(&ctx)?;
//! agent_refusal::demo::register_demo(&ctx, 1)?;
//! ctx.sql("SET agent_refusal.time_zone = 'America/New_York'").await?;
//! let by_reason = ctx
//!     .sql("SELECT reason, count(*) AS refusals
//!           FROM agent_refusal('2026-03-02', '2026-03-13')
//!           GROUP BY reason ORDER BY refusals DESC")
//!     .await?
//!     .collect()
//!     .await?;
//! assert!(!by_reason.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! [Apache DataFusion]: https://datafusion.apache.org
//! [`SessionContext`]: datafusion::prelude::SessionContext

pub mod agent_refusal;
pub mod config;
pub mod data;
pub mod demo;
pub mod export;
pub mod partial_sort;
pub mod reasons;
pub mod refusal_reason;
pub mod refusal_reason_text;
pub mod refusal_reasons;
pub mod shell;
pub mod window;
pub mod zone;

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionContext;

use crate::partial_sort::PartialSortRule;

pub use crate::agent_refusal::AgentRefusal;
pub use crate::config::AgentRefusalConfig;

/// Registers the report's table function, scalar functions, `refusal_reasons` table and
/// `agent_refusal.*` settings and the `COPY ... STORED AS XLSX | XML | CXONE_CSV | CXONE_TAB` formats
/// on `ctx`, adds the [`partial_sort::PartialSortRule`] physical optimizer rule, and turns on the
/// information schema so that `SHOW` lists the settings. Calling it again is harmless.
pub fn register(ctx: &SessionContext) -> Result<()> {
    {
        let state = ctx.state_ref();
        let mut state = state.write();
        let options = state.config_mut().options_mut();
        // `SHOW agent_refusal.*` and `information_schema.df_settings` need the information schema.
        options.catalog.information_schema = true;
        if options.extensions.get::<AgentRefusalConfig>().is_none() {
            options.extensions.insert(AgentRefusalConfig::default());
        }
        export::copy::register_copy_formats(&mut state)?;
        if !state
            .physical_optimizers()
            .iter()
            .any(|r| r.name() == PartialSortRule::NAME)
        {
            let with_rule = SessionStateBuilder::new_from_existing(state.clone())
                .with_physical_optimizer_rule(Arc::new(PartialSortRule))
                .build();
            *state = with_rule;
        }
    }
    ctx.register_udtf("agent_refusal", Arc::new(AgentRefusal));
    ctx.register_udf(refusal_reason::refusal_reason_udf());
    ctx.register_udf(refusal_reason_text::refusal_reason_text_udf());
    ctx.register_table(
        "refusal_reasons",
        Arc::new(refusal_reasons::refusal_reasons_table()?),
    )?;
    Ok(())
}

/// The largest key range (max - min + 1) of a join's build side that the CLI session looks up in an
/// array rather than a hash table (`datafusion.execution.perfect_hash_join_small_build_threshold`).
pub const PERFECT_HASH_JOIN_RANGE: usize = 1 << 26;

/// A new session with everything registered over `data` (see [`data::register_data_dir`]), or over
/// the built-in demo data set when `data` is `None`: the session of the `agent-refusal` CLI.
///
/// It is tuned for the report (measured with `benches/scale.rs`): batches of 32,768 rows; joins
/// that build one hash table from the smaller side rather than repartitioning both sides
/// (`datafusion.optimizer.repartition_joins = false`); and array lookups for joins whose build
/// keys span fewer than [`PERFECT_HASH_JOIN_RANGE`] values. All can be changed with `SET`.
///
/// `orders` declares the sort orders of some of the `data` tables (`--order`): with
/// `refusals=refuse_time`, the report's final sort only orders the ties (see [`partial_sort`]).
pub async fn session(data: Option<&std::path::Path>, orders: &[data::TableOrder]) -> Result<SessionContext> {
    let mut config = datafusion::prelude::SessionConfig::new()
        .with_batch_size(32 * 1024)
        .with_repartition_joins(false);
    // A join on integer keys whose build side spans under 64Mi values (the refused contact ids of
    // a day or a month) looks keys up in an array (at most 256 MiB) instead of a hash table.
    config
        .options_mut()
        .execution
        .perfect_hash_join_small_build_threshold = PERFECT_HASH_JOIN_RANGE;
    let ctx = SessionContext::new_with_config(config);
    register(&ctx)?;
    match data {
        Some(dir) => {
            data::register_data_dir(&ctx, dir, orders).await?;
        }
        None if !orders.is_empty() => {
            return datafusion::common::plan_err!(
                "--order needs --data: the built-in demo data's order is fixed"
            );
        }
        None => demo::register_demo(&ctx, 1)?,
    }
    Ok(ctx)
}

/// A schema's column names, comma-separated, for error messages that list what a table has.
pub(crate) fn column_names(schema: &arrow::datatypes::Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The date range of a report: a preset, or dates with start and end times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportRange {
    /// A preset such as `yesterday` or `previous month`.
    Preset(String),
    /// Dates (`YYYY-MM-DD`) and times (`HH:MM` or `HH:MM:SS`).
    Dates {
        /// First day.
        from: String,
        /// Last day, inclusive.
        to: String,
        /// Start time on the first day.
        start_time: String,
        /// End time on the last day, inclusive.
        end_time: String,
    },
}

impl ReportRange {
    /// The `SELECT * FROM agent_refusal(...)` query for this range, in the session's zone.
    pub fn to_sql(&self) -> String {
        let args: Vec<String> = match self {
            ReportRange::Preset(p) => vec![quote(p)],
            ReportRange::Dates {
                from,
                to,
                start_time,
                end_time,
            } => [from, to, start_time, end_time]
                .into_iter()
                .map(|s| quote(s))
                .collect(),
        };
        format!("SELECT * FROM agent_refusal({})", args.join(", "))
    }
}

/// `s` as a SQL string literal.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
