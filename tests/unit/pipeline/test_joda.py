"""Joda-Time DateTimeFormat patterns, checked against a table written from the Joda docs.

Reference dates: Tuesday 2011-05-24 17:10:00 UTC (the Developer Guide's ``myDateTime``),
Monday 2026-11-30 14:05:00, and Friday 2021-01-01 (ISO week 53 of weekyear 2020).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddbpipe.pipeline.joda import format_joda
from ddbpipe.pipeline.timefmt import TimeValueError, format_datetime

MAY = datetime(2011, 5, 24, 17, 10, 0, tzinfo=UTC)
NOV = datetime(2026, 11, 30, 14, 5, 0, tzinfo=UTC)
NEW_YEAR = datetime(2021, 1, 1, 0, 0, 7, 978_000, tzinfo=UTC)
NOON = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

CASES = [
    # The templates' folder name and the Developer Guide's examples.
    (NOV, "YYYY-MM-dd-HH-mm-ss", "2026-11-30-14-05-00"),
    (MAY, "YYYY-MM-dd HH:mm:ss z", "2011-05-24 17:10:00 UTC"),
    (MAY, "YYYY-MM-dd hh:mm:ss", "2011-05-24 05:10:00"),
    (MAY, "yyyy-MM-dd'T'HH:mm:ss", "2011-05-24T17:10:00"),
    # Years: yy is the year of the century, otherwise at least N digits.
    (MAY, "yy", "11"),
    (MAY, "YY", "11"),
    (MAY, "y", "2011"),
    (MAY, "yyyyy", "02011"),
    (MAY, "YYYYYY", "002011"),
    (datetime(2005, 1, 1, tzinfo=UTC), "yy", "05"),
    # Months: one or two letters a number, three the short name, four the full name.
    (NOV, "M", "11"),
    (MAY, "M", "5"),
    (MAY, "MM", "05"),
    (NOV, "MMM", "Nov"),
    (NOV, "MMMM", "November"),
    (NOV, "MMMMMM", "November"),
    # Days.
    (NOON, "d", "5"),
    (NOON, "dd", "05"),
    (NOON, "D", "5"),
    (NOON, "DDD", "005"),
    (MAY, "D", "144"),
    (NOV, "E", "Mon"),
    (NOV, "EEE", "Mon"),
    (NOV, "EEEE", "Monday"),
    (NOV, "e", "1"),
    (MAY, "e", "2"),
    (datetime(2026, 11, 29, tzinfo=UTC), "e", "7"),
    # Week years (ISO): 2021-01-01 is in week 53 of 2020.
    (NEW_YEAR, "xxxx", "2020"),
    (NEW_YEAR, "xx", "20"),
    (NEW_YEAR, "w", "53"),
    (NOV, "ww", "49"),
    # Hours of the day and of the half day.
    (MAY, "H", "17"),
    (MAY, "h", "5"),
    (MAY, "hh", "05"),
    (MAY, "K", "5"),
    (MAY, "k", "17"),
    (MAY, "a", "PM"),
    (NEW_YEAR, "a", "AM"),
    (NEW_YEAR, "H", "0"),
    (NEW_YEAR, "k", "24"),
    (NEW_YEAR, "h", "12"),
    (NEW_YEAR, "K", "0"),
    (NOON, "h a", "12 PM"),
    (NOON, "K", "0"),
    # Minutes, seconds, fractions (exactly N digits of the milliseconds).
    (NEW_YEAR, "m:s", "0:7"),
    (NEW_YEAR, "mm:ss", "00:07"),
    (NEW_YEAR, "S", "9"),
    (NEW_YEAR, "SS", "97"),
    (NEW_YEAR, "SSS", "978"),
    (NEW_YEAR, "SSSS", "9780"),
    (MAY, "SSS", "000"),
    # Era and century.
    (MAY, "G", "AD"),
    (MAY, "GGGG", "AD"),
    (MAY, "C", "20"),
    (datetime(1999, 1, 1, tzinfo=UTC), "CC", "19"),
    # Zone: pipelines are UTC.
    (MAY, "z", "UTC"),
    (MAY, "zzz", "UTC"),
    (MAY, "zzzz", "Coordinated Universal Time"),
    (MAY, "Z", "+0000"),
    (MAY, "ZZ", "+00:00"),
    (MAY, "ZZZ", "UTC"),
    # Literal text: quotes, doubled quotes, and non-letters copied as they are.
    (MAY, "'at' HH", "at 17"),
    (MAY, "HH 'h'", "17 h"),
    (MAY, "''", "'"),
    (MAY, "'o''clock'", "o'clock"),
    (MAY, "HH''mm", "17'10"),
    (MAY, "HH:mm.ss#@ ", "17:10.00#@ "),
    (MAY, "yyyy/MM/dd", "2011/05/24"),
    (MAY, "'yyyy'", "yyyy"),
    (MAY, "'unclosed", "unclosed"),
]


@pytest.mark.parametrize(("value", "pattern", "expected"), CASES)
def test_pattern_table(value: datetime, pattern: str, expected: str) -> None:
    assert format_joda(value, pattern) == expected


@pytest.mark.parametrize("pattern", ["T", "yyyy-MM-ddTHH", "q", "J", "b", "u", "W", "F", "X"])
def test_letters_joda_does_not_define_are_errors(pattern: str) -> None:
    with pytest.raises(TimeValueError, match="Illegal pattern component"):
        format_joda(MAY, pattern)


def test_an_empty_pattern_is_an_error() -> None:
    with pytest.raises(TimeValueError, match="Invalid pattern"):
        format_joda(MAY, "")


def test_a_time_in_another_zone_is_printed_in_utc() -> None:
    other = MAY.astimezone()
    assert format_joda(other, "HH:mm z") == "17:10 UTC"


TIMES = st.datetimes(
    min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)


@given(TIMES)
def test_template_folder_pattern_matches_strftime(value: datetime) -> None:
    assert format_joda(value, "YYYY-MM-dd-HH-mm-ss") == value.strftime("%Y-%m-%d-%H-%M-%S")


@given(TIMES)
def test_iso_pattern_matches_the_datetime_text(value: datetime) -> None:
    assert format_joda(value, "yyyy-MM-dd'T'HH:mm:ss") == format_datetime(value)


@given(TIMES)
def test_names_and_week_fields_match_the_calendar(value: datetime) -> None:
    iso = value.isocalendar()
    assert format_joda(value, "EEEE MMMM") == value.strftime("%A %B")
    assert format_joda(value, "x w e") == f"{iso.year} {iso.week} {iso.weekday}"
    assert format_joda(value, "D hh a") == (
        f"{value.timetuple().tm_yday} {value.strftime('%I')} {value.strftime('%p')}"
    )
