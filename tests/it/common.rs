//! Helpers shared by the tests that run the built binary.

use std::process::{Command, Output};

/// The built `agent-refusal` binary, ready for arguments.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_agent-refusal"))
}

/// Runs the binary with `args` and waits for it.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

/// What it printed on stdout.
pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

/// What it printed on stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("UTF-8 errors")
}

/// What `agent-refusal sql --format csv -c SQL` prints on the demo data; fails the test on an error.
pub fn demo_csv(sql: &str) -> String {
    let o = run(&["sql", "--format", "csv", "-c", sql]);
    assert!(o.status.success(), "{sql}: {}", stderr(&o));
    stdout(&o)
}
