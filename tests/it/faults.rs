//! The CLI under faults: output targets that are not regular files, outputs that are inputs,
//! signals mid-stream, full disks and absurd statements. Each test names the promise it checks
//! (docs/exports.md, "What a failure leaves behind").

use std::fmt::Write as _;
use std::io::Read;

use calamine::Reader;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{GOLDEN, assert_one_line_error, csv_data, report_march_8};
use crate::common::{bin, run, stderr, stdout};

#[test]
fn devices_are_written_through_and_full_devices_fail() {
    let data = csv_data();
    // /dev/full takes nothing: the export fails, and the device stays a device
    let o = report_march_8(data.path(), &["--output", "/dev/full"]);
    assert_one_line_error(&o, "cannot write '/dev/full': No space left on device");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        std::fs::metadata("/dev/full")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    for format in ["xlsx", "parquet", "xml"] {
        let o = report_march_8(data.path(), &["--format", format, "--output", "/dev/full"]);
        assert_one_line_error(&o, "No space left on device");
    }
    let o = report_march_8(data.path(), &["--output", "/dev/null"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    // /dev/stdout is whatever the descriptor is: here a pipe
    let o = report_march_8(data.path(), &["--output", "/dev/stdout"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), GOLDEN);
    // a file the shell opened for appending keeps what it had: the descriptor is used as it is
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.txt");
    std::fs::write(&log, "before\n").unwrap();
    let o = std::process::Command::new("sh")
        .args([
            "-c",
            "\"$0\" --data \"$1\" report --from 2026-03-08 --to 2026-03-08 \
                      --time-zone America/New_York --output /dev/stdout >> \"$2\"",
        ])
        .arg(env!("CARGO_BIN_EXE_agent-refusal"))
        .arg(data.path())
        .arg(&log)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!("before\n{GOLDEN}")
    );
    // DataFusion's own COPY formats replace their target: a device is refused, a link followed
    let o = sql_on(data.path(), "COPY (SELECT 1 AS n) TO '/dev/null' STORED AS CSV");
    assert_one_line_error(&o, "cannot write through '/dev/null'");
    let real = dir.path().join("real.csv");
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let sql = format!("COPY (SELECT 1 AS n) TO '{}' STORED AS CSV", link.display());
    let o = sql_on(data.path(), &sql);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "n\n1\n");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    // COPY goes through the same writer
    let o = sql_on(
        data.path(),
        "COPY (SELECT 1 AS n) TO '/dev/full' STORED AS CXONE_CSV",
    );
    assert_one_line_error(&o, "No space left on device");
}

/// A new FIFO `dir/NAME`.
fn fifo_in(dir: &Path, name: &str) -> PathBuf {
    let fifo = dir.join(name);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    fifo
}

/// Runs `sql` with `--data data`.
fn sql_on(data: &Path, sql: &str) -> Output {
    run(&["--data", data.to_str().unwrap(), "sql", "-c", sql])
}

#[test]
fn a_fifo_is_written_through_and_stays_a_fifo() {
    let data = csv_data();
    let dir = tempfile::tempdir().unwrap();
    let fifo = fifo_in(dir.path(), "report.fifo");
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            std::fs::File::open(fifo)
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            text
        })
    };
    let o = report_march_8(
        data.path(),
        &["--format", "csv", "--output", fifo.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(reader.join().unwrap(), GOLDEN);
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn a_symlink_is_followed_and_its_target_replaced_keeping_mode_and_group() {
    let data = csv_data();
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.csv");
    std::fs::write(&real, "old").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o2640)).unwrap();
    // a group other than the file's own where the test may give one (root may; others keep theirs)
    let created = std::fs::metadata(&real).unwrap();
    let group = if created.uid() == 0 { 1 } else { created.gid() };
    std::os::unix::fs::chown(&real, None, Some(group)).unwrap();
    let before = std::fs::metadata(&real).unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink("real.csv", &link).unwrap();
    let o = report_march_8(data.path(), &["--output", link.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(&real).unwrap(), GOLDEN);
    let after = std::fs::metadata(&real).unwrap();
    assert_ne!(after.ino(), before.ino(), "replaced, not rewritten in place");
    assert_eq!(after.mode() & 0o7777, 0o2640);
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    // a dangling link creates its target
    let dangling = dir.path().join("dangling.csv");
    std::os::unix::fs::symlink("new.csv", &dangling).unwrap();
    let o = report_march_8(data.path(), &["--output", dangling.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("new.csv")).unwrap(),
        GOLDEN
    );
    // a folder is refused
    let o = report_march_8(data.path(), &["--output", dir.path().to_str().unwrap()]);
    assert_one_line_error(&o, "it is a folder");
    assert!(only_expected_files(
        dir.path(),
        &["real.csv", "link.csv", "dangling.csv", "new.csv"]
    ));
}

/// Whether `dir` holds exactly `names` (no temporary file left behind).
fn only_expected_files(dir: &Path, names: &[&str]) -> bool {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut expected: Vec<String> = names.iter().map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(found, expected);
    true
}

#[test]
fn an_input_table_is_never_an_output() {
    let data = csv_data();
    let d = data.path();
    std::fs::create_dir(d.join("stations")).unwrap();
    std::fs::write(d.join("stations/a.csv"), "station_id,station_name\n5001,Desk\n").unwrap();
    let input = d.join("refusals.csv");
    let before = std::fs::read(&input).unwrap();
    let out = tempfile::tempdir().unwrap();
    for target in [
        input.clone(),
        d.join("./refusals.csv"),
        d.join("stations/a.csv"),
        d.join("stations/new.xlsx"),
    ] {
        let o = report_march_8(d, &["--output", target.to_str().unwrap()]);
        assert_one_line_error(&o, "which the export reads");
        assert_eq!(o.status.code(), Some(1));
    }
    // through a link as well
    let link = out.path().join("link.csv");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    let o = report_march_8(d, &["--output", link.to_str().unwrap()]);
    assert_one_line_error(&o, "which the export reads");
    // COPY, in any format, however the path is spelled
    let spelled = [
        input.display().to_string(),
        format!("file://{}", input.display()),
        format!("file://{}", input.display()).replace("refusals.csv", "refusal%73.csv"),
    ];
    for format in ["CXONE_CSV", "CSV", "PARQUET", "JSON"] {
        for target in &spelled {
            let sql = format!("COPY (SELECT * FROM refusals) TO '{target}' STORED AS {format}");
            let o = sql_on(d, &sql);
            assert_one_line_error(&o, "which the export reads");
        }
    }
    // a second file of the same table, beside it
    let o = report_march_8(d, &["--output", d.join("REFUSALS.parquet").to_str().unwrap()]);
    assert_one_line_error(&o, "would be read as a second table 'refusals'");
    // a folder name with a slash
    let o = report_march_8(d, &["--output", out.path().join("new/").to_str().unwrap()]);
    assert_one_line_error(&o, "it names a folder, not a file");
    assert_eq!(std::fs::read(&input).unwrap(), before);
    // the next run still reads it
    let o = report_march_8(d, &[]);
    assert_eq!(stdout(&o), GOLDEN);
}

/// Demo data large enough that an export is mid-stream for a second or more, kept between runs
/// under the target folder.
fn large_data() -> PathBuf {
    static DATA: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DATA.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("faults-demo-scale-200");
        if !dir.join("refusals.parquet").exists() {
            let o = run(&["demo-data", "--scale", "200", "--output", dir.to_str().unwrap()]);
            assert!(o.status.success(), "{}", stderr(&o));
        }
        dir
    })
    .clone()
}

/// The temporary files an export left in `dir`.
fn partial_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".partial"))
        .collect()
}

/// Waits until a temporary file in `dir` has `bytes` bytes (what writes it is under way).
fn wait_for_partial(dir: &Path, bytes: u64) {
    let started = Instant::now();
    loop {
        let size = partial_files(dir)
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .max();
        if size.is_some_and(|s| s >= bytes) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_mins(2),
            "{}: nothing got under way",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends `signal` (`INT`, `TERM`...) to `child` with the shell's own `kill`, there on every
/// system.
fn kill(signal: &str, child: &std::process::Child) {
    let o = std::process::Command::new("sh")
        .args(["-c", &format!("kill -{signal} {}", child.id())])
        .output()
        .unwrap();
    assert!(o.status.success(), "kill: {}", stderr(&o));
}

/// Starts a year's export of the large data in `format` to `output`.
fn start_year_export(output: &Path, format: &str) -> std::process::Child {
    bin()
        .args(["--data", large_data().to_str().unwrap(), "report"])
        .args(["--format", format, "--from", "2026-01-01", "--to", "2026-12-31"])
        .arg("--output")
        .arg(output)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Starts a year's export of the large data into `dir/NAME`, waits until its temporary file has
/// `bytes` bytes (the export is mid-stream), sends `signal` and returns what the process did.
fn signal_mid_stream(dir: &Path, name: &str, signal: &str, bytes: u64) -> Output {
    let format = Path::new(name).extension().unwrap().to_str().unwrap();
    let child = start_year_export(&dir.join(name), format);
    wait_for_partial(dir, bytes);
    kill(signal, &child);
    child.wait_with_output().unwrap()
}

#[test]
fn a_signal_mid_stream_stops_the_export_and_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    for (signal, status) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        // an XLSX file gets its first bytes only when the workbook is saved, after every row
        for (name, bytes) in [
            ("year.csv", 4 << 20),
            ("year.xlsx", 0),
            ("saving.xlsx", 1),
            ("year.xml", 4 << 20),
        ] {
            let target = dir.path().join(name);
            std::fs::write(&target, "the old report").unwrap();
            let o = signal_mid_stream(dir.path(), name, signal, bytes);
            assert_eq!(
                o.status.code(),
                Some(status),
                "SIG{signal} {name}: {}",
                stderr(&o)
            );
            assert_one_line_error(&o, &format!("stopped by SIG{signal}"));
            assert!(
                stderr(&o).contains("the file being written was removed"),
                "{}",
                stderr(&o)
            );
            assert_eq!(std::fs::read_to_string(&target).unwrap(), "the old report");
            assert_eq!(
                partial_files(dir.path()),
                Vec::<PathBuf>::new(),
                "SIG{signal} {name}"
            );
        }
    }
}

/// Runs the binary with `args` in a mount namespace of its own where `dir` is a tmpfs of `size`
/// (as an unprivileged user may, through a user namespace); `None`, after saying why, where the
/// system allows none.
fn on_small_tmpfs(dir: &Path, size: &str, env: &[(&str, &Path)], args: &[&str]) -> Option<Output> {
    let mut script = format!(
        "mount -t tmpfs -o size={size} tmpfs '{}' || exit 99; ",
        dir.display()
    );
    for (name, value) in env {
        let _ = write!(script, "export {name}='{}'; ", value.display());
    }
    script.push_str("exec \"$@\"");
    let o = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", &script, "sh"])
        .arg(env!("CARGO_BIN_EXE_agent-refusal"))
        .args(args)
        .output();
    match o {
        Ok(o) if o.status.code() != Some(99) => Some(o),
        Ok(o) => {
            eprintln!("skipped: cannot mount a tmpfs here: {}", stderr(&o));
            None
        }
        Err(e) => {
            eprintln!("skipped: unshare is not available: {e}");
            None
        }
    }
}

#[test]
fn a_full_disk_fails_in_one_line_without_a_panic_and_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let data = large_data();
    let d = data.to_str().unwrap();
    let out = dir.path().join("year.xlsx");
    std::fs::write(&out, "the old report").unwrap();
    let year = ["report", "--from", "2026-01-01", "--to", "2026-12-31"];
    // the workbook's temporary files (rust_xlsxwriter's, in TMPDIR) fill up
    let args = [&["--data", d][..], &year, &["--output", out.to_str().unwrap()]].concat();
    let Some(o) = on_small_tmpfs(&small, "1m", &[("TMPDIR", &small)], &args) else {
        return;
    };
    assert_one_line_error(&o, "No space left on device");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panic"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "the old report");
    // the output's own folder fills up, in every format
    for format in ["xlsx", "csv", "tab", "xml", "parquet", "json", "ndjson"] {
        let target = small.join(format!("year.{format}"));
        let args = [&["--data", d][..], &year, &["--output", target.to_str().unwrap()]].concat();
        let Some(o) = on_small_tmpfs(&small, "512k", &[], &args) else {
            return;
        };
        assert_one_line_error(&o, "No space left on device");
        assert!(!stderr(&o).contains("ZipWriter"), "{}", stderr(&o));
        assert_eq!(o.status.code(), Some(1), "{format}: {}", stderr(&o));
    }
}

#[test]
fn deep_statements_plan_or_fail_in_one_line_never_abort() {
    let data = csv_data();
    let run = |args: &[&str]| run(&[&["--data", data.path().to_str().unwrap()], args].concat());
    let union = vec!["SELECT 1 AS n"; 3000].join(" UNION ALL ");
    let o = run(&[
        "sql",
        "--format",
        "csv",
        "-c",
        &format!("SELECT count(*) FROM ({union})"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("3000"), "{}", stdout(&o));
    let sum = vec!["1"; 900].join("+");
    let o = run(&["sql", "--format", "csv", "-c", &format!("SELECT {sum} AS n")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "n\n900\n");
    // past 1,000 levels, planning would take minutes and gigabytes: refused at once
    let started = Instant::now();
    for statement in [
        format!("SELECT {} AS n", vec!["1"; 100_000].join("+")),
        format!("COPY (SELECT {} AS n) TO 'x.csv'", vec!["1"; 10_000].join("+")),
        format!(
            "EXPLAIN SELECT * FROM refusals WHERE {}",
            vec!["agent_id = 1"; 5_000].join(" OR ")
        ),
    ] {
        let file = data.path().join("deep.sql");
        std::fs::write(&file, &statement).unwrap();
        let o = run(&["sql", "-f", file.to_str().unwrap()]);
        assert_one_line_error(&o, "nested more than 1000 levels deep");
    }
    assert!(
        started.elapsed() < Duration::from_mins(1),
        "{:?}",
        started.elapsed()
    );
    let nested = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
    let o = run(&["sql", "-c", &nested]);
    assert_one_line_error(&o, "recursion limit exceeded");
}

#[test]
fn excel_safe_guards_formula_like_text_and_xlsx_keeps_text_text() {
    let data = csv_data();
    std::fs::write(
        data.path().join("agents.csv"),
        "agent_id,first_name,last_name\n1,=HYPERLINK(\"http://x\"),+1\n2,@SUM(A1),-2\n",
    )
    .unwrap();
    let plain = report_march_8(data.path(), &[]);
    assert!(
        stdout(&plain).contains(",\"=HYPERLINK(\"\"http://x\"\") +1\","),
        "{}",
        stdout(&plain)
    );
    assert!(stdout(&plain).contains(",@SUM(A1) -2,"), "{}", stdout(&plain));
    let safe = report_march_8(data.path(), &["--excel-safe"]);
    assert!(
        stdout(&safe).contains(",\"'=HYPERLINK(\"\"http://x\"\") +1\","),
        "{}",
        stdout(&safe)
    );
    assert!(stdout(&safe).contains(",'@SUM(A1) -2,"), "{}", stdout(&safe));
    // numbers are numbers, never guarded
    assert!(stdout(&safe).contains("\r\n100,2,"), "{}", stdout(&safe));
    let tab = report_march_8(data.path(), &["--excel-safe", "--format", "tab"]);
    assert!(stdout(&tab).contains("\t'@SUM(A1) -2\t"), "{}", stdout(&tab));
    // XLSX stores the text as text, not as a formula
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("r.xlsx");
    let o = report_march_8(data.path(), &["--output", book.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(&book).unwrap();
    let cells = workbook.worksheet_range("Agent Refusal").unwrap();
    let formulas = workbook.worksheet_formula("Agent Refusal").unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "{formulas:?}"
    );
    assert!(
        cells
            .used_cells()
            .any(|(_, _, c)| c == &calamine::Data::String("=HYPERLINK(\"http://x\") +1".into())),
        "{cells:?}"
    );
}

#[test]
fn a_reader_that_stops_early_ends_the_program_quietly() {
    let data = large_data();
    for format in ["csv", "tsv", "table", "json", "ndjson"] {
        let mut child = bin()
            .args(["--data", data.to_str().unwrap(), "sql", "--format", format])
            .args(["-c", "SELECT * FROM refusals"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 64];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        // the pipe's reader is gone (as `| head -1` would leave it)
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{format}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{format}");
    }
}

#[test]
fn memory_limits_too_small_for_any_query_are_usage_errors() {
    for size in ["0", "1K", "512K", "8M"] {
        let o = run(&["sql", "--memory-limit", size, "-c", "SELECT 1"]);
        assert_one_line_error(&o, "too small for the report: give at least 16M");
        assert_eq!(o.status.code(), Some(2));
    }
}

/// Starts a year's export of the large data to `output` (not a regular file: nothing to watch),
/// waits `after`, sends `signal` and returns what the process did, and how long it took to end.
fn signal_after(output: &Path, format: &str, signal: &str, after: Duration) -> (Output, Duration) {
    let child = start_year_export(output, format);
    std::thread::sleep(after);
    let sent = Instant::now();
    kill(signal, &child);
    let o = child.wait_with_output().unwrap();
    (o, sent.elapsed())
}

#[test]
fn a_signal_stops_an_export_through_a_device_or_a_stalled_pipe() {
    // rows streaming into /dev/null: stopped between batches
    let (o, took) = signal_after(Path::new("/dev/null"), "xml", "INT", Duration::from_millis(700));
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert_one_line_error(&o, "stopped by SIGINT");
    assert!(
        !stderr(&o).contains("removed"),
        "no file was written: {}",
        stderr(&o)
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    // a FIFO whose reader never reads: the write blocks in the kernel, the watchdog ends it
    let dir = tempfile::tempdir().unwrap();
    let fifo = fifo_in(dir.path(), "stalled.fifo");
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let file = std::fs::File::open(fifo).unwrap();
            std::thread::sleep(Duration::from_secs(20));
            drop(file);
        })
    };
    let (o, took) = signal_after(&fifo, "csv", "TERM", Duration::from_secs(2));
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert_one_line_error(&o, "stopped by SIGTERM");
    assert!(took < Duration::from_secs(6), "{took:?}");
    drop(reader);
}

#[test]
fn a_signal_stops_demo_data_and_keeps_an_existing_data_set() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("refusals.parquet");
    std::fs::write(&old, "the old data").unwrap();
    let child = bin()
        .args(["demo-data", "--scale", "400", "--output"])
        .arg(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_partial(dir.path(), 0);
    std::thread::sleep(Duration::from_millis(200));
    kill("INT", &child);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert_one_line_error(&o, "stopped by SIGINT");
    assert_eq!(std::fs::read_to_string(&old).unwrap(), "the old data");
    assert!(only_expected_files(dir.path(), &["refusals.parquet"]));
}
