//! Peak memory and time of `agent-refusal report` writing a multi-million-row report in each
//! format, with the same query's `count(*)` as the baseline, all measured in one run.
//!
//! `cargo bench --bench export_memory` (scale from `EXPORT_BENCH_SCALE`, default 500: 3 million
//! refusals over six weeks, from the demo generator, as Parquet).

use std::path::Path;
use std::process::Command;

#[allow(dead_code)]
mod util;

const BIN: &str = env!("CARGO_BIN_EXE_agent-refusal");

fn measure(args: &[&str]) -> (f64, f64) {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    let run = util::measure(&cmd).unwrap_or_else(|e| panic!("{e}"));
    (run.secs, run.peak_mib)
}

fn main() {
    util::measured_child();
    if !util::benchmarking() {
        return;
    }
    let scale = std::env::var("EXPORT_BENCH_SCALE").unwrap_or_else(|_| "500".into());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let (secs, _) = measure(&["demo-data", "--output", data_s, "--scale", &scale]);
    eprintln!("demo data at scale {scale} written in {secs:.1} s");
    let window = [
        "--from",
        "2026-02-16",
        "--to",
        "2026-03-29",
        "--time-zone",
        "America/New_York",
    ];

    let mut count_args = vec!["sql", "--data", data_s, "-c"];
    count_args.push("SELECT count(*) FROM agent_refusal('2026-02-16', '2026-03-29', '00:00', '23:59', 'America/New_York')");
    let (base_secs, base_mib) = measure(&count_args);
    println!("| format | rows | file size | time (s) | peak RSS (MiB) |");
    println!("|---|---|---|---|---|");
    println!("| (count only, baseline) | | | {base_secs:.2} | {base_mib:.0} |");
    for format in ["csv", "tab", "xml", "xlsx", "parquet", "json", "ndjson"] {
        let out = dir.path().join(format!("report.{format}"));
        let mut args = vec![
            "report",
            "--data",
            data_s,
            "--format",
            format,
            "--output",
            out.to_str().unwrap(),
        ];
        args.extend(window);
        let (secs, mib) = measure(&args);
        println!(
            "| {format} | {} | {:.0} MiB | {secs:.2} | {mib:.0} |",
            rows(&out, format),
            size_mib(&out)
        );
        std::fs::remove_file(&out).unwrap();
    }
}

fn size_mib(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / (1024.0 * 1024.0))
}

/// Rows of a text export (lines less the header), or "-" for binary formats.
fn rows(path: &Path, format: &str) -> String {
    use std::io::BufRead;
    let lines = || {
        std::io::BufReader::new(std::fs::File::open(path).unwrap())
            .lines()
            .count()
    };
    match format {
        "csv" | "tab" => (lines() - 1).to_string(),
        "ndjson" => lines().to_string(),
        "xml" => (lines() - 3).to_string(),
        _ => "-".into(),
    }
}
