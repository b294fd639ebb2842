"""IAM identity-based policies: reading and checking documents, deciding requests.

A policy document is JSON: a ``Version`` (``2012-10-17``, or the older ``2008-10-17``
under which policy variables are plain text) and a ``Statement`` (one object or a
list). Each statement has an optional ``Sid`` (letters and digits, unique in the
policy), an ``Effect`` (``Allow`` or ``Deny``, case-sensitive), exactly one of
``Action``/``NotAction``, exactly one of ``Resource``/``NotResource``, and an optional
``Condition`` (``ddbpipe.server.policy_conditions``). ``parse_policy`` checks all of
it and reports every problem at once in a ``PolicyDocumentError``.

``evaluate`` decides one request (an action, a resource ARN or ``*``, and the request
context) against the policies of a principal, as IAM does within one account: a
statement that applies with ``Deny`` denies explicitly, whatever allows; otherwise a
statement that applies with ``Allow`` allows; otherwise the request is implicitly
denied. Actions match case-insensitively, resources case-sensitively and component by
component (``ddbpipe.server.policy_variables``), both with ``*`` and ``?``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

from ddbpipe.errors import ConfigError
from ddbpipe.server.policy_conditions import Condition, condition_holds, parse_conditions
from ddbpipe.server.policy_context import RequestContext, request_context
from ddbpipe.server.policy_variables import (
    Variable,
    Wildcard,
    arn_regex,
    glob_regex,
    parse_tokens,
    resolve,
)

__all__ = [
    "VERSION_2008",
    "VERSION_2012",
    "Condition",
    "Decision",
    "Policy",
    "PolicyDocumentError",
    "RequestContext",
    "Statement",
    "access_denied_message",
    "evaluate",
    "parse_policy",
    "request_context",
]

VERSION_2012: Final = "2012-10-17"
VERSION_2008: Final = "2008-10-17"

_POLICY_ELEMENTS = frozenset({"Version", "Statement", "Id"})
_STATEMENT_ELEMENTS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
_SID = re.compile(r"[A-Za-z0-9]*")
_ACTION = re.compile(r"([^:]+):([A-Za-z0-9_.*?-]+)")
_SERVICE = re.compile(r"[A-Za-z0-9-]+")


class PolicyDocumentError(ConfigError):
    """A policy document is not valid; ``problems`` says what is wrong and where."""

    def __reduce__(self) -> tuple[type[PolicyDocumentError], tuple[tuple[str, ...]]]:
        return type(self), (self.problems,)


@dataclass(frozen=True)
class Statement:
    """One statement of a policy.

    ``actions`` holds the ``Action`` patterns, or the ``NotAction`` ones when
    ``not_action`` is true; ``resources`` likewise for ``Resource``/``NotResource``.
    ``index`` is the statement's 0-based place in the policy.
    """

    index: int
    sid: str | None
    effect: str
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[Condition, ...] = ()

    @property
    def label(self) -> str:
        """How messages name the statement: ``Statement[2] (Sid "ReadTables")``."""
        return _label(self.index, self.sid)


@dataclass(frozen=True)
class Policy:
    """A valid identity-based policy; ``name`` names it in decisions."""

    statements: tuple[Statement, ...]
    version: str | None = VERSION_2012
    name: str = ""

    @property
    def variables(self) -> bool:
        """Whether policy variables are read (only under version 2012-10-17)."""
        return self.version == VERSION_2012


@dataclass(frozen=True)
class Decision:
    """The outcome of one request.

    ``allowed`` is true when a statement allowed the request and none denied it;
    ``explicit_deny`` when a ``Deny`` statement applied. When neither, the request was
    implicitly denied and ``policy``/``statement``/``sid`` are ``None``; otherwise they
    name the statement that decided.
    """

    action: str
    resource: str
    allowed: bool
    explicit_deny: bool = False
    policy: str | None = None
    statement: int | None = None
    sid: str | None = None

    @property
    def implicit_deny(self) -> bool:
        """No statement allowed the request and none denied it."""
        return not self.allowed and not self.explicit_deny


def parse_policy(document: str | bytes | Mapping[str, Any], *, name: str = "") -> Policy:
    """Read and check an identity-based policy document (JSON text or a dict).

    Raises ``PolicyDocumentError`` listing every problem found; each message names
    the policy (when ``name`` is given), the statement and the element.
    """
    problems: list[str] = []
    data = _load(document, problems)
    policy = _read_policy(data, name, problems) if data is not None else None
    if problems or policy is None:
        prefix = f"policy {name!r}: " if name else ""
        raise PolicyDocumentError([prefix + problem for problem in problems])
    return policy


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers the keys it was given more than once."""

    duplicates: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, Any]]) -> _JsonObject:
    result = _JsonObject()
    seen: list[str] = []
    for key, value in pairs:
        if key in result and key not in seen:
            seen.append(key)
        result[key] = value
    result.duplicates = tuple(seen)
    return result


def _load(document: str | bytes | Mapping[str, Any], problems: list[str]) -> object:
    if isinstance(document, Mapping):
        return document
    try:
        return json.loads(document, object_pairs_hook=_object_pairs, parse_float=Decimal)
    except json.JSONDecodeError as error:
        problems.append(f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}")
    except UnicodeDecodeError:
        problems.append("not valid JSON: the text is not UTF-8")
    return None


def _duplicates(obj: Mapping[str, Any], where: str, problems: list[str]) -> None:
    for key in getattr(obj, "duplicates", ()):
        problems.append(f"{where}: element {key!r} appears more than once")


def _read_policy(data: object, name: str, problems: list[str]) -> Policy | None:
    if not isinstance(data, Mapping):
        problems.append("a policy document is a JSON object")
        return None
    _duplicates(data, "policy", problems)
    for key in data:
        if key == "Id":
            problems.append("Id is not allowed in an identity-based policy")
        elif key not in _POLICY_ELEMENTS:
            problems.append(f"unknown element {key!r} (Version, Statement)")
    version = data.get("Version")
    if version is not None and version not in (VERSION_2012, VERSION_2008):
        problems.append(f'Version must be "{VERSION_2012}" or "{VERSION_2008}", not {version!r}')
    raw = data.get("Statement")
    if raw is None:
        problems.append("Statement is missing")
        return None
    items: Sequence[object] = raw if isinstance(raw, list) else [raw]
    if not items:
        problems.append("Statement is empty")
    variables = version == VERSION_2012
    statements = [
        _read_statement(index, item, variables, problems) for index, item in enumerate(items)
    ]
    _check_sids(statements, problems)
    valid = tuple(s for s in statements if s is not None)
    return Policy(valid, version if isinstance(version, str) else None, name)


def _label(index: int, sid: str | None) -> str:
    return f'Statement[{index}] (Sid "{sid}")' if sid else f"Statement[{index}]"


def _read_statement(
    index: int, item: object, variables: bool, problems: list[str]
) -> Statement | None:
    if not isinstance(item, Mapping):
        problems.append(f"Statement[{index}]: a statement is a JSON object")
        return None
    before = len(problems)
    sid = item.get("Sid")
    where = _label(index, sid if isinstance(sid, str) else None)
    _duplicates(item, where, problems)
    for key in item:
        if key in ("Principal", "NotPrincipal"):
            problems.append(f"{where}: {key} is not allowed in an identity-based policy")
        elif key not in _STATEMENT_ELEMENTS:
            problems.append(f"{where}: unknown element {key!r}")
    if sid is not None and (not isinstance(sid, str) or not _SID.fullmatch(sid)):
        problems.append(f"{where}: Sid {sid!r} may hold only the letters A-Z, a-z and digits")
    effect = item.get("Effect")
    if effect is None:
        problems.append(f"{where}: Effect is missing")
    elif effect not in ("Allow", "Deny"):
        problems.append(
            f'{where}: Effect must be "Allow" or "Deny" (case-sensitive), not {effect!r}'
        )
    actions, not_action = _pair(item, "Action", "NotAction", where, problems)
    for action in actions:
        _check_action(action, where, problems)
    resources, not_resource = _pair(item, "Resource", "NotResource", where, problems)
    for resource in resources:
        _check_resource(resource, variables, where, problems)
    conditions: tuple[Condition, ...] = ()
    if "Condition" in item:
        block = item["Condition"]
        if isinstance(block, Mapping):
            _duplicates(block, f"{where}: Condition", problems)
        conditions = parse_conditions(block, where, problems)
    if len(problems) > before:
        return None
    return Statement(
        index,
        sid or None,
        str(effect),
        actions,
        not_action,
        resources,
        not_resource,
        conditions,
    )


def _pair(
    item: Mapping[str, Any], positive: str, negative: str, where: str, problems: list[str]
) -> tuple[tuple[str, ...], bool]:
    """The values of ``positive`` or ``negative`` (exactly one must be there)."""
    has_positive, has_negative = positive in item, negative in item
    if has_positive and has_negative:
        problems.append(f"{where}: has both {positive} and {negative}; use one")
        return (), False
    if not has_positive and not has_negative:
        problems.append(f"{where}: needs {positive} or {negative}")
        return (), False
    element = positive if has_positive else negative
    raw = item[element]
    values = raw if isinstance(raw, list) else [raw]
    if not values:
        problems.append(f"{where}: {element} is an empty list")
    for value in values:
        if not isinstance(value, str) or not value:
            problems.append(f"{where}: {element} value {value!r} is not a non-empty string")
            return (), has_negative
    return tuple(values), has_negative


def _check_action(action: str, where: str, problems: list[str]) -> None:
    if action == "*":
        return
    match = _ACTION.fullmatch(action)
    if match is None:
        problems.append(
            f"{where}: Action {action!r} must be service:action, such as dynamodb:Scan, or *"
        )
    elif not _SERVICE.fullmatch(match.group(1)):
        problems.append(f"{where}: Action {action!r}: the service prefix cannot hold wildcards")


def _check_resource(resource: str, variables: bool, where: str, problems: list[str]) -> None:
    if resource == "*":
        return
    parts = parse_tokens(resource, variables=variables)
    colons = sum(part.count(":") for part in parts if isinstance(part, str))
    if not resource.startswith("arn:") or colons < 5:
        problems.append(
            f"{where}: Resource {resource!r} must be an ARN "
            '(arn:partition:service:region:account:resource) or "*"'
        )
        return
    component = 0
    for part in parts:
        if isinstance(part, str):
            component += part.count(":")
        elif isinstance(part, Variable) and component < 5:
            problems.append(
                f"{where}: Resource {resource!r}: a policy variable may stand only in the "
                "resource part of an ARN, after the fifth colon"
            )
            return
        elif isinstance(part, Wildcard) and component == 2:
            problems.append(
                f"{where}: Resource {resource!r}: the service part of an ARN cannot hold wildcards"
            )
            return


def _check_sids(statements: Sequence[Statement | None], problems: list[str]) -> None:
    first: dict[str, int] = {}
    for statement in statements:
        if statement is None or not statement.sid:
            continue
        if statement.sid in first:
            problems.append(
                f'Sid "{statement.sid}" is used by Statement[{first[statement.sid]}] and '
                f"Statement[{statement.index}]; a Sid must be unique in a policy"
            )
        else:
            first[statement.sid] = statement.index


def evaluate(
    policies: Iterable[Policy],
    action: str,
    resource: str = "*",
    context: RequestContext | Mapping[str, str | Iterable[str]] | None = None,
) -> Decision:
    """Decide whether ``policies`` allow ``action`` on ``resource`` in ``context``.

    An explicit deny in any policy wins; otherwise the first statement that allows
    decides; otherwise the request is implicitly denied.
    """
    if not isinstance(context, RequestContext):
        context = RequestContext(context)
    allowed_by: tuple[Policy, Statement] | None = None
    for policy in policies:
        for statement in policy.statements:
            if not _applies(statement, action, resource, context, policy.variables):
                continue
            if statement.effect == "Deny":
                return Decision(
                    action, resource, False, True, policy.name, statement.index, statement.sid
                )
            if allowed_by is None:
                allowed_by = (policy, statement)
    if allowed_by is None:
        return Decision(action, resource, False)
    policy, statement = allowed_by
    return Decision(action, resource, True, False, policy.name, statement.index, statement.sid)


def _applies(
    statement: Statement, action: str, resource: str, context: RequestContext, variables: bool
) -> bool:
    if _action_listed(statement.actions, action) == statement.not_action:
        return False
    if (
        _resource_listed(statement.resources, resource, context, variables)
        == statement.not_resource
    ):
        return False
    return all(condition_holds(c, context, variables=variables) for c in statement.conditions)


def _action_listed(patterns: tuple[str, ...], action: str) -> bool:
    return any(_action_regex(pattern).fullmatch(action) for pattern in patterns)


@lru_cache(maxsize=4096)
def _action_regex(pattern: str) -> re.Pattern[str]:
    tokens = tuple(
        part for part in parse_tokens(pattern, variables=False) if not isinstance(part, Variable)
    )
    return glob_regex(tokens, ignore_case=True)


def _resource_listed(
    patterns: tuple[str, ...], resource: str, context: RequestContext, variables: bool
) -> bool:
    for pattern in patterns:
        tokens = resolve(pattern, context.single, variables=variables)
        # A resource whose variable has no value matches no resource.
        if tokens is not None and arn_regex(tokens).fullmatch(resource):
            return True
    return False


def access_denied_message(principal_arn: str, decision: Decision) -> str:
    """AWS's sentence for a refused request.

    ``User: <arn> is not authorized to perform: <action> on resource: <resource>``,
    followed by ``with an explicit deny in an identity-based policy`` when a ``Deny``
    statement refused it. Raises ``ValueError`` for an allowed request.
    """
    if decision.allowed:
        raise ValueError(f"{decision.action} on {decision.resource} was allowed")
    message = (
        f"User: {principal_arn} is not authorized to perform: {decision.action} "
        f"on resource: {decision.resource}"
    )
    if decision.explicit_deny:
        message += " with an explicit deny in an identity-based policy"
    return message
