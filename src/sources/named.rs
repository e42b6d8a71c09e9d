//! A table whose read errors name its file: DataFusion's CSV and JSON readers report a bad row
//! by its line but not by its file, and a report reads several files.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use async_trait::async_trait;
use datafusion::catalog::{ScanArgs, ScanResult, Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result, Statistics};
use datafusion::datasource::TableType;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::execution_plan::CardinalityEffect;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildStats, ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
    ReplaceChildrenOptions, StatisticsArgs,
};
use futures::TryStreamExt;

/// A table read from files, whose scan errors name the file (or folder) they come from.
#[derive(Debug)]
pub(crate) struct NamedSource {
    inner: Arc<dyn TableProvider>,
    source: Arc<str>,
}

impl NamedSource {
    /// `inner`, read from `source` (`file 'data/refusals.csv'`).
    pub(crate) fn new(inner: Arc<dyn TableProvider>, source: String) -> Self {
        Self {
            inner,
            source: source.into(),
        }
    }

    /// The table read.
    pub(crate) fn inner(&self) -> &Arc<dyn TableProvider> {
        &self.inner
    }

    fn wrap(&self, plan: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        Arc::new(NamedSourceExec {
            input: plan,
            source: Arc::clone(&self.source),
            columns: self
                .inner
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
        })
    }
}

#[async_trait]
impl TableProvider for NamedSource {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self.wrap(self.inner.scan(state, projection, filters, limit).await?))
    }

    async fn scan_with_args<'a>(&self, state: &dyn Session, args: ScanArgs<'a>) -> Result<ScanResult> {
        let plan = self.inner.scan_with_args(state, args).await?.into_inner();
        Ok(ScanResult::new(self.wrap(plan)))
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }
}

/// The scan of a [`NamedSource`]: its input's batches, its errors with the file named.
#[derive(Debug)]
struct NamedSourceExec {
    input: Arc<dyn ExecutionPlan>,
    source: Arc<str>,
    /// The table's columns, to name the column of a parse error.
    columns: Vec<String>,
}

impl DisplayAs for NamedSourceExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "NamedSourceExec: {}", self.source)
    }
}

impl ExecutionPlan for NamedSourceExec {
    fn name(&self) -> &'static str {
        "NamedSourceExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match <[_; 1]>::try_from(children) {
            Ok([input]) => Ok(Arc::new(NamedSourceExec {
                input,
                source: Arc::clone(&self.source),
                columns: self.columns.clone(),
            })),
            Err(children) => {
                datafusion::common::internal_err!("NamedSourceExec takes one input, got {}", children.len())
            }
        }
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn supports_limit_pushdown(&self) -> bool {
        true
    }

    fn cardinality_effect(&self) -> CardinalityEffect {
        CardinalityEffect::Equal
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let source = Arc::clone(&self.source);
        let columns = self.columns.clone();
        let stream = self
            .input
            .execute(partition, context)
            .map_err(|e| named(e, &source, &columns))?;
        let schema = stream.schema();
        let stream = stream.map_err(move |e| named(e, &source, &columns));
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        Ok(input_stats.first().map_or_else(
            || Arc::new(Statistics::new_unknown(&self.input.schema())),
            Arc::clone,
        ))
    }
}

/// A read error with its source named; other errors (out of memory, cancelled) as they are.
fn named(e: DataFusionError, source: &str, columns: &[String]) -> DataFusionError {
    let cause = match e {
        DataFusionError::ArrowError(arrow, _) => data_error(*arrow, columns),
        DataFusionError::IoError(_) | DataFusionError::ObjectStore(_) | DataFusionError::Execution(_) => e,
        other => return other,
    };
    DataFusionError::Context(source.to_string(), Box::new(cause))
}

/// Arrow's CSV parse error counts data rows (`Error parsing column 4 at line 6999: ...`): say
/// the file's line (one more, for the header) and the column's name.
fn data_error(e: ArrowError, columns: &[String]) -> DataFusionError {
    if let ArrowError::ParseError(message) = &e
        && let Some(rest) = message.strip_prefix("Error parsing column ")
        && let Some((index, rest)) = rest.split_once(" at line ")
        && let Some((row, cause)) = rest.split_once(": ")
        && let (Ok(index), Ok(row)) = (index.parse::<usize>(), row.parse::<u64>())
        && let Some(column) = columns.get(index)
    {
        let cause = cause.strip_prefix("Parser error: ").unwrap_or(cause);
        return DataFusionError::Execution(format!("line {}, column {column}: {cause}", row + 1));
    }
    // `Error while parsing value 'x' as type 'Int64' for column 0 at line 4998. Row data: '[...]'`
    if let ArrowError::ParseError(message) = &e
        && let Some(rest) = message.strip_prefix("Error while parsing value '")
        && let Some((value, rest)) = rest.rsplit_once("' as type '")
        && let Some((data_type, rest)) = rest.split_once("' for column ")
        && let Some((index, rest)) = rest.split_once(" at line ")
        && let Some((row, _)) = rest.split_once(". Row data: ")
        && let (Ok(index), Ok(row)) = (index.parse::<usize>(), row.parse::<u64>())
        && let Some(column) = columns.get(index)
    {
        return DataFusionError::Execution(format!(
            "line {}, column {column}: cannot read '{value}' as {data_type}",
            row + 1
        ));
    }
    DataFusionError::ArrowError(Box::new(e), None)
}
