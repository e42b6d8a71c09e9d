//! Runs the built `agent-refusal` binary on files and checks what it writes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{bin, run, stderr, stdout};
use crate::read;

/// `sql --data DATA --format csv` with `args` (its -c and -f).
fn sql_csv(data: &str, args: &[&str]) -> Output {
    let mut all = vec!["sql", "--data", data, "--format", "csv"];
    all.extend(args);
    run(&all)
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// A tiny data set as CSV files, with names that need quoting.
pub fn csv_data() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "agents.csv",
        "agent_id,first_name,last_name\n1,Ana,\"Smith, Jr.\"\n2,\"Zoë \"\"Z\"\"\",Müller\n",
    );
    write(dir.path(), "contacts.csv", "contact_id,agent_id\n100,2\n101,\n");
    write(
        dir.path(),
        "refusals.csv",
        "contact_id,agent_id,station_id,reason,refuse_time\n\
         100,1,5001,no answer,2026-03-08T06:59:59Z\n\
         101,2,,BUSY,2026-03-08 07:30:00\n\
         102,1,5002,badnumber,2026-03-09T12:00:00Z\n",
    );
    dir
}

/// `report` of 2026-03-08 in New York over the tables in `data`, with `extra` arguments.
pub fn report_march_8(data: &Path, extra: &[&str]) -> Output {
    report_march_8_in("America/New_York", data, extra)
}

/// `report` of 2026-03-08 in `zone` over the tables in `data`, with `extra` arguments.
fn report_march_8_in(zone: &str, data: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "report",
        "--from",
        "2026-03-08",
        "--to",
        "2026-03-08",
        "--time-zone",
        zone,
        "--data",
        data.to_str().unwrap(),
    ];
    args.extend(extra);
    run(&args)
}

pub const GOLDEN: &str = "Contact_ID,Agent_No,FullName,Station_ID,Reason,Refuse_Time\r\n\
100,2,\"Ana Smith, Jr.\",5001,NoAnswer,03/08/2026 01:59\r\n\
101,2,\"Zoë \"\"Z\"\" Müller\",,Busy,03/08/2026 03:30\r\n";

#[test]
fn report_on_csv_files_to_stdout() {
    let data = csv_data();
    let o = report_march_8(data.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), GOLDEN);
    assert!(!stderr(&o).contains("demo"), "{}", stderr(&o));
}

#[test]
fn report_to_a_file_tab_without_headers() {
    let data = csv_data();
    let out = data.path().join("out.txt");
    let o = run(&[
        "report",
        "--from",
        "2026-03-08",
        "--to",
        "2026-03-09",
        "--start-time",
        "02:00",
        "--end-time",
        "11:59:59",
        "--time-zone",
        "America/New_York",
        "--format",
        "tab",
        "--no-headers",
        "--data",
        data.path().to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "101\t2\t\"Zoë \"\"Z\"\" Müller\"\t\tBusy\t03/08/2026 03:30\r\n\
         102\t1\tAna Smith, Jr.\t5002\tBad Number\t03/09/2026 08:00\r\n"
    );
    assert!(stderr(&o).contains("wrote 2 rows"), "{}", stderr(&o));
}

/// `report` of 2026-03-02 to 2026-03-13 in New York over the tables in `data`, with `extra` arguments.
fn report_two_weeks(data: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "report",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-13",
        "--time-zone",
        "America/New_York",
        "--data",
        data.to_str().unwrap(),
    ];
    args.extend(extra);
    run(&args)
}

#[test]
fn report_on_parquet_demo_data_matches_sql() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = run(&["demo-data", "--output", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    for t in ["agents", "contacts", "refusals", "stations"] {
        assert!(data.join(format!("{t}.parquet")).exists(), "{t}");
    }
    let out = dir.path().join("report.csv");
    let o = report_two_weeks(&data, &["--output", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(
        lines[0],
        "Contact_ID,Agent_No,FullName,Station_ID,Reason,Refuse_Time"
    );

    let o = sql_csv(
        data.to_str().unwrap(),
        &[
            "-c",
            "SET agent_refusal.time_zone = 'America/New_York'",
            "-c",
            "SELECT count(*) AS n, min(refuse_time) AS first, max(refuse_time) AS last FROM agent_refusal('2026-03-02', '2026-03-13')",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let sql_out = stdout(&o);
    let row: Vec<&str> = sql_out.lines().nth(1).unwrap().split(',').collect();
    let n: usize = row[0].parse().unwrap();
    assert!(n > 1000, "{sql_out}");
    assert_eq!(lines.len() - 1, n);
    // first and last rows fall on the first and last days, in local time
    assert!(
        lines[1].ends_with(&format!("03/02/2026 {}", &row[1][11..16])),
        "{} vs {}",
        lines[1],
        row[1]
    );
    assert!(
        lines[n].ends_with(&format!("03/13/2026 {}", &row[2][11..16])),
        "{} vs {}",
        lines[n],
        row[2]
    );
}

#[test]
fn demo_data_as_csv_gives_the_same_report_as_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    for format in ["parquet", "csv"] {
        let data = dir.path().join(format);
        let o = run(&[
            "demo-data",
            "--output",
            data.to_str().unwrap(),
            "--format",
            format,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = run(&[
            "report",
            "--from",
            "2026-03-07",
            "--to",
            "2026-03-09",
            "--time-zone",
            "America/New_York",
            "--data",
            data.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        reports.push(stdout(&o));
    }
    assert!(reports[0].lines().count() > 100);
    assert_eq!(reports[0], reports[1]);
}

#[test]
fn without_data_it_uses_the_demo_and_says_so() {
    let o = run(&["report", "--from", "2026-03-02", "--to", "2026-03-02"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("built-in demo data"), "{}", stderr(&o));
    assert!(stdout(&o).lines().count() > 10);
}

#[test]
fn folders_of_files_are_tables() {
    let data = csv_data();
    let folder = data.path().join("refusals");
    std::fs::create_dir(&folder).unwrap();
    std::fs::rename(data.path().join("refusals.csv"), folder.join("part-1.csv")).unwrap();
    let o = report_march_8(data.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), GOLDEN);
}

pub fn assert_one_line_error(o: &Output, needle: &str) {
    assert!(!o.status.success());
    let err = stderr(o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{err}");
}

#[test]
fn bad_inputs_fail_with_one_line_and_leave_no_file() {
    let data = csv_data();
    let d = data.path().to_str().unwrap();
    let out: PathBuf = data.path().join("report.csv");
    let o_ = out.to_str().unwrap();
    for (args, needle) in [
        (vec!["--from", "2026-02-30", "--to", "2026-03-01"], "'2026-02-30'"),
        (
            vec![
                "--from",
                "2026-03-01",
                "--to",
                "2026-03-01",
                "--end-time",
                "25:00",
            ],
            "'25:00'",
        ),
        (
            vec!["--from", "2026-03-02", "--to", "2026-03-01"],
            "is before the start",
        ),
        (
            vec![
                "--from",
                "2026-03-01",
                "--to",
                "2026-03-01",
                "--time-zone",
                "Mars/Olympus",
            ],
            "'Mars/Olympus'",
        ),
        (vec!["--range", "fortnight"], "'fortnight'"),
        (
            vec!["--from", "2026-03-01", "--to", "2026-03-01", "--format", "pdf"],
            "'pdf'",
        ),
        (
            vec![
                "--from",
                "2026-03-01",
                "--to",
                "2026-03-01",
                "--memory-limit",
                "lots",
            ],
            "'lots'",
        ),
        (
            vec![
                "--from",
                "2026-03-01",
                "--to",
                "2026-03-01",
                "--order",
                "refusals",
            ],
            "invalid order 'refusals'",
        ),
    ] {
        // usage errors: exit status 2, before any data is read (the folder does not exist)
        let missing = data.path().join("no such folder");
        let mut all = vec!["report", "--data", missing.to_str().unwrap(), "--output", o_];
        all.extend(args.iter().copied());
        let o = run(&all);
        assert_one_line_error(&o, needle);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        // and the same with data that exists
        let mut all = vec!["report", "--data", d, "--output", o_];
        all.extend(args);
        let o = run(&all);
        assert_one_line_error(&o, needle);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(!out.exists());
    }
    // a folder that cannot be read is an error while running: exit status 1, naming it
    let o = run(&[
        "report",
        "--data",
        "/no/such/folder",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-01",
    ]);
    assert_one_line_error(&o, "'/no/such/folder'");
    assert_eq!(o.status.code(), Some(1));
    // an existing file keeps its content
    std::fs::write(&out, "precious").unwrap();
    let o = run(&[
        "report",
        "--data",
        d,
        "--output",
        o_,
        "--from",
        "2026-02-30",
        "--to",
        "2026-03-01",
    ]);
    assert_one_line_error(&o, "'2026-02-30'");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
    // no stray temporary files either
    let names: Vec<String> = std::fs::read_dir(data.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
}

#[test]
fn missing_tables_and_columns_are_named() {
    let data = csv_data();
    std::fs::remove_file(data.path().join("contacts.csv")).unwrap();
    let o = report_march_8(data.path(), &[]);
    assert_one_line_error(&o, "table 'contacts' not found");
    write(data.path(), "contacts.csv", "contact_id,last_agent\n100,2\n");
    let o = report_march_8(data.path(), &[]);
    assert_one_line_error(&o, "table 'contacts' has no column 'agent_id'");
    let o = run(&[
        "report",
        "--data",
        "/nonexistent/folder",
        "--from",
        "2026-03-08",
        "--to",
        "2026-03-08",
    ]);
    assert_one_line_error(&o, "/nonexistent/folder");
}

#[test]
fn sql_runs_commands_and_files_in_order_and_stops_at_the_first_error() {
    let data = csv_data();
    let d = data.path().to_str().unwrap();
    let file = data.path().join("q.sql");
    std::fs::write(
        &file,
        "SELECT refusal_reason('no_answer') AS r;\nSELECT 2 AS two;\n",
    )
    .unwrap();
    let o = sql_csv(
        d,
        &[
            "-c",
            "SELECT 1 AS one",
            "-f",
            file.to_str().unwrap(),
            "-c",
            "SELECT 3 AS three",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "one\n1\nr\nNoAnswer\ntwo\n2\nthree\n3\n");

    let o = sql_csv(
        d,
        &[
            "-c",
            "SELECT 1 AS one",
            "-c",
            "SELECT * FROM nowhere",
            "-c",
            "SELECT 3",
        ],
    );
    assert_one_line_error(&o, "nowhere");
    assert_eq!(stdout(&o), "one\n1\n");

    let o = run(&[
        "sql",
        "--data",
        d,
        "-c",
        "SELECT contact_id, full_name FROM agent_refusal('2026-03-08', '2026-03-08') ORDER BY contact_id",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("| 100        | Ana Smith, Jr. |"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn every_format_from_the_cli() {
    let data = csv_data();
    let outputs = tempfile::tempdir().unwrap();
    let csv = outputs.path().join("golden.csv");
    std::fs::write(&csv, GOLDEN).unwrap();
    let want = read::delimited(&csv, b',');
    assert_eq!(want.len(), 3, "the header and two rows");
    for format in ["csv", "tab", "xml", "xlsx", "parquet", "json", "ndjson"] {
        let out = outputs.path().join(format!("out.{format}"));
        let o = report_march_8(
            data.path(),
            &["--format", format, "--output", out.to_str().unwrap()],
        );
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        assert!(stderr(&o).contains("wrote 2 rows"), "{format}: {}", stderr(&o));
        // read back with a third-party parser, as CXone's six text cells
        let got = read::cxone_cells(format, &out);
        assert_eq!(got, want, "{format}");
    }
    // text formats go to stdout too
    let o = report_march_8(data.path(), &["--format", "xml"]);
    assert!(o.status.success());
    assert!(
        stdout(&o).starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AgentRefusal>\n  <Row><Contact_ID>100</Contact_ID>"
        ),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        stdout(&report_march_8(data.path(), &["--format", "ndjson"]))
            .lines()
            .count(),
        2
    );
    // binary formats need a file
    let o = report_march_8(data.path(), &["--format", "xlsx"]);
    assert_one_line_error(&o, "xlsx is a binary format: give --output FILE");
}

#[test]
fn append_date_puts_todays_date_before_the_extension() {
    let data = csv_data();
    let outputs = tempfile::tempdir().unwrap();
    let out = outputs.path().join("refusals.csv");
    let o = run(&[
        "report",
        "--from",
        "2026-03-08",
        "--to",
        "2026-03-08",
        "--data",
        data.path().to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--append-date",
        "--time-zone",
        "UTC",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let today = chrono::Utc::now().date_naive().format("%Y%m%d").to_string();
    let dated = outputs.path().join(format!("refusals_{today}.csv"));
    // (a run that straddles midnight UTC may name yesterday's file; accept either)
    let yesterday = (chrono::Utc::now() - chrono::TimeDelta::minutes(5))
        .date_naive()
        .format("%Y%m%d")
        .to_string();
    let alt = outputs.path().join(format!("refusals_{yesterday}.csv"));
    assert!(dated.exists() || alt.exists(), "{}", stderr(&o));
    assert!(!out.exists());
    assert!(stderr(&o).contains("refusals_"), "{}", stderr(&o));
}

/// Compares `got` with the golden file `tests/golden/NAME` (`UPDATE_GOLDEN=1` rewrites it).
fn golden(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).unwrap();
    }
    let want =
        std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing golden file {}", path.display()));
    assert_eq!(got, want, "output differs from {}", path.display());
}

fn golden_data() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/data")
        .to_str()
        .unwrap()
        .to_string()
}

fn run_with_stdin(args: &[&str], stdin: &str) -> Output {
    use std::io::Write as _;
    let mut child = bin()
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn piped_statements_run_like_a_script() {
    let script =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/pipe.sql")).unwrap();
    let o = run_with_stdin(&["--data", &golden_data()], &script);
    assert!(o.status.success(), "{}", stderr(&o));
    golden("pipe.out", &stdout(&o));
    // `repl` is the same command
    let o = run_with_stdin(&["repl", "--data", &golden_data()], &script);
    golden("pipe.out", &stdout(&o));
    // the first error stops the script, is named on one line, and fails the run
    let o = run_with_stdin(
        &["--data", &golden_data()],
        "SELECT 1 AS one;\nSELECT * FROM nowhere;\nSELECT 3 AS three;\n",
    );
    assert_one_line_error(&o, "table 'datafusion.public.nowhere' not found");
    assert_eq!(stdout(&o), "+-----+\n| one |\n+-----+\n| 1   |\n+-----+\n");
    // without --data the demo is used, and stderr says so
    let o = run_with_stdin(&[], "SELECT count(*) > 0 AS some FROM refusals;");
    assert!(stderr(&o).contains("built-in demo data"), "{}", stderr(&o));
    assert!(stdout(&o).contains("| true |"), "{}", stdout(&o));
}

#[test]
fn sql_prints_every_format() {
    let sql = "SELECT contact_id, full_name, refuse_time FROM agent_refusal('2026-03-08', '2026-03-08', '00:00', '23:59', 'America/New_York') ORDER BY contact_id";
    let mut all = String::new();
    for format in ["table", "csv", "tsv", "json", "ndjson"] {
        let o = run(&["sql", "--data", &golden_data(), "--format", format, "-c", sql]);
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        let _ = write!(all, "== {format}\n{}", stdout(&o));
    }
    golden("sql_formats.out", &all);
    // one vocabulary: `tab` and `tsv` name the same format in `sql` and in `report`
    let tsv = run(&["sql", "--data", &golden_data(), "--format", "tsv", "-c", sql]);
    let tab = run(&["sql", "--data", &golden_data(), "--format", "tab", "-c", sql]);
    assert!(tab.status.success(), "{}", stderr(&tab));
    assert_eq!(stdout(&tab), stdout(&tsv));
    let data = csv_data();
    let tab = report_march_8(data.path(), &["--format", "tab"]);
    let tsv = report_march_8(data.path(), &["--format", "tsv"]);
    let upper = report_march_8(data.path(), &["--format", "TSV"]);
    assert!(tsv.status.success() && upper.status.success(), "{}", stderr(&tsv));
    assert_eq!(stdout(&tsv), stdout(&tab));
    assert_eq!(stdout(&upper), stdout(&tab));
    assert!(stdout(&tab).contains('\t'));
}

#[test]
fn usage_errors_are_one_line() {
    let o = run(&[
        "report",
        "--format",
        "pdf",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-01",
    ]);
    assert_one_line_error(&o, "invalid value 'pdf' for '--format <FORMAT>'");
    assert_eq!(o.status.code(), Some(2));
    assert_one_line_error(&run(&["report"]), "--from <DATE>");
    let o = run(&["--help"]);
    assert!(o.status.success() && stdout(&o).contains("report"));
}

#[test]
fn memory_limit_is_checked_and_applied() {
    assert_one_line_error(
        &run(&[
            "report",
            "--from",
            "2026-03-09",
            "--to",
            "2026-03-09",
            "--memory-limit",
            "lots",
        ]),
        "invalid value 'lots' for '--memory-limit <SIZE>'",
    );
    let o = run(&[
        "sql",
        "--memory-limit",
        "300M",
        "--format",
        "csv",
        "-c",
        "SELECT value FROM information_schema.df_settings WHERE name = 'datafusion.runtime.memory_limit'",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "value\n300M\n");
}

#[test]
fn copy_to_from_the_cli_takes_options() {
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("report.txt");
    let sql = format!(
        "SET agent_refusal.time_zone = 'America/New_York'; COPY (SELECT * FROM agent_refusal('2026-03-08', '2026-03-08')) TO '{}' STORED AS CXONE_TAB OPTIONS ('headers' 'false');",
        target.display()
    );
    let o = run(&["sql", "--data", &golden_data(), "-c", &sql]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "100\t2\tAna Smith, Jr.\t5001\tNoAnswer\t03/08/2026 01:59\r\n101\t2\tZoë Müller\t\tBusy\t03/08/2026 03:30\r\n"
    );
}

#[test]
fn declared_order_gives_the_same_report_and_bad_declarations_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let o = run(&["demo-data", "--output", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report = |extra: &[&str]| report_two_weeks(&data, extra);
    let plain = report(&[]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    let ordered = report(&["--order", "refusals=refuse_time"]);
    assert!(ordered.status.success(), "{}", stderr(&ordered));
    assert!(stdout(&plain).lines().count() > 1000);
    assert_eq!(stdout(&plain), stdout(&ordered));

    let o = report(&["--order", "refusals=refused_at"]);
    assert_one_line_error(&o, "--order: table 'refusals' has no column 'refused_at'");
    let o = report(&["--order", "calls=refuse_time"]);
    assert_one_line_error(&o, "--order names table 'calls', which data folder");
    let o = report(&["--order", "refusals"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("invalid order 'refusals': expected TABLE=COLUMN[,COLUMN...]"),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "report",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-02",
        "--order",
        "refusals=refuse_time",
    ]);
    assert_one_line_error(&o, "--order needs --data");
}

#[test]
fn the_format_follows_the_output_extension_unless_given() {
    let data = csv_data();
    let outputs = tempfile::tempdir().unwrap();
    let xlsx = outputs.path().join("march.XLSX");
    let o = report_march_8(data.path(), &["--output", xlsx.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = read::delimited(
        &{
            let csv = outputs.path().join("golden.csv");
            std::fs::write(&csv, GOLDEN).unwrap();
            csv
        },
        b',',
    );
    assert_eq!(read::cxone_cells("xlsx", &xlsx), want);
    let tsv = outputs.path().join("march.tsv");
    let o = report_march_8(data.path(), &["--output", tsv.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read::cxone_cells("tab", &tsv), want);
    // an unknown extension is CSV; --format agrees with the extension or is refused
    let other = outputs.path().join("march.out");
    assert!(
        report_march_8(data.path(), &["--output", other.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(std::fs::read_to_string(&other).unwrap(), GOLDEN);
    let clash = outputs.path().join("clash.xlsx");
    let o = report_march_8(
        data.path(),
        &["--format", "csv", "--output", clash.to_str().unwrap()],
    );
    assert_one_line_error(&o, "--format csv contradicts --output");
    assert_eq!(o.status.code(), Some(2));
    assert!(!clash.exists());
}

#[test]
fn usage_mistakes_exit_2_with_one_line() {
    let data = csv_data();
    let d = data.path().to_str().unwrap();
    for (args, needle) in [
        (vec!["sql", "--data", d], "--command <SQL>"),
        (vec!["demo-data", "--output", d, "--scale", "0"], "'0'"),
        (
            vec![
                "report",
                "--from",
                "2026-03-08",
                "--to",
                "2026-03-08",
                "--output",
                "",
            ],
            "--output <PATH>",
        ),
        (
            vec!["report", "--range", "yesterday", "--start-time", "10:00"],
            "--start-time <TIME>",
        ),
        (vec!["report", "--range", "yesterday", "--format", "pdf"], "'pdf'"),
        (
            vec!["--data", d, "demo-data", "--output", d],
            "demo-data reads no data",
        ),
        (
            vec!["report", "--from", "+999-01-01", "--to", "2026-03-01"],
            "'+999-01-01'",
        ),
        (
            vec!["report", "--range", "yesterday", "--time-zone", ""],
            "unknown time zone ''",
        ),
    ] {
        let o = run(&args);
        assert_one_line_error(&o, needle);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn negative_offsets_and_upper_case_formats_parse() {
    let data = csv_data();
    // -05:00 is New York's standard time, in force on March 8 before 03:00
    let o = report_march_8_in("-05:00", data.path(), &["--format", "TAB"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("100\t2\tAna Smith, Jr.\t5001\tNoAnswer\t03/08/2026 01:59"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn options_before_the_command_apply_to_it() {
    let data = csv_data();
    let d = data.path().to_str().unwrap();
    let o = run(&[
        "--data",
        d,
        "report",
        "--from",
        "2026-03-08",
        "--to",
        "2026-03-08",
        "--time-zone",
        "America/New_York",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), GOLDEN);
    let o = run(&[
        "--data",
        d,
        "sql",
        "--format",
        "csv",
        "-c",
        "SELECT count(*) AS n FROM refusals",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "n\n3\n");
    // the command's own --data wins
    let o = run(&[
        "--data",
        "/no/such/folder",
        "sql",
        "--data",
        d,
        "--format",
        "csv",
        "-c",
        "SELECT count(*) AS n FROM refusals",
    ]);
    assert_eq!(stdout(&o), "n\n3\n", "{}", stderr(&o));
}

#[test]
fn errors_keep_their_cause_on_one_line() {
    let data = csv_data();
    let missing = data.path().join("no such folder").join("r.csv");
    let o = report_march_8(data.path(), &["--output", missing.to_str().unwrap()]);
    assert_one_line_error(&o, "cannot write to folder");
    assert!(stderr(&o).contains("No such file or directory"), "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(1));
    let o = run(&[
        "sql",
        "--data",
        data.path().to_str().unwrap(),
        "-c",
        "SELECT nope",
    ]);
    assert_one_line_error(&o, "No field named nope");
    assert_eq!(
        stderr(&o).matches("No field named nope").count(),
        1,
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_closed_stderr_is_no_reason_to_panic() {
    let data = csv_data();
    let outputs = tempfile::tempdir().unwrap();
    let out = outputs.path().join("r.csv");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = bin()
        .args([
            "report",
            "--from",
            "2026-03-08",
            "--to",
            "2026-03-08",
            "--time-zone",
            "America/New_York",
        ])
        .args([
            "--data",
            data.path().to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ])
        .stderr(writer)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), GOLDEN);
}

/// A copy of the demo data as CSV files in a new folder.
fn demo_csv_data(scale: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "demo-data",
        "--output",
        dir.path().to_str().unwrap(),
        "--format",
        "csv",
        "--scale",
        scale,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    dir
}

/// Replaces line `n` (1-based) of `file` with `text`.
fn replace_line(file: &Path, n: usize, text: &str) {
    let content = std::fs::read_to_string(file).unwrap();
    let mut lines: Vec<&str> = content.lines().collect();
    lines[n - 1] = text;
    std::fs::write(file, lines.join("\n") + "\n").unwrap();
}

#[test]
fn demo_data_refuses_a_scale_that_does_not_fit_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("huge");
    let o = run(&[
        "demo-data",
        "--output",
        target.to_str().unwrap(),
        "--scale",
        "1000000000",
    ]);
    assert_one_line_error(&o, "scale 1000000000 would write about ");
    assert!(stderr(&o).contains(" free"), "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(1));
    assert!(!target.exists());
}

#[test]
fn a_bad_csv_row_is_named_by_file_line_and_cause_once() {
    // line 5: within the rows DataFusion reads to infer the types; line 5000: read later
    for line in [5, 5000] {
        let data = demo_csv_data("1");
        let refusals = data.path().join("refusals.csv");
        replace_line(&refusals, line, "1,2,3");
        let o = run(&[
            "sql",
            "--data",
            data.path().to_str().unwrap(),
            "-c",
            "SELECT * FROM agent_refusal('2026-03-09','2026-03-13')",
        ]);
        assert_one_line_error(&o, "refusals.csv");
        let err = stderr(&o);
        assert!(err.contains(&format!("line {line}")), "{err}");
        assert!(err.contains("expected 5") || err.contains("Expected 5"), "{err}");
        assert_eq!(err.matches("refusals.csv").count(), 1, "{err}");
        assert_eq!(err.matches("line ").count(), 1, "{err}");
    }
    // a bad value, also among the rows that inference reads: the file's line, the column's name
    for (line, row, needle) in [
        (
            5000,
            "1,2,3,Busy,2026-03-10 25:99:00",
            "line 5000, column refuse_time: ",
        ),
        (
            5000,
            "700000000,1021,abc,Busy,2026-03-10T11:19:00Z",
            "line 5000, column station_id: cannot read 'abc' as Int64",
        ),
        (
            5,
            "700000000,1021,abc,Busy,2026-03-10T11:19:00Z",
            "line 5, column station_id: cannot read 'abc' as Int64",
        ),
        (
            5,
            "700000000,1021,5001,Busy,notatime",
            "line 5, column refuse_time: Error parsing timestamp from 'notatime'",
        ),
    ] {
        let data = demo_csv_data("1");
        replace_line(&data.path().join("refusals.csv"), line, row);
        let o = run(&[
            "report",
            "--data",
            data.path().to_str().unwrap(),
            "--from",
            "2026-03-09",
            "--to",
            "2026-03-13",
        ]);
        assert_one_line_error(&o, &format!("refusals.csv': {needle}"));
        assert_eq!(stderr(&o).matches("refusals.csv").count(), 1, "{}", stderr(&o));
    }
    // and a file read in several byte ranges by default (over 10 MB) keeps its true line
    let data = demo_csv_data("40");
    replace_line(&data.path().join("refusals.csv"), 200_000, "1,2,3");
    let o = run(&[
        "sql",
        "--data",
        data.path().to_str().unwrap(),
        "-c",
        "SELECT count(reason) FROM refusals",
    ]);
    assert_one_line_error(&o, "line 200000");
    // a cast in SQL: the cause, not the optimizer's stage
    let o = run(&["sql", "-c", "SELECT cast('x' AS int)"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("Cannot cast string 'x'"), "{err}");
    assert!(!err.contains("Optimizer rule"), "{err}");
}

#[test]
fn a_header_only_csv_file_is_an_empty_table_of_the_documented_types() {
    let data = csv_data();
    write(
        data.path(),
        "refusals.csv",
        "contact_id,agent_id,station_id,reason,refuse_time,note\n",
    );
    let o = report_march_8(data.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "Contact_ID,Agent_No,FullName,Station_ID,Reason,Refuse_Time\r\n"
    );
    let o = sql_csv(
        data.path().to_str().unwrap(),
        &[
            "-c",
            "SELECT arrow_typeof(contact_id) c, arrow_typeof(agent_id) a, arrow_typeof(station_id) s, \
             arrow_typeof(reason) r, arrow_typeof(refuse_time) t, arrow_typeof(note) n \
             FROM (SELECT * FROM refusals UNION ALL SELECT 1, 2, 3, 'x', now(), 'y')",
        ],
    );
    assert_eq!(
        stdout(&o).lines().nth(1),
        Some("Int64,Int64,Int64,Utf8,Timestamp(ns),Utf8"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_column_named_twice_is_named() {
    let data = csv_data();
    write(
        data.path(),
        "refusals.csv",
        "contact_id,agent_id,station_id,reason,refuse_time,reason\n100,1,5001,Busy,2026-03-08T06:59:59Z,x\n",
    );
    let o = report_march_8(data.path(), &[]);
    assert_one_line_error(&o, "refusals.csv': duplicate column reason");
}

#[test]
fn extensions_are_recognized_in_any_case() {
    let data = csv_data();
    let expected = report_march_8(data.path(), &[]);
    assert!(expected.status.success(), "{}", stderr(&expected));
    std::fs::rename(data.path().join("agents.csv"), data.path().join("Agents.CSV")).unwrap();
    let folder = data.path().join("refusals");
    std::fs::create_dir(&folder).unwrap();
    // one file of the folder in upper case, one in lower case
    let text = std::fs::read_to_string(data.path().join("refusals.csv")).unwrap();
    let (head, rows) = text.split_once('\n').unwrap();
    let (first, rest) = rows.split_once('\n').unwrap();
    std::fs::write(folder.join("a.CSV"), format!("{head}\n{first}\n")).unwrap();
    std::fs::write(folder.join("b.csv"), format!("{head}\n{rest}")).unwrap();
    std::fs::remove_file(data.path().join("refusals.csv")).unwrap();
    let o = report_march_8(data.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), stdout(&expected));
    // Parquet too
    let demo = tempfile::tempdir().unwrap();
    let o = run(&["demo-data", "--output", demo.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lower = report_march_8(demo.path(), &[]);
    std::fs::rename(
        demo.path().join("refusals.parquet"),
        demo.path().join("Refusals.PARQUET"),
    )
    .unwrap();
    let upper = report_march_8(demo.path(), &[]);
    assert!(upper.status.success(), "{}", stderr(&upper));
    assert_eq!(stdout(&upper), stdout(&lower));
    assert!(stdout(&lower).lines().count() > 10);
}

#[test]
fn a_name_that_is_not_utf8_is_named() {
    use std::os::unix::ffi::OsStrExt;
    let data = csv_data();
    let name = std::ffi::OsStr::from_bytes(b"r\xffs.csv");
    std::fs::write(data.path().join(name), "a\n1\n").unwrap();
    let o = report_march_8(data.path(), &[]);
    assert_one_line_error(&o, "is not valid UTF-8");
    assert!(stderr(&o).contains("r\u{fffd}s.csv"), "{}", stderr(&o));
    // in a folder table, too
    std::fs::remove_file(data.path().join(name)).unwrap();
    let folder = data.path().join("stations");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join(name), "station_id\n1\n").unwrap();
    let o = report_march_8(data.path(), &[]);
    assert_one_line_error(&o, "is not valid UTF-8");
    // a table that is a folder which cannot be listed (a symbolic link to itself)
    std::fs::remove_dir_all(&folder).unwrap();
    std::os::unix::fs::symlink(data.path().join("loop.csv"), data.path().join("loop.csv")).unwrap();
    let o = report_march_8(data.path(), &[]);
    assert_one_line_error(&o, "loop.csv");
}
