"""What the fault proxy does to each request: random rates, exact rules, and the decision.

``FaultRules`` injects faults at random rates from a seeded generator. ``ExactRule`` injects
one kind of fault into exactly chosen requests: those matching its service, operations and
predicate, after letting the first ``after`` of them through, ``times`` times. A
``FaultDecider`` holds both, checks the exact rules in order, then the random rates, and
counts what each exact rule matched and fired.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from tests.support.aws_wire import (
    ADMIN_OPERATIONS,
    SERVICES,
    ProxyRequest,
    Service,
    operations_of,
    service_of,
)

Timing = Literal["before", "after", "random"]

INTERNAL_ERROR_CODES: dict[Service, str] = {
    "dynamodb": "InternalServerError",
    "s3": "InternalError",
}


# --- actions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Throttle:
    """Answer as the service throttles, without forwarding: DynamoDB with HTTP 400
    ProvisionedThroughputExceededException, S3 with HTTP 503 SlowDown."""


@dataclass(frozen=True)
class ErrorReply:
    """Answer with an error in the service's own format (DynamoDB JSON, S3 XML).

    ``code`` is the error code as clients see it (``AccessDeniedException``,
    ``NoSuchBucket``); a DynamoDB code may also be given as ``namespace#Code``. Without a
    message, the one the service sends for that code is used where known.
    """

    status: int
    code: str
    message: str | None = None
    after: bool = False
    """Forward the request first (the write happens), then answer with the error."""

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 599:
            raise ValueError(f"an error status is between 400 and 599, not {self.status!r}")
        if not self.code:
            raise ValueError("an error needs a code")


@dataclass(frozen=True)
class Drop:
    """Close the client connection with a TCP reset and no response."""

    after: bool = False
    """Forward the request first (the write happens), then drop."""


@dataclass(frozen=True)
class CutBody:
    """Forward, then send the status and every header (the full Content-Length) but only part
    of the body, and close the connection: the client sees a stream cut mid-body.

    ``keep_bytes`` bytes are sent (at most all but the last); without it, a fraction drawn
    from the rule's generator. A response with no body (to HEAD, or empty) arrives whole
    before the connection closes.
    """

    keep_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.keep_bytes is not None and self.keep_bytes < 0:
            raise ValueError(f"keep_bytes must not be negative, not {self.keep_bytes!r}")


@dataclass(frozen=True)
class Unprocessed:
    """BatchWriteItem: forward part of the writes and return the rest as UnprocessedItems.

    ``forward`` write requests are forwarded, the first ones in request order (at most all
    but one); without it, a subset drawn from the generator. At least one write comes back.
    """

    forward: int | None = None

    def __post_init__(self) -> None:
        if self.forward is not None and self.forward < 0:
            raise ValueError(f"forward must not be negative, not {self.forward!r}")


FaultAction = Throttle | ErrorReply | Drop | CutBody | Unprocessed


@dataclass(frozen=True)
class FaultDecision:
    """The fault chosen for one request."""

    action: FaultAction
    seed: int = 0
    """Seeds the draws the action leaves open: which writes stay unprocessed, where a body
    is cut."""
    rule: ExactRule | None = None
    """The exact rule that chose this fault; None when a random rate did."""


# --- random rates -------------------------------------------------------------------


@dataclass(frozen=True)
class FaultRules:
    """Which faults the proxy injects at random, how often, and into which operations.

    For each request to an operation that faults apply to, the proxy draws one number per
    rate, in the order throttle, error, drop, unprocessed, then one for the timing and 64
    random bits (which writes stay unprocessed, where a body is cut), then a number for
    ``cut_rate`` when it is above 0. It injects the first fault whose rate exceeds its draw
    (``unprocessed`` only for BatchWriteItem), until ``max_faults`` faults have been
    injected. All rates are probabilities in [0, 1]. DynamoDB and S3 requests both get
    faults, each in its own protocol.
    """

    throttle_rate: float = 0.0
    """Throttle without forwarding: DynamoDB HTTP 400 ProvisionedThroughputExceededException,
    S3 HTTP 503 SlowDown."""
    error_rate: float = 0.0
    """Answer HTTP 500 (DynamoDB InternalServerError, S3 InternalError), before or after
    forwarding (see error_timing)."""
    drop_rate: float = 0.0
    """Close the client connection without a response, before or after forwarding."""
    unprocessed_rate: float = 0.0
    """BatchWriteItem: forward a random subset, return the rest as UnprocessedItems."""
    cut_rate: float = 0.0
    """Forward, then send the headers and a random part of the body, and close."""
    operations: frozenset[str] | None = None
    """Operations faults apply to; None means all but ``ADMIN_OPERATIONS`` (DynamoDB's
    DescribeTable, CreateTable, DeleteTable and ListTables; S3's bucket administration).
    Requests the proxy cannot identify never get faults."""
    seed: int = 0
    """Seed of the generator that makes every fault decision."""
    max_faults: int | None = None
    """Stop injecting after this many faults in total; None means no limit."""
    error_timing: Timing = "random"
    """Whether an injected error answers before forwarding, after it, or either at random."""
    drop_timing: Timing = "random"
    """Whether an injected drop happens before forwarding, after it, or either at random."""

    def __post_init__(self) -> None:
        for name in ("throttle_rate", "error_rate", "drop_rate", "unprocessed_rate", "cut_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {rate!r}")
        if self.max_faults is not None and self.max_faults < 0:
            raise ValueError(f"max_faults must not be negative, not {self.max_faults!r}")
        for name in ("error_timing", "drop_timing"):
            if getattr(self, name) not in ("before", "after", "random"):
                raise ValueError(f"{name} must be 'before', 'after' or 'random'")

    def applies_to(self, operation: str | None) -> bool:
        """Whether faults may be injected into a request for ``operation``."""
        if operation is None:
            return False
        if self.operations is None:
            return operation not in ADMIN_OPERATIONS
        return operation in self.operations


# --- exact rules --------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ExactRule:
    """One fault for exactly chosen requests.

    A request matches when it is for ``service`` (inferred from ``operations`` when not
    given), for one of ``operations`` (a name or a set; None means any), and ``when`` (if
    given) returns true for it. The rule lets the first ``after`` matching requests through,
    then applies ``action`` to the next ``times`` of them (every one after when None;
    ``times=0`` only counts). Operation names are checked: a name neither service has is an
    error. Rules compare by identity, so each one's counts can be looked up.
    """

    action: FaultAction
    operations: str | Iterable[str] | None = None
    service: Service | None = None
    when: Callable[[ProxyRequest], bool] | None = None
    after: int = 0
    times: int | None = None
    seed: int = 0
    """Seed of this rule's generator (for CutBody and Unprocessed without fixed sizes)."""
    operation_set: frozenset[str] | None = field(init=False, repr=False)
    """``operations`` as a set of names."""

    def __post_init__(self) -> None:
        operations = self.operations
        names = (
            None
            if operations is None
            else frozenset({operations} if isinstance(operations, str) else operations)
        )
        object.__setattr__(self, "operation_set", names)
        if self.service not in (None, *SERVICES):
            raise ValueError(f"service must be 'dynamodb', 's3' or None, not {self.service!r}")
        if names is not None:
            object.__setattr__(self, "service", _service_for(names, self.service))
        if self.after < 0:
            raise ValueError(f"after must not be negative, not {self.after!r}")
        if self.times is not None and self.times < 0:
            raise ValueError(f"times must not be negative, not {self.times!r}")
        if isinstance(self.action, Unprocessed) and names != frozenset({"BatchWriteItem"}):
            raise ValueError("Unprocessed applies to operations='BatchWriteItem' only")

    def matches(self, request: ProxyRequest) -> bool:
        """Whether ``request`` is one this rule counts."""
        if request.service is None or request.operation is None:
            return False
        if self.service is not None and request.service != self.service:
            return False
        if self.operation_set is not None and request.operation not in self.operation_set:
            return False
        return self.when is None or bool(self.when(request))


def _service_for(operations: frozenset[str], service: Service | None) -> Service:
    """The one service all of ``operations`` belong to (checked against ``service``)."""
    if not operations:
        raise ValueError("operations must name at least one operation, or be None")
    if service is not None:
        unknown = sorted(operations - operations_of(service))
        if unknown:
            raise ValueError(f"{service} has no operation {', '.join(map(repr, unknown))}")
        return service
    services = {name: service_of(name) for name in operations}
    unknown = sorted(name for name, owner in services.items() if owner is None)
    if unknown:
        raise ValueError(
            f"neither DynamoDB nor S3 has an operation {', '.join(map(repr, unknown))}"
        )
    owners = {owner for owner in services.values() if owner is not None}
    if len(owners) > 1:
        raise ValueError("one rule's operations must all belong to one service")
    return owners.pop()


@dataclass(frozen=True)
class RuleStats:
    """What one exact rule has seen since it was put in force (a snapshot)."""

    matched: int = 0
    """Matching requests that reached the rule, including those it let through."""
    fired: int = 0
    """Requests the rule applied its action to."""


# --- decisions ----------------------------------------------------------------------


@dataclass
class _RandomState:
    """The generator and fault budget belonging to one set of random rules."""

    rules: FaultRules
    rng: random.Random = field(init=False)
    faults: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.rules.seed)


@dataclass
class _RuleState:
    """The counts and generator of one exact rule in force."""

    rule: ExactRule
    matched: int = 0
    fired: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.rule.seed)


class FaultDecider:
    """Chooses each request's fault: the first exact rule that fires, else the random rates.

    Exact rules are checked in order; a request that one of them faults goes no further, so
    later rules do not count it. Replacing either kind of rules starts them afresh: a new
    generator from the seed, a new ``max_faults`` budget, exact rule counts from zero.
    """

    def __init__(self, rules: FaultRules, exact_rules: Sequence[ExactRule] = ()) -> None:
        self._lock = threading.Lock()
        self._random = _RandomState(rules)
        self._exact = _rule_states(exact_rules)
        self._retired: list[_RuleState] = []

    @property
    def rules(self) -> FaultRules:
        """The random rules in force."""
        with self._lock:
            return self._random.rules

    @rules.setter
    def rules(self, rules: FaultRules) -> None:
        with self._lock:
            self._random = _RandomState(rules)

    @property
    def exact_rules(self) -> tuple[ExactRule, ...]:
        """The exact rules in force, in the order they are checked."""
        with self._lock:
            return tuple(state.rule for state in self._exact)

    @exact_rules.setter
    def exact_rules(self, rules: Sequence[ExactRule]) -> None:
        states = _rule_states(rules)
        with self._lock:
            self._retired.extend(self._exact)
            self._exact = states

    def rule_stats(self, rule: ExactRule) -> RuleStats:
        """What ``rule`` has matched and fired while in force (the last time, if replaced)."""
        with self._lock:
            for state in [*self._exact, *reversed(self._retired)]:
                if state.rule is rule:
                    return RuleStats(matched=state.matched, fired=state.fired)
        raise KeyError(f"{rule!r} was never one of the exact rules in force")

    def decide(self, request: ProxyRequest, can_split: bool) -> FaultDecision | None:
        """The fault for ``request``, or None; counts it against the rule that chose it.

        ``can_split`` tells whether the request is a BatchWriteItem that Unprocessed can split.
        """
        with self._lock:
            for state in self._exact:
                rule = state.rule
                if isinstance(rule.action, Unprocessed) and not can_split:
                    continue
                if not rule.matches(request):
                    continue
                state.matched += 1
                if state.matched <= rule.after:
                    continue
                if rule.times is not None and state.matched > rule.after + rule.times:
                    continue
                state.fired += 1
                return FaultDecision(rule.action, state.rng.getrandbits(64), rule)
            return self._decide_at_random(request, can_split)

    def _decide_at_random(self, request: ProxyRequest, can_split: bool) -> FaultDecision | None:
        """The fault the random rates give ``request``, if any (called holding the lock)."""
        state = self._random
        rules = state.rules
        if request.service is None or not rules.applies_to(request.operation):
            return None
        if rules.max_faults is not None and state.faults >= rules.max_faults:
            return None
        rng = state.rng
        throttle, error, drop, unprocessed, timing = (rng.random() for _ in range(5))
        seed = rng.getrandbits(64)
        cut = rng.random() if rules.cut_rate > 0 else 1.0
        action: FaultAction | None = None
        if throttle < rules.throttle_rate:
            action = Throttle()
        elif error < rules.error_rate:
            code = INTERNAL_ERROR_CODES[request.service]
            action = ErrorReply(500, code, after=_is_after(rules.error_timing, timing))
        elif drop < rules.drop_rate:
            action = Drop(after=_is_after(rules.drop_timing, timing))
        elif can_split and unprocessed < rules.unprocessed_rate:
            action = Unprocessed()
        elif cut < rules.cut_rate:
            action = CutBody()
        if action is None:
            return None
        state.faults += 1
        return FaultDecision(action, seed)


def _rule_states(rules: Sequence[ExactRule]) -> list[_RuleState]:
    """Fresh states for ``rules``, which must be distinct objects."""
    states = [_RuleState(rule) for rule in rules]
    if len({id(rule) for rule in rules}) != len(states):
        raise ValueError("each exact rule may be in force only once")
    return states


def _is_after(timing: Timing, draw: float) -> bool:
    """Whether a fault with ``timing`` happens after forwarding, given a uniform draw."""
    if timing == "random":
        return draw >= 0.5
    return timing == "after"


__all__ = [
    "CutBody",
    "Drop",
    "ErrorReply",
    "ExactRule",
    "FaultAction",
    "FaultDecider",
    "FaultDecision",
    "FaultRules",
    "RuleStats",
    "Throttle",
    "Timing",
    "Unprocessed",
]
