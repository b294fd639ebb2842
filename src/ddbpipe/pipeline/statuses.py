"""Statuses of objects and pipelines, and how health follows from them.

``@status`` of components, instances and attempts takes the service's values (the
Developer Guide's "Interpreting Pipeline Status Details"). How ddbpipe uses them:

- a component is ``PENDING`` until its pipeline is activated, then ``SCHEDULED``;
  ``PAUSED`` after SetStatus PAUSE; ``INACTIVE`` once the pipeline is deactivated;
- an instance starts ``WAITING_ON_DEPENDENCIES`` (its inputs, ``dependsOn``, the activity
  that produces its input, its preconditions); an activity then waits
  ``WAITING_FOR_RUNNER`` (for a free slot, or for ``retryDelay`` between attempts), runs
  ``RUNNING``, and ends ``FINISHED``, ``FAILED``, ``CANCELED`` or ``CASCADE_FAILED``; a
  resource (EmrCluster) instance is ``RUNNING`` while activities run on it and ends
  ``FINISHED``, or ``TIMEDOUT`` when ``terminateAfter`` passes;
- an attempt is ``RUNNING``, then ``FINISHED``, ``FAILED``, ``TIMEDOUT`` (its
  ``attemptTimeout`` passed) or ``CANCELED``.

``@pipelineState`` is ``PENDING`` (never activated), ``SCHEDULED`` (active),
``FINISHED`` (every instance it will ever have has ended), ``DEACTIVATING`` then
``INACTIVE``.

``@healthStatus``: a component is ``HEALTHY`` when its latest ended instance
finished (or was marked finished) and ``ERROR`` when it failed, timed out, was
canceled or cascade-failed; the pipeline is ``ERROR`` when a component is,
``HEALTHY`` when at least one finished and none is in error, and
``No Completed Executions`` before anything ended.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

__all__ = [
    "ENDED",
    "FAILURES",
    "INACTIVE_STATES",
    "HealthStatus",
    "ObjectStatus",
    "PipelineState",
    "component_health",
    "pipeline_health",
]


class ObjectStatus(StrEnum):
    """The ``@status`` values of components, instances and attempts."""

    ACTIVATING = "ACTIVATING"
    CANCELED = "CANCELED"
    CASCADE_FAILED = "CASCADE_FAILED"
    CREATING = "CREATING"
    DEACTIVATING = "DEACTIVATING"
    FAILED = "FAILED"
    FINISHED = "FINISHED"
    INACTIVE = "INACTIVE"
    MARK_FINISHED = "MARK_FINISHED"
    PAUSED = "PAUSED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    SHUTTING_DOWN = "SHUTTING_DOWN"
    SKIPPED = "SKIPPED"
    TIMEDOUT = "TIMEDOUT"
    VALIDATING = "VALIDATING"
    WAITING_FOR_RUNNER = "WAITING_FOR_RUNNER"
    WAITING_ON_DEPENDENCIES = "WAITING_ON_DEPENDENCIES"


class PipelineState(StrEnum):
    """The ``@pipelineState`` values."""

    PENDING = "PENDING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    DEACTIVATING = "DEACTIVATING"
    INACTIVE = "INACTIVE"


class HealthStatus(StrEnum):
    """The ``@healthStatus`` values."""

    HEALTHY = "HEALTHY"
    ERROR = "ERROR"
    NO_COMPLETED_EXECUTIONS = "No Completed Executions"
    NO_HEALTH_INFORMATION = "No Health Information Available"


FAILURES = frozenset(
    {
        ObjectStatus.FAILED,
        ObjectStatus.CASCADE_FAILED,
        ObjectStatus.CANCELED,
        ObjectStatus.TIMEDOUT,
    }
)
"""Ended without doing the work."""

ENDED = FAILURES | {ObjectStatus.FINISHED, ObjectStatus.MARK_FINISHED, ObjectStatus.SKIPPED}
"""Statuses an instance or attempt never leaves on its own."""

INACTIVE_STATES = frozenset({PipelineState.PENDING, PipelineState.INACTIVE, PipelineState.FINISHED})
"""Pipeline states that count as not active."""


def component_health(latest_ended: str | None) -> HealthStatus | None:
    """The health of a component whose latest ended instance has ``latest_ended`` as
    its status; None before any of its instances ended."""
    if latest_ended is None:
        return None
    if latest_ended in (ObjectStatus.FINISHED, ObjectStatus.MARK_FINISHED):
        return HealthStatus.HEALTHY
    if latest_ended in FAILURES:
        return HealthStatus.ERROR
    return None


def pipeline_health(components: Iterable[HealthStatus | None]) -> HealthStatus:
    """The pipeline's health from its components' health."""
    known = [health for health in components if health is not None]
    if HealthStatus.ERROR in known:
        return HealthStatus.ERROR
    if HealthStatus.HEALTHY in known:
        return HealthStatus.HEALTHY
    return HealthStatus.NO_COMPLETED_EXECUTIONS
