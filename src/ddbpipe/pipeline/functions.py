"""The values and the functions of the ``#{…}`` expression language.

A value is a string, a whole number (``int``), a decimal number (``decimal.Decimal``;
never ``float``), a DateTime (a UTC ``datetime``) or a list of those. Functions take
and give single values; the evaluator maps them over lists.

The functions are the Developer Guide's date and time functions: ``format``,
``makeDate``, ``makeDateTime``, ``plus``/``minus`` ``Minutes``, ``Hours``, ``Days``,
``Weeks``, ``Months``, ``Years``, ``midnight``, ``sunday``, ``yesterday``,
``firstOfMonth``, ``day``, ``dayOfYear``, ``hour``, ``minute``, ``month``, ``year``.
Arguments are converted the way a definition writes them: a DateTime may be given as
its ``YYYY-MM-DDTHH:MM:SS`` text and a whole number as its digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeAlias

from ddbpipe.pipeline.joda import format_joda
from ddbpipe.pipeline.timefmt import (
    Period,
    PeriodUnit,
    TimeValueError,
    format_datetime,
    parse_datetime,
)

__all__ = [
    "FUNCTIONS",
    "Function",
    "FunctionError",
    "Scalar",
    "Value",
    "to_text",
]

Scalar: TypeAlias = str | int | Decimal | datetime
Value: TypeAlias = Scalar | tuple[Scalar, ...]

_WHOLE = re.compile(r"[+-]?[0-9]+")


class FunctionError(Exception):
    """A function was given a value it cannot use; the message says which and why."""


def to_text(value: Scalar) -> str:
    """How a value reads inside a string: DateTimes as ``YYYY-MM-DDTHH:MM:SS``, decimals
    in plain notation (``0.25``, never ``2.5E-1``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _as_datetime(value: Scalar, function: str) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except TimeValueError:
            pass
    raise FunctionError(f"{function}() needs a DateTime, not {_describe(value)}")


def _as_int(value: Scalar, function: str) -> int:
    if isinstance(value, bool):
        raise FunctionError(f"{function}() needs a whole number, not {_describe(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        return int(value)
    raise FunctionError(f"{function}() needs a whole number, not {_describe(value)}")


def _as_str(value: Scalar, function: str) -> str:
    if isinstance(value, str):
        return value
    raise FunctionError(f"{function}() needs a string, not {_describe(value)}")


def _describe(value: Scalar) -> str:
    if isinstance(value, datetime):
        return f"the DateTime {format_datetime(value)}"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"the number {to_text(value)}"


@dataclass(frozen=True)
class Function:
    """A function of the expression language: its name, argument kinds and body.

    ``kinds`` has one letter per argument: ``t`` DateTime, ``i`` whole number,
    ``s`` string.
    """

    name: str
    kinds: str
    body: Callable[..., Scalar]

    @property
    def arity(self) -> int:
        """How many arguments the function takes."""
        return len(self.kinds)

    def __call__(self, args: tuple[Scalar, ...]) -> Scalar:
        if len(args) != self.arity:
            raise FunctionError(f"{self.name}() takes {self.arity} arguments, not {len(args)}")
        converted = [
            _CONVERTERS[kind](arg, self.name) for kind, arg in zip(self.kinds, args, strict=True)
        ]
        try:
            return self.body(*converted)
        except (ValueError, OverflowError, TimeValueError) as exc:
            raise FunctionError(f"{self.name}(): {exc}") from None


_CONVERTERS: dict[str, Callable[[Scalar, str], Scalar]] = {
    "t": _as_datetime,
    "i": _as_int,
    "s": _as_str,
}


def _make_date(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def _make_date_time(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _midnight(value: datetime) -> datetime:
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def _sunday(value: datetime) -> datetime:
    # Monday is 0: the previous Sunday is weekday()+1 days back, except on a Sunday.
    return value - timedelta(days=(value.weekday() + 1) % 7)


def _shift(unit: PeriodUnit, sign: int) -> Callable[[datetime, int], datetime]:
    def shift(value: datetime, amount: int) -> datetime:
        return Period(abs(amount), unit).add_to(value, sign if amount >= 0 else -sign)

    return shift


def _build_functions() -> dict[str, Function]:
    table = [
        Function("format", "ts", format_joda),
        Function("makeDate", "iii", _make_date),
        Function("makeDateTime", "iiiii", _make_date_time),
        Function("midnight", "t", _midnight),
        Function("sunday", "t", _sunday),
        Function("yesterday", "t", lambda value: value - timedelta(days=1)),
        Function("firstOfMonth", "t", lambda value: value.replace(day=1)),
        Function("day", "t", lambda value: value.day),
        Function("dayOfYear", "t", lambda value: value.timetuple().tm_yday),
        Function("hour", "t", lambda value: value.hour),
        Function("minute", "t", lambda value: value.minute),
        Function("month", "t", lambda value: value.month),
        Function("year", "t", lambda value: value.year),
    ]
    units: tuple[PeriodUnit, ...] = ("minutes", "hours", "days", "weeks", "months", "years")
    for unit in units:
        suffix = unit.capitalize()
        table.append(Function(f"plus{suffix}", "ti", _shift(unit, 1)))
        table.append(Function(f"minus{suffix}", "ti", _shift(unit, -1)))
    return {function.name: function for function in table}


FUNCTIONS: dict[str, Function] = _build_functions()
