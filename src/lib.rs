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
//!   `agent_refusal.{refusals,contacts,agents}_table`;
//! - the `COPY ... STORED AS XLSX | XML | CXONE_CSV | CXONE_TAB` formats;
//! - the physical optimizer rule [`report::partial_sort::PartialSortRule`]: when the refusals are declared
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
//! agent_refusal::sources::demo::register_demo(&ctx, 1)?;
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
//! From Rust, [`report::report`] takes a typed [`report::ReportRequest`] and returns a
//! `DataFrame`; [`export`] writes any record-batch stream in CXone's formats, XLSX, Parquet, JSON
//! and NDJSON, atomically.
//!
//! | module | what it holds |
//! |---|---|
//! | [`report`] | the request, its window and zone, the plan, the table function, the partial-sort rule |
//! | [`schema`] | the report's output columns (names, types, CXone headers), defined once |
//! | [`reasons`] | the reason catalogue and matching rule, `refusal_reason`, `refusal_reason_text`, `refusal_reasons` |
//! | [`config`] | the `agent_refusal.*` settings |
//! | [`sources`] | a folder of files as tables (`--data`), the built-in demo data |
//! | [`export`] | the writers, one module per format, and `COPY ... STORED AS` |
//! | `shell` | (feature `cli`) the REPL and statement runner of the `agent-refusal` binary |
//! | `server` | (feature `server`) the PostgreSQL wire protocol server of `agent-refusal serve` |
//!
//! Features: `cli` (default) builds the `agent-refusal` binary and the `shell` module, and turns
//! on `server` (datafusion-postgres, pgwire, rustls); with `default-features = false` the library
//! depends on DataFusion and a few small crates only.
//!
//! [Apache DataFusion]: https://datafusion.apache.org
//! [`SessionContext`]: datafusion::prelude::SessionContext

pub mod config;
pub mod error;
pub mod export;
pub mod reasons;
pub mod report;
pub mod schema;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "cli")]
pub mod shell;
pub mod sources;

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

pub use crate::config::AgentRefusalConfig;
use crate::report::partial_sort::PartialSortRule;

/// Registers the report's table function, scalar functions, `refusal_reasons` table and
/// `agent_refusal.*` settings and the `COPY ... STORED AS XLSX | XML | CXONE_CSV | CXONE_TAB` formats
/// on `ctx`, adds the [`PartialSortRule`] physical optimizer rule, and turns on the
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
    ctx.register_udtf("agent_refusal", Arc::new(report::AgentRefusal));
    ctx.register_udf(reasons::refusal_reason_udf());
    ctx.register_udf(reasons::refusal_reason_text_udf());
    ctx.register_table("refusal_reasons", Arc::new(reasons::refusal_reasons_table()?))?;
    Ok(())
}

/// The largest key range (max - min + 1) of a join's build side that [`session_config`] looks up
/// in an array rather than a hash table
/// (`datafusion.execution.perfect_hash_join_small_build_threshold`).
pub const PERFECT_HASH_JOIN_RANGE: usize = 1 << 26;

/// A session configuration tuned for the report (measured with `benches/scale.rs`), the one the
/// `agent-refusal` CLI uses: batches of 32,768 rows; joins that build one hash table from the
/// smaller side rather than repartitioning both sides (`datafusion.optimizer.repartition_joins =
/// false`); and array lookups for joins whose build keys span fewer than
/// [`PERFECT_HASH_JOIN_RANGE`] values (the refused contact ids of a day or a month; at most
/// 256 MiB). All can be changed with `SET`.
pub fn session_config() -> SessionConfig {
    let mut config = SessionConfig::new()
        .with_batch_size(32 * 1024)
        .with_repartition_joins(false);
    config
        .options_mut()
        .execution
        .perfect_hash_join_small_build_threshold = PERFECT_HASH_JOIN_RANGE;
    config
}
