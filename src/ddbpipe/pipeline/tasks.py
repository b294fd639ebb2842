"""Remote tasks: attempts of activities handed to task runners (``ddbpipe worker``),
as the service's PollForTask, ReportTaskProgress and SetTaskStatus hand them out.

An activity with a ``workerGroup`` and no ``runsOn`` resource is *remote*
(``ComponentPlan.remote``): a pipeline runner that hands out work does not run it but
offers it to the task runners of that worker group. Starting a remote attempt is the
same as starting a local one (``attempts.start_attempt``), with a task recorded in the
attempt's bookkeeping: its secret, worker group, host and the time by which the task
runner must next report (now + the activity's ``reportProgressTimeout``, 15 minutes by
default, as in the service). Each progress report moves that deadline on.

A task id (``taskId``) names the pipeline, the attempt and the secret, base64url-encoded:
opaque to task runners, and found again after a restart without an index. How a task
ends:

- ``SetTaskStatus FINISHED`` or ``FAILED`` ends the attempt as a local one would; a
  failure is transient (retried while ``maximumRetries`` allows) when its ``errorId``
  names a transient ddbpipe error (``ThrottledError``, ``TransientError``,
  ``RetriesExhaustedError``, ``WorkerLostError``);
- ``FAILED`` with ``errorId`` ``TaskRunnerStopped``: the task runner was stopped (Ctrl-C,
  SIGTERM) after checkpointing; the attempt is ``CANCELED`` and the instance waits for
  the next task runner, without using a retry;
- no report before the deadline: the task runner is taken for lost; the attempt
  ``FAILED`` and is retried at once elsewhere from its checkpoint, counting as a retry;
- canceled on the service's side (``TRY_CANCEL``, a deactivation, ``attemptTimeout``):
  the attempt ends at once; the next report of its task runner hears ``canceled``.

``task_objects`` builds what PollForTask returns (the attempt with its component's fields
rendered, and the data nodes it reads and writes); ``task_plan`` rebuilds, on the task
runner's side, the plan and ticket that ``jobs.run_attempt`` runs.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from ddbpipe import errors
from ddbpipe.pipeline.attempts import AttemptOutcome, AttemptTicket, start_attempt
from ddbpipe.pipeline.components import PipelinePlan
from ddbpipe.pipeline.definition import Field, PipelineDefinition, PipelineObject
from ddbpipe.pipeline.evaluation import FieldEvaluator
from ddbpipe.pipeline.expressions import ExpressionError, Value
from ddbpipe.pipeline.objects import ObjectGraph
from ddbpipe.pipeline.state import ObjectRecord
from ddbpipe.pipeline.statuses import ENDED, ObjectStatus
from ddbpipe.pipeline.timefmt import Period, format_datetime, parse_datetime
from ddbpipe.pipeline.transitions import Transitions, instance_runtime

__all__ = [
    "LOST_ERROR_ID",
    "STOPPED_ERROR_ID",
    "TaskRef",
    "decode_task_id",
    "encode_task_id",
    "expire_tasks",
    "is_remote_attempt",
    "remote_outcome",
    "start_task",
    "task_deadline",
    "task_objects",
    "task_plan",
    "touch_task",
]

STOPPED_ERROR_ID = "TaskRunnerStopped"
"""The ``errorId`` a task runner sends when it was stopped and hands its task back."""
LOST_ERROR_ID = "TaskRunnerLost"
"""The ``errorId`` of an attempt whose task runner stopped reporting."""

_TASK = "task"
_NODE_KEYS = ("input", "output")


@dataclass(frozen=True)
class TaskRef:
    """What a task id names: the pipeline, the attempt, and the task's secret."""

    pipeline_id: str
    attempt_id: str
    secret: str


def encode_task_id(ref: TaskRef) -> str:
    """The opaque ``taskId`` of ``ref``."""
    raw = orjson.dumps([ref.pipeline_id, ref.attempt_id, ref.secret])
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_task_id(task_id: str) -> TaskRef | None:
    """The ``TaskRef`` a task id names; None for text that is not one."""
    try:
        raw = base64.urlsafe_b64decode(task_id + "=" * (-len(task_id) % 4))
        parts = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return None
    if not (isinstance(parts, list) and len(parts) == 3 and all(isinstance(p, str) for p in parts)):
        return None
    return TaskRef(parts[0], parts[1], parts[2])


def is_remote_attempt(attempt: ObjectRecord) -> bool:
    """Whether ``attempt`` was handed to a task runner."""
    return isinstance(attempt.internal.get(_TASK), dict)


def task_deadline(attempt: ObjectRecord) -> datetime | None:
    """When the task runner of a remote attempt must report next."""
    task = attempt.internal.get(_TASK)
    if not isinstance(task, dict) or not isinstance(task.get("deadline"), str):
        return None
    return parse_datetime(task["deadline"])


def start_task(
    t: Transitions, instance_id: str, worker_group: str, hostname: str, log_url: str | None
) -> tuple[AttemptTicket, str] | None:
    """Start the next attempt of ``instance_id`` as a task for a task runner of
    ``worker_group`` on ``hostname``: the ticket and the task id, or None when the
    instance is not waiting for a runner."""
    ticket = start_attempt(t, instance_id, hostname)
    if ticket is None:
        return None
    attempt = t.instance(ticket.attempt_id)
    component = t.plan.components[ticket.component_id]
    assert attempt is not None
    secret = secrets.token_urlsafe(24)
    deadline = component.report_progress_timeout.add_to(t.now)
    fields: dict[str, Any] = {"reportProgressTime": t.stamp, "workerGroup": worker_group}
    if log_url:
        fields["emrStepLog"] = log_url
    t.update(
        attempt,
        fields=fields,
        internal={
            _TASK: {
                "secret": secret,
                "workerGroup": worker_group,
                "hostname": hostname,
                "deadline": format_datetime(deadline),
            }
        },
    )
    return ticket, encode_task_id(TaskRef(t.pipeline_id, ticket.attempt_id, secret))


def _task_of(t: Transitions, ref: TaskRef) -> tuple[ObjectRecord, dict[str, Any]] | None:
    attempt = t.instance(ref.attempt_id)
    if attempt is None or attempt.sphere != "ATTEMPT":
        return None
    task = attempt.internal.get(_TASK)
    if not isinstance(task, dict) or not secrets.compare_digest(
        str(task.get("secret", "")), ref.secret
    ):
        return None
    return attempt, task


def touch_task(t: Transitions, ref: TaskRef, fields: Mapping[str, str]) -> bool | None:
    """Record a progress report of the task ``ref`` (its ``fields`` kept on the attempt
    and its instance) and move its deadline on. True when the task runner should stop
    (the attempt ended on the service's side), False to go on, None for no such task."""
    found = _task_of(t, ref)
    if found is None:
        return None
    attempt, task = found
    if attempt.status in ENDED:
        return True
    component = t.plan.components.get(attempt.component_id or "")
    if component is None:
        return True
    deadline = component.report_progress_timeout.add_to(t.now)
    kept = {**fields, "reportProgressTime": t.stamp}
    t.update(
        attempt, fields=kept, internal={_TASK: {**task, "deadline": format_datetime(deadline)}}
    )
    instance = t.instance(attempt.instance_id or "")
    if instance is not None:
        t.update(instance, fields=kept)
    return False


def remote_outcome(
    status: str,
    *,
    error_id: str | None,
    error_message: str | None,
    stack_trace: str | None,
    hostname: str,
) -> AttemptOutcome:
    """The outcome a task runner reported with SetTaskStatus (see the module doc)."""
    if status == "FINISHED":
        return AttemptOutcome("finished", summary=f"run by the task runner on {hostname}")
    if error_id == STOPPED_ERROR_ID:
        return AttemptOutcome(
            "canceled",
            reason="stop",
            error_message=f"stopped: the task runner on {hostname} was stopped; the task goes "
            "back to its worker group and on from its checkpoint."
            + (f" {error_message}" if error_message else ""),
        )
    error_class = getattr(errors, error_id or "", None)
    transient = (
        isinstance(error_class, type)
        and issubclass(error_class, errors.DdbpipeError)
        and error_class.transient
    )
    return AttemptOutcome(
        "failed",
        error_id=error_id or "TaskFailed",
        error_message=error_message or f"the task runner on {hostname} reported a failure",
        stack_trace=stack_trace,
        transient=transient,
    )


def expire_tasks(t: Transitions) -> list[tuple[str, AttemptOutcome]]:
    """The remote attempts of the pipeline whose task runner missed its deadline, with
    the outcome to record for each (a transient failure, retried at once)."""
    expired = []
    for attempt in t.state.objects(
        t.pipeline_id, sphere="ATTEMPT", statuses=[ObjectStatus.RUNNING], db=t.db
    ):
        deadline = task_deadline(attempt)
        if deadline is None or deadline > t.now:
            continue
        task = attempt.internal[_TASK]
        component = t.plan.components.get(attempt.component_id or "")
        timeout = component.report_progress_timeout if component else "its timeout"
        expired.append(
            (
                attempt.object_id,
                AttemptOutcome(
                    "failed",
                    error_id=LOST_ERROR_ID,
                    error_message=f"the task runner on {task.get('hostname')} stopped reporting "
                    f"progress (reportProgressTimeout {timeout}); the task goes to another task "
                    "runner",
                    transient=True,
                    immediate_retry=True,
                ),
            )
        )
    return expired


# --- what a task runner is given ------------------------------------------------------


def _rendered(
    evaluator: FieldEvaluator, object_id: str, runtime: Mapping[str, Value]
) -> list[dict[str, str]]:
    item = evaluator.graph[object_id]
    fields: list[dict[str, str]] = []
    for key, entries in item.fields.items():
        if key == "parent":
            continue
        if all(entry.is_ref for entry in entries):
            fields.extend(entry.to_api() for entry in entries)
            continue
        try:
            values = evaluator.field(object_id, key, runtime)
        except ExpressionError:
            fields.extend(entry.to_api() for entry in entries)
            continue
        fields.extend(entry.to_api() for entry in entries if entry.is_ref)
        fields.extend({"key": key, "stringValue": value} for value in values)
    return fields


def task_objects(
    plan: PipelinePlan, instance: ObjectRecord, attempt: ObjectRecord
) -> dict[str, dict[str, Any]]:
    """The objects PollForTask returns for ``attempt`` of ``instance``: the attempt,
    with its activity's fields rendered for the instance and its runtime fields, and the
    data nodes the activity reads and writes, rendered the same way (by id)."""
    component_id = attempt.component_id or ""
    runtime = instance_runtime(plan, instance)
    fields = _rendered(plan.evaluator, component_id, runtime)
    fields += [
        {"key": "@sphere", "stringValue": "ATTEMPT"},
        {"key": "@status", "stringValue": attempt.status or ""},
        {"key": "@pipelineId", "stringValue": plan.pipeline_id},
        {"key": "@componentParent", "refValue": component_id},
        {"key": "@instanceParent", "refValue": instance.object_id},
        {"key": "@attemptCount", "stringValue": str(attempt.attempt)},
    ]
    for key, column in (
        ("@scheduledStartTime", instance.scheduled_start),
        ("@scheduledEndTime", instance.scheduled_end),
        ("@actualStartTime", attempt.actual_start),
    ):
        if column:
            fields.append({"key": key, "stringValue": column})
    log = attempt.fields.get("emrStepLog")
    if isinstance(log, str):
        fields.append({"key": "emrStepLog", "stringValue": log})
    objects = {attempt.object_id: {"id": attempt.object_id, "name": attempt.name, "fields": fields}}
    node_runtime = {key: value for key, value in runtime.items() if key != "@id"}
    activity = plan.graph[component_id]
    for key in _NODE_KEYS:
        for node in plan.graph.follow(activity, key):
            objects[node.id] = {
                "id": node.id,
                "name": node.name,
                "fields": _rendered(plan.evaluator, node.id, node_runtime),
            }
    return objects


@dataclass(frozen=True)
class TaskWork:
    """A task as a task runner runs it: the plan of its activity and data nodes, the
    ticket of its attempt, where it logs, and how often it must report."""

    plan: PipelinePlan
    ticket: AttemptTicket
    log_url: str | None
    report_seconds: float


def task_plan(task: Mapping[str, Any]) -> TaskWork:
    """The work of a PollForTask ``taskObject``; ``ConfigError`` when it is not one
    ddbpipe can run."""
    pipeline_id = str(task.get("pipelineId", ""))
    attempt_id = str(task.get("attemptId", ""))
    objects = task.get("objects") or {}
    attempt = objects.get(attempt_id)
    if not isinstance(attempt, Mapping):
        raise errors.ConfigError(f"task {attempt_id!r} comes without its attempt object")
    runtime: dict[str, Value] = {"@pipelineId": pipeline_id}
    own: list[Field] = []
    component_id = instance_id = ""
    for raw in attempt.get("fields", []):
        key, text, ref = raw.get("key", ""), raw.get("stringValue"), raw.get("refValue")
        if key == "@componentParent":
            component_id = str(ref)
        elif key == "@instanceParent":
            instance_id = str(ref)
        elif key in ("@scheduledStartTime", "@scheduledEndTime", "@actualStartTime"):
            runtime[key] = parse_datetime(str(text))
        elif not key.startswith("@"):
            own.append(Field(key, string_value=text, ref_value=ref))
    if not component_id:
        raise errors.ConfigError(f"task {attempt_id!r} names no component")
    items = [PipelineObject(component_id, str(attempt.get("name") or component_id), tuple(own))]
    for object_id, raw_object in objects.items():
        if object_id == attempt_id or not isinstance(raw_object, Mapping):
            continue
        node_fields = tuple(
            Field(f["key"], string_value=f.get("stringValue"), ref_value=f.get("refValue"))
            for f in raw_object.get("fields", [])
            if not str(f.get("key", "")).startswith("@")
        )
        items.append(
            PipelineObject(object_id, str(raw_object.get("name") or object_id), node_fields)
        )
    definition = PipelineDefinition(tuple(items))
    graph = ObjectGraph(definition)
    plan = PipelinePlan(
        pipeline_id,
        definition,
        graph,
        FieldEvaluator(graph, {}),
        components={},
        preconditions={},
        actions={},
        ondemand=True,
    )
    number = 0
    count = next((f for f in attempt.get("fields", []) if f.get("key") == "@attemptCount"), None)
    if count is not None and str(count.get("stringValue", "")).isdigit():
        number = int(count["stringValue"])
    ticket = AttemptTicket(
        pipeline_id, attempt_id, instance_id, component_id, number, {**runtime, "@id": instance_id}
    )
    activity = graph[component_id]
    log_url = activity.string("emrStepLog")
    timeout = activity.string("reportProgressTimeout")
    seconds = 15 * 60.0
    if timeout:
        start = parse_datetime("2000-01-01T00:00:00")
        seconds = (Period.parse(timeout).add_to(start) - start).total_seconds()
    return TaskWork(plan, ticket, log_url, seconds)
