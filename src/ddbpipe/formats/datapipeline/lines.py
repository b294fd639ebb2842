"""Data lines of a Data Pipeline backup: one DynamoDB item per line.

The writer gives exactly the bytes emr-dynamodb-tools 4.11 wrote (Gson's reflection of
the AWS SDK v1 ``AttributeValue``): compact JSON, type keys ``s n b sS nS bS m l
nULLValue bOOL``, numbers as strings, standard padded base64, raw UTF-8 with U+2028 and
U+2029 escaped, ``\\n`` after every item.

The reader takes everything known to exist: those lines, ``nULL``, any casing of the type
keys, JSON numbers, lenient base64, CRLF, blank lines (skipped and counted), and the
legacy Hive layout (``name ^C value ^B name ^C value``).
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from ddbpipe.errors import DataError, ItemError
from ddbpipe.formats.lines import LineStats, decode_lines
from ddbpipe.items import (
    MAX_NESTING,
    MAX_NUMBER_DIGITS,
    AttributeValue,
    Item,
    check_number,
    normalize_number,
)

__all__ = ["decode_line", "encode_item", "encode_items", "encode_page", "read_items"]

_WIRE_TO_LINE = {
    "S": "s",
    "N": "n",
    "B": "b",
    "SS": "sS",
    "NS": "nS",
    "BS": "bS",
    "BOOL": "bOOL",
    "NULL": "nULLValue",
}
# Every spelling of a type key that a reader may meet, lower-cased.
_LINE_TO_WIRE = {
    "s": "S",
    "n": "N",
    "b": "B",
    "ss": "SS",
    "ns": "NS",
    "bs": "BS",
    "m": "M",
    "l": "L",
    "bool": "BOOL",
    "null": "NULL",
    "nullvalue": "NULL",
}
_LINE_SEPARATOR = "\u2028".encode()
_PARAGRAPH_SEPARATOR = "\u2029".encode()
_LEGACY_ATTRIBUTE = "\x02"
_LEGACY_NAME_END = "\x03"
_BLANK = b" \t\r\f\v"


# ---------------------------------------------------------------------------- writer


def _line_value(value: AttributeValue) -> dict[str, Any]:
    ((kind, data),) = value.items()
    if kind == "M":
        return {"m": {name: _line_value(v) for name, v in data.items()}}
    if kind == "L":
        return {"l": [_line_value(v) for v in data]}
    return {_WIRE_TO_LINE[kind]: data}


def _escape_separators(text: bytes) -> bytes:
    if _LINE_SEPARATOR in text:
        text = text.replace(_LINE_SEPARATOR, b"\\u2028")
    if _PARAGRAPH_SEPARATOR in text:
        text = text.replace(_PARAGRAPH_SEPARATOR, b"\\u2029")
    return text


def encode_item(item: Item) -> bytes:
    """One item as a Data Pipeline line, ending in ``\\n``."""
    line = {name: _line_value(value) for name, value in item.items()}
    return _escape_separators(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE))


def encode_items(items: Iterable[Item]) -> bytes:
    """Many items as consecutive Data Pipeline lines."""
    return b"".join(encode_item(item) for item in items)


# In orjson's output of wire-form items, a type key is the only key of its object, so
# ``{"S":"`` can only be a type key: an attribute's value is always an object, never a
# string, list or boolean. Only ``{"M":{`` is ambiguous: it is also how an attribute
# named "M" looks when it is the first of its map. Pages that might hold one take the
# per-item path.
_PAGE_RENAMES = (
    (b'{"S":"', b'{"s":"'),
    (b'{"N":"', b'{"n":"'),
    (b'{"B":"', b'{"b":"'),
    (b'{"SS":[', b'{"sS":['),
    (b'{"NS":[', b'{"nS":['),
    (b'{"BS":[', b'{"bS":['),
    (b'{"L":[', b'{"l":['),
    (b'{"M":{', b'{"m":{'),
    (b'{"NULL":true}', b'{"nULLValue":true}'),
    # With its value: an attribute named BOOL that begins an item is no type key.
    (b'{"BOOL":true}', b'{"bOOL":true}'),
    (b'{"BOOL":false}', b'{"bOOL":false}'),
)
_MAYBE_ATTRIBUTE_M = re.compile(rb'\{"M":\{"(?:S|N|B|SS|NS|BS|M|L|NULL|BOOL)":')


def encode_page(items: list[Item]) -> bytes:
    """Items as consecutive Data Pipeline lines: the bytes of ``encode_items``, made faster.

    One orjson call serialises the whole page with an empty string between items; the
    bytes ``},"",{`` it gives cannot occur inside items (a quote inside a string is
    escaped, and no list holds both objects and strings), so they mark where lines end.
    Type keys are then renamed in the bytes.
    """
    if not items:
        return b""
    spaced: list[Item | str] = [""] * (2 * len(items) - 1)
    spaced[::2] = items
    body = orjson.dumps(spaced)
    if _MAYBE_ATTRIBUTE_M.search(body):
        return encode_items(items)
    body = body[1:-1].replace(b'},"",{', b"}\n{")
    for wire, line in _PAGE_RENAMES:
        body = body.replace(wire, line)
    return _escape_separators(body) + b"\n"


# ---------------------------------------------------------------------------- reader


class _InexactNumber(Exception):
    """A number came out of the fast JSON parser as a float; re-parse exactly."""


def _number_text(data: object) -> str:
    if isinstance(data, str):
        check_number(data)
        return data
    if isinstance(data, bool) or not isinstance(data, int):
        if isinstance(data, float):
            raise _InexactNumber
        raise ItemError(f"number must be a string or a JSON number, got {data!r:.40}")
    return str(data)


def _binary_text(data: object) -> str:
    """Standard padded base64 for any base64 spelling commons-codec accepts."""
    if not isinstance(data, str):
        raise ItemError(f"binary value must be base64 text, got {data!r:.40}")
    try:
        binascii.a2b_base64(data, strict_mode=True)
    except binascii.Error:
        pass
    else:
        return data
    text = "".join(data.split()).replace("-", "+").replace("_", "/").rstrip("=")
    try:
        raw = binascii.a2b_base64(text + "=" * (-len(text) % 4), strict_mode=True)
    except binascii.Error as exc:
        raise ItemError(f"binary value {data[:40]!r} is not valid base64 ({exc})") from None
    return binascii.b2a_base64(raw, newline=False).decode("ascii")


def _unique(kind: str, elements: list[Any], identities: list[Any]) -> list[Any]:
    if len(set(identities)) != len(identities):
        raise ItemError(f"{kind} set has duplicate elements")
    return elements


def _string_list(kind: str, data: object) -> list[Any]:
    if not isinstance(data, list):
        raise ItemError(f"{kind} value must be a list, got {data!r:.40}")
    if not data:
        raise ItemError(f"empty {kind} set: DynamoDB does not store empty sets")
    return data


def _wire_value(value: object, depth: int) -> AttributeValue:
    # Fast path for the spellings the exporter writes; anything else takes the general path.
    if type(value) is dict and len(value) == 1:
        ((key, data),) = value.items()
        kind = type(data)
        if key == "s" and kind is str:
            return {"S": data}
        if key == "n" and kind is str and _plain_number(data):
            return {"N": data}
        if key == "bOOL" and kind is bool:
            return {"BOOL": data}
        if (
            key == "sS"
            and kind is list
            and data
            and all(type(e) is str for e in data)
            and len(set(data)) == len(data)
        ):
            return {"SS": data}
    return _wire_value_general(value, depth)


def _plain_number(text: str) -> bool:
    """Whether ``text`` is a plain-notation number of at most 38 characters, which is
    always within DynamoDB's digits and magnitude limits."""
    if len(text) > MAX_NUMBER_DIGITS or not text.isascii():
        return False
    whole, _, fraction = (text[1:] if text[:1] == "-" else text).partition(".")
    return whole.isdigit() and (fraction.isdigit() or (not fraction and "." not in text))


def _wire_value_general(value: object, depth: int) -> AttributeValue:
    if not isinstance(value, dict):
        raise ItemError(f"attribute value must be an object like {{'s': ...}}, got {value!r:.40}")
    found: list[tuple[str, Any]] = []
    for key, data in value.items():
        if data is None:
            continue  # Gson leaves unset fields out; a null reads the same.
        kind = _LINE_TO_WIRE.get(key.lower())
        if kind is None:
            raise ItemError(f"unknown type key {key!r}")
        found.append((kind, data))
    if len(found) != 1:
        if not found:
            raise ItemError("attribute value has no type")
        names = ", ".join(repr(k) for k in value if value[k] is not None)
        raise ItemError(f"attribute value has {len(found)} types ({names}); it must have one")
    kind, data = found[0]
    if kind == "S":
        if not isinstance(data, str):
            raise ItemError(f"string value must be a JSON string, got {data!r:.40}")
        return {"S": data}
    if kind == "N":
        return {"N": _number_text(data)}
    if kind == "B":
        return {"B": _binary_text(data)}
    if kind == "SS":
        for element in _string_list("SS", data):
            if not isinstance(element, str):
                raise ItemError(f"string set element must be a string, got {element!r:.40}")
        return {"SS": _unique("SS", data, data)}
    if kind == "NS":
        numbers = [_number_text(n) for n in _string_list("NS", data)]
        return {"NS": _unique("NS", numbers, [normalize_number(n) for n in numbers])}
    if kind == "BS":
        binaries = [_binary_text(b) for b in _string_list("BS", data)]
        return {"BS": _unique("BS", binaries, binaries)}
    if kind == "BOOL":
        if isinstance(data, bool):
            return {"BOOL": data}
        if data in ("true", "false"):
            return {"BOOL": data == "true"}
        raise ItemError(f"boolean value must be true or false, got {data!r:.40}")
    if kind == "NULL":
        if data is True or data == "true":
            return {"NULL": True}
        raise ItemError(f"null value must be true, got {data!r:.40}")
    if depth >= MAX_NESTING:
        raise ItemError(f"nesting deeper than {MAX_NESTING} levels")
    if kind == "M":
        if not isinstance(data, dict):
            raise ItemError(f"map value must be a JSON object, got {data!r:.40}")
        return {"M": {name: _wire_value(v, depth + 1) for name, v in data.items()}}
    if not isinstance(data, list):
        raise ItemError(f"list value must be a JSON array, got {data!r:.40}")
    return {"L": [_wire_value(v, depth + 1) for v in data]}


def _wire_item(parsed: object) -> Item:
    if not isinstance(parsed, dict):
        raise ItemError(f"a line must hold a JSON object, got {type(parsed).__name__}")
    if not parsed:
        raise ItemError("item has no attributes")
    item: Item = {}
    for name, value in parsed.items():
        try:
            item[name] = _wire_value(value, 0)
        except ItemError as exc:
            raise ItemError(f"attribute {name!r}: {exc.reason}") from None
    return item


def _parse_json(text: bytes | str, *, exact: bool) -> object:
    if not exact:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # the standard parser words the error better, and takes huge integers
    try:
        return json.loads(text, parse_float=str, parse_int=str)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        if isinstance(exc, UnicodeDecodeError):
            raise DataError(f"line is not valid UTF-8 ({exc.reason})") from None
        raise DataError(f"malformed JSON at column {exc.colno}: {exc.msg}") from None


def _parse_legacy(text: str, *, exact: bool) -> object:
    """The Hive-era layout: ``name ^C json`` pairs separated by ``^B``."""
    parsed: dict[str, object] = {}
    for position, pair in enumerate(text.split(_LEGACY_ATTRIBUTE), start=1):
        name, separator, value = pair.partition(_LEGACY_NAME_END)
        if not separator:
            raise DataError(
                f"legacy layout: attribute {position} has no ^C (U+0003) after its name"
            )
        parsed[name] = _parse_json(value, exact=exact)
    return parsed


def decode_line(line: bytes, *, source: str | None = None, line_number: int | None = None) -> Item:
    """The item held by one line (without its line ending), in wire form.

    Raises ``DataError`` (``ItemError`` for bad values) naming ``source`` and
    ``line_number`` when the line is not a valid item.
    """
    try:
        return _decode(line)
    except DataError as exc:
        raise exc.located(source, line_number) from None


def _decode(line: bytes) -> Item:
    stripped = line.strip(_BLANK)
    if stripped.startswith(b"{"):
        try:
            return _wire_item(_parse_json(stripped, exact=False))
        except _InexactNumber:
            return _wire_item(_parse_json(stripped, exact=True))
    try:
        text = stripped.decode()
    except UnicodeDecodeError as exc:
        raise DataError(f"line is not valid UTF-8 ({exc.reason})") from None
    if _LEGACY_NAME_END not in text:
        raise DataError("line is neither a JSON object nor the legacy ^B/^C layout")
    try:
        return _wire_item(_parse_legacy(text, exact=False))
    except _InexactNumber:
        return _wire_item(_parse_legacy(text, exact=True))


def read_items(
    chunks: Iterable[bytes], *, source: str, stats: LineStats | None = None
) -> Iterator[tuple[int, Item]]:
    """Stream ``(line number, item)`` from the bytes of one data file named ``source``."""
    return decode_lines(chunks, decode_line, source=source, stats=stats)
