//! CXone's comma- and tab-delimited exports, with RFC 4180 quoting.

use std::io::Write;

use arrow::array::RecordBatch;
use datafusion::common::{Result, exec_datafusion_err};

use super::cxone::{CxoneBatch, HEADERS, format_cxone_time};

/// Writes report batches as delimited text: the six CXone columns, a field quoted only when it
/// holds the delimiter, a quote or a line break, NULL as an empty field, CRLF line endings.
pub struct DelimitedWriter<W: Write> {
    out: csv::Writer<W>,
    headers: bool,
    time: Vec<u8>,
}

impl<W: Write> DelimitedWriter<W> {
    /// A writer with `delimiter` (`b','` or `b'\t'`), writing the header row first if `headers`.
    pub fn new(out: W, delimiter: u8, headers: bool) -> Self {
        let out = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            .from_writer(out);
        Self {
            out,
            headers,
            time: Vec::with_capacity(16),
        }
    }

    fn write_headers(&mut self) -> Result<()> {
        if std::mem::take(&mut self.headers) {
            self.out.write_record(HEADERS).map_err(io)?;
        }
        Ok(())
    }

    /// Writes the rows of one report batch.
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.write_headers()?;
        let b = CxoneBatch::try_new(batch)?;
        let mut ids = [String::new(), String::new(), String::new()];
        for row in 0..b.len() {
            for (column, text) in ids.iter_mut().enumerate() {
                text.clear();
                if let Some(v) = b.id(column, row) {
                    use std::fmt::Write as _;
                    let _ = write!(text, "{v}");
                }
            }
            self.time.clear();
            if let Some(t) = b.times[row] {
                format_cxone_time(t, &mut self.time);
            }
            let fields: [&[u8]; 6] = [
                ids[0].as_bytes(),
                ids[1].as_bytes(),
                b.text(0, row).unwrap_or("").as_bytes(),
                ids[2].as_bytes(),
                b.text(1, row).unwrap_or("").as_bytes(),
                &self.time,
            ];
            self.out.write_record(fields).map_err(io)?;
        }
        Ok(())
    }

    /// Writes the header row if no batch came, and flushes.
    pub fn finish(mut self) -> Result<()> {
        self.write_headers()?;
        self.out
            .flush()
            .map_err(|e| exec_datafusion_err!("write failed: {e}"))
    }
}

fn io(e: csv::Error) -> datafusion::error::DataFusionError {
    exec_datafusion_err!("write failed: {e}")
}
