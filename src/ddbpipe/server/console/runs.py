"""What the pipeline pages show of a pipeline's objects: each component with its
instances and their attempts, read from the state in one pass, with live progress and,
for an export that finished, the folder it wrote."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ddbpipe.errors import DdbpipeError
from ddbpipe.pipeline.components import PipelinePlan
from ddbpipe.pipeline.definition import PipelineDefinition, definition_from_api
from ddbpipe.pipeline.expressions import ExpressionError
from ddbpipe.pipeline.jobs import job_plans
from ddbpipe.pipeline.state import ObjectRecord, PipelineRecord
from ddbpipe.pipeline.steps import ExportStep
from ddbpipe.pipeline.transitions import instance_runtime
from ddbpipe.server.console.display import ACTIVE_STATUSES
from ddbpipe.server.console.progress import LiveProgress, ProgressBoard
from ddbpipe.server.service_context import ServiceContext

__all__ = ["AttemptView", "ComponentView", "InstanceView", "component_views", "export_folders"]

_RERUNNABLE = frozenset({"FINISHED", "FAILED", "CASCADE_FAILED", "CANCELED", "TIMEDOUT"})
_MARKABLE = frozenset(
    {"FAILED", "CASCADE_FAILED", "CANCELED", "TIMEDOUT", "WAITING_ON_DEPENDENCIES"}
)


@dataclass
class AttemptView:
    """One attempt of an instance."""

    object_id: str
    number: int
    status: str
    started: str | None
    ended: str | None
    hostname: str | None
    error_id: str | None
    error_message: str | None
    stack_trace: str | None
    has_log: bool


@dataclass
class InstanceView:
    """One instance (a scheduled run) of a component."""

    object_id: str
    status: str
    scheduled_start: str | None
    started: str | None
    ended: str | None
    error_message: str | None
    stack_trace: str | None
    summary: str | None
    progress: LiveProgress | None
    attempts: list[AttemptView] = field(default_factory=list)
    exports: bool = False

    @property
    def active(self) -> bool:
        """Whether it may still move on its own."""
        return self.status in ACTIVE_STATUSES

    @property
    def can_rerun(self) -> bool:
        """Whether Rerun applies."""
        return self.status in _RERUNNABLE

    @property
    def can_mark_finished(self) -> bool:
        """Whether Mark finished applies."""
        return self.status in _MARKABLE


@dataclass
class ComponentView:
    """One object of the definition, with its instances."""

    object_id: str
    name: str
    type: str
    status: str | None
    fields: list[tuple[str, str]]
    instances: list[InstanceView] = field(default_factory=list)


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("ref")
    return value if isinstance(value, str) and value else None


def _field_text(definition: PipelineDefinition, object_id: str) -> list[tuple[str, str]]:
    item = definition.object(object_id)
    if item is None:
        return []
    return [
        (entry.key, f"→ {entry.value}" if entry.is_ref else entry.value)
        for entry in item.fields
        if entry.key not in ("type", "name")
    ]


def _attempt(record: ObjectRecord) -> AttemptView:
    return AttemptView(
        object_id=record.object_id,
        number=record.attempt,
        status=record.status or "-",
        started=record.actual_start,
        ended=record.actual_end,
        hostname=_text(record.fields.get("hostname")),
        error_id=_text(record.fields.get("errorId")),
        error_message=_text(record.fields.get("errorMessage")),
        stack_trace=_text(record.fields.get("errorStackTrace")),
        has_log=bool(_text(record.fields.get("emrStepLog"))),
    )


def component_views(
    record: PipelineRecord,
    objects: list[ObjectRecord],
    progress: ProgressBoard,
) -> list[ComponentView]:
    """The pipeline's components (of its active definition, else its latest), each with
    its instances, newest first, and their attempts."""
    document = record.active_definition or record.latest_definition
    if not document:
        return []
    definition = definition_from_api(document)
    components = {item.object_id: item for item in objects if item.sphere == "COMPONENT"}
    attempts: dict[str, list[AttemptView]] = defaultdict(list)
    for item in objects:
        if item.sphere == "ATTEMPT" and item.instance_id:
            attempts[item.instance_id].append(_attempt(item))
    instances: dict[str, list[InstanceView]] = defaultdict(list)
    for item in objects:
        if item.sphere != "INSTANCE" or not item.component_id:
            continue
        view = InstanceView(
            object_id=item.object_id,
            status=item.status or "-",
            scheduled_start=item.scheduled_start,
            started=item.actual_start,
            ended=item.actual_end,
            error_message=_text(item.fields.get("errorMessage")),
            stack_trace=_text(item.fields.get("errorStackTrace")),
            summary=_text(item.internal.get("summary")),
            progress=progress.get(record.pipeline_id, item.object_id),
            attempts=sorted(attempts.get(item.object_id, []), key=lambda a: a.number),
        )
        last = view.attempts[-1] if view.attempts else None
        if last is not None and view.status not in ACTIVE_STATUSES:
            view.error_message = view.error_message or last.error_message
            view.stack_trace = view.stack_trace or last.stack_trace
        view.exports = bool(view.summary and view.summary.startswith("exported"))
        instances[item.component_id].append(view)
    found = []
    for each in definition.objects:
        if each.id == "Default" or each.type is None:
            continue
        component = components.get(each.id)
        runs = sorted(instances.get(each.id, []), key=lambda i: i.scheduled_start or "")
        found.append(
            ComponentView(
                object_id=each.id,
                name=each.name,
                type=each.type or "-",
                status=component.status if component else "PENDING",
                fields=_field_text(definition, each.id),
                instances=list(reversed(runs)),
            )
        )
    found.sort(key=lambda view: 0 if view.type.endswith("Activity") else 1)
    return found


def export_folders(ctx: ServiceContext, plan: PipelinePlan, instance: ObjectRecord) -> list[str]:
    """The folders the export jobs of ``instance`` write to, as its definition renders
    them."""
    if not instance.component_id:
        return []
    try:
        jobs = job_plans(
            plan, instance.component_id, instance_runtime(plan, instance), ctx.runner_config
        )
    except (DdbpipeError, ExpressionError, KeyError):
        return []
    return [job.job.path for job in jobs if isinstance(job.job, ExportStep)]
