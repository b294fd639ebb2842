"""The time values of the pipeline language: DateTime text and Period.

A DateTime is written ``YYYY-MM-DDTHH:MM:SS`` and is always UTC; in Python it is a
timezone-aware ``datetime`` in UTC with no microseconds. A Period is written
``"N unit"`` with unit one of minutes, hours, days, weeks, months or years (singular or
plural, any case): ``"15 minutes"``, ``"1 Day"``, ``"3 hours"``. Months and years move
by the calendar, as Joda-Time does: one month after January 31 is the last day of
February.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from ddbpipe.errors import ConfigError

__all__ = [
    "MAX_SCHEDULE_YEARS",
    "MIN_SCHEDULE_MINUTES",
    "Period",
    "PeriodUnit",
    "TimeValueError",
    "add_months",
    "format_datetime",
    "parse_datetime",
]

PeriodUnit = Literal["minutes", "hours", "days", "weeks", "months", "years"]
_UNITS: tuple[PeriodUnit, ...] = get_args(PeriodUnit)

MIN_SCHEDULE_MINUTES = 15
MAX_SCHEDULE_YEARS = 3

_DATETIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})")
_PERIOD = re.compile(r"\s*([0-9]+)\s+([A-Za-z]+)\s*")
_FIXED_MINUTES: dict[str, int] = {"minutes": 1, "hours": 60, "days": 1440, "weeks": 10080}


class TimeValueError(ConfigError):
    """A DateTime, a Period or a date format pattern that the pipeline language rejects."""


def parse_datetime(text: str) -> datetime:
    """``YYYY-MM-DDTHH:MM:SS`` as a UTC ``datetime``; raises ``TimeValueError`` otherwise."""
    match = _DATETIME.fullmatch(text)
    if match is None:
        raise TimeValueError(f"{text!r} is not a DateTime; write it as YYYY-MM-DDTHH:MM:SS (UTC)")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise TimeValueError(f"{text!r} is not a DateTime: {exc}") from None


def format_datetime(value: datetime) -> str:
    """The ``YYYY-MM-DDTHH:MM:SS`` text of a ``datetime``, converted to UTC first."""
    utc = _as_utc(value)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}"


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise TimeValueError(f"{value!r} has no time zone; pipeline times are UTC")
    return value.astimezone(UTC)


def add_months(value: datetime, months: int) -> datetime:
    """``value`` moved by ``months`` calendar months; a day past the end of the target
    month becomes its last day (Joda-Time's rule)."""
    index = value.year * 12 + (value.month - 1) + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise TimeValueError(
            f"moving {format_datetime(value)} by {months} months leaves years 1-9999"
        )
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return value.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True)
class Period:
    """An amount of one unit of time, such as ``Period(15, "minutes")``."""

    amount: int
    unit: PeriodUnit

    def __post_init__(self) -> None:
        if self.unit not in _UNITS:
            raise TimeValueError(
                f"{self.unit!r} is not a period unit; use one of {', '.join(_UNITS)}"
            )
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 0:
            raise TimeValueError(f"period amount must be a whole number >= 0, not {self.amount!r}")

    @classmethod
    def parse(cls, text: str) -> Period:
        """``"N unit"`` (``"1 day"``, ``"15 Minutes"``); raises ``TimeValueError`` otherwise."""
        match = _PERIOD.fullmatch(text)
        unit = _unit_named(match.group(2)) if match else None
        if match is None or unit is None:
            raise TimeValueError(
                f"{text!r} is not a period; write N minutes, hours, days, weeks, months or years"
            )
        return cls(int(match.group(1)), unit)

    @property
    def text(self) -> str:
        """The period as written in a definition: ``"1 day"``, ``"15 minutes"``."""
        unit = self.unit[:-1] if self.amount == 1 else self.unit
        return f"{self.amount} {unit}"

    def __str__(self) -> str:
        return self.text

    def add_to(self, value: datetime, times: int = 1) -> datetime:
        """``value`` plus ``times`` of this period (``times`` may be negative)."""
        count = self.amount * times
        if self.unit == "months":
            return add_months(value, count)
        if self.unit == "years":
            return add_months(value, 12 * count)
        try:
            return value + timedelta(minutes=_FIXED_MINUTES[self.unit] * count)
        except OverflowError:
            raise TimeValueError(f"{format_datetime(value)} plus {self} is out of range") from None

    def subtract_from(self, value: datetime, times: int = 1) -> datetime:
        """``value`` minus ``times`` of this period."""
        return self.add_to(value, -times)

    def is_at_least_minutes(self, minutes: int) -> bool:
        """Whether the period is never shorter than ``minutes`` (a month counts as its
        shortest length, 28 days; a year as 365 days)."""
        shortest = {"months": 28 * 1440, "years": 365 * 1440}.get(self.unit)
        unit_minutes = shortest if shortest is not None else _FIXED_MINUTES[self.unit]
        return self.amount * unit_minutes >= minutes

    def is_at_most_years(self, years: int) -> bool:
        """Whether the period is never longer than ``years`` calendar years (fixed units
        compare with the longest such span: 365 days a year plus the leap days it can hold)."""
        if self.unit == "years":
            return self.amount <= years
        if self.unit == "months":
            return self.amount <= 12 * years
        longest_days = 365 * years + (years + 3) // 4
        return self.amount * _FIXED_MINUTES[self.unit] <= longest_days * 1440

    def fits_schedule(self) -> bool:
        """Whether a Schedule may use the period: 15 minutes to 3 years."""
        return self.is_at_least_minutes(MIN_SCHEDULE_MINUTES) and self.is_at_most_years(
            MAX_SCHEDULE_YEARS
        )


def _unit_named(word: str) -> PeriodUnit | None:
    lower = word.lower()
    for unit in _UNITS:
        if lower in (unit, unit[:-1]):
            return unit
    return None
