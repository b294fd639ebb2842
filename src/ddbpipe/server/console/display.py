"""How the console shows values: statuses as words with a tone (never colour alone),
times, sizes and counts."""

from __future__ import annotations

from datetime import UTC, datetime

import jinja2

__all__ = ["human_bytes", "human_seconds", "install", "tone"]

_BAD = frozenset(
    {"ERROR", "FAILED", "CASCADE_FAILED", "TIMEDOUT", "CANCELED", "MISMATCH", "DENIED"}
)
_GOOD = frozenset({"FINISHED", "HEALTHY", "MARK_FINISHED", "ACTIVE", "MATCH"})
_BUSY = frozenset(
    {
        "RUNNING",
        "SCHEDULED",
        "WAITING_FOR_RUNNER",
        "WAITING_ON_DEPENDENCIES",
        "ACTIVATING",
        "CREATING",
        "VALIDATING",
        "DEACTIVATING",
        "SHUTTING_DOWN",
    }
)
ACTIVE_STATUSES = _BUSY


def tone(status: str | None) -> str:
    """``bad``, ``good``, ``busy`` or ``idle``: the colour of a status badge."""
    value = (status or "").upper()
    if value in _BAD:
        return "bad"
    if value in _GOOD:
        return "good"
    if value in _BUSY:
        return "busy"
    return "idle"


def human_bytes(size: int | float | None) -> str:
    """``12.3 MB`` (decimal units, as the AWS console shows table sizes)."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1000
    return f"{value:,.1f} TB"


def human_seconds(seconds: float | None) -> str:
    """``1 h 02 min``, ``3 min 05 s``, ``42 s``."""
    if seconds is None:
        return "-"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def _time(value: str | datetime | None) -> str:
    if not value:
        return "-"
    if isinstance(value, datetime):
        moment = value.astimezone(UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    text = str(value).replace("T", " ")
    return f"{text} UTC" if len(text) == 19 else text


def _number(value: int | float | None) -> str:
    return "-" if value is None else f"{value:,}"


def install(env: jinja2.Environment) -> None:
    """Add the console's filters to ``env``."""
    env.filters["tone"] = tone
    env.filters["bytes"] = human_bytes
    env.filters["seconds"] = human_seconds
    env.filters["time"] = _time
    env.filters["number"] = _number
