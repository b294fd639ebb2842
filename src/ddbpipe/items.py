"""DynamoDB's rules for items and attribute values.

Items are held in DynamoDB's wire form, the JSON its HTTP API sends and receives:
``{"S": "text"}``, ``{"N": "12.5"}`` (numbers stay strings), ``{"B": "AAEC"}``
(standard padded base64 text, never raw bytes), ``{"SS": [...]}``, ``{"NS": [...]}``,
``{"BS": [...]}``, ``{"M": {...}}``, ``{"L": [...]}``, ``{"NULL": True}``,
``{"BOOL": False}``. Scan pages decode straight into this form and BatchWriteItem
bodies encode straight from it, so no value is converted on the hot path.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ddbpipe.errors import ItemError

__all__ = [
    "KEY_TYPES",
    "MAX_ITEM_SIZE",
    "MAX_NESTING",
    "MAX_NUMBER_DIGITS",
    "MAX_PARTITION_KEY_BYTES",
    "MAX_SORT_KEY_BYTES",
    "AttributeValue",
    "Item",
    "KeyAttribute",
    "KeySchema",
    "attribute_size",
    "check_index_keys",
    "check_key",
    "check_number",
    "check_value",
    "is_plain_spelling",
    "item_size",
    "key_of",
    "normalize_number",
    "plain_number",
    "plain_spelling",
    "validate_item",
]

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]
KeyType = Literal["S", "N", "B"]

KEY_TYPES: frozenset[str] = frozenset({"S", "N", "B"})
MAX_ITEM_SIZE = 400 * 1024
MAX_NESTING = 32
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024
MAX_NUMBER_DIGITS = 38
MIN_NUMBER_EXPONENT = -130
MAX_NUMBER_EXPONENT = 125

_NUMBER = re.compile(r"([+-]?)(?:([0-9]+)\.?([0-9]*)|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?")
# A number as DynamoDB returns it: plain notation, no redundant zeros, no "-0".
_PLAIN_SPELLING = re.compile(r"-?(?:[1-9][0-9]*(?:\.[0-9]*[1-9])?|0\.[0-9]*[1-9])|0")


def normalize_number(text: str) -> tuple[str, str, int]:
    """Split a DynamoDB number into ``(sign, significant digits, exponent)``.

    The value is ``sign 0.DIGITS * 10**exponent``; zero is ``("", "", 0)``. Raises
    ``ItemError`` when ``text`` is not a number DynamoDB stores: bad syntax, more than
    38 significant digits, or a magnitude outside 1E-130 … 9.99…E+125.
    """
    match = _NUMBER.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ItemError(f"{text!r} is not a number")
    sign, whole, fraction, bare_fraction, exponent = match.groups()
    if bare_fraction is not None:
        whole, fraction = "", bare_fraction
    digits = whole + fraction
    stripped = digits.lstrip("0")
    significant = stripped.rstrip("0")
    if not significant:
        return "", "", 0
    if len(significant) > MAX_NUMBER_DIGITS:
        raise ItemError(
            f"number {text!r} has {len(significant)} significant digits; DynamoDB keeps at most 38"
        )
    # Position of the decimal point relative to the first significant digit.
    point = int(exponent or 0) + len(whole) - (len(digits) - len(stripped))
    adjusted = point - 1
    if adjusted > MAX_NUMBER_EXPONENT:
        raise ItemError(f"number {text!r} is too large for DynamoDB (at most 9.99…E+125)")
    if adjusted < MIN_NUMBER_EXPONENT:
        raise ItemError(f"number {text!r} is too small for DynamoDB (at least 1E-130)")
    return ("-" if sign == "-" else ""), significant, point


def plain_number(sign: str, digits: str, point: int) -> str:
    """``sign 0.DIGITS * 10**point`` (as ``normalize_number`` splits it) in the plain
    notation DynamoDB returns numbers in: ``2000``, ``1.5``, ``0.001``, ``0``."""
    if not digits:
        return "0"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def is_plain_spelling(text: str) -> bool:
    """Whether ``text`` is spelled as DynamoDB returns numbers (``2000``, ``1.5``), which
    says nothing of DynamoDB's digit and magnitude limits."""
    return _PLAIN_SPELLING.fullmatch(text) is not None


def plain_spelling(text: str) -> str:
    """Any spelling of a number DynamoDB stores (``2e3``, ``1.50``) as DynamoDB returns
    it (``2000``, ``1.5``); raises ``ItemError`` as ``normalize_number`` does."""
    if len(text) <= MAX_NUMBER_DIGITS and is_plain_spelling(text):
        return text  # already plain, and too short to break DynamoDB's limits
    return plain_number(*normalize_number(text))


def check_number(text: str) -> None:
    """Raise ``ItemError`` unless ``text`` is a number DynamoDB can store."""
    normalize_number(text)


def _binary_length(text: str) -> int:
    """Decoded length of standard base64 ``text``, without decoding it."""
    size = len(text)
    if size == 0:
        return 0
    return size * 3 // 4 - text.endswith("=") - text.endswith("==")


def _check_base64(text: object) -> None:
    if not isinstance(text, str):
        raise ItemError(f"binary value must be base64 text, not {type(text).__name__}")
    try:
        binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error as exc:
        raise ItemError(f"binary value {text[:40]!r} is not valid base64: {exc}") from None


def _number_size(text: str) -> int:
    sign, significant, _ = normalize_number(text)
    if not significant:
        return 1
    return 1 + (len(significant) + 1) // 2 + (1 if sign else 0)


def attribute_size(value: AttributeValue) -> int:
    """Bytes a value counts toward the 400 KB item limit (DynamoDB's documented rules)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return _number_size(data)
    if kind == "B":
        return _binary_length(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(_number_size(n) for n in data)
    if kind == "BS":
        return sum(_binary_length(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_size(v) for k, v in data.items())
    raise ItemError(f"unknown attribute type {kind!r}")


def item_size(item: Item) -> int:
    """Bytes the item counts toward the 400 KB limit."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def _check_set(kind: str, data: object) -> None:
    if not isinstance(data, list):
        raise ItemError(f"{kind} value must be a list")
    if not data:
        raise ItemError(f"empty {kind} set: DynamoDB does not store empty sets")
    if kind == "SS":
        for element in data:
            if not isinstance(element, str):
                raise ItemError(f"SS element {element!r} is not a string")
        seen: set[object] = set(data)
    elif kind == "NS":
        seen = {normalize_number(n) for n in data}
    else:
        for element in data:
            _check_base64(element)
        seen = {binascii.a2b_base64(b) for b in data}
    if len(seen) != len(data):
        raise ItemError(f"{kind} set has duplicate elements")


def check_value(value: object, depth: int = 1) -> None:
    """Raise ``ItemError`` unless ``value`` is a valid wire-form attribute value."""
    if not isinstance(value, dict) or len(value) != 1:
        raise ItemError(f"attribute value must hold exactly one type, got {value!r:.80}")
    ((kind, data),) = value.items()
    if kind == "S":
        if not isinstance(data, str):
            raise ItemError("S value must be a string")
    elif kind == "N":
        check_number(data)
    elif kind == "B":
        _check_base64(data)
    elif kind in ("SS", "NS", "BS"):
        _check_set(kind, data)
    elif kind == "BOOL":
        if not isinstance(data, bool):
            raise ItemError("BOOL value must be true or false")
    elif kind == "NULL":
        if data is not True:
            raise ItemError("NULL value must be true")
    elif kind in ("M", "L"):
        if depth > MAX_NESTING:
            raise ItemError(f"nesting deeper than {MAX_NESTING} levels")
        if kind == "M":
            if not isinstance(data, dict):
                raise ItemError("M value must be an object")
            for element in data.values():
                check_value(element, depth + 1)
        else:
            if not isinstance(data, list):
                raise ItemError("L value must be a list")
            for element in data:
                check_value(element, depth + 1)
    else:
        raise ItemError(f"unknown attribute type {kind!r}")


@dataclass(frozen=True)
class KeyAttribute:
    """One key attribute: its name and its scalar type."""

    name: str
    type: KeyType


@dataclass(frozen=True)
class KeySchema:
    """A table's primary key: partition (hash) key and optional sort (range) key."""

    hash_key: KeyAttribute
    range_key: KeyAttribute | None = None

    @property
    def attributes(self) -> tuple[KeyAttribute, ...]:
        """The key attributes, partition key first."""
        return (self.hash_key,) if self.range_key is None else (self.hash_key, self.range_key)

    def describe(self) -> str:
        """``id (S), ts (N)`` — for messages."""
        return ", ".join(f"{a.name} ({a.type})" for a in self.attributes)


def check_key(item: Item, schema: KeySchema) -> None:
    """Raise ``ItemError`` unless the item carries every key attribute, well typed and sized."""
    for attribute, limit in (
        (schema.hash_key, MAX_PARTITION_KEY_BYTES),
        (schema.range_key, MAX_SORT_KEY_BYTES),
    ):
        if attribute is None:
            continue
        value = item.get(attribute.name)
        if value is None:
            raise ItemError(f"key attribute {attribute.name!r} is missing")
        ((kind, data),) = value.items()
        if kind != attribute.type:
            raise ItemError(
                f"key attribute {attribute.name!r} is of type {kind}; "
                f"the table wants {attribute.type}"
            )
        size = attribute_size(value)
        if size == 0:
            raise ItemError(f"key attribute {attribute.name!r} is empty")
        if kind == "N":
            check_number(data)
        elif size > limit:
            raise ItemError(
                f"key attribute {attribute.name!r} is {size} bytes; the limit is {limit}"
            )


def check_index_keys(item: Item, types: Mapping[str, str]) -> None:
    """Raise ``ItemError`` when an attribute that keys a secondary index (``types``: name
    to S, N or B) has another type or is empty; an item without it is simply not in
    that index."""
    for name, wanted in types.items():
        value = item.get(name)
        if value is None:
            continue
        ((kind, _),) = value.items()
        if kind != wanted:
            raise ItemError(
                f"index key attribute {name!r} is of type {kind}; the table defines it as {wanted}"
            )
        if attribute_size(value) == 0:
            raise ItemError(f"index key attribute {name!r} is empty")


def key_of(item: Item, schema: KeySchema) -> tuple[object, ...]:
    """A hashable identity of the item's primary key (numbers compared by value)."""
    parts: list[object] = []
    for attribute in schema.attributes:
        ((kind, data),) = item[attribute.name].items()
        parts.append(normalize_number(data) if kind == "N" else data)
    return tuple(parts)


def validate_item(item: Item, schema: KeySchema | None = None) -> None:
    """Raise ``ItemError`` unless DynamoDB would accept the item as it is.

    Checks every value, the 400 KB size limit and, given a key schema, the keys.
    """
    if not item:
        raise ItemError("item has no attributes")
    for name, value in item.items():
        if not name:
            raise ItemError("attribute name is empty")
        try:
            check_value(value)
        except ItemError as exc:
            raise ItemError(f"attribute {name!r}: {exc.reason}") from None
    size = item_size(item)
    if size > MAX_ITEM_SIZE:
        raise ItemError(f"item is {size} bytes; DynamoDB's limit is {MAX_ITEM_SIZE}")
    if schema is not None:
        check_key(item, schema)
