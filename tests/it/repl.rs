//! The interactive shell, driven in a pseudo-terminal like a person would use it.

use rexpect::session::PtySession;

use crate::common::{bin, demo_csv};

const TIMEOUT_MS: u64 = 60_000;

fn start(home: &std::path::Path, cwd: &std::path::Path) -> PtySession {
    let mut cmd = bin();
    cmd.env("HOME", home)
        .env_remove("XDG_STATE_HOME")
        .env("TERM", "xterm")
        .current_dir(cwd);
    rexpect::session::spawn_command(cmd, Some(TIMEOUT_MS)).expect("the shell starts")
}

/// Each step waits for output that only the shell prints (never the echo of what was typed), then
/// for the prompt after it: rustyline redraws the prompt as keys are echoed, so waiting for the
/// prompt alone could run ahead of the shell.
#[test]
fn a_session_at_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let mut p = start(home.path(), cwd.path());
    p.exp_string("SQL shell over the built-in demo data").unwrap();
    p.exp_string("agent-refusal> ").unwrap();

    // a query over two lines
    let n = demo_csv(
        "SELECT count(*) AS n FROM agent_refusal('2026-03-09', '2026-03-13', '00:00', '23:59', 'America/New_York')",
    );
    let n = n.lines().nth(1).unwrap().to_string();
    p.send_line("SELECT count(*) AS n").unwrap();
    p.send_line("FROM agent_refusal('2026-03-09', '2026-03-13', '00:00', '23:59', 'America/New_York');")
        .unwrap();
    p.exp_string(&format!("| {n}")).unwrap();
    p.exp_string("agent-refusal> ").unwrap();

    // a failing query prints one line and the shell goes on
    p.send_line("SELECT * FROM nowhere;").unwrap();
    p.exp_string("Error: table 'datafusion.public.nowhere' not found")
        .unwrap();
    p.exp_string("agent-refusal> ").unwrap();
    p.send_line("SELECT 40 + 2 AS answer;").unwrap();
    p.exp_string("| 42 ").unwrap();
    p.exp_string("agent-refusal> ").unwrap();

    // bad arguments to the report, likewise
    p.send_line("SELECT * FROM agent_refusal('2026-02-30', '2026-03-01');")
        .unwrap();
    p.exp_string("Error: agent_refusal: invalid start date '2026-02-30'")
        .unwrap();
    p.exp_string("agent-refusal> ").unwrap();

    // \d lists the tables
    p.send_line("\\d").unwrap();
    p.exp_string("refusal_reasons").unwrap();
    p.exp_string("agent-refusal> ").unwrap();

    // tab completes this project's function names
    p.send("SELECT refusal_reason_t").unwrap();
    p.send("\t").unwrap();
    p.send_line("('busy') LIKE 'The agent''s phone was busy%' AS completed;")
        .unwrap();
    p.exp_string("| true").unwrap();
    p.exp_string("agent-refusal> ").unwrap();

    // settings change later reports
    p.send_line(
        "SET agent_refusal.time_zone = 'America/Denver'; SELECT arrow_typeof(refuse_time) AS t FROM agent_refusal('2026-03-09', '2026-03-09') LIMIT 1;",
    )
    .unwrap();
    p.exp_string("\"America/Denver\")").unwrap();
    p.exp_string("agent-refusal> ").unwrap();

    // \timing shows elapsed time
    p.send_line("\\timing").unwrap();
    p.exp_string("Timing is on.").unwrap();
    p.exp_string("agent-refusal> ").unwrap();
    p.send_line("SELECT 1 AS one;").unwrap();
    p.exp_regex(r"Elapsed \d+\.\d+ seconds").unwrap();
    p.exp_string("agent-refusal> ").unwrap();
    p.send_line("\\timing off").unwrap();
    p.exp_string("Timing is off.").unwrap();
    p.exp_string("agent-refusal> ").unwrap();

    // Ctrl-C cancels a long query and keeps the shell. The query is an export, so that its
    // temporary file shows when it runs; the cancelled export leaves nothing behind.
    let slow = cwd.path().join("slow.csv");
    p.send_line(&format!(
        "COPY (SELECT v FROM generate_series(1, 100000000000) AS t(v) WHERE v % 1000000007 = 3) TO '{}' STORED AS CXONE_CSV;",
        slow.display()
    ))
    .unwrap();
    wait_for_partial_file(cwd.path());
    p.send_control('c').unwrap();
    p.exp_string("query cancelled").unwrap();
    p.exp_string("agent-refusal> ").unwrap();
    assert!(!slow.exists(), "a cancelled export wrote its target");
    p.send_line("SELECT 7 AS seven;").unwrap();
    p.exp_string("| 7 ").unwrap();
    p.exp_string("agent-refusal> ").unwrap();

    // Ctrl-C at the prompt drops the line; \q quits
    p.send("SELECT 'abandoned'").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("^C").unwrap();
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();

    // history goes to the state directory, nothing to the current one
    let history = home.path().join(".local/state/agent-refusal/history");
    let text = std::fs::read_to_string(&history).unwrap();
    assert!(text.contains("SELECT 40 + 2 AS answer;"), "{text}");
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0);
}

/// Waits until an export's temporary file (`.NAME.XXXX.partial`) appears in `dir`: the query runs.
fn wait_for_partial_file(dir: &std::path::Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(TIMEOUT_MS);
    while std::time::Instant::now() < deadline {
        let partial = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().ends_with(".partial"));
        if partial {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the export did not start within {TIMEOUT_MS} ms");
}

#[test]
fn ctrl_d_quits() {
    let home = tempfile::tempdir().unwrap();
    let mut p = start(home.path(), home.path());
    p.exp_string("agent-refusal> ").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

/// SIGTERM ends the shell even while it waits at its prompt (blocked reading the terminal), with
/// the status a terminated process has.
#[test]
fn sigterm_ends_the_shell_at_its_prompt() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let mut p = start(home.path(), cwd.path());
    p.exp_string("agent-refusal> ").unwrap();
    p.process_mut().signal(rexpect::process::Signal::SIGTERM).unwrap();
    p.exp_string("stopped by SIGTERM").unwrap();
    match p.process().wait().unwrap() {
        rexpect::process::WaitStatus::Exited(_, code) => assert_eq!(code, 143),
        other => panic!("the shell did not exit: {other:?}"),
    }
}
