"""`agent_refusal.export`: the CLI's writers, every format read back, atomic under failures."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import signal
import threading
import time
import xml.etree.ElementTree as ET

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import agent_refusal
from conftest import cli_error, run_cli, session

WINDOW = ["--from", "2026-03-09", "--to", "2026-03-13", "--time-zone", "America/New_York"]
FORM = "'2026-03-09', '2026-03-13', '00:00', '23:59', 'America/New_York'"
TEXT_FORMATS = ["csv", "tab", "xml", "json", "ndjson"]


def report_df(demo):
    return session(demo).sql(f"SELECT * FROM agent_refusal({FORM})")


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_text_formats_are_byte_identical_to_the_cli(cli, demo, tmp_path, fmt):
    expected = run_cli(cli, "--data", str(demo), "report", *WINDOW, "--format", fmt).stdout
    path = agent_refusal.export(report_df(demo), tmp_path / "out.data", format=fmt)
    assert path.read_bytes() == expected


def test_every_format_reads_back_with_the_same_cells(cli, demo, tmp_path):
    rows = list(csv.reader(io.StringIO(
        agent_refusal.export(report_df(demo), tmp_path / "r.csv").read_text(encoding="utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert len(body) == 908

    tab = list(csv.reader(io.StringIO(
        agent_refusal.export(report_df(demo), tmp_path / "r.txt").read_text(encoding="utf-8-sig")),
        delimiter="\t"))
    assert tab == rows

    root = ET.parse(agent_refusal.export(report_df(demo), tmp_path / "r.xml")).getroot()
    records = list(root)
    assert len(records) == len(body)
    assert [c.text or "" for c in records[0]] == body[0]

    cli_xlsx = tmp_path / "cli.xlsx"
    run_cli(cli, "--data", str(demo), "report", *WINDOW, "--output", str(cli_xlsx))
    ours = openpyxl.load_workbook(agent_refusal.export(report_df(demo), tmp_path / "r.xlsx"), read_only=True)
    theirs = openpyxl.load_workbook(cli_xlsx, read_only=True)
    assert ours.sheetnames == theirs.sheetnames
    for name in ours.sheetnames:
        assert list(ours[name].values) == list(theirs[name].values)
    assert len(list(ours[ours.sheetnames[0]].values)) == len(rows)

    table = pq.read_table(agent_refusal.export(report_df(demo), tmp_path / "r.parquet"))
    assert table.equals(report_df(demo).to_arrow_table())
    assert table.schema.field("refuse_time").type == pa.timestamp("us", tz="America/New_York")

    objects = json.loads(agent_refusal.export(report_df(demo), tmp_path / "r.json").read_text())
    lines = agent_refusal.export(report_df(demo), tmp_path / "r.ndjson").read_text().splitlines()
    assert objects == [json.loads(line) for line in lines]
    assert [o["contact_id"] for o in objects] == table.column("contact_id").to_pylist()


def test_format_and_extension_rules(demo, tmp_path):
    assert agent_refusal.export(report_df(demo), tmp_path / "noext").read_bytes().startswith(b"Contact_ID,Agent_No,")
    with pytest.raises(agent_refusal.AgentRefusalError, match="contradicts"):
        agent_refusal.export(report_df(demo), tmp_path / "a.csv", format="xml")
    with pytest.raises(agent_refusal.AgentRefusalError, match="unknown export format 'docx'"):
        agent_refusal.export(report_df(demo), tmp_path / "a.out", format="docx")
    with pytest.raises(TypeError):
        agent_refusal.export([1, 2], tmp_path / "a.csv")


def test_append_date_uses_today_in_the_zone(demo, tmp_path):
    path = agent_refusal.export(report_df(demo), tmp_path / "daily.csv", append_date=True,
                                time_zone="Pacific/Kiritimati")
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=14))).date()
    assert path.name == f"daily_{today:%Y%m%d}.csv" and path.is_file()


def test_other_arrow_streams_export(tmp_path):
    table = pa.table({"a": [1, 2], "b": ["x", "y"]})
    path = agent_refusal.export(table, tmp_path / "t.ndjson")
    assert path.read_text() == '{"a":1,"b":"x"}\n{"a":2,"b":"y"}\n'


def test_a_failing_export_keeps_the_existing_file(cli, demo, tmp_path):
    target = tmp_path / "keep.csv"
    target.write_text("old content\n")
    ctx = session(demo)
    # fails while rows stream: a text that is not a number, past the first batch
    query = (
        "SELECT CAST(CASE WHEN contact_id % 1000 = 999 THEN 'x' ELSE '1' END AS INT) AS n "
        "FROM agent_refusal('2026-02-16', '2026-03-29')"
    )
    with pytest.raises(agent_refusal.AgentRefusalError) as raised:
        agent_refusal.export(ctx.sql(query), target)
    cli_target = tmp_path.parent / f"{tmp_path.name}-cli.csv"
    message = cli_error(cli, "--data", str(demo), "sql", "-c",
                        f"COPY ({query}) TO '{cli_target}' STORED AS CXONE_CSV")
    assert str(raised.value) == message
    assert "Cannot cast string 'x'" in message
    assert target.read_text() == "old content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.csv"]
    with pytest.raises(agent_refusal.AgentRefusalError, match="is a folder|Is a directory|folder"):
        agent_refusal.export(report_df(demo), tmp_path)
    with pytest.raises(agent_refusal.AgentRefusalError, match="no-such-dir"):
        agent_refusal.export(report_df(demo), tmp_path / "no-such-dir" / "x.csv")


def test_ctrl_c_stops_an_export_and_keeps_the_existing_file(cli, tmp_path):
    big = tmp_path / "big"
    run_cli(cli, "demo-data", "--output", str(big), "--scale", "60")
    target = tmp_path / "year.xlsx"
    target.write_bytes(b"previous workbook")
    df = session(big).sql("SELECT * FROM agent_refusal('2026-01-01', '2026-12-31')")
    # the export has started writing (its temporary file exists) when the signal comes
    def interrupt_once_writing():
        deadline = time.monotonic() + 60
        while not any(p.name.endswith(".partial") for p in tmp_path.iterdir()):
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Thread(target=interrupt_once_writing, daemon=True)
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        agent_refusal.export(df, target)
    assert time.monotonic() - started < 30
    assert target.read_bytes() == b"previous workbook"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big", "year.xlsx"]


def test_ctrl_c_stops_an_export_waiting_for_a_fifo_reader(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            agent_refusal.export(pa.table({"a": [1]}), fifo)
        assert time.monotonic() - started < 3
    finally:
        timer.cancel()
        # let the abandoned open() of the FIFO finish
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
