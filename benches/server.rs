//! `agent-refusal serve` under load, beside `agent-refusal report` run locally on the same data,
//! in one run: the month report's latency over the wire (one client, then 32 at once for 30 s),
//! queries per second, errors, wrong results and the server's peak memory.
//!
//! ```sh
//! cargo bench --bench server                                   # demo data at scale 20, 32 clients, 30 s
//! SERVER_BENCH_SCALE=5 SERVER_BENCH_SECONDS=10 cargo bench --bench server
//! ```
//!
//! The data is the demo data set written by `agent-refusal demo-data --scale N` (Parquet) into
//! `<target>/server-bench/demo-<N>`. Environment variables: `SERVER_BENCH_SCALE` (default 20:
//! 120,000 refusals), `SERVER_BENCH_CLIENTS` (32), `SERVER_BENCH_SECONDS` (30),
//! `SERVER_BENCH_RUNS` (local runs and single-client queries, 15). The clients use
//! tokio-postgres (the extended protocol, as drivers and BI tools do) and fetch every row; each
//! answer's row count and sum of contact ids are checked against the CLI's.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod util;

const BIN: &str = env!("CARGO_BIN_EXE_agent-refusal");
const FROM: &str = "2026-03-01";
const TO: &str = "2026-03-31";
const ZONE: &str = "America/New_York";
const QUERY: &str = "SELECT * FROM agent_refusal($1, $2, '00:00', '23:59', $3)";

fn main() {
    util::measured_child();
    if !util::benchmarking() {
        return;
    }
    if let Err(e) = run() {
        eprintln!("server: {e}");
    }
}

fn env_number(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(text) => text.parse().map_err(|_| format!("{name}={text} is not a number")),
        Err(_) => Ok(default),
    }
}

fn run() -> Result<(), String> {
    let scale = env_number("SERVER_BENCH_SCALE", 20)?;
    let clients = env_number("SERVER_BENCH_CLIENTS", 32)?;
    let seconds = env_number("SERVER_BENCH_SECONDS", 30)?;
    let runs = env_number("SERVER_BENCH_RUNS", 15)?.max(1);
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    let data = target.join("server-bench").join(format!("demo-{scale}"));
    if !data.join("refusals.parquet").is_file() {
        let status = Command::new(BIN)
            .args(["demo-data", "--scale", &scale.to_string(), "--output"])
            .arg(&data)
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("demo-data: {e}"))?;
        if !status.success() {
            return Err("demo-data failed".to_string());
        }
    }
    let data_arg = data.to_string_lossy().into_owned();

    // the baseline: the report run locally, as a process, to CSV
    let mut local = Command::new(BIN);
    local.args([
        "report",
        "--data",
        &data_arg,
        "--from",
        FROM,
        "--to",
        TO,
        "--time-zone",
        ZONE,
    ]);
    let mut local_runs = Vec::new();
    for _ in 0..runs {
        local_runs.push(util::measure(&local)?);
    }
    let local_peak_mib = util::summary(&local_runs).peak_mib;
    let mut local_secs: Vec<f64> = local_runs.iter().map(|r| r.secs).collect();

    let expected = cli_totals(&data_arg)?;
    let (mut server, port) = start_server(&data_arg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let outcome = runtime.block_on(load(port, expected, runs, clients, seconds));
    let peak_mib = std::fs::read_to_string(format!("/proc/{}/status", server.id()))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|l| {
                l.strip_prefix("VmHWM:")
                    .map(|v| v.trim().trim_end_matches(" kB").to_string())
            })
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0);
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    let load = outcome?;

    let local_p50 = percentile(&mut local_secs, 0.5);
    let local_p99 = percentile(&mut local_secs, 0.99);
    let mut single = load.single;
    let mut many = load.many;
    let (single_p50, single_p99) = (percentile(&mut single, 0.5), percentile(&mut single, 0.99));
    let (many_p50, many_p99) = (percentile(&mut many, 0.5), percentile(&mut many, 0.99));
    println!(
        "month report ({FROM} to {TO}, {ZONE}), {} rows, demo data at scale {scale}, 2 cores\n",
        load.rows
    );
    println!("| how | queries | per second | p50 | p99 | ratio to local p50 |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| `agent-refusal report` locally (process, CSV) | {runs} | {:.1} | {:.3} s | {:.3} s | 1.00 |",
        1.0 / local_p50,
        local_p50,
        local_p99
    );
    println!(
        "| over the wire, 1 client | {runs} | {:.1} | {:.3} s | {:.3} s | {:.2} |",
        1.0 / single_p50,
        single_p50,
        single_p99,
        single_p50 / local_p50
    );
    println!(
        "| over the wire, {clients} clients for {seconds} s | {} | {:.1} | {:.3} s | {:.3} s | {:.2} |",
        many.len(),
        many.len() as f64 / load.elapsed,
        many_p50,
        many_p99,
        many_p50 / local_p50
    );
    println!(
        "\nerrors: {}, wrong results: {}, server peak RSS: {peak_mib:.0} MiB (the local report's: {local_peak_mib:.0} MiB)",
        load.errors, load.wrong
    );
    Ok(())
}

/// What every answer must be: the month's row count and sum of contact ids, computed by the CLI.
fn cli_totals(data: &str) -> Result<(usize, i64), String> {
    let totals = Command::new(BIN)
        .args(["sql", "--format", "csv", "--data", data, "-c"])
        .arg(format!(
            "SELECT count(*) AS n, sum(contact_id) AS s FROM agent_refusal('{FROM}', '{TO}', '00:00', '23:59', '{ZONE}')"
        ))
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("sql: {e}"))?;
    let totals = String::from_utf8_lossy(&totals.stdout);
    totals
        .lines()
        .nth(1)
        .and_then(|line| line.split_once(','))
        .and_then(|(n, s)| Some((n.parse().ok()?, s.parse().ok()?)))
        .ok_or_else(|| format!("the CLI's totals: '{}'", totals.trim()))
}

/// `agent-refusal serve` on a free port of 127.0.0.1, and that port.
fn start_server(data: &str) -> Result<(std::process::Child, u16), String> {
    let mut server = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data", data])
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("serve: {e}"))?;
    let mut line = String::new();
    let stderr = server.stderr.take().ok_or("no stderr")?;
    let mut reader = std::io::BufReader::new(stderr);
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    std::thread::spawn(move || for _ in reader.lines() {});
    let port: u16 = line
        .split(" on 127.0.0.1:")
        .nth(1)
        .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect::<String>())
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("no port in '{}'", line.trim()))?;

    Ok((server, port))
}

struct Load {
    rows: usize,
    single: Vec<f64>,
    many: Vec<f64>,
    elapsed: f64,
    errors: usize,
    wrong: usize,
}

async fn connect(port: u16) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=bench"),
        tokio_postgres::NoTls,
    )
    .await
    .map_err(|e| format!("cannot connect: {e}"))?;
    tokio::spawn(connection);
    Ok(client)
}

/// One month report: its rows and the sum of their contact ids.
async fn month(client: &tokio_postgres::Client) -> Result<(usize, i64), String> {
    let rows = client
        .query(QUERY, &[&FROM, &TO, &ZONE])
        .await
        .map_err(|e| format!("the report failed: {e}"))?;
    Ok((
        rows.len(),
        rows.iter().map(|r| r.get::<_, i64>("contact_id")).sum(),
    ))
}

async fn load(
    port: u16,
    expected: (usize, i64),
    runs: u64,
    clients: u64,
    seconds: u64,
) -> Result<Load, String> {
    let client = connect(port).await?;
    let mut single = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let got = month(&client).await?;
        single.push(started.elapsed().as_secs_f64());
        if got != expected {
            return Err(format!("a result differs: {got:?} against {expected:?}"));
        }
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut errors, mut wrong) = (0, 0);
            let Ok(client) = connect(port).await else {
                return (latencies, 1, 0);
            };
            while Instant::now() < deadline {
                let started = Instant::now();
                match month(&client).await {
                    Ok(got) if got == expected => latencies.push(started.elapsed().as_secs_f64()),
                    Ok(_) => wrong += 1,
                    Err(_) => errors += 1,
                }
            }
            (latencies, errors, wrong)
        }));
    }
    let (mut many, mut errors, mut wrong) = (Vec::new(), 0, 0);
    for task in tasks {
        let (latencies, e, w) = task.await.map_err(|e| e.to_string())?;
        many.extend(latencies);
        errors += e;
        wrong += w;
    }
    Ok(Load {
        rows: expected.0,
        single,
        many,
        elapsed: started.elapsed().as_secs_f64(),
        errors,
        wrong,
    })
}

/// The `q` quantile of `values` (nearest rank); NaN when empty.
fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}
