//! The six CXone columns of a report batch, ready to be written.

use std::str::FromStr;

use arrow::array::timezone::Tz;
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMicrosecondType};
use chrono::{Datelike, NaiveDateTime, Offset, TimeZone, Timelike};
use datafusion::common::{Result, exec_err};

/// CXone's header names, in export order.
pub const HEADERS: [&str; 6] = [
    "Contact_ID",
    "Agent_No",
    "FullName",
    "Station_ID",
    "Reason",
    "Refuse_Time",
];

/// The report columns that feed [`HEADERS`], in the same order.
pub const COLUMNS: [&str; 6] = [
    "contact_id",
    "agent_no",
    "full_name",
    "station_id",
    "reason",
    "refuse_time",
];

/// The CXone columns of one batch: IDs as Int64, text as Utf8, refuse time as local instants.
pub struct CxoneBatch {
    /// `Contact_ID`, `Agent_No` and `Station_ID` as Int64 arrays.
    pub ids: [ArrayRef; 3],
    /// `FullName` and `Reason` as Utf8 arrays.
    pub texts: [ArrayRef; 2],
    /// `Refuse_Time` as the local clock reading in the report's zone (`None` for NULL).
    pub times: Vec<Option<NaiveDateTime>>,
}

impl CxoneBatch {
    /// Picks and converts the CXone columns of a report batch (columns found by name).
    pub fn try_new(batch: &RecordBatch) -> Result<CxoneBatch> {
        let column = |name: &str| -> Result<&ArrayRef> {
            match batch.column_by_name(name) {
                Some(c) => Ok(c),
                None => exec_err!(
                    "export: the result has no column '{name}'; CXone formats need {}",
                    COLUMNS.join(", ")
                ),
            }
        };
        let ids = [
            cast(column("contact_id")?, &DataType::Int64)?,
            cast(column("agent_no")?, &DataType::Int64)?,
            cast(column("station_id")?, &DataType::Int64)?,
        ];
        let texts = [
            cast(column("full_name")?, &DataType::Utf8)?,
            cast(column("reason")?, &DataType::Utf8)?,
        ];
        let times = local_times(column("refuse_time")?)?;
        Ok(CxoneBatch { ids, texts, times })
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// An ID column (0: Contact_ID, 1: Agent_No, 2: Station_ID) at `row`.
    pub fn id(&self, column: usize, row: usize) -> Option<i64> {
        let a = self.ids[column].as_primitive::<Int64Type>();
        a.is_valid(row).then(|| a.value(row))
    }

    /// A text column (0: FullName, 1: Reason) at `row`.
    pub fn text(&self, column: usize, row: usize) -> Option<&str> {
        let a: &StringArray = self.texts[column].as_string();
        a.is_valid(row).then(|| a.value(row))
    }
}

/// The local clock readings of a timestamp column in its own zone (UTC when it has none).
pub fn local_times(array: &ArrayRef) -> Result<Vec<Option<NaiveDateTime>>> {
    let tz_name = match array.data_type() {
        DataType::Timestamp(_, tz) => tz.clone(),
        t => return exec_err!("export: refuse_time has type {t}; expected a timestamp"),
    };
    let micros = cast(
        array,
        &DataType::Timestamp(TimeUnit::Microsecond, tz_name.clone()),
    )?;
    let micros = micros.as_primitive::<TimestampMicrosecondType>();
    let tz = match &tz_name {
        Some(name) => Some(Tz::from_str(name)?),
        None => None,
    };
    Ok(micros
        .iter()
        .map(|v| {
            let utc = chrono::DateTime::from_timestamp_micros(v?)?.naive_utc();
            Some(match &tz {
                Some(tz) => utc + tz.offset_from_utc_datetime(&utc).fix(),
                None => utc,
            })
        })
        .collect())
}

/// Writes `t` as `MM/DD/YYYY HH:MM` into `out`.
pub fn format_cxone_time(t: NaiveDateTime, out: &mut Vec<u8>) {
    let two =
        |out: &mut Vec<u8>, n: u32| out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]);
    two(out, t.month());
    out.push(b'/');
    two(out, t.day());
    out.push(b'/');
    let y = t.year();
    if (0..=9999).contains(&y) {
        two(out, (y / 100) as u32);
        two(out, (y % 100) as u32);
    } else {
        out.extend_from_slice(y.to_string().as_bytes());
    }
    out.push(b' ');
    two(out, t.hour());
    out.push(b':');
    two(out, t.minute());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_cxone_time() {
        let t = NaiveDateTime::parse_from_str("2026-03-08 06:59:59", "%Y-%m-%d %H:%M:%S").unwrap();
        let mut out = Vec::new();
        format_cxone_time(t, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "03/08/2026 06:59");
    }
}
