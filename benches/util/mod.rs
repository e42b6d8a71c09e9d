//! Shared by the scale benchmarks: run a command, measure its wall time and peak memory.

use std::process::Command;
use std::time::Instant;

/// Wall time and peak resident set of one finished process.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// Seconds from spawn to exit.
    pub secs: f64,
    /// Peak resident set size, MiB.
    pub peak_mib: f64,
}

/// Runs `cmd` to completion (stdout and stderr discarded); panics if it fails.
pub fn measure(mut cmd: Command) -> Run {
    let start = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?} does not start: {e}"));
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it in for the child spawned above.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, not yet waited for; status and usage are valid pointers.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed"
    );
    // the child was reaped by wait4: dropping the handle must not wait again
    std::mem::forget(child);
    Run {
        secs: start.elapsed().as_secs_f64(),
        peak_mib: usage.ru_maxrss as f64 / 1024.0,
    }
}

/// The median time of `runs` and the largest peak memory among them.
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
