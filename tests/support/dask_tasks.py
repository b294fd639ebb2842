"""Task functions for executor tests, importable by the Dask workers (the repository is on
their ``PYTHONPATH``): steps that report progress, wait, fail, or kill their worker once.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, replace

from ddbpipe.errors import ItemError
from ddbpipe.transfer.worker import WorkerContext

_FLUSH_SECONDS = 0.5  # lets the worker's stream carry the events before it is killed


@dataclass(frozen=True)
class Step:
    """Progress: step ``number`` of task ``task`` is done."""

    task: int
    number: int


@dataclass(frozen=True)
class StepsTask:
    """Do steps ``start + 1`` to ``steps``; the attempt that starts at 0 kills its worker
    process after step ``crash_after``; ``wait`` seconds go by in each step (watching the
    stop flag); at step ``fail_at`` the task raises an ``ItemError`` naming ``source``."""

    number: int
    steps: int
    start: int = 0
    crash_after: int | None = None
    wait: float = 0.0
    fail_at: int | None = None
    source: str = "s3://bucket/data"

    @property
    def label(self) -> str:
        """The task in messages."""
        return f"steps task {self.number}"

    def after(self, event: object) -> StepsTask:
        """Go on after a step an earlier attempt reported."""
        if isinstance(event, Step) and event.task == self.number:
            return replace(self, start=event.number)
        return self


@dataclass(frozen=True)
class StepsResult:
    """Where the last attempt of a task started, and where it ended."""

    task: int
    started_at: int
    steps: int
    worker_pid: int


def run_steps(task: StepsTask, context: WorkerContext) -> StepsResult:
    """Do the task's steps; see ``StepsTask``."""
    for number in range(task.start + 1, task.steps + 1):
        context.check()
        if task.wait:
            context.sleep(task.wait)
        if number == task.fail_at:
            raise ItemError("the value is not a number", source=task.source, line=number)
        context.emit(Step(task.number, number))
        if number == task.crash_after and task.start == 0:
            time.sleep(_FLUSH_SECONDS)
            os.kill(os.getpid(), signal.SIGKILL)
    return StepsResult(task.number, task.start, task.steps, os.getpid())
