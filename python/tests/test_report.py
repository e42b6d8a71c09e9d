"""The report from Python equals the Rust crate's: rows, types, order, settings, errors."""

from __future__ import annotations

import datetime as dt
import pathlib

import pandas as pd
import pyarrow as pa
import pytest
from datafusion import SessionConfig, SessionContext

import agent_refusal
from conftest import ROOT, cli_error, cli_table, run_cli, session

# Every argument form of agent_refusal(...), as SQL.
FORMS = [
    "'2026-03-07', '2026-03-13'",
    "'2026-03-07', '2026-03-09', '08:30', '17:00:30'",
    "'2026-03-08', '2026-03-08', '00:00', '23:59', 'America/New_York'",
    "'2026-03-29', '2026-03-29', '00:00', '23:59', 'Europe/London'",
    "'2026-11-01', '2026-11-02', '01:00', '01:59', 'America/New_York'",
    "'2026-03-07', '2026-03-09', '22:00', '02:00', '+05:30'",
    "DATE '2026-03-08', DATE '2026-03-09', TIME '06:15:00', TIME '12:00:01', 'America/Chicago'",
    "'yesterday'",
    "'last 30 days'",
    "'2026-12-31', '2026-12-31', '00:00', '23:59', 'Asia/Kolkata'",
]


@pytest.mark.parametrize("form", FORMS)
def test_every_form_gives_the_crates_rows_types_and_order(cli, generated, tmp_path, form):
    query = f"SELECT * FROM agent_refusal({form})"
    expected = cli_table(cli, generated, query, tmp_path)
    assert expected.num_rows > 0, query
    got = session(generated).sql(query).to_arrow_table()
    assert got.schema == expected.schema
    assert got.equals(expected), f"{query}: {got.num_rows} rows, expected {expected.num_rows}"


def test_the_demo_report_is_byte_identical_to_the_cli(cli, demo, tmp_path):
    for args, form in [
        (["--from", "2026-03-09", "--to", "2026-03-13", "--time-zone", "America/New_York"],
         "'2026-03-09', '2026-03-13', '00:00', '23:59', 'America/New_York'"),
        (["--from", "2026-02-16", "--to", "2026-03-29"], "'2026-02-16', '2026-03-29'"),
    ]:
        expected = run_cli(cli, "--data", str(demo), "report", *args).stdout
        df = session(demo).sql(f"SELECT * FROM agent_refusal({form})")
        written = agent_refusal.export(df, tmp_path / "report.csv")
        assert written.read_bytes() == expected
        assert len(expected.splitlines()) > 100


def test_generated_data_with_dst_days_gives_the_clis_csv(cli, generated, tmp_path):
    for zone in ["America/New_York", "Europe/London", "UTC"]:
        for ignore_dst in [False, True]:
            flags = ["--ignore-dst"] if ignore_dst else []
            expected = run_cli(cli, "--data", str(generated), "report", "--from", "2026-03-07",
                               "--to", "2026-11-02", "--time-zone", zone, *flags).stdout
            ctx = session(generated, agent_refusal.session_config(ignore_dst=str(ignore_dst).lower()))
            df = ctx.sql(f"SELECT * FROM agent_refusal('2026-03-07', '2026-11-02', '00:00', '23:59', '{zone}')")
            path = agent_refusal.export(df, tmp_path / "dst.csv")
            assert path.read_bytes() == expected, (zone, ignore_dst)


def test_report_and_report_sql_give_what_sql_gives(demo):
    ctx = session(demo)
    by_sql = ctx.sql("SELECT * FROM agent_refusal('2026-03-09', '2026-03-09')").to_arrow_table()
    by_function = agent_refusal.report(ctx, dt.date(2026, 3, 9), "2026-03-09").to_arrow_table()
    assert by_function.equals(by_sql)
    assert by_sql.num_rows > 0
    text = agent_refusal.report_sql(ctx, "2026-03-09", "2026-03-09")
    assert text.startswith("WITH r AS (") and text.endswith("OFFSET 0")


def test_settings_take_the_crates_precedence(demo):
    def zone_of(ctx, form="'2026-03-09', '2026-03-09'"):
        table = ctx.sql(f"SELECT refuse_time FROM agent_refusal({form})").to_arrow_table()
        return table.schema.field("refuse_time").type.tz

    ctx = session(demo)
    assert zone_of(ctx) == "UTC"
    ctx.sql("SET datafusion.execution.time_zone = '+02:00'").collect()
    assert zone_of(ctx) == "+02:00"
    ctx.sql("SET agent_refusal.time_zone = 'America/Chicago'").collect()
    assert zone_of(ctx) == "America/Chicago"
    assert zone_of(ctx, "'2026-03-09', '2026-03-09', '00:00', '23:59', 'Asia/Tokyo'") == "Asia/Tokyo"
    ctx.sql("SET agent_refusal.ignore_dst = true").collect()
    assert zone_of(ctx) == "-06:00"  # Chicago's standard offset, in summer time too
    # a session of its own is not touched
    assert zone_of(session(demo)) == "UTC"
    # SessionConfig values, as SET takes them
    config = agent_refusal.session_config(time_zone="Europe/Paris")
    assert zone_of(session(demo, config)) == "Europe/Paris"
    config = SessionConfig({"datafusion.execution.time_zone": "+05:00"}).with_extension(
        agent_refusal._native.Settings())
    assert zone_of(session(demo, config)) == "+05:00"
    # without the settings extension, SET-less use falls back the same way
    plain = SessionContext()
    agent_refusal.register(plain)
    plain.register_parquet("refusals", str(demo / "refusals.parquet"))
    plain.register_parquet("contacts", str(demo / "contacts.parquet"))
    plain.register_parquet("agents", str(demo / "agents.parquet"))
    assert zone_of(plain) == "UTC"


def test_table_name_settings_pick_the_tables(cli, demo, tmp_path):
    ctx = SessionContext(agent_refusal.session_config())
    agent_refusal.register(ctx)
    ctx.register_parquet("events", str(demo / "refusals.parquet"))
    ctx.register_parquet("calls", str(demo / "contacts.parquet"))
    ctx.register_parquet("people", str(demo / "agents.parquet"))
    ctx.sql("SET agent_refusal.refusals_table = 'events'").collect()
    ctx.sql("SET agent_refusal.contacts_table = 'calls'").collect()
    ctx.sql("SET agent_refusal.agents_table = 'people'").collect()
    query = "SELECT * FROM agent_refusal('2026-03-10', '2026-03-11')"
    assert ctx.sql(query).to_arrow_table().equals(cli_table(cli, demo, query, tmp_path))


def test_the_scalar_functions_and_refusal_reasons_match_the_crate(cli, demo, tmp_path):
    ctx = session(demo)
    for query in [
        "SELECT * FROM refusal_reasons",
        "SELECT r, refusal_reason(r) AS reason, refusal_reason_text(r) AS text FROM "
        "(VALUES ('no answer'), ('Busy'), ('BAD NUMBER'), ('3'), (''), ('nonsense'), (NULL)) AS t(r)",
        "SELECT c, refusal_reason(c) AS reason FROM (VALUES (1), (16), (17), (254), (999)) AS t(c)",
    ]:
        assert ctx.sql(query).to_arrow_table().equals(cli_table(cli, demo, query, tmp_path)), query
    names = {f.name for f in agent_refusal._native.scalar_functions()}
    assert names == {"refusal_reason", "refusal_reason_text"}
    assert ctx.sql("SELECT refusal_reason('no answer') AS r").to_pandas()["r"][0] == "NoAnswer"


def test_the_report_joins_a_pandas_frame_and_groups(demo):
    ctx = session(demo)
    teams = pd.DataFrame({"agent_id": [1001, 1002, 1003], "target": [5, 6, 7]})
    ctx.from_pandas(teams, name="targets")
    joined = ctx.sql(
        "SELECT r.refusing_agent_id, count(*) AS refusals, min(t.target) AS target "
        "FROM agent_refusal('2026-02-16', '2026-03-29') r JOIN targets t "
        "ON t.agent_id = r.refusing_agent_id GROUP BY r.refusing_agent_id ORDER BY 1"
    ).to_pandas()
    expected = ctx.sql(
        "SELECT refusing_agent_id, count(*) AS refusals FROM agent_refusal('2026-02-16', '2026-03-29') "
        "WHERE refusing_agent_id IN (1001, 1002, 1003) GROUP BY 1 ORDER BY 1"
    ).to_pandas()
    assert list(joined["refusing_agent_id"]) == list(expected["refusing_agent_id"])
    assert list(joined["refusals"]) == list(expected["refusals"])
    assert len(joined) == 3
    # the report's order survives as a relation
    times = ctx.sql("SELECT refuse_time FROM agent_refusal('2026-02-16', '2026-03-29')").to_pandas()
    assert times["refuse_time"].is_monotonic_increasing


@pytest.mark.parametrize(
    "args, sql_args",
    [
        (["2026-02-30", "2026-03-01"], ["sql", "-c", "SELECT * FROM agent_refusal('2026-02-30', '2026-03-01')"]),
        (["2026-03-01", "2026-03-01", "00:00", "23:59", "Mars/Base"],
         ["sql", "-c", "SELECT * FROM agent_refusal('2026-03-01', '2026-03-01', '00:00', '23:59', 'Mars/Base')"]),
        (["2026-03-02", "2026-03-01"], ["sql", "-c", "SELECT * FROM agent_refusal('2026-03-02', '2026-03-01')"]),
        (["next decade"], ["sql", "-c", "SELECT * FROM agent_refusal('next decade')"]),
    ],
)
def test_errors_carry_the_clis_one_line_message(cli, demo, args, sql_args):
    message = cli_error(cli, "--data", str(demo), *sql_args)
    ctx = session(demo)
    with pytest.raises(agent_refusal.AgentRefusalError) as raised:
        agent_refusal.report(ctx, *args)
    assert str(raised.value) == message
    # Inside ctx.sql, datafusion wraps the exception of a Python table function; the line is in it.
    quoted = ", ".join(f"'{a}'" for a in args)
    with pytest.raises(Exception) as wrapped:
        ctx.sql(f"SELECT * FROM agent_refusal({quoted})").collect()
    assert message in str(wrapped.value)


def test_a_missing_table_or_column_is_named(cli, demo, tmp_path):
    only = tmp_path / "only"
    only.mkdir()
    (only / "refusals.parquet").write_bytes((demo / "refusals.parquet").read_bytes())
    message = cli_error(cli, "--data", str(only), "report", "--from", "2026-03-01", "--to", "2026-03-01")
    ctx = session(only)
    with pytest.raises(agent_refusal.AgentRefusalError) as raised:
        agent_refusal.report(ctx, "2026-03-01", "2026-03-01")
    assert str(raised.value) == message
    assert "table 'contacts' not found" in message
    ctx = session(demo)
    ctx.deregister_table("agents")
    ctx.from_pydict({"agent_id": [1], "name": ["x"]}, name="agents")
    with pytest.raises(agent_refusal.AgentRefusalError, match="table 'agents' has no column 'first_name'"):
        agent_refusal.report(ctx, "2026-03-01", "2026-03-01")


def test_bad_settings_are_refused_where_they_are_set(cli, demo):
    with pytest.raises(agent_refusal.AgentRefusalError, match="agent_refusal.ignore_dst must be true or false"):
        agent_refusal.session_config(ignore_dst="maybe")
    with pytest.raises(agent_refusal.AgentRefusalError, match="unknown setting 'agent_refusal.no_such_setting'"):
        agent_refusal.session_config(no_such_setting="1")
    assert agent_refusal.session_config(ignore_dst=True) is not None
    ctx = session(demo)
    for statement in ["SET agent_refusal.ignore_dst = 'maybe'", "SET agent_refusal.tiem_zone = 'UTC'",
                      "SET agent_refusal.time_zone = 'Mars/Base'", "SET agent_refusal.agents_table = ''"]:
        message = cli_error(cli, "--data", str(demo), "sql", "-c", statement)
        with pytest.raises(Exception) as raised:
            ctx.sql(statement).collect()
        assert message in str(raised.value), statement
    # the session keeps its settings and still reports
    assert agent_refusal.report(ctx, "2026-03-09", "2026-03-09").count() > 0
    ctx.sql("SET agent_refusal.ignore_dst = 'yes'").collect()
    ctx.sql("SET agent_refusal.time_zone = 'America/New_York'").collect()
    zone = ctx.sql("SELECT refuse_time FROM agent_refusal('2026-07-01', '2026-07-01')").to_arrow_table()
    assert zone.schema.field("refuse_time").type.tz == "-05:00"


def test_a_qualified_table_in_a_missing_schema_is_not_found(demo):
    ctx = session(demo, agent_refusal.session_config(refusals_table="other.events"))
    with pytest.raises(agent_refusal.AgentRefusalError) as raised:
        agent_refusal.report(ctx, "2026-03-09", "2026-03-09")
    assert str(raised.value) == (
        "agent_refusal: table 'other.events' not found "
        "(register it, or set agent_refusal.refusals_table to the table to use)"
    )


def test_dates_outside_pythons_range_reach_the_crate(cli, demo, tmp_path):
    query = "SELECT count(*) AS n FROM agent_refusal(arrow_cast(-800000, 'Date32'), '2026-03-10')"
    assert session(demo).sql(query).to_arrow_table().equals(cli_table(cli, demo, query, tmp_path))
    query = "SELECT * FROM agent_refusal(arrow_cast(3000000, 'Date32'), '2026-03-10')"
    message = cli_error(cli, "--data", str(demo), "sql", "-c", query)
    with pytest.raises(Exception) as raised:
        session(demo).sql(query).collect()
    assert message in str(raised.value)


def test_another_datafusion_major_is_refused(monkeypatch):
    import datafusion

    monkeypatch.setattr(datafusion, "__version__", "54.1.0")
    with pytest.raises(ImportError, match=r"needs datafusion 55\.x .* datafusion 54\.1\.0 is installed"):
        agent_refusal._check_datafusion()
    monkeypatch.setattr(datafusion, "__version__", "55.0.0")
    agent_refusal._check_datafusion()
    assert agent_refusal.DATAFUSION_MAJOR == 55


def test_register_twice_is_harmless(demo):
    ctx = session(demo)
    query = "SELECT count(*) AS n, sum(agent_no) AS s FROM agent_refusal('2026-03-09', '2026-03-13')"
    before = ctx.sql(query).to_pylist()
    reasons = ctx.sql("SELECT count(*) AS n FROM refusal_reasons").to_pylist()
    agent_refusal.register(ctx)
    assert ctx.sql(query).to_pylist() == before and before[0]["n"] > 0
    assert ctx.sql("SELECT count(*) AS n FROM refusal_reasons").to_pylist() == reasons
    with pytest.raises(TypeError):
        agent_refusal.register("not a session")  # type: ignore[arg-type]


def test_the_daily_pipeline_example_writes_the_clis_report(cli, demo, tmp_path):
    import runpy

    example = runpy.run_path(str(ROOT / "python" / "examples" / "daily_report.py"))
    path = example["main"](["--data", str(demo), "--out", str(tmp_path / "daily.csv"), "--day", "2026-03-10"])
    expected = run_cli(cli, "--data", str(demo), "report", "--from", "2026-03-10", "--to", "2026-03-10",
                       "--time-zone", "America/New_York").stdout
    assert path.read_bytes() == expected
    assert path.name.startswith("daily_") and path.suffix == ".csv"
    # the README shows this example's main lines
    readme = (ROOT / "README.md").read_text()
    for line in ['ctx = SessionContext(agent_refusal.session_config(time_zone="America/New_York"))',
                 "agent_refusal.register(ctx)",
                 "df = ctx.sql(\"SELECT * FROM agent_refusal('yesterday')\")",
                 'agent_refusal.export(df, "agent_refusal.csv", append_date=True, time_zone="America/New_York")']:
        assert line in readme, line


def test_tables_named_like_the_querys_own_names_or_keywords(cli, demo, tmp_path):
    query = "SELECT * FROM agent_refusal('2026-03-09', '2026-03-13')"
    expected = cli_table(cli, demo, query, tmp_path)
    ctx = SessionContext(agent_refusal.session_config(
        refusals_table='"Refusal Events"', contacts_table="r", agents_table='"user"'))
    agent_refusal.register(ctx)
    ctx.register_parquet('"Refusal Events"', str(demo / "refusals.parquet"))
    ctx.register_parquet("r", str(demo / "contacts.parquet"))
    ctx.register_parquet('"user"', str(demo / "agents.parquet"))
    assert ctx.sql(query).to_arrow_table().equals(expected)


def test_a_dialect_that_reads_double_quotes_as_text_is_refused(demo):
    ctx = session(demo)
    ctx.sql("SET datafusion.sql_parser.dialect = 'mysql'").collect()
    with pytest.raises(agent_refusal.AgentRefusalError, match="dialect 'mysql'"):
        agent_refusal.report(ctx, "2026-03-09", "2026-03-09")
    ctx.sql("SET datafusion.sql_parser.dialect = 'postgresql'").collect()
    assert agent_refusal.report(ctx, "2026-03-09", "2026-03-09").count() > 0
