"""What the server tests and their fixtures share: the report's columns and the comparison of
rows by instant. (A module of its own: `conftest` is not importable under one name when
several test folders have one.)"""

from __future__ import annotations

from datetime import timezone

# The columns of the report, in order.
COLUMNS = [
    "contact_id",
    "agent_no",
    "full_name",
    "station_id",
    "reason",
    "refuse_time",
    "refusing_agent_id",
]


def normalize(row) -> tuple:
    """`row` (in COLUMNS order) with refuse_time, an aware datetime, moved to UTC: rows then
    compare refuse_time by instant, and a naive datetime fails."""
    refuse_time = row[5]
    assert refuse_time.tzinfo is not None and refuse_time.utcoffset() is not None, (
        f"refuse_time is not time-zone aware: {refuse_time!r}"
    )
    return (*row[:5], refuse_time.astimezone(timezone.utc), *row[6:])
