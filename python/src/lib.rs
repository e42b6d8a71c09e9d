//! `agent_refusal._native`: the Agent Refusal report for datafusion-python 55.
//!
//! What crosses DataFusion's FFI boundary as `PyCapsule`s: the scalar functions
//! (`__datafusion_scalar_udf__`), the `refusal_reasons` table (`__datafusion_table_provider__`)
//! and the `agent_refusal.*` settings (`__datafusion_extension_options__`). The table function
//! cannot cross it (its plan scans the caller's tables), so the package registers a Python table
//! function that asks [`report_sql`] for the report's query, written by the same Rust function
//! that plans the crate's `agent_refusal(...)`, and runs it in the caller's session. [`export`]
//! writes any Arrow stream (a `DataFrame`'s `__arrow_c_stream__`) with the crate's writers.
//!
//! The capsules hold raw pointers by the Arrow C data interface and DataFusion's FFI: reading
//! them is `unsafe`, each use says why it is sound.

use std::collections::HashMap;
use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;

use agent_refusal::config::AgentRefusalConfig;
use agent_refusal::error::error_line;
use agent_refusal::export::{ExportFormat, ExportOptions, append_date as dated, write_file};
use agent_refusal::reasons::{refusal_reason_text_udf, refusal_reason_udf, refusal_reasons_table};
use agent_refusal::report::{ReportRequest, Zone, quoted_reference, report_sql as write_report_sql};
use arrow::array::{ArrayRef, make_array};
use arrow::datatypes::{Schema, SchemaRef};
use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use arrow::ffi_stream::{ArrowArrayStreamReader, FFI_ArrowArrayStream};
use arrow::record_batch::RecordBatchReader;
use datafusion::common::config::{ConfigExtension, ExtensionOptions};
use datafusion::common::{Column, DataFusionError, ScalarValue, exec_datafusion_err};
use datafusion::config::ConfigOptions;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, ScalarUDF};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion_ffi::config::extension_options::FFI_ExtensionOptions;
use datafusion_ffi::execution::FFI_TaskContextProvider;
use datafusion_ffi::ffi_option::FFI_Result;
use datafusion_ffi::proto::logical_extension_codec::FFI_LogicalExtensionCodec;
use datafusion_ffi::table_provider::FFI_TableProvider;
use datafusion_ffi::udf::FFI_ScalarUDF;
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyString};
use stabby::str::Str as SStr;
use stabby::string::String as SString;
use stabby::vec::Vec as SVec;

/// The CLI's allocator: the export writers allocate per value, and the system allocator makes a
/// month's CSV export markedly slower (docs/python.md#tests-and-speed).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

create_exception!(
    agent_refusal,
    AgentRefusalError,
    PyValueError,
    "An error of the Agent Refusal report: its message is the one line the CLI prints."
);

/// The Python exception for a DataFusion error: its one line.
fn py_err(e: &DataFusionError) -> PyErr {
    AgentRefusalError::new_err(error_line(e))
}

/// The capsule `name` that `obj` is or that `obj.<attr>()` returns, and its pointer as one to
/// `T`. The pointer is valid while the capsule lives: keep it.
fn capsule_pointer<'py, T>(
    obj: &Bound<'py, PyAny>,
    attr: &str,
    name: &CStr,
) -> PyResult<(Bound<'py, PyCapsule>, NonNull<T>)> {
    let capsule = if !attr.is_empty() && obj.hasattr(attr)? {
        obj.call_method0(attr)?
    } else {
        obj.clone()
    };
    let capsule = capsule.cast_into::<PyCapsule>()?;
    let pointer = capsule.pointer_checked(Some(name))?.cast();
    Ok((capsule, pointer))
}

/// A scalar function of the crate, for `SessionContext.register_udf(udf(...))`.
#[pyclass(frozen, name = "ScalarFunction", module = "agent_refusal._native")]
struct ScalarFunction {
    inner: Arc<ScalarUDF>,
}

#[pymethods]
impl ScalarFunction {
    fn __datafusion_scalar_udf__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let ffi = FFI_ScalarUDF::from(Arc::clone(&self.inner));
        PyCapsule::new_with_value(py, ffi, c"datafusion_scalar_udf")
    }

    /// The function's SQL name.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }
}

/// `refusal_reason` and `refusal_reason_text`.
#[pyfunction]
fn scalar_functions() -> Vec<ScalarFunction> {
    vec![
        ScalarFunction {
            inner: Arc::new(refusal_reason_udf()),
        },
        ScalarFunction {
            inner: Arc::new(refusal_reason_text_udf()),
        },
    ]
}

/// The `refusal_reasons` table, for `SessionContext.register_table(...)`.
#[pyclass(frozen, name = "RefusalReasons", module = "agent_refusal._native")]
struct RefusalReasons;

#[pymethods]
impl RefusalReasons {
    #[new]
    fn new() -> Self {
        RefusalReasons
    }

    // datafusion-python calls `obj.__datafusion_table_provider__(session)`.
    #[allow(clippy::unused_self)]
    fn __datafusion_table_provider__<'py>(
        &self,
        py: Python<'py>,
        session: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let table = refusal_reasons_table().map_err(|e| py_err(&e))?;
        let (_capsule, codec): (_, NonNull<FFI_LogicalExtensionCodec>) = capsule_pointer(
            session,
            "__datafusion_logical_extension_codec__",
            c"datafusion_logical_extension_codec",
        )?;
        // SAFETY: the capsule named `datafusion_logical_extension_codec` holds an
        // `FFI_LogicalExtensionCodec` (datafusion-python 55 writes it so); it lives while the
        // capsule does, and we clone it.
        let codec = unsafe { codec.as_ref() }.clone();
        let ffi = FFI_TableProvider::new_with_ffi_codec(Arc::new(table), false, None, codec);
        PyCapsule::new_with_value(py, ffi, c"datafusion_table_provider")
    }
}

/// The `agent_refusal.*` settings, for `SessionConfig.with_extension(...)`: then `SET
/// agent_refusal.time_zone = ...` works in that session.
#[pyclass(frozen, name = "Settings", module = "agent_refusal._native")]
struct Settings {
    config: AgentRefusalConfig,
}

#[pymethods]
impl Settings {
    /// The settings, each at its default unless given (values as `SET` takes them).
    #[new]
    #[pyo3(signature = (**values))]
    fn new(values: Option<HashMap<String, String>>) -> PyResult<Self> {
        let mut config = AgentRefusalConfig::default();
        for (key, value) in values.unwrap_or_default() {
            config.set(&key, &value).map_err(|e| py_err(&e))?;
        }
        Ok(Settings { config })
    }

    fn __datafusion_extension_options__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        // Keys as `SET` writes them into DataFusion's FFI options: `agent_refusal.time_zone`.
        let values = self
            .config
            .entries()
            .into_iter()
            .filter_map(|entry| Some((entry.key, entry.value?)))
            .collect();
        PyCapsule::new_with_value(py, checked_options(values), c"datafusion_extension_options")
    }
}

/// DataFusion's FFI keeps the settings of foreign extensions as text, in an
/// `FFI_ExtensionOptions` whose functions the extension provides. These check each
/// `agent_refusal.*` key and value as `SET` gives it, with the crate's rules (an unknown setting
/// or a bad value is refused there, and the session keeps its settings); other keys (other
/// extensions') are kept as given.
struct CheckedOptions(HashMap<String, String>);

fn checked_options(values: HashMap<String, String>) -> FFI_ExtensionOptions {
    FFI_ExtensionOptions {
        cloned: checked_cloned,
        set: checked_set,
        entries: checked_entries,
        release: checked_release,
        private_data: Box::into_raw(Box::new(CheckedOptions(values))).cast(),
    }
}

/// The values of options made by [`checked_options`].
///
/// # Safety
/// `options` was made by [`checked_options`] (its functions are these, so DataFusion calls them
/// with such options only) and not released.
unsafe fn checked_values(options: &FFI_ExtensionOptions) -> &HashMap<String, String> {
    // SAFETY: `private_data` is the `Box<CheckedOptions>` that `checked_options` leaked.
    unsafe { &(*options.private_data.cast::<CheckedOptions>()).0 }
}

unsafe extern "C" fn checked_cloned(options: &FFI_ExtensionOptions) -> FFI_ExtensionOptions {
    // SAFETY: DataFusion calls `cloned` with the options it belongs to.
    checked_options(unsafe { checked_values(options) }.clone())
}

unsafe extern "C" fn checked_set(
    options: &mut FFI_ExtensionOptions,
    key: SStr,
    value: SStr,
) -> FFI_Result<()> {
    let (key, value) = (key.as_str(), value.as_str());
    if let Some(name) = key.strip_prefix("agent_refusal.")
        && let Err(e) = AgentRefusalConfig::default().set(name, value)
    {
        return FFI_Result::Err(SString::from(error_line(&e).as_str()));
    }
    // SAFETY: DataFusion calls `set` with the options it belongs to; `private_data` is the
    // `Box<CheckedOptions>` that `checked_options` leaked, borrowed mutably with `options`.
    let values = unsafe { &mut (*options.private_data.cast::<CheckedOptions>()).0 };
    values.insert(key.to_string(), value.to_string());
    FFI_Result::Ok(())
}

unsafe extern "C" fn checked_entries(options: &FFI_ExtensionOptions) -> SVec<(SString, SString)> {
    // SAFETY: DataFusion calls `entries` with the options it belongs to.
    unsafe { checked_values(options) }
        .iter()
        .map(|(key, value)| (SString::from(key.as_str()), SString::from(value.as_str())))
        .collect()
}

unsafe extern "C" fn checked_release(options: &mut FFI_ExtensionOptions) {
    if !options.private_data.is_null() {
        // SAFETY: the `Box<CheckedOptions>` that `checked_options` leaked, released once: the
        // pointer is cleared.
        drop(unsafe { Box::from_raw(options.private_data.cast::<CheckedOptions>()) });
        options.private_data = std::ptr::null_mut();
    }
}

/// The settings of the DataFusion session that `session` (a `datafusion.SessionContext`) wraps,
/// with its `agent_refusal.*` values (kept by DataFusion's FFI as plain text) read into an
/// [`AgentRefusalConfig`], which checks them.
fn session_options(session: &Bound<'_, PyAny>) -> PyResult<ConfigOptions> {
    let (_capsule, provider): (_, NonNull<FFI_TaskContextProvider>) = capsule_pointer(
        session,
        "__datafusion_task_context_provider__",
        c"datafusion_task_context_provider",
    )?;
    // SAFETY: the capsule named `datafusion_task_context_provider` holds an
    // `FFI_TaskContextProvider` that lives while the capsule does (until this function returns).
    let task: Arc<TaskContext> = unsafe { provider.as_ref() }
        .try_into()
        .map_err(|e: DataFusionError| py_err(&e))?;
    let mut options = task.session_config().options().as_ref().clone();
    let mut config = AgentRefusalConfig::default();
    if let Some(ffi) = options.extensions.get::<FFI_ExtensionOptions>() {
        let prefix = format!("{}.", AgentRefusalConfig::PREFIX);
        for entry in ffi.entries() {
            // Keys arrive as `agent_refusal.time_zone`, or with the FFI namespace before them.
            let key = entry.key.strip_prefix("datafusion_ffi.").unwrap_or(&entry.key);
            if let (Some(name), Some(value)) = (key.strip_prefix(&prefix), entry.value) {
                config.set(name, &value).map_err(|e| py_err(&e))?;
            }
        }
    }
    options.extensions.insert(config);
    Ok(options)
}

/// The columns of the table `name` in `session`, or `None` when there is no such table.
fn table_schema(session: &Bound<'_, PyAny>, name: &str) -> PyResult<Option<SchemaRef>> {
    // `table_exist` raises for a catalog or schema that does not exist: no such table either.
    match session.call_method1("table_exist", (name,)) {
        Ok(found) if found.extract::<bool>()? => {}
        Ok(_) => return Ok(None),
        Err(e) if e.to_string().contains("failed to resolve") => return Ok(None),
        Err(e) => return Err(e),
    }
    let schema = session.call_method1("table", (name,))?.call_method0("schema")?;
    let (_capsule, ffi): (_, NonNull<FFI_ArrowSchema>) =
        capsule_pointer(&schema, "__arrow_c_schema__", c"arrow_schema")?;
    // SAFETY: a capsule named `arrow_schema` holds an `FFI_ArrowSchema` (the Arrow PyCapsule
    // interface); it lives while the capsule does, and we only read it.
    let schema = Schema::try_from(unsafe { ffi.as_ref() }).map_err(|e| py_err(&e.into()))?;
    Ok(Some(Arc::new(schema)))
}

/// One argument of `agent_refusal(...)`: a pyarrow array holding the constant, or the text of an
/// expression that is not a constant.
fn argument(arg: &Bound<'_, PyAny>) -> PyResult<Expr> {
    if let Ok(text) = arg.cast::<PyString>() {
        return Ok(Expr::Column(Column::from_name(text.to_str()?)));
    }
    let (schema, array): (Bound<PyAny>, Bound<PyAny>) = arg.call_method0("__arrow_c_array__")?.extract()?;
    let (_schema_capsule, schema): (_, NonNull<FFI_ArrowSchema>) =
        capsule_pointer(&schema, "", c"arrow_schema")?;
    let (_array_capsule, array): (_, NonNull<FFI_ArrowArray>) = capsule_pointer(&array, "", c"arrow_array")?;
    // SAFETY: the capsules of `__arrow_c_array__` hold an `FFI_ArrowSchema` and an
    // `FFI_ArrowArray` (the Arrow PyCapsule interface). `from_raw` moves the array out and leaves
    // a released one behind, which the capsule's destructor then skips.
    let array = unsafe { FFI_ArrowArray::from_raw(array.as_ptr()) };
    // SAFETY: the array was exported with this schema.
    let data = unsafe { arrow::ffi::from_ffi(array, schema.as_ref()) }.map_err(|e| py_err(&e.into()))?;
    let array: ArrayRef = make_array(data);
    if array.len() != 1 {
        return Err(AgentRefusalError::new_err(format!(
            "agent_refusal: an argument must hold one value, got {}",
            array.len()
        )));
    }
    let value = ScalarValue::try_from_array(&array, 0).map_err(|e| py_err(&e))?;
    Ok(Expr::Literal(value, None))
}

/// The report's query for `agent_refusal(*args)` in `session`: its settings, tables and their
/// columns decide it as they do in Rust. Each argument is a one-value pyarrow array, or the text
/// of an expression that is not a constant (refused, as in Rust).
#[pyfunction]
#[allow(clippy::needless_pass_by_value)] // pyo3 takes a Python list as a Vec
fn report_sql(session: &Bound<'_, PyAny>, args: Vec<Bound<'_, PyAny>>) -> PyResult<String> {
    let exprs = args.iter().map(argument).collect::<PyResult<Vec<_>>>()?;
    let request = ReportRequest::from_args(&exprs).map_err(|e| py_err(&e))?;
    let options = session_options(session)?;
    let resolved = request
        .resolve(&options, chrono::Utc::now())
        .map_err(|e| py_err(&e))?;
    let mut python_error = None;
    check_dialect(&options)?;
    let sql = write_report_sql(&resolved, &options, &mut |reference| {
        table_schema(session, &quoted_reference(reference)).map_err(|e| {
            let message = e.to_string();
            python_error = Some(e);
            exec_datafusion_err!(
                "agent_refusal: reading the columns of table '{}': {message}",
                reference.table
            )
        })
    });
    match (sql, python_error) {
        (Ok(sql), _) => Ok(sql),
        (Err(_), Some(e)) => Err(e),
        (Err(e), None) => Err(py_err(&e)),
    }
}

/// The report's query quotes identifiers with `"`, as standard SQL does; datafusion-python parses
/// it in the session's dialect (`datafusion.sql_parser.dialect`), where the `mysql`, `bigquery`
/// or `hive` dialects would read `"..."` as text. Such a session is refused rather than given a
/// wrong query.
fn check_dialect(options: &ConfigOptions) -> PyResult<()> {
    let name = options.sql_parser.dialect.to_string();
    match datafusion::sql::sqlparser::dialect::dialect_from_str(&name) {
        Some(dialect) if dialect.is_delimited_identifier_start('"') => Ok(()),
        _ => Err(AgentRefusalError::new_err(format!(
            "agent_refusal: the report's query quotes names with \" and the session's SQL dialect '{name}' does not: SET datafusion.sql_parser.dialect = 'generic'"
        ))),
    }
}

/// The `datafusion.*` settings that the crate's `session_config()` tunes for the report, as
/// `(key, value)` pairs for `datafusion.SessionConfig`.
#[pyfunction]
fn tuned_settings() -> Vec<(String, String)> {
    let defaults: HashMap<String, Option<String>> = ConfigOptions::new()
        .entries()
        .into_iter()
        .map(|e| (e.key, e.value))
        .collect();
    agent_refusal::session_config()
        .options()
        .entries()
        .into_iter()
        .filter(|e| e.key.starts_with("datafusion.") && defaults.get(&e.key) != Some(&e.value))
        .filter_map(|e| Some((e.key, e.value?)))
        .collect()
}

/// Writes the Arrow stream of `data` (anything with `__arrow_c_stream__`, such as a `DataFrame`) to
/// `path` in `format` (`None`: from the extension, else CSV), atomically; returns the path
/// written (`append_date` adds today's date in `time_zone`, default UTC) and the rows.
#[pyfunction]
#[pyo3(signature = (data, path, format=None, headers=true, append_date=false, time_zone=None, excel_safe=false))]
#[allow(clippy::too_many_arguments, clippy::fn_params_excessive_bools)]
fn export(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    path: PathBuf,
    format: Option<&str>,
    headers: bool,
    append_date: bool,
    time_zone: Option<&str>,
    excel_safe: bool,
) -> PyResult<(PathBuf, u64)> {
    let format = export_format(&path, format).map_err(|e| py_err(&e))?;
    let path = if append_date {
        let zone = match time_zone {
            Some(name) => Zone::parse(name).map_err(|e| py_err(&e))?,
            None => Zone::UTC,
        };
        dated(&path, zone.date_at(chrono::Utc::now()))
    } else {
        path
    };
    let stream = data.call_method1("__arrow_c_stream__", (py.None(),))?;
    let (_capsule, stream): (_, NonNull<FFI_ArrowArrayStream>) =
        capsule_pointer(&stream, "", c"arrow_array_stream")?;
    // SAFETY: a capsule named `arrow_array_stream` holds an `FFI_ArrowArrayStream` (the Arrow
    // PyCapsule interface). `from_raw` moves it out and leaves a released one behind, which the
    // capsule's destructor then skips.
    let reader =
        unsafe { ArrowArrayStreamReader::from_raw(stream.as_ptr()) }.map_err(|e| py_err(&e.into()))?;
    let options = ExportOptions::new(format)
        .with_headers(headers)
        .with_excel_safe(excel_safe);
    let rows = write(py, reader, &path, options)?;
    Ok((path, rows))
}

/// The format `given`, or the one `path`'s extension implies (CSV for none), as the CLI decides.
fn export_format(path: &Path, given: Option<&str>) -> datafusion::common::Result<ExportFormat> {
    let given = given.map(ExportFormat::parse).transpose()?;
    ExportFormat::choose(Some(path), given).or_else(|(given, implied)| {
        datafusion::common::plan_err!(
            "format '{}' contradicts '{}', a .{} file: change one of them",
            given.name(),
            path.display(),
            implied.name()
        )
    })
}

/// Streams `reader` into the file at `path`. The reader's producer (datafusion-python) runs its
/// own Tokio runtime and may need the GIL, so it is read on a thread of its own with the GIL
/// released; the export runs here, on a runtime of its own, and a Ctrl-C (`KeyboardInterrupt`)
/// stops it, which removes its temporary file and keeps an existing file as it was.
fn write(
    py: Python<'_>,
    reader: ArrowArrayStreamReader,
    path: &Path,
    options: ExportOptions,
) -> PyResult<u64> {
    let schema = reader.schema();
    let (sender, receiver) = tokio::sync::mpsc::channel(2);
    let producer = std::thread::spawn(move || {
        for batch in reader {
            let failed = batch.is_err();
            if sender.blocking_send(batch.map_err(stream_error)).is_err() || failed {
                break;
            }
        }
    });
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|batch| (batch, receiver))
    });
    let stream = Box::pin(RecordBatchStreamAdapter::new(schema, stream));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| py_err(&DataFusionError::IoError(e)))?;
    py.detach(|| {
        let result = runtime.block_on(async {
            let interrupted = async {
                loop {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    #[allow(clippy::redundant_closure_for_method_calls)] // the closure is generic over 'py
                    let checked = Python::attach(|py| py.check_signals());
                    if let Err(e) = checked {
                        return e;
                    }
                }
            };
            tokio::select! {
                written = write_file(stream, path, options) => written.map_err(|e| py_err(&e)),
                e = interrupted => Err(e),
            }
        });
        // A blocking task may still wait (opening a FIFO that no one reads): leave it behind.
        runtime.shutdown_background();
        // After a failure or a Ctrl-C, the producer may still be waiting for its next batch (the
        // report's sort delivers the first one only when it has read the whole window): leave it
        // too; it ends at that batch, whose sending fails. After a success it has ended: join it
        // (without the GIL, which the producer may take).
        if result.is_ok() {
            let _ = producer.join();
        }
        result
    })
}

/// An error of the Arrow C stream that is read: the producer's message, without the layers
/// of names that crossing the C interface put before it (`C Data interface error: External
/// error: Arrow error: Divide by zero error` is `Divide by zero error`, as the CLI says).
fn stream_error(e: arrow::error::ArrowError) -> DataFusionError {
    let arrow::error::ArrowError::CDataInterface(message) = e else {
        return e.into();
    };
    let mut message = message.as_str();
    while let Some(rest) = [
        "External error: ",
        "Arrow error: ",
        "Execution error: ",
        "Error during planning: ",
    ]
    .iter()
    .find_map(|prefix| message.strip_prefix(prefix))
    {
        message = rest;
    }
    DataFusionError::Execution(message.to_string())
}

/// The DataFusion major version this module was built for (its FFI layouts are that major's).
#[pyfunction]
fn datafusion_major() -> u64 {
    datafusion_ffi::version()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("AgentRefusalError", m.py().get_type::<AgentRefusalError>())?;
    m.add_class::<ScalarFunction>()?;
    m.add_class::<RefusalReasons>()?;
    m.add_class::<Settings>()?;
    m.add_function(wrap_pyfunction!(scalar_functions, m)?)?;
    m.add_function(wrap_pyfunction!(report_sql, m)?)?;
    m.add_function(wrap_pyfunction!(tuned_settings, m)?)?;
    m.add_function(wrap_pyfunction!(export, m)?)?;
    m.add_function(wrap_pyfunction!(datafusion_major, m)?)?;
    Ok(())
}
