//! CXone's comma- and tab-delimited exports, with RFC 4180 quoting.

use std::io::Write;

use arrow::array::RecordBatch;
use datafusion::common::{DataFusionError, Result, exec_datafusion_err};

use super::layout::{Cell, Layout, Rows, cell_text};

/// Writes batches as delimited text: a field is quoted only when it holds the delimiter, a quote or
/// a line break (quotes doubled), NULL is an empty field, lines end with CRLF.
pub struct DelimitedWriter<W: Write> {
    out: csv::Writer<W>,
    layout: Layout,
    headers: bool,
    excel_safe: bool,
    fields: Vec<Vec<u8>>,
}

impl<W: Write> DelimitedWriter<W> {
    /// A writer of `layout` with `delimiter` (`b','` or `b'\t'`), writing the header row first if `headers`.
    pub fn new(out: W, layout: Layout, delimiter: u8, headers: bool) -> Self {
        let out = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            .from_writer(out);
        let fields = vec![Vec::with_capacity(32); layout.columns.len()];
        Self {
            out,
            layout,
            headers,
            excel_safe: false,
            fields,
        }
    }

    /// The same writer, putting `'` before text that Excel would take for a formula if
    /// `excel_safe` (see [`super::ExportOptions::excel_safe`]).
    #[must_use]
    pub fn excel_safe(self, excel_safe: bool) -> Self {
        Self { excel_safe, ..self }
    }

    fn write_headers(&mut self) -> Result<()> {
        if std::mem::take(&mut self.headers) {
            self.out.write_record(self.layout.headers()).map_err(io)?;
        }
        Ok(())
    }

    /// Writes the rows of one batch.
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.write_headers()?;
        let rows = Rows::new(&self.layout, batch)?;
        for row in 0..rows.len() {
            for (column, field) in self.fields.iter_mut().enumerate() {
                let cell = rows.cell(column, row);
                cell_text(cell, field);
                if self.excel_safe && matches!(cell, Cell::Text(_)) && is_formula_like(field) {
                    field.insert(0, b'\'');
                }
            }
            self.out.write_record(&self.fields).map_err(io)?;
        }
        Ok(())
    }

    /// Writes the header row if no batch came, and flushes.
    pub fn finish(mut self) -> Result<()> {
        self.write_headers()?;
        Ok(self.out.flush()?)
    }
}

/// A CSV writer's error: an I/O error stays one (its kind tells a closed pipe or a full disk).
fn io(e: csv::Error) -> DataFusionError {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => DataFusionError::IoError(e),
        other => exec_datafusion_err!("CSV export failed: {other:?}"),
    }
}

/// Whether Excel would take a cell starting so for a formula (OWASP's list: `=`, `+`, `-`, `@`,
/// tab, carriage return).
fn is_formula_like(text: &[u8]) -> bool {
    matches!(text.first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}
