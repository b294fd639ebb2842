"""Run a job's tasks on an existing Dask cluster: the client side.

``DaskPool`` is a connection to a Dask scheduler for the length of a job; its executors
submit one Dask task per ddbpipe task (``client.submit``; the scheduler sees and places
them), at most ``workers`` at once, and behave like the local pool: events reach
``on_event`` in the caller's thread, in order, before the task's result reaches
``on_result``; the first error is raised whole and typed; stopping (a cancel token,
Ctrl-C, an error) reaches every running task within a fraction of a second, and they
unwind and abort their uploads (``ddbpipe.transfer.dask_worker`` is the worker side).

**Capacity: shares, re-balanced.** The table's allowed rate is split between the tasks
that may run at once: each holds a token bucket of its own, refilled at ``rate /
workers``. A task runs only once the client admits it (the answer to its first
question), and at most ``workers`` are admitted and unfinished at any time, so the
buckets never add up to more than the rate, whatever the number of Dask workers; each
bucket starts empty, so a task starting adds no burst. Once every task has been
admitted, the tasks left share the whole rate: their shares rise as others finish (only
ever rise, and only after the task that gave its share back has ended, so the sum stays
within the rate). Taking units costs nothing on the network: the only traffic is the
control variable each worker process reads a few times a second. A few more tasks than
``workers`` are submitted, so that the next is already placed when one ends; they wait
for admission using no capacity.

**Lost workers.** When a worker dies, the scheduler runs its task again elsewhere. The
new attempt asks the client where to start and gets the task's continuation after the
events its earlier attempts reported (``after``): an export segment goes on from the key
of its last finished data file, an import file from its last checkpointed line. Events of
any other attempt are ignored; data files of lost attempts are named per attempt and
listed nowhere, and the job removes them (and aborts their uploads) before it finishes.
A task that kills its worker again and again fails the job with ``WorkerLostError``.
"""

from __future__ import annotations

import contextlib
import importlib
import pickle
import queue
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from distributed import Client, Future, Variable

try:
    from distributed.client import FutureCancelledError
except ImportError:  # distributed before 2024.12
    from concurrent.futures import CancelledError as FutureCancelledError

from ddbpipe._version import __version__
from ddbpipe.errors import (
    CancelledError,
    ConfigError,
    DdbpipeError,
    EndpointUnreachableError,
    FatalError,
    WorkerLostError,
)
from ddbpipe.transfer.cancel import POLL_SECONDS, StopFlag
from ddbpipe.transfer.dask_worker import (
    TOPIC,
    AttemptCall,
    DaskJob,
    control_name,
    reply_name,
    submission,
)
from ddbpipe.transfer.worker import WorkerContext

__all__ = ["CONNECT_TIMEOUT_SECONDS", "DASK_STOP_GRACE_SECONDS", "DaskExecutor", "DaskPool"]

CONNECT_TIMEOUT_SECONDS = 10.0
DASK_STOP_GRACE_SECONDS = 5.0
"""How long stopped tasks have to unwind (and abort their uploads) before the job lets
go of them."""

TaskFn = Callable[[Any, WorkerContext], Any]


def _label(task: Any) -> str:
    label = getattr(task, "label", None)
    return str(label) if label else type(task).__name__


class DaskPool:
    """A connection to the Dask scheduler at ``address``, shared by a job's executors."""

    def __init__(self, client: Client, address: str) -> None:
        self.client = client
        self.address = address
        self._routes: dict[str, queue.SimpleQueue[tuple[Any, ...]]] = {}
        client.subscribe_topic(TOPIC, self._on_message)

    @classmethod
    def connect(cls, address: str) -> DaskPool:
        """Connect to the scheduler; ``EndpointUnreachableError`` when nothing answers.

        TLS settings come from Dask's own configuration. A ``gateway://`` address (a
        dask-gateway cluster) needs the dask-gateway package, which knows that scheme.
        """
        if address.startswith("gateway://"):
            try:
                importlib.import_module("dask_gateway")
            except ImportError:
                raise ConfigError(
                    f"{address} is a dask-gateway address: install dask-gateway next to ddbpipe"
                ) from None
        _check_reachable(address)
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT_SECONDS, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise EndpointUnreachableError("the Dask scheduler", address, str(exc)) from None
        return cls(client, address)

    @property
    def default_workers(self) -> int:
        """The threads of the cluster's workers now (at least one)."""
        threads: dict[str, int] = self.client.nthreads()
        return max(sum(threads.values()), 1)

    def executor(self, workers: int, rate: float, burst: float) -> DaskExecutor:
        """An executor of ``workers`` tasks at once sharing ``rate`` units per second."""
        return DaskExecutor(self, workers, rate, burst)

    def close(self) -> None:
        """Disconnect from the scheduler."""
        with contextlib.suppress(Exception):
            self.client.unsubscribe_topic(TOPIC)
        with contextlib.suppress(Exception):
            self.client.close()

    def _on_message(self, event: tuple[float, Any]) -> None:
        message = event[1]
        route = self._routes.get(message[0]) if isinstance(message, list | tuple) else None
        if route is not None:
            route.put(("message", *message[1:]))


def _check_reachable(address: str) -> None:
    """Fail at once on a refused TCP connection (Dask would retry until its timeout)."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme != "tcp" or not parts.hostname or parts.port is None:
        return
    try:
        with socket.create_connection((parts.hostname, parts.port), CONNECT_TIMEOUT_SECONDS):
            pass
    except OSError as exc:
        raise EndpointUnreachableError("the Dask scheduler", address, str(exc)) from None


@dataclass
class _TaskRun:
    """One task of a run: what its next attempt does, and how it went."""

    index: int
    task: Any
    future: Future | None = None
    attempt: str | None = None  # the attempt whose events count
    admitted: bool = False  # an attempt of it has been let run
    outcome: bool | None = None  # True: its result was handled; False: its error


class DaskExecutor:
    """Runs tasks on a Dask cluster, ``workers`` at once; see the module doc."""

    def __init__(self, pool: DaskPool, workers: int, rate: float, burst: float) -> None:
        self.pool = pool
        self.workers = workers
        self.rate = rate
        self.burst = burst

    def run(
        self,
        task_fn: TaskFn,
        tasks: Iterable[Any],
        on_event: Callable[[object], None],
        on_result: Callable[[Any], None],
        *,
        cancel: StopFlag | None = None,
    ) -> None:
        _DaskRun(self, task_fn, list(tasks), on_event, on_result, cancel).run()


class _DaskRun:
    """One ``DaskExecutor.run``: submission, admission, messages, shares, and the end.

    Up to twice ``slots`` tasks are submitted, so that the next ones are already on the
    scheduler when a running one ends; at most ``slots`` are admitted (told to run, when
    their attempt asks) and unfinished, which is what keeps the capacity shares within
    the rate. The others wait for an answer, using no capacity.
    """

    def __init__(
        self,
        executor: DaskExecutor,
        task_fn: TaskFn,
        tasks: list[Any],
        on_event: Callable[[object], None],
        on_result: Callable[[Any], None],
        cancel: StopFlag | None,
    ) -> None:
        self.client = executor.pool.client
        self.routes = executor.pool._routes
        self.task_fn = task_fn
        self.runs = [_TaskRun(n, task) for n, task in enumerate(tasks)]
        self.on_event = on_event
        self.on_result = on_result
        self.cancel = cancel
        self.rate = executor.rate
        self.slots = max(1, min(executor.workers, len(tasks)))
        self.share = self.rate / self.slots
        job_id = uuid.uuid4().hex[:16]
        self.job = DaskJob(job_id, __version__, self.share, executor.burst / executor.rate)
        self.inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.control = Variable(control_name(job_id), client=self.client)
        self.next = 0  # the next task to submit
        self.submitted: set[int] = set()  # tasks whose future is not done
        self.running: set[int] = set()  # admitted tasks without an outcome
        self.waiting: list[tuple[_TaskRun, str]] = []  # attempts waiting to be admitted
        self.never_admitted = len(tasks)
        self.replies: list[str] = []
        self.error: BaseException | None = None
        self.stopping = False
        self.interrupted = False
        self.stop_deadline = 0.0

    def run(self) -> None:
        self.routes[self.job.id] = self.inbox
        try:
            self._set_control()
            self._loop()
        except BaseException as exc:
            self._begin_stop(exc)
            with contextlib.suppress(BaseException):
                self._drain_until_deadline()
            raise
        finally:
            self._clean_up()
        if self.error is not None:
            raise self.error
        if self.interrupted or any(run.outcome is None for run in self.runs):
            raise CancelledError("the job was cancelled")

    def _loop(self) -> None:
        while True:
            if not self.stopping and self.cancel is not None and self.cancel.is_set():
                self._begin_stop(None)
            if not self.stopping:
                self._submit()
            if not self.submitted and (self.stopping or self.next >= len(self.runs)):
                return
            if self.stopping and time.monotonic() >= self.stop_deadline:
                return
            self._receive(POLL_SECONDS)

    def _submit(self) -> None:
        while len(self.submitted) < 2 * self.slots and self.next < len(self.runs):
            run = self.runs[self.next]
            self.next += 1
            function, payload = submission(AttemptCall(self.job, run.index, self.task_fn, run.task))
            run.future = self.client.submit(
                function,
                payload,
                key=f"{getattr(self.task_fn, '__name__', 'task')}-{run.index}-{self.job.id}",
                pure=False,
            )
            self.submitted.add(run.index)
            run.future.add_done_callback(lambda _, n=run.index: self.inbox.put(("done", n)))

    def _set_control(self) -> None:
        self.control.set({"stop": self.stopping, "share": self.share})

    def _rebalance(self) -> None:
        """Once every task has been admitted, the running ones share the whole rate: a
        share only ever rises, after the task that gave its part back has ended."""
        if self.never_admitted == 0 and self.running:
            share = self.rate / len(self.running)
            if share > self.share:
                self.share = share
                self._set_control()

    def _receive(self, timeout: float) -> None:
        try:
            message = self.inbox.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            self._handle(message)
            try:
                message = self.inbox.get_nowait()
            except queue.Empty:
                return

    def _handle(self, message: tuple[Any, ...]) -> None:
        if message[0] == "done":
            self._done(self.runs[message[1]])
            return
        _, kind, index, attempt, payload = message
        run = self.runs[index]
        if kind == "start":
            self._start(run, attempt, payload.decode())
        elif attempt != run.attempt or run.outcome is not None:
            return  # an attempt the client did not let run, or one after the task ended
        elif kind == "events":
            for event in pickle.loads(payload):
                after = getattr(run.task, "after", None)
                if after is not None:
                    run.task = after(event)
                self.on_event(event)
        elif kind == "end":
            self._end(run, *pickle.loads(payload))

    def _start(self, run: _TaskRun, attempt: str, version: str) -> None:
        """An attempt asks what to do: run now (the task's first, while a slot is free;
        or one after a lost attempt, in its place), wait for a slot, or nothing."""
        if version != __version__:
            self._begin_stop(
                ConfigError(
                    f"a Dask worker runs ddbpipe {version}, this side {__version__}: install "
                    "the same version on every worker"
                )
            )
        if self.stopping:
            self._reply(attempt, ("stop", None))
        elif run.outcome is not None:
            self._reply(attempt, ("skip", None))
        elif run.admitted or len(self.running) < self.slots:
            self._admit(run, attempt)
        else:
            self.waiting.append((run, attempt))

    def _admit(self, run: _TaskRun, attempt: str) -> None:
        if not run.admitted:
            run.admitted = True
            self.never_admitted -= 1
        self.running.add(run.index)
        run.attempt = attempt
        # After a lost attempt, the task goes on from its continuation.
        self._reply(attempt, ("run", run.task))
        self._rebalance()

    def _admit_waiting(self) -> None:
        while self.waiting and len(self.running) < self.slots:
            run, attempt = self.waiting.pop(0)
            if run.outcome is None and run.future is not None and not run.future.done():
                self._admit(run, attempt)

    def _reply(self, attempt: str, answer: tuple[str, Any]) -> None:
        name = reply_name(self.job.id, attempt)
        self.replies.append(name)
        Variable(name, client=self.client).set(pickle.dumps(answer))

    def _end(self, run: _TaskRun, ok: bool, value: Any) -> None:
        run.outcome = ok
        self.running.discard(run.index)  # its last request is done: its share is free
        if ok:
            self.on_result(value)
            self._admit_waiting()
            self._rebalance()
            return
        self.interrupted = True
        self._begin_stop(None if isinstance(value, CancelledError) else value)

    def _done(self, run: _TaskRun) -> None:
        self.submitted.discard(run.index)
        future = run.future
        if future is None or run.outcome is not None:
            return
        self.running.discard(run.index)
        self.waiting = [(r, a) for r, a in self.waiting if r is not run]
        if future.status == "error":
            self.interrupted = True
            self._begin_stop(_task_error(future.exception(), run.task))
        elif not self.stopping:
            self.interrupted = True
            how = "was cancelled" if future.status == "cancelled" else "ended without a result"
            self._begin_stop(WorkerLostError(f"the Dask task of {_label(run.task)} {how}"))

    def _begin_stop(self, error: BaseException | None) -> None:
        if error is not None and self.error is None and not isinstance(error, CancelledError):
            self.error = error
        if self.stopping:
            return
        self.stopping = True
        self.stop_deadline = time.monotonic() + DASK_STOP_GRACE_SECONDS
        with contextlib.suppress(Exception):
            self._set_control()
        for _, attempt in self.waiting:
            with contextlib.suppress(Exception):
                self._reply(attempt, ("stop", None))
        self.waiting = []
        idle = [r.future for r in self.runs if r.future is not None and not r.admitted]
        with contextlib.suppress(Exception):
            self.client.cancel([f for f in idle if not f.done()])

    def _drain_until_deadline(self) -> None:
        while self.submitted and time.monotonic() < self.stop_deadline:
            self._receive(POLL_SECONDS)

    def _clean_up(self) -> None:
        """Let go of every task still running, and of the job's variables."""
        self.routes.pop(self.job.id, None)
        left = [r.future for r in self.runs if r.future is not None and not r.future.done()]
        with contextlib.suppress(Exception):
            if left:
                self.client.cancel(left)
        for name in [control_name(self.job.id), *self.replies]:
            with contextlib.suppress(Exception):
                Variable(name, client=self.client).delete()


def _task_error(error: BaseException | None, task: Any) -> BaseException:
    """The ddbpipe error for a Dask task that failed outside a task function."""
    if isinstance(error, DdbpipeError):
        return error
    name = type(error).__name__
    if name == "KilledWorker":
        return WorkerLostError(
            f"Dask workers kept dying while running {_label(task)} ({error}); the "
            "task may need more memory than a worker has"
        )
    if isinstance(error, ImportError | AttributeError | pickle.UnpicklingError) or (
        isinstance(error, RuntimeError) and "deserializ" in str(error)
    ):
        return ConfigError(
            f"the Dask workers cannot run ddbpipe's tasks ({name}: {error}); install "
            f"ddbpipe {__version__} with the dask extra on every worker"
        )
    if isinstance(error, FutureCancelledError):
        return WorkerLostError(f"Dask cancelled the task of {_label(task)}")
    return FatalError(f"{_label(task)} failed on a Dask worker: {name}: {error}")
