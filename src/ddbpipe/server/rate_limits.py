"""API rate limits: a token bucket per caller and operation, on an injected clock.

The defaults are the service's published limits (steady rate per second / burst):
DescribeObjects, PollForTask and QueryObjects 2/100; ReportTaskProgress and
SetTaskStatus 10/100; every other operation 1/100. A bucket holds up to ``burst``
tokens, starts full and refills at ``rate`` tokens a second; a call takes one, and a
call that finds the bucket empty is refused with ``ThrottlingException: Rate exceeded``.
Buckets are kept per caller (the principal's ARN), so one busy user does not slow down
another.

Limits are written ``OPERATION=RATE/BURST`` (``ListPipelines=5/20``, ``*=2/50`` for
every operation not named, ``ListPipelines=5`` to keep the burst), or ``off``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ddbpipe.errors import ConfigError
from ddbpipe.server.errors import ApiError, ErrorCode

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_RATE_LIMITS",
    "Limit",
    "RateLimiter",
    "RateLimits",
    "parse_rate_limits",
]


@dataclass(frozen=True)
class Limit:
    """A steady ``rate`` of calls a second and a ``burst`` allowed at once."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate > 0) or self.burst < 1:
            raise ValueError(f"a rate limit needs a positive rate and burst, not {self}")


DEFAULT_LIMIT = Limit(1.0, 100)
_SERVICE_LIMITS = {
    "DescribeObjects": Limit(2.0, 100),
    "PollForTask": Limit(2.0, 100),
    "QueryObjects": Limit(2.0, 100),
    "ReportTaskProgress": Limit(10.0, 100),
    "SetTaskStatus": Limit(10.0, 100),
}


@dataclass(frozen=True)
class RateLimits:
    """The limit of each operation; ``default`` for those not listed. ``enabled``
    False turns limiting off."""

    per_operation: Mapping[str, Limit] = field(
        default_factory=lambda: MappingProxyType(dict(_SERVICE_LIMITS))
    )
    default: Limit = DEFAULT_LIMIT
    enabled: bool = True

    def limit(self, operation: str) -> Limit:
        """The limit that applies to ``operation``."""
        return self.per_operation.get(operation, self.default)


DEFAULT_RATE_LIMITS = RateLimits()


def parse_rate_limits(
    specs: Iterable[str], operations: Iterable[str], base: RateLimits = DEFAULT_RATE_LIMITS
) -> RateLimits:
    """``base`` changed by ``specs`` (see the module doc); ``operations`` are the names
    a spec may use. Raises ``ConfigError`` listing every bad spec."""
    known = set(operations)
    per_operation = dict(base.per_operation)
    default, enabled = base.default, base.enabled
    problems = []
    for spec in specs:
        if spec.strip().lower() == "off":
            enabled = False
            continue
        name, equals, value = spec.partition("=")
        name = name.strip()
        if not equals or (name != "*" and name not in known):
            problems.append(
                f"rate limit {spec!r}: write OPERATION=RATE/BURST with one of the service's "
                "operations, or *=RATE/BURST, or off"
            )
            continue
        current = default if name == "*" else per_operation.get(name, default)
        limit = _parse_limit(value, current)
        if limit is None:
            problems.append(
                f"rate limit {spec!r}: RATE is calls a second (> 0), BURST a whole number >= 1"
            )
        elif name == "*":
            default = limit
        else:
            per_operation[name] = limit
    if problems:
        raise ConfigError(problems)
    return RateLimits(MappingProxyType(per_operation), default, enabled)


def _parse_limit(value: str, current: Limit) -> Limit | None:
    rate_text, slash, burst_text = value.partition("/")
    try:
        rate = float(rate_text)
        burst = int(burst_text) if slash else current.burst
        return Limit(rate, burst)
    except ValueError:
        return None


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets per (caller, operation); ``clock`` gives seconds (monotonic)."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, caller: str, operation: str) -> None:
        """Spend one call of ``caller`` on ``operation``; raises ``ApiError``
        (``ThrottlingException``) when its bucket is empty."""
        if not self._limits.enabled:
            return
        limit = self._limits.limit(operation)
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get((caller, operation))
            if bucket is None:
                bucket = self._buckets[(caller, operation)] = _Bucket(float(limit.burst), now)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(limit.burst), bucket.tokens + elapsed * limit.rate)
            bucket.updated = now
            if bucket.tokens < 1.0:
                raise ApiError(ErrorCode.THROTTLING, "Rate exceeded")
            bucket.tokens -= 1.0
