"""Data lines of a native DynamoDB export in the ION format.

A full export holds one item per line of Amazon Ion text, ``$ion_1_0 {Item:{...}}``; an
incremental export holds one change record per line, ``$ion_1_0 {Metadata:
{WriteTimestampMicros:<int>},Keys:{...},OldImage:{...},NewImage:{...}}``, the images
present or absent by the kind of change. DynamoDB types map to Ion as S string, N
decimal, B blob, BOOL bool, NULL ``null``, L list, M struct, and SS / NS / BS a list
annotated ``$dynamodb_SS::`` / ``$dynamodb_NS::`` / ``$dynamodb_BS::``.

The writer follows the docs' example byte for byte: no spaces, attribute and set order
kept, numbers as Ion decimals (``2019.``, ``2d3``, ``1.5``), names bare when they are plain
identifiers and quoted symbols otherwise, text as raw UTF-8 with control characters
escaped, so a line never holds a raw line break.

The reader takes the spelling exports use on a fast path (``ion.fast``) and any other
Ion spelling with amazon-ion (``ion.reader``, imported only when needed), and returns
items in wire form with numbers in the plain notation DynamoDB returns (``2d3`` ->
``"2000"``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ddbpipe.errors import ItemError
from ddbpipe.formats.ddbjson import ChangeRecord
from ddbpipe.formats.ion.fast import fast_change, fast_item
from ddbpipe.items import (
    AttributeValue,
    Item,
    is_plain_spelling,
    normalize_number,
    plain_number,
)

__all__ = [
    "decode_change",
    "decode_line",
    "encode_change",
    "encode_item",
]

# ---------------------------------------------------------------------------- writer

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEYWORDS = frozenset({"null", "true", "false", "nan"})
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f\x7f"\\]')
# A number as DynamoDB returns it: plain notation, no redundant zeros, no "-0".
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}
_CONTROL |= {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", ord("\\"): "\\\\"}
_STRING_ESCAPES = _CONTROL | {ord('"'): '\\"'}
_SYMBOL_ESCAPES = _CONTROL | {ord("'"): "\\'"}


def _string(text: str) -> str:
    if _NEEDS_ESCAPE.search(text) is None:
        return '"' + text + '"'
    return '"' + text.translate(_STRING_ESCAPES) + '"'


@lru_cache(maxsize=4096)
def _name(name: str) -> str:
    if name not in _KEYWORDS and _IDENTIFIER.fullmatch(name):
        return name
    return "'" + name.translate(_SYMBOL_ESCAPES) + "'"


def _number(text: str) -> str:
    """An Ion decimal: ``2019.``, ``2d3``, ``1.5``, ``0.``."""
    if text.isdigit() and text.isascii() and text[0] != "0":
        digits = text.rstrip("0")
        return f"{digits}d{len(text) - len(digits)}" if len(digits) < len(text) else text + "."
    if "." in text and is_plain_spelling(text):
        return text
    sign, digits, point = normalize_number(text)
    if point < len(digits):
        return plain_number(sign, digits, point)
    exponent = point - len(digits)
    return f"{sign}{digits or 0}d{exponent}" if exponent else f"{sign}{digits or 0}."


def _value(value: AttributeValue) -> str:
    for kind, data in value.items():
        if kind == "S":
            return _string(data)
        if kind == "N":
            return _number(data)
        writer = _WRITERS.get(kind)
        if writer is None:
            raise ItemError(f"unknown attribute type {kind!r}")
        return writer(data)
    raise ItemError("attribute value holds no type")


def _struct(fields: Item) -> str:
    return "{" + ",".join([_name(k) + ":" + _value(v) for k, v in fields.items()]) + "}"


_WRITERS: dict[str, Callable[[Any], str]] = {
    "B": lambda data: "{{" + data + "}}",
    "BOOL": lambda data: "true" if data else "false",
    "NULL": lambda _: "null",
    "SS": lambda data: "$dynamodb_SS::[" + ",".join(map(_string, data)) + "]",
    "NS": lambda data: "$dynamodb_NS::[" + ",".join(map(_number, data)) + "]",
    "BS": lambda data: "$dynamodb_BS::[" + ",".join(["{{" + b + "}}" for b in data]) + "]",
    "L": lambda data: "[" + ",".join(map(_value, data)) + "]",
    "M": _struct,
}


def encode_item(item: Item) -> bytes:
    """One item as a full-export data line, ``$ion_1_0 {Item:{...}}`` ending in ``\\n``."""
    return ("$ion_1_0 {Item:" + _struct(item) + "}\n").encode()


def encode_change(record: ChangeRecord) -> bytes:
    """One change record as an incremental-export data line ending in ``\\n``."""
    micros = record.write_timestamp_micros
    line = (
        "$ion_1_0 {"
        if micros is None
        else f"$ion_1_0 {{Metadata:{{WriteTimestampMicros:{micros}}},"
    )
    line += "Keys:" + _struct(record.keys)
    if record.old_image is not None:
        line += ",OldImage:" + _struct(record.old_image)
    if record.new_image is not None:
        line += ",NewImage:" + _struct(record.new_image)
    return (line + "}\n").encode()


# ---------------------------------------------------------------------------- reader


def decode_line(line: bytes, *, source: str | None = None, line_number: int | None = None) -> Item:
    """The item held by one full-export line (without its line ending), in wire form.

    Raises ``DataError`` (``ItemError`` for bad values) naming ``source`` and
    ``line_number`` when the line is not a valid ``{Item:{...}}`` line.
    """
    item = fast_item(line)
    if item is not None:
        return item
    from ddbpipe.formats.ion import reader  # amazon-ion: only for other spellings

    return reader.decode_line(line, source=source, line_number=line_number)


def decode_change(
    line: bytes, *, source: str | None = None, line_number: int | None = None
) -> ChangeRecord:
    """The change record held by one incremental-export line (without its line ending).

    Raises ``DataError`` (``ItemError`` for bad values) naming ``source`` and
    ``line_number`` when the line is not a valid record.
    """
    change = fast_change(line)
    if change is not None:
        return change
    from ddbpipe.formats.ion import reader  # amazon-ion: only for other spellings

    return reader.decode_change(line, source=source, line_number=line_number)
