//! Every export format written and read back; XLSX sheet splitting; atomic files; `COPY ... TO`.

use std::path::{Path, PathBuf};

use agent_refusal::export::{ExportFormat, ExportOptions, export_dataframe, write_file};
use arrow::array::RecordBatch;
use calamine::{Data, DataType, Reader, Xlsx, open_workbook};
use datafusion::prelude::SessionContext;

use crate::read;

/// Agents whose names need quoting or escaping, a NULL station and an unknown agent.
async fn session() -> SessionContext {
    let ctx = SessionContext::new();
    agent_refusal::register(&ctx).unwrap();
    for sql in [
        "CREATE TABLE agents (agent_id BIGINT, first_name VARCHAR, last_name VARCHAR) AS VALUES
           (1, 'Ana', 'Smith, Jr.'), (2, 'Zoë \"Z\"', 'Müller'), (3, 'Line', 'Break\nHere'), (4, '<b>&', 'O''Brien')",
        "CREATE TABLE contacts (contact_id BIGINT, agent_id BIGINT) AS VALUES (100, 2), (101, NULL)",
        "CREATE TABLE refusals (contact_id BIGINT, agent_id BIGINT, station_id BIGINT, reason VARCHAR, refuse_time TIMESTAMP) AS VALUES
           (100, 1, 5001, 'no answer', '2026-03-08T06:59:59'),
           (101, 2, NULL, 'BUSY', '2026-03-08T07:30:00'),
           (102, 3, 5002, 'bad-number', '2026-03-08T12:00:00'),
           (103, 4, 5003, 'Fax tone', '2026-03-08T13:00:00'),
           (104, 9, 5004, NULL, '2026-03-08T14:00:00')",
        "SET agent_refusal.time_zone = 'America/New_York'",
    ] {
        ctx.sql(sql).await.unwrap();
    }
    ctx
}

const REPORT: &str = "SELECT * FROM agent_refusal('2026-03-08', '2026-03-08')";

/// Runs a `COPY` statement and returns the row count it reports.
async fn copied(ctx: &SessionContext, copy: &str) -> u64 {
    let batches = ctx.sql(copy).await.unwrap().collect().await.unwrap();
    let [batch] = batches.as_slice() else {
        panic!("COPY returns one batch, got {}", batches.len());
    };
    assert_eq!(batch.num_rows(), 1, "COPY returns one row");
    let count = batch
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::UInt64Array>()
        .expect("COPY's count is a UInt64");
    count.value(0)
}

/// The six CXone fields of each row, as the text formats must write them.
fn expected_cxone() -> Vec<Vec<&'static str>> {
    vec![
        vec![
            "Contact_ID",
            "Agent_No",
            "FullName",
            "Station_ID",
            "Reason",
            "Refuse_Time",
        ],
        vec![
            "100",
            "2",
            "Ana Smith, Jr.",
            "5001",
            "NoAnswer",
            "03/08/2026 01:59",
        ],
        vec!["101", "2", "Zoë \"Z\" Müller", "", "Busy", "03/08/2026 03:30"],
        vec![
            "102",
            "3",
            "Line Break\nHere",
            "5002",
            "Bad Number",
            "03/08/2026 08:00",
        ],
        vec!["103", "4", "<b>& O'Brien", "5003", "Fax tone", "03/08/2026 09:00"],
        vec!["104", "9", "", "5004", "", "03/08/2026 10:00"],
    ]
}

async fn export(ctx: &SessionContext, dir: &Path, format: ExportFormat, headers: bool) -> PathBuf {
    let path = dir.join(format!("report.{}", format.extension()));
    let df = ctx.sql(REPORT).await.unwrap();
    let options = ExportOptions::new(format).with_headers(headers);
    assert_eq!(export_dataframe(df, &path, options).await.unwrap(), 5);
    path
}

#[tokio::test]
async fn every_format_holds_the_same_cells() {
    let ctx = session().await;
    let dir = tempfile::tempdir().unwrap();
    let want: Vec<Vec<String>> = expected_cxone()
        .into_iter()
        .map(|row| row.into_iter().map(str::to_string).collect())
        .collect();
    for format in ExportFormat::ALL {
        let path = export(&ctx, dir.path(), format, true).await;
        assert_eq!(read::cxone_cells(format.name(), &path), want, "{format:?}");
    }
}

#[tokio::test]
async fn csv_and_tab_round_trip() {
    let ctx = session().await;
    let dir = tempfile::tempdir().unwrap();
    for (format, delimiter) in [(ExportFormat::Csv, b','), (ExportFormat::Tab, b'\t')] {
        let path = export(&ctx, dir.path(), format, true).await;
        assert_eq!(read::delimited(&path, delimiter), expected_cxone(), "{format:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.ends_with("\r\n") && text.matches("\r\n").count() == 6,
            "{text:?}"
        );
        let path = export(&ctx, dir.path(), format, false).await;
        assert_eq!(
            read::delimited(&path, delimiter),
            expected_cxone()[1..].to_vec(),
            "{format:?}"
        );
    }
    let csv = std::fs::read_to_string(dir.path().join("report.csv")).unwrap();
    assert!(csv.contains("\"Ana Smith, Jr.\""), "{csv}");
    let tab = std::fs::read_to_string(dir.path().join("report.txt")).unwrap();
    assert!(tab.contains("\tAna Smith, Jr.\t"), "{tab}");
}

#[tokio::test]
async fn xml_round_trip() {
    let ctx = session().await;
    let dir = tempfile::tempdir().unwrap();
    let path = export(&ctx, dir.path(), ExportFormat::Xml, true).await;
    let text = std::fs::read_to_string(&path).unwrap();
    let rows = read::xml(&text);
    let expected = expected_cxone();
    let want: Vec<Vec<(String, String)>> = expected[1..]
        .iter()
        .map(|r| {
            expected[0]
                .iter()
                .zip(r)
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect();
    assert_eq!(rows, want, "{text}");
}

#[tokio::test]
async fn xlsx_round_trip() {
    let ctx = session().await;
    let dir = tempfile::tempdir().unwrap();
    let path = export(&ctx, dir.path(), ExportFormat::Xlsx, true).await;
    let mut book: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(book.sheet_names(), vec!["Agent Refusal".to_string()]);
    let range = book.worksheet_range("Agent Refusal").unwrap();
    let rows: Vec<&[Data]> = range.rows().collect();
    assert_eq!(rows.len(), 6);
    let header: Vec<String> = rows[0].iter().map(std::string::ToString::to_string).collect();
    assert_eq!(header, expected_cxone()[0]);
    assert_eq!(rows[1][0], Data::Float(100.0));
    assert_eq!(rows[1][2], Data::String("Ana Smith, Jr.".into()));
    assert_eq!(rows[2][3], Data::Empty, "a NULL station is an empty cell");
    assert_eq!(rows[3][2], Data::String("Line Break\nHere".into()));
    assert_eq!(rows[4][2], Data::String("<b>& O'Brien".into()));
    assert_eq!(rows[5][2], Data::Empty);
    let Data::DateTime(t) = &rows[1][5] else {
        panic!("Refuse_Time is not a date-time: {:?}", rows[1][5])
    };
    assert_eq!(t.as_datetime().unwrap().to_string(), "2026-03-08 01:59:59");
    // the header row is frozen and filtered, and times are shown mm/dd/yyyy hh:mm
    let sheet = unzip(&path, "xl/worksheets/sheet1.xml");
    assert!(
        sheet.contains("<pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" state=\"frozen\"/>"),
        "{sheet}"
    );
    assert!(sheet.contains("<autoFilter ref=\"A1:F6\"/>"), "{sheet}");
    assert!(unzip(&path, "xl/styles.xml").contains("formatCode=\"mm/dd/yyyy hh:mm\""));
}

/// One file of a zip archive (an .xlsx), as text.
fn unzip(path: &Path, name: &str) -> String {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut text = String::new();
    archive.by_name(name).unwrap().read_to_string(&mut text).unwrap();
    text
}

#[tokio::test]
async fn parquet_and_ndjson_round_trip_with_types() {
    let ctx = session().await;
    let dir = tempfile::tempdir().unwrap();
    let original: Vec<RecordBatch> = ctx.sql(REPORT).await.unwrap().collect().await.unwrap();
    let original = arrow::compute::concat_batches(&original[0].schema(), &original).unwrap();

    let path = export(&ctx, dir.path(), ExportFormat::Parquet, true).await;
    let back = read::parquet(&path);
    assert_eq!(back.schema().fields().len(), 7);
    for (a, b) in back.columns().iter().zip(original.columns()) {
        assert_eq!(a.as_ref(), b.as_ref());
    }
    assert_eq!(
        back.schema().field(5).data_type(),
        original.schema().field(5).data_type()
    );

    let path = export(&ctx, dir.path(), ExportFormat::NdJson, true).await;
    let reader = arrow::json::ReaderBuilder::new(original.schema())
        .build(std::io::BufReader::new(std::fs::File::open(&path).unwrap()))
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let back = arrow::compute::concat_batches(&original.schema(), &batches).unwrap();
    assert_eq!(back, original);
    let first_line = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        first_line,
        r#"{"contact_id":100,"agent_no":2,"full_name":"Ana Smith, Jr.","station_id":5001,"reason":"NoAnswer","refuse_time":"2026-03-08T01:59:59-05:00","refusing_agent_id":1}"#
    );
}

#[tokio::test]
async fn json_is_one_array_with_explicit_nulls() {
    let ctx = session().await;
    let dir = tempfile::tempdir().unwrap();
    let path = export(&ctx, dir.path(), ExportFormat::Json, true).await;
    let value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let rows = value.as_array().unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[1]["station_id"], serde_json::Value::Null);
    assert_eq!(rows[1]["full_name"], "Zoë \"Z\" Müller");
    assert_eq!(rows[2]["full_name"], "Line Break\nHere");
    assert_eq!(rows[4]["full_name"], serde_json::Value::Null);
    assert_eq!(rows[4]["refuse_time"], "2026-03-08T10:00:00-04:00");
    assert_eq!(rows[0]["contact_id"], 100);

    // an empty result is an empty array
    let df = ctx
        .sql("SELECT * FROM agent_refusal('2020-01-01', '2020-01-01')")
        .await
        .unwrap();
    let empty = dir.path().join("empty.json");
    export_dataframe(df, &empty, ExportOptions::new(ExportFormat::Json))
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&empty).unwrap().trim(), "[]");
}

#[tokio::test]
async fn failed_exports_leave_no_file_and_keep_an_existing_one() {
    let ctx = session().await;
    // text times with a bad value in the last of many batches: the error comes mid-stream
    ctx.sql(
        "CREATE TABLE text_refusals AS SELECT contact_id, 1 AS agent_id, NULL AS station_id, 'Busy' AS reason,
           CASE WHEN contact_id = 200000 THEN 'not a time' ELSE '2026-03-08T12:00:00' END AS refuse_time
         FROM (SELECT value AS contact_id FROM generate_series(1, 200000))",
    )
    .await
    .unwrap();
    ctx.sql("SET agent_refusal.refusals_table = 'text_refusals'")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for format in ExportFormat::ALL {
        let path = dir.path().join(format!("out.{}", format.extension()));
        let df = ctx
            .sql("SELECT * FROM agent_refusal('2026-03-01', '2026-03-31')")
            .await
            .unwrap();
        let err = export_dataframe(df, &path, ExportOptions::new(format))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not a time"), "{format:?}: {err}");
        assert!(!path.exists(), "{format:?}");

        std::fs::write(&path, "precious").unwrap();
        let df = ctx
            .sql("SELECT * FROM agent_refusal('2026-03-01', '2026-03-31')")
            .await
            .unwrap();
        assert!(
            export_dataframe(df, &path, ExportOptions::new(format))
                .await
                .is_err()
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious", "{format:?}");
        std::fs::remove_file(&path).unwrap();
    }
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

#[tokio::test]
async fn dropping_an_export_midway_leaves_nothing() {
    let ctx = session().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    // a stream that never ends: the export is dropped (as Ctrl-C does) while writing
    let df = ctx
        .sql("SELECT value AS contact_id, value AS agent_no, 'x' AS full_name, value AS station_id, 'Busy' AS reason, now() AS refuse_time FROM generate_series(1, 9223372036854775806)")
        .await
        .unwrap();
    let stream = df.execute_stream().await.unwrap();
    let export = write_file(stream, &path, ExportOptions::new(ExportFormat::Csv));
    let timed_out = tokio::time::timeout(std::time::Duration::from_millis(300), export).await;
    assert!(timed_out.is_err(), "the export should still be running");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[tokio::test]
async fn copy_to_writes_any_query_in_the_new_formats() {
    let ctx = session().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    for copy in [
        format!("COPY ({REPORT}) TO '{d}/r.xlsx'"),
        format!("COPY ({REPORT}) TO '{d}/r.xml' STORED AS XML"),
        format!("COPY ({REPORT}) TO '{d}/r.csv' STORED AS CXONE_CSV"),
        format!("COPY ({REPORT}) TO '{d}/r.txt' STORED AS CXONE_TAB OPTIONS ('headers' 'false')"),
        format!("COPY ({REPORT}) TO '{d}/r.tsv'"),
        format!("COPY ({REPORT}) TO '{d}/r2.txt' STORED AS CXONE_TSV"),
    ] {
        assert_eq!(copied(&ctx, &copy).await, 5, "{copy}");
    }
    assert_eq!(read::delimited(&dir.path().join("r.csv"), b','), expected_cxone());
    assert_eq!(
        read::delimited(&dir.path().join("r.txt"), b'\t'),
        expected_cxone()[1..].to_vec()
    );
    // tsv names CXone's tab-delimited text too, as a format and as an extension
    for tab in ["r.tsv", "r2.txt"] {
        assert_eq!(
            read::delimited(&dir.path().join(tab), b'\t'),
            expected_cxone(),
            "{tab}"
        );
    }
    assert!(
        std::fs::read_to_string(dir.path().join("r.xml"))
            .unwrap()
            .contains("<FullName>&lt;b&gt;&amp; O&apos;Brien</FullName>")
    );
    let mut book: Xlsx<_> = open_workbook(dir.path().join("r.xlsx")).unwrap();
    assert_eq!(book.worksheet_range("Agent Refusal").unwrap().rows().count(), 6);

    // any other query keeps its own columns and names
    let groups = copied(
        &ctx,
        &format!(
            "COPY (SELECT reason, count(*) AS n, max(refuse_time) AS last, true AS flag, 1.5 AS x FROM agent_refusal('2026-03-08', '2026-03-08') GROUP BY reason ORDER BY reason NULLS LAST) TO '{d}/counts.xlsx'"
        ),
    )
    .await;
    assert_eq!(groups, 5, "one row per reason, the NULL one included");
    let mut book: Xlsx<_> = open_workbook(dir.path().join("counts.xlsx")).unwrap();
    let range = book.worksheet_range("Agent Refusal").unwrap();
    let rows: Vec<&[Data]> = range.rows().collect();
    assert_eq!(
        rows[0]
            .iter()
            .map(std::string::ToString::to_string)
            .collect::<Vec<_>>(),
        ["reason", "n", "last", "flag", "x"]
    );
    assert_eq!(rows[1][0], Data::String("Bad Number".into()));
    assert_eq!(rows[1][1], Data::Float(1.0));
    assert!(matches!(rows[1][2], Data::DateTime(_)));
    assert_eq!(rows[1][3], Data::Bool(true));
    assert_eq!(rows[1][4], Data::Float(1.5));
    assert_eq!(rows[5][0], Data::Empty, "the NULL reason");

    let err = ctx
        .sql(&format!(
            "COPY (SELECT 1) TO '{d}/x.xlsx' OPTIONS ('colour' 'red')"
        ))
        .await
        .unwrap()
        .collect()
        .await;
    let err = err.unwrap_err().to_string();
    assert!(err.contains("unknown option 'colour'"), "{err}");
}

#[tokio::test]
async fn xlsx_sheets_split_past_excels_row_limit() {
    // 1,048,576 rows a sheet with the header: 1,100,000 rows need two sheets
    let ctx = SessionContext::new();
    agent_refusal::register(&ctx).unwrap();
    let n: i64 = 1_100_000;
    let df = ctx
        .sql(&format!(
            "SELECT value AS contact_id, value % 7 AS agent_no, 'Agent ' || (value % 7) AS full_name, 5000 + value % 3 AS station_id,
                    'NoAnswer' AS reason, to_timestamp_seconds(1772409600 + value) AS refuse_time
             FROM generate_series(1, {n}) ORDER BY value"
        ))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.xlsx");
    assert_eq!(
        export_dataframe(df, &path, ExportOptions::new(ExportFormat::Xlsx))
            .await
            .unwrap(),
        n as u64
    );
    let mut book: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(book.sheet_names(), ["Agent Refusal", "Agent Refusal 2"]);
    let first = book.worksheet_range("Agent Refusal").unwrap();
    let second = book.worksheet_range("Agent Refusal 2").unwrap();
    assert_eq!(first.height(), 1_048_576);
    assert_eq!(second.height(), (n as usize) - 1_048_575 + 1);
    for sheet in [&first, &second] {
        assert_eq!(sheet.get((0, 0)), Some(&Data::String("Contact_ID".into())));
    }
    // no row lost or repeated: contact ids run 1..=n across the two sheets
    let ids: Vec<f64> = first
        .rows()
        .skip(1)
        .chain(second.rows().skip(1))
        .map(|r| r[0].as_f64().unwrap())
        .collect();
    assert_eq!(ids.len(), n as usize);
    assert!(ids.iter().enumerate().all(|(i, id)| *id == (i + 1) as f64));
}

#[tokio::test]
async fn xlsx_needs_a_file() {
    let ctx = session().await;
    let stream = ctx.sql(REPORT).await.unwrap().execute_stream().await.unwrap();
    let err = agent_refusal::export::write_stream(stream, Vec::new(), ExportOptions::new(ExportFormat::Xlsx))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("XLSX export needs a file"), "{err}");
}
