"""Parameters of a definition: their declarations, the values given, and checks.

A parameter object declares ``type`` (``String``, the default, ``Integer``, ``Double``
or ``AWS::S3::ObjectKey``), ``optional``, ``allowedValues``, ``default``, ``isArray``,
``description`` and ``watermark``. Its value comes from the parameter values, else from
its default. Values are given as the AWS CLI takes them: ``--parameter-values K=V``
(repeatable; repeated keys make a list) or ``--parameter-values-uri`` naming a JSON
file ``{"values": {...}}`` of at most 15 KB, never both.

Numbers are checked without ``float``: Integer values parse as ``int`` and Double
values as ``decimal.Decimal``. An ``AWS::S3::ObjectKey`` is an ``s3://bucket/prefix``
URI or, for ddbpipe, a local folder (absolute, relative, or ``file://``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ddbpipe.errors import ConfigError
from ddbpipe.pipeline.definition import ParameterObject, ParameterValue, PipelineDefinition
from ddbpipe.pipeline.messages import message

__all__ = [
    "MAX_PARAMETERS",
    "MAX_VALUES_FILE_BYTES",
    "PARAMETER_TYPES",
    "ParameterResolution",
    "ParameterSpec",
    "check_parameter_value",
    "parameter_spec",
    "parameter_values_from_args",
    "parameter_values_from_cli",
    "parameter_values_from_document",
    "read_parameter_values_uri",
    "resolve_parameters",
    "typed_value",
]

PARAMETER_TYPES = ("String", "Integer", "Double", "AWS::S3::ObjectKey")
MAX_PARAMETERS = 50
MAX_VALUES_FILE_BYTES = 15 * 1024

_KNOWN_ATTRIBUTES = frozenset(
    {"type", "description", "optional", "allowedValues", "default", "isArray", "watermark"}
)
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DOUBLE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://(.*)", re.DOTALL)
_BUCKET = re.compile(r"[^/\s]+")


@dataclass(frozen=True)
class ParameterSpec:
    """A parameter object read into typed attributes.

    ``defaults`` holds the ``default`` attribute (several for an array parameter);
    ``problems`` the messages of attributes that could not be read.
    """

    id: str
    type: str = "String"
    description: str | None = None
    optional: bool = False
    allowed_values: tuple[str, ...] = ()
    defaults: tuple[str, ...] = ()
    is_array: bool = False
    watermark: str | None = None
    problems: tuple[str, ...] = ()
    unknown_attributes: tuple[str, ...] = ()


def parameter_spec(parameter: ParameterObject) -> ParameterSpec:
    """The typed view of ``parameter``; bad attributes are listed in ``problems``."""
    problems: list[str] = []
    kind = _single(parameter, "type") or "String"
    if kind not in PARAMETER_TYPES:
        problems.append(message("bad_parameter_type", type=kind))
    return ParameterSpec(
        id=parameter.id,
        type=kind,
        description=_single(parameter, "description"),
        optional=_boolean(parameter, "optional", problems),
        allowed_values=parameter.values("allowedValues"),
        defaults=parameter.values("default"),
        is_array=_boolean(parameter, "isArray", problems),
        watermark=_single(parameter, "watermark"),
        problems=tuple(problems),
        unknown_attributes=tuple(
            dict.fromkeys(
                item.key for item in parameter.attributes if item.key not in _KNOWN_ATTRIBUTES
            )
        ),
    )


def _single(parameter: ParameterObject, key: str) -> str | None:
    values = parameter.values(key)
    return values[0] if values else None


def _boolean(parameter: ParameterObject, key: str, problems: list[str]) -> bool:
    value = _single(parameter, key)
    if value is None:
        return False
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    problems.append(message("bad_parameter_boolean", key=key, value=value))
    return False


def typed_value(kind: str, text: str) -> str | int | Decimal | None:
    """``text`` as a value of parameter type ``kind`` (``int`` for Integer, ``Decimal``
    for Double, the text itself otherwise), or None when it is not one."""
    if kind == "Integer":
        return int(text) if _INTEGER.fullmatch(text.strip()) else None
    if kind == "Double":
        if not _DOUBLE.fullmatch(text.strip()):
            return None
        try:
            return Decimal(text.strip())
        except InvalidOperation:
            return None
    if kind == "AWS::S3::ObjectKey":
        return text if _is_object_key(text) else None
    return text


def _is_object_key(text: str) -> bool:
    if not text.strip():
        return False
    match = _SCHEME.fullmatch(text)
    if match is None:
        return True  # a local folder, absolute or relative
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme == "file":
        return bool(rest)
    if scheme == "s3":
        return _BUCKET.fullmatch(rest.split("/", 1)[0]) is not None
    return False


def check_parameter_value(spec: ParameterSpec, text: str, *, what: str = "value") -> str | None:
    """The message saying why ``text`` is not a valid value of ``spec``, or None."""
    if spec.type in PARAMETER_TYPES and typed_value(spec.type, text) is None:
        return message("bad_parameter_value", what=what, value=text, type=spec.type)
    if spec.allowed_values and text not in spec.allowed_values:
        allowed = ", ".join(spec.allowed_values)
        return message("not_allowed_value", what=what, value=text, allowed=allowed)
    return None


@dataclass(frozen=True)
class ParameterResolution:
    """The effective value of every parameter and what is wrong with them.

    ``values`` maps each parameter id (declared or only given a value) to its values as
    text, from the parameter values else the defaults; a parameter with neither is
    absent. ``errors`` and ``warnings`` list messages by parameter id.
    """

    specs: Mapping[str, ParameterSpec]
    values: Mapping[str, tuple[str, ...]]
    errors: Mapping[str, tuple[str, ...]]
    warnings: Mapping[str, tuple[str, ...]]

    def scope_values(self) -> dict[str, str | tuple[str, ...]]:
        """Values as expressions see them: one string, or a tuple for an array; an
        optional parameter without a value reads as the empty string."""
        result: dict[str, str | tuple[str, ...]] = {
            key: "" for key, spec in self.specs.items() if spec.optional
        }
        for key, values in self.values.items():
            spec = self.specs.get(key)
            array = spec.is_array if spec is not None else len(values) > 1
            result[key] = values if array else values[0]
        return result


def resolve_parameters(definition: PipelineDefinition) -> ParameterResolution:
    """Every parameter's effective value, with type, allowed-value and required checks."""
    errors: dict[str, list[str]] = {}
    warnings: dict[str, list[str]] = {}
    specs: dict[str, ParameterSpec] = {}
    counts: dict[str, int] = {}
    for parameter in definition.parameter_objects:
        counts[parameter.id] = counts.get(parameter.id, 0) + 1
        if parameter.id not in specs:
            specs[parameter.id] = parameter_spec(parameter)
    given: dict[str, list[str]] = {}
    for value in definition.parameter_values:
        given.setdefault(value.id, []).append(value.string_value)
    for index, parameter_id in enumerate(specs):
        problems = errors.setdefault(parameter_id, [])
        if index == MAX_PARAMETERS:
            problems.append(message("too_many_parameters", count=len(specs), limit=MAX_PARAMETERS))
        if counts[parameter_id] > 1:
            problems.append(
                message("duplicate_parameter", count=counts[parameter_id], id=parameter_id)
            )
        problems.extend(_check_spec(specs[parameter_id], given.get(parameter_id)))
        unknown = specs[parameter_id].unknown_attributes
        if unknown:
            warnings[parameter_id] = [
                message("unknown_parameter_attribute", key=key) for key in unknown
            ]
    values: dict[str, tuple[str, ...]] = {}
    for parameter_id in [*specs, *given]:
        chosen = given.get(parameter_id) or list(
            specs[parameter_id].defaults if parameter_id in specs else ()
        )
        if chosen:
            values[parameter_id] = tuple(chosen)
    return ParameterResolution(
        specs,
        values,
        {key: tuple(items) for key, items in errors.items() if items},
        {key: tuple(items) for key, items in warnings.items()},
    )


def _check_spec(spec: ParameterSpec, given: Sequence[str] | None) -> list[str]:
    problems = list(spec.problems)
    name = spec.id.removeprefix("*")
    if not name.startswith("my"):
        problems.append(message("bad_parameter_id"))
    for default in spec.defaults:
        problem = check_parameter_value(spec, default, what="default")
        if problem:
            problems.append(problem)
    values = list(given) if given else []
    if not values and not spec.defaults and not spec.optional:
        problems.append(message("missing_value"))
    for value in values:
        problem = check_parameter_value(spec, value)
        if problem:
            problems.append(problem)
    count = len(values) or len(spec.defaults)
    if count > 1 and not spec.is_array:
        problems.append(message("not_array", count=count))
    return problems


# --- values as the AWS CLI takes them -----------------------------------------------


def parameter_values_from_args(arguments: Sequence[str]) -> tuple[ParameterValue, ...]:
    """``--parameter-values`` arguments ``key=value``, split at the first ``=``.

    A key given several times becomes a list, in the order the CLI sends it: keys in
    order of first appearance, each key's values in the order given.
    """
    collected: dict[str, list[str]] = {}
    bad: list[str] = []
    for argument in arguments:
        key, equals, value = argument.partition("=")
        if not equals:
            bad.append(f"Invalid inline parameter format: {argument}")
            continue
        collected.setdefault(key, []).append(value)
    if bad:
        raise ConfigError(bad)
    return tuple(
        ParameterValue(key, value) for key, values in collected.items() for value in values
    )


def parameter_values_from_document(text: str | bytes, *, source: str) -> tuple[ParameterValue, ...]:
    """The values of a ``--parameter-values-uri`` document ``{"values": {...}}``.

    ``source`` names the document in errors. A document over 15 KB, not JSON, or with
    values that are not strings (or lists of strings) raises ``ConfigError``.
    """
    size = len(text.encode() if isinstance(text, str) else text)
    if size > MAX_VALUES_FILE_BYTES:
        raise ConfigError(
            f"{source} is {size} bytes; a parameter values file may be at most "
            f"{MAX_VALUES_FILE_BYTES} bytes (15 KB)"
        )
    try:
        document = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise ConfigError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigError(f'{source} must be a JSON object such as {{"values": {{...}}}}')
    raw = document.get("values", {})
    if not isinstance(raw, dict):
        raise ConfigError(f'{source}: "values" must be a JSON object')
    values: list[ParameterValue] = []
    problems: list[str] = []
    for key, value in raw.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                values.append(ParameterValue(key, item))
            else:
                problems.append(f"{source}: value of {key!r} must be a string or a list of strings")
    if problems:
        raise ConfigError(problems)
    return tuple(values)


def read_parameter_values_uri(uri: str) -> str:
    """The text of the file ``uri`` names (``file://path`` or a plain path), refusing a
    file over 15 KB without reading all of it."""
    path = Path(uri.removeprefix("file://"))
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_VALUES_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(
            f"cannot read parameter values from {uri}: {exc.strerror or exc}"
        ) from None
    if len(data) > MAX_VALUES_FILE_BYTES:
        raise ConfigError(
            f"{uri} is over {MAX_VALUES_FILE_BYTES} bytes; a parameter values file may be at "
            "most 15 KB"
        )
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise ConfigError(f"{uri} is not UTF-8 text") from None


def parameter_values_from_cli(
    arguments: Sequence[str] | None = None,
    *,
    uri: str | None = None,
    uri_text: str | None = None,
) -> tuple[ParameterValue, ...] | None:
    """Values from ``--parameter-values`` or ``--parameter-values-uri``; None when
    neither was given.

    ``uri_text`` is the already-read text of the file ``uri`` names; when it is None the
    file is read. Giving both options raises ``ConfigError``, as the AWS CLI does.
    """
    if arguments and uri is not None:
        raise ConfigError("Only parameter-values or parameter-values-uri is allowed")
    if arguments:
        return parameter_values_from_args(arguments)
    if uri is None:
        return None
    text = uri_text if uri_text is not None else read_parameter_values_uri(uri)
    return parameter_values_from_document(text, source=uri)
