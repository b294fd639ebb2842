"""Pipelines and objects in the API's form: what DescribePipelines and DescribeObjects
return, built from the state.

A pipeline is ``{pipelineId, name, fields, description?, tags}``; its fields are the
service's ``@pipelineState``, ``@creationTime``, ``@id``, ``@sphere`` (``PIPELINE``),
``@version``, ``@userId``, ``@accountId``, ``uniqueId``, ``pipelineCreator``, the
activation times, the health fields, ``@latestRunTime``, ``@nextRunTime``, and
``*tags``.

An object is ``{id, name, fields}``: the fields the definition gives its component
(for an instance or attempt, those of its component; rendered when asked, with the
instance's runtime fields — a component's fields are rendered where they need no
runtime field, and kept as written where they do), then its runtime fields: ``@id``,
``@sphere``, ``@status``, ``@pipelineId``, ``@version``, ``@componentParent`` and
``@instanceParent`` (references), the four time fields, and every other runtime field
kept (``errorMessage``, ``@cascadeFailedOn``, ``hostname``…).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from ddbpipe.pipeline.components import PipelinePlan
from ddbpipe.pipeline.definition import PipelineDefinition
from ddbpipe.pipeline.evaluation import FieldEvaluator
from ddbpipe.pipeline.expressions import ExpressionError
from ddbpipe.pipeline.state import ObjectRecord, PipelineRecord
from ddbpipe.pipeline.transitions import instance_runtime

__all__ = ["object_to_api", "pipeline_to_api", "runtime_fields"]

_COLUMN_FIELDS = (
    ("@scheduledStartTime", "scheduled_start"),
    ("@scheduledEndTime", "scheduled_end"),
    ("@actualStartTime", "actual_start"),
    ("@actualEndTime", "actual_end"),
)


def pipeline_to_api(
    record: PipelineRecord, *, next_run: str | None = None, account_id: str | None = None
) -> dict[str, Any]:
    """The ``PipelineDescription`` of ``record``; ``@accountId`` is ``account_id`` when
    given (a server's account), else the creator."""
    values: list[tuple[str, str | None]] = [
        ("@pipelineState", record.state),
        ("description", record.description),
        ("name", record.name),
        ("@creationTime", record.created),
        ("@id", record.pipeline_id),
        ("@sphere", "PIPELINE"),
        ("@version", str(record.version)),
        ("@userId", record.creator or None),
        ("@accountId", account_id or record.creator or None),
        ("uniqueId", record.unique_id),
        ("pipelineCreator", record.creator or None),
        ("@firstActivationTime", record.first_activated),
        ("@lastActivationTime", record.last_activated),
        ("@lastDeactivatedTime", record.last_deactivated),
        ("@healthStatus", record.health),
        ("@healthStatusFromInstanceId", record.health_from),
        ("@healthStatusUpdatedTime", record.health_updated),
        ("@latestRunTime", record.fields.get("@latestRunTime")),
        ("@nextRunTime", next_run),
    ]
    if record.tags:
        values.append(("*tags", orjson.dumps(record.tags).decode()))
    description: dict[str, Any] = {
        "pipelineId": record.pipeline_id,
        "name": record.name,
        "fields": [{"key": key, "stringValue": value} for key, value in values if value],
        "tags": [dict(tag) for tag in record.tags],
    }
    if record.description:
        description["description"] = record.description
    return description


def runtime_fields(record: ObjectRecord) -> Iterator[dict[str, str]]:
    """The runtime fields of an object, as API fields."""
    yield {"key": "@id", "stringValue": record.object_id}
    yield {"key": "@sphere", "stringValue": record.sphere}
    if record.status:
        yield {"key": "@status", "stringValue": record.status}
    yield {"key": "@pipelineId", "stringValue": record.pipeline_id}
    if record.sphere != "COMPONENT" and record.attempt:
        yield {"key": "@attemptCount", "stringValue": str(record.attempt)}
    for key, column in _COLUMN_FIELDS:
        value = getattr(record, column)
        if value:
            yield {"key": key, "stringValue": value}
    for key, value in record.fields.items():
        yield from _fields(key, value)


def _fields(key: str, value: Any) -> Iterator[dict[str, str]]:
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            yield from _fields(key, item)
    elif isinstance(value, dict) and "ref" in value:
        yield {"key": key, "refValue": str(value["ref"])}
    else:
        yield {"key": key, "stringValue": str(value)}


def object_to_api(
    record: ObjectRecord,
    definition: PipelineDefinition | None,
    *,
    plan: PipelinePlan | None = None,
    evaluate: bool = False,
    evaluator: FieldEvaluator | None = None,
) -> dict[str, Any]:
    """The ``PipelineObject`` of ``record``; with ``evaluate`` (and a plan), the
    component's fields of an instance or attempt are rendered with its runtime fields,
    and a component's own fields where they can be (with ``evaluator`` when there is no
    plan: a pipeline never activated)."""
    component_id = record.object_id if record.sphere == "COMPONENT" else record.component_id
    own = definition.object(component_id) if definition and component_id else None
    fields: list[dict[str, str]] = []
    rendered: Mapping[str, tuple[str, ...]] = {}
    if evaluate and own is not None:
        if record.sphere != "COMPONENT" and plan is not None:
            try:
                rendered = plan.evaluator.fields(own.id, instance_runtime(plan, record))
            except (ExpressionError, KeyError):
                rendered = {}
        elif record.sphere == "COMPONENT":
            chosen = plan.evaluator if plan is not None else evaluator
            if chosen is not None:
                rendered = _component_fields(chosen, own.id, record.pipeline_id)
    if own is not None:
        for entry in own.fields:
            if entry.is_ref or entry.key not in rendered:
                fields.append(entry.to_api())
        for key, values in rendered.items():
            if any(entry.key == key and not entry.is_ref for entry in own.fields):
                fields.extend({"key": key, "stringValue": value} for value in values)
    fields.extend(runtime_fields(record))
    if record.sphere == "COMPONENT" and record.version:
        fields.append({"key": "@version", "stringValue": str(record.version)})
    return {"id": record.object_id, "name": record.name, "fields": fields}


def _component_fields(
    evaluator: FieldEvaluator, object_id: str, pipeline_id: str
) -> dict[str, tuple[str, ...]]:
    """The fields of a component that render without an instance's runtime fields."""
    rendered: dict[str, tuple[str, ...]] = {}
    item = evaluator.graph.get(object_id)
    if item is None:
        return rendered
    runtime = {"@pipelineId": pipeline_id}
    for key in dict.fromkeys(entry.key for entry in item.own.fields):
        try:
            rendered[key] = evaluator.field(object_id, key, runtime)
        except (ExpressionError, KeyError):
            continue
    return rendered
