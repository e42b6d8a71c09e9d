"""A daily pipeline job: yesterday's Agent Refusal report as CXone's CSV, named by its date.

    python daily_report.py --data /lake/cxone --out /reports/agent_refusal.csv

writes /reports/agent_refusal_YYYYMMDD.csv (today's date in the report's zone), atomically: a
failed or interrupted run leaves an earlier file as it was. In Airflow or Dagster, pass the run's
logical date with --day instead of relying on "yesterday".
"""

from __future__ import annotations

import argparse
import pathlib

from datafusion import SessionContext

import agent_refusal


def main(argv: list[str] | None = None) -> pathlib.Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of refusals/contacts/agents .parquet")
    parser.add_argument("--out", default="agent_refusal.csv", help="file to write (date appended)")
    parser.add_argument("--time-zone", default="America/New_York")
    parser.add_argument("--day", help="YYYY-MM-DD to report instead of yesterday")
    args = parser.parse_args(argv)

    ctx = SessionContext(agent_refusal.session_config(time_zone=args.time_zone))
    agent_refusal.register(ctx)
    for table in ("refusals", "contacts", "agents"):
        ctx.register_parquet(table, str(pathlib.Path(args.data) / f"{table}.parquet"))

    window = f"'{args.day}', '{args.day}'" if args.day else "'yesterday'"
    df = ctx.sql(f"SELECT * FROM agent_refusal({window})")
    path = agent_refusal.export(df, args.out, append_date=True, time_zone=args.time_zone)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
