"""Attempts in the state: starting one, recording how it ended, recording a
precondition check, and recovering the attempts a stopped runner left running.

How an attempt's end moves its instance (the Developer Guide's "Cascading Failures and
Reruns" and the limits on retries):

- finished: the instance is ``FINISHED``;
- failed with a transient error (throttling, server errors, dropped connections, an
  exhausted retry budget, a lost worker): the attempt is ``FAILED`` and, while
  ``maximumRetries`` allows, the instance waits ``retryDelay`` for its next attempt;
  then it is ``FAILED``;
- failed with a permanent error (a missing table, key schema mismatch, access denied,
  a missing bucket, bad data, anything not known to be transient): attempt and
  instance are ``FAILED`` at once, the message says it is permanent;
- past its ``attemptTimeout``: the attempt is ``TIMEDOUT`` and counts as a transient
  failure;
- canceled because its resource reached ``terminateAfter``, by SetStatus
  ``TRY_CANCEL``, a ``Terminate`` action or a deactivation: attempt and instance are
  ``CANCELED``, with no retry;
- stopped with its runner (Ctrl-C, SIGTERM): the attempt is ``CANCELED`` and the
  instance waits for the next runner, which goes on from the checkpoint; this does not
  count as a retry;
- left ``RUNNING`` by a runner that died: the next runner marks it ``FAILED``
  ("interrupted: the runner stopped") and retries it at once from its checkpoint,
  counting as a retry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ddbpipe.pipeline.components import ComponentPlan
from ddbpipe.pipeline.expressions import Value
from ddbpipe.pipeline.ids import attempt_id
from ddbpipe.pipeline.state import ObjectRecord
from ddbpipe.pipeline.statuses import ENDED, ObjectStatus
from ddbpipe.pipeline.timefmt import format_datetime
from ddbpipe.pipeline.transitions import StatusChange, Transitions, instance_runtime

__all__ = [
    "INTERRUPTED",
    "AttemptOutcome",
    "AttemptTicket",
    "finish_attempt",
    "record_precondition",
    "recover_attempts",
    "start_attempt",
]

INTERRUPTED = "interrupted: the runner stopped"
PERMANENT = "permanent error, not retried: "

_CANCEL_MESSAGES = {
    "TRY_CANCEL": "canceled by SetStatus TRY_CANCEL",
    "deactivate": "canceled: the pipeline was deactivated",
    "Terminate": "canceled by a Terminate action (lateAfterTimeout passed)",
}


@dataclass(frozen=True)
class AttemptTicket:
    """An attempt that was just started: what the runner needs to run it."""

    pipeline_id: str
    attempt_id: str
    instance_id: str
    component_id: str
    number: int
    runtime: Mapping[str, Value]
    resource_instance_id: str | None = None


@dataclass(frozen=True)
class AttemptOutcome:
    """How an attempt ended: ``finished``, ``failed`` (``transient`` when a retry may
    succeed) or ``canceled`` (``reason`` says why: ``attemptTimeout``,
    ``terminateAfter``, ``TRY_CANCEL``, ``deactivate``, ``Terminate`` or ``stop``).
    ``fields`` are runtime fields to keep on the attempt and its instance; ``summary``
    says what was done, for people. ``immediate_retry`` retries a transient failure at
    once rather than after ``retryDelay`` (the work was lost, not refused)."""

    status: Literal["finished", "failed", "canceled"]
    error_id: str | None = None
    error_message: str | None = None
    stack_trace: str | None = None
    transient: bool = False
    reason: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    summary: str | None = None
    immediate_retry: bool = False


def start_attempt(t: Transitions, instance_id: str, hostname: str) -> AttemptTicket | None:
    """Start the next attempt of ``instance_id``; None when it is not waiting for one."""
    instance = t.instance(instance_id)
    if instance is None or instance.status != ObjectStatus.WAITING_FOR_RUNNER:
        return None
    component = t.component(instance)
    assert component is not None
    assert instance.component_id is not None
    number = instance.attempt + 1
    attempt = ObjectRecord(
        pipeline_id=t.pipeline_id,
        object_id=attempt_id(instance_id, number),
        name=attempt_id(instance_id, number),
        sphere="ATTEMPT",
        status=ObjectStatus.RUNNING.value,
        component_id=instance.component_id,
        instance_id=instance_id,
        scheduled_start=instance.scheduled_start,
        scheduled_end=instance.scheduled_end,
        actual_start=t.stamp,
        attempt=number,
        version=instance.version,
        fields={
            "@componentParent": {"ref": instance.component_id},
            "@instanceParent": {"ref": instance_id},
            "@version": str(instance.version),
            "hostname": hostname,
        },
    )
    t.state.put_objects([attempt], t.db)
    t.changes.append(
        StatusChange(attempt.object_id, attempt.component_id, "ATTEMPT", ObjectStatus.RUNNING)
    )
    t.move(
        instance,
        ObjectStatus.RUNNING,
        attempt=number,
        not_before=None,
        fields={"@waitingOn": None, "hostname": hostname},
    )
    resource_id = None
    if component.runs_on is not None and instance.scheduled_start is not None:
        resource = t.instance_of(component.runs_on, instance.scheduled_start)
        if resource is not None:
            resource_id = resource.object_id
            if resource.status == ObjectStatus.WAITING_ON_DEPENDENCIES:
                t.move(resource, ObjectStatus.RUNNING, fields={"hostname": hostname})
    runtime = instance_runtime(t.plan, instance)
    return AttemptTicket(
        t.pipeline_id,
        attempt.object_id,
        instance_id,
        instance.component_id,
        number,
        runtime,
        resource_id,
    )


def finish_attempt(t: Transitions, attempt_id_: str, outcome: AttemptOutcome) -> None:
    """Record how the attempt ``attempt_id_`` ended and move its instance (see the
    module doc)."""
    attempt = t.instance(attempt_id_)
    if attempt is None or attempt.status in ENDED or attempt.instance_id is None:
        return
    instance = t.instance(attempt.instance_id)
    component = t.component(attempt)
    if instance is None or component is None:
        return
    fields = dict(outcome.fields)
    if outcome.summary:
        t.update(instance, internal={"summary": outcome.summary})
    if outcome.status == "finished":
        t.move(attempt, ObjectStatus.FINISHED, fields=fields)
        t.move(instance, ObjectStatus.FINISHED, fields={**fields, **t.clear_errors()})
        return
    if outcome.status == "failed":
        message = outcome.error_message or "the attempt failed"
        if not outcome.transient:
            message = PERMANENT + message
        t.fail(
            attempt,
            ObjectStatus.FAILED,
            message,
            error_id=outcome.error_id,
            stack_trace=outcome.stack_trace,
            extra=fields,
        )
        _retry_or_fail(
            t,
            instance,
            component,
            attempt,
            outcome.transient,
            message,
            delay=not outcome.immediate_retry,
        )
        return
    _canceled(t, instance, component, attempt, outcome)


def _canceled(
    t: Transitions,
    instance: ObjectRecord,
    component: ComponentPlan,
    attempt: ObjectRecord,
    outcome: AttemptOutcome,
) -> None:
    reason = outcome.reason or "TRY_CANCEL"
    fields = dict(outcome.fields)
    if reason == "attemptTimeout":
        message = (
            f"the attempt did not finish within its attemptTimeout ({component.attempt_timeout})"
        )
        t.fail(attempt, ObjectStatus.TIMEDOUT, message, error_id="AttemptTimeout", extra=fields)
        _retry_or_fail(t, instance, component, attempt, True, message)
    elif reason == "stop":
        message = outcome.error_message or "stopped: the runner was stopped"
        t.fail(attempt, ObjectStatus.CANCELED, message, error_id="Stopped", extra=fields)
        t.move(instance, ObjectStatus.WAITING_FOR_RUNNER, message=message, not_before=None)
    else:
        if reason == "terminateAfter":
            message = f"canceled: its resource {component.runs_on} reached its terminateAfter"
        else:
            message = _CANCEL_MESSAGES.get(reason, f"canceled: {reason}")
        t.fail(attempt, ObjectStatus.CANCELED, message, error_id="Canceled", extra=fields)
        t.fail(instance, ObjectStatus.CANCELED, message, error_id="Canceled")


def _retry_or_fail(
    t: Transitions,
    instance: ObjectRecord,
    component: ComponentPlan,
    attempt: ObjectRecord,
    transient: bool,
    message: str,
    *,
    delay: bool = True,
) -> None:
    if transient and instance.retries < component.maximum_retries:
        retry = instance.retries + 1
        not_before = component.retry_delay.add_to(t.now) if delay else None
        t.move(
            instance,
            ObjectStatus.WAITING_FOR_RUNNER,
            message=f"retry {retry} of {component.maximum_retries}: {message}",
            retries=retry,
            not_before=format_datetime(not_before) if not_before else None,
        )
        return
    if transient:
        message = f"{message} (no retry left after {attempt.attempt} attempts)"
    t.fail(
        instance,
        ObjectStatus.FAILED,
        message,
        error_id=attempt.fields.get("errorId") or "Failed",
        stack_trace=attempt.fields.get("errorStackTrace"),
    )


def recover_attempts(t: Transitions, message: str = INTERRUPTED) -> list[str]:
    """Mark the attempts left running by a runner that stopped ``FAILED`` and retry their
    instances at once (counting as a retry); return their ids. Attempts handed to task
    runners are left to them (``ddbpipe.pipeline.tasks``): their deadline tells whether
    they are lost."""
    recovered = []
    remote: set[str] = set()
    for attempt in t.state.objects(
        t.pipeline_id, sphere="ATTEMPT", statuses=[ObjectStatus.RUNNING], db=t.db
    ):
        if isinstance(attempt.internal.get("task"), dict):
            remote.add(attempt.instance_id or "")
            continue
        t.fail(attempt, ObjectStatus.FAILED, message, error_id="Interrupted")
        recovered.append(attempt.object_id)
        instance = t.instance(attempt.instance_id or "")
        component = t.component(attempt)
        if instance is None or component is None or instance.status != ObjectStatus.RUNNING:
            continue
        _retry_or_fail(t, instance, component, attempt, True, message, delay=False)
    for instance in t.state.objects(
        t.pipeline_id, sphere="INSTANCE", statuses=[ObjectStatus.RUNNING], db=t.db
    ):
        component = t.component(instance)
        if (
            component is not None
            and component.kind == "activity"
            and (instance.object_id not in remote)
        ):
            t.move(instance, ObjectStatus.WAITING_FOR_RUNNER, not_before=None)
    return recovered


def record_precondition(
    t: Transitions,
    instance_id: str,
    precondition_id: str,
    met: bool,
    error: str | None = None,
) -> None:
    """Record a check of ``precondition_id`` for ``instance_id``: met, not met (checked
    again after its interval), or an error (``error``; after ``maximumRetries`` errors
    the instance fails)."""
    instance = t.instance(instance_id)
    precondition = t.plan.preconditions.get(precondition_id)
    if (
        instance is None
        or precondition is None
        or instance.status != ObjectStatus.WAITING_ON_DEPENDENCIES
    ):
        return
    checks = dict(instance.internal.get("preconditions", {}))
    entry = dict(checks.get(precondition_id, {}))
    entry["checked"] = t.stamp
    if met:
        entry["met"] = True
    else:
        entry["next"] = format_datetime(precondition.interval.add_to(t.now))
        if error is not None:
            entry["errors"] = int(entry.get("errors", 0)) + 1
            entry["error"] = error
    checks[precondition_id] = entry
    t.update(instance, internal={"preconditions": checks})
    if error is not None and entry["errors"] > precondition.maximum_retries:
        t.fail(
            instance,
            ObjectStatus.FAILED,
            f"precondition {precondition_id} could not be checked: {error}",
            error_id="PreconditionFailed",
        )
