"""Objects with their inherited fields, and the references between them.

An object's effective fields are its own, then those of its ``parent`` chain: an object
that names no ``parent`` inherits from the ``Default`` object. A field the object sets
itself wins over an inherited one with the same key (all of that key's values). A
``parent`` chain that loops stops where it would repeat an object; the loop is kept in
``ObjectGraph.parent_cycles`` for validation to report. The graph never raises, so a
definition can be built into one before it is validated.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ddbpipe.pipeline.definition import Field, PipelineDefinition, PipelineObject

__all__ = ["DEFAULT_OBJECT_ID", "ObjectGraph", "ResolvedObject"]

DEFAULT_OBJECT_ID = "Default"


@dataclass(frozen=True)
class ResolvedObject:
    """An object with its effective fields (own and inherited), grouped by key;
    ``origins`` names, for each key, the object the values come from."""

    own: PipelineObject
    fields: Mapping[str, tuple[Field, ...]]
    origins: Mapping[str, str]

    @property
    def id(self) -> str:
        """The object's id."""
        return self.own.id

    @property
    def name(self) -> str:
        """The object's name."""
        return self.own.name

    @property
    def type(self) -> str | None:
        """The effective ``type``, or None."""
        return self.string("type")

    def origin(self, key: str) -> str:
        """The id of the object that sets ``key`` (this one, or an ancestor)."""
        return self.origins.get(key, self.id)

    def has(self, key: str) -> bool:
        """Whether the object has (or inherits) ``key``."""
        return key in self.fields

    def string(self, key: str) -> str | None:
        """The first string value of ``key``, or None."""
        for item in self.fields.get(key, ()):
            if not item.is_ref:
                return item.value
        return None

    def strings(self, key: str) -> tuple[str, ...]:
        """Every string value of ``key``."""
        return tuple(item.value for item in self.fields.get(key, ()) if not item.is_ref)

    def refs(self, key: str) -> tuple[str, ...]:
        """Every id that ``key`` refers to."""
        return tuple(item.value for item in self.fields.get(key, ()) if item.is_ref)


class ObjectGraph:
    """The objects of a definition by id, with inheritance applied.

    When ids repeat, the first object wins and the id is listed in ``duplicates``.
    """

    def __init__(self, definition: PipelineDefinition) -> None:
        self.definition = definition
        self._own: dict[str, PipelineObject] = {}
        self.duplicates: dict[str, int] = {}
        for item in definition.objects:
            if item.id in self._own:
                self.duplicates[item.id] = self.duplicates.get(item.id, 1) + 1
            else:
                self._own[item.id] = item
        self.parent_cycles: dict[str, tuple[str, ...]] = {}
        self._resolved = {key: self._resolve(item) for key, item in self._own.items()}

    def _parent_of(self, item: PipelineObject) -> str | None:
        for entry in item.fields:
            if entry.key == "parent":
                return entry.value
        if item.id != DEFAULT_OBJECT_ID and DEFAULT_OBJECT_ID in self._own:
            return DEFAULT_OBJECT_ID
        return None

    def _resolve(self, item: PipelineObject) -> ResolvedObject:
        fields: dict[str, list[Field]] = {}
        for entry in item.fields:
            fields.setdefault(entry.key, []).append(entry)
        origins = dict.fromkeys(fields, item.id)
        chain = [item.id]
        parent_id = self._parent_of(item)
        while parent_id is not None and parent_id in self._own:
            if parent_id in chain:
                self.parent_cycles[item.id] = (*chain[chain.index(parent_id) :], parent_id)
                break
            chain.append(parent_id)
            parent = self._own[parent_id]
            inherited: dict[str, list[Field]] = {}
            for entry in parent.fields:
                if entry.key != "parent" and entry.key not in fields:
                    inherited.setdefault(entry.key, []).append(entry)
            fields.update(inherited)
            origins.update(dict.fromkeys(inherited, parent_id))
            parent_id = self._parent_of(parent)
        return ResolvedObject(item, {key: tuple(values) for key, values in fields.items()}, origins)

    def __iter__(self) -> Iterator[ResolvedObject]:
        return iter(self._resolved.values())

    def __len__(self) -> int:
        return len(self._resolved)

    def __contains__(self, object_id: object) -> bool:
        return object_id in self._resolved

    def __getitem__(self, object_id: str) -> ResolvedObject:
        return self._resolved[object_id]

    def get(self, object_id: str) -> ResolvedObject | None:
        """The object with ``object_id``, or None."""
        return self._resolved.get(object_id)

    def follow(self, item: ResolvedObject, key: str) -> tuple[ResolvedObject, ...]:
        """The objects that ``key`` of ``item`` refers to (ids that resolve, in order)."""
        return tuple(
            self._resolved[target] for target in item.refs(key) if target in self._resolved
        )

    def parent_ids(self) -> frozenset[str]:
        """Ids that some object names as its ``parent``."""
        return frozenset(
            entry.value
            for item in self.definition.objects
            for entry in item.fields
            if entry.key == "parent"
        )
