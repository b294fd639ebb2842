"""Progress of a running job, and the parent's bookkeeping that produces it.

``JobProgress`` is what a progress callback receives, for every kind of job. ``JobRun``
keeps a job's counts while its tasks run, reports them, and saves the job's checkpoint
at most once a second (and at once when asked, as a job stops). ``done`` counts only what
is durable — items in checkpointed data files, or writes DynamoDB acknowledged — so
every count a message states is true.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Literal

from ddbpipe.errors import CancelledError, DdbpipeError, PausedError, ResumePoint

__all__ = ["CHECKPOINT_INTERVAL", "JobProgress", "JobRun", "ProgressCallback"]

CHECKPOINT_INTERVAL = 1.0

JobKind = Literal["export", "import", "convert"]


@dataclass(frozen=True)
class JobProgress:
    """Where a job is.

    ``items`` and ``bytes`` are read (export, convert) or written (import) so far;
    ``done`` is the part of ``items`` that is durable; ``expected_items`` /
    ``expected_bytes`` are what the whole job should come to, when known; ``skipped``
    counts bad lines skipped; ``consumed`` is capacity units.
    """

    job: JobKind
    table: str | None
    items: int
    bytes: int
    consumed: float
    elapsed: float
    done: int = 0
    skipped: int = 0
    expected_items: int | None = None
    expected_bytes: int | None = None

    @property
    def items_per_second(self) -> float:
        """The rate so far."""
        return self.items / self.elapsed if self.elapsed > 0 else 0.0


ProgressCallback = Callable[[JobProgress], None]


class JobRun:
    """One job's counts while its tasks run; see the module doc."""

    def __init__(
        self,
        job: JobKind,
        table: str | None,
        *,
        on_progress: ProgressCallback | None,
        save_checkpoint: Callable[[], None] | None = None,
        expected_items: int | None = None,
        expected_bytes: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job: JobKind = job
        self.table = table
        self.on_progress = on_progress
        self.save_checkpoint = save_checkpoint
        self.expected_items = expected_items
        self.expected_bytes = expected_bytes
        self.clock = clock
        self.started = clock()
        self.items = 0
        self.bytes = 0
        self.consumed = 0.0
        self.done = 0
        self.skipped = 0
        self._saved_at = float("-inf")  # the first progress is saved at once

    @property
    def elapsed(self) -> float:
        """Seconds since the job started."""
        return self.clock() - self.started

    def progress(self) -> JobProgress:
        """The counts now."""
        return JobProgress(
            self.job,
            self.table,
            self.items,
            self.bytes,
            self.consumed,
            self.elapsed,
            self.done,
            self.skipped,
            self.expected_items,
            self.expected_bytes,
        )

    def report(self) -> None:
        """Tell the progress callback."""
        if self.on_progress is not None:
            self.on_progress(self.progress())

    @contextmanager
    def stopping(self, resume: ResumePoint | None, stopped: Callable[[int], str]) -> Iterator[None]:
        """Run the job's tasks in this block: however it ends, the checkpoint is saved; a
        cancelled job raises ``PausedError`` (``stopped(done)`` says what was kept), and any
        other ddbpipe error carries ``resume`` with the items durably done."""
        try:
            yield
        except (CancelledError, KeyboardInterrupt):
            self.save(force=True)
            if resume is None:
                raise
            raise PausedError(stopped(self.done), replace(resume, done=self.done)) from None
        except BaseException as exc:
            self.save(force=True)
            if isinstance(exc, DdbpipeError) and resume is not None:
                exc.resume = replace(resume, done=self.done)
            raise

    def save(self, *, force: bool = False) -> None:
        """Save the checkpoint, at most once a second unless ``force``."""
        now = self.clock()
        if self.save_checkpoint is not None and (
            force or now - self._saved_at >= CHECKPOINT_INTERVAL
        ):
            self.save_checkpoint()
            self._saved_at = now
