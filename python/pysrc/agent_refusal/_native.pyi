"""Type hints of the extension module (Rust, pyo3); use the functions of ``agent_refusal``."""

from __future__ import annotations

from typing import Any

class AgentRefusalError(ValueError):
    """An error of the report: its message is the one line the CLI prints."""

class ScalarFunction:
    """A scalar function of the report, for ``SessionContext.register_udf(udf(...))``."""

    @property
    def name(self) -> str: ...
    def __datafusion_scalar_udf__(self) -> object: ...

class RefusalReasons:
    """The ``refusal_reasons`` table, for ``SessionContext.register_table(...)``."""

    def __init__(self) -> None: ...
    def __datafusion_table_provider__(self, session: Any) -> object: ...

class Settings:
    """The ``agent_refusal.*`` settings, for ``SessionConfig.with_extension(...)``."""

    def __init__(self, **values: str) -> None: ...
    def __datafusion_extension_options__(self) -> object: ...

def scalar_functions() -> list[ScalarFunction]: ...
def report_sql(session: Any, args: list[Any]) -> str: ...
def tuned_settings() -> list[tuple[str, str]]: ...
def export(
    data: Any,
    path: str,
    format: str | None = None,
    headers: bool = True,
    append_date: bool = False,
    time_zone: str | None = None,
    excel_safe: bool = False,
) -> tuple[str, int]: ...
def datafusion_major() -> int: ...
