"""The capacity DynamoDB reported as consumed, request by request, with the time it arrived.

A test that limits an import or export to some capacity per second reads the proxy's log
and asks for the most capacity consumed in any window of a given length.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CapacityRecord:
    """Capacity one DynamoDB response reported for one table."""

    at: float
    """The proxy's clock (monotonic seconds) when the response came back from upstream."""
    operation: str
    table: str
    units: float
    """``CapacityUnits``, or read plus write units when only those are given."""


class CapacityLog:
    """Thread-safe list of ``CapacityRecord`` in the order responses arrived."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._records: list[CapacityRecord] = []

    def add(self, operation: str, entries: Iterable[dict[str, Any]]) -> None:
        """Record the ``ConsumedCapacity`` entries of one response to ``operation``."""
        at = self._clock()
        records = [
            CapacityRecord(at, operation, str(entry.get("TableName", "")), _units(entry))
            for entry in entries
        ]
        with self._lock:
            self._records.extend(records)

    def records(
        self, operation: str | None = None, table: str | None = None
    ) -> tuple[CapacityRecord, ...]:
        """The records so far, only those for ``operation`` and ``table`` when given."""
        with self._lock:
            records = tuple(self._records)
        return tuple(
            record
            for record in records
            if (operation is None or record.operation == operation)
            and (table is None or record.table == table)
        )


def peak_capacity(records: Iterable[CapacityRecord], seconds: float) -> float:
    """The most capacity consumed within any window ``seconds`` long (0 without records).

    A window ``[t, t + seconds)`` holds the records whose time falls inside it; the peak is
    reached by a window that starts at a record, so only those windows are summed.
    """
    if seconds <= 0:
        raise ValueError(f"the window must be longer than 0 seconds, not {seconds!r}")
    ordered = sorted(records, key=lambda record: record.at)
    peak = total = 0.0
    end = 0
    for first in ordered:
        while end < len(ordered) and ordered[end].at < first.at + seconds:
            total += ordered[end].units
            end += 1
        peak = max(peak, total)
        total -= first.units
    return peak


def _units(entry: dict[str, Any]) -> float:
    """The capacity units of one ``ConsumedCapacity`` entry."""
    if entry.get("CapacityUnits") is not None:
        return float(entry["CapacityUnits"])
    return float(entry.get("ReadCapacityUnits") or 0) + float(entry.get("WriteCapacityUnits") or 0)


__all__ = ["CapacityLog", "CapacityRecord", "peak_capacity"]
