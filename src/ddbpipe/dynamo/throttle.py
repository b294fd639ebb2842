"""A token bucket of capacity units, shared by every worker process of a job.

Tokens refill at ``rate`` units per second up to ``burst`` (one second of rate, or more
when a single request needs more). A request takes what it expects to use before it is
sent and settles the difference when DynamoDB reports the ``ConsumedCapacity`` it
actually used; a request that used more than it took leaves the bucket in deficit, and
the next takers wait until it has refilled.

A bucket can also live in one process only (``local``): a task on a Dask worker holds
its own, whose rate is its share of the job's and changes as shares are re-balanced
(``TokenBucket.set_rate``).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["BucketState", "TokenBucket"]

_TOKENS, _UPDATED, _RATE, _BURST = range(4)
_TOLERANCE = 1e-6  # refills are floating-point sums: never wait for a rounding error
_MIN_SLEEP = 0.001


class BucketState:
    """The bucket's numbers in shared memory, so that processes can share one bucket.

    Create it in the parent, with the multiprocessing ``context`` of the workers, and hand
    it to them when they start. A ``local`` state is shared by the threads of one process
    only, and needs no shared memory (a daemonic process, such as a Dask worker's, may not
    start the helper process that other start methods' locks need). An ``empty`` bucket
    starts with no units: a task that joins a running job adds no burst of its own.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        context: Any = None,
        *,
        local: bool = False,
        empty: bool = False,
    ) -> None:
        if local:
            self.values: Any = [0.0] * 4
            self.lock: Any = threading.Lock()
        else:
            # Made with the start method the workers use: a fork-made lock needs no
            # resource-tracker process, which other start methods start.
            context = context or multiprocessing.get_context()
            self.values = context.RawArray("d", 4)
            self.lock = context.Lock()
        self.reset(rate, burst, now=None)
        if empty:
            self.values[_TOKENS] = 0.0

    def reset(self, rate: float, burst: float, now: float | None) -> None:
        """Start again at ``rate`` with a full bucket (``now`` None: refill on first use)."""
        with self.lock:
            self.values[_RATE] = rate
            self.values[_BURST] = burst
            self.values[_TOKENS] = burst
            self.values[_UPDATED] = -1.0 if now is None else now


class TokenBucket:
    """Take and settle capacity units; ``clock`` and ``sleep`` are injected for tests."""

    def __init__(
        self,
        state: BucketState,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.state = state
        self.clock = clock
        self.sleep = sleep

    @property
    def rate(self) -> float:
        """Units added per second."""
        return float(self.state.values[_RATE])

    @property
    def burst(self) -> float:
        """Most units the bucket holds."""
        return float(self.state.values[_BURST])

    def _refill(self, now: float) -> float:
        values = self.state.values
        if values[_UPDATED] < 0:
            values[_UPDATED] = now
        elapsed = max(0.0, now - values[_UPDATED])
        values[_TOKENS] = min(values[_BURST], values[_TOKENS] + elapsed * values[_RATE])
        values[_UPDATED] = now
        return float(values[_TOKENS])

    def available(self) -> float:
        """Units in the bucket now (negative when in deficit)."""
        with self.state.lock:
            return self._refill(self.clock())

    def take(self, wanted: float) -> float:
        """Wait until ``wanted`` units are there, take them, and return them.

        A request that needs more than the bucket holds (``burst``) waits for a full
        bucket and then takes all it needs, leaving a deficit that later takers wait
        out: the bucket never lends more than one second of rate or one request's need.
        """
        while True:
            with self.state.lock:
                tokens = self._refill(self.clock())
                needed = min(wanted, self.burst)
                if tokens >= needed - _TOLERANCE:
                    self.state.values[_TOKENS] = tokens - wanted
                    return wanted
                wait = (needed - tokens) / self.rate
            self.sleep(min(max(wait, _MIN_SLEEP), 1.0))

    def set_rate(self, rate: float, burst: float) -> None:
        """Go on at ``rate`` units per second, ``burst`` at most: what refilled at the old
        rate until now is kept, nothing more is added."""
        with self.state.lock:
            self._refill(self.clock())
            values = self.state.values
            values[_RATE] = rate
            values[_BURST] = burst
            values[_TOKENS] = min(values[_TOKENS], burst)

    def settle(self, taken: float, used: float) -> None:
        """Give back ``taken - used`` units (or take more, when ``used`` is larger)."""
        with self.state.lock:
            self._refill(self.clock())
            tokens = self.state.values[_TOKENS] + taken - used
            self.state.values[_TOKENS] = min(self.burst, tokens)
