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
pub mod xlsx;
pub mod xml;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use chrono::NaiveDate;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::DataFrame;
use futures::StreamExt;

use self::layout::Layout;

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
    /// Told of the rows written (default: none).
    pub progress: Option<Arc<dyn Progress>>,
}

impl std::fmt::Debug for ExportOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportOptions")
            .field("format", &self.format)
            .field("headers", &self.headers)
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

    /// The same options, with or without a header row.
    #[must_use]
    pub fn with_headers(self, headers: bool) -> Self {
        Self { headers, ..self }
    }
}

/// A format's writer: takes batches, then finishes the document.
trait BatchWriter: Send {
    fn write(&mut self, batch: &RecordBatch) -> Result<()>;
    fn finish(self: Box<Self>) -> Result<()>;
}

impl<W: Write + Send> BatchWriter for delimited::DelimitedWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.write_batch(batch)
    }
    fn finish(self: Box<Self>) -> Result<()> {
        (*self).finish()
    }
}

impl<W: Write + Send> BatchWriter for xml::XmlWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.write_batch(batch)
    }
    fn finish(self: Box<Self>) -> Result<()> {
        (*self).finish()
    }
}

impl<W: Write + Send, F: json::JsonLayout> BatchWriter for json::JsonWriter<W, F> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.write_batch(batch)
    }
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

impl<W: Write + Send> BatchWriter for ParquetOut<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer
            .write(batch)
            .map_err(|e| Self::error(&self.io_error, e))
    }
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

/// An XLSX workbook, saved to `path` at the end.
struct XlsxFile {
    writer: xlsx::XlsxWriter,
    path: PathBuf,
}

impl BatchWriter for XlsxFile {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer.write_batch(batch)
    }
    fn finish(self: Box<Self>) -> Result<()> {
        self.writer.save(&self.path)
    }
}

/// Drives `stream` into `writer`, reporting progress; returns the rows written.
///
/// The stream is polled on a task of its own and handed over through a small channel, so that
/// producing batches (the query's last operators) and formatting them (the writer) run on two
/// cores at once; at most a few batches are in flight. Dropping the future stops the task.
async fn drive(
    mut stream: SendableRecordBatchStream,
    mut writer: Box<dyn BatchWriter + '_>,
    progress: Option<&dyn Progress>,
    target: &str,
) -> Result<u64> {
    // A writer's error (a full disk, a closed pipe) names the target; the I/O error stays its
    // source. A query's error passes as it is.
    let failed = |e: DataFusionError| e.context(format!("cannot write {target}"));
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
    let written = async {
        while let Some(batch) = rx.recv().await {
            let batch = batch?;
            writer.write(&batch).map_err(failed)?;
            rows += batch.num_rows() as u64;
            if let Some(p) = progress {
                p.rows_written(rows);
            }
        }
        writer.finish().map_err(failed)
    }
    .await;
    if let Some(p) = progress {
        p.finished();
    }
    written.map(|()| rows)
}

/// The writer of `format` on `out`, for results of `schema`; XLSX is written by [`write_file`].
fn text_or_parquet_writer<'a, W: Write + Send + 'a>(
    out: W,
    schema: SchemaRef,
    options: &ExportOptions,
) -> Result<Box<dyn BatchWriter + 'a>> {
    let layout = Layout::for_schema(&schema);
    let headers = options.headers;
    Ok(match options.format {
        ExportFormat::Csv => Box::new(delimited::DelimitedWriter::new(out, layout, b',', headers)),
        ExportFormat::Tab => Box::new(delimited::DelimitedWriter::new(out, layout, b'\t', headers)),
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
    drive(stream, writer, options.progress.as_deref(), "the output").await
}

/// Writes `stream` to the file at `path` atomically: into a temporary file beside it, renamed over
/// `path` only when everything was written. On an error, or when the future is dropped (Ctrl-C),
/// the temporary file is removed and an existing file at `path` keeps its content.
pub async fn write_file(
    stream: SendableRecordBatchStream,
    path: &Path,
    options: ExportOptions,
) -> Result<u64> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if path.is_dir() {
        return plan_err!("cannot write '{}': it is a folder", path.display());
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("export");
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".partial");
    #[cfg(unix)]
    {
        // an ordinary file's mode (tempfile's default is private), less the process's umask
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let cannot_write =
        |e: std::io::Error| DataFusionError::IoError(e).context(format!("cannot write '{}'", path.display()));
    let temp = builder.tempfile_in(&dir).map_err(|e| {
        DataFusionError::IoError(e).context(format!("cannot write to folder '{}'", dir.display()))
    })?;
    let target = format!("'{}'", path.display());
    let progress = options.progress.as_deref();
    let writer: Box<dyn BatchWriter> = if options.format == ExportFormat::Xlsx {
        Box::new(XlsxFile {
            writer: xlsx::XlsxWriter::new(Layout::for_schema(&stream.schema()), options.headers),
            path: temp.path().to_path_buf(),
        })
    } else {
        let file = temp.as_file().try_clone().map_err(cannot_write)?;
        let out = std::io::BufWriter::with_capacity(1 << 20, file);
        text_or_parquet_writer(out, stream.schema(), &options)?
    };
    let rows = drive(stream, writer, progress, &target).await?;
    temp.as_file().sync_all().map_err(cannot_write)?;
    temp.persist(path).map_err(|e| cannot_write(e.error))?;
    Ok(rows)
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
