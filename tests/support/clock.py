"""A simulated clock for pipeline runners: time moves when a test says, or (``auto``)
by as much as the runner asks to wait, so retry delays, timeouts and schedules take no
real time."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta


class SimulatedClock:
    """Starts at ``start`` (UTC). With ``auto``, every ``sleep`` moves time on by the
    seconds asked for; otherwise time moves only through ``advance``. A sleep always
    lets real threads run a little (``real_wait`` seconds, or until ``wake``)."""

    def __init__(self, start: datetime, *, auto: bool = True, real_wait: float = 0.02) -> None:
        self._now = start
        self.auto = auto
        self.real_wait = real_wait
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta

    def sleep(self, seconds: float, *, wake: threading.Event | None = None) -> None:
        if wake is not None:
            if wake.wait(self.real_wait):
                return
        else:
            threading.Event().wait(self.real_wait)
        if self.auto and seconds > 0:
            self.slept.append(seconds)
            self.advance(timedelta(seconds=seconds))
