"""Fixtures for the PostgreSQL-wire server tests: the `agent-refusal` binary, servers started on a
free loopback port (and always stopped), connections with timeouts, and the local report
(`agent-refusal report ... --format parquet`) read back with pyarrow."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from server_support import COLUMNS, normalize

# How long the server may take to print its address, and to stop after SIGTERM.
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0
# Longest a single test may take (a watchdog raises in the test past it).
TEST_TIMEOUT = 45


def binary() -> Path:
    """The `agent-refusal` binary: $AGENT_REFUSAL_BIN when set (it must exist), else
    $CARGO_TARGET_DIR/debug/agent-refusal, else ~/.cache/agent-refusal-target/debug/agent-refusal."""
    if os.environ.get("AGENT_REFUSAL_BIN"):
        path = Path(os.environ["AGENT_REFUSAL_BIN"])
        if not (path.is_file() and os.access(path, os.X_OK)):
            pytest.fail(f"AGENT_REFUSAL_BIN={path} is not an executable file")
        return path
    candidates = []
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(Path(os.environ["CARGO_TARGET_DIR"]) / "debug" / "agent-refusal")
    candidates.append(Path.home() / ".cache" / "agent-refusal-target" / "debug" / "agent-refusal")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    pytest.fail(
        "agent-refusal binary not found; set AGENT_REFUSAL_BIN (tried: "
        + ", ".join(str(p) for p in candidates)
        + ")"
    )


@pytest.fixture(scope="session")
def bin_path() -> Path:
    return binary()


class Server:
    """An `agent-refusal serve` process on 127.0.0.1 and a free port; its stderr goes to a file."""

    ADDRESS = re.compile(r" on 127\.0\.0\.1:(\d+)\b")

    def __init__(self, bin_path: Path, log_path: Path, *args: str):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [str(bin_path), "serve", "--listen", "127.0.0.1:0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        self.port = self._wait_for_port()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _wait_for_port(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = self.ADDRESS.search(self.log())
            if found:
                return int(found.group(1))
            if self.process.poll() is not None:
                self.kill()
                pytest.fail(f"the server exited with {self.process.returncode}: {self.log()}")
            time.sleep(0.05)
        self.kill()
        pytest.fail(f"the server printed no address within {START_TIMEOUT} s: {self.log()}")

    def stop(self) -> int:
        """SIGTERM, then the exit code (None when it did not exit within STOP_TIMEOUT)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """Kills the process (this process only, by its id) if it still runs."""
        try:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)
        finally:
            self._log.close()

    def connect(self, statement_timeout: str | None = "30s", **kwargs) -> psycopg.Connection:
        return connect(self.port, statement_timeout=statement_timeout, **kwargs)


def connect(port: int, statement_timeout: str | None = "30s", **kwargs) -> psycopg.Connection:
    """An autocommit connection (any user, no password) with a connect timeout and, unless
    None, a statement timeout below the server's, so that no test waits for minutes."""
    conn = psycopg.connect(
        host="127.0.0.1",
        port=port,
        user="tester",
        dbname="agent_refusal",
        autocommit=True,
        connect_timeout=5,
        **kwargs,
    )
    if statement_timeout is not None:
        conn.execute(f"SET statement_timeout = '{statement_timeout}'")
    return conn


def start_server(bin_path: Path, log_path: Path, *args: str):
    """A generator fixture body: starts a server, yields it, stops it with SIGTERM asserting
    exit code 0, and kills it in any case."""
    server = Server(bin_path, log_path, *args)
    try:
        yield server
        code = server.stop()
        assert code == 0, (
            f"the server did not exit with 0 within {STOP_TIMEOUT} s after SIGTERM "
            f"(exit code {code}); its log:\n{server.log()}"
        )
    finally:
        server.kill()


@pytest.fixture(scope="session")
def server(bin_path, tmp_path_factory):
    """The server over the built-in demo data (read-only, default statement timeout)."""
    yield from start_server(bin_path, tmp_path_factory.mktemp("server") / "stderr.log")


@pytest.fixture(scope="session")
def timeout_server(bin_path, tmp_path_factory):
    """A second server, with `--statement-timeout 1s`."""
    yield from start_server(
        bin_path, tmp_path_factory.mktemp("timeout-server") / "stderr.log", "--statement-timeout", "1s"
    )


@pytest.fixture(scope="session")
def local_report(bin_path, tmp_path_factory):
    """`local_report(--from, --to, [more args])`: the rows of `agent-refusal report ... --format
    parquet` (demo data) as tuples in COLUMNS order, refuse_time as an aware UTC datetime.
    Cached per argument list."""
    directory = tmp_path_factory.mktemp("reports")
    cache = {}

    def run(*args: str):
        if args in cache:
            return cache[args]
        output = directory / f"report-{len(cache)}.parquet"
        done = subprocess.run(
            [str(bin_path), "report", *args, "--format", "parquet", "--output", str(output)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        table = pq.read_table(output)
        assert table.column_names == COLUMNS
        rows = [tuple(row[c] for c in COLUMNS) for row in table.to_pylist()]
        cache[args] = [normalize(row) for row in rows]
        return cache[args]

    return run


@pytest.fixture(autouse=True)
def watchdog():
    """Fails a test that runs past TEST_TIMEOUT seconds (SIGALRM in the main thread)."""

    def expired(signum, frame):
        raise TimeoutError(f"the test ran longer than {TEST_TIMEOUT} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
