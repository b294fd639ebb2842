"""Stopping a job from the terminal or the system: Ctrl-C, SIGTERM and SIGHUP.

While a command runs a job, each of these signals cancels the job's token: the workers
stop within a second, the checkpoint is saved, and the command prints how to resume
and exits with 128 + the signal's number (130, 143, 129). A second Ctrl-C stops at once.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ddbpipe.transfer.cancel import CancelToken

__all__ = ["STOPPING_SIGNALS", "job_signals", "stopping_signal"]

STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_received: list[int] = []


def stopping_signal() -> int | None:
    """The signal that stopped the job, if one did."""
    return _received[0] if _received else None


@contextmanager
def job_signals() -> Iterator[CancelToken]:
    """A cancel token that the stopping signals set while the block runs."""
    token = CancelToken()

    def on_signal(signum: int, frame: Any) -> None:
        if token.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        if not _received:
            _received.append(signum)
        token.cancel(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, on_signal) for signum in STOPPING_SIGNALS}
    try:
        yield token
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
