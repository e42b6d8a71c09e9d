//! The report at scale, side by side with the same report written by hand in DuckDB
//! (`benches/scale/duckdb_report.py`), in one run: time, peak memory, ratio, and whether the two
//! CSV files are identical (after line endings).
//!
//! ```sh
//! cargo bench --bench scale                              # a year, 10M refusals, 40M contacts
//! SCALE_REFUSALS=1000000 cargo bench --bench scale       # a quicker run on a smaller year
//! ```
//!
//! Needs only `python3` (3.9 or later, with its `venv` module) on `PATH`. The first run creates a
//! Python venv in `<target>/scale-bench/venv`, installs numpy, pyarrow and duckdb into it, and
//! writes the data set with `benches/scale/gen_data.py` into `<target>/scale-bench/data-<N>`
//! (about 700 MB at the default size); later runs reuse both, and the data is written again only
//! when `gen_data.py` changes. Environment variables:
//!
//! - `SCALE_REFUSALS`: refusal events to generate (default 10,000,000; contacts are 4x).
//! - `SCALE_DATA=DIR`: use the tables in `DIR` instead of generating them.
//! - `SCALE_RUNS`: runs of each command per window (default 3), interleaved; the median time and
//!   the largest peak are reported.
//! - `SCALE_ORDER`: the `--order` of "ours" (default `refusals=refuse_time`, the layout
//!   `gen_data.py` writes; empty for none). Ours also runs without any declared order.
//! - `DUCKDB_PYTHON=/path/to/python`: a Python that already has numpy, pyarrow and duckdb,
//!   used instead of the venv.
//! - `DUCKDB_REPORT=/path/to/script.py`: another DuckDB baseline with the same arguments.
//!
//! Any failure (no Python, a failed install, a failed run) prints one line on stderr and ends the
//! benchmark.

use std::ffi::OsStr;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Command;

mod util;

const BIN: &str = env!("CARGO_BIN_EXE_agent-refusal");
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const ZONE: &str = "America/New_York";
const WINDOWS: [(&str, &str, &str); 5] = [
    ("day", "2026-03-10", "2026-03-10"),
    ("week", "2026-03-09", "2026-03-15"),
    ("month", "2026-03-01", "2026-03-31"),
    ("quarter", "2026-01-01", "2026-03-31"),
    ("year", "2026-01-01", "2026-12-31"),
];
const DEFAULT_REFUSALS: u64 = 10_000_000;
const PACKAGES: [&str; 3] = ["numpy", "pyarrow", "duckdb"];

fn main() {
    util::measured_child();
    if !util::benchmarking() {
        return;
    }
    if let Err(e) = run() {
        eprintln!("scale: {e}");
    }
}

fn run() -> Result<(), String> {
    let runs = env_count("SCALE_RUNS", 3)?;
    let order = std::env::var("SCALE_ORDER").unwrap_or_else(|_| "refusals=refuse_time".to_string());
    let bench_dir = target_dir().join("scale-bench");
    let python = python(&bench_dir)?;
    let data = match std::env::var_os("SCALE_DATA") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if !dir.is_dir() {
                return Err(format!("SCALE_DATA={} is not a folder", dir.display()));
            }
            dir
        }
        None => generated_data(
            &python,
            &bench_dir,
            env_count("SCALE_REFUSALS", DEFAULT_REFUSALS)?,
        )?,
    };
    let script = std::env::var_os("DUCKDB_REPORT")
        .map_or_else(|| scripts_dir().join("duckdb_report.py"), PathBuf::from);
    let duckdb_version = setup_step(
        Command::new(&python).args(["-c", "import duckdb; print(duckdb.__version__)"]),
        "reading the duckdb version",
    )?;
    eprintln!(
        "scale: data {}, DuckDB {} ({})",
        data.display(),
        duckdb_version.trim(),
        python.display()
    );
    compare(&python, &script, &data, runs, &order)
}

/// Runs every window `runs` times with ours (with and without `order`) and DuckDB, interleaved,
/// and prints one Markdown table row per window.
fn compare(python: &Path, script: &Path, data: &Path, runs: u64, order: &str) -> Result<(), String> {
    let out = tempfile::tempdir().map_err(|e| format!("cannot create a temporary folder: {e}"))?;
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
            .arg(data)
            .arg("--output")
            .arg(csv);
            if !order.is_empty() {
                cmd.args(["--order", order]);
            }
            cmd
        };
        let duckdb = || {
            let mut cmd = Command::new(python);
            cmd.arg(script)
                .arg(data)
                .args(["--from", from, "--to", to, "--time-zone", ZONE, "--output"])
                .arg(&duck_csv);
            cmd
        };
        // Interleaved, so that a noisy moment of the shared machine hits all three alike.
        let (mut ours, mut plain, mut duck) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            ours.push(util::measure(&report(&ours_csv, order))?);
            plain.push(util::measure(&report(&plain_csv, ""))?);
            duck.push(util::measure(&duckdb())?);
        }
        let (ours, plain, duck) = (util::summary(&ours), util::summary(&plain), util::summary(&duck));
        let rows = count_lines(&ours_csv)?.saturating_sub(1);
        let identical = same_lines(&ours_csv, &duck_csv)? && same_lines(&plain_csv, &duck_csv)?;
        println!(
            "| {name} | {rows} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} | {:.0} | {identical} |",
            ours.secs,
            plain.secs,
            duck.secs,
            ours.secs / duck.secs,
            plain.secs / duck.secs,
            ours.peak_mib,
            plain.peak_mib,
            duck.peak_mib,
        );
    }
    Ok(())
}

/// The cargo target directory: the bench runs as `<target>/<profile>/deps/scale-<hash>`; else
/// `CARGO_TARGET_DIR`, else `target/` in the package.
fn target_dir() -> PathBuf {
    let from_exe = std::env::current_exe().ok().and_then(|exe| {
        let deps = exe.parent()?;
        (deps.file_name() == Some(OsStr::new("deps")))
            .then(|| deps.parent()?.parent().map(Path::to_path_buf))
            .flatten()
    });
    from_exe
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
        .unwrap_or_else(|| Path::new(MANIFEST_DIR).join("target"))
}

/// `benches/scale/`: the data generator and the DuckDB baseline.
fn scripts_dir() -> PathBuf {
    Path::new(MANIFEST_DIR).join("benches").join("scale")
}

/// A positive whole number from the environment (`_` and `,` allowed between digits), or `default`.
fn env_count(name: &str, default: u64) -> Result<u64, String> {
    let Some(value) = std::env::var_os(name) else {
        return Ok(default);
    };
    let text = value.to_string_lossy();
    let digits: String = text.chars().filter(|c| !matches!(c, '_' | ',')).collect();
    match digits.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "{name} must be a whole number of at least 1, got '{text}'"
        )),
    }
}

/// The Python that runs the generator and the DuckDB baseline: `DUCKDB_PYTHON` as it is, else a
/// venv in `bench_dir`, created and given numpy, pyarrow and duckdb when they are missing.
fn python(bench_dir: &Path) -> Result<PathBuf, String> {
    if let Some(python) = std::env::var_os("DUCKDB_PYTHON") {
        let python = PathBuf::from(python);
        if !has_packages(&python)? {
            return Err(format!(
                "DUCKDB_PYTHON={} cannot import numpy, pyarrow and duckdb: install them into it, or unset DUCKDB_PYTHON to use a venv in {}",
                python.display(),
                bench_dir.join("venv").display()
            ));
        }
        return Ok(python);
    }
    let venv = bench_dir.join("venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        eprintln!("scale: creating a Python venv in {}", venv.display());
        std::fs::create_dir_all(bench_dir)
            .map_err(|e| format!("cannot create {}: {e}", bench_dir.display()))?;
        setup_step(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            "python3 -m venv (needs Python 3.9 or later with its venv module, e.g. Debian's python3-venv; or set DUCKDB_PYTHON)",
        )?;
    }
    if !has_packages(&python)? {
        eprintln!(
            "scale: installing {} into {} (once)",
            PACKAGES.join(", "),
            venv.display()
        );
        setup_step(
            Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
                .args(PACKAGES),
            &format!(
                "pip install {} into {} (delete that folder to start over, or set DUCKDB_PYTHON)",
                PACKAGES.join(" "),
                venv.display()
            ),
        )?;
        if !has_packages(&python)? {
            return Err(format!(
                "{} still cannot import {} after pip install",
                python.display(),
                PACKAGES.join(", ")
            ));
        }
    }
    Ok(python)
}

/// Whether `python` imports numpy, pyarrow and duckdb; an error if it does not run at all.
fn has_packages(python: &Path) -> Result<bool, String> {
    Command::new(python)
        .args(["-c", "import numpy, pyarrow, duckdb"])
        .output()
        .map(|out| out.status.success())
        .map_err(|e| format!("cannot run {}: {e}", python.display()))
}

/// The data set of `refusals` events in `bench_dir/data-<refusals>`, written by `gen_data.py`
/// unless the folder already holds what this version of the generator writes.
fn generated_data(python: &Path, bench_dir: &Path, refusals: u64) -> Result<PathBuf, String> {
    let generator = scripts_dir().join("gen_data.py");
    let source =
        std::fs::read(&generator).map_err(|e| format!("cannot read {}: {e}", generator.display()))?;
    let stamp = format!("{:016x}\n", fnv1a(&source));
    let data = bench_dir.join(format!("data-{refusals}"));
    // A hidden file, which `--data` ignores, names the generator version that wrote the folder.
    let stamp_file = ".generator";
    if std::fs::read_to_string(data.join(stamp_file)).is_ok_and(|s| s == stamp) {
        return Ok(data);
    }
    // Written beside, renamed when complete: an interrupted run leaves no half data set behind.
    let partial = bench_dir.join(format!("data-{refusals}.partial"));
    remove_dir(&partial)?;
    eprintln!(
        "scale: writing {refusals} refusals with {} into {} (once; under a minute per 10 million)",
        generator.display(),
        data.display()
    );
    setup_step(
        Command::new(python)
            .arg(&generator)
            .arg(&partial)
            .arg("--refusals")
            .arg(refusals.to_string()),
        "generating the data set",
    )?;
    std::fs::write(partial.join(stamp_file), &stamp)
        .map_err(|e| format!("cannot write {}: {e}", partial.join(stamp_file).display()))?;
    remove_dir(&data)?;
    std::fs::rename(&partial, &data)
        .map_err(|e| format!("cannot rename {} to {}: {e}", partial.display(), data.display()))?;
    Ok(data)
}

/// Removes a folder of this benchmark's own, if it exists.
fn remove_dir(dir: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("cannot remove {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// A 64-bit FNV-1a hash: a version stamp for the generator's source.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Runs a setup command to completion, its output captured, and returns its stdout; on failure,
/// one line: `what`, and the last line the command wrote on stderr.
fn setup_step(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run {}: {e}", cmd.get_program().to_string_lossy()))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("no message");
    Err(format!("{what} failed ({}): {last}", out.status))
}

fn count_lines(path: &Path) -> Result<usize, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut lines = 0;
    for line in std::io::BufReader::new(file).split(b'\n') {
        line.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        lines += 1;
    }
    Ok(lines)
}

/// Whether two text files hold the same lines (CRLF and LF endings compare equal).
fn same_lines(a: &Path, b: &Path) -> Result<bool, String> {
    let open = |p: &Path| {
        std::fs::File::open(p)
            .map(|f| std::io::BufReader::new(f).split(b'\n'))
            .map_err(|e| format!("cannot open {}: {e}", p.display()))
    };
    let read = |line: Option<std::io::Result<Vec<u8>>>, p: &Path| {
        line.transpose()
            .map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let (mut lines_a, mut lines_b) = (open(a)?, open(b)?);
    loop {
        match (read(lines_a.next(), a)?, read(lines_b.next(), b)?) {
            (None, None) => return Ok(true),
            (Some(x), Some(y)) => {
                let (x, y) = (
                    x.strip_suffix(b"\r").unwrap_or(&x),
                    y.strip_suffix(b"\r").unwrap_or(&y),
                );
                if x != y {
                    eprintln!(
                        "first difference:\n  {}: {}\n  {}: {}",
                        a.display(),
                        String::from_utf8_lossy(x),
                        b.display(),
                        String::from_utf8_lossy(y)
                    );
                    return Ok(false);
                }
            }
            _ => {
                eprintln!("{} and {} differ in length", a.display(), b.display());
                return Ok(false);
            }
        }
    }
}
