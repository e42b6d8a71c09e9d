//! The `agent_refusal(...)` table function: its constant SQL arguments become a [`ReportRequest`],
//! resolved against the session's settings and planned as a view over the session's tables.

use std::sync::Arc;

use arrow::datatypes::{DataType, TimeUnit};
use chrono::{NaiveDate, NaiveTime, TimeDelta, Timelike, Utc};
use datafusion::catalog::view::ViewTable;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, plan_datafusion_err, plan_err};
use datafusion::logical_expr::Expr;

use super::window::{EndTime, Preset, parse_date, parse_time};
use super::{ReportRange, ReportRequest, Zone, report_plan};

/// The `agent_refusal` table function. Register it with [`crate::register`].
#[derive(Debug, Default)]
pub struct AgentRefusal;

impl TableFunctionImpl for AgentRefusal {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let request = ReportRequest::from_args(args.exprs())?;
        let now = session
            .execution_props()
            .query_execution_start_time
            .unwrap_or_else(Utc::now);
        let resolved = request.resolve(session.config_options(), now)?;
        let plan = report_plan(session, &resolved)?;
        Ok(Arc::new(ViewTable::new(plan, None)))
    }
}

impl ReportRequest {
    /// The request that the arguments of `agent_refusal(...)` spell: `(preset)`, `(start_date,
    /// end_date)`, `(start_date, end_date, start_time, end_time)` or the same with a time zone; each
    /// a constant (text, `DATE` or `TIME`).
    pub fn from_args(exprs: &[Expr]) -> Result<ReportRequest> {
        let names = ["start date", "end date", "start time", "end time", "time zone"];
        let args = exprs
            .iter()
            .enumerate()
            .map(|(i, e)| Arg::of(e, names.get(i).copied().unwrap_or("argument")))
            .collect::<Result<Vec<_>>>()?;
        let range = match args.as_slice() {
            [Arg::Text(preset)] => ReportRange::Preset(Preset::parse(preset)?),
            [start, end] => ReportRange::days(start.date("start date")?, end.date("end date")?),
            [start, end, start_time, end_time] | [start, end, start_time, end_time, _] => {
                ReportRange::Dates {
                    from: start.date("start date")?,
                    to: end.date("end date")?,
                    start_time: start_time.time("start time")?.time,
                    end_time: end_time.time("end time")?,
                }
            }
            _ => {
                return plan_err!(
                    "agent_refusal takes (preset), (start_date, end_date), (start_date, end_date, start_time, end_time) or (start_date, end_date, start_time, end_time, time_zone); got {} arguments",
                    exprs.len()
                );
            }
        };
        let zone = match args.get(4) {
            Some(Arg::Text(zone)) => Some(Zone::parse(zone)?),
            Some(_) => {
                return plan_err!("agent_refusal: the time zone must be text, such as 'America/New_York'");
            }
            None => None,
        };
        Ok(ReportRequest {
            range,
            zone,
            ignore_dst: None,
        })
    }
}

/// A constant argument, as text or as a typed date or time.
enum Arg {
    Text(String),
    Date(NaiveDate),
    Time(NaiveTime),
}

impl Arg {
    /// The constant `e`, the function's `what` argument.
    fn of(e: &Expr, what: &str) -> Result<Arg> {
        let Expr::Literal(value, _) = e else {
            return plan_err!("agent_refusal: the {what} must be a constant, got {e}");
        };
        if value.is_null() {
            return plan_err!("agent_refusal: the {what} is NULL");
        }
        let out_of_range = || plan_datafusion_err!("agent_refusal: the {what} is out of range: {value:?}");
        match value {
            ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
                Ok(Arg::Text(s.clone()))
            }
            // days since 1970-01-01; 719,163 days lie between 0001-01-01 and then
            ScalarValue::Date32(Some(days)) => days
                .checked_add(719_163)
                .and_then(NaiveDate::from_num_days_from_ce_opt)
                .map(Arg::Date)
                .ok_or_else(out_of_range),
            ScalarValue::Time32Second(Some(_))
            | ScalarValue::Time32Millisecond(Some(_))
            | ScalarValue::Time64Microsecond(Some(_))
            | ScalarValue::Time64Nanosecond(Some(_)) => {
                match value.cast_to(&DataType::Time64(TimeUnit::Nanosecond))? {
                    ScalarValue::Time64Nanosecond(Some(nanos)) => {
                        Ok(Arg::Time(NaiveTime::MIN + TimeDelta::nanoseconds(nanos)))
                    }
                    _ => Err(out_of_range()),
                }
            }
            other => plan_err!(
                "agent_refusal: the {what} must be a DATE, TIME or text constant, got {other} of type {}",
                other.data_type()
            ),
        }
    }

    fn date(&self, what: &str) -> Result<NaiveDate> {
        match self {
            Arg::Text(t) => parse_date(t, what),
            Arg::Date(d) => Ok(*d),
            Arg::Time(t) => plan_err!("agent_refusal: invalid {what} '{t}': expected a date YYYY-MM-DD"),
        }
    }

    fn time(&self, what: &str) -> Result<EndTime> {
        match self {
            Arg::Text(t) => parse_time(t, what),
            // A TIME value with seconds counts to the second, otherwise to the minute (like 'HH:MM').
            Arg::Time(t) => Ok(EndTime {
                time: t.with_nanosecond(0).unwrap_or(*t),
                has_seconds: t.second() != 0,
            }),
            Arg::Date(d) => {
                plan_err!("agent_refusal: invalid {what} '{d}': expected a time HH:MM or HH:MM:SS")
            }
        }
    }
}
