"""Fixtures: the `agent-refusal` binary built from this repository (the reference every test
compares with), the demo data it writes, and generated data with DST days."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import random
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datafusion import SessionContext

import agent_refusal

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _binary() -> pathlib.Path:
    given = os.environ.get("AGENT_REFUSAL_BIN")
    if given:
        return pathlib.Path(given)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "agent-refusal"


@pytest.fixture(scope="session")
def cli() -> pathlib.Path:
    path = _binary()
    if not path.is_file():
        pytest.fail(
            f"the agent-refusal binary is not at {path}: run `cargo build` first "
            "(or set AGENT_REFUSAL_BIN)"
        )
    return path


def run_cli(cli: pathlib.Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([str(cli), *args], capture_output=True, timeout=300)
    if check and done.returncode != 0:
        raise AssertionError(f"agent-refusal {' '.join(args)} failed: {done.stderr.decode()}")
    return done


def cli_error(cli: pathlib.Path, *args: str) -> str:
    """The one-line message of a failing CLI command (without `agent-refusal: error: `)."""
    done = run_cli(cli, *args, check=False)
    assert done.returncode != 0, f"agent-refusal {' '.join(args)} succeeded"
    lines = [
        line
        for line in done.stderr.decode().splitlines()
        if line.startswith("agent-refusal: error: ")
    ]
    assert len(lines) == 1, done.stderr.decode()
    return lines[0].removeprefix("agent-refusal: error: ")


def cli_table(cli: pathlib.Path, data: pathlib.Path, query: str, tmp: pathlib.Path) -> pa.Table:
    """What the Rust crate gives for `query` over `data`, as an Arrow table (through Parquet,
    which keeps every type, zones included)."""
    out = tmp / f"cli-{abs(hash(query))}.parquet"
    run_cli(cli, "--data", str(data), "sql", "-c", f"COPY ({query}) TO '{out}' STORED AS PARQUET")
    return pq.read_table(out)


def session(data: pathlib.Path, config=None) -> SessionContext:
    """A session with the report registered and every table of `data` (as the CLI's --data)."""
    ctx = SessionContext(config if config is not None else agent_refusal.session_config())
    agent_refusal.register(ctx)
    for file in sorted(data.iterdir()):
        if file.suffix == ".parquet":
            ctx.register_parquet(file.stem, str(file))
    return ctx


@pytest.fixture(scope="session")
def demo(cli: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("demo")
    run_cli(cli, "demo-data", "--output", str(folder))
    return folder


def _generate(folder: pathlib.Path, seed: int, text_times: bool) -> pathlib.Path:
    """Refusals around New York's and London's DST changes of 2026 (March 8 and 29, October 25,
    November 1) and in the last days before today, at random instants and with exact ties; contacts with duplicates and gaps;
    agents with missing and empty names. `text_times`: `refuse_time` as ISO-8601 text with
    offsets and int32 ids, else a naive timestamp in milliseconds (UTC)."""
    rng = random.Random(seed)
    today = dt.date.today()
    # plus days relative to today, for the presets ('yesterday', 'last 30 days')
    days = [dt.date(2026, 3, 7), dt.date(2026, 3, 8), dt.date(2026, 3, 29), dt.date(2026, 10, 25),
            dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 12, 31),
            today - dt.timedelta(days=1), today - dt.timedelta(days=3), today - dt.timedelta(days=12)]
    reasons = ["NoAnswer", "Busy", "Bad Number", "no answer", "Refused", "", "3", "Timeout"]
    rows = []
    for _ in range(3000):
        day = rng.choice(days)
        instant = dt.datetime.combine(day, dt.time()) + dt.timedelta(
            seconds=rng.randrange(-6 * 3600, 30 * 3600), milliseconds=rng.randrange(1000)
        )
        rows.append((rng.randrange(1, 400), rng.randrange(1, 40), rng.choice([None, *range(1, 9)]),
                     rng.choice(reasons), instant))
    rows += [(7, 3, 1, "Busy", dt.datetime(2026, 3, 8, 7, 0)), (7, 2, 1, "Busy", dt.datetime(2026, 3, 8, 7, 0))]
    contacts = [(c, rng.choice([None, *range(1, 40)])) for c in range(1, 400) if c % 17]
    contacts += [(5, 1), (5, 30)]
    agents = [(a, rng.choice([None, "", "Ana", "Bo"]), rng.choice([None, "", "Li", "O'Neil"])) for a in range(1, 35)]
    agents += [(4, "Zed", None)]
    id_type = pa.int32() if text_times else pa.int64()
    if text_times:
        times = pa.array([t.isoformat() + rng.choice(["Z", "+00:00", "-05:00", ""]) for *_, t in rows])
    else:
        times = pa.array([t for *_, t in rows], type=pa.timestamp("ms"))
    refusals = pa.table({
        "contact_id": pa.array([r[0] for r in rows], type=id_type),
        "agent_id": pa.array([r[1] for r in rows], type=id_type),
        "station_id": pa.array([r[2] for r in rows], type=id_type),
        "reason": pa.array([r[3] for r in rows]),
        "refuse_time": times,
    })
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(refusals, folder / "refusals.parquet")
    pq.write_table(pa.table({"contact_id": pa.array([c for c, _ in contacts], type=id_type),
                             "agent_id": pa.array([a for _, a in contacts], type=id_type)}),
                   folder / "contacts.parquet")
    pq.write_table(pa.table({"agent_id": pa.array([a for a, _, _ in agents], type=id_type),
                             "first_name": pa.array([f for _, f, _ in agents], type=pa.string()),
                             "last_name": pa.array([l for _, _, l in agents], type=pa.string())}),
                   folder / "agents.parquet")
    return folder


@pytest.fixture(scope="session", params=["timestamps", "text"])
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    text = request.param == "text"
    return _generate(tmp_path_factory.mktemp(f"generated-{request.param}"), 11 if text else 7, text)
