"""The planner: which instances each schedule has due, and when the next comes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddbpipe.pipeline.schedules import ScheduleSpec, due_count, next_run_time, whole_seconds
from ddbpipe.pipeline.timefmt import Period


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


QUARTER = Period(15, "minutes")


def test_cron_runs_at_the_start_of_each_interval_and_backfills() -> None:
    spec = ScheduleSpec("cron", QUARTER, at("2026-03-02T13:00:00"))
    now = at("2026-03-02T14:07:00")
    assert due_count(spec, now) == 5
    assert [spec.run_time(k) for k in range(5)] == [
        at("2026-03-02T13:00:00"),
        at("2026-03-02T13:15:00"),
        at("2026-03-02T13:30:00"),
        at("2026-03-02T13:45:00"),
        at("2026-03-02T14:00:00"),
    ]
    assert next_run_time(spec, now) == at("2026-03-02T14:15:00")


def test_cron_instance_is_due_exactly_at_its_start() -> None:
    spec = ScheduleSpec("cron", QUARTER, at("2026-03-02T13:00:00"))
    assert due_count(spec, at("2026-03-02T12:59:59")) == 0
    assert due_count(spec, at("2026-03-02T13:00:00")) == 1
    assert due_count(spec, at("2026-03-02T13:14:59")) == 1
    assert due_count(spec, at("2026-03-02T13:15:00")) == 2


def test_timeseries_runs_at_the_end_of_each_interval() -> None:
    # The Developer Guide's example: start 22:00, period 30 minutes, first run 22:30.
    spec = ScheduleSpec("timeseries", Period(30, "minutes"), at("2026-03-02T22:00:00"))
    assert due_count(spec, at("2026-03-02T22:29:59")) == 0
    assert due_count(spec, at("2026-03-02T22:30:00")) == 1
    assert spec.run_time(0) == at("2026-03-02T22:30:00")
    assert spec.interval(0) == (at("2026-03-02T22:00:00"), at("2026-03-02T22:30:00"))
    assert next_run_time(spec, at("2026-03-02T22:10:00")) == at("2026-03-02T22:30:00")


def test_resources_of_a_timeseries_schedule_start_with_their_interval() -> None:
    spec = ScheduleSpec("timeseries", Period(1, "hours"), at("2026-03-02T10:00:00"), at_start=True)
    assert due_count(spec, at("2026-03-02T10:00:00")) == 1
    assert spec.run_time(0) == at("2026-03-02T10:00:00")


def test_occurrences_bound_the_instances() -> None:
    spec = ScheduleSpec("cron", Period(1, "days"), at("2026-01-01T00:00:00"), occurrences=3)
    assert due_count(spec, at("2027-01-01T00:00:00")) == 3
    assert next_run_time(spec, at("2026-01-02T12:00:00")) == at("2026-01-03T00:00:00")
    assert next_run_time(spec, at("2026-01-03T00:00:00")) is None
    assert spec.limit() == 3


def test_end_date_time_ends_the_schedule_before_it() -> None:
    spec = ScheduleSpec(
        "cron", Period(1, "hours"), at("2026-01-01T00:00:00"), end=at("2026-01-01T03:00:00")
    )
    assert spec.limit() == 3  # 00:00, 01:00, 02:00; an interval starting at the end is not one
    assert due_count(spec, at("2026-01-02T00:00:00")) == 3
    assert next_run_time(spec, at("2026-01-01T02:30:00")) is None
    odd = ScheduleSpec(
        "cron", Period(1, "hours"), at("2026-01-01T00:00:00"), end=at("2026-01-01T02:30:00")
    )
    assert odd.limit() == 3


def test_months_keep_the_day_of_the_start_where_they_can() -> None:
    spec = ScheduleSpec("cron", Period(1, "months"), at("2026-01-31T06:00:00"))
    starts = [spec.run_time(k) for k in range(5)]
    assert starts == [
        at("2026-01-31T06:00:00"),
        at("2026-02-28T06:00:00"),
        at("2026-03-31T06:00:00"),
        at("2026-04-30T06:00:00"),
        at("2026-05-31T06:00:00"),
    ]
    assert due_count(spec, at("2026-03-30T23:59:59")) == 2
    assert due_count(spec, at("2026-03-31T06:00:00")) == 3
    monthly_series = ScheduleSpec("timeseries", Period(1, "months"), at("2026-01-31T06:00:00"))
    assert due_count(monthly_series, at("2026-02-28T05:59:59")) == 0
    assert due_count(monthly_series, at("2026-02-28T06:00:00")) == 1


def test_years_and_weeks() -> None:
    yearly = ScheduleSpec("cron", Period(1, "years"), at("2024-02-29T00:00:00"))
    assert yearly.run_time(1) == at("2025-02-28T00:00:00")
    assert yearly.run_time(4) == at("2028-02-29T00:00:00")
    assert due_count(yearly, at("2028-03-01T00:00:00")) == 5
    weekly = ScheduleSpec("cron", Period(2, "weeks"), at("2026-01-05T00:00:00"))
    assert due_count(weekly, at("2026-02-01T00:00:00")) == 2


def test_on_demand_schedules_plan_nothing_themselves() -> None:
    spec = ScheduleSpec("ondemand")
    assert due_count(spec, at("2030-01-01T00:00:00")) == 0
    assert next_run_time(spec, at("2030-01-01T00:00:00")) is None


def test_a_scheduled_kind_needs_a_period_and_a_start() -> None:
    with pytest.raises(ValueError, match="needs a period and a start"):
        ScheduleSpec("cron", QUARTER, None)


def test_times_are_whole_seconds_in_utc() -> None:
    moment = datetime(2026, 1, 1, 12, 0, 0, 999_999, tzinfo=UTC)
    assert whole_seconds(moment) == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert whole_seconds(datetime(2026, 1, 1, 12)) == datetime(2026, 1, 1, 12, tzinfo=UTC)


periods = st.builds(
    Period,
    st.integers(min_value=1, max_value=40),
    st.sampled_from(["minutes", "hours", "days", "weeks", "months", "years"]),
).filter(lambda p: p.fits_schedule())
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
).map(whole_seconds)


@given(
    periods,
    moments,
    st.integers(min_value=0, max_value=60 * 24 * 3000),
    st.sampled_from(["cron", "timeseries"]),
)
def test_exactly_the_instances_whose_run_time_has_come_are_due(
    period: Period, start: datetime, minutes: int, kind: str
) -> None:
    spec = ScheduleSpec(kind, period, start)  # type: ignore[arg-type]
    now = start + timedelta(minutes=minutes)
    count = due_count(spec, now)
    if count:
        assert spec.run_time(count - 1) <= now
    assert spec.run_time(count) > now
    assert next_run_time(spec, now) == spec.run_time(count)


@given(periods, moments, st.integers(min_value=1, max_value=30), moments)
def test_occurrences_never_let_more_instances_be_due(
    period: Period, start: datetime, occurrences: int, now: datetime
) -> None:
    spec = ScheduleSpec("cron", period, start, occurrences=occurrences)
    assert due_count(spec, now) <= occurrences
    later = now + timedelta(days=1)
    assert due_count(spec, later) >= due_count(spec, now)
