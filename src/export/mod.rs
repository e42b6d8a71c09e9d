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

use arrow::array::RecordBatch;
use chrono::NaiveDate;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::{Result, exec_datafusion_err, plan_err};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::DataFrame;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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

    /// Parses a format name (`tsv` is accepted for `tab`).
    pub fn parse(name: &str) -> Result<ExportFormat> {
        let lower = name.to_ascii_lowercase();
        let lower = if lower == "tsv" { "tab".to_string() } else { lower };
        match Self::ALL.into_iter().find(|f| f.name() == lower) {
            Some(f) => Ok(f),
            None => plan_err!(
                "unknown export format '{name}': use one of {}",
                Self::ALL.map(ExportFormat::name).join(", ")
            ),
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

/// How to write an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportOptions {
    /// The format.
    pub format: ExportFormat,
    /// Whether to write a header row (CSV, TAB, XLSX; default `true`).
    pub headers: bool,
    /// Whether to show a progress line on stderr when it is a terminal (default `false`).
    pub progress: bool,
}

impl ExportOptions {
    /// Options for `format` with a header row and no progress line.
    pub fn new(format: ExportFormat) -> Self {
        Self {
            format,
            headers: true,
            progress: false,
        }
    }
}

/// The writer of one format, on an output `W`.
enum Writer<W: Write + Send> {
    Delimited(Box<delimited::DelimitedWriter<W>>),
    Xml(xml::XmlWriter<W>),
    Json(json::JsonArrayWriter<W>),
    NdJson(json::NdJsonWriter<W>),
    Parquet(Box<parquet::arrow::ArrowWriter<W>>),
    Xlsx(Box<xlsx::XlsxWriter>, PathBuf),
}

impl<W: Write + Send> Writer<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            Writer::Delimited(w) => w.write_batch(batch),
            Writer::Xml(w) => w.write_batch(batch),
            Writer::Json(w) => w.write_batch(batch),
            Writer::NdJson(w) => w.write_batch(batch),
            Writer::Parquet(w) => Ok(w.write(batch)?),
            Writer::Xlsx(w, _) => w.write_batch(batch),
        }
    }

    fn finish(self) -> Result<()> {
        match self {
            Writer::Delimited(w) => w.finish(),
            Writer::Xml(w) => w.finish(),
            Writer::Json(w) => w.finish(),
            Writer::NdJson(w) => w.finish(),
            Writer::Parquet(w) => {
                let mut out = w.into_inner()?;
                out.flush()?;
                Ok(())
            }
            Writer::Xlsx(w, path) => w.save(&path),
        }
    }
}

/// Drives `stream` into `writer`, with an optional progress line; returns the rows written.
///
/// The stream is polled on a task of its own and handed over through a small channel, so that
/// producing batches (the query's last operators) and formatting them (the writer) run on two
/// cores at once; at most a few batches are in flight. Dropping the future stops the task.
async fn drive<W: Write + Send>(
    mut stream: SendableRecordBatchStream,
    mut writer: Writer<W>,
    progress: bool,
) -> Result<u64> {
    let bar = if progress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {human_pos} rows written ({msg}, {elapsed})")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
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
    let started = std::time::Instant::now();
    while let Some(batch) = rx.recv().await {
        let batch = batch?;
        writer.write(&batch)?;
        rows += batch.num_rows() as u64;
        bar.set_position(rows);
        let rate = rows as f64 / started.elapsed().as_secs_f64().max(1e-3);
        bar.set_message(format!("{} rows/s", indicatif::HumanCount(rate as u64)));
    }
    writer.finish()?;
    bar.finish_and_clear();
    Ok(rows)
}

/// Writes every batch of `stream` to `out` in a text format, or Parquet; returns the rows written.
/// XLSX needs a file: use [`write_file`].
pub async fn write_stream<W: Write + Send>(
    stream: SendableRecordBatchStream,
    out: W,
    options: ExportOptions,
) -> Result<u64> {
    let layout = Layout::for_schema(&stream.schema());
    let writer = match options.format {
        ExportFormat::Csv | ExportFormat::Tab => {
            let delimiter = if options.format == ExportFormat::Csv {
                b','
            } else {
                b'\t'
            };
            Writer::Delimited(Box::new(delimited::DelimitedWriter::new(
                out,
                layout,
                delimiter,
                options.headers,
            )))
        }
        ExportFormat::Xml => Writer::Xml(xml::XmlWriter::new(out, layout)),
        ExportFormat::Json => Writer::Json(json::JsonArrayWriter::new(out)),
        ExportFormat::NdJson => Writer::NdJson(json::NdJsonWriter::new(out)),
        ExportFormat::Parquet => Writer::Parquet(Box::new(parquet::arrow::ArrowWriter::try_new(
            out,
            stream.schema(),
            None,
        )?)),
        ExportFormat::Xlsx => return plan_err!("an XLSX export needs a file: give an output path"),
    };
    drive(stream, writer, options.progress).await
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
    let temp = builder
        .tempfile_in(&dir)
        .map_err(|e| exec_datafusion_err!("cannot write to folder '{}': {e}", dir.display()))?;
    let rows = if options.format == ExportFormat::Xlsx {
        let layout = Layout::for_schema(&stream.schema());
        let writer: Writer<std::fs::File> = Writer::Xlsx(
            Box::new(xlsx::XlsxWriter::new(layout, options.headers)),
            temp.path().to_path_buf(),
        );
        drive(stream, writer, options.progress).await?
    } else {
        let out = std::io::BufWriter::with_capacity(1 << 20, temp.as_file().try_clone()?);
        write_stream(stream, out, options).await?
    };
    temp.as_file()
        .sync_all()
        .map_err(|e| exec_datafusion_err!("cannot write '{}': {e}", path.display()))?;
    temp.persist(path)
        .map_err(|e| exec_datafusion_err!("cannot write '{}': {}", path.display(), e.error))?;
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
        assert!(
            ExportFormat::parse("pdf")
                .unwrap_err()
                .to_string()
                .contains("'pdf'")
        );
    }
}
