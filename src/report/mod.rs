//! The report: a typed request (range, zone, DST rule), the one place that resolves it into a
//! local window and a zone, the plan over the session's tables, and the `agent_refusal(...)`
//! table function that SQL reaches it through.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> datafusion::error::Result<()> {
//! use agent_refusal::report::{self, ReportRange, ReportRequest, Zone};
//! use chrono::NaiveDate;
//! use datafusion::prelude::SessionContext;
//!
//! let ctx = SessionContext::new();
//! agent_refusal::register(&ctx)?;
//! agent_refusal::sources::demo::register_demo(&ctx, 1)?;
//! let day = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
//! let request = ReportRequest::new(ReportRange::days(day, day))
//!     .with_zone(Zone::parse("America/New_York")?);
//! let rows = report::report(&ctx, &request)?.count().await?;
//! assert!(rows > 0);
//! # Ok(())
//! # }
//! ```

mod function;
pub mod partial_sort;
mod plan;
mod window;
mod zone;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use datafusion::common::Result;
use datafusion::config::ConfigOptions;
use datafusion::prelude::{DataFrame, SessionContext};

use crate::config::AgentRefusalConfig;

pub use function::AgentRefusal;
pub use plan::{quoted_reference, report_plan, report_sql};
pub use window::{EndTime, Preset, Window, parse_date, parse_time};
pub use zone::Zone;

/// The date range of a report: a preset, or dates with start and end times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportRange {
    /// A preset such as yesterday or the previous month, relative to today in the report's zone.
    Preset(Preset),
    /// From `from + start_time` through `to + end_time`, inclusive to the end time's unit.
    Dates {
        /// First day.
        from: NaiveDate,
        /// Last day, inclusive.
        to: NaiveDate,
        /// Start time on the first day.
        start_time: NaiveTime,
        /// End time on the last day, inclusive to its minute or second.
        end_time: EndTime,
    },
}

impl ReportRange {
    /// Whole days, `from` through `to` (`00:00` to `23:59`).
    pub fn days(from: NaiveDate, to: NaiveDate) -> ReportRange {
        ReportRange::Dates {
            from,
            to,
            start_time: NaiveTime::MIN,
            end_time: EndTime::END_OF_DAY,
        }
    }
}

/// What to report: a range, and optionally the zone and the DST rule (otherwise the session's
/// settings decide, as for `agent_refusal(...)` in SQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportRequest {
    /// The date range.
    pub range: ReportRange,
    /// The report's zone; `None`: the setting `agent_refusal.time_zone`, else the session's
    /// `datafusion.execution.time_zone`, else UTC.
    pub zone: Option<Zone>,
    /// Whether to use the zone's standard offset all year (CXone's way); `None`: the setting
    /// `agent_refusal.ignore_dst`.
    pub ignore_dst: Option<bool>,
}

/// A request resolved against a session's settings at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedReport {
    /// The local-clock window.
    pub window: Window,
    /// The zone that reads the window and shows `refuse_time` (a fixed standard offset when DST
    /// is ignored).
    pub zone: Zone,
    /// The date at the resolving instant in the report's zone: what presets count from and what
    /// `--append-date` stamps.
    pub run_date: NaiveDate,
}

impl ReportRequest {
    /// A request for `range`, with zone and DST rule from the session's settings.
    pub fn new(range: ReportRange) -> ReportRequest {
        ReportRequest {
            range,
            zone: None,
            ignore_dst: None,
        }
    }

    /// The same request in `zone`.
    #[must_use]
    pub fn with_zone(self, zone: Zone) -> ReportRequest {
        ReportRequest {
            zone: Some(zone),
            ..self
        }
    }

    /// The same request with daylight saving time ignored (`true`) or applied (`false`).
    #[must_use]
    pub fn with_ignore_dst(self, ignore_dst: bool) -> ReportRequest {
        ReportRequest {
            ignore_dst: Some(ignore_dst),
            ..self
        }
    }

    /// Resolves the zone (request, settings, session zone, UTC), the DST rule and the window, at
    /// the instant `now` (presets count from today in the report's zone).
    pub fn resolve(&self, options: &ConfigOptions, now: DateTime<Utc>) -> Result<ResolvedReport> {
        let config = options
            .extensions
            .get::<AgentRefusalConfig>()
            .cloned()
            .unwrap_or_default();
        let named = match self.zone {
            Some(zone) => zone,
            None => match config.time_zone.or_else(|| options.execution.time_zone.clone()) {
                Some(text) => Zone::parse(&text)?,
                None => Zone::UTC,
            },
        };
        let ignore_dst = self.ignore_dst.unwrap_or(config.ignore_dst);
        // The zone in effect at a UTC instant: with DST ignored, its standard offset then.
        let effective = |utc: NaiveDateTime| {
            if ignore_dst { named.without_dst(utc) } else { named }
        };
        let run_date = effective(now.naive_utc()).date_at(now);
        let window = match self.range {
            ReportRange::Preset(preset) => preset.window(run_date)?,
            ReportRange::Dates {
                from,
                to,
                start_time,
                end_time,
            } => Window::new(from, to, start_time, end_time)?,
        };
        Ok(ResolvedReport {
            window,
            // the window's start is a local reading: its UTC instant, to the zone's offset then
            zone: effective(
                window.start
                    - chrono::TimeDelta::seconds(named.offset_at(window.start.and_utc().timestamp())),
            ),
            run_date,
        })
    }
}

impl ResolvedReport {
    /// The report over `ctx`'s tables, as a `DataFrame` to collect, stream or export.
    ///
    /// The plan keeps the refusals on the probe side of every join, which preserves their time
    /// order (see [`partial_sort`]); so that table statistics cannot swap those sides, the
    /// `DataFrame` runs with `datafusion.optimizer.join_reordering = false` (the session itself is
    /// not changed).
    pub fn dataframe(&self, ctx: &SessionContext) -> Result<DataFrame> {
        let mut state = ctx.state();
        state.config_mut().options_mut().optimizer.join_reordering = false;
        let plan = report_plan(&state, self)?;
        Ok(DataFrame::new(state, plan))
    }
}

/// The report for `request` over `ctx`'s tables, resolved now, as a `DataFrame` (see
/// [`ResolvedReport::dataframe`]).
pub fn report(ctx: &SessionContext, request: &ReportRequest) -> Result<DataFrame> {
    let resolved = request.resolve(ctx.state().config_options(), Utc::now())?;
    resolved.dataframe(ctx)
}
