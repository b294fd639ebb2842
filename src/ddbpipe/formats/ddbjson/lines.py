"""Data lines of a native DynamoDB export in the DYNAMODB_JSON format.

A full export holds one item per line, ``{"Item":{<name>:<AttributeValue>,...}}``, in
the standard AttributeValue JSON: compact, numbers as strings, binary as standard
padded base64, every line ending in ``\\n``. The writer keeps the item's attribute
order and writes non-ASCII text as raw UTF-8 (the format documents no escaping beyond
JSON's own). An incremental export holds one change record per line:
``{"Metadata":{"WriteTimestampMicros":{"N":"..."}},"Keys":{...},"OldImage":{...},
"NewImage":{...}}``, the images present or absent by the kind of change.

The reader is strict: exact type keys, one per value, numbers as strings DynamoDB can
store, non-empty sets without duplicates, at most 32 levels of nesting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ddbpipe.errors import DataError, ItemError
from ddbpipe.items import Item, check_value

__all__ = [
    "ChangeRecord",
    "decode_change",
    "decode_line",
    "encode_change",
    "encode_item",
]

_CHANGE_KEYS = frozenset({"Metadata", "Keys", "OldImage", "NewImage"})


@dataclass(frozen=True)
class ChangeRecord:
    """One line of an incremental export: an item's net change over the window.

    ``new_image`` is None for a delete; ``old_image`` is None for an insert and
    whenever the export's view is ``NEW_IMAGE``. ``write_timestamp_micros`` is the
    time of the item's last write in the window, when the line gives it.
    """

    keys: Item
    new_image: Item | None
    old_image: Item | None
    write_timestamp_micros: int | None = None


# ---------------------------------------------------------------------------- writer


def encode_item(item: Item) -> bytes:
    """One item as a full-export data line, ``{"Item":{...}}`` ending in ``\\n``."""
    return orjson.dumps({"Item": item}, option=orjson.OPT_APPEND_NEWLINE)


def encode_change(record: ChangeRecord) -> bytes:
    """One change as an incremental-export data line, ending in ``\\n``."""
    line: dict[str, Any] = {}
    if record.write_timestamp_micros is not None:
        line["Metadata"] = {"WriteTimestampMicros": {"N": str(record.write_timestamp_micros)}}
    line["Keys"] = record.keys
    if record.old_image is not None:
        line["OldImage"] = record.old_image
    if record.new_image is not None:
        line["NewImage"] = record.new_image
    return orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)


# ---------------------------------------------------------------------------- reader


def _parse_object(line: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise DataError(f"malformed JSON ({exc})") from None
    if not isinstance(parsed, dict):
        raise DataError(f"a line must hold a JSON object, got {type(parsed).__name__}")
    return parsed


def _attribute_map(what: str, data: object) -> Item:
    """``data`` as an item, once every value passes ``ddbpipe.items.check_value``
    (which applies ``check_number`` to every N and NS element)."""
    if not isinstance(data, dict):
        raise ItemError(f"{what} must be a JSON object of attributes, got {data!r:.40}")
    if not data:
        raise ItemError(f"{what} has no attributes")
    for name, value in data.items():
        if not name:
            raise ItemError(f"{what}: attribute name is empty")
        if isinstance(value, dict) and len(value) == 1:
            ((kind, number),) = value.items()
            if kind == "N" and not isinstance(number, str):
                raise ItemError(
                    f"{what}: attribute {name!r}: number must be a JSON string, got {number!r:.40}"
                )
        try:
            check_value(value)
        except ItemError as exc:
            raise ItemError(f"{what}: attribute {name!r}: {exc.reason}") from None
    return data


def decode_line(line: bytes, *, source: str | None = None, line_number: int | None = None) -> Item:
    """The item held by one full-export line (without its line ending), in wire form.

    Raises ``DataError`` (``ItemError`` for bad values) naming ``source`` and
    ``line_number`` when the line is not a valid ``{"Item":{...}}`` line.
    """
    try:
        parsed = _parse_object(line)
        if "Item" not in parsed:
            hint = " (an incremental export record?)" if "Keys" in parsed else ""
            raise DataError(f'line has no "Item"{hint}')
        if len(parsed) != 1:
            extra = ", ".join(repr(k) for k in parsed if k != "Item")
            raise DataError(f'line has keys besides "Item": {extra}')
        return _attribute_map("Item", parsed["Item"])
    except DataError as exc:
        raise exc.located(source, line_number) from None


def _timestamp(metadata: object) -> int | None:
    """``Metadata.WriteTimestampMicros`` as ``{"N": ...}``, a string or a number."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise DataError(f"Metadata must be a JSON object, got {metadata!r:.40}")
    value = metadata.get("WriteTimestampMicros")
    if value is None:
        return None
    if isinstance(value, dict) and set(value) == {"N"}:
        value = value["N"]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise DataError(f"WriteTimestampMicros must be a whole number, got {value!r:.40}")


def decode_change(
    line: bytes, *, source: str | None = None, line_number: int | None = None
) -> ChangeRecord:
    """The change record held by one incremental-export line (without its line ending).

    Raises ``DataError`` (``ItemError`` for bad values) naming ``source`` and
    ``line_number`` when the line is not a valid record.
    """
    try:
        parsed = _parse_object(line)
        unknown = set(parsed) - _CHANGE_KEYS
        if unknown:
            raise DataError(f"unexpected keys in a change record: {sorted(unknown)}")
        if "Keys" not in parsed:
            raise DataError('change record has no "Keys"')
        old = parsed.get("OldImage")
        new = parsed.get("NewImage")
        return ChangeRecord(
            keys=_attribute_map("Keys", parsed["Keys"]),
            new_image=None if new is None else _attribute_map("NewImage", new),
            old_image=None if old is None else _attribute_map("OldImage", old),
            write_timestamp_micros=_timestamp(parsed.get("Metadata")),
        )
    except DataError as exc:
        raise exc.located(source, line_number) from None
