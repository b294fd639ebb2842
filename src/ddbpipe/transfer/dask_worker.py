"""The worker side of a job run on a Dask cluster: what one task attempt does there.

``run_attempt`` is what the client submits, once per task. It runs in a thread of a
Dask worker process, around the same task functions the local pool runs
(``run_segment``, ``run_file``, ``convert_file``), with a ``WorkerContext`` made for it.
It is submitted as ``pickle.loads`` of an ``AttemptCall`` (``submission``): the scheduler
unpickles task graphs, and this way it sees only a standard function and bytes, so
ddbpipe need not be installed on the scheduler, only on the workers.

- **Start.** The attempt names itself (a new id each time the scheduler runs the task,
  so a task run again after its worker was lost is a new attempt), says which ddbpipe
  version it runs, and asks the client which task to run: the task as submitted, or
  what is left of it after the events its earlier attempts reported (``after``). The
  client answers once it has handled every event sent before the question, so an
  attempt never repeats or skips what an earlier one finished.
- **Events and the outcome** go to the client as Dask events (``Worker.log_event`` on
  one topic): no round trip per event, and in order with the task's completion on the
  worker's stream. The outcome (the result, or the error whole and typed) is the last
  event of an attempt.
- **Control.** Every worker process reads the job's control variable a few times a
  second: whether to stop, and the capacity share of each task. A task also stops when
  the scheduler cancels its key (its client is gone, or cancelled it).
- **Capacity.** Each attempt has its own token bucket, refilled at its share of the
  job's rate; it starts empty, so a task that starts adds no burst to the job's.
- **Credentials.** Nothing secret travels: the task's configs carry no credentials,
  and clients and stores are made here from the worker's own credential chain.

Messages are msgpack data (the scheduler never needs ddbpipe): a list of job id, kind,
task number, attempt id and a pickled payload.
"""

from __future__ import annotations

import contextlib
import pickle
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distributed import Variable, get_client, get_worker

from ddbpipe._version import __version__
from ddbpipe.dynamo.throttle import BucketState, TokenBucket
from ddbpipe.errors import CancelledError
from ddbpipe.transfer.worker import WorkerContext, portable

__all__ = [
    "CONTROL_POLL_SECONDS",
    "TOPIC",
    "AttemptCall",
    "DaskJob",
    "control_name",
    "reply_name",
    "run_attempt",
    "submission",
]

TOPIC = "ddbpipe"
"""The Dask event topic every job's messages go to (one topic: the scheduler keeps a
bounded log per topic, and a topic per job would never be freed)."""

CONTROL_POLL_SECONDS = 0.2
"""How often a worker process reads the control variable of each job it runs tasks of."""

_REPLY_POLL_SECONDS = 0.5
_CONTROL_TIMEOUT_SECONDS = 2.0
_GONE_AFTER_SECONDS = 30.0  # a control variable missing this long: its job is over
_KEPT_JOBS = 4  # job states kept between tasks (their clients and stores)
_GONE = frozenset({"cancelled", "released", "forgotten"})


@dataclass(frozen=True)
class DaskJob:
    """What every task of one job carries besides itself: the job's id, the ddbpipe
    version of the client, and the starting capacity share of a task (units per second;
    a task's bucket holds ``burst_seconds`` of it)."""

    id: str
    version: str
    share: float
    burst_seconds: float

    def burst(self, share: float) -> float:
        """The most units a task with ``share`` takes at once."""
        return max(share * self.burst_seconds, 1.0)


def control_name(job: str) -> str:
    """The variable holding ``{"stop": bool, "share": float}`` for the job's tasks."""
    return f"ddbpipe-{job}"


def reply_name(job: str, attempt: str) -> str:
    """The variable holding the client's answer to one attempt."""
    return f"ddbpipe-{job}-{attempt}"


class _JobState:
    """One job, in one worker process: its control values, the buckets of its running
    attempts, and the clients and stores its tasks share."""

    def __init__(self, job: DaskJob, client: Any) -> None:
        self.job = job
        self.client = client
        self.stopped = False
        self.missing_since: float | None = None
        self.share = job.share
        self.running = 0
        self.buckets: set[TokenBucket] = set()
        self.lock = threading.Lock()
        self.context = WorkerContext(
            BucketState(job.share, job.burst(job.share), local=True),
            lambda event: None,
            stop=self,
            pause_gc=False,
        )

    def is_set(self) -> bool:
        """Whether the job's tasks should stop (the stop flag of the shared stores)."""
        return self.stopped

    def apply(self, control: Any) -> None:
        """Take the control values the client set."""
        self.missing_since = None
        if control.get("stop"):
            self.stopped = True
        share = float(control.get("share", self.share))
        if share != self.share:
            self.share = share
            with self.lock:
                buckets = list(self.buckets)
            for bucket in buckets:
                bucket.set_rate(share, self.job.burst(share))


class _Jobs:
    """The job states of this process, and the thread that reads their control
    variables while any of their tasks runs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.states: OrderedDict[str, _JobState] = OrderedDict()
        self.thread: threading.Thread | None = None

    def enter(self, job: DaskJob, client: Any) -> _JobState:
        with self.lock:
            state = self.states.get(job.id)
            if state is None:
                state = self.states[job.id] = _JobState(job, client)
            self.states.move_to_end(job.id)
            while len(self.states) > _KEPT_JOBS:
                oldest = next(iter(self.states.values()))
                if oldest.running:
                    break
                self.states.popitem(last=False)
            state.running += 1
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._poll, name="ddbpipe-control", daemon=True
                )
                self.thread.start()
        return state

    def leave(self, state: _JobState) -> None:
        with self.lock:
            state.running -= 1

    def _running(self) -> list[_JobState]:
        with self.lock:
            running = [s for s in self.states.values() if s.running and not s.stopped]
            if not running:
                self.thread = None
            return running

    def _poll(self) -> None:
        while running := self._running():
            for state in running:
                variable = Variable(control_name(state.job.id), client=state.client)
                try:
                    state.apply(variable.get(timeout=_CONTROL_TIMEOUT_SECONDS))
                except TimeoutError:  # deleted, or a scheduler too busy to answer in time
                    now = time.monotonic()
                    state.missing_since = state.missing_since or now
                    if now - state.missing_since > _GONE_AFTER_SECONDS:
                        state.stopped = True  # the variable is gone: the job is over
                except Exception:  # a passing scheduler hiccup: read it next time
                    continue
            time.sleep(CONTROL_POLL_SECONDS)


_JOBS = _Jobs()


class _AttemptStop:
    """Stop one attempt: when its job stops, or when the scheduler cancels its key."""

    def __init__(self, state: _JobState, worker: Any, key: Any) -> None:
        self.state = state
        self.worker = worker
        self.key = key

    def is_set(self) -> bool:
        if self.state.stopped:
            return True
        task = self.worker.state.tasks.get(self.key)
        return task is None or task.state in _GONE


class _Channel:
    """Messages of one attempt to the client."""

    def __init__(self, worker: Any, job: str, index: int, attempt: str) -> None:
        self.worker = worker
        self.head = [job]
        self.index = index
        self.attempt = attempt

    def send(self, kind: str, payload: bytes = b"") -> None:
        self.worker.log_event(TOPIC, [*self.head, kind, self.index, self.attempt, payload])

    def emit(self, event: object) -> None:
        self.send("events", pickle.dumps([event], protocol=pickle.HIGHEST_PROTOCOL))

    def outcome(self, ok: bool, value: Any) -> None:
        try:
            payload = pickle.dumps((ok, value), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            payload = pickle.dumps((False, portable(exc)), protocol=pickle.HIGHEST_PROTOCOL)
        self.send("end", payload)


def _reply(client: Any, job: str, attempt: str, stop: _AttemptStop) -> tuple[str, Any]:
    """Wait for the client's answer: ``("run", task)``, ``("skip", None)`` when an
    earlier attempt finished the task, or ``("stop", None)``."""
    variable = Variable(reply_name(job, attempt), client=client)
    while True:
        if stop.is_set():
            raise CancelledError("the job was cancelled")
        try:
            payload = variable.get(timeout=_REPLY_POLL_SECONDS)
        except TimeoutError:
            continue
        with contextlib.suppress(Exception):
            variable.delete()
        answer: tuple[str, Any] = pickle.loads(payload)
        return answer


@dataclass(frozen=True)
class AttemptCall:
    """``run_attempt(job, index, task_fn, task)``, as a pickle that makes the call when it
    is loaded."""

    job: DaskJob
    index: int
    task_fn: Callable[[Any, WorkerContext], Any]
    task: Any

    def __reduce__(self) -> tuple[Any, ...]:
        return (run_attempt, (self.job, self.index, self.task_fn, self.task))


def submission(call: AttemptCall) -> tuple[Callable[[bytes], Any], bytes]:
    """The function and argument to submit for ``call``: ``pickle.loads`` and its bytes."""
    return pickle.loads, pickle.dumps(call, protocol=pickle.HIGHEST_PROTOCOL)


def run_attempt(
    job: DaskJob, index: int, task_fn: Callable[[Any, WorkerContext], Any], task: Any
) -> None:
    """Run task number ``index`` of ``job`` on this worker; see the module doc."""
    worker = get_worker()
    client = get_client()
    key = worker.get_current_task()
    attempt = uuid.uuid4().hex
    channel = _Channel(worker, job.id, index, attempt)
    state = _JOBS.enter(job, client)
    stop = _AttemptStop(state, worker, key)
    try:
        channel.send("start", __version__.encode())
        what, task = _reply(client, job.id, attempt, stop)
        if what != "run":
            return
        _run(state, stop, channel, task_fn, task)
    except CancelledError:
        return  # the client stopped the job, and ignores what this attempt would say
    finally:
        _JOBS.leave(state)


def _run(
    state: _JobState,
    stop: _AttemptStop,
    channel: _Channel,
    task_fn: Callable[[Any, WorkerContext], Any],
    task: Any,
) -> None:
    share = state.share
    bucket = BucketState(share, state.job.burst(share), local=True, empty=True)
    context = WorkerContext(
        bucket, channel.emit, stop=stop, pause_gc=False, caches_from=state.context
    )
    with state.lock:
        state.buckets.add(context.bucket)
    if state.share != share:  # changed while the bucket was made
        context.bucket.set_rate(state.share, state.job.burst(state.share))
    try:
        result = task_fn(task, context)
    except BaseException as exc:
        channel.outcome(False, portable(exc))
        raise
    else:
        channel.outcome(True, result)
    finally:
        with state.lock:
            state.buckets.discard(context.bucket)
