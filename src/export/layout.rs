//! Which columns an export writes, under which headers, and how each cell reads.
//!
//! A result holding the report's columns is written in CXone's layout: the six CXone columns with
//! CXone's header names. Any other result (from `COPY (query) TO ...`) is written with all of its
//! columns under their own names.

use std::fmt::Write as _;
use std::io::Write as _;
use std::str::FromStr;

use arrow::array::timezone::Tz;
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, Schema, TimeUnit, TimestampMicrosecondType};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::{Datelike, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike};
use datafusion::common::Result;

use crate::schema;

/// How a column's cells are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Integers (written as numbers).
    Int,
    /// Floating-point and decimal numbers.
    Float,
    /// Booleans.
    Bool,
    /// Timestamps and dates, as the local clock reading in their own zone.
    Time,
    /// Everything else, as text.
    Text,
}

impl Kind {
    fn of(t: &DataType) -> Kind {
        match t {
            t if t.is_integer() => Kind::Int,
            t if t.is_floating() => Kind::Float,
            DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..) => Kind::Float,
            DataType::Boolean => Kind::Bool,
            DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => Kind::Time,
            _ => Kind::Text,
        }
    }
}

/// One exported column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The header written for it.
    pub header: String,
    /// Its index in the result.
    pub index: usize,
    /// How its cells are read.
    pub kind: Kind,
}

/// The exported columns of a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The columns, in export order.
    pub columns: Vec<Column>,
    /// Whether this is CXone's layout of the report.
    pub cxone: bool,
}

impl Layout {
    /// CXone's layout when `schema` has the report's CXone columns ([`crate::schema`]) with types
    /// they can be read from, otherwise every column as it is.
    pub fn for_schema(schema: &Schema) -> Layout {
        let cxone: Option<Vec<Column>> = schema::cxone_columns()
            .map(|(report_column, header)| {
                let (index, field) = schema.column_with_name(report_column.name)?;
                report_column.accepts(field.data_type()).then(|| Column {
                    header: header.to_string(),
                    index,
                    kind: Kind::of(field.data_type()),
                })
            })
            .collect();
        match cxone {
            Some(columns) => Layout { columns, cxone: true },
            _ => Layout {
                columns: schema
                    .fields()
                    .iter()
                    .enumerate()
                    .map(|(index, f)| Column {
                        header: f.name().clone(),
                        index,
                        kind: Kind::of(f.data_type()),
                    })
                    .collect(),
                cxone: false,
            },
        }
    }

    /// The header names.
    pub fn headers(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.header.as_str())
    }
}

/// One cell of a [`Rows`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A local date-time.
    Time(NaiveDateTime),
    /// Text.
    Text(&'a str),
}

enum Values {
    Int(ArrayRef),
    Float(ArrayRef),
    Bool(ArrayRef),
    Time(Vec<Option<NaiveDateTime>>),
    Text(ArrayRef),
}

/// The exported columns of one batch, converted once, read cell by cell.
pub struct Rows {
    columns: Vec<Values>,
    len: usize,
}

impl Rows {
    /// Converts the layout's columns of `batch`.
    pub fn new(layout: &Layout, batch: &RecordBatch) -> Result<Rows> {
        let columns = layout
            .columns
            .iter()
            .map(|c| {
                let a = batch.column(c.index);
                Ok(match c.kind {
                    Kind::Int => match cast(a, &DataType::Int64) {
                        Ok(ints) => Values::Int(ints),
                        Err(_) => Values::Float(cast(a, &DataType::Float64)?),
                    },
                    Kind::Float => Values::Float(cast(a, &DataType::Float64)?),
                    Kind::Bool => Values::Bool(a.clone()),
                    Kind::Time => Values::Time(local_times(a)?),
                    Kind::Text => Values::Text(as_text(a)?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Rows {
            columns,
            len: batch.num_rows(),
        })
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The cell of exported column `column` at `row`.
    pub fn cell(&self, column: usize, row: usize) -> Cell<'_> {
        match &self.columns[column] {
            Values::Int(a) if a.is_valid(row) => Cell::Int(a.as_primitive::<Int64Type>().value(row)),
            Values::Float(a) if a.is_valid(row) => Cell::Float(a.as_primitive::<Float64Type>().value(row)),
            Values::Bool(a) if a.is_valid(row) => Cell::Bool(a.as_boolean().value(row)),
            Values::Time(v) => v[row].map_or(Cell::Null, Cell::Time),
            Values::Text(a) if a.is_valid(row) => Cell::Text(a.as_string::<i32>().value(row)),
            _ => Cell::Null,
        }
    }
}

/// A column as Utf8: strings cast, anything else in Arrow's display format.
fn as_text(a: &ArrayRef) -> Result<ArrayRef> {
    if matches!(
        a.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    ) {
        return Ok(cast(a, &DataType::Utf8)?);
    }
    let formatter = ArrayFormatter::try_new(a.as_ref(), &FormatOptions::default())?;
    let mut out = arrow::array::StringBuilder::with_capacity(a.len(), a.len() * 8);
    let mut buf = String::new();
    for i in 0..a.len() {
        if a.is_null(i) {
            out.append_null();
        } else {
            buf.clear();
            let _ = write!(buf, "{}", formatter.value(i));
            out.append_value(&buf);
        }
    }
    Ok(std::sync::Arc::new(out.finish()))
}

/// The local clock readings of a timestamp or date column, in its own zone (UTC when it has none).
pub fn local_times(array: &ArrayRef) -> Result<Vec<Option<NaiveDateTime>>> {
    let tz_name = match array.data_type() {
        DataType::Timestamp(_, tz) => tz.clone(),
        _ => None,
    };
    let micros = cast(
        array,
        &DataType::Timestamp(TimeUnit::Microsecond, tz_name.clone()),
    )?;
    let micros = micros.as_primitive::<TimestampMicrosecondType>();
    let tz = tz_name.as_deref().map(Tz::from_str).transpose()?;
    let mut offsets = OffsetCache::default();
    Ok(micros
        .iter()
        .map(|v| {
            let utc = chrono::DateTime::from_timestamp_micros(v?)?.naive_utc();
            Some(match tz {
                Some(tz) => utc + TimeDelta::seconds(offsets.offset(tz, utc)),
                None => utc,
            })
        })
        .collect())
}

/// The zone's offset for the hour last looked up: rows come in time order, so most rows reuse it.
#[derive(Default)]
struct OffsetCache {
    /// (hour since the epoch, offset in seconds) when the whole hour has one offset.
    hour: Option<(i64, i64)>,
}

impl OffsetCache {
    fn offset(&mut self, tz: Tz, utc: NaiveDateTime) -> i64 {
        let at = |t: NaiveDateTime| i64::from(tz.offset_from_utc_datetime(&t).fix().local_minus_utc());
        let hour = utc.and_utc().timestamp().div_euclid(3600);
        match self.hour {
            Some((h, offset)) if h == hour => offset,
            _ => {
                // Cache the hour only if it starts and ends on the same offset (no change inside).
                let start = chrono::DateTime::from_timestamp(hour * 3600, 0).map(|t| t.naive_utc());
                let end = chrono::DateTime::from_timestamp(hour * 3600 + 3599, 0).map(|t| t.naive_utc());
                let offset = at(utc);
                self.hour = match (start, end) {
                    (Some(s), Some(e)) if at(s) == offset && at(e) == offset => Some((hour, offset)),
                    _ => None,
                };
                offset
            }
        }
    }
}

/// Writes `t` as CXone's `MM/DD/YYYY HH:MM`.
pub fn format_cxone_time(t: NaiveDateTime, out: &mut Vec<u8>) {
    let two = |out: &mut Vec<u8>, n: u32| {
        out.extend_from_slice(&[b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8]);
    };
    two(out, t.month());
    out.push(b'/');
    two(out, t.day());
    out.push(b'/');
    match u32::try_from(t.year()) {
        Ok(y) if y <= 9999 => {
            two(out, y / 100);
            two(out, y % 100);
        }
        _ => out.extend_from_slice(t.year().to_string().as_bytes()),
    }
    out.push(b' ');
    two(out, t.hour());
    out.push(b':');
    two(out, t.minute());
}

/// Writes a cell as text the CXone way (numbers plainly, times as `MM/DD/YYYY HH:MM`, NULL as
/// nothing) into `out`, replacing its content.
pub fn cell_text(cell: Cell<'_>, out: &mut Vec<u8>) {
    out.clear();
    match cell {
        Cell::Null => {}
        Cell::Int(v) => {
            let _ = write!(out, "{v}");
        }
        Cell::Float(v) => {
            let _ = write!(out, "{v}");
        }
        Cell::Bool(v) => out.extend_from_slice(if v { b"true" } else { b"false" }),
        Cell::Time(t) => format_cxone_time(t, out),
        Cell::Text(s) => out.extend_from_slice(s.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_match_the_zone_around_transitions() {
        use arrow::array::TimestampMicrosecondArray;
        for zone in [
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Kathmandu",
            "+05:30",
        ] {
            let tz = Tz::from_str(zone).unwrap();
            // every 7 minutes and 13 seconds through 2026, in time order
            let micros: Vec<i64> = (0..73_000)
                .map(|i| 1_767_225_600_000_000 + i * 433_000_000)
                .collect();
            let array: ArrayRef =
                std::sync::Arc::new(TimestampMicrosecondArray::from(micros.clone()).with_timezone(zone));
            let got = local_times(&array).unwrap();
            for (v, local) in micros.iter().zip(got) {
                let utc = chrono::DateTime::from_timestamp_micros(*v).unwrap().naive_utc();
                assert_eq!(
                    local,
                    Some(utc + tz.offset_from_utc_datetime(&utc).fix()),
                    "{zone} at {utc}"
                );
            }
        }
    }

    #[test]
    fn formats_cxone_time() {
        let t = NaiveDateTime::parse_from_str("2026-03-08 06:59:59", "%Y-%m-%d %H:%M:%S").unwrap();
        let mut out = Vec::new();
        format_cxone_time(t, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "03/08/2026 06:59");
    }

    #[test]
    fn cxone_layout_is_found_by_name_and_type_not_position() {
        use arrow::datatypes::Field;
        let zone = crate::report::Zone::UTC;
        // the report's columns in another order, with extra columns: CXone's layout, by name
        let mut fields: Vec<Field> = crate::schema::COLUMNS
            .iter()
            .rev()
            .map(|c| Field::new(c.name, c.data_type(zone), true))
            .collect();
        fields.insert(2, Field::new("extra", DataType::Utf8, true));
        let schema = Schema::new(fields.clone());
        let layout = Layout::for_schema(&schema);
        assert!(layout.cxone);
        assert_eq!(
            layout.headers().collect::<Vec<_>>(),
            [
                "Contact_ID",
                "Agent_No",
                "FullName",
                "Station_ID",
                "Reason",
                "Refuse_Time"
            ]
        );
        for (column, (report_column, _)) in layout.columns.iter().zip(crate::schema::cxone_columns()) {
            assert_eq!(schema.field(column.index).name(), report_column.name);
        }
        // the same names with a text refuse_time, or a text contact_id, are not the report's
        for (name, t) in [("refuse_time", DataType::Utf8), ("contact_id", DataType::Utf8)] {
            let changed: Vec<Field> = fields
                .iter()
                .map(|f| {
                    if f.name() == name {
                        Field::new(name, t.clone(), true)
                    } else {
                        f.clone()
                    }
                })
                .collect();
            let layout = Layout::for_schema(&Schema::new(changed));
            assert!(!layout.cxone, "{name} as {t}");
            assert_eq!(layout.columns.len(), 8);
        }
    }
}
