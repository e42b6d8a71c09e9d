"""NICE CXone's Agent Refusal report for DataFusion pipelines in Python.

Over the ``datafusion`` package from PyPI (55.x)::

    from datafusion import SessionContext
    import agent_refusal

    ctx = SessionContext(agent_refusal.session_config())
    agent_refusal.register(ctx)
    ctx.register_parquet("refusals", "data/refusals.parquet")   # contacts, agents likewise
    df = ctx.sql("SELECT * FROM agent_refusal('2026-03-01', '2026-03-31', '00:00', '23:59', 'America/New_York')")
    agent_refusal.export(df, "march.xlsx")

``register`` adds the ``agent_refusal(...)`` table function, the ``refusal_reason`` and
``refusal_reason_text`` functions and the ``refusal_reasons`` table. The report's query is written
by the same Rust code as the ``agent-refusal`` CLI's and runs in your session, over your tables:
the same rows, types and order.
"""

from __future__ import annotations

import os
import pathlib
import threading
from typing import Any

import datafusion
import pyarrow as pa
from datafusion import DataFrame, SessionConfig, SessionContext, udf, udtf

from . import _native
from ._native import AgentRefusalError

__all__ = [
    "AgentRefusalError",
    "DATAFUSION_MAJOR",
    "export",
    "register",
    "report",
    "report_sql",
    "session_config",
]

DATAFUSION_MAJOR: int = _native.datafusion_major()
"""The DataFusion major version this package was built for; ``datafusion`` must have the same."""


def _check_datafusion() -> None:
    version = getattr(datafusion, "__version__", "")
    major = version.split(".", 1)[0]
    if major != str(DATAFUSION_MAJOR):
        raise ImportError(
            f"agent_refusal needs datafusion {DATAFUSION_MAJOR}.x (its FFI layouts differ between "
            f"majors), but datafusion {version or '(unknown version)'} is installed: "
            f'pip install "datafusion=={DATAFUSION_MAJOR}.*"'
        )


_check_datafusion()


def session_config(**settings: str) -> SessionConfig:
    """A ``datafusion.SessionConfig`` for the report.

    It carries the ``agent_refusal.*`` settings (so that ``SET agent_refusal.time_zone = ...``
    works in the session), the information schema (``SHOW agent_refusal.time_zone``) and the
    ``datafusion.*`` values the CLI tunes for the report (batch size, join strategy).

    Args:
        settings: initial ``agent_refusal.*`` values by short name, as ``SET`` takes them, for
            example ``time_zone="America/New_York"``, ``ignore_dst="true"``,
            ``refusals_table="events"``.

    Raises:
        AgentRefusalError: a setting that does not exist or a value it does not take.
    """
    tuned = dict(_native.tuned_settings())
    tuned["datafusion.catalog.information_schema"] = "true"
    values = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in settings.items()}
    return SessionConfig(tuned).with_extension(_native.Settings(**values))


def register(ctx: SessionContext) -> None:
    """Registers the report on ``ctx``.

    Adds the table function ``agent_refusal(...)`` (every form of the Rust crate: a preset,
    2, 4 or 5 arguments), the scalar functions ``refusal_reason`` and ``refusal_reason_text``,
    and the ``refusal_reasons`` table. The report reads the tables ``refusals``, ``contacts``
    and ``agents`` (or those the ``agent_refusal.*_table`` settings name) when a query uses it.
    Calling it again is harmless.
    """
    if not isinstance(ctx, SessionContext):
        raise TypeError(f"register() takes a datafusion.SessionContext, got {type(ctx).__name__}")
    for function in _native.scalar_functions():
        ctx.register_udf(udf(function))
    ctx.register_udtf(udtf(_agent_refusal, "agent_refusal", with_session=True))
    if ctx.table_exist("refusal_reasons"):
        ctx.deregister_table("refusal_reasons")
    ctx.register_table("refusal_reasons", _native.RefusalReasons())


def report_sql(ctx: SessionContext, *args: Any) -> str:
    """The report's query for ``agent_refusal(*args)`` over the tables of ``ctx``.

    ``args`` are what ``agent_refusal(...)`` takes in SQL: text such as ``"2026-03-01"``,
    ``"yesterday"`` or ``"America/New_York"``, ``datetime.date`` or ``datetime.time`` values.
    The settings of ``ctx`` and its tables' column types shape the query, as in Rust.

    Raises:
        AgentRefusalError: a bad date, time, zone or preset, a missing table or column.
    """
    return _native.report_sql(ctx, [_argument(a) for a in args])


def report(ctx: SessionContext, *args: Any) -> DataFrame:
    """The report as a DataFrame: ``ctx.sql("SELECT * FROM agent_refusal(...)")`` with the
    same ``args``, whose errors are raised as :class:`AgentRefusalError` with the CLI's one-line
    message (errors inside ``ctx.sql`` reach Python wrapped by datafusion)."""
    return ctx.sql(report_sql(ctx, *args))


def export(
    data: Any,
    path: str | os.PathLike[str],
    format: str | None = None,
    headers: bool = True,
    append_date: bool = False,
    time_zone: str | None = None,
    excel_safe: bool = False,
) -> pathlib.Path:
    """Writes ``data`` to a file with the CLI's writers, atomically.

    Args:
        data: a ``datafusion.DataFrame``, or anything with ``__arrow_c_stream__`` (a pyarrow
            Table or RecordBatchReader, for example). It is streamed, never held whole.
        path: the file to write. It is written beside its target and renamed over it when
            complete: on an error or a Ctrl-C an existing file keeps its content.
        format: ``csv``, ``tab`` (``tsv``), ``xml``, ``xlsx``, ``parquet``, ``json`` or ``ndjson``
            (``jsonl``); ``None`` takes it from the extension (``.txt`` is tab), else CSV.
        headers: write the header row (CSV and tab).
        append_date: add today's date to the file name (``march_20260401.csv``).
        time_zone: the zone whose today ``append_date`` uses (default UTC).
        excel_safe: prefix cells that Excel would read as a formula with ``'`` (CSV and tab).

    Returns:
        The path written.

    Raises:
        AgentRefusalError: an unknown format, a path that cannot be written (one line naming it).
    """
    if isinstance(data, DataFrame) or hasattr(data, "__arrow_c_stream__"):
        source = data
    else:
        raise TypeError(
            f"export() takes a datafusion.DataFrame or an Arrow stream, got {type(data).__name__}"
        )
    written, _rows = _native.export(
        source, os.fspath(path), format, bool(headers), bool(append_date), time_zone, bool(excel_safe)
    )
    return pathlib.Path(written)


def _argument(value: Any) -> Any:
    """An ``agent_refusal(...)`` argument for the native side: a one-value Arrow array."""
    # In the table function, datafusion passes expressions (`datafusion.Expr` or its raw form).
    if hasattr(value, "python_value"):
        try:
            scalar = value.python_value()
        except Exception:  # not a constant: the native side names it in its error
            return value.canonical_name() if hasattr(value, "canonical_name") else str(value)
        return pa.array([scalar], type=scalar.type)
    return pa.array([value])


def _agent_refusal(*args: Any, session: SessionContext) -> DataFrame:
    """The ``agent_refusal(...)`` table function: the report's query, run in the caller's session.

    datafusion calls it while planning, inside its own runtime, where the session cannot plan or
    look up tables; a helper thread can (and the calling thread waits for it).
    """
    outcome: dict[str, Any] = {}

    def plan() -> None:
        try:
            outcome["df"] = session.sql(_native.report_sql(session, [_argument(a) for a in args]))
        except BaseException as e:  # a Rust panic arrives as a BaseException
            outcome["error"] = e

    helper = threading.Thread(target=plan, name="agent_refusal")
    helper.start()
    helper.join()
    error = outcome.get("error")
    if isinstance(error, AgentRefusalError):
        # A fresh exception: datafusion puts its traceback into the message it raises.
        raise AgentRefusalError(str(error)) from None
    if error is not None:
        raise error
    return outcome["df"]
