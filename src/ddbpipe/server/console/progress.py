"""The latest progress of each running job, kept from the scheduler's run events so
that the console can show items, megabytes, rate and time left while an attempt runs.

The runner reports progress to its listeners only (the state keeps the time of the
last report, not the counts), so a console shows live counts for the pipelines this
server runs; an instance run elsewhere shows its status without counts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ddbpipe.pipeline.runner import RunEvent
from ddbpipe.transfer.progress import JobProgress

__all__ = ["LiveProgress", "ProgressBoard"]


@dataclass(frozen=True)
class LiveProgress:
    """What one running instance has done so far, as people read it."""

    items: int
    megabytes: float
    items_per_second: float
    seconds_left: float | None
    expected_items: int | None
    verb: str

    @classmethod
    def of(cls, progress: JobProgress) -> LiveProgress:
        """The figures of ``progress``; the time left when the total is known."""
        rate = progress.items_per_second
        left = None
        if progress.expected_items and rate > 0:
            left = max(0.0, (progress.expected_items - progress.items) / rate)
        return cls(
            items=progress.items,
            megabytes=progress.bytes / 1e6,
            items_per_second=rate,
            seconds_left=left,
            expected_items=progress.expected_items,
            verb="written" if progress.job == "import" else "read",
        )

    @property
    def percent(self) -> int | None:
        """How far along, when the total is known."""
        if not self.expected_items:
            return None
        return min(100, int(100 * self.items / self.expected_items))


class ProgressBoard:
    """Progress by (pipeline, instance), fed by ``listen`` and read by the console."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._progress: dict[tuple[str, str], LiveProgress] = {}

    def listen(self, pipeline_id: str, event: RunEvent) -> None:
        """Keep a progress event; forget an instance's progress when its status moves."""
        if event.object_id is None:
            return
        key = (pipeline_id, event.object_id)
        with self._lock:
            if event.kind == "progress" and event.progress is not None:
                self._progress[key] = LiveProgress.of(event.progress)
            elif event.kind == "status" and event.sphere == "INSTANCE":
                self._progress.pop(key, None)

    def get(self, pipeline_id: str, instance_id: str) -> LiveProgress | None:
        """The latest progress of a running instance, if any was reported."""
        with self._lock:
            return self._progress.get((pipeline_id, instance_id))
