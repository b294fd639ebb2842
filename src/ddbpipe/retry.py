"""The one retry loop: capped exponential backoff with full jitter, for DynamoDB and S3.

``RetryPolicy`` says how long to keep trying; ``Backoff`` counts the failures of one
piece of work and waits between them, raising ``RetriesExhaustedError`` when the
policy runs out; ``call_with_retries`` is the common case of one call. Waiting goes
through an injected ``sleep``, so tests need no real time and a cancelled job stops
waiting at once (a job's ``sleep`` raises when the job is cancelled).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ddbpipe.errors import ConfigError, RetriableError, RetriesExhaustedError

__all__ = ["DEFAULT_RETRY_POLICY", "Backoff", "RetryPolicy", "call_with_retries"]

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep retrying one piece of work before the job fails.

    The n-th retry waits a random time between 0 and ``min(max_delay, base_delay * 2**n)``
    ("full jitter"), so many workers that were throttled together do not retry together.
    """

    max_attempts: int = 12
    base_delay: float = 0.05
    max_delay: float = 10.0

    def __post_init__(self) -> None:
        problems = []
        if self.max_attempts < 1:
            problems.append(f"retry attempts must be at least 1, got {self.max_attempts}")
        if not 0 <= self.base_delay <= self.max_delay:
            problems.append(
                f"retry delays must satisfy 0 <= base <= max, got {self.base_delay} and "
                f"{self.max_delay}"
            )
        if problems:
            raise ConfigError(problems)

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        return rng.uniform(0.0, min(self.max_delay, self.base_delay * (2.0**retry)))


DEFAULT_RETRY_POLICY = RetryPolicy()

_JITTER = random.Random()
"""The jitter of every ``Backoff`` not given its own: seeding one per piece of work would
cost more than the work (a batch written at the first try)."""


class Backoff:
    """The failures of one piece of work (``what``), and the waits between them.

    Call ``failed`` after each failure: it waits, or raises ``RetriesExhaustedError``
    once ``policy.max_attempts`` attempts have failed in a row. ``what`` may be a
    function that says it, called only then (most work never fails). ``succeeded`` starts the
    count again, for work that makes progress between failures (a batch some of whose
    items were written, a download cut after some bytes).
    """

    def __init__(
        self,
        policy: RetryPolicy,
        what: str | Callable[[], str],
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy
        self.what = what
        self.sleep = sleep
        self.rng = rng or _JITTER
        self.failures = 0

    def failed(self, reason: str | BaseException) -> None:
        """Record a failed attempt: wait before the next, or raise when none is left."""
        self.failures += 1
        if self.failures >= self.policy.max_attempts:
            what = self.what if isinstance(self.what, str) else self.what()
            error = RetriesExhaustedError(
                f"{what} still failing after {self.policy.max_attempts} attempts: {reason}"
            )
            if isinstance(reason, BaseException):
                raise error from reason
            raise error
        self.sleep(self.policy.delay(self.failures - 1, self.rng))

    def succeeded(self) -> None:
        """The work made progress: the next failure is the first again."""
        self.failures = 0

    def pause(self) -> None:
        """Wait as after a first failure, without counting one (to let a server recover
        after partial progress)."""
        self.sleep(self.policy.delay(0, self.rng))


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run ``call``, retrying ``RetriableError`` until it succeeds or the policy runs out.

    Raises ``RetriesExhaustedError`` naming ``what`` and the last error.
    """
    backoff = Backoff(policy, what, sleep=sleep, rng=rng)
    while True:
        try:
            return call()
        except RetriableError as exc:
            backoff.failed(exc)
