//! Excel workbooks, written in `rust_xlsxwriter`'s constant-memory mode: rows go to a temporary file
//! as they are written, so memory stays flat whatever the row count.
//!
//! The header row is frozen and carries an autofilter; numbers are numbers; times are Excel
//! date-times shown `mm/dd/yyyy hh:mm`. Past Excel's 1,048,576 rows a sheet, the rows continue on
//! further sheets (`Agent Refusal 2`, ...), each starting with the header row. Text is always
//! stored as text: a name such as `=1+1` is never a formula.
//!
//! `rust_xlsxwriter` panics when it cannot write its temporary files (a full temporary folder):
//! the writer catches that and returns it as an error, so no panic reaches the caller.

use std::cell::Cell as Flag;
use std::io::{Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::RecordBatch;
use datafusion::common::{DataFusionError, Result, exec_datafusion_err};
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use super::layout::{Cell, Kind, Layout, Rows};

/// Excel's row limit per worksheet.
pub const EXCEL_MAX_ROWS: u32 = 1_048_576;

/// Writes batches to a workbook, one or more sheets.
pub struct XlsxWriter {
    workbook: Workbook,
    layout: Layout,
    headers: bool,
    max_rows: u32,
    /// Index of the current sheet and the next row to write on it (None before the first sheet).
    sheet: Option<(usize, u32)>,
    time_format: Format,
    header_format: Format,
}

impl XlsxWriter {
    /// A writer of `layout`, with a header row on each sheet if `headers`.
    pub fn new(layout: Layout, headers: bool) -> Self {
        Self::with_max_rows(layout, headers, EXCEL_MAX_ROWS)
    }

    /// Like [`XlsxWriter::new`], with at most `max_rows` rows a sheet (header included).
    pub fn with_max_rows(layout: Layout, headers: bool, max_rows: u32) -> Self {
        Self {
            workbook: Workbook::new(),
            layout,
            headers,
            max_rows: max_rows.max(2),
            sheet: None,
            time_format: Format::new().set_num_format("mm/dd/yyyy hh:mm"),
            header_format: Format::new().set_bold(),
        }
    }

    /// Adds the next sheet, sets it up and writes its header row; returns the first free row.
    fn new_sheet(&mut self) -> std::result::Result<(usize, u32), XlsxError> {
        let number = self.sheet.map_or(1, |(i, _)| i + 2);
        let worksheet = self.workbook.add_worksheet_with_constant_memory()?;
        worksheet.set_name(if number == 1 {
            "Agent Refusal".to_string()
        } else {
            format!("Agent Refusal {number}")
        })?;
        for (c, column) in self.layout.columns.iter().enumerate() {
            worksheet.set_column_width(col(c), width(&column.header, column.kind))?;
        }
        let mut row = 0;
        if self.headers {
            for (c, header) in self.layout.headers().enumerate() {
                worksheet.write_string_with_format(0, col(c), header, &self.header_format)?;
            }
            worksheet.set_freeze_panes(1, 0)?;
            row = 1;
        }
        Ok((number - 1, row))
    }

    /// Writes the rows of one batch.
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        quietly(|| self.write_rows(batch))
    }

    fn write_rows(&mut self, batch: &RecordBatch) -> Result<()> {
        let rows = Rows::new(&self.layout, batch)?;
        for r in 0..rows.len() {
            let (index, row) = match self.sheet {
                Some((index, row)) if row < self.max_rows => (index, row),
                _ => {
                    self.finish_sheet().map_err(xlsx)?;
                    self.new_sheet().map_err(xlsx)?
                }
            };
            let worksheet = self.workbook.worksheet_from_index(index).map_err(xlsx)?;
            for c in 0..self.layout.columns.len() {
                write_cell(worksheet, row, col(c), rows.cell(c, r), &self.time_format).map_err(xlsx)?;
            }
            self.sheet = Some((index, row + 1));
        }
        Ok(())
    }

    /// Puts the autofilter on the current sheet's header row, over the rows written.
    fn finish_sheet(&mut self) -> std::result::Result<(), XlsxError> {
        if let (true, Some((index, rows))) = (self.headers, self.sheet) {
            let last_col = col(self.layout.columns.len().saturating_sub(1));
            let worksheet = self.workbook.worksheet_from_index(index)?;
            worksheet.autofilter(0, 0, rows.saturating_sub(1).max(1), last_col)?;
        }
        Ok(())
    }

    /// Finishes the last sheet and saves the workbook into `file`, from where it stands. Stops
    /// with an error as soon as `stop` is set.
    pub fn save(mut self, file: std::fs::File, stop: &AtomicBool) -> Result<()> {
        let mut out = Guarded {
            inner: std::io::BufWriter::with_capacity(1 << 20, file),
            stop,
            error: None,
            position: 0,
            len: 0,
        };
        quietly(|| {
            if self.sheet.is_none() {
                self.sheet = Some(self.new_sheet().map_err(xlsx)?);
            }
            self.finish_sheet().map_err(xlsx)?;
            self.workbook.save_to_writer(&mut out).map_err(xlsx)
        })?;
        if let Some(e) = out.error.take() {
            return Err(DataFusionError::IoError(e));
        }
        out.inner.flush()?;
        Ok(())
    }
}

/// The output of a save. Its first error (or a stop) is kept, and from then on it takes every
/// write without writing: the ZIP writer then finishes quietly (it would print its own error on
/// stderr when dropped) and the save returns the error kept.
struct Guarded<'a, W> {
    inner: W,
    stop: &'a AtomicBool,
    error: Option<std::io::Error>,
    /// Where the ZIP writer believes it is, and the length it has written.
    position: u64,
    len: u64,
}

impl<W: Write + Seek> Write for Guarded<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.error.is_none() && self.stop.load(Ordering::Relaxed) {
            self.error = Some(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "the export was stopped",
            ));
        }
        let written = if self.error.is_none() {
            match self.inner.write(buf) {
                Ok(n) => n,
                Err(e) => {
                    self.error = Some(e);
                    buf.len()
                }
            }
        } else {
            buf.len()
        };
        self.position += written as u64;
        self.len = self.len.max(self.position);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.error.is_none()
            && let Err(e) = self.inner.flush()
        {
            self.error = Some(e);
        }
        Ok(())
    }
}

impl<W: Write + Seek> Seek for Guarded<'_, W> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let wanted = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.position.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        let Some(wanted) = wanted else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start of the workbook",
            ));
        };
        if self.error.is_none()
            && let Err(e) = self.inner.seek(SeekFrom::Start(wanted))
        {
            self.error = Some(e);
        }
        self.position = wanted;
        Ok(wanted)
    }
}

thread_local! {
    /// Whether this thread is inside [`quietly`].
    static QUIET: Flag<bool> = const { Flag::new(false) };
}

/// Runs `f`, turning a panic inside it into an error. The panic message is not printed: a panic
/// hook, put in front of the process's own once, stays silent for panics inside `quietly`.
fn quietly<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Flag::get) {
                previous(info);
            }
        }));
    });
    let was_quiet = QUIET.with(|q| q.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was_quiet));
    result.unwrap_or_else(|panic| Err(panicked(panic.as_ref())))
}

/// The error of a panic inside `rust_xlsxwriter`: its message names an I/O error (`Os { code:
/// 28, ... }`) when it could not write its temporary files; that error is rebuilt from its code.
fn panicked(panic: &(dyn std::any::Any + Send)) -> DataFusionError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    let code = message
        .split_once("code: ")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse::<i32>().ok());
    if let Some(code) = code {
        DataFusionError::IoError(std::io::Error::from_raw_os_error(code))
            .context("cannot write the workbook's temporary files (see TMPDIR)")
    } else {
        exec_datafusion_err!("XLSX export failed: {}", message.replace('\n', " "))
    }
}

fn write_cell(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    cell: Cell<'_>,
    time: &Format,
) -> std::result::Result<(), XlsxError> {
    match cell {
        Cell::Null => {}
        Cell::Int(v) => {
            ws.write_number(row, col, v as f64)?;
        }
        Cell::Float(v) => {
            ws.write_number(row, col, v)?;
        }
        Cell::Bool(v) => {
            ws.write_boolean(row, col, v)?;
        }
        Cell::Time(t) => {
            ws.write_datetime_with_format(row, col, t, time)?;
        }
        Cell::Text(s) => {
            ws.write_string(row, col, s)?;
        }
    }
    Ok(())
}

/// A column width that fits its header and typical values.
fn width(header: &str, kind: Kind) -> f64 {
    let value: usize = match (header, kind) {
        ("FullName", _) => 24,
        ("Reason", _) | (_, Kind::Text) => 20,
        (_, Kind::Time) => 17,
        (_, Kind::Int | Kind::Float) => 12,
        (_, Kind::Bool) => 7,
    };
    (header.chars().count().max(value) + 2) as f64
}

fn col(c: usize) -> u16 {
    u16::try_from(c).unwrap_or(u16::MAX)
}

/// An XLSX error: an I/O error stays one (its kind tells a full disk).
fn xlsx(e: XlsxError) -> datafusion::error::DataFusionError {
    match e {
        XlsxError::IoError(e) => datafusion::error::DataFusionError::IoError(e),
        e => exec_datafusion_err!("XLSX export failed: {e}"),
    }
}
