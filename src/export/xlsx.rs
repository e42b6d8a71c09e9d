//! Excel workbooks, written in `rust_xlsxwriter`'s constant-memory mode: rows go to a temporary file
//! as they are written, so memory stays flat whatever the row count.
//!
//! The header row is frozen and carries an autofilter; numbers are numbers; times are Excel
//! date-times shown `mm/dd/yyyy hh:mm`. Past Excel's 1,048,576 rows a sheet, the rows continue on
//! further sheets (`Agent Refusal 2`, ...), each starting with the header row.

use std::path::Path;

use arrow::array::RecordBatch;
use datafusion::common::{Result, exec_datafusion_err};
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

    /// Finishes the last sheet and saves the workbook to `path`.
    pub fn save(mut self, path: &Path) -> Result<()> {
        if self.sheet.is_none() {
            self.sheet = Some(self.new_sheet().map_err(xlsx)?);
        }
        self.finish_sheet().map_err(xlsx)?;
        self.workbook.save(path).map_err(xlsx)
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
