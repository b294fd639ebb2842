"""Stopping a running job from outside: a cancel token, safe to set from another thread or
from a signal handler.

Setting the token is one attribute write (no lock), so a signal handler can do it at any
moment. A job notices within a fraction of a second: tasks check it between pages and
batches, and every wait of a task (backoff, the capacity bucket) watches it.
"""

from __future__ import annotations

import time
from typing import Protocol

from ddbpipe.errors import CancelledError

__all__ = ["POLL_SECONDS", "CancelToken", "StopFlag", "sleep_unless_stopped"]

POLL_SECONDS = 0.05
"""How often a waiting task looks at its stop flag."""


class StopFlag(Protocol):
    """Anything that says whether a job should stop."""

    def is_set(self) -> bool: ...


class CancelToken:
    """Cancels a job: pass it to ``export_table``, ``import_table`` or ``convert_backup``,
    then call ``cancel`` from anywhere. The job stops its workers, saves its checkpoint,
    and raises ``PausedError`` (or ``CancelledError`` when there is nothing to resume).
    """

    def __init__(self) -> None:
        self._reason: str | None = None

    def cancel(self, reason: str = "cancelled") -> None:
        """Ask the job to stop; the first reason given is kept."""
        if self._reason is None:
            self._reason = reason

    def is_set(self) -> bool:
        """Whether ``cancel`` was called."""
        return self._reason is not None

    @property
    def reason(self) -> str | None:
        """Why the job was cancelled, or None."""
        return self._reason


def sleep_unless_stopped(seconds: float, stop: StopFlag) -> None:
    """Sleep ``seconds``, or raise ``CancelledError`` as soon as ``stop`` is set."""
    deadline = time.monotonic() + seconds
    while True:
        if stop.is_set():
            raise CancelledError("the job was cancelled")
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, POLL_SECONDS))
