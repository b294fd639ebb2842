"""A fast reader for the Ion that DynamoDB's exports (and ddbpipe) write.

Export lines use a small, regular part of Ion text: bare or quoted field names, strings,
decimals, blobs, ``true``/``false``/``null``, lists, structs and the three set
annotations, with no whitespace between tokens. This reads such a line in one pass of a
token scanner, about twice as fast as amazon-ion, whose reader builds a Python object
per value. Any other spelling, and any line that is not a valid item, gives
``None``: the caller then reads the line with amazon-ion, which also words the error.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable

from ddbpipe.errors import ItemError
from ddbpipe.formats.ddbjson import ChangeRecord
from ddbpipe.items import (
    MAX_NESTING,
    AttributeValue,
    Item,
    check_value,
    plain_spelling,
)

__all__ = ["fast_change", "fast_item"]

_TOKEN = re.compile(
    r"""
    (?P<name>[A-Za-z_][A-Za-z0-9_]*):(?!:)
    |'(?P<quoted>[^'\\\x00-\x1f\x7f]*(?:\\[^\x00-\x1f\x7f][^'\\\x00-\x1f\x7f]*)*)':(?!:)
    |"(?P<string>[^"\\\x00-\x1f\x7f]*(?:\\[^\x00-\x1f\x7f][^"\\\x00-\x1f\x7f]*)*)"
    |(?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]*)?(?:[dD][+-]?[0-9]+)?)(?![A-Za-z0-9_.$])
    |\{\{(?P<blob>[A-Za-z0-9+/=]*)\}\}
    |\$dynamodb_(?P<set>SS|NS|BS)::\[
    |(?P<word>true|false|null)(?![A-Za-z0-9_.$])
    |(?P<open>[\[{])
    |(?P<close>[\]}])
    |(?P<comma>,)
    """,
    re.VERBOSE,
)
_ESCAPE = re.compile(r"""\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|(["\\/'nrt]))""")
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "'": "'", "n": "\n", "r": "\r", "t": "\t"}
_VERSION_MARKER = "$ion_1_0 "
_CHANGE_FIELDS = frozenset({"Metadata", "Keys", "OldImage", "NewImage"})
_KEYWORDS = frozenset({"null", "true", "false", "nan"})


class _NotFast(Exception):
    """The line is outside what this reader takes."""


def _escaped(match: re.Match[str]) -> str:
    hex_code, unicode_code, simple = match.groups()
    if simple is not None:
        return _SIMPLE_ESCAPES[simple]
    code = int(hex_code or unicode_code, 16)
    if 0xD800 <= code <= 0xDFFF:
        raise _NotFast  # a surrogate pair: left to amazon-ion
    return chr(code)


def _text(raw: str) -> str:
    if "\\" not in raw:
        return raw
    text = _ESCAPE.sub(_escaped, raw)
    if _ESCAPE.sub("", raw).count("\\"):
        raise _NotFast  # an escape this reader does not know
    return text


def _number(raw: str) -> str:
    text = raw[:-1] if raw.endswith(".") else raw
    try:
        return plain_spelling(text.replace("d", "e").replace("D", "e"))
    except ItemError:
        raise _NotFast from None


def _blob(raw: str) -> str:
    try:
        canonical = binascii.b2a_base64(binascii.a2b_base64(raw), newline=False).decode()
    except binascii.Error:
        raise _NotFast from None
    if canonical != raw:
        raise _NotFast
    return raw


_SET_ELEMENTS: dict[str, tuple[str, Callable[[str], str]]] = {
    "SS": ("string", _text),
    "NS": ("number", _number),
    "BS": ("blob", _blob),
}


class _Reader:
    """Recursive descent over the tokens of one line; ``end`` is where the last one ended."""

    def __init__(self, text: str) -> None:
        scanner = _TOKEN.scanner(text)  # type: ignore[attr-defined]  # not in typeshed
        self.next: Callable[[], re.Match[str] | None] = scanner.match
        self.end = 0

    def value(self, match: re.Match[str] | None, depth: int) -> AttributeValue:
        if match is None:
            raise _NotFast
        kind = match.lastgroup
        if kind == "string":
            return {"S": _text(match.group(kind))}
        if kind == "number":
            return {"N": _number(match.group(kind))}
        if kind == "blob":
            return {"B": _blob(match.group(kind))}
        if kind == "word":
            word = match.group(kind)
            return {"NULL": True} if word == "null" else {"BOOL": word == "true"}
        if kind == "set":
            return self.set(match.group(kind))
        if kind == "open" and depth <= MAX_NESTING:
            if match.group(kind) == "{":
                return {"M": self.struct(depth + 1)}
            return {"L": self.list(depth + 1)}
        raise _NotFast

    def struct(self, depth: int) -> dict[str, AttributeValue]:
        fields: dict[str, AttributeValue] = {}
        next_token = self.next
        match = next_token()
        while match is not None:
            kind = match.lastgroup
            if kind == "close" and not fields and match.group(kind) == "}":
                self.end = match.end()
                return fields
            if kind == "quoted":
                name = _text(match.group(kind))
            elif kind == "name" and match.group(kind) not in _KEYWORDS:
                name = match.group(kind)
            else:
                break
            if name in fields:
                break  # a repeated field: amazon-ion's reader refuses it
            fields[name] = self.value(next_token(), depth)
            match = next_token()
            if match is None:
                break
            if match.lastgroup == "close" and match.group("close") == "}":
                self.end = match.end()
                return fields
            if match.lastgroup != "comma":
                break
            match = next_token()
        raise _NotFast

    def list(self, depth: int) -> list[AttributeValue]:
        elements: list[AttributeValue] = []
        next_token = self.next
        match = next_token()
        if match is not None and match.lastgroup == "close" and match.group("close") == "]":
            return elements
        while True:
            elements.append(self.value(match, depth))
            match = next_token()
            if match is None:
                break
            if match.lastgroup == "close" and match.group("close") == "]":
                return elements
            if match.lastgroup != "comma":
                break
            match = next_token()
        raise _NotFast

    def set(self, kind: str) -> AttributeValue:
        element, convert = _SET_ELEMENTS[kind]
        elements = []
        next_token = self.next
        while True:
            match = next_token()
            if match is None or match.lastgroup != element:
                break
            elements.append(convert(match.group(element)))
            match = next_token()
            if match is None:
                break
            if match.lastgroup == "close" and match.group("close") == "]":
                return {kind: elements}
            if match.lastgroup != "comma":
                break
        raise _NotFast


def _top_struct(line: bytes) -> dict[str, AttributeValue]:
    try:
        text = line.decode()
    except UnicodeDecodeError:
        raise _NotFast from None
    if text.startswith(_VERSION_MARKER):
        text = text[len(_VERSION_MARKER) :]
    reader = _Reader(text)
    match = reader.next()
    if match is None or match.lastgroup != "open" or match.group("open") != "{":
        raise _NotFast
    fields = reader.struct(0)
    if reader.end != len(text):
        raise _NotFast
    return fields


def _attributes(value: AttributeValue | None) -> Item:
    if value is None or "M" not in value or not value["M"]:
        raise _NotFast
    item: Item = value["M"]
    for name, attribute in item.items():
        if not name:
            raise _NotFast
        try:
            check_value(attribute)
        except ItemError:
            raise _NotFast from None
    return item


def fast_item(line: bytes) -> Item | None:
    """The item a ``{Item:{...}}`` line holds, or None when amazon-ion must read it."""
    try:
        fields = _top_struct(line)
        if len(fields) != 1:
            raise _NotFast
        return _attributes(fields.get("Item"))
    except _NotFast:
        return None


def fast_change(line: bytes) -> ChangeRecord | None:
    """The change record a line holds, or None when amazon-ion must read it."""
    try:
        fields = _top_struct(line)
        if not fields.keys() <= _CHANGE_FIELDS:
            raise _NotFast
        timestamp = None
        if "Metadata" in fields:
            metadata = fields["Metadata"].get("M")
            if metadata is None or metadata.keys() != {"WriteTimestampMicros"}:
                raise _NotFast
            micros = metadata["WriteTimestampMicros"].get("N", "")
            if not micros.isdigit() or not micros.isascii() or len(micros) > 18:
                raise _NotFast
            timestamp = int(micros)
        new, old = fields.get("NewImage"), fields.get("OldImage")
        return ChangeRecord(
            keys=_attributes(fields.get("Keys")),
            new_image=None if new is None else _attributes(new),
            old_image=None if old is None else _attributes(old),
            write_timestamp_micros=timestamp,
        )
    except _NotFast:
        return None
