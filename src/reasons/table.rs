//! The `refusal_reasons` table: every canonical reason with its description and cause codes.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Builder, ListBuilder, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::MemTable;
use datafusion::common::Result;

use super::REASONS;

/// Schema of `refusal_reasons`: `reason`, `description`, `cause_codes` (list of Int64).
pub fn refusal_reasons_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("reason", DataType::Utf8, false),
        Field::new("description", DataType::Utf8, false),
        Field::new(
            "cause_codes",
            DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))),
            false,
        ),
    ]))
}

/// The `refusal_reasons` table as an in-memory table, one row per canonical reason.
pub fn refusal_reasons_table() -> Result<MemTable> {
    let schema = refusal_reasons_schema();
    let mut codes = ListBuilder::new(Int64Builder::new());
    for r in REASONS {
        codes.values().append_slice(r.cause_codes);
        codes.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(REASONS.iter().map(|r| r.label))),
        Arc::new(StringArray::from_iter_values(
            REASONS.iter().map(|r| r.description),
        )),
        Arc::new(codes.finish()),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    MemTable::try_new(schema, vec![vec![batch]])
}
