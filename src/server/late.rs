//! Bound parameters in the report's arguments (`SELECT * FROM agent_refusal($1, $2)` through
//! the extended protocol, as drivers send it). DataFusion calls a table function while it plans,
//! before any value is bound, so the server plans such a statement when it is executed, with
//! the values in place. At `Parse` it answers with a stand-in plan: the same query with sample
//! arguments (the same columns), whose report parameters are text.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::logical_expr::expr::Placeholder;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, lit};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    self as sql, FunctionArg, FunctionArgExpr, Statement, TableFactor, Value, VisitMut, VisitorMut,
};
use datafusion_postgres::QueryHook;

use super::guard::api;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::api::results::Response;
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};

/// The table functions whose arguments may be bound parameters.
const REPORT_FUNCTIONS: [&str; 1] = ["agent_refusal"];

/// The SQL of this connection's prepared statements that are planned when executed.
#[derive(Default, Clone)]
pub(super) struct LateStatements(Arc<Mutex<HashSet<String>>>);

impl LateStatements {
    pub(super) fn contains(&self, sql: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(sql)
    }

    fn insert(&self, sql: String) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(sql);
    }
}

/// A valid argument for each position of the report's argument forms: a preset alone, or dates,
/// times and a zone.
fn sample_argument(position: usize, count: usize) -> &'static str {
    match (count, position) {
        (1, _) => "today",
        (_, 0 | 1) => "2000-01-03",
        (_, 2) => "00:00",
        (_, 3) => "23:59",
        _ => "UTC",
    }
}

/// Puts sample arguments in place of the parameters among the report functions' arguments;
/// returns those parameters' ids (`$1`).
struct SampleArguments {
    replaced: Vec<String>,
}

impl VisitorMut for SampleArguments {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let Some(args) = report_arguments(factor) else {
            return ControlFlow::Continue(());
        };
        let count = args.len();
        for (position, expr) in args.into_iter().enumerate() {
            if let sql::Expr::Value(value) = expr
                && let Value::Placeholder(id) = &value.value
            {
                self.replaced.push(id.clone());
                *expr = sql::Expr::value(Value::SingleQuotedString(
                    sample_argument(position, count).to_string(),
                ));
            }
        }
        ControlFlow::Continue(())
    }
}

/// `statement` with the bound values of the report functions' parameters in place, as text
/// (the arguments are text); the other parameters stay, bound later in the plan. The values go
/// into the syntax tree, never into SQL text.
pub(super) fn bind(statement: &Statement, values: &ParamValues) -> PgWireResult<Statement> {
    let mut bound = statement.clone();
    let mut binder = BindArguments { values, error: None };
    let _ = bound.visit(&mut binder);
    match binder.error {
        Some(e) => Err(e),
        None => Ok(bound),
    }
}

struct BindArguments<'a> {
    values: &'a ParamValues,
    error: Option<PgWireError>,
}

impl VisitorMut for BindArguments<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let Some(args) = report_arguments(factor) else {
            return ControlFlow::Continue(());
        };
        for expr in args {
            let sql::Expr::Value(value) = expr else { continue };
            let Value::Placeholder(id) = &value.value else {
                continue;
            };
            match self.values.get_placeholders_with_values(id) {
                Ok(bound) => {
                    *expr = match bound.value {
                        ScalarValue::Utf8(Some(text))
                        | ScalarValue::Utf8View(Some(text))
                        | ScalarValue::LargeUtf8(Some(text)) => {
                            sql::Expr::value(Value::SingleQuotedString(text))
                        }
                        other if other.is_null() => sql::Expr::value(Value::Null),
                        other => sql::Expr::value(Value::SingleQuotedString(other.to_string())),
                    };
                }
                Err(e) => {
                    self.error = Some(api(e));
                    return ControlFlow::Break(());
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// The argument expressions of a report function's call, when `factor` is one.
fn report_arguments(factor: &mut TableFactor) -> Option<Vec<&mut sql::Expr>> {
    let TableFactor::Table {
        name,
        args: Some(args),
        ..
    } = factor
    else {
        return None;
    };
    let function = name.to_string().to_ascii_lowercase();
    if !REPORT_FUNCTIONS
        .iter()
        .any(|f| function == *f || function.ends_with(&format!(".{f}")))
    {
        return None;
    }
    Some(
        args.args
            .iter_mut()
            .filter_map(|arg| match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(expr))
                | FunctionArg::Named {
                    arg: FunctionArgExpr::Expr(expr),
                    ..
                } => Some(expr),
                _ => None,
            })
            .collect(),
    )
}

/// Answers `Parse` for statements with parameters among the report's arguments.
pub(super) struct LateHook {
    pub(super) late: LateStatements,
}

#[async_trait]
impl QueryHook for LateHook {
    async fn handle_simple_query(
        &self,
        _statement: &Statement,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        None
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        let mut stand_in = statement.clone();
        let mut samples = SampleArguments { replaced: Vec::new() };
        let _ = stand_in.visit(&mut samples);
        if samples.replaced.is_empty() {
            return None;
        }
        let planned = ctx
            .state()
            .statement_to_plan(DFStatement::Statement(Box::new(stand_in)))
            .await
            .and_then(|plan| {
                // The replaced parameters stay in the plan, as text, for the driver to bind.
                let text = Arc::new(Field::new("argument", DataType::Utf8, true));
                let keep = samples
                    .replaced
                    .iter()
                    .map(|id| {
                        Expr::Placeholder(Placeholder::new_with_field(id.clone(), Some(Arc::clone(&text))))
                            .is_null()
                            .or(lit(true))
                    })
                    .reduce(Expr::and)
                    .unwrap_or_else(|| lit(true));
                LogicalPlanBuilder::from(plan).filter(keep)?.build()
            });
        Some(match planned {
            Ok(plan) => {
                self.late.insert(statement.to_string());
                Ok(plan)
            }
            Err(e) => Err(api(e)),
        })
    }

    async fn handle_extended_query(
        &self,
        _statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        None
    }
}
