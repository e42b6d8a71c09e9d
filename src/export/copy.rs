//! The export writers as DataFusion file formats, so that any query can be exported from SQL:
//!
//! ```sql
//! COPY (SELECT * FROM agent_refusal('2026-03-09', '2026-03-13')) TO 'refusals.xlsx';
//! COPY (SELECT ...) TO 'out.xml' STORED AS XML;
//! COPY (SELECT ...) TO 'cxone.csv' STORED AS CXONE_CSV OPTIONS ('headers' 'false');
//! ```
//!
//! Formats: `XLSX`, `XML` and CXone's delimited text as `CXONE_CSV` and `CXONE_TAB` (DataFusion's
//! own `CSV`, `JSON` and `PARQUET` stay as they are). The target is one local file, written
//! atomically. These formats write only; reading them is not supported.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{GetExt, Result, Statistics, not_impl_err, plan_err};
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::file_format::{FileFormat, FileFormatFactory};
use datafusion::datasource::physical_plan::{FileOpener, FileScanConfig, FileSinkConfig, FileSource};
use datafusion::datasource::sink::{DataSink, DataSinkExec};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::{SendableRecordBatchStream, SessionState, TaskContext};
use datafusion::object_store::{ObjectMeta, ObjectStore};
use datafusion::physical_expr::{LexRequirement, PhysicalExpr};
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan};

use super::{ExportFormat, ExportOptions, write_file};

/// The formats offered to `COPY ... STORED AS`, with their names there (also the file extensions
/// that pick them without `STORED AS`: `TO 'x.tsv'` writes CXone's tab-delimited text; `.csv`
/// stays DataFusion's own CSV).
pub const COPY_FORMATS: [(&str, ExportFormat); 6] = [
    ("xlsx", ExportFormat::Xlsx),
    ("xml", ExportFormat::Xml),
    ("cxone_csv", ExportFormat::Csv),
    ("cxone_tab", ExportFormat::Tab),
    ("cxone_tsv", ExportFormat::Tab),
    ("tsv", ExportFormat::Tab),
];

/// Registers the `COPY` formats on a session state.
pub fn register_copy_formats(state: &mut datafusion::execution::SessionState) -> Result<()> {
    for (name, format) in COPY_FORMATS {
        state.register_file_format(Arc::new(ExportFormatFactory { name, format }), true)?;
    }
    Ok(())
}

/// Creates an [`ExportFileFormat`] for `COPY ... STORED AS NAME OPTIONS (...)`.
#[derive(Debug)]
pub struct ExportFormatFactory {
    name: &'static str,
    format: ExportFormat,
}

impl GetExt for ExportFormatFactory {
    fn get_ext(&self) -> String {
        self.name.to_string()
    }
}

impl FileFormatFactory for ExportFormatFactory {
    fn create(
        &self,
        _state: &dyn Session,
        format_options: &HashMap<String, String>,
    ) -> Result<Arc<dyn FileFormat>> {
        let mut options = ExportOptions::new(self.format);
        for (key, value) in format_options {
            let key = key.strip_prefix("format.").unwrap_or(key);
            let flag = || match value.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => plan_err!("COPY option '{key}' must be true or false, got '{value}'"),
            };
            match key {
                "headers" | "header" | "has_header" => options.headers = flag()?,
                "excel_safe" => options.excel_safe = flag()?,
                _ => {
                    return plan_err!(
                        "COPY ... STORED AS {}: unknown option '{key}' (known: headers, excel_safe)",
                        self.name.to_uppercase()
                    );
                }
            }
        }
        Ok(Arc::new(ExportFileFormat {
            name: self.name,
            options,
        }))
    }

    fn default(&self) -> Arc<dyn FileFormat> {
        Arc::new(ExportFileFormat {
            name: self.name,
            options: ExportOptions::new(self.format),
        })
    }
}

/// A write-only DataFusion file format backed by this crate's export writers.
#[derive(Debug)]
pub struct ExportFileFormat {
    name: &'static str,
    options: ExportOptions,
}

#[async_trait]
impl FileFormat for ExportFileFormat {
    fn get_ext(&self) -> String {
        self.options.format.extension().to_string()
    }

    fn get_ext_with_compression(&self, _compression: &FileCompressionType) -> Result<String> {
        Ok(self.get_ext())
    }

    fn compression_type(&self) -> Option<FileCompressionType> {
        None
    }

    async fn infer_schema(
        &self,
        _: &dyn Session,
        _: &Arc<dyn ObjectStore>,
        _: &[ObjectMeta],
    ) -> Result<SchemaRef> {
        not_impl_err!(
            "reading {} files is not supported; the format only writes",
            self.name.to_uppercase()
        )
    }

    async fn infer_stats(
        &self,
        _: &dyn Session,
        _: &Arc<dyn ObjectStore>,
        _: SchemaRef,
        _: &ObjectMeta,
    ) -> Result<Statistics> {
        not_impl_err!(
            "reading {} files is not supported; the format only writes",
            self.name.to_uppercase()
        )
    }

    async fn create_physical_plan(
        &self,
        _: &dyn Session,
        _: FileScanConfig,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        not_impl_err!(
            "reading {} files is not supported; the format only writes",
            self.name.to_uppercase()
        )
    }

    async fn create_writer_physical_plan(
        &self,
        input: Arc<dyn ExecutionPlan>,
        state: &dyn Session,
        conf: FileSinkConfig,
        order_requirements: Option<LexRequirement>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let url = &conf.table_paths[0];
        if url.is_collection() {
            return plan_err!(
                "COPY ... STORED AS {} writes one file; give a file name, not the folder '{}'",
                self.name.to_uppercase(),
                conf.original_url
            );
        }
        let Ok(path) = url.get_url().to_file_path() else {
            return plan_err!(
                "COPY ... STORED AS {} writes local files only, not '{}'",
                self.name.to_uppercase(),
                conf.original_url
            );
        };
        if let Some(state) = state.as_any().downcast_ref::<SessionState>() {
            super::target::refuse_inputs(state.catalog_list().as_ref(), &path).await?;
        }
        let sink = ExportSink {
            path,
            options: self.options.clone(),
            schema: Arc::clone(conf.output_schema()),
        };
        Ok(Arc::new(DataSinkExec::new(
            input,
            Arc::new(sink),
            order_requirements,
        )))
    }

    fn file_source(&self, table_schema: TableSchema) -> Arc<dyn FileSource> {
        Arc::new(WriteOnlySource {
            name: self.name,
            table_schema,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

/// Writes a `COPY` result to its file with [`write_file`].
#[derive(Debug)]
struct ExportSink {
    path: PathBuf,
    options: ExportOptions,
    schema: SchemaRef,
}

impl DisplayAs for ExportSink {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ExportSink(format={}, file={})",
            self.options.format.name(),
            self.path.display()
        )
    }
}

#[async_trait]
impl DataSink for ExportSink {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    async fn write_all(&self, data: SendableRecordBatchStream, _context: &Arc<TaskContext>) -> Result<u64> {
        write_file(data, &self.path, self.options.clone()).await
    }
}

/// The scan side of a write-only format: opening a file is an error.
struct WriteOnlySource {
    name: &'static str,
    table_schema: TableSchema,
    metrics: ExecutionPlanMetricsSet,
}

impl FileSource for WriteOnlySource {
    fn create_file_opener(
        &self,
        _: Arc<dyn ObjectStore>,
        _: &FileScanConfig,
        _: usize,
    ) -> Result<Arc<dyn FileOpener>> {
        not_impl_err!(
            "reading {} files is not supported; the format only writes",
            self.name.to_uppercase()
        )
    }

    fn table_schema(&self) -> &TableSchema {
        &self.table_schema
    }

    fn with_batch_size(&self, _batch_size: usize) -> Arc<dyn FileSource> {
        Arc::new(WriteOnlySource {
            name: self.name,
            table_schema: self.table_schema.clone(),
            metrics: self.metrics.clone(),
        })
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        &self.metrics
    }

    fn file_type(&self) -> &str {
        self.name
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        // No filter, no projection: nothing to visit.
        Ok(TreeNodeRecursion::Continue)
    }
}

/// Checks a `COPY` statement's local target before it runs, for every format: an input table of
/// the session is refused ([`super::target::refuse_inputs`]). DataFusion's own formats (`CSV`,
/// `JSON`, `PARQUET`) write through `object_store`, which replaces whatever is at the path: for
/// them a symbolic link is resolved here (the plan returned writes its target) and a device or
/// FIFO is refused. This crate's formats handle both themselves ([`super::write_file`]).
pub async fn check_copy(
    catalogs: &dyn datafusion::catalog::CatalogProviderList,
    copy: &datafusion::logical_expr::dml::CopyTo,
) -> Result<Option<datafusion::logical_expr::dml::CopyTo>> {
    let Ok(url) = datafusion::datasource::listing::ListingTableUrl::parse(&copy.output_url) else {
        return Ok(None);
    };
    if url.get_url().scheme() != "file" {
        return Ok(None);
    }
    let Ok(path) = url.get_url().to_file_path() else {
        return Ok(None);
    };
    super::target::refuse_inputs(catalogs, &path).await?;
    let ours = datafusion::datasource::file_format::file_type_to_format(&copy.file_type)
        .is_ok_and(|factory| factory.is::<ExportFormatFactory>());
    if ours || url.is_collection() {
        return Ok(None);
    }
    match super::target::resolve(&path)? {
        super::target::Target::Through(_) => plan_err!(
            "COPY ... STORED AS {} replaces the file at its target, so it cannot write through \
             '{}' (a device, pipe or descriptor): use STORED AS CXONE_CSV, XML or XLSX, or \
             `agent-refusal report --output`",
            copy.file_type.get_ext().to_uppercase(),
            copy.output_url
        ),
        super::target::Target::Replace { path: resolved, .. } if resolved != path => {
            let mut copy = copy.clone();
            copy.output_url = resolved.to_string_lossy().into_owned();
            Ok(Some(copy))
        }
        super::target::Target::Replace { .. } => Ok(None),
    }
}
