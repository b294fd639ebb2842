"""Simulated time and a worker context around an in-memory DynamoDB: tasks run against
them with no real waiting, and every request is logged with its time and capacity."""

from __future__ import annotations

from typing import Any

from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.dynamo.throttle import BucketState
from ddbpipe.transfer.worker import WorkerContext


class SimulatedTime:
    """A clock that moves only when something sleeps (or a fake server takes time)."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class SimulatedContext(WorkerContext):
    """A worker context on simulated time whose DynamoDB client is ``dynamo`` (any object
    with ``request(operation, body, resource=)``); events are kept in ``events``."""

    def __init__(self, state: BucketState, time: SimulatedTime, dynamo: Any) -> None:
        self.events: list[object] = []
        super().__init__(state, self.events.append, clock=time.clock, sleep=time.sleep)
        self.fake = dynamo

    def dynamo_client(self, config: DynamoConfig) -> Any:
        return self.fake
