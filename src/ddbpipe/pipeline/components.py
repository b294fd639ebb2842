"""A validated definition read as what runs: components, their schedules, settings and
dependencies.

Components that get instances are the runnable objects ddbpipe supports: activities
(``EmrActivity``, ``HiveCopyActivity``), data nodes (``DynamoDBDataNode``,
``S3DataNode``) and resources (``EmrCluster``). Abstract objects (``Default``, any
object named as a ``parent``) get none.

Dependencies, as the service orders work: an activity waits for its ``input`` data nodes
and its ``dependsOn``; a data node waits for the activities that name it as ``output``
(so an activity that reads a node waits for the one that writes it) and its
``dependsOn``; both wait for their preconditions. An activity runs on its ``runsOn``
resource, whose instance starts when the first attempt does.

Settings are rendered once per pipeline version; a field that needs an instance's
runtime fields to render cannot be a setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from ddbpipe.errors import ConfigError
from ddbpipe.pipeline.definition import PipelineDefinition
from ddbpipe.pipeline.evaluation import FieldEvaluator, RuntimeFields
from ddbpipe.pipeline.expressions import ExpressionError, Value
from ddbpipe.pipeline.objects import DEFAULT_OBJECT_ID, ObjectGraph, ResolvedObject
from ddbpipe.pipeline.parameters import resolve_parameters
from ddbpipe.pipeline.schedules import ScheduleKind, ScheduleSpec, whole_seconds
from ddbpipe.pipeline.timefmt import Period, TimeValueError, parse_datetime

__all__ = [
    "DEFAULT_MAXIMUM_RETRIES",
    "DEFAULT_MAX_ACTIVE_INSTANCES",
    "DEFAULT_PRECONDITION_INTERVAL",
    "DEFAULT_REPORT_PROGRESS_TIMEOUT",
    "DEFAULT_RETRY_DELAY",
    "ActionPlan",
    "ComponentKind",
    "ComponentPlan",
    "PipelinePlan",
    "PreconditionPlan",
    "build_plan",
]

ComponentKind = Literal["activity", "data_node", "resource"]

DEFAULT_MAXIMUM_RETRIES = 2
DEFAULT_RETRY_DELAY = Period(10, "minutes")
DEFAULT_PRECONDITION_INTERVAL = Period(2, "minutes")
DEFAULT_MAX_ACTIVE_INSTANCES = 1
DEFAULT_REPORT_PROGRESS_TIMEOUT = Period(15, "minutes")
"""How long a task runner may go without reporting progress (``reportProgressTimeout``)."""

_KINDS: dict[str, ComponentKind] = {
    "EmrActivity": "activity",
    "HiveCopyActivity": "activity",
    "DynamoDBDataNode": "data_node",
    "S3DataNode": "data_node",
    "EmrCluster": "resource",
}
_PRECONDITIONS = frozenset(
    {"S3PrefixNotEmpty", "S3KeyExists", "DynamoDBTableExists", "DynamoDBDataExists"}
)
_ACTIONS = frozenset({"SnsAlarm", "Terminate"})
_WHOLE = re.compile(r"[0-9]+")
_FIRST_ACTIVATION = "FIRST_ACTIVATION_DATE_TIME"
_ONDEMAND_PERIOD = "ONDEMAND_PERIOD"


@dataclass(frozen=True)
class PreconditionPlan:
    """A precondition: its type, how long it may stay unmet, how many failed checks it
    takes, and how often it is checked."""

    id: str
    type: str
    timeout: Period | None
    maximum_retries: int
    interval: Period


@dataclass(frozen=True)
class ActionPlan:
    """An action (``SnsAlarm`` or ``Terminate``)."""

    id: str
    type: str


@dataclass(frozen=True)
class ComponentPlan:
    """One component that gets instances, with its rendered settings."""

    id: str
    name: str
    type: str
    kind: ComponentKind
    schedule: ScheduleSpec
    depends_on: tuple[str, ...] = ()
    runs_on: str | None = None
    preconditions: tuple[str, ...] = ()
    on_fail: tuple[str, ...] = ()
    on_success: tuple[str, ...] = ()
    on_late: tuple[str, ...] = ()
    maximum_retries: int = DEFAULT_MAXIMUM_RETRIES
    retry_delay: Period = DEFAULT_RETRY_DELAY
    attempt_timeout: Period | None = None
    late_after: Period | None = None
    terminate_after: Period | None = None
    cascade: bool = False
    max_active: int = DEFAULT_MAX_ACTIVE_INSTANCES
    worker_group: str | None = None
    report_progress_timeout: Period = DEFAULT_REPORT_PROGRESS_TIMEOUT

    @property
    def remote(self) -> bool:
        """Whether the activity is handed to the task runners of its ``workerGroup``
        (it has one and no ``runsOn`` resource) rather than run by a pipeline runner."""
        return self.kind == "activity" and self.worker_group is not None and self.runs_on is None


@dataclass(frozen=True)
class PipelinePlan:
    """Everything a runner needs to know of one version of a pipeline's definition."""

    pipeline_id: str
    definition: PipelineDefinition
    graph: ObjectGraph
    evaluator: FieldEvaluator
    components: Mapping[str, ComponentPlan]
    preconditions: Mapping[str, PreconditionPlan]
    actions: Mapping[str, ActionPlan]
    ondemand: bool
    masked: tuple[str, ...] = field(default=())
    order: Mapping[str, int] = field(default_factory=dict)

    def runtime(self, scheduled_start: datetime, scheduled_end: datetime) -> dict[str, Value]:
        """The runtime fields every instance of the pipeline shares."""
        return {
            "@scheduledStartTime": scheduled_start,
            "@scheduledEndTime": scheduled_end,
            "@pipelineId": self.pipeline_id,
        }

    def rank(self, component_id: str) -> int:
        """Where the component comes in an order that puts every component after what it
        waits for, and each resource after the activities that run on it."""
        return self.order.get(component_id, len(self.order))

    def consumers(self, component_id: str) -> tuple[str, ...]:
        """Components that wait for ``component_id``."""
        return tuple(
            item.id for item in self.components.values() if component_id in item.depends_on
        )

    def users(self, resource_id: str) -> tuple[str, ...]:
        """Activities that run on the resource ``resource_id``."""
        return tuple(item.id for item in self.components.values() if item.runs_on == resource_id)

    def log_uri(self, component_id: str, runtime: RuntimeFields) -> str | None:
        """The component's rendered ``pipelineLogUri``, or None."""
        values = self.evaluator.field(component_id, "pipelineLogUri", runtime)
        return values[0].rstrip("/") if values and values[0] else None


def build_plan(
    definition: PipelineDefinition, pipeline_id: str, first_activation: datetime
) -> PipelinePlan:
    """Read a validated ``definition`` (its parameter values included) as a plan.

    ``first_activation`` is the start of schedules with ``startAt:
    FIRST_ACTIVATION_DATE_TIME``. Raises ``ConfigError`` for a setting that cannot be
    read (validation reports those first).
    """
    graph = ObjectGraph(definition)
    resolution = resolve_parameters(definition)
    evaluator = FieldEvaluator(graph, resolution.scope_values())
    reader = _Reader(graph, evaluator, pipeline_id, whole_seconds(first_activation))
    abstract = graph.parent_ids() | {DEFAULT_OBJECT_ID}
    components: dict[str, ComponentPlan] = {}
    for item in graph:
        kind = _KINDS.get(item.type or "")
        if kind is not None and item.id not in abstract:
            components[item.id] = reader.component(item, kind)
    producers: dict[str, list[str]] = {}
    for plan in components.values():
        if plan.kind == "activity":
            for node in graph.follow(graph[plan.id], "output"):
                producers.setdefault(node.id, []).append(plan.id)
    components = {
        key: _with_producers(plan, producers.get(key, ()), components)
        for key, plan in components.items()
    }
    preconditions = {
        item.id: reader.precondition(item)
        for item in graph
        if item.type in _PRECONDITIONS and item.id not in abstract
    }
    actions = {
        item.id: ActionPlan(item.id, item.type or "")
        for item in graph
        if item.type in _ACTIONS and item.id not in abstract
    }
    masked = tuple(
        str(value)
        for key, value in resolution.scope_values().items()
        if key.startswith("*") and value
    )
    return PipelinePlan(
        pipeline_id,
        definition,
        graph,
        evaluator,
        components,
        preconditions,
        actions,
        reader.ondemand,
        masked,
        _order(components),
    )


def _order(components: Mapping[str, ComponentPlan]) -> dict[str, int]:
    """A rank per component: after everything it waits for (a cycle is broken where it
    is found), resources after the activities that run on them."""
    before: dict[str, list[str]] = {key: list(plan.depends_on) for key, plan in components.items()}
    for plan in components.values():
        if plan.runs_on in before:
            before[plan.runs_on].append(plan.id)
    order: dict[str, int] = {}
    visiting: set[str] = set()

    def visit(key: str) -> None:
        if key in order or key in visiting:
            return
        visiting.add(key)
        for first in before.get(key, ()):
            visit(first)
        visiting.discard(key)
        order[key] = len(order)

    for key in sorted(components):
        visit(key)
    return order


def _with_producers(
    plan: ComponentPlan, producers: tuple[str, ...] | list[str], known: Mapping[str, ComponentPlan]
) -> ComponentPlan:
    extra = tuple(p for p in producers if p not in plan.depends_on)
    depends = tuple(d for d in (*plan.depends_on, *extra) if d in known and d != plan.id)
    return replace(plan, depends_on=depends)


class _Reader:
    """Reads settings of one definition's objects, rendered without runtime fields."""

    def __init__(
        self, graph: ObjectGraph, evaluator: FieldEvaluator, pipeline_id: str, first: datetime
    ) -> None:
        self.graph = graph
        self.evaluator = evaluator
        self.runtime: dict[str, Value] = {"@pipelineId": pipeline_id}
        self.first = first
        default = graph.get(DEFAULT_OBJECT_ID)
        mode = (default.string("scheduleType") if default is not None else None) or ""
        self.ondemand = mode.lower() == "ondemand"

    def text(self, item: ResolvedObject, key: str) -> str | None:
        if not item.strings(key):
            return None
        try:
            values = self.evaluator.field(item.id, key, self.runtime)
        except ExpressionError as exc:
            raise ConfigError(f"object {item.id!r}: {key!r} cannot be read here: {exc}") from None
        return values[0] if values else None

    def whole(self, item: ResolvedObject, key: str, default: int) -> int:
        text = self.text(item, key)
        if text is None:
            return default
        if not _WHOLE.fullmatch(text.strip()):
            raise ConfigError(f"object {item.id!r}: {key!r} is not a whole number: {text!r}")
        return int(text.strip())

    def period(self, item: ResolvedObject, key: str) -> Period | None:
        text = self.text(item, key)
        if text is None:
            return None
        try:
            return Period.parse(text)
        except TimeValueError as exc:
            raise ConfigError(f"object {item.id!r}: {key!r}: {exc}") from None

    def component(self, item: ResolvedObject, kind: ComponentKind) -> ComponentPlan:
        runs_on = None
        if kind == "activity":
            clusters = [r for r in self.graph.follow(item, "runsOn") if r.type == "EmrCluster"]
            runs_on = clusters[0].id if clusters else None
        depends = [r.id for r in self.graph.follow(item, "dependsOn")]
        if kind == "activity":
            depends = [r.id for r in self.graph.follow(item, "input")] + depends
        mode = (self.text(item, "failureAndRerunMode") or "none").lower()
        return ComponentPlan(
            id=item.id,
            name=item.name,
            type=item.type or "",
            kind=kind,
            schedule=self.schedule(item, kind),
            depends_on=tuple(dict.fromkeys(depends)),
            runs_on=runs_on,
            preconditions=tuple(r.id for r in self.graph.follow(item, "precondition")),
            on_fail=tuple(r.id for r in self.graph.follow(item, "onFail")),
            on_success=tuple(r.id for r in self.graph.follow(item, "onSuccess")),
            on_late=tuple(r.id for r in self.graph.follow(item, "onLateAction")),
            maximum_retries=self.whole(item, "maximumRetries", DEFAULT_MAXIMUM_RETRIES),
            retry_delay=self.period(item, "retryDelay") or DEFAULT_RETRY_DELAY,
            attempt_timeout=self.period(item, "attemptTimeout"),
            late_after=self.period(item, "lateAfterTimeout"),
            terminate_after=self.terminate_after(item) if kind == "resource" else None,
            cascade=mode == "cascade",
            max_active=max(1, self.whole(item, "maxActiveInstances", DEFAULT_MAX_ACTIVE_INSTANCES)),
            worker_group=(self.text(item, "workerGroup") or None) if kind == "activity" else None,
            report_progress_timeout=self.period(item, "reportProgressTimeout")
            or DEFAULT_REPORT_PROGRESS_TIMEOUT,
        )

    def terminate_after(self, item: ResolvedObject) -> Period | None:
        text = self.text(item, "terminateAfter")
        if text is None:
            return None
        if _WHOLE.fullmatch(text.strip()):  # the reference types it a number of hours
            return Period(int(text.strip()), "hours")
        return self.period(item, "terminateAfter")

    def schedule(self, item: ResolvedObject, kind: ComponentKind) -> ScheduleSpec:
        mode = (self.text(item, "scheduleType") or "cron").lower()
        if self.ondemand or mode == "ondemand":
            return ScheduleSpec("ondemand")
        schedules = self.graph.follow(item, "schedule")
        if not schedules:
            raise ConfigError(f"object {item.id!r} has no schedule and does not run on demand")
        schedule = schedules[0]
        period_text = self.text(schedule, "period")
        if period_text == _ONDEMAND_PERIOD:
            return ScheduleSpec("ondemand")
        period = self.period(schedule, "period")
        if period is None:
            raise ConfigError(f"Schedule {schedule.id!r} has no period")
        start_text = self.text(schedule, "startDateTime")
        if start_text is not None:
            start = parse_datetime(start_text)
        elif self.text(schedule, "startAt") == _FIRST_ACTIVATION:
            start = self.first
        else:
            raise ConfigError(f"Schedule {schedule.id!r} has no startDateTime or startAt")
        end_text = self.text(schedule, "endDateTime")
        occurrences = self.text(schedule, "occurrences")
        kind_name: ScheduleKind = "timeseries" if mode == "timeseries" else "cron"
        return ScheduleSpec(
            kind_name,
            period,
            start,
            parse_datetime(end_text) if end_text is not None else None,
            self.whole(schedule, "occurrences", 0) if occurrences is not None else None,
            at_start=kind == "resource",
        )

    def precondition(self, item: ResolvedObject) -> PreconditionPlan:
        return PreconditionPlan(
            id=item.id,
            type=item.type or "",
            timeout=self.period(item, "preconditionTimeout"),
            maximum_retries=self.whole(item, "maximumRetries", DEFAULT_MAXIMUM_RETRIES),
            interval=self.period(item, "retryDelay") or DEFAULT_PRECONDITION_INTERVAL,
        )
