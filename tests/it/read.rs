//! Readers of every export format, built on third-party parsers (csv, quick-xml, calamine,
//! parquet, `serde_json)`: what a user's tool would see in a file we wrote.

use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, TimestampMicrosecondType};
use calamine::{Data, Reader, Xlsx, open_workbook};
use chrono::TimeZone;

/// CXone's header row, as `agent_refusal::schema` defines it.
fn cxone_headers() -> Vec<String> {
    agent_refusal::schema::cxone_columns()
        .map(|(_, header)| header.to_string())
        .collect()
}

/// The rows of a CSV or TAB file, header included, as text.
pub fn delimited(path: &Path, delimiter: u8) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .from_path(path)
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// The rows of CXone's XML: each `<Row>`'s (element, text) pairs, entities resolved.
pub fn xml(text: &str) -> Vec<Vec<(String, String)>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let (mut rows, mut row, mut element, mut value) = (Vec::new(), Vec::new(), String::new(), String::new());
    let mut path_stack = Vec::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                let name = e.name().as_ref().to_string();
                path_stack.push(name.clone());
                element = name;
                value.clear();
            }
            Event::Text(t) => value.push_str(&t.into_inner()),
            Event::GeneralRef(r) => {
                let name = r.into_inner().into_owned();
                value.push_str(match name.as_str() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("unexpected entity {other}"),
                });
            }
            Event::End(_) => {
                path_stack.pop();
                match element.as_str() {
                    "Row" => rows.push(std::mem::take(&mut row)),
                    "AgentRefusal" => {}
                    name => row.push((name.to_string(), std::mem::take(&mut value))),
                }
                element = path_stack.last().cloned().unwrap_or_default();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    rows
}

/// CXone's XML as delimited rows: the header from the first row's elements, then the values.
fn xml_as_rows(path: &Path) -> Vec<Vec<String>> {
    let rows = xml(&std::fs::read_to_string(path).unwrap());
    let mut out: Vec<Vec<String>> = Vec::new();
    if let Some(first) = rows.first() {
        out.push(first.iter().map(|(name, _)| name.clone()).collect());
    }
    out.extend(
        rows.into_iter()
            .map(|r| r.into_iter().map(|(_, value)| value).collect()),
    );
    out
}

/// The first sheet of a workbook as CXone's text: numbers as integers, date-times
/// `MM/DD/YYYY HH:MM`, empty cells empty.
fn xlsx_as_rows(path: &Path) -> Vec<Vec<String>> {
    let mut book: Xlsx<_> = open_workbook(path).unwrap();
    let range = book.worksheet_range("Agent Refusal").unwrap();
    range
        .rows()
        .map(|row| {
            row.iter()
                .map(|cell| match cell {
                    Data::Float(f) => format!("{f}"),
                    Data::Int(i) => i.to_string(),
                    Data::DateTime(t) => t.as_datetime().unwrap().format("%m/%d/%Y %H:%M").to_string(),
                    Data::Empty => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

/// A report's seven typed columns (Parquet, JSON) as CXone's six text cells, with a header row.
fn report_batch_as_rows(batch: &RecordBatch) -> Vec<Vec<String>> {
    let schema = batch.schema();
    let column = |name: &str| batch.column(schema.index_of(name).unwrap());
    let ids = |name: &str| column(name).as_primitive::<Int64Type>().clone();
    let texts = |name: &str| column(name).as_string::<i32>().clone();
    let (contact, agent, station) = (ids("contact_id"), ids("agent_no"), ids("station_id"));
    let (name, reason) = (texts("full_name"), texts("reason"));
    let times = column("refuse_time")
        .as_primitive::<TimestampMicrosecondType>()
        .clone();
    let arrow::datatypes::DataType::Timestamp(_, Some(zone)) = times.data_type() else {
        panic!("refuse_time has no zone: {}", times.data_type());
    };
    let zone: chrono_tz::Tz = zone.parse().unwrap();
    let id = |a: &arrow::array::Int64Array, i: usize| {
        if a.is_null(i) {
            String::new()
        } else {
            a.value(i).to_string()
        }
    };
    let text = |a: &arrow::array::StringArray, i: usize| {
        if a.is_null(i) {
            String::new()
        } else {
            a.value(i).to_string()
        }
    };
    let mut rows = vec![cxone_headers()];
    for i in 0..batch.num_rows() {
        let time = zone
            .timestamp_micros(times.value(i))
            .unwrap()
            .format("%m/%d/%Y %H:%M")
            .to_string();
        rows.push(vec![
            id(&contact, i),
            id(&agent, i),
            text(&name, i),
            id(&station, i),
            text(&reason, i),
            time,
        ]);
    }
    rows
}

/// A Parquet file, all batches concatenated.
pub fn parquet(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// JSON (an array) or NDJSON objects of the report, as CXone's text cells with a header row
/// (`refuse_time` is RFC 3339 text in the report's zone).
fn json_as_rows(text: &str, ndjson: bool) -> Vec<Vec<String>> {
    let objects: Vec<serde_json::Value> = if ndjson {
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    } else {
        serde_json::from_str::<Vec<serde_json::Value>>(text).unwrap()
    };
    let cell = |o: &serde_json::Value, key: &str| match &o[key] {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut rows = vec![cxone_headers()];
    for o in &objects {
        let time = chrono::DateTime::parse_from_rfc3339(&cell(o, "refuse_time")).unwrap();
        rows.push(vec![
            cell(o, "contact_id"),
            cell(o, "agent_no"),
            cell(o, "full_name"),
            cell(o, "station_id"),
            cell(o, "reason"),
            time.format("%m/%d/%Y %H:%M").to_string(),
        ]);
    }
    rows
}

/// What a file of export format `format` (`csv`, `tab`, ..., as `--format` names it) holds, read
/// back with a third-party parser, as CXone's six text cells a row, header row first.
pub fn cxone_cells(format: &str, path: &Path) -> Vec<Vec<String>> {
    match format {
        "csv" => delimited(path, b','),
        "tab" => delimited(path, b'\t'),
        "xml" => xml_as_rows(path),
        "xlsx" => xlsx_as_rows(path),
        "parquet" => report_batch_as_rows(&parquet(path)),
        "json" | "ndjson" => json_as_rows(&std::fs::read_to_string(path).unwrap(), format == "ndjson"),
        other => panic!("no reader for {other}"),
    }
}
