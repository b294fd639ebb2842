"""Run a job's tasks: inline, or on a pool of worker processes.

Parsing is CPU-bound and threads share one interpreter lock, so parallel work runs in
processes. A task reports progress through events, which reach ``on_event`` in the
caller's thread, in the order the task sent them and before its result reaches
``on_result``.

Stopping is the same for every cause — a cancel token, a task's error, a lost worker,
Ctrl-C: the shared stop flag is set, every running task raises ``CancelledError`` at its
next check (between pages and batches, or in any wait), unwinds (an unfinished data
file never becomes visible) and reports what it had done; a worker that has not
finished within ``STOP_GRACE_SECONDS`` is killed. Then the first error is raised — the
task's own, whole and typed, or ``WorkerLostError``, or ``CancelledError`` for a
cancellation.

Where a job's tasks run is its ``Pool``: this machine (``LocalPool``: inline, or a pool
of processes) or a Dask cluster (``ddbpipe.transfer.dask_executor``, imported only when
asked for, so that ddbpipe without the ``dask`` extra never needs ``distributed``). An
executor that runs a task again after its worker was lost goes on from the task's own
checkpoint: a task type may define ``after(event)``, the task that carries on after an
event an earlier attempt of it emitted (past a finished data file, a checkpointed line).
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

from ddbpipe.dynamo.throttle import BucketState
from ddbpipe.errors import CancelledError, ConfigError, WorkerLostError
from ddbpipe.transfer.cancel import POLL_SECONDS, StopFlag
from ddbpipe.transfer.options import default_workers
from ddbpipe.transfer.worker import SharedStopFlag, WorkerContext, worker_main

__all__ = [
    "STOP_GRACE_SECONDS",
    "Executor",
    "InlineExecutor",
    "LocalPool",
    "Pool",
    "ProcessExecutor",
    "make_executor",
    "open_pool",
    "start_worker_server",
]

STOP_GRACE_SECONDS = 0.8
"""How long stopped workers have to unwind before they are killed."""
_EXIT_SECONDS = 5.0
_END = object()

TaskFn = Callable[[Any, WorkerContext], Any]


class Executor(Protocol):
    """Runs ``task_fn(task, context)`` for every task; see the module doc."""

    @property
    def workers(self) -> int:
        """How many tasks run at once."""
        ...

    def run(
        self,
        task_fn: TaskFn,
        tasks: Iterable[Any],
        on_event: Callable[[object], None],
        on_result: Callable[[Any], None],
        *,
        cancel: StopFlag | None = None,
    ) -> None: ...


def _label(task: Any) -> str:
    label = getattr(task, "label", None)
    return str(label) if label else type(task).__name__


class InlineExecutor:
    """Runs tasks one after another in the calling thread (one worker).

    ``sleep`` (for tests) replaces the waits of the tasks; by default they wait unless
    the job is cancelled.
    """

    workers = 1

    def __init__(
        self, bucket_state: BucketState, *, sleep: Callable[[float], None] | None = None
    ) -> None:
        self.bucket_state = bucket_state
        self.sleep = sleep

    def run(
        self,
        task_fn: TaskFn,
        tasks: Iterable[Any],
        on_event: Callable[[object], None],
        on_result: Callable[[Any], None],
        *,
        cancel: StopFlag | None = None,
    ) -> None:
        context = WorkerContext(self.bucket_state, on_event, stop=cancel, sleep=self.sleep)
        for task in tasks:
            context.check()
            on_result(task_fn(task, context))


class _Worker:
    """One worker process and the two pipes to it."""

    def __init__(self, process: Any, tasks: Connection, results: Connection) -> None:
        self.process = process
        self.tasks = tasks
        self.results = results
        self.task: tuple[int, Any] | None = None  # (number, task) while one runs


class ProcessExecutor:
    """Runs tasks on ``workers`` processes, one task per process at a time."""

    def __init__(self, bucket_state: BucketState, workers: int, context: Any) -> None:
        self.bucket_state = bucket_state
        self.workers = workers
        self.context = context

    def run(
        self,
        task_fn: TaskFn,
        tasks: Iterable[Any],
        on_event: Callable[[object], None],
        on_result: Callable[[Any], None],
        *,
        cancel: StopFlag | None = None,
    ) -> None:
        _Run(self, task_fn, on_event, on_result, cancel).run(tasks)


class _Run:
    """One ``ProcessExecutor.run``: the pool, what each worker does, and how it ends."""

    def __init__(
        self,
        executor: ProcessExecutor,
        task_fn: TaskFn,
        on_event: Callable[[object], None],
        on_result: Callable[[Any], None],
        cancel: StopFlag | None,
    ) -> None:
        self.executor = executor
        self.task_fn = task_fn
        self.on_event = on_event
        self.on_result = on_result
        self.cancel = cancel
        self.stop = SharedStopFlag(executor.context)
        self.workers: list[_Worker] = []
        self.error: BaseException | None = None
        self.stopping = False
        self.interrupted = False  # a task was stopped before its end
        self.stop_deadline = 0.0

    def run(self, tasks: Iterable[Any]) -> None:
        todo = iter(enumerate(tasks))
        exhausted = False
        unfinished = True
        try:
            self._start()
            while True:
                if not self.stopping and self.cancel is not None and self.cancel.is_set():
                    self._begin_stop(None)
                if not self.stopping and not exhausted:
                    exhausted = self._assign(todo)
                busy = [w for w in self.workers if w.task is not None]
                if not busy and (exhausted or self.stopping):
                    unfinished = not exhausted or self.interrupted
                    break
                if self.stopping and time.monotonic() >= self.stop_deadline:
                    break
                self._receive(busy)
        except BaseException as exc:
            self._begin_stop(exc)
            with contextlib.suppress(BaseException):
                self._drain_until_deadline()
            raise
        finally:
            self._shut_down()
        if self.error is not None:
            raise self.error
        if unfinished:
            raise CancelledError("the job was cancelled")

    def _start(self) -> None:
        context = self.executor.context
        fork = context.get_start_method() == "fork"
        for _ in range(self.executor.workers):
            task_reader, task_writer = context.Pipe(duplex=False)
            result_reader, result_writer = context.Pipe(duplex=False)
            inherited = [task_writer, result_reader] if fork else []
            if fork:
                inherited += [c for w in self.workers for c in (w.tasks, w.results)]
            process = context.Process(
                target=worker_main,
                args=(
                    task_reader,
                    result_writer,
                    self.executor.bucket_state,
                    self.stop,
                    os.getpid(),
                    inherited,
                ),
                daemon=True,
                name="ddbpipe-worker",
            )
            process.start()
            task_reader.close()
            result_writer.close()
            self.workers.append(_Worker(process, task_writer, result_reader))

    def _assign(self, todo: Iterable[tuple[int, Any]]) -> bool:
        """Give a task to every idle worker; True when there are no tasks left."""
        iterator = iter(todo)
        for worker in self.workers:
            if worker.task is not None:
                continue
            if not worker.process.is_alive():
                code = worker.process.exitcode
                self._begin_stop(WorkerLostError(f"a worker process died (exit {code})"))
                return False
            item: Any = next(iterator, _END)
            if item is _END:
                return True
            worker.task = item
            try:
                worker.tasks.send((item[0], self.task_fn, item[1]))
            except (BrokenPipeError, OSError):
                self._lost(worker)
                return False
        return False

    def _receive(self, busy: list[_Worker]) -> None:
        waiting: list[Any] = [w.results for w in busy] + [w.process.sentinel for w in busy]
        for ready in wait(waiting, timeout=POLL_SECONDS):
            for worker in busy:
                if ready is worker.results:
                    self._drain(worker)
                elif ready == worker.process.sentinel:
                    self._drain(worker)
                    if worker.task is not None:
                        self._lost(worker)

    def _drain(self, worker: _Worker) -> None:
        """Handle every message the worker has sent so far."""
        with contextlib.suppress(EOFError, OSError):
            while worker.results.poll():
                self._handle(worker, worker.results.recv())

    def _handle(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "event":
            self.on_event(message[1])
            return
        worker.task = None
        if kind == "result":
            self.on_result(message[2])
            return
        error: BaseException = message[2]
        self.interrupted = True
        if isinstance(error, CancelledError):
            self._begin_stop(None)  # expected once stopping; a worker stopped by a signal
        else:
            self._begin_stop(error)

    def _lost(self, worker: _Worker) -> None:
        assert worker.task is not None
        _, task = worker.task
        worker.task = None
        self.interrupted = True
        worker.process.join(timeout=0.5)  # reaped, so that its exit code is known
        code = worker.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit {code}"
        self._begin_stop(
            WorkerLostError(f"a worker process died ({how}) while running {_label(task)}")
        )

    def _begin_stop(self, error: BaseException | None) -> None:
        if error is not None and self.error is None and not isinstance(error, CancelledError):
            self.error = error
        if not self.stopping:
            self.stopping = True
            self.stop_deadline = time.monotonic() + STOP_GRACE_SECONDS
            self.stop.set()

    def _drain_until_deadline(self) -> None:
        while time.monotonic() < self.stop_deadline:
            busy = [w for w in self.workers if w.task is not None and w.process.is_alive()]
            if not busy:
                return
            self._receive(busy)

    def _shut_down(self) -> None:
        """End every worker: politely when idle, by SIGKILL when it did not stop in time."""
        for worker in self.workers:
            with contextlib.suppress(OSError):
                worker.tasks.send(None)
        deadline = time.monotonic() + (
            max(0.0, self.stop_deadline - time.monotonic()) if self.stopping else _EXIT_SECONDS
        )
        for worker in self.workers:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
        for worker in self.workers:
            if worker.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.process.pid, signal.SIGKILL)
                worker.process.join()
            worker.tasks.close()
            worker.results.close()


_WORKER_MODULES = [
    "ddbpipe.transfer.worker",
    "ddbpipe.transfer.export_task",
    "ddbpipe.transfer.import_task",
    "ddbpipe.transfer.convert_task",
]
"""What a worker process runs, imported once by the fork server rather than by each
worker it starts."""


def _process_context() -> Any:
    """Fork when this process has no other thread (workers then start at once, with
    everything already imported); otherwise forkserver, which is safe with threads."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return _forkserver_context()


def _forkserver_context() -> Any:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_WORKER_MODULES)  # no effect once the server runs
    return context


def start_worker_server() -> None:
    """Start the fork server now, in the background, importing what workers run.

    Jobs started from a thread (a pipeline runner, ``ddbpipe serve``) get their worker
    processes from it: started early, it is ready with the modules imported by the time
    the first job needs workers, instead of each worker importing them as it starts.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return
    _forkserver_context()
    from multiprocessing import forkserver

    forkserver.ensure_running()


def make_executor(
    workers: int, rate: float, burst: float, *, sleep: Callable[[float], None] | None = None
) -> Executor:
    """Inline for one worker, a process pool otherwise; both with a bucket of ``rate``
    capacity units per second (``burst`` at most at once) shared by every worker."""
    if workers <= 1:
        return InlineExecutor(BucketState(rate, burst), sleep=sleep)
    context = _process_context()
    return ProcessExecutor(BucketState(rate, burst, context), workers, context)


class Pool(Protocol):
    """Where a job's tasks run, for the length of the job: this machine or a cluster."""

    @property
    def default_workers(self) -> int:
        """How many tasks run at once unless the job says."""
        ...

    def executor(self, workers: int, rate: float, burst: float) -> Executor:
        """An executor of ``workers`` tasks at once, sharing ``rate`` capacity units per
        second (``burst`` at most at once) between them."""
        ...

    def close(self) -> None:
        """Let go of what the pool holds."""
        ...


class LocalPool:
    """This machine: tasks inline, or on worker processes (one per core by default)."""

    @property
    def default_workers(self) -> int:
        """One per core, at most eight."""
        return default_workers()

    def executor(self, workers: int, rate: float, burst: float) -> Executor:
        """``make_executor``'s executor."""
        return make_executor(workers, rate, burst)

    def close(self) -> None:
        """Nothing to let go of: each executor ends its processes as its run ends."""


@contextlib.contextmanager
def open_pool(dask: str | None) -> Iterator[Pool]:
    """The pool of a job: this machine, or the Dask cluster whose scheduler is at ``dask``
    (``ConfigError`` when it cannot be reached, or the ``dask`` extra is missing)."""
    if dask is None:
        yield LocalPool()
        return
    try:
        module = importlib.import_module("ddbpipe.transfer.dask_executor")
    except ImportError as exc:
        raise ConfigError(
            f"running on a Dask cluster needs the dask extra (pip install 'ddbpipe[dask]'): {exc}"
        ) from None
    pool: Pool = module.DaskPool.connect(dask)
    try:
        yield pool
    finally:
        pool.close()
