"""The PostgreSQL-wire server (`agent-refusal serve`) through psycopg 3: the report with bound
parameters (extended protocol, text and binary results) against the local report, `SET` per
connection, errors, read-only statements, the statement timeout and cancel requests."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timezone

import psycopg
import psycopg.errors
import pytest

from server_support import COLUMNS, normalize

INT8 = 20
TEXT = 25
TIMESTAMPTZ = 1184
EXPECTED_TYPES = [
    ("contact_id", INT8),
    ("agent_no", INT8),
    ("full_name", TEXT),
    ("station_id", INT8),
    ("reason", TEXT),
    ("refuse_time", TIMESTAMPTZ),
    ("refusing_agent_id", INT8),
]

FROM, TO = "2026-03-02", "2026-03-13"
# A query that runs for minutes unless stopped.
ENDLESS = "SELECT count(*) FROM generate_series(1, 100000000000) a"


def fetch(cur: psycopg.Cursor, sql: str, params=None, **kwargs) -> list[tuple]:
    """Runs `sql` and returns its rows normalized (refuse_time as UTC), checking the columns."""
    cur.execute(sql, params, **kwargs)
    assert [d.name for d in cur.description] == COLUMNS
    return [normalize(row) for row in cur.fetchall()]


def types(cur: psycopg.Cursor) -> list[tuple[str, int]]:
    return [(d.name, d.type_code) for d in cur.description]


def assert_same_rows(actual: list[tuple], expected: list[tuple]) -> None:
    """The same rows in the same order; the first difference named (without printing every row)."""
    if len(actual) != len(expected):
        missing = [row for row in expected if row not in actual][:3]
        extra = [row for row in actual if row not in expected][:3]
        pytest.fail(
            f"{len(actual)} rows, expected {len(expected)}; "
            f"first missing: {missing!r}; first unexpected: {extra!r}"
        )
    for i, (a, e) in enumerate(zip(actual, expected)):
        if a != e:
            pytest.fail(f"row {i} differs: {a!r}, expected {e!r}")


# 1. The report with bound parameters equals the local report.


def test_parameterized_report_equals_the_local_report(server, local_report):
    expected = local_report("--from", FROM, "--to", TO, "--time-zone", "America/New_York")
    assert len(expected) > 100
    params = (FROM, TO, "00:00", "23:59", "America/New_York")
    sql = "SELECT * FROM agent_refusal(%s, %s, %s, %s, %s)"
    with server.connect() as conn:
        cur = conn.cursor()
        text_rows = fetch(cur, sql, params)
        assert types(cur) == EXPECTED_TYPES
        assert_same_rows(text_rows, expected)

        binary_rows = fetch(cur, sql, params, binary=True)
        assert types(cur) == EXPECTED_TYPES
        assert_same_rows(binary_rows, expected)


def test_two_argument_report_with_date_parameters(server, local_report):
    expected = local_report("--from", FROM, "--to", TO)  # the default zone: UTC
    assert len(expected) > 100
    # the New York report covers other instants: the comparison tells the zones apart
    assert expected != local_report("--from", FROM, "--to", TO, "--time-zone", "America/New_York")
    sql = "SELECT * FROM agent_refusal(%s, %s)"
    params = (date(2026, 3, 2), date(2026, 3, 13))
    with server.connect() as conn:
        cur = conn.cursor()
        assert_same_rows(fetch(cur, sql, params), expected)
        assert types(cur) == EXPECTED_TYPES
        assert_same_rows(fetch(cur, sql, params, binary=True), expected)
        assert types(cur) == EXPECTED_TYPES


# 2. A parameter outside the report's arguments, with parameters among them.


def test_parameter_in_where_with_report_parameters(server, local_report):
    report = local_report("--from", FROM, "--to", TO)
    agents = sorted({row[1] for row in report})
    assert len(agents) > 1
    agent = agents[len(agents) // 2]
    expected = [row for row in report if row[1] == agent]
    assert 0 < len(expected) < len(report)
    with server.connect() as conn:
        cur = conn.cursor()
        sql = "SELECT * FROM agent_refusal(%s, %s) WHERE agent_no = %s"
        assert_same_rows(fetch(cur, sql, (FROM, TO, agent)), expected)
        assert_same_rows(fetch(cur, sql, (date(2026, 3, 2), date(2026, 3, 13), agent), binary=True), expected)

        reason = expected[0][4]
        both = [row for row in expected if row[4] == reason]
        sql = "SELECT * FROM agent_refusal(%s, %s) WHERE agent_no = %s AND reason = %s"
        assert_same_rows(fetch(cur, sql, (FROM, TO, agent, reason)), both)


def test_prepared_report_reused_with_other_parameters(server, local_report):
    # one server-side prepared statement (prepare=True), executed with other values each time
    ranges = [(FROM, FROM), (FROM, TO), ("2026-02-16", "2026-03-29"), (FROM, FROM)]
    with server.connect() as conn:
        cur = conn.cursor()
        for start, end in ranges:
            expected = local_report("--from", start, "--to", end)
            assert len(expected) > 0
            rows = fetch(cur, "SELECT * FROM agent_refusal(%s, %s)", (start, end), prepare=True)
            assert_same_rows(rows, expected)


def test_timestamptz_parameter_with_report_parameters(server, local_report):
    # An instant bound as timestamptz means that instant, whatever the report's zone.
    # (Fails on the server this was written against: with the report's arguments bound as
    # parameters, the bound instant is read as a wall-clock time in the report's zone, here
    # 2026-03-10 00:00 UTC as 00:00 New York = 04:00 UTC, so 2 rows are missing.)
    cut = datetime(2026, 3, 10, tzinfo=timezone.utc)
    report = local_report("--from", FROM, "--to", TO, "--time-zone", "America/New_York")
    expected = [row for row in report if row[5] > cut]
    assert 0 < len(expected) < len(report)
    with server.connect() as conn:
        cur = conn.cursor()
        literal = (
            f"SELECT * FROM agent_refusal('{FROM}', '{TO}', '00:00', '23:59', 'America/New_York') "
            "WHERE refuse_time > %s"
        )
        assert_same_rows(fetch(cur, literal, (cut,)), expected)
        bound = "SELECT * FROM agent_refusal(%s, %s, %s, %s, %s) WHERE refuse_time > %s"
        params = (FROM, TO, "00:00", "23:59", "America/New_York", cut)
        assert_same_rows(fetch(cur, bound, params), expected)


@pytest.mark.parametrize(
    ("condition", "value", "keep"),
    [
        ("full_name = %s", "\\' OR true --", lambda name: name == "\\' OR true --"),
        # LIKE's escape character is \: the pattern matches names with a quote
        ("full_name LIKE %s", "%\\'%", lambda name: "'" in name),
    ],
    ids=["equal-backslash-quote", "like-backslash-quote"],
)
def test_text_parameter_with_report_parameters_is_a_value_not_sql(server, local_report, condition, value, keep):
    # A bound text value is a value, never SQL, also when the report's arguments are bound too.
    # (Fails on the server this was written against: with the report's arguments bound, a
    # backslash before a quote in the value ends the string literal the server writes into the
    # SQL, so \' OR true -- returns every row and %\'% is a syntax error.)
    report = local_report("--from", FROM, "--to", TO)
    expected = [row for row in report if keep(row[2])]
    with server.connect() as conn:
        cur = conn.cursor()
        literal = f"SELECT * FROM agent_refusal('{FROM}', '{TO}') WHERE {condition}"
        assert_same_rows(fetch(cur, literal, (value,)), expected)
        bound = f"SELECT * FROM agent_refusal(%s, %s) WHERE {condition}"
        assert_same_rows(fetch(cur, bound, (FROM, TO, value)), expected)
        assert_same_rows(fetch(cur, bound, (FROM, TO, value), binary=True), expected)


# 3. SET applies to its own connection only.


def test_set_time_zone_does_not_leak_to_other_connections(server, local_report):
    with server.connect() as a, server.connect() as b:
        default = b.execute("SHOW agent_refusal.time_zone").fetchone()
        # unset: SHOW answers '' as PostgreSQL does for an empty setting (the report then uses UTC)
        assert default == ("",)
        assert a.execute("SHOW agent_refusal.time_zone").fetchone() == default

        a.execute("SET agent_refusal.time_zone = 'America/Chicago'")
        assert a.execute("SHOW agent_refusal.time_zone").fetchone() == ("America/Chicago",)
        assert b.execute("SHOW agent_refusal.time_zone").fetchone() == default

        report = f"SELECT * FROM agent_refusal('{FROM}', '{TO}')"
        in_zone = f"SELECT * FROM agent_refusal('{FROM}', '{TO}', '00:00', '23:59', '%s')"
        chicago = fetch(a.cursor(), in_zone % "America/Chicago")
        utc = fetch(b.cursor(), in_zone % "UTC")
        assert len(chicago) > 100 and len(utc) > 100
        assert chicago != utc
        assert_same_rows(chicago, local_report("--from", FROM, "--to", TO, "--time-zone", "America/Chicago"))
        assert_same_rows(utc, local_report("--from", FROM, "--to", TO, "--time-zone", "UTC"))

        assert_same_rows(fetch(a.cursor(), report), chicago)
        assert_same_rows(fetch(b.cursor(), report), utc)
        # the same with the dates bound as parameters (extended protocol)
        assert_same_rows(fetch(a.cursor(), "SELECT * FROM agent_refusal(%s, %s)", (FROM, TO)), chicago)
        assert_same_rows(fetch(b.cursor(), "SELECT * FROM agent_refusal(%s, %s)", (FROM, TO)), utc)

        with pytest.raises(psycopg.Error) as bad:
            a.execute("SET agent_refusal.time_zone = 'Mars/Base'")
        assert "Mars/Base" in bad.value.diag.message_primary
        assert a.execute("SHOW agent_refusal.time_zone").fetchone() == ("America/Chicago",)
        assert_same_rows(fetch(a.cursor(), report), chicago)
        assert b.execute("SHOW agent_refusal.time_zone").fetchone() == default


# 4. Errors: one line, and the connection goes on.


@pytest.mark.parametrize("extended", [False, True], ids=["simple", "extended"])
def test_missing_table_error_then_the_connection_goes_on(server, extended):
    with server.connect() as conn:
        with pytest.raises(psycopg.errors.DatabaseError) as error:
            # binary=True makes psycopg use the extended protocol even without parameters
            conn.cursor().execute("SELECT * FROM no_such_table", binary=extended)
        message = error.value.diag.message_primary
        assert message is not None and "no_such_table" in message
        # one line: the message alone, no detail, hint or backtrace
        assert "\n" not in message, message
        assert str(error.value).strip() == message.strip(), str(error.value)
        # PostgreSQL's undefined_table
        assert error.value.sqlstate == "42P01", error.value.sqlstate
        assert conn.execute("SELECT 1").fetchall() == [(1,)]
        assert conn.cursor().execute("SELECT 1", binary=True).fetchall() == [(1,)]


# 5. Read-only.


@pytest.mark.parametrize("extended", [False, True], ids=["simple", "extended"])
def test_writes_are_refused_on_a_read_only_server(server, tmp_path, extended):
    target = tmp_path / "x.csv"
    with server.connect() as conn:
        for sql in ["CREATE TABLE t AS SELECT 1", f"COPY (SELECT 1) TO '{target}'"]:
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction) as error:
                conn.cursor().execute(sql, binary=extended)
            assert "read-only" in str(error.value), str(error.value)
            assert conn.execute("SELECT 1").fetchall() == [(1,)]
        assert not target.exists()
        # no table t was made
        with pytest.raises(psycopg.errors.DatabaseError) as missing:
            conn.execute("SELECT * FROM t")
        assert "not found" in str(missing.value), str(missing.value)


# 6. The statement timeout and cancel requests.


@pytest.mark.parametrize("binary", [False, True], ids=["simple", "extended"])
def test_statement_timeout_stops_a_query_and_the_connection_goes_on(timeout_server, binary):
    with timeout_server.connect(statement_timeout=None) as conn:
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled) as error:
            conn.cursor().execute(ENDLESS, binary=binary)
        elapsed = time.monotonic() - started
        assert "statement timeout" in str(error.value), str(error.value)
        assert 0.5 < elapsed < 10, elapsed
        assert conn.execute("SELECT 1").fetchall() == [(1,)]


@pytest.mark.parametrize("binary", [False, True], ids=["simple", "extended"])
def test_cancel_from_another_thread_stops_a_query(server, binary):
    # the server's own limit is 5 minutes; this connection's is 30 s (a bound, not the test)
    with server.connect() as conn:
        cancelled = threading.Event()

        def cancel():
            time.sleep(1.0)
            conn.cancel()
            cancelled.set()

        canceller = threading.Thread(target=cancel, daemon=True)
        canceller.start()
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled) as error:
            conn.cursor().execute(ENDLESS, binary=binary)
        elapsed = time.monotonic() - started
        canceller.join(timeout=10)
        assert cancelled.is_set()
        assert "user request" in str(error.value), str(error.value)
        assert elapsed < 6, elapsed
        assert conn.execute("SELECT 1").fetchall() == [(1,)]
