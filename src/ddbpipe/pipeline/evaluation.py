"""Field values with every ``#{…}`` expression rendered, for one run of an object.

A name in an expression is looked up, in order, as

- ``node.<name>``: the object that refers to this one (alarms and preconditions);
- ``<ref>.<name>``: a field of the object that the reference field ``<ref>`` names,
  evaluated with the same runtime fields (``#{output.directoryPath}``,
  ``#{input.tableName}``, ``#{parent.@id}``); runtime fields other than ``@id`` cannot
  be followed through a reference, as in the service;
- ``@<name>``: a runtime field (``@scheduledStartTime``, ``@pipelineId``…); ``@id`` is
  the object's id unless the runtime fields give another;
- ``id``, ``name``, then a field of the object (evaluated in turn);
- a parameter;
- a runtime field written without ``@`` (``errorMessage``, ``errorId``,
  ``errorStackTrace``), as ``#{node.errorMessage}`` reads in an alarm.

Reference fields and the fields ``id``, ``name``, ``type`` and ``@…`` are never
evaluated: a reference reads as the id it names, the others as written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ddbpipe.pipeline.expressions import ResolveError, Scalar, Template, Value
from ddbpipe.pipeline.objects import ObjectGraph, ResolvedObject

__all__ = ["NEVER_EVALUATED", "FieldEvaluator", "ObjectScope", "RuntimeFields"]

RuntimeFields = Mapping[str, Value]
NEVER_EVALUATED = frozenset({"id", "name", "type", "@sphere"})


class FieldEvaluator:
    """Renders the fields of a graph's objects with one set of parameter values.

    ``parameters`` maps parameter ids to a string or, for an array, a tuple of strings
    (``ParameterResolution.scope_values()`` gives it). Parsed templates are cached, so
    evaluating the same object for many runs parses each field once.
    """

    def __init__(self, graph: ObjectGraph, parameters: Mapping[str, str | tuple[str, ...]]) -> None:
        self.graph = graph
        self.parameters = parameters
        self._templates: dict[tuple[str, str, str], Template] = {}

    def template(self, object_id: str, key: str, text: str) -> Template:
        """The parsed template of ``text``, a value of field ``key`` written on
        ``object_id`` (errors name that object)."""
        cache_key = (object_id, key, text)
        template = self._templates.get(cache_key)
        if template is None:
            template = Template.parse(text, object_id=object_id, field=key)
            self._templates[cache_key] = template
        return template

    def field(
        self, object_id: str, key: str, runtime: RuntimeFields, *, node_id: str | None = None
    ) -> tuple[str, ...]:
        """Every value of field ``key`` of ``object_id`` (own or inherited), rendered.

        ``node_id`` names the object that refers to this one, for ``#{node.…}`` in
        alarms and preconditions. Raises ``ExpressionError`` (naming the object, field
        and position) when an expression fails, and ``KeyError`` for an unknown id.
        """
        return self._scope(object_id, runtime, node_id).field_values(key)

    def render(self, object_id: str, text: str, runtime: RuntimeFields) -> tuple[str, ...]:
        """``text`` rendered as if it were a field of ``object_id`` (EvaluateExpression):
        every value; ``ExpressionError`` or ``KeyError`` as ``field`` raises them."""
        scope = self._scope(object_id, runtime, None)
        return Template.parse(text, object_id=object_id, field="expression").render_all(scope)

    def fields(
        self, object_id: str, runtime: RuntimeFields, *, node_id: str | None = None
    ) -> dict[str, tuple[str, ...]]:
        """Every field of ``object_id``, rendered, by key."""
        scope = self._scope(object_id, runtime, node_id)
        return {key: scope.field_values(key) for key in scope.item.fields}

    def _scope(self, object_id: str, runtime: RuntimeFields, node_id: str | None) -> ObjectScope:
        node = self.graph[node_id] if node_id is not None else None
        return ObjectScope(self, self.graph[object_id], runtime, node)


@dataclass(frozen=True)
class ObjectScope:
    """The names an expression in one object can use (see the module docstring)."""

    evaluator: FieldEvaluator
    item: ResolvedObject
    runtime: RuntimeFields
    node: ResolvedObject | None = None
    stack: tuple[tuple[str, str], ...] = ()

    def resolve(self, name: tuple[str, ...]) -> Value:
        """The value of the dotted ``name``; raises ``ResolveError`` when it has none."""
        head, rest = name[0], name[1:]
        if head == "node":
            if self.node is None:
                raise ResolveError("'node' is only available in alarms and preconditions")
            if not rest:
                return self.node.id
            return self._elsewhere(self.node, node=None).resolve(rest)
        if not rest:
            return self._value(head)
        if head not in self.item.fields:
            raise ResolveError(f"{head!r} is not a field of object {self.item.id!r}")
        targets = self.evaluator.graph.follow(self.item, head)
        if not targets:
            raise ResolveError(
                f"{head!r} of object {self.item.id!r} is not a reference to an object"
            )
        if rest[0].startswith("@") and rest[0] != "@id":
            raise ResolveError(f"runtime field {rest[0]!r} cannot be followed through {head!r}")
        values = [self._elsewhere(target, node=self.item).resolve(rest) for target in targets]
        return values[0] if len(values) == 1 else tuple(_flatten(values))

    def _elsewhere(self, target: ResolvedObject, *, node: ResolvedObject | None) -> ObjectScope:
        return ObjectScope(self.evaluator, target, _WithoutId(self.runtime), node, self.stack)

    def _value(self, key: str) -> Value:
        if key.startswith("@"):
            if key in self.runtime:
                return self.runtime[key]
            if key == "@id":
                return self.item.id
            raise ResolveError(f"runtime field {key!r} has no value here")
        if key == "id":
            return self.item.id
        if key == "name":
            return self.item.name
        if key in self.item.fields:
            values = self.field_values(key)
            return values[0] if len(values) == 1 else values
        if key in self.evaluator.parameters:
            return self.evaluator.parameters[key]
        if key in self.runtime:  # runtime fields without '@': errorMessage, errorId…
            return self.runtime[key]
        raise ResolveError(f"{key!r} is not a field of object {self.item.id!r} nor a parameter")

    def field_values(self, key: str) -> tuple[str, ...]:
        """Every value of ``key`` of this object, references as the ids they name."""
        entries = self.item.fields.get(key, ())
        if key in NEVER_EVALUATED or key.startswith("@"):
            return tuple(entry.value for entry in entries)
        marker = (self.item.id, key)
        if marker in self.stack:
            raise ResolveError(f"{key!r} of object {self.item.id!r} refers to itself")
        inner = ObjectScope(
            self.evaluator, self.item, self.runtime, self.node, (*self.stack, marker)
        )
        values: list[str] = []
        for entry in entries:
            if entry.is_ref:
                values.append(entry.value)
            else:
                template = self.evaluator.template(self.item.origin(key), key, entry.value)
                values.extend(template.render_all(inner))
        return tuple(values)


def _flatten(values: list[Value]) -> list[Scalar]:
    flat: list[Scalar] = []
    for value in values:
        if isinstance(value, tuple):
            flat.extend(value)
        else:
            flat.append(value)
    return flat


class _WithoutId(Mapping[str, Value]):
    """Runtime fields seen from a referenced object: the same, but for ``@id``."""

    def __init__(self, runtime: RuntimeFields) -> None:
        self.runtime = runtime

    def __getitem__(self, key: str) -> Value:
        if key == "@id":
            raise KeyError(key)
        return self.runtime[key]

    def __contains__(self, key: object) -> bool:
        return key != "@id" and key in self.runtime

    def __iter__(self) -> Iterator[str]:
        return (key for key in self.runtime if key != "@id")

    def __len__(self) -> int:
        return sum(1 for _ in self)
