"""Reading any Ion spelling of an export line, with amazon-ion.

Used for the lines ``ion.fast`` does not take: the reader takes any Ion text and returns
items in wire form with numbers in the plain notation DynamoDB returns (``2d3`` ->
``"2000"``). It reads an Ion int as N and a symbol value as S. It rejects what has no
DynamoDB type: floats, timestamps, s-expressions, clobs, typed nulls such as
``null.string`` (only ``null`` is NULL), annotations other than the three set
annotations, and structs that repeat a field name; each error names the attribute.
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Callable
from typing import Any, NoReturn

import amazon.ion.simpleion as simpleion  # type: ignore[import-untyped]
from amazon.ion.core import IonType  # type: ignore[import-untyped]
from amazon.ion.exceptions import IonException  # type: ignore[import-untyped]
from amazon.ion.simple_types import IonPyNull  # type: ignore[import-untyped]

from ddbpipe.errors import DataError, ItemError
from ddbpipe.formats.ddbjson import ChangeRecord
from ddbpipe.items import (
    MAX_NESTING,
    AttributeValue,
    Item,
    check_value,
    plain_spelling,
)

__all__ = ["decode_change", "decode_line"]

_CHANGE_FIELDS = frozenset({"Metadata", "Keys", "OldImage", "NewImage"})
_SETS = {  # annotation: (set type, Ion types of its elements)
    "$dynamodb_SS": ("SS", (IonType.STRING, IonType.SYMBOL), "strings"),
    "$dynamodb_NS": ("NS", (IonType.INT, IonType.DECIMAL), "numbers (Ion decimals)"),
    "$dynamodb_BS": ("BS", (IonType.BLOB,), "blobs"),
}


def _parse(line: bytes) -> Any:
    if not line.isascii():  # amazon-ion 0.15's C reader crashes on bad UTF-8 in 'symbols'
        try:
            line.decode()
        except UnicodeDecodeError as bad:
            raise DataError(f"malformed Ion (not UTF-8 at byte {bad.start})") from None
    try:
        value = simpleion.loads(line)
    except (IonException, ValueError, OverflowError) as exc:
        raise DataError(f"malformed Ion ({str(exc).strip() or type(exc).__name__})") from None
    if value is None:
        raise DataError("line holds no Ion value")
    return value


def _describe(value: Any) -> str:
    """``Ion string``, ``typed null null.string``, ``Ion float 1.5e0``: for messages."""
    kind = str(value.ion_type.name).lower()
    if isinstance(value, IonPyNull):
        return "null" if kind == "null" else f"typed null null.{kind}"
    return "Ion float " + _float_text(float(value)) if kind == "float" else "Ion " + kind


def _float_text(number: float) -> str:
    if not math.isfinite(number):
        return "nan" if math.isnan(number) else f"{number:+}"
    text = repr(number).replace("e+", "e")
    return text if "e" in text else text + "e0"


def _is_null(value: Any) -> bool:
    return isinstance(value, IonPyNull) and value.ion_type is IonType.NULL


def _fields(value: Any, what: str, error: type[DataError]) -> dict[str, Any]:
    """The fields of an Ion struct, refusing annotations and repeated names."""
    if value.ion_type is not IonType.STRUCT or isinstance(value, IonPyNull):
        raise error(f"{what} must be an Ion struct, got {_describe(value)}")
    if value.ion_annotations:
        raise error(f"{what}: {_annotation_problem(value)}")
    fields: dict[str, Any] = {}
    for name, field in value.items():  # IonPyDict.items() yields every repeat
        if not isinstance(name, str):
            raise error(f"{what} has a field name with no text")
        if name in fields:
            raise error(f"{what} repeats the field {name!r}")
        fields[name] = field
    return fields


def _annotation_problem(value: Any) -> str:
    names = "::".join(a.text or f"${a.sid}" for a in value.ion_annotations)
    return (
        f"annotation {names}:: is not allowed on {_describe(value)}; only $dynamodb_SS::, "
        "$dynamodb_NS:: or $dynamodb_BS:: on a list, to mark a set"
    )


_HINTS = {
    IonType.NULL: "write null for NULL",
    IonType.TIMESTAMP: "write it as a string",
    IonType.SEXP: "write a list [...] for L",
    IonType.CLOB: "write binary data as a blob {{base64}}",
}


def _unsupported(value: Any) -> NoReturn:
    kind = IonType.NULL if isinstance(value, IonPyNull) else value.ion_type
    if kind is not IonType.FLOAT:
        hint = _HINTS.get(kind)
        raise ItemError(
            f"{_describe(value)} is not a DynamoDB value" + (f"; {hint}" if hint else "")
        )
    number = float(value)
    try:
        hint = f"write it as a decimal ({plain_spelling(repr(number))})"
    except ItemError as exc:
        hint = exc.reason if math.isfinite(number) else "DynamoDB has no NaN or infinity"
    raise ItemError(f"{_describe(value)} is not a DynamoDB number; {hint}")


def _text(value: Any, depth: int) -> AttributeValue:
    text = value if value.ion_type is IonType.STRING else value.text
    if text is None:
        raise ItemError(f"symbol ${value.sid} has no text")
    return {"S": str(text)}


def _int(value: Any, depth: int) -> AttributeValue:
    if value.bit_length() > 420:  # beyond 10**126: too large, and too long for str()
        raise ItemError(f"Ion int of {value.bit_length()} bits is too large for DynamoDB")
    return {"N": plain_spelling(str(int(value)))}


def _decimal(value: Any, depth: int) -> AttributeValue:
    return {"N": plain_spelling(str(value))}


def _container(value: Any, depth: int) -> AttributeValue:
    if depth > MAX_NESTING:
        raise ItemError(f"nesting deeper than {MAX_NESTING} levels")
    if value.ion_type is IonType.LIST:
        return {"L": [_convert(element, depth + 1) for element in value]}
    fields = _fields(value, "a struct", ItemError)
    return {"M": {name: _convert(field, depth + 1) for name, field in fields.items()}}


_READERS: dict[IonType, Callable[[Any, int], AttributeValue]] = {
    IonType.STRING: _text,
    IonType.SYMBOL: _text,
    IonType.INT: _int,
    IonType.DECIMAL: _decimal,
    IonType.BLOB: lambda value, _: {"B": binascii.b2a_base64(value, newline=False).decode()},
    IonType.BOOL: lambda value, _: {"BOOL": bool(value)},
    IonType.LIST: _container,
    IonType.STRUCT: _container,
}


def _set(value: Any, depth: int) -> AttributeValue:
    annotations = value.ion_annotations
    known = _SETS.get(annotations[0].text) if len(annotations) == 1 else None
    if known is None or value.ion_type is not IonType.LIST:
        raise ItemError(_annotation_problem(value))
    if isinstance(value, IonPyNull):
        _unsupported(value)
    kind, element_types, holds = known
    elements = []
    for element in value:
        if element.ion_type not in element_types or isinstance(element, IonPyNull):
            raise ItemError(f"{kind} set holds {holds}, got {_describe(element)}")
        if element.ion_annotations:
            raise ItemError(f"{kind} set element: {_annotation_problem(element)}")
        elements.append(_READERS[element.ion_type](element, depth)[kind[0]])
    return {kind: elements}


def _convert(value: Any, depth: int) -> AttributeValue:
    if value.ion_annotations:
        return _set(value, depth)
    reader = _READERS.get(value.ion_type)
    if reader is None or type(value) is IonPyNull:
        if _is_null(value):
            return {"NULL": True}
        _unsupported(value)
    return reader(value, depth)


def _attribute_map(what: str, value: Any) -> Item:
    """``value`` as an item, once every attribute passes ``ddbpipe.items.check_value``."""
    fields = _fields(value, what, ItemError)
    if not fields:
        raise ItemError(f"{what} has no attributes")
    item: Item = {}
    for name, field in fields.items():
        if not name:
            raise ItemError(f"{what}: attribute name is empty")
        try:
            item[name] = converted = _convert(field, 1)
            check_value(converted)
        except ItemError as exc:
            raise ItemError(f"{what}: attribute {name!r}: {exc.reason}") from None
    return item


def decode_line(line: bytes, *, source: str | None = None, line_number: int | None = None) -> Item:
    """The item held by one full-export line (without its line ending), in wire form.

    Raises ``DataError`` (``ItemError`` for bad values) naming ``source`` and
    ``line_number`` when the line is not a valid ``{Item:{...}}`` line.
    """
    try:
        fields = _fields(_parse(line), "the line", DataError)
        if "Item" not in fields:
            hint = " (an incremental export record?)" if "Keys" in fields else ""
            raise DataError(f"line has no field Item{hint}")
        if len(fields) != 1:
            extra = ", ".join(repr(k) for k in fields if k != "Item")
            raise DataError(f"line has fields besides Item: {extra}")
        return _attribute_map("Item", fields["Item"])
    except DataError as exc:
        raise exc.located(source, line_number) from None


def _as_whole(value: Any, kind: IonType | None) -> int | None:
    if kind is IonType.STRING:
        return int(value) if value.isascii() and value.isdigit() and len(value) < 20 else None
    if kind is IonType.DECIMAL:
        return int(value) if value.adjusted() < 19 and value == int(value) else None
    return int(value) if kind is IonType.INT else None


def _whole_number(value: Any) -> int:
    kind = None if isinstance(value, IonPyNull) else value.ion_type
    micros = _as_whole(value, kind)
    if micros is None or not 0 <= micros < 2**63:
        shown = f" {str(value)[:40]!r}" if kind in (IonType.DECIMAL, IonType.STRING) else ""
        problem = "a whole number of microseconds from 0 to 2**63-1"
        raise DataError(f"WriteTimestampMicros must be {problem}, got {_describe(value)}{shown}")
    return micros


def _timestamp(metadata: Any) -> int | None:
    """``Metadata.WriteTimestampMicros`` as an int, a whole decimal, a string or ``{N:...}``."""
    if metadata is None or _is_null(metadata):
        return None
    value = _fields(metadata, "Metadata", DataError).get("WriteTimestampMicros")
    if value is None or _is_null(value):
        return None
    if value.ion_type is IonType.STRUCT and not isinstance(value, IonPyNull):
        value = _fields(value, "WriteTimestampMicros", DataError).get("N", value)
    return _whole_number(value)


def _image(fields: dict[str, Any], name: str) -> Item | None:
    value = fields.get(name)
    return None if value is None or _is_null(value) else _attribute_map(name, value)


def decode_change(
    line: bytes, *, source: str | None = None, line_number: int | None = None
) -> ChangeRecord:
    """The change record held by one incremental-export line (without its line ending).

    Raises ``DataError`` (``ItemError`` for bad values) naming ``source`` and
    ``line_number`` when the line is not a valid record.
    """
    try:
        fields = _fields(_parse(line), "the line", DataError)
        unknown = set(fields) - _CHANGE_FIELDS
        if unknown:
            raise DataError(f"unexpected fields in a change record: {sorted(unknown)}")
        if "Keys" not in fields:
            raise DataError("change record has no field Keys")
        return ChangeRecord(
            keys=_attribute_map("Keys", fields["Keys"]),
            new_image=_image(fields, "NewImage"),
            old_image=_image(fields, "OldImage"),
            write_timestamp_micros=_timestamp(fields.get("Metadata")),
        )
    except DataError as exc:
        raise exc.located(source, line_number) from None
