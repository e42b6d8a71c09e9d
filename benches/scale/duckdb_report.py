#!/usr/bin/env python3
"""The Agent Refusal report written by hand in DuckDB: the baseline of the scale benchmark.

usage: duckdb_report.py DATA_DIR --from YYYY-MM-DD --to YYYY-MM-DD [--start-time T] [--end-time T]
                        [--time-zone ZONE] [--output FILE] [--threads N]
Needs: duckdb.

DATA_DIR holds the tables refusals, contacts and agents, each as NAME.parquet, a folder NAME/ of
Parquet files, or NAME.csv (a header row). Writes the report as CXone's comma-delimited export,
the file `agent-refusal report --format csv` writes for the same arguments, and prints the seconds
the query took (on stderr when the report goes to stdout).

What it computes (this project's README and docs/performance.md):
  - the window: a refusal is in it when its local clock reading in ZONE (daylight saving applied)
    is at or after FROM START-TIME and before TO END-TIME plus one minute (END-TIME as HH:MM) or
    one second (as HH:MM:SS); start time 00:00 and end time 23:59 by default;
  - one row per refusal event;
  - Agent_No: the contact's last handling agent (the smallest one if the contact is listed more
    than once), else the refusing agent;
  - FullName: the refusing agent's first and last name with one space between (just the one that
    is there if the other is NULL or empty; the smallest if the agent is listed more than once);
  - Reason: the canonical reason when the raw value matches one after trimming, ignoring case,
    spaces, underscores and hyphens, else the raw value;
  - Refuse_Time: MM/DD/YYYY HH:MM in ZONE;
  - rows in order of refuse_time, contact_id, refusing agent; CRLF line endings, fields quoted only
    when they must be, NULL as an empty field.
"""
import argparse
import datetime as dt
import os
import re
import sys
import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb

LABELS = ["Bad Number", "Busy", "ContactAlreadyRouted", "Error", "Invalid Call Leg", "NoAnswer",
          "LinkFailed", "Dropped", "AgentLinkTimeout", "NA", "0"]


def fail(message):
    sys.exit(f"duckdb_report.py: {message}")


def sql_text(s):
    return "'" + s.replace("'", "''") + "'"


def table(data_dir, name):
    """A DuckDB table expression reading table `name` of the data folder."""
    path = os.path.join(data_dir, name)
    if os.path.isdir(path):
        return f"read_parquet({sql_text(os.path.join(path, '*.parquet'))})"
    if os.path.isfile(path + ".parquet"):
        return f"read_parquet({sql_text(path + '.parquet')})"
    if os.path.isfile(path + ".csv"):
        return f"read_csv({sql_text(path + '.csv')}, header = true)"
    fail(f"no table '{name}' in {data_dir} (expected {name}.parquet, {name}/ or {name}.csv)")


def clock(text, what):
    """A time HH:MM or HH:MM:SS, and whether it had seconds."""
    if not re.fullmatch(r"\d{2}:\d{2}(:\d{2})?", text):
        fail(f"invalid {what} '{text}': expected HH:MM or HH:MM:SS")
    try:
        return dt.time.fromisoformat(text), text.count(":") == 2
    except ValueError:
        fail(f"invalid {what} '{text}': expected HH:MM or HH:MM:SS")


def day(text, what):
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"invalid {what} '{text}': expected YYYY-MM-DD")


def utc_bounds(zone, lo, hi):
    """A UTC range holding every instant whose local reading in `zone` lies in [lo, hi).

    An instant t reads as t + offset(t), so t lies in [lo - largest offset, hi - smallest offset)
    for the offsets in use around the window. The stored column is compared with these bounds, so
    that DuckDB skips the Parquet files and row groups outside the window."""
    start = (lo - dt.timedelta(days=2)).replace(tzinfo=dt.timezone.utc)
    end = (hi + dt.timedelta(days=2)).replace(tzinfo=dt.timezone.utc)
    offsets = set()
    t = start
    while t <= end:
        offsets.add(t.astimezone(zone).utcoffset())
        t += dt.timedelta(minutes=30)
    return lo - max(offsets), hi - min(offsets)


def main():
    ap = argparse.ArgumentParser(description="The Agent Refusal report, by hand in DuckDB.")
    ap.add_argument("data", help="folder holding refusals, contacts and agents")
    ap.add_argument("--from", dest="start_date", required=True, metavar="YYYY-MM-DD")
    ap.add_argument("--to", dest="end_date", required=True, metavar="YYYY-MM-DD")
    ap.add_argument("--start-time", default="00:00")
    ap.add_argument("--end-time", default="23:59")
    ap.add_argument("--time-zone", default="UTC", help="an IANA zone name (default UTC)")
    ap.add_argument("--output", default="-", help="the CSV file to write (default -, stdout)")
    ap.add_argument("--threads", type=int, help="DuckDB threads (default: DuckDB's, one per core)")
    a = ap.parse_args()

    start_time, _ = clock(a.start_time, "start time")
    end_time, end_has_seconds = clock(a.end_time, "end time")
    lo = dt.datetime.combine(day(a.start_date, "start date"), start_time)
    hi = dt.datetime.combine(day(a.end_date, "end date"), end_time)
    hi += dt.timedelta(seconds=1) if end_has_seconds else dt.timedelta(minutes=1)
    if hi <= lo:
        fail(f"the window ends before it starts ({a.start_date} {a.start_time} to {a.end_date} {a.end_time})")
    try:
        zone = ZoneInfo(a.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"unknown time zone '{a.time_zone}': use an IANA name such as America/New_York")
    lo_utc, hi_utc = utc_bounds(zone, lo, hi)

    refusals = table(a.data, "refusals")
    contacts = table(a.data, "contacts")
    agents = table(a.data, "agents")

    con = duckdb.connect()
    if a.threads:
        con.execute(f"SET threads = {int(a.threads)}")
    kind = con.execute(
        f"SELECT column_type FROM (DESCRIBE SELECT refuse_time FROM {refusals})").fetchone()[0]
    # The stored column, compared as it is stored so that the comparison reaches the scan.
    # A timestamp without a zone holds UTC.
    fmt = "%Y-%m-%d %H:%M:%S"
    if kind == "TIMESTAMP WITH TIME ZONE":
        instant = "refuse_time"
        bound = lambda t: f"TIMESTAMPTZ '{t.strftime(fmt)}+00'"
    elif kind.startswith("TIMESTAMP"):
        instant = "timezone('UTC', refuse_time)"
        bound = lambda t: f"TIMESTAMP '{t.strftime(fmt)}'"
    else:
        fail(f"refusals.refuse_time has type {kind}; this script reads timestamps only")

    # the matching key of a reason: trimmed, lower case, without spaces, underscores or hyphens
    key = "lower(regexp_replace(regexp_replace(e.reason, '^\\s+|\\s+$', '', 'g'), '[ _-]', '', 'g'))"
    canonical = "\n".join(
        f"WHEN {sql_text(re.sub('[ _-]', '', label.lower()))} THEN {sql_text(label)}" for label in LABELS)
    zone_name = sql_text(a.time_zone)
    query = f"""
    COPY (
      WITH events AS (
        SELECT contact_id, agent_id, station_id, CAST(reason AS VARCHAR) AS reason,
               {instant} AS instant, timezone({zone_name}, {instant}) AS local_time
        FROM {refusals}
        WHERE refuse_time >= {bound(lo_utc)} AND refuse_time < {bound(hi_utc)}
      ),
      in_window AS (
        SELECT * FROM events
        WHERE local_time >= TIMESTAMP '{lo.strftime(fmt)}' AND local_time < TIMESTAMP '{hi.strftime(fmt)}'
      ),
      last_agent AS (
        SELECT contact_id, min(agent_id) AS agent_id
        FROM {contacts}
        WHERE contact_id IN (SELECT contact_id FROM in_window)
        GROUP BY contact_id
      ),
      names AS (
        SELECT agent_id,
               min(nullif(concat_ws(' ', nullif(first_name, ''), nullif(last_name, '')), '')) AS full_name
        FROM {agents}
        GROUP BY agent_id
      )
      SELECT e.contact_id AS Contact_ID,
             coalesce(l.agent_id, e.agent_id) AS Agent_No,
             n.full_name AS FullName,
             e.station_id AS Station_ID,
             -- an empty reason is an empty field, as NULL is (DuckDB would write "")
             nullif(CASE {key}
                    {canonical}
                    ELSE e.reason END, '') AS Reason,
             strftime(e.local_time, '%m/%d/%Y %H:%M') AS Refuse_Time
      FROM in_window e
      LEFT JOIN last_agent l ON l.contact_id = e.contact_id
      LEFT JOIN names n ON n.agent_id = e.agent_id
      ORDER BY e.instant, e.contact_id, e.agent_id
    ) TO {sql_text('/dev/stdout' if a.output == '-' else a.output)} (FORMAT csv, HEADER true, NEW_LINE '\r\n')
    """
    started = time.perf_counter()
    try:
        con.execute(query)
    except duckdb.Error as e:
        fail(str(e).splitlines()[0])
    # the seconds the query took, on stdout unless the report goes there
    print(f"{time.perf_counter() - started:.3f}", file=sys.stderr if a.output == "-" else sys.stdout)


if __name__ == "__main__":
    main()
