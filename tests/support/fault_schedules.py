"""Hypothesis strategies for random fault schedules, and the settings of the tests using them.

A schedule gives the fault proxy in front of DynamoDB and the one in front of S3 each a
``FaultRules``: rates of throttling, 500s, dropped connections and cut bodies (and, for
DynamoDB, UnprocessedItems in BatchWriteItem answers), with the seed that decides which
requests get them. With rates below ``MAX_RATE`` each, a call fails the 40 attempts of
``FAST_RETRIES`` in a row less than once in a million.

Each example runs real jobs, so few are tried: ``FAULT_SCHEDULE_SETTINGS`` is the profile
named by the environment variable ``DDBPIPE_FAULT_PROFILE``, ``fault-schedules`` (5
examples, the default) or ``fault-schedules-thorough`` (100).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.support.fault_rules import FaultRules

MAX_RATE = 0.25

settings.register_profile(
    "fault-schedules",
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "fault-schedules-thorough", parent=settings.get_profile("fault-schedules"), max_examples=100
)
FAULT_SCHEDULE_SETTINGS = settings.get_profile(
    os.environ.get("DDBPIPE_FAULT_PROFILE", "fault-schedules")
)

RATES = st.floats(min_value=0.0, max_value=MAX_RATE)
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def dynamodb_fault_rules(draw: st.DrawFn) -> FaultRules:
    """Random faults for every DynamoDB data operation (DescribeTable and the like excepted)."""
    return FaultRules(
        throttle_rate=draw(RATES),
        error_rate=draw(RATES),
        drop_rate=draw(RATES),
        unprocessed_rate=draw(RATES),
        cut_rate=draw(RATES),
        seed=draw(SEEDS),
    )


@st.composite
def s3_fault_rules(draw: st.DrawFn) -> FaultRules:
    """Random faults for every S3 object operation and listing (bucket administration
    excepted)."""
    return FaultRules(
        throttle_rate=draw(RATES),
        error_rate=draw(RATES),
        drop_rate=draw(RATES),
        cut_rate=draw(RATES),
        seed=draw(SEEDS),
    )


__all__ = [
    "FAULT_SCHEDULE_SETTINGS",
    "MAX_RATE",
    "dynamodb_fault_rules",
    "s3_fault_rules",
]
