"""What a task sees in its worker: the shared throttle, an event channel, cached clients."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

from ddbpipe.dynamo.client import DynamoClient, DynamoConfig
from ddbpipe.dynamo.throttle import BucketState, TokenBucket
from ddbpipe.stores import Store, StoreConfig, open_store

__all__ = ["WorkerContext", "current_context", "init_worker"]


class WorkerContext:
    """Per-process state of a worker; tasks get it instead of reading globals."""

    def __init__(
        self,
        bucket_state: BucketState,
        emit: Callable[[object], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.bucket = TokenBucket(bucket_state, clock=clock, sleep=sleep)
        self.sleep = sleep
        self.emit = emit
        self._clients: dict[DynamoConfig, DynamoClient] = {}
        self._stores: dict[tuple[str, StoreConfig], Store] = {}

    def dynamo_client(self, config: DynamoConfig) -> DynamoClient:
        """A DynamoDB client for ``config``, made once per process."""
        client = self._clients.get(config)
        if client is None:
            client = self._clients[config] = DynamoClient.from_config(config)
        return client

    def store(self, url: str, config: StoreConfig) -> Store:
        """The store at ``url``, opened once per process."""
        key = (url, config)
        store = self._stores.get(key)
        if store is None:
            store = self._stores[key] = open_store(url, config)
        return store


_context: WorkerContext | None = None


def _exit_on_terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds, so open uploads are aborted


def init_worker(bucket_state: BucketState, events: Any) -> None:
    """Set up a worker process: shared bucket, event queue, and signal handling.

    Ctrl-C is left to the parent, which stops the workers; SIGTERM unwinds the task so
    that a half-written data file never becomes visible.
    """
    global _context
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_terminate)
    _context = WorkerContext(bucket_state, events.put)


def current_context() -> WorkerContext:
    """The context ``init_worker`` set up in this process."""
    if _context is None:
        raise RuntimeError("init_worker was not called in this process")
    return _context
