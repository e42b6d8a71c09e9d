//! The report is a plan DataFusion optimizes: over Parquet, the window reaches the scan and
//! prunes row groups, and unused columns are not read. Also checks the exact Arrow output types.

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::physical_plan::{ExecutionPlan, collect, displayable};
use datafusion::prelude::{ParquetReadOptions, SessionContext};

/// The refusals columns the report reads, as the test files store them.
fn refusal_fields() -> Vec<Field> {
    vec![
        Field::new("contact_id", DataType::Int64, false),
        Field::new("agent_id", DataType::Int64, false),
        Field::new("station_id", DataType::Int64, true),
        Field::new("reason", DataType::Utf8, true),
        Field::new(
            "refuse_time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]
}

/// Writes `refusals.parquet` with three days of events, one row group a day, plus dimensions.
async fn parquet_session() -> (SessionContext, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let n = 300i64;
    let day = 86_400_000_000i64;
    let start = 1_772_409_600_000_000i64; // 2026-03-02T00:00:00Z
    let mut fields = refusal_fields();
    fields.push(Field::new("notes", DataType::Utf8, true));
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from_iter_values(0..n)),
            Arc::new(Int64Array::from_iter_values((0..n).map(|i| i % 7))),
            Arc::new(
                (0..n)
                    .map(|i| (i % 5 != 0).then_some(5000 + i % 3))
                    .collect::<Int64Array>(),
            ),
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| if i % 2 == 0 { "no answer" } else { "Busy" }),
            )),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values((0..n).map(|i| start + i * (3 * day / n)))
                    .with_timezone("UTC"),
            ),
            Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("note {i}")))),
        ],
    )
    .unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(100))
        .build();
    let path = dir.path().join("refusals.parquet");
    write_parquet(&path, &batch, Some(props));
    let ctx = report_session(
        path.to_str().unwrap(),
        ParquetReadOptions::default(),
        "(1, 2)",
        "(1, 'Ana', 'Smith')",
    )
    .await;
    (ctx, dir)
}

fn write_parquet(
    path: &std::path::Path,
    batch: &RecordBatch,
    props: Option<parquet::file::properties::WriterProperties>,
) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), props).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

/// A registered session over the refusals at `location`, with one contact and one agent row.
async fn report_session(
    location: &str,
    options: ParquetReadOptions<'_>,
    contact: &str,
    agent: &str,
) -> SessionContext {
    let ctx = SessionContext::new();
    agent_refusal::register(&ctx).unwrap();
    ctx.register_parquet("refusals", location, options).await.unwrap();
    ctx.sql(&format!(
        "CREATE TABLE contacts (contact_id BIGINT, agent_id BIGINT) AS VALUES {contact}"
    ))
    .await
    .unwrap();
    ctx.sql(&format!(
        "CREATE TABLE agents (agent_id BIGINT, first_name VARCHAR, last_name VARCHAR) AS VALUES {agent}"
    ))
    .await
    .unwrap();
    ctx
}

fn scan_lines(plan: &Arc<dyn ExecutionPlan>) -> Vec<String> {
    displayable(plan.as_ref())
        .indent(true)
        .to_string()
        .lines()
        .filter(|l| l.contains("refusals.parquet"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn window_reaches_the_parquet_scan_and_prunes_row_groups() {
    let (ctx, _dir) = parquet_session().await;
    let df = ctx
        .sql("SELECT * FROM agent_refusal('2026-03-03', '2026-03-03')")
        .await
        .unwrap();
    let plan = df.create_physical_plan().await.unwrap();
    let scans = scan_lines(&plan);
    assert_eq!(
        scans.len(),
        2,
        "refusals is read for the report and for the contacts semi-join: {scans:#?}"
    );
    for scan in &scans {
        assert!(scan.contains("predicate=refuse_time@"), "{scan}");
        assert!(scan.contains("pruning_predicate="), "{scan}");
        assert!(!scan.contains("notes"), "unused column read: {scan}");
    }
    let batches = collect(Arc::clone(&plan), ctx.task_ctx()).await.unwrap();
    assert_eq!(
        batches
            .iter()
            .map(arrow::array::RecordBatch::num_rows)
            .sum::<usize>(),
        100
    );
    // Of the three one-day row groups, statistics leave only the one of 2026-03-03 to read.
    let metrics = scan_metrics(&plan);
    let pruning = metrics
        .split("row_groups_pruned_statistics{")
        .nth(1)
        .and_then(|rest| rest.split_once("}=").map(|(_, value)| value))
        .and_then(|value| value.split(',').next())
        .unwrap_or_default();
    assert!(pruning.starts_with("3 total \u{2192} 1 matched"), "{metrics}");
}

/// The metrics of the first refusals scan, after execution.
fn scan_metrics(plan: &Arc<dyn ExecutionPlan>) -> String {
    let mut stack = vec![Arc::clone(plan)];
    while let Some(p) = stack.pop() {
        if p.name() == "DataSourceExec"
            && displayable(p.as_ref())
                .one_line()
                .to_string()
                .contains("refusals.parquet")
        {
            return p.metrics().map(|m| m.to_string()).unwrap_or_default();
        }
        stack.extend(p.children().into_iter().cloned());
    }
    String::new()
}

#[tokio::test]
async fn only_needed_columns_are_read() {
    let (ctx, _dir) = parquet_session().await;
    let df = ctx
        .sql("SELECT contact_id FROM agent_refusal('2026-03-03', '2026-03-03')")
        .await
        .unwrap();
    let plan = df.create_physical_plan().await.unwrap();
    for scan in scan_lines(&plan) {
        assert!(
            !scan.contains("notes") && !scan.contains("reason") && !scan.contains("station_id"),
            "{scan}"
        );
    }
}

#[tokio::test]
async fn output_types_are_exact() {
    let (ctx, _dir) = parquet_session().await;
    ctx.sql("SET agent_refusal.time_zone = 'America/New_York'")
        .await
        .unwrap();
    let df = ctx
        .sql("SELECT * FROM agent_refusal('2026-03-03', '2026-03-03')")
        .await
        .unwrap();
    let schema = df.schema().as_arrow().clone();
    let want = [
        ("contact_id", DataType::Int64),
        ("agent_no", DataType::Int64),
        ("full_name", DataType::Utf8),
        ("station_id", DataType::Int64),
        ("reason", DataType::Utf8),
        (
            "refuse_time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("America/New_York".into())),
        ),
        ("refusing_agent_id", DataType::Int64),
    ];
    let got: Vec<(String, DataType)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    let want: Vec<(String, DataType)> = want.into_iter().map(|(n, t)| (n.to_string(), t)).collect();
    assert_eq!(got, want);
    let batches = df.collect().await.unwrap();
    for b in batches {
        assert_eq!(b.schema().field(5).data_type(), &want[5].1);
    }
}

/// Refusals sorted by time, with ties (ten events an instant, contact ids descending within one),
/// registered with the order declared and without; the report must be the same.
#[tokio::test]
async fn declared_order_makes_the_final_sort_partial_with_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let n = 1000i64;
    let start = 1_772_409_600_000_000i64; // 2026-03-02T00:00:00Z
    let schema = Arc::new(Schema::new(refusal_fields()));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from_iter_values((0..n).map(|i| 1000 - i % 10))),
            Arc::new(Int64Array::from_iter_values((0..n).map(|i| 9 - i % 3))),
            Arc::new(
                (0..n)
                    .map(|i| (i % 5 != 0).then_some(5000 + i % 3))
                    .collect::<Int64Array>(),
            ),
            Arc::new(StringArray::from_iter_values((0..n).map(|_| "Busy"))),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values((0..n).map(|i| start + (i / 10) * 60_000_000))
                    .with_timezone("UTC"),
            ),
        ],
    )
    .unwrap();
    for part in 0..2 {
        let half = batch.slice((part * n / 2) as usize, (n / 2) as usize);
        write_parquet(&dir.path().join(format!("{part}.parquet")), &half, None);
    }
    let location = format!("{}/", dir.path().display());
    let mut results = Vec::new();
    for declared in [false, true] {
        let order = if declared {
            vec![vec![datafusion::prelude::col("refuse_time").sort(true, false)]]
        } else {
            vec![]
        };
        let options = ParquetReadOptions::default().file_sort_order(order);
        let ctx = report_session(&location, options, "(995, 2)", "(8, 'Ana', 'Smith')").await;
        let plan = ctx
            .sql("SELECT * FROM agent_refusal('2026-03-02', '2026-03-02')")
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let shown = displayable(plan.as_ref()).indent(true).to_string();
        assert_eq!(shown.contains("PartialSortExec"), declared, "{shown}");
        let full_sort = shown.lines().any(|l| l.trim_start().starts_with("SortExec:"));
        assert_eq!(full_sort, !declared, "{shown}");
        let batches = collect(plan, ctx.task_ctx()).await.unwrap();
        results.push(
            arrow::util::pretty::pretty_format_batches(&batches)
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(results[0], results[1]);
    let first_rows: Vec<&str> = results[0].lines().skip(3).take(3).collect();
    assert!(first_rows[0].starts_with("| 991 "), "{}", results[0]);
    assert!(first_rows[1].starts_with("| 992 "), "{}", results[0]);
}

/// The typed API and the table function give the output schema `agent_refusal::schema` defines,
/// whatever integer and timestamp types the input tables use, and the same rows.
#[tokio::test]
async fn the_typed_report_and_the_table_function_agree_with_the_schema() {
    use agent_refusal::report::{self, ReportRange, ReportRequest, Zone};
    use agent_refusal::schema;
    let ctx = SessionContext::new();
    agent_refusal::register(&ctx).unwrap();
    agent_refusal::sources::demo::register_demo(&ctx, 1).unwrap();
    let zone = Zone::parse("America/New_York").unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
    let typed = report::report(
        &ctx,
        &ReportRequest::new(ReportRange::days(day, day)).with_zone(zone),
    )
    .unwrap();
    let sql = ctx
        .sql("SELECT * FROM agent_refusal('2026-03-09', '2026-03-09', '00:00', '23:59', 'America/New_York')")
        .await
        .unwrap();
    let want = schema::report_schema(zone);
    for df in [&typed, &sql] {
        let got: Vec<(String, DataType)> = df
            .schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        let expected: Vec<(String, DataType)> = want
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        assert_eq!(got, expected);
    }
    let typed = typed.collect().await.unwrap();
    let sql = sql.collect().await.unwrap();
    assert!(
        typed
            .iter()
            .map(arrow::array::RecordBatch::num_rows)
            .sum::<usize>()
            > 100
    );
    assert_eq!(
        arrow::compute::concat_batches(&typed[0].schema(), &typed).unwrap(),
        arrow::compute::concat_batches(&sql[0].schema(), &sql).unwrap()
    );
}

/// The report's SQL text plans with the crate's `refusal_reason` and DataFusion's built-ins,
/// whatever the session has (or has not) registered under those names.
#[tokio::test]
async fn the_report_uses_its_own_functions_whatever_the_session_registers() {
    use agent_refusal::report::{ReportRange, ReportRequest, report};
    use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};

    let ctx = SessionContext::new(); // no `register`: the typed API alone
    agent_refusal::sources::demo::register_demo(&ctx, 1).unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
    let request = ReportRequest::new(ReportRange::days(day, day));
    let before = report(&ctx, &request).unwrap().collect().await.unwrap();
    assert!(before.iter().map(RecordBatch::num_rows).sum::<usize>() > 100);
    for name in ["refusal_reason", "coalesce", "nullif"] {
        ctx.register_udf(create_udf(
            name,
            vec![DataType::Utf8],
            DataType::Utf8,
            Volatility::Immutable,
            Arc::new(|_| Ok(ColumnarValue::Scalar("overridden".into()))),
        ));
    }
    let after = report(&ctx, &request).unwrap().collect().await.unwrap();
    assert_eq!(before, after);
}
