"""When a component's instances are due: the planner, pure and fast.

A component runs

- ``ondemand``: once per activation, at the activation time;
- ``cron``: an instance at the **start** of each interval of its Schedule;
- ``timeseries``: an instance at the **end** of each interval.

Interval ``k`` (from 0) starts at the Schedule's start plus ``k`` periods, counted from
the start each time so that months keep their day (January 31 plus one month is
February 28, plus two is March 31). The start is ``startDateTime``, or the first
activation time for ``startAt: FIRST_ACTIVATION_DATE_TIME``. ``endDateTime`` ends the
schedule (the last interval is the last that starts before it) and ``occurrences``
bounds the number of intervals. Resources are created at the start of their interval
whatever the schedule type.

Every time is UTC with whole seconds. Nothing here reads a clock: ``now`` is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from ddbpipe.pipeline.timefmt import Period

__all__ = [
    "ScheduleKind",
    "ScheduleSpec",
    "due_count",
    "next_run_time",
    "whole_seconds",
]

ScheduleKind = Literal["cron", "timeseries", "ondemand"]

_FIXED_SECONDS = {"minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}


def whole_seconds(value: datetime) -> datetime:
    """``value`` in UTC, its fraction of a second dropped."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class ScheduleSpec:
    """A component's schedule, read from its Schedule object (see the module doc).

    ``start`` is None only for ``ondemand``; ``at_start`` makes a timeseries component
    run at the start of its intervals, as resources do.
    """

    kind: ScheduleKind
    period: Period | None = None
    start: datetime | None = None
    end: datetime | None = None
    occurrences: int | None = None
    at_start: bool = False

    def __post_init__(self) -> None:
        if self.kind != "ondemand" and (self.period is None or self.start is None):
            raise ValueError(f"a {self.kind} schedule needs a period and a start")
        if self.period is not None and self.period.amount < 1:
            raise ValueError("a schedule's period must be at least 1 unit")

    @property
    def runs_at_end(self) -> bool:
        """Whether an instance runs at the end of its interval (timeseries)."""
        return self.kind == "timeseries" and not self.at_start

    def interval(self, index: int) -> tuple[datetime, datetime]:
        """The start and end of interval ``index``."""
        assert self.period is not None
        assert self.start is not None
        return self.period.add_to(self.start, index), self.period.add_to(self.start, index + 1)

    def run_time(self, index: int) -> datetime:
        """When the instance of interval ``index`` is due."""
        start, end = self.interval(index)
        return end if self.runs_at_end else start

    def limit(self) -> int | None:
        """How many intervals the schedule has in all; None when it never ends."""
        counts = []
        if self.occurrences is not None:
            counts.append(self.occurrences)
        if self.end is not None:
            counts.append(self._starting_before(self.end))
        return min(counts) if counts else None

    def _starting_before(self, moment: datetime) -> int:
        """How many intervals start strictly before ``moment``."""
        assert self.start is not None
        if moment <= self.start:
            return 0
        count = self.index_at(moment) + 1
        if self.interval(count - 1)[0] == moment:
            count -= 1
        return count

    def index_at(self, moment: datetime) -> int:
        """The index of the interval running at ``moment`` (the last one starting at or
        before it; ``moment`` is not before the start)."""
        assert self.period is not None
        assert self.start is not None
        unit = self.period.unit
        if unit in _FIXED_SECONDS:
            step = self.period.amount * _FIXED_SECONDS[unit]
            return int((moment - self.start).total_seconds()) // step
        months = self.period.amount * (12 if unit == "years" else 1)
        guess = ((moment.year - self.start.year) * 12 + (moment.month - self.start.month)) // months
        guess = max(guess, 0)
        while guess > 0 and self.interval(guess)[0] > moment:
            guess -= 1
        while self.interval(guess + 1)[0] <= moment:
            guess += 1
        return guess


def due_count(spec: ScheduleSpec, now: datetime) -> int:
    """How many of the schedule's instances are due at ``now``: those of intervals
    ``0 .. n-1``. An on-demand schedule has none; its runs come from activations."""
    if spec.kind == "ondemand":
        return 0
    assert spec.start is not None
    if now < spec.start:
        return 0
    latest = spec.index_at(now)  # the interval that has started by now
    count = latest if spec.runs_at_end else latest + 1
    limit = spec.limit()
    return count if limit is None else min(count, limit)


def next_run_time(spec: ScheduleSpec, now: datetime) -> datetime | None:
    """When the next instance after those due at ``now`` is due; None when the schedule
    has no more (or runs on demand)."""
    if spec.kind == "ondemand":
        return None
    count = due_count(spec, now)
    limit = spec.limit()
    if limit is not None and count >= limit:
        return None
    return spec.run_time(count)
