//! CXone's XML export: one `<Row>` element per row inside `<AgentRefusal>`, one child element per
//! column named by its header, text escaped; a NULL is an empty element.
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <AgentRefusal>
//!   <Row><Contact_ID>700012040</Contact_ID><Agent_No>1018</Agent_No><FullName>Diego García</FullName><Station_ID>5018</Station_ID><Reason>NoAnswer</Reason><Refuse_Time>03/09/2026 06:22</Refuse_Time></Row>
//! </AgentRefusal>
//! ```

use std::io::Write;

use arrow::array::RecordBatch;
use datafusion::common::Result;

use super::layout::{Layout, Rows, cell_text};

/// Writes batches as CXone-style XML.
pub struct XmlWriter<W: Write> {
    out: W,
    layout: Layout,
    /// `<Header>` and `</Header>` of each column, with the header made a valid element name.
    tags: Vec<(String, String)>,
    started: bool,
    field: Vec<u8>,
}

impl<W: Write> XmlWriter<W> {
    /// A writer of `layout`.
    pub fn new(out: W, layout: Layout) -> Self {
        let tags = layout
            .headers()
            .map(|h| {
                let name = element_name(h);
                (format!("<{name}>"), format!("</{name}>"))
            })
            .collect();
        Self {
            out,
            layout,
            tags,
            started: false,
            field: Vec::with_capacity(32),
        }
    }

    fn start(&mut self) -> Result<()> {
        if !std::mem::replace(&mut self.started, true) {
            self.out
                .write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AgentRefusal>\n")?;
        }
        Ok(())
    }

    /// Writes the rows of one batch.
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.start()?;
        let rows = Rows::new(&self.layout, batch)?;
        for row in 0..rows.len() {
            self.out.write_all(b"  <Row>")?;
            for (column, (open, close)) in self.tags.iter().enumerate() {
                cell_text(rows.cell(column, row), &mut self.field);
                self.out.write_all(open.as_bytes())?;
                escape(&self.field, &mut self.out)?;
                self.out.write_all(close.as_bytes())?;
            }
            self.out.write_all(b"</Row>\n")?;
        }
        Ok(())
    }

    /// Closes the document and flushes.
    pub fn finish(mut self) -> Result<()> {
        self.start()?;
        self.out.write_all(b"</AgentRefusal>\n")?;
        Ok(self.out.flush()?)
    }
}

/// Writes UTF-8 `text` with `&`, `<`, `>`, `"` and `'` escaped, and the characters XML 1.0
/// cannot carry dropped (its `Char` production: control characters other than tab, line feed and
/// carriage return, and U+FFFE and U+FFFF; a Rust string holds no surrogates).
fn escape(text: &[u8], out: &mut impl Write) -> std::io::Result<()> {
    let mut start = 0;
    let mut skip = 0;
    for (i, &b) in text.iter().enumerate() {
        if skip > 0 {
            skip -= 1;
            continue;
        }
        let replacement: &[u8] = match b {
            // U+FFFE and U+FFFF: EF BF BE and EF BF BF
            0xEF if matches!(text.get(i + 1..i + 3), Some([0xBF, 0xBE | 0xBF])) => {
                out.write_all(&text[start..i])?;
                skip = 2;
                start = i + 3;
                continue;
            }
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' => b"&quot;",
            b'\'' => b"&apos;",
            b'\r' => b"&#13;",
            0..=8 | 11 | 12 | 14..=31 => b"",
            _ => continue,
        };
        out.write_all(&text[start..i])?;
        out.write_all(replacement)?;
        start = i + 1;
    }
    out.write_all(&text[start..])
}

/// A column header as an XML element name: characters other than letters, digits, `_`, `-` and
/// `.` become `_`, and a name that cannot start an element gets a leading `_`.
fn element_name(header: &str) -> String {
    let mut name: String = header
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        name.insert(0, '_');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        let mut out = Vec::new();
        escape("a<b>&\"c\" 'd'\u{1}\u{FFFE}\u{FFFF}\u{FFFD}".as_bytes(), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;\u{FFFD}"
        );
        assert_eq!(element_name("count(*)"), "count___");
        assert_eq!(element_name("1st"), "_1st");
    }
}
