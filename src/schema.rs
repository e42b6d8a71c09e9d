//! The report's output columns, defined once: names, Arrow types and CXone's export headers.
//!
//! The plan ([`crate::report`]) names its output after [`COLUMNS`], the export layout
//! ([`crate::export::layout`]) finds CXone's six columns by them, and the shell completes them.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::report::Zone;

/// The Arrow type family of a report column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// `Int64`.
    Id,
    /// `Utf8`.
    Text,
    /// `Timestamp(Microsecond, <the report's zone>)`.
    Time,
}

/// One output column of `agent_refusal(...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportColumn {
    /// The column's name in SQL, Parquet and JSON.
    pub name: &'static str,
    /// Its type family.
    pub column_type: ColumnType,
    /// Its header in CXone's exports (csv, tab, xml, xlsx), or `None` when CXone has no such column.
    pub cxone_header: Option<&'static str>,
}

impl ReportColumn {
    /// The column's Arrow type in a report shown in `zone`.
    pub fn data_type(&self, zone: Zone) -> DataType {
        match self.column_type {
            ColumnType::Id => DataType::Int64,
            ColumnType::Text => DataType::Utf8,
            ColumnType::Time => refuse_time_type(zone),
        }
    }

    /// Whether `t` is a type this column's cells can be read from as CXone writes them (any
    /// integer for an ID, any string for text, any timestamp for a time).
    pub fn accepts(&self, t: &DataType) -> bool {
        match self.column_type {
            ColumnType::Id => t.is_integer(),
            ColumnType::Text => matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View),
            ColumnType::Time => matches!(t, DataType::Timestamp(..)),
        }
    }
}

const fn column(name: &'static str, column_type: ColumnType, cxone: &'static str) -> ReportColumn {
    ReportColumn {
        name,
        column_type,
        cxone_header: Some(cxone),
    }
}

/// `contact_id`: the refused contact.
pub const CONTACT_ID: ReportColumn = column("contact_id", ColumnType::Id, "Contact_ID");
/// `agent_no`: the contact's last handling agent, else the refusing agent.
pub const AGENT_NO: ReportColumn = column("agent_no", ColumnType::Id, "Agent_No");
/// `full_name`: the refusing agent's first and last name.
pub const FULL_NAME: ReportColumn = column("full_name", ColumnType::Text, "FullName");
/// `station_id`: the refusing agent's station, if any.
pub const STATION_ID: ReportColumn = column("station_id", ColumnType::Id, "Station_ID");
/// `reason`: the canonical reason.
pub const REASON: ReportColumn = column("reason", ColumnType::Text, "Reason");
/// `refuse_time`: the refusal instant, in the report's zone.
pub const REFUSE_TIME: ReportColumn = column("refuse_time", ColumnType::Time, "Refuse_Time");
/// `refusing_agent_id`: the agent who refused (not in CXone's export).
pub const REFUSING_AGENT_ID: ReportColumn = ReportColumn {
    name: "refusing_agent_id",
    column_type: ColumnType::Id,
    cxone_header: None,
};

/// The report's columns, in output order.
pub const COLUMNS: [ReportColumn; 7] = [
    CONTACT_ID,
    AGENT_NO,
    FULL_NAME,
    STATION_ID,
    REASON,
    REFUSE_TIME,
    REFUSING_AGENT_ID,
];

/// The columns of CXone's export, in its order, with their headers.
pub fn cxone_columns() -> impl Iterator<Item = (ReportColumn, &'static str)> {
    COLUMNS.into_iter().filter_map(|c| c.cxone_header.map(|h| (c, h)))
}

/// The type of `refuse_time` in a report shown in `zone`: microseconds, labelled with the zone.
pub fn refuse_time_type(zone: Zone) -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(zone.arrow_name()))
}

/// The report's output schema in `zone` (every column nullable, as the plan may produce NULLs
/// wherever its inputs do).
pub fn report_schema(zone: Zone) -> SchemaRef {
    Arc::new(Schema::new(
        COLUMNS
            .iter()
            .map(|c| Field::new(c.name, c.data_type(zone), true))
            .collect::<Vec<_>>(),
    ))
}

/// The documented type of a column of an input table (`sql/schema.sql`): `table` is the table's
/// role (`refusals`, `contacts`, `agents`, `stations`), whatever name the session gives it.
/// `None` for a column the report does not read.
pub fn input_column_type(table: &str, column: &str) -> Option<DataType> {
    let id = Some(DataType::Int64);
    let text = Some(DataType::Utf8);
    match (table, column) {
        ("refusals", "contact_id" | "agent_id" | "station_id")
        | ("contacts", "contact_id" | "agent_id")
        | ("agents", "agent_id")
        | ("stations", "station_id") => id,
        ("refusals", "reason") | ("agents", "first_name" | "last_name") => text,
        ("refusals", "refuse_time") => Some(DataType::Timestamp(TimeUnit::Nanosecond, None)),
        _ => None,
    }
}

/// A schema's column names, comma-separated, for errors that list what a table has.
pub(crate) fn column_names(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
