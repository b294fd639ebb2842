"""How Data Pipeline operations plug into the server: handlers in a dispatch table.

An ``Operation`` joins one of the service's operation names to a handler, and
optionally to a ``keys`` function. For each request the server, in order: verifies the
signature, finds the operation (``UnknownOperationException`` when it is not in the
table), applies the caller's rate limit, decodes and validates the input against the
service's shapes, then

1. calls ``keys(call)``, which returns the ``AuthorizationKeys`` of each thing the
   request touches (for example one per pipeline of a DescribePipelines, with its
   creator and tags); without a ``keys`` function, or when it returns nothing, the
   action is checked once with no resource keys;
2. checks ``datapipeline:<Operation>`` on ``*`` with each of them
   (``AccessDeniedException`` on the first refusal);
3. calls ``handler(call)``, which returns the output as a dict (``None`` for an empty
   output) and raises ``ApiError`` to refuse (``PipelineNotFoundException``,
   ``InvalidRequestException`` ...). Any other ddbpipe error is mapped by the server
   (a configuration or data error to ``InvalidRequestException``); anything else is an
   ``InternalServiceError``.

Handlers and ``keys`` functions may be plain functions, which run in a worker thread,
or coroutine functions (for a long poll such as PollForTask), awaited on the event
loop. ``Call`` gives the handler the validated input, the caller, the request ID and
time, and ``is_allowed``/``authorize`` for checks of its own (such as keeping only the
pipelines a caller may see in a listing).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ddbpipe.server.authorization import (
    NO_KEYS,
    AuthorizationKeys,
    Caller,
    RequestFacts,
    authorize,
    decide,
)
from ddbpipe.server.shapes import SERVICE_NAME, operation_names

__all__ = [
    "Call",
    "Handler",
    "KeysFunction",
    "Operation",
    "OperationTable",
    "Output",
]

Output = Mapping[str, Any] | None
Handler = Callable[["Call"], Output] | Callable[["Call"], Awaitable[Output]]
KeysFunction = (
    Callable[["Call"], Sequence[AuthorizationKeys]]
    | Callable[["Call"], Awaitable[Sequence[AuthorizationKeys]]]
)


@dataclass(frozen=True)
class Call:
    """One request to an operation, as its handler sees it.

    ``input`` is the validated input (members the model does not know are dropped;
    timestamps are aware datetimes); ``received_at`` is the server's clock when the
    request arrived.
    """

    operation: str
    input: Mapping[str, Any]
    request_id: str
    facts: RequestFacts

    @property
    def caller(self) -> Caller:
        """Who signed the request."""
        return self.facts.caller

    @property
    def received_at(self) -> datetime:
        """When the request arrived, by the server's clock."""
        return self.facts.current_time

    @property
    def action(self) -> str:
        """The IAM action: ``datapipeline:<Operation>``."""
        return f"{SERVICE_NAME}:{self.operation}"

    def is_allowed(self, keys: AuthorizationKeys = NO_KEYS, *, action: str | None = None) -> bool:
        """Whether the caller may perform the action (this call's, unless ``action``
        names another) on what ``keys`` describe."""
        return decide(self.facts, action or self.action, keys).allowed

    def authorize(self, keys: AuthorizationKeys = NO_KEYS, *, action: str | None = None) -> None:
        """Raise ``ApiError`` (``AccessDeniedException``) unless ``is_allowed``."""
        authorize(self.facts, action or self.action, keys)


@dataclass(frozen=True)
class Operation:
    """A handler for one of the service's operations; see the module doc."""

    name: str
    handler: Handler
    keys: KeysFunction | None = None

    def __post_init__(self) -> None:
        if self.name not in operation_names():
            raise ValueError(f"{self.name!r} is not an operation of the Data Pipeline API")


class OperationTable(Mapping[str, Operation]):
    """The operations a server answers, by name; one handler per operation."""

    def __init__(self, operations: Iterable[Operation] = ()) -> None:
        self._operations: dict[str, Operation] = {}
        for operation in operations:
            if operation.name in self._operations:
                raise ValueError(f"two handlers for {operation.name}")
            self._operations[operation.name] = operation

    def __getitem__(self, name: str) -> Operation:
        return self._operations[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._operations)

    def __len__(self) -> int:
        return len(self._operations)

    def with_operations(self, operations: Iterable[Operation]) -> OperationTable:
        """A table with ``operations`` added to these."""
        return OperationTable([*self._operations.values(), *operations])
