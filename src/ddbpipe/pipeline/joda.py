"""Joda-Time ``DateTimeFormat`` patterns, the date formats of ``format(DateTime, String)``.

Every ASCII letter is a pattern letter; a run of the same letter is one field and its
length picks the form (the Joda rules, English names, UTC):

=====  ==========================  =============================================
G      era                         ``AD``
C      century of era              number
Y y x  year of era, year, weekyear ``yy`` two digits, else at least N digits
w      week of weekyear (ISO)      number
e E    day of week                 ``e`` number 1-7 (Monday 1); ``E`` ``Tue``,
                                   ``EEEE`` ``Tuesday``
D d    day of year, day of month   number
M      month of year               ``M``/``MM`` number, ``MMM`` ``Jul``,
                                   ``MMMM`` ``July``
a      halfday                     ``AM`` / ``PM``
K h    hour of halfday 0-11, 1-12  number
H k    hour of day 0-23, 1-24      number
m s    minute, second              number
S      fraction of second          exactly N digits of the milliseconds
z      time zone name              ``UTC``; ``zzzz`` ``Coordinated Universal Time``
Z      time zone offset            ``+0000``; ``ZZ`` ``+00:00``; ``ZZZ`` ``UTC``
=====  ==========================  =============================================

A number field pads to N digits. Text between single quotes is copied, ``''`` is a
quote, and any other character is copied as it is. Letters Joda does not define are
an error, as in Joda (``Illegal pattern component``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime

from ddbpipe.pipeline.timefmt import TimeValueError

__all__ = ["format_joda", "parse_joda_pattern"]

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

Printer = Callable[[datetime], str]


def format_joda(value: datetime, pattern: str) -> str:
    """``value`` (converted to UTC) printed with the Joda-Time ``pattern``.

    Raises ``TimeValueError`` for an empty pattern or a letter Joda does not define.
    """
    utc = value.astimezone(UTC)
    return "".join(printer(utc) for printer in parse_joda_pattern(pattern))


@functools.lru_cache(maxsize=256)
def parse_joda_pattern(pattern: str) -> tuple[Printer, ...]:
    """The printers of ``pattern``, one per field or literal, in order."""
    if not pattern:
        raise TimeValueError("Invalid pattern specification: the date format is empty")
    printers: list[Printer] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if _is_letter(char):
            end = index
            while end < len(pattern) and pattern[end] == char:
                end += 1
            printers.append(_field_printer(char, end - index, pattern[index:end]))
        else:
            end, literal = _literal(pattern, index)
            printers.append(functools.partial(_constant, literal))
        index = end
    return tuple(printers)


def _is_letter(char: str) -> bool:
    return "A" <= char <= "Z" or "a" <= char <= "z"


def _literal(pattern: str, start: int) -> tuple[int, str]:
    """Text from ``start`` up to the next unquoted letter; ``'…'`` quotes, ``''`` is ``'``."""
    out: list[str] = []
    quoted = False
    index = start
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            if index + 1 < len(pattern) and pattern[index + 1] == "'":
                out.append("'")
                index += 2
                continue
            quoted = not quoted
        elif not quoted and _is_letter(char):
            break
        else:
            out.append(char)
        index += 1
    return index, "".join(out)


def _constant(text: str, _value: datetime) -> str:
    return text


def _number(getter: Callable[[datetime], int], width: int) -> Printer:
    return lambda value: str(getter(value)).zfill(width)


def _field_printer(letter: str, count: int, token: str) -> Printer:
    if letter in "yYx":
        return _year_printer(letter, count)
    text = _TEXT_FIELDS.get(letter)
    if text is not None:
        return text(count)
    getter = _NUMBER_FIELDS.get(letter)
    if getter is not None:
        return _number(getter, count)
    if letter == "M":
        if count >= 4:
            return lambda value: _MONTHS[value.month - 1]
        if count == 3:
            return lambda value: _MONTHS[value.month - 1][:3]
        return _number(lambda value: value.month, count)
    if letter == "S":
        return lambda value: f"{value.microsecond // 1000:03d}".ljust(count, "0")[:count]
    raise TimeValueError(f"Illegal pattern component: {token}")


def _year_printer(letter: str, count: int) -> Printer:
    def year(value: datetime) -> int:
        return value.isocalendar().year if letter == "x" else value.year

    if count == 2:
        return lambda value: f"{year(value) % 100:02d}"
    return _number(year, count)


def _zone_name(count: int) -> Printer:
    name = "Coordinated Universal Time" if count >= 4 else "UTC"
    return functools.partial(_constant, name)


def _zone_offset(count: int) -> Printer:
    return functools.partial(_constant, ("+0000", "+00:00")[count - 1] if count <= 2 else "UTC")


_TEXT_FIELDS: dict[str, Callable[[int], Printer]] = {
    "G": lambda _count: functools.partial(_constant, "AD"),
    "E": lambda count: (
        (lambda value: _DAYS[value.weekday()])
        if count >= 4
        else (lambda value: _DAYS[value.weekday()][:3])
    ),
    "a": lambda _count: lambda value: "AM" if value.hour < 12 else "PM",
    "z": _zone_name,
    "Z": _zone_offset,
}

_NUMBER_FIELDS: dict[str, Callable[[datetime], int]] = {
    "C": lambda value: value.year // 100,
    "w": lambda value: value.isocalendar().week,
    "e": lambda value: value.isoweekday(),
    "D": lambda value: value.timetuple().tm_yday,
    "d": lambda value: value.day,
    "K": lambda value: value.hour % 12,
    "h": lambda value: value.hour % 12 or 12,
    "H": lambda value: value.hour,
    "k": lambda value: value.hour or 24,
    "m": lambda value: value.minute,
    "s": lambda value: value.second,
}
