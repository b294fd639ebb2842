"""A fault schedule for the fault proxy: which faults each operation's requests get, in order.

``FaultPlan`` names, per operation, the faults its requests get in turn: the first request
gets the first fault, the next one goes through, the one after gets the second fault, and
so on until the list is used up; later requests all go through. One failure is therefore
followed by a success whenever a client retries at once, and every scheduled fault is
injected as long as the operation is called often enough. ``rules`` are the exact rules
that carry the plan out, one per operation and kind of fault (put them in force in a
``FaultProxy``); ``missed`` reads their counts in the proxy to tell which scheduled faults
were never injected, so that a test can assert they all were.

Faults are named by kind (``FAULT_KINDS``): an S3 request is throttled with 503 SlowDown, a
DynamoDB one with ProvisionedThroughputExceededException.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Literal

from tests.support.aws_wire import ProxyRequest, Service, service_of
from tests.support.fault_proxy import FaultProxy
from tests.support.fault_rules import (
    INTERNAL_ERROR_CODES,
    CutBody,
    Drop,
    ErrorReply,
    ExactRule,
    FaultAction,
    Throttle,
)

FaultKind = Literal["throttle", "error", "error-after", "drop", "drop-after", "cut"]

FAULT_KINDS: tuple[FaultKind, ...] = (
    "throttle",
    "error",
    "error-after",
    "drop",
    "drop-after",
    "cut",
)
"""Throttling; HTTP 500 before or after forwarding; a connection dropped before or after
forwarding; a response body cut short at a random byte."""


def fault_action(kind: FaultKind, service: Service) -> FaultAction:
    """The proxy action that injects a fault of ``kind`` into a request to ``service``."""
    if kind == "throttle":
        return Throttle()
    if kind in ("error", "error-after"):
        return ErrorReply(500, INTERNAL_ERROR_CODES[service], after=kind == "error-after")
    if kind in ("drop", "drop-after"):
        return Drop(after=kind == "drop-after")
    return CutBody()


class FaultPlan:
    """Per operation, the faults its requests get in turn, one request in two; see the
    module doc. All operations of one plan belong to one service."""

    def __init__(self, schedule: Mapping[str, Sequence[FaultKind]], *, seed: int = 0) -> None:
        services = {service_of(operation) for operation in schedule}
        if len(services) != 1 or None in services:
            raise ValueError(f"a plan's operations must all be of one service: {sorted(schedule)}")
        service = services.pop()
        assert service is not None
        self.schedule = {operation: tuple(kinds) for operation, kinds in schedule.items()}
        self._requests = dict.fromkeys(schedule, 0)
        self._current: ProxyRequest | None = None
        self._current_kind: FaultKind | None = None
        self._rules = {
            (operation, kind): ExactRule(
                fault_action(kind, service),
                operation,
                when=_Picks(self, kind),
                seed=seed + number,
            )
            for number, (operation, kind) in enumerate(
                dict.fromkeys((op, kind) for op, kinds in self.schedule.items() for kind in kinds)
            )
        }

    @property
    def rules(self) -> list[ExactRule]:
        """The exact rules that carry the plan out: one per operation and kind of fault."""
        return list(self._rules.values())

    def _kind_for(self, request: ProxyRequest) -> FaultKind | None:
        """The fault ``request`` gets, decided once per request (the proxy asks every
        rule in turn, holding its lock, so the last request decided is the one asked about)."""
        if request is self._current:
            return self._current_kind
        operation = request.operation or ""
        number = self._requests[operation]
        self._requests[operation] = number + 1
        kinds = self.schedule[operation]
        kind = kinds[number // 2] if number % 2 == 0 and number // 2 < len(kinds) else None
        self._current, self._current_kind = request, kind
        return kind

    def requests(self, operation: str) -> int:
        """Requests for ``operation`` the proxy has seen so far."""
        return self._requests[operation]

    def missed(self, proxy: FaultProxy) -> dict[str, list[FaultKind]]:
        """The scheduled faults that ``proxy`` (where the plan's rules are in force) has
        not injected, by the counts of its rules; empty when every one was."""
        missed: dict[str, list[FaultKind]] = {}
        for operation, kinds in self.schedule.items():
            left = Counter(kinds)
            for kind in left:
                left[kind] -= proxy.rule_stats(self._rules[operation, kind]).fired
            if +left:
                missed[operation] = [kind for kind in kinds if left[kind] > 0]
        return missed


class _Picks:
    """The ``when`` predicate of the plan's rules for one kind of fault."""

    def __init__(self, plan: FaultPlan, kind: FaultKind) -> None:
        self.plan = plan
        self.kind = kind

    def __call__(self, request: ProxyRequest) -> bool:
        return self.plan._kind_for(request) == self.kind


__all__ = ["FAULT_KINDS", "FaultKind", "FaultPlan", "fault_action"]
