"""DateTime text and Periods: parsing, text forms, calendar arithmetic, schedule bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddbpipe.errors import ConfigError
from ddbpipe.pipeline.timefmt import (
    Period,
    TimeValueError,
    add_months,
    format_datetime,
    parse_datetime,
)

UTC_TIMES = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31), timezones=st.just(UTC)
).map(lambda value: value.replace(microsecond=0))


def test_datetime_text_parses_to_aware_utc() -> None:
    value = parse_datetime("2012-01-15T23:59:00")
    assert value == datetime(2012, 1, 15, 23, 59, tzinfo=UTC)
    assert value.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "2012-01-15 23:59:00",
        "2012-01-15T23:59",
        "2012-1-15T23:59:00",
        "2012-01-15T23:59:00Z",
        "2012-02-30T00:00:00",
        "2012-01-15T24:00:00",
        "#{makeDate(2011,5,24)}",
        "",
    ],
)
def test_datetime_text_rejects_other_spellings(text: str) -> None:
    with pytest.raises(TimeValueError):
        parse_datetime(text)


def test_time_value_error_is_a_config_error() -> None:
    assert issubclass(TimeValueError, ConfigError)


def test_format_converts_to_utc_and_pads_the_year() -> None:
    plus_two = datetime(2026, 3, 1, 1, 30, tzinfo=UTC).astimezone()
    assert format_datetime(plus_two) == "2026-03-01T01:30:00"
    assert format_datetime(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0999-01-02T03:04:05"


def test_format_refuses_a_naive_datetime() -> None:
    with pytest.raises(TimeValueError):
        format_datetime(datetime(2026, 1, 1))


@given(UTC_TIMES)
def test_datetime_text_round_trips(value: datetime) -> None:
    assert parse_datetime(format_datetime(value)) == value


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("15 minutes", 15, "minutes"),
        ("1 hour", 1, "hours"),
        ("1 hours", 1, "hours"),
        ("1 Day", 1, "days"),
        ("1 day", 1, "days"),
        ("2 WEEKS", 2, "weeks"),
        ("3 months", 3, "months"),
        ("1 year", 1, "years"),
        (" 12 hours ", 12, "hours"),
        ("15 Minutes", 15, "minutes"),
    ],
)
def test_period_parses_singular_plural_any_case(text: str, amount: int, unit: str) -> None:
    period = Period.parse(text)
    assert (period.amount, period.unit) == (amount, unit)


@pytest.mark.parametrize(
    "text", ["", "day", "1", "1.5 days", "-1 day", "1 fortnight", "1 days ago", "ONDEMAND_PERIOD"]
)
def test_period_rejects_other_text(text: str) -> None:
    with pytest.raises(TimeValueError):
        Period.parse(text)


def test_period_text_is_singular_for_one() -> None:
    assert Period(1, "days").text == "1 day"
    assert str(Period(15, "minutes")) == "15 minutes"
    assert Period.parse(Period(3, "years").text) == Period(3, "years")


def test_period_refuses_a_bad_unit_or_amount() -> None:
    with pytest.raises(TimeValueError):
        Period(1, "fortnights")  # type: ignore[arg-type]
    with pytest.raises(TimeValueError):
        Period(-1, "days")


def test_months_clamp_to_the_end_of_the_month_like_joda() -> None:
    end_of_january = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
    assert Period(1, "months").add_to(end_of_january) == datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    assert Period(1, "months").add_to(datetime(2024, 1, 31, tzinfo=UTC)).day == 29
    assert Period(1, "months").subtract_from(datetime(2026, 3, 31, tzinfo=UTC)) == datetime(
        2026, 2, 28, tzinfo=UTC
    )
    assert Period(1, "years").add_to(datetime(2024, 2, 29, tzinfo=UTC)) == datetime(
        2025, 2, 28, tzinfo=UTC
    )


def test_times_multiplies_from_the_start_not_step_by_step() -> None:
    start = datetime(2026, 1, 31, tzinfo=UTC)
    assert Period(1, "months").add_to(start, times=2) == datetime(2026, 3, 31, tzinfo=UTC)


def test_add_months_outside_years_1_to_9999_is_an_error() -> None:
    with pytest.raises(TimeValueError):
        add_months(datetime(9999, 12, 1, tzinfo=UTC), 1)


@given(
    UTC_TIMES,
    st.integers(min_value=0, max_value=5000),
    st.sampled_from(["minutes", "hours", "days", "weeks"]),
)
def test_fixed_periods_are_exact_and_undo(value: datetime, amount: int, unit: str) -> None:
    period = Period(amount, unit)  # type: ignore[arg-type]
    later = period.add_to(value)
    assert later - value == timedelta(**{unit: amount})
    assert period.subtract_from(later) == value


@given(UTC_TIMES, st.integers(min_value=0, max_value=120))
def test_months_keep_the_time_and_undo_when_the_day_exists_everywhere(
    value: datetime, amount: int
) -> None:
    value = value.replace(day=min(value.day, 28))
    later = Period(amount, "months").add_to(value)
    assert later.time() == value.time()
    assert (later.year * 12 + later.month) - (value.year * 12 + value.month) == amount
    assert Period(amount, "months").subtract_from(later) == value


@given(UTC_TIMES, st.integers(min_value=0, max_value=60))
def test_months_never_pass_the_end_of_the_target_month(value: datetime, amount: int) -> None:
    later = Period(amount, "months").add_to(value)
    assert later.day <= value.day
    if later.day < value.day:  # clamped: the last day of its month
        assert (later + timedelta(days=1)).day == 1


@pytest.mark.parametrize(
    ("text", "fits"),
    [
        ("14 minutes", False),
        ("15 minutes", True),
        ("1 hour", True),
        ("1 day", True),
        ("36 months", True),
        ("37 months", False),
        ("3 years", True),
        ("4 years", False),
        ("156 weeks", True),
        ("157 weeks", False),
        ("1096 days", True),
        ("1097 days", False),
        ("0 days", False),
    ],
)
def test_schedule_periods_run_from_15_minutes_to_3_years(text: str, fits: bool) -> None:
    assert Period.parse(text).fits_schedule() is fits


def test_at_least_counts_a_month_as_its_shortest_length() -> None:
    assert Period(1, "months").is_at_least_minutes(28 * 1440)
    assert not Period(1, "months").is_at_least_minutes(29 * 1440)
    assert Period(2, "minutes").is_at_least_minutes(2)
    assert not Period(1, "minutes").is_at_least_minutes(2)
