"""Checks of the numbers a job is given, in one place, each problem in the words of the
command line: ratios, capacities, counts of workers, segments and items per file.

A number must be finite (``nan`` and ``inf`` are refused), and within its range.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from typing import Any, TypeVar

from ddbpipe.sessions import AnySession, session_credentials, session_region

__all__ = [
    "MAX_DASK_WORKERS",
    "MAX_WORKERS",
    "bind_session",
    "count_problems",
    "dask_problems",
    "default_workers",
    "pacing_problems",
    "positive_problems",
]

MAX_WORKERS = 256
MAX_DASK_WORKERS = 100_000
"""With a Dask cluster, ``workers`` counts the tasks that run at once."""
_MAX_RATIO = 1.5
_DEFAULT_WORKERS_CAP = 8


def default_workers() -> int:
    """One worker per core, at most eight."""
    return min(os.cpu_count() or 1, _DEFAULT_WORKERS_CAP)


def positive_problems(name: str, value: float | None) -> list[str]:
    """``value`` (when given) must be a finite number above zero."""
    if value is None or (math.isfinite(value) and value > 0):
        return []
    return [f"{name} must be a number above 0, got {value}"]


def count_problems(name: str, value: int | None, low: int, high: int) -> list[str]:
    """``value`` (when given) must be a whole number from ``low`` to ``high``."""
    if value is None or low <= value <= high:
        return []
    return [f"{name} must be {low:,} to {high:,}, got {value}"]


def pacing_problems(
    kind: str,
    ratio: float | None,
    workers: int | None,
    max_units: float | None,
    *,
    dask: str | None = None,
) -> list[str]:
    """What is wrong with a job's capacity ratio, worker count and capacity override;
    ``kind`` is "read" or "write"; on a Dask cluster (``dask``) more workers are allowed."""
    problems = []
    if ratio is not None and not (math.isfinite(ratio) and 0 < ratio <= _MAX_RATIO):
        problems.append(f"{kind} ratio must be above 0 and at most {_MAX_RATIO}, got {ratio}")
    problems += count_problems(
        "workers", workers, 1, MAX_WORKERS if dask is None else MAX_DASK_WORKERS
    )
    problems += positive_problems(f"max {'RCU' if kind == 'read' else 'WCU'}", max_units)
    return problems


def dask_problems(dask: str | None, *credentials: object) -> list[str]:
    """What is wrong with running on the Dask scheduler at ``dask``: an empty address,
    or credentials of the caller's (a session's, passed in ``credentials``), which are
    never sent to workers."""
    if dask is None:
        return []
    problems = []
    if not dask.strip():
        problems.append("the Dask scheduler address is empty")
    if any(c is not None for c in credentials):
        problems.append(
            "a job on a Dask cluster cannot use the caller's session or credentials: its "
            "workers use their own (instance role, environment, profile)"
        )
    return problems


C = TypeVar("C")


def bind_session(config: C, session: AnySession | None) -> C:
    """``config`` (with ``dynamo`` and ``store`` fields) made to use ``session``: its
    credentials, and its region where none is set. Workers get the credentials, as a
    session cannot cross into another process."""
    if session is None:
        return config
    credentials = session_credentials(session)
    region = session_region(session)
    settings: Any = config
    dynamo = replace(
        settings.dynamo, credentials=credentials, region=settings.dynamo.region or region
    )
    store = replace(settings.store, credentials=credentials, region=settings.store.region or region)
    return replace(settings, dynamo=dynamo, store=store)  # type: ignore[no-any-return]
