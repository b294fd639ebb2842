"""Token buckets per caller and operation, on an injected clock."""

from __future__ import annotations

import pytest

from ddbpipe.errors import ConfigError
from ddbpipe.server.errors import ApiError, ErrorCode
from ddbpipe.server.rate_limits import (
    DEFAULT_RATE_LIMITS,
    Limit,
    RateLimiter,
    parse_rate_limits,
)
from ddbpipe.server.shapes import operation_names


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def calls_allowed(limiter: RateLimiter, caller: str, operation: str, tries: int) -> int:
    allowed, refusals = 0, []
    for _ in range(tries):
        try:
            limiter.take(caller, operation)
        except ApiError as error:
            refusals.append((error.error_code, error.message))
        else:
            allowed += 1
    assert set(refusals) <= {(ErrorCode.THROTTLING, "Rate exceeded")}
    return allowed


def test_the_service_limits_are_the_defaults() -> None:
    assert DEFAULT_RATE_LIMITS.limit("ListPipelines") == Limit(1.0, 100)
    assert DEFAULT_RATE_LIMITS.limit("PollForTask") == Limit(2.0, 100)
    assert DEFAULT_RATE_LIMITS.limit("QueryObjects") == Limit(2.0, 100)
    assert DEFAULT_RATE_LIMITS.limit("DescribeObjects") == Limit(2.0, 100)
    assert DEFAULT_RATE_LIMITS.limit("ReportTaskProgress") == Limit(10.0, 100)
    assert DEFAULT_RATE_LIMITS.limit("SetTaskStatus") == Limit(10.0, 100)


def test_burst_then_the_steady_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(DEFAULT_RATE_LIMITS, clock)
    assert calls_allowed(limiter, "alice", "ListPipelines", 150) == 100
    clock.now += 5
    assert calls_allowed(limiter, "alice", "ListPipelines", 10) == 5
    clock.now += 1
    assert calls_allowed(limiter, "alice", "SetTaskStatus", 200) == 100
    clock.now += 1
    assert calls_allowed(limiter, "alice", "SetTaskStatus", 20) == 10


def test_the_bucket_holds_no_more_than_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(parse_rate_limits(["ListPipelines=1/3"], operation_names()), clock)
    calls_allowed(limiter, "alice", "ListPipelines", 1)
    clock.now += 3600
    assert calls_allowed(limiter, "alice", "ListPipelines", 10) == 3


def test_callers_and_operations_have_their_own_buckets() -> None:
    clock = Clock()
    limiter = RateLimiter(parse_rate_limits(["*=1/2"], operation_names()), clock)
    assert calls_allowed(limiter, "alice", "ListPipelines", 5) == 2
    assert calls_allowed(limiter, "bob", "ListPipelines", 5) == 2
    assert calls_allowed(limiter, "alice", "CreatePipeline", 5) == 2


def test_a_clock_that_goes_back_refills_nothing() -> None:
    clock = Clock()
    limiter = RateLimiter(parse_rate_limits(["ListPipelines=1/1"], operation_names()), clock)
    assert calls_allowed(limiter, "alice", "ListPipelines", 1) == 1
    clock.now -= 100
    assert calls_allowed(limiter, "alice", "ListPipelines", 1) == 0


def test_specs() -> None:
    limits = parse_rate_limits(
        ["ListPipelines=5/20", "PollForTask=4", "*=0.5/7"], operation_names()
    )
    assert limits.limit("ListPipelines") == Limit(5.0, 20)
    assert limits.limit("PollForTask") == Limit(4.0, 100)
    assert limits.limit("CreatePipeline") == Limit(0.5, 7)
    assert limits.limit("SetTaskStatus") == Limit(10.0, 100)


def test_off_turns_limiting_off() -> None:
    limiter = RateLimiter(parse_rate_limits(["off"], operation_names()), Clock())
    assert calls_allowed(limiter, "alice", "ListPipelines", 500) == 500


def test_bad_specs_are_all_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rate_limits(
            ["Nope=1/1", "ListPipelines=0/5", "ListPipelines", "PollForTask=1/x"],
            operation_names(),
        )
    assert len(caught.value.problems) == 4
