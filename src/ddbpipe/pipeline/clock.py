"""The clock a pipeline runner reads and waits on, injected so that schedules, retry
delays and timeouts can run on simulated time.

``Clock.now`` gives the time (UTC, timezone-aware); ``Clock.sleep`` waits an amount of
that clock's time, returning early when the ``wake`` event is set (a job ended, the run
was told to stop). ``SystemClock`` is the real one.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """What the runner asks for the time and for waiting."""

    def now(self) -> datetime:
        """The current time, UTC."""
        ...

    def sleep(self, seconds: float, *, wake: threading.Event | None = None) -> None:
        """Wait ``seconds`` of this clock's time, or less once ``wake`` is set."""
        ...


class SystemClock:
    """The computer's clock."""

    def now(self) -> datetime:
        """The current time, UTC."""
        return datetime.now(UTC)

    def sleep(self, seconds: float, *, wake: threading.Event | None = None) -> None:
        """Wait ``seconds``, or less once ``wake`` is set."""
        if seconds <= 0:
            return
        if wake is None:
            time.sleep(seconds)
        else:
            wake.wait(seconds)
