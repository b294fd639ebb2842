"""What a task sees where it runs (``WorkerContext``), and the main loop of a worker
process.

A worker process runs one task at a time, sent by its parent over a pipe, and sends back
on another pipe the task's events, then its result or its error (whole, with its
traceback). It stops:

- when its parent says so (the shared stop flag: the running task raises
  ``CancelledError`` at its next check, within a fraction of a second);
- on SIGTERM or SIGHUP, the same way; Ctrl-C (SIGINT) is left to the parent;
- at once, writing nothing more, when its parent dies, even by SIGKILL: a thread
  watches the parent's process (a pidfd where Linux has them) and ends the worker, and
  on Linux the kernel also kills it (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import pickle
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from ddbpipe.dynamo.client import DynamoClient, DynamoConfig
from ddbpipe.dynamo.throttle import BucketState, TokenBucket
from ddbpipe.errors import CancelledError, DdbpipeError, FatalError
from ddbpipe.stores import Store, StoreConfig, open_store
from ddbpipe.transfer.cancel import StopFlag, sleep_unless_stopped

__all__ = ["SharedStopFlag", "WorkerContext", "own_process", "worker_main"]

_PARENT_POLL_SECONDS = 0.2
_OWNED = False


def own_process() -> None:
    """Say that this process runs ddbpipe jobs only (the command line does), so that an
    inline job may pause the garbage collector in its hot loops. A library caller's
    process is never changed."""
    global _OWNED
    _OWNED = True


class _NeverStop:
    def is_set(self) -> bool:
        return False


class SharedStopFlag:
    """A stop flag in shared memory: the parent sets it, every worker process reads it.

    Setting and reading are single byte accesses, safe in a signal handler.
    """

    def __init__(self, context: Any) -> None:
        self._value: Any = context.RawValue("b", 0)
        self._local = False

    def set(self) -> None:
        """Ask every worker to stop."""
        self._value.value = 1

    def set_here(self) -> None:
        """Ask this process only to stop (a signal reached one worker)."""
        self._local = True

    def is_set(self) -> bool:
        """Whether the job should stop."""
        return self._local or bool(self._value.value)


class WorkerContext:
    """Per-process state of a worker; tasks get it instead of reading globals.

    ``sleep`` waits unless the job is stopped (then it raises ``CancelledError``);
    ``check`` raises at once when it is. Tasks call ``check`` between pages and batches.
    A context made ``caches_from`` another uses that one's clients and stores (opened
    once per process and job, their retries waiting on that context's stop flag), with a
    bucket, emit and stop flag of its own: one task of a Dask job.
    """

    def __init__(
        self,
        bucket_state: BucketState,
        emit: Callable[[object], None],
        *,
        stop: StopFlag | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        pause_gc: bool | None = None,
        caches_from: WorkerContext | None = None,
    ) -> None:
        self.stop: StopFlag = stop or _NeverStop()
        self.sleep: Callable[[float], None] = sleep or self._sleep
        self.bucket = TokenBucket(bucket_state, clock=clock, sleep=self.sleep)
        self.emit = emit
        self.pause_gc = _OWNED if pause_gc is None else pause_gc
        self._clients: dict[DynamoConfig, DynamoClient] = {}
        self._stores: dict[tuple[str, StoreConfig], Store] = {}
        self._cache_owner: WorkerContext = self
        if caches_from is not None:
            self._cache_owner = caches_from._cache_owner
            self._clients = self._cache_owner._clients
            self._stores = self._cache_owner._stores

    def _sleep(self, seconds: float) -> None:
        sleep_unless_stopped(seconds, self.stop)

    def check(self) -> None:
        """Raise ``CancelledError`` when the job was asked to stop."""
        if self.stop.is_set():
            raise CancelledError("the job was cancelled")

    def dynamo_client(self, config: DynamoConfig) -> DynamoClient:
        """A DynamoDB client for ``config``, made once per process."""
        client = self._clients.get(config)
        if client is None:
            client = self._clients[config] = DynamoClient.from_config(config)
        return client

    def store(self, url: str, config: StoreConfig) -> Store:
        """The store at ``url``, opened once per process; its retries wait with ``sleep``."""
        key = (url, config)
        store = self._stores.get(key)
        if store is None:
            sleep = self._cache_owner.sleep
            store = self._stores[key] = open_store(url, config, sleep=sleep)
        return store

    @contextlib.contextmanager
    def gc_paused(self) -> Iterator[None]:
        """Pause the cyclic garbage collector in a hot loop that makes millions of small
        dicts — only in a process that ddbpipe owns."""
        if not self.pause_gc or not gc.isenabled():
            yield
            return
        gc.disable()
        try:
            yield
        finally:
            gc.enable()


# ------------------------------------------------------------------ worker processes


def _die_with(parent: int) -> None:
    """End this process at once when ``parent`` ends."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    try:
        pidfd: int | None = os.pidfd_open(parent)
    except ProcessLookupError:
        os._exit(1)
    except (OSError, AttributeError):
        pidfd = None

    def watch() -> None:
        if pidfd is not None:
            select.select([pidfd], [], [])
        else:
            while os.getppid() == parent:
                time.sleep(_PARENT_POLL_SECONDS)
        os._exit(1)  # the parent is gone: write nothing more

    threading.Thread(target=watch, name="ddbpipe-parent-watch", daemon=True).start()


def portable(error: BaseException) -> BaseException:
    """``error`` with its traceback text, in a form that survives pickling."""
    text = "".join(traceback.format_exception(error))
    if isinstance(error, DdbpipeError):
        error.remote_traceback = text
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        replacement = FatalError(f"{type(error).__name__}: {error}")
        replacement.remote_traceback = text
        return replacement
    return error


def worker_main(
    tasks: Any,
    results: Any,
    bucket_state: BucketState,
    stop: SharedStopFlag,
    parent: int,
    inherited: list[Any],
) -> None:
    """The main loop of a worker process; see the module doc."""
    _die_with(parent)
    for connection in inherited:
        connection.close()  # the parent's ends, copied by fork
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set_here())

    def send(message: tuple[Any, ...]) -> None:
        try:
            results.send(message)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            results.send(("error", message[1] if len(message) > 1 else None, portable(exc)))

    context = WorkerContext(
        bucket_state, lambda event: send(("event", event)), stop=stop, pause_gc=True
    )
    while True:
        try:
            message = tasks.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        number, task_fn, task = message
        try:
            context.check()
            result = task_fn(task, context)
        except BaseException as exc:
            send(("error", number, portable(exc)))
        else:
            send(("result", number, result))
        if stop.is_set():
            return
