//! The report at scale, side by side with the same report written by hand in DuckDB
//! (`../shared/bench/duckdb_report.py`), in one run: time, peak memory, ratio, and whether the two
//! CSV files are identical (after line endings).
//!
//! ```sh
//! python3 ../shared/bench/gen_scale.py DATA_DIR          # a year, 10M refusals (numpy, pyarrow)
//! SCALE_DATA=DATA_DIR DUCKDB_PYTHON=/path/to/venv/bin/python cargo bench --bench scale
//! ```
//!
//! `SCALE_RUNS` (default 3) runs are made of each, interleaved; the median time and the largest
//! peak are reported. Ours runs twice: with `--order refusals=refuse_time` (the layout
//! `gen_scale.py` writes; `SCALE_ORDER` changes it) and without any declared order. Without
//! `DUCKDB_PYTHON`, only this project's side is measured.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Command;

mod util;

const BIN: &str = env!("CARGO_BIN_EXE_agent-refusal");
const ZONE: &str = "America/New_York";
const WINDOWS: [(&str, &str, &str); 5] = [
    ("day", "2026-03-10", "2026-03-10"),
    ("week", "2026-03-09", "2026-03-15"),
    ("month", "2026-03-01", "2026-03-31"),
    ("quarter", "2026-01-01", "2026-03-31"),
    ("year", "2026-01-01", "2026-12-31"),
];

fn main() {
    if !util::benchmarking() {
        return;
    }
    let Some(data) = std::env::var_os("SCALE_DATA").map(PathBuf::from) else {
        eprintln!("set SCALE_DATA to a folder written by ../shared/bench/gen_scale.py");
        return;
    };
    let runs: usize = std::env::var("SCALE_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let duckdb = std::env::var_os("DUCKDB_PYTHON").map(PathBuf::from);
    let script = std::env::var_os("DUCKDB_REPORT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/duckdb_report.py"));
    let out = tempfile::tempdir().unwrap();

    // The layout gen_scale.py writes (each refusals file sorted by time), declared with --order.
    let order = std::env::var("SCALE_ORDER").unwrap_or_else(|_| "refusals=refuse_time".to_string());
    println!(
        "| window | rows | ours (s) | ours without --order (s) | DuckDB (s) | ratio | ratio without --order | ours peak (MiB) | without --order peak (MiB) | DuckDB peak (MiB) | identical CSV |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, from, to) in WINDOWS {
        let ours_csv = out.path().join(format!("ours_{name}.csv"));
        let plain_csv = out.path().join(format!("plain_{name}.csv"));
        let duck_csv = out.path().join(format!("duckdb_{name}.csv"));
        let report = |csv: &Path, order: &str| {
            let mut cmd = Command::new(BIN);
            cmd.args([
                "report",
                "--from",
                from,
                "--to",
                to,
                "--time-zone",
                ZONE,
                "--data",
            ])
            .arg(&data)
            .arg("--output")
            .arg(csv);
            if !order.is_empty() {
                cmd.args(["--order", order]);
            }
            cmd
        };
        // Interleaved, so that a noisy moment of the shared machine hits all three alike.
        let (mut ours, mut plain, mut duck) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            ours.push(util::measure(report(&ours_csv, &order)));
            plain.push(util::measure(report(&plain_csv, "")));
            if let Some(python) = &duckdb {
                let mut cmd = Command::new(python);
                cmd.arg(&script)
                    .arg(&data)
                    .args(["--from", from, "--to", to, "--time-zone", ZONE, "--output"])
                    .arg(&duck_csv);
                duck.push(util::measure(cmd));
            }
        }
        let (ours, plain) = (util::summary(&ours), util::summary(&plain));
        let duck = (!duck.is_empty()).then(|| util::summary(&duck));
        let rows = count_lines(&ours_csv) - 1;
        let identical = duck.map(|_| same_lines(&ours_csv, &duck_csv) && same_lines(&plain_csv, &duck_csv));
        let fmt = |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
        println!(
            "| {name} | {rows} | {:.2} | {:.2} | {} | {} | {} | {:.0} | {:.0} | {} | {} |",
            ours.secs,
            plain.secs,
            fmt(duck.map(|d| d.secs), 2),
            fmt(duck.map(|d| ours.secs / d.secs), 2),
            fmt(duck.map(|d| plain.secs / d.secs), 2),
            ours.peak_mib,
            plain.peak_mib,
            fmt(duck.map(|d| d.peak_mib), 0),
            identical.map_or("-".to_string(), |i| i.to_string()),
        );
    }
}

fn count_lines(path: &Path) -> usize {
    std::io::BufReader::new(std::fs::File::open(path).unwrap())
        .lines()
        .count()
}

/// Whether two text files hold the same lines (CRLF and LF endings compare equal).
fn same_lines(a: &Path, b: &Path) -> bool {
    let open = |p: &Path| std::io::BufReader::new(std::fs::File::open(p).unwrap()).lines();
    let (mut a, mut b) = (open(a), open(b));
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) => {
                let (x, y) = (x.unwrap(), y.unwrap());
                if x.trim_end_matches('\r') != y.trim_end_matches('\r') {
                    eprintln!("first difference:\n  ours:   {x}\n  duckdb: {y}");
                    return false;
                }
            }
            _ => return false,
        }
    }
}
