"""Backoff with jitter, retry budgets, and the shared token bucket."""

from __future__ import annotations

import random

import pytest

from ddbpipe.dynamo.throttle import BucketState, TokenBucket
from ddbpipe.errors import RetriesExhaustedError, ServiceError, ThrottledError
from ddbpipe.retry import RetryPolicy, call_with_retries


def test_retries_until_success_with_capped_jittered_delays() -> None:
    sleeps: list[float] = []
    failures = iter([ThrottledError("slow down")] * 5)

    def call() -> str:
        error = next(failures, None)
        if error:
            raise error
        return "ok"

    policy = RetryPolicy(max_attempts=8, base_delay=0.1, max_delay=0.5)
    assert (
        call_with_retries(call, policy, what="x", sleep=sleeps.append, rng=random.Random(1)) == "ok"
    )
    assert len(sleeps) == 5
    caps = [min(0.5, 0.1 * 2**n) for n in range(5)]
    assert all(0 <= s <= cap for s, cap in zip(sleeps, caps, strict=True))


def test_budget_runs_out_loudly() -> None:
    def call() -> None:
        raise ThrottledError("throttled again")

    with pytest.raises(RetriesExhaustedError, match="Scan of t still failing after 4 attempts"):
        call_with_retries(call, RetryPolicy(max_attempts=4), what="Scan of t", sleep=lambda s: None)


def test_fatal_errors_are_not_retried() -> None:
    calls = []

    def call() -> None:
        calls.append(1)
        raise ServiceError("DynamoDB", "ValidationException", "bad")

    with pytest.raises(ServiceError):
        call_with_retries(call, RetryPolicy(), what="x", sleep=lambda s: None)
    assert len(calls) == 1


def test_bucket_refills_at_rate_and_settles_the_difference() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(BucketState(rate=10, burst=20), clock=lambda: now[0], sleep=sleep)
    assert bucket.take(15) == 15
    assert bucket.available() == pytest.approx(5)
    bucket.settle(15, 25)  # used 10 more than taken: deficit
    assert bucket.available() == pytest.approx(-5)
    assert bucket.take(10) == 10
    assert now[0] == pytest.approx(1.5)  # waited for 15 units at 10/s
    # A request that needs more than the bucket holds waits for a full bucket, then takes
    # all it needs: the deficit makes the next takers wait.
    now[0] += 10.0
    assert bucket.take(100) == 100
    assert bucket.available() == pytest.approx(-80)
    before = now[0]
    assert bucket.take(10) == 10
    assert now[0] - before == pytest.approx(9.0)  # 90 units at 10/s


def test_a_task_s_bucket_starts_empty_and_follows_its_share() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    state = BucketState(rate=10, burst=10, local=True, empty=True)
    bucket = TokenBucket(state, clock=lambda: now[0], sleep=sleep)
    assert bucket.take(10) == 10
    assert now[0] == pytest.approx(1.0)  # no burst of its own: a second of its share
    now[0] += 0.5  # 5 units refilled at the old share...
    bucket.set_rate(40, 40)
    assert bucket.available() == pytest.approx(5)  # ...kept, and nothing added
    now[0] += 0.5
    assert bucket.available() == pytest.approx(25)  # then 40 a second
    bucket.set_rate(5, 5)
    assert bucket.available() == pytest.approx(5)  # never more than the new burst
