//! `agent-refusal serve` with real clients: `psql` (installed by `.ci/run`), raw sockets, and
//! tokio-postgres for the concurrent load. Each test starts its own server on a free port of
//! 127.0.0.1 and stops it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{bin, demo_csv};

/// A running `agent-refusal serve`, stopped (SIGKILL) when dropped.
struct Server {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `serve --listen 127.0.0.1:0 ARGS` and waits for its startup line.
    fn start(args: &[&str]) -> Server {
        Server::start_with_env(args, &[])
    }

    fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = bin();
        command.args(["serve", "--listen", "127.0.0.1:0"]).args(args);
        command.env_remove("AGENT_REFUSAL_PASSWORDS");
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                {
                    let mut log = sink.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
                if let Some(at) = line.find(" on 127.0.0.1:")
                    && let Some(tx) = tx.take()
                {
                    let port: String = line[at + 14..].chars().take_while(char::is_ascii_digit).collect();
                    let _ = tx.send(port.parse::<u16>().expect("a port in the startup line"));
                }
            }
        });
        let Ok(port) = rx.recv_timeout(Duration::from_mins(2)) else {
            let _ = child.kill();
            panic!("the server did not start: {}", log.lock().unwrap());
        };
        Server { child, port, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log holds `needle` (up to `within`).
    fn wait_for_log(&self, needle: &str, within: Duration) -> String {
        let started = Instant::now();
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(started.elapsed() < within, "no '{needle}' in the log: {log}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// psql with `conninfo` added to the connection (`user=alice sslmode=require`), `-X`, no
    /// password prompt, and `args`.
    fn psql(&self, conninfo: &str, password: Option<&str>, args: &[&str]) -> Output {
        let mut command = psql_command(self.port, conninfo, password);
        command.args(args);
        command.output().expect("psql runs (install postgresql-client)")
    }

    /// psql's stdout for `sql` (unaligned, tuples only), failing the test on an error.
    fn query(&self, sql: &str) -> String {
        let o = self.psql("", None, &["-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]);
        assert!(
            o.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// SIGTERM, then the exit status (within `within`).
    fn stop(mut self, within: Duration) -> ExitStatus {
        signal(self.child.id(), "TERM");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < within,
                "the server did not stop: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn psql_command(port: u16, conninfo: &str, password: Option<&str>) -> Command {
    let mut command = Command::new("psql");
    command
        .arg(format!(
            "host=127.0.0.1 port={port} connect_timeout=10 {conninfo}"
        ))
        .args(["-X", "-w", "-v", "VERBOSITY=terse"])
        .env_remove("PGPASSWORD")
        .env_remove("PGSSLMODE")
        .env("PGUSER", "postgres")
        .env("PGDATABASE", "postgres")
        .stdin(Stdio::null());
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const MARCH: &str = "agent_refusal('2026-03-02', '2026-03-13', '00:00', '23:59', 'America/New_York')";

#[test]
fn psql_runs_the_report_describes_tables_and_goes_on_after_an_error() {
    let server = Server::start(&[]);
    // the report, as text, equals the CLI's
    let columns = "contact_id, agent_no, full_name, station_id, reason, CAST(refuse_time AS VARCHAR) AS refuse_time, refusing_agent_id";
    let sql = format!("SELECT {columns} FROM {MARCH}");
    let o = server.psql("", None, &["--csv", "-v", "ON_ERROR_STOP=1", "-c", &sql]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let over_the_wire = text(&o.stdout);
    assert_eq!(over_the_wire, demo_csv(&sql));
    assert_eq!(
        over_the_wire.lines().count(),
        1 + 1873,
        "the header and the two weeks' refusals"
    );

    // \dt and \d read pg_catalog
    let o = server.psql("", None, &["-c", "\\dt"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let tables = text(&o.stdout);
    for table in ["refusals", "contacts", "agents", "stations", "refusal_reasons"] {
        assert!(
            tables.contains(&format!("public | {table} ")),
            "{table} in {tables}"
        );
    }
    let o = server.psql("", None, &["-c", "\\d refusals"]);
    let described = text(&o.stdout);
    assert!(
        described.contains("refuse_time | timestamp with time zone"),
        "{described}"
    );
    assert!(described.contains("contact_id  | bigint"), "{described}");

    // one psql session: an error is shown and the next statements run
    let script = "SELECT missing FROM refusals;\nSELECT count(*) AS after_error FROM agent_refusal('2026-03-02', '2026-03-13');\nSELECT nope FROM no_such_table;\nSELECT 42 AS still_here;\n";
    let mut child = psql_command(server.port, "", None)
        .args(["-A", "-t", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(out, "1873\n42\n", "{err}");
    assert!(
        err.contains("ERROR:  Schema error: No field named missing"),
        "{err}"
    );
    assert!(err.contains("no_such_table"), "{err}");
    assert_eq!(err.lines().count(), 2, "one line per error: {err}");
    assert_eq!(server.stop(Duration::from_secs(15)).code(), Some(0));
}

#[test]
fn set_applies_to_its_connection_only_and_bad_values_are_refused() {
    let server = Server::start(&[]);
    let o = server.psql(
        "",
        None,
        &[
            "-A",
            "-t",
            "-c",
            "SET agent_refusal.time_zone = 'America/Chicago'",
            "-c",
            "SET agent_refusal.time_zone = 'Mars/Base'",
            "-c",
            "SHOW agent_refusal.time_zone",
            "-c",
            "SELECT count(*) FROM agent_refusal('2026-03-09', '2026-03-09')",
            "-c",
            "SET datafusion.runtime.memory_limit = '100G'",
            "-c",
            "SET statement_timeout = '1h'",
            "-c",
            "SET \"datafusion.runtime.memory_limit\" = '100G'",
            "-c",
            "SET datafusion.\"runtime\".temp_directory = '/tmp'",
            "-c",
            "RESET datafusion.runtime.memory_limit",
            "-c",
            "SHOW statement_timeout",
        ],
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    let chicago = server.query(
        "SELECT count(*) FROM agent_refusal('2026-03-09', '2026-03-09', '00:00', '23:59', 'America/Chicago')",
    );
    assert_eq!(out, format!("SET\nAmerica/Chicago\n{chicago}5min\n"), "{err}");
    assert_eq!(
        err.matches("cannot be changed by a client").count(),
        4,
        "quoted or not, SET or RESET: {err}"
    );
    assert!(err.contains("unknown time zone 'Mars/Base'"), "{err}");
    assert!(
        err.contains("datafusion.runtime.memory_limit cannot be changed by a client"),
        "{err}"
    );
    assert!(err.contains("statement_timeout can be at most 5min"), "{err}");
    // another connection: the default zone (UTC)
    assert_eq!(server.query("SHOW agent_refusal.time_zone"), "\n");
    let utc = server
        .query("SELECT count(*) FROM agent_refusal('2026-03-09', '2026-03-09', '00:00', '23:59', 'UTC')");
    assert_eq!(
        server.query("SELECT count(*) FROM agent_refusal('2026-03-09', '2026-03-09')"),
        utc
    );
    assert_ne!(utc, chicago, "the zone changes the day's window");
}

#[test]
fn writes_are_refused_unless_allowed_and_files_stay_inside_data() {
    let data = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["demo-data", "--output"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(o.status.success());
    let outside = tempfile::tempdir().unwrap();
    let outside_file = outside.path().join("leak.csv");
    let outside_file = outside_file.to_str().unwrap();
    let copy_out = format!("COPY (SELECT 1 AS a) TO '{outside_file}' STORED AS CSV");
    // PostgreSQL's COPY syntax, which datafusion-postgres's parser reads
    let copy_abort = format!("COPY (SELECT 1 AS a) TO '{outside_file}'; ABORT");
    let explain_abort = format!("EXPLAIN ANALYZE COPY (SELECT 1 AS a) TO '{outside_file}'; ABORT");

    let read_only = Server::start(&["--data", data.path().to_str().unwrap()]);
    for statement in [
        "COPY (SELECT 1 AS a) TO 'out.csv' STORED AS CSV",
        "EXPLAIN ANALYZE COPY (SELECT 1 AS a) TO 'stations.parquet' STORED AS PARQUET",
        "CREATE EXTERNAL TABLE r2 STORED AS PARQUET LOCATION 'refusals.parquet'",
        "CREATE TABLE t AS SELECT 1 AS x",
        "CREATE VIEW v AS SELECT 1 AS x",
        "INSERT INTO refusals SELECT * FROM refusals",
        "DROP TABLE refusals",
    ] {
        let o = read_only.psql("", None, &["-c", statement]);
        let err = text(&o.stderr);
        assert!(
            !o.status.success() && err.contains("is not allowed: the server is read-only"),
            "{statement}: {err}"
        );
    }
    assert!(!data.path().join("out.csv").exists());
    assert_eq!(
        read_only.query("SELECT count(*) FROM refusals"),
        "6000\n",
        "the tables are unchanged"
    );
    drop(read_only);

    let writable = Server::start(&["--data", data.path().to_str().unwrap(), "--allow-writes"]);
    let inside = writable.psql(
        "",
        None,
        &[
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            "COPY (SELECT 7 AS a) TO 'out/seven.csv' STORED AS CSV",
            "-c",
            "CREATE EXTERNAL TABLE r2 STORED AS PARQUET LOCATION 'refusals.parquet'",
            "-A",
            "-t",
            "-c",
            "SELECT count(*) FROM r2",
        ],
    );
    assert!(inside.status.success(), "{}", text(&inside.stderr));
    assert_eq!(text(&inside.stdout), "COPY 1\nCREATE EXTERNAL TABLE\n6000\n");
    assert_eq!(
        std::fs::read_to_string(data.path().join("out/seven.csv")).unwrap(),
        "a\n7\n"
    );
    for (statement, path) in [
        (copy_out.as_str(), outside_file),
        (
            "COPY (SELECT 1 AS a) TO '../escape.csv' STORED AS CSV",
            "../escape.csv",
        ),
        (
            "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'",
            "/etc/passwd",
        ),
        (
            "CREATE EXTERNAL TABLE s STORED AS PARQUET LOCATION 's3://bucket/x.parquet'",
            "s3://bucket/x.parquet",
        ),
        // a statement DataFusion's parser cannot read sends the whole text another way
        (copy_abort.as_str(), outside_file),
        (explain_abort.as_str(), outside_file),
        (
            "CREATE EXTERNAL TABLE q STORED AS PARQUET LOCATION '/etc/'; ABORT",
            "/etc/",
        ),
    ] {
        let o = writable.psql("", None, &["-c", statement]);
        let err = text(&o.stderr);
        assert!(
            !o.status.success()
                && err.contains(path)
                && (err.contains("is not inside the server's --data folder")
                    || err.contains("only files inside the server's --data folder")),
            "{statement}: {err}"
        );
    }
    assert!(!Path::new(outside_file).exists());
    assert!(!data.path().parent().unwrap().join("escape.csv").exists());
    // a link inside the folder that leads out of it is not a way out
    std::os::unix::fs::symlink(outside.path(), data.path().join("link")).unwrap();
    let o = writable.psql(
        "",
        None,
        &["-c", "COPY (SELECT 1 AS a) TO 'link/x.csv' STORED AS CSV"],
    );
    assert!(
        text(&o.stderr).contains("is not inside the server's --data folder"),
        "{}",
        text(&o.stderr)
    );
    assert!(!outside.path().join("x.csv").exists());
    // without --data (the demo data) no file is read or written
    let demo = Server::start(&["--allow-writes"]);
    let o = demo.psql(
        "",
        None,
        &[
            "-c",
            "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/hostname'",
        ],
    );
    assert!(
        text(&o.stderr).contains("reads and writes no files"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        demo.query("CREATE TABLE t AS SELECT 1 AS x; SELECT x FROM t"),
        "1\n"
    );
}

/// A self-signed certificate for 127.0.0.1, made with the openssl command.
fn test_certificate(dir: &Path) -> (String, String) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let o = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(o.status.success(), "{}", text(&o.stderr));
    (
        cert.to_str().unwrap().to_string(),
        key.to_str().unwrap().to_string(),
    )
}

#[test]
fn passwords_and_tls() {
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("users.txt");
    std::fs::write(&passwords, "# who may log in\nalice:wonder land\nbob:b0b:b0b\n").unwrap();
    let (cert, key) = test_certificate(dir.path());
    let server = Server::start(&[
        "--password-file",
        passwords.to_str().unwrap(),
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ]);
    assert!(
        server
            .log()
            .contains("users alice, bob with passwords (SCRAM-SHA-256), TLS"),
        "{}",
        server.log()
    );
    let select = ["-A", "-t", "-c", "SELECT 1 AS ok"];
    let no_password = server.psql("user=alice", None, &select);
    assert!(!no_password.status.success());
    assert!(
        text(&no_password.stderr).contains("no password supplied"),
        "{}",
        text(&no_password.stderr)
    );
    let wrong = server.psql("user=alice sslmode=require", Some("wonderland"), &select);
    assert!(
        text(&wrong.stderr).contains("password authentication failed for user \"alice\""),
        "{}",
        text(&wrong.stderr)
    );
    let unknown = server.psql("user=mallory sslmode=require", Some("x"), &select);
    assert!(
        text(&unknown.stderr).contains("password authentication failed for user \"mallory\""),
        "{}",
        text(&unknown.stderr)
    );
    let log = server.wait_for_log("login refused for user 'mallory'", Duration::from_secs(10));
    assert!(
        log.contains("login refused for user 'alice': password authentication failed"),
        "{log}"
    );
    assert!(
        !log.contains("wonderland") && !log.contains("wonder land"),
        "no password in the log: {log}"
    );
    // the right passwords, with TLS required and without it
    let o = server.psql(
        "user=alice sslmode=require",
        Some("wonder land"),
        &[
            "-A",
            "-t",
            "-c",
            "SELECT 1",
            "-c",
            "SELECT count(*) FROM refusals",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "1\n6000\n");
    let o = server.psql("user=bob sslmode=require", Some("b0b:b0b"), &select);
    assert_eq!(text(&o.stdout), "1\n", "{}", text(&o.stderr));
    // with a certificate, plain connections are refused (unless --insecure)
    let o = server.psql("user=bob sslmode=disable", Some("b0b:b0b"), &select);
    assert!(
        text(&o.stderr).contains("this server requires TLS: connect with sslmode=require"),
        "{}",
        text(&o.stderr)
    );
    // psql checks that the session really is encrypted
    let o = server.psql(
        "user=alice sslmode=require",
        Some("wonder land"),
        &["-c", "\\conninfo"],
    );
    assert!(
        text(&o.stdout).contains("SSL connection (protocol: TLSv1.3"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(server.stop(Duration::from_secs(15)).code(), Some(0));
}

#[test]
fn other_addresses_need_passwords_and_tls() {
    let refused = |args: &[&str], env: &[(&str, &str)], needle: &str| {
        let mut command = bin();
        command
            .args(["serve"])
            .args(args)
            .env_remove("AGENT_REFUSAL_PASSWORDS");
        for (k, v) in env {
            command.env(k, v);
        }
        let o = command.output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    };
    refused(
        &["--listen", "0.0.0.0:0"],
        &[],
        "listening on 0.0.0.0:0 needs authentication",
    );
    refused(
        &["--listen", "0.0.0.0:0"],
        &[("AGENT_REFUSAL_PASSWORDS", "alice:pw")],
        "needs TLS",
    );
    refused(
        &["--listen", "0.0.0.0:0", "--password-file", "/nonexistent/users"],
        &[],
        "cannot read password file '/nonexistent/users'",
    );
    refused(
        &["--listen", "nowhere"],
        &[],
        "--listen 'nowhere' is not ADDR:PORT",
    );
    refused(
        &["--statement-timeout", "soon"],
        &[],
        "--statement-timeout 'soon'",
    );
    refused(&["--tls-cert", "/nonexistent/cert.pem"], &[], "--tls-key");
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("users.txt");
    std::fs::write(&passwords, "alice:secret\nbob\n").unwrap();
    refused(
        &["--password-file", passwords.to_str().unwrap()],
        &[],
        "users.txt' line 2: expected user:password",
    );
    // with a password and --insecure it serves (here on every address, port chosen by the system)
    let mut server = bin()
        .args(["serve", "--listen", "0.0.0.0:0", "--insecure"])
        .env("AGENT_REFUSAL_PASSWORDS", "alice:pw, bob:pw2")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stderr.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.contains("users alice, bob with passwords (SCRAM-SHA-256), no TLS"),
        "{line}"
    );
    signal(server.id(), "TERM");
    assert_eq!(server.wait().unwrap().code(), Some(0));
}

#[test]
fn statement_timeout_and_cancel_stop_a_query_and_the_session_goes_on() {
    let server = Server::start(&["--statement-timeout", "1s"]);
    let endless = "SELECT count(*) FROM generate_series(1, 100000000000) a";
    let started = Instant::now();
    let o = server.psql(
        "",
        None,
        &["-A", "-t", "-c", endless, "-c", "SELECT 'next' AS after"],
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        text(&o.stderr).contains("canceling statement due to statement timeout"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(text(&o.stdout), "next\n");
    // a client may lower its own limit
    let o = server.psql(
        "",
        None,
        &[
            "-A",
            "-t",
            "-c",
            "SET statement_timeout = 200",
            "-c",
            "SHOW statement_timeout",
        ],
    );
    assert_eq!(text(&o.stdout), "SET\n200ms\n", "{}", text(&o.stderr));

    // psql sends a cancel request at Ctrl-C
    let server = Server::start(&[]);
    // a limit a client sets for itself holds
    let started = Instant::now();
    let o = server.psql("", None, &["-c", "SET statement_timeout = '1s'", "-c", endless]);
    assert!(
        text(&o.stderr).contains("canceling statement due to statement timeout"),
        "{}",
        text(&o.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    let client = psql_command(server.port, "", None)
        .args(["-c", endless])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    signal(client.id(), "INT");
    let o = client.wait_with_output().unwrap();
    assert!(
        text(&o.stderr).contains("canceling statement due to user request"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(server.query("SELECT 1"), "1\n");
}

#[test]
fn garbage_silence_and_vanishing_clients_close_their_connection_only() {
    let server = Server::start(&["--max-connections", "3"]);
    // random bytes: the connection is closed, one log line
    let mut garbage = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    garbage.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let _ = garbage.write_all(&bytes);
    let mut buf = Vec::new();
    let _ = garbage.read_to_end(&mut buf);
    server.wait_for_log("closed before logging in", Duration::from_secs(10));
    // a client that says nothing is closed after the login timeout
    let silent = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    // a client killed while its query runs
    let mut doomed = psql_command(server.port, "", None)
        .args(["-c", "SELECT count(*) FROM generate_series(1, 100000000000) a"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    signal(doomed.id(), "KILL");
    let _ = doomed.wait();
    server.wait_for_log(
        "the client went away; its query was cancelled",
        Duration::from_secs(10),
    );
    // the others are served meanwhile; with three more silent ones (and maybe the first, if its
    // 10 s have not passed yet on a loaded machine) the next client is refused
    assert_eq!(server.query("SELECT count(*) FROM refusals"), "6000\n");
    // (that psql's connection ends on the server a moment after psql exits)
    std::thread::sleep(Duration::from_millis(500));
    let a = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let b = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let c = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let o = server.psql("", None, &["-c", "SELECT 1"]);
    assert!(
        text(&o.stderr).contains("too many clients already"),
        "{}",
        text(&o.stderr)
    );
    drop((a, b, c));
    let log = server.wait_for_log("no login within 10 s", Duration::from_secs(20));
    assert!(log.contains("refused: 3 connections already"), "{log}");
    drop(silent);
    assert_eq!(server.query("SELECT 2"), "2\n");
    // a client that goes away while rows are sent: its query stops (the server then stops at once,
    // with no running query to wait for)
    let port = server.port;
    tokio::runtime::Runtime::new().unwrap().block_on(async move {
        let (client, connection) = tokio_postgres::connect(
            &format!("host=127.0.0.1 port={port} user=postgres"),
            tokio_postgres::NoTls,
        )
        .await
        .unwrap();
        let connection = tokio::spawn(connection);
        let rows = client
            .query_raw(
                "SELECT * FROM generate_series(1, 2000000000) a",
                Vec::<String>::new(),
            )
            .await
            .unwrap();
        let mut rows = std::pin::pin!(rows);
        assert!(futures::StreamExt::next(&mut rows).await.is_some());
        connection.abort();
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(server.query("SELECT 3"), "3\n");
    let log = Arc::clone(&server.log);
    assert_eq!(server.stop(Duration::from_secs(15)).code(), Some(0));
    let log = log.lock().unwrap().clone();
    assert!(!log.contains("waiting up to"), "{log}");
}

#[test]
fn sigterm_waits_a_few_seconds_for_running_queries_then_exits_0() {
    let server = Server::start(&[]);
    let running = psql_command(server.port, "", None)
        .args(["-c", "SELECT count(*) FROM generate_series(1, 100000000000) a"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    let log = Arc::clone(&server.log);
    let status = server.stop(Duration::from_secs(30));
    let waited = started.elapsed();
    assert_eq!(status.code(), Some(0));
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
    let log = log.lock().unwrap().clone();
    assert!(log.contains("SIGTERM: stopping"), "{log}");
    assert!(log.contains("waiting up to 5 s for 1 running query"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    let o = running.wait_with_output().unwrap();
    assert!(!o.status.success());
    // an idle server stops at once
    let server = Server::start(&[]);
    let started = Instant::now();
    assert_eq!(server.stop(Duration::from_secs(10)).code(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// 32 clients, each running the month report over and over through the extended protocol (as
/// drivers do) for a few seconds: every result is right, none fails, one killed mid-query
/// disturbs nobody, and the server's memory stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_clients_at_once() {
    let seconds: u64 = std::env::var("AGENT_REFUSAL_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let server = Server::start(&[]);
    let expected = demo_csv(&format!(
        "SELECT count(*) AS n, sum(contact_id) AS s FROM {MARCH}"
    ));
    let port = server.port;
    let report = "SELECT contact_id, refuse_time FROM agent_refusal($1, $2, $3, $4, $5)";
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut clients = Vec::new();
    for _ in 0..32 {
        clients.push(tokio::spawn(async move {
            let (client, connection) = tokio_postgres::connect(
                &format!("host=127.0.0.1 port={port} user=postgres"),
                tokio_postgres::NoTls,
            )
            .await
            .expect("connects");
            tokio::spawn(connection);
            let mut runs = 0u32;
            let mut sums = Vec::new();
            while Instant::now() < deadline {
                let rows = client
                    .query(
                        report,
                        &[
                            &"2026-03-02",
                            &"2026-03-13",
                            &"00:00",
                            &"23:59",
                            &"America/New_York",
                        ],
                    )
                    .await
                    .expect("the report runs");
                let sum: i64 = rows.iter().map(|r| r.get::<_, i64>(0)).sum();
                sums.push((rows.len(), sum));
                runs += 1;
            }
            (runs, sums)
        }));
    }
    // one more client, killed while its query runs
    let mut doomed = psql_command(port, "", None)
        .args(["-c", "SELECT count(*) FROM generate_series(1, 100000000000) a"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    signal(doomed.id(), "KILL");
    let _ = doomed.wait();
    let mut total = 0;
    for client in clients {
        let (runs, sums) = client.await.expect("no client failed");
        assert!(runs > 0);
        for (rows, sum) in sums {
            assert_eq!(format!("n,s\n{rows},{sum}\n"), expected);
        }
        total += runs;
    }
    let peak = std::fs::read_to_string(format!("/proc/{}/status", server.child.id()))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmHWM:")
                .map(|v| v.trim().trim_end_matches(" kB").parse::<u64>().unwrap())
        })
        .unwrap();
    eprintln!(
        "32 clients, {seconds} s: {total} month reports, peak RSS {} MiB",
        peak / 1024
    );
    assert!(peak < 2 * 1024 * 1024, "peak RSS {peak} kB");
    server.wait_for_log(
        "the client went away; its query was cancelled",
        Duration::from_secs(10),
    );
    assert_eq!(server.stop(Duration::from_secs(15)).code(), Some(0));
}
