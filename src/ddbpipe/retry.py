"""Retry throttled and failed calls with capped exponential backoff and full jitter."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ddbpipe.errors import RetriableError, RetriesExhaustedError

__all__ = ["DEFAULT_RETRY_POLICY", "RetryPolicy", "call_with_retries"]

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep retrying one call before the job fails.

    The n-th retry waits a random time between 0 and ``min(max_delay, base_delay * 2**n)``
    ("full jitter"), so many workers that were throttled together do not retry together.
    """

    max_attempts: int = 12
    base_delay: float = 0.05
    max_delay: float = 10.0

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        return rng.uniform(0.0, min(self.max_delay, self.base_delay * (2.0**retry)))


DEFAULT_RETRY_POLICY = RetryPolicy()


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    on_retry: Callable[[RetriableError], None] | None = None,
) -> T:
    """Run ``call``, retrying ``RetriableError`` until it succeeds or the policy runs out.

    Raises ``RetriesExhaustedError`` naming ``what`` and the last error.
    """
    rng = rng or random.Random()
    for attempt in range(policy.max_attempts):
        try:
            return call()
        except RetriableError as exc:
            if attempt + 1 >= policy.max_attempts:
                raise RetriesExhaustedError(
                    f"{what} still failing after {policy.max_attempts} attempts: {exc}"
                ) from exc
            if on_retry is not None:
                on_retry(exc)
            sleep(policy.delay(attempt, rng))
    raise AssertionError("unreachable")  # pragma: no cover
