//! JSON (one array) and NDJSON (one object a line): every column, typed, with explicit nulls and
//! timestamps as RFC 3339 text in their own zone.

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::json::writer::{JsonArray, JsonFormat, LineDelimited, Writer, WriterBuilder};
use datafusion::common::Result;

/// Arrow's JSON layouts, with what ends a document in each.
pub trait JsonLayout: JsonFormat + Send + 'static {
    /// Written after the document: a line break after an array; nothing after NDJSON, whose
    /// lines already end with one.
    const TRAILER: &'static [u8];
}

impl JsonLayout for JsonArray {
    const TRAILER: &'static [u8] = b"\n";
}

impl JsonLayout for LineDelimited {
    const TRAILER: &'static [u8] = b"";
}

/// A JSON or NDJSON writer.
pub struct JsonWriter<W: Write, F: JsonLayout> {
    inner: Writer<W, F>,
}

/// Writes one JSON array (`[]` when there are no rows).
pub type JsonArrayWriter<W> = JsonWriter<W, JsonArray>;
/// Writes newline-delimited JSON.
pub type NdJsonWriter<W> = JsonWriter<W, LineDelimited>;

impl<W: Write, F: JsonLayout> JsonWriter<W, F> {
    /// A writer to `out`.
    pub fn new(out: W) -> Self {
        Self {
            inner: WriterBuilder::new().with_explicit_nulls(true).build(out),
        }
    }

    /// Writes the rows of one batch.
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        Ok(self.inner.write(batch)?)
    }

    /// Ends the document and flushes.
    pub fn finish(mut self) -> Result<()> {
        self.inner.finish()?;
        let mut out = self.inner.into_inner();
        out.write_all(F::TRAILER)?;
        out.flush()?;
        Ok(())
    }
}
