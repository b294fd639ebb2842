"""Run a job's tasks: inline, or on a pool of worker processes.

Parsing is CPU-bound and threads share one interpreter lock, so parallel work runs in
processes. Tasks report progress through events, which the parent receives in its own
thread of control (``on_event``) while the tasks run; results arrive through
``on_result`` as tasks finish. A worker that dies fails the job; Ctrl-C stops every
worker before ``KeyboardInterrupt`` reaches the caller.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol, TypeVar

from ddbpipe.dynamo.throttle import BucketState
from ddbpipe.errors import FatalError
from ddbpipe.transfer.worker import WorkerContext, current_context, init_worker

__all__ = ["Executor", "InlineExecutor", "ProcessExecutor", "make_executor", "pacing_problems"]

T = TypeVar("T")
R = TypeVar("R")
_POLL_SECONDS = 0.1
_STOP_GRACE_SECONDS = 5.0


class Executor(Protocol):
    """Runs ``task_fn(task, context)`` for every task."""

    def run(
        self,
        task_fn: Callable[[Any, WorkerContext], Any],
        tasks: Iterable[Any],
        on_event: Callable[[object], None],
        on_result: Callable[[Any], None],
    ) -> None: ...


class InlineExecutor:
    """Runs tasks one after another in this process (one worker)."""

    def __init__(self, bucket_state: BucketState) -> None:
        self.bucket_state = bucket_state

    def run(
        self,
        task_fn: Callable[[Any, WorkerContext], Any],
        tasks: Iterable[Any],
        on_event: Callable[[object], None],
        on_result: Callable[[Any], None],
    ) -> None:
        context = WorkerContext(self.bucket_state, on_event)
        for task in tasks:
            on_result(task_fn(task, context))


def _call_in_worker(task_fn: Callable[[Any, WorkerContext], Any], task: Any) -> Any:
    return task_fn(task, current_context())


class ProcessExecutor:
    """Runs tasks on ``workers`` processes, at most ``2 * workers`` queued at a time."""

    def __init__(self, bucket_state: BucketState, workers: int, context: Any) -> None:
        self.bucket_state = bucket_state
        self.workers = workers
        self.context = context

    def run(
        self,
        task_fn: Callable[[Any, WorkerContext], Any],
        tasks: Iterable[Any],
        on_event: Callable[[object], None],
        on_result: Callable[[Any], None],
    ) -> None:
        context = self.context
        events: Any = context.Queue()
        pool = ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=init_worker,
            initargs=(self.bucket_state, events),
        )
        pending: set[Future[Any]] = set()
        todo = iter(tasks)
        try:
            while True:
                while len(pending) < 2 * self.workers:
                    task = next(todo, None)
                    if task is None:
                        break
                    pending.add(pool.submit(_call_in_worker, task_fn, task))
                if not pending:
                    break
                done, pending = wait(pending, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
                _drain(events, on_event)
                for future in done:
                    on_result(future.result())
            _drain(events, on_event)
        except BrokenProcessPool as exc:
            # A worker killed while holding a shared lock would leave the others waiting
            # forever, so they are stopped rather than waited for.
            _stop(pool)
            _drain(events, on_event)
            raise FatalError(f"a worker process died ({exc})") from exc
        except BaseException:
            _stop(pool)
            _drain(events, on_event)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            events.close()


def _process_context() -> Any:
    """Fork when this process has no other thread (workers then start at once, with
    everything already imported); otherwise forkserver, which is safe with threads."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver")


def _drain(events: Any, on_event: Callable[[object], None]) -> None:
    while True:
        try:
            event = events.get_nowait()
        except queue.Empty:
            return
        on_event(event)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop every worker now: SIGTERM, which unwinds their open uploads."""
    processes = dict(getattr(pool, "_processes", None) or {})
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes.values():
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + _STOP_GRACE_SECONDS
    for process in processes.values():
        process.join(timeout=max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


def pacing_problems(
    kind: str, ratio: float, workers: int | None, max_units: float | None
) -> list[str]:
    """What is wrong with a job's capacity ratio, worker count and capacity override;
    ``kind`` is "read" or "write"."""
    problems = []
    if not 0 < ratio <= 1.5:
        problems.append(f"{kind} ratio must be above 0 and at most 1.5, got {ratio}")
    if workers is not None and workers < 1:
        problems.append(f"workers must be at least 1, got {workers}")
    if max_units is not None and max_units <= 0:
        unit = "RCU" if kind == "read" else "WCU"
        problems.append(f"max {unit} must be positive, got {max_units}")
    return problems


def make_executor(workers: int, rate: float, burst: float) -> Executor:
    """Inline for one worker, a process pool otherwise; both with a bucket of ``rate``
    capacity units per second (at most ``burst`` at once) shared by every worker."""
    if workers <= 1:
        return InlineExecutor(BucketState(rate, burst))
    context = _process_context()
    return ProcessExecutor(BucketState(rate, burst, context), workers, context)
