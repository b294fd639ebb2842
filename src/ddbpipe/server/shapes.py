"""The service's operations and input shapes, and checking a request against them.

The shapes come from botocore's model of the service
(``botocore/data/datapipeline/2012-10-29/service-2.json``), read when the server
starts. botocore is installed with every ddbpipe (boto3 needs it), so the model is
always there, and it is the very model boto3 and the AWS CLI build their requests from:
the server checks what the clients were written against, with nothing to regenerate.
A unit test pins the constraints the server relies on, so a botocore release that
changed them would be noticed.

``validate_input`` checks a decoded JSON body the way the real service does:

* a member of the wrong JSON type is a ``SerializationException``;
* broken constraints — a required member missing or null, a length (counted in UTF-16
  code units, as the service counts) outside ``min``/``max``, a string that does not
  match the ``pattern``, a value outside an ``enum``, a list with too many items — are
  all collected into one ``InvalidRequestException``: ``2 validation errors detected:
  Value null at 'pipelineId' failed to satisfy constraint: Member must not be null;
  ...``. Paths name list items from 1, as ``pipelineObjects.1.member.fields``.

Members the model does not know are dropped, as the service ignores them. Timestamps
(``startTimestamp``, epoch seconds, maybe with a fraction) become aware datetimes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from botocore.loaders import create_loader
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from ddbpipe.server.errors import ApiError, ErrorCode

__all__ = [
    "SERVICE_NAME",
    "TARGET_PREFIXES",
    "operation_names",
    "service_model",
    "validate_input",
]

SERVICE_NAME = "datapipeline"
API_VERSION = "2012-10-29"
# X-Amz-Target prefixes: today's, and the one the old Developer Guide shows.
TARGET_PREFIXES = ("DataPipeline.", "DataPipeline_20121129.")
_VALUE_ECHO = 256  # characters of an offending value repeated in a message
_SURROGATE_PAIR = re.compile(r"\\u(D[89AB][0-9A-F]{2})\\u(D[C-F][0-9A-F]{2})", re.IGNORECASE)


@cache
def service_model() -> ServiceModel:
    """botocore's model of Data Pipeline."""
    loader = create_loader()
    data = loader.load_service_model(SERVICE_NAME, "service-2", API_VERSION)
    return ServiceModel(data, service_name=SERVICE_NAME)


@cache
def operation_names() -> frozenset[str]:
    """The service's 19 operations."""
    return frozenset(service_model().operation_names)


def _python_pattern(pattern: str) -> re.Pattern[str]:
    """A model pattern (Java syntax, matched on UTF-16) as a Python pattern: a
    surrogate pair ``\\uD800\\uDC00`` stands for one supplementary code point."""

    def code_point(match: re.Match[str]) -> str:
        high, low = int(match.group(1), 16), int(match.group(2), 16)
        return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"

    return re.compile(_SURROGATE_PAIR.sub(code_point, pattern))


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return _python_pattern(pattern)


def _utf16_length(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _echo(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = "[" + ", ".join(_echo_item(item) for item in value) + "]"
    else:
        text = str(value)
    if len(text) > _VALUE_ECHO:
        text = text[:_VALUE_ECHO] + "..."
    return f"'{text}'"


def _echo_item(item: object) -> str:
    return _echo(item)[1:-1] if item is not None else "null"


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, value: object, path: str, constraint: str) -> None:
        self.problems.append(
            f"Value {_echo(value)} at '{path}' failed to satisfy constraint: {constraint}"
        )

    def value(self, shape: Shape, value: object, path: str) -> object:
        kind = shape.type_name
        if kind == "structure":
            assert isinstance(shape, StructureShape)
            return self.structure(shape, value, path)
        if kind == "list":
            assert isinstance(shape, ListShape)
            return self.list(shape, value, path)
        if kind == "map":
            assert isinstance(shape, MapShape)
            return self.map(shape, value, path)
        if kind == "string":
            return self.string(shape, value, path)
        if kind == "boolean":
            if not isinstance(value, bool):
                raise _type_error(path, "a boolean", value)
            return value
        if kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise _type_error(path, "an integer", value)
            self.bounds(shape, value, value, path, "value")
            return value
        if kind == "timestamp":
            return _timestamp(value, path)
        raise _type_error(path, kind, value)

    def structure(self, shape: StructureShape, value: object, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _type_error(path or "the request", "an object", value)
        checked: dict[str, Any] = {}
        for name, member in shape.members.items():
            where = f"{path}.{name}" if path else name
            item = value.get(name)
            if item is None:
                if name in shape.required_members:
                    self.problem(None, where, "Member must not be null")
                continue
            checked[name] = self.value(member, item, where)
        return checked

    def list(self, shape: ListShape, value: object, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise _type_error(path, "a list", value)
        self.bounds(shape, len(value), value, path, "length")
        items = []
        for index, item in enumerate(value, start=1):
            where = f"{path}.{index}.member"
            if item is None:
                self.problem(None, where, "Member must not be null")
                continue
            items.append(self.value(shape.member, item, where))
        return items

    def map(self, shape: MapShape, value: object, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _type_error(path, "an object", value)
        self.bounds(shape, len(value), value, path, "length")
        result = {}
        for key, item in value.items():
            self.string(shape.key, key, f"{path}.key")
            if item is None:
                self.problem(None, f"{path}.{key}", "Member must not be null")
                continue
            result[key] = self.value(shape.value, item, f"{path}.{key}")
        return result

    def string(self, shape: Shape, value: object, path: str) -> str:
        if not isinstance(value, str):
            raise _type_error(path, "a string", value)
        self.bounds(shape, _utf16_length(value), value, path, "length")
        pattern = shape.metadata.get("pattern")
        if pattern is not None and not _pattern(pattern).fullmatch(value):
            self.problem(value, path, f"Member must satisfy regular expression pattern: {pattern}")
        enum: list[str] | None = getattr(shape, "enum", None)  # StringShape only
        if enum and value not in enum:
            self.problem(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        return value

    def bounds(self, shape: Shape, size: int, value: object, path: str, what: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and size < low:
            self.problem(value, path, f"Member must have {what} greater than or equal to {low}")
        if high is not None and size > high:
            self.problem(value, path, f"Member must have {what} less than or equal to {high}")


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _type_error(path: str, expected: str, value: object) -> ApiError:
    return ApiError(
        ErrorCode.SERIALIZATION,
        f"Expected {expected} at '{path}' but found {_json_type(value)}",
    )


def _timestamp(value: object, path: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error(path, "a timestamp in epoch seconds", value)
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise ApiError(
            ErrorCode.SERIALIZATION, f"Timestamp {value} at '{path}' is out of range"
        ) from None


def validate_input(operation: str, body: object) -> Mapping[str, Any]:
    """The input of ``operation`` checked against its shape; raises ``ApiError``
    (see the module doc). ``body`` is the decoded JSON of the request."""
    shape = service_model().operation_model(operation).input_shape
    if shape is None:
        return {}
    checker = _Checker()
    checked = checker.structure(shape, body, "")
    problems = checker.problems
    if problems:
        count = len(problems)
        noun = "validation error" if count == 1 else "validation errors"
        raise ApiError(
            ErrorCode.INVALID_REQUEST, f"{count} {noun} detected: " + "; ".join(problems)
        )
    return checked
