//! Writers for the report's export formats, fed by a record-batch stream.
//!
//! The CXone formats (`csv`, `tab`) carry the six CXone columns with CXone's header names and
//! `Refuse_Time` as `MM/DD/YYYY HH:MM` in the report's zone. Files are written atomically: into a
//! temporary file beside the target, renamed over it only when the export succeeded.

pub mod cxone;
pub mod delimited;

use std::io::Write;
use std::path::{Path, PathBuf};

use datafusion::common::{Result, exec_datafusion_err};
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;

/// An export format of `agent-refusal report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// CXone's comma-delimited export (RFC 4180 quoting).
    Csv,
    /// CXone's tab-delimited export (RFC 4180-style quoting with tabs).
    Tab,
}

impl ExportFormat {
    /// Parses a format name as given to `--format`.
    pub fn parse(name: &str) -> Result<ExportFormat> {
        match name.to_ascii_lowercase().as_str() {
            "csv" => Ok(ExportFormat::Csv),
            "tab" | "tsv" => Ok(ExportFormat::Tab),
            _ => datafusion::common::plan_err!("unknown export format '{name}': use csv or tab"),
        }
    }

    /// The usual file extension of the format, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Tab => "txt",
        }
    }
}

/// How to write an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportOptions {
    /// The format.
    pub format: ExportFormat,
    /// Whether to write a header row (default `true`).
    pub headers: bool,
}

impl ExportOptions {
    /// Options for `format` with a header row.
    pub fn new(format: ExportFormat) -> Self {
        Self {
            format,
            headers: true,
        }
    }
}

/// Writes every batch of `stream` to `out` in the chosen format; returns the rows written.
pub async fn write_stream<W: Write>(
    mut stream: SendableRecordBatchStream,
    out: W,
    options: ExportOptions,
) -> Result<u64> {
    let delimiter = match options.format {
        ExportFormat::Csv => b',',
        ExportFormat::Tab => b'\t',
    };
    let mut writer = delimited::DelimitedWriter::new(out, delimiter, options.headers);
    let mut rows = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        writer.write_batch(&batch)?;
        rows += batch.num_rows() as u64;
    }
    writer.finish()?;
    Ok(rows)
}

/// Writes `stream` to the file at `path` atomically: the file appears, complete, only on success;
/// on any error (or if the future is dropped) an existing file at `path` is left as it was.
pub async fn write_file(
    stream: SendableRecordBatchStream,
    path: &Path,
    options: ExportOptions,
) -> Result<u64> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}.",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("export")
        ))
        .suffix(".partial")
        .tempfile_in(&dir)
        .map_err(|e| exec_datafusion_err!("cannot write to folder '{}': {e}", dir.display()))?;
    let out = std::io::BufWriter::with_capacity(1 << 20, temp.as_file());
    let rows = write_stream(stream, out, options).await?;
    temp.as_file()
        .sync_all()
        .map_err(|e| exec_datafusion_err!("cannot write '{}': {e}", path.display()))?;
    temp.persist(path)
        .map_err(|e| exec_datafusion_err!("cannot write '{}': {}", path.display(), e.error))?;
    Ok(rows)
}
