#!/usr/bin/env python3
"""Writes the data set of the scale benchmark (`cargo bench --bench scale`): a year of refusals.

usage: gen_data.py OUT_DIR [--refusals N] [--seed S]
Needs: numpy, pyarrow. The same arguments always write the same rows.

Tables, as Parquet, in OUT_DIR (the layout `agent-refusal report --data OUT_DIR` reads):

  refusals/2026-MM.parquet  N refusal events (default 10,000,000) over calendar 2026 in
                            America/New_York, one file per local month, each file sorted by
                            refuse_time (so `--order refusals=refuse_time` holds), row groups of
                            128Ki rows. Columns: contact_id int64, agent_id int64, station_id int64
                            (5% NULL), reason string, refuse_time timestamp[us, UTC].
  contacts.parquet          4 x N contacts in id order, row groups of 1Mi rows. contact_id int64,
                            agent_id int64 (the last handling agent, 3% NULL), plus two columns the
                            report ignores. Most contacts are never refused, and the refused ones
                            of any window are spread over the whole id range.
  agents.parquet            5,000 agents: agent_id int64, first_name, last_name, team.
  stations.parquet          2,000 stations: station_id int64, phone.

Shape of the events: weekdays busier than weekends and winter busier than summer; most events in
local business hours, the rest spread over the whole day and night. About 4% are a contact refused
again by another agent a few seconds later (sometimes in the same second), so equal times are
common and the report's tie order (refuse_time, contact_id, refusing agent) matters.

Cases the report must get right, on purpose and in small numbers: events at 00:00:00 and 23:59:59
local time of every day (window edges), around both daylight-saving changes (the skipped hour on
2026-03-08 and both passes of the repeated hour on 2026-11-01); reasons spelled in other ways
(`no answer`, `NO_ANSWER`, ` Busy `, `bad-number`), unknown ones (kept as they are, one with a
comma), empty and NULL; names with a comma, a double quote, non-ASCII letters, empty or NULL parts;
agents listed twice, refusing agents missing from `agents`, contacts listed twice or missing from
`contacts`, contacts without a last agent.
"""
import argparse
import datetime as dt
import os
import sys
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

YEAR = 2026
ZONE = ZoneInfo("America/New_York")
N_AGENTS = 5_000
N_STATIONS = 2_000
AGENT_BASE = 200_001
GHOST_AGENT_BASE = 900_001  # refusing agents that `agents` does not list
STATION_BASE = 700_001
CONTACT_BASE = 30_000_000_001
CONTACTS_PER_REFUSAL = 4

# raw reason -> weight (percent); None is a NULL reason
REASONS = {
    "NoAnswer": 50.0, "Busy": 9.0, "Dropped": 7.0, "Invalid Call Leg": 6.0, "LinkFailed": 5.0,
    "AgentLinkTimeout": 5.0, "ContactAlreadyRouted": 4.0, "Bad Number": 3.0, "Error": 3.0,
    "NA": 0.8, "0": 0.7,
    # other spellings of the same reasons
    "no answer": 1.2, "NO_ANSWER": 0.8, "noanswer": 0.3, " Busy ": 0.3, "bad-number": 0.2,
    "BADNUMBER": 0.1, "invalid_call_leg": 0.3, "Contact Already Routed": 0.2, "link failed": 0.2,
    "agent-link-timeout": 0.1, "na": 0.1,
    # not reasons the report knows: kept as they are
    "Timeout": 0.15, "Rejected, manual": 0.05, "00": 0.03, "": 0.03,
    None: 0.05,
}
FIRST_NAMES = ["Ana", "José", "Wei", "Mary", "Chidi", "Zoë", "Sam", "Priya", "Tom", "Amara", "Søren",
               "Yuki", "Omar", "Agnieszka", "Ravi", "Claire", "Mateo", "Fatima", 'Jo "JJ"', "Liam"]
LAST_NAMES = ["Smith", "O'Connor", "Fernández", "Tran", "Schröder", "Nowak", "Zhang", "Adeyemi",
              "Bianchi", "Khalil", "Larsen", "Costa", "Smith, Jr.", "Ng", "de la Cruz"]


def local_instant(day, seconds=0, fold=0):
    """The UTC epoch second of a local wall-clock reading in ZONE."""
    t = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)
    return int(t.replace(tzinfo=ZONE, fold=fold).timestamp())


def year_days():
    first = dt.date(YEAR, 1, 1)
    return [first + dt.timedelta(days=i) for i in range((dt.date(YEAR + 1, 1, 1) - first).days)]


def dst_changes(days):
    """The UTC instants at which ZONE's offset changes during the year."""
    changes = []
    for day in days:
        lo = local_instant(day)
        hi = local_instant(day + dt.timedelta(days=1))
        off = lambda s: dt.datetime.fromtimestamp(s, ZONE).utcoffset()
        if off(lo) != off(hi):
            while hi - lo > 1:  # bisect to the first second with the new offset
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if off(mid) == off(lo) else (lo, mid)
            changes.append(hi)
    return changes


def probe_instants(days):
    """Instants that test the window edges and the daylight-saving changes."""
    out = []
    for day in days:
        out += [local_instant(day), local_instant(day, 86_399)]
    for change in dst_changes(days):
        out += [change + d for d in (-1800, -60, -1, 0, 1, 59, 60, 1800, 3599, 3600)]
    # the repeated hour of the autumn change, read on both of its passes
    for day in days:
        if local_instant(day, 5400, fold=0) != local_instant(day, 5400, fold=1):
            for secs in (3600, 5400, 7199):
                out += [local_instant(day, secs, fold=0), local_instant(day, secs, fold=1)]
    return np.unique(np.array(out, dtype=np.int64))


def string_column(picks, pool):
    """A string array of `pool[i]` for each index i in `picks` (None entries become NULL)."""
    values = pa.array([v if v is not None else "" for v in pool], pa.string())
    nulls = np.array([v is None for v in pool])[picks]
    indices = pa.array(picks.astype(np.int32), mask=nulls)
    return pa.DictionaryArray.from_arrays(indices, values).cast(pa.string())


def write_agents(rng, path):
    ids = np.arange(AGENT_BASE, AGENT_BASE + N_AGENTS, dtype=np.int64)
    first = rng.integers(0, len(FIRST_NAMES), N_AGENTS)
    last = rng.integers(0, len(LAST_NAMES), N_AGENTS)
    first_pool = FIRST_NAMES + [None, ""]
    last_pool = LAST_NAMES + [None, ""]
    u = rng.random(N_AGENTS)
    first = np.where(u < 0.01, len(FIRST_NAMES), np.where(u < 0.02, len(FIRST_NAMES) + 1, first))
    v = rng.random(N_AGENTS)
    last = np.where(v < 0.01, len(LAST_NAMES), np.where(v < 0.015, len(LAST_NAMES) + 1, last))
    # a few agents without any name (NULL or empty parts)
    nameless = rng.choice(N_AGENTS, 4, replace=False)
    first[nameless] = [len(FIRST_NAMES), len(FIRST_NAMES) + 1, len(FIRST_NAMES), len(FIRST_NAMES) + 1]
    last[nameless] = [len(LAST_NAMES), len(LAST_NAMES), len(LAST_NAMES) + 1, len(LAST_NAMES) + 1]
    # a few agents listed twice with another name (the report keeps the smallest full name)
    twice = rng.choice(N_AGENTS, 8, replace=False)
    ids = np.concatenate([ids, ids[twice]])
    first = np.concatenate([first, rng.integers(0, len(first_pool), 8)])
    last = np.concatenate([last, rng.integers(0, len(last_pool), 8)])
    pq.write_table(pa.table({
        "agent_id": ids,
        "first_name": string_column(first, first_pool),
        "last_name": string_column(last, last_pool),
        "team": pa.array([f"Team {i % 40 + 1:02d}" for i in range(len(ids))]),
    }), path)


def write_stations(path):
    ids = np.arange(STATION_BASE, STATION_BASE + N_STATIONS, dtype=np.int64)
    pq.write_table(pa.table({
        "station_id": ids,
        "phone": pa.array([f"+1 212 555 {i % 10_000:04d}" for i in range(N_STATIONS)]),
    }), path)


def write_contacts(rng, n_contacts, path):
    """Contacts in id order; ~0.2% of ids appear twice (the next id is then missing)."""
    schema = pa.schema([("contact_id", pa.int64()), ("agent_id", pa.int64()),
                        ("skill_id", pa.int32()), ("started_at", pa.timestamp("us", tz="UTC"))])
    year_start = local_instant(dt.date(YEAR, 1, 1))
    year_len = local_instant(dt.date(YEAR + 1, 1, 1)) - year_start
    chunk = 1 << 22
    with pq.ParquetWriter(path, schema) as writer:
        for lo in range(0, n_contacts, chunk):
            n = min(chunk, n_contacts - lo)
            ids = np.arange(CONTACT_BASE + lo, CONTACT_BASE + lo + n, dtype=np.int64)
            twice = np.flatnonzero(rng.random(n) < 0.002)
            twice = twice[twice > 0]
            ids[twice] = ids[twice - 1]
            agents = rng.integers(AGENT_BASE, AGENT_BASE + N_AGENTS, n, dtype=np.int64)
            started = np.sort(rng.integers(0, year_len, n)) + year_start
            writer.write_table(pa.table({
                "contact_id": ids,
                "agent_id": pa.array(agents, mask=rng.random(n) < 0.03),
                "skill_id": pa.array(rng.integers(1, 300, n, dtype=np.int32)),
                "started_at": pa.array(started * 1_000_000, pa.timestamp("us", tz="UTC")),
            }, schema=schema), row_group_size=1 << 20)


def event_times(rng, n, days, probes):
    """n event instants: the probes first, then local-time-shaped events over the year."""
    n_probe = min(len(probes), n // 10)
    if n_probe < len(probes):
        probes = np.sort(rng.choice(probes, n_probe, replace=False))
    n_rest = n - n_probe
    midnights = np.array([local_instant(d) for d in days], dtype=np.int64)
    weekday = np.array([d.weekday() for d in days])
    weight = np.select([weekday == 5, weekday == 6], [0.55, 0.45], 1.0)
    weight = weight * (1 + 0.15 * np.cos(2 * np.pi * (np.arange(len(days)) - 15) / len(days)))
    day = rng.choice(len(days), n_rest, p=weight / weight.sum())
    busy = rng.random(n_rest) < 0.85
    secs = np.where(busy, rng.normal(12.5 * 3600, 3 * 3600, n_rest), rng.uniform(0, 86_400, n_rest))
    secs = np.clip(secs, 0, 86_399).astype(np.int64)
    return np.concatenate([probes, midnights[day] + secs])


def write_refusals(rng, n, out_dir):
    days = year_days()
    year_end = local_instant(dt.date(YEAR + 1, 1, 1))  # first instant after the local year
    n_again = int(n * 0.04) if n >= 10 else 0
    n_first = n - n_again
    times = event_times(rng, n_first, days, probe_instants(days))
    # contacts: distinct ids from the whole contact range (some are missing from `contacts`)
    n_contacts = CONTACTS_PER_REFUSAL * n
    contacts = CONTACT_BASE + rng.choice(n_contacts, n_first, replace=False).astype(np.int64)
    # busy agents refuse more than others; 0.1% of events come from agents `agents` lacks
    propensity = rng.lognormal(0, 0.8, N_AGENTS)
    agent_idx = rng.choice(N_AGENTS, n_first, p=propensity / propensity.sum())
    agents = AGENT_BASE + agent_idx
    ghost = rng.random(n_first) < 0.001
    agents = np.where(ghost, GHOST_AGENT_BASE + rng.integers(0, 40, n_first), agents)
    # refused again: the same contact, another agent, 0 to a few minutes later
    again = rng.choice(n_first, n_again, replace=False)
    delay = np.where(rng.random(n_again) < 0.2, 0, rng.exponential(45, n_again).astype(np.int64))
    again_times = np.minimum(times[again] + delay, year_end - 1)
    again_agents = AGENT_BASE + (agent_idx[again] + rng.integers(1, N_AGENTS, n_again)) % N_AGENTS
    times = np.concatenate([times, again_times]).astype(np.int64)
    contacts = np.concatenate([contacts, contacts[again]])
    agents = np.concatenate([agents, again_agents]).astype(np.int64)
    stations = rng.integers(STATION_BASE, STATION_BASE + N_STATIONS, n, dtype=np.int64)
    no_station = rng.random(n) < 0.05
    pool = list(REASONS)
    w = np.array(list(REASONS.values()))
    reasons = rng.choice(len(pool), n, p=w / w.sum())
    # shuffle, then sort by time: ties keep a random order (only refuse_time is sorted)
    order = rng.permutation(n)
    order = order[np.argsort(times[order], kind="stable")]
    times, contacts, agents = times[order], contacts[order], agents[order]
    stations, no_station, reasons = stations[order], no_station[order], reasons[order]
    month_starts = [local_instant(dt.date(YEAR, m, 1)) for m in range(1, 13)] + [year_end]
    cut = np.searchsorted(times, month_starts)
    os.makedirs(os.path.join(out_dir, "refusals"), exist_ok=True)
    for m in range(12):
        lo, hi = cut[m], cut[m + 1]
        pq.write_table(pa.table({
            "contact_id": contacts[lo:hi],
            "agent_id": agents[lo:hi],
            "station_id": pa.array(stations[lo:hi], mask=no_station[lo:hi]),
            "reason": string_column(reasons[lo:hi], pool),
            "refuse_time": pa.array(times[lo:hi] * 1_000_000, pa.timestamp("us", tz="UTC")),
        }), os.path.join(out_dir, "refusals", f"{YEAR}-{m + 1:02d}.parquet"), row_group_size=128 * 1024)
    return n_contacts


def main():
    ap = argparse.ArgumentParser(description="Write the scale benchmark's data set (Parquet).")
    ap.add_argument("out", help="output folder (created if missing)")
    ap.add_argument("--refusals", type=int, default=10_000_000,
                    help="refusal events over the year (default 10,000,000); contacts are 4x")
    ap.add_argument("--seed", type=int, default=20260308)
    a = ap.parse_args()
    if a.refusals < 1:
        sys.exit("gen_data.py: --refusals must be at least 1")
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)
    write_agents(rng, os.path.join(a.out, "agents.parquet"))
    write_stations(os.path.join(a.out, "stations.parquet"))
    n_contacts = write_refusals(rng, a.refusals, a.out)
    write_contacts(rng, n_contacts, os.path.join(a.out, "contacts.parquet"))
    print(f"wrote {a.refusals} refusals, {n_contacts} contacts, {N_AGENTS} agents and "
          f"{N_STATIONS} stations to {a.out}")


if __name__ == "__main__":
    main()
