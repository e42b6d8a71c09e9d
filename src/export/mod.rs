//! Export writers, fed by a record-batch stream: CXone's formats (comma- and tab-delimited, XML)
//! and XLSX, Parquet, JSON and NDJSON.
//!
//! A result that holds the report's columns is written in CXone's layout by the CXone formats and
//! XLSX (six columns, CXone's header names, `Refuse_Time` as `MM/DD/YYYY HH:MM` in the report's
//! zone); any other result is written with all of its columns. Parquet, JSON and NDJSON always
//! write every column, typed. Every writer streams: memory stays bounded whatever the row count.
//! Files are written atomically ([`write_file`]).

pub mod copy;
pub mod delimited;
pub mod json;
pub mod layout;
pub mod target;
pub mod xlsx;
pub mod xml;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use chrono::NaiveDate;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::DataFrame;
use futures::StreamExt;

use self::layout::Layout;
use self::target::{Sink, Target};

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// CXone's comma-delimited export (RFC 4180 quoting, CRLF).
    Csv,
    /// CXone's tab-delimited export.
    Tab,
    /// CXone-style XML (see [`xml`]).
    Xml,
    /// An Excel workbook.
    Xlsx,
    /// Parquet, every column typed.
    Parquet,
    /// One JSON array of objects.
    Json,
    /// One JSON object a line.
    NdJson,
}

impl ExportFormat {
    /// Every format, in the order of `--format`'s help.
    pub const ALL: [ExportFormat; 7] = [
        ExportFormat::Csv,
        ExportFormat::Tab,
        ExportFormat::Xml,
        ExportFormat::Xlsx,
        ExportFormat::Parquet,
        ExportFormat::Json,
        ExportFormat::NdJson,
    ];

    /// The format's name, as `--format` takes it.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Tab => "tab",
            ExportFormat::Xml => "xml",
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Parquet => "parquet",
            ExportFormat::Json => "json",
            ExportFormat::NdJson => "ndjson",
        }
    }

    /// Other names the format is known by (`tsv` for `tab`, `jsonl` for `ndjson`).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            ExportFormat::Tab => &["tsv"],
            ExportFormat::NdJson => &["jsonl"],
            _ => &[],
        }
    }

    /// Parses a format name or alias, ignoring case (`tsv` is accepted for `tab`).
    pub fn parse(name: &str) -> Result<ExportFormat> {
        let lower = name.trim().to_ascii_lowercase();
        let known = |f: &ExportFormat| f.name() == lower || f.aliases().contains(&lower.as_str());
        if let Some(f) = Self::ALL.into_iter().find(known) {
            Ok(f)
        } else {
            plan_err!(
                "unknown export format '{name}': use one of {}",
                Self::ALL.map(ExportFormat::name).join(", ")
            )
        }
    }

    /// The format a file name's extension implies, ignoring case: `.csv`, `.txt`/`.tsv`/`.tab`
    /// (tab), `.xml`, `.xlsx`, `.parquet`, `.json`, `.ndjson`/`.jsonl`; `None` for anything else.
    pub fn for_path(path: &Path) -> Option<ExportFormat> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "txt" | "tsv" | "tab" => Some(ExportFormat::Tab),
            other => Self::parse(other).ok(),
        }
    }

    /// The format of an export to `path` (`None`: a stream such as stdout): the one `given`, else
    /// the one the extension implies ([`ExportFormat::for_path`]), else CSV. A given format that
    /// contradicts the extension is an error, `Err((given, implied))`, for the caller to word.
    pub fn choose(
        path: Option<&Path>,
        given: Option<ExportFormat>,
    ) -> std::result::Result<ExportFormat, (ExportFormat, ExportFormat)> {
        match (given, path.and_then(ExportFormat::for_path)) {
            (Some(given), Some(implied)) if given != implied => Err((given, implied)),
            (Some(format), _) | (None, Some(format)) => Ok(format),
            (None, None) => Ok(ExportFormat::Csv),
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Tab => "txt",
            other => other.name(),
        }
    }

    /// Whether the format is text that can go to a terminal or pipe.
    pub fn is_text(self) -> bool {
        !matches!(self, ExportFormat::Xlsx | ExportFormat::Parquet)
    }
}

/// Told how an export is going: after each batch, the rows written so far, and once at the end.
/// The CLI shows a progress line with it.
pub trait Progress: Send + Sync {
    /// `rows` rows have been written so far.
    fn rows_written(&self, rows: u64);
    /// The export has ended (written, failed or stopped).
    fn finished(&self) {}
}

/// How to write an export.
#[derive(Clone)]
pub struct ExportOptions {
    /// The format.
    pub format: ExportFormat,
    /// Whether to write a header row (CSV, TAB, XLSX; default `true`).
    pub headers: bool,
    /// Whether CSV and TAB text cells that Excel would take for a formula (starting with `=`,
    /// `+`, `-`, `@`, a tab or a carriage return) are written with a leading `'` (default
    /// `false`: CXone's bytes). XLSX always stores text as text.
    pub excel_safe: bool,
    /// Told of the rows written (default: none).
    pub progress: Option<Arc<dyn Progress>>,
}

impl std::fmt::Debug for ExportOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportOptions")
            .field("format", &self.format)
            .field("headers", &self.headers)
            .field("excel_safe", &self.excel_safe)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl ExportOptions {
    /// Options for `format` with a header row and no progress reports.
    pub fn new(format: ExportFormat) -> Self {
        Self {
            format,
            headers: true,
            excel_safe: false,
            progress: None,
        }
    }

    /// The same options, reporting progress to `progress`.
    #[must_use]
    pub fn with_progress(self, progress: Arc<dyn Progress>) -> Self {
        Self {
            progress: Some(progress),
            ..self
        }
    }

    /// The same options, guarding text cells against formula injection or not (see
    /// [`ExportOptions::excel_safe`]).
    #[must_use]
    pub fn with_excel_safe(self, excel_safe: bool) -> Self {
        Self { excel_safe, ..self }
    }

    /// The same options, with or without a header row.
    #[must_use]
    pub fn with_headers(self, headers: bool) -> Self {
        Self { headers, ..self }
    }
}

/// A format's writer: takes batches.
trait WriteBatch: Send {
    fn write(&mut self, batch: &RecordBatch) -> Result<()>;
}

/// A writer that finishes its document on its output.
trait BatchWriter: WriteBatch {
    fn finish(self: Box<Self>) -> Result<()>;
}

impl WriteBatch for xlsx::XlsxWriter {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.write_batch(batch)
    }
}

impl<W: Write + Send> WriteBatch for delimited::DelimitedWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.write_batch(batch)
    }
}

impl<W: Write + Send> BatchWriter for delimited::DelimitedWriter<W> {
    fn finish(self: Box<Self>) -> Result<()> {
        (*self).finish()
    }
}

impl<W: Write + Send> WriteBatch for xml::XmlWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.write_batch(batch)
    }
}

impl<W: Write + Send> BatchWriter for xml::XmlWriter<W> {
    fn finish(self: Box<Self>) -> Result<()> {
        (*self).finish()
    }
}

impl<W: Write + Send, F: json::JsonLayout> WriteBatch for json::JsonWriter<W, F> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.write_batch(batch)
    }
}

impl<W: Write + Send, F: json::JsonLayout> BatchWriter for json::JsonWriter<W, F> {
    fn finish(self: Box<Self>) -> Result<()> {
        (*self).finish()
    }
}

/// A Parquet file on `W`. Parquet's writer reports some failures of its output as text only
/// ("fail to get inner writer"), so the output keeps its first I/O error, and the export's error
/// carries it (its kind tells a closed pipe or a full disk).
struct ParquetOut<W: Write + Send> {
    writer: parquet::arrow::ArrowWriter<KeepIoError<W>>,
    io_error: Arc<std::sync::Mutex<Option<std::io::Error>>>,
}

impl<W: Write + Send> ParquetOut<W> {
    fn new(out: W, schema: SchemaRef) -> Result<Self> {
        let io_error = Arc::new(std::sync::Mutex::new(None));
        let out = KeepIoError {
            inner: out,
            error: Arc::clone(&io_error),
        };
        let writer = parquet::arrow::ArrowWriter::try_new(out, schema, None)?;
        Ok(Self { writer, io_error })
    }

    /// `e`, or the I/O error of the output behind it.
    fn error(
        io_error: &std::sync::Mutex<Option<std::io::Error>>,
        e: parquet::errors::ParquetError,
    ) -> DataFusionError {
        match io_error.lock().ok().and_then(|mut kept| kept.take()) {
            Some(io) => DataFusionError::IoError(io),
            None => e.into(),
        }
    }
}

impl<W: Write + Send> WriteBatch for ParquetOut<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer
            .write(batch)
            .map_err(|e| Self::error(&self.io_error, e))
    }
}

impl<W: Write + Send> BatchWriter for ParquetOut<W> {
    fn finish(self: Box<Self>) -> Result<()> {
        let Self { writer, io_error } = *self;
        let mut out = writer.into_inner().map_err(|e| Self::error(&io_error, e))?;
        out.flush()?;
        Ok(())
    }
}

/// A writer that keeps (a copy of) its first I/O error where its owner can read it.
struct KeepIoError<W> {
    inner: W,
    error: Arc<std::sync::Mutex<Option<std::io::Error>>>,
}

impl<W: Write> KeepIoError<W> {
    fn keep<T>(&self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &result
            && let Ok(mut kept) = self.error.lock()
            && kept.is_none()
        {
            *kept = Some(std::io::Error::new(e.kind(), e.to_string()));
        }
        result
    }
}

impl<W: Write> Write for KeepIoError<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let result = self.inner.write(buf);
        self.keep(result)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let result = self.inner.flush();
        self.keep(result)
    }
}

/// Drives `stream` into `writer`, reporting progress; returns the rows written. The writer is not
/// finished: its caller does that.
///
/// The stream is polled on a task of its own and handed over through a small channel, so that
/// producing batches (the query's last operators) and formatting them (the writer) run on two
/// cores at once; at most a few batches are in flight. Dropping the future stops the task.
async fn drive(
    mut stream: SendableRecordBatchStream,
    writer: &mut dyn WriteBatch,
    progress: Option<&dyn Progress>,
    target: &str,
) -> Result<u64> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(2);
    let _producer = SpawnedTask::spawn(async move {
        while let Some(batch) = stream.next().await {
            let failed = batch.is_err();
            if tx.send(batch).await.is_err() || failed {
                break;
            }
        }
    });
    let mut rows = 0u64;
    while let Some(batch) = rx.recv().await {
        let batch = batch?;
        writer.write(&batch).map_err(|e| cannot_write(e, target))?;
        rows += batch.num_rows() as u64;
        if let Some(p) = progress {
            p.rows_written(rows);
        }
        // Let whoever awaits this export alongside something else (a signal, a timeout) see it
        // between batches, even while batches keep coming.
        tokio::task::yield_now().await;
    }
    Ok(rows)
}

/// A writer's error (a full disk, a closed pipe), naming the target; the I/O error stays its
/// source.
fn cannot_write(e: DataFusionError, target: &str) -> DataFusionError {
    e.context(format!("cannot write {target}"))
}

/// Tells the progress line that the export ended, however it ends.
struct Finished<'a>(Option<&'a dyn Progress>);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            p.finished();
        }
    }
}

/// Writes `stream` with `writer` and finishes it.
async fn drive_and_finish(
    stream: SendableRecordBatchStream,
    mut writer: Box<dyn BatchWriter + '_>,
    progress: Option<&dyn Progress>,
    target: &str,
) -> Result<u64> {
    let _finished = Finished(progress);
    let rows = drive(stream, writer.as_mut(), progress, target).await?;
    writer.finish().map_err(|e| cannot_write(e, target))?;
    Ok(rows)
}

/// The writer of `format` on `out`, for results of `schema`; XLSX is written by [`write_file`].
fn text_or_parquet_writer<'a, W: Write + Send + 'a>(
    out: W,
    schema: SchemaRef,
    options: &ExportOptions,
) -> Result<Box<dyn BatchWriter + 'a>> {
    let layout = Layout::for_schema(&schema);
    let headers = options.headers;
    let excel_safe = options.excel_safe;
    Ok(match options.format {
        ExportFormat::Csv => {
            Box::new(delimited::DelimitedWriter::new(out, layout, b',', headers).excel_safe(excel_safe))
        }
        ExportFormat::Tab => {
            Box::new(delimited::DelimitedWriter::new(out, layout, b'\t', headers).excel_safe(excel_safe))
        }
        ExportFormat::Xml => Box::new(xml::XmlWriter::new(out, layout)),
        ExportFormat::Json => Box::new(json::JsonArrayWriter::new(out)),
        ExportFormat::NdJson => Box::new(json::NdJsonWriter::new(out)),
        ExportFormat::Parquet => Box::new(ParquetOut::new(out, schema)?),
        ExportFormat::Xlsx => return plan_err!("an XLSX export needs a file: give an output path"),
    })
}

/// Writes every batch of `stream` to `out` in a text format, or Parquet; returns the rows written.
/// XLSX needs a file: use [`write_file`].
pub async fn write_stream<W: Write + Send>(
    stream: SendableRecordBatchStream,
    out: W,
    options: ExportOptions,
) -> Result<u64> {
    let writer = text_or_parquet_writer(out, stream.schema(), &options)?;
    drive_and_finish(stream, writer, options.progress.as_deref(), "the output").await
}

/// Writes `stream` to the file at `path`; returns the rows written.
///
/// A regular file is written atomically: into a temporary file beside it, renamed over `path` only
/// when everything was written, keeping an existing file's mode (and owner, where permitted). On
/// an error, or when the future is dropped (Ctrl-C), the temporary file is removed and an existing
/// file keeps its content. A symbolic link is followed (its target is replaced); a device, FIFO
/// or socket is written through; a folder is refused. See [`target`].
pub async fn write_file(
    stream: SendableRecordBatchStream,
    path: &Path,
    options: ExportOptions,
) -> Result<u64> {
    match target::resolve(path)? {
        Target::Replace {
            path: resolved,
            existing,
        } => replace_file(stream, path, &resolved, existing.as_ref(), options).await,
        Target::Through(sink) => write_through(stream, path, sink, options).await,
    }
}

/// The temporary files of the exports under way in this process.
static UNFINISHED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Removes the temporary files of every export under way, for a program about to end at once
/// (a signal handler whose export does not stop in time): their targets keep their content.
/// Exports that go on afterwards fail when they come to rename their file.
/// Returns whether there were any.
pub fn remove_unfinished_files() -> bool {
    let Ok(mut files) = UNFINISHED.lock() else {
        return false;
    };
    let any = !files.is_empty();
    for file in files.drain(..) {
        let _ = std::fs::remove_file(file);
    }
    any
}

/// Whether an export (or `demo-data`) of this process is writing a file now.
pub fn writing_files() -> bool {
    UNFINISHED.lock().is_ok_and(|files| !files.is_empty())
}

/// A temporary file listed in [`UNFINISHED`] while it lives.
pub(crate) struct Unfinished(PathBuf);

impl Unfinished {
    fn list(path: &Path) -> Unfinished {
        if let Ok(mut files) = UNFINISHED.lock() {
            files.push(path.to_path_buf());
        }
        Unfinished(path.to_path_buf())
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Ok(mut files) = UNFINISHED.lock() {
            files.retain(|f| f != &self.0);
        }
    }
}

/// A temporary file beside a target (`.NAME.XXXX.partial`, an ordinary file's mode), removed when
/// dropped and by [`remove_unfinished_files`] while it lives; `file.persist(target)` puts it in
/// place.
pub(crate) struct PartialFile {
    pub(crate) file: tempfile::NamedTempFile,
    pub(crate) _listed: Unfinished,
}

impl PartialFile {
    /// A temporary file in `target`'s folder.
    pub(crate) fn beside(target: &Path) -> Result<PartialFile> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("export");
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".partial");
        #[cfg(unix)]
        {
            // an ordinary file's mode (tempfile's default is private), less the process's umask
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let file = builder.tempfile_in(&dir).map_err(|e| {
            // tempfile names its random file in the message: the OS error says enough
            let e = e.raw_os_error().map_or(e, std::io::Error::from_raw_os_error);
            DataFusionError::IoError(e).context(format!("cannot write to folder '{}'", dir.display()))
        })?;
        Ok(PartialFile {
            _listed: Unfinished::list(file.path()),
            file,
        })
    }
}

/// Sets when the future holding it is dropped: tells a blocking XLSX save to stop.
#[derive(Default)]
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs `f` on a blocking thread, so that the export's task stays responsive (Ctrl-C).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?
}

/// Writes `stream` as an XLSX workbook into `file` (from its start), on a blocking thread for the
/// save, which stops early when this future is dropped.
async fn write_xlsx(
    stream: SendableRecordBatchStream,
    file: std::fs::File,
    options: &ExportOptions,
    target: &str,
) -> Result<u64> {
    let _finished = Finished(options.progress.as_deref());
    let stop_on_drop = StopOnDrop::default();
    let mut writer = xlsx::XlsxWriter::new(Layout::for_schema(&stream.schema()), options.headers);
    let rows = drive(stream, &mut writer, options.progress.as_deref(), target).await?;
    let stop = Arc::clone(&stop_on_drop.0);
    blocking(move || writer.save(file, &stop))
        .await
        .map_err(|e| cannot_write(e, target))?;
    Ok(rows)
}

async fn replace_file(
    stream: SendableRecordBatchStream,
    path: &Path,
    resolved: &Path,
    existing: Option<&std::fs::Metadata>,
    options: ExportOptions,
) -> Result<u64> {
    let target = format!("'{}'", path.display());
    let io_failed = |e: std::io::Error| cannot_write(DataFusionError::IoError(e), &target);
    let PartialFile { file: temp, _listed } = PartialFile::beside(resolved)?;
    if let Some(existing) = existing {
        keep_mode_and_owner(temp.as_file(), existing).map_err(io_failed)?;
    }
    let file = temp.as_file().try_clone().map_err(io_failed)?;
    let rows = if options.format == ExportFormat::Xlsx {
        write_xlsx(stream, file, &options, &target).await?
    } else {
        let out = std::io::BufWriter::with_capacity(1 << 20, file);
        let writer = text_or_parquet_writer(out, stream.schema(), &options)?;
        drive_and_finish(stream, writer, options.progress.as_deref(), &target).await?
    };
    let file = temp.as_file().try_clone().map_err(io_failed)?;
    blocking(move || Ok(file.sync_all()?))
        .await
        .map_err(|e| cannot_write(e, &target))?;
    temp.persist(resolved).map_err(|e| io_failed(e.error))?;
    Ok(rows)
}

/// Writes `stream` straight into `sink`, a device, FIFO, socket or descriptor (`path` as given).
async fn write_through(
    stream: SendableRecordBatchStream,
    path: &Path,
    sink: Sink,
    options: ExportOptions,
) -> Result<u64> {
    let target = format!("'{}'", path.display());
    // Opening a FIFO waits for its reader: on a blocking thread, so Ctrl-C still stops it.
    let file = blocking(move || Ok(sink.open()?))
        .await
        .map_err(|e| cannot_write(e, &target))?;
    if options.format != ExportFormat::Xlsx {
        let out = std::io::BufWriter::with_capacity(1 << 16, file);
        let writer = text_or_parquet_writer(out, stream.schema(), &options)?;
        return drive_and_finish(stream, writer, options.progress.as_deref(), &target).await;
    }
    // A workbook is a ZIP archive, written with seeks: into an unnamed temporary file first.
    let workbook = tempfile::tempfile().map_err(|e| {
        DataFusionError::IoError(e).context("cannot create a temporary file for the workbook")
    })?;
    let copy = workbook.try_clone().map_err(DataFusionError::IoError)?;
    let rows = write_xlsx(stream, copy, &options, &target).await?;
    let mut out = file;
    blocking(move || {
        let mut workbook = workbook;
        std::io::Seek::rewind(&mut workbook)?;
        std::io::copy(&mut workbook, &mut out)?;
        Ok(())
    })
    .await
    .map_err(|e| cannot_write(e, &target))?;
    Ok(rows)
}

/// Gives the temporary file the mode of the file it replaces, and its owner and group where the
/// process may (an ordinary user can only give a file a group of its own).
fn keep_mode_and_owner(file: &std::fs::File, existing: &std::fs::Metadata) -> std::io::Result<()> {
    // the owner first: a change of owner clears the set-user-ID and set-group-ID bits
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let current = file.metadata()?;
        if (current.uid(), current.gid()) != (existing.uid(), existing.gid())
            && std::os::unix::fs::fchown(file, Some(existing.uid()), Some(existing.gid())).is_err()
        {
            let _ = std::os::unix::fs::fchown(file, None, Some(existing.gid()));
        }
    }
    file.set_permissions(existing.permissions())
}

/// Runs `df` and writes its result to `path` (see [`write_file`]); returns the rows written.
pub async fn export_dataframe(df: DataFrame, path: &Path, options: ExportOptions) -> Result<u64> {
    write_file(df.execute_stream().await?, path, options).await
}

/// `path` with `_YYYYMMDD` of `date` put before its extension (`refusals.csv` gives
/// `refusals_20260309.csv`).
pub fn append_date(path: &Path, date: NaiveDate) -> PathBuf {
    let stamp = date.format("%Y%m%d");
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}_{stamp}.{}", ext.to_string_lossy()),
        None => format!("{stem}_{stamp}"),
    };
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_the_date_before_the_extension() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
        assert_eq!(
            append_date(Path::new("out/refusals.csv"), d),
            Path::new("out/refusals_20260309.csv")
        );
        assert_eq!(append_date(Path::new("report"), d), Path::new("report_20260309"));
        assert_eq!(
            append_date(Path::new("a.b.xlsx"), d),
            Path::new("a.b_20260309.xlsx")
        );
    }

    #[test]
    fn parses_formats() {
        for f in ExportFormat::ALL {
            assert_eq!(ExportFormat::parse(f.name()).unwrap(), f);
        }
        assert_eq!(ExportFormat::parse("TSV").unwrap(), ExportFormat::Tab);
        assert_eq!(ExportFormat::parse(" Jsonl ").unwrap(), ExportFormat::NdJson);
        for (name, format) in [
            ("r.CSV", Some(ExportFormat::Csv)),
            ("r.txt", Some(ExportFormat::Tab)),
            ("r.tsv", Some(ExportFormat::Tab)),
            ("r.xlsx", Some(ExportFormat::Xlsx)),
            ("a.b.Parquet", Some(ExportFormat::Parquet)),
            ("r.jsonl", Some(ExportFormat::NdJson)),
            ("r.pdf", None),
            ("report", None),
        ] {
            assert_eq!(ExportFormat::for_path(Path::new(name)), format, "{name}");
        }
        assert!(
            ExportFormat::parse("pdf")
                .unwrap_err()
                .to_string()
                .contains("'pdf'")
        );
    }

    /// A writer whose every write fails with `kind`.
    struct Failing(std::io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(self.0.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(self.0.into())
        }
    }

    #[tokio::test]
    async fn writers_keep_the_io_error_as_the_source() {
        let batch = RecordBatch::try_from_iter([(
            "n",
            Arc::new(arrow::array::Int64Array::from(vec![1, 2, 3])) as arrow::array::ArrayRef,
        )])
        .unwrap();
        for format in ExportFormat::ALL.into_iter().filter(|f| *f != ExportFormat::Xlsx) {
            for kind in [std::io::ErrorKind::BrokenPipe, std::io::ErrorKind::StorageFull] {
                let stream = datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                    batch.schema(),
                    futures::stream::iter([Ok(batch.clone())]),
                );
                let err = write_stream(Box::pin(stream), Failing(kind), ExportOptions::new(format))
                    .await
                    .unwrap_err();
                let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
                let mut found = None;
                while let Some(e) = source {
                    if let Some(io) = e.downcast_ref::<std::io::Error>() {
                        found = Some(io.kind());
                    }
                    source = e.source();
                }
                assert_eq!(found, Some(kind), "{format:?}: {err}");
                assert!(
                    err.to_string().contains("cannot write the output"),
                    "{format:?}: {err}"
                );
            }
        }
    }
}
