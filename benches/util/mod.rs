//! Shared by the scale benchmarks: run a command, measure its wall time and peak memory.

use std::ffi::OsString;
use std::io::{Read, Seek};
use std::process::{Command, Stdio};
use std::time::Instant;

use nix::sys::resource::{UsageWho, getrusage};

/// Wall time and peak resident set of one finished process.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// Seconds from spawn to exit.
    pub secs: f64,
    /// Peak resident set size, MiB.
    pub peak_mib: f64,
}

/// The argument that makes a bench binary a measuring child (see [`measure`]).
const MEASURE: &str = "--measure-child";

/// Runs `cmd` to completion and measures it. Its stdout is discarded and its stderr kept aside: an
/// error (one line, ending with the last line the command wrote on stderr) if it does not start or
/// does not exit with status 0.
///
/// The peak memory of one process is its children's `ru_maxrss` as seen by a parent that has no
/// other child: this bench binary runs itself as that parent ([`measured_child`]), which runs
/// `cmd` and reports its time and peak on stdout.
pub fn measure(cmd: &Command) -> Result<Run, String> {
    let mut stderr = tempfile::tempfile().map_err(|e| format!("cannot create a temporary file: {e}"))?;
    let child_stderr = stderr
        .try_clone()
        .map_err(|e| format!("cannot share a temporary file: {e}"))?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this bench binary: {e}"))?;
    let mut parent = Command::new(exe);
    parent.arg(MEASURE).arg(cmd.get_program()).args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => parent.env(key, value),
            None => parent.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        parent.current_dir(dir);
    }
    let out = parent
        .stderr(child_stderr)
        .output()
        .map_err(|e| format!("{cmd:?} does not start: {e}"))?;
    let report = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = report.split_whitespace().collect();
    match fields.as_slice() {
        ["ok", secs, kib] => Ok(Run {
            secs: secs
                .parse()
                .map_err(|_| format!("{cmd:?}: bad report '{report}'"))?,
            peak_mib: kib
                .parse::<f64>()
                .map_err(|_| format!("{cmd:?}: bad report '{report}'"))?
                / 1024.0,
        }),
        _ => Err(format!(
            "{cmd:?} failed ({}): {}",
            report.trim(),
            last_line(&mut stderr)
        )),
    }
}

/// When [`measure`] started this bench binary to measure a command: runs it, prints
/// `ok SECONDS PEAK_KIB` (or why it failed) on stdout and exits. Call first thing in `main`.
pub fn measured_child() {
    let mut args = std::env::args_os().skip(1);
    if args.next().is_none_or(|a| a != MEASURE) {
        return;
    }
    let Some(program) = args.next() else {
        println!("no command to measure");
        std::process::exit(1);
    };
    let rest: Vec<OsString> = args.collect();
    let start = Instant::now();
    let status = Command::new(&program).args(&rest).stdout(Stdio::null()).status();
    let secs = start.elapsed().as_secs_f64();
    match (status, getrusage(UsageWho::RUSAGE_CHILDREN)) {
        (Ok(status), Ok(usage)) if status.success() => {
            println!("ok {secs} {}", usage.max_rss());
            std::process::exit(0);
        }
        (Ok(status), _) => println!("{status}"),
        (Err(e), _) => println!("does not start: {e}"),
    }
    std::process::exit(1);
}

/// The last non-empty line of a file, or a placeholder.
fn last_line(file: &mut std::fs::File) -> String {
    let mut bytes = Vec::new();
    if file.rewind().and_then(|()| file.read_to_end(&mut bytes)).is_err() {
        return "(its stderr could not be read)".to_string();
    }
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("(nothing on stderr)")
        .to_string()
}

/// The median time of `runs` and the largest peak memory among them (`runs` is not empty).
pub fn summary(runs: &[Run]) -> Run {
    let mut secs: Vec<f64> = runs.iter().map(|r| r.secs).collect();
    secs.sort_by(f64::total_cmp);
    Run {
        secs: secs[secs.len() / 2],
        peak_mib: runs.iter().map(|r| r.peak_mib).fold(0.0, f64::max),
    }
}

/// Whether this is a `cargo bench` run (not `cargo test --benches`, which only builds).
pub fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}
