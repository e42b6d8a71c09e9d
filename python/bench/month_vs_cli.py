#!/usr/bin/env python3
"""The month report from Python against the CLI, on the same data, interleaved, medians of 3.

usage: python python/bench/month_vs_cli.py --cli target/release/agent-refusal [--data DIR]
           [--refusals N] [--runs 3]

Both sides run in a fresh process per run and write CXone's CSV of March 2026 in
America/New_York to a file: the CLI (`agent-refusal --data DIR report ... --output F`) and a
Python process that imports datafusion and agent_refusal, registers DIR's tables and calls
`agent_refusal.export(ctx.sql("SELECT * FROM agent_refusal(...)"), F)`. The two files must be
byte-identical. Build both optimized first: `cargo build --release` and, in the venv that runs
this script, `pip install ./python` (or `maturin develop --release`).

Without --data, the scale benchmark's generator (benches/scale/gen_data.py, needs numpy) writes
N refusals (default 10,000,000, a year) into <target>/scale-bench/data-N, where `cargo bench
--bench scale` finds them too.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
FROM, TO, ZONE = "2026-03-01", "2026-03-31", "America/New_York"

PYTHON_RUN = """
import sys, time
started = time.perf_counter()
from datafusion import SessionContext
import agent_refusal
data, out = sys.argv[1], sys.argv[2]
ctx = SessionContext(agent_refusal.session_config())
agent_refusal.register(ctx)
ctx.register_parquet("refusals", data + "/refusals/")
ctx.register_parquet("contacts", data + "/contacts.parquet")
ctx.register_parquet("agents", data + "/agents.parquet")
df = ctx.sql("SELECT * FROM agent_refusal('{FROM}', '{TO}', '00:00', '23:59', '{ZONE}')")
agent_refusal.export(df, out)
""".format(FROM=FROM, TO=TO, ZONE=ZONE)


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", required=True, help="the agent-refusal binary (a release build)")
    ap.add_argument("--data", help="folder of the scale data set (default: generate it)")
    ap.add_argument("--refusals", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    if args.data:
        data = pathlib.Path(args.data)
    else:
        target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        data = target / "scale-bench" / f"data-{args.refusals}"
        if not (data / "agents.parquet").exists():
            print(f"writing {args.refusals} refusals to {data} ...", file=sys.stderr)
            subprocess.run([sys.executable, str(ROOT / "benches" / "scale" / "gen_data.py"), str(data),
                            "--refusals", str(args.refusals)], check=True)

    with tempfile.TemporaryDirectory() as tmp:
        cli_out, py_out = pathlib.Path(tmp, "cli.csv"), pathlib.Path(tmp, "python.csv")
        cli_cmd = [args.cli, "--data", str(data), "report", "--from", FROM, "--to", TO,
                   "--time-zone", ZONE, "--output", str(cli_out)]
        py_cmd = [sys.executable, "-c", PYTHON_RUN, str(data), str(py_out)]
        timed(cli_cmd), timed(py_cmd)  # warm the page cache once
        cli_times, py_times = [], []
        for _ in range(args.runs):
            cli_times.append(timed(cli_cmd))
            py_times.append(timed(py_cmd))
        same = cli_out.read_bytes() == py_out.read_bytes()
        rows = cli_out.read_bytes().count(b"\n") - 1
    cli_median, py_median = statistics.median(cli_times), statistics.median(py_times)
    print(f"month {FROM}..{TO} {ZONE}: {rows} rows, data {data}")
    print(f"CLI    median {cli_median:.3f} s  runs {', '.join(f'{t:.3f}' for t in cli_times)}")
    print(f"Python median {py_median:.3f} s  runs {', '.join(f'{t:.3f}' for t in py_times)}")
    print(f"Python / CLI = {py_median / cli_median:.2f}x; byte-identical CSV: {same}")
    if not same:
        sys.exit("the two reports differ")


if __name__ == "__main__":
    main()
