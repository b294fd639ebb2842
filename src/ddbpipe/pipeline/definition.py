"""Pipeline definitions and their two wire forms.

The **file form** is what people write and what ``aws datapipeline
put-pipeline-definition --pipeline-definition file://…`` reads::

    {"objects": [{"id": "Default", "scheduleType": "ondemand"},
                 {"id": "Node", "type": "S3DataNode", "directoryPath": "#{myDir}",
                  "precondition": [{"ref": "Ready"}, {"ref": "Exists"}]}],
     "parameters": [{"id": "myDir", "type": "AWS::S3::ObjectKey"}],
     "values": {"myDir": "s3://bucket/folder"},
     "metadata": {"templateName": "…"}}

The **API form** is what the service takes and returns: ``pipelineObjects`` of
``{id, name, fields: [{key, stringValue | refValue}]}``, ``parameterObjects`` of
``{id, attributes: [{key, stringValue}]}`` and ``parameterValues`` of
``{id, stringValue}``.

The conversion is the AWS CLI's: ``name`` defaults to ``id``; fields are sorted by
key; ``{"ref": x}`` becomes a ``refValue``; a list becomes one field per element with
the same key, and repeated keys fold back into a list. Parameter attributes are sorted
the same way; ``values`` become one ``parameterValue`` per value. The model remembers
which keys the file form wrote as a list, so a definition read from a file writes back
exactly, even a list of one element (the API form cannot tell those from a single
value, so the CLI folds them into a plain value).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ddbpipe.errors import ConfigError

__all__ = [
    "DefinitionError",
    "Field",
    "ParameterAttribute",
    "ParameterObject",
    "ParameterValue",
    "PipelineDefinition",
    "PipelineObject",
    "definition_from_api",
    "definition_from_file",
    "definition_to_api",
    "definition_to_file",
    "load_definition",
]


class DefinitionError(ConfigError):
    """A pipeline definition that is not JSON or not the shape of either wire form;
    ``problems`` lists every problem found."""


@dataclass(frozen=True)
class Field:
    """One field of an object: a string value or a reference to another object's id."""

    key: str
    string_value: str | None = None
    ref_value: str | None = None

    @property
    def is_ref(self) -> bool:
        """Whether the field refers to another object."""
        return self.ref_value is not None

    @property
    def value(self) -> str:
        """The string value, or the id the field refers to."""
        if self.ref_value is not None:
            return self.ref_value
        return self.string_value if self.string_value is not None else ""

    def to_api(self) -> dict[str, str]:
        """``{"key": …, "stringValue": …}`` or ``{"key": …, "refValue": …}``."""
        if self.ref_value is not None:
            return {"key": self.key, "refValue": self.ref_value}
        return {"key": self.key, "stringValue": self.value}


@dataclass(frozen=True)
class PipelineObject:
    """An object of the definition: its id, name and fields in API order.

    ``list_keys`` names the keys the file form wrote as a JSON list; it only shapes the
    file form written back and takes no part in comparisons.
    """

    id: str
    name: str
    fields: tuple[Field, ...] = ()
    list_keys: frozenset[str] = field(default=frozenset(), compare=False)

    def values(self, key: str) -> tuple[Field, ...]:
        """Every field named ``key``, in order."""
        return tuple(item for item in self.fields if item.key == key)

    def string(self, key: str) -> str | None:
        """The first string value of ``key``, or None."""
        for item in self.fields:
            if item.key == key and not item.is_ref:
                return item.value
        return None

    @property
    def type(self) -> str | None:
        """The object's own ``type`` field, or None."""
        return self.string("type")


@dataclass(frozen=True)
class ParameterAttribute:
    """One attribute of a parameter object (``type``, ``default``, ``allowedValues``…)."""

    key: str
    string_value: str


@dataclass(frozen=True)
class ParameterObject:
    """A parameter declared by the definition: its id and attributes in API order."""

    id: str
    attributes: tuple[ParameterAttribute, ...] = ()
    list_keys: frozenset[str] = field(default=frozenset(), compare=False)

    def values(self, key: str) -> tuple[str, ...]:
        """Every value of attribute ``key``, in order."""
        return tuple(item.string_value for item in self.attributes if item.key == key)


@dataclass(frozen=True)
class ParameterValue:
    """A value given for a parameter; an array parameter has one per element."""

    id: str
    string_value: str


@dataclass(frozen=True)
class PipelineDefinition:
    """Objects, parameter objects, parameter values and the file form's metadata."""

    objects: tuple[PipelineObject, ...]
    parameter_objects: tuple[ParameterObject, ...] = ()
    parameter_values: tuple[ParameterValue, ...] = ()
    metadata: Mapping[str, Any] | None = None
    list_values: frozenset[str] = field(default=frozenset(), compare=False)

    def object(self, object_id: str) -> PipelineObject | None:
        """The first object with ``object_id``, or None."""
        for item in self.objects:
            if item.id == object_id:
                return item
        return None


# --- file form ----------------------------------------------------------------------


def load_definition(
    text: str | bytes, *, source: str = "pipeline definition"
) -> PipelineDefinition:
    """Read a definition in either form, told apart by ``objects`` or ``pipelineObjects``."""
    try:
        document = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise DefinitionError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise DefinitionError(f"{source} must be a JSON object")
    if "objects" in document:
        return definition_from_file(document)
    if "pipelineObjects" in document:
        return definition_from_api(document)
    raise DefinitionError(f'{source} has no "objects" (file form) or "pipelineObjects" (API form)')


def definition_from_file(document: Mapping[str, Any]) -> PipelineDefinition:
    """The definition in ``document``, the file form; raises ``DefinitionError`` listing
    every problem."""
    problems: list[str] = []
    raw_objects = document.get("objects")
    if raw_objects is None:
        raise DefinitionError('Missing "objects" key')
    objects = [
        _object_from_file(element, index, problems)
        for index, element in enumerate(_list_of(raw_objects, '"objects"', problems))
    ]
    parameters = [
        _parameter_from_file(element, index, problems)
        for index, element in enumerate(
            _list_of(document.get("parameters", []), '"parameters"', problems)
        )
    ]
    values, list_values = _values_from_file(document.get("values", {}), problems)
    metadata = document.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        problems.append('"metadata" must be a JSON object')
    if problems:
        raise DefinitionError(problems)
    return PipelineDefinition(
        tuple(item for item in objects if item is not None),
        tuple(item for item in parameters if item is not None),
        values,
        metadata,
        list_values,
    )


def _list_of(value: Any, what: str, problems: list[str]) -> list[Any]:
    if isinstance(value, list):
        return value
    problems.append(f"{what} must be a JSON list")
    return []


def _object_from_file(element: Any, index: int, problems: list[str]) -> PipelineObject | None:
    if not isinstance(element, dict):
        problems.append(f"object {index + 1} must be a JSON object")
        return None
    if "id" not in element:
        problems.append(f'Missing "id" key of element: {_json_text(element)}')
        return None
    object_id, name = element["id"], element.get("name", element["id"])
    if not isinstance(object_id, str) or not isinstance(name, str):
        problems.append(f"object {index + 1}: id and name must be strings")
        return None
    fields: list[Field] = []
    list_keys: set[str] = set()
    for key, value in sorted(element.items()):
        if key in ("id", "name"):
            continue
        if isinstance(value, list):
            list_keys.add(key)
        for item in value if isinstance(value, list) else [value]:
            converted = _field_from_file(key, item)
            if converted is None:
                problems.append(
                    f"object {object_id!r}: field {key!r} must be a string, "
                    '{"ref": "<id>"} or a list of them'
                )
            else:
                fields.append(converted)
    return PipelineObject(object_id, name, tuple(fields), frozenset(list_keys))


def _field_from_file(key: str, value: Any) -> Field | None:
    if isinstance(value, str):
        return Field(key, string_value=value)
    if isinstance(value, dict) and list(value) == ["ref"] and isinstance(value["ref"], str):
        return Field(key, ref_value=value["ref"])
    return None


def _parameter_from_file(element: Any, index: int, problems: list[str]) -> ParameterObject | None:
    if not isinstance(element, dict):
        problems.append(f"parameter {index + 1} must be a JSON object")
        return None
    parameter_id = element.get("id")
    if parameter_id is None:
        problems.append(f'Missing "id" key of parameter: {_json_text(element)}')
        return None
    if not isinstance(parameter_id, str):
        problems.append(f"parameter {index + 1}: id must be a string")
        return None
    attributes: list[ParameterAttribute] = []
    list_keys: set[str] = set()
    for key, value in sorted(element.items()):
        if key == "id":
            continue
        if isinstance(value, list):
            list_keys.add(key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                attributes.append(ParameterAttribute(key, item))
            else:
                problems.append(
                    f"parameter {parameter_id!r}: attribute {key!r} must be a string "
                    "or a list of strings"
                )
    return ParameterObject(parameter_id, tuple(attributes), frozenset(list_keys))


def _values_from_file(
    raw: Any, problems: list[str]
) -> tuple[tuple[ParameterValue, ...], frozenset[str]]:
    if not isinstance(raw, dict):
        problems.append('"values" must be a JSON object')
        return (), frozenset()
    values: list[ParameterValue] = []
    list_keys: set[str] = set()
    for key, value in raw.items():
        if isinstance(value, list):
            list_keys.add(key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                values.append(ParameterValue(key, item))
            else:
                problems.append(f"value of {key!r} must be a string or a list of strings")
    return tuple(values), frozenset(list_keys)


def _json_text(value: Any) -> str:
    return json.dumps(value, default=str)


def definition_to_file(definition: PipelineDefinition) -> dict[str, Any]:
    """The file form of ``definition``: ``objects``, then ``parameters``, ``values`` and
    ``metadata`` when present."""
    document: dict[str, Any] = {
        "objects": [_object_to_file(item) for item in definition.objects],
    }
    if definition.parameter_objects:
        document["parameters"] = [_parameter_to_file(item) for item in definition.parameter_objects]
    if definition.parameter_values:
        document["values"] = _fold(
            ((item.id, item.string_value) for item in definition.parameter_values),
            definition.list_values,
        )
    if definition.metadata is not None:
        document["metadata"] = definition.metadata
    return document


def _object_to_file(item: PipelineObject) -> dict[str, Any]:
    folded = _fold(
        (
            (entry.key, {"ref": entry.ref_value} if entry.is_ref else entry.value)
            for entry in item.fields
        ),
        item.list_keys,
    )
    return {"id": item.id, "name": item.name, **folded}


def _parameter_to_file(item: ParameterObject) -> dict[str, Any]:
    folded = _fold(((entry.key, entry.string_value) for entry in item.attributes), item.list_keys)
    return {"id": item.id, **folded}


def _fold(pairs: Iterable[tuple[str, Any]], list_keys: frozenset[str]) -> dict[str, Any]:
    """Repeated keys become lists, as the CLI folds them; keys in ``list_keys`` stay
    lists even with one element."""
    folded: dict[str, Any] = {}
    for key, value in pairs:
        if key not in folded:
            folded[key] = [value] if key in list_keys else value
        elif isinstance(folded[key], list):
            folded[key].append(value)
        else:
            folded[key] = [folded[key], value]
    return folded


# --- API form -----------------------------------------------------------------------


def definition_to_api(definition: PipelineDefinition) -> dict[str, Any]:
    """The API form: ``pipelineObjects``, then ``parameterObjects`` and ``parameterValues``
    when present."""
    document: dict[str, Any] = {
        "pipelineObjects": [
            {"id": item.id, "name": item.name, "fields": [entry.to_api() for entry in item.fields]}
            for item in definition.objects
        ]
    }
    if definition.parameter_objects:
        document["parameterObjects"] = [
            {
                "id": item.id,
                "attributes": [
                    {"key": entry.key, "stringValue": entry.string_value}
                    for entry in item.attributes
                ],
            }
            for item in definition.parameter_objects
        ]
    if definition.parameter_values:
        document["parameterValues"] = [
            {"id": item.id, "stringValue": item.string_value}
            for item in definition.parameter_values
        ]
    return document


def definition_from_api(document: Mapping[str, Any]) -> PipelineDefinition:
    """The definition in ``document``, the API form (as PutPipelineDefinition takes it).

    Fields keep their order. An object without an id or a name is kept with an empty
    one, so that validation can refuse it as the service does; anything else out of
    shape raises ``DefinitionError`` listing every problem.
    """
    problems: list[str] = []
    objects = [
        _object_from_api(element, index, problems)
        for index, element in enumerate(
            _list_of(document.get("pipelineObjects"), '"pipelineObjects"', problems)
        )
    ]
    parameters = [
        _parameter_from_api(element, index, problems)
        for index, element in enumerate(
            _list_of(document.get("parameterObjects") or [], '"parameterObjects"', problems)
        )
    ]
    values = [
        _value_from_api(element, index, problems)
        for index, element in enumerate(
            _list_of(document.get("parameterValues") or [], '"parameterValues"', problems)
        )
    ]
    if problems:
        raise DefinitionError(problems)
    return PipelineDefinition(
        tuple(item for item in objects if item is not None),
        tuple(item for item in parameters if item is not None),
        tuple(item for item in values if item is not None),
    )


def _text_member(element: Mapping[str, Any], key: str, where: str, problems: list[str]) -> str:
    value = element.get(key, "")
    if isinstance(value, str):
        return value
    problems.append(f"{where}: {key!r} must be a string")
    return ""


def _object_from_api(element: Any, index: int, problems: list[str]) -> PipelineObject | None:
    where = f"pipelineObjects[{index}]"
    if not isinstance(element, dict):
        problems.append(f"{where} must be a JSON object")
        return None
    object_id = _text_member(element, "id", where, problems)
    name = _text_member(element, "name", where, problems)
    fields: list[Field] = []
    for position, raw in enumerate(
        _list_of(element.get("fields", []), f"{where}.fields", problems)
    ):
        converted = _field_from_api(raw)
        if converted is None:
            problems.append(
                f"{where}.fields[{position}] must have a string key and exactly one of "
                "stringValue or refValue, a string"
            )
        else:
            fields.append(converted)
    return PipelineObject(object_id, name, tuple(fields))


def _field_from_api(raw: Any) -> Field | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("key"), str):
        return None
    string_value, ref_value = raw.get("stringValue"), raw.get("refValue")
    if (string_value is None) == (ref_value is None):
        return None
    if not isinstance(string_value if ref_value is None else ref_value, str):
        return None
    return Field(raw["key"], string_value=string_value, ref_value=ref_value)


def _parameter_from_api(element: Any, index: int, problems: list[str]) -> ParameterObject | None:
    where = f"parameterObjects[{index}]"
    if not isinstance(element, dict):
        problems.append(f"{where} must be a JSON object")
        return None
    parameter_id = _text_member(element, "id", where, problems)
    attributes: list[ParameterAttribute] = []
    raw_attributes = _list_of(element.get("attributes", []), f"{where}.attributes", problems)
    for position, raw in enumerate(raw_attributes):
        if (
            isinstance(raw, dict)
            and isinstance(raw.get("key"), str)
            and isinstance(raw.get("stringValue"), str)
        ):
            attributes.append(ParameterAttribute(raw["key"], raw["stringValue"]))
        else:
            problems.append(
                f"{where}.attributes[{position}] must have a string key and stringValue"
            )
    return ParameterObject(parameter_id, tuple(attributes))


def _value_from_api(element: Any, index: int, problems: list[str]) -> ParameterValue | None:
    if (
        isinstance(element, dict)
        and isinstance(element.get("id"), str)
        and isinstance(element.get("stringValue"), str)
    ):
        return ParameterValue(element["id"], element["stringValue"])
    problems.append(f"parameterValues[{index}] must have a string id and stringValue")
    return None
