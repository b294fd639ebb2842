"""The ``Condition`` element of an IAM policy: operators, their values, their truth.

A condition block maps operators to ``{key: value or [values]}``. Every operator and
every key must hold (AND); the values listed for one key are alternatives (OR), and
for a negated operator (``StringNotEquals``, ``NotIpAddress`` …) the request value must
match none of them. ``IfExists`` after an operator (all but ``Null``) makes a missing
key true; ``ForAnyValue:`` and ``ForAllValues:`` before it compare every value of a
multivalued key. A key missing from the request makes a condition false, except for
negated operators (true), ``IfExists`` (true), ``ForAllValues`` (true) and ``Null``,
which tests exactly that. With a set prefix, empty-string request values count as
no value (a null data set); for ``Null`` a key whose values are all empty is null.
Without a set prefix, a multivalued key holds when any of its values matches (for a
negated operator, when none does).

Numbers compare as ``Decimal``; dates as exact seconds since the epoch, written as
ISO 8601 or as epoch seconds. A request value that cannot be read as the operator's
type (a word where a number is expected) matches nothing, negated or not.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Final

from ddbpipe.server.policy_context import RequestContext
from ddbpipe.server.policy_variables import (
    arn_regex,
    glob_regex,
    literal_text,
    resolve,
)

__all__ = [
    "OPERATORS",
    "Condition",
    "condition_holds",
    "parse_conditions",
    "parse_date",
    "parse_number",
]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Operand = str | Decimal | bytes | bool | _Network


@dataclass(frozen=True)
class _Operator:
    kind: str  # string, numeric, date, bool, binary, ip, arn, null
    test: str  # the positive comparison: equals, equals-ignore-case, like, lt, le, gt, ge
    negated: bool = False


def _family(prefix: str, kind: str) -> dict[str, _Operator]:
    return {
        f"{prefix}Equals": _Operator(kind, "equals"),
        f"{prefix}NotEquals": _Operator(kind, "equals", negated=True),
        f"{prefix}LessThan": _Operator(kind, "lt"),
        f"{prefix}LessThanEquals": _Operator(kind, "le"),
        f"{prefix}GreaterThan": _Operator(kind, "gt"),
        f"{prefix}GreaterThanEquals": _Operator(kind, "ge"),
    }


OPERATORS: Final[Mapping[str, _Operator]] = {
    "StringEquals": _Operator("string", "equals"),
    "StringNotEquals": _Operator("string", "equals", negated=True),
    "StringEqualsIgnoreCase": _Operator("string", "equals-ignore-case"),
    "StringNotEqualsIgnoreCase": _Operator("string", "equals-ignore-case", negated=True),
    "StringLike": _Operator("string", "like"),
    "StringNotLike": _Operator("string", "like", negated=True),
    **_family("Numeric", "numeric"),
    **_family("Date", "date"),
    "Bool": _Operator("bool", "equals"),
    "BinaryEquals": _Operator("binary", "equals"),
    "IpAddress": _Operator("ip", "in"),
    "NotIpAddress": _Operator("ip", "in", negated=True),
    "ArnEquals": _Operator("arn", "like"),
    "ArnLike": _Operator("arn", "like"),
    "ArnNotEquals": _Operator("arn", "like", negated=True),
    "ArnNotLike": _Operator("arn", "like", negated=True),
    "Null": _Operator("null", "equals"),
}

_QUALIFIERS = ("ForAnyValue", "ForAllValues")
_KEY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*:.+", re.DOTALL)


@dataclass(frozen=True)
class Condition:
    """One key tested by one operator, as written in a policy.

    ``operator`` is the full name (``ForAnyValue:StringLikeIfExists``); ``base`` the
    operator without prefix and suffix (``StringLike``); ``qualifier`` is ``""``,
    ``"ForAnyValue"`` or ``"ForAllValues"``. ``values`` are the policy's values as
    text; ``operands`` the same values read as the operator's type.
    """

    operator: str
    base: str
    qualifier: str
    if_exists: bool
    key: str
    values: tuple[str, ...]
    operands: tuple[_Operand, ...] = field(repr=False, compare=False)


def parse_conditions(block: object, where: str, problems: list[str]) -> tuple[Condition, ...]:
    """Read a ``Condition`` element; each problem found is added to ``problems``.

    ``where`` names the statement in the messages.
    """
    if not isinstance(block, Mapping):
        problems.append(f"{where}: Condition must be an object of operators")
        return ()
    conditions: list[Condition] = []
    for operator, keys in block.items():
        parsed = _parse_operator(operator)
        if isinstance(parsed, str):
            problems.append(f"{where}: Condition operator {operator!r}: {parsed}")
            continue
        qualifier, base, if_exists = parsed
        if not isinstance(keys, Mapping) or not keys:
            problems.append(
                f"{where}: Condition operator {operator!r} must map condition keys to values"
            )
            continue
        for key in getattr(keys, "duplicates", ()):
            problems.append(f"{where}: Condition {operator}: key {key!r} appears more than once")
        for key, raw in keys.items():
            place = f"{where}: Condition {operator} {key!r}"
            condition = _parse_condition(operator, qualifier, base, if_exists, key, raw, place)
            if isinstance(condition, str):
                problems.append(condition)
            else:
                conditions.append(condition)
    return tuple(conditions)


def _parse_operator(name: str) -> tuple[str, str, bool] | str:
    qualifier, _, rest = name.rpartition(":")
    if qualifier and qualifier not in _QUALIFIERS:
        return f"unknown prefix {qualifier!r} (ForAnyValue or ForAllValues)"
    if rest in OPERATORS:
        return qualifier, rest, False
    if rest.endswith("IfExists") and rest[: -len("IfExists")] in OPERATORS:
        base = rest[: -len("IfExists")]
        if base == "Null":
            return "IfExists cannot be added to Null"
        return qualifier, base, True
    return "unknown operator"


def _parse_condition(
    operator: str,
    qualifier: str,
    base: str,
    if_exists: bool,
    key: object,
    raw: object,
    place: str,
) -> Condition | str:
    if not isinstance(key, str) or not _KEY_NAME.fullmatch(key):
        return f"{place}: a condition key is service:name, such as aws:username"
    items = list(raw) if isinstance(raw, list) else [raw]
    if not items:
        return f"{place}: no values"
    values: list[str] = []
    for item in items:
        text = _value_text(item)
        if text is None:
            return f"{place}: value {item!r} is not a string, number or boolean"
        values.append(text)
    kind = OPERATORS[base].kind
    operands: list[_Operand] = []
    for text in values:
        operand = _read_operand(kind, text)
        if operand is None:
            return f"{place}: {text!r} is not {_KIND_NAMES[kind]}"
        operands.append(operand)
    return Condition(operator, base, qualifier, if_exists, key, tuple(values), tuple(operands))


_KIND_NAMES = {
    "numeric": "a number",
    "date": "an ISO 8601 date or epoch seconds",
    "bool": '"true" or "false"',
    "binary": "base64",
    "ip": "an IP address or CIDR range",
    "null": '"true" or "false"',
}


def _value_text(item: object) -> str | None:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, str):
        return item
    if isinstance(item, int | Decimal):
        return str(item)
    if isinstance(item, float):
        return repr(item)
    return None


def _read_operand(kind: str, text: str) -> _Operand | None:
    if kind in ("string", "arn"):
        return text
    if kind == "numeric":
        return parse_number(text)
    if kind == "date":
        return parse_date(text)
    if kind in ("bool", "null"):
        lowered = text.lower()
        return lowered == "true" if lowered in ("true", "false") else None
    if kind == "binary":
        return _decode_base64(text)
    return _parse_network(text)


def parse_number(text: str) -> Decimal | None:
    """``text`` as an exact finite number, or ``None``."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex admits only numbers
        return None


_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


_EPOCH_SECONDS = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_ISO_DATE = re.compile(
    r"(\d{4})-(\d{2})(?:-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?"
    r"(Z|z|[+-]\d{2}:?\d{2})?)?)?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_date(text: str) -> Decimal | None:
    """``text`` (ISO 8601 or epoch seconds) as exact seconds since the epoch, or ``None``.

    ISO forms are the W3C profile: ``YYYY-MM``, ``YYYY-MM-DD``, then ``Thh:mm``,
    ``:ss`` and fractions, with ``Z`` or ``±hh:mm``; a time without a zone is UTC.
    A bare number is epoch seconds.
    """
    text = text.strip()
    if _EPOCH_SECONDS.fullmatch(text):
        return Decimal(text)
    match = _ISO_DATE.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=_zone(zone),
        )
    except ValueError:
        return None
    delta = moment - _EPOCH
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(fraction or 0)


def _zone(text: str | None) -> timezone:
    if text is None or text in ("Z", "z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(sign * offset)


def _decode_base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _parse_network(text: str) -> _Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def condition_holds(condition: Condition, context: RequestContext, *, variables: bool) -> bool:
    """Whether ``condition`` holds for the request ``context``.

    ``variables`` says whether policy variables are read (policy version 2012-10-17).
    """
    operator = OPERATORS[condition.base]
    values = context.values_of(condition.key)
    if operator.kind == "null":
        present = values is not None and any(value != "" for value in values)
        return any(expect_absent != present for expect_absent in condition.operands)
    if values is None:
        if condition.if_exists:
            return True
        if condition.qualifier:
            return condition.qualifier == "ForAllValues"
        return operator.negated
    test = _value_test(condition, operator, context, variables)
    if condition.qualifier:
        members = [value for value in values if value != ""]
        if condition.qualifier == "ForAllValues":
            return all(test(value) for value in members)
        return any(test(value) for value in members)
    if operator.negated:
        return all(test(value) for value in values)
    return any(test(value) for value in values)


def _value_test(
    condition: Condition, operator: _Operator, context: RequestContext, variables: bool
) -> Callable[[str], bool]:
    """A test of one request value: true when it satisfies the operator (negation
    included); false when the value cannot be read as the operator's type."""
    compare = _comparison(condition, operator, context, variables)

    def test(value: str) -> bool:
        matched = compare(value)
        if matched is None:
            return False
        return not matched if operator.negated else matched

    return test


def _comparison(
    condition: Condition, operator: _Operator, context: RequestContext, variables: bool
) -> Callable[[str], bool | None]:
    """Whether a request value matches any policy value (``None``: unreadable)."""
    kind, test = operator.kind, operator.test
    if kind in ("string", "arn"):
        return _text_comparison(condition.values, kind, test, context, variables)
    if kind in ("numeric", "date"):
        reader = parse_number if kind == "numeric" else parse_date
        bounds = [operand for operand in condition.operands if isinstance(operand, Decimal)]
        order = _ORDER[test]

        def ordered(value: str) -> bool | None:
            number = reader(value)
            return None if number is None else any(order(number, b) for b in bounds)

        return ordered
    if kind == "bool":

        def boolean(value: str) -> bool | None:
            lowered = value.lower()
            if lowered not in ("true", "false"):
                return None
            return (lowered == "true") in condition.operands

        return boolean
    if kind == "binary":

        def binary(value: str) -> bool | None:
            data = _decode_base64(value)
            return None if data is None else data in condition.operands

        return binary
    networks = [operand for operand in condition.operands if isinstance(operand, _Network)]

    def address(value: str) -> bool | None:
        try:
            ip = ipaddress.ip_address(value.strip())
        except ValueError:
            return None
        return any(ip in network for network in networks)

    return address


_ORDER: Mapping[str, Callable[[Decimal, Decimal], bool]] = {
    "equals": lambda a, b: a == b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


def _text_comparison(
    policy_values: Sequence[str],
    kind: str,
    test: str,
    context: RequestContext,
    variables: bool,
) -> Callable[[str], bool | None]:
    resolved = [resolve(text, context.single, variables=variables) for text in policy_values]
    # A value whose variable has no value matches nothing.
    tokens = [value for value in resolved if value is not None]
    if kind == "arn":
        patterns = [arn_regex(value) for value in tokens]
        return lambda value: any(p.fullmatch(value) for p in patterns)
    if test == "like":
        patterns = [glob_regex(value) for value in tokens]
        return lambda value: any(p.fullmatch(value) for p in patterns)
    texts = {literal_text(value) for value in tokens}
    if test == "equals":
        return lambda value: value in texts
    folded = {text.casefold() for text in texts}
    return lambda value: value.casefold() in folded
